"""authplug: pluggable auth types and the service layer behind them.

A connector declares which kind of authentication its service uses; authplug
validates the credentials, and obtains, refreshes, stores and signs them::

    import authplug

    credentials = authplug.load({
        "type": "token",
        "user": {"access_token": "${ACME_TOKEN}"},
    })
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authplug.errors import (
    AuthplugError,
    ConfigError,
    FieldError,
    FlowError,
    MissingDependency,
    PluginClash,
    PluginError,
    ReauthorizationRequired,
    TokenError,
    UnknownAuthType,
)
from authplug.fields import Scopes, Url, describe, field_validator
from authplug.flow import AuthFlow
from authplug.hookspecs import hookimpl, hookspec
from authplug.http import Request, Response
from authplug.records import AuthType, Credentials, NoFields
from authplug.registry import PluginProblem, Registry, build_registry, registry
from authplug.secret import Secret

if TYPE_CHECKING:
    from collections.abc import Mapping

    from authplug.adapters.httpx2 import Auth
    from authplug.stores.base import TokenStore

__all__ = [
    "AuthFlow",
    "AuthType",
    "AuthplugError",
    "ConfigError",
    "Credentials",
    "FieldError",
    "FlowError",
    "MissingDependency",
    "NoFields",
    "PluginClash",
    "PluginError",
    "PluginProblem",
    "ReauthorizationRequired",
    "Registry",
    "Request",
    "Response",
    "Scopes",
    "Secret",
    "TokenError",
    "UnknownAuthType",
    "Url",
    "auth",
    "build_registry",
    "describe",
    "field_validator",
    "hookimpl",
    "hookspec",
    "load",
    "registry",
]

__version__ = "0.1.0"


def load(data: Any, *, type: str | None = None, source: str | None = None) -> Any:
    """Validate ``data`` as credentials of the type it names.

    Shorthand for ``authplug.registry().load(data)``; see
    :meth:`Registry.load`.
    """
    return registry().load(data, type=type, source=source)


def auth(
    credentials: Credentials[Any, Any] | Mapping[str, Any],
    *,
    store: TokenStore | None = None,
    **options: Any,
) -> Auth:
    """Return an httpx2 auth that applies ``credentials`` to every request.

    One object works with ``httpx2.Client`` and ``httpx2.AsyncClient``; it
    obtains, refreshes and stores tokens as the credentials' type needs::

        client = httpx2.Client(auth=authplug.auth(credentials))

    ``credentials`` may be a mapping, loaded first. See
    :class:`authplug.adapters.httpx2.Auth` for ``store`` and the options,
    and :mod:`authplug.adapters` for httpx and requests.
    """
    from authplug.adapters.httpx2 import Auth

    return Auth(credentials, store=store, **options)
