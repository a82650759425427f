"""Reading and writing credentials files: formats, variables, Tray contexts."""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest

import authplug
from authplug import ConfigError, MissingDependency, Secret, UnknownAuthType
from authplug.files import (
    expand_variables,
    read_credentials,
    read_credentials_file,
    read_document,
    write_credentials_file,
)

OAUTH2_APP = {
    "client_id": "my-client",
    "client_secret": "app-secret-value",
    "token_url": "https://auth.example.com/token",
    "auth_url": "https://auth.example.com/authorize",
}


def write(directory: Path, name: str, content: str | dict[str, Any]) -> Path:
    path = directory / name
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


def paths_of(error: ConfigError) -> list[str]:
    return [problem.path for problem in error.errors]


# -- formats ------------------------------------------------------------------


def test_reads_an_authplug_json_document(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "creds.json",
        {"type": "token", "auth_id": "a-1", "user": {"access_token": "tok-1"}},
    )

    credentials = read_credentials_file(path, environ={})

    assert credentials.type.name == "token"
    assert credentials.auth_id == "a-1"
    assert credentials.user.access_token == Secret("tok-1")
    assert credentials.app.header_name == "Authorization"


def test_reads_toml_and_reports_format_and_shape(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "creds.toml",
        'type = "basic"\n[user]\nusername = "ada"\npassword = "pw-1"\n',
    )

    loaded = read_credentials(path, environ={})

    assert loaded.format == "toml"
    assert loaded.shape == "authplug"
    assert loaded.credentials.user.username == "ada"
    assert loaded.credentials.user.password.reveal() == "pw-1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "none"}', "json"),
        ('type = "none"\n', "toml"),
    ],
)
def test_sniffs_the_format_of_other_file_names(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, "credentials.conf", text)

    loaded = read_credentials(path, environ={})

    assert loaded.format == expected
    assert loaded.credentials.type.name == "none"


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.json", '{\n  "type": "token",\n  "user": }\n')

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert caught.value.source == str(path)
    message = str(caught.value)
    assert "not valid JSON" in message
    assert "line 3, column 11" in message


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.toml", 'type = "token"\n[user\n')

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert caught.value.source == str(path)
    assert "not valid TOML" in str(caught.value)
    assert "line 2" in str(caught.value)


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_bytes(b'{"type": "\xff"}')

    with pytest.raises(ConfigError, match="not UTF-8"):
        read_credentials_file(path, environ={})


def test_a_document_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.json", '["token"]')

    with pytest.raises(ConfigError, match="table of fields, not a list"):
        read_credentials_file(path, environ={})


def test_repeated_json_keys_are_reported_by_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "creds.json",
        '{"type": "token", "user": {"access_token": "a", "access_token": "b"}}',
    )

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert paths_of(caught.value) == ["user.access_token"]
    assert "more than once" in str(caught.value)


def test_nan_is_not_a_value(tmp_path: Path) -> None:
    path = write(
        tmp_path, "creds.json", '{"type": "oauth2", "user": {"expires_at": NaN}}'
    )

    with pytest.raises(ConfigError, match="NaN is not allowed"):
        read_credentials_file(path, environ={})


def test_a_missing_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_credentials_file(tmp_path / "absent.json", environ={})


def test_every_field_error_is_reported_with_its_source(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "creds.json",
        {
            "type": "oauth2",
            "app": {
                "client_id": 7,
                "client_secret": "s",
                "token_url": "http://auth.example.com/token",
                "auth_url": "https://auth.example.com/authorize",
                "scope": "read",
            },
        },
    )

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert caught.value.source == str(path)
    assert sorted(paths_of(caught.value)) == [
        "app.client_id",
        "app.scope",
        "app.token_url",
    ]


# -- variables ----------------------------------------------------------------


