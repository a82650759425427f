"""Tests for the oauth1 type's flow: signing by hand, then over real HTTP.

The first half drives :class:`OAuth1Flow` with a fixed clock and nonce and
compares every signature with the one oauthlib's client computes for the
same request. The second half is what a connector does: it sends requests
through each HTTP adapter (httpx2 sync and async, httpx, requests) to the
OAuth1 provider of ``tests/oauth1_server.py``, where oauthlib checks them
as they arrived on the socket, for every signature method and placement.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
from attrs import frozen
from oauthlib.oauth1 import Client as OAuthlibClient
from tests.oauth1_server import (
    ACCESS_SECRET,
    ACCESS_TOKEN,
    CLIENT_KEY,
    CLIENT_SECRET,
    REALM,
    OAuth1Server,
    Received,
)
from tests.test_oauth1_oauthlib import pem_pair

import authplug
from authplug.adapters.httpx import Auth as HttpxAuth
from authplug.adapters.httpx2 import Auth as Httpx2Auth
from authplug.adapters.requests import session as requests_session
from authplug.builtin.oauth1 import OAUTH1, OAuth1Flow
from authplug.errors import ConfigError
from authplug.http import Request
from authplug.oauth1_signing import (
    FORM_CONTENT_TYPE,
    PLACEMENTS,
    SIGNATURE_METHODS,
    Placement,
    SignatureMethod,
    SigningError,
)
from authplug.records import Credentials

TIMESTAMP = 1_700_000_000
NONCE = "a1b2c3d4e5f6a7b8c9d0e1f2"

OAUTHLIB_PLACEMENT = {"header": "AUTH_HEADER", "query": "QUERY", "body": "BODY"}


@pytest.fixture(scope="module")
def rsa_private_key() -> str:
    return pem_pair()[0]


def oauth1_document(
    method: SignatureMethod = "HMAC-SHA1",
    placement: Placement = "header",
    *,
    rsa_private_key: str | None = None,
    token: bool = True,
    **app: Any,
) -> dict[str, Any]:
    """Return an oauth1 credentials document for the test provider."""
    app_fields: dict[str, Any] = {
        "consumer_key": CLIENT_KEY,
        "signature_method": method,
        "placement": placement,
        **app,
    }
    if method == "RSA-SHA1":
        app_fields["rsa_private_key"] = rsa_private_key
    else:
        app_fields["consumer_secret"] = CLIENT_SECRET
    if placement == "header":
        app_fields.setdefault("realm", REALM)

    user = {"token": ACCESS_TOKEN, "token_secret": ACCESS_SECRET} if token else {}
    return {"type": "oauth1", "user": user, "app": app_fields}


def fixed_flow(document: dict[str, Any]) -> OAuth1Flow:
    flow = authplug.load(document).flow(clock=lambda: TIMESTAMP + 0.75, nonce=fixed)
    assert isinstance(flow, OAuth1Flow)
    return flow


def fixed() -> str:
    return NONCE


def post_form() -> Request:
    return Request(
        "POST",
        "https://api.example.com/photos?album=summer%202024&sort=new",
        headers={"Content-Type": FORM_CONTENT_TYPE},
        content=b"title=Caf%C3%A9+au+lait&tags=a%2Bb&note=",
    )


def oauthlib_signed(
    request: Request,
    document: dict[str, Any],
    *,
    token: bool = True,
) -> tuple[str, dict[str, str], str | None]:
    """Sign ``request`` the way oauthlib's client would, same time and nonce."""
    app = document["app"]
    client = OAuthlibClient(
        CLIENT_KEY,
        client_secret=app.get("consumer_secret"),
        resource_owner_key=ACCESS_TOKEN if token else None,
        resource_owner_secret=ACCESS_SECRET if token else None,
        signature_method=app["signature_method"],
        signature_type=OAUTHLIB_PLACEMENT[app["placement"]],
        rsa_key=app.get("rsa_private_key"),
        realm=app.get("realm"),
        nonce=NONCE,
        timestamp=str(TIMESTAMP),
    )
    body = request.content.decode("ascii") if request.content else None
    uri, headers, signed_body = client.sign(
        request.url, request.method, body, dict(request.headers)
    )
    return uri, headers, signed_body


def signature_of(text: str) -> str:
    """Pull the oauth_signature out of a header, a query or a body."""
    marker = "oauth_signature="
    start = text.index(marker) + len(marker)
    value = text[start:].split("&")[0].split(",")[0]
    return value.strip('"')


