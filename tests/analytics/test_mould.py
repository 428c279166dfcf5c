"""Tests for analytics.mould: the VTT model's published values and its hourly convention."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analytics import mould
from analytics.constants import VTTSensitivity
from analytics.mould import (
    MouldState,
    critical_relative_humidity,
    maximum_mould_index,
    mould_growth_rate,
    mould_index,
    mould_index_2d,
    mould_index_step,
)

SENSITIVITIES = ["very_sensitive", "sensitive", "medium_resistant", "resistant"]

# k1 (M < 1), k1 (M ≥ 1), A, B, C, RH_min, typed in from the table in SCIENCE.md (Ojanen et al. 2010)
SCIENCE_TABLE = {
    "very_sensitive": (1.0, 2.0, 1.0, 7.0, 2.0, 80.0),
    "sensitive": (0.578, 0.386, 0.3, 6.0, 1.0, 80.0),
    "medium_resistant": (0.072, 0.097, 0.0, 5.0, 1.5, 85.0),
    "resistant": (0.033, 0.014, 0.0, 3.0, 1.0, 85.0),
}

FIRST_PHASE = -0.032 / 24  # per hour, dry-spell hours 1 to 6
LAST_PHASE = -0.016 / 24  # per hour, dry-spell hour 25 on


def reference_mould_index(temp, rh, sensitivity, decline_coefficient=1.0, index=0.0, dry_hours=0):
    """The hourly VTT recurrence written out one hour at a time from SCIENCE.md, in plain Python."""
    k1_low, k1_high, a, b, c, rh_min = SCIENCE_TABLE[sensitivity]
    out = []
    for t, phi in zip(temp, rh, strict=True):
        if math.isnan(t) or math.isnan(phi):
            out.append(index)
            continue
        rh_crit = max(-0.00267 * t**3 + 0.160 * t**2 - 3.13 * t + 100, rh_min) if t >= 0 else math.inf
        if 0 < t < 50 and phi >= rh_crit:
            x = (rh_crit - phi) / (rh_crit - 100)
            m_max = max(a + b * x - c * x**2, 0.0)
            k1 = k1_low if index < 1 else k1_high
            k2 = max(1 - math.exp(2.3 * (index - m_max)), 0.0)
            per_day = k1 * k2 / (7 * math.exp(-0.68 * math.log(t) - 13.9 * math.log(phi) + 66.02))
            dry_hours = 0
        else:
            dry_hours += 1
            per_day = (-0.032 if dry_hours <= 6 else 0.0 if dry_hours <= 24 else -0.016) * decline_coefficient
        index = max(0.0, index + per_day / 24)
        out.append(index)
    return np.array(out), index, dry_hours


# --------------------------------------------------------------------------------------------------------
# Published values
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temp_air", "sensitivity", "expected"),
    [
        (20.0, "sensitive", 80.04),
        (5.0, "sensitive", 88.02),
        (5.0, "very_sensitive", 88.02),
        (18.0, "sensitive", 80.0),  # the polynomial dips to 79.93: RH_min takes over
        (30.0, "sensitive", 80.0),
        (20.0, "medium_resistant", 85.0),
        (5.0, "resistant", 88.02),
    ],
)
def test_critical_relative_humidity(temp_air, sensitivity, expected):
    """RH_crit(20 °C) = 80.04 %, RH_crit(5 °C) = 88.02 %, floored at the class's RH_min."""
    assert_allclose(critical_relative_humidity(temp_air, sensitivity), expected, atol=5e-3)


@pytest.mark.parametrize("temp_air", [-5.0, 0.0, 50.0, 60.0, np.nan])
def test_critical_relative_humidity_undefined_where_growth_is_impossible(temp_air):
    """At or below 0 °C, at or above 50 °C and for missing data RH_crit is NaN."""
    assert np.isnan(critical_relative_humidity(temp_air))


def test_growth_rate_check_value():
    """dM/dt at 20 °C, 90 %, M = 0 on a very sensitive material is 0.03399 per day."""
    assert_allclose(mould_growth_rate(20.0, 90.0, 0.0, "very_sensitive"), 0.03399, atol=5e-6)


