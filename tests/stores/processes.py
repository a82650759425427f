"""Start the worker processes of :mod:`tests.stores.workers` and talk to them."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def worker_env(store_key: str, **extra: str) -> dict[str, str]:
    """Return the environment of a worker: this one, the store key, ``extra``."""
    env = dict(os.environ)
    env["AUTHPLUG_STORE_KEY"] = store_key
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.update(extra)
    return env


def start(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """Start ``python -m tests.stores.workers ARGS`` from the repository root."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stores.workers", *args],
        cwd=ROOT,
        env=dict(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_message(process: subprocess.Popen[str], timeout: float = 60) -> Any:
    """Return the next JSON line ``process`` prints, failing on exit or timeout."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"worker said nothing in {timeout} s")
            if selector.select(left):
                line = process.stdout.readline()
                if not line:
                    _, errors = process.communicate(timeout=10)
                    raise AssertionError(f"worker exited early:\n{errors}")
                return json.loads(line)


def finish(
    process: subprocess.Popen[str], timeout: float = 120
) -> tuple[int, str, str]:
    """Wait for ``process`` to end; return its status, stdout and stderr."""
    out, errors = process.communicate(timeout=timeout)
    return process.returncode, out, errors


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL ``process`` and reap it."""
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)


@contextmanager
def running(args: list[str], env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Start a worker and make sure it is gone afterwards."""
    process = start(args, env)
    try:
        yield process
    finally:
        if process.poll() is None:
            kill(process)
        else:
            process.communicate(timeout=30)
