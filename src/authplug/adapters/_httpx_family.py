"""The adapter logic shared by httpx2 and httpx, which have one API.

:class:`HttpxFamilyAuth` is mixed into a subclass of each library's
``Auth``; the subclass names the library module in ``_http``. Token
requests are *yielded* from the auth flow, so the user's own client sends
them: its transport, proxies, certificates, event hooks and the request's
timeout all apply. The flip side is that a token request that cannot be
sent (a timeout, a refused connection) raises the client's own exception
straight to the caller, as any request of that client would: httpx gives
an auth flow no chance to catch it. The stored tokens are untouched then,
and the next request tries again. Answers the server does give (500, 503
with ``Retry-After``) are retried inside the flow as the policy says.

Being yielded, token requests and their answers also show in the final
response's ``history``, as httpx records every request an auth flow
sends; a token response's body holds tokens, so do not log bodies found
there.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Generator, Mapping
from types import ModuleType
from typing import Any, ClassVar, TypeVar

from authplug.errors import ConfigError, FieldError
from authplug.flow import AuthFlow
from authplug.http import Request, Response
from authplug.lifecycle import (
    Exchange,
    Lifecycle,
    RenewableFlow,
    SendError,
    View,
    adrive,
    drive,
)
from authplug.records import Credentials
from authplug.stores.base import TokenRecord, TokenStore

__all__ = ["HttpxFamilyAuth", "resolve_credentials", "run_async", "run_sync"]

T = TypeVar("T")


def resolve_credentials(credentials: object) -> Credentials[Any, Any]:
    """Return ``credentials``, loading a mapping through the registry first."""
    if isinstance(credentials, Credentials):
        return credentials
    if isinstance(credentials, Mapping):
        from authplug.registry import registry

        loaded: Credentials[Any, Any] = registry().load(credentials)
        return loaded
    kind = type(credentials).__name__
    raise ConfigError(
        [
            FieldError(
                "",
                f"credentials must be authplug Credentials or a mapping to load, "
                f"got {kind}",
            )
        ]
    )


def _timeout_extension(origin: Any) -> dict[str, Any]:
    # A yielded request gets no client defaults; without the original's
    # timeout it would wait forever on a silent token endpoint.
    timeout = origin.extensions.get("timeout")
    return {} if timeout is None else {"timeout": timeout}


class HttpxFamilyAuth:
    """Drive an authplug flow from an httpx-style ``Auth``.

    Args:
        credentials: The credentials, or a mapping to load them from.
        store: Where tokens live; the process-wide memory store if None.
        key: The store key; derived from the credentials if None.
        **options: Flow options, e.g. ``margin``, ``refresh_on``, ``retry``.
    """

    _http: ClassVar[ModuleType]
    requires_request_body: bool
    requires_response_body: bool

    def __init__(
        self,
        credentials: Credentials[Any, Any] | Mapping[str, Any],
        *,
        store: TokenStore | None = None,
        key: str | None = None,
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
        # Renewable flows read bodies themselves, and only when they must.
        renewable = self.lifecycle is not None
        self.requires_request_body = flow.requires_request_body and not renewable
        self.requires_response_body = flow.requires_response_body and not renewable

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

    def __repr__(self) -> str:
        return f"{type(self).__module__}.Auth({self.flow.credentials!r})"

    # -- translation ------------------------------------------------------

    def _native(self, request: Request, origin: Any) -> Any:
        return self._http.Request(
            request.method,
            request.url,
            headers=dict(request.headers),
            content=request.content,
            extensions=_timeout_extension(origin),
        )

    @staticmethod
    def _view(native: Any, *, body: bool) -> Response:
        content = native.content if body else b""
        return Response(native.status_code, native.headers, content)

    # -- sync -------------------------------------------------------------

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        """Authenticate ``request`` for ``httpx.Client``; see the module doc."""
        lifecycle = self.lifecycle
        if lifecycle is None:
            yield from self._plain_sync(request)
            return

        view = lifecycle.current()
        if view is None:
            view = yield from self._renew_sync(lifecycle, lifecycle.stale(), request)
        request.headers[lifecycle.header_name] = view.header_value
        response = yield request

        policy = lifecycle.policy
        if response.status_code not in policy.statuses:
            return
        body = response.status_code in policy.body_statuses
        if body:
            response.read()
        if policy.wants_renewal(self._view(response, body=body)):
            view = yield from self._renew_sync(lifecycle, view.record, request)
            request.headers[lifecycle.header_name] = view.header_value
            yield request

    def _renew_sync(
        self, lifecycle: Lifecycle, stale: TokenRecord | None, origin: Any
    ) -> Generator[Any, Any, View]:
        renewal = lifecycle.renew_sync(stale)
        try:
            token_request = next(renewal)
            while True:
                native = yield self._native(token_request, origin)
                native.read()
                token_request = renewal.send(self._view(native, body=True))
        except StopIteration as stop:
            view: View = stop.value
            return view
        finally:
            renewal.close()

    def _plain_sync(self, request: Any) -> Generator[Any, Any, None]:
        flow = self.flow
        if flow.requires_request_body:
            request.read()
        wrapped, url = self._wrap(request, flow)

        steps = flow.auth_flow(wrapped)
        outgoing = next(steps)
        while True:
            response = yield self._unwrap(outgoing, wrapped, url, request)
            if flow.requires_response_body:
                response.read()
            try:
                outgoing = steps.send(
                    self._view(response, body=flow.requires_response_body)
                )
            except StopIteration:
                return

    def _wrap(self, request: Any, flow: AuthFlow[Any, Any]) -> tuple[Request, str]:
        url = str(request.url)
        content = request.content if flow.requires_request_body else b""
        return Request(request.method, url, request.headers, content), url

    def _unwrap(
        self, outgoing: Request, wrapped: Request, url: str, native: Any
    ) -> Any:
        if outgoing is not wrapped:
            return self._native(outgoing, native)

        content_changed = self.flow.requires_request_body and (
            wrapped.content != native.content
        )
        if content_changed:
            # A new body means a new stream and Content-Length: rebuild.
            headers = dict(native.headers)
            headers.pop("content-length", None)
            headers.pop("Content-Length", None)
            return self._http.Request(
                native.method,
                wrapped.url,
                headers=headers,
                content=wrapped.content,
                extensions=native.extensions,
            )
        if wrapped.url != url:
            native.url = self._http.URL(wrapped.url)
        return native

    # -- async ------------------------------------------------------------

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        """Authenticate ``request`` for ``httpx.AsyncClient``."""
        lifecycle = self.lifecycle
        if lifecycle is None:
            # Inline, not delegated: an async generator cannot relay the
            # responses it is sent to another one with "async for".
            flow = self.flow
            if flow.requires_request_body:
                await request.aread()
            wrapped, url = self._wrap(request, flow)
            steps = flow.auth_flow(wrapped)
            outgoing = next(steps)
            while True:
                response = yield self._unwrap(outgoing, wrapped, url, request)
                if flow.requires_response_body:
                    await response.aread()
                try:
                    outgoing = steps.send(
                        self._view(response, body=flow.requires_response_body)
                    )
                except StopIteration:
                    return

        view = lifecycle.current()
        stale = lifecycle.stale()
        retried = False
        while True:
            if view is None:
                renewal = lifecycle.renew_async(stale)
                try:
                    item = await renewal.__anext__()
                    while not isinstance(item, View):
                        native = yield self._native(item, request)
                        await native.aread()
                        item = await renewal.asend(self._view(native, body=True))
                finally:
                    await renewal.aclose()
                view = item

            request.headers[lifecycle.header_name] = view.header_value
            response = yield request

            policy = lifecycle.policy
            if retried or response.status_code not in policy.statuses:
                return
            body = response.status_code in policy.body_statuses
            if body:
                await response.aread()
            if not policy.wants_renewal(self._view(response, body=body)):
                return
            retried, stale, view = True, view.record, None


def run_sync(exchange: Exchange[T], client: Any, transport_errors: Any) -> T:
    """Run an exchange with a sync client; transport errors are retried."""

    def send(request: Request) -> Response:
        native = client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.content,
        )
        try:
            # auth=None: the token request must not go through this auth.
            response = client.send(native, auth=None)
        except transport_errors as err:
            raise SendError(_describe(err, request)) from err
        return Response(response.status_code, response.headers, response.content)

    return drive(exchange, send, sleep=time.sleep)


async def run_async(exchange: Exchange[T], client: Any, transport_errors: Any) -> T:
    """Run an exchange with an async client; transport errors are retried."""

    async def send(request: Request) -> Response:
        native = client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.content,
        )
        try:
            response = await client.send(native, auth=None)
        except transport_errors as err:
            raise SendError(_describe(err, request)) from err
        return Response(response.status_code, response.headers, response.content)

    return await adrive(exchange, send)


def _describe(err: BaseException, request: Request) -> str:
    # The class name says what went wrong; the text may quote the URL's
    # query, so it stays in the chained exception only.
    return f"{type(err).__name__} sending {request!r}"
