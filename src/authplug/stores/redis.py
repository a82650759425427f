"""The Redis token store: tokens shared by many processes on many hosts.

``redis://[[user]:password@]host[:port][/db]`` opens a plain connection,
``rediss://...`` a TLS one. Two options of authplug's own go in the query,
and every other one is passed to redis-py (``socket_timeout=5`` and so on):

- ``prefix``: put before every key (default ``authplug:``), so several
  applications can share one database;
- ``lock_lease``: seconds a renewal lock lives if its holder dies or
  stalls (default 30); make it longer than a token request with retries.

Layout, for a credential key ``K``:

- ``<prefix>token:K``: one string, ``<version>:<expires_at>:<sealed record>``.
  Reading a valid token is that one ``GET``; writing is one Lua script
  that compares the version and sets the new value atomically.
- ``<prefix>lock:K``: the renewal lock, a redis-py :class:`~redis.lock.Lock`
  (``SET NX PX`` with a random token, released by a Lua script that checks
  the token). It expires after ``lock_lease`` seconds, so a holder that
  died holds nobody up for longer; if it was only slow, the version check
  on write catches the race.
- ``<prefix>credentials``: a hash of saved credentials by name.

Secrets are sealed as in the SQLite store (:mod:`authplug.stores.crypto`);
the version and expiry time are in the clear, so ``authplug list`` needs
no key. The async methods use ``redis.asyncio``, one client per event loop;
call :meth:`RedisStore.aclose` in a loop that used them before it ends.
Redis Cluster is not supported: saved credentials and their token records
are touched together.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authplug.errors import MissingDependency
from authplug.stores.base import (
    LockTimeout,
    StoreError,
    TokenRecord,
    VersionConflict,
)
from authplug.stores.crypto import KeySet, KeySource
from authplug.stores.durable import (
    DurableStore,
    RecordCodec,
    RotationReport,
    SavedEntry,
    check_name,
    credentials_context,
    dump_document,
    parse_document,
    reseal_value,
    token_context,
)
from authplug.stores.urls import redact_url

if TYPE_CHECKING:
    import asyncio

    from authplug.records import Credentials

__all__ = ["RedisStore"]

logger = logging.getLogger(__name__)

DEFAULT_PREFIX = "authplug:"
DEFAULT_LOCK_LEASE = 30.0
_LOCK_POLL = 0.01
_CLIENT_DEFAULTS = {"socket_timeout": "10", "socket_connect_timeout": "5"}

# Compare the stored version with ARGV[1] ('' = any) and write
# "<version + 1>:<ARGV[2]>", ARGV[2] being "<expires_at>:<sealed>".
# Returns {1, new version} or {0, version found}.
_PUT_SCRIPT = """
local current = redis.call('GET', KEYS[1])
local version = 0
if current then
  version = tonumber(string.match(current, '^(%d+):')) or 0
end
if ARGV[1] ~= '' and tonumber(ARGV[1]) ~= version then
  return {0, version}
end
redis.call('SET', KEYS[1], (version + 1) .. ':' .. ARGV[2])
return {1, version + 1}
"""

# Replace KEYS[1] with ARGV[2] only if it still holds ARGV[1].
_SWAP_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

# Replace field ARGV[1] of hash KEYS[1] with ARGV[3] only if it holds ARGV[2].
_HASH_SWAP_SCRIPT = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
"""


def _redis_module() -> Any:
    try:
        import redis
        import redis.asyncio
        import redis.asyncio.lock
        import redis.lock
    except ImportError as err:
        raise MissingDependency("the Redis token store", "redis") from err
    return redis


