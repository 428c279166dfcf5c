"""Views above the home: estates and blocks, and the portfolio's weekly trends, as plain rows.

An estate or block is the register's ``site`` column (``dampwatch import-assets``): every home with the same
site is one place. Each place gets its homes' bands, the share at risk (high or critical among the homes
the latest run could judge) against the portfolio's share, its most common likely cause and a **building
flag**: when several homes at risk share a cause *and* an exposure (the same wall type, the same floor level
or the same driver room type), the pattern points to the building (cold bridging, failed communal
extraction) rather than to how each household lives, and the officer should look at the block as a whole.

The weekly trends read only what is stored: the last finished scoring run of each week (homes by band, and
homes newly high or critical since the week before), cases opened and closed, Awaab's Law steps that fell
due in the week and whether each was done in time, and ``sensor_silent`` alarms raised.

Everything here is a few set-based queries (grouped in SQL). On 100 000 homes the portfolio-wide figures
still take a few hundred milliseconds, and they change only when a scoring run finishes, a case is opened or
closed, a step is done, a home is registered or an alarm is raised; :func:`cached` keeps them, keyed by a
cheap fingerprint of exactly those (:func:`data_version`), so every page after the first is quick and never
stale. Nothing here knows about Flask.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.risk import BANDS, INSUFFICIENT_DATA
from core.cases import step_clocks
from core.model import Case, CaseEvent, Property, PropertyRisk, Room, ScoringRun
from core.model_alerts import Alarm

__all__ = [
    "AT_RISK_BANDS",
    "BUILDING_FLAG_MIN_HOMES",
    "BuildingFlag",
    "SiteHome",
    "SiteSummary",
    "Week",
    "building_flag",
    "cached",
    "data_version",
    "site_homes",
    "site_summaries",
    "site_summary_of",
    "summary_figures",
    "weekly_trends",
]

AT_RISK_BANDS: Final = ("high", "critical")
"""Bands counted as "at risk" in a place's share."""
BUILDING_FLAG_MIN_HOMES: Final = 3
"""Homes at risk with the same cause and exposure that make a building flag."""
BUILDING_FLAG_MIN_SHARE: Final = 0.5
"""...and at least this share of the place's homes at risk."""
TREND_WEEKS: Final = 12
"""Weeks the portfolio summary shows."""
ALL_BANDS: Final = (*reversed(BANDS), INSUFFICIENT_DATA)


def data_version(session: Session) -> tuple:
    """A fingerprint that changes whenever a portfolio figure may: runs, homes, cases, case steps, alarms.

    Five indexed look-ups (``max`` of primary keys and one count), a few milliseconds on 100 000 homes.
    """
    return (
        session.scalar(select(func.max(ScoringRun.id)).where(ScoringRun.finished_at.is_not(None))),
        session.scalar(select(func.count()).select_from(Property)),
        session.scalar(select(func.max(Case.id))),
        session.scalar(select(func.max(CaseEvent.id))),  # a step done, a case closed or reopened
        session.scalar(select(func.max(Alarm.id))),
    )


