"""What the risk list and the property page read from the app database, as plain rows.

The risk list has to stay quick on an estate of 10 000 homes, so it is built from a few set-based
queries rather than one query per home:

* the latest finished scoring run is looked up once, and each home's risk is joined on
  ``(run_id, uprn)`` (the unique index of ``property_risk``), not found by a correlated "latest row"
  subquery per home;
* the page is found first as a list of UPRNs, sorting rows with only the columns the filters and the
  sort need (the total comes with them as a window count); the 50 homes' other columns, open cases and
  data health (devices offline, low batteries, the last reading) are then read for those 50 alone;
* data health takes part in the sort only when the list is sorted by the last reading.

Views stay thin: they turn query arguments into :class:`RiskFilters`, call :func:`risk_page` or
:func:`risk_rows`, and render. Nothing here knows about Flask.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as dt
import logging
import math
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Final

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import QueryableAttribute, Session

from analytics.risk import BANDS, CAUSES, INSUFFICIENT_DATA
from core.health import LOW_BATTERY_V
from core.model import (
    Case,
    CaseEvent,
    Device,
    DeviceHealth,
    Inspection,
    Installation,
    Property,
    PropertyRisk,
    Room,
    RoomRisk,
    ScoringRun,
)

__all__ = [
    "BAND_ORDER",
    "CASE_FILTERS",
    "PER_PAGE",
    "SORTS",
    "DeviceState",
    "PropertyDetail",
    "RiskFilters",
    "RiskPage",
    "RiskRow",
    "RoomDetail",
    "district_options",
    "latest_run",
    "property_detail",
    "risk_page",
    "risk_rows",
    "team_has_inspection",
]

logger = logging.getLogger(__name__)

PER_PAGE: Final = 50
"""Homes on one page of the risk list."""

BAND_ORDER: Final = (*BANDS, INSUFFICIENT_DATA)
"""Risk bands, lowest first, then ``insufficient data`` (the order of the band filter's checkboxes)."""

SORTS: Final = ("score", "band", "postcode", "address", "last_reading")
"""Columns the risk list sorts by."""

CASE_FILTERS: Final = ("any", "open", "none")
"""The open-case filter: every home, only homes with an open case, only homes without one."""

VULNERABILITY_FLAGS: Final = ("child_under_15", "over_65", "respiratory_condition")

_DISTRICT: Final = re.compile(r"^(?P<area>[A-Z]+)(?P<number>[0-9]+)(?P<rest>.*)$")

# How bands rank when sorting by band: critical first when descending; unscored homes always last.
_BAND_RANK: Final = {INSUFFICIENT_DATA: 0, **{band: i + 1 for i, band in enumerate(BANDS)}}


@dataclasses.dataclass(frozen=True)
class RiskFilters:
    """What the officer asked the risk list for: filters, sort and page."""

    bands: tuple[str, ...] = ()
    cause: str | None = None
    district: str | None = None
    vulnerable: bool = False
    case: str = "any"
    sort: str = "score"
    descending: bool = True
    page: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.bands) - set(BAND_ORDER)
        if unknown:
            raise ValueError(f"unknown bands {sorted(unknown)}; use some of {', '.join(BAND_ORDER)}")
        if self.cause is not None and self.cause not in CAUSES:
            raise ValueError(f"unknown cause {self.cause!r}; use one of {', '.join(CAUSES)}")
        if self.case not in CASE_FILTERS:
            raise ValueError(f"case must be one of {', '.join(CASE_FILTERS)}, not {self.case!r}")
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.page < 1:
            raise ValueError("page must be 1 or more")


@dataclasses.dataclass(frozen=True)
class RiskRow:
    """One home on the risk list."""

    uprn: str
    address: str
    postcode: str
    risk_id: int | None
    score: float | None
    band: str | None  # None: not in the latest scoring run
    driver_room: str | None
    cause: str | None
    cold_home: bool
    data_coverage: float | None
    child_under_15: bool | None
    over_65: bool | None
    respiratory_condition: bool | None
    open_case_id: int | None
    open_cases: int
    devices: int
    devices_offline: int
    devices_low_battery: int
    last_reading: dt.datetime | None

    @property
    def district(self) -> str:
        return self.postcode.split(" ", 1)[0]

    @property
    def vulnerabilities(self) -> tuple[str, ...]:
        """The household vulnerability flags that are set."""
        return tuple(flag for flag in VULNERABILITY_FLAGS if getattr(self, flag))

    @property
    def vulnerable(self) -> bool:
        return bool(self.vulnerabilities)


