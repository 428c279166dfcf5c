"""Tests for analytics.psychrometrics: published values, input types, round trips, bounds and errors."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from analytics import psychrometrics
from analytics.constants import MAGNUS_WMO_ICE
from analytics.psychrometrics import (
    absolute_humidity,
    dewpoint,
    dewpoint_from_vapour_pressure,
    humidity_class_limit,
    internal_humidity_class,
    relative_humidity_from_dewpoint,
    rh_for_surface_rh,
    saturation_vapour_pressure,
    surface_relative_humidity,
    surface_temperature,
    temperature_for_surface_rh,
    vapour_pressure,
    vapour_pressure_excess,
)

# --------------------------------------------------------------------------------------------------------
# Published values
# --------------------------------------------------------------------------------------------------------


def test_saturation_vapour_pressure_is_within_magnus_error_of_iapws():
    """e_s(20 °C) lies within 0.3 % of the IAPWS value 2339.21 Pa."""
    assert_allclose(saturation_vapour_pressure(20.0), 2339.21, rtol=3e-3)


@pytest.mark.parametrize(
    ("temp_air", "expected_pa"),
    [
        (0.0, 611.2),  # the Magnus a coefficient
        (20.0, 2332.596),  # 611.2 exp(17.62 * 20 / 263.12)
        (-10.0, 287.03),  # over water, supercooled
    ],
)
def test_saturation_vapour_pressure_follows_wmo_magnus_form(temp_air, expected_pa):
    """e_s follows 611.2 exp(17.62 t / (243.12 + t))."""
    assert_allclose(saturation_vapour_pressure(temp_air), expected_pa, atol=0.05)


def test_saturation_vapour_pressure_over_ice_is_lower_below_zero():
    """Below 0 °C the ice coefficients give a lower saturation pressure than water (WMO-No. 8)."""
    assert saturation_vapour_pressure(-10.0, MAGNUS_WMO_ICE) < saturation_vapour_pressure(-10.0)
    assert_allclose(saturation_vapour_pressure(-10.0, MAGNUS_WMO_ICE), 259.9, atol=0.1)


@pytest.mark.parametrize(
    ("function", "args", "expected", "atol"),
    [
        (dewpoint, (20.0, 50.0), 9.255, 1e-3),
        (absolute_humidity, (20.0, 50.0), 8.62, 5e-3),
        (vapour_pressure, (20.0, 50.0), 1166.298, 1e-3),
        (vapour_pressure, (20.0, 100.0), 2332.596, 1e-3),
        (dewpoint, (20.0, 100.0), 20.0, 1e-12),
        (relative_humidity_from_dewpoint, (20.0, 9.255), 50.0, 1e-3),
        (dewpoint_from_vapour_pressure, (611.2,), 0.0, 1e-12),
    ],
)
def test_pinned_values(function, args, expected, atol):
    """Psychrometric functions reproduce the worked values in SCIENCE.md."""
    assert_allclose(function(*args), expected, atol=atol)


def test_home_assistant_worked_case():
    """20 °C in, 10 °C out, 50 %, f_Rsi 0.5 gives a 15 °C cold spot at 68.5 % (Home Assistant)."""
    cold_spot = surface_temperature(20.0, 10.0, temperature_factor=0.5)
    assert_allclose(cold_spot, 15.0, atol=1e-12)
    assert_allclose(surface_relative_humidity(20.0, 50.0, cold_spot), 68.5, atol=0.05)


def test_surface_temperature_default_factor_is_uk_design_value():
    """The default temperature factor is 0.75 (BRE IP1/06)."""
    assert_allclose(surface_temperature(20.0, 0.0), 15.0, atol=1e-12)


# --------------------------------------------------------------------------------------------------------
# Input types
# --------------------------------------------------------------------------------------------------------

CALLS = {
    "saturation_vapour_pressure": lambda t, rh: saturation_vapour_pressure(t),
    "vapour_pressure": lambda t, rh: vapour_pressure(t, rh),
    "dewpoint": lambda t, rh: dewpoint(t, rh),
    "absolute_humidity": lambda t, rh: absolute_humidity(t, rh),
    "relative_humidity_from_dewpoint": lambda t, rh: relative_humidity_from_dewpoint(t, dewpoint(t, rh)),
    "dewpoint_from_vapour_pressure": lambda t, rh: dewpoint_from_vapour_pressure(vapour_pressure(t, rh)),
    "surface_temperature": lambda t, rh: surface_temperature(t, 5.0),
    "surface_relative_humidity": lambda t, rh: surface_relative_humidity(t, rh, surface_temperature(t, 5.0)),
    "rh_for_surface_rh": lambda t, rh: rh_for_surface_rh(t, 5.0),
    "temperature_for_surface_rh": lambda t, rh: temperature_for_surface_rh(t, rh, 5.0),
    "vapour_pressure_excess": lambda t, rh: vapour_pressure_excess(t, rh, 5.0, 85.0),
    "internal_humidity_class": lambda t, rh: internal_humidity_class(t, rh, 5.0, 85.0),
    "humidity_class_limit": lambda t, rh: humidity_class_limit(np.subtract(t, 15.0), 3),
}
TEMPS = [18.0, 20.0, 22.5]
RHS = [45.0, 60.0, 75.0]


@pytest.mark.parametrize("name", sorted(CALLS))
def test_float_input_gives_a_float(name):
    """A float in gives a float out."""
    result = CALLS[name](TEMPS[1], RHS[1])
    assert isinstance(result, float)
    assert np.ndim(result) == 0


@pytest.mark.parametrize("name", sorted(CALLS))
def test_list_and_array_inputs_give_the_elementwise_values(name):
    """Lists and arrays give arrays equal to the values computed one float at a time."""
    expected = np.array([CALLS[name](t, rh) for t, rh in zip(TEMPS, RHS, strict=True)])
    from_list = CALLS[name](list(TEMPS), list(RHS))
    from_array = CALLS[name](np.array(TEMPS), np.array(RHS))
    assert isinstance(from_array, np.ndarray)
    assert_allclose(from_list, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(from_array, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_series_input_keeps_its_index(name):
    """A Series in gives a Series out, with the same index and values."""
    index = pd.date_range("2025-01-06", periods=3, freq="h", tz="Europe/London")
    result = CALLS[name](pd.Series(TEMPS, index=index), pd.Series(RHS, index=index))
    assert isinstance(result, pd.Series)
    pd.testing.assert_index_equal(result.index, index)
    assert_allclose(result.to_numpy(), CALLS[name](np.array(TEMPS), np.array(RHS)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_nan_propagates(name):
    """A missing reading gives NaN for that element only."""
    result = CALLS[name](np.array([20.0, np.nan, 21.0]), np.array([50.0, 55.0, np.nan]))
    assert np.isnan(result[1])
    assert np.isfinite(result[0])


def test_scalar_broadcasts_against_an_array():
    """A single outdoor temperature applies to every room reading."""
    assert_allclose(surface_temperature(np.array([18.0, 22.0]), 2.0, 0.5), [10.0, 12.0], atol=1e-12)


# --------------------------------------------------------------------------------------------------------
# Round trips and bounds
# --------------------------------------------------------------------------------------------------------


def test_dewpoint_relative_humidity_round_trip():
    """dew point → RH → dew point returns the starting values."""
    temp, rh = np.meshgrid(np.linspace(-20.0, 40.0, 13), np.linspace(5.0, 100.0, 20))
    dew = dewpoint(temp, rh)
    assert_allclose(relative_humidity_from_dewpoint(temp, dew), rh, rtol=1e-10)
    assert_allclose(dewpoint(temp, relative_humidity_from_dewpoint(temp, dew)), dew, atol=1e-9)


def test_dewpoint_equals_dewpoint_of_vapour_pressure():
    """The dew point from RH equals the dew point of the vapour pressure."""
    temp, rh = np.array([-5.0, 12.0, 30.0]), np.array([90.0, 65.0, 30.0])
    assert_allclose(dewpoint_from_vapour_pressure(vapour_pressure(temp, rh)), dewpoint(temp, rh), atol=1e-9)


def test_dewpoint_equal_to_air_temperature_means_saturation():
    """A dew point equal to the air temperature means 100 % RH."""
    temp = np.linspace(-20.0, 45.0, 14)
    assert_allclose(relative_humidity_from_dewpoint(temp, temp), 100.0, atol=1e-12)


def test_dewpoint_is_nan_for_zero_humidity():
    """Air with no water vapour has no dew point."""
    assert np.isnan(dewpoint(20.0, 0.0))
    assert np.isnan(dewpoint_from_vapour_pressure(0.0))


@pytest.mark.parametrize(
    ("temp_surface", "expected"),
    [
        (20.0, 60.0),  # surface at room temperature: room RH
        (11.0, 100.0),  # below the 12.0 °C dew point: capped at condensation
        (-10.0, 100.0),
        (25.0, 44.3),  # a warm surface is drier
    ],
)
def test_surface_relative_humidity_bounds(temp_surface, expected):
    """Surface RH equals room RH at room temperature, is capped at 100 and falls on warm surfaces."""
    assert_allclose(surface_relative_humidity(20.0, 60.0, temp_surface), expected, atol=0.05)


def test_surface_at_dewpoint_is_saturated():
    """A surface exactly at the room's dew point is at 100 %."""
    assert_allclose(surface_relative_humidity(20.0, 50.0, dewpoint(20.0, 50.0)), 100.0, atol=1e-9)


