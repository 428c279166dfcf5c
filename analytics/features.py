"""Room features from hourly readings: cold-spot humidity, the mould index, heating, ventilation, coverage.

The work is split in two so that a daily run touches only the new hours:

1. :func:`summarise_days` turns hourly room conditions, arrays of shape (rooms, hours), into one row of
   sums and counts per room and UTC day (:data:`DAY_FIELDS`), carrying the VTT mould index on from the
   state the previous run left. This is the expensive part: the cold-spot temperature and humidity of
   every room-hour, the hour-by-hour mould index, threshold counts and the moisture events in wet rooms.
   It is vectorised across rooms; call it on chunks of a few thousand rooms.
2. :func:`window_features` adds up the day rows of the last 14 days into the features that risk is judged
   on (:data:`FEATURE_NAMES`): cheap, and the same whether the day rows were computed today or kept from
   earlier runs.

Because every day row depends only on that day's hours (plus the three hours before it, for moisture
events, and the mould state at its start, which the row keeps), recomputing from any day's start gives
the same rows as a run over the whole record: this is what makes incremental scoring equal full scoring.

Conventions
-----------
Hour columns are whole UTC hours; column ``context_hours`` is 00:00 UTC of the first day summarised.
Missing hours are NaN. A room-hour "has data" when both its temperature and humidity are present.

Speed
-----
:func:`summarise_days` works through a few days at a time, hour-major and in single precision (the mould
index itself in double), so that its working arrays stay in the processor's cache. Give it (rooms, hours)
arrays that are hour-major in memory (the transposes of (hours, rooms) arrays, as
:func:`analytics.registry.read_room_hours` returns); row-major ones work too, but cost a transposing copy.
Single precision keeps about seven significant digits, far finer than any sensor. Every sum runs in a fixed
order, so a day's row is the same bit for bit whichever other rooms and days it was computed with.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

from analytics.constants import DESIGN_TEMPERATURE_FACTOR, MAGNUS_WMO, SURFACE_RH_MOULD_LIMIT
from analytics.mould import mould_index_daily
from analytics.psychrometrics import humidity_class_limit

__all__ = [
    "CONTEXT_HOURS",
    "DAY_FIELDS",
    "FEATURE_NAMES",
    "HourlyConditions",
    "RoomFeatures",
    "day_index",
    "summarise_days",
    "window_features",
]

HOURS_PER_DAY: Final = 24

CONTEXT_HOURS: Final = 3
"""Hours before the first summarised day that :func:`summarise_days` needs to recognise moisture events
that began the evening before: the hour before a peak, the peak and the hour after it. [h]"""

ROOM_RH_WARNING_PCT: Final = 70.0
"""Room relative humidity above which long spells are the practical warning sign of damp (BS 5250). [%]"""

COLD_HOME_TEMPERATURES_C: Final = (16.0, 18.0)
"""Room temperatures counted against: below 16 °C raises respiratory risk, 18 °C is the WHO minimum for
the cold season (WHO Housing and Health Guidelines, 2018). [°C]"""

DAMP_DAY_MIN_HOURS: Final = 6
"""A day counts as a damp day at the cold spot (or in the room air) when the threshold is exceeded for at
least this many hours of it: a quarter of the day, so that one shower does not make a damp day. [h]"""

EVENT_MIN_RISE_PCT: Final = 10.0
"""A moisture event (shower, bath, cooking) in a wet room: the hour's highest humidity reading is at least
this many percentage points above the previous hour's mean. [%]"""

EVENT_MIN_MEAN_RISE_PCT: Final = 3.0
"""... and the hour's mean humidity is at least this much above the previous hour's, so that a single
noisy reading does not count. [%]"""

DAYS_PER_BLOCK: Final = 4
"""Days :func:`summarise_days` works on at a time: small enough for a few thousand rooms' arrays to stay in
the processor's cache."""

COOLING_MIN_DROP_K: Final = 0.2
"""An hour counts as cooling when the room's hourly mean falls by at least this much... [K]"""

COOLING_MIN_DIFFERENCE_K: Final = 5.0
"""... from a start at least this much above outdoors (smaller differences give noisy rates). [K]"""

COOLING_MIN_HOURS: Final = 10
"""Cooling hours a window needs before the room's heat-loss index is given."""

WINDOW_DAYS: Final = 14
"""Days that the features add up: the last 14, the current day included. [d]"""

