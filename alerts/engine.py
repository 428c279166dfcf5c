"""The alarm rules applied to the app database: observations in, alarms and messages out.

Rules and what they watch
-------------------------
=================  =====================================  ==============================================
rule               value (subject)                        raise / clear (defaults)
=================  =====================================  ==============================================
``risk_band``      risk score of each scoring run         into ``DAMPWATCH_ALERTS_RISK_BAND`` (high: 50) /
                   (home)                                 10 points below it for 3 days
``sustained_damp`` share of each day's hours the          ≥ 75 % of the hours for 72 h
                   coldest wall was above 80 % (room,     (``DAMPWATCH_ALERTS_DAMP_HOURS``) / < 50 % for
                   from ``RoomDay``)                      48 h
``likely_leak``    1 when analytics names a leak (home)   at once / no leak for 3 days
``cold_home``      home's mean temperature, or below 16   ≤ 16 °C (or analytics' cold-home flag) /
                   when analytics flags a cold home       > 17 °C for 3 days
``sensor_silent``  hours since the last reading (device)  ≥ ``DAMPWATCH_ALERTS_SILENT_HOURS`` (24) /
                                                          < 1 h for 1 h
``battery_low``    battery voltage (device)               ≤ ``DAMPWATCH_ALERTS_BATTERY_LOW_V`` (2.6) for
                                                          6 h / > 2.8 V for 1 h
=================  =====================================  ==============================================

The risk rules need no wait before raising: a score already sums up 14 days of readings. Their
hysteresis is in clearing. The sensor rules run on a clock (:func:`evaluate_device_health`, every few
minutes from ``dampwatch alerts run --every``), because a silent sensor matters whether or not a scoring
run happens; the others run on each new scoring run (:func:`evaluate_scoring`).

Each (rule, subject) keeps its :class:`alerts.rules.RuleState` in ``alarm_rule_state`` and only takes in
observations newer than the last one it saw, so restarts and repeated runs neither lose nor double count.
When a rule raises, an alarm is opened (linked to the home's open case, if any), the tenants get the
advice that fits the cause (:mod:`alerts.messages`) and the webhook gets the event; when it clears, the
alarm is resolved by the system with a note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts import alarms as lifecycle
from alerts.messages import CAUSE_MESSAGES, LONDON, notify_tenants, staff_text
from alerts.rules import Hysteresis, RuleState, observe
from alerts.thermal import thermal_rules
from analytics.risk import BAND_THRESHOLDS, BANDS
from core.cases import DuplicateCaseError, add_hazard, find_open_case, hazard_codes, open_case
from core.model import (
    Device,
    DeviceHealth,
    Installation,
    Property,
    PropertyRisk,
    Room,
    RoomDay,
    RoomRisk,
    ScoringRun,
    utcnow,
)
from core.model_alerts import Alarm, AlarmRuleState

logger = logging.getLogger(__name__)

RISK_RULES = ("risk_band", "likely_leak", "cold_home")
DEVICE_RULES = ("sensor_silent", "battery_low")
THERMAL_RULES = ("excess_cold", "excess_heat")  # alerts.thermal observes them (issue 15)
RULES = (*RISK_RULES, "sustained_damp", *THERMAL_RULES, *DEVICE_RULES)
RULE_SEVERITY = {"sustained_damp": "high", "likely_leak": "high", "cold_home": "medium",
                 "sensor_silent": "medium", "battery_low": "low", "excess_cold": "medium", "excess_heat": "medium"}
#: Rules whose alarm sends the home's tenants advice (battery low is for staff only).
TENANT_RULES = ("risk_band", "sustained_damp", "likely_leak", "cold_home", "sensor_silent", *THERMAL_RULES)
#: The HHSRS hazard a case opened from a rule's alarm carries (default: damp and mould).
RULE_HAZARDS = {"excess_cold": "excess_cold", "excess_heat": "excess_heat"}

DAMP_MIN_HOURS = 12
"""A day with fewer hours of data than this says nothing about sustained damp (it is no information)."""
COLD_HOME_FLAG_VALUE = 15.9
"""The value a home flagged cold by analytics (rooms below 16 °C for half the time) is given. [°C]"""


@dataclasses.dataclass(frozen=True)
class RuleConfig:
    """The levels and durations of every rule, from the settings."""

    rules: dict[str, Hysteresis]

    @classmethod
    def from_settings(cls, settings) -> RuleConfig:
        band_floor = BAND_THRESHOLDS[BANDS.index(settings.alerts_risk_band) - 1]
        hours = dt.timedelta(hours=1)
        days = dt.timedelta(days=1)
        return cls({
            "risk_band": Hysteresis(band_floor, band_floor - 10.0, clear_after=3 * days),
            "sustained_damp": Hysteresis(0.75, 0.5, raise_after=settings.alerts_damp_hours * hours,
                                         clear_after=48 * hours),
            "likely_leak": Hysteresis(1.0, 0.5, clear_after=3 * days),
            "cold_home": Hysteresis(16.0, 17.0, clear_after=3 * days, direction="below"),
            "sensor_silent": Hysteresis(settings.alerts_silent_hours, 1.0, clear_after=hours),
            "battery_low": Hysteresis(settings.alerts_battery_low_v, settings.alerts_battery_low_v + 0.2,
                                      raise_after=6 * hours, clear_after=hours, direction="below"),
            **thermal_rules(),
        })


@dataclasses.dataclass
class Observation:
    """One value of one rule for one subject, and what an alarm needs to describe it."""

    rule: str
    subject_key: str
    value: float | None
    at: dt.datetime
    until: dt.datetime | None = None
    uprn: str | None = None
    room_id: int | None = None
    room_type: str | None = None
    device_id: str | None = None
    context: dict[str, Any] = dataclasses.field(default_factory=dict)


class ObservationPlace(TypedDict, total=False):
    """Where (and until when) an observation is: keyword arguments of :class:`Observation`, shared by a subject's rules."""

    until: dt.datetime | None
    uprn: str | None
    room_id: int | None
    room_type: str | None
    device_id: str | None


