"""JSON Schema (draft 2020-12) of auth types, for rendering auth forms.

Secret fields are marked ``"writeOnly": true`` and ``"x-secret": true`` so a
form can use a password input and never echo them back. A model can add
rules that span fields through a ``__authplug_schema__`` class attribute,
and a field can refine its own schema through ``json_schema`` metadata.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from authplug.convert import structure
from authplug.errors import ConfigError
from authplug.fields import Scopes, Url, field_description
from authplug.secret import Secret

__all__ = ["DRAFT", "URL_PATTERN", "URL_SCHEMA", "auth_type_schema", "model_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Mirrors check_url: https anywhere, plain http only on loopback hosts, a
# port in range, no credentials, spaces or control characters. A host check
# so loose it lets through a URL that check_url refuses would make the schema
# promise what loading breaks, so each part is spelled out.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT = (
    r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}"
    r"|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0))?"
)
_HOST = r"(\[[0-9A-Fa-f:.]+\]|[^/?#@:\[\]\s\x00-\x1f\x7f]+)"
_LOOPBACK = rf"(localhost|localhost\.localdomain|127(\.{_OCTET}){{3}}|\[::1\])"
_REST = r"([/?#][^\s\x00-\x1f\x7f]*)?"
# "$" alone lets a trailing newline through in Python's re; the lookahead
# refuses it, and is valid ECMA-262 too.
_NO_SPACE = r"(?![\s\S]*[\s\x00-\x1f\x7f])"
URL_PATTERN = rf"^{_NO_SPACE}(https://{_HOST}|http://{_LOOPBACK}){_PORT}{_REST}$"
"""The pattern a :data:`~authplug.Url` field gets in a JSON Schema."""

URL_SCHEMA: dict[str, Any] = {"type": "string", "format": "uri", "pattern": URL_PATTERN}
"""The JSON Schema of a :data:`~authplug.Url`, for fields that refine it."""

# One scope: no whitespace, and (?![\s\S]) rather than "$" for the end.
_ONE_WORD = r"^\S+(?![\s\S])"

_SECRET_MARKS: dict[str, Any] = {"writeOnly": True, "x-secret": True}

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    Secret: {"type": "string", **_SECRET_MARKS},
    Url: URL_SCHEMA,
    Scopes: {
        "anyOf": [
            {"type": "array", "items": {"type": "string", "pattern": _ONE_WORD}},
            {"type": "string"},
        ]
    },
}


def _type_schema(type_: Any) -> dict[str, Any]:
    if type_ in _SCALARS:
        return dict(_SCALARS[type_])

    origin = get_origin(type_)
    args = get_args(type_)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [_type_schema(arg) for arg in args if arg is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        if len(options) == 1:
            return options[0]
        union: dict[str, Any] = {"anyOf": options}
        # A form looks at the property itself, not inside anyOf, to decide
        # on a password input.
        if any(option.get("x-secret") for option in options):
            union.update(_SECRET_MARKS)
        return union
    if origin is dict:
        return {"type": "object", "additionalProperties": _type_schema(args[1])}
    if origin in (list, tuple):
        return {"type": "array", "items": _type_schema(args[0])}
    if isinstance(type_, type) and attrs.has(type_):
        return model_schema(type_)
    raise TypeError(f"no JSON Schema for field type {type_!r}")


def _default_of(attribute: attrs.Attribute[Any]) -> tuple[bool, Any]:
    default = attribute.default
    if default is attrs.NOTHING:
        return False, None
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory: Any = default
        if factory.takes_self:
            return False, None
        default = factory.factory()
    if isinstance(default, tuple):
        default = list(default)
    return True, default


def model_schema(model: type) -> dict[str, Any]:
    """Return the JSON Schema of one attrs model."""
    attrs.resolve_types(model)
    properties: dict[str, Any] = {}
    required: list[str] = []

    for attribute in attrs.fields(model):
        schema = _type_schema(attribute.type)
        description = field_description(attribute)
        if description:
            schema["description"] = description
        schema.update(attribute.metadata.get("json_schema", {}))

        has_default, default = _default_of(attribute)
        if not has_default:
            required.append(attribute.name)
        elif not schema.get("x-secret"):
            schema["default"] = default
        properties[attribute.name] = schema

    result: dict[str, Any] = {
        "type": "object",
        "title": model.__name__,
        "properties": properties,
        "additionalProperties": False,
    }
    if model.__doc__:
        result["description"] = model.__doc__.strip().splitlines()[0]
    if required:
        result["required"] = required
    result.update(getattr(model, "__authplug_schema__", {}))
    return result


def _loads_empty(model: type) -> bool:
    # Loading fills a missing side with an empty table; the side may be left
    # out exactly when that loads. Asking the loader keeps rules that span
    # fields (a secret required unless client_auth is "none") in step.
    try:
        structure({}, model)
    except ConfigError:
        return False
    return True


def auth_type_schema(auth_type: Any) -> dict[str, Any]:
    """Return the JSON Schema of a whole credentials document of a type."""
    user = model_schema(auth_type.user_model)
    app = model_schema(auth_type.app_model)
    sides = (("user", auth_type.user_model), ("app", auth_type.app_model))
    required = [side for side, model in sides if not _loads_empty(model)]

    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"urn:authplug:type:{auth_type.name}",
        "title": auth_type.name,
        "description": auth_type.summary,
        "type": "object",
        "properties": {
            "type": {"enum": list(auth_type.names)},
            # Loading takes a null auth_id as none given.
            "auth_id": {"type": ["string", "null"]},
            "user": user,
            "app": app,
        },
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema
