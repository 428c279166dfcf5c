"""Tests for the risk list (dashboard.views.main): filters, sorting, pages, the CSV download and access."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from sqlalchemy import select

from core.model import AuditEvent, Case, DeviceHealth, Installation, Property, PropertyRisk
from dashboard.queries import PER_PAGE


@pytest.fixture
def estate(scored_estate, client_request, staff):
    """The scored estate with its sensors heard from 10 minutes before the end (one silent for a day, one of
    another home with a low battery), at a frozen time just before the scoring run's last hour ended."""
    with scored_estate.database.session() as session:
        device_ids = sorted(session.scalars(select(Installation.device_id)))
        for number, device_id in enumerate(device_ids):
            last_seen = scored_estate.end - dt.timedelta(minutes=10 if number else 24 * 60)
            battery_v = 2.4 if number == len(device_ids) - 1 else 3.0  # a sensor of another home
            session.add(DeviceHealth(device_id=device_id, last_seen=last_seen, battery_v=battery_v))
    with time_machine.travel(scored_estate.end - dt.timedelta(minutes=30), tick=False):
        client_request.login(staff.officer)  # sessions signed in the future do not count
        yield scored_estate


def _latest(estate) -> dict[str, PropertyRisk]:
    with estate.database.session() as session:
        return {risk.uprn: risk for risk in session.scalars(select(PropertyRisk))}


def _rows(page) -> list:
    return page.select("#risk-list tbody tr")


def _uprns(page) -> list[str]:
    return [row["data-uprn"] for row in _rows(page)]


def test_every_home_is_listed_highest_score_first(client_request, estate):
    """Unfiltered, the list has every home, ordered by score, with its band as a tag in words."""
    risks = _latest(estate)
    page = client_request.get("main.risk_list")
    assert page.select_one("h1").text.strip() == "Homes at risk"
    expected = sorted(risks, key=lambda u: (-(risks[u].score if risks[u].score is not None else -1), u))
    assert _uprns(page) == expected
    labels = {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low",
              "insufficient data": "Not enough data"}
    for row in _rows(page):
        tag = row.select_one("strong.govuk-tag.dampwatch-band")
        band = risks[row["data-uprn"]].band
        assert tag.text.strip() == labels[band]  # the band in words, not by colour alone
        assert f"dampwatch-band--{band.replace(' ', '-')}" in tag["class"]
        assert row.select_one("a")["href"] == client_request.url("main.property_page", uprn=row["data-uprn"])
    assert "Showing 1 to 6 of 6 homes" in page.select_one("#result-count").text


def test_row_shows_driver_room_cause_household_and_data_health(client_request, estate):
    """A row names the driver room and likely cause, the household's vulnerability and the sensors' health."""
    risks = _latest(estate)
    uprn = max(risks, key=lambda u: risks[u].score or 0)
    with estate.database.session() as session:
        home = session.get(Property, uprn)
        home.child_under_15, home.over_65 = True, False
    row = client_request.get("main.risk_list").select_one(f'tr[data-uprn="{uprn}"]')
    cells = row.select("td")
    assert risks[uprn].driver_room in cells[4].text
    assert "Child under 15" in cells[5].text and "over 65" not in cells[5].text
    health = " ".join(cells[7].text.split())
    assert "Last reading 25 January 2026 at 11:50pm" in health


def test_offline_and_low_battery_sensors_are_flagged(client_request, estate):
    """A home with a silent sensor shows how many are offline; one with a flat battery says so."""
    page = client_request.get("main.risk_list")
    texts = [" ".join(row.select("td")[7].text.split()) for row in _rows(page)]
    assert sum("1 of" in text and "offline" in text for text in texts) == 1
    assert sum("1 low battery" in text for text in texts) == 1
    assert sum(text.startswith("All ") and "sensors reporting" in text for text in texts) == 4


@pytest.mark.parametrize("bands", [["critical", "high"], ["low"], ["medium"], ["insufficient data"]])
def test_filter_by_band(client_request, estate, bands):
    """Ticking bands shows only homes in them, and the boxes stay ticked."""
    risks = _latest(estate)
    page = client_request.get("main.risk_list", band=bands)
    assert set(_uprns(page)) == {u for u, r in risks.items() if r.band in bands}
    ticked = {box["value"] for box in page.select('input[name="band"][checked]')}
    assert ticked == set(bands)


