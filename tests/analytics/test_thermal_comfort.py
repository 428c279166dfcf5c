"""Excess cold and heat: published figures of CIBSE TM52/TM59, WHO and PHE thresholds, worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics.thermal_comfort import (
    adaptive_upper_limit,
    assess_room,
    exceedance_delta,
    occupied_hours_mask,
    running_mean_outdoor_temperature,
    tm59_criterion_a,
    tm59_criterion_b,
)


@pytest.mark.parametrize(("running_mean", "expected"), [(15.0, 26.75), (20.0, 28.4), (10.0, 25.1), (25.0, 30.05)])
def test_adaptive_upper_limit_category_ii(running_mean, expected):
    """TM52: Tmax = 0.33 θrm + 21.8 for category II."""
    assert_allclose(adaptive_upper_limit(running_mean), expected, atol=1e-9)


def test_adaptive_upper_limit_types_and_categories():
    """Arrays, Series (index kept) and NaN; categories I and III are 1 K either side of II."""
    series = pd.Series([15.0, np.nan], index=["a", "b"])
    out = adaptive_upper_limit(series)
    assert list(out.index) == ["a", "b"] and np.isnan(out["b"])
    assert_allclose(adaptive_upper_limit(np.array([15.0]), "I"), [25.75])
    assert_allclose(adaptive_upper_limit(15.0, "III"), 27.75)
    with pytest.raises(ValueError, match="category"):
        adaptive_upper_limit(15.0, "IV")


def test_running_mean_step_response():
    """Steady at 10 °C, then 20 °C from day 1: a day's θrm counts the days before it, so day 1 is still 10,
    day 2 = 0.2×20 + 0.8×10 = 12, day 3 = 0.2×20 + 0.8×12 = 13.6, day 4 = 0.2×20 + 0.8×13.6 = 14.88."""
    out = running_mean_outdoor_temperature([10.0, 20.0, 20.0, 20.0, 20.0], initial=10.0)
    assert_allclose(out, [10.0, 10.0, 12.0, 13.6, 14.88])
    assert_allclose(running_mean_outdoor_temperature([15.0, 15.0, 15.0]), [15.0, 15.0, 15.0])
    with pytest.raises(ValueError, match="alpha"):
        running_mean_outdoor_temperature([1.0], alpha=1.0)


def test_a_missing_day_carries_the_running_mean():
    """A NaN day neither raises nor lowers the running mean."""
    out = running_mean_outdoor_temperature([10.0, np.nan, 20.0], initial=10.0)
    assert_allclose(out, [10.0, 10.0, 10.0])


@pytest.mark.parametrize(("t", "tmax", "delta"), [(27.25, 26.75, 1.0), (27.2, 26.75, 0.0), (28.25, 26.75, 2.0),
                                                  (26.0, 26.75, -1.0), (28.0, 26.75, 1.0)])
def test_exceedance_rounds_to_whole_kelvin(t, tmax, delta):
    """TM52: ΔT between 0.5 and 1.5 K counts as 1 K."""
    assert exceedance_delta(t, tmax) == delta


def test_tm59_criteria_limits():
    """(a) at most 3 % of occupied hours with ΔT ≥ 1 K; (b) 1 % of 3285 night hours = 32 hours."""
    temps = np.full(100, 25.0)
    temps[:3] = 28.0
    assert tm59_criterion_a(temps, 26.75) == (3, 100, True)
    temps[3] = 28.0
    assert tm59_criterion_a(temps, 26.75) == (4, 100, False)
    nights = np.full(3285, 24.0)
    nights[:32] = 27.0
    assert tm59_criterion_b(nights) == (32, 32, True)
    nights[32] = 26.5
    assert tm59_criterion_b(nights) == (33, 32, False)
    nights[33] = 26.0  # at 26 °C is not above it
    assert tm59_criterion_b(nights)[0] == 33


def test_occupied_hours():
    """TM59 profiles: living rooms 09:00-22:00, bedrooms all day; nights 22:00-07:00."""
    hours = np.arange(24)
    assert occupied_hours_mask(hours, "living_room").sum() == 13
    assert occupied_hours_mask(hours, "bedroom").sum() == 24
    assert occupied_hours_mask(hours, "bedroom", night=True).sum() == 9


def _week(values_by_hour, start="2026-01-05") -> pd.Series:
    index = pd.date_range(start, periods=7 * 24, freq="h", tz="UTC")
    return pd.Series([values_by_hour(ts.hour) for ts in index], index=index)


def test_a_cold_living_room():
    """A living room at 15 °C all day: every occupied hour below 16 °C is a high excess-cold signal."""
    result = assess_room(_week(lambda h: 15.0), "living_room")
    assert result.cold == "high" and result.share_below_respiratory == 1.0 and result.hours_assessed == 7 * 13
    warm = assess_room(_week(lambda h: 20.0), "living_room")
    assert warm.cold == "none"
    # 17 °C in the evening (18:00-22:00 GMT), 19 °C otherwise: 4 of 13 occupied hours below 18 °C (31 %).
    mild = assess_room(_week(lambda h: 17.0 if 18 <= h < 22 else 19.0), "living_room")
    assert mild.cold == "none" and mild.share_below_healthy == pytest.approx(4 / 13)


def test_a_hot_bedroom_fails_tm59_b_and_a():
    """A July bedroom at 28 °C every night and 25 °C by day, outdoor 18 °C: both criteria fail."""
    temps = _week(lambda h: 28.0 if (h >= 21 or h < 6) else 25.0, start="2026-07-06")  # 22:00-07:00 BST
    outdoor = pd.Series(18.0, index=pd.Index(pd.date_range("2026-06-29", "2026-07-13").date))
    result = assess_room(temps, "bedroom", outdoor_daily_mean=outdoor)
    # Tmax = 0.33×18 + 21.8 = 27.74; 28 - 27.74 = 0.26 → ΔT 0, so (a) passes; (b) 63 night hours above 26 °C.
    assert result.tm59_a is not None and result.tm59_a[2] is True
    assert result.tm59_b == (63, 0, False)
    assert result.heat == "medium"
    hotter = assess_room(temps + 1.0, "bedroom", outdoor_daily_mean=outdoor)
    assert hotter.heat == "high"


def test_naive_index_refused():
    """Hour starts must carry a zone (the occupied hours are London hours)."""
    with pytest.raises(ValueError, match="tz-aware"):
        assess_room(pd.Series([1.0], index=pd.DatetimeIndex(["2026-01-01"])), "bedroom")
