"""Check authplug's OAuth1 signatures with an independent server: oauthlib.

oauthlib's endpoints parse each request the way a provider does (header,
query or form body), rebuild the base string on their own and verify the
signature, the nonce and the timestamp. Every signature method is tried
with every placement, then the whole three-legged dance is run against
oauthlib's request token, authorization and access token endpoints.

Secrets here use unreserved characters only: oauthlib decodes ``oauth_*``
values from a query or a body twice, so a PLAINTEXT signature carrying an
escaped secret would not survive its parsing (a quirk of the verifier, not
of the signature). Non-ASCII text is exercised in the request parameters.
"""

from __future__ import annotations

import itertools
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)

from authplug.errors import TokenError
from authplug.http import Request, Response
from authplug.oauth1_signing import (
    FORM_CONTENT_TYPE,
    PLACEMENTS,
    SIGNATURE_METHODS,
    Placement,
    SignatureMethod,
    authorization_url,
    make_nonce,
    parse_temporary_credentials,
    parse_token_credentials,
    sign_request,
    temporary_credentials_request,
    token_credentials_request,
)

CLIENT_KEY = "authplugTestClient0001"
CLIENT_SECRET = "kd94hf93k423kf44-consumer.secret~"
ACCESS_TOKEN = "authplugAccessToken00001"
ACCESS_SECRET = "pfkkdhi9sl3r4s00-token.secret~"
CALLBACK = "https://client.example/ready?from=authplug"
REALM = "photos"


def pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return private.decode("ascii"), public.decode("ascii")


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return pem_pair()


class MemoryValidator(RequestValidator):
    """A provider's storage, in memory, with oauthlib's default checks."""

    def __init__(self, rsa_public_key: str) -> None:
        super().__init__()
        self.rsa_public_key = rsa_public_key
        self.access_tokens = {(CLIENT_KEY, ACCESS_TOKEN): ACCESS_SECRET}
        self.request_tokens: dict[str, dict[str, Any]] = {}
        self.verifiers: dict[str, str] = {}
        self.seen_nonces: set[tuple[str, str, str]] = set()

    # Plain http is allowed so that a non-default port can be tried too.
    @property
    def enforce_ssl(self) -> bool:
        return False

    @property
    def realms(self) -> list[str]:
        return [REALM]

    @property
    def dummy_client(self) -> str:
        return "dummyClientKey000000000"

    @property
    def dummy_request_token(self) -> str:
        return "dummyRequestToken000000"

    @property
    def dummy_access_token(self) -> str:
        return "dummyAccessToken0000000"

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return CLIENT_SECRET if client_key == CLIENT_KEY else "dummy"

    def get_rsa_key(self, client_key: str, request: Any) -> str:
        return self.rsa_public_key

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.access_tokens.get((client_key, token), "dummy")

    def get_request_token_secret(
        self, client_key: str, token: str, request: Any
    ) -> str:
        stored = self.request_tokens.get(token)
        return stored["secret"] if stored else "dummy"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == CLIENT_KEY

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return (client_key, token) in self.access_tokens

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        stored = self.request_tokens.get(token)
        return stored is not None and stored["client"] == client_key

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: Any,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        seen = (client_key, timestamp, nonce)
        if seen in self.seen_nonces:
            return False
        self.seen_nonces.add(seen)
        return True

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def validate_requested_realms(
        self, client_key: str, realms: list[str], request: Any
    ) -> bool:
        return set(realms) <= {REALM}

    def validate_redirect_uri(
        self, client_key: str, redirect_uri: str, request: Any
    ) -> bool:
        return redirect_uri in (CALLBACK, "oob")

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return [REALM]

    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        self.request_tokens[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "client": request.client_key,
            "callback": request.redirect_uri,
            "realms": request.realms,
        }

    def verify_request_token(self, token: str, request: Any) -> bool:
        return token in self.request_tokens

    def verify_realms(self, token: str, realms: list[str], request: Any) -> bool:
        return set(realms) <= set(self.request_tokens[token]["realms"])

    def get_redirect_uri(self, token: str, request: Any) -> str:
        callback: str = self.request_tokens[token]["callback"]
        return callback

    def save_verifier(self, token: str, verifier: dict[str, str], request: Any) -> None:
        self.verifiers[token] = verifier["oauth_verifier"]

    def validate_verifier(
        self, client_key: str, token: str, verifier: str, request: Any
    ) -> bool:
        return self.verifiers.get(token) == verifier

    def get_realms(self, token: str, request: Any) -> list[str]:
        realms: list[str] = self.request_tokens[token]["realms"]
        return realms

    def invalidate_request_token(
        self, client_key: str, request_token: str, request: Any
    ) -> None:
        del self.request_tokens[request_token]
        self.verifiers.pop(request_token, None)

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        key = (request.client_key, token["oauth_token"])
        self.access_tokens[key] = token["oauth_token_secret"]


