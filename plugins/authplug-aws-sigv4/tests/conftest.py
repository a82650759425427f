"""Test set-up for the authplug-aws-sigv4 distribution.

Run with the core's suite, the hypothesis profiles come from the core's
``tests/conftest.py``; run alone, the same profile names are defined here.
Pick one with ``HYPOTHESIS_PROFILE``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument


def _define_missing_profiles() -> None:
    try:
        settings.get_profile("ci")
    except InvalidArgument:
        pass
    else:
        return

    settings.register_profile(
        "ci",
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", max_examples=100, deadline=None)
    settings.register_profile("thorough", max_examples=2000, deadline=None)
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


_define_missing_profiles()
