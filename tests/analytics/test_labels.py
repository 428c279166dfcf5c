"""Tests for analytics.labels: reading inspection outcomes and simulator truth."""

from __future__ import annotations

import datetime as dt

import pytest

import simulator
from analytics.errors import OutcomesError
from analytics.labels import file_sha256, read_outcomes_csv, read_truth_csv


def test_outcomes_are_read_and_bad_lines_reported(tmp_path):
    """Good rows are kept with typed values; bad ones come back with their line numbers."""
    path = tmp_path / "outcomes.csv"
    path.write_text(
        "uprn,date,mould_found,severity,cause,room\n"
        " 100000000001 ,2026-01-20,yes,minor,leak,Bathroom\n"
        "100000000002,2026-01-21,no,none,none,\n"
        "abc,2026-01-21,no,,,\n"
        "100000000003,21/01/2026,no,,,\n"
        "100000000004,2026-01-22,maybe,,,\n"
    )
    outcomes, errors = read_outcomes_csv(path)
    assert outcomes["uprn"].tolist() == ["100000000001", "100000000002"]
    assert outcomes["date"].tolist() == [dt.date(2026, 1, 20), dt.date(2026, 1, 21)]
    assert outcomes["mould_found"].tolist() == [True, False]
    assert outcomes.loc[0, "room"] == "Bathroom"
    assert [e.split(":")[0] for e in errors] == ["line 4", "line 5", "line 6"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("uprn,date\n1,2026-01-01\n", "mould_found"),
        ("uprn,date,mould_found\nx,y,z\n", "no usable"),
    ],
)
def test_unusable_outcomes_files_are_refused(tmp_path, text, message):
    """A file without the required columns or without a usable row raises OutcomesError."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(OutcomesError, match=message):
        read_outcomes_csv(path)


def test_simulated_outcomes_and_truth_read_back(winter_sim, tmp_path):
    """The simulator's outcomes and truth files are read as written."""
    outcomes, errors = read_outcomes_csv(simulator.write_outcomes_csv(winter_sim, tmp_path / "o.csv", seed=1))
    assert errors == [] and len(outcomes) > 20
    truth = read_truth_csv(simulator.write_truth_csv(winter_sim, tmp_path / "t.csv"))
    assert len(truth) == 40
    assert truth["damp_prone"].sum() == 16
    assert set(truth.loc[~truth["damp_prone"], "cause"]) == {"none"}
    assert len(file_sha256(tmp_path / "t.csv")) == 64


def test_a_truth_file_without_the_property_columns_is_refused(tmp_path):
    """The truth file must carry property_damp_prone and property_cause."""
    path = tmp_path / "t.csv"
    path.write_text("uprn,room\n1,Kitchen\n")
    with pytest.raises(OutcomesError, match="property_damp_prone"):
        read_truth_csv(path)