@pytest.fixture
def validator(rsa_keys: tuple[str, str]) -> MemoryValidator:
    return MemoryValidator(rsa_keys[1])


def signing_options(
    method: SignatureMethod, placement: Placement, rsa_private_key: str
) -> dict[str, Any]:
    """Return sign_request arguments with a real clock and a fresh nonce."""
    return {
        "consumer_key": CLIENT_KEY,
        "consumer_secret": CLIENT_SECRET,
        "signature_method": method,
        "placement": placement,
        "timestamp": int(time.time()),
        "nonce": make_nonce(),
        "rsa_private_key": rsa_private_key,
        "realm": REALM if placement == "header" else None,
    }


def to_oauthlib(request: Request) -> dict[str, Any]:
    return {
        "uri": request.url,
        "http_method": request.method,
        "body": request.content.decode("ascii"),
        "headers": dict(request.headers),
    }


def resource_accepts(validator: MemoryValidator, request: Request) -> bool:
    endpoint = ResourceEndpoint(validator)
    valid, _ = endpoint.validate_protected_resource_request(
        realms=[REALM], **to_oauthlib(request)
    )
    return bool(valid)


def form(method: str, url: str, body: str) -> Request:
    headers = {"Content-Type": FORM_CONTENT_TYPE}
    return Request(method, url, headers=headers, content=body.encode("ascii"))


# Each shape is a factory, so every test signs a fresh request.
SHAPES = {
    "get with a non-ASCII query": lambda: Request(
        "GET",
        "https://api.example.com/photos?size=original&tag=caf%C3%A9"
        "&tag=%E2%82%AC&q=a+b&empty=&flag",
    ),
    "post with a query and a form body": lambda: form(
        "POST",
        "https://API.Example.com:443/photos/new?album=summer%202024&album=a",
        "title=Caf%C3%A9+au+lait&tags=%E6%97%A5%E6%9C%AC&tags=a%2Bb&note=",
    ),
    "post with an empty form body": lambda: form(
        "POST", "https://api.example.com/photos/like", ""
    ),
    "put with a json body on a non-default port": lambda: Request(
        "PUT",
        "http://127.0.0.1:8080/photos/1?v=%C3%BC",
        headers={"Content-Type": "application/json"},
        content=b'{"title": "a=b&c"}',
    ),
}


def cases() -> list[Any]:
    params = []
    for method, placement, shape in itertools.product(
        SIGNATURE_METHODS, PLACEMENTS, SHAPES
    ):
        has_form = shape.startswith("post")
        if placement == "body" and not has_form:
            continue
        params.append(
            pytest.param(method, placement, shape, id=f"{method}-{placement}-{shape}")
        )
    return params


@pytest.mark.parametrize(("method", "placement", "shape"), cases())
def test_oauthlib_accepts_every_method_in_every_placement(
    validator: MemoryValidator,
    rsa_keys: tuple[str, str],
    method: SignatureMethod,
    placement: Placement,
    shape: str,
) -> None:
    request = SHAPES[shape]()

    sign_request(
        request,
        token=ACCESS_TOKEN,
        token_secret=ACCESS_SECRET,
        **signing_options(method, placement, rsa_keys[0]),
    )

    assert resource_accepts(validator, request)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_a_request_signed_twice_is_still_accepted(
    validator: MemoryValidator, rsa_keys: tuple[str, str], placement: Placement
) -> None:
    request = SHAPES["post with a query and a form body"]()
    options = signing_options("HMAC-SHA256", placement, rsa_keys[0])
    sign_request(request, token=ACCESS_TOKEN, token_secret=ACCESS_SECRET, **options)

    options["nonce"] = make_nonce()
    sign_request(request, token=ACCESS_TOKEN, token_secret=ACCESS_SECRET, **options)

    assert resource_accepts(validator, request)


def change_query(request: Request) -> None:
    request.url = request.url.replace("size=original", "size=large")


def change_body(request: Request) -> None:
    request.content = request.content.replace(b"title=", b"title=X")


def change_method(request: Request) -> None:
    request.method = "DELETE"


def change_host(request: Request) -> None:
    request.url = request.url.replace("api.example.com", "evil.example.com")


def add_query_param(request: Request) -> None:
    parts = urlsplit(request.url)
    request.url = parts._replace(query=parts.query + "&admin=1").geturl()


TAMPERS = {
    "query value": change_query,
    "body value": change_body,
    "method": change_method,
    "host": change_host,
    "extra query parameter": add_query_param,
}


