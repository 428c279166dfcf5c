"""The alarm lifecycle, escalation on working days tied to the case clocks (frozen clock), and the digest."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import select

from alerts import alarms as lifecycle
from alerts.digest import send_digest_if_due
from alerts.engine import escalate, evaluate_scoring
from core.cases import open_case
from core.model import Case, User
from core.model_alerts import Alarm, OutboxMessage
from tests.alerts.conftest import UPRN, add_home
from tests.alerts.test_engine import add_run

LONDON_10AM_THURSDAY = dt.datetime(2026, 4, 2, 9, 0, tzinfo=dt.UTC)  # 10:00 BST, before Good Friday


@pytest.fixture
def db(tmp_path):
    from core.db import Database

    database = Database(f"sqlite:///{tmp_path}/alarms.db")
    with database.session() as session:
        add_home(session)
        session.add(User(email="manager@example.org", name="Mo Manager", role="manager", password_hash="x"))
        session.add(User(email="officer@example.org", name="Olu Officer", role="officer", password_hash="x"))
    yield database
    database.dispose()


def raise_alarm(database, settings, at: dt.datetime) -> int:
    with database.session() as session:
        add_run(session, at, 60.0, cause="poor_ventilation")
        (alarm_id,) = evaluate_scoring(session, settings, at).raised
        return alarm_id


def escalations(database) -> list[OutboxMessage]:
    with database.session() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.message_type == "alarm_escalation")
                                    .order_by(OutboxMessage.id)))


def test_escalation_skips_weekends_and_bank_holidays(db, alert_settings):
    """Raised 10:00 Thursday before Easter: Good Friday, the weekend and Easter Monday do not count; escalated
    10:00 Tuesday, again 10:00 Wednesday; acknowledged, never again."""
    raised = LONDON_10AM_THURSDAY
    alarm_id = raise_alarm(db, alert_settings, raised)
    first = dt.datetime(2026, 4, 7, 9, 0, tzinfo=dt.UTC)  # Tuesday 10:00 BST
    for moment, expected_level in [(raised + dt.timedelta(hours=25), 0), (first - dt.timedelta(minutes=1), 0),
                                   (first, 1), (first + dt.timedelta(hours=3), 1),
                                   (first + dt.timedelta(days=1), 2)]:
        with time_machine.travel(moment, tick=False), db.session() as session:
            escalate(session, alert_settings, moment)
            alarm = session.get(Alarm, alarm_id)
            assert alarm.escalation_level == expected_level, moment
    sent = escalations(db)
    assert [m.recipient for m in sent] == ["manager@example.org", "manager@example.org"]
    assert sent[0].subject.startswith(f"Alarm {alarm_id} not acknowledged: Risk band rose at 1 Beech Road")
    assert f"https://dampwatch.example.org/alarms/{alarm_id}" in sent[0].body
    with db.session() as session:
        alarm = session.get(Alarm, alarm_id)
        assert alarm.next_escalation_at == dt.datetime(2026, 4, 9, 9, 0, tzinfo=dt.UTC)  # Thursday 10:00
        lifecycle.acknowledge(session, alarm, "officer@example.org", "Looking at it")
    with db.session() as session:
        escalate(session, alert_settings, dt.datetime(2026, 4, 20, tzinfo=dt.UTC))
        assert session.get(Alarm, alarm_id).escalation_level == 2
    assert len(escalations(db)) == 2


def test_an_open_cases_deadline_brings_escalation_forward(db, alert_settings):
    """With the investigation due in 2 working days, the alarm escalates at 08:00 that morning, not a day later."""
    aware = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)  # Monday: investigate due end of Monday 19 January
    with time_machine.travel(aware, tick=False), db.session() as session:
        open_case(session, uprn=UPRN, aware_at=aware, source="tenant_report", actor="officer@example.org")
    raised = dt.datetime(2026, 1, 14, 15, 0, tzinfo=dt.UTC)  # Wednesday 15:00
    alarm_id = raise_alarm(db, alert_settings, raised)
    thursday_8am = dt.datetime(2026, 1, 15, 8, 0, tzinfo=dt.UTC)  # 2 working days before Monday 19th
    with time_machine.travel(thursday_8am - dt.timedelta(minutes=1), tick=False), db.session() as session:
        escalate(session, alert_settings, thursday_8am - dt.timedelta(minutes=1))
        alarm = session.get(Alarm, alarm_id)
        assert alarm.escalation_level == 0 and alarm.next_escalation_at == thursday_8am
        assert alarm.case_id is not None  # linked to the open case when raised
    with time_machine.travel(thursday_8am, tick=False), db.session() as session:
        escalate(session, alert_settings, thursday_8am)
        alarm = session.get(Alarm, alarm_id)
        assert alarm.escalation_level == 1
        assert "Investigate due by 19 Jan 2026 23:59" in alarm.events[-1].text
    (email,) = escalations(db)
    assert "The home has an open case: Investigate is due by 19 Jan 2026 23:59." in email.body


def test_an_alarm_raised_inside_the_deadline_window_escalates_at_once(db, alert_settings):
    """The case's deadline is tomorrow: the alarm goes to managers the first time escalation runs."""
    aware = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(aware, tick=False), db.session() as session:
        open_case(session, uprn=UPRN, aware_at=aware, source="tenant_report", actor="officer@example.org")
    raised = dt.datetime(2026, 1, 16, 15, 0, tzinfo=dt.UTC)  # Friday; investigation due Monday
    alarm_id = raise_alarm(db, alert_settings, raised)
    with time_machine.travel(raised, tick=False), db.session() as session:
        escalate(session, alert_settings, raised)
        assert session.get(Alarm, alarm_id).escalation_level == 1


