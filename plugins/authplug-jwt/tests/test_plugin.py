"""Both types as the registry sees them: discovery, loading, errors, schema."""

from __future__ import annotations

from typing import Any

import authplug
import jsonschema
import pytest
from authplug import ConfigError, Secret
from authplug.builtin.oauth2 import OAuth2Client, OAuth2Token

from authplug_jwt import (
    OAUTH2_JWT_BEARER,
    OAUTH2_PRIVATE_KEY_JWT,
    JWTBearerApp,
    JWTBearerFlow,
    JWTBearerUser,
    PrivateKeyJWTApp,
    PrivateKeyJWTFlow,
)

TOKEN_URL = "https://auth.example.com/oauth/token"


def bearer(pem: str, **app: Any) -> dict[str, Any]:
    return {
        "type": "oauth2.jwt_bearer",
        "user": {"subject": "alice@example.com"},
        "app": {"client_id": "svc", "token_url": TOKEN_URL, "private_key": pem, **app},
    }


def client(pem: str, **app: Any) -> dict[str, Any]:
    return {
        "type": "oauth2.private_key_jwt",
        "app": {"client_id": "svc", "token_url": TOKEN_URL, "private_key": pem, **app},
    }


def paths_of(error: ConfigError) -> list[str]:
    return sorted(problem.path for problem in error.errors)


def key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if "-----" not in line]


# Discovery


@pytest.mark.parametrize(
    ("name", "record", "flow", "user", "app"),
    [
        (
            "oauth2.jwt_bearer",
            OAUTH2_JWT_BEARER,
            JWTBearerFlow,
            JWTBearerUser,
            JWTBearerApp,
        ),
        (
            "oauth2.private_key_jwt",
            OAUTH2_PRIVATE_KEY_JWT,
            PrivateKeyJWTFlow,
            OAuth2Token,
            PrivateKeyJWTApp,
        ),
    ],
)
def test_the_installed_distribution_provides_the_type(
    name: str, record: Any, flow: type, user: type, app: type
) -> None:
    fresh = authplug.build_registry(strict=True)

    found = fresh.get(name)

    assert found == record
    assert found.distribution == "authplug-jwt"
    assert found.plugin == "jwt"
    assert (found.flow, found.user_model, found.app_model) == (flow, user, app)
    assert found.parent == "oauth2"
    assert issubclass(app, OAuth2Client)
    assert authplug.registry().get(name) == record


# Loading


def test_loads_a_jwt_bearer_document_with_defaults(private_pem: str) -> None:
    credentials = authplug.load(bearer(private_pem))

    app = credentials.app
    assert app.private_key == Secret(private_pem)
    assert (app.client_auth, app.client_secret) == ("none", None)
    assert (app.algorithm, app.key_id, app.assertion_audience) == (None, None, None)
    assert app.assertion_lifetime == 300
    assert app.audience_claim == TOKEN_URL
    assert credentials.user.subject == "alice@example.com"


def test_loads_a_private_key_jwt_document_with_every_field(
    algorithm: str, private_pem: str
) -> None:
    document = client(
        private_pem,
        algorithm=algorithm,
        key_id="2024-05",
        assertion_lifetime=60,
        assertion_audience="https://auth.example.com",
        claims={"tenant": "acme"},
        client_auth="private_key_jwt",
        scopes="read write",
    )

    credentials = authplug.load(document)

    app = credentials.app
    assert (app.algorithm, app.key_id, app.assertion_lifetime) == (
        algorithm,
        "2024-05",
        60,
    )
    assert app.audience_claim == "https://auth.example.com"
    assert app.claims == {"tenant": "acme"}
    assert app.scopes == ("read", "write")
    assert app.client_auth == "private_key_jwt"


@pytest.mark.parametrize("build", [bearer, client])
def test_dump_round_trips_and_repr_hides_the_key(build: Any, private_pem: str) -> None:
    credentials = authplug.load(build(private_pem, key_id="k1"))

    again = authplug.load(credentials.dump())
    shown = repr(credentials) + str(credentials)
    masked = str(credentials.dump(reveal_secrets=False))

    assert again == credentials
    assert not any(line in shown + masked for line in key_lines(private_pem))


