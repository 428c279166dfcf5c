"""Tenants' data protection rights and how long personal data is kept (UK GDPR articles 15, 17 and 5(1)(e)).

* :func:`subject_access` gathers everything held about a household, found by its UPRN or by a tenant's email
  address or mobile number: the home and its vulnerability flags, the tenants' contact details and
  preferences, every message written to them (sent or not), the cases at the home with their timelines,
  inspections and findings (the tenant's own reports among them), alarms, risk scores, and the audit entries
  about the tenants, their cases and their sign-in link requests.
* :func:`erase_tenants` erases a tenant's personal data. What the law requires is kept: while the home has an
  open damp and mould case, the landlord must still write to the tenant (Awaab's Law) and keep the case's
  record, so the tenant's contact details and that case stay as they are, and the report says so. Everything
  else is pseudonymised: the name becomes "Erased tenant <id>", contacts are removed, consent withdrawn,
  message recipients and bodies blanked, closed cases' tenant reports replaced by a note, sign-in links deleted.
  The audit log keeps its entries (who did what, when), which name tenants only as ``tenant:<id>``.
* :func:`apply_retention` deletes, per data class, what is older than its retention setting, or with
  ``dry_run`` only counts it.

Each call records one audit event (without personal data) in the caller's transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.orm import Session

from alerts.tenant_access import contact_hash, find_tenants, normalise_contact
from core import audit
from core.errors import DampWatchError
from core.model import AuditEvent, Case, CaseEvent, DeadLetter, Property, PropertyRisk, Tenant, normalise_uprn
from core.model_alerts import Alarm, OutboxMessage, TenantLoginToken

logger = logging.getLogger(__name__)

#: The version of the subject-access pack's layout.
PACK_SCHEMA_VERSION = 1
ERASED_TEXT = "[erased at the tenant's request]"
#: Outbox statuses that are finished with (pending and sending messages are never deleted by retention).
FINISHED_MESSAGES = ("sent", "failed", "suppressed")


class PrivacyError(DampWatchError):
    """A subject-access or erasure request that cannot be carried out; the message says what to give instead."""


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _row(row: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of an ORM row, times as ISO 8601."""
    return {column.key: _iso(getattr(row, column.key)) for column in row.__mapper__.columns if column.key not in skip}


def find_household(session: Session, who: str) -> tuple[str, list[Tenant]]:
    """The UPRN and tenants named by ``who``: a UPRN (digits), or a tenant's email address or mobile number.

    Raises :class:`PrivacyError` when nothing matches or a contact belongs to tenants of several homes.
    """
    text = (who or "").strip()
    if text.isdigit() and len(text) <= 12:
        uprn = normalise_uprn(text)
        if session.get(Property, uprn) is None:
            raise PrivacyError(f"There is no home with UPRN {uprn}; check it against the asset register")
        return uprn, list(session.scalars(select(Tenant).where(Tenant.uprn == uprn).order_by(Tenant.id)))
    if normalise_contact(text) is None:
        raise PrivacyError("Give a UPRN (up to 12 digits), an email address or a UK mobile number (07...)")
    tenants = find_tenants(session, text)
    if not tenants:
        raise PrivacyError("No tenant has this email address or mobile number; try the home's UPRN")
    homes = sorted({tenant.uprn for tenant in tenants})
    if len(homes) > 1:
        raise PrivacyError(f"This contact belongs to tenants of {len(homes)} homes ({', '.join(homes)}); "
                           "give the UPRN of the one you mean")
    return homes[0], tenants


def _audit_query(settings, tenants: list[Tenant], case_ids: list[int]):
    conditions: list[ColumnElement[bool]] = [AuditEvent.actor.in_([f"tenant:{tenant.id}" for tenant in tenants])]
    conditions.append((AuditEvent.object_type == "tenant")
                      & AuditEvent.object_id.in_([str(tenant.id) for tenant in tenants]))
    if case_ids:
        conditions.append((AuditEvent.object_type == "case") & AuditEvent.object_id.in_([str(i) for i in case_ids]))
    contacts = [c for tenant in tenants for c in (tenant.email, tenant.phone) if c]
    if contacts:
        conditions.append((AuditEvent.object_type == "contact")
                          & AuditEvent.object_id.in_([contact_hash(settings, c) for c in contacts]))
    return select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.at, AuditEvent.id)


def _messages_query(uprn: str, tenants: list[Tenant]):
    recipients = [c for tenant in tenants for c in (tenant.email, tenant.phone) if c]
    return select(OutboxMessage).where(or_(
        OutboxMessage.tenant_id.in_([tenant.id for tenant in tenants]),
        (OutboxMessage.uprn == uprn) & OutboxMessage.recipient.in_(recipients or [""]),
    )).order_by(OutboxMessage.created_at, OutboxMessage.id)


