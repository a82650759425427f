"""Tests for the oauth1 type's flow: signing by hand, then over real HTTP.

The first half drives :class:`OAuth1Flow` with a fixed clock and nonce and
compares every signature with the one oauthlib's client computes for the
same request. The second half sends requests through each HTTP adapter to
the OAuth1 provider of ``tests/oauth1_server.py``, where oauthlib checks
them as they arrived on the socket.
"""

from __future__ import annotations

from typing import Any

import pytest
from oauthlib.oauth1 import Client as OAuthlibClient
from tests.oauth1_server import (
    ACCESS_SECRET,
    ACCESS_TOKEN,
    CLIENT_KEY,
    CLIENT_SECRET,
    REALM,
)
from tests.test_oauth1_oauthlib import pem_pair

import authplug
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