def test_one_hour_adds_one_twenty_fourth_of_the_daily_rate():
    """One favourable hour adds dM/dt / 24 (0.03399 / 24 at the check point)."""
    index = mould_index([20.0], [90.0], "very_sensitive")
    assert_allclose(index[0], mould_growth_rate(20.0, 90.0, 0.0, "very_sensitive") / 24, rtol=1e-12)
    assert_allclose(index[0], 0.03399 / 24, rtol=2e-4)


@pytest.mark.parametrize(
    ("sensitivity", "expected"),
    [("very_sensitive", 6.0), ("sensitive", 5.3), ("medium_resistant", 3.5), ("resistant", 2.0)],
)
def test_maximum_mould_index_at_saturation(sensitivity, expected):
    """At 100 % M_max is A + B - C for each class."""
    assert_allclose(maximum_mould_index(20.0, 100.0, sensitivity), expected, atol=1e-12)


def test_maximum_mould_index_undefined_when_unfavourable():
    """M_max is NaN below RH_crit, where the model does not use it."""
    assert np.isnan(maximum_mould_index(20.0, 70.0))


def test_growth_rate_is_zero_when_unfavourable_and_nan_when_missing():
    """No growth below RH_crit or outside 0-50 °C; NaN for a missing reading."""
    rate = mould_growth_rate(
        np.array([20.0, -2.0, 55.0, np.nan, 20.0]), np.array([70.0, 99.0, 99.0, 95.0, 95.0])
    )
    assert_array_equal(rate[:3], [0.0, 0.0, 0.0])
    assert np.isnan(rate[3])
    assert rate[4] > 0


# --------------------------------------------------------------------------------------------------------
# The hourly convention
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sensitivity", SENSITIVITIES)
@pytest.mark.parametrize("decline_coefficient", [1.0, 0.25])
def test_matches_reference_recurrence(surface_climate, sensitivity, decline_coefficient):
    """The index equals the hour-by-hour recurrence of SCIENCE.md written out in plain Python."""
    temp, rh = surface_climate
    expected, _, _ = reference_mould_index(temp, rh, sensitivity, decline_coefficient)
    assert_allclose(mould_index(temp, rh, sensitivity, decline_coefficient), expected, rtol=0, atol=1e-9)


def test_reference_climate_exercises_the_model(surface_climate):
    """The test climate grows mould past M = 1 on one material and back to 0 after growth on another."""
    index = mould_index(*surface_climate, sensitivity="very_sensitive")
    assert index.max() > 1.0
    assert (np.diff(index) < 0).any()
    index = mould_index(*surface_climate, sensitivity="sensitive")
    assert (index[np.argmax(index > 0) :] == 0.0).any()


@pytest.mark.parametrize(
    ("temp_air", "relative_humidity"),
    [
        (20.0, 80.03),  # just below RH_crit(20 °C) = 80.04
        (5.0, 88.0),  # just below RH_crit(5 °C) = 88.02
        (0.0, 100.0),  # too cold
        (-3.0, 100.0),
        (50.0, 100.0),  # too hot
    ],
)
def test_no_growth_when_unfavourable(temp_air, relative_humidity):
    """Below RH_crit, at or below 0 °C and at or above 50 °C the index never grows."""
    index = mould_index(np.full(2000, temp_air), np.full(2000, relative_humidity), "very_sensitive")
    assert_array_equal(index, np.zeros(2000))


def test_growth_starts_exactly_at_rh_crit():
    """RH equal to RH_crit is favourable (the condition is RH ≥ RH_crit)."""
    index = mould_index([18.0], [80.0], "very_sensitive")  # RH_crit(18 °C) = RH_min = 80 exactly
    assert index[0] > 0.0