def where_signed(request: Request, placement: Placement) -> str:
    if placement == "header":
        return request.headers["Authorization"]
    if placement == "query":
        return request.url
    return request.content.decode("ascii")


def test_the_oauth1_type_has_this_flow() -> None:
    assert OAUTH1.flow is OAuth1Flow
    assert OAuth1Flow.requires_request_body is True


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", SIGNATURE_METHODS)
def test_apply_signs_as_oauthlib_does(
    rsa_private_key: str, method: SignatureMethod, placement: Placement
) -> None:
    # oauthlib's client always sends oauth_version, so ours must too here.
    document = oauth1_document(
        method, placement, rsa_private_key=rsa_private_key, include_version=True
    )
    request = post_form()
    expected_uri, expected_headers, expected_body = oauthlib_signed(
        post_form(), document
    )

    fixed_flow(document).apply(request)

    assert request.url == expected_uri or placement == "query"
    if placement == "header":
        expected = expected_headers["Authorization"]
    elif placement == "query":
        expected = expected_uri
    else:
        assert expected_body is not None
        expected = expected_body
    assert signature_of(where_signed(request, placement)) == signature_of(expected)
    assert str(TIMESTAMP) in where_signed(request, placement)
    assert NONCE in where_signed(request, placement)


def test_apply_keeps_the_form_fields_and_query() -> None:
    request = post_form()

    fixed_flow(oauth1_document(placement="body")).apply(request)

    body = request.content.decode("ascii")
    assert body.startswith("title=Caf%C3%A9+au+lait&tags=a%2Bb&note=&oauth_")
    assert request.url == post_form().url


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_applying_twice_is_applying_once(placement: Placement) -> None:
    flow = fixed_flow(oauth1_document(placement=placement))
    once, twice = post_form(), post_form()

    flow.apply(once)
    flow.apply(twice)
    flow.apply(twice)

    assert twice == once


def test_each_application_takes_a_fresh_timestamp_and_nonce() -> None:
    ticks = iter([100.9, 205.2])
    nonces = iter(["first-nonce-0000000000", "second-nonce-000000000"])
    credentials = authplug.load(oauth1_document())
    flow = credentials.flow(clock=lambda: next(ticks), nonce=lambda: next(nonces))
    request = post_form()

    flow.apply(request)
    first = request.headers["Authorization"]
    flow.apply(request)
    second = request.headers["Authorization"]

    assert 'oauth_timestamp="100"' in first
    assert 'oauth_nonce="first-nonce-0000000000"' in first
    assert 'oauth_timestamp="205"' in second
    assert 'oauth_nonce="second-nonce-000000000"' in second


def test_the_default_nonce_is_fresh_and_fits_common_servers() -> None:
    flow = authplug.load(oauth1_document()).flow()

    nonces = {flow.nonce() for _ in range(50)}

    assert len(nonces) == 50
    assert all(len(nonce) == 24 and nonce.isalnum() for nonce in nonces)


def test_without_a_token_the_consumer_alone_signs() -> None:
    document = oauth1_document(token=False, include_version=True)
    request = post_form()
    _, expected_headers, _ = oauthlib_signed(post_form(), document, token=False)

    fixed_flow(document).apply(request)

    header = request.headers["Authorization"]
    assert "oauth_token=" not in header
    assert signature_of(header) == signature_of(expected_headers["Authorization"])


def test_new_credentials_are_picked_up() -> None:
    flow = fixed_flow(oauth1_document(token=False))
    request = post_form()
    flow.apply(request)
    assert "oauth_token=" not in request.headers["Authorization"]

    flow.credentials = flow.credentials.with_user(
        token=ACCESS_TOKEN, token_secret=ACCESS_SECRET
    )
    flow.apply(request)

    assert f'oauth_token="{ACCESS_TOKEN}"' in request.headers["Authorization"]


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ({"token": ACCESS_TOKEN}, "user.token_secret"),
        ({"token_secret": ACCESS_SECRET}, "user.token"),
    ],
)
def test_half_a_token_is_a_config_error(user: dict[str, str], path: str) -> None:
    document = oauth1_document(token=False)
    document["user"] = user

    with pytest.raises(ConfigError) as caught:
        authplug.load(document)

    assert [error.path for error in caught.value.errors] == [path]
    assert ACCESS_TOKEN not in str(caught.value)
    assert ACCESS_SECRET not in str(caught.value)


