"""The ``validate`` command: check a credentials file and summarise it."""

from __future__ import annotations

from pathlib import Path

import click

from authplug.cli._common import masked_fields, note, print_table, read_credentials_arg

__all__ = ["validate"]

_SHAPES = {"authplug": "authplug document", "tray": "Tray test context"}


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--type",
    "type_name",
    metavar="NAME",
    help="The auth type, for files that name none (Tray contexts often do "
    "not); a file naming another type is an error.",
)
def validate(file: Path, type_name: str | None) -> None:
    """Check the credentials in FILE, listing every problem with its path.

    FILE is JSON or TOML: an authplug document ({"type", "auth_id", "user",
    "app"}) or a Tray test context ({"auth": {"authType", "authId", "user",
    "app"}}). ${NAME} in a string is filled from the environment; write $${
    for a literal "${". On success prints a summary with secrets masked.
    Exits 1 when the file is not valid.
    """
    loaded = read_credentials_arg(file, type_name)
    credentials = loaded.credentials

    kind = f"{loaded.format.upper()} {_SHAPES[loaded.shape]}"
    click.echo(f"{file}: valid {credentials.type.name} credentials ({kind})")
    rows = []
    if credentials.auth_id is not None:
        rows.append(("auth_id", credentials.auth_id))
    rows.extend(masked_fields(credentials))
    if rows:
        print_table(("Field", "Value"), rows)

    for path in loaded.ignored:
        note(f"ignored {path}: Tray run-time context, not part of the credentials")