@dataclasses.dataclass
class EngineReport:
    """What an evaluation did."""

    observations: int = 0
    raised: list[int] = dataclasses.field(default_factory=list)
    cleared: list[int] = dataclasses.field(default_factory=list)
    escalated: list[int] = dataclasses.field(default_factory=list)
    messages: int = 0
    digests: int = 0

    def merge(self, other: EngineReport) -> EngineReport:
        self.observations += other.observations
        self.raised += other.raised
        self.cleared += other.cleared
        self.escalated += other.escalated
        self.messages += other.messages
        self.digests += other.digests
        return self


def _settings(settings):
    if settings is None:
        from core.settings import load_settings

        settings = load_settings()
    return settings


# -- state ------------------------------------------------------------------------------------------------------


def _load_states(session: Session, rules: Iterable[str]) -> dict[tuple[str, str], AlarmRuleState]:
    rows = session.scalars(select(AlarmRuleState).where(AlarmRuleState.rule.in_(list(rules))))
    return {(row.rule, row.subject_key): row for row in rows}


def _as_state(row: AlarmRuleState | None) -> RuleState:
    if row is None:
        return RuleState()
    return RuleState(row.raised, row.condition_since, row.clear_since, row.last_value, row.last_at)


def _save_state(session: Session, rows: dict, obs: Observation, state: RuleState) -> None:
    row = rows.get((obs.rule, obs.subject_key))
    if row is None:
        row = AlarmRuleState(rule=obs.rule, subject_key=obs.subject_key)
        session.add(row)
        rows[(obs.rule, obs.subject_key)] = row
    row.uprn = obs.uprn
    row.raised = state.raised
    row.condition_since = state.condition_since
    row.clear_since = state.clear_since
    row.last_value = state.last_value
    row.last_at = state.last_at


def active_alarm(session: Session, rule: str, subject_key: str) -> Alarm | None:
    """The alarm of a rule and subject that is not resolved, if any."""
    return session.scalars(select(Alarm).where(Alarm.rule == rule, Alarm.subject_key == subject_key,
                                               Alarm.resolved_at.is_(None))).first()


# -- applying observations ---------------------------------------------------------------------------------------


