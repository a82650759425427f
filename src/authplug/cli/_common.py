"""Helpers every command shares: state, output, errors, files and masking.

Commands print results to stdout and everything else (warnings, notes,
errors) to stderr, so their output can be piped. Tables are drawn with rich
on a terminal and written as plain aligned columns otherwise; ``NO_COLOR``
turns colour and styling off everywhere.

Errors a user can fix end in one clear message and exit status 1, never a
traceback; :func:`run` is the one place that turns exceptions into
messages. Commands therefore just raise: an :class:`~authplug.AuthplugError`,
an :class:`OSError`, or :func:`fail` for anything else.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn

import click
from attrs import define

from authplug.errors import AuthplugError, ConfigError, UnknownAuthType
from authplug.files import CredentialsFile, read_credentials
from authplug.records import AuthType, Credentials
from authplug.registry import Registry, registry
from authplug.secret import MASK, Secret

__all__ = [
    "State",
    "auth_type",
    "current_registry",
    "fail",
    "masked_fields",
    "note",
    "print_json",
    "print_table",
    "read_credentials_arg",
    "run",
    "warn",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@define
class State:
    """What the top-level options decided, shared with every command.

    Args:
        debug: Show tracebacks and debug logging.
        registry: The registry commands use; the process default when None
            (tests and embedding applications pass their own).
    """

    debug: bool = False
    registry: Registry | None = None


def state() -> State:
    """Return the :class:`State` of the running command."""
    found = click.get_current_context().find_object(State)
    return found if found is not None else State()


def current_registry() -> Registry:
    """Return the registry commands resolve names against."""
    chosen = state().registry
    return chosen if chosen is not None else registry()


def auth_type(name: str) -> AuthType:
    """Return the auth type called ``name``, or raise UnknownAuthType."""
    return current_registry().get(name)


def read_credentials_arg(path: Path, type: str | None = None) -> CredentialsFile:
    """Read and validate a credentials file named on the command line."""
    return read_credentials(path, type=type, registry=current_registry())


def fail(message: str) -> NoReturn:
    """Stop the command with ``message`` on stderr and exit status 1."""
    raise click.ClickException(message)


# -- output -------------------------------------------------------------------


def color_allowed(stream: IO[str]) -> bool:
    """Tell whether ``stream`` may get colour: a terminal, and no NO_COLOR."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def _stderr_line(label: str, message: str, color: str) -> None:
    stream = sys.stderr
    prefix = f"{label}:"
    if color_allowed(stream):
        prefix = click.style(prefix, fg=color, bold=True)
    click.echo(f"{prefix} {message}", err=True, color=color_allowed(stream))


def warn(message: str) -> None:
    """Print a warning on stderr."""
    _stderr_line("Warning", message, "yellow")


def note(message: str) -> None:
    """Print a note on stderr."""
    _stderr_line("Note", message, "cyan")


def _error(message: str) -> None:
    _stderr_line("Error", message, "red")


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _rich_console() -> Any:
    from rich.console import Console

    no_color = bool(os.environ.get("NO_COLOR"))
    return Console(
        file=sys.stdout,
        highlight=False,
        color_system=None if no_color else "auto",
    )


def print_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    """Print a table: drawn by rich on a terminal, plain columns otherwise.

    Plain output has a header line, then one line per row with the columns
    separated by two spaces, so it suits ``grep``, ``cut`` and ``awk``.
    """
    console = _rich_console()
    if console.is_terminal:
        from rich.table import Table

        table = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return

    if title:
        click.echo(title)
    if not rows:
        click.echo("(none)")
        return
    header = [column.upper() for column in columns]
    widths = [
        max(len(line[index]) for line in [header, *rows])
        for index in range(len(columns))
    ]
    for line in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=True)]
        click.echo("  ".join(cells).rstrip())


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def masked_fields(credentials: Credentials[Any, Any]) -> list[tuple[str, str]]:
    """Return the set fields of ``credentials`` as (path, shown value) pairs.

    Secrets show as a mask; other values as JSON. Fields left empty (null,
    an empty list or table) are left out, so the summary stays short.
    """
    document = credentials.dump(reveal_secrets=False)
    shown: list[tuple[str, str]] = []
    for side in ("user", "app"):
        instance = getattr(credentials, side)
        for name, value in document.get(side, {}).items():
            if value is None or value == [] or value == {}:
                continue
            if isinstance(getattr(instance, name, None), Secret):
                shown.append((f"{side}.{name}", MASK))
            else:
                shown.append((f"{side}.{name}", _shown(value)))
    return shown