@dataclasses.dataclass(frozen=True)
class RiskPage:
    """One page of the risk list, with what pagination needs."""

    rows: list[RiskRow]
    total: int
    page: int
    per_page: int
    run: ScoringRun | None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        """Position of the first row on the page (1-based; 0 when there are none)."""
        return 0 if not self.rows else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.rows)


def latest_run(session: Session) -> ScoringRun | None:
    """The latest finished scoring run (the one the risk list shows), or None before the first."""
    return session.scalars(
        select(ScoringRun).where(ScoringRun.finished_at.is_not(None)).order_by(ScoringRun.id.desc()).limit(1)
    ).first()


def _district_expression() -> ColumnElement[str]:
    """The outward code of ``property.postcode`` in SQL: a normalised postcode ends in a space and 3 characters."""
    return func.substr(Property.postcode, 1, func.length(Property.postcode) - 4)


def district_options(session: Session) -> list[str]:
    """Every postcode district with a home, in a natural order (LS2 before LS10).

    Kept per database until the homes change (their number or newest change, from :func:`_recent_list_version`,
    so within its seconds): on 100 000 homes the look-up is a ~20 ms scan, on every risk list page.
    """
    homes = _recent_list_version(session)[1:3]
    url = str(session.get_bind().engine.url)
    with _districts_lock:
        found = _districts.get(url)
    if found is not None and found[0] == homes:
        return list(found[1])
    district = _district_expression()
    values = sorted(session.scalars(select(district).distinct()).all(), key=_district_sort_key)
    with _districts_lock:
        _districts[url] = (homes, values)
    return list(values)


_districts: dict[str, tuple[tuple[Any, ...], list[str]]] = {}
_districts_lock = threading.Lock()


def _district_sort_key(district: str) -> tuple[str, int, str]:
    """Area letters, then the district number as a number, then the rest ("EC1A" → ("EC", 1, "A"))."""
    match = _DISTRICT.match(district)
    if match is None:
        return district, 0, ""
    return match["area"], int(match["number"]), match["rest"]


def _open_cases():
    return (
        select(Case.uprn.label("uprn"), func.min(Case.id).label("case_id"), func.count().label("cases"))
        .where(Case.status == "open")
        .group_by(Case.uprn)
        .subquery("open_cases")
    )


def _health(now: dt.datetime, offline_after_s: int, uprns: Sequence[str] | None = None):
    """Per home: devices installed now, how many are offline or low on battery, and the newest reading."""
    cutoff = now - dt.timedelta(seconds=offline_after_s)
    offline = case((or_(DeviceHealth.last_seen.is_(None), DeviceHealth.last_seen < cutoff), 1), else_=0)
    low = case((DeviceHealth.battery_v < LOW_BATTERY_V, 1), else_=0)
    query = (
        select(
            Room.uprn.label("uprn"),
            func.count().label("devices"),
            func.sum(offline).label("offline"),
            func.sum(low).label("low_battery"),
            func.max(DeviceHealth.last_seen).label("last_seen"),
        )
        .select_from(Installation)
        .join(Room, Room.id == Installation.room_id)
        .join(Device, Device.device_id == Installation.device_id)
        .outerjoin(DeviceHealth, DeviceHealth.device_id == Installation.device_id)
        .where(Installation.removed_at.is_(None), Device.active.is_(True))
        .group_by(Room.uprn)
    )
    if uprns is not None:
        query = query.where(Room.uprn.in_(list(uprns)))
    return query


def _filtered(query: Select, filters: RiskFilters, open_cases) -> Select:
    conditions: list[ColumnElement[bool]] = []
    if filters.bands:
        conditions.append(PropertyRisk.band.in_(filters.bands))
    if filters.cause:
        conditions.append(PropertyRisk.cause == filters.cause)
    if filters.district:
        conditions.append(Property.postcode.like(f"{filters.district.upper()} %"))
    if filters.vulnerable:
        conditions.append(or_(*(getattr(Property, flag).is_(True) for flag in VULNERABILITY_FLAGS)))
    if filters.case == "open":
        conditions.append(open_cases.c.case_id.is_not(None))
    elif filters.case == "none":
        conditions.append(open_cases.c.case_id.is_(None))
    return query.where(and_(*conditions)) if conditions else query