def apply(session: Session, settings, observations: list[Observation], now: dt.datetime,
          config: RuleConfig | None = None) -> EngineReport:
    """Take observations in (oldest first); raise, update and clear alarms accordingly."""
    config = config or RuleConfig.from_settings(settings)
    report = EngineReport(observations=len(observations))
    rows = _load_states(session, {o.rule for o in observations})
    # Rules one after another (a subject's observations stay in time order): a home's risk alarm, whose
    # advice names the likely cause, comes before the room alarms of the same scoring run.
    for obs in sorted(observations, key=lambda o: (RULES.index(o.rule), o.until or o.at, o.subject_key)):
        state = _as_state(rows.get((obs.rule, obs.subject_key)))
        was_raised = state.raised
        transition = observe(state, obs.value, obs.at, config.rules[obs.rule], until=obs.until)
        _save_state(session, rows, obs, state)
        if transition == "raise":
            alarm = _raise(session, settings, obs, now, report)
            if alarm is not None:
                report.raised.append(alarm.id)
        elif transition == "clear":
            alarm = active_alarm(session, obs.rule, obs.subject_key)
            if alarm is not None:
                at = min(obs.until or obs.at, now)
                alarm.cleared_at = at
                alarm.last_value = obs.value
                lifecycle.resolve(session, alarm, lifecycle.SYSTEM_ACTOR,
                                  staff_text("alarm.cleared", rule=obs.rule), settings=settings, now=now,
                                  kind="cleared")
                report.cleared.append(alarm.id)
        elif was_raised and state.raised and obs.value is not None:
            _update(session, obs, now)
    session.flush()
    return report


def _describe(obs: Observation) -> str:
    c = obs.context
    if obs.rule == "risk_band":
        key = "alarm.risk_band" if c["previous"] in BANDS and c["previous"] != c["band"] else "alarm.risk_band_new"
        text = staff_text(key, band=c["band"], score=f"{c['score']:.0f}", previous=c["previous"],
                          cause=c["cause_words"])
    elif obs.rule == "sustained_damp":
        text = staff_text("alarm.sustained_damp", room=c["room"], since=c["since"], hours=c["hours"])
    elif obs.rule == "sensor_silent":
        key = "alarm.sensor_silent" if c.get("last_seen") else "alarm.sensor_never"
        text = staff_text(key, device=obs.device_id, room=c["room"], last_seen=c.get("last_seen") or "",
                          hours=f"{obs.value:.0f}")
    elif obs.rule == "battery_low":
        text = staff_text("alarm.battery_low", device=obs.device_id, room=c["room"], volts=f"{obs.value:.2f}")
    elif obs.rule == "likely_leak":
        text = staff_text("alarm.likely_leak", room=c.get("room") or "home")
    elif obs.rule in THERMAL_RULES:
        text = staff_text(f"alarm.{obs.rule}", **{k: c[k] for k in c if isinstance(c[k], str)})
    else:
        text = staff_text("alarm.cold_home", temperature=c["temperature"])
    return text


def _severity(obs: Observation) -> str:
    if obs.rule == "risk_band":
        return obs.context["band"] if obs.context["band"] in BANDS[1:] else "high"
    if obs.rule in ("cold_home", *THERMAL_RULES) and obs.context.get("vulnerable"):
        return "high"
    if obs.rule in THERMAL_RULES and obs.context.get("severity") == "high":
        return "high"
    return RULE_SEVERITY[obs.rule]


