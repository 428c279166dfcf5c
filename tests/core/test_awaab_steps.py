"""Awaab's Law steps beyond the four clocks: hazards, the emergency track with reasons, reasonable endeavours,
escalation and alternative accommodation, the 12-week backstop, reopening, moving inspections, correcting
findings with history (real SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from sqlalchemy import select

from core.cases import (
    CaseError,
    DuplicateCaseError,
    add_hazard,
    alternative_accommodation_due,
    close_case,
    defer_preventative,
    edit_finding,
    finding_history,
    offer_alternative_accommodation,
    open_case,
    record_finding,
    record_reasonable_endeavour,
    record_step,
    remove_hazard,
    reopen_case,
    set_emergency,
    statutory_scope,
    step_clocks,
)
from core.clock_profiles import WALES_WHQS
from core.model import AuditEvent, Case, Inspection, Property, Room, Team
from core.scheduling import SchedulingError, move_inspection

UTC = dt.UTC
AWARE = dt.datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # Monday
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ACTOR = "officer@example.org"


@pytest.fixture
def home(database):
    with time_machine.travel(NOW, tick=False):
        with database.session() as session:
            home = Property(uprn="1001", address="1 Test Street", postcode="LS6 1AB")
            home.rooms = [Room(name="Bedroom 1", room_type="bedroom"), Room(name="Living room", room_type="living_room")]
            session.add(home)
        yield database


def _open(session, **kwargs) -> Case:
    values = {"uprn": "1001", "aware_at": AWARE, "source": "risk_flag", "actor": ACTOR}
    values.update(kwargs)
    return open_case(session, **values)


def test_a_case_carries_hazards_with_severity_and_its_clock_profile(home):
    """Hazards are stored with severity; the profile and its rules version are frozen on the case."""
    with home.session() as session:
        case = _open(session, hazards=[{"hazard": "excess_cold", "severity": "high"},
                                       {"hazard": "damp_and_mould", "severity": "medium"}])
        case_id = case.id
    with home.session() as session:
        case = session.get(Case, case_id)
        assert [(h.hazard, h.severity, h.emergency) for h in case.hazards] == [
            ("excess_cold", "high", False), ("damp_and_mould", "medium", False)]
        assert case.clock.profile == "england_social" and "2025/1042" in case.clock.rules_version
        assert case.emergency is False
        assert statutory_scope(case)[0] is True


def test_an_emergency_hazard_puts_the_case_on_the_emergency_track(home):
    """An electrical emergency: 24-hour clocks; taking it off needs the hazard changed first."""
    with home.session() as session:
        case = _open(session, hazards=[{"hazard": "electrical", "severity": "high", "emergency": True}])
        assert case.emergency is True
        assert {c.key: c.hours_based for c in step_clocks(case, AWARE)}["investigate"] is True
        with pytest.raises(CaseError, match="change that hazard first"):
            set_emergency(session, case, False, actor=ACTOR, reason="Not urgent after all")


@pytest.mark.parametrize(("rows", "message"), [
    ([{"hazard": "ghosts", "severity": "high"}], "not an HHSRS hazard"),
    ([{"hazard": "excess_cold", "severity": "extreme"}], "how severe"),
    ([{"hazard": "crowding_and_space", "severity": "high", "emergency": True}], "not an emergency hazard"),
    ([{"hazard": "fire", "severity": "low"}, {"hazard": "fire", "severity": "high"}], "once"),
    ([], "at least one hazard"),
])
def test_bad_hazards_are_refused(home, rows, message):
    """Unknown hazards, severities, duplicates and an emergency crowding hazard are refused clearly."""
    with home.session() as session, pytest.raises(CaseError, match=message):
        _open(session, hazards=rows)


def test_emergency_flag_changes_need_a_reason_and_are_recorded(home):
    """set_emergency refuses an empty reason; the change, with its reason, is on the timeline and audit log."""
    with home.session() as session:
        case = _open(session)
        with pytest.raises(CaseError, match="why"):
            set_emergency(session, case, True, actor=ACTOR, reason="  ")
        set_emergency(session, case, True, actor=ACTOR, reason="Child with asthma in the bedroom")
        assert case.emergency is True
        event = [e for e in case.events if e.kind == "emergency_changed"][-1]
        assert event.detail["reason"] == "Child with asthma in the bedroom"
        session.flush()
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.emergency_changed")).one()
        assert audit.detail["reason"] == "Child with asthma in the bedroom"


def test_adding_and_removing_hazards(home):
    """Added hazards are recorded; removed ones stay on the record; the last cannot be removed."""
    with home.session() as session:
        case = _open(session)
        add_hazard(session, case, "excess_heat", "medium", actor=ACTOR)
        with pytest.raises(CaseError, match="already on case"):
            add_hazard(session, case, "excess_heat", "low", actor=ACTOR)
        remove_hazard(session, case, "damp_and_mould", actor=ACTOR, reason="No damp found, overheating only")
        with pytest.raises(CaseError, match="at least one hazard"):
            remove_hazard(session, case, "excess_heat", actor=ACTOR, reason="x")
        assert [(h.hazard, h.removed_at is not None) for h in case.hazards] == [
            ("damp_and_mould", True), ("excess_heat", False)]
        add_hazard(session, case, "structural_collapse", "high", actor=ACTOR, emergency=True)
        assert case.emergency is True


def test_a_phase_3_hazard_is_not_yet_statutory(home):
    """Noise (phase 3, 2027) as a significant hazard: clocks shown as good practice, and said so."""
    with home.session() as session:
        case = _open(session, hazards=[{"hazard": "noise", "severity": "medium"}])
        in_scope, why = statutory_scope(case)
        assert in_scope is False and "good practice" in why


def test_the_wales_profile_sets_the_deadline_a_case_keeps(home):
    """A case opened under a Welsh landlord's 20-day response time keeps it after the profile changes."""
    profile = WALES_WHQS.with_overrides({"investigate_working_days": 20, "rules_version": "Ours v1"})
    with home.session() as session:
        case = _open(session, clock_profile=profile)
        case_id = case.id
    with home.session() as session:
        case = session.get(Case, case_id)
        due = {c.key: c.due for c in step_clocks(case, NOW)}["investigate"]
        # Hand count from Mon 2 Feb 2026: 3..6 Feb=1..4, 9..13=5..9, 16..20=10..14, 23..27=15..19, Mon 2 Mar=20.
        assert due == dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=UTC)
        assert case.clock.rules_version == "Ours v1"


