"""Worker processes for the store tests: ``python -m tests.stores.workers CMD``.

Each command opens the store named by ``--store`` (keys come from
``AUTHPLUG_STORE_KEY`` in the environment, as in production), prints one
line of JSON when it reaches the point the test waits for, and then does
its part:

- ``hold-lock``: take the renewal lock of ``--key`` and hold it until
  killed (or, with ``--release-on-stdin``, until a line arrives).
- ``write-loop``: renew one record forever with compare-and-set writes,
  each writing the access token ``t<version>``; the test kills it at an
  arbitrary moment and checks the file still holds a whole record.
- ``requests``: make ``--threads`` threads send ``--per-thread`` API
  requests each through the httpx2 adapter and the store, and print what
  they got. All threads start together; with ``--wait-for-go`` they
  start when a line arrives on stdin, so several processes start at once.
- ``refresh``: one API request through the adapter, with
  ``AUTHPLUG_TEST_KILL_AT`` naming a step of the renewal at which the
  process kills itself with SIGKILL (see :class:`KillingStore`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from authplug.errors import AuthplugError
from authplug.stores import TokenRecord, TokenStore, VersionConflict, open_store

KILL_ENV = "AUTHPLUG_TEST_KILL_AT"
KILL_POINTS = ("locked", "before-store", "stored")


def say(**fields: Any) -> None:
    """Print one line of JSON and flush it, for the parent to read."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def die() -> None:
    """Kill this process at once, as a crash or an OOM killer would."""
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class KillingStore(TokenStore):
    """A store that delegates everything and SIGKILLs itself at one step.

    The steps of a renewal, as the lifecycle performs them:

    - ``locked``: the renewal lock was just taken, nothing else done;
    - ``before-store``: the token server has answered (the new tokens
      exist only in this process) and the write is about to start;
    - ``stored``: the new tokens were written, and nothing used them yet.
    """

    def __init__(self, inner: TokenStore, kill_at: str | None) -> None:
        self.inner = inner
        self.kill_at = kill_at
        self.locked = False

    def get(self, key: str) -> TokenRecord | None:
        return self.inner.get(key)

    def put(
        self, key: str, record: TokenRecord, *, expected_version: int | None
    ) -> TokenRecord:
        if self.locked and self.kill_at == "before-store":
            die()
        stored = self.inner.put(key, record, expected_version=expected_version)
        if self.locked and self.kill_at == "stored":
            die()
        return stored

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    @contextlib.contextmanager
    def _lock(self, key: str, timeout: float) -> Iterator[None]:
        with self.inner.lock(key, timeout=timeout):
            self.locked = True
            if self.kill_at == "locked":
                die()
            try:
                yield
            finally:
                self.locked = False

    def lock(self, key: str, *, timeout: float) -> Any:
        return self._lock(key, timeout)


def hold_lock(args: argparse.Namespace) -> None:
    store = open_store(args.store)
    with store.lock(args.key, timeout=30):
        say(state="locked", pid=os.getpid())
        if args.release_on_stdin:
            sys.stdin.readline()
        else:
            threading.Event().wait()
    say(state="released")


def write_loop(args: argparse.Namespace) -> None:
    store = open_store(args.store)
    announced = False
    while True:
        current = store.get(args.key)
        version = 0 if current is None else current.version
        record = TokenRecord(access_token=f"t{version + 1}", expires_at=1.0)
        try:
            store.put(args.key, record, expected_version=version)
        except VersionConflict:
            continue
        if not announced and version >= 5:
            say(state="writing")
            announced = True


def load_document(path: str) -> Any:
    import authplug

    with open(path, encoding="utf-8") as stream:
        return authplug.load(json.load(stream))


def send_requests(args: argparse.Namespace) -> None:
    import httpx2

    from authplug.adapters.httpx2 import Auth

    store = open_store(args.store)
    credentials = load_document(args.credentials)
    auth = Auth(credentials, store=store, key=args.key)
    barrier = threading.Barrier(args.threads)
    if args.wait_for_go:
        say(state="ready")
        sys.stdin.readline()
    statuses: list[int] = []
    failures: list[str] = []
    guard = threading.Lock()

    # One client for every thread, as an application would share it.
    limits = httpx2.Limits(max_connections=args.threads)
    client = httpx2.Client(auth=auth, timeout=60, limits=limits)

    def run() -> None:
        barrier.wait()
        for _ in range(args.per_thread):
            try:
                status = client.get(args.api).status_code
            except Exception as err:
                with guard:
                    failures.append(type(err).__name__)
                continue
            with guard:
                statuses.append(status)

    threads = [threading.Thread(target=run) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    say(statuses=statuses, failures=failures)


def refresh(args: argparse.Namespace) -> None:
    import httpx2

    from authplug.adapters.httpx2 import Auth

    kill_at = os.environ.get(KILL_ENV)
    if kill_at is not None and kill_at not in KILL_POINTS:
        raise SystemExit(f"{KILL_ENV} must be one of {', '.join(KILL_POINTS)}")
    store = KillingStore(open_store(args.store), kill_at)
    credentials = load_document(args.credentials)
    auth = Auth(credentials, store=store, key=args.key)
    try:
        with httpx2.Client(auth=auth, timeout=30) as client:
            response = client.get(args.api)
    except AuthplugError as err:
        say(error=type(err).__name__, message=str(err))
        return
    say(status=response.status_code)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.stores.workers")
    commands = parser.add_subparsers(dest="command", required=True)

    hold = commands.add_parser("hold-lock")
    hold.add_argument("--store", required=True)
    hold.add_argument("--key", required=True)
    hold.add_argument("--release-on-stdin", action="store_true")
    hold.set_defaults(run=hold_lock)

    loop = commands.add_parser("write-loop")
    loop.add_argument("--store", required=True)
    loop.add_argument("--key", required=True)
    loop.set_defaults(run=write_loop)

    for name, target in (("requests", send_requests), ("refresh", refresh)):
        sub = commands.add_parser(name)
        sub.add_argument("--store", required=True)
        sub.add_argument("--key", required=True)
        sub.add_argument("--credentials", required=True)
        sub.add_argument("--api", required=True)
        sub.add_argument("--threads", type=int, default=1)
        sub.add_argument("--per-thread", type=int, default=1)
        sub.add_argument("--wait-for-go", action="store_true")
        sub.set_defaults(run=target)

    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