def test_filter_vulnerable_households(client_request, estate):
    """"Only households with someone more at risk" leaves out homes with no flag set."""
    uprns = estate.uprns
    with estate.database.session() as session:
        for number, uprn in enumerate(uprns):
            home = session.get(Property, uprn)
            home.child_under_15 = home.over_65 = home.respiratory_condition = None
            if number in (1, 4):
                home.respiratory_condition = True
            if number == 2:
                home.over_65 = False
    page = client_request.get("main.risk_list", vulnerable="y")
    assert set(_uprns(page)) == {uprns[1], uprns[4]}
    assert page.select_one('input[name="vulnerable"]').has_attr("checked")


def test_filter_by_open_case_and_district(client_request, estate):
    """Homes with an open case, or without one, and homes in a postcode district."""
    uprn = estate.uprns[2]
    with estate.database.session() as session:
        session.add(Case(uprn=uprn, source="officer", aware_at=estate.end, opened_by="officer@example.org"))
    assert _uprns(client_request.get("main.risk_list", case="open")) == [uprn]
    assert uprn not in _uprns(client_request.get("main.risk_list", case="none"))
    assert len(_uprns(client_request.get("main.risk_list", case="none"))) == 5
    page = client_request.get("main.risk_list", district="M12")
    assert len(_uprns(page)) == 6
    assert [o["value"] for o in page.select('select[name="district"] option')] == ["", "M12"]
    row = client_request.get("main.risk_list").select_one(f'tr[data-uprn="{uprn}"]')
    assert "Open case" in row.text


def test_unknown_filter_values_are_ignored(client_request, estate):
    """A tampered query string shows the whole list rather than an error."""
    page = client_request.get("main.risk_list", band="purple", cause="gremlins", case="perhaps", sort="colour",
                              page="two")
    assert len(_uprns(page)) == 6


@pytest.mark.parametrize(("sort", "order", "key"), [
    ("address", "asc", lambda home, risk: home.address),
    ("address", "desc", lambda home, risk: home.address),
    ("postcode", "asc", lambda home, risk: (home.postcode, home.address)),
    ("score", "asc", lambda home, risk: risk.score),
])
def test_sort(client_request, estate, sort, order, key):
    """Sorting by a column orders the rows by it and marks the column with aria-sort."""
    risks = _latest(estate)
    with estate.database.session() as session:
        homes = {home.uprn: home for home in session.scalars(select(Property))}
    page = client_request.get("main.risk_list", sort=sort, order=order)
    # Ties keep UPRN order either way (a stable sort, reversed or not, keeps it too).
    expected = sorted(sorted(homes), key=lambda u: key(homes[u], risks[u]), reverse=order == "desc")
    assert _uprns(page) == expected
    header = next(th for th in page.select("#risk-list thead th") if th.get("aria-sort") != "none")
    assert header["aria-sort"] == ("ascending" if order == "asc" else "descending")


def test_sort_links_toggle_and_keep_the_filters(client_request, estate):
    """The current column's link reverses the order; every sort link keeps the filters."""
    page = client_request.get("main.risk_list", band=["low", "medium"], sort="address", order="asc")
    links = {a.text.split(":")[0].strip().rstrip("▲▼ "): a["href"] for a in page.select("#risk-list thead th a")}
    assert "order=desc" in links["Address"] and "sort=address" in links["Address"]
    for href in links.values():
        assert "band=low" in href and "band=medium" in href
    assert page.select_one('input[name="sort"]')["value"] == "address"


@pytest.fixture
def many_homes(app):
    """A register of 120 homes not yet scored."""
    from dashboard.extensions import EXTENSION_KEY

    database = app.extensions[EXTENSION_KEY].database
    with database.session() as session:
        session.add_all([Property(uprn=str(5000 + i), address=f"Flat {i:03d}, Tower Block",
                                  postcode="LS6 1AA" if i % 2 else "LS7 2BB", over_65=i % 3 == 0)
                         for i in range(120)])
    return database


