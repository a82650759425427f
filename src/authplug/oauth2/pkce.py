"""PKCE (RFC 7636): a one-time verifier and its S256 challenge."""

from __future__ import annotations

import hashlib
import re
import secrets
from base64 import urlsafe_b64encode

__all__ = ["make_verifier", "s256_challenge"]

_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def make_verifier() -> str:
    """Return a fresh code verifier: 86 characters, 512 bits of randomness."""
    return secrets.token_urlsafe(64)


def s256_challenge(verifier: str) -> str:
    """Return the S256 code challenge of ``verifier``.

    Raises:
        ValueError: ``verifier`` is not 43 to 128 unreserved characters,
            as RFC 7636 section 4.1 requires.
    """
    if not _VERIFIER.match(verifier):
        raise ValueError(
            "a PKCE code verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~"
        )
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
