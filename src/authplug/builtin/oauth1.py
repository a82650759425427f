"""The ``oauth1`` type: OAuth 1.0a signed requests (RFC 5849)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from attrs import frozen

from authplug.errors import ConfigError, FieldError
from authplug.fields import Url, check_url, describe, field_validator, url_field
from authplug.hookspecs import hookimpl
from authplug.records import AuthType
from authplug.secret import Secret

__all__ = ["OAUTH1", "OAuth1App", "OAuth1User", "SignatureMethod"]

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
        "then": {"required": ["rsa_private_key"]},
        "else": {"required": ["consumer_secret"]},
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
        "The token secret, once issued", default=None
    )


OAUTH1 = AuthType(
    name="oauth1",
    summary="OAuth 1.0a signed requests (HMAC-SHA1/SHA256, RSA-SHA1, PLAINTEXT)",
    user_model=OAuth1User,
    app_model=OAuth1App,
    aliases=("OAUTH1",),
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the ``oauth1`` type."""
    return [OAUTH1]
