"""Inspection scheduling: capacity, working days, districts, and the proposed schedule's order."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from sqlalchemy import select

from core.cases import find_open_case, open_case
from core.model import AuditEvent, Case, CaseEvent, Inspection, Property, PropertyRisk, Room, ScoringRun, Team
from core.scheduling import (
    SchedulingError,
    accept_proposals,
    cancel_inspection,
    propose_schedule,
    remaining_capacity,
    schedule_inspection,
    team_load,
    vulnerability_weight,
)

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # Monday 2 March 2026
MON, TUE, WED = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)


def add_home(session, uprn: str, postcode: str = "LS6 1AB", score: float | None = None, band: str = "low",
             run: ScoringRun | None = None, **flags) -> Property:
    home = Property(uprn=uprn, address=f"{uprn} Test Street", postcode=postcode, **flags)
    home.rooms = [Room(name="Bedroom 1", room_type="bedroom")]
    session.add(home)
    session.flush()
    if run is not None:
        session.add(PropertyRisk(run_id=run.id, uprn=uprn, computed_at=run.scored_until, score=score, band=band,
                                 data_coverage=1.0, outdoor_source="weather", reasons=[], what_would_help=[],
                                 model_name="physics", model_version="1"))
        session.flush()
    return home


def new_run(session, until: dt.datetime = NOW - dt.timedelta(hours=12)) -> ScoringRun:
    run = ScoringRun(mode="full", scored_until=until, model_name="physics", model_version="1")
    session.add(run)
    session.flush()
    return run


@pytest.fixture
def frozen():
    """The clock stopped at Monday 2 March 2026, noon."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team(database, frozen) -> int:
    """A team of capacity 2 covering anywhere."""
    with database.session() as session:
        team = Team(name="North team", daily_capacity=2)
        session.add(team)
        session.flush()
        return team.id


def _case(session, uprn: str, aware_at: dt.datetime, emergency: bool = False) -> Case:
    return open_case(session, uprn=uprn, aware_at=aware_at, source="tenant_report", actor="officer@example.org",
                     emergency=emergency)


def test_vulnerability_weights():
    """Children and respiratory conditions raise priority by half; people over 65 by 0.3."""
    assert vulnerability_weight(Property(uprn="1", address="a", postcode="LS6 1AB")) == 1.0
    assert vulnerability_weight(Property(uprn="1", address="a", postcode="LS6 1AB", child_under_15=True,
                                         over_65=True, respiratory_condition=True)) == pytest.approx(2.3)


def test_schedule_inspection_books_and_records(database, team):
    """A booking adds an inspection, a timeline entry and an audit event, and counts in the team's load."""
    with database.session() as session:
        add_home(session, "1")
        case = _case(session, "1", NOW - dt.timedelta(days=1))
        inspection = schedule_inspection(session, case, session.get(Team, team), TUE, "officer@example.org")
        assert inspection.status == "scheduled"
        assert team_load(session, session.get(Team, team), (MON, WED)) == {MON: 0, TUE: 1, WED: 0}
        assert remaining_capacity(session, session.get(Team, team), [MON, TUE, dt.date(2026, 3, 7)]) == {MON: 2, TUE: 1}
        kinds = [e.kind for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
        assert "inspection_scheduled" in kinds
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "inspection.scheduled")).one()
        cancel_inspection(session, inspection, "officer@example.org", "Tenant away")
        assert team_load(session, session.get(Team, team), [TUE]) == {TUE: 0}


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (dt.date(2026, 2, 27), "today or in the future"),
        (dt.date(2026, 3, 7), "not a working day"),  # Saturday
        (dt.date(2026, 4, 6), "not a working day"),  # Easter Monday
        (TUE, "fully booked on Tuesday 3 March 2026 \\(2 of 2"),
    ],
)
def test_schedule_inspection_refusals(database, team, day, message):
    """Past dates, weekends, bank holidays and full days are refused with a clear message."""
    with database.session() as session:
        the_team = session.get(Team, team)
        for uprn in ("1", "2", "3"):
            add_home(session, uprn)
        for uprn in ("1", "2"):
            schedule_inspection(session, _case(session, uprn, NOW), the_team, TUE, "officer@example.org")
        case = _case(session, "3", NOW)
        with pytest.raises(SchedulingError, match=message):
            schedule_inspection(session, case, the_team, day, "officer@example.org")


def test_schedule_inspection_refuses_other_districts_and_double_bookings(database, team):
    """A team covering LS6 cannot visit LS7; a case with a visit booked cannot get a second."""
    with database.session() as session:
        the_team = session.get(Team, team)
        the_team.districts = "LS6"
        add_home(session, "1", postcode="LS7 2AB")
        add_home(session, "2", postcode="LS6 2AB")
        with pytest.raises(SchedulingError, match="does not cover LS7"):
            schedule_inspection(session, _case(session, "1", NOW), the_team, TUE, "officer@example.org")
        case = _case(session, "2", NOW)
        schedule_inspection(session, case, the_team, TUE, "officer@example.org")
        with pytest.raises(SchedulingError, match="already has an inspection booked"):
            schedule_inspection(session, case, the_team, WED, "officer@example.org")


