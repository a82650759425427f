"""Hypothesis strategies for any auth type, derived from its attrs models.

Every strategy here produces *documents*: the plain data a credentials file
holds (strings, numbers, lists, tables), not model instances. A field's
values come from its type:

- ``str``, ``int``, ``float``, ``bool`` and ``Literal[...]``;
- :class:`~authplug.Secret`, as distinctive values that :func:`find_secrets`
  can spot in any text, so a leak is caught wherever it lands;
- :data:`~authplug.Url` and :data:`~authplug.Scopes`;
- ``dict[str, str]``, lists, ``X | None`` and nested attrs models.

A field's own validator is honoured by drawing again until a value passes
it. Rules that span fields (a client secret unless ``client_auth`` is
``"none"``) are honoured by loading each candidate document and keeping
those that load; the contract's ``generation`` check makes sure that this
filter keeps enough documents, so it cannot hide a type that loads nothing.

A type whose values random data rarely hits registers a strategy of its
own, for a field or for a whole field type::

    from hypothesis import strategies as st
    from authplug.testing import register_strategy

    register_strategy(ShopApp, st.from_regex(r"\\A[a-z]{3,12}\\Z"), field="shop")

Without hypothesis in the plugin itself, a model can list example
documents; they are drawn whole, and their values join each field's pool.
A field's JSON Schema ``examples`` join its pool too::

    @attrs.frozen(kw_only=True)
    class ShopApp:
        shop: str = describe("The shop", metadata={"json_schema": {
            "pattern": SHOP_PATTERN, "examples": ["acme-books"]}})
        __authplug_examples__: ClassVar[tuple[dict[str, Any], ...]] = (
            {"shop": "acme"},
        )
"""

from __future__ import annotations

import copy
import re
import string
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin

import attrs
from cattrs.errors import BaseValidationError
from hypothesis import reject
from hypothesis import strategies as st

from authplug.convert import converter
from authplug.errors import ConfigError
from authplug.fields import Scopes, Url
from authplug.http import Request, form_encode
from authplug.records import AuthType
from authplug.secret import Secret
from authplug.testing.report import Broken

__all__ = [
    "FIXED_NOW",
    "SECRET_MARK",
    "Malformed",
    "UnsupportedField",
    "candidate_documents",
    "every_malformed",
    "find_secrets",
    "flow_documents",
    "load_error",
    "loads",
    "malformed_documents",
    "model_documents",
    "model_examples",
    "register_strategy",
    "requests",
    "secret_values",
    "settle",
    "unregister_strategy",
    "urls",
    "valid_documents",
]

FIXED_NOW = 1_767_225_600.0
"""The kit's fixed clock: 2026-01-01T00:00:00Z."""

_TEN_YEARS = 10 * 365 * 24 * 3600.0

SECRET_MARK = "S3cr3t"
"""Every generated secret starts with this and ten letters or digits."""

_SECRET_PATTERN = re.compile(SECRET_MARK + r"[A-Za-z0-9]{10}")
_CORE_ALPHABET = string.ascii_letters + string.digits
# Characters that exercise encoding: percent-encoding, base64, form bodies.
_TAIL_ALPHABET = "-._~+/=!$&*:@ %éß€"

_DOCUMENT_KEYS = ("type", "auth_id", "user", "app")
_ATTEMPTS = 10
_NONE_TYPE = type(None)

Draw = Callable[[st.SearchStrategy[Any]], Any]
"""Draws one value from a strategy: a composite's ``draw`` or ``data.draw``."""

_type_strategies: dict[Any, st.SearchStrategy[Any]] = {}
_field_strategies: dict[tuple[type, str], st.SearchStrategy[Any]] = {}
_model_strategies: dict[type, st.SearchStrategy[Any]] = {}


class UnsupportedField(TypeError):
    """A model the kit cannot generate documents for, and what to do about it."""


