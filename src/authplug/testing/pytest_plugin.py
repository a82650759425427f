"""The pytest plugin of the contract kit, loaded through ``pytest11``.

pytest imports this module in every run of every project that has authplug
installed, so it imports nothing heavy and changes nothing unless used.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the kit's options to the ``authplug`` group."""
    group = parser.getgroup("authplug", "authplug plugin contract")
    group.addoption(
        "--authplug-examples",
        type=int,
        default=None,
        metavar="N",
        help="Examples per contract property (default: the hypothesis profile).",
    )
