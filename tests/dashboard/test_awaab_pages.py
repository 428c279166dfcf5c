"""The Awaab's Law pages: emergency status with a reason, hazards, reasonable endeavours, escalation, the written
summary from the web, moving an inspection, correcting a finding, reopening, the return and the Ombudsman bundle."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

from sqlalchemy import select

from core.cases import open_case, record_finding, record_step
from core.model import Case, Inspection, Property, Room, Team, Tenant
from core.model_alerts import OutboxMessage
from core.workdays import london_date, next_working_day
from dashboard.extensions import EXTENSION_KEY


def _db(app):
    return app.extensions[EXTENSION_KEY].database


def _case(app, *, investigated: bool = False) -> int:
    now = dt.datetime.now(dt.UTC)
    with _db(app).session() as session:
        home = Property(uprn="7001", address="7 Ash Grove", postcode="LS6 1AB")
        home.rooms = [Room(name="Bedroom 1", room_type="bedroom")]
        home.tenants = [Tenant(name="Ceri Evans", language="cy", preferred_channel="email", email="ceri@example.org",
                               consent=True)]
        session.add(home)
        session.flush()
        case = open_case(session, uprn="7001", aware_at=now - dt.timedelta(days=2), source="alarm", actor="system",
                         hazards=[{"hazard": "excess_cold", "severity": "medium"}])
        if investigated:
            record_step(session, case, "investigate", now - dt.timedelta(days=1), "officer@example.org")
        return case.id


def _flash(page) -> str:
    return " | ".join(b.get_text(strip=True) for b in page.select(".govuk-notification-banner__heading"))


def test_the_case_page_shows_hazards_and_the_clock_profile(app, client_request):
    """The panel names the hazard, its severity and the rules that set the deadlines."""
    case_id = _case(app)
    page = client_request.get("cases.case_page", case_id=case_id)
    row = page.select_one("#hazards tr[data-hazard=excess_cold]")
    assert row is not None and "Excess cold" in row.get_text() and "Medium" in row.get_text()
    assert "SI 2025/1042" in page.select_one("#clock-profile").get_text()


def test_changing_the_emergency_status_needs_a_reason(app, client_request):
    """Without a reason: refused with an error, nothing changed; with one: on the emergency track."""
    case_id = _case(app)
    page = client_request.post("awaab.change_emergency", {"emergency": "yes", "reason": ""}, _expected_status=200,
                               _follow_redirects=True, case_id=case_id)
    assert "Enter why the emergency status is changing" in _flash(page)
    with _db(app).session() as session:
        assert session.get(Case, case_id).emergency is False
    page = client_request.post("awaab.change_emergency", {"emergency": "yes", "reason": "Baby in the cold room"},
                               _expected_status=200, _follow_redirects=True, case_id=case_id)
    assert "Emergency status changed" in _flash(page)
    with _db(app).session() as session:
        case = session.get(Case, case_id)
        assert case.emergency is True
        assert case.events[-1].detail["reason"] == "Baby in the cold room"


def test_hazards_endeavours_and_escalation_from_the_web(app, client_request):
    """Add a hazard, log access refused with evidence, offer alternative accommodation: all on the page."""
    case_id = _case(app)
    client_request.post("awaab.add_case_hazard", {"hazard": "damp_and_mould", "severity": "high", "emergency": "no"},
                        _expected_status=303, case_id=case_id)
    client_request.post("awaab.log_endeavour", {"category": "access_refused", "step": "investigate",
                                                "text": "No answer at 10:00, card left",
                                                "evidence": "card.jpg\ncall log"}, _expected_status=303,
                        case_id=case_id)
    client_request.post("awaab.escalate", {"escalation_type": "alternative_accommodation",
                                           "reason": "Heating cannot be fixed this week",
                                           "details": "Family room, Leeds", "tenant_accepted": "yes"},
                        _expected_status=303, case_id=case_id)
    page = client_request.get("cases.case_page", case_id=case_id)
    assert page.select_one("#hazards tr[data-hazard=damp_and_mould]") is not None
    assert "card.jpg; call log" in page.select_one("#awaab").get_text()
    assert "Family room, Leeds" in page.select_one("#awaab").get_text()
    client_request.post("awaab.remove_case_hazard", {"hazard": "damp_and_mould", "reason": "Not found"},
                        _expected_status=303, case_id=case_id)
    page = client_request.get("cases.case_page", case_id=case_id)
    assert page.select_one("#hazards tr[data-hazard=damp_and_mould]") is None


def test_the_written_summary_is_sent_from_the_web_in_the_tenants_language(app, client_request):
    """After the investigation: one button queues the Welsh summary and records the step; the PDF downloads."""
    case_id = _case(app, investigated=True)
    client_request.post("awaab.send_summary", {}, _expected_status=303, case_id=case_id)
    with _db(app).session() as session:
        assert session.get(Case, case_id).summary_sent_at is not None
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).one()
        assert message.language == "cy" and "Oerfel gormodol" in message.body
    response = client_request.get_response("awaab.summary_letter", case_id=case_id, language="cy")
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")


def test_moving_an_inspection_and_correcting_a_finding(app, client_request):
    """The officer moves a booked visit; then corrects the severity of a finding with a reason."""
    case_id = _case(app)
    today = london_date(dt.datetime.now(dt.UTC))
    first, second = next_working_day(today), next_working_day(next_working_day(today))
    with _db(app).session() as session:
        inspection = Inspection(case_id=case_id, uprn="7001", team=Team(name="East", daily_capacity=2),
                                scheduled_for=first, status="scheduled", created_by="test")
        session.add(inspection)
        session.flush()
        inspection_id = inspection.id
    client_request.post("awaab.move_visit", {"date": second.isoformat(), "reason": "Tenant asked"},
                        _expected_status=303, case_id=case_id, inspection_id=inspection_id)
    with _db(app).session() as session:
        inspection = session.get(Inspection, inspection_id)
        assert inspection.scheduled_for == second
        record_finding(session, inspection, {"mould_found": True, "severity": "minor", "likely_cause": "under_heating"},
                       "repair@example.org")
    client_request.post("awaab.correct_finding", {"mould_found": "yes", "severity": "severe", "actions_taken": "",
                                                  "follow_up_work": "New boiler", "reason": "Photos reviewed"},
                        _expected_status=303, case_id=case_id, inspection_id=inspection_id)
    with _db(app).session() as session:
        finding = session.get(Inspection, inspection_id).finding
        assert finding.severity == "severe" and finding.follow_up_work == "New boiler"
        edits = [e for e in session.get(Case, case_id).events if e.kind == "finding_edited"]
        assert edits[0].detail["changes"]["severity"] == {"before": "minor", "after": "severe"}


def test_reopening_from_the_web(app, client_request):
    """A closed case reopens with a reason."""
    case_id = _case(app)
    with _db(app).session() as session:
        from core.cases import close_case

        close_case(session, session.get(Case, case_id), actor="officer", reason="Done")
    client_request.post("awaab.reopen", {"reason": "Cold again"}, _expected_status=303, case_id=case_id)
    with _db(app).session() as session:
        assert session.get(Case, case_id).status == "open"


def test_the_return_page_and_csv(app, client_request, staff):
    """The manager sees the period's return; the CSV has the same figures; a bad date is a 400 with an error."""
    _case(app, investigated=True)
    client_request.login(staff.manager)
    today = london_date(dt.datetime.now(dt.UTC))
    start = (today - dt.timedelta(days=10)).isoformat()
    page = client_request.get("awaab.returns", **{"from": start, "to": today.isoformat()})
    assert "Excess cold" in page.select_one("#by-hazard").get_text()
    response = client_request.get_response("awaab.returns_csv", **{"from": start, "to": today.isoformat()})
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert ["cases by hazard", "Excess cold", "medium", "1"] in rows
    page = client_request.get("awaab.returns", _expected_status=400, **{"from": "yesterday"})
    assert page.select_one(".govuk-error-summary") is not None


