"""Token stores: where tokens live between requests.

:class:`TokenStore` is the interface (see :mod:`authplug.stores.base` for
its contract); :class:`MemoryStore` keeps tokens in this process and is the
default. Durable stores (an SQLite file, Redis) implement the same
interface.
"""

from authplug.stores.base import (
    LockTimeout,
    StoreError,
    TokenRecord,
    TokenStore,
    VersionConflict,
)
from authplug.stores.memory import MemoryStore, default_store

__all__ = [
    "LockTimeout",
    "MemoryStore",
    "StoreError",
    "TokenRecord",
    "TokenStore",
    "VersionConflict",
    "default_store",
]
