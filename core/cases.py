"""Damp and mould cases and their Awaab's Law clocks.

A case starts when the landlord becomes aware of damp or mould at a home (``aware_at``: a sensor flag, a
tenant report, an alarm). From then the Hazards in Social Housing (Prescribed Requirements) (England)
Regulations 2025 set clocks in working days (``core.workdays``):

======================  ==========================  =====================================================
step                    emergency hazard            significant hazard (damp and mould)
======================  ==========================  =====================================================
investigate             24 hours from aware_at      end of the 10th working day after aware_at
written summary         3 working days after the investigation (both)
make safe               24 hours from aware_at      5 working days after the investigation
preventative work       no deadline                 begin 5 working days after the investigation; where
                                                    that is not practicable, 12 weeks at the latest (the
                                                    long stop, shown beside the 5-day deadline)
======================  ==========================  =====================================================

Steps that count from the investigation wait ("waiting") until it is recorded. Every change adds an entry
to the case's timeline (``CaseEvent``) and to the audit log, in the caller's transaction, because the
Housing Ombudsman and the Regulator judge a landlord on those records.

One open case per home: ``open_case`` refuses a second one with :class:`DuplicateCaseError`, which carries
the existing case's id, so callers (the dashboard, the alerts box) can send people to it instead; use
``find_open_case`` to check first.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.causes import CAUSE_TABLE
from core.clock_profiles import ENGLAND_SOCIAL, ClockProfile, configured_profile
from core.clock_profiles import profile as named_profile
from core.errors import ConfigError, DampWatchError
from core.hazards import HAZARD_SEVERITIES, UnknownHazard, hazard
from core.model import (
    CASE_SOURCES,
    LIKELY_CAUSES,
    SEVERITIES,
    Case,
    CaseEvent,
    Finding,
    Inspection,
    Property,
    PropertyRisk,
    Room,
    RoomRisk,
    ScoringRun,
    utcnow,
)
from core.model_awaab import CaseClock, CaseHazard
from core.workdays import add_hours, add_working_days, end_of_day, london_date, working_days_between

logger = logging.getLogger(__name__)

INVESTIGATE_WORKING_DAYS = 10
SUMMARY_WORKING_DAYS = 3
MAKE_SAFE_WORKING_DAYS = 5
PREVENTATIVE_WORKING_DAYS = 5
PREVENTATIVE_LONG_STOP_WEEKS = 12
EMERGENCY_HOURS = 24
DUE_SOON_WORKING_DAYS = 2
"""A step is "due soon" when this many working days or fewer are left (0 = due today)."""
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
"""How far ahead of the clock a recorded time may be (clock skew between machines)."""
EARLIEST_AWARE_AT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""The earliest a step or the landlord's awareness may be dated: earlier is a typo in the year (and year 1
or 418 would send the working-day clocks through centuries of bank holidays)."""
FIX_CHECK_DAYS = 28
"""Days after works are completed before ``fix_check`` judges whether they worked (and the window compared)."""
FIX_IMPROVEMENT_FRACTION = 0.2
"""A fall in risk score of at least this share of the before-works score counts as "improved"."""

STATES = ("done", "done late", "due", "due soon", "overdue", "waiting", "no deadline")
"""What a step clock can say. "no deadline": preventative work of an emergency case (the Regulations set none)."""


class CaseError(DampWatchError):
    """A case operation is not allowed (the message says why, in words fit for a page)."""


class DuplicateCaseError(CaseError):
    """The home already has an open case; ``case_id`` is that case."""

    def __init__(self, message: str, case_id: int) -> None:
        super().__init__(message)
        self.case_id = case_id


@dataclass(frozen=True)
class Step:
    """One Awaab's Law step: its key, its label for people, the Case column recording when it was done."""

    key: str
    label: str
    column: str
    event_kind: str


#: What each kind of timeline entry (CaseEvent.kind) is called on the case page and in the evidence pack.
EVENT_LABELS = {
    "opened": "Case opened",
    "investigated": "Investigated",
    "summary_sent": "Written summary sent to the tenant",
    "made_safe": "Made safe",
    "preventative_started": "Preventative work begun",
    "works_completed": "Works completed",
    "finding_recorded": "Inspection finding recorded",
    "inspection_scheduled": "Inspection booked",
    "inspection_cancelled": "Inspection cancelled",
    "closed": "Case closed",
    "note": "Note",
    "message_to_tenant": "Message to the tenant",
    "emergency_changed": "Emergency status changed",
    "hazard_added": "Hazard added",
    "hazard_removed": "Hazard removed",
    "reasonable_endeavours": "Reasonable endeavours",
    "escalation": "Escalation",
    "preventative_deferred": "Preventative work not reasonably practicable in 5 working days",
    "reopened": "Case reopened",
    "finding_edited": "Inspection finding corrected",
    "inspection_moved": "Inspection moved",
    "work_order_updated": "Work order updated",
}

REASONABLE_ENDEAVOUR_CATEGORIES = {
    "access_refused": "Access refused or not given",
    "no_answer": "No answer at the booked visit",
    "contractor_delay": "Contractor delay",
    "materials_delay": "Materials or parts delay",
    "tenant_declined": "Tenant declined the work or the visit",
    "third_party": "Waiting on a third party (utility, freeholder, planning)",
    "other": "Other",
}
"""What a landlord can record as the reasonable endeavours it used when a step could not be done in time."""

ESCALATION_TYPES = {
    "senior_review": "Senior Review",
    "legal_action": "Legal Action",
    "compensation": "Compensation",
    "alternative_accommodation": "Alternative Accommodation",
}
"""Escalation types, keyed by our code, valued by the MHCLG/HACT data model's ``escalation_type`` name."""


def event_label(kind: str) -> str:
    """A timeline entry's kind in words."""
    return EVENT_LABELS.get(kind, kind.replace("_", " ").capitalize())


STEPS: tuple[Step, ...] = (
    Step("investigate", "Investigate", "investigated_at", "investigated"),
    Step("summary", "Written summary to the tenant", "summary_sent_at", "summary_sent"),
    Step("make_safe", "Make safe", "made_safe_at", "made_safe"),
    Step("preventative", "Begin preventative work", "preventative_started_at", "preventative_started"),
)
WORKS_COMPLETED = Step("works_completed", "Works completed", "works_completed_at", "works_completed")
"""Not an Awaab's Law clock, but recorded like a step: ``fix_check`` counts from it."""
RECORDABLE_STEPS: dict[str, Step] = {step.key: step for step in (*STEPS, WORKS_COMPLETED)}


@dataclass(frozen=True)
class StepClock:
    """Where one step of a case stands at a moment."""

    key: str
    label: str
    due: dt.datetime | None
    done_at: dt.datetime | None
    state: str
    working_days_left: int | None  # None when done, waiting or without a deadline; negative when overdue
    long_stop: dt.datetime | None = None  # preventative work: the 12-week latest date
    hours_based: bool = False  # emergency 24-hour clocks

    @property
    def late_by_working_days(self) -> int | None:
        """For a step done late or overdue: working days past the deadline (0 = later the same day)."""
        if self.due is None:
            return None
        if self.state == "done late" and self.done_at is not None:
            return working_days_between(self.due, self.done_at)
        if self.state == "overdue" and self.working_days_left is not None:
            return -self.working_days_left
        return None

    @property
    def attention(self) -> bool:
        """True while the step still needs doing and has a deadline."""
        return self.state in ("due", "due soon", "overdue")


@dataclass(frozen=True)
class CaseStep:
    """A case with one of its step clocks: a row of the manager's "due soon" or "breached" lists."""

    case: Case
    clock: StepClock


# -- opening and closing -------------------------------------------------------------------------------


def _check_aware(value: dt.datetime, name: str = "aware_at") -> dt.datetime:
    if value.tzinfo is None:
        raise CaseError(f"{name} has no timezone; give an aware datetime (UTC)")
    if value > utcnow() + FUTURE_TOLERANCE:
        raise CaseError("The date cannot be in the future")
    if value < EARLIEST_AWARE_AT:
        raise CaseError(f"The date cannot be before {EARLIEST_AWARE_AT:%d %B %Y}; check the year")
    return value.astimezone(dt.UTC)


def find_open_case(session: Session, uprn: str) -> Case | None:
    """The open case of a home, if there is one."""
    return session.scalars(select(Case).where(Case.uprn == str(uprn), Case.status == "open").limit(1)).first()


def add_case_event(
    session: Session,
    case: Case,
    kind: str,
    actor: str,
    text: str = "",
    *,
    at: dt.datetime | None = None,
    **detail: Any,
) -> CaseEvent:
    """Add an entry to a case's timeline (kind such as "note", "message_to_tenant", "inspection_scheduled")."""
    event = CaseEvent(case=case, kind=kind, actor=actor, text=text, at=at or utcnow(), detail=detail)
    session.add(event)
    return event


def open_case(
    session: Session,
    *,
    uprn: str,
    aware_at: dt.datetime,
    source: str,
    actor: str,
    emergency: bool = False,
    user_id: int | None = None,
    room_id: int | None = None,
    summary: str = "",
    property_risk_id: int | None = None,
    ip: str | None = None,
    hazards: Iterable[Mapping[str, Any]] | None = None,
    clock_profile: ClockProfile | str | None = None,
) -> Case:
    """Open a case at a home, starting its clocks at ``aware_at``; refuse a second open case for the home.

    ``hazards`` are mappings with ``hazard`` (a ``core.hazards`` code), ``severity`` (high, medium, low),
    optional ``emergency`` and ``notes``; without them the case has one damp and mould hazard (high when
    ``emergency``, else medium). Any emergency hazard puts the case on the emergency track. ``clock_profile``
    (a profile or its built-in name; default: the configured one, ``DAMPWATCH_CLOCK_PROFILE``, England social
    unless set) is frozen on the case with its rules version.

    Raises
    ------
    DuplicateCaseError
        If the home already has an open case (``exc.case_id`` says which).
    CaseError
        If the home or room is unknown, the source is not one of ``CASE_SOURCES`` or ``aware_at`` is in the
        future or naive.
    """
    if source not in CASE_SOURCES:
        raise CaseError(f"source {source!r} is not one of: {', '.join(CASE_SOURCES)}")
    aware_at = _check_aware(aware_at)
    hazard_rows = [_check_hazard(h) for h in hazards] if hazards is not None else [
        {"hazard": "damp_and_mould", "severity": "high" if emergency else "medium", "emergency": bool(emergency),
         "notes": ""}]
    if not hazard_rows:
        raise CaseError("Select at least one hazard")
    codes = [h["hazard"] for h in hazard_rows]
    if len(set(codes)) != len(codes):
        raise CaseError("Each hazard can be on a case once; change its severity instead of adding it again")
    emergency = bool(emergency) or any(h["emergency"] for h in hazard_rows)
    try:
        if isinstance(clock_profile, ClockProfile):
            rules = clock_profile
        elif clock_profile is None:
            rules = configured_profile()  # the landlord's setting (DAMPWATCH_CLOCK_PROFILE), England by default
        else:
            rules = named_profile(clock_profile)
    except ConfigError as exc:
        raise CaseError(str(exc)) from exc
    home = session.get(Property, str(uprn))
    if home is None:
        raise CaseError(f"There is no home with UPRN {uprn}")
    if room_id is not None:
        room = session.get(Room, room_id)
        if room is None or room.uprn != home.uprn:
            raise CaseError(f"Room {room_id} is not a room of UPRN {home.uprn}")
    if property_risk_id is not None:
        risk = session.get(PropertyRisk, property_risk_id)
        if risk is None or risk.uprn != home.uprn:
            raise CaseError(f"Risk record {property_risk_id} is not of UPRN {home.uprn}")
    existing = find_open_case(session, home.uprn)
    if existing is not None:
        raise DuplicateCaseError(
            f"There is already an open case for this home (case {existing.id})", case_id=existing.id
        )
    case = Case(
        uprn=home.uprn,
        room_id=room_id,
        source=source,
        emergency=bool(emergency),
        status="open",
        summary=summary or "",
        aware_at=aware_at,
        opened_at=utcnow(),
        opened_by=actor,
        opened_by_user_id=user_id,
        property_risk_id=property_risk_id,
    )
    session.add(case)
    session.flush()
    session.add(CaseClock(case=case, profile=rules.name, rules_version=rules.rules_version,
                          rules=profile_rules(rules)))
    for row in hazard_rows:
        session.add(CaseHazard(case=case, added_at=case.opened_at, added_by=actor, **row))
    add_case_event(session, case, "opened", actor, summary or "", source=source, emergency=bool(emergency),
                   aware_at=aware_at.isoformat(), hazards=hazard_rows, clock_profile=rules.name,
                   rules_version=rules.rules_version)
    audit.record(session, actor, "case.opened", "case", case.id, user_id=user_id, ip=ip, uprn=home.uprn, source=source,
                 emergency=bool(emergency), aware_at=aware_at.isoformat())
    logger.info("case %d opened at UPRN %s (%s%s)", case.id, home.uprn, source, ", emergency" if emergency else "")
    return case


