"""The cases pages: opening a case, the clocks on the case page, recording steps, scheduling, the manager view."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.cases import find_open_case, open_case
from core.model import AuditEvent, Case, CaseEvent, Inspection, Property, PropertyRisk, Room, ScoringRun, Team
from core.scheduling import schedule_inspection
from core.workdays import LONDON, is_working_day, london_date, next_working_day
from dashboard.extensions import EXTENSION_KEY


def _db(app):
    return app.extensions[EXTENSION_KEY].database


def add_home(app, uprn: str = "1001", postcode: str = "LS6 1AB", score: float | None = None,
             band: str = "high", **flags) -> None:
    """A home with two rooms, and a risk record when ``score`` is given."""
    with _db(app).session() as session:
        home = Property(uprn=uprn, address=f"{uprn} Mill Lane", postcode=postcode, **flags)
        home.rooms = [Room(name="Bedroom 1", room_type="bedroom"), Room(name="Bathroom", room_type="bathroom")]
        session.add(home)
        session.flush()
        if score is not None:
            run = ScoringRun(mode="full", scored_until=dt.datetime.now(dt.UTC), model_name="physics",
                             model_version="1")
            session.add(run)
            session.flush()
            bathroom = next(r for r in home.rooms if r.name == "Bathroom")
            session.add(PropertyRisk(run_id=run.id, uprn=uprn, computed_at=run.scored_until, score=score, band=band,
                                     driver_room_id=bathroom.id, driver_room="Bathroom", data_coverage=1.0,
                                     outdoor_source="weather", reasons=[], what_would_help=[],
                                     model_name="physics", model_version="1"))


def add_case(app, uprn: str = "1001", aware_at: dt.datetime | None = None, **kwargs) -> int:
    with _db(app).session() as session:
        case = open_case(session, uprn=uprn, aware_at=aware_at or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                         source="tenant_report", actor="officer@example.org", **kwargs)
        return case.id


def working_day_after(day: dt.date, n: int = 1) -> dt.date:
    for _ in range(n):
        day = next_working_day(day)
    return day


def today() -> dt.date:
    return london_date(dt.datetime.now(dt.UTC))


def date_fields(prefix: str, day: dt.date) -> dict[str, list[str]]:
    return {prefix: [str(day.day), str(day.month), str(day.year)]}


def test_open_from_risk_opens_a_case_linked_to_the_risk(client_request, app):
    """One click from a risk row opens a case now, from the risk flag, linked to the latest risk record."""
    add_home(app, score=0.82)
    page = client_request.post("cases.open_from_risk", uprn="1001", _follow_redirects=True, _expected_status=200)
    assert "Case 1 opened" in page.select_one(".govuk-notification-banner").get_text()
    with _db(app).session() as session:
        case = session.scalars(select(Case)).one()
        risk = session.scalars(select(PropertyRisk)).one()
        assert (case.source, case.property_risk_id, case.room_id) == ("risk_flag", risk.id, risk.driver_room_id)
        assert dt.datetime.now(dt.UTC) - case.aware_at < dt.timedelta(minutes=1)
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.opened")).one()
        assert audit.actor == "officer@example.org" and audit.ip == "127.0.0.1"
    clock = page.select_one("#clocks tr[data-step=investigate]")
    assert clock["data-state"] in ("due", "due soon")
    assert "working day" in clock.get_text()
    # A second click goes to the open case rather than opening another.
    page = client_request.post("cases.open_from_risk", uprn="1001", _follow_redirects=True, _expected_status=200)
    assert "already has an open case (case 1)" in page.select_one(".govuk-notification-banner").get_text()
    with _db(app).session() as session:
        assert len(session.scalars(select(Case)).all()) == 1


def test_open_from_risk_of_an_unknown_home_is_404(client_request):
    """There is nothing to open a case on."""
    client_request.post("cases.open_from_risk", uprn="424242", _expected_status=404)


def test_new_case_form_errors(client_request, app):
    """An empty form gets the GOV.UK error summary and the "Error: " title."""
    page = client_request.post("cases.new", _data={"uprn": "", "when_date": ["", "", ""], "when_time": ""},
                               _expected_status=200)
    assert page.title.get_text(strip=True).startswith("Error: Open a case")
    summary = page.select_one(".govuk-error-summary").get_text(" ", strip=True)
    for message in ("Enter the UPRN of the home", "Enter the date you became aware",
                    "Enter the time you became aware", "Select yes if it is an emergency hazard"):
        assert message in summary


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"uprn": "12ab"}, "Enter a UPRN of 1 to 12 digits"),
        ({"uprn": "999"}, "There is no home with this UPRN"),
        ({"when_date": ["31", "2", "2026"]}, "The date you became aware must be a real date"),
        ({"when_date": ["", "2", "2026"]}, "The date you became aware must include a day"),
        ({"when_time": "25:00"}, "Enter the time in the 24-hour clock"),
        ({"when_date": ["1", "1", "2099"]}, "The date and time must be now or in the past"),
    ],
)
def test_new_case_form_refuses_bad_answers(client_request, app, data, message):
    """Each wrong answer gets its own GOV.UK message."""
    add_home(app)
    form = {"uprn": "1001", "when_date": ["2", "3", "2026"], "when_time": "09:30", "source": "tenant_report",
            "emergency": "no", "summary": "Black mould in the bedroom"}
    form.update(data)
    page = client_request.post("cases.new", _data=form, _expected_status=200)
    assert message in page.select_one(".govuk-error-summary").get_text(" ", strip=True)


def test_new_case_from_a_tenant_report(client_request, app):
    """The awareness time is read as London time; the case page shows the clocks from it."""
    add_home(app)
    page = client_request.post("cases.new", _data={
        "uprn": "1001", "when_date": ["15", "7", "2026"], "when_time": "17:45", "source": "tenant_report",
        "emergency": "yes", "summary": "Tenant says the child's bedroom wall is black"},
        _follow_redirects=True, _expected_status=200)
    with _db(app).session() as session:
        case = session.scalars(select(Case)).one()
        assert case.aware_at == dt.datetime(2026, 7, 15, 16, 45, tzinfo=dt.UTC)  # BST
        assert case.emergency and case.source == "tenant_report"
    assert "Emergency hazard" in page.get_text()
    assert page.select_one("#clocks tr[data-step=investigate]")["data-state"] == "overdue"
    assert "Overdue by" in page.select_one("#clocks tr[data-step=investigate]").get_text()
    assert page.select_one("#clocks tr[data-step=preventative]")["data-state"] == "no deadline"


def test_case_page_shows_overdue_in_words_and_the_timeline(client_request, app):
    """An overdue step says "Overdue" (not colour alone) with the working days; steps waiting say so."""
    add_home(app)
    case_id = add_case(app, aware_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    page = client_request.get("cases.case_page", case_id=case_id)
    row = page.select_one("#clocks tr[data-step=investigate]")
    assert row.select_one(".govuk-tag--red").get_text(strip=True) == "Overdue"
    assert "Overdue by" in row.get_text() and "working day" in row.get_text()
    assert "Starts when the investigation is recorded" in page.select_one("#clocks tr[data-step=summary]").get_text()
    assert [li["data-kind"] for li in page.select(".dampwatch-timeline li")] == ["opened"]
    # Only the investigation (and nothing that depends on it) can be recorded yet.
    assert [d["id"] for d in page.select("details[id^=record-]")] == ["record-investigate"]


def test_recording_steps_updates_the_clocks(client_request, app):
    """Recording the investigation completes its clock and opens the summary and make-safe clocks."""
    add_home(app)
    case_id = add_case(app, aware_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).astimezone(LONDON)
    data = {"investigate-when_date": [str(yesterday.day), str(yesterday.month), str(yesterday.year)],
            "investigate-when_time": "10:15", "investigate-note": "Visited; mould behind the wardrobe"}
    page = client_request.post("cases.record", case_id=case_id, key="investigate", _data=data,
                               _follow_redirects=True, _expected_status=200)
    assert page.select_one("#clocks tr[data-step=investigate]")["data-state"] == "done"
    assert page.select_one("#clocks tr[data-step=summary]")["data-state"] in ("due", "due soon", "overdue")
    assert "record-summary" in [d["id"] for d in page.select("details[id^=record-]")]
    timeline = page.select_one(".dampwatch-timeline").get_text(" ", strip=True)
    assert "Investigated" in timeline and "Visited; mould behind the wardrobe" in timeline
    with _db(app).session() as session:
        case = session.get(Case, case_id)
        expected = dt.datetime.combine(yesterday.date(), dt.time(10, 15), tzinfo=LONDON).astimezone(dt.UTC)
        assert case.investigated_at == expected
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "case.investigated")).one().ip


def test_recording_a_step_in_the_future_is_refused(client_request, app):
    """The error summary names the problem and the case page is shown again."""
    add_home(app)
    case_id = add_case(app)
    data = {"investigate-when_date": ["1", "1", "2099"], "investigate-when_time": "10:15"}
    page = client_request.post("cases.record", case_id=case_id, key="investigate", _data=data, _expected_status=400)
    assert page.title.get_text(strip=True).startswith("Error: Case")
    assert "must be now or in the past" in page.select_one(".govuk-error-summary").get_text()
    assert page.select_one("details#record-investigate").has_attr("open")


def test_notes_and_closing(client_request, app):
    """A note goes on the timeline; closing needs a reason and is audited."""
    add_home(app)
    case_id = add_case(app)
    client_request.post("cases.add_note", case_id=case_id, _data={"text": "Tenant prefers mornings"})
    page = client_request.post("cases.close", case_id=case_id, _data={"reason": ""}, _expected_status=400)
    assert "Enter why the case is being closed" in page.select_one(".govuk-error-summary").get_text()
    page = client_request.post("cases.close", case_id=case_id, _data={"reason": "Duplicate of another case"},
                               _follow_redirects=True, _expected_status=200)
    assert "(closed)" in page.select_one(".govuk-caption-l").get_text()
    kinds = [li["data-kind"] for li in page.select(".dampwatch-timeline li")]
    assert kinds == ["opened", "note", "closed"]
    with _db(app).session() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"case.note_added", "case.closed"} <= actions


def test_repair_members_read_the_case_but_cannot_change_it(client_request, app, staff):
    """A repair member whose team has an inspection there sees the case without forms; posting a step is forbidden."""
    add_home(app)
    case_id = add_case(app)
    client_request.login(staff.repair)
    client_request.get("cases.case_page", case_id=case_id, _expected_status=404)  # no job there yet
    with _db(app).session() as session:
        session.add(Inspection(case_id=case_id, uprn="1001", team_id=staff.team.id, scheduled_for=today(),
                               created_by="test"))
    page = client_request.get("cases.case_page", case_id=case_id)
    assert page.select("details[id^=record-]") == [] and page.select("main form") == []
    client_request.post("cases.record", case_id=case_id, key="investigate", _data={}, _expected_status=403)


def test_manager_view_lists_breached_and_due_soon(client_request, app, staff):
    """Managers see steps past their deadline and steps due within 2 working days; officers may not."""
    add_home(app, "1")
    add_home(app, "2")
    add_home(app, "3")
    now = dt.datetime.now(dt.UTC)
    breached = add_case(app, "1", aware_at=now - dt.timedelta(days=30))
    soon = add_case(app, "2", aware_at=now - dt.timedelta(hours=2), emergency=True)
    add_case(app, "3")
    client_request.get("cases.manager", _expected_status=403)
    client_request.login(staff.manager)
    page = client_request.get("cases.manager")
    assert [a.get_text(strip=True) for a in page.select("#breached a")] == [f"Case {breached}"]
    due = page.select("#due-soon tbody tr")
    assert {row.select_one("a").get_text(strip=True) for row in due} == {f"Case {soon}"}
    assert {row.select("td")[2].get_text(strip=True) for row in due} == {"Investigate", "Make safe"}
    assert "hours left" in due[0].get_text()


def test_schedule_an_inspection_shows_capacity_and_refuses_full_days(client_request, app, staff):
    """Each team's free slots per working day; a full day or weekend is refused, a free one booked."""
    add_home(app)
    case_id = add_case(app)
    first = working_day_after(today())
    with _db(app).session() as session:
        team = session.get(Team, staff.team.id)
        for n in range(3):
            add_home_in(session, f"50{n}")
            other = open_case(session, uprn=f"50{n}", aware_at=dt.datetime.now(dt.UTC), source="officer", actor="x")
            schedule_inspection(session, other, team, first, "x")
    page = client_request.get("cases.schedule", case_id=case_id)
    cell = page.select_one(f"#capacity td[data-team='{staff.team.id}'][data-day='{first.isoformat()}']")
    assert cell.get_text(strip=True) == "Full"
    page = client_request.post("cases.schedule", case_id=case_id, _data={"team": str(staff.team.id),
                               **date_fields("date", first)}, _expected_status=400)
    assert "North team is fully booked" in page.select_one(".govuk-error-summary").get_text()
    saturday = today() + dt.timedelta(days=(5 - today().weekday()) % 7 or 7)
    page = client_request.post("cases.schedule", case_id=case_id, _data={"team": str(staff.team.id),
                               **date_fields("date", saturday)}, _expected_status=400)
    assert "is not a working day" in page.select_one(".govuk-error-summary").get_text()
    second = working_day_after(first)
    page = client_request.post("cases.schedule", case_id=case_id, _data={"team": str(staff.team.id),
                               **date_fields("date", second)}, _follow_redirects=True, _expected_status=200)
    assert "Inspection booked with North team" in page.select_one(".govuk-notification-banner").get_text()
    assert "inspection_scheduled" in [li["data-kind"] for li in page.select(".dampwatch-timeline li")]
    with _db(app).session() as session:
        inspection = session.scalars(select(Inspection).where(Inspection.case_id == case_id)).one()
        assert inspection.scheduled_for == second