DAY_FIELDS: Final = (
    "mould_index_start",
    "dry_spell_hours_start",
    "mould_index_end",
    "mould_index_max",
    "hours_data",
    "hours_outdoor_measured",
    "hours_surface_rh_over_80",
    "hours_rh_over_70",
    "hours_below_16",
    "hours_below_18",
    "sum_temperature_c",
    "sum_humidity_pct",
    "sum_surface_temperature_c",
    "sum_surface_rh_pct",
    "sum_outdoor_temperature_c",
    "sum_outdoor_humidity_pct",
    "sum_vapour_pressure_excess_pa",
    "min_vapour_pressure_excess_pa",
    "last_data_hour",
    "ventilation_events",
    "ventilation_remaining_sum",
    "hours_cooling",
    "sum_cooling_rate_per_h",
)
"""What one room-day row holds, in the order of the last axis of :func:`summarise_days`' result.

``mould_index_start`` and ``dry_spell_hours_start`` are the mould state at 00:00 (so a later run can
restart from that day); ``mould_index_end`` and ``mould_index_max`` the index after the day's last hour
and its highest value in the day. ``hours_*`` count hours with data meeting a condition: cold-spot RH
above 80 %, room RH above 70 %, room below 16 °C and 18 °C; ``hours_outdoor_measured`` those whose
outdoor conditions were measured rather than taken from the climatology. ``sum_*`` are sums over the hours
with data (divide by ``hours_data`` for means); ``min_vapour_pressure_excess_pa`` the day's lowest hourly
excess (NaN without data); ``last_data_hour`` the last hour of the day with data, 0-23 (NaN if none).
``ventilation_events`` counts moisture events whose two-hour decay ended in the day (wet rooms only) and
``ventilation_remaining_sum`` adds up the share of each event's rise still there two hours after its
peak. ``hours_cooling`` counts the hours in which the room cooled (the heating off) while well above the
outdoor temperature, and ``sum_cooling_rate_per_h`` adds up each such hour's fall as a share of the
indoor-outdoor difference at its start (see :data:`COOLING_MIN_DROP_K`)."""

_F = {name: position for position, name in enumerate(DAY_FIELDS)}

FEATURE_NAMES: Final = (
    "coverage",
    "hours_since_data",
    "mean_temperature_c",
    "mean_humidity_pct",
    "mean_surface_temperature_c",
    "mean_surface_rh_pct",
    "mean_outdoor_temperature_c",
    "mean_outdoor_humidity_pct",
    "outdoor_measured_share",
    "mould_index",
    "mould_index_max",
    "mould_index_trend",
    "hours_surface_rh_over_80",
    "days_surface_rh_over_80",
    "share_surface_rh_over_80",
    "hours_rh_over_70",
    "days_rh_over_70",
    "share_rh_over_70",
    "hours_below_16",
    "hours_below_18",
    "share_below_16",
    "share_below_18",
    "vapour_pressure_excess_pa",
    "min_vapour_pressure_excess_pa",
    "humidity_class",
    "ventilation_events",
    "ventilation_remaining",
    "cooling_hours",
    "heat_loss_index_per_h",
)
"""The room features of :func:`window_features`, each an array with one value per room.

``coverage`` is the share of the window's hours with data; ``hours_since_data`` the hours since the
last one (NaN if none). ``mean_*`` are means over hours with data. ``mould_index`` is the VTT index at
the cold spot now, ``mould_index_max`` its highest in the window and ``mould_index_trend`` its change
over the window. ``hours_*``, ``days_*`` and ``share_*`` count hours, damp days (at least
:data:`DAMP_DAY_MIN_HOURS` hours over the threshold) and the share of hours with data over the threshold.
``vapour_pressure_excess_pa`` is the mean excess of indoor over outdoor vapour pressure [Pa],
``min_vapour_pressure_excess_pa`` the mean of the daily lowest excess (high when moisture never clears,
as with a leak), and ``humidity_class`` the BS EN ISO 13788 internal humidity class (1-5) of the means.
``ventilation_remaining`` is the mean share of a moisture event's rise still there two hours after its
peak (0 clears fast, 1 not at all; NaN without events). ``heat_loss_index_per_h`` is the mean rate at
which the room cools towards outdoors when the heating is off, as a share of the indoor-outdoor difference
per hour (NaN with fewer than :data:`COOLING_MIN_HOURS` such hours): a room that loses heat faster than the
rest of its home has a colder fabric."""


