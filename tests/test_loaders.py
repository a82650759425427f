"""The generated loaders: built as ``__init__`` builds, every problem at once."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Literal

import attrs
import pytest
from hypothesis import given
from tests.strategies import documents

import authplug
from authplug import ConfigError, FieldError, Secret
from authplug.builtin.oauth2 import OAuth2App
from authplug.convert import get_converter, structure
from authplug.fields import describe, field_validator

APP = {
    "client_id": "c",
    "client_secret": "s",
    "token_url": "https://example.com/token",
    "auth_url": "https://example.com/authorize",
}


def errors_of(data: object, model: type) -> list[str]:
    with pytest.raises(ConfigError) as info:
        structure(data, model, "app")
    return [str(error) for error in info.value.errors]


def rebuilt(instance: Any) -> Any:
    """Build ``instance`` again through its class's own ``__init__``."""
    model = type(instance)
    return model(
        **{
            field.alias: getattr(instance, field.name)
            for field in attrs.fields(model)
            if field.init
        }
    )


def _hash_of(instance: Any) -> int | None:
    try:
        return hash(instance)
    except TypeError:  # a field holds a list
        return None


def assert_same(loaded: Any, built: Any) -> None:
    assert type(loaded) is type(built)
    assert loaded == built
    assert _hash_of(loaded) == _hash_of(built)
    assert repr(loaded) == repr(built)
    assert attrs.asdict(loaded) == attrs.asdict(built)


@given(document=documents())
def test_a_loaded_model_is_what_its_init_builds(document: dict[str, Any]) -> None:
    credentials = authplug.load(document)

    for model in (credentials.user, credentials.app):
        assert_same(model, rebuilt(model))


def test_factory_defaults_are_fresh_for_each_load() -> None:
    first = structure(APP, OAuth2App)
    second = structure(APP, OAuth2App)

    assert first.token_params == {}
    assert first.token_params is not second.token_params


def _add_prefix(value: str) -> str:
    return f"v1-{value}"


def _count_calls(value: list[str]) -> int:
    return len(value)


@attrs.frozen(kw_only=True)
class Converted:
    """Converters, defaults and fields that take no argument."""

    region: str = attrs.field(default="eu", converter=_add_prefix)
    zone: str = attrs.field(converter=_add_prefix)
    tags: list[str] = attrs.field(factory=list)
    size: int = attrs.field(init=False, default=3)
    label: str = attrs.field(init=False, default="x", converter=_add_prefix)
    notes: list[str] = attrs.field(init=False, factory=list)


def test_converters_run_on_given_values_and_defaults_as_in_init() -> None:
    loaded = structure({"zone": "a"}, Converted)

    assert loaded.region == "v1-eu"
    assert loaded.zone == "v1-a"
    assert loaded.label == "v1-x"
    assert loaded.size == 3
    assert_same(loaded, Converted(zone="a"))


def test_fields_that_take_no_argument_are_not_keys() -> None:
    assert errors_of({"zone": "a", "size": 4}, Converted) == [
        "app.size: unknown field; expected one of: region, tags, zone"
    ]


@attrs.define(kw_only=True, slots=False)
class Mutable:
    """Not frozen, no slots: built by calling the class."""

    name: str
    count: int = 0


@attrs.frozen(kw_only=True, cache_hash=True)
class CachedHash:
    """A cached hash: built by calling the class."""

    name: str


@attrs.frozen(kw_only=True, slots=False)
class Unslotted:
    """Frozen, with an instance dict."""

    name: str
    tags: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class SelfDefault:
    """A default that reads another field."""

    name: str
    title: str = attrs.field(
        default=attrs.Factory(lambda self: self.name.title(), takes_self=True)
    )


pre_inits: list[type] = []


@attrs.frozen(kw_only=True)
class PreInit:
    """A hook that runs before the fields are set."""

    name: str

    def __attrs_pre_init__(self) -> None:
        pre_inits.append(type(self))


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Mutable, {"name": "n", "count": 2}),
        (CachedHash, {"name": "n"}),
        (Unslotted, {"name": "n", "tags": ["a"]}),
        (SelfDefault, {"name": "ada"}),
        (PreInit, {"name": "n"}),
    ],
)
def test_every_kind_of_attrs_class_loads_as_its_init_builds(
    model: type, data: dict[str, Any]
) -> None:
    loaded = structure(data, model)

    assert_same(loaded, rebuilt(loaded))
    assert errors_of({**data, "name": 1}, model) == [
        "app.name: must be a string, got integer"
    ]


def test_a_default_that_takes_self_sees_the_given_fields() -> None:
    assert structure({"name": "ada"}, SelfDefault).title == "Ada"


def test_a_pre_init_hook_runs_on_load() -> None:
    pre_inits.clear()

    structure({"name": "n"}, PreInit)

    assert pre_inits == [PreInit]


@field_validator
def _no_spaces(value: str) -> None:
    if " " in value:
        raise ValueError("must not contain spaces")


@attrs.frozen(kw_only=True)
class Shop:
    """Validators on two fields and a rule across them."""

    shop: str = describe("The shop", validator=_no_spaces)
    region: str = describe("The region", validator=_no_spaces)
    plan: Literal["free", "paid"] = "free"
    seats: int = 1

    def __attrs_post_init__(self) -> None:
        if self.plan == "free" and self.seats > 1:
            raise ConfigError([FieldError("seats", "must be 1 on the free plan")])


