"""A one-shot HTTP listener on a loopback address for an OAuth redirect.

``authplug authorize`` sends the user's browser to the authorization page;
the service then redirects the browser to a loopback address (RFC 8252,
section 7.3), where :class:`CallbackListener` waits. The browser is kept
waiting until the command has exchanged the code, so that the page it
finally shows says whether that worked.

Only the first request to the callback path that carries a ``code`` or an
``error`` is taken; anything else gets a short page and changes nothing.
The listener logs no request line: its query holds the code.
"""

from __future__ import annotations

import html
import logging
import queue
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from attrs import frozen

__all__ = ["CallbackListener", "Page"]

logger = logging.getLogger(__name__)

# How long the browser is kept waiting for the outcome of the exchange;
# far longer than a token request, short enough that no thread lingers.
_ANSWER_WAIT = 120.0


@frozen
class Page:
    """What the browser is shown: a status and two lines of plain text."""

    status: int
    title: str
    message: str

    def render(self) -> bytes:
        """Return the page as a small HTML document."""
        title = html.escape(self.title)
        message = html.escape(self.message)
        document = (
            "<!doctype html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f"<title>authplug: {title}</title></head>\n"
            f"<body><h1>{title}</h1><p>{message}</p></body></html>\n"
        )
        return document.encode("utf-8")


STOPPED = Page(
    503,
    "Authorization stopped",
    "authplug stopped waiting before it could use this answer. You can close "
    "this tab; the terminal says what happened.",
)
_NOT_HERE = Page(404, "Not found", "This address only receives an OAuth redirect.")
_WAITING = Page(
    400,
    "Waiting for the authorization",
    "This address waits for the authorization server to send your browser "
    "here after you approve; open the address the terminal shows.",
)
_TAKEN = Page(
    409,
    "Already answered",
    "authplug has already received an answer for this authorization. You "
    "can close this tab.",
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # The default prints a traceback; a browser that went away while
        # waiting is no error of the command's.
        logger.debug("redirect listener: a request failed", exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class CallbackListener:
    """Listen on ``host:port`` for one redirect to ``path``.

    Use it as a context manager: it serves from a thread while open.
    :meth:`wait` returns what arrived; :meth:`answer` sets the page the
    waiting browser gets. Closing answers a browser still waiting with
    :data:`STOPPED`.

    Args:
        host: A loopback address to bind: ``127.0.0.1`` or ``::1``.
        port: The port; 0 for any free one (see :attr:`port`).
        path: The callback path, such as ``/callback``.

    Raises:
        OSError: The address cannot be bound (the port is taken).
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.path = path or "/"
        self._arrived: queue.Queue[str] = queue.Queue(maxsize=1)
        self._page: Page | None = None
        self._answered = threading.Event()
        self._claimed = False
        self._lock = threading.Lock()

        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="authplug-redirect-listener",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """Return the port the listener is bound to."""
        port: int = self._server.server_address[1]
        return port

    def __enter__(self) -> CallbackListener:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def wait(self, timeout: float) -> str | None:
        """Return the path and query the browser was sent to, or None on timeout."""
        try:
            return self._arrived.get(timeout=timeout)
        except queue.Empty:
            return None

    def answer(self, page: Page) -> None:
        """Show ``page`` to the browser waiting on the callback."""
        if not self._answered.is_set():
            self._page = page
            self._answered.set()

    def close(self) -> None:
        """Answer any waiting browser, stop serving and free the port."""
        self.answer(STOPPED)
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive():
            self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "authplug"
            sys_version = ""

            def do_GET(self) -> None:
                listener._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                # The default logs the request line, whose query is the code.
                logger.debug("redirect listener: %s", self.command)

        return Handler

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        target = urlsplit(handler.path)
        if target.path != self.path:
            _send(handler, _NOT_HERE)
            return

        params = parse_qs(target.query)
        if "code" not in params and "error" not in params:
            _send(handler, _WAITING)
            return

        with self._lock:
            first, self._claimed = not self._claimed, True
        if not first:
            _send(handler, _TAKEN)
            return

        self._arrived.put(handler.path)
        self._answered.wait(_ANSWER_WAIT)
        _send(handler, self._page or STOPPED)


def _send(handler: BaseHTTPRequestHandler, page: Page) -> None:
    body = page.render()
    handler.send_response(page.status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Cache-Control", "no-store")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)
