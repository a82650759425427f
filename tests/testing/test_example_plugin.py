"""The plugin guide's example is a real distribution that keeps the contract.

The example is built and installed into a scratch directory with pip, as a
plugin author's own package would be, then used from fresh processes that
have that directory on their path: the type resolves by name, shows in the
command line, and the example's one-line test passes the kit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.test_docs import marked_blocks

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "authplug-example-plugin"
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE_FILES = ("pyproject.toml", "authplug_example.py", "tests/test_contract.py")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling", reason="hatchling (test extra) builds it")
    target = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("source") / EXAMPLE.name
    # Build from a copy, so the build leaves nothing behind in the repo.
    shutil.copytree(EXAMPLE, source)

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return target


def _run(site: Path, *args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("AUTHPLUG_BLOCK", None)
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_installed_example_resolves_by_name(site: Path) -> None:
    probe = (
        "import authplug; t = authplug.registry().get('example.shop'); "
        "print(t.name, t.plugin, t.distribution, t.version, t.parent)"
    )

    printed = _run(site, "-c", probe)

    assert printed.split() == [
        "example.shop",
        "example",
        "authplug-example-plugin",
        "0.1.0",
        "token",
    ]


def test_the_command_line_lists_it_as_the_guide_shows(site: Path) -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    shown = next(line for line in guide.splitlines() if line.startswith("example."))

    printed = _run(site, "-c", "from authplug.cli import main; main(['types'])")

    listed = next(line for line in printed.splitlines() if line.startswith("example."))
    assert listed.split() == shown.split()


def test_the_examples_own_test_passes_the_kit(site: Path, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE / "tests", tmp_path / "tests")

    printed = _run(
        site,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--authplug-examples",
        "10",
        "-v",
        cwd=tmp_path,
    )

    assert "10 passed" in printed
    assert "test_contract.py::TestShop::test_secrets PASSED" in printed


def test_the_guide_shows_exactly_the_example_files() -> None:
    shown = {
        block.arg: block.text
        for block in marked_blocks(GUIDE)
        if block.kind == "file" and block.arg
    }

    assert sorted(shown) == sorted(EXAMPLE_FILES)
    for name in EXAMPLE_FILES:
        assert shown[name] == (EXAMPLE / name).read_text(encoding="utf-8"), name


def test_the_example_is_nothing_but_those_files() -> None:
    def is_cache(path: Path) -> bool:
        parts = path.relative_to(EXAMPLE).parts
        return any(part.startswith(".") or part == "__pycache__" for part in parts)

    found = {
        path.relative_to(EXAMPLE).as_posix()
        for path in EXAMPLE.rglob("*")
        if path.is_file() and not is_cache(path)
    }

    assert found == set(EXAMPLE_FILES)
