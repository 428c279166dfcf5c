"""What really happened in homes, for training and judging risk: inspection outcomes and simulator truth."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
from pathlib import Path
from typing import Final

import pandas as pd

from analytics.errors import OutcomesError
from core.causes import CAUSES
from core.errors import ValidationError
from core.model import normalise_uprn

__all__ = ["OUTCOMES_COLUMNS", "file_sha256", "read_outcomes_csv", "read_truth_csv"]

logger = logging.getLogger(__name__)

OUTCOMES_COLUMNS: Final = ("uprn", "date", "mould_found", "severity", "cause", "room")
"""Header of an inspection outcomes file; ``severity``, ``cause`` and ``room`` may be blank."""
OUTCOMES_REQUIRED: Final = ("uprn", "date", "mould_found")
TRUTH_REQUIRED_COLUMNS: Final = ("uprn", "property_damp_prone", "property_cause")
_YES: Final = {"yes", "y", "true", "1"}
_NO: Final = {"no", "n", "false", "0"}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, for the record of what a model was trained on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_outcomes_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Read inspection outcomes: one row per inspection.

    Parameters
    ----------
    path : pathlib.Path
        CSV with the header :data:`OUTCOMES_COLUMNS` (``uprn``, ``date`` as YYYY-MM-DD and ``mould_found``
        as yes/no are required).

    Returns
    -------
    outcomes : pandas.DataFrame
        ``uprn`` (normalised), ``date`` (datetime.date), ``mould_found`` (bool), ``severity``, ``cause``,
        ``room`` (strings, empty when blank).
    errors : list of str
        Lines left out, as "line N: why".

    Raises
    ------
    OutcomesError
        If the file cannot be read, lacks a required column or has no usable row.
    """
    records, errors = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in OUTCOMES_REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise OutcomesError(
                    f"{path} has no column(s) {', '.join(missing)}; the header must be {','.join(OUTCOMES_COLUMNS)}"
                )
            for row in reader:
                try:
                    uprn = normalise_uprn(row.get("uprn") or "")
                    date = dt.date.fromisoformat((row.get("date") or "").strip())
                    found_text = (row.get("mould_found") or "").strip().lower()
                    if found_text not in _YES | _NO:
                        raise ValidationError(f"mould_found must be yes or no, not {row.get('mould_found')!r}")
                except (ValidationError, ValueError) as exc:
                    errors.append(f"line {reader.line_num}: {exc}")
                    continue
                records.append((uprn, date, found_text in _YES, *((row.get(c) or "").strip()
                                                                   for c in ("severity", "cause", "room"))))
    except OSError as exc:
        raise OutcomesError(f"cannot read the outcomes file {path}: {exc.strerror or exc}") from exc
    if not records:
        raise OutcomesError(f"{path} has no usable inspection outcome" + (f" ({errors[0]})" if errors else ""))
    frame = pd.DataFrame(records, columns=list(OUTCOMES_COLUMNS))
    return frame, errors


def read_truth_csv(path: Path) -> pd.DataFrame:
    """One row per property from a simulator ``truth.csv`` (one row per room): damp-prone flag and cause.

    Returns
    -------
    pandas.DataFrame
        Indexed by UPRN: ``damp_prone`` (bool) and ``cause`` (``none`` for healthy homes).

    Raises
    ------
    OutcomesError
        If the file cannot be read or lacks :data:`TRUTH_REQUIRED_COLUMNS`.
    """
    try:
        frame = pd.read_csv(path, dtype={"uprn": str})
    except (OSError, ValueError) as exc:
        raise OutcomesError(f"cannot read the truth file {path}: {exc}") from exc
    missing = [c for c in TRUTH_REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise OutcomesError(
            f"{path} has no column(s) {', '.join(missing)}; give a truth.csv written by 'dampwatch simulate' "
            f"(columns {', '.join(TRUTH_REQUIRED_COLUMNS)} at least)"
        )
    per_property = frame.groupby("uprn", sort=True).agg(
        damp_prone=("property_damp_prone", "first"), cause=("property_cause", "first")
    )
    per_property["damp_prone"] = per_property["damp_prone"].astype(str).str.lower().isin(["true", "1", "yes"])
    per_property["cause"] = per_property["cause"].fillna("none").astype(str).str.strip()
    unknown = sorted(set(per_property["cause"]) - set(CAUSES) - {"none", ""})
    if unknown:
        raise OutcomesError(
            f"{path} names cause(s) {', '.join(repr(c) for c in unknown)} that DampWatch does not know; use "
            f"{', '.join(CAUSES)} or none (the codes of core/causes.py), so that no home is silently counted "
            "as a wrong cause"
        )
    per_property.loc[per_property["cause"] == "", "cause"] = "none"
    return per_property