def _raise(session: Session, settings, obs: Observation, now: dt.datetime, report: EngineReport) -> Alarm | None:
    if active_alarm(session, obs.rule, obs.subject_key) is not None:
        return None  # still open from before (its state was lost or reset): keep the one there is
    # Raised when the system noticed (staff could know from then; escalation counts from it), which is
    # when the condition completed unless older data was only now taken in (kept in the detail).
    raised_at = now
    message = _describe(obs)
    detail = {k: v for k, v in obs.context.items() if isinstance(v, (str, int, float, bool, list))}
    detail["condition_met_at"] = min(obs.until or obs.at, now).isoformat()
    alarm = Alarm(rule=obs.rule, subject_key=obs.subject_key, uprn=obs.uprn, room_id=obs.room_id,
                  device_id=obs.device_id, severity=_severity(obs), status="open", message=message,
                  last_value=obs.value, raised_at=raised_at, escalation_level=0, detail=detail)
    session.add(alarm)
    session.flush()
    lifecycle.add_event(session, alarm, "raised", lifecycle.SYSTEM_ACTOR, message, at=raised_at,
                        value=obs.value)
    if obs.uprn is not None:
        _link_case(session, settings, alarm, raised_at)
    lifecycle.send_event(session, settings, "alarm.raised", f"alarm.raised:{alarm.id}", now=now, alarm=alarm)
    message_type = _tenant_message_type(obs)
    if message_type is not None and obs.uprn is not None and obs.room_type != "outdoor":
        values = {}
        if message_type == "sensor_silent":
            last = obs.context.get("last_seen_at")
            values["last_seen"] = (dt.datetime.fromisoformat(last).astimezone(LONDON).date() if last
                                   else raised_at.astimezone(LONDON).date())
        sent = notify_tenants(session, settings, uprn=obs.uprn, message_type=message_type,
                              event_key=f"alarm:{alarm.id}", now=now,
                              room_type=obs.context.get("advice_room_type") or obs.room_type, alarm_id=alarm.id,
                              values=values)
        report.messages += sum(1 for m in sent if m.status == "pending")
    logger.info("alarm %d raised: %s at %s (%s)", alarm.id, obs.rule, obs.uprn or obs.device_id, message)
    return alarm


def _tenant_message_type(obs: Observation) -> str | None:
    """The advice a tenant gets for an alarm (None: staff only, or no cause known yet to advise on)."""
    if obs.rule not in TENANT_RULES:
        return None
    if obs.rule == "sustained_damp":
        return CAUSE_MESSAGES.get(obs.context.get("cause") or "")
    if obs.rule == "sensor_silent":
        return "sensor_silent"
    if obs.rule == "likely_leak":
        return "possible_leak"
    if obs.rule in ("cold_home", "excess_cold"):
        return "under_heating"
    if obs.rule == "excess_heat":
        return "overheating"
    return CAUSE_MESSAGES.get(obs.context.get("cause") or "", "damp_risk")


def _link_case(session: Session, settings, alarm: Alarm, raised_at: dt.datetime) -> None:
    """Link the alarm to the home's open case; open one if the settings say this rule should."""
    uprn = alarm.uprn
    if uprn is None:  # not at a home (the caller checks): no case to link
        return
    auto = {r.strip() for r in settings.alerts_open_case_rules.split(",") if r.strip()}
    case = find_open_case(session, uprn)
    hazard_code = RULE_HAZARDS.get(alarm.rule)
    hazards = [{"hazard": hazard_code, "severity": "high" if alarm.severity in ("high", "critical") else "medium"}] \
        if hazard_code else None
    if case is None and alarm.rule in auto:
        try:
            case = open_case(session, uprn=uprn, aware_at=raised_at, source="alarm",
                             actor=lifecycle.SYSTEM_ACTOR, room_id=alarm.room_id,
                             summary=f"From alarm {alarm.id}: {alarm.message}", hazards=hazards)
            lifecycle.add_event(session, alarm, "case_opened", lifecycle.SYSTEM_ACTOR, f"Case {case.id} opened",
                                at=raised_at, case_id=case.id)
        except DuplicateCaseError as exc:  # opened meanwhile by someone else
            from core.model import Case

            case = session.get(Case, exc.case_id)
    if case is not None:
        alarm.case_id = case.id
        if hazards and hazard_code is not None and hazard_code not in hazard_codes(case) and case.status == "open":
            add_hazard(session, case, hazard_code, hazards[0]["severity"], actor=lifecycle.SYSTEM_ACTOR,
                       notes=f"From alarm {alarm.id}")


def _update(session: Session, obs: Observation, now: dt.datetime) -> None:
    """A raised rule seen again: keep the value, and raise the severity if the risk band rose further."""
    alarm = active_alarm(session, obs.rule, obs.subject_key)
    if alarm is None:
        return
    alarm.last_value = obs.value
    if obs.rule == "risk_band":
        band = obs.context.get("band")
        if band in BANDS[1:] and BANDS.index(band) > BANDS.index(alarm.severity if alarm.severity in BANDS else "low"):
            previous = alarm.severity
            alarm.severity = band
            text = staff_text("alarm.risk_band_rose", previous=previous, band=band, score=f"{obs.value:.0f}")
            lifecycle.add_event(session, alarm, "severity_raised", lifecycle.SYSTEM_ACTOR, text,
                                at=min(obs.until or obs.at, now), previous=previous, band=band)


