"""The signed JWT of RFC 7523: one assertion per token request.

Both uses take the same claims (RFC 7523 section 3):

- ``iss``: who signs, the client;
- ``sub``: for the JWT bearer grant the principal the token is for, for
  client authentication the client itself;
- ``aud``: the token server, by default its token endpoint URL;
- ``iat`` and ``exp``: now, and now plus the lifetime, in whole seconds;
- ``jti``: a fresh value, so that a server can refuse a replay.

Times come from the flow's clock and ``jti`` from its nonce source, so an
assertion is a pure function of its inputs (an RS256 one byte for byte;
ES256 signatures are randomized, its claims are not).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from authplug_jwt.keys import SigningKey

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "JWT_BEARER_GRANT",
    "MAX_LIFETIME",
    "RESERVED_CLAIMS",
    "assertion_claims",
    "sign_assertion",
]

JWT_BEARER_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""The ``grant_type`` of the JWT bearer grant (RFC 7523 section 2.1)."""

CLIENT_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""The ``client_assertion_type`` of ``private_key_jwt`` (section 2.2)."""

RESERVED_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti"})
"""Claims the assertion sets itself; extra claims may not replace them."""

MAX_LIFETIME: Final = 3600
"""The longest assertion lifetime, in seconds.

An assertion is a bearer credential until it expires; servers refuse long
ones (Google allows an hour), and one is signed for every token request.
"""


def assertion_claims(
    *,
    issuer: str,
    subject: str,
    audience: str,
    now: float,
    lifetime: int,
    jwt_id: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the claims of one assertion.

    Args:
        issuer: The ``iss`` claim.
        subject: The ``sub`` claim.
        audience: The ``aud`` claim.
        now: The current time, seconds since the epoch; ``iat`` is it
            rounded down, so the assertion is never issued in the future.
        lifetime: Seconds from ``iat`` to ``exp``.
        jwt_id: The ``jti`` claim.
        extra: Further claims; none may be one of :data:`RESERVED_CLAIMS`.

    Raises:
        ValueError: ``extra`` names a reserved claim, or ``lifetime`` is
            out of range.
    """
    clashes = sorted(set(extra or {}) & RESERVED_CLAIMS)
    if clashes:
        raise ValueError(f"extra claims may not set {', '.join(clashes)}")
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise ValueError(f"lifetime must be 1 to {MAX_LIFETIME} seconds")

    issued_at = math.floor(now)
    return {
        **(extra or {}),
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "jti": jwt_id,
    }


def sign_assertion(
    key: SigningKey,
    *,
    issuer: str,
    subject: str,
    audience: str,
    now: float,
    lifetime: int,
    jwt_id: str,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Return a signed assertion; the arguments are :func:`assertion_claims`'s.

    Example:
        >>> key = load_signing_key(pem, key_id="2024-05")  # doctest: +SKIP
        >>> sign_assertion(key, issuer="svc", subject="svc",
        ...                audience="https://auth.example.com/token",
        ...                now=time.time(), lifetime=300,
        ...                jwt_id=secrets.token_urlsafe())  # doctest: +SKIP
        'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjIwMjQtMDUifQ...'
    """
    claims = assertion_claims(
        issuer=issuer,
        subject=subject,
        audience=audience,
        now=now,
        lifetime=lifetime,
        jwt_id=jwt_id,
        extra=extra,
    )
    return key.sign(claims)
