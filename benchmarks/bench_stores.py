"""Time the durable token stores against the in-memory one, in one run.

Two targets, and the figures around them:

1. Authenticating a request with a valid token: the httpx2 adapter's auth
   flow on a fresh request, its token kept in the SQLite store, against
   the same with the in-memory store. Target: within 1.2x. This is the
   path every API call takes, and the lifecycle keeps the header it worked
   out, so a store is read again only when the token is stale or a 401
   says so.
2. Redis round trips on the valid-token path, counted by the Redis server
   itself (``MONITOR``): for the first request of a process (nothing
   cached yet) and for every request after. Target: at most 1.

Around them, for the curious: the first request of a fresh lifecycle (one
store read, and one decryption for a durable store), a bare ``get`` with
the decrypted record cached and without, and the same for Redis.

Run it with ``python benchmarks/bench_stores.py`` (``--quick`` for a rough
figure). Redis comes from ``AUTHPLUG_TEST_REDIS_URL`` if set, else a
``redis-server`` on a free loopback port if one is installed; without
either the Redis rows are left out. Timings take the best and the median
of 7 repeats of timeit, the contenders taking turns in every repeat; the
ratio uses the best. It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import timeit
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx2

import authplug
from authplug.adapters.httpx2 import Auth
from authplug.stores import MemoryStore, RedisStore, SQLiteStore, TokenRecord
from authplug.stores.crypto import KeySet, generate_key

KEY = "bench-token"
API_URL = "https://api.example.com/v1/me"
DOCUMENT = {
    "type": "oauth2.client_credentials",
    "app": {
        "client_id": "bench-client",
        "client_secret": "bench-secret",
        "token_url": "https://auth.example.com/token",
        "scopes": ["read"],
    },
}
RESPONSE = httpx2.Response(200)


def valid_record() -> TokenRecord:
    now = time.time()
    return TokenRecord(
        access_token="a" * 40,
        refresh_token="r" * 40,
        expires_at=now + 3600,
        issued_at=now,
        scopes=("read",),
    )


def authenticate(auth: Auth) -> None:
    """Run the adapter's auth flow for one request, as httpx2.Client does."""
    request = httpx2.Request("GET", API_URL)
    flow = auth.sync_auth_flow(request)
    next(flow)
    with suppress(StopIteration):
        flow.send(RESPONSE)


# -- timing -----------------------------------------------------------------------


def calibrate(action: Callable[[], object], budget: float) -> int:
    number = 1
    while True:
        taken = timeit.timeit(action, number=number)
        if taken >= budget / 10 or number >= 1 << 22:
            return max(1, int(number * (budget / 10) / max(taken, 1e-9)))
        number *= 4


def time_pair(
    first: Callable[[], object], second: Callable[[], object], budget: float
) -> tuple[list[float], list[float]]:
    """Return per-call seconds of each, over 7 interleaved repeats."""
    numbers = (calibrate(first, budget), calibrate(second, budget))
    runs: tuple[list[float], list[float]] = ([], [])
    for _ in range(7):
        for index, action in enumerate((first, second)):
            taken = timeit.timeit(action, number=numbers[index])
            runs[index].append(taken / numbers[index])
    return runs


