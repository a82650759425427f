"""A real OAuth1 provider on 127.0.0.1, verified by oauthlib, for tests.

:class:`OAuth1Server` serves oauthlib's endpoints over HTTP from a thread:

- ``POST /initiate``: temporary credentials (request token endpoint);
- ``GET /authorize``: the user's approval, given at once; redirects to the
  callback with the verifier, or answers it as a form for ``oob``;
- ``POST /token``: token credentials (access token endpoint);
- ``/api/...``: a protected resource, any method, which needs token
  credentials and echoes what arrived as JSON; ``/api/moved`` redirects
  (307) to ``/api/me`` with the same query;
- ``/app/...``: the same with consumer credentials alone (two-legged).

Signatures, nonces and timestamps are checked by oauthlib alone, on the
request exactly as it reached the socket: an independent verifier of
what authplug and the HTTP adapters send. The provider's storage is the
in-memory validator of ``tests/test_oauth1_oauthlib.py``, so both suites
trust the same client, secrets and access token.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from attrs import frozen
from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    ResourceEndpoint,
    SignatureOnlyEndpoint,
)
from tests.test_oauth1_oauthlib import (
    ACCESS_SECRET,
    ACCESS_TOKEN,
    CALLBACK,
    CLIENT_KEY,
    CLIENT_SECRET,
    REALM,
    MemoryValidator,
    pem_pair,
)
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

__all__ = [
    "ACCESS_SECRET",
    "ACCESS_TOKEN",
    "CALLBACK",
    "CLIENT_KEY",
    "CLIENT_SECRET",
    "REALM",
    "OAuth1Server",
    "Received",
]

logger = logging.getLogger(__name__)

_FORM = "application/x-www-form-urlencoded"


@frozen
class Received:
    """One request the protected resource accepted, as it arrived.

    Args:
        method: The HTTP method.
        path: The path, without the query.
        query: The decoded query parameters, in order.
        headers: The request headers, names lower case.
        body: The raw body.
        client_key: The consumer key oauthlib verified.
        token: The access token oauthlib verified; None when two-legged.
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    client_key: str
    token: str | None

    def form(self) -> list[tuple[str, str]]:
        """Return the decoded form body fields, in order."""
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug("%s %s -> %s", self.command, self.path.split("?")[0], code)


class OAuth1Server:
    """An OAuth1 provider on 127.0.0.1, serving from a daemon thread.

    Use it as a context manager. :attr:`received` lists every request the
    resource accepted; :attr:`refused` counts those it turned away.
    """

    def __init__(self) -> None:
        self.rsa_private_key, rsa_public_key = pem_pair()
        self.validator = MemoryValidator(rsa_public_key)
        self.received: list[Received] = []
        self.refused = 0
        # oauthlib's endpoints and the validator's dicts are not made for
        # concurrent use; a lock keeps the threaded server honest.
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def request_token_url(self) -> str:
        """Return the temporary credentials endpoint."""
        return f"{self.url}/initiate"

    @property
    def authorize_url(self) -> str:
        """Return the resource owner authorization endpoint."""
        return f"{self.url}/authorize"

    @property
    def access_token_url(self) -> str:
        """Return the token credentials endpoint."""
        return f"{self.url}/token"

    def start(self) -> OAuth1Server:
        """Listen on a free port and serve; return self."""
        server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._server = server
        self.url = f"http://127.0.0.1:{server.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"oauth1-server-{server.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> OAuth1Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every request seen, keeping clients and tokens."""
        with self._lock:
            self.received.clear()
            self.refused = 0

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = WsgiRequest(environ)
        with self._lock:
            response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: WsgiRequest) -> WsgiResponse:
        # The URL as the client wrote it: werkzeug's own request.url is
        # re-encoded, and a signature covers the exact path and query.
        uri = f"http://{request.host}{request.environ['RAW_URI']}"
        body = request.get_data()
        call = {
            "uri": uri,
            "http_method": request.method,
            "body": body.decode("utf-8") if _is_form(request) else None,
            "headers": dict(request.headers),
        }

        if request.path == "/initiate":
            endpoint = RequestTokenEndpoint(self.validator)
            return _answer(*endpoint.create_request_token_response(**call))
        if request.path == "/authorize":
            endpoint = AuthorizationEndpoint(self.validator)
            return _answer(*endpoint.create_authorization_response(uri, realms=[REALM]))
        if request.path == "/token":
            endpoint = AccessTokenEndpoint(self.validator)
            return _answer(*endpoint.create_access_token_response(**call))
        if request.path == "/api/moved":
            # 307 keeps the method and body: the client must sign anew.
            moved = f"http://{request.host}/api/me?{request.query_string.decode()}"
            return WsgiResponse("", status=307, headers={"Location": moved})
        if request.path.startswith("/api/"):
            valid, checked = ResourceEndpoint(
                self.validator
            ).validate_protected_resource_request(realms=[REALM], **call)
        elif request.path.startswith("/app/"):
            valid, checked = SignatureOnlyEndpoint(self.validator).validate_request(
                **call
            )
        else:
            return WsgiResponse("not found", status=404)

        if not valid:
            self.refused += 1
            return WsgiResponse(
                "invalid signature",
                status=401,
                headers={"WWW-Authenticate": f'OAuth realm="{REALM}"'},
            )
        received = Received(
            method=request.method,
            path=request.path,
            query=parse_qsl(request.query_string.decode(), keep_blank_values=True),
            headers={name.lower(): value for name, value in request.headers.items()},
            body=body,
            client_key=checked.client_key,
            token=checked.resource_owner_key,
        )
        self.received.append(received)
        echo = {
            "method": received.method,
            "path": received.path,
            "query": received.query,
            "form": received.form() if _is_form(request) else None,
            "client_key": received.client_key,
            "token": received.token,
        }
        return WsgiResponse(json.dumps(echo), content_type="application/json")


def _is_form(request: WsgiRequest) -> bool:
    return request.mimetype == _FORM


def _answer(headers: dict[str, str], body: str | None, status: int) -> WsgiResponse:
    return WsgiResponse(body or "", status=status, headers=headers)
