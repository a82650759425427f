"""Encryption at rest for durable token stores: keys, sealing, rotation.

Every secret a durable store writes (token records, saved credentials) is
sealed with AES-256-GCM under a *store key*: 32 random bytes, written as
URL-safe base64. Each sealed value is bound to where it is stored (its
table and key), so a value copied onto another credential does not open.

A sealed value is ``01 | key id (8) | nonce (12) | ciphertext and tag``.
The key id is a fingerprint of the key that sealed it, so a reader picks
the right key at once and can say which key is missing, never the key.

Where keys come from, first match wins:

1. keys given in code (:meth:`KeySet.from_keys`);
2. the environment: ``AUTHPLUG_STORE_KEY`` holds the current key, and
   ``AUTHPLUG_STORE_OLD_KEYS`` (comma separated) older keys still accepted
   for reading;
3. the system keyring through the optional ``keyring`` package (service
   ``authplug``, entries ``store-key`` and ``store-old-keys``).

Rotating: make a new key, set it as ``AUTHPLUG_STORE_KEY`` with the old
one in ``AUTHPLUG_STORE_OLD_KEYS`` (or run ``authplug store new-key
--keyring``, which does the same in the keyring), then run ``authplug
store rotate-key`` to re-seal every value under the new key. After that the
old key may go.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from authplug.errors import MissingDependency
from authplug.stores.base import StoreError

__all__ = [
    "KEYRING_OLD_KEYS",
    "KEYRING_SERVICE",
    "KEYRING_STORE_KEY",
    "KEY_ENV",
    "OLD_KEYS_ENV",
    "KeySet",
    "KeySource",
    "NoStoreKey",
    "UndecryptableValue",
    "generate_key",
    "key_id",
    "load_keys",
    "save_key_to_keyring",
]

logger = logging.getLogger(__name__)

KEY_ENV = "AUTHPLUG_STORE_KEY"
OLD_KEYS_ENV = "AUTHPLUG_STORE_OLD_KEYS"
KEYRING_SERVICE = "authplug"
KEYRING_STORE_KEY = "store-key"
KEYRING_OLD_KEYS = "store-old-keys"

_FORMAT = b"\x01"
_KEY_ID_SIZE = 8
_NONCE_SIZE = 12
_HEADER_SIZE = len(_FORMAT) + _KEY_ID_SIZE + _NONCE_SIZE
_TAG_SIZE = 16
_KEY_SIZE = 32

HOW_TO_SET_A_KEY = (
    f"set {KEY_ENV} to a key made with 'authplug store new-key', or save "
    "one in the system keyring with 'authplug store new-key --keyring'"
)


class NoStoreKey(StoreError):
    """No key to seal or open the store's secrets with."""


class UndecryptableValue(StoreError):
    """A sealed value that no configured key opens.

    Attributes:
        key_id: The fingerprint of the key that sealed it, if readable.
    """

    def __init__(self, message: str, *, key: str | None, key_id: str | None) -> None:
        self.key_id = key_id
        super().__init__(message, key=key)


