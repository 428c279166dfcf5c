"""The manager's return for a period, against figures worked out by hand for a small estate."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine

from core.cases import open_case, record_step
from core.model import Device, DeviceHealth, Installation, Property, Room
from core.returns import nearest_rank, period_return, return_csv

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
ACTOR = "officer@example.org"


def t(day: int, hour: int, month: int = 2) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def estate(database):
    """Cases A (significant, on time but preventative late), B (investigated on day 9, nothing since),
    C (emergency made safe after 26 hours), D (outside the period); four homes' sensors."""
    with time_machine.travel(NOW, tick=False):
        with database.session() as session:
            rooms = {}
            for uprn in ("1", "2", "3", "4"):
                home = Property(uprn=uprn, address=f"{uprn} Street", postcode="LS6 1AB")
                home.rooms = [Room(name="Bedroom", room_type="bedroom")]
                session.add(home)
                session.flush()
                rooms[uprn] = home.rooms[0]
            a = open_case(session, uprn="1", aware_at=t(2, 9), source="risk_flag", actor=ACTOR)
            record_step(session, a, "investigate", t(4, 9), ACTOR)
            record_step(session, a, "summary", t(5, 9), ACTOR)
            record_step(session, a, "make_safe", t(9, 9), ACTOR)
            b = open_case(session, uprn="2", aware_at=t(3, 9), source="tenant_report", actor=ACTOR,
                          hazards=[{"hazard": "excess_cold", "severity": "high"},
                                   {"hazard": "damp_and_mould", "severity": "low"}])
            record_step(session, b, "investigate", t(16, 9), ACTOR)
            c = open_case(session, uprn="3", aware_at=t(6, 10), source="officer", actor=ACTOR,
                          hazards=[{"hazard": "electrical", "severity": "high", "emergency": True}])
            record_step(session, c, "investigate", t(6, 14), ACTOR)
            record_step(session, c, "make_safe", t(7, 12), ACTOR)
            open_case(session, uprn="4", aware_at=t(10, 9, month=3), source="officer", actor=ACTOR)
            for uprn, installed, removed, last_seen in (
                ("1", t(1, 0, 1), None, t(28, 20)), ("2", t(1, 0, 1), None, t(20, 9)), ("3", t(1, 0, 1), None, None),
                ("4", t(1, 0, 1), t(15, 0, 1), t(15, 0, 1)),
            ):
                session.add(Device(device_id=f"dev-{uprn}"))
                session.flush()
                session.add(Installation(device_id=f"dev-{uprn}", room_id=rooms[uprn].id, installed_at=installed,
                                         removed_at=removed))
                if last_seen is not None:
                    session.add(DeviceHealth(device_id=f"dev-{uprn}", last_seen=last_seen, readings=1))
        yield database


def test_the_return_for_february(estate):
    """Every figure as counted by hand (see the fixture's docstring and the comments)."""
    with estate.session() as session:
        result = period_return(session, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert result.cases == 3
    assert dict(result.by_hazard_severity) == {("damp_and_mould", "medium"): 1, ("damp_and_mould", "low"): 1,
                                               ("excess_cold", "high"): 1, ("electrical", "high"): 1}
    # Significant: A investigated after 48 h (2 working days), B after 312 h (9 working days: 4-6, 9-13, 16 Feb).
    assert result.times["significant investigate (hours)"] == {"cases": 2, "median": 48.0, "90th percentile": 312.0}
    assert result.times["significant investigate (working days)"] == {"cases": 2, "median": 2, "90th percentile": 9}
    # A made safe 168 h after awareness, 3 working days (5, 6, 9 Feb) after its investigation.
    assert result.times["significant make_safe (hours)"] == {"cases": 1, "median": 168.0, "90th percentile": 168.0}
    assert result.times["significant make_safe (working days)"] == {"cases": 1, "median": 3, "90th percentile": 3}
    assert result.times["emergency investigate (hours)"]["median"] == 4.0
    assert result.times["emergency make_safe (hours)"]["median"] == 26.0
    assert result.met_missed == {
        "investigate": {"met": 3, "missed": 0, "pending": 0},
        "summary": {"met": 1, "missed": 2, "pending": 0},       # B due 19 Feb, C due 11 Feb: neither sent
        "make_safe": {"met": 1, "missed": 2, "pending": 0},     # B due 23 Feb not done; C done after 24 h
        "preventative": {"met": 0, "missed": 2, "pending": 0},  # A due 11 Feb, B 23 Feb; C has no deadline
    }
    assert result.open_past_deadline == {"investigate": 0, "summary": 2, "make_safe": 1, "preventative": 2}
    assert (result.homes_monitored, result.homes_silent) == (3, 2)
    rows = list(csv.reader(io.StringIO(return_csv(result))))
    assert rows[0] == ["section", "item", "measure", "value"]
    assert ["cases by hazard", "Excess cold", "high", "1"] in rows


@pytest.mark.parametrize(("values", "percent", "expected"), [
    ([15, 20, 35, 40, 50], 30, 20), ([15, 20, 35, 40, 50], 40, 20), ([15, 20, 35, 40, 50], 50, 35),
    ([15, 20, 35, 40, 50], 100, 50), ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], 25, 7),
    ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], 50, 8), ([3, 6, 7, 8, 8, 10, 13, 15, 16, 20], 90, 16), ([], 50, None),
])
def test_nearest_rank_published_examples(values, percent, expected):
    """Nearest-rank percentiles: the worked examples of the Wikipedia "Percentile" article."""
    assert nearest_rank(values, percent) == expected


def test_a_case_made_safe_then_taken_off_the_emergency_track(database):
    """Made safe on the emergency track, then moved to the significant one with no investigation recorded: its
    hours to make safe count (26 h, by hand), and it has no working days to count (no investigation to count
    from), rather than the return failing (a TypeError before)."""
    from core.cases import set_emergency

    with time_machine.travel(NOW, tick=False), database.session() as session:
        session.add(Property(uprn="9", address="9 Street", postcode="LS6 1AB"))
        session.flush()
        case = open_case(session, uprn="9", aware_at=t(6, 10), source="officer", actor=ACTOR)
        set_emergency(session, case, True, actor=ACTOR, reason="Tenant on oxygen, mould spreading fast")
        record_step(session, case, "make_safe", t(7, 12), ACTOR)
        set_emergency(session, case, False, actor=ACTOR, reason="Triaged: not an emergency after all")
        result = period_return(session, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert result.cases == 1
    assert result.times["significant make_safe (hours)"] == {"cases": 1, "median": 26.0, "90th percentile": 26.0}
    assert result.times["significant make_safe (working days)"]["cases"] == 0
