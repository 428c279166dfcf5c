"""Sending advice to tenants: consent, channel, quiet hours, rate limit, de-duplication, language, what we do."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from alerts.messages import notify_tenants, parse_quiet_hours, quiet_until
from core.cases import add_case_event, open_case
from core.model import Inspection, Team
from core.model_alerts import OutboxMessage
from tests.alerts.conftest import MONDAY, UPRN, add_home

LONDON_NOON = dt.datetime(2026, 1, 12, 12, 0, tzinfo=dt.UTC)  # GMT in January
SUMMER_NOON = dt.datetime(2026, 7, 13, 11, 0, tzinfo=dt.UTC)  # 12:00 BST


def send(session, settings, now=LONDON_NOON, event="alarm:1", message_type="ventilation"):
    return notify_tenants(session, settings, uprn=UPRN, message_type=message_type, event_key=event, now=now,
                          room_type="bathroom")


@pytest.fixture
def db(tmp_path):
    from core.db import Database

    database = Database(f"sqlite:///{tmp_path}/messages.db")
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("tenant", "status", "channel", "reason"),
    [
        ({}, "pending", "email", None),
        ({"consent": False}, "suppressed", "email", "no consent to be contacted"),
        ({"preferred_channel": "none"}, "suppressed", "none", "the tenant asked for no messages"),
        ({"preferred_channel": "sms"}, "pending", "sms", None),
        ({"preferred_channel": "sms", "phone": None}, "suppressed", "sms", "no mobile number"),
        ({"preferred_channel": "email", "email": None}, "suppressed", "email", "no email address"),
        ({"preferred_channel": "letter"}, "pending", "letter", None),
    ],
)
def test_consent_and_channel_are_honoured(db, alert_settings, tenant, status, channel, reason):
    """No consent, no message: it is recorded as suppressed with the reason; the channel is the tenant's choice."""
    with db.session() as session:
        add_home(session, tenants=[tenant])
        (message,) = send(session, alert_settings)
        assert (message.status, message.channel, message.reason) == (status, channel, reason)
        if channel == "letter":
            assert message.recipient == "Sam Jones\n1 Beech Road, Leeds\nLS6 1AB"
        if channel == "sms" and status == "pending":
            assert message.recipient == "07700900123" and len(message.body) < 480
            assert "Opening a window for 10 minutes after a shower helps" in message.body


@pytest.mark.parametrize(
    ("local_now", "held_until"),
    [
        (dt.datetime(2026, 1, 12, 20, 59, tzinfo=dt.UTC), None),
        (dt.datetime(2026, 1, 12, 21, 0, tzinfo=dt.UTC), dt.datetime(2026, 1, 13, 8, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 1, 13, 2, 30, tzinfo=dt.UTC), dt.datetime(2026, 1, 13, 8, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 1, 13, 8, 0, tzinfo=dt.UTC), None),
        # Summer time: 21:30 BST is 20:30 UTC; quiet hours end at 08:00 BST, 07:00 UTC.
        (dt.datetime(2026, 7, 13, 20, 30, tzinfo=dt.UTC), dt.datetime(2026, 7, 14, 7, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 7, 13, 19, 59, tzinfo=dt.UTC), None),
    ],
)
def test_default_quiet_hours_are_21_to_8_london_time(local_now, held_until):
    """Inside 21:00-08:00 Europe/London a message is held until 08:00; outside it goes at once."""
    assert quiet_until(local_now, parse_quiet_hours("21:00-08:00")) == held_until


def test_quiet_hours_hold_the_message_and_the_tenants_own_hours_win(db, alert_settings):
    """At 22:00 the email waits until 08:00; a tenant whose quiet hours are 23:00-07:00 gets it at once."""
    night = dt.datetime(2026, 1, 12, 22, 0, tzinfo=dt.UTC)
    with db.session() as session:
        add_home(session, tenants=[{}, {"name": "Alex", "quiet_hours_start": "23:00", "quiet_hours_end": "07:00"}])
        default, own = send(session, alert_settings, now=night)
        assert default.not_before == dt.datetime(2026, 1, 13, 8, 0, tzinfo=dt.UTC)
        assert own.not_before is None


