"""A room's conditions over time, with the same numbers as scoring: the one source of every chart.

The property page's charts (drawn on the server, and interactive in the browser from JSON), the evidence
pack's images and their data tables all come from :func:`room_series`; :func:`series_json` turns its result
into what the browser draws. Nothing here recomputes scoring in its own way:

* hourly aggregates from the readings store (:func:`analytics.registry.read_room_hours`), outdoor conditions
  by the same priority (site sensor, district sensor, weather file, estate sensor, climatology:
  :func:`analytics.registry.outdoor_conditions`) and the cold-spot humidity from the room's temperature factor
  (:func:`analytics.psychrometrics.surface_relative_humidity`);
* day by day, the day rows ``dampwatch score`` keeps in the app database (:data:`analytics.scoring.DAY_ROWS_KEPT`
  days, with the mould index it carried from each room's first reading); the hours since the last kept day are
  carried on from its mould state with :func:`analytics.features.summarise_days`, as the next scoring run will.
  Days older than the kept rows are summarised from the readings for their means and hours above 80 %, but
  have no mould index: recomputing it from zero would give a second, lower estimate that disagrees with
  scoring's;
* the projected days to visible mould (mould index 3) are scoring's own: the latest run's mould index and
  trend of the room through :func:`analytics.mould.days_to_mould_index`, as
  :func:`analytics.scoring.mould_projections` does for the driver room.

Only the period asked for is read from the store, which keeps a page quick.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from analytics.constants import DESIGN_TEMPERATURE_FACTOR, SURFACE_RH_MOULD_LIMIT
from analytics.features import (
    CONTEXT_HOURS,
    DAY_FIELDS,
    HOURS_PER_DAY,
    WINDOW_DAYS,
    HourlyConditions,
    summarise_days,
)
from analytics.mould import days_to_mould_index
from analytics.psychrometrics import surface_relative_humidity, surface_temperature
from analytics.registry import (
    CLIMATOLOGY,
    OUTDOOR_SOURCES,
    OutdoorConditions,
    Registry,
    epoch_hour,
    hour_datetime,
    outdoor_conditions,
    read_room_hours,
)
from analytics.risk import WET_ROOM_TYPES
from analytics.scoring import DAY_ROWS_KEPT
from core.model import (
    Installation,
    Property,
    Room,
    RoomDay,
    RoomMouldState,
    RoomRisk,
    ScoringRun,
    postcode_district,
)
from core.readings import ReadingsStore

__all__ = [
    "ESTATE_OUTDOOR_LIMIT",
    "KEPT_DAYS",
    "VISIBLE_MOULD_INDEX",
    "RoomSeries",
    "days_to_visible_mould",
    "room_series",
    "series_json",
]

KEPT_DAYS: Final = DAY_ROWS_KEPT
"""Days of day rows (with the mould index) scoring keeps; older days have no mould index here. [d]"""
ESTATE_OUTDOOR_LIMIT: Final = 50
"""Most outdoor sensors read for the estate-wide fallback of a chart's outdoor conditions."""
VISIBLE_MOULD_INDEX: Final = 3.0
"""Mould index at which growth is visible to the eye (VTT model's scale). [-]"""

_F = {name: position for position, name in enumerate(DAY_FIELDS)}
_SITE_SENSOR: Final = OUTDOOR_SOURCES.index("site sensor")
_EPOCH_DATE: Final = dt.date(1970, 1, 1)
_NEVER: Final = np.iinfo(np.int64).max
_ALWAYS: Final = np.iinfo(np.int64).min


@dataclasses.dataclass(frozen=True)
class RoomSeries:
    """A room's conditions over a period, hour by hour and day by day.

    Attributes
    ----------
    hourly : pandas.DataFrame
        Indexed by the start of each hour (UTC): ``temperature_c``, ``humidity_pct``,
        ``surface_rh_pct`` (NaN where there was no reading). [°C, %, %]
    daily : pandas.DataFrame
        One row per UTC day, oldest first: ``day`` (a date), ``hours_data``, ``temperature_c``,
        ``humidity_pct``, ``surface_rh_pct`` (daily means), ``hours_surface_rh_over_80`` and
        ``mould_index`` (at the end of the day).
    """

    room_id: int
    name: str
    room_type: str
    temperature_factor: float
    days: int
    start: dt.datetime
    end: dt.datetime
    hourly: pd.DataFrame
    daily: pd.DataFrame

    @property
    def has_data(self) -> bool:
        return bool(self.daily["hours_data"].sum() > 0)

    @property
    def mould_index_partial(self) -> bool:
        """True when some days with readings have no mould index (older than the day rows scoring keeps)."""
        daily = self.daily
        return bool(((daily["hours_data"] > 0) & daily["mould_index"].isna()).any())