def test_proposals_respect_capacity_and_existing_bookings(database, team):
    """Remaining capacity only: one slot is taken on Monday, so 3 of 6 homes fit into two days."""
    with database.session() as session:
        the_team = session.get(Team, team)
        run = new_run(session)
        add_home(session, "100")
        schedule_inspection(session, _case(session, "100", NOW), the_team, MON, "officer@example.org")
        for n in range(6):
            add_home(session, str(n + 1), score=0.9 - n / 100, band="high", run=run)
        proposals = propose_schedule(session, the_team, MON, 2, NOW)
    assert [(p.uprn, p.date) for p in proposals] == [("1", MON), ("2", TUE), ("3", TUE)]
    assert all(p.case_id is None and p.note == "A case will be opened" for p in proposals)


def test_proposals_order_by_deadline_then_priority(database, team):
    """Earliest deadline first (an emergency, then an old case), then risk × vulnerability."""
    with database.session() as session:
        the_team = session.get(Team, team)
        the_team.daily_capacity = 10
        run = new_run(session)
        add_home(session, "1", score=0.8, band="high", run=run)  # priority 0.8
        add_home(session, "2", score=0.6, band="high", run=run, child_under_15=True)  # 0.9
        add_home(session, "3", score=0.7, band="critical", run=run, respiratory_condition=True)  # 1.05
        add_home(session, "4", score=0.9, band="medium", run=run)  # medium: not proposed without a case
        add_home(session, "5", score=0.1, band="low", run=run)
        old = _case(session, "5", dt.datetime(2026, 2, 17, 9, 0, tzinfo=dt.UTC))  # due end of 3 March
        add_home(session, "6")
        emergency = _case(session, "6", NOW - dt.timedelta(hours=1), emergency=True)
        add_home(session, "7", score=0.95, band="high", run=run)
        done = _case(session, "7", dt.datetime(2026, 2, 20, 9, 0, tzinfo=dt.UTC))
        done.investigated_at = NOW - dt.timedelta(days=1)  # investigated: nothing to propose
        proposals = propose_schedule(session, the_team, MON, 5, NOW)
        emergency_id, old_id = emergency.id, old.id
    assert [p.uprn for p in proposals] == ["6", "5", "3", "2", "1"]
    assert proposals[0].case_id == emergency_id and proposals[0].emergency
    assert proposals[1].case_id == old_id
    assert [round(p.priority, 2) for p in proposals[2:]] == [1.05, 0.9, 0.8]
    assert proposals[3].vulnerable == ("child under 15",)
    assert all(p.date == MON and not p.late for p in proposals)


def test_proposals_flag_deadlines_that_cannot_be_met(database, team):
    """A case past its deadline is proposed but flagged; cases that do not fit are listed without a date."""
    with database.session() as session:
        the_team = session.get(Team, team)
        the_team.daily_capacity = 1
        for uprn in ("1", "2", "3"):
            add_home(session, uprn)
        _case(session, "1", dt.datetime(2026, 2, 2, 9, 0, tzinfo=dt.UTC))  # due 16 February: already late
        _case(session, "2", dt.datetime(2026, 2, 16, 9, 0, tzinfo=dt.UTC))  # due 2 March
        _case(session, "3", dt.datetime(2026, 2, 17, 9, 0, tzinfo=dt.UTC))  # due 3 March
        proposals = propose_schedule(session, the_team, MON, 1, NOW)
    assert [(p.uprn, p.date, p.late) for p in proposals] == [("1", MON, True), ("2", None, True), ("3", None, True)]
    assert proposals[0].note == "After the investigation deadline"
    assert proposals[1].note == "No capacity before the end of this schedule"


def test_proposals_only_cover_the_teams_districts(database, team):
    """A team with districts set only gets homes in those postcode districts."""
    with database.session() as session:
        the_team = session.get(Team, team)
        the_team.districts = "LS6, ls7"
        run = new_run(session)
        add_home(session, "1", postcode="LS6 1AB", score=0.9, band="high", run=run)
        add_home(session, "2", postcode="LS8 1AB", score=0.95, band="critical", run=run)
        add_home(session, "3", postcode="LS7 3CD", score=0.7, band="high", run=run)
        proposals = propose_schedule(session, the_team, MON, 3, NOW)
    assert sorted(p.uprn for p in proposals) == ["1", "3"]


