"""What both durable stores promise beyond the TokenStore interface.

Saved credentials, a listing without secrets, key rotation, and clear
errors for corrupt or undecryptable entries that leave the others alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import authplug
from authplug.stores import RedisStore, SQLiteStore, StoreError, TokenRecord
from authplug.stores.crypto import KeySet, UndecryptableValue, generate_key
from authplug.stores.durable import DurableStore

CLIENT_SECRET = "client-secret-value-1"
ACCESS = "access-token-value-1"
REFRESH = "refresh-token-value-1"


def credentials(client_id: str = "svc") -> Any:
    return authplug.load(
        {
            "type": "oauth2.client_credentials",
            "auth_id": client_id,
            "app": {
                "client_id": client_id,
                "client_secret": CLIENT_SECRET,
                "token_url": "https://auth.example.com/token",
                "scopes": ["read"],
            },
            "user": {},
        }
    )


def tokens(access: str = ACCESS) -> TokenRecord:
    return TokenRecord(access_token=access, refresh_token=REFRESH, expires_at=2e9)


def reopen(store: DurableStore, keys: KeySet | Callable[[], KeySet]) -> DurableStore:
    """Open the same data again with other keys."""
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path, keys=keys)
    assert isinstance(store, RedisStore)
    return RedisStore(store._client_url, keys=keys, prefix=store.prefix)


def rewrite_sealed(
    store: DurableStore, key: str, change: Callable[[bytes], bytes]
) -> None:
    """Replace the sealed bytes of a token record behind the store's back."""
    if isinstance(store, SQLiteStore):
        (sealed,) = store._db.execute(
            "SELECT sealed FROM tokens WHERE key = ?", (key,)
        ).fetchone()
        store._db.execute(
            "UPDATE tokens SET sealed = ? WHERE key = ?", (change(sealed), key)
        )
        return
    assert isinstance(store, RedisStore)
    name = store._token_name(key)
    version, expires, sealed = store._client.get(name).split(b":", 2)
    store._client.set(name, b":".join([version, expires, change(sealed)]))


def flip_last_byte(sealed: bytes) -> bytes:
    return sealed[:-1] + bytes([sealed[-1] ^ 1])


# -- saved credentials ----------------------------------------------------------


def test_saved_credentials_load_back_validated(durable_store: DurableStore) -> None:
    durable_store.save_credentials("crm", credentials(), token_key="auth_id:svc")

    loaded = durable_store.load_credentials("crm")

    assert loaded == credentials()
    assert loaded.app.client_secret.reveal() == CLIENT_SECRET


def test_saving_again_replaces(durable_store: DurableStore) -> None:
    durable_store.save_credentials("crm", credentials("one"), token_key="auth_id:one")

    durable_store.save_credentials("crm", credentials("two"), token_key="auth_id:two")

    assert durable_store.load_credentials("crm").app.client_id == "two"
    assert [entry.token_key for entry in durable_store.entries()] == ["auth_id:two"]


def test_missing_credentials_say_how_to_find_them(durable_store: DurableStore) -> None:
    assert durable_store.load_document("nope") is None

    with pytest.raises(StoreError, match="authplug list"):
        durable_store.load_credentials("nope")


@pytest.mark.parametrize("name", ["", "has space", "x" * 200, "-leading", "a/b"])
def test_bad_names_are_refused(durable_store: DurableStore, name: str) -> None:
    with pytest.raises(StoreError, match="cannot name saved credentials"):
        durable_store.save_credentials(name, credentials(), token_key="k")


def test_the_listing_shows_type_and_expiry_and_no_secret(
    durable_store: DurableStore,
) -> None:
    durable_store.save_credentials("b-crm", credentials("b"), token_key="auth_id:b")
    durable_store.save_credentials("a-erp", credentials("a"), token_key="auth_id:a")
    durable_store.put("auth_id:b", tokens(), expected_version=0)

    entries = durable_store.entries()

    assert [entry.name for entry in entries] == ["a-erp", "b-crm"]
    assert [entry.type for entry in entries] == ["oauth2.client_credentials"] * 2
    assert [entry.has_tokens for entry in entries] == [False, True]
    assert [entry.expires_at for entry in entries] == [None, 2e9]
    shown = repr(entries)
    for secret in (CLIENT_SECRET, ACCESS, REFRESH):
        assert secret not in shown


def test_the_listing_needs_no_key(durable_store: DurableStore) -> None:
    durable_store.save_credentials("crm", credentials(), token_key="auth_id:svc")
    durable_store.put("auth_id:svc", tokens(), expected_version=0)

    def no_key() -> KeySet:
        raise AssertionError("the listing asked for a key")

    without_key = reopen(durable_store, no_key)
    entries = without_key.entries()
    without_key.close()

    assert [entry.name for entry in entries] == ["crm"]


def test_removing_forgets_the_credentials_and_their_tokens(
    durable_store: DurableStore,
) -> None:
    durable_store.save_credentials("crm", credentials(), token_key="auth_id:svc")
    durable_store.put("auth_id:svc", tokens(), expected_version=0)

    removed = durable_store.remove_credentials("crm")
    again = durable_store.remove_credentials("crm")

    assert (removed, again) == (True, False)
    assert durable_store.load_document("crm") is None
    assert durable_store.get("auth_id:svc") is None