def _intervals(installs: Sequence[tuple[str, int, dt.datetime, dt.datetime | None]]) -> pd.DataFrame:
    """Epoch-hour intervals of installations ordered by device and time; a device's first reaches back.

    The rule of :func:`analytics.registry.load_registry` (registers are often imported after the sensors
    went up), applied to a few devices instead of the whole register.
    """
    records = []
    previous = None
    for device_id, room_id, installed_at, removed_at in installs:
        start = _ALWAYS if device_id != previous else epoch_hour(installed_at)
        previous = device_id
        end = _NEVER if removed_at is None else epoch_hour(removed_at)
        records.append((device_id, room_id, start, end))
    return pd.DataFrame(records, columns=["device_id", "room_id", "start_hour", "end_hour"]).astype(
        {"room_id": np.int64, "start_hour": np.int64, "end_hour": np.int64})


def _registry(session: Session, home: Property, *, estate_outdoor: bool, site_only: bool = False) -> Registry:
    """The part of the register one home's charts need: its rooms, and the outdoor sensors near it.

    ``site_only``: only the outdoor sensors of the home's own site (estate or block), not its district's.
    """
    district = postcode_district(home.postcode)
    properties = pd.DataFrame(
        {"postcode": [home.postcode], "district": [district], "site": [home.site]},
        index=pd.Index([home.uprn], name="uprn"),
    )
    rooms = session.execute(
        select(Room.id, Room.uprn, Room.name, Room.room_type, Room.temperature_factor)
        .where(Room.uprn == home.uprn, Room.room_type != "outdoor")
        .order_by(Room.id)
    ).all()
    outdoor_query = (
        select(Room.id, Room.uprn, Property.site, Property.postcode)
        .join(Property, Property.uprn == Room.uprn)
        .where(Room.room_type == "outdoor")
    )
    if site_only:
        outdoor_query = outdoor_query.where(Property.site == home.site)
    elif not estate_outdoor:
        near: list[ColumnElement[bool]] = [Property.postcode.like(f"{district} %")]
        if home.site:
            near.append(Property.site == home.site)
        outdoor_query = outdoor_query.where(or_(*near))
    outdoor = session.execute(outdoor_query.order_by(Room.id)).all()
    room_ids = [row[0] for row in rooms] + [row[0] for row in outdoor]
    fitted_devices = select(Installation.device_id).where(Installation.room_id.in_(room_ids))
    installs = session.execute(
        select(Installation.device_id, Installation.room_id, Installation.installed_at, Installation.removed_at)
        .where(Installation.device_id.in_(fitted_devices))
        .order_by(Installation.device_id, Installation.installed_at, Installation.id)
    ).all()
    installations = _intervals(installs)
    fitted = set(installations["room_id"])
    own_factor = home.temperature_factor
    indoor = pd.DataFrame(
        [(room_id, uprn, name, room_type, factor if factor is not None else (own_factor or DESIGN_TEMPERATURE_FACTOR))
         for room_id, uprn, name, room_type, factor in rooms if room_id in fitted],
        columns=["room_id", "uprn", "name", "room_type", "temperature_factor"],
    )
    outdoor_rooms = pd.DataFrame(
        [(room_id, uprn, site, postcode_district(postcode)) for room_id, uprn, site, postcode in outdoor
         if room_id in fitted],
        columns=["room_id", "uprn", "site", "district"],
    )
    return Registry(properties=properties, rooms=indoor, outdoor_rooms=outdoor_rooms, installations=installations)


