"""Every route × every visitor answers as the hand-written table in ``access_table.py`` says.

The world: home A with a tenant, an open case with an inspection booked for the "North team", an alarm, a
room; home B with a case of its own; a repair member of the North team (``rep_own``) and one of the "South
team" (``rep_other``); an officer, a manager and an admin, each with an API token. Each route is called by a
fresh client of each visitor, with home A's ids.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import pytest
from flask import Flask

from core.keyed_hash import settings_hash
from core.model import ApiToken, Case, Inspection, Room, Team, User
from core.model_alerts import Alarm, OutboxMessage, TenantLoginToken
from dashboard.auth import TENANT_SESSION_KEY, token_sha256
from dashboard.extensions import EXTENSION_KEY
from tests.alerts.conftest import OTHER_UPRN, UPRN, add_home
from tests.dashboard.access_table import ACCESS_TABLE, IN, NOT_IN_TABLE, OK, VISITORS
from tests.dashboard.conftest import ClientRequest, add_user
from tests.dashboard.test_permissions import URL_MAP_APP


def routes_of(app: Flask) -> set[tuple[str, str]]:
    """(method, rule) of every route the app answers (HEAD and OPTIONS are Flask's own)."""
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def missing_from_table(app: Flask) -> list[tuple[str, str]]:
    return sorted(routes_of(app) - set(ACCESS_TABLE) - NOT_IN_TABLE)


def test_every_route_is_in_the_access_table():
    """The table covers every route of the app, and lists none the app does not have."""
    assert missing_from_table(URL_MAP_APP) == []
    assert sorted(set(ACCESS_TABLE) - routes_of(URL_MAP_APP)) == []


def test_a_route_missing_from_the_table_is_reported(app):
    """A new route without a row in the table fails the check (the meta-test can fail)."""
    app.add_url_rule("/forgotten", "forgotten", lambda: "open")
    assert missing_from_table(app) == [("GET", "/forgotten")]


def test_every_row_names_every_visitor():
    """Each row has one expected answer per visitor, from the known answers."""
    for route, row in ACCESS_TABLE.items():
        assert len(row) == len(VISITORS), route
        assert set(row) <= {OK, IN, 401, 403, 404}, route


@dataclass
class World:
    ids: dict[str, object]
    users: dict[str, User]
    api_tokens: dict[str, str]
    tenant_id: int
    tenant_version: int


@pytest.fixture
def world(app, staff) -> World:
    database = app.extensions[EXTENSION_KEY].database
    settings = app.extensions[EXTENSION_KEY].settings
    now = dt.datetime.now(dt.UTC)
    calendar_token = secrets.token_urlsafe(32)
    link_token = secrets.token_urlsafe(32)
    with database.session() as session:
        south = Team(name="South team", daily_capacity=3, districts="")
        session.add(south)
        session.flush()
        rep_other = add_user(session, "repair", email="south@example.org", team=south)
        target = add_user(session, "officer", email="target@example.org")
        home = add_home(session, UPRN)
        home.site = "Beech Court"
        add_home(session, OTHER_UPRN, tenants=[{"email": "b@example.org", "phone": "07700900456"}])
        case = Case(uprn=UPRN, source="tenant_report", aware_at=now - dt.timedelta(days=2), opened_by="test",
                    summary="Mould in the bathroom")
        session.add_all([case, Case(uprn=OTHER_UPRN, source="officer", aware_at=now, opened_by="test")])
        session.flush()
        inspection = Inspection(case_id=case.id, uprn=UPRN, team_id=staff.team.id,
                                scheduled_for=now.date() + dt.timedelta(days=1), created_by="test")
        alarm = Alarm(rule="risk_band", subject_key=f"property:{UPRN}", uprn=UPRN, severity="high",
                      message="The home's damp and mould risk is high", raised_at=now)
        message = OutboxMessage(channel="email", recipient="sam@example.org", uprn=UPRN, message_type="risk_band",
                                body="text", dedup_key="access-table-1", status="failed", last_error="refused")
        session.add_all([inspection, alarm, message])
        tokens = {}
        for visitor, user_id in (("officer", staff.officer.id), ("manager", staff.manager.id),
                                 ("admin", staff.admin.id), ("rep_own", staff.repair.id),
                                 ("rep_other", rep_other.id)):
            tokens[visitor] = "dw_" + secrets.token_urlsafe(32)
            session.add(ApiToken(user_id=user_id, name=f"{visitor} system", token_sha256=token_sha256(tokens[visitor])))
        session.flush()
        officer_token_id = session.query(ApiToken.id).filter(ApiToken.user_id == staff.officer.id).scalar()
        session.get(User, staff.repair.id).calendar_token = settings_hash(settings, "calendar-token", calendar_token)
        tenant = home.tenants[0]
        session.add(TenantLoginToken(tenant_id=tenant.id, token_sha256=settings_hash(settings, "tenant-link-token",
                                                                                      link_token),
                                     created_at=now, expires_at=now + dt.timedelta(minutes=30)))
        room_id = session.query(Room.id).filter(Room.uprn == UPRN).order_by(Room.id).first()[0]
        ids = {"uprn": UPRN, "room_id": room_id, "case_id": case.id, "alarm_id": alarm.id,
               "inspection_id": inspection.id, "token_id": officer_token_id, "team_id": staff.team.id,
               "user_id": target.id, "key": "investigate", "calendar_token": calendar_token,
               "link_token": link_token, "site": "Beech Court",
               "message_id": message.id}
        users = {"rep_other": rep_other, "rep_own": staff.repair, "officer": staff.officer,
                 "manager": staff.manager, "admin": staff.admin}
        return World(ids, users, tokens, tenant.id, tenant.session_version or 0)


def _url(rule: str, ids: dict) -> str:
    values = dict(ids)
    values["token"] = ids["calendar_token"] if rule.startswith("/jobs/") else ids["link_token"]
    url = rule
    for name, value in values.items():
        for converter in ("", "int:", "path:"):
            url = url.replace(f"<{converter}{name}>", str(value))
    assert "<" not in url, url
    return url


def _answer(response) -> object:
    response.get_data()  # a streamed answer (the CSV) ends its request context only once read and closed
    response.close()
    if response.status_code in (301, 302, 303) and response.headers["Location"].startswith("/sign-in"):
        return IN
    if response.status_code in (401, 403, 404) or response.status_code >= 500:
        return response.status_code
    return OK


def _client(app, world: World, visitor: str) -> ClientRequest:
    helper = ClientRequest(app, app.test_client())
    if visitor == "tenant":
        with helper.client.session_transaction() as session:
            session[TENANT_SESSION_KEY] = world.tenant_id
            session["tenant_signed_in_at"] = dt.datetime.now(dt.UTC).isoformat()
            session["tenant_session_version"] = world.tenant_version
    elif visitor != "anon":
        helper.login(world.users[visitor])
    return helper


@pytest.mark.parametrize(("method", "rule"), sorted(ACCESS_TABLE))
def test_route_answers_each_visitor_as_the_table_says(app, world, method, rule):
    """Call the route as each visitor in turn; compare each answer with the table's."""
    expected = dict(zip(VISITORS, ACCESS_TABLE[(method, rule)], strict=True))
    url = _url(rule, world.ids)
    got = {}
    for visitor in VISITORS:
        helper = _client(app, world, visitor)
        headers = {}
        if rule.startswith("/api/") and visitor in world.api_tokens:
            headers["Authorization"] = f"Bearer {world.api_tokens[visitor]}"
        if method == "GET":
            response = helper.client.get(url, headers=headers)
        elif rule.startswith("/api/"):
            response = helper.client.post(url, json={}, headers=headers)
        else:
            response = helper.client.post(url, data={"csrf_token": helper._session_csrf_token()}, headers=headers)
        got[visitor] = _answer(response)
        if rule == "/sign-out" and visitor in world.users and response.headers.get("Location") == "/sign-in":
            got[visitor] = OK  # signing out ends at the sign-in page
    assert got == expected
