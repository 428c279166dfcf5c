"""Tests for analytics.mould.mould_index_daily: the VTT index with the state at the start of every day."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from analytics.mould import mould_index_2d, mould_index_daily


@pytest.mark.parametrize("rows", [1, 12])
def test_daily_states_are_those_of_one_call_per_day(surface_climates, rows):
    """Index, day-start states and final state equal mould_index_2d run one day at a time."""
    temp, rh = surface_climates
    temp, rh = temp[:rows], rh[:rows]
    index, day_index, day_dry, last_index, last_dry = mould_index_daily(temp, rh)
    m = np.zeros(rows)
    dry = np.zeros(rows, dtype=np.int64)
    for day in range(temp.shape[1] // 24):
        assert_array_equal(day_index[:, day], m)
        assert_array_equal(day_dry[:, day], dry)
        hours = slice(24 * day, 24 * day + 24)
        expected, m, dry = mould_index_2d(temp[:, hours], rh[:, hours], m, dry)
        assert_array_equal(index[:, hours], expected)
    assert_array_equal(last_index, m)
    assert_array_equal(last_dry, dry)


def test_hour_major_input_gives_the_same_index(surface_climates):
    """The transposes of (hours, rooms) arrays are read as well as (rooms, hours) ones."""
    temp, rh = surface_climates
    direct = mould_index_daily(temp, rh, hours_per_day=24)
    transposed = mould_index_daily(np.ascontiguousarray(temp.T).T, np.ascontiguousarray(rh.T).T)
    for a, b in zip(direct, transposed, strict=True):
        assert_array_equal(a, b)


def test_a_partial_last_day_is_recorded_from_its_start(surface_climates):
    """With 30 hours there are two day starts: hour 0 and hour 24."""
    temp, rh = surface_climates
    index, day_index, _, _, _ = mould_index_daily(temp[:, :30], rh[:, :30], np.full(12, 0.5))
    assert day_index.shape == (12, 2)
    assert_array_equal(day_index[:, 0], 0.5)
    assert_array_equal(day_index[:, 1], index[:, 23])


@pytest.mark.parametrize("hours_per_day", [0, -24, 2.5, True])
def test_hours_per_day_must_be_a_positive_whole_number(hours_per_day):
    """A record interval that is not a whole number of hours is refused."""
    with pytest.raises(ValueError, match="hours_per_day"):
        mould_index_daily(np.full((1, 24), 20.0), np.full((1, 24), 90.0), hours_per_day=hours_per_day)