@pytest.mark.parametrize(("factor", "expected"), [(0.0, 4.0), (0.5, 12.0), (1.0, 20.0)])
def test_surface_temperature_spans_outdoor_to_indoor(factor, expected):
    """f_Rsi = 0 puts the surface at the outdoor temperature and 1 at the room temperature."""
    assert_allclose(surface_temperature(20.0, 4.0, factor), expected, atol=1e-12)


@pytest.mark.parametrize("factor", [0.5, 0.6, 0.75, 0.9])
@pytest.mark.parametrize("limit", [70.0, 80.0, 100.0])
def test_rh_for_surface_rh_puts_the_cold_spot_at_the_limit(factor, limit):
    """Running the room at the returned RH gives exactly the limit at the cold spot."""
    temp_in, temp_out = np.array([16.0, 19.0, 22.0]), np.array([-3.0, 5.0, 10.0])
    room_rh = rh_for_surface_rh(temp_in, temp_out, factor, limit)
    cold_spot = surface_temperature(temp_in, temp_out, factor)
    assert_allclose(surface_relative_humidity(temp_in, room_rh, cold_spot), limit, rtol=1e-10)


@pytest.mark.parametrize("factor", [0.5, 0.6, 0.75, 1.0])
def test_temperature_for_surface_rh_puts_the_cold_spot_at_the_limit(factor):
    """Heating the room to the returned temperature, same moisture, gives the limit at the cold spot."""
    temp_in, rh_in, temp_out = np.array([15.0, 17.0, 19.0]), np.array([80.0, 70.0, 62.0]), 4.0
    target = temperature_for_surface_rh(temp_in, rh_in, temp_out, factor)
    rh_at_target = 100.0 * vapour_pressure(temp_in, rh_in) / saturation_vapour_pressure(target)
    cold_spot = surface_temperature(target, temp_out, factor)
    assert_allclose(surface_relative_humidity(target, rh_at_target, cold_spot), 80.0, rtol=1e-10)