def generate_key() -> str:
    """Return a new random store key as URL-safe base64 text."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_KEY_SIZE)).decode("ascii")


def key_id(material: bytes) -> str:
    """Return the public fingerprint of a key: 16 hex digits."""
    return _raw_key_id(material).hex()


def _raw_key_id(material: bytes) -> bytes:
    return hashlib.sha256(b"authplug store key id\x00" + material).digest()[
        :_KEY_ID_SIZE
    ]


def _parse_key(text: str, where: str) -> bytes:
    cleaned = text.strip()
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        material = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        material = b""
    if len(material) != _KEY_SIZE:
        # Never quote the value: it may be a real key, mistyped.
        raise NoStoreKey(
            f"{where} is not a store key: expected {_KEY_SIZE} bytes in URL-safe "
            "base64 (44 characters); make one with 'authplug store new-key'"
        )
    return material


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as err:
        raise MissingDependency("encrypting the token store", "store") from err
    return AESGCM


class KeySet:
    """The current store key and the older ones still accepted for reading.

    Args:
        primary: The key new values are sealed with.
        older: Keys that may have sealed existing values.
        source: Where the keys came from, for messages (``environment``).
    """

    def __init__(
        self, primary: bytes, older: Sequence[bytes] = (), *, source: str = "code"
    ) -> None:
        aesgcm = _aesgcm()
        self.source = source
        self.primary_id = key_id(primary)
        self._primary = (_raw_key_id(primary), aesgcm(primary))
        self._by_id: dict[bytes, Any] = {}
        for material in [primary, *older]:
            self._by_id.setdefault(_raw_key_id(material), aesgcm(material))

    @classmethod
    def from_keys(
        cls, primary: str, older: Iterable[str] = (), *, source: str = "code"
    ) -> KeySet:
        """Build a key set from base64 key text.

        Raises:
            NoStoreKey: A key is not 32 bytes of URL-safe base64.
        """
        material = _parse_key(primary, "the store key")
        old = [
            _parse_key(text, f"old store key #{number}")
            for number, text in enumerate(older, start=1)
        ]
        return cls(material, old, source=source)

    @property
    def key_ids(self) -> list[str]:
        """Return the fingerprint of every key, current one first."""
        return [raw.hex() for raw in self._by_id]

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """Encrypt ``plaintext`` under the current key, bound to ``context``."""
        raw_id, aead = self._primary
        nonce = secrets.token_bytes(_NONCE_SIZE)
        header = _FORMAT + raw_id + nonce
        return header + bytes(aead.encrypt(nonce, plaintext, header + context))

    def open(self, sealed: bytes, context: bytes, *, what: str, key: str) -> bytes:
        """Decrypt a value :meth:`seal` made for the same ``context``.

        Args:
            sealed: The stored bytes.
            context: What the value was bound to when sealed.
            what: The value, described for messages (``token record 'x'``).
            key: The store key of the value, for the error.

        Raises:
            UndecryptableValue: No configured key opens it, or it was
                altered; the message names ``what`` and the key id only.
        """
        if (
            not isinstance(sealed, bytes)
            or len(sealed) < _HEADER_SIZE + _TAG_SIZE
            or sealed[:1] != _FORMAT
        ):
            raise UndecryptableValue(
                f"{what} is not a value authplug sealed; the store is corrupt "
                "there. Remove it and save it again",
                key=key,
                key_id=None,
            )

        raw_id = sealed[1 : 1 + _KEY_ID_SIZE]
        aead = self._by_id.get(raw_id)
        if aead is None:
            raise UndecryptableValue(
                f"{what} was encrypted with store key {raw_id.hex()}, which is "
                f"not among the keys configured ({self.source}: "
                f"{', '.join(self.key_ids)}); set that key in {KEY_ENV} or "
                f"{OLD_KEYS_ENV}",
                key=key,
                key_id=raw_id.hex(),
            )

        header = sealed[:_HEADER_SIZE]
        nonce = sealed[1 + _KEY_ID_SIZE : _HEADER_SIZE]
        try:
            return bytes(aead.decrypt(nonce, sealed[_HEADER_SIZE:], header + context))
        except Exception as err:  # cryptography's InvalidTag, by design opaque
            raise UndecryptableValue(
                f"{what} fails its integrity check: it was altered or belongs "
                "elsewhere in the store. Remove it and save it again",
                key=key,
                key_id=raw_id.hex(),
            ) from err

    def is_current(self, sealed: bytes) -> bool:
        """Tell whether ``sealed`` was made with the current key."""
        return sealed[1 : 1 + _KEY_ID_SIZE] == self._primary[0]

    def __repr__(self) -> str:
        return f"KeySet(primary={self.primary_id}, keys={len(self._by_id)})"


def _split_keys(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _keyring_module() -> Any:
    try:
        import keyring
    except ImportError:
        return None
    return keyring


@frozen
class _KeyringRead:
    primary: str | None
    older: list[str]
    problem: str | None


def _read_keyring() -> _KeyringRead:
    keyring = _keyring_module()
    if keyring is None:
        return _KeyringRead(None, [], "install 'authplug[keyring]' to use it")
    try:
        primary = keyring.get_password(KEYRING_SERVICE, KEYRING_STORE_KEY)
        older = keyring.get_password(KEYRING_SERVICE, KEYRING_OLD_KEYS)
    except Exception as err:  # every backend raises its own kind
        return _KeyringRead(None, [], f"it is not available ({type(err).__name__})")
    if primary is None:
        return _KeyringRead(None, [], "it holds no authplug store key")
    return _KeyringRead(primary, _split_keys(older or ""), None)


def load_keys(environ: Mapping[str, str] | None = None) -> KeySet:
    """Return the store keys from the environment, else the system keyring.

    Raises:
        NoStoreKey: Neither has a key; the message says how to set one.
        MissingDependency: ``cryptography`` is not installed.
    """
    env = os.environ if environ is None else environ
    primary = env.get(KEY_ENV, "").strip()
    if primary:
        older = _split_keys(env.get(OLD_KEYS_ENV, ""))
        return KeySet.from_keys(primary, older, source="environment")

    read = _read_keyring()
    if read.primary is not None:
        return KeySet.from_keys(read.primary, read.older, source="keyring")
    raise NoStoreKey(
        f"no key to encrypt the token store: {HOW_TO_SET_A_KEY} (the system "
        f"keyring was tried: {read.problem})"
    )


def save_key_to_keyring(new_key: str) -> str | None:
    """Make ``new_key`` the keyring's store key, keeping the old one readable.

    The previous key joins ``store-old-keys`` first, so a crash between the
    two writes leaves both keys known.

    Returns:
        The fingerprint of the key it replaced, or None if there was none.

    Raises:
        NoStoreKey: The keyring is missing or not usable.
    """
    KeySet.from_keys(new_key)
    keyring = _keyring_module()
    if keyring is None:
        raise NoStoreKey(
            "saving the store key in the system keyring needs the 'keyring' "
            f"package: pip install 'authplug[keyring]'; or set {KEY_ENV}"
        )

    try:
        current = keyring.get_password(KEYRING_SERVICE, KEYRING_STORE_KEY)
        older = _split_keys(
            keyring.get_password(KEYRING_SERVICE, KEYRING_OLD_KEYS) or ""
        )
        replaced = None
        if current:
            replaced = key_id(_parse_key(current, "the keyring's store key"))
            if current not in older:
                older.insert(0, current)
            keyring.set_password(KEYRING_SERVICE, KEYRING_OLD_KEYS, ",".join(older))
        keyring.set_password(KEYRING_SERVICE, KEYRING_STORE_KEY, new_key)
    except StoreError:
        raise
    except Exception as err:
        raise NoStoreKey(
            f"the system keyring is not available ({type(err).__name__}); "
            f"set {KEY_ENV} instead"
        ) from err
    return replaced


class KeySource:
    """Find the store keys on first use, once, for every thread.

    Stores take one of these so that opening a store needs no key: listing
    saved names works without one, and the error about a missing key comes
    only when a secret is read or written.

    Args:
        keys: A key set to use, or a callable that finds one
            (:func:`load_keys` by default).
    """

    def __init__(self, keys: KeySet | Callable[[], KeySet] | None = None) -> None:
        self._keys = keys if isinstance(keys, KeySet) else None
        self._find = load_keys if keys is None or isinstance(keys, KeySet) else keys
        self._guard = threading.Lock()

    def get(self) -> KeySet:
        """Return the key set, finding it on the first call."""
        keys = self._keys
        if keys is not None:
            return keys
        with self._guard:
            if self._keys is None:
                self._keys = self._find()
            return self._keys

    def __repr__(self) -> str:
        state = "unresolved" if self._keys is None else repr(self._keys)
        return f"KeySource({state})"
