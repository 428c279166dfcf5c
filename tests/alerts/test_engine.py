"""The rules on the app database: silent sensors, batteries, risk, leaks, cold homes and sustained damp."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from alerts.engine import evaluate_device_health, evaluate_scoring
from core.db import Database
from core.model import PropertyRisk, Room, RoomDay, ScoringRun
from core.model_alerts import Alarm, AlarmEvent, AlarmRuleState, OutboxMessage
from tests.alerts.conftest import MONDAY, UPRN, add_home, set_health

HOUR = dt.timedelta(hours=1)
DEVICES = [f"dev-{UPRN}-{t}" for t in ("bathroom", "kitchen", "bedroom")]


def alarms(session, rule: str | None = None) -> list[Alarm]:
    query = select(Alarm).order_by(Alarm.id)
    if rule:
        query = query.where(Alarm.rule == rule)
    return list(session.scalars(query))


def tenant_messages(session, message_type: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.tenant_id.is_not(None)).order_by(OutboxMessage.id)
    if message_type:
        query = query.where(OutboxMessage.message_type == message_type)
    return list(session.scalars(query))


def healthy(session, at: dt.datetime) -> None:
    for device in DEVICES:
        set_health(session, device, last_seen=at)


def test_a_silent_sensor_raises_after_the_silent_hours_and_clears_when_it_is_back(database, alert_settings):
    """Silent 24 h → one alarm and one kind message; readings back for an hour → resolved by the system."""
    with database.session() as session:
        add_home(session)
        healthy(session, MONDAY)
    last = MONDAY
    bathroom = DEVICES[0]
    for hours in (1, 12, 23.9):
        with database.session() as session:
            for device in DEVICES[1:]:
                set_health(session, device, last_seen=last + hours * HOUR)
            evaluate_device_health(session, last + hours * HOUR, alert_settings)
            assert alarms(session) == []
    with database.session() as session:
        for device in DEVICES[1:]:
            set_health(session, device, last_seen=last + 24 * HOUR)
        report = evaluate_device_health(session, last + 24 * HOUR + 60 * dt.timedelta(seconds=1), alert_settings)
        assert len(report.raised) == 1
        (alarm,) = alarms(session)
        assert (alarm.rule, alarm.device_id, alarm.status, alarm.severity) == ("sensor_silent", bathroom, "open",
                                                                               "medium")
        assert alarm.uprn == UPRN and "has sent nothing since 12 Jan 2026 10:00" in alarm.message
        (message,) = tenant_messages(session, "sensor_silent")
        assert message.status == "pending" and message.alarm_id == alarm.id
        assert "The sensor in the bathroom has not sent any readings since 12 January" in message.body
    # The sensor comes back; a minute's reading is not enough to clear (at least an hour of readings).
    back = MONDAY + 30 * HOUR
    with database.session() as session:
        healthy(session, back)
        evaluate_device_health(session, back + dt.timedelta(minutes=5), alert_settings)
        healthy(session, back + 50 * dt.timedelta(minutes=1))
        evaluate_device_health(session, back + dt.timedelta(minutes=55), alert_settings)
        assert alarms(session)[0].status == "open"
        healthy(session, back + 65 * dt.timedelta(minutes=1))
        report = evaluate_device_health(session, back + dt.timedelta(minutes=66), alert_settings)
        (alarm,) = alarms(session)
        assert report.cleared == [alarm.id]
        assert alarm.status == "resolved" and alarm.resolved_by == "dampwatch alerts"
        assert alarm.cleared_at == back + dt.timedelta(minutes=66)
        assert [e.kind for e in alarm.events] == ["raised", "cleared"]


def test_a_sensor_that_keeps_dropping_out_near_the_threshold_does_not_flap(home_db, alert_settings):
    """A sensor silent just over and just under 24 h, over and over, raises once and never clears in between."""
    now = MONDAY
    with home_db.session() as session:
        healthy(session, now)
    transitions = 0
    for _ in range(6):
        now = now + 24.5 * HOUR  # 24.5 h silent: over the line
        with home_db.session() as session:
            transitions += len(evaluate_device_health(session, now, alert_settings).raised)
            # One reading arrives, then silence again for 23.5 h (back under the line, but never for an hour).
            healthy(session, now)
            transitions += len(evaluate_device_health(session, now + dt.timedelta(minutes=10), alert_settings).cleared)
    with home_db.session() as session:
        assert len(alarms(session, "sensor_silent")) == 3  # one per device
        assert transitions == 3
        assert all(a.status == "open" for a in alarms(session))


def test_rule_state_survives_a_restart(tmp_path, alert_settings):
    """A condition that began before a restart completes after it: the state lives in the database."""
    url = f"sqlite:///{tmp_path}/restart.db"
    database = Database(url)
    with database.session() as session:
        add_home(session)
        healthy(session, MONDAY)
        for device in DEVICES:
            set_health(session, device, last_seen=MONDAY, battery_v=2.5)
        evaluate_device_health(session, MONDAY + 3 * HOUR, alert_settings)  # low for 0 h of the 6 needed
        assert alarms(session) == []
    database.dispose()
    database = Database(url)  # "restarted"
    with database.session() as session:
        state = session.get(AlarmRuleState, ("battery_low", f"device:{DEVICES[0]}"))
        assert state.condition_since == MONDAY + 3 * HOUR
        for device in DEVICES:
            set_health(session, device, last_seen=MONDAY + 9 * HOUR, battery_v=2.5)
        evaluate_device_health(session, MONDAY + 9 * HOUR, alert_settings)
        evaluate_device_health(session, MONDAY + 9 * HOUR, alert_settings)  # the same moment again: no change
        low = alarms(session, "battery_low")
        assert len(low) == 3 and {a.severity for a in low} == {"low"}
        assert tenant_messages(session) == []  # batteries are for staff, not tenants
    database.dispose()


# -- risk rules on crafted scoring runs -------------------------------------------------------------------------


def add_run(session, at: dt.datetime, score: float | None, *, band: str | None = None, cause: str | None = None,
            cold_home: bool = False, mean_temperature_c: float = 19.0, uprn: str = UPRN) -> PropertyRisk:
    run = ScoringRun(started_at=at, finished_at=at, mode="incremental", scored_until=at, model_name="physics",
                     model_version="1")
    session.add(run)
    session.flush()
    if band is None:
        band = "low" if score < 25 else "medium" if score < 50 else "high" if score < 75 else "critical"
    bathroom = session.scalars(select(Room).where(Room.uprn == uprn, Room.room_type == "bathroom")).one()
    risk = PropertyRisk(run_id=run.id, uprn=uprn, computed_at=at, score=score, physics_score=score, band=band,
                        driver_room_id=bathroom.id, driver_room=bathroom.name, cause=cause, cold_home=cold_home,
                        mean_temperature_c=mean_temperature_c, data_coverage=1.0, outdoor_source="weather",
                        reasons=[], what_would_help=[], model_name="physics", model_version="1")
    session.add(risk)
    session.flush()
    return risk


def test_a_risk_band_rise_raises_once_and_clears_only_well_below_for_three_days(database, alert_settings):
    """medium → high raises; hovering 45-55 keeps it; below 40 for 3 days clears; critical later is a new alarm."""
    with database.session() as session:
        add_home(session)
    series = [(0, 40.0), (1, 55.0), (2, 48.0), (3, 52.0), (4, 45.0), (5, 78.0), (6, 38.0), (7, 41.0), (8, 35.0),
              (9, 30.0), (10, 30.0), (11, 32.0), (12, 30.0)]
    raised_on, cleared_on = [], []
    for day, score in series:
        at = MONDAY + dt.timedelta(days=day)
        with database.session() as session:
            add_run(session, at, score, cause="poor_ventilation")
            report = evaluate_scoring(session, alert_settings, at)
            raised_on += [day] * len(report.raised)
            cleared_on += [day] * len(report.cleared)
    assert raised_on == [1]
    assert cleared_on == [11]  # below 40 from day 8 (day 7's 41 breaks the run from day 6) for 3 days
    with database.session() as session:
        (alarm,) = alarms(session, "risk_band")
        assert alarm.severity == "critical"  # it rose from high to critical on day 5
        assert "up from medium" in alarm.message and "poor ventilation" in alarm.message
        kinds = [e.kind for e in session.scalars(select(AlarmEvent).where(AlarmEvent.alarm_id == alarm.id)
                                                 .order_by(AlarmEvent.at, AlarmEvent.id))]
        assert kinds == ["raised", "severity_raised", "cleared"]
        (message,) = tenant_messages(session, "ventilation")
        assert "extractor fan" in message.body


def test_insufficient_data_is_no_information(home_db, alert_settings):
    """A run with the band 'insufficient data' neither raises nor clears the risk rule."""
    with home_db.session() as session:
        add_run(session, MONDAY, 60.0, cause="leak")
        evaluate_scoring(session, alert_settings, MONDAY)
        for day in range(1, 8):
            add_run(session, MONDAY + dt.timedelta(days=day), None, band="insufficient data")
            evaluate_scoring(session, alert_settings, MONDAY + dt.timedelta(days=day))
        assert [a.status for a in alarms(session)] == ["open", "open"]  # risk band and likely leak
        assert {a.rule for a in alarms(session)} == {"risk_band", "likely_leak"}


def test_a_likely_leak_and_a_cold_home(home_db, alert_settings):
    """Analytics' leak cause and cold-home flag raise their alarms; the tenant gets one message of each kind."""
    with home_db.session() as session:
        add_run(session, MONDAY, 30.0, cause="leak", cold_home=True, mean_temperature_c=15.2)
        report = evaluate_scoring(session, alert_settings, MONDAY)
        assert {a.rule for a in alarms(session)} == {"likely_leak", "cold_home"}
        assert len(report.raised) == 2
        cold = alarms(session, "cold_home")[0]
        assert "averaged 15.2 °C" in cold.message
        assert {m.message_type for m in tenant_messages(session)} == {"possible_leak", "under_heating"}
        # Warm again (17.5 °C) for three days clears the cold home; 16.5 °C would not (between the levels).
        for day, temperature in ((1, 16.5), (2, 17.5), (3, 17.5), (4, 17.5), (5, 17.6)):
            add_run(session, MONDAY + dt.timedelta(days=day), 30.0, cause="leak", mean_temperature_c=temperature)
            evaluate_scoring(session, alert_settings, MONDAY + dt.timedelta(days=day))
        assert alarms(session, "cold_home")[0].status == "resolved"
        assert alarms(session, "cold_home")[0].cleared_at == MONDAY + dt.timedelta(days=5)
        assert alarms(session, "likely_leak")[0].status == "open"