def test_inverse_helpers_answer_the_bathroom_question():
    """A 17 °C bathroom at 72 % needs under 66 % RH, or about 18.8 °C, to keep an f 0.75 wall under 80 %."""
    assert_allclose(rh_for_surface_rh(17.0, 5.0), 66.01, atol=0.01)
    assert_allclose(temperature_for_surface_rh(17.0, 72.0, 5.0), 18.80, atol=0.01)
    assert surface_relative_humidity(17.0, 72.0, surface_temperature(17.0, 5.0)) > 80.0


def test_rh_for_surface_rh_is_capped_when_the_surface_is_warmer():
    """A room colder than outdoors never reaches the limit at its walls: capped at 100 %."""
    assert_allclose(rh_for_surface_rh(15.0, 25.0, 0.5), 100.0, atol=1e-12)


# --------------------------------------------------------------------------------------------------------
# Internal humidity classes
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temp_out", "humidity_class", "expected_pa"),
    [
        (-5.0, 1, 270.0),
        (0.0, 5, 1350.0),
        (10.0, 2, 270.0),
        (15.0, 4, 270.0),
        (20.0, 3, 0.0),
        (25.0, 3, 0.0),
    ],
)
def test_humidity_class_limit_falls_linearly_to_zero_at_20c(temp_out, humidity_class, expected_pa):
    """Class limits are 270-1350 Pa at 0 °C and below, falling linearly to 0 at 20 °C (ISO 13788)."""
    assert_allclose(humidity_class_limit(temp_out, humidity_class), expected_pa, atol=1e-9)


