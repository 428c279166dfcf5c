"""The VTT mould index written from shared/SCIENCE.md, and the ground truth of a simulated estate."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from simulator import TRUTH_COLUMNS, vtt_mould_index, write_truth_csv
from simulator.truth import vtt_critical_humidity


def test_vtt_check_value_at_20c_and_90_percent():
    """Very sensitive, 20 °C, 90 %, M = 0: dM/dt = 0.03399 per day, applied as /24 per hour."""
    m = vtt_mould_index([20.0], [90.0], "very_sensitive")
    assert_allclose(m[0] * 24.0, 0.03399, atol=2e-5)


@pytest.mark.parametrize(("temp", "expected"), [(20.0, 80.04), (5.0, 88.02), (30.0, 80.0)])
def test_critical_humidity(temp, expected):
    """RH_crit(20 °C) = 80.04 %, RH_crit(5 °C) = 88.02 %, and never below RH_min."""
    assert_allclose(vtt_critical_humidity(temp, "sensitive"), expected, atol=5e-3)


@pytest.mark.parametrize("sensitivity", ["very_sensitive", "sensitive", "medium_resistant", "resistant"])
def test_growth_follows_the_formula_for_every_class(sensitivity):
    """One favourable hour from M = 0 adds k1·k2/(7 exp(...))/24."""
    from simulator.constants import VTT_SENSITIVITY

    params = VTT_SENSITIVITY[sensitivity]
    t, rh = 15.0, 95.0
    crit = max(-0.00267 * t**3 + 0.160 * t**2 - 3.13 * t + 100.0, params.rh_min_pct)
    x = (crit - rh) / (crit - 100.0)
    m_max = max(params.a + params.b * x - params.c * x**2, 0.0)
    k2 = max(1 - np.exp(2.3 * (0.0 - m_max)), 0.0)
    rate = params.k1_below_1 * k2 / (7 * np.exp(-0.68 * np.log(t) - 13.9 * np.log(rh) + 66.02))
    assert_allclose(vtt_mould_index([t], [rh], sensitivity)[0], rate / 24.0, rtol=1e-12)


def test_k1_is_chosen_by_the_index_at_the_start_of_the_hour():
    """From M = 1 the sensitive class grows with k1 = 0.386 (and k2 at M = 1)."""
    t, rh = 20.0, 95.0
    crit = -0.00267 * t**3 + 0.160 * t**2 - 3.13 * t + 100.0
    x = (crit - rh) / (crit - 100.0)
    m_max = 0.3 + 6 * x - x**2
    k2 = 1 - np.exp(2.3 * (1.0 - m_max))
    rate = 0.386 * k2 / (7 * np.exp(-0.68 * np.log(t) - 13.9 * np.log(rh) + 66.02)) / 24.0
    assert_allclose(vtt_mould_index([t], [rh], "sensitive", initial_index=1.0)[0], 1.0 + rate, rtol=1e-12)


def test_decline_phases_after_a_dry_spell_begins():
    """−0.032/day for 6 h, nothing for hours 7-24, −0.016/day from hour 25."""
    m = vtt_mould_index(np.full(48, 20.0), np.full(48, 50.0), "sensitive", initial_index=2.0)
    assert_allclose(m[5], 2.0 - 6 * 0.032 / 24, rtol=1e-12)
    assert_allclose(m[23], m[5], rtol=1e-12)
    assert_allclose(m[47], m[23] - 24 * 0.016 / 24, rtol=1e-12)


@pytest.mark.parametrize("coefficient", [1.0, 0.5, 0.25, 0.1])
def test_decline_coefficient_scales_the_decline(coefficient):
    """The material decline coefficient multiplies every decline phase."""
    m = vtt_mould_index(
        np.full(48, 20.0), np.full(48, 50.0), decline_coefficient=coefficient, initial_index=2.0
    )
    assert_allclose(2.0 - m[-1], coefficient * (6 * 0.032 + 24 * 0.016) / 24, rtol=1e-12)


def test_a_favourable_hour_restarts_the_dry_spell_count():
    """After a wet hour the fast first-6-hour decline applies again."""
    temp = np.full(40, 20.0)
    rh = np.full(40, 50.0)
    rh[30] = 95.0
    m = vtt_mould_index(temp, rh, initial_index=2.0)
    assert_allclose(m[36] - m[30], -6 * 0.032 / 24, rtol=1e-9)


def test_index_never_falls_below_zero():
    """A long dry spell floors the index at 0."""
    m = vtt_mould_index(np.full(60, 20.0), np.full(60, 50.0), initial_index=0.01)
    assert m.min() == 0.0
    assert m[-1] == 0.0


@pytest.mark.parametrize(("temp", "rh"), [(-2.0, 99.0), (0.0, 99.0), (50.0, 99.0), (20.0, 79.0), (5.0, 87.0)])
def test_no_growth_outside_favourable_conditions(temp, rh):
    """Below 0 °C, from 50 °C, or below the critical humidity, nothing grows."""
    assert vtt_mould_index([temp] * 10, [rh] * 10).max() == 0.0


def test_two_dimensional_input_is_row_by_row():
    """Many surfaces at once give the same result as one at a time."""
    rng = np.random.default_rng(3)
    temp = rng.uniform(5, 25, (3, 500))
    rh = rng.uniform(70, 100, (3, 500))
    together = vtt_mould_index(temp, rh, "very sensitive")
    for row in range(3):
        assert_allclose(together[row], vtt_mould_index(temp[row], rh[row], "very_sensitive"), rtol=0, atol=0)


def test_a_month_at_95_percent_grows_at_hourly_not_daily_rates():
    """30 days at 20 °C / 95 %: visible growth (M 2-4), not the saturated 6 the /24 pitfall gives."""
    m = vtt_mould_index(pd.Series(np.full(720, 20.0)), pd.Series(np.full(720, 95.0)), "very_sensitive")
    assert isinstance(m, np.ndarray)
    assert 1.0 < m[-1] < 4.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temp_air": [20.0, np.nan], "rh": [90.0, 90.0]}, "NaN"),
        ({"temp_air": [20.0], "rh": [90.0, 90.0]}, "same shape"),
        ({"temp_air": [20.0], "rh": [90.0], "sensitivity": "porous"}, "sensitivity"),
        ({"temp_air": [20.0], "rh": [90.0], "initial_index": 7.0}, "initial_index"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    """Missing hours, mismatched inputs and unknown classes say what to do."""
    with pytest.raises(ValueError, match=match):
        vtt_mould_index(**kwargs)


def test_truth_has_one_row_per_room_and_the_documented_columns(month):
    """One row per room of the estate (outdoor rooms too), columns in the documented order."""
    truth = month.truth
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert len(truth) == sum(len(home.rooms) for home in month.estate.homes)
    indoor = truth[truth.room_type != "outdoor"]
    assert indoor["mould_index_end"].between(0, 6).all()
    assert (indoor["mould_index_max"] >= indoor["mould_index_end"]).all()
    assert set(truth.property_cause) <= {
        "none",
        "poor_ventilation",
        "high_moisture_load",
        "under_heating",
        "cold_fabric",
        "leak",
    }
    assert (truth.property_damp_prone == (truth.property_cause != "none")).all()
    assert not (truth.damp_prone & ~truth.property_damp_prone).any()


def test_driver_room_is_a_sensored_indoor_room_of_the_home(month):
    """Each property's driver room is one of its indoor rooms with a sensor."""
    truth = month.truth
    for uprn, rows in truth.groupby("uprn"):
        driver = rows.driver_room.iloc[0]
        assert (rows.driver_room == driver).all()
        match = rows[rows.room == driver]
        assert len(match) == 1, uprn
        assert match.device_id.notna().all() and (match.room_type != "outdoor").all()


