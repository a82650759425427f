"""Time the registry and credential loading side by side with their peers.

Three questions, each answered with a ratio measured in this one run:

1. Resolving a name: ``registry().get(name)`` against a plain dict lookup
   of the same records. Target: within 3x.
2. Loading valid OAuth2 credentials (structure and validate every field)
   against pydantic v2's ``model_validate`` of equivalent models. Target:
   at least as fast. And the error path, every field path reported,
   against pydantic's ValidationError with all its errors. Target: within
   3x of pydantic. authplug remembers its "did you mean" answers, so the
   same mistakes loaded again cost less than the first time; a line under
   the table gives the error path with nothing remembered.
3. Start-up: a fresh process that imports authplug and resolves one type,
   against a fresh process importing Authlib's httpx integration
   (``from authlib.integrations.httpx_client import OAuth2Client``).
   Target: at most 0.6 of Authlib's time.

The pydantic models below are written to do the same work as authplug's:
the same fields and defaults, strict types (no coercion), unknown fields
forbidden, secrets held as ``SecretStr``, the same URL rule (https unless
the host is a loopback address, no user name or password in it), scopes
given as a list or a space-separated string, and the same rules across
fields. Where authplug runs a Python check, the pydantic model runs the
same Python check, so neither side is timed on work the other skips.

Run it with ``python benchmarks/bench_registry.py`` (``--quick`` for a
rough figure in a few seconds). In-process timings take the best and the
median of several repeats of timeit; both contenders are timed in turn in
every repeat, so a noisy moment hurts them alike, and ratios use the best
repeat. Process timings compare medians of many interleaved runs. It
prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

import authplug
from authplug.fields import check_url, parse_scopes
from authplug.suggest import _closest

# -- the equivalent pydantic models ---------------------------------------------

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)

PydanticUrl = Annotated[str, AfterValidator(check_url)]
PydanticScopes = Annotated[tuple[str, ...], BeforeValidator(parse_scopes)]


class PydanticToken(BaseModel):
    model_config = STRICT

    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    expires_at: float | None = None
    token_type: str = "Bearer"
    scopes: PydanticScopes = ()


class PydanticApp(BaseModel):
    model_config = STRICT

    client_id: str
    client_secret: SecretStr | None = None
    token_url: PydanticUrl
    scopes: PydanticScopes = ()
    client_auth: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"
    )
    audience: str | None = None
    resource: str | None = None
    token_params: dict[str, str] = Field(default_factory=dict)
    auth_url: PydanticUrl
    redirect_uri: PydanticUrl | None = None
    pkce: bool = True

    @model_validator(mode="after")
    def _client_rules(self) -> PydanticApp:
        if self.client_auth != "none" and self.client_secret is None:
            raise ValueError("client_secret is required for a confidential client")
        if self.client_auth == "none" and not self.pkce:
            raise ValueError("pkce must be true for a public client")
        return self


class PydanticOAuth2(BaseModel):
    model_config = STRICT

    type: Literal["oauth2", "OAUTH2"]
    auth_id: str | None = None
    user: PydanticToken = Field(default_factory=PydanticToken)
    app: PydanticApp


VALID = {
    "type": "oauth2",
    "auth_id": "acct-42",
    "user": {
        "access_token": "at-5f1c2a9e0d4b4c3e",
        "refresh_token": "rt-9a573b0e6f1d2c48",
        "expires_at": 1767225600.0,
        "token_type": "Bearer",
        "scopes": ["orders:read", "orders:write"],
    },
    "app": {
        "client_id": "acme-connector",
        "client_secret": "cs-0d4b4c3e9a57",
        "token_url": "https://auth.acme.example/oauth/token",
        "auth_url": "https://auth.acme.example/oauth/authorize",
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "scopes": "orders:read orders:write",
        "client_auth": "client_secret_post",
        "token_params": {"access_type": "offline"},
    },
}

# Six mistakes, each of a different kind, spread over both sides.
INVALID = {
    "type": "oauth2",
    "user": {"expires_at": "tomorrow", "scopes": ["orders:read", 7]},
    "app": {
        "client_id": 1234,
        "client_secret": "cs-0d4b4c3e9a57",
        "token_url": "http://auth.acme.example/oauth/token",
        "client_auth": "client_secret_jwt",
        "scope": "orders:read",
    },
}


# -- measuring --------------------------------------------------------------------


def _loops(timer: timeit.Timer, budget: float) -> int:
    """Return how many runs take about ``budget`` seconds."""
    number = 1
    while True:
        elapsed = timer.timeit(number=number)
        if elapsed >= budget / 5:
            return max(1, int(number * budget / elapsed))
        number *= 2


def time_pair(
    first: Callable[[], object] | str,
    second: Callable[[], object] | str,
    *,
    repeats: int,
    budget: float,
    namespace: dict[str, Any] | None = None,
) -> tuple[list[float], list[float]]:
    """Return seconds per call of each, ``repeats`` times, taking turns.

    Each contender is a callable or a statement run in ``namespace``; a
    statement times exactly the expression a user writes, with no call
    wrapped around it.
    """
    timers = [timeit.Timer(f, globals=namespace) for f in (first, second)]
    loops = [_loops(timer, budget) for timer in timers]
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for index, timer in enumerate(timers):
            elapsed = timer.timeit(number=loops[index])
            times[index].append(elapsed / loops[index])
    return times


def time_processes(
    commands: dict[str, list[str]], *, runs: int
) -> dict[str, list[float]]:
    """Return wall-clock seconds of each command, run ``runs`` times in turn.

    Installed packages come with their bytecode compiled; a source checkout
    gets it on first import, unless PYTHONDONTWRITEBYTECODE forbids it and
    every run compiles authplug afresh. The children may write bytecode,
    and a first untimed run of each warms the caches, so both sides start
    from bytecode as they would when installed.
    """
    environ = dict(os.environ)
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        subprocess.run(command, check=True, env=environ)
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, env=environ)
            times[name].append(time.perf_counter() - start)
    return times


def _format(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.2f} {unit}"
    return f"{seconds / 1e-9:.0f} ns"


class Report:
    """Collect rows and print them as one aligned table."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(
        self,
        name: str,
        ours: list[float],
        theirs: list[float],
        *,
        baseline: str,
        target: str,
        limit: float,
        use_median: bool = False,
    ) -> None:
        pick = statistics.median if use_median else min
        ratio = pick(ours) / pick(theirs)
        self.rows.append(
            (
                name,
                f"{_format(min(ours))} / {_format(statistics.median(ours))}",
                baseline,
                f"{_format(min(theirs))} / {_format(statistics.median(theirs))}",
                f"{ratio:.2f}",
                target,
                "yes" if ratio <= limit else "NO",
            )
        )

    def print(self) -> None:
        header = (
            "benchmark",
            "authplug best / median",
            "against",
            "best / median",
            "ratio",
            "target",
            "met",
        )
        widths = [max(len(row[i]) for row in [header, *self.rows]) for i in range(7)]
        for row in [header, *self.rows]:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            print("  ".join(cells).rstrip())


