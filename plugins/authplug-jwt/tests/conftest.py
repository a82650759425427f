"""Test set-up for authplug-jwt: keys, strategies, profiles, the OAuth server.

Run with the core's suite, the hypothesis profiles and the OAuth server
fixtures come from the core's ``tests/conftest.py``; run alone (``pytest
plugins/authplug-jwt/tests``), the same profiles are defined here and the
fixtures plugin is loaded here.

The keys are made once per run. The contract kit gets a strategy for each
app model that draws one of them with a matching (or no) ``algorithm``: a
random secret is no PEM key, and a JSON Schema cannot tell an RSA key from
an EC one, so documents that pair them wrongly would tell nothing. Each
drawn key text starts with a generated secret marker (PEM ignores text
before the key block), so the kit's leak check spots the key wherever it
would appear.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from authplug.testing import model_documents, register_strategy, secret_values
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from authplug_jwt import JWTBearerApp, PrivateKeyJWTApp

OAUTH_FIXTURES = "tests.oauth_server.fixtures"


def _define_missing_profiles() -> None:
    try:
        settings.get_profile("ci")
    except InvalidArgument:
        pass
    else:
        return

    settings.register_profile(
        "ci",
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.register_profile("thorough", max_examples=2000, deadline=None)
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


_define_missing_profiles()


def pytest_configure(config: pytest.Config) -> None:
    """Load the OAuth server fixtures when the core's conftest has not."""
    if not config.pluginmanager.has_plugin(OAUTH_FIXTURES):
        config.pluginmanager.import_plugin(OAUTH_FIXTURES)


# -- keys ------------------------------------------------------------------


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, form: str) -> str:
    """Return ``key`` as PEM: ``pkcs8``, or ``traditional`` (PKCS#1 / SEC 1)."""
    private_format = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }[form]
    data = key.private_bytes(
        serialization.Encoding.PEM, private_format, serialization.NoEncryption()
    )
    return data.decode("ascii")


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP256R1())

KEYS: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {
    "RS256": RSA_KEY,
    "ES256": EC_KEY,
}
PEMS = [
    ("RS256", pem(RSA_KEY, "pkcs8")),
    ("RS256", pem(RSA_KEY, "traditional")),
    ("ES256", pem(EC_KEY, "pkcs8")),
    ("ES256", pem(EC_KEY, "traditional")),
]


class KeyRing:
    """The run's keys, for tests (which cannot import this module)."""

    rsa = RSA_KEY
    ec = EC_KEY
    other_rsa = OTHER_RSA_KEY
    other_ec = OTHER_EC_KEY
    by_algorithm = KEYS

    @staticmethod
    def pem(
        key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, form: str = "pkcs8"
    ) -> str:
        """Return ``key`` as PEM; see :func:`pem`."""
        return pem(key, form)


@pytest.fixture(scope="session")
def keys() -> type[KeyRing]:
    """Return the run's keys and the PEM helper."""
    return KeyRing


@pytest.fixture(params=["RS256", "ES256"])
def algorithm(request: pytest.FixtureRequest) -> str:
    """Run a test once per algorithm."""
    value: str = request.param
    return value


@pytest.fixture
def private_key(algorithm: str) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """Return the private key of the test's algorithm."""
    return KEYS[algorithm]


@pytest.fixture
def private_pem(algorithm: str) -> str:
    """Return the PKCS#8 PEM of the test's algorithm's key."""
    return pem(KEYS[algorithm], "pkcs8")


# -- strategies for the contract kit ---------------------------------------


def _with_matching_key(model: type) -> st.SearchStrategy[dict[str, Any]]:
    generated = model_documents(model)

    @st.composite
    def documents(draw: st.DrawFn) -> dict[str, Any]:
        document = dict(draw(generated))
        algorithm, text = draw(st.sampled_from(PEMS))
        document["private_key"] = f"{draw(secret_values())}\n{text}"
        if draw(st.booleans()):
            document["algorithm"] = algorithm
        else:
            document.pop("algorithm", None)
        return document

    return documents()


for _model in (JWTBearerApp, PrivateKeyJWTApp):
    register_strategy(_model, _with_matching_key(_model))
