"""Shared simulations for the simulator tests (built once per session: they are deterministic)."""

from __future__ import annotations

import datetime as dt

import pytest

from simulator import Simulation, build_estate, simulate

#: A January window in the past: the ingestor rejects readings stamped in its future.
WINTER_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def month() -> Simulation:
    """Fifty homes for 30 days of January: the estate the demo runs."""
    return simulate(build_estate(11, 50), WINTER_START, days=30)


@pytest.fixture(scope="session")
def week() -> Simulation:
    """Twenty homes for a week: long enough for an offline spell that needs two batches."""
    return simulate(build_estate(5, 20), dt.datetime(2026, 2, 2, tzinfo=dt.UTC), days=7)


@pytest.fixture(scope="session")
def clean_week() -> Simulation:
    """The same twenty homes and week without sensor faults."""
    return simulate(build_estate(5, 20), dt.datetime(2026, 2, 2, tzinfo=dt.UTC), days=7, faults=False)
