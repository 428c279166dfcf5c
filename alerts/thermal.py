"""Excess cold and excess heat alarms from the sensors (HHSRS hazards 2 and 3, Awaab's Law phase 2).

One observation per room per London day, read from the readings store's hourly means:

``excess_cold`` (living rooms, bedrooms)
    the share of the day's occupied hours (CIBSE TM59 profiles, ``analytics.thermal_comfort``) below
    18 °C, the WHO threshold. Raised when at least half of them were below it on 3 days running; cleared
    when under a quarter were on 2 days running. High severity when a quarter of the hours were below
    16 °C (PHE: respiratory risk) or the household is vulnerable.
``excess_heat`` (bedrooms, living rooms, kitchens)
    bedrooms: the night hours (22:00-07:00) above 26 °C (TM59 criterion b); other rooms: occupied hours
    1 K or more above the adaptive limit of TM59 criterion (a) on days the home's outdoor temperature is
    measured (its site's or district's outdoor sensors, else an imported weather file; the running mean over
    the week before, ``analytics.thermal_home.adaptive_limits_by_day``), else above 28 °C (CIBSE Guide A's
    static threshold for living areas). Raised at 3 or more such hours a day on 3 days running; cleared at
    under 1 hour on 2 days running.

The levels sit apart and the durations are days, so a room hovering at a threshold does not flap
(:class:`alerts.rules.Hysteresis`). The rule state is saved with every other rule's, so a restart loses
nothing. An alarm opens (or adds its hazard to) the home's case when the settings say so
(``DAMPWATCH_ALERTS_OPEN_CASE_RULES``); the case's trigger source is then "Environmental Sensor".
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from alerts.rules import Hysteresis
from analytics.thermal_comfort import (
    COLD_THRESHOLD_HEALTHY_C,
    COLD_THRESHOLD_RESPIRATORY_C,
    TM59_BEDROOM_NIGHT_LIMIT_C,
    exceedance_delta,
    occupied_hours_mask,
)
from core.model import Installation, Property, Room
from core.workdays import LONDON, london_date, start_of_day

if TYPE_CHECKING:
    from alerts.engine import EngineReport, Observation, ObservationPlace

logger = logging.getLogger(__name__)

COLD_RAISE_SHARE = 0.5
COLD_CLEAR_SHARE = 0.25
COLD_HIGH_SHARE_BELOW_16 = 0.25
HEAT_RAISE_HOURS = 3.0
HEAT_CLEAR_HOURS = 1.0
LIVING_AREA_LIMIT_C = 28.0
"""CIBSE Guide A (2015) table 1.5: living areas above 28 °C count towards overheating. [°C]"""
RAISE_DAYS = 3
CLEAR_DAYS = 2
MIN_HOURS_OF_DATA = 5
"""A day with fewer occupied (or night) hours of data than this says nothing (no information)."""
LOOKBACK_DAYS = 7
COLD_ROOM_TYPES = ("living_room", "bedroom")
HEAT_ROOM_TYPES = ("bedroom", "living_room", "kitchen")


def thermal_rules() -> dict[str, Hysteresis]:
    """The two rules' levels and durations (a day is 23 to 25 hours long: half a day's slack)."""
    half_day = dt.timedelta(hours=12)
    day = dt.timedelta(days=1)
    return {
        "excess_cold": Hysteresis(COLD_RAISE_SHARE, COLD_CLEAR_SHARE, raise_after=(RAISE_DAYS - 1) * day + half_day,
                                  clear_after=(CLEAR_DAYS - 1) * day + half_day, direction="above"),
        "excess_heat": Hysteresis(HEAT_RAISE_HOURS, HEAT_CLEAR_HOURS, raise_after=(RAISE_DAYS - 1) * day + half_day,
                                  clear_after=(CLEAR_DAYS - 1) * day + half_day, direction="above"),
    }


def _room_devices(session, at: dt.datetime) -> dict[int, tuple[Room, list[str]]]:
    rows = session.execute(
        select(Installation.device_id, Room).join(Room, Installation.room_id == Room.id)
        .where(Installation.installed_at <= at, (Installation.removed_at.is_(None)) | (Installation.removed_at > at))
    ).all()
    rooms: dict[int, tuple[Room, list[str]]] = {}
    for device_id, room in rows:
        if room.room_type in set(COLD_ROOM_TYPES) | set(HEAT_ROOM_TYPES):
            rooms.setdefault(room.id, (room, []))[1].append(device_id)
    return rooms


def day_values(temps: pd.Series, room_type: str, upper_limit: float | None = None) -> dict[str, Any]:
    """One London day's figures for a room from its hourly means (index: tz-aware hour starts of that day).

    Returns ``share_18``, ``share_16`` (None with too little data; only for cold rooms) and ``heat_hours``
    (None likewise; only for heat rooms), with the limit they were judged against (``heat_limit``; for a
    living room or kitchen, ``upper_limit`` + 0.5 K, the lowest temperature TM52 counts as 1 K above the
    day's adaptive limit, when ``upper_limit`` is given, else 28 °C) and ``heat_adaptive``.
    """
    local_hours = temps.index.tz_convert(LONDON).hour
    values = temps.to_numpy(dtype=float)
    out: dict[str, Any] = {"share_18": None, "share_16": None, "heat_hours": None}
    occupied = occupied_hours_mask(local_hours, room_type) & ~np.isnan(values)
    if room_type in COLD_ROOM_TYPES and occupied.sum() >= MIN_HOURS_OF_DATA:
        n = int(occupied.sum())
        out["share_18"] = float(np.sum(values[occupied] < COLD_THRESHOLD_HEALTHY_C) / n)
        out["share_16"] = float(np.sum(values[occupied] < COLD_THRESHOLD_RESPIRATORY_C) / n)
    if room_type in HEAT_ROOM_TYPES:
        # The day's adaptive limit, for a living room or kitchen on a day it is known; else None.
        adaptive_limit = (float(upper_limit) if room_type != "bedroom" and upper_limit is not None
                          and np.isfinite(upper_limit) else None)
        if room_type == "bedroom":
            window = occupied_hours_mask(local_hours, room_type, night=True) & ~np.isnan(values)
            limit = TM59_BEDROOM_NIGHT_LIMIT_C
        else:
            window = occupied
            limit = adaptive_limit + 0.5 if adaptive_limit is not None else LIVING_AREA_LIMIT_C
        if window.sum() >= MIN_HOURS_OF_DATA:
            if adaptive_limit is not None:
                out["heat_hours"] = float(np.sum(exceedance_delta(values[window], adaptive_limit) >= 1))
            else:
                out["heat_hours"] = float(np.sum(values[window] > limit))
        out["heat_limit"] = limit
        out["heat_adaptive"] = adaptive_limit is not None
    return out


def thermal_observations(session, store, now: dt.datetime, *, days: int = LOOKBACK_DAYS) -> list[Observation]:
    """Observations of both rules for every room with a sensor, one per complete London day in the lookback."""
    from alerts.engine import Observation

    today = london_date(now)
    first = today - dt.timedelta(days=days)
    start, end = start_of_day(first), start_of_day(today)
    rooms = _room_devices(session, end)
    if not rooms:
        return []
    devices = sorted({d for _, ids in rooms.values() for d in ids})
    frame = store.hourly(start, end, devices)
    observations: list[Observation] = []
    if frame.empty:
        return observations
    frame = frame.assign(hour=pd.to_datetime(frame["hour"], utc=True))
    homes = {h.uprn: h for h in session.scalars(select(Property).where(
        Property.uprn.in_({room.uprn for room, _ in rooms.values()})))}
    limits = _adaptive_limits(session, store, {room.uprn for room, _ in rooms.values()
                                               if room.room_type in ("living_room", "kitchen")}, start, end)
    for room_id, (room, ids) in sorted(rooms.items()):
        rows = frame[frame["device_id"].isin(ids)]
        if rows.empty:
            continue
        hourly = rows.groupby("hour")["temperature_c"].mean().sort_index()
        home = homes.get(room.uprn)
        vulnerable = bool(getattr(home, "vulnerable", False)) if home is not None else False
        day = first
        while day < today:
            lo, hi = start_of_day(day), start_of_day(day + dt.timedelta(days=1))
            temps = hourly[(hourly.index >= lo) & (hourly.index < hi)]
            values = day_values(temps, room.room_type, limits.get(room.uprn, {}).get(day)) if len(temps) else {}
            subject_key = f"room:{room_id}"
            place: ObservationPlace = {"until": hi, "uprn": room.uprn, "room_id": room_id, "room_type": room.room_type}
            if room.room_type in COLD_ROOM_TYPES:
                share_18, share_16 = values.get("share_18"), values.get("share_16")
                context: dict[str, Any] = {"room": room.name.lower(), "vulnerable": vulnerable, "hazard": "excess_cold"}
                if share_18 is not None and share_16 is not None:  # day_values gives both or neither
                    context.update(share_18=f"{share_18 * 100:.0f}", share_16=f"{share_16 * 100:.0f}",
                                   severity="high" if share_16 >= COLD_HIGH_SHARE_BELOW_16 else "medium")
                observations.append(Observation(rule="excess_cold", subject_key=subject_key, value=share_18, at=lo,
                                                context=context, **place))
            if room.room_type in HEAT_ROOM_TYPES:
                hours = values.get("heat_hours")
                limit = values.get("heat_limit", TM59_BEDROOM_NIGHT_LIMIT_C)
                context = {"room": room.name.lower(), "vulnerable": vulnerable, "hazard": "excess_heat",
                           "limit": f"{limit:.1f}" if values.get("heat_adaptive") else f"{limit:.0f}", "period": "at night, 22:00-07:00" if room.room_type == "bedroom"
                           else "in occupied hours, 09:00-22:00"}
                if hours is not None:
                    context["hours"] = f"{hours:.0f}"
                observations.append(Observation(rule="excess_heat", subject_key=subject_key, value=hours, at=lo,
                                                context=context, **place))
            day += dt.timedelta(days=1)
    return observations


def _adaptive_limits(session, store, uprns: set[str], start: dt.datetime, end: dt.datetime
                     ) -> dict[str, dict[dt.date, float]]:
    """Each home's TM59 (a) adaptive limit by London day where its outdoor temperature is measured."""
    if not uprns:
        return {}
    from analytics.registry import epoch_hour, load_registry, outdoor_conditions
    from analytics.thermal_home import RUNNING_MEAN_LEAD_DAYS, adaptive_limits_by_day, measured_outdoor_daily

    registry = load_registry(session)
    if registry.properties.empty:
        return {}
    outdoor = outdoor_conditions(session, store, registry, epoch_hour(start) - RUNNING_MEAN_LEAD_DAYS * 24,
                                 epoch_hour(end))
    out: dict[str, dict[dt.date, float]] = {}
    for uprn in uprns:
        if uprn in outdoor.chain_of:
            out[uprn] = adaptive_limits_by_day(measured_outdoor_daily(outdoor, uprn)[0])
    return out


def evaluate_thermal(session, store, settings, now: dt.datetime | None = None) -> EngineReport:
    """Observe both rules over the lookback and raise, update or clear their alarms."""
    from alerts.engine import apply
    from core.model import utcnow

    now = now or utcnow()
    observations = thermal_observations(session, store, now)
    report = apply(session, settings, observations, now)
    if report.raised or report.cleared:
        logger.info("thermal rules: %d raised, %d cleared from %d observations", len(report.raised),
                    len(report.cleared), report.observations)
    return report