def subject_access(session: Session, settings, who: str, *, actor: str,
                   now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything held about the household ``who`` names, as a JSON-ready dict; the request is audited."""
    now = now or dt.datetime.now(dt.UTC)
    uprn, tenants = find_household(session, who)
    home = session.get_one(Property, uprn)  # find_household checked it, or it is a tenant's home (a foreign key)
    cases = list(session.scalars(select(Case).where(Case.uprn == uprn).order_by(Case.id)))
    case_ids = [case.id for case in cases]
    messages = [_row(message) for message in session.scalars(_messages_query(uprn, tenants))]
    pack: dict[str, Any] = {
        "schema_version": PACK_SCHEMA_VERSION,
        "generated_at": now.isoformat(),
        "asked_for": "uprn" if who.strip().isdigit() else "contact",
        "home": _row(home),
        "rooms": [{"id": room.id, "name": room.name, "room_type": room.room_type} for room in home.rooms],
        "tenants": [_row(tenant) for tenant in tenants],
        "messages": messages,
        "cases": [{
            **_row(case),
            "timeline": [_row(event) for event in case.events],
            "inspections": [{**_row(inspection), "finding": _row(inspection.finding) if inspection.finding else None}
                            for inspection in case.inspections],
        } for case in cases],
        "tenant_reports": [_row(event) for event in session.scalars(
            select(CaseEvent).where(CaseEvent.case_id.in_(case_ids or [-1]), CaseEvent.kind == "tenant_report")
            .order_by(CaseEvent.at))],
        "alarms": [_row(alarm) for alarm in session.scalars(select(Alarm).where(Alarm.uprn == uprn)
                                                             .order_by(Alarm.raised_at))],
        "risk_scores": [_row(risk, skip=("reasons",)) | {"reasons": risk.reasons}
                        for risk in session.scalars(select(PropertyRisk).where(PropertyRisk.uprn == uprn)
                                                    .order_by(PropertyRisk.computed_at))],
        "audit_entries": [_row(event) for event in session.scalars(_audit_query(settings, tenants, case_ids))],
        "not_included": "Sensor readings (temperature and humidity every few minutes) are held in the readings "
                        "store; export them with 'dampwatch readings export' for the devices listed under rooms.",
    }
    audit.record(session, actor, "tenant.subject_access", "property", uprn, tenants=[t.id for t in tenants],
                 messages=len(messages), cases=len(cases))
    return pack


@dataclasses.dataclass
class ErasureReport:
    """What an erasure changed and what it kept, and why."""

    uprn: str
    tenants_erased: list[int] = dataclasses.field(default_factory=list)
    tenants_kept: list[int] = dataclasses.field(default_factory=list)
    messages_blanked: int = 0
    case_texts_erased: int = 0
    sign_in_links_deleted: int = 0
    kept_because: list[str] = dataclasses.field(default_factory=list)


def erase_tenants(session: Session, settings, who: str, *, actor: str, dry_run: bool = False,
                  now: dt.datetime | None = None) -> ErasureReport:
    """Erase (pseudonymise) the personal data of the tenants ``who`` names, keeping what the law requires."""
    now = now or dt.datetime.now(dt.UTC)
    uprn, tenants = find_household(session, who)
    if not tenants:
        raise PrivacyError(f"No tenant is recorded at UPRN {uprn}; nothing to erase")
    report = ErasureReport(uprn)
    open_case = session.scalar(select(Case).where(Case.uprn == uprn, Case.status == "open").limit(1))
    messages = list(session.scalars(_messages_query(uprn, tenants)))
    closed_cases = list(session.scalars(select(Case).where(Case.uprn == uprn, Case.status == "closed")))
    for tenant in tenants:
        report.sign_in_links_deleted += session.scalar(
            select(func.count()).select_from(TenantLoginToken).where(TenantLoginToken.tenant_id == tenant.id)) or 0
        if not dry_run:
            session.execute(delete(TenantLoginToken).where(TenantLoginToken.tenant_id == tenant.id))
        if open_case is not None:
            report.tenants_kept.append(tenant.id)
            continue
        report.tenants_erased.append(tenant.id)
        if not dry_run:
            tenant.name = f"Erased tenant {tenant.id}"
            tenant.email = tenant.phone = None
            tenant.preferred_channel = "none"
            tenant.consent, tenant.consent_at = False, None
            tenant.session_version = (tenant.session_version or 0) + 1  # any session ends
    if open_case is not None:
        report.kept_because.append(
            f"case {open_case.id} is open: Awaab's Law requires the landlord to keep its record and to write to "
            "the tenant, so their contact details, that case and its messages are kept; erase again once it "
            "is closed")
    for message in messages:
        if open_case is not None and message.case_id == open_case.id:
            continue
        if message.status in ("pending", "sending"):
            continue  # the outbox is about to send it; 'dampwatch outbox list' shows it
        report.messages_blanked += 1
        if not dry_run:
            message.recipient = ERASED_TEXT
            message.body = ERASED_TEXT
    for case in closed_cases:
        tenant_words = ("tenant_report", "message_to_tenant") + (("opened",) if case.source == "tenant_report" else ())
        for event in case.events:
            if event.kind in tenant_words and event.text != ERASED_TEXT:
                report.case_texts_erased += 1
                if not dry_run:
                    event.text = ERASED_TEXT
                    event.detail = {key: value for key, value in (event.detail or {}).items() if key != "body"}
        if case.source == "tenant_report" and case.summary and case.summary != ERASED_TEXT:
            report.case_texts_erased += 1
            if not dry_run:
                case.summary = ERASED_TEXT
    if not dry_run:
        audit.record(session, actor, "tenant.erased", "property", uprn, tenants_erased=report.tenants_erased,
                     tenants_kept=report.tenants_kept, messages_blanked=report.messages_blanked,
                     case_texts_erased=report.case_texts_erased, at=now.isoformat())
    return report


# -- retention -----------------------------------------------------------------------------------------------------

#: The data classes with a retention setting, in the order they are reported.
RETENTION_CLASSES = ("readings", "dead_letters", "messages", "audit", "closed_cases")


@dataclasses.dataclass(frozen=True)
class RetentionLine:
    """One data class: its retention in days (0: kept for ever), the cut-off, and the rows due (or deleted)."""

    data_class: str
    days: int
    cutoff: dt.datetime | None
    rows: int
    note: str = ""


def apply_retention(database, settings, *, dry_run: bool = False, actor: str = "dampwatch retention run",
                    prune_dead_letters: Callable[[Any, float], int] | None = None,
                    now: dt.datetime | None = None) -> list[RetentionLine]:
    """Delete (or with ``dry_run`` count) what is older than each data class's retention setting.

    ``prune_dead_letters(database, days)`` is the ingest box's own pruning (``dampwatch dead-letters prune``),
    passed in by the command (alerts does not import ingest); without it dead letters are deleted here.
    """
    now = now or dt.datetime.now(dt.UTC)
    lines = []
    for data_class in RETENTION_CLASSES:
        days = getattr(settings, f"retention_{data_class}_days")
        if days <= 0:
            lines.append(RetentionLine(data_class, 0, None, 0, "kept for ever"))
            continue
        cutoff = now - dt.timedelta(days=days)
        if data_class == "readings":
            rows, note = _retain_readings(settings.readings_url, cutoff, dry_run)
        elif data_class == "dead_letters":
            rows, note = _retain_dead_letters(database, cutoff, days, dry_run, prune_dead_letters)
        else:
            rows, note = _retain_rows(database, data_class, cutoff, dry_run)
        lines.append(RetentionLine(data_class, days, cutoff, rows, note))
    if not dry_run:
        with database.session() as session:
            audit.record(session, actor, "retention.applied", None, None,
                         deleted={line.data_class: line.rows for line in lines})
    for line in lines:
        if line.rows and not dry_run:
            logger.info("retention: deleted %d %s older than %d days", line.rows, line.data_class, line.days)
    return lines


def _retain_readings(readings_url: str, cutoff: dt.datetime, dry_run: bool) -> tuple[int, str]:
    prefix = "sqlite:///"
    if not readings_url.startswith(prefix):
        return 0, ("this readings store keeps its own retention (VictoriaMetrics -retentionPeriod, InfluxDB "
                   "bucket retention): set it there")
    import sqlite3

    connection = sqlite3.connect(readings_url[len(prefix):], timeout=30)
    try:
        seconds = int(cutoff.timestamp())
        count = connection.execute("SELECT COUNT(*) FROM reading WHERE ts < ?", (seconds,)).fetchone()[0]
        if count and not dry_run:
            with connection:
                connection.execute("DELETE FROM reading WHERE ts < ?", (seconds,))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0, "no readings yet"
        raise
    finally:
        connection.close()
    return count, ""


def _retain_dead_letters(database, cutoff: dt.datetime, days: int, dry_run: bool,
                         prune: Callable[[Any, float], int] | None) -> tuple[int, str]:
    with database.session() as session:
        count = session.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.received_at < cutoff))
        if not dry_run and count and prune is None:
            session.execute(delete(DeadLetter).where(DeadLetter.received_at < cutoff))
    if not dry_run and count and prune is not None:
        return prune(database, days), ""
    return count or 0, ""


def _retain_rows(database, data_class: str, cutoff: dt.datetime, dry_run: bool) -> tuple[int, str]:
    with database.session() as session:
        if data_class == "messages":
            ids = list(session.scalars(select(OutboxMessage.id).where(OutboxMessage.created_at < cutoff,
                                                                      OutboxMessage.status.in_(FINISHED_MESSAGES))))
            if not dry_run and ids:
                session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
            return len(ids), "messages still to send are kept"
        if data_class == "audit":
            ids = list(session.scalars(select(AuditEvent.id).where(AuditEvent.at < cutoff)))
            if not dry_run and ids:
                session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
            return len(ids), ""
        cases = list(session.scalars(select(Case).where(Case.status == "closed", Case.closed_at < cutoff)))
        if not dry_run:
            for case in cases:
                session.delete(case)  # its timeline, inspections and findings go with it
        return len(cases), "open cases are kept"
