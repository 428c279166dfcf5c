"""The whole journey: a sensor-raised excess-cold alarm becomes a statutory case, taken through the investigation,
the written summary, making safe, preventative work and closure, every step on its clock (real SQLite stores)."""

from __future__ import annotations

import datetime as dt

import time_machine

from alerts.thermal import evaluate_thermal
from alerts.written_summary import send_written_summary
from core.awaab_model import export_cases
from core.cases import close_case, record_finding, record_step, step_clocks
from core.model import Case, Team
from core.model_alerts import Alarm
from core.returns import period_return
from core.scheduling import schedule_inspection
from tests.alerts.conftest import UPRN
from tests.alerts.test_thermal import BEDROOM, write_days

UTC = dt.UTC
OFFICER = "officer@example.org"


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 1, day, hour, 0, tzinfo=UTC)


def test_excess_cold_from_sensor_to_closure(home_db, store, alert_settings):
    """Deadlines counted by hand from awareness on Thu 8 Jan 2026 09:00 (the alarm): investigate by Thu 22 Jan;
    investigated Mon 12 Jan, so the summary by Thu 15 Jan and safety and preventative work by Mon 19 Jan."""
    settings = alert_settings.model_copy(update={"alerts_open_case_rules": "excess_cold"})
    write_days(store, BEDROOM, dt.date(2026, 1, 5), 3, lambda h: 14.5)
    with time_machine.travel(at(8, 9), tick=False), home_db.session() as session:
        alarm = session.get(Alarm, evaluate_thermal(session, store, settings, at(8, 9)).raised[0])
        case_id = alarm.case_id
        case = session.get(Case, case_id)
        assert [h.hazard for h in case.hazards] == ["excess_cold"]
        clocks = {c.key: c for c in step_clocks(case, at(8, 9))}
        assert clocks["investigate"].due == dt.datetime(2026, 1, 22, 23, 59, 59, 999999, tzinfo=UTC)
        team = Team(name="Heating", daily_capacity=2)
        session.add(team)
        session.flush()
        schedule_inspection(session, case, team, dt.date(2026, 1, 12), OFFICER, now=at(8, 10))
    with time_machine.travel(at(12, 12), tick=False), home_db.session() as session:
        record_finding(session, inspection_of(session, case_id), {
            "mould_found": False, "severity": "none", "likely_cause": "under_heating",
            "actions_taken": "Boiler pressure reset; thermostat checked", "follow_up_work": "Replace the boiler"},
            "engineer@example.org", at=at(12, 11))
    with time_machine.travel(at(13, 10), tick=False), home_db.session() as session:
        messages = send_written_summary(session, session.get(Case, case_id), actor=OFFICER,
                                        link="https://dampwatch.example.org/tenant/sign-in", now=at(13, 10))
        assert messages and "Excess cold" in messages[0].body
        assert "Make your home safe: by Monday 19 January 2026" in messages[0].body
    with time_machine.travel(at(24, 12), tick=False), home_db.session() as session:
        case = session.get(Case, case_id)
        record_step(session, case, "make_safe", at(16, 15), OFFICER, "Temporary heaters and boiler repaired")
        record_step(session, case, "preventative", at(19, 9), OFFICER, "Boiler replacement started")
        record_step(session, case, "works_completed", at(23, 16), OFFICER)
        close_case(session, case, actor=OFFICER, reason="New boiler; bedroom above 18 °C", at=at(24, 10))
        clocks = {c.key: c for c in step_clocks(case, at(24, 12))}
        assert {k: c.state for k, c in clocks.items()} == {
            "investigate": "done", "summary": "done", "make_safe": "done", "preventative": "done"}
        assert clocks["summary"].due == dt.datetime(2026, 1, 15, 23, 59, 59, 999999, tzinfo=UTC)
        assert clocks["make_safe"].due == dt.datetime(2026, 1, 19, 23, 59, 59, 999999, tzinfo=UTC)
        report = export_cases(session, now=at(24, 12)).entities
        assert report["hazard_report"][0]["report_status"] == "Closed"
        assert report["investigation"][0]["trigger_source"] == "Environmental Sensor"
        returned = period_return(session, dt.date(2026, 1, 1), dt.date(2026, 1, 31))
        assert returned.met_missed["make_safe"] == {"met": 1, "missed": 0, "pending": 0}
        assert dict(returned.by_hazard_severity) == {("excess_cold", "high"): 1}
        assert case.uprn == UPRN


def inspection_of(session, case_id: int):
    return session.get(Case, case_id).inspections[0]
