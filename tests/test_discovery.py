"""Plugin discovery through real distributions on sys.path.

Each test puts fixture distributions (a dist-info folder with METADATA and
entry_points.txt, and the plugin module) on a temporary path entry, so the
registry finds them through ``importlib.metadata`` exactly as it finds a
pip-installed plugin.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.distributions import MODULE_PREFIX, install

import authplug
from authplug import PluginClash, PluginError, Request
from authplug.discovery import (
    FoundEntryPoint,
    _from_importlib_metadata,
    find_entry_points,
)
from authplug.registry import build_registry, reset_registry

BUILTIN_PLUGINS = ["basic", "none", "oauth1", "oauth2", "token"]
BUILTIN_TYPES = [
    "basic",
    "none",
    "oauth1",
    "oauth2",
    "oauth2.client_credentials",
    "oauth2.password",
    "token",
]

Installer = Callable[..., None]


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installer]:
    """Install fixture distributions onto a fresh entry at the front of sys.path."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("AUTHPLUG_BLOCK", raising=False)

    yield lambda *names: install(site, *names)

    for name in [name for name in sys.modules if name.startswith(MODULE_PREFIX)]:
        del sys.modules[name]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "authplug.registry" and record.levelno == logging.WARNING
    ]


def test_a_third_party_plugin_resolves_with_its_distribution(
    installed: Installer,
) -> None:
    installed("acme")

    registry = build_registry()
    acme = registry.get("acme.key")

    assert registry.get("ACME_KEY") is acme
    assert acme.plugin == "acme"
    assert acme.distribution == "acme-authplug"
    assert acme.version == "1.2.0"
    assert acme.parent == "token"
    assert registry.problems == ()
    assert set(BUILTIN_TYPES) <= set(registry.names())


def test_a_discovered_type_loads_and_applies(installed: Installer) -> None:
    installed("acme")
    registry = build_registry()
    document = {
        "type": "ACME_KEY",
        "user": {"access_token": "ak-1", "workspace": "w"},
        "app": {"header_name": "X-Acme-Key", "prefix": None},
    }
    sent = Request("GET", "https://api.acme.example/v1")

    credentials = registry.load(document)
    credentials.flow().apply(sent)

    assert credentials.user.workspace == "w"
    assert sent.headers == {"X-Acme-Key": "ak-1"}
    assert registry.load(credentials.dump()) == credentials


def test_the_fixture_is_a_real_distribution(installed: Installer) -> None:
    installed("acme", "widget_b")

    found = {ep.name: ep for ep in entry_points(group="authplug")}

    assert found["acme"].value == "authplug_fixture_acme"
    assert found["acme"].dist is not None
    assert found["acme"].dist.metadata["Name"] == "acme-authplug"
    assert found["widget_b"].value == "authplug_fixture_widget_b:PLUGIN"
    assert version("acme-authplug") == "1.2.0"


def test_a_plugin_given_as_module_attribute_is_registered(installed: Installer) -> None:
    installed("widget_b")

    widget = build_registry().get("widget")

    assert widget.plugin == "widget_b"
    assert (widget.distribution, widget.version) == ("widget-b", "2.0.0")


@pytest.mark.parametrize(
    ("fixture", "plugin", "origin", "message"),
    [
        (
            "broken",
            "broken",
            "broken-authplug 0.1.0",
            'failed to import: ModuleNotFoundError("No module named '
            "'authplug_fixture_library_not_installed'\")",
        ),
        (
            "raising",
            "raising",
            "raising-authplug 0.2.0",
            "authplug_auth_types raised RuntimeError('RAISING_PLUGIN_REGION is "
            "not set')",
        ),
        (
            "junk",
            "junk",
            "junk-authplug 0.3.0",
            "authplug_auth_types returned dict, str, not AuthType records",
        ),
    ],
)
def test_a_broken_plugin_is_logged_and_skipped_while_others_work(
    installed: Installer,
    caplog: pytest.LogCaptureFixture,
    fixture: str,
    plugin: str,
    origin: str,
    message: str,
) -> None:
    installed("acme", fixture)

    registry = build_registry()

    assert warnings_of(caplog) == [
        f"skipping plugin {plugin!r} from {origin}: {message}"
    ]
    (problem,) = registry.problems
    assert (problem.plugin, problem.distribution, problem.message) == (
        plugin,
        origin,
        message,
    )
    assert registry.get("acme.key").distribution == "acme-authplug"
    assert set(BUILTIN_TYPES) <= set(registry.names())
    assert plugin not in {t.plugin for t in registry.types()}


