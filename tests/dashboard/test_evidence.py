"""The evidence pack: a PDF of every step against its deadline with the data, and the same data as CSVs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import zipfile

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.cases import add_case_event, open_case, record_finding, record_step
from core.model import AuditEvent, Inspection, PropertyRisk, Room, Team


@pytest.fixture
def evidence_case(app, scored_estate, staff) -> int:
    """A case at a damp home of the scored estate: investigated late, a finding, a message, works done."""
    uprn = scored_estate.damp_uprns[0]
    aware = scored_estate.end - dt.timedelta(days=16)
    with scored_estate.database.session() as session:
        risk = session.scalars(select(PropertyRisk).where(PropertyRisk.uprn == uprn)).first()
        case = open_case(session, uprn=uprn, aware_at=aware, source="risk_flag", actor="officer@example.org",
                         property_risk_id=risk.id, summary="Flagged by the sensors")
        team = session.get(Team, staff.team.id)
        inspection = Inspection(case=case, uprn=uprn, team=team, scheduled_for=(aware + dt.timedelta(days=20)).date(),
                                created_by="officer@example.org")
        session.add(inspection)
        session.flush()
        room = session.scalars(select(Room).where(Room.uprn == uprn)).first()
        record_finding(session, inspection, {"mould_found": True, "severity": "moderate", "room_ids": [room.id],
                                             "likely_cause": "ventilation", "actions_taken": "Treated the wall",
                                             "follow_up_work": "Fit a fan"},
                       "repair@example.org", at=aware + dt.timedelta(days=20))
        record_step(session, case, "summary", aware + dt.timedelta(days=21), "officer@example.org")
        add_case_event(session, case, "message_to_tenant", "system", "We have booked a visit to look at the damp.",
                       at=aware + dt.timedelta(days=2), channel="sms")
        record_step(session, case, "works_completed", aware + dt.timedelta(days=30), "officer@example.org")
        return case.id


def test_evidence_pdf(client_request, evidence_case, scored_estate):
    """The PDF holds the case, each step against its deadline, findings, the message and who made it."""
    response = client_request.get_response("cases.evidence_pack", case_id=evidence_case)
    assert response.mimetype == "application/pdf"
    assert response.get_data()[:5] == b"%PDF-"
    assert f"case-{evidence_case}-evidence.pdf" in response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.get_data()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    assert "Damp and mould case: evidence pack" in flat
    assert f"UPRN {scored_estate.damp_uprns[0]}" in flat
    assert "Investigate" in flat and "Missed by" in flat  # investigated 20 days after awareness: late
    assert "Written summary to the tenant" in flat and "Met" in flat
    assert "We have booked a visit to look at the damp." in flat
    assert "Treated the wall" in flat
    assert "Officer Person (officer@example.org)" in flat
    assert "Risk over time" in flat and "Readings" in flat
    assert len(reader.pages) >= 4  # title, steps and timeline, risk, room charts
    with client_request.app.extensions["dampwatch"].database.session() as session:
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "case.evidence_downloaded")).one()


def _zip_csv(archive: zipfile.ZipFile, case_id: int, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(f"case-{case_id}/{name}").decode("utf-8"))))


def test_evidence_zip(client_request, evidence_case, scored_estate):
    """The ZIP has the same data as CSV files: steps, timeline, hourly readings, risk, findings, messages."""
    response = client_request.get_response("cases.evidence_zip", case_id=evidence_case)
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = sorted(name.split("/", 1)[1] for name in archive.namelist())
    assert names == ["README.txt", "findings.csv", "hazards.csv", "messages.csv", "readings.csv",
                     "reasonable_endeavours.csv", "risk.csv", "steps.csv", "timeline.csv"]
    steps = {row["step"]: row for row in _zip_csv(archive, evidence_case, "steps.csv")}
    assert steps["investigate"]["result"].startswith("Missed by") and int(steps["investigate"]["working_days_late"]) > 0
    assert steps["summary"]["result"] == "Met"
    assert steps["investigate"]["deadline_london"].endswith("23:59:59.999999+00:00")  # winter: London = UTC
    kinds = [row["kind"] for row in _zip_csv(archive, evidence_case, "timeline.csv")]
    assert {"opened", "investigated", "finding_recorded", "message_to_tenant", "works_completed"} <= set(kinds)
    readings = _zip_csv(archive, evidence_case, "readings.csv")
    rooms = {row["room"] for row in readings}
    assert len(rooms) >= 2
    first_room = [row for row in readings if row["room"] == sorted(rooms)[0]]
    hours = [dt.datetime.fromisoformat(row["hour_utc"]) for row in first_room]
    assert all(b - a >= dt.timedelta(hours=1) for a, b in itertools.pairwise(hours))
    assert len(first_room) > 24 * 14  # three weeks of hourly readings, with a few gaps
    assert all(0 <= float(row["humidity_pct"]) <= 100 for row in first_room if row["humidity_pct"])
    risk = _zip_csv(archive, evidence_case, "risk.csv")
    assert len(risk) >= 1 and risk[0]["band"]
    [finding] = _zip_csv(archive, evidence_case, "findings.csv")
    assert (finding["mould_found"], finding["severity"], finding["likely_cause"]) == ("yes", "moderate", "ventilation")
    [message] = _zip_csv(archive, evidence_case, "messages.csv")
    assert (message["channel"], message["sent_by"]) == ("sms", "system")
    readme = archive.read(f"case-{evidence_case}/README.txt").decode("utf-8")
    assert f"case {evidence_case}" in readme and "Officer Person" in readme


def test_evidence_pack_without_readings_or_risk(client_request, app):
    """A home without sensors or scores still gets a pack that says so."""
    from core.model import Property
    from dashboard.extensions import EXTENSION_KEY

    database = app.extensions[EXTENSION_KEY].database
    with database.session() as session:
        session.add(Property(uprn="77", address="77 Mill Lane", postcode="LS6 1AB"))
        session.flush()
        case_id = open_case(session, uprn="77", aware_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
                            source="tenant_report", actor="officer@example.org", emergency=True).id
    response = client_request.get_response("cases.evidence_pack", case_id=case_id)
    flat = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.get_data())).pages).split())
    assert "The home has no risk score yet." in flat
    assert "no sensors" in flat or "could not be read" in flat or "No readings store" in flat
    assert "Emergency hazard Yes" in flat
    archive = zipfile.ZipFile(io.BytesIO(client_request.get_response("cases.evidence_zip", case_id=case_id).get_data()))
    assert _zip_csv(archive, case_id, "readings.csv") == []


def test_repair_members_cannot_download_evidence(client_request, app, staff):
    """The evidence pack is for officers and managers."""
    client_request.login(staff.repair)
    client_request.get_response("cases.evidence_pack", case_id=1, _expected_status=403)
