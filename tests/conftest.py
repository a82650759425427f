"""Shared test setup: hypothesis profiles and the registry fixtures."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The real OAuth 2 server on 127.0.0.1 (fixtures oauth_server and friends),
# and a real Redis server for the store tests (redis_url).
pytest_plugins = ["tests.oauth_server.fixtures", "tests.redis_server"]

# "ci" is quick and repeatable; "thorough" is for local runs hunting bugs.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)
