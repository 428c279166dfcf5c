"""The JSON API on a scored simulated estate: tokens, errors that say how to fix them, filters and pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy import func, select

from core.cases import close_case, open_case, record_finding
from core.model import (
    ApiToken,
    AuditEvent,
    Case,
    Device,
    DeviceHealth,
    Installation,
    Property,
    PropertyRisk,
    Room,
    User,
)
from core.scheduling import next_working_days, schedule_inspection
from dashboard.api_tokens import create_token, revoke_token
from dashboard.auth import token_sha256
from tests.dashboard.conftest import DashboardEstate, Staff, add_user

V1 = "/api/v1"


@dataclasses.dataclass
class ApiWorld:
    """The scored estate with staff tokens, two cases (one inspected), device health, and a test client."""

    app: Flask
    estate: DashboardEstate
    staff: Staff
    tokens: dict[str, str]  # by role: officer, manager, admin, repair (a repair member's token from before)
    revoked_token: str
    inactive_token: str
    case_id: int  # open, at ``case_uprn``, with a completed inspection and a finding
    closed_case_id: int
    inspection_id: int
    case_uprn: str
    room_id: int  # a room of ``case_uprn`` with a sensor
    device_id: str  # the sensor in ``room_id``

    def call(self, method: str, path: str, *, role: str | None = "officer", token: str | None = None,
             query: dict | list | None = None, json: Any = None, headers: dict | None = None):
        """Call the API as ``role`` (its token), with ``token`` instead, or with none (``role=None``)."""
        sent = dict(headers or {})
        token = token or (self.tokens[role] if role else None)
        if token:
            sent["Authorization"] = f"Bearer {token}"
        with self.app.test_client() as client:
            return client.open(V1 + path, method=method, query_string=query, json=json, headers=sent)

    def get(self, path: str, **kwargs: Any):
        return self.call("GET", path, **kwargs)

    def ok(self, path: str, **kwargs: Any) -> Any:
        """GET, check the answer is 200, and return its JSON."""
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)[:800]
        return response.get_json()


def build_api_world(app: Flask, staff: Staff, estate: DashboardEstate) -> ApiWorld:
    """Tokens for every role, an open case with an inspection and finding, a closed case, device health."""
    end = estate.end
    database = estate.database
    with database.session() as session:
        users = {role: session.get(User, staff.by_role(role).id) for role in ("officer", "manager", "admin", "repair")}
        tokens = {role: create_token(session, users[role], f"{role} system") for role in ("officer", "manager", "admin")}
        tokens["repair"] = "dw_repair-member-token-from-before-a-role-change"
        session.add(ApiToken(user_id=users["repair"].id, name="old", token_sha256=token_sha256(tokens["repair"])))
        revoked = create_token(session, users["officer"], "retired system")
        revoke_token(session, session.scalar(select(ApiToken).where(ApiToken.name == "retired system")),
                     actor="officer@example.org")
        leaver = add_user(session, "officer", email="leaver@example.org", name="Former Officer")
        inactive = create_token(session, leaver, "leaver's system")
        leaver.active = False

        case_uprn = estate.damp_uprns[0]
        room_id, device_id = session.execute(
            select(Room.id, Installation.device_id).join(Installation, Installation.room_id == Room.id)
            .where(Room.uprn == case_uprn, Room.room_type == "bathroom")).first()
        officer = users["officer"]
        case = open_case(session, uprn=case_uprn, aware_at=end - dt.timedelta(days=2), source="risk_flag",
                         actor=officer.email, user_id=officer.id, room_id=room_id, summary="Risk flag: bathroom")
        day = next_working_days(end.date() + dt.timedelta(days=1), 1)[0]
        inspection = schedule_inspection(session, case, session.get(type(staff.team), staff.team.id), day,
                                         officer.email, now=end)
        record_finding(session, inspection, {
            "mould_found": True, "severity": "moderate", "room_ids": [room_id], "where_text": "Ceiling above the bath",
            "likely_cause": "ventilation", "actions_taken": "Treated the mould", "follow_up_work": "Fit a fan"},
            users["repair"].email, user_id=users["repair"].id, at=dt.datetime.combine(
                day, dt.time(11), tzinfo=dt.UTC))
        other = next(uprn for uprn in estate.uprns if uprn != case_uprn)
        closed = open_case(session, uprn=other, aware_at=end - dt.timedelta(days=10), source="tenant_report",
                           actor=officer.email, summary="Tenant rang about condensation")
        close_case(session, closed, actor=officer.email, reason="No damp found", at=end - dt.timedelta(days=3))

        for number, device in enumerate(session.scalars(select(Device).order_by(Device.device_id).limit(2))):
            session.add(DeviceHealth(device_id=device.device_id, last_seen=end - dt.timedelta(minutes=10),
                                     last_received_at=end - dt.timedelta(minutes=9), battery_v=2.4 + number,
                                     readings=100, first_seq=1, last_seq=102, status="online"))
        session.flush()
        ids = case.id, closed.id, inspection.id
    return ApiWorld(app, estate, staff, tokens, revoked, inactive, *ids, case_uprn, room_id, device_id)


@pytest.fixture
def world(app, staff, scored_estate) -> ApiWorld:
    """The API on the scored estate, with tokens, cases, an inspection and device health."""
    return build_api_world(app, staff, scored_estate)


def error_of(response, status: int) -> dict[str, str]:
    """Check an error answer's status and shape; return its ``error`` object."""
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return body["error"]


