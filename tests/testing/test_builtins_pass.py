"""Every built-in type keeps the contract.

The types come from the registry, as any user's do. Types of other
distributions are left to their own test suites, where the strategies
their values need are registered (see docs/plugins.md).
"""

from __future__ import annotations

import pytest

from authplug import AuthType, registry
from authplug.testing import CHECKS, check_auth_type

BUILTIN_NAMES = {
    "none",
    "token",
    "basic",
    "oauth2",
    "oauth2.client_credentials",
    "oauth2.password",
    "oauth1",
}


def test_the_registry_holds_every_builtin() -> None:
    names = set(registry().names())

    assert names >= BUILTIN_NAMES


BUILTINS = [t for t in registry().types() if t.distribution == "authplug"]


def test_the_builtins_come_from_the_authplug_distribution() -> None:
    assert {auth_type.name for auth_type in BUILTINS} == BUILTIN_NAMES


@pytest.mark.parametrize("auth_type", BUILTINS, ids=lambda t: t.name)
def test_every_builtin_type_keeps_the_contract(auth_type: AuthType) -> None:
    report = check_auth_type(auth_type)

    assert report.auth_type == auth_type.name
    if auth_type.flow is not None:
        assert report.passed == CHECKS
        assert report.skipped == ()
    else:
        flow_checks = {check for check in CHECKS if check.startswith("flow_")}
        assert {check for check, _ in report.skipped} == flow_checks
