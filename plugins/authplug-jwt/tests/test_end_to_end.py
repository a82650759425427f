"""Both types against a real OAuth 2 server on 127.0.0.1, through httpx2.

The server is the core's test server (``tests.oauth_server``): Authlib's
RFC 7523 JWT bearer grant and ``private_key_jwt`` client authentication,
checking each assertion against the public keys (JWKS) registered for the
client. Every test registers a client of its own with the public half of
an RS256 or an ES256 key and gives the private half to authplug.
"""

from __future__ import annotations

import asyncio
from typing import Any

import authplug
import httpx2
import jwt as pyjwt
import pytest
from authplug import TokenError
from authplug.stores import MemoryStore
from joserfc.jwk import ECKey, RSAKey
from tests.oauth_server import JWT_BEARER_GRANT, ClientConfig, Fault, OAuthServer

from authplug_jwt import CLIENT_ASSERTION_TYPE, load_signing_key

KINDS = ["oauth2.jwt_bearer", "oauth2.private_key_jwt"]


@pytest.fixture
def signing(
    algorithm: str, rsa_key: RSAKey, ec_key: ECKey
) -> tuple[str, RSAKey | ECKey]:
    """Return the algorithm and the server fixtures' key for it."""
    return algorithm, rsa_key if algorithm == "RS256" else ec_key


def register(
    server: OAuthServer, key: RSAKey | ECKey, client_id: str = "signer"
) -> None:
    server.add_client(
        ClientConfig(
            client_id,
            auth_method="private_key_jwt",
            grant_types=("client_credentials", JWT_BEARER_GRANT),
            scope="read write",
            jwks={"keys": [key.as_dict(private=False)]},
        )
    )


def document(
    kind: str, server: OAuthServer, key: RSAKey | ECKey, **app: Any
) -> dict[str, Any]:
    app_fields = {
        "client_id": "signer",
        "token_url": server.token_url,
        "private_key": key.as_pem(private=True).decode("ascii"),
        "key_id": key.kid,
        "scopes": "read",
        **app,
    }
    result: dict[str, Any] = {"type": kind, "app": app_fields}
    if kind == "oauth2.jwt_bearer":
        result["user"] = {"subject": "alice"}
    return result


def auth_for(data: dict[str, Any]) -> Any:
    # A store per test: the session's one server forgets its tokens on reset.
    return authplug.auth(authplug.load(data), store=MemoryStore())


def expected_identity(kind: str) -> dict[str, str | None]:
    if kind == "oauth2.jwt_bearer":
        return {"sub": "alice", "grant_type": JWT_BEARER_GRANT}
    # The client acts for itself: the token has no user.
    return {"sub": None, "grant_type": "client_credentials"}