# --- tokens --------------------------------------------------------------------------------------------


def test_a_call_without_a_token_is_told_how_to_send_one(world):
    """No token: 401, a Bearer challenge, and a message naming the header and where tokens are made."""
    response = world.get("/risk", role=None)
    error = error_of(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="DampWatch API"'
    assert error["code"] == "missing_token"
    assert "Authorization: Bearer <token>" in error["message"] and "/account/api-tokens" in error["message"]


@pytest.mark.parametrize(("which", "words"), [
    ("unknown", "not recognised"),
    ("revoked", "was revoked on"),
    ("inactive", "deactivated"),
])
def test_a_token_that_is_not_valid_gets_401(world, which, words):
    """Unknown and revoked tokens, and tokens of deactivated staff, are refused with the reason."""
    token = {"unknown": "dw_not-a-real-token", "revoked": world.revoked_token,
             "inactive": world.inactive_token}[which]
    response = world.get("/properties", token=token)
    error = error_of(response, 401)
    assert error["code"] == "invalid_token" and words in error["message"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="DampWatch API", error="invalid_token"'


def test_a_signed_in_browser_without_a_token_gets_401(world, client_request):
    """A staff session cookie is not a way into the API."""
    response = client_request.client.get(f"{V1}/risk")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "role"), [
    ("GET", "/properties", "repair"),
    ("GET", "/cases", "repair"),
    ("POST", "/cases", "admin"),
])
def test_a_role_not_allowed_gets_403(world, method, path, role):
    """Repair members' tokens read nothing; admins' tokens cannot open cases."""
    body = {"uprn": world.case_uprn, "aware_at": "2026-01-20T09:00:00Z"} if method == "POST" else None
    error = error_of(world.call(method, path, role=role, json=body), 403)
    assert error["code"] == "forbidden" and f"a {role} user" in error["message"]


