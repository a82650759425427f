"""Authlib grants and client authentication methods, wired to the store.

The OAuth logic (validating requests, PKCE, assertions, error responses) is
Authlib's; these subclasses only answer Authlib's storage questions from
:class:`~.store.Store`. The one exception is the HTTP Basic decoder, which
is switchable because servers in the wild disagree on it (see
:attr:`~.config.Settings.basic_auth_decoding`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.authenticate_client import (
    authenticate_client_secret_basic,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from flask import request as flask_request
from joserfc.jwk import KeySet, OctKey

from .models import AccessToken, AuthorizationCode, Client, RefreshToken, User

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "ClientSecretJWTAuth",
    "JWTBearerTokenGrant",
    "PasswordGrant",
    "PrivateKeyJWTAuth",
    "RefreshTokenGrant",
    "TokenRevocation",
    "authenticate_basic",
]

logger = logging.getLogger(__name__)

CONFIDENTIAL_METHODS = [
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "client_secret_jwt",
]
ALL_METHODS = [*CONFIDENTIAL_METHODS, "none"]


def _store(grant: Any) -> Store:
    store: Store = grant.server.store
    return store


def audiences() -> list[str]:
    """Return the identifiers an assertion may name as its audience.

    RFC 7523 section 3 lets the audience be the token endpoint URL or the
    issuer; both are taken from the URL the client actually called.
    """
    issuer = flask_request.url_root.rstrip("/")
    return [flask_request.base_url, issuer, f"{issuer}/token"]


def authenticate_basic(store: Store) -> Any:
    """Build the ``client_secret_basic`` method for the configured decoding."""

    def authenticate(query_client: Any, request: OAuth2Request) -> Client | None:
        decoding = store.settings.basic_auth_decoding
        if decoding == "percent":
            client: Client | None = authenticate_client_secret_basic(
                query_client, request
            )
            return client

        credentials = _basic_credentials(request.headers.get("Authorization"))
        if credentials is None:
            return None

        client_id, secret = credentials
        if decoding == "form":
            client_id, secret = unquote_plus(client_id), unquote_plus(secret)

        client = query_client(client_id)
        if client is None:
            raise InvalidClientError(
                status_code=401,
                description="The client does not exist on this server.",
            )
        return client if client.check_client_secret(secret) else None

    return authenticate


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None

    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None

    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep and client_id and secret else None


def _key_set(client: Client) -> KeySet:
    jwks: Any = dict(client.config.jwks or {"keys": []})
    return KeySet.import_key_set(jwks)


class _StoredClientAssertion(JWTBearerClientAssertion):  # type: ignore[misc]
    """Client authentication by a signed JWT, for one registered method.

    Authlib tries every method in turn, and its assertion check raises for a
    key that cannot verify; so an assertion from a client registered for
    the other JWT method is passed over here instead of failing.
    """

    def __init__(self, store: Store) -> None:
        super().__init__(validate_jti=True)
        self.store = store

    def __call__(self, query_client: Any, request: OAuth2Request) -> Any:
        assertion = request.form.get("client_assertion")
        if not assertion:
            return None

        _, claims = self.extract_assertion(assertion)
        client = query_client(claims.get("sub")) if "sub" in claims else None
        if client is not None and (
            client.config.auth_method != self.CLIENT_AUTH_METHOD
        ):
            return None
        return super().__call__(query_client, request)

    def get_audiences(self) -> list[str]:
        """Accept the token endpoint URL or the issuer."""
        return audiences()

    def validate_jti(self, claims: Any, jti: str) -> bool:
        """Refuse an assertion whose ``jti`` was seen before."""
        return self.store.use_jti(str(claims["sub"]), jti)


class PrivateKeyJWTAuth(_StoredClientAssertion):
    """``private_key_jwt``: verified with the client's registered JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def resolve_client_public_key(self, client: Client) -> KeySet:
        """Return the client's public keys."""
        return _key_set(client)


