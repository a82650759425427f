"""Describe an auth type's fields for people: ``show`` and the reference."""

from __future__ import annotations

import contextlib
import json
import types
from typing import Any, Literal, Union, get_args, get_origin

import attrs
from attrs import frozen

from authplug.fields import Scopes, Url, field_description
from authplug.records import AuthType, NoFields
from authplug.secret import MASK, Secret

__all__ = ["FieldInfo", "describe_type", "fields_of", "type_label"]

_SCALAR_LABELS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    Secret: "secret",
    Url: "url",
    Scopes: "scopes",
}


@frozen
class FieldInfo:
    """One field of a model, as ``authplug show`` lists it.

    Args:
        side: ``"user"`` or ``"app"``.
        name: The field's name in a credentials file.
        type: A short label for the field's type, such as ``url``.
        required: Whether a file must set it.
        secret: Whether it holds a :class:`~authplug.Secret`.
        default: The default, as plain data; None when required.
        description: What the field is for.
    """

    side: str
    name: str
    type: str
    required: bool
    secret: bool
    default: Any
    description: str

    @property
    def path(self) -> str:
        """Return where the field sits in a document, e.g. ``app.token_url``."""
        return f"{self.side}.{self.name}"

    def default_text(self) -> str:
        """Return the default as JSON, or an empty string when required."""
        if self.required:
            return ""
        return json.dumps(self.default, ensure_ascii=False)

    def as_json(self) -> dict[str, Any]:
        """Return the field as JSON-ready data; ``default`` only if optional."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "secret": self.secret,
        }
        if not self.required:
            data["default"] = self.default
        data["description"] = self.description
        return data


def type_label(type_: Any) -> str:
    """Return a short, readable label for a field type.

    Optional types are labelled by what they hold (the Required and Default
    columns say the rest): ``Url | None`` is ``url``.
    """
    if isinstance(type_, str):
        return type_
    if type_ in _SCALAR_LABELS:
        return _SCALAR_LABELS[type_]

    origin = get_origin(type_)
    args = get_args(type_)
    if origin is Literal:
        return " | ".join(json.dumps(arg) for arg in args)
    if origin in (Union, types.UnionType):
        held = [type_label(arg) for arg in args if arg is not type(None)]
        return " | ".join(held) if held else "null"
    if origin is dict and len(args) == 2:
        return f"table of {type_label(args[1])}s"
    if origin in (list, tuple) and args:
        return f"list of {type_label(args[0])}s"
    if isinstance(type_, type) and attrs.has(type_):
        return f"table ({type_.__name__})"
    return getattr(type_, "__name__", str(type_))


def _holds_secret(type_: Any) -> bool:
    if isinstance(type_, str):
        return "Secret" in type_
    if type_ is Secret:
        return True
    return any(_holds_secret(arg) for arg in get_args(type_))


def _default(attribute: attrs.Attribute[Any]) -> tuple[bool, Any]:
    default = attribute.default
    if default is attrs.NOTHING:
        return False, None
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory: Any = default
        if factory.takes_self:
            return True, "(computed)"
        default = factory.factory()
    if isinstance(default, Secret):
        return True, MASK
    if isinstance(default, tuple):
        default = list(default)
    return True, default


def fields_of(model: type, side: str) -> list[FieldInfo]:
    """Return every field of ``model``, in declaration order."""
    if model is NoFields:
        return []
    # A model whose annotations cannot be resolved (defined inside a
    # function, say) still gets listed, with its annotations as text.
    with contextlib.suppress(Exception):
        attrs.resolve_types(model)

    found = []
    for attribute in attrs.fields(model):
        has_default, default = _default(attribute)
        found.append(
            FieldInfo(
                side=side,
                name=attribute.name,
                type=type_label(attribute.type),
                required=not has_default,
                secret=_holds_secret(attribute.type),
                default=default if has_default else None,
                description=field_description(attribute),
            )
        )
    return found


def describe_type(auth_type: AuthType) -> dict[str, Any]:
    """Return an auth type and its fields as JSON-ready data."""
    return {
        "name": auth_type.name,
        "summary": auth_type.summary,
        "aliases": list(auth_type.aliases),
        "parent": auth_type.parent,
        "plugin": auth_type.plugin,
        "distribution": auth_type.distribution,
        "version": auth_type.version,
        "user": [f.as_json() for f in fields_of(auth_type.user_model, "user")],
        "app": [f.as_json() for f in fields_of(auth_type.app_model, "app")],
    }
