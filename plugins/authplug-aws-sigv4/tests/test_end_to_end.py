"""Signed requests sent by httpx2 to a real server that checks them.

The server listens on 127.0.0.1 and knows the credentials, as AWS does. It
rebuilds each request from what arrived on the socket, re-signs it with
botocore's signer over the headers the request says it signed, and
answers 200 only if the signatures agree, else 403 with the reason.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, urlencode, urlsplit

import authplug
import httpx2
import pytest
from authplug import Credentials
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN//+=="
REGION = "eu-central-1"
PRESIGN_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
}


class Verifier:
    """What the server knows: the credentials and how they should sign."""

    def __init__(self, service: str, *, unsigned_payload: bool = False) -> None:
        self.service = service
        self.unsigned_payload = unsigned_payload
        self.credentials = BotocoreCredentials(KEY_ID, SECRET, TOKEN)
        self.seen: list[dict[str, Any]] = []

    @property
    def s3(self) -> bool:
        return self.service == "s3"

    def check(self, method: str, url: str, headers: Any, body: bytes) -> str | None:
        """Return None if the request is signed correctly, else the reason."""
        query = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
        self.seen.append({"method": method, "url": url, "body": body})
        if "X-Amz-Signature" in query:
            return self._check_presigned(method, url, headers, query)
        return self._check_header(method, url, headers, body)

    def _check_header(
        self, method: str, url: str, headers: Any, body: bytes
    ) -> str | None:
        received = headers.get("Authorization", "")
        signed = _signed_header_names(received)
        if not signed:
            return f"no usable Authorization header: {received[:40]!r}"

        request = AWSRequest(method=method, url=url, data=body)
        for name, value in headers.items():
            if name.lower() in signed and name.lower() != "x-amz-date":
                request.headers[name] = value
        if self.unsigned_payload:
            request.context["payload_signing_enabled"] = False
        if self.s3:
            s3_config = {"payload_signing_enabled": not self.unsigned_payload}
            request.context["client_config"] = SimpleNamespace(s3=s3_config)

        signer_class = S3SigV4Auth if self.s3 else SigV4Auth
        signer = signer_class(self.credentials, self.service, REGION)
        with _botocore_clock(headers.get("X-Amz-Date", "")):
            signer.add_auth(request)
        expected = request.headers["Authorization"]
        return None if expected == received else f"expected {expected}"

    def _check_presigned(
        self, method: str, url: str, headers: Any, query: dict[str, str]
    ) -> str | None:
        parts = urlsplit(url)
        operation = [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name not in PRESIGN_PARAMS
        ]
        bare_url = parts._replace(query=urlencode(operation)).geturl()
        signed = set(query.get("X-Amz-SignedHeaders", "").split(";"))

        request = AWSRequest(method=method, url=bare_url)
        for name, value in headers.items():
            if name.lower() in signed:
                request.headers[name] = value
        signer_class = S3SigV4QueryAuth if self.s3 else SigV4QueryAuth
        expires = int(query["X-Amz-Expires"])
        signer = signer_class(self.credentials, self.service, REGION, expires=expires)
        with _botocore_clock(query.get("X-Amz-Date", "")):
            signer.add_auth(request)
        expected = dict(parse_qsl(urlsplit(request.url).query))["X-Amz-Signature"]
        if expected != query["X-Amz-Signature"]:
            return f"expected signature {expected}"
        return None


def _signed_header_names(authorization: str) -> set[str]:
    for part in authorization.split(", "):
        if part.startswith("SignedHeaders="):
            return set(part.removeprefix("SignedHeaders=").split(";"))
    return set()


def _botocore_clock(amz_date: str) -> Any:
    moment = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
    return mock.patch("botocore.auth.get_current_datetime", return_value=moment)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = f"http://{self.headers['Host']}{self.path}"

        try:
            problem = self.server.verifier.check(self.command, url, self.headers, body)
        except Exception as exc:  # a malformed request is a refusal, not a crash
            problem = f"could not verify: {exc!r}"

        status = 403 if problem else 200
        payload = json.dumps({"ok": problem is None, "problem": problem}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


class _Server(ThreadingHTTPServer):
    verifier: Verifier


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def base_url(httpd: _Server) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host!s}:{port}"


def load(service: str, secret: str = SECRET, **app: Any) -> Credentials[Any, Any]:
    credentials: Credentials[Any, Any] = authplug.load(
        {
            "type": "aws.sigv4",
            "user": {
                "access_key_id": KEY_ID,
                "secret_access_key": secret,
                "session_token": TOKEN,
            },
            "app": {"region": REGION, "service": service, **app},
        }
    )
    return credentials


@pytest.mark.parametrize(
    ("service", "app"),
    [
        ("execute-api", {}),
        ("execute-api", {"unsigned_payload": True}),
        ("s3", {}),
        ("s3", {"unsigned_payload": True}),
    ],
)
def test_header_signed_requests_verify(
    server: _Server, service: str, app: dict[str, Any]
) -> None:
    server.verifier = Verifier(service, unsigned_payload=bool(app))
    auth = authplug.auth(load(service, **app))
    extra = {"X-Note": "inner   runs  of spaces"}

    with httpx2.Client(auth=auth, headers=extra) as client:
        put = client.put(
            f"{base_url(server)}/bucket/My Report (final)+v2.txt",
            params=[("tag", "a b"), ("tag", "a+b"), ("empty", ""), ("é", "ü/?&=")],
            content=b'{"hello": "world"}',
            headers={"Content-Type": "application/json"},
        )
        get = client.get(f"{base_url(server)}/items", params={"page": "2"})

    assert put.status_code == 200, put.json()["problem"]
    assert get.status_code == 200, get.json()["problem"]
    assert [seen["body"] for seen in server.verifier.seen] == [
        b'{"hello": "world"}',
        b"",
    ]


@pytest.mark.parametrize("service", ["execute-api", "s3"])
def test_presigned_requests_verify(server: _Server, service: str) -> None:
    server.verifier = Verifier(service)
    auth = authplug.auth(load(service, placement="query", expires=300))

    with httpx2.Client(auth=auth) as client:
        response = client.get(
            f"{base_url(server)}/reports/2024 Q1.csv",
            params={"versionId": "3/L4kqtJl+cQ", "x": "1"},
        )

    assert response.status_code == 200, response.json()["problem"]
    sent = urlsplit(server.verifier.seen[0]["url"]).query
    assert "X-Amz-Signature=" in sent
    assert "X-Amz-Expires=300" in sent


def test_async_clients_send_verifiable_requests(server: _Server) -> None:
    server.verifier = Verifier("s3")
    auth = authplug.auth(load("s3"))

    async def upload() -> list[int]:
        async with httpx2.AsyncClient(auth=auth) as client:
            responses = await asyncio.gather(
                *(
                    client.put(f"{base_url(server)}/bucket/part {n}", content=b"x" * n)
                    for n in range(5)
                )
            )
        return [response.status_code for response in responses]

    statuses = asyncio.run(upload())

    assert statuses == [200] * 5
    assert sorted(len(seen["body"]) for seen in server.verifier.seen) == [
        0,
        1,
        2,
        3,
        4,
    ]


def test_a_wrong_secret_is_refused(server: _Server) -> None:
    server.verifier = Verifier("execute-api")
    auth = authplug.auth(load("execute-api", secret="not-the-real-secret-key"))

    with httpx2.Client(auth=auth) as client:
        response = client.post(f"{base_url(server)}/orders", content=b"{}")

    assert response.status_code == 403
    assert response.json()["problem"].startswith("expected AWS4-HMAC-SHA256")


def test_a_body_changed_after_signing_is_refused(server: _Server) -> None:
    server.verifier = Verifier("s3")
    flow = load("s3").flow()
    request = authplug.Request("PUT", f"{base_url(server)}/bucket/key", content=b"one")
    flow.apply(request)

    response = httpx2.put(request.url, headers=dict(request.headers), content=b"two")

    assert response.status_code == 403