class _Cache:
    """The last few results of each portfolio figure, by (database, figure, data version, arguments)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get_or_make(self, key: tuple, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two first requests may both compute; both get a right answer
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE: Final = _Cache()


def cached(session: Session, name: str, make: Callable[[], Any], *arguments: Any) -> Any:
    """``make()``, or the value it gave before for the same database, data version and ``arguments``."""
    key = (str(session.get_bind().engine.url), name, data_version(session), *arguments)
    return CACHE.get_or_make(key, make)


def summary_figures(session: Session, now: dt.datetime) -> tuple[list[SiteSummary], SiteSummary, list[Week]]:
    """The portfolio summary's figures (estates and blocks, the whole portfolio, the weekly trends), kept.

    The same keys for every caller, so ``dampwatch serve`` can compute them ahead (at start-up and when the
    data changes, :mod:`dashboard.serving`) and no officer's request pays for them. Deadlines fall due as
    time passes, so the trends are kept for the hour as well as for the data version.
    """
    now = _as_utc(now)
    sites, whole = cached(session, "sites", lambda: site_summaries(session))
    weeks = cached(session, "weeks", lambda: weekly_trends(session, now), _week_start(now),
                   now.replace(minute=0, second=0, microsecond=0))
    return sites, whole, weeks


def _latest_run_id(session: Session) -> int | None:
    return session.scalar(select(ScoringRun.id).where(ScoringRun.finished_at.is_not(None))
                          .order_by(ScoringRun.id.desc()).limit(1))


@dataclasses.dataclass(frozen=True)
class SiteSummary:
    """One estate or block: how many homes, by band, and the share at risk."""

    site: str
    homes: int
    bands: dict[str, int]
    top_cause: str | None
    flagged: bool = False

    @property
    def judged(self) -> int:
        """Homes the latest run gave a band other than "insufficient data"."""
        return sum(self.bands.get(band, 0) for band in BANDS)

    @property
    def at_risk(self) -> int:
        return sum(self.bands.get(band, 0) for band in AT_RISK_BANDS)

    @property
    def share_at_risk(self) -> float | None:
        """High or critical homes over judged homes (None when none could be judged)."""
        return self.at_risk / self.judged if self.judged else None


def site_summaries(session: Session) -> tuple[list[SiteSummary], SiteSummary]:
    """Every estate or block (most at risk first), and the whole portfolio as one summary."""
    run_id = _latest_run_id(session)
    risk = (select(PropertyRisk.uprn, PropertyRisk.band, PropertyRisk.cause)
            .where(PropertyRisk.run_id == (run_id if run_id is not None else -1)).subquery())
    rows = session.execute(
        select(Property.site, risk.c.band, func.count())
        .select_from(Property).outerjoin(risk, risk.c.uprn == Property.uprn)
        .group_by(Property.site, risk.c.band)
    ).all()
    causes = session.execute(
        select(Property.site, risk.c.cause, func.count())
        .select_from(Property).join(risk, risk.c.uprn == Property.uprn)
        .where(risk.c.band.in_(AT_RISK_BANDS), risk.c.cause.is_not(None))
        .group_by(Property.site, risk.c.cause)
    ).all()
    by_site: dict[str | None, dict[str, int]] = collections.defaultdict(dict)
    for site, band, count in rows:
        key = band or INSUFFICIENT_DATA
        by_site[site][key] = by_site[site].get(key, 0) + count
    top: dict[str | None, tuple[int, str]] = {}
    for site, cause, count in causes:
        if site not in top or (count, cause) > top[site]:
            top[site] = (count, cause)
    summaries = [SiteSummary(site, sum(bands.values()), bands, top[site][1] if site in top else None)
                 for site, bands in by_site.items() if site]
    summaries.sort(key=lambda s: (-(s.share_at_risk or 0.0), -s.at_risk, s.site))
    total: dict[str, int] = collections.Counter()
    for bands in by_site.values():
        total.update(bands)
    cause_totals: dict[str, int] = collections.Counter()
    for _site, cause, count in causes:
        cause_totals[cause] += count
    portfolio = SiteSummary("All homes", sum(total.values()), dict(total),
                            max(cause_totals, key=lambda c: (cause_totals[c], c)) if cause_totals else None)
    return summaries, portfolio


@dataclasses.dataclass(frozen=True)
class SiteHome:
    """One home of an estate or block, with its latest risk and its exposure."""

    uprn: str
    address: str
    postcode: str
    band: str | None
    score: float | None
    cause: str | None
    driver_room: str | None
    driver_room_type: str | None
    wall_type: str | None
    floor_level: int | None


def site_homes(session: Session, site: str) -> list[SiteHome]:
    """The homes of ``site`` with their latest risk, highest score first (empty if there is no such place)."""
    run_id = _latest_run_id(session)
    risk = (select(PropertyRisk.uprn, PropertyRisk.band, PropertyRisk.score, PropertyRisk.cause,
                   PropertyRisk.driver_room, PropertyRisk.driver_room_id)
            .where(PropertyRisk.run_id == (run_id if run_id is not None else -1)).subquery())
    rows = session.execute(
        select(Property.uprn, Property.address, Property.postcode, risk.c.band, risk.c.score, risk.c.cause,
               risk.c.driver_room, Room.room_type, Property.wall_type, Property.floor_level)
        .select_from(Property)
        .outerjoin(risk, risk.c.uprn == Property.uprn)
        .outerjoin(Room, Room.id == risk.c.driver_room_id)
        .where(Property.site == site)
    ).all()
    homes = [SiteHome(*row) for row in rows]
    homes.sort(key=lambda h: (-(h.score if h.score is not None else -1.0), h.address, h.uprn))
    return homes


def site_summary_of(site: str, homes: Sequence[SiteHome]) -> SiteSummary:
    """The summary of one place from its homes (as :func:`site_summaries` would give it, without the rest)."""
    bands: dict[str, int] = collections.Counter(home.band or INSUFFICIENT_DATA for home in homes)
    causes = collections.Counter(home.cause for home in homes if home.band in AT_RISK_BANDS and home.cause)
    top = max(causes, key=lambda c: (causes[c], c)) if causes else None
    return SiteSummary(site, len(homes), dict(bands), top)


@dataclasses.dataclass(frozen=True)
class BuildingFlag:
    """Why a place's pattern points to the building: the shared cause, the shared exposure, the homes."""

    cause: str
    exposure: str  # "wall type", "floor level" or "driver room"
    value: str
    uprns: tuple[str, ...]


