"""The strategies: documents that load, documents that must not, and hooks."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from authplug import AuthType, ConfigError, Request, Secret, build_registry, hookimpl
from authplug.builtin.oauth1 import OAUTH1
from authplug.builtin.oauth2 import OAUTH2, OAUTH2_CLIENT_CREDENTIALS
from authplug.builtin.token import TOKEN
from authplug.fields import check_url, describe
from authplug.testing import (
    ContractViolation,
    check_auth_type,
    find_secrets,
    flow_documents,
    malformed_documents,
    model_documents,
    register_strategy,
    requests,
    secret_values,
    unregister_strategy,
    urls,
    valid_documents,
)
from authplug.testing.strategies import FIXED_NOW, candidate_documents

TYPES = [TOKEN, OAUTH1, OAUTH2, OAUTH2_CLIENT_CREDENTIALS]


@pytest.mark.parametrize("auth_type", TYPES, ids=lambda t: t.name)
@given(data=st.data())
def test_valid_documents_load(auth_type: AuthType, data: st.DataObject) -> None:
    document = data.draw(valid_documents(auth_type))

    credentials = auth_type.load(document)

    assert credentials.type == auth_type


@pytest.mark.parametrize("auth_type", TYPES, ids=lambda t: t.name)
@given(data=st.data())
def test_malformed_documents_do_not_load_and_name_their_path(
    auth_type: AuthType, data: st.DataObject
) -> None:
    document, path, change = data.draw(malformed_documents(auth_type))

    with pytest.raises(ConfigError) as caught:
        auth_type.load(document)

    assert path in change or path.split(".")[-1] in change
    assert any(error.path.startswith(path) for error in caught.value.errors)


@given(document=flow_documents(OAUTH2))
def test_flow_documents_hold_a_token_valid_long_after_the_fixed_clock(
    document: dict[str, Any],
) -> None:
    credentials = OAUTH2.load(document)

    assert credentials.user.access_token is not None
    assert credentials.user.expires_at > FIXED_NOW + 365 * 24 * 3600


@given(value=secret_values())
def test_every_generated_secret_is_found_in_its_escaped_forms(value: str) -> None:
    forms = [value, repr(value), quote(value), repr(value.encode()), f"x={value}&y"]

    for form in forms:
        assert find_secrets(form), form


def test_a_masked_secret_is_not_found() -> None:
    secret = Secret("S3cr3tABCDEFGHIJ")

    assert find_secrets(f"{secret} {secret!r}") == []


@given(url=urls())
def test_generated_urls_pass_the_url_check(url: str) -> None:
    assert check_url(url) == url


@given(request=requests())
def test_generated_requests_are_absolute_and_carry_no_credentials(
    request: Request,
) -> None:
    assert request.url.startswith("https://api.example.test/")
    assert request.header("authorization") is None
    if request.content:
        assert request.header("content-type") is not None


# A model whose values random text never hits: six digits, checked only
# where the whole document is built, so no field validator helps.
@attrs.frozen(kw_only=True)
class PinUser:
    """A six-digit PIN."""

    pin: str = describe("The PIN")

    def __attrs_post_init__(self) -> None:
        if not re.fullmatch(r"[0-9]{6}", self.pin):
            raise ConfigError([attrs_error("pin", "must be six digits")])


def attrs_error(path: str, message: str) -> Any:
    from authplug.errors import FieldError

    return FieldError(path, message)


PIN = AuthType(name="kit.pin", summary="A PIN", user_model=PinUser)


class PinPlugin:
    @hookimpl
    def authplug_auth_types(self) -> list[AuthType]:
        return [PIN]


PIN_REGISTRY = build_registry(plugins={"pin": PinPlugin()}, entry_points=False)


def test_a_field_random_data_cannot_fill_fails_generation_readably() -> None:
    with pytest.raises(ContractViolation) as caught:
        check_auth_type(PIN, registry=PIN_REGISTRY, checks=["generation"])

    report = str(caught.value)
    assert "only 0 of " in report
    assert "user.pin: " in report
    assert "e.g. must be six digits" in report
    assert "register_strategy(Model, strategy, field='name')" in report


def test_a_registered_field_strategy_makes_the_type_pass() -> None:
    register_strategy(PinUser, st.from_regex(r"\A[0-9]{6}\Z"), field="pin")
    try:
        report = check_auth_type(PIN, registry=PIN_REGISTRY, max_examples=20)
    finally:
        unregister_strategy(PinUser, field="pin")

    assert "generation" in report.passed
    assert "round_trip" in report.passed


def test_register_strategy_names_the_fields_when_one_is_wrong() -> None:
    with pytest.raises(ValueError, match="PinUser has no field 'code'; its fields"):
        register_strategy(PinUser, st.just("1"), field="code")


@attrs.frozen(kw_only=True)
class ExampleUser(PinUser):
    """A PIN whose model gives an example document."""

    __authplug_examples__: ClassVar[tuple[dict[str, Any], ...]] = ({"pin": "123456"},)


def test_model_examples_are_drawn_whole_and_fill_the_field() -> None:
    example_type = AuthType(name="kit.example", summary="x", user_model=ExampleUser)

    @settings(max_examples=30, database=None)
    @given(document=valid_documents(example_type))
    def every_document_loads(document: dict[str, Any]) -> None:
        assert example_type.load(document).user.pin == "123456"

    every_document_loads()


@attrs.frozen(kw_only=True)
class SchemaExampleUser:
    """A PIN whose schema lists an example value."""

    pin: str = describe(
        "The PIN",
        metadata={"json_schema": {"pattern": "^[0-9]{6}$", "examples": ["654321"]}},
    )


@given(document=model_documents(SchemaExampleUser))
def test_a_declared_pattern_shapes_every_value(document: dict[str, Any]) -> None:
    assert re.fullmatch("[0-9]{6}", document["pin"])


@attrs.frozen(kw_only=True)
class WhenUser:
    """A model with a field type the kit knows nothing about."""

    when: datetime


def test_a_field_type_with_no_strategy_says_how_to_add_one() -> None:
    when_type = AuthType(name="kit.when", summary="x", user_model=WhenUser)
    registry = build_registry(
        plugins={"when": _plugin_of(when_type)}, entry_points=False
    )

    with pytest.raises(ContractViolation) as caught:
        check_auth_type(when_type, registry=registry, checks=["generation"])

    report = str(caught.value)
    assert "cannot generate values for field WhenUser.when" in report
    assert "datetime" in report
    assert "authplug.testing.register_strategy(<type>, <strategy>)" in report


def test_a_registered_type_strategy_covers_the_field_type() -> None:
    register_strategy(datetime, st.just("2026-01-01"))
    try:
        drawn = model_documents(WhenUser)
    finally:
        unregister_strategy(datetime)

    assert drawn is not None


def _plugin_of(auth_type: AuthType) -> object:
    class Plugin:
        @hookimpl
        def authplug_auth_types(self) -> list[AuthType]:
            return [auth_type]

    return Plugin()


@given(document=candidate_documents(TOKEN, honour_validators=False))
def test_candidates_have_the_shape_of_the_models(document: dict[str, Any]) -> None:
    assert set(document) <= {"type", "auth_id", "user", "app"}
    assert "access_token" in document["user"]
    assert set(document.get("app", {})) <= {
        "location",
        "header_name",
        "prefix",
        "query_param",
    }