def test_a_token_records_when_it_was_last_used(world):
    """last_used_at is set on first use and then at most every few minutes (not a write per call)."""
    def last_used() -> dt.datetime | None:
        with world.estate.database.session() as session:
            return session.scalar(select(ApiToken.last_used_at).where(
                ApiToken.token_sha256 == token_sha256(world.tokens["manager"])))

    assert last_used() is None
    start = dt.datetime(2026, 2, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        world.ok("/cases", role="manager")
        assert last_used() == start
        traveller.shift(dt.timedelta(minutes=2))
        world.ok("/cases", role="manager")
        assert last_used() == start
        traveller.shift(dt.timedelta(minutes=4))
        world.ok("/cases", role="manager")
        assert last_used() == start + dt.timedelta(minutes=6)


# --- bad requests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "query", "code", "words"), [
    ("/properties", {"bands": "high"}, "unknown_parameter", "Unknown query parameter 'bands'. It takes: band,"),
    ("/properties", {"band": "purple"}, "invalid_parameter", "use one of: low, medium, high, critical"),
    ("/properties", {"limit": "0"}, "invalid_parameter", "limit must be a whole number from 1 to 500"),
    ("/properties", {"limit": "501"}, "invalid_parameter", "from 1 to 500"),
    ("/properties", {"cursor": "bm90IGEgY3Vyc29y"}, "invalid_parameter", "Pass the next_cursor of the previous page"),
    ("/properties", {"postcode_district": "Leeds"}, "invalid_parameter", "such as LS6"),
    ("/properties", {"updated_since": "yesterday"}, "invalid_parameter", "ISO 8601 date and time"),
    ("/properties", {"updated_since": "2026-01-05T00:00:00"}, "invalid_parameter", "add Z for UTC"),
    ("/properties", {"updated_since": "2026-01-05T00:00:00 00:00"}, "invalid_parameter", "written %2B"),
    ("/properties/12ab", None, "invalid_parameter", "uprn must be a UPRN: 1 to 12 digits"),
    ("/risk", {"vulnerable": "yes"}, "invalid_parameter", "vulnerable must be true or false"),
    ("/risk", {"cause": "ghosts"}, "invalid_parameter", "cause must be one of poor_ventilation"),
    ("/rooms/abc/readings", None, "invalid_parameter", "room_id must be a whole number"),
    ("/rooms/1/readings", {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "range_too_long",
     "is 59.0 days; ask for 31 days or less, and make several requests"),
    ("/rooms/1/readings", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "invalid_range",
     "must be before to"),
    ("/devices", {"offline": "maybe"}, "invalid_parameter", "offline must be true or false"),
    ("/devices", {"uprn": "x"}, "invalid_parameter", "uprn must be a UPRN"),
    ("/cases", {"status": "pending"}, "invalid_parameter", "status must be one of open, closed"),
    ("/cases/first", None, "invalid_parameter", "case_id must be a whole number"),
    ("/inspections", {"from": "2026-02-01", "to": "2026-01-01"}, "invalid_range", "must be on or before to"),
    ("/inspections", {"from": "1 Feb"}, "invalid_parameter", "YYYY-MM-DD"),
    ("/inspections", {"team": "North"}, "invalid_parameter", "team must be a whole number"),
])
def test_a_bad_query_gets_400_saying_what_to_change(world, path, query, code, words):
    """Each mistake gets a 400 whose message says how to put it right."""
    error = error_of(world.get(path, query=query), 400)
    assert error["code"] == code
    assert words in error["message"]


@pytest.mark.parametrize("path", [
    "/properties/999999999999", "/properties/999999999999/risk", "/rooms/999999/readings", "/cases/999999"])
def test_something_unknown_gets_404(world, path):
    """Unknown UPRNs, rooms and cases get a 404 in the API's error shape."""
    assert error_of(world.get(path), 404)["code"] == "not_found"


# --- properties and risk --------------------------------------------------------------------------------


def _all_pages(world: ApiWorld, path: str, query: dict) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        page = world.ok(path, query={**query, **({"cursor": cursor} if cursor else {})})
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert pages < 50, "pagination does not end"


def test_properties_come_in_pages_that_cover_every_home_once(world):
    """Walking the cursor with limit=2 returns every home once, in UPRN order."""
    items = _all_pages(world, "/properties", {"limit": "2"})
    uprns = [item["uprn"] for item in items]
    assert uprns == sorted(world.estate.uprns) and len(uprns) == len(set(uprns))
    assert world.ok("/properties", query={"limit": "2"})["limit"] == 2


