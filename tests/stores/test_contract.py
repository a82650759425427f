"""The TokenStore contract, held by every store: memory, SQLite and Redis.

Versions, compare-and-set, deletes, the per-key lock (threads and tasks),
the async twins, and a round trip of every record shape.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authplug.stores import (
    LockTimeout,
    MemoryStore,
    RedisStore,
    TokenRecord,
    TokenStore,
    VersionConflict,
)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[TokenStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    chosen: TokenStore = request.getfixturevalue(f"{request.param}_store")
    yield chosen


def record(access: str = "access-1", refresh: str | None = "refresh-1") -> TokenRecord:
    return TokenRecord(
        access_token=access,
        refresh_token=refresh,
        expires_at=2_000_000_000.5,
        issued_at=1_999_996_400.25,
        token_type="Bearer",
        scopes=("read", "write"),
    )


def test_first_put_is_version_one_and_reads_back(store: TokenStore) -> None:
    stored = store.put("k", record(), expected_version=0)

    found = store.get("k")

    assert stored.version == 1
    assert found == record()
    assert found is not None and found.version == 1
    assert found.refresh_token is not None
    assert found.refresh_token.reveal() == "refresh-1"


def test_missing_key_reads_as_none(store: TokenStore) -> None:
    assert store.get("nothing-here") is None


def test_each_write_adds_one_to_the_version(store: TokenStore) -> None:
    first = store.put("k", record("a"), expected_version=0)

    second = store.put("k", record("b"), expected_version=first.version)
    third = store.put("k", record("c"), expected_version=None)

    assert (first.version, second.version, third.version) == (1, 2, 3)
    found = store.get("k")
    assert found is not None and found.access_token is not None
    assert found.access_token.reveal() == "c"


def test_a_stale_version_is_refused_and_changes_nothing(store: TokenStore) -> None:
    store.put("k", record("a"), expected_version=0)
    store.put("k", record("b"), expected_version=1)

    with pytest.raises(VersionConflict) as caught:
        store.put("k", record("lost"), expected_version=1)

    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert caught.value.key == "k"
    found = store.get("k")
    assert found is not None and found.version == 2
    assert found.access_token is not None and found.access_token.reveal() == "b"


def test_creating_a_key_that_exists_is_a_conflict(store: TokenStore) -> None:
    store.put("k", record(), expected_version=0)

    with pytest.raises(VersionConflict) as caught:
        store.put("k", record("other"), expected_version=0)

    assert caught.value.actual == 1


def test_expecting_a_version_of_a_missing_key_is_a_conflict(store: TokenStore) -> None:
    with pytest.raises(VersionConflict) as caught:
        store.put("k", record(), expected_version=3)

    assert (caught.value.expected, caught.value.actual) == (3, 0)
    assert store.get("k") is None


def test_keys_are_independent(store: TokenStore) -> None:
    store.put("a", record("for-a"), expected_version=0)
    store.put("b", record("for-b"), expected_version=0)

    store.delete("a")

    assert store.get("a") is None
    found = store.get("b")
    assert found is not None and found.access_token is not None
    assert found.access_token.reveal() == "for-b"


def test_delete_of_a_missing_key_is_no_error(store: TokenStore) -> None:
    store.delete("never-stored")

    assert store.get("never-stored") is None


def test_a_deleted_key_starts_again_at_version_one(store: TokenStore) -> None:
    store.put("k", record(), expected_version=0)
    store.put("k", record(), expected_version=1)
    store.delete("k")

    again = store.put("k", record(), expected_version=0)

    assert again.version == 1


def test_only_one_of_many_racing_writers_wins(store: TokenStore) -> None:
    store.put("k", record("start"), expected_version=0)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def write(number: int) -> None:
        barrier.wait()
        try:
            store.put("k", record(f"w{number}"), expected_version=1)
        except VersionConflict:
            outcomes.append("conflict")
        else:
            outcomes.append("won")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    found = store.get("k")
    assert found is not None and found.version == 2


def test_the_lock_excludes_other_threads(store: TokenStore) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with store.lock("k", timeout=10):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.005)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert most == 1


def test_a_held_lock_times_out_for_others(store: TokenStore) -> None:
    taken = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store.lock("k", timeout=5):
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(5)
    try:
        with pytest.raises(LockTimeout) as caught, store.lock("k", timeout=0.2):
            pass
    finally:
        release.set()
        holder.join()

    assert caught.value.key == "k"
    assert caught.value.timeout == 0.2


def test_locks_of_different_keys_do_not_block_each_other(store: TokenStore) -> None:
    with store.lock("a", timeout=1), store.lock("b", timeout=1):
        entered_both = True

    assert entered_both


def test_a_released_lock_can_be_taken_again(store: TokenStore) -> None:
    with store.lock("k", timeout=1):
        pass

    with store.lock("k", timeout=1):
        retaken = True

    assert retaken


def test_async_twins_see_the_same_data(store: TokenStore) -> None:
    async def scenario() -> tuple[int, TokenRecord | None, TokenRecord | None]:
        stored = await store.aput("k", record("async"), expected_version=0)
        found = await store.aget("k")
        with pytest.raises(VersionConflict):
            await store.aput("k", record("late"), expected_version=0)
        await store.adelete("k")
        gone = await store.aget("k")
        if isinstance(store, RedisStore):
            await store.aclose()
        return stored.version, found, gone

    version, found, gone = asyncio.run(scenario())

    assert version == 1
    assert found == record("async")
    assert gone is None


def test_async_lock_excludes_tasks_and_threads(store: TokenStore) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()

    async def task() -> None:
        nonlocal inside, most
        async with store.alock("k", timeout=10):
            with guard:
                inside += 1
                most = max(most, inside)
            await asyncio.sleep(0.005)
            with guard:
                inside -= 1

    async def scenario() -> None:
        await asyncio.gather(*(task() for _ in range(5)))
        if isinstance(store, RedisStore):
            await store.aclose()

    def sync_holder() -> None:
        nonlocal inside, most
        with store.lock("k", timeout=10):
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.02)
            with guard:
                inside -= 1

    thread = threading.Thread(target=sync_holder)
    thread.start()
    asyncio.run(scenario())
    thread.join()

    assert most == 1


def test_async_lock_times_out(store: TokenStore) -> None:
    async def scenario() -> None:
        try:
            with pytest.raises(LockTimeout):
                async with store.alock("k", timeout=0.1):
                    pass
        finally:
            if isinstance(store, RedisStore):
                await store.aclose()

    with store.lock("k", timeout=1):
        holder_thread_result: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(scenario())
            except BaseException as err:
                holder_thread_result.append(err)

        # The async waiter runs in another thread: the sync lock here is
        # held by this one.
        waiter = threading.Thread(target=run)
        waiter.start()
        waiter.join()

    assert holder_thread_result == []


secret_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
)
records = st.builds(
    TokenRecord,
    access_token=st.none() | secret_text,
    refresh_token=st.none() | secret_text,
    expires_at=st.none() | st.floats(0, 4e9, allow_nan=False),
    issued_at=st.none() | st.floats(0, 4e9, allow_nan=False),
    token_type=st.sampled_from(["Bearer", "MAC", "DPoP"]),
    scopes=st.lists(st.text(min_size=1, max_size=10), max_size=4).map(tuple),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(value=records)
def test_every_record_round_trips(store: TokenStore, value: TokenRecord) -> None:
    store.delete("round-trip")

    stored = store.put("round-trip", value, expected_version=None)
    found = store.get("round-trip")

    assert found == value
    assert found is not None and found.version == stored.version
