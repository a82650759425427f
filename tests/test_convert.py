"""The strict converter: nothing coerced, every mistake reported with its path."""

from __future__ import annotations

import math
from typing import Literal

import attrs
import pytest

from authplug import ConfigError, FieldError, Scopes, Secret, Url
from authplug.builtin.oauth2 import OAUTH2
from authplug.convert import check_instance, field_values, structure, unstructure
from authplug.fields import scopes_field, url_field
from authplug.secret import MASK


@attrs.frozen(kw_only=True)
class Inner:
    """A nested table."""

    level: int
    label: str = "x"


@attrs.frozen(kw_only=True)
class Sample:
    """One field of every kind the converter knows."""

    name: str
    count: int = 0
    ratio: float = 0.0
    enabled: bool = False
    key: Secret | None = None
    url: Url | None = url_field("A URL", default=None)
    scopes: Scopes = scopes_field()
    mode: Literal["fast", "slow"] = "fast"
    level: Literal[1, 2] = 1
    extra: dict[str, str] = attrs.field(factory=dict)
    numbers: list[int] = attrs.field(factory=list)
    inner: Inner | None = None


def errors_of(data: object, model: type = Sample, path: str = "") -> list[str]:
    with pytest.raises(ConfigError) as info:
        structure(data, model, path)
    return [str(error) for error in info.value.errors]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", 7, "must be a string, got integer"),
        ("name", True, "must be a string, got boolean"),
        ("name", None, "must be a string, got null"),
        ("name", ["a"], "must be a string, got list"),
        ("count", "7", "must be an integer, got string"),
        ("count", True, "must be an integer, got boolean"),
        ("count", 7.0, "must be an integer, got number"),
        ("ratio", True, "must be a number, got boolean"),
        ("ratio", "0.5", "must be a number, got string"),
        ("ratio", math.nan, "must be a finite number"),
        ("ratio", math.inf, "must be a finite number"),
        ("ratio", 10**400, "must be a number within float range"),
        ("enabled", 1, "must be true or false, got integer"),
        ("enabled", "true", "must be true or false, got string"),
        ("enabled", None, "must be true or false, got null"),
        ("key", 12345, "must be a string, got integer"),
        ("key", {"value": "x"}, "must be a string, got table"),
        ("url", 5, "must be a URL string, got integer"),
        ("scopes", 5, "must be a list of scope strings or one space-separated "),
        ("scopes", {"read": True}, "must be a list of scope strings or one "),
        ("mode", "fsat", "must be one of 'fast', 'slow', got 'fsat'; did you mean"),
        ("mode", 1, "must be one of 'fast', 'slow', got integer"),
        ("level", "1", "must be one of 1, 2, got another string"),
        ("level", True, "must be one of 1, 2, got boolean"),
        ("extra", "a=b", "must be a table of strings, got string"),
        ("numbers", "123", "must be a list, got string"),
        ("numbers", {"a": 1}, "must be a list, got table"),
        ("inner", "x", "must be a table of fields"),
    ],
)
def test_nothing_is_coerced(field: str, value: object, message: str) -> None:
    errors = errors_of({"name": "n", field: value})

    assert len(errors) == 1
    assert errors[0].startswith(f"{field}: {message}")


def test_an_int_is_accepted_where_a_number_goes_and_becomes_a_float() -> None:
    # JSON has one number type; 3 and 3.0 are the same number there.
    sample = structure({"name": "n", "ratio": 3}, Sample)

    assert sample.ratio == 3.0
    assert type(sample.ratio) is float


def test_a_string_is_scopes_only_in_the_documented_form() -> None:
    assert structure({"name": "n", "scopes": "a b,c"}, Sample).scopes == (
        "a",
        "b",
        "c",
    )

    with pytest.raises(ConfigError):
        structure({"name": "n", "numbers": "1 2"}, Sample)


def test_unknown_fields_get_a_did_you_mean() -> None:
    assert errors_of({"name": "n", "cuont": 1}) == [
        "cuont: unknown field; did you mean 'count'?"
    ]


def test_unknown_fields_without_a_close_match_list_the_fields() -> None:
    (error,) = errors_of({"name": "n", "zzz": 1})

    assert error.startswith("zzz: unknown field; expected one of: count, enabled")


def test_unknown_fields_of_a_model_without_fields() -> None:
    @attrs.frozen
    class Empty:
        pass

    assert errors_of({"x": 1}, Empty) == [
        "x: unknown field; this model takes no fields"
    ]


