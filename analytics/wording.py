"""Reasons and advice in plain English, from the templates in ``analytics/wording.toml``.

The logic here decides *which* sentences apply to a property and fills in their numbers; the sentences
themselves live in the template file, so that they can be reviewed and changed (or translated) without
touching code. Templates use ``$name`` placeholders (:class:`string.Template`); a missing value is an
error, never a blank.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import string
import tomllib
from pathlib import Path
from typing import Any, Final

from analytics.constants import SURFACE_RH_MOULD_LIMIT
from analytics.errors import AnalyticsError
from analytics.psychrometrics import (
    dewpoint_from_vapour_pressure,
    rh_for_surface_rh,
    surface_temperature,
    temperature_for_surface_rh,
    vapour_pressure,
)

__all__ = [
    "WORDING_PATH",
    "Explanation",
    "MissingRoom",
    "PropertyFacts",
    "RoomFacts",
    "contradictions",
    "explain",
    "render",
    "templates",
    "ventilation_label",
]

WORDING_PATH: Final = Path(__file__).with_name("wording.toml")
WORDING_SCHEMA_VERSION: Final = 1

#: Heating advice above this room temperature is not realistic; only the humidity target is given. [°C]
MAX_ADVISED_TEMPERATURE_C: Final = 23.0
#: A room humidity target below this is not achievable in a lived-in home; the advice says so by omission. [%]
MIN_ADVISED_HUMIDITY_PCT: Final = 40.0
#: The mould index is mentioned when it is at least this high. [-]
MENTION_MOULD_INDEX: Final = 0.1
#: Its rise is mentioned when at least this large over the window. [-]
MENTION_MOULD_RISE: Final = 0.05
#: Room air humidity is mentioned when above 70 % for at least this share of the time. [-]
MENTION_ROOM_HUMID_SHARE: Final = 0.2
#: Projections of mould growth further out than this are not given (the conditions will have changed). [d]
MAX_PROJECTED_DAYS: Final = 365.0
#: Where a room's temperature factor came from: the register's own figure, the archetype prior, the design value.
FACTOR_SOURCES: Final = ("register", "archetype", "design", "heat_loss")


@functools.cache
def templates(path: Path = WORDING_PATH) -> dict[str, Any]:
    """The wording file, parsed (cached); raises :class:`AnalyticsError` if it is missing or malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AnalyticsError(f"the wording file {path} cannot be read: {exc}") from exc
    if data.get("schema_version") != WORDING_SCHEMA_VERSION:
        raise AnalyticsError(
            f"the wording file {path} is schema version {data.get('schema_version')!r}; this DampWatch reads "
            f"version {WORDING_SCHEMA_VERSION}"
        )
    return data


def render(key: str, **values: Any) -> str:
    """Fill the template ``section.name`` with ``values``.

    Raises
    ------
    AnalyticsError
        If there is no such template or a placeholder has no value.
    """
    section, _, name = key.partition(".")
    try:
        text = templates()[section][name]
    except KeyError:
        raise AnalyticsError(f"the wording file has no template {key!r}") from None
    try:
        return string.Template(text).substitute(values)
    except (KeyError, ValueError) as exc:
        raise AnalyticsError(f"template {key!r} needs a value for {exc}") from exc


def _room(name: str) -> str:
    """A room name as it reads inside a sentence: "the Bathroom" → "the bathroom", "Bedroom 2" kept."""
    return name[:1].lower() + name[1:] if name and not any(ch.isdigit() for ch in name) else name


def _percent(share: float) -> int:
    return round(100.0 * share)


@dataclasses.dataclass(frozen=True)
class RoomFacts:
    """What the explanation needs to know about one room over the window."""

    name: str
    room_type: str
    mould_index: float
    mould_index_trend: float
    days_surface_rh_over_80: float
    share_surface_rh_over_80: float
    share_rh_over_70: float
    mean_temperature_c: float
    mean_humidity_pct: float
    mean_outdoor_temperature_c: float
    temperature_factor: float
    days_to_mould_1: float = math.nan
    days_to_mould_3: float = math.nan
    heat_loss_ratio: float = math.nan


@dataclasses.dataclass(frozen=True)
class MissingRoom:
    """A room whose sensor is silent or too sparse."""

    name: str
    hours_since_data: float
    coverage: float


