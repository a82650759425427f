"""The commands that describe auth types: ``types``, ``show`` and ``schema``."""

from __future__ import annotations

import json
from typing import Any

import click

from authplug.cli._common import (
    auth_type,
    current_registry,
    print_json,
    print_table,
    warn,
)
from authplug.cli._fields import FieldInfo, describe_type, fields_of
from authplug.records import AuthType

__all__ = ["schema", "show", "types"]

_JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of a table."
)


def _origin(record: AuthType) -> tuple[str, str, str]:
    return (
        record.plugin or "",
        record.distribution or "",
        record.version or "",
    )


def _type_json(record: AuthType) -> dict[str, Any]:
    return {
        "name": record.name,
        "aliases": list(record.aliases),
        "summary": record.summary,
        "parent": record.parent,
        "plugin": record.plugin,
        "distribution": record.distribution,
        "version": record.version,
    }


@click.command()
@_JSON_OPTION
def types(as_json: bool) -> None:
    """List every registered auth type.

    Plugins that could not be loaded are listed as warnings on stderr.
    """
    chosen = current_registry()
    records = chosen.types()

    for problem in chosen.problems:
        warn(f"skipped {problem}")

    if as_json:
        print_json(
            {
                "types": [_type_json(record) for record in records],
                "skipped": [
                    {
                        "plugin": problem.plugin,
                        "distribution": problem.distribution,
                        "message": problem.message,
                    }
                    for problem in chosen.problems
                ],
            }
        )
        return

    rows = [
        (record.name, ", ".join(record.aliases), record.summary, *_origin(record))
        for record in records
    ]
    print_table(
        ("Name", "Aliases", "Summary", "Plugin", "Distribution", "Version"), rows
    )


def _field_rows(found: list[FieldInfo]) -> list[tuple[str, ...]]:
    return [
        (
            info.name,
            info.type,
            "yes" if info.required else "no",
            "yes" if info.secret else "no",
            info.default_text(),
            info.description,
        )
        for info in found
    ]


@click.command()
@click.argument("name")
@_JSON_OPTION
def show(name: str, as_json: bool) -> None:
    """Show the user and app fields of the auth type NAME.

    NAME may be a type's name or any alias, such as OAUTH2.
    """
    record = auth_type(name)
    if as_json:
        print_json(describe_type(record))
        return

    click.echo(f"{record.name}: {record.summary}")
    if record.aliases:
        click.echo(f"aliases: {', '.join(record.aliases)}")
    if record.parent:
        click.echo(f"derives from: {record.parent}")
    plugin, distribution, version = _origin(record)
    origin = " ".join(part for part in (distribution, version) if part)
    click.echo(f"plugin: {plugin or '(none)'}" + (f" ({origin})" if origin else ""))

    columns = ("Field", "Type", "Required", "Secret", "Default", "Description")
    for side, model in (("user", record.user_model), ("app", record.app_model)):
        click.echo("")
        print_table(
            columns, _field_rows(fields_of(model, side)), title=f"{side} fields"
        )


@click.command()
@click.argument("name")
def schema(name: str) -> None:
    """Print the JSON Schema of credentials of the auth type NAME.

    The schema (draft 2020-12) describes a whole document, with secret
    fields marked writeOnly, for building auth forms.
    """
    click.echo(json.dumps(auth_type(name).json_schema(), indent=2))
