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

from authplug.fields import Scopes, Url, field_description
from authplug.secret import Secret

__all__ = ["DRAFT", "auth_type_schema", "model_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Mirrors check_url: https anywhere, plain http only on loopback hosts.
_URL_PATTERN = (
    r"^(https://[^/?#@\s]+|http://(localhost|127(\.[0-9]{1,3}){3}|\[::1\])"
    r"(:[0-9]+)?)([/?#]\S*)?$"
)

_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    Secret: {"type": "string", "writeOnly": True, "x-secret": True},
    Url: {"type": "string", "format": "uri", "pattern": _URL_PATTERN},
    Scopes: {
        "anyOf": [
            {"type": "array", "items": {"type": "string", "pattern": r"^\S+$"}},
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
        return options[0] if len(options) == 1 else {"anyOf": options}
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


def auth_type_schema(auth_type: Any) -> dict[str, Any]:
    """Return the JSON Schema of a whole credentials document of a type."""
    user = model_schema(auth_type.user_model)
    app = model_schema(auth_type.app_model)
    required = [
        side for side, schema in (("user", user), ("app", app)) if "required" in schema
    ]

    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"urn:authplug:type:{auth_type.name}",
        "title": auth_type.name,
        "description": auth_type.summary,
        "type": "object",
        "properties": {
            "type": {"enum": list(auth_type.names)},
            "auth_id": {"type": "string"},
            "user": user,
            "app": app,
        },
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema
