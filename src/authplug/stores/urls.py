"""Choose a token store by URL.

::

    from authplug.stores import open_store

    store = open_store("sqlite://")                  # the default file
    store = open_store("sqlite:///srv/app/tokens.db")
    store = open_store("redis://127.0.0.1:6379/0")   # or rediss:// for TLS
    store = open_store("memory://")                  # this process only

The scheme picks a :class:`~authplug.stores.store_type.StoreType` from the
registry: the built-in ``memory``, ``sqlite``, ``redis`` and ``rediss``, and
any a plugin adds with the ``authplug_token_stores`` hook. The command line
uses ``AUTHPLUG_STORE`` when no ``--store`` is given, and ``sqlite://``
when that is unset too (:func:`default_store_url`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from authplug.stores.base import StoreError, TokenStore

if TYPE_CHECKING:
    from authplug.registry import Registry

__all__ = [
    "DEFAULT_URL",
    "STORE_ENV",
    "UnknownStoreScheme",
    "default_store_url",
    "open_store",
    "redact_url",
]

STORE_ENV = "AUTHPLUG_STORE"
DEFAULT_URL = "sqlite://"


class UnknownStoreScheme(StoreError):
    """A store URL whose scheme no installed plugin provides.

    Attributes:
        scheme: The scheme asked for.
        known: Every scheme the registry knows.
    """

    def __init__(self, scheme: str, known: list[str]) -> None:
        self.scheme = scheme
        self.known = known
        shown = f"{scheme!r}" if scheme else "none"
        super().__init__(
            f"unknown token store scheme {shown}; known schemes: "
            f"{', '.join(known) or '(none)'}. Write the URL as e.g. "
            "sqlite:///path/tokens.db or redis://host:6379/0, or install "
            "the plugin that provides the scheme"
        )


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``****``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unreadable URL>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


def default_store_url(environ: Mapping[str, str] | None = None) -> str:
    """Return ``AUTHPLUG_STORE`` if set, else ``sqlite://`` (the default file)."""
    env = os.environ if environ is None else environ
    return env.get(STORE_ENV, "").strip() or DEFAULT_URL


def open_store(url: str, *, registry: Registry | None = None) -> TokenStore:
    """Open the token store that ``url`` names.

    Args:
        url: A store URL; its scheme selects the kind of store.
        registry: The registry whose store types to use; the process
            default when None.

    Raises:
        UnknownStoreScheme: No store type has the URL's scheme; the error
            lists those that exist.
        StoreError: The store could not be opened.
    """
    if not isinstance(url, str):
        raise StoreError(f"a store URL is a string, got {type(url).__name__}")
    scheme = url.partition("://")[0].lower() if "://" in url else ""

    if registry is None:
        from authplug.registry import registry as default_registry

        registry = default_registry()
    found = registry.store_types.get(scheme)
    if found is None:
        raise UnknownStoreScheme(scheme, sorted(registry.store_types))
    return found.factory(url)
