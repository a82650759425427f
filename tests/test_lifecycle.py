"""The token lifecycle: expiry, skew, single flight, rotation, retry on 401."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from tests.fake_oauth import API_URL, FakeOAuth, client_credentials, code_grant

import authplug
from authplug import FlowError, ReauthorizationRequired, TokenError
from authplug.http import Request, Response
from authplug.lifecycle import (
    Lifecycle,
    RefreshSignal,
    RenewableFlow,
    RenewalPolicy,
    RetryPolicy,
    credential_key,
)
from authplug.stores import (
    MemoryStore,
    StoreError,
    TokenRecord,
    TokenStore,
    VersionConflict,
)

FAST_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_delay=1)


def _lifecycle(
    document: dict[str, Any],
    store: TokenStore | None = None,
    **options: Any,
) -> Lifecycle:
    options.setdefault("retry", FAST_RETRY)
    flow = authplug.load(document).flow(**options)
    assert isinstance(flow, RenewableFlow)
    return Lifecycle(flow, store if store is not None else MemoryStore())


def call(
    lifecycle: Lifecycle,
    send: Callable[[Request], Response],
    url: str = API_URL,
) -> Response:
    """Send one API request through the lifecycle, as an adapter would."""
    steps = lifecycle.sync_auth_flow(Request("GET", url))
    try:
        outgoing = next(steps)
        while True:
            response = send(outgoing)
            try:
                outgoing = steps.send(response)
            except StopIteration:
                return response
    finally:
        steps.close()  # as httpx does, also when sending raised


async def acall(
    lifecycle: Lifecycle, server: FakeOAuth, token_delay: float = 0.0
) -> Response:
    """Send one API request through the async path; token requests are slow."""
    steps = lifecycle.async_auth_flow(Request("GET", API_URL))
    try:
        outgoing = await steps.__anext__()
        while True:
            if outgoing.url != API_URL and token_delay:
                await asyncio.sleep(token_delay)
            response = server.handle(outgoing)
            try:
                outgoing = await steps.asend(response)
            except StopAsyncIteration:
                return response
    finally:
        await steps.aclose()


def _sent_token(server: FakeOAuth) -> str | None:
    return server.api_requests[-1]


# -- expiry, margin, skew ----------------------------------------------------------


def test_a_valid_token_is_reused_without_any_token_request() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())

    responses = [call(lifecycle, server.handle) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert server.token_count == 1
    assert len(set(server.api_requests)) == 1


def test_a_token_inside_the_margin_is_renewed_before_use() -> None:
    server = FakeOAuth(expires_in=100)
    lifecycle = _lifecycle(client_credentials(), margin=30)
    call(lifecycle, server.handle)
    view = lifecycle.current()
    assert view is not None

    lifecycle.flow.clock = lambda: view.fresh_until + 0.5  # type: ignore[method-assign]
    lifecycle._clock = lifecycle.flow.clock
    call(lifecycle, server.handle)

    assert server.token_count == 2
    assert view.record.expires_at is not None
    assert view.fresh_until == pytest.approx(view.record.expires_at - 30)


def test_the_margin_is_capped_at_half_a_short_lifetime() -> None:
    server = FakeOAuth(expires_in=20)
    lifecycle = _lifecycle(client_credentials(), margin=60)

    for _ in range(3):
        call(lifecycle, server.handle)

    assert server.token_count == 1
    view = lifecycle.current()
    assert view is not None and view.record.expires_at is not None
    assert view.fresh_until == pytest.approx(view.record.expires_at - 10)


def test_a_server_clock_two_hours_ahead_neither_expires_nor_stretches_tokens() -> None:
    server = FakeOAuth(expires_in=3600, clock_skew=7200)
    lifecycle = _lifecycle(client_credentials(), margin=60)

    call(lifecycle, server.handle)
    call(lifecycle, server.handle)

    view = lifecycle.current()
    assert view is not None and view.record.expires_at is not None
    assert server.token_count == 1
    # Stored on the server's clock, used on ours.
    assert view.record.expires_at == pytest.approx(time.time() + 7200 + 3600, abs=3)
    assert view.fresh_until == pytest.approx(time.time() + 3600 - 60, abs=3)


def test_a_server_clock_behind_is_corrected_the_same_way() -> None:
    server = FakeOAuth(expires_in=600, clock_skew=-3000)
    lifecycle = _lifecycle(client_credentials(), margin=60)

    call(lifecycle, server.handle)
    call(lifecycle, server.handle)

    view = lifecycle.current()
    assert view is not None
    assert server.token_count == 1
    assert view.fresh_until == pytest.approx(time.time() + 600 - 60, abs=3)


def test_a_missing_expires_in_means_an_hour_by_default_not_forever() -> None:
    server = FakeOAuth(expires_in=None)
    lifecycle = _lifecycle(client_credentials())

    call(lifecycle, server.handle)

    view = lifecycle.current()
    assert view is not None
    assert view.fresh_until == pytest.approx(time.time() + 3600 - 60, abs=3)


def test_a_given_token_without_expiry_is_used_until_a_401() -> None:
    server = FakeOAuth()
    access, refresh = server.issue()
    lifecycle = _lifecycle(code_grant(access, refresh))

    call(lifecycle, server.handle)
    server.revoke_access_tokens()
    response = call(lifecycle, server.handle)

    assert response.status_code == 200
    assert server.token_count == 1
    assert server.token_requests[0] == {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
    }


# -- 401: one refresh, one retry ---------------------------------------------------


def test_a_401_leads_to_one_refresh_and_one_retry() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())
    call(lifecycle, server.handle)
    server.revoke_access_tokens()

    response = call(lifecycle, server.handle)

    assert response.status_code == 200
    assert server.token_count == 2
    assert len(server.api_requests) == 3


def test_a_second_401_is_returned_never_a_loop() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())

    def always_401(request: Request) -> Response:
        if request.url == API_URL:
            server.api_requests.append(None)
            return Response(401)
        return server.handle(request)

    response = call(lifecycle, always_401)

    assert response.status_code == 401
    assert server.token_count == 2  # the first token, then one refresh
    assert len(server.api_requests) == 2


def test_a_401_after_another_caller_already_renewed_needs_no_token_request() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()
    first = _lifecycle(document, store)
    second = _lifecycle(document, store)
    call(first, server.handle)
    call(second, server.handle)
    server.revoke_access_tokens()
    call(first, server.handle)
    count = server.token_count

    response = call(second, server.handle)

    assert response.status_code == 200
    assert server.token_count == count
    assert server.api_requests[-1] == server.api_requests[-3]


def test_a_401_renews_even_when_the_slot_holds_an_equal_copy_of_the_token() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())
    call(lifecycle, server.handle)
    slot = lifecycle._slot
    assert slot.record is not None
    # What a durable store's re-read gives: the same tokens, a new object.
    slot.record = attrs.evolve(slot.record)
    server.revoke_access_tokens()

    response = call(lifecycle, server.handle)

    assert response.status_code == 200
    assert server.token_count == 2


def test_a_configured_403_signal_refreshes_too() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(
        client_credentials(), refresh_on=[401, RefreshSignal(403, body="expired")]
    )
    call(lifecycle, server.handle)
    answers = iter([Response(403, {}, b'{"error": "token expired"}')])

    def send(request: Request) -> Response:
        if request.url == API_URL:
            return next(answers, None) or server.handle(request)
        return server.handle(request)

    response = call(lifecycle, send)

    assert response.status_code == 200
    assert server.token_count == 2


def test_invalidate_makes_the_next_request_renew() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())
    call(lifecycle, server.handle)

    lifecycle.invalidate()
    call(lifecycle, server.handle)

    assert server.token_count == 2


# -- single flight -----------------------------------------------------------------


def test_fifty_threads_on_an_expired_token_make_exactly_one_token_request() -> None:
    server = FakeOAuth(token_delay=0.2)
    lifecycle = _lifecycle(client_credentials())
    start = threading.Barrier(50)
    statuses: list[int] = []

    def worker() -> None:
        start.wait()
        statuses.append(call(lifecycle, server.handle).status_code)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 50
    assert server.token_count == 1
    assert len(set(server.api_requests)) == 1


def test_five_hundred_tasks_on_an_expired_token_make_exactly_one_token_request() -> (
    None
):
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())

    async def main() -> list[Response]:
        return await asyncio.gather(
            *(acall(lifecycle, server, token_delay=0.2) for _ in range(500))
        )

    responses = asyncio.run(main())

    assert [r.status_code for r in responses] == [200] * 500
    assert server.token_count == 1
    assert len(set(server.api_requests)) == 1


def _wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_threads_and_tasks_together_share_one_flight() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()
    release = threading.Event()
    server.on_token = lambda _: release.wait(10)
    results: list[int] = []

    def thread_worker() -> None:
        results.append(call(_lifecycle(document, store), server.handle).status_code)

    async def tasks() -> None:
        lifecycles = [_lifecycle(document, store) for _ in range(200)]
        calls = [asyncio.create_task(acall(lc, server)) for lc in lifecycles]
        await asyncio.sleep(0.05)
        release.set()
        for response in await asyncio.gather(*calls):
            results.append(response.status_code)

    threads = [threading.Thread(target=thread_worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    _wait_for(lambda: server.token_count == 1)  # a thread leads, in flight
    asyncio.run(tasks())
    for thread in threads:
        thread.join()

    assert results == [200] * 220
    assert server.token_count == 1


def test_waiting_tasks_never_block_their_event_loop() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()
    release = threading.Event()
    server.on_token = lambda _: release.wait(10)
    leader = threading.Thread(
        target=lambda: call(_lifecycle(document, store), server.handle)
    )
    waiting_at_each_tick: list[bool] = []

    async def main() -> list[Response]:
        waiters = [
            asyncio.create_task(acall(_lifecycle(document, store), server))
            for _ in range(100)
        ]
        # Were a waiting task to block the loop, these ticks could only
        # run after the flight, which ends only when they have run.
        for _ in range(10):
            await asyncio.sleep(0.01)
            waiting_at_each_tick.append(not any(task.done() for task in waiters))
        release.set()
        return await asyncio.wait_for(asyncio.gather(*waiters), 10)

    leader.start()
    _wait_for(lambda: server.token_count == 1)
    responses = asyncio.run(main())
    leader.join()

    assert waiting_at_each_tick == [True] * 10
    assert [r.status_code for r in responses] == [200] * 100
    assert server.token_count == 1


def test_a_failed_renewal_is_shared_not_repeated_by_every_waiter() -> None:
    server = FakeOAuth(token_delay=0.2)
    server.fail_next(
        Response(
            401, {"content-type": "application/json"}, b'{"error": "invalid_client"}'
        )
    )
    lifecycle = _lifecycle(client_credentials())
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            call(lifecycle, server.handle)
        except TokenError as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert server.token_count == 1
    assert len(errors) == 20
    assert all(getattr(e, "error", None) == "invalid_client" for e in errors)


def test_an_abandoned_leader_hands_over_to_a_waiter() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()
    leader = _lifecycle(document, store).sync_auth_flow(Request("GET", API_URL))
    next(leader)  # the leader's token request is "in flight"
    outcome: list[int] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(
            call(_lifecycle(document, store), server.handle).status_code
        )
    )

    waiter.start()
    time.sleep(0.1)
    leader.close()  # its client gave up, as on a timeout
    waiter.join(5)

    assert outcome == [200]
    assert server.token_count == 1  # the leader's request was never answered


def test_a_cancelled_async_leader_releases_everything() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()

    async def main() -> Response:
        slow = asyncio.create_task(
            acall(_lifecycle(document, store), server, token_delay=10)
        )
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(acall(_lifecycle(document, store), server))
        await asyncio.sleep(0.05)
        slow.cancel()
        return await asyncio.wait_for(waiter, 5)

    response = asyncio.run(main())

    assert response.status_code == 200
    assert server.token_count == 1


def test_waiting_longer_than_the_lock_timeout_fails_clearly() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()
    leader = _lifecycle(document, store).sync_auth_flow(Request("GET", API_URL))
    next(leader)

    with pytest.raises(FlowError, match=r"gave up after 0.2 s waiting"):
        call(_lifecycle(document, store, lock_timeout=0.2), server.handle)
    leader.close()


def test_two_auth_objects_for_the_same_credentials_share_one_token() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    document = client_credentials()

    call(_lifecycle(document, store), server.handle)
    call(_lifecycle(document, store), server.handle)

    assert server.token_count == 1


# -- rotation and the store ----------------------------------------------------------


def test_rotated_tokens_are_in_the_store_before_the_access_token_is_used() -> None:
    server = FakeOAuth(rotate=True)
    access, refresh = server.issue()
    store = MemoryStore()
    lifecycle = _lifecycle(code_grant(access, refresh), store)
    call(lifecycle, server.handle)
    server.revoke_access_tokens()
    seen: list[tuple[str | None, str | None]] = []

    def send(request: Request) -> Response:
        header = request.header("authorization")
        if request.url == API_URL and header != f"Bearer {access}":
            stored = store.get(lifecycle.key)
            assert stored is not None and stored.access_token is not None
            seen.append((header, f"Bearer {stored.access_token.reveal()}"))
        return server.handle(request)

    call(lifecycle, send)

    assert len(seen) == 1
    assert seen[0][0] == seen[0][1]
    stored = store.get(lifecycle.key)
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token.reveal() in server.refresh_tokens


def test_many_rotations_in_a_row_never_lose_the_refresh_token() -> None:
    server = FakeOAuth(rotate=True)
    access, refresh = server.issue()
    store = MemoryStore()
    document = code_grant(access, refresh)

    for _ in range(10):
        lifecycle = _lifecycle(document, store)
        server.revoke_access_tokens()
        assert call(lifecycle, server.handle).status_code == 200

    assert server.token_count == 10
    assert all(r["grant_type"] == "refresh_token" for r in server.token_requests)
    assert len({r["refresh_token"] for r in server.token_requests}) == 10


def test_the_store_is_read_again_after_the_lock_so_a_renewal_elsewhere_counts() -> None:
    server = FakeOAuth()
    store = MemoryStore()
    lifecycle = _lifecycle(client_credentials(), store)
    call(lifecycle, server.handle)
    access, refresh = server.issue()
    elsewhere = TokenRecord(
        access_token=access,
        refresh_token=refresh,
        expires_at=time.time() + 3600,
        issued_at=time.time(),
    )
    store.put(lifecycle.key, elsewhere, expected_version=None)
    lifecycle.invalidate()

    call(lifecycle, server.handle)

    assert server.token_count == 1
    assert _sent_token(server) == access


def test_a_failed_save_keeps_the_rotated_tokens_and_saves_them_next_time() -> None:
    server = FakeOAuth(rotate=True)
    access, refresh = server.issue()

    class FlakyStore(MemoryStore):
        broken = True

        def put(
            self, key: str, record: TokenRecord, *, expected_version: int | None
        ) -> TokenRecord:
            if self.broken:
                raise OSError("disk full")
            return super().put(key, record, expected_version=expected_version)

    store = FlakyStore()
    lifecycle = _lifecycle(code_grant(access, refresh), store)
    server.revoke_access_tokens()

    with pytest.raises(StoreError, match="kept in this process"):
        call(lifecycle, server.handle)
    store.broken = False
    response = call(lifecycle, server.handle)

    assert response.status_code == 200
    assert server.token_count == 1  # the rotated tokens were not spent again
    stored = store.get(lifecycle.key)
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token.reveal() in server.refresh_tokens


def test_a_version_conflict_keeps_the_stored_tokens_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = FakeOAuth(rotate=False)
    store = MemoryStore()
    lifecycle = _lifecycle(client_credentials(), store)
    theirs_access, _ = server.issue()

    def meddle(_: dict[str, str]) -> None:
        # Another host wrote while our lock had expired.
        store.put(
            lifecycle.key,
            TokenRecord(access_token=theirs_access, expires_at=time.time() + 999),
            expected_version=None,
        )

    server.on_token = meddle
    call(lifecycle, server.handle)

    assert _sent_token(server) == theirs_access
    assert "renewed elsewhere" in caplog.text


def test_an_invalid_grant_after_someone_else_rotated_uses_their_tokens() -> None:
    server = FakeOAuth(rotate=True)
    access, refresh = server.issue()
    store = MemoryStore()
    lifecycle = _lifecycle(code_grant(access, refresh), store)
    server.revoke_access_tokens()
    new_access, new_refresh = server.issue()

    def rotate_elsewhere(fields: dict[str, str]) -> None:
        server.refresh_tokens.discard(fields.get("refresh_token", ""))
        store.put(
            lifecycle.key,
            TokenRecord(
                access_token=new_access,
                refresh_token=new_refresh,
                expires_at=time.time() + 999,
            ),
            expected_version=None,
        )

    server.on_token = rotate_elsewhere
    response = call(lifecycle, server.handle)

    assert response.status_code == 200
    assert _sent_token(server) == new_access


def test_a_revoked_grant_of_a_code_flow_asks_for_reauthorization() -> None:
    server = FakeOAuth()
    lifecycle = _lifecycle(code_grant("unknown", "unknown-refresh"))

    with pytest.raises(ReauthorizationRequired, match="authorize again"):
        call(lifecycle, server.handle)


def test_credentials_come_back_updated_and_the_originals_stay_untouched() -> None:
    server = FakeOAuth()
    access, refresh = server.issue()
    lifecycle = _lifecycle(code_grant(access, refresh))
    original = lifecycle.credentials
    server.revoke_access_tokens()

    call(lifecycle, server.handle)

    latest = lifecycle.credentials
    assert original.user.access_token.reveal() == access
    assert latest.user.access_token.reveal() != access
    assert latest.user.refresh_token.reveal() in server.refresh_tokens
    assert latest.user.expires_at is not None
    assert latest is lifecycle.credentials  # cached until tokens change


def test_transient_token_failures_are_waited_out_in_the_sync_path() -> None:
    server = FakeOAuth()
    server.fail_next(Response(503, {"retry-after": "0"}), Response(500))
    lifecycle = _lifecycle(client_credentials())

    response = call(lifecycle, server.handle)

    assert response.status_code == 200
    assert server.token_count == 3


def test_transient_token_failures_are_waited_out_in_the_async_path() -> None:
    server = FakeOAuth()
    server.fail_next(Response(502))
    lifecycle = _lifecycle(client_credentials())

    response = asyncio.run(acall(lifecycle, server))

    assert response.status_code == 200
    assert server.token_count == 2


# -- keys and policy ------------------------------------------------------------------


def test_keys_follow_auth_id_or_the_identity_not_the_tokens() -> None:
    base = authplug.load(client_credentials()).flow()
    same = authplug.load(client_credentials()).flow()
    scoped = authplug.load(client_credentials(scopes=["read"])).flow()
    with_tokens = authplug.load(
        {**client_credentials(), "user": {"access_token": "x"}}
    ).flow()
    named = authplug.load({**client_credentials(), "auth_id": "acct-7"}).flow()

    assert credential_key(base) == credential_key(same) == credential_key(with_tokens)
    assert credential_key(scoped) != credential_key(base)
    assert credential_key(named) == "auth_id:acct-7"
    assert credential_key(base).startswith("oauth2.client_credentials:")


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"margin": -1}, "margin"),
        ({"default_lifetime": 0}, "default_lifetime"),
        ({"lock_timeout": float("nan")}, "lock_timeout"),
        ({"retry": {"attempts": 0}}, "retry.attempts"),
        ({"retry": {"backoff": -1}}, "retry.backoff"),
    ],
)
def test_bad_policy_values_are_config_errors_naming_the_field(
    options: dict[str, Any], path: str
) -> None:
    if "retry" in options:
        with pytest.raises(authplug.ConfigError) as caught:
            RetryPolicy(**options["retry"])
    else:
        with pytest.raises(authplug.ConfigError) as caught:
            RenewalPolicy(**options)

    assert [error.path for error in caught.value.errors] == [path]


@pytest.mark.parametrize("value", [["401"], None, "401", [True]])
def test_refresh_on_refuses_what_is_not_a_status_or_signal(value: Any) -> None:
    with pytest.raises(authplug.ConfigError, match="refresh_on"):
        RenewalPolicy(refresh_on=value)


def test_retry_may_be_a_table_and_nothing_else() -> None:
    policy = RenewalPolicy(retry={"attempts": 5})

    assert policy.retry == RetryPolicy(attempts=5)
    with pytest.raises(authplug.ConfigError, match="takes only attempts"):
        RenewalPolicy(retry={"tries": 5})
    with pytest.raises(authplug.ConfigError, match="must be a RetryPolicy"):
        RenewalPolicy(retry=5)


def test_a_policy_and_its_fields_together_are_refused() -> None:
    credentials = authplug.load(client_credentials())

    with pytest.raises(authplug.ConfigError, match="either policy or margin"):
        credentials.flow(policy=RenewalPolicy(), margin=5)


def test_renewal_logs_name_the_key_but_no_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = FakeOAuth()
    lifecycle = _lifecycle(client_credentials())

    call(lifecycle, server.handle)

    assert lifecycle.key in caplog.text
    assert "access-1" not in caplog.text and "fake-secret" not in caplog.text


class _CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    def put(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        self.puts += 1
        return super().put(key, record, expected_version=expected_version)


def test_a_fresh_seed_is_used_without_writing_it() -> None:
    store = _CountingStore()
    server = FakeOAuth()
    access, _ = server.issue()
    document = code_grant(access, None, expires_at=time.time() + 3600)

    call(_lifecycle(document, store), server.handle)

    assert store.puts == 0 and server.token_count == 0


def test_version_conflict_errors_name_both_versions() -> None:
    store = MemoryStore()
    store.put("k", TokenRecord(access_token="a"), expected_version=0)

    with pytest.raises(VersionConflict, match="expected version 0, found 1"):
        store.put("k", TokenRecord(access_token="b"), expected_version=0)