def _outdoor(session: Session, store: ReadingsStore, reader: _Prefetched, home: Property, registry: Registry,
             has_data: np.ndarray, start_hour: int, end_hour: int) -> OutdoorConditions:
    """The home's outdoor conditions, as scoring finds them.

    The outdoor sensors of the home's site and district come first; the estate's other outdoor sensors
    (the fourth source) are read only when the climatology would otherwise stand in for an hour in which a
    room has readings, and only while there are at most :data:`ESTATE_OUTDOOR_LIMIT` of them (reading
    hundreds of sensors' history would make the page slow; such estates fall back on the climatology).
    """
    outdoor = outdoor_conditions(session, reader, registry, start_hour, end_hour)
    climatology_hours = outdoor.source[outdoor.chain_of[home.uprn]] == CLIMATOLOGY
    if not np.any(climatology_hours & has_data):
        return outdoor
    estate = session.scalar(select(func.count()).select_from(Room).where(Room.room_type == "outdoor")) or 0
    if len(registry.outdoor_rooms) < estate <= ESTATE_OUTDOOR_LIMIT:
        wider = _registry(session, home, estate_outdoor=True)
        return outdoor_conditions(session, store, wider, start_hour, end_hour)
    return outdoor


class _Prefetched:
    """The hourly aggregates of a few devices over one period, read from the store in one query and handed
    to each reader that asks for some of them (the rooms' and the outdoor sensors' readers)."""

    def __init__(self, store: ReadingsStore, start: dt.datetime, end: dt.datetime, device_ids: list[str]) -> None:
        self.url = store.url
        self._frame = store.hourly(start, end, device_ids)

    def hourly(self, start: dt.datetime, end: dt.datetime, device_ids: Iterable[str] | None = None) -> pd.DataFrame:
        frame = self._frame
        keep = (frame["hour"] >= pd.Timestamp(start)) & (frame["hour"] < pd.Timestamp(end))
        if device_ids is not None:
            keep &= frame["device_id"].isin(list(device_ids))
        return frame[keep].reset_index(drop=True)


_MOULD_FIELDS = [_F["mould_index_start"], _F["mould_index_end"], _F["mould_index_max"]]


def _stored_days(session: Session, room_ids: list[int], first_day: int) -> dict[int, dict[int, np.ndarray]]:
    """The day rows scoring kept for the rooms from ``first_day`` on: room id → day number → fields."""
    columns = [getattr(RoomDay, name) for name in DAY_FIELDS]
    found: dict[int, dict[int, np.ndarray]] = {}
    query = select(RoomDay.room_id, RoomDay.day, *columns).where(
        RoomDay.room_id.in_(room_ids), RoomDay.day >= _EPOCH_DATE + dt.timedelta(days=first_day))
    for room_id, day, *values in session.execute(query):
        found.setdefault(room_id, {})[(day - _EPOCH_DATE).days] = np.array(
            [np.nan if v is None else v for v in values], dtype=float)
    return found


def _room_days(conditions: HourlyConditions, r: int, factor: float, wet: bool, first_day: int, n_days: int,
               kept: dict[int, np.ndarray]) -> np.ndarray:
    """One room's day rows over the window: scoring's kept rows, the days after them carried on from their
    mould state, and the days before them summarised from the readings without a mould index."""
    out = np.full((n_days, len(DAY_FIELDS)), np.nan)

    def summarise(day_from: int, day_to: int, index: float = 0.0, dry: int = 0) -> np.ndarray:
        lo = (day_from - first_day) * HOURS_PER_DAY
        hi = min((day_to - first_day) * HOURS_PER_DAY, conditions.hours)
        columns = slice(lo, hi + CONTEXT_HOURS)

        def cut(values: np.ndarray) -> np.ndarray:
            return np.asarray(values)[r:r + 1, columns]

        part = HourlyConditions(
            cut(conditions.temperature_c), cut(conditions.humidity_pct), cut(conditions.humidity_max_pct),
            cut(conditions.outdoor_temperature_c), cut(conditions.outdoor_humidity_pct),
            cut(conditions.outdoor_measured), context_hours=CONTEXT_HOURS)
        rows, _, _ = summarise_days(part, factor, np.array([wet]), np.array([index]), np.array([dry]))
        row: np.ndarray = rows[0]
        return row

    kept_days = sorted(day for day in kept if day < first_day + n_days)
    if not kept_days:
        out[:] = summarise(first_day, first_day + n_days)
        out[:, _MOULD_FIELDS] = np.nan
        return out
    d0, d1 = kept_days[0], kept_days[-1]
    for day in kept_days[:-1]:
        out[day - first_day] = kept[day]
    # The last kept day may have been scored part way through: carry on from its start, as scoring would.
    last = kept[d1]
    out[d1 - first_day:] = summarise(d1, first_day + n_days, last[_F["mould_index_start"]],
                                     int(last[_F["dry_spell_hours_start"]]))
    if d0 > first_day:
        early = summarise(first_day, d0)
        early[:, _MOULD_FIELDS] = np.nan
        if early[-1, _F["hours_data"]] > 0:  # the first kept row's start state ends the day before it
            early[-1, _F["mould_index_end"]] = kept[d0][_F["mould_index_start"]]
        out[: d0 - first_day] = early
    return out


