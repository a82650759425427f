"""Tests of the test OAuth server itself, with plain httpx2 calls.

Other tests trust ``oauth_server`` to be a correct authorization server that
misbehaves only when told to; these tests are why they can.
"""

from __future__ import annotations

import base64
import email.utils
import json
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from tests.oauth_server import (
    BASIC_CLIENT,
    JWT_BEARER_GRANT,
    POST_CLIENT,
    PUBLIC_CLIENT,
    ClientConfig,
    ConfigError,
    Fault,
    OAuthServer,
    OAuthServerProcess,
    ServerConfig,
    Settings,
    UserConfig,
)
from tests.oauth_server.config import from_json, to_json

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

BASIC_AUTH = (BASIC_CLIENT.client_id, BASIC_CLIENT.client_secret or "")
POST_CREDENTIALS = {
    "client_id": POST_CLIENT.client_id,
    "client_secret": POST_CLIENT.client_secret or "",
}
PASSWORD_GRANT = {
    "grant_type": "password",
    "username": "alice",
    "password": "alice-password",
}


def post_token(
    server: OAuthServer,
    data: Mapping[str, str],
    *,
    auth: tuple[str, str] | None = BASIC_AUTH,
    headers: Mapping[str, str] | None = None,
) -> httpx2.Response:
    return httpx2.post(
        server.token_url, data=dict(data), auth=auth, headers=headers, timeout=10
    )


def call_api(server: OAuthServer, token: str | None, **params: str) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.get(server.api_url, headers=headers, params=params, timeout=10)


def basic_header(client_id: str, secret: str, encode: Any) -> dict[str, str]:
    pair = f"{encode(client_id)}:{encode(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def no_encoding(value: str) -> str:
    return value


def s256(verifier: str) -> str:
    digest = sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(server: OAuthServer, client_id: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://127.0.0.1/callback",
        "state": "xyz-state",
        **params,
    }
    return f"{server.authorize_url}?{urlencode(query)}"


def redirect_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def password_tokens(server: OAuthServer) -> dict[str, Any]:
    response = post_token(server, PASSWORD_GRANT)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(server: OAuthServer, refresh_token: str, **extra: str) -> httpx2.Response:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return post_token(server, data)


# -- client credentials and client authentication ---------------------------


