"""The alarm lifecycle: open → acknowledged → resolved, with assignee, notes, escalation and events out.

Every change adds an :class:`~core.model_alerts.AlarmEvent` (the alarm's history) in the caller's
transaction, and the events the council's housing management system cares about (raised, escalated,
resolved, a case opened) are written to the outbox for the signed webhook when one is configured.

Escalation
----------
An alarm nobody has acknowledged is escalated to the managers (an email each, and the webhook), then
again every working day until someone acknowledges or resolves it. The next escalation is the earlier of

* ``DAMPWATCH_ALERTS_ESCALATE_AFTER_WORKING_DAYS`` working days after it was raised (then one working day
  after the last escalation), at the same time of day, and
* 08:00 on the working day ``DAMPWATCH_ALERTS_ESCALATE_BEFORE_DEADLINE_WORKING_DAYS`` working days
  before the next Awaab's Law deadline of an open case at the home (``core.cases``), so an alarm never
  sits unread while a legal deadline runs out.

Working days are those of England and Wales (``core.workdays``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.messages import LONDON, rule_name, staff_text
from alerts.outbox import enqueue
from core import audit
from core.cases import DuplicateCaseError, add_hazard, find_open_case, hazard_codes, next_deadline, open_case
from core.errors import DampWatchError
from core.model import Case, Property, User, utcnow
from core.model_alerts import Alarm, AlarmEvent
from core.workdays import add_working_days_to_date, is_working_day, london_date, start_of_day

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "dampwatch alerts"
WEBHOOK_SCHEMA_VERSION = 1
ESCALATION_HOUR = 8
"""A deadline brings escalation forward to this hour (London) of its day (no working day has a clock change)."""


class AlarmError(DampWatchError):
    """An alarm action is not allowed (the message says why, fit for a page)."""


def add_event(session: Session, alarm: Alarm, kind: str, actor: str, text: str = "", *,
              at: dt.datetime | None = None, **detail: Any) -> AlarmEvent:
    """Add an entry to an alarm's history."""
    event = AlarmEvent(alarm=alarm, kind=kind, actor=actor, text=text, at=at or utcnow(), detail=detail)
    session.add(event)
    return event


# -- the webhook's events -------------------------------------------------------------------------------------


