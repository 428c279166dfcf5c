"""How well a risk ranking finds damp homes: ROC AUC, precision and recall at inspection capacity,
calibration, and a breakdown by cause; with plots.

The same metrics judge a model during training (on cross-validated predictions) and the scores that
``dampwatch score`` stored, against a simulator's ``truth.csv`` or any list of confirmed outcomes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from analytics.errors import OutcomesError

__all__ = [
    "CauseRow",
    "EvaluationReport",
    "calibration_slope_intercept",
    "evaluate_ranking",
    "expected_calibration_error",
    "precision_recall_at_k",
    "write_plots",
]

logger = logging.getLogger(__name__)

CALIBRATION_BINS: Final = 10


def precision_recall_at_k(y_true: np.ndarray, score: np.ndarray, k_pct: float) -> tuple[float, float, int]:
    """Precision and recall among the top ``k_pct`` % of homes by score.

    Parameters
    ----------
    y_true : numpy.ndarray of bool
        Whether each home really is damp (or had mould found).
    score : numpy.ndarray
        Risk score, higher first; NaN ranks last.
    k_pct : float
        Share of homes the team can inspect, 0-100 (at least one home is taken). [%]

    Returns
    -------
    precision, recall : float
        Share of the top homes that are damp, and share of damp homes that are in the top (NaN without
        any). Ties at the cut are broken by the order of the input.
    k : int
        How many homes the top holds.
    """
    y = np.asarray(y_true, dtype=bool)
    values = np.where(np.isfinite(score), score, -np.inf)
    k = max(1, math.ceil(len(y) * k_pct / 100.0))
    top = np.argsort(-values, kind="stable")[:k]
    hits = int(y[top].sum())
    positives = int(y.sum())
    return hits / k, (hits / positives if positives else float("nan")), k


def expected_calibration_error(y_true: np.ndarray, probability: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean gap between predicted probability and observed rate, over equal-width bins, weighted by size."""
    y = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.sum() / len(p) * abs(p[members].mean() - y[members].mean())
    return float(error)


