"""The written summary to the tenant after an investigation (Awaab's Law), in English or Welsh, as text and PDF.

The Regulations require a written summary of the investigation's findings, of the work the landlord will
do and by when, within 3 working days of the investigation concluding. :func:`compose` builds it from the
case (hazards, the latest finding, work orders and the case's own deadlines); :func:`send_written_summary`
writes one to every tenant of the home through the outbox and records the step on the case.

Routing choice: the summary is a statutory notice, not an optional alert, so it goes even to a tenant who
has not opted into alerts: by email when they chose email and gave an address, otherwise by letter (an SMS
cannot hold it). The words live in ``alerts/templates/summary/<language>.toml``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.outbox import enqueue
from core.cases import active_hazards, case_profile, hazard_codes, record_step, step_clocks
from core.hazards import hazard
from core.model import Case, Property, Tenant
from core.model_alerts import OutboxMessage
from core.workdays import london_date

logger = logging.getLogger(__name__)

SUMMARY_TEMPLATES_DIR = Path(__file__).parent / "templates" / "summary"
DEFAULT_LANGUAGE = "en"


class SummaryError(Exception):
    """The summary cannot be written yet (the message says why)."""


@functools.lru_cache(maxsize=8)
def _words(language: str) -> dict[str, Any]:
    path = SUMMARY_TEMPLATES_DIR / f"{language}.toml"
    if not path.exists():
        path = SUMMARY_TEMPLATES_DIR / f"{DEFAULT_LANGUAGE}.toml"
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def languages() -> list[str]:
    """The languages a summary can be written in (a template file each)."""
    return sorted(p.stem for p in SUMMARY_TEMPLATES_DIR.glob("*.toml"))


def _date(value: dt.datetime | dt.date, words: dict[str, Any]) -> str:
    day = london_date(value) if isinstance(value, dt.datetime) else value
    calendar = words["calendar"]
    return Template(calendar["date"]).substitute(weekday=calendar["days"][day.weekday()], day=day.day,
                                                 month=calendar["months"][day.month - 1], year=day.year)


def hazard_name(code: str, language: str) -> str:
    """A hazard's name in ``language`` (the English HHSRS name when the language file has none)."""
    return _words(language).get("hazards", {}).get(code) or hazard(code).name


@dataclass(frozen=True)
class Summary:
    """A written summary ready to send or print."""

    language: str
    subject: str
    body: str


def compose(case: Case, *, name: str, link: str, language: str = DEFAULT_LANGUAGE,
            now: dt.datetime | None = None) -> Summary:
    """The written summary of ``case`` for a tenant called ``name`` (``link``: where to contact the landlord)."""
    if case.investigated_at is None:
        raise SummaryError("Record the investigation first: the summary reports what it found")
    words = _words(language)
    lines = words["lines"]
    fill = lambda key, **values: Template(lines[key]).substitute(**values)  # noqa: E731
    severity_words = words["severity"]
    hazard_lines = []
    for row in active_hazards(case):
        text = fill("hazard", hazard=hazard_name(row.hazard, language), severity=severity_words[row.severity])
        hazard_lines.append(text + (lines["emergency"] if row.emergency else ""))
    if not hazard_lines:
        hazard_lines = [fill("hazard", hazard=hazard_name(code, language), severity=severity_words["medium"])
                        for code in hazard_codes(case)]
    findings = [i.finding for i in sorted(case.inspections, key=lambda i: i.id) if i.finding is not None]
    found, actions = [], []
    if findings:
        latest = findings[-1]
        if latest.mould_found:
            found.append(fill("mould_found", where=f" ({latest.where_text})" if latest.where_text else ""))
        else:
            found.append(lines["no_mould"])
        if latest.actions_taken:
            found.append(fill("actions_taken", text=latest.actions_taken))
        if latest.follow_up_work:
            actions.append(fill("follow_up", text=latest.follow_up_work))
    for order in case.work_orders:
        if order.status in ("cancelled", "completed"):
            continue
        text = order.description or order.reference
        actions.append(fill("work_order", text=text, date=_date(order.planned_start, words)) if order.planned_start
                       else fill("work_order_undated", text=text))
    if not actions:
        actions.append(lines["no_actions"])
    clocks = {c.key: c for c in step_clocks(case, now or dt.datetime.now(dt.UTC))}
    deadlines = []
    if clocks["make_safe"].due is not None and case.made_safe_at is None:
        deadlines.append(fill("make_safe", date=_date(clocks["make_safe"].due, words)))
    prevent = clocks["preventative"]
    if prevent.due is not None and case.preventative_started_at is None:
        deadlines.append(fill("preventative", date=_date(prevent.due, words)))
        if prevent.long_stop is not None and prevent.long_stop != prevent.due:
            deadlines.append(fill("preventative_backstop", date=_date(prevent.long_stop, words)))
    if not deadlines:
        deadlines.append(lines["no_deadlines"])
    letter = words["letter"]
    home = case.property
    body = Template(letter["body"]).substitute(
        name=name, investigated_date=_date(case.investigated_at, words), address=f"{home.address}, {home.postcode}",
        case_id=case.id, hazards="\n".join(hazard_lines), found="\n".join(found or [lines["no_mould"]]),
        actions="\n".join(actions), deadlines="\n".join(deadlines), link=link,
    )
    return Summary(language if (SUMMARY_TEMPLATES_DIR / f"{language}.toml").exists() else DEFAULT_LANGUAGE,
                   letter["subject"], body)


