"""The interactive charts' JSON: the numbers are scoring's, events are marked, and the page works without it."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import time_machine
from sqlalchemy import select

from analytics.scoring import mould_projections
from core.model import Case, Inspection, Installation, PropertyRisk, RoomRisk, ScoringRun, Team
from core.model_alerts import Alarm
from dashboard import charts


@pytest.fixture
def estate(scored_estate, client_request, staff):
    """The scored estate half an hour before the end of the scoring run's last hour (time frozen)."""
    charts._CACHE.clear()
    with time_machine.travel(scored_estate.end - dt.timedelta(minutes=30), tick=False):
        client_request.login(staff.officer)
        yield scored_estate


def _data(client_request, uprn: str, days: int = 30) -> dict:
    response = client_request.get_response("main.property_chart_data", uprn=uprn, days=days)
    assert response.mimetype == "application/json"
    return response.get_json()


def test_last_mould_index_is_the_one_scoring_stored(client_request, estate):
    """Each room's last daily mould index in the JSON is the scoring run's stored one (RoomRisk)."""
    for uprn in estate.uprns:
        data = _data(client_request, uprn)
        with estate.database.session() as session:
            stored = {r.room_id: r.mould_index for r in session.scalars(select(RoomRisk).where(RoomRisk.uprn == uprn))}
        assert data["rooms"]
        for room in data["rooms"]:
            if stored.get(room["room_id"]) is not None:
                assert room["daily"]["mould_index"][-1] == pytest.approx(stored[room["room_id"]], abs=0.006)


def test_hourly_values_are_the_stores_hourly_means(client_request, estate):
    """Temperature and humidity per hour equal the readings store's own hourly means of the room's sensor."""
    uprn = estate.uprns[0]
    room = _data(client_request, uprn)["rooms"][0]
    with estate.database.session() as session:
        device = session.scalar(select(Installation.device_id).where(Installation.room_id == room["room_id"]))
    start = dt.datetime.fromtimestamp(room["start"], dt.UTC)
    end = dt.datetime.fromtimestamp(room["end"], dt.UTC)
    frame = estate.store.hourly(start, end, [device])
    assert len(frame) > 100
    by_hour = {int(h.timestamp()): (t, rh) for h, t, rh in
               zip(frame["hour"], frame["temperature_c"], frame["humidity_pct"], strict=True)}
    hourly = room["hourly"]
    assert len(hourly["t"]) == 30 * 24
    checked = 0
    for t, temp, rh in zip(hourly["t"], hourly["temperature_c"], hourly["humidity_pct"], strict=True):
        if t in by_hour:
            assert temp == pytest.approx(by_hour[t][0], abs=0.051)
            assert rh == pytest.approx(by_hour[t][1], abs=0.051)
            checked += 1
        else:
            assert temp is None and rh is None  # no reading in that hour: a gap, never a made-up value
    assert checked == len(by_hour)


def test_limits_and_projection(client_request, estate):
    """The 80 % line and the visible-mould index are in the data; the driver room's projection is scoring's."""
    with estate.database.session() as session:
        run_id = session.scalar(select(ScoringRun.id).order_by(ScoringRun.id.desc()))
        drivers = dict(session.execute(select(PropertyRisk.uprn, PropertyRisk.driver_room_id)
                                       .where(PropertyRisk.run_id == run_id)).all())
        projections = mould_projections(session, run_id)
    checked = 0
    for uprn in estate.uprns:
        data = _data(client_request, uprn)
        assert data["surface_rh_limit_pct"] == 80
        assert data["visible_mould_index"] == 3
        room = next((r for r in data["rooms"] if r["room_id"] == drivers.get(uprn)), None)
        if room is None:
            continue
        expected = projections[uprn][1]
        got = room["days_to_visible_mould"]
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got == pytest.approx(expected, abs=0.051)
        checked += 1
    assert checked


