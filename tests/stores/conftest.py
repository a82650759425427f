"""Fixtures for the store tests: keys, private data directories, stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from authplug.stores import RedisStore, SQLiteStore
from authplug.stores.crypto import KEY_ENV, OLD_KEYS_ENV, KeySet, generate_key
from authplug.stores.durable import DurableStore
from authplug.stores.urls import STORE_ENV


@pytest.fixture(autouse=True)
def _private_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    # Never touch the real user's data directory, keys or keyring: tests
    # that want a keyring install one of their own.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in (KEY_ENV, OLD_KEYS_ENV, STORE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def store_key() -> str:
    """Return a fresh store key, as the text a user would set."""
    return generate_key()


@pytest.fixture
def keys(store_key: str) -> KeySet:
    """Return a key set holding only ``store_key``."""
    return KeySet.from_keys(store_key)


@pytest.fixture
def sqlite_store(tmp_path: Path, keys: KeySet) -> Iterator[SQLiteStore]:
    """Return an SQLite store in a fresh file."""
    store = SQLiteStore(tmp_path / "tokens.db", keys=keys)
    yield store
    store.close()


@pytest.fixture
def redis_store(redis_url: str, keys: KeySet) -> Iterator[RedisStore]:
    """Return a Redis store under a prefix of the test's own."""
    store = RedisStore(redis_url, keys=keys)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", "redis"])
def durable_store(request: pytest.FixtureRequest) -> DurableStore:
    """Return each durable store in turn."""
    store: DurableStore = request.getfixturevalue(f"{request.param}_store")
    return store
