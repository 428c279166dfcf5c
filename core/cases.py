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
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.causes import CAUSE_TABLE
from core.errors import DampWatchError
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
}


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
) -> Case:
    """Open a case at a home, starting its clocks at ``aware_at``; refuse a second open case for the home.

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
    add_case_event(session, case, "opened", actor, summary or "", source=source, emergency=bool(emergency),
                   aware_at=aware_at.isoformat())
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


def set_emergency(session: Session, case: Case, emergency: bool, *, actor: str, user_id: int | None = None,
                  ip: str | None = None) -> Case:
    """Mark a case as an emergency hazard or not (its clocks change accordingly); recorded."""
    if case.emergency == bool(emergency):
        return case
    case.emergency = bool(emergency)
    add_case_event(session, case, "emergency_changed", actor, "Emergency" if emergency else "Not an emergency",
                   emergency=bool(emergency))
    audit.record(session, actor, "case.emergency_changed", "case", case.id, user_id=user_id, ip=ip, emergency=bool(emergency))
    return case


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


def step_clocks(case: Case, now: dt.datetime, *, due_soon_working_days: int = DUE_SOON_WORKING_DAYS) -> list[StepClock]:
    """The four Awaab's Law clocks of a case at ``now`` (frozen at ``closed_at`` once the case is closed).

    A step is "due soon" with ``due_soon_working_days`` or fewer working days left (0: due by the end of
    today), so the 24-hour clocks of an emergency are "due soon" from the start.
    """
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
                due, hours_based = add_hours(aware_at, EMERGENCY_HOURS), True
            else:
                due = add_working_days(aware_at, INVESTIGATE_WORKING_DAYS)
        elif step.key == "make_safe" and case.emergency:
            due, hours_based = add_hours(aware_at, EMERGENCY_HOURS), True
        elif step.key == "preventative" and case.emergency:
            due = None
        elif investigated is None:
            due, waiting = None, True
        else:
            days = {"summary": SUMMARY_WORKING_DAYS, "make_safe": MAKE_SAFE_WORKING_DAYS,
                    "preventative": PREVENTATIVE_WORKING_DAYS}[step.key]
            due = add_working_days(investigated, days)
            if step.key == "preventative":
                long_stop = end_of_day(london_date(investigated) + dt.timedelta(weeks=PREVENTATIVE_LONG_STOP_WEEKS))
        if waiting and done_at is None:
            state, left = "waiting", None
        else:
            state, left = _state(due, done_at, now, due_soon_working_days)
        clocks.append(StepClock(step.key, step.label, due, done_at, state, left, long_stop, hours_based))
    return clocks


def next_deadline(case: Case, now: dt.datetime) -> StepClock | None:
    """The earliest step clock of a case that still needs doing, or None."""
    open_clocks = [c for c in step_clocks(case, now) if c.attention and c.due is not None]
    return min(open_clocks, key=lambda c: c.due) if open_clocks else None


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
    history = [(float(score), until) for score, until in session.execute(query.order_by(ScoringRun.scored_until))]
    before = [score for score, until in history if completed - window <= until <= completed]
    after = [(score, until) for score, until in history if until >= completed + window and until <= now]
    base = {"subject": subject, "room_name": room_name, "works_completed_at": completed}
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
