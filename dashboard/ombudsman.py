"""The Housing Ombudsman bundle for one case: what the evidence pack holds, and what the Ombudsman asks beyond it.

The Ombudsman judges a landlord on what it knew and when, the standard it applied, what it did, and what it
told the household. ``bundle_files`` adds to the evidence pack (``dashboard.evidence``):

- ``known.csv``: every alarm about the home from the sensors (what was seen, when it was raised, acknowledged,
  resolved) and every risk score, oldest first: what was known and when;
- ``criteria.json``: the clock profile and rules version that set the deadlines, the hazards with severity,
  whether the case is statutory and why, and the alarm criteria (thresholds and durations) that applied;
- ``actions.csv``: every entry of the case's timeline with its detail (steps, reasonable endeavours with
  evidence, escalations, alternative accommodation, corrected findings with before and after, work orders);
- ``messages.csv``: every message to the tenant in full (body, channel, language, status, when sent);
- ``awaab-model.json``: the case in the MHCLG/HACT data model (``core.awaab_model``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.awaab_model import Export, export_case
from core.cases import active_hazards, case_profile, event_label, profile_rules, statutory_scope
from core.hazards import hazard
from core.model import Case, PropertyRisk, ScoringRun, Tenant
from core.model_alerts import Alarm, OutboxMessage
from dashboard.csv_cells import safe_row

THERMAL_CRITERIA = {
    "excess_cold": "share of occupied hours below 18 °C (WHO 2018) at least 0.5 on 3 days running; cleared under "
                   "0.25 on 2 days; high when a quarter of hours are below 16 °C (PHE 2014)",
    "excess_heat": "bedroom night hours (22:00-07:00) above 26 °C (CIBSE TM59 criterion b), other rooms occupied "
                   "hours above 28 °C, 3 or more on 3 days running; cleared under 1 on 2 days",
}


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(safe_row(row))
    return buffer.getvalue()


def _iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value is not None else ""


def bundle_files(session: Session, case: Case, *, now: dt.datetime) -> dict[str, str]:
    """The bundle's files beyond the evidence pack, as name -> text."""
    alarms = list(session.scalars(select(Alarm).where(Alarm.uprn == case.uprn).order_by(Alarm.raised_at, Alarm.id)))
    risks = session.execute(select(PropertyRisk, ScoringRun.scored_until).join(
        ScoringRun, PropertyRisk.run_id == ScoringRun.id).where(PropertyRisk.uprn == case.uprn)
        .order_by(ScoringRun.scored_until)).all()
    known_rows: list[list[Any]] = []
    for alarm in alarms:
        known_rows.append([_iso(alarm.raised_at), "alarm", alarm.rule, alarm.severity, alarm.message,
                           _iso(alarm.acknowledged_at), _iso(alarm.resolved_at), alarm.case_id or ""])
    for risk, until in risks:
        known_rows.append([_iso(until), "risk score", risk.band, "" if risk.score is None else f"{risk.score:.3f}",
                           "; ".join(str(r) for r in (risk.reasons or [])[:5]), "", "", ""])
    known_rows.sort(key=lambda r: r[0])
    rules = case_profile(case)
    in_scope, why = statutory_scope(case)
    criteria = {
        "case_id": case.id, "uprn": case.uprn, "aware_at": _iso(case.aware_at), "emergency": case.emergency,
        "clock_profile": rules.name, "rules_version": rules.rules_version, "rules": profile_rules(rules),
        "statutory": in_scope, "why": why,
        "hazards": [{"hazard": h.hazard, "name": hazard(h.hazard).name, "severity": h.severity,
                     "emergency": h.emergency, "added_at": _iso(h.added_at), "added_by": h.added_by}
                    for h in active_hazards(case)],
        "alarm_criteria": {a.rule: THERMAL_CRITERIA.get(a.rule, "see the alarm's message") for a in alarms},
        "generated_at": _iso(now),
    }
    actions = _csv(["at_utc", "kind", "what", "actor", "text", "detail_json"],
                   [[_iso(e.at), e.kind, event_label(e.kind), e.actor, e.text,
                     json.dumps({k: v for k, v in (e.detail or {}).items() if k != "body"}, ensure_ascii=False,
                                default=str)]
                    for e in sorted(case.events, key=lambda e: (e.at, e.id))])
    tenants = {t.id: t.name for t in session.scalars(select(Tenant).where(Tenant.uprn == case.uprn))}
    messages = session.scalars(select(OutboxMessage).where(
        (OutboxMessage.case_id == case.id) | ((OutboxMessage.uprn == case.uprn) & (OutboxMessage.created_at >= case.aware_at)))
        .order_by(OutboxMessage.created_at, OutboxMessage.id)).all()
    message_rows = [[_iso(m.created_at), _iso(m.sent_at), m.status, m.channel, m.language, m.message_type,
                     tenants.get(m.tenant_id, "") if m.tenant_id is not None else "", m.subject, m.body] for m in messages]
    export = Export()
    export_case(export, case, {case.uprn: list(tenants)}, [m for m in messages if m.status == "sent"], now)
    return {
        "known.csv": _csv(["at_utc", "what", "rule_or_band", "severity_or_score", "description", "acknowledged_utc",
                           "resolved_utc", "case_id"], known_rows),
        "criteria.json": json.dumps(criteria, indent=2, ensure_ascii=False),
        "actions.csv": actions,
        "messages.csv": _csv(["created_utc", "sent_utc", "status", "channel", "language", "type", "tenant", "subject",
                              "body"], message_rows),
        "awaab-model.json": export.to_json(),
    }
