"""Renewal shared by real processes through the SQLite and Redis stores.

Every test here runs worker processes (:mod:`tests.stores.workers`) that
use the real lifecycle and the httpx2 adapter against the real test OAuth
server, which rotates refresh tokens: each refresh revokes the refresh
token it spent, so a refresh token dropped anywhere would show.

What "no refresh token is lost" means with a rotating server: the server
revokes the old refresh token the moment it issues the new one, and the
new one exists only in the renewing process until the store has it. The
lifecycle writes the answer to the store before anything else touches it,
so that window is one store write long; a process killed inside it loses
the new refresh token, and no client can prevent that without the server's
help (a grace period for the old token, which this test server does not
offer). ``test_a_kill_between_answer_and_write`` pins down what happens
then: the store still holds the old, revoked token intact; the code grant
asks the user to authorize again with a clear error; grants that can run
again (password, client credentials) recover by themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from tests.oauth_server import Fault, OAuthServer
from tests.stores.processes import (
    finish,
    read_message,
    running,
    start,
    worker_env,
)

import authplug
from authplug.adapters import httpx2 as httpx2_adapter
from authplug.stores import LockTimeout, RedisStore, SQLiteStore, TokenRecord
from authplug.stores.crypto import KeySet
from authplug.stores.durable import DurableStore

KEY = "shared-renewal"


@pytest.fixture(params=["sqlite", "redis"])
def shared(
    request: pytest.FixtureRequest, tmp_path: Path, keys: KeySet
) -> Iterator[tuple[str, DurableStore]]:
    """Return a store URL for the workers and the same store for the test."""
    store: DurableStore
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "tokens.db", keys=keys)
        url = store.url
    else:
        # A short lease, so a dead holder's lock passes on quickly.
        url = request.getfixturevalue("redis_url") + "&lock_lease=2"
        store = RedisStore(url, keys=keys)
    yield url, store
    store.close()


def code_app(server: OAuthServer) -> dict[str, Any]:
    return {
        "client_id": "basic-client",
        "client_secret": "basic-secret",
        "token_url": server.token_url,
        "auth_url": server.authorize_url,
        "redirect_uri": "http://127.0.0.1/callback",
        "scopes": ["read", "profile"],
    }


def code_document(server: OAuthServer) -> dict[str, Any]:
    return {"type": "oauth2", "app": code_app(server)}


def authorized_tokens(server: OAuthServer) -> TokenRecord:
    """Run the code grant as a browser would and return the tokens, expired."""
    flow = authplug.load(code_document(server)).flow()
    pending = flow.start_authorization()
    location = server.approve(pending.url)
    with httpx2.Client(timeout=10) as client:
        credentials = httpx2_adapter.run(flow.exchange_code(pending, location), client)

    user = credentials.user
    now = time.time()
    return TokenRecord(
        access_token=user.access_token,
        refresh_token=user.refresh_token,
        expires_at=now - 60,
        issued_at=now - 3660,
        scopes=user.scopes,
    )


def write_document(tmp_path: Path, document: dict[str, Any]) -> str:
    # No tokens in the file: every worker must take them from the store.
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def worker_args(
    command: str, url: str, document: str, server: OAuthServer
) -> list[str]:
    return [
        command,
        "--store",
        url,
        "--key",
        KEY,
        "--credentials",
        document,
        "--api",
        server.api_url,
    ]


def refresh_token_of(store: DurableStore) -> str:
    stored = store.get(KEY)
    assert stored is not None and stored.refresh_token is not None
    return stored.refresh_token.reveal()


def test_eight_processes_of_fifty_threads_send_one_refresh(
    shared: tuple[str, DurableStore],
    oauth_server: OAuthServer,
    tmp_path: Path,
    store_key: str,
) -> None:
    url, store = shared
    expired = authorized_tokens(oauth_server)
    store.put(KEY, expired, expected_version=0)
    document = write_document(tmp_path, code_document(oauth_server))
    # A slow refresh: without a lock across processes, every process would
    # have sent its own by the time the first answer came back.
    oauth_server.inject(Fault.delay(0.3), times=None, grant_type="refresh_token")
    before = dict(oauth_server.token_counts)
    args = worker_args("requests", url, document, oauth_server)
    args += ["--threads", "50", "--wait-for-go"]

    workers = [start(args, worker_env(store_key)) for _ in range(8)]
    try:
        for worker in workers:
            assert read_message(worker, timeout=120)["state"] == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        results = [read_message(worker, timeout=120) for worker in workers]
    finally:
        outcomes = [finish(worker) for worker in workers]

    after = dict(oauth_server.token_counts)
    assert [status for status, _, _ in outcomes] == [0] * 8
    assert all(result["failures"] == [] for result in results)
    assert [result["statuses"] for result in results] == [[200] * 50] * 8
    assert after.get("refresh_token", 0) - before.get("refresh_token", 0) == 1
    assert sum(after.values()) - sum(before.values()) == 1
    assert oauth_server.api_request_count() >= 400
    stored = store.get(KEY)
    assert stored is not None and stored.version == 2
    assert expired.refresh_token is not None
    assert not oauth_server.is_refresh_token_active(expired.refresh_token.reveal())
    assert oauth_server.is_refresh_token_active(refresh_token_of(store))


def run_refresh(
    url: str, document: str, server: OAuthServer, store_key: str, kill_at: str | None
) -> tuple[int, Any]:
    extra = {"AUTHPLUG_TEST_KILL_AT": kill_at} if kill_at else {}
    args = worker_args("refresh", url, document, server)
    with running(args, worker_env(store_key, **extra)) as worker:
        status, out, errors = finish(worker)
    assert "Traceback" not in errors, errors
    lines = out.splitlines()
    return status, json.loads(lines[-1]) if lines else None


def refreshes(server: OAuthServer) -> int:
    return server.token_request_count("refresh_token")


def test_a_kill_right_after_taking_the_lock_loses_nothing(
    shared: tuple[str, DurableStore],
    oauth_server: OAuthServer,
    tmp_path: Path,
    store_key: str,
) -> None:
    url, store = shared
    expired = authorized_tokens(oauth_server)
    store.put(KEY, expired, expected_version=0)
    document = write_document(tmp_path, code_document(oauth_server))
    start_count = refreshes(oauth_server)

    killed, said = run_refresh(url, document, oauth_server, store_key, "locked")
    sent_before_dying = refreshes(oauth_server) - start_count
    if isinstance(store, RedisStore):
        # The dead holder's lease still runs; SQLite's flock died with it.
        with pytest.raises(LockTimeout), store.lock(KEY, timeout=0.05):
            pass
    status, after = run_refresh(url, document, oauth_server, store_key, None)

    assert (killed, said) == (-9, None)
    assert sent_before_dying == 0
    assert (status, after) == (0, {"status": 200})
    assert refreshes(oauth_server) - start_count == 1
    stored = store.get(KEY)
    assert stored is not None and stored.version == 2
    assert oauth_server.is_refresh_token_active(refresh_token_of(store))


def test_a_kill_right_after_storing_keeps_the_new_tokens(
    shared: tuple[str, DurableStore],
    oauth_server: OAuthServer,
    tmp_path: Path,
    store_key: str,
) -> None:
    url, store = shared
    expired = authorized_tokens(oauth_server)
    store.put(KEY, expired, expected_version=0)
    document = write_document(tmp_path, code_document(oauth_server))
    start_count = refreshes(oauth_server)

    killed, _ = run_refresh(url, document, oauth_server, store_key, "stored")
    rotated = refresh_token_of(store)
    status, after = run_refresh(url, document, oauth_server, store_key, None)

    assert killed == -9
    assert (status, after) == (0, {"status": 200})
    # One refresh in all: the restarted process used what the dead one stored.
    assert refreshes(oauth_server) - start_count == 1
    assert oauth_server.is_refresh_token_active(rotated)
    assert refresh_token_of(store) == rotated
    stored = store.get(KEY)
    assert stored is not None and stored.version == 2


def test_a_kill_between_answer_and_write(
    shared: tuple[str, DurableStore],
    oauth_server: OAuthServer,
    tmp_path: Path,
    store_key: str,
) -> None:
    url, store = shared
    expired = authorized_tokens(oauth_server)
    store.put(KEY, expired, expected_version=0)
    document = write_document(tmp_path, code_document(oauth_server))
    start_count = refreshes(oauth_server)

    killed, _ = run_refresh(url, document, oauth_server, store_key, "before-store")
    status, after = run_refresh(url, document, oauth_server, store_key, None)

    assert killed == -9
    # The server rotated: what the dead process held is gone with it.
    assert expired.refresh_token is not None
    assert not oauth_server.is_refresh_token_active(expired.refresh_token.reveal())
    # The store is intact, and the restart says exactly what to do.
    stored = store.get(KEY)
    assert stored == expired and stored is not None and stored.version == 1
    assert status == 0
    assert after["error"] == "ReauthorizationRequired"
    assert "authorize again" in after["message"]
    assert "invalid_grant" in after["message"]
    assert refreshes(oauth_server) - start_count == 2


def test_a_kill_between_answer_and_write_heals_a_password_grant(
    shared: tuple[str, DurableStore],
    oauth_server: OAuthServer,
    tmp_path: Path,
    store_key: str,
) -> None:
    url, store = shared
    document = {
        "type": "oauth2.password",
        "app": {
            "client_id": "basic-client",
            "client_secret": "basic-secret",
            "token_url": oauth_server.token_url,
            "scopes": ["read"],
        },
        "user": {"username": "alice", "password": "alice-password"},
    }
    path = write_document(tmp_path, document)
    first, _ = run_refresh(url, path, oauth_server, store_key, None)
    issued = store.get(KEY)
    assert first == 0 and issued is not None
    now = time.time()
    store.put(
        KEY,
        TokenRecord(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=now - 60,
            issued_at=now - 3660,
            scopes=issued.scopes,
        ),
        expected_version=issued.version,
    )
    before = dict(oauth_server.token_counts)

    killed, _ = run_refresh(url, path, oauth_server, store_key, "before-store")
    status, after = run_refresh(url, path, oauth_server, store_key, None)

    counts = dict(oauth_server.token_counts)
    assert killed == -9
    assert (status, after) == (0, {"status": 200})
    # The lost rotation, then the refused refresh and the password grant.
    assert counts.get("refresh_token", 0) - before.get("refresh_token", 0) == 2
    assert counts.get("password", 0) - before.get("password", 0) == 1
    assert oauth_server.is_refresh_token_active(refresh_token_of(store))


def test_fifty_async_tasks_share_one_refresh_through_the_store(
    shared: tuple[str, DurableStore],
    oauth_server: OAuthServer,
) -> None:
    _, store = shared
    expired = authorized_tokens(oauth_server)
    store.put(KEY, expired, expected_version=0)
    auth = httpx2_adapter.Auth(
        authplug.load(code_document(oauth_server)), store=store, key=KEY
    )
    before = refreshes(oauth_server)

    async def scenario() -> list[int]:
        async with httpx2.AsyncClient(auth=auth, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(oauth_server.api_url) for _ in range(50))
            )
        if isinstance(store, RedisStore):
            await store.aclose()
        return [response.status_code for response in responses]

    statuses = asyncio.run(scenario())

    assert statuses == [200] * 50
    assert refreshes(oauth_server) - before == 1
    stored = store.get(KEY)
    assert stored is not None and stored.version == 2
    assert oauth_server.is_refresh_token_active(refresh_token_of(store))