def _order(filters: RiskFilters, health) -> list[ColumnElement[Any]]:
    def direction(column: ColumnElement[Any] | QueryableAttribute[Any]) -> ColumnElement[Any]:
        ordered = column.desc() if filters.descending else column.asc()
        return ordered.nulls_last()

    score = direction(PropertyRisk.score)
    if filters.sort == "score":
        keys = [score]
    elif filters.sort == "band":
        rank = case(*((PropertyRisk.band == band, rank) for band, rank in _BAND_RANK.items()), else_=None)
        keys = [direction(rank), score]
    elif filters.sort == "postcode":
        keys = [direction(Property.postcode), direction(Property.address)]
    elif filters.sort == "address":
        keys = [direction(Property.address)]
    else:
        keys = [direction(health.c.last_seen), score]
    return [*keys, Property.uprn.asc()]


def _rows_query(filters: RiskFilters, run_id: int | None, now: dt.datetime, offline_after_s: int,
                with_health: bool) -> tuple[Select, Any]:
    open_cases = _open_cases()
    health = _health(now, offline_after_s).subquery("health") if with_health else None
    columns: list[Any] = [
        Property.uprn, Property.address, Property.postcode, PropertyRisk.id, PropertyRisk.score, PropertyRisk.band,
        PropertyRisk.driver_room, PropertyRisk.cause, PropertyRisk.cold_home, PropertyRisk.data_coverage,
        Property.child_under_15, Property.over_65, Property.respiratory_condition, open_cases.c.case_id,
        open_cases.c.cases,
    ]
    if health is not None:
        columns += [health.c.devices, health.c.offline, health.c.low_battery, health.c.last_seen]
    query = (
        select(*columns)
        .select_from(Property)
        .outerjoin(PropertyRisk, and_(PropertyRisk.uprn == Property.uprn,
                                      PropertyRisk.run_id == (run_id if run_id is not None else literal(-1))))
        .outerjoin(open_cases, open_cases.c.uprn == Property.uprn)
    )
    if health is not None:
        query = query.outerjoin(health, health.c.uprn == Property.uprn)
    return _filtered(query, filters, open_cases), health


def _count(session: Session, filters: RiskFilters, run_id: int | None) -> int:
    """How many homes match the filters (only the joins the filters use)."""
    open_cases = _open_cases()
    query = select(func.count()).select_from(Property)
    if filters.bands or filters.cause:
        query = query.join(PropertyRisk, and_(PropertyRisk.uprn == Property.uprn,
                                              PropertyRisk.run_id == (run_id if run_id is not None else -1)))
    if filters.case != "any":
        query = query.outerjoin(open_cases, open_cases.c.uprn == Property.uprn)
    return int(session.scalar(_filtered(query, filters, open_cases)) or 0)


def _row(values: Sequence[Any], health: tuple | None) -> RiskRow:
    (uprn, address, postcode, risk_id, score, band, driver_room, cause, cold_home, coverage, child, over_65,
     respiratory, case_id, cases) = values[:15]
    devices, offline, low, last_seen = health if health is not None else (0, 0, 0, None)
    return RiskRow(
        uprn=uprn, address=address, postcode=postcode, risk_id=risk_id, score=score, band=band,
        driver_room=driver_room, cause=cause, cold_home=bool(cold_home), data_coverage=coverage,
        child_under_15=child, over_65=over_65, respiratory_condition=respiratory, open_case_id=case_id,
        open_cases=int(cases or 0), devices=int(devices or 0), devices_offline=int(offline or 0),
        devices_low_battery=int(low or 0), last_reading=last_seen,
    )


