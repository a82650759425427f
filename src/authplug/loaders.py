"""Strict structuring of attrs models: one generated loader per model.

Every credential load turns plain mappings into frozen attrs models, so this
is authplug's hot path. For each model a function is generated, once, that
takes a mapping and

1. looks up each field, runs the check of its type (written inline for
   strings, numbers, booleans, secrets, choices and optional values) and
   collects a :class:`~authplug.errors.FieldError` with the full path for
   each bad one, with no exception raised or caught while all is well;
2. compares the mapping's keys with the model's in one set operation, and
   names each unknown key with the field it most likely meant;
3. builds the instance without a second round of checks: the fields are
   set directly, then the model's own converters and validators run
   (except those that repeat a check step 1 already made, such as the URL
   validator of a :data:`~authplug.Url` field), then
   ``__attrs_post_init__``. The result equals, hashes and prints exactly
   as an instance made by the model's ``__init__``.

Every problem is reported at once where that tells the truth. When some
fields are bad, the instance is still built from the good ones and the
model's validators and cross-field checks run on it: a check that reads a
bad field finds it missing and is not reported, so what is reported holds
whatever the bad fields are changed to. After the first problem only
ConfigError, ValueError and TypeError count; other exceptions are taken
for a check tripping over a missing field.

A model this cannot build faithfully (one with ``__attrs_pre_init__``, a
cached hash, a hand-written ``__init__``, a default that takes ``self``,
fields that are not frozen) is built by calling the class, with the same
checks and error paths. Field types with no check here (``dict[str, int]``,
say) are structured by the cattrs converter of :mod:`authplug.convert`, in
which every loader is registered as the hook of its model.
"""

from __future__ import annotations

import linecache
import math
import re
import sys
import threading
import types
from collections import abc
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

import attrs

from authplug.errors import ConfigError, FieldError
from authplug.fields import (
    Scopes,
    Url,
    check_url,
    check_url_text,
    parse_scopes,
    scopes_converter,
    type_name,
    url_validator,
)
from authplug.secret import Secret
from authplug.suggest import closest

__all__ = [
    "Check",
    "Loader",
    "UnknownFields",
    "checker_for",
    "describe_failure",
    "is_collection_type",
    "model_loader",
]

Check = Callable[[Any], Any]
"""Return a value of one type, or raise TypeError, ValueError or ConfigError."""

Loader = Callable[..., Any]
"""``loader(mapping, type=None, path="")``: a model instance, or ConfigError."""


# -- checks of single values ----------------------------------------------------


def check_str(value: object) -> str:
    """Return ``value`` if it is a string."""
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {type_name(value)}")
    return value


def check_int(value: object) -> int:
    """Return ``value`` if it is an integer (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"must be an integer, got {type_name(value)}")
    return value


def check_float(value: object) -> float:
    """Return ``value`` as a float if it is a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"must be a number, got {type_name(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("must be a number within float range") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    return number


def check_bool(value: object) -> bool:
    """Return ``value`` if it is true or false."""
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, got {type_name(value)}")
    return value


def check_secret(value: object) -> Secret:
    """Return ``value`` as a :class:`Secret` if it is a string or one already."""
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        # Name the type only: the value may be the secret, misplaced.
        raise TypeError(f"must be a string, got {type_name(value)}")
    return Secret(value)


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key_path(key: object) -> str:
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return key
    return f"[{key!r}]"


def check_mapping_of_str(value: object) -> dict[str, str]:
    """Return a copy of ``value`` if it maps strings to strings."""
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str or type(item) is not str:
                break
        else:
            return dict(value)
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


def _literal_checker(choices: tuple[Any, ...]) -> Check:
    listed = ", ".join(repr(choice) for choice in choices)
    texts = [choice for choice in choices if isinstance(choice, str)]

    def check_literal(value: object) -> Any:
        if any(value == c and type(value) is type(c) for c in choices):
            return value

        if isinstance(value, str):
            close = closest(value, texts)
            # Quote the value only when it is plainly a typo of a choice:
            # the string may be a secret pasted into the wrong field.
            if close is not None:
                raise ValueError(
                    f"must be one of {listed}, got {value!r}; did you mean {close!r}?"
                )
            raise ValueError(f"must be one of {listed}, got another string")
        raise ValueError(f"must be one of {listed}, got {type_name(value)}")

    return check_literal


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