def test_events_are_marked(client_request, estate, staff):
    """A case opened, an inspection, works done, a silent sensor and a band change appear with their times."""
    uprn = estate.uprns[0]
    end = estate.end
    with estate.database.session() as session:
        case = Case(uprn=uprn, source="officer", aware_at=end - dt.timedelta(days=5),
                    opened_at=end - dt.timedelta(days=5), opened_by="t", works_completed_at=end - dt.timedelta(days=2))
        session.add(case)
        session.flush()
        team = session.get(Team, staff.team.id)
        session.add(Inspection(case_id=case.id, uprn=uprn, team_id=team.id, scheduled_for=(end - dt.timedelta(days=3)).date(),
                               status="completed", created_by="t", completed_at=end - dt.timedelta(days=3)))
        session.add(Alarm(rule="sensor_silent", subject_key="device:x", uprn=uprn, device_id="x", severity="medium",
                          raised_at=end - dt.timedelta(days=4)))
        # an older run with another band: the latest run's band is then a change
        latest = session.scalar(select(PropertyRisk).where(PropertyRisk.uprn == uprn).order_by(PropertyRisk.id.desc()))
        older = ScoringRun(mode="full", scored_until=end - dt.timedelta(days=10), model_name="m", model_version="1",
                           started_at=end - dt.timedelta(days=10), finished_at=end - dt.timedelta(days=10))
        session.add(older)
        session.flush()
        other = "low" if latest.band != "low" else "high"
        session.add(PropertyRisk(run_id=older.id, uprn=uprn, computed_at=older.scored_until, score=1.0, band=other,
                                 data_coverage=1.0, outdoor_source="weather", reasons=[], what_would_help=[],
                                 model_name="m", model_version="1"))
        new_band = latest.band
        latest_finished = session.get(ScoringRun, latest.run_id).finished_at
    charts._CACHE.clear()
    events = _data(client_request, uprn)["events"]
    kinds = {e["kind"]: e for e in events}
    assert kinds["case_opened"]["t"] == int((end - dt.timedelta(days=5)).timestamp())
    assert kinds["inspection"]["t"] == int((end - dt.timedelta(days=3)).timestamp())
    assert kinds["works_done"]["t"] == int((end - dt.timedelta(days=2)).timestamp())
    assert kinds["sensor_silent"]["t"] == int((end - dt.timedelta(days=4)).timestamp())
    if latest_finished is not None and latest_finished < end:
        assert kinds["band"]["label"] == f"Risk band {other} to {new_band}"
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    page = client_request.get("main.property_page", uprn=uprn)
    listed = [li["data-kind"] for li in page.select("#chart-events li")]
    assert {"case_opened", "inspection", "works_done", "sensor_silent"} <= set(listed)


def test_page_works_without_javascript(client_request, estate):
    """Without scripts the page has the server's image, its alt text and the table; the script is progressive."""
    uprn = estate.uprns[0]
    page = client_request.get("main.property_page", uprn=uprn)
    area = page.select_one("#chart-area")
    assert area["data-chart-url"] == client_request.url("main.property_chart_data", uprn=uprn, days=30)
    for figure in area.select("figure[data-room-id]"):
        assert figure.select_one("img")["alt"]
        assert figure.select_one("table")
    scripts = [s.get("src", "") for s in page.select("script")]
    assert any(src.endswith("/uPlot.iife.min.js") for src in scripts)
    assert any(src.endswith("/charts.js") for src in scripts)


def test_no_nan_in_json(client_request, estate):
    """Missing values are null (NaN is not JSON)."""
    response = client_request.get_response("main.property_chart_data", uprn=estate.uprns[0], days=90)
    text = response.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    data = response.get_json()
    assert all(v is None or math.isfinite(v) for room in data["rooms"] for v in room["daily"]["mould_index"])


def test_unknown_home_is_404(client_request, estate):
    """No data for a home that does not exist."""
    client_request.get_response("main.property_chart_data", uprn="999999999999", _expected_status=404)
