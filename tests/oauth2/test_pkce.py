"""PKCE S256: the RFC 7636 vector and the verifier rules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from authplug.oauth2.pkce import make_verifier, s256_challenge

VECTOR = json.loads(
    (Path(__file__).parent.parent / "vectors" / "pkce_rfc7636.json").read_text()
)


def test_challenge_matches_the_rfc_7636_vector() -> None:
    challenge = s256_challenge(VECTOR["code_verifier"])

    assert VECTOR["code_challenge_method"] == "S256"
    assert challenge == VECTOR["code_challenge"]


def test_verifiers_are_fresh_and_within_the_rfc_alphabet_and_length() -> None:
    verifiers = {make_verifier() for _ in range(50)}

    assert len(verifiers) == 50
    for verifier in verifiers:
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
        assert "=" not in s256_challenge(verifier)


@pytest.mark.parametrize(
    "verifier", ["short", "a" * 42, "a" * 129, "has space" + "a" * 40, "é" * 43]
)
def test_verifiers_outside_the_rules_are_refused(verifier: str) -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        s256_challenge(verifier)
