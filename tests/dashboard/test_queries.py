"""Tests for dashboard.queries: the risk list's filters, sorts and pages, and the property page's rows,
on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.model import (
    Case,
    Device,
    DeviceHealth,
    Inspection,
    Installation,
    Property,
    PropertyRisk,
    Room,
    RoomRisk,
    ScoringRun,
    Team,
)
from dashboard.queries import (
    PER_PAGE,
    RiskFilters,
    district_options,
    property_detail,
    risk_page,
    risk_rows,
    team_has_inspection,
)

NOW = dt.datetime(2026, 1, 26, 9, 0, tzinfo=dt.UTC)
OFFLINE_AFTER_S = 6 * 3600


@dataclasses.dataclass(frozen=True)
class Home:
    uprn: str
    address: str
    postcode: str
    band: str | None  # None: not in the latest run
    score: float | None
    cause: str | None = None
    child: bool | None = None
    over_65: bool | None = None
    case: str | None = None  # "open" or "closed"
    last_seen_hours_ago: float | None = 1.0  # None: never heard from
    battery_v: float = 3.0


HOMES = (
    Home("101", "Ash Cottage, Leeds", "LS6 1AA", "critical", 92.0, "leak", child=True),
    Home("102", "Birch Cottage, Leeds", "LS6 1AB", "high", 71.0, "poor_ventilation", case="open"),
    Home("103", "Alder Cottage, Leeds", "LS10 2BB", "medium", 45.0, "cold_fabric", over_65=True,
         last_seen_hours_ago=30.0),
    Home("104", "Cedar Cottage, Leeds", "LS2 3CC", "low", 8.0, None, case="closed", battery_v=2.4),
    Home("105", "Damson Cottage, Leeds", "LS2 3CD", "insufficient data", None, None, over_65=False,
         last_seen_hours_ago=None),
    Home("106", "Elm Cottage, Leeds", "LS10 4DD", "high", 64.0, "leak", child=True, over_65=True),
    Home("107", "Fir Cottage, Leeds", "LS6 5EE", None, None),
)


def _fill(database) -> dict[str, int]:
    """The homes above with one sensor each, an older run (all critical) and the latest run; returns ids."""
    ids: dict[str, int] = {}
    with database.session() as session:
        old = ScoringRun(started_at=NOW - dt.timedelta(days=1), finished_at=NOW - dt.timedelta(days=1),
                         mode="full", scored_until=NOW - dt.timedelta(days=1), model_name="m", model_version="1")
        latest = ScoringRun(started_at=NOW, finished_at=NOW, mode="incremental", scored_until=NOW,
                            model_name="m", model_version="1")
        unfinished = ScoringRun(started_at=NOW, finished_at=None, mode="incremental", scored_until=NOW,
                                model_name="m", model_version="1")
        session.add_all([old, latest, unfinished])
        session.flush()
        ids["latest_run"] = latest.id
        for home in HOMES:
            session.add(Property(uprn=home.uprn, address=home.address, postcode=home.postcode, site="Ash estate",
                                 child_under_15=home.child, over_65=home.over_65))
            room = Room(uprn=home.uprn, name="Bathroom", room_type="bathroom")
            session.add(room)
            session.flush()
            ids[f"room_{home.uprn}"] = room.id
            device_id = f"dev-{home.uprn}"
            session.add(Device(device_id=device_id))
            session.add(Installation(device_id=device_id, room_id=room.id, installed_at=NOW - dt.timedelta(days=60)))
            if home.last_seen_hours_ago is not None:
                session.add(DeviceHealth(device_id=device_id, battery_v=home.battery_v,
                                         last_seen=NOW - dt.timedelta(hours=home.last_seen_hours_ago)))
            common = {"uprn": home.uprn, "computed_at": NOW, "cold_home": False, "data_coverage": 0.9,
                      "outdoor_source": "site sensor", "reasons": [f"reason {home.uprn}"],
                      "what_would_help": [f"help {home.uprn}"], "model_name": "m", "model_version": "1"}
            session.add(PropertyRisk(run_id=old.id, score=99.0, band="critical", cause="leak", **common))
            # The unfinished run is not shown, whatever it says.
            session.add(PropertyRisk(run_id=unfinished.id, score=1.0, band="low", **common))
            if home.band is not None:
                risk = PropertyRisk(run_id=latest.id, score=home.score, band=home.band, cause=home.cause,
                                    driver_room="Bathroom" if home.score else None, **common)
                session.add(risk)
                session.add(RoomRisk(run_id=latest.id, room_id=room.id, uprn=home.uprn, computed_at=NOW,
                                     score=home.score, band=home.band, data_coverage=0.9, mould_index=1.5,
                                     hours_surface_rh_over_80=40.0))
            if home.case is not None:
                case = Case(uprn=home.uprn, source="risk_flag", status=home.case, aware_at=NOW, opened_by="officer",
                            closed_at=NOW if home.case == "closed" else None)
                session.add(case)
                session.flush()
                ids[f"case_{home.uprn}"] = case.id
    return ids


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """An app database with the homes above, made once per backend for the module (tests only read it)."""
    from core.db import Database
    from tests.conftest import _postgres_database

    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path_factory.mktemp('queries')}/app.db"])
    else:
        urls = _postgres_database()
    url = next(urls)
    database = Database(url)
    try:
        yield database, _fill(database)
    finally:
        database.dispose()
        next(urls, None)  # drops the PostgreSQL database


def _page(database, **filters) -> list[str]:
    with database.session() as session:
        page = risk_page(session, RiskFilters(**filters), now=NOW, offline_after_s=OFFLINE_AFTER_S)
    return [row.uprn for row in page.rows]


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ["101", "102", "106", "103", "104", "105", "107"]),
    ({"bands": ("high", "critical")}, ["101", "102", "106"]),
    ({"bands": ("insufficient data",)}, ["105"]),
    ({"cause": "leak"}, ["101", "106"]),
    ({"district": "LS6"}, ["101", "102", "107"]),
    ({"district": "LS10"}, ["106", "103"]),
    ({"vulnerable": True}, ["101", "106", "103"]),
    ({"case": "open"}, ["102"]),
    ({"case": "none"}, ["101", "106", "103", "104", "105", "107"]),
    ({"bands": ("high", "critical"), "vulnerable": True}, ["101", "106"]),
    ({"bands": ("low",), "district": "LS6"}, []),
])
def test_filters(filled, filters, expected):
    """Each filter keeps only the homes it names, using the latest finished run, highest score first."""
    database, _ = filled
    assert _page(database, **filters) == expected


@pytest.mark.parametrize(("sort", "descending", "expected"), [
    ("score", True, ["101", "102", "106", "103", "104", "105", "107"]),
    ("score", False, ["104", "103", "106", "102", "101", "105", "107"]),
    ("band", True, ["101", "102", "106", "103", "104", "105", "107"]),
    ("band", False, ["105", "104", "103", "106", "102", "101", "107"]),
    ("address", False, ["103", "101", "102", "104", "105", "106", "107"]),
    ("postcode", False, ["103", "106", "104", "105", "101", "102", "107"]),
    ("last_reading", True, ["101", "102", "106", "104", "107", "103", "105"]),
])
def test_sorts(filled, sort, descending, expected):
    """Every sort orders the homes as asked; homes without a value come last either way."""
    database, _ = filled
    assert _page(database, sort=sort, descending=descending) == expected


def test_rows_carry_risk_vulnerability_case_and_health(filled):
    """A row has the latest risk, the household flags, the open case id and its sensors' health."""
    database, ids = filled
    with database.session() as session:
        page = risk_page(session, RiskFilters(), now=NOW, offline_after_s=OFFLINE_AFTER_S)
    rows = {row.uprn: row for row in page.rows}
    assert page.run.id == ids["latest_run"]
    assert (rows["101"].band, rows["101"].score, rows["101"].cause) == ("critical", 92.0, "leak")
    assert rows["101"].vulnerabilities == ("child_under_15",) and rows["101"].vulnerable
    assert rows["106"].vulnerabilities == ("child_under_15", "over_65")
    assert not rows["105"].vulnerable  # over_65 recorded as "no"
    assert rows["102"].open_case_id == ids["case_102"] and rows["102"].open_cases == 1
    assert rows["104"].open_case_id is None  # its case is closed
    assert (rows["101"].devices, rows["101"].devices_offline, rows["101"].devices_low_battery) == (1, 0, 0)
    assert rows["103"].devices_offline == 1  # silent for 30 hours
    assert rows["105"].devices_offline == 1 and rows["105"].last_reading is None  # never heard from
    assert rows["104"].devices_low_battery == 1
    assert rows["101"].last_reading == NOW - dt.timedelta(hours=1)
    assert rows["107"].band is None and rows["107"].risk_id is None


