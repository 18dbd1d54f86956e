"""Shared test configuration: one fixed, derandomised Hypothesis profile.

``HYPOTHESIS_PROFILE=dev`` gives a randomised, longer exploration for local bug hunting.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


#: Test files run before all others: the fuzz suite forks ~2,000 time-limited children (the
#: rule chain, checks and quadrature run in forked processes), and a fork copies the parent's
#: page tables: 8 ms from a fresh test process, 31 ms once earlier tests have grown it to
#: 2.2 GB. Run first, it keeps its 3-minute budget (issue 15); no result depends on the order.
RUN_FIRST = ("tests/theory/test_fuzz.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the items of RUN_FIRST to the front, keeping the order within each group."""
    first = [item for item in items if item.nodeid.startswith(RUN_FIRST)]
    items[:] = first + [item for item in items if not item.nodeid.startswith(RUN_FIRST)]
