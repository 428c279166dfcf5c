"""Inspection scheduling: each repair team's daily capacity, and a proposed schedule that meets the deadlines.

A team can do ``Team.daily_capacity`` inspections on a working day; a team with ``districts`` set ("LS6 LS7")
only visits homes in those postcode districts. ``schedule_inspection`` books one visit and refuses a day
that is full, not a working day or in the past. ``propose_schedule`` fills the team's remaining capacity
over the next working days, earliest Awaab's Law deadline first (earliest-deadline-first meets every
deadline that can be met), then by priority:

    priority = latest risk score × vulnerability weight
    vulnerability weight = 1 + 0.5 (a child under 15) + 0.3 (someone 65 or over) + 0.5 (a respiratory condition)

Children and people with respiratory conditions are the groups the UKHSA guidance and HHSRS (damp and
mould growth) put first; people over 65 are most at risk from the cold that drives condensation, so they
raise priority a little less. A home without a risk score counts as score 0.

Homes in the list: open cases not yet investigated and without a visit booked (their deadline is the
investigation deadline), then homes without an open case whose latest band is high or critical (their
deadline is counted as if the case opened now; accepting the proposal opens it). Homes whose case was closed
in the last :data:`RECENTLY_CLOSED_DAYS` days are left out: an inspection has just answered them. Cases that
cannot be fitted into the window are still listed, without a date, so nobody loses sight of a deadline;
homes without a case that do not fit are simply not proposed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.cases import add_case_event, open_case, step_clocks
from core.clock_profiles import ClockProfile, configured_profile
from core.errors import DampWatchError
from core.model import Case, Inspection, Property, PropertyRisk, Team, postcode_district
from core.workdays import add_working_days, is_working_day, london_date, next_working_day

logger = logging.getLogger(__name__)

VULNERABILITY_WEIGHTS = {"child_under_15": 0.5, "over_65": 0.3, "respiratory_condition": 0.5}
VULNERABILITY_LABELS = {"child_under_15": "child under 15", "over_65": "someone 65 or over",
                        "respiratory_condition": "respiratory condition"}
PROPOSE_BANDS = ("high", "critical")
RECENTLY_CLOSED_DAYS = 28
BOOKED_STATUSES = ("scheduled", "completed", "no_access")
"""Inspections that take a slot of the day (a cancelled one frees it)."""


class SchedulingError(DampWatchError):
    """An inspection cannot be booked (the message says why, in words fit for a page)."""


def team_districts(team: Team) -> set[str]:
    """The postcode districts a team covers (empty: anywhere)."""
    return {part.upper() for part in re.split(r"[\s,;]+", team.districts or "") if part}


def team_covers(team: Team, postcode: str) -> bool:
    """True when the team visits homes with this postcode."""
    districts = team_districts(team)
    return not districts or postcode_district(postcode).upper() in districts


def vulnerability_weight(home: Property) -> float:
    """The factor a household's vulnerability multiplies the risk score by (see the module docstring)."""
    return 1.0 + sum(weight for flag, weight in VULNERABILITY_WEIGHTS.items() if getattr(home, flag))


def vulnerabilities(home: Property) -> list[str]:
    """The household's vulnerabilities, in words."""
    return [VULNERABILITY_LABELS[flag] for flag in VULNERABILITY_WEIGHTS if getattr(home, flag)]


def _dates(date_range: tuple[dt.date, dt.date] | Iterable[dt.date]) -> list[dt.date]:
    if isinstance(date_range, tuple) and len(date_range) == 2 and all(isinstance(d, dt.date) for d in date_range):
        start, end = date_range
        return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    return sorted(set(date_range))


def team_load(session: Session, team: Team, date_range: tuple[dt.date, dt.date] | Iterable[dt.date]) -> dict[dt.date, int]:
    """Inspections booked for the team on each day of ``date_range`` (``(first, last)`` inclusive, or dates)."""
    days = _dates(date_range)
    if not days:
        return {}
    counts = dict(session.execute(
        select(Inspection.scheduled_for, func.count())
        .where(Inspection.team_id == team.id, Inspection.status.in_(BOOKED_STATUSES),
               Inspection.scheduled_for >= days[0], Inspection.scheduled_for <= days[-1])
        .group_by(Inspection.scheduled_for)
    ).all())
    return {day: int(counts.get(day, 0)) for day in days}