@dataclasses.dataclass(frozen=True)
class PropertyFacts:
    """Everything :func:`explain` needs about one property's assessment."""

    band: str
    cause: str
    driver: RoomFacts | None
    cold_home: bool
    mean_temperature_c: float
    ventilation_room: str | None
    ventilation_remaining: float
    leak_room: str | None
    humidity_class: float
    missing_rooms: tuple[MissingRoom, ...]
    outdoor_climatology: bool
    vulnerable: tuple[str, ...]
    window_days: int
    model_label: str | None = None
    runner_up: str = ""
    ventilation_poor: bool = False
    ventilation_good: bool = False
    factor_source: str = "design"
    leak_steady: bool = True


@dataclasses.dataclass(frozen=True)
class Explanation:
    """Reasons to read aloud and what would help, in order of importance."""

    reasons: list[str]
    help: list[str]
    reason_keys: list[str] = dataclasses.field(default_factory=list)
    help_keys: list[str] = dataclasses.field(default_factory=list)


DAMP_CLAIMS: Final = frozenset({
    "reason.surface_damp_days", "reason.surface_damp_share", "reason.mould_index", "reason.mould_rising",
    "reason.leak", "reason.leak_wet_room", "reason.ventilation_slow", "reason.moisture_load", "reason.cold_fabric",
    "reason.runner_up", "reason.mould_projection", "reason.mould_projection_visible",
})
"""Reasons that say a home is damp or name a damp cause: they never stand beside the ``low`` band."""

WALL_CLAIMS: Final = frozenset({
    "reason.surface_damp_days", "reason.surface_damp_share", "reason.surface_dry", "reason.surface_low",
    "reason.mould_index", "reason.mould_rising", "reason.cold_fabric", "reason.factor_register",
    "reason.factor_archetype", "reason.factor_design", "reason.factor_heat_loss", "reason.mould_projection",
    "reason.mould_projection_visible",
})
"""Reasons that say anything about the walls: never made on insufficient data."""


def contradictions(band: str, score: float | None, reason_keys: list[str], help_keys: list[str]) -> list[str]:
    """Ways in which a property's words disagree with its band, as sentences (empty when they agree).

    The rules, written from the bands' meaning: a ``low`` home carries no claim of damp and no cause; a
    ``medium`` or worse home never reads "walls stayed dry" or "nothing needs doing"; a home with
    ``insufficient data`` has no score and no claim about its walls.
    """
    found = []
    keys = set(reason_keys)
    if band == "low":
        found += [f"low band with {key}" for key in sorted(keys & DAMP_CLAIMS)]
    elif band in ("medium", "high", "critical"):
        if "reason.surface_dry" in keys:
            found.append(f"{band} band with reason.surface_dry")
        if "help.low" in help_keys:
            found.append(f"{band} band with help.low")
    elif band == "insufficient data":
        if score is not None and math.isfinite(score):
            found.append("insufficient data with a score")
        found += [f"insufficient data with {key}" for key in sorted(keys & WALL_CLAIMS)]
    return found


def ventilation_label(score: float) -> str | None:
    """``good`` (70 and above), ``fair`` (50-70) or ``poor`` ventilation score, in the wording file's words."""
    if not math.isfinite(score):
        return None
    key = "ventilation_good" if score >= 70 else "ventilation_fair" if score >= 50 else "ventilation_poor"
    return render(f"insight.{key}")