@dataclasses.dataclass(frozen=True)
class HourlyConditions:
    """Hourly conditions of many rooms over whole UTC days, with a few hours of context before them.

    Every array has shape (rooms, context_hours + hours); column ``context_hours`` is 00:00 UTC of the
    first day to summarise. Missing hours are NaN. Arrays stored hour-major (see the module notes) are
    read fastest.

    Attributes
    ----------
    temperature_c : numpy.ndarray
        Room air temperature, hourly mean. [°C]
    humidity_pct : numpy.ndarray
        Room relative humidity, hourly mean. [%]
    humidity_max_pct : numpy.ndarray
        Highest room relative humidity reading in each hour. [%]
    outdoor_temperature_c : numpy.ndarray
        Outdoor air temperature of each room's home; never NaN (fill gaps from the climatology). [°C]
    outdoor_humidity_pct : numpy.ndarray
        Outdoor relative humidity, likewise. [%]
    outdoor_measured : numpy.ndarray of bool
        True where the outdoor values were measured (sensor or weather file), False where they came from
        the climatology.
    context_hours : int, default 0
        Leading columns that precede the first day: they only feed the recognition of moisture events
        (pass :data:`CONTEXT_HOURS` of them, NaN where nothing was recorded).
    """

    temperature_c: np.ndarray
    humidity_pct: np.ndarray
    humidity_max_pct: np.ndarray
    outdoor_temperature_c: np.ndarray
    outdoor_humidity_pct: np.ndarray
    outdoor_measured: np.ndarray
    context_hours: int = 0

    def __post_init__(self) -> None:
        shape = np.shape(self.temperature_c)
        if len(shape) != 2:
            raise ValueError(
                f"temperature_c must be a (rooms, hours) array, got shape {shape}; "
                "put one row per room and one column per hour"
            )
        for name in ("humidity_pct", "humidity_max_pct", "outdoor_temperature_c", "outdoor_humidity_pct",
                     "outdoor_measured"):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"{name} has shape {np.shape(getattr(self, name))} but temperature_c has {shape}; "
                    "give every array one row per room and one column per hour"
                )
        if not 0 <= self.context_hours <= shape[1]:
            raise ValueError(f"context_hours must be between 0 and {shape[1]}, got {self.context_hours}")

    @property
    def rooms(self) -> int:
        """Number of rooms (rows)."""
        return int(np.shape(self.temperature_c)[0])

    @property
    def hours(self) -> int:
        """Hours to summarise, context excluded."""
        return int(np.shape(self.temperature_c)[1]) - self.context_hours


def _magnus_exponent(temp: np.ndarray) -> np.ndarray:
    """b t / (c + t) of the Magnus form over water; exp of it times a is e_s(t). [-]"""
    _, b, c = MAGNUS_WMO
    return b * temp / (c + temp)


