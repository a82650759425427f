"""The ``authplug`` command line.

Each command lives in its own module of this package and is loaded only
when it runs (or when ``--help`` lists it), so a command that needs a heavy
library costs nothing to the others, and ``import authplug`` never imports
click or rich at all.

Adding a command
----------------

1. Write a module here, say ``authplug/cli/token.py``, holding a plain
   click command::

       import click

       from authplug.cli._common import print_json, read_credentials_arg

       @click.command()
       @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
       def token(file: Path) -> None:
           \"\"\"Print a fresh access token for the credentials in FILE.\"\"\"
           loaded = read_credentials_arg(file)
           ...

2. Add one line to :data:`COMMANDS` below: ``"token": "authplug.cli.token:token"``.

3. Test it with ``click.testing.CliRunner().invoke(authplug.cli.cli, [...])``;
   pass ``obj=State(registry=...)`` to run against a registry of your own.

Inside a command, just raise: :func:`authplug.cli._common.run` turns an
:class:`~authplug.AuthplugError` or :class:`OSError` into one clear line on
stderr and exit status 1, click's usage errors into status 2, and anything
unexpected into a one-line report that points at ``--debug``. Use the
helpers of :mod:`authplug.cli._common` for output (``print_table``,
``print_json``, ``warn``, ``note``), for reading files named on the command
line (``read_credentials_arg``) and for showing credentials without their
secrets (``masked_fields``). Never print a :class:`~authplug.Secret`'s
revealed value unless the user asked for it with an explicit flag.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import click

from authplug import __version__
from authplug.cli._common import State, logging_to_stderr, run

__all__ = ["COMMANDS", "State", "cli", "main"]

COMMANDS: Mapping[str, str] = {
    "types": "authplug.cli.catalog:types",
    "show": "authplug.cli.catalog:show",
    "schema": "authplug.cli.catalog:schema",
    "validate": "authplug.cli.validate:validate",
    "reference": "authplug.cli.reference:reference",
    "connect": "authplug.cli.store_cmds:connect",
    "list": "authplug.cli.store_cmds:list_saved",
    "remove": "authplug.cli.store_cmds:remove",
    "token": "authplug.cli.store_cmds:token",
    "authorize": "authplug.cli.authorize_cmd:authorize",
    "store": "authplug.cli.store_cmds:store_group",
}
"""Every command, by name, as ``"module:attribute"`` of a click command."""


class _Group(click.Group):
    """A group whose commands load on demand and whose errors never trace."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)

        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        """Run the command line; exit with its status unless told not to."""
        current = extra.pop("obj", None) or State()

        def invoke(chosen: State) -> Any:
            return super(_Group, self).main(
                args,
                prog_name or "authplug",
                complete_var,
                standalone_mode=False,
                obj=chosen,
                **extra,
            )

        status = run(invoke, current)
        if standalone_mode:
            raise SystemExit(status)
        return status


@click.group(cls=_Group, lazy=COMMANDS, context_settings={"max_content_width": 100})
@click.option(
    "--debug",
    is_flag=True,
    envvar="AUTHPLUG_DEBUG",
    help="Show debug logging, and the traceback of any error.",
)
@click.version_option(__version__, prog_name="authplug")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Inspect auth types and check credentials files.

    Credentials files are JSON or TOML, either authplug's own
    {"type", "user", "app"} document or a Tray test.ctx.json; ${NAME}
    in any string is filled from the environment.
    """
    current = ctx.ensure_object(State)
    current.debug = debug
    ctx.with_resource(logging_to_stderr(debug))


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``authplug`` with ``argv`` (default: the process arguments).

    Returns the exit status instead of exiting, for callers that embed the
    command line; the console script exits with it.
    """
    return cli.main(argv, standalone_mode=False)