# -- observations from the scoring runs ------------------------------------------------------------------------


def _cause_words(cause: str | None) -> str:
    from analytics.wording import templates

    if not cause:
        return "not clear yet"
    return templates()["cause"].get(cause, cause.replace("_", " "))


def risk_observations(session: Session, now: dt.datetime) -> list[Observation]:
    """Observations of the risk rules from every finished scoring run not yet taken in (the latest on a first run)."""
    watermark = session.scalar(select(func.max(AlarmRuleState.last_at)).where(AlarmRuleState.rule.in_(RISK_RULES)))
    query = select(ScoringRun).where(ScoringRun.finished_at.is_not(None), ScoringRun.scored_until <= now)
    if watermark is not None:
        runs = session.scalars(query.where(ScoringRun.scored_until > watermark).order_by(ScoringRun.scored_until,
                                                                                         ScoringRun.id)).all()
    else:
        runs = session.scalars(query.order_by(ScoringRun.scored_until.desc(), ScoringRun.id.desc()).limit(1)).all()
    if not runs:
        return []
    room_types = dict(session.execute(select(Room.id, Room.room_type)).all())
    vulnerable = {p.uprn for p in session.scalars(select(Property)) if p.vulnerable}
    previous_band = _previous_bands(session, runs[0])
    out: list[Observation] = []
    for run in runs:
        risks = session.scalars(select(PropertyRisk).where(PropertyRisk.run_id == run.id)).all()
        ventilation = _ventilation_rooms(session, run.id)
        at = run.scored_until
        for risk in risks:
            key = f"property:{risk.uprn}"
            judged = risk.band in BANDS
            score = risk.score if judged else None
            room_id = risk.driver_room_id
            if risk.cause == "poor_ventilation" and risk.uprn in ventilation:
                room_id = ventilation[risk.uprn]  # the advice is about the room that clears steam slowly
            base: ObservationPlace = {"uprn": risk.uprn, "room_id": room_id,
                                      "room_type": room_types.get(room_id) if room_id is not None else None}
            context = {"band": risk.band, "score": score or 0.0, "previous": previous_band.get(risk.uprn, "not scored"),
                       "cause": risk.cause or "", "cause_words": _cause_words(risk.cause),
                       "room": risk.driver_room or "home", "property_risk_id": risk.id, "run_id": run.id}
            out.append(Observation("risk_band", key, score, at, **base, context=context))
            out.append(Observation("likely_leak", key, (1.0 if risk.cause == "leak" else 0.0) if judged else None,
                                   at, **base, context=context))
            temperature = risk.mean_temperature_c
            if risk.cold_home:
                temperature = min(temperature if temperature is not None else COLD_HOME_FLAG_VALUE,
                                  COLD_HOME_FLAG_VALUE)
            out.append(Observation(
                "cold_home", key, temperature, at, uprn=risk.uprn, room_id=None, room_type=None,
                context={"temperature": f"{risk.mean_temperature_c:.1f}" if risk.mean_temperature_c is not None
                         else "below 16", "vulnerable": risk.uprn in vulnerable, "run_id": run.id}))
            previous_band[risk.uprn] = risk.band
    return out


def _ventilation_rooms(session: Session, run_id: int) -> dict[str, int]:
    """Each home's room judged for ventilation in a run: its bathroom if scored, else its slowest wet room."""
    rows = session.execute(
        select(RoomRisk.uprn, RoomRisk.room_id, Room.room_type, RoomRisk.ventilation_score)
        .join(Room, Room.id == RoomRisk.room_id)
        .where(RoomRisk.run_id == run_id, RoomRisk.ventilation_score.is_not(None))
    ).all()
    best: dict[str, tuple[int, float, int]] = {}
    for uprn, room_id, room_type, score in rows:
        if score is None:  # the query leaves these out
            continue
        rank = (0 if room_type == "bathroom" else 1, score, room_id)
        if uprn not in best or rank < best[uprn]:
            best[uprn] = rank
    return {uprn: rank[2] for uprn, rank in best.items()}


