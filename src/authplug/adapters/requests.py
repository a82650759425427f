"""Use authplug credentials with requests (an optional extra).

::

    from authplug.adapters.requests import session

    http = session(credentials)            # a requests.Session, auth installed
    http.get("https://api.example.com/me")

or, with a session of your own::

    http = requests.Session()
    http.auth = Auth(credentials, session=http)

Token requests go through that session (its adapters, proxies, mounted
retries, certificates), with ``token_timeout`` since requests has no
default timeout. Here the adapter sends them itself, so a token request
that times out or cannot connect is retried like a 503, within the retry
policy. Without a session, the adapter makes a private one for its token
requests.

A 401 (or another configured refresh signal) is handled in a response
hook: one renewal, then the request is sent once more through the same
connection adapter, and the 401 goes into ``response.history``.

requests is imported when this module is; install it with
``pip install 'authplug[requests]'``.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping, MutableMapping
from typing import Any, TypeVar, cast

from authplug.adapters._httpx_family import resolve_credentials
from authplug.errors import ConfigError, FieldError, FlowError, MissingDependency
from authplug.flow import AuthFlow
from authplug.http import Request, Response
from authplug.lifecycle import Exchange, Lifecycle, RenewableFlow, SendError, drive
from authplug.records import Credentials
from authplug.stores.base import TokenStore

try:
    import requests
    import requests.auth
    from requests.cookies import extract_cookies_to_jar
except ImportError as err:  # pragma: no cover - exercised without the extra
    raise MissingDependency("the requests adapter", "requests") from err

__all__ = ["Auth", "run", "session"]

T = TypeVar("T")

_RECORD = "_authplug_record"
_RETRIED = "_authplug_retried"
_STEPS = "_authplug_steps"

_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout)


class Auth(requests.auth.AuthBase):
    """A ``requests`` auth for any authplug credentials; see the module doc.

    Args:
        credentials: The credentials, or a mapping to load them from.
        session: The session to send token requests through.
        store: Where tokens live; the process-wide memory store if None.
        key: The store key; derived from the credentials if None.
        token_timeout: Seconds a token request may take (connect and read).
        **options: Flow options: ``margin``, ``default_lifetime``,
            ``lock_timeout``, ``retry``, ``refresh_on``, or ``policy``.
    """

    def __init__(
        self,
        credentials: Credentials[Any, Any] | Mapping[str, Any],
        *,
        session: requests.Session | None = None,
        store: TokenStore | None = None,
        key: str | None = None,
        token_timeout: float = 30.0,
        **options: Any,
    ) -> None:
        resolved = resolve_credentials(credentials)
        flow = resolved.flow(**options)
        self.flow: AuthFlow[Any, Any] = flow
        self.lifecycle: Lifecycle | None = None
        if isinstance(flow, RenewableFlow):
            self.lifecycle = Lifecycle(flow, store, key=key)
        elif store is not None or key is not None:
            raise ConfigError(
                [FieldError("type", f"{resolved.type.name!r} keeps no tokens")]
            )
        self.session = session
        self.token_timeout = token_timeout
        self._own_session: requests.Session | None = None
        self._own_session_guard = threading.Lock()

    @property
    def credentials(self) -> Credentials[Any, Any]:
        """Return the credentials with the newest tokens, to persist."""
        if self.lifecycle is not None:
            return self.lifecycle.credentials
        return self.flow.credentials

    def invalidate(self) -> None:
        """Treat the current token as expired: the next request renews it."""
        if self.lifecycle is not None:
            self.lifecycle.invalidate()

    def close(self) -> None:
        """Close the private session made for token requests, if any."""
        with self._own_session_guard:
            if self._own_session is not None:
                self._own_session.close()
                self._own_session = None

    def __repr__(self) -> str:
        return f"authplug.adapters.requests.Auth({self.flow.credentials!r})"

    # -- applying ----------------------------------------------------------

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Authenticate ``request``; requests calls this while preparing it."""
        lifecycle = self.lifecycle
        if lifecycle is None:
            return self._apply_plain(request)

        view = lifecycle.current()
        if view is None:
            view = drive(lifecycle.renew_sync(lifecycle.stale()), self._send_token)
        request.headers[lifecycle.header_name] = view.header_value
        setattr(request, _RECORD, view.record)
        if lifecycle.policy.statuses:
            request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> Any:
        lifecycle = self.lifecycle
        assert lifecycle is not None
        sent = response.request
        if getattr(sent, _RETRIED, False):
            return response
        if response.status_code not in lifecycle.policy.statuses:
            return response
        body = response.status_code in lifecycle.policy.body_statuses
        if not lifecycle.policy.wants_renewal(_view(response, body=body)):
            return response

        # Release the connection first: the renewal may raise, and the
        # response would then be dropped with its socket still open.
        _release(response)
        stale = getattr(sent, _RECORD, None)
        view = drive(lifecycle.renew_sync(stale), self._send_token)
        retry = _copy_for_retry(response)
        retry.headers[lifecycle.header_name] = view.header_value
        setattr(retry, _RETRIED, True)
        return _resend(response, retry, kwargs)

    # -- plain flows (no token lifecycle) ------------------------------------

    def _apply_plain(
        self, request: requests.PreparedRequest
    ) -> requests.PreparedRequest:
        flow = self.flow
        # requests keeps str headers once prepared; the type says str | bytes.
        headers = cast(MutableMapping[str, str], request.headers)
        wrapped = Request(
            str(request.method),
            str(request.url),
            headers,
            _body_bytes(request) if flow.requires_request_body else b"",
        )
        steps = flow.auth_flow(wrapped)
        outgoing = next(steps)
        if outgoing is not wrapped:
            raise FlowError(
                f"{type(flow).__name__} replaces the request; the requests "
                "adapter supports flows that change it in place"
            )
        _write_back(wrapped, request, body=flow.requires_request_body)
        setattr(request, _STEPS, steps)
        request.register_hook("response", self._on_plain_response)
        return request

    def _on_plain_response(self, response: requests.Response, **kwargs: Any) -> Any:
        steps: Generator[Request, Response, None] | None = getattr(
            response.request, _STEPS, None
        )
        if steps is None:
            return response
        body = self.flow.requires_response_body
        try:
            outgoing = steps.send(_view(response, body=body))
        except StopIteration:
            return response

        # The flow wants another round (a challenge it answers): resend.
        retry = _copy_for_retry(response)
        retry.headers.update(outgoing.headers)
        retry.prepare_url(outgoing.url, None)
        return _resend(response, retry, kwargs)

    # -- token requests ----------------------------------------------------------

    def _token_session(self) -> requests.Session:
        if self.session is not None:
            return self.session
        with self._own_session_guard:
            if self._own_session is None:
                self._own_session = requests.Session()
            return self._own_session

    def _send_token(self, request: Request) -> Response:
        prepared = requests.Request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.content,
        ).prepare()
        try:
            native = self._token_session().send(
                prepared, timeout=self.token_timeout, allow_redirects=False
            )
        except _TRANSPORT_ERRORS as err:
            raise SendError(f"{type(err).__name__} sending {request!r}") from err
        return Response(native.status_code, native.headers, native.content)


