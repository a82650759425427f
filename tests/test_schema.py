"""JSON Schema of the auth types: valid, and in step with the loader."""

from __future__ import annotations

import re
from typing import Any

import attrs
import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.strategies import (
    DOCUMENTS,
    field_base,
    fielded_sides,
    malformed_documents,
    model_fields,
    urls,
)

import authplug
from authplug import AuthType, ConfigError, Secret
from authplug.builtin import basic, none, oauth1, oauth2, token
from authplug.builtin.oauth2 import OAUTH2, OAUTH2_CLIENT_CREDENTIALS, OAuth2App
from authplug.fields import check_url
from authplug.schema import DRAFT, URL_PATTERN, model_schema

REGISTRY = authplug.build_registry(
    entry_points=False,
    plugins={"none": none, "token": token, "basic": basic}
    | {"oauth2": oauth2, "oauth1": oauth1},
)
BUILTIN_NAMES = sorted(DOCUMENTS)
FIELDED_NAMES = [name for name in BUILTIN_NAMES if name != "none"]


@attrs.frozen(kw_only=True)
class ShopApp(OAuth2App):
    """An authorization code client of one shop."""

    shop: str = authplug.describe("The shop's subdomain")


SHOP = OAUTH2.derive(name="shop.oauth2", summary="Shop", app_model=ShopApp)
ALL_TYPES = [*REGISTRY.types(), SHOP]
TYPES = {auth_type.name: auth_type for auth_type in ALL_TYPES}

VALIDATORS = {
    auth_type.name: jsonschema.Draft202012Validator(auth_type.json_schema())
    for auth_type in ALL_TYPES
}


def schema_accepts(name: str, document: object) -> bool:
    return VALIDATORS[name].is_valid(document)


def loader_accepts(name: str, document: Any) -> bool:
    try:
        TYPES[name].load(document)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("auth_type", ALL_TYPES, ids=lambda t: t.name)
def test_every_schema_is_valid_draft_2020_12(auth_type: AuthType) -> None:
    schema = auth_type.json_schema()

    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DRAFT
    assert schema["title"] == auth_type.name
    assert schema["description"] == auth_type.summary
    assert schema["properties"]["type"] == {"enum": list(auth_type.names)}


def test_a_schema_is_plain_json() -> None:
    import json

    for auth_type in ALL_TYPES:
        schema = auth_type.json_schema()
        assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize(
    ("name", "required"),
    [
        ("none", None),
        ("token", ["user"]),
        ("basic", ["user"]),
        ("oauth2", ["app"]),
        ("oauth2.client_credentials", ["app"]),
        ("oauth2.password", ["user", "app"]),
        ("oauth1", ["app"]),
        ("shop.oauth2", ["app"]),
    ],
)
def test_a_side_is_required_exactly_when_an_empty_one_fails_to_load(
    name: str, required: list[str] | None
) -> None:
    assert VALIDATORS[name].schema.get("required") == required


@pytest.mark.parametrize("name", BUILTIN_NAMES)
@given(data=st.data())
def test_every_valid_document_satisfies_the_schema(
    name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])

    errors = [error.message for error in VALIDATORS[name].iter_errors(document)]

    assert errors == []


@pytest.mark.parametrize("name", BUILTIN_NAMES)
@given(data=st.data())
def test_every_dump_satisfies_the_schema(name: str, data: st.DataObject) -> None:
    credentials = REGISTRY.load(data.draw(DOCUMENTS[name]))

    assert schema_accepts(name, credentials.dump())


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_malformed_documents_are_rejected_by_schema_and_loader(
    name: str, data: st.DataObject
) -> None:
    document, path, mistake = data.draw(malformed_documents(REGISTRY.get(name)))

    assert not schema_accepts(name, document), (mistake, path)
    assert not loader_accepts(name, document)


