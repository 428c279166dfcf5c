"""The portfolio summary and estate/block pages: bands, shares, the building flag and weekly trends.

Every expectation is counted by hand from the small portfolio written out in ``HOMES`` and ``RUNS``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.model import Case, Property, PropertyRisk, Room, ScoringRun
from core.model_alerts import Alarm
from dashboard import portfolio
from dashboard.extensions import EXTENSION_KEY

#: Now: Wednesday 18 November 2026, 12:00 UTC (week starting Monday 16 November).
NOW = dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)

#: (uprn, site, wall type, floor, band, score, cause, driver room type) in the latest run.
HOMES = [
    # Ash House: four homes at risk with cold fabric, all solid walls; one medium, one low. A building pattern.
    ("101", "Ash House", "solid brick", 1, "critical", 88.0, "cold_fabric", "bedroom"),
    ("102", "Ash House", "solid brick", 2, "high", 71.0, "cold_fabric", "bedroom"),
    ("103", "Ash House", "solid brick", 3, "high", 66.0, "cold_fabric", "living_room"),
    ("104", "Ash House", "solid brick", 4, "high", 60.0, "cold_fabric", "bedroom"),
    ("105", "Ash House", "solid brick", 5, "medium", 40.0, None, None),
    ("106", "Ash House", "solid brick", 6, "low", 10.0, None, None),
    # Birch Court: three at risk, each for a different reason: households, not the building.
    ("201", "Birch Court", "cavity", 0, "high", 70.0, "poor_ventilation", "bathroom"),
    ("202", "Birch Court", "cavity", 0, "high", 65.0, "high_moisture_load", "kitchen"),
    ("203", "Birch Court", "cavity", 1, "critical", 80.0, "leak", "bathroom"),
    ("204", "Birch Court", "cavity", 1, "low", 5.0, None, None),
    # Cedar Walk: none at risk, one home not judged (silent sensors).
    ("301", "Cedar Walk", "cavity", 0, "low", 12.0, None, None),
    ("302", "Cedar Walk", "cavity", 0, "insufficient data", None, None, None),
    # No site in the register.
    ("401", None, None, None, "high", 55.0, "under_heating", "bedroom"),
]

#: Two earlier runs: at the end of the week of 2 November and of 9 November, with the homes high or critical then.
EARLIER_AT_RISK = {
    dt.datetime(2026, 11, 6, 6, tzinfo=dt.UTC): ["101", "201"],
    dt.datetime(2026, 11, 13, 6, tzinfo=dt.UTC): ["101", "102", "201", "401"],
}


def _database(app):
    return app.extensions[EXTENSION_KEY].database


@pytest.fixture
def estate(app, staff):
    """The portfolio above, its three runs, cases and silent-sensor alarms."""
    with _database(app).session() as session:
        rooms = {}
        for uprn, site, wall, floor, *_ in HOMES:
            home = Property(uprn=uprn, address=f"{uprn} Hill Road", postcode="LS6 1AB", site=site, wall_type=wall,
                            floor_level=floor)
            home.rooms = [Room(name=name, room_type=kind) for name, kind in
                          (("Bedroom", "bedroom"), ("Living room", "living_room"), ("Bathroom", "bathroom"),
                           ("Kitchen", "kitchen"))]
            session.add(home)
            session.flush()
            rooms[uprn] = {room.room_type: room for room in home.rooms}

        def run(at: dt.datetime) -> ScoringRun:
            row = ScoringRun(mode="full", scored_until=at, finished_at=at, started_at=at, model_name="physics",
                             model_version="1")
            session.add(row)
            session.flush()
            return row

        for at, at_risk in EARLIER_AT_RISK.items():
            row = run(at)
            for uprn, *_ in HOMES:
                band = "high" if uprn in at_risk else "low"
                session.add(PropertyRisk(run_id=row.id, uprn=uprn, computed_at=at, score=50.0, band=band,
                                         data_coverage=1.0, outdoor_source="weather", reasons=[],
                                         what_would_help=[], model_name="physics", model_version="1"))
        latest = run(NOW - dt.timedelta(hours=6))
        for uprn, _site, _wall, _floor, band, score, cause, room_type in HOMES:
            room = rooms[uprn][room_type] if room_type else None
            session.add(PropertyRisk(run_id=latest.id, uprn=uprn, computed_at=latest.scored_until, score=score,
                                     band=band, cause=cause, driver_room_id=room.id if room else None,
                                     driver_room=room.name if room else None, data_coverage=1.0,
                                     outdoor_source="weather", reasons=[], what_would_help=[],
                                     model_name="physics", model_version="1"))
        # Cases: two opened in the week of 9 November, one closed this week; one opened this week.
        session.add_all([
            Case(uprn="101", source="risk_flag", aware_at=dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC),
                 opened_at=dt.datetime(2026, 11, 10, 9, tzinfo=dt.UTC), opened_by="t",
                 closed_at=dt.datetime(2026, 11, 17, 9, tzinfo=dt.UTC), status="closed"),
            Case(uprn="201", source="risk_flag", aware_at=dt.datetime(2026, 11, 11, 9, tzinfo=dt.UTC),
                 opened_at=dt.datetime(2026, 11, 11, 9, tzinfo=dt.UTC), opened_by="t"),
            Case(uprn="102", source="risk_flag", aware_at=dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC),
                 opened_at=dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC), opened_by="t"),
        ])
        # Silent sensors: two alarms this week, one the week before; one other rule not counted.
        for day, rule in ((17, "sensor_silent"), (18, "sensor_silent"), (12, "sensor_silent"), (17, "battery_low")):
            session.add(Alarm(rule=rule, subject_key=f"device:{day}-{rule}", uprn="101", severity="medium",
                              raised_at=dt.datetime(2026, 11, day, 8, tzinfo=dt.UTC)))
    return app


def test_site_summaries_count_bands_and_shares(estate):
    """Each place's homes by band and share at risk, and the portfolio's, as counted by hand."""
    with _database(estate).session() as session:
        sites, whole = portfolio.site_summaries(session)
    by_name = {s.site: s for s in sites}
    assert [s.site for s in sites] == ["Birch Court", "Ash House", "Cedar Walk"]  # 3/4, 4/6, 0/1
    assert by_name["Ash House"].bands == {"critical": 1, "high": 3, "medium": 1, "low": 1}
    assert by_name["Ash House"].share_at_risk == pytest.approx(4 / 6)
    assert by_name["Ash House"].top_cause == "cold_fabric"
    assert by_name["Cedar Walk"].judged == 1
    assert by_name["Cedar Walk"].share_at_risk == 0.0
    assert whole.homes == 13
    assert whole.at_risk == 8
    assert whole.judged == 12
    assert whole.top_cause == "cold_fabric"


def test_building_flag_for_a_shared_cause_and_exposure(estate):
    """Ash House: four cold-fabric homes with solid brick walls; Birch Court: three different causes."""
    with _database(estate).session() as session:
        ash = portfolio.site_homes(session, "Ash House")
        birch = portfolio.site_homes(session, "Birch Court")
    flag = portfolio.building_flag(ash)
    assert flag is not None
    assert (flag.cause, flag.exposure, flag.value) == ("cold_fabric", "wall type", "solid brick")
    assert flag.uprns == ("101", "102", "103", "104")
    assert portfolio.building_flag(birch) is None
    assert [h.uprn for h in ash] == ["101", "102", "103", "104", "105", "106"]


def _home(uprn: str, band: str, cause: str | None, wall=None, floor=None, room=None) -> portfolio.SiteHome:
    return portfolio.SiteHome(uprn, "x", "LS6 1AB", band, 60.0, cause, None, room, wall, floor)


@pytest.mark.parametrize(("homes", "expected"), [
    # two homes are not "several"
    ([_home("1", "high", "leak", "cavity"), _home("2", "high", "leak", "cavity")], None),
    # three with the same cause but no shared exposure recorded
    ([_home(str(i), "high", "leak") for i in range(3)], None),
    # three on the top floor with the same cause, among six at risk (half): flagged by floor level
    ([_home(str(i), "high", "cold_fabric", floor=5) for i in range(3)]
     + [_home(str(i), "high", c, floor=i) for i, c in ((7, "leak"), (8, "leak"), (9, "under_heating"))],
     ("cold_fabric", "floor level", "5")),
    # three of seven at risk is under half: no flag
    ([_home(str(i), "high", "cold_fabric", floor=5) for i in range(3)]
     + [_home(str(i), "critical", c) for i, c in ((6, "leak"), (7, "leak"), (8, "under_heating"), (9, "leak"))],
     None),
    # medium homes are not at risk
    ([_home(str(i), "medium", "cold_fabric", "solid") for i in range(4)], None),
    # the same driver room (failed communal extraction in every bathroom)
    ([_home(str(i), "critical", "poor_ventilation", room="bathroom") for i in range(3)],
     ("poor_ventilation", "driver room", "bathroom")),
])
def test_building_flag_table(homes, expected):
    """The flag's rule on small hand-written places."""
    flag = portfolio.building_flag(homes)
    assert (None if flag is None else (flag.cause, flag.exposure, flag.value)) == expected


