"""A trained model of damp and mould risk, learnt from inspection outcomes.

The physics score says how damp a home's cold spots are; inspection records say where inspectors
actually found mould. This module learns the second from the first, so that the ranking of homes for
proactive inspection follows what inspectors find. The model *prioritises* inspections; it replaces no
inspector, and its score never reaches a tenant as a verdict.

Following scikit-learn's own advice:

* :func:`build_pipeline` returns one :class:`~sklearn.pipeline.Pipeline`: a
  :class:`~sklearn.compose.ColumnTransformer` over the property features and the archetype, then a
  logistic regression. No lambdas, so it persists.
* :func:`train` splits by property (:class:`~sklearn.model_selection.GroupKFold`): no home is in both
  the data a model learns from and the data it is judged on. The probabilities are calibrated
  (sigmoid) on folds the model did not fit, and the decision threshold is chosen explicitly for the
  team's inspection capacity (the top k % of homes), wrapped in a
  :class:`~sklearn.model_selection.FixedThresholdClassifier`.
* :func:`save_model` writes the model with skops, a JSON metadata sidecar (schema version, data
  snapshot and hash, git commit, library versions, cross-validated scores, quality gate) and a model
  card; :func:`load_model` reads it back with an explicit list of trusted types.

Scoring uses a model only when it passes its own quality gate (:data:`QUALITY_GATE`); otherwise the
physics score stands, and the output says which.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import platform
import string
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

import numpy as np
import pandas as pd

from analytics.errors import ModelError
from analytics.evaluation import (
    calibration_slope_intercept,
    expected_calibration_error,
    precision_recall_at_k,
)
from analytics.features import RoomFeatures
from analytics.risk import Assessment, RoomTable

if TYPE_CHECKING:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline

__all__ = [
    "CATEGORICAL_FEATURES",
    "METADATA_SCHEMA_VERSION",
    "MODEL_NAME",
    "NUMERIC_FEATURES",
    "QUALITY_GATE",
    "TRUSTED_TYPES",
    "LoadedModel",
    "QualityGate",
    "TrainedModel",
    "build_pipeline",
    "latest_model",
    "load_model",
    "property_features",
    "quality_gate",
    "save_model",
    "train",
]

logger = logging.getLogger(__name__)

MODEL_NAME: Final = "dampwatch-mould-risk"
METADATA_SCHEMA_VERSION: Final = 1
MODEL_CARD_TEMPLATE: Final = Path(__file__).with_name("model_card.md.template")

NUMERIC_FEATURES: Final = (
    "physics_score",
    "mould_index",
    "mould_index_max",
    "mould_index_trend",
    "share_surface_rh_over_80",
    "days_surface_rh_over_80",
    "share_rh_over_70",
    "mean_temperature_c",
    "share_below_16",
    "humidity_class",
    "vapour_pressure_excess_pa",
    "ventilation_remaining",
    "leak_excess_pa",
    "coverage",
    "build_year",
    "floor_level",
)
"""Property features the model reads. Room features enter as their worst value over the home's rooms
(highest mould index, damp share, humidity; the home's mean temperature)."""

CATEGORICAL_FEATURES: Final = ("wall_type", "dwelling")
"""Archetype features: wall type, and ``house`` or ``flat`` (from the floor level)."""


class QualityGate(TypedDict):
    """The thresholds of :data:`QUALITY_GATE`."""

    min_roc_auc: float
    max_calibration_error: float
    calibration_slope: tuple[float, float]
    min_auc_gain_over_physics: float
    max_calibration_error_over_physics: float


QUALITY_GATE: Final[QualityGate] = {
    "min_roc_auc": 0.70,
    "max_calibration_error": 0.10,
    "calibration_slope": (0.5, 2.0),
    "min_auc_gain_over_physics": 0.005,
    "max_calibration_error_over_physics": 0.01,
}
"""A model is used for scoring only if its cross-validated ROC AUC reaches ``min_roc_auc``, its expected
calibration error is at most ``max_calibration_error`` and its calibration slope lies within
``calibration_slope``, and it beats the physics score on the same held-out folds: its ROC AUC at least
``min_auc_gain_over_physics`` higher than the physics score's, and its calibration error no more than
``max_calibration_error_over_physics`` above that of the physics score calibrated on the same training
folds (a one-feature logistic fit). Otherwise the physics score is used and the model card says why."""

TRUSTED_TYPES: Final = (
    "numpy.dtype",
    "numpy.ndarray",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.model_selection._classification_threshold.FixedThresholdClassifier",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.utils._bunch.Bunch",
)
"""Every type a saved DampWatch model may contain; :func:`load_model` refuses a file holding any other."""


# --------------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------------


def property_features(
    features: RoomFeatures,
    assessment: Assessment,
    rooms: RoomTable,
    archetype: pd.DataFrame,
) -> pd.DataFrame:
    """The model's input: one row per property, from its rooms' features and its archetype.

    Parameters
    ----------
    features : RoomFeatures
        Room features of the batch.
    assessment : Assessment
        The physics assessment of the same batch (:func:`analytics.risk.assess`).
    rooms : RoomTable
        Which property each room belongs to.
    archetype : pandas.DataFrame
        One row per property, in property order: ``build_year``, ``wall_type``, ``floor_level`` (NaN or
        None where unknown; no floor level means a house).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`NUMERIC_FEATURES` then :data:`CATEGORICAL_FEATURES`, one row per property.
    """
    starts = rooms.starts

    def worst(name: str) -> np.ndarray:
        values = np.where(np.isfinite(features[name]), features[name], -np.inf)
        best = np.maximum.reduceat(values, starts) if values.size else values
        return np.where(np.isfinite(best), best, np.nan)

    floor = pd.to_numeric(archetype["floor_level"], errors="coerce").to_numpy(dtype=float)
    frame = pd.DataFrame({
        "physics_score": assessment.score if assessment.score_with_gaps is None else assessment.score_with_gaps,
        "mould_index": worst("mould_index"),
        "mould_index_max": worst("mould_index_max"),
        "mould_index_trend": worst("mould_index_trend"),
        "share_surface_rh_over_80": worst("share_surface_rh_over_80"),
        "days_surface_rh_over_80": worst("days_surface_rh_over_80"),
        "share_rh_over_70": worst("share_rh_over_70"),
        "mean_temperature_c": assessment.mean_temperature_c,
        "share_below_16": assessment.share_below_16,
        "humidity_class": assessment.humidity_class,
        "vapour_pressure_excess_pa": worst("vapour_pressure_excess_pa"),
        "ventilation_remaining": assessment.ventilation_remaining,
        "leak_excess_pa": assessment.leak_excess_pa,
        "coverage": assessment.coverage,
        "build_year": pd.to_numeric(archetype["build_year"], errors="coerce").to_numpy(dtype=float),
        "floor_level": floor,
        "wall_type": archetype["wall_type"].astype(object).where(archetype["wall_type"].notna(), None).to_numpy(),
        "dwelling": np.where(np.isfinite(floor), "flat", "house").astype(object),
    })
    return frame[list(NUMERIC_FEATURES) + list(CATEGORICAL_FEATURES)]


# --------------------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------------------


def build_pipeline(random_state: int | None = 0) -> Pipeline:
    """The untrained model: column preparation, then a regularised logistic regression.

    Parameters
    ----------
    random_state : int or None, default 0
        Seed of the classifier's solver (the fit is deterministic with the default solver; the seed is
        kept so that a future change of classifier stays reproducible).

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``columns`` (a ColumnTransformer: numeric features imputed with their median plus a missing-value
        indicator, then standardised; archetype categories imputed as ``unknown`` and one-hot encoded,
        unknown categories ignored) then ``classifier``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)),
        ("scale", StandardScaler()),
    ])
    categorical = Pipeline([
        ("impute", SimpleImputer(strategy="constant", fill_value="unknown", keep_empty_features=True)),
        ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ])
    columns = ColumnTransformer(
        [("numeric", numeric, list(NUMERIC_FEATURES)), ("archetype", categorical, list(CATEGORICAL_FEATURES))],
        verbose_feature_names_out=False,
    )
    classifier = LogisticRegression(C=0.3, solver="newton-cholesky", max_iter=200, random_state=random_state)
    return Pipeline([("columns", columns), ("classifier", classifier)])


def _calibrated(
    X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, n_splits: int, random_state: int | None
) -> CalibratedClassifierCV:
    """The pipeline calibrated by sigmoid on folds it did not fit (an ensemble over property folds)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import GroupKFold

    folds = min(n_splits, np.unique(groups).size)
    splits = [(train.astype(np.int64), test.astype(np.int64))
              for train, test in GroupKFold(n_splits=folds).split(X, y, groups)]
    for train_rows, _ in splits:
        if np.unique(y[train_rows]).size < 2:
            raise ModelError(
                "a training fold holds only one outcome (all mould or none); add more inspection outcomes "
                "with both results"
            )
    model = CalibratedClassifierCV(build_pipeline(random_state), method="sigmoid", cv=splits, ensemble=True)
    model.fit(X, y)
    # The fold indices were only needed to fit; do not keep them in the saved model.
    model.cv = folds
    return model


@dataclasses.dataclass
class TrainedModel:
    """A trained, calibrated, thresholded model and what is known about it."""

    estimator: Any
    metadata: dict[str, Any]
    oof_probability: np.ndarray


def _libraries() -> dict[str, str]:
    import scipy
    import sklearn
    import skops

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "skops": skops.__version__,
    }


