"""The plugin: registers ``oauth2.jwt_bearer`` and ``oauth2.private_key_jwt``.

The registry finds this module through the entry-point group ``authplug``
(see the distribution's ``pyproject.toml``). The records name their flows
by path, so registering the types imports neither the flows nor the core's
token lifecycle, and the models import no cryptography until a key is read.
"""

from __future__ import annotations

from authplug.builtin.oauth2 import OAuth2Token
from authplug.hookspecs import hookimpl
from authplug.records import AuthType

from authplug_jwt.models import JWTBearerApp, JWTBearerUser, PrivateKeyJWTApp

__all__ = ["OAUTH2_JWT_BEARER", "OAUTH2_PRIVATE_KEY_JWT", "authplug_auth_types"]

OAUTH2_JWT_BEARER = AuthType(
    name="oauth2.jwt_bearer",
    summary="OAuth2 JWT bearer grant (RFC 7523): a signed assertion per token",
    user_model=JWTBearerUser,
    app_model=JWTBearerApp,
    parent="oauth2",
    flow="authplug_jwt.flows:JWTBearerFlow",
)

OAUTH2_PRIVATE_KEY_JWT = AuthType(
    name="oauth2.private_key_jwt",
    summary="OAuth2 client credentials, the client authenticated by a signed JWT",
    user_model=OAuth2Token,
    app_model=PrivateKeyJWTApp,
    parent="oauth2",
    flow="authplug_jwt.flows:PrivateKeyJWTFlow",
)


@hookimpl
def authplug_auth_types() -> list[AuthType]:
    """Provide the two JWT types."""
    return [OAUTH2_JWT_BEARER, OAUTH2_PRIVATE_KEY_JWT]
