"""The ``aws.sigv4`` type as the registry sees it: discovery, models, flow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import attrs
import authplug
import jsonschema
import pytest
from authplug import ConfigError, Request, Response, Secret

from authplug_aws_sigv4 import AWS_SIGV4, SigV4App, SigV4Flow, SigV4User
from authplug_aws_sigv4.signing import Placement, sign_request

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN"
MOMENT = datetime(2024, 5, 17, 8, 30, 12, tzinfo=UTC)


def document(**app: Any) -> dict[str, Any]:
    return {
        "type": "aws.sigv4",
        "user": {
            "access_key_id": "AKIDEXAMPLE",
            "secret_access_key": SECRET,
            "session_token": TOKEN,
        },
        "app": {"region": "eu-west-1", "service": "execute-api", **app},
    }


def fixed_clock() -> float:
    return MOMENT.timestamp()


# Discovery


def test_the_installed_distribution_provides_the_type() -> None:
    fresh = authplug.build_registry(strict=True)

    found = fresh.get("aws.sigv4")

    assert found.name == "aws.sigv4"
    assert found.distribution == "authplug-aws-sigv4"
    assert found.flow is SigV4Flow
    assert SigV4Flow.requires_request_body
    assert found.user_model is SigV4User
    assert found.app_model is SigV4App


def test_the_default_registry_resolves_the_type() -> None:
    assert authplug.registry().get("aws.sigv4") == AWS_SIGV4


# Loading


def test_loads_valid_credentials_with_secrets_masked() -> None:
    credentials = authplug.load(document(placement="query", expires=900))

    assert credentials.user.secret_access_key == Secret(SECRET)
    assert credentials.user.session_token == Secret(TOKEN)
    assert credentials.app.placement == "query"
    assert credentials.app.expires == 900
    assert SECRET not in repr(credentials)
    assert TOKEN not in repr(credentials)


def test_dump_round_trips() -> None:
    credentials = authplug.load(document(unsigned_payload=True))

    again = authplug.load(credentials.dump())

    assert again == credentials


def test_session_token_is_optional() -> None:
    data = document()
    del data["user"]["session_token"]

    credentials = authplug.load(data)

    assert credentials.user.session_token is None
    assert credentials.app.placement == "header"
    assert credentials.app.expires == 3600
    assert credentials.app.unsigned_payload is False


def paths_of(error: ConfigError) -> list[str]:
    return sorted(problem.path for problem in error.errors)


def test_reports_every_missing_and_unknown_field() -> None:
    data = {"type": "aws.sigv4", "user": {"acess_key_id": "x"}, "app": {}}

    with pytest.raises(ConfigError) as caught:
        authplug.load(data)

    assert paths_of(caught.value) == [
        "app.region",
        "app.service",
        "user.access_key_id",
        "user.acess_key_id",
        "user.secret_access_key",
    ]
    assert "did you mean 'access_key_id'" in str(caught.value)


def test_reports_every_wrongly_typed_field() -> None:
    data = document(placement="body", expires="3600", unsigned_payload="yes")
    data["user"]["session_token"] = 12345

    with pytest.raises(ConfigError) as caught:
        authplug.load(data)

    assert paths_of(caught.value) == [
        "app.expires",
        "app.placement",
        "app.unsigned_payload",
        "user.session_token",
    ]


def test_reports_every_bad_value_without_quoting_secrets() -> None:
    pasted_secret = f" {SECRET}\n"
    data = document(region="EU West", service="S3", expires=604801)
    data["user"].update(
        access_key_id="AKID/EXAMPLE",
        secret_access_key=pasted_secret,
        session_token="",
    )

    with pytest.raises(ConfigError) as caught:
        authplug.load(data, source="creds.json")

    message = str(caught.value)
    assert paths_of(caught.value) == [
        "app.expires",
        "app.region",
        "app.service",
        "user.access_key_id",
        "user.secret_access_key",
        "user.session_token",
    ]
    assert "creds.json" in message
    assert SECRET not in message
    assert "paste it again" in message


@pytest.mark.parametrize(
    ("side", "field", "value"),
    [
        ("app", "region", "us-east-1\n"),
        ("app", "service", "s3\n"),
        ("user", "access_key_id", "AKIDEXAMPLE\n"),
        ("user", "session_token", f"{TOKEN}\n"),
    ],
)
def test_loading_and_the_schema_both_refuse_a_trailing_line_break(
    side: str, field: str, value: str
) -> None:
    data = document()
    data[side][field] = value
    validator = jsonschema.Draft202012Validator(AWS_SIGV4.json_schema())

    with pytest.raises(ConfigError) as caught:
        authplug.load(data)

    assert paths_of(caught.value) == [f"{side}.{field}"]
    assert not validator.is_valid(data)


def test_a_session_token_with_a_line_break_inside_is_refused() -> None:
    data = document()
    data["user"]["session_token"] = "FwoG\r\nX-Injected: 1"

    with pytest.raises(ConfigError) as caught:
        authplug.load(data)

    assert paths_of(caught.value) == ["user.session_token"]
    assert "Injected" not in str(caught.value)


def test_models_built_in_python_are_checked_too() -> None:
    with pytest.raises(ConfigError) as caught:
        SigV4App(region="us-east-1", service="s3", expires=0)

    assert paths_of(caught.value) == ["expires"]


def test_json_schema_accepts_good_documents_and_rejects_bad_ones() -> None:
    schema = AWS_SIGV4.json_schema()
    validator = jsonschema.Draft202012Validator(schema)

    good = document(placement="query")
    bad = document(region="us_east_1", expires=0)
    bad["user"]["access_key_id"] = "AK/ID"

    assert list(validator.iter_errors(good)) == []
    failing = {tuple(error.absolute_path) for error in validator.iter_errors(bad)}
    assert failing == {
        ("app", "region"),
        ("app", "expires"),
        ("user", "access_key_id"),
    }
    user = schema["properties"]["user"]["properties"]
    assert user["secret_access_key"]["writeOnly"] is True
    assert user["session_token"]["anyOf"][0]["x-secret"] is True


# The flow


def test_flow_signs_with_its_clock_as_the_signer_does() -> None:
    credentials = authplug.load(document())
    flow = credentials.flow(clock=fixed_clock)
    url = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/items?b=2&a=1"
    through_flow = Request("POST", url, content=b'{"name": "x"}')
    direct = Request("POST", url, content=b'{"name": "x"}')

    flow.apply(through_flow)
    sign_request(
        direct,
        access_key_id="AKIDEXAMPLE",
        secret_access_key=SECRET,
        session_token=TOKEN,
        region="eu-west-1",
        service="execute-api",
        timestamp=MOMENT,
    )

    assert through_flow == direct
    assert through_flow.headers["X-Amz-Date"] == "20240517T083012Z"
    assert through_flow.headers["X-Amz-Security-Token"] == TOKEN


def test_flow_presigns_when_placed_in_the_query() -> None:
    credentials = authplug.load(document(placement="query", expires=120))
    request = Request("GET", "https://bucket.s3.amazonaws.com/key.txt")

    credentials.flow(clock=fixed_clock).apply(request)

    params = dict(request.query_params())
    assert params["X-Amz-Expires"] == "120"
    assert params["X-Amz-Security-Token"] == TOKEN
    assert params["X-Amz-Credential"] == (
        "AKIDEXAMPLE/20240517/eu-west-1/execute-api/aws4_request"
    )
    assert "Authorization" not in request.headers


def test_flow_yields_the_signed_request_once() -> None:
    credentials = authplug.load(document(service="s3", unsigned_payload=True))
    request = Request("PUT", "https://bucket.s3.amazonaws.com/a.bin", content=b"1")
    flow = credentials.flow(clock=fixed_clock)

    steps = flow.auth_flow(request)
    sent = next(steps)

    assert sent is request
    assert sent.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    with pytest.raises(StopIteration):
        steps.send(Response(200))


def test_applying_twice_is_applying_once() -> None:
    credentials = authplug.load(document())
    flow = credentials.flow(clock=fixed_clock)
    once = Request("GET", "https://example.amazonaws.com/?x=1")
    twice = Request("GET", "https://example.amazonaws.com/?x=1")

    flow.apply(once)
    flow.apply(twice)
    flow.apply(twice)

    assert once == twice


def test_flow_repr_hides_the_secrets() -> None:
    flow = authplug.load(document()).flow()

    shown = repr(flow)

    assert SECRET not in shown
    assert TOKEN not in shown


def test_every_placement_the_model_allows_is_one_the_signer_knows() -> None:
    attrs.resolve_types(SigV4App)

    allowed = set(get_args(attrs.fields(SigV4App).placement.type))

    assert allowed == {placement.value for placement in Placement}
