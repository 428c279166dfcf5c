"""Excess cold and heat on the property page and in the API (analytics.thermal_home), from real readings in the
app's SQLite readings store. Expected figures are counted by hand in each docstring."""

from __future__ import annotations

import datetime as dt

import time_machine

from core.model import Device, Installation, Property, Room, User
from core.readings import Reading
from dashboard.api_tokens import create_token
from dashboard.extensions import EXTENSION_KEY

UPRN = "300000000001"
JAN = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
JUL = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)


def _home(app, start: dt.datetime, living, bedroom) -> None:
    """A home with a living room and a bedroom, 14 days of readings every 30 minutes from ``start``
    (``living(utc_hour)``, ``bedroom(utc_hour)``); no outdoor sensor or weather anywhere."""
    parts = app.extensions[EXTENSION_KEY]
    with parts.database.session() as session:
        home = Property(uprn=UPRN, address="3 Ash Grove, Leeds", postcode="LS6 3EF")
        session.add(home)
        for name, room_type in (("Living room", "living_room"), ("Bedroom 1", "bedroom")):
            room = Room(property=home, name=name, room_type=room_type)
            device = Device(device_id=f"thermal-{room_type}")
            session.add_all([room, device])
            session.add(Installation(device=device, room=room, installed_at=start - dt.timedelta(days=30)))
    readings = []
    for n in range(14 * 48):
        ts = start + dt.timedelta(minutes=30 * n)
        readings += [Reading(device_id="thermal-living_room", ts=ts, temperature_c=living(ts.hour), humidity_pct=50.0),
                     Reading(device_id="thermal-bedroom", ts=ts, temperature_c=bedroom(ts.hour), humidity_pct=50.0)]
    parts.store.write(readings)


def _words(element) -> str:
    return " ".join(element.get_text(" ").split())


def test_a_cold_home_on_the_property_page(app, client_request, staff):
    """January, living room 15 °C all day: all 182 occupied hours (13 a day × 14) below 18 °C and 16 °C: high
    cold, with energy-help advice; the bedroom at 19 °C is not cold; nothing is hot."""
    _home(app, JAN, lambda h: 15.0, lambda h: 19.0)
    with time_machine.travel(JAN + dt.timedelta(days=14, minutes=5), tick=False):
        client_request.login(staff.officer)
        page = client_request.get("main.property_page", uprn=UPRN)
    assert page.select_one("#thermal-cold").get_text(strip=True) == "High"
    assert page.select_one("#thermal-heat").get_text(strip=True) == "None found"
    reasons = [_words(li) for li in page.select("#thermal-reasons li")]
    assert reasons[0].startswith("Living room: 100 % of occupied hours below 18 °C")
    advice = _words(page.select_one("#thermal-advice"))
    assert "www.simpleenergyadvice.org.uk" in advice and "shading" not in advice
    rows = {_words(tr.th): [_words(td) for td in tr.select("td")] for tr in page.select("#thermal-rooms tbody tr")}
    assert rows["Living room"][:3] == ["182", "100 %", "100 %"]
    assert rows["Bedroom 1"][:3] == ["336", "0 %", "0 %"]
    assert "Not measured near this home" in _words(page.select_one("#thermal-outdoor"))


def test_an_overheating_home_on_the_property_page_and_in_the_api(app, client_request, staff):
    """July (London UTC+1): the bedroom at 27 °C from 21:00 to 06:00 UTC, every night: all 126 night hours
    above 26 °C, TM59 (b) allows floor(1 % of 126) = 1: heat medium, shading and ventilation advised. The living
    room at 24 °C: 0 of 182 hours above 28 °C. The API gives the same figures."""
    _home(app, JUL, lambda h: 24.0, lambda h: 27.0 if h >= 21 or h < 6 else 22.0)
    with time_machine.travel(JUL + dt.timedelta(days=14, minutes=5), tick=False):
        client_request.login(staff.officer)
        page = client_request.get("main.property_page", uprn=UPRN)
        assert page.select_one("#thermal-heat").get_text(strip=True) == "Medium"
        assert page.select_one("#thermal-cold").get_text(strip=True) == "None found"
        assert "Bedroom 1: 126 night hours (22:00 to 07:00) above 26 °C; CIBSE TM59 (b) allows 1." in [
            _words(li) for li in page.select("#thermal-reasons li")]
        assert "shading" in _words(page.select_one("#thermal-advice"))
        rows = {_words(tr.th): [_words(td) for td in tr.select("td")] for tr in page.select("#thermal-rooms tbody tr")}
        assert rows["Bedroom 1"][3] == "126 (1)"
        assert rows["Living room"][5] == "0 of 182"
        parts = app.extensions[EXTENSION_KEY]
        with parts.database.session() as session:
            token = create_token(session, session.get(User, staff.officer.id), "thermal test")
        with app.test_client() as client:
            response = client.get(f"/api/v1/properties/{UPRN}/thermal", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()
    assert (data["cold"], data["heat"], data["outdoor_source"]) == ("none", "medium", None)
    assert (data["from"], data["to"]) == ("2026-07-01T00:00:00Z", "2026-07-15T00:00:00Z")
    rooms = {room["name"]: room for room in data["rooms"]}
    assert rooms["Bedroom 1"]["tm59_b"] == {"hours_above_26c": 126, "hours_allowed": 1, "passes": False}
    assert rooms["Living room"]["static_28c"] == {"hours_above_28c": 0, "hours_assessed": 182, "passes": True}
    assert rooms["Living room"]["share_below_18c"] == 0.0
    assert any("shading" in advice for advice in data["advice"])
