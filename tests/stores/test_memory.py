"""The in-memory store, and the store interface's shared parts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from authplug.secret import Secret
from authplug.stores import (
    LockTimeout,
    MemoryStore,
    StoreError,
    TokenRecord,
    TokenStore,
    VersionConflict,
    default_store,
)

RECORD = TokenRecord(
    access_token="access",
    refresh_token="refresh",
    expires_at=1_700_003_600.0,
    issued_at=1_700_000_000.0,
    token_type="Bearer",
    scopes=("read", "write"),
)


def test_versions_start_at_one_and_count_every_write() -> None:
    store = MemoryStore()

    first = store.put("k", RECORD, expected_version=0)
    second = store.put("k", RECORD, expected_version=1)
    forced = store.put("k", RECORD, expected_version=None)

    assert (first.version, second.version, forced.version) == (1, 2, 3)
    stored = store.get("k")
    assert stored == RECORD and stored is not None and stored.version == 3


def test_a_write_with_a_stale_version_is_refused_and_changes_nothing() -> None:
    store = MemoryStore()
    store.put("k", RECORD, expected_version=0)
    other = TokenRecord(access_token="other")

    with pytest.raises(VersionConflict) as caught:
        store.put("k", other, expected_version=0)

    assert (caught.value.expected, caught.value.actual, caught.value.key) == (0, 1, "k")
    assert store.get("k") == RECORD


def test_expecting_a_version_of_a_missing_key_is_a_conflict() -> None:
    store = MemoryStore()

    with pytest.raises(VersionConflict):
        store.put("k", RECORD, expected_version=4)


def test_delete_forgets_and_missing_keys_are_no_error() -> None:
    store = MemoryStore()
    store.put("k", RECORD, expected_version=0)

    store.delete("k")
    store.delete("never-there")

    assert store.get("k") is None and store.keys() == []


def test_keys_do_not_see_each_other() -> None:
    store = MemoryStore()

    store.put("a", RECORD, expected_version=0)
    store.put("b", TokenRecord(access_token="b"), expected_version=0)

    assert store.get("a") == RECORD
    assert sorted(store.keys()) == ["a", "b"]


def test_concurrent_compare_and_set_lets_exactly_one_writer_win() -> None:
    store = MemoryStore()
    store.put("k", RECORD, expected_version=0)
    start = threading.Barrier(20)
    wins: list[int] = []

    def writer(index: int) -> None:
        start.wait()
        try:
            store.put("k", TokenRecord(access_token=f"t{index}"), expected_version=1)
            wins.append(index)
        except VersionConflict:
            pass

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(wins) == 1
    stored = store.get("k")
    assert stored is not None and stored.version == 2


def test_the_lock_excludes_other_threads_per_key() -> None:
    store = MemoryStore()
    inside = threading.Event()
    leave = threading.Event()

    def holder() -> None:
        with store.lock("k", timeout=1):
            inside.set()
            leave.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)

    with pytest.raises(LockTimeout, match=r"0\.05 s"), store.lock("k", timeout=0.05):
        pass
    with store.lock("other", timeout=0.05):
        pass
    leave.set()
    thread.join()
    with store.lock("k", timeout=1):
        pass


def test_the_async_lock_waits_without_blocking_the_loop() -> None:
    store = MemoryStore()
    order: list[str] = []

    async def main() -> None:
        async with store.alock("k", timeout=1):
            waiter = asyncio.create_task(_take(store, order))
            for _ in range(5):
                await asyncio.sleep(0.01)
                order.append("tick")
        await waiter

    asyncio.run(main())

    assert order == ["tick"] * 5 + ["second holder"]


async def _take(store: TokenStore, order: list[str]) -> None:
    async with store.alock("k", timeout=1):
        order.append("second holder")


def test_the_async_lock_times_out_too() -> None:
    store = MemoryStore()

    async def main() -> None:
        async with store.alock("k", timeout=1), store.alock("k", timeout=0.05):
            pass

    with pytest.raises(LockTimeout):
        asyncio.run(main())


def test_async_twins_do_what_the_sync_methods_do() -> None:
    store = MemoryStore()

    async def main() -> tuple[Any, Any]:
        saved = await store.aput("k", RECORD, expected_version=0)
        got = await store.aget("k")
        await store.adelete("k")
        return saved, got

    saved, got = asyncio.run(main())

    assert saved.version == 1 and got == RECORD
    assert store.get("k") is None


class _FileLikeStore(MemoryStore):
    """A store with its own (sync) lock, like a file or database lock."""

    def __init__(self) -> None:
        super().__init__()
        self.mutex = threading.Lock()
        self.entered_in: list[str] = []

    @contextmanager
    def _hold(self, timeout: float) -> Iterator[None]:
        if not self.mutex.acquire(timeout=timeout):
            raise LockTimeout("k", timeout=timeout)
        self.entered_in.append(threading.current_thread().name)
        try:
            yield
        finally:
            self.mutex.release()

    def lock(self, key: str, *, timeout: float) -> Any:
        return self._hold(timeout)


def test_a_store_with_its_own_sync_lock_gets_an_async_lock_for_free() -> None:
    store = _FileLikeStore()

    async def main() -> bool:
        async with store.alock("k", timeout=1):
            return store.mutex.locked()

    held = asyncio.run(main())

    assert held and not store.mutex.locked()
    assert store.entered_in and store.entered_in[0] != threading.main_thread().name


def test_a_cancelled_wait_for_a_threaded_lock_gives_the_lock_back() -> None:
    store = _FileLikeStore()
    store.mutex.acquire()

    async def main() -> None:
        task = asyncio.create_task(_enter(store))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0)
        store.mutex.release()  # the worker thread now takes it...
        await asyncio.sleep(0.3)  # ...and hands it back

    asyncio.run(main())

    assert not store.mutex.locked()


async def _enter(store: TokenStore) -> None:
    async with store.alock("k", timeout=5):
        pass


def test_a_minimal_subclass_needs_only_get_put_delete() -> None:
    class DictStore(TokenStore):
        def __init__(self) -> None:
            self.data: dict[str, TokenRecord] = {}

        def get(self, key: str) -> TokenRecord | None:
            return self.data.get(key)

        def put(
            self, key: str, record: TokenRecord, *, expected_version: int | None
        ) -> TokenRecord:
            stored = record.with_version(1)
            self.data[key] = stored
            return stored

        def delete(self, key: str) -> None:
            self.data.pop(key, None)

    store = DictStore()

    async def main() -> TokenRecord | None:
        async with store.alock("k", timeout=1):
            await store.aput("k", RECORD, expected_version=0)
        return await store.aget("k")

    with store.lock("k", timeout=1):
        pass
    assert asyncio.run(main()) == RECORD


def test_records_round_trip_through_data_with_secrets_revealed() -> None:
    data = RECORD.to_data()

    again = TokenRecord.from_data(data, version=7)

    assert data["access_token"] == "access" and data["scopes"] == ["read", "write"]
    assert "version" not in data
    assert again == RECORD and again.version == 7
    assert isinstance(again.refresh_token, Secret)


def test_record_reprs_mask_tokens() -> None:
    text = repr(RECORD)

    assert "access'" not in text and "refresh'" not in text
    assert "********" in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a table"),
        ({"access_token": 5}, "access_token must be a string"),
        ({"expires_at": "soon"}, "expires_at must be a number"),
        ({"expires_at": float("inf")}, "expires_at must be a number"),
        ({"issued_at": True}, "issued_at must be a number"),
        ({"token_type": None}, "token_type must be a string"),
        ({"scopes": "read"}, "scopes must be a list of strings"),
        ({"surprise": 1}, "unknown fields surprise"),
    ],
)
def test_corrupt_data_is_a_store_error_that_names_the_field(
    data: Any, message: str
) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        TokenRecord.from_data(data, key="auth_id:x")

    assert caught.value.key == "auth_id:x"
    assert "soon" not in str(caught.value)


def test_the_default_store_is_one_per_process() -> None:
    first = default_store()

    second = default_store()

    assert first is second and isinstance(first, MemoryStore)
