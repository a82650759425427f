"""``authplug authorize`` against the real test servers.

The OAuth2 runs are real processes: the test reads the address the command
prints, then plays the browser, GETting the authorization page (which
approves at once for ``login_as=alice``) and following the redirect to the
command's listener. OAuth1 runs in-process through CliRunner, the browser
played by a stand-in for ``webbrowser.open`` and the verifier typed on the
command's standard input.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx2
import pytest
from click.testing import CliRunner, Result
from tests.oauth1_server import (
    CALLBACK,
    CLIENT_KEY,
    CLIENT_SECRET,
    REALM,
    OAuth1Server,
)
from tests.oauth_server import ClientConfig, Fault, OAuthServer
from tests.stores.environment import private_store_environment

from authplug.cli import cli
from authplug.cli.oauth1_cmd import send_with_httpx2
from authplug.files import read_credentials_file
from authplug.http import Request
from authplug.stores.crypto import generate_key

__all__ = ["private_store_environment"]

CODE_CLIENT_SECRET = "basic-secret"
SCRIPT = Path(sys.executable).parent / "authplug"


# -- helpers ------------------------------------------------------------------


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def code_file(tmp_path: Path, server: OAuthServer, **app: Any) -> Path:
    fields = {
        "client_id": "basic-client",
        "client_secret": CODE_CLIENT_SECRET,
        "token_url": server.token_url,
        "auth_url": server.authorize_url,
        "scopes": ["read"],
        **app,
    }
    return write(tmp_path / "code.json", {"type": "oauth2", "app": fields})


def invoke(*args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def with_param(url: str, name: str, value: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{urlencode({name: value})}"


def browse(url: str, user: str = "alice") -> httpx2.Response:
    """Approve as ``user`` and follow the redirect, as a browser does."""
    return httpx2.get(with_param(url, "login_as", user), follow_redirects=True)


class Command:
    """``authplug ...`` in a process of its own, read as it runs."""

    def __init__(self, *args: str, stdin: bool = False) -> None:
        self.process = subprocess.Popen(
            [str(SCRIPT), *args],
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        self.stderr_seen: list[str] = []

    def authorization_url(self) -> str:
        """Return the address the command asks the user to open."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_seen.append(line)
            if line.startswith("  http"):
                return line.strip()
        raise AssertionError(f"no address printed: {''.join(self.stderr_seen)}")

    def type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        """Return the exit status, stdout and all of stderr."""
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, "".join(self.stderr_seen) + err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.fixture
def command() -> Iterator[Callable[..., Command]]:
    started: list[Command] = []

    def start(*args: str, stdin: bool = False) -> Command:
        started.append(Command(*args, stdin=stdin))
        return started[-1]

    yield start
    for running in started:
        running.kill()


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AUTHPLUG_STORE_KEY", generate_key())
    return f"sqlite://{tmp_path}/tokens.db"


def issued_tokens(server: OAuthServer) -> list[str]:
    answer = server.last_token_request
    assert answer is not None and answer.status == 200
    return [answer.response["access_token"], answer.response["refresh_token"]]


def assert_nothing_secret(shown: str, *secrets: str) -> None:
    for secret in (CODE_CLIENT_SECRET, *secrets):
        assert secret not in shown
    assert "Traceback" not in shown


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- oauth2: the redirect listener -------------------------------------------------