def is_collection_type(type_: Any) -> bool:
    """Tell whether ``type_`` is a list, tuple or set type the loaders check."""
    return get_origin(type_) in _COLLECTIONS


def _collection_checker(type_: Any) -> Check:
    """Check lists strictly: a string is not a list of its characters."""
    origin = get_origin(type_)
    args = get_args(type_)
    build = _COLLECTIONS[origin]
    variadic = origin is not tuple or (len(args) == 2 and args[1] is ...)
    item_check = checker_for(args[0] if args else Any) if variadic else None
    item_checks = [checker_for(arg) for arg in args] if not variadic else []

    def check_collection(value: object) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"must be a list, got {type_name(value)}")
        if item_check is not None:
            checks = [item_check] * len(value)
        elif len(value) != len(item_checks):
            count = len(item_checks)
            raise ValueError(f"must be a list of {count} items, got {len(value)}")
        else:
            checks = item_checks

        items = []
        errors: list[FieldError] = []
        for index, (item, check) in enumerate(zip(value, checks, strict=True)):
            try:
                items.append(check(item))
            except Exception as exc:
                _field_failure(errors, exc, "", f"[{index}]")
        if errors:
            raise ConfigError(errors)
        return build(items)

    return check_collection


def _optional_checker(inner: Check) -> Check:
    def check_optional(value: object) -> Any:
        return None if value is None else inner(value)

    return check_optional


def _pass(value: object) -> Any:
    return value


def _cattrs_checker(type_: Any) -> Check:
    # Imported here: the converter (and cattrs) load only when a model has
    # a field type that needs them.
    from authplug.convert import get_converter

    hook = get_converter().get_structure_hook(type_)

    def check_by_cattrs(value: object) -> Any:
        return hook(value, type_)

    return check_by_cattrs


_SIMPLE: dict[Any, Check] = {
    str: check_str,
    int: check_int,
    float: check_float,
    bool: check_bool,
    Secret: check_secret,
    Url: check_url,
    Scopes: parse_scopes,
}

_checkers: dict[Any, Check] = {}


def checker_for(type_: Any) -> Check:
    """Return the strict check of values of ``type_``, made once per type."""
    try:
        return _checkers[type_]
    except KeyError:
        check = _make_checker(type_)
    except TypeError:  # an unhashable type annotation
        return _make_checker(type_)
    _checkers[type_] = check
    return check


def _optional_of(type_: Any) -> Any:
    """Return ``X`` for ``X | None``, or None if ``type_`` is no such union."""
    if get_origin(type_) not in (Union, types.UnionType):
        return None
    args = get_args(type_)
    if len(args) != 2 or type(None) not in args:
        return None
    return args[0] if args[1] is type(None) else args[1]


def _is_model(type_: Any) -> bool:
    return isinstance(type_, type) and attrs.has(type_)


def _make_checker(type_: Any) -> Check:
    if type_ is None:
        return _pass
    try:
        simple = _SIMPLE.get(type_)
    except TypeError:
        simple = None
    if simple is not None:
        return simple
    if type_ == dict[str, str]:
        return check_mapping_of_str

    origin = get_origin(type_)
    if origin is Literal:
        return _literal_checker(get_args(type_))
    inner = _optional_of(type_)
    if inner is not None:
        return _optional_checker(checker_for(inner))
    if origin in _COLLECTIONS:
        return _collection_checker(type_)
    if _is_model(type_):
        return model_loader(type_)
    return _cattrs_checker(type_)


# -- turning exceptions into field errors -----------------------------------------


