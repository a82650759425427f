"""The plugin contract kit: check any auth type against the authplug contract.

In a plugin's test suite, one class checks a type against every rule, each
rule its own test::

    from authplug.testing import AuthTypeContract

    class TestAcmeKey(AuthTypeContract):
        auth_type = "acme.key"

Or, anywhere, :func:`check_auth_type` runs every check and raises one
:class:`ContractViolation` that lists what is broken. The strategies behind
them (:func:`valid_documents`, :func:`malformed_documents` and friends) are
here too, for a plugin's own properties.

Names are loaded on first use, so the pytest plugin, which pytest imports in
every run, stays cheap and works without hypothesis installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authplug.testing.contract import (
        CHECKS,
        AuthTypeContract,
        Contract,
        check_auth_type,
    )
    from authplug.testing.report import (
        ContractReport,
        ContractSkipped,
        ContractViolation,
        Failure,
    )
    from authplug.testing.sandbox import captured_output, no_network, run_flow
    from authplug.testing.strategies import (
        FIXED_NOW,
        Malformed,
        candidate_documents,
        find_secrets,
        flow_documents,
        malformed_documents,
        model_documents,
        register_strategy,
        requests,
        secret_values,
        unregister_strategy,
        urls,
        valid_documents,
    )

__all__ = [
    "CHECKS",
    "FIXED_NOW",
    "AuthTypeContract",
    "Contract",
    "ContractReport",
    "ContractSkipped",
    "ContractViolation",
    "Failure",
    "Malformed",
    "candidate_documents",
    "captured_output",
    "check_auth_type",
    "find_secrets",
    "flow_documents",
    "malformed_documents",
    "model_documents",
    "no_network",
    "register_strategy",
    "requests",
    "run_flow",
    "secret_values",
    "unregister_strategy",
    "urls",
    "valid_documents",
]

_HOMES = {
    "contract": ("CHECKS", "AuthTypeContract", "Contract", "check_auth_type"),
    "report": ("ContractReport", "ContractSkipped", "ContractViolation", "Failure"),
    "sandbox": ("captured_output", "no_network", "run_flow"),
    "strategies": (
        "FIXED_NOW",
        "Malformed",
        "candidate_documents",
        "find_secrets",
        "flow_documents",
        "malformed_documents",
        "model_documents",
        "register_strategy",
        "requests",
        "secret_values",
        "unregister_strategy",
        "urls",
        "valid_documents",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'authplug.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"authplug.testing.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
