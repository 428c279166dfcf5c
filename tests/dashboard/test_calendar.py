"""The repair team's iCalendar feed behind a secret URL, and rotating that URL."""

from __future__ import annotations

import datetime as dt
import hashlib

from icalendar import Calendar
from sqlalchemy import select

from core.model import AuditEvent, Inspection, User
from dashboard.extensions import EXTENSION_KEY
from tests.dashboard.test_repair import _working_day, book


def _db(app):
    return app.extensions[EXTENSION_KEY].database


def _stored(app, user_id: int) -> str | None:
    with _db(app).session() as session:
        return session.get(User, user_id).calendar_token


def _make_link(client_request) -> str:
    """Make a new calendar link as the signed-in member; the token of the URL shown (once) on the page."""
    page = client_request.post("repair.rotate_calendar", _expected_status=200)
    url = page.select_one("#calendar-url").get_text(strip=True)
    assert url.startswith("http") and url.endswith(".ics")
    return url.rsplit("/", 1)[1].removesuffix(".ics")


def _feed(client_request, token: str, status: int = 200):
    client_request.logout()  # a calendar app has no session
    return client_request.get_response("repair.calendar_feed", token=token, _expected_status=status)


def test_calendar_link_is_made_then_rotated(client_request, app, staff):
    """The member makes a link; making a new one stops the old one at once; both are audited."""
    client_request.login(staff.repair)
    page = client_request.get("repair.calendar")
    assert "You do not have a calendar link yet" in page.get_text()
    first = _make_link(client_request)
    # only a keyed hash is kept: the database holds neither the token nor its plain SHA-256
    stored = _stored(app, staff.repair.id)
    assert stored and first not in stored and stored != hashlib.sha256(first.encode()).hexdigest()
    page = client_request.get("repair.calendar")
    assert page.select_one("#calendar-url") is None and "You have a calendar link" in page.get_text()
    second = _make_link(client_request)
    assert second != first
    _feed(client_request, first, 404)
    _feed(client_request, second, 200)
    with _db(app).session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).where(AuditEvent.action.like("user.calendar%"))
                                                     .order_by(AuditEvent.id))]
    assert actions == ["user.calendar_token_created", "user.calendar_token_rotated"]


def test_feed_has_one_event_per_inspection_with_a_stable_uid(client_request, app, staff):
    """Each inspection is an all-day VEVENT with the address, a link to the case and a UID that does not change."""
    first = book(app, staff.team.id, "1", _working_day(1))
    second = book(app, staff.team.id, "2", _working_day(2))
    client_request.login(staff.repair)
    token = _make_link(client_request)
    response = _feed(client_request, token)
    assert response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.get_data())
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"dampwatch-inspection-{first}@dampwatch", f"dampwatch-inspection-{second}@dampwatch"}
    event = events[f"dampwatch-inspection-{first}@dampwatch"]
    assert event.decoded("dtstart") == _working_day(1)
    assert event.decoded("dtend") == _working_day(1) + dt.timedelta(days=1)
    assert str(event["location"]) == "1 Mill Lane, LS6 1AB"
    assert "1 Mill Lane" in str(event["summary"])
    with _db(app).session() as session:
        case_id = session.get(Inspection, first).case_id
    assert f"/cases/{case_id}" in str(event["description"])
    assert str(event["url"]).endswith(f"/jobs/{first}/findings")
    again = Calendar.from_ical(_feed(client_request, token).get_data())
    assert {str(e["uid"]) for e in again.walk("VEVENT")} == set(events)


def test_feed_refuses_unknown_tokens_and_deactivated_members(client_request, app, staff):
    """An unknown token, or the token of someone deactivated, gets 404."""
    _feed(client_request, "x" * 43, 404)
    client_request.login(staff.repair)
    token = _make_link(client_request)
    with _db(app).session() as session:
        session.get(User, staff.repair.id).active = False
    _feed(client_request, token, 404)


def test_other_teams_inspections_are_not_in_the_feed(client_request, app, staff):
    """A member's feed holds their own team's inspections only."""
    from core.model import Team

    with _db(app).session() as session:
        other = Team(name="South team", daily_capacity=2)
        session.add(other)
        session.flush()
        other_id = other.id
    book(app, other_id, "9", _working_day(1))
    client_request.login(staff.repair)
    calendar = Calendar.from_ical(_feed(client_request, _make_link(client_request)).get_data())
    assert list(calendar.walk("VEVENT")) == []