class Malformed(NamedTuple):
    """A document that must not load, and where loading must say so.

    Args:
        document: The broken document.
        path: The field path the error must name, e.g. ``app.token_url``.
        change: What was broken, for reports.
    """

    document: dict[str, Any]
    path: str
    change: str


def register_strategy(
    target: Any, strategy: st.SearchStrategy[Any], *, field: str | None = None
) -> None:
    """Use ``strategy`` for the document values of a type, model or field.

    The strategy produces plain document values (a ``str`` for a Secret,
    a list for Scopes, a mapping for a model), not model instances.

    Args:
        target: A field type (a NewType, a class, a Literal); or an attrs
            model, whose whole documents the strategy then produces; or,
            with ``field``, the model that declares the field.
        strategy: The hypothesis strategy to draw values from.
        field: The name of one field of ``target``; the strategy applies
            to it in ``target`` and every subclass.

    Raises:
        ValueError: ``field`` is not a field of ``target``.
        TypeError: ``field`` is given but ``target`` is not an attrs class.
    """
    if field is None:
        if _is_model(target):
            _model_strategies[target] = strategy
        else:
            _type_strategies[target] = strategy
        return

    if not _is_model(target):
        raise TypeError(f"field= needs an attrs model class, got {target!r}")
    names = [attribute.name for attribute in attrs.fields(target)]
    if field not in names:
        raise ValueError(
            f"{target.__name__} has no field {field!r}; "
            f"its fields are: {', '.join(names) or '(none)'}"
        )
    _field_strategies[(target, field)] = strategy


def unregister_strategy(target: Any, *, field: str | None = None) -> None:
    """Forget a strategy given to :func:`register_strategy`, if any."""
    if field is not None:
        _field_strategies.pop((target, field), None)
    elif _is_model(target):
        _model_strategies.pop(target, None)
    else:
        _type_strategies.pop(target, None)


def secret_values() -> st.SearchStrategy[str]:
    """Return distinctive secret strings that :func:`find_secrets` spots."""
    cores = st.text(_CORE_ALPHABET, min_size=10, max_size=14)
    tails = st.text(_TAIL_ALPHABET, max_size=4)
    return st.builds(lambda core, tail: f"{SECRET_MARK}{core}{tail}", cores, tails)


def find_secrets(text: str) -> list[str]:
    """Return every generated secret (its distinctive start) found in ``text``.

    The start is plain letters and digits, so it survives repr, percent-
    and bytes escaping: a secret that leaks in any of those forms is found.
    """
    return _SECRET_PATTERN.findall(text)


_LABELS = st.from_regex(r"\A[a-z][a-z0-9-]{0,8}[a-z0-9]\Z")
_SEGMENTS = st.from_regex(r"\A[A-Za-z0-9._~-]{1,8}\Z")
_PORTS = st.one_of(st.just(""), st.integers(1, 65535).map(lambda port: f":{port}"))


def urls() -> st.SearchStrategy[str]:
    """Return URLs that :data:`~authplug.Url` accepts: https, or loopback http."""
    hosts = st.lists(_LABELS, min_size=1, max_size=3).map(
        lambda labels: ".".join([*labels, "test"])
    )
    paths = st.lists(_SEGMENTS, max_size=3).map(
        lambda segments: "".join(f"/{segment}" for segment in segments)
    )
    loopback = st.sampled_from(["localhost", "127.0.0.1", "[::1]"])
    secure = st.builds(lambda h, p, s: f"https://{h}{p}{s}", hosts, _PORTS, paths)
    local = st.builds(lambda h, p, s: f"http://{h}{p}{s}", loopback, _PORTS, paths)
    return st.one_of(secure, local)


def _scope_values() -> st.SearchStrategy[Any]:
    scope = st.from_regex(r"\A[!-~]{1,12}\Z").filter(lambda s: "," not in s)
    lists = st.lists(scope, max_size=4)
    return st.one_of(lists, lists.map(" ".join))


def _plain_text() -> st.SearchStrategy[str]:
    return st.text(max_size=24)


