"""The built-in types: their flows, and properties of every valid document."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies import (
    DOCUMENTS,
    SECRET_MARK,
    field_base,
    fielded_sides,
    is_url_field,
    model_fields,
    wrong_value,
)

import authplug
from authplug import ConfigError, Request, Response, Secret
from authplug.builtin.basic import BASIC, basic_header
from authplug.builtin.none import NONE
from authplug.builtin.token import TOKEN
from authplug.records import AuthType

BUILTIN_NAMES = sorted(DOCUMENTS)

MISPLACED_SECRETS = st.from_regex(r"§[^§\s]{0,12}§", fullmatch=True)

# The types with fields to get wrong; "none" has none.
FIELDED_NAMES = [name for name in BUILTIN_NAMES if name != "none"]


@pytest.fixture(scope="module")
def builtins() -> authplug.Registry:
    from authplug.builtin import basic, none, oauth1, oauth2, token

    modules = {"none": none, "token": token, "basic": basic}
    modules.update({"oauth2": oauth2, "oauth1": oauth1})
    return authplug.build_registry(entry_points=False, plugins=modules)


def token_credentials(**app: Any) -> authplug.Credentials[Any, Any]:
    return TOKEN.load({"user": {"access_token": "tok-123"}, "app": app})


def request(url: str = "https://api.example.com/v1/items", **headers: str) -> Request:
    return Request("GET", url, headers=dict(headers))


# --- token ------------------------------------------------------------------


def test_token_goes_in_a_bearer_authorization_header_by_default() -> None:
    sent = request()

    token_credentials().flow().apply(sent)

    assert sent.headers == {"Authorization": "Bearer tok-123"}
    assert sent.url == "https://api.example.com/v1/items"


@pytest.mark.parametrize(
    ("app", "header", "value"),
    [
        ({"header_name": "X-API-Key", "prefix": None}, "X-API-Key", "tok-123"),
        ({"header_name": "X-API-Key", "prefix": ""}, "X-API-Key", "tok-123"),
        ({"prefix": "Token"}, "Authorization", "Token tok-123"),
    ],
)
def test_token_header_name_and_prefix(
    app: dict[str, Any], header: str, value: str
) -> None:
    sent = request()

    token_credentials(**app).flow().apply(sent)

    assert sent.headers == {header: value}


def test_token_in_the_query_keeps_the_other_parameters() -> None:
    sent = request("https://api.example.com/v1/items?page=2&sort=name")

    token_credentials(location="query", query_param="key").flow().apply(sent)

    assert sent.query_params() == [("page", "2"), ("sort", "name"), ("key", "tok-123")]
    assert sent.headers == {}


def test_applying_a_token_twice_adds_nothing() -> None:
    header_request = request()
    query_request = request("https://api.example.com/v1/items?page=2")
    in_header = token_credentials().flow()
    in_query = token_credentials(location="query").flow()

    for _ in range(2):
        in_header.apply(header_request)
        in_query.apply(query_request)

    assert header_request.headers == {"Authorization": "Bearer tok-123"}
    assert query_request.query_params() == [("page", "2"), ("api_key", "tok-123")]


def test_a_token_replaces_an_earlier_header_in_any_letter_case() -> None:
    sent = request(authorization="Bearer stale", AUTHORIZATION="Basic old")

    token_credentials().flow().apply(sent)

    assert sent.headers == {"Authorization": "Bearer tok-123"}


def test_a_token_replaces_an_earlier_query_parameter() -> None:
    sent = request("https://api.example.com/v1?api_key=stale&page=1")

    token_credentials(location="query").flow().apply(sent)

    assert sent.query_params() == [("page", "1"), ("api_key", "tok-123")]


@pytest.mark.parametrize(
    "header_name", ["", "X API Key", "X-Key:", "Authörization", "X-Key\n", "(key)"]
)
def test_a_token_header_name_must_be_an_http_token(header_name: str) -> None:
    with pytest.raises(ConfigError) as info:
        token_credentials(header_name=header_name)

    assert [e.path for e in info.value.errors] == ["app.header_name"]


def test_a_token_query_parameter_must_have_a_name() -> None:
    with pytest.raises(ConfigError) as info:
        token_credentials(location="query", query_param="")

    assert [str(e) for e in info.value.errors] == ["app.query_param: must not be empty"]


# --- basic ------------------------------------------------------------------


def test_basic_sends_user_and_password_base64_encoded() -> None:
    credentials = BASIC.load(
        {"user": {"username": "Aladdin", "password": "open sesame"}}
    )
    sent = request()

    credentials.flow().apply(sent)

    # The example of RFC 7617 section 2.
    assert sent.headers == {"Authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}


def test_basic_encodes_non_ascii_as_utf8() -> None:
    value = basic_header("test", "123£")

    assert value == "Basic dGVzdDoxMjPCow=="
    assert base64.b64decode(value.split()[1]).decode() == "test:123£"


def test_applying_basic_twice_or_over_an_old_header_leaves_one_header() -> None:
    credentials = BASIC.load({"user": {"username": "u", "password": "p"}})
    sent = request(authorization="Bearer stale")
    flow = credentials.flow()

    flow.apply(sent)
    flow.apply(sent)

    assert sent.headers == {"Authorization": basic_header("u", "p")}


def test_a_basic_user_name_may_not_hold_a_colon() -> None:
    with pytest.raises(ConfigError) as info:
        BASIC.load({"user": {"username": "a:b", "password": "p"}})

    assert [str(e) for e in info.value.errors] == [
        "user.username: must not contain ':' (RFC 7617)"
    ]


# --- none -------------------------------------------------------------------


def test_none_sends_requests_unchanged() -> None:
    sent = Request("POST", "https://api.example.com/x?a=1", {"X-A": "1"}, b"body")
    before = attrs.evolve(sent, headers=dict(sent.headers))

    NONE.load({}).flow().apply(sent)

    assert sent == before


@pytest.mark.parametrize("auth_type", [NONE, TOKEN, BASIC])
def test_the_auth_flow_yields_the_request_once(auth_type: AuthType) -> None:
    documents = {
        "none": {},
        "token": {"user": {"access_token": "t"}},
        "basic": {"user": {"username": "u", "password": "p"}},
    }
    flow = auth_type.load(documents[auth_type.name]).flow()
    sent = request()
    applied = request()
    flow.apply(applied)

    steps = flow.auth_flow(sent)
    yielded = next(steps)

    assert yielded is sent
    assert sent == applied
    with pytest.raises(StopIteration):
        steps.send(Response(200))


def test_flows_take_no_unknown_options() -> None:
    with pytest.raises(TypeError, match="takes no options colour"):
        token_credentials().flow(colour="red")


# --- the records themselves --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "aliases", "parent"),
    [
        ("none", (), None),
        ("token", ("TOKEN",), None),
        ("basic", (), None),
        ("oauth2", ("OAUTH2",), None),
        ("oauth2.client_credentials", ("OAUTH2_CLIENT_CREDENTIALS",), "oauth2"),
        ("oauth2.password", ("OAUTH2_PASSWORD",), "oauth2"),
        ("oauth1", ("OAUTH1",), None),
    ],
)
def test_builtin_names_aliases_and_parents(
    builtins: authplug.Registry,
    name: str,
    aliases: tuple[str, ...],
    parent: str | None,
) -> None:
    auth_type = builtins.get(name)

    assert auth_type.aliases == aliases
    assert auth_type.parent == parent
    assert auth_type.summary


# --- properties of every valid document --------------------------------------


def _load_errors(registry: authplug.Registry, document: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        registry.load(document)
    return [str(error) for error in info.value.errors]


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Collect every formatted log line, at every level, while active."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
@given(data=st.data())
def test_load_of_dump_gives_the_same_credentials(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])

    credentials = builtins.load(document)
    dumped = credentials.dump()

    assert dumped["type"] == name
    assert builtins.load(dumped) == credentials
    assert builtins.load(dumped).dump() == dumped


@pytest.mark.parametrize("name", BUILTIN_NAMES)
@given(data=st.data())
def test_generated_secrets_never_show(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    credentials = builtins.load(document)
    flow = credentials.flow() if credentials.type.flow is not None else None
    logger = logging.getLogger("tests.builtin_types")

    with captured_logs() as lines:
        logger.debug("loaded %s", credentials)
        logger.info("user %r, app %s", credentials.user, credentials.app)
        logger.warning("flow %r", flow)
    texts = [
        repr(credentials),
        str(credentials),
        repr(credentials.user),
        str(credentials.app),
        repr(flow),
        str(credentials.dump(reveal_secrets=False)),
        *lines,
    ]

    assert len(lines) == 3
    assert all(SECRET_MARK not in text for text in texts)
    assert (SECRET_MARK in str(credentials.dump())) == (SECRET_MARK in str(document))


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_misplaced_generated_secrets_stay_out_of_errors(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    secret = data.draw(MISPLACED_SECRETS)
    auth_type = builtins.get(name)
    side, model = data.draw(st.sampled_from(fielded_sides(auth_type)))
    target = data.draw(st.sampled_from(model_fields(model)))
    table = document.setdefault(side, {})

    # Three mistakes at once: the secret as an unknown field's value, in a
    # field of another kind, and a secret field given a table holding it.
    table[f"{target.name}_typo"] = secret
    if field_base(target.type) is Secret:
        table[target.name] = {"value": secret}
    else:
        table[target.name] = secret

    with pytest.raises(ConfigError) as info:
        builtins.load(document)
    message = str(info.value)

    assert SECRET_MARK not in message
    assert f"{side}.{target.name}_typo: unknown field" in message
    assert SECRET_MARK not in repr(info.value.errors)


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_a_field_of_the_wrong_kind_is_reported_at_its_path(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    side, model = data.draw(st.sampled_from(fielded_sides(builtins.get(name))))
    target = data.draw(st.sampled_from(model_fields(model)))
    document.setdefault(side, {})[target.name] = wrong_value(target.type)

    errors = _load_errors(builtins, document)

    assert len(errors) == 1
    assert errors[0].startswith(f"{side}.{target.name}: must be ")


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_a_missing_required_field_is_reported_at_its_path(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    required = [
        (side, attribute.name)
        for side, model in fielded_sides(builtins.get(name))
        for attribute in model_fields(model)
        if attribute.default is attrs.NOTHING
    ]
    if not required:
        return
    side, field = data.draw(st.sampled_from(required))
    del document[side][field]

    assert _load_errors(builtins, document) == [f"{side}.{field}: is required"]


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_a_plain_http_url_is_reported_at_its_path(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    url_fields = [
        (side, attribute.name)
        for side, model in fielded_sides(builtins.get(name))
        for attribute in model_fields(model)
        if is_url_field(attribute)
    ]
    if not url_fields:
        return
    side, field = data.draw(st.sampled_from(url_fields))
    document.setdefault(side, {})[field] = "http://example.com/endpoint"

    assert _load_errors(builtins, document) == [
        f"{side}.{field}: must use https, got 'http://example.com/endpoint'"
    ]


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_an_unknown_field_is_reported_with_the_field_meant(
    builtins: authplug.Registry, name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    side, model = data.draw(st.sampled_from(fielded_sides(builtins.get(name))))
    target = data.draw(st.sampled_from(model_fields(model)))
    document.setdefault(side, {})[target.name + "s"] = "value"

    assert _load_errors(builtins, document) == [
        f"{side}.{target.name}s: unknown field; did you mean {target.name!r}?"
    ]


def test_every_builtin_type_has_a_strategy(builtins: authplug.Registry) -> None:
    # A new built-in type must get a strategy, or the properties skip it.
    assert sorted(builtins.names()) == BUILTIN_NAMES
    assert [name for name in BUILTIN_NAMES if fielded_sides(builtins.get(name))] == (
        FIELDED_NAMES
    )


def test_a_document_with_many_mistakes_reports_them_all(
    builtins: authplug.Registry,
) -> None:
    document = {
        "type": "oauth2",
        "user": {"access_token": 5, "expires_at": True},
        "app": {
            "client_id": 1,
            "client_secret": "s",
            "token_url": "http://example.com/token",
            "auth_url": "ftp://example.com/authorize",
            "scopes": ["read", "write", 3],
            "pkce": "yes",
            "redirect_url": "http://localhost/cb",
        },
        "autn_id": "x",
    }

    errors = _load_errors(builtins, document)

    assert sorted(errors) == sorted(
        [
            "autn_id: unknown field; did you mean 'auth_id'?",
            "user.access_token: must be a string, got integer",
            "user.expires_at: must be a number, got boolean",
            "app.client_id: must be a string, got integer",
            "app.token_url: must use https, got 'http://example.com/token'",
            "app.auth_url: must be an absolute http(s) URL, "
            "got 'ftp://example.com/authorize'",
            "app.scopes[2]: must be a string, got integer",
            "app.pkce: must be true or false, got string",
            "app.redirect_url: unknown field; did you mean 'redirect_uri'?",
        ]
    )


def test_token_params_show_their_names_but_not_their_values() -> None:
    credentials = authplug.load(
        {
            "type": "oauth2.client_credentials",
            "app": {
                "client_id": "c",
                "client_secret": "s",
                "token_url": "https://auth.example.com/token",
                "token_params": {"api_key": "k-4711-private"},
            },
        }
    )

    shown = repr(credentials)

    assert "'api_key': ..." in shown
    assert "k-4711-private" not in shown
    assert credentials.app.token_params == {"api_key": "k-4711-private"}
