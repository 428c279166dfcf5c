"""Tests for analytics.evaluation: ranking metrics, calibration, the breakdown by cause and the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.errors import OutcomesError
from analytics.evaluation import (
    calibration_slope_intercept,
    evaluate_ranking,
    expected_calibration_error,
    precision_recall_at_k,
    write_plots,
)


@pytest.mark.parametrize(
    ("k_pct", "precision", "recall", "k"),
    [(10, 1.0, 0.25, 1), (20, 1.0, 0.5, 2), (50, 0.6, 0.75, 5), (100, 0.4, 1.0, 10), (1, 1.0, 0.25, 1)],
)
def test_precision_and_recall_at_the_top_k_percent(k_pct, precision, recall, k):
    """Ten homes, four damp, ranked damp, damp, healthy, damp, healthy, ...: the top k % by score."""
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0], dtype=bool)
    score = np.arange(10, 0, -1, dtype=float)
    assert precision_recall_at_k(y, score, k_pct) == (pytest.approx(precision), pytest.approx(recall), k)


def test_missing_scores_rank_last():
    """A home without a score is never in the top."""
    y = np.array([True, False, False])
    assert precision_recall_at_k(y, np.array([np.nan, 1.0, 2.0]), 66)[0] == 0.0


def test_calibration_of_honest_probabilities(rng):
    """Outcomes drawn from the predicted probabilities: small calibration error, slope near 1."""
    p = rng.uniform(0, 1, 20_000)
    y = rng.random(p.size) < p
    assert expected_calibration_error(y, p) < 0.02
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.1)
    assert intercept == pytest.approx(0.0, abs=0.1)


def test_overconfident_probabilities_have_a_shallow_slope(rng):
    """Probabilities pushed towards 0 and 1 give a calibration slope well below 1."""
    p = rng.uniform(0.2, 0.8, 20_000)
    y = rng.random(p.size) < p
    pushed = np.clip((p - 0.5) * 3 + 0.5, 0.001, 0.999)
    assert calibration_slope_intercept(y, pushed)[0] < 0.6
    assert expected_calibration_error(y, pushed) > 0.1


@pytest.fixture
def truth() -> pd.DataFrame:
    """Six homes: three damp (two causes), three healthy."""
    return pd.DataFrame({
        "damp_prone": [True, True, True, False, False, False],
        "cause": ["leak", "leak", "under_heating", "none", "none", "none"],
    }, index=pd.Index([f"{i}" for i in range(1, 7)], name="uprn"))


def test_evaluate_ranking_breaks_down_by_cause(truth):
    """AUC, top-k figures and, per true cause, how many homes rank in the top and get the cause named."""
    scored = pd.DataFrame({
        "score": [90.0, 70.0, 40.0, 50.0, 10.0, np.nan],
        "cause": ["leak", "poor_ventilation", "under_heating", "", "", ""],
        "model_name": "dampwatch-physics",
    }, index=pd.Index(["1", "2", "3", "4", "5", "6"], name="uprn"))
    report = evaluate_ranking(scored, truth, capacity_pct=34)
    assert report.k == 3 and report.unscored == 1
    assert report.precision_at_k == pytest.approx(2 / 3)
    assert report.roc_auc == pytest.approx(8 / 9)
    by_cause = {row.cause: row for row in report.by_cause}
    assert (by_cause["leak"].homes, by_cause["leak"].in_top_k, by_cause["leak"].cause_named) == (2, 2, 1)
    assert (by_cause["under_heating"].in_top_k, by_cause["under_heating"].cause_named) == (0, 1)
    assert by_cause["none"].in_top_k == 1
    assert report.model_names == ["dampwatch-physics"]
    assert "ROC AUC" in report.summary()


def test_evaluation_needs_scores(truth):
    """Without any score, evaluating says to run the scoring first."""
    scored = pd.DataFrame({"score": [np.nan], "cause": [""], "model_name": ["x"]}, index=pd.Index(["1"], name="uprn"))
    with pytest.raises(OutcomesError, match="dampwatch score"):
        evaluate_ranking(scored, truth)


def test_plots_are_written(truth, tmp_path):
    """ROC, calibration and precision-at-k plots are PNG files."""
    scored = pd.DataFrame({"score": [90.0, 70.0, 40.0, 50.0, 10.0, 5.0], "cause": "", "model_name": "m"},
                          index=truth.index)
    paths = write_plots(evaluate_ranking(scored, truth), tmp_path / "plots")
    assert [p.name for p in paths] == ["roc.png", "calibration.png", "precision_at_k.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
