"""The outbox: every message is written here before it is sent, and a worker delivers it.

Why an outbox
-------------
A message is decided in the same transaction as what caused it (an alarm raised, a sign-in link asked
for), so a crash never leaves an alarm without its message or a message without its alarm. Sending
happens later, outside that transaction, through whichever channels are configured; a channel that is
down only delays its messages.

Delivery, step by step
----------------------
1. **Claim.** One ``UPDATE ... SET status='sending' WHERE id=? AND status='pending'`` per due row,
   committed at once. The database lets only one worker win a row, so two workers never send the same
   message.
2. **Send** through the channel, outside any transaction.
3. **Record** the outcome in one transaction: ``sent`` (with the provider's reference, and a
   ``message_to_tenant`` entry on the open case's timeline for tenant messages), or back to ``pending``
   with ``next_attempt_at`` pushed back exponentially (``retry_base_s · 2^(attempts−1)``, capped at
   ``retry_max_s``), or ``failed`` after ``max_attempts`` or an error the channel says is permanent
   (a refused address). Failed messages stay visible (``dampwatch outbox list --status failed``) and can
   be sent again with ``dampwatch outbox retry``.

A crash between 2 and 3
-----------------------
If the worker dies after the channel accepted a message but before step 3 commits, the row stays
``sending``. Nothing sends it again by itself: after ``claim_timeout_s`` :func:`recover_stale` marks it
``failed`` with an error saying it may or may not have been delivered, for a person to check (the
provider's reference is the outbox id: the SMTP ``Message-ID`` is ``<outbox-ID@...>``, Notify's
``reference`` and the webhook's ``X-DampWatch-Delivery`` header carry the dedup key) and retry. So a
message is delivered **at most once** by the worker; the window for doubt is the milliseconds between a
provider's acceptance and the commit, and it is reported, never silently resent or dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any, Protocol, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import Database
from core.model import Case, utcnow
from core.model_alerts import OutboxMessage

logger = logging.getLogger(__name__)

ACTIVE_STATUSES = ("pending", "sending", "sent")
#: Messages that carry a secret (a one-time sign-in link): their body is blanked once sent.
SECRET_MESSAGE_TYPES = ("sign_in_link",)
SECRET_REMOVED = "[the sign-in link in this message was removed after it was sent]"


class DeliveryError(Exception):
    """A channel could not deliver a message; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    """A channel: sends one message and returns the provider's reference for it."""

    def send(self, message: OutboxMessage) -> str: ...


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    max_attempts: int = 12
    base_s: float = 60.0
    max_s: float = 3600.0
    claim_timeout_s: float = 600.0

    def delay(self, attempts: int) -> dt.timedelta:
        """Wait after the ``attempts``-th failed attempt: base · 2^(attempts − 1), capped."""
        seconds = min(self.base_s * 2 ** max(attempts - 1, 0), self.max_s)
        return dt.timedelta(seconds=seconds)

    @classmethod
    def from_settings(cls, settings) -> RetryPolicy:
        return cls(settings.outbox_max_attempts, settings.outbox_retry_base_s, settings.outbox_retry_max_s,
                   settings.outbox_claim_timeout_s)


