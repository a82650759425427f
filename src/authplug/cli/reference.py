"""Generate ``docs/reference.md``, the reference of the built-in auth types.

The reference is built from the registry, so it says what the code does::

    python -m authplug.cli.reference --output docs/reference.md
    python -m authplug.cli.reference --check docs/reference.md

The second form exits 1 when the file is out of date; the test suite runs
the same comparison, so the committed reference cannot drift from the code.
The same command is available, unlisted, as ``authplug reference``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from authplug.cli._common import fail
from authplug.cli._fields import FieldInfo, fields_of
from authplug.records import AuthType
from authplug.registry import Registry, build_registry

__all__ = ["builtin_types", "generate_reference", "reference"]

DISTRIBUTION = "authplug"
REGENERATE = "python -m authplug.cli.reference --output docs/reference.md"

_INTRO = """\
# Built-in auth types

<!-- Generated from the registry by `{command}`.
     Do not edit by hand: tests/test_docs.py fails when this file is stale. -->

These are the auth types the `authplug` distribution itself provides. Each
is a plugin, loaded through the `authplug` entry-point group like any other;
plugins of other distributions add their own (see `authplug types`).

A credentials document names its type and gives two tables: `user` (what
each user has, such as tokens) and `app` (what is set once per service,
such as the client id and endpoints). Fields marked secret are held as
`authplug.Secret` and never shown in output. A type may also be named by
any of its aliases, such as Tray's tags (`OAUTH2`).

| Type | Aliases | Summary |
|---|---|---|
"""


def builtin_types(registry: Registry | None = None) -> list[AuthType]:
    """Return the types of the ``authplug`` distribution, sorted by name.

    By default a registry is built afresh with nothing blocked, so neither
    ``AUTHPLUG_BLOCK`` nor other installed plugins change the result.
    """
    chosen = registry if registry is not None else build_registry(block=())
    return [record for record in chosen.types() if record.distribution == DISTRIBUTION]


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


def _field_table(found: list[FieldInfo]) -> list[str]:
    lines = [
        "| Field | Type | Required | Secret | Default | Description |",
        "|---|---|---|---|---|---|",
    ]
    for info in found:
        cells = (
            _code(info.name),
            _cell(info.type),
            "yes" if info.required else "no",
            "yes" if info.secret else "no",
            _cell(_code(info.default_text())),
            _cell(info.description),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _model_intro(model: type) -> str:
    doc = (model.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def _type_section(record: AuthType) -> list[str]:
    aliases = ", ".join(_code(alias) for alias in record.aliases) or "none"
    lines = [f"## `{record.name}`", "", record.summary, ""]
    lines.append(f"- Aliases: {aliases}")
    if record.parent:
        lines.append(f"- Derives from: `{record.parent}`")
    lines.append(f"- Plugin: `{record.plugin}`")

    for side, model in (("user", record.user_model), ("app", record.app_model)):
        found = fields_of(model, side)
        lines.extend(["", f"### `{side}` fields", ""])
        if not found:
            lines.append("None.")
            continue
        intro = _model_intro(model)
        if intro:
            lines.extend([intro, ""])
        lines.extend(_field_table(found))
    lines.append("")
    return lines


def generate_reference(records: list[AuthType] | None = None) -> str:
    """Return the Markdown reference of ``records`` (the built-ins by default)."""
    chosen = records if records is not None else builtin_types()
    lines = [_INTRO.format(command=REGENERATE).rstrip("\n")]
    for record in chosen:
        aliases = ", ".join(_code(alias) for alias in record.aliases)
        lines.append(f"| `{record.name}` | {aliases} | {_cell(record.summary)} |")
    lines.append("")
    for record in chosen:
        lines.extend(_type_section(record))
    return "\n".join(lines).rstrip("\n") + "\n"


@click.command(hidden=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the reference to this file instead of stdout.",
)
@click.option(
    "--check",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Exit 1 if this file differs from the generated reference.",
)
def reference(output: Path | None, check: Path | None) -> None:
    """Generate the Markdown reference of the built-in auth types."""
    text = generate_reference()

    if check is not None:
        if check.read_text(encoding="utf-8") != text:
            fail(f"{check} is out of date; regenerate it with: {REGENERATE}")
        click.echo(f"{check} is up to date")
        return

    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":
    from authplug.cli import cli

    sys.exit(cli.main(["reference", *sys.argv[1:]], standalone_mode=False))
