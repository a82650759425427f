"""Time OAuth2 side by side: per-request overhead and the refresh stampede.

Per-request overhead, with a valid cached token, on a MockTransport that
answers at once (so the client itself is most of the time):

- authplug: ``httpx2.Client(auth=authplug.auth(credentials))``;
- no auth: the same httpx2 client without auth, the floor;
- Authlib: ``authlib.integrations.httpx_client.OAuth2Client`` with a token
  set (it is an httpx2 client too);
- httpx-auth: ``httpx_auth.OAuth2ClientCredentials`` on an httpx client
  with the token already in its cache, against httpx without auth; and
  authplug's httpx adapter against the same floor.

The refresh stampede: 50 threads sharing one client, then 500 asyncio
tasks sharing one async client, all starting on an expired token, while
the token endpoint takes 50 ms to answer. The figure is how many token
requests reached the endpoint; one is the right answer.

Run it with ``python benchmarks/bench_oauth2.py`` (``--quick`` for a rough
figure). Contenders take turns in every round, so a noisy moment hurts
them alike. Ratios are given two ways: best round over best round, and the
median of each round's ratio (both timed back to back). It prints figures
only and asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
import timeit
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client
from httpx_auth import OAuth2, OAuth2ClientCredentials

import authplug
from authplug.adapters import httpx as authplug_httpx
from authplug.stores import MemoryStore

TOKEN_URL = "https://auth.example.com/token"
API_URL = "https://api.example.com/v1/items?page=2"
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-secret"
TOKEN_DELAY = 0.05


def _document(**user: Any) -> dict[str, Any]:
    return {
        "type": "oauth2.client_credentials",
        "app": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "token_url": TOKEN_URL,
        },
        "user": user,
    }


# -- per-request overhead -----------------------------------------------------------


def _api_ok(lib: Any) -> Any:
    def handler(request: Any) -> Any:
        return lib.Response(200, content=b"{}")

    return lib.MockTransport(handler)


def overhead_contenders() -> dict[str, Callable[[], object]]:
    """Return one GET per contender, each with a valid token in place."""
    fresh = time.time() + 86_400
    plain2 = httpx2.Client(transport=_api_ok(httpx2))
    ours2 = httpx2.Client(
        auth=authplug.auth(
            _document(access_token="cached-token", expires_at=fresh),
            store=MemoryStore(),
        ),
        transport=_api_ok(httpx2),
    )
    authlib = OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        token={
            "access_token": "cached-token",
            "token_type": "Bearer",
            "expires_at": int(fresh),
        },
        transport=_api_ok(httpx2),
    )

    plain1 = httpx.Client(transport=_api_ok(httpx))
    ours1 = httpx.Client(
        auth=authplug_httpx.Auth(
            _document(access_token="cached-token", expires_at=fresh),
            store=MemoryStore(),
        ),
        transport=_api_ok(httpx),
    )
    peer = OAuth2ClientCredentials(TOKEN_URL, CLIENT_ID, CLIENT_SECRET)
    # httpx-auth keeps tokens in one process-wide cache keyed by its state.
    OAuth2.token_cache._add_access_token(peer.state, "cached-token", 86_400)
    httpx_auth = httpx.Client(auth=peer, transport=_api_ok(httpx))

    contenders: dict[str, Callable[[], object]] = {
        "httpx2, no auth": lambda: plain2.get(API_URL),
        "authplug (httpx2)": lambda: ours2.get(API_URL),
        "Authlib OAuth2Client": lambda: authlib.get(API_URL),
        "httpx, no auth": lambda: plain1.get(API_URL),
        "authplug (httpx)": lambda: ours1.get(API_URL),
        "httpx-auth": lambda: httpx_auth.get(API_URL),
    }
    for call in contenders.values():
        call()  # warm up, and adopt the cached token
    _check_headers(ours2, authlib, ours1, httpx_auth)
    return contenders


def _check_headers(*clients: Any) -> None:
    """Make sure every contender really sends the cached token."""
    for client in clients:
        seen: list[str] = []
        transport = client._transport
        handler = transport.handler

        def spy(request: Any, handler: Any = handler, seen: list[str] = seen) -> Any:
            seen.append(request.headers.get("authorization", ""))
            return handler(request)

        transport.handler = spy
        client.get(API_URL)
        transport.handler = handler
        if seen != ["Bearer cached-token"]:
            raise SystemExit(f"{type(client).__name__} sent {seen!r}, not the token")


def _loops(call: Callable[[], object], budget: float) -> int:
    """Return how many calls take about ``budget`` seconds."""
    loops = 1
    while True:
        elapsed = timeit.timeit(call, number=loops)
        if elapsed >= budget / 10:
            return max(1, int(loops * budget / elapsed))
        loops *= 2


def measure_overhead(rounds: int, budget: float) -> dict[str, list[float]]:
    """Return the seconds per request of every round, contenders in turn."""
    contenders = overhead_contenders()
    loops = {name: _loops(call, budget) for name, call in contenders.items()}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, call in contenders.items():
            elapsed = timeit.timeit(call, number=loops[name])
            times[name].append(elapsed / loops[name])
    return times


# -- the stampede ------------------------------------------------------


class Endpoint:
    """A token endpoint and API that count token requests; thread-safe."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.lock = threading.Lock()
        self.token_requests = 0

    def _token(self) -> Any:
        with self.lock:
            self.token_requests += 1
            serial = self.token_requests
        body = {
            "access_token": f"new-{serial}",
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        return self.lib.Response(
            200,
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
        )

    def sync_transport(self) -> Any:
        def handler(request: Any) -> Any:
            if str(request.url) == TOKEN_URL:
                time.sleep(TOKEN_DELAY)
                return self._token()
            return self.lib.Response(200, content=b"{}")

        return self.lib.MockTransport(handler)

    def async_transport(self) -> Any:
        async def handler(request: Any) -> Any:
            if str(request.url) == TOKEN_URL:
                await asyncio.sleep(TOKEN_DELAY)
                return self._token()
            return self.lib.Response(200, content=b"{}")

        return self.lib.MockTransport(handler)


def _threads(count: int, call: Callable[[], object]) -> list[BaseException]:
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            call()
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _tasks(count: int, make: Callable[[], Any], get: Any) -> list[BaseException]:
    async def run_all() -> list[BaseException]:
        async with make() as client:
            results = await asyncio.gather(
                *(get(client) for _ in range(count)), return_exceptions=True
            )
        return [r for r in results if isinstance(r, BaseException)]

    return asyncio.run(run_all())


def _expired() -> float:
    return time.time() - 10


Outcome = tuple[str, str, int, int, float]


def stampede(threads: int, tasks: int) -> list[Outcome]:
    """Return (who, how, token requests, errors, seconds) per scenario."""
    results: list[Outcome] = []

    def record(who: str, how: str, endpoint: Endpoint, run: Callable[[], Any]) -> None:
        started = time.perf_counter()
        errors = run()
        elapsed = time.perf_counter() - started
        results.append((who, how, endpoint.token_requests, len(errors), elapsed))

    # authplug on httpx2
    endpoint = Endpoint(httpx2)
    auth = authplug.auth(
        _document(access_token="old", expires_at=_expired()), store=MemoryStore()
    )
    client = httpx2.Client(auth=auth, transport=endpoint.sync_transport())
    record(
        "authplug",
        f"{threads} threads",
        endpoint,
        lambda: _threads(threads, lambda: client.get(API_URL)),
    )

    endpoint = Endpoint(httpx2)
    auth = authplug.auth(
        _document(access_token="old", expires_at=_expired()), store=MemoryStore()
    )
    record(
        "authplug",
        f"{tasks} tasks",
        endpoint,
        lambda: _tasks(
            tasks,
            lambda: httpx2.AsyncClient(
                auth=auth,
                transport=endpoint.async_transport(),
                limits=httpx2.Limits(max_connections=None),
            ),
            lambda c: c.get(API_URL),
        ),
    )

    # Authlib: the sync client checks expiry without a lock
    endpoint = Endpoint(httpx2)
    expired_token = {
        "access_token": "old",
        "token_type": "Bearer",
        "expires_at": int(_expired()),
    }
    authlib = OAuth2Client(
        CLIENT_ID,
        CLIENT_SECRET,
        token=dict(expired_token),
        token_endpoint=TOKEN_URL,
        grant_type="client_credentials",
        transport=endpoint.sync_transport(),
    )
    record(
        "Authlib",
        f"{threads} threads",
        endpoint,
        lambda: _threads(threads, lambda: authlib.get(API_URL)),
    )

    endpoint = Endpoint(httpx2)
    record(
        "Authlib",
        f"{tasks} tasks",
        endpoint,
        lambda: _tasks(
            tasks,
            lambda: AsyncOAuth2Client(
                CLIENT_ID,
                CLIENT_SECRET,
                token=dict(expired_token),
                token_endpoint=TOKEN_URL,
                grant_type="client_credentials",
                transport=endpoint.async_transport(),
                limits=httpx2.Limits(max_connections=None),
            ),
            lambda c: c.get(API_URL),
        ),
    )

    # httpx-auth: tokens come from its own sync httpx client
    endpoint = Endpoint(httpx)
    OAuth2.token_cache.clear()
    peer = OAuth2ClientCredentials(
        TOKEN_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        client=httpx.Client(transport=endpoint.sync_transport()),
    )
    api = httpx.Client(auth=peer, transport=endpoint.sync_transport())
    record(
        "httpx-auth",
        f"{threads} threads",
        endpoint,
        lambda: _threads(threads, lambda: api.get(API_URL)),
    )

    endpoint = Endpoint(httpx)
    OAuth2.token_cache.clear()
    peer = OAuth2ClientCredentials(
        TOKEN_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        client=httpx.Client(transport=endpoint.sync_transport()),
    )
    record(
        "httpx-auth",
        f"{tasks} tasks",
        endpoint,
        lambda: _tasks(
            tasks,
            lambda: httpx.AsyncClient(
                auth=peer,
                transport=endpoint.async_transport(),
                limits=httpx.Limits(max_connections=None),
            ),
            lambda c: c.get(API_URL),
        ),
    )
    return results


# -- report ------------------------------------------------------------


def _format(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


FLOORS = {
    "authplug (httpx2)": "httpx2, no auth",
    "Authlib OAuth2Client": "httpx2, no auth",
    "authplug (httpx)": "httpx, no auth",
    "httpx-auth": "httpx, no auth",
}


def _ratios(times: dict[str, list[float]], name: str, floor: str) -> str:
    best = min(times[name]) / min(times[floor])
    # Each round timed both back to back: their ratio shrugs off drift.
    paired = statistics.median(
        a / b for a, b in zip(times[name], times[floor], strict=True)
    )
    return f"{best:.3f}x / {paired:.3f}x"


def report_overhead(times: dict[str, list[float]]) -> None:
    """Print each contender's figures and its ratios to its floor."""
    print("per request, valid cached token, MockTransport")
    print(f"{'contender':24} {'best / median':24} {'vs no auth: best / paired':>26}")
    for name, samples in times.items():
        best, median = min(samples), statistics.median(samples)
        shown = f"{_format(best)} / {_format(median)}"
        floor = FLOORS.get(name)
        ratio = _ratios(times, name, floor) if floor else ""
        print(f"{name:24} {shown:24} {ratio:>26}")

    print()
    print(
        "authplug / Authlib (httpx2)   "
        + _ratios(times, "authplug (httpx2)", "Authlib OAuth2Client")
    )
    print(
        "authplug / httpx-auth (httpx) "
        + _ratios(times, "authplug (httpx)", "httpx-auth")
    )


def report_stampede(results: list[Outcome]) -> None:
    """Print the token request counts."""
    print()
    delay = f"{TOKEN_DELAY * 1e3:g} ms"
    print(f"refresh stampede on an expired token (token endpoint: {delay})")
    heads = ("library", "callers", "token requests", "errors", "wall")
    print(f"{heads[0]:12} {heads[1]:12} {heads[2]:>15} {heads[3]:>7} {heads[4]:>8}")
    for who, how, count, errors, elapsed in results:
        print(f"{who:12} {how:12} {count:>15} {errors:>7} {elapsed:>7.2f}s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    args = parser.parse_args(argv)
    # Many short rounds: on a busy machine the best of them is the one
    # least disturbed, and paired ratios cancel slow drift.
    rounds, budget = (9, 0.02) if args.quick else (41, 0.05)

    report_overhead(measure_overhead(rounds, budget))
    report_stampede(stampede(threads=50, tasks=500))


if __name__ == "__main__":
    main()