def summary_pdf(summary: Summary, *, landlord: str = "DampWatch") -> bytes:
    """The summary as an A4 letter (PDF)."""
    import io
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                            title=summary.subject, author=landlord, lang=summary.language)
    story: list[Any] = [Paragraph(escape(landlord), styles["Heading3"]), Spacer(1, 6 * mm),
                        Paragraph(escape(summary.subject), styles["Heading2"])]
    for paragraph in summary.body.split("\n\n"):
        story.append(Paragraph(escape(paragraph).replace("\n", "<br/>"), styles["BodyText"]))
        story.append(Spacer(1, 3 * mm))
    doc.build(story)
    return buffer.getvalue()


def _route(tenant: Tenant, home: Property) -> tuple[str, str]:
    if tenant.preferred_channel == "email" and tenant.email and tenant.consent:
        return "email", tenant.email
    return "letter", f"{tenant.name}\n{home.address}\n{home.postcode}"


def send_written_summary(session: Session, case: Case, *, actor: str, link: str, now: dt.datetime,
                         user_id: int | None = None, ip: str | None = None) -> list[OutboxMessage]:
    """Write the summary to every tenant of the home (each in their language) and record the step.

    Raises :class:`SummaryError` when the investigation is not recorded, the summary step is already done or
    the home has no tenant on record (then print the PDF and record the step by hand).
    """
    if case.summary_sent_at is not None:
        raise SummaryError("The written summary has already been recorded for this case")
    if case.investigated_at is None:
        raise SummaryError("Record the investigation first: the summary reports what it found")
    tenants = list(session.scalars(select(Tenant).where(Tenant.uprn == case.uprn).order_by(Tenant.id)))
    if not tenants:
        raise SummaryError("No tenant is on record for this home: print the summary and record it as sent")
    messages = []
    for tenant in tenants:
        summary = compose(case, name=tenant.name, link=link, language=tenant.language or DEFAULT_LANGUAGE, now=now)
        channel, recipient = _route(tenant, case.property)
        message, _new = enqueue(session, channel=channel, recipient=recipient, message_type="written_summary",
                                body=summary.body, subject=summary.subject, language=summary.language,
                                dedup_key=f"tenant:{tenant.id}:written_summary|case:{case.id}", tenant_id=tenant.id,
                                uprn=case.uprn, case_id=case.id, now=now)
        messages.append(message)
    session.flush()
    record_step(session, case, "summary", now, actor,
                f"Written summary sent to {len(messages)} tenant(s) ({', '.join(sorted({m.channel for m in messages}))})",
                user_id=user_id, ip=ip)
    logger.info("written summary for case %d queued for %d tenant(s) under %s", case.id, len(messages),
                case_profile(case).name)
    return messages