def test_client_credentials_with_basic_auth_gives_a_working_token(
    oauth_server: OAuthServer,
) -> None:
    response = post_token(
        oauth_server, {"grant_type": "client_credentials", "scope": "read"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read"
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"

    me = call_api(oauth_server, body["access_token"])
    assert me.status_code == 200
    assert me.json() == {
        "sub": None,
        "client_id": "basic-client",
        "scope": "read",
        "grant_type": "client_credentials",
    }

    record = oauth_server.last_token_request
    assert record.client_id == "basic-client"
    assert record.auth_method == "client_secret_basic"
    assert record.status == 200


def test_client_secret_post_client_authenticates_with_form_fields(
    oauth_server: OAuthServer,
) -> None:
    data = {"grant_type": "client_credentials", **POST_CREDENTIALS}

    response = post_token(oauth_server, data, auth=None)

    assert response.status_code == 200
    assert oauth_server.last_token_request.auth_method == "client_secret_post"


@pytest.mark.parametrize(
    ("data", "auth"),
    [
        # The basic client may not put its secret in the form...
        (
            {"client_id": "basic-client", "client_secret": "basic-secret"},
            None,
        ),
        # ...the post client may not use HTTP Basic...
        ({}, ("post-client", "post-secret")),
        # ...and a wrong secret is a wrong secret.
        ({}, ("basic-client", "not-the-secret")),
        ({}, ("no-such-client", "basic-secret")),
    ],
)
def test_clients_must_use_their_registered_auth_method_and_secret(
    oauth_server: OAuthServer, data: dict[str, str], auth: tuple[str, str] | None
) -> None:
    response = post_token(
        oauth_server, {"grant_type": "client_credentials", **data}, auth=auth
    )

    assert response.status_code in (400, 401)
    assert response.json()["error"] == "invalid_client"


def test_public_clients_may_not_use_client_credentials(
    oauth_server: OAuthServer,
) -> None:
    data = {"grant_type": "client_credentials", "client_id": "public-client"}

    response = post_token(oauth_server, data, auth=None)

    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


def test_scopes_outside_the_clients_registration_are_not_granted(
    oauth_server: OAuthServer,
) -> None:
    data = {"grant_type": "client_credentials", "scope": "write admin read"}

    response = post_token(oauth_server, data)

    assert response.json()["scope"] == "write read"


def test_grant_types_are_limited_to_the_registered_ones(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.add_client(
        ClientConfig("cc-only", "cc-secret", grant_types=("client_credentials",))
    )

    response = post_token(oauth_server, PASSWORD_GRANT, auth=("cc-only", "cc-secret"))

    assert response.json()["error"] == "unauthorized_client"


# -- client_secret_basic encoding (RFC 6749 section 2.3.1) -------------------

AWKWARD_ID = "svc:id 50%+é"
AWKWARD_SECRET = "s:e%c+r et ü/="


@pytest.fixture
def awkward_client(oauth_server: OAuthServer) -> ClientConfig:
    return oauth_server.add_client(ClientConfig(AWKWARD_ID, AWKWARD_SECRET))


@pytest.mark.parametrize("encode", [quote_plus, quote], ids=["form", "percent"])
def test_form_decoding_accepts_rfc_encoded_basic_credentials(
    oauth_server: OAuthServer, awkward_client: ClientConfig, encode: Any
) -> None:
    headers = basic_header(AWKWARD_ID, AWKWARD_SECRET, encode)

    response = post_token(
        oauth_server, {"grant_type": "client_credentials"}, auth=None, headers=headers
    )

    assert response.status_code == 200, response.text
    assert oauth_server.last_token_request.client_id == AWKWARD_ID


def test_form_decoding_rejects_unencoded_basic_credentials(
    oauth_server: OAuthServer, awkward_client: ClientConfig
) -> None:
    headers = basic_header(AWKWARD_ID, AWKWARD_SECRET, no_encoding)

    response = post_token(
        oauth_server, {"grant_type": "client_credentials"}, auth=None, headers=headers
    )

    assert response.json()["error"] == "invalid_client"


def test_record_shows_basic_credentials_as_the_client_encoded_them(
    oauth_server: OAuthServer, awkward_client: ClientConfig
) -> None:
    headers = basic_header(AWKWARD_ID, AWKWARD_SECRET, quote_plus)

    post_token(
        oauth_server, {"grant_type": "client_credentials"}, auth=None, headers=headers
    )

    assert oauth_server.last_token_request.basic_auth == (
        "svc%3Aid+50%25%2B%C3%A9",
        "s%3Ae%25c%2Br+et+%C3%BC%2F%3D",
    )


def test_percent_decoding_takes_plus_literally_as_authlib_does(
    oauth_server: OAuthServer, awkward_client: ClientConfig
) -> None:
    oauth_server.configure(basic_auth_decoding="percent")
    data = {"grant_type": "client_credentials"}

    percent = post_token(
        oauth_server,
        data,
        auth=None,
        headers=basic_header(AWKWARD_ID, AWKWARD_SECRET, quote),
    )
    plus_for_space = post_token(
        oauth_server,
        data,
        auth=None,
        headers=basic_header(AWKWARD_ID, AWKWARD_SECRET, quote_plus),
    )

    assert percent.status_code == 200
    assert plus_for_space.json()["error"] == "invalid_client"


def test_raw_decoding_compares_credentials_as_sent(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.add_client(ClientConfig("raw id é", "p%ss+w rd ü"))
    oauth_server.configure(basic_auth_decoding="raw")
    data = {"grant_type": "client_credentials"}

    raw = post_token(
        oauth_server,
        data,
        auth=None,
        headers=basic_header("raw id é", "p%ss+w rd ü", no_encoding),
    )
    encoded = post_token(
        oauth_server,
        data,
        auth=None,
        headers=basic_header("raw id é", "p%ss+w rd ü", quote_plus),
    )

    assert raw.status_code == 200
    assert encoded.json()["error"] == "invalid_client"


# -- password grant -------------------------------------------------------


def test_password_grant_issues_tokens_for_the_user(oauth_server: OAuthServer) -> None:
    tokens = password_tokens(oauth_server)

    me = call_api(oauth_server, tokens["access_token"])

    assert tokens["refresh_token"]
    assert me.json()["sub"] == "alice"
    assert me.json()["grant_type"] == "password"


def test_password_grant_rejects_a_wrong_password(oauth_server: OAuthServer) -> None:
    response = post_token(oauth_server, {**PASSWORD_GRANT, "password": "wrong"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_added_users_can_log_in(oauth_server: OAuthServer) -> None:
    oauth_server.add_user("bob", "b0b pässword")
    data = {"grant_type": "password", "username": "bob", "password": "b0b pässword"}

    response = post_token(oauth_server, data)

    assert (
        call_api(oauth_server, response.json()["access_token"]).json()["sub"] == "bob"
    )


# -- authorization code grant -----------------------------------------------


def test_code_flow_redirects_with_code_and_state_then_exchanges(
    oauth_server: OAuthServer,
) -> None:
    location = oauth_server.approve(
        authorization_url(oauth_server, "basic-client", scope="read profile")
    )
    params = redirect_params(location)

    response = post_token(
        oauth_server,
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": "http://127.0.0.1/callback",
        },
    )

    assert location.startswith("http://127.0.0.1/callback?")
    assert params["state"] == "xyz-state"
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "read profile"
    assert body["refresh_token"]
    assert call_api(oauth_server, body["access_token"]).json()["sub"] == "alice"


def test_a_code_can_be_redeemed_only_once(oauth_server: OAuthServer) -> None:
    code = redirect_params(
        oauth_server.approve(authorization_url(oauth_server, "basic-client"))
    )["code"]
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://127.0.0.1/callback",
    }

    first = post_token(oauth_server, exchange)
    second = post_token(oauth_server, exchange)

    assert first.status_code == 200
    assert second.json()["error"] == "invalid_grant"


def test_the_exchange_must_repeat_the_redirect_uri(oauth_server: OAuthServer) -> None:
    code = redirect_params(
        oauth_server.approve(authorization_url(oauth_server, "basic-client"))
    )["code"]

    response = post_token(
        oauth_server,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1/elsewhere",
        },
    )

    assert response.json()["error"] == "invalid_grant"


def test_loopback_redirect_uris_match_on_any_port(oauth_server: OAuthServer) -> None:
    url = authorization_url(
        oauth_server, "basic-client", redirect_uri="http://127.0.0.1:54321/callback"
    )

    location = oauth_server.approve(url)

    assert location.startswith("http://127.0.0.1:54321/callback?code=")


def test_unregistered_redirect_uris_get_an_error_not_a_redirect(
    oauth_server: OAuthServer,
) -> None:
    url = authorization_url(
        oauth_server, "basic-client", redirect_uri="http://evil.example/callback"
    )

    response = httpx2.get(f"{url}&login_as=alice", follow_redirects=False)

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"] == "invalid_request"


def test_logged_in_user_approves_without_login_as(oauth_server: OAuthServer) -> None:
    oauth_server.add_user("carol", "pw")
    oauth_server.login("carol")

    location = oauth_server.approve(
        authorization_url(oauth_server, "basic-client"), user=None
    )
    code = redirect_params(location)["code"]
    response = post_token(
        oauth_server,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://127.0.0.1/callback",
        },
    )

    assert call_api(oauth_server, response.json()["access_token"]).json()["sub"] == (
        "carol"
    )


def test_without_a_user_the_authorization_endpoint_explains(
    oauth_server: OAuthServer,
) -> None:
    response = httpx2.get(
        authorization_url(oauth_server, "basic-client"), follow_redirects=False
    )

    assert response.status_code == 400
    assert "login_as" in response.text


def test_denied_consent_redirects_with_access_denied(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(deny_consent=True)

    location = oauth_server.approve(authorization_url(oauth_server, "basic-client"))

    params = redirect_params(location)
    assert (params["error"], params["state"]) == ("access_denied", "xyz-state")
    assert "code" not in params


# -- PKCE for the public client ------------------------------------------------

VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnopqrstuvwxyz"


def public_code(server: OAuthServer, **params: str) -> str:
    location = server.approve(authorization_url(server, "public-client", **params))
    return redirect_params(location)["code"]


def public_exchange(server: OAuthServer, code: str, **extra: str) -> httpx2.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "public-client",
        "redirect_uri": "http://127.0.0.1/callback",
        **extra,
    }
    return post_token(server, data, auth=None)


def test_public_client_exchanges_a_code_with_its_s256_verifier(
    oauth_server: OAuthServer,
) -> None:
    code = public_code(
        oauth_server, code_challenge=s256(VERIFIER), code_challenge_method="S256"
    )

    response = public_exchange(oauth_server, code, code_verifier=VERIFIER)

    assert response.status_code == 200, response.text
    assert oauth_server.last_token_request.auth_method == "none"
    assert response.json()["refresh_token"]


def test_public_client_with_a_wrong_verifier_gets_invalid_grant(
    oauth_server: OAuthServer,
) -> None:
    code = public_code(
        oauth_server, code_challenge=s256(VERIFIER), code_challenge_method="S256"
    )

    response = public_exchange(oauth_server, code, code_verifier=VERIFIER[::-1])

    assert response.json()["error"] == "invalid_grant"


def test_public_client_without_pkce_cannot_exchange(oauth_server: OAuthServer) -> None:
    code = public_code(oauth_server)

    response = public_exchange(oauth_server, code)

    assert response.json()["error"] == "invalid_request"


def test_public_client_refreshes_without_a_secret(oauth_server: OAuthServer) -> None:
    code = public_code(
        oauth_server, code_challenge=s256(VERIFIER), code_challenge_method="S256"
    )
    tokens = public_exchange(oauth_server, code, code_verifier=VERIFIER).json()
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": "public-client",
    }

    response = post_token(oauth_server, data, auth=None)

    assert response.status_code == 200, response.text


# -- refresh tokens and rotation ----------------------------------------------


def test_rotation_issues_a_new_refresh_token_and_retires_the_old(
    oauth_server: OAuthServer,
) -> None:
    first = password_tokens(oauth_server)

    renewed = refresh(oauth_server, first["refresh_token"])
    reused = refresh(oauth_server, first["refresh_token"])

    assert renewed.status_code == 200
    new_refresh = renewed.json()["refresh_token"]
    assert new_refresh != first["refresh_token"]
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert not oauth_server.is_refresh_token_active(first["refresh_token"])
    assert oauth_server.is_refresh_token_active(new_refresh)
    assert refresh(oauth_server, new_refresh).status_code == 200


def test_without_rotation_the_refresh_token_is_kept_and_not_resent(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(rotate_refresh_tokens=False)
    first = password_tokens(oauth_server)

    renewed = refresh(oauth_server, first["refresh_token"])
    again = refresh(oauth_server, first["refresh_token"])

    assert renewed.status_code == again.status_code == 200
    assert "refresh_token" not in renewed.json()
    assert renewed.json()["access_token"] != first["access_token"]
    assert oauth_server.is_refresh_token_active(first["refresh_token"])


@pytest.mark.parametrize("rotate", [True, False])
def test_old_access_tokens_can_be_revoked_on_refresh(
    oauth_server: OAuthServer, rotate: bool
) -> None:
    oauth_server.configure(
        rotate_refresh_tokens=rotate, revoke_access_token_on_refresh=True
    )
    first = password_tokens(oauth_server)

    renewed = refresh(oauth_server, first["refresh_token"]).json()

    assert call_api(oauth_server, first["access_token"]).status_code == 401
    assert call_api(oauth_server, renewed["access_token"]).status_code == 200


def test_old_access_tokens_stay_valid_after_refresh_by_default(
    oauth_server: OAuthServer,
) -> None:
    first = password_tokens(oauth_server)

    refresh(oauth_server, first["refresh_token"])

    assert call_api(oauth_server, first["access_token"]).status_code == 200


def test_refresh_may_narrow_but_not_widen_the_scope(oauth_server: OAuthServer) -> None:
    tokens = password_tokens_with_scope(oauth_server, "read write")

    narrower = refresh(oauth_server, tokens["refresh_token"], scope="read")
    wider = refresh(oauth_server, narrower.json()["refresh_token"], scope="read admin")

    assert narrower.json()["scope"] == "read"
    assert wider.json()["error"] == "invalid_scope"


def password_tokens_with_scope(server: OAuthServer, scope: str) -> dict[str, Any]:
    response = post_token(server, {**PASSWORD_GRANT, "scope": scope})
    body: dict[str, Any] = response.json()
    return body


def test_a_refresh_token_belongs_to_its_client(oauth_server: OAuthServer) -> None:
    tokens = password_tokens(oauth_server)
    data = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        **POST_CREDENTIALS,
    }

    response = post_token(oauth_server, data, auth=None)

    assert response.json()["error"] == "invalid_grant"


# -- token response shape -------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in_format", "expected"),
    [
        ("int", 120),
        ("float", 120.0),
        ("string", "120"),
        ("float-string", "120.0"),
    ],
)
def test_expires_in_goes_out_in_the_configured_format(
    oauth_server: OAuthServer, expires_in_format: str, expected: object
) -> None:
    oauth_server.configure(
        access_token_lifetime=120, expires_in_format=expires_in_format
    )

    response = post_token(oauth_server, {"grant_type": "client_credentials"})

    value = response.json()["expires_in"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "changes",
    [{"expires_in_format": "omit"}, {"access_token_lifetime": None}],
    ids=["omitted", "no-lifetime"],
)
def test_expires_in_can_be_left_out(
    oauth_server: OAuthServer, changes: dict[str, Any]
) -> None:
    oauth_server.configure(**changes)

    response = post_token(oauth_server, {"grant_type": "client_credentials"})

    assert "expires_in" not in response.json()


