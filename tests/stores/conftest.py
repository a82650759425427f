"""Fixtures for the store tests: keys, private data directories, stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.stores.environment import private_store_environment

from authplug.stores import RedisStore, SQLiteStore
from authplug.stores.crypto import KeySet, generate_key
from authplug.stores.durable import DurableStore

__all__ = ["private_store_environment"]


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