def alarm_payload(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the webhook sends it."""
    return {
        "id": alarm.id, "rule": alarm.rule, "severity": alarm.severity, "status": alarm.status,
        "uprn": alarm.uprn, "room_id": alarm.room_id, "device_id": alarm.device_id, "message": alarm.message,
        "raised_at": alarm.raised_at.isoformat(), "escalation_level": alarm.escalation_level,
        "acknowledged_at": alarm.acknowledged_at.isoformat() if alarm.acknowledged_at else None,
        "resolved_at": alarm.resolved_at.isoformat() if alarm.resolved_at else None,
        "case_id": alarm.case_id,
    }


def case_payload(case: Case) -> dict[str, Any]:
    """A case as the webhook sends it."""
    return {"id": case.id, "uprn": case.uprn, "source": case.source, "emergency": case.emergency,
            "status": case.status, "aware_at": case.aware_at.isoformat(), "summary": case.summary}


def send_event(session: Session, settings, event: str, dedup_key: str, *, now: dt.datetime,
               alarm: Alarm | None = None, case: Case | None = None) -> None:
    """Write an event for the housing management system's webhook to the outbox (if a webhook is set)."""
    if not settings.webhook_url:
        return
    payload: dict[str, Any] = {"schema_version": WEBHOOK_SCHEMA_VERSION, "event": event, "id": dedup_key,
                               "occurred_at": now.isoformat()}
    if alarm is not None:
        payload["alarm"] = alarm_payload(alarm)
    if case is not None:
        payload["case"] = case_payload(case)
    enqueue(session, channel="webhook", recipient=settings.webhook_url, message_type=event,
            body=json.dumps(payload, sort_keys=True), dedup_key=f"webhook:{dedup_key}",
            uprn=alarm.uprn if alarm is not None else (case.uprn if case is not None else None),
            alarm_id=alarm.id if alarm is not None else None, case_id=case.id if case is not None else None,
            now=now)


# -- lifecycle ------------------------------------------------------------------------------------------------


def _check_active(alarm: Alarm) -> None:
    if alarm.status == "resolved":
        raise AlarmError(f"Alarm {alarm.id} is resolved")


def acknowledge(session: Session, alarm: Alarm, actor: str, note: str = "", *, user_id: int | None = None,
                now: dt.datetime | None = None, ip: str | None = None) -> Alarm:
    """Someone has seen the alarm and is dealing with it: escalation stops."""
    _check_active(alarm)
    if alarm.status == "acknowledged":
        raise AlarmError(f"Alarm {alarm.id} is already acknowledged")
    now = now or utcnow()
    alarm.status = "acknowledged"
    alarm.acknowledged_at = now
    alarm.acknowledged_by = actor
    alarm.next_escalation_at = None
    add_event(session, alarm, "acknowledged", actor, note, at=now)
    audit.record(session, actor, "alarm.acknowledged", "alarm", alarm.id, user_id=user_id, ip=ip)
    return alarm


def assign(session: Session, alarm: Alarm, assignee: User | None, actor: str, *, user_id: int | None = None,
           now: dt.datetime | None = None, ip: str | None = None) -> Alarm:
    """Give the alarm to a member of staff (or to nobody)."""
    _check_active(alarm)
    if assignee is not None and (not assignee.active or assignee.role not in ("officer", "repair", "manager")):
        raise AlarmError("Choose an active officer, repair team member or manager")
    alarm.assignee_user_id = assignee.id if assignee is not None else None
    text = f"Assigned to {assignee.name}" if assignee is not None else "Unassigned"
    add_event(session, alarm, "assigned", actor, text, at=now, assignee_user_id=alarm.assignee_user_id)
    audit.record(session, actor, "alarm.assigned", "alarm", alarm.id, user_id=user_id, ip=ip,
                 assignee_user_id=alarm.assignee_user_id)
    return alarm


def add_note(session: Session, alarm: Alarm, actor: str, text: str, *, user_id: int | None = None,
             now: dt.datetime | None = None, ip: str | None = None) -> AlarmEvent:
    """Add a note to the alarm's history."""
    text = (text or "").strip()
    if not text:
        raise AlarmError("Enter a note")
    event = add_event(session, alarm, "note", actor, text, at=now)
    audit.record(session, actor, "alarm.note_added", "alarm", alarm.id, user_id=user_id, ip=ip)
    return event


def resolve(session: Session, alarm: Alarm, actor: str, note: str = "", *, settings=None,
            user_id: int | None = None, now: dt.datetime | None = None, kind: str = "resolved",
            ip: str | None = None) -> Alarm:
    """Close the alarm. The rule raises a new one if its condition comes back after clearing."""
    _check_active(alarm)
    now = now or utcnow()
    alarm.status = "resolved"
    alarm.resolved_at = now
    alarm.resolved_by = actor
    alarm.next_escalation_at = None
    add_event(session, alarm, kind, actor, note, at=now)
    audit.record(session, actor, "alarm.resolved", "alarm", alarm.id, user_id=user_id, ip=ip, note=note)
    if settings is not None:
        send_event(session, settings, "alarm.resolved", f"alarm.resolved:{alarm.id}", now=now, alarm=alarm)
    return alarm


def open_case_for_alarm(session: Session, alarm: Alarm, actor: str, *, settings=None, user_id: int | None = None,
                        emergency: bool = False, now: dt.datetime | None = None) -> tuple[Case, bool]:
    """Open a case at the alarm's home, its clocks starting when the alarm was raised; or link the open one.

    The alarm is when the landlord became aware (a sensor alert can be that moment), so ``aware_at`` is
    the alarm's ``raised_at``, not the moment someone pressed the button. Returns the case and whether it
    was opened now (False: the home's open case, now linked).
    """
    if alarm.uprn is None:
        raise AlarmError("This alarm is not at a home (its sensor is not installed), so no case can be opened")
    now = now or utcnow()
    # An excess cold or heat alarm opens a case of that HHSRS hazard (issue 15); others are damp and mould.
    hazard_code = {"excess_cold": "excess_cold", "excess_heat": "excess_heat"}.get(alarm.rule)
    severity = "high" if alarm.severity in ("high", "critical") else "medium"
    hazards = [{"hazard": hazard_code, "severity": severity, "emergency": emergency}] if hazard_code else None
    try:
        case = open_case(session, uprn=alarm.uprn, aware_at=min(alarm.raised_at, now), source="alarm",
                         actor=actor, emergency=emergency, user_id=user_id, room_id=alarm.room_id,
                         summary=f"From alarm {alarm.id}: {alarm.message}", hazards=hazards)
    except DuplicateCaseError as exc:
        existing = session.get(Case, exc.case_id)
        if existing is None:  # open_case read it in this session a moment ago; only a concurrent delete gets here
            raise
        case = existing
        alarm.case_id = case.id
        if hazard_code and case.status == "open" and hazard_code not in hazard_codes(case):
            add_hazard(session, case, hazard_code, severity, actor=actor, notes=f"From alarm {alarm.id}")
        add_event(session, alarm, "case_linked", actor, f"Linked to open case {case.id}", at=now, case_id=case.id)
        return case, False
    alarm.case_id = case.id
    add_event(session, alarm, "case_opened", actor, f"Case {case.id} opened", at=now, case_id=case.id)
    if settings is not None:
        send_event(session, settings, "case.opened", f"case.opened:{case.id}", now=now, alarm=alarm, case=case)
    return case, True


# -- escalation -----------------------------------------------------------------------------------------------


def _same_time_working_days_later(start: dt.datetime, n: int) -> dt.datetime:
    """The same London time of day, ``n`` working days after ``start``'s London date."""
    local = start.astimezone(LONDON)
    day = add_working_days_to_date(local.date(), n)
    return dt.datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=LONDON).astimezone(dt.UTC)


