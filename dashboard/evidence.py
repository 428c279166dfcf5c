"""A case's evidence pack: everything the landlord did, against every Awaab's Law deadline, with the data.

Landlords must keep records of each step (the Regulations), and the Housing Ombudsman and the Regulator
judge them on those records. The pack brings together, for one case:

* a title page: the home, the case, when the landlord became aware, whether it is an emergency;
* every step against its deadline: met, or missed and by how many working days;
* the timeline (every ``CaseEvent``), inspections and their findings, the works and whether they worked;
* messages to the tenant (``CaseEvent`` of kind ``message_to_tenant``, written by the alerts box);
* the home's risk over time, and each room's readings over 90 days around the case, as charts;
* when and by whom it was generated (London time).

:func:`evidence_pdf` lays it out with reportlab; :func:`evidence_zip` gives the same data as CSV files
(``steps.csv``, ``timeline.csv``, ``readings.csv`` hourly, ``risk.csv``, ``findings.csv``, ``messages.csv``)
with a ``README.txt``. Times in the CSV files are UTC with a London-time column beside them.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import logging
import zipfile
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cases import (
    REASONABLE_ENDEAVOUR_CATEGORIES,
    StepClock,
    case_profile,
    event_label,
    fix_check,
    step_clocks,
)
from core.hazards import hazard
from core.model import Case, PropertyRisk, Room, ScoringRun
from core.workdays import LONDON, working_days_between
from dashboard.csv_cells import safe_row

logger = logging.getLogger(__name__)

READINGS_DAYS = 90
"""Days of readings in the pack (see :func:`readings_end`)."""
READINGS_BEFORE_AWARE_DAYS = 30
"""Days before the landlord became aware that the readings always cover."""
MAX_ROOM_CHARTS = 6



def london(value: dt.datetime | None) -> str:
    """"14 March 2026, 09:05" in London time; blank for None."""
    if value is None:
        return ""
    try:
        local = value.astimezone(LONDON)
    except OverflowError:  # the calendar's first or last hours: a typo saved before years were checked
        local = value.astimezone(dt.UTC)
    return f"{local.day} {local:%B %Y}, {local:%H:%M}"


def _iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value is not None else ""


def _iso_london(value: dt.datetime | None) -> str:
    return value.astimezone(LONDON).isoformat() if value is not None else ""


@dataclasses.dataclass(frozen=True)
class StepRow:
    """A step against its deadline, in words: "Met", "Missed by 2 working days", "Overdue by 1 working day"..."""

    key: str
    label: str
    deadline: dt.datetime | None
    done_at: dt.datetime | None
    result: str
    working_days_late: int | None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def step_result(clock: StepClock, now: dt.datetime) -> StepRow:
    """Whether a step met its deadline, and if not by how many working days (hours for emergency clocks)."""
    late = None
    if clock.state == "done":
        result = "Met" if clock.due is not None else "Done (no deadline)"
    elif clock.state == "done late":
        assert clock.due is not None and clock.done_at is not None  # "done late": done after its deadline
        late = working_days_between(clock.due, clock.done_at)
        if clock.hours_based:
            hours = int((clock.done_at - clock.due).total_seconds() // 3600)
            result = f"Missed by {_plural(hours, 'hour')}"
        else:
            result = f"Missed by {_plural(late, 'working day')}" if late else "Missed (later the same day)"
    elif clock.state == "overdue":
        assert clock.due is not None  # "overdue": its deadline has passed
        late = -(clock.working_days_left or 0)
        if clock.hours_based:
            hours = int((now - clock.due).total_seconds() // 3600)
            result = f"Not done: overdue by {_plural(hours, 'hour')}"
        else:
            result = f"Not done: overdue by {_plural(late, 'working day')}" if late else "Not done: overdue"
    elif clock.state in ("due", "due soon"):
        result = "Not done yet: " + ("due today" if clock.working_days_left == 0
                                     else f"{_plural(clock.working_days_left or 0, 'working day')} left")
    elif clock.state == "waiting":
        result = "Waiting for the investigation"
    else:
        result = "No deadline (emergency)"
    return StepRow(clock.key, clock.label, clock.due, clock.done_at, result, late)


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Everything in a case's evidence pack, collected once for the PDF and the ZIP."""

    case_id: int
    uprn: str
    address: str
    postcode: str
    aware_at: dt.datetime
    emergency: bool
    source: str
    status: str
    opened_at: dt.datetime
    opened_by: str
    summary: str
    closed_at: dt.datetime | None
    closed_reason: str | None
    preventative_started_at: dt.datetime | None
    works_completed_at: dt.datetime | None
    steps: list[StepRow]
    timeline: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    risk: list[dict[str, Any]]
    readings: list[dict[str, Any]]  # hourly, one row per room and hour
    room_series: list[Any]  # dashboard.charts.RoomSeries, for the charts
    readings_note: str
    readings_until: dt.datetime | None
    fix_verdict: str
    fix_reason: str
    generated_at: dt.datetime
    generated_by: str
    hazards: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # HHSRS hazards on the case
    endeavours: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # the reasonable endeavours log
    clock_rules: str = ""  # the clock profile and rules version that set the deadlines