def test_variables_fill_strings_anywhere(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "creds.json",
        {
            "type": "${KIND}",
            "app": {
                **OAUTH2_APP,
                "client_secret": "${SECRET}",
                "token_url": "https://${HOST}/oauth/${VERSION}/token",
                "scopes": ["read", "${EXTRA_SCOPE}"],
            },
        },
    )
    environ = {
        "KIND": "oauth2",
        "SECRET": "from-env",
        "HOST": "auth.example.com",
        "VERSION": "v2",
        "EXTRA_SCOPE": "write",
    }

    credentials = read_credentials_file(path, environ=environ)

    assert credentials.app.client_secret.reveal() == "from-env"
    assert credentials.app.token_url == "https://auth.example.com/oauth/v2/token"
    assert credentials.app.scopes == ("read", "write")


def test_dollar_dollar_brace_is_a_literal() -> None:
    data = {"a": "$${NOT_A_VAR}", "b": "cost: $5, $$ and $", "c": "x$${y}${Y}"}

    expanded = expand_variables(data, {"Y": "why"})

    assert expanded == {"a": "${NOT_A_VAR}", "b": "cost: $5, $$ and $", "c": "x${y}why"}


def test_non_strings_pass_through_unchanged() -> None:
    data = {"n": 3, "f": 1.5, "t": True, "none": None, "list": [1, {"k": "${V}"}]}

    expanded = expand_variables(data, {"V": "v"})

    assert expanded == {
        "n": 3,
        "f": 1.5,
        "t": True,
        "none": None,
        "list": [1, {"k": "v"}],
    }


def test_unset_variables_name_the_variable_and_the_path() -> None:
    data = {"user": {"token": "${TOKEN_A}"}, "app": {"scopes": ["x", "${SCOPE_B}"]}}

    with pytest.raises(ConfigError) as caught:
        expand_variables(data, {}, source="creds.json")

    assert paths_of(caught.value) == ["user.token", "app.scopes[1]"]
    assert "TOKEN_A" in caught.value.errors[0].message
    assert "SCOPE_B" in caught.value.errors[1].message
    assert caught.value.source == "creds.json"


@pytest.mark.parametrize("text", ["${", "${UNCLOSED", "${1ABC}", "${}", "a ${b-c}"])
def test_a_malformed_reference_is_an_error(text: str) -> None:
    with pytest.raises(ConfigError, match=r"\$\$\{' for a literal"):
        expand_variables({"field": text}, {"UNCLOSED": "x", "b": "y"})


def test_the_process_environment_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHPLUG_TEST_TOKEN", "tok-from-process")
    path = write(
        tmp_path,
        "creds.json",
        {"type": "token", "user": {"access_token": "${AUTHPLUG_TEST_TOKEN}"}},
    )

    credentials = read_credentials_file(path)

    assert credentials.user.access_token.reveal() == "tok-from-process"


def test_unset_variables_and_field_errors_are_reported_together(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "creds.json",
        {
            "type": "oauth2",
            "app": {
                "client_id": "${CLIENT_ID}",
                "client_secret": "${CLIENT_SECRET}",
                "token_url": "${TOKEN_URL}",
                "auth_url": "ftp://auth.example.com/authorize",
            },
        },
    )
    environ = {"CLIENT_ID": "c", "CLIENT_SECRET": "secret-from-env-123"}

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ=environ)

    # The unset TOKEN_URL is reported once, not again as a bad URL.
    assert paths_of(caught.value) == ["app.token_url", "app.auth_url"]
    assert "TOKEN_URL" in caught.value.errors[0].message
    assert "secret-from-env-123" not in str(caught.value)


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "creds.json",
        {
            "type": "oauth2",
            "user": {"access_token": 123, "refresh_token": "${REFRESH}"},
            "app": {
                **OAUTH2_APP,
                "client_secret": ["file-secret-value"],
                "extra": "${SECRET_ENV}",
            },
        },
    )
    environ = {"REFRESH": "env-refresh-secret", "SECRET_ENV": "env-secret-value"}

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ=environ)

    message = str(caught.value)
    assert sorted(paths_of(caught.value)) == [
        "app.client_secret",
        "app.extra",
        "user.access_token",
    ]
    for secret in ("file-secret-value", "env-refresh-secret", "env-secret-value"):
        assert secret not in message


