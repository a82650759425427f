"""The documentation tells the truth: examples run, outputs match, links hold.

Code blocks in the README and the user guide are checked when a marker
comment comes right before them:

- ``<!-- test: run -->`` before a ``python`` block: the block runs, in
  order with the file's other blocks, in a scratch directory;
- ``<!-- test: output -->`` before a ``text`` block: it equals what the last
  run block printed;
- ``<!-- test: file NAME -->`` before any block: its text is written to NAME
  for later blocks to use;
- ``<!-- test: console -->`` before a ``console`` block: each ``$ authplug
  ...`` line runs the command line, whose output must match the lines
  under it, and ``$ export NAME=...`` sets NAME to a made-up secret that
  must never appear in any output.

Blocks without a marker are illustrations and are not run.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
import types
from pathlib import Path

import pytest
from attrs import frozen
from click.testing import CliRunner

from authplug.cli import cli
from authplug.cli.reference import REGENERATE, generate_reference

ROOT = Path(__file__).resolve().parent.parent
TESTED_DOCS = ("README.md", "docs/user-guide.md")

_MARKER = re.compile(r"^<!-- test: (?P<kind>[a-z]+)(?: (?P<arg>\S+))? -->$")
_FENCE = re.compile(r"^```(?P<lang>[a-z]*)$")
_LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


@frozen
class Block:
    kind: str
    arg: str | None
    lang: str
    text: str
    line: int


def marked_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        marker = _MARKER.match(lines[index])
        index += 1
        if marker is None:
            continue

        fence = _FENCE.match(lines[index]) if index < len(lines) else None
        if fence is None:
            pytest.fail(f"{path}:{index}: a test marker must precede a code block")
        start = index + 1
        end = lines.index("```", start)
        text = "\n".join(lines[start:end]) + "\n"
        blocks.append(
            Block(marker["kind"], marker["arg"], fence["lang"], text, start + 1)
        )
        index = end + 1
    return blocks


def run_console(block: Block, env: dict[str, str], where: str) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.text.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)

    for command, expected in commands:
        words = shlex.split(command)
        if words[0] == "export":
            for assignment in words[1:]:
                name = assignment.split("=", 1)[0]
                env[name] = f"made-up-secret-of-{name}"
            continue

        assert words[0] == "authplug", f"{where}: only authplug commands run"
        result = CliRunner().invoke(cli, words[1:], env=env)
        assert result.output.splitlines() == expected, f"{where}: {command}"
        for secret in env.values():
            assert secret not in result.output


@pytest.mark.parametrize("name", TESTED_DOCS)
def test_marked_examples_run_and_match(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ROOT / name
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"docs_example_{path.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    env: dict[str, str] = {}
    printed = ""

    blocks = marked_blocks(path)
    assert blocks, f"{name} has no tested examples"
    for block in blocks:
        where = f"{name}:{block.line}"
        if block.kind == "run":
            assert block.lang == "python", where
            buffer = io.StringIO()
            code = compile(block.text, where, "exec")
            with contextlib.redirect_stdout(buffer):
                exec(code, module.__dict__)
            printed = buffer.getvalue()
        elif block.kind == "output":
            assert printed == block.text, where
        elif block.kind == "file":
            assert block.arg, f"{where}: name the file"
            (tmp_path / block.arg).write_text(block.text, encoding="utf-8")
        elif block.kind == "console":
            run_console(block, env, where)
        else:
            pytest.fail(f"{where}: unknown test marker {block.kind!r}")


def test_the_user_guide_examples_validate(tmp_path: Path) -> None:
    names = [b.arg for b in marked_blocks(ROOT / "docs/user-guide.md") if b.arg]
    env = {
        "ACME_ACCESS_TOKEN": "a",
        "ACME_CLIENT_SECRET": "s",
        "ACME_REFRESH_TOKEN": "r",
    }

    for block in marked_blocks(ROOT / "docs/user-guide.md"):
        if block.kind == "file":
            (tmp_path / str(block.arg)).write_text(block.text, encoding="utf-8")
    results = {
        name: CliRunner().invoke(cli, ["validate", str(tmp_path / name)], env=env)
        for name in names
    }

    assert {name: r.exit_code for name, r in results.items()} == {
        "test.ctx.json": 0,
        "creds.toml": 0,
        "mistakes.json": 1,
    }


def test_the_reference_is_generated_from_the_registry() -> None:
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")

    generated = generate_reference()

    assert committed == generated, (
        f"docs/reference.md is out of date; regenerate it with: {REGENERATE}"
    )


def test_reference_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text(generate_reference().replace("oauth2", "oauth3"), "utf-8")
    current = tmp_path / "current.md"
    current.write_text(generate_reference(), "utf-8")

    failed = CliRunner().invoke(cli, ["reference", "--check", str(stale)])
    passed = CliRunner().invoke(cli, ["reference", "--check", str(current)])

    assert failed.exit_code == 1
    assert REGENERATE in failed.stderr
    assert passed.exit_code == 0


def test_the_reference_covers_every_built_in_field() -> None:
    text = generate_reference()

    for name in ("basic", "none", "oauth1", "oauth2", "token"):
        assert f"## `{name}`" in text
    assert "| `client_secret` | secret | no | yes | `null` |" in text
    assert "| `password` | secret | yes | yes |  |" in text


def _doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("path", _doc_files(), ids=lambda p: p.name)
def test_relative_links_point_at_files_that_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    missing = []
    for match in _LINK.finditer(text):
        target = match["target"].split("#", 1)[0]
        if not target or re.match(r"^[a-z]+:", target):
            continue
        resolved = (path.parent / target).resolve()
        if not resolved.exists():
            missing.append(match["target"])

    assert missing == []