OAUTH2_APP = {
    "client_id": "c",
    "client_secret": "s",
    "token_url": "https://example.com/token",
    "auth_url": "https://example.com/authorize",
}
PUBLIC_APP = {
    "client_id": "c",
    "client_auth": "none",
    "token_url": "http://127.0.0.1:8080/token",
    "auth_url": "http://localhost:8080/authorize",
}
HMAC_APP = {"consumer_key": "k", "consumer_secret": "s"}
RSA_APP = {"consumer_key": "k", "signature_method": "RSA-SHA1", "rsa_private_key": "p"}

# Hand-written documents the schema accepts; each must load.
SCHEMA_VALID = [
    ("none", {}),
    ("none", {"type": "none", "user": {}, "app": {}, "auth_id": "a"}),
    ("none", {"auth_id": None}),
    ("token", {"user": {"access_token": "t"}}),
    (
        "token",
        {
            "type": "TOKEN",
            "user": {"access_token": "t"},
            "app": {"location": "query", "query_param": "key", "prefix": None},
        },
    ),
    ("token", {"user": {"access_token": "t"}, "app": {"header_name": "X-Api-Key"}}),
    ("basic", {"user": {"username": "", "password": ""}}),
    ("oauth2", {"app": OAUTH2_APP}),
    ("oauth2", {"app": {**OAUTH2_APP, "client_auth": "client_secret_post"}}),
    ("oauth2", {"app": PUBLIC_APP}),
    ("oauth2", {"app": {**PUBLIC_APP, "pkce": True, "client_secret": "s"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "pkce": False, "scopes": "a b,c"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "redirect_uri": "http://[::1]:9/cb"}}),
    (
        "oauth2",
        {
            "app": OAUTH2_APP,
            "user": {
                "access_token": None,
                "refresh_token": "r",
                "expires_at": 1700000000,
                "scopes": ["a", "a"],
            },
        },
    ),
    (
        "oauth2.client_credentials",
        {"app": {"client_id": "c", "client_secret": "s", "token_url": "https://e/t"}},
    ),
    (
        "oauth2.password",
        {
            "app": {
                "client_id": "c",
                "client_auth": "none",
                "token_url": "https://e/t",
            },
            "user": {"username": "u", "password": "p"},
        },
    ),
    ("oauth1", {"app": HMAC_APP}),
    ("oauth1", {"app": {**HMAC_APP, "signature_method": "PLAINTEXT"}}),
    ("oauth1", {"app": RSA_APP}),
    ("oauth1", {"app": {**RSA_APP, "consumer_secret": None}}),
    ("oauth1", {"app": {**HMAC_APP, "callback_uri": "oob"}}),
    ("oauth1", {"app": {**HMAC_APP, "callback_uri": "http://localhost/cb"}}),
    ("oauth1", {"app": HMAC_APP, "user": {"token": "t", "token_secret": ""}}),
    ("oauth1", {"app": HMAC_APP, "user": {"token": None}}),
    ("oauth1", {"app": HMAC_APP, "user": {"token": None, "token_secret": None}}),
    ("shop.oauth2", {"app": {**OAUTH2_APP, "shop": "acme"}}),
]


@pytest.mark.parametrize(("name", "document"), SCHEMA_VALID)
def test_schema_valid_documents_load(name: str, document: dict[str, Any]) -> None:
    assert schema_accepts(name, document)
    assert loader_accepts(name, document)


