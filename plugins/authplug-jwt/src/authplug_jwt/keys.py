"""Private signing keys: read from PEM, checked, and matched to an algorithm.

Two algorithms are offered, the ones RFC 7518 recommends and token servers
accept everywhere:

=========  ==========================================
algorithm  key
=========  ==========================================
RS256      RSA of at least 2048 bits (PKCS#1 or PKCS#8)
ES256      EC on the P-256 curve (SEC 1 or PKCS#8)
=========  ==========================================

Every message here describes the key (its kind, size or curve) and never
quotes it: the text is the secret.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, get_args

from attrs import field, frozen

# cryptography and joserfc are imported where a key is read or used: this
# module is imported whenever the registry is built, and they cost more to
# import than the rest of the registry.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from joserfc.jwk import ECKey, KeyParameters, RSAKey

    PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

__all__ = [
    "ALGORITHMS",
    "MIN_RSA_BITS",
    "PEM_PATTERN",
    "Algorithm",
    "SigningKey",
    "load_signing_key",
]

Algorithm = Literal["RS256", "ES256"]
"""A JWS algorithm the plugin signs with."""

ALGORITHMS: Final[tuple[Algorithm, ...]] = get_args(Algorithm)

MIN_RSA_BITS: Final = 2048
"""RFC 7518 section 3.3: RS256 keys must have at least 2048 bits."""

PEM_PATTERN: Final = r"-----BEGIN (RSA |EC )?PRIVATE KEY-----"
"""What a PEM private key the plugin can read contains (JSON Schema)."""

# Checking an RSA key's numbers costs about 0.1 s; remember the digests of
# texts already checked, so loading the same credentials again is cheap.
# Digests only: the key text itself is not kept.
_CHECKED_LIMIT: Final = 1024
_checked: OrderedDict[bytes, None] = OrderedDict()
_checked_lock = threading.Lock()

_BEGIN: Final = "-----BEGIN"
_KEY_BLOCK: Final = re.compile(
    r"-----BEGIN (RSA |EC )?PRIVATE KEY-----[\s\S]*?"
    r"-----END (RSA |EC )?PRIVATE KEY-----"
)
_ENCRYPTED: Final = "-----BEGIN ENCRYPTED PRIVATE KEY-----"
_PUBLIC_MARKS: Final = ("-----BEGIN PUBLIC KEY-----", "-----BEGIN RSA PUBLIC KEY-----")
_CERTIFICATE: Final = "-----BEGIN CERTIFICATE-----"


@frozen
class SigningKey:
    """A private key ready to sign JWTs, with its algorithm and ``kid``.

    Build one with :func:`load_signing_key`. Its repr names the algorithm
    and key id only.

    Args:
        algorithm: The JWS algorithm, ``RS256`` or ``ES256``.
        key_id: The ``kid`` header value, if any.
        jwk: The key as a joserfc JWK.
    """

    algorithm: Algorithm
    key_id: str | None
    jwk: RSAKey | ECKey = field(repr=False, eq=False)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Return ``claims`` as a signed compact JWT.

        The header carries ``alg``, ``typ`` (``JWT``) and, if the key has
        one, ``kid``.
        """
        from joserfc import jwt

        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if self.key_id is not None:
            header["kid"] = self.key_id
        return jwt.encode(header, dict(claims), self.jwk, algorithms=[self.algorithm])

    def public_jwk(self) -> dict[str, Any]:
        """Return the public half as a JWK, to register with a server.

        The JWK carries ``kid`` (when the key has one), ``alg`` and
        ``use: sig``.
        """
        public = dict(self.jwk.as_dict(private=False))
        public.update({"alg": self.algorithm, "use": "sig"})
        if self.key_id is not None:
            public["kid"] = self.key_id
        return public


