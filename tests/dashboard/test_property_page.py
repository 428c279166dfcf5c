"""Tests for the property page (dashboard.views.main): the home, its risk and reasons, rooms, charts with
their tables, sensors, cases, and who may see it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from core.model import Case, DeviceHealth, Inspection, Installation, Property, PropertyRisk, Room, RoomRisk


@pytest.fixture
def estate(scored_estate, client_request, staff):
    """The scored estate, its sensors heard from (the first silent for a day, the second low on battery),
    seen at a frozen time just before the end of the scoring run's last hour."""
    with scored_estate.database.session() as session:
        device_ids = sorted(session.scalars(select(Installation.device_id)))
        for number, device_id in enumerate(device_ids):
            last_seen = scored_estate.end - dt.timedelta(minutes=10 if number else 24 * 60)
            session.add(DeviceHealth(device_id=device_id, last_seen=last_seen, battery_v=2.4 if number == 1 else 3.05))
    with time_machine.travel(scored_estate.end - dt.timedelta(minutes=30), tick=False):
        client_request.login(staff.officer)
        yield scored_estate


@pytest.fixture
def uprn(estate) -> str:
    """The first home: its bathroom sensor is the one that fell silent, its bedroom's battery is low."""
    return estate.uprns[0]


def _risk(estate, uprn: str) -> PropertyRisk:
    with estate.database.session() as session:
        return session.scalars(select(PropertyRisk).where(PropertyRisk.uprn == uprn)).one()


def test_shows_the_home_and_household(client_request, estate, uprn):
    """Address, UPRN, postcode and each vulnerability flag (yes, no or not known)."""
    with estate.database.session() as session:
        home = session.get(Property, uprn)
        home.child_under_15, home.over_65, home.respiratory_condition = True, False, None
        address, postcode = home.address, home.postcode
    page = client_request.get("main.property_page", uprn=uprn)
    assert page.select_one("h1").text.strip() == address
    assert page.select_one("title").text.strip() == f"{address} – DampWatch"
    assert f"UPRN {uprn}" in page.select_one(".govuk-caption-l").text
    summary = {" ".join(row.dt.text.split()): " ".join(row.dd.text.split())
               for row in page.select(".govuk-grid-column-one-third .govuk-summary-list__row")}
    assert summary["Postcode"] == postcode
    assert summary["Child under 15"] == "Yes"
    assert summary["Someone over 65"] == "No"
    assert summary["Breathing condition"] == "Not known"
    assert page.select_one(".govuk-back-link")["href"] == client_request.url("main.risk_list")


def test_shows_risk_reasons_and_what_would_help(client_request, estate):
    """The band in words, the score, and the reasons and advice exactly as scoring wrote them."""
    uprn = estate.damp_uprns[0]
    risk = _risk(estate, uprn)
    page = client_request.get("main.property_page", uprn=uprn)
    band = page.select_one("#risk-band")
    assert band.select_one("strong.dampwatch-band").text.strip().lower() == risk.band
    assert f"score {risk.score:.0f} out of 100" in band.text
    assert [li.text for li in page.select("#reasons li")] == risk.reasons
    assert [li.text for li in page.select("#what-would-help li")] == risk.what_would_help
    assert risk.driver_room in page.text


def test_each_room_has_its_latest_reading_and_risk(client_request, estate, uprn):
    """Every room with a sensor shows its newest temperature and humidity, when, and its risk."""
    with estate.database.session() as session:
        rooms = {room.id: room for room in session.scalars(select(Room).where(Room.uprn == uprn))}
        room_risks = {r.room_id: r for r in session.scalars(select(RoomRisk).where(RoomRisk.uprn == uprn))}
        devices = {i.room_id: i.device_id for i in session.scalars(
            select(Installation).where(Installation.room_id.in_(list(rooms))))}
    latest = estate.store.latest(list(devices.values()))
    page = client_request.get("main.property_page", uprn=uprn)
    rows = {int(row["data-room-id"]): row for row in page.select("#rooms tbody tr")}
    assert set(rows) == set(rooms)
    for room_id, device_id in devices.items():
        cells = [" ".join(td.text.split()) for td in rows[room_id].select("td")]
        reading = latest[device_id]
        assert cells[0] == f"{reading.temperature_c:.1f} °C"
        assert cells[1] == f"{reading.humidity_pct:.0f} %"
        assert cells[2].startswith(f"{reading.ts.day} January 2026 at")
        risk = room_risks[room_id]
        assert cells[3].lower() in (risk.band, "not enough data")
        assert cells[5] == (f"{risk.mould_index:.2f}" if risk.mould_index is not None else "–")
    for room_id in set(rooms) - set(devices):
        assert "No sensor" in rows[room_id].text


