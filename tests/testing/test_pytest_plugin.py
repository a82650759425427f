"""The pytest plugin: cheap to load, and the contract class as pytest sees it.

Each test runs pytest in a fresh process, where the plugin arrives through
the ``pytest11`` entry point exactly as it does for a plugin author.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

NOTE_TESTS = '''
import attrs

from authplug import AuthType, build_registry, hookimpl
from authplug.testing import AuthTypeContract, pytest_plugin


@attrs.frozen(kw_only=True)
class NoteUser:
    """A note, data only."""

    note: str


NOTE = AuthType(name="kit.note", summary="A note, data only", user_model=NoteUser)


class Plugin:
    @hookimpl
    def authplug_auth_types(self):
        return [NOTE]


class TestNote(AuthTypeContract):
    auth_type = "kit.note"
    registry = build_registry(plugins={"note": Plugin()}, entry_points=False)


def test_the_option_reaches_the_kit():
    assert pytest_plugin.examples() == 3
'''


def _pytest(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_loading_the_plugin_imports_neither_hypothesis_nor_the_kit() -> None:
    probe = (
        "import sys, authplug.testing.pytest_plugin; "
        "print(sorted(n for n in sys.modules if n.startswith("
        "('hypothesis', 'jsonschema', 'authplug.testing.'))))"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "['authplug.testing.pytest_plugin']"


def test_a_contract_class_is_a_test_per_rule_with_flow_checks_skipped(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_note.py").write_text(NOTE_TESTS, encoding="utf-8")

    result = _pytest(tmp_path, "-rs", "-v", "--authplug-examples", "3")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 passed, 3 skipped" in result.stdout
    assert "test_note.py::TestNote::test_round_trip PASSED" in result.stdout
    assert (
        "'kit.note' has no flow (flow=None), so there is nothing to apply"
        in result.stdout
    )


def test_the_marker_selects_the_contract_tests(tmp_path: Path) -> None:
    (tmp_path / "test_note.py").write_text(NOTE_TESTS, encoding="utf-8")

    result = _pytest(
        tmp_path,
        "--strict-markers",
        "-m",
        "authplug_contract",
        "--authplug-examples",
        "3",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed, 3 skipped, 1 deselected" in result.stdout


def test_a_bad_example_count_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("", encoding="utf-8")

    result = _pytest(tmp_path, "--authplug-examples", "0")

    assert result.returncode == 4
    assert "--authplug-examples" in result.stderr


def test_every_public_name_of_the_kit_resolves() -> None:
    import authplug.testing as kit

    missing = [name for name in kit.__all__ if getattr(kit, name, None) is None]

    assert missing == []
    assert sorted(kit.__all__) == dir(kit)


def test_an_unknown_name_is_an_attribute_error() -> None:
    import authplug.testing as kit

    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        kit.no_such_thing  # noqa: B018
