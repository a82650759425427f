"""Commands that keep credentials in a token store: connect, list, remove, token.

Every command takes ``--store URL``; without it, ``AUTHPLUG_STORE``, and
without that the default SQLite file (``sqlite://``, in the user's data
directory). Secrets in the store are encrypted with the store key (see
:mod:`authplug.stores.crypto`): ``AUTHPLUG_STORE_KEY``, or the system
keyring. ``authplug store`` holds the commands for the key itself.

Nothing here prints a secret unless asked: ``token --reveal`` prints the
access token, and ``store new-key`` prints the key it made, since that is
what it is for.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import click

from authplug.cli._common import (
    current_registry,
    fail,
    note,
    print_json,
    print_table,
    read_credentials_arg,
    warn,
)
from authplug.errors import ReauthorizationRequired
from authplug.lifecycle import (
    Exchange,
    Issued,
    Lifecycle,
    RenewableFlow,
    credential_key,
)
from authplug.records import Credentials
from authplug.secret import MASK
from authplug.stores.base import TokenRecord
from authplug.stores.crypto import (
    KEY_ENV,
    OLD_KEYS_ENV,
    NoStoreKey,
    generate_key,
    load_keys,
    save_key_to_keyring,
)
from authplug.stores.durable import DurableStore, SavedEntry, check_name
from authplug.stores.urls import STORE_ENV, default_store_url, open_store

__all__ = [
    "check_connection_target",
    "connect",
    "list_saved",
    "remove",
    "save_connection",
    "store_group",
    "token",
]

_TOKEN_TIMEOUT = 30.0

store_option = click.option(
    "--store",
    "store_url",
    metavar="URL",
    help=f"The token store: sqlite:///path.db, redis://host:6379/0, ... "
    f"(default: ${STORE_ENV}, else sqlite:// in the user's data directory).",
)


# -- helpers ------------------------------------------------------------------


@contextlib.contextmanager
def opened(url: str | None) -> Iterator[DurableStore]:
    """Open the store the command was pointed at, and close it after."""
    chosen = url or default_store_url()
    store = open_store(chosen, registry=current_registry())
    if not isinstance(store, DurableStore):
        fail(
            f"{chosen.partition('://')[0]}:// keeps nothing once the command "
            "ends; use sqlite:// (the default) or redis://host:6379/0"
        )
    try:
        yield store
    finally:
        store.close()


def _ensure_key(store: DurableStore) -> None:
    """Check that the store has a key; make one in the keyring for a new store.

    A key is made only when none is set anywhere and the store is empty,
    so existing secrets are never put out of reach of their key.
    """
    try:
        store.store_keys()
        return
    except NoStoreKey as missing:
        if os.environ.get(KEY_ENV, "").strip() or store.entries() or store.keys():
            raise
        reason = missing

    try:
        save_key_to_keyring(generate_key())
    except NoStoreKey:
        raise reason from None
    keys = store.store_keys()
    note(
        f"made a new store key ({keys.primary_id}) and saved it in the system "
        f"keyring; processes without that keyring need it in {KEY_ENV}"
    )


def _send(exchange: Exchange[Any]) -> Any:
    import httpx2

    from authplug.adapters import httpx2 as httpx2_adapter

    with httpx2.Client(timeout=_TOKEN_TIMEOUT) as client:
        return httpx2_adapter.run(exchange, client)


def _human(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def _expiry(expires_at: float | None, now: float) -> str:
    if expires_at is None:
        return "valid, expiry unknown"
    left = expires_at - now
    if left > 0:
        return f"valid for {_human(left)}"
    return f"expired {_human(left)} ago"


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    moment = dt.datetime.fromtimestamp(when, tz=dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _renewable(type_name: str) -> bool:
    flow = current_registry().get(type_name).flow
    return isinstance(flow, type) and issubclass(flow, RenewableFlow)


def _state(entry: SavedEntry, now: float) -> str:
    if entry.problem is not None:
        return f"unreadable: remove it and connect again ({entry.problem})"
    if entry.type not in current_registry():
        return "unknown type: is its plugin installed?"
    if not _renewable(entry.type):
        return "static (in the credentials)"
    if not entry.has_tokens:
        return "no token yet"
    return _expiry(entry.expires_at, now)


def _authorize_hint(what: str) -> str:
    return (
        f"{what} need a user's consent first: run 'authplug authorize FILE "
        "--save' to put the user's tokens in the file"
    )


# -- connect ------------------------------------------------------------------


def _first_tokens(flow: RenewableFlow[Any, Any], file: Path) -> TokenRecord:
    """Return the tokens to start with: the file's if fresh, else a grant's."""
    seed = flow.seed()
    if seed is not None and flow.is_fresh(seed, 0.0):
        return seed
    try:
        issued = cast(Issued, _send(flow.renew(seed)))
    except ReauthorizationRequired as err:
        if seed is None:
            raise ReauthorizationRequired(
                _authorize_hint(f"{flow.credentials.type.name} credentials in {file}")
                + ", then connect again",
                error=err.error,
                status_code=err.status_code,
            ) from err
        raise
    return issued.record


def _refuse_taken(store: DurableStore, name: str, replace: bool) -> SavedEntry | None:
    existing = store.entry(name)
    if existing is not None and not replace:
        fail(
            f"{name!r} is already saved in {store.url}; pass --replace to "
            f"replace it, or 'authplug remove {name}' first"
        )
    return existing


def check_connection_target(name: str, store_url: str | None, replace: bool) -> None:
    """Check that credentials could be saved as ``name`` before getting them.

    For commands whose credentials cost the user something to get (a
    browser approval), so that a taken name or a missing store key shows
    before that, not after.
    """
    check_name(name)
    with opened(store_url) as store:
        _refuse_taken(store, name, replace)
        _ensure_key(store)


def save_connection(
    name: str,
    credentials: Credentials[Any, Any],
    *,
    source: Path,
    store_url: str | None,
    replace: bool,
) -> None:
    """Save ``credentials`` and their first tokens as ``name``; say so.

    Args:
        name: The name to save them under.
        credentials: Valid credentials; tokens they hold are used if fresh.
        source: The file they came from, named in messages.
        store_url: The store; the default store if None.
        replace: Replace credentials already saved as ``name``.
    """
    check_name(name)
    if credentials.auth_id is None:
        # The auth id is the store key of the tokens: naming it after the
        # connection lets any program that loads these credentials share them.
        credentials = attrs.evolve(credentials, auth_id=name)
    flow = credentials.flow()
    token_key = (
        credential_key(flow)
        if isinstance(flow, RenewableFlow)
        else (f"auth_id:{credentials.auth_id}")
    )

    with opened(store_url) as store:
        existing = _refuse_taken(store, name, replace)
        _ensure_key(store)

        summary = "no tokens to keep"
        if isinstance(flow, RenewableFlow):
            record = _first_tokens(flow, source)
            stored = store.put(token_key, record, expected_version=None)
            summary = f"access token {_expiry(stored.expires_at, flow.clock())}"
        store.save_credentials(name, credentials, token_key=token_key)

    verb = "Replaced" if existing is not None else "Saved"
    click.echo(
        f"{verb} {credentials.type.name} credentials as {name!r} in {store.url} "
        f"({summary})"
    )


@click.command()
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--type",
    "type_name",
    metavar="NAME",
    help="The auth type, for files that name none.",
)
@click.option(
    "--replace", is_flag=True, help="Replace credentials already saved as NAME."
)
@store_option
def connect(
    name: str, file: Path, type_name: str | None, replace: bool, store_url: str | None
) -> None:
    """Check the credentials in FILE, get their first tokens, and save them as NAME.

    Types with a grant of their own (client credentials, password) run it
    now, so a bad secret shows at once. For the authorization code grant,
    FILE must already hold the user's tokens (see 'authplug authorize');
    a stale access token is refreshed now. From then on the store holds
    the current tokens: a refresh token left in FILE may have been spent.
    Credentials whose secrets never change (token, basic, oauth1) are
    saved as they are.
    """
    check_name(name)
    credentials = read_credentials_arg(file, type_name).credentials
    save_connection(
        name, credentials, source=file, store_url=store_url, replace=replace
    )


# -- list and remove ------------------------------------------------------------


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@store_option
def list_saved(as_json: bool, store_url: str | None) -> None:
    """List the saved credentials: name, type and token state, no secrets."""
    import time

    with opened(store_url) as store:
        entries = store.entries()
        where = store.url
    now = time.time()

    if as_json:
        print_json(
            [
                {
                    "name": entry.name,
                    "type": entry.type,
                    "token": _state(entry, now),
                    "expires_at": _iso(entry.expires_at),
                    "saved_at": _iso(entry.updated_at),
                }
                for entry in entries
            ]
        )
        return
    rows = [(entry.name, entry.type, _state(entry, now)) for entry in entries]
    print_table(("Name", "Type", "Token"), rows, title=f"Saved in {where}")


@click.command()
@click.argument("name")
@store_option
def remove(name: str, store_url: str | None) -> None:
    """Forget the credentials saved as NAME, and their tokens.

    Tokens are forgotten here only; the service still honours them until
    they expire or are revoked there.
    """
    check_name(name)
    with opened(store_url) as store:
        removed = store.remove_credentials(name)
        where = store.url
    if not removed:
        fail(f"nothing is saved as {name!r} in {where}; 'authplug list' shows what is")
    click.echo(f"Removed {name!r} from {where}")


# -- token --------------------------------------------------------------------


def _saved_token(
    name: str, store_url: str | None
) -> tuple[Credentials[Any, Any], TokenRecord | None]:
    check_name(name)
    with opened(store_url) as store:
        entry = store.entry(name)
        if entry is None:
            fail(
                f"{name!r} is neither a file nor saved in {store.url}; "
                "'authplug list' shows what is saved"
            )
        credentials = store.load_credentials(name, registry=current_registry())
        flow = credentials.flow()
        if not isinstance(flow, RenewableFlow):
            return credentials, None

        lifecycle = Lifecycle(flow, store, key=entry.token_key)
        view = lifecycle.current()
        if view is None:
            renewal = cast(Exchange[Any], lifecycle.renew_sync(lifecycle.stale()))
            view = _send(renewal)
        return credentials, view.record


def _file_token(file: Path) -> tuple[Credentials[Any, Any], TokenRecord | None]:
    credentials = read_credentials_arg(file).credentials
    flow = credentials.flow()
    if not isinstance(flow, RenewableFlow):
        return credentials, None

    try:
        # The flow's own grant, never the file's refresh token: a rotated
        # refresh token would have nowhere to go but this process.
        issued = cast(Issued, _send(flow.renew(None)))
    except ReauthorizationRequired as err:
        seed = flow.seed()
        if seed is not None and flow.is_fresh(seed, 0.0):
            return credentials, seed
        raise ReauthorizationRequired(
            _authorize_hint(f"{credentials.type.name} credentials in {file}")
            + "; or save them with 'authplug connect NAME FILE', which keeps "
            "each refreshed token",
            error=err.error,
            status_code=err.status_code,
        ) from err
    return credentials, issued.record


def _static_token(credentials: Credentials[Any, Any]) -> TokenRecord:
    value = getattr(credentials.user, "access_token", None)
    if value is None:
        fail(f"{credentials.type.name} credentials hold no access token")
    return TokenRecord(access_token=value)


@click.command()
@click.argument("name_or_file", metavar="NAME_OR_FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--reveal", is_flag=True, help="Print the access token itself.")
@store_option
def token(
    name_or_file: str, as_json: bool, reveal: bool, store_url: str | None
) -> None:
    """Print the current access token of saved credentials or a FILE.

    For a saved NAME the token is renewed first if it is stale, and the
    renewed tokens are saved. For a FILE the type's grant is run against
    its token endpoint (client credentials, password) and the issued token
    printed; nothing is saved. The token is masked unless --reveal.
    """
    import time

    path = Path(name_or_file)
    if path.is_file():
        credentials, record = _file_token(path)
    else:
        credentials, record = _saved_token(name_or_file, store_url)
    if record is None:
        record = _static_token(credentials)
    if record.access_token is None:
        fail(f"{credentials.type.name} credentials have no access token yet")

    value = record.access_token.reveal() if reveal else MASK
    now = time.time()
    if as_json:
        print_json(
            {
                "access_token": value,
                "token_type": record.token_type,
                "expires_at": _iso(record.expires_at),
                "expires_in": (
                    None
                    if record.expires_at is None
                    else round(record.expires_at - now)
                ),
                "scopes": list(record.scopes),
                "has_refresh_token": record.refresh_token is not None,
            }
        )
        return
    if reveal:
        click.echo(value)
        return
    print_table(
        ("Field", "Value"),
        [
            ("access_token", value),
            ("token_type", record.token_type),
            ("state", _expiry(record.expires_at, now)),
            ("scopes", " ".join(record.scopes) or "-"),
        ],
    )
    note("the token is masked; pass --reveal to print it")


# -- the store key ------------------------------------------------------------------


@click.group("store")
def store_group() -> None:
    """Look after the token store and its encryption key."""


@store_group.command("new-key")
@click.option(
    "--keyring",
    "to_keyring",
    is_flag=True,
    help="Save the key in the system keyring (the old one is kept for reading) "
    "instead of printing it.",
)
def new_key(to_keyring: bool) -> None:
    """Make a new store key.

    Without --keyring it is printed, for AUTHPLUG_STORE_KEY:

        export AUTHPLUG_STORE_KEY="$(authplug store new-key)"

    To rotate, move the current key to AUTHPLUG_STORE_OLD_KEYS, set the new
    one, and run 'authplug store rotate-key'.
    """
    text = generate_key()
    if not to_keyring:
        click.echo(text)
        note(
            f"keep this key safe: whoever has it and the store can read every "
            f"token; set it as {KEY_ENV}"
        )
        return

    replaced = save_key_to_keyring(text)
    created = load_keys({}).primary_id
    message = f"saved new store key {created} in the system keyring"
    if replaced is not None:
        message += (
            f"; the previous key {replaced} still opens what it sealed. Run "
            "'authplug store rotate-key' to re-encrypt everything"
        )
    click.echo(message)


@store_group.command("rotate-key")
@store_option
def rotate_key(store_url: str | None) -> None:
    """Re-encrypt every secret in the store with the current key.

    The current key is AUTHPLUG_STORE_KEY (or the keyring's); the keys in
    AUTHPLUG_STORE_OLD_KEYS (or the keyring's old keys) open what they
    sealed. Afterwards the old keys may go.
    """
    with opened(store_url) as chosen:
        report = chosen.rotate_key()
        where = chosen.url

    click.echo(
        f"Re-encrypted {report.resealed} value(s) in {where} with key "
        f"{report.key_id}; {report.current} already used it"
    )
    for problem in report.failed:
        warn(problem)
    if report.failed:
        fail(
            f"{len(report.failed)} value(s) could not be opened with any key "
            "given; set the key that sealed them in "
            f"{OLD_KEYS_ENV} and run this again, or remove them"
        )
    if report.resealed:
        note(f"the old keys are no longer needed by {where}")


@store_group.command("info")
@store_option
def info(store_url: str | None) -> None:
    """Show which store and key the commands use, without secrets."""
    with opened(store_url) as chosen:
        names = len(chosen.entries())
        records = len(chosen.keys())
        try:
            keys = chosen.store_keys()
            key = f"{keys.primary_id} (from the {keys.source})"
        except NoStoreKey as missing:
            key = f"none: {missing}"
        where = chosen.url

    print_table(
        ("Field", "Value"),
        [
            ("store", where),
            ("saved credentials", str(names)),
            ("token records", str(records)),
            ("key", key),
        ],
    )
