"""Encryption at rest: sealing, binding, tampering, keys, rotation, keyring."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import keyring
import keyring.backend
import pytest

from authplug.errors import MissingDependency
from authplug.stores.crypto import (
    KEYRING_OLD_KEYS,
    KEYRING_SERVICE,
    KEYRING_STORE_KEY,
    KeySet,
    KeySource,
    NoStoreKey,
    UndecryptableValue,
    generate_key,
    key_id,
    load_keys,
    save_key_to_keyring,
)


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps its passwords in a dict."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_a_generated_key_is_44_characters_and_loads() -> None:
    text = generate_key()

    keys = KeySet.from_keys(text)

    assert len(text) == 44
    assert len(keys.primary_id) == 16
    assert generate_key() != text


def test_sealed_values_open_and_hide_the_plaintext(keys: KeySet) -> None:
    sealed = keys.seal(b"refresh-token-value", b"context")

    opened = keys.open(sealed, b"context", what="token record 'k'", key="k")

    assert opened == b"refresh-token-value"
    assert b"refresh-token-value" not in sealed
    assert keys.seal(b"refresh-token-value", b"context") != sealed


def test_a_value_moved_to_another_context_does_not_open(keys: KeySet) -> None:
    sealed = keys.seal(b"secret", b"authplug token\x00alice")

    with pytest.raises(UndecryptableValue, match="integrity check") as caught:
        keys.open(
            sealed, b"authplug token\x00mallory", what="token record 'm'", key="m"
        )

    assert caught.value.key == "m"
    assert "token record 'm'" in str(caught.value)


def test_an_altered_value_does_not_open(keys: KeySet) -> None:
    sealed = bytearray(keys.seal(b"secret", b"c"))
    sealed[-1] ^= 0x01

    with pytest.raises(UndecryptableValue, match="altered"):
        keys.open(bytes(sealed), b"c", what="token record 'k'", key="k")


@pytest.mark.parametrize("junk", [b"", b"\x01short", b"\x02" + b"x" * 60, b"plain"])
def test_something_never_sealed_is_called_corrupt(keys: KeySet, junk: bytes) -> None:
    with pytest.raises(UndecryptableValue, match="not a value authplug sealed"):
        keys.open(junk, b"c", what="token record 'k'", key="k")


def test_a_value_sealed_with_another_key_names_that_key_not_its_text(
    keys: KeySet, store_key: str
) -> None:
    other_text = generate_key()
    other = KeySet.from_keys(other_text)
    sealed = other.seal(b"secret", b"c")

    with pytest.raises(UndecryptableValue) as caught:
        keys.open(sealed, b"c", what="token record 'k'", key="k")

    message = str(caught.value)
    assert other.primary_id in message
    assert caught.value.key_id == other.primary_id
    assert other_text not in message and store_key not in message
    assert "AUTHPLUG_STORE_KEY" in message


def test_old_keys_still_open_what_they_sealed() -> None:
    old_text, new_text = generate_key(), generate_key()
    sealed_before = KeySet.from_keys(old_text).seal(b"secret", b"c")

    rotated = KeySet.from_keys(new_text, [old_text])
    sealed_after = rotated.seal(b"secret", b"c")

    assert rotated.open(sealed_before, b"c", what="v", key="k") == b"secret"
    assert not rotated.is_current(sealed_before)
    assert rotated.is_current(sealed_after)
    assert rotated.key_ids == [key_id_of(new_text), key_id_of(old_text)]


def key_id_of(text: str) -> str:
    return KeySet.from_keys(text).primary_id


def test_key_ids_depend_on_the_key_only() -> None:
    material = bytes(range(32))

    assert key_id(material) == key_id(bytes(range(32)))
    assert key_id(material) != key_id(bytes(range(1, 33)))


@pytest.mark.parametrize(
    "bad",
    ["", "short", "not base64 at all !!!!", generate_key()[:-8], "A" * 44 + "AAAA"],
)
def test_a_bad_key_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(NoStoreKey, match="old store key #2") as caught:
        KeySet.from_keys(generate_key(), [generate_key(), bad])

    if bad:
        assert bad not in str(caught.value)
    assert "authplug store new-key" in str(caught.value)


def test_keys_come_from_the_environment() -> None:
    new_text, old_text = generate_key(), generate_key()
    sealed = KeySet.from_keys(old_text).seal(b"v", b"c")

    keys = load_keys(
        {"AUTHPLUG_STORE_KEY": new_text, "AUTHPLUG_STORE_OLD_KEYS": f" {old_text} ,"}
    )

    assert keys.source == "environment"
    assert keys.primary_id == key_id_of(new_text)
    assert keys.open(sealed, b"c", what="v", key="k") == b"v"


def test_no_key_anywhere_says_how_to_set_one() -> None:
    # The store tests run with keyring's "fail" backend: no keyring at all.
    with pytest.raises(NoStoreKey) as caught:
        load_keys({})

    message = str(caught.value)
    assert "AUTHPLUG_STORE_KEY" in message
    assert "authplug store new-key" in message
    assert "not available" in message


def test_keys_come_from_the_keyring(memory_keyring: MemoryKeyring) -> None:
    text = generate_key()
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_STORE_KEY, text)

    keys = load_keys({})

    assert keys.source == "keyring"
    assert keys.primary_id == key_id_of(text)


def test_the_environment_wins_over_the_keyring(memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(KEYRING_SERVICE, KEYRING_STORE_KEY, generate_key())
    text = generate_key()

    keys = load_keys({"AUTHPLUG_STORE_KEY": text})

    assert keys.primary_id == key_id_of(text)


def test_an_empty_keyring_is_named_in_the_error(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(NoStoreKey, match="holds no authplug store key"):
        load_keys({})


def test_saving_a_new_key_keeps_the_old_one_readable(
    memory_keyring: MemoryKeyring,
) -> None:
    first, second = generate_key(), generate_key()
    assert save_key_to_keyring(first) is None
    sealed = load_keys({}).seal(b"v", b"c")

    replaced = save_key_to_keyring(second)
    keys = load_keys({})

    assert replaced == key_id_of(first)
    assert keys.primary_id == key_id_of(second)
    assert keys.open(sealed, b"c", what="v", key="k") == b"v"
    assert memory_keyring.passwords[(KEYRING_SERVICE, KEYRING_OLD_KEYS)] == first


def test_saving_to_a_missing_keyring_says_what_to_do() -> None:
    with pytest.raises(NoStoreKey, match="AUTHPLUG_STORE_KEY"):
        save_key_to_keyring(generate_key())


def test_without_the_keyring_package_the_error_says_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)

    with pytest.raises(NoStoreKey, match=r"authplug\[keyring\]"):
        load_keys({})


def test_without_cryptography_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        sys.modules, "cryptography.hazmat.primitives.ciphers.aead", None
    )

    with pytest.raises(MissingDependency, match=r"authplug\[store\]"):
        KeySet.from_keys(generate_key())


def test_a_key_source_looks_once_and_only_when_asked(keys: KeySet) -> None:
    calls: list[int] = []
    barrier = threading.Barrier(8)

    def find() -> KeySet:
        calls.append(1)
        return keys

    source = KeySource(find)
    assert calls == []

    def use() -> None:
        barrier.wait()
        assert source.get() is keys

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert calls == [1]


def test_reprs_show_fingerprints_only(keys: KeySet, store_key: str) -> None:
    shown = repr(keys) + repr(KeySource(keys))

    assert store_key not in shown
    assert keys.primary_id in shown