def test_letters_ignore_quiet_hours(db, alert_settings):
    """A letter is printed in working hours anyway: no hold."""
    with db.session() as session:
        add_home(session, tenants=[{"preferred_channel": "letter"}])
        (letter,) = send(session, alert_settings, now=dt.datetime(2026, 1, 12, 23, 0, tzinfo=dt.UTC))
        assert letter.not_before is None and letter.status == "pending"


def test_at_most_one_message_per_type_every_three_days(db, alert_settings):
    """A second ventilation message within 3 days is suppressed (rate limit); after 3 days it goes; other types are not held back."""
    with db.session() as session:
        add_home(session)
        (first,) = send(session, alert_settings, now=LONDON_NOON, event="alarm:1")
        (second,) = send(session, alert_settings, now=LONDON_NOON + dt.timedelta(days=2, hours=23), event="alarm:2")
        (other_type,) = send(session, alert_settings, now=LONDON_NOON + dt.timedelta(days=1), event="alarm:3",
                             message_type="possible_leak")
        (third,) = send(session, alert_settings, now=LONDON_NOON + dt.timedelta(days=3, minutes=1), event="alarm:4")
        assert first.status == "pending" and other_type.status == "pending" and third.status == "pending"
        assert second.status == "suppressed" and second.reason.startswith("rate limit: a ventilation message")


def test_the_rate_limit_is_a_setting(db, alert_settings):
    """With DAMPWATCH_ALERTS_RATE_LIMIT_DAYS=0 there is no rate limit."""
    settings = alert_settings.model_copy(update={"alerts_rate_limit_days": 0})
    with db.session() as session:
        add_home(session)
        send(session, settings, event="alarm:1")
        (again,) = send(session, settings, event="alarm:2", now=LONDON_NOON + dt.timedelta(hours=1))
        assert again.status == "pending"


def test_the_same_event_never_makes_a_second_message(db, alert_settings):
    """Evaluating the same event again returns the message already there."""
    with db.session() as session:
        add_home(session, tenants=[{}, {"name": "Alex", "email": "alex@example.org"}])
        first = send(session, alert_settings)
        again = send(session, alert_settings, now=LONDON_NOON + dt.timedelta(minutes=5))
        assert [m.id for m in first] == [m.id for m in again]
        assert all(m.status == "pending" for m in first)  # two tenants of one home: both told
        assert session.scalars(select(OutboxMessage)).all() == first


def test_welsh_speakers_get_welsh(db, alert_settings):
    """A tenant whose language is cy gets the Welsh template."""
    with db.session() as session:
        add_home(session, tenants=[{"language": "cy"}])
        (message,) = send(session, alert_settings, now=SUMMER_NOON)
        assert message.language == "cy"
        assert message.body.startswith("Annwyl Sam Jones")
        assert "ager yn yr ystafell ymolchi" in message.body


def test_the_message_says_what_we_are_doing(db, alert_settings):
    """No case: we are looking into it; an open case: the repair team is asked; a booked visit: its date."""
    with db.session() as session:
        add_home(session)
        (none,) = send(session, alert_settings, event="alarm:1")
        case = open_case(session, uprn=UPRN, aware_at=MONDAY, source="risk_flag", actor="officer@example.org")
        (with_case,) = send(session, alert_settings.model_copy(update={"alerts_rate_limit_days": 0}),
                            event="alarm:2")
        team = Team(name="North", daily_capacity=3)
        session.add(team)
        session.flush()
        session.add(Inspection(case=case, uprn=UPRN, team=team, scheduled_for=dt.date(2026, 1, 15),
                               created_by="officer@example.org"))
        add_case_event(session, case, "inspection_scheduled", "officer@example.org")
        session.flush()
        (with_visit,) = send(session, alert_settings.model_copy(update={"alerts_rate_limit_days": 0}),
                             event="alarm:3")
        assert "We are looking at the readings" in none.body
        assert "We've asked our repair team to check your extractor fan" in with_case.body
        assert with_case.case_id == case.id
        assert "Our repair team will visit on Thursday 15 January" in with_visit.body