def test_weekly_trends_as_counted_by_hand(estate):
    """Bands, new high or critical, cases opened and closed, silent sensors per week."""
    with _database(estate).session() as session:
        weeks = portfolio.weekly_trends(session, NOW, weeks=3)
    assert [w.start for w in weeks] == [dt.date(2026, 11, 2), dt.date(2026, 11, 9), dt.date(2026, 11, 16)]
    first, second, third = weeks
    assert first.bands == {"high": 2, "low": 11}
    assert first.new_at_risk is None  # no run the week before
    assert second.new_at_risk == 2  # 102 and 401
    assert third.bands == {"critical": 2, "high": 6, "medium": 1, "low": 3, "insufficient data": 1}
    # now at risk: 101 102 103 104 201 202 203 401; the week before: 101 102 201 401
    assert third.new_at_risk == 4
    assert (first.cases_opened, second.cases_opened, third.cases_opened) == (0, 2, 1)
    assert (first.cases_closed, second.cases_closed, third.cases_closed) == (0, 0, 1)
    assert (first.sensors_silent, second.sensors_silent, third.sensors_silent) == (0, 1, 2)
    assert all(w.deadlines_met <= w.deadlines_due for w in weeks)


def test_summary_page_links_to_each_place(estate, client_request):
    """The summary lists the places, most at risk first, each linking to its page."""
    page = client_request.get("portfolio.summary")
    links = [a.text for a in page.select("#site-list tbody th a")]
    assert links == ["Birch Court", "Ash House", "Cedar Walk"]
    assert "8 at high or critical risk" in page.select_one("#portfolio-share").text
    assert len(page.select("#weeks tbody tr")) == portfolio.TREND_WEEKS
    assert page.select_one(".dampwatch-full-width") is not None


