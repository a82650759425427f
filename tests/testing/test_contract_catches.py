"""The kit fails types that break the contract, and says what they broke.

Each broken type breaks one rule (see broken_types.py), so the kit must
report that rule, with a readable message, and nothing else. Ten examples a
property are plenty: each break shows in the first few.
"""

from __future__ import annotations

import pytest
from tests.testing import broken_types as broken

from authplug import AuthType, Registry, build_registry, hookimpl
from authplug.builtin.token import TOKEN
from authplug.testing import (
    AuthTypeContract,
    ContractViolation,
    check_auth_type,
)

EXAMPLES = 10


@pytest.fixture(scope="module")
def broken_registry() -> Registry:
    registry: Registry = broken.broken_registry()
    return registry


CAUGHT = [
    pytest.param(
        broken.LEAKY_REPR,
        {"secrets"},
        ["a secret appeared in repr(credentials)", "LeakyUser(access_token='S3cr3t"],
        id="secret-in-repr",
    ),
    pytest.param(
        broken.LEAKY_LOG,
        {"secrets"},
        [
            "a secret appeared in a log record of 'tests.testing.broken_types' (DEBUG)",
            "sending token S3cr3t",
        ],
        id="secret-in-log",
    ),
    pytest.param(
        broken.NO_ROUND_TRIP,
        {"round_trip"},
        ["load(dump(x)) != x", "app.region was 'v1-eu', came back as 'v1-v1-eu'"],
        id="no-round-trip",
    ),
    pytest.param(
        broken.DUPLICATES,
        {"flow_idempotent"},
        [
            "applying the flow again to its own result changed the request",
            "query parameter 'key' appears 2 times, 1 after the first application",
        ],
        id="duplicates-a-parameter",
    ),
    pytest.param(
        broken.DOES_IO,
        {"flow_deterministic", "flow_idempotent", "flow_no_io"},
        [
            "[flow_no_io] the flow did I/O of its own: "
            "socket.getaddrinfo('tokens.example.test', 443)",
        ],
        id="does-io",
    ),
    pytest.param(
        broken.NOT_FROZEN,
        {"models"},
        [
            "MutableUser is not frozen: setting 'access_token' on an instance "
            "succeeded; declare it with @attrs.frozen(kw_only=True)"
        ],
        id="not-frozen",
    ),
    pytest.param(
        broken.STRICT_SCHEMA,
        {"schema"},
        [
            "a document that loads fails the schema at $.app: "
            "'workspace' is a required property"
        ],
        id="schema-rejects-valid-data",
    ),
    pytest.param(
        broken.NOT_DETERMINISTIC,
        {"flow_deterministic", "flow_idempotent"},
        [
            "two identical requests, with the same clock and nonces, came out "
            "different",
            "Take time and randomness only from self.clock and self.nonce",
        ],
        id="not-deterministic",
    ),
    pytest.param(
        broken.WRONG_PATH,
        {"malformed"},
        [
            "set app.shop to an empty string: the error should name 'app.shop' "
            "but names ['app.store']"
        ],
        id="blames-the-wrong-field",
    ),
]


@pytest.mark.parametrize(("auth_type", "checks", "phrases"), CAUGHT)
def test_a_broken_rule_is_caught_and_named(
    auth_type: AuthType,
    checks: set[str],
    phrases: list[str],
    broken_registry: Registry,
) -> None:
    with pytest.raises(ContractViolation) as caught:
        check_auth_type(auth_type, registry=broken_registry, max_examples=EXAMPLES)

    violation = caught.value
    report = str(violation)
    assert violation.auth_type == auth_type.name
    assert {failure.check for failure in violation.failures} == checks
    assert report.startswith(f"auth type {auth_type.name!r} (plugin 'broken')")
    for phrase in phrases:
        assert phrase in report


def test_a_type_that_loads_nothing_fails_generation_not_silently(
    broken_registry: Registry,
) -> None:
    with pytest.raises(ContractViolation) as caught:
        check_auth_type(
            broken.LOADS_NOTHING, registry=broken_registry, max_examples=EXAMPLES
        )

    failures = {failure.check: failure.message for failure in caught.value.failures}
    assert failures["generation"].startswith("only 0 of ")
    assert "user.access_token: " in failures["generation"]
    assert "e.g. is never right" in failures["generation"]
    assert (
        "register_strategy(Model, strategy, field='name')" in (failures["generation"])
    )
    assert failures["round_trip"] == (
        "no generated document loads, so there is nothing to check this rule "
        "on; the generation check says why"
    )
    assert set(failures) == {"models", *failures} - {"names"}


def test_an_unregistered_name_says_how_to_register_it() -> None:
    with pytest.raises(ContractViolation) as caught:
        check_auth_type("acme.missing")

    report = str(caught.value)
    assert "[names] unknown auth type 'acme.missing'" in report
    assert "[project.entry-points.authplug]" in report


def test_a_type_missing_from_the_given_registry_breaks_names(
    broken_registry: Registry,
) -> None:
    with pytest.raises(ContractViolation) as caught:
        check_auth_type(TOKEN, registry=broken_registry, checks=["names"])

    assert "'token' does not resolve in the registry" in str(caught.value)


def test_only_the_checks_asked_for_run(broken_registry: Registry) -> None:
    report = check_auth_type(
        broken.LEAKY_REPR, registry=broken_registry, checks=["names", "models"]
    )

    assert report.passed == ("names", "models")


class TestTheClassReportsEachRuleAsATest(AuthTypeContract):
    """The class form: a broken type fails only the test of its rule."""

    auth_type = broken.NOT_FROZEN
    registry = broken.broken_registry()

    def test_models(self) -> None:
        """The models test fails, naming the model."""
        with pytest.raises(ContractViolation, match="MutableUser is not frozen"):
            super().test_models()


def _registry_of(*plugins: object) -> Registry:
    named = {f"plugin{index}": plugin for index, plugin in enumerate(plugins)}
    built: Registry = build_registry(plugins=named, entry_points=False)
    return built


class _Provides:
    def __init__(self, *types: AuthType) -> None:
        self.types = list(types)

    @hookimpl
    def authplug_auth_types(self) -> list[AuthType]:
        return self.types


def test_a_name_that_differs_only_in_case_from_another_is_caught() -> None:
    shadow = TOKEN.derive(
        name="kit.shadow", summary="Shadows a tag", aliases=("Token",)
    )
    registry = _registry_of(_Provides(TOKEN), _Provides(shadow))

    with pytest.raises(ContractViolation) as caught:
        check_auth_type(shadow, registry=registry, checks=["names"])

    assert (
        "'Token' differs only in case from 'token', a name of 'token' "
        "(plugin 'plugin0')"
    ) in str(caught.value)


def test_a_parent_that_is_not_registered_is_caught() -> None:
    orphan = TOKEN.derive(name="kit.orphan", summary="Derives from token")
    registry = _registry_of(_Provides(orphan))

    with pytest.raises(ContractViolation) as caught:
        check_auth_type(orphan, registry=registry, checks=["names"])

    assert "parent 'token' is not registered" in str(caught.value)
