"""The token store interface: what every store keeps, and how it is locked.

A store maps a *credential key* (see :func:`authplug.lifecycle.credential_key`)
to one :class:`TokenRecord`. The token lifecycle is its only caller, and it
uses a store in one pattern::

    with store.lock(key, timeout=30):        # one refresh at a time, per key
        record = store.get(key)               # re-read: someone may have won
        if record is stale:
            new = <token request>
            store.put(key, new, expected_version=record.version)
    # only now is the new access token used

Three promises make that pattern safe across threads, processes and hosts:

- **Versions.** Every record a store returns carries ``version``: 1 for
  the first write of a key, one more on every later write. ``put`` with
  ``expected_version=n`` writes only if the stored version is still ``n``
  (0 means "no record yet") and raises :class:`VersionConflict` otherwise;
  ``expected_version=None`` writes unconditionally.
- **The lock.** ``lock(key, timeout=...)`` is a context manager that
  excludes every other holder of the same key for as long as it is held,
  within the reach of the store: one process for :class:`MemoryStore`,
  every process sharing a database or a Redis server for durable stores.
  It raises :class:`LockTimeout` when it cannot be taken in ``timeout``
  seconds. A store whose lock can expire (a Redis lease) should make the
  lease longer than a token request with its retries; the version check
  above is what still catches a lease that ran out.
- **Async twins.** ``aget``, ``aput``, ``adelete`` and ``alock`` do the
  same without blocking an event loop. The defaults here run the sync
  methods in a worker thread; a store with a native async client (Redis)
  should override all four.

Implementing a store means subclassing :class:`TokenStore` and writing
``get``, ``put`` and ``delete``; override ``lock`` (and ``alock``) when the
store is shared beyond one process, since the default lock here is a
per-key :class:`threading.Lock`. :meth:`TokenRecord.to_data` and
:meth:`TokenRecord.from_data` give the one encoding every durable store
should write, so their files and keys stay interchangeable.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

from authplug.errors import AuthplugError
from authplug.secret import Secret

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "LockTimeout",
    "StoreError",
    "TokenRecord",
    "TokenStore",
    "VersionConflict",
]

logger = logging.getLogger(__name__)


class StoreError(AuthplugError):
    """A token store that failed to read, write or lock.

    Attributes:
        key: The credential key involved, if any.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        self.key = key
        super().__init__(message)


class VersionConflict(StoreError):
    """A write that lost a race: the stored version was not the expected one.

    Attributes:
        expected: The version the writer read.
        actual: The version found in the store (0 when there is none).
    """

    def __init__(self, key: str, *, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"token record {key!r} changed while it was being renewed: "
            f"expected version {expected}, found {actual}; read it again",
            key=key,
        )


class LockTimeout(StoreError):
    """A lock that could not be taken in time.

    Attributes:
        timeout: How long the caller waited, in seconds.
    """

    def __init__(self, key: str, *, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(
            f"timed out after {timeout:g} s waiting for the token lock of "
            f"{key!r}; another process may be stuck renewing it, or raise "
            "lock_timeout",
            key=key,
        )


def _secret_or_none(value: object) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)  # type: ignore[arg-type]


