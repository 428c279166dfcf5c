"""Cases in the MHCLG/HACT Awaab's Law data model, and work-order updates from a housing management system.

The sector's shared data model (the ``damp-and-mould-standards-concept`` proof of concept, MIT licence; its
DDL in ``ddl/investigation_component.sql`` and ``ddl/work_order_component.sql``) names the entities
``hazard_report``, ``investigation``, ``investigation_hazard``, ``notification``, ``escalation`` and
``work_order``, keyed by UPRN, with code lists. :func:`export_cases` writes our cases in those entities,
with its field names (the work-order component's CamelCase columns in snake_case, as the investigation
component spells its own) and its code-list *values* (``"Environmental Sensor"``, not an integer id, so a
file can be read without the code tables). :func:`import_work_orders` reads work-order status updates in
the same shape.

How our records map (choices where the model is silent):

- one ``hazard_report`` per case (``DW-C<case id>``); ``report_status`` Closed, Made Safe (made safe, not
  closed), Under Review (an inspection booked or an investigation recorded) or Open;
- one ``investigation`` per inspection (``DW-I<inspection id>``), plus one for an investigation recorded
  without an inspection (``DW-C<case id>-I``); ``investigation_type`` Emergency on the emergency track,
  Further for a second or later one, Renewed for the first after a reopening, else Standard;
- one ``investigation_hazard`` per hazard on the case and investigation (``DW-H<hazard id>-<investigation>``);
- ``notification``: each message to the tenant in the outbox that was sent (type from what it was: the
  written summary is a Result, a booked visit Scheduled, advice Advice, a delay Delay); the content summary is
  the subject line only (no personal data beyond what the housing management system already holds);
- ``escalation``: each recorded escalation (senior review, legal action, compensation, alternative
  accommodation);
- ``work_order``: our work orders (``core.model_awaab.WorkOrder``) by their reference.

Dates are London dates (ISO ``YYYY-MM-DD``); date-times are UTC ISO 8601. Flags are 0 or 1, as the DDL has them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.cases import (
    ESCALATION_TYPES,
    CaseError,
    active_hazards,
    add_case_event,
    record_step,
    step_clocks,
)
from core.errors import DampWatchError
from core.hazards import hazard
from core.model import Case, Inspection, Tenant, utcnow
from core.model_alerts import OutboxMessage
from core.model_awaab import WORK_ORDER_STATUSES, WorkOrder
from core.workdays import london_date

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1

TRIGGER_SOURCES: Final = ("Tenant Report", "Routine Check", "Environmental Sensor", "Staff Report")
INVESTIGATION_TYPES: Final = ("Standard", "Renewed", "Further", "Emergency")
REPORT_STATUSES: Final = ("Open", "Under Review", "Made Safe", "Closed")
SEVERITY_NAMES: Final = {"high": "High", "medium": "Medium", "low": "Low"}
NOTIFICATION_TYPES: Final = ("Scheduled", "Result", "Advice", "Delay", "Escalation")
NOTIFICATION_METHODS: Final = ("Email", "SMS", "Phone Call", "Letter")
ESCALATION_STAGES: Final = ("Open", "In Progress", "Resolved", "Rejected")

#: Our case sources as the data model's trigger source.
SOURCE_TRIGGER: Final = {
    "risk_flag": "Environmental Sensor",
    "alarm": "Environmental Sensor",
    "tenant_report": "Tenant Report",
    "officer": "Staff Report",
    "inspection": "Routine Check",
}
CHANNEL_METHOD: Final = {"email": "Email", "sms": "SMS", "letter": "Letter", "phone": "Phone Call"}
#: Outbox message types as notification types; anything else a tenant is sent counts as Advice.
MESSAGE_NOTIFICATION_TYPE: Final = {
    "written_summary": "Result",
    "inspection_booked": "Scheduled",
    "visit_booked": "Scheduled",
    "delay": "Delay",
    "escalation": "Escalation",
}

ENTITIES: Final[dict[str, tuple[str, ...]]] = {
    "hazard_report": (
        "hazard_report_id", "uprn", "tenancy_id", "date_reported", "reported_by", "description", "photo_evidence",
        "location_details", "emergency_action_taken", "made_safe_date", "further_work_required",
        "further_work_due_date", "report_status",
    ),
    "investigation": (
        "investigation_id", "uprn", "tenancy_id", "hazard_report_id", "trigger_source", "investigation_type",
        "investigation_scheduled_date", "investigation_completed_date", "inspector_name", "hazard_confirmed",
        "repair_required", "sla_breach_flag", "notification_sent_to_tenant", "investigation_notes",
    ),
    "investigation_hazard": (
        "investigation_hazard_id", "hazard_type", "investigation_id", "hazard_report_id", "severity", "notes",
    ),
    "notification": (
        "notification_id", "investigation_id", "tenancy_id", "work_order_id", "notification_type", "escalation_id",
        "date_sent", "notification_method", "content_summary",
    ),
    "escalation": (
        "escalation_id", "investigation_id", "escalation_reason", "escalation_stage", "escalation_type",
        "escalated_to", "escalation_start_date", "escalation_end_date", "action_taken", "compensation_amount",
        "alternative_accommodation_details", "tenant_acceptance", "escalation_notes",
    ),
    "work_order": (
        "work_order_id", "address_id", "inspection_id", "escalation_id", "tenancy_id", "hazard_report_id",
        "date_raised", "date_reported", "planned_start_date", "planned_finish_date", "actual_start_date_time",
        "actual_completion_date_time", "description_of_work", "contractor_organisation", "job_status_update",
        "repair_sla_breach_flag",
    ),
}
"""Each entity's fields, in the order the DDL lists them (the columns we can fill)."""

