"""Damp and mould cases: opening, the Awaab's Law clocks, recording steps and findings, labels, fix checks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from analytics.labels import read_outcomes_csv
from core.cases import (
    CaseError,
    DuplicateCaseError,
    add_case_event,
    cases_breached,
    cases_due_soon,
    close_case,
    find_open_case,
    finding_labels,
    fix_check,
    open_case,
    record_finding,
    record_step,
    step_clocks,
    write_finding_labels,
)
from core.model import (
    AuditEvent,
    Case,
    CaseEvent,
    Inspection,
    Property,
    PropertyRisk,
    Room,
    RoomRisk,
    ScoringRun,
    Team,
)
from core.workdays import end_of_day

LONDON = ZoneInfo("Europe/London")
# Friday 9 January 2026, 18:00: a sensor flag out of hours.
AWARE = dt.datetime(2026, 1, 9, 18, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def eod(year: int, month: int, day: int) -> dt.datetime:
    return end_of_day(dt.date(year, month, day))


def add_home(session, uprn: str = "1001", postcode: str = "LS6 1AB", **flags) -> Property:
    home = Property(uprn=uprn, address=f"{uprn} Test Street", postcode=postcode, **flags)
    home.rooms = [Room(name="Bedroom 1", room_type="bedroom"), Room(name="Bathroom", room_type="bathroom")]
    session.add(home)
    session.flush()
    return home


@pytest.fixture
def frozen():
    """The clock stopped at NOW."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def home(database, frozen):
    """One home with two rooms, in a database of either kind."""
    with database.session() as session:
        add_home(session)
    return "1001"


def _open(session, **kwargs) -> Case:
    values = {"uprn": "1001", "aware_at": AWARE, "source": "risk_flag", "actor": "officer@example.org"}
    values.update(kwargs)
    return open_case(session, **values)


def test_open_case_records_an_event_and_an_audit_entry(database, home):
    """Opening a case puts "opened" on its timeline and "case.opened" in the audit log."""
    with database.session() as session:
        case = _open(session, summary="Sensor flag", user_id=None)
        case_id = case.id
    with database.session() as session:
        case = session.get(Case, case_id)
        assert case.status == "open" and case.aware_at == AWARE
        assert [e.kind for e in case.events] == ["opened"]
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.opened")).one()
        assert audit.object_id == str(case_id) and audit.actor == "officer@example.org"


def test_a_second_open_case_for_a_home_is_refused(database, home):
    """One open case per home: the second is refused and names the first; after closing, a new one opens."""
    with database.session() as session:
        first = _open(session)
    with database.session() as session, pytest.raises(DuplicateCaseError) as caught:
        _open(session)
    assert caught.value.case_id == first.id
    assert f"case {first.id}" in str(caught.value)
    with database.session() as session:
        close_case(session, session.get(Case, first.id), actor="officer@example.org", reason="No hazard found")
        assert find_open_case(session, "1001") is None
        second = _open(session)
        assert second.id != first.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uprn": "999"}, "no home with UPRN 999"),
        ({"source": "rumour"}, "source 'rumour'"),
        ({"aware_at": NOW + dt.timedelta(days=1)}, "future"),
        ({"aware_at": dt.datetime(2026, 1, 9, 18, 0)}, "timezone"),
        ({"room_id": 9999}, "not a room"),
    ],
)
def test_open_case_refuses_bad_input(database, home, kwargs, message):
    """Unknown homes, rooms and sources, and future or naive times, are refused with a clear message."""
    with database.session() as session, pytest.raises(CaseError, match=message):
        _open(session, **kwargs)


def clocks_by_key(case: Case, now: dt.datetime) -> dict:
    return {clock.key: clock for clock in step_clocks(case, now)}


def test_significant_hazard_clocks_before_investigation():
    """Investigate within 10 working days of awareness; the other steps wait for the investigation."""
    case = Case(uprn="1", aware_at=AWARE, emergency=False, status="open")
    clocks = clocks_by_key(case, dt.datetime(2026, 1, 12, 9, 0, tzinfo=dt.UTC))
    assert clocks["investigate"].due == eod(2026, 1, 23)
    assert clocks["investigate"].state == "due"
    assert clocks["investigate"].working_days_left == 9
    for key in ("summary", "make_safe", "preventative"):
        assert clocks[key].state == "waiting" and clocks[key].due is None