def _page_of_uprns(session: Session, filters: RiskFilters, run_id: int | None, now: dt.datetime,
                   offline_after_s: int, per_page: int) -> tuple[list[str], int | None]:
    """The UPRNs of one page in order, and the number of matches (None when the page is past the end).

    Only the columns the filters and the sort need take part, so the database sorts narrow rows; the
    total comes with them as a window count, saving a second pass.
    """
    open_cases = _open_cases()
    query = (
        select(Property.uprn, func.count().over().label("total"))
        .select_from(Property)
        .outerjoin(PropertyRisk, and_(PropertyRisk.uprn == Property.uprn,
                                      PropertyRisk.run_id == (run_id if run_id is not None else literal(-1))))
    )
    if filters.case != "any":
        query = query.outerjoin(open_cases, open_cases.c.uprn == Property.uprn)
    health = None
    if filters.sort == "last_reading":
        health = _health(now, offline_after_s).subquery("health")
        query = query.outerjoin(health, health.c.uprn == Property.uprn)
    query = _filtered(query, filters, open_cases).order_by(*_order(filters, health))
    found = session.execute(query.limit(per_page).offset((filters.page - 1) * per_page)).all()
    return [uprn for uprn, _ in found], (found[0][1] if found else None)


def list_version(session: Session) -> tuple:
    """What the risk list's order (other than by last reading) depends on, cheaply: runs, homes, cases.

    The latest finished run, the number of homes and the newest change to one (a register import updates
    ``updated_at``), the newest case and case event (opening, closing, reopening).
    """
    return (
        session.scalar(select(func.max(ScoringRun.id)).where(ScoringRun.finished_at.is_not(None))),
        session.scalar(select(func.count()).select_from(Property)),
        session.scalar(select(func.max(Property.updated_at))),
        session.scalar(select(func.max(Case.id))),
        session.scalar(select(func.max(CaseEvent.id))),
        session.scalar(select(func.count()).select_from(Case).where(Case.status == "open")),
    )


#: How long a looked-up list version is trusted (per database) before it is looked up again. [s]
LIST_VERSION_TTL_S: Final = 5.0
_list_versions: dict[str, tuple[float, tuple]] = {}
_list_versions_lock = threading.Lock()


def _recent_list_version(session: Session) -> tuple:
    """:func:`list_version`, looked up at most every :data:`LIST_VERSION_TTL_S` seconds per database.

    On 100 000 homes the look-up takes ~35 ms (the newest change to a home is a scan); many officers paging
    at once share one. A change shows within those seconds.
    """
    url = str(session.get_bind().engine.url)
    now = time.monotonic()
    with _list_versions_lock:
        found = _list_versions.get(url)
    if found is not None and now - found[0] < LIST_VERSION_TTL_S:
        return found[1]
    version = list_version(session)
    with _list_versions_lock:
        _list_versions[url] = (now, version)
    return version


def _ordered_uprns(session: Session, filters: RiskFilters, run_id: int | None) -> np.ndarray:
    """Every matching UPRN in the list's order (any sort but the last reading's), as 12-byte ASCII strings.

    Kept compact (1.2 MB for 100 000 homes, a tenth of a list of str) since a few filters' orders are kept.
    """
    open_cases = _open_cases()
    query = (
        select(Property.uprn)
        .select_from(Property)
        .outerjoin(PropertyRisk, and_(PropertyRisk.uprn == Property.uprn,
                                      PropertyRisk.run_id == (run_id if run_id is not None else literal(-1))))
    )
    if filters.case != "any":
        query = query.outerjoin(open_cases, open_cases.c.uprn == Property.uprn)
    query = _filtered(query, filters, open_cases).order_by(*_order(filters, None))
    return np.array([uprn.encode("ascii") for uprn in session.scalars(query)], dtype="S12")


def _kept_order(session: Session, filters: RiskFilters, run_id: int | None) -> np.ndarray:
    """:func:`_ordered_uprns`, kept between requests by the list version (any page of the same filters)."""
    from dashboard.portfolio import CACHE

    key = (str(session.get_bind().engine.url), "risk order", _recent_list_version(session),
           dataclasses.replace(filters, page=1))
    return CACHE.get_or_make(key, lambda: _ordered_uprns(session, filters, run_id))


def warm_risk_list(session: Session, filters: RiskFilters | None = None) -> None:
    """Compute (or find kept) the risk list's order for ``filters`` (default: everyone, by score)."""
    run = latest_run(session)
    _kept_order(session, filters or RiskFilters(), run.id if run is not None else None)