def collect_evidence(session: Session, store: Any, case: Case, *, now: dt.datetime, generated_by: str) -> Evidence:
    """Gather a case's evidence from the app database and the readings store (``store`` may be None)."""
    home = case.property
    rooms = {room.id: room.name for room in session.scalars(select(Room).where(Room.uprn == case.uprn))}
    clocks = step_clocks(case, now)
    events = sorted(case.events, key=lambda e: (e.at, e.id))
    timeline: list[dict[str, Any]] = [{"at": e.at, "kind": e.kind, "what": event_label(e.kind), "actor": e.actor, "text": e.text or "",
                 "detail": e.detail or {}} for e in events]
    messages = [row for row in timeline if row["kind"] == "message_to_tenant"]
    findings = []
    for inspection in case.inspections:
        finding = inspection.finding
        findings.append({
            "inspection_id": inspection.id,
            "scheduled_for": inspection.scheduled_for,
            "team": inspection.team.name,
            "status": inspection.status,
            "recorded_at": finding.recorded_at if finding else None,
            "recorded_by": finding.recorded_by if finding else "",
            "mould_found": ("yes" if finding.mould_found else "no") if finding else "",
            "severity": finding.severity if finding else "",
            "rooms": "; ".join(rooms.get(int(r), f"room {r}") for r in finding.room_ids) if finding else "",
            "where": finding.where_text if finding else "",
            "likely_cause": finding.likely_cause if finding else "",
            "actions_taken": finding.actions_taken if finding else "",
            "follow_up_work": finding.follow_up_work if finding else "",
        })
    risk = [
        {"scored_until": until, "computed_at": row.computed_at, "score": row.score, "band": row.band,
         "driver_room": row.driver_room or "", "cause": row.cause or "", "model": f"{row.model_name} {row.model_version}"}
        for row, until in session.execute(
            select(PropertyRisk, ScoringRun.scored_until).join(ScoringRun, PropertyRisk.run_id == ScoringRun.id)
            .where(PropertyRisk.uprn == case.uprn).order_by(ScoringRun.scored_until, PropertyRisk.id))
    ]
    until = readings_end(case, now)
    series, readings, note = _readings(session, store, case.uprn, until)
    fix = fix_check(session, case, now)
    return Evidence(
        case_id=case.id, uprn=home.uprn, address=home.address, postcode=home.postcode, aware_at=case.aware_at,
        emergency=case.emergency, source=case.source, status=case.status, opened_at=case.opened_at,
        opened_by=case.opened_by, summary=case.summary or "", closed_at=case.closed_at,
        closed_reason=case.closed_reason, preventative_started_at=case.preventative_started_at,
        works_completed_at=case.works_completed_at, steps=[step_result(c, now) for c in clocks],
        timeline=timeline, findings=findings, messages=messages, risk=risk, readings=readings,
        room_series=series, readings_note=note, readings_until=until if series else None, fix_verdict=fix.verdict, fix_reason=fix.reason,
        generated_at=now, generated_by=generated_by,
        hazards=[{"hazard": hazard(h.hazard).name, "severity": h.severity, "emergency": h.emergency,
                  "added_at": h.added_at, "added_by": h.added_by, "notes": h.notes or "",
                  "removed_at": h.removed_at} for h in case.hazards],
        endeavours=[{"at": e["at"], "category": REASONABLE_ENDEAVOUR_CATEGORIES.get(
            e["detail"].get("category"), e["detail"].get("category") or ""), "step": e["detail"].get("step") or "",
            "actor": e["actor"], "text": e["text"], "evidence": "; ".join(e["detail"].get("evidence") or [])}
            for e in timeline if e["kind"] == "reasonable_endeavours"],
        clock_rules=f"{case_profile(case).label} ({case_profile(case).rules_version})",
    )