class _Words(list[str]):
    """Sentences with the template key each came from, so the words can be checked against the band."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def add(self, key: str, **values: Any) -> None:
        self.append(render(key, **values))
        self.keys.append(key)


def _driver_reasons(facts: PropertyFacts, out: _Words) -> None:
    driver, window = facts.driver, facts.window_days
    if driver is None:
        return
    room = _room(driver.name)
    if facts.band == "low":
        # The same facts that kept the band low, said as such: damp hours that did not last.
        if driver.days_surface_rh_over_80 >= 1 or driver.share_surface_rh_over_80 >= 0.01:
            out.add("reason.surface_low", room=room, share=_percent(driver.share_surface_rh_over_80),
                    window=window, index=f"{driver.mould_index:.1f}")
        else:
            out.add("reason.surface_dry", window=window)
        return
    if driver.days_surface_rh_over_80 >= 1:
        out.add("reason.surface_damp_days", room=room, days=int(driver.days_surface_rh_over_80), window=window)
    elif driver.share_surface_rh_over_80 >= 0.01:
        out.add("reason.surface_damp_share", room=room, share=_percent(driver.share_surface_rh_over_80),
                window=window)
    else:
        out.add("reason.mould_only", room=room, window=window)
    if driver.mould_index >= MENTION_MOULD_INDEX:
        out.add("reason.mould_index", room=room, index=f"{driver.mould_index:.1f}")
        if driver.mould_index_trend >= MENTION_MOULD_RISE:
            out.add("reason.mould_rising", change=f"{driver.mould_index_trend:.1f}", window=window)
    _projection(driver, room, window, out)
    if driver.share_rh_over_70 >= MENTION_ROOM_HUMID_SHARE:
        out.add("reason.room_humid", room=room, share=_percent(driver.share_rh_over_70))
    if facts.factor_source == "heat_loss" and math.isfinite(driver.heat_loss_ratio):
        out.add("reason.factor_heat_loss", room=room, ratio=f"{driver.heat_loss_ratio:.1f}",
                factor=f"{driver.temperature_factor:.2f}")
    elif facts.factor_source in FACTOR_SOURCES[:3]:
        out.add(f"reason.factor_{facts.factor_source}", factor=f"{driver.temperature_factor:.2f}")


def _evidence(facts: PropertyFacts, cause: str, out: _Words) -> bool:
    """The sentence stating the evidence for ``cause``; False if its evidence cannot be put in words."""
    if cause == "leak" and facts.leak_room:
        out.add("reason.leak" if facts.leak_steady else "reason.leak_wet_room", room=_room(facts.leak_room))
    elif cause == "poor_ventilation" and facts.ventilation_room and math.isfinite(facts.ventilation_remaining):
        out.add("reason.ventilation_slow", room=_room(facts.ventilation_room),
                share=_percent(facts.ventilation_remaining))
    elif cause == "high_moisture_load" and math.isfinite(facts.humidity_class):
        out.add("reason.moisture_load", **{"class": int(facts.humidity_class)})
    elif cause == "cold_fabric" and facts.driver is not None:
        out.add("reason.cold_fabric", room=_room(facts.driver.name))
    else:
        return False
    return True


def _days(value: float) -> str:
    return "less than a day" if value < 1 else f"about {round(value)} day{'s' if round(value) != 1 else ''}"


def _projection(driver: RoomFacts, room: str, window: int, out: _Words) -> None:
    """Days to microscopic (1) and visible (3) growth at the window's rate, when it is rising."""
    to_1, to_3 = driver.days_to_mould_1, driver.days_to_mould_3
    if not math.isfinite(to_3) or to_3 <= 0 or to_3 > MAX_PROJECTED_DAYS:
        return
    if math.isfinite(to_1) and to_1 > 0:
        out.add("reason.mould_projection", room=room, window=window, days_1=_days(to_1), days_3=_days(to_3))
    else:
        out.add("reason.mould_projection_visible", room=room, window=window, days_3=_days(to_3))


def _cause_reasons(facts: PropertyFacts, out: _Words) -> None:
    cause, window = facts.cause, facts.window_days
    if cause == "under_heating" or facts.cold_home:
        out.add("reason.cold_home", temperature=f"{facts.mean_temperature_c:.1f}", window=window)
    if facts.band == "low":
        # No damp evidence: a cold home is a cold-home hazard, said above, not a damp risk; how well the wet
        # rooms clear steam is still worth knowing.
        if facts.ventilation_room and facts.ventilation_poor and math.isfinite(facts.ventilation_remaining):
            out.add("reason.ventilation_watch", room=_room(facts.ventilation_room),
                    share=_percent(facts.ventilation_remaining))
        elif facts.ventilation_room and facts.ventilation_good:
            out.add("reason.ventilation_good", room=_room(facts.ventilation_room))
        return
    _evidence(facts, cause, out)
    if facts.runner_up and facts.runner_up != cause:
        out.add("reason.runner_up", cause=render(f"cause.{facts.runner_up}"))
        if facts.runner_up != "under_heating":
            _evidence(facts, facts.runner_up, out)
    elif facts.ventilation_poor and cause != "poor_ventilation":
        # Ventilation measured and poor, though another cause weighs more: still worth saying.
        _evidence(facts, "poor_ventilation", out)


