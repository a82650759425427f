"""TokenFlow's extension points, as a plugin flow uses them."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, ClassVar

import pytest
from tests.oauth2.support import (
    CLIENT_SECRET,
    Driver,
    FakeClock,
    credentials,
    form,
    json_response,
    token_body,
)

from authplug import TokenError
from authplug.lifecycle import Exchange, Issued, RetryPolicy
from authplug.oauth2 import ClientCredentialsFlow, TokenFlow
from authplug.oauth2.tokens import ERROR_HINTS
from authplug.stores import TokenRecord


class SignedClientFlow(ClientCredentialsFlow):
    """Authenticates with a value that must differ on every try."""

    error_hints: ClassVar[Mapping[str, str]] = {
        **ERROR_HINTS,
        "invalid_client": "; check the signing key",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.counter = itertools.count(1)

    def authenticate_token_request(
        self, headers: MutableMapping[str, str], params: list[tuple[str, str]]
    ) -> Sequence[str]:
        proof = f"signed-proof-{next(self.counter)}"
        params.append(("client_assertion", proof))
        return [proof]


def signed_flow() -> SignedClientFlow:
    creds = credentials(app={"client_auth": "none", "client_secret": None})
    return SignedClientFlow(
        creds, clock=FakeClock(), retry=RetryPolicy(attempts=3, backoff=0.1)
    )


def test_the_default_authentication_is_the_apps_client_auth() -> None:
    flow = credentials(app={"client_auth": "client_secret_post"}).flow()
    headers: dict[str, str] = {}
    params: list[tuple[str, str]] = []

    added = flow.authenticate_token_request(headers, params)

    assert params == [("client_id", "the-client"), ("client_secret", CLIENT_SECRET)]
    assert headers == {}
    assert list(added) == []


def test_every_try_is_authenticated_afresh() -> None:
    flow = signed_flow()
    driver = Driver(flow.renew(None))

    first = driver.request()
    driver.answer(json_response({"error": "temporarily_unavailable"}, status=503))
    driver.resume()
    second = driver.request()
    driver.answer(json_response(token_body()))

    assert form(first)["client_assertion"] == "signed-proof-1"
    assert form(second)["client_assertion"] == "signed-proof-2"
    assert list(form(second))[:2] == ["grant_type", "client_assertion"]
    assert isinstance(driver.result, Issued)


def test_the_values_the_hook_adds_are_masked_in_errors() -> None:
    flow = signed_flow()
    driver = Driver(flow.renew(None))
    echo = {"error": "invalid_client", "error_description": "bad signed-proof-1"}

    with pytest.raises(TokenError) as caught:
        driver.answer(json_response(echo, status=401))

    assert "signed-proof-1" not in str(caught.value)
    assert caught.value.description == "bad ********"


def test_a_long_echoed_value_is_masked_before_the_text_is_cut() -> None:
    flow = signed_flow()
    driver = Driver(flow.renew(None))
    padding = "x" * 290
    echo = {"error": "invalid_client", "error_description": f"{padding} signed-proof-1"}

    with pytest.raises(TokenError) as caught:
        driver.answer(json_response(echo, status=401))

    assert "signed-proof" not in str(caught.value)
    assert caught.value.description == f"{padding} ********"[:300]


def test_a_flow_gives_its_own_hints() -> None:
    flow = signed_flow()
    driver = Driver(flow.renew(None))

    with pytest.raises(TokenError) as caught:
        driver.answer(json_response({"error": "invalid_client"}, status=401))

    assert str(caught.value).endswith("invalid_client; check the signing key")


class AssertionGrantFlow(TokenFlow[Any, Any]):
    """A grant of its own, on the shared token machinery."""

    regrants = True
    grant_type = "urn:example:grant"

    def grant(self, current: TokenRecord | None) -> Exchange[Issued]:
        return (
            yield from self.token_exchange(
                self.grant_type, [("grant_type", self.grant_type)], previous=current
            )
        )


def test_a_subclass_adds_a_grant_with_refresh_and_parsing_inherited() -> None:
    creds = credentials(app={"client_auth": "none", "client_secret": None})
    flow = AssertionGrantFlow(creds, clock=FakeClock())
    driver = Driver(flow.renew(None))

    request = driver.request()
    driver.answer(json_response(token_body("granted", refresh_token=None)))

    assert form(request) == {
        "grant_type": "urn:example:grant",
        "client_id": "the-client",
    }
    assert driver.result.record.access_token.reveal() == "granted"