def describe_failure(exc: BaseException) -> str:
    """Say what an exception from a check or a model means for the field."""
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


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _field_failure(
    errors: list[FieldError], exc: BaseException, path: str, name: str
) -> None:
    """Record why the value of field ``name`` (under ``path``) was refused."""
    where = _join(path, name) if not name.startswith("[") else f"{path}{name}"
    if isinstance(exc, ConfigError):
        errors.extend(error.under(where) for error in exc.errors)
        return

    # Only a field type handed to cattrs raises its exceptions, and then
    # cattrs is loaded already.
    if "cattrs" in sys.modules and _is_cattrs_error(exc):
        from authplug.convert import field_errors

        errors.extend(field_errors(exc, where))
        return
    errors.append(FieldError(where, describe_failure(exc)))


def _is_cattrs_error(exc: BaseException) -> bool:
    from cattrs.errors import BaseValidationError, ForbiddenExtraKeysError

    return isinstance(exc, (BaseValidationError, ForbiddenExtraKeysError))


def _model_failure(errors: list[FieldError], exc: BaseException, path: str) -> None:
    """Record why a model's converter, validator or own check refused it."""
    if errors and not isinstance(exc, (ConfigError, TypeError, ValueError)):
        # After a first problem the instance lacks the fields found bad; a
        # check that trips over one says nothing about the others.
        return
    if isinstance(exc, ConfigError):
        errors.extend(error.under(path) for error in exc.errors)
    else:
        errors.append(FieldError(path, describe_failure(exc)))


def _not_a_table(value: object, path: str) -> ConfigError:
    message = f"must be a table of fields, got {type_name(value)}"
    return ConfigError([FieldError(path, message)])


def _required(path: str, name: str) -> FieldError:
    return FieldError(_join(path, name), "is required")


# The plain classes here are written out rather than made by attrs: they
# are defined at import time, on every program's start-up path, and an attrs
# class costs a good part of a millisecond to make.
class UnknownFields:
    """What to say about keys a model does not have."""

    __slots__ = ("known",)

    def __init__(self, known: tuple[str, ...]) -> None:
        self.known = known

    def report(
        self, errors: list[FieldError], data: Mapping[Any, Any], path: str
    ) -> None:
        extra = [key for key in data if key not in self.known]
        for key in sorted(extra, key=str):
            name = str(key)
            close = closest(name, self.known)
            if close is not None:
                hint = f"unknown field; did you mean {close!r}?"
            elif self.known:
                hint = f"unknown field; expected one of: {', '.join(self.known)}"
            else:
                hint = "unknown field; this model takes no fields"
            errors.append(FieldError(_join(path, name), hint))


# -- the plan of a model -----------------------------------------------------------

_MISSING: Any = object()
"""A field that was not given, or whose value was refused."""

_OMIT: Any = object()
"""A field left to the model's own default (models built by calling them)."""


def _skips_converter(attribute: attrs.Attribute[Any]) -> bool:
    # The scopes check already gives the canonical tuple, which the scopes
    # converter would return unchanged.
    converter: Any = attribute.converter
    return converter is scopes_converter and attribute.type is Scopes


def _skips_validator(attribute: attrs.Attribute[Any]) -> bool:
    # Structuring a Url ran check_url already; the validator repeats it.
    return (
        attribute.validator is url_validator
        and attribute.converter is None
        and attribute.type in (Url, Url | None)
    )


class _Field:
    """How one attribute is read, converted, set and checked."""

    __slots__ = (
        "attribute",
        "check",
        "converter",
        "default",
        "delete",
        "factory",
        "set",
        "validator",
    )

    def __init__(
        self,
        *,
        attribute: attrs.Attribute[Any],
        check: Check,
        default: Any,
        factory: Callable[[], Any] | None,
        converter: Callable[[Any], Any] | None,
        validator: Callable[[Any, attrs.Attribute[Any], Any], Any] | None,
        set: Callable[[Any, Any], None],
        delete: Callable[[Any], None],
    ) -> None:
        self.attribute = attribute
        self.check = check
        self.default = default
        self.factory = factory
        self.converter = converter
        self.validator = validator
        self.set = set
        self.delete = delete

    @property
    def name(self) -> str:
        return self.attribute.name

    def default_value(self) -> Any:
        """Return this field's default, as ``__init__`` would take it."""
        if self.factory is not None:
            return self.factory()
        return self.default