_Read = tuple[np.ndarray, np.ndarray, np.ndarray, OutdoorConditions]
"""The rooms' hourly temperature, humidity and maximum humidity, and the home's outdoor conditions."""


def _read(session: Session, store: ReadingsStore, home: Property, registry: Registry, start_hour: int,
          end_hour: int, *, wider: bool = True) -> _Read:
    """The rooms' hourly temperature, humidity and maximum humidity, and the home's outdoor conditions.

    ``wider``: fall back on the estate's outdoor sensors as :func:`_outdoor` does (not when only the site's
    sensors are tried).
    """
    room_ids = [int(r) for r in registry.rooms["room_id"]]
    reader = _Prefetched(store, hour_datetime(start_hour), hour_datetime(end_hour),
                         sorted(set(registry.installations["device_id"])))
    temp, rh, rh_max = read_room_hours(reader, registry, room_ids, start_hour, end_hour)
    has_data = (np.isfinite(temp) & np.isfinite(rh)).any(axis=0)
    if not wider:
        return temp, rh, rh_max, outdoor_conditions(session, reader, registry, start_hour, end_hour)
    outdoor = _outdoor(session, store, reader, home, registry, has_data, start_hour, end_hour)
    return temp, rh, rh_max, outdoor


#: Longest stretch of hours without the site's outdoor readings that is checked against the district's
#: sensors rather than read in full with them. [h]
SITE_GAP_CHECK_HOURS: Final = 48


def _site_only_read(session: Session, store: ReadingsStore, home: Property, start_hour: int,
                    end_hour: int) -> tuple[Registry, _Read] | None:
    """The home's readings with only its site's outdoor sensors, when that gives scoring's numbers exactly.

    Scoring's outdoor chain takes, hour by hour, the site sensors' mean, else the district sensors' mean,
    else a weather file, the estate's sensors, the climatology. In every hour the site's sensors give, the
    district's cannot count. Hours they do not give (typically the current hour, not yet sent) are left to
    the district only if no room has a reading in them and no sensor near the home has one either: then the
    chain falls through to the same sources either way. Anything else returns ``None`` (read everything).
    """
    registry = _registry(session, home, estate_outdoor=False, site_only=True)
    if registry.rooms.empty or registry.outdoor_rooms.empty:
        return None
    read = _read(session, store, home, registry, start_hour, end_hour, wider=False)
    temp, rh, _, outdoor = read
    missing = np.nonzero(outdoor.source[outdoor.chain_of[home.uprn]] != _SITE_SENSOR)[0]
    if missing.size == 0:
        return registry, read
    has_data = np.asarray((np.isfinite(temp) & np.isfinite(rh)).any(axis=0))  # (hours,)
    if has_data[missing].any() or missing[-1] - missing[0] >= SITE_GAP_CHECK_HOURS:
        return None
    wider = _registry(session, home, estate_outdoor=False)
    # Any reading of any sensor near the home in those hours (a moved device included) and all is read.
    first, last = start_hour + int(missing[0]), start_hour + int(missing[-1]) + 1
    if not store.hourly(hour_datetime(first), hour_datetime(last), sorted(set(wider.installations["device_id"]))).empty:
        return None
    return registry, read