def test_pages_of_fifty_with_a_total(database):
    """The list pages by 50 with the total of all matches; a page past the end shows the last page."""
    with database.session() as session:
        session.add_all([Property(uprn=str(1000 + i), address=f"{i} Long Road", postcode="LS6 1AA")
                         for i in range(PER_PAGE * 2 + 7)])
    with database.session() as session:
        pages = [risk_page(session, RiskFilters(page=n, sort="address", descending=False), now=NOW,
                           offline_after_s=OFFLINE_AFTER_S) for n in (1, 2, 3, 9)]
    assert [len(p.rows) for p in pages] == [PER_PAGE, PER_PAGE, 7, 7]
    assert {p.total for p in pages} == {PER_PAGE * 2 + 7}
    assert [p.pages for p in pages] == [3, 3, 3, 3]
    assert (pages[1].first, pages[1].last) == (51, 100)
    assert pages[3].page == 3
    seen = [row.uprn for p in pages[:3] for row in p.rows]
    assert len(seen) == len(set(seen)) == PER_PAGE * 2 + 7


def test_risk_rows_gives_every_match_in_order(filled):
    """The CSV rows are every match (no pages), in the list's order, with data health."""
    database, _ = filled
    with database.session() as session:
        rows = list(risk_rows(session, RiskFilters(bands=("high", "critical")), now=NOW,
                              offline_after_s=OFFLINE_AFTER_S, batch_size=2))
    assert [row.uprn for row in rows] == ["101", "102", "106"]
    assert all(row.devices == 1 for row in rows)