def close_case(
    session: Session,
    case: Case,
    *,
    actor: str,
    reason: str,
    at: dt.datetime | None = None,
    user_id: int | None = None,
    ip: str | None = None,
) -> Case:
    """Close an open case with a reason (kept on the case, the timeline and the audit log)."""
    if case.status != "open":
        raise CaseError(f"Case {case.id} is already closed")
    if not reason.strip():
        raise CaseError("Enter why the case is being closed")
    at = _check_aware(at or utcnow(), "at")
    if at < case.aware_at:
        raise CaseError("A case cannot be closed before the landlord became aware of the problem")
    case.status = "closed"
    case.closed_at = at
    case.closed_reason = reason.strip()
    add_case_event(session, case, "closed", actor, reason.strip(), at=at)
    audit.record(session, actor, "case.closed", "case", case.id, user_id=user_id, ip=ip, reason=reason.strip())
    return case


def set_emergency(session: Session, case: Case, emergency: bool, *, actor: str, reason: str = "",
                  user_id: int | None = None, ip: str | None = None) -> Case:
    """Put a case on the emergency track or take it off, with a reason (its clocks change); recorded.

    A case with an emergency hazard on it cannot be taken off the track: change the hazard first.
    """
    if case.status != "open":
        raise CaseError(f"Case {case.id} is closed; reopen it before changing its emergency status")
    if not reason or not reason.strip():
        raise CaseError("Enter why the emergency status is changing")
    if case.emergency == bool(emergency):
        return case
    if not emergency and any(h.emergency for h in active_hazards(case)):
        raise CaseError("A hazard on this case is marked as an emergency; change that hazard first")
    case.emergency = bool(emergency)
    add_case_event(session, case, "emergency_changed", actor,
                   ("Emergency" if emergency else "Not an emergency") + f": {reason.strip()}",
                   emergency=bool(emergency), reason=reason.strip())
    audit.record(session, actor, "case.emergency_changed", "case", case.id, user_id=user_id, ip=ip,
                 emergency=bool(emergency), reason=reason.strip())
    return case


# -- hazards and clock profiles ----------------------------------------------------------------------------


def _check_hazard(row: Mapping[str, Any]) -> dict[str, Any]:
    code = str(row.get("hazard") or "")
    try:
        known = hazard(code)
    except UnknownHazard as exc:
        raise CaseError(str(exc)) from exc
    severity = str(row.get("severity") or "").lower()
    if severity not in HAZARD_SEVERITIES:
        raise CaseError(f"Select how severe the {known.name.lower()} hazard is (high, medium or low)")
    emergency = bool(row.get("emergency"))
    if emergency and not known.emergency_in_scope:
        raise CaseError(f"{known.name} is not an emergency hazard under Awaab's Law")
    notes = str(row.get("notes") or "").strip()[:2000]
    return {"hazard": known.code, "severity": severity, "emergency": emergency, "notes": notes}


def active_hazards(case: Case) -> list[CaseHazard]:
    """The hazards on a case that have not been removed, in the order they were added."""
    return [h for h in case.hazards if h.removed_at is None]


def hazard_codes(case: Case) -> list[str]:
    """The codes of a case's hazards; a case opened before hazards were recorded is damp and mould."""
    return [h.hazard for h in active_hazards(case)] or ["damp_and_mould"]


def add_hazard(session: Session, case: Case, code: str, severity: str, *, actor: str, emergency: bool = False,
               notes: str = "", user_id: int | None = None, ip: str | None = None) -> CaseHazard:
    """Add an HHSRS hazard to an open case (an emergency hazard puts the case on the emergency track)."""
    if case.status != "open":
        raise CaseError(f"Case {case.id} is closed; reopen it before adding hazards")
    row = _check_hazard({"hazard": code, "severity": severity, "emergency": emergency, "notes": notes})
    if row["hazard"] in [h.hazard for h in active_hazards(case)]:
        raise CaseError(f"{hazard(row['hazard']).name} is already on case {case.id}")
    added = CaseHazard(case=case, added_at=utcnow(), added_by=actor, **row)
    session.add(added)
    add_case_event(session, case, "hazard_added", actor, f"{hazard(row['hazard']).name} ({row['severity']}"
                   + (", emergency" if row["emergency"] else "") + ")", **row)
    audit.record(session, actor, "case.hazard_added", "case", case.id, user_id=user_id, ip=ip, **row)
    if row["emergency"] and not case.emergency:
        set_emergency(session, case, True, actor=actor, reason=f"Emergency hazard: {hazard(row['hazard']).name}",
                      user_id=user_id, ip=ip)
    return added