def _parse_options(url: str) -> tuple[str, str, float]:
    """Split authplug's own options off ``url``: (client URL, prefix, lease)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {name: value for name, value in query if name in ("prefix", "lock_lease")}
    rest = [(name, value) for name, value in query if name not in ours]

    prefix = ours.get("prefix", DEFAULT_PREFIX)
    raw_lease = ours.get("lock_lease", str(DEFAULT_LOCK_LEASE))
    try:
        lease = float(raw_lease)
    except ValueError:
        lease = math.nan
    if not math.isfinite(lease) or lease <= 0:
        raise StoreError(
            f"lock_lease in the Redis store URL must be a number of seconds "
            f"> 0, got {raw_lease!r}"
        )

    present = {name for name, _ in rest}
    if "decode_responses" in present:
        raise StoreError(
            "the Redis token store reads raw bytes: remove decode_responses "
            "from its URL"
        )
    rest.extend(
        (name, value) for name, value in _CLIENT_DEFAULTS.items() if name not in present
    )
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    return client_url, prefix, lease


def _escape_glob(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _envelope(expires_at: float | None, sealed: bytes) -> bytes:
    expires = "" if expires_at is None else repr(float(expires_at))
    return expires.encode("ascii") + b":" + sealed


def _split_value(raw: bytes) -> tuple[int, float | None, bytes] | None:
    """Return (version, expires_at, sealed) from a stored value, or None."""
    parts = raw.split(b":", 2)
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    try:
        expires = float(parts[1]) if parts[1] else None
    except ValueError:
        return None
    return int(parts[0]), expires, parts[2]


def _saved_value(kind: str, token_key: str, sealed: bytes) -> bytes:
    document = {
        "type": kind,
        "token_key": token_key,
        "updated_at": time.time(),
        "sealed": base64.b64encode(sealed).decode("ascii"),
    }
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _parse_saved(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise TypeError(type(value).__name__)
        sealed = base64.b64decode(value["sealed"], validate=True)
        return {
            "type": str(value["type"]),
            "token_key": str(value["token_key"]),
            "updated_at": float(value["updated_at"]),
            "sealed": sealed,
        }
    except (ValueError, TypeError, KeyError) as err:
        raise StoreError(
            f"saved credentials {name!r} in the Redis store are corrupt; "
            "remove them and connect again",
            key=name,
        ) from err


class RedisStore(DurableStore):
    """Keep token records and saved credentials in Redis.

    Args:
        url: A ``redis://`` or ``rediss://`` URL; see the module docstring.
        keys: The store keys, a callable that finds them, or None to find
            them on first use (see :func:`authplug.stores.crypto.load_keys`).
        prefix: Overrides the URL's ``prefix``.
        lock_lease: Overrides the URL's ``lock_lease``.
    """

    def __init__(
        self,
        url: str,
        *,
        keys: KeySet | Callable[[], KeySet] | None = None,
        prefix: str | None = None,
        lock_lease: float | None = None,
    ) -> None:
        redis = _redis_module()
        client_url, url_prefix, url_lease = _parse_options(url)
        self.url = redact_url(url)
        self.prefix = url_prefix if prefix is None else prefix
        self.lock_lease = url_lease if lock_lease is None else lock_lease
        self._client_url = client_url
        self._redis = redis
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError,)
        try:
            self._client = redis.Redis.from_url(client_url)
        except (ValueError, TypeError) as err:
            raise StoreError(
                f"cannot use the Redis store URL {self.url}: {err}"
            ) from err
        self._put = self._client.register_script(_PUT_SCRIPT)
        self._swap = self._client.register_script(_SWAP_SCRIPT)
        self._hash_swap = self._client.register_script(_HASH_SWAP_SCRIPT)
        self._keys = KeySource(keys)
        self._codec = RecordCodec(self._keys, self.url)
        self._async: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Any, Any]
        ] = weakref.WeakKeyDictionary()
        self._async_guard = threading.Lock()

    # -- plumbing ---------------------------------------------------------

    def _token_name(self, key: str) -> str:
        return f"{self.prefix}token:{key}"

    def _lock_name(self, key: str) -> str:
        return f"{self.prefix}lock:{key}"

    @property
    def _saved_name(self) -> str:
        return f"{self.prefix}credentials"

    def _failure(
        self, action: str, err: BaseException, key: str | None = None
    ) -> StoreError:
        reason = type(err).__name__
        if isinstance(err, self._redis.ConnectionError | self._redis.TimeoutError):
            reason = f"{reason}: {err}"
        return StoreError(
            f"could not {action} the Redis token store at {self.url} ({reason}); "
            "check that Redis is running and the URL is right",
            key=key,
        )

    @contextmanager
    def _calls(self, action: str, key: str | None = None) -> Iterator[None]:
        try:
            yield
        except self._errors as err:
            raise self._failure(action, err, key) from err

    def _async_client(self) -> tuple[Any, Any]:
        import asyncio

        loop = asyncio.get_running_loop()
        with self._async_guard:
            found = self._async.get(loop)
            if found is None:
                client = self._redis.asyncio.Redis.from_url(self._client_url)
                found = (client, client.register_script(_PUT_SCRIPT))
                self._async[loop] = found
            return found

    def _decode(self, key: str, raw: bytes | None) -> TokenRecord | None:
        if raw is None:
            return None
        parts = _split_value(raw)
        if parts is None:
            raise StoreError(
                f"token record {key!r} in {self.url} is corrupt (no version); "
                "delete it and renew the token",
                key=key,
            )
        version, _, sealed = parts
        return self._codec.open(key, version, sealed)

    def _stored(
        self,
        key: str,
        record: TokenRecord,
        sealed: bytes,
        result: Any,
        expected: int | None,
    ) -> TokenRecord:
        written, version = int(result[0]), int(result[1])
        if not written:
            raise VersionConflict(key, expected=expected or 0, actual=version)
        stored = record.with_version(version)
        self._codec.remember(key, version, sealed, stored)
        return stored

    # -- tokens -----------------------------------------------------------

    def get(self, key: str) -> TokenRecord | None:
        """Return the record under ``key``: one ``GET``."""
        with self._calls("read", key):
            raw = self._client.get(self._token_name(key))
        return self._decode(key, raw)

    def put(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Store ``record`` if the version still matches; see TokenStore."""
        sealed = self._codec.seal(key, record)
        expected = "" if expected_version is None else str(expected_version)
        with self._calls("write", key):
            result = self._put(
                keys=[self._token_name(key)],
                args=[expected, _envelope(record.expires_at, sealed)],
            )
        return self._stored(key, record, sealed, result, expected_version)

    def delete(self, key: str) -> None:
        """Forget the record under ``key``."""
        with self._calls("delete from", key):
            self._client.delete(self._token_name(key))
        self._codec.forget(key)

    def keys(self) -> list[str]:
        """Return every key that holds a token record, sorted."""
        start = f"{self.prefix}token:"
        pattern = _escape_glob(start) + "*"
        with self._calls("list"):
            names = list(self._client.scan_iter(match=pattern, count=500))
        return sorted(name.decode("utf-8")[len(start) :] for name in names)

    async def aget(self, key: str) -> TokenRecord | None:
        """Do :meth:`get` with ``redis.asyncio``."""
        client, _ = self._async_client()
        with self._calls("read", key):
            raw = await client.get(self._token_name(key))
        return self._decode(key, raw)

    async def aput(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Do :meth:`put` with ``redis.asyncio``."""
        client, put = self._async_client()
        sealed = self._codec.seal(key, record)
        expected = "" if expected_version is None else str(expected_version)
        with self._calls("write", key):
            result = await put(
                keys=[self._token_name(key)],
                args=[expected, _envelope(record.expires_at, sealed)],
                client=client,
            )
        return self._stored(key, record, sealed, result, expected_version)

    async def adelete(self, key: str) -> None:
        """Do :meth:`delete` with ``redis.asyncio``."""
        client, _ = self._async_client()
        with self._calls("delete from", key):
            await client.delete(self._token_name(key))
        self._codec.forget(key)

    # -- locks ------------------------------------------------------------

    def _lease_lost(self, key: str) -> None:
        logger.warning(
            "the Redis renewal lock of %r expired before it was released "
            "(lock_lease %g s); raise lock_lease if renewals take this long",
            key,
            self.lock_lease,
        )

    @contextmanager
    def _hold(self, key: str, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        # One thread per process polls Redis; the others wait in-process.
        with self._local_locks.hold(key, timeout):
            lock = self._redis.lock.Lock(
                self._client,
                self._lock_name(key),
                timeout=self.lock_lease,
                sleep=_LOCK_POLL,
                blocking_timeout=max(0.0, deadline - time.monotonic()),
                thread_local=False,
            )
            with self._calls("lock", key):
                acquired = lock.acquire()
            if not acquired:
                raise LockTimeout(key, timeout=timeout)
            try:
                yield
            finally:
                self._release(lock, key)

    def _release(self, lock: Any, key: str) -> None:
        try:
            lock.release()
        except self._redis.exceptions.LockNotOwnedError:
            self._lease_lost(key)
        except self._errors as err:
            logger.warning(
                "could not release the Redis renewal lock of %r (%s); it "
                "expires in at most %g s",
                key,
                type(err).__name__,
                self.lock_lease,
            )

    def lock(self, key: str, *, timeout: float) -> Any:
        """Hold the renewal lock of ``key`` against every user of this Redis.

        Raises:
            LockTimeout: The lock was not free within ``timeout`` seconds.
        """
        return self._hold(key, timeout)

    @asynccontextmanager
    async def _ahold(self, key: str, timeout: float) -> AsyncIterator[None]:
        deadline = time.monotonic() + timeout
        async with self._local_locks.ahold(key, timeout):
            client, _ = self._async_client()
            lock = self._redis.asyncio.lock.Lock(
                client,
                self._lock_name(key),
                timeout=self.lock_lease,
                sleep=_LOCK_POLL,
                blocking_timeout=max(0.0, deadline - time.monotonic()),
                thread_local=False,
            )
            with self._calls("lock", key):
                acquired = await lock.acquire()
            if not acquired:
                raise LockTimeout(key, timeout=timeout)
            try:
                yield
            finally:
                try:
                    await lock.release()
                except self._redis.exceptions.LockNotOwnedError:
                    self._lease_lost(key)
                except self._errors as err:
                    logger.warning(
                        "could not release the Redis renewal lock of %r (%s)",
                        key,
                        type(err).__name__,
                    )

    def alock(self, key: str, *, timeout: float) -> Any:
        """Do :meth:`lock` with ``redis.asyncio``."""
        return self._ahold(key, timeout)

    # -- saved credentials ------------------------------------------------

    def save_credentials(
        self, name: str, credentials: Credentials[Any, Any], *, token_key: str
    ) -> None:
        """Save the credentials document under ``name``, replacing any."""
        check_name(name)
        sealed = self._keys.get().seal(
            dump_document(credentials), credentials_context(name)
        )
        value = _saved_value(credentials.type.name, token_key, sealed)
        with self._calls("write", name):
            self._client.hset(self._saved_name, name, value)

    def load_document(self, name: str) -> dict[str, Any] | None:
        """Return the credentials document saved as ``name``, or None."""
        check_name(name)
        with self._calls("read", name):
            raw = self._client.hget(self._saved_name, name)
        if raw is None:
            return None
        saved = _parse_saved(raw, name)
        what = f"saved credentials {name!r} in {self.url}"
        plaintext = self._keys.get().open(
            saved["sealed"], credentials_context(name), what=what, key=name
        )
        return parse_document(plaintext, name=name)

    def entries(self) -> list[SavedEntry]:
        """Return every saved credential, sorted by name, without secrets.

        A corrupt entry is listed with its ``problem``, so that one bad
        value hides none of the others.
        """
        with self._calls("list"):
            saved = self._client.hgetall(self._saved_name)
        readable: dict[str, dict[str, Any]] = {}
        broken: dict[str, StoreError] = {}
        for raw_name, raw in saved.items():
            name = raw_name.decode("utf-8", errors="replace")
            try:
                readable[name] = _parse_saved(raw, name)
            except StoreError as err:
                broken[name] = err
        named = sorted(readable)
        token_names = [self._token_name(readable[name]["token_key"]) for name in named]
        with self._calls("list"):
            values = self._client.mget(token_names) if token_names else []
        tokens = dict(zip(named, values, strict=True))

        entries = [
            SavedEntry(name, "?", "", False, None, 0.0, problem=str(err))
            for name, err in broken.items()
        ]
        for name, item in readable.items():
            raw = tokens[name]
            parts = _split_value(raw) if raw is not None else None
            entries.append(
                SavedEntry(
                    name,
                    item["type"],
                    item["token_key"],
                    raw is not None,
                    parts[1] if parts is not None else None,
                    item["updated_at"],
                )
            )
        return sorted(entries, key=lambda entry: entry.name)

    def remove_credentials(self, name: str) -> bool:
        """Forget the credentials saved as ``name``, and their tokens.

        The token record stays when other saved credentials share it. A
        corrupt entry is removed too (its tokens, if any, cannot be found).
        """
        check_name(name)
        removed: list[str | None] = []

        def token_key_of(raw: bytes, label: str) -> str | None:
            try:
                return str(_parse_saved(raw, label)["token_key"])
            except StoreError:
                return None

        def remove(pipe: Any) -> None:
            removed.clear()
            raw = pipe.hget(self._saved_name, name)
            if raw is None:
                pipe.multi()
                return
            token_key = token_key_of(raw, name)
            others = {
                token_key_of(value, other.decode("utf-8", errors="replace"))
                for other, value in pipe.hgetall(self._saved_name).items()
                if other.decode("utf-8", errors="replace") != name
            }
            pipe.multi()
            pipe.hdel(self._saved_name, name)
            if token_key is not None and token_key not in others:
                pipe.delete(self._token_name(token_key))
            removed.append(token_key)

        with self._calls("delete from", name):
            self._client.transaction(remove, self._saved_name)
        if removed and removed[0] is not None:
            self._codec.forget(removed[0])
        return bool(removed)

    # -- keys -------------------------------------------------------------

    def rotate_key(self) -> RotationReport:
        """Re-encrypt every sealed value with the current key.

        Each value is swapped only if nobody changed it meanwhile (a value
        renewed meanwhile was written with the current key anyway).
        Versions do not change, so running processes are undisturbed.
        """
        keys = self._keys.get()
        resealed = current = 0
        failed: list[str] = []

        for key in self.keys():
            name = self._token_name(key)
            with self._calls("read", key):
                raw = self._client.get(name)
            parts = _split_value(raw) if raw is not None else None
            if parts is None:
                if raw is not None:
                    failed.append(f"token record {key!r} is corrupt (no version)")
                continue
            version, expires_at, sealed = parts
            try:
                new = reseal_value(
                    keys,
                    sealed,
                    token_context(key),
                    what=f"token record {key!r}",
                    key=key,
                )
            except StoreError as err:
                failed.append(str(err))
                continue
            if new is None:
                current += 1
                continue
            replacement = f"{version}:".encode("ascii") + _envelope(expires_at, new)
            with self._calls("write", key):
                swapped = self._swap(keys=[name], args=[raw, replacement])
            resealed += int(bool(swapped))

        with self._calls("read"):
            saved = self._client.hgetall(self._saved_name)
        for raw_name, raw in saved.items():
            label = raw_name.decode("utf-8")
            try:
                item = _parse_saved(raw, label)
                new = reseal_value(
                    keys,
                    item["sealed"],
                    credentials_context(label),
                    what=f"saved credentials {label!r}",
                    key=label,
                )
            except StoreError as err:
                failed.append(str(err))
                continue
            if new is None:
                current += 1
                continue
            replacement = _saved_value(item["type"], item["token_key"], new)
            with self._calls("write", label):
                swapped = self._hash_swap(
                    keys=[self._saved_name], args=[raw_name, raw, replacement]
                )
            resealed += int(bool(swapped))

        return RotationReport(keys.primary_id, resealed, current, tuple(failed))

    def close(self) -> None:
        """Close the sync client's connections."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the async client of the running event loop, if it made one."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._async_guard:
            found = self._async.pop(loop, None)
        if found is not None:
            await found[0].aclose()

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, prefix={self.prefix!r})"
