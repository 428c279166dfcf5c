"""Awaab's Law clocks for every step and track, against a table worked out BY HAND from the guidance.

Each expected deadline below was counted on a paper calendar of England and Wales bank holidays
(gov.uk/bank-holidays), not by the code under test: "within N working days of" counts from the day after,
weekends and bank holidays skipped, ending at the end of the Nth working day, London time; emergency steps
run 24 elapsed hours. Sources: SI 2025/1042 regs 4-7; MHCLG "Awaab's Law: guidance for social landlords" (2025).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.cases import backstop, case_profile, step_clocks
from core.clock_profiles import BUILT_IN, ENGLAND_SOCIAL, WALES_WHQS, load_profiles
from core.errors import ConfigError
from core.model import Case

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC


def london_eod(year: int, month: int, day: int) -> dt.datetime:
    """23:59:59.999999 London time, written out per date (GMT or BST looked up by hand in each row)."""
    return dt.datetime(year, month, day, 23, 59, 59, 999999, tzinfo=LONDON).astimezone(UTC)


def clocks(case: Case, now: dt.datetime) -> dict:
    return {c.key: c for c in step_clocks(case, now)}


# (what, aware_at (UTC), expected investigation deadline (UTC), working it out)
SIGNIFICANT_INVESTIGATION = [
    ("year end, Christmas and New Year", dt.datetime(2025, 12, 23, 10, 0, tzinfo=UTC),
     dt.datetime(2026, 1, 9, 23, 59, 59, 999999, tzinfo=UTC),
     "24 Dec=1, 25/26 Dec bank hol, 29=2, 30=3, 31=4, 1 Jan bank hol, 2=5, 5..9 Jan=6..10 (GMT)"),
    ("Easter 2026", dt.datetime(2026, 4, 2, 14, 0, tzinfo=UTC),
     dt.datetime(2026, 4, 20, 22, 59, 59, 999999, tzinfo=UTC),
     "Fri 3 and Mon 6 Apr bank hols; 7..10=1..4, 13..17=5..9, Mon 20=10 (BST, so 22:59 UTC)"),
    ("aware just after midnight BST: London date is the next day", dt.datetime(2026, 10, 22, 23, 30, tzinfo=UTC),
     dt.datetime(2026, 11, 6, 23, 59, 59, 999999, tzinfo=UTC),
     "00:30 BST Fri 23 Oct; Mon 26..Fri 30=1..5 (clocks go back 25 Oct), Mon 2..Fri 6 Nov=6..10 (GMT)"),
    ("aware on a Saturday", dt.datetime(2026, 1, 10, 11, 0, tzinfo=UTC),
     dt.datetime(2026, 1, 23, 23, 59, 59, 999999, tzinfo=UTC),
     "Mon 12..Fri 16=1..5, Mon 19..Fri 23=6..10"),
    ("aware on the Boxing Day substitute Monday 2026", dt.datetime(2026, 12, 28, 9, 0, tzinfo=UTC),
     dt.datetime(2027, 1, 12, 23, 59, 59, 999999, tzinfo=UTC),
     "29=1, 30=2, 31=3, Fri 1 Jan 2027 bank hol, Mon 4..Fri 8=4..8, Mon 11=9, Tue 12=10"),
]


@pytest.mark.parametrize(("what", "aware", "due", "working"), SIGNIFICANT_INVESTIGATION,
                         ids=[row[0] for row in SIGNIFICANT_INVESTIGATION])
def test_significant_investigation_deadline(what, aware, due, working):
    """Investigate a significant hazard by the end of the 10th working day after becoming aware."""
    case = Case(uprn="1", aware_at=aware, emergency=False, status="open")
    assert clocks(case, aware)["investigate"].due == due


# (investigation concluded (UTC), summary due, safety work due, preventative due, 12-week backstop)
AFTER_INVESTIGATION = [
    (dt.datetime(2026, 12, 23, 16, 0, tzinfo=UTC),
     dt.datetime(2026, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),   # 24=1, 25 hol, 28 substitute hol, 29=2, 30=3
     dt.datetime(2027, 1, 4, 23, 59, 59, 999999, tzinfo=UTC),     # 31=4, 1 Jan hol, Mon 4=5
     dt.datetime(2027, 1, 4, 23, 59, 59, 999999, tzinfo=UTC),
     dt.datetime(2027, 3, 17, 23, 59, 59, 999999, tzinfo=UTC)),   # 23 Dec + 84 days = Wed 17 Mar (GMT)
    (dt.datetime(2026, 2, 2, 10, 0, tzinfo=UTC),
     dt.datetime(2026, 2, 5, 23, 59, 59, 999999, tzinfo=UTC),     # 3, 4, 5 Feb
     dt.datetime(2026, 2, 9, 23, 59, 59, 999999, tzinfo=UTC),     # 6=4, Mon 9=5
     dt.datetime(2026, 2, 9, 23, 59, 59, 999999, tzinfo=UTC),
     dt.datetime(2026, 4, 27, 22, 59, 59, 999999, tzinfo=UTC)),   # 2 Feb + 84 days = Mon 27 Apr, BST
    (dt.datetime(2027, 3, 25, 17, 0, tzinfo=UTC),                  # Thu before Easter 2027 (26 and 29 Mar hols)
     dt.datetime(2027, 4, 1, 22, 59, 59, 999999, tzinfo=UTC),     # 30=1, 31=2, Thu 1 Apr=3 (BST from 28 Mar)
     dt.datetime(2027, 4, 5, 22, 59, 59, 999999, tzinfo=UTC),     # Fri 2=4, Mon 5=5
     dt.datetime(2027, 4, 5, 22, 59, 59, 999999, tzinfo=UTC),
     dt.datetime(2027, 6, 17, 22, 59, 59, 999999, tzinfo=UTC)),   # 25 Mar + 84 = Thu 17 Jun (BST)
]


@pytest.mark.parametrize(("investigated", "summary", "safety", "preventative", "long_stop"), AFTER_INVESTIGATION)
def test_steps_after_the_investigation(investigated, summary, safety, preventative, long_stop):
    """Summary in 3, safety work in 5, preventative work begun in 5 working days; 12 weeks at the latest."""
    case = Case(uprn="1", aware_at=investigated - dt.timedelta(days=3), emergency=False, status="open",
                investigated_at=investigated)
    got = clocks(case, investigated)
    assert got["summary"].due == summary
    assert got["make_safe"].due == safety
    assert got["preventative"].due == preventative
    assert got["preventative"].long_stop == long_stop
    assert backstop(investigated) == long_stop


EMERGENCY = [
    ("spring forward: 24 elapsed hours, 25 on the wall clock", dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC),
     dt.datetime(2026, 3, 29, 12, 0, tzinfo=UTC)),   # 12:00 GMT Sat -> 13:00 BST Sun
    ("fall back: 24 elapsed hours, 23 on the wall clock", dt.datetime(2026, 10, 24, 19, 0, tzinfo=UTC),
     dt.datetime(2026, 10, 25, 19, 0, tzinfo=UTC)),  # 20:00 BST Sat -> 19:00 GMT Sun
    ("Christmas Day counts: hours are calendar hours", dt.datetime(2026, 12, 24, 22, 0, tzinfo=UTC),
     dt.datetime(2026, 12, 25, 22, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("what", "aware", "due"), EMERGENCY, ids=[row[0] for row in EMERGENCY])
def test_emergency_track(what, aware, due):
    """Emergency: investigate and make safe within 24 hours; no preventative deadline."""
    case = Case(uprn="1", aware_at=aware, emergency=True, status="open")
    got = clocks(case, aware)
    assert got["investigate"].due == due and got["make_safe"].due == due
    assert got["investigate"].hours_based and got["make_safe"].hours_based
    assert got["preventative"].state == "no deadline"


def test_no_case_clock_row_means_england_social():
    """A case from before clock profiles is judged by the England social rules."""
    case = Case(uprn="1", aware_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC), emergency=False, status="open")
    assert case_profile(case) == ENGLAND_SOCIAL


def test_wales_profile_is_configurable(tmp_path):
    """A Welsh landlord's published response time (20 working days here) sets the deadline; England cannot change."""
    path = tmp_path / "profiles.json"
    path.write_text('{"wales_whqs": {"investigate_working_days": 20, "rules_version": "Our WHQS times 2026"}}')
    profiles = load_profiles(path)
    assert profiles["wales_whqs"].investigate_working_days == 20
    assert profiles["england_social"] == BUILT_IN["england_social"]
    path.write_text('{"england_social": {"investigate_working_days": 20}}')
    with pytest.raises(ConfigError, match="cannot be changed"):
        load_profiles(path)
    path.write_text('{"wales_whqs": {"investigate_days": 20}}')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_profiles(path)
    assert WALES_WHQS.investigate_working_days == 10
