"""Field types and helpers shared by every auth type's models.

Models are frozen attrs classes. Their fields use plain types (``str``,
``int``, ``bool``, ``Literal``), :class:`~authplug.Secret` for anything
secret, and the two checked types defined here:

- :data:`Url`: an absolute http(s) URL; https is required except for
  loopback hosts, where a local test server or redirect listener lives.
- :data:`Scopes`: a tuple of scope strings, written in a file either as a
  list or as one space- or comma-separated string.

Use :func:`describe` to give a field the description that ``authplug
show``, the JSON Schema and the generated reference display.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any, NewType
from urllib.parse import urlsplit

import attrs

from authplug.errors import ConfigError, FieldError

__all__ = [
    "Scopes",
    "Url",
    "check_url",
    "describe",
    "field_validator",
    "parse_scopes",
    "scopes_field",
    "url_field",
]

Url = NewType("Url", str)
"""An absolute http(s) URL; https unless the host is a loopback address."""

Scopes = NewType("Scopes", tuple[str, ...])
"""OAuth scopes, kept as a tuple of strings."""

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(value: object) -> Url:
    """Return ``value`` as a :data:`Url`, or raise ValueError saying why not.

    The message quotes the URL: URLs are not secrets, but a URL with
    embedded credentials is refused without echoing them.
    """
    if not isinstance(value, str):
        raise TypeError(f"must be a URL string, got {type(value).__name__}")

    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not embed a user name or password")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {value!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"must use https, got {value!r}")
    return Url(value)


def parse_scopes(value: object) -> Scopes:
    """Return ``value`` as :data:`Scopes`, or raise saying why not.

    A list or tuple of strings is kept in order; a single string is split
    on spaces and commas. Duplicates are dropped, keeping the first.
    """
    if isinstance(value, str):
        items: list[object] = list(value.replace(",", " ").split())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TypeError(
            "must be a list of scope strings or one space-separated string, "
            f"got {type(value).__name__}"
        )

    scopes: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"item {index} must be a string, got {type(item).__name__}")
        if not item or any(ch.isspace() for ch in item):
            raise ValueError(f"item {index} must be one non-empty scope, got {item!r}")
        if item not in scopes:
            scopes.append(item)
    return Scopes(tuple(scopes))


def field_validator(
    check: Callable[[Any], object],
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """Turn ``check(value)`` into an attrs validator that names the field.

    ``check`` raises ValueError or TypeError with a message relative to the
    field (``"must not be empty"``); the validator raises ConfigError with
    the field's name as the path, so loading reports where the problem is.
    None is accepted unchecked, for optional fields.
    """

    def validate(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None:
            return
        try:
            check(value)
        except (TypeError, ValueError) as err:
            raise ConfigError([FieldError(attribute.name, str(err))]) from None

    return validate


url_validator = field_validator(check_url)
"""attrs validator that checks a :data:`Url` field on direct construction."""


def scopes_converter(value: object) -> Scopes:
    """Convert the scopes given to a model's constructor, checking them."""
    try:
        return parse_scopes(value)
    except (TypeError, ValueError) as err:
        raise ConfigError([FieldError("scopes", str(err))]) from None


def describe(description: str, **kwargs: Any) -> Any:
    """Declare an attrs field with a description for forms and docs.

    Accepts every keyword that :func:`attrs.field` does. URL-typed fields
    also get the URL check, so a model built in Python is checked as
    strictly as one loaded from a file.

    Example:
        >>> import attrs
        >>> @attrs.frozen(kw_only=True)
        ... class ShopApp:
        ...     shop: str = describe("The shop's subdomain")
    """
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["description"] = description
    return attrs.field(metadata=metadata, **kwargs)


def url_field(description: str, **kwargs: Any) -> Any:
    """Declare a :data:`Url` field: described and checked on construction."""
    validators = [url_validator]
    extra = kwargs.pop("validator", None)
    if extra is not None:
        validators.append(extra)
    return describe(description, validator=validators, **kwargs)


def scopes_field(description: str = "OAuth scopes to request") -> Any:
    """Declare a :data:`Scopes` field, empty by default."""
    return describe(description, factory=tuple, converter=scopes_converter)


def field_description(attribute: attrs.Attribute[Any]) -> str:
    """Return the description declared for ``attribute``, or ''."""
    return str(attribute.metadata.get("description", ""))