def _is_model(value: object) -> bool:
    return isinstance(value, type) and attrs.has(value)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _type_strategy(type_: Any, where: str, honour: bool) -> st.SearchStrategy[Any]:
    if _hashable(type_) and type_ in _type_strategies:
        return _type_strategies[type_]

    builtin: dict[Any, Callable[[], st.SearchStrategy[Any]]] = {
        Secret: secret_values,
        Url: urls,
        Scopes: _scope_values,
        bool: st.booleans,
        int: lambda: st.integers(-(2**63), 2**63 - 1),
        float: lambda: st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(2**53), 2**53),
        ),
        str: _plain_text,
    }
    if _hashable(type_) and type_ in builtin:
        return builtin[type_]()
    if isinstance(type_, typing.NewType):
        return _type_strategy(type_.__supertype__, where, honour)

    origin, args = get_origin(type_), get_args(type_)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (Union, types.UnionType):
        return st.one_of(
            *[
                st.none() if arg is _NONE_TYPE else _type_strategy(arg, where, honour)
                for arg in args
            ]
        )
    if origin is dict and len(args) == 2:
        keys = _type_strategy(args[0], where, honour)
        return st.dictionaries(keys, _type_strategy(args[1], where, honour), max_size=3)
    if origin in (list, tuple) and args:
        return st.lists(_type_strategy(args[0], where, honour), max_size=3)
    if _is_model(type_):
        return st.deferred(lambda: model_documents(type_, honour_validators=honour))

    raise UnsupportedField(
        f"cannot generate values for {where} of type {type_!r}; register a "
        "strategy for it: authplug.testing.register_strategy(<type>, <strategy>)"
        " or register_strategy(<model>, <strategy>, field=<name>)"
    )


def _passes_field_checks(attribute: attrs.Attribute[Any], raw: object) -> bool:
    """Tell whether ``raw`` survives the field's converter and validator alone."""
    if attribute.type is None:
        return True
    try:
        value = converter.structure(raw, attribute.type)
        if callable(attribute.converter):
            value = attribute.converter(value)
        if attribute.validator is not None:
            attribute.validator(None, attribute, value)
    except (BaseValidationError, ConfigError, TypeError, ValueError):
        return False
    except Exception:
        # A validator that reads other fields of the instance: leave it to
        # the whole-document load.
        return True
    return True


def _honouring(
    base: st.SearchStrategy[Any], attribute: attrs.Attribute[Any]
) -> st.SearchStrategy[Any]:
    @st.composite
    def draw_passing(draw: st.DrawFn) -> Any:
        value = draw(base)
        for _ in range(_ATTEMPTS):
            if _passes_field_checks(attribute, value):
                return value
            value = draw(base)
        # Keep the miss: the generation check counts documents that fail.
        return value

    return draw_passing()


def _example_values(model: type, attribute: attrs.Attribute[Any]) -> list[Any]:
    """Return the values the model's examples and the field's schema give."""
    values: list[Any] = []
    for klass in model.__mro__:
        if attrs.has(klass):
            for example in model_examples(klass):
                if attribute.name in example:
                    values.append(example[attribute.name])
    schema = attribute.metadata.get("json_schema") or {}
    values.extend(schema.get("examples", ()))
    return values


def _with_examples(
    strategy: st.SearchStrategy[Any] | None,
    model: type,
    attribute: attrs.Attribute[Any],
) -> st.SearchStrategy[Any] | None:
    """Mix a field's example values into its strategy, half of the time."""
    values = _example_values(model, attribute)
    if not values:
        return strategy
    examples = st.sampled_from(values).map(copy.deepcopy)
    if strategy is None:
        inner = _without_none(attribute.type)
        where = f"field {model.__name__}.{attribute.name}"
        strategy = _type_strategy(inner, where, honour=True)
    return st.one_of(examples, strategy)