def test_properties_filter_by_band_district_and_update(world):
    """band, postcode_district and updated_since narrow the list as the database says they should."""
    with world.estate.database.session() as session:
        bands = dict(session.execute(select(PropertyRisk.uprn, PropertyRisk.band)).all())
        postcodes = dict(session.execute(select(Property.uprn, Property.postcode)).all())
    band = bands[world.case_uprn]
    listed = world.ok("/properties", query={"band": band})["items"]
    assert sorted(item["uprn"] for item in listed) == sorted(u for u, b in bands.items() if b == band)
    assert all(item["latest_risk"]["band"] == band for item in listed)
    district = postcodes[world.case_uprn].split()[0]
    listed = world.ok("/properties", query={"postcode_district": district.lower()})["items"]
    assert sorted(item["uprn"] for item in listed) == sorted(u for u, p in postcodes.items() if p.startswith(district + " "))
    assert world.ok("/properties", query={"updated_since": "2099-01-01T00:00:00Z"})["items"] == []
    scored = world.estate.end.isoformat()
    assert len(world.ok("/properties", query={"updated_since": scored})["items"]) == len(world.estate.uprns)


def test_a_property_has_its_rooms_vulnerability_risk_and_open_cases(world):
    """The detail matches the register, the latest risk and the open case."""
    body = world.ok(f"/properties/{world.case_uprn}")
    with world.estate.database.session() as session:
        home = session.get(Property, world.case_uprn)
        risk = session.scalars(select(PropertyRisk).where(PropertyRisk.uprn == home.uprn)).one()
        rooms = {room.id: room.name for room in session.scalars(select(Room).where(Room.uprn == home.uprn))}
        flags = {flag: getattr(home, flag) for flag in ("child_under_15", "over_65", "respiratory_condition")}
    assert body["address"] == home.address and body["postcode_district"] == home.postcode.split()[0]
    assert body["vulnerability"] == flags and body["vulnerable"] == any(flags.values())
    assert {room["id"]: room["name"] for room in body["rooms"]} == rooms
    bathroom = next(room for room in body["rooms"] if room["id"] == world.room_id)
    assert bathroom["device_ids"] == [world.device_id] and bathroom["latest_risk"]["band"]
    assert body["latest_risk"]["score"] == pytest.approx(risk.score)
    assert body["latest_risk"]["reasons"] == risk.reasons and body["latest_risk"]["run_id"] == risk.run_id
    assert body["open_case_ids"] == [world.case_id]


def test_a_propertys_risk_history_lists_each_score(world):
    """The history has the one scoring run's record; since= just after it leaves none."""
    history = world.ok(f"/properties/{world.case_uprn}/risk")
    assert len(history["items"]) == 1 and history["next_cursor"] is None
    item = history["items"][0]
    assert item["uprn"] == world.case_uprn and item["band"] and item["reasons"]
    computed = dt.datetime.fromisoformat(item["computed_at"])
    path = f"/properties/{world.case_uprn}/risk"
    assert world.ok(path, query={"since": computed.isoformat()})["items"] == [item]
    assert world.ok(path, query={"since": (computed + dt.timedelta(seconds=1)).isoformat()})["items"] == []


def test_risk_is_highest_first_and_pages_agree_with_one_list(world):
    """Scores descend (unscored homes last); paging one at a time gives the same list."""
    whole = world.ok("/risk")["items"]
    scores = [item["score"] for item in whole]
    known = [score for score in scores if score is not None]
    assert known == sorted(known, reverse=True) and scores[:len(known)] == known
    assert [item["uprn"] for item in _all_pages(world, "/risk", {"limit": "1"})] == [item["uprn"] for item in whole]
    assert len(whole) == len(world.estate.uprns)


