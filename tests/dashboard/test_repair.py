"""Repair teams' pages: the job list, the findings form and the calendar link."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.cases import open_case
from core.model import AuditEvent, Case, CaseEvent, Finding, Inspection, Property, Room, Team, User
from core.scheduling import schedule_inspection
from core.workdays import is_working_day, london_date, next_working_day
from dashboard.extensions import EXTENSION_KEY


def _db(app):
    return app.extensions[EXTENSION_KEY].database


def _working_day(offset: int) -> dt.date:
    """A working day ``offset`` working days from today (0: today if it is one)."""
    day = london_date(dt.datetime.now(dt.UTC))
    if not is_working_day(day):
        day = next_working_day(day)
    for _ in range(offset):
        day = next_working_day(day)
    return day


def book(app, team_id: int, uprn: str, day: dt.date, aware_days_ago: int = 1) -> int:
    """A home with rooms, an open case and an inspection on ``day``; returns the inspection id."""
    with _db(app).session() as session:
        home = Property(uprn=uprn, address=f"{uprn} Mill Lane", postcode="LS6 1AB")
        home.rooms = [Room(name="Bedroom 1", room_type="bedroom"), Room(name="Bathroom", room_type="bathroom")]
        session.add(home)
        session.flush()
        case = open_case(session, uprn=uprn, aware_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=aware_days_ago),
                         source="tenant_report", actor="officer@example.org")
        team = session.get(Team, team_id)
        if day < london_date(dt.datetime.now(dt.UTC)):
            inspection = Inspection(case=case, uprn=uprn, team=team, scheduled_for=day, created_by="x")
            session.add(inspection)
            session.flush()
        else:
            inspection = schedule_inspection(session, case, team, day, "officer@example.org")
        return inspection.id


@pytest.fixture
def other_team(app) -> int:
    with _db(app).session() as session:
        team = Team(name="South team", daily_capacity=2)
        session.add(team)
        session.flush()
        return team.id


def test_job_list_shows_the_teams_inspections_upcoming_first(client_request, app, staff, other_team):
    """Upcoming visits in date order; past visits without findings apart; other teams' jobs not at all."""
    later = book(app, staff.team.id, "2", _working_day(3))
    sooner = book(app, staff.team.id, "1", _working_day(1))
    missed = book(app, staff.team.id, "3", london_date(dt.datetime.now(dt.UTC)) - dt.timedelta(days=3),
                  aware_days_ago=5)
    book(app, other_team, "4", _working_day(1))
    client_request.login(staff.repair)
    page = client_request.get("repair.job_list")
    assert [int(r["data-inspection"]) for r in page.select("#upcoming tbody tr")] == [sooner, later]
    assert [int(r["data-inspection"]) for r in page.select("#not-recorded tbody tr")] == [missed]
    assert "4 Mill Lane" not in page.get_text()


def test_repair_member_without_a_team(client_request, app, staff):
    """Someone not yet in a team is told to ask an admin."""
    with _db(app).session() as session:
        session.get(User, staff.repair.id).team_id = None
    client_request.login(staff.repair)
    assert "not in a repair team yet" in client_request.get("repair.job_list").get_text()


def test_findings_of_another_teams_inspection_are_404(client_request, app, staff, other_team):
    """A member cannot see or record another team's job."""
    inspection_id = book(app, other_team, "4", _working_day(1))
    client_request.login(staff.repair)
    client_request.get("repair.findings", inspection_id=inspection_id, _expected_status=404)
    client_request.post("repair.findings", inspection_id=inspection_id, _data={"mould_found": "no"},
                        _expected_status=404)


@pytest.mark.parametrize(
    ("data", "messages"),
    [
        ({}, ["Select yes if you found mould or damp"]),
        ({"mould_found": "yes"}, ["Select how severe the mould or damp is", "Select the likely cause"]),
    ],
)
def test_findings_form_errors(client_request, app, staff, data, messages):
    """Missing answers get GOV.UK messages in an error summary, with the "Error: " title."""
    inspection_id = book(app, staff.team.id, "1", _working_day(0))
    client_request.login(staff.repair)
    page = client_request.post("repair.findings", inspection_id=inspection_id, _data=data, _expected_status=400)
    assert page.title.get_text(strip=True).startswith("Error: Record findings")
    summary = page.select_one(".govuk-error-summary").get_text(" ", strip=True)
    for message in messages:
        assert message in summary


def test_findings_complete_the_inspection_and_the_investigation(client_request, app, staff):
    """Saving findings completes the job, records the investigation and the timeline, and is audited."""
    inspection_id = book(app, staff.team.id, "1", _working_day(0))
    client_request.login(staff.repair)
    page = client_request.get("repair.findings", inspection_id=inspection_id)
    rooms = {box.find_next("label").get_text(strip=True): box["value"]
             for box in page.select("input[name=rooms]")}
    assert set(rooms) == {"Bathroom", "Bedroom 1"}
    page = client_request.post("repair.findings", inspection_id=inspection_id, _data={
        "mould_found": "yes", "severity": "moderate", "rooms": [rooms["Bathroom"]], "where_text": "Ceiling corner",
        "likely_cause": "ventilation", "actions_taken": "Cleaned and treated",
        "follow_up_work": "Fit an extractor fan"}, _follow_redirects=True, _expected_status=200)
    assert "Findings saved for 1 Mill Lane" in page.select_one(".govuk-notification-banner").get_text()
    with _db(app).session() as session:
        inspection = session.get(Inspection, inspection_id)
        finding = session.scalars(select(Finding)).one()
        case = session.get(Case, inspection.case_id)
        assert inspection.status == "completed" and inspection.completed_by_user_id == staff.repair.id
        assert (finding.mould_found, finding.severity, finding.likely_cause) == (True, "moderate", "ventilation")
        assert finding.room_ids == [int(rooms["Bathroom"])] and finding.follow_up_needed
        assert finding.recorded_by == "repair@example.org"
        assert case.investigated_at == inspection.completed_at
        kinds = {e.kind for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))}
        assert {"finding_recorded", "investigated"} <= kinds
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "inspection.finding_recorded")).one()
        assert audit.user_id == staff.repair.id and audit.ip == "127.0.0.1"
    # The job moves to "done"; opening it again shows the finding instead of the form.
    page = client_request.get("repair.job_list")
    assert [int(r["data-inspection"]) for r in page.select("#done tbody tr")] == [inspection_id]
    page = client_request.get("repair.findings", inspection_id=inspection_id)
    assert page.select("main form") == [] and "Ceiling corner" in page.get_text()


def test_no_mould_found_needs_no_severity(client_request, app, staff):
    """Answering no is enough; the finding is recorded as severity none."""
    inspection_id = book(app, staff.team.id, "1", _working_day(0))
    client_request.login(staff.repair)
    client_request.post("repair.findings", inspection_id=inspection_id, _data={"mould_found": "no"})
    with _db(app).session() as session:
        finding = session.scalars(select(Finding)).one()
        assert (finding.mould_found, finding.severity, finding.likely_cause) == (False, "none", "unknown")


def test_officers_cannot_use_the_findings_form(client_request, app, staff):
    """The findings form is for repair members only."""
    inspection_id = book(app, staff.team.id, "1", _working_day(0))
    client_request.get("repair.findings", inspection_id=inspection_id, _expected_status=403)