@pytest.mark.parametrize(
    ("now", "state", "left"),
    [
        (dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC), "due", 3),
        (dt.datetime(2026, 1, 21, 9, 0, tzinfo=dt.UTC), "due soon", 2),
        (dt.datetime(2026, 1, 23, 23, 0, tzinfo=dt.UTC), "due soon", 0),
        (dt.datetime(2026, 1, 24, 0, 0, tzinfo=dt.UTC), "overdue", 0),
        (dt.datetime(2026, 1, 27, 9, 0, tzinfo=dt.UTC), "overdue", -2),
    ],
)
def test_investigation_clock_states(now, state, left):
    """Due, due soon (2 working days or fewer), then overdue once the deadline has passed."""
    case = Case(uprn="1", aware_at=AWARE, emergency=False, status="open")
    clock = clocks_by_key(case, now)["investigate"]
    assert (clock.state, clock.working_days_left) == (state, left)


def test_clocks_after_the_investigation():
    """Summary in 3, make safe in 5, preventative work begun in 5 working days (12-week long stop)."""
    investigated = dt.datetime(2026, 1, 20, 10, 0, tzinfo=dt.UTC)  # a Tuesday
    case = Case(uprn="1", aware_at=AWARE, emergency=False, status="open", investigated_at=investigated,
                summary_sent_at=dt.datetime(2026, 1, 26, 9, 0, tzinfo=dt.UTC))
    clocks = clocks_by_key(case, dt.datetime(2026, 1, 28, 9, 0, tzinfo=dt.UTC))
    assert clocks["investigate"].state == "done"
    assert clocks["summary"].due == eod(2026, 1, 23)
    assert clocks["summary"].state == "done late"
    assert clocks["summary"].late_by_working_days == 1
    assert clocks["make_safe"].due == eod(2026, 1, 27)
    assert clocks["make_safe"].state == "overdue" and clocks["make_safe"].late_by_working_days == 1
    assert clocks["preventative"].due == eod(2026, 1, 27)
    assert clocks["preventative"].long_stop == eod(2026, 4, 14)


def test_emergency_clocks_run_in_hours():
    """An emergency: investigate and make safe within 24 hours; preventative work has no deadline."""
    case = Case(uprn="1", aware_at=AWARE, emergency=True, status="open")
    clocks = clocks_by_key(case, AWARE + dt.timedelta(hours=2))
    assert clocks["investigate"].due == AWARE + dt.timedelta(hours=24)
    assert clocks["make_safe"].due == AWARE + dt.timedelta(hours=24)
    assert clocks["investigate"].hours_based and clocks["investigate"].state == "due soon"
    assert clocks["summary"].state == "waiting"
    assert clocks["preventative"].state == "no deadline"
    late = clocks_by_key(case, AWARE + dt.timedelta(hours=25))
    assert late["investigate"].state == "overdue" and late["make_safe"].state == "overdue"


def test_record_step_in_order_with_events_and_audit(database, home):
    """Steps are recorded with their time; the timeline and audit log say who did what."""
    with database.session() as session:
        case = _open(session)
        with pytest.raises(CaseError, match="Record the investigation"):
            record_step(session, case, "summary", AWARE + dt.timedelta(days=3), "officer@example.org")
        record_step(session, case, "investigate", dt.datetime(2026, 1, 14, 10, 0, tzinfo=dt.UTC), "officer@example.org",
                    "Visited")
        with pytest.raises(CaseError, match="before the investigation"):
            record_step(session, case, "summary", dt.datetime(2026, 1, 13, 10, 0, tzinfo=dt.UTC), "officer@example.org")
        record_step(session, case, "summary", dt.datetime(2026, 1, 15, 10, 0, tzinfo=dt.UTC), "officer@example.org")
        with pytest.raises(CaseError, match="already recorded"):
            record_step(session, case, "summary", dt.datetime(2026, 1, 16, 10, 0, tzinfo=dt.UTC), "officer@example.org")
        with pytest.raises(CaseError, match="future"):
            record_step(session, case, "make_safe", NOW + dt.timedelta(hours=1), "officer@example.org")
        case_id = case.id
    with database.session() as session:
        case = session.get(Case, case_id)
        assert sorted(e.kind for e in case.events) == ["investigated", "opened", "summary_sent"]
        clocks = clocks_by_key(case, NOW)
        assert clocks["investigate"].state == "done" and clocks["summary"].state == "done"
        actions = set(session.scalars(select(AuditEvent.action)))
        assert {"case.opened", "case.investigated", "case.summary_sent"} <= actions