@pytest.mark.parametrize("decline_coefficient", [1.0, 0.5, 0.25, 0.1])
def test_decline_phases_have_exact_hourly_amounts(decline_coefficient):
    """Dry hours 1-6 take 0.032/24, hours 7-24 nothing and hour 25 on 0.016/24, times C_mat."""
    index = mould_index(
        np.full(40, 20.0), np.full(40, 50.0), decline_coefficient=decline_coefficient, initial_index=2.0
    )
    steps = np.diff(np.concatenate([[2.0], index]))
    expected = (
        np.concatenate([np.full(6, FIRST_PHASE), np.zeros(18), np.full(16, LAST_PHASE)]) * decline_coefficient
    )
    assert_allclose(steps, expected, rtol=0, atol=1e-15)


def test_zero_decline_coefficient_keeps_the_index():
    """With C_mat = 0 dry spells leave the index where it was."""
    index = mould_index(np.full(100, 20.0), np.full(100, 40.0), decline_coefficient=0.0, initial_index=1.5)
    assert_array_equal(index, np.full(100, 1.5))


def test_index_never_falls_below_zero():
    """A long dry spell takes the index to 0 and no further."""
    index = mould_index(np.full(500, 20.0), np.full(500, 40.0), initial_index=0.05)
    assert index.min() == 0.0
    assert index[-1] == 0.0
    assert (np.diff(index) <= 0).all()


def test_favourable_hour_restarts_the_dry_spell():
    """After a favourable hour the next dry hour is again in the first decline phase."""
    temp = np.full(62, 20.0)
    rh = np.full(62, 50.0)
    rh[30] = 95.0  # one favourable hour after 30 dry ones
    index = mould_index(temp, rh, "very_sensitive", initial_index=3.0)
    steps = np.diff(np.concatenate([[3.0], index]))
    assert_allclose(steps[29], LAST_PHASE, rtol=0, atol=1e-15)  # dry hour 30
    assert steps[30] > 0  # growth
    assert_allclose(steps[31:37], FIRST_PHASE, rtol=0, atol=1e-15)  # dry hours 1-6 of a new spell
    assert_allclose(steps[37:55], 0.0, rtol=0, atol=1e-15)


def test_dry_spell_count_runs_while_index_is_zero():
    """The dry-spell count keeps running after the index has reached 0."""
    temp = np.full(31, 20.0)
    rh = np.r_[95.0, np.full(30, 40.0)]  # a trace of growth, then a dry spell that wipes it out
    index, state = mould_index_step(temp, rh, sensitivity="very_sensitive")
    assert index[0] > 0
    assert index[3] == 0.0
    assert state == MouldState(index=0.0, dry_spell_hours=30)
    # A surface with mould that has been dry for 30 hours is already in the slow third phase.
    resumed, _ = mould_index_step([20.0], [40.0], MouldState(index=2.0, dry_spell_hours=30))
    assert_allclose(resumed[0] - 2.0, LAST_PHASE, rtol=0, atol=1e-15)


def test_missing_hours_hold_the_index_and_the_dry_spell_count():
    """A NaN hour repeats the index and neither advances nor ends the dry spell."""
    temp = np.array([20.0] * 3 + [np.nan] * 5 + [20.0] * 3 + [20.0] * 2)
    rh = np.array([50.0] * 3 + [95.0] * 5 + [50.0] * 3 + [np.nan] * 2)
    index, state = mould_index_step(temp, rh, MouldState(index=1.0))
    steps = np.diff(np.concatenate([[1.0], index]))
    assert_allclose(steps[:3], FIRST_PHASE, rtol=0, atol=1e-15)
    assert_array_equal(steps[3:8], np.zeros(5))
    assert_allclose(steps[8:11], FIRST_PHASE, rtol=0, atol=1e-15)  # dry hours 4-6, still phase one
    assert_array_equal(steps[11:], np.zeros(2))
    assert state.dry_spell_hours == 6