def test_backstop_after_deferring_preventative_work(home):
    """Deferral (with a reason) moves preventative work's deadline to 12 weeks after the investigation."""
    with home.session() as session:
        case = _open(session)
        with pytest.raises(CaseError, match="investigation first"):
            defer_preventative(session, case, actor=ACTOR, reason="Scaffold needed")
        record_step(session, case, "investigate", dt.datetime(2026, 2, 3, 10, 0, tzinfo=UTC), ACTOR)
        before = {c.key: c for c in step_clocks(case, NOW)}["preventative"]
        assert before.due == dt.datetime(2026, 2, 10, 23, 59, 59, 999999, tzinfo=UTC)  # 4,5,6,9,10 Feb
        assert before.state == "overdue"
        defer_preventative(session, case, actor=ACTOR, reason="Scaffold licence from the council takes 6 weeks")
        session.flush()
        session.expire(case, ["events"])
        after = {c.key: c for c in step_clocks(case, NOW)}["preventative"]
        # 3 Feb 2026 + 84 days = Tue 28 Apr 2026, end of day BST.
        assert after.due == dt.datetime(2026, 4, 28, 22, 59, 59, 999999, tzinfo=UTC)
        assert after.state == "due"


def test_reasonable_endeavours_log_and_alternative_accommodation(home):
    """What was done when access was refused is logged with evidence; alternative accommodation is offered."""
    with home.session() as session:
        case = _open(session, emergency=True)
        assert alternative_accommodation_due(case, NOW) is True  # 24 hours long gone, not made safe
        with pytest.raises(CaseError, match="Choose what happened"):
            record_reasonable_endeavour(session, case, category="bad luck", text="x", actor=ACTOR)
        record_reasonable_endeavour(session, case, category="access_refused", step="make_safe",
                                    text="Visited 10:00, no answer; card left; phoned twice", actor=ACTOR,
                                    evidence=["calling-card-photo.jpg", "call log 2 Feb 10:15"],
                                    at=AWARE + dt.timedelta(hours=2))
        offer_alternative_accommodation(session, case, actor=ACTOR, details="Travelodge Leeds Central, 3 nights",
                                        tenant_accepted=True, at=AWARE + dt.timedelta(hours=20))
        session.flush()
        session.expire(case, ["events"])
        kinds = [e.kind for e in case.events]
        assert "reasonable_endeavours" in kinds and "escalation" in kinds
        logged = next(e for e in case.events if e.kind == "reasonable_endeavours")
        assert logged.detail["evidence"] == ["calling-card-photo.jpg", "call log 2 Feb 10:15"]
        assert alternative_accommodation_due(case, NOW) is False


