"""Reading token responses: lifetimes, kept refresh tokens, errors, hints."""

from __future__ import annotations

import logging
from email.utils import formatdate

import pytest
from tests.oauth2.support import TOKEN_URL, json_response, token_body

from authplug import ReauthorizationRequired, TokenError
from authplug.http import Response
from authplug.oauth2.tokens import (
    clock_offset,
    parse_expires_in,
    parse_token_response,
    retry_after,
    scrub,
    token_error,
)
from authplug.stores import TokenRecord

NOW = 1_700_000_000.0


def _parse(response: Response, **kwargs: object) -> tuple[TokenRecord, float]:
    options: dict[str, object] = {
        "endpoint": TOKEN_URL,
        "grant_type": "refresh_token",
        "received_at": NOW,
        "default_lifetime": 3600.0,
    }
    options.update(kwargs)
    return parse_token_response(response, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (3600, 3600.0),
        (3600.0, 3600.0),
        ("3600", 3600.0),
        ("3600.0", 3600.0),
        (" 90 ", 90.0),
        (1.5, 1.5),
        ("2.5", 2.5),
    ],
)
def test_expires_in_is_read_in_every_form_servers_send(
    raw: object, seconds: float
) -> None:
    record, _ = _parse(json_response(token_body(expires_in=raw)))

    assert parse_expires_in(raw) == seconds
    assert record.expires_at == NOW + seconds
    assert record.issued_at == NOW


@pytest.mark.parametrize(
    "raw", [None, 0, -5, "0", "soon", "", True, [3600], "nan", "inf", {"s": 1}]
)
def test_unusable_expires_in_means_the_default_lifetime_never_forever(
    raw: object,
) -> None:
    record, _ = _parse(json_response(token_body(expires_in=raw)), default_lifetime=900)

    assert parse_expires_in(raw) is None
    assert record.expires_at == NOW + 900


def test_an_unreadable_expires_in_is_logged_by_type_not_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    _parse(json_response(token_body(expires_in="soon")))

    assert "unusable expires_in (str)" in caplog.text
    assert "soon" not in caplog.text


def test_a_refresh_without_a_new_refresh_token_keeps_the_old_one() -> None:
    previous = TokenRecord(access_token="old", refresh_token="keep-me", scopes=("a",))

    record, _ = _parse(
        json_response(token_body("new", refresh_token=None)), previous=previous
    )

    assert record.access_token is not None
    assert record.access_token.reveal() == "new"
    assert record.refresh_token is not None
    assert record.refresh_token.reveal() == "keep-me"
    assert record.scopes == ("a",)


def test_a_rotated_refresh_token_replaces_the_old_one() -> None:
    previous = TokenRecord(access_token="old", refresh_token="old-refresh")

    record, _ = _parse(
        json_response(token_body(refresh_token="new-refresh")), previous=previous
    )

    assert record.refresh_token is not None
    assert record.refresh_token.reveal() == "new-refresh"


def test_granted_scopes_come_from_the_response_then_the_request() -> None:
    granted, _ = _parse(json_response(token_body(scope="read  write read")))
    assumed, _ = _parse(json_response(token_body()), requested_scopes=("x", "y"))

    assert granted.scopes == ("read", "write")
    assert assumed.scopes == ("x", "y")


def test_bearer_in_any_case_is_sent_as_bearer() -> None:
    record, _ = _parse(json_response(token_body(token_type="BEARER")))

    assert record.token_type == "Bearer"


def test_times_are_kept_on_the_servers_clock_from_its_date_header() -> None:
    server_now = NOW + 7200

    record, offset = _parse(json_response(token_body(), date=server_now))

    assert offset == pytest.approx(7200, abs=1)
    assert record.issued_at == pytest.approx(server_now, abs=1)
    assert record.expires_at == pytest.approx(server_now + 3600, abs=1)


def test_a_missing_or_broken_date_header_means_no_offset() -> None:
    broken = Response(200, {"date": "yesterday-ish"})

    assert clock_offset(Response(200), NOW) is None
    assert clock_offset(broken, NOW) is None


