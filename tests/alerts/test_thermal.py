"""Excess cold and heat alarms from real readings (SQLite readings store and app database): raise after 3 days,
clear after 2, no flapping at a threshold, a case of that hazard with the Environmental Sensor trigger."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select

from alerts.engine import RuleConfig
from alerts.thermal import day_values, evaluate_thermal, thermal_observations
from core.awaab_model import export_cases
from core.model import Case
from core.model_alerts import Alarm, OutboxMessage
from core.readings import Reading
from tests.alerts.conftest import UPRN

BEDROOM = f"dev-{UPRN}-bedroom"


def write_days(store, device_id: str, first: dt.date, days: int, temp_for_hour) -> None:
    """Readings every 30 minutes for whole UTC days, at the temperature ``temp_for_hour(utc_hour)``."""
    readings = []
    start = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
    for step in range(days * 48):
        ts = start + dt.timedelta(minutes=30 * step)
        readings.append(Reading(device_id=device_id, ts=ts, temperature_c=temp_for_hour(ts.hour), humidity_pct=50.0))
    store.write(readings)


@pytest.fixture
def thermal_settings(alert_settings):
    return alert_settings.model_copy(update={"alerts_open_case_rules": "excess_cold,excess_heat"})


def test_the_rules_are_configured_with_hysteresis(thermal_settings):
    """Raise at 50 % of hours below 18 °C, clear under 25 %; heat at 3 hours, clear under 1."""
    rules = RuleConfig.from_settings(thermal_settings).rules
    assert (rules["excess_cold"].raise_at, rules["excess_cold"].clear_at) == (0.5, 0.25)
    assert (rules["excess_heat"].raise_at, rules["excess_heat"].clear_at) == (3.0, 1.0)


def test_a_cold_bedroom_raises_after_three_days_and_opens_an_excess_cold_case(home_db, store, thermal_settings):
    """15 °C all day in January: nothing after 2 days, an alarm after 3, a case with the hazard, advice on
    energy help for the tenant; the export names the trigger Environmental Sensor."""
    write_days(store, BEDROOM, dt.date(2026, 1, 5), 3, lambda h: 15.0)
    with home_db.session() as session:
        report = evaluate_thermal(session, store, thermal_settings, dt.datetime(2026, 1, 7, 12, 0, tzinfo=dt.UTC))
        assert report.raised == []
    with home_db.session() as session:
        report = evaluate_thermal(session, store, thermal_settings, dt.datetime(2026, 1, 8, 9, 0, tzinfo=dt.UTC))
        assert len(report.raised) == 1
        alarm = session.get(Alarm, report.raised[0])
        assert alarm.rule == "excess_cold" and alarm.severity == "high"
        assert "100 % of occupied hours were below 18 °C" in alarm.message
        case = session.get(Case, alarm.case_id)
        assert [h.hazard for h in case.hazards] == ["excess_cold"] and case.source == "alarm"
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.alarm_id == alarm.id)).one()
        assert message.message_type == "under_heating" and "simpleenergyadvice" in message.body
        data = export_cases(session, now=dt.datetime(2026, 1, 8, 9, 0, tzinfo=dt.UTC))
        assert data.entities["hazard_report"][0]["reported_by"] == "Environmental Sensor"
    # Warm again: cleared after two warm days, not one.
    write_days(store, BEDROOM, dt.date(2026, 1, 8), 2, lambda h: 21.0)
    with home_db.session() as session:
        assert evaluate_thermal(session, store, thermal_settings,
                                dt.datetime(2026, 1, 9, 9, 0, tzinfo=dt.UTC)).cleared == []
        assert len(evaluate_thermal(session, store, thermal_settings,
                                    dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)).cleared) == 1


def test_a_room_hovering_at_the_threshold_does_not_flap(home_db, store, thermal_settings):
    """Cold and warm days taking turns never make three cold days running: no alarm."""
    for offset in range(6):
        write_days(store, BEDROOM, dt.date(2026, 1, 5) + dt.timedelta(days=offset), 1,
                   (lambda h: 15.0) if offset % 2 == 0 else (lambda h: 20.0))
    with home_db.session() as session:
        report = evaluate_thermal(session, store, thermal_settings, dt.datetime(2026, 1, 11, 9, 0, tzinfo=dt.UTC))
        assert report.raised == []


def test_a_hot_bedroom_at_night_raises_excess_heat(home_db, store, thermal_settings):
    """A July bedroom at 28 °C from 21:00 to 06:00 UTC (22:00-07:00 BST) on 3 nights: overheating advice."""
    write_days(store, BEDROOM, dt.date(2026, 7, 6), 3, lambda h: 28.0 if (h >= 21 or h < 6) else 24.0)
    with home_db.session() as session:
        report = evaluate_thermal(session, store, thermal_settings, dt.datetime(2026, 7, 9, 9, 0, tzinfo=dt.UTC))
        alarms = [session.get(Alarm, i) for i in report.raised]
        assert [a.rule for a in alarms] == ["excess_heat"]
        assert "above 26 °C (at night, 22:00-07:00, CIBSE TM59)" in alarms[0].message
        case = session.get(Case, alarms[0].case_id)
        assert [h.hazard for h in case.hazards] == ["excess_heat"]
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.alarm_id == alarms[0].id)).one()
        assert message.message_type == "overheating" and "curtains" in message.body


def test_too_little_data_is_no_information(home_db, store, thermal_settings):
    """A day with 3 hours of readings gives no value (neither raises nor clears)."""
    index = pd.date_range("2026-01-05 09:00", periods=3, freq="h", tz="UTC")
    assert day_values(pd.Series([10.0, 10.0, 10.0], index=index), "bedroom")["share_18"] is None
    with home_db.session() as session:
        assert thermal_observations(session, store, dt.datetime(2026, 1, 8, tzinfo=dt.UTC)) == []


def test_an_officer_opening_a_case_from_a_heat_alarm_gets_the_heat_hazard(home_db, store, alert_settings):
    """Without automatic cases, the officer's "open a case" on an excess heat alarm opens an excess heat case."""
    from alerts.alarms import open_case_for_alarm

    write_days(store, BEDROOM, dt.date(2026, 7, 6), 3, lambda h: 28.0 if (h >= 21 or h < 6) else 24.0)
    now = dt.datetime(2026, 7, 9, 9, 0, tzinfo=dt.UTC)
    with home_db.session() as session:
        alarm = session.get(Alarm, evaluate_thermal(session, store, alert_settings, now).raised[0])
        assert alarm.case_id is None
        case, opened = open_case_for_alarm(session, alarm, "officer@example.org", now=now)
        assert opened and [h.hazard for h in case.hazards] == ["excess_heat"] and case.aware_at == alarm.raised_at


