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
