"""The one cattrs converter behind every model, and its error reporting.

The converter is strict: it accepts a value only when it already has the
field's type. A string is not a list of scopes (except where a field's type
says so), an int is not a client id, a bool is not a number. Structuring
errors come back as :class:`~authplug.errors.FieldError` values with full
dotted paths, so a user can fix every mistake in one go.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from authplug.errors import ConfigError, FieldError
from authplug.fields import Scopes, Url, check_url, parse_scopes
from authplug.secret import MASK, Secret

__all__ = ["converter", "field_errors", "make_converter", "structure", "unstructure"]

_T = TypeVar("_T")


def _type_name(value: object) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    names.update({dict: "table", list: "list", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {_type_name(value)}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"must be an integer, got {_type_name(value)}")
    return value


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"must be a number, got {_type_name(value)}")
    return float(value)


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, got {_type_name(value)}")
    return value


def _structure_secret(value: object, _: type) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        # Name the type only: the value may be the secret, misplaced.
        raise TypeError(f"must be a string, got {_type_name(value)}")
    return Secret(value)


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _structure_literal(value: object, type_: Any) -> Any:
    choices = get_args(type_)
    if value in choices and type(value) in {type(c) for c in choices}:
        return value
    listed = ", ".join(repr(choice) for choice in choices)
    raise ValueError(f"must be one of {listed}, got {value!r}")


def _structure_mapping_of_str(value: object, _: type) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"must be a table of strings, got {_type_name(value)}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"entry {key!r} must map a string to a string")
    return dict(value)


def make_converter(*, mask_secrets: bool = False) -> cattrs.Converter:
    """Build a strict converter for auth models.

    Args:
        mask_secrets: Unstructure every :class:`Secret` as a mask instead of
            its value; for display, never for storage.
    """
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)

    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook(Secret, _structure_secret)
    conv.register_structure_hook(Url, lambda value, _: check_url(value))
    conv.register_structure_hook(Scopes, lambda value, _: parse_scopes(value))
    conv.register_structure_hook_func(
        lambda type_: type_ == dict[str, str], _structure_mapping_of_str
    )
    conv.register_structure_hook_func(_is_literal, _structure_literal)

    if mask_secrets:
        conv.register_unstructure_hook(Secret, lambda _: MASK)
    else:
        conv.register_unstructure_hook(Secret, Secret.reveal)
    conv.register_unstructure_hook(Scopes, list)
    return conv


converter = make_converter()
"""The converter that loads and dumps every model."""

_masking_converter = make_converter(mask_secrets=True)


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "is required"
    if isinstance(exc, (TypeError, ValueError)) and exc.args:
        message = str(exc.args[0])
        # Python's own messages (from a nested class given a non-mapping)
        # mention internals; say what was expected instead.
        if "indices must be" in message or "object has no attribute" in message:
            return "must be a table of fields"
        return message
    if isinstance(exc, AttributeError):
        return "must be a table of fields"
    return "is not valid"


def _unknown_field_errors(exc: ForbiddenExtraKeysError, path: str) -> list[FieldError]:
    known = sorted(a.name for a in attrs.fields(exc.cl)) if attrs.has(exc.cl) else []
    errors = []
    for name in sorted(exc.extra_fields, key=str):
        close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
        if close:
            hint = f"unknown field; did you mean {close[0]!r}?"
        elif known:
            hint = f"unknown field; expected one of: {', '.join(known)}"
        else:
            hint = "unknown field; this model takes no fields"
        errors.append(FieldError(_join(path, str(name)), hint))
    return errors


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def field_errors(exc: BaseException, path: str = "") -> list[FieldError]:
    """Turn a structuring exception into field errors with full paths."""
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        errors: list[FieldError] = []
        for inner, note in with_notes:
            errors.extend(field_errors(inner, _join(path, note.name)))
        for inner in without:
            errors.extend(field_errors(inner, path))
        return errors

    if isinstance(exc, IterableValidationError):
        with_index, rest = exc.group_exceptions()
        errors = []
        for inner, index_note in with_index:
            errors.extend(field_errors(inner, f"{path}[{index_note.index!r}]"))
        for inner in rest:
            errors.extend(field_errors(inner, path))
        return errors

    if isinstance(exc, ForbiddenExtraKeysError):
        return _unknown_field_errors(exc, path)
    if isinstance(exc, ConfigError):
        return exc.under(path).errors
    return [FieldError(path, _describe_failure(exc))]


def structure(data: object, model: type[_T], path: str = "") -> _T:
    """Structure ``data`` into ``model`` or raise ConfigError with every path.

    Args:
        data: The plain mapping, as read from a file.
        model: The attrs class to build.
        path: The path of ``data`` in its document, put before each error.
    """
    if not isinstance(data, Mapping):
        where = path or "credentials"
        raise ConfigError(
            [FieldError(where, f"must be a table of fields, got {_type_name(data)}")]
        )
    try:
        return converter.structure(data, model)
    except (ClassValidationError, ConfigError) as exc:
        raise ConfigError(field_errors(exc, path)) from None


def unstructure(instance: object, *, reveal_secrets: bool = True) -> Any:
    """Turn a model into plain data; mask secrets unless told to reveal."""
    chosen = converter if reveal_secrets else _masking_converter
    return chosen.unstructure(instance)
