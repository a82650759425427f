"""What the durable stores (SQLite, Redis) share beyond the TokenStore interface.

- :class:`RecordCodec` turns token records into sealed bytes and back, and
  remembers the last record it opened per key, so a record is decrypted
  only when the stored value changed.
- :class:`DurableStore` adds saved credentials (the document itself, under
  a name, for ``authplug connect``), a listing without secrets, and key
  rotation.
"""

from __future__ import annotations

import json
import re
import threading
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from attrs import frozen

from authplug.stores.base import StoreError, TokenRecord, TokenStore
from authplug.stores.crypto import KeySet, KeySource

if TYPE_CHECKING:
    from authplug.records import Credentials
    from authplug.registry import Registry

__all__ = [
    "DurableStore",
    "RecordCodec",
    "RotationReport",
    "SavedEntry",
    "check_name",
    "credentials_context",
    "token_context",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$")


def check_name(name: object) -> str:
    """Return ``name`` if it can name saved credentials, else raise StoreError."""
    if not isinstance(name, str) or not _NAME.match(name):
        shown = name if isinstance(name, str) else type(name).__name__
        raise StoreError(
            f"{shown!r} cannot name saved credentials: use up to 128 letters, "
            "digits and . _ - @ :, starting with a letter or digit"
        )
    return name


def token_context(key: str) -> bytes:
    """Return what a token record under ``key`` is sealed to."""
    return b"authplug token\x00" + key.encode("utf-8")


def credentials_context(name: str) -> bytes:
    """Return what the credentials saved as ``name`` are sealed to."""
    return b"authplug credentials\x00" + name.encode("utf-8")


class RecordCodec:
    """Seal token records for storage and open them, caching by version.

    The cache keeps, per key, the version and sealed bytes last seen with
    the record they hold; reading the same version and bytes again costs a
    comparison instead of a decryption.

    Args:
        keys: Where the store keys come from.
        where: The store, described for messages.
    """

    def __init__(self, keys: KeySource, where: str) -> None:
        self.keys = keys
        self.where = where
        self._opened: dict[str, tuple[int, bytes, TokenRecord]] = {}
        self._guard = threading.Lock()

    def seal(self, key: str, record: TokenRecord) -> bytes:
        """Return ``record`` (without its version) as sealed bytes."""
        text = json.dumps(record.to_data(), separators=(",", ":"))
        return self.keys.get().seal(text.encode("utf-8"), token_context(key))

    def remember(
        self, key: str, version: int, sealed: bytes, record: TokenRecord
    ) -> None:
        """Note that ``sealed`` at ``version`` holds ``record``."""
        with self._guard:
            self._opened[key] = (version, sealed, record)

    def forget(self, key: str) -> None:
        """Drop the cached record of ``key``."""
        with self._guard:
            self._opened.pop(key, None)

    def open(self, key: str, version: int, sealed: bytes) -> TokenRecord:
        """Return the record ``sealed`` holds, marked with ``version``.

        Raises:
            StoreError: The value cannot be decrypted or is not a token
                record; the message names the key, never a secret.
        """
        cached = self._opened.get(key)
        if cached is not None and cached[0] == version and cached[1] == sealed:
            return cached[2]

        what = f"token record {key!r} in {self.where}"
        plaintext = self.keys.get().open(sealed, token_context(key), what=what, key=key)
        try:
            data = json.loads(plaintext)
        except ValueError as err:
            raise StoreError(f"{what} is not valid JSON", key=key) from err
        record = TokenRecord.from_data(data, version=version, key=key)

        self.remember(key, version, sealed, record)
        return record


def reseal_value(
    keys: KeySet, sealed: bytes, context: bytes, *, what: str, key: str
) -> bytes | None:
    """Return ``sealed`` re-encrypted under the current key, or None if it is."""
    if keys.is_current(sealed):
        return None
    return keys.seal(keys.open(sealed, context, what=what, key=key), context)


@frozen
class SavedEntry:
    """Saved credentials as ``authplug list`` shows them: no secrets.

    Args:
        name: The name they were saved under.
        type: Their auth type's name.
        token_key: The key of their token record.
        has_tokens: Whether a token record is stored.
        expires_at: When the stored access token expires (server clock),
            None when unknown or there is none.
        updated_at: When the credentials were saved, seconds since the epoch.
        problem: Why the entry cannot be used, if it cannot (it is
            corrupt); the other fields are then placeholders.
    """

    name: str
    type: str
    token_key: str
    has_tokens: bool
    expires_at: float | None
    updated_at: float
    problem: str | None = None


@frozen
class RotationReport:
    """What :meth:`DurableStore.rotate_key` did.

    Args:
        key_id: The fingerprint of the key everything is now sealed with.
        resealed: How many values were re-encrypted.
        current: How many already used the current key.
        failed: Descriptions of values no configured key opens.
    """

    key_id: str
    resealed: int
    current: int
    failed: tuple[str, ...] = ()


class DurableStore(TokenStore):
    """A token store that outlives the process and can keep credentials.

    Subclasses keep every secret sealed with the store keys (see
    :mod:`authplug.stores.crypto`).
    """

    url: str
    """The store's URL, with any password masked."""

    _keys: KeySource

    def store_keys(self) -> KeySet:
        """Return the keys the store seals with, finding them if need be.

        Raises:
            NoStoreKey: There is no key; the message says how to set one.
        """
        return self._keys.get()

    @abstractmethod
    def keys(self) -> list[str]:
        """Return every key that holds a token record, sorted."""

    @abstractmethod
    def save_credentials(
        self, name: str, credentials: Credentials[Any, Any], *, token_key: str
    ) -> None:
        """Save the credentials document under ``name``, replacing any.

        Args:
            name: The name to save them under.
            credentials: The validated credentials; dumped with secrets
                revealed and sealed.
            token_key: The key their token record lives under.
        """

    @abstractmethod
    def load_document(self, name: str) -> dict[str, Any] | None:
        """Return the credentials document saved as ``name``, or None."""

    @abstractmethod
    def entries(self) -> list[SavedEntry]:
        """Return every saved credential, sorted by name, without secrets."""

    @abstractmethod
    def remove_credentials(self, name: str) -> bool:
        """Forget the credentials saved as ``name`` and their tokens.

        Returns:
            Whether there was anything to remove.
        """

    @abstractmethod
    def rotate_key(self) -> RotationReport:
        """Re-encrypt every sealed value with the current store key."""

    @abstractmethod
    def close(self) -> None:
        """Release the store's connections and files."""

    def entry(self, name: str) -> SavedEntry | None:
        """Return the listing entry of ``name``, or None."""
        check_name(name)
        for found in self.entries():
            if found.name == name:
                return found
        return None

    def load_credentials(
        self, name: str, *, registry: Registry | None = None
    ) -> Credentials[Any, Any]:
        """Return the credentials saved as ``name``, validated again.

        Raises:
            StoreError: Nothing is saved under ``name``.
            ConfigError: The saved document no longer validates (its
                plugin changed, or is gone).
        """
        document = self.load_document(name)
        if document is None:
            raise StoreError(
                f"no credentials are saved as {name!r} in {self.url}; "
                "'authplug list' shows what is saved, 'authplug connect' saves",
                key=name,
            )
        if registry is None:
            from authplug.registry import registry as default_registry

            registry = default_registry()
        return registry.load(document, source=f"saved credentials {name!r}")

    def __enter__(self) -> DurableStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def dump_document(credentials: Credentials[Any, Any]) -> bytes:
    """Return the credentials as JSON bytes, secrets revealed, for sealing."""
    return json.dumps(credentials.dump(), separators=(",", ":")).encode("utf-8")


def parse_document(plaintext: bytes, *, name: str) -> dict[str, Any]:
    """Return a saved credentials document, or raise StoreError naming it."""
    try:
        document = json.loads(plaintext)
    except ValueError as err:
        raise StoreError(
            f"saved credentials {name!r} are not valid JSON", key=name
        ) from err
    if not isinstance(document, dict):
        raise StoreError(f"saved credentials {name!r} are not a table", key=name)
    return document
