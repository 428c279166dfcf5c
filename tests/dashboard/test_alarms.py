"""The alarm pages: the list with filters, an alarm's page, and acknowledge / assign / note / resolve / open a case."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from alerts.engine import evaluate_device_health, evaluate_scoring
from core.model import Case
from core.model_alerts import Alarm
from dashboard.extensions import EXTENSION_KEY
from tests.alerts.conftest import UPRN, add_home, set_health
from tests.alerts.test_engine import add_run


def database_of(app):
    return app.extensions[EXTENSION_KEY].database


@pytest.fixture
def alarms(app, settings):
    """A home with a high-risk alarm (poor ventilation) and a silent-sensor alarm; their ids by rule."""
    database = database_of(app)
    raised = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    with database.session() as session:
        add_home(session)
        add_run(session, raised, 62.0, cause="poor_ventilation")
        evaluate_scoring(session, settings, raised)
        for device in ("bathroom", "kitchen", "bedroom"):
            set_health(session, f"dev-{UPRN}-{device}", last_seen=raised if device == "kitchen" else
                       raised + dt.timedelta(hours=29))
        evaluate_device_health(session, raised + dt.timedelta(hours=30), settings)
        found = {a.rule: a.id for a in session.scalars(select(Alarm).where(Alarm.uprn == UPRN))}
        assert session.scalar(select(func.count()).select_from(Alarm)) == len(found) == 2
    return found


def alarm(app, alarm_id: int) -> Alarm:
    with database_of(app).session() as session:
        found = session.get(Alarm, alarm_id)
        _ = found.events
        return found


def test_the_list_shows_alarms_with_filters(client_request, alarms):
    """Officers see every active alarm; filtering by rule and severity narrows the table."""
    page = client_request.get("alarms.alarm_list")
    rows = page.select("#alarms tbody tr")
    assert len(rows) == len(alarms)
    assert "Risk band rose" in rows[0].text and "High" in rows[0].text  # most severe first
    assert "1 Beech Road, Leeds, LS6 1AB" in rows[0].text
    page = client_request.get("alarms.alarm_list", rule="sensor_silent")
    assert [r.select_one("a").text.strip().startswith("Sensor silent") for r in page.select("#alarms tbody tr")] == [True]
    page = client_request.get("alarms.alarm_list", severity="critical")
    assert page.select("#alarms tbody tr") == [] and "There are no alarms like that" in page.text
    client_request.get("alarms.alarm_list", _expected_status=400, severity="apocalyptic")


def test_acknowledge_assign_note_and_resolve(client_request, alarms, staff, app):
    """Each action is recorded in the alarm's history and shown on its page."""
    alarm_id = alarms["risk_band"]
    page = client_request.get("alarms.alarm_page", alarm_id=alarm_id)
    assert "The home's damp and mould risk is high" in page.select_one("#alarm-message").text
    client_request.post("alarms.acknowledge", alarm_id=alarm_id)
    client_request.post("alarms.assign", _data={"assignee": str(staff.repair.id)}, alarm_id=alarm_id)
    client_request.post("alarms.add_note", _data={"text": "Fan checked: not running"}, alarm_id=alarm_id)
    page = client_request.get("alarms.alarm_page", alarm_id=alarm_id)
    assert "Acknowledged" in page.select_one("#alarm-status").text
    assert page.select_one("#alarm-assignee").text.strip() == "Repair Person"
    history = page.select_one("#alarm-history").text
    assert "Fan checked: not running" in history and "officer@example.org" in history
    client_request.post("alarms.resolve", _data={"note": "Fan replaced"}, alarm_id=alarm_id)
    done = alarm(app, alarm_id)
    assert (done.status, done.resolved_by, done.assignee_user_id) == ("resolved", "officer@example.org",
                                                                       staff.repair.id)
    assert [e.kind for e in done.events] == ["raised", "acknowledged", "assigned", "note", "resolved"]


def test_a_note_without_text_is_an_error_on_the_page(client_request, alarms):
    """An empty note shows the GOV.UK error summary and the 'Error: ' title prefix."""
    page = client_request.post("alarms.add_note", _data={"text": ""}, _expected_status=400,
                               alarm_id=alarms["risk_band"])
    assert page.title.text.startswith("Error: ")
    assert "Enter the note" in page.select_one(".govuk-error-summary").text


def test_opening_a_case_from_an_alarm(client_request, alarms, app):
    """'Open a case' starts the clocks when the alarm was raised and goes to the case page."""
    alarm_id = alarms["risk_band"]
    response = client_request.post_response("alarms.open_case", alarm_id=alarm_id)
    with database_of(app).session() as session:
        case = session.scalars(select(Case)).one()
        raised = session.get(Alarm, alarm_id).raised_at
        assert (case.source, case.aware_at, case.uprn) == ("alarm", raised, UPRN)
    assert response.headers["Location"].endswith(f"/cases/{case.id}")
    # The other alarm at the same home links to that case rather than opening another.
    client_request.post("alarms.open_case", alarm_id=alarms["sensor_silent"])
    assert alarm(app, alarms["sensor_silent"]).case_id == case.id


@pytest.mark.parametrize(
    ("role", "list_status", "ack_status", "case_status"),
    # The repair member's team has no inspection at the home: the alarm is not theirs to see (404).
    [("officer", 200, 302, 302), ("repair", 200, 404, 403), ("manager", 200, 302, 302), ("admin", 403, 403, 403)],
)
def test_who_can_do_what(client_request, staff, alarms, role, list_status, ack_status, case_status):
    """Officers, repair teams and managers work alarms; only officers and managers open cases; admins see none."""
    client_request.login(staff.by_role(role))
    client_request.get("alarms.alarm_list", _expected_status=list_status)
    client_request.post("alarms.acknowledge", _expected_status=ack_status, alarm_id=alarms["sensor_silent"])
    client_request.post("alarms.open_case", _expected_status=case_status, alarm_id=alarms["risk_band"])


def test_signed_out_people_are_sent_to_sign_in(client_request, alarms):
    """No session: the alarm pages redirect to the sign-in page."""
    client_request.logout()
    response = client_request.get_response("alarms.alarm_page", _expected_status=302, alarm_id=alarms["risk_band"])
    assert "/sign-in" in response.headers["Location"]


def test_an_unknown_alarm_is_not_found(client_request, alarms):
    """An id that is not an alarm is a 404."""
    client_request.get("alarms.alarm_page", _expected_status=404, alarm_id=999999)