def test_every_validator_reports_at_once() -> None:
    assert errors_of({"shop": "a b", "region": "e u"}, Shop) == [
        "app.shop: must not contain spaces",
        "app.region: must not contain spaces",
    ]


def test_a_rule_across_fields_reports_with_a_bad_field_it_does_not_read() -> None:
    data = {"shop": 5, "region": "eu", "seats": 3}

    assert errors_of(data, Shop) == [
        "app.shop: must be a string, got integer",
        "app.seats: must be 1 on the free plan",
    ]


def test_a_rule_across_fields_is_silent_about_a_bad_field_it_reads() -> None:
    # With the plan unknown, nothing can be said about the seats.
    data = {"shop": "s", "region": "eu", "plan": "pro", "seats": 3}

    assert errors_of(data, Shop) == [
        "app.plan: must be one of 'free', 'paid', got another string"
    ]


def test_a_field_whose_validator_failed_is_not_read_by_the_rule() -> None:
    @field_validator
    def _known_plan(value: str) -> None:
        if value not in ("free", "paid"):
            raise ValueError("must be free or paid")

    @attrs.frozen(kw_only=True)
    class Plan:
        plan: str = describe("The plan", validator=_known_plan)
        seats: int = 1

        def __attrs_post_init__(self) -> None:
            if self.plan != "paid" and self.seats > 1:
                raise ConfigError([FieldError("seats", "needs the paid plan")])

    assert errors_of({"plan": "gold", "seats": 3}, Plan) == [
        "app.plan: must be free or paid"
    ]


def test_an_unknown_key_and_the_rule_it_breaks_come_together() -> None:
    data = {**APP, "client_secert": "s"}
    del data["client_secret"]

    assert errors_of(data, OAuth2App) == [
        "app.client_secert: unknown field; did you mean 'client_secret'?",
        "app.client_secret: is required when client_auth is "
        "'client_secret_basic'; set client_auth to 'none' for a public client",
    ]


def test_a_bad_client_auth_gives_no_claim_about_the_secret() -> None:
    data = {**APP, "client_auth": "secret_jwt"}
    del data["client_secret"]

    assert errors_of(data, OAuth2App) == [
        "app.client_auth: must be one of 'client_secret_basic', "
        "'client_secret_post', 'none', got another string"
    ]


def test_a_rule_raising_a_plain_error_blames_the_model() -> None:
    @attrs.frozen
    class Picky:
        value: str
        other: int = 0

        def __attrs_post_init__(self) -> None:
            if self.value == "bad":
                raise ValueError("must not be 'bad'")

    assert errors_of({"value": "bad"}, Picky) == ["app: must not be 'bad'"]
    assert errors_of({"value": "bad", "other": "x"}, Picky) == [
        "app.other: must be an integer, got string",
        "app: must not be 'bad'",
    ]


def test_disabled_validators_stay_disabled_when_loading() -> None:
    attrs.validators.set_disabled(True)
    try:
        loaded = structure({"shop": "a b", "region": "eu"}, Shop)
    finally:
        attrs.validators.set_disabled(False)

    assert loaded.shop == "a b"


@attrs.frozen(kw_only=True)
class Node:
    """A model that holds more of itself."""

    name: str
    children: list[Node] = attrs.field(factory=list)
    parent: Node | None = None


def test_a_model_may_contain_itself() -> None:
    data = {"name": "a", "children": [{"name": "b"}, {"name": 3}], "parent": {}}

    assert errors_of(data, Node) == [
        "app.children[1].name: must be a string, got integer",
        "app.parent.name: is required",
    ]
    assert structure({"name": "a", "children": [{"name": "b"}]}, Node) == Node(
        name="a", children=[Node(name="b")]
    )


def test_a_nested_model_given_no_table_says_so() -> None:
    assert errors_of({"name": "a", "parent": ["x"]}, Node) == [
        "app.parent: must be a table of fields, got list"
    ]


@attrs.frozen(kw_only=True)
class Counts:
    """A field type the loaders leave to cattrs."""

    counts: dict[str, int] = attrs.field(factory=dict)
    key: Secret | None = None


def test_types_left_to_cattrs_keep_their_paths() -> None:
    assert errors_of({"counts": {"a": 1, "b": "two"}, "key": 5}, Counts) == [
        "app.counts['b']: must be an integer, got string",
        "app.key: must be a string, got integer",
    ]
    assert structure({"counts": {"a": 1}}, Counts).counts == {"a": 1}


def test_the_converter_and_structure_agree() -> None:
    converter = get_converter()

    assert converter.structure(APP, OAuth2App) == structure(APP, OAuth2App)
    with pytest.raises(ConfigError) as info:
        converter.structure({**APP, "pkce": "yes"}, OAuth2App)
    assert [str(e) for e in info.value.errors] == [
        "pkce: must be true or false, got string"
    ]


def test_loading_credentials_needs_no_cattrs() -> None:
    script = (
        "import sys, authplug; "
        "authplug.load({'type': 'token', 'user': {'access_token': 't'}}); "
        "print('cattrs' in sys.modules)"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "False"