def _builds_by_init(model: type) -> bool:
    """Tell whether ``model`` must be built by calling it (see the module doc)."""
    inspect = getattr(attrs, "inspect", None)
    if inspect is None:  # attrs before 25.4 cannot say how a class was made
        return True
    try:
        props = inspect(model)
        plain = (
            props.added_init
            and props.is_frozen
            and not props.is_exception
            and props.hashability is not props.Hashability.HASHABLE_CACHED
        )
    except (AttributeError, TypeError):
        return True
    if not plain or hasattr(model, "__attrs_pre_init__"):
        return True
    if getattr(model, "__new__", None) is not object.__new__ or getattr(
        model, "__abstractmethods__", None
    ):
        return True

    converter_class = getattr(attrs, "Converter", None)
    for attribute in attrs.fields(model):
        default = attribute.default
        if isinstance(default, attrs.Factory) and default.takes_self:  # type: ignore[arg-type]
            return True
        if converter_class is not None and isinstance(
            attribute.converter, converter_class
        ):
            return True
        if (
            "__slots__" in model.__dict__
            and _slot_access(model, attribute.name) is None
        ):
            return True
    return False


def _slot_access(
    model: type, name: str
) -> tuple[Callable[[Any, Any], None], Callable[[Any], None]] | None:
    descriptor = getattr(model, name, None)
    if not isinstance(descriptor, types.MemberDescriptorType):
        return None
    return descriptor.__set__, descriptor.__delete__


def _dict_access(name: str) -> tuple[Callable[[Any, Any], None], Callable[[Any], None]]:
    def set_item(instance: Any, value: Any) -> None:
        instance.__dict__[name] = value

    def delete_item(instance: Any) -> None:
        instance.__dict__.pop(name, None)

    return set_item, delete_item


def _field_of(model: type, attribute: attrs.Attribute[Any], slotted: bool) -> _Field:
    default: Any = attribute.default
    factory: Callable[[], Any] | None = None
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory = default.factory
        # The empty tuple is one object; no need to call for it each time.
        if factory is tuple:
            default, factory = (), None

    converter: Any = attribute.converter
    if _skips_converter(attribute):
        if default is not attrs.NOTHING and factory is None:
            default = scopes_converter(default)
            converter = None
        elif default is attrs.NOTHING:
            converter = None

    access = _slot_access(model, attribute.name) if slotted else None
    if access is None:
        access = _dict_access(attribute.name)

    return _Field(
        attribute=attribute,
        check=checker_for(attribute.type) if attribute.init else _pass,
        default=default,
        factory=factory,
        converter=converter,
        validator=None if _skips_validator(attribute) else attribute.validator,
        set=access[0],
        delete=access[1],
    )


class _Plan:
    """Everything the loader of one model needs besides its generated code."""

    __slots__ = (
        "by_init",
        "fields",
        "inputs",
        "model",
        "post_init",
        "simple",
        "unknown",
    )

    def __init__(
        self,
        *,
        model: type,
        fields: list[_Field],
        by_init: bool,
        post_init: bool,
        unknown: UnknownFields,
    ) -> None:
        self.model = model
        self.fields = fields
        self.by_init = by_init
        self.post_init = post_init
        self.unknown = unknown
        self.inputs = [field for field in fields if field.attribute.init]
        # Whether building needs nothing but setting the fields.
        self.simple = not by_init and all(
            field.attribute.init and field.converter is None and field.validator is None
            for field in fields
        )

    def build(self, values: list[Any], errors: list[FieldError], path: str) -> Any:
        """Build the instance from checked ``values``, or raise ConfigError.

        ``values`` follow :attr:`inputs`; a refused or missing one is
        ``_MISSING``. ``errors`` holds the problems found so far.
        """
        if self.by_init:
            return self._call(values, errors, path)

        instance: Any = object.__new__(self.model)
        given = dict(zip((f.name for f in self.inputs), values, strict=True))
        present: list[tuple[_Field, Any]] = []
        for field in self.fields:
            if field.attribute.init:
                value = given[field.name]
                if value is _MISSING:
                    continue
            elif field.default is attrs.NOTHING and field.factory is None:
                continue
            else:
                value = field.default_value()

            if field.converter is not None:
                try:
                    value = field.converter(value)
                except Exception as exc:
                    _model_failure(errors, exc, path)
                    continue
            field.set(instance, value)
            present.append((field, value))

        checked = [(f, v) for f, v in present if f.validator is not None]
        if checked and not attrs.validators.get_disabled():
            for field, value in checked:
                try:
                    field.validator(instance, field.attribute, value)  # type: ignore[misc]
                except Exception as exc:
                    _model_failure(errors, exc, path)
                    # Later checks must not build on a value found bad.
                    field.delete(instance)

        if self.post_init:
            try:
                instance.__attrs_post_init__()
            except Exception as exc:
                _model_failure(errors, exc, path)

        if errors:
            raise ConfigError(errors)
        return instance

    def _call(self, values: list[Any], errors: list[FieldError], path: str) -> Any:
        if errors:
            raise ConfigError(errors)

        arguments = {
            field.attribute.alias or field.name: value
            for field, value in zip(self.inputs, values, strict=True)
            if value is not _OMIT
        }
        try:
            return self.model(**arguments)
        except Exception as exc:
            _model_failure(errors, exc, path)
            raise ConfigError(errors) from None