class ClientSecretJWTAuth(_StoredClientAssertion):
    """``client_secret_jwt``: an HMAC keyed with the client secret."""

    CLIENT_AUTH_METHOD = "client_secret_jwt"

    def resolve_client_public_key(self, client: Client) -> OctKey:
        """Return the client secret as an HMAC key."""
        return OctKey.import_key(client.config.client_secret or "")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """The code grant; PKCE is added as an Authlib extension."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        """Keep the code with what the token request must match."""
        store = _store(self)
        data = request.payload.data
        store.save_code(
            AuthorizationCode(
                code=code,
                client_id=request.client.get_client_id(),
                user=request.user,
                redirect_uri=request.payload.redirect_uri,
                scope=request.payload.scope or "",
                expires_at=time.time() + store.settings.code_lifetime,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
            )
        )

    def query_authorization_code(
        self, code: str, client: Client
    ) -> AuthorizationCode | None:
        """Find a live code issued to this client."""
        return _store(self).take_code(code, client)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Forget a redeemed code."""
        _store(self).delete_code(authorization_code)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        """Return the user who approved the code."""
        return authorization_code.user


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    """The resource owner password grant, against the user table."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS

    def authenticate_user(self, username: str, password: str) -> User:
        """Check the username and password.

        Raises:
            InvalidGrantError: They do not match; RFC 6749 section 5.2 names
                this error for bad resource owner credentials (Authlib's
                default answer would be ``invalid_request``).
        """
        with _store(self).lock:
            user = _store(self).users.get(username)
        if user is None or not user.check_password(password):
            raise InvalidGrantError(description="Invalid username or password.")
        return user


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """The client credentials grant, for confidential clients only."""

    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """The refresh grant, with rotation switched by the settings."""

    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS

    @property
    def INCLUDE_NEW_REFRESH_TOKEN(self) -> bool:  # Authlib's switch, as a property
        """Issue a new refresh token exactly when rotation is on."""
        return _store(self).settings.rotate_refresh_tokens

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        """Find a refresh token that was not revoked."""
        return _store(self).find_refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshToken) -> User | None:
        """Return the user the refresh token was issued for."""
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Revoke the used refresh token when rotating; maybe its tokens too."""
        store = _store(self)
        settings = store.settings
        store.revoke_after_refresh(
            refresh_token,
            revoke_refresh=settings.rotate_refresh_tokens,
            revoke_access=settings.revoke_access_token_on_refresh,
            keep=getattr(self.request, "issued_access_token", None),
        )


class JWTBearerTokenGrant(JWTBearerGrant):  # type: ignore[misc]
    """The RFC 7523 JWT bearer grant: the client's signed JWT is the grant."""

    def resolve_issuer_client(self, issuer: str) -> Client | None:
        """Find the client named by the assertion's ``iss``."""
        return _store(self).query_client(issuer)

    def resolve_client_public_key(self, client: Client) -> KeySet:
        """Return the client's registered public keys."""
        return _key_set(client)

    def authenticate_user(self, subject: str) -> User | None:
        """Find the user named by the assertion's ``sub``."""
        with _store(self).lock:
            return _store(self).users.get(subject)

    def has_granted_permission(self, client: Client, user: User) -> bool:
        """Let every client act for every user: the test decides who signs."""
        return True

    def get_audiences(self) -> list[str]:
        """Accept the token endpoint URL or the issuer."""
        return audiences()


class TokenRevocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009 revocation of access and refresh tokens."""

    CLIENT_AUTH_METHODS = ALL_METHODS

    def query_token(
        self, token_string: str, token_type_hint: str | None
    ) -> AccessToken | RefreshToken | None:
        """Find the token by value, whatever the hint says."""
        store: Store = self.server.store
        with store.lock:
            return store.access_tokens.get(token_string) or store.refresh_tokens.get(
                token_string
            )

    def revoke_token(
        self, token: AccessToken | RefreshToken, request: OAuth2Request
    ) -> None:
        """Mark the token revoked; keep it so reuse is recognised."""
        store: Store = self.server.store
        with store.lock:
            token.revoked = True
