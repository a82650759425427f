"""The plugin contract kit: hypothesis strategies and contract checks.

Everything here is loaded on first use, so the pytest plugin that pytest
imports in every run stays cheap and works without hypothesis installed.
"""

from __future__ import annotations

__all__: list[str] = []
