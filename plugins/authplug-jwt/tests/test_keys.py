"""Reading and checking private keys: what is accepted, what is refused, how."""

from __future__ import annotations

import json
from base64 import urlsafe_b64decode
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from authplug_jwt.keys import load_signing_key


def header_of(token: str) -> dict[str, Any]:
    encoded = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(urlsafe_b64decode(encoded + "=="))
    return decoded


@pytest.mark.parametrize("form", ["pkcs8", "traditional"])
def test_each_key_kind_and_form_gives_its_algorithm(
    keys: Any, algorithm: str, form: str
) -> None:
    key = load_signing_key(keys.pem(keys.by_algorithm[algorithm], form))

    assert key.algorithm == algorithm
    assert key.key_id is None


def test_a_matching_algorithm_and_a_key_id_are_kept(
    algorithm: Any, private_pem: str
) -> None:
    key = load_signing_key(private_pem, algorithm=algorithm, key_id="key-2024")

    token = key.sign({"iss": "me"})

    assert header_of(token) == {"alg": algorithm, "typ": "JWT", "kid": "key-2024"}


def test_the_signature_verifies_with_the_public_half(
    algorithm: str, private_pem: str
) -> None:
    key = load_signing_key(private_pem, key_id="k1")
    public = key.public_jwk()
    verifier = RSAKey if algorithm == "RS256" else ECKey

    token = jwt.decode(
        key.sign({"iss": "me"}), verifier.import_key(public), algorithms=[algorithm]
    )

    assert token.claims == {"iss": "me"}
    assert (public["kid"], public["alg"], public["use"]) == ("k1", algorithm, "sig")
    assert "d" not in public


def test_text_around_the_key_and_escaped_line_breaks_are_read(keys: Any) -> None:
    text = keys.pem(keys.ec)
    labelled = f"Bag Attributes: made for the tests\n{text}\ntrailing words"
    escaped = text.replace("\n", "\\n")

    assert load_signing_key(labelled).algorithm == "ES256"
    assert load_signing_key(escaped).algorithm == "ES256"


@pytest.mark.parametrize(
    ("kind", "claimed", "said"),
    [
        ("rsa", "ES256", "is an RSA key of 2048 bits, which signs RS256, not"),
        ("ec", "RS256", "is an EC key on the P-256 curve, which signs ES256, not"),
    ],
)
def test_a_key_of_another_kind_than_the_algorithm_is_refused(
    keys: Any, kind: str, claimed: Any, said: str
) -> None:
    with pytest.raises(ValueError, match=said):
        load_signing_key(keys.pem(getattr(keys, kind)), algorithm=claimed)


def _public(keys: Any) -> str:
    data = keys.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return str(data.decode("ascii"))


def _encrypted(keys: Any) -> str:
    data = keys.ec.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    return str(data.decode("ascii"))


def _damaged(keys: Any) -> str:
    lines = keys.pem(keys.rsa).splitlines()
    middle = len(lines) // 2
    lines[middle] = lines[middle][::-1]
    return "\n".join(lines)


def _truncated(keys: Any) -> str:
    return str(keys.pem(keys.rsa)[:400])


def _small_rsa(keys: Any) -> str:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return str(keys.pem(small))


def _p384(keys: Any) -> str:
    return str(keys.pem(ec.generate_private_key(ec.SECP384R1())))


def _ed25519(keys: Any) -> str:
    return str(keys.pem(ed25519.Ed25519PrivateKey.generate()))


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda keys: "", "must not be empty"),
        (lambda keys: "   \n", "must not be empty"),
        (
            lambda keys: "MIIEvQIBADANBgkqhkiG9w0BAQEF",
            "is not a PEM private key: it has",
        ),
        (_public, "is a public key or a certificate; give the private key"),
        (_encrypted, "is encrypted with a passphrase"),
        (_damaged, "is not a readable PEM private key: the block is damaged"),
        (_truncated, "is not a readable PEM private key: the block is damaged"),
        (_small_rsa, "is an RSA key of 1024 bits; RS256 needs at least 2048"),
        (_p384, "is an EC key on the P-384 curve; ES256 needs a P-256 key"),
        (_ed25519, "is a key of type Ed25519; only RSA keys (RS256) and EC P-256"),
    ],
)
def test_unusable_text_is_refused_saying_what_is_wrong(
    keys: Any, make: Any, said: str
) -> None:
    text = make(keys)

    with pytest.raises(ValueError) as caught:
        load_signing_key(text)

    message = str(caught.value)
    assert message.startswith(said)
    key_lines = [line for line in text.splitlines() if len(line) > 16]
    assert not any(line in message for line in key_lines)


def test_a_checked_key_loads_again_from_other_text_around_it(keys: Any) -> None:
    text = keys.pem(keys.rsa, "traditional")

    first = load_signing_key(text)
    again = load_signing_key(f"# the same key\n{text}")

    assert again.public_jwk() == first.public_jwk()


def test_the_repr_names_the_algorithm_and_key_id_only(private_pem: str) -> None:
    key = load_signing_key(private_pem, key_id="k1")

    shown = repr(key)

    assert "k1" in shown and key.algorithm in shown
    assert "jwk" not in shown
    assert not any(line in shown for line in private_pem.splitlines()[1:-1])
