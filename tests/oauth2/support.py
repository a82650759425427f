"""Helpers for driving OAuth2 flows by hand in unit tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import authplug
from authplug.http import Request, Response
from authplug.lifecycle import Exchange, Pause

TOKEN_URL = "https://auth.example.com/oauth/token"
AUTH_URL = "https://auth.example.com/oauth/authorize"

CLIENT_SECRET = "client-secret-value-1"
PASSWORD = "user-password-value-2"


def credentials(
    type: str = "oauth2.client_credentials",
    *,
    app: Mapping[str, Any] | None = None,
    user: Mapping[str, Any] | None = None,
    auth_id: str | None = None,
) -> authplug.Credentials[Any, Any]:
    """Load credentials of ``type`` with test defaults, overridden by app/user."""
    app_data: dict[str, Any] = {
        "client_id": "the-client",
        "client_secret": CLIENT_SECRET,
        "token_url": TOKEN_URL,
    }
    if type == "oauth2":
        app_data["auth_url"] = AUTH_URL
    app_data.update(app or {})

    user_data: dict[str, Any] = {}
    if type == "oauth2.password":
        user_data = {"username": "alice", "password": PASSWORD}
    user_data.update(user or {})

    document: dict[str, Any] = {"type": type, "app": app_data, "user": user_data}
    if auth_id is not None:
        document["auth_id"] = auth_id
    return authplug.load(document)  # type: ignore[no-any-return]


def json_response(
    body: Mapping[str, Any] | str,
    status: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
    date: float | None = None,
) -> Response:
    """Return a JSON response; ``date`` adds a Date header at that time."""
    all_headers = {"content-type": "application/json"}
    if date is not None:
        all_headers["date"] = formatdate(date, usegmt=True)
    all_headers.update({k.lower(): v for k, v in (headers or {}).items()})
    content = body if isinstance(body, str) else json.dumps(body)
    return Response(status, all_headers, content.encode())


def token_body(
    access_token: str = "access-1",
    *,
    refresh_token: str | None = "refresh-1",
    expires_in: Any = 3600,
    **extra: Any,
) -> dict[str, Any]:
    """Return a successful token response body."""
    body: dict[str, Any] = {"access_token": access_token, "token_type": "bearer"}
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if expires_in is not None:
        body["expires_in"] = expires_in
    body.update(extra)
    return body


def form(request: Request) -> dict[str, str]:
    """Return the form fields of a token request's body."""
    return dict(parse_qsl(request.content.decode("ascii"), keep_blank_values=True))


class Driver:
    """Drive an exchange by hand, one step at a time, keeping what it yields."""

    def __init__(self, exchange: Exchange[Any]) -> None:
        self.exchange = exchange
        self.requests: list[Request] = []
        self.pauses: list[Pause] = []
        self.result: Any = None
        self.done = False
        self._item = self._step(lambda: next(exchange))

    def _step(self, advance: Any) -> Request | Pause | None:
        try:
            item = advance()
        except StopIteration as stop:
            self.done, self.result = True, stop.value
            return None
        if isinstance(item, Pause):
            self.pauses.append(item)
        else:
            self.requests.append(item)
        return item  # type: ignore[no-any-return]

    @property
    def pending(self) -> Request | Pause | None:
        """Return what the exchange yielded last and waits on."""
        return self._item

    def request(self) -> Request:
        """Return the pending request, failing if the exchange wants a pause."""
        item = self._item
        assert isinstance(item, Request), f"expected a request, got {item!r}"
        return item

    def answer(self, response: Response) -> Request | Pause | None:
        """Send ``response`` for the pending request."""
        assert isinstance(self._item, Request)
        self._item = self._step(lambda: self.exchange.send(response))
        return self._item

    def resume(self) -> Request | Pause | None:
        """Finish the pending pause."""
        assert isinstance(self._item, Pause)
        self._item = self._step(lambda: self.exchange.send(None))
        return self._item

    def fail(self, error: BaseException) -> Request | Pause | None:
        """Throw ``error`` in, as a driver that could not send does."""
        self._item = self._step(lambda: self.exchange.throw(error))
        return self._item


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
