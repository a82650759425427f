"""Token request contents per grant, extra parameters, authorization URLs."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from tests.oauth2.support import AUTH_URL, TOKEN_URL, credentials, form

from authplug import ConfigError
from authplug.oauth2.grants import authorization_url, parse_callback, token_request


def test_token_requests_post_a_form_and_ask_for_json() -> None:
    creds = credentials()

    request = token_request(creds.app, [("grant_type", "client_credentials")])

    assert (request.method, request.url) == ("POST", TOKEN_URL)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"


def test_audience_resource_and_token_params_go_with_every_token_request() -> None:
    creds = credentials(
        app={
            "audience": "https://api.example.com",
            "resource": "https://api.example.com/v2",
            "token_params": {"tenant": "acme"},
        }
    )

    request = token_request(
        creds.app, [("grant_type", "refresh_token"), ("refresh_token", "r")]
    )

    assert form(request) == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
        "audience": "https://api.example.com",
        "resource": "https://api.example.com/v2",
        "tenant": "acme",
    }


def test_token_params_may_not_override_what_the_grant_sends() -> None:
    reserved = {"grant_type": "password", "scope": "x", "audience": "a", "ok": "1"}

    # Refused as the credentials load, not later when a flow is made.
    with pytest.raises(ConfigError) as caught:
        credentials(app={"token_params": reserved})

    paths = [error.path for error in caught.value.errors]
    assert paths == [
        "app.token_params.audience",
        "app.token_params.grant_type",
        "app.token_params.scope",
    ]


def test_the_authorization_url_has_everything_a_code_grant_needs() -> None:
    creds = credentials(
        "oauth2",
        app={
            "auth_url": AUTH_URL + "?tenant=acme",
            "scopes": ["read", "write"],
            "audience": "aud",
        },
    )

    url = authorization_url(
        creds.app,
        state="st",
        redirect_uri="http://127.0.0.1:8000/cb",
        code_challenge="chal",
        params={"prompt": "consent"},
    )

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == AUTH_URL
    assert {key: values[0] for key, values in parse_qs(parts.query).items()} == {
        "tenant": "acme",
        "response_type": "code",
        "client_id": "the-client",
        "redirect_uri": "http://127.0.0.1:8000/cb",
        "scope": "read write",
        "state": "st",
        "code_challenge": "chal",
        "code_challenge_method": "S256",
        "audience": "aud",
        "prompt": "consent",
    }


@pytest.mark.parametrize(
    "callback",
    [
        "http://127.0.0.1:8000/cb?code=c1&state=s1",
        "?code=c1&state=s1",
        "code=c1&state=s1",
        "http://127.0.0.1:8000/cb#code=c1&state=s1",
    ],
)
def test_callbacks_are_read_from_urls_queries_and_fragments(callback: str) -> None:
    assert parse_callback(callback) == {"code": "c1", "state": "s1"}