def test_tokens_shared_by_two_names_stay_until_the_last_goes(
    durable_store: DurableStore,
) -> None:
    durable_store.save_credentials("one", credentials(), token_key="auth_id:svc")
    durable_store.save_credentials("two", credentials(), token_key="auth_id:svc")
    durable_store.put("auth_id:svc", tokens(), expected_version=0)

    durable_store.remove_credentials("one")
    kept = durable_store.get("auth_id:svc")
    durable_store.remove_credentials("two")

    assert kept is not None
    assert durable_store.get("auth_id:svc") is None


# -- broken entries -----------------------------------------------------------


def test_an_altered_record_names_its_key_and_spares_the_others(
    durable_store: DurableStore, keys: KeySet
) -> None:
    durable_store.put("alice", tokens("alice-token"), expected_version=0)
    durable_store.put("bob", tokens("bob-token"), expected_version=0)
    rewrite_sealed(durable_store, "alice", flip_last_byte)

    with pytest.raises(StoreError) as caught:
        reopen(durable_store, keys).get("alice")
    bob = durable_store.get("bob")

    message = str(caught.value)
    assert "'alice'" in message and "integrity check" in message
    assert caught.value.key == "alice"
    assert "alice-token" not in message and REFRESH not in message
    assert bob is not None and bob.access_token is not None
    assert bob.access_token.reveal() == "bob-token"


def test_a_record_copied_onto_another_key_does_not_open(
    durable_store: DurableStore,
) -> None:
    durable_store.put("alice", tokens("alice-token"), expected_version=0)
    durable_store.put("mallory", tokens("mallory-token"), expected_version=0)
    alice_sealed: list[bytes] = []

    def copy(sealed: bytes) -> bytes:
        alice_sealed.append(sealed)
        return sealed

    rewrite_sealed(durable_store, "alice", copy)
    rewrite_sealed(durable_store, "mallory", lambda _: alice_sealed[0])

    with pytest.raises(UndecryptableValue, match="'mallory'"):
        durable_store.get("mallory")


def test_garbage_in_a_record_is_called_corrupt(durable_store: DurableStore) -> None:
    durable_store.put("k", tokens(), expected_version=0)

    rewrite_sealed(durable_store, "k", lambda _: b"garbage")

    with pytest.raises(StoreError, match=r"'k'.*not a value authplug sealed"):
        durable_store.get("k")


def test_a_record_sealed_under_another_key_says_which_key(
    durable_store: DurableStore, keys: KeySet
) -> None:
    durable_store.put("k", tokens(), expected_version=0)
    other_key = generate_key()
    stranger = reopen(durable_store, KeySet.from_keys(other_key))

    with pytest.raises(UndecryptableValue) as caught:
        stranger.get("k")
    stranger.close()

    message = str(caught.value)
    assert keys.primary_id in message
    assert other_key not in message
    assert "AUTHPLUG_STORE_OLD_KEYS" in message


def test_a_broken_record_can_be_written_over(durable_store: DurableStore) -> None:
    durable_store.put("k", tokens(), expected_version=0)
    rewrite_sealed(durable_store, "k", lambda _: b"garbage")

    durable_store.put("k", tokens("fresh"), expected_version=None)
    found = durable_store.get("k")

    assert found is not None and found.access_token is not None
    assert found.access_token.reveal() == "fresh"


def test_saved_credentials_that_do_not_open_are_named(
    durable_store: DurableStore,
) -> None:
    durable_store.save_credentials("crm", credentials(), token_key="auth_id:svc")
    stranger = reopen(durable_store, KeySet.from_keys(generate_key()))

    with pytest.raises(UndecryptableValue, match="saved credentials 'crm'") as caught:
        stranger.load_credentials("crm")
    stranger.close()

    assert CLIENT_SECRET not in str(caught.value)


# -- rotation -----------------------------------------------------------------


def test_rotating_reseals_everything_under_the_new_key(
    durable_store: DurableStore, store_key: str
) -> None:
    durable_store.save_credentials("crm", credentials(), token_key="auth_id:svc")
    durable_store.put("auth_id:svc", tokens(), expected_version=0)
    durable_store.put("other", tokens("other"), expected_version=0)
    new_key = generate_key()

    rotating = reopen(durable_store, KeySet.from_keys(new_key, [store_key]))
    report = rotating.rotate_key()
    again = rotating.rotate_key()
    rotating.close()
    only_new = reopen(durable_store, KeySet.from_keys(new_key))
    found = only_new.get("auth_id:svc")
    loaded = only_new.load_credentials("crm")
    only_new.close()

    assert (report.resealed, report.current, report.failed) == (3, 0, ())
    assert report.key_id == KeySet.from_keys(new_key).primary_id
    assert (again.resealed, again.current) == (0, 3)
    assert found is not None and found.version == 1  # versions unchanged
    assert loaded.app.client_secret.reveal() == CLIENT_SECRET


def test_rotating_reports_what_no_key_opens_and_does_the_rest(
    durable_store: DurableStore, store_key: str
) -> None:
    durable_store.put("good", tokens(), expected_version=0)
    stranger = reopen(durable_store, KeySet.from_keys(generate_key()))
    stranger.put("lost", tokens("lost-token"), expected_version=0)
    stranger.close()
    new_key = generate_key()

    rotating = reopen(durable_store, KeySet.from_keys(new_key, [store_key]))
    report = rotating.rotate_key()
    rotating.close()

    assert report.resealed == 1
    assert len(report.failed) == 1
    assert "'lost'" in report.failed[0]
    assert "lost-token" not in report.failed[0]