def _previous_bands(session: Session, first: ScoringRun) -> dict[str, str]:
    """Each home's band in the finished run before ``first`` (for "up from medium")."""
    before = session.scalars(
        select(ScoringRun).where(ScoringRun.finished_at.is_not(None), ScoringRun.id < first.id)
        .order_by(ScoringRun.id.desc()).limit(1)).first()
    if before is None:
        return {}
    rows = session.execute(select(PropertyRisk.uprn, PropertyRisk.band).where(PropertyRisk.run_id == before.id))
    return dict(rows.all())


def damp_observations(session: Session, settings, now: dt.datetime) -> list[Observation]:
    """Observations of sustained damp: one per room and complete UTC day not yet taken in."""
    latest = session.scalar(select(func.max(ScoringRun.scored_until)).where(ScoringRun.finished_at.is_not(None),
                                                                           ScoringRun.scored_until <= now))
    if latest is None:
        return []
    watermark = session.scalar(select(func.max(AlarmRuleState.last_at))
                               .where(AlarmRuleState.rule == "sustained_damp"))
    last_day = latest.date()  # days before the one the latest run stopped in are complete
    lookback = dt.timedelta(hours=settings.alerts_damp_hours) + dt.timedelta(days=2)
    first_day = watermark.date() if watermark is not None else (latest - lookback).date()
    causes = _latest_causes(session, now)
    rows = session.execute(
        select(RoomDay, Room).join(Room, Room.id == RoomDay.room_id)
        .where(RoomDay.day >= first_day, RoomDay.day < last_day, Room.room_type != "outdoor")
        .order_by(RoomDay.day, RoomDay.room_id)
    ).all()
    out = []
    for day, room in rows:
        start = dt.datetime.combine(day.day, dt.time(0), tzinfo=dt.UTC)
        value = day.hours_surface_rh_over_80 / day.hours_data if day.hours_data >= DAMP_MIN_HOURS else None
        out.append(Observation(
            "sustained_damp", f"room:{room.id}", value, start, until=start + dt.timedelta(days=1), uprn=room.uprn,
            room_id=room.id, room_type=room.room_type,
            context={"room": room.name, "hours": f"{settings.alerts_damp_hours:.0f}", "since": "",
                     "day": day.day.isoformat(), "cause": causes.get(room.uprn, ("", None))[0],
                     "advice_room_type": causes.get(room.uprn, ("", None))[1] or room.room_type}))
    return out


def _latest_causes(session: Session, now: dt.datetime) -> dict[str, tuple[str, str | None]]:
    """Each home's likely cause in the latest finished scoring run, and the room its advice is about.

    A damp room's advice follows the home's cause: for poor ventilation it is about the room that clears
    steam slowly (usually the bathroom), not the bedroom where the damp shows.
    """
    run_id = session.scalar(select(ScoringRun.id).where(ScoringRun.finished_at.is_not(None),
                                                        ScoringRun.scored_until <= now)
                            .order_by(ScoringRun.scored_until.desc(), ScoringRun.id.desc()).limit(1))
    if run_id is None:
        return {}
    ventilation = _ventilation_rooms(session, run_id)
    room_types = dict(session.execute(select(Room.id, Room.room_type)).all())
    rows = session.execute(select(PropertyRisk.uprn, PropertyRisk.cause).where(PropertyRisk.run_id == run_id,
                                                                             PropertyRisk.cause.is_not(None)))
    out: dict[str, tuple[str, str | None]] = {}
    for uprn, cause in rows:
        if cause is None:  # the query leaves these out
            continue
        room_id = ventilation.get(uprn) if cause == "poor_ventilation" else None
        out[uprn] = (cause, room_types.get(room_id) if room_id is not None else None)
    return out


def evaluate_scoring(session: Session, settings, now: dt.datetime | None = None) -> EngineReport:
    """Apply the risk and sustained-damp rules to scoring runs (and room days) not yet taken in."""
    settings = _settings(settings)
    now = now or utcnow()
    observations = risk_observations(session, now) + damp_observations(session, settings, now)
    _fill_damp_since(session, observations)
    return apply(session, settings, observations, now)