@pytest.mark.parametrize(
    ("sensitivity", "atol"),
    [
        ("very_sensitive", 1e-9),
        ("sensitive", 1e-9),
        ("medium_resistant", 0.02),
        ("resistant", 0.7),  # k1 = 0.014 above M = 1: a resistant surface needs decades to get there
    ],
)
def test_index_approaches_but_never_exceeds_m_max(sensitivity, atol):
    """In a year of steady damp conditions M rises towards M_max and never passes it."""
    hours = 24 * 365
    temp, rh = 25.0, 99.0
    index = mould_index(np.full(hours, temp), np.full(hours, rh), sensitivity)
    m_max = maximum_mould_index(temp, rh, sensitivity)
    assert (np.diff(index) >= 0).all()
    assert index.max() <= m_max
    assert_allclose(index[-1], m_max, rtol=0, atol=atol)


def _hourly_growth_without_k1(temp_air, relative_humidity, start_index, sensitivity):
    """k2 / (7 exp(-0.68 ln T - 13.9 ln RH + 66.02)) / 24, straight from SCIENCE.md. [1/h]"""
    m_max = maximum_mould_index(temp_air, relative_humidity, sensitivity)
    k2 = np.maximum(1 - np.exp(2.3 * (start_index - m_max)), 0.0)
    weeks = np.exp(-0.68 * np.log(temp_air) - 13.9 * np.log(relative_humidity) + 66.02)
    return k2 / (7 * weeks) / 24


def test_k1_switches_when_the_index_reaches_one():
    """k1 is the 'M < 1' value until the index at the start of an hour reaches 1, then the 'M ≥ 1' one."""
    index = mould_index(np.full(60, 20.0), np.full(60, 95.0), "very_sensitive", initial_index=0.95)
    start = np.concatenate([[0.95], index[:-1]])
    implied_k1 = (index - start) / _hourly_growth_without_k1(20.0, 95.0, start, "very_sensitive")
    assert (start < 1).any() and (start >= 1).any()
    assert_allclose(implied_k1[start < 1], 1.0, rtol=1e-9)
    assert_allclose(implied_k1[start >= 1], 2.0, rtol=1e-9)


@pytest.mark.parametrize(("initial_index", "expected_k1"), [(0.999, 0.578), (1.0, 0.386), (1.001, 0.386)])
def test_k1_at_exactly_one_uses_the_second_value(initial_index, expected_k1):
    """An index of exactly 1 at the start of the hour already takes k1 for M ≥ 1."""
    index = mould_index([20.0], [95.0], "sensitive", initial_index=initial_index)
    growth = expected_k1 * _hourly_growth_without_k1(20.0, 95.0, initial_index, "sensitive")
    assert_allclose(index[0] - initial_index, growth, rtol=1e-9)


# --------------------------------------------------------------------------------------------------------
# State carry-over and the batched form
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("split", [1, 6, 7, 24, 25, 500, 4391])
def test_split_series_equals_full_recomputation(surface_climate, split):
    """Two runs joined by the returned state equal one run over the whole record."""
    temp, rh = surface_climate
    full, full_state = mould_index_step(temp, rh, sensitivity="very_sensitive")
    first, state = mould_index_step(temp[:split], rh[:split], sensitivity="very_sensitive")
    second, final_state = mould_index_step(temp[split:], rh[split:], state, sensitivity="very_sensitive")
    assert_allclose(np.concatenate([first, second]), full, rtol=0, atol=1e-12)
    assert final_state.dry_spell_hours == full_state.dry_spell_hours
    assert_allclose(final_state.index, full_state.index, rtol=0, atol=1e-12)


def test_daily_runs_equal_full_recomputation(surface_climate):
    """Running day by day from yesterday's state gives the same numbers as the full record."""
    temp, rh = surface_climate
    full = mould_index(temp, rh, "sensitive")
    state = MouldState()
    days = []
    for start in range(0, temp.size, 24):
        day, state = mould_index_step(temp[start : start + 24], rh[start : start + 24], state)
        days.append(day)
    assert_allclose(np.concatenate(days), full, rtol=0, atol=1e-12)


