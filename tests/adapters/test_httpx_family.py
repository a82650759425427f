"""The httpx2 and httpx adapters on MockTransports (one suite, both libraries)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any, ClassVar

import httpx
import httpx2
import pytest
from tests.fake_oauth import API_URL, TOKEN_URL, FakeOAuth, client_credentials

import authplug
from authplug import AuthType, ReauthorizationRequired, TokenError
from authplug.adapters import httpx as httpx_adapter
from authplug.adapters import httpx2 as httpx2_adapter
from authplug.flow import AuthFlow
from authplug.http import Request
from authplug.lifecycle import RefreshSignal, RetryPolicy
from authplug.records import NoFields
from authplug.stores import MemoryStore

FAST = RetryPolicy(attempts=3, backoff=0.01, max_delay=1)


@pytest.fixture(params=["httpx2", "httpx"])
def lib(request: pytest.FixtureRequest) -> ModuleType:
    """Return the client library under test."""
    return httpx2 if request.param == "httpx2" else httpx


def _auth(lib: ModuleType, document: Any, **options: Any) -> Any:
    options.setdefault("store", MemoryStore())
    options.setdefault("retry", FAST)
    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    return adapter.Auth(document, **options)


def _client(lib: ModuleType, auth: Any, server: FakeOAuth, **kwargs: Any) -> Any:
    return lib.Client(
        auth=auth, transport=lib.MockTransport(server.httpx_handler(lib)), **kwargs
    )


def _async_client(lib: ModuleType, auth: Any, server: FakeOAuth) -> Any:
    return lib.AsyncClient(
        auth=auth, transport=lib.MockTransport(server.httpx_handler(lib))
    )


# -- OAuth2 ---------------------------------------------------------------------


def test_the_one_liner_gives_an_httpx2_auth() -> None:
    auth = authplug.auth(client_credentials(), store=MemoryStore())

    assert isinstance(auth, httpx2.Auth)
    assert isinstance(auth, httpx2_adapter.Auth)


def test_a_cached_token_serves_many_requests(lib: ModuleType) -> None:
    server = FakeOAuth()
    auth = _auth(lib, client_credentials())

    with _client(lib, auth, server) as client:
        statuses = [client.get(API_URL).status_code for _ in range(10)]

    assert statuses == [200] * 10
    assert server.token_count == 1
    assert set(server.api_requests) == {"access-1"}


def test_the_same_object_serves_sync_and_async_clients(lib: ModuleType) -> None:
    server = FakeOAuth()
    auth = _auth(lib, client_credentials())

    with _client(lib, auth, server) as client:
        client.get(API_URL)

    async def main() -> int:
        async with _async_client(lib, auth, server) as client:
            response = await client.get(API_URL)
            return int(response.status_code)

    assert asyncio.run(main()) == 200
    assert server.token_count == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_401_refreshes_once_and_retries_once(lib: ModuleType, mode: str) -> None:
    server = FakeOAuth()
    auth = _auth(lib, client_credentials())
    with _client(lib, auth, server) as client:
        client.get(API_URL)
    server.revoke_access_tokens()

    if mode == "sync":
        with _client(lib, auth, server) as client:
            response = client.get(API_URL)
    else:

        async def main() -> Any:
            async with _async_client(lib, auth, server) as client:
                return await client.get(API_URL)

        response = asyncio.run(main())

    assert response.status_code == 200
    assert server.token_count == 2
    assert server.api_requests[-2:] == ["access-1", "access-2"]
    assert response.history[0].status_code == 401


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_401_after_the_retry_is_returned_never_a_loop(
    lib: ModuleType, mode: str
) -> None:
    server = FakeOAuth()
    calls: list[str] = []
    token_handler = server.httpx_handler(lib)

    def handler(request: Any) -> Any:
        calls.append(str(request.url))
        if str(request.url) == API_URL:
            return lib.Response(401)
        return token_handler(request)

    auth = _auth(lib, client_credentials())
    transport = lib.MockTransport(handler)
    if mode == "sync":
        with lib.Client(auth=auth, transport=transport) as client:
            response = client.get(API_URL)
    else:

        async def main() -> Any:
            async with lib.AsyncClient(auth=auth, transport=transport) as client:
                return await client.get(API_URL)

        response = asyncio.run(main())

    assert response.status_code == 401
    assert calls == [TOKEN_URL, API_URL, TOKEN_URL, API_URL]


def test_token_requests_go_through_the_users_client(lib: ModuleType) -> None:
    server = FakeOAuth()
    seen: list[tuple[str, Any]] = []
    auth = _auth(lib, client_credentials())
    hooks = {"request": [lambda r: seen.append((str(r.url), r.extensions))]}

    with _client(lib, auth, server, event_hooks=hooks, timeout=7.5) as client:
        client.get(API_URL)

    assert [url for url, _ in seen] == [TOKEN_URL, API_URL]
    token_timeout = seen[0][1]["timeout"]
    assert token_timeout == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


def test_the_token_request_carries_no_api_headers(lib: ModuleType) -> None:
    server = FakeOAuth()
    seen: list[Any] = []
    handler = server.httpx_handler(lib)

    def spy(request: Any) -> Any:
        seen.append(request)
        return handler(request)

    auth = _auth(lib, client_credentials())
    with lib.Client(auth=auth, transport=lib.MockTransport(spy)) as client:
        client.get(API_URL, headers={"X-Api-Only": "1"})

    token_request, api_request = seen
    assert "x-api-only" not in token_request.headers
    assert token_request.headers["authorization"].startswith("Basic ")
    assert api_request.headers["authorization"] == "Bearer access-1"


def test_a_body_pattern_signal_reads_only_the_matching_status(
    lib: ModuleType,
) -> None:
    server = FakeOAuth()
    answers = iter(
        [
            lib.Response(403, content=b'{"message": "token expired"}'),
            lib.Response(403, content=b'{"message": "not yours"}'),
        ]
    )
    handler = server.httpx_handler(lib)

    def api(request: Any) -> Any:
        if str(request.url) == API_URL and request.headers["authorization"] in {
            "Bearer access-1",
        }:
            return next(answers, None) or handler(request)
        return handler(request)

    auth = _auth(
        lib, client_credentials(), refresh_on=[RefreshSignal(403, body="expired")]
    )
    with lib.Client(auth=auth, transport=lib.MockTransport(api)) as client:
        first = client.get(API_URL)

    assert first.status_code == 200
    assert server.token_count == 2


def test_fifty_threads_through_one_client_make_one_token_request(
    lib: ModuleType,
) -> None:
    server = FakeOAuth(token_delay=0.2)
    auth = _auth(lib, client_credentials())
    start = threading.Barrier(50)
    statuses: list[int] = []

    with _client(lib, auth, server) as client:

        def worker() -> None:
            start.wait()
            statuses.append(client.get(API_URL).status_code)

        threads = [threading.Thread(target=worker) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [200] * 50
    assert server.token_count == 1


def test_five_hundred_tasks_through_one_client_make_one_token_request(
    lib: ModuleType,
) -> None:
    server = FakeOAuth()
    handler = server.httpx_handler(lib)

    async def slow_handler(request: Any) -> Any:
        if str(request.url) == TOKEN_URL:
            await asyncio.sleep(0.2)
        return handler(request)

    auth = _auth(lib, client_credentials())

    async def main() -> list[int]:
        transport = lib.MockTransport(slow_handler)
        limits = lib.Limits(max_connections=None)
        async with lib.AsyncClient(
            auth=auth, transport=transport, limits=limits
        ) as client:
            responses = await asyncio.gather(*(client.get(API_URL) for _ in range(500)))
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 500
    assert server.token_count == 1


def test_a_token_request_that_cannot_be_sent_raises_the_clients_error(
    lib: ModuleType,
) -> None:
    server = FakeOAuth()
    handler = server.httpx_handler(lib)
    down = True

    def flaky(request: Any) -> Any:
        if str(request.url) == TOKEN_URL and down:
            raise lib.ConnectError("connection refused", request=request)
        return handler(request)

    store = MemoryStore()
    auth = _auth(lib, client_credentials(), store=store)
    with lib.Client(auth=auth, transport=lib.MockTransport(flaky)) as client:
        with pytest.raises(lib.ConnectError):
            client.get(API_URL)
        assert store.keys() == []
        down = False
        response = client.get(API_URL)

    assert response.status_code == 200


def test_token_errors_surface_with_their_server_codes(lib: ModuleType) -> None:
    server = FakeOAuth()
    body = b'{"error": "invalid_client", "error_description": "unknown client"}'
    server.fail_next(lib_response(401, body))
    auth = _auth(lib, client_credentials())

    with _client(lib, auth, server) as client, pytest.raises(TokenError) as caught:
        client.get(API_URL)

    assert caught.value.error == "invalid_client"
    assert "fake-secret" not in str(caught.value)


def lib_response(status: int, body: bytes) -> Any:
    from authplug.http import Response

    return Response(status, {"content-type": "application/json"}, body)


def test_credentials_can_be_taken_back_to_persist(lib: ModuleType) -> None:
    server = FakeOAuth()
    auth = _auth(lib, client_credentials())

    with _client(lib, auth, server) as client:
        client.get(API_URL)

    saved = auth.credentials.dump()
    assert saved["user"]["access_token"] == "access-1"
    assert saved["user"]["refresh_token"] == "refresh-1"
    assert "access-1" not in repr(auth)


def test_invalidate_renews_before_the_next_request(lib: ModuleType) -> None:
    server = FakeOAuth()
    auth = _auth(lib, client_credentials())

    with _client(lib, auth, server) as client:
        client.get(API_URL)
        auth.invalidate()
        client.get(API_URL)

    assert server.token_count == 2


def test_a_code_grant_without_tokens_tells_the_user_to_authorize(
    lib: ModuleType,
) -> None:
    auth = _auth(
        lib,
        {
            "type": "oauth2",
            "app": {
                "client_id": "c",
                "client_secret": "s",
                "token_url": TOKEN_URL,
                "auth_url": "https://auth.example.com/authorize",
            },
        },
    )

    with (
        _client(lib, auth, FakeOAuth()) as client,
        pytest.raises(ReauthorizationRequired, match="must authorize"),
    ):
        client.get(API_URL)


# -- flows without a token lifecycle ------------------------------------------------


def _echo(lib: ModuleType) -> Any:
    def handler(request: Any) -> Any:
        return lib.Response(
            200,
            json={
                "url": str(request.url),
                "authorization": request.headers.get("authorization"),
                "x-signature": request.headers.get("x-signature"),
                "body": request.content.decode(),
            },
        )

    return lib.MockTransport(handler)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_basic_and_token_types_work_in_both_clients(lib: ModuleType, mode: str) -> None:
    basic = _auth_plain(
        lib, {"type": "basic", "user": {"username": "u", "password": "p"}}
    )
    query = _auth_plain(
        lib,
        {
            "type": "token",
            "user": {"access_token": "k-1"},
            "app": {"location": "query", "query_param": "key"},
        },
    )

    def send(auth: Any) -> dict[str, Any]:
        if mode == "sync":
            with lib.Client(auth=auth, transport=_echo(lib)) as client:
                return dict(client.get("https://api.example.com/x?a=1").json())

        async def main() -> dict[str, Any]:
            async with lib.AsyncClient(auth=auth, transport=_echo(lib)) as client:
                response = await client.get("https://api.example.com/x?a=1")
                return dict(response.json())

        return asyncio.run(main())

    assert send(basic)["authorization"] == "Basic dTpw"
    assert send(query)["url"] == "https://api.example.com/x?a=1&key=k-1"


def _auth_plain(lib: ModuleType, document: Any) -> Any:
    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    return adapter.Auth(document)


class _BodySigner(AuthFlow[NoFields, NoFields]):
    """Signs the body, as an OAuth1 or SigV4 flow does."""

    requires_request_body: ClassVar[bool] = True

    def apply(self, request: Request) -> None:
        digest = hashlib.sha256(request.content).hexdigest()
        request.headers["X-Signature"] = digest


class _BodyRewriter(AuthFlow[NoFields, NoFields]):
    """Puts its parameters into a form body, as OAuth1's body placement does."""

    requires_request_body: ClassVar[bool] = True

    def apply(self, request: Request) -> None:
        joiner = b"&" if request.content else b""
        request.content = request.content + joiner + b"oauth_signature=sig"


