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

import functools
import re
from collections.abc import Callable
from typing import Any, NewType
from urllib.parse import urlsplit

import attrs

from authplug.errors import ConfigError, FieldError

__all__ = [
    "Scopes",
    "Url",
    "check_url",
    "check_url_text",
    "describe",
    "field_validator",
    "parse_scopes",
    "scopes_field",
    "type_name",
    "url_field",
]

Url = NewType("Url", str)
"""An absolute http(s) URL; https unless the host is a loopback address."""

Scopes = NewType("Scopes", tuple[str, ...])
"""OAuth scopes, kept as a tuple of strings."""

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})

# One regex search instead of a test per character: these run on every
# load. "\s" matches exactly what str.isspace() accepts.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
_SPACE = re.compile(r"\s")

# A host is a bracketed IPv6 address or a name without brackets or colons,
# optionally followed by a port.
_NETLOC = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\[\]:]+)(:[0-9]*)?$")

_TYPE_NAMES: dict[type, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "table",
    list: "list",
    tuple: "list",
    type(None): "null",
}


def type_name(value: object) -> str:
    """Name the kind of ``value`` as a config file would (``integer``, ``table``).

    Errors name the kind, never the value: a value in the wrong place may
    be a secret.
    """
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    # Imported here: only a plain-http URL needs it, and every program that
    # imports authplug would pay for it otherwise.
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _shown(value: str) -> str:
    """Return ``value`` fit to quote in an error: no query or fragment.

    A query string may carry an API key, so it is left out of messages.
    """
    base, _, query = value.partition("?")
    base = base.partition("#")[0]
    return f"{base}?…" if query else base


def check_url(value: object) -> Url:
    """Return ``value`` as a :data:`Url`, or raise ValueError saying why not.

    Messages quote the URL only when it plainly is one, and never its query
    string or embedded credentials: a secret pasted into a URL field by
    mistake must not end up in an error message.
    """
    if not isinstance(value, str):
        raise TypeError(f"must be a URL string, got {type_name(value)}")
    return check_url_text(value)


# A service's endpoints recur in every credential loaded for it, and in
# every model built with them in Python (whose validator checks them); the
# check is a pure function of the text, so good answers are remembered.
@functools.lru_cache(maxsize=1024)
def check_url_text(value: str) -> Url:
    """Return the string ``value`` as a :data:`Url`, as :func:`check_url` does.

    For callers that know ``value`` is a ``str`` (the loaders test that
    inline), so the test is not made twice.
    """
    if _SPACE_OR_CONTROL.search(value):
        raise ValueError("must not contain spaces or control characters")

    bad_host = "must be an absolute http(s) URL with a valid host and port"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is what checks it
    except ValueError:
        raise ValueError(bad_host) from None
    # urlsplit reads "example.com.[::1]" as the host ::1; a client may not.
    if parts.netloc and "@" not in parts.netloc and not _NETLOC.match(parts.netloc):
        raise ValueError(bad_host)

    if parts.username is not None or parts.password is not None:
        raise ValueError("must not embed a user name or password")
    if not parts.scheme or not parts.netloc:
        raise ValueError(
            "must be an absolute http(s) URL, such as 'https://example.com/path'"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL, got {_shown(value)!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(f"must use https, got {_shown(value)!r}")
    return Url(value)


def parse_scopes(value: object) -> Scopes:
    """Return ``value`` as :data:`Scopes`, or raise saying why not.

    A list or tuple of strings is kept in order; a single string is split
    on spaces and commas. Duplicates are dropped, keeping the first.

    Raises:
        TypeError: ``value`` is neither a string nor a list.
        ConfigError: Some items are not scopes; each error's path is the
            item's index, such as ``[2]``.
    """
    if isinstance(value, str):
        return _split_scopes(value)
    if not isinstance(value, (list, tuple)):
        raise TypeError(
            "must be a list of scope strings or one space-separated string, "
            f"got {type_name(value)}"
        )
    try:
        return _listed_scopes(tuple(value))
    except TypeError:  # an item that cannot be hashed, so is no string
        return _listed_scopes.__wrapped__(tuple(value))


# A service asks for the same few scopes in every credential loaded for it;
# checking is a pure function of them, so good answers are remembered (the
# scopes are no secret).
@functools.lru_cache(maxsize=1024)
def _split_scopes(value: str) -> Scopes:
    # Every word split from a string is a good scope: only drop repeats.
    return Scopes(tuple(dict.fromkeys(value.replace(",", " ").split())))


@functools.lru_cache(maxsize=1024)
def _listed_scopes(items: tuple[object, ...]) -> Scopes:
    scopes: list[str] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            message = f"must be a string, got {type_name(item)}"
            errors.append(FieldError(f"[{index}]", message))
        elif not item or _SPACE.search(item):
            errors.append(
                FieldError(f"[{index}]", f"must be one non-empty scope, got {item!r}")
            )
        elif item not in scopes:
            scopes.append(item)

    if errors:
        raise ConfigError(errors)
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
        except ConfigError as err:
            raise err.under(attribute.name) from None
        except (TypeError, ValueError) as err:
            raise ConfigError([FieldError(attribute.name, str(err))]) from None

    return validate


url_validator = field_validator(check_url)
"""attrs validator that checks a :data:`Url` field on direct construction."""


def scopes_converter(value: object) -> Scopes:
    """Convert the scopes given to a model's constructor, checking them."""
    try:
        return parse_scopes(value)
    except ConfigError as err:
        raise err.under("scopes") from None
    except (TypeError, ValueError) as err:
        raise ConfigError([FieldError("scopes", str(err))]) from None


def describe(description: str, **kwargs: Any) -> Any:
    """Declare an attrs field with a description for forms and docs.

    Accepts every keyword that :func:`attrs.field` does. For a
    :data:`Url` field use :func:`url_field`, which adds the URL check, so
    a model built in Python is checked as strictly as one loaded from a
    file.

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
    extra = kwargs.pop("validator", None)
    # The URL validator alone, not in a list: loading checks the URL as it
    # structures the field, and skips a validator it knows to repeat that.
    validator = url_validator if extra is None else [url_validator, extra]
    return describe(description, validator=validator, **kwargs)


def scopes_field(description: str = "OAuth scopes to request") -> Any:
    """Declare a :data:`Scopes` field, empty by default."""
    return describe(description, factory=tuple, converter=scopes_converter)


def field_description(attribute: attrs.Attribute[Any]) -> str:
    """Return the description declared for ``attribute``, or ''."""
    return str(attribute.metadata.get("description", ""))
