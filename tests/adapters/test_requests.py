"""The requests adapter, on a connection adapter that answers in process."""

from __future__ import annotations

import hashlib
import io
import threading
from typing import Any, ClassVar

import pytest
import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict
from tests.fake_oauth import API_URL, TOKEN_URL, FakeOAuth, client_credentials

import authplug
from authplug import AuthType, TokenError
from authplug.adapters.requests import Auth, run, session
from authplug.flow import AuthFlow
from authplug.http import Request, Response
from authplug.lifecycle import RetryPolicy
from authplug.records import NoFields
from authplug.stores import MemoryStore

FAST = RetryPolicy(attempts=3, backoff=0.01, max_delay=1)


class FakeAdapter(requests.adapters.BaseAdapter):
    """Answers every request with ``answer`` and records what was sent."""

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer
        self.sent: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        self.sent.append((request, kwargs))
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        flow_request = Request(
            str(request.method), str(request.url), dict(request.headers), body
        )
        answer = self.answer(flow_request)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response._content = answer.content
        response.raw = io.BytesIO(answer.content)
        response.url = str(request.url)
        response.request = request
        response.connection = self
        return response

    def close(self) -> None:
        """Nothing to close."""


def _session(answer: Any, document: Any, **options: Any) -> tuple[Any, FakeAdapter]:
    options.setdefault("store", MemoryStore())
    options.setdefault("retry", FAST)
    http = session(document, **options)
    adapter = FakeAdapter(answer)
    http.mount("https://", adapter)
    return http, adapter


def test_the_session_helper_installs_an_auth_bound_to_the_session() -> None:
    server = FakeOAuth()
    http, adapter = _session(server.handle, client_credentials())

    responses = [http.get(API_URL) for _ in range(5)]

    assert isinstance(http.auth, Auth) and http.auth.session is http
    assert [r.status_code for r in responses] == [200] * 5
    assert server.token_count == 1
    urls = [str(sent.url) for sent, _ in adapter.sent]
    assert urls == [TOKEN_URL] + [API_URL] * 5


def test_token_requests_use_the_token_timeout_and_no_redirects() -> None:
    server = FakeOAuth()
    http, adapter = _session(server.handle, client_credentials(), token_timeout=4.5)

    http.get(API_URL, timeout=2)

    token_kwargs, api_kwargs = adapter.sent[0][1], adapter.sent[1][1]
    assert token_kwargs["timeout"] == 4.5
    assert api_kwargs["timeout"] == 2


def test_a_401_refreshes_once_and_resends_through_the_same_adapter() -> None:
    server = FakeOAuth()
    http, adapter = _session(server.handle, client_credentials())
    http.get(API_URL)
    server.revoke_access_tokens()

    response = http.get(API_URL, timeout=3)

    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert response.request.headers["Authorization"] == "Bearer access-2"
    assert server.token_count == 2
    assert adapter.sent[-1][1]["timeout"] == 3


def test_a_second_401_is_returned_never_a_loop() -> None:
    server = FakeOAuth()

    def answer(request: Request) -> Response:
        if request.url == API_URL:
            return Response(401)
        return server.handle(request)

    http, adapter = _session(answer, client_credentials())

    response = http.get(API_URL)

    assert response.status_code == 401
    urls = [str(sent.url) for sent, _ in adapter.sent]
    assert urls == [TOKEN_URL, API_URL, TOKEN_URL, API_URL]


def test_a_token_request_that_times_out_is_retried() -> None:
    server = FakeOAuth()
    failures = iter([requests.ReadTimeout("slow"), requests.ConnectionError("down")])

    def answer(request: Request) -> Response:
        if request.url == TOKEN_URL:
            failure = next(failures, None)
            if failure is not None:
                raise failure
        return server.handle(request)

    http, _ = _session(answer, client_credentials())

    response = http.get(API_URL)

    assert response.status_code == 200
    assert server.token_count == 1  # two tries never reached the server