def _what_would_help(facts: PropertyFacts, help_: _Words) -> None:
    driver = facts.driver
    if facts.band == "insufficient data":
        help_.add("help.insufficient")
        return
    if facts.band == "low" or not facts.cause:
        if facts.cold_home:
            help_.add("help.under_heating")
        help_.add("help.low")
        return
    if driver is not None and all(
        math.isfinite(v) for v in (driver.mean_temperature_c, driver.mean_humidity_pct,
                                   driver.mean_outdoor_temperature_c)
    ):
        room = _room(driver.name)
        rh = float(rh_for_surface_rh(driver.mean_temperature_c, driver.mean_outdoor_temperature_c,
                                     driver.temperature_factor))
        wall_now = float(surface_temperature(driver.mean_temperature_c, driver.mean_outdoor_temperature_c,
                                             driver.temperature_factor))
        wall_needed = float(dewpoint_from_vapour_pressure(
            vapour_pressure(driver.mean_temperature_c, driver.mean_humidity_pct) / (SURFACE_RH_MOULD_LIMIT / 100.0)))
        warm = float(temperature_for_surface_rh(driver.mean_temperature_c, driver.mean_humidity_pct,
                                                driver.mean_outdoor_temperature_c, driver.temperature_factor))
        if rh >= MIN_ADVISED_HUMIDITY_PCT and rh < driver.mean_humidity_pct:
            if driver.mean_temperature_c < warm <= MAX_ADVISED_TEMPERATURE_C:
                help_.add("help.drier_or_warmer", room=room, rh=math.floor(rh),
                          rh_now=round(driver.mean_humidity_pct),
                          temperature=math.ceil(warm), temperature_now=f"{driver.mean_temperature_c:.0f}")
            else:
                help_.add("help.drier", room=room, rh=math.floor(rh), rh_now=round(driver.mean_humidity_pct))
        if wall_needed > wall_now:
            help_.add("help.warmer_wall", room=room, wall=f"{math.ceil(wall_needed * 2) / 2:.1f}",
                      wall_now=f"{wall_now:.1f}")
    room_for_cause = {
        "poor_ventilation": facts.ventilation_room,
        "leak": facts.leak_room,
        "cold_fabric": driver.name if driver is not None else None,
    }.get(facts.cause)
    if facts.cause:
        help_.add(f"help.{facts.cause}", room=_room(room_for_cause or "home"))
    if facts.cold_home and facts.cause != "under_heating":
        help_.add("help.under_heating")


def explain(facts: PropertyFacts) -> Explanation:
    """The reasons behind a property's risk and what would bring it down.

    Parameters
    ----------
    facts : PropertyFacts
        The property's assessment, driver room and context.

    Returns
    -------
    Explanation
        Reasons (what the readings show, the likely cause, missing data, outdoor data, vulnerability) and
        what would help (targets for the driver room from the cold-spot physics, then the action for the
        cause). Every sentence comes from the wording file.
    """
    window = facts.window_days
    reasons = _Words()
    if facts.band == "insufficient data":
        # No claim about walls on data that cannot support one; only what is missing.
        if facts.driver is None:
            reasons.add("reason.no_sensors")
        if facts.cold_home:
            reasons.add("reason.cold_home", temperature=f"{facts.mean_temperature_c:.1f}", window=window)
    else:
        _driver_reasons(facts, reasons)
        _cause_reasons(facts, reasons)
    for missing in facts.missing_rooms:
        if math.isfinite(missing.hours_since_data) and missing.hours_since_data > 24:
            reasons.add("reason.silent_room", room=_room(missing.name),
                        days=max(1, round(missing.hours_since_data / 24)))
        elif not (math.isfinite(missing.hours_since_data)):
            reasons.add("reason.silent_room", room=_room(missing.name), days=window)
        else:
            reasons.add("reason.sparse_room", room=_room(missing.name), share=_percent(missing.coverage),
                        window=window)
    if facts.outdoor_climatology and facts.band != "insufficient data":
        reasons.add("reason.climatology")
    if facts.vulnerable and facts.band != "low":
        who = [render(f"vulnerable.{flag}") for flag in facts.vulnerable]
        listed = who[0] if len(who) == 1 else ", ".join(who[:-1]) + " and " + who[-1]
        reasons.add("reason.vulnerable", who=listed)
    if facts.model_label:
        reasons.add("reason.model", model=facts.model_label)
    help_ = _Words()
    _what_would_help(facts, help_)
    return Explanation(reasons=list(reasons), help=list(help_), reason_keys=reasons.keys, help_keys=help_.keys)
