"""The one cattrs converter behind every model, and its error reporting.

The converter is strict: it accepts a value only when it already has the
field's type. A string is not a list of scopes (except where a field's type
says so), an int is not a client id, a bool is not a number. Structuring
errors come back as :class:`~authplug.errors.FieldError` values with full
dotted paths, so a user can fix every mistake in one go.

Models are structured by the loaders of :mod:`authplug.loaders`, which are
also the converter's hooks for them, so :func:`structure` and
``converter.structure`` agree. :func:`structure` calls a model's loader
directly, and the converter (with cattrs) is only made when something
needs it: unstructuring, or a field type the loaders leave to cattrs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_origin

import attrs

from authplug import loaders
from authplug.errors import ConfigError, FieldError
from authplug.fields import Scopes, Url, type_name
from authplug.loaders import describe_failure
from authplug.secret import MASK, Secret

if TYPE_CHECKING:
    import cattrs

    converter: cattrs.Converter
    """The converter that loads and dumps every model."""

__all__ = [
    "check_instance",
    "converter",
    "field_errors",
    "field_values",
    "get_converter",
    "make_converter",
    "structure",
    "unstructure",
]

_T = TypeVar("_T")


def _is_literal(type_: Any) -> bool:
    return get_origin(type_) is Literal


def _by_checker(value: object, type_: Any) -> Any:
    return loaders.checker_for(type_)(value)


def _model_hook(model: Any, conv: cattrs.Converter) -> Callable[[Any, Any], Any]:
    # A generic model given its type arguments (Model[int]) is left to
    # cattrs, which knows what each type variable stands for.
    if get_origin(model) is not None:
        from cattrs.gen import make_dict_structure_fn

        return make_dict_structure_fn(
            model,
            conv,
            _cattrs_forbid_extra_keys=True,
            _cattrs_detailed_validation=True,
        )
    return loaders.model_loader(model)


def make_converter(*, mask_secrets: bool = False) -> cattrs.Converter:
    """Build a strict converter for auth models.

    Every attrs model is structured by its loader from
    :mod:`authplug.loaders`, and every value type by the same checks.

    Args:
        mask_secrets: Unstructure every :class:`Secret` as a mask instead of
            its value; for display, never for storage.
    """
    import cattrs

    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)

    for type_ in (str, int, float, bool, Secret, Url, Scopes):
        conv.register_structure_hook(type_, _by_checker)
    conv.register_structure_hook_func(lambda t: t == dict[str, str], _by_checker)
    conv.register_structure_hook_func(_is_literal, _by_checker)
    conv.register_structure_hook_func(loaders.is_collection_type, _by_checker)
    conv.register_structure_hook_factory(attrs.has, _model_hook)

    if mask_secrets:
        conv.register_unstructure_hook(Secret, lambda _: MASK)
    else:
        conv.register_unstructure_hook(Secret, Secret.reveal)
    conv.register_unstructure_hook(Scopes, list)
    return conv


# cattrs takes a while to import and most programs only load credentials,
# which needs none of it; the converters are made on first use.
_converters: dict[bool, cattrs.Converter] = {}
_converters_lock = threading.Lock()


def get_converter(*, mask_secrets: bool = False) -> cattrs.Converter:
    """Return the process's converter (or its masking twin), made on first use."""
    try:
        return _converters[mask_secrets]
    except KeyError:
        pass
    with _converters_lock:
        if mask_secrets not in _converters:
            _converters[mask_secrets] = make_converter(mask_secrets=mask_secrets)
        return _converters[mask_secrets]


def __getattr__(name: str) -> Any:
    if name == "converter":
        return get_converter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _unknown_field_errors(exc: Any, path: str) -> list[FieldError]:
    model = exc.cl
    known = sorted(a.name for a in attrs.fields(model)) if attrs.has(model) else []
    errors: list[FieldError] = []
    loaders.UnknownFields(tuple(known)).report(
        errors, dict.fromkeys(exc.extra_fields), path
    )
    return errors


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def field_errors(exc: BaseException, path: str = "") -> list[FieldError]:
    """Turn a structuring exception into field errors with full paths."""
    if isinstance(exc, ConfigError):
        return exc.under(path).errors
    if "cattrs" not in sys.modules:
        return [FieldError(path, describe_failure(exc))]

    from cattrs.errors import (
        ClassValidationError,
        ForbiddenExtraKeysError,
        IterableValidationError,
    )

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
    return [FieldError(path, describe_failure(exc))]


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
    if isinstance(model, type) and attrs.has(model):
        loaded: _T = loaders.model_loader(model)(data, None, path)
        return loaded

    conv = get_converter()
    from cattrs.errors import BaseValidationError

    try:
        return conv.structure(data, model)
    except (BaseValidationError, ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(field_errors(exc, path)) from None


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
    return get_converter(mask_secrets=not reveal_secrets).unstructure(instance)