def test_lifecycle_acknowledge_assign_note_resolve(db, alert_settings):
    """Each step is kept in the alarm's history and the audit log; a resolved alarm takes no more actions."""
    alarm_id = raise_alarm(db, alert_settings, LONDON_10AM_THURSDAY)
    with db.session() as session:
        alarm = session.get(Alarm, alarm_id)
        officer = session.scalars(select(User).where(User.role == "officer")).one()
        lifecycle.acknowledge(session, alarm, "officer@example.org", user_id=officer.id)
        with pytest.raises(lifecycle.AlarmError, match="already acknowledged"):
            lifecycle.acknowledge(session, alarm, "officer@example.org")
        lifecycle.assign(session, alarm, officer, "manager@example.org")
        lifecycle.add_note(session, alarm, "officer@example.org", "Tenant says the fan is noisy")
        with pytest.raises(lifecycle.AlarmError, match="Enter a note"):
            lifecycle.add_note(session, alarm, "officer@example.org", "  ")
        lifecycle.resolve(session, alarm, "officer@example.org", "Fan replaced", settings=alert_settings)
        assert [e.kind for e in alarm.events] == ["raised", "acknowledged", "assigned", "note", "resolved"]
        assert (alarm.status, alarm.assignee_user_id, alarm.resolved_by) == ("resolved", officer.id,
                                                                            "officer@example.org")
        with pytest.raises(lifecycle.AlarmError, match="resolved"):
            lifecycle.acknowledge(session, alarm, "x")


def test_opening_a_case_from_an_alarm_starts_the_clock_when_the_alarm_was_raised(db, alert_settings):
    """The case's aware_at is the alarm's raised_at (the sensor alert made the landlord aware); a second click links."""
    raised = dt.datetime(2026, 1, 12, 10, 0, tzinfo=dt.UTC)
    alarm_id = raise_alarm(db, alert_settings, raised)
    with db.session() as session:
        alarm = session.get(Alarm, alarm_id)
        case, opened = lifecycle.open_case_for_alarm(session, alarm, "officer@example.org", settings=alert_settings)
        assert opened and (case.source, case.aware_at, alarm.case_id) == ("alarm", raised, case.id)
        again, opened_again = lifecycle.open_case_for_alarm(session, alarm, "officer@example.org")
        assert not opened_again and again.id == case.id and len(session.scalars(select(Case)).all()) == 1


def test_alarm_events_go_to_the_webhook(db, alert_settings):
    """With a webhook configured, raised and escalated alarms are written to the outbox as signed-webhook events."""
    settings = alert_settings.model_copy(update={"webhook_url": "https://hms.example.org/events",
                                                 "webhook_secret": "k"})
    alarm_id = raise_alarm(db, settings, LONDON_10AM_THURSDAY)
    with db.session() as session:
        (event,) = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")).all()
        payload = json.loads(event.body)
        assert payload["event"] == "alarm.raised" and payload["alarm"]["id"] == alarm_id
        assert payload["alarm"]["uprn"] == UPRN and payload["schema_version"] == 1
        assert event.dedup_key == f"webhook:alarm.raised:{alarm_id}"


def test_the_daily_digest_lists_new_and_escalating_alarms_once_a_day(db, alert_settings):
    """After 07:00 London, one digest per recipient per day; nothing new, no digest."""
    raised = dt.datetime(2026, 1, 12, 10, 0, tzinfo=dt.UTC)
    raise_alarm(db, alert_settings, raised)
    with db.session() as session:
        assert send_digest_if_due(session, alert_settings, dt.datetime(2026, 1, 13, 6, 59, tzinfo=dt.UTC)) == []
        (digest,) = send_digest_if_due(session, alert_settings, dt.datetime(2026, 1, 13, 7, 0, tzinfo=dt.UTC))
        assert digest.recipient == "duty@example.org"
        assert digest.subject == "DampWatch daily digest: 1 new and 0 escalating alarms"
        assert "high: Risk band rose at 1 Beech Road, Leeds, LS6 1AB" in digest.body
        assert send_digest_if_due(session, alert_settings, dt.datetime(2026, 1, 13, 9, 0, tzinfo=dt.UTC)) == []
        escalate(session, alert_settings, dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC))
        (next_day,) = send_digest_if_due(session, alert_settings, dt.datetime(2026, 1, 14, 7, 5, tzinfo=dt.UTC))
        assert next_day.subject == "DampWatch daily digest: 0 new and 1 escalating alarms"
        assert send_digest_if_due(session, alert_settings.model_copy(update={"alerts_digest_to": ""}),
                                  dt.datetime(2026, 1, 15, 8, 0, tzinfo=dt.UTC)) == []