def _git_commit() -> str:
    """The git commit of the DampWatch checkout (``-dirty`` if changed), or ``unknown``."""
    root = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=root, capture_output=True,
                               timeout=10).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def quality_gate(metrics: dict[str, float], gate: QualityGate = QUALITY_GATE) -> tuple[bool, list[str]]:
    """Whether cross-validated metrics pass the gate, and the failures in words."""
    failures = []
    auc = metrics.get("roc_auc", float("nan"))
    if not auc >= gate["min_roc_auc"]:
        failures.append(f"cross-validated ROC AUC {auc:.3f} is below {gate['min_roc_auc']}")
    ece = metrics.get("calibration_error", float("nan"))
    if not ece <= gate["max_calibration_error"]:
        failures.append(f"calibration error {ece:.3f} is above {gate['max_calibration_error']}")
    low, high = gate["calibration_slope"]
    slope = metrics.get("calibration_slope", float("nan"))
    if not low <= slope <= high:
        failures.append(f"calibration slope {slope:.2f} is outside {low}-{high}")
    physics_auc = metrics.get("physics_roc_auc")
    if physics_auc is not None and not auc >= physics_auc + gate["min_auc_gain_over_physics"]:
        failures.append(f"cross-validated ROC AUC {auc:.3f} does not beat the physics score's {physics_auc:.3f} "
                        f"on the same folds (by at least {gate['min_auc_gain_over_physics']})")
    physics_ece = metrics.get("physics_calibration_error")
    if physics_ece is not None and not ece <= physics_ece + gate["max_calibration_error_over_physics"]:
        failures.append(f"calibration error {ece:.3f} is worse than the calibrated physics score's "
                        f"{physics_ece:.3f} on the same folds")
    return not failures, failures