def test_charts_with_their_data_as_tables(client_request, estate, uprn):
    """Each room with a sensor has a chart image with alt text and, under it, a table of daily values."""
    with estate.database.session() as session:
        fitted = {room.id: room.name for room in session.scalars(
            select(Room).join(Installation, Installation.room_id == Room.id)
            .where(Room.uprn == uprn, Room.room_type != "outdoor"))}
    page = client_request.get("main.property_page", uprn=uprn)
    figures = page.select("figure.dampwatch-chart")
    assert {int(f["id"].removeprefix("chart-")) for f in figures} == set(fitted)
    for figure in figures:
        room_id = int(figure["id"].removeprefix("chart-"))
        image = figure.select_one("img")
        assert image["src"] == client_request.url("main.property_chart", uprn=uprn, room_id=room_id, days=30)
        assert image["alt"].startswith(f"Chart of the {fitted[room_id].lower()} from 27 December 2025 to 25 January")
        assert "above 80 %" in image["alt"]
        details = figure.select_one("details.govuk-details")
        assert "Show the data as a table" in details.summary.text
        table = details.select_one("table")
        assert "80 %" in table.caption.text
        headers = [" ".join(th.text.split()) for th in table.select("thead th")]
        assert headers == ["Date", "Temperature (°C)", "Humidity (%)", "Coldest wall humidity (%)",
                           "Hours coldest wall above 80 %", "Mould index (0 to 6)"]
        rows = table.select("tbody tr")
        assert len(rows) == 30  # 27 December to 25 January, the current day
        assert rows[0].th.text == "27 December 2025" and rows[0].td.text == "No readings"
        assert rows[-5].th.text == "21 January 2026" and len(rows[-5].select("td")) == 5


def test_period_links_switch_between_30_and_90_days(client_request, estate, uprn):
    """The page offers 30 and 90 days as links, marks the one shown, and tables follow it."""
    page = client_request.get("main.property_page", uprn=uprn)
    periods = page.select("#chart-periods li")
    assert periods[0].select_one('[aria-current="page"]').text == "Last 30 days"
    assert periods[1].a["href"] == client_request.url("main.property_page", uprn=uprn, days=90) + "#charts"
    page = client_request.get("main.property_page", uprn=uprn, days=90)
    assert page.select_one("#chart-periods [aria-current=page]").text == "Last 90 days"
    assert len(page.select("figure.dampwatch-chart")[0].select("tbody tr")) == 90
    assert "days=90" in page.select_one("figure.dampwatch-chart img")["src"]
    assert client_request.get("main.property_page", uprn=uprn, days=7).select_one(
        "#chart-periods [aria-current=page]").text == "Last 30 days"


def test_sensor_health(client_request, estate, uprn):
    """Each sensor with when it was last seen and its battery; silent and flat ones are flagged in words."""
    page = client_request.get("main.property_page", uprn=uprn)
    rows = {row.code.text: [" ".join(td.text.split()) for td in row.select("td")]
            for row in page.select("#devices tbody tr")}
    assert rows[f"sim-{uprn}-bathroom"][2] == "25 January 2026 at 12:00am"
    assert rows[f"sim-{uprn}-bathroom"][4] == "Offline"
    assert rows[f"sim-{uprn}-bedroom_1"][3] == "2.40 V"
    assert rows[f"sim-{uprn}-bedroom_1"][4] == "Low battery"
    assert rows[f"sim-{uprn}-kitchen"][4] == "Working"