def _fill_damp_since(session: Session, observations: list[Observation]) -> None:
    """Say since when each room has been damp (from its rule state, or the first damp day offered)."""
    rows = _load_states(session, ["sustained_damp"])
    first: dict[str, dt.datetime] = {}
    for obs in observations:
        if obs.rule != "sustained_damp":
            continue
        row = rows.get(("sustained_damp", obs.subject_key))
        if obs.value is not None and obs.value >= 0.75:
            since = row.condition_since if row is not None and row.condition_since else None
            first.setdefault(obs.subject_key, since or obs.at)
        elif obs.value is not None:
            first.pop(obs.subject_key, None)
        since = first.get(obs.subject_key, obs.at)
        obs.context["since"] = f"{since.astimezone(LONDON):%d %b %Y}"


# -- observations from device health (the ingest stream's timing) -------------------------------------------------


def device_observations(session: Session, now: dt.datetime) -> list[Observation]:
    """Hours since each installed device's last reading, and its battery, as of ``now``."""
    rows = session.execute(
        select(Device, Installation, Room, DeviceHealth)
        .join(Installation, (Installation.device_id == Device.device_id) & Installation.removed_at.is_(None))
        .join(Room, Room.id == Installation.room_id)
        .outerjoin(DeviceHealth, DeviceHealth.device_id == Device.device_id)
        .where(Device.active.is_(True))
        .order_by(Device.device_id)
    ).all()
    out = []
    for device, installation, room, health in rows:
        last_seen = health.last_seen if health is not None else None
        since = last_seen or installation.installed_at
        hours = max((now - since).total_seconds() / 3600.0, 0.0)
        base: ObservationPlace = {"uprn": room.uprn, "room_id": room.id, "room_type": room.room_type,
                                  "device_id": device.device_id}
        context = {"room": room.name,
                   "last_seen": f"{last_seen.astimezone(LONDON):%d %b %Y %H:%M}" if last_seen else None,
                   "last_seen_at": last_seen.isoformat() if last_seen else None}
        out.append(Observation("sensor_silent", f"device:{device.device_id}", hours, now, **base, context=context))
        battery = health.battery_v if health is not None else None
        out.append(Observation("battery_low", f"device:{device.device_id}", battery, now, **base,
                               context={"room": room.name}))
    return out


def evaluate_device_health(session: Session, now: dt.datetime | None = None, settings=None) -> EngineReport:
    """Apply the silent-sensor and low-battery rules to the device health table as of ``now``.

    Called by ``dampwatch alerts run`` and, every ``--every`` seconds, by its long-running loop between
    scoring runs: a sensor that falls silent is noticed within minutes of the threshold, not at the next
    scoring run.
    """
    settings = _settings(settings)
    now = now or utcnow()
    return apply(session, settings, device_observations(session, now), now)


def escalate(session: Session, settings, now: dt.datetime | None = None) -> EngineReport:
    """Escalate unacknowledged alarms that are due (see :mod:`alerts.alarms`)."""
    now = now or utcnow()
    report = EngineReport()
    report.escalated = [a.id for a in lifecycle.escalate_due(session, settings, now)]
    return report


def run_once(database, settings, now: dt.datetime | None = None, store=None) -> EngineReport:
    """One pass of ``dampwatch alerts run``: scoring rules, device rules, escalation, the daily digest
    (and, given the readings ``store``, the excess cold and heat rules of ``alerts.thermal``)."""
    from alerts.digest import send_digest_if_due

    now = now or utcnow()
    report = EngineReport()
    with database.session() as session:
        report.merge(evaluate_scoring(session, settings, now))
    if store is not None:
        from alerts.thermal import evaluate_thermal

        with database.session() as session:
            report.merge(evaluate_thermal(session, store, settings, now))
    with database.session() as session:
        report.merge(evaluate_device_health(session, now, settings))
    with database.session() as session:
        report.merge(escalate(session, settings, now))
    with database.session() as session:
        report.digests = len(send_digest_if_due(session, settings, now))
    return report
