"""Choosing a store by URL, and store types from plugins."""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from authplug import PluginClash, PluginError, build_registry, hookimpl
from authplug.stores import (
    MemoryStore,
    RedisStore,
    SQLiteStore,
    StoreError,
    StoreType,
    UnknownStoreScheme,
    default_store,
    default_store_url,
    open_store,
)
from authplug.stores.urls import redact_url


def test_the_built_in_schemes_come_from_the_package_entry_points() -> None:
    built = build_registry()

    origins = {
        scheme: (found.plugin, found.distribution)
        for scheme, found in built.store_types.items()
    }

    assert origins == {
        "memory": ("memory-store", "authplug"),
        "sqlite": ("sqlite-store", "authplug"),
        "redis": ("redis-store", "authplug"),
        "rediss": ("redis-store", "authplug"),
    }


def test_memory_is_the_process_store() -> None:
    assert open_store("memory://") is default_store()


def test_memory_takes_no_name() -> None:
    with pytest.raises(StoreError, match="one memory store per process"):
        open_store("memory://other")


def test_sqlite_urls_open_sqlite_stores(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/t.db")

    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "t.db"
    store.close()


def test_the_bare_sqlite_url_opens_the_default_file(tmp_path: Path) -> None:
    store = open_store("sqlite://")

    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "xdg-data" / "authplug" / "tokens.db"
    store.close()


@pytest.mark.parametrize("scheme", ["redis", "rediss", "REDIS"])
def test_redis_urls_open_redis_stores(scheme: str) -> None:
    store = open_store(f"{scheme}://127.0.0.1:6390/2?prefix=x:")

    assert isinstance(store, RedisStore)
    assert store.prefix == "x:"
    store.close()


@pytest.mark.parametrize(
    ("url", "named"),
    [("postgres://db/tokens", "'postgres'"), ("/just/a/path.db", "none")],
)
def test_an_unknown_scheme_lists_the_known_ones(url: str, named: str) -> None:
    with pytest.raises(UnknownStoreScheme) as caught:
        open_store(url)

    message = str(caught.value)
    assert f"unknown token store scheme {named}" in message
    assert "memory, redis, rediss, sqlite" in message
    assert caught.value.known == ["memory", "redis", "rediss", "sqlite"]


def test_an_unknown_scheme_never_shows_the_password() -> None:
    with pytest.raises(UnknownStoreScheme) as caught:
        open_store("mongodb://admin:s3cr3t-pw@db.internal/tokens")

    assert "s3cr3t-pw" not in str(caught.value)


def test_a_store_url_must_be_text() -> None:
    with pytest.raises(StoreError, match="a store URL is a string, got int"):
        open_store(6379)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host:6379/0", "redis://:****@host:6379/0"),
        ("rediss://user:pw@host/1?x=1", "rediss://user:****@host/1?x=1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("sqlite:///t.db", "sqlite:///t.db"),
        ("redis://[::1", "<unreadable URL>"),
    ],
)
def test_passwords_are_masked_in_shown_urls(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_default_url_is_the_environment_or_sqlite() -> None:
    assert default_store_url({}) == "sqlite://"
    assert default_store_url({"AUTHPLUG_STORE": " "}) == "sqlite://"
    assert default_store_url({"AUTHPLUG_STORE": "redis://h/0"}) == "redis://h/0"


# -- store types from plugins -------------------------------------------------


def scratch_plugin(scheme: str = "scratch") -> SimpleNamespace:
    stores: dict[str, MemoryStore] = {}

    def open_scratch(url: str) -> MemoryStore:
        return stores.setdefault(url, MemoryStore())

    @hookimpl
    def authplug_token_stores() -> list[StoreType]:
        return [StoreType(scheme=scheme, factory=open_scratch, summary="Scratch")]

    return SimpleNamespace(authplug_token_stores=authplug_token_stores)


def test_a_plugin_adds_a_scheme() -> None:
    built = build_registry(plugins={"scratch": scratch_plugin()})

    store = open_store("scratch://a", registry=built)

    assert isinstance(store, MemoryStore)
    assert open_store("scratch://a", registry=built) is store
    assert built.store_types["scratch"].plugin == "scratch"
    assert "sqlite" in built.store_types


def test_two_plugins_with_one_scheme_clash() -> None:
    with pytest.raises(PluginClash, match="token store scheme 'scratch'") as caught:
        build_registry(
            plugins={"first": scratch_plugin(), "second": scratch_plugin()},
            entry_points=False,
        )

    assert "AUTHPLUG_BLOCK=first or AUTHPLUG_BLOCK=second" in str(caught.value)


@pytest.mark.parametrize(
    ("returned", "complaint"),
    [
        ("scratch", "returned one str"),
        (42, "which is not iterable"),
        ([{"scheme": "x"}], "returned dict, not StoreType records"),
    ],
)
def test_a_plugin_returning_junk_is_skipped(
    returned: object, complaint: str, caplog: pytest.LogCaptureFixture
) -> None:
    @hookimpl
    def authplug_token_stores() -> object:
        return returned

    plugin = SimpleNamespace(authplug_token_stores=authplug_token_stores)

    with caplog.at_level(logging.WARNING, "authplug.registry"):
        built = build_registry(plugins={"junk": plugin})

    assert complaint in caplog.text
    assert [problem.plugin for problem in built.problems] == ["junk"]
    assert "sqlite" in built.store_types


def test_a_plugin_whose_hook_raises_is_skipped_or_fatal_when_strict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @hookimpl
    def authplug_token_stores() -> list[StoreType]:
        raise RuntimeError("cannot reach vault")

    plugin = SimpleNamespace(authplug_token_stores=authplug_token_stores)

    with caplog.at_level(logging.WARNING, "authplug.registry"):
        built = build_registry(plugins={"vault": plugin})
    with pytest.raises(PluginError, match="cannot reach vault"):
        build_registry(plugins={"vault": plugin}, strict=True)

    assert "authplug_token_stores raised" in caplog.text
    assert "vault" not in built.store_types


def test_a_bad_store_type_record_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="lowercase URL scheme"):
        StoreType(scheme="Bad Scheme", factory=MemoryStore, summary="x")
    with pytest.raises(TypeError, match="must be callable"):
        StoreType(scheme="ok", factory="not callable", summary="x")  # type: ignore[arg-type]


def install_distribution(site: Path, dist: str, version: str, module: str) -> None:
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        f"[authplug]\n{module} = {module}\n", encoding="utf-8"
    )


def test_a_clash_between_distributions_names_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "acme_sqlite.py").write_text(
        textwrap.dedent(
            """
            from authplug import hookimpl
            from authplug.stores import MemoryStore, StoreType

            @hookimpl
            def authplug_token_stores():
                return [StoreType(scheme="sqlite", factory=lambda url: MemoryStore(),
                                  summary="Not really SQLite")]
            """
        ),
        encoding="utf-8",
    )
    install_distribution(tmp_path, "acme-sqlite", "2.0.1", "acme_sqlite")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "acme_sqlite", raising=False)

    with pytest.raises(PluginClash) as caught:
        build_registry()
    blocked = build_registry(block=["acme-sqlite"])

    message = str(caught.value)
    assert "token store scheme 'sqlite'" in message
    assert "acme-sqlite 2.0.1" in message
    assert "authplug 0.1.0" in message
    assert blocked.store_types["sqlite"].distribution == "authplug"