def test_every_mistake_is_reported_at_once_with_exact_paths() -> None:
    data = {
        "count": "3",
        "enabled": 1,
        "key": 99,
        "url": "http://example.com/token",
        "scopes": ["read", 2, "a b"],
        "extra": {"ok": "yes", "bad": 1},
        "numbers": [1, "two", 3, None],
        "inner": {"level": "high", "lable": "x"},
        "colour": "red",
    }

    errors = errors_of(data, path="app")

    assert sorted(errors) == sorted(
        [
            "app.name: is required",
            "app.count: must be an integer, got string",
            "app.enabled: must be true or false, got integer",
            "app.key: must be a string, got integer",
            "app.url: must use https, got 'http://example.com/token'",
            "app.scopes[1]: must be a string, got integer",
            "app.scopes[2]: must be one non-empty scope, got 'a b'",
            "app.extra.bad: must be a string, got integer",
            "app.numbers[1]: must be an integer, got string",
            "app.numbers[3]: must be an integer, got null",
            "app.inner.level: must be an integer, got string",
            "app.inner.lable: unknown field; did you mean 'label'?",
            "app.colour: unknown field; expected one of: count, enabled, extra, "
            "inner, key, level, mode, name, numbers, ratio, scopes, url",
        ]
    )


def test_odd_mapping_keys_get_bracketed_paths() -> None:
    errors = errors_of({"name": "n", "extra": {"a.b": 1, 3: "x"}})

    assert sorted(errors) == [
        "extra['a.b']: must be a string, got integer",
        "extra[3]: key must be a string, got integer",
    ]


@pytest.mark.parametrize("data", ["name=n", ["name", "n"], None, 3])
def test_a_document_that_is_no_table(data: object) -> None:
    (error,) = errors_of(data, path="user")

    assert error.startswith("user: must be a table of fields, got ")


def test_a_model_check_raising_a_plain_error_still_gives_a_config_error() -> None:
    @attrs.frozen
    class Picky:
        value: str

        def __attrs_post_init__(self) -> None:
            if self.value == "bad":
                raise ValueError("must not be 'bad'")

    assert errors_of({"value": "bad"}, Picky, path="app") == ["app: must not be 'bad'"]


def test_unstructure_reveals_secrets_for_storage_and_masks_them_for_display() -> None:
    sample = Sample(name="n", key=Secret("k-1"), scopes=("a", "b"))

    stored = unstructure(sample)
    shown = unstructure(sample, reveal_secrets=False)

    assert stored["key"] == "k-1"
    assert stored["scopes"] == ["a", "b"]
    assert shown["key"] == MASK
    assert structure(stored, Sample) == sample


def test_check_instance_wraps_a_plain_string_given_for_a_secret() -> None:
    # attrs checks no types, so this builds, and its repr would show "k-1".
    careless = Sample(name="n", key="k-1")  # type: ignore[arg-type]

    checked = check_instance(careless)

    assert checked.key == Secret("k-1")
    assert "k-1" not in repr(checked)


def test_check_instance_reports_wrong_types_under_the_path() -> None:
    careless = Sample(name=5, inner=Inner(level="x"))  # type: ignore[arg-type]

    with pytest.raises(ConfigError) as info:
        check_instance(careless, "app")

    assert sorted(info.value.errors, key=str) == [
        FieldError("app.inner.level", "must be an integer, got string"),
        FieldError("app.name", "must be a string, got integer"),
    ]


def test_field_values_keeps_secrets_and_nested_models_as_plain_tables() -> None:
    sample = Sample(name="n", key=Secret("k"), inner=Inner(level=2))

    values = field_values(sample)

    assert values["key"] == Secret("k")
    assert values["inner"] == {"level": 2, "label": "x"}
    assert structure(values, Sample) == sample


def test_a_builtin_model_round_trips_through_the_converter() -> None:
    app = structure(
        {
            "client_id": "c",
            "client_secret": "s",
            "token_url": "https://example.com/token",
            "auth_url": "https://example.com/authorize",
            "scopes": "read write",
        },
        OAUTH2.app_model,
    )

    assert structure(unstructure(app), OAUTH2.app_model) == app


@attrs.frozen
class Lists:
    """Collections of several shapes."""

    names: list[str] = attrs.field(factory=list)
    tags: tuple[str, ...] = ()
    pair: tuple[int, str] = (0, "")
    inners: list[Inner] = attrs.field(factory=list)


def test_a_string_is_never_split_into_a_list_of_characters() -> None:
    assert errors_of({"names": "abc", "tags": "de"}, Lists) == [
        "names: must be a list, got string",
        "tags: must be a list, got string",
    ]


def test_collections_keep_their_shape_and_report_items_by_index() -> None:
    loaded = structure({"names": ["a"], "tags": ["b", "c"], "pair": [1, "x"]}, Lists)

    assert loaded == Lists(names=["a"], tags=("b", "c"), pair=(1, "x"))
    assert errors_of({"pair": [1]}, Lists) == ["pair: must be a list of 2 items, got 1"]
    assert errors_of({"inners": [{"level": 1}, {"level": "x"}, {}]}, Lists) == [
        "inners[1].level: must be an integer, got string",
        "inners[2].level: is required",
    ]