@dataclasses.dataclass
class DeliveryReport:
    """What one pass of the worker did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    recovered: int = 0

    def __bool__(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.recovered)


def enqueue(
    session: Session,
    *,
    channel: str,
    recipient: str,
    message_type: str,
    body: str,
    dedup_key: str,
    subject: str = "",
    language: str = "en",
    tenant_id: int | None = None,
    uprn: str | None = None,
    alarm_id: int | None = None,
    case_id: int | None = None,
    not_before: dt.datetime | None = None,
    status: str = "pending",
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[OutboxMessage, bool]:
    """Write a message to the outbox, unless one with ``dedup_key`` is already there.

    Returns the message and whether it is new. A second call with the same key (a rule evaluated again,
    a retried request) returns the first message unchanged: the same event never makes two messages.
    """
    existing = session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)).first()
    if existing is not None:
        return existing, False
    message = OutboxMessage(
        created_at=now or utcnow(), channel=channel, recipient=recipient, message_type=message_type,
        language=language, subject=subject[:300], body=body, dedup_key=dedup_key, status=status, reason=reason,
        tenant_id=tenant_id, uprn=uprn, alarm_id=alarm_id, case_id=case_id, not_before=not_before, attempts=0,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # another process wrote the same key between our look and our insert?
        existing = session.scalars(select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)).first()
        if existing is None:
            raise  # no: some other constraint
        return existing, False
    if status == "suppressed":
        logger.info("message %s (%s) suppressed: %s", dedup_key, message_type, reason)
    return message, True


def _due(now: dt.datetime, channels: list[str], limit: int):
    return (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.channel.in_(channels),
            or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= now),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
        )
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(limit)
    )


def worker_name() -> str:
    """Who is claiming: host and process id, for the record."""
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def claim(session: Session, message_id: int, now: dt.datetime, worker: str) -> bool:
    """Take a pending message for sending; False when another worker got it first (or it is not due)."""
    # An UPDATE always runs through a cursor, so its result is a CursorResult (which has ``rowcount``);
    # Session.execute is typed to return the plain Result for every statement.
    result = cast("CursorResult[Any]", session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
        .values(status="sending", claimed_at=now, claimed_by=worker, attempts=OutboxMessage.attempts + 1)
    ))
    return result.rowcount == 1


def _clock(now: dt.datetime | None, clock: Callable[[], dt.datetime] | None) -> Callable[[], dt.datetime]:
    """``clock`` if given; else a clock frozen at ``now`` when ``now`` is given (tests), else the real time."""
    if clock is not None:
        return clock
    if now is None:
        return utcnow
    frozen = now
    return lambda: frozen


def _message(session: Session, message_id: int) -> OutboxMessage:
    """The outbox row ``message_id``, which the worker has claimed (so it exists unless deleted by hand)."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise LookupError(f"outbox message {message_id} was deleted while it was being sent")
    return message


def _record_on_case(session: Session, message: OutboxMessage, sent_at: dt.datetime) -> None:
    """Put a message sent to a tenant on the timeline of the home's open case (the evidence pack reads it)."""
    if message.tenant_id is None or message.uprn is None:
        return
    from core.cases import add_case_event, find_open_case

    case = session.get(Case, message.case_id) if message.case_id is not None else None
    if case is None or case.status != "open":
        case = find_open_case(session, message.uprn)
    if case is None:
        return
    message.case_id = case.id
    add_case_event(
        session, case, "message_to_tenant", "dampwatch alerts",
        f"{message.subject or message.message_type} ({message.channel} to tenant)",
        at=sent_at, outbox_id=message.id, message_type=message.message_type, channel=message.channel,
        language=message.language, tenant_id=message.tenant_id, body=message.body,
    )


