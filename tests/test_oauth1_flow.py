"""Tests for the three-legged OAuth1 authorization, driven step by step.

The dance runs against oauthlib's provider endpoints, in process and then
over HTTP on 127.0.0.1, for every signature method and placement; its
requests and errors are also checked by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import pytest
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    ResourceEndpoint,
)
from tests.oauth1_server import OAuth1Server
from tests.test_oauth1_oauthlib import (
    CALLBACK,
    CLIENT_KEY,
    CLIENT_SECRET,
    REALM,
    MemoryValidator,
    pem_pair,
    to_oauthlib,
)

import authplug
from authplug.errors import ConfigError, FlowError, TokenError
from authplug.http import Request, Response
from authplug.oauth1_flow import OAuth1Authorization
from authplug.oauth1_signing import (
    FORM_CONTENT_TYPE,
    PLACEMENTS,
    SIGNATURE_METHODS,
    Placement,
    SignatureMethod,
    TokenCredentials,
)
from authplug.records import Credentials
from authplug.secret import Secret

PROVIDER = "https://provider.example"
TEMPORARY_TOKEN = "temporaryToken0000000001"
TEMPORARY_SECRET = "temporary-secret~value"
GRANTED_TOKEN = "grantedAccessToken000001"
GRANTED_SECRET = "granted-secret~value"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return pem_pair()


@pytest.fixture(scope="module")
def server() -> Iterator[OAuth1Server]:
    with OAuth1Server() as running:
        yield running


def credentials(
    method: SignatureMethod = "HMAC-SHA1",
    placement: Placement = "header",
    *,
    rsa_private_key: str | None = None,
    base: str = PROVIDER,
    **app: Any,
) -> Credentials[Any, Any]:
    fields: dict[str, Any] = {
        "consumer_key": CLIENT_KEY,
        "signature_method": method,
        "placement": placement,
        "request_token_url": f"{base}/initiate",
        "authorize_url": f"{base}/authorize?lang=en",
        "access_token_url": f"{base}/token",
        "callback_uri": CALLBACK,
        **app,
    }
    if method == "RSA-SHA1":
        fields["rsa_private_key"] = rsa_private_key
    else:
        fields["consumer_secret"] = CLIENT_SECRET
    if placement == "header":
        fields.setdefault("realm", REALM)
    loaded: Credentials[Any, Any] = authplug.load({"type": "oauth1", "app": fields})
    return loaded


def counting_nonce() -> Iterator[str]:
    return (f"nonce{index:019d}" for index in itertools.count())


def dance(creds: Credentials[Any, Any], **options: Any) -> OAuth1Authorization:
    nonces = counting_nonce()
    return OAuth1Authorization(
        creds, lambda: 1_700_000_000.5, lambda: next(nonces), **options
    )


def form_response(status: int = 200, **fields: str) -> Response:
    body = "&".join(f"{name}={value}" for name, value in fields.items())
    headers = {"content-type": FORM_CONTENT_TYPE}
    return Response(status, headers=headers, content=body.encode("ascii"))


def temporary_response() -> Response:
    return form_response(
        oauth_token=TEMPORARY_TOKEN,
        oauth_token_secret=TEMPORARY_SECRET,
        oauth_callback_confirmed="true",
    )


def oauth_fields(request: Request) -> dict[str, str]:
    """Return the protocol parameters of a header-signed request."""
    header = request.headers["Authorization"]
    assert header.startswith("OAuth ")
    fields = {}
    for item in header[len("OAuth ") :].split(", "):
        name, _, quoted = item.partition("=")
        fields[name] = dict(parse_qsl(f"v={quoted.strip(chr(34))}"))["v"]
    return fields


def oauthlib_response(result: tuple[dict[str, str], str | None, int]) -> Response:
    headers, body, status = result
    return Response(status, headers=headers, content=(body or "").encode("utf-8"))


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", SIGNATURE_METHODS)
def test_the_dance_with_oauthlib_endpoints_yields_working_credentials(
    rsa_keys: tuple[str, str], method: SignatureMethod, placement: Placement
) -> None:
    validator = MemoryValidator(rsa_keys[1])
    start = credentials(method, placement, rsa_private_key=rsa_keys[0])
    authorization = OAuth1Authorization(start)

    temporary_request = authorization.request_token_request()
    authorization.accept_request_token(
        oauthlib_response(
            RequestTokenEndpoint(validator).create_request_token_response(
                **to_oauthlib(temporary_request)
            )
        )
    )
    approve = AuthorizationEndpoint(validator).create_authorization_response
    headers, _, status = approve(authorization.authorization_url(), realms=[REALM])
    verifier = authorization.verifier_from_callback(headers["Location"])
    access_request = authorization.access_token_request(verifier)
    granted = authorization.accept_access_token(
        oauthlib_response(
            AccessTokenEndpoint(validator).create_access_token_response(
                **to_oauthlib(access_request)
            )
        )
    )
    api_request = Request(
        "POST",
        "https://api.example.com/photos?album=a",
        headers={"Content-Type": FORM_CONTENT_TYPE},
        content=b"title=%C3%A9t%C3%A9",
    )
    granted.flow().apply(api_request)
    valid, checked = ResourceEndpoint(validator).validate_protected_resource_request(
        realms=[REALM], **to_oauthlib(api_request)
    )

    assert status == 302
    assert valid
    assert checked.resource_owner_key == granted.user.token.reveal()
    assert (CLIENT_KEY, checked.resource_owner_key) in validator.access_tokens
    assert granted.app == start.app
    assert start.user.token is None
    assert authorization.stage == "done"
    assert authorization.access is not None
    assert authorization.access.extra == {"oauth_authorized_realms": REALM}


def test_the_dance_over_http(server: OAuth1Server) -> None:
    authorization = OAuth1Authorization(credentials(base=server.url))

    def send(request: Request) -> Response:
        answer = httpx2.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.content,
        )
        return Response(answer.status_code, answer.headers, answer.content)

    authorization.accept_request_token(send(authorization.request_token_request()))
    # The user's browser: the provider approves and redirects at once.
    redirect = httpx2.get(authorization.authorization_url())
    verifier = authorization.verifier_from_callback(redirect.headers["location"])
    granted = authorization.accept_access_token(
        send(authorization.access_token_request(verifier))
    )
    api_request = Request("GET", f"{server.url}/api/me?fields=name")
    granted.flow().apply(api_request)
    answer = send(api_request)

    assert redirect.status_code == 302
    assert answer.status_code == 200
    assert answer.content.startswith(b'{"method": "GET", "path": "/api/me"')


def test_the_request_token_request_carries_the_callback() -> None:
    authorization = dance(credentials())

    request = authorization.request_token_request()

    fields = oauth_fields(request)
    assert (request.method, request.url) == ("POST", f"{PROVIDER}/initiate")
    assert fields["realm"] == REALM
    assert fields["oauth_callback"] == CALLBACK
    assert fields["oauth_consumer_key"] == CLIENT_KEY
    assert fields["oauth_timestamp"] == "1700000000"
    assert fields["oauth_nonce"] == "nonce0000000000000000000"
    assert "oauth_token" not in fields


def test_without_a_callback_uri_the_callback_is_oob() -> None:
    authorization = dance(credentials(callback_uri=None))

    request = authorization.request_token_request()

    assert authorization.callback == "oob"
    assert oauth_fields(request)["oauth_callback"] == "oob"


def test_each_step_by_hand() -> None:
    authorization = dance(credentials())

    temporary = authorization.accept_request_token(temporary_response())
    stage_after_request_token = authorization.stage
    page = authorization.authorization_url({"perms": "write"})
    verifier = authorization.verifier_from_callback(
        f"{CALLBACK}&oauth_token={TEMPORARY_TOKEN}&oauth_verifier=v3rifier"
    )
    access_request = authorization.access_token_request(verifier)
    granted = authorization.accept_access_token(
        form_response(
            oauth_token=GRANTED_TOKEN,
            oauth_token_secret=GRANTED_SECRET,
            user_id="42",
        )
    )

    assert temporary.token == Secret(TEMPORARY_TOKEN)
    assert stage_after_request_token == "authorize"
    assert page == (
        f"{PROVIDER}/authorize?lang=en&oauth_token={TEMPORARY_TOKEN}&perms=write"
    )
    assert verifier == "v3rifier"
    fields = oauth_fields(access_request)
    assert access_request.url == f"{PROVIDER}/token"
    assert fields["oauth_token"] == TEMPORARY_TOKEN
    assert fields["oauth_verifier"] == "v3rifier"
    assert "oauth_callback" not in fields
    assert granted.type.name == "oauth1"
    assert granted.user.token == Secret(GRANTED_TOKEN)
    assert granted.user.token_secret == Secret(GRANTED_SECRET)
    assert authorization.access is not None
    assert authorization.access.extra == {"user_id": "42"}
    assert authorization.temporary is None
    assert authorization.stage == "done"


def test_body_placement_puts_the_dance_in_form_bodies() -> None:
    authorization = dance(credentials(placement="body"))

    request = authorization.request_token_request()

    assert request.headers == {"Content-Type": FORM_CONTENT_TYPE}
    assert dict(parse_qsl(request.content.decode("ascii")))["oauth_callback"] == (
        CALLBACK
    )


def test_an_authorization_resumes_from_its_temporary_credentials() -> None:
    first = dance(credentials())
    temporary = first.accept_request_token(temporary_response())

    later = dance(credentials(), temporary=temporary)
    request = later.access_token_request("v3rifier")

    assert later.stage == "authorize"
    assert oauth_fields(request)["oauth_token"] == TEMPORARY_TOKEN


@pytest.mark.parametrize(
    ("missing", "step"),
    [
        ("request_token_url", lambda a: a.request_token_request()),
        ("authorize_url", lambda a: a.authorization_url()),
        ("access_token_url", lambda a: a.access_token_request("v")),
    ],
)
def test_a_missing_endpoint_is_a_config_error(missing: str, step: Any) -> None:
    authorization = dance(
        credentials(**{missing: None}),
        temporary=TokenCredentials(Secret("t"), Secret("s")),
    )

    with pytest.raises(ConfigError) as caught:
        step(authorization)

    assert [error.path for error in caught.value.errors] == [f"app.{missing}"]


@pytest.mark.parametrize(
    "step",
    [
        lambda a: a.authorization_url(),
        lambda a: a.verifier_from_callback(f"{CALLBACK}&oauth_verifier=v"),
        lambda a: a.access_token_request("v"),
    ],
)
def test_steps_out_of_order_are_flow_errors(step: Any) -> None:
    authorization = dance(credentials())

    with pytest.raises(FlowError, match="before the request token"):
        step(authorization)


def test_a_callback_for_another_token_is_refused() -> None:
    authorization = dance(credentials())
    authorization.accept_request_token(temporary_response())

    with pytest.raises(FlowError, match="another authorization"):
        authorization.verifier_from_callback(
            f"{CALLBACK}&oauth_token=someoneElsesToken&oauth_verifier=v"
        )


def test_a_callback_without_a_verifier_is_refused() -> None:
    authorization = dance(credentials())
    authorization.accept_request_token(temporary_response())

    with pytest.raises(FlowError, match="no oauth_verifier"):
        authorization.verifier_from_callback(f"{CALLBACK}&denied={TEMPORARY_TOKEN}")


def test_an_empty_verifier_is_refused() -> None:
    authorization = dance(credentials())
    authorization.accept_request_token(temporary_response())

    with pytest.raises(FlowError, match="verifier is empty"):
        authorization.access_token_request("  ")


def test_an_unconfirmed_callback_is_refused_unless_allowed() -> None:
    unconfirmed = form_response(
        oauth_token=TEMPORARY_TOKEN, oauth_token_secret=TEMPORARY_SECRET
    )

    with pytest.raises(TokenError, match="oauth_callback_confirmed"):
        dance(credentials()).accept_request_token(unconfirmed)
    lenient = dance(credentials(), require_callback_confirmed=False)
    temporary = lenient.accept_request_token(unconfirmed)

    assert temporary.callback_confirmed is None


def test_a_refusal_is_a_token_error_without_secrets() -> None:
    authorization = dance(credentials())
    authorization.accept_request_token(temporary_response())
    refusal = form_response(401, oauth_problem="verifier_invalid")

    with pytest.raises(TokenError, match="verifier_invalid") as caught:
        authorization.accept_access_token(refusal)

    assert caught.value.status_code == 401
    assert TEMPORARY_SECRET not in str(caught.value)
    assert authorization.stage == "authorize"


def test_other_credentials_are_refused() -> None:
    token = authplug.load({"type": "token", "user": {"access_token": "abc"}})

    with pytest.raises(ConfigError, match="needs oauth1 credentials"):
        OAuth1Authorization(token)


def test_no_secret_in_the_repr() -> None:
    authorization = dance(credentials())
    authorization.accept_request_token(temporary_response())

    shown = repr(authorization)

    assert "stage='authorize'" in shown
    for secret in (CLIENT_SECRET, TEMPORARY_TOKEN, TEMPORARY_SECRET):
        assert secret not in shown