def test_due_soon_and_breached_lists(database, frozen):
    """The manager's lists: steps due within 2 working days, and steps past their deadline."""
    with database.session() as session:
        for uprn in ("1", "2", "3"):
            add_home(session, uprn)
        # Monday 2 March 2026 12:00 is NOW. Aware Mon 16 Feb -> investigate by end of Mon 2 Mar: due soon (0 left).
        soon = open_case(session, uprn="1", aware_at=dt.datetime(2026, 2, 16, 9, 0, tzinfo=dt.UTC), source="officer",
                         actor="a")
        # Aware 2 Feb -> due 16 Feb: breached.
        late = open_case(session, uprn="2", aware_at=dt.datetime(2026, 2, 2, 9, 0, tzinfo=dt.UTC), source="officer",
                         actor="a")
        # Aware today -> due in 10 working days: neither.
        open_case(session, uprn="3", aware_at=NOW - dt.timedelta(hours=1), source="officer", actor="a")
        soon_id, late_id = soon.id, late.id
    with database.session() as session:
        due = cases_due_soon(session, NOW)
        breached = cases_breached(session, NOW)
        assert [(r.case.id, r.clock.key) for r in due] == [(soon_id, "investigate")]
        assert [(r.case.id, r.clock.key) for r in breached] == [(late_id, "investigate")]
        assert breached[0].clock.late_by_working_days == 10
        assert [r.case.id for r in cases_due_soon(session, NOW, within_working_days=10)] == sorted(
            [soon_id, *[c.id for c in session.scalars(select(Case).where(Case.uprn == "3"))]])


def test_closed_cases_freeze_their_clocks(database, home):
    """Closing a case stops its clocks at the closing time and takes it off the manager's lists."""
    with database.session() as session:
        case = _open(session)
        close_case(session, case, actor="officer@example.org", reason="Duplicate report",
                   at=dt.datetime(2026, 1, 12, 9, 0, tzinfo=dt.UTC))
        assert clocks_by_key(case, NOW)["investigate"].state == "due"
        assert cases_breached(session, NOW) == []
        with pytest.raises(CaseError, match="already closed"):
            close_case(session, case, actor="officer@example.org", reason="again")


def _inspection(session, case: Case) -> Inspection:
    team = session.scalars(select(Team)).first() or Team(name="North team", daily_capacity=3)
    inspection = Inspection(case=case, uprn=case.uprn, team=team, scheduled_for=dt.date(2026, 1, 14),
                            created_by="officer@example.org")
    session.add(inspection)
    session.flush()
    return inspection


def test_record_finding_completes_the_inspection_and_the_investigation(database, home):
    """A finding completes its inspection and, the first time, records the case's investigation."""
    at = dt.datetime(2026, 1, 14, 11, 0, tzinfo=dt.UTC)
    with database.session() as session:
        case = _open(session)
        inspection = _inspection(session, case)
        room = session.scalars(select(Room).where(Room.name == "Bathroom")).one()
        finding = record_finding(session, inspection, {
            "mould_found": True, "severity": "moderate", "room_ids": [room.id], "where_text": "Ceiling corner",
            "likely_cause": "ventilation", "actions_taken": "Cleaned", "follow_up_work": "Fit extractor fan",
        }, "repair@example.org", at=at)
        assert finding.follow_up_needed
        assert inspection.status == "completed" and inspection.completed_at == at
        assert case.investigated_at == at
        with pytest.raises(CaseError, match="completed"):
            record_finding(session, inspection, {"mould_found": False, "likely_cause": "unknown"}, "repair@example.org")
        second = _inspection(session, case)
        record_finding(session, second, {"mould_found": False}, "repair@example.org",
                       at=at + dt.timedelta(days=7))
        assert case.investigated_at == at  # the first investigation stands
        kinds = [e.kind for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                                 .order_by(CaseEvent.id))]
        assert kinds == ["opened", "finding_recorded", "investigated", "finding_recorded"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"severity": "minor"}, "Select yes if mould"),
        ({"mould_found": True}, "how severe"),
        ({"mould_found": True, "severity": "none"}, "how severe"),
        ({"mould_found": False, "severity": "severe"}, "must be none"),
        ({"mould_found": True, "severity": "minor", "likely_cause": "tenant lifestyle"}, "likely cause"),
        ({"mould_found": True, "severity": "minor", "room_ids": [98765]}, "not rooms of this home"),
        ({"mould_found": True, "severity": "minor", "colour": "green"}, "unknown finding field"),
    ],
)
def test_record_finding_refuses_inconsistent_findings(database, home, fields, message):
    """A finding must say whether mould was found, how severe it is, and a known cause."""
    with database.session() as session:
        inspection = _inspection(session, _open(session))
        with pytest.raises(CaseError, match=message):
            record_finding(session, inspection, fields, "repair@example.org")