@pytest.mark.parametrize("method", SIGNATURE_METHODS)
@pytest.mark.parametrize("tamper", TAMPERS)
def test_oauthlib_rejects_a_tampered_request(
    validator: MemoryValidator,
    rsa_keys: tuple[str, str],
    method: SignatureMethod,
    tamper: str,
) -> None:
    request = form(
        "POST", "https://api.example.com/photos?size=original", "title=Caf%C3%A9"
    )
    sign_request(
        request,
        token=ACCESS_TOKEN,
        token_secret=ACCESS_SECRET,
        **signing_options(method, "header", rsa_keys[0]),
    )
    untouched = Request(
        request.method, request.url, dict(request.headers), request.content
    )

    TAMPERS[tamper](request)

    assert request != untouched
    if method == "PLAINTEXT":
        # PLAINTEXT signs nothing but the secrets: that is its whole point,
        # and why it needs TLS. Tampering the request cannot be noticed.
        assert resource_accepts(validator, request)
    else:
        assert not resource_accepts(validator, request)
    assert resource_accepts(MemoryValidator(rsa_keys[1]), untouched)


@pytest.mark.parametrize("method", SIGNATURE_METHODS)
def test_oauthlib_rejects_wrong_secrets_and_keys(
    validator: MemoryValidator, method: SignatureMethod
) -> None:
    other_private, _ = pem_pair()
    request = SHAPES["get with a non-ASCII query"]()
    options = signing_options(method, "query", other_private)
    options["consumer_secret"] = "not-the-consumer-secret"

    sign_request(request, token=ACCESS_TOKEN, token_secret=ACCESS_SECRET, **options)

    assert not resource_accepts(validator, request)


def test_oauthlib_rejects_a_replayed_nonce(
    validator: MemoryValidator, rsa_keys: tuple[str, str]
) -> None:
    request = SHAPES["get with a non-ASCII query"]()
    sign_request(
        request,
        token=ACCESS_TOKEN,
        token_secret=ACCESS_SECRET,
        **signing_options("HMAC-SHA1", "header", rsa_keys[0]),
    )

    first = resource_accepts(validator, request)
    replay = resource_accepts(validator, request)

    assert (first, replay) == (True, False)


def oauthlib_response(result: tuple[dict[str, str], str | None, int]) -> Response:
    headers, body, status = result
    return Response(status, headers=headers, content=(body or "").encode("utf-8"))


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("method", SIGNATURE_METHODS)
def test_three_legged_dance_with_oauthlib_endpoints(
    validator: MemoryValidator,
    rsa_keys: tuple[str, str],
    method: SignatureMethod,
    placement: Placement,
) -> None:
    def options() -> dict[str, Any]:
        return signing_options(method, placement, rsa_keys[0])

    temporary_request = temporary_credentials_request(
        "https://provider.example/initiate", callback=CALLBACK, **options()
    )
    temporary = parse_temporary_credentials(
        oauthlib_response(
            RequestTokenEndpoint(validator).create_request_token_response(
                **to_oauthlib(temporary_request)
            )
        )
    )

    authorize = authorization_url(
        "https://provider.example/authorize?lang=en", temporary.token.reveal()
    )
    headers, _, status = AuthorizationEndpoint(validator).create_authorization_response(
        authorize, realms=[REALM]
    )
    assert status == 302
    location = urlsplit(headers["Location"])
    verifier = dict(parse_qsl(location.query))["oauth_verifier"]

    access_request = token_credentials_request(
        "https://provider.example/token",
        token=temporary.token.reveal(),
        token_secret=temporary.token_secret.reveal(),
        verifier=verifier,
        **options(),
    )
    access = parse_token_credentials(
        oauthlib_response(
            AccessTokenEndpoint(validator).create_access_token_response(
                **to_oauthlib(access_request)
            )
        )
    )

    api_request = form("POST", "https://api.example.com/photos", "title=%C3%A9t%C3%A9")
    sign_request(
        api_request,
        token=access.token.reveal(),
        token_secret=access.token_secret.reveal(),
        **options(),
    )

    assert temporary.callback_confirmed is True
    assert location.geturl().startswith(CALLBACK)
    assert access.extra == {"oauth_authorized_realms": REALM}
    assert temporary.token.reveal() not in validator.request_tokens
    assert resource_accepts(validator, api_request)


def test_a_refused_access_token_request_is_a_token_error(
    validator: MemoryValidator, rsa_keys: tuple[str, str]
) -> None:
    request = token_credentials_request(
        "https://provider.example/token",
        token="unknownRequestToken00001",
        token_secret="whatever-secret",
        verifier="unknownVerifierValue0001",
        **signing_options("HMAC-SHA1", "header", rsa_keys[0]),
    )

    response = oauthlib_response(
        AccessTokenEndpoint(validator).create_access_token_response(
            **to_oauthlib(request)
        )
    )

    with pytest.raises(TokenError, match="HTTP 401") as caught:
        parse_token_credentials(response)
    assert "whatever-secret" not in str(caught.value)
