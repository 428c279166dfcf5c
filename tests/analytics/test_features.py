"""Tests for analytics.features: day summaries of hourly room conditions and the 14-day window."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analytics.features import (
    CONTEXT_HOURS,
    DAY_FIELDS,
    FEATURE_NAMES,
    HourlyConditions,
    summarise_days,
    window_features,
)
from analytics.mould import mould_index_2d
from analytics.psychrometrics import surface_relative_humidity, surface_temperature

F = {name: i for i, name in enumerate(DAY_FIELDS)}


def conditions(temp, rh, rh_max=None, temp_out=5.0, rh_out=85.0, context=0, measured=True) -> HourlyConditions:
    """HourlyConditions from arrays (or constants broadcast to the shape of ``temp``)."""
    temp = np.asarray(temp, dtype=float)
    shape = temp.shape

    def full(value):
        return np.broadcast_to(np.asarray(value, dtype=float), shape).copy()

    rh = full(rh)
    return HourlyConditions(temp, rh, rh if rh_max is None else full(rh_max), full(temp_out), full(rh_out),
                            np.broadcast_to(measured, shape).copy(), context)


def random_conditions(rng, rooms: int, days: int, context: int = CONTEXT_HOURS) -> HourlyConditions:
    """Varied hourly conditions with gaps, damp spells and shower peaks."""
    hours = days * 24 + context
    temp = rng.uniform(12, 22, (rooms, 1)) + rng.normal(0, 1.5, (rooms, hours))
    rh = np.clip(rng.uniform(50, 85, (rooms, 1)) + rng.normal(0, 6, (rooms, hours)), 5, 100)
    peaks = rng.random((rooms, hours)) < 0.05
    rh_max = np.clip(rh + np.where(peaks, rng.uniform(10, 30, (rooms, hours)), rng.uniform(0, 2, (rooms, hours))), 0, 100)
    rh = np.where(np.roll(peaks, 1, axis=1), np.minimum(rh + 8, 100), rh)
    temp[rng.random((rooms, hours)) < 0.03] = np.nan
    t_out = 4 + 3 * np.sin(np.arange(hours) * 2 * np.pi / 24) + rng.normal(0, 1, (rooms, hours))
    return HourlyConditions(temp, rh, rh_max, t_out, np.full((rooms, hours), 88.0), np.ones((rooms, hours), bool),
                            context)


@pytest.mark.parametrize("factor", [0.5, 0.75, 0.9])
def test_constant_conditions_give_the_cold_spot_of_the_physics(factor):
    """A steady room summarises to 24 hours a day at the cold spot that psychrometrics computes."""
    days, _, _ = summarise_days(conditions(np.full((1, 48), 20.0), 60.0), factor)
    surface_t = surface_temperature(20.0, 5.0, factor)
    surface_rh = surface_relative_humidity(20.0, 60.0, surface_t)
    assert days.shape == (1, 2, len(DAY_FIELDS))
    assert_array_equal(days[0, :, F["hours_data"]], [24, 24])
    # Single precision: about seven significant digits.
    assert_allclose(days[0, :, F["sum_surface_temperature_c"]] / 24, surface_t, rtol=1e-6)
    assert_allclose(days[0, :, F["sum_surface_rh_pct"]] / 24, surface_rh, rtol=1e-6)
    assert_array_equal(days[0, :, F["hours_surface_rh_over_80"]], [24, 24] if surface_rh > 80 else [0, 0])


def test_mould_index_in_day_rows_matches_the_vtt_model(rng):
    """End-of-day and daily maximum indices equal the VTT model run over the whole record."""
    cond = random_conditions(rng, rooms=5, days=6, context=0)
    factor = np.array([0.5, 0.6, 0.7, 0.75, 0.9])
    days, index, dry = summarise_days(cond, factor)
    surface_t = cond.outdoor_temperature_c + factor[:, None] * (cond.temperature_c - cond.outdoor_temperature_c)
    surface_rh = surface_relative_humidity(cond.temperature_c, cond.humidity_pct, surface_t)
    expected, expected_index, expected_dry = mould_index_2d(surface_t, surface_rh)
    # The cold spot is computed in single precision; the index follows to well within 1e-4.
    assert_allclose(days[:, :, F["mould_index_end"]], expected[:, 23::24], atol=1e-4)
    assert_allclose(days[:, :, F["mould_index_max"]], expected.reshape(5, 6, 24).max(axis=2), atol=1e-4)
    assert_allclose(index, expected_index, atol=1e-4)
    assert_array_equal(dry, expected_dry)


def test_summarising_in_two_runs_equals_one_run(rng):
    """Days 1-5 then 6-9 from the returned state (with 3 hours of context) give the rows of days 1-9."""
    cond = random_conditions(rng, rooms=6, days=9)
    wet = np.array([True, True, False, True, False, True])
    whole, index, dry = summarise_days(cond, 0.7, wet)
    split = CONTEXT_HOURS + 5 * 24  # not on a block boundary of summarise_days

    def part(start, stop):
        return HourlyConditions(*(np.asarray(getattr(cond, name))[:, start:stop] for name in (
            "temperature_c", "humidity_pct", "humidity_max_pct", "outdoor_temperature_c", "outdoor_humidity_pct",
            "outdoor_measured")), context_hours=CONTEXT_HOURS)

    first, index1, dry1 = summarise_days(part(0, split), 0.7, wet)
    second, index2, dry2 = summarise_days(part(split - CONTEXT_HOURS, None), 0.7, wet, index1, dry1)
    assert_array_equal(np.concatenate([first, second], axis=1), whole)
    assert_array_equal(index2, index)
    assert_array_equal(dry2, dry)


def test_missing_hours_are_not_counted_and_hold_the_index():
    """NaN hours add nothing to counts and sums; the last hour with data is recorded."""
    temp = np.full((1, 24), 20.0)
    temp[0, 10:] = np.nan
    days, _, _ = summarise_days(conditions(temp, 95.0), 0.75)
    row = days[0, 0]
    assert row[F["hours_data"]] == 10
    assert row[F["last_data_hour"]] == 9
    assert row[F["hours_surface_rh_over_80"]] == 10
    assert row[F["mould_index_end"]] == row[F["mould_index_max"]] > 0


def test_a_day_without_data_has_no_last_hour_and_no_minimum():
    """A silent day has NaN for its last data hour and lowest vapour pressure excess."""
    days, _, _ = summarise_days(conditions(np.full((1, 24), np.nan), np.nan), 0.75)
    assert np.isnan(days[0, 0, F["last_data_hour"]])
    assert np.isnan(days[0, 0, F["min_vapour_pressure_excess_pa"]])
    assert days[0, 0, F["hours_data"]] == 0


@pytest.mark.parametrize(
    ("after", "remaining"),
    [(52.0, 0.1), (60.0, 0.5), (70.0, 1.0), (40.0, 0.0)],
)
def test_a_shower_peak_measures_how_much_moisture_remains_two_hours_later(after, remaining):
    """Baseline 50 %, a peak reading of 70 %: the mean two hours on gives the share of the rise left."""
    rh = np.full((1, 48), 50.0)
    rh_max = rh.copy()
    rh[0, 20], rh_max[0, 20] = 58.0, 70.0  # the peak hour
    rh[0, 21] = rh_max[0, 21] = 55.0
    rh[0, 22] = rh_max[0, 22] = after
    days, _, _ = summarise_days(conditions(np.full((1, 48), 20.0), rh, rh_max), 0.75, np.array([True]))
    assert days[0, 0, F["ventilation_events"]] == 1
    assert_allclose(days[0, 0, F["ventilation_remaining_sum"]], remaining)


def test_an_evening_shower_counts_on_the_day_its_decay_ends():
    """A peak at 23:00 is complete at 01:00 and counted the next day; the context hours feed it."""
    rh = np.full((1, CONTEXT_HOURS + 24), 50.0)
    rh_max = rh.copy()
    rh[0, 1], rh_max[0, 1] = 60.0, 75.0  # 22:00 the evening before, inside the context
    rh[0, 2] = rh_max[0, 2] = 58.0
    rh[0, 3] = rh_max[0, 3] = 55.0  # 00:00 of the summarised day: two hours after the peak
    cond = conditions(np.full(rh.shape, 20.0), rh, rh_max, context=CONTEXT_HOURS)
    days, _, _ = summarise_days(cond, 0.75, np.array([True]))
    assert days.shape[1] == 1
    assert days[0, 0, F["ventilation_events"]] == 1
    assert_allclose(days[0, 0, F["ventilation_remaining_sum"]], 5 / 25)


def test_rooms_that_are_not_wet_get_no_moisture_events():
    """Events are looked for only in bathrooms and kitchens."""
    rh = np.full((1, 48), 50.0)
    rh_max = rh.copy()
    rh_max[0, 20], rh[0, 20] = 80.0, 60.0
    days, _, _ = summarise_days(conditions(np.full((1, 48), 20.0), rh, rh_max), 0.75, np.array([False]))
    assert days[0, :, F["ventilation_events"]].sum() == 0


def test_window_features_count_a_week_offline_as_half_coverage():
    """Fourteen days of which the last seven are silent: coverage 0.5, silent for 168 hours."""
    temp = np.full((1, 14 * 24), 19.0)
    temp[0, 7 * 24:] = np.nan
    days, _, _ = summarise_days(conditions(temp, 55.0), 0.75)
    features = window_features(days, 24)
    assert features["coverage"][0] == pytest.approx(0.5)
    assert features["hours_since_data"][0] == 7 * 24
    assert features["mean_temperature_c"][0] == pytest.approx(19.0)
    assert set(features.values) == set(FEATURE_NAMES)


def test_window_features_of_a_partial_last_day():
    """A window ending at 06:00 counts 13 days and 6 hours as possible."""
    days, _, _ = summarise_days(conditions(np.full((1, 13 * 24 + 6), 19.0), 55.0), 0.75)
    features = window_features(days, 6)
    assert features["coverage"][0] == pytest.approx(1.0)
    assert features["hours_since_data"][0] == 0


def test_humidity_class_of_a_humid_home_is_high():
    """A warm room at 70 % against 5 °C, 85 % outside is in class 5; a drier one in class 2."""
    days, _, _ = summarise_days(conditions(np.full((2, 24), 20.0), np.array([[70.0] * 24, [45.0] * 24])), 0.75)
    features = window_features(days, 24)
    assert_array_equal(features["humidity_class"], [5.0, 2.0])


def test_mould_trend_is_the_rise_over_the_window():
    """The trend is the index now less the index at the window's start."""
    days, _, _ = summarise_days(conditions(np.full((1, 14 * 24), 20.0), 95.0), 0.9)
    features = window_features(days, 24)
    assert features["mould_index_trend"][0] == pytest.approx(features["mould_index"][0])
    assert features["mould_index_max"][0] == pytest.approx(features["mould_index"][0])
    assert features["days_surface_rh_over_80"][0] == 14


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature_factor": 1.5}, "temperature_factor"),
        ({"temperature_factor": 0.0}, "temperature_factor"),
        ({"wet_room": np.array([True, False])}, "wet_room"),
    ],
)
def test_summarise_days_rejects_bad_arguments(kwargs, message):
    """Out-of-range factors and mis-shaped room flags raise ValueError naming the argument."""
    with pytest.raises(ValueError, match=message):
        summarise_days(conditions(np.full((1, 24), 20.0), 50.0), **kwargs)


def test_hourly_conditions_reject_mismatched_shapes():
    """Every array of HourlyConditions must have the shape of the temperatures."""
    with pytest.raises(ValueError, match="humidity_pct"):
        HourlyConditions(np.zeros((2, 24)), np.zeros((2, 23)), np.zeros((2, 24)), np.zeros((2, 24)),
                         np.zeros((2, 24)), np.ones((2, 24), bool))


def test_window_features_rejects_rows_of_another_shape():
    """Day rows must carry every field of DAY_FIELDS."""
    with pytest.raises(ValueError, match=r"summarise_days"):
        window_features(np.zeros((1, 14, 3)), 24)