def test_state_matches_reference(surface_climate):
    """The returned state is the index and dry-spell count of the last hour."""
    temp, rh = surface_climate
    _, index, dry_hours = reference_mould_index(temp, rh, "sensitive")
    _, state = mould_index_step(temp, rh)
    assert state.dry_spell_hours == dry_hours
    assert_allclose(state.index, index, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("sensitivity", "block_elements"),
    [
        ("very_sensitive", 7),  # blocks of one hour
        ("very_sensitive", 100),  # blocks of eight hours
        ("very_sensitive", 1 << 20),  # one block
        ("sensitive", 100),
        ("medium_resistant", 100),
        ("resistant", 100),
    ],
)
def test_2d_rows_equal_1d_runs(surface_climates, rng, monkeypatch, sensitivity, block_elements):
    """Each row of mould_index_2d is identical to mould_index_step on that row, however it is blocked."""
    temp, rh = surface_climates
    rooms = temp.shape[0]
    start_index = rng.uniform(0.0, 3.0, rooms)
    start_dry = rng.integers(0, 40, rooms)
    monkeypatch.setattr(mould, "_BLOCK_ELEMENTS", block_elements)
    index, state_index, state_dry = mould_index_2d(temp, rh, start_index, start_dry, sensitivity, 0.5)
    monkeypatch.undo()
    for row in range(rooms):
        expected, state = mould_index_step(
            temp[row], rh[row], MouldState(start_index[row], int(start_dry[row])), sensitivity, 0.5
        )
        assert_array_equal(index[row], expected)
        assert state_index[row] == state.index
        assert state_dry[row] == state.dry_spell_hours


def test_2d_matches_reference_recurrence(surface_climates):
    """The batched form also equals the plain-Python recurrence, row by row."""
    temp, rh = surface_climates
    index, state_index, state_dry = mould_index_2d(temp, rh, sensitivity="very_sensitive")
    for row in range(temp.shape[0]):
        expected, end_index, end_dry = reference_mould_index(temp[row], rh[row], "very_sensitive")
        assert_allclose(index[row], expected, rtol=0, atol=1e-9)
        assert_allclose(state_index[row], end_index, rtol=0, atol=1e-9)
        assert state_dry[row] == end_dry


def test_2d_split_equals_full(surface_climates):
    """Consecutive 2-D runs joined by their state arrays equal one run."""
    temp, rh = surface_climates
    full, full_index, full_dry = mould_index_2d(temp, rh)
    first, state_index, state_dry = mould_index_2d(temp[:, :333], rh[:, :333])
    second, end_index, end_dry = mould_index_2d(temp[:, 333:], rh[:, 333:], state_index, state_dry)
    assert state_dry.max() > 24  # some rows carry a dry spell into its last phase across the split
    assert_allclose(np.hstack([first, second]), full, rtol=0, atol=1e-12)
    assert_allclose(end_index, full_index, rtol=0, atol=1e-12)
    assert_array_equal(end_dry, full_dry)


def test_2d_defaults_start_from_zero(surface_climates):
    """Omitted state arrays mean index 0 and no dry spell."""
    temp, rh = surface_climates
    rooms = temp.shape[0]
    default = mould_index_2d(temp, rh)
    explicit = mould_index_2d(temp, rh, np.zeros(rooms), np.zeros(rooms, dtype=int))
    for got, expected in zip(default, explicit, strict=True):
        assert_array_equal(got, expected)
    assert default[2].dtype.kind == "i"


# --------------------------------------------------------------------------------------------------------
# Input types
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [
        list,
        np.asarray,
        lambda values: pd.Series(values, index=pd.date_range("2025-11-01", periods=len(values), freq="h")),
    ],
    ids=["list", "ndarray", "series"],
)
def test_input_types_give_the_same_array(convert):
    """Lists, arrays and Series all give the same numpy array, one value per hour."""
    temp = [20.0, 21.0, np.nan, 19.0, 18.0]
    rh = [95.0, 96.0, 97.0, 60.0, 99.0]
    expected = mould_index(np.array(temp), np.array(rh), "very_sensitive")
    result = mould_index(convert(temp), convert(rh), "very_sensitive")
    assert isinstance(result, np.ndarray)
    assert result.shape == (5,)
    assert_array_equal(result, expected)