def readings_end(case: Case, now: dt.datetime) -> dt.datetime:
    """Where the pack's 90 days of readings end: the case's close (or now), but early enough to keep at least
    :data:`READINGS_BEFORE_AWARE_DAYS` days before the landlord became aware in the window."""
    end = min(now, case.closed_at) if case.closed_at else now
    latest = case.aware_at + dt.timedelta(days=READINGS_DAYS - READINGS_BEFORE_AWARE_DAYS)
    return min(end, latest)


def _readings(session: Session, store: Any, uprn: str, end: dt.datetime) -> tuple[list, list[dict], str]:
    if store is None:
        return [], [], "No readings store was available when this pack was made."
    from dashboard.charts import property_series

    try:
        series = property_series(session, store, uprn, days=READINGS_DAYS, now=end)
    except Exception as exc:  # the pack is still worth having without readings; say why they are missing
        logger.warning("readings for the evidence pack of UPRN %s could not be read: %s", uprn, exc)
        return [], [], f"The readings could not be read when this pack was made ({exc})."
    rows = []
    for room in series:
        hourly = room.hourly.dropna(how="all")
        for hour, values in zip(hourly.index, hourly.itertuples(index=False), strict=True):
            rows.append({"room": room.name, "hour": hour.to_pydatetime(), "temperature_c": values.temperature_c,
                         "humidity_pct": values.humidity_pct, "surface_rh_pct": values.surface_rh_pct})
    if not series:
        return [], [], "This home has no sensors, so there are no readings."
    note = f"Hourly readings of each room over the {READINGS_DAYS} days to {london(end)}."
    return series, rows, note


# -- charts ------------------------------------------------------------------------------------------------


def risk_chart_png(evidence: Evidence, *, dpi: int = 110) -> bytes | None:
    """A small chart of the home's risk score at each scoring run, with the case's key dates marked."""
    points = [(row["scored_until"], row["score"]) for row in evidence.risk if row["score"] is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.dates import date2num
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 2.6), dpi=dpi)
    ax = figure.subplots()
    x = [when.astimezone(LONDON).replace(tzinfo=None) for when, _ in points]
    ax.plot(x, [score for _, score in points], color="#1d70b8", marker="o", markersize=3, linewidth=1.2,
            label="Risk score (0 to 1)")
    marks = [(evidence.aware_at, "Became aware", "#d4351c", "--")]
    if evidence.works_completed_at:
        marks.append((evidence.works_completed_at, "Works completed", "#00703c", ":"))
    for when, label, colour, style in marks:
        # date2num is what the x axis's date units make of a datetime (Axes.axvline is typed for a float).
        ax.axvline(date2num(when.astimezone(LONDON).replace(tzinfo=None)), color=colour, linestyle=style, linewidth=1.2,
                   label=label)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("Risk score")
    ax.grid(True, color="#b1b4b6", linewidth=0.5, alpha=0.6)
    ax.legend(loc="upper left", fontsize=7, ncols=3)
    ax.tick_params(labelsize=7)
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


# -- the PDF -----------------------------------------------------------------------------------------------


