"""Pytest fixtures for the test authorization server.

``tests/conftest.py`` loads this module as a plugin, so every test can ask
for:

- ``oauth_server``: a running :class:`.OAuthServer`, reset to the default
  clients, user and settings before the test (one server serves the whole
  session; resetting is what keeps tests independent and fast).
- ``oauth_server_process``: the same in a child process
  (:class:`.OAuthServerProcess`), also reset per test.
- ``rsa_key`` / ``ec_key``: private signing keys (RS256, ES256) for
  ``private_key_jwt`` and the JWT bearer grant, made once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from joserfc.jwk import ECKey, RSAKey

from .process import OAuthServerProcess
from .server import OAuthServer

__all__ = [
    "ec_key",
    "oauth_server",
    "oauth_server_process",
    "rsa_key",
]


@pytest.fixture(scope="session")
def _oauth_server_session() -> Iterator[OAuthServer]:
    with OAuthServer() as server:
        yield server


@pytest.fixture
def oauth_server(_oauth_server_session: OAuthServer) -> Iterator[OAuthServer]:
    """Give the test a running server with default state and no faults."""
    _oauth_server_session.reset()
    yield _oauth_server_session
    _oauth_server_session.reset()


@pytest.fixture(scope="session")
def _oauth_server_process_session() -> Iterator[OAuthServerProcess]:
    with OAuthServerProcess() as server:
        yield server


@pytest.fixture
def oauth_server_process(
    _oauth_server_process_session: OAuthServerProcess,
) -> Iterator[OAuthServerProcess]:
    """Give the test a server in a child process, reset like ``oauth_server``."""
    _oauth_server_process_session.reset()
    yield _oauth_server_process_session
    _oauth_server_process_session.reset()


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    """Return an RSA private key with a ``kid``, for RS256."""
    return RSAKey.generate_key(2048, parameters={"kid": "test-rsa"})


@pytest.fixture(scope="session")
def ec_key() -> ECKey:
    """Return a P-256 private key with a ``kid``, for ES256."""
    return ECKey.generate_key("P-256", parameters={"kid": "test-ec"})