def test_an_empty_token_secret_is_allowed() -> None:
    document = oauth1_document()
    document["user"]["token_secret"] = ""
    request = post_form()

    fixed_flow(document).apply(request)

    assert f'oauth_token="{ACCESS_TOKEN}"' in request.headers["Authorization"]


def test_body_placement_without_a_form_body_is_a_signing_error() -> None:
    flow = fixed_flow(oauth1_document(placement="body"))
    request = Request("GET", "https://api.example.com/photos?size=large")

    with pytest.raises(SigningError, match="placement 'body'"):
        flow.apply(request)

    assert request == Request("GET", "https://api.example.com/photos?size=large")


def test_include_version_sends_oauth_version() -> None:
    request = post_form()

    fixed_flow(oauth1_document(include_version=True)).apply(request)

    assert 'oauth_version="1.0"' in request.headers["Authorization"]


def test_no_secret_in_the_flow_repr() -> None:
    flow = fixed_flow(oauth1_document())
    flow.apply(post_form())

    shown = repr(flow)

    assert CLIENT_SECRET not in shown
    assert ACCESS_SECRET not in shown
    assert ACCESS_TOKEN not in shown


# -- over real HTTP, through every adapter ------------------------------------

QUERY = [("album", "summer 2024"), ("album", "b"), ("tag", "café"), ("empty", "")]
FORM_FIELDS = [
    ("title", "Café au lait"),
    ("tags", "a+b"),
    ("tags", "日本"),
    ("note", ""),
    ("sum", "1 + 1 = 2 & more"),
]


@pytest.fixture(scope="module")
def provider() -> Iterator[OAuth1Server]:
    with OAuth1Server() as running:
        yield running


@pytest.fixture
def server(provider: OAuth1Server) -> OAuth1Server:
    provider.reset()
    return provider


@frozen
class Call:
    """One request to send, in each client's own words."""

    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]] | None = None

    def data(self) -> dict[str, list[str]] | None:
        """Return the form as httpx takes it: each name once, values listed."""
        if self.form is None:
            return None
        fields: dict[str, list[str]] = {}
        for name, value in self.form:
            fields.setdefault(name, []).append(value)
        return fields


@frozen
class Answer:
    status: int
    echo: dict[str, Any] | None


def answer_of(status: int, text: str) -> Answer:
    return Answer(status, json.loads(text) if status == 200 else None)


def with_httpx2(
    credentials: Credentials[Any, Any], url: str, call: Call, **options: Any
) -> Answer:
    with httpx2.Client(auth=Httpx2Auth(credentials)) as client:
        response = client.request(
            call.method, url + call.path, params=call.query, data=call.data(), **options
        )
    return answer_of(response.status_code, response.text)


def with_httpx2_async(
    credentials: Credentials[Any, Any], url: str, call: Call, **options: Any
) -> Answer:
    async def send() -> Answer:
        async with httpx2.AsyncClient(auth=Httpx2Auth(credentials)) as client:
            response = await client.request(
                call.method,
                url + call.path,
                params=call.query,
                data=call.data(),
                **options,
            )
        return answer_of(response.status_code, response.text)

    return asyncio.run(send())


def with_httpx(
    credentials: Credentials[Any, Any], url: str, call: Call, **options: Any
) -> Answer:
    with httpx.Client(auth=HttpxAuth(credentials)) as client:
        response = client.request(
            call.method, url + call.path, params=call.query, data=call.data(), **options
        )
    return answer_of(response.status_code, response.text)


def with_requests(
    credentials: Credentials[Any, Any], url: str, call: Call, **options: Any
) -> Answer:
    follow = options.pop("follow_redirects", False)
    with requests_session(credentials) as http:
        response = http.request(
            call.method,
            url + call.path,
            params=call.query,
            data=call.data(),
            allow_redirects=follow,
            **options,
        )
    return answer_of(response.status_code, response.text)


CLIENTS = {
    "httpx2": with_httpx2,
    "httpx2-async": with_httpx2_async,
    "httpx": with_httpx,
    "requests": with_requests,
}


def http_cases() -> list[Any]:
    cases = []
    for client, method, placement in itertools.product(
        CLIENTS, SIGNATURE_METHODS, PLACEMENTS
    ):
        cases.append(pytest.param(client, method, placement, "POST"))
        if placement != "body":
            cases.append(pytest.param(client, method, placement, "GET"))
    return [
        pytest.param(*case.values, id="-".join(map(str, case.values))) for case in cases
    ]