def _custom(flow: type[AuthFlow[Any, Any]], name: str) -> Any:
    return AuthType(name=name, summary="test", flow=flow).create()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_flow_that_signs_the_body_gets_it(lib: ModuleType, mode: str) -> None:
    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    auth = adapter.Auth(_custom(_BodySigner, "test.signer"))

    if mode == "sync":
        with lib.Client(auth=auth, transport=_echo(lib)) as client:
            data = client.post(API_URL, content=b"payload").json()
    else:

        async def main() -> Any:
            async with lib.AsyncClient(auth=auth, transport=_echo(lib)) as client:
                return (await client.post(API_URL, content=b"payload")).json()

        data = asyncio.run(main())

    assert data["x-signature"] == hashlib.sha256(b"payload").hexdigest()


def test_a_flow_that_rewrites_the_body_gets_it_sent(lib: ModuleType) -> None:
    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    auth = adapter.Auth(_custom(_BodyRewriter, "test.rewriter"))

    with lib.Client(auth=auth, transport=_echo(lib)) as client:
        data = client.post(API_URL, data={"a": "1"}).json()

    assert data["body"] == "a=1&oauth_signature=sig"


def test_plain_types_refuse_a_store(lib: ModuleType) -> None:
    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    document = {"type": "basic", "user": {"username": "u", "password": "p"}}

    with pytest.raises(authplug.ConfigError, match="keeps no tokens"):
        adapter.Auth(document, store=MemoryStore())


