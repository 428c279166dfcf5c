"""Scoring the estate: readings in, risk per room and property out, history kept in the app database.

:func:`score_rooms` is the array core: hourly conditions of a batch of rooms → day rows
(:func:`analytics.features.summarise_days`) → window features → assessment (:func:`analytics.risk.assess`).
:func:`score_estate` wraps it for ``dampwatch score``: it reads the register and the readings store in
batches of properties, carries every room's mould index on from the state kept in the app database,
applies a trained model when one passes its quality gate, writes each room's day rows, its state and the
risk of every room and property (kept as history), and explains each property's result in words.

Incremental scoring
-------------------
Each room's state records the hour it was processed up to. A run recomputes each room from 00:00 UTC of
the day that hour falls in (the day's start state is kept in its day row), up to the current hour; the
14-day window then adds up kept day rows and fresh ones. As every day row depends only on its own hours,
the 3 hours before them and its start state, an incremental run gives the same risk as a full
recomputation. ``full=True`` (``--full``) recomputes from the first reading within ``history_days``.
Readings that arrive late for a day already scored are picked up by ``rewind_days`` (recompute that many
earlier days too) or ``--full``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from analytics.errors import AnalyticsError
from analytics.fabric import heat_loss_ratio, refined_temperature_factor
from analytics.features import (
    CONTEXT_HOURS,
    DAY_FIELDS,
    HOURS_PER_DAY,
    WINDOW_DAYS,
    HourlyConditions,
    RoomFeatures,
    summarise_days,
    window_features,
)
from analytics.mould import days_to_mould_index
from analytics.registry import (
    OutdoorConditions,
    Registry,
    epoch_hour,
    hour_datetime,
    load_registry,
    outdoor_conditions,
    read_room_hours,
)
from analytics.risk import (
    BANDS,
    CAUSES,
    INSUFFICIENT_DATA,
    WET_ROOM_TYPES,
    Assessment,
    RoomTable,
    assess,
    final_band,
)
from analytics.risk_model import LoadedModel, property_features
from analytics.wording import (
    Explanation,
    MissingRoom,
    PropertyFacts,
    RoomFacts,
    contradictions,
    explain,
    render,
)
from core.db import Database
from core.model import PropertyRisk, Room, RoomDay, RoomMouldState, RoomRisk, ScoringRun
from core.readings import ReadingsStore

__all__ = [
    "DAY_ROWS_KEPT",
    "DEFAULT_HISTORY_DAYS",
    "PHYSICS_MODEL_NAME",
    "PHYSICS_MODEL_VERSION",
    "RoomsResult",
    "ScoreReport",
    "latest_risk",
    "mould_projections",
    "score_estate",
    "score_rooms",
    "training_frame",
    "ventilation_scores",
    "window_rows",
]

logger = logging.getLogger(__name__)

PHYSICS_MODEL_NAME: Final = "dampwatch-physics"
PHYSICS_MODEL_VERSION: Final = "1.0"
DEFAULT_HISTORY_DAYS: Final = 120
"""How far back ``--full`` (and a room scored for the first time) looks for readings. [d]"""
DAY_ROWS_KEPT: Final = 91
"""Day rows kept per room in the app database: the 14-day window, room to rewind, and the dashboard's 90-day
charts of the mould index. A day row takes about 150 bytes in SQLite with its key (measured with SQLite's
``dbstat`` on ``bench/dashboard_latency.py``'s estate: 14.3 MB for 95 850 rows), so 91 days of 10 000 homes'
35 400 rooms is about 480 MB. [d]"""
DEFAULT_CHUNK_PROPERTIES: Final = 500
VULNERABILITY_FLAGS: Final = ("child_under_15", "over_65", "respiratory_condition")
CLIMATOLOGY_REASON_BELOW: Final = 0.5
"""The reasons mention the climatology when less than this share of the driver room's hours had measured
outdoor conditions. [-]"""

REFINE_MIN_CHANGE: Final = 0.02
"""A room is judged again with its refined temperature factor only when it is at least this much lower. [-]"""
CONTRADICTIONS_KEY: Final = "(words that disagree with the band)"
_F = {name: position for position, name in enumerate(DAY_FIELDS)}
_EPOCH_DATE = dt.date(1970, 1, 1)


# --------------------------------------------------------------------------------------------------------
# The array core
# --------------------------------------------------------------------------------------------------------


def window_rows(days: np.ndarray, previous: np.ndarray | None = None, window_days: int = WINDOW_DAYS) -> np.ndarray:
    """The last ``window_days`` day rows of ``previous`` then ``days``, NaN-padded at the front."""
    rows = days if previous is None else np.concatenate([previous, days], axis=1)
    if rows.shape[1] >= window_days:
        return rows[:, -window_days:]
    pad = np.full((rows.shape[0], window_days - rows.shape[1], rows.shape[2]), np.nan)
    return np.concatenate([pad, rows], axis=1)


@dataclasses.dataclass(frozen=True)
class RoomsResult:
    """What :func:`score_rooms` returns: fresh day rows, the new mould state, features and assessment."""

    days: np.ndarray
    state_index: np.ndarray
    state_dry_hours: np.ndarray
    features: RoomFeatures
    assessment: Assessment


def score_rooms(
    conditions: HourlyConditions,
    temperature_factor: np.ndarray | float,
    rooms: RoomTable,
    state_index: np.ndarray | None = None,
    state_dry_hours: np.ndarray | None = None,
    previous_days: np.ndarray | None = None,
    sensitivity: str = "sensitive",
    first_kept_day: int = 0,
) -> RoomsResult:
    """Score a batch of rooms from their hourly conditions: the array core of ``dampwatch score``.

    Parameters
    ----------
    conditions : HourlyConditions
        Hourly conditions from 00:00 UTC of the first day to summarise (after the context hours) to the
        end of the window.
    temperature_factor : numpy.ndarray or float
        f_Rsi of each room's cold spot. [-]
    rooms : RoomTable
        The rooms' properties and types.
    state_index, state_dry_hours : numpy.ndarray, optional
        Mould state of each room at the start of the first day (zeros if omitted).
    previous_days : numpy.ndarray, optional
        Day rows kept from earlier runs for the days just before the first one, (rooms, days, fields).
    sensitivity : str, default "sensitive"
        VTT sensitivity class of the cold surfaces.
    first_kept_day : int, default 0
        Summarise (and return) days from this one on; earlier days only carry the mould index forward.
        Keep at least the last 14 days, the window.

    Returns
    -------
    RoomsResult
        ``days`` holds the rows from ``first_kept_day`` on.
    """
    wet = np.isin(np.asarray(rooms.room_type), WET_ROOM_TYPES)
    days, index, dry = summarise_days(conditions, temperature_factor, wet, state_index, state_dry_hours,
                                      sensitivity, first_kept_day)
    hours_in_last_day = conditions.hours - HOURS_PER_DAY * (-(-conditions.hours // HOURS_PER_DAY) - 1)
    features = window_features(window_rows(days, previous_days), hours_in_last_day)
    return RoomsResult(days, index, dry, features, assess(features, rooms, temperature_factor))


# --------------------------------------------------------------------------------------------------------
# Reading batches of rooms
# --------------------------------------------------------------------------------------------------------


def _day_date(day: int) -> dt.date:
    return _EPOCH_DATE + dt.timedelta(days=int(day))


def _date_day(date: dt.date) -> int:
    return (date - _EPOCH_DATE).days


def _conditions(
    store: ReadingsStore,
    registry: Registry,
    outdoor: OutdoorConditions,
    rooms: pd.DataFrame,
    start_day: int,
    end_hour: int,
) -> HourlyConditions:
    """Hourly conditions of ``rooms`` from 00:00 of ``start_day`` (plus context) to ``end_hour``."""
    start_hour = start_day * HOURS_PER_DAY - CONTEXT_HOURS
    temp, rh, rh_max = read_room_hours(store, registry, rooms["room_id"].tolist(), start_hour, end_hour)
    temp_out, rh_out, measured = outdoor.for_rooms(rooms["uprn"].tolist(), start_hour, end_hour)
    return HourlyConditions(temp, rh, rh_max, temp_out, rh_out, measured, CONTEXT_HOURS)


def _first_data_day(conditions: HourlyConditions, start_day: int, fallback: int) -> np.ndarray:
    """Each room's first day with data (``fallback`` for a room without any)."""
    present = np.isfinite(conditions.temperature_c[:, CONTEXT_HOURS:]) & np.isfinite(
        conditions.humidity_pct[:, CONTEXT_HOURS:]
    )
    first = np.argmax(present, axis=1)
    return np.where(present.any(axis=1), start_day + first // HOURS_PER_DAY, fallback)


def _trim(conditions: HourlyConditions, days: int) -> HourlyConditions:
    """Drop ``days`` whole days from the front of ``conditions`` (keeping the context before the rest)."""
    if days <= 0:
        return conditions
    cut = days * HOURS_PER_DAY

    def trimmed(values: np.ndarray) -> np.ndarray:
        return np.asarray(values)[:, cut:]

    return HourlyConditions(
        trimmed(conditions.temperature_c), trimmed(conditions.humidity_pct), trimmed(conditions.humidity_max_pct),
        trimmed(conditions.outdoor_temperature_c), trimmed(conditions.outdoor_humidity_pct),
        trimmed(conditions.outdoor_measured), context_hours=CONTEXT_HOURS)


def _room_table(rooms: pd.DataFrame) -> tuple[RoomTable, list[str]]:
    """A RoomTable for rooms sorted by UPRN, and the UPRNs in property order."""
    codes, uprns = pd.factorize(rooms["uprn"], sort=False)
    return RoomTable(np.asarray(codes), rooms["room_type"].to_numpy(), len(uprns)), list(uprns)


# --------------------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------------------


def _is_yes(value: Any) -> bool:
    """True for a set vulnerability flag; False for no, unknown (None) or NaN."""
    return value is not None and not (isinstance(value, float) and math.isnan(value)) and bool(value)


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _explanations(
    rooms: pd.DataFrame,
    table: RoomTable,
    uprns: list[str],
    features: RoomFeatures,
    assessment: Assessment,
    band_names: list[str],
    properties: pd.DataFrame,
    model_label: str | None,
) -> list[Explanation]:
    """Reasons and what would help, per property of a batch."""
    names = rooms["name"].tolist()
    types = rooms["room_type"].tolist()
    factors = rooms["temperature_factor"].to_numpy(dtype=float)
    sources = rooms["factor_source"].tolist() if "factor_source" in rooms else ["design"] * len(rooms)
    heat_ratios = (rooms["heat_loss_ratio"].to_numpy(dtype=float) if "heat_loss_ratio" in rooms
                   else np.full(len(rooms), np.nan))
    starts = np.r_[table.starts, len(rooms)]
    to_mould_1, to_mould_3 = (days_to_mould_index(np.nan_to_num(features["mould_index"]),
                                                  np.nan_to_num(features["mould_index_trend"]), target,
                                                  window_days=WINDOW_DAYS) for target in (1.0, 3.0))
    out = []
    for p, uprn in enumerate(uprns):
        driver_row = int(assessment.driver_room[p])
        has_driver = np.isfinite(assessment.room_score[driver_row])
        driver = None
        if has_driver:
            driver = RoomFacts(
                name=names[driver_row],
                room_type=types[driver_row],
                mould_index=float(np.nan_to_num(features["mould_index"][driver_row])),
                mould_index_trend=float(np.nan_to_num(features["mould_index_trend"][driver_row])),
                days_surface_rh_over_80=float(features["days_surface_rh_over_80"][driver_row]),
                share_surface_rh_over_80=float(np.nan_to_num(features["share_surface_rh_over_80"][driver_row])),
                share_rh_over_70=float(np.nan_to_num(features["share_rh_over_70"][driver_row])),
                mean_temperature_c=float(features["mean_temperature_c"][driver_row]),
                mean_humidity_pct=float(features["mean_humidity_pct"][driver_row]),
                mean_outdoor_temperature_c=float(features["mean_outdoor_temperature_c"][driver_row]),
                temperature_factor=float(factors[driver_row]),
                heat_loss_ratio=float(heat_ratios[driver_row]),
                days_to_mould_1=float(to_mould_1[driver_row]),
                days_to_mould_3=float(to_mould_3[driver_row]),
            )
        missing = tuple(
            MissingRoom(names[r], float(features["hours_since_data"][r]), float(np.nan_to_num(features["coverage"][r])))
            for r in range(starts[p], starts[p + 1])
            if not assessment.room_sufficient[r]
        )
        flags = properties.loc[uprn, list(VULNERABILITY_FLAGS)]
        measured_share = features["outdoor_measured_share"][driver_row] if has_driver else np.nan
        vent_row, leak_row = int(assessment.ventilation_room[p]), int(assessment.leak_room[p])
        facts = PropertyFacts(
            band=band_names[p],
            cause=str(assessment.cause[p]),
            driver=driver,
            cold_home=bool(assessment.cold_home[p]),
            mean_temperature_c=float(assessment.mean_temperature_c[p]),
            ventilation_room=names[vent_row] if vent_row >= 0 else None,
            ventilation_remaining=float(assessment.ventilation_remaining[p]),
            leak_room=names[leak_row] if leak_row >= 0 else None,
            leak_steady=bool(assessment.leak_steady[p]) if assessment.leak_steady is not None else True,
            humidity_class=float(assessment.humidity_class[p]),
            missing_rooms=missing,
            outdoor_climatology=bool(measured_share < CLIMATOLOGY_REASON_BELOW),
            vulnerable=tuple(flag for flag in VULNERABILITY_FLAGS if _is_yes(flags[flag])),
            window_days=WINDOW_DAYS,
            model_label=model_label,
            runner_up=str(assessment.runner_up[p]) if assessment.runner_up is not None else "",
            ventilation_poor=bool(vent_row >= 0 and assessment.cause_evidence is not None
                                  and assessment.cause_evidence[p, CAUSES.index("poor_ventilation")] >= 0.5),
            ventilation_good=bool(vent_row >= 0 and assessment.cause_evidence is not None
                                  and assessment.cause_evidence[p, CAUSES.index("poor_ventilation")] == 0.0),
            factor_source=str(sources[driver_row]) if has_driver else "design",
        )
        out.append(explain(facts))
    return out


# --------------------------------------------------------------------------------------------------------
# The estate
# --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ScoreReport:
    """What a scoring run did."""

    run_id: int
    mode: str
    scored_until: dt.datetime
    properties: int
    rooms: int
    room_hours: int
    bands: Counter[str]
    model_name: str
    model_version: str
    seconds: float
    contradictions: int = 0
    """Properties whose reasons disagree with their band (:func:`analytics.wording.contradictions`); 0."""


@dataclasses.dataclass
class _Plan:
    """Where each room of a batch starts and from which mould state."""

    start_day: np.ndarray
    state_index: np.ndarray
    state_dry: np.ndarray
    full: np.ndarray


def _load_state(
    session: Session, room_ids: list[int], first_day: int
) -> tuple[dict[int, RoomMouldState], dict[tuple[int, int], np.ndarray]]:
    """Each room's mould state row, and its day rows from ``first_day`` on, keyed (room_id, day)."""
    states = {row.room_id: row for row in session.scalars(
        select(RoomMouldState).where(RoomMouldState.room_id.in_(room_ids)))}
    columns = [getattr(RoomDay, name) for name in DAY_FIELDS]
    stored: dict[tuple[int, int], np.ndarray] = {}
    query = select(RoomDay.room_id, RoomDay.day, *columns).where(
        RoomDay.room_id.in_(room_ids), RoomDay.day >= _day_date(first_day))
    for room_id, day, *values in session.execute(query):
        stored[(room_id, _date_day(day))] = np.array([np.nan if v is None else v for v in values], dtype=float)
    return states, stored


def _plan(rooms: pd.DataFrame, states: dict[int, RoomMouldState], stored: dict[tuple[int, int], np.ndarray], *,
          full: bool, now_hour: int, last_day: int, history_start_day: int, rewind_days: int) -> _Plan:
    n = len(rooms)
    plan = _Plan(np.full(n, history_start_day), np.zeros(n), np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if full:
        return plan
    for i, (room_id, factor) in enumerate(zip(rooms["room_id"], rooms["temperature_factor"], strict=True)):
        state = states.get(room_id)
        if state is None or not math.isclose(state.temperature_factor, factor):
            continue
        until = epoch_hour(state.processed_until)
        if until > now_hour:
            continue
        day = min(until // HOURS_PER_DAY - rewind_days, last_day)
        if day * HOURS_PER_DAY == until:
            index, dry = state.mould_index, state.dry_spell_hours
        elif (room_id, day) in stored:
            row = stored[(room_id, day)]
            index, dry = row[_F["mould_index_start"]], row[_F["dry_spell_hours_start"]]
        else:
            continue
        plan.start_day[i], plan.state_index[i], plan.state_dry[i], plan.full[i] = day, index, int(dry), False
    return plan


def _property_rows(uprns: list[str], assessment: Assessment, band_names: list[str], score: np.ndarray,
                   explanations: list[Explanation], rooms: pd.DataFrame, spec: _RunSpec,
                   outdoor: OutdoorConditions) -> list[dict[str, Any]]:
    window_start = max(outdoor.start_hour, spec.now_hour - WINDOW_DAYS * HOURS_PER_DAY)
    rows = []
    for p, uprn in enumerate(uprns):
        driver = int(assessment.driver_room[p])
        has_driver = bool(np.isfinite(assessment.room_score[driver]))
        reasons, help_ = explanations[p].reasons, explanations[p].help
        rows.append({
            "run_id": spec.run_id, "uprn": uprn, "computed_at": spec.computed_at,
            "score": _finite(score[p]), "physics_score": _finite(assessment.score[p]),
            "band": band_names[p],
            "driver_room_id": int(rooms["room_id"].iat[driver]) if has_driver else None,
            "driver_room": rooms["name"].iat[driver] if has_driver else None,
            "cause": str(assessment.cause[p]) or None,
            "cold_home": bool(assessment.cold_home[p]),
            "mean_temperature_c": _finite(assessment.mean_temperature_c[p]),
            "data_coverage": float(np.nan_to_num(assessment.coverage[p])),
            "outdoor_source": outdoor.main_source(uprn, window_start, spec.now_hour),
            "reasons": reasons, "what_would_help": help_,
            "model_name": spec.model_name, "model_version": spec.model_version,
        })
    return rows


def _room_rows(rooms: pd.DataFrame, features: RoomFeatures, assessment: Assessment, run: int,
               now: dt.datetime) -> list[dict[str, Any]]:
    room_bands = [BANDS[b] if b >= 0 else INSUFFICIENT_DATA for b in assessment.room_band.tolist()]
    columns = {name: features[name] for name in (
        "hours_since_data", "mould_index", "mould_index_max", "mould_index_trend", "hours_surface_rh_over_80",
        "days_surface_rh_over_80", "hours_rh_over_70", "days_rh_over_70", "hours_below_16", "hours_below_18",
        "mean_temperature_c", "mean_humidity_pct", "mean_surface_rh_pct", "vapour_pressure_excess_pa",
        "humidity_class")}
    rows = []
    for r, (room_id, uprn) in enumerate(zip(rooms["room_id"], rooms["uprn"], strict=True)):
        row = {"run_id": run, "room_id": int(room_id), "uprn": uprn, "computed_at": now,
               "score": _finite(assessment.room_score[r]), "band": room_bands[r],
               "data_coverage": float(np.nan_to_num(features["coverage"][r])),
               "ventilation_score": _finite(assessment.room_ventilation_score[r])}
        row.update({name: _finite(values[r]) for name, values in columns.items()})
        rows.append(row)
    return rows


def _day_rows(room_id: int, first_day: int, rows: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for offset, values in enumerate(rows):
        record: dict[str, Any] = {"room_id": int(room_id), "day": _day_date(first_day + offset)}
        for name, value in zip(DAY_FIELDS, values.tolist(), strict=True):
            record[name] = None if not math.isfinite(value) else value
        for name in ("dry_spell_hours_start", "hours_data", "hours_outdoor_measured", "hours_surface_rh_over_80",
                     "hours_rh_over_70", "hours_below_16", "hours_below_18", "ventilation_events",
                     "last_data_hour", "hours_cooling"):
            if record[name] is not None:
                record[name] = int(record[name])
        out.append(record)
    return out


def _chunks(uprns: Sequence[str], size: int) -> list[list[str]]:
    return [list(uprns[i: i + size]) for i in range(0, len(uprns), size)]


def score_estate(
    database: Database,
    store: ReadingsStore,
    *,
    now: dt.datetime | None = None,
    full: bool = False,
    model: LoadedModel | None = None,
    history_days: int = DEFAULT_HISTORY_DAYS,
    rewind_days: int = 0,
    chunk_properties: int = DEFAULT_CHUNK_PROPERTIES,
    progress: Callable[[int], None] | None = None,
) -> ScoreReport:
    """Score every property of the register and store the results.

    Parameters
    ----------
    database : core.db.Database
        The app database: register in, state and risk out.
    store : ReadingsStore
        The readings store.
    now : datetime.datetime, optional
        Score up to the start of this hour (UTC); the current time if omitted.
    full : bool, default False
        Recompute every room from its first reading within ``history_days`` instead of carrying on from
        the kept state.
    model : LoadedModel, optional
        A trained model that passed its quality gate; its calibrated probability × 100 becomes the score.
        Without one, the physics score is used.
    history_days : int, default 120
        How far back a full computation reads. [d]
    rewind_days : int, default 0
        Incremental runs also recompute this many days before the last one scored, to take in readings
        that arrived late (at most the kept day rows). [d]
    chunk_properties : int, default 500
        Properties read and scored together.
    progress : callable, optional
        Called with the number of properties finished after each batch.

    Returns
    -------
    ScoreReport

    Raises
    ------
    AnalyticsError
        If the register has no properties, or the model given did not pass its quality gate.
    """
    started = time.monotonic()
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    now_hour = epoch_hour(now)
    if model is not None and not model.passes_gate:
        raise AnalyticsError(f"model {model.name} {model.version} did not pass its quality gate; score without it")
    spec = _RunSpec(
        now_hour=now_hour,
        last_day=(now_hour - 1) // HOURS_PER_DAY,
        history_start_day=(now_hour - history_days * HOURS_PER_DAY) // HOURS_PER_DAY,
        rewind_days=max(0, min(rewind_days, DAY_ROWS_KEPT - 1)),
        full=full,
        model=model,
        model_name=model.name if model is not None else PHYSICS_MODEL_NAME,
        model_version=model.version if model is not None else PHYSICS_MODEL_VERSION,
        computed_at=dt.datetime.now(dt.UTC),
    )
    with database.session() as session:
        registry = load_registry(session)
        if registry.properties.empty:
            raise AnalyticsError("the register has no properties; import one with 'dampwatch properties import'")
        first_day = _earliest_start_day(session, registry, spec)
        outdoor = outdoor_conditions(session, store, registry, first_day * HOURS_PER_DAY - CONTEXT_HOURS, now_hour)
        run = ScoringRun(started_at=spec.computed_at, mode="full" if full else "incremental",
                         scored_until=hour_datetime(now_hour), model_name=spec.model_name,
                         model_version=spec.model_version)
        session.add(run)
        session.flush()
        spec.run_id = run.id

    bands: Counter[str] = Counter()
    room_hours = 0
    contradicting = 0
    scored_uprns = set(registry.rooms["uprn"])
    for chunk in _chunks(sorted(scored_uprns), chunk_properties):
        rooms = registry.rooms[registry.rooms["uprn"].isin(chunk)].reset_index(drop=True)
        chunk_bands, chunk_hours = _score_chunk(database, store, registry, outdoor, rooms, spec)
        contradicting += chunk_bands.pop(CONTRADICTIONS_KEY, 0)
        bands.update(chunk_bands)
        room_hours += chunk_hours
        if progress is not None:
            progress(len(chunk))

    silent = sorted(set(registry.properties.index) - scored_uprns)
    if silent:
        with database.session() as session:
            session.execute(insert(PropertyRisk), [
                {"run_id": spec.run_id, "uprn": uprn, "computed_at": spec.computed_at, "score": None,
                 "physics_score": None, "band": INSUFFICIENT_DATA, "driver_room_id": None, "driver_room": None,
                 "cause": None, "cold_home": False, "mean_temperature_c": None, "data_coverage": 0.0,
                 "outdoor_source": outdoor.main_source(uprn, outdoor.start_hour, now_hour),
                 "reasons": [render("reason.no_sensors")], "what_would_help": [render("help.insufficient")],
                 "model_name": spec.model_name, "model_version": spec.model_version}
                for uprn in silent
            ])
        bands.update({INSUFFICIENT_DATA: len(silent)})
        if progress is not None:
            progress(len(silent))

    with database.session() as session:
        session.execute(update(ScoringRun).where(ScoringRun.id == spec.run_id).values(
            finished_at=dt.datetime.now(dt.UTC), properties=len(registry.properties),
            rooms=len(registry.rooms), room_hours=room_hours))
    report = ScoreReport(spec.run_id, run.mode, hour_datetime(now_hour), len(registry.properties),
                         len(registry.rooms), room_hours, bands, spec.model_name, spec.model_version,
                         time.monotonic() - started, contradicting)
    logger.info("scored %d properties (%d rooms, %d room-hours) up to %s in %.1f s: %s", report.properties,
                report.rooms, room_hours, report.scored_until.isoformat(), report.seconds, dict(bands))
    return report


@dataclasses.dataclass
class _RunSpec:
    """What every batch of a scoring run shares."""

    now_hour: int
    last_day: int
    history_start_day: int
    rewind_days: int
    full: bool
    model: LoadedModel | None
    model_name: str
    model_version: str
    computed_at: dt.datetime
    run_id: int = 0

    @property
    def window_first_day(self) -> int:
        return self.last_day - WINDOW_DAYS + 1

    @property
    def keep_from_day(self) -> int:
        return self.last_day - DAY_ROWS_KEPT + 1


def _earliest_start_day(session: Session, registry: Registry, spec: _RunSpec) -> int:
    """The earliest day any room will be recomputed from (a cheap first look at the kept states)."""
    if spec.full or registry.rooms.empty:
        return spec.history_start_day
    kept = {room_id: (until, factor) for room_id, until, factor in session.execute(
        select(RoomMouldState.room_id, RoomMouldState.processed_until, RoomMouldState.temperature_factor))}
    earliest = spec.last_day
    for room_id, factor in zip(registry.rooms["room_id"], registry.rooms["temperature_factor"], strict=True):
        state = kept.get(room_id)
        if state is None or not math.isclose(state[1], factor) or epoch_hour(state[0]) > spec.now_hour:
            return spec.history_start_day
        earliest = min(earliest, epoch_hour(state[0]) // HOURS_PER_DAY - spec.rewind_days)
    return earliest


def _score_chunk(
    database: Database,
    store: ReadingsStore,
    registry: Registry,
    outdoor: OutdoorConditions,
    rooms: pd.DataFrame,
    spec: _RunSpec,
) -> tuple[Counter[str], int]:
    """Score one batch of properties (all their rooms) and store the results; return bands and room-hours."""
    room_ids = [int(r) for r in rooms["room_id"]]
    row_of = {room_id: row for row, room_id in enumerate(room_ids)}
    with database.session() as session:
        room_states, stored = _load_state(session, room_ids, min(spec.window_first_day, spec.keep_from_day))
    plan = _plan(rooms, room_states, stored, full=spec.full, now_hour=spec.now_hour, last_day=spec.last_day,
                 history_start_day=spec.history_start_day, rewind_days=spec.rewind_days)
    table, uprns = _room_table(rooms)
    n_rooms = len(rooms)

    # The window starts from kept day rows; fresh rows replace them from each room's start day.
    window = np.full((n_rooms, WINDOW_DAYS, len(DAY_FIELDS)), np.nan)
    for (room_id, day), values in stored.items():
        row = row_of[room_id]
        if not plan.full[row] and spec.window_first_day <= day < plan.start_day[row]:
            window[row, day - spec.window_first_day] = values
    final_index = np.zeros(n_rooms)
    final_dry = np.zeros(n_rooms, dtype=np.int64)
    fresh_by_row: dict[int, tuple[int, np.ndarray]] = {}  # row: (first day, day rows from it)
    factors = rooms["temperature_factor"].to_numpy(dtype=float).copy()
    room_hours = 0

    def summarise(selected: np.ndarray) -> None:
        nonlocal room_hours
        full = plan.full[selected]
        later = selected[~full]
        groups = [(None, selected[full])] + [
            (int(day), later[plan.start_day[later] == day]) for day in np.unique(plan.start_day[later])]
        for group_day, rows in groups:
            if rows.size:
                room_hours += _summarise_group(group_day, rows)

    def _summarise_group(group_day: int | None, rows: np.ndarray) -> int:
        group = rooms.iloc[rows]
        start_day = spec.history_start_day if group_day is None else group_day
        group_outdoor = outdoor
        if start_day * HOURS_PER_DAY - CONTEXT_HOURS < outdoor.start_hour:
            # A room that must be recomputed further back than planned (its kept rows were missing).
            with database.session() as session:
                group_outdoor = outdoor_conditions(session, store, registry,
                                                   start_day * HOURS_PER_DAY - CONTEXT_HOURS, spec.now_hour)
        conditions = _conditions(store, registry, group_outdoor, group, start_day, spec.now_hour)
        if group_day is None:
            first = _first_data_day(conditions, start_day, spec.last_day)
            conditions = _trim(conditions, int(first.min()) - start_day)
            start_day = int(first.min())
        else:
            first = np.full(rows.size, start_day)
        # Day rows older than those kept are not summarised: they only carry the mould index forward.
        summarised_from = max(start_day, spec.keep_from_day)
        days, index, dry = summarise_days(
            conditions, factors[rows], np.isin(group["room_type"], WET_ROOM_TYPES),
            plan.state_index[rows], plan.state_dry[rows], first_kept_day=summarised_from - start_day)
        final_index[rows], final_dry[rows] = index, dry
        for j, row in enumerate(rows.tolist()):
            own_first = max(int(first[j]), summarised_from)
            own = days[j, own_first - summarised_from:]
            fresh_by_row[row] = (own_first, own)
            low = max(own_first, spec.window_first_day)
            window[row, low - spec.window_first_day:] = own[low - own_first:]
        return rows.size * conditions.hours

    summarise(np.arange(n_rooms))
    features = window_features(window, spec.now_hour - spec.last_day * HOURS_PER_DAY)
    # A room that cools clearly faster than the rest of its home has colder walls than the register says:
    # it is judged again, from its first reading, with the lower temperature factor (see analytics.fabric).
    ratio = heat_loss_ratio(features["heat_loss_index_per_h"], table.property_index, table.n_properties)
    refined = refined_temperature_factor(factors, ratio)
    redo = np.flatnonzero(refined < factors - REFINE_MIN_CHANGE)
    sources = rooms["factor_source"].to_numpy(dtype=object).copy() if "factor_source" in rooms else np.full(
        n_rooms, "design", dtype=object)
    if redo.size:
        factors[redo] = refined[redo]
        sources[redo] = "heat_loss"
        plan.full[redo] = True
        plan.state_index[redo] = 0.0
        plan.state_dry[redo] = 0
        window[redo] = np.nan
        summarise(redo)
        features = window_features(window, spec.now_hour - spec.last_day * HOURS_PER_DAY)
    rooms = rooms.assign(temperature_factor=factors, factor_source=sources, heat_loss_ratio=ratio)
    fresh = [(row, *fresh_by_row[row]) for row in sorted(fresh_by_row)]
    assessment = assess(features, table, factors)
    score = assessment.score
    if spec.model is not None:
        archetype = registry.properties.loc[uprns, ["build_year", "wall_type", "floor_level"]]
        probability = spec.model.probability(property_features(features, assessment, table, archetype))
        score = np.where(np.isfinite(assessment.score), 100.0 * probability, np.nan)
        model_band = final_band(score, assessment.any_judged, assessment.rooms_without_data)
        runner_up = assessment.runner_up
        assessment = dataclasses.replace(
            assessment, band=model_band,
            cause=np.where(model_band >= 1, assessment.cause, "").astype(object),
            runner_up=None if runner_up is None else np.where(model_band >= 1, runner_up, "").astype(object))
    band_names = assessment.band_names()
    model_label = f"{spec.model_name} {spec.model_version}" if spec.model is not None else None
    explanations = _explanations(rooms, table, uprns, features, assessment, band_names, registry.properties,
                                 model_label)

    with database.session() as session:
        full_rooms = [room_ids[row] for row, _, _ in fresh if plan.full[row]]
        if full_rooms:
            session.execute(delete(RoomDay).where(RoomDay.room_id.in_(full_rooms)))
        by_first_day: dict[int, list[int]] = {}
        for row, first_day, _ in fresh:
            if not plan.full[row]:
                by_first_day.setdefault(first_day, []).append(room_ids[row])
        for first_day, ids in by_first_day.items():
            session.execute(delete(RoomDay).where(RoomDay.room_id.in_(ids), RoomDay.day >= _day_date(first_day)))
        session.execute(delete(RoomDay).where(RoomDay.room_id.in_(room_ids),
                                              RoomDay.day < _day_date(spec.keep_from_day)))
        records = []
        for row, first_day, rows in fresh:
            kept = max(first_day, spec.keep_from_day)
            records += _day_rows(room_ids[row], kept, rows[kept - first_day:])
        if records:
            session.execute(insert(RoomDay), records)
        session.execute(delete(RoomMouldState).where(RoomMouldState.room_id.in_(room_ids)))
        session.execute(insert(RoomMouldState), [
            {"room_id": room_id, "processed_until": hour_datetime(spec.now_hour),
             "mould_index": float(final_index[r]), "dry_spell_hours": int(final_dry[r]),
             "temperature_factor": float(factor), "updated_at": spec.computed_at}
            for r, (room_id, factor) in enumerate(zip(room_ids, rooms["temperature_factor"], strict=True))
        ])
        session.execute(insert(RoomRisk), _room_rows(rooms, features, assessment, spec.run_id, spec.computed_at))
        session.execute(insert(PropertyRisk), _property_rows(
            uprns, assessment, band_names, score, explanations, rooms, spec, outdoor))
    found = Counter(band_names)
    for p, explanation in enumerate(explanations):
        disagreements = contradictions(band_names[p], _finite(score[p]), explanation.reason_keys,
                                       explanation.help_keys)
        if disagreements:
            logger.error("the words for property %s disagree with its band: %s", uprns[p], "; ".join(disagreements))
            found[CONTRADICTIONS_KEY] += 1
    return found, room_hours


# --------------------------------------------------------------------------------------------------------
# Reading results back
# --------------------------------------------------------------------------------------------------------


def latest_risk(session: Session) -> tuple[ScoringRun | None, list[PropertyRisk]]:
    """The latest finished scoring run and its property results, highest score first."""
    run = session.scalars(
        select(ScoringRun).where(ScoringRun.finished_at.is_not(None)).order_by(ScoringRun.id.desc()).limit(1)
    ).first()
    if run is None:
        return None, []
    risks = session.scalars(select(PropertyRisk).where(PropertyRisk.run_id == run.id)).all()
    order = sorted(risks, key=lambda r: (-(r.score if r.score is not None else -1.0), r.uprn))
    return run, order


def mould_projections(session: Session, run_id: int) -> dict[str, tuple[float | None, float | None]]:
    """Days until the driver room's mould index reaches 1 and 3 at the window's rate, by UPRN, for one run.

    ``None`` where it is not rising (or the home has no driver room); 0 where it is already there.
    """
    rows = session.execute(
        select(PropertyRisk.uprn, RoomRisk.mould_index, RoomRisk.mould_index_trend)
        .join(RoomRisk, (RoomRisk.room_id == PropertyRisk.driver_room_id) & (RoomRisk.run_id == PropertyRisk.run_id))
        .where(PropertyRisk.run_id == run_id)
    ).all()
    out: dict[str, tuple[float | None, float | None]] = {}
    for uprn, index, trend in rows:
        days = [days_to_mould_index(index or 0.0, trend or 0.0, target, window_days=WINDOW_DAYS)
                for target in (1.0, 3.0)]
        to_one, to_three = (round(float(d), 1) if math.isfinite(d) else None for d in days)
        out[uprn] = (to_one, to_three)
    return out


def ventilation_scores(session: Session, run_id: int) -> dict[str, dict[str, float]]:
    """Ventilation score of each wet room that has one, by UPRN and room name, for one scoring run."""
    rows = session.execute(
        select(RoomRisk.uprn, Room.name, RoomRisk.ventilation_score)
        .join(Room, Room.id == RoomRisk.room_id)
        .where(RoomRisk.run_id == run_id, RoomRisk.ventilation_score.is_not(None))
        .order_by(RoomRisk.uprn, Room.name)
    ).all()
    scores: dict[str, dict[str, float]] = {}
    for uprn, name, score in rows:
        if score is not None:  # always: the query leaves out rooms without one
            scores.setdefault(uprn, {})[name] = round(float(score), 1)
    return scores


# --------------------------------------------------------------------------------------------------------
# Training data
# --------------------------------------------------------------------------------------------------------


def training_frame(
    database: Database,
    store: ReadingsStore,
    outcomes: pd.DataFrame,
    *,
    history_days: int = DEFAULT_HISTORY_DAYS,
    chunk_properties: int = DEFAULT_CHUNK_PROPERTIES,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Model features of each inspected property as they stood on the morning of its inspection.

    Parameters
    ----------
    database, store
        The register and the readings.
    outcomes : pandas.DataFrame
        ``uprn``, ``date`` (a :class:`datetime.date`) and ``mould_found`` (bool), one row per inspection.
    history_days : int, default 120
        Readings before the earliest inspection that the mould index is run over. [d]
    chunk_properties : int, default 500
        Properties computed together.
    progress : callable, optional
        Called with the number of properties finished after each batch.

    Returns
    -------
    X : pandas.DataFrame
        :func:`analytics.risk_model.property_features` per usable inspection.
    y : numpy.ndarray of bool
        Mould found.
    groups : numpy.ndarray of str
        UPRNs, for splitting by property.
    used : pandas.DataFrame
        The inspections used, in the order of ``X``.

    Raises
    ------
    AnalyticsError
        If no inspection is of a property in the register with sensors.
    """
    with database.session() as session:
        registry = load_registry(session)
        known = outcomes[outcomes["uprn"].isin(set(registry.rooms["uprn"]))].copy()
        if known.empty:
            raise AnalyticsError(
                "none of the inspected properties is in the register with a sensor; import the asset register "
                "first ('dampwatch properties import') and check the UPRNs"
            )
        if len(known) < len(outcomes):
            logger.warning("%d inspections are of properties without sensors in the register; left out",
                           len(outcomes) - len(known))
        known["day"] = [_date_day(d) for d in known["date"]]
        first_day = int(known["day"].min()) - history_days
        end_hour = int(known["day"].max()) * HOURS_PER_DAY
        outdoor = outdoor_conditions(session, store, registry, first_day * HOURS_PER_DAY - CONTEXT_HOURS, end_hour)
    pieces: list[pd.DataFrame] = []
    used: list[pd.DataFrame] = []
    for chunk in _chunks(sorted(set(known["uprn"])), chunk_properties):
        rooms = registry.rooms[registry.rooms["uprn"].isin(chunk)].reset_index(drop=True)
        table, uprns = _room_table(rooms)
        conditions = _conditions(store, registry, outdoor, rooms, first_day, end_hour)
        skip = int(_first_data_day(conditions, first_day, end_hour // HOURS_PER_DAY - 1).min()) - first_day
        conditions = _trim(conditions, skip)
        days, _, _ = summarise_days(conditions, rooms["temperature_factor"].to_numpy(),
                                    np.isin(rooms["room_type"], WET_ROOM_TYPES))
        archetype = registry.properties.loc[uprns, ["build_year", "wall_type", "floor_level"]]
        position = {uprn: p for p, uprn in enumerate(uprns)}
        inspected = known[known["uprn"].isin(chunk)]
        for day, on_day in inspected.groupby("day"):
            stop = int(day) - first_day - skip
            window = window_rows(days[:, max(0, stop - WINDOW_DAYS):max(0, stop)], None)
            features = window_features(window, HOURS_PER_DAY)
            assessment = assess(features, table)
            frame = property_features(features, assessment, table, archetype)
            pieces.append(frame.iloc[[position[u] for u in on_day["uprn"]]].reset_index(drop=True))
            used.append(on_day)
        if progress is not None:
            progress(len(chunk))
    X = pd.concat(pieces, ignore_index=True)
    used_frame = pd.concat(used, ignore_index=True)
    return X, used_frame["mould_found"].to_numpy(dtype=bool), used_frame["uprn"].to_numpy(), used_frame
