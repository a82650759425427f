"""Run auth code under watch: no network, every log record kept, flows driven.

:func:`no_network` makes every socket connection and name lookup fail and
records the attempt, so a flow that does I/O of its own is caught even if it
swallows the error. :func:`captured_output` keeps every log record and
warning raised inside it. :func:`run_flow` drives a flow's generator by
hand, answering each request it yields with a synthetic response.
"""

from __future__ import annotations

import json
import logging
import socket
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from attrs import define, field

from authplug.flow import AuthFlow
from authplug.http import Request, Response
from authplug.testing.report import Broken

__all__ = [
    "TOKEN_RESPONSE_SECRETS",
    "Captured",
    "FlowRun",
    "NetworkBlocked",
    "Responder",
    "answer_ok",
    "captured_output",
    "copy_request",
    "no_network",
    "run_flow",
    "same_target",
    "synthetic_response",
]

TOKEN_RESPONSE_SECRETS = ("S3cr3tTokenResponseAccess", "S3cr3tTokenResponseRefresh")
"""The tokens every synthetic token response carries, spotted like others."""

_MAX_STEPS = 8


class NetworkBlocked(OSError):
    """Raised by every socket call that :func:`no_network` blocks."""


def _describe_call(name: str, args: tuple[Any, ...]) -> str:
    shown = [arg for arg in args if not isinstance(arg, socket.socket)]
    return f"{name}({', '.join(repr(arg) for arg in shown[:2])})"


@contextmanager
def no_network() -> Iterator[list[str]]:
    """Block every connection and name lookup; yield the attempts made.

    Patches ``socket.socket.connect`` and ``connect_ex``,
    ``socket.create_connection``, ``socket.getaddrinfo`` and
    ``socket.gethostbyname`` for the duration, and restores them after.
    """
    attempts: list[str] = []

    def refusing(name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            attempts.append(_describe_call(name, args))
            raise NetworkBlocked(f"the authplug contract kit blocks {name}")

        return refuse

    targets: list[tuple[Any, str]] = [
        (socket.socket, "connect"),
        (socket.socket, "connect_ex"),
        (socket, "create_connection"),
        (socket, "getaddrinfo"),
        (socket, "gethostbyname"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]
    try:
        for owner, name in targets:
            label = f"socket.{name}" if owner is socket else f"socket.socket.{name}"
            setattr(owner, name, refusing(label))
        yield attempts
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


@define
class Captured:
    """What :func:`captured_output` saw: log records and warnings."""

    records: list[logging.LogRecord] = field(factory=list)
    warnings: list[warnings.WarningMessage] = field(factory=list)

    def texts(self) -> Iterator[tuple[str, str]]:
        """Yield each record and warning as (where, text), for scanning."""
        formatter = logging.Formatter()
        for record in self.records:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + formatter.formatException(record.exc_info)
            if record.stack_info:
                text += "\n" + record.stack_info
            yield f"a log record of {record.name!r} ({record.levelname})", text
        for caught in self.warnings:
            yield f"a {caught.category.__name__}", str(caught.message)


class _Keep(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.kept = records

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append(record)


@contextmanager
def captured_output() -> Iterator[Captured]:
    """Keep every log record, at every level, and every warning raised inside.

    Levels set on existing loggers are lowered to DEBUG for the duration,
    and loggers that do not propagate get the handler too, so no record
    escapes the scan.
    """
    captured = Captured()
    handler = _Keep(captured.records)
    root = logging.getLogger()
    loggers = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    levels = [(logger, logger.level) for logger in [root, *loggers]]
    detached = [logger for logger in loggers if not logger.propagate]
    disabled = logging.root.manager.disable

    logging.disable(logging.NOTSET)
    for logger, level in levels:
        if level > logging.DEBUG or logger is root:
            logger.setLevel(logging.DEBUG)
    for logger in [root, *detached]:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield captured
        captured.warnings.extend(caught)
    finally:
        for logger in [root, *detached]:
            logger.removeHandler(handler)
        for logger, level in levels:
            logger.setLevel(level)
        logging.disable(disabled)


def copy_request(request: Request) -> Request:
    """Return an independent copy of ``request``."""
    return Request(
        method=request.method,
        url=request.url,
        headers=dict(request.headers),
        content=request.content,
    )


def same_target(one: Request, other: Request) -> bool:
    """Tell whether two requests go to the same method, host and path."""
    first, second = urlsplit(one.url), urlsplit(other.url)
    return (one.method, first.scheme, first.netloc, first.path) == (
        other.method,
        second.scheme,
        second.netloc,
        second.path,
    )


def synthetic_response(original: Request, sent: Request, status: int = 200) -> Response:
    """Answer ``sent``: an empty JSON body for the API request, else a token.

    A request to anywhere other than the API request's target is taken as
    a token request and answered with a valid bearer token response.
    """
    headers = {"content-type": "application/json"}
    if sent is original or same_target(sent, original):
        return Response(status_code=status, headers=headers, content=b"{}")

    access, refresh = TOKEN_RESPONSE_SECRETS
    body = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": refresh,
    }
    return Response(
        status_code=200,
        headers={**headers, "cache-control": "no-store"},
        content=json.dumps(body).encode(),
    )


Responder = Callable[[Request, Request, int], Response]
"""Answers ``(api_request, sent, step)`` with the response to send back."""


def answer_ok(original: Request, sent: Request, step: int) -> Response:
    """Answer every request the flow sends with a successful response."""
    return synthetic_response(original, sent)


@define
class FlowRun:
    """The requests a flow yielded, in order, and the API request among them.

    Args:
        sent: Every request the flow yielded.
        final: The last yielded request aimed at the API request's target.
    """

    sent: list[Request]
    final: Request


def run_flow(
    flow: AuthFlow[Any, Any],
    request: Request,
    *,
    respond: Responder = answer_ok,
    max_steps: int = _MAX_STEPS,
) -> FlowRun:
    """Drive ``flow.auth_flow(request)`` to its end, answering every request.

    Args:
        flow: The flow to drive.
        request: The API request to apply it to.
        respond: Called as ``respond(request, sent, step)`` for each yielded
            request; returns the response to send back.
        max_steps: How many requests a flow may yield before it is taken to
            loop.

    Raises:
        Broken: The flow looped, or never yielded the API request.
    """
    generator = flow.auth_flow(request)
    sent: list[Request] = []
    final: Request | None = None
    try:
        outgoing = next(generator)
        while True:
            sent.append(copy_request(outgoing))
            if outgoing is request or same_target(outgoing, request):
                final = copy_request(outgoing)
            if len(sent) > max_steps:
                raise Broken(
                    f"the flow yielded more than {max_steps} requests for one "
                    "API request; it looks like a loop"
                )
            outgoing = generator.send(respond(request, outgoing, len(sent)))
    except StopIteration:
        pass
    finally:
        generator.close()

    if final is None:
        raise Broken(
            "the flow finished without yielding the API request it was given; "
            f"it yielded: {[f'{r.method} {r.url}' for r in sent]}"
        )
    return FlowRun(sent=sent, final=final)
