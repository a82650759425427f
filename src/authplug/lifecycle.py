"""The token lifecycle: expiry, single-flight renewal, storage, retry on 401.

Three layers meet here.

**Flows** (:class:`RenewableFlow`, e.g. the OAuth2 flows) know how to get
tokens and do no I/O. ``flow.renew(current)`` is an *exchange*: a
generator that yields :class:`~authplug.http.Request` objects for the token
endpoint and receives their :class:`~authplug.http.Response`, yields a
:class:`Pause` when it wants to wait before a retry (a 503 with
``Retry-After``), and finally returns an :class:`Issued` token record.
A driver that could not send a request throws :class:`SendError` into the
exchange, which retries or gives up; :func:`drive` and :func:`adrive`
are such drivers, for a plain send function.

**Slots** (one per store and credential key, shared by every auth object in
the process) hold the current record and make renewal single-flight. The
first thread or task to find the token stale becomes the *leader*; every
other thread *and* task that finds it stale meanwhile joins the leader's
flight and gets its outcome, the new record or the same error, without a
token request of its own. The leader first reads the store without its
lock, and uses a record that differs from the stale one and is fresh (on a
shared store the valid-token path is then one read); otherwise it:

1. takes the store's lock for the key (``store.lock`` / ``store.alock``:
   a thread lock in memory, a cluster-wide lock in Redis);
2. re-reads the record, since another process may have renewed it; a
   record that differs from the stale one and is fresh is used as is;
3. otherwise runs the exchange from the freshest record it has (so the
   newest refresh token is the one spent);
4. writes the result to the store with the version it read, and only then
   lets anyone use the new access token. A write that fails keeps the
   rotated tokens in memory and raises; the next renewal writes them
   first, so a rotated refresh token is never lost.

The slot's state is guarded by one :class:`threading.Lock` that is only
ever held for a few field updates, never across I/O, so taking it from an
event loop is harmless. Threads wait on a :class:`threading.Event`; tasks
wait on a future of their own loop, woken with ``call_soon_threadsafe``,
so a flight led by a thread wakes tasks and the other way round, and no
task ever blocks its loop.

**The lifecycle** (:class:`Lifecycle`, one per auth object) applies the
token: while the cached record is fresh (expiry minus the margin, on the
server's clock) the header value is reused without a lock, a copy or a
store read; otherwise it renews through the slot. A response that matches
a refresh signal (401 by default; a 403 or a body pattern when configured)
leads to one renewal and one retry of the request, never more.

Clock skew: token times are kept on the *server's* clock. Each token
response's ``Date`` header gives the offset between the clocks; times are
stored as server times and compared with ``local time + offset``. On one
host the offset cancels out; across hosts sharing a store, each corrects
for its own clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import threading
import time
import weakref
from abc import abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from attrs import field, frozen

from authplug.errors import ConfigError, FieldError, FlowError, TokenError
from authplug.flow import AuthFlow, Clock, NonceSource, default_nonce
from authplug.http import Request, Response
from authplug.records import Credentials
from authplug.stores.base import StoreError, TokenRecord, TokenStore, VersionConflict
from authplug.stores.memory import default_store

if TYPE_CHECKING:
    # asyncio is imported where it is used: loading the built-in plugins
    # (which import this module) should not pay for it.
    import asyncio

__all__ = [
    "Exchange",
    "Issued",
    "Lifecycle",
    "Pause",
    "RefreshSignal",
    "RenewableFlow",
    "RenewalPolicy",
    "RetryPolicy",
    "SendError",
    "View",
    "adrive",
    "credential_key",
    "drive",
]

logger = logging.getLogger(__name__)

UserT = TypeVar("UserT")
AppT = TypeVar("AppT")
T = TypeVar("T")


# -- the exchange protocol ------------------------------------------------


class SendError(FlowError):
    """A request that could not be sent: refused, reset, or timed out.

    Drivers throw it into an exchange, which decides whether to try again.
    The original exception is the ``__cause__``.
    """


@frozen
class Pause:
    """An exchange's request to wait before its next request.

    Args:
        seconds: How long to wait.
        reason: Why, for logs.
        error: What the exchange would raise instead, for a driver that
            cannot wait.
    """

    seconds: float
    reason: str
    error: TokenError


@frozen
class Issued:
    """Tokens an exchange obtained.

    Args:
        record: The new tokens, times on the server's clock.
        clock_offset: How far the server's clock ran ahead of ours when
            they arrived (0 when unknown).
    """

    record: TokenRecord
    clock_offset: float = 0.0


Exchange = Generator[Request | Pause, Response | None, T]
"""Yields token requests and pauses; receives responses (None after a
pause); returns its result."""


def drive(
    exchange: Generator[Request | Pause, Any, T],
    send: Callable[[Request], Response],
    *,
    sleep: Callable[[float], object] = time.sleep,
) -> T:
    """Run ``exchange`` to the end, sending its requests with ``send``.

    Args:
        exchange: The exchange to run.
        send: Sends one request and returns the response; raises
            :class:`SendError` when the request could not be sent.
        sleep: How to wait for a :class:`Pause`.
    """
    try:
        item = next(exchange)
        while True:
            if isinstance(item, Pause):
                sleep(item.seconds)
                item = exchange.send(None)
                continue
            try:
                response = send(item)
            except SendError as err:
                item = exchange.throw(err)
                continue
            item = exchange.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result


async def adrive(
    exchange: Generator[Request | Pause, Any, T],
    send: Callable[[Request], Awaitable[Response]],
    *,
    sleep: Callable[[float], Awaitable[object]] | None = None,
) -> T:
    """Run ``exchange`` to the end with an async ``send``; see :func:`drive`."""
    if sleep is None:
        import asyncio

        sleep = asyncio.sleep
    try:
        item = next(exchange)
        while True:
            if isinstance(item, Pause):
                await sleep(item.seconds)
                item = exchange.send(None)
                continue
            try:
                response = await send(item)
            except SendError as err:
                item = exchange.throw(err)
                continue
            item = exchange.send(response)
    except StopIteration as stop:
        result: T = stop.value
        return result


# -- policy ---------------------------------------------------------------


def _check_policy(errors: list[FieldError], name: str, ok: bool, rule: str) -> None:
    if not ok:
        errors.append(FieldError(name, rule))


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


@frozen(kw_only=True)
class RetryPolicy:
    """How often and how patiently a token request is retried.

    Only transient failures are retried: 429, 500, 502, 503 and 504
    answers, and requests that could not be sent (where the driver can
    tell, see :class:`SendError`). Waits double from ``backoff``; a
    ``Retry-After`` is honoured when it is at most ``max_delay``, and a
    longer one ends the retries at once rather than blocking for it.

    Args:
        attempts: Tries in all, the first included; 1 means no retry.
        backoff: The first wait, in seconds.
        max_delay: The longest wait, in seconds.
    """

    attempts: int = 3
    backoff: float = 0.5
    max_delay: float = 30.0

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        attempts_ok = isinstance(self.attempts, int) and self.attempts >= 1
        _check_policy(errors, "attempts", attempts_ok, "must be an integer >= 1")
        for name in ("backoff", "max_delay"):
            value = getattr(self, name)
            ok = _is_number(value) and value >= 0
            _check_policy(errors, name, ok, "must be a number >= 0")
        if errors:
            raise ConfigError([error.under("retry") for error in errors])

    def delay(self, attempt: int, asked: float | None) -> float | None:
        """Return the wait before the try after ``attempt``, or None to stop.

        Args:
            attempt: The number of the try that just failed, from 1.
            asked: The server's ``Retry-After`` in seconds, if any.
        """
        if attempt >= self.attempts:
            return None
        if asked is not None:
            return asked if asked <= self.max_delay else None
        return min(self.backoff * 2.0 ** (attempt - 1), self.max_delay)


def _compile(value: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
    if value is None or isinstance(value, re.Pattern):
        return value
    return re.compile(value)


@frozen
class RefreshSignal:
    """An API response that means "the token is no longer good".

    Args:
        status: The status that signals it, e.g. 401 or 403.
        body: A regular expression searched in the body, for services
            that say "token expired" in a 400 or 403; the body of a
            response with this status is then read.

    Example:
        >>> RefreshSignal(403, body=r"token.{0,20}expired")
        RefreshSignal(status=403, body=re.compile('token.{0,20}expired'))
    """

    status: int
    body: re.Pattern[str] | None = field(default=None, converter=_compile)

    def matches(self, response: Response) -> bool:
        """Tell whether ``response`` is this signal."""
        if response.status_code != self.status:
            return False
        if self.body is None:
            return True
        text = response.content.decode("utf-8", errors="replace")
        return self.body.search(text) is not None


def _to_retry(value: object) -> RetryPolicy:
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, dict):
        try:
            return RetryPolicy(**value)
        except TypeError:
            known = "attempts, backoff, max_delay"
            raise ConfigError([FieldError("retry", f"takes only {known}")]) from None
    raise ConfigError(
        [
            FieldError(
                "retry",
                f"must be a RetryPolicy or a table, got {type(value).__name__}",
            )
        ]
    )


def _to_signals(value: object) -> tuple[RefreshSignal, ...]:
    items = [value] if isinstance(value, int | RefreshSignal) else value
    if not isinstance(items, list | tuple | set | frozenset):
        raise ConfigError(
            [
                FieldError(
                    "refresh_on",
                    "must be a list of status codes or RefreshSignal values, "
                    f"got {type(value).__name__}",
                )
            ]
        )
    signals = []
    for item in items:
        if isinstance(item, RefreshSignal):
            signals.append(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            signals.append(RefreshSignal(item))
        else:
            raise ConfigError(
                [
                    FieldError(
                        "refresh_on",
                        "must be status codes or RefreshSignal values, got "
                        f"{type(item).__name__}",
                    )
                ]
            )
    return tuple(signals)


@frozen(kw_only=True)
class RenewalPolicy:
    """When tokens are renewed, and how hard the lifecycle tries.

    Args:
        margin: Renew this many seconds before the access token expires,
            so it cannot expire in flight. Capped at half the token's
            lifetime, so a short-lived token is not renewed on every use.
        default_lifetime: Seconds an access token is assumed to live when
            the server sends no usable ``expires_in``.
        lock_timeout: Seconds to wait for another renewal of the same
            token (in this process or, with a shared store, anywhere).
        retry: Retries of failed token requests.
        refresh_on: API responses that trigger one renewal and one retry;
            status codes or :class:`RefreshSignal` values.
    """

    margin: float = 60.0
    default_lifetime: float = 3600.0
    lock_timeout: float = 60.0
    retry: RetryPolicy = field(factory=RetryPolicy, converter=_to_retry)
    refresh_on: tuple[RefreshSignal, ...] = field(
        default=(RefreshSignal(401),), converter=_to_signals
    )
    statuses: frozenset[int] = field(init=False, eq=False, repr=False)
    body_statuses: frozenset[int] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        for name, low, rule in (
            ("margin", 0.0, "must be a number >= 0"),
            ("lock_timeout", 0.0, "must be a number >= 0"),
        ):
            value = getattr(self, name)
            _check_policy(errors, name, _is_number(value) and value >= low, rule)
        lifetime = self.default_lifetime
        lifetime_ok = _is_number(lifetime) and lifetime > 0
        _check_policy(errors, "default_lifetime", lifetime_ok, "must be a number > 0")
        if errors:
            raise ConfigError(errors)

        statuses = frozenset(signal.status for signal in self.refresh_on)
        body_statuses = frozenset(
            signal.status for signal in self.refresh_on if signal.body is not None
        )
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "body_statuses", body_statuses)

    def wants_renewal(self, response: Response) -> bool:
        """Tell whether ``response`` is one of the refresh signals."""
        if response.status_code not in self.statuses:
            return False
        return any(signal.matches(response) for signal in self.refresh_on)


_POLICY_OPTIONS = ("margin", "default_lifetime", "lock_timeout", "retry", "refresh_on")


# -- flows with a token lifecycle --------------------------------------------


class RenewableFlow(AuthFlow[UserT, AppT]):
    """A flow whose credentials carry an expiring token that it can renew.

    Subclasses say how to read the token from the credentials
    (:meth:`seed`), how to renew it (:meth:`renew`, an I/O-free exchange),
    how to put new tokens back (:meth:`with_token`), and what identifies
    the credentials (:meth:`identity`). Adapters drive them through a
    :class:`Lifecycle`; :meth:`auth_flow` is the same logic without store,
    locks or waiting, for tests and simple drivers.

    Args:
        credentials: The validated credentials.
        clock: The time source.
        nonce: The randomness source (state, PKCE verifiers).
        policy: A whole :class:`RenewalPolicy`; or give its fields
            (``margin``, ``default_lifetime``, ``lock_timeout``, ``retry``,
            ``refresh_on``) as keywords.
    """

    header_name: ClassVar[str] = "Authorization"
    """The request header the token goes in."""

    def __init__(
        self,
        credentials: Credentials[UserT, AppT],
        *,
        clock: Clock = time.time,
        nonce: NonceSource = default_nonce,
        policy: RenewalPolicy | None = None,
        **options: Any,
    ) -> None:
        shortcuts = {
            name: options.pop(name) for name in _POLICY_OPTIONS if name in options
        }
        super().__init__(credentials, clock=clock, nonce=nonce, **options)
        if policy is None:
            policy = RenewalPolicy(**shortcuts)
        elif shortcuts:
            names = ", ".join(sorted(shortcuts))
            raise ConfigError(
                [FieldError("policy", f"give either policy or {names}, not both")]
            )
        self.policy = policy
        self._record: TokenRecord | None = None
        self._offset = 0.0

    @abstractmethod
    def seed(self) -> TokenRecord | None:
        """Return the tokens the credentials carry, or None if they have none."""

    @abstractmethod
    def renew(self, current: TokenRecord | None) -> Exchange[Issued]:
        """Return an exchange that obtains fresh tokens.

        Args:
            current: The freshest tokens known (their refresh token is the
                one to spend), or None.
        """

    @abstractmethod
    def with_token(self, record: TokenRecord) -> Credentials[UserT, AppT]:
        """Return the credentials updated with ``record``, immutably."""

    @abstractmethod
    def identity(self) -> tuple[str, ...]:
        """Return what identifies these credentials, for the store key.

        Two credentials with the same identity share one token: include
        the token endpoint, the client, the audience and scopes, and the
        user, but nothing that changes when tokens are renewed.
        """

    def header_value(self, record: TokenRecord) -> str:
        """Return the value of :attr:`header_name` for ``record``."""
        token = record.access_token.reveal() if record.access_token else ""
        return f"Bearer {token}"

    def fresh_until(self, record: TokenRecord, offset: float) -> float:
        """Return the local time until which ``record`` may be used.

        Args:
            record: The tokens, times on the server's clock.
            offset: How far the server's clock runs ahead of ours.
        """
        if record.access_token is None:
            return -math.inf
        if record.expires_at is None:
            # A token given without its lifetime: use it until a 401.
            return math.inf

        margin = self.policy.margin
        if record.issued_at is not None:
            margin = min(margin, max(0.0, record.expires_at - record.issued_at) / 2)
        return record.expires_at - margin - offset

    def is_fresh(self, record: TokenRecord, offset: float) -> bool:
        """Tell whether ``record`` may be used now."""
        return self.clock() < self.fresh_until(record, offset)

    def apply(self, request: Request) -> None:
        """Set the token header from the credentials' own tokens, if any."""
        record = self._record or self.seed()
        if record is not None and record.access_token is not None:
            request.headers[self.header_name] = self.header_value(record)

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Apply the token, renewing it first if stale and once after a 401.

        This is the lifecycle without store, lock or waiting: a renewal
        that would pause raises the error it would retry instead. The
        flow keeps the new tokens in :attr:`credentials`.
        """
        record = self._record or self.seed()
        if record is None or not self.is_fresh(record, self._offset):
            record = yield from self._renew_bare(record)

        request.headers[self.header_name] = self.header_value(record)
        response = yield request

        if self.policy.wants_renewal(response):
            record = yield from self._renew_bare(record)
            request.headers[self.header_name] = self.header_value(record)
            yield request

    def _renew_bare(
        self, current: TokenRecord | None
    ) -> Generator[Request, Response, TokenRecord]:
        exchange = self.renew(current)
        try:
            item = next(exchange)
            while True:
                if isinstance(item, Pause):
                    raise item.error
                response = yield item
                item = exchange.send(response)
        except StopIteration as stop:
            issued: Issued = stop.value

        self._record = issued.record
        self._offset = issued.clock_offset
        self.credentials = self.with_token(issued.record)
        return issued.record


def credential_key(flow: RenewableFlow[Any, Any]) -> str:
    """Return the store key of ``flow``'s credentials.

    ``auth_id`` when the credentials have one (recommended: it is the
    only key that survives a change of tokens across restarts); else the
    type name and a hash of :meth:`RenewableFlow.identity`.
    """
    credentials = flow.credentials
    if credentials.auth_id:
        return f"auth_id:{credentials.auth_id}"
    joined = "\x1f".join(flow.identity()).encode("utf-8")
    digest = hashlib.sha256(joined).hexdigest()[:32]
    return f"{credentials.type.name}:{digest}"


# -- slots: one per store and key, shared in the process ------------------------


class _Flight:
    """One renewal in progress, and everyone waiting for its outcome."""

    __slots__ = ("abandoned", "done", "error", "finished", "record", "waiters")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.finished = False
        self.record: TokenRecord | None = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@frozen
class _Plan:
    use: TokenRecord | None = None
    base: TokenRecord | None = None


class _Slot:
    """The shared token state of one credential key in one store."""

    def __init__(self, store: TokenStore, key: str) -> None:
        self.store = store
        self.key = key
        self.record: TokenRecord | None = None
        self.offset = 0.0
        self._mutex = threading.Lock()
        self._flight: _Flight | None = None
        self._unsaved: TokenRecord | None = None

    # -- joining ----------------------------------------------------------

    def _enter(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None
    ) -> TokenRecord | tuple[_Flight, bool]:
        """Return a record to use, or the flight to lead (True) or join."""
        with self._mutex:
            current = self.record
            if (
                current is not None
                and not _same(current, stale)
                and flow.is_fresh(current, self.offset)
            ):
                return current
            if self._flight is None:
                self._flight = _Flight()
                return self._flight, True
            return self._flight, False

    def _finish(
        self,
        flight: _Flight,
        *,
        record: TokenRecord | None = None,
        error: BaseException | None = None,
    ) -> None:
        with self._mutex:
            flight.record = record
            flight.error = error
            flight.abandoned = record is None and not isinstance(error, Exception)
            flight.finished = True
            waiters, flight.waiters = flight.waiters, []
            if self._flight is flight:
                self._flight = None
        flight.done.set()
        for loop, future in waiters:
            # A closed loop raises RuntimeError; nobody waits there any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_wake, future)

    @staticmethod
    def _outcome(flight: _Flight) -> TokenRecord | None:
        """Return the flight's record, raise its error, or None to try again."""
        if flight.record is not None:
            return flight.record
        if flight.error is not None and not flight.abandoned:
            raise flight.error
        return None

    def _timeout(self, flow: RenewableFlow[Any, Any]) -> FlowError:
        seconds = flow.policy.lock_timeout
        return FlowError(
            f"gave up after {seconds:g} s waiting for another renewal of the "
            f"token {self.key!r}; raise lock_timeout if token requests are "
            "slow, and never call a sync client from inside an event loop"
        )

    # -- deciding ---------------------------------------------------------

    def _plan(
        self,
        flow: RenewableFlow[Any, Any],
        stale: TokenRecord | None,
        stored: TokenRecord | None,
    ) -> _Plan:
        if stored is not None:
            newer = stale is None or stored.version != stale.version or stored != stale
            if newer and flow.is_fresh(stored, self.offset):
                return _Plan(use=stored)
            return _Plan(base=stored)

        if stale is not None:
            return _Plan(base=stale)
        seed = flow.seed()
        if seed is not None and flow.is_fresh(seed, self.offset):
            return _Plan(use=seed)
        return _Plan(base=seed)

    def _adopt(self, record: TokenRecord) -> TokenRecord:
        with self._mutex:
            self.record = record
        return record

    def _conflict(self) -> None:
        logger.warning(
            "token %r was renewed elsewhere while this process renewed it; "
            "keeping the stored one (the store's lock may have expired)",
            self.key,
        )

    def _save_failed(self, record: TokenRecord, err: Exception) -> StoreError:
        self._unsaved = record
        logger.error(
            "could not save renewed tokens of %r (%s); keeping them in memory",
            self.key,
            type(err).__name__,
        )
        return StoreError(
            f"the token server issued new tokens for {self.key!r} but the "
            f"store could not save them ({type(err).__name__}); they are kept "
            "in this process and saved before the next use. Check the store",
            key=self.key,
        )

    # -- sync -------------------------------------------------------------

    def renew_sync(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None
    ) -> Generator[Request, Response, TokenRecord]:
        """Return a current record, renewing it as leader or waiting for one."""
        deadline = time.monotonic() + flow.policy.lock_timeout
        while True:
            entered = self._enter(flow, stale)
            if isinstance(entered, TokenRecord):
                return entered
            flight, leader = entered

            if not leader:
                if not flight.done.wait(max(0.0, deadline - time.monotonic())):
                    raise self._timeout(flow)
                outcome = self._outcome(flight)
                if outcome is not None and not _same(outcome, stale):
                    return outcome
                continue

            try:
                record = yield from self._lead_sync(flow, stale, deadline)
            except BaseException as err:
                self._finish(flight, error=err)
                raise
            self._finish(flight, record=record)
            return record

    # -- reading before locking --------------------------------------------
    #
    # A record that is already fresh in the store (put there by another
    # process, or by an earlier run) is used without taking the lock: on a
    # shared store the lock costs round trips, and the valid-token path
    # should be one read. Only a stale or missing record goes on to the
    # locked re-read and renewal below.

    def _fresh_without_lock_sync(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None
    ) -> TokenRecord | None:
        if self._unsaved is not None:
            return None
        stored = self.store.get(self.key)
        if stored is None:
            return None
        plan = self._plan(flow, stale, stored)
        return None if plan.use is None else self._adopt(plan.use)

    async def _fresh_without_lock_async(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None
    ) -> TokenRecord | None:
        if self._unsaved is not None:
            return None
        stored = await self.store.aget(self.key)
        if stored is None:
            return None
        plan = self._plan(flow, stale, stored)
        return None if plan.use is None else self._adopt(plan.use)

    def _lead_sync(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None, deadline: float
    ) -> Generator[Request, Response, TokenRecord]:
        early = self._fresh_without_lock_sync(flow, stale)
        if early is not None:
            return early

        timeout = max(0.0, deadline - time.monotonic())
        with self.store.lock(self.key, timeout=timeout):
            stored = self.store.get(self.key)
            if self._unsaved is not None:
                return self._flush_unsaved_sync(stored)

            plan = self._plan(flow, stale, stored)
            if plan.use is not None:
                return self._adopt(plan.use)

            logger.debug("renewing token %r", self.key)
            try:
                issued = yield from _run_sync(flow.renew(plan.base))
            except TokenError:
                again = self.store.get(self.key)
                if again is not None and _changed(again, stored):
                    return self._adopt(again)
                raise
            return self._save_sync(issued, stored)

    def _flush_unsaved_sync(self, stored: TokenRecord | None) -> TokenRecord:
        unsaved, expected = self._unsaved, _version(stored)
        assert unsaved is not None
        try:
            saved = self.store.put(self.key, unsaved, expected_version=expected)
        except VersionConflict:
            self._unsaved = None
            newest = self.store.get(self.key)
            if newest is None:
                raise
            return self._adopt(newest)
        except Exception as err:
            raise self._save_failed(unsaved, err) from err
        self._unsaved = None
        return self._adopt(saved)

    def _save_sync(self, issued: Issued, stored: TokenRecord | None) -> TokenRecord:
        self.offset = issued.clock_offset
        try:
            saved = self.store.put(
                self.key, issued.record, expected_version=_version(stored)
            )
        except VersionConflict:
            newest = self.store.get(self.key)
            self._conflict()
            if newest is None:
                saved = self.store.put(self.key, issued.record, expected_version=0)
            else:
                saved = newest
        except Exception as err:
            raise self._save_failed(issued.record, err) from err
        return self._adopt(saved)

    # -- async ------------------------------------------------------------

    async def renew_async(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None
    ) -> AsyncGenerator[Request | TokenRecord, Response]:
        """Yield token requests, then the current record as the last item."""
        import asyncio

        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + flow.policy.lock_timeout
        while True:
            entered = self._enter(flow, stale)
            if isinstance(entered, TokenRecord):
                yield entered
                return
            flight, leader = entered

            if not leader:
                await self._wait_async(loop, flight, deadline, flow)
                outcome = self._outcome(flight)
                if outcome is not None and not _same(outcome, stale):
                    yield outcome
                    return
                continue

            try:
                lead = self._lead_async(flow, stale, deadline)
                try:
                    item = await lead.__anext__()
                    while not isinstance(item, TokenRecord):
                        response = yield item
                        item = await lead.asend(response)
                finally:
                    await lead.aclose()
            except BaseException as err:
                self._finish(flight, error=err)
                raise
            self._finish(flight, record=item)
            yield item
            return

    async def _wait_async(
        self,
        loop: asyncio.AbstractEventLoop,
        flight: _Flight,
        deadline: float,
        flow: RenewableFlow[Any, Any],
    ) -> None:
        import asyncio

        with self._mutex:
            if flight.finished:
                return
            future: asyncio.Future[None] = loop.create_future()
            flight.waiters.append((loop, future))
        try:
            await asyncio.wait_for(future, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise self._timeout(flow) from None

    async def _lead_async(
        self, flow: RenewableFlow[Any, Any], stale: TokenRecord | None, deadline: float
    ) -> AsyncGenerator[Request | TokenRecord, Response]:
        import asyncio

        early = await self._fresh_without_lock_async(flow, stale)
        if early is not None:
            yield early
            return

        timeout = max(0.0, deadline - time.monotonic())
        async with self.store.alock(self.key, timeout=timeout):
            stored = await self.store.aget(self.key)
            if self._unsaved is not None:
                yield await self._flush_unsaved_async(stored)
                return

            plan = self._plan(flow, stale, stored)
            if plan.use is not None:
                yield self._adopt(plan.use)
                return

            logger.debug("renewing token %r", self.key)
            exchange = flow.renew(plan.base)
            try:
                item = next(exchange)
                while True:
                    if isinstance(item, Pause):
                        await asyncio.sleep(item.seconds)
                        item = exchange.send(None)
                        continue
                    try:
                        response = yield item
                    except SendError as err:
                        item = exchange.throw(err)
                        continue
                    item = exchange.send(response)
            except StopIteration as stop:
                issued: Issued = stop.value
            except TokenError:
                again = await self.store.aget(self.key)
                if again is not None and _changed(again, stored):
                    yield self._adopt(again)
                    return
                raise
            yield await self._save_async(issued, stored)

    async def _flush_unsaved_async(self, stored: TokenRecord | None) -> TokenRecord:
        unsaved, expected = self._unsaved, _version(stored)
        assert unsaved is not None
        try:
            saved = await self.store.aput(self.key, unsaved, expected_version=expected)
        except VersionConflict:
            self._unsaved = None
            newest = await self.store.aget(self.key)
            if newest is None:
                raise
            return self._adopt(newest)
        except Exception as err:
            raise self._save_failed(unsaved, err) from err
        self._unsaved = None
        return self._adopt(saved)

    async def _save_async(
        self, issued: Issued, stored: TokenRecord | None
    ) -> TokenRecord:
        self.offset = issued.clock_offset
        try:
            saved = await self.store.aput(
                self.key, issued.record, expected_version=_version(stored)
            )
        except VersionConflict:
            newest = await self.store.aget(self.key)
            self._conflict()
            if newest is None:
                saved = await self.store.aput(
                    self.key, issued.record, expected_version=0
                )
            else:
                saved = newest
        except Exception as err:
            raise self._save_failed(issued.record, err) from err
        return self._adopt(saved)


def _same(record: TokenRecord, stale: TokenRecord | None) -> bool:
    """Tell whether ``record`` holds the very tokens found stale.

    By value, not identity: a durable store returns a new object on every
    read, and a 401 must not be retried with the token it just refused.
    """
    if stale is None:
        return False
    return record is stale or (record.version == stale.version and record == stale)


def _version(record: TokenRecord | None) -> int:
    return 0 if record is None else record.version


def _changed(now: TokenRecord, before: TokenRecord | None) -> bool:
    return before is None or now.version != before.version or now != before


def _run_sync(exchange: Exchange[Issued]) -> Generator[Request, Response, Issued]:
    """Run an exchange, waiting out its pauses; forward thrown SendErrors."""
    try:
        item = next(exchange)
        while True:
            if isinstance(item, Pause):
                time.sleep(item.seconds)
                item = exchange.send(None)
                continue
            try:
                response = yield item
            except SendError as err:
                item = exchange.throw(err)
                continue
            item = exchange.send(response)
    except StopIteration as stop:
        issued: Issued = stop.value
        return issued


_slots: weakref.WeakValueDictionary[tuple[int, str], _Slot] = (
    weakref.WeakValueDictionary()
)
_slots_guard = threading.Lock()


def _slot_for(store: TokenStore, key: str) -> _Slot:
    # A slot holds its store, so the store's id cannot be reused while the
    # slot lives; a dead slot's entry vanishes with it.
    with _slots_guard:
        slot = _slots.get((id(store), key))
        if slot is None:
            slot = _Slot(store, key)
            _slots[(id(store), key)] = slot
        return slot


# -- the lifecycle of one auth object -------------------------------------------


@frozen
class View:
    """A record with its header value and local expiry worked out once.

    Args:
        record: The tokens.
        header_value: The value of the flow's header for them.
        fresh_until: The local time until which they may be used.
    """

    record: TokenRecord
    header_value: str
    fresh_until: float


class Lifecycle:
    """Apply a renewable flow's token to requests, renewing it when needed.

    One per auth object; every lifecycle for the same store and key shares
    one slot (see the module docstring). Adapters use :meth:`current` on
    the fast path and :meth:`renew_sync` / :meth:`renew_async` otherwise;
    :meth:`sync_auth_flow` and :meth:`async_auth_flow` are the whole rule
    on :mod:`authplug.http` objects, for drivers that want no shortcuts.

    Args:
        flow: The flow to drive.
        store: Where tokens live; the process-wide memory store if None.
        key: The credential key; :func:`credential_key` if None.
    """

    def __init__(
        self,
        flow: RenewableFlow[Any, Any],
        store: TokenStore | None = None,
        *,
        key: str | None = None,
    ) -> None:
        self.flow = flow
        self.store = store if store is not None else default_store()
        self.key = key if key is not None else credential_key(flow)
        self.header_name = flow.header_name
        self.policy = flow.policy
        self._clock = flow.clock
        self._slot = _slot_for(self.store, self.key)
        self._view: View | None = None
        self._credentials: tuple[TokenRecord | None, Credentials[Any, Any]] = (
            None,
            flow.credentials,
        )

    def current(self) -> View | None:
        """Return the cached view if it is fresh, else None. No lock, no I/O."""
        view = self._view
        if view is not None and self._clock() < view.fresh_until:
            return view
        return None

    def stale(self) -> TokenRecord | None:
        """Return the record last used, for renewing past it."""
        view = self._view
        return None if view is None else view.record

    def invalidate(self) -> None:
        """Treat the current token as expired; the next request renews it."""
        view = self._view
        if view is not None:
            self._view = View(view.record, view.header_value, -math.inf)

    @property
    def credentials(self) -> Credentials[Any, Any]:
        """Return the credentials with the newest tokens this process has."""
        record = self._slot.record
        if self._view is not None:
            record = self._view.record if record is None else record
        cached_record, cached = self._credentials
        if record is None or record is cached_record:
            return cached
        credentials = self.flow.with_token(record)
        self._credentials = (record, credentials)
        return credentials

    def _make_view(self, record: TokenRecord) -> View:
        fresh_until = self.flow.fresh_until(record, self._slot.offset)
        view: View = View(record, self.flow.header_value(record), fresh_until)
        self._view = view
        return view

    def renew_sync(
        self, stale: TokenRecord | None
    ) -> Generator[Request, Response, View]:
        """Renew past ``stale`` (or load the first token) and return the view."""
        record = yield from self._slot.renew_sync(self.flow, stale)
        return self._make_view(record)

    async def renew_async(
        self, stale: TokenRecord | None
    ) -> AsyncGenerator[Request | View, Response]:
        """Yield token requests, then the renewed view as the last item."""
        renewal = self._slot.renew_async(self.flow, stale)
        try:
            item = await renewal.__anext__()
            while not isinstance(item, TokenRecord):
                response = yield item
                item = await renewal.asend(response)
        finally:
            await renewal.aclose()
        yield self._make_view(item)

    def sync_auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        """Apply the token to ``request``; renew and retry once on a signal."""
        view = self.current()
        if view is None:
            view = yield from self.renew_sync(self.stale())

        request.headers[self.header_name] = view.header_value
        response = yield request

        if self.policy.wants_renewal(response):
            view = yield from self.renew_sync(view.record)
            request.headers[self.header_name] = view.header_value
            yield request

    async def async_auth_flow(
        self, request: Request
    ) -> AsyncGenerator[Request, Response]:
        """Do :meth:`sync_auth_flow` without blocking the event loop."""
        view = self.current()
        stale = self.stale()
        retried = False
        while True:
            if view is None:
                renewal = self.renew_async(stale)
                try:
                    item = await renewal.__anext__()
                    while not isinstance(item, View):
                        response = yield item
                        item = await renewal.asend(response)
                finally:
                    await renewal.aclose()
                view = item

            request.headers[self.header_name] = view.header_value
            response = yield request
            if retried or not self.policy.wants_renewal(response):
                return
            retried, stale, view = True, view.record, None
