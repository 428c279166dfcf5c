"""Inspection findings drawn from the ground truth, with the misses and mistakes real inspectors make.

A risk model is judged against what inspectors record, not against the
physics, so these outcomes are deliberately imperfect: early growth is often
missed, severity is sometimes mis-graded, and the cause is sometimes recorded
wrongly (most often as "high moisture load", the "lifestyle" verdict the
Housing Ombudsman warns against).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulator.estate import CAUSES

if TYPE_CHECKING:
    from simulator.run import Simulation

logger = logging.getLogger(__name__)

#: Header of the outcomes CSV, exactly.
OUTCOMES_CSV_COLUMNS = ("uprn", "date", "mould_found", "severity", "cause", "room")
SEVERITIES = ("none", "minor", "moderate", "severe")
#: Share of properties the inspectors get into.
ACCESS_PROBABILITY = 0.9
#: Chance an inspector records the true cause when there is one.
CORRECT_CAUSE_PROBABILITY = 0.7
#: Chance severity is recorded one grade off.
MISGRADE_PROBABILITY = 0.15
#: Chance the finding is recorded against another room than the worst one.
OTHER_ROOM_PROBABILITY = 0.1


def detection_probability(mould_index):
    """Chance an inspector finds and records mould, by the true VTT index of the worst room.

    Parameters
    ----------
    mould_index : numeric
        True mould index at the worst cold spot on the day (0-6).

    Returns
    -------
    numeric
        0.04 below 0.5 (a false alarm or old staining), 0.3 for traces
        (0.5-1), 0.8 for early growth (1-3: one early case in five is
        missed), 0.97 once growth is visible (3 and above).
    """
    m = np.asarray(mould_index, dtype=float)
    return np.select([m < 0.5, m < 1.0, m < 3.0], [0.04, 0.3, 0.8], 0.97)


def _severity(rng: np.random.Generator, mould_index: float) -> str:
    grade = 1 if mould_index < 1.5 else 2 if mould_index < 3.5 else 3
    if rng.random() < MISGRADE_PROBABILITY:
        grade = int(np.clip(grade + rng.choice([-1, 1]), 1, 3))
    return SEVERITIES[grade]


def _recorded_cause(rng: np.random.Generator, true_cause: str) -> str:
    if true_cause != "none" and rng.random() < CORRECT_CAUSE_PROBABILITY:
        return true_cause
    wrong = [c for c in CAUSES if c != true_cause]
    if "high_moisture_load" in wrong and rng.random() < 0.5:
        return "high_moisture_load"  # the "lifestyle" verdict
    return str(rng.choice(wrong))


def inspection_outcomes(sim: Simulation, seed: int) -> pd.DataFrame:
    """One inspection per property the inspectors got into, on a day within the window.

    Parameters
    ----------
    sim : Simulation
        A finished simulation.
    seed : int
        Seed of the inspectors' randomness (dates, misses, mistakes).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OUTCOMES_CSV_COLUMNS`, sorted by date then UPRN:
        ``date`` (ISO date), ``mould_found`` (``yes``/``no``), ``severity``
        (none, minor, moderate, severe), ``cause`` (one of the five causes, or
        ``none`` when no mould was found) and ``room`` (blank when none found).
        About 10 % of properties are not inspected (no access).
    """
    rng = np.random.default_rng([sim.estate.seed, 9, seed])
    rooms = sim.window.rooms
    start_s = int(sim.start.timestamp())
    span_s = max(1, int((sim.end - sim.start).total_seconds()))
    rows = []
    for home in sim.estate.homes:
        visited = rng.random() < ACCESS_PROBABILITY
        when_s = start_s + int(rng.integers(0, span_s))
        u = rng.random(4)
        if not visited:
            continue
        hour = int(np.clip(np.searchsorted(sim.mould_hours_s, when_s), 0, sim.mould_index.shape[1] - 1))
        indoor = list(home.indoor_rooms)
        index = np.array([sim.mould_index[rooms.index[(home.uprn, room.slug)], hour] for room in indoor])
        worst = int(np.argmax(index))
        found = u[0] < float(detection_probability(index[worst]))
        date = dt.datetime.fromtimestamp(when_s, dt.UTC).date().isoformat()
        if not found:
            rows.append((home.uprn, date, "no", "none", "none", ""))
            continue
        room = indoor[worst]
        if u[1] < OTHER_ROOM_PROBABILITY and len(indoor) > 1:
            room = indoor[int(rng.choice([i for i in range(len(indoor)) if i != worst]))]
        rows.append(
            (
                home.uprn,
                date,
                "yes",
                _severity(rng, float(index[worst])),
                _recorded_cause(rng, home.cause),
                room.name,
            )
        )
    frame = pd.DataFrame(rows, columns=list(OUTCOMES_CSV_COLUMNS))
    return frame.sort_values(["date", "uprn"], kind="stable").reset_index(drop=True)


def write_outcomes_csv(sim: Simulation, path: str | Path, seed: int) -> Path:
    """Write :func:`inspection_outcomes` as CSV (header :data:`OUTCOMES_CSV_COLUMNS`).

    Parameters
    ----------
    sim : Simulation
        A finished simulation.
    path : str or pathlib.Path
        Where to write.
    seed : int
        Seed of the inspectors' randomness.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    frame = inspection_outcomes(sim, seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(OUTCOMES_CSV_COLUMNS)
        writer.writerows(frame.itertuples(index=False, name=None))
    logger.info(
        "wrote %d inspection outcomes (%d with mould) to %s",
        len(frame),
        int((frame["mould_found"] == "yes").sum()),
        path,
    )
    return path
