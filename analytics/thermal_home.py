"""Excess cold and excess heat as insights for each room and the whole home, with reasons and advice.

The figures come from :func:`analytics.thermal_comfort.assess_room` (the same physics as the alarm rules in
``alerts.thermal``), over a recent window (:data:`WINDOW_DAYS`, like the damp and mould score):

Cold (living rooms and bedrooms, the rooms the WHO threshold is about)
    ``medium`` when at least half of a room's occupied hours were below 18 °C (WHO 2018), ``high`` when at
    least a quarter were below 16 °C (PHE 2014, respiratory risk).
Heat (bedrooms, living rooms and kitchens, the rooms CIBSE TM59 assesses)
    TM59 criterion (b) for bedrooms: night hours (22:00-07:00) above 26 °C at most 1 % of those in the window.
    TM59 criterion (a) where the home has *measured* outdoor temperatures (its site's or district's outdoor
    sensors, else an imported weather file, in the risk score's order; the estate's farther sensors are not
    read, as on the property page's charts when there are many): hours of
    occupation 1 K or more above the TM52 / BS EN 15251 category II adaptive limit, at most 3 %. The running
    mean needs the days before the window, so :data:`RUNNING_MEAN_LEAD_DAYS` more are read. The UK
    climatology that fills the risk score's gaps is not used for (a) (a monthly average says nothing about a
    heatwave): a gap inside the measured days carries the running mean forward, and the days after the day
    following the last measured one are not judged by (a). Living rooms and kitchens without measured outdoor weather are judged instead by
    the static criterion of CIBSE Guide A (2006) for dwellings, at most 1 % of occupied hours above 28 °C
    (:func:`analytics.thermal_comfort.static_overheating`).
    ``medium`` when one criterion fails, ``high`` when two do.

The home's verdict for each is its worst room's. Reasons name the rooms and their figures; advice is for the
officer talking to the household: help with energy costs for cold, shading and ventilation for heat.

The window is short against TM59's May-to-September season, so read a failure as "overheating now", a
screening signal for an inspection, not a TM59 compliance result.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from analytics.thermal_comfort import (
    COLD_THRESHOLD_HEALTHY_C,
    COLD_THRESHOLD_RESPIRATORY_C,
    GUIDE_A_LIVING_LIMIT_C,
    TM59_BEDROOM_NIGHT_LIMIT_C,
    ThermalAssessment,
    adaptive_upper_limit,
    assess_room,
    occupied_hours_mask,
    running_mean_outdoor_temperature,
    static_overheating,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.readings import ReadingsStore

logger = logging.getLogger(__name__)

__all__ = ["COLD_ROOM_TYPES", "HEAT_ROOM_TYPES", "WINDOW_DAYS", "HomeThermal", "RoomThermal",
           "adaptive_limits_by_day", "assess_home", "home_thermal", "measured_outdoor_daily", "usable_outdoor_daily"]

WINDOW_DAYS: Final = 14
RUNNING_MEAN_LEAD_DAYS: Final = 7
"""Days of outdoor temperature read before the window, so the running mean has settled (0.8^7 ≈ 0.2)."""
MIN_OUTDOOR_HOURS_A_DAY: Final = 18
"""A day's mean outdoor temperature needs this many measured hours; else the day is not used."""
COLD_ROOM_TYPES: Final = ("living_room", "bedroom")
HEAT_ROOM_TYPES: Final = ("bedroom", "living_room", "kitchen")
LEVELS: Final = ("unknown", "none", "medium", "high")
"""Verdicts from least to most serious ("unknown": no room could be judged)."""
ROOM_TYPE_WORDS: Final = {"living_room": "living room", "bedroom": "bedroom", "kitchen": "kitchen"}