def read_home(session: Session, store: ReadingsStore, home: Property, start_hour: int, end_hour: int, *,
              estate_outdoor: bool) -> tuple[Registry, _Read] | None:
    """One home's rooms' hourly readings and its outdoor conditions over ``[start_hour, end_hour)``, as scoring
    finds them, read in as few store queries as it takes (the charts' and the thermal insight's reader).

    A block with its own outdoor sensor rarely needs the district's (often a hundred sensors, most of the
    reading time): see :func:`_site_only_read`. Otherwise every sensor of the home's site and district is read,
    and with ``estate_outdoor`` the estate's other outdoor sensors where :func:`_outdoor` allows them.

    Returns
    -------
    (Registry, (temperature, humidity, maximum humidity, OutdoorConditions)) or None
        The home's registry and, per room in its order, hourly arrays of shape (rooms, hours); None for a
        home without a room that has had a sensor.
    """
    site_read = _site_only_read(session, store, home, start_hour, end_hour) if home.site else None
    if site_read is not None:
        return site_read
    registry = _registry(session, home, estate_outdoor=False)
    if registry.rooms.empty:
        return None
    return registry, _read(session, store, home, registry, start_hour, end_hour, wider=estate_outdoor)


def room_series(session: Session, store: ReadingsStore, home: Property, days: int,
                end_hour: int) -> list[RoomSeries]:
    """Hourly and daily series of each indoor room of ``home`` that has had a sensor, over ``days`` UTC days.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session on the app database (the register, installations, imported weather, scoring's day rows).
    store : ReadingsStore
        The readings store.
    home : core.model.Property
        The home.
    days : int
        Days in the period, ending with the day of the hour before ``end_hour``. [d]
    end_hour : int
        The end (exclusive) of the period in hours since 1970-01-01 UTC. [h]

    Returns
    -------
    list of RoomSeries
        Rooms in the order of their ids; empty for a home without sensors.
    """
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days!r}")
    last_day = (end_hour - 1) // HOURS_PER_DAY
    first_day = last_day - days + 1
    start_hour = first_day * HOURS_PER_DAY - CONTEXT_HOURS
    home_read = read_home(session, store, home, start_hour, end_hour, estate_outdoor=True)
    if home_read is None:
        return []
    registry, read = home_read
    rooms = registry.rooms
    n = len(rooms)
    room_ids = [int(r) for r in rooms["room_id"]]
    temp, rh, rh_max, outdoor = read
    temp_out, rh_out, measured = outdoor.for_rooms([home.uprn] * n, start_hour, end_hour)
    conditions = HourlyConditions(temp, rh, rh_max, temp_out, rh_out, measured, CONTEXT_HOURS)
    factors = rooms["temperature_factor"].to_numpy(dtype=float).copy()
    # Scoring may judge a room with a refined (lower) factor when it cools fast (analytics.fabric); the mould
    # state keeps the factor its index was computed with, and the chart uses the same one.
    used = dict(session.execute(select(RoomMouldState.room_id, RoomMouldState.temperature_factor)
                                .where(RoomMouldState.room_id.in_(room_ids))).all())
    for r, room_id in enumerate(room_ids):
        if used.get(room_id) is not None:
            factors[r] = used[room_id]
    wet = np.isin(rooms["room_type"], WET_ROOM_TYPES)
    stored = _stored_days(session, room_ids, first_day)

    first_hour = first_day * HOURS_PER_DAY
    columns = slice(CONTEXT_HOURS, CONTEXT_HOURS + end_hour - first_hour)
    hours = pd.to_datetime(np.arange(first_hour, end_hour) * 3600, unit="s", utc=True)
    day_dates = [_EPOCH_DATE + dt.timedelta(days=first_day + i) for i in range(days)]
    out = []
    for r, room_id in enumerate(room_ids):
        t_in = np.asarray(temp[r, columns], dtype=float)
        h_in = np.asarray(rh[r, columns], dtype=float)
        t_out = np.asarray(temp_out[r, columns], dtype=float)
        with np.errstate(invalid="ignore"):
            surface_rh = surface_relative_humidity(t_in, h_in, surface_temperature(t_in, t_out, factors[r]))
        hourly = pd.DataFrame({"temperature_c": t_in, "humidity_pct": h_in, "surface_rh_pct": surface_rh},
                              index=hours)
        rows = _room_days(conditions, r, float(factors[r]), bool(wet[r]), first_day, days, stored.get(room_id, {}))
        hours_data = np.nan_to_num(rows[:, _F["hours_data"]]).astype(int)
        mould_index = rows[:, _F["mould_index_end"]].copy()
        mould_index[hours_data == 0] = np.nan  # nothing to show on a day without readings
        with np.errstate(invalid="ignore", divide="ignore"):
            def mean(field: str, rows: np.ndarray = rows, hours_data: np.ndarray = hours_data) -> np.ndarray:
                return np.where(hours_data > 0, rows[:, _F[field]] / np.maximum(hours_data, 1), np.nan)

            daily = pd.DataFrame({
                "day": day_dates,
                "hours_data": hours_data,
                "temperature_c": mean("sum_temperature_c"),
                "humidity_pct": mean("sum_humidity_pct"),
                "surface_rh_pct": mean("sum_surface_rh_pct"),
                "hours_surface_rh_over_80": np.nan_to_num(rows[:, _F["hours_surface_rh_over_80"]]).astype(int),
                "mould_index": mould_index,
            })
        out.append(RoomSeries(
            room_id=room_id, name=str(rooms["name"].iat[r]), room_type=str(rooms["room_type"].iat[r]),
            temperature_factor=float(factors[r]), days=days, start=hour_datetime(first_hour),
            end=hour_datetime(end_hour), hourly=hourly, daily=daily,
        ))
    return out