def test_risk_filters_by_vulnerability_band_and_cause(world):
    """vulnerable=true and false split the homes; band and cause filters keep only matches."""
    everyone = {item["uprn"] for item in world.ok("/risk")["items"]}
    vulnerable = world.ok("/risk", query={"vulnerable": "true"})["items"]
    others = world.ok("/risk", query={"vulnerable": "false"})["items"]
    assert all(item["vulnerable"] for item in vulnerable) and not any(item["vulnerable"] for item in others)
    assert {item["uprn"] for item in vulnerable} | {item["uprn"] for item in others} == everyone
    some = world.ok("/risk")["items"][0]
    both = world.ok("/risk", query=[("band", some["band"]), ("band", "low")])["items"]
    assert some["uprn"] in {item["uprn"] for item in both} and all(i["band"] in (some["band"], "low") for i in both)
    if some["cause"]:
        assert all(item["cause"] == some["cause"] for item in world.ok("/risk", query={"cause": some["cause"]})["items"])


# --- readings and devices -------------------------------------------------------------------------------


def test_a_rooms_readings_are_the_stores_hourly_means(world):
    """One day of a room's readings equals the store's hourly aggregates of its sensor."""
    day = world.estate.end - dt.timedelta(days=3)
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    body = world.ok(f"/rooms/{world.room_id}/readings",
                    query={"from": (start + dt.timedelta(minutes=30)).isoformat(),
                           "to": (start + dt.timedelta(hours=23, minutes=10)).isoformat()})
    assert body["from"] == start.isoformat().replace("+00:00", "Z")
    assert body["to"] == (start + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    frame = world.estate.store.hourly(start, start + dt.timedelta(days=1), [world.device_id])
    assert len(body["hours"]) == len(frame) > 20
    first = body["hours"][0]
    assert first["device_id"] == world.device_id and first["count"] == int(frame["count"].iloc[0])
    assert first["temperature_c"] == pytest.approx(frame["temperature_c"].iloc[0])
    assert first["humidity_max_pct"] == pytest.approx(frame["humidity_max_pct"].iloc[0])


def test_a_rooms_readings_default_to_the_last_week(world):
    """Without from and to, the span is the seven days to now."""
    with time_machine.travel(world.estate.end, tick=False):
        body = world.ok(f"/rooms/{world.room_id}/readings")
    start = dt.datetime.fromisoformat(body["from"])
    assert dt.datetime.fromisoformat(body["to"]) - start == dt.timedelta(days=7)
    assert 24 * 6 < len(body["hours"]) <= 24 * 7


def test_readings_say_when_the_store_cannot_be_reached(world, settings, scored_estate):
    """A readings store that is down gives 503 with advice, not a stack trace."""
    from core.readings import open_store
    from dashboard import create_app
    from tests.dashboard.conftest import dashboard_settings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = open_store(f"victoriametrics://127.0.0.1:{port}?check_dedup=false&timeout=1")
    down = dataclasses.replace(world, app=create_app(dashboard_settings(settings), database=scored_estate.database,
                                                     store=store))
    error = error_of(down.get(f"/rooms/{world.room_id}/readings"), 503)
    assert error["code"] == "store_unavailable" and "Try again" in error["message"]


def test_devices_show_health_and_filter_by_offline_and_home(world):
    """Every device is listed; two report (one on a low battery); offline and uprn filters narrow it."""
    with time_machine.travel(world.estate.end, tick=False):
        devices = _all_pages(world, "/devices", {"limit": "7"})
        online = world.ok("/devices", query={"offline": "false"})["items"]
        offline = world.ok("/devices", query={"offline": "true", "limit": "500"})["items"]
    with world.estate.database.session() as session:
        assert len(devices) == session.scalar(select(func.count()).select_from(Device))
    assert [d["device_id"] for d in devices] == sorted(d["device_id"] for d in devices)
    assert [(d["battery_v"], d["low_battery"], d["offline"]) for d in online] == [(2.4, True, False), (3.4, False, False)]
    assert len(online) + len(offline) == len(devices) and all(d["last_seen"] is None for d in offline)
    mine = world.ok("/devices", query={"uprn": world.case_uprn})["items"]
    assert mine and {d["uprn"] for d in mine} == {world.case_uprn}
    assert world.device_id in {d["device_id"] for d in mine}


# --- cases and inspections -------------------------------------------------------------------------------


def test_cases_are_newest_first_and_filter_by_status_and_home(world):
    """The list holds both cases; status and uprn pick one each."""
    assert [case["id"] for case in world.ok("/cases")["items"]] == [world.closed_case_id, world.case_id]
    assert [c["id"] for c in world.ok("/cases", query={"status": "open"})["items"]] == [world.case_id]
    closed = world.ok("/cases", query={"status": "closed"})["items"]
    assert [c["id"] for c in closed] == [world.closed_case_id] and closed[0]["closed_reason"] == "No damp found"
    assert [c["id"] for c in world.ok("/cases", query={"uprn": world.case_uprn})["items"]] == [world.case_id]


def test_a_case_has_its_clocks_inspection_and_timeline(world):
    """The case shows the four Awaab's Law steps, the inspection with its finding, and what happened."""
    with time_machine.travel(world.estate.end + dt.timedelta(days=2), tick=False):
        body = world.ok(f"/cases/{world.case_id}")
    steps = {step["key"]: step for step in body["steps"]}
    assert list(steps) == ["investigate", "summary", "make_safe", "preventative"]
    assert steps["investigate"]["state"] in ("done", "done late") and steps["investigate"]["done_at"]
    assert steps["summary"]["due"] and isinstance(steps["summary"]["working_days_left"], int)
    [inspection] = body["inspections"]
    assert inspection["id"] == world.inspection_id and inspection["status"] == "completed"
    assert inspection["finding"]["room_ids"] == [world.room_id] and inspection["finding"]["where"]
    kinds = [event["kind"] for event in body["timeline"]]
    assert {"opened", "inspection_scheduled", "finding_recorded", "investigated"} <= set(kinds)
    assert [event["at"] for event in body["timeline"]] == sorted(event["at"] for event in body["timeline"])


def test_inspections_filter_by_team_dates_and_status(world):
    """The inspection is found by its team, its date and its status, and not outside them."""
    listed = world.ok("/inspections")["items"]
    assert [item["id"] for item in listed] == [world.inspection_id]
    day = listed[0]["scheduled_for"]
    team = world.staff.team.id
    assert world.ok("/inspections", query={"team": team, "from": day, "to": day, "status": "completed"})["items"]
    assert world.ok("/inspections", query={"team": team + 1})["items"] == []
    assert world.ok("/inspections", query={"status": "scheduled"})["items"] == []
    later = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    assert world.ok("/inspections", query={"from": later})["items"] == []


def _new_case(world: ApiWorld, **fields: Any) -> dict:
    uprn = next(u for u in world.estate.uprns if u != world.case_uprn and u not in _cased(world))
    return {"uprn": uprn, "aware_at": (world.estate.end - dt.timedelta(days=1)).isoformat(), **fields}


def _cased(world: ApiWorld) -> set[str]:
    with world.estate.database.session() as session:
        return set(session.scalars(select(Case.uprn)))


def test_another_system_can_open_a_case(world):
    """POST /cases opens a case with its clocks running from aware_at, audited as the token's owner."""
    body = _new_case(world, summary="Tenant reported black mould", emergency=True)
    response = world.call("POST", "/cases", role="manager", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    case = response.get_json()
    assert response.headers["Location"] == f"{V1}/cases/{case['id']}"
    assert case["source"] == "tenant_report" and case["emergency"] is True and case["status"] == "open"
    assert case["opened_by"] == world.staff.manager.email
    assert case["steps"][0]["hours_based"] is True
    with world.estate.database.session() as session:
        stored = session.get(Case, case["id"])
        assert stored.uprn == body["uprn"] and stored.summary == "Tenant reported black mould"
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.opened",
                                                          AuditEvent.object_id == str(case["id"]))).one()
    assert event.actor == world.staff.manager.email and event.user_id == world.staff.manager.id