def test_form_encoded_token_responses_are_read_too() -> None:
    response = Response(
        200,
        {"content-type": "application/x-www-form-urlencoded"},
        b"access_token=abc&token_type=bearer&expires_in=60",
    )

    record, _ = _parse(response)

    assert record.access_token is not None
    assert record.access_token.reveal() == "abc"
    assert record.expires_at == NOW + 60


def test_json_sent_as_text_plain_is_still_read() -> None:
    response = Response(200, {"content-type": "text/plain"}, b'{"access_token":"x"}')

    record, _ = _parse(response)

    assert record.access_token is not None


def test_an_rfc_6749_error_keeps_error_description_and_uri() -> None:
    response = json_response(
        {
            "error": "invalid_client",
            "error_description": "Client authentication failed.",
            "error_uri": "https://docs.example.com/errors",
        },
        status=401,
    )

    with pytest.raises(TokenError) as caught:
        _parse(response, grant_type="client_credentials")

    error = caught.value
    assert not isinstance(error, ReauthorizationRequired)
    assert (error.error, error.status_code) == ("invalid_client", 401)
    assert error.description == "Client authentication failed."
    assert error.uri == "https://docs.example.com/errors"
    assert "invalid_client" in str(error) and "client_secret" in str(error)


@pytest.mark.parametrize("grant_type", ["refresh_token", "authorization_code"])
def test_invalid_grant_on_refresh_or_code_means_authorize_again(
    grant_type: str,
) -> None:
    response = json_response({"error": "invalid_grant"}, status=400)

    with pytest.raises(ReauthorizationRequired, match="authorize again") as caught:
        _parse(response, grant_type=grant_type)

    assert caught.value.error == "invalid_grant"


def test_invalid_grant_on_the_password_grant_is_a_bad_password() -> None:
    response = json_response({"error": "invalid_grant"}, status=400)

    with pytest.raises(TokenError, match="user name and password") as caught:
        _parse(response, grant_type="password")

    assert not isinstance(caught.value, ReauthorizationRequired)


def test_an_error_in_a_200_answer_is_still_an_error() -> None:
    response = json_response({"error": "invalid_scope"})

    with pytest.raises(TokenError) as caught:
        _parse(response)

    assert caught.value.error == "invalid_scope"


def test_html_gives_status_and_content_type_but_no_body() -> None:
    page = "<html><body>Sign in, secret-in-page</body></html>"
    response = Response(
        200, {"content-type": "text/html; charset=utf-8"}, page.encode()
    )

    with pytest.raises(TokenError) as caught:
        _parse(response)

    message = str(caught.value)
    assert "HTTP 200 with text/html" in message
    assert "secret-in-page" not in message and "<html" not in message
    assert caught.value.status_code == 200


def test_a_success_without_an_access_token_is_an_error() -> None:
    with pytest.raises(TokenError, match="no access_token"):
        _parse(json_response({"token_type": "bearer"}))


def test_server_text_that_echoes_a_secret_is_scrubbed() -> None:
    response = json_response(
        {"error": "invalid_grant", "error_description": "token r3fr3sh-t0k3n unknown"},
        status=400,
    )

    with pytest.raises(TokenError) as caught:
        _parse(response, secrets=["r3fr3sh-t0k3n"])

    assert "r3fr3sh-t0k3n" not in str(caught.value)
    assert caught.value.description == "token ******** unknown"


def test_scrub_leaves_short_values_alone_so_text_stays_readable() -> None:
    assert scrub("a b c", ["a", "b"]) == "a b c"
    assert scrub("xx secret1 yy secret1", ["secret1"]) == "xx ******** yy ********"


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    in_seconds = Response(503, {"retry-after": "7"})
    as_date = Response(
        503,
        {
            "retry-after": formatdate(NOW + 30, usegmt=True),
            "date": formatdate(NOW, usegmt=True),
        },
    )

    assert retry_after(in_seconds, NOW) == 7
    assert retry_after(as_date, NOW + 5) == pytest.approx(30, abs=1)
    assert retry_after(Response(503), NOW) is None
    assert retry_after(Response(503, {"retry-after": "later"}), NOW) is None


def test_token_error_for_an_empty_body_says_so() -> None:
    error = token_error(Response(502), endpoint=TOKEN_URL, grant_type="password")

    assert "HTTP 502 with an empty body" in str(error)
    assert error.status_code == 502