def credentials_for(
    server: OAuth1Server,
    method: SignatureMethod,
    placement: Placement,
    *,
    token: bool = True,
) -> Credentials[Any, Any]:
    document = oauth1_document(
        method, placement, rsa_private_key=server.rsa_private_key, token=token
    )
    loaded: Credentials[Any, Any] = authplug.load(document)
    return loaded


def assert_placed(received: Received, placement: Placement) -> None:
    """Check that the protocol parameters went where they were told."""
    in_query = any(name.startswith("oauth_") for name, _ in received.query)
    in_body = b"oauth_" in received.body
    in_header = received.headers.get("authorization", "").startswith("OAuth ")

    assert (in_header, in_query, in_body) == (
        placement == "header",
        placement == "query",
        placement == "body",
    )


def without_oauth(pairs: list[list[str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in pairs if not name.startswith("oauth_")]


@pytest.mark.parametrize(("client", "method", "placement", "verb"), http_cases())
def test_a_connector_makes_signed_requests(
    server: OAuth1Server,
    client: str,
    method: SignatureMethod,
    placement: Placement,
    verb: str,
) -> None:
    credentials = credentials_for(server, method, placement)
    form = FORM_FIELDS if verb == "POST" else None
    call = Call(verb, "/api/photos", QUERY, form)

    answer = CLIENTS[client](credentials, server.url, call)

    assert answer.status == 200, f"the provider refused: {answer}"
    assert answer.echo is not None
    assert answer.echo["method"] == verb
    assert answer.echo["token"] == ACCESS_TOKEN
    assert without_oauth(answer.echo["query"]) == QUERY
    if form is None:
        assert answer.echo["form"] is None
    else:
        assert without_oauth(answer.echo["form"]) == form
    assert server.refused == 0
    [received] = server.received
    assert_placed(received, placement)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_two_legged_request_is_signed_by_the_consumer(
    server: OAuth1Server, client: str, placement: Placement
) -> None:
    credentials = credentials_for(server, "HMAC-SHA1", placement, token=False)
    call = Call("POST", "/app/stats", [("day", "2024-06-01")], [("q", "a b")])

    answer = CLIENTS[client](credentials, server.url, call)

    assert answer.status == 200, f"the provider refused: {answer}"
    assert answer.echo is not None
    assert answer.echo["token"] is None
    assert answer.echo["client_key"] == CLIENT_KEY


@pytest.mark.parametrize("client", CLIENTS)
def test_the_provider_refuses_a_wrong_secret(server: OAuth1Server, client: str) -> None:
    document = oauth1_document()
    document["user"]["token_secret"] = "not-the-token-secret"
    credentials = authplug.load(document)

    answer = CLIENTS[client](credentials, server.url, Call("GET", "/api/me", []))

    assert answer.status == 401
    assert server.refused == 1


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_redirect_followed_by_hand_is_signed_again(
    server: OAuth1Server, placement: Placement
) -> None:
    # The 307 keeps the old signature in the header, the query (through
    # Location) or the body; signing again must replace it everywhere.
    credentials = credentials_for(server, "HMAC-SHA1", placement)
    call = Call("POST", "/api/moved", [("a", "1")], [("title", "x y")])

    with httpx2.Client(auth=Httpx2Auth(credentials)) as client:
        moved = client.request(
            call.method, server.url + call.path, params=call.query, data=call.data()
        )
        assert moved.next_request is not None
        response = client.send(moved.next_request)

    answer = answer_of(response.status_code, response.text)
    assert moved.status_code == 307
    assert answer.status == 200, f"the provider refused: {answer}"
    assert answer.echo is not None
    assert answer.echo["path"] == "/api/me"
    assert without_oauth(answer.echo["query"]) == [("a", "1")]
    assert without_oauth(answer.echo["form"]) == [("title", "x y")]
    assert_placed(server.received[0], placement)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("path", "arrives_as"),
    [
        ("/api/caf%C3%A9/a%20b", "/api/café/a b"),
        ("/api/café/a b", "/api/café/a b"),
        ("/api/a;b=c/~x/(1)", "/api/a;b=c/~x/(1)"),
        ("/api/%7Euser", "/api/~user"),
    ],
)
def test_paths_are_signed_as_the_client_sends_them(
    server: OAuth1Server, client: str, path: str, arrives_as: str
) -> None:
    credentials = credentials_for(server, "HMAC-SHA1", "header")

    answer = CLIENTS[client](credentials, server.url, Call("GET", path, []))

    assert answer.status == 200, f"the provider refused: {answer}"
    assert answer.echo is not None
    assert answer.echo["path"] == arrives_as
