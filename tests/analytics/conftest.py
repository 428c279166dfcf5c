"""Fixtures for the analytics tests: reproducible hourly surface climates."""

from __future__ import annotations

import numpy as np
import pytest


def _surface_climate(rng: np.random.Generator, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """An hourly surface climate with damp and dry spells, out-of-range hours and missing readings."""
    temp = np.empty(hours)
    rh = np.empty(hours)
    start = 0
    while start < hours:
        length = int(rng.integers(3, 200))
        stop = min(start + length, hours)
        n = stop - start
        kind = rng.choice(["damp", "dry", "showers", "cold", "hot"], p=[0.4, 0.3, 0.2, 0.05, 0.05])
        if kind == "damp":
            temp[start:stop] = rng.uniform(5.0, 25.0) + rng.normal(0.0, 1.0, n)
            rh[start:stop] = np.clip(rng.uniform(82.0, 99.0) + rng.normal(0.0, 2.0, n), 0.0, 100.0)
        elif kind == "dry":
            temp[start:stop] = rng.uniform(12.0, 24.0) + rng.normal(0.0, 1.0, n)
            rh[start:stop] = rng.uniform(35.0, 75.0, n)
        elif kind == "showers":
            temp[start:stop] = rng.uniform(14.0, 22.0, n)
            rh[start:stop] = np.where(
                rng.random(n) < 0.3, rng.uniform(85.0, 100.0, n), rng.uniform(50.0, 75.0, n)
            )
        elif kind == "cold":
            temp[start:stop] = rng.uniform(-5.0, 0.0, n)
            rh[start:stop] = rng.uniform(90.0, 100.0, n)
        else:
            temp[start:stop] = rng.uniform(50.0, 55.0, n)
            rh[start:stop] = rng.uniform(90.0, 100.0, n)
        start = stop
    gaps = rng.random(hours) < 0.02
    temp[gaps & (rng.random(hours) < 0.5)] = np.nan
    rh[gaps & ~np.isnan(temp)] = np.nan
    return temp, rh


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, so every run sees the same numbers."""
    return np.random.default_rng(20251027)


@pytest.fixture
def surface_climate(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Six months of hourly surface temperature [°C] and relative humidity [%] for one cold spot."""
    return _surface_climate(rng, 24 * 183)


@pytest.fixture
def surface_climates(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hourly surface climates for 12 cold spots over 45 days, as (rooms, hours) arrays."""
    pairs = [_surface_climate(rng, 24 * 45) for _ in range(12)]
    return np.array([pair[0] for pair in pairs]), np.array([pair[1] for pair in pairs])
