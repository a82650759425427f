"""AuthType records and the credentials they load, create and derive."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from authplug import AuthType, ConfigError, FieldError, NoFields, PluginError, Secret
from authplug.builtin.oauth2 import (
    OAUTH2,
    OAUTH2_CLIENT_CREDENTIALS,
    OAuth2App,
    OAuth2Client,
    OAuth2Token,
)
from authplug.builtin.token import TOKEN, TokenApp, TokenFlow, TokenUser
from authplug.secret import MASK

CLIENT_APP = {
    "client_id": "c",
    "client_secret": "s",
    "token_url": "https://example.com/token",
}


def errors_of(auth_type: AuthType, document: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        auth_type.load(document)  # type: ignore[arg-type]
    return [str(error) for error in info.value.errors]


@pytest.mark.parametrize(
    "name", ["oauth2", "oauth2.client_credentials", "acme-api.key_v2", "a.b.c"]
)
def test_valid_names(name: str) -> None:
    assert AuthType(name=name, summary="s").name == name


@pytest.mark.parametrize(
    "name", ["OAuth2", "oauth2.", ".oauth2", "2fa", "oauth 2", "", "oauth2..x"]
)
def test_names_must_be_lowercase_dotted_words(name: str) -> None:
    with pytest.raises(ValueError, match="lowercase words joined by dots"):
        AuthType(name=name, summary="s")


@pytest.mark.parametrize("alias", ["two words", "", "9LIVES", "A/B"])
def test_aliases_must_be_one_word(alias: str) -> None:
    with pytest.raises(ValueError, match="alias must be one word"):
        AuthType(name="x", summary="s", aliases=(alias,))


def test_aliases_from_any_iterable_become_a_tuple() -> None:
    record = AuthType(name="x", summary="s", aliases=["X", "EX"])

    assert record.aliases == ("X", "EX")
    assert record.names == ("x", "X", "EX")


def test_models_must_be_attrs_classes() -> None:
    class Plain:
        pass

    with pytest.raises(TypeError, match="user_model must be an attrs class"):
        AuthType(name="x", summary="s", user_model=Plain)
    with pytest.raises(TypeError, match="app_model must be an attrs class"):
        AuthType(name="x", summary="s", app_model=dict)


def test_records_are_equal_whatever_the_registry_added() -> None:
    tagged = attrs.evolve(TOKEN, plugin="token", distribution="d", version="1")

    assert tagged == TOKEN


def test_load_takes_the_type_by_name_alias_or_any_case() -> None:
    for declared in ("token", "TOKEN", "Token", "tOkEn"):
        document = {"type": declared, "user": {"access_token": "t"}}

        assert TOKEN.load(document).user == TokenUser(access_token=Secret("t"))


def test_load_refuses_a_document_of_another_type() -> None:
    document = {"type": "basic", "user": {"access_token": "t"}}

    assert errors_of(TOKEN, document) == ["type: is 'basic', but these are 'token'"]


def test_load_refuses_a_type_that_is_no_name() -> None:
    document = {"type": 3, "user": {"access_token": "t"}}

    assert errors_of(TOKEN, document) == [
        "type: must be the name of an auth type, got integer"
    ]


def test_load_suggests_the_document_key_meant() -> None:
    document = {"user": {"access_token": "t"}, "ap": {}, "zzz": 1}

    assert errors_of(TOKEN, document) == [
        "ap: unknown field; did you mean 'app'?",
        "zzz: unknown field; expected type, auth_id, user and app",
    ]


@pytest.mark.parametrize("document", [["user"], "token", None, 3])
def test_load_of_something_that_is_no_table_gives_one_error(document: object) -> None:
    (error,) = errors_of(TOKEN, document)

    assert error.startswith("credentials must be a table, got ")


def test_a_side_without_required_fields_may_be_left_out() -> None:
    credentials = TOKEN.load({"user": {"access_token": "t"}})

    assert credentials.app == TokenApp()


def test_a_side_with_required_fields_may_not() -> None:
    assert errors_of(TOKEN, {"app": {}}) == ["user.access_token: is required"]


def test_auth_id_must_be_a_string() -> None:
    document = {"user": {"access_token": "t"}, "auth_id": 7}

    assert errors_of(TOKEN, document) == ["auth_id: must be a string, got integer"]
    assert TOKEN.load({**document, "auth_id": "a-1"}).auth_id == "a-1"


def test_errors_of_both_sides_and_the_document_come_together() -> None:
    document = {"user": {"access_token": 1}, "app": {"location": "x"}, "auth_id": 2}

    with pytest.raises(ConfigError) as info:
        TOKEN.load(document, source="creds.json")

    assert [e.path for e in info.value.errors] == [
        "user.access_token",
        "app.location",
        "auth_id",
    ]
    assert info.value.source == "creds.json"
    assert str(info.value).startswith("3 problems in creds.json:\n  user.access_token")


def test_dump_writes_what_load_reads_and_masks_on_request() -> None:
    credentials = OAUTH2_CLIENT_CREDENTIALS.load(
        {"app": CLIENT_APP, "user": {"access_token": "at"}, "auth_id": "a"}
    )

    stored = credentials.dump()
    shown = credentials.dump(reveal_secrets=False)

    assert stored["type"] == "oauth2.client_credentials"
    assert stored["auth_id"] == "a"
    assert stored["app"]["client_secret"] == "s"
    assert shown["app"]["client_secret"] == MASK
    assert shown["user"]["access_token"] == MASK
    assert OAUTH2_CLIENT_CREDENTIALS.load(stored) == credentials


def test_credentials_repr_masks_secrets_and_names_the_type() -> None:
    credentials = TOKEN.load({"user": {"access_token": "tok-xyz"}})

    text = repr(credentials)

    assert "tok-xyz" not in text
    assert text.startswith("Credentials(type='token', user=TokenUser(")


def test_create_builds_credentials_from_models() -> None:
    credentials = TOKEN.create(user=TokenUser(access_token=Secret("t")), auth_id="x")

    assert credentials.app == TokenApp()
    assert credentials.auth_id == "x"
    assert credentials == TOKEN.load({"user": {"access_token": "t"}, "auth_id": "x"})


def test_create_wraps_a_plain_string_given_for_a_secret() -> None:
    careless = TokenUser(access_token="tok-plain")  # type: ignore[arg-type]

    credentials = TOKEN.create(user=careless)

    assert credentials.user.access_token == Secret("tok-plain")
    assert "tok-plain" not in repr(credentials)


def test_create_checks_types_as_strictly_as_load() -> None:
    user = TokenUser(access_token=5)  # type: ignore[arg-type]
    app = TokenApp(location="body")  # type: ignore[arg-type]

    with pytest.raises(ConfigError) as info:
        TOKEN.create(user=user, app=app, auth_id=3)  # type: ignore[arg-type]

    assert [str(e) for e in info.value.errors] == [
        "user.access_token: must be a string, got integer",
        "app.location: must be one of 'header', 'query', got another string",
        "auth_id: must be a string, got integer",
    ]


def test_create_refuses_instances_of_other_models() -> None:
    with pytest.raises(ConfigError) as info:
        TOKEN.create(user=NoFields())

    assert info.value.errors == [
        FieldError("user", "must be a TokenUser instance, got NoFields")
    ]


def test_with_user_applies_changes_checked_and_wrapped() -> None:
    credentials = OAUTH2.load(
        {"app": {**CLIENT_APP, "auth_url": "https://example.com/a"}}
    )

    updated = credentials.with_user(
        access_token="at-new", refresh_token=Secret("rt"), expires_at=100, scopes="a b"
    )

    assert updated.user == OAuth2Token(
        access_token=Secret("at-new"),
        refresh_token=Secret("rt"),
        expires_at=100.0,
        scopes=("a", "b"),  # type: ignore[arg-type]
    )
    assert "at-new" not in repr(updated)
    assert updated.app is credentials.app
    assert credentials.user == OAuth2Token()


def test_with_user_reports_bad_changes_under_user() -> None:
    credentials = OAUTH2.load(
        {"app": {**CLIENT_APP, "auth_url": "https://example.com/a"}}
    )

    with pytest.raises(ConfigError) as info:
        credentials.with_user(acess_token="x", expires_at="soon", scopes=[1])

    assert sorted(str(e) for e in info.value.errors) == [
        "user.acess_token: unknown field; did you mean 'access_token'?",
        "user.expires_at: must be a number, got string",
        "user.scopes[0]: must be a string, got integer",
    ]


def test_flow_builds_the_type_flow_with_options() -> None:
    credentials = TOKEN.load({"user": {"access_token": "t"}})

    flow = credentials.flow(clock=lambda: 5.0)

    assert isinstance(flow, TokenFlow)
    assert flow.credentials is credentials
    assert flow.clock() == 5.0


def test_flow_of_a_type_without_one_is_a_config_error() -> None:
    data_only = AuthType(name="data.only", summary="s")

    with pytest.raises(ConfigError, match=r"'data\.only' defines no auth flow"):
        data_only.load({}).flow()


@attrs.frozen(kw_only=True)
class ShopApp(OAuth2App):
    """An authorization code client whose endpoints depend on the shop."""

    shop: str


@attrs.frozen(kw_only=True)
class TenantClient(OAuth2Client):
    """A client credentials client of one tenant."""

    tenant_id: str


def test_derive_inherits_models_and_flow_and_records_the_parent() -> None:
    derived = TOKEN.derive(name="acme.token", summary="Acme", aliases=("ACME",))

    assert derived.user_model is TokenUser
    assert derived.app_model is TokenApp
    assert derived.flow is TokenFlow
    assert derived.parent == "token"
    assert derived.names == ("acme.token", "ACME")


def test_derive_with_a_subclassed_model_adds_a_field() -> None:
    shop = OAUTH2.derive(name="shop.oauth2", summary="Shop", app_model=ShopApp)
    app: dict[str, Any] = {**CLIENT_APP, "auth_url": "https://example.com/a"}

    assert errors_of(shop, {"app": app}) == ["app.shop: is required"]

    credentials = shop.load({"type": "shop.oauth2", "app": {**app, "shop": "acme"}})

    assert credentials.app.shop == "acme"
    assert isinstance(credentials.app, OAuth2App)
    assert shop.load(credentials.dump()) == credentials


def test_a_derived_model_keeps_the_parent_rules() -> None:
    tenant = OAUTH2_CLIENT_CREDENTIALS.derive(
        name="acme.m2m", summary="Acme M2M", app_model=TenantClient
    )
    app = {"client_id": "c", "token_url": "https://e.com/t", "tenant_id": "t1"}

    assert errors_of(tenant, {"app": app}) == [
        "app.client_secret: is required when client_auth is "
        "'client_secret_basic'; set client_auth to 'none' for a public client"
    ]


# --- flows named by path --------------------------------------------------------


class NotAFlow:
    """A class that is no AuthFlow."""


def test_a_flow_given_by_path_is_imported_on_first_use() -> None:
    lazy = AuthType(
        name="lazy.token",
        summary="s",
        user_model=TokenUser,
        app_model=TokenApp,
        flow="authplug.builtin.token:TokenFlow",
    )

    credentials = lazy.load({"user": {"access_token": "t"}})

    assert lazy.flow_spec == "authplug.builtin.token:TokenFlow"
    assert lazy.flow is TokenFlow
    assert isinstance(credentials.flow(), TokenFlow)


def test_a_derived_type_keeps_the_path_unimported() -> None:
    lazy = AuthType(name="lazy.a", summary="s", flow="tests.no_such_module:Flow")

    derived = lazy.derive(name="lazy.b", summary="s")

    assert derived.flow_spec == "tests.no_such_module:Flow"


@pytest.mark.parametrize(
    "path", ["authplug.builtin.token.TokenFlow", "a:b:c", "a b:C", ":Flow", "mod:"]
)
def test_a_flow_path_must_name_a_module_and_a_class(path: str) -> None:
    with pytest.raises(ValueError, match=r"'package\.module:ClassName'"):
        AuthType(name="x", summary="s", flow=path)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests.no_such_module:Flow", "could not be imported: ModuleNotFoundError"),
        ("authplug.builtin.token:NoSuchFlow", "could not be imported: AttributeError"),
        ("tests.test_records:NotAFlow", "not an authplug.AuthFlow subclass"),
    ],
)
def test_a_flow_path_that_does_not_resolve_is_a_plugin_error(
    path: str, problem: str
) -> None:
    broken = attrs.evolve(
        AuthType(name="broken.flow", summary="s", flow=path),
        plugin="broken",
        distribution="broken-dist",
        version="2.0",
    )
    credentials = broken.load({})

    with pytest.raises(PluginError) as info:
        credentials.flow()

    message = str(info.value)
    assert info.value.plugin == "broken"
    assert f"the flow {path!r} of auth type 'broken.flow' (broken-dist 2.0)" in message
    assert problem in message
    assert message.endswith("fix the plugin, or report it to its authors")