def test_case_history_and_open_case_button(client_request, estate, uprn):
    """Cases are listed newest first with links; the one-click button shows only while no case is open."""
    page = client_request.get("main.property_page", uprn=uprn)
    assert "There have been no damp and mould cases at this home." in page.text
    button = page.select_one("form#open-case")
    if "cases.open_from_risk" in client_request.app.view_functions:
        assert button["action"] == client_request.url("cases.open_from_risk", uprn=uprn)
        assert button.select_one('input[name="csrf_token"]')["value"]
    else:
        assert button is None
    with estate.database.session() as session:
        old = Case(uprn=uprn, source="tenant_report", status="closed", aware_at=estate.end - dt.timedelta(days=40),
                   opened_at=estate.end - dt.timedelta(days=40), closed_at=estate.end - dt.timedelta(days=20),
                   opened_by="officer@example.org")
        new = Case(uprn=uprn, source="risk_flag", aware_at=estate.end, opened_at=estate.end - dt.timedelta(hours=2),
                   opened_by="officer@example.org", emergency=True)
        session.add_all([old, new])
        session.flush()
        old_id, new_id = old.id, new.id
    page = client_request.get("main.property_page", uprn=uprn)
    rows = page.select("#cases tbody tr")
    assert [" ".join(row.td.text.split()) for row in rows] == [f"Case {new_id} Emergency", f"Case {old_id}"]
    assert "Open" in rows[0].text and "Risk flag" in rows[0].text
    assert "Closed" in rows[1].text and "Tenant report" in rows[1].text and "6 January 2026" in rows[1].text
    if "cases.case_page" in client_request.app.view_functions:
        assert rows[0].a["href"] == client_request.url("cases.case_page", case_id=new_id)
    assert page.select_one("form#open-case") is None


def test_page_needs_no_script_or_inline_style(client_request, estate, uprn):
    """The page is whole without JavaScript (charts are images with tables) and has no style attributes,
    which the content security policy would block."""
    response = client_request.get_response("main.property_page", uprn=uprn)
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    page = client_request.get("main.property_page", uprn=uprn)
    main = page.select_one("main")
    assert main.select("[style]") == [] and main.select("style") == [] and main.select("script") == []
    assert main.select("figure img") and main.select("figure details table")


def test_unknown_home_is_not_found(client_request, estate):
    """A UPRN not in the register gives the 404 page."""
    client_request.get("main.property_page", uprn="999999999999", _expected_status=404)


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_the_page(client_request, staff, estate, uprn, role):
    """Managers and admins see every property page."""
    client_request.login(staff.by_role(role))
    client_request.get("main.property_page", uprn=uprn)


def test_repair_members_see_only_homes_their_team_inspects(client_request, staff, estate, uprn):
    """A repair team member sees a home's page (and charts) once their team has an inspection there."""
    other = estate.uprns[1]
    client_request.login(staff.repair)
    client_request.get("main.property_page", uprn=uprn, _expected_status=403)
    with estate.database.session() as session:
        case = Case(uprn=uprn, source="officer", aware_at=estate.end, opened_by="officer@example.org")
        session.add(case)
        session.flush()
        session.add(Inspection(case_id=case.id, uprn=uprn, team_id=staff.team.id, scheduled_for=estate.end.date(),
                               created_by="officer@example.org"))
        room_id = session.scalars(select(Room.id).where(Room.uprn == uprn, Room.name == "Kitchen")).one()
    page = client_request.get("main.property_page", uprn=uprn)
    assert page.select_one(".govuk-back-link") is None  # they have no risk list to go back to
    assert page.select_one("form#open-case") is None
    client_request.get_response("main.property_chart", uprn=uprn, room_id=room_id)
    client_request.get("main.property_page", uprn=other, _expected_status=403)