COLD_ADVICE: Final = (
    "Check the heating works, that the household can use its controls, and what it costs them to run.",
    "Offer help with energy costs: Simple Energy Advice (www.simpleenergyadvice.org.uk) in England, Nest's free "
    "advice (nest.gov.wales, 0808 808 2244) in Wales, the Warm Home Discount, the energy supplier's Priority Services Register and "
    "payment support, and Citizens Advice.",
    "Look for draughts, missing insulation and windows or doors that do not close.",
)
HEAT_ADVICE: Final = (
    "Advise shading: curtains or blinds closed on windows that get the sun during the day.",
    "Advise ventilation when it is cooler outside than in, late evening to early morning, where it is safe; check "
    "that windows open and any extract fans work.",
    "Check for heat that cannot be turned off: heating pipes, a hot water cylinder or communal heating running in "
    "summer; consider external shading or window restrictors with secure night ventilation.",
)


@dataclass
class RoomThermal:
    """One room's cold and heat figures and verdicts."""

    room_id: int
    name: str
    room_type: str
    assessment: ThermalAssessment
    cold: str
    """One of :data:`LEVELS`; "unknown" also for rooms the cold verdict does not cover."""
    heat: str
    static: tuple[int, int, bool] | None = None
    """CIBSE Guide A static criterion (hours above 28 °C, hours assessed, passes), used without outdoor weather."""