def test_reopening_a_closed_case(home):
    """A closed case reopens with a reason; not while the home has another open case."""
    with home.session() as session:
        case = _open(session)
        close_case(session, case, actor=ACTOR, reason="Fixed")
        with pytest.raises(CaseError, match="why"):
            reopen_case(session, case, actor=ACTOR, reason="")
        reopen_case(session, case, actor=ACTOR, reason="Mould is back in the bedroom")
        assert case.status == "open" and case.closed_at is None
        close_case(session, case, actor=ACTOR, reason="Fixed again")
        other = _open(session, aware_at=AWARE + dt.timedelta(days=1))
        with pytest.raises(DuplicateCaseError) as caught:
            reopen_case(session, case, actor=ACTOR, reason="Back again")
        assert caught.value.case_id == other.id


def test_moving_an_inspection(home):
    """An inspection moves to another working day with room; weekends and full days are refused."""
    with home.session() as session:
        case = _open(session)
        team = Team(name="North", daily_capacity=1)
        inspection = Inspection(case=case, uprn="1001", team=team, scheduled_for=dt.date(2026, 3, 4),
                                status="scheduled", created_by=ACTOR)
        session.add(inspection)
        session.flush()
        with pytest.raises(SchedulingError, match="not a working day"):
            move_inspection(session, inspection, dt.date(2026, 3, 7), ACTOR, "Tenant at work", now=NOW)
        with pytest.raises(SchedulingError, match="why"):
            move_inspection(session, inspection, dt.date(2026, 3, 5), ACTOR, "", now=NOW)
        move_inspection(session, inspection, dt.date(2026, 3, 5), ACTOR, "Tenant at hospital appointment", now=NOW)
        assert inspection.scheduled_for == dt.date(2026, 3, 5)
        event = next(e for e in case.events if e.kind == "inspection_moved")
        assert (event.detail["before"], event.detail["after"]) == ("2026-03-04", "2026-03-05")


def test_editing_a_finding_keeps_its_history(home):
    """A corrected finding keeps what it said before, who changed it and why."""
    with home.session() as session:
        case = _open(session)
        team = Team(name="North", daily_capacity=3)
        inspection = Inspection(case=case, uprn="1001", team=team, scheduled_for=dt.date(2026, 2, 4),
                                status="scheduled", created_by=ACTOR)
        session.add(inspection)
        session.flush()
        finding = record_finding(session, inspection, {"mould_found": True, "severity": "minor",
                                                       "likely_cause": "ventilation"}, ACTOR,
                                 at=dt.datetime(2026, 2, 4, 11, 0, tzinfo=UTC))
        with pytest.raises(CaseError, match="why"):
            edit_finding(session, finding, {"severity": "severe"}, ACTOR, reason="")
        with pytest.raises(CaseError, match="Severity must be none"):
            edit_finding(session, finding, {"mould_found": False}, ACTOR, reason="Typo")
        edit_finding(session, finding, {"severity": "severe"}, "supervisor@example.org",
                     reason="Photos show mould over 1 square metre")
        session.flush()
        session.expire(case, ["events"])
        assert finding.severity == "severe"
        history = finding_history(finding)
        assert len(history) == 1
        assert history[0].detail["changes"] == {"severity": {"before": "minor", "after": "severe"}}
        assert history[0].actor == "supervisor@example.org"


def test_the_configured_profile_applies_to_new_cases(home, tmp_path, monkeypatch):
    """DAMPWATCH_CLOCK_PROFILE=wales_whqs with a file of the landlord's own times: new cases follow it."""
    path = tmp_path / "profiles.json"
    path.write_text('{"wales_whqs": {"investigate_working_days": 15, "rules_version": "Cartrefi Example v2"}}')
    monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILE", "wales_whqs")
    monkeypatch.setenv("DAMPWATCH_CLOCK_PROFILES_FILE", str(path))
    with home.session() as session:
        case = _open(session)
        assert (case.clock.profile, case.clock.rules_version) == ("wales_whqs", "Cartrefi Example v2")
        # Mon 2 Feb 2026 + 15 working days: 3-6 Feb (4), 9-13 (9), 16-20 (14), Mon 23 Feb (15).
        due = {c.key: c.due for c in step_clocks(case, NOW)}["investigate"]
        assert due == dt.datetime(2026, 2, 23, 23, 59, 59, 999999, tzinfo=UTC)