def test_the_ombudsman_bundle(app, client_request):
    """The ZIP holds the evidence pack, what was known when, the criteria, actions, messages and the data model."""
    case_id = _case(app, investigated=True)
    response = client_request.get_response("awaab.ombudsman", case_id=case_id)
    names = set(zipfile.ZipFile(io.BytesIO(response.data)).namelist())
    expected = {f"case-{case_id}/{n}" for n in ("evidence-pack.pdf", "evidence-data.zip", "known.csv", "criteria.json",
                                                "actions.csv", "messages.csv", "awaab-model.json")}
    assert expected <= names
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    criteria = json.loads(archive.read(f"case-{case_id}/criteria.json"))
    assert criteria["clock_profile"] == "england_social" and criteria["hazards"][0]["hazard"] == "excess_cold"


def test_the_evidence_pack_has_hazards_and_the_reasonable_endeavours_log(app, client_request):
    """The ZIP's hazards.csv and reasonable_endeavours.csv carry the case's hazard and the logged evidence."""
    case_id = _case(app)
    client_request.post("awaab.log_endeavour", {"category": "contractor_delay", "step": "",
                                                "text": "Boiler part on back order", "evidence": "supplier email 12/1"},
                        _expected_status=303, case_id=case_id)
    response = client_request.get_response("cases.evidence_zip", case_id=case_id)
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    hazards = archive.read(f"case-{case_id}/hazards.csv").decode()
    endeavours = archive.read(f"case-{case_id}/reasonable_endeavours.csv").decode()
    assert "Excess cold,medium,no" in hazards
    assert "Contractor delay" in endeavours and "supplier email 12/1" in endeavours
    pdf = client_request.get_response("cases.evidence_pack", case_id=case_id)
    assert pdf.data.startswith(b"%PDF")


def test_the_new_case_form_takes_the_hazard(app, client_request):
    """An officer opens an excess heat case from a tenant's call: the case carries that hazard and severity."""
    with _db(app).session() as session:
        session.add(Property(uprn="7002", address="9 Ash Grove", postcode="LS6 1AB"))
    when = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    from core.workdays import LONDON

    local = when.astimezone(LONDON)
    client_request.post("cases.new", {"uprn": "7002", "when_date": [str(local.day), str(local.month), str(local.year)],
                                      "when_time": f"{local:%H:%M}", "source": "tenant_report", "emergency": "no",
                                      "hazard": "excess_heat", "hazard_severity": "high", "summary": "Too hot"},
                        _expected_status=302)
    with _db(app).session() as session:
        case = session.scalars(select(Case).where(Case.uprn == "7002")).one()
        assert [(h.hazard, h.severity) for h in case.hazards] == [("excess_heat", "high")]
