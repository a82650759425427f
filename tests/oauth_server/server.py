"""Run the test authorization server on 127.0.0.1 in a background thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx2
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .config import (
    DEFAULT_USER,
    ClientConfig,
    Endpoint,
    Fault,
    ServerConfig,
    Settings,
    UserConfig,
)
from .records import ApiRequestRecord, TokenRequestRecord
from .store import NO_GRANT_TYPE, Store

__all__ = ["OAuthServer", "ServerUrls"]

logger = logging.getLogger(__name__)

# Each request opens a connection (werkzeug closes after every answer), so
# a burst of hundreds of clients needs a deeper accept queue than the
# default 128, or the kernel drops SYNs and clients stall for a second.
_LISTEN_BACKLOG = 1024


class ServerUrls:
    """The endpoint URLs, derived from the base URL ``self.url``."""

    url: str

    @property
    def issuer(self) -> str:
        """Return the issuer identifier (the base URL)."""
        return self.url

    @property
    def token_url(self) -> str:
        """Return the token endpoint URL."""
        return f"{self.url}/token"

    @property
    def authorize_url(self) -> str:
        """Return the authorization endpoint URL."""
        return f"{self.url}/authorize"

    @property
    def api_url(self) -> str:
        """Return the protected resource URL."""
        return f"{self.url}/api/me"

    @property
    def revoke_url(self) -> str:
        """Return the RFC 7009 revocation endpoint URL."""
        return f"{self.url}/revoke"

    @property
    def metadata_url(self) -> str:
        """Return the RFC 8414 metadata URL."""
        return f"{self.url}/.well-known/oauth-authorization-server"

    def approve(
        self, authorization_url: str, *, user: str | None = DEFAULT_USER.username
    ) -> str:
        """Send a user through the authorization endpoint; return the redirect.

        This is what a browser would do: GET the authorization URL the
        client built, and stop at the redirect back to the client.

        Args:
            authorization_url: The full URL, query included.
            user: Who approves, sent as ``login_as``; None sends nobody, so
                the server's ``logged_in_user`` (see :meth:`login`) acts.

        Returns:
            The ``Location`` the server redirects to, with ``code`` and
            ``state`` (or ``error``) in its query.

        Raises:
            AssertionError: The server did not redirect; the message has
                its answer.
        """
        if user is not None:
            authorization_url = _with_param(authorization_url, "login_as", user)

        response = httpx2.get(authorization_url, follow_redirects=False, timeout=10)
        location = response.headers.get("location")
        if response.status_code != 302 or not location:
            msg = (
                f"expected a redirect from {self.authorize_url}, got "
                f"{response.status_code}: {response.text[:300]}"
            )
            raise AssertionError(msg)
        return str(location)


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name]
    query.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _handler_for(store: Store) -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        """Skew the ``Date`` header; keep request logs out of test output."""

        def date_time_string(self, timestamp: float | None = None) -> str:
            now = time.time() if timestamp is None else timestamp
            return str(super().date_time_string(now + store.settings.clock_skew))

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            logger.debug("%s %s -> %s", self.command, self.path.split("?")[0], code)

    return Handler


class OAuthServer(ServerUrls):
    """A real OAuth 2 authorization server on 127.0.0.1 for one test run.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`).
    All methods are safe to call from any thread while it serves.

    Args:
        config: Clients, users and settings to start from (and to return
            to on :meth:`reset`); the defaults are in :mod:`.config`.
        port: The port to listen on; 0 picks a free one.
    """

    def __init__(self, config: ServerConfig | None = None, *, port: int = 0) -> None:
        self.store = Store(config)
        self.app = create_app(self.store)
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __repr__(self) -> str:
        state = self.url or "stopped"
        return f"<OAuthServer {state}>"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> OAuthServer:
        """Listen and serve in a daemon thread; return self."""
        if self._server is not None:
            return self

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self._port))
            listener.listen(_LISTEN_BACKLOG)
            # make_server duplicates the descriptor, so ours can go.
            server = make_server(
                "127.0.0.1",
                self._port,
                self.app,
                threaded=True,
                request_handler=_handler_for(self.store),
                fd=listener.fileno(),
            )
        finally:
            listener.close()

        self._server = server
        self.url = f"http://127.0.0.1:{server.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth-server-{server.port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("test OAuth server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; requests asleep are woken."""
        server, thread = self._server, self._thread
        if server is None:
            return

        self.store.wake_sleepers()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None
        self.url = ""

    def __enter__(self) -> OAuthServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Return to the initial config: clear tokens, faults and records."""
        self.store.reset()

    # -- configuration -----------------------------------------------------

    @property
    def settings(self) -> Settings:
        """Return the current settings."""
        return self.store.settings

    def configure(self, **changes: Any) -> Settings:
        """Change settings by name (see :class:`.Settings`); return them all."""
        return self.store.configure(**changes)

    def login(self, username: str | None) -> None:
        """Set the user ``/authorize`` approves for when no ``login_as`` is sent."""
        self.configure(logged_in_user=username)

    def add_client(self, client: ClientConfig) -> ClientConfig:
        """Register a client (replacing one with the same id)."""
        return self.store.add_client(client)

    def remove_client(self, client_id: str) -> None:
        """Unregister a client and revoke its tokens."""
        self.store.remove_client(client_id)

    def add_user(self, username: str, password: str) -> UserConfig:
        """Add a resource owner for the password and code grants."""
        return self.store.add_user(UserConfig(username, password))

    def inject(
        self,
        fault: Fault,
        *,
        times: int | None = 1,
        endpoint: Endpoint = "token",
        grant_type: str | None = None,
    ) -> None:
        """Answer the next matching requests with a fault.

        Faults queue up in order; each request takes the first one that
        matches. ``times=3`` then recovery is "fail three times";
        ``times=None`` fails until :meth:`clear_faults`.
        """
        self.store.inject(fault, times=times, endpoint=endpoint, grant_type=grant_type)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.store.clear_faults()

    # -- tokens ------------------------------------------------------------

    def expire_access_tokens(self, token: str | None = None) -> int:
        """Expire one access token, or all; return how many."""
        return self.store.expire_access_tokens(token)

    def revoke(self, token: str) -> bool:
        """Revoke an access or refresh token by value; False if unknown."""
        return self.store.revoke(token)

    def is_access_token_active(self, token: str) -> bool:
        """Tell whether the API would accept this access token now."""
        found = self.store.find_access_token(token)
        return found is not None and not (found.is_expired() or found.is_revoked())

    def is_refresh_token_active(self, token: str) -> bool:
        """Tell whether this refresh token would still be honoured."""
        return self.store.find_refresh_token(token) is not None

    # -- what the server saw -------------------------------------------------

    @property
    def token_requests(self) -> list[TokenRequestRecord]:
        """Return every token request so far, in arrival order."""
        with self.store.lock:
            return list(self.store.token_records)

    @property
    def last_token_request(self) -> TokenRequestRecord:
        """Return the latest token request; AssertionError if none came."""
        requests = self.token_requests
        if not requests:
            msg = "the token endpoint received no request"
            raise AssertionError(msg)
        return requests[-1]

    @property
    def token_counts(self) -> Mapping[str, int]:
        """Return token requests per grant type (``<none>``: no grant_type)."""
        with self.store.lock:
            return dict(self.store.token_counts)

    def token_request_count(self, grant_type: str | None = None) -> int:
        """Count token requests, of one grant type or of all."""
        with self.store.lock:
            if grant_type is None:
                return len(self.store.token_records)
            return self.store.token_counts.get(grant_type or NO_GRANT_TYPE, 0)

    @property
    def api_requests(self) -> list[ApiRequestRecord]:
        """Return every protected resource request so far."""
        with self.store.lock:
            return list(self.store.api_records)

    def api_request_count(self) -> int:
        """Count protected resource requests."""
        with self.store.lock:
            return len(self.store.api_records)