def test_damp_prone_homes_spend_far_more_hours_above_80_percent(month):
    """Damp-prone homes average at least twice the cold-spot hours above 80 % of healthy homes, with overlap."""
    truth = month.truth
    sensored = truth[truth.device_id.notna() & (truth.room_type != "outdoor")]
    per_home = sensored.groupby("uprn").agg(
        damp=("property_damp_prone", "first"),
        hours=("hours_surface_rh_over_80", "max"),
        mould=("mould_index_max", "max"),
    )
    damp, healthy = per_home[per_home.damp], per_home[~per_home.damp]
    assert damp.hours.mean() > 2 * healthy.hours.mean()
    assert damp.mould.mean() > 3 * healthy.mould.mean()
    assert healthy.hours.median() < 0.3 * 24 * 30  # healthy homes are mostly below 80 %
    assert healthy.hours.max() > damp.hours.min()  # but the two groups overlap, as in real stock


def test_every_cause_makes_its_homes_damp(month):
    """Each of the five causes yields more hours above 80 % than the healthy homes on average."""
    truth = month.truth
    sensored = truth[truth.device_id.notna() & (truth.room_type != "outdoor")]
    hours = sensored.groupby("uprn").agg(
        cause=("property_cause", "first"), hours=("hours_surface_rh_over_80", "max")
    )
    by_cause = hours.groupby("cause").hours.mean()
    assert set(by_cause.index) == {
        "none",
        "poor_ventilation",
        "high_moisture_load",
        "under_heating",
        "cold_fabric",
        "leak",
    }
    assert (by_cause.drop("none") > 1.5 * by_cause["none"]).all()


def test_spin_up_gives_damp_homes_a_mould_history(month):
    """Thanks to the spin-up, most damp-prone homes already have mould growth when the window opens."""
    first_hour = month.window_hours.start
    rooms = month.window.rooms
    damp_homes = {home.uprn for home in month.estate.homes if home.damp_prone}
    start_index = {}
    for (uprn, _slug), row in rooms.index.items():
        start_index[uprn] = max(start_index.get(uprn, 0.0), float(month.mould_index[row, first_hour - 1]))
    assert np.mean([start_index[u] > 0.05 for u in damp_homes]) > 0.6


def test_truth_csv_round_trips(month, tmp_path):
    """The truth CSV has the documented header, one row per room, and true/false booleans."""
    path = write_truth_csv(month, tmp_path / "truth.csv")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == TRUTH_COLUMNS
    assert len(rows) - 1 == len(month.truth)
    frame = pd.read_csv(path, dtype={"uprn": str})
    assert set(frame.damp_prone.unique()) <= {True, False}
    assert frame.uprn.str.fullmatch(r"\d{12}").all()
    assert frame.loc[frame.room_type == "outdoor", "mould_index_end"].isna().all()


def test_truth_mould_index_is_the_vtt_model_of_the_hourly_cold_spot(month):
    """The stored index is exactly vtt_mould_index of the stored hourly cold-spot series (sensitive class)."""
    again = vtt_mould_index(month.surface_temperature_hourly, month.surface_rh_hourly, "sensitive")
    assert np.array_equal(again, month.mould_index)
    hours = month.window_hours
    assert hours.stop - hours.start == 30 * 24
    assert month.mould_hours_s[hours.start] - 3600 == int(month.start.timestamp())
