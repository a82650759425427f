"""The ``oauth1`` type: OAuth 1.0a signed requests (RFC 5849).

:class:`OAuth1Flow` signs each request with the consumer credentials and,
once the user has them, the token credentials. Obtaining those is the
three-legged dance of :mod:`authplug.oauth1_flow`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal, TypedDict

from attrs import frozen

from authplug.errors import ConfigError, FieldError
from authplug.fields import Url, check_url, describe, field_validator, url_field
from authplug.flow import AuthFlow, Clock, NonceSource
from authplug.hookspecs import hookimpl
from authplug.http import Request
from authplug.oauth1_signing import make_nonce, sign_request
from authplug.records import AuthType, Credentials
from authplug.schema import URL_SCHEMA
from authplug.secret import Secret

__all__ = [
    "OAUTH1",
    "ConsumerSigning",
    "OAuth1App",
    "OAuth1Flow",
    "OAuth1User",
    "SignatureMethod",
    "consumer_signing",
]

SignatureMethod = Literal["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1", "PLAINTEXT"]


@field_validator
def _check_callback(value: str) -> None:
    if value != "oob":
        check_url(value)


@frozen(kw_only=True)
class OAuth1App:
    """The consumer's settings and the service's endpoints."""

    consumer_key: str = describe("The consumer key the service issued")
    consumer_secret: Secret | None = describe(
        "The consumer secret; not used with RSA-SHA1", default=None
    )
    rsa_private_key: Secret | None = describe(
        "The consumer's RSA private key in PEM form, for RSA-SHA1",
        default=None,
    )
    signature_method: SignatureMethod = describe(
        "How requests are signed", default="HMAC-SHA1"
    )
    placement: Literal["header", "query", "body"] = describe(
        "Where the OAuth parameters go: the Authorization header, the query "
        "string, or a form-encoded body",
        default="header",
    )
    request_token_url: Url | None = url_field(
        "The temporary credentials (request token) endpoint", default=None
    )
    authorize_url: Url | None = url_field(
        "Where users are sent to authorize the request token", default=None
    )
    access_token_url: Url | None = url_field(
        "The token credentials (access token) endpoint", default=None
    )
    callback_uri: str | None = describe(
        "Where the service sends users back, or 'oob'",
        default=None,
        validator=_check_callback,
        metadata={
            "json_schema": {"anyOf": [{"const": "oob"}, URL_SCHEMA, {"type": "null"}]}
        },
    )
    realm: str | None = describe(
        "The realm put in the Authorization header, if the service wants one",
        default=None,
    )
    include_version: bool = describe(
        "Send oauth_version=1.0 (optional in RFC 5849)", default=False
    )

    # The same rule as __attrs_post_init__, for forms built from the schema.
    __authplug_schema__: ClassVar[dict[str, Any]] = {
        "if": {
            "properties": {"signature_method": {"const": "RSA-SHA1"}},
            "required": ["signature_method"],
        },
        "then": {
            "properties": {"rsa_private_key": {"type": "string"}},
            "required": ["rsa_private_key"],
        },
        "else": {
            "properties": {"consumer_secret": {"type": "string"}},
            "required": ["consumer_secret"],
        },
    }

    def __attrs_post_init__(self) -> None:
        if self.signature_method == "RSA-SHA1":
            if self.rsa_private_key is None:
                raise ConfigError(
                    [FieldError("rsa_private_key", "is required for RSA-SHA1")]
                )
        elif self.consumer_secret is None:
            raise ConfigError(
                [
                    FieldError(
                        "consumer_secret",
                        f"is required for {self.signature_method}",
                    )
                ]
            )


@frozen(kw_only=True)
class OAuth1User:
    """The token credentials issued for one user."""

    token: Secret | None = describe("The token, once issued", default=None)
    token_secret: Secret | None = describe(
        "The token secret, once issued; an empty string if the service issues none",
        default=None,
    )

    # Set together or not at all. A null counts as unset, as it does when
    # loading, so "present" alone (dependentRequired) would be too strict.
    __authplug_schema__: ClassVar[dict[str, Any]] = {
        "allOf": [
            {
                "if": {
                    "properties": {name: {"type": "string"}},
                    "required": [name],
                },
                "then": {
                    "properties": {other: {"type": "string"}},
                    "required": [other],
                },
            }
            for name, other in (("token", "token_secret"), ("token_secret", "token"))
        ]
    }

    def __attrs_post_init__(self) -> None:
        # A lone half would sign with the wrong key and earn a bare 401.
        if self.token is not None and self.token_secret is None:
            raise ConfigError(
                [
                    FieldError(
                        "token_secret",
                        "is required when a token is set; use an empty "
                        "string if the service issued no token secret",
                    )
                ]
            )
        if self.token is None and self.token_secret is not None:
            raise ConfigError(
                [
                    FieldError(
                        "token",
                        "is required when a token secret is set; set both, "
                        "or neither to sign with the consumer credentials "
                        "alone",
                    )
                ]
            )


class ConsumerSigning(TypedDict):
    """The arguments of :func:`~authplug.oauth1_signing.sign_request` that
    come from the app: the consumer and how it signs."""

    consumer_key: str
    consumer_secret: str
    rsa_private_key: str | None
    signature_method: SignatureMethod
    placement: Literal["header", "query", "body"]
    realm: str | None
    include_version: bool


def consumer_signing(app: OAuth1App) -> ConsumerSigning:
    """Return the signing arguments that ``app`` settles, secrets revealed."""
    secret = app.consumer_secret
    key = app.rsa_private_key
    return ConsumerSigning(
        consumer_key=app.consumer_key,
        consumer_secret="" if secret is None else secret.reveal(),
        rsa_private_key=None if key is None else key.reveal(),
        signature_method=app.signature_method,
        placement=app.placement,
        realm=app.realm,
        include_version=app.include_version,
    )


class OAuth1Flow(AuthFlow[OAuth1User, OAuth1App]):
    """Sign every request with OAuth 1.0a (RFC 5849 section 3).

    The app settles the signature method, where the protocol parameters go
    (header, query or form body), the realm and ``oauth_version``. Each
    request gets a timestamp from ``clock`` and a nonce from ``nonce``;
    the default nonce is :func:`~authplug.oauth1_signing.make_nonce`,
    whose 24 hex digits pass the checks common servers make.

    A user without token credentials is not an error: the request is then
    signed with the consumer credentials alone, which RFC 5849 allows and
    some services use for app-level ("two-legged") calls. Get a user's
    token with :class:`authplug.oauth1_flow.OAuth1Authorization`.

    A form body (``application/x-www-form-urlencoded``) is signed too, so
    adapters must hand over the body before :meth:`apply`. Applying again
    replaces the earlier signature instead of adding a second one.

    Raises:
        SigningError: From :meth:`apply`, when the request cannot be
            signed as configured, such as placement ``body`` on a request
            without a form body.
    """

    requires_request_body = True

    def __init__(
        self,
        credentials: Credentials[OAuth1User, OAuth1App],
        *,
        clock: Clock = time.time,
        nonce: NonceSource = make_nonce,
        **options: Any,
    ) -> None:
        super().__init__(credentials, clock=clock, nonce=nonce, **options)
        self._signed_for: Credentials[OAuth1User, OAuth1App] | None = None
        self._consumer: ConsumerSigning | None = None
        self._token: str | None = None
        self._token_secret = ""

    def apply(self, request: Request) -> None:
        """Sign ``request`` in place, replacing an earlier signature."""
        if self._signed_for is not self.credentials:
            self._unwrap_credentials()
        assert self._consumer is not None

        sign_request(
            request,
            timestamp=int(self.clock()),
            nonce=self.nonce(),
            token=self._token,
            token_secret=self._token_secret,
            **self._consumer,
        )

    def _unwrap_credentials(self) -> None:
        # Unwrapped once per credentials, not once per request: signing is
        # on every request's path. Swapping the credentials starts afresh.
        credentials = self.credentials
        user = credentials.user
        self._consumer = consumer_signing(credentials.app)
        self._token = None if user.token is None else user.token.reveal()
        secret = user.token_secret
        self._token_secret = "" if secret is None else secret.reveal()
        self._signed_for = credentials


OAUTH1 = AuthType(
    name="oauth1",
    summary="OAuth 1.0a signed requests (HMAC-SHA1/SHA256, RSA-SHA1, PLAINTEXT)",
    user_model=OAuth1User,
    app_model=OAuth1App,
    aliases=("OAUTH1",),
    flow=OAuth1Flow,
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the ``oauth1`` type."""
    return [OAUTH1]