def _to_scopes(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@frozen(kw_only=True)
class TokenRecord:
    """One set of tokens, as a store keeps it.

    Times are seconds since the epoch *on the token server's clock*: the
    lifecycle corrects them with the offset it measures from the server's
    ``Date`` header, so hosts whose clocks disagree still agree on when a
    shared token expires.

    Args:
        access_token: The access token, if one was issued.
        refresh_token: The refresh token, if any; it survives refreshes
            whose response brings no new one.
        expires_at: When the access token expires; None when nobody knows
            (a token a user pasted in without its lifetime).
        issued_at: When the server issued the access token, if known.
        token_type: The token type the server named.
        scopes: The scopes granted.
        version: Set by the store: the record's version (0: never stored).
    """

    access_token: Secret | None = field(default=None, converter=_secret_or_none)
    refresh_token: Secret | None = field(default=None, converter=_secret_or_none)
    expires_at: float | None = None
    issued_at: float | None = None
    token_type: str = "Bearer"
    scopes: tuple[str, ...] = field(default=(), converter=_to_scopes)
    version: int = field(default=0, eq=False)

    def with_version(self, version: int) -> TokenRecord:
        """Return the same tokens marked with ``version``."""
        return attrs.evolve(self, version=version)

    def to_data(self) -> dict[str, Any]:
        """Return the record as JSON-ready data, secrets revealed, no version.

        This is what a durable store writes; keep the data itself as safe
        as the secrets in it.
        """
        return {
            "access_token": _reveal(self.access_token),
            "refresh_token": _reveal(self.refresh_token),
            "expires_at": self.expires_at,
            "issued_at": self.issued_at,
            "token_type": self.token_type,
            "scopes": list(self.scopes),
        }

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, version: int = 0, key: str | None = None
    ) -> TokenRecord:
        """Build a record from :meth:`to_data` output, checking every field.

        Raises:
            StoreError: The data is not a token record; the message names
                the field, never its value.
        """
        where = f"token record {key!r}" if key else "token record"
        if not isinstance(data, Mapping):
            raise StoreError(f"{where} is not a table; the store is corrupt", key=key)

        unknown = sorted(set(data) - _DATA_FIELDS)
        if unknown:
            names = ", ".join(map(str, unknown))
            raise StoreError(f"{where} has unknown fields {names}", key=key)

        for name in ("access_token", "refresh_token"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise StoreError(f"{where}: {name} must be a string", key=key)
        for name in ("expires_at", "issued_at"):
            if not _is_time(data.get(name)):
                raise StoreError(f"{where}: {name} must be a number", key=key)
        token_type = data.get("token_type", "Bearer")
        if not isinstance(token_type, str):
            raise StoreError(f"{where}: token_type must be a string", key=key)
        scopes = data.get("scopes", [])
        if not isinstance(scopes, list | tuple) or not all(
            isinstance(scope, str) for scope in scopes
        ):
            raise StoreError(f"{where}: scopes must be a list of strings", key=key)

        return cls(
            access_token=data.get("access_token"),
            refresh_token=data.get("refresh_token"),
            expires_at=_float_or_none(data.get("expires_at")),
            issued_at=_float_or_none(data.get("issued_at")),
            token_type=token_type,
            scopes=tuple(scopes),
            version=version,
        )


_DATA_FIELDS = frozenset(attrs.fields_dict(TokenRecord)) - {"version"}


def _reveal(value: Secret | None) -> str | None:
    return None if value is None else value.reveal()


def _is_time(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _float_or_none(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


class _LocalLocks:
    """Per-key :class:`threading.Lock` objects, made on first use."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    @contextmanager
    def hold(self, key: str, timeout: float) -> Iterator[None]:
        lock = self._lock_for(key)
        if not lock.acquire(timeout=max(timeout, 0.0)):
            raise LockTimeout(key, timeout=timeout)
        try:
            yield
        finally:
            lock.release()

    @asynccontextmanager
    async def ahold(self, key: str, timeout: float) -> AsyncIterator[None]:
        # Polling keeps the event loop free; the lifecycle lets only one
        # task per key get this far, so the first try nearly always wins.
        import asyncio

        lock = self._lock_for(key)
        deadline = time.monotonic() + timeout
        pause = 0.001
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise LockTimeout(key, timeout=timeout)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            lock.release()


_LOCKS_GUARD = threading.Lock()


class TokenStore(ABC):
    """Where token records live between requests; see the module docstring.

    Subclasses write :meth:`get`, :meth:`put` and :meth:`delete`, and
    :meth:`lock` when they are shared beyond one process. Every method is
    safe to call from many threads at once.
    """

    @property
    def _local_locks(self) -> _LocalLocks:
        # Made on first use, so subclasses need not call __init__ here.
        locks: _LocalLocks | None = self.__dict__.get("_authplug_locks")
        if locks is None:
            with _LOCKS_GUARD:
                locks = self.__dict__.setdefault("_authplug_locks", _LocalLocks())
        return locks

    @abstractmethod
    def get(self, key: str) -> TokenRecord | None:
        """Return the record stored under ``key`` with its version, or None."""

    @abstractmethod
    def put(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Store ``record`` under ``key`` and return it with its new version.

        Args:
            key: The credential key.
            record: The tokens; its own ``version`` is ignored.
            expected_version: The version the caller read (0: none), or
                None to write whatever is there.

        Raises:
            VersionConflict: The stored version is not ``expected_version``.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Forget the record under ``key``; a missing key is no error."""

    def lock(self, key: str, *, timeout: float) -> Any:
        """Return a context manager that holds the renewal lock of ``key``.

        The default excludes other threads of this process only; override
        it for a store that several processes share.

        Raises:
            LockTimeout: The lock was not free within ``timeout`` seconds.
        """
        return self._local_locks.hold(key, timeout)

    async def aget(self, key: str) -> TokenRecord | None:
        """Do :meth:`get` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(self.get, key)

    async def aput(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Do :meth:`put` without blocking the event loop."""
        import asyncio

        return await asyncio.to_thread(
            lambda: self.put(key, record, expected_version=expected_version)
        )

    async def adelete(self, key: str) -> None:
        """Do :meth:`delete` without blocking the event loop."""
        import asyncio

        await asyncio.to_thread(self.delete, key)

    def alock(self, key: str, *, timeout: float) -> Any:
        """Return an async context manager that holds the lock of ``key``.

        The default polls the per-key thread lock when :meth:`lock` is the
        default one, and otherwise enters and leaves the sync lock in a
        worker thread, which suits file and database locks. A lock that
        must be released by the thread that took it (a thread-local Redis
        lock token) needs its own ``alock``.
        """
        if type(self).lock is TokenStore.lock:
            return self._local_locks.ahold(key, timeout)
        return _threaded_lock(self.lock(key, timeout=timeout))


@asynccontextmanager
async def _threaded_lock(manager: Any) -> AsyncIterator[None]:
    import asyncio

    loop = asyncio.get_running_loop()
    entering = loop.run_in_executor(None, manager.__enter__)
    try:
        await asyncio.shield(entering)
    except asyncio.CancelledError:
        # The worker may still take the lock after we stop waiting; give
        # it back as soon as it does, or it stays taken for good.
        def release(done: asyncio.Future[Any]) -> None:
            if not done.cancelled() and done.exception() is None:
                loop.run_in_executor(None, manager.__exit__, None, None, None)

        entering.add_done_callback(release)
        raise

    try:
        yield
    finally:
        await loop.run_in_executor(None, manager.__exit__, None, None, None)