def test_float_input_is_one_hour():
    """A single float pair is a one-hour series."""
    assert_allclose(mould_index(20.0, 90.0, "very_sensitive"), [0.03399 / 24], rtol=2e-4)


def test_empty_series_returns_empty_and_keeps_the_state():
    """No hours in, no values out, and the state passes through unchanged."""
    index, state = mould_index_step([], [], MouldState(index=2.5, dry_spell_hours=12))
    assert index.shape == (0,)
    assert state == MouldState(index=2.5, dry_spell_hours=12)


def test_custom_sensitivity_class_is_accepted():
    """A VTTSensitivity with the very sensitive numbers matches the named class."""
    custom = VTTSensitivity(k1_below_one=1.0, k1_from_one=2.0, a=1.0, b=7.0, c=2.0, rh_min=80.0)
    temp, rh = np.full(200, 21.0), np.full(200, 93.0)
    assert_array_equal(mould_index(temp, rh, custom), mould_index(temp, rh, "very_sensitive"))


# --------------------------------------------------------------------------------------------------------
# Bad arguments
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mould_index([20.0], [90.0], sensitivity="mouldy"), "sensitivity must be one of"),
        (lambda: mould_index([20.0], [90.0], sensitivity=None), "sensitivity must be one of"),
        (lambda: mould_index([20.0], [90.0], decline_coefficient=-0.5), "decline_coefficient"),
        (lambda: mould_index([20.0], [90.0], decline_coefficient=float("nan")), "decline_coefficient"),
        (lambda: mould_index([20.0], [90.0], decline_coefficient="fast"), "decline_coefficient"),
        (lambda: mould_index([20.0, 21.0], [90.0]), "pass one value per hour"),
        (lambda: mould_index(np.ones((2, 3)), np.ones((2, 3))), "mould_index_2d"),
        (lambda: mould_index([20.0], [90.0], initial_index=-0.1), "initial_index"),
        (lambda: mould_index([20.0], [90.0], initial_index=6.5), "initial_index"),
        (lambda: mould_index([20.0], [90.0], initial_index=float("nan")), "initial_index"),
        (lambda: mould_index_step([20.0], [90.0], state=(0.0, 0)), "MouldState"),
        (lambda: MouldState(index=-1.0), "between 0 and 6"),
        (lambda: MouldState(dry_spell_hours=-3), "whole numbers"),
        (lambda: MouldState(dry_spell_hours=2.5), "whole numbers"),
        (lambda: MouldState(index="high"), "MouldState needs a number"),
        (lambda: mould_index_2d(np.ones(5), np.ones(5)), "two-dimensional"),
        (lambda: mould_index_2d(np.ones((2, 5)), np.ones((2, 4))), "one value per room and hour"),
        (
            lambda: mould_index_2d(np.ones((2, 5)), np.ones((2, 5)), state_index=np.zeros(3)),
            "one value per row",
        ),
        (lambda: mould_index_2d(np.ones((2, 5)), np.ones((2, 5)), state_dry_hours=[0]), "one value per row"),
        (lambda: mould_index_2d(np.ones((2, 5)), np.ones((2, 5)), state_index=[0.0, 7.0]), "between 0 and 6"),
        (lambda: mould_index_2d(np.ones((2, 5)), np.ones((2, 5)), state_dry_hours=[0, -1]), "whole numbers"),
        (lambda: mould_index_2d(np.ones((2, 5)), np.ones((2, 5)), sensitivity="Sensitive"), "sensitivity"),
        (lambda: critical_relative_humidity(20.0, "wood"), "sensitivity"),
        (lambda: mould_growth_rate([20.0, 21.0], [90.0, 91.0, 92.0]), "same length"),
    ],
)
def test_bad_arguments_raise_value_error(call, message):
    """Bad arguments raise ValueError naming what to fix."""
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_run():
    """The Examples sections of the module's docstrings give the values they show."""
    result = doctest.testmod(mould, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5
    assert result.failed == 0