def test_a_second_case_for_a_home_gets_409_naming_the_open_one(world):
    """A home with an open case gets 409 and the address of that case."""
    body = {"uprn": world.case_uprn, "aware_at": "2026-01-25T09:00:00Z"}
    error = error_of(world.call("POST", "/cases", json=body), 409)
    assert error["code"] == "case_already_open" and f"{V1}/cases/{world.case_id}" in error["message"]


@pytest.mark.parametrize(("changes", "words"), [
    (None, "Send the case as a JSON object"),
    ({"uprn": None}, "Give uprn"),
    ({"colour": "green"}, "Unknown field 'colour'. A case takes: uprn, aware_at"),
    ({"aware_at": "soon"}, "aware_at must be an ISO 8601 date and time"),
    ({"aware_at": "2099-01-01T00:00:00Z"}, "cannot be in the future"),
    ({"source": "alarm"}, "source must be one of tenant_report, officer, inspection"),
    ({"emergency": "yes"}, "emergency must be true or false"),
    ({"room_id": 999999}, "Room 999999 is not a room of UPRN"),
    ({"uprn": 123}, "uprn must be a string"),
])
def test_a_bad_case_gets_400_saying_what_to_change(world, changes, words):
    """Each mistake in the body is named, with how to fix it; nothing is opened."""
    before = _cased(world)
    body = None if changes is None else {**_new_case(world), **changes}
    error = error_of(world.call("POST", "/cases", json=body), 400)
    assert error["code"] == "invalid_body" and words in error["message"]
    assert _cased(world) == before


