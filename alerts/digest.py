"""The staff's daily digest: new and escalating alarms, by email, once a day.

``dampwatch alerts run`` (and its ``--every`` loop) calls :func:`send_digest_if_due`; after
``DAMPWATCH_ALERTS_DIGEST_HOUR`` (Europe/London) it writes one email per address in
``DAMPWATCH_ALERTS_DIGEST_TO`` to the outbox. The dedup key holds the date, so there is at most one digest
a day per address however often the loop runs; ``dampwatch alerts digest`` sends it on demand (with
``--force``, even when nothing is new). A digest covers the time since the previous one (at most 7 days).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from alerts.alarms import address_of, alarm_url
from alerts.messages import LONDON, rule_name, staff_text
from alerts.outbox import enqueue
from core.model_alerts import ALARM_SEVERITIES, Alarm, OutboxMessage

logger = logging.getLogger(__name__)

MAX_DIGEST_DAYS = 7


def recipients(settings) -> list[str]:
    return [e.strip() for e in settings.alerts_digest_to.split(",") if e.strip()]


def _line(session: Session, settings, alarm: Alarm) -> str:
    return staff_text("digest.line", severity=alarm.severity, rule_name=rule_name(alarm.rule),
                      address=address_of(session, alarm.uprn), message=alarm.message,
                      url=alarm_url(settings, alarm.id))


def _order(alarm: Alarm) -> tuple:
    return (-ALARM_SEVERITIES.index(alarm.severity), alarm.raised_at, alarm.id)


def build_digest(session: Session, settings, since: dt.datetime, now: dt.datetime) -> tuple[str, str, int, int]:
    """(subject, body, new, escalating) for the alarms raised or escalated in ``[since, now)``."""
    new = sorted(session.scalars(select(Alarm).where(Alarm.raised_at >= since, Alarm.raised_at < now)), key=_order)
    escalating = sorted(session.scalars(select(Alarm).where(
        Alarm.status == "open", Alarm.escalation_level > 0, Alarm.raised_at < since,
        or_(Alarm.escalated_at >= since, Alarm.next_escalation_at <= now))), key=_order)
    open_count = session.scalar(select(func.count()).select_from(Alarm).where(Alarm.status != "resolved"))
    unacknowledged = session.scalar(select(func.count()).select_from(Alarm).where(Alarm.status == "open"))
    none = staff_text("digest.none")
    values = {
        "since": f"{since.astimezone(LONDON):%d %b %Y %H:%M}", "new": len(new), "escalating": len(escalating),
        "new_lines": "\n".join(_line(session, settings, a) for a in new) or none,
        "escalating_lines": "\n".join(_line(session, settings, a) for a in escalating) or none,
        "open": open_count, "unacknowledged": unacknowledged, "url": f"{settings.web_public_url.rstrip('/')}/alarms",
    }
    return staff_text("digest.subject", **values), staff_text("digest.body", **values), len(new), len(escalating)


def send_digest_if_due(session: Session, settings, now: dt.datetime, *, force: bool = False) -> list[OutboxMessage]:
    """Write today's digest to the outbox for each recipient, once a day after the digest hour."""
    addresses = recipients(settings)
    local = now.astimezone(LONDON)
    if not addresses or (local.hour < settings.alerts_digest_hour and not force):
        return []
    out = []
    for address in addresses:
        key = f"digest:{local.date().isoformat()}:{address}"
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)) is not None:
            continue
        previous = session.scalar(select(func.max(OutboxMessage.created_at)).where(
            OutboxMessage.message_type == "staff_digest", OutboxMessage.recipient == address))
        since = max(previous or now - dt.timedelta(days=1), now - dt.timedelta(days=MAX_DIGEST_DAYS))
        subject, body, new, escalating = build_digest(session, settings, since, now)
        if not (new or escalating or force):
            continue
        message, created = enqueue(session, channel="email", recipient=address, message_type="staff_digest",
                                   subject=subject, body=body, dedup_key=key, now=now)
        if created:
            out.append(message)
            logger.info("daily digest for %s: %d new, %d escalating alarms", address, new, escalating)
    return out