def building_flag(homes: Sequence[SiteHome]) -> BuildingFlag | None:
    """The building flag of a place's homes, or None.

    Raised when at least :data:`BUILDING_FLAG_MIN_HOMES` homes at risk (high or critical) have the same
    likely cause and the same exposure (wall type, floor level, or the type of the room that drives the
    risk), and they are at least :data:`BUILDING_FLAG_MIN_SHARE` of the place's homes at risk. The largest
    such group wins (ties: wall type, then floor level, then room; then the cause's name).
    """
    at_risk = [home for home in homes if home.band in AT_RISK_BANDS and home.cause]
    if len(at_risk) < BUILDING_FLAG_MIN_HOMES:
        return None
    exposures = (("wall type", lambda h: h.wall_type), ("floor level", lambda h: h.floor_level),
                 ("driver room", lambda h: h.driver_room_type))
    best: tuple[int, int, str, BuildingFlag] | None = None
    for rank, (name, value_of) in enumerate(exposures):
        groups: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        for home in at_risk:
            value = value_of(home)
            if value is None or value == "":
                continue
            assert home.cause is not None  # at_risk holds only homes with a cause
            groups[(home.cause, str(value))].append(home.uprn)
        for (cause, value), uprns in groups.items():
            if len(uprns) < BUILDING_FLAG_MIN_HOMES or len(uprns) < BUILDING_FLAG_MIN_SHARE * len(at_risk):
                continue
            key = (len(uprns), -rank, cause)
            if best is None or key[:2] > best[:2] or (key[:2] == best[:2] and cause < best[2]):
                best = (*key, BuildingFlag(cause, name, value, tuple(sorted(uprns))))
    return best[3] if best else None


@dataclasses.dataclass(frozen=True)
class Week:
    """One week of the portfolio (Monday 00:00 UTC to the next Monday)."""

    start: dt.date
    bands: dict[str, int] | None  # homes by band in the week's last run (None: no run that week)
    new_at_risk: int | None  # homes high or critical in that run that were not in the previous week's
    cases_opened: int
    cases_closed: int
    deadlines_due: int  # steps with a deadline in the week
    deadlines_met: int  # ...done by their deadline
    sensors_silent: int  # sensor_silent alarms raised in the week


def _week_start(value: dt.datetime | dt.date) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    return day - dt.timedelta(days=day.weekday())


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def weekly_trends(session: Session, now: dt.datetime, weeks: int = TREND_WEEKS) -> list[Week]:
    """The last ``weeks`` weeks up to the one holding ``now``, oldest first."""
    if weeks < 1:
        raise ValueError("weeks must be 1 or more")
    now = _as_utc(now)
    this_week = _week_start(now)
    starts = [this_week - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    since = dt.datetime.combine(starts[0] - dt.timedelta(weeks=1), dt.time(), dt.UTC)

    # The last finished run of each week (and of the week before the first, for "new").
    runs: dict[dt.date, int] = {}
    for run_id, finished in session.execute(
            select(ScoringRun.id, ScoringRun.finished_at)
            .where(ScoringRun.finished_at.is_not(None), ScoringRun.finished_at >= since,
                   ScoringRun.finished_at <= now)
            .order_by(ScoringRun.id)):
        assert finished is not None  # the query takes finished runs only
        runs[_week_start(_as_utc(finished))] = run_id
    run_ids = list(runs.values())
    bands_by_run: dict[int, dict[str, int]] = collections.defaultdict(dict)
    for run_id, band, count in session.execute(
            select(PropertyRisk.run_id, PropertyRisk.band, func.count())
            .where(PropertyRisk.run_id.in_(run_ids)).group_by(PropertyRisk.run_id, PropertyRisk.band)):
        bands_by_run[run_id][band] = count
    at_risk_by_run: dict[int, set[str]] = collections.defaultdict(set)
    for run_id, uprn in session.execute(
            select(PropertyRisk.run_id, PropertyRisk.uprn)
            .where(PropertyRisk.run_id.in_(run_ids), PropertyRisk.band.in_(AT_RISK_BANDS))):
        at_risk_by_run[run_id].add(uprn)

    def count_by_week(column) -> collections.Counter:
        counter: collections.Counter = collections.Counter()
        for (value,) in session.execute(select(column).where(column >= since, column <= now)):
            counter[_week_start(_as_utc(value))] += 1
        return counter

    opened = count_by_week(Case.opened_at)
    closed = count_by_week(Case.closed_at)
    silent: collections.Counter = collections.Counter()
    for (raised,) in session.execute(select(Alarm.raised_at).where(
            Alarm.rule == "sensor_silent", Alarm.raised_at >= since, Alarm.raised_at <= now)):
        silent[_week_start(_as_utc(raised))] += 1

    # Deadlines that fell due in the window: only cases open then could have one (opened before its end).
    due: collections.Counter = collections.Counter()
    met: collections.Counter = collections.Counter()
    cases = session.scalars(select(Case).where(Case.opened_at <= now)
                            .where((Case.closed_at.is_(None)) | (Case.closed_at >= since))).all()
    for case in cases:
        for clock in step_clocks(case, now):
            if clock.due is None:
                continue
            due_at = _as_utc(clock.due)
            if not since <= due_at <= now:
                continue
            week = _week_start(due_at)
            due[week] += 1
            if clock.state == "done":
                met[week] += 1

    out: list[Week] = []
    for start in starts:
        week_run = runs.get(start)
        previous = runs.get(start - dt.timedelta(weeks=1))
        new = None  # without a run this week and one the week before, "new" cannot be told
        if week_run is not None and previous is not None:
            new = len(at_risk_by_run[week_run] - at_risk_by_run[previous])
        out.append(Week(start, dict(bands_by_run[week_run]) if week_run is not None else None, new,
                        opened[start], closed[start], due[start], met[start], silent[start]))
    return out