# -- running exchanges --------------------------------------------------------


@pytest.fixture
def code_flow() -> Iterator[Any]:
    credentials = authplug.load(
        {
            "type": "oauth2",
            "app": {
                "client_id": "fake-client",
                "client_secret": "fake-secret",
                "token_url": TOKEN_URL,
                "auth_url": "https://auth.example.com/authorize",
                "redirect_uri": "http://127.0.0.1:9999/cb",
            },
        }
    )
    yield credentials.flow(retry=FAST)


def test_run_retries_a_transport_error_then_returns_the_result(
    lib: ModuleType, code_flow: Any
) -> None:
    server = FakeOAuth()
    handler = server.httpx_handler(lib)
    failures = iter([True])

    def flaky(request: Any) -> Any:
        if next(failures, False):
            raise lib.ReadTimeout("slow", request=request)
        return handler(request)

    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    pending = code_flow.start_authorization()
    exchange = code_flow.exchange_code(pending, code="c-1")
    with lib.Client(transport=lib.MockTransport(flaky)) as client:
        credentials = adapter.run(exchange, client)

    assert credentials.user.access_token.reveal() == "access-1"
    assert server.token_requests[0]["code"] == "c-1"


def test_arun_runs_an_exchange_with_an_async_client(
    lib: ModuleType, code_flow: Any
) -> None:
    server = FakeOAuth()
    adapter = httpx2_adapter if lib is httpx2 else httpx_adapter
    pending = code_flow.start_authorization()

    async def main() -> Any:
        transport = lib.MockTransport(server.httpx_handler(lib))
        async with lib.AsyncClient(transport=transport) as client:
            return await adapter.arun(
                code_flow.exchange_code(pending, code="c"), client
            )

    credentials = asyncio.run(main())

    assert credentials.user.refresh_token.reveal() == "refresh-1"
