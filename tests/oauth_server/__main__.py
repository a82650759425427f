"""Run the test authorization server as its own process.

Usage::

    python -m tests.oauth_server --port 0 [--config JSON | --config-file PATH]

The config is a :class:`~.config.ServerConfig` as JSON (``{"clients": [...],
"users": [...], "settings": {...}}``); without ``--config`` the environment
variable ``OAUTH_SERVER_CONFIG`` is read, and without that the defaults
apply. The first line on stdout is the base URL. The server stops on
SIGTERM or SIGINT, or when stdin reaches end of file (so it dies with a
parent that holds its stdin as a pipe).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .config import CONFIG_ENV, ConfigError, ServerConfig, from_json
from .server import OAuthServer


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.oauth_server",
        description="Run authplug's test OAuth 2 server on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--config", help="a ServerConfig as JSON")
    source.add_argument("--config-file", type=Path, help="a file holding that JSON")
    return parser.parse_args(argv)


def _load_config(args: argparse.Namespace) -> ServerConfig:
    if args.config_file is not None:
        text = args.config_file.read_text(encoding="utf-8")
    else:
        text = args.config or os.environ.get(CONFIG_ENV, "")
    return from_json(text, ServerConfig) if text.strip() else ServerConfig()


def _watch_stdin(done: threading.Event) -> None:
    if sys.stdin is None or sys.stdin.isatty():
        return
    sys.stdin.read()
    done.set()


def main(argv: list[str] | None = None) -> int:
    """Serve until told to stop; return the exit status."""
    args = _parse_args(argv)
    try:
        config = _load_config(args)
    except (ConfigError, OSError) as err:
        print(f"oauth_server: {err}", file=sys.stderr)
        return 2

    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=_watch_stdin, args=(done,), daemon=True).start()

    with OAuthServer(config, port=args.port) as server:
        print(server.url, flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
