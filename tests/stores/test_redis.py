"""The Redis store: URL options, layout, round trips, the leased lock, async."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from tests.redis_server import with_prefix
from tests.stores.processes import kill, read_message, running, worker_env

import authplug
from authplug.stores import LockTimeout, RedisStore, StoreError, TokenRecord
from authplug.stores.crypto import KeySet


def record(access: str = "ACCESS-value") -> TokenRecord:
    return TokenRecord(
        access_token=access, refresh_token="REFRESH-value", expires_at=2e9
    )


@contextmanager
def server_commands(url: str, prefix: str) -> Iterator[list[str]]:
    """Collect the commands naming ``prefix`` that clients sent, per MONITOR.

    Commands a Lua script runs inside Redis are left out: they are no
    round trips.
    """
    seen: list[str] = []
    stop = f"stop-monitor-{uuid.uuid4().hex}"
    watcher = redis.Redis.from_url(url)
    ready = threading.Event()

    def watch() -> None:
        with watcher.monitor() as monitor:
            ready.set()
            for event in monitor.listen():
                command = event["command"]
                if stop in command:
                    return
                if prefix in command and event.get("client_type") != "lua":
                    seen.append(command)

    thread = threading.Thread(target=watch)
    thread.start()
    ready.wait(10)
    try:
        yield seen
    finally:
        poker = redis.Redis.from_url(url)
        poker.echo(stop)
        poker.close()
        thread.join(10)
        watcher.close()


# -- URL and layout -------------------------------------------------------------


def test_options_come_from_the_url(redis_server_url: str, keys: KeySet) -> None:
    url = with_prefix(redis_server_url, "app1:", lock_lease="7.5", socket_timeout="3")

    store = RedisStore(url, keys=keys)
    options = store._client.connection_pool.connection_kwargs
    store.close()

    assert store.prefix == "app1:"
    assert store.lock_lease == 7.5
    assert options["socket_timeout"] == 3.0
    assert options["socket_connect_timeout"] == 5.0  # authplug's default


@pytest.mark.parametrize("lease", ["0", "-1", "soon", "nan", "inf"])
def test_a_bad_lease_is_refused(redis_server_url: str, lease: str) -> None:
    url = with_prefix(redis_server_url, "p:", lock_lease=lease)

    with pytest.raises(StoreError, match="lock_lease"):
        RedisStore(url)


def test_decoded_responses_are_refused(redis_server_url: str) -> None:
    url = with_prefix(redis_server_url, "p:", decode_responses="true")

    with pytest.raises(StoreError, match="remove decode_responses"):
        RedisStore(url)


def test_a_password_never_shows(keys: KeySet) -> None:
    store = RedisStore("redis://:hunter2-secret@127.0.0.1:1/0", keys=keys)

    with pytest.raises(StoreError) as caught:
        store.get("k")
    store.close()

    shown = f"{store!r} {store.url} {caught.value}"
    assert "hunter2-secret" not in shown
    assert "redis://:****@127.0.0.1:1/0" in shown
    assert "ConnectionError" in str(caught.value)
    assert "check that Redis is running" in str(caught.value)


def test_a_record_is_one_string_with_only_version_and_expiry_in_clear(
    redis_store: RedisStore,
) -> None:
    redis_store.put("k", record(), expected_version=0)
    redis_store.put("k", record(), expected_version=1)

    raw = redis_store._client.get(f"{redis_store.prefix}token:k")

    assert raw.startswith(b"2:2000000000.0:")
    assert b"ACCESS-value" not in raw and b"REFRESH-value" not in raw


def test_a_value_without_a_version_is_called_corrupt(redis_store: RedisStore) -> None:
    redis_store._client.set(f"{redis_store.prefix}token:k", b"junk")

    with pytest.raises(StoreError, match=r"'k'.*corrupt"):
        redis_store.get("k")


def test_keys_stay_within_the_prefix_even_with_glob_characters(
    redis_server_url: str, keys: KeySet
) -> None:
    odd = RedisStore(with_prefix(redis_server_url, "t*[x]?:"), keys=keys)
    plain = RedisStore(with_prefix(redis_server_url, "tA[x]B:"), keys=keys)
    try:
        odd.put("mine", record(), expected_version=0)
        plain.put("theirs", record(), expected_version=0)

        assert odd.keys() == ["mine"]
    finally:
        odd.delete("mine")
        plain.delete("theirs")
        odd.close()
        plain.close()


# -- round trips ----------------------------------------------------------------


def test_reading_a_record_is_one_get(
    redis_store: RedisStore, redis_server_url: str
) -> None:
    redis_store.put("k", record(), expected_version=0)

    with server_commands(redis_server_url, redis_store.prefix) as seen:
        redis_store.get("k")

    assert len(seen) == 1
    assert seen[0].startswith("GET ")


def test_writing_a_record_is_one_script_call(
    redis_store: RedisStore, redis_server_url: str
) -> None:
    redis_store.put("k", record(), expected_version=0)  # loads the script

    with server_commands(redis_server_url, redis_store.prefix) as seen:
        redis_store.put("k", record(), expected_version=1)

    assert len(seen) == 1
    assert seen[0].startswith("EVALSHA ")


# -- the lock -------------------------------------------------------------------


def test_a_dead_holders_lock_passes_on_after_its_lease(
    redis_server_url: str, keys: KeySet, store_key: str
) -> None:
    prefix = f"lease-{uuid.uuid4().hex[:8]}:"
    url = with_prefix(redis_server_url, prefix, lock_lease="1")
    store = RedisStore(url, keys=keys)
    args = ["hold-lock", "--store", url, "--key", "k"]

    try:
        with running(args, worker_env(store_key)) as holder:
            assert read_message(holder)["state"] == "locked"
            kill(holder)
            # Dead, but the lease still runs: nobody may take it yet.
            with pytest.raises(LockTimeout), store.lock("k", timeout=0.05):
                pass
            with store.lock("k", timeout=15):
                taken = True
    finally:
        store.close()

    assert taken


def test_a_lease_lost_before_release_is_logged(
    redis_store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, "authplug.stores.redis"),
        redis_store.lock("k", timeout=1),
    ):
        # As if the lease ran out and someone else took the lock.
        redis_store._client.set(f"{redis_store.prefix}lock:k", b"another-token")

    assert "expired before it was released" in caplog.text
    assert redis_store._client.get(f"{redis_store.prefix}lock:k") == b"another-token"


def test_the_lock_key_holds_a_random_token_and_is_gone_after(
    redis_store: RedisStore,
) -> None:
    name = f"{redis_store.prefix}lock:k"

    with redis_store.lock("k", timeout=1):
        token = redis_store._client.get(name)
        lease_ms = redis_store._client.pttl(name)

    assert token is not None and len(token) >= 16
    assert 0 < lease_ms <= redis_store.lock_lease * 1000
    assert redis_store._client.get(name) is None


# -- async ----------------------------------------------------------------------


def test_each_event_loop_gets_its_own_client(redis_store: RedisStore) -> None:
    async def use(access: str) -> Any:
        await redis_store.aput("k", record(access), expected_version=None)
        found = await redis_store.aget("k")
        async with redis_store.alock("k", timeout=1):
            pass
        await redis_store.aclose()
        return found

    first = asyncio.run(use("one"))
    second = asyncio.run(use("two"))

    assert first.access_token.reveal() == "one"
    assert second.access_token.reveal() == "two"
    assert second.version == first.version + 1


def test_async_errors_are_store_errors(keys: KeySet) -> None:
    store = RedisStore("redis://127.0.0.1:1/0", keys=keys)

    async def scenario() -> None:
        try:
            await store.aget("k")
        finally:
            await store.aclose()

    with pytest.raises(StoreError, match="could not read"):
        asyncio.run(scenario())
    store.close()


def test_a_corrupt_saved_entry_is_listed_with_its_problem_and_removable(
    redis_store: RedisStore,
) -> None:
    credentials = authplug.load(
        {"type": "token", "user": {"access_token": "static-value-5"}}
    )
    redis_store.save_credentials("good", credentials, token_key="auth_id:good")
    redis_store._client.hset(f"{redis_store.prefix}credentials", "bad", b"{not json")

    entries = redis_store.entries()
    removed = redis_store.remove_credentials("bad")

    assert [(entry.name, entry.problem is None) for entry in entries] == [
        ("bad", False),
        ("good", True),
    ]
    assert "'bad'" in (entries[0].problem or "")
    assert removed
    assert [entry.name for entry in redis_store.entries()] == ["good"]