def _paths_of_config_error() -> list[str]:
    try:
        authplug.load(INVALID)
    except authplug.ConfigError as exc:
        return [error.path for error in exc.errors]
    raise RuntimeError("the invalid document loaded")


def _paths_of_config_error_first_time() -> list[str]:
    _closest.cache_clear()
    return _paths_of_config_error()


def _paths_of_validation_error() -> list[str]:
    try:
        PydanticOAuth2.model_validate(INVALID)
    except ValidationError as exc:
        return [".".join(map(str, error["loc"])) for error in exc.errors()]
    raise RuntimeError("the invalid document validated")


def _check_equivalence() -> None:
    """Show that both sides accept and refuse the same documents."""
    ours = authplug.load(VALID)
    theirs = PydanticOAuth2.model_validate(VALID)
    same = ours.app.scopes == theirs.app.scopes
    print(f"valid document: both accept it; same scopes: {same}")
    print(f"invalid document, authplug:  {sorted(_paths_of_config_error())}")
    print(f"invalid document, pydantic:  {sorted(_paths_of_validation_error())}")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    options = parser.parse_args(argv)
    repeats, budget, runs = (3, 0.05, 7) if options.quick else (7, 0.2, 25)

    registry = authplug.registry()
    plain = {name: registry.get(name) for name in registry.names()}
    plain.update({alias: t for t in registry.types() for alias in t.aliases})

    print(f"Python {sys.version.split()[0]}, authplug {authplug.__version__}")
    _check_equivalence()
    report = Report()

    for name in ("oauth2", "OAUTH2"):
        ours, theirs = time_pair(
            "registry.get(name)",
            "index[name]",
            repeats=repeats,
            budget=budget,
            namespace={"registry": registry, "index": plain, "name": name},
        )
        report.add(
            f"registry().get({name!r})",
            ours,
            theirs,
            baseline="dict lookup",
            target="<= 3x",
            limit=3.0,
        )

    oauth2 = registry.get("oauth2")
    ours, theirs = time_pair(
        lambda: oauth2.load(VALID),
        lambda: PydanticOAuth2.model_validate(VALID),
        repeats=repeats,
        budget=budget,
    )
    report.add(
        "load valid oauth2",
        ours,
        theirs,
        baseline="pydantic",
        target="<= 1x",
        limit=1.0,
    )

    ours, theirs = time_pair(
        _paths_of_config_error,
        _paths_of_validation_error,
        repeats=repeats,
        budget=budget,
    )
    report.add(
        "load invalid, all paths",
        ours,
        theirs,
        baseline="pydantic",
        target="<= 3x",
        limit=3.0,
    )
    # The row above loads one document again and again, so its "did you
    # mean" answers come from memory after the first load; this one clears
    # that memory first, as a process seeing the mistakes for the first time.
    first, again = time_pair(
        _paths_of_config_error_first_time,
        _paths_of_validation_error,
        repeats=repeats,
        budget=budget,
    )

    python = sys.executable
    processes = time_processes(
        {
            "authplug": [
                python,
                "-c",
                "import authplug; authplug.registry().get('oauth2')",
            ],
            "authlib": [
                python,
                "-c",
                "from authlib.integrations.httpx_client import OAuth2Client",
            ],
            "python": [python, "-c", "pass"],
        },
        runs=runs,
    )
    report.add(
        "fresh process, import + get",
        processes["authplug"],
        processes["authlib"],
        baseline="Authlib httpx",
        target="<= 0.6x",
        limit=0.6,
        use_median=True,
    )

    report.print()
    interpreter = statistics.median(processes["python"])
    print()
    print(
        "(load invalid with no suggestion remembered: "
        f"{_format(min(first))} against pydantic's {_format(min(again))}, "
        f"ratio {min(first) / min(again):.2f})"
    )
    print(f"(an empty interpreter starts in {_format(interpreter)}, median)")


if __name__ == "__main__":
    main()