def add_home_in(session, uprn: str) -> None:
    session.add(Property(uprn=uprn, address=f"{uprn} Mill Lane", postcode="LS6 1AB"))
    session.flush()


def test_proposed_schedule_change_a_date_drop_a_row_and_accept(client_request, app, staff):
    """The officer sees the proposal, moves one home, drops another and accepts; cases open where needed."""
    add_home(app, "1", score=0.9)
    add_home(app, "2", score=0.8, child_under_15=True)
    add_home(app, "3", score=0.6)
    page = client_request.get("cases.proposed_schedule", team=staff.team.id)
    rows = page.select("#proposals tbody tr")
    assert [row["data-uprn"] for row in rows] == ["2", "1", "3"]  # 0.8 x 1.5 = 1.2 first
    assert all("A case will be opened" in row.get_text() for row in rows)
    first = next_working_day(today()) if not is_working_day(today()) else today()
    later = working_day_after(first, 2)
    form = {"team": str(staff.team.id), "days": "10", "rows": "3"}
    for index, row in enumerate(rows):
        form[f"uprn-{index}"] = row["data-uprn"]
        risk = row.select_one(f"input[name=risk-{index}]")
        if risk is not None:
            form[f"risk-{index}"] = risk["value"]
        form[f"date-{index}"] = row.select_one(f"select[name=date-{index}] option[selected]")["value"]
    form["date-1"] = later.isoformat()
    form["date-2"] = "drop"
    page = client_request.post("cases.proposed_schedule", _data=form, _follow_redirects=True, _expected_status=200)
    assert "2 inspections booked for North team; 2 new cases opened." in page.get_text()
    with _db(app).session() as session:
        booked = {i.uprn: i.scheduled_for for i in session.scalars(select(Inspection))}
        assert booked == {"2": first, "1": later}
        assert find_open_case(session, "3") is None
        assert find_open_case(session, "1").source == "risk_flag"
    # The home that was dropped is proposed again.
    page = client_request.get("cases.proposed_schedule", team=staff.team.id)
    assert [row["data-uprn"] for row in page.select("#proposals tbody tr")] == ["3"]


def test_proposed_schedule_refuses_an_overbooked_day(client_request, app, staff):
    """Moving too many homes onto one day is refused with the team's capacity, and nothing is booked."""
    for n in range(4):
        add_home(app, str(n + 1), score=0.9 - n / 10)
    first = next_working_day(today()) if not is_working_day(today()) else today()
    form = {"team": str(staff.team.id), "days": "10", "rows": "4"}
    for index in range(4):
        form[f"uprn-{index}"] = str(index + 1)
        form[f"date-{index}"] = first.isoformat()
    page = client_request.post("cases.proposed_schedule", _data=form, _expected_status=400)
    assert "fully booked" in page.select_one(".govuk-error-summary").get_text()
    with _db(app).session() as session:
        assert session.scalars(select(Inspection)).all() == []
        assert session.scalars(select(Case)).all() == []
        assert session.scalars(select(CaseEvent)).all() == []