def test_read_document_keeps_the_shape_and_fills_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "test.ctx.json",
        {"auth": {"user": {"access_token": "${T}"}}, "input": {"id": 1}},
    )

    document = read_document(path, {"T": "tok"})

    assert document == {"auth": {"user": {"access_token": "tok"}}, "input": {"id": 1}}


def test_read_document_reports_unset_variables(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.json", {"user": {"access_token": "${NOPE}"}})

    with pytest.raises(ConfigError) as caught:
        read_document(path, {})

    assert paths_of(caught.value) == ["user.access_token"]
    assert caught.value.source == str(path)


# -- the type argument ----------------------------------------------------------


def test_type_argument_fills_a_missing_type(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.json", {"user": {"access_token": "t"}})

    credentials = read_credentials_file(path, type="TOKEN", environ={})

    assert credentials.type.name == "token"


def test_type_argument_that_disagrees_with_the_file_is_an_error(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "creds.json", {"type": "token", "user": {}})

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, type="basic", environ={})

    assert "type" in paths_of(caught.value)


def test_unknown_type_argument_raises_unknown_auth_type(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.json", {"user": {}})

    with pytest.raises(UnknownAuthType, match="did you mean 'token'"):
        read_credentials_file(path, type="tokn", environ={})


def test_a_missing_type_lists_the_known_types(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.json", {"user": {"access_token": "t"}})

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert paths_of(caught.value) == ["type"]
    assert "oauth2.client_credentials" in str(caught.value)


# -- Tray test contexts ---------------------------------------------------------


def test_reads_a_tray_context_resolving_the_tag(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "test.ctx.json",
        {
            "auth": {
                "authType": "OAUTH2",
                "authId": "8f0c6d8e-auth",
                "user": {"access_token": "${ACCESS}"},
                "app": OAUTH2_APP,
            }
        },
    )

    loaded = read_credentials(path, environ={"ACCESS": "tok"})

    assert loaded.shape == "tray"
    assert loaded.credentials.type.name == "oauth2"
    assert loaded.credentials.auth_id == "8f0c6d8e-auth"
    assert loaded.credentials.user.access_token.reveal() == "tok"
    assert loaded.ignored == ()


def test_tray_run_time_keys_are_ignored_and_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "test.ctx.json",
        {
            "auth": {
                "authType": "TOKEN",
                "refreshMessage": "please refresh",
                "user": {"access_token": "t"},
            },
            "input": {"page": 1},
        },
    )

    loaded = read_credentials(path, environ={})

    assert loaded.credentials.type.name == "token"
    assert loaded.ignored == ("input", "auth.refreshMessage")


def test_a_tray_context_without_auth_type_needs_a_type(tmp_path: Path) -> None:
    path = write(tmp_path, "test.ctx.json", {"auth": {"user": {"access_token": ""}}})

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})
    loaded = read_credentials(path, type="token", environ={})

    assert paths_of(caught.value) == ["auth.authType"]
    assert "--type" in str(caught.value)
    assert loaded.credentials.type.name == "token"


def test_tray_errors_carry_paths_in_the_context(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "test.ctx.json",
        {
            "auth": {
                "authType": "OAUTH2",
                "authId": 42,
                "user": {"access_token": "t", "#dw_org": "acme"},
                "app": {**OAUTH2_APP, "token_url": "not a url"},
                "appAuth": {},
            }
        },
    )

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert sorted(paths_of(caught.value)) == [
        "auth.app.token_url",
        "auth.appAuth",
        "auth.authId",
        "auth.user.#dw_org",
    ]
    hidden = next(e for e in caught.value.errors if e.path == "auth.user.#dw_org")
    assert "Tray marks hidden fields with '#'" in hidden.message