def calibration_slope_intercept(y_true: np.ndarray, probability: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of a logistic fit of the outcome on the logit of the predictions.

    A well calibrated model has slope 1 and intercept 0; a slope below 1 means over-confident predictions.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.asarray(y_true, dtype=int)
    if np.unique(y).size < 2:
        return float("nan"), float("nan")
    p = np.clip(np.asarray(probability, dtype=float), 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf, max_iter=1000).fit(logit, y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


@dataclasses.dataclass(frozen=True)
class CauseRow:
    """How the ranking treats the homes of one true cause."""

    cause: str
    homes: int
    mean_score: float
    in_top_k: int
    share_in_top_k: float
    cause_named: int


@dataclasses.dataclass(frozen=True)
class EvaluationReport:
    """The figures of one evaluation (see :func:`evaluate_ranking`)."""

    homes: int
    positives: int
    unscored: int
    capacity_pct: float
    k: int
    roc_auc: float
    precision_at_k: float
    recall_at_k: float
    brier: float
    calibration_error: float
    calibration_slope: float
    calibration_intercept: float
    by_cause: list[CauseRow]
    model_names: list[str]
    y_true: np.ndarray = dataclasses.field(repr=False)
    score: np.ndarray = dataclasses.field(repr=False)
    probability: np.ndarray = dataclasses.field(repr=False)

    def summary(self) -> dict[str, float | int | str]:
        """The headline figures as a flat mapping."""
        return {
            "homes": self.homes,
            "damp homes": self.positives,
            "homes without a score": self.unscored,
            "ROC AUC": round(self.roc_auc, 3),
            f"precision at top {self.capacity_pct:g} % ({self.k} homes)": round(self.precision_at_k, 3),
            f"recall at top {self.capacity_pct:g} %": round(self.recall_at_k, 3),
            "Brier score": round(self.brier, 3),
            "calibration error (ECE)": round(self.calibration_error, 3),
            "calibration slope": round(self.calibration_slope, 2),
            "model": ", ".join(self.model_names),
        }


def evaluate_ranking(
    scored: pd.DataFrame,
    truth: pd.DataFrame,
    capacity_pct: float = 10.0,
) -> EvaluationReport:
    """Compare stored risk with the truth.

    Parameters
    ----------
    scored : pandas.DataFrame
        Indexed by UPRN: ``score`` (0-100, NaN where none), ``cause`` (predicted, may be empty) and
        ``model_name``.
    truth : pandas.DataFrame
        Indexed by UPRN: ``damp_prone`` (bool) and ``cause`` (true cause, ``none`` for healthy homes),
        as from :func:`analytics.labels.read_truth_csv`.
    capacity_pct : float, default 10
        Share of homes the team can inspect. [%]

    Returns
    -------
    EvaluationReport
        Over the homes in the truth; a home without a score ranks last. The score divided by 100 is
        treated as a probability for the calibration figures (it is one when a trained model scored).

    Raises
    ------
    OutcomesError
        If no home of the truth was scored, or the truth has only one class.
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score

    joined = truth.join(scored, how="left", suffixes=("", "_predicted"))
    if joined["score"].notna().sum() == 0:
        raise OutcomesError("none of the homes in the truth file has a risk score; run 'dampwatch score' first")
    y = joined["damp_prone"].to_numpy(dtype=bool)
    if np.unique(y).size < 2:
        raise OutcomesError("the truth file needs both damp and healthy homes to evaluate a ranking")
    score = joined["score"].to_numpy(dtype=float)
    ranked = np.where(np.isfinite(score), score, -1.0)
    probability = np.clip(np.where(np.isfinite(score), score, 0.0) / 100.0, 0.0, 1.0)
    precision, recall, k = precision_recall_at_k(y, ranked, capacity_pct)
    slope, intercept = calibration_slope_intercept(y, probability)
    top = np.zeros(len(y), dtype=bool)
    top[np.argsort(-ranked, kind="stable")[:k]] = True
    rows = []
    predicted_cause = joined.get("cause_predicted", pd.Series("", index=joined.index)).fillna("")
    for cause, members in joined.groupby("cause").groups.items():
        mask = joined.index.isin(members)
        rows.append(CauseRow(
            cause=str(cause),
            homes=int(mask.sum()),
            mean_score=float(np.nanmean(score[mask])) if np.isfinite(score[mask]).any() else float("nan"),
            in_top_k=int(top[mask].sum()),
            share_in_top_k=float(top[mask].mean()),
            cause_named=int((predicted_cause[mask] == cause).sum()) if cause != "none" else 0,
        ))
    rows.sort(key=lambda row: (row.cause == "none", row.cause))
    models = sorted(set(joined["model_name"].dropna())) if "model_name" in joined else []
    return EvaluationReport(
        homes=len(y),
        positives=int(y.sum()),
        unscored=int((~np.isfinite(score)).sum()),
        capacity_pct=capacity_pct,
        k=k,
        roc_auc=float(roc_auc_score(y, ranked)),
        precision_at_k=precision,
        recall_at_k=recall,
        brier=float(brier_score_loss(y, probability)),
        calibration_error=expected_calibration_error(y, probability),
        calibration_slope=slope,
        calibration_intercept=intercept,
        by_cause=rows,
        model_names=models,
        y_true=y,
        score=ranked,
        probability=probability,
    )


def write_plots(report: EvaluationReport, directory: Path) -> list[Path]:
    """Write ``roc.png``, ``calibration.png`` and ``precision_at_k.png`` for a report; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    directory.mkdir(parents=True, exist_ok=True)
    paths = []

    fpr, tpr, _ = roc_curve(report.y_true, report.score)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"risk score (AUC {report.roc_auc:.2f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC: damp homes found")
    ax.legend(loc="lower right")
    paths.append(directory / "roc.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    bins = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    which = np.minimum((report.probability * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    centres, observed, sizes = [], [], []
    for b in range(CALIBRATION_BINS):
        members = which == b
        if members.any():
            centres.append(report.probability[members].mean())
            observed.append(report.y_true[members].mean())
            sizes.append(int(members.sum()))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.plot(centres, observed, marker="o", label=f"score / 100 (ECE {report.calibration_error:.2f})")
    for x, y, n in zip(centres, observed, sizes, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set(xlabel="predicted chance", ylabel="share that are damp", title="Calibration", xlim=(0, 1),
           ylim=(0, 1), xticks=bins[::2])
    ax.legend(loc="upper left")
    paths.append(directory / "calibration.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    shares = np.arange(1, 101)
    precision = [precision_recall_at_k(report.y_true, report.score, k)[0] for k in shares.tolist()]
    recall = [precision_recall_at_k(report.y_true, report.score, k)[1] for k in shares.tolist()]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(shares, precision, label="precision")
    ax.plot(shares, recall, label="recall")
    ax.axvline(report.capacity_pct, linestyle=":", color="black", label=f"capacity {report.capacity_pct:g} %")
    ax.axhline(report.positives / report.homes, linestyle="--", color="grey", label="share damp (random)")
    ax.set(xlabel="share of homes inspected, highest risk first [%]", ylabel="share", ylim=(0, 1.02),
           title="Precision and recall at k")
    ax.legend(loc="center right")
    paths.append(directory / "precision_at_k.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    logger.info("wrote evaluation plots to %s", directory)
    return paths