def test_proposals_skip_recently_closed_and_start_today(database, team):
    """A home whose case closed last week is not proposed again; a start in the past is moved to today."""
    with database.session() as session:
        the_team = session.get(Team, team)
        run = new_run(session)
        add_home(session, "1", score=0.9, band="high", run=run)
        case = _case(session, "1", NOW - dt.timedelta(days=20))
        case.status, case.closed_at = "closed", NOW - dt.timedelta(days=7)
        add_home(session, "2", score=0.8, band="high", run=run)
        proposals = propose_schedule(session, the_team, dt.date(2026, 2, 1), 1, NOW)
    assert [(p.uprn, p.date) for p in proposals] == [("2", MON)]


def test_accept_proposals_opens_cases_and_books(database, team):
    """Accepting opens a case (clock from now, linked to the risk) where there was none, then books."""
    with database.session() as session:
        the_team = session.get(Team, team)
        run = new_run(session)
        add_home(session, "1", score=0.9, band="high", run=run)
        add_home(session, "2")
        existing = _case(session, "2", NOW - dt.timedelta(days=2))
        proposals = propose_schedule(session, the_team, MON, 2, NOW)
        booked = accept_proposals(session, the_team, proposals, "officer@example.org")
        assert len(booked) == 2
        new_case = find_open_case(session, "1")
        assert new_case.source == "risk_flag" and new_case.aware_at == NOW
        assert new_case.property_risk_id == session.scalars(select(PropertyRisk.id).where(PropertyRisk.uprn == "1")).one()
        assert {i.case_id for i in session.scalars(select(Inspection))} == {new_case.id, existing.id}
        # Proposing again finds nothing left to do.
        assert propose_schedule(session, the_team, MON, 2, NOW) == []


def test_accept_proposals_is_all_or_nothing(database, team):
    """If one row cannot be booked (the day filled up meanwhile), the whole acceptance fails, naming the home."""
    with database.session() as session:
        the_team = session.get(Team, team)
        the_team.daily_capacity = 1
        run = new_run(session)
        add_home(session, "1", score=0.9, band="high", run=run)
        proposals = propose_schedule(session, the_team, MON, 1, NOW)
        add_home(session, "9")
        schedule_inspection(session, _case(session, "9", NOW), the_team, MON, "officer@example.org")
    with database.session() as session, pytest.raises(SchedulingError, match=r"1 Test Street \(1\): .*fully booked"):
        accept_proposals(session, session.get(Team, team), proposals, "officer@example.org")
    with database.session() as session:
        assert find_open_case(session, "1") is None


@pytest.mark.parametrize(
    ("investigate_days", "due"),
    [
        # Counted by hand from Monday 2 March 2026, starting the day after: the 10th working day is Monday 16 March.
        (None, dt.date(2026, 3, 16)),
        # 20 working days: Tuesday 3 March is the 1st, Monday 30 March the 20th (no bank holiday in March).
        (20, dt.date(2026, 3, 30)),
        # 25: 31 March, 1 and 2 April are the 21st-23rd; Good Friday 3 April and Easter Monday 6 April are not
        # working days; Tuesday 7 April is the 24th, Wednesday 8 April the 25th.
        (25, dt.date(2026, 4, 8)),
    ],
)
def test_proposals_for_homes_without_a_case_follow_the_configured_clock_profile(
        database, team, tmp_path, monkeypatch, investigate_days, due):
    """A home without a case is due when a case opened now would be, under DAMPWATCH_CLOCK_PROFILE (and its
    file of the landlord's own numbers), not a fixed 10 working days; accepting opens a case with that clock."""
    from core.cases import step_clocks
    from core.workdays import london_date

    if investigate_days is not None:
        path = tmp_path / "profiles.json"
        path.write_text(json.dumps({"wales_whqs": {"investigate_working_days": investigate_days,
                                                   "rules_version": "Ours, 2026"}}), encoding="utf-8")
        monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILE", "wales_whqs")
        monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILES_FILE", str(path))
    with database.session() as session:
        the_team = session.get(Team, team)
        run = new_run(session)
        add_home(session, "1", score=0.9, band="high", run=run)
        proposals = propose_schedule(session, the_team, MON, 2, NOW)
        assert [(p.uprn, p.case_id) for p in proposals] == [("1", None)]
        assert london_date(proposals[0].deadline) == due
        accept_proposals(session, the_team, proposals, "officer@example.org")
        case = find_open_case(session, "1")
        assert london_date(step_clocks(case, NOW)[0].due) == due


def test_proposals_take_a_profile_given_by_the_caller(database, team):
    """An explicit profile wins over the configured one (here 'other' with 15 working days: Monday 23 March)."""
    from core.clock_profiles import OTHER
    from core.workdays import london_date

    with database.session() as session:
        the_team = session.get(Team, team)
        run = new_run(session)
        add_home(session, "1", score=0.9, band="high", run=run)
        proposals = propose_schedule(session, the_team, MON, 2, NOW,
                                     profile=OTHER.with_overrides({"investigate_working_days": 15}))
    assert london_date(proposals[0].deadline) == dt.date(2026, 3, 23)
