"""Working days in England and Wales, for the Awaab's Law clocks.

The Regulations count *working days*: every day except Saturdays, Sundays and the bank holidays of
England and Wales. The bank holidays come from the ``holidays`` package, which computes them by rule
for any year (so dates beyond its published tables still work). Its list for England holds both a
weekend holiday (a Saturday Boxing Day) and the substitute Monday; weekends are skipped first, so the
Saturday is not counted twice and the Monday is a non-working day.

How a clock counts (the usual reading of "within N working days of becoming aware"):

- The clock starts at an instant (``start``, tz-aware). Its Europe/London local date is the *day of
  awareness*, and that day is never counted, whatever the hour and whether or not it is a working day.
- Day 1 is the first working day after the day of awareness; the deadline is the **end** of the Nth
  working day (23:59:59.999999 London time), returned as a tz-aware UTC datetime.
- So a landlord who becomes aware at 18:00 on a Friday, at 03:00 on a Saturday or at 09:00 on a bank
  holiday Monday all have day 1 on the next working day; out-of-hours awareness gives no extra day and
  loses none.

Emergency steps run in hours (24), not working days: ``add_hours``.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")
HOLIDAY_COUNTRY = "GB"
HOLIDAY_SUBDIVISION = "ENG"  # England and Wales share their bank holidays (Wales has none of its own)


@functools.lru_cache(maxsize=64)
def bank_holidays(year: int) -> frozenset[dt.date]:
    """The bank holidays of England and Wales in ``year`` that fall on a weekday (substitute days included)."""
    listed = holidays.country_holidays(HOLIDAY_COUNTRY, subdiv=HOLIDAY_SUBDIVISION, years=year)
    return frozenset(day for day in listed if day.weekday() < 5)


def is_working_day(day: dt.date | dt.datetime) -> bool:
    """True for a weekday that is not a bank holiday in England and Wales (a datetime is taken in London time)."""
    day = london_date(day)
    if day.weekday() >= 5:
        return False
    return day not in bank_holidays(day.year)


def london_date(value: dt.date | dt.datetime) -> dt.date:
    """The Europe/London calendar date of an instant; a plain date is returned as it is."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; attach a timezone (datetime.UTC) so the London date is known")
        return value.astimezone(LONDON).date()
    return value


def end_of_day(day: dt.date) -> dt.datetime:
    """The last instant of a London calendar day, as tz-aware UTC."""
    return dt.datetime.combine(day, dt.time.max, tzinfo=LONDON).astimezone(dt.UTC)


def start_of_day(day: dt.date) -> dt.datetime:
    """The first instant of a London calendar day, as tz-aware UTC."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=LONDON).astimezone(dt.UTC)


def next_working_day(day: dt.date) -> dt.date:
    """The first working day strictly after ``day``."""
    day += dt.timedelta(days=1)
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days_to_date(day: dt.date, n: int) -> dt.date:
    """The Nth working day after ``day`` (``day`` itself not counted); ``n = 0`` gives ``day``."""
    if n < 0:
        raise ValueError(f"cannot add {n} working days: give 0 or more")
    for _ in range(n):
        day = next_working_day(day)
    return day


def add_working_days(start: dt.datetime, n: int) -> dt.datetime:
    """The deadline N working days after a clock that starts at ``start``: the end of that day, as UTC.

    The day of ``start`` (in London) is never counted; day 1 is the next working day (see the module
    docstring). ``n = 0`` gives the end of the day of ``start`` itself.
    """
    return end_of_day(add_working_days_to_date(london_date(start), n))


def working_days_between(a: dt.date | dt.datetime, b: dt.date | dt.datetime) -> int:
    """Working days after ``a``'s London date up to and including ``b``'s; negative when ``b`` is earlier.

    It inverts ``add_working_days``: ``working_days_between(start, add_working_days(start, n)) == n``.
    Used for "working days left" (from now to a deadline: 0 means the deadline is today) and for how many
    working days late a step was.
    """
    first, last = london_date(a), london_date(b)
    if last < first:
        return -working_days_between(last, first)
    count = 0
    day = first + dt.timedelta(days=1)
    while day <= last:
        if is_working_day(day):
            count += 1
        day += dt.timedelta(days=1)
    return count


def add_hours(start: dt.datetime, hours: float = 24) -> dt.datetime:
    """An hours-based deadline (the emergency steps): ``start`` plus ``hours`` elapsed time, as UTC."""
    if start.tzinfo is None:
        raise ValueError("naive datetime given; attach a timezone (datetime.UTC)")
    # In UTC first: arithmetic on a Europe/London datetime is wall-clock time and would gain or lose the
    # hour of a clock change.
    return start.astimezone(dt.UTC) + dt.timedelta(hours=hours)


def working_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The working days from ``start`` to ``end`` inclusive, in order."""
    days = []
    day = start
    while day <= end:
        if is_working_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days
