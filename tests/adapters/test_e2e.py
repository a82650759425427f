"""End to end against the real OAuth2 server (Authlib on 127.0.0.1).

Every grant through every client: httpx2 sync and async, httpx sync and
async, and requests. Then rotation, the 401 rule on a real API, single
flight counted at the server, and each token endpoint fault with its
documented outcome.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import httpx2
import pytest
import requests
from tests.oauth_server import ClientConfig, Fault, OAuthServer

import authplug
from authplug import ReauthorizationRequired, TokenError
from authplug.adapters import httpx as httpx_adapter
from authplug.adapters import httpx2 as httpx2_adapter
from authplug.adapters import requests as requests_adapter
from authplug.lifecycle import RetryPolicy
from authplug.stores import MemoryStore, TokenStore

KINDS = ["httpx2-sync", "httpx2-async", "httpx-sync", "httpx-async", "requests"]
HTTPX_KINDS = KINDS[:4]
QUICK = RetryPolicy(attempts=3, backoff=0.05, max_delay=5)


_open_sessions: list[requests.Session] = []


@pytest.fixture(autouse=True)
def _close_sessions() -> Any:
    yield
    while _open_sessions:
        _open_sessions.pop().close()


class Caller:
    """One auth object and a way to send a GET through one kind of client."""

    def __init__(
        self,
        kind: str,
        document: Any,
        *,
        store: TokenStore | None = None,
        timeout: float = 5.0,
        **options: Any,
    ) -> None:
        self.kind = kind
        self.timeout = timeout
        self.store = store if store is not None else MemoryStore()
        options.setdefault("retry", QUICK)
        if kind == "requests":
            self.session = requests.Session()
            _open_sessions.append(self.session)
            self.auth: Any = requests_adapter.Auth(
                document,
                session=self.session,
                store=self.store,
                token_timeout=timeout,
                **options,
            )
            self.session.auth = self.auth
        else:
            adapter = httpx2_adapter if kind.startswith("httpx2") else httpx_adapter
            self.auth = adapter.Auth(document, store=self.store, **options)

    @property
    def lib(self) -> Any:
        return httpx2 if self.kind.startswith("httpx2") else httpx

    def get(self, url: str) -> tuple[int, Any]:
        """Send GET ``url``; return the status and the JSON body (or None)."""
        if self.kind == "requests":
            response = self.session.get(url, timeout=self.timeout)
            return response.status_code, _json(response)
        if self.kind.endswith("-sync"):
            with self.lib.Client(auth=self.auth, timeout=self.timeout) as client:
                response = client.get(url)
            return response.status_code, _json(response)
        return asyncio.run(self._aget(url))

    async def _aget(self, url: str) -> tuple[int, Any]:
        async with self.lib.AsyncClient(auth=self.auth, timeout=self.timeout) as client:
            response = await client.get(url)
        return response.status_code, _json(response)

    @property
    def refresh_token(self) -> str | None:
        token = self.auth.credentials.user.refresh_token
        return None if token is None else str(token.reveal())

    @property
    def access_token(self) -> str | None:
        token = self.auth.credentials.user.access_token
        return None if token is None else str(token.reveal())


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def client_credentials(
    server: OAuthServer, client_id: str = "basic-client", secret: str = "basic-secret"
) -> dict[str, Any]:
    method = "client_secret_post" if client_id == "post-client" else None
    app: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": secret,
        "token_url": server.token_url,
        "scopes": ["read"],
    }
    if method:
        app["client_auth"] = method
    return {"type": "oauth2.client_credentials", "app": app}


def password(server: OAuthServer) -> dict[str, Any]:
    return {
        "type": "oauth2.password",
        "app": {
            "client_id": "basic-client",
            "client_secret": "basic-secret",
            "token_url": server.token_url,
            "scopes": "read write",
        },
        "user": {"username": "alice", "password": "alice-password"},
    }


def authorize(
    server: OAuthServer, *, public: bool = False
) -> authplug.Credentials[Any, Any]:
    """Run the code grant with PKCE as a browser would; return the credentials."""
    app: dict[str, Any] = {
        "client_id": "public-client" if public else "basic-client",
        "token_url": server.token_url,
        "auth_url": server.authorize_url,
        "redirect_uri": "http://127.0.0.1/callback",
        "scopes": ["read", "profile"],
    }
    if public:
        app["client_auth"] = "none"
    else:
        app["client_secret"] = "basic-secret"
    flow = authplug.load({"type": "oauth2", "app": app}).flow()

    pending = flow.start_authorization()
    location = server.approve(pending.url)
    with httpx2.Client(timeout=5) as client:
        credentials: authplug.Credentials[Any, Any] = httpx2_adapter.run(
            flow.exchange_code(pending, location), client
        )
    return credentials


# -- every grant through every client ----------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("client_id", ["basic-client", "post-client"])
def test_client_credentials_with_basic_and_post_client_auth(
    oauth_server: OAuthServer, kind: str, client_id: str
) -> None:
    secret = "basic-secret" if client_id == "basic-client" else "post-secret"
    caller = Caller(kind, client_credentials(oauth_server, client_id, secret))

    first = caller.get(oauth_server.api_url)
    second = caller.get(oauth_server.api_url)

    assert first == second
    assert first[0] == 200 and first[1]["client_id"] == client_id
    assert first[1]["grant_type"] == "client_credentials"
    assert oauth_server.token_request_count() == 1
    record = oauth_server.last_token_request
    expected = (
        "client_secret_basic" if client_id == "basic-client" else "client_secret_post"
    )
    assert record.auth_method == expected


@pytest.mark.parametrize("kind", KINDS)
def test_password_grant_then_refresh_with_rotation(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, password(oauth_server))
    status, body = caller.get(oauth_server.api_url)
    first_refresh = caller.refresh_token
    oauth_server.expire_access_tokens()

    again = caller.get(oauth_server.api_url)

    assert (status, body["sub"], body["scope"]) == (200, "alice", "read write")
    assert again[0] == 200
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}
    assert first_refresh is not None
    assert caller.refresh_token != first_refresh
    assert not oauth_server.is_refresh_token_active(first_refresh)
    assert oauth_server.is_refresh_token_active(caller.refresh_token or "")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("public", [False, True], ids=["confidential", "public"])
def test_authorization_code_with_pkce_then_refresh(
    oauth_server: OAuthServer, kind: str, public: bool
) -> None:
    credentials = authorize(oauth_server, public=public)
    exchange = oauth_server.last_token_request
    caller = Caller(kind, credentials)

    status, body = caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    after = caller.get(oauth_server.api_url)

    assert exchange.grant_type == "authorization_code"
    assert "code_verifier" in exchange.form
    assert exchange.auth_method == ("none" if public else "client_secret_basic")
    assert (status, body["sub"]) == (200, "alice")
    assert after[0] == 200
    assert oauth_server.token_counts == {"authorization_code": 1, "refresh_token": 1}
    stored = caller.store.get(caller.auth.lifecycle.key)
    assert stored is not None and stored.refresh_token is not None
    assert oauth_server.is_refresh_token_active(stored.refresh_token.reveal())


def test_the_code_exchange_refuses_a_forged_state(oauth_server: OAuthServer) -> None:
    flow = authplug.load(
        {
            "type": "oauth2",
            "app": {
                "client_id": "basic-client",
                "client_secret": "basic-secret",
                "token_url": oauth_server.token_url,
                "auth_url": oauth_server.authorize_url,
                "redirect_uri": "http://127.0.0.1/callback",
            },
        }
    ).flow()
    pending = flow.start_authorization()
    location = oauth_server.approve(pending.url).replace(pending.state, "forged")

    with httpx2.Client() as client, pytest.raises(authplug.FlowError, match="state"):
        httpx2_adapter.run(flow.exchange_code(pending, location), client)

    assert oauth_server.token_request_count() == 0


@pytest.mark.parametrize("kind", ["httpx2-sync", "requests"])
def test_ids_and_secrets_with_reserved_characters_survive_basic_auth(
    oauth_server: OAuthServer, kind: str
) -> None:
    client_id, secret = "cl:ï%+ d/ü", "s:%+ é&=é"
    oauth_server.add_client(ClientConfig(client_id, secret))
    caller = Caller(kind, client_credentials(oauth_server, client_id, secret))

    status, body = caller.get(oauth_server.api_url)

    assert (status, body["client_id"]) == (200, client_id)
    assert oauth_server.last_token_request.basic_auth == (
        "cl%3A%C3%AF%25%2B+d%2F%C3%BC",
        "s%3A%25%2B+%C3%A9%26%3D%C3%A9",
    )


@pytest.mark.parametrize("kind", ["httpx2-async", "requests"])
def test_audience_and_resource_go_with_the_grant_and_the_refresh(
    oauth_server: OAuthServer, kind: str
) -> None:
    document = password(oauth_server)
    document["app"]["audience"] = "https://api.example.com"
    document["app"]["resource"] = "https://api.example.com/v1"
    caller = Caller(kind, document)

    _, body = caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    _, refreshed = caller.get(oauth_server.api_url)

    for record in oauth_server.token_requests:
        assert record.form["audience"] == "https://api.example.com"
        assert record.form["resource"] == "https://api.example.com/v1"
    assert body["audience"] == refreshed["audience"] == "https://api.example.com"


@pytest.mark.parametrize(
    "expires_in_format", ["int", "float", "string", "float-string"]
)
def test_every_expires_in_format_gives_the_right_expiry(
    oauth_server: OAuthServer, expires_in_format: str
) -> None:
    oauth_server.configure(
        expires_in_format=expires_in_format, access_token_lifetime=900
    )
    caller = Caller("httpx2-sync", client_credentials(oauth_server))

    caller.get(oauth_server.api_url)

    expires_at = caller.auth.credentials.user.expires_at
    assert expires_at == pytest.approx(time.time() + 900, abs=5)


def test_an_omitted_expires_in_means_the_default_lifetime(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(expires_in_format="omit")
    caller = Caller(
        "httpx2-sync", client_credentials(oauth_server), default_lifetime=600
    )

    caller.get(oauth_server.api_url)

    expires_at = caller.auth.credentials.user.expires_at
    assert expires_at == pytest.approx(time.time() + 600, abs=5)


def test_a_server_clock_an_hour_ahead_does_not_expire_tokens_early(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(clock_skew=3600, access_token_lifetime=1800)
    caller = Caller("httpx2-sync", client_credentials(oauth_server))

    for _ in range(3):
        assert caller.get(oauth_server.api_url)[0] == 200

    view = caller.auth.lifecycle.current()
    assert oauth_server.token_request_count() == 1
    assert view is not None
    assert view.fresh_until == pytest.approx(time.time() + 1800 - 60, abs=5)


# -- the 401 rule on a real API ----------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_api_401_refreshes_once_and_retries_once(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, password(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.inject(Fault.oauth_error("invalid_token", status=401), endpoint="api")

    status, body = caller.get(oauth_server.api_url)

    assert (status, body["sub"]) == (200, "alice")
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}
    assert oauth_server.api_request_count() == 3


@pytest.mark.parametrize("kind", KINDS)
def test_an_api_that_keeps_answering_401_gets_one_retry_only(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, password(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.inject(
        Fault.oauth_error("invalid_token", status=401), endpoint="api", times=None
    )

    status, _ = caller.get(oauth_server.api_url)

    assert status == 401
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}
    assert oauth_server.api_request_count() == 3


def test_revoking_access_tokens_on_refresh_still_works_across_two_auths(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(revoke_access_token_on_refresh=True)
    store = MemoryStore()
    first = Caller("httpx2-sync", password(oauth_server), store=store)
    second = Caller("requests", password(oauth_server), store=store)
    first.get(oauth_server.api_url)
    second.get(oauth_server.api_url)
    first.auth.invalidate()
    first.get(oauth_server.api_url)  # revokes the token second holds

    status, _ = second.get(oauth_server.api_url)

    assert status == 200
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}


# -- single flight, counted at the server ------------------------------


def test_fifty_threads_on_an_expired_token_send_one_refresh(
    oauth_server: OAuthServer,
) -> None:
    caller = Caller("httpx2-sync", password(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    caller.auth.invalidate()
    start = threading.Barrier(50)
    statuses: list[int] = []

    with httpx2.Client(auth=caller.auth, timeout=10) as client:

        def worker() -> None:
            start.wait()
            statuses.append(client.get(oauth_server.api_url).status_code)

        threads = [threading.Thread(target=worker) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert statuses == [200] * 50
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}


def test_five_hundred_tasks_on_an_expired_token_send_one_refresh(
    oauth_server: OAuthServer,
) -> None:
    caller = Caller("httpx2-async", password(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    caller.auth.invalidate()

    async def main() -> list[int]:
        async with httpx2.AsyncClient(auth=caller.auth, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(oauth_server.api_url) for _ in range(500))
            )
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 500
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}


# -- token endpoint faults ---------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_500_is_retried_and_the_refresh_token_kept(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, password(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    oauth_server.inject(Fault.server_error(), grant_type="refresh_token")

    status, _ = caller.get(oauth_server.api_url)

    assert status == 200
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 2}
    assert oauth_server.is_refresh_token_active(caller.refresh_token or "")


@pytest.mark.parametrize("kind", ["httpx2-sync", "httpx-async", "requests"])
def test_a_503_with_retry_after_is_waited_out(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, client_credentials(oauth_server))
    oauth_server.inject(Fault.unavailable(retry_after=1))
    started = time.monotonic()

    status, _ = caller.get(oauth_server.api_url)

    waited = time.monotonic() - started
    records = oauth_server.token_requests
    assert status == 200
    assert [r.status for r in records] == [503, 200]
    assert records[1].received_at - records[0].received_at >= 0.9
    assert waited >= 0.9


def test_a_retry_after_longer_than_the_cap_fails_at_once(
    oauth_server: OAuthServer,
) -> None:
    caller = Caller("httpx2-sync", client_credentials(oauth_server))
    oauth_server.inject(Fault.unavailable(retry_after=120))

    with pytest.raises(TokenError, match="retried after 120 s") as caught:
        caller.get(oauth_server.api_url)

    assert caught.value.status_code == 503
    assert oauth_server.token_request_count() == 1


@pytest.mark.parametrize("kind", ["httpx2-async", "requests"])
def test_a_server_that_stays_broken_gets_exactly_the_retry_budget(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, password(oauth_server))
    caller.get(oauth_server.api_url)
    kept = caller.refresh_token
    oauth_server.expire_access_tokens()
    oauth_server.inject(Fault.server_error(), times=None)

    with pytest.raises(TokenError, match=r"HTTP 500.*\(3 tries\)"):
        caller.get(oauth_server.api_url)

    assert oauth_server.token_counts == {"password": 1, "refresh_token": 3}
    assert caller.refresh_token == kept
    assert oauth_server.is_refresh_token_active(kept or "")


@pytest.mark.parametrize("kind", ["httpx2-sync", "httpx-async", "requests"])
def test_an_html_page_is_a_clear_error_and_not_retried(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, client_credentials(oauth_server))
    oauth_server.inject(Fault.html(200))

    with pytest.raises(TokenError) as caught:
        caller.get(oauth_server.api_url)

    message = str(caught.value)
    assert "HTTP 200 with text/html" in message and "<html" not in message.lower()
    assert "basic-secret" not in message
    assert oauth_server.token_request_count() == 1


def test_an_html_error_page_from_a_proxy_counts_as_transient(
    oauth_server: OAuthServer,
) -> None:
    caller = Caller("httpx2-sync", client_credentials(oauth_server))
    oauth_server.inject(Fault.html(502))

    status, _ = caller.get(oauth_server.api_url)

    assert status == 200
    assert [r.status for r in oauth_server.token_requests] == [502, 200]


@pytest.mark.parametrize("kind", HTTPX_KINDS)
def test_a_token_timeout_raises_the_clients_error_and_keeps_the_tokens(
    oauth_server: OAuthServer, kind: str
) -> None:
    oauth_server.configure(rotate_refresh_tokens=False)
    caller = Caller(kind, password(oauth_server), timeout=0.5)
    caller.get(oauth_server.api_url)
    kept = caller.refresh_token
    oauth_server.expire_access_tokens()
    oauth_server.inject(Fault.delay(3), grant_type="refresh_token")

    with pytest.raises(caller.lib.TimeoutException):
        caller.get(oauth_server.api_url)
    status, _ = caller.get(oauth_server.api_url)

    assert status == 200
    assert caller.refresh_token == kept
    assert oauth_server.token_counts == {"password": 1, "refresh_token": 2}


def test_a_token_timeout_is_retried_by_the_requests_adapter(
    oauth_server: OAuthServer,
) -> None:
    caller = Caller("requests", client_credentials(oauth_server), timeout=0.5)
    oauth_server.inject(Fault.delay(3))

    status, _ = caller.get(oauth_server.api_url)

    assert status == 200
    assert oauth_server.token_request_count() == 2


@pytest.mark.parametrize("kind", ["httpx2-sync", "requests"])
def test_a_dropped_connection(oauth_server: OAuthServer, kind: str) -> None:
    caller = Caller(kind, client_credentials(oauth_server))
    oauth_server.inject(Fault.drop())

    if kind == "requests":
        status, _ = caller.get(oauth_server.api_url)  # retried
        assert status == 200
    else:
        with pytest.raises(httpx2.TransportError):
            caller.get(oauth_server.api_url)
        assert caller.get(oauth_server.api_url)[0] == 200

    assert oauth_server.token_request_count() == 2


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_grant_on_a_code_flow_refresh_asks_to_authorize_again(
    oauth_server: OAuthServer, kind: str
) -> None:
    caller = Caller(kind, authorize(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    oauth_server.inject(Fault.invalid_grant(), grant_type="refresh_token")

    with pytest.raises(ReauthorizationRequired, match="authorize again") as caught:
        caller.get(oauth_server.api_url)

    assert caught.value.error == "invalid_grant"
    assert oauth_server.token_counts == {"authorization_code": 1, "refresh_token": 1}


def test_invalid_grant_on_a_password_refresh_falls_back_to_the_password(
    oauth_server: OAuthServer,
) -> None:
    caller = Caller("httpx2-sync", password(oauth_server))
    caller.get(oauth_server.api_url)
    oauth_server.expire_access_tokens()
    oauth_server.inject(Fault.invalid_grant(), grant_type="refresh_token")

    status, _ = caller.get(oauth_server.api_url)

    assert status == 200
    assert oauth_server.token_counts == {"password": 2, "refresh_token": 1}


def test_a_wrong_client_secret_is_a_token_error_without_the_secret(
    oauth_server: OAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    caller = Caller(
        "httpx2-sync", client_credentials(oauth_server, secret="wrong-secret-value")
    )

    with pytest.raises(TokenError) as caught:
        caller.get(oauth_server.api_url)

    assert caught.value.error == "invalid_client"
    assert "wrong-secret-value" not in str(caught.value) + caplog.text
    assert oauth_server.token_request_count() == 1