def _working_days_before(day: dt.date, n: int) -> dt.date:
    """The working day ``n`` working days before ``day`` (``day`` itself not counted; 0 gives ``day``)."""
    for _ in range(n):
        day -= dt.timedelta(days=1)
        while not is_working_day(day):
            day -= dt.timedelta(days=1)
    return day


def next_escalation(alarm: Alarm, case: Case | None, now: dt.datetime, *, after_working_days: int,
                    before_deadline_working_days: int) -> tuple[dt.datetime, str | None]:
    """When an unacknowledged alarm is next escalated, and the case deadline that brings it forward (if any)."""
    last = alarm.escalated_at or alarm.raised_at
    when = _same_time_working_days_later(last, after_working_days if alarm.escalation_level == 0 else 1)
    reason = None
    if case is not None:
        clock = next_deadline(case, now)
        if clock is not None and clock.due is not None:
            day = _working_days_before(london_date(clock.due), before_deadline_working_days)
            trigger = start_of_day(day) + dt.timedelta(hours=ESCALATION_HOUR)
            # Brought forward; an alarm raised already inside that window escalates at once.
            if trigger < when and (trigger > last or alarm.escalation_level == 0):
                when = max(trigger, last)
                reason = f"{clock.label} due by {clock.due.astimezone(LONDON):%d %b %Y %H:%M}"
    return when, reason


def escalate_due(session: Session, settings, now: dt.datetime) -> list[Alarm]:
    """Escalate every unacknowledged alarm whose time has come; update the others' next escalation time."""
    escalated = []
    alarms = session.scalars(select(Alarm).where(Alarm.status == "open").order_by(Alarm.id)).all()
    for alarm in alarms:
        case = find_open_case(session, alarm.uprn) if alarm.uprn else None
        when, reason = next_escalation(
            alarm, case, now, after_working_days=settings.alerts_escalate_after_working_days,
            before_deadline_working_days=settings.alerts_escalate_before_deadline_working_days)
        alarm.next_escalation_at = when
        if when > now:
            continue
        alarm.escalation_level += 1
        alarm.escalated_at = now
        text = f"Not acknowledged; escalated to managers (escalation {alarm.escalation_level})"
        if reason:
            text += f"; {reason}"
        add_event(session, alarm, "escalated", SYSTEM_ACTOR, text, at=now, level=alarm.escalation_level)
        _email_managers(session, settings, alarm, case, now)
        send_event(session, settings, "alarm.escalated", f"alarm.escalated:{alarm.id}:{alarm.escalation_level}",
                   now=now, alarm=alarm)
        alarm.next_escalation_at, _ = next_escalation(
            alarm, case, now, after_working_days=settings.alerts_escalate_after_working_days,
            before_deadline_working_days=settings.alerts_escalate_before_deadline_working_days)
        logger.info("alarm %d (%s at %s) escalated to level %d", alarm.id, alarm.rule, alarm.uprn,
                    alarm.escalation_level)
        escalated.append(alarm)
    return escalated


def staff_recipients(session: Session, settings, alarm: Alarm) -> list[str]:
    """Who gets an escalation: every active manager and the assignee; the digest list if there is no manager."""
    emails = list(session.scalars(select(User.email).where(User.role == "manager", User.active.is_(True))
                                  .order_by(User.email)))
    if alarm.assignee_user_id is not None:
        assignee = session.get(User, alarm.assignee_user_id)
        if assignee is not None and assignee.active and assignee.email not in emails:
            emails.append(assignee.email)
    if not emails:
        emails = [e.strip() for e in settings.alerts_digest_to.split(",") if e.strip()]
    return emails


def alarm_url(settings, alarm_id: int) -> str:
    return f"{settings.web_public_url.rstrip('/')}/alarms/{alarm_id}"


def address_of(session: Session, uprn: str | None) -> str:
    home = session.get(Property, uprn) if uprn else None
    return f"{home.address}, {home.postcode}" if home is not None else "no home (sensor not installed)"


def _email_managers(session: Session, settings, alarm: Alarm, case: Case | None, now: dt.datetime) -> None:
    if case is not None:
        clock = next_deadline(case, now)
        deadline = (staff_text("escalation.deadline_case", step=clock.label,
                               due=f"{clock.due.astimezone(LONDON):%d %b %Y %H:%M}")
                    if clock is not None and clock.due is not None else "")
    else:
        deadline = staff_text("escalation.deadline_none")
    values = {"alarm_id": alarm.id, "rule_name": rule_name(alarm.rule), "address": address_of(session, alarm.uprn),
                  "severity": alarm.severity, "raised": f"{alarm.raised_at.astimezone(LONDON):%d %b %Y %H:%M}",
                  "message": alarm.message, "deadline": deadline, "level": alarm.escalation_level,
                  "url": alarm_url(settings, alarm.id)}
    subject = staff_text("escalation.subject", **values)
    body = staff_text("escalation.body", **values)
    for email in staff_recipients(session, settings, alarm):
        enqueue(session, channel="email", recipient=email, message_type="alarm_escalation", subject=subject,
                body=body, dedup_key=f"escalation:{alarm.id}:{alarm.escalation_level}:{email}",
                uprn=alarm.uprn, alarm_id=alarm.id, now=now)
