"""Tests for analytics.risk: the physics score, bands, missing data and the cause rules."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from analytics.features import FEATURE_NAMES, RoomFeatures
from analytics.risk import (
    BAND_THRESHOLDS,
    BANDS,
    INSUFFICIENT_DATA,
    RoomTable,
    assess,
    band_of,
    final_band,
    room_score,
    ventilation_score,
)

# An ordinary, dry, warm room with full data.
ORDINARY = {
    "coverage": 1.0,
    "hours_since_data": 0.0,
    "mean_temperature_c": 19.0,
    "mean_humidity_pct": 50.0,
    "mean_surface_temperature_c": 15.0,
    "mean_surface_rh_pct": 65.0,
    "mean_outdoor_temperature_c": 5.0,
    "mean_outdoor_humidity_pct": 85.0,
    "outdoor_measured_share": 1.0,
    "mould_index": 0.0,
    "mould_index_max": 0.0,
    "mould_index_trend": 0.0,
    "hours_surface_rh_over_80": 0.0,
    "days_surface_rh_over_80": 0.0,
    "share_surface_rh_over_80": 0.0,
    "hours_rh_over_70": 0.0,
    "days_rh_over_70": 0.0,
    "share_rh_over_70": 0.0,
    "hours_below_16": 0.0,
    "hours_below_18": 0.0,
    "share_below_16": 0.0,
    "share_below_18": 0.0,
    "vapour_pressure_excess_pa": 300.0,
    "min_vapour_pressure_excess_pa": 100.0,
    "humidity_class": 2.0,
    "ventilation_events": 20.0,
    "ventilation_remaining": 0.05,
    "cooling_hours": 40.0,
    "heat_loss_index_per_h": 0.08,
}
# A damp room: cold spot wet most of the time, visible growth beginning.
DAMP = {**ORDINARY, "mould_index": 2.0, "mould_index_max": 2.0, "mould_index_trend": 0.4,
        "share_surface_rh_over_80": 0.6, "share_rh_over_70": 0.5, "days_surface_rh_over_80": 12.0}


def features(*rooms: dict) -> RoomFeatures:
    """RoomFeatures with one row per given room (missing names from ORDINARY)."""
    return RoomFeatures({name: np.array([float(room.get(name, ORDINARY[name])) for room in rooms])
                         for name in FEATURE_NAMES})


def home(*types: str) -> RoomTable:
    """A RoomTable of one property with rooms of the given types."""
    return RoomTable(np.zeros(len(types), dtype=int), np.array(types), 1)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, 0.0),
        ({"mould_index": 3.0}, 40.0),
        # Beyond visible growth the index still orders homes: 20 more points as it climbs from 3 to 6.
        ({"mould_index": 6.0}, 60.0),
        ({"share_surface_rh_over_80": 0.3}, 20.0),
        ({"mould_index_trend": 0.25}, 5.0),
        ({"mould_index_trend": -1.0}, 0.0),
        ({"share_rh_over_70": 0.6}, 10.0),
        # 100 points plus 0.5 (trend beyond 0.5) and 0.4 (share beyond 0.6) = 100.9, bent above 60:
        # 60 + 40 (1 - exp(-40.9 / 40)) = 85.612.
        ({"mould_index": 3.0, "share_surface_rh_over_80": 1.0, "mould_index_trend": 1.0, "share_rh_over_70": 1.0}, 85.612),
    ],
)
def test_room_score_adds_capped_parts(overrides, expected):
    """Mould index, damp hours at the cold spot, rising index and humid air add up, bent below 100 above 60."""
    assert room_score(features({**ORDINARY, **overrides}))[0] == pytest.approx(expected, abs=1e-3)


def test_room_score_is_missing_without_any_data():
    """A room that never reported has no score."""
    assert np.isnan(room_score(features({**ORDINARY, "hours_since_data": np.nan}))[0])


@pytest.mark.parametrize(
    ("score", "band"),
    [(0.0, 0), (24.99, 0), (25.0, 1), (49.9, 1), (50.0, 2), (74.9, 2), (75.0, 3), (100.0, 3), (np.nan, -1)],
)
def test_bands_follow_the_documented_thresholds(score, band):
    """low < 25 ≤ medium < 50 ≤ high < 75 ≤ critical; NaN has no band."""
    assert band_of(score)[0] == band
    assert BAND_THRESHOLDS == (25.0, 50.0, 75.0)


@pytest.mark.parametrize(
    ("score", "any_judged", "without_data", "band"),
    [
        (10.0, True, 0, 0),
        (10.0, True, 1, -1),
        (40.0, True, 1, -1),
        (60.0, True, 1, 2),
        (90.0, True, 2, 3),
        (90.0, False, 3, -1),
    ],
)
def test_a_silent_room_never_makes_a_home_look_safe(score, any_judged, without_data, band):
    """Missing rooms turn low and medium into insufficient data; high and critical stand."""
    result = final_band(np.array([score]), np.array([any_judged]), np.array([without_data]))
    assert result[0] == band


def test_the_driver_is_the_worst_room_with_enough_data():
    """A damp bedroom drives the home; a silent room with a worse history does not."""
    silent_but_damp = {**DAMP, "mould_index": 3.0, "coverage": 0.2, "hours_since_data": 200.0}
    result = assess(features(ORDINARY, DAMP, silent_but_damp), home("kitchen", "bedroom", "living_room"))
    assert result.driver_room[0] == 1
    assert result.score[0] == pytest.approx(room_score(features(DAMP))[0])
    assert result.band[0] == 3
    assert_array_equal(result.room_band, [0, 3, -1])
    assert result.band_names() == ["critical"]
    assert result.rooms_without_data[0] == 1


def test_a_home_with_no_usable_room_is_insufficient_data():
    """All sensors silent: the band is insufficient data and no cause is given for a low score."""
    silent = {**ORDINARY, "coverage": 0.1, "hours_since_data": 300.0}
    result = assess(features(silent, silent), home("kitchen", "bathroom"))
    assert result.band_names() == [INSUFFICIENT_DATA]
    assert result.cause[0] == ""


@pytest.mark.parametrize(
    ("rooms", "types", "cause"),
    [
        # Cold home: averaging 14 °C.
        (({**DAMP, "mean_temperature_c": 15.5}, {**ORDINARY, "mean_temperature_c": 14.0}), ("bedroom", "living_room"),
         "under_heating"),
        (({**DAMP, "share_below_16": 0.4}, {**ORDINARY, "share_below_16": 0.8}), ("bedroom", "living_room"),
         "under_heating"),
        # One room humid day and night, far above the rest.
        (({**DAMP, "min_vapour_pressure_excess_pa": 600.0, "vapour_pressure_excess_pa": 800.0}, ORDINARY, ORDINARY),
         ("bedroom", "kitchen", "living_room"), "leak"),
        # The bathroom keeps a third of each shower's moisture two hours later.
        ((DAMP, {**ORDINARY, "ventilation_remaining": 0.3}), ("bedroom", "bathroom"), "poor_ventilation"),
        # No bathroom sensor: the kitchen decides, with its own limit.
        ((DAMP, {**ORDINARY, "ventilation_remaining": 0.35}), ("bedroom", "kitchen"), "poor_ventilation"),
        ((DAMP, {**ORDINARY, "ventilation_remaining": 0.12}), ("bedroom", "kitchen"), "cold_fabric"),
        # Humid home (class 5) that clears showers well.
        (({**DAMP, "humidity_class": 5.0}, ORDINARY), ("bedroom", "bathroom"), "high_moisture_load"),
        # Ordinary air, damp cold spot.
        ((DAMP, ORDINARY), ("bedroom", "bathroom"), "cold_fabric"),
    ],
)
def test_cause_rules(rooms, types, cause):
    """Each cause rule picks its pattern, in the documented order."""
    result = assess(features(*rooms), home(*types))
    assert result.cause[0] == cause


@pytest.mark.parametrize(
    ("bathroom", "others_excess_pa", "cause", "leak_room"),
    [
        # Wet 500 Pa above the rest on average but not steady (a leak while the heating runs), clearing
        # slowly: the rest of the home is dry against it (500 Pa > 0.8 x 300 Pa), so the leak explains both.
        ({"vapour_pressure_excess_pa": 800.0, "min_vapour_pressure_excess_pa": 100.0, "ventilation_remaining": 0.4},
         300.0, "leak", 2),
        # The same slow bathroom in a home humid throughout (100 Pa above the rest, under 150 Pa): the steam
        # spreads, so the ventilation is named.
        ({"vapour_pressure_excess_pa": 800.0, "min_vapour_pressure_excess_pa": 100.0, "ventilation_remaining": 0.4},
         700.0, "poor_ventilation", -1),
        # Showers with a working fan: 100 Pa above the rest is ordinary, no leak.
        ({"vapour_pressure_excess_pa": 400.0, "min_vapour_pressure_excess_pa": 100.0}, 300.0, "cold_fabric", -1),
    ],
)
def test_a_leak_that_is_not_steady_shows_as_a_wet_room_far_above_the_rest(bathroom, others_excess_pa, cause,
                                                                          leak_room):
    """A bathroom far more humid on average than a dry rest of the home is a leak, even without a steady excess."""
    rest = {"vapour_pressure_excess_pa": others_excess_pa}
    result = assess(features({**DAMP, **rest}, {**ORDINARY, **rest}, {**ORDINARY, **bathroom}),
                    home("bedroom", "living_room", "bathroom"))
    assert result.cause[0] == cause
    assert result.leak_room[0] == leak_room


def test_low_risk_homes_get_no_cause_but_can_be_cold_homes():
    """A dry but cold home is low risk with the cold-home insight and no cause."""
    result = assess(features({**ORDINARY, "mean_temperature_c": 14.5}), home("living_room"))
    assert result.band_names() == ["low"]
    assert result.cause[0] == ""
    assert result.cold_home[0]


def test_ventilation_score_applies_to_wet_rooms_with_enough_events():
    """Bathrooms and kitchens with five or more events get a score; other rooms and quiet ones do not."""
    rooms = features(
        {**ORDINARY, "ventilation_remaining": 0.0},
        {**ORDINARY, "ventilation_remaining": 0.18},
        {**ORDINARY, "ventilation_remaining": 0.5},
        {**ORDINARY, "ventilation_events": 2.0},
        ORDINARY,
    )
    score = ventilation_score(rooms, np.array(["bathroom", "bathroom", "kitchen", "bathroom", "bedroom"]))
    assert score[:3] == pytest.approx([100.0, 50.0, 0.0])
    assert np.isnan(score[3]) and np.isnan(score[4])


def test_several_properties_are_judged_independently():
    """Group operations keep each property's rooms to itself."""
    table = RoomTable(np.array([0, 0, 1, 2, 2, 2]), np.array(["bathroom", "bedroom", "kitchen", "bathroom",
                                                               "kitchen", "bedroom"]), 3)
    result = assess(features(ORDINARY, DAMP, ORDINARY, ORDINARY, ORDINARY, {**DAMP, "mould_index": 0.5}), table)
    assert_array_equal(result.driver_room, [1, 2, 5])
    assert [BANDS[b] for b in result.band] == ["critical", "low", "high"]


@pytest.mark.parametrize(
    ("index", "types", "count", "message"),
    [
        ([1, 0], ["bathroom", "kitchen"], 2, "property_index"),
        ([0, 2], ["bathroom", "kitchen"], 3, "at least one room"),
        ([0, 0], ["bathroom"], 1, "room_type"),
    ],
)
def test_room_table_checks_its_layout(index, types, count, message):
    """Rooms must be grouped by property, every property present, one type per room."""
    with pytest.raises(ValueError, match=message):
        RoomTable(np.array(index), np.array(types), count)
