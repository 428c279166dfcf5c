"""The manager's regulator-ready return for a period: what a landlord reports on its Awaab's Law cases.

For the cases the landlord became aware of in the period (London dates, both ends included):

- cases by hazard and severity (a case with two hazards counts under each);
- time to investigate and to make safe, per track: median and 90th percentile, in hours (emergency) and in
  working days (significant), over the cases where the step was done;
- deadlines met and missed by step (done in time; done late or still overdue at the end of the period);

and, at the end of the period: open cases past each deadline, homes monitored (a sensor installed at any
time in the period) and homes whose sensors were silent (an installed sensor with nothing heard for
``silent_hours``).

Percentiles are nearest-rank (the smallest value with at least p % of the values at or below it): a value
that really occurred, which a regulator can trace to a case.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.cases import STEPS, StepClock, hazard_codes, step_clocks
from core.hazards import hazard
from core.model import Case, DeviceHealth, Installation, Room
from core.workdays import end_of_day, start_of_day, working_days_between

__all__ = ["PeriodReturn", "nearest_rank", "period_return", "return_csv"]


def nearest_rank(values: Sequence[float], percent: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None when empty): sorted value number ceil(p/100 x n)."""
    if not values:
        return None
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in (0, 100], not {percent}")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


@dataclass
class PeriodReturn:
    """The return's figures (see the module docstring)."""

    start: dt.date
    end: dt.date
    cases: int = 0
    by_hazard_severity: Counter[tuple[str, str]] = field(default_factory=Counter)  # (hazard code, severity) -> cases
    times: dict[str, dict[str, float | int | None]] = field(default_factory=dict)
    met_missed: dict[str, dict[str, int]] = field(default_factory=dict)  # step -> {"met", "missed", "pending"}
    open_past_deadline: dict[str, int] = field(default_factory=dict)  # step -> open cases overdue at the end
    homes_monitored: int = 0
    homes_silent: int = 0

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The return as (section, item, measure, value) rows: the CSV and the page both read these."""
        out: list[tuple[str, str, str, str]] = [("period", f"{self.start} to {self.end}", "cases", str(self.cases))]
        for (code, severity), count in sorted(self.by_hazard_severity.items()):
            out.append(("cases by hazard", hazard(code).name, severity, str(count)))
        for name, figures in self.times.items():
            for measure, value in figures.items():
                out.append(("time to step", name, measure, "" if value is None else _fmt(value)))
        for step, counts in self.met_missed.items():
            for measure, value in counts.items():
                out.append(("deadlines", step, measure, str(value)))
        for step, count in self.open_past_deadline.items():
            out.append(("open past deadline at period end", step, "cases", str(count)))
        out.append(("sensors", "homes monitored", "homes", str(self.homes_monitored)))
        out.append(("sensors", "homes with sensors silent at period end", "homes", str(self.homes_silent)))
        return out


def _fmt(value: float | int) -> str:
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def period_return(session: Session, start: dt.date, end: dt.date, *, silent_hours: float = 24.0) -> PeriodReturn:
    """The return for the London dates ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError("the period ends before it starts; give the earlier date first")
    begin, finish = start_of_day(start), end_of_day(end)
    result = PeriodReturn(start, end)
    from core.awaab_model import case_loads

    cases = list(session.scalars(select(Case).where(Case.aware_at >= begin, Case.aware_at <= finish)
                                 .order_by(Case.id).options(*case_loads())))
    result.cases = len(cases)
    hours: dict[str, list[float]] = {k: [] for k in ("emergency investigate", "emergency make_safe",
                                                     "significant investigate", "significant make_safe")}
    days: dict[str, list[int]] = {"significant investigate": [], "significant make_safe": []}
    result.met_missed = {step.key: {"met": 0, "missed": 0, "pending": 0} for step in STEPS}
    for case in cases:
        codes = hazard_codes(case)
        severities = {h.hazard: h.severity for h in case.hazards if h.removed_at is None}
        for code in codes:
            result.by_hazard_severity[(code, severities.get(code, "medium"))] += 1
        track = "emergency" if case.emergency else "significant"
        for step_key, column in (("investigate", case.investigated_at), ("make_safe", case.made_safe_at)):
            if column is not None and column <= finish:
                hours[f"{track} {step_key}"].append((column - case.aware_at).total_seconds() / 3600)
                origin = case.aware_at if step_key == "investigate" else case.investigated_at
                # A case made safe on the emergency track and then taken off it may have no investigation to
                # count working days from; it has hours, but no working days, to make safe.
                if track == "significant" and origin is not None:
                    days[f"significant {step_key}"].append(working_days_between(origin, column))
        for clock in step_clocks(case, finish):
            state = _state_at(clock, finish)
            if state == "done":
                result.met_missed[clock.key]["met"] += 1
            elif state in ("done late", "overdue"):
                result.met_missed[clock.key]["missed"] += 1
            elif state != "no deadline":
                result.met_missed[clock.key]["pending"] += 1
    for name, values in hours.items():
        result.times[name + " (hours)"] = {"cases": len(values), "median": nearest_rank(values, 50),
                                           "90th percentile": nearest_rank(values, 90)}
    for name, day_counts in days.items():
        result.times[name + " (working days)"] = {"cases": len(day_counts), "median": nearest_rank(day_counts, 50),
                                                  "90th percentile": nearest_rank(day_counts, 90)}
    result.open_past_deadline = {step.key: 0 for step in STEPS}
    open_then = session.scalars(select(Case).where(Case.aware_at <= finish).options(*case_loads())).all()
    for case in open_then:
        if case.closed_at is not None and case.closed_at <= finish:
            continue
        # A case closed after the period's end was open at its end; its clocks stop at the end (the earlier).
        for clock in step_clocks(case, finish):
            if _state_at(clock, finish) == "overdue":
                result.open_past_deadline[clock.key] += 1
    installs = session.execute(
        select(Installation, Room.uprn).join(Room, Installation.room_id == Room.id)
        .where(Installation.installed_at <= finish)
    ).all()
    monitored = {uprn for inst, uprn in installs if inst.removed_at is None or inst.removed_at >= begin}
    result.homes_monitored = len(monitored)
    current = [(inst, uprn) for inst, uprn in installs if inst.removed_at is None or inst.removed_at > finish]
    health = {h.device_id: h for h in session.scalars(select(DeviceHealth))}
    quiet_since = finish - dt.timedelta(hours=silent_hours)
    silent = set()
    for inst, uprn in current:
        seen = health.get(inst.device_id)
        last = seen.last_seen if seen is not None else None
        if last is None or last < quiet_since:
            silent.add(uprn)
    result.homes_silent = len(silent)
    return result


def _state_at(clock: StepClock, finish: dt.datetime) -> str:
    """A clock's state at the period's end: a step done after the end was not done then."""
    if clock.done_at is not None and clock.done_at > finish:
        if clock.due is None:
            return "pending"
        return "overdue" if clock.due < finish else "pending"
    return clock.state


def return_csv(result: PeriodReturn) -> str:
    """The return as CSV (section, item, measure, value)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "item", "measure", "value"])
    writer.writerows(result.rows())
    return buffer.getvalue()


def period_label(result: PeriodReturn) -> str:
    """The period in words ("1 January 2026 to 31 March 2026")."""
    return f"{result.start.day} {result.start:%B %Y} to {result.end.day} {result.end:%B %Y}"