def assertion_of(server: OAuthServer, index: int = -1) -> str:
    form = server.token_requests[index].form
    return form.get("assertion") or form["client_assertion"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_sync_client_gets_a_token_and_calls_the_api(
    oauth_server: OAuthServer, signing: tuple[str, Any], kind: str
) -> None:
    algorithm, key = signing
    register(oauth_server, key)
    auth = auth_for(document(kind, oauth_server, key))

    with httpx2.Client(auth=auth) as client:
        first = client.get(oauth_server.api_url)
        second = client.get(oauth_server.api_url)

    me = first.json()
    assert first.status_code == second.status_code == 200
    assert {"sub": me["sub"], "grant_type": me["grant_type"]} == expected_identity(kind)
    assert (me["client_id"], me["scope"]) == ("signer", "read")
    assert oauth_server.token_request_count() == 1
    record = oauth_server.last_token_request
    assert record.status == 200
    assert record.client_id == "signer"
    header = pyjwt.get_unverified_header(assertion_of(oauth_server))
    assert (header["alg"], header["kid"]) == (algorithm, key.kid)
    if kind == "oauth2.private_key_jwt":
        assert record.auth_method == "private_key_jwt"
        assert record.form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    else:
        assert record.grant_type == JWT_BEARER_GRANT
    assert auth.credentials.user.access_token is not None


@pytest.mark.parametrize("kind", KINDS)
def test_an_async_client_gets_a_token_and_calls_the_api(
    oauth_server: OAuthServer, signing: tuple[str, Any], kind: str
) -> None:
    _, key = signing
    register(oauth_server, key)
    auth = auth_for(document(kind, oauth_server, key))

    async def call_twice() -> list[httpx2.Response]:
        async with httpx2.AsyncClient(auth=auth) as client:
            return list(
                await asyncio.gather(
                    client.get(oauth_server.api_url), client.get(oauth_server.api_url)
                )
            )

    responses = asyncio.run(call_twice())

    assert [response.status_code for response in responses] == [200, 200]
    me = responses[0].json()
    assert {"sub": me["sub"], "grant_type": me["grant_type"]} == expected_identity(kind)
    assert oauth_server.token_request_count() == 1


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_the_server_drops_is_renewed_with_a_new_assertion(
    oauth_server: OAuthServer, signing: tuple[str, Any], kind: str
) -> None:
    _, key = signing
    register(oauth_server, key)
    auth = auth_for(document(kind, oauth_server, key))

    with httpx2.Client(auth=auth) as client:
        client.get(oauth_server.api_url)
        oauth_server.expire_access_tokens()
        again = client.get(oauth_server.api_url)

    assert again.status_code == 200
    assert oauth_server.token_request_count() == 2
    jtis = [
        pyjwt.decode(
            assertion_of(oauth_server, i), options={"verify_signature": False}
        )["jti"]
        for i in (0, 1)
    ]
    assert jtis[0] != jtis[1]
    assert [r.status for r in oauth_server.api_requests] == [200, 401, 200]


@pytest.mark.parametrize("kind", KINDS)
def test_a_retried_token_request_carries_a_fresh_assertion(
    oauth_server: OAuthServer, signing: tuple[str, Any], kind: str
) -> None:
    _, key = signing
    register(oauth_server, key)
    oauth_server.inject(Fault.unavailable(retry_after=0))
    auth = auth_for(document(kind, oauth_server, key))

    with httpx2.Client(auth=auth) as client:
        response = client.get(oauth_server.api_url)

    assert response.status_code == 200
    assert [r.status for r in oauth_server.token_requests] == [503, 200]
    assert assertion_of(oauth_server, 0) != assertion_of(oauth_server, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_the_server_does_not_hold_is_refused_clearly(
    oauth_server: OAuthServer, signing: tuple[str, Any], kind: str, keys: Any
) -> None:
    algorithm, key = signing
    register(oauth_server, key)
    stranger = keys.pem(keys.other_rsa if algorithm == "RS256" else keys.other_ec)
    auth = auth_for(document(kind, oauth_server, key, private_key=stranger))

    with httpx2.Client(auth=auth) as client, pytest.raises(TokenError) as caught:
        client.get(oauth_server.api_url)

    error = caught.value
    message = str(error)
    assert oauth_server.api_request_count() == 0
    assert "refused the" in message and oauth_server.token_url in message
    assert "private_key and key_id" in message
    assert not any(line in message for line in stranger.splitlines()[1:-1])
    if kind == "oauth2.jwt_bearer":
        assert (error.error, error.status_code) == ("invalid_grant", 400)
        assert "the server refused the assertion" in message
    else:
        # RFC 6749 5.2 allows 400 or 401 for invalid_client.
        assert error.error == "invalid_client"
        assert error.status_code in (400, 401)
        assert "the server refused the client assertion" in message


def test_an_async_client_gets_the_same_clear_error(
    oauth_server: OAuthServer, signing: tuple[str, Any], keys: Any
) -> None:
    _, key = signing
    register(oauth_server, key)
    stranger = keys.pem(keys.other_ec)
    data = document("oauth2.private_key_jwt", oauth_server, key, private_key=stranger)
    auth = auth_for(data)

    async def call() -> None:
        async with httpx2.AsyncClient(auth=auth) as client:
            await client.get(oauth_server.api_url)

    with pytest.raises(TokenError, match="refused the client assertion"):
        asyncio.run(call())


def test_an_unknown_subject_is_refused(
    oauth_server: OAuthServer, signing: tuple[str, Any]
) -> None:
    _, key = signing
    register(oauth_server, key)
    data = document("oauth2.jwt_bearer", oauth_server, key)
    data["user"]["subject"] = "mallory"

    with (
        httpx2.Client(auth=auth_for(data)) as client,
        pytest.raises(TokenError) as caught,
    ):
        client.get(oauth_server.api_url)

    assert caught.value.error == "invalid_grant"
    assert "sub" in (caught.value.description or "")


def test_the_issuer_may_be_the_audience(
    oauth_server: OAuthServer, signing: tuple[str, Any]
) -> None:
    _, key = signing
    register(oauth_server, key)
    data = document(
        "oauth2.private_key_jwt",
        oauth_server,
        key,
        assertion_audience=oauth_server.issuer,
    )

    with httpx2.Client(auth=auth_for(data)) as client:
        response = client.get(oauth_server.api_url)

    aud = pyjwt.decode(assertion_of(oauth_server), options={"verify_signature": False})[
        "aud"
    ]
    assert response.status_code == 200
    assert aud == oauth_server.issuer


def test_a_key_registered_from_public_jwk_works(
    oauth_server: OAuthServer, keys: Any, algorithm: str
) -> None:
    pem = keys.pem(keys.by_algorithm[algorithm])
    public = load_signing_key(pem, key_id="from-helper").public_jwk()
    oauth_server.add_client(
        ClientConfig(
            "helper",
            auth_method="private_key_jwt",
            grant_types=("client_credentials",),
            jwks={"keys": [public]},
        )
    )
    data = {
        "type": "oauth2.private_key_jwt",
        "app": {
            "client_id": "helper",
            "token_url": oauth_server.token_url,
            "private_key": pem,
            "key_id": "from-helper",
        },
    }

    with httpx2.Client(auth=auth_for(data)) as client:
        response = client.get(oauth_server.api_url)

    assert response.status_code == 200
    assert response.json()["client_id"] == "helper"