def _p(text: Any, style) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def evidence_pdf(evidence: Evidence) -> bytes:
    """The evidence pack as a PDF (A4)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, PageBreak, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    body, small, h1, h2 = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10), \
        styles["Title"], styles["Heading2"]
    width = A4[0] - 36 * mm
    generated = f"Generated {london(evidence.generated_at)} (London time) by {evidence.generated_by}"

    def table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
        data = [[_p(h, small) for h in header]] + [[_p(cell, small) for cell in row] for row in rows]
        result = Table(data, colWidths=[w * width for w in widths], repeatRows=1)
        result.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f2f1")),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b1b4b6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]))
        return result

    story: list[Any] = [
        _p("Damp and mould case: evidence pack", h1),
        Spacer(1, 8 * mm),
        table(["", ""], [
            ["Case", str(evidence.case_id)],
            ["Home", f"{evidence.address}, {evidence.postcode}"],
            ["UPRN", evidence.uprn],
            ["Landlord became aware", london(evidence.aware_at)],
            ["Emergency hazard", "Yes" if evidence.emergency else "No"],
            ["How the landlord found out", evidence.source.replace("_", " ")],
            ["Case opened", f"{london(evidence.opened_at)} by {evidence.opened_by}"],
            ["Status", "Closed " + london(evidence.closed_at) + f": {evidence.closed_reason}"
             if evidence.status == "closed" else "Open"],
            ["Summary", evidence.summary or "None recorded"],
        ], [0.3, 0.7]),
        Spacer(1, 8 * mm),
        _p("Deadlines are those of the Hazards in Social Housing (Prescribed Requirements) (England) Regulations "
           "2025 (Awaab's Law), counted in working days: weekends and bank holidays in England and Wales are "
           "not counted, nor is the day the landlord became aware. An emergency hazard's investigation and "
           "safety work are due within 24 hours.", body),
        Spacer(1, 4 * mm),
        _p(generated, body),
        PageBreak(),
        _p("Hazards", h2),
        table(["Hazard (HHSRS)", "Severity", "Emergency", "Added", "Removed"],
              [[h["hazard"], h["severity"], "yes" if h["emergency"] else "no",
                f"{london(h['added_at'])} by {h['added_by']}", london(h["removed_at"]) or ""]
               for h in evidence.hazards] or [["Damp and mould growth", "", "", "", ""]],
              [0.3, 0.12, 0.12, 0.28, 0.18]),
        _p(f"Deadlines set by: {evidence.clock_rules or 'England social housing (SI 2025/1042)'}.", body),
        Spacer(1, 6 * mm),
        _p("Each step against its deadline", h2),
        table(["Step", "Deadline (London time)", "Done", "Result"],
              [[s.label, london(s.deadline) or "Not set", london(s.done_at) or "Not done", s.result]
               for s in evidence.steps], [0.28, 0.24, 0.2, 0.28]),
        Spacer(1, 6 * mm),
        _p("Timeline", h2),
        table(["When (London time)", "What", "Who", "Detail"],
              [[london(e["at"]), e["what"], e["actor"], e["text"]] for e in evidence.timeline],
              [0.2, 0.22, 0.22, 0.36]),
        Spacer(1, 6 * mm),
        _p("Reasonable endeavours", h2),
        table(["When (London time)", "What happened", "Step", "What was done", "Evidence"],
              [[london(e["at"]), e["category"], e["step"], f"{e['text']} ({e['actor']})", e["evidence"]]
               for e in evidence.endeavours] or [["", "None logged", "", "", ""]],
              [0.16, 0.18, 0.14, 0.32, 0.2]),
        Spacer(1, 6 * mm),
        _p("Inspections and findings", h2),
    ]
    if evidence.findings:
        story.append(table(
            ["Date", "Team", "Status", "Mould or damp", "Where", "Likely cause", "Actions and follow-up"],
            [[f["scheduled_for"].isoformat(), f["team"], f["status"].replace("_", " "),
              f"{f['mould_found'] or '-'} {('(' + f['severity'] + ')') if f['severity'] else ''}",
              "; ".join(part for part in (f["rooms"], f["where"]) if part),
              f["likely_cause"].replace("_", " "),
              "; ".join(part for part in (f["actions_taken"], f["follow_up_work"] and
                                          "Follow-up: " + f["follow_up_work"]) if part)]
             for f in evidence.findings],
            [0.11, 0.12, 0.1, 0.12, 0.17, 0.12, 0.26]))
    else:
        story.append(_p("No inspection has been booked.", body))
    story += [
        Spacer(1, 6 * mm),
        _p("Works", h2),
        _p(f"Preventative work begun: {london(evidence.preventative_started_at) or 'not recorded'}. "
           f"Works completed: {london(evidence.works_completed_at) or 'not recorded'}.", body),
        _p(f"Did the works fix it? {evidence.fix_verdict.capitalize()}. {evidence.fix_reason}.", body),
        Spacer(1, 6 * mm),
        _p("Messages to the tenant", h2),
    ]
    if evidence.messages:
        story.append(table(["When (London time)", "Sent by", "Channel", "Message"],
                           [[london(m["at"]), m["actor"], str(m["detail"].get("channel", "")), m["text"]]
                            for m in evidence.messages], [0.2, 0.2, 0.12, 0.48]))
    else:
        story.append(_p("No messages to the tenant are recorded on this case.", body))
    story += [PageBreak(), _p("Risk over time", h2)]
    chart = risk_chart_png(evidence)
    if chart is not None:
        story.append(Image(io.BytesIO(chart), width=width, height=width * 2.6 / 7.0))
        recent = evidence.risk[-12:]
        story.append(table(["Scored up to (London time)", "Score", "Band", "Worst room", "Cause"],
                           [[london(r["scored_until"]), "" if r["score"] is None else f"{r['score']:.2f}",
                             r["band"], r["driver_room"], r["cause"].replace("_", " ")] for r in recent],
                           [0.28, 0.12, 0.16, 0.2, 0.24]))
    else:
        story.append(_p("The home has no risk score yet.", body))
    story += [Spacer(1, 6 * mm), _p("Readings", h2), _p(evidence.readings_note, body)]
    if evidence.room_series:
        from dashboard.charts import alt_text, render_room_chart

        for series in evidence.room_series[:MAX_ROOM_CHARTS]:
            story.append(Image(io.BytesIO(render_room_chart(series, dpi=80)), width=width, height=width * 5.6 / 7.5))
            story.append(_p(alt_text(series).replace(" The table below gives the values for each day.", ""), small))
            story.append(Spacer(1, 4 * mm))

    def footer(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(18 * mm, 10 * mm, f"DampWatch case {evidence.case_id} evidence pack. {generated}. "
                                            f"Page {document.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                 bottomMargin=18 * mm, title=f"DampWatch case {evidence.case_id} evidence pack",
                                 author="DampWatch", subject=f"{evidence.address}, {evidence.postcode}")
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# -- the ZIP of CSV files ----------------------------------------------------------------------------------

README = """DampWatch evidence for case {case_id}: {address}, {postcode} (UPRN {uprn})