@pytest.mark.parametrize(
    ("excess_pa", "temp_out", "expected_class"),
    [
        (100.0, 0.0, 1.0),
        (270.0, 0.0, 1.0),  # on the limit: still in the class
        (271.0, 0.0, 2.0),
        (600.0, -3.0, 3.0),
        (900.0, 0.0, 4.0),
        (1100.0, 0.0, 5.0),
        (3000.0, 0.0, 5.0),  # above class 5 is still reported as 5
        (300.0, 10.0, 3.0),  # limits halved at 10 °C: 135, 270, 405
        (-50.0, 5.0, 1.0),  # drier inside than out
    ],
)
def test_internal_humidity_class_thresholds(excess_pa, temp_out, expected_class):
    """The class is the lowest one whose limit the vapour pressure excess does not exceed."""
    rh_out = 80.0
    temp_in = 20.0
    e_in = vapour_pressure(temp_out, rh_out) + excess_pa
    rh_in = 100.0 * e_in / saturation_vapour_pressure(temp_in)
    assert_allclose(vapour_pressure_excess(temp_in, rh_in, temp_out, rh_out), excess_pa, atol=1e-9)
    assert internal_humidity_class(temp_in, rh_in, temp_out, rh_out) == expected_class


def test_internal_humidity_class_undefined_in_warm_weather():
    """At 20 °C outdoors and above every limit is zero, so the class is NaN."""
    result = internal_humidity_class(np.array([21.0, 24.0]), 60.0, np.array([20.0, 23.0]), 60.0)
    assert np.isnan(result).all()


# --------------------------------------------------------------------------------------------------------
# Bad arguments
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: surface_temperature(20.0, 5.0, temperature_factor=1.2), "temperature_factor"),
        (lambda: surface_temperature(20.0, 5.0, temperature_factor=-0.1), "temperature_factor"),
        (lambda: surface_temperature(20.0, 5.0, temperature_factor=[0.5, 1.5]), "temperature_factor"),
        (lambda: temperature_for_surface_rh(20.0, 60.0, 5.0, temperature_factor=0.0), "temperature_factor"),
        (lambda: rh_for_surface_rh(20.0, 5.0, surface_rh_limit=0.0), "surface_rh_limit"),
        (lambda: rh_for_surface_rh(20.0, 5.0, surface_rh_limit=120.0), "surface_rh_limit"),
        (lambda: dewpoint([20.0, 21.0, 22.0], [50.0, 60.0]), "same length"),
        (lambda: surface_relative_humidity(np.ones(3), np.ones(3), np.ones(4)), "same length"),
        (lambda: dewpoint(pd.Series([20.0, 21.0]), np.array([50.0, 60.0, 70.0])), "same length"),
        (lambda: dewpoint("warm", 50.0), "temp_air"),
        (lambda: saturation_vapour_pressure(20.0, coefficients=(611.2, 17.62)), "coefficients"),
        (lambda: saturation_vapour_pressure(20.0, coefficients=(611.2, -17.62, 243.12)), "positive"),
        (lambda: absolute_humidity(20.0, 50.0, gas_constant=0.0), "gas_constant"),
        (lambda: humidity_class_limit(0.0, 6), "humidity_class"),
        (lambda: humidity_class_limit(0.0, 0), "humidity_class"),
        (lambda: humidity_class_limit(0.0, True), "humidity_class"),
        (lambda: humidity_class_limit(0.0, 2, excess_at_0c=(540.0, 270.0)), "increasing"),
        (lambda: humidity_class_limit(0.0, 1, zero_excess_temperature=-5.0), "zero_excess_temperature"),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    """Bad arguments raise ValueError naming what to fix."""
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_run():
    """The Examples sections of the module's docstrings give the values they show."""
    result = doctest.testmod(psychrometrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0
