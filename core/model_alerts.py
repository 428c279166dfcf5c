"""The alerts box's tables in the app database (alarms, rule state, the outbox, tenant sign-in links).

Kept on ``core.model.Base`` so one Alembic history covers the whole schema. The logic that fills them
lives in ``alerts/``; these are only the records, so that the dashboard and the evidence pack can read
them without importing the alerts box.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.model import Base, UTCDateTime, utcnow

ALARM_STATUSES = ("open", "acknowledged", "resolved")
ALARM_SEVERITIES = ("low", "medium", "high", "critical")
OUTBOX_CHANNELS = ("email", "sms", "letter", "webhook", "none")  # "none": suppressed, nowhere to send
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "suppressed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Alarm(Base):
    """A rule's finding about a home, room or device that staff must see and act on.

    One alarm per raise: while it is not resolved, the same rule and subject update it rather than
    open another (a partial unique index keeps it so). ``next_escalation_at`` is when it is escalated
    next if nobody has acknowledged it.
    """

    __tablename__ = "alarm"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(30), index=True)
    subject_key: Mapped[str] = mapped_column(String(120))
    uprn: Mapped[str | None] = mapped_column(ForeignKey("property.uprn", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id", ondelete="SET NULL"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    last_value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # when the rule's condition went away
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_escalation_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("damp_case.id", ondelete="SET NULL"), index=True)

    events: Mapped[list[AlarmEvent]] = relationship(
        back_populates="alarm", cascade="all, delete-orphan", order_by="AlarmEvent.at"
    )

    __table_args__ = (
        CheckConstraint(_in("status", ALARM_STATUSES), name="status_known"),
        CheckConstraint(_in("severity", ALARM_SEVERITIES), name="severity_known"),
        # At most one alarm that is not resolved per rule and subject.
        Index(
            "uq_alarm_active_subject",
            "rule",
            "subject_key",
            unique=True,
            sqlite_where=resolved_at.is_(None),
            postgresql_where=resolved_at.is_(None),
        ),
    )


class AlarmEvent(Base):
    """One entry of an alarm's history: raised, acknowledged, assigned, a note, escalated, resolved."""

    __tablename__ = "alarm_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarm.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    alarm: Mapped[Alarm] = relationship(back_populates="events")


class AlarmRuleState(Base):
    """Where a rule stands for one subject (a home, room or device), so that restarts lose nothing.

    ``condition_since`` is when the raise condition started to hold (None: it does not); ``clear_since``
    when the clear condition started to hold while raised; ``last_at`` the time of the last observation
    taken in (observations at or before it are not taken in again).
    """

    __tablename__ = "alarm_rule_state"

    rule: Mapped[str] = mapped_column(String(30), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    uprn: Mapped[str | None] = mapped_column(String(12), index=True)
    raised: Mapped[bool] = mapped_column(Boolean, default=False)
    condition_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clear_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A message to a tenant, a member of staff or the housing management system, written before sending.

    The delivery worker claims a pending row (status ``sending``), sends it, then records the outcome.
    ``dedup_key`` is unique: the same event never makes two messages. ``not_before`` holds a message
    through the recipient's quiet hours; ``next_attempt_at`` spaces out retries.
    """

    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(10))
    recipient: Mapped[str] = mapped_column(String(500))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.id", ondelete="SET NULL"), index=True)
    uprn: Mapped[str | None] = mapped_column(String(12), index=True)
    alarm_id: Mapped[int | None] = mapped_column(ForeignKey("alarm.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("damp_case.id", ondelete="SET NULL"))
    message_type: Mapped[str] = mapped_column(String(40), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    reason: Mapped[str | None] = mapped_column(String(200))  # why it was suppressed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    provider_reference: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        CheckConstraint(_in("channel", OUTBOX_CHANNELS), name="channel_known"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status_known"),
        Index("ix_outbox_message_uprn_type", "uprn", "message_type", "created_at"),
    )


class TenantLoginToken(Base):
    """A one-time sign-in link sent to a tenant: only the SHA-256 of its token is kept."""

    __tablename__ = "tenant_login_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