@dataclass
class HomeThermal:
    """A home's excess cold and excess heat insight over ``[start, end)``."""

    uprn: str
    start: dt.datetime
    end: dt.datetime
    cold: str
    heat: str
    rooms: list[RoomThermal]
    reasons: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    outdoor_source: str | None = None
    """Where criterion (a)'s outdoor temperatures came from; None when (a) could not be judged."""

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the API."""
        def share(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        def criterion(value: tuple[int, int, bool] | None, names: tuple[str, str]) -> dict[str, Any] | None:
            if value is None:
                return None
            return {names[0]: value[0], names[1]: value[1], "passes": bool(value[2])}

        return {
            "uprn": self.uprn, "from": self.start.isoformat().replace("+00:00", "Z"),
            "to": self.end.isoformat().replace("+00:00", "Z"), "cold": self.cold, "heat": self.heat,
            "reasons": list(self.reasons), "advice": list(self.advice), "outdoor_source": self.outdoor_source,
            "rooms": [{
                "room_id": room.room_id, "name": room.name, "room_type": room.room_type, "cold": room.cold,
                "heat": room.heat, "hours_assessed": room.assessment.hours_assessed,
                "share_below_18c": share(room.assessment.share_below_healthy),
                "share_below_16c": share(room.assessment.share_below_respiratory),
                "tm59_a": criterion(room.assessment.tm59_a, ("hours_exceeding", "hours_assessed")),
                "tm59_b": criterion(room.assessment.tm59_b, ("hours_above_26c", "hours_allowed")),
                "static_28c": criterion(room.static, ("hours_above_28c", "hours_assessed")),
            } for room in self.rooms],
        }


def _worst(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index) if levels else "unknown"


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def assess_home(uprn: str, rooms: list[tuple[int, str, str, pd.Series]], start: dt.datetime, end: dt.datetime, *,
                outdoor_daily_mean: pd.Series | None = None, outdoor_source: str | None = None) -> HomeThermal:
    """Judge every room and the home.

    Parameters
    ----------
    uprn : str
        The home.
    rooms : list of (room id, name, room type, hourly temperature)
        Hourly mean air temperature of each room over the window (tz-aware UTC hour starts; NaN or missing
        hours are not assessed). [°C]
    start, end : datetime
        The window, for the record.
    outdoor_daily_mean : pandas.Series, optional
        Measured daily mean outdoor temperature indexed by London date, from before the window on (NaN: not
        measured). Without it, living rooms and kitchens fall back on the static 28 °C criterion. [°C]
    outdoor_source : str, optional
        Where those temperatures came from, for the reasons.

    Returns
    -------
    HomeThermal
    """
    if outdoor_daily_mean is not None:
        # The days after the day following the last measured one have no measured basis: not judged by (a).
        outdoor_daily_mean = usable_outdoor_daily(outdoor_daily_mean)
    judged: list[RoomThermal] = []
    for room_id, name, room_type, hourly in rooms:
        if room_type not in COLD_ROOM_TYPES and room_type not in HEAT_ROOM_TYPES:
            continue
        assessment = assess_room(hourly, room_type, outdoor_daily_mean=outdoor_daily_mean)
        cold = assessment.cold if room_type in COLD_ROOM_TYPES else "unknown"
        heat = assessment.heat
        static = None
        tm59_a_judged = assessment.tm59_a is not None and assessment.tm59_a[1] > 0
        if room_type != "bedroom" and not tm59_a_judged and assessment.hours_assessed:
            local_hours = hourly.index.tz_convert("Europe/London").hour
            temps = hourly.to_numpy(dtype=float)
            static = static_overheating(np.where(occupied_hours_mask(local_hours, room_type), temps, np.nan))
            heat = "none" if static[2] else "medium"
        judged.append(RoomThermal(room_id, name, room_type, assessment, cold, heat, static))
    cold = _worst([r.cold for r in judged if r.room_type in COLD_ROOM_TYPES and r.cold != "unknown"])
    heat = _worst([r.heat for r in judged if r.heat != "unknown"])
    used_outdoor = any(r.assessment.tm59_a is not None and r.assessment.tm59_a[1] > 0 for r in judged)
    home = HomeThermal(uprn, start, end, cold, heat, judged, outdoor_source=outdoor_source if used_outdoor else None)
    home.reasons = _reasons(home)
    home.advice = list(COLD_ADVICE if cold in ("medium", "high") else ()) + \
        list(HEAT_ADVICE if heat in ("medium", "high") else ())
    return home


def _reasons(home: HomeThermal) -> list[str]:
    reasons: list[str] = []
    for room in home.rooms:
        a = room.assessment
        if room.cold in ("medium", "high"):
            reasons.append(
                f"{room.name}: {_percent(a.share_below_healthy or 0.0)} of occupied hours below "
                f"{COLD_THRESHOLD_HEALTHY_C:.0f} °C (WHO 2018 advises at least {COLD_THRESHOLD_HEALTHY_C:.0f} °C), "
                f"{_percent(a.share_below_respiratory or 0.0)} below {COLD_THRESHOLD_RESPIRATORY_C:.0f} °C "
                "(raised respiratory risk, PHE 2014).")
    for room in home.rooms:
        a = room.assessment
        if a.tm59_b is not None and not a.tm59_b[2]:
            reasons.append(f"{room.name}: {a.tm59_b[0]} night hours (22:00 to 07:00) above "
                           f"{TM59_BEDROOM_NIGHT_LIMIT_C:.0f} °C; CIBSE TM59 (b) allows {a.tm59_b[1]}.")
        if a.tm59_a is not None and a.tm59_a[1] > 0 and not a.tm59_a[2]:
            reasons.append(f"{room.name}: {a.tm59_a[0]} of {a.tm59_a[1]} occupied hours 1 K or more above the "
                           f"adaptive limit for the weather outside ({home.outdoor_source}); CIBSE TM59 (a) allows "
                           "3 %.")
        if room.static is not None and not room.static[2]:
            reasons.append(f"{room.name}: {room.static[0]} of {room.static[1]} occupied hours above "
                           f"{GUIDE_A_LIVING_LIMIT_C:.0f} °C; CIBSE Guide A allows 1 % (no outdoor weather measured "
                           "near this home, so not the adaptive limit).")
    if home.cold == "none":
        reasons.append(f"Warm enough: no living room or bedroom spent half its occupied hours below "
                       f"{COLD_THRESHOLD_HEALTHY_C:.0f} °C.")
    if home.heat == "none":
        reasons.append("Not overheating: every room assessed met its overheating criterion.")
    if home.cold == "unknown" and home.heat == "unknown":
        reasons.append("Not enough readings from living rooms, bedrooms or kitchens in this period to judge.")
    return reasons


def measured_outdoor_daily(outdoor: Any, uprn: str) -> tuple[pd.Series | None, str | None]:
    """A home's measured daily mean outdoor temperature and its main source, from :class:`OutdoorConditions`.

    Parameters
    ----------
    outdoor : analytics.registry.OutdoorConditions
        Outdoor conditions of the home's chain, hour by hour from ``outdoor.start_hour``.
    uprn : str
        The home.

    Returns
    -------
    (pandas.Series or None, str or None)
        Daily means of the measured hours (not the climatology) by London date, NaN for a day with fewer than
        :data:`MIN_OUTDOOR_HOURS_A_DAY` of them [°C]; and the source that gave most measured hours. (None, None)
        when no day is measured.
    """
    from analytics.registry import CLIMATOLOGY, OUTDOOR_SOURCES

    chain = outdoor.chain_of[uprn]
    codes = outdoor.source[chain]
    measured = codes < CLIMATOLOGY
    if not measured.any():
        return None, None
    hour_starts = pd.date_range(dt.datetime.fromtimestamp(outdoor.start_hour * 3600, dt.UTC), periods=codes.size,
                                freq="h")
    frame = pd.DataFrame({"t": np.where(measured, outdoor.temperature_c[chain], np.nan)},
                         index=pd.Index(hour_starts.tz_convert("Europe/London").date, name="day"))
    grouped = frame.groupby(level="day")["t"]
    daily = grouped.mean().where(grouped.count() >= MIN_OUTDOOR_HOURS_A_DAY)
    if not daily.notna().any():
        return None, None
    return daily, OUTDOOR_SOURCES[int(np.bincount(codes[measured], minlength=len(OUTDOOR_SOURCES)).argmax())]


def usable_outdoor_daily(daily: pd.Series | None) -> pd.Series | None:
    """The part of a daily outdoor series the running mean may use: from its first measured day to the day after
    its last (θrm of a day rests on the days before it; a gap inside carries it forward)."""
    if daily is None:
        return None
    daily = daily.sort_index()
    first, last = daily.first_valid_index(), daily.last_valid_index()
    if first is None:
        return None
    return daily.iloc[daily.index.get_loc(first):daily.index.get_loc(last) + 2]


def adaptive_limits_by_day(daily: pd.Series | None) -> dict[dt.date, float]:
    """The TM52 / BS EN 15251 category II upper limit of each London day a measured running mean covers. [°C]"""
    usable = usable_outdoor_daily(daily)
    if usable is None:
        return {}
    limits = adaptive_upper_limit(running_mean_outdoor_temperature(usable))
    return {day: float(value) for day, value in limits.items() if np.isfinite(value)}


def home_thermal(session: Session, store: ReadingsStore, uprn: str, now: dt.datetime, *,
                 days: int = WINDOW_DAYS) -> HomeThermal | None:
    """The insight for one home over the ``days`` whole hours up to ``now`` (None: no such home).

    Reads the rooms' hourly means and the home's outdoor conditions as the damp and mould score does
    (``analytics.registry``), including a lead of :data:`RUNNING_MEAN_LEAD_DAYS` for the running mean.
    """
    from analytics.registry import epoch_hour
    from analytics.room_series import read_home
    from core.model import Property

    home = session.get(Property, uprn)
    if home is None:
        return None
    end_hour = epoch_hour(now)
    start_hour = end_hour - days * 24
    lead_hour = start_hour - RUNNING_MEAN_LEAD_DAYS * 24
    start = dt.datetime.fromtimestamp(start_hour * 3600, dt.UTC)
    end = dt.datetime.fromtimestamp(end_hour * 3600, dt.UTC)
    hours = pd.date_range(start, periods=end_hour - start_hour, freq="h")
    rooms: list[tuple[int, str, str, pd.Series]] = []
    outdoor_daily, source = None, None
    # One read of the rooms and the outdoor sensors from the running mean's lead on; the rooms are judged
    # from start_hour. The estate's farther outdoor sensors are not read (see the module's docstring).
    home_read = read_home(session, store, home, lead_hour, end_hour, estate_outdoor=False)
    if home_read is not None:
        registry, (temperature, _, _, outdoor) = home_read
        indoor = registry.rooms
        window = slice(start_hour - lead_hour, end_hour - lead_hour)
        for row, (room_id, name, room_type) in enumerate(
                zip(indoor["room_id"], indoor["name"], indoor["room_type"], strict=True)):
            rooms.append((int(room_id), str(name), str(room_type), pd.Series(temperature[row, window], index=hours)))
        outdoor_daily, source = measured_outdoor_daily(outdoor, uprn)
    return assess_home(uprn, rooms, start, end, outdoor_daily_mean=outdoor_daily, outdoor_source=source)