def add_room_day(session, room_id: int, day: dt.date, hours_over_80: int, hours_data: int = 24) -> None:
    zeros = dict.fromkeys(
        ("mould_index_start", "mould_index_end", "mould_index_max", "sum_temperature_c", "sum_humidity_pct",
         "sum_surface_temperature_c", "sum_surface_rh_pct", "sum_outdoor_temperature_c", "sum_outdoor_humidity_pct",
         "sum_vapour_pressure_excess_pa", "ventilation_remaining_sum"), 0.0)
    session.add(RoomDay(room_id=room_id, day=day, dry_spell_hours_start=0, hours_data=hours_data,
                        hours_outdoor_measured=0, hours_surface_rh_over_80=hours_over_80, hours_rh_over_70=0,
                        hours_below_16=0, hours_below_18=0, ventilation_events=0, **zeros))


@pytest.mark.parametrize(
    ("hours_per_day", "raised"),
    [
        ([20, 20, 20], True),  # 72 hours of damp days
        ([20, 20, 10, 20, 20], False),  # a dry day breaks the run
        ([20, 20], False),  # 48 hours is not 72
        ([20, 20, 24, 20], True),
    ],
)
def test_sustained_damp_needs_72_hours(home_db, alert_settings, hours_per_day, raised):
    """The bathroom's coldest wall above 80 % for most of each day raises only after 72 hours."""
    first = MONDAY.date()
    with home_db.session() as session:
        bathroom = session.scalars(select(Room).where(Room.room_type == "bathroom")).one()
        for offset, hours in enumerate(hours_per_day):
            add_room_day(session, bathroom.id, first + dt.timedelta(days=offset), hours)
        end = dt.datetime.combine(first + dt.timedelta(days=len(hours_per_day)), dt.time(3), tzinfo=dt.UTC)
        add_run(session, end, 10.0)
        evaluate_scoring(session, alert_settings, end)
        found = alarms(session, "sustained_damp")
        assert bool(found) is raised
        if raised:
            assert "In the Bathroom, the coldest wall has been above 80 % humidity" in found[0].message
            assert found[0].room_id == bathroom.id


def test_the_risk_rules_read_each_scoring_run_once(home_db, alert_settings):
    """Evaluating again with no new scoring run takes nothing in twice (no second alarm, no second message)."""
    with home_db.session() as session:
        add_run(session, MONDAY, 60.0, cause="poor_ventilation")
        first = evaluate_scoring(session, alert_settings, MONDAY)
        second = evaluate_scoring(session, alert_settings, MONDAY + HOUR)
        assert first.observations > 0 and second.observations == 0
        assert len(alarms(session, "risk_band")) == 1
        assert len(tenant_messages(session)) == 1
