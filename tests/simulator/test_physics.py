"""Psychrometrics and the room heat and moisture balances, checked against shared/SCIENCE.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from simulator import physics


@pytest.mark.parametrize(
    ("temp_air", "expected_pa", "rtol"),
    [(20.0, 2339.21, 3e-3), (0.0, 611.2, 1e-12), (35.0, 5629.0, 3e-3)],
)
def test_saturation_vapour_pressure_matches_reference_values(temp_air, expected_pa, rtol):
    """The Magnus form is within 0.3 % of IAPWS-IF97 between 0 and 35 °C."""
    assert_allclose(physics.saturation_vapour_pressure(temp_air), expected_pa, rtol=rtol)


def test_dewpoint_and_absolute_humidity_pin_published_values():
    """20 °C and 50 % give a dew point of 9.255 °C and 8.62 g/m³."""
    assert_allclose(physics.dewpoint(20.0, 50.0), 9.255, atol=1e-3)
    assert_allclose(physics.absolute_humidity(20.0, 50.0), 8.62, atol=5e-3)


def test_psychrometrics_accept_scalars():
    """A float in, a float out."""
    assert isinstance(float(physics.absolute_humidity(20.0, 50.0)), float)
    assert_allclose(physics.saturation_absolute_humidity(20.0), 17.24, atol=0.01)


@pytest.mark.parametrize("container", [np.asarray, pd.Series])
def test_psychrometrics_accept_arrays_and_series_and_pass_nan_through(container):
    """Arrays and Series work element-wise (a Series stays a Series) and NaN stays NaN."""
    result = physics.absolute_humidity(container([20.0, np.nan]), container([50.0, 50.0]))
    assert isinstance(result, pd.Series) == (container is pd.Series)
    values = np.asarray(result)
    assert_allclose(values[0], 8.62, atol=5e-3)
    assert np.isnan(values[1])


@pytest.mark.parametrize("temp_air", [-5.0, 5.0, 20.0, 30.0])
@pytest.mark.parametrize("rh", [10.0, 55.0, 99.0])
def test_absolute_humidity_round_trips_to_relative_humidity(temp_air, rh):
    """RH → vapour density → RH returns the start value."""
    c = physics.absolute_humidity(temp_air, rh)
    assert_allclose(physics.relative_humidity_from_absolute_humidity(temp_air, c), rh, rtol=1e-12)


def test_dewpoint_equal_to_air_temperature_means_saturation():
    """At 100 % the dew point is the air temperature."""
    assert_allclose(physics.dewpoint(np.array([-3.0, 12.0, 25.0]), 100.0), [-3.0, 12.0, 25.0], atol=1e-9)


@pytest.mark.parametrize(("cold", "warm"), [(10.0, 15.0), (15.0, 20.0), (18.0, 22.0)])
def test_rh_falls_when_temperature_rises_at_constant_moisture_content(cold, warm):
    """Warming air without adding moisture lowers its relative humidity."""
    c = physics.absolute_humidity(cold, 70.0)
    assert physics.relative_humidity_from_absolute_humidity(warm, c) < 70.0


def test_surface_temperature_follows_the_temperature_factor():
    """θ_si = θ_e + f (θ_i − θ_e): f = 1 is the room, f = 0 is outdoors."""
    assert_allclose(
        physics.surface_temperature(20.0, 5.0, np.array([0.0, 0.5, 0.75, 1.0])), [5.0, 12.5, 16.25, 20.0]
    )


def test_cold_spot_rh_matches_the_home_assistant_worked_case():
    """20 °C in, 10 °C out, 50 % and f_Rsi 0.5 give a cold-spot RH of 68.5 %."""
    assert_allclose(physics.surface_relative_humidity(20.0, 50.0, 10.0, 0.5), 68.5, atol=0.05)


def test_surface_rh_is_capped_at_100():
    """A surface below the dew point condenses: 100 %, never more."""
    assert physics.surface_relative_humidity(20.0, 90.0, 0.0, 0.3) == 100.0


def _shower(ach_per_h: float, *, volume_m3: float = 10.0, grams: float = 300.0):
    """A bathroom at 20 °C, minute steps, a 10-minute shower at minute 60, then three hours."""
    dt_h = 1.0 / 60.0
    n = 300
    generation = np.zeros(n)
    generation[60:70] = grams / (10 * dt_h)
    supply = physics.absolute_humidity(5.0, 85.0)
    c, rh = physics.simulate_moisture(np.full(n, 20.0), generation, volume_m3, ach_per_h, supply, dt_h)
    return c, rh, supply, dt_h


@pytest.mark.parametrize("ach_per_h", [0.5, 1.0, 6.0])
def test_shower_raises_rh_and_it_decays_at_the_ventilation_rate(ach_per_h):
    """After a shower the excess moisture decays exponentially at the air change rate n."""
    c, rh, supply, dt_h = _shower(ach_per_h)
    assert rh[69] > rh[59] + 20.0
    after = np.arange(75, 300)
    excess = c[after] - supply
    unsaturated = rh[after] < 99.9
    slope = np.polyfit(after[unsaturated] * dt_h, np.log(excess[unsaturated]), 1)[0]
    assert_allclose(-slope, ach_per_h, rtol=1e-6)


def test_failed_fan_bathroom_stays_humid_longer_than_a_working_one():
    """Without its extract fan a bathroom takes far longer to dry out after a shower."""
    _, rh_failed, _, _ = _shower(0.6)
    _, rh_working, _, _ = _shower(0.6 + 5.0)
    assert (rh_failed > 70).sum() > 3 * (rh_working > 70).sum()


def test_condensation_caps_room_rh_at_100():
    """A huge source in a cold, unventilated room saturates it and no further."""
    _, rh, _, _ = _shower(0.1, volume_m3=5.0, grams=3000.0)
    assert rh.max() == pytest.approx(100.0)
    assert (rh <= 100.0 + 1e-9).all()


def test_simulate_moisture_rejects_a_sealed_room():
    """An air change rate of zero has no steady state: a clear ValueError."""
    with pytest.raises(ValueError, match="ach_per_h"):
        physics.simulate_moisture(np.full(3, 20.0), 0.0, 10.0, 0.0, 5.0, 0.1)


@pytest.mark.parametrize(("value", "target", "rate", "dt_h"), [(20.0, 5.0, 0.1, 1.0), (5.0, 20.0, 10.0, 0.5)])
def test_relax_is_the_exact_exponential(value, target, rate, dt_h):
    """One step of relax equals the analytic solution, however long the step."""
    assert_allclose(
        physics.relax(value, target, rate, dt_h), target + (value - target) * np.exp(-rate * dt_h)
    )


@pytest.mark.parametrize(("day_of_year", "low", "high"), [(15, 3.5, 5.0), (197, 16.0, 17.5)])
def test_uk_climatology_has_the_central_england_seasons(day_of_year, low, high):
    """Daily means: about 4-5 °C in mid-January and 16-17 °C in mid-July."""
    daily_mean = physics.uk_climate_temperature(day_of_year, np.arange(24) + 0.5).mean()
    assert low <= daily_mean <= high


def test_outdoor_weather_has_sane_seasonal_and_daily_cycles():
    """A simulated year: cold wet winters, mild summers, a 2-5 K daily half-range, RH within 35-100 %."""
    rng = np.random.default_rng(1)
    hours = np.arange(365 * 24) + 0.5
    temp, rh = physics.uk_outdoor_weather(rng, hours / 24.0 + 1.0, hours % 24, n_sites=3, dt_h=1.0)
    by_day = temp.reshape(3, 365, 24)
    january, july = by_day[:, :31].mean(), by_day[:, 181:212].mean()
    assert 2.0 < january < 7.0
    assert 14.0 < july < 19.0
    half_range = (by_day.max(axis=2) - by_day.min(axis=2)).mean() / 2
    assert 2.0 < half_range < 5.5
    assert 80.0 < rh[:, : 31 * 24].mean() < 92.0
    assert rh.min() >= 35.0 and rh.max() <= 100.0


@pytest.mark.parametrize(("day_of_year", "peak_low", "peak_high"), [(15, 0.9, 1.1), (197, 3.8, 4.1)])
def test_solar_gain_peaks_at_midday_and_is_zero_at_night(day_of_year, peak_low, peak_high):
    """About 1 K of sun at a midwinter noon, 4 K at midsummer, none at midnight."""
    hours = np.arange(0, 24, 0.25)
    gain = physics.solar_gain(day_of_year, hours)
    assert peak_low <= gain.max() <= peak_high
    assert gain[0] == 0.0 and gain.min() >= 0.0
    assert 11.0 <= hours[np.argmax(gain)] <= 14.0