def test_district_options_in_natural_order(filled):
    """Districts are listed once each, LS2 before LS6 before LS10."""
    database, _ = filled
    with database.session() as session:
        assert district_options(session) == ["LS2", "LS6", "LS10"]


@pytest.mark.parametrize("bad", [
    {"bands": ("severe",)}, {"cause": "damp"}, {"case": "maybe"}, {"sort": "colour"}, {"page": 0},
])
def test_filters_refuse_unknown_values(bad):
    """A filter value the list does not know is refused with a message."""
    with pytest.raises(ValueError, match=r"must|unknown"):
        RiskFilters(**bad)


def test_property_detail(filled):
    """The property page's rows: the home, its latest risk, rooms with devices and room risk, its cases."""
    database, ids = filled
    with database.session() as session:
        detail = property_detail(session, "102", now=NOW, offline_after_s=OFFLINE_AFTER_S)
        missing = property_detail(session, "999", now=NOW, offline_after_s=OFFLINE_AFTER_S)
    assert missing is None
    assert detail.property.address == "Birch Cottage, Leeds"
    assert detail.risk.run_id == ids["latest_run"] and detail.risk.band == "high"
    assert detail.run.id == ids["latest_run"]
    (room,) = detail.rooms
    assert room.room_id == ids["room_102"] and room.risk.mould_index == 1.5
    assert [d.device_id for d in room.devices] == ["dev-102"] and not room.devices[0].offline
    assert [case.id for case in detail.cases] == [ids["case_102"]]
    assert detail.device_ids == ["dev-102"]


def test_property_detail_falls_back_to_the_homes_newest_risk(filled):
    """A home left out of the latest run shows its newest risk from an earlier finished run."""
    database, _ = filled
    with database.session() as session:
        detail = property_detail(session, "107", now=NOW, offline_after_s=OFFLINE_AFTER_S)
    assert detail.risk.band == "critical"  # the earlier run's; the unfinished run's row is not shown
    assert detail.rooms[0].risk is None


def test_team_has_inspection(database):
    """A team sees a home only while it has an inspection there that is not cancelled."""
    ids = _fill(database)
    with database.session() as session:
        north, south = Team(name="North"), Team(name="South")
        session.add_all([north, south])
        session.flush()
        inspection = Inspection(case_id=ids["case_102"], uprn="102", team_id=north.id,
                                scheduled_for=NOW.date(), created_by="officer")
        session.add(inspection)
        session.flush()
        assert team_has_inspection(session, north.id, "102")
        assert not team_has_inspection(session, south.id, "102")
        assert not team_has_inspection(session, north.id, "101")
        assert not team_has_inspection(session, None, "102")
        inspection.status = "cancelled"
        session.flush()
        assert not team_has_inspection(session, north.id, "102")