def _declared_strategy(
    attribute: attrs.Attribute[Any], type_: Any
) -> st.SearchStrategy[Any] | None:
    """Return values that meet the field's declared ``json_schema``, if any.

    The schema is what forms enforce, so values drawn from it are the
    values users can enter.
    """
    schema = attribute.metadata.get("json_schema") or {}
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if "const" in schema:
        return st.just(schema["const"])

    if type_ is str and "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if type_ is str and ("minLength" in schema or "maxLength" in schema):
        shortest = int(schema.get("minLength", 0))
        longest = int(schema.get("maxLength", shortest + 24))
        return st.text(min_size=shortest, max_size=longest)
    if type_ in (int, float) and ("minimum" in schema or "maximum" in schema):
        low, high = schema.get("minimum"), schema.get("maximum")
        if type_ is int:
            return st.integers(min_value=low, max_value=high)
        return st.floats(
            min_value=low, max_value=high, allow_nan=False, allow_infinity=False
        )
    return None


def _field_strategy(
    model: type, attribute: attrs.Attribute[Any], honour: bool
) -> st.SearchStrategy[Any]:
    for klass in model.__mro__:
        registered = _field_strategies.get((klass, attribute.name))
        if registered is not None:
            return registered

    where = f"field {model.__name__}.{attribute.name}"
    inner = _without_none(attribute.type)
    optional = inner is not attribute.type
    declared = _with_examples(_declared_strategy(attribute, inner), model, attribute)
    if declared is not None:
        base = st.one_of(st.none(), declared) if optional else declared
    elif optional and _has_default(attribute):
        # Leaving the field out already covers its default; a value is the
        # more telling case, so draw one three times in four.
        value = _type_strategy(inner, where, honour)
        base = st.one_of(value, value, value, st.none())
    else:
        base = _type_strategy(attribute.type, where, honour)

    if honour and (attribute.validator is not None or attribute.converter):
        return _honouring(base, attribute)
    return base


def _init_fields(model: type) -> list[attrs.Attribute[Any]]:
    attrs.resolve_types(model)
    return [attribute for attribute in attrs.fields(model) if attribute.init]


def _has_default(attribute: attrs.Attribute[Any]) -> bool:
    return attribute.default is not attrs.NOTHING


def _requires_fields(model: type) -> bool:
    return any(not _has_default(attribute) for attribute in _init_fields(model))


def model_examples(model: type) -> list[dict[str, Any]]:
    """Return the model's own examples; a subclass does not inherit them."""
    examples = vars(model).get("__authplug_examples__", ())
    if not isinstance(examples, Sequence) or not all(
        isinstance(example, Mapping) for example in examples
    ):
        raise UnsupportedField(
            f"{model.__name__}.__authplug_examples__ must be a sequence of "
            "mappings, each one document of the model"
        )
    return [dict(example) for example in examples]