def remove_hazard(session: Session, case: Case, code: str, *, actor: str, reason: str,
                  user_id: int | None = None, ip: str | None = None) -> CaseHazard:
    """Mark a hazard as no longer on a case (kept on the record, with who and why); the last one stays."""
    if not reason.strip():
        raise CaseError("Enter why the hazard is being removed")
    current = [h for h in active_hazards(case) if h.hazard == code]
    if not current:
        raise CaseError(f"Hazard {code!r} is not on case {case.id}")
    if len(active_hazards(case)) == 1:
        raise CaseError("A case needs at least one hazard; add the right one before removing this one")
    row = current[0]
    row.removed_at, row.removed_by = utcnow(), actor
    add_case_event(session, case, "hazard_removed", actor, f"{hazard(code).name}: {reason.strip()}", hazard=code,
                   reason=reason.strip())
    audit.record(session, actor, "case.hazard_removed", "case", case.id, user_id=user_id, ip=ip, hazard=code,
                 reason=reason.strip())
    return row


def profile_rules(rules: ClockProfile) -> dict[str, Any]:
    """A profile's numbers as stored on a case (JSON)."""
    return {
        "label": rules.label, "emergency_hours": rules.emergency_hours,
        "investigate_working_days": rules.investigate_working_days,
        "summary_working_days": rules.summary_working_days, "safety_working_days": rules.safety_working_days,
        "safety_work": rules.safety_work, "preventative_working_days": rules.preventative_working_days,
        "backstop_weeks": rules.backstop_weeks, "phases_in_force": list(rules.phases_in_force),
    }


def case_profile(case: Case) -> ClockProfile:
    """The clock rules a case was opened under (a case from before profiles: England social, as then)."""
    clock = case.clock
    if clock is None:
        return ENGLAND_SOCIAL
    values = dict(clock.rules or {})
    values["phases_in_force"] = tuple(values.get("phases_in_force") or ENGLAND_SOCIAL.phases_in_force)
    known = {k: v for k, v in values.items() if k in ClockProfile.__dataclass_fields__ and k != "name"}
    known.setdefault("label", clock.profile)
    return ClockProfile(name=clock.profile, rules_version=clock.rules_version,
                        **{k: v for k, v in known.items() if k != "rules_version"})


def statutory_scope(case: Case) -> tuple[bool, str]:
    """Whether Awaab's Law (as the case's profile has it in force) sets this case's clocks, and why in words."""
    rules = case_profile(case)
    for row in active_hazards(case) or []:
        known = hazard(row.hazard)
        if row.emergency and known.emergency_in_scope:
            return True, f"{known.name} is an emergency hazard (every hazard but crowding, from phase 1)"
        if known.phase in rules.phases_in_force:
            return True, f"{known.name} is covered as a significant hazard from phase {known.phase}"
    if not active_hazards(case):
        return True, "Damp and mould growth is covered from phase 1"
    if case.emergency:
        return True, "The case is on the emergency track"
    names = ", ".join(hazard(h.hazard).name for h in active_hazards(case))
    return False, (f"{names}: not yet covered as a significant hazard by {rules.label}; the clocks are shown as "
                   "good practice")


# -- clocks ------------------------------------------------------------------------------------------------


def _state(due: dt.datetime | None, done_at: dt.datetime | None, now: dt.datetime, soon: int) -> tuple[str, int | None]:
    if done_at is not None:
        return ("done late" if due is not None and done_at > due else "done"), None
    if due is None:
        return "no deadline", None
    left = working_days_between(now, due)
    if now > due:
        return "overdue", left
    return ("due soon" if left <= soon else "due"), left


def _preventative_deferred(case: Case) -> bool:
    return any(event.kind == "preventative_deferred" for event in case.events)


def step_label(key: str, rules: ClockProfile) -> str:
    """A step's label under a profile (safety work "begin" or "complete" as the profile reads the law)."""
    if key == "make_safe" and rules.safety_work == "complete":
        return "Make safe (safety work complete)"
    return RECORDABLE_STEPS[key].label


def step_clocks(case: Case, now: dt.datetime, *, due_soon_working_days: int = DUE_SOON_WORKING_DAYS) -> list[StepClock]:
    """The four Awaab's Law clocks of a case at ``now`` (frozen at ``closed_at`` once the case is closed).

    The numbers come from the case's clock profile (``case_profile``). A step is "due soon" with
    ``due_soon_working_days`` or fewer working days left (0: due by the end of today), so the 24-hour clocks
    of an emergency are "due soon" from the start. Preventative work is due 5 working days after the
    investigation; once the landlord records that this is not reasonably practicable
    (``defer_preventative``), it is due by the backstop (12 weeks after the investigation) instead.
    """
    rules = case_profile(case)
    if case.status == "closed" and case.closed_at is not None:
        now = min(now, case.closed_at)
    # A time before EARLIEST_AWARE_AT can only be a typo saved before it was refused; counting working days
    # from it would run through centuries of bank holidays (or off the calendar), so the clocks start there.
    aware_at = max(case.aware_at, EARLIEST_AWARE_AT)
    investigated = max(case.investigated_at, EARLIEST_AWARE_AT) if case.investigated_at else None
    clocks = []
    for step in STEPS:
        done_at = getattr(case, step.column)
        long_stop = None
        hours_based = False
        waiting = False
        if step.key == "investigate":
            if case.emergency:
                due, hours_based = add_hours(aware_at, rules.emergency_hours), True
            else:
                due = add_working_days(aware_at, rules.investigate_working_days)
        elif step.key == "make_safe" and case.emergency:
            due, hours_based = add_hours(aware_at, rules.emergency_hours), True
        elif step.key == "preventative" and case.emergency:
            due = None
        elif investigated is None:
            due, waiting = None, True
        else:
            days = {"summary": rules.summary_working_days, "make_safe": rules.safety_working_days,
                    "preventative": rules.preventative_working_days}[step.key]
            due = add_working_days(investigated, days)
            if step.key == "preventative":
                long_stop = backstop(investigated, rules)
                if _preventative_deferred(case):
                    due = long_stop
        if waiting and done_at is None:
            state, left = "waiting", None
        else:
            state, left = _state(due, done_at, now, due_soon_working_days)
        clocks.append(StepClock(step.key, step_label(step.key, rules), due, done_at, state, left, long_stop,
                                hours_based))
    return clocks