@pytest.mark.parametrize("fixture", ["broken", "raising", "junk"])
def test_strict_mode_makes_a_broken_plugin_fatal(
    installed: Installer, fixture: str
) -> None:
    installed("acme", fixture)

    with pytest.raises(PluginError) as info:
        build_registry(strict=True)

    assert info.value.plugin == fixture
    assert f"plugin {fixture!r} from {fixture}-authplug 0." in str(info.value)


def test_strict_mode_keeps_a_healthy_set_of_plugins(installed: Installer) -> None:
    installed("acme", "widget_b")

    registry = build_registry(strict=True)

    assert {"acme.key", "widget"} <= set(registry.names())


@pytest.mark.parametrize(
    "blocked", ["broken", "broken-authplug", "Broken_Authplug", "broken.authplug"]
)
def test_authplug_block_leaves_a_plugin_unimported(
    installed: Installer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    blocked: str,
) -> None:
    installed("acme", "broken", "raising")
    monkeypatch.setenv("AUTHPLUG_BLOCK", f"{blocked}, raising")

    registry = build_registry(strict=True)

    assert registry.problems == ()
    assert warnings_of(caplog) == []
    assert "authplug_fixture_broken" not in sys.modules
    assert "authplug_fixture_raising" not in sys.modules
    assert "acme.key" in registry