def test_an_omitted_expires_in_still_expires_on_the_server(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(expires_in_format="omit", access_token_lifetime=0)

    token = post_token(oauth_server, {"grant_type": "client_credentials"}).json()

    assert call_api(oauth_server, token["access_token"]).status_code == 401


def test_token_type_and_extra_fields_are_configurable(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(
        token_type="bearer", extra_token_fields={"id_token": "x.y.z"}
    )

    body = post_token(oauth_server, {"grant_type": "client_credentials"}).json()

    assert body["token_type"] == "bearer"
    assert body["id_token"] == "x.y.z"
    assert call_api(oauth_server, body["access_token"]).status_code == 200


def test_date_header_follows_the_configured_clock_skew(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.configure(clock_skew=3600)

    response = post_token(oauth_server, {"grant_type": "client_credentials"})

    server_time = email.utils.parsedate_to_datetime(response.headers["date"])
    offset = server_time.timestamp() - time.time()
    assert 3600 - 60 < offset < 3600 + 60


# -- the protected resource ------------------------------------------------------


def bearer_challenge(response: httpx2.Response) -> str:
    return str(response.headers["www-authenticate"])


def test_api_rejects_unknown_expired_and_revoked_tokens(
    oauth_server: OAuthServer,
) -> None:
    expired = password_tokens(oauth_server)["access_token"]
    revoked = password_tokens(oauth_server)["access_token"]
    oauth_server.expire_access_tokens(expired)
    oauth_server.revoke(revoked)

    for token in ("no-such-token", expired, revoked):
        response = call_api(oauth_server, token)

        assert response.status_code == 401
        challenge = bearer_challenge(response)
        assert challenge.startswith("Bearer ")
        assert 'error="invalid_token"' in challenge


def test_api_without_a_token_asks_for_one_without_an_error_code(
    oauth_server: OAuthServer,
) -> None:
    response = call_api(oauth_server, None)

    assert response.status_code == 401
    assert bearer_challenge(response) == 'Bearer realm="authplug-test"'


def test_api_answers_403_when_the_token_lacks_a_required_scope(
    oauth_server: OAuthServer,
) -> None:
    token = post_token(
        oauth_server, {"grant_type": "client_credentials", "scope": "read"}
    ).json()["access_token"]

    allowed = call_api(oauth_server, token, require_scope="read")
    denied = call_api(oauth_server, token, require_scope="write")

    assert allowed.status_code == 200
    assert denied.status_code == 403
    assert denied.json()["error"] == "insufficient_scope"


def test_revocation_endpoint_revokes_access_and_refresh_tokens(
    oauth_server: OAuthServer,
) -> None:
    tokens = password_tokens(oauth_server)

    for hint in ("access_token", "refresh_token"):
        response = httpx2.post(
            oauth_server.revoke_url,
            data={"token": tokens[hint], "token_type_hint": hint},
            auth=BASIC_AUTH,
        )
        assert response.status_code == 200

    assert call_api(oauth_server, tokens["access_token"]).status_code == 401
    assert refresh(oauth_server, tokens["refresh_token"]).json()["error"] == (
        "invalid_grant"
    )


def test_api_requests_are_recorded(oauth_server: OAuthServer) -> None:
    token = password_tokens(oauth_server)["access_token"]

    call_api(oauth_server, token)
    call_api(oauth_server, "bogus")

    first, second = oauth_server.api_requests
    assert (first.access_token, first.status, first.username) == (token, 200, "alice")
    assert (second.access_token, second.status, second.username) == ("bogus", 401, None)
    assert oauth_server.api_request_count() == 2


def test_metadata_lists_the_endpoints(oauth_server: OAuthServer) -> None:
    metadata = httpx2.get(oauth_server.metadata_url).json()

    assert metadata["issuer"] == oauth_server.issuer
    assert metadata["token_endpoint"] == oauth_server.token_url
    assert metadata["authorization_endpoint"] == oauth_server.authorize_url
    assert JWT_BEARER_GRANT in metadata["grant_types_supported"]


# -- records and counters -------------------------------------------------------


def test_every_token_request_is_recorded_with_form_and_headers(
    oauth_server: OAuthServer,
) -> None:
    tokens = password_tokens(oauth_server)

    refresh(
        oauth_server,
        tokens["refresh_token"],
        audience="https://api.example",
        resource="urn:r",
    )

    assert oauth_server.token_counts == {"password": 1, "refresh_token": 1}
    assert oauth_server.token_request_count() == 2
    assert oauth_server.token_request_count("refresh_token") == 1
    record = oauth_server.last_token_request
    assert record.index == 1
    assert record.form["audience"] == "https://api.example"
    assert record.form_lists["resource"] == ("urn:r",)
    assert record.headers["content-type"] == "application/x-www-form-urlencoded"
    assert record.headers["authorization"].startswith("Basic ")
    assert record.response["access_token"]


def test_tokens_carry_audience_and_resource_to_the_api(
    oauth_server: OAuthServer,
) -> None:
    data = {"grant_type": "client_credentials", "audience": "https://api.example"}

    token = post_token(oauth_server, data).json()["access_token"]

    assert call_api(oauth_server, token).json()["audience"] == "https://api.example"


def test_requests_without_a_grant_type_are_counted(oauth_server: OAuthServer) -> None:
    response = post_token(oauth_server, {})

    assert response.json()["error"] == "unsupported_grant_type"
    assert oauth_server.token_counts == {"<none>": 1}
    assert oauth_server.last_token_request.grant_type is None


def test_reset_returns_to_the_initial_state(oauth_server: OAuthServer) -> None:
    token = password_tokens(oauth_server)["access_token"]
    oauth_server.configure(rotate_refresh_tokens=False)
    oauth_server.add_client(ClientConfig("extra", "extra-secret"))
    oauth_server.inject(Fault.server_error(), times=None)

    oauth_server.reset()

    assert oauth_server.token_requests == []
    assert oauth_server.settings == Settings()
    assert call_api(oauth_server, token).status_code == 401
    response = post_token(
        oauth_server,
        {"grant_type": "client_credentials"},
        auth=("extra", "extra-secret"),
    )
    assert response.json()["error"] == "invalid_client"
    assert post_token(oauth_server, {"grant_type": "client_credentials"}).is_success


# -- faults ---------------------------------------------------------------------


CC = {"grant_type": "client_credentials"}


def test_server_error_fault(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.server_error())

    failed = post_token(oauth_server, CC)
    recovered = post_token(oauth_server, CC)

    assert failed.status_code == 500
    assert recovered.status_code == 200
    assert [r.fault for r in oauth_server.token_requests] == ["status", None]
    assert oauth_server.token_requests[0].status == 500


def test_unavailable_fault_sends_retry_after(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.unavailable(retry_after=7))

    response = post_token(oauth_server, CC)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize("status", [200, 502])
def test_html_fault(oauth_server: OAuthServer, status: int) -> None:
    oauth_server.inject(Fault.html(status))

    response = post_token(oauth_server, CC)

    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_invalid_grant_fault(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.invalid_grant())

    response = post_token(oauth_server, CC)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_grant"


def test_faults_answer_n_times_then_the_server_recovers(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.inject(Fault.server_error(), times=2)

    statuses = [post_token(oauth_server, CC).status_code for _ in range(3)]

    assert statuses == [500, 500, 200]


def test_faults_queue_in_order(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.unavailable())
    oauth_server.inject(Fault.html(502))

    statuses = [post_token(oauth_server, CC).status_code for _ in range(3)]

    assert statuses == [503, 502, 200]


def test_a_standing_fault_lasts_until_cleared(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.server_error(), times=None)

    during = [post_token(oauth_server, CC).status_code for _ in range(3)]
    oauth_server.clear_faults()
    after = post_token(oauth_server, CC).status_code

    assert during == [500, 500, 500]
    assert after == 200


def test_a_fault_can_target_one_grant_type(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.invalid_grant(), grant_type="refresh_token")
    tokens = password_tokens(oauth_server)

    response = refresh(oauth_server, tokens["refresh_token"])

    assert response.json()["error"] == "invalid_grant"
    assert oauth_server.is_refresh_token_active(tokens["refresh_token"])


def test_delay_fault_makes_clients_time_out(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.delay(30))

    with pytest.raises(httpx2.TimeoutException):
        httpx2.post(oauth_server.token_url, data=CC, auth=BASIC_AUTH, timeout=0.2)

    assert oauth_server.token_request_count() == 1
    assert oauth_server.last_token_request.status is None


def test_delay_fault_then_answers_normally(oauth_server: OAuthServer) -> None:
    oauth_server.inject(Fault.delay(0.1))

    response = post_token(oauth_server, CC)

    assert response.status_code == 200
    assert oauth_server.last_token_request.fault == "delay"


def test_reset_wakes_sleeping_requests_and_keeps_them_out_of_new_records(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.inject(Fault.delay(30))
    answers: list[int] = []

    def slow_client() -> None:
        answers.append(post_token(oauth_server, CC).status_code)

    thread = threading.Thread(target=slow_client)
    thread.start()
    wait_for(lambda: oauth_server.token_request_count() == 1)
    oauth_server.reset()
    thread.join(timeout=10)

    assert answers == [503]
    assert oauth_server.token_requests == []


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            msg = "condition not met in time"
            raise AssertionError(msg)
        time.sleep(0.01)


def test_drop_fault_closes_the_connection_without_an_answer(
    oauth_server: OAuthServer,
) -> None:
    oauth_server.inject(Fault.drop())

    with pytest.raises(httpx2.TransportError):
        post_token(oauth_server, CC)

    assert post_token(oauth_server, CC).status_code == 200


def test_api_faults_answer_like_a_resource_server(oauth_server: OAuthServer) -> None:
    token = password_tokens(oauth_server)["access_token"]
    oauth_server.inject(Fault.oauth_error("invalid_token", status=401), endpoint="api")

    rejected = call_api(oauth_server, token)
    accepted = call_api(oauth_server, token)

    assert rejected.status_code == 401
    assert 'error="invalid_token"' in bearer_challenge(rejected)
    assert accepted.status_code == 200
    assert oauth_server.token_request_count() == 1


# -- JWT: private_key_jwt, client_secret_jwt and the JWT bearer grant --------


def public_jwks(key: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def client_assertion(
    key: RSAKey | ECKey | OctKey,
    alg: str,
    client_id: str,
    audience: str,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    header = {"alg": alg}
    if key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, payload, key)


def assertion_auth(assertion: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


@pytest.fixture(params=["RS256", "ES256"])
def signing_key(
    request: pytest.FixtureRequest, rsa_key: RSAKey, ec_key: ECKey
) -> tuple[str, RSAKey | ECKey]:
    return request.param, rsa_key if request.param == "RS256" else ec_key


@pytest.fixture
def jwt_client(
    oauth_server: OAuthServer, signing_key: tuple[str, RSAKey | ECKey]
) -> ClientConfig:
    return oauth_server.add_client(
        ClientConfig(
            "jwt-client",
            auth_method="private_key_jwt",
            grant_types=("client_credentials", JWT_BEARER_GRANT),
            jwks=public_jwks(signing_key[1]),
        )
    )


def test_private_key_jwt_authenticates_the_client(
    oauth_server: OAuthServer,
    jwt_client: ClientConfig,
    signing_key: tuple[str, RSAKey | ECKey],
) -> None:
    alg, key = signing_key
    assertion = client_assertion(key, alg, "jwt-client", oauth_server.token_url)

    response = post_token(oauth_server, {**CC, **assertion_auth(assertion)}, auth=None)

    assert response.status_code == 200, response.text
    record = oauth_server.last_token_request
    assert (record.client_id, record.auth_method) == ("jwt-client", "private_key_jwt")


def test_private_key_jwt_accepts_the_issuer_as_audience(
    oauth_server: OAuthServer,
    jwt_client: ClientConfig,
    signing_key: tuple[str, RSAKey | ECKey],
) -> None:
    alg, key = signing_key
    assertion = client_assertion(key, alg, "jwt-client", oauth_server.issuer)

    response = post_token(oauth_server, {**CC, **assertion_auth(assertion)}, auth=None)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "problem",
    ["replayed", "wrong-audience", "expired", "wrong-key", "iss-differs"],
)
def test_private_key_jwt_rejects_bad_assertions(
    oauth_server: OAuthServer,
    jwt_client: ClientConfig,
    signing_key: tuple[str, RSAKey | ECKey],
    problem: str,
) -> None:
    alg, key = signing_key
    audience = oauth_server.token_url
    claims: dict[str, Any] = {}
    if problem == "wrong-audience":
        audience = "https://other.example/token"
    if problem == "expired":
        claims = {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}
    if problem == "iss-differs":
        claims = {"iss": "someone-else"}
    if problem == "wrong-key":
        key = (
            RSAKey.generate_key(2048) if alg == "RS256" else ECKey.generate_key("P-256")
        )
    assertion = client_assertion(key, alg, "jwt-client", audience, **claims)
    data = {**CC, **assertion_auth(assertion)}
    if problem == "replayed":
        assert post_token(oauth_server, data, auth=None).status_code == 200

    response = post_token(oauth_server, data, auth=None)

    assert response.json()["error"] == "invalid_client"


def test_client_secret_jwt_authenticates_with_an_hmac(
    oauth_server: OAuthServer,
) -> None:
    secret = "a-long-enough-shared-secret"
    oauth_server.add_client(
        ClientConfig("hmac-client", secret, auth_method="client_secret_jwt")
    )
    key = OctKey.import_key(secret)
    assertion = client_assertion(key, "HS256", "hmac-client", oauth_server.token_url)

    response = post_token(oauth_server, {**CC, **assertion_auth(assertion)}, auth=None)

    assert response.status_code == 200, response.text
    assert oauth_server.last_token_request.auth_method == "client_secret_jwt"


def test_a_secret_client_cannot_switch_to_an_assertion(
    oauth_server: OAuthServer, rsa_key: RSAKey
) -> None:
    assertion = client_assertion(
        rsa_key, "RS256", "basic-client", oauth_server.token_url
    )

    response = post_token(oauth_server, {**CC, **assertion_auth(assertion)}, auth=None)

    assert response.json()["error"] == "invalid_client"


def test_jwt_bearer_grant_issues_a_token_for_the_subject(
    oauth_server: OAuthServer,
    jwt_client: ClientConfig,
    signing_key: tuple[str, RSAKey | ECKey],
) -> None:
    alg, key = signing_key
    assertion = client_assertion(
        key, alg, "jwt-client", oauth_server.token_url, sub="alice"
    )
    data = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion, "scope": "read"}

    response = post_token(oauth_server, data, auth=None)

    assert response.status_code == 200, response.text
    assert "refresh_token" not in response.json()
    record = oauth_server.last_token_request
    assert (record.client_id, record.auth_method) == ("jwt-client", None)
    me = call_api(oauth_server, response.json()["access_token"]).json()
    assert (me["sub"], me["client_id"], me["scope"]) == ("alice", "jwt-client", "read")


@pytest.mark.parametrize("problem", ["unknown-subject", "wrong-key", "no-audience"])
def test_jwt_bearer_grant_rejects_bad_assertions(
    oauth_server: OAuthServer,
    jwt_client: ClientConfig,
    signing_key: tuple[str, RSAKey | ECKey],
    problem: str,
) -> None:
    alg, key = signing_key
    claims: dict[str, Any] = {"sub": "alice"}
    audience = oauth_server.token_url
    if problem == "unknown-subject":
        claims["sub"] = "mallory"
    if problem == "wrong-key":
        key = ECKey.generate_key("P-256") if alg == "ES256" else RSAKey.generate_key()
    if problem == "no-audience":
        audience = "https://other.example"
    assertion = client_assertion(key, alg, "jwt-client", audience, **claims)
    data = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}

    response = post_token(oauth_server, data, auth=None)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


# -- concurrency -----------------------------------------------------------------


def test_many_threads_get_tokens_at_once(oauth_server: OAuthServer) -> None:
    threads, per_thread = 60, 5
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def hammer() -> None:
        with httpx2.Client(timeout=30) as client:
            start.wait()
            for _ in range(per_thread):
                code = client.post(
                    oauth_server.token_url, data=CC, auth=BASIC_AUTH
                ).status_code
                with lock:
                    statuses[code] += 1

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert statuses == {200: threads * per_thread}
    assert oauth_server.token_counts == {"client_credentials": threads * per_thread}
    issued = {r.response["access_token"] for r in oauth_server.token_requests}
    assert len(issued) == threads * per_thread


def test_concurrent_refreshes_with_one_rotating_token_let_exactly_one_win(
    oauth_server: OAuthServer,
) -> None:
    refresh_token = password_tokens(oauth_server)["refresh_token"]
    threads = 20
    statuses: list[int] = []
    start = threading.Barrier(threads)
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}

    def racer() -> None:
        with httpx2.Client(timeout=30) as client:
            start.wait()
            response = client.post(oauth_server.token_url, data=data, auth=BASIC_AUTH)
        statuses.append(response.status_code)

    workers = [threading.Thread(target=racer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(statuses) == [200] + [400] * (threads - 1)


HAMMER_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    import httpx2

    url, threads, per_thread = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    statuses = []
    go = threading.Barrier(threads)

    def hammer():
        go.wait()
        with httpx2.Client(timeout=60) as client:
            for _ in range(per_thread):
                response = client.post(
                    url,
                    data={"grant_type": "client_credentials"},
                    auth=("basic-client", "basic-secret"),
                )
                statuses.append(response.status_code)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(json.dumps(statuses))
    """
)


def test_eight_processes_of_threads_get_tokens_at_once(
    oauth_server: OAuthServer,
) -> None:
    processes, threads, per_thread = 8, 8, 4
    command = [sys.executable, "-c", HAMMER_SCRIPT, oauth_server.token_url]

    children = [
        subprocess.Popen(
            [*command, str(threads), str(per_thread)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [child.communicate(timeout=120)[0] for child in children]

    statuses = Counter(s for out in outputs for s in json.loads(out))
    total = processes * threads * per_thread
    assert statuses == {200: total}
    assert oauth_server.token_request_count("client_credentials") == total


# -- configuration ---------------------------------------------------------------


def test_unknown_settings_are_refused_with_the_valid_names(
    oauth_server: OAuthServer,
) -> None:
    with pytest.raises(ConfigError, match="rotate_refresh_tokens") as caught:
        oauth_server.configure(rotate_refresh_token=False)

    assert "rotate_refresh_token'" in str(caught.value)


def test_invalid_setting_values_are_refused(oauth_server: OAuthServer) -> None:
    with pytest.raises(ConfigError, match="expires_in_format"):
        oauth_server.configure(expires_in_format="hex")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grant_types": ("implicit",)}, "unknown grant types"),
        ({"grant_types": "password"}, "list of strings"),
        ({"auth_method": "client_secret_post"}, "needs a client_secret"),
        ({"auth_method": "private_key_jwt"}, "jwks"),
        (
            {"client_secret": "short", "auth_method": "client_secret_jwt"},
            "at least 14 bytes",
        ),
    ],
)
def test_client_configs_that_cannot_work_are_refused(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        ClientConfig("c", **kwargs)


def test_configs_round_trip_through_json() -> None:
    config = ServerConfig(
        clients=(PUBLIC_CLIENT, ClientConfig("x", "y", scope="a b")),
        users=(UserConfig("u", "p"),),
        settings=Settings(rotate_refresh_tokens=False, expires_in_format="string"),
    )

    restored = from_json(json.dumps(to_json(config)), ServerConfig)

    assert restored == config


def test_bad_json_config_names_the_field() -> None:
    data = {"settings": {"clock_skew": "soon"}, "users": [{"username": "u"}]}

    with pytest.raises(ConfigError) as caught:
        from_json(data, ServerConfig)

    assert "ServerConfig.settings.clock_skew" in str(caught.value)
    assert "ServerConfig.users[0].password" in str(caught.value)


# -- as a separate process -----------------------------------------------------


def test_process_server_is_controlled_over_http(
    oauth_server_process: OAuthServerProcess,
) -> None:
    server = oauth_server_process
    server.configure(rotate_refresh_tokens=False, expires_in_format="string")
    server.inject(Fault.unavailable(), times=1)

    failed = httpx2.post(server.token_url, data=PASSWORD_GRANT, auth=BASIC_AUTH)
    tokens = httpx2.post(server.token_url, data=PASSWORD_GRANT, auth=BASIC_AUTH).json()
    renewed = httpx2.post(
        server.token_url,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=BASIC_AUTH,
    ).json()

    assert failed.status_code == 503
    assert tokens["expires_in"] == "3600"
    assert "refresh_token" not in renewed
    assert server.token_counts == {"password": 2, "refresh_token": 1}
    assert [r.fault for r in server.token_requests] == ["status", None, None]
    assert server.token_requests[0].form["username"] == "alice"


def test_process_server_takes_clients_and_users(
    oauth_server_process: OAuthServerProcess,
) -> None:
    server = oauth_server_process
    server.add_client(ClientConfig("remote", "remote-secret"))
    server.add_user("dave", "pw")
    data = {"grant_type": "password", "username": "dave", "password": "pw"}

    response = httpx2.post(
        server.token_url, data=data, auth=("remote", "remote-secret")
    )
    me = httpx2.get(
        server.api_url,
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )
    server.expire_access_tokens()
    expired = httpx2.get(
        server.api_url,
        headers={"Authorization": f"Bearer {response.json()['access_token']}"},
    )

    assert me.json()["sub"] == "dave"
    assert expired.status_code == 401
    assert server.api_requests[1].status == 401


def test_process_server_reports_config_errors(
    oauth_server_process: OAuthServerProcess,
) -> None:
    with pytest.raises(ConfigError, match="unknown settings"):
        oauth_server_process.configure(no_such_setting=1)


def test_process_server_starts_from_the_config_it_was_given() -> None:
    config = ServerConfig(
        clients=(
            ClientConfig("only", "only-secret", grant_types=("client_credentials",)),
        ),
        settings=Settings(token_type="bearer"),
    )

    with OAuthServerProcess(config) as server:
        ok = httpx2.post(server.token_url, data=CC, auth=("only", "only-secret"))
        gone = httpx2.post(server.token_url, data=CC, auth=BASIC_AUTH)

    assert ok.json()["token_type"] == "bearer"
    assert gone.json()["error"] == "invalid_client"


def test_command_line_rejects_a_bad_config_with_a_message() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.oauth_server", "--config", '{"clients": 5}'],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "invalid ServerConfig config" in result.stderr
    assert "Traceback" not in result.stderr
