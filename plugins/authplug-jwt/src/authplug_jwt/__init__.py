"""OAuth2 with signed JWTs (RFC 7523) as authplug auth types.

Installing this distribution registers two types through the entry-point
group ``authplug``:

- ``oauth2.jwt_bearer``: the JWT bearer grant; the client signs an
  assertion for a subject and exchanges it for an access token;
- ``oauth2.private_key_jwt``: the client credentials grant, the client
  authenticated by a signed assertion instead of a secret.

:mod:`authplug_jwt.keys` reads and checks the keys, and
:mod:`authplug_jwt.assertion` builds the assertions; both work on their own.
"""

from __future__ import annotations

from authplug_jwt.assertion import (
    CLIENT_ASSERTION_TYPE,
    JWT_BEARER_GRANT,
    assertion_claims,
    sign_assertion,
)
from authplug_jwt.flows import JWTBearerFlow, PrivateKeyJWTFlow
from authplug_jwt.keys import Algorithm, SigningKey, load_signing_key
from authplug_jwt.models import (
    JWTBearerApp,
    JWTBearerUser,
    PrivateKeyJWTApp,
    SigningClient,
)
from authplug_jwt.plugin import OAUTH2_JWT_BEARER, OAUTH2_PRIVATE_KEY_JWT

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "JWT_BEARER_GRANT",
    "OAUTH2_JWT_BEARER",
    "OAUTH2_PRIVATE_KEY_JWT",
    "Algorithm",
    "JWTBearerApp",
    "JWTBearerFlow",
    "JWTBearerUser",
    "PrivateKeyJWTApp",
    "PrivateKeyJWTFlow",
    "SigningClient",
    "SigningKey",
    "assertion_claims",
    "load_signing_key",
    "sign_assertion",
]

__version__ = "0.1.0"