def shown(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def best_median(runs: list[float]) -> str:
    return f"{shown(min(runs))} / {shown(statistics.median(runs))}"


# -- Redis ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def redis_server() -> Iterator[str | None]:
    given = os.environ.get("AUTHPLUG_TEST_REDIS_URL")
    if given:
        yield given
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return

    import redis

    port = free_port()
    command = [binary, "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(10)


@contextmanager
def server_commands(url: str, prefix: str) -> Iterator[list[str]]:
    """Collect the commands clients send that name ``prefix``, per MONITOR."""
    import redis

    seen: list[str] = []
    stop = f"stop-{uuid.uuid4().hex}"
    watcher = redis.Redis.from_url(url)
    ready = threading.Event()

    def watch() -> None:
        with watcher.monitor() as monitor:
            ready.set()
            for event in monitor.listen():
                if stop in event["command"]:
                    return
                if prefix in event["command"] and event.get("client_type") != "lua":
                    seen.append(event["command"].split()[0])

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield seen
    finally:
        poker = redis.Redis.from_url(url)
        poker.echo(stop)
        poker.close()
        thread.join(10)
        watcher.close()


def with_prefix(url: str, prefix: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}prefix={prefix}"


# -- the benchmarks ---------------------------------------------------------------


Row = tuple[str, str, str, str, str, str]


def ratio_row(
    name: str, runs: tuple[list[float], list[float]], limit: float | None = None
) -> Row:
    ratio = min(runs[1]) / min(runs[0])
    target = "-" if limit is None else f"<= {limit:g}x"
    met = "-" if limit is None else ("yes" if ratio <= limit else "NO")
    return (
        name,
        best_median(runs[0]),
        best_median(runs[1]),
        f"{ratio:.2f}",
        target,
        met,
    )


def fresh_keys(store: Any, count: int) -> list[str]:
    """Store ``count`` valid tokens under keys never used; return the keys."""
    keys = []
    for number in range(count):
        key = f"{KEY}-cold-{uuid.uuid4().hex}-{number}"
        store.put(key, valid_record(), expected_version=0)
        keys.append(key)
    return keys


def first_requests(
    stores: tuple[Any, Any], credentials: Any, keys: tuple[list[str], list[str]]
) -> tuple[float, float]:
    """Return the median time of each store's first request of a new lifecycle.

    The two stores take turns, request by request, so a noisy moment or a
    warming cache hurts both alike.
    """
    times: tuple[list[float], list[float]] = ([], [])
    for pair in zip(*keys, strict=True):
        for index, key in enumerate(pair):
            auth = Auth(credentials, store=stores[index], key=key)
            start = time.perf_counter()
            authenticate(auth)
            times[index].append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def bench_sqlite(
    folder: Path, keys: KeySet, memory_auth: Auth, budget: float, quick: bool
) -> list[Row]:
    memory = memory_auth.lifecycle.store  # type: ignore[union-attr]
    credentials = memory_auth.credentials
    sqlite = SQLiteStore(folder / "tokens.db", keys=keys)
    sqlite.put(KEY, valid_record(), expected_version=0)
    sqlite_auth = Auth(credentials, store=sqlite, key=KEY)
    authenticate(sqlite_auth)
    rows = []

    runs = time_pair(
        lambda: authenticate(memory_auth), lambda: authenticate(sqlite_auth), budget
    )
    rows.append(ratio_row("authenticate, valid token", runs, 1.2))

    # A new lifecycle reads the store once. A second SQLite connection
    # stands for a new process: nothing is cached there, so it decrypts.
    count = 200 if quick else 2000
    reader = SQLiteStore(folder / "tokens.db", keys=keys)
    memory_first, sqlite_first = first_requests(
        (memory, reader),
        credentials,
        (fresh_keys(memory, count), fresh_keys(sqlite, count)),
    )
    rows.append(
        (
            "first request of a lifecycle (median)",
            shown(memory_first),
            shown(sqlite_first),
            f"{sqlite_first / memory_first:.2f}",
            "-",
            "-",
        )
    )

    runs = time_pair(lambda: memory.get(KEY), lambda: sqlite.get(KEY), budget)
    rows.append(ratio_row("get, record cached", runs))

    def uncached() -> None:
        sqlite._codec.forget(KEY)
        sqlite.get(KEY)

    runs = time_pair(lambda: memory.get(KEY), uncached, budget)
    rows.append(ratio_row("get, decrypting each time", runs))

    reader.close()
    sqlite.close()
    return rows


def bench_redis(
    url: str, keys: KeySet, memory_auth: Auth, budget: float
) -> tuple[list[Row], list[tuple[str, list[str], int]]]:
    memory = memory_auth.lifecycle.store  # type: ignore[union-attr]
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    store = RedisStore(with_prefix(url, prefix), keys=keys)
    store.put(KEY, valid_record(), expected_version=0)
    auth = Auth(memory_auth.credentials, store=store, key=KEY)
    rows = []

    with server_commands(url, prefix) as first:
        authenticate(auth)
    with server_commands(url, prefix) as later:
        for _ in range(100):
            authenticate(auth)
    trips = [
        ("first request of a process", first, 1),
        ("each of the next 100", later, 100),
    ]

    runs = time_pair(
        lambda: authenticate(memory_auth), lambda: authenticate(auth), budget
    )
    rows.append(ratio_row("authenticate, valid token (Redis)", runs))
    runs = time_pair(lambda: memory.get(KEY), lambda: store.get(KEY), budget)
    rows.append(ratio_row("get, record cached (Redis)", runs))

    names = list(store._client.scan_iter(match=f"{prefix}*"))
    if names:
        store._client.delete(*names)
    store.close()
    return rows, trips


def print_rows(rows: list[Row]) -> None:
    header: Row = (
        "benchmark",
        "memory best / median",
        "durable best / median",
        "ratio",
        "target",
        "met",
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(6)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a rough figure")
    args = parser.parse_args()
    budget = 0.05 if args.quick else 0.4

    keys = KeySet.from_keys(generate_key())
    folder = Path(tempfile.mkdtemp(prefix="authplug-bench-"))
    memory = MemoryStore()
    memory.put(KEY, valid_record(), expected_version=0)
    memory_auth = Auth(authplug.load(DOCUMENT), store=memory, key=KEY)
    authenticate(memory_auth)

    rows = bench_sqlite(folder, keys, memory_auth, budget, args.quick)
    trips: list[tuple[str, list[str], int]] = []
    with redis_server() as url:
        if url is None:
            print("no Redis: set AUTHPLUG_TEST_REDIS_URL or install redis-server")
        else:
            redis_rows, trips = bench_redis(url, keys, memory_auth, budget)
            rows += redis_rows
    shutil.rmtree(folder, ignore_errors=True)

    print_rows(rows)
    if trips:
        print()
        print("Redis round trips on the valid-token path (target: at most 1 each)")
        for name, commands, requests in trips:
            each = len(commands) / requests
            met = "yes" if each <= 1 else "NO"
            seen = " ".join(sorted(set(commands))) or "none"
            print(f"  {name:<28} {each:g} per request ({seen})  met: {met}")


if __name__ == "__main__":
    main()