def backstop(investigated: dt.datetime, rules: ClockProfile = ENGLAND_SOCIAL) -> dt.datetime:
    """The latest date for supplementary preventative work: the end of the London day ``backstop_weeks`` weeks
    (12 in England) after the day the investigation concluded."""
    return end_of_day(london_date(investigated) + dt.timedelta(weeks=rules.backstop_weeks))


def next_deadline(case: Case, now: dt.datetime) -> StepClock | None:
    """The earliest step clock of a case that still needs doing, or None."""
    open_clocks = [(c.due, c) for c in step_clocks(case, now) if c.attention and c.due is not None]
    return min(open_clocks, key=lambda due_clock: due_clock[0])[1] if open_clocks else None


def _open_cases(session: Session) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.status == "open").order_by(Case.aware_at, Case.id)))


def cases_due_soon(session: Session, now: dt.datetime, within_working_days: int = DUE_SOON_WORKING_DAYS) -> list[CaseStep]:
    """Steps of open cases not yet overdue with ``within_working_days`` or fewer working days left, soonest first."""
    rows = [
        CaseStep(case, clock)
        for case in _open_cases(session)
        for clock in step_clocks(case, now, due_soon_working_days=within_working_days)
        if clock.state == "due soon"
    ]
    return sorted(rows, key=lambda r: (r.clock.due, r.case.id))


def cases_breached(session: Session, now: dt.datetime) -> list[CaseStep]:
    """Steps of open cases past their deadline and not done, most overdue first."""
    rows = [CaseStep(case, clock) for case in _open_cases(session) for clock in step_clocks(case, now)
            if clock.state == "overdue"]
    return sorted(rows, key=lambda r: (r.clock.due, r.case.id))


# -- recording steps ---------------------------------------------------------------------------------------


def record_step(
    session: Session,
    case: Case,
    key: str,
    at: dt.datetime,
    actor: str,
    note: str = "",
    *,
    user_id: int | None = None,
    ip: str | None = None,
) -> Case:
    """Record that a step was done at ``at`` (an investigation, a summary sent, made safe, works begun/completed).

    The summary, making safe (significant hazards) and preventative work count from the investigation, so
    they need it recorded first; no step can be dated before the landlord became aware, or in the future.
    """
    step = RECORDABLE_STEPS.get(key)
    if step is None:
        raise CaseError(f"step {key!r} is not one of: {', '.join(RECORDABLE_STEPS)}")
    if case.status != "open":
        raise CaseError(f"Case {case.id} is closed; reopen it before recording steps")
    at = _check_aware(at, "at")
    if at < case.aware_at:
        raise CaseError("A step cannot be done before the landlord became aware of the problem")
    if getattr(case, step.column) is not None:
        raise CaseError(f"{step.label} is already recorded for case {case.id}")
    needs_investigation = key in ("summary", "preventative", "works_completed") or (
        key == "make_safe" and not case.emergency
    )
    if needs_investigation:
        if case.investigated_at is None:
            raise CaseError(f"Record the investigation before '{step.label.lower()}'")
        if at < case.investigated_at:
            raise CaseError(f"'{step.label}' cannot be dated before the investigation")
    setattr(case, step.column, at)
    add_case_event(session, case, step.event_kind, actor, note, at=at)
    audit.record(session, actor, f"case.{step.event_kind}", "case", case.id, user_id=user_id, ip=ip, at=at.isoformat(),
                 note=note)
    return case


def defer_preventative(session: Session, case: Case, *, actor: str, reason: str, user_id: int | None = None,
                       ip: str | None = None) -> Case:
    """Record that preventative work cannot reasonably begin within 5 working days: it is then due by the backstop.

    The Regulations allow this only where beginning within the period is not reasonably practicable, so the
    reason is kept on the timeline and in the evidence pack.
    """
    if case.status != "open":
        raise CaseError(f"Case {case.id} is closed; reopen it first")
    if case.emergency:
        raise CaseError("Preventative work of an emergency case has no 5-day deadline to defer")
    if case.investigated_at is None:
        raise CaseError("Record the investigation first: the backstop counts from it")
    if case.preventative_started_at is not None:
        raise CaseError("Preventative work has already begun")
    if not reason.strip():
        raise CaseError("Enter why the work cannot reasonably begin within 5 working days")
    if _preventative_deferred(case):
        raise CaseError("This is already recorded for the case")
    until = backstop(case.investigated_at, case_profile(case))
    add_case_event(session, case, "preventative_deferred", actor, reason.strip(), reason=reason.strip(),
                   backstop=until.isoformat())
    audit.record(session, actor, "case.preventative_deferred", "case", case.id, user_id=user_id, ip=ip,
                 reason=reason.strip(), backstop=until.isoformat())
    return case


