"""The built-in store types, registered through authplug's own entry points.

Each store is a plugin of its own (``memory-store``, ``sqlite-store``,
``redis-store``), so ``AUTHPLUG_BLOCK`` can leave any of them out, and each
factory imports its store module on first use: building the registry
imports neither :mod:`sqlite3` nor redis-py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from authplug.hookspecs import hookimpl
from authplug.stores.base import StoreError, TokenStore
from authplug.stores.store_type import StoreType

__all__ = ["memory", "redis", "sqlite"]


class _BuiltinStores:
    """A plugin object offering some store types."""

    def __init__(self, make: Callable[[], Sequence[StoreType]]) -> None:
        self._make = make

    @hookimpl
    def authplug_token_stores(self) -> list[StoreType]:
        """Provide this plugin's store types."""
        return list(self._make())


def _open_memory(url: str) -> TokenStore:
    from authplug.stores.memory import default_store

    if url.partition("://")[2].strip("/"):
        raise StoreError(
            "memory:// takes nothing after the scheme: there is one memory "
            "store per process"
        )
    return default_store()


def _open_sqlite(url: str) -> TokenStore:
    from authplug.stores.sqlite import SQLiteStore, path_from_url

    return SQLiteStore(path_from_url(url))


def _open_redis(url: str) -> TokenStore:
    from authplug.stores.redis import RedisStore

    return RedisStore(url)


memory = _BuiltinStores(
    lambda: [
        StoreType(
            scheme="memory",
            factory=_open_memory,
            summary="This process only, gone when it exits (the library default)",
        )
    ]
)

sqlite = _BuiltinStores(
    lambda: [
        StoreType(
            scheme="sqlite",
            factory=_open_sqlite,
            summary="An encrypted SQLite file: one machine, many processes",
        )
    ]
)

_REDIS = "Encrypted records in Redis: many processes and hosts"

redis = _BuiltinStores(
    lambda: [
        StoreType(scheme="redis", factory=_open_redis, summary=_REDIS),
        StoreType(scheme="rediss", factory=_open_redis, summary=_REDIS + ", TLS"),
    ]
)
