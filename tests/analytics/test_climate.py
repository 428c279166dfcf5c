"""Tests for analytics.climate: the UK monthly climatology used when no outdoor data exists."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analytics.climate import UK_MONTHLY_HUMIDITY_PCT, UK_MONTHLY_TEMPERATURE_C, climatology


def hour(year: int, month: int, day: int, at: int = 0) -> int:
    return int(dt.datetime(year, month, day, at, tzinfo=dt.UTC).timestamp()) // 3600


@pytest.mark.parametrize("month", range(1, 13))
def test_mid_month_values_are_the_monthly_means(month):
    """In the middle of each month the climatology gives that month's table values (within 0.2)."""
    middle = dt.datetime(2026, month, 1, tzinfo=dt.UTC) + dt.timedelta(days=14.7)
    t, rh = climatology(np.array([int(middle.timestamp()) // 3600]))
    assert t[0] == pytest.approx(UK_MONTHLY_TEMPERATURE_C[month - 1], abs=0.2)
    assert rh[0] == pytest.approx(UK_MONTHLY_HUMIDITY_PCT[month - 1], abs=0.5)


def test_the_year_end_is_smooth():
    """New Year's Eve and New Year's Day are within a tenth of a degree of each other."""
    t, _ = climatology(np.array([hour(2025, 12, 31, 12), hour(2026, 1, 1, 12)]))
    assert abs(t[1] - t[0]) < 0.1
    assert UK_MONTHLY_TEMPERATURE_C[11] >= t[0] >= UK_MONTHLY_TEMPERATURE_C[0] - 0.2


def test_shape_is_kept():
    """A (rooms, hours) array of hours gives arrays of the same shape, winter colder than summer."""
    hours = np.array([[hour(2026, 1, 15)] * 3, [hour(2026, 7, 15)] * 3])
    t, rh = climatology(hours)
    assert t.shape == rh.shape == (2, 3)
    assert (t[0] < t[1]).all() and (rh[0] > rh[1]).all()