def test_site_page_shows_the_flag_and_the_homes(estate, client_request):
    """A block with the building pattern shows the warning and marks its homes."""
    page = client_request.get("portfolio.site", site="Ash House")
    assert "solid brick" in page.select_one("#building-flag").text
    assert "4 of 6 judged: 67%" in page.select_one("#site-share").text
    assert len(page.select("#site-homes tbody tr")) == 6
    assert len(page.select("#site-homes tr.dampwatch-flagged")) == 4
    birch = client_request.get("portfolio.site", site="Birch Court")
    assert birch.select_one("#building-flag") is None


def test_unknown_site_is_404(estate, client_request):
    """A place nobody lives in is not found."""
    client_request.get("portfolio.site", site="Nowhere", _expected_status=404)


@pytest.mark.parametrize(("role", "endpoint"), [
    ("repair", "repair.job_list"), ("manager", "portfolio.summary"), ("admin", "admin.users"),
    ("officer", "main.risk_list"),
])
def test_each_role_lands_on_its_own_home(estate, client_request, staff, role, endpoint):
    """The DampWatch name in the header goes to the role's own start page, which it may see."""
    client_request.login(staff.by_role(role))
    page = client_request.get(endpoint)
    home = page.select_one(".govuk-service-navigation__service-name a, .govuk-service-navigation__link")
    assert home is not None
    assert page.select_one(".govuk-service-navigation__service-name a")["href"] == client_request.url(endpoint)


def test_one_place_summary_is_the_same_as_in_the_list(estate):
    """A place's summary from its own homes equals its row of the portfolio-wide summary."""
    with _database(estate).session() as session:
        sites, _ = portfolio.site_summaries(session)
        for summary in sites:
            assert portfolio.site_summary_of(summary.site, portfolio.site_homes(session, summary.site)) == summary


def test_cached_figures_follow_the_data(estate, client_request):
    """The summary is kept between requests, but a new case (or run, home, alarm) shows at once."""
    page = client_request.get("portfolio.summary")
    before = [td.text for td in page.select("#weeks tbody tr")[-1].select("td")]
    with _database(estate).session() as session:
        session.add(Case(uprn="301", source="officer", aware_at=dt.datetime.now(dt.UTC), opened_by="t"))
    page = client_request.get("portfolio.summary")
    after = [td.text for td in page.select("#weeks tbody tr")[-1].select("td")]
    assert before != after  # this week's "cases opened" went up by one


def test_risk_list_order_is_kept_until_the_data_changes(estate):
    """The risk list's kept order follows a new scoring run, a register change and a new open case."""
    from dashboard import queries
    from dashboard.queries import RiskFilters, risk_page

    def first_three(**filters) -> list[str]:
        queries._list_versions.clear()  # as LIST_VERSION_TTL_S passing would (the version is looked up again)
        with _database(estate).session() as session:
            page = risk_page(session, RiskFilters(**filters), now=NOW, offline_after_s=3600)
            return [row.uprn for row in page.rows][:3]

    assert first_three() == ["101", "203", "102"]  # 88, 80, 71 by hand
    with _database(estate).session() as session:
        run = ScoringRun(mode="full", scored_until=NOW, finished_at=NOW, started_at=NOW, model_name="physics",
                         model_version="1")
        session.add(run)
        session.flush()
        for uprn, score in (("106", 99.0), ("105", 95.0), ("101", 10.0)):
            session.add(PropertyRisk(run_id=run.id, uprn=uprn, computed_at=NOW, score=score, band="critical",
                                     data_coverage=1.0, outdoor_source="weather", reasons=[], what_would_help=[],
                                     model_name="physics", model_version="1"))
    assert first_three() == ["106", "105", "101"]
    assert first_three(vulnerable=True) == []
    with _database(estate).session() as session:
        session.get(Property, "105").over_65 = True
    assert first_three(vulnerable=True) == ["105"]
    with _database(estate).session() as session:
        session.add(Case(uprn="106", source="officer", aware_at=NOW, opened_at=NOW, opened_by="t"))
    assert first_three(case="open")[0] == "106"
