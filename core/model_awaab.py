"""Awaab's Law records beyond the four step times: hazards per case, the clock rules a case was opened under,
and work orders (ours or a housing management system's).

Kept on ``core.model.Base`` so one Alembic history covers the whole schema (migration ``0008_e``). The logic
lives in ``core.cases`` and ``core.awaab_model``; these are only the records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.hazards import HAZARD_CODES, HAZARD_SEVERITIES
from core.model import Base, Case, UTCDateTime, utcnow

WORK_ORDER_STATUSES = ("raised", "scheduled", "in_progress", "completed", "cancelled", "no_access")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class CaseHazard(Base):
    """One HHSRS hazard on a case, with its severity and whether it is an emergency hazard.

    A hazard is removed by setting ``removed_at`` (the record stays: the Ombudsman asks what was known when).
    """

    __tablename__ = "case_hazard"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("damp_case.id", ondelete="CASCADE"), index=True)
    hazard: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(6))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by: Mapped[str] = mapped_column(String(254))
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(254))

    case: Mapped[Case] = relationship(back_populates="hazards")

    __table_args__ = (
        CheckConstraint(_in("hazard", HAZARD_CODES), name="hazard_known"),
        CheckConstraint(_in("severity", HAZARD_SEVERITIES), name="severity_known"),
    )


class CaseClock(Base):
    """The clock profile a case was opened under and its numbers, frozen so later changes never move old deadlines."""

    __tablename__ = "case_clock"

    case_id: Mapped[int] = mapped_column(ForeignKey("damp_case.id", ondelete="CASCADE"), primary_key=True)
    profile: Mapped[str] = mapped_column(String(30))
    rules_version: Mapped[str] = mapped_column(String(200))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="clock")


class WorkOrder(Base):
    """A repair job for a case: raised by us, or known from a housing management system by its ``reference``."""

    __tablename__ = "work_order"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("damp_case.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="raised")
    status_text: Mapped[str] = mapped_column(String(255), default="")
    contractor: Mapped[str] = mapped_column(String(100), default="")
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    planned_start: Mapped[dt.date | None] = mapped_column(Date)
    planned_finish: Mapped[dt.date | None] = mapped_column(Date)
    actual_start_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    actual_completion_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="work_orders")

    __table_args__ = (
        UniqueConstraint("reference", name="uq_work_order_reference"),
        CheckConstraint(_in("status", WORK_ORDER_STATUSES), name="status_known"),
    )
