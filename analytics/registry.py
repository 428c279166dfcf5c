"""From the asset register and the readings store to arrays of rooms by hours.

:func:`load_registry` reads properties, rooms and device installations from the app database;
:func:`read_room_hours` turns the store's hourly aggregates of a batch of rooms into (rooms, hours)
arrays, giving each reading to the room its device was installed in at the time;
:func:`outdoor_conditions` builds the outdoor temperature and humidity each home is judged against.

Outdoor conditions, for each home and hour, come from the first of these that has a value:

1. the outdoor sensors of the home's site (the mean of them);
2. outdoor sensors elsewhere in the same postcode district;
3. an imported weather file for the postcode district (``dampwatch weather import``);
4. any outdoor sensor of the estate (the mean of all of them);
5. the UK monthly climatology of :mod:`analytics.climate`, which the reasons then mention.

Time is counted in whole hours since 1970-01-01 00:00 UTC throughout ("epoch hours").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.climate import climatology
from analytics.constants import DESIGN_TEMPERATURE_FACTOR
from analytics.fabric import temperature_factor_prior
from analytics.weather import ESTATE_AREA, postcode_area
from core.model import Installation, Property, Room, WeatherHour, postcode_district

__all__ = [
    "OUTDOOR_SOURCES",
    "HourlyReader",
    "OutdoorConditions",
    "Registry",
    "epoch_hour",
    "hour_datetime",
    "load_registry",
    "outdoor_conditions",
    "read_room_hours",
]

logger = logging.getLogger(__name__)

SECONDS_PER_HOUR: Final = 3600
_NEVER: Final = np.iinfo(np.int64).max
_ALWAYS: Final = np.iinfo(np.int64).min

OUTDOOR_SOURCES: Final = ("site sensor", "district sensor", "weather file", "estate sensor", "climatology")
"""Where a home's outdoor conditions came from, by priority; the index is the source code."""

CLIMATOLOGY: Final = len(OUTDOOR_SOURCES) - 1


