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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Names are loaded on first use: the registry imports authplug_jwt.plugin
# (and so this package) in every program that builds it, and should not pay
# for the flows and the token lifecycle until a JWT type is used.
_HOMES = {
    "assertion": (
        "CLIENT_ASSERTION_TYPE",
        "JWT_BEARER_GRANT",
        "assertion_claims",
        "sign_assertion",
    ),
    "flows": ("JWTBearerFlow", "PrivateKeyJWTFlow"),
    "keys": ("Algorithm", "SigningKey", "load_signing_key"),
    "models": ("JWTBearerApp", "JWTBearerUser", "PrivateKeyJWTApp", "SigningClient"),
    "plugin": ("OAUTH2_JWT_BEARER", "OAUTH2_PRIVATE_KEY_JWT"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'authplug_jwt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"authplug_jwt.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
