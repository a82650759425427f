"""The one cattrs converter behind every model, and its error reporting.

The converter is strict: it accepts a value only when it already has the
field's type. A string is not a list of scopes (except where a field's type
says so), an int is not a client id, a bool is not a number. Structuring
errors come back as :class:`~authplug.errors.FieldError` values with full
dotted paths, so a user can fix every mistake in one go.
"""

from __future__ import annotations

import difflib
import math
import re
from collections import abc
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
)

from authplug.errors import ConfigError, FieldError
from authplug.fields import Scopes, Url, check_url, parse_scopes, type_name
from authplug.secret import MASK, Secret

__all__ = [
    "check_instance",
    "converter",
    "field_errors",
    "field_values",
    "make_converter",
    "structure",
    "unstructure",
]

_T = TypeVar("_T")


def _structure_str(value: object, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {type_name(value)}")
    return value


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"must be an integer, got {type_name(value)}")
    return value


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"must be a number, got {type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("must be a number within float range") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def _structure_bool(value: object, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, got {type_name(value)}")
    return value


def _structure_secret(value: object, _: type) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        # Name the type only: the value may be the secret, misplaced.
        raise TypeError(f"must be a string, got {type_name(value)}")
    return Secret(value)


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _structure_literal(value: object, type_: Any) -> Any:
    choices = get_args(type_)
    if any(value == c and type(value) is type(c) for c in choices):
        return value

    listed = ", ".join(repr(choice) for choice in choices)
    texts = [choice for choice in choices if isinstance(choice, str)]
    if isinstance(value, str):
        close = difflib.get_close_matches(value, texts, n=1, cutoff=0.6)
        # Quote the value only when it is plainly a typo of a choice: the
        # string may be a secret pasted into the wrong field.
        if close:
            raise ValueError(
                f"must be one of {listed}, got {value!r}; did you mean {close[0]!r}?"
            )
        raise ValueError(f"must be one of {listed}, got another string")
    raise ValueError(f"must be one of {listed}, got {type_name(value)}")


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key_path(key: object) -> str:
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return key
    return f"[{key!r}]"


def _structure_mapping_of_str(value: object, _: type) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError(f"must be a table of strings, got {type_name(value)}")

    errors = []
    for key, item in value.items():
        if not isinstance(key, str):
            message = f"key must be a string, got {type_name(key)}"
            errors.append(FieldError(f"[{key!r}]", message))
        elif not isinstance(item, str):
            message = f"must be a string, got {type_name(item)}"
            errors.append(FieldError(_key_path(key), message))

    if errors:
        raise ConfigError(errors)
    return dict(value)


_COLLECTIONS: dict[Any, Callable[[list[Any]], Any]] = {
    list: list,
    tuple: tuple,
    set: set,
    frozenset: frozenset,
    abc.Sequence: tuple,
    abc.MutableSequence: list,
    abc.Set: frozenset,
    abc.MutableSet: set,
}


def _is_collection(type_: Any) -> bool:
    return get_origin(type_) in _COLLECTIONS


def _collection_hook(conv: cattrs.Converter) -> Callable[[object, Any], Any]:
    """Structure lists strictly: cattrs takes any iterable, even a string."""

    def structure_collection(value: object, type_: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"must be a list, got {type_name(value)}")

        origin = get_origin(type_)
        args = get_args(type_)
        variadic = origin is not tuple or (len(args) == 2 and args[1] is ...)
        if variadic:
            item_types = [args[0] if args else Any] * len(value)
        elif len(value) != len(args):
            raise ValueError(f"must be a list of {len(args)} items, got {len(value)}")
        else:
            item_types = list(args)

        items = []
        errors: list[FieldError] = []
        for index, (item, item_type) in enumerate(zip(value, item_types, strict=True)):
            try:
                items.append(conv.structure(item, item_type))
            except _ITEM_ERRORS as exc:
                errors.extend(field_errors(exc, f"[{index}]"))
        if errors:
            raise ConfigError(errors)
        return _COLLECTIONS[origin](items)

    return structure_collection


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
    conv.register_structure_hook_func(_is_collection, _collection_hook(conv))

    if mask_secrets:
        conv.register_unstructure_hook(Secret, lambda _: MASK)
    else:
        conv.register_unstructure_hook(Secret, Secret.reveal)
    conv.register_unstructure_hook(Scopes, list)
    return conv


converter = make_converter()
"""The converter that loads and dumps every model."""

_masking_converter = make_converter(mask_secrets=True)

_ITEM_ERRORS = (
    ClassValidationError,
    ConfigError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
)


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
            [FieldError(where, f"must be a table of fields, got {type_name(data)}")]
        )
    try:
        return converter.structure(data, model)
    except (ClassValidationError, ConfigError) as exc:
        raise ConfigError(field_errors(exc, path)) from None
    except (TypeError, ValueError) as exc:
        # A check in the model itself (a validator or __attrs_post_init__)
        # that raised a plain error instead of a ConfigError.
        raise ConfigError([FieldError(path, _describe_failure(exc))]) from None


def field_values(instance: object) -> Any:
    """Return a model's fields as the plain mapping :func:`structure` takes.

    Unlike :func:`unstructure` it keeps every value as it is (a
    :class:`Secret` stays a Secret), and it never fails on a field that
    holds the wrong type: finding those is the structuring's job.
    """
    model = type(instance)
    if attrs.has(model):
        return {
            field.alias: field_values(getattr(instance, field.name))
            for field in attrs.fields(model)
            if field.init
        }
    if isinstance(instance, Mapping):
        return {key: field_values(item) for key, item in instance.items()}
    if isinstance(instance, (list, tuple)):
        return [field_values(item) for item in instance]
    return instance


def check_instance(instance: _T, path: str = "") -> _T:
    """Return a copy of model ``instance`` checked as strictly as a file.

    attrs does not check types on construction, so a model built in Python
    may hold a plain ``str`` where a :class:`Secret` belongs (and would show
    it in its repr) or an int where a string belongs. Structuring its
    fields again applies every rule a loaded document meets, and wraps
    plain strings given for secrets.

    Raises:
        ConfigError: With every bad field, under ``path``.
    """
    return structure(field_values(instance), type(instance), path)


def unstructure(instance: object, *, reveal_secrets: bool = True) -> Any:
    """Turn a model into plain data; mask secrets unless told to reveal."""
    chosen = converter if reveal_secrets else _masking_converter
    return chosen.unstructure(instance)
