"""A real Redis server for the store tests, and a fresh key prefix per test.

``redis_server_url`` (session) is ``AUTHPLUG_TEST_REDIS_URL`` when set (CI
starts a server and sets it); otherwise this module starts
``redis-server`` on a free loopback port, if the binary is installed.
With neither, the tests that need Redis are skipped, except when ``CI`` is
set: there a missing Redis is a failure, never a silent skip.

``redis_url`` (per test) adds a unique ``prefix`` to that URL and deletes
every key under it afterwards, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

__all__ = ["redis_server_url", "redis_url", "with_prefix"]

URL_ENV = "AUTHPLUG_TEST_REDIS_URL"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Redis is required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return the URL of a running Redis server (see the module docstring)."""
    given = os.environ.get(URL_ENV)
    if given:
        yield given
        return

    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable(f"set {URL_ENV}, or install redis-server")
    assert binary is not None

    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    command = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until_up(url, process, seconds=10)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def with_prefix(url: str, prefix: str, **options: str) -> str:
    """Return ``url`` with ``prefix`` (and other query options) set."""
    parts = urlsplit(url)
    query = urlencode({"prefix": prefix, **options})
    joined = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit(parts._replace(query=joined))


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """Return the server's URL with a prefix of this test's own, cleaned after."""
    import redis

    prefix = f"authplug-test-{uuid.uuid4().hex[:12]}:"
    yield with_prefix(redis_server_url, prefix)

    client = redis.Redis.from_url(redis_server_url)
    try:
        names = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if names:
            client.delete(*names)
    finally:
        client.close()
