"""Token stores: where tokens live between requests.

:class:`TokenStore` is the interface (see :mod:`authplug.stores.base` for
its contract); :class:`MemoryStore` keeps tokens in this process and is the
default. Durable stores (an SQLite file, Redis) implement the same
interface; :func:`open_store` opens any store by URL.
"""

from authplug.stores.base import (
    LockTimeout,
    StoreError,
    TokenRecord,
    TokenStore,
    VersionConflict,
)
from authplug.stores.memory import MemoryStore, default_store
from authplug.stores.redis import RedisStore
from authplug.stores.sqlite import SQLiteStore
from authplug.stores.store_type import StoreType
from authplug.stores.urls import UnknownStoreScheme, default_store_url, open_store

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
