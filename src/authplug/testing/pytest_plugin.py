"""The pytest plugin of the contract kit, loaded through ``pytest11``.

pytest imports this module in every run of every project that has authplug
installed, so it imports nothing but pytest, and it changes nothing unless
asked: it adds the ``--authplug-examples`` option and registers the
``authplug_contract`` marker that :class:`~authplug.testing.AuthTypeContract`
tests carry (select them with ``-m authplug_contract``, or leave them out).
"""

from __future__ import annotations

import pytest

__all__ = ["examples"]

_examples: int | None = None


def examples() -> int | None:
    """Return the ``--authplug-examples`` count of this run, if one was given."""
    return _examples


def _positive(text: str) -> int:
    count = int(text)
    if count < 1:
        raise ValueError(text)
    return count


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--authplug-examples`` to the ``authplug`` option group."""
    group = parser.getgroup("authplug", "authplug plugin contract")
    group.addoption(
        "--authplug-examples",
        type=_positive,
        default=None,
        metavar="N",
        help="Examples per authplug contract property "
        "(default: the hypothesis profile's max_examples).",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and remember the example count."""
    global _examples
    config.addinivalue_line(
        "markers",
        "authplug_contract: a property of the authplug plugin contract",
    )
    _examples = config.getoption("authplug_examples", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Forget the example count, for runs that share one process."""
    global _examples
    _examples = None