def _plan_of(model: type) -> _Plan:
    if any(isinstance(attribute.type, str) for attribute in attrs.fields(model)):
        attrs.resolve_types(model)

    by_init = _builds_by_init(model)
    slotted = "__slots__" in model.__dict__
    fields = [_field_of(model, a, slotted) for a in attrs.fields(model)]
    known = tuple(sorted(field.name for field in fields if field.attribute.init))
    return _Plan(
        model=model,
        fields=fields,
        by_init=by_init,
        post_init=hasattr(model, "__attrs_post_init__"),
        unknown=UnknownFields(known),
    )


# -- generating the loader ----------------------------------------------------------


def _inline(type_: Any, index: int, namespace: dict[str, Any]) -> str:
    """Return an expression over ``v`` giving the checked value of ``type_``.

    Common types are checked inline and anything else (or any value that
    fails the inline test) goes to the type's check function, which raises
    with the message to report.
    """
    check = f"_check{index}"
    namespace[check] = checker_for(type_)
    fallback = f"{check}(v)"

    inner = _optional_of(type_)
    if inner is not None:
        return f"None if v is None else ({_inline(inner, index, namespace)})"

    if type_ is str:
        return f"v if type(v) is str else {fallback}"
    if type_ is int:
        return f"v if type(v) is int else {fallback}"
    if type_ is bool:
        return f"v if v is True or v is False else {fallback}"
    if type_ is float:
        return f"v if type(v) is float and _isfinite(v) else {fallback}"
    if type_ is Secret:
        return f"_Secret(v) if type(v) is str else {fallback}"
    if type_ is Url:
        return f"_url_text(v) if type(v) is str else {fallback}"

    if get_origin(type_) is Literal:
        choices = get_args(type_)
        if all(type(choice) is str for choice in choices):
            namespace[f"_choices{index}"] = frozenset(choices)
            return f"v if type(v) is str and v in _choices{index} else {fallback}"
    return fallback


def _field_lines(field: _Field, index: int, namespace: dict[str, Any]) -> list[str]:
    attribute = field.attribute
    name = attribute.name
    value = f"x{index}"

    if attribute.default is attrs.NOTHING:
        missing = [f"{value} = _MISSING", f"errors.append(_required(_path, {name!r}))"]
    elif namespace["_plan"].by_init:
        missing = [f"{value} = _OMIT"]
    elif field.factory is not None:
        namespace[f"_factory{index}"] = field.factory
        missing = [f"{value} = _factory{index}()"]
    else:
        namespace[f"_default{index}"] = field.default
        missing = [f"{value} = _default{index}"]

    model = attribute.type if _is_model(attribute.type) else None
    optional = _optional_of(attribute.type)
    if model is None and _is_model(optional):
        model = optional

    if attribute.default is attrs.NOTHING:
        # A required field is nearly always there: subscripting is quicker.
        lines = ["try:", f"    v = o[{name!r}]", "except KeyError:"]
    else:
        lines = [f"v = get({name!r}, _MISSING)", "if v is _MISSING:"]
    lines += [f"    {line}" for line in missing]
    lines += ["else:", "    try:"]
    if model is not None:
        # A nested model reports its own paths, so it is given its place.
        namespace[f"_load{index}"] = model_loader(model)
        call = f"_load{index}(v, None, _join(_path, {name!r}))"
        expression = call if optional is None else f"None if v is None else {call}"
        lines += [
            f"        {value} = {expression}",
            "    except _ConfigError as exc:",
            f"        {value} = _MISSING",
            "        errors.extend(exc.errors)",
        ]
    else:
        lines += [f"        {value} = {_inline(attribute.type, index, namespace)}"]
    lines += [
        "    except Exception as exc:",
        f"        {value} = _MISSING",
        f"        _field_failure(errors, exc, _path, {name!r})",
    ]
    return lines