# Hand-written documents the loader refuses; the schema must refuse them too.
SCHEMA_INVALID = [
    # Rules across fields.
    ("oauth2", {"app": {k: v for k, v in OAUTH2_APP.items() if k != "client_secret"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "client_secret": None}}),
    (
        "oauth2",
        {
            "app": {
                **OAUTH2_APP,
                "client_auth": "client_secret_post",
                "client_secret": None,
            }
        },
    ),
    ("oauth2", {"app": {**PUBLIC_APP, "pkce": False}}),
    (
        "oauth2.client_credentials",
        {"app": {"client_id": "c", "token_url": "https://e/t"}},
    ),
    ("oauth1", {"app": {"consumer_key": "k"}}),
    ("oauth1", {"app": {"consumer_key": "k", "consumer_secret": None}}),
    ("oauth1", {"app": {**RSA_APP, "rsa_private_key": None}}),
    ("oauth1", {"app": {"consumer_key": "k", "signature_method": "RSA-SHA1"}}),
    (
        "oauth1",
        {"app": {**HMAC_APP, "signature_method": "PLAINTEXT", "consumer_secret": None}},
    ),
    ("oauth1", {"app": HMAC_APP, "user": {"token": "t"}}),
    ("oauth1", {"app": HMAC_APP, "user": {"token": "t", "token_secret": None}}),
    ("oauth1", {"app": HMAC_APP, "user": {"token_secret": "s"}}),
    # Rules of one field.
    ("oauth1", {"app": {**HMAC_APP, "callback_uri": "http://example.com/cb"}}),
    ("oauth1", {"app": {**HMAC_APP, "callback_uri": "oob "}}),
    ("oauth1", {"app": {**HMAC_APP, "callback_uri": "OOB"}}),
    ("token", {"user": {"access_token": "t"}, "app": {"header_name": "X Key"}}),
    ("token", {"user": {"access_token": "t"}, "app": {"header_name": "X-Key\n"}}),
    ("token", {"user": {"access_token": "t"}, "app": {"header_name": ""}}),
    ("token", {"user": {"access_token": "t"}, "app": {"query_param": ""}}),
    ("token", {"user": {"access_token": "t"}, "app": {"location": "body"}}),
    ("basic", {"user": {"username": "a:b", "password": "p"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "scopes": ["a b"]}}),
    ("oauth2", {"app": {**OAUTH2_APP, "scopes": ["a\n"]}}),
    ("oauth2", {"app": {**OAUTH2_APP, "scopes": [""]}}),
    ("oauth2", {"app": {**OAUTH2_APP, "scopes": ["a", 2]}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "https://u:p@example.com/t"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "https://example.com/t\n"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "https://example.com:99999/t"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "http://127.0.0.256/t"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "http://127.0.0.1.nip.io/t"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "http://example.com.[::1]/t"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_url": "/token"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "redirect_uri": "myapp://cb"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "pkce": "true"}}),
    ("oauth2", {"app": OAUTH2_APP, "user": {"expires_at": True}}),
    ("oauth2", {"app": OAUTH2_APP, "user": {"expires_at": "1700000000"}}),
    ("oauth2", {"app": {**OAUTH2_APP, "token_params": {"a": 1}}}),
    # The document itself.
    ("token", {"type": "basic", "user": {"access_token": "t"}}),
    ("token", {"user": {"access_token": "t"}, "usr": {}}),
    ("token", {"user": {"access_token": "t"}, "auth_id": 3}),
    ("token", {"user": None}),
    ("oauth2", {}),
    ("oauth2.client_credentials", {"app": OAUTH2_APP}),  # it has no auth_url
    ("shop.oauth2", {"app": OAUTH2_APP}),
]


@pytest.mark.parametrize(("name", "document"), SCHEMA_INVALID)
def test_documents_the_loader_refuses_the_schema_refuses(
    name: str, document: dict[str, Any]
) -> None:
    assert not loader_accepts(name, document)
    assert not schema_accepts(name, document)


def _secret_fields(model: type) -> set[str]:
    return {f.name for f in model_fields(model) if field_base(f.type) is Secret}


@pytest.mark.parametrize("auth_type", ALL_TYPES, ids=lambda t: t.name)
def test_secret_fields_are_marked_write_only_and_have_no_default(
    auth_type: AuthType,
) -> None:
    for side, model in fielded_sides(auth_type):
        properties = auth_type.json_schema()["properties"][side]["properties"]
        secrets = _secret_fields(model)

        marked = {
            name
            for name, schema in properties.items()
            if schema.get("writeOnly") is True and schema.get("x-secret") is True
        }
        assert marked == secrets
        assert all("default" not in properties[name] for name in secrets)


def test_the_builtins_have_the_secrets_expected() -> None:
    found = {
        name: [_secret_fields(model) for _, model in fielded_sides(REGISTRY.get(name))]
        for name in FIELDED_NAMES
    }

    assert found == {
        "basic": [{"password"}],
        "oauth1": [{"token", "token_secret"}, {"consumer_secret", "rsa_private_key"}],
        "oauth2": [{"access_token", "refresh_token"}, {"client_secret"}],
        "oauth2.client_credentials": [
            {"access_token", "refresh_token"},
            {"client_secret"},
        ],
        "oauth2.password": [
            {"access_token", "password", "refresh_token"},
            {"client_secret"},
        ],
        "token": [{"access_token"}, set()],
    }


def test_fields_carry_descriptions_and_defaults() -> None:
    app = model_schema(OAuth2App)

    assert app["title"] == "OAuth2App"
    assert app["additionalProperties"] is False
    assert app["properties"]["token_url"]["description"] == "The token endpoint"
    assert app["properties"]["client_auth"] == {
        "enum": ["client_secret_basic", "client_secret_post", "none"],
        "description": "How the client authenticates at the token endpoint",
        "default": "client_secret_basic",
    }
    assert app["properties"]["scopes"]["default"] == []
    assert app["properties"]["token_params"]["default"] == {}
    assert app["required"] == ["client_id", "token_url", "auth_url"]


def test_a_derived_model_keeps_the_parent_cross_field_rules() -> None:
    schema = OAUTH2_CLIENT_CREDENTIALS.json_schema()["properties"]["app"]

    assert (
        SHOP.json_schema()["properties"]["app"]["allOf"]
        == model_schema(OAuth2App)["allOf"]
    )
    assert "if" in schema


# --- the schema and the loader agree ------------------------------------------

_URL_PIECES = st.sampled_from(
    [
        "http://",
        "https://",
        "HTTPS://",
        "ftp://",
        "//",
        "localhost",
        "localhost.localdomain",
        "127.0.0.1",
        "127.1.2.300",
        "[::1]",
        "[::2]",
        "[",
        "]",
        "example.com",
        ".",
        ":",
        ":80",
        ":65536",
        ":0",
        "/",
        "/path",
        "?q=1",
        "#f",
        "@",
        "user:pw@",
        " ",
        "\n",
        "\t",
        "\x00",
        "%20",
        "x",
    ]
)


@given(st.lists(_URL_PIECES, min_size=1, max_size=8).map("".join))
def test_a_url_the_schema_pattern_accepts_loads(text: str) -> None:
    accepted_by_schema = re.search(URL_PATTERN, text) is not None
    try:
        check_url(text)
    except ValueError:
        accepted_by_loader = False
    else:
        accepted_by_loader = True

    if accepted_by_schema:
        assert accepted_by_loader, text


@given(urls())
def test_every_generated_url_matches_the_schema_pattern(url: str) -> None:
    assert re.search(URL_PATTERN, url)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "oob",
            "none",
            "header",
            "query",
            "RSA-SHA1",
            "PLAINTEXT",
            "client_secret_post",
            "https://example.com/x",
            "http://localhost/x",
            "http://example.com/x",
            "a b",
            "X-Key",
            "",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("name", FIELDED_NAMES)
@given(data=st.data())
def test_schema_and_loader_agree_on_mutated_documents(
    name: str, data: st.DataObject
) -> None:
    document = data.draw(DOCUMENTS[name])
    side, model = data.draw(st.sampled_from(fielded_sides(REGISTRY.get(name))))
    names = [field.name for field in model_fields(model)]
    key = data.draw(st.one_of(st.sampled_from(names), st.text(max_size=6)))
    table = document.setdefault(side, {})
    if data.draw(st.booleans()) and key in table:
        del table[key]
    else:
        table[key] = data.draw(_JSON)

    assert schema_accepts(name, document) == loader_accepts(name, document), document