def test_a_token_endpoint_that_stays_down_gives_a_token_error() -> None:
    def answer(request: Request) -> Response:
        raise requests.ConnectionError("down")

    http, _ = _session(answer, client_credentials())

    with pytest.raises(TokenError, match=r"could not reach .*\(3 tries\)") as caught:
        http.get(API_URL)

    assert isinstance(caught.value.__cause__, authplug.lifecycle.SendError)


def test_fifty_threads_on_one_session_make_one_token_request() -> None:
    server = FakeOAuth(token_delay=0.2)
    http, _ = _session(server.handle, client_credentials())
    start = threading.Barrier(50)
    statuses: list[int] = []

    def worker() -> None:
        start.wait()
        statuses.append(http.get(API_URL).status_code)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 50
    assert server.token_count == 1


def test_without_a_session_the_auth_makes_its_own_for_token_requests() -> None:
    server = FakeOAuth()
    auth = Auth(client_credentials(), store=MemoryStore(), retry=FAST)
    http = requests.Session()
    http.mount("https://", FakeAdapter(server.handle))

    # The private session has no fake adapter, so mount one there too.
    auth._token_session().mount("https://", FakeAdapter(server.handle))
    response = http.get(API_URL, auth=auth)

    assert response.status_code == 200
    assert auth.session is None
    private = auth._own_session
    auth.close()
    assert auth._own_session is None and private is not None


def test_credentials_come_back_with_the_new_tokens() -> None:
    server = FakeOAuth()
    http, _ = _session(server.handle, client_credentials())

    http.get(API_URL)

    assert http.auth.credentials.user.access_token.reveal() == "access-1"


def _echo(request: Request) -> Response:
    return Response(
        200,
        {"x-seen-auth": request.header("authorization") or ""},
        request.content,
    )


def test_basic_auth_works_as_a_plain_flow() -> None:
    http = requests.Session()
    http.mount("https://", FakeAdapter(_echo))
    auth = Auth({"type": "basic", "user": {"username": "u", "password": "p"}})

    response = http.get(API_URL, auth=auth)

    assert response.headers["x-seen-auth"] == "Basic dTpw"


class _BodySigner(AuthFlow[NoFields, NoFields]):
    requires_request_body: ClassVar[bool] = True

    def apply(self, request: Request) -> None:
        request.headers["X-Signature"] = hashlib.sha256(request.content).hexdigest()
        request.content = request.content + b"&signed=1"


def test_a_body_signing_flow_sees_and_may_change_the_body() -> None:
    http = requests.Session()
    adapter = FakeAdapter(_echo)
    http.mount("https://", adapter)
    credentials = AuthType(name="test.signer", summary="t", flow=_BodySigner).create()

    response = http.post(API_URL, data={"a": "1"}, auth=Auth(credentials))

    sent = adapter.sent[0][0]
    assert response.content == b"a=1&signed=1"
    assert sent.headers["X-Signature"] == hashlib.sha256(b"a=1").hexdigest()
    assert sent.headers["Content-Length"] == str(len(b"a=1&signed=1"))


def test_a_streamed_body_cannot_be_signed_and_says_so() -> None:
    http = requests.Session()
    http.mount("https://", FakeAdapter(_echo))
    credentials = AuthType(name="test.signer", summary="t", flow=_BodySigner).create()

    with pytest.raises(authplug.FlowError, match="cannot be a stream"):
        http.post(API_URL, data=iter([b"a", b"b"]), auth=Auth(credentials))


def test_run_drives_an_exchange_through_a_session() -> None:
    server = FakeOAuth()
    http = requests.Session()
    http.mount("https://", FakeAdapter(server.handle))
    flow = authplug.load(client_credentials()).flow(retry=FAST)

    issued = run(flow.renew(None), http)

    assert issued.record.access_token.reveal() == "access-1"
