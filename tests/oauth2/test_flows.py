"""The OAuth2 flows, driven by hand one request at a time."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.oauth2.support import (
    CLIENT_SECRET,
    PASSWORD,
    TOKEN_URL,
    Driver,
    FakeClock,
    credentials,
    form,
    json_response,
    token_body,
)

from authplug import FlowError, ReauthorizationRequired, TokenError
from authplug.http import Request, Response
from authplug.lifecycle import Issued, Pause, RetryPolicy, SendError
from authplug.oauth2 import OAuth2Flow, s256_challenge
from authplug.stores import TokenRecord

FAST = RetryPolicy(attempts=3, backoff=0.25, max_delay=5)


def _flow(type: str = "oauth2.client_credentials", **kwargs: Any) -> Any:
    clock = kwargs.pop("clock", FakeClock())
    options = {"clock": clock, "retry": kwargs.pop("retry", FAST)}
    options.update(kwargs.pop("options", {}))
    return credentials(type, **kwargs).flow(**options)


def _revealed(record: TokenRecord) -> tuple[str | None, str | None]:
    access = record.access_token.reveal() if record.access_token else None
    refresh = record.refresh_token.reveal() if record.refresh_token else None
    return access, refresh


# -- grants -------------------------------------------------------------------


def test_client_credentials_asks_with_the_client_and_its_scopes() -> None:
    flow = _flow(app={"scopes": "read write"})

    driver = Driver(flow.renew(None))
    request = driver.request()
    driver.answer(json_response(token_body(refresh_token=None)))

    assert form(request) == {"grant_type": "client_credentials", "scope": "read write"}
    assert request.headers["Authorization"].startswith("Basic ")
    assert driver.done and isinstance(driver.result, Issued)
    assert _revealed(driver.result.record) == ("access-1", None)
    assert driver.result.record.scopes == ("read", "write")


def test_password_sends_the_user_and_keeps_the_password_out_of_reprs() -> None:
    flow = _flow("oauth2.password")

    driver = Driver(flow.renew(None))
    request = driver.request()

    assert form(request) == {
        "grant_type": "password",
        "username": "alice",
        "password": PASSWORD,
    }
    assert PASSWORD not in repr(flow) and PASSWORD not in repr(request)


def test_refresh_sends_the_refresh_token_and_the_extra_params() -> None:
    flow = _flow(app={"audience": "aud", "resource": "https://api.example.com"})
    current = TokenRecord(access_token="old", refresh_token="refresh-0")

    driver = Driver(flow.renew(current))
    request = driver.request()
    driver.answer(json_response(token_body("access-2", refresh_token="refresh-2")))

    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": "refresh-0",
        "audience": "aud",
        "resource": "https://api.example.com",
    }
    assert _revealed(driver.result.record) == ("access-2", "refresh-2")


def test_a_refused_refresh_falls_back_to_the_grant_when_the_flow_can() -> None:
    flow = _flow("oauth2.password")
    current = TokenRecord(access_token="old", refresh_token="revoked")

    driver = Driver(flow.renew(current))
    driver.answer(json_response({"error": "invalid_grant"}, status=400))
    second = driver.request()
    driver.answer(json_response(token_body("fresh")))

    assert [form(r)["grant_type"] for r in driver.requests] == [
        "refresh_token",
        "password",
    ]
    assert form(second)["username"] == "alice"
    assert _revealed(driver.result.record)[0] == "fresh"


def test_the_code_flow_cannot_regrant_so_a_refused_refresh_means_reauthorize() -> None:
    flow = _flow("oauth2")
    current = TokenRecord(access_token="old", refresh_token="revoked")

    driver = Driver(flow.renew(current))
    with pytest.raises(ReauthorizationRequired, match="authorize again"):
        driver.answer(json_response({"error": "invalid_grant"}, status=400))

    assert len(driver.requests) == 1


def test_the_code_flow_without_any_refresh_token_says_to_authorize() -> None:
    flow = _flow("oauth2")

    with pytest.raises(ReauthorizationRequired, match="must authorize"):
        Driver(flow.renew(TokenRecord(access_token="expired")))


def test_the_clock_and_the_date_header_set_the_expiry() -> None:
    clock = FakeClock(1_000_000.0)
    flow = _flow(clock=clock)

    driver = Driver(flow.renew(None))
    driver.answer(json_response(token_body(expires_in="120"), date=1_000_300.0))

    issued = driver.result
    assert issued.clock_offset == pytest.approx(300, abs=1)
    assert issued.record.expires_at == pytest.approx(1_000_420.0, abs=1)


# -- transient faults -------------------------------------------------------------


def test_a_503_with_retry_after_pauses_as_asked_then_retries_the_same_request() -> None:
    flow = _flow()

    driver = Driver(flow.renew(None))
    first = driver.request()
    pause = driver.answer(
        json_response("busy", status=503, headers={"Retry-After": "2"})
    )
    again = driver.resume()
    driver.answer(json_response(token_body()))

    assert isinstance(pause, Pause) and pause.seconds == 2
    assert "503" in pause.reason
    assert again == first
    assert driver.done


def test_backoff_doubles_without_retry_after_and_stops_after_the_attempts() -> None:
    flow = _flow()
    driver = Driver(flow.renew(None))

    driver.answer(Response(500))
    driver.resume()
    driver.answer(Response(502))
    driver.resume()
    with pytest.raises(TokenError, match=r"HTTP 504.*\(3 tries\)") as caught:
        driver.answer(Response(504))

    assert [p.seconds for p in driver.pauses] == [0.25, 0.5]
    assert caught.value.status_code == 504


def test_a_retry_after_beyond_the_cap_ends_the_retries_at_once() -> None:
    flow = _flow()
    driver = Driver(flow.renew(None))

    with pytest.raises(TokenError, match="after 600 s, longer than max_delay"):
        driver.answer(Response(503, {"retry-after": "600"}))

    assert driver.pauses == []


def test_a_request_that_could_not_be_sent_is_retried_then_reported() -> None:
    flow = _flow(retry=RetryPolicy(attempts=2, backoff=0.1))
    driver = Driver(flow.renew(None))

    pause = driver.fail(SendError("timed out"))
    driver.resume()
    with pytest.raises(TokenError, match=r"could not reach .*timed out \(2 tries\)"):
        driver.fail(SendError("timed out"))

    assert isinstance(pause, Pause) and pause.seconds == 0.1


def test_client_errors_are_never_retried() -> None:
    flow = _flow()
    driver = Driver(flow.renew(None))

    with pytest.raises(TokenError):
        driver.answer(json_response({"error": "invalid_client"}, status=401))

    assert driver.pauses == [] and len(driver.requests) == 1


# -- the bare auth flow -----------------------------------------------------------


def test_auth_flow_gets_a_token_first_then_sends_the_request_with_it() -> None:
    flow = _flow()
    api = Request("GET", "https://api.example.com/me")

    steps = flow.auth_flow(api)
    token_request = next(steps)
    sent = steps.send(json_response(token_body("tok-A")))

    assert token_request.url == TOKEN_URL
    assert sent is api and api.headers["Authorization"] == "Bearer tok-A"
    with pytest.raises(StopIteration):
        steps.send(Response(200))
    assert flow.credentials.user.access_token.reveal() == "tok-A"


def test_auth_flow_reuses_a_fresh_token_without_any_token_request() -> None:
    clock = FakeClock()
    flow = _flow(
        clock=clock, user={"access_token": "given", "expires_at": clock.now + 3600}
    )
    api = Request("GET", "https://api.example.com/me")

    steps = flow.auth_flow(api)
    sent = next(steps)

    assert sent is api and api.headers["Authorization"] == "Bearer given"


def test_auth_flow_renews_inside_the_margin() -> None:
    clock = FakeClock()
    flow = _flow(
        clock=clock,
        user={"access_token": "old", "expires_at": clock.now + 30},
        options={"margin": 60},
    )

    first = next(flow.auth_flow(Request("GET", "https://api.example.com/")))

    assert first.url == TOKEN_URL


def test_a_401_leads_to_one_refresh_and_one_retry_never_a_loop() -> None:
    clock = FakeClock()
    flow = _flow(
        clock=clock,
        user={
            "access_token": "revoked",
            "refresh_token": "r1",
            "expires_at": clock.now + 3600,
        },
    )
    api = Request("GET", "https://api.example.com/me")

    steps = flow.auth_flow(api)
    next(steps)
    refresh = steps.send(Response(401))
    retry = steps.send(json_response(token_body("a2", refresh_token="r2")))

    assert form(refresh) == {"grant_type": "refresh_token", "refresh_token": "r1"}
    assert retry is api and api.headers["Authorization"] == "Bearer a2"
    with pytest.raises(StopIteration):
        steps.send(Response(401))


def test_a_configured_403_body_pattern_is_a_refresh_signal_too() -> None:
    clock = FakeClock()
    flow = _flow(
        clock=clock,
        user={
            "access_token": "a1",
            "refresh_token": "r1",
            "expires_at": clock.now + 999,
        },
        options={"refresh_on": [401, _signal(403, "token.*expired")]},
    )

    steps = flow.auth_flow(Request("GET", "https://api.example.com/me"))
    next(steps)
    refresh = steps.send(Response(403, {}, b'{"message": "token has expired"}'))

    assert refresh.url == TOKEN_URL


def test_a_403_that_does_not_match_the_pattern_is_returned_as_is() -> None:
    clock = FakeClock()
    flow = _flow(
        clock=clock,
        user={"access_token": "a1", "expires_at": clock.now + 999},
        options={"refresh_on": [_signal(403, "expired")]},
    )

    steps = flow.auth_flow(Request("GET", "https://api.example.com/me"))
    next(steps)

    with pytest.raises(StopIteration):
        steps.send(Response(403, {}, b"forbidden: not your repo"))


def _signal(status: int, pattern: str) -> Any:
    from authplug.lifecycle import RefreshSignal

    return RefreshSignal(status, body=pattern)


def test_the_bare_flow_does_not_wait_a_transient_failure_raises() -> None:
    flow = _flow()

    steps = flow.auth_flow(Request("GET", "https://api.example.com/"))
    next(steps)

    with pytest.raises(TokenError, match="503"):
        steps.send(Response(503, {"retry-after": "1"}))


# -- the code grant ---------------------------------------------------------------


def _code_flow(**app: Any) -> OAuth2Flow:
    app.setdefault("redirect_uri", "http://127.0.0.1:8765/callback")
    app.setdefault("scopes", ["read"])
    flow = credentials("oauth2", app=app).flow(clock=FakeClock())
    assert isinstance(flow, OAuth2Flow)
    return flow


def test_start_authorization_builds_a_pkce_s256_url_with_fresh_state() -> None:
    flow = _code_flow()

    first = flow.start_authorization()
    second = flow.start_authorization()

    query = {k: v[0] for k, v in parse_qs(urlsplit(first.url).query).items()}
    assert first.state != second.state
    assert query["state"] == first.state
    assert first.code_verifier is not None
    assert query["code_challenge"] == s256_challenge(first.code_verifier.reveal())
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "http://127.0.0.1:8765/callback"
    assert first.code_verifier.reveal() not in repr(first)


def test_without_pkce_no_challenge_is_sent() -> None:
    flow = _code_flow(pkce=False)

    pending = flow.start_authorization()

    assert pending.code_verifier is None
    assert "code_challenge" not in pending.url


def test_exchange_code_sends_code_redirect_uri_and_verifier() -> None:
    flow = _code_flow()
    pending = flow.start_authorization()
    callback = f"http://127.0.0.1:8765/callback?code=the-code&state={pending.state}"

    driver = Driver(flow.exchange_code(pending, callback))
    request = driver.request()
    driver.answer(json_response(token_body("a1", refresh_token="r1")))

    assert pending.code_verifier is not None
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code_verifier": pending.code_verifier.reveal(),
    }
    user = driver.result.user
    assert (user.access_token.reveal(), user.refresh_token.reveal()) == ("a1", "r1")


def test_a_callback_with_another_state_is_refused_before_any_request() -> None:
    flow = _code_flow()
    pending = flow.start_authorization()

    with pytest.raises(FlowError, match="state does not match"):
        Driver(flow.exchange_code(pending, "?code=c&state=forged"))


def test_a_denied_authorization_is_a_token_error_with_the_code() -> None:
    flow = _code_flow()
    pending = flow.start_authorization()
    callback = f"?error=access_denied&error_description=No+thanks&state={pending.state}"

    with pytest.raises(TokenError, match="not granted: access_denied") as caught:
        Driver(flow.exchange_code(pending, callback))

    assert caught.value.description == "No thanks"


def test_an_expired_code_means_authorize_again() -> None:
    flow = _code_flow()
    pending = flow.start_authorization()

    driver = Driver(flow.exchange_code(pending, code="used-code"))
    with pytest.raises(ReauthorizationRequired):
        driver.answer(json_response({"error": "invalid_grant"}, status=400))


def test_exchange_code_needs_exactly_one_of_callback_and_code() -> None:
    flow = _code_flow()
    pending = flow.start_authorization()

    with pytest.raises(FlowError, match="either"):
        Driver(flow.exchange_code(pending))


# -- secrets ------------------------------------------------------------------------


def test_no_secret_reaches_an_error_or_a_log_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    flow = _flow("oauth2.password")
    current = TokenRecord(access_token="acc-secret-9", refresh_token="ref-secret-9")
    echo = f"bad {CLIENT_SECRET} {PASSWORD} ref-secret-9"
    messages = []

    driver = Driver(flow.renew(current))
    driver.answer(
        json_response({"error": "invalid_grant", "error_description": echo}, 400)
    )
    driver.answer(Response(503, {"retry-after": "0"}, echo.encode()))
    driver.resume()
    with pytest.raises(TokenError) as caught:
        driver.answer(
            json_response({"error": "invalid_client", "error_description": echo}, 401)
        )
    messages.append(str(caught.value))
    messages.append(repr(caught.value))
    messages.extend(str(pause) for pause in driver.pauses)

    text = "\n".join(messages) + caplog.text
    for secret in (CLIENT_SECRET, PASSWORD, "ref-secret-9", "acc-secret-9"):
        assert secret not in text
    assert "invalid_client" in text