def record_reasonable_endeavour(session: Session, case: Case, *, category: str, text: str, actor: str,
                                at: dt.datetime | None = None, step: str | None = None,
                                evidence: Iterable[str] = (), user_id: int | None = None,
                                ip: str | None = None) -> CaseEvent:
    """Log what the landlord did when a step was held up (the landlord's defence is all reasonable endeavours).

    ``category`` is a key of :data:`REASONABLE_ENDEAVOUR_CATEGORIES`; ``evidence`` names what backs it up
    (a calling card photo, the contractor's email, a letter reference).
    """
    if category not in REASONABLE_ENDEAVOUR_CATEGORIES:
        raise CaseError(f"Choose what happened: one of {', '.join(REASONABLE_ENDEAVOUR_CATEGORIES)}")
    if not text.strip():
        raise CaseError("Describe what was done and what happened")
    if step is not None and step not in RECORDABLE_STEPS:
        raise CaseError(f"step {step!r} is not one of: {', '.join(RECORDABLE_STEPS)}")
    at = _check_aware(at or utcnow(), "at")
    if at < case.aware_at:
        raise CaseError("This cannot be dated before the landlord became aware of the problem")
    items = [str(e).strip()[:500] for e in evidence if str(e).strip()]
    event = add_case_event(session, case, "reasonable_endeavours", actor, text.strip(), at=at, category=category,
                           step=step, evidence=items)
    audit.record(session, actor, "case.reasonable_endeavours", "case", case.id, user_id=user_id, ip=ip,
                 category=category, step=step)
    return event


def record_escalation(session: Session, case: Case, escalation_type: str, *, actor: str, reason: str,
                      escalated_to: str = "", at: dt.datetime | None = None, details: str = "",
                      compensation_amount: float | None = None, tenant_accepted: bool | None = None,
                      user_id: int | None = None, ip: str | None = None) -> CaseEvent:
    """Record an escalation: senior review, legal action, compensation or alternative accommodation.

    Alternative accommodation is the step the guidance expects when a home cannot be made safe in time:
    ``details`` says where, ``tenant_accepted`` whether the household took it up.
    """
    if escalation_type not in ESCALATION_TYPES:
        raise CaseError(f"escalation {escalation_type!r} is not one of: {', '.join(ESCALATION_TYPES)}")
    if not reason.strip():
        raise CaseError("Enter why the case is being escalated")
    if compensation_amount is not None and not 0 <= float(compensation_amount) <= 1_000_000:
        raise CaseError("Enter a compensation amount from 0 to 1,000,000 pounds")
    at = _check_aware(at or utcnow(), "at")
    if at < case.aware_at:
        raise CaseError("This cannot be dated before the landlord became aware of the problem")
    detail = {"escalation_type": escalation_type, "reason": reason.strip(), "escalated_to": escalated_to.strip(),
              "details": details.strip(), "compensation_amount": compensation_amount,
              "tenant_accepted": tenant_accepted}
    label = ESCALATION_TYPES[escalation_type]
    event = add_case_event(session, case, "escalation", actor, f"{label}: {reason.strip()}", at=at, **detail)
    audit.record(session, actor, "case.escalation", "case", case.id, user_id=user_id, ip=ip,
                 escalation_type=escalation_type)
    return event


def offer_alternative_accommodation(session: Session, case: Case, *, actor: str, details: str,
                                    reason: str = "The home cannot be made safe in time",
                                    tenant_accepted: bool | None = None, at: dt.datetime | None = None,
                                    user_id: int | None = None, ip: str | None = None) -> CaseEvent:
    """The alternative accommodation step: where the household can stay until the home is safe."""
    if not details.strip():
        raise CaseError("Enter where the household is offered to stay")
    return record_escalation(session, case, "alternative_accommodation", actor=actor, reason=reason, at=at,
                             details=details, tenant_accepted=tenant_accepted, user_id=user_id, ip=ip)


def alternative_accommodation_due(case: Case, now: dt.datetime) -> bool:
    """True when a home should be offered alternative accommodation: an open emergency not made safe in time,
    or safety work overdue, with no offer recorded yet."""
    if case.status != "open":
        return False
    offered = any(e.kind == "escalation" and (e.detail or {}).get("escalation_type") == "alternative_accommodation"
                  for e in case.events)
    if offered:
        return False
    return any(c.key == "make_safe" and c.state == "overdue" for c in step_clocks(case, now))


def reopen_case(session: Session, case: Case, *, actor: str, reason: str, user_id: int | None = None,
                ip: str | None = None) -> Case:
    """Reopen a closed case (the hazard came back, or it was closed in error): its clocks run on from where they were.

    Refused while the home has another open case (``DuplicateCaseError`` names it).
    """
    if case.status != "closed":
        raise CaseError(f"Case {case.id} is open")
    if not reason.strip():
        raise CaseError("Enter why the case is being reopened")
    other = find_open_case(session, case.uprn)
    if other is not None:
        raise DuplicateCaseError(f"The home has another open case (case {other.id}); use that one", case_id=other.id)
    previous = case.closed_at
    case.status, case.closed_at, previous_reason, case.closed_reason = "open", None, case.closed_reason, None
    add_case_event(session, case, "reopened", actor, reason.strip(), reason=reason.strip(),
                   closed_at=previous.isoformat() if previous else None, closed_reason=previous_reason)
    audit.record(session, actor, "case.reopened", "case", case.id, user_id=user_id, ip=ip, reason=reason.strip())
    return case


# -- findings ----------------------------------------------------------------------------------------------

FINDING_FIELDS = ("mould_found", "severity", "room_ids", "where_text", "likely_cause", "actions_taken",
                  "follow_up_work", "follow_up_needed")


