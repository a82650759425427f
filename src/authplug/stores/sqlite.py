"""The SQLite token store: one file on one machine, shared by its processes.

``sqlite:///path/to/tokens.db`` opens a file; ``sqlite://`` alone opens the
default, ``tokens.db`` in the user's data directory
(``platformdirs.user_data_dir("authplug")``). Relative paths are written
``sqlite://./tokens.db`` and home-relative ones ``sqlite://~/tokens.db``.

How it keeps its promises:

- **Private.** The file is created mode 0600 before SQLite opens it (its
  ``-wal`` and ``-shm`` files inherit that mode), in a directory made 0700.
  Every secret is sealed (see :mod:`authplug.stores.crypto`); only key
  names, versions, types and expiry times are stored in the clear.
- **Atomic.** WAL journal with full sync, every write one transaction,
  compare-and-set as one ``UPDATE ... WHERE version = ?``, so a process
  killed mid-write leaves the old record or the new one, never half.
- **One renewal at a time, machine wide.** ``lock(key)`` takes a per-key
  thread lock, then an exclusive ``flock`` on a per-key file beside the
  database (``tokens.db.locks/``). The kernel drops a ``flock`` when its
  process dies, so a crashed holder never blocks anyone.
- **Cheap reads.** A read is one indexed ``SELECT``; the record is
  decrypted only when its version or bytes changed since the last read.

Limits: the file must be on a local disk (SQLite's WAL and ``flock`` are
not reliable over network file systems), and the lock needs POSIX
``flock`` (Linux, macOS, the BSDs). Many hosts sharing tokens want Redis.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

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

if TYPE_CHECKING:
    from authplug.records import Credentials

__all__ = ["SQLiteStore", "default_path", "path_from_url"]

logger = logging.getLogger(__name__)

DEFAULT_FILE_NAME = "tokens.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    expires_at REAL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    token_key TEXT NOT NULL,
    sealed BLOB NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
"""

_PRIVATE_BITS = stat.S_IRWXG | stat.S_IRWXO


def default_path() -> Path:
    """Return the default database file, in the user's data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("authplug")) / DEFAULT_FILE_NAME


def path_from_url(url: str) -> Path:
    """Return the database file a ``sqlite://`` URL names.

    Raises:
        StoreError: The URL is not a sqlite URL this store understands.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise StoreError(f"not a sqlite URL: it starts with {parts.scheme!r}")
    if parts.query or parts.fragment:
        raise StoreError("sqlite store URLs take no options (nothing after '?')")

    host, path = parts.netloc, unquote(parts.path)
    if not host and not path:
        return default_path()
    if host in ("", ".", "..") and path:
        return Path(host + path) if host else Path(path)
    if host.startswith("~"):
        return Path(host + path).expanduser()
    raise StoreError(
        "a sqlite URL names a file: sqlite:///absolute/path.db, "
        "sqlite://./relative.db, sqlite://~/in-home.db, or sqlite:// for "
        f"the default ({default_path()})"
    )