def test_a_case_for_an_unknown_home_gets_404(world):
    """A UPRN not in the register gets 404."""
    error = error_of(world.call("POST", "/cases", json=_new_case(world, uprn="999999999999")), 404)
    assert "999999999999" in error["message"]


def test_the_openapi_document_needs_no_token(world):
    """The description is public and names the bearer scheme."""
    body = world.ok("/openapi.json", role=None)
    assert body["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"


# --- the same queries on PostgreSQL ---------------------------------------------------------------------

#: (uprn, score, band, vulnerable): ties and an unscored home test the keyset pages' edges.
SMALL_ESTATE = [
    ("11", 80.0, "critical", True),
    ("12", 55.5, "high", False),
    ("13", 55.5, "high", True),
    ("14", None, "insufficient data", False),
    ("15", 10.0, "low", False),
    ("16", 55.5, "high", False),
]


@pytest.fixture
def small_world(database, settings):
    """An app on an empty database of either kind holding six scored homes, two runs, a case and a team."""
    from core.model import ScoringRun, Team
    from core.store_sqlite import SQLiteReadingsStore
    from dashboard import create_app
    from tests.dashboard.conftest import dashboard_settings

    at = dt.datetime(2026, 1, 26, tzinfo=dt.UTC)
    with database.session() as session:
        runs = [ScoringRun(mode="full", scored_until=at - dt.timedelta(days=d), model_name="physics",
                           model_version="1", finished_at=at - dt.timedelta(days=d)) for d in (7, 0)]
        session.add_all(runs)
        for number, (uprn, score, band, vulnerable) in enumerate(SMALL_ESTATE):
            session.add(Property(uprn=uprn, address=f"{number + 1} Test Street", postcode=f"LS{6 + number % 2} 1AB",
                                 child_under_15=vulnerable or None))
            session.flush()
            room = Room(uprn=uprn, name="Bathroom", room_type="bathroom")
            session.add(room)
            session.flush()
            session.add(Device(device_id=f"d-{uprn}"))
            session.flush()
            session.add(Installation(device_id=f"d-{uprn}", room_id=room.id, installed_at=at - dt.timedelta(days=30)))
            for run in runs:
                session.add(PropertyRisk(run_id=run.id, uprn=uprn, computed_at=run.scored_until, score=score,
                                         physics_score=score, band=band, cause="leak" if score else None,
                                         data_coverage=0.9, outdoor_source="climatology", reasons=["A reason"],
                                         what_would_help=[], model_name="physics", model_version="1"))
        session.add(DeviceHealth(device_id="d-11", last_seen=at, battery_v=3.0, readings=5))
        officer = add_user(session, "officer")
        token = create_token(session, officer, "Test system")
        team = Team(name="South team", daily_capacity=2)
        session.add(team)
        session.flush()
        case = open_case(session, uprn="12", aware_at=at, source="officer", actor=officer.email)
        schedule_inspection(session, case, team, dt.date(2026, 1, 27), officer.email, now=at)
    store = SQLiteReadingsStore(f"sqlite:///{settings.var_dir}/readings.db")
    app = create_app(dashboard_settings(settings), database=database, store=store)
    try:
        yield app, token
    finally:
        store.close()


def test_pages_walk_ties_and_unscored_homes_on_both_databases(small_world):
    """On SQLite and PostgreSQL, one-item pages give the same order as one page, ties and nulls included."""
    app, token = small_world
    headers = {"Authorization": f"Bearer {token}"}

    def walk(path: str, **query: Any) -> list[dict]:
        items, cursor = [], None
        with app.test_client() as client:
            while True:
                sent = {**query, "limit": 1, **({"cursor": cursor} if cursor else {})}
                body = client.get(V1 + path, query_string=sent, headers=headers).get_json()
                items += body["items"]
                cursor = body["next_cursor"]
                if cursor is None:
                    return items

    risk = walk("/risk")
    assert [item["uprn"] for item in risk] == ["11", "12", "13", "16", "15", "14"]
    assert [item["uprn"] for item in walk("/risk", vulnerable="true")] == ["11", "13"]
    assert [item["uprn"] for item in walk("/risk", band="high", postcode_district="LS7")] == ["12", "16"]
    assert [item["uprn"] for item in walk("/properties")] == ["11", "12", "13", "14", "15", "16"]
    assert [item["run_id"] for item in walk("/properties/13/risk")] == [2, 1]
    assert [item["uprn"] for item in walk("/cases", status="open")] == ["12"]
    assert [item["uprn"] for item in walk("/inspections", **{"from": "2026-01-27", "to": "2026-01-27"})] == ["12"]
    with time_machine.travel(dt.datetime(2026, 1, 26, 1, tzinfo=dt.UTC), tick=False):
        assert [item["device_id"] for item in walk("/devices", offline="false")] == ["d-11"]
        assert len(walk("/devices", offline="true")) == 5


def test_a_case_opened_through_the_api_carries_its_hazards(world):
    """POST /cases with hazards: an electrical emergency is on the 24-hour track; a bad hazard is a 400."""
    body = _new_case(world, hazards=[{"hazard": "electrical", "severity": "high", "emergency": True}])
    response = world.call("POST", "/cases", role="officer", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    case = response.get_json()
    assert case["hazards"] == [{"hazard": "electrical", "name": "Electrical hazards", "severity": "high",
                                "emergency": True}]
    assert case["emergency"] is True and case["clock_profile"] == "england_social"
    other = next(u for u in world.estate.uprns if u not in _cased(world))
    error = error_of(world.call("POST", "/cases", role="officer", json={
        "uprn": other, "aware_at": "2026-01-25T09:00:00Z", "hazards": [{"hazard": "ghosts", "severity": "high"}]}),
        400)
    assert "not an HHSRS hazard" in error["message"]
