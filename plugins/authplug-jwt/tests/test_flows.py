"""The flows driven by hand: token requests, assertions, retries, errors."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import authplug
import jwt as pyjwt
import pytest
from authplug import ConfigError, ReauthorizationRequired, Request, Response, TokenError
from authplug.lifecycle import RetryPolicy, credential_key, drive
from authplug.stores import TokenRecord

from authplug_jwt import CLIENT_ASSERTION_TYPE, JWT_BEARER_GRANT

TOKEN_URL = "https://auth.example.com/oauth/token"
API_URL = "https://api.example.com/v1/items"
NOW = 1_767_225_600.0
FAST = RetryPolicy(attempts=3, backoff=0.01, max_delay=1)


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def nonces() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"jti-{next(counter)}"


def token_response(
    access_token: str = "access-1", status: int = 200, **fields: Any
) -> Response:
    body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}
    body.update(fields)
    return Response(
        status, {"content-type": "application/json"}, json.dumps(body).encode()
    )


def error_response(error: str, status: int = 400, **fields: str) -> Response:
    body = json.dumps({"error": error, **fields}).encode()
    return Response(status, {"content-type": "application/json"}, body)


def form(request: Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode("ascii")))


class Server:
    """Answers token requests from a list, keeping what it was sent."""

    def __init__(self, *responses: Response) -> None:
        self.responses: Iterator[Response] = iter(responses)
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return next(self.responses)


def bearer(pem: str, *, subject: str = "alice", **app: Any) -> Any:
    return authplug.load(
        {
            "type": "oauth2.jwt_bearer",
            "user": {"subject": subject},
            "app": {
                "client_id": "svc",
                "token_url": TOKEN_URL,
                "private_key": pem,
                "key_id": "k1",
                **app,
            },
        }
    )


def client(pem: str, *, user: dict[str, Any] | None = None, **app: Any) -> Any:
    return authplug.load(
        {
            "type": "oauth2.private_key_jwt",
            "user": user or {},
            "app": {
                "client_id": "svc",
                "token_url": TOKEN_URL,
                "private_key": pem,
                **app,
            },
        }
    )


def flow_of(credentials: Any, clock: Clock | None = None) -> Any:
    return credentials.flow(clock=clock or Clock(), nonce=nonces(), retry=FAST)


def read(assertion: str, key: Any, audience: str = TOKEN_URL) -> dict[str, Any]:
    claims: dict[str, Any] = pyjwt.decode(
        assertion,
        key.public_key(),
        algorithms=["RS256", "ES256"],
        audience=audience,
        options={"verify_exp": False, "verify_iat": False},
    )
    return claims


# The JWT bearer grant


def test_the_grant_sends_a_signed_assertion_for_the_subject(
    algorithm: str, private_key: Any, private_pem: str
) -> None:
    flow = flow_of(bearer(private_pem, scopes="read write", assertion_lifetime=120))
    server = Server(token_response())

    issued = drive(flow.renew(None), server)

    sent = server.requests[0]
    fields = form(sent)
    assertion = fields.pop("assertion")
    assert fields == {
        "grant_type": JWT_BEARER_GRANT,
        "scope": "read write",
        "client_id": "svc",
    }
    assert "Authorization" not in sent.headers
    assert read(assertion, private_key) == {
        "iss": "svc",
        "sub": "alice",
        "aud": TOKEN_URL,
        "iat": int(NOW),
        "exp": int(NOW) + 120,
        "jti": "jti-1",
    }
    assert pyjwt.get_unverified_header(assertion)["kid"] == "k1"
    assert pyjwt.get_unverified_header(assertion)["alg"] == algorithm
    assert issued.record.access_token.reveal() == "access-1"


def test_the_grant_can_also_authenticate_the_client(
    private_key: Any, private_pem: str
) -> None:
    credentials = bearer(
        private_pem, client_auth="client_secret_basic", client_secret="pw-value"
    )
    server = Server(token_response())

    drive(flow_of(credentials).renew(None), server)

    sent = server.requests[0]
    assert sent.headers["Authorization"].startswith("Basic ")
    assert "client_id" not in form(sent)
    assert read(form(sent)["assertion"], private_key)["iss"] == "svc"


def test_the_audience_and_extra_claims_go_in_the_assertion(
    private_key: Any, private_pem: str
) -> None:
    credentials = bearer(
        private_pem,
        assertion_audience="https://auth.example.com",
        claims={"scope": "https://www.googleapis.com/auth/drive"},
        audience="https://api.example.com",
        token_params={"tenant": "acme"},
    )
    server = Server(token_response())

    drive(flow_of(credentials).renew(None), server)

    fields = form(server.requests[0])
    claims = read(fields["assertion"], private_key, audience="https://auth.example.com")
    assert claims["scope"] == "https://www.googleapis.com/auth/drive"
    assert (fields["audience"], fields["tenant"]) == ("https://api.example.com", "acme")


def test_every_try_signs_a_new_assertion(private_key: Any, private_pem: str) -> None:
    clock = Clock()
    flow = flow_of(bearer(private_pem), clock)

    def later(seconds: float) -> None:
        clock.now += seconds

    server = Server(
        Response(503, {"retry-after": "1"}),
        error_response("slow_down", 429),
        token_response(),
    )
    drive(flow.renew(None), server, sleep=later)

    claims = [read(form(sent)["assertion"], private_key) for sent in server.requests]
    assert [c["jti"] for c in claims] == ["jti-1", "jti-2", "jti-3"]
    assert claims[1]["iat"] > claims[0]["iat"]


def test_renewal_signs_a_new_assertion_and_leaves_refresh_tokens_alone(
    private_key: Any, private_pem: str
) -> None:
    flow = flow_of(bearer(private_pem))
    current = TokenRecord(access_token="old", refresh_token="unused", expires_at=NOW)
    server = Server(token_response("access-2"))

    issued = drive(flow.renew(current), server)

    fields = form(server.requests[0])
    assert fields["grant_type"] == JWT_BEARER_GRANT
    assert "refresh_token" not in fields
    assert read(fields["assertion"], private_key)["jti"] == "jti-1"
    assert issued.record.access_token.reveal() == "access-2"


def test_a_refused_assertion_is_a_token_error_that_says_what_to_check(
    private_pem: str,
) -> None:
    flow = flow_of(bearer(private_pem))
    server = Server(error_response("invalid_grant", error_description="bad signature"))

    with pytest.raises(TokenError) as caught:
        drive(flow.renew(None), server)

    error = caught.value
    assert not isinstance(error, ReauthorizationRequired)
    assert (error.error, error.description, error.status_code) == (
        "invalid_grant",
        "bad signature",
        400,
    )
    message = str(error)
    assert f"refused the {JWT_BEARER_GRANT} grant (HTTP 400)" in message
    assert "the server refused the assertion: check client_id" in message
    assert "private_key and key_id" in message
    assert "user name and password" not in message


def test_an_echoed_assertion_is_masked(private_pem: str) -> None:
    flow = flow_of(bearer(private_pem))

    def echo(request: Request) -> Response:
        assertion = form(request)["assertion"]
        return error_response("invalid_grant", error_description=f"bad {assertion}")

    with pytest.raises(TokenError) as caught:
        drive(flow.renew(None), echo)

    assert caught.value.description == "bad ********"


def test_the_assertion_field_cannot_be_set_through_token_params(
    private_pem: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        bearer(private_pem, token_params={"assertion": "forged"})

    assert [e.path for e in caught.value.errors] == ["app.token_params.assertion"]


def test_each_subject_has_its_own_token(private_pem: str) -> None:
    alice = bearer(private_pem, subject="alice").flow()
    bob = bearer(private_pem, subject="bob").flow()
    alice_again = bearer(private_pem, subject="alice").flow()

    assert credential_key(alice) != credential_key(bob)
    assert credential_key(alice) == credential_key(alice_again)


def test_the_flow_applies_the_token_and_renews_once_on_a_401(
    private_key: Any, private_pem: str
) -> None:
    flow = flow_of(bearer(private_pem))
    steps = flow.auth_flow(Request("GET", API_URL))

    first_token_request = next(steps)
    api_request = steps.send(token_response("access-1"))
    first_header = api_request.headers["Authorization"]
    second_token_request = steps.send(Response(401))
    retried = steps.send(token_response("access-2"))

    assert retried is api_request and api_request.url == API_URL
    assert first_header == "Bearer access-1"
    assert retried.headers["Authorization"] == "Bearer access-2"
    jtis = [
        read(form(sent)["assertion"], private_key)["jti"]
        for sent in (first_token_request, second_token_request)
    ]
    assert jtis == ["jti-1", "jti-2"]
    assert flow.credentials.user.access_token.reveal() == "access-2"


# private_key_jwt


def test_client_credentials_are_authenticated_by_a_client_assertion(
    algorithm: str, private_key: Any, private_pem: str
) -> None:
    flow = flow_of(client(private_pem, scopes="read", key_id="k2"))
    server = Server(token_response())

    drive(flow.renew(None), server)

    sent = server.requests[0]
    fields = form(sent)
    assertion = fields.pop("client_assertion")
    assert fields == {
        "grant_type": "client_credentials",
        "scope": "read",
        "client_id": "svc",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
    }
    assert "Authorization" not in sent.headers
    assert read(assertion, private_key) == {
        "iss": "svc",
        "sub": "svc",
        "aud": TOKEN_URL,
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "jti": "jti-1",
    }
    assert pyjwt.get_unverified_header(assertion) == {
        "alg": algorithm,
        "typ": "JWT",
        "kid": "k2",
    }


def test_a_refresh_is_authenticated_by_a_client_assertion_too(
    private_key: Any, private_pem: str
) -> None:
    flow = flow_of(client(private_pem))
    current = TokenRecord(access_token="a", refresh_token="refresh-1", expires_at=NOW)
    server = Server(token_response("access-2", refresh_token="refresh-2"))

    issued = drive(flow.renew(current), server)

    fields = form(server.requests[0])
    assert (fields["grant_type"], fields["refresh_token"]) == (
        "refresh_token",
        "refresh-1",
    )
    assert fields["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert read(fields["client_assertion"], private_key)["sub"] == "svc"
    assert issued.record.refresh_token.reveal() == "refresh-2"


def test_a_refused_refresh_falls_back_to_the_grant(private_pem: str) -> None:
    flow = flow_of(client(private_pem))
    current = TokenRecord(access_token="a", refresh_token="refresh-1", expires_at=NOW)
    server = Server(error_response("invalid_grant"), token_response("access-2"))

    issued = drive(flow.renew(current), server)

    grants = [form(sent)["grant_type"] for sent in server.requests]
    assert grants == ["refresh_token", "client_credentials"]
    assert issued.record.access_token.reveal() == "access-2"


def test_a_refused_client_assertion_says_what_to_check(private_pem: str) -> None:
    flow = flow_of(client(private_pem))
    server = Server(error_response("invalid_client", 401))

    with pytest.raises(TokenError) as caught:
        drive(flow.renew(None), server)

    message = str(caught.value)
    assert caught.value.error == "invalid_client"
    assert "the server refused the client assertion: check client_id" in message
    assert "client_secret" not in message


def test_the_key_is_never_logged_or_shown(
    private_pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    flow = flow_of(client(private_pem))
    server = Server(Response(500), error_response("invalid_client", 401))

    with pytest.raises(TokenError) as caught:
        drive(flow.renew(None), server)

    shown = caplog.text + str(caught.value) + repr(flow)
    key_lines = [line for line in private_pem.splitlines() if "-----" not in line]
    assert caplog.records
    assert not any(line in shown for line in key_lines)
    assert form(server.requests[0])["client_assertion"] not in shown
