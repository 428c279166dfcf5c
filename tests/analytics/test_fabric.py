"""The archetype prior of the temperature factor: RdSAP U-values through f_Rsi = 1 - R_si U."""

from __future__ import annotations

import math

import pytest

from analytics.fabric import temperature_factor_prior, wall_u_value


@pytest.mark.parametrize(
    ("wall", "year", "floor", "expected"),
    [
        # Solid brick, U 2.1 (RdSAP): 1 - 0.13 x 2.1 = 0.727, a first-floor flat.
        ("solid_brick", 1905, 1, 0.727),
        # The same on the ground floor loses 0.02 where the wall meets the floor.
        ("solid_brick", 1905, 0, 0.707),
        # A house (no floor level) is taken to have ground-floor rooms.
        ("solid_brick", 1925, None, 0.707),
        # 1960s system-built, U 2.0: 0.74.
        ("system_built", 1968, 4, 0.74),
        # Unfilled cavity of 1965, U 1.6: 0.792.
        ("cavity_unfilled", 1965, 2, 0.792),
        # Filled cavity, U 0.5: 0.935 on the plain wall, but the junction is capped at 0.80.
        ("cavity_filled", 1985, 3, 0.80),
        # Unknown wall: no prior (the design value 0.75 is used instead, and the reasons say so).
        ("straw_bale", 2001, 1, math.nan),
        (None, None, None, math.nan),
    ],
)
def test_prior_from_published_u_values(wall, year, floor, expected):
    """Hand-computed from RdSAP U-values and R_si = 0.13 m²K/W (BS EN ISO 6946)."""
    result = temperature_factor_prior(wall, year, floor)
    if math.isnan(expected):
        assert math.isnan(result)
    else:
        assert result == pytest.approx(expected, abs=1e-9)


def test_u_values_fall_with_build_year_for_cavity_walls():
    """Building regulations tightened: an unfilled cavity of 1995 loses less heat than one of 1965."""
    assert wall_u_value("cavity_unfilled", 1965) == 1.6
    assert wall_u_value("cavity_unfilled", 1995) == 0.45
    assert wall_u_value("cavity_unfilled", None) == 1.6  # unknown year: the cautious, oldest band
    assert wall_u_value("Solid_Brick ", 1900) == 2.1


def test_heat_loss_index_is_newtons_cooling_rate():
    """A room cooling as T_out + 15 K x exp(-0.1 h) for 8 hours a night: each hour loses 1 - exp(-0.1) = 0.0952
    of the indoor-outdoor difference; reheated for the rest of the day, which does not count."""
    import numpy as np

    from analytics.features import HourlyConditions, summarise_days, window_features

    days, out_c = 14, 5.0
    temp = np.empty(days * 24)
    for day in range(days):
        hours = np.arange(24)
        cooling = out_c + 15.0 * np.exp(-0.1 * np.arange(9))  # hours 0-8: heating off from midnight
        temp[day * 24: day * 24 + 9] = cooling
        temp[day * 24 + 9: (day + 1) * 24] = 20.0 + 0.0 * hours[9:]
    conditions = HourlyConditions(temp[None, :], np.full((1, temp.size), 50.0), np.full((1, temp.size), 50.0),
                                  np.full((1, temp.size), out_c), np.full((1, temp.size), 80.0),
                                  np.ones((1, temp.size), bool))
    rows, _, _ = summarise_days(conditions, 0.75)
    features = window_features(rows, 24)
    # 8 cooling hours a night (hours 1-8; the first night's hour 0 has no hour before it), and the drop at
    # 09:00 is a rise, so it does not count. The fall from 20 °C to 20 °C at midnight is no fall either.
    assert features["cooling_hours"][0] == 14 * 8
    assert features["heat_loss_index_per_h"][0] == pytest.approx(1 - math.exp(-0.1), abs=1e-6)


def test_a_room_cooling_faster_than_its_home_gets_a_lower_factor():
    """Ratio 1.5 with half the loss through the walls: 1 - f doubles, 0.75 -> 0.5; small ratios change nothing."""
    import numpy as np

    from analytics.fabric import heat_loss_ratio, refined_temperature_factor

    ratio = heat_loss_ratio(np.array([0.08, 0.08, 0.12, 0.2, np.nan]), np.array([0, 0, 0, 1, 1]), 2)
    np.testing.assert_allclose(ratio[:3], [1.0, 1.0, 1.5])
    assert np.isnan(ratio[3:]).all()  # one room with an index: nothing to compare it with
    refined = refined_temperature_factor(np.array([0.75, 0.75, 0.75, 0.8]), np.array([1.0, 1.2, 1.5, 3.0]))
    np.testing.assert_allclose(refined, [0.75, 0.75, 0.5, 0.35])  # 0.8 at ratio 3 would be -0.0: floored