WORK_ORDER_UPDATE_FIELDS: Final = ("work_order_id", "hazard_report_id", "job_status_update", "planned_start_date",
                                   "planned_finish_date", "actual_start_date_time", "actual_completion_date_time",
                                   "description_of_work", "contractor_organisation")
"""What an update from a housing management system may carry (``work_order_id`` is required)."""


class AwaabModelError(DampWatchError):
    """An import row or file is not in the data model's shape (the message says which row and how to fix it)."""


def _date(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    return london_date(value).isoformat() if isinstance(value, dt.datetime) else value.isoformat()


def _instant(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def report_id(case: Case) -> str:
    return f"DW-C{case.id}"


def _tenancy_id(case: Case, tenants: Mapping[str, list[Tenant]]) -> str:
    # The model keys a tenancy; we hold tenants per home, so the home's tenancy is named by its UPRN.
    return f"DW-T{case.uprn}" if tenants.get(case.uprn) else ""


def _report_status(case: Case) -> str:
    if case.status == "closed":
        return "Closed"
    if case.made_safe_at is not None:
        return "Made Safe"
    if case.investigated_at is not None or case.inspections:
        return "Under Review"
    return "Open"


def _investigations(case: Case) -> list[tuple[str, Inspection | None]]:
    rows: list[tuple[str, Inspection | None]] = [
        (f"DW-I{i.id}", i) for i in case.inspections if i.status != "cancelled"]
    if case.investigated_at is not None and not any(i is not None and i.status == "completed" for _, i in rows):
        rows.append((f"DW-C{case.id}-I", None))
    return rows


def _investigation_type(case: Case, index: int, inspection: Inspection | None) -> str:
    if case.emergency:
        return "Emergency"
    reopened = [e.at for e in case.events if e.kind == "reopened"]
    when = inspection.created_at if inspection is not None else case.investigated_at
    if reopened and when is not None and when >= reopened[0] and index == _first_after(case, reopened[0]):
        return "Renewed"
    return "Further" if index > 0 else "Standard"


def _first_after(case: Case, moment: dt.datetime) -> int:
    for index, (_, inspection) in enumerate(_investigations(case)):
        when = inspection.created_at if inspection is not None else case.investigated_at
        if when is not None and when >= moment:
            return index
    return -1


@dataclass
class Export:
    """The data model's entities as lists of rows (dicts keyed by :data:`ENTITIES` fields)."""

    entities: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {name: [] for name in ENTITIES})

    def to_json(self) -> str:
        return json.dumps({"schema_version": SCHEMA_VERSION, "model": "MHCLG/HACT Awaab's Law data model",
                           **self.entities}, indent=2, ensure_ascii=False)

    def to_csv(self) -> dict[str, str]:
        """One CSV text per entity (file name ``<entity>.csv``); empty values for None, flags 0/1."""
        files = {}
        for name, columns in ENTITIES.items():
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
            writer.writeheader()
            for row in self.entities[name]:
                writer.writerow({c: _csv_cell(row.get(c)) for c in columns})
            files[f"{name}.csv"] = buffer.getvalue()
        return files


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # A cell a spreadsheet would run as a formula gets a leading apostrophe (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def case_loads() -> list[Any]:
    """Loader options that fetch what the export and the return read of each case in a few queries."""
    from sqlalchemy.orm import selectinload

    return [selectinload(Case.events), selectinload(Case.inspections).selectinload(Inspection.finding),
            selectinload(Case.hazards), selectinload(Case.work_orders), selectinload(Case.clock),
            selectinload(Case.room)]


def export_cases(session: Session, *, now: dt.datetime, since: dt.date | None = None,
                 until: dt.date | None = None) -> Export:
    """Every case aware in [since, until] (London dates; None: no bound) in the data model's entities."""
    cases = list(session.scalars(select(Case).order_by(Case.id).options(*case_loads())))
    cases = [c for c in cases if (since is None or london_date(c.aware_at) >= since)
             and (until is None or london_date(c.aware_at) <= until)]
    uprns = {c.uprn for c in cases}
    tenants: dict[str, list[Tenant]] = {}
    for tenant in session.scalars(select(Tenant).where(Tenant.uprn.in_(uprns))) if uprns else []:
        tenants.setdefault(tenant.uprn, []).append(tenant)
    messages: dict[int, list[OutboxMessage]] = {}
    case_ids = [c.id for c in cases]
    if case_ids:
        query = (select(OutboxMessage).where(OutboxMessage.case_id.in_(case_ids), OutboxMessage.status == "sent")
                 .order_by(OutboxMessage.id))
        for message in session.scalars(query):
            assert message.case_id is not None  # the query selects messages of these cases only
            messages.setdefault(message.case_id, []).append(message)
    out = Export()
    for case in cases:
        export_case(out, case, tenants, messages.get(case.id, []), now)
    return out


def export_case(out: Export, case: Case, tenants: Mapping[str, list[Any]], messages: list[OutboxMessage],
                now: dt.datetime) -> None:
    """Add one case's rows to ``out`` (``tenants``: the homes' tenants by UPRN; ``messages``: its sent ones)."""
    clocks = {c.key: c for c in step_clocks(case, now)}
    tenancy = _tenancy_id(case, tenants)
    hr = report_id(case)
    findings = [i.finding for i in case.inspections if i.finding is not None]
    further = any(f.follow_up_needed for f in findings) or (
        case.investigated_at is not None and not case.emergency and case.preventative_started_at is None)
    out.entities["hazard_report"].append({
        "hazard_report_id": hr, "uprn": case.uprn, "tenancy_id": tenancy, "date_reported": _date(case.aware_at),
        "reported_by": SOURCE_TRIGGER.get(case.source, "Staff Report"), "description": (case.summary or "")[:500],
        "photo_evidence": None, "location_details": case.room.name[:500] if case.room is not None else None,
        "emergency_action_taken": int(bool(case.emergency and case.made_safe_at is not None)),
        "made_safe_date": _date(case.made_safe_at), "further_work_required": int(bool(further)),
        "further_work_due_date": _date(clocks["preventative"].due) if further else None,
        "report_status": _report_status(case),
    })
    investigations = _investigations(case)
    investigate = clocks["investigate"]
    for index, (inv_id, inspection) in enumerate(investigations):
        finding = inspection.finding if inspection is not None else None
        completed = (inspection.completed_at if inspection is not None else case.investigated_at)
        out.entities["investigation"].append({
            "investigation_id": inv_id, "uprn": case.uprn, "tenancy_id": tenancy, "hazard_report_id": hr,
            "trigger_source": SOURCE_TRIGGER.get(case.source, "Staff Report"),
            "investigation_type": _investigation_type(case, index, inspection),
            "investigation_scheduled_date": _date(inspection.scheduled_for) if inspection is not None else None,
            "investigation_completed_date": _date(completed),
            "inspector_name": finding.recorded_by if finding is not None else None,
            "hazard_confirmed": int(bool(finding.mould_found)) if finding is not None else int(
                case.investigated_at is not None and inspection is None),
            "repair_required": int(bool(finding.follow_up_needed)) if finding is not None else 0,
            "sla_breach_flag": int(index == 0 and investigate.state in ("done late", "overdue")),
            "notification_sent_to_tenant": int(case.summary_sent_at is not None),
            "investigation_notes": ((finding.actions_taken if finding is not None else "") or "")[:500] or None,
        })
    last_investigation = investigations[-1][0] if investigations else None
    hazards = active_hazards(case)
    if last_investigation is not None:
        for row in hazards or []:
            out.entities["investigation_hazard"].append({
                "investigation_hazard_id": f"DW-H{row.id}-{last_investigation}",
                "hazard_type": hazard(row.hazard).name, "investigation_id": last_investigation,
                "hazard_report_id": hr, "severity": SEVERITY_NAMES[row.severity], "notes": (row.notes or "")[:500] or None,
            })
    for message in messages:
        method = CHANNEL_METHOD.get(message.channel)
        if method is None:
            continue
        out.entities["notification"].append({
            "notification_id": f"DW-N{message.id}", "investigation_id": last_investigation, "tenancy_id": tenancy,
            "work_order_id": None, "notification_type": MESSAGE_NOTIFICATION_TYPE.get(message.message_type, "Advice"),
            "escalation_id": None, "date_sent": _date(message.sent_at or message.created_at),
            "notification_method": method, "content_summary": (message.subject or message.message_type)[:500],
        })
    for event in case.events:
        if event.kind != "escalation":
            continue
        detail = event.detail or {}
        kind = ESCALATION_TYPES.get(detail.get("escalation_type", ""), "Senior Review")
        accepted = detail.get("tenant_accepted")
        out.entities["escalation"].append({
            "escalation_id": f"DW-E{event.id}", "investigation_id": last_investigation,
            "escalation_reason": (detail.get("reason") or "")[:100], "escalation_stage": "Open" if case.status ==
            "open" else "Resolved", "escalation_type": kind, "escalated_to": (detail.get("escalated_to") or "Landlord")[:100],
            "escalation_start_date": _date(event.at), "escalation_end_date": _date(case.closed_at),
            "action_taken": (detail.get("details") or "")[:500] or None, "compensation_amount": detail.get("compensation_amount"),
            "alternative_accommodation_details": (detail.get("details") or "")[:500] or None
            if kind == "Alternative Accommodation" else None, "tenant_acceptance": int(bool(accepted)),
            "escalation_notes": (event.text or "")[:500] or None,
        })
    for order in case.work_orders:
        breach = None
        if order.status != "cancelled":
            due = clocks["make_safe"].due if case.emergency else clocks["preventative"].due
            started = order.actual_start_at
            if due is not None:
                breach = "Y" if (started or now) > due else "N"
        out.entities["work_order"].append({
            "work_order_id": order.reference, "address_id": case.uprn, "inspection_id": last_investigation,
            "escalation_id": None, "tenancy_id": tenancy, "hazard_report_id": hr,
            "date_raised": _date(order.raised_at), "date_reported": _date(case.aware_at),
            "planned_start_date": _date(order.planned_start), "planned_finish_date": _date(order.planned_finish),
            "actual_start_date_time": _instant(order.actual_start_at),
            "actual_completion_date_time": _instant(order.actual_completion_at),
            "description_of_work": order.description or None, "contractor_organisation": order.contractor or None,
            "job_status_update": order.status_text or order.status, "repair_sla_breach_flag": breach,
        })


# -- work orders in -------------------------------------------------------------------------------------------

#: Words a housing management system uses for a job's status, as our work-order status.
STATUS_WORDS: Final = (
    ("cancel", "cancelled"), ("no access", "no_access"), ("no_access", "no_access"), ("complete", "completed"),
    ("finished", "completed"), ("closed", "completed"), ("progress", "in_progress"), ("started", "in_progress"),
    ("schedul", "scheduled"), ("booked", "scheduled"), ("planned", "scheduled"), ("raised", "raised"),
    ("open", "raised"),
)


def status_from_text(text: str) -> str | None:
    """Our work-order status for a free-text job status ("Work Complete" → completed); None if not recognised."""
    lowered = text.strip().lower()
    if lowered in WORK_ORDER_STATUSES:
        return lowered
    for word, status in STATUS_WORDS:
        if word in lowered:
            return status
    return None


def _parse_date(value: Any, name: str, where: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise AwaabModelError(f"{where}: {name} {value!r} is not a date; write YYYY-MM-DD") from None


def _parse_instant(value: Any, name: str, where: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise AwaabModelError(f"{where}: {name} {value!r} is not a date-time; write ISO 8601 with a zone, "
                              "for example 2026-03-02T10:00:00Z") from None
    if parsed.tzinfo is None:
        raise AwaabModelError(f"{where}: {name} {value!r} has no time zone; add Z for UTC")
    if parsed > utcnow() + dt.timedelta(minutes=5):
        raise AwaabModelError(f"{where}: {name} {value!r} is in the future")
    return parsed.astimezone(dt.UTC)


@dataclass
class ImportReport:
    """What an import did: work orders created and updated, steps recorded, rows refused (with why)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    steps_recorded: int = 0
    errors: list[str] = field(default_factory=list)


def read_work_order_rows(text: str, *, fmt: str) -> list[dict[str, Any]]:
    """Rows of a work-order update file: ``json`` (a list, or an object with ``work_order``) or ``csv``."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AwaabModelError(f"the file is not JSON: {exc}") from exc
        rows = data.get("work_order") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise AwaabModelError("give a JSON list of work_order objects, or an object with a 'work_order' list")
        return rows
    if fmt == "csv":
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            if reader.fieldnames is None or "work_order_id" not in reader.fieldnames:
                raise AwaabModelError("the CSV needs a header row with work_order_id (and the fields to update)")
            return [dict(r) for r in reader]
        except csv.Error as exc:
            raise AwaabModelError(f"the file is not a CSV we can read ({exc}); save it as CSV (UTF-8) "
                                  "with a header row") from exc
    raise AwaabModelError(f"format {fmt!r} is not csv or json")


def import_work_orders(session: Session, rows: Iterable[Mapping[str, Any]], actor: str) -> ImportReport:
    """Apply work-order status updates from a housing management system, each row on its own.

    A row names a work order by ``work_order_id``; one we do not know yet is created when its
    ``hazard_report_id`` names one of our cases (``DW-C<id>``). Status words are read with
    :func:`status_from_text`. A completed work order on an open, investigated case without works completed
    records that step at the actual completion time. A bad row is reported and skipped; the rest still apply.
    """
    report = ImportReport()
    for number, raw in enumerate(rows, start=1):
        where = f"row {number}"
        try:
            with session.begin_nested():
                outcome = _apply_row(session, raw, where, actor)
        except (AwaabModelError, CaseError) as exc:
            report.errors.append(str(exc) if str(exc).startswith("row ") else f"{where}: {exc}")
            continue
        if outcome == "created":
            report.created += 1
        elif outcome == "unchanged":
            report.unchanged += 1
        else:
            report.updated += 1
        if outcome.endswith("+step"):
            report.steps_recorded += 1
    audit.record(session, actor, "awaab.work_orders_imported", None, None, created=report.created,
                 updated=report.updated, errors=len(report.errors))
    return report


def _apply_row(session: Session, raw: Mapping[str, Any], where: str, actor: str) -> str:
    unknown = set(raw) - set(ENTITIES["work_order"])
    if unknown:
        raise AwaabModelError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
                              f"a work_order has {', '.join(ENTITIES['work_order'])}")
    reference = str(raw.get("work_order_id") or "").strip()
    if not reference or len(reference) > 50:
        raise AwaabModelError(f"{where}: give a work_order_id of 1 to 50 characters")
    order = session.scalars(select(WorkOrder).where(WorkOrder.reference == reference)).first()
    outcome = "updated"
    if order is None:
        report = str(raw.get("hazard_report_id") or "").strip()
        digits = report[4:]
        case_id = int(digits) if report.startswith("DW-C") and digits.isascii() and digits.isdigit() \
            and len(digits) <= 10 else None
        case = session.get(Case, case_id) if case_id is not None else None
        if case is None:
            raise AwaabModelError(f"{where}: work order {reference!r} is new and hazard_report_id {report!r} is not "
                                  "one of our cases (DW-C<case id>, as exported)")
        order = WorkOrder(case=case, reference=reference, raised_at=utcnow(), status="raised", description="",
                          status_text="", contractor="")
        session.add(order)
        outcome = "created"
    before = (order.status, order.status_text, order.planned_start, order.planned_finish, order.actual_start_at,
              order.actual_completion_at, order.description, order.contractor)
    text = str(raw.get("job_status_update") or "").strip()
    if text:
        status = status_from_text(text)
        if status is None:
            raise AwaabModelError(f"{where}: job_status_update {text!r} is not a status we can read; use one of "
                                  f"{', '.join(WORK_ORDER_STATUSES)}")
        # Our own code word (as we export it when no system has named the status) is not a status text.
        order.status, order.status_text = status, ("" if text == status else text[:255])
    for name, attr in (("planned_start_date", "planned_start"), ("planned_finish_date", "planned_finish")):
        if raw.get(name) not in (None, ""):
            setattr(order, attr, _parse_date(raw.get(name), name, where))
    for name, attr in (("actual_start_date_time", "actual_start_at"),
                       ("actual_completion_date_time", "actual_completion_at")):
        if raw.get(name) not in (None, ""):
            setattr(order, attr, _parse_instant(raw.get(name), name, where))
    if raw.get("description_of_work"):
        order.description = str(raw["description_of_work"])[:5000]
    if raw.get("contractor_organisation"):
        order.contractor = str(raw["contractor_organisation"])[:100]
    if order.actual_completion_at is not None and order.status not in ("completed", "cancelled"):
        order.status = "completed"
    after = (order.status, order.status_text, order.planned_start, order.planned_finish, order.actual_start_at,
             order.actual_completion_at, order.description, order.contractor)
    if outcome != "created" and before == after:
        return "unchanged"
    order.updated_at = utcnow()
    session.flush()
    case = order.case
    add_case_event(session, case, "work_order_updated", actor, f"Work order {reference}: {order.status_text or order.status}",
                   work_order=reference, status=order.status)
    if (order.status == "completed" and order.actual_completion_at is not None and case.status == "open"
            and case.investigated_at is not None and case.works_completed_at is None
            and order.actual_completion_at >= case.investigated_at):
        record_step(session, case, "works_completed", order.actual_completion_at, actor, f"Work order {reference}")
        return outcome + "+step"
    return outcome
