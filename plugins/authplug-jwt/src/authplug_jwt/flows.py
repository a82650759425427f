"""The flows: the core's OAuth2 token flow, with a signed JWT per request.

Both subclass :class:`authplug.oauth2.TokenFlow`, so retries, token
parsing, clock skew, renewal, stores and single-flight refresh are the
core's. What they add goes through its per-try hook,
:meth:`~authplug.oauth2.TokenFlow.authenticate_token_request`, so every
try of a token request (a retry after a 503 included) carries a freshly
signed assertion with its own ``jti``:

- :class:`JWTBearerFlow` sends the assertion as the grant: ``grant_type``
  ``urn:ietf:params:oauth:grant-type:jwt-bearer`` and ``assertion``. It
  renews by signing a new one, never with a refresh token (RFC 7521
  section 5.2 asks servers not to issue one for an assertion grant).
- :class:`PrivateKeyJWTFlow` runs the client credentials grant, and
  authenticates that and any refresh with ``client_assertion_type`` and
  ``client_assertion`` (iss = sub = the client id).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, ClassVar, Final

from authplug.builtin.oauth2 import OAuth2Token
from authplug.errors import ConfigError, FieldError
from authplug.lifecycle import Exchange, Issued
from authplug.oauth2 import TokenFlow
from authplug.oauth2.tokens import ERROR_HINTS
from authplug.records import Credentials
from authplug.stores import TokenRecord

from authplug_jwt.assertion import (
    CLIENT_ASSERTION_TYPE,
    JWT_BEARER_GRANT,
    sign_assertion,
)
from authplug_jwt.models import JWTBearerApp, JWTBearerUser, PrivateKeyJWTApp

__all__ = ["JWTBearerFlow", "PrivateKeyJWTFlow"]

logger = logging.getLogger(__name__)

# Fields the flows set that the core's list of reserved token parameters
# does not hold.
_OWN_PARAMS: Final = frozenset({"assertion"})

_KEY_HINT: Final = (
    "private_key and key_id (the server must hold the public key for them)"
)


def _check_own_params(token_params: Mapping[str, str]) -> None:
    clashes = sorted(set(token_params) & _OWN_PARAMS)
    if clashes:
        raise ConfigError(
            [
                FieldError(
                    f"app.token_params.{name}",
                    "is set by the JWT flow itself; remove it",
                )
                for name in clashes
            ]
        )


class JWTBearerFlow(TokenFlow[JWTBearerUser, JWTBearerApp]):
    """The JWT bearer grant: a signed assertion is exchanged for a token."""

    regrants = True
    grant_type = JWT_BEARER_GRANT
    error_hints: ClassVar[Mapping[str, str]] = {
        **ERROR_HINTS,
        "invalid_grant": (
            "; the server refused the assertion: check client_id (the issuer), "
            f"subject, assertion_audience, {_KEY_HINT}, and this machine's clock"
        ),
        "unauthorized_client": "; the client may not use the JWT bearer grant",
    }

    def __init__(
        self, credentials: Credentials[JWTBearerUser, JWTBearerApp], **options: Any
    ) -> None:
        super().__init__(credentials, **options)
        _check_own_params(self.app.token_params)
        self.signing_key = self.app.signing_key()

    def _user_identity(self) -> tuple[str, ...]:
        return (self.user.subject,)

    def renew(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Sign a new assertion and exchange it; refresh tokens go unused."""
        return (yield from self.grant(current))

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Ask for a token with a new assertion (added on each try)."""
        return (
            yield from self.token_exchange(
                JWT_BEARER_GRANT,
                [("grant_type", JWT_BEARER_GRANT), *self._scope_param()],
                previous=current,
            )
        )

    def authenticate_token_request(
        self, headers: MutableMapping[str, str], params: list[tuple[str, str]]
    ) -> Sequence[str]:
        """Add a freshly signed assertion, then the app's client_auth."""
        assertion = self.assertion()
        params.append(("assertion", assertion))
        added = super().authenticate_token_request(headers, params)
        return [assertion, *added]

    def assertion(self) -> str:
        """Return a new assertion: the client as issuer, for the subject."""
        app = self.app
        logger.debug(
            "signing a %s assertion for subject %r of client %r",
            self.signing_key.algorithm,
            self.user.subject,
            app.client_id,
        )
        return sign_assertion(
            self.signing_key,
            issuer=app.client_id,
            subject=self.user.subject,
            audience=app.audience_claim,
            now=self.clock(),
            lifetime=app.assertion_lifetime,
            jwt_id=self.nonce(),
            extra=app.claims,
        )


class PrivateKeyJWTFlow(TokenFlow[OAuth2Token, PrivateKeyJWTApp]):
    """The client credentials grant, the client authenticated by a signed JWT."""

    regrants = True
    grant_type = "client_credentials"
    error_hints: ClassVar[Mapping[str, str]] = {
        **ERROR_HINTS,
        "invalid_client": (
            "; the server refused the client assertion: check client_id, "
            f"assertion_audience, {_KEY_HINT}, and this machine's clock"
        ),
        "invalid_grant": "; the server refused the grant",
    }

    def __init__(
        self, credentials: Credentials[OAuth2Token, PrivateKeyJWTApp], **options: Any
    ) -> None:
        super().__init__(credentials, **options)
        _check_own_params(self.app.token_params)
        self.signing_key = self.app.signing_key()

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Ask for a token with the client's own credentials."""
        return (
            yield from self.token_exchange(
                "client_credentials",
                [("grant_type", "client_credentials"), *self._scope_param()],
                previous=current,
            )
        )

    def authenticate_token_request(
        self, headers: MutableMapping[str, str], params: list[tuple[str, str]]
    ) -> Sequence[str]:
        """Add ``client_id`` and a freshly signed client assertion.

        ``client_id`` is optional beside an assertion (RFC 7521 section
        4.2), but some servers require it.
        """
        assertion = self.client_assertion()
        params.extend(
            [
                ("client_id", self.app.client_id),
                ("client_assertion_type", CLIENT_ASSERTION_TYPE),
                ("client_assertion", assertion),
            ]
        )
        return [assertion]

    def client_assertion(self) -> str:
        """Return a new client assertion: the client as issuer and subject."""
        app = self.app
        return sign_assertion(
            self.signing_key,
            issuer=app.client_id,
            subject=app.client_id,
            audience=app.audience_claim,
            now=self.clock(),
            lifetime=app.assertion_lifetime,
            jwt_id=self.nonce(),
            extra=app.claims,
        )