def record_finding(
    session: Session,
    inspection: Inspection,
    finding_fields: Mapping[str, Any],
    actor: str,
    *,
    user_id: int | None = None,
    at: dt.datetime | None = None,
    ip: str | None = None,
) -> Finding:
    """Record what an inspection found: completes the inspection and, if not yet done, the case's investigation.

    ``finding_fields`` holds :data:`FINDING_FIELDS` (``mould_found``, ``severity`` and ``likely_cause`` are
    required). Mould found needs a severity other than "none"; no mould needs "none".
    """
    unknown = set(finding_fields) - set(FINDING_FIELDS)
    if unknown:
        raise CaseError(f"unknown finding field(s): {', '.join(sorted(unknown))}")
    if inspection.status not in ("scheduled", "no_access"):
        raise CaseError(f"Inspection {inspection.id} is {inspection.status}; its finding cannot be recorded")
    if inspection.finding is not None:
        raise CaseError(f"Inspection {inspection.id} already has a finding")
    case = inspection.case
    at = _check_aware(at or utcnow(), "at")
    if at < case.aware_at:
        raise CaseError("A finding cannot be dated before the landlord became aware of the problem")
    mould_found = finding_fields.get("mould_found")
    if not isinstance(mould_found, bool):
        raise CaseError("Select yes if mould or damp was found")
    severity = finding_fields.get("severity") or ("none" if not mould_found else None)
    if severity not in SEVERITIES:
        raise CaseError("Select how severe the mould or damp is")
    if mould_found and severity == "none":
        raise CaseError("Select how severe the mould or damp is")
    if not mould_found and severity != "none":
        raise CaseError("Severity must be none when no mould or damp was found")
    likely_cause = finding_fields.get("likely_cause") or "unknown"
    if likely_cause not in LIKELY_CAUSES:
        raise CaseError(f"likely cause {likely_cause!r} is not one of: {', '.join(LIKELY_CAUSES)}")
    room_ids = [int(r) for r in finding_fields.get("room_ids") or []]
    if room_ids:
        known = set(session.scalars(select(Room.id).where(Room.uprn == inspection.uprn)))
        stray = [r for r in room_ids if r not in known]
        if stray:
            raise CaseError(f"Room(s) {', '.join(map(str, stray))} are not rooms of this home")
    finding = Finding(
        inspection=inspection,
        recorded_at=at,
        recorded_by=actor,
        mould_found=mould_found,
        severity=severity,
        room_ids=room_ids,
        where_text=str(finding_fields.get("where_text") or "").strip(),
        likely_cause=likely_cause,
        actions_taken=str(finding_fields.get("actions_taken") or "").strip(),
        follow_up_work=str(finding_fields.get("follow_up_work") or "").strip(),
        follow_up_needed=bool(finding_fields.get("follow_up_needed") or finding_fields.get("follow_up_work")),
    )
    session.add(finding)
    inspection.status = "completed"
    inspection.completed_at = at
    inspection.completed_by_user_id = user_id
    session.flush()
    text = ("Mould or damp found" + f" ({severity})") if mould_found else "No mould or damp found"
    add_case_event(session, case, "finding_recorded", actor, text, at=at, inspection_id=inspection.id,
                   finding_id=finding.id, mould_found=mould_found, severity=severity, likely_cause=likely_cause)
    audit.record(session, actor, "inspection.finding_recorded", "inspection", inspection.id, user_id=user_id, ip=ip,
                 case_id=case.id, mould_found=mould_found, severity=severity, likely_cause=likely_cause)
    if case.investigated_at is None and case.status == "open":
        record_step(session, case, "investigate", at, actor, f"Inspection {inspection.id}", user_id=user_id, ip=ip)
    return finding


def edit_finding(session: Session, finding: Finding, changes: Mapping[str, Any], actor: str, *, reason: str,
                 user_id: int | None = None, ip: str | None = None) -> Finding:
    """Correct a recorded finding; the values before and after, who and why go on the timeline (its history).

    The same rules as ``record_finding`` apply to the corrected whole (mould found needs a severity, ...).
    """
    unknown = set(changes) - set(FINDING_FIELDS)
    if unknown:
        raise CaseError(f"unknown finding field(s): {', '.join(sorted(unknown))}")
    if not reason.strip():
        raise CaseError("Enter why the finding is being corrected")
    before = {name: getattr(finding, name) for name in FINDING_FIELDS}
    after = {**before, **changes}
    mould_found = after["mould_found"]
    if not isinstance(mould_found, bool):
        raise CaseError("Select yes if mould or damp was found")
    if after["severity"] not in SEVERITIES or (mould_found and after["severity"] == "none"):
        raise CaseError("Select how severe the mould or damp is")
    if not mould_found and after["severity"] != "none":
        raise CaseError("Severity must be none when no mould or damp was found")
    if after["likely_cause"] not in LIKELY_CAUSES:
        raise CaseError(f"likely cause {after['likely_cause']!r} is not one of: {', '.join(LIKELY_CAUSES)}")
    after["room_ids"] = [int(r) for r in after.get("room_ids") or []]
    if after["room_ids"]:
        known = set(session.scalars(select(Room.id).where(Room.uprn == finding.inspection.uprn)))
        stray = [r for r in after["room_ids"] if r not in known]
        if stray:
            raise CaseError(f"Room(s) {', '.join(map(str, stray))} are not rooms of this home")
    for name in ("where_text", "actions_taken", "follow_up_work"):
        after[name] = str(after.get(name) or "").strip()
    after["follow_up_needed"] = bool(after.get("follow_up_needed") or after.get("follow_up_work"))
    changed = {k: {"before": before[k], "after": after[k]} for k in FINDING_FIELDS if before[k] != after[k]}
    if not changed:
        raise CaseError("Nothing was changed")
    for name in changed:
        setattr(finding, name, after[name])
    case = finding.inspection.case
    add_case_event(session, case, "finding_edited", actor, reason.strip(), finding_id=finding.id,
                   inspection_id=finding.inspection_id, changes=changed, reason=reason.strip())
    audit.record(session, actor, "inspection.finding_edited", "inspection", finding.inspection_id, user_id=user_id,
                 ip=ip, case_id=case.id, fields=sorted(changed), reason=reason.strip())
    return finding


