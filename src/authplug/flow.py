"""The base class of every auth type's behaviour.

A flow never does I/O. Given a :class:`~authplug.http.Request` it yields the
requests it needs sent and receives their responses, in the manner of
httpx's auth flow::

    flow = credentials.flow()
    gen = flow.auth_flow(request)
    outgoing = next(gen)             # the request, now carrying credentials
    try:
        gen.send(response)           # a flow that wants a retry yields again
    except StopIteration:
        pass

Adapters for httpx2, httpx and requests drive flows exactly this way, and
tests can drive them by hand. Time and randomness come in through the
``clock`` and ``nonce`` arguments, so a flow is deterministic under test.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Generator
from typing import Any, ClassVar, Generic, TypeVar

from authplug.http import Request, Response
from authplug.records import Credentials

__all__ = ["AuthFlow", "Clock", "NonceSource", "default_nonce"]

UserT = TypeVar("UserT")
AppT = TypeVar("AppT")

Clock = Callable[[], float]
"""Returns the current time in seconds since the epoch."""

NonceSource = Callable[[], str]
"""Returns a fresh random string for each call."""


def default_nonce() -> str:
    """Return 32 random URL-safe characters."""
    return secrets.token_urlsafe(24)


class AuthFlow(Generic[UserT, AppT]):
    """Apply one set of credentials to requests, with no I/O of its own.

    Subclasses that only add something to each request override
    :meth:`apply`. Subclasses that need token requests or retries override
    :meth:`auth_flow`.

    Args:
        credentials: The validated credentials to apply.
        clock: The time source, for expiry and timestamps.
        nonce: The nonce source, for signatures.
    """

    requires_request_body: ClassVar[bool] = False
    """Whether :meth:`apply` reads the request body (signatures over forms)."""

    requires_response_body: ClassVar[bool] = False
    """Whether the flow reads the body of the API response."""

    def __init__(
        self,
        credentials: Credentials[UserT, AppT],
        *,
        clock: Clock = time.time,
        nonce: NonceSource = default_nonce,
        **options: Any,
    ) -> None:
        if options:
            unknown = ", ".join(sorted(options))
            raise TypeError(f"{type(self).__name__} takes no options {unknown}")
        self.credentials = credentials
        self.clock = clock
        self.nonce = nonce

    @property
    def user(self) -> UserT:
        """Return the user side of the credentials."""
        return self.credentials.user

    @property
    def app(self) -> AppT:
        """Return the app side of the credentials."""
        return self.credentials.app

    def apply(self, request: Request) -> None:
        """Add the credentials to ``request`` in place.

        Applying twice must leave the request as applying once does.
        """

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Yield ``request`` with the credentials applied."""
        self.apply(request)
        yield request

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.credentials!r})"
