"""The OAuth2 types: authorization code and its grant subtypes.

``oauth2`` is the authorization code grant (with PKCE); its subtypes
``oauth2.client_credentials`` and ``oauth2.password`` share its client
settings and token model. The flows that obtain, refresh and apply the
tokens live in :mod:`authplug.oauth2`; the records name them by path, so
registering the types imports neither the flows nor the token lifecycle
until a flow is first used.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from attrs import frozen

from authplug.errors import ConfigError, FieldError
from authplug.fields import Scopes, Url, describe, scopes_field, url_field
from authplug.hookspecs import hookimpl
from authplug.records import AuthType
from authplug.secret import Secret

__all__ = [
    "OAUTH2",
    "OAUTH2_CLIENT_CREDENTIALS",
    "OAUTH2_PASSWORD",
    "RESERVED_TOKEN_PARAMS",
    "ClientAuthMethod",
    "OAuth2App",
    "OAuth2Client",
    "OAuth2Token",
    "PasswordUser",
]

ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]

RESERVED_TOKEN_PARAMS = frozenset(
    {
        "grant_type",
        "code",
        "code_verifier",
        "redirect_uri",
        "refresh_token",
        "username",
        "password",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "assertion",
        "scope",
        "audience",
        "resource",
    }
)
"""Token request fields that the grants or dedicated settings send."""


def _names_only(params: dict[str, str]) -> str:
    # A service may want a key among these; show which, never the values.
    return "{" + ", ".join(f"{name!r}: ..." for name in params) + "}"


def _check_token_params(_: object, attribute: Any, value: dict[str, str]) -> None:
    clashes = sorted(set(value) & RESERVED_TOKEN_PARAMS)
    if clashes:
        raise ConfigError(
            [
                FieldError(
                    f"{attribute.name}.{name}",
                    "is sent by the grant or by its own setting (scopes, "
                    "audience, resource, ...); set that instead",
                )
                for name in clashes
            ]
        )


@frozen(kw_only=True)
class OAuth2Client:
    """What every OAuth2 grant needs to talk to the token endpoint."""

    client_id: str = describe("The client identifier the service issued")
    client_secret: Secret | None = describe(
        "The client secret; leave out for a public client", default=None
    )
    token_url: Url = url_field("The token endpoint")
    scopes: Scopes = scopes_field()
    client_auth: ClientAuthMethod = describe(
        "How the client authenticates at the token endpoint",
        default="client_secret_basic",
    )
    audience: str | None = describe(
        "Sent as 'audience' with every token request, if set", default=None
    )
    resource: str | None = describe(
        "Sent as 'resource' (RFC 8707) with every token request, if set",
        default=None,
    )
    token_params: dict[str, str] = describe(
        "Further parameters sent with every token request",
        factory=dict,
        hash=False,
        repr=_names_only,
        validator=_check_token_params,
        metadata={
            "json_schema": {
                "propertyNames": {"not": {"enum": sorted(RESERVED_TOKEN_PARAMS)}}
            }
        },
    )

    # The same rule as __attrs_post_init__, for forms built from the schema.
    # client_auth must be present for "if" to hold: left out, it defaults
    # to client_secret_basic, which needs the secret (and null is no secret).
    __authplug_schema__: ClassVar[dict[str, Any]] = {
        "if": {
            "properties": {"client_auth": {"const": "none"}},
            "required": ["client_auth"],
        },
        "else": {
            "properties": {"client_secret": {"type": "string"}},
            "required": ["client_secret"],
        },
    }

    def __attrs_post_init__(self) -> None:
        if self.client_auth != "none" and self.client_secret is None:
            raise ConfigError(
                [
                    FieldError(
                        "client_secret",
                        f"is required when client_auth is {self.client_auth!r}; "
                        "set client_auth to 'none' for a public client",
                    )
                ]
            )


@frozen(kw_only=True)
class OAuth2App(OAuth2Client):
    """The settings of an authorization code client."""

    auth_url: Url = url_field("The authorization endpoint users are sent to")
    redirect_uri: Url | None = url_field(
        "Where the service sends users back; loopback http is allowed",
        default=None,
    )
    pkce: bool = describe("Use PKCE (S256) with the code grant", default=True)

    __authplug_schema__: ClassVar[dict[str, Any]] = {
        "allOf": [
            OAuth2Client.__authplug_schema__,
            {
                "if": {
                    "properties": {"client_auth": {"const": "none"}},
                    "required": ["client_auth"],
                },
                "then": {"properties": {"pkce": {"const": True}}},
            },
        ]
    }

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.client_auth == "none" and not self.pkce:
            raise ConfigError([FieldError("pkce", "must be true for a public client")])


@frozen(kw_only=True)
class OAuth2Token:
    """Tokens a server issued; empty until the first grant runs."""

    access_token: Secret | None = describe(
        "The access token, once issued", default=None
    )
    refresh_token: Secret | None = describe(
        "The refresh token, if the server issued one", default=None
    )
    expires_at: float | None = describe(
        "When the access token expires, in seconds since the epoch",
        default=None,
    )
    token_type: str = describe("The token type the server gave", default="Bearer")
    scopes: Scopes = scopes_field("The scopes the server granted")


@frozen(kw_only=True)
class PasswordUser(OAuth2Token):
    """A resource owner's user name and password, then the issued tokens."""

    username: str = describe("The resource owner's user name")
    password: Secret = describe("The resource owner's password")


OAUTH2 = AuthType(
    name="oauth2",
    summary="OAuth2 authorization code grant, with PKCE and refresh",
    user_model=OAuth2Token,
    app_model=OAuth2App,
    aliases=("OAUTH2",),
    flow="authplug.oauth2.flows:OAuth2Flow",
)

OAUTH2_CLIENT_CREDENTIALS = AuthType(
    name="oauth2.client_credentials",
    summary="OAuth2 client credentials grant, for machine-to-machine access",
    user_model=OAuth2Token,
    app_model=OAuth2Client,
    aliases=("OAUTH2_CLIENT_CREDENTIALS",),
    parent="oauth2",
    flow="authplug.oauth2.flows:ClientCredentialsFlow",
)

OAUTH2_PASSWORD = AuthType(
    name="oauth2.password",
    summary="OAuth2 resource owner password grant",
    user_model=PasswordUser,
    app_model=OAuth2Client,
    aliases=("OAUTH2_PASSWORD",),
    parent="oauth2",
    flow="authplug.oauth2.flows:PasswordFlow",
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the OAuth2 types."""
    return [OAUTH2, OAUTH2_CLIENT_CREDENTIALS, OAUTH2_PASSWORD]