def _details(session: Session, uprns: Sequence[str], run_id: int | None) -> dict[str, Sequence[Any]]:
    """The risk list's columns (without data health) of the homes named."""
    open_cases = (
        select(Case.uprn.label("uprn"), func.min(Case.id).label("case_id"), func.count().label("cases"))
        .where(Case.status == "open", Case.uprn.in_(list(uprns)))
        .group_by(Case.uprn)
        .subquery("open_cases")
    )
    query = (
        select(Property.uprn, Property.address, Property.postcode, PropertyRisk.id, PropertyRisk.score,
               PropertyRisk.band, PropertyRisk.driver_room, PropertyRisk.cause, PropertyRisk.cold_home,
               PropertyRisk.data_coverage, Property.child_under_15, Property.over_65, Property.respiratory_condition,
               open_cases.c.case_id, open_cases.c.cases)
        .select_from(Property)
        .outerjoin(PropertyRisk, and_(PropertyRisk.uprn == Property.uprn,
                                      PropertyRisk.run_id == (run_id if run_id is not None else literal(-1))))
        .outerjoin(open_cases, open_cases.c.uprn == Property.uprn)
        .where(Property.uprn.in_(list(uprns)))
    )
    return {values[0]: values for values in session.execute(query)}


def risk_page(session: Session, filters: RiskFilters, *, now: dt.datetime, offline_after_s: int,
              per_page: int = PER_PAGE) -> RiskPage:
    """One page of the risk list: homes matching ``filters``, sorted, with their data health.

    Three small queries: the page's UPRNs in order (with the total), their columns, and their devices'
    health; see the module notes.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session on the app database.
    filters : RiskFilters
        Filters, sort and page; a page past the end gives the last page (``RiskPage.page`` says which).
    now : datetime.datetime
        The time devices are judged offline against (aware).
    offline_after_s : int
        A device silent for longer than this is offline (``DAMPWATCH_DEVICE_OFFLINE_AFTER_S``). [s]
    per_page : int, default 50
    """
    run = latest_run(session)
    run_id = run.id if run is not None else None
    total: int | None  # _page_of_uprns gives None past the end
    if filters.sort != "last_reading":
        # The order depends only on the register, the latest run and open cases: kept between requests (see
        # list_version), so paging through 100 000 homes does not sort them again for every page.
        ordered = _kept_order(session, filters, run_id)
        total = len(ordered)
        last_page = max(1, math.ceil(total / per_page))
        if filters.page > last_page:
            filters = dataclasses.replace(filters, page=last_page)
        uprns = [uprn.decode() for uprn in ordered[(filters.page - 1) * per_page:filters.page * per_page]]
        details = _details(session, uprns, run_id) if uprns else {}
        health = _health_of(session, uprns, now, offline_after_s)
        rows = [_row(details[uprn], health.get(uprn)) for uprn in uprns]
        return RiskPage(rows, total, filters.page, per_page, run)
    uprns, total = _page_of_uprns(session, filters, run_id, now, offline_after_s, per_page)
    if total is None:  # past the end (or nothing matches): count, and show the last page
        total = _count(session, filters, run_id)
        last_page = max(1, math.ceil(total / per_page))
        if filters.page > last_page:
            filters = dataclasses.replace(filters, page=last_page)
            uprns, _ = _page_of_uprns(session, filters, run_id, now, offline_after_s, per_page)
    details = _details(session, uprns, run_id) if uprns else {}
    health = _health_of(session, uprns, now, offline_after_s)
    rows = [_row(details[uprn], health.get(uprn)) for uprn in uprns]
    return RiskPage(rows, total, filters.page, per_page, run)


def _health_of(session: Session, uprns: Sequence[str], now: dt.datetime, offline_after_s: int) -> dict[str, tuple]:
    if not uprns:
        return {}
    found = session.execute(_health(now, offline_after_s, uprns)).all()
    return {uprn: (devices, offline, low, last_seen) for uprn, devices, offline, low, last_seen in found}


def risk_rows(session: Session, filters: RiskFilters, *, now: dt.datetime, offline_after_s: int,
              batch_size: int = 2000) -> Iterator[RiskRow]:
    """Every home matching ``filters`` in the list's order (no pagination), for the CSV download."""
    run = latest_run(session)
    query, health = _rows_query(filters, run.id if run is not None else None, now, offline_after_s,
                                with_health=True)
    query = query.order_by(*_order(filters, health))
    result = session.execute(query.execution_options(yield_per=batch_size))
    for values in result:
        yield _row(values, tuple(values[15:19]))


