"""Inspection outcomes: plausible findings from the ground truth with inspectors' realistic misses."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from simulator import CAUSES, OUTCOMES_CSV_COLUMNS, inspection_outcomes, write_outcomes_csv
from simulator.outcomes import detection_probability


@pytest.fixture(scope="module")
def outcomes(month):
    """Inspections of the month's estate, pooled over several inspector seeds for stable rates."""
    frames = [inspection_outcomes(month, seed).assign(round=seed) for seed in range(8)]
    truth = month.truth.groupby("uprn").property_cause.first()
    frame = pd.concat(frames, ignore_index=True)
    return frame.assign(true_cause=frame.uprn.map(truth))


def test_outcomes_csv_has_the_documented_format(month, tmp_path):
    """Header uprn,date,mould_found,severity,cause,room and values from the agreed vocabularies."""
    path = write_outcomes_csv(month, tmp_path / "outcomes.csv", seed=4)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == OUTCOMES_CSV_COLUMNS
    rooms = {(home.uprn, room.name) for home in month.estate.homes for room in home.indoor_rooms}
    for row in rows:
        assert row["mould_found"] in {"yes", "no"}
        assert row["severity"] in {"none", "minor", "moderate", "severe"}
        assert row["cause"] in {"none", *CAUSES}
        if row["mould_found"] == "no":
            assert (row["severity"], row["cause"], row["room"]) == ("none", "none", "")
        else:
            assert row["severity"] != "none" and row["cause"] != "none"
            assert (row["uprn"], row["room"]) in rooms
        assert month.start.date().isoformat() <= row["date"] <= month.end.date().isoformat()


def test_outcomes_are_deterministic_per_seed(month):
    """The same inspector seed gives the same findings; another seed others."""
    pd.testing.assert_frame_equal(inspection_outcomes(month, 1), inspection_outcomes(month, 1))
    assert not inspection_outcomes(month, 1).equals(inspection_outcomes(month, 2))


def test_most_properties_are_inspected_on_dates_spread_over_the_window(outcomes, month):
    """About 90 % of homes get an inspection, on many different days."""
    per_round = outcomes.groupby("round").size()
    assert (per_round / len(month.estate.homes)).between(0.75, 1.0).all()
    assert outcomes.date.nunique() > 15


def test_mould_is_found_far_more_often_in_damp_prone_homes(outcomes):
    """Damp-prone homes are recorded with mould several times as often as healthy ones."""
    found = outcomes.mould_found == "yes"
    damp = outcomes.true_cause != "none"
    assert found[damp].mean() > 3 * found[~damp].mean()
    assert found[~damp].mean() < 0.2


def test_inspectors_make_realistic_mistakes(outcomes):
    """Some findings record the wrong cause, and some healthy homes are recorded with mould."""
    found = outcomes[outcomes.mould_found == "yes"]
    damp = found[found.true_cause != "none"]
    right = (damp.cause == damp.true_cause).mean()
    assert 0.5 < right < 0.95
    assert (found.true_cause == "none").any()


@pytest.mark.parametrize(
    ("index", "low", "high"), [(0.0, 0.0, 0.1), (0.7, 0.2, 0.4), (1.5, 0.75, 0.85), (4.0, 0.95, 1.0)]
)
def test_detection_rises_with_the_true_mould_index(index, low, high):
    """Inspectors seldom find traces, miss about one early case in five, and nearly always see visible growth."""
    assert low <= float(detection_probability(index)) <= high
    grid = np.linspace(0, 6, 61)
    assert (np.diff(detection_probability(grid)) >= 0).all()
