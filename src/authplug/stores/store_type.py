"""The record a plugin returns to offer a kind of token store."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

if TYPE_CHECKING:
    from authplug.stores.base import TokenStore

__all__ = ["StoreFactory", "StoreType"]

StoreFactory = Callable[[str], "TokenStore"]
"""Opens a store from its whole URL, e.g. ``redis://127.0.0.1:6379/0``."""

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def _check_scheme(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _SCHEME.match(value):
        raise ValueError(
            "store scheme must be a lowercase URL scheme such as 'redis', "
            f"got {value!r}"
        )


def _check_factory(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not callable(value):
        raise TypeError(f"store factory must be callable, got {type(value).__name__}")


@frozen(kw_only=True)
class StoreType:
    """One kind of token store, chosen by the scheme of a store URL.

    Args:
        scheme: The URL scheme that selects it, lowercase (``redis``).
        factory: Called with the whole URL; returns an open
            :class:`~authplug.stores.TokenStore`. Import heavy client
            libraries inside it, so listing stores stays cheap.
        summary: One line saying what the store is for.
        plugin: Set by the registry: the plugin that provided it.
        distribution: Set by the registry: its distribution, if known.
        version: Set by the registry: that distribution's version.

    Example:
        >>> from authplug.stores import MemoryStore
        >>> StoreType(scheme="scratch", factory=lambda url: MemoryStore(),
        ...           summary="A throwaway store").scheme
        'scratch'
    """

    scheme: str = field(validator=_check_scheme)
    factory: StoreFactory = field(validator=_check_factory, eq=False)
    summary: str = field(validator=attrs.validators.instance_of(str))
    plugin: str | None = None
    distribution: str | None = None
    version: str | None = None
