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

from typing import Any

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
