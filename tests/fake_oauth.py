"""A small in-process OAuth2 token endpoint and API for lifecycle tests.

It speaks :mod:`authplug.http` objects, so tests can drive lifecycles with
no HTTP stack at all, and wraps into an httpx MockTransport handler for the
adapter tests. It is thread-safe, counts every request, rotates refresh
tokens (rejecting a reused one with ``invalid_grant``, as a strict server
does), and can be told to be slow or to fail. The end-to-end tests use the
real Authlib server in ``tests/oauth_server`` instead.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from authplug.http import Request, Response

TOKEN_URL = "https://auth.example.com/token"
API_URL = "https://api.example.com/me"


class FakeOAuth:
    """A token endpoint plus one protected API endpoint.

    Args:
        expires_in: The lifetime sent with each token (None: omitted).
        rotate: Issue a new refresh token on each refresh and revoke the
            old one.
        token_delay: Seconds each token request takes, so that concurrent
            callers overlap.
        clock_skew: Seconds the Date header runs ahead of the real clock;
            None sends no Date header.
    """

    def __init__(
        self,
        *,
        expires_in: float | None = 3600,
        rotate: bool = True,
        token_delay: float = 0.0,
        clock_skew: float | None = None,
    ) -> None:
        self.expires_in = expires_in
        self.rotate = rotate
        self.token_delay = token_delay
        self.clock_skew = clock_skew
        self.lock = threading.Lock()
        self.token_requests: list[dict[str, str]] = []
        self.api_requests: list[str | None] = []
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.failures: list[Response] = []
        self.on_token: Callable[[dict[str, str]], None] | None = None
        self._serial = itertools.count(1)

    # -- controls -----------------------------------------------------------

    def fail_next(self, *responses: Response) -> None:
        """Answer the next token requests with ``responses``, in order."""
        with self.lock:
            self.failures.extend(responses)

    def revoke_access_tokens(self) -> None:
        """Make every access token issued so far invalid at the API."""
        with self.lock:
            self.access_tokens.clear()

    def issue(self, *, refresh: bool = True) -> tuple[str, str | None]:
        """Issue a token pair directly, as if granted earlier."""
        with self.lock:
            return self._new_tokens(refresh)

    @property
    def token_count(self) -> int:
        """Return how many token requests arrived."""
        with self.lock:
            return len(self.token_requests)

    # -- handling -------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        if request.url.startswith(TOKEN_URL):
            return self._token(request)
        return self._api(request)

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.clock_skew is not None:
            headers["date"] = formatdate(time.time() + self.clock_skew, usegmt=True)
        return headers

    def _new_tokens(self, refresh: bool) -> tuple[str, str | None]:
        serial = next(self._serial)
        access = f"access-{serial}"
        self.access_tokens.add(access)
        refresh_token = f"refresh-{serial}" if refresh else None
        if refresh_token:
            self.refresh_tokens.add(refresh_token)
        return access, refresh_token

    def _token(self, request: Request) -> Response:
        fields = dict(parse_qsl(request.content.decode()))
        with self.lock:
            self.token_requests.append(fields)
            failure = self.failures.pop(0) if self.failures else None
        if self.on_token is not None:
            self.on_token(fields)
        if self.token_delay:
            time.sleep(self.token_delay)
        if failure is not None:
            return failure

        with self.lock:
            grant = fields.get("grant_type")
            keep_refresh: str | None = None
            if grant == "refresh_token":
                used = fields.get("refresh_token", "")
                if used not in self.refresh_tokens:
                    return self._error("invalid_grant", 400)
                if self.rotate:
                    self.refresh_tokens.discard(used)
                else:
                    keep_refresh = used
            access, refresh = self._new_tokens(keep_refresh is None)

        body: dict[str, Any] = {"access_token": access, "token_type": "bearer"}
        if refresh is not None:
            body["refresh_token"] = refresh
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return Response(200, self._headers(), json.dumps(body).encode())

    def _error(self, error: str, status: int) -> Response:
        body = json.dumps({"error": error}).encode()
        return Response(status, self._headers(), body)

    def _api(self, request: Request) -> Response:
        header = request.header("authorization") or ""
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        with self.lock:
            self.api_requests.append(token)
            valid = token in self.access_tokens
        if not valid:
            return Response(401, {"www-authenticate": 'Bearer error="invalid_token"'})
        return Response(200, {"content-type": "application/json"}, b'{"ok": true}')

    # -- for httpx-style MockTransports -------------------------------------------

    def httpx_handler(self, module: Any) -> Callable[[Any], Any]:
        """Return a MockTransport handler for ``module`` (httpx or httpx2)."""

        def handler(native: Any) -> Any:
            request = Request(
                native.method,
                str(native.url),
                dict(native.headers),
                native.read(),
            )
            response = self.handle(request)
            return module.Response(
                response.status_code,
                headers=dict(response.headers),
                content=response.content,
            )

        return handler


def client_credentials(**app: Any) -> dict[str, Any]:
    """Return a client-credentials document pointing at the fake server."""
    data: dict[str, Any] = {
        "client_id": "fake-client",
        "client_secret": "fake-secret",
        "token_url": TOKEN_URL,
    }
    data.update(app)
    return {"type": "oauth2.client_credentials", "app": data}


def code_grant(access: str | None, refresh: str | None, **user: Any) -> dict[str, Any]:
    """Return an authorization-code document with these tokens."""
    tokens: dict[str, Any] = {"access_token": access, "refresh_token": refresh}
    tokens.update(user)
    return {
        "type": "oauth2",
        "app": {
            "client_id": "fake-client",
            "client_secret": "fake-secret",
            "token_url": TOKEN_URL,
            "auth_url": "https://auth.example.com/authorize",
        },
        "user": {k: v for k, v in tokens.items() if v is not None},
    }
