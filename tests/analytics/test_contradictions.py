"""No reason contradicts its band: over thousands of varied homes, and over a scored simulated estate.

The rules of what contradicts what are written in :func:`analytics.wording.contradictions`; the first test
proves they can fail, so that "no contradiction" below means something.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.features import FEATURE_NAMES, RoomFeatures
from analytics.risk import RoomTable, assess
from analytics.scoring import VULNERABILITY_FLAGS, _explanations
from analytics.wording import contradictions

ROOM_TYPES = ("living_room", "kitchen", "bathroom", "bedroom")


def test_the_rules_catch_each_kind_of_contradiction():
    """Hand-written cases: damp words beside "low", "dry" beside "high", a score or wall claim without data."""
    assert contradictions("low", 10.0, ["reason.surface_damp_days"], ["help.low"]) == [
        "low band with reason.surface_damp_days"]
    assert contradictions("low", 10.0, ["reason.leak"], []) == ["low band with reason.leak"]
    assert contradictions("high", 60.0, ["reason.surface_dry"], []) == ["high band with reason.surface_dry"]
    assert contradictions("critical", 90.0, ["reason.mould_index"], ["help.low"]) == ["critical band with help.low"]
    assert contradictions("insufficient data", 0.0, [], []) == ["insufficient data with a score"]
    assert contradictions("insufficient data", None, ["reason.surface_dry"], []) == [
        "insufficient data with reason.surface_dry"]
    assert contradictions("low", 3.0, ["reason.surface_low", "reason.cold_home"], ["help.low"]) == []
    assert contradictions("insufficient data", None, ["reason.silent_room"], ["help.insufficient"]) == []


def _random_estate(rng: np.random.Generator, homes: int) -> tuple[RoomFeatures, RoomTable, pd.DataFrame]:
    """Homes of four rooms whose features span dry to soaking, warm to cold, full data to silent sensors."""
    n = homes * len(ROOM_TYPES)
    u = lambda low, high: rng.uniform(low, high, n)  # noqa: E731 - a local shorthand
    mould = np.where(rng.random(n) < 0.5, 0.0, u(0, 6))
    values = {
        "coverage": np.where(rng.random(n) < 0.1, u(0, 0.7), 1.0),
        "hours_since_data": np.where(rng.random(n) < 0.05, np.where(rng.random(n) < 0.5, np.nan, u(0, 300)),
                                     u(0, 2)),
        "mean_temperature_c": u(9, 23),
        "mean_humidity_pct": u(35, 90),
        "mean_surface_temperature_c": u(5, 20),
        "mean_surface_rh_pct": u(40, 100),
        "mean_outdoor_temperature_c": u(-3, 14),
        "mean_outdoor_humidity_pct": u(60, 100),
        "outdoor_measured_share": rng.choice([0.0, 1.0], n),
        "mould_index": mould,
        "mould_index_max": mould + u(0, 0.5),
        "mould_index_trend": np.where(rng.random(n) < 0.5, 0.0, u(-1, 2)),
        "hours_surface_rh_over_80": u(0, 336),
        "days_surface_rh_over_80": np.floor(u(0, 15)),
        "share_surface_rh_over_80": np.where(rng.random(n) < 0.4, 0.0, u(0, 1)),
        "hours_rh_over_70": u(0, 336),
        "days_rh_over_70": np.floor(u(0, 15)),
        "share_rh_over_70": u(0, 1),
        "hours_below_16": u(0, 336),
        "hours_below_18": u(0, 336),
        "share_below_16": u(0, 1) ** 3,
        "share_below_18": u(0, 1),
        "vapour_pressure_excess_pa": u(50, 1200),
        "min_vapour_pressure_excess_pa": u(0, 900),
        "humidity_class": np.floor(u(1, 6)),
        "ventilation_events": np.floor(u(0, 40)),
        "ventilation_remaining": u(0, 1),
        "cooling_hours": np.floor(u(0, 100)),
        "heat_loss_index_per_h": u(0.02, 0.3),
    }
    values["min_vapour_pressure_excess_pa"] = np.minimum(values["min_vapour_pressure_excess_pa"],
                                                         values["vapour_pressure_excess_pa"])
    features = RoomFeatures({name: np.asarray(values[name], dtype=float) for name in FEATURE_NAMES})
    table = RoomTable(np.repeat(np.arange(homes), len(ROOM_TYPES)), np.tile(np.array(ROOM_TYPES), homes), homes)
    rooms = pd.DataFrame({
        "name": np.tile(["Living room", "Kitchen", "Bathroom", "Bedroom 1"], homes),
        "room_type": table.room_type,
        "temperature_factor": rng.choice([0.75, 0.6, 0.8], n),
        "factor_source": rng.choice(["register", "archetype", "design", "heat_loss"], n),
        "heat_loss_ratio": u(0.5, 2.5),
    })
    return features, table, rooms


@pytest.mark.parametrize("seed", [1, 2])
def test_no_reason_contradicts_its_band_over_thousands_of_homes(seed):
    """3 000 varied homes: every band's words agree with it, and insufficient data has no score."""
    rng = np.random.default_rng(seed)
    homes = 3000
    features, table, rooms = _random_estate(rng, homes)
    assessment = assess(features, table, rooms["temperature_factor"].to_numpy())
    bands = assessment.band_names()
    uprns = [f"{100_000 + p}" for p in range(homes)]
    properties = pd.DataFrame({flag: rng.choice(["yes", "no", None], homes) for flag in VULNERABILITY_FLAGS},
                              index=uprns)
    explanations = _explanations(rooms, table, uprns, features, assessment, bands, properties, None)
    found = []
    for p, explanation in enumerate(explanations):
        score = float(assessment.score[p])
        found += contradictions(bands[p], score if np.isfinite(score) else None, explanation.reason_keys,
                                explanation.help_keys)
    assert found == []
    # Every band occurs, so the check covered each of them.
    assert set(bands) == {"low", "medium", "high", "critical", "insufficient data"}
    insufficient = np.array(bands) == "insufficient data"
    assert np.isnan(assessment.score[insufficient]).all()
    assert (assessment.cause[insufficient] == "").all()
    # A cause is named for every home at risk, with its evidence in the words.
    at_risk = np.isin(bands, ["medium", "high", "critical"])
    assert (assessment.cause[at_risk] != "").all()


def test_no_ties_at_the_top(seed=3):
    """The highest scores are all different: the top of the list can be ordered."""
    rng = np.random.default_rng(seed)
    features, table, _ = _random_estate(rng, 2000)
    score = assess(features, table).score
    top = np.sort(score[np.isfinite(score)])[-50:]
    assert np.unique(top).size == top.size
    assert top.max() < 100.0


def test_the_scored_simulated_estate_has_no_contradiction(scored_estate, tmp_path):
    """The winter estate scored end to end through the app database (a copy): every band's words agree."""
    from analytics.scoring import score_estate
    from core.db import Database
    from core.store_sqlite import SQLiteReadingsStore

    database_url, readings_url = scored_estate.copy_to(tmp_path)
    database, store = Database(database_url), SQLiteReadingsStore(readings_url)
    try:
        report = score_estate(database, store, now=scored_estate.end, full=True)
    finally:
        store.close()
        database.dispose()
    assert report.properties >= 40
    assert report.contradictions == 0