@pytest.mark.parametrize("build", [bearer, client])
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("not a key", "is not a PEM private key"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "damaged"),
    ],
)
def test_a_key_that_does_not_parse_names_private_key(
    build: Any, value: str, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        authplug.load(build(value), source="svc.json")

    assert paths_of(caught.value) == ["app.private_key"]
    assert said in str(caught.value)
    assert "svc.json" in str(caught.value)


@pytest.mark.parametrize("build", [bearer, client])
def test_a_key_of_the_wrong_kind_names_private_key_and_hides_it(
    build: Any, keys: Any
) -> None:
    pem = keys.pem(keys.rsa)

    with pytest.raises(ConfigError) as caught:
        authplug.load(build(pem, algorithm="ES256"))

    message = str(caught.value) + repr(caught.value)
    assert paths_of(caught.value) == ["app.private_key"]
    assert "is an RSA key of 2048 bits, which signs RS256, not the algorithm ES256" in (
        message
    )
    assert not any(line in message for line in key_lines(pem))


def test_every_bad_field_is_reported_at_once(private_pem: str) -> None:
    document = client(
        private_pem,
        key_id=" padded",
        assertion_lifetime=3601,
        assertion_audience="",
        claims={"exp": "9999999999", "jti": "fixed"},
        client_secret="s3cret-not-used",
    )

    with pytest.raises(ConfigError) as caught:
        authplug.load(document)

    assert paths_of(caught.value) == [
        "app.assertion_audience",
        "app.assertion_lifetime",
        "app.claims.exp",
        "app.claims.jti",
        "app.client_secret",
        "app.key_id",
    ]
    assert "s3cret-not-used" not in str(caught.value)
    assert "remove client_secret" in str(caught.value)


def test_wrong_types_are_reported_with_their_paths(private_pem: str) -> None:
    document = bearer(
        private_pem, assertion_lifetime="300", algorithm="HS256", claims={"n": 1}
    )
    document["user"]["subject"] = ""

    with pytest.raises(ConfigError) as caught:
        authplug.load(document)

    assert paths_of(caught.value) == [
        "app.algorithm",
        "app.assertion_lifetime",
        "app.claims.n",
        "user.subject",
    ]


def test_private_key_jwt_takes_no_other_client_auth(private_pem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        authplug.load(client(private_pem, client_auth="client_secret_basic"))

    assert paths_of(caught.value) == ["app.client_auth"]
    assert "'private_key_jwt'" in str(caught.value)


def test_jwt_bearer_with_a_secret_method_needs_the_secret(private_pem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        authplug.load(bearer(private_pem, client_auth="client_secret_post"))

    loaded = authplug.load(
        bearer(private_pem, client_auth="client_secret_post", client_secret="pw")
    )
    assert paths_of(caught.value) == ["app.client_secret"]
    assert loaded.app.client_secret == Secret("pw")


def test_the_subject_is_required(private_pem: str) -> None:
    document = bearer(private_pem)
    del document["user"]

    with pytest.raises(ConfigError) as caught:
        authplug.load(document)

    assert paths_of(caught.value) == ["user.subject"]


def test_models_built_in_python_are_checked_too(
    algorithm: str, private_pem: str
) -> None:
    other: Any = "ES256" if algorithm == "RS256" else "RS256"

    with pytest.raises(ConfigError) as caught:
        PrivateKeyJWTApp(
            client_id="svc",
            token_url=TOKEN_URL,
            private_key=Secret(private_pem),
            algorithm=other,
            assertion_lifetime=0,
        )

    assert paths_of(caught.value) == ["assertion_lifetime", "private_key"]


# The JSON Schema


@pytest.mark.parametrize("record", [OAUTH2_JWT_BEARER, OAUTH2_PRIVATE_KEY_JWT])
def test_the_schema_marks_the_key_secret(record: Any) -> None:
    app = record.json_schema()["properties"]["app"]["properties"]

    assert app["private_key"]["writeOnly"] is True
    assert app["private_key"]["x-secret"] is True
    assert "default" not in app["private_key"]
    assert app["assertion_lifetime"]["maximum"] == 3600


def test_the_schema_agrees_with_loading_on_each_rule(private_pem: str) -> None:
    schema = OAUTH2_PRIVATE_KEY_JWT.json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    good = client(private_pem, key_id="k1", claims={"tenant": "acme"})
    bad = client(
        "no key here",
        key_id="",
        assertion_lifetime=0,
        claims={"aud": "x"},
        client_secret="x",
    )

    failing = {tuple(error.absolute_path) for error in validator.iter_errors(bad)}

    assert list(validator.iter_errors(good)) == []
    assert failing == {
        ("app", "private_key"),
        ("app", "key_id"),
        ("app", "assertion_lifetime"),
        ("app", "claims"),
        ("app", "client_secret"),
    }


def test_the_jwt_bearer_schema_asks_for_a_secret_only_with_a_secret_method(
    private_pem: str,
) -> None:
    validator = jsonschema.Draft202012Validator(OAUTH2_JWT_BEARER.json_schema())

    without = bearer(private_pem)
    basic = bearer(private_pem, client_auth="client_secret_basic")

    assert validator.is_valid(without)
    assert not validator.is_valid(basic)
    assert validator.is_valid({**basic, "app": {**basic["app"], "client_secret": "s"}})