def _moisture_events(
    humidity: np.ndarray, humidity_max: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Moisture events and the share of each rise left two hours after its peak, by completion hour.

    The arrays are hour-major, (hours, rooms). An event has its peak in hour ``h``: the highest reading
    of hour ``h`` is at least :data:`EVENT_MIN_RISE_PCT` above the mean of hour ``h - 1`` (the
    baseline), the mean of hour ``h`` is at least :data:`EVENT_MIN_MEAN_RISE_PCT` above it, and hour
    ``h + 1`` holds no higher reading (so the air is drying, not a second shower). Its remaining share
    is ``(mean(h + 2) - baseline) / rise``, clipped to 0-1. It is counted in hour ``h + 2``, when it is
    complete, so an event needs no hour after the day it is counted in.
    """
    hours = humidity.shape[0]
    events = np.zeros(humidity.shape, dtype=bool)
    remaining = np.zeros(humidity.shape, dtype=humidity.dtype)
    if hours < 4:
        return events, remaining
    base = humidity[:-3]
    peak = humidity_max[1:-2]
    after = humidity[3:]
    with np.errstate(invalid="ignore", divide="ignore"):
        rise = peak - base
        found = rise >= EVENT_MIN_RISE_PCT
        found &= humidity[1:-2] - base >= EVENT_MIN_MEAN_RISE_PCT
        found &= humidity_max[2:-1] <= peak
        found &= np.isfinite(after)
        share = after - base
        share /= rise
        np.clip(share, 0.0, 1.0, out=share)
    events[3:] = found
    np.copyto(remaining[3:], share, where=found)
    return events, remaining


def summarise_days(
    conditions: HourlyConditions,
    temperature_factor: np.ndarray | float = DESIGN_TEMPERATURE_FACTOR,
    wet_room: np.ndarray | None = None,
    state_index: np.ndarray | None = None,
    state_dry_hours: np.ndarray | None = None,
    sensitivity: str = "sensitive",
    first_kept_day: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""
    Summarise hourly room conditions into one row per room and UTC day.

    Parameters
    ----------
    conditions : HourlyConditions
        Hourly room and outdoor conditions; the first summarised column is 00:00 UTC of a day.
    temperature_factor : numpy.ndarray or float, default 0.75
        Temperature factor f_Rsi of each room's coldest spot, shape (rooms,), between 0 and 1. [-]
    wet_room : numpy.ndarray of bool, optional
        True for the rooms (bathrooms, kitchens) whose moisture events measure ventilation; none if
        omitted.
    state_index : numpy.ndarray, optional
        Mould index of each room's cold spot at the start of the first day; zeros if omitted. [-]
    state_dry_hours : numpy.ndarray, optional
        Hours of each room's current dry spell at the start of the first day; zeros if omitted. [h]
    sensitivity : str, default "sensitive"
        VTT sensitivity class of the surface; painted plaster and plasterboard are "sensitive".
    first_kept_day : int, default 0
        Return rows from this day on (counted from the first day, 0); earlier days only carry the mould
        index forward, which is much cheaper than summarising them. Use it when only recent rows are kept.

    Returns
    -------
    days : numpy.ndarray, shape (rooms, days - first_kept_day, len(DAY_FIELDS))
        One row per room and day from ``first_kept_day`` on, fields :data:`DAY_FIELDS`. A final partial
        day is summarised over the hours given.
    state_index : numpy.ndarray, shape (rooms,)
        Mould index after the last hour. [-]
    state_dry_hours : numpy.ndarray of int, shape (rooms,)
        Dry-spell count after the last hour. [h]

    Raises
    ------
    ValueError
        If an array has the wrong shape, a temperature factor lies outside (0, 1], or a state is out of
        range.

    Notes
    -----
    For each room-hour, the coldest surface (BS EN ISO 13788) and its humidity are

    .. math::

        \theta_{si} = \theta_e + f_{Rsi} (\theta_i - \theta_e), \qquad
        \varphi_{si} = \min\left(100,\; \varphi_i\,\frac{e_s(\theta_i)}{e_s(\theta_{si})}\right)

    with the Magnus saturation pressure :math:`e_s`; they drive the VTT mould index
    (:func:`analytics.mould.mould_index_daily`, which also gives the state at each day's start). The vapour pressure excess is :math:`\varphi_i e_s(\theta_i) - \varphi_e
    e_s(\theta_e)`. Moisture events are described in the module notes; they are looked for only in wet
    rooms.

    Each day's row depends only on the hours of that day, the :data:`CONTEXT_HOURS` before it and the
    mould state at its start: summarising days 1-10 and then 11-20 from the returned state gives the
    same rows as summarising days 1-20 at once.
    """
    rooms, hours = conditions.rooms, conditions.hours
    if hours <= 0:
        raise ValueError("conditions hold no hours after the context; give at least one hour to summarise")
    factor = np.broadcast_to(np.asarray(temperature_factor, dtype=float), (rooms,))
    if not np.all((factor > 0.0) & (factor <= 1.0)):
        raise ValueError(
            "temperature_factor must lie in (0, 1] for every room; use 0.75 (the UK design value) "
            "where the room's is not known"
        )
    wet = np.zeros(rooms, dtype=bool) if wet_room is None else np.asarray(wet_room, dtype=bool)
    if wet.shape != (rooms,):
        raise ValueError(f"wet_room has shape {wet.shape} but there are {rooms} rooms")
    m0 = np.zeros(rooms) if state_index is None else np.asarray(state_index, dtype=float)
    dry0 = np.zeros(rooms, dtype=np.int64) if state_dry_hours is None else np.asarray(state_dry_hours)

    n_days = -(-hours // HOURS_PER_DAY)
    kept = min(max(int(first_kept_day), 0), n_days)
    out = np.empty((rooms, n_days - kept, len(DAY_FIELDS)))
    factor32 = factor.astype(np.float32)[:, None]
    wet_rows = np.flatnonzero(wet)
    m, dry = m0, dry0.astype(np.int64)
    for first in range(0, kept, DAYS_PER_BLOCK):
        last = min(first + DAYS_PER_BLOCK, kept)
        m, dry = _carry_block(conditions, first, last, factor32, m, dry, sensitivity)
    for first in range(kept, n_days, DAYS_PER_BLOCK):
        last = min(first + DAYS_PER_BLOCK, n_days)
        m, dry = _summarise_block(conditions, first, last, factor32, wet_rows, m, dry, sensitivity,
                                  out[:, first - kept: last - kept])
    return out, m, dry


def _block(values: np.ndarray, start: int, stop: int, fill: float | bool, dtype: type) -> np.ndarray:
    """Hours ``[start, stop)`` of a (rooms, hours) array as a new hour-major (hours, rooms) array of
    ``dtype``, padded with ``fill`` where they fall outside it.

    A (rooms, hours) array stored hour-major (Fortran order, e.g. the transpose of an (hours, rooms)
    array) is copied straight; a row-major one has to be transposed, which costs more.
    """
    width = values.shape[1]
    block: np.ndarray = np.empty((stop - start, values.shape[0]), dtype=dtype)
    lo, hi = max(start, 0), min(stop, width)
    if lo > start:
        block[: lo - start] = fill
    if hi < stop:
        block[max(hi, lo) - start:] = fill
    if hi > lo:
        block[lo - start: hi - start] = values[:, lo:hi].T
    return block


def _cold_spot(temp: np.ndarray, temp_out: np.ndarray, rh: np.ndarray, factor_row: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Surface temperature, surface RH and the room's Magnus exponent, in single precision.

    θ_si = θ_e + f (θ_i - θ_e); φ_si = min(100, φ_i e_s(θ_i) / e_s(θ_si)).
    """
    f32 = np.float32
    _, b, c_magnus = MAGNUS_WMO
    surface_t = np.subtract(temp, temp_out)
    surface_t *= factor_row
    surface_t += temp_out
    exponent_in = temp + f32(c_magnus)
    np.divide(temp, exponent_in, out=exponent_in)
    exponent_in *= f32(b)
    surface_rh = surface_t + f32(c_magnus)
    np.divide(surface_t, surface_rh, out=surface_rh)
    surface_rh *= f32(b)
    np.subtract(exponent_in, surface_rh, out=surface_rh)
    np.exp(surface_rh, out=surface_rh)
    surface_rh *= rh
    np.minimum(surface_rh, f32(100.0), out=surface_rh)
    return surface_t, surface_rh, exponent_in


def _carry_block(
    conditions: HourlyConditions,
    first_day: int,
    last_day: int,
    factor: np.ndarray,
    index: np.ndarray,
    dry: np.ndarray,
    sensitivity: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Carry the mould state over days ``[first_day, last_day)`` without summarising them."""
    c = conditions.context_hours
    start, stop = c + first_day * HOURS_PER_DAY, c + last_day * HOURS_PER_DAY
    f32 = np.float32
    temp = _block(np.asarray(conditions.temperature_c), start, stop, np.nan, f32)
    rh = _block(np.asarray(conditions.humidity_pct), start, stop, np.nan, f32)
    temp_out = _block(np.asarray(conditions.outdoor_temperature_c), start, stop, np.nan, f32)
    with np.errstate(invalid="ignore", over="ignore"):
        surface_t, surface_rh, _ = _cold_spot(temp, temp_out, rh, factor.reshape(1, -1))
        _, _, _, index, dry = mould_index_daily(surface_t.T, surface_rh.T, index, dry, sensitivity)
    return index, dry


def _summarise_block(
    conditions: HourlyConditions,
    first_day: int,
    last_day: int,
    factor: np.ndarray,
    wet_rows: np.ndarray,
    index: np.ndarray,
    dry: np.ndarray,
    sensitivity: str,
    out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``out`` (rooms, last_day - first_day, fields) for days ``[first_day, last_day)``.

    Works on a few days at a time, hour-major (hours, rooms) and in single precision, so that its arrays
    stay in the processor's cache and each day's sums run down contiguous rows in a fixed order (the same
    numbers whichever other rooms and days are in the batch); returns the mould state after the block.
    """
    c = conditions.context_hours
    start, stop = c + first_day * HOURS_PER_DAY, c + last_day * HOURS_PER_DAY
    n_days = last_day - first_day
    rooms = out.shape[0]
    shape3 = (n_days, HOURS_PER_DAY, rooms)
    f32 = np.float32
    # Temperatures from the hour before the block, for the cooling rates: one copy serves both.
    temp_from_before = _block(np.asarray(conditions.temperature_c), start - 1, stop, np.nan, f32)
    temp_out_from_before = _block(np.asarray(conditions.outdoor_temperature_c), start - 1, stop, np.nan, f32)
    temp, temp_out = temp_from_before[1:], temp_out_from_before[1:]
    rh = _block(np.asarray(conditions.humidity_pct), start, stop, np.nan, f32)
    rh_out = _block(np.asarray(conditions.outdoor_humidity_pct), start, stop, np.nan, f32)
    measured = _block(np.asarray(conditions.outdoor_measured), start, stop, False, bool)
    _, b, c_magnus = MAGNUS_WMO
    a = f32(MAGNUS_WMO[0] / 100.0)
    factor_row = factor.reshape(1, rooms)

    def daily(values: np.ndarray) -> np.ndarray:
        """(rooms, days) sums of each day's 24 hours, in double precision, hour after hour.

        An explicit loop fixes the order of the additions, so that a day's sum never depends on how many
        rooms or days were summed with it (numpy and BLAS pick their order by shape).
        """
        by_hour = values.reshape(shape3)
        total = by_hour[:, 0].astype(np.float64)
        for hour in range(1, HOURS_PER_DAY):
            total += by_hour[:, hour]
        return total.T

    def daily_count(flags: np.ndarray) -> np.ndarray:
        """(rooms, days) counts of True (whole numbers: exact in any order)."""
        counts: np.ndarray = np.add.reduce(flags.reshape(shape3), axis=1, dtype=np.int16)
        return counts.T

    # Cooling when the heating is off: each hour's fall over the indoor-outdoor difference at its start,
    # Newton's law of cooling, so the rate does not depend on how cold it is outside (before the sums
    # below put zeros in the hours without data).
    with np.errstate(invalid="ignore", divide="ignore"):
        temp_before, out_before = temp_from_before[:-1], temp_out_from_before[:-1]
        drop = temp_before - temp
        difference = temp_before - out_before
        cooling = (drop >= f32(COOLING_MIN_DROP_K)) & (difference >= f32(COOLING_MIN_DIFFERENCE_K))
        np.divide(drop, difference, out=drop)
        np.copyto(drop, f32(0.0), where=~cooling)
        out[:, :, _F["hours_cooling"]] = daily_count(cooling)
        out[:, :, _F["sum_cooling_rate_per_h"]] = daily(drop)
        del temp_before, out_before, drop, difference, cooling

    with np.errstate(invalid="ignore", over="ignore"):
        surface_t, surface_rh, exponent_in = _cold_spot(temp, temp_out, rh, factor_row)
        # Vapour pressure excess: φ_i e_s(θ_i) - φ_e e_s(θ_e).
        excess = np.exp(exponent_in, out=exponent_in)
        excess *= rh
        outside = temp_out + f32(c_magnus)
        np.divide(temp_out, outside, out=outside)
        outside *= f32(b)
        np.exp(outside, out=outside)
        outside *= rh_out
        excess -= outside
        excess *= a
        del outside

        # The mould index, with the state at each day's start kept. The transposes are hour-major in
        # memory, the order the mould core works in.
        hourly, day_index, day_dry, index, dry = mould_index_daily(surface_t.T, surface_rh.T, index, dry, sensitivity)
        out[:, :, _F["mould_index_start"]] = day_index
        out[:, :, _F["dry_spell_hours_start"]] = day_dry
        by_day = hourly.T.reshape(shape3)
        out[:, :, _F["mould_index_end"]] = by_day[:, -1].T
        out[:, :, _F["mould_index_max"]] = by_day.max(axis=1).T
        del hourly, by_day

        valid = np.isfinite(temp)
        valid &= np.isfinite(rh)
        out[:, :, _F["hours_data"]] = daily_count(valid)
        out[:, :, _F["hours_outdoor_measured"]] = daily_count(measured & valid)
        # Comparisons with NaN are False, so hours without data never count.
        flag = np.empty(temp.shape, dtype=bool)
        for name, values, compare, limit in (
            ("hours_surface_rh_over_80", surface_rh, np.greater, SURFACE_RH_MOULD_LIMIT),
            ("hours_rh_over_70", rh, np.greater, ROOM_RH_WARNING_PCT),
            ("hours_below_16", temp, np.less, COLD_HOME_TEMPERATURES_C[0]),
            ("hours_below_18", temp, np.less, COLD_HOME_TEMPERATURES_C[1]),
        ):
            compare(values, f32(limit), out=flag)
            out[:, :, _F[name]] = daily_count(flag)
        # The lowest excess of the day: fmin skips the NaN of hours without data.
        out[:, :, _F["min_vapour_pressure_excess_pa"]] = np.fmin.reduce(excess.reshape(shape3), axis=1).T
        # The last hour with data, numbered 1-24 so that 0 means none.
        hour_number = np.arange(1, HOURS_PER_DAY + 1, dtype=np.int8).reshape(1, HOURS_PER_DAY, 1)
        latest = np.max(valid.reshape(shape3) * hour_number, axis=1).T.astype(float) - 1.0
        out[:, :, _F["last_data_hour"]] = np.where(latest >= 0.0, latest, np.nan)
        missing = ~valid
        for name, values in (
            ("sum_temperature_c", temp),
            ("sum_humidity_pct", rh),
            ("sum_surface_temperature_c", surface_t),
            ("sum_surface_rh_pct", surface_rh),
            ("sum_outdoor_temperature_c", temp_out),
            ("sum_outdoor_humidity_pct", rh_out),
            ("sum_vapour_pressure_excess_pa", excess),
        ):
            np.copyto(values, f32(0.0), where=missing)
            out[:, :, _F[name]] = daily(values)

    # Moisture events in wet rooms, from the context hours before the block.
    out[:, :, _F["ventilation_events"]] = 0.0
    out[:, :, _F["ventilation_remaining_sum"]] = 0.0
    if wet_rows.size:
        rh_wet = _block(np.asarray(conditions.humidity_pct), start - CONTEXT_HOURS, stop, np.nan, f32)
        max_wet = _block(np.asarray(conditions.humidity_max_pct), start - CONTEXT_HOURS, stop, np.nan, f32)
        if wet_rows.size < rooms:
            rh_wet, max_wet = rh_wet[:, wet_rows], max_wet[:, wet_rows]
        events, remaining = _moisture_events(rh_wet, max_wet)
        wet_shape = (n_days, HOURS_PER_DAY, wet_rows.size)
        out[wet_rows, :, _F["ventilation_events"]] = np.add.reduce(
            events[CONTEXT_HOURS:].reshape(wet_shape), axis=1, dtype=np.int16).T
        by_hour = remaining[CONTEXT_HOURS:].reshape(wet_shape)
        total = by_hour[:, 0].astype(np.float64)
        for hour in range(1, HOURS_PER_DAY):
            total += by_hour[:, hour]
        out[wet_rows, :, _F["ventilation_remaining_sum"]] = total.T
    return index, dry


def day_index(hour_utc: int) -> int:
    """The UTC day (days since 1970-01-01) that contains an hour given in hours since the epoch."""
    return int(hour_utc) // HOURS_PER_DAY


@dataclasses.dataclass(frozen=True)
class RoomFeatures:
    """Features of many rooms over one window: a mapping from :data:`FEATURE_NAMES` to arrays."""

    values: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    @property
    def rooms(self) -> int:
        """Number of rooms."""
        return len(next(iter(self.values.values())))

    def take(self, rows: np.ndarray) -> RoomFeatures:
        """The features of the given rows only."""
        return RoomFeatures({name: values[rows] for name, values in self.values.items()})


def window_features(days: np.ndarray, hours_in_last_day: int) -> RoomFeatures:
    r"""
    Add up the day rows of a window into room features.

    Parameters
    ----------
    days : numpy.ndarray, shape (rooms, window_days, len(DAY_FIELDS))
        Consecutive day rows from :func:`summarise_days`, oldest first, ending with the current day; rows
        of days never summarised (before a sensor was installed) are NaN throughout.
    hours_in_last_day : int
        Hours of the last day that have been summarised so far, 1-24 (the window ends after them).

    Returns
    -------
    RoomFeatures
        :data:`FEATURE_NAMES`, one value per room.

    Raises
    ------
    ValueError
        If ``days`` does not have three dimensions with :data:`DAY_FIELDS` along the last, or
        ``hours_in_last_day`` is outside 1-24.

    Notes
    -----
    Coverage counts against every hour of the window, whether or not the room had a sensor yet, so a
    sensor installed a week ago covers half of a 14-day window. Days with fewer than
    :data:`DAMP_DAY_MIN_HOURS` hours over a threshold are not damp days. The humidity class compares
    the mean vapour pressure excess with the class limits at the mean outdoor temperature
    (BS EN ISO 13788 Annex A); it is NaN when outdoors averaged 20 °C or more.
    """
    if days.ndim != 3 or days.shape[2] != len(DAY_FIELDS):
        raise ValueError(
            f"days must have shape (rooms, window_days, {len(DAY_FIELDS)}), got {days.shape}; "
            "pass rows from summarise_days"
        )
    if not 1 <= hours_in_last_day <= HOURS_PER_DAY:
        raise ValueError(f"hours_in_last_day must be 1 to 24, got {hours_in_last_day}")
    n_days = days.shape[1]

    def field(name: str) -> np.ndarray:
        return days[:, :, _F[name]]

    def total(name: str) -> np.ndarray:
        # Day after day (NaN rows skipped): a fixed order, whatever the number of rooms.
        values = field(name)
        result = np.zeros(days.shape[0])
        for day in range(n_days):
            column = values[:, day]
            result += np.where(np.isnan(column), 0.0, column)
        return result

    hours_possible = (n_days - 1) * HOURS_PER_DAY + hours_in_last_day
    hours_data = total("hours_data")
    with np.errstate(invalid="ignore", divide="ignore"):
        per_hour = np.where(hours_data > 0, 1.0 / hours_data, np.nan)

        def mean(name: str) -> np.ndarray:
            return total(name) * per_hour

        # The index now: the end of the newest summarised day (a day without rows keeps NaN).
        summarised = np.isfinite(field("mould_index_end"))
        newest = np.where(summarised.any(axis=1), n_days - 1 - np.argmax(summarised[:, ::-1], axis=1), 0)
        rows = np.arange(days.shape[0])
        index_now = np.where(summarised.any(axis=1), field("mould_index_end")[rows, newest], np.nan)
        oldest = np.argmax(summarised, axis=1)
        index_then = np.where(summarised.any(axis=1), field("mould_index_start")[rows, oldest], np.nan)
        index_max = np.where(summarised, field("mould_index_max"), -np.inf).max(axis=1)
        index_max = np.where(summarised.any(axis=1), index_max, np.nan)

        last_hour = field("last_data_hour")
        has_data = np.isfinite(last_hour)
        newest_data = np.where(has_data.any(axis=1), n_days - 1 - np.argmax(has_data[:, ::-1], axis=1), -1)
        last_data_position = newest_data * HOURS_PER_DAY + last_hour[rows, np.maximum(newest_data, 0)]
        hours_since_data = np.where(newest_data >= 0, hours_possible - 1 - last_data_position, np.nan)

        mean_out_t = mean("sum_outdoor_temperature_c")
        excess = mean("sum_vapour_pressure_excess_pa")
        humidity_class = np.full(days.shape[0], np.nan)
        known = np.isfinite(excess) & np.isfinite(mean_out_t) & (mean_out_t < 20.0)
        if known.any():
            klass = np.ones(int(known.sum()))
            for n in range(1, 5):
                klass += excess[known] > humidity_class_limit(mean_out_t[known], n)
            humidity_class[known] = klass
        daily_lowest = field("min_vapour_pressure_excess_pa")
        with_lowest = np.isfinite(daily_lowest)
        lowest_excess = np.where(with_lowest, daily_lowest, 0.0).sum(axis=1) / with_lowest.sum(axis=1)
        events = total("ventilation_events")
        remaining = np.where(events > 0, total("ventilation_remaining_sum") / np.maximum(events, 1), np.nan)
        cooling_hours = total("hours_cooling")
        heat_loss = np.where(cooling_hours >= COOLING_MIN_HOURS,
                             total("sum_cooling_rate_per_h") / np.maximum(cooling_hours, 1), np.nan)

        def days_over(name: str) -> np.ndarray:
            days: np.ndarray = (np.nan_to_num(field(name)) >= DAMP_DAY_MIN_HOURS).sum(axis=1).astype(float)
            return days

        values = {
            "coverage": hours_data / hours_possible,
            "hours_since_data": hours_since_data,
            "mean_temperature_c": mean("sum_temperature_c"),
            "mean_humidity_pct": mean("sum_humidity_pct"),
            "mean_surface_temperature_c": mean("sum_surface_temperature_c"),
            "mean_surface_rh_pct": mean("sum_surface_rh_pct"),
            "mean_outdoor_temperature_c": mean_out_t,
            "mean_outdoor_humidity_pct": mean("sum_outdoor_humidity_pct"),
            "outdoor_measured_share": mean("hours_outdoor_measured"),
            "mould_index": index_now,
            "mould_index_max": index_max,
            "mould_index_trend": index_now - index_then,
            "hours_surface_rh_over_80": total("hours_surface_rh_over_80"),
            "days_surface_rh_over_80": days_over("hours_surface_rh_over_80"),
            "share_surface_rh_over_80": mean("hours_surface_rh_over_80"),
            "hours_rh_over_70": total("hours_rh_over_70"),
            "days_rh_over_70": days_over("hours_rh_over_70"),
            "share_rh_over_70": mean("hours_rh_over_70"),
            "hours_below_16": total("hours_below_16"),
            "hours_below_18": total("hours_below_18"),
            "share_below_16": mean("hours_below_16"),
            "share_below_18": mean("hours_below_18"),
            "vapour_pressure_excess_pa": excess,
            "min_vapour_pressure_excess_pa": lowest_excess,
            "humidity_class": humidity_class,
            "ventilation_events": events,
            "ventilation_remaining": remaining,
            "cooling_hours": cooling_hours,
            "heat_loss_index_per_h": heat_loss,
        }
    return RoomFeatures(values)
