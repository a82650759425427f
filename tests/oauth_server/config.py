"""What a test can configure: clients, users, server behaviour and faults.

Every type here is a frozen attrs class that round-trips through JSON (see
:func:`to_json` and :func:`from_json`), so the same configuration drives the
in-process server and one started with ``python -m tests.oauth_server``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypeVar, get_args

import cattrs
from attrs import field, frozen
from attrs.validators import ge, in_, instance_of, optional

__all__ = [
    "BASIC_CLIENT",
    "CONFIG_ENV",
    "DEFAULT_CLIENTS",
    "DEFAULT_USER",
    "JWT_BEARER_GRANT",
    "POST_CLIENT",
    "PUBLIC_CLIENT",
    "ClientConfig",
    "ConfigError",
    "Fault",
    "ServerConfig",
    "Settings",
    "UserConfig",
    "from_json",
    "to_json",
]

#: The environment variable ``python -m tests.oauth_server`` reads its config from.
CONFIG_ENV = "OAUTH_SERVER_CONFIG"

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

AuthMethod = Literal[
    "client_secret_basic",
    "client_secret_post",
    "none",
    "private_key_jwt",
    "client_secret_jwt",
]
ExpiresInFormat = Literal["int", "float", "string", "float-string", "omit"]
BasicDecoding = Literal["form", "percent", "raw"]
FaultKind = Literal["status", "delay", "oauth_error", "drop"]
Endpoint = Literal["token", "api"]

_AUTH_METHODS = get_args(AuthMethod)
_SECRET_METHODS = {"client_secret_basic", "client_secret_post", "client_secret_jwt"}
# joserfc warns about shorter HMAC keys, and warnings are errors in tests.
_MIN_HMAC_KEY_BYTES = 14
_GRANT_TYPES = {
    "authorization_code",
    "client_credentials",
    "password",
    "refresh_token",
    JWT_BEARER_GRANT,
}


class ConfigError(ValueError):
    """A server configuration that cannot work, with the reason."""


def _str_tuple(value: Any) -> tuple[str, ...]:
    # A bare string would silently become a tuple of characters.
    if isinstance(value, str):
        msg = f"expected a list of strings, got the string {value!r}"
        raise ConfigError(msg)
    return tuple(value)


@frozen
class ClientConfig:
    """One registered OAuth client.

    Args:
        client_id: The client identifier; any Unicode text.
        client_secret: The shared secret; None for public clients and for
            ``private_key_jwt`` clients.
        auth_method: The one token endpoint authentication method the
            server accepts from this client (RFC 7591 names).
        grant_types: The grant types the client may use.
        redirect_uris: Registered redirect URIs. A loopback URI registered
            without a port (``http://127.0.0.1/cb``) matches any port, as
            RFC 8252 section 7.3 asks of servers.
        scope: The scopes the client may be granted, space separated.
            Requested scopes outside this set are dropped from the grant.
        jwks: The client's public keys as a JWKS document (``{"keys":
            [...]}``), for ``private_key_jwt`` and the JWT bearer grant.
    """

    client_id: str = field(validator=instance_of(str))
    client_secret: str | None = field(
        default=None, validator=optional(instance_of(str))
    )
    auth_method: AuthMethod = field(
        default="client_secret_basic", validator=in_(_AUTH_METHODS)
    )
    grant_types: tuple[str, ...] = field(
        default=(
            "authorization_code",
            "client_credentials",
            "password",
            "refresh_token",
        ),
        converter=_str_tuple,
    )
    redirect_uris: tuple[str, ...] = field(
        default=("http://127.0.0.1/callback",), converter=_str_tuple
    )
    scope: str = field(default="read write profile", validator=instance_of(str))
    jwks: Mapping[str, Any] | None = field(default=None)

    def __attrs_post_init__(self) -> None:
        unknown = sorted(set(self.grant_types) - _GRANT_TYPES)
        if unknown:
            msg = (
                f"client {self.client_id!r}: unknown grant types {unknown}; "
                f"choose from {sorted(_GRANT_TYPES)}"
            )
            raise ConfigError(msg)

        if self.auth_method in _SECRET_METHODS and not self.client_secret:
            msg = (
                f"client {self.client_id!r}: auth_method {self.auth_method!r} "
                "needs a client_secret"
            )
            raise ConfigError(msg)

        short = len((self.client_secret or "").encode()) < _MIN_HMAC_KEY_BYTES
        if self.auth_method == "client_secret_jwt" and short:
            msg = (
                f"client {self.client_id!r}: client_secret_jwt needs a secret of "
                f"at least {_MIN_HMAC_KEY_BYTES} bytes (an HS256 key of 112 bits)"
            )
            raise ConfigError(msg)

        needs_keys = self.auth_method == "private_key_jwt" or (
            JWT_BEARER_GRANT in self.grant_types
        )
        if needs_keys and not self.jwks:
            msg = (
                f"client {self.client_id!r}: private_key_jwt and the JWT bearer "
                "grant need the client's public keys in jwks"
            )
            raise ConfigError(msg)

    @property
    def is_public(self) -> bool:
        """Tell whether the client has no credentials of its own."""
        return self.auth_method == "none"


@frozen
class UserConfig:
    """One resource owner, for the password and authorization code grants.

    Args:
        username: The login name; also the ``sub`` the API reports.
        password: The password the password grant checks.
    """

    username: str = field(validator=instance_of(str))
    password: str = field(validator=instance_of(str))


def _positive_or_none(instance: Any, attribute: Any, value: float | None) -> None:
    if value is not None and value < 0:
        msg = f"{attribute.name} must be >= 0 or None, got {value!r}"
        raise ConfigError(msg)


@frozen
class Settings:
    """How the server behaves; change it per test with ``configure()``.

    Args:
        rotate_refresh_tokens: Issue a new refresh token on every refresh
            and revoke the one used, so a reused old one gets
            ``invalid_grant``. When off the refresh token is kept and the
            refresh response carries no ``refresh_token``.
        revoke_access_token_on_refresh: Also revoke the access tokens
            issued with the refresh token that was just used.
        access_token_lifetime: Seconds an access token is honoured by the
            API; None means it never expires.
        expires_in_format: How ``expires_in`` goes on the wire: ``int``
            (3600), ``float`` (3600.0), ``string`` ("3600"),
            ``float-string`` ("3600.0") or ``omit``.
        token_type: The ``token_type`` value sent, e.g. ``bearer``.
        extra_token_fields: Extra members added to every token response.
        clock_skew: Seconds added to the ``Date`` header of every response,
            as if the server's clock ran ahead (negative: behind).
        logged_in_user: The user ``/authorize`` acts for when the request
            has no ``login_as`` parameter.
        deny_consent: Make ``/authorize`` answer ``access_denied``.
        basic_auth_decoding: How the client id and secret in HTTP Basic are
            decoded: ``form`` (RFC 6749 2.3.1: form-urlencoded, ``+`` is a
            space), ``percent`` (Authlib's own: percent-decoding only) or
            ``raw`` (no decoding, like many servers in the wild).
        code_lifetime: Seconds an authorization code stays valid.
    """

    rotate_refresh_tokens: bool = field(default=True, validator=instance_of(bool))
    revoke_access_token_on_refresh: bool = field(
        default=False, validator=instance_of(bool)
    )
    access_token_lifetime: float | None = field(
        default=3600, validator=_positive_or_none
    )
    expires_in_format: ExpiresInFormat = field(
        default="int", validator=in_(get_args(ExpiresInFormat))
    )
    token_type: str = field(default="Bearer", validator=instance_of(str))
    extra_token_fields: Mapping[str, Any] = field(factory=dict)
    clock_skew: float = field(default=0.0, validator=instance_of((int, float)))
    logged_in_user: str | None = field(
        default=None, validator=optional(instance_of(str))
    )
    deny_consent: bool = field(default=False, validator=instance_of(bool))
    basic_auth_decoding: BasicDecoding = field(
        default="form", validator=in_(get_args(BasicDecoding))
    )
    code_lifetime: float = field(default=600, validator=ge(0))


def _pairs(pairs: Iterable[Iterable[str]]) -> tuple[tuple[str, str], ...]:
    # JSON turns the pairs into lists; they are compared as tuples.
    return tuple((name, value) for name, value in pairs)


@frozen
class Fault:
    """A wrong answer the server gives instead of (or before) the real one.

    Build faults with the class methods; ``kind`` says what happens:
    ``status`` answers with a canned status, headers and body; ``delay``
    sleeps, then answers normally; ``oauth_error`` answers an RFC 6749
    error response; ``drop`` closes the connection without an answer.
    """

    kind: FaultKind = field(validator=in_(get_args(FaultKind)))
    status: int = 500
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=(), converter=_pairs)
    seconds: float = 0.0
    error: str = ""
    description: str = ""

    @classmethod
    def http_status(
        cls,
        status: int,
        body: str = "",
        *,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer with this status and body instead of a token."""
        return cls(
            "status",
            status=status,
            body=body,
            content_type=content_type,
            headers=tuple((headers or {}).items()),
        )

    @classmethod
    def server_error(cls) -> Fault:
        """Answer 500 with a plain text body."""
        return cls.http_status(500, "internal server error")

    @classmethod
    def unavailable(cls, retry_after: int | str = 1) -> Fault:
        """Answer 503 with a ``Retry-After`` header (seconds or HTTP date)."""
        return cls.http_status(
            503, "service unavailable", headers={"Retry-After": str(retry_after)}
        )

    @classmethod
    def html(cls, status: int = 200) -> Fault:
        """Answer an HTML page, as a login wall or a proxy error page does."""
        page = (
            "<!DOCTYPE html><html><head><title>Sign in</title></head>"
            "<body><h1>Please sign in</h1></body></html>"
        )
        return cls.http_status(status, page, content_type="text/html; charset=utf-8")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep before answering normally, to provoke client timeouts."""
        return cls("delay", seconds=seconds)

    @classmethod
    def oauth_error(
        cls, error: str, description: str = "", *, status: int = 400
    ) -> Fault:
        """Answer an RFC 6749 section 5.2 error response."""
        return cls("oauth_error", status=status, error=error, description=description)

    @classmethod
    def invalid_grant(cls) -> Fault:
        """Answer ``invalid_grant``, as for a revoked refresh token."""
        return cls.oauth_error("invalid_grant", "The grant was revoked.")

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls("drop")


DEFAULT_USER = UserConfig("alice", "alice-password")

BASIC_CLIENT = ClientConfig(
    "basic-client", "basic-secret", auth_method="client_secret_basic"
)
POST_CLIENT = ClientConfig(
    "post-client", "post-secret", auth_method="client_secret_post"
)
PUBLIC_CLIENT = ClientConfig(
    "public-client",
    auth_method="none",
    grant_types=("authorization_code", "refresh_token"),
)
DEFAULT_CLIENTS = (BASIC_CLIENT, POST_CLIENT, PUBLIC_CLIENT)


def _clients(clients: Iterable[ClientConfig]) -> tuple[ClientConfig, ...]:
    return tuple(clients)


def _users(users: Iterable[UserConfig]) -> tuple[UserConfig, ...]:
    return tuple(users)


@frozen
class ServerConfig:
    """The state a server starts with and returns to on ``reset()``.

    Args:
        clients: The registered clients.
        users: The resource owners.
        settings: The server behaviour.
    """

    clients: tuple[ClientConfig, ...] = field(
        default=DEFAULT_CLIENTS, converter=_clients
    )
    users: tuple[UserConfig, ...] = field(default=(DEFAULT_USER,), converter=_users)
    settings: Settings = field(factory=Settings)


_converter = cattrs.Converter(forbid_extra_keys=True)

T = TypeVar("T")


def to_json(value: Any) -> Any:
    """Turn a config object (or a list of them) into JSON-ready data."""
    return _converter.unstructure(value)


def from_json(data: Any, cls: type[T]) -> T:
    """Build a config object from JSON data (a string or parsed data).

    Raises:
        ConfigError: The data does not describe a valid ``cls``; the message
            lists every bad field with its path.
    """
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as err:
            msg = f"{cls.__name__} config is not valid JSON: {err}"
            raise ConfigError(msg) from err

    try:
        return _converter.structure(data, cls)
    except (cattrs.BaseValidationError, ConfigError) as err:
        details = (
            "; ".join(cattrs.transform_error(err, path=cls.__name__))
            if isinstance(err, cattrs.BaseValidationError)
            else str(err)
        )
        msg = f"invalid {cls.__name__} config: {details}"
        raise ConfigError(msg) from err