def load_signing_key(
    pem: str, *, algorithm: Algorithm | None = None, key_id: str | None = None
) -> SigningKey:
    """Read a PEM private key and check that it can sign with ``algorithm``.

    Args:
        pem: The PEM text. Text around the key block is ignored, and a key
            pasted with literal ``\\n`` escapes instead of line breaks (as
            environment variables often hold it) is read too.
        algorithm: ``RS256`` or ``ES256``; the one the key is for if None.
        key_id: The ``kid`` header to send.

    Raises:
        ValueError: The text is not an unencrypted RSA or P-256 private
            key, or not one for ``algorithm``; the message says which,
            relative to the field, and never quotes the key.
    """
    from cryptography.hazmat.primitives.asymmetric import rsa
    from joserfc.jwk import ECKey, RSAKey

    text = _unescaped(pem)
    private_key = _parse(text)

    found = _algorithm_of(private_key)
    if algorithm is not None and algorithm != found:
        raise ValueError(
            f"is {_describe(private_key)}, which signs {found}, not the "
            f"algorithm {algorithm}; give a key for {algorithm} or set "
            f"algorithm to {found} (or leave it out)"
        )

    parameters: KeyParameters | None = None
    if key_id is not None:
        parameters = {"kid": key_id}
    jwk: RSAKey | ECKey
    if isinstance(private_key, rsa.RSAPrivateKey):
        jwk = RSAKey.import_key(private_key, parameters)
    else:
        jwk = ECKey.import_key(private_key, parameters)
    return SigningKey(algorithm=found, key_id=key_id, jwk=jwk)


def _unescaped(pem: str) -> str:
    if "\n" not in pem and "\\n" in pem:
        return pem.replace("\\r", "").replace("\\n", "\n")
    return pem


def _parse(text: str) -> PrivateKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    problem = _framing_problem(text)
    if problem is not None:
        raise ValueError(problem)

    data = text.encode("utf-8")
    # The key blocks alone: the same key with other text around it was
    # checked just the same.
    blocks = "".join(found.group(0) for found in _KEY_BLOCK.finditer(text))
    digest = hashlib.sha256(blocks.encode() if blocks else data).digest()
    with _checked_lock:
        checked = digest in _checked
    try:
        key = serialization.load_pem_private_key(
            data, password=None, unsafe_skip_rsa_key_validation=checked
        )
    except TypeError:
        raise ValueError(_ENCRYPTED_MESSAGE) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError(
            "is not a readable PEM private key: the block is damaged or "
            "truncated; copy the whole key again, from -----BEGIN to -----END"
        ) from None

    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(
            f"is {_describe(key)}; only RSA keys (RS256) and EC P-256 keys "
            "(ES256) are supported"
        )
    _check_strength(key)
    _remember(digest)
    return key


_ENCRYPTED_MESSAGE: Final = (
    "is encrypted with a passphrase; give the key unencrypted (for example "
    "from 'openssl pkey -in key.pem') and keep it in a secret store instead"
)


def _framing_problem(text: str) -> str | None:
    if not text.strip():
        return "must not be empty; give a PEM private key"
    if _BEGIN not in text:
        return (
            "is not a PEM private key: it has no '-----BEGIN ... PRIVATE KEY-----' line"
        )
    if _ENCRYPTED in text:
        return _ENCRYPTED_MESSAGE
    if any(mark in text for mark in (*_PUBLIC_MARKS, _CERTIFICATE)) and (
        "PRIVATE KEY-----" not in text
    ):
        return (
            "is a public key or a certificate; give the private key, and "
            "register the public one with the token server"
        )
    return None


def _check_strength(key: PrivateKey) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise ValueError(
            f"is an RSA key of {key.key_size} bits; RS256 needs at least "
            f"{MIN_RSA_BITS}, so make a new key (openssl genpkey -algorithm RSA "
            "-pkeyopt rsa_keygen_bits:2048)"
        )
    if isinstance(key, ec.EllipticCurvePrivateKey) and not isinstance(
        key.curve, ec.SECP256R1
    ):
        raise ValueError(
            f"is {_describe(key)}; ES256 needs a P-256 key (openssl genpkey "
            "-algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
        )


def _remember(digest: bytes) -> None:
    with _checked_lock:
        _checked[digest] = None
        _checked.move_to_end(digest)
        while len(_checked) > _CHECKED_LIMIT:
            _checked.popitem(last=False)


def _algorithm_of(key: PrivateKey) -> Algorithm:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"


def _describe(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        return f"an RSA key of {key.key_size} bits"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        curves = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        name = curves.get(key.curve.name, key.curve.name)
        return f"an EC key on the {name} curve"
    kind = type(key).__name__.removesuffix("PrivateKey") or "other"
    return f"a key of type {kind}"
