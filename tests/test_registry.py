"""The registry: lookups, the default instance, and plugins given as objects."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

import authplug
from authplug import (
    AuthFlow,
    AuthType,
    ConfigError,
    PluginClash,
    PluginError,
    UnknownAuthType,
    hookimpl,
)
from authplug.builtin import basic, none, oauth1, oauth2, token
from authplug.builtin.oauth2 import (
    OAUTH2,
    OAUTH2_CLIENT_CREDENTIALS,
    OAuth2App,
    OAuth2Client,
)
from authplug.builtin.token import TOKEN
from authplug.registry import Registry, build_registry, reset_registry

# authplug.registry is the function; the module is reached through sys.modules.
registry_module = importlib.import_module("authplug.registry")

BUILTINS = {
    "none": none,
    "token": token,
    "basic": basic,
    "oauth2": oauth2,
    "oauth1": oauth1,
}

CLIENT_APP = {
    "client_id": "c",
    "client_secret": "s",
    "token_url": "https://example.com/token",
}


class Provides:
    """A plugin object whose hook returns what it was given."""

    def __init__(self, *records: Any) -> None:
        self.records = list(records)

    @hookimpl
    def authplug_auth_types(self) -> Any:
        return self.records


def builtins_and(**plugins: object) -> Registry:
    return build_registry(entry_points=False, plugins={**BUILTINS, **plugins})


@pytest.fixture
def builtins() -> Registry:
    return builtins_and()


@pytest.fixture
def no_block_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTHPLUG_BLOCK", raising=False)


@pytest.fixture
def fresh_default() -> Iterator[None]:
    reset_registry()
    yield
    reset_registry()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("token", "token"),
        ("TOKEN", "token"),
        ("OAUTH2", "oauth2"),
        ("OAUTH2_PASSWORD", "oauth2.password"),
        ("OAUTH2_CLIENT_CREDENTIALS", "oauth2.client_credentials"),
        ("OAUTH1", "oauth1"),
        ("oauth2.client_credentials", "oauth2.client_credentials"),
        ("none", "none"),
        ("basic", "basic"),
    ],
)
def test_get_by_name_and_tray_tag(builtins: Registry, name: str, expected: str) -> None:
    assert builtins.get(name).name == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Token", "token"),
        ("OAuth2", "oauth2"),
        ("oauth2_password", "oauth2.password"),
        ("Oauth2_Client_Credentials", "oauth2.client_credentials"),
        ("BASIC", "basic"),
        ("OAuth2.Password", "oauth2.password"),
    ],
)
def test_get_tolerates_letter_case(
    builtins: Registry, name: str, expected: str
) -> None:
    assert builtins.get(name).name == expected


def test_an_unknown_name_lists_the_known_ones_and_the_closest(
    builtins: Registry,
) -> None:
    with pytest.raises(UnknownAuthType) as info:
        builtins.get("oauht2")

    error = info.value
    assert error.name == "oauht2"
    assert error.suggestions[0] == "oauth2"
    assert {"token", "TOKEN", "oauth2.password", "OAUTH1"} <= set(error.known)
    assert "did you mean 'oauth2'" in str(error)
    assert "Known types: OAUTH1, OAUTH2," in str(error)
    assert "Install the plugin that provides it" in str(error)


def test_an_unknown_name_with_nothing_close(builtins: Registry) -> None:
    with pytest.raises(UnknownAuthType) as info:
        builtins.get("kerberos")

    assert info.value.suggestions == []
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize("name", [None, 3, ["token"], {"token": 1}])
def test_a_name_that_is_no_string_is_unknown(builtins: Registry, name: Any) -> None:
    with pytest.raises(UnknownAuthType):
        builtins.get(name)
    assert name not in builtins  # never a TypeError for an unhashable name


def test_names_are_the_sorted_canonical_names(builtins: Registry) -> None:
    assert builtins.names() == [
        "basic",
        "none",
        "oauth1",
        "oauth2",
        "oauth2.client_credentials",
        "oauth2.password",
        "token",
    ]
    assert [t.name for t in builtins.types()] == builtins.names()
    assert [t.name for t in builtins] == builtins.names()
    assert len(builtins) == 7
    assert "TOKEN" in builtins
    assert repr(builtins).startswith("Registry(basic, none, oauth1")


def test_records_note_the_plugin_they_came_from(builtins: Registry) -> None:
    password = builtins.get("oauth2.password")

    assert password.plugin == "oauth2"
    assert password.distribution is None  # given in code, not installed


def test_load_picks_the_type_the_document_names(builtins: Registry) -> None:
    credentials = builtins.load({"type": "TOKEN", "user": {"access_token": "t"}})

    assert credentials.type.name == "token"


def test_load_can_be_told_the_type(builtins: Registry) -> None:
    credentials = builtins.load({"user": {"access_token": "t"}}, type="token")

    assert credentials.type is builtins.get("token")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"user": {}}, "type: is required; choose one of: basic, none, oauth1"),
        ({"type": 5}, "type: must be the name of an auth type"),
        ({"type": "tokne"}, "type: unknown auth type 'tokne'; did you mean 'token'"),
    ],
)
def test_load_explains_a_missing_or_unknown_type(
    builtins: Registry, document: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        builtins.load(document, source="c.json")

    assert len(info.value.errors) == 1
    assert str(info.value.errors[0]).startswith(message)
    assert info.value.source == "c.json"


def test_the_default_registry_is_built_once_under_twenty_threads(
    monkeypatch: pytest.MonkeyPatch, fresh_default: None
) -> None:
    real_build = registry_module.build_registry
    builds: list[Registry] = []

    def slow_build(**kwargs: Any) -> Registry:
        time.sleep(0.05)  # widen the window in which a second build could start
        built = real_build(**kwargs)
        builds.append(built)
        return built

    monkeypatch.setattr(registry_module, "build_registry", slow_build)
    start = threading.Barrier(20)
    results: list[Registry] = []

    def call() -> None:
        start.wait()
        results.append(authplug.registry())

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(builds) == 1
    assert len(results) == 20
    assert all(result is builds[0] for result in results)
    assert authplug.registry() is builds[0]


def test_reset_registry_builds_afresh(fresh_default: None) -> None:
    first = authplug.registry()

    reset_registry()

    assert authplug.registry() is not first
    assert authplug.registry() is authplug.registry()


def test_authplug_load_uses_the_default_registry(fresh_default: None) -> None:
    credentials = authplug.load({"type": "token", "user": {"access_token": "t"}})

    assert credentials.type is authplug.registry().get("token")


# --- derived types registered from a plugin object ---------------------------


@attrs.frozen(kw_only=True)
class ShopApp(OAuth2App):
    """An authorization code client of one shop."""

    shop: str = authplug.describe("The shop's subdomain")


@attrs.frozen(kw_only=True)
class TenantClient(OAuth2Client):
    """A client credentials client of one tenant."""

    tenant_id: str = authplug.describe("The tenant the client belongs to")


SHOP = OAUTH2.derive(
    name="shop.oauth2", summary="Shop OAuth2", app_model=ShopApp, aliases=("SHOP",)
)
TENANT = OAUTH2_CLIENT_CREDENTIALS.derive(
    name="tenant.m2m", summary="Tenant M2M", app_model=TenantClient
)


class ShopPlugin:
    """A plugin as a third party writes it: a module-like object."""

    @staticmethod
    @hookimpl
    def authplug_auth_types() -> list[AuthType]:
        return [SHOP, TENANT]


def test_derived_types_register_and_load_from_a_plugin_object() -> None:
    registry = builtins_and(shop=ShopPlugin())
    shop = {
        "type": "SHOP",
        "app": {**CLIENT_APP, "auth_url": "https://a.example/auth", "shop": "acme"},
    }
    tenant = {"type": "tenant.m2m", "app": {**CLIENT_APP, "tenant_id": "t-1"}}

    shop_credentials = registry.load(shop)
    tenant_credentials = registry.load(tenant)

    assert registry.get("shop.oauth2").plugin == "shop"
    assert registry.get("shop.oauth2").parent == "oauth2"
    assert shop_credentials.app.shop == "acme"
    assert shop_credentials.app.client_id == "c"
    assert tenant_credentials.app.tenant_id == "t-1"
    assert registry.load(shop_credentials.dump()) == shop_credentials
    assert registry.load(tenant_credentials.dump()) == tenant_credentials


def test_a_derived_type_reports_its_own_and_its_parent_fields() -> None:
    registry = builtins_and(shop=ShopPlugin())

    with pytest.raises(ConfigError) as info:
        registry.load({"type": "shop.oauth2", "app": {"client_id": 1}})

    assert sorted(e.path for e in info.value.errors) == [
        "app.auth_url",
        "app.client_id",
        "app.client_secret",
        "app.shop",
        "app.token_url",
    ]


def test_a_derived_type_whose_parent_is_missing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_registry(entry_points=False, plugins={"shop": ShopPlugin()})

    assert "'shop.oauth2' derives from 'oauth2', which is not registered" in (
        caplog.text
    )


# --- broken plugin objects ----------------------------------------------------


class Raises:
    @hookimpl
    def authplug_auth_types(self) -> list[AuthType]:
        raise RuntimeError("no config for acme")


class WrongArguments:
    @hookimpl
    def authplug_auth_types(self, registry: object) -> list[AuthType]:
        return []


class UnknownHook:
    @hookimpl
    def authplug_no_such_hooks(self) -> list[object]:
        return []


class NotAFlow:
    pass


BROKEN = {
    "raises": (Raises(), "authplug_auth_types raised RuntimeError('no config"),
    "junk": (Provides({"name": "x"}, "y"), "returned dict, str, not AuthType records"),
    "single": (
        type("Single", (), {"authplug_auth_types": hookimpl(lambda self: TOKEN)})(),
        "returned one AuthType; return a list of AuthType records",
    ),
    "number": (
        type("Number", (), {"authplug_auth_types": hookimpl(lambda self: 3)})(),
        "returned int, which is not iterable",
    ),
    "arguments": (WrongArguments(), "could not be registered"),
    "unknown_hook": (UnknownHook(), "unknown hook 'authplug_no_such_hooks'"),
    "bad_flow": (
        Provides(AuthType(name="bad.flow", summary="s", flow=NotAFlow)),  # type: ignore[arg-type]
        "the flow of 'bad.flow' is not an authplug.AuthFlow subclass",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_plugin_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture, name: str
) -> None:
    plugin, message = BROKEN[name]

    registry = builtins_and(**{name: plugin})

    (problem,) = registry.problems
    assert problem.plugin == name
    assert message in problem.message
    assert f"skipping plugin {name!r}" in caplog.text
    assert message in caplog.text
    assert registry.names() == builtins_and().names()


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_plugin_is_fatal_in_strict_mode(name: str) -> None:
    plugin, message = BROKEN[name]

    with pytest.raises(PluginError) as info:
        build_registry(entry_points=False, strict=True, plugins={name: plugin})

    assert info.value.plugin == name
    assert message in str(info.value)


def test_strict_mode_keeps_the_cause() -> None:
    with pytest.raises(PluginError) as info:
        build_registry(entry_points=False, strict=True, plugins={"r": Raises()})

    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_plugin_returning_nothing_provides_nothing() -> None:
    registry = build_registry(entry_points=False, plugins={"empty": Provides()})

    assert registry.names() == []
    assert registry.problems == ()


def test_a_valid_flow_subclass_is_accepted() -> None:
    class Flow(AuthFlow[Any, Any]):
        pass

    record = AuthType(name="good.flow", summary="s", flow=Flow)
    registry = build_registry(entry_points=False, plugins={"g": Provides(record)})

    assert registry.get("good.flow").flow is Flow


# --- clashes and blocking -----------------------------------------------------


def test_two_plugins_claiming_one_name_clash() -> None:
    first = Provides(AuthType(name="widget", summary="a"))
    second = Provides(AuthType(name="widget", summary="b"))

    with pytest.raises(PluginClash) as info:
        build_registry(entry_points=False, plugins={"w1": first, "w2": second})

    error = info.value
    assert error.name == "widget"
    assert error.plugins == ("plugin 'w1'", "plugin 'w2'")
    assert "'widget' is claimed by both plugin 'w1' and plugin 'w2'" in str(error)
    assert "AUTHPLUG_BLOCK=w1 or AUTHPLUG_BLOCK=w2" in str(error)


def test_an_alias_clashing_with_a_builtin_tag_is_a_clash() -> None:
    thief = Provides(AuthType(name="acme.token", summary="a", aliases=("TOKEN",)))

    with pytest.raises(PluginClash) as info:
        builtins_and(thief=thief)

    assert info.value.name == "TOKEN"
    assert "plugin 'token'" in str(info.value)
    assert "plugin 'thief'" in str(info.value)


def test_one_plugin_naming_two_types_alike_is_told_to_fix_itself() -> None:
    twice = Provides(AuthType(name="x", summary="a"), AuthType(name="x", summary="b"))

    with pytest.raises(PluginClash, match="Each type of plugin 'twice' needs a name"):
        build_registry(entry_points=False, plugins={"twice": twice})


def test_an_alias_equal_to_its_own_name_is_no_clash() -> None:
    record = AuthType(name="acme", summary="s", aliases=("acme", "ACME"))

    registry = build_registry(entry_points=False, plugins={"a": Provides(record)})

    assert registry.get("ACME").name == "acme"


def test_a_plugin_given_in_code_under_a_taken_name_clashes() -> None:
    with pytest.raises(PluginClash) as info:
        build_registry(plugins={"token": Provides()})

    assert "plugin name 'token' is claimed by both" in str(info.value)
    assert "under a name of its own" in str(info.value)


def test_block_leaves_plugins_out(no_block_env: None) -> None:
    registry = build_registry(
        entry_points=False, plugins=dict(BUILTINS), block=["oauth2", "basic"]
    )

    assert registry.names() == ["none", "oauth1", "token"]


def test_block_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTHPLUG_BLOCK", " oauth1 , token,,")

    registry = build_registry(entry_points=False, plugins=dict(BUILTINS))

    assert registry.names() == [
        "basic",
        "none",
        "oauth2",
        "oauth2.client_credentials",
        "oauth2.password",
    ]


def test_blocking_one_side_of_a_clash_resolves_it() -> None:
    first = Provides(AuthType(name="widget", summary="a"))
    second = Provides(AuthType(name="widget", summary="b"))

    registry = build_registry(
        entry_points=False, plugins={"w1": first, "w2": second}, block=["w2"]
    )

    assert registry.get("widget").plugin == "w1"


def test_blocked_plugins_are_logged_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="authplug.registry")

    build_registry(entry_points=False, plugins={"basic": basic}, block=["basic"])

    assert "plugin 'basic' is blocked" in caplog.text