def remaining_capacity(session: Session, team: Team, days: Iterable[dt.date]) -> dict[dt.date, int]:
    """Slots left for the team on each working day given (non-working days are left out)."""
    working = [day for day in days if is_working_day(day)]
    load = team_load(session, team, working)
    return {day: max(0, team.daily_capacity - load[day]) for day in working}


def next_working_days(start: dt.date, count: int) -> list[dt.date]:
    """``count`` working days from ``start`` (included when it is a working day)."""
    days: list[dt.date] = []
    day = start if is_working_day(start) else next_working_day(start)
    while len(days) < count:
        days.append(day)
        day = next_working_day(day)
    return days


def _long_date(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def schedule_inspection(
    session: Session,
    case: Case,
    team: Team,
    date: dt.date,
    actor: str,
    *,
    now: dt.datetime | None = None,
    user_id: int | None = None,
    ip: str | None = None,
) -> Inspection:
    """Book an inspection of a case's home by a team on a date; recorded on the timeline and the audit log.

    Raises
    ------
    SchedulingError
        If the case is closed or already has a visit booked, the team does not cover the home's district,
        or the date is in the past, not a working day, or full.
    """
    now = now or dt.datetime.now(dt.UTC)
    if case.status != "open":
        raise SchedulingError(f"Case {case.id} is closed; inspections can only be booked for open cases")
    pending = [i for i in case.inspections if i.status == "scheduled"]
    if pending:
        raise SchedulingError(
            f"Case {case.id} already has an inspection booked for {_long_date(pending[0].scheduled_for)}"
        )
    home = case.property
    if not team_covers(team, home.postcode):
        raise SchedulingError(f"{team.name} does not cover {postcode_district(home.postcode)} "
                              f"(it covers {', '.join(sorted(team_districts(team)))})")
    if date < london_date(now):
        raise SchedulingError("The inspection date must be today or in the future")
    if not is_working_day(date):
        raise SchedulingError(f"{_long_date(date)} is not a working day; choose a weekday that is not a bank holiday")
    booked = team_load(session, team, [date])[date]
    if booked >= team.daily_capacity:
        raise SchedulingError(f"{team.name} is fully booked on {_long_date(date)} "
                              f"({booked} of {team.daily_capacity} inspections)")
    inspection = Inspection(case=case, uprn=case.uprn, team=team, scheduled_for=date, status="scheduled",
                            created_by=actor, created_at=now)
    session.add(inspection)
    session.flush()
    add_case_event(session, case, "inspection_scheduled", actor, f"Inspection by {team.name} on {_long_date(date)}",
                   at=now, inspection_id=inspection.id, team=team.name, date=date.isoformat())
    audit.record(session, actor, "inspection.scheduled", "inspection", inspection.id, user_id=user_id, ip=ip,
                 case_id=case.id, team=team.name, date=date.isoformat())
    return inspection


def cancel_inspection(session: Session, inspection: Inspection, actor: str, reason: str, *,
                      user_id: int | None = None, ip: str | None = None) -> Inspection:
    """Cancel a booked inspection (its slot is freed); recorded."""
    if inspection.status != "scheduled":
        raise SchedulingError(f"Inspection {inspection.id} is {inspection.status.replace('_', ' ')}, not booked")
    inspection.status = "cancelled"
    add_case_event(session, inspection.case, "inspection_cancelled", actor, reason, inspection_id=inspection.id)
    audit.record(session, actor, "inspection.cancelled", "inspection", inspection.id, user_id=user_id, ip=ip, reason=reason)
    return inspection


def move_inspection(session: Session, inspection: Inspection, date: dt.date, actor: str, reason: str, *,
                    now: dt.datetime | None = None, user_id: int | None = None, ip: str | None = None) -> Inspection:
    """Move a booked inspection to another day (same team; the day must be a working day with room); recorded."""
    now = now or dt.datetime.now(dt.UTC)
    if inspection.status != "scheduled":
        raise SchedulingError(f"Inspection {inspection.id} is {inspection.status.replace('_', ' ')}, not booked")
    if not reason.strip():
        raise SchedulingError("Enter why the inspection is moving")
    if date == inspection.scheduled_for:
        raise SchedulingError(f"The inspection is already booked for {_long_date(date)}")
    if date < london_date(now):
        raise SchedulingError("The inspection date must be today or in the future")
    if not is_working_day(date):
        raise SchedulingError(f"{_long_date(date)} is not a working day; choose a weekday that is not a bank holiday")
    team = inspection.team
    booked = team_load(session, team, [date])[date]
    if booked >= team.daily_capacity:
        raise SchedulingError(f"{team.name} is fully booked on {_long_date(date)} "
                              f"({booked} of {team.daily_capacity} inspections)")
    before = inspection.scheduled_for
    inspection.scheduled_for = date
    add_case_event(session, inspection.case, "inspection_moved", actor,
                   f"From {_long_date(before)} to {_long_date(date)}: {reason.strip()}", at=now,
                   inspection_id=inspection.id, before=before.isoformat(), after=date.isoformat(), reason=reason.strip())
    audit.record(session, actor, "inspection.moved", "inspection", inspection.id, user_id=user_id, ip=ip,
                 before=before.isoformat(), after=date.isoformat(), reason=reason.strip())
    return inspection


# -- proposals ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """One home in a proposed schedule."""

    uprn: str
    address: str
    postcode: str
    case_id: int | None  # None: a case will be opened on acceptance
    date: dt.date | None  # None: no capacity in the window
    deadline: dt.datetime  # the investigation deadline (for a new case: as if opened now)
    priority: float
    score: float | None
    band: str | None
    property_risk_id: int | None
    emergency: bool = False
    vulnerable: tuple[str, ...] = ()

    @property
    def late(self) -> bool:
        """True when the proposed date is after the deadline, or there is no date."""
        return self.date is None or self.date > london_date(self.deadline)

    @property
    def note(self) -> str:
        """What the officer needs to know about this row, in words."""
        parts = []
        if self.case_id is None:
            parts.append("A case will be opened")
        if self.date is None:
            parts.append("No capacity before the end of this schedule")
        elif self.late:
            parts.append("After the investigation deadline")
        return "; ".join(parts)


def latest_risks(session: Session, uprns: Iterable[str] | None = None) -> dict[str, PropertyRisk]:
    """The newest PropertyRisk of each home (of the given homes, or all)."""
    newest = select(PropertyRisk.uprn, func.max(PropertyRisk.run_id).label("run_id")).group_by(PropertyRisk.uprn)
    if uprns is not None:
        newest = newest.where(PropertyRisk.uprn.in_(list(uprns)))
    newest_runs = newest.subquery()
    query = select(PropertyRisk).join(
        newest_runs, (PropertyRisk.uprn == newest_runs.c.uprn) & (PropertyRisk.run_id == newest_runs.c.run_id)
    )
    return {risk.uprn: risk for risk in session.scalars(query)}


def _priority(home: Property, risk: PropertyRisk | None) -> float:
    score = risk.score if risk is not None and risk.score is not None else 0.0
    return float(score) * vulnerability_weight(home)


def _candidates(session: Session, team: Team, now: dt.datetime, rules: ClockProfile) -> list[Proposal]:
    risks = latest_risks(session)
    rows: list[Proposal] = []
    open_cases = session.scalars(select(Case).where(Case.status == "open")).all()
    with_case = {case.uprn for case in open_cases}
    for case in open_cases:
        if case.investigated_at is not None or any(i.status == "scheduled" for i in case.inspections):
            continue
        home = case.property
        if not team_covers(team, home.postcode):
            continue
        risk = risks.get(case.uprn)
        investigate = step_clocks(case, now)[0]
        assert investigate.due is not None  # the investigation always has a deadline
        rows.append(Proposal(case.uprn, home.address, home.postcode, case.id, None, investigate.due,
                             _priority(home, risk), risk.score if risk else None, risk.band if risk else None,
                             risk.id if risk else None, case.emergency, tuple(vulnerabilities(home))))
    recently = now - dt.timedelta(days=RECENTLY_CLOSED_DAYS)
    recently_closed = set(session.scalars(select(Case.uprn).where(Case.status == "closed", Case.closed_at >= recently)))
    # A home without a case would get one now, under the profile new cases follow: its investigate clock.
    new_deadline = add_working_days(now, rules.investigate_working_days)
    flagged = [risk for uprn, risk in risks.items()
               if risk.band in PROPOSE_BANDS and uprn not in with_case and uprn not in recently_closed]
    homes = {home.uprn: home for home in session.scalars(
        select(Property).where(Property.uprn.in_([risk.uprn for risk in flagged])))} if flagged else {}
    for risk in flagged:
        home = homes[risk.uprn]
        if not team_covers(team, home.postcode):
            continue
        rows.append(Proposal(home.uprn, home.address, home.postcode, None, None, new_deadline, _priority(home, risk),
                             risk.score, risk.band, risk.id, False, tuple(vulnerabilities(home))))
    rows.sort(key=lambda p: (p.deadline, -p.priority, p.case_id is None, p.uprn))
    return rows


def propose_schedule(session: Session, team: Team, start: dt.date, days: int, now: dt.datetime, *,
                     profile: ClockProfile | None = None) -> list[Proposal]:
    """Fill the team's remaining capacity over ``days`` working days from ``start`` (never before today).

    An open case's deadline is its own investigate clock; a home without a case gets the investigate clock a
    case opened now would have under ``profile`` (default: the configured one, ``DAMPWATCH_CLOCK_PROFILE``).

    Homes are taken earliest deadline first, then highest priority, and each goes on the earliest day with
    a free slot, so a home is booked on or before its deadline whenever capacity allows; a proposal after
    its deadline says so (``late``). Open cases that do not fit are returned without a date.
    """
    if days < 1:
        raise SchedulingError("Give at least 1 working day to schedule")
    start = max(start, london_date(now))
    window = next_working_days(start, days)
    free = remaining_capacity(session, team, window)
    proposals = []
    rules = profile if profile is not None else configured_profile()
    for candidate in _candidates(session, team, now, rules):
        day = next((d for d in window if free[d] > 0), None)
        if day is None:
            if candidate.case_id is not None:
                proposals.append(candidate)
            continue
        free[day] -= 1
        proposals.append(replace(candidate, date=day))
    logger.info("proposed %d inspections for %s over %d working days from %s",
                sum(p.date is not None for p in proposals), team.name, days, start)
    return proposals


def accept_proposals(
    session: Session,
    team: Team,
    proposals: Iterable[Proposal],
    actor: str,
    *,
    now: dt.datetime | None = None,
    user_id: int | None = None,
    ip: str | None = None,
) -> list[Inspection]:
    """Book every proposal that has a date, opening a case first where there is none (all or nothing).

    A case opened here starts its clock now (source "risk_flag", linked to the risk record that flagged
    the home). Any refusal (a day filled up meanwhile, a case opened by someone else) undoes every booking
    of the batch (a savepoint) and raises :class:`SchedulingError` naming the home.
    """
    from core.cases import CaseError

    now = now or dt.datetime.now(dt.UTC)
    booked = []
    savepoint = session.begin_nested()  # all or nothing, even if the caller goes on to commit
    for proposal in proposals:
        if proposal.date is None:
            continue
        try:
            if proposal.case_id is None:
                case = open_case(session, uprn=proposal.uprn, aware_at=now, source="risk_flag", actor=actor,
                                 user_id=user_id, ip=ip, property_risk_id=proposal.property_risk_id,
                                 summary="Opened from the proposed inspection schedule")
            else:
                found = session.get(Case, proposal.case_id)
                if found is None:
                    raise SchedulingError(f"Case {proposal.case_id} no longer exists")
                case = found
            booked.append(schedule_inspection(session, case, team, proposal.date, actor, now=now, user_id=user_id, ip=ip))
        except (CaseError, SchedulingError) as exc:
            savepoint.rollback()
            raise SchedulingError(f"{proposal.address} ({proposal.uprn}): {exc}") from exc
    savepoint.commit()
    return booked
