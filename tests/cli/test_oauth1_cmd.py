"""Tests for the OAuth1 authorization the command line runs.

Everything goes over HTTP to the OAuth1 provider of
``tests/oauth1_server.py``; the user is played by a function that follows
the authorization page the way a browser does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import pytest
from tests.oauth1_server import (
    CALLBACK,
    CLIENT_KEY,
    CLIENT_SECRET,
    REALM,
    OAuth1Server,
)

import authplug
from authplug.cli.oauth1_cmd import authorize_oauth1, send_with_httpx2
from authplug.errors import ConfigError, FlowError, TokenError
from authplug.http import Request
from authplug.oauth1_signing import FORM_CONTENT_TYPE
from authplug.records import Credentials


@pytest.fixture(scope="module")
def server() -> Iterator[OAuth1Server]:
    with OAuth1Server() as running:
        yield running


def credentials(server: OAuth1Server, **app: Any) -> Credentials[Any, Any]:
    fields = {
        "consumer_key": CLIENT_KEY,
        "consumer_secret": CLIENT_SECRET,
        "realm": REALM,
        "request_token_url": server.request_token_url,
        "authorize_url": server.authorize_url,
        "access_token_url": server.access_token_url,
        "callback_uri": CALLBACK,
        **app,
    }
    loaded: Credentials[Any, Any] = authplug.load({"type": "oauth1", "app": fields})
    return loaded


class User:
    """Approves in the browser and answers the prompt, as told."""

    def __init__(self, answer: str = "address") -> None:
        self.answer = answer
        self.pages: list[str] = []
        self.prompts: list[str] = []
        self.sent_back = ""

    def open_url(self, url: str) -> None:
        self.pages.append(url)
        approval = httpx2.get(url, follow_redirects=False)
        if approval.status_code == 302:
            self.sent_back = approval.headers["location"]
        else:
            # oob: the provider shows the verifier on the page itself.
            self.sent_back = f"?{approval.text}"

    def read_verifier(self, prompt: str) -> str:
        self.prompts.append(prompt)
        query = urlsplit(self.sent_back).query
        if self.answer == "address":
            return f"  {self.sent_back}\n"
        if self.answer == "query":
            return query
        if self.answer == "verifier":
            return dict(parse_qsl(query))["oauth_verifier"]
        return self.answer


def authorize(creds: Credentials[Any, Any], user: User) -> Credentials[Any, Any]:
    return authorize_oauth1(
        creds,
        open_url=user.open_url,
        read_verifier=user.read_verifier,
        send=send_with_httpx2,
    )


def post_me(server: OAuth1Server, creds: Credentials[Any, Any]) -> int:
    # A form body, so that every placement (body included) can sign it.
    headers = {"Content-Type": FORM_CONTENT_TYPE}
    request = Request("POST", f"{server.url}/api/me", headers, b"name=Ada")
    creds.flow().apply(request)
    return send_with_httpx2(request).status_code


@pytest.mark.parametrize("answer", ["address", "query", "verifier"])
def test_authorizing_gives_credentials_that_work(
    server: OAuth1Server, answer: str
) -> None:
    start = credentials(server)
    user = User(answer)

    authorized = authorize(start, user)

    assert len(user.pages) == 1
    assert user.pages[0].startswith(f"{server.authorize_url}?oauth_token=")
    assert user.prompts == [
        "Paste the address your browser was sent back to, or just its oauth_verifier"
    ]
    assert authorized.user.token is not None
    assert authorized.app == start.app
    assert post_me(server, authorized) == 200
    assert post_me(server, start) == 401


@pytest.mark.parametrize("placement", ["query", "body"])
def test_out_of_band_authorization(server: OAuth1Server, placement: str) -> None:
    start = credentials(server, callback_uri=None, realm=None, placement=placement)
    user = User("verifier")

    authorized = authorize(start, user)

    assert user.prompts == [
        "Enter the verifier (PIN) the service showed once you approved"
    ]
    assert post_me(server, authorized) == 200


def test_a_wrong_verifier_is_a_token_error(server: OAuth1Server) -> None:
    user = User("notTheVerifier000000000000")

    with pytest.raises(TokenError, match="HTTP 401"):
        authorize(credentials(server), user)


def test_an_address_for_another_token_is_refused(server: OAuth1Server) -> None:
    user = User(f"{CALLBACK}&oauth_token=anotherToken&oauth_verifier=abc")

    with pytest.raises(FlowError, match="another authorization"):
        authorize(credentials(server), user)


def test_a_wrong_consumer_secret_is_a_token_error(server: OAuth1Server) -> None:
    creds = credentials(server, consumer_secret="not-the-consumer-secret")

    with pytest.raises(TokenError) as caught:
        authorize(creds, User())

    assert caught.value.status_code == 401
    assert "not-the-consumer-secret" not in str(caught.value)


def test_missing_endpoints_are_config_errors(server: OAuth1Server) -> None:
    creds = credentials(server, request_token_url=None)

    with pytest.raises(ConfigError, match=r"app\.request_token_url"):
        authorize(creds, User())


def test_an_unreachable_service_is_a_flow_error(server: OAuth1Server) -> None:
    # A port that was free a moment ago: nothing listens there.
    with OAuth1Server() as gone:
        url = gone.url
    creds = credentials(server, request_token_url=f"{url}/initiate?x=secret-ish")

    with pytest.raises(FlowError, match="could not reach") as caught:
        authorize(creds, User())

    assert f"{url}/initiate " in str(caught.value)
    assert "secret-ish" not in str(caught.value)