def _make_private_dir(directory: Path) -> None:
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def _make_private(path: Path) -> None:
    """Warn about, and remove, group and other access to one store file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & _PRIVATE_BITS:
        logger.warning(
            "token store file %s was readable by others (mode %o); made it 0600",
            path,
            stat.S_IMODE(mode),
        )
        os.chmod(path, stat.S_IMODE(mode) & ~_PRIVATE_BITS)


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


class _FileLocks:
    """Per-key ``flock`` locks on files in a private directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made = False

    def _path(self, key: str) -> Path:
        if not self._made:
            _make_private_dir(self.directory)
            self._made = True
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{digest}.lock"

    def _failure(self, key: str, err: OSError) -> StoreError:
        return StoreError(
            f"could not lock the token record {key!r} in {self.directory} "
            f"({err.strerror or type(err).__name__}); the SQLite store needs a "
            "local disk that supports flock",
            key=key,
        )

    def _open(self, key: str) -> int:
        try:
            return os.open(self._path(key), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise self._failure(key, err) from err

    def _try(self, fd: int, key: str) -> bool:
        try:
            import fcntl
        except ImportError as err:
            os.close(fd)
            raise StoreError(
                "the SQLite store's lock needs POSIX flock, which this platform "
                "lacks; use a redis:// store here",
                key=key,
            ) from err

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as err:
            os.close(fd)
            raise self._failure(key, err) from err
        return True

    @staticmethod
    def _release(fd: int) -> None:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @contextmanager
    def hold(self, key: str, deadline: float, timeout: float) -> Iterator[None]:
        fd = self._open(key)
        pause = 0.001
        while not self._try(fd, key):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(key, timeout=timeout)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            self._release(fd)

    @asynccontextmanager
    async def ahold(
        self, key: str, deadline: float, timeout: float
    ) -> AsyncIterator[None]:
        import asyncio

        fd = self._open(key)
        pause = 0.001
        while not self._try(fd, key):
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LockTimeout(key, timeout=timeout)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            self._release(fd)


class SQLiteStore(DurableStore):
    """Keep token records and saved credentials in one SQLite file.

    Args:
        path: The database file; made (mode 0600) if missing. None: the
            default file, see :func:`default_path`.
        keys: The store keys, a callable that finds them, or None to find
            them on first use (see :func:`authplug.stores.crypto.load_keys`).
        busy_timeout: Seconds a write waits for another process's write.

    Example:
        >>> import tempfile, pathlib
        >>> from authplug.stores.crypto import KeySet, generate_key
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> keys = KeySet.from_keys(generate_key())
        >>> record = TokenRecord(access_token="a")
        >>> with SQLiteStore(folder / "t.db", keys=keys) as store:
        ...     stored = store.put("k", record, expected_version=0)
        >>> stored.version
        1
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        keys: KeySet | Callable[[], KeySet] | None = None,
        busy_timeout: float = 10.0,
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        prefix = "" if self.path.is_absolute() else "./"
        self.url = f"sqlite://{prefix}{self.path}"
        self._keys = KeySource(keys)
        self._codec = RecordCodec(self._keys, str(self.path))
        self._mutex = threading.Lock()
        self._locks = _FileLocks(self.path.with_name(self.path.name + ".locks"))
        self._busy_timeout = busy_timeout
        self._db = self._connect(busy_timeout)
        self._pid = os.getpid()
        self._inherited: list[sqlite3.Connection] = []

    # -- opening ----------------------------------------------------------

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        _make_private_dir(self.path.parent)
        try:
            # Made 0600 here, whatever the umask, before SQLite sees it;
            # its -wal and -shm files copy the database file's mode.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise StoreError(
                f"cannot open the token store {self.path}: "
                f"{err.strerror or type(err).__name__}"
            ) from err
        os.close(fd)
        for path in [self.path, *_sidecars(self.path)]:
            _make_private(path)

        try:
            db = sqlite3.connect(
                self.path,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a renewed refresh token survives a power cut, not just
            # a crash. Writes are rare (one per renewal), so it costs little.
            db.execute("PRAGMA synchronous=FULL")
            self._migrate(db)
        except sqlite3.Error as err:
            raise self._failure("open", err) from err
        for path in _sidecars(self.path):
            _make_private(path)
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        if self._schema_version(db) == SCHEMA_VERSION:
            return

        db.execute("BEGIN IMMEDIATE")
        try:
            # Checked again under the write lock: another process may have
            # made the tables meanwhile.
            if self._schema_version(db) < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _schema_version(self, db: sqlite3.Connection) -> int:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the token store {self.path} was made by a newer authplug "
                f"(schema {version}); upgrade authplug to use it"
            )
        return int(version)

    def _failure(
        self, action: str, err: sqlite3.Error, key: str | None = None
    ) -> StoreError:
        return StoreError(
            f"could not {action} the token store {self.path} "
            f"({type(err).__name__}: {err}); check the file, or move it away "
            "to start afresh",
            key=key,
        )

    def _connection(self) -> sqlite3.Connection:
        # A forked child must neither use nor close the parent's connection
        # (SQLite forbids both); it keeps it untouched and opens its own.
        # Called under _mutex.
        if self._pid != os.getpid():
            self._inherited.append(self._db)
            self._db = self._connect(self._busy_timeout)
            self._pid = os.getpid()
        return self._db

    @contextmanager
    def _transaction(
        self, action: str, key: str | None = None
    ) -> Iterator[sqlite3.Cursor]:
        with self._mutex:
            try:
                db = self._connection()
                cursor = db.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.Error as err:
                raise self._failure(action, err, key) from err

    def _query(self, action: str, sql: str, *params: Any) -> list[Any]:
        with self._mutex:
            try:
                return self._connection().execute(sql, params).fetchall()
            except sqlite3.Error as err:
                raise self._failure(action, err) from err

    # -- tokens -----------------------------------------------------------

    def get(self, key: str) -> TokenRecord | None:
        """Return the record under ``key`` with its version, or None."""
        rows = self._query(
            "read", "SELECT version, sealed FROM tokens WHERE key = ?", key
        )
        if not rows:
            return None
        version, sealed = rows[0]
        return self._codec.open(key, version, sealed)

    def put(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        """Store ``record`` if the version still matches; see TokenStore."""
        sealed = self._codec.seal(key, record)
        now = time.time()

        with self._transaction("write", key) as cursor:
            if expected_version is None:
                row = cursor.execute(
                    "SELECT version FROM tokens WHERE key = ?", (key,)
                ).fetchone()
                expected_version = 0 if row is None else row[0]
            if expected_version == 0:
                cursor.execute(
                    "INSERT OR IGNORE INTO tokens VALUES (?, 1, ?, ?, ?)",
                    (key, sealed, record.expires_at, now),
                )
            else:
                cursor.execute(
                    "UPDATE tokens SET version = version + 1, sealed = ?, "
                    "expires_at = ?, updated_at = ? WHERE key = ? AND version = ?",
                    (sealed, record.expires_at, now, key, expected_version),
                )
            if cursor.rowcount != 1:
                row = cursor.execute(
                    "SELECT version FROM tokens WHERE key = ?", (key,)
                ).fetchone()
                actual = 0 if row is None else row[0]
                raise VersionConflict(key, expected=expected_version, actual=actual)

        stored = record.with_version(expected_version + 1)
        self._codec.remember(key, stored.version, sealed, stored)
        return stored

    def delete(self, key: str) -> None:
        """Forget the record under ``key``."""
        with self._transaction("delete from", key) as cursor:
            cursor.execute("DELETE FROM tokens WHERE key = ?", (key,))
        self._codec.forget(key)

    def keys(self) -> list[str]:
        """Return every key that holds a token record, sorted."""
        rows = self._query("read", "SELECT key FROM tokens ORDER BY key")
        return [key for (key,) in rows]

    # -- locks ------------------------------------------------------------

    @contextmanager
    def _hold(self, key: str, timeout: float) -> Iterator[None]:
        deadline = time.monotonic() + timeout
        with (
            self._local_locks.hold(key, timeout),
            self._locks.hold(key, deadline, timeout),
        ):
            yield

    def lock(self, key: str, *, timeout: float) -> Any:
        """Hold the renewal lock of ``key`` against every process on this host.

        Raises:
            LockTimeout: The lock was not free within ``timeout`` seconds.
        """
        return self._hold(key, timeout)

    @asynccontextmanager
    async def _ahold(self, key: str, timeout: float) -> AsyncIterator[None]:
        deadline = time.monotonic() + timeout
        async with (
            self._local_locks.ahold(key, timeout),
            self._locks.ahold(key, deadline, timeout),
        ):
            yield

    def alock(self, key: str, *, timeout: float) -> Any:
        """Do :meth:`lock` without blocking the event loop."""
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
        with self._transaction("write", name) as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO credentials VALUES (?, ?, ?, ?, ?)",
                (name, credentials.type.name, token_key, sealed, time.time()),
            )

    def load_document(self, name: str) -> dict[str, Any] | None:
        """Return the credentials document saved as ``name``, or None."""
        check_name(name)
        rows = self._query(
            "read", "SELECT sealed FROM credentials WHERE name = ?", name
        )
        if not rows:
            return None
        what = f"saved credentials {name!r} in {self.path}"
        plaintext = self._keys.get().open(
            rows[0][0], credentials_context(name), what=what, key=name
        )
        return parse_document(plaintext, name=name)

    def entries(self) -> list[SavedEntry]:
        """Return every saved credential, sorted by name, without secrets."""
        rows = self._query(
            "list",
            "SELECT c.name, c.type, c.token_key, t.key IS NOT NULL, t.expires_at, "
            "c.updated_at FROM credentials c LEFT JOIN tokens t "
            "ON t.key = c.token_key ORDER BY c.name",
        )
        return [
            SavedEntry(name, kind, token_key, bool(has), expires, updated)
            for name, kind, token_key, has, expires, updated in rows
        ]

    def remove_credentials(self, name: str) -> bool:
        """Forget the credentials saved as ``name``, and their tokens.

        The token record stays when other saved credentials share it.
        """
        check_name(name)
        with self._transaction("delete from", name) as cursor:
            row = cursor.execute(
                "SELECT token_key FROM credentials WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                return False
            cursor.execute("DELETE FROM credentials WHERE name = ?", (name,))
            cursor.execute(
                "DELETE FROM tokens WHERE key = ? AND NOT EXISTS "
                "(SELECT 1 FROM credentials WHERE token_key = ?)",
                (row[0], row[0]),
            )
        self._codec.forget(row[0])
        return True

    # -- keys -------------------------------------------------------------

    def rotate_key(self) -> RotationReport:
        """Re-encrypt every sealed value with the current key, in one transaction.

        Values no configured key opens are left as they are and reported.
        Versions do not change, so running processes are undisturbed.
        """
        keys = self._keys.get()
        resealed = current = 0
        failed: list[str] = []

        with self._transaction("rotate the key of") as cursor:
            tables = (
                ("tokens", "key", token_context, "token record"),
                ("credentials", "name", credentials_context, "saved credentials"),
            )
            for table, column, context, noun in tables:
                rows = cursor.execute(
                    f"SELECT {column}, sealed FROM {table}"
                ).fetchall()
                for name, sealed in rows:
                    what = f"{noun} {name!r}"
                    try:
                        new = reseal_value(
                            keys, sealed, context(name), what=what, key=name
                        )
                    except StoreError as err:
                        failed.append(str(err))
                        continue
                    if new is None:
                        current += 1
                        continue
                    cursor.execute(
                        f"UPDATE {table} SET sealed = ? WHERE {column} = ?",
                        (new, name),
                    )
                    resealed += 1

        return RotationReport(keys.primary_id, resealed, current, tuple(failed))

    def close(self) -> None:
        """Close the database connection."""
        with self._mutex:
            if self._pid == os.getpid():
                self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
