"""The in-memory token store: the default, private to one process."""

from __future__ import annotations

import threading

from authplug.stores.base import TokenRecord, TokenStore, VersionConflict

__all__ = ["MemoryStore", "default_store"]


class MemoryStore(TokenStore):
    """Keep token records in a dict, for as long as the process lives.

    Every operation takes one short-lived mutex and never waits on I/O, so
    the async methods run inline instead of in a worker thread. The lock
    is the default per-key thread lock: it excludes threads and tasks of
    this process, which is everything that can see this store.

    Example:
        >>> from authplug.stores import MemoryStore, TokenRecord
        >>> store = MemoryStore()
        >>> store.put("k", TokenRecord(access_token="a"), expected_version=0).version
        1
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._records: dict[str, TokenRecord] = {}

    def get(self, key: str) -> TokenRecord | None:
        """Return the record under ``key``, or None."""
        with self._mutex:
            return self._records.get(key)

    def put(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Store ``record`` if the version still matches; see TokenStore."""
        with self._mutex:
            current = self._records.get(key)
            actual = 0 if current is None else current.version
            if expected_version is not None and expected_version != actual:
                raise VersionConflict(key, expected=expected_version, actual=actual)

            stored = record.with_version(actual + 1)
            self._records[key] = stored
            return stored

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._mutex:
            self._records.pop(key, None)

    def keys(self) -> list[str]:
        """Return every key that holds a record, for inspection."""
        with self._mutex:
            return list(self._records)

    async def aget(self, key: str) -> TokenRecord | None:
        """Return the record under ``key``, or None."""
        return self.get(key)

    async def aput(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Store ``record`` if the version still matches."""
        return self.put(key, record, expected_version=expected_version)

    async def adelete(self, key: str) -> None:
        """Forget ``key``."""
        self.delete(key)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._records)} records)"


_default: MemoryStore | None = None
_default_guard = threading.Lock()


def default_store() -> MemoryStore:
    """Return the process-wide store that auth objects share by default.

    Sharing it means two auth objects made from the same credentials see
    one token and refresh it once, instead of each spending (and, with a
    rotating server, revoking) the other's refresh token.
    """
    global _default
    with _default_guard:
        if _default is None:
            _default = MemoryStore()
        return _default