def _physics_out_of_fold(X: pd.DataFrame, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The physics score turned into a probability on each held-out fold by a logistic fit on the others."""
    from sklearn.linear_model import LogisticRegression

    physics = np.nan_to_num(X["physics_score"].to_numpy(dtype=float), nan=0.0).reshape(-1, 1) / 100.0
    oof = np.full(len(y), np.nan)
    for train_rows, test_rows in splits:
        if np.unique(y[train_rows]).size < 2:
            oof[test_rows] = y[train_rows].mean()
            continue
        fit = LogisticRegression(C=1e6, max_iter=1000).fit(physics[train_rows], y[train_rows])
        oof[test_rows] = fit.predict_proba(physics[test_rows])[:, 1]
    return oof


def train(
    X: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    capacity_pct: float = 10.0,
    n_splits: int = 5,
    random_state: int | None = 0,
    data: dict[str, Any] | None = None,
) -> TrainedModel:
    """Train, cross-validate, calibrate and threshold the model.

    Parameters
    ----------
    X : pandas.DataFrame
        Features from :func:`property_features`, one row per inspection.
    y : numpy.ndarray of bool
        Whether the inspection found mould.
    groups : numpy.ndarray
        The UPRN of each row: folds never split a property.
    capacity_pct : float, default 10
        Share of homes the team can inspect; the decision threshold flags that share. [%]
    n_splits : int, default 5
        Property folds for cross-validation (and, inside each, for calibration).
    random_state : int or None, default 0
        Passed to :func:`build_pipeline`.
    data : dict, optional
        Description of the training data for the metadata (source file, hash, dates).

    Returns
    -------
    TrainedModel
        The fitted :class:`~sklearn.model_selection.FixedThresholdClassifier` (its ``predict_proba`` is
        the calibrated chance that an inspection finds mould), metadata with cross-validated scores and
        the quality gate, and the out-of-fold probabilities.

    Raises
    ------
    ModelError
        If there are too few inspections, properties or positive outcomes to train and judge a model.
    """
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import brier_score_loss, roc_auc_score
    from sklearn.model_selection import FixedThresholdClassifier, GroupKFold

    y = np.asarray(y, dtype=bool)
    groups = np.asarray(groups)
    n_groups = np.unique(groups).size
    positives = int(y.sum())
    if len(y) < 30 or n_groups < n_splits or min(positives, len(y) - positives) < 2 * n_splits:
        raise ModelError(
            f"too few outcomes to train: {len(y)} inspections of {n_groups} homes, {positives} with mould; "
            f"a model needs at least 30 inspections from {n_splits} or more homes, with at least "
            f"{2 * n_splits} with mould and {2 * n_splits} without"
        )
    oof = np.full(len(y), np.nan)
    fold_auc = []
    folds = list(GroupKFold(n_splits=n_splits).split(X, y, groups))
    physics_oof = _physics_out_of_fold(X, y, folds)
    for train_rows, test_rows in folds:
        model = _calibrated(X.iloc[train_rows], y[train_rows], groups[train_rows], n_splits, random_state)
        oof[test_rows] = model.predict_proba(X.iloc[test_rows])[:, 1]
        if np.unique(y[test_rows]).size == 2:
            fold_auc.append(float(roc_auc_score(y[test_rows], oof[test_rows])))
    precision, recall, k = precision_recall_at_k(y, oof, capacity_pct)
    slope, intercept = calibration_slope_intercept(y, oof)
    metrics: dict[str, Any] = {  # numbers, and the list of each fold's ROC AUC
        "roc_auc": float(roc_auc_score(y, oof)),
        "roc_auc_folds": fold_auc,
        "precision_at_k": precision,
        "recall_at_k": recall,
        "k": k,
        "brier": float(brier_score_loss(y, oof)),
        "calibration_error": expected_calibration_error(y, oof),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "physics_roc_auc": float(roc_auc_score(y, np.nan_to_num(X["physics_score"].to_numpy(dtype=float),
                                                                 nan=-1.0))),
        "physics_calibration_error": expected_calibration_error(y, physics_oof),
    }
    passed, failures = quality_gate(metrics)
    threshold = float(np.quantile(oof, 1.0 - capacity_pct / 100.0))
    calibrated = _calibrated(X, y, groups, n_splits, random_state)
    estimator = FixedThresholdClassifier(FrozenEstimator(calibrated), threshold=threshold,
                                         response_method="predict_proba")
    estimator.fit(X, y)
    created = dt.datetime.now(dt.UTC).replace(microsecond=0)
    metadata = {
        "schema_version": METADATA_SCHEMA_VERSION,
        "model_name": MODEL_NAME,
        "version": created.strftime("%Y%m%dT%H%M%SZ"),
        "created_at": created.isoformat(),
        "intended_use": "Prioritise proactive damp and mould inspections; it replaces no inspector.",
        "label": "an inspection found mould (mould_found = yes)",
        "features": {"numeric": list(NUMERIC_FEATURES), "categorical": list(CATEGORICAL_FEATURES)},
        "capacity_pct": capacity_pct,
        "threshold": threshold,
        "data": {
            "inspections": len(y),
            "properties": int(n_groups),
            "with_mould": positives,
            "feature_matrix_sha256": hashlib.sha256(
                pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes()
            ).hexdigest(),
            **(data or {}),
        },
        "cross_validation": {"splitter": "GroupKFold by UPRN", "n_splits": n_splits, **metrics},
        "quality_gate": {"passed": passed, "failures": failures, "thresholds": {
            "min_roc_auc": QUALITY_GATE["min_roc_auc"],
            "max_calibration_error": QUALITY_GATE["max_calibration_error"],
            "calibration_slope": list(QUALITY_GATE["calibration_slope"]),
            "min_auc_gain_over_physics": QUALITY_GATE["min_auc_gain_over_physics"],
            "max_calibration_error_over_physics": QUALITY_GATE["max_calibration_error_over_physics"],
        }},
        "git_commit": _git_commit(),
        "libraries": _libraries(),
    }
    logger.info("trained %s %s: CV ROC AUC %.3f, precision at %g %% %.3f, gate %s", MODEL_NAME,
                metadata["version"], metrics["roc_auc"], capacity_pct, precision, "passed" if passed else "failed")
    return TrainedModel(estimator=estimator, metadata=metadata, oof_probability=oof)


# --------------------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model read back from disk, with its metadata."""

    estimator: Any
    metadata: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return str(self.metadata["model_name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def passes_gate(self) -> bool:
        return bool(self.metadata["quality_gate"]["passed"])

    def probability(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated chance that an inspection finds mould, per row of :func:`property_features`."""
        probability: np.ndarray = self.estimator.predict_proba(X)[:, 1]
        return probability


def _model_card(metadata: dict[str, Any]) -> str:
    cv = metadata["cross_validation"]
    gate = metadata["quality_gate"]
    values = {
        "name": metadata["model_name"],
        "version": metadata["version"],
        "created_at": metadata["created_at"],
        "git_commit": metadata["git_commit"],
        "inspections": metadata["data"]["inspections"],
        "properties": metadata["data"]["properties"],
        "with_mould": metadata["data"]["with_mould"],
        "source": metadata["data"].get("outcomes_file", "not recorded"),
        "source_sha256": metadata["data"].get("outcomes_sha256", "not recorded"),
        "n_splits": cv["n_splits"],
        "roc_auc": f"{cv['roc_auc']:.3f}",
        "roc_auc_folds": ", ".join(f"{v:.3f}" for v in cv["roc_auc_folds"]),
        "capacity_pct": f"{metadata['capacity_pct']:g}",
        "precision_at_k": f"{cv['precision_at_k']:.3f}",
        "recall_at_k": f"{cv['recall_at_k']:.3f}",
        "brier": f"{cv['brier']:.3f}",
        "ece": f"{cv['calibration_error']:.3f}",
        "slope": f"{cv['calibration_slope']:.2f}",
        "physics_auc": (f"{cv['physics_roc_auc']:.3f}" if "physics_roc_auc" in cv else "not measured"),
        "physics_ece": (f"{cv['physics_calibration_error']:.3f}" if "physics_calibration_error" in cv
                        else "not measured"),
        "threshold": f"{metadata['threshold']:.3f}",
        "gate": "passed" if gate["passed"] else "failed: " + "; ".join(gate["failures"]),
        "min_auc": gate["thresholds"]["min_roc_auc"],
        "max_ece": gate["thresholds"]["max_calibration_error"],
        "slope_range": "-".join(str(v) for v in gate["thresholds"]["calibration_slope"]),
        "numeric": ", ".join(metadata["features"]["numeric"]),
        "categorical": ", ".join(metadata["features"]["categorical"]),
        "libraries": ", ".join(f"{k} {v}" for k, v in metadata["libraries"].items()),
    }
    return string.Template(MODEL_CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(values)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_model(trained: TrainedModel, directory: Path) -> dict[str, Path]:
    """Write the model (skops), its metadata (JSON) and its model card (markdown) into ``directory``.

    Returns
    -------
    dict
        ``model``, ``metadata`` and ``card`` paths, named ``<name>-<version>.skops``, ``.json`` and ``.md``.
    """
    import skops.io as sio

    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{trained.metadata['model_name']}-{trained.metadata['version']}"
    paths = {"model": directory / f"{stem}.skops", "metadata": directory / f"{stem}.json",
             "card": directory / f"{stem}.md"}
    sio.dump(trained.estimator, paths["model"])
    untrusted = set(sio.get_untrusted_types(file=paths["model"])) - set(TRUSTED_TYPES)
    if untrusted:
        paths["model"].unlink()
        raise ModelError(f"the model holds types outside the trusted list: {sorted(untrusted)}; "
                         "add them to analytics.risk_model.TRUSTED_TYPES after review")
    metadata = {**trained.metadata, "model_file": paths["model"].name, "model_sha256": _sha256(paths["model"])}
    paths["metadata"].write_text(json.dumps(metadata, indent=2, sort_keys=False), encoding="utf-8")
    paths["card"].write_text(_model_card(metadata), encoding="utf-8")
    logger.info("saved %s to %s", stem, directory)
    return paths


def load_model(metadata_path: Path) -> LoadedModel:
    """Read a model saved by :func:`save_model`, from its metadata file.

    Raises
    ------
    ModelError
        If the metadata is unreadable or of an unknown schema version, the model file is missing or has
        changed since it was saved, or it holds a type outside :data:`TRUSTED_TYPES`.
    """
    import skops.io as sio

    try:
        metadata = json.loads(Path(metadata_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read model metadata {metadata_path}: {exc}") from exc
    if metadata.get("schema_version") != METADATA_SCHEMA_VERSION:
        raise ModelError(
            f"{metadata_path} has metadata schema version {metadata.get('schema_version')!r}; this DampWatch "
            f"reads version {METADATA_SCHEMA_VERSION}: retrain with 'dampwatch train'"
        )
    model_path = Path(metadata_path).with_name(metadata["model_file"])
    if not model_path.is_file():
        raise ModelError(f"the model file {model_path} named by {metadata_path} is missing; retrain the model")
    if _sha256(model_path) != metadata.get("model_sha256"):
        raise ModelError(f"{model_path} does not match the hash in {metadata_path}; it changed after training")
    try:
        estimator = sio.load(model_path, trusted=list(TRUSTED_TYPES))
    except Exception as exc:  # skops raises UntrustedTypesFoundException and others
        raise ModelError(f"cannot load {model_path}: {exc}") from exc
    return LoadedModel(estimator=estimator, metadata=metadata, path=model_path)


def latest_model(directory: Path) -> LoadedModel | None:
    """The newest model saved in ``directory`` (by version), or None if there is none."""
    if not directory.is_dir():
        return None
    candidates = sorted(directory.glob(f"{MODEL_NAME}-*.json"))
    if not candidates:
        return None
    return load_model(candidates[-1])