def model_documents(
    model: type, *, honour_validators: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Return documents of one attrs model: a mapping of field to value.

    Fields with a default are sometimes left out. The model's own
    ``__authplug_examples__``, if any, are drawn beside generated ones.

    Args:
        model: The attrs class.
        honour_validators: Draw again until a value passes its field's
            validator; off, values follow the type alone.

    Raises:
        UnsupportedField: A field has a type with no strategy.
    """
    registered = _model_strategies.get(model)
    if registered is not None:
        return registered

    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for attribute in _init_fields(model):
        strategy = _field_strategy(model, attribute, honour_validators)
        chosen = optional if _has_default(attribute) else required
        chosen[attribute.name] = strategy
    generated = st.fixed_dictionaries(required, optional=optional)

    examples = model_examples(model)
    if not examples:
        return generated
    return st.one_of(st.sampled_from(examples).map(copy.deepcopy), generated)


def _sides(auth_type: AuthType) -> list[tuple[str, type]]:
    return [("user", auth_type.user_model), ("app", auth_type.app_model)]


def candidate_documents(
    auth_type: AuthType, *, honour_validators: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Return documents shaped like ``auth_type``'s, loadable or not.

    Each field has a value of its type, but rules that span fields are not
    considered, so some candidates do not load.
    """
    sides = [
        (side, model, model_documents(model, honour_validators=honour_validators))
        for side, model in _sides(auth_type)
    ]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if draw(st.booleans()):
            document["type"] = draw(st.sampled_from(auth_type.names))
        if draw(st.booleans()):
            document["auth_id"] = draw(st.text(max_size=16))
        for side, model, strategy in sides:
            if _requires_fields(model) or draw(st.booleans()):
                document[side] = draw(strategy)
        return document

    return build()


def loads(auth_type: AuthType, document: Mapping[str, Any]) -> bool:
    """Tell whether ``document`` loads as ``auth_type``.

    Raises:
        Broken: Loading raised something other than ConfigError.
    """
    return load_error(auth_type, document) is None


def _examples(examples: Sequence[Mapping[str, Any]]) -> st.SearchStrategy[Any]:
    return st.sampled_from([dict(example) for example in examples]).map(copy.deepcopy)


def _path_keys(path: str) -> list[str]:
    return re.sub(r"\[[^\]]*\]", "", path).split(".")


def _field_at(
    auth_type: AuthType, path: str
) -> tuple[type, attrs.Attribute[Any], tuple[str, ...]] | None:
    """Return the model, attribute and document keys a field path names."""
    keys = _path_keys(path)
    model: type | None = dict(_sides(auth_type)).get(keys[0])
    found = None
    for depth, name in enumerate(keys[1:], start=2):
        if model is None:
            break
        attribute = {field.name: field for field in _init_fields(model)}.get(name)
        if attribute is None:
            break
        found = (model, attribute, tuple(keys[:depth]))
        model = _nested_model(_without_none(attribute.type))
    return found


def _redraw(
    draw: Draw, auth_type: AuthType, document: dict[str, Any], path: str
) -> bool:
    target = _field_at(auth_type, path)
    if target is None:
        return False
    model, attribute, keys = target

    registered = next(
        (
            _field_strategies[(klass, attribute.name)]
            for klass in model.__mro__
            if (klass, attribute.name) in _field_strategies
        ),
        None,
    )
    inner = _without_none(attribute.type)
    where = f"field {model.__name__}.{attribute.name}"
    strategy = registered
    if strategy is None:
        declared = _declared_strategy(attribute, inner)
        strategy = _with_examples(declared, model, attribute)
    if strategy is None:
        strategy = _type_strategy(inner, where, True)
    if attribute.validator is not None or attribute.converter:
        strategy = _honouring(strategy, attribute)

    _set(document, keys, draw(strategy))
    return True


def settle(
    draw: Draw, auth_type: AuthType, document: dict[str, Any], rounds: int = 3
) -> ConfigError | None:
    """Make ``document`` load by drawing new values for the fields it blames.

    A rule that spans fields names the field it wants (``app.client_secret:
    is required when client_auth is ...``), so drawing a fresh, non-null
    value for each blamed field settles most candidates in a round or two.
    The document is changed in place.

    Returns:
        None once the document loads, else the last error.

    Raises:
        Broken: Loading raised something other than ConfigError.
    """
    error: ConfigError | None = None
    for _ in range(rounds + 1):
        error = load_error(auth_type, document)
        if error is None:
            return None
        paths = {problem.path for problem in error.errors}
        if not all([_redraw(draw, auth_type, document, path) for path in paths]):
            return error
    return error


def load_error(auth_type: AuthType, document: Mapping[str, Any]) -> ConfigError | None:
    """Return the ConfigError loading ``document`` raises, or None.

    Raises:
        Broken: Loading raised something other than ConfigError.
    """
    try:
        auth_type.load(document)
    except ConfigError as error:
        return error
    except Exception as exc:
        raise Broken(
            f"loading raised {type(exc).__name__} instead of ConfigError: "
            f"{exc}\n  document: {document!r}"
        ) from exc
    return None


def valid_documents(
    auth_type: AuthType, *, examples: Sequence[Mapping[str, Any]] = ()
) -> st.SearchStrategy[dict[str, Any]]:
    """Return documents that load as ``auth_type``.

    A candidate that breaks a rule spanning fields gets new values for the
    fields the error blames (see :func:`settle`); one that still fails is
    drawn again, a few times, before the example is given up.

    Args:
        auth_type: The type whose documents to draw.
        examples: Whole documents to draw beside generated ones.
    """
    candidates = candidate_documents(auth_type)

    @st.composite
    def loadable(draw: st.DrawFn) -> dict[str, Any]:
        for _ in range(_ATTEMPTS):
            document = draw(candidates)
            if settle(draw, auth_type, document) is None:
                return document
        reject()

    if examples:
        return st.one_of(_examples(examples), loadable())
    return loadable()


def _with_live_token(
    auth_type: AuthType, now: float
) -> Callable[[Draw, dict[str, Any]], dict[str, Any]]:
    names = {attribute.name for attribute in _init_fields(auth_type.user_model)}
    holds_token = {"access_token", "expires_at"} <= names

    def give(draw: Draw, document: dict[str, Any]) -> dict[str, Any]:
        if not holds_token:
            return document
        user = dict(document.get("user", {}))
        user["access_token"] = draw(secret_values())
        user["expires_at"] = now + _TEN_YEARS
        if "token_type" in names:
            user["token_type"] = "Bearer"
        return {**document, "user": user}

    return give


def flow_documents(
    auth_type: AuthType,
    *,
    now: float = FIXED_NOW,
    examples: Sequence[Mapping[str, Any]] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """Return documents ready for the flow to apply without a token request.

    A user model with ``access_token`` and ``expires_at`` fields (every
    OAuth2 token model) gets an access token that is valid for ten years
    after ``now``.
    """
    valid = valid_documents(auth_type, examples=examples)
    give = _with_live_token(auth_type, now)

    @st.composite
    def ready(draw: st.DrawFn) -> dict[str, Any]:
        for _ in range(_ATTEMPTS):
            document = give(draw, draw(valid))
            if loads(auth_type, document):
                return document
        reject()

    return ready()


_PARAM_NAMES = st.from_regex(r"\A[a-z][a-z0-9_]{0,7}\Z").filter(
    lambda name: not name.startswith("oauth_")
)
_PARAMS = st.lists(st.tuples(_PARAM_NAMES, st.text(max_size=10)), max_size=3)


def requests(
    base_url: str = "https://api.example.test",
) -> st.SearchStrategy[Request]:
    """Return API requests to apply flows to: any method, query and body."""

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
        segments = draw(st.lists(_SEGMENTS, min_size=1, max_size=3))
        url = base_url + "".join(f"/{segment}" for segment in segments)
        query = draw(_PARAMS)
        if query:
            url += "?" + form_encode(query).decode("ascii")

        headers = {"Accept": "application/json"}
        content = b""
        body = draw(st.sampled_from(["none", "form", "json"]))
        if method != "GET" and body == "form":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = form_encode(draw(_PARAMS))
        elif method != "GET" and body == "json":
            headers["Content-Type"] = "application/json"
            content = b'{"name": "example"}'
        return Request(method=method, url=url, headers=headers, content=content)

    return build()


# Malformed documents: start from one that loads, break exactly one thing.

_WRONG_VALUES: dict[str, Any] = {
    "string": "not the right type",
    "integer": 42,
    "number": 2.5,
    "boolean": True,
    "array": ["item"],
    "object": {"key": "value"},
}

_BAD_URLS = (
    "ftp://files.example.test/",
    "http://api.example.test/plain-http",
    "not a url",
    "https://user:pw@api.example.test/",
    "/relative/path",
    "",
)


def _kind(value: object) -> str:
    kinds: dict[type, str] = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        _NONE_TYPE: "null",
    }
    return kinds.get(type(value), type(value).__name__)


def _accepted_kinds(type_: Any) -> set[str] | None:
    """Return the JSON kinds a field of ``type_`` accepts; None if unknown."""
    simple: dict[Any, set[str]] = {
        str: {"string"},
        Secret: {"string"},
        Url: {"string"},
        Scopes: {"string", "array"},
        int: {"integer"},
        float: {"integer", "number"},
        bool: {"boolean"},
    }
    if _hashable(type_) and type_ in simple:
        return simple[type_]
    if isinstance(type_, typing.NewType):
        return _accepted_kinds(type_.__supertype__)
    if _is_model(type_):
        return {"object"}

    origin, args = get_origin(type_), get_args(type_)
    if origin is Literal:
        return {_kind(choice) for choice in args}
    if origin is dict:
        return {"object"}
    if origin in (list, tuple):
        return {"array"}
    if origin in (Union, types.UnionType):
        kinds: set[str] = set()
        for arg in args:
            if arg is _NONE_TYPE:
                kinds.add("null")
                continue
            inner = _accepted_kinds(arg)
            if inner is None:
                return None
            kinds |= inner
        return kinds
    return None


def _without_none(type_: Any) -> Any:
    if get_origin(type_) in (Union, types.UnionType):
        rest = [arg for arg in get_args(type_) if arg is not _NONE_TYPE]
        if len(rest) == 1:
            return rest[0]
    return type_


def _typos(name: str, taken: set[str]) -> list[str]:
    doubled = [name[: i + 1] + name[i:] for i in range(len(name))]
    swapped = [
        name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        for i in range(len(name) - 1)
        if name[i] != name[i + 1]
    ]
    found = []
    for typo in [*doubled, *swapped]:
        if typo not in taken and typo not in found:
            found.append(typo)
    return found


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = document
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _delete(document: dict[str, Any], path: tuple[str, ...]) -> None:
    node = document
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


Mutation = Callable[[Draw], Malformed]


def _setting(
    base: dict[str, Any], path: tuple[str, ...], value: Any, change: str
) -> Mutation:
    def mutate(draw: Draw) -> Malformed:
        document = copy.deepcopy(base)
        _set(document, path, value)
        return Malformed(document, ".".join(path), change)

    return mutate


def _drawing(
    base: dict[str, Any],
    path: tuple[str, ...],
    values: st.SearchStrategy[Any],
    describe: Callable[[Any], str],
) -> Mutation:
    def mutate(draw: Draw) -> Malformed:
        value = draw(values)
        document = copy.deepcopy(base)
        _set(document, path, value)
        return Malformed(document, ".".join(path), describe(value))

    return mutate


def _deleting(base: dict[str, Any], path: tuple[str, ...]) -> Mutation:
    def mutate(draw: Draw) -> Malformed:
        document = copy.deepcopy(base)
        _delete(document, path)
        where = ".".join(path)
        return Malformed(document, where, f"removed the required field {where}")

    return mutate


def _unknown_field(
    base: dict[str, Any],
    path: tuple[str, ...],
    fields: Sequence[attrs.Attribute[Any]],
) -> Mutation:
    taken = {attribute.name for attribute in fields}

    def mutate(draw: Draw) -> Malformed:
        if not fields:
            typo, value, source = "unexpected_field", "x", None
        else:
            attribute = draw(st.sampled_from(fields))
            typo = draw(st.sampled_from(_typos(attribute.name, taken)))
            secret = _without_none(attribute.type) is Secret
            value = draw(secret_values()) if secret else "x"
            source = attribute.name
        document = copy.deepcopy(base)
        _set(document, (*path, typo), value)
        where = ".".join((*path, typo))
        hint = f" (a typo of {source!r})" if source else ""
        return Malformed(document, where, f"added the unknown field {where}{hint}")

    return mutate


def _field_mutations(
    auth_type: AuthType,
    base: dict[str, Any],
    model: type,
    raw: Mapping[str, Any],
    path: tuple[str, ...],
) -> Iterator[Mutation]:
    fields = _init_fields(model)
    yield _unknown_field(base, path, fields)

    for attribute in fields:
        here = (*path, attribute.name)
        where = ".".join(here)
        type_ = attribute.type
        inner = _without_none(type_)
        present = attribute.name in raw

        if present and not _has_default(attribute):
            yield _deleting(base, here)

        kinds = _accepted_kinds(type_)
        if kinds is not None:
            for kind, value in _WRONG_VALUES.items():
                if kind not in kinds:
                    change = f"set {where} to {value!r} ({kind})"
                    yield _setting(base, here, value, change)

        if inner is Url:
            for url in _BAD_URLS:
                yield _setting(base, here, url, f"set {where} to the bad URL {url!r}")
        if inner is Scopes:
            change = f"set {where} to a list with an empty scope"
            yield _setting(base, here, ["read", ""], change)
        if get_origin(inner) is dict:
            change = f"set {where} to a table with a non-string value"
            yield _setting(base, here, {"key": 1}, change)

        choices = get_args(inner) if get_origin(inner) is Literal else ()
        if choices and all(isinstance(choice, str) for choice in choices):
            wrong = st.sampled_from(choices).map(lambda choice: f"{choice}-typo")
            yield _drawing(base, here, wrong, _not_a_choice(where))

        if inner in (str, Secret) and attribute.validator is not None:
            probe = copy.deepcopy(base)
            _set(probe, here, "")
            if not loads(auth_type, probe):
                yield _setting(base, here, "", f"set {where} to an empty string")

        value = raw.get(attribute.name)
        nested = _nested_model(inner)
        if nested is not None and isinstance(value, Mapping):
            yield from _field_mutations(auth_type, base, nested, value, here)


def _not_a_choice(where: str) -> Callable[[Any], str]:
    return lambda value: f"set {where} to {value!r}, not one of its choices"


def _nested_model(type_: Any) -> type | None:
    return type_ if _is_model(type_) else None


def _document_mutations(
    auth_type: AuthType, base: dict[str, Any]
) -> Iterator[Mutation]:
    taken = set(_DOCUMENT_KEYS)
    for key in _DOCUMENT_KEYS:
        for typo in _typos(key, taken)[:2]:
            change = f"added the unknown key {typo!r} (a typo of {key!r})"
            yield _setting(base, (typo,), {}, change)

    unknown = f"{auth_type.name}-unknown"
    yield _setting(base, ("type",), unknown, f"set type to {unknown!r}")
    yield _setting(base, ("auth_id",), 42, "set auth_id to 42 (integer)")

    for side, model in _sides(auth_type):
        yield _setting(base, (side,), "a string", f"set {side} to a string")
        raw = base.get(side, {})
        yield from _field_mutations(auth_type, base, model, raw, (side,))


def malformed_documents(
    auth_type: AuthType, *, examples: Sequence[Mapping[str, Any]] = ()
) -> st.SearchStrategy[Malformed]:
    """Return documents that must not load, each with the path to blame.

    Each starts from a document that loads and breaks one thing: a value
    of the wrong type, an empty value where a validator forbids it, a
    missing required field, a bad URL, a Literal that is not a choice, or
    an unknown field named as a typo of a real one.
    """
    valid = valid_documents(auth_type, examples=examples)

    @st.composite
    def build(draw: st.DrawFn) -> Malformed:
        base = draw(valid)
        mutations = list(_document_mutations(auth_type, base))
        mutate: Mutation = draw(st.sampled_from(mutations))
        malformed: Malformed = mutate(draw)
        return malformed

    return build()


def every_malformed(
    draw: Draw, auth_type: AuthType, document: dict[str, Any]
) -> list[Malformed]:
    """Return every way :func:`malformed_documents` breaks ``document``.

    Checks use this to try each broken field of a document, rather than
    one drawn at random.
    """
    return [mutate(draw) for mutate in _document_mutations(auth_type, document)]
