"""Properties of the Awaab's Law clocks and the work-order import, over generated inputs (hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.awaab_model import read_work_order_rows, status_from_text
from core.cases import backstop, step_clocks
from core.model import Case
from core.workdays import LONDON, is_working_day, london_date, working_days_between

UTC = dt.UTC
instants = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 12, 31),
                        timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(aware=instants)
def test_significant_investigation_is_the_end_of_the_tenth_working_day(aware):
    """Due at 23:59:59.999999 London time on a working day, exactly 10 working days after the day of awareness."""
    due = {c.key: c for c in step_clocks(Case(uprn="1", aware_at=aware, emergency=False, status="open"), aware)}[
        "investigate"].due
    local = due.astimezone(LONDON)
    assert (local.hour, local.minute, local.second, local.microsecond) == (23, 59, 59, 999999)
    assert is_working_day(london_date(due))
    assert working_days_between(aware, due) == 10
    assert due > aware


@settings(max_examples=200, deadline=None)
@given(aware=instants)
def test_emergency_clocks_are_24_elapsed_hours(aware):
    """Investigate and make safe 24 hours later, whatever the calendar or the clock change."""
    clocks = {c.key: c for c in step_clocks(Case(uprn="1", aware_at=aware, emergency=True, status="open"), aware)}
    assert clocks["investigate"].due - aware == dt.timedelta(hours=24)
    assert clocks["make_safe"].due - aware == dt.timedelta(hours=24)


@settings(max_examples=200, deadline=None)
@given(investigated=instants, lead=st.integers(min_value=0, max_value=30))
def test_steps_after_the_investigation(investigated, lead):
    """Summary 3 and safety work 5 working days after the investigation; the backstop is 84 calendar days later
    and never before the 5-day deadline."""
    case = Case(uprn="1", aware_at=investigated - dt.timedelta(days=lead), emergency=False, status="open",
                investigated_at=investigated)
    clocks = {c.key: c for c in step_clocks(case, investigated)}
    assert working_days_between(investigated, clocks["summary"].due) == 3
    assert working_days_between(investigated, clocks["make_safe"].due) == 5
    assert london_date(backstop(investigated)) - london_date(investigated) == dt.timedelta(days=84)
    assert clocks["preventative"].long_stop >= clocks["preventative"].due


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80))
def test_status_words_never_raise(text):
    """Any status text maps to a known status or None."""
    assert status_from_text(text) in (None, "raised", "scheduled", "in_progress", "completed", "cancelled",
                                      "no_access")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), fmt=st.sampled_from(["csv", "json"]))
def test_update_files_are_rows_or_a_clear_error(text, fmt):
    """Any file text gives a list of rows or an AwaabModelError with what to do (never another exception)."""
    from core.awaab_model import AwaabModelError

    try:
        rows = read_work_order_rows(text, fmt=fmt)
    except AwaabModelError as exc:
        assert str(exc)
    else:
        assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)


work_order_fields = st.sampled_from(["work_order_id", "hazard_report_id", "job_status_update", "planned_start_date",
                                     "planned_finish_date", "actual_start_date_time", "actual_completion_date_time",
                                     "description_of_work", "contractor_organisation", "colour"])
row_values = st.one_of(st.text(max_size=40), st.integers(), st.none(), st.sampled_from(
    ["DW-C1", "DW-C99999999999999999999", "Complete", "2026-02-01", "2026-02-01T10:00:00Z", "2099-01-01T00:00:00Z"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.dictionaries(work_order_fields, row_values, max_size=6), max_size=5))
def test_any_update_rows_are_applied_or_reported(tmp_path, rows):
    """Whatever the rows hold, the import reports each bad one by number and never raises."""
    from core.awaab_model import import_work_orders
    from core.cases import open_case
    from core.model import Property

    database = _database(tmp_path)
    with database.session() as session:
        if session.get(Property, "1") is None:
            session.add(Property(uprn="1", address="1 Street", postcode="LS6 1AB"))
            session.flush()
            open_case(session, uprn="1", aware_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC), source="officer",
                      actor="test")
    with database.session() as session:
        report = import_work_orders(session, rows, "test")
        assert report.created + report.updated + report.unchanged + len(report.errors) == len(rows)
        assert all(e.startswith("row ") for e in report.errors)
        session.rollback()


_DATABASES: dict[str, object] = {}


def _database(tmp_path):
    from core.db import Database

    key = str(tmp_path)
    if key not in _DATABASES:
        _DATABASES[key] = Database(f"sqlite:///{tmp_path}/props.db")
    return _DATABASES[key]
