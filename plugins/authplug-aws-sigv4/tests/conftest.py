"""Test set-up for the authplug-aws-sigv4 distribution."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A quick profile for CI and a thorough one for local runs; pick with
# HYPOTHESIS_PROFILE=thorough.
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