def test_block_given_in_code_wins_over_the_environment(
    installed: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("acme")
    monkeypatch.setenv("AUTHPLUG_BLOCK", "acme")

    assert "acme.key" not in build_registry()
    assert "acme.key" in build_registry(block=[])


def test_two_distributions_claiming_one_name_clash(installed: Installer) -> None:
    installed("widget_a", "widget_b")

    with pytest.raises(PluginClash) as info:
        build_registry()

    error = info.value
    assert error.name == "widget"
    assert error.plugins == (
        "plugin 'widget_a' (Widget_A 1.0.0)",
        "plugin 'widget_b' (widget-b 2.0.0)",
    )
    assert str(error) == (
        "auth type name 'widget' is claimed by both plugin 'widget_a' "
        "(Widget_A 1.0.0) and plugin 'widget_b' (widget-b 2.0.0). Uninstall one "
        "of them, or block one by its plugin name with AUTHPLUG_BLOCK=widget_a "
        "or AUTHPLUG_BLOCK=widget_b."
    )


def test_the_clash_is_resolved_as_the_message_says(
    installed: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("widget_a", "widget_b")

    monkeypatch.setenv("AUTHPLUG_BLOCK", "widget_a")
    by_plugin = build_registry()
    monkeypatch.setenv("AUTHPLUG_BLOCK", "widget-a")  # the distribution, normalized
    by_distribution = build_registry()

    assert by_plugin.get("widget").distribution == "widget-b"
    assert by_distribution.get("widget").distribution == "widget-b"


def test_a_clash_is_fatal_even_when_not_strict(installed: Installer) -> None:
    installed("widget_b", "widget_a")

    with pytest.raises(PluginClash):
        build_registry(strict=False)


def test_a_plugin_claiming_a_builtin_tag_clashes_with_it(installed: Installer) -> None:
    installed("tokenish")

    with pytest.raises(PluginClash) as info:
        build_registry()

    builtin = f"plugin 'token' (authplug {version('authplug')})"
    assert info.value.name == "TOKEN"
    assert info.value.plugins == (builtin, "plugin 'tokenish' (tokenish 0.9.0)")


def test_two_distributions_using_one_plugin_name_clash(installed: Installer) -> None:
    installed("acme", "acme_fork")

    with pytest.raises(PluginClash) as info:
        build_registry()

    message = str(info.value)
    assert message.startswith("plugin name 'acme' is claimed by both plugin 'acme'")
    assert "(acme-authplug 1.2.0)" in message
    assert "(acme-fork 3.0.0)" in message
    assert "block one by distribution with AUTHPLUG_BLOCK=" in message


def test_the_builtins_come_through_the_package_entry_points() -> None:
    ours = {
        ep.name: ep
        for ep in entry_points(group="authplug")
        if ep.dist is not None and ep.dist.metadata["Name"] == "authplug"
    }

    # The package registers other plugins (token stores) the same way.
    assert {name: ours[name].value for name in BUILTIN_PLUGINS} == {
        name: f"authplug.builtin.{name}" for name in BUILTIN_PLUGINS
    }


def test_the_builtins_are_recorded_with_the_authplug_distribution() -> None:
    registry = build_registry(block=[])

    for name in BUILTIN_TYPES:
        record = registry.get(name)
        assert record.distribution == "authplug"
        assert record.version == version("authplug")
        assert record.plugin == name.split(".")[0]


def test_without_entry_points_there_are_no_builtins() -> None:
    assert build_registry(entry_points=False).names() == []


def test_blocking_the_authplug_distribution_blocks_every_builtin(
    installed: Installer,
) -> None:
    installed("acme")

    registry = build_registry(block=["authplug"])

    assert not set(BUILTIN_TYPES) & set(registry.names())
    assert "acme.key" in registry
    assert registry.get("acme.key").parent == "token"


def test_the_default_registry_finds_an_installed_plugin(installed: Installer) -> None:
    installed("acme")
    reset_registry()
    try:
        credentials = authplug.load(
            {"type": "acme.key", "user": {"access_token": "k", "workspace": "w"}}
        )
    finally:
        reset_registry()

    assert credentials.type.distribution == "acme-authplug"


# --- finding entry points without importlib.metadata ----------------------------


def described(found: list[FoundEntryPoint]) -> list[tuple[Any, ...]]:
    return [(ep.name, ep.value, ep.distribution, ep.version) for ep in found]


@pytest.mark.parametrize("group", ["authplug", "console_scripts", "pytest11"])
def test_the_scan_finds_what_importlib_metadata_finds(
    installed: Installer, group: str
) -> None:
    installed("acme", "widget_a", "widget_b", "junk")

    assert described(find_entry_points(group)) == described(
        _from_importlib_metadata(group)
    )


def test_a_distribution_found_twice_counts_where_it_is_first_found(
    installed: Installer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed("acme")
    later = tmp_path / "later"
    install(later, "acme")
    metadata = next(later.glob("*.dist-info")) / "METADATA"
    metadata.write_text(metadata.read_text().replace("1.2.0", "9.9.9"))
    monkeypatch.setattr(sys, "path", [*sys.path, str(later)])

    found = [ep for ep in find_entry_points("authplug") if ep.name == "acme"]

    assert described(found) == [
        ("acme", "authplug_fixture_acme", "acme-authplug", "1.2.0")
    ]
    assert described(found) == [
        ep for ep in described(_from_importlib_metadata("authplug")) if ep[0] == "acme"
    ]


def test_a_plugin_in_a_zip_on_the_path_is_found_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scan leaves anything but folders to importlib.metadata.
    unpacked = tmp_path / "unpacked"
    install(unpacked, "acme")
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(unpacked.rglob("*")):
            bundle.write(path, path.relative_to(unpacked).as_posix())
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.delenv("AUTHPLUG_BLOCK", raising=False)

    try:
        registry = build_registry()
        assert registry.get("acme.key").distribution == "acme-authplug"
    finally:
        sys.modules.pop("authplug_fixture_acme", None)


def test_an_entry_point_that_names_no_object_fails_to_load() -> None:
    odd = FoundEntryPoint("odd", "not a module path!", None, None)

    with pytest.raises(ValueError, match="is not 'module' or 'module:object'"):
        odd.load()


def test_building_the_registry_imports_no_flow_and_nothing_heavy() -> None:
    # Flows are named by path and the converter is made on first use, so
    # start-up imports only what registering the types needs.
    heavy = [
        "authplug.lifecycle",
        "authplug.oauth2.flows",
        "authplug_jwt.flows",
        "cattrs",
        "click",
        "cryptography",
        "email",
        "httpx2",
        "importlib.metadata",
        "joserfc",
        "rich",
    ]
    script = (
        "import sys, authplug; authplug.registry().get('oauth2'); "
        f"print([name for name in {heavy!r} if name in sys.modules])"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