def days_to_visible_mould(session: Session, room_ids: Sequence[int]) -> dict[int, float | None]:
    """Days until each room's mould index reaches :data:`VISIBLE_MOULD_INDEX` at its current rate.

    The latest finished scoring run's mould index and trend of each room, projected with
    :func:`analytics.mould.days_to_mould_index` over scoring's window (the numbers
    :func:`analytics.scoring.mould_projections` gives for a home's driver room). ``None`` where the index is
    not rising or the room was not scored; 0 where it is already there. [d]
    """
    run_id = session.scalar(select(ScoringRun.id).where(ScoringRun.finished_at.is_not(None))
                            .order_by(ScoringRun.id.desc()).limit(1))
    out: dict[int, float | None] = dict.fromkeys(room_ids)
    if run_id is None or not room_ids:
        return out
    rows = session.execute(select(RoomRisk.room_id, RoomRisk.mould_index, RoomRisk.mould_index_trend)
                           .where(RoomRisk.run_id == run_id, RoomRisk.room_id.in_(list(room_ids))))
    for room_id, index, trend in rows:
        days = float(days_to_mould_index(index or 0.0, trend or 0.0, VISIBLE_MOULD_INDEX, window_days=WINDOW_DAYS))
        out[room_id] = round(days, 1) if math.isfinite(days) else None
    return out


def _numbers(values: Any, digits: int) -> list[float | None]:
    """A column as JSON numbers (rounded), with ``None`` for a missing value."""
    array = np.round(np.asarray(values, dtype=float), digits)
    return [None if not math.isfinite(v) else float(v) for v in array.tolist()]


def series_json(series: Sequence[RoomSeries], projections: dict[int, float | None] | None = None) -> dict[str, Any]:
    """What the browser draws: each room's hourly and daily series as plain JSON (times in epoch seconds).

    ``{"surface_rh_limit_pct": 80, "visible_mould_index": 3, "rooms": [{"room_id", "name", "room_type",
    "start", "end", "hourly": {"t", "temperature_c", "humidity_pct", "surface_rh_pct"}, "daily": {"t",
    "hours_data", "mould_index"}, "days_to_visible_mould", "mould_index_partial"}]}``; a missing value is
    ``null``. Temperatures to 0.1 °C, humidities to 0.1 %, the mould index to 0.01.
    """
    projections = projections or {}
    rooms = []
    for room in series:
        hourly, daily = room.hourly, room.daily
        day_starts = [int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()) for day in daily["day"]]
        rooms.append({
            "room_id": room.room_id,
            "name": room.name,
            "room_type": room.room_type,
            "start": int(room.start.timestamp()),
            "end": int(room.end.timestamp()),
            "hourly": {
                "t": ((hourly.index - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).tolist(),
                "temperature_c": _numbers(hourly["temperature_c"], 1),
                "humidity_pct": _numbers(hourly["humidity_pct"], 1),
                "surface_rh_pct": _numbers(hourly["surface_rh_pct"], 1),
            },
            "daily": {
                "t": day_starts,
                "hours_data": [int(h) for h in daily["hours_data"]],
                "mould_index": _numbers(daily["mould_index"], 2),
            },
            "days_to_visible_mould": projections.get(room.room_id),
            "mould_index_partial": room.mould_index_partial,
        })
    return {"surface_rh_limit_pct": SURFACE_RH_MOULD_LIMIT, "visible_mould_index": VISIBLE_MOULD_INDEX,
            "rooms": rooms}