def deliver_one(database: Database, message_id: int, senders: Mapping[str, Sender], policy: RetryPolicy,
                *, now: dt.datetime | None = None, worker: str | None = None,
                clock: Callable[[], dt.datetime] | None = None) -> str | None:
    """Claim, send and record one message; returns its new status, or None if it could not be claimed.

    ``now`` is when the message is claimed; ``clock`` is read again once the channel has answered, for the
    time it was sent and the time of its next try (default: the real time, or ``now`` when only ``now`` is
    given, for tests that freeze time).
    """
    clock = _clock(now, clock)
    now = now or clock()
    with database.session() as session:
        if not claim(session, message_id, now, worker or worker_name()):
            return None
        message = _message(session, message_id)
        session.expunge(message)
    sender = senders[message.channel]
    reference: str | None = None
    error: DeliveryError | None = None
    try:
        reference = sender.send(message)
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # a channel bug must not lose the message: record it and retry
        logger.exception("channel %s raised while sending message %d", message.channel, message_id)
        error = DeliveryError(f"{type(exc).__name__}: {exc}")
    finished = max(clock(), now)  # when the channel answered: never before the claim
    with database.session() as session:
        row = _message(session, message_id)
        if error is None:
            row.status = "sent"
            row.sent_at = finished
            row.provider_reference = (reference or "")[:300]
            row.last_error = None
            if row.message_type in SECRET_MESSAGE_TYPES:  # the link worked once it was sent; keep no copy
                row.body = SECRET_REMOVED
            _record_on_case(session, row, finished)
            logger.info("sent message %d (%s, %s) via %s", row.id, row.message_type, row.channel, reference)
        elif error.permanent or row.attempts >= policy.max_attempts:
            row.status = "failed"
            row.last_error = str(error)[:2000]
            logger.warning("message %d (%s via %s) failed after %d attempt(s): %s", row.id, row.message_type,
                           row.channel, row.attempts, _without(str(error), row.recipient))
        else:
            next_attempt_at = finished + policy.delay(row.attempts)
            row.status = "pending"
            row.next_attempt_at = next_attempt_at
            row.last_error = str(error)[:2000]
            logger.info("message %d (%s via %s) not delivered (attempt %d), retrying at %s: %s", row.id,
                        row.message_type, row.channel, row.attempts, next_attempt_at.isoformat(),
                        _without(str(error), row.recipient))
        return row.status


def _without(text: str, recipient: str) -> str:
    """``text`` for the log, with the recipient's address or number replaced (it stays in the outbox row)."""
    for part in filter(None, (recipient or "").splitlines()):
        text = text.replace(part, "<recipient>")
    return text


def recover_stale(session: Session, policy: RetryPolicy, now: dt.datetime) -> int:
    """Mark messages left ``sending`` too long as failed (never resent by themselves; see the module notes)."""
    cutoff = now - dt.timedelta(seconds=policy.claim_timeout_s)
    stale = session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < cutoff)
    ).all()
    for message in stale:
        claimed_at = message.claimed_at
        assert claimed_at is not None  # the query's claimed_at < cutoff never matches NULL
        message.status = "failed"
        message.last_error = (
            f"delivery was interrupted (worker {message.claimed_by} stopped while sending at "
            f"{claimed_at.isoformat()}); it may or may not have reached the recipient: check, then "
            f"'dampwatch outbox retry {message.id}' to send it again"
        )
        logger.warning("message %d was left sending by %s; marked failed for a person to check", message.id,
                       message.claimed_by)
    return len(stale)


def deliver_due(database: Database, senders: Mapping[str, Sender], policy: RetryPolicy, *,
                now: dt.datetime | None = None, limit: int = 200,
                clock: Callable[[], dt.datetime] | None = None) -> DeliveryReport:
    """Deliver every message that is due on a configured channel (one pass).

    Each message's times come from ``clock`` as it is sent (default: the real time; ``now`` alone freezes
    it for tests), not from the start of the pass, which may be seconds earlier.
    """
    report = DeliveryReport()
    clock = _clock(now, clock)
    now = now or clock()
    with database.session() as session:
        report.recovered = recover_stale(session, policy, now)
        ids = list(session.scalars(_due(now, sorted(senders), limit)))
    worker = worker_name()
    for message_id in ids:
        status = deliver_one(database, message_id, senders, policy, now=max(clock(), now), worker=worker, clock=clock)
        if status == "sent":
            report.sent += 1
        elif status == "pending":
            report.retrying += 1
        elif status == "failed":
            report.failed += 1
    return report


def retry(session: Session, message_ids: list[int] | None = None, *, failed: bool = False,
          now: dt.datetime | None = None) -> int:
    """Put failed messages (the ids given, or every failed one) back in the queue; returns how many."""
    query = select(OutboxMessage).where(OutboxMessage.status == "failed")
    if message_ids:
        query = query.where(OutboxMessage.id.in_(message_ids))
    elif not failed:
        return 0
    rows = session.scalars(query).all()
    for row in rows:
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = now
        row.claimed_at = None
    return len(rows)