def test_finding_labels_round_trip_through_the_training_reader(database, home, tmp_path):
    """Exported findings are read back by the risk model's outcomes reader exactly."""
    with database.session() as session:
        case = _open(session)
        room = session.scalars(select(Room).where(Room.name == "Bathroom")).one()
        record_finding(session, _inspection(session, case), {
            "mould_found": True, "severity": "severe", "room_ids": [room.id], "likely_cause": "moisture_load",
        }, "repair@example.org", at=dt.datetime(2026, 1, 14, 23, 30, tzinfo=dt.UTC))
        record_finding(session, _inspection(session, case), {"mould_found": False},
                       "repair@example.org", at=dt.datetime(2026, 2, 2, 10, 0, tzinfo=dt.UTC))
        rows = finding_labels(session)
    path = tmp_path / "outcomes.csv"
    assert write_finding_labels(rows, path) == 2
    outcomes, errors = read_outcomes_csv(path)
    assert errors == []
    assert outcomes.to_dict("records") == [
        {"uprn": "1001", "date": dt.date(2026, 1, 14), "mould_found": True, "severity": "severe",
         "cause": "high_moisture_load", "room": "Bathroom"},
        {"uprn": "1001", "date": dt.date(2026, 2, 2), "mould_found": False, "severity": "none", "cause": "none",
         "room": ""},
    ]


def _risk_history(session, room: Room, scores: list[tuple[dt.datetime, float]]) -> None:
    for until, score in scores:
        run = ScoringRun(mode="incremental", scored_until=until, model_name="physics", model_version="1",
                         started_at=until, finished_at=until)
        session.add(run)
        session.flush()
        session.add(RoomRisk(run_id=run.id, room_id=room.id, uprn=room.uprn, computed_at=until, score=score,
                             band="high" if score > 0.5 else "low", data_coverage=1.0))
        session.add(PropertyRisk(run_id=run.id, uprn=room.uprn, computed_at=until, score=score,
                                 band="high" if score > 0.5 else "low", driver_room_id=room.id,
                                 driver_room=room.name, data_coverage=1.0, outdoor_source="weather",
                                 reasons=[], what_would_help=[], model_name="physics", model_version="1"))
    session.flush()


WORKS = dt.datetime(2026, 1, 30, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("after_score", "verdict"),
    [(0.3, "improved"), (0.75, "not improved")],
)
def test_fix_check_compares_risk_before_and_after_works(database, home, after_score, verdict):
    """The room's mean risk in the 4 weeks before works against its latest score 4 weeks or more after."""
    with database.session() as session:
        room = session.scalars(select(Room).where(Room.name == "Bathroom")).one()
        case = _open(session, room_id=room.id)
        _risk_history(session, room, [
            (WORKS - dt.timedelta(days=40), 0.2),  # outside the 4-week window: ignored
            (WORKS - dt.timedelta(days=20), 0.8),
            (WORKS - dt.timedelta(days=5), 0.9),
            (WORKS + dt.timedelta(days=10), 0.1),  # too soon after the works: ignored
            (WORKS + dt.timedelta(days=29), after_score),
        ])
        case.investigated_at = WORKS - dt.timedelta(days=10)
        case.works_completed_at = WORKS
        result = fix_check(session, case, NOW)
    assert result.verdict == verdict
    assert result.subject == "room" and result.room_name == "Bathroom"
    assert result.before_score == pytest.approx(0.85)
    assert result.before_runs == 2
    assert result.after_score == pytest.approx(after_score)


def test_fix_check_waits_for_works_and_data(database, home):
    """Without works, within 28 days of them, or without scores, the answer is "not enough data yet"."""
    with database.session() as session:
        case = _open(session)
        assert fix_check(session, case, NOW).verdict == "not enough data yet"
        case.works_completed_at = NOW - dt.timedelta(days=3)
        early = fix_check(session, case, NOW)
        assert early.verdict == "not enough data yet" and "less than 28 days" in early.reason
        case.works_completed_at = WORKS
        nothing = fix_check(session, case, NOW)
        assert nothing.verdict == "not enough data yet" and nothing.subject == "property"
        assert "before the works" in nothing.reason


def test_add_case_event_keeps_details(database, home):
    """Other boxes (alerts) add timeline entries such as messages to the tenant."""
    with database.session() as session:
        case = _open(session)
        add_case_event(session, case, "message_to_tenant", "system", "Advice sent by SMS", channel="sms")
        case_id = case.id
    with database.session() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                        CaseEvent.kind == "message_to_tenant")).one()
        assert event.detail == {"channel": "sms"}
