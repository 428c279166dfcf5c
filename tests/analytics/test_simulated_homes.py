"""Risk on simulated homes whose hidden causes are known: causes, insights, missing data and ranking."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import select

from analytics.scoring import latest_risk
from core.model import Room, RoomRisk


@pytest.fixture(scope="module")
def results(scored_estate) -> pd.DataFrame:
    """Latest property risk joined with the simulator's truth, one row per home."""
    with scored_estate.database.session() as session:
        _, risks = latest_risk(session)
        rows = [(r.uprn, r.score, r.band, r.cause, r.cold_home, r.reasons, r.what_would_help, r.driver_room)
                for r in risks]
    frame = pd.DataFrame(rows, columns=["uprn", "score", "band", "cause", "cold_home", "reasons", "help", "driver"])
    truth = scored_estate.sim.truth.groupby("uprn").agg(
        true_cause=("property_cause", "first"), damp_prone=("property_damp_prone", "first"))
    return frame.set_index("uprn").join(truth)


@pytest.fixture(scope="module")
def bathrooms(scored_estate) -> pd.DataFrame:
    """Each home's bathroom ventilation score and whether its fan works (from the truth)."""
    with scored_estate.database.session() as session:
        rows = session.execute(
            select(RoomRisk.uprn, RoomRisk.ventilation_score).join(Room, Room.id == RoomRisk.room_id)
            .where(Room.room_type == "bathroom")
        ).all()
    scores = pd.DataFrame(rows, columns=["uprn", "ventilation_score"]).set_index("uprn")
    truth = scored_estate.sim.truth
    fans = truth[truth["room_type"] == "bathroom"].set_index("uprn")[["fan_working", "cause"]]
    return scores.join(fans)


def test_homes_with_a_failed_extractor_fan_and_poor_ventilation_get_the_ventilation_cause(results, bathrooms):
    """Every poorly ventilated home (a failed fan, no fan, or one that moves little air) that is at risk is
    given poor ventilation."""
    poorly_ventilated = results[results["true_cause"] == "poor_ventilation"]
    assert len(poorly_ventilated) >= 3
    at_risk = poorly_ventilated[poorly_ventilated["band"].isin(["medium", "high", "critical"])]
    assert len(at_risk) >= 2
    assert (at_risk["cause"] == "poor_ventilation").all()
    assert (bathrooms.loc[poorly_ventilated.index, "ventilation_score"] < 50).all()
    for reasons in at_risk["reasons"]:
        assert any("falls back slowly" in r for r in reasons)


def test_healthy_bathrooms_clear_steam_well(bathrooms):
    """Nine in ten bathrooms of homes without a damp cause score 50 or more for ventilation."""
    healthy = bathrooms[bathrooms["cause"] == "none"]["ventilation_score"].dropna()
    assert (healthy >= 50).mean() >= 0.9


def test_under_heated_homes_get_the_cold_home_insight(results):
    """Every under-heated home is flagged as a cold home; hardly any other home is."""
    cold = results[results["true_cause"] == "under_heating"]
    assert len(cold) >= 3
    assert cold["cold_home"].all()
    assert results.loc[results["true_cause"] == "none", "cold_home"].mean() <= 0.1
    for reasons, help_, band in zip(cold["reasons"], cold["help"], cold["band"], strict=True):
        if band != "low":
            assert any("Health guidance is at least 18 °C" in r for r in reasons)
            assert any("energy" in h for h in help_)


def test_a_sensor_offline_for_the_last_week_gives_insufficient_data(results, scored_estate):
    """A healthy home whose living-room sensor fell silent a week ago is not called low risk."""
    home = results.loc[scored_estate.offline_uprn]
    assert home["band"] == "insufficient data"
    assert "The living room sensor has not sent readings for 7 days, so we cannot rule out damp there." in home["reasons"]


def test_a_sensor_offline_for_a_week_within_the_window_gives_insufficient_data(results, scored_estate):
    """A week's gap in the middle of the 14-day window leaves too little data to call the home low risk."""
    home = results.loc[scored_estate.gap_uprn]
    assert home["band"] == "insufficient data"
    assert any(r.startswith("The Bedroom 1 sensor covered only") for r in home["reasons"])


def test_damp_prone_homes_rank_on_top(results):
    """The physics score separates damp-prone from healthy homes, and the top five are all damp-prone."""
    scored = results.dropna(subset=["score"])
    assert roc_auc_score(scored["damp_prone"], scored["score"]) >= 0.85
    assert scored.sort_values("score", ascending=False)["damp_prone"].head(5).all()


def test_leaks_are_named_in_their_room(results):
    """Homes with a leak that are at risk are mostly given the leak cause."""
    leaks = results[(results["true_cause"] == "leak") & (results["band"] != "low")]
    assert len(leaks) >= 2
    assert (leaks["cause"] == "leak").mean() >= 0.6


def test_every_home_has_reasons_and_help(results):
    """No result leaves a housing officer without words to read out."""
    assert results["reasons"].map(len).min() >= 1
    assert results["help"].map(len).min() >= 1
