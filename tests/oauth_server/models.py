"""In-memory records that implement the model methods Authlib asks for.

Authlib's grants never touch storage themselves: they call methods such as
``check_client_secret`` or ``is_expired`` on whatever objects the server
hands them. These classes are those objects; :mod:`.store` keeps them.
"""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from attrs import define, field
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list

from .config import ClientConfig, UserConfig

__all__ = ["AccessToken", "AuthorizationCode", "Client", "RefreshToken", "User"]

_LOOPBACK_HOSTS = {"127.0.0.1", "[::1]", "localhost"}


@define(eq=False)
class User:
    """A resource owner."""

    config: UserConfig

    @property
    def username(self) -> str:
        """Return the login name."""
        return self.config.username

    def get_user_id(self) -> str:
        """Return the identifier Authlib puts in tokens and claims."""
        return self.config.username

    def check_password(self, password: str) -> bool:
        """Compare a password in constant time."""
        return secrets.compare_digest(self.config.password.encode(), password.encode())


def _loopback_without_port(uri: str) -> tuple[str, str, str] | None:
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.netloc not in _LOOPBACK_HOSTS:
        return None
    return parts.scheme, parts.netloc, parts.path


def _same_ignoring_port(registered: tuple[str, str, str], uri: str) -> bool:
    parts = urlsplit(uri)
    host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    candidate = (parts.scheme, host, parts.path)
    return candidate == registered and not parts.query and not parts.fragment


@define(eq=False)
class Client(ClientMixin):  # type: ignore[misc]
    """A registered client, answering Authlib's questions from its config."""

    config: ClientConfig

    def get_client_id(self) -> str:
        """Return the client identifier."""
        return self.config.client_id

    def get_default_redirect_uri(self) -> str | None:
        """Return the first registered redirect URI, if any."""
        return self.config.redirect_uris[0] if self.config.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """Keep the requested scopes the client is allowed, in request order."""
        if not scope:
            return ""
        allowed = set(scope_to_list(self.config.scope) or [])
        granted = [s for s in scope_to_list(scope) or [] if s in allowed]
        return str(list_to_scope(granted))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Match exactly, or any port for a port-less loopback URI."""
        if redirect_uri in self.config.redirect_uris:
            return True

        for registered in self.config.redirect_uris:
            loopback = _loopback_without_port(registered)
            if loopback and _same_ignoring_port(loopback, redirect_uri):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """Compare the secret in constant time (bytes: it may be non-ASCII)."""
        if self.config.client_secret is None:
            return False
        return secrets.compare_digest(
            self.config.client_secret.encode(), client_secret.encode()
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Accept only the one method the client is registered with."""
        return method == self.config.auth_method

    def check_response_type(self, response_type: str) -> bool:
        """Allow ``code`` to clients registered for the code grant."""
        return (
            response_type == "code" and "authorization_code" in self.config.grant_types
        )

    def check_grant_type(self, grant_type: str) -> bool:
        """Allow the registered grant types only."""
        return grant_type in self.config.grant_types


@define(eq=False)
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """An issued, not yet redeemed authorization code."""

    code: str
    client_id: str
    user: User
    redirect_uri: str | None
    scope: str
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None

    def get_redirect_uri(self) -> str | None:
        """Return the redirect URI the code was requested with."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """Return the scope the code grants."""
        return self.scope

    def is_expired(self) -> bool:
        """Tell whether the code is too old to redeem."""
        return time.time() >= self.expires_at


@define(eq=False)
class RefreshToken:
    """A refresh token; revoked ones stay so reuse can be told apart."""

    value: str
    client: Client
    user: User | None
    scope: str
    issued_at: float
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        """Tell whether the token was issued to this client."""
        return bool(self.client.get_client_id() == client.get_client_id())

    def get_scope(self) -> str:
        """Return the scope granted with the token."""
        return self.scope

    def get_user(self) -> User | None:
        """Return the resource owner."""
        return self.user


@define(eq=False)
class AccessToken(TokenMixin):  # type: ignore[misc]
    """An issued access token and what the API reports about it."""

    value: str
    client: Client
    user: User | None
    scope: str
    grant_type: str
    issued_at: float
    expires_at: float | None
    refresh_token: str | None = None
    revoked: bool = False
    extras: dict[str, str] = field(factory=dict)

    def check_client(self, client: ClientMixin) -> bool:
        """Tell whether the token was issued to this client."""
        return bool(self.client.get_client_id() == client.get_client_id())

    def get_scope(self) -> str:
        """Return the granted scope."""
        return self.scope

    def get_expires_in(self) -> int:
        """Return the lifetime in whole seconds (0: never expires)."""
        if self.expires_at is None:
            return 0
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        """Tell whether the token is past its lifetime."""
        return self.expires_at is not None and time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        """Tell whether the token was revoked."""
        return self.revoked

    def get_user(self) -> User | None:
        """Return the resource owner, None for client credentials."""
        return self.user

    def get_client(self) -> Client:
        """Return the client the token was issued to."""
        return self.client
