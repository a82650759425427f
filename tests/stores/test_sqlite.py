"""The SQLite store: its URL, file modes, WAL, cross-process lock, atomicity."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from tests.stores.processes import kill, read_message, running, worker_env

from authplug.stores import LockTimeout, SQLiteStore, StoreError, TokenRecord
from authplug.stores.crypto import KeySet
from authplug.stores.sqlite import default_path, path_from_url


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def record(access: str = "a") -> TokenRecord:
    return TokenRecord(access_token=access, refresh_token="r", expires_at=2e9)


# -- URLs -----------------------------------------------------------------


def test_the_bare_url_is_the_default_file_in_the_user_data_dir(
    tmp_path: Path,
) -> None:
    found = path_from_url("sqlite://")

    assert found == default_path()
    assert found == tmp_path / "xdg-data" / "authplug" / "tokens.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///srv/app/tokens.db", Path("/srv/app/tokens.db")),
        ("sqlite:///srv/with%20space.db", Path("/srv/with space.db")),
        ("SQLITE:///srv/t.db", Path("/srv/t.db")),
        ("sqlite://./here.db", Path("./here.db")),
        ("sqlite://../up.db", Path("../up.db")),
    ],
)
def test_urls_name_files(url: str, expected: Path) -> None:
    assert path_from_url(url) == expected


def test_a_home_relative_url_expands(tmp_path: Path) -> None:
    assert path_from_url("sqlite://~/t.db") == tmp_path / "home" / "t.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://somehost/t.db", "names a file"),
        ("sqlite:///t.db?mode=ro", "take no options"),
        ("redis://h/0", "not a sqlite URL"),
    ],
)
def test_bad_urls_say_what_is_expected(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message):
        path_from_url(url)


# -- the file -----------------------------------------------------------------


def test_files_are_private_whatever_the_umask(tmp_path: Path, keys: KeySet) -> None:
    previous = os.umask(0o000)
    try:
        store = SQLiteStore(tmp_path / "new" / "deeper" / "t.db", keys=keys)
        store.put("k", record(), expected_version=0)
        with store.lock("k", timeout=1):
            pass
        folder = tmp_path / "new" / "deeper"
        files = {path.name: mode(path) for path in folder.iterdir()}
        lock_files = [mode(path) for path in (folder / "t.db.locks").iterdir()]
        store.close()
    finally:
        os.umask(previous)

    assert files == {
        "t.db": 0o600,
        "t.db-wal": 0o600,
        "t.db-shm": 0o600,
        "t.db.locks": 0o700,
    }
    assert lock_files == [0o600]
    assert mode(tmp_path / "new") == 0o700
    assert mode(folder) == 0o700


def test_an_existing_readable_file_is_made_private_with_a_warning(
    tmp_path: Path, keys: KeySet, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.db"
    path.touch()
    path.chmod(0o644)

    with caplog.at_level(logging.WARNING, "authplug.stores.sqlite"):
        SQLiteStore(path, keys=keys).close()

    assert mode(path) == 0o600
    assert "readable by others" in caplog.text


def test_the_journal_is_wal_and_writes_are_fully_synced(
    sqlite_store: SQLiteStore,
) -> None:
    with sqlite3.connect(sqlite_store.path) as db:
        (journal,) = db.execute("PRAGMA journal_mode").fetchone()

    (sync,) = sqlite_store._db.execute("PRAGMA synchronous").fetchone()

    assert journal == "wal"
    assert sync == 2  # FULL


def test_only_names_versions_and_times_are_in_the_clear(
    sqlite_store: SQLiteStore,
) -> None:
    sqlite_store.put(
        "k",
        TokenRecord(access_token="ACCESS-xyz", refresh_token="REFRESH-xyz"),
        expected_version=0,
    )
    sqlite_store.close()

    raw = sqlite_store.path.read_bytes()
    wal = sqlite_store.path.with_name("tokens.db-wal")
    raw += wal.read_bytes() if wal.exists() else b""

    assert b"ACCESS-xyz" not in raw
    assert b"REFRESH-xyz" not in raw


def test_records_outlive_the_store_object(tmp_path: Path, keys: KeySet) -> None:
    with SQLiteStore(tmp_path / "t.db", keys=keys) as first:
        first.put("k", record("kept"), expected_version=0)

    with SQLiteStore(tmp_path / "t.db", keys=keys) as second:
        found = second.get("k")

    assert found is not None and found.version == 1
    assert found.access_token is not None and found.access_token.reveal() == "kept"


def test_two_store_objects_on_one_file_see_each_others_versions(
    tmp_path: Path, keys: KeySet
) -> None:
    with (
        SQLiteStore(tmp_path / "t.db", keys=keys) as first,
        SQLiteStore(tmp_path / "t.db", keys=keys) as second,
    ):
        first.put("k", record("one"), expected_version=0)
        second.put("k", record("two"), expected_version=1)
        found = first.get("k")

    assert found is not None and found.version == 2
    assert found.access_token is not None and found.access_token.reveal() == "two"


def test_a_file_that_is_not_a_database_gives_a_clear_error(
    tmp_path: Path, keys: KeySet
) -> None:
    path = tmp_path / "t.db"
    path.write_bytes(b"this is not sqlite at all" * 100)

    with pytest.raises(StoreError) as caught:
        SQLiteStore(path, keys=keys)

    assert str(path) in str(caught.value)
    assert "move it away" in str(caught.value)


def test_a_store_from_a_newer_authplug_is_refused(tmp_path: Path, keys: KeySet) -> None:
    path = tmp_path / "t.db"
    SQLiteStore(path, keys=keys).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")

    with pytest.raises(StoreError, match="newer authplug"):
        SQLiteStore(path, keys=keys)


def test_an_unwritable_place_gives_a_clear_error(tmp_path: Path, keys: KeySet) -> None:
    blocker = tmp_path / "file"
    blocker.touch()

    with pytest.raises(StoreError, match="cannot open the token store") as caught:
        SQLiteStore(blocker / "t.db", keys=keys)

    assert "Not a directory" in str(caught.value)


# Python 3.12 warns about forking a process that runs threads; this test
# forks on purpose, to show the store copes with what multiprocessing does.
@pytest.mark.filterwarnings("ignore:.*fork:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection(
    sqlite_store: SQLiteStore,
) -> None:
    sqlite_store.put("k", record("parent"), expected_version=0)
    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def child() -> None:
        found = sqlite_store.get("k")
        stored = sqlite_store.put("k", record("child"), expected_version=1)
        results.put((found.access_token.reveal() if found else None, stored.version))

    process = context.Process(target=child)
    process.start()
    process.join(30)
    seen = results.get(timeout=5)
    found = sqlite_store.get("k")

    assert process.exitcode == 0
    assert seen == ("parent", 2)
    assert found is not None and found.version == 2
    assert found.access_token is not None and found.access_token.reveal() == "child"


def test_a_lock_directory_that_cannot_be_made_gives_a_clear_error(
    tmp_path: Path, keys: KeySet
) -> None:
    store = SQLiteStore(tmp_path / "t.db", keys=keys)
    (tmp_path / "t.db.locks").write_text("in the way", encoding="utf-8")

    with (
        pytest.raises(StoreError, match="could not lock the token record 'k'"),
        store.lock("k", timeout=1),
    ):
        pass
    store.close()


# -- decrypting only what changed ---------------------------------------------


class CountingKeys(KeySet):
    opened = 0

    def open(self, sealed: bytes, context: bytes, *, what: str, key: str) -> bytes:
        type(self).opened += 1
        return super().open(sealed, context, what=what, key=key)


def test_records_are_decrypted_only_when_they_change(
    tmp_path: Path, store_key: str
) -> None:
    CountingKeys.opened = 0
    keys = CountingKeys.from_keys(store_key)
    writer = SQLiteStore(tmp_path / "t.db", keys=keys)
    reader = SQLiteStore(tmp_path / "t.db", keys=keys)
    writer.put("k", record("one"), expected_version=0)

    for _ in range(5):
        reader.get("k")
    after_first_reads = CountingKeys.opened
    writer.get("k")
    after_writer_read = CountingKeys.opened
    writer.put("k", record("two"), expected_version=1)
    for _ in range(5):
        found = reader.get("k")
    writer.close()
    reader.close()

    assert after_first_reads == 1
    assert after_writer_read == 1  # the writer remembers what it wrote
    assert CountingKeys.opened == 2
    assert found is not None and found.access_token is not None
    assert found.access_token.reveal() == "two"


# -- across processes -----------------------------------------------------------


def test_the_lock_excludes_another_process(
    sqlite_store: SQLiteStore, store_key: str
) -> None:
    args = [
        "hold-lock",
        "--store",
        sqlite_store.url,
        "--key",
        "k",
        "--release-on-stdin",
    ]

    with running(args, worker_env(store_key)) as holder:
        assert read_message(holder)["state"] == "locked"
        with pytest.raises(LockTimeout), sqlite_store.lock("k", timeout=0.2):
            pass
        with sqlite_store.lock("other-key", timeout=1):
            other_key_free = True
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert read_message(holder)["state"] == "released"
        with sqlite_store.lock("k", timeout=10):
            taken_after_release = True

    assert other_key_free and taken_after_release


def test_a_killed_holder_frees_the_lock_at_once(
    sqlite_store: SQLiteStore, store_key: str
) -> None:
    args = ["hold-lock", "--store", sqlite_store.url, "--key", "k"]

    with running(args, worker_env(store_key)) as holder:
        assert read_message(holder)["state"] == "locked"
        with pytest.raises(LockTimeout), sqlite_store.lock("k", timeout=0.2):
            pass
        kill(holder)

        # The kernel drops a dead process's flock; no lease to wait out.
        with sqlite_store.lock("k", timeout=5):
            taken = True

    assert taken


def test_a_writer_killed_mid_write_leaves_a_whole_record(
    sqlite_store: SQLiteStore, store_key: str
) -> None:
    args = ["write-loop", "--store", sqlite_store.url, "--key", "k"]

    with running(args, worker_env(store_key)) as writer:
        assert read_message(writer)["state"] == "writing"
        kill(writer)

    with SQLiteStore(sqlite_store.path, keys=KeySet.from_keys(store_key)) as again:
        found = again.get("k")
        again.put("k", record("after"), expected_version=found.version if found else 0)

    assert found is not None and found.version > 5
    assert found.access_token is not None
    assert found.access_token.reveal() == f"t{found.version}"
