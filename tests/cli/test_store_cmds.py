"""The store commands against the real OAuth server: connect, list, remove,
token, and the store key commands; CliRunner, and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import keyring
import keyring.backend
import pytest
from click.testing import CliRunner, Result
from tests.oauth_server import OAuthServer
from tests.stores.environment import private_store_environment

import authplug
from authplug.adapters import httpx2 as httpx2_adapter
from authplug.cli import cli
from authplug.stores import SQLiteStore, TokenRecord
from authplug.stores.crypto import KeySet, generate_key

__all__ = ["private_store_environment"]

CLIENT_SECRET = "basic-secret"
PASSWORD = "alice-password"


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
def store_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = generate_key()
    monkeypatch.setenv("AUTHPLUG_STORE_KEY", key)
    return key


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite://{tmp_path}/tokens.db"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def client_credentials_file(tmp_path: Path, server: OAuthServer) -> Path:
    return write(
        tmp_path / "cc.json",
        {
            "type": "oauth2.client_credentials",
            "app": {
                "client_id": "basic-client",
                "client_secret": CLIENT_SECRET,
                "token_url": server.token_url,
                "scopes": ["read"],
            },
        },
    )


def password_file(tmp_path: Path, server: OAuthServer) -> Path:
    return write(
        tmp_path / "pw.json",
        {
            "type": "oauth2.password",
            "app": {
                "client_id": "basic-client",
                "client_secret": CLIENT_SECRET,
                "token_url": server.token_url,
                "scopes": ["read"],
            },
            "user": {"username": "alice", "password": PASSWORD},
        },
    )


def code_document(server: OAuthServer) -> dict[str, Any]:
    return {
        "type": "oauth2",
        "app": {
            "client_id": "basic-client",
            "client_secret": CLIENT_SECRET,
            "token_url": server.token_url,
            "auth_url": server.authorize_url,
            "redirect_uri": "http://127.0.0.1/callback",
            "scopes": ["read"],
        },
    }


def authorized_code_file(tmp_path: Path, server: OAuthServer) -> Path:
    """Run the code grant as a browser would; write the credentials out."""
    flow = authplug.load(code_document(server)).flow()
    pending = flow.start_authorization()
    location = server.approve(pending.url)
    with httpx2.Client(timeout=10) as client:
        credentials = httpx2_adapter.run(flow.exchange_code(pending, location), client)
    return write(tmp_path / "code.json", credentials.dump())


def assert_no_secret(result: Result, *secrets: str) -> None:
    shown = result.stdout + result.stderr
    for secret in (CLIENT_SECRET, PASSWORD, *secrets):
        assert secret not in shown
    assert "Traceback" not in shown


def stored(store_url: str, store_key: str, key: str) -> TokenRecord:
    path = store_url.removeprefix("sqlite://")
    with SQLiteStore(path, keys=KeySet.from_keys(store_key)) as store:
        found = store.get(key)
    assert found is not None
    return found


def expire(store_url: str, store_key: str, key: str) -> TokenRecord:
    path = store_url.removeprefix("sqlite://")
    with SQLiteStore(path, keys=KeySet.from_keys(store_key)) as store:
        current = store.get(key)
        assert current is not None
        now = time.time()
        store.put(
            key,
            TokenRecord(
                access_token=current.access_token,
                refresh_token=current.refresh_token,
                expires_at=now - 600,
                issued_at=now - 4200,
                scopes=current.scopes,
            ),
            expected_version=current.version,
        )
    return current


# -- connect, list, token -----------------------------------------------------------


def test_connect_runs_the_grant_and_saves_without_showing_secrets(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    file = client_credentials_file(tmp_path, oauth_server)

    result = invoke("connect", "crm", str(file), "--store", store_url)

    assert result.exit_code == 0, result.stderr
    assert "Saved oauth2.client_credentials credentials as 'crm'" in result.stdout
    assert "access token valid for 60m" in result.stdout
    assert oauth_server.token_request_count("client_credentials") == 1
    issued = stored(store_url, store_key, "auth_id:crm")
    assert issued.access_token is not None
    assert oauth_server.is_access_token_active(issued.access_token.reveal())
    assert_no_secret(result, issued.access_token.reveal())


def test_list_shows_names_types_and_token_state(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    invoke(
        "connect",
        "crm",
        str(client_credentials_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )
    static = write(
        tmp_path / "t.json",
        {"type": "token", "user": {"access_token": "static-value-9"}},
    )
    invoke("connect", "api", str(static), "--store", store_url)
    expire(store_url, store_key, "auth_id:crm")

    table = invoke("list", "--store", store_url)
    listed = invoke("list", "--json", "--store", store_url)

    assert table.exit_code == 0
    rows = [line.split(None, 2) for line in table.stdout.splitlines()[2:]]
    assert rows == [
        ["api", "token", "static (in the credentials)"],
        ["crm", "oauth2.client_credentials", "expired 10m ago"],
    ]
    entries = json.loads(listed.stdout)
    assert [entry["name"] for entry in entries] == ["api", "crm"]
    assert entries[1]["expires_at"].endswith("Z")
    assert_no_secret(table, "static-value-9")
    assert_no_secret(listed, "static-value-9")


def test_token_is_masked_unless_revealed_and_the_revealed_one_works(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    invoke(
        "connect",
        "crm",
        str(client_credentials_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )
    issued = stored(store_url, store_key, "auth_id:crm")
    assert issued.access_token is not None

    masked = invoke("token", "crm", "--store", store_url)
    as_json = invoke("token", "crm", "--json", "--store", store_url)
    revealed = invoke("token", "crm", "--reveal", "--store", store_url)

    assert masked.exit_code == as_json.exit_code == revealed.exit_code == 0
    assert "********" in masked.stdout
    assert "--reveal" in masked.stderr
    assert_no_secret(masked, issued.access_token.reveal())
    assert json.loads(as_json.stdout)["access_token"] == "********"
    assert json.loads(as_json.stdout)["scopes"] == ["read"]
    assert_no_secret(as_json, issued.access_token.reveal())
    assert revealed.stdout.strip() == issued.access_token.reveal()
    # No renewal was needed: one token request in all, the connect.
    assert oauth_server.token_request_count() == 1


def test_token_renews_a_stale_token_and_keeps_the_rotated_refresh_token(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    invoke(
        "connect",
        "pw",
        str(password_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )
    before = expire(store_url, store_key, "auth_id:pw")
    assert before.refresh_token is not None

    result = invoke("token", "pw", "--reveal", "--store", store_url)

    after = stored(store_url, store_key, "auth_id:pw")
    assert result.exit_code == 0, result.stderr
    assert oauth_server.token_request_count("refresh_token") == 1
    assert after.access_token is not None and after.refresh_token is not None
    assert result.stdout.strip() == after.access_token.reveal()
    assert oauth_server.is_refresh_token_active(after.refresh_token.reveal())
    assert not oauth_server.is_refresh_token_active(before.refresh_token.reveal())


def test_connect_takes_the_tokens_of_an_authorized_code_file(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    file = authorized_code_file(tmp_path, oauth_server)
    granted = oauth_server.token_request_count()

    result = invoke("connect", "mail", str(file), "--store", store_url)
    expire(store_url, store_key, "auth_id:mail")
    renewed = invoke("token", "mail", "--store", store_url)

    assert result.exit_code == 0, result.stderr
    assert "Saved oauth2 credentials as 'mail'" in result.stdout
    assert renewed.exit_code == 0, renewed.stderr
    assert oauth_server.token_request_count() - granted == 1  # the refresh
    assert_no_secret(result)


def test_connect_without_tokens_for_a_code_grant_says_to_authorize(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    file = write(tmp_path / "code.json", code_document(oauth_server))

    result = invoke("connect", "mail", str(file), "--store", store_url)
    listed = invoke("list", "--json", "--store", store_url)

    assert result.exit_code == 1
    assert "authplug authorize" in result.stderr
    assert oauth_server.token_request_count() == 0
    assert json.loads(listed.stdout) == []
    assert_no_secret(result)


def test_connect_refuses_to_overwrite_unless_told(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    file = client_credentials_file(tmp_path, oauth_server)
    invoke("connect", "crm", str(file), "--store", store_url)

    again = invoke("connect", "crm", str(file), "--store", store_url)
    replaced = invoke("connect", "crm", str(file), "--replace", "--store", store_url)

    assert again.exit_code == 1
    assert "--replace" in again.stderr
    assert replaced.exit_code == 0
    assert "Replaced" in replaced.stdout
    assert oauth_server.token_request_count() == 2


def test_a_bad_file_is_reported_with_its_fields_and_nothing_saved(
    tmp_path: Path, store_url: str, store_key: str
) -> None:
    file = write(
        tmp_path / "bad.json",
        {"type": "oauth2.client_credentials", "app": {"client_id": 5}},
    )

    result = invoke("connect", "crm", str(file), "--store", store_url)

    assert result.exit_code == 1
    assert "app.client_id" in result.stderr
    assert "app.token_url" in result.stderr
    assert_no_secret(result)


def test_a_wrong_client_secret_fails_without_showing_it(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    document = json.loads(client_credentials_file(tmp_path, oauth_server).read_text())
    document["app"]["client_secret"] = "wrong-secret-value"
    file = write(tmp_path / "wrong.json", document)

    result = invoke("connect", "crm", str(file), "--store", store_url)

    assert result.exit_code == 1
    assert "invalid_client" in result.stderr
    assert_no_secret(result, "wrong-secret-value")


def test_static_and_tokenless_types(
    tmp_path: Path, store_url: str, store_key: str
) -> None:
    static = write(
        tmp_path / "t.json",
        {"type": "token", "user": {"access_token": "static-value-9"}},
    )
    basic = write(
        tmp_path / "b.json",
        {"type": "basic", "user": {"username": "u", "password": "basic-pw-7"}},
    )
    invoke("connect", "api", str(static), "--store", store_url)
    invoke("connect", "site", str(basic), "--store", store_url)

    masked = invoke("token", "api", "--store", store_url)
    revealed = invoke("token", "api", "--reveal", "--store", store_url)
    none = invoke("token", "site", "--store", store_url)

    assert masked.exit_code == 0
    assert_no_secret(masked, "static-value-9")
    assert revealed.stdout.strip() == "static-value-9"
    assert none.exit_code == 1
    assert "basic credentials hold no access token" in none.stderr
    assert_no_secret(none, "basic-pw-7")


def test_token_of_a_file_runs_its_grant_and_saves_nothing(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    file = client_credentials_file(tmp_path, oauth_server)

    result = invoke("token", str(file), "--json", "--store", store_url)

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["access_token"] == "********"
    assert oauth_server.token_request_count("client_credentials") == 1
    assert json.loads(invoke("list", "--json", "--store", store_url).stdout) == []


def test_token_of_a_code_file_never_spends_its_refresh_token(
    tmp_path: Path, oauth_server: OAuthServer, store_key: str
) -> None:
    document = json.loads(authorized_code_file(tmp_path, oauth_server).read_text())
    document["user"]["expires_at"] = time.time() - 60
    file = write(tmp_path / "stale.json", document)
    granted = oauth_server.token_request_count()

    result = invoke("token", str(file))

    assert result.exit_code == 1
    assert "authplug connect NAME FILE" in result.stderr
    assert oauth_server.token_request_count() == granted
    assert oauth_server.is_refresh_token_active(document["user"]["refresh_token"])


def test_remove_forgets_and_a_second_remove_says_so(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str, store_key: str
) -> None:
    invoke(
        "connect",
        "crm",
        str(client_credentials_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )

    removed = invoke("remove", "crm", "--store", store_url)
    again = invoke("remove", "crm", "--store", store_url)
    asked = invoke("token", "crm", "--store", store_url)

    assert removed.exit_code == 0 and "Removed 'crm'" in removed.stdout
    assert again.exit_code == 1 and "authplug list" in again.stderr
    assert asked.exit_code == 1 and "neither a file nor saved" in asked.stderr


# -- the store and its key ----------------------------------------------------------


def test_the_default_store_is_the_environment_or_the_user_data_file(
    tmp_path: Path, oauth_server: OAuthServer, store_key: str
) -> None:
    file = client_credentials_file(tmp_path, oauth_server)

    default = invoke("connect", "crm", str(file))
    chosen = invoke("list", env={"AUTHPLUG_STORE": f"sqlite://{tmp_path}/other.db"})

    assert default.exit_code == 0
    assert (tmp_path / "xdg-data" / "authplug" / "tokens.db").exists()
    assert "other.db" in chosen.stdout and "(none)" in chosen.stdout


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://db/x", "known schemes: memory, redis, rediss, sqlite"),
        ("memory://", "keeps nothing once the command ends"),
        ("redis://:hunter2-pw@127.0.0.1:1/0", "redis://:****@127.0.0.1:1/0"),
    ],
)
def test_bad_stores_get_one_clear_line(url: str, message: str, store_key: str) -> None:
    result = invoke("list", "--store", url)

    assert result.exit_code == 1
    assert message in result.stderr
    assert "hunter2-pw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_without_a_key_or_keyring_connect_says_how_to_set_one(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str
) -> None:
    file = client_credentials_file(tmp_path, oauth_server)

    result = invoke("connect", "crm", str(file), "--store", store_url)

    assert result.exit_code == 1
    assert "AUTHPLUG_STORE_KEY" in result.stderr
    assert "authplug store new-key" in result.stderr
    assert oauth_server.token_request_count() == 0


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_the_first_connect_makes_a_key_in_the_keyring(
    tmp_path: Path,
    oauth_server: OAuthServer,
    store_url: str,
    memory_keyring: MemoryKeyring,
) -> None:
    file = client_credentials_file(tmp_path, oauth_server)

    first = invoke("connect", "crm", str(file), "--store", store_url)
    second = invoke("token", "crm", "--store", store_url)

    key = memory_keyring.passwords[("authplug", "store-key")]
    assert first.exit_code == 0, first.stderr
    assert "saved it in the system keyring" in first.stderr
    assert second.exit_code == 0
    assert key not in first.stdout + first.stderr


def test_no_new_key_is_made_over_existing_secrets(
    tmp_path: Path,
    oauth_server: OAuthServer,
    store_url: str,
    memory_keyring: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTHPLUG_STORE_KEY", generate_key())
    invoke(
        "connect",
        "crm",
        str(client_credentials_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )
    monkeypatch.delenv("AUTHPLUG_STORE_KEY")

    result = invoke(
        "connect",
        "erp",
        str(password_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )

    assert result.exit_code == 1
    assert "AUTHPLUG_STORE_KEY" in result.stderr
    assert memory_keyring.passwords == {}


def test_new_key_prints_a_usable_key_and_rotate_key_reseals_everything(
    tmp_path: Path,
    oauth_server: OAuthServer,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = invoke("store", "new-key").stdout.strip()
    monkeypatch.setenv("AUTHPLUG_STORE_KEY", old)
    invoke(
        "connect",
        "crm",
        str(client_credentials_file(tmp_path, oauth_server)),
        "--store",
        store_url,
    )
    new = invoke("store", "new-key").stdout.strip()

    rotated = invoke(
        "store",
        "rotate-key",
        "--store",
        store_url,
        env={"AUTHPLUG_STORE_KEY": new, "AUTHPLUG_STORE_OLD_KEYS": old},
    )
    with_new_only = invoke(
        "token", "crm", "--store", store_url, env={"AUTHPLUG_STORE_KEY": new}
    )
    with_old_only = invoke(
        "token", "crm", "--store", store_url, env={"AUTHPLUG_STORE_KEY": old}
    )

    assert len(old) == len(new) == 44 and old != new
    assert rotated.exit_code == 0, rotated.stderr
    assert "Re-encrypted 2 value(s)" in rotated.stdout
    assert KeySet.from_keys(new).primary_id in rotated.stdout
    assert with_new_only.exit_code == 0
    assert with_old_only.exit_code == 1
    assert "was encrypted with store key" in with_old_only.stderr
    assert old not in with_old_only.stderr and new not in with_old_only.stderr


def test_new_key_into_the_keyring_keeps_the_old_key_readable(
    memory_keyring: MemoryKeyring,
) -> None:
    first = invoke("store", "new-key", "--keyring")
    second = invoke("store", "new-key", "--keyring")

    assert first.exit_code == second.exit_code == 0
    assert "still opens what it sealed" in second.stdout
    old = memory_keyring.passwords[("authplug", "store-old-keys")]
    assert old not in first.stdout + second.stdout
    assert "rotate-key" in second.stdout


def test_store_info_shows_the_key_fingerprint_only(
    store_url: str, store_key: str
) -> None:
    result = invoke("store", "info", "--store", store_url)

    assert result.exit_code == 0
    assert KeySet.from_keys(store_key).primary_id in result.stdout
    assert "from the environment" in result.stdout
    assert store_key not in result.stdout


# -- the real thing -------------------------------------------------------------------


def test_connect_and_token_in_a_real_process_with_redis(
    tmp_path: Path, oauth_server: OAuthServer, redis_url: str, store_key: str
) -> None:
    script = Path(sys.executable).parent / "authplug"
    file = client_credentials_file(tmp_path, oauth_server)
    env = {**os.environ, "AUTHPLUG_STORE": redis_url}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    connected = run("connect", "crm", str(file))
    listed = run("list")
    revealed = run("token", "crm", "--reveal")

    assert connected.returncode == 0, connected.stderr
    assert "redis://" in connected.stdout
    assert "crm" in listed.stdout and "valid for 60m" in listed.stdout
    assert revealed.returncode == 0
    assert oauth_server.is_access_token_active(revealed.stdout.strip())
    for result in (connected, listed):
        assert revealed.stdout.strip() not in result.stdout + result.stderr
        assert CLIENT_SECRET not in result.stdout + result.stderr