def _source(plan: _Plan, namespace: dict[str, Any]) -> str:
    body = [
        "if type(o) is not dict and not isinstance(o, _Mapping):",
        "    raise _not_a_table(o, _path)",
        "errors = []",
        "get = o.get",
    ]
    inputs = plan.inputs
    for index, field in enumerate(inputs):
        body += _field_lines(field, index, namespace)

    values = ", ".join(f"x{index}" for index in range(len(inputs)))
    body += [
        "if not o.keys() <= _known:",
        "    _unknown.report(errors, o, _path)",
    ]
    if not plan.simple:
        body += [f"return _plan.build([{values}], errors, _path)"]
    else:
        body += [
            "if errors:",
            f"    return _plan.build([{values}], errors, _path)",
            "self = _new(_model)",
        ]
        for index, field in enumerate(inputs):
            namespace[f"_set{index}"] = field.set
            body += [f"_set{index}(self, x{index})"]
        if plan.post_init:
            body += [
                "try:",
                "    self.__attrs_post_init__()",
                "except Exception as exc:",
                "    _model_failure(errors, exc, _path)",
                "    raise _ConfigError(errors) from None",
            ]
        body += ["return self"]

    name = f"load_{plan.model.__name__}"
    lines = [f"def {name}(o, _type=None, _path=''):"]
    lines += [f"    {line}" for line in body]
    return "\n".join(lines) + "\n"


def _compile(model: type) -> Loader:
    plan = _plan_of(model)
    namespace: dict[str, Any] = {
        "_plan": plan,
        "_model": model,
        "_new": object.__new__,
        "_known": frozenset(plan.unknown.known),
        "_unknown": plan.unknown,
        "_Mapping": Mapping,
        "_ConfigError": ConfigError,
        "_Secret": Secret,
        "_url_text": check_url_text,
        "_isfinite": math.isfinite,
        "_MISSING": _MISSING,
        "_OMIT": _OMIT,
        "_join": _join,
        "_required": _required,
        "_not_a_table": _not_a_table,
        "_field_failure": _field_failure,
        "_model_failure": _model_failure,
    }
    source = _source(plan, namespace)
    filename = f"<authplug loader {model.__module__}.{model.__qualname__}>"
    exec(compile(source, filename, "exec"), namespace)
    # So that a traceback through the loader shows its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    loader: Loader = namespace[f"load_{model.__name__}"]
    return loader


_loaders: dict[type, Loader] = {}
_compiling: set[type] = set()
_lock = threading.RLock()


def model_loader(model: type) -> Loader:
    """Return the loader of attrs class ``model``, generating it on first use.

    Call it as ``loader(mapping, None, path)``; it returns an instance or
    raises :class:`~authplug.errors.ConfigError` with every problem, each
    path starting with ``path``.
    """
    try:
        return _loaders[model]
    except KeyError:
        pass

    with _lock:
        if model in _loaders:
            return _loaders[model]
        if model in _compiling:
            # A model that contains itself: look it up once it exists.
            def load_later(data: object, type_: Any = None, path: str = "") -> Any:
                return _loaders[model](data, type_, path)

            return load_later

        _compiling.add(model)
        try:
            loader = _compile(model)
        finally:
            _compiling.discard(model)
        _loaders[model] = loader
        return loader