# -- running ------------------------------------------------------------------


class _EchoHandler(logging.Handler):
    """Send log records to the current stderr, wherever click points it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        label = record.levelname.capitalize()
        _stderr_line(label, message, "yellow")


@contextmanager
def logging_to_stderr(debug: bool) -> Iterator[None]:
    """Show authplug's log records on stderr while a command runs.

    Warnings show always, everything with ``--debug``. The registry's
    notices about skipped plugins are left to the commands, which report
    them where they matter (``authplug types``), so they are not printed
    twice. Levels and handlers are restored afterwards, so running the CLI
    in-process leaves logging as it was.
    """
    package = logging.getLogger("authplug")
    registry_log = logging.getLogger("authplug.registry")
    saved = (package.level, package.propagate, registry_log.level)

    handler = _EchoHandler()
    package.addHandler(handler)
    package.setLevel(logging.DEBUG if debug else logging.WARNING)
    package.propagate = False
    if not debug:
        registry_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(saved[0])
        package.propagate = saved[1]
        registry_log.setLevel(saved[2])


def _skipped_plugins_note(current: State) -> None:
    try:
        chosen = current.registry if current.registry is not None else registry()
    except AuthplugError:
        return
    if chosen.problems:
        count = len(chosen.problems)
        noun = "plugin was" if count == 1 else "plugins were"
        note(f"{count} {noun} skipped; 'authplug types' shows why")


def _mentions_unknown_type(exc: BaseException) -> bool:
    if isinstance(exc, UnknownAuthType):
        return True
    if isinstance(exc, ConfigError):
        return any("unknown auth type" in error.message for error in exc.errors)
    return False


def _os_error_message(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return reason


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" at {Path(last.filename).name}:{last.lineno}"


def run(invoke: Callable[[State], Any], current: State | None = None) -> int:
    """Run ``invoke(state)`` and turn every outcome into an exit status.

    0 for success, 1 for any failure the user can act on (bad credentials,
    a missing file, an unknown type), 2 for usage errors, 130 when
    interrupted. Unexpected exceptions print one line naming the exception
    type and where it was raised, never its message (which might quote a
    value), and suggest ``--debug`` for the full traceback.
    """
    current = current if current is not None else State()
    try:
        result = invoke(current)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        exc.show()
        return EXIT_USAGE
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except click.Abort:
        _error("aborted")
        return EXIT_FAILURE
    except KeyboardInterrupt:
        click.echo("", err=True)
        return EXIT_INTERRUPTED
    except AuthplugError as exc:
        _show_traceback(current)
        _error(str(exc))
        if _mentions_unknown_type(exc):
            _skipped_plugins_note(current)
        return EXIT_FAILURE
    except OSError as exc:
        _show_traceback(current)
        _error(_os_error_message(exc))
        return EXIT_FAILURE
    except Exception as exc:
        _show_traceback(current)
        _error(
            f"internal error: {type(exc).__name__}{_where(exc)}. "
            "Run again with --debug to see the traceback, and please report it."
        )
        return EXIT_FAILURE
    return result if isinstance(result, int) else EXIT_OK


def _show_traceback(current: State) -> None:
    if current.debug:
        traceback.print_exc(file=sys.stderr)
