"""The assertion's claims and headers, read back by two JOSE implementations."""

from __future__ import annotations

import math
from typing import Any

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey

from authplug_jwt.assertion import (
    MAX_LIFETIME,
    RESERVED_CLAIMS,
    assertion_claims,
    sign_assertion,
)
from authplug_jwt.keys import SigningKey, load_signing_key

AUDIENCE = "https://auth.example.com/oauth/token"
NOW = 1_767_225_600.75


def _ec_pair() -> tuple[SigningKey, ECKey]:
    generated = ECKey.generate_key("P-256")
    signer = load_signing_key(generated.as_pem(private=True).decode("ascii"))
    verifier = ECKey.import_key(generated.as_dict(private=False))
    return signer, verifier


# One key pair for every hypothesis example: properties take no fixtures
# that pytest would build per test rather than per example.
_EC_SIGNER, _EC_VERIFIER = _ec_pair()


def verify_with_pyjwt(token: str, key: Any, algorithm: str) -> dict[str, Any]:
    """Check the signature and claims with PyJWT, which shares no code with us."""
    claims: dict[str, Any] = pyjwt.decode(
        token,
        key.public_key(),
        algorithms=[algorithm],
        audience=AUDIENCE,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    return claims


@pytest.fixture
def signing_key(private_pem: str) -> SigningKey:
    return load_signing_key(private_pem, key_id="test-key")


def test_an_assertion_carries_every_claim_and_header(
    algorithm: str, private_key: Any, signing_key: SigningKey
) -> None:
    token = sign_assertion(
        signing_key,
        issuer="client-7",
        subject="alice@example.com",
        audience=AUDIENCE,
        now=NOW,
        lifetime=300,
        jwt_id="jti-1",
        extra={"scope": "read write"},
    )

    claims = verify_with_pyjwt(token, private_key, algorithm)
    header = pyjwt.get_unverified_header(token)
    assert claims == {
        "iss": "client-7",
        "sub": "alice@example.com",
        "aud": AUDIENCE,
        "iat": 1_767_225_600,
        "exp": 1_767_225_900,
        "jti": "jti-1",
        "scope": "read write",
    }
    assert header == {"alg": algorithm, "typ": "JWT", "kid": "test-key"}


def test_without_a_key_id_there_is_no_kid_header(private_pem: str) -> None:
    key = load_signing_key(private_pem)

    token = sign_assertion(
        key,
        issuer="c",
        subject="c",
        audience=AUDIENCE,
        now=NOW,
        lifetime=60,
        jwt_id="j",
    )

    assert "kid" not in pyjwt.get_unverified_header(token)


def test_another_key_does_not_verify_the_assertion(
    keys: Any, algorithm: str, signing_key: SigningKey
) -> None:
    other = keys.other_rsa if algorithm == "RS256" else keys.other_ec
    token = sign_assertion(
        signing_key,
        issuer="c",
        subject="c",
        audience=AUDIENCE,
        now=NOW,
        lifetime=60,
        jwt_id="j",
    )

    with pytest.raises(pyjwt.InvalidSignatureError):
        verify_with_pyjwt(token, other, algorithm)


def test_rs256_assertions_are_a_function_of_their_inputs(keys: Any) -> None:
    key = load_signing_key(keys.pem(keys.rsa))
    inputs: dict[str, Any] = {
        "issuer": "c",
        "subject": "u",
        "audience": AUDIENCE,
        "now": NOW,
        "lifetime": 120,
        "jwt_id": "fixed",
    }

    assert sign_assertion(key, **inputs) == sign_assertion(key, **inputs)


texts = st.text(min_size=1, max_size=40)
extra_claims = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda name: name not in RESERVED_CLAIMS),
    st.text(max_size=20),
    max_size=4,
)


@given(
    issuer=texts,
    subject=texts,
    now=st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False),
    lifetime=st.integers(min_value=1, max_value=MAX_LIFETIME),
    jwt_id=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1),
    extra=extra_claims,
)
def test_the_claims_read_back_are_the_ones_given(
    issuer: str,
    subject: str,
    now: float,
    lifetime: int,
    jwt_id: str,
    extra: dict[str, str],
) -> None:
    token = sign_assertion(
        _EC_SIGNER,
        issuer=issuer,
        subject=subject,
        audience=AUDIENCE,
        now=now,
        lifetime=lifetime,
        jwt_id=jwt_id,
        extra=extra,
    )

    read = jwt.decode(token, _EC_VERIFIER, algorithms=["ES256"]).claims
    assert read == {
        **extra,
        "iss": issuer,
        "sub": subject,
        "aud": AUDIENCE,
        "iat": math.floor(now),
        "exp": math.floor(now) + lifetime,
        "jti": jwt_id,
    }
    assert read["iat"] <= now < read["iat"] + 1


@given(lifetime=st.one_of(st.integers(max_value=0), st.integers(min_value=3601)))
def test_a_lifetime_out_of_range_is_refused(lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime must be 1 to 3600 seconds"):
        assertion_claims(
            issuer="c",
            subject="c",
            audience=AUDIENCE,
            now=NOW,
            lifetime=lifetime,
            jwt_id="j",
        )


@given(reserved=st.sets(st.sampled_from(sorted(RESERVED_CLAIMS)), min_size=1))
def test_extra_claims_may_not_replace_a_reserved_one(reserved: set[str]) -> None:
    extra = dict.fromkeys(reserved, "forged")

    with pytest.raises(ValueError, match="extra claims may not set") as caught:
        assertion_claims(
            issuer="c",
            subject="c",
            audience=AUDIENCE,
            now=NOW,
            lifetime=60,
            jwt_id="j",
            extra=extra,
        )

    assert all(name in str(caught.value) for name in reserved)