# --------------------------------------------------------------------------------------------------------
# The property page
# --------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DeviceState:
    """A device installed in a room now, and what the ingestor last heard from it."""

    device_id: str
    last_seen: dt.datetime | None
    battery_v: float | None
    status: str | None
    offline: bool
    low_battery: bool


@dataclasses.dataclass(frozen=True)
class RoomDetail:
    """A room of the home with its devices and its risk in the same scoring run as the home's."""

    room_id: int
    name: str
    room_type: str
    temperature_factor: float | None
    devices: tuple[DeviceState, ...]
    risk: RoomRisk | None

    @property
    def device_ids(self) -> list[str]:
        return [device.device_id for device in self.devices]


@dataclasses.dataclass(frozen=True)
class PropertyDetail:
    """Everything the property page shows that lives in the app database."""

    property: Property
    risk: PropertyRisk | None
    run: ScoringRun | None
    rooms: tuple[RoomDetail, ...]
    cases: tuple[Case, ...]

    # builtins.property: in this class body a type checker takes ``property`` for the field above.
    @builtins.property
    def device_ids(self) -> list[str]:
        return [device_id for room in self.rooms for device_id in room.device_ids]

    @builtins.property
    def devices(self) -> list[tuple[RoomDetail, DeviceState]]:
        return [(room, device) for room in self.rooms for device in room.devices]


def property_detail(session: Session, uprn: str, *, now: dt.datetime, offline_after_s: int) -> PropertyDetail | None:
    """A home's register entry, latest risk, rooms (with devices and room risk) and cases; None if unknown.

    The risk is the home's newest ``property_risk`` row of a finished run (normally the latest run's; an
    older one if the home has not been scored since), and the rooms' risk comes from that same run.
    """
    home = session.get(Property, uprn)
    if home is None:
        return None
    risk = session.scalars(
        select(PropertyRisk)
        .join(ScoringRun, ScoringRun.id == PropertyRisk.run_id)
        .where(PropertyRisk.uprn == uprn, ScoringRun.finished_at.is_not(None))
        .order_by(PropertyRisk.run_id.desc())
        .limit(1)
    ).first()
    run = session.get(ScoringRun, risk.run_id) if risk is not None else None
    room_risks: dict[int, RoomRisk] = {}
    if risk is not None:
        room_risks = {r.room_id: r for r in session.scalars(
            select(RoomRisk).where(RoomRisk.run_id == risk.run_id, RoomRisk.uprn == uprn))}
    cutoff = now - dt.timedelta(seconds=offline_after_s)
    devices: dict[int, list[DeviceState]] = {}
    installed = session.execute(
        select(Installation.room_id, Installation.device_id, DeviceHealth.last_seen, DeviceHealth.battery_v,
               DeviceHealth.status)
        .join(Room, Room.id == Installation.room_id)
        .join(Device, Device.device_id == Installation.device_id)
        .outerjoin(DeviceHealth, DeviceHealth.device_id == Installation.device_id)
        .where(Room.uprn == uprn, Installation.removed_at.is_(None), Device.active.is_(True))
        .order_by(Installation.device_id)
    ).all()
    for room_id, device_id, last_seen, battery, status in installed:
        devices.setdefault(room_id, []).append(DeviceState(
            device_id=device_id, last_seen=last_seen, battery_v=battery, status=status,
            offline=last_seen is None or last_seen < cutoff,
            low_battery=battery is not None and battery < LOW_BATTERY_V,
        ))
    rooms = session.scalars(select(Room).where(Room.uprn == uprn)).all()
    details = tuple(
        RoomDetail(room.id, room.name, room.room_type, room.temperature_factor, tuple(devices.get(room.id, ())),
                   room_risks.get(room.id))
        for room in sorted(rooms, key=lambda r: (r.room_type == "outdoor", r.name.lower()))
    )
    cases = tuple(session.scalars(
        select(Case).where(Case.uprn == uprn).order_by(Case.opened_at.desc(), Case.id.desc())))
    return PropertyDetail(home, risk, run, details, cases)


def team_has_inspection(session: Session, team_id: int | None, uprn: str) -> bool:
    """True when the team has an inspection (not cancelled) at the home: what lets repair staff see it."""
    if team_id is None:
        return False
    found = session.scalar(
        select(Inspection.id).where(Inspection.team_id == team_id, Inspection.uprn == uprn,
                                    Inspection.status != "cancelled").limit(1))
    return found is not None
