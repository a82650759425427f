"""Token stores: where tokens live between requests.

:class:`TokenStore` is the interface (see :mod:`authplug.stores.base` for
its contract); :class:`MemoryStore` keeps tokens in this process and is the
default. Durable stores (an SQLite file, Redis) implement the same
interface; :func:`open_store` opens any store by URL.
"""

from typing import TYPE_CHECKING, Any

from authplug.stores.base import (
    LockTimeout,
    StoreError,
    TokenRecord,
    TokenStore,
    VersionConflict,
)
from authplug.stores.memory import MemoryStore, default_store
from authplug.stores.store_type import StoreType
from authplug.stores.urls import UnknownStoreScheme, default_store_url, open_store

if TYPE_CHECKING:
    from authplug.stores.redis import RedisStore
    from authplug.stores.sqlite import SQLiteStore

__all__ = [
    "LockTimeout",
    "MemoryStore",
    "RedisStore",
    "SQLiteStore",
    "StoreError",
    "StoreType",
    "TokenRecord",
    "TokenStore",
    "UnknownStoreScheme",
    "VersionConflict",
    "default_store",
    "default_store_url",
    "open_store",
]


def __getattr__(name: str) -> Any:
    # The durable stores load on first use: most programs need one at most.
    if name == "SQLiteStore":
        from authplug.stores.sqlite import SQLiteStore

        return SQLiteStore
    if name == "RedisStore":
        from authplug.stores.redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
