"""Client authentication at the token endpoint (RFC 6749 2.3.1)."""

from __future__ import annotations

from base64 import b64decode
from urllib.parse import unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.oauth2.support import CLIENT_SECRET, credentials, form

from authplug.oauth2.client_auth import basic_authorization
from authplug.oauth2.grants import token_request


def _decode(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    user, _, password = b64decode(encoded).decode("ascii").partition(":")
    return user, password


@pytest.mark.parametrize(
    ("client_id", "secret", "sent_id", "sent_secret"),
    [
        ("plain", "secret", "plain", "secret"),
        ("with:colon", "pa:ss", "with%3Acolon", "pa%3Ass"),
        ("per%cent", "100%", "per%25cent", "100%25"),
        ("plus+sign", "a+b", "plus%2Bsign", "a%2Bb"),
        ("has space", "s p", "has+space", "s+p"),
        ("clïent", "sécret€", "cl%C3%AFent", "s%C3%A9cret%E2%82%AC"),
    ],
)
def test_basic_form_encodes_id_and_secret_before_base64(
    client_id: str, secret: str, sent_id: str, sent_secret: str
) -> None:
    header = basic_authorization(client_id, secret)

    assert _decode(header) == (sent_id, sent_secret)


@given(client_id=st.text(min_size=1), secret=st.text(min_size=1))
def test_basic_round_trips_through_form_decoding(client_id: str, secret: str) -> None:
    user, password = _decode(basic_authorization(client_id, secret))

    assert ":" not in user
    assert (unquote_plus(user), unquote_plus(password)) == (client_id, secret)


def test_client_secret_basic_puts_nothing_of_the_client_in_the_body() -> None:
    creds = credentials()

    request = token_request(creds.app, [("grant_type", "client_credentials")])

    assert _decode(request.headers["Authorization"]) == ("the-client", CLIENT_SECRET)
    assert form(request) == {"grant_type": "client_credentials"}


def test_client_secret_post_sends_id_and_secret_in_the_body() -> None:
    creds = credentials(app={"client_auth": "client_secret_post"})

    request = token_request(creds.app, [("grant_type", "client_credentials")])

    assert "Authorization" not in request.headers
    assert form(request) == {
        "grant_type": "client_credentials",
        "client_id": "the-client",
        "client_secret": CLIENT_SECRET,
    }


def test_a_public_client_sends_only_its_id() -> None:
    creds = credentials("oauth2", app={"client_auth": "none", "client_secret": None})

    request = token_request(creds.app, [("grant_type", "refresh_token")])

    assert "Authorization" not in request.headers
    assert form(request) == {"grant_type": "refresh_token", "client_id": "the-client"}