def _view(response: requests.Response, *, body: bool) -> Response:
    return Response(
        response.status_code,
        response.headers,
        response.content if body else b"",
    )


def _body_bytes(request: requests.PreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise FlowError(
        "this auth type signs the request body, so it cannot be a stream or "
        "a file; pass the body as bytes or a dict"
    )


def _write_back(
    wrapped: Request, request: requests.PreparedRequest, *, body: bool
) -> None:
    if wrapped.url != request.url:
        request.url = wrapped.url
    if body and wrapped.content != _body_bytes(request):
        request.body = wrapped.content
        request.prepare_content_length(wrapped.content)


def _release(response: requests.Response) -> None:
    """Read the body (kept for ``history``) and give the connection back."""
    _ = response.content
    response.close()


def _copy_for_retry(response: requests.Response) -> requests.PreparedRequest:
    # Release the first response's connection, as requests' own digest
    # auth does, and carry over cookies the server just set.
    _release(response)
    retry = response.request.copy()
    jar = getattr(retry, "_cookies", None)
    if jar is not None:
        extract_cookies_to_jar(jar, response.request, response.raw)
        retry.prepare_cookies(jar)
    return retry


def _resend(
    response: requests.Response,
    retry: requests.PreparedRequest,
    kwargs: dict[str, Any],
) -> requests.Response:
    again: requests.Response = response.connection.send(retry, **kwargs)
    again.history.append(response)
    again.request = retry
    return again


def session(
    credentials: Credentials[Any, Any] | Mapping[str, Any],
    *,
    store: TokenStore | None = None,
    **options: Any,
) -> requests.Session:
    """Return a new ``requests.Session`` whose auth is these credentials.

    Token requests go through the same session. Options are those of
    :class:`Auth`.
    """
    http = requests.Session()
    http.auth = Auth(credentials, session=http, store=store, **options)
    return http


def run(
    exchange: Exchange[T],
    http: requests.Session,
    *,
    timeout: float = 30.0,
) -> T:
    """Run ``exchange`` to the end through ``http`` and return its result."""

    def send(request: Request) -> Response:
        prepared = requests.Request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.content,
        ).prepare()
        try:
            native = http.send(prepared, timeout=timeout, allow_redirects=False)
        except _TRANSPORT_ERRORS as err:
            raise SendError(f"{type(err).__name__} sending {request!r}") from err
        return Response(native.status_code, native.headers, native.content)

    return drive(exchange, send)