def test_an_unknown_tray_tag_is_reported_at_auth_type(tmp_path: Path) -> None:
    path = write(tmp_path, "test.ctx.json", {"auth": {"authType": "OAUTH3"}})

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, environ={})

    assert paths_of(caught.value) == ["auth.authType"]
    assert "did you mean" in str(caught.value)


def test_a_tray_tag_that_disagrees_with_the_type_argument(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "test.ctx.json",
        {"auth": {"authType": "TOKEN", "user": {"access_token": "t"}}},
    )

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, type="basic", environ={})

    assert paths_of(caught.value) == ["auth.authType"]
    assert "'basic'" in str(caught.value)


def test_a_tray_auth_that_is_not_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "test.ctx.json", {"auth": "token"})

    with pytest.raises(ConfigError) as caught:
        read_credentials_file(path, type="token", environ={})

    assert paths_of(caught.value) == ["auth"]


# -- writing ----------------------------------------------------------------------


def _oauth2_credentials() -> authplug.Credentials[Any, Any]:
    return authplug.load(
        {
            "type": "oauth2",
            "auth_id": "acct-7",
            "user": {"access_token": "at-1", "expires_at": 1700000000.5},
            "app": {**OAUTH2_APP, "scopes": ["read", "write"]},
        }
    )


@pytest.mark.parametrize("name", ["creds.json", "creds.toml", "creds"])
def test_written_files_read_back_equal(tmp_path: Path, name: str) -> None:
    credentials = _oauth2_credentials()
    path = tmp_path / name

    write_credentials_file(path, credentials)

    assert read_credentials_file(path, environ={}) == credentials


@pytest.mark.parametrize("name", ["creds.json", "creds.toml"])
def test_a_literal_reference_in_a_value_reads_back_unchanged(
    tmp_path: Path, name: str
) -> None:
    credentials = authplug.load(
        {"type": "token", "user": {"access_token": "a${HOME}b$${c"}}
    )
    path = tmp_path / name

    write_credentials_file(path, credentials)

    assert read_credentials_file(path, environ={"HOME": "/root"}) == credentials


def test_toml_is_written_for_toml_names(tmp_path: Path) -> None:
    path = tmp_path / "creds.toml"

    write_credentials_file(path, _oauth2_credentials())

    document = tomllib.loads(path.read_text(encoding="utf-8"))
    assert document["app"]["client_secret"] == "app-secret-value"
    assert "refresh_token" not in document["user"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_written_files_are_private_and_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)

    write_credentials_file(path, _oauth2_credentials())

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8"))["auth_id"] == "acct-7"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["creds.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "creds.json"
    path.write_text("old", encoding="utf-8")

    def refuse(source: str, target: str) -> None:
        raise PermissionError(13, "Permission denied", target)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_credentials_file(path, _oauth2_credentials())

    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["creds.json"]


@attrs.frozen(kw_only=True)
class _NoteUser:
    note: str | None


_NOTE = authplug.AuthType(
    name="test.note", summary="A required nullable", user_model=_NoteUser
)


def test_toml_refuses_a_null_that_is_not_a_default(tmp_path: Path) -> None:
    credentials = _NOTE.create(user=_NoteUser(note=None))

    with pytest.raises(ConfigError) as caught:
        write_credentials_file(tmp_path / "note.toml", credentials)
    write_credentials_file(tmp_path / "note.json", credentials)

    assert paths_of(caught.value) == ["user.note"]
    assert "write a .json file" in str(caught.value)
    assert not (tmp_path / "note.toml").exists()
    assert json.loads((tmp_path / "note.json").read_text())["user"] == {"note": None}


def test_toml_without_tomli_w_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tomli_w", None)

    with pytest.raises(MissingDependency, match=r"authplug\[toml\]"):
        write_credentials_file(tmp_path / "creds.toml", _oauth2_credentials())
