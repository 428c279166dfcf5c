"""Days to visible mould at the last fortnight's rate: analytics.mould.days_to_mould_index."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.mould import days_to_mould_index


@pytest.mark.parametrize(
    ("index", "rise", "target", "sensitivity", "expected"),
    [
        # 0.35 in 14 days is 0.025 a day: 0.5 more to index 1 takes 20 days.
        (0.5, 0.35, 1.0, "sensitive", 20.0),
        # ... then 2 more at 0.025 x 0.386 / 0.578 = 0.016696 a day: 119.79 days, 139.79 in all.
        (0.5, 0.35, 3.0, "sensitive", 20.0 + 2.0 / (0.025 * 0.386 / 0.578)),
        # Very sensitive: growth from 1 is twice as fast (k1 2 against 1): 20 + 2 / 0.05 = 60.
        (0.5, 0.35, 3.0, "very_sensitive", 60.0),
        # Already past 1, rate measured above 1: 1 more at 0.5/14 a day = 28 days.
        (2.0, 0.5, 3.0, "sensitive", 28.0),
        # Already there.
        (3.2, 0.1, 3.0, "sensitive", 0.0),
        (1.0, 0.0, 1.0, "sensitive", 0.0),
        # Not rising: never at this rate.
        (0.2, 0.0, 1.0, "sensitive", math.inf),
        (0.2, -0.3, 3.0, "sensitive", math.inf),
        (float("nan"), 0.3, 1.0, "sensitive", float("nan")),
    ],
)
def test_days_from_hand_computed_rates(index, rise, target, sensitivity, expected):
    """Each case is worked by hand from the window's mean rate and the VTT k1 coefficients (Ojanen 2010)."""
    result = days_to_mould_index(index, rise, target, sensitivity=sensitivity)
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == pytest.approx(expected, rel=1e-9)


def test_arrays_and_series_give_the_same_days():
    """A float, a numpy array and a pandas Series work alike, element by element."""
    index = [0.5, 2.0, 0.2]
    rise = [0.35, 0.5, 0.0]
    expected = [days_to_mould_index(i, r, 3.0) for i, r in zip(index, rise, strict=True)]
    np.testing.assert_allclose(days_to_mould_index(np.array(index), np.array(rise), 3.0), expected)
    np.testing.assert_allclose(days_to_mould_index(pd.Series(index), pd.Series(rise), 3.0), expected)


def test_more_rise_means_sooner_and_visible_comes_after_microscopic():
    """Monotone in the rise, and index 3 never comes before index 1."""
    rises = np.linspace(0.01, 2.0, 50)
    to_one = days_to_mould_index(np.zeros(50), rises, 1.0)
    to_three = days_to_mould_index(np.zeros(50), rises, 3.0)
    assert np.all(np.diff(to_one) < 0) and np.all(to_three > to_one)


def test_a_bad_window_is_refused():
    with pytest.raises(ValueError, match="window_days"):
        days_to_mould_index(0.5, 0.1, 1.0, window_days=0)
