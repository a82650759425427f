"""Drive a test authorization server running in another process.

:class:`OAuthServerProcess` starts ``python -m tests.oauth_server`` and
offers the same control and inspection methods as :class:`.OAuthServer`,
carried over the server's ``/_admin`` JSON routes. Use it when the server
must outlive, or sit apart from, the processes under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx2

from .config import (
    CONFIG_ENV,
    ClientConfig,
    ConfigError,
    Endpoint,
    Fault,
    ServerConfig,
    Settings,
    UserConfig,
    from_json,
    to_json,
)
from .records import ApiRequestRecord, TokenRequestRecord
from .server import ServerUrls
from .store import NO_GRANT_TYPE

__all__ = ["OAuthServerProcess"]

# The directory that holds the ``tests`` package, so ``-m`` can find it.
_REPO_ROOT = Path(__file__).resolve().parents[2]


class OAuthServerProcess(ServerUrls):
    """The test server in a child process, controlled over HTTP.

    Args:
        config: Clients, users and settings to start from.
        startup_timeout: Seconds to wait for the server's URL line.
    """

    def __init__(
        self, config: ServerConfig | None = None, *, startup_timeout: float = 30
    ) -> None:
        self._config = config or ServerConfig()
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._admin: httpx2.Client | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"<OAuthServerProcess {self.url or 'stopped'}>"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> OAuthServerProcess:
        """Start the child process and wait until it serves; return self."""
        if self._process is not None:
            return self

        env = {**os.environ, CONFIG_ENV: json.dumps(to_json(self._config))}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.oauth_server", "--port", "0"],
            cwd=_REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            process.kill()
            process.wait()
            msg = (
                "python -m tests.oauth_server did not print its URL (exit "
                f"status {process.returncode}); see its stderr above"
            )
            raise RuntimeError(msg)

        self._process = process
        self.url = line
        self._admin = httpx2.Client(base_url=f"{line}/_admin", timeout=10)
        return self

    def stop(self) -> None:
        """Stop the child process (closing its stdin asks it to exit)."""
        process, admin = self._process, self._admin
        if process is None:
            return

        if admin is not None:
            admin.close()
        assert process.stdin is not None and process.stdout is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        self._process = self._admin = None
        self.url = ""

    def __enter__(self) -> OAuthServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """Return the child's process id."""
        if self._process is None:
            msg = "the server process is not running; call start() first"
            raise RuntimeError(msg)
        return self._process.pid

    # -- control -----------------------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        if self._admin is None:
            msg = "the server process is not running; call start() first"
            raise RuntimeError(msg)

        response = self._admin.request(method, path, json=payload)
        if response.status_code == 400:
            raise ConfigError(response.json().get("detail", response.text))
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Return to the initial config: clear tokens, faults and records."""
        self._call("POST", "/reset")

    def configure(self, **changes: Any) -> Settings:
        """Change settings by name; return them all."""
        return from_json(self._call("POST", "/configure", changes), Settings)

    def login(self, username: str | None) -> None:
        """Set the user ``/authorize`` approves for by default."""
        self.configure(logged_in_user=username)

    def add_client(self, client: ClientConfig) -> ClientConfig:
        """Register a client (replacing one with the same id)."""
        self._call("POST", "/clients", to_json(client))
        return client

    def remove_client(self, client_id: str) -> None:
        """Unregister a client and revoke its tokens."""
        self._call("DELETE", f"/clients/{client_id}")

    def add_user(self, username: str, password: str) -> UserConfig:
        """Add a resource owner."""
        user = UserConfig(username, password)
        self._call("POST", "/users", to_json(user))
        return user

    def inject(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        endpoint: Endpoint = "token",
        grant_type: str | None = None,
    ) -> None:
        """Answer the next matching requests with a fault."""
        payload = {
            "fault": to_json(fault),
            "times": times,
            "endpoint": endpoint,
            "grant_type": grant_type,
        }
        self._call("POST", "/faults", payload)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._call("DELETE", "/faults")

    def expire_access_tokens(self, token: str | None = None) -> int:
        """Expire one access token, or all; return how many."""
        return int(self._call("POST", "/expire", {"token": token})["expired"])

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token by value."""
        return bool(self._call("POST", "/revoke", {"token": token})["revoked"])

    # -- what the server saw -------------------------------------------------

    def _records(self) -> Mapping[str, Any]:
        records: Mapping[str, Any] = self._call("GET", "/records")
        return records

    @property
    def token_requests(self) -> list[TokenRequestRecord]:
        """Return every token request so far, in arrival order."""
        data = self._records()["token_requests"]
        return from_json(data, list[TokenRequestRecord])

    @property
    def token_counts(self) -> Mapping[str, int]:
        """Return token requests per grant type."""
        return dict(self._records()["token_counts"])

    def token_request_count(self, grant_type: str | None = None) -> int:
        """Count token requests, of one grant type or of all."""
        if grant_type is None:
            return len(self._records()["token_requests"])
        return int(self.token_counts.get(grant_type or NO_GRANT_TYPE, 0))

    @property
    def api_requests(self) -> list[ApiRequestRecord]:
        """Return every protected resource request so far."""
        return from_json(self._records()["api_requests"], list[ApiRequestRecord])