KITCHEN = f"dev-{UPRN}-kitchen"


def _weather(session, first: dt.date, days: int, temperature_c: float) -> None:
    """An imported weather file for the home's district (LS6), every hour of ``days`` days from ``first``."""
    from core.model import WeatherHour

    start = dt.datetime.combine(first, dt.time(0), tzinfo=dt.UTC)
    session.add_all([WeatherHour(area="LS6", hour=start + dt.timedelta(hours=n), temperature_c=temperature_c,
                                 humidity_pct=70.0, source="test") for n in range(days * 24)])


@pytest.mark.parametrize(
    ("outdoor_c", "kitchen_c", "raised", "limit"),
    [
        # Outdoor 10 °C: θrm = 10, limit 0.33 × 10 + 21.8 = 25.1 °C; 27.5 °C is 2.4 K above (ΔT 2): 5 hours a day,
        # 3 days: raised, though 27.5 °C is under the static 28 °C.
        (10.0, 27.5, True, "25.6"),
        # Outdoor 20 °C: limit 28.4 °C; 28.6 °C is 0.2 K above (ΔT 0): nothing, though it is over 28 °C.
        (20.0, 28.6, False, None),
        # No weather: the static 28 °C; 28.6 °C for 5 hours a day raises, 27.5 °C does not.
        (None, 28.6, True, "28"),
        (None, 27.5, False, None),
    ],
)
def test_a_kitchens_heat_follows_the_adaptive_limit_where_the_weather_is_measured(
        home_db, store, thermal_settings, outdoor_c, kitchen_c, raised, limit):
    """Kitchen at ``kitchen_c`` from 10:00 to 15:00 UTC (in its 09:00-22:00 occupied hours) on 5-7 January, 20 °C
    otherwise; a weather file from 25 December (the running mean's week before the 7-day lookback) to 8 January."""
    write_days(store, KITCHEN, dt.date(2026, 1, 5), 3, lambda h: kitchen_c if 10 <= h < 15 else 20.0)
    with home_db.session() as session:
        if outdoor_c is not None:
            _weather(session, dt.date(2025, 12, 25), 14, outdoor_c)
    with home_db.session() as session:
        report = evaluate_thermal(session, store, thermal_settings, dt.datetime(2026, 1, 8, 9, 0, tzinfo=dt.UTC))
        alarms = [session.get(Alarm, i) for i in report.raised]
        assert [a.rule for a in alarms] == (["excess_heat"] if raised else [])
        if raised:
            assert f"5 hours a day above {limit} °C (in occupied hours, 09:00-22:00, CIBSE TM59)" in alarms[0].message
