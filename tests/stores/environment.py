"""Keep store tests away from the real user's data, keys and keyring.

Import :func:`private_store_environment` into a test module (or conftest)
to make it apply to every test there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from authplug.stores.crypto import KEY_ENV, OLD_KEYS_ENV
from authplug.stores.urls import STORE_ENV

__all__ = ["private_store_environment"]


@pytest.fixture(autouse=True)
def private_store_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Point data directories at ``tmp_path``; unset keys; no keyring at all.

    Tests that want a keyring install one of their own.
    """
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in (KEY_ENV, OLD_KEYS_ENV, STORE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)