class HourlyReader(Protocol):
    """All that reading rooms' hours needs of the readings store: its hourly aggregates.

    A :class:`core.readings.ReadingsStore` is one; so is anything that serves the same frames from memory.
    """

    def hourly(
        self, start: dt.datetime, end: dt.datetime, device_ids: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Hourly aggregates per device over ``[start, end)``, as :meth:`core.readings.ReadingsStore.hourly`."""
        ...


def epoch_hour(value: dt.datetime) -> int:
    """Whole hours since 1970-01-01 00:00 UTC of an aware datetime (floored)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given; attach tzinfo=datetime.UTC")
    return int(value.timestamp()) // SECONDS_PER_HOUR


def hour_datetime(hour: int) -> dt.datetime:
    """The aware UTC datetime at the start of an epoch hour."""
    return dt.datetime.fromtimestamp(int(hour) * SECONDS_PER_HOUR, dt.UTC)


def _hours(series: pd.Series) -> np.ndarray:
    """Epoch hours of a datetime Series (tz-aware UTC), whatever its resolution."""
    hours: np.ndarray = ((series - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(hours=1)).to_numpy(dtype=np.int64)
    return hours


@dataclasses.dataclass(frozen=True)
class Registry:
    """The parts of the asset register scoring needs, as frames.

    Attributes
    ----------
    properties : pandas.DataFrame
        Indexed by UPRN (sorted): ``postcode, district, site, build_year, wall_type, floor_level,
        child_under_15, over_65, respiratory_condition``.
    rooms : pandas.DataFrame
        Indoor rooms that have had a sensor, sorted by UPRN and room id: ``room_id, uprn, name,
        room_type, temperature_factor`` (the room's own, else the property's, else 0.75).
    outdoor_rooms : pandas.DataFrame
        Outdoor "rooms": ``room_id, uprn, site, district``.
    installations : pandas.DataFrame
        ``device_id, room_id, start_hour, end_hour``: the device's readings in epoch hours
        ``[start_hour, end_hour)`` belong to the room. A device's first installation reaches back to the
        beginning of time, because registers are often imported after the sensors went up.
    """

    properties: pd.DataFrame
    rooms: pd.DataFrame
    outdoor_rooms: pd.DataFrame
    installations: pd.DataFrame

    def devices_of(self, room_ids: Sequence[int]) -> list[str]:
        """Every device that has been installed in one of the rooms."""
        mask = self.installations["room_id"].isin(list(room_ids))
        return sorted(set(self.installations.loc[mask, "device_id"]))


def load_registry(session: Session) -> Registry:
    """Read properties, rooms and installations from the app database.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session on the app database.

    Returns
    -------
    Registry
    """
    props = session.execute(
        select(Property.uprn, Property.postcode, Property.site, Property.build_year, Property.wall_type,
               Property.floor_level, Property.temperature_factor, Property.child_under_15, Property.over_65,
               Property.respiratory_condition)
    ).all()
    properties = pd.DataFrame(
        props,
        columns=["uprn", "postcode", "site", "build_year", "wall_type", "floor_level", "temperature_factor",
                 "child_under_15", "over_65", "respiratory_condition"],
    )
    properties["district"] = [postcode_district(p) for p in properties["postcode"]]
    properties = properties.set_index("uprn").sort_index()

    rows = session.execute(select(Room.id, Room.uprn, Room.name, Room.room_type, Room.temperature_factor)).all()
    rooms = pd.DataFrame(rows, columns=["room_id", "uprn", "name", "room_type", "room_factor"])
    installs = session.execute(
        select(Installation.device_id, Installation.room_id, Installation.installed_at, Installation.removed_at)
        .order_by(Installation.device_id, Installation.installed_at, Installation.id)
    ).all()
    installations = _installation_intervals(installs)

    fitted = rooms["room_id"].isin(installations["room_id"])
    outdoor = rooms[(rooms["room_type"] == "outdoor") & fitted].copy()
    outdoor["site"] = outdoor["uprn"].map(properties["site"])
    outdoor["district"] = outdoor["uprn"].map(properties["district"])
    indoor = rooms[(rooms["room_type"] != "outdoor") & fitted].copy()
    property_factor = indoor["uprn"].map(properties["temperature_factor"])
    archetype_factor = indoor["uprn"].map(pd.Series(
        [temperature_factor_prior(w, y, f) for w, y, f in zip(
            properties["wall_type"], properties["build_year"], properties["floor_level"], strict=True)],
        index=properties.index, dtype=float))
    registered = indoor["room_factor"].fillna(property_factor)
    indoor["factor_source"] = np.where(registered.notna(), "register",
                                       np.where(archetype_factor.notna(), "archetype", "design"))
    indoor["temperature_factor"] = (
        registered.fillna(archetype_factor).fillna(DESIGN_TEMPERATURE_FACTOR).astype(float)
    )
    indoor = indoor.drop(columns="room_factor").sort_values(["uprn", "room_id"]).reset_index(drop=True)
    return Registry(
        properties=properties,
        rooms=indoor,
        outdoor_rooms=outdoor[["room_id", "uprn", "site", "district"]].reset_index(drop=True),
        installations=installations,
    )


def _installation_intervals(installs: Sequence[tuple[str, int, dt.datetime, dt.datetime | None]]) -> pd.DataFrame:
    """Epoch-hour intervals of each installation; a device's first one reaches back indefinitely."""
    records = []
    previous_device = None
    for device_id, room_id, installed_at, removed_at in installs:
        first = device_id != previous_device
        previous_device = device_id
        start = _ALWAYS if first else epoch_hour(installed_at)
        end = _NEVER if removed_at is None else epoch_hour(removed_at)
        records.append((device_id, room_id, start, end))
    return pd.DataFrame(records, columns=["device_id", "room_id", "start_hour", "end_hour"]).astype(
        {"room_id": np.int64, "start_hour": np.int64, "end_hour": np.int64}
    )


def read_room_hours(
    store: HourlyReader,
    registry: Registry,
    room_ids: Sequence[int],
    start_hour: int,
    end_hour: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly mean temperature, mean and highest humidity of rooms, as (rooms, hours) arrays.

    Parameters
    ----------
    store : HourlyReader
        The readings store.
    registry : Registry
        The register, for the installations.
    room_ids : sequence of int
        The rooms, in the order of the rows wanted.
    start_hour, end_hour : int
        Epoch hours ``[start_hour, end_hour)``: one column each.

    Returns
    -------
    temperature, humidity, humidity_max : numpy.ndarray
        Shape (rooms, hours), stored hour-major, NaN where no reading. Where two devices shared a room in
        an hour, the means are weighted by their reading counts and the maximum is the higher one.
        [°C, %, %]
    """
    room_ids = list(room_ids)
    n_rooms, n_hours = len(room_ids), max(end_hour - start_hour, 0)
    # Hour-major in memory (the transposes of (hours, rooms) arrays): the order the scoring core reads.
    temp = np.full((n_hours, n_rooms), np.nan).T
    rh = np.full((n_hours, n_rooms), np.nan).T
    rh_max = np.full((n_hours, n_rooms), np.nan).T
    devices = registry.devices_of(room_ids)
    if not devices or n_hours <= 0:
        return temp, rh, rh_max
    frame = store.hourly(hour_datetime(start_hour), hour_datetime(end_hour), devices)
    if frame.empty:
        return temp, rh, rh_max
    hours = _hours(frame["hour"])
    installs = registry.installations[registry.installations["device_id"].isin(devices)]
    row_of_room = {room_id: row for row, room_id in enumerate(room_ids)}
    installs = installs.assign(row=installs["room_id"].map(row_of_room).fillna(-1).astype(np.int64))
    codes, seen = pd.factorize(frame["device_id"])
    # Devices installed once (nearly all): look their room up directly.
    single = installs.drop_duplicates("device_id", keep=False).set_index("device_id").reindex(seen)
    r = single["row"].to_numpy(dtype=float)[codes]
    inside = (hours >= single["start_hour"].to_numpy(dtype=float)[codes]) & (
        hours < single["end_hour"].to_numpy(dtype=float)[codes])
    position = np.flatnonzero(np.isfinite(r) & inside & (r >= 0))
    r = r[position].astype(np.int64)
    moved = installs[installs.duplicated("device_id", keep=False)]
    if not moved.empty:
        # Devices that moved: join each reading-hour with every installation, keep the one holding it.
        candidates = np.flatnonzero(frame["device_id"].isin(set(moved["device_id"])).to_numpy())
        joined = pd.DataFrame({"device_id": frame["device_id"].to_numpy()[candidates], "hour": hours[candidates],
                               "position": candidates}).merge(moved, on="device_id")
        joined = joined[(joined["hour"] >= joined["start_hour"]) & (joined["hour"] < joined["end_hour"])
                        & (joined["row"] >= 0)]
        position = np.concatenate([position, joined["position"].to_numpy()])
        r = np.concatenate([r, joined["row"].to_numpy()])
    if position.size == 0:
        return temp, rh, rh_max
    c = hours[position] - start_hour
    t_values = frame["temperature_c"].to_numpy(dtype=float)[position]
    h_values = frame["humidity_pct"].to_numpy(dtype=float)[position]
    m_values = frame["humidity_max_pct"].to_numpy(dtype=float)[position]
    counts = frame["count"].to_numpy(dtype=float)[position]
    flat = r * n_hours + c
    if np.bincount(flat, minlength=n_rooms * n_hours).max() <= 1:
        temp[r, c], rh[r, c], rh_max[r, c] = t_values, h_values, m_values
        return temp, rh, rh_max
    # Several devices in one room-hour: count-weighted means, the highest maximum.
    weight = np.zeros(n_rooms * n_hours)
    t_sum = np.zeros(n_rooms * n_hours)
    h_sum = np.zeros(n_rooms * n_hours)
    np.add.at(weight, flat, counts)
    np.add.at(t_sum, flat, counts * t_values)
    np.add.at(h_sum, flat, counts * h_values)
    highest = np.full(n_rooms * n_hours, -np.inf)
    np.maximum.at(highest, flat, m_values)
    with np.errstate(invalid="ignore", divide="ignore"):
        temp[:] = (t_sum / weight).reshape(n_rooms, n_hours)
        rh[:] = (h_sum / weight).reshape(n_rooms, n_hours)
    rh_max[:] = np.where(np.isfinite(highest), highest, np.nan).reshape(n_rooms, n_hours)
    return temp, rh, rh_max


@dataclasses.dataclass(frozen=True)
class OutdoorConditions:
    """Outdoor temperature and humidity of every home, hour by hour.

    Homes that share a site and district share a series ("chain"), so the arrays are (chains, hours)
    and ``chain_of`` maps a UPRN to its row.

    Attributes
    ----------
    start_hour : int
        Epoch hour of column 0.
    temperature_c, humidity_pct : numpy.ndarray
        Shape (chains, hours), never NaN. [°C, %]
    source : numpy.ndarray of int8
        Which of :data:`OUTDOOR_SOURCES` gave each value.
    chain_of : dict
        UPRN to row.
    """

    start_hour: int
    temperature_c: np.ndarray
    humidity_pct: np.ndarray
    source: np.ndarray
    chain_of: dict[str, int]

    def for_rooms(self, uprns: Sequence[str], start_hour: int, end_hour: int) -> tuple[np.ndarray, ...]:
        """(rooms, hours) outdoor temperature, humidity and a measured flag for rooms of the given homes."""
        rows = np.fromiter((self.chain_of[u] for u in uprns), dtype=np.int64, count=len(uprns))
        columns = slice(start_hour - self.start_hour, end_hour - self.start_hour)
        # Gathered hour-major, like read_room_hours, and returned as (rooms, hours) transposes.
        return (
            self.temperature_c[:, columns].T.take(rows, axis=1).T,
            self.humidity_pct[:, columns].T.take(rows, axis=1).T,
            (self.source[:, columns].T < CLIMATOLOGY).take(rows, axis=1).T,
        )

    def main_source(self, uprn: str, start_hour: int, end_hour: int) -> str:
        """The source that gave most of a home's hours in ``[start_hour, end_hour)``."""
        row = self.chain_of[uprn]
        codes = self.source[row, start_hour - self.start_hour: end_hour - self.start_hour]
        if codes.size == 0:
            return OUTDOOR_SOURCES[CLIMATOLOGY]
        return OUTDOOR_SOURCES[int(np.bincount(codes, minlength=len(OUTDOOR_SOURCES)).argmax())]


def _mean_series(values: list[np.ndarray], n_hours: int) -> np.ndarray:
    """Mean across series, ignoring NaN; NaN where all are missing (or there are none)."""
    if not values:
        return np.full(n_hours, np.nan)
    stack = np.vstack(values)
    present = np.isfinite(stack)
    total = np.where(present, stack, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _weather_series(session: Session, areas: Sequence[str], start_hour: int, end_hour: int
                    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Imported weather per area as hourly arrays (NaN where the file had no value)."""
    n_hours = end_hour - start_hour
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if not areas:
        return out
    rows = session.execute(
        select(WeatherHour.area, WeatherHour.hour, WeatherHour.temperature_c, WeatherHour.humidity_pct).where(
            WeatherHour.area.in_(list(areas)),
            WeatherHour.hour >= hour_datetime(start_hour),
            WeatherHour.hour < hour_datetime(end_hour),
        )
    ).all()
    for area, hour, temperature, humidity in rows:
        if area not in out:
            out[area] = (np.full(n_hours, np.nan), np.full(n_hours, np.nan))
        column = epoch_hour(hour) - start_hour
        out[area][0][column] = temperature
        out[area][1][column] = np.nan if humidity is None else humidity
    return out


def outdoor_conditions(
    session: Session,
    store: HourlyReader,
    registry: Registry,
    start_hour: int,
    end_hour: int,
) -> OutdoorConditions:
    """Outdoor conditions of every home of the register over ``[start_hour, end_hour)``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        For imported weather.
    store : HourlyReader
        For outdoor sensors' readings.
    registry : Registry
        Homes, their sites and districts, and the outdoor sensors.
    start_hour, end_hour : int
        Epoch hours.

    Returns
    -------
    OutdoorConditions
        See the module notes for the order in which sources are used. Temperature and humidity are
        taken from the same source in each hour, except that a weather file without humidity borrows
        the climatology's.
    """
    n_hours = end_hour - start_hour
    outdoor = registry.outdoor_rooms
    temp, rh, _ = read_room_hours(store, registry, outdoor["room_id"].tolist(), start_hour, end_hour)
    by_site: dict[str, list[int]] = {}
    by_district: dict[str, list[int]] = {}
    for row, (site, district) in enumerate(zip(outdoor["site"], outdoor["district"], strict=True)):
        if isinstance(site, str):
            by_site.setdefault(site, []).append(row)
        by_district.setdefault(district, []).append(row)
    estate_t = _mean_series(list(temp), n_hours)
    estate_h = _mean_series(list(rh), n_hours)
    districts = sorted(set(registry.properties["district"]))
    weather_areas = sorted(set(districts) | {postcode_area(d) for d in districts} | {ESTATE_AREA})
    weather = _weather_series(session, weather_areas, start_hour, end_hour)
    no_weather = (np.full(n_hours, np.nan), np.full(n_hours, np.nan))
    clim_t, clim_h = climatology(np.arange(start_hour, end_hour))

    chains: dict[tuple[str | None, str], int] = {}  # (site, district): row
    chain_of: dict[str, int] = {}
    keys = zip(registry.properties.index, registry.properties["site"], registry.properties["district"],
               strict=True)
    for uprn, site, district in keys:
        key = (site if isinstance(site, str) else None, district)
        chain_of[uprn] = chains.setdefault(key, len(chains))
    n_chains = len(chains)
    out_t = np.empty((n_chains, n_hours))
    out_h = np.empty((n_chains, n_hours))
    source = np.empty((n_chains, n_hours), dtype=np.int8)
    for (site, district), row in chains.items():
        site_rows = by_site.get(site, []) if site is not None else []
        other_rows = [r for r in by_district.get(district, []) if r not in site_rows]
        # The district's weather, else its postcode area's, else the whole estate's, hour by hour.
        weather_t, weather_h = (values.copy() for values in weather.get(district, no_weather))
        for wider in (postcode_area(district), ESTATE_AREA):
            wider_t, wider_h = weather.get(wider, no_weather)
            fill = ~np.isfinite(weather_t) & np.isfinite(wider_t)
            weather_t[fill], weather_h[fill] = wider_t[fill], wider_h[fill]
        candidates = [
            (_mean_series([temp[r] for r in site_rows], n_hours), _mean_series([rh[r] for r in site_rows], n_hours)),
            (_mean_series([temp[r] for r in other_rows], n_hours),
             _mean_series([rh[r] for r in other_rows], n_hours)),
            (weather_t, np.where(np.isfinite(weather_h), weather_h, clim_h)),
            (estate_t, estate_h),
            (clim_t, clim_h),
        ]
        t_row = np.full(n_hours, np.nan)
        h_row = np.full(n_hours, np.nan)
        s_row = np.full(n_hours, CLIMATOLOGY, dtype=np.int8)
        for code, (t_candidate, h_candidate) in enumerate(candidates):
            take = ~np.isfinite(t_row) & np.isfinite(t_candidate) & np.isfinite(h_candidate)
            t_row[take] = t_candidate[take]
            h_row[take] = h_candidate[take]
            s_row[take] = code
        out_t[row], out_h[row], source[row] = t_row, h_row, s_row
    logger.debug("outdoor conditions for %d homes in %d groups over %d hours", len(chain_of), n_chains, n_hours)
    return OutdoorConditions(start_hour, out_t, out_h, source, chain_of)