def test_authorizing_prints_masked_tokens_and_answers_the_browser(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser")

    url = running.authorization_url()
    page = browse(url)
    status, out, err = running.finish()

    assert status == 0, err
    assert page.status_code == 200
    assert "You can close this tab" in page.text
    sent = query_of(url)
    assert sent["redirect_uri"].startswith("http://127.0.0.1:")
    assert sent["redirect_uri"].endswith("/callback")
    assert sent["code_challenge_method"] == "S256"
    exchange = oauth_server.last_token_request
    assert exchange is not None and exchange.grant_type == "authorization_code"
    assert exchange.form["redirect_uri"] == sent["redirect_uri"]
    assert "code_verifier" in exchange.form
    rows = dict(line.split(None, 1) for line in out.splitlines()[1:])
    assert rows["access_token"] == "********"
    assert rows["refresh_token"] == "********"
    assert rows["expires_at"] == "valid for 60m"
    assert rows["scopes"] == "read"
    assert "--reveal" in err
    assert "kept nowhere" in err
    assert_nothing_secret(out + err + page.text, *issued_tokens(oauth_server))


def test_reveal_prints_the_tokens(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser", "--reveal")

    browse(running.authorization_url())
    status, out, _ = running.finish()

    assert status == 0
    access, refresh = issued_tokens(oauth_server)
    rows = dict(line.split(None, 1) for line in out.splitlines()[1:])
    assert rows["access_token"] == access
    assert rows["refresh_token"] == refresh


def test_save_writes_working_tokens_to_the_file_for_its_owner_only(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    file.chmod(0o644)
    running = command("authorize", str(file), "--no-browser", "--save")

    browse(running.authorization_url())
    status, out, err = running.finish()

    assert status == 0, err
    assert f"Wrote the credentials with the new tokens to {file}" in out
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    saved = read_credentials_file(file)
    access, refresh = issued_tokens(oauth_server)
    assert saved.user.access_token.reveal() == access
    assert saved.user.refresh_token.reveal() == refresh
    assert saved.app.client_secret.reveal() == CODE_CLIENT_SECRET
    me = httpx2.get(oauth_server.api_url, headers={"Authorization": f"Bearer {access}"})
    assert me.json()["sub"] == "alice"
    assert_nothing_secret(out + err, access, refresh)


def test_name_saves_the_credentials_in_the_store(
    tmp_path: Path,
    oauth_server: OAuthServer,
    command: Callable[..., Command],
    store_url: str,
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command(
        "authorize", str(file), "--no-browser", "--name", "crm", "--store", store_url
    )

    browse(running.authorization_url())
    status, out, err = running.finish()
    token = invoke("token", "crm", "--reveal", "--store", store_url)
    listed = invoke("list", "--store", store_url)

    assert status == 0, err
    assert f"Saved oauth2 credentials as 'crm' in {store_url}" in out
    access, refresh = issued_tokens(oauth_server)
    assert token.stdout.strip() == access
    assert "oauth2  valid for 60m" in listed.stdout
    assert oauth_server.token_request_count() == 1
    assert_nothing_secret(out + err, access, refresh)


def test_a_loopback_redirect_uri_of_the_app_is_listened_on_as_written(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    file = code_file(tmp_path, oauth_server, redirect_uri=redirect_uri)
    running = command("authorize", str(file), "--no-browser")

    url = running.authorization_url()
    page = browse(url)
    status, _, err = running.finish()

    assert status == 0, err
    assert query_of(url)["redirect_uri"] == redirect_uri
    assert str(page.url).startswith(f"{redirect_uri}?code=")


def test_port_sets_the_listener_port(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    port = free_port()
    file = code_file(tmp_path, oauth_server, redirect_uri="http://127.0.0.1/callback")
    running = command("authorize", str(file), "--no-browser", "--port", str(port))

    url = running.authorization_url()
    browse(url)
    status, _, err = running.finish()

    assert status == 0, err
    assert query_of(url)["redirect_uri"] == f"http://127.0.0.1:{port}/callback"


def test_a_forged_state_is_refused_and_no_code_is_exchanged(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser", "--save")
    listener = query_of(running.authorization_url())["redirect_uri"]

    page = httpx2.get(listener, params={"code": "stolen", "state": "forged"})
    status, out, err = running.finish()

    assert status == 1
    assert page.status_code == 400
    assert "Authorization failed" in page.text
    assert "state does not match" in err
    assert oauth_server.token_request_count() == 0
    assert read_credentials_file(file).user.access_token is None
    assert_nothing_secret(out + err)


def test_other_requests_to_the_listener_change_nothing(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser")
    url = running.authorization_url()
    listener = query_of(url)["redirect_uri"]

    elsewhere = httpx2.get(listener.replace("/callback", "/favicon.ico"))
    bare = httpx2.get(listener)
    browse(url)
    status, _, err = running.finish()

    assert (elsewhere.status_code, bare.status_code) == (404, 400)
    assert status == 0, err


def test_access_denied_is_reported(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    oauth_server.configure(deny_consent=True)
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser")

    page = browse(running.authorization_url())
    status, out, err = running.finish()

    assert status == 1
    assert "Error: the authorization was not granted: access_denied" in err
    assert "(access_denied)" in page.text
    assert oauth_server.token_request_count() == 0
    assert_nothing_secret(out + err)


def test_a_refused_code_is_reported(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    oauth_server.inject(Fault.invalid_grant(), grant_type="authorization_code")
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser", "--save")

    page = browse(running.authorization_url())
    status, out, err = running.finish()

    assert status == 1
    assert "invalid_grant" in err
    assert "(invalid_grant)" in page.text
    assert read_credentials_file(file).user.access_token is None
    assert_nothing_secret(out + err)


def test_waiting_too_long_is_reported(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--no-browser", "--timeout", "0.5")

    url = running.authorization_url()
    status, _, err = running.finish()

    assert status == 1
    listener = query_of(url)["redirect_uri"]
    assert f"Error: no redirect reached {listener} within 0.5 seconds" in err
    assert "Traceback" not in err
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(listener)


def test_the_browser_is_started_unless_told_not_to(
    tmp_path: Path, oauth_server: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    pages: list[httpx2.Response] = []
    browsers: list[threading.Thread] = []

    def start_browser(url: str) -> bool:
        # The listener keeps the browser waiting for the exchange, so the
        # browser must not hold up the command.
        opened.append(url)
        browsers.append(threading.Thread(target=lambda: pages.append(browse(url))))
        browsers[-1].start()
        return True

    monkeypatch.setattr("webbrowser.open", start_browser)
    file = code_file(tmp_path, oauth_server)

    result = invoke("authorize", str(file))
    for browser in browsers:
        browser.join(timeout=30)

    assert result.exit_code == 0, result.stderr
    assert len(opened) == 1
    assert opened[0] in result.stderr
    assert [page.status_code for page in pages] == [200]
    assert oauth_server.token_request_count("authorization_code") == 1


# -- oauth2: pasting the address --------------------------------------------------


def test_paste_mode_takes_the_address_the_browser_was_sent_to(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    remote = "https://connector.example/oauth/done"
    oauth_server.add_client(
        ClientConfig("remote-client", "remote-secret", redirect_uris=(remote,))
    )
    file = code_file(
        tmp_path,
        oauth_server,
        client_id="remote-client",
        client_secret="remote-secret",
        redirect_uri=remote,
    )
    running = command(
        "authorize", str(file), "--paste", "--no-browser", "--save", stdin=True
    )

    url = running.authorization_url()
    sent_back = oauth_server.approve(url)
    running.type(sent_back + "\n")
    status, _, err = running.finish()

    assert status == 0, err
    assert query_of(url)["redirect_uri"] == remote
    assert sent_back.startswith(f"{remote}?")
    assert read_credentials_file(file).user.access_token is not None
    assert "remote-secret" not in err


def test_paste_mode_refuses_an_address_without_state(
    tmp_path: Path, oauth_server: OAuthServer, command: Callable[..., Command]
) -> None:
    file = code_file(tmp_path, oauth_server)
    running = command("authorize", str(file), "--paste", "--no-browser", stdin=True)

    sent_back = oauth_server.approve(running.authorization_url())
    running.type(parse_qs(urlsplit(sent_back).query)["code"][0] + "\n")
    status, _, err = running.finish()

    assert status == 1
    assert "it has no state; paste the whole address" in err
    assert oauth_server.token_request_count() == 0


def test_a_redirect_uri_elsewhere_needs_paste(
    tmp_path: Path, oauth_server: OAuthServer
) -> None:
    remote = "https://connector.example/oauth/done"
    file = code_file(tmp_path, oauth_server, redirect_uri=remote)

    result = invoke("authorize", str(file), "--no-browser")

    assert result.exit_code == 1
    assert f"redirect_uri {remote} is not a loopback address" in result.stderr
    assert "--paste" in result.stderr
    assert "Open this address" not in result.stderr


# -- oauth2: refusals before the browser ------------------------------------------


def test_a_taken_name_is_refused_before_the_browser(
    tmp_path: Path, oauth_server: OAuthServer, store_url: str
) -> None:
    static = write(
        tmp_path / "t.json", {"type": "token", "user": {"access_token": "x"}}
    )
    invoke("connect", "crm", str(static), "--store", store_url)
    file = code_file(tmp_path, oauth_server)

    result = invoke(
        "authorize", str(file), "--no-browser", "--name", "crm", "--store", store_url
    )

    assert result.exit_code == 1
    assert "'crm' is already saved" in result.stderr
    assert "--replace" in result.stderr
    assert "Open this address" not in result.stderr


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {"auth": {"authType": "OAUTH2", "app": "APP"}},
            "is a Tray test context",
        ),
        (
            {"type": "oauth2", "app": "APP", "user": {"token_type": "${KIND}"}},
            "takes values from the environment",
        ),
    ],
)
def test_save_refuses_files_it_would_spoil(
    tmp_path: Path,
    oauth_server: OAuthServer,
    monkeypatch: pytest.MonkeyPatch,
    document: dict[str, Any],
    reason: str,
) -> None:
    monkeypatch.setenv("KIND", "Bearer")
    app = json.loads(code_file(tmp_path, oauth_server).read_text())["app"]
    text = json.dumps(document).replace('"APP"', json.dumps(app))
    file = tmp_path / "ctx.json"
    file.write_text(text, encoding="utf-8")

    result = invoke("authorize", str(file), "--no-browser", "--save")

    assert result.exit_code == 1
    assert reason in result.stderr
    assert file.read_text(encoding="utf-8") == text
    assert "Open this address" not in result.stderr


def test_a_port_in_use_is_reported(tmp_path: Path, oauth_server: OAuthServer) -> None:
    file = code_file(tmp_path, oauth_server)

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = invoke("authorize", str(file), "--no-browser", "--port", str(port))

    assert result.exit_code == 1
    assert f"cannot listen for the redirect on 127.0.0.1 port {port}" in result.stderr
    assert "Traceback" not in result.output


def test_a_port_other_than_the_redirect_uri_names_is_a_usage_error(
    tmp_path: Path, oauth_server: OAuthServer
) -> None:
    redirect_uri = "http://127.0.0.1:8765/callback"
    file = code_file(tmp_path, oauth_server, redirect_uri=redirect_uri)

    result = invoke("authorize", str(file), "--no-browser", "--port", "8766")

    assert result.exit_code == 2
    assert "--port 8766 disagrees with the app's redirect_uri" in result.stderr


@pytest.mark.parametrize(
    ("document", "hint"),
    [
        (
            {"type": "token", "user": {"access_token": "tok-secret-1"}},
            "used as they are",
        ),
        (
            {
                "type": "oauth2.client_credentials",
                "app": {
                    "client_id": "c",
                    "client_secret": "cs-secret-1",
                    "token_url": "https://auth.example.com/token",
                },
            },
            "'authplug token FILE'",
        ),
    ],
)
def test_types_without_an_authorization_step_are_refused(
    tmp_path: Path, document: dict[str, Any], hint: str
) -> None:
    file = write(tmp_path / "c.json", document)

    result = invoke("authorize", str(file))

    assert result.exit_code == 1
    assert f"{document['type']} credentials have no authorization step" in result.stderr
    assert hint in result.stderr
    assert "secret-1" not in result.output


def test_store_without_name_is_a_usage_error(tmp_path: Path) -> None:
    file = write(tmp_path / "c.json", {"type": "token", "user": {"access_token": "x"}})

    result = invoke("authorize", str(file), "--store", "sqlite:///x.db")

    assert result.exit_code == 2
    assert "--store needs --name" in result.stderr


# -- oauth1 -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth1_server() -> Iterator[OAuth1Server]:
    with OAuth1Server() as running:
        yield running


def oauth1_file(tmp_path: Path, server: OAuth1Server, **app: Any) -> Path:
    fields = {
        "consumer_key": CLIENT_KEY,
        "consumer_secret": CLIENT_SECRET,
        "realm": REALM,
        "request_token_url": server.request_token_url,
        "authorize_url": server.authorize_url,
        "access_token_url": server.access_token_url,
        "callback_uri": CALLBACK,
        **app,
    }
    return write(tmp_path / "oauth1.json", {"type": "oauth1", "app": fields})


class Browser:
    """Stands in for ``webbrowser.open``: approves at once, keeps the answer."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.sent_back = ""

    def open(self, url: str) -> bool:
        self.opened.append(url)
        approval = httpx2.get(url, follow_redirects=False)
        # With a callback the provider redirects; out of band it shows the
        # verifier on the page.
        self.sent_back = approval.headers.get("location") or f"?{approval.text}"
        return True


class Typed(io.RawIOBase):
    """Standard input whose text is settled when first read."""

    def __init__(self, text: Callable[[], str]) -> None:
        self.text = text
        self.data: bytes | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.data is None:
            self.data = self.text().encode()
        size = min(len(buffer), len(self.data))
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


def typed(text: Callable[[], str]) -> io.BufferedReader:
    return io.BufferedReader(Typed(text))


def signed_get_works(server: OAuth1Server, file: Path) -> bool:
    credentials = read_credentials_file(file)
    request = Request("GET", f"{server.url}/api/me")
    credentials.flow().apply(request)
    return send_with_httpx2(request).status_code == 200


@pytest.mark.parametrize("answer", ["address", "verifier"])
def test_oauth1_three_legged_through_the_prompt(
    tmp_path: Path,
    oauth1_server: OAuth1Server,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    browser = Browser()
    monkeypatch.setattr("webbrowser.open", browser.open)
    file = oauth1_file(tmp_path, oauth1_server)

    def what_the_user_types() -> str:
        if answer == "address":
            return browser.sent_back + "\n"
        return query_of(browser.sent_back)["oauth_verifier"] + "\n"

    result = invoke("authorize", str(file), "--save", input=typed(what_the_user_types))

    assert result.exit_code == 0, result.stderr
    assert browser.opened[0].startswith(f"{oauth1_server.authorize_url}?oauth_token=")
    assert "Paste the address your browser was sent back to" in result.stderr
    saved = read_credentials_file(file)
    assert saved.user.token is not None
    assert signed_get_works(oauth1_server, file)
    # CliRunner echoes what was typed to stdout; the table follows it.
    rows = dict(
        line.split(None, 1)
        for line in result.stdout.splitlines()
        if line.startswith(("token ", "token_secret "))
    )
    assert rows == {"token": "********", "token_secret": "********"}
    for secret in (CLIENT_SECRET, saved.user.token_secret.reveal()):
        assert secret not in result.output


def test_oauth1_out_of_band_asks_for_the_pin(
    tmp_path: Path, oauth1_server: OAuth1Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = Browser()
    monkeypatch.setattr("webbrowser.open", browser.open)
    file = oauth1_file(tmp_path, oauth1_server, callback_uri=None)

    def pin() -> str:
        return query_of(browser.sent_back)["oauth_verifier"] + "\n"

    result = invoke("authorize", str(file), "--save", input=typed(pin))

    assert result.exit_code == 0, result.stderr
    assert "Enter the verifier (PIN)" in result.stderr
    assert signed_get_works(oauth1_server, file)


def test_oauth1_a_wrong_verifier_is_reported(
    tmp_path: Path, oauth1_server: OAuth1Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("webbrowser.open", Browser().open)
    file = oauth1_file(tmp_path, oauth1_server)
    before = file.read_text(encoding="utf-8")

    result = invoke(
        "authorize", str(file), "--save", input="notTheVerifier000000000000\n"
    )

    assert result.exit_code == 1
    assert "Error:" in result.stderr
    assert "HTTP 401" in result.stderr
    assert file.read_text(encoding="utf-8") == before
    assert CLIENT_SECRET not in result.output


def test_oauth1_refuses_the_oauth2_options(
    tmp_path: Path, oauth1_server: OAuth1Server
) -> None:
    file = oauth1_file(tmp_path, oauth1_server)

    result = invoke("authorize", str(file), "--paste")

    assert result.exit_code == 2
    assert "--port and --paste apply to oauth2 credentials" in result.stderr


def test_authorize_is_a_command() -> None:
    result = invoke("--help")

    assert "  authorize " in result.stdout
