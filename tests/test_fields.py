"""URL and scope fields: what they accept, what they refuse, and why."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies import https_urls, loopback_urls, scope_tokens

from authplug import ConfigError, FieldError, describe, field_validator
from authplug.fields import (
    check_url,
    field_description,
    is_loopback,
    parse_scopes,
    scopes_field,
    type_name,
    url_field,
)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com",
        "https://example.com/oauth/token",
        "https://example.com:8443/token?tenant=a#frag",
        "https://203.0.113.7/token",
        "https://[2001:db8::1]:443/token",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:8080/callback",
        "http://127.255.255.254/",
        "http://[::1]:9000/cb",
        "http://localhost",
        "http://localhost:3000/cb",
        "http://LOCALHOST:3000/cb",
        "http://localhost.localdomain/cb",
    ],
)
def test_check_url_accepts_https_and_loopback_http(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/token",
        "http://128.0.0.1/token",
        "http://10.0.0.1/token",
        "http://[::2]/token",
        "http://127.0.0.1.example.com/token",
        "http://localhost.example.com/token",
    ],
)
def test_check_url_refuses_plain_http_off_loopback(url: str) -> None:
    with pytest.raises(ValueError, match=r"^must use https, got ") as info:
        check_url(url)

    assert str(info.value) == f"must use https, got {url!r}"


@pytest.mark.parametrize(
    "url",
    ["/oauth/token", "oauth/token", "example.com/token", "//example.com/token", ""],
)
def test_check_url_refuses_relative_urls(url: str) -> None:
    with pytest.raises(ValueError, match="must be an absolute http"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/token",
        "file:///etc/passwd",
        "ws://localhost/socket",
        "javascript://example.com/x",
        "mailto://someone@example.com",
    ],
)
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(ValueError, match=r"must be an absolute http|must not embed"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2@example.com/token",
        "https://user@example.com/token",
        "https://:hunter2@example.com/token",
        "http://admin:hunter2@localhost/token",
    ],
)
def test_check_url_refuses_embedded_credentials_without_echoing_them(
    url: str,
) -> None:
    with pytest.raises(ValueError) as info:
        check_url(url)

    assert str(info.value) == "must not embed a user name or password"
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://exa mple.com/token",
        "https://example.com/to ken",
        "https://example.com/token\n",
        "https://exa\tmple.com/",
        "https://example.com/\x00",
        "https://example.com/\x7f",
        "https://example.com/\u00a0",
    ],
)
def test_check_url_refuses_spaces_and_control_characters(url: str) -> None:
    with pytest.raises(ValueError, match="spaces or control characters"):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:http/",
        "https://example.com:99999/",
        "https://exa[mple.com",
        "http://example.com.[::1]/token",
        "http://example.com[::1]:80/token",
        "https://[::1]x/token",
    ],
)
def test_check_url_refuses_bad_ports_and_hosts_with_a_clear_message(url: str) -> None:
    with pytest.raises(ValueError, match="valid host and port"):
        check_url(url)


def test_check_url_leaves_the_query_string_out_of_its_message() -> None:
    with pytest.raises(ValueError) as info:
        check_url("http://example.com/token?api_key=sk-live-123")

    assert "sk-live-123" not in str(info.value)
    assert str(info.value) == "must use https, got 'http://example.com/token?…'"


def test_check_url_does_not_quote_a_value_that_is_no_url() -> None:
    # Someone pasting the client secret into token_url must not see it
    # printed back.
    with pytest.raises(ValueError) as info:
        check_url("sk-live-abcdef")

    assert "sk-live-abcdef" not in str(info.value)


@pytest.mark.parametrize("value", [42, None, ["https://example.com"], b"https://x"])
def test_check_url_refuses_non_strings_naming_the_kind(value: object) -> None:
    with pytest.raises(TypeError, match=r"must be a URL string, got \w+"):
        check_url(value)


@given(https_urls())
def test_check_url_accepts_every_generated_https_url(url: str) -> None:
    assert check_url(url) == url


@given(loopback_urls())
def test_check_url_accepts_every_generated_loopback_url(url: str) -> None:
    assert check_url(url) == url


@given(loopback_urls())
def test_generated_loopback_urls_stop_being_valid_off_loopback(url: str) -> None:
    moved = url.replace("http://", "http://example.com.", 1)

    with pytest.raises(ValueError, match=r"must use https|valid host"):
        check_url(moved)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("128.0.0.1", False),
        ("example.com", False),
        ("::2", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["read", "write"], ("read", "write")),
        (("read", "write"), ("read", "write")),
        ("read write", ("read", "write")),
        ("read,write", ("read", "write")),
        ("read, write  admin", ("read", "write", "admin")),
        ("  ", ()),
        ("", ()),
        ([], ()),
        (["b", "a", "b", "c", "a"], ("b", "a", "c")),
        ("b a b", ("b", "a")),
        (
            ["openid", "https://example.com/scope"],
            ("openid", "https://example.com/scope"),
        ),
    ],
)
def test_parse_scopes_forms(value: object, expected: tuple[str, ...]) -> None:
    assert parse_scopes(value) == expected


def test_parse_scopes_names_each_bad_item_by_index() -> None:
    with pytest.raises(ConfigError) as info:
        parse_scopes(["read", "write", 3, "two words", "", None])

    assert info.value.errors == [
        FieldError("[2]", "must be a string, got integer"),
        FieldError("[3]", "must be one non-empty scope, got 'two words'"),
        FieldError("[4]", "must be one non-empty scope, got ''"),
        FieldError("[5]", "must be a string, got null"),
    ]


def test_parse_scopes_reports_the_same_problems_every_time() -> None:
    # Good answers are remembered; bad ones, and items that cannot be
    # remembered at all, are checked afresh.
    for _ in range(2):
        with pytest.raises(ConfigError) as info:
            parse_scopes(("read", {"scope": "write"}, ["admin"]))

        assert info.value.errors == [
            FieldError("[1]", "must be a string, got table"),
            FieldError("[2]", "must be a string, got list"),
        ]
        assert parse_scopes(("read", "read")) == ("read",)


@pytest.mark.parametrize(
    ("value", "kind"),
    [(3, "integer"), ({"read": True}, "table"), (None, "null"), ({"a", "b"}, "set")],
)
def test_parse_scopes_refuses_other_containers(value: object, kind: str) -> None:
    with pytest.raises(TypeError, match=f"got {kind}$"):
        parse_scopes(value)


@given(st.lists(scope_tokens(), max_size=6))
def test_parse_scopes_string_and_list_forms_agree(items: list[str]) -> None:
    expected = tuple(dict.fromkeys(items))

    assert parse_scopes(items) == expected
    assert parse_scopes(" ".join(items)) == expected
    assert parse_scopes(",".join(items)) == expected


@attrs.frozen(kw_only=True)
class Endpoint:
    """A model built in Python, not loaded from a file."""

    url: str = url_field("Where to go")
    scopes: tuple[str, ...] = scopes_field()


def test_url_field_checks_on_direct_construction() -> None:
    with pytest.raises(ConfigError) as info:
        Endpoint(url="http://example.com/x")

    assert [str(e) for e in info.value.errors] == [
        "url: must use https, got 'http://example.com/x'"
    ]


def test_scopes_field_converts_and_checks_on_direct_construction() -> None:
    assert Endpoint(url="https://e.com", scopes="a b,a").scopes == ("a", "b")
    assert Endpoint(url="https://e.com").scopes == ()

    with pytest.raises(ConfigError) as info:
        Endpoint(url="https://e.com", scopes=["a", 7])

    assert [str(e) for e in info.value.errors] == [
        "scopes[1]: must be a string, got integer"
    ]


def test_field_validator_names_the_field_and_skips_none() -> None:
    @field_validator
    def even(value: int) -> None:
        if value % 2:
            raise ValueError(f"must be even, got {value}")

    @attrs.frozen
    class Pair:
        count: int | None = attrs.field(validator=even)

    assert Pair(None).count is None
    assert Pair(4).count == 4
    with pytest.raises(ConfigError) as info:
        Pair(3)

    assert info.value.errors == [FieldError("count", "must be even, got 3")]


def test_field_validator_keeps_the_paths_of_a_nested_config_error() -> None:
    @field_validator
    def nested(value: object) -> None:
        raise ConfigError([FieldError("[0]", "is wrong"), FieldError("inner", "too")])

    @attrs.frozen
    class Holder:
        items: object = attrs.field(validator=nested)

    with pytest.raises(ConfigError) as info:
        Holder(["x"])

    assert [e.path for e in info.value.errors] == ["items[0]", "items.inner"]


def test_describe_keeps_other_metadata_and_attrs_options() -> None:
    @attrs.frozen(kw_only=True)
    class Shop:
        shop: str = describe("The shop subdomain", metadata={"x": 1}, default="a")

    field = attrs.fields(Shop).shop

    assert field_description(field) == "The shop subdomain"
    assert field.metadata["x"] == 1
    assert Shop().shop == "a"


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("x", "string"),
        (1, "integer"),
        (1.5, "number"),
        (True, "boolean"),
        ({}, "table"),
        ([], "list"),
        ((), "list"),
        (None, "null"),
        (b"", "bytes"),
    ],
)
def test_type_name_speaks_config_file(value: object, name: str) -> None:
    assert type_name(value) == name