Generated {generated} (London time) by {generated_by}.
The landlord became aware on {aware} (London time). Emergency hazard: {emergency}.

Times are in UTC (columns ending _utc) with the same time in London beside them (_london).

steps.csv      Each Awaab's Law step: its deadline, when it was done, and whether the deadline was met
               (or by how many working days it was missed). Working days leave out weekends and bank
               holidays in England and Wales, and the day the landlord became aware.
timeline.csv   Every entry on the case's timeline: who did what, when.
readings.csv   Hourly readings of each room with a sensor over the {days} days to {readings_end}:
               temperature [degrees C], relative humidity [%] and the estimated humidity at the room's
               coldest wall [%] (mould can grow above 80 %).
risk.csv       The home's damp and mould risk at each scoring run: score 0 to 1, band, worst room, cause.
findings.csv   Every inspection and what it found.
messages.csv   Messages sent to the tenant about this case.
hazards.csv    The HHSRS hazards on the case, with severity and whether each is an emergency (removed ones too).
reasonable_endeavours.csv  What the landlord did when a step was held up (access refused, a contractor's
               delay, ...), with the evidence that backs it.
"""


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(safe_row(header))
    writer.writerows(safe_row(list(row)) for row in rows)
    return buffer.getvalue()


def _number(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "" if number != number else f"{number:.{digits}f}"


def evidence_zip(evidence: Evidence) -> bytes:
    """The evidence as CSV files in a ZIP, with a README."""
    files = {
        "steps.csv": _csv(
            ["step", "deadline_utc", "deadline_london", "done_utc", "done_london", "result", "working_days_late"],
            [[s.key, _iso(s.deadline), _iso_london(s.deadline), _iso(s.done_at), _iso_london(s.done_at), s.result,
              "" if s.working_days_late is None else s.working_days_late] for s in evidence.steps]),
        "timeline.csv": _csv(
            ["at_utc", "at_london", "kind", "what", "actor", "text"],
            [[_iso(e["at"]), _iso_london(e["at"]), e["kind"], e["what"], e["actor"], e["text"]]
             for e in evidence.timeline]),
        "readings.csv": _csv(
            ["room", "hour_utc", "hour_london", "temperature_c", "humidity_pct", "surface_rh_pct"],
            [[r["room"], _iso(r["hour"]), _iso_london(r["hour"]), _number(r["temperature_c"]),
              _number(r["humidity_pct"]), _number(r["surface_rh_pct"])] for r in evidence.readings]),
        "risk.csv": _csv(
            ["scored_until_utc", "scored_until_london", "score", "band", "driver_room", "cause", "model"],
            [[_iso(r["scored_until"]), _iso_london(r["scored_until"]), _number(r["score"], 3), r["band"],
              r["driver_room"], r["cause"], r["model"]] for r in evidence.risk]),
        "findings.csv": _csv(
            ["inspection_id", "scheduled_for", "team", "status", "recorded_utc", "recorded_by", "mould_found",
             "severity", "rooms", "where", "likely_cause", "actions_taken", "follow_up_work"],
            [[f["inspection_id"], f["scheduled_for"].isoformat(), f["team"], f["status"], _iso(f["recorded_at"]),
              f["recorded_by"], f["mould_found"], f["severity"], f["rooms"], f["where"], f["likely_cause"],
              f["actions_taken"], f["follow_up_work"]] for f in evidence.findings]),
        "hazards.csv": _csv(
            ["hazard", "severity", "emergency", "added_utc", "added_by", "removed_utc", "notes"],
            [[h["hazard"], h["severity"], "yes" if h["emergency"] else "no", _iso(h["added_at"]), h["added_by"],
              _iso(h["removed_at"]), h["notes"]] for h in evidence.hazards]),
        "reasonable_endeavours.csv": _csv(
            ["at_utc", "at_london", "what_happened", "step", "actor", "what_was_done", "evidence"],
            [[_iso(e["at"]), _iso_london(e["at"]), e["category"], e["step"], e["actor"], e["text"], e["evidence"]]
             for e in evidence.endeavours]),
        "messages.csv": _csv(
            ["at_utc", "at_london", "sent_by", "channel", "text"],
            [[_iso(m["at"]), _iso_london(m["at"]), m["actor"], m["detail"].get("channel", ""), m["text"]]
             for m in evidence.messages]),
    }
    files["README.txt"] = README.format(
        case_id=evidence.case_id, address=evidence.address, postcode=evidence.postcode, uprn=evidence.uprn,
        generated=london(evidence.generated_at), generated_by=evidence.generated_by, aware=london(evidence.aware_at),
        emergency="yes" if evidence.emergency else "no", days=READINGS_DAYS,
        readings_end=london(evidence.readings_until) if evidence.readings_until else "(no readings)")
    buffer = io.BytesIO()
    stamp = evidence.generated_at.astimezone(LONDON).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(f"case-{evidence.case_id}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
