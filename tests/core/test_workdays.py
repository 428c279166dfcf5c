"""Working days in England and Wales, and the Awaab's Law deadlines counted in them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from core.workdays import (
    add_hours,
    add_working_days,
    bank_holidays,
    end_of_day,
    is_working_day,
    london_date,
    working_days,
    working_days_between,
)

LONDON = ZoneInfo("Europe/London")


def london(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=LONDON)


def deadline(year: int, month: int, day: int) -> dt.datetime:
    """The end of a London day, as the UTC instant ``add_working_days`` returns."""
    return end_of_day(dt.date(year, month, day))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 1, 5), True),  # a Monday
        (dt.date(2026, 1, 10), False),  # Saturday
        (dt.date(2026, 1, 11), False),  # Sunday
        (dt.date(2026, 1, 1), False),  # New Year's Day
        (dt.date(2026, 4, 3), False),  # Good Friday
        (dt.date(2026, 4, 6), False),  # Easter Monday
        (dt.date(2026, 4, 7), True),
        (dt.date(2026, 5, 4), False),  # early May
        (dt.date(2026, 5, 25), False),  # spring
        (dt.date(2026, 8, 31), False),  # late summer
        (dt.date(2026, 12, 25), False),  # Christmas on a Friday
        (dt.date(2026, 12, 28), False),  # Boxing Day (Saturday) observed on Monday
        (dt.date(2026, 12, 29), True),
        (dt.date(2027, 12, 27), False),  # Christmas on a Saturday, observed Monday
        (dt.date(2027, 12, 28), False),  # Boxing Day on a Sunday, observed Tuesday
        (dt.date(2027, 12, 29), True),
        (dt.date(2028, 1, 3), False),  # New Year's Day on a Saturday, observed Monday
        (dt.date(2028, 1, 4), True),
        (dt.date(2040, 12, 25), False),  # far beyond any published table: computed by rule
        (dt.date(2040, 12, 27), True),
    ],
)
def test_is_working_day(day, expected):
    """Weekends and bank holidays of England and Wales (with substitute days) are not working days."""
    assert is_working_day(day) is expected


def test_weekend_holidays_are_left_out_of_the_weekday_list():
    """A Saturday Boxing Day is skipped as a weekend; only the observed Monday is a weekday holiday."""
    holidays_2026 = bank_holidays(2026)
    assert dt.date(2026, 12, 26) not in holidays_2026
    assert dt.date(2026, 12, 28) in holidays_2026
    assert all(day.weekday() < 5 for day in holidays_2026)
    assert len(holidays_2026) == 8


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # An ordinary Monday morning: the day of awareness is not counted.
        (london(2026, 1, 5, 9, 0), 1, deadline(2026, 1, 6)),
        (london(2026, 1, 5, 9, 0), 10, deadline(2026, 1, 19)),
        # Friday evening: day 1 is Monday; ten working days end on Friday fortnight.
        (london(2026, 1, 9, 18, 0), 1, deadline(2026, 1, 12)),
        (london(2026, 1, 9, 18, 0), 10, deadline(2026, 1, 23)),
        # Saturday night and Sunday count the same as Friday.
        (london(2026, 1, 10, 3, 0), 10, deadline(2026, 1, 23)),
        (london(2026, 1, 11, 23, 59), 10, deadline(2026, 1, 23)),
        # Good Friday (a bank holiday): day 1 is the Tuesday after Easter Monday.
        (london(2026, 4, 3, 10, 0), 1, deadline(2026, 4, 7)),
        (london(2026, 4, 2, 16, 0), 5, deadline(2026, 4, 13)),
        # Christmas 2026: Friday, Saturday Boxing Day observed Monday, then New Year's Day 2027 on a Friday.
        (london(2026, 12, 24, 9, 0), 1, deadline(2026, 12, 29)),
        (london(2026, 12, 24, 9, 0), 3, deadline(2026, 12, 31)),
        (london(2026, 12, 24, 9, 0), 4, deadline(2027, 1, 4)),
        (london(2026, 12, 23, 12, 0), 10, deadline(2027, 1, 11)),
        # Christmas 2027 on a weekend (Mon 27 and Tue 28 observed), New Year's Day 2028 observed Monday 3rd.
        (london(2027, 12, 24, 9, 0), 1, deadline(2027, 12, 29)),
        (london(2027, 12, 24, 9, 0), 3, deadline(2027, 12, 31)),
        (london(2027, 12, 24, 9, 0), 4, deadline(2028, 1, 4)),
        (london(2027, 12, 25, 9, 0), 10, deadline(2028, 1, 12)),
        # n = 0 is the end of the day of awareness itself.
        (london(2026, 1, 5, 9, 0), 0, deadline(2026, 1, 5)),
    ],
)
def test_add_working_days(start, n, expected):
    """Deadlines are the end of the Nth working day after the day the clock starts (London time)."""
    assert add_working_days(start, n) == expected
    assert add_working_days(start.astimezone(dt.UTC), n) == expected


def test_deadline_is_the_end_of_the_london_day_in_summer_time():
    """In British Summer Time the end of the London day is 22:59:59.999999 UTC."""
    result = add_working_days(london(2026, 6, 1, 9, 0), 1)
    assert result.tzinfo is not None and result.utcoffset() == dt.timedelta(0)
    assert result == dt.datetime(2026, 6, 2, 22, 59, 59, 999999, tzinfo=dt.UTC)


def test_day_of_awareness_is_the_london_date_not_the_utc_date():
    """23:30 UTC on a Thursday in summer is already Friday in London, so day 1 is Monday."""
    start = dt.datetime(2026, 6, 4, 23, 30, tzinfo=dt.UTC)
    assert london_date(start) == dt.date(2026, 6, 5)
    assert add_working_days(start, 1) == deadline(2026, 6, 8)


@pytest.mark.parametrize("start", [london(2026, 1, 9, 18, 0), london(2026, 12, 20, 8, 0), london(2027, 12, 22, 23, 0),
                                   london(2026, 3, 27, 12, 0), london(2035, 4, 1, 12, 0)])
@pytest.mark.parametrize("n", [1, 3, 5, 10, 30])
def test_working_days_between_inverts_add_working_days(start, n):
    """Counting the working days from the start to its deadline gives back N."""
    assert working_days_between(start, add_working_days(start, n)) == n
    assert working_days_between(add_working_days(start, n), start) == -n


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (dt.date(2026, 1, 9), dt.date(2026, 1, 12), 1),  # Friday to Monday
        (dt.date(2026, 1, 9), dt.date(2026, 1, 10), 0),  # Friday to Saturday
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5), 0),
        (dt.date(2026, 12, 24), dt.date(2027, 1, 4), 4),
        (dt.date(2026, 1, 13), dt.date(2026, 1, 12), -1),
    ],
)
def test_working_days_between(a, b, expected):
    """Working days after a, up to and including b."""
    assert working_days_between(a, b) == expected


def test_working_days_lists_only_working_days():
    """The list over Easter 2026 leaves out Good Friday, the weekend and Easter Monday."""
    assert working_days(dt.date(2026, 4, 2), dt.date(2026, 4, 7)) == [dt.date(2026, 4, 2), dt.date(2026, 4, 7)]


def test_add_hours_is_elapsed_time_across_a_clock_change():
    """Emergency deadlines are 24 real hours, even over the spring clock change."""
    start = london(2026, 3, 28, 12, 0)
    assert add_hours(start, 24) == dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.UTC)
    assert add_hours(start, 24).astimezone(LONDON).hour == 13


@pytest.mark.parametrize("function", [lambda d: add_working_days(d, 1), lambda d: add_hours(d, 24), london_date])
def test_naive_datetimes_are_refused(function):
    """A time without a zone cannot be placed in London, so it is refused."""
    with pytest.raises(ValueError, match="naive"):
        function(dt.datetime(2026, 1, 5, 9, 0))


def test_negative_working_days_are_refused():
    """A deadline cannot be before its clock starts."""
    with pytest.raises(ValueError, match="0 or more"):
        add_working_days(london(2026, 1, 5, 9, 0), -1)