def finding_history(finding: Finding) -> list[CaseEvent]:
    """The corrections of a finding, oldest first."""
    return [e for e in finding.inspection.case.events
            if e.kind == "finding_edited" and (e.detail or {}).get("finding_id") == finding.id]


# The risk model's outcomes file (analytics.labels.read_outcomes_csv) names causes as the simulator does.
LABEL_CAUSES = {row.finding_code: row.code for row in CAUSE_TABLE} | {"other": "other", "unknown": ""}
LABEL_COLUMNS = ("uprn", "date", "mould_found", "severity", "cause", "room")
"""The header ``analytics.labels.read_outcomes_csv`` reads (``dampwatch train --outcomes``)."""


def finding_labels(session: Session, since: dt.date | None = None) -> list[dict[str, str]]:
    """Every recorded finding as a training label row (uprn, London date, yes/no, severity, cause, room)."""
    query = (
        select(Finding, Inspection)
        .join(Inspection, Finding.inspection_id == Inspection.id)
        .order_by(Finding.recorded_at, Finding.id)
    )
    rows = []
    room_names: dict[int, str] = {}
    for finding, inspection in session.execute(query):
        day = london_date(finding.recorded_at)
        if since is not None and day < since:
            continue
        room = ""
        if finding.mould_found and finding.room_ids:
            room_id = int(finding.room_ids[0])
            if room_id not in room_names:
                found = session.get(Room, room_id)
                room_names[room_id] = found.name if found is not None else ""
            room = room_names[room_id]
        rows.append({
            "uprn": inspection.uprn,
            "date": day.isoformat(),
            "mould_found": "yes" if finding.mould_found else "no",
            "severity": finding.severity,
            "cause": LABEL_CAUSES.get(finding.likely_cause, "") if finding.mould_found else "none",
            "room": room,
        })
    return rows


def write_finding_labels(rows: Iterable[Mapping[str, str]], path: Path) -> int:
    """Write label rows as an outcomes CSV; returns the number of rows."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(LABEL_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in LABEL_COLUMNS})
            count += 1
    return count


# -- did the fix work? -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixCheck:
    """Whether the risk at a home fell after its works: "improved", "not improved" or "not enough data yet"."""

    verdict: str
    reason: str
    subject: str  # "room" (the driver or case room) or "property"
    room_name: str | None = None
    before_score: float | None = None
    before_runs: int = 0
    after_score: float | None = None
    after_at: dt.datetime | None = None
    works_completed_at: dt.datetime | None = None


class _FixSubject(TypedDict):
    """The :class:`FixCheck` fields every verdict of :func:`fix_check` past the first shares."""

    subject: str
    room_name: str | None
    works_completed_at: dt.datetime


def fix_check(session: Session, case: Case, now: dt.datetime) -> FixCheck:
    """Compare the room's (else the home's) risk in the 4 weeks before works with the latest since.

    The room is the case's room, else the driver room of the risk record that opened the case. "Before" is
    the mean score of scoring runs whose ``scored_until`` falls in the 28 days before ``works_completed_at``;
    "after" is the latest run scored at least 28 days after the works. A fall of at least
    :data:`FIX_IMPROVEMENT_FRACTION` of the before score is "improved".
    """
    completed = case.works_completed_at
    if completed is None:
        return FixCheck("not enough data yet", "Works have not been recorded as completed", "property")
    window = dt.timedelta(days=FIX_CHECK_DAYS)
    if now - completed < window:
        ready = london_date(completed + window)
        return FixCheck("not enough data yet", f"Works were completed less than {FIX_CHECK_DAYS} days ago; "
                        f"check again from {ready.day} {ready:%B %Y}", "property", works_completed_at=completed)
    room_id = case.room_id
    if room_id is None and case.property_risk_id is not None:
        risk = session.get(PropertyRisk, case.property_risk_id)
        room_id = risk.driver_room_id if risk is not None else None
    if room_id is not None:
        query = (select(RoomRisk.score, ScoringRun.scored_until).join(ScoringRun, RoomRisk.run_id == ScoringRun.id)
                 .where(RoomRisk.room_id == room_id, RoomRisk.score.is_not(None)))
        subject = "room"
        room = session.get(Room, room_id)
        room_name = room.name if room is not None else None
    else:
        query = (select(PropertyRisk.score, ScoringRun.scored_until)
                 .join(ScoringRun, PropertyRisk.run_id == ScoringRun.id)
                 .where(PropertyRisk.uprn == case.uprn, PropertyRisk.score.is_not(None)))
        subject, room_name = "property", None
    history = [(float(score), until) for score, until in session.execute(query.order_by(ScoringRun.scored_until))
               if score is not None]  # the query already skips NULL scores
    before = [score for score, until in history if completed - window <= until <= completed]
    after = [(score, until) for score, until in history if until >= completed + window and until <= now]
    base: _FixSubject = {"subject": subject, "room_name": room_name, "works_completed_at": completed}
    if not before:
        return FixCheck("not enough data yet", f"No risk score in the {FIX_CHECK_DAYS} days before the works",
                        before_runs=0, **base)
    before_score = sum(before) / len(before)
    if not after:
        return FixCheck("not enough data yet", f"No risk score yet from {FIX_CHECK_DAYS} days or more after the works",
                        before_score=before_score, before_runs=len(before), **base)
    after_score, after_at = after[-1]
    improved = after_score <= before_score * (1 - FIX_IMPROVEMENT_FRACTION)
    reason = (f"Risk score {before_score:.2f} in the {FIX_CHECK_DAYS} days before the works "
              f"({len(before)} scoring run{'s' if len(before) != 1 else ''}), {after_score:.2f} at the latest "
              "scoring since")
    return FixCheck("improved" if improved else "not improved", reason, before_score=before_score,
                    before_runs=len(before), after_score=after_score, after_at=after_at, **base)
