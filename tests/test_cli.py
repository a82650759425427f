"""The command line, in-process with CliRunner and as the installed script."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result

import authplug
from authplug import AuthType, Secret, build_registry, hookimpl
from authplug.builtin.token import TokenApp, TokenUser
from authplug.cli import State, cli, main

BUILT_INS = (
    "basic",
    "none",
    "oauth1",
    "oauth2",
    "oauth2.client_credentials",
    "oauth2.password",
    "token",
)

FILE_SECRETS = ("file-client-secret-1", "file-refresh-token-2")
ENV_SECRET = "env-access-token-3"


def invoke(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    obj: State | None = None,
) -> Result:
    runner = CliRunner()
    return runner.invoke(cli, args, env=env, obj=obj, catch_exceptions=False)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    return write_json(
        tmp_path / "creds.json",
        {
            "type": "oauth2",
            "auth_id": "acct-1",
            "user": {
                "access_token": "${ACCESS_TOKEN}",
                "refresh_token": FILE_SECRETS[1],
            },
            "app": {
                "client_id": "my-client",
                "client_secret": FILE_SECRETS[0],
                "token_url": "https://auth.example.com/token",
                "auth_url": "https://auth.example.com/authorize",
                "scopes": "read write",
            },
        },
    )


@pytest.fixture
def three_mistakes(tmp_path: Path) -> Path:
    return write_json(
        tmp_path / "bad.json",
        {
            "type": "oauth2",
            "user": {"refresh_token": FILE_SECRETS[1]},
            "app": {
                "client_id": 12345,
                "client_secret": FILE_SECRETS[0],
                "token_url": "http://auth.example.com/token",
                "auth_url": "https://auth.example.com/authorize",
                "scope": "read",
            },
        },
    )


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        for secret in (*FILE_SECRETS, ENV_SECRET):
            assert secret not in text


# -- types --------------------------------------------------------------------


def test_types_lists_the_seven_built_ins() -> None:
    result = invoke(["types"])

    assert result.exit_code == 0
    names = {line.split()[0] for line in result.stdout.splitlines()[1:]}
    assert set(BUILT_INS) <= names
    assert "OAUTH2_CLIENT_CREDENTIALS" in result.stdout


def test_types_prints_plain_columns_when_not_a_terminal() -> None:
    result = invoke(["types"])

    header = result.stdout.splitlines()[0].split()
    assert header == ["NAME", "ALIASES", "SUMMARY", "PLUGIN", "DISTRIBUTION", "VERSION"]
    assert "\x1b[" not in result.stdout
    assert "│" not in result.stdout


def test_types_draws_a_table_on_a_terminal() -> None:
    result = invoke(["types"], env={"FORCE_COLOR": "1", "NO_COLOR": ""})

    assert "┃" in result.stdout
    assert "\x1b[" in result.stdout


def test_no_color_keeps_the_table_but_drops_every_escape() -> None:
    result = invoke(["types"], env={"FORCE_COLOR": "1", "NO_COLOR": "1"})

    assert "┃" in result.stdout
    assert "\x1b[" not in result.stdout


def test_types_json_describes_each_type() -> None:
    result = invoke(["types", "--json"])

    data = json.loads(result.stdout)
    by_name = {entry["name"]: entry for entry in data["types"]}
    assert set(BUILT_INS) <= set(by_name)
    oauth2 = by_name["oauth2.client_credentials"]
    assert oauth2["aliases"] == ["OAUTH2_CLIENT_CREDENTIALS"]
    assert oauth2["parent"] == "oauth2"
    assert oauth2["plugin"] == "oauth2"
    assert oauth2["distribution"] == "authplug"
    assert oauth2["version"] == authplug.__version__
    assert data["skipped"] == []


class _BrokenPlugin:
    @hookimpl
    def authplug_auth_types(self) -> Iterable[AuthType]:
        raise RuntimeError("the plugin's own bug")


@attrs.frozen(kw_only=True)
class _ShopApp(TokenApp):
    shop: str = authplug.describe("The shop's subdomain")


_SHOP = AuthType(
    name="acme.shop",
    summary="Acme shop API key",
    user_model=TokenUser,
    app_model=_ShopApp,
    aliases=("ACME_SHOP",),
)


class _ShopPlugin:
    @hookimpl
    def authplug_auth_types(self) -> Iterable[AuthType]:
        return [_SHOP]


def test_types_warns_about_skipped_plugins_on_stderr() -> None:
    registry = build_registry(
        entry_points=False, plugins={"shop": _ShopPlugin(), "broken": _BrokenPlugin()}
    )

    result = invoke(["types"], obj=State(registry=registry))
    as_json = invoke(["types", "--json"], obj=State(registry=registry))

    assert result.exit_code == 0
    assert "acme.shop" in result.stdout
    assert "Warning: skipped plugin 'broken'" in result.stderr
    assert "the plugin's own bug" in result.stderr
    assert "broken" not in result.stdout
    assert json.loads(as_json.stdout)["skipped"][0]["plugin"] == "broken"


def test_the_registry_log_is_not_printed_twice() -> None:
    registry = build_registry(entry_points=False, plugins={"broken": _BrokenPlugin()})

    result = invoke(["types"], obj=State(registry=registry))

    assert result.stderr.count("the plugin's own bug") == 1


# -- show and schema ------------------------------------------------------------


def test_show_lists_user_and_app_fields() -> None:
    result = invoke(["show", "oauth2"])

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("oauth2: ")
    client_secret = next(line for line in lines if line.startswith("client_secret"))
    assert client_secret.split()[:5] == ["client_secret", "secret", "no", "yes", "null"]
    client_id = next(line for line in lines if line.startswith("client_id"))
    assert client_id.split()[:4] == ["client_id", "string", "yes", "no"]
    assert "user fields" in result.stdout
    assert "app fields" in result.stdout


def test_show_resolves_aliases_and_prints_json() -> None:
    result = invoke(["show", "OAUTH2_PASSWORD", "--json"])

    data = json.loads(result.stdout)
    assert data["name"] == "oauth2.password"
    user = {field["name"]: field for field in data["user"]}
    assert user["password"] == {
        "name": "password",
        "type": "secret",
        "required": True,
        "secret": True,
        "description": "The resource owner's password",
    }
    assert user["token_type"]["default"] == "Bearer"
    app = {field["name"]: field for field in data["app"]}
    assert app["client_auth"]["type"] == (
        '"client_secret_basic" | "client_secret_post" | "none"'
    )
    assert app["scopes"]["default"] == []


def test_show_a_type_with_no_fields() -> None:
    result = invoke(["show", "none"])

    assert result.exit_code == 0
    assert result.stdout.count("(none)") == 2


def test_show_a_derived_plugin_type() -> None:
    registry = build_registry(entry_points=False, plugins={"shop": _ShopPlugin()})

    result = invoke(["show", "ACME_SHOP", "--json"], obj=State(registry=registry))

    shop = next(f for f in json.loads(result.stdout)["app"] if f["name"] == "shop")
    assert shop["required"] is True
    assert shop["description"] == "The shop's subdomain"


def test_unknown_names_suggest_the_closest() -> None:
    result = invoke(["show", "oauht2"])

    assert result.exit_code == 1
    assert "unknown auth type 'oauht2'; did you mean 'oauth2'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_names_mention_skipped_plugins() -> None:
    registry = build_registry(entry_points=False, plugins={"broken": _BrokenPlugin()})

    result = invoke(["show", "acme.shop"], obj=State(registry=registry))

    assert result.exit_code == 1
    assert "1 plugin was skipped; 'authplug types' shows why" in result.stderr


def test_schema_prints_the_types_json_schema() -> None:
    result = invoke(["schema", "TOKEN"])

    assert result.exit_code == 0
    assert json.loads(result.stdout) == authplug.registry().get("token").json_schema()
    assert result.stdout.startswith("{\n  ")


# -- validate ---------------------------------------------------------------------


def test_validate_a_good_file_prints_a_masked_summary(valid_file: Path) -> None:
    result = invoke(["validate", str(valid_file)], env={"ACCESS_TOKEN": ENV_SECRET})

    assert result.exit_code == 0
    assert "valid oauth2 credentials (JSON authplug document)" in result.stdout
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines()[2:])
    assert rows["auth_id"] == "acct-1"
    assert rows["user.access_token"] == "********"
    assert rows["app.client_secret"] == "********"
    assert rows["app.client_id"] == '"my-client"'
    assert rows["app.scopes"] == '["read", "write"]'
    assert_no_secrets(result.stdout, result.stderr)


def test_validate_names_all_three_mistakes_and_exits_1(three_mistakes: Path) -> None:
    result = invoke(["validate", str(three_mistakes)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"3 problems in {three_mistakes}" in result.stderr
    assert "app.client_id: must be a string" in result.stderr
    assert "app.token_url: must use https" in result.stderr
    assert "app.scope: unknown field; did you mean 'scopes'?" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secrets(result.stdout, result.stderr)


def test_validate_reports_unset_variables(valid_file: Path) -> None:
    result = invoke(["validate", str(valid_file)], env={"ACCESS_TOKEN": None})  # type: ignore[dict-item]

    assert result.exit_code == 1
    assert "user.access_token: refers to the environment variable ACCESS_TOKEN" in (
        result.stderr
    )


def test_validate_never_shows_secrets_even_with_debug(
    tmp_path: Path,
) -> None:
    path = write_json(
        tmp_path / "bad.json",
        {
            "type": "oauth2.password",
            "user": {"username": "ada", "password": ["${ACCESS_TOKEN}"]},
            "app": {
                "client_id": "c",
                "client_secret": FILE_SECRETS[0],
                "token_url": "https://auth.example.com/token",
                "token_params": {"hint": 3},
            },
        },
    )

    for args in (["validate", str(path)], ["--debug", "validate", str(path)]):
        result = invoke(args, env={"ACCESS_TOKEN": ENV_SECRET})

        assert result.exit_code == 1
        assert "user.password" in result.stderr
        assert "app.token_params" in result.stderr
        assert_no_secrets(result.stdout, result.stderr)


def test_validate_a_tray_context(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "test.ctx.json",
        {
            "auth": {
                "authType": "TOKEN",
                "authId": "3b1d6c1e",
                "refreshMessage": "",
                "user": {"access_token": "${ACCESS_TOKEN}"},
            }
        },
    )

    result = invoke(["validate", str(path)], env={"ACCESS_TOKEN": ENV_SECRET})

    assert result.exit_code == 0
    assert "valid token credentials (JSON Tray test context)" in result.stdout
    assert "Note: ignored auth.refreshMessage" in result.stderr
    assert_no_secrets(result.stdout, result.stderr)


def test_validate_type_option_for_contexts_without_auth_type(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "test.ctx.json", {"auth": {"user": {"access_token": "t"}}}
    )

    without = invoke(["validate", str(path)])
    with_type = invoke(["validate", "--type", "token", str(path)])

    assert without.exit_code == 1
    assert "auth.authType: is not set" in without.stderr
    assert with_type.exit_code == 0


def test_validate_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(
        'type = "basic"\n[user]\nusername = "ada"\npassword = "${ACCESS_TOKEN}"\n',
        encoding="utf-8",
    )

    result = invoke(["validate", str(path)], env={"ACCESS_TOKEN": ENV_SECRET})

    assert result.exit_code == 0
    assert "(TOML authplug document)" in result.stdout
    assert_no_secrets(result.stdout)


def test_validate_syntax_errors_give_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text('{"type": "token",\n "user": {,}}\n', encoding="utf-8")

    result = invoke(["validate", str(path)])

    assert result.exit_code == 1
    assert "not valid JSON" in result.stderr
    assert "line 2, column 11" in result.stderr


def test_validate_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = invoke(["validate", str(tmp_path / "absent.json")])

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {tmp_path / 'absent.json'}: No such file or directory"
    )


@pytest.mark.parametrize(
    "args",
    [["validate"], ["validate", "a", "b"], ["no-such-command"], ["types", "--nope"]],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = invoke(args)

    assert result.exit_code == 2
    assert "Usage:" in result.stderr


def test_reference_is_a_hidden_command() -> None:
    result = invoke(["--help"])

    assert result.exit_code == 0
    for name in ("types", "show", "schema", "validate"):
        assert name in result.stdout
    assert "reference" not in result.stdout


# -- unexpected errors -------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _OddUser:
    tags: frozenset[str] = authplug.describe(
        "No schema exists for this", factory=frozenset
    )


class _OddPlugin:
    @hookimpl
    def authplug_auth_types(self) -> Iterable[AuthType]:
        return [
            AuthType(
                name="odd",
                summary="A model schema cannot describe",
                user_model=_OddUser,
            )
        ]


def test_unexpected_errors_are_one_line_and_point_at_debug() -> None:
    registry = build_registry(entry_points=False, plugins={"odd": _OddPlugin()})

    result = invoke(["schema", "odd"], obj=State(registry=registry))
    debug = invoke(["--debug", "schema", "odd"], obj=State(registry=registry))

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: internal error: TypeError at schema.py:")
    assert "--debug" in lines[0]
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr


@pytest.fixture
def registry_log_at_info() -> Iterator[None]:
    registry_log = logging.getLogger("authplug.registry")
    saved = registry_log.level
    # A level the CLI never sets, so a level it forgot to restore shows.
    registry_log.setLevel(logging.INFO)
    yield
    registry_log.setLevel(saved)


@pytest.mark.usefixtures("registry_log_at_info")
def test_cli_leaves_logging_as_it_found_it() -> None:
    package = logging.getLogger("authplug")
    registry_log = logging.getLogger("authplug.registry")

    def snapshot() -> tuple[object, ...]:
        return (
            package.level,
            package.propagate,
            list(package.handlers),
            registry_log.level,
        )

    before = snapshot()
    invoke(["types"])
    after_plain = snapshot()
    invoke(["--debug", "types"])

    assert after_plain == before
    assert snapshot() == before


def test_main_returns_the_exit_status(
    three_mistakes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["types"]) == 0
    assert main(["validate", str(three_mistakes)]) == 1
    assert main(["validate"]) == 2

    captured = capsys.readouterr()
    assert "oauth2.client_credentials" in captured.out


def test_secret_objects_are_masked_in_the_summary_helper() -> None:
    from authplug.cli._common import masked_fields

    credentials = authplug.load(
        {"type": "token", "user": {"access_token": Secret(ENV_SECRET)}}
    )

    assert dict(masked_fields(credentials))["user.access_token"] == "********"


# -- the installed console script ---------------------------------------------------


def _script() -> Path:
    name = "authplug.exe" if sys.platform == "win32" else "authplug"
    script = Path(sys.executable).parent / name
    if not script.exists():
        pytest.fail(
            f"the console script is not installed at {script}: pip install -e ."
        )
    return script


def run_script(
    args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")
    }
    environ.update(env or {})
    return subprocess.run(
        [str(_script()), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_script_lists_the_built_ins_and_validates(
    three_mistakes: Path, valid_file: Path, tmp_path: Path
) -> None:
    types = run_script(["types"])
    bad = run_script(["validate", str(three_mistakes)])
    good = run_script(["validate", str(valid_file)], env={"ACCESS_TOKEN": ENV_SECRET})
    unset = run_script(["validate", str(valid_file)])
    missing = run_script(["validate", str(tmp_path / "absent.json")])
    usage = run_script(["validate"])

    assert types.returncode == 0
    for name in BUILT_INS:
        assert f"\n{name} " in types.stdout
    assert bad.returncode == 1
    for path in ("app.client_id", "app.token_url", "app.scope"):
        assert f"  {path}: " in bad.stderr
    assert good.returncode == 0
    assert re.search(r"^user\.access_token +\*{8}$", good.stdout, re.MULTILINE)
    assert unset.returncode == 1
    assert "ACCESS_TOKEN" in unset.stderr
    assert missing.returncode == 1
    assert usage.returncode == 2
    for result in (types, bad, good, unset, missing, usage):
        assert "Traceback" not in result.stderr
        assert_no_secrets(result.stdout, result.stderr)


def test_script_finds_installed_plugins_and_reports_broken_ones(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_auth.py").write_text(
        textwrap.dedent(
            """
            import attrs
            import authplug
            from authplug.builtin.token import TokenApp, TokenUser

            @attrs.frozen(kw_only=True)
            class ShopApp(TokenApp):
                shop: str = authplug.describe("The shop's subdomain")

            SHOP = authplug.AuthType(
                name="acme.shop", summary="Acme shop key",
                user_model=TokenUser, app_model=ShopApp,
            )

            @authplug.hookimpl
            def authplug_auth_types():
                return [SHOP]
            """
        ),
        encoding="utf-8",
    )
    for dist, version, target in (
        ("acme_auth", "1.2.3", "acme_auth"),
        ("broken_auth", "0.1", "broken_auth_missing_module"),
    ):
        info = site / f"{dist}-{version}.dist-info"
        info.mkdir()
        name = dist.replace("_", "-")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
            encoding="utf-8",
        )
        (info / "entry_points.txt").write_text(
            f"[authplug]\n{dist.split('_')[0]} = {target}\n", encoding="utf-8"
        )

    result = run_script(["types"], env={"PYTHONPATH": str(site)})
    show = run_script(["show", "acme.shop", "--json"], env={"PYTHONPATH": str(site)})

    assert result.returncode == 0
    shop = next(
        line for line in result.stdout.splitlines() if line.startswith("acme.shop")
    )
    assert shop.split()[-3:] == ["acme", "acme-auth", "1.2.3"]
    assert "Warning: skipped plugin 'broken' from broken-auth 0.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(show.stdout)["distribution"] == "acme-auth"


def test_importing_authplug_imports_neither_click_nor_rich() -> None:
    code = (
        "import sys, authplug, authplug.files; authplug.registry().get('oauth2');"
        "import authplug.cli;"
        "print(sorted(m for m in ('click', 'rich') if m in sys.modules))"
    )
    core_only = code.split("import authplug.cli;")[0] + (
        "print(sorted(m for m in ('click', 'rich') if m in sys.modules))"
    )

    core = subprocess.run(
        [sys.executable, "-c", core_only], capture_output=True, text=True, check=True
    )
    with_cli = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert core.stdout.strip() == "[]"
    assert with_cli.stdout.strip() == "['click']"