def test_pages_of_fifty(client_request, many_homes):
    """The list shows 50 homes a page with GOV.UK pagination; links keep the filters and sort."""
    page = client_request.get("main.risk_list", sort="address", order="asc")
    assert len(_rows(page)) == PER_PAGE
    assert "Showing 1 to 50 of 120 homes" in page.select_one("#result-count").text
    nav = page.select_one("nav.govuk-pagination")
    assert [a.text.strip() for a in nav.select(".govuk-pagination__item a")] == ["1", "2", "3"]
    assert nav.select_one('[aria-current="page"]').text.strip() == "1"
    page3 = client_request.get("main.risk_list", sort="address", order="asc", page=3)
    assert len(_rows(page3)) == 20
    assert page3.select_one("title").text.startswith("Homes at risk (page 3 of 3)")
    assert page3.select_one("#risk-list tbody tr td a").text == "Flat 100, Tower Block"
    assert page3.select_one(".govuk-pagination__next") is None
    previous = page3.select_one(".govuk-pagination__prev a")["href"]
    assert "page=2" in previous and "sort=address" in previous
    filtered = client_request.get("main.risk_list", district="LS6", vulnerable="y")
    assert "Showing 1 to 20 of 20 homes that match the filters" in filtered.select_one("#result-count").text
    assert filtered.select_one("nav.govuk-pagination") is None
    for row in _rows(filtered):
        assert "Not scored" in row.text and "LS6 1AA" in row.text


def test_before_any_scoring_run(client_request, many_homes):
    """With no scoring run yet the list says so and shows the register unscored."""
    page = client_request.get("main.risk_list")
    assert "No homes have been scored yet" in page.text
    assert page.select_one('form[action*="/cases/from-risk/"]') is None  # nothing to open a case from


def test_open_a_case_button(client_request, estate):
    """Rows without an open case have a one-click button that posts to the cases part, with a CSRF token."""
    page = client_request.get("main.risk_list")
    forms = page.select("#risk-list form")
    if "cases.open_from_risk" in client_request.app.view_functions:
        assert len(forms) == 6
        form = page.select_one(f'tr[data-uprn="{estate.uprns[0]}"] form')
        assert form["method"] == "post"
        assert form["action"] == client_request.url("cases.open_from_risk", uprn=estate.uprns[0])
        assert form.select_one('input[name="csrf_token"]')["value"]
        assert "Open a case" in form.button.text
    else:
        assert forms == []


def test_csv_download_has_the_filtered_rows(client_request, estate):
    """The CSV has a header and one row per matching home (every page), with the list's columns."""
    risks = _latest(estate)
    bands = ["critical", "high", "medium"]
    page = client_request.get("main.risk_list", band=bands)
    link = page.select_one("a[download]")
    assert "Download as CSV" in link.text and "band=critical" in link["href"]
    response = client_request.get_response("main.risk_list_csv", band=bands)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="dampwatch-risk-list-2026-01-25.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["UPRN"] for row in rows] == _uprns(page)
    assert {row["UPRN"] for row in rows} == {u for u, r in risks.items() if r.band in bands}
    for row in rows:
        risk = risks[row["UPRN"]]
        assert row["Risk band"] == risk.band
        assert float(row["Score"]) == pytest.approx(risk.score, abs=0.05)
        assert row["Likely cause"] == (risk.cause or "")
        assert row["Sensors"] != "0"


def test_csv_download_is_in_the_audit_log(client_request, estate):
    """Who downloaded the list, and with which filters, is recorded (the file names vulnerable households)."""
    client_request.get_response("main.risk_list_csv", band=["high"], vulnerable="y")
    with estate.database.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "risk_list.downloaded")).one()
        assert event.actor == "officer@example.org"
        assert event.detail == {"bands": ["high"], "cause": None, "district": None, "vulnerable": True,
                                "case": "any"}


def test_csv_cannot_smuggle_a_formula(client_request, estate):
    """An address starting with "=" is written so that a spreadsheet shows it as text."""
    with estate.database.session() as session:
        session.get(Property, estate.uprns[0]).address = '=HYPERLINK("http://evil.example")'
    response = client_request.get_response("main.risk_list_csv")
    rows = {row["UPRN"]: row for row in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert rows[estate.uprns[0]]["Address"] == '\'=HYPERLINK("http://evil.example")'


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_the_list(client_request, staff, estate, role):
    """Managers and admins see the risk list too."""
    client_request.login(staff.by_role(role))
    assert len(_uprns(client_request.get("main.risk_list"))) == 6


def test_repair_team_members_do_not_see_the_list(client_request, staff, estate):
    """A repair team member gets 403 for the list and its CSV (they see their jobs' homes only)."""
    client_request.login(staff.repair)
    client_request.get("main.risk_list", _expected_status=403)
    client_request.get_response("main.risk_list_csv", _expected_status=403)
