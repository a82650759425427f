"""The sandbox: the network block, the log capture and the flow driver."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import warnings
from collections.abc import Generator, Iterator

import pytest

from authplug import AuthFlow, Request, Response
from authplug.builtin.token import TOKEN
from authplug.testing import captured_output, no_network, run_flow
from authplug.testing.report import Broken
from authplug.testing.sandbox import TOKEN_RESPONSE_SECRETS, NetworkBlocked


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    try:
        yield server.getsockname()
    finally:
        server.close()


def test_no_network_blocks_connections_and_records_them(
    listener: tuple[str, int],
) -> None:
    with no_network() as attempts:
        with pytest.raises(NetworkBlocked):
            socket.create_connection(listener, timeout=1)
        with socket.socket() as raw, pytest.raises(NetworkBlocked):
            raw.connect(listener)
        with pytest.raises(NetworkBlocked):
            socket.getaddrinfo("example.test", 443)

    assert attempts == [
        f"socket.create_connection({listener!r})",
        f"socket.socket.connect({listener!r})",
        "socket.getaddrinfo('example.test', 443)",
    ]


def test_no_network_restores_the_socket_functions(listener: tuple[str, int]) -> None:
    with no_network():
        pass

    with socket.create_connection(listener, timeout=1) as connection:
        assert connection.getpeername() == listener


def test_an_attempt_is_recorded_even_when_the_code_swallows_the_error() -> None:
    with no_network() as attempts, contextlib.suppress(OSError):
        socket.gethostbyname("example.test")

    assert attempts == ["socket.gethostbyname('example.test')"]


def test_captured_output_sees_quiet_and_detached_loggers() -> None:
    quiet = logging.getLogger("kit.test.quiet")
    quiet.setLevel(logging.ERROR)
    detached = logging.getLogger("kit.test.detached")
    detached.propagate = False
    try:
        with captured_output() as captured:
            quiet.debug("debug from %s", "quiet")
            detached.info("info from detached")
            warnings.warn("a warning", UserWarning, stacklevel=1)

        texts = [text for _, text in captured.texts()]
        assert texts == ["debug from quiet", "info from detached", "a warning"]
        assert quiet.level == logging.ERROR
        assert detached.handlers == []
    finally:
        quiet.setLevel(logging.NOTSET)
        detached.propagate = True


def test_captured_output_includes_tracebacks() -> None:
    log = logging.getLogger("kit.test.errors")

    with captured_output() as captured:
        try:
            raise ValueError("inner detail")
        except ValueError:
            log.exception("it failed")

    [(where, text)] = list(captured.texts())
    assert where == "a log record of 'kit.test.errors' (ERROR)"
    assert "it failed" in text
    assert "ValueError: inner detail" in text


class TokenFirstFlow(AuthFlow[object, object]):
    """Asks a token endpoint first, then sends the API request with it."""

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        response = yield Request("POST", "https://auth.example.test/token")
        token = json.loads(response.content)["access_token"]
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _flow(flow_class: type[AuthFlow[object, object]]) -> AuthFlow[object, object]:
    credentials = TOKEN.load({"user": {"access_token": "t"}})
    return flow_class(credentials)  # type: ignore[arg-type]


def test_run_flow_answers_a_token_request_with_a_token() -> None:
    request = Request("GET", "https://api.example.test/items")

    run = run_flow(_flow(TokenFirstFlow), request)

    assert [sent.url for sent in run.sent] == [
        "https://auth.example.test/token",
        "https://api.example.test/items",
    ]
    assert run.final.headers["Authorization"] == f"Bearer {TOKEN_RESPONSE_SECRETS[0]}"


class LoopingFlow(AuthFlow[object, object]):
    """Retries for ever."""

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        while True:
            yield request


def test_run_flow_stops_a_flow_that_loops() -> None:
    request = Request("GET", "https://api.example.test/items")

    with pytest.raises(Broken, match="yielded more than 8 requests"):
        run_flow(_flow(LoopingFlow), request)


class ForgetfulFlow(AuthFlow[object, object]):
    """Sends a token request and never the API request."""

    def auth_flow(self, request: Request) -> Generator[Request, Response, None]:
        yield Request("POST", "https://auth.example.test/token")


def test_run_flow_insists_the_api_request_is_yielded() -> None:
    request = Request("GET", "https://api.example.test/items")

    with pytest.raises(Broken, match="without yielding the API request"):
        run_flow(_flow(ForgetfulFlow), request)
