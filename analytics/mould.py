"""The VTT mould growth model, hour by hour, for one surface or for many at once.

The mould index M runs from 0 (no growth) through 1 (growth visible under a microscope) and 3 (visible
to the eye, under 10 % cover) to 6 (heavy growth, about 100 % cover). It is driven by the temperature and
relative humidity *at the surface* (see :mod:`analytics.psychrometrics` for getting those from room
readings), one value per hour.

Three forms share one core, so they give the same numbers:

* :func:`mould_index` for one series, starting from a given index;
* :func:`mould_index_step` for one series continuing from a :class:`MouldState`, so that a daily run
  picks up where yesterday's stopped and matches a full recomputation;
* :func:`mould_index_2d` for many surfaces (rows) at once, looping over hours and vectorised across rows.

Hourly convention
-----------------
Hour ``h`` is described by ``T[h]`` and ``RH[h]``; the output ``M[h]`` is the index at the *end* of that
hour. Each hour is one explicit Euler step, ``M[h] = max(0, M[h-1] + ΔM(T[h], RH[h], M[h-1]))`` (with
``M[-1]`` the initial index), using the per-day rates of the model divided by 24. An hour is favourable
when 0 < T < 50 °C and RH ≥ RH_crit(T); it grows the index by ``k1 · k2 · rate / 24`` with ``k1`` chosen
by the index at the start of the hour. Any other hour with data is a dry hour: hours 1-6 of a dry spell
take 0.032/24 off the index, hours 7-24 nothing, and hour 25 onwards 0.016/24, each times the decline
coefficient. A favourable hour ends the dry spell; the count keeps running while the index is 0, and
the index never falls below 0.

Missing hours (NaN, or ±inf, in either input) hold the index where it was and neither advance nor end a
dry spell: the output for that hour repeats the previous value. Resample readings to a regular hourly
series with NaN for gaps before calling; the functions do not look at timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics._arrays import Numeric, as_numeric, check_broadcastable
from analytics.constants import (
    VTT_DECLINE_PHASE_HOURS,
    VTT_DECLINE_RATES,
    VTT_GROWTH_EXPONENTS,
    VTT_INDEX_MAX,
    VTT_K2_COEFFICIENT,
    VTT_RH_CRIT_POLYNOMIAL,
    VTT_SENSITIVITY_CLASSES,
    VTT_TEMPERATURE_RANGE,
    VTTSensitivity,
)

__all__ = [
    "MouldState",
    "critical_relative_humidity",
    "days_to_mould_index",
    "maximum_mould_index",
    "mould_growth_rate",
    "mould_index",
    "mould_index_2d",
    "mould_index_daily",
    "mould_index_step",
]

HOURS_PER_DAY = 24.0
DAYS_PER_WEEK = 7.0

_BLOCK_ELEMENTS = 1 << 18
"""Room-hours prepared at once by the core: about 2 MB per buffer, measured fastest on 10 000 rows."""


@dataclass(frozen=True)
class MouldState:
    """Where a mould index run stopped, so that the next run can carry on from there.

    Attributes
    ----------
    index : float, default 0.0
        Mould index at the end of the last hour, 0 to 6. [-]
    dry_spell_hours : int, default 0
        Unfavourable hours so far in the current dry spell (0 if the last hour with data was favourable).
        It decides which decline phase the next dry hour is in. [h]

    Raises
    ------
    ValueError
        If ``index`` is not between 0 and 6 or ``dry_spell_hours`` is not a whole number of hours ≥ 0.
    """

    index: float = 0.0
    dry_spell_hours: int = 0

    def __post_init__(self) -> None:
        try:
            index = np.array([self.index], dtype=float)
            dry_hours = np.array([self.dry_spell_hours], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f"MouldState needs a number for index and for dry_spell_hours, got {self!r}"
            ) from None
        _check_state(index, dry_hours, "")
        object.__setattr__(self, "index", float(index[0]))
        object.__setattr__(self, "dry_spell_hours", int(dry_hours[0]))


# --------------------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------------------


def _sensitivity(sensitivity: str | VTTSensitivity) -> VTTSensitivity:
    """Look up a sensitivity class by name, or accept a custom :class:`VTTSensitivity`."""
    if isinstance(sensitivity, VTTSensitivity):
        return sensitivity
    try:
        return VTT_SENSITIVITY_CLASSES[sensitivity]
    except (KeyError, TypeError):
        names = ", ".join(repr(name) for name in VTT_SENSITIVITY_CLASSES)
        raise ValueError(
            f"sensitivity must be one of {names} (or an analytics.constants.VTTSensitivity), "
            f"got {sensitivity!r}"
        ) from None


def _decline_coefficient(decline_coefficient: float) -> float:
    """Check the material decline coefficient: a finite number ≥ 0."""
    try:
        value = float(decline_coefficient)
    except (TypeError, ValueError):
        value = float("nan")
    if not (np.isfinite(value) and value >= 0.0):
        raise ValueError(
            "decline_coefficient must be a number of 0 or more: 1 for the original VTT decline, "
            f"0.5, 0.25 or 0.1 for materials that lose mould more slowly; got {decline_coefficient!r}"
        )
    return value


def _check_state(index: np.ndarray, dry_hours: np.ndarray, prefix: str) -> None:
    """Raise ValueError unless every index lies in [0, 6] and every dry-spell count is a whole number ≥ 0."""
    if not np.all((index >= 0.0) & (index <= VTT_INDEX_MAX)):
        raise ValueError(
            f"{prefix}index must lie between 0 and {VTT_INDEX_MAX:g} (the VTT mould index scale); "
            "start from 0 when nothing is known"
        )
    try:
        counts = dry_hours.astype(float)
    except (TypeError, ValueError):
        counts = np.array([np.nan])
    if not np.all(np.isfinite(counts) & (counts >= 0) & (counts == np.floor(counts))):
        raise ValueError(
            f"{prefix}dry_spell_hours must be whole numbers of hours, 0 or more; "
            "start from 0 when nothing is known"
        )


def _series_pair(temp_air: Any, relative_humidity: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return both hourly inputs as 1-D float arrays of equal length, or raise ValueError."""
    temp = np.atleast_1d(np.asarray(as_numeric(temp_air, "temp_air"), dtype=float))
    rh = np.atleast_1d(np.asarray(as_numeric(relative_humidity, "relative_humidity"), dtype=float))
    if temp.ndim != 1 or rh.ndim != 1:
        raise ValueError(
            "temp_air and relative_humidity must be one-dimensional hourly series; "
            "use mould_index_2d for many surfaces at once"
        )
    if temp.shape != rh.shape:
        raise ValueError(
            f"temp_air has {temp.size} hours but relative_humidity has {rh.size}; "
            "pass one value per hour for both"
        )
    return temp, rh


# --------------------------------------------------------------------------------------------------------
# Model relations
# --------------------------------------------------------------------------------------------------------


def _rh_crit(temp: Any, rh_min: float) -> Any:
    """RH_crit(T) = max(polynomial(T), RH_min), without the temperature limits. [%]

    Horner's form, the same sequence of operations as the in-place one in :func:`_prepare_block`.
    """
    c3, c2, c1, c0 = VTT_RH_CRIT_POLYNOMIAL
    return np.maximum(((temp * c3 + c2) * temp + c1) * temp + c0, rh_min)


def critical_relative_humidity(
    temp_air: Numeric,
    sensitivity: str | VTTSensitivity = "sensitive",
) -> Any:
    r"""
    Lowest surface relative humidity at which mould can grow, by temperature.

    Parameters
    ----------
    temp_air : numeric
        Surface temperature. [°C]
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class: ``"very_sensitive"``, ``"sensitive"``, ``"medium_resistant"`` or
        ``"resistant"``, or a custom :class:`analytics.constants.VTTSensitivity`; it sets the floor
        RH_min (80 % for the first two, 85 % for the others).

    Returns
    -------
    critical_relative_humidity : numeric
        RH_crit. NaN where growth is impossible at any humidity (at or below 0 °C, at or above 50 °C) and
        where the temperature is missing. [%]

    Raises
    ------
    ValueError
        If ``sensitivity`` is not a known class.

    Notes
    -----
    Hukka and Viitanen [1]_, with the material floor of Ojanen et al. [2]_:

    .. math:: RH_{crit}(T) = \max\left(-0.00267\,T^3 + 0.160\,T^2 - 3.13\,T + 100,\; RH_{min}\right)

    for 0 < T < 50 °C. For example RH_crit(20 °C) = 80.04 % and RH_crit(5 °C) = 88.02 %. Ojanen et al.
    write RH_min alone above 20 °C; the polynomial exceeds 80 % there only up to about 25 °C and by at
    most 0.1 percentage point, and this implementation keeps the maximum throughout, as DampWatch's
    science notes specify.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
       Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010:
       Mold growth modeling of building structures using sensitivity classes of materials. Thermal
       Performance of the Exterior Envelopes of Whole Buildings XI. Atlanta: ASHRAE.

    Examples
    --------
    >>> round(float(critical_relative_humidity(20.0)), 2)
    80.04
    """
    sens = _sensitivity(sensitivity)
    low, high = VTT_TEMPERATURE_RANGE
    temp = as_numeric(temp_air, "temp_air")
    with np.errstate(invalid="ignore"):
        possible = np.greater(temp, low) & np.less(temp, high)
    return _rh_crit(temp, sens.rh_min) + np.where(possible, 0.0, np.nan)


def maximum_mould_index(
    temp_air: Numeric,
    relative_humidity: Numeric,
    sensitivity: str | VTTSensitivity = "sensitive",
) -> Any:
    r"""
    Highest mould index that steady surface conditions can sustain.

    Parameters
    ----------
    temp_air : numeric
        Surface temperature. [°C]
    relative_humidity : numeric
        Surface relative humidity. [%]
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class, see :func:`critical_relative_humidity`.

    Returns
    -------
    maximum_mould_index : numeric
        M_max, 0 to 6. NaN where conditions are unfavourable (the model only uses M_max while mould can
        grow). [-]

    Raises
    ------
    ValueError
        If ``sensitivity`` is not a known class, or the inputs have lengths that do not match.

    Notes
    -----
    Ojanen et al. [2]_, generalising Hukka and Viitanen [1]_:

    .. math::

        M_{max} = \max\left(A + B\,x - C\,x^2,\; 0\right), \qquad
        x = \frac{RH_{crit} - RH}{RH_{crit} - 100}

    with A, B, C from the sensitivity class (1, 7, 2 for very sensitive). At RH = 100 % it is
    A + B - C: 6 for very sensitive, 5.3 sensitive, 3.5 medium resistant and 2 resistant materials.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
       Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010:
       Mold growth modeling of building structures using sensitivity classes of materials. Thermal
       Performance of the Exterior Envelopes of Whole Buildings XI. Atlanta: ASHRAE.

    Examples
    --------
    >>> round(float(maximum_mould_index(20.0, 100.0, "very_sensitive")), 3)
    6.0
    """
    sens = _sensitivity(sensitivity)
    temp = as_numeric(temp_air, "temp_air")
    rh = as_numeric(relative_humidity, "relative_humidity")
    check_broadcastable(temp_air=temp, relative_humidity=rh)
    rh_crit = critical_relative_humidity(temp, sens)
    with np.errstate(invalid="ignore"):
        favourable = np.greater_equal(rh, rh_crit)
    x = (rh_crit - rh) / (rh_crit - 100.0)
    return np.maximum(sens.a + sens.b * x - sens.c * x**2, 0.0) + np.where(favourable, 0.0, np.nan)


def mould_growth_rate(
    temp_air: Numeric,
    relative_humidity: Numeric,
    index: Numeric = 0.0,
    sensitivity: str | VTTSensitivity = "sensitive",
) -> Any:
    r"""
    Rate of growth of the mould index in steady surface conditions.

    Parameters
    ----------
    temp_air : numeric
        Surface temperature. [°C]
    relative_humidity : numeric
        Surface relative humidity. [%]
    index : numeric, default 0.0
        Present mould index, which sets k1 and k2. [-]
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class, see :func:`critical_relative_humidity`.

    Returns
    -------
    mould_growth_rate : numeric
        dM/dt, 0 where conditions are unfavourable (the decline in dry spells depends on their length and
        is applied by :func:`mould_index`); NaN where an input is missing. [1/day]

    Raises
    ------
    ValueError
        If ``sensitivity`` is not a known class, or the inputs have lengths that do not match.

    Notes
    -----
    Hukka and Viitanen [1]_ with the sensitivity classes of Ojanen et al. [2]_:

    .. math::

        \frac{dM}{dt} = \frac{k_1\,k_2}{7 \exp\left(-0.68 \ln T - 13.9 \ln RH + 66.02\right)}, \qquad
        k_2 = \max\left(1 - e^{2.3\,(M - M_{max})},\; 0\right)

    per day (the exponential is a time in weeks, hence the 7), where 0 < T < 50 °C and
    RH ≥ RH_crit(T); k1 takes the class's first value while M < 1 and its second once M ≥ 1.
    At 20 °C, 90 % and M = 0 on a very sensitive material it is 0.03399 per day.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
       Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010:
       Mold growth modeling of building structures using sensitivity classes of materials. Thermal
       Performance of the Exterior Envelopes of Whole Buildings XI. Atlanta: ASHRAE.

    Examples
    --------
    >>> round(float(mould_growth_rate(20.0, 90.0, 0.0, "very_sensitive")), 5)
    0.03399
    """
    sens = _sensitivity(sensitivity)
    a, b, c = VTT_GROWTH_EXPONENTS
    temp = as_numeric(temp_air, "temp_air")
    rh = as_numeric(relative_humidity, "relative_humidity")
    m = as_numeric(index, "index")
    check_broadcastable(temp_air=temp, relative_humidity=rh, index=m)
    m_max = maximum_mould_index(temp, rh, sens)
    with np.errstate(invalid="ignore", divide="ignore"):
        k1 = np.where(np.less(m, 1.0), sens.k1_below_one, sens.k1_from_one)
        k2 = np.maximum(1.0 - np.exp(VTT_K2_COEFFICIENT * (m - m_max)), 0.0)
        weeks = np.exp(-a * np.log(temp) - b * np.log(rh) + c)
        rate = k1 * k2 / (DAYS_PER_WEEK * weeks)
    missing = np.isnan(temp + rh + m)
    # fmax turns the NaN of unfavourable hours into 0 and keeps a Series a Series
    return np.fmax(rate, 0.0) + np.where(missing, np.nan, 0.0)


# --------------------------------------------------------------------------------------------------------
# The hourly recurrence
# --------------------------------------------------------------------------------------------------------


def _decline_table(decline_coefficient: float) -> np.ndarray:
    """Index change of a dry hour by its position in the dry spell, 0 to the start of the last phase.

    Entry 0 (not a dry hour) is 0; entries 1 to 6 are the first phase, 7 to 24 the second and entry 25
    stands for every later hour. [1/h]
    """
    first_end, second_end = VTT_DECLINE_PHASE_HOURS
    per_day = np.empty(second_end + 2)
    per_day[0] = 0.0
    per_day[1 : first_end + 1] = VTT_DECLINE_RATES[0]
    per_day[first_end + 1 : second_end + 1] = VTT_DECLINE_RATES[1]
    per_day[second_end + 1] = VTT_DECLINE_RATES[2]
    return -(per_day * decline_coefficient) / HOURS_PER_DAY


class _Workspace:
    """Buffers for one block of hours, (block, rows), allocated once per call and reused.

    Reusing them matters: fresh megabyte-sized arrays cost page faults on every block.
    """

    def __init__(self, block: int, rows: int) -> None:
        shape = (block, rows)
        self.temp = np.empty(shape)
        self.rh = np.empty(shape)
        self.rh_crit = np.empty(shape)
        self.favourable = np.empty(shape, dtype=bool)
        self.dry = np.empty(shape, dtype=bool)
        self.flag = np.empty(shape, dtype=bool)
        self.rate = np.empty(shape)
        self.m_max = np.empty(shape)
        self.decline = np.empty(shape)
        self.result = np.empty(shape)
        self.dry_so_far = np.empty(shape, dtype=np.int64)
        self.position = np.empty(shape, dtype=np.int64)


def _accumulate_over_hours(ufunc: np.ufunc, values: np.ndarray) -> None:
    """Running ``ufunc`` down the hours axis (axis 0) of ``values``, in place (integers: exact either way).

    numpy's ``accumulate`` along axis 0 walks each column with a large stride, which is slow for many
    rows; a loop over hours applies the ufunc to whole contiguous rows instead.
    """
    if values.shape[1] < 64:
        ufunc.accumulate(values, axis=0, out=values)
    else:
        for hour in range(1, values.shape[0]):
            ufunc(values[hour - 1], values[hour], out=values[hour])


def _prepare_block(
    ws: _Workspace,
    hours: int,
    dry_hours: np.ndarray,
    sens: VTTSensitivity,
    decline_table: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Everything in a block of hours that does not depend on the index.

    Reads the first ``hours`` rows of ``ws.temp`` and ``ws.rh`` (hours, rows) and each row's dry-spell
    count before the block. Returns the growth rate per hour without k1 and k2 (zero in unfavourable
    hours), M_max (zero where unfavourable), the index change of each dry hour (≤ 0, zero in favourable
    and missing hours) and each row's dry-spell count after the block.
    """
    temp, rh = ws.temp[:hours], ws.rh[:hours]
    rh_crit, favourable, dry, flag = (
        ws.rh_crit[:hours],
        ws.favourable[:hours],
        ws.dry[:hours],
        ws.flag[:hours],
    )
    low, high = VTT_TEMPERATURE_RANGE
    c3, c2, c1, c0 = VTT_RH_CRIT_POLYNOMIAL
    with np.errstate(invalid="ignore", over="ignore"):
        # RH_crit = max(((c3 T + c2) T + c1) T + c0, RH_min)
        np.multiply(temp, c3, out=rh_crit)
        rh_crit += c2
        rh_crit *= temp
        rh_crit += c1
        rh_crit *= temp
        rh_crit += c0
        np.maximum(rh_crit, sens.rh_min, out=rh_crit)
        # favourable: 0 < T < 50 and RH ≥ RH_crit; comparisons with NaN are False
        np.greater(temp, low, out=favourable)
        np.less(temp, high, out=flag)
        favourable &= flag
        np.greater_equal(rh, rh_crit, out=flag)
        favourable &= flag
        np.isfinite(rh, out=flag)
        favourable &= flag
        # dry: any other hour with data
        np.isfinite(temp, out=dry)
        dry &= flag
        np.logical_not(favourable, out=flag)
        dry &= flag

    # Growth, computed for the favourable room-hours only (often a minority) and scattered back.
    where = np.flatnonzero(favourable)
    temp_f = temp.ravel()[where]
    rh_f = rh.ravel()[where]
    rh_crit_f = rh_crit.ravel()[where]
    a, b, c = VTT_GROWTH_EXPONENTS
    weeks = np.exp(-a * np.log(temp_f) - b * np.log(rh_f) + c)
    x = (rh_crit_f - rh_f) / (rh_crit_f - 100.0)
    rate, m_max = ws.rate[:hours], ws.m_max[:hours]
    rate.fill(0.0)
    rate.ravel()[where] = 1.0 / (DAYS_PER_WEEK * HOURS_PER_DAY * weeks)
    m_max.fill(0.0)
    m_max.ravel()[where] = np.maximum(sens.a + sens.b * x - sens.c * x * x, 0.0)

    # Decline: position of each dry hour in its dry spell, counted from 1. A favourable hour resets the
    # count; the carried count acts as a reset that happened dry_hours dry hours before the block.
    dry_so_far, position = ws.dry_so_far[:hours], ws.position[:hours]
    np.copyto(dry_so_far, dry)
    _accumulate_over_hours(np.add, dry_so_far)
    np.add(dry_so_far, dry_hours, out=position)
    np.multiply(position, favourable, out=position)
    position -= dry_hours
    _accumulate_over_hours(np.maximum, position)
    np.subtract(dry_so_far, position, out=position)
    # mode="clip" maps every position past the table to its last entry, the open-ended last phase
    decline = ws.decline[:hours]
    decline_table.take(position, out=decline, mode="clip")
    decline *= dry
    return rate, m_max, decline, position[-1].copy()


def _single_row_steps(
    m: float,
    rate: np.ndarray,
    m_max: np.ndarray,
    decline: np.ndarray,
    sens: VTTSensitivity,
    result: np.ndarray,
) -> float:
    """The hour loop of :func:`_mould_index_core` for one row, with Python floats; returns the last index.

    numpy's per-call overhead dominates on one-element arrays, so a single series is stepped with
    scalars instead. Every operation is the one the vectorised loop performs, in the same order, and the
    exponential is numpy's (``math.exp`` can differ in the last bit), so the results are identical. An
    unfavourable hour skips k1 and k2, whose product the vectorised loop multiplies by a zero rate.
    """
    k1_below_one, k1_from_one = sens.k1_below_one, sens.k1_from_one
    for hour, (rate_h, m_max_h, decline_h) in enumerate(
        zip(rate.tolist(), m_max.tolist(), decline.tolist(), strict=True)
    ):
        if rate_h:
            k2 = 1.0 - float(np.exp((m - m_max_h) * VTT_K2_COEFFICIENT))
            k2 = max(k2, 0.0)
            k1 = k1_below_one if m < 1.0 else k1_from_one
            m = m + (k1 * k2 * rate_h + decline_h)
        else:
            m = m + decline_h
        m = max(m, 0.0)
        result[hour] = m
    return m


def _mould_index_core(
    temp: np.ndarray,
    rh: np.ndarray,
    index: np.ndarray,
    dry_hours: np.ndarray,
    sens: VTTSensitivity,
    decline_coefficient: float,
    record_every: int = 0,
) -> tuple[np.ndarray, ...]:
    """Run the recurrence over (rows, hours) arrays from per-row state; return index and new state.

    With ``record_every`` > 0 the index comes back hour-major, as the (rows, hours) transpose of an
    (hours, rows) array (no transposing copy), followed by the index and dry-spell count at the start of
    every ``record_every``-th hour, shape (rows, ceil(hours / record_every)).
    """
    rows, hours = temp.shape
    out = np.empty((hours, rows) if record_every else (rows, hours), dtype=float)
    m = index.astype(float, copy=True)
    dry = dry_hours.astype(np.int64, copy=True)
    decline_table = _decline_table(decline_coefficient)
    k2 = np.empty(rows)
    k1 = np.empty(rows)
    k1_other = np.empty(rows)
    below_one = np.empty(rows, dtype=bool)
    block = max(1, min(hours, _BLOCK_ELEMENTS // max(rows, 1)))
    if record_every:
        # Blocks of whole records, so that each record's start falls on a block boundary or inside one.
        block = max(record_every, block - block % record_every)
        records = -(-hours // record_every)
        recorded_index = np.empty((rows, records))
        recorded_dry = np.empty((rows, records), dtype=np.int64)
    ws = _Workspace(block, rows)
    for start in range(0, hours, block):
        stop = min(start + block, hours)
        if record_every:
            recorded_index[:, start // record_every] = m
            recorded_dry[:, start // record_every] = dry
        np.copyto(ws.temp[: stop - start], temp[:, start:stop].T)
        np.copyto(ws.rh[: stop - start], rh[:, start:stop].T)
        rate, m_max, decline, dry = _prepare_block(ws, stop - start, dry, sens, decline_table)
        result = ws.result[: stop - start]
        if rows == 1:
            m[0] = _single_row_steps(m[0], rate[:, 0], m_max[:, 0], decline[:, 0], sens, result[:, 0])
        else:
            for hour in range(stop - start):
                # k2 = max(1 - exp(2.3 (M - M_max)), 0) with M at the start of the hour
                np.subtract(m, m_max[hour], out=k2)
                np.multiply(k2, VTT_K2_COEFFICIENT, out=k2)
                np.exp(k2, out=k2)
                np.subtract(1.0, k2, out=k2)
                np.maximum(k2, 0.0, out=k2)
                # k1 by M at the start of the hour; multiplying by a boolean selects exactly
                np.less(m, 1.0, out=below_one)
                np.multiply(below_one, sens.k1_below_one, out=k1)
                np.logical_not(below_one, out=below_one)
                np.multiply(below_one, sens.k1_from_one, out=k1_other)
                np.add(k1, k1_other, out=k1)
                # ΔM: growth (zero in unfavourable hours) plus decline (zero in favourable ones)
                np.multiply(k1, k2, out=k2)
                np.multiply(k2, rate[hour], out=k2)
                np.add(k2, decline[hour], out=k2)
                np.add(m, k2, out=m)
                np.maximum(m, 0.0, out=m)
                result[hour] = m
        if record_every:
            out[start:stop] = result
            # ws.position holds each hour's dry-spell count after that hour (see _prepare_block).
            for local in range(record_every, stop - start, record_every):
                recorded_index[:, (start + local) // record_every] = result[local - 1]
                recorded_dry[:, (start + local) // record_every] = ws.position[local - 1]
        else:
            out[:, start:stop] = result.T
    if record_every:
        return out.T, m, dry, recorded_index, recorded_dry
    return out, m, dry


def mould_index_2d(
    temp_air: Any,
    relative_humidity: Any,
    state_index: Any = None,
    state_dry_hours: Any = None,
    sensitivity: str | VTTSensitivity = "sensitive",
    decline_coefficient: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""
    Hourly VTT mould index for many surfaces at once.

    Parameters
    ----------
    temp_air : array_like, shape (rooms, hours)
        Surface temperature, one row per surface and one column per hour. [°C]
    relative_humidity : array_like, shape (rooms, hours)
        Surface relative humidity. [%]
    state_index : array_like, shape (rooms,), optional
        Mould index of each surface before the first hour, 0 to 6; zeros if omitted. [-]
    state_dry_hours : array_like, shape (rooms,), optional
        Hours of each surface's current dry spell before the first hour; zeros if omitted. [h]
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class for every row: ``"very_sensitive"``, ``"sensitive"``,
        ``"medium_resistant"`` or ``"resistant"``, or a custom
        :class:`analytics.constants.VTTSensitivity`.
    decline_coefficient : float, default 1.0
        Material decline coefficient C_mat ≥ 0 (1 for the original model; 0.5, 0.25, 0.1 for materials
        that lose mould more slowly). [-]

    Returns
    -------
    mould_index : numpy.ndarray, shape (rooms, hours)
        Mould index at the end of each hour. [-]
    state_index : numpy.ndarray, shape (rooms,)
        Mould index after the last hour, to pass to the next call. [-]
    state_dry_hours : numpy.ndarray of int, shape (rooms,)
        Dry-spell count after the last hour, to pass to the next call. [h]

    Raises
    ------
    ValueError
        If the inputs are not two-dimensional arrays of the same shape, a state array does not have one
        value per row or holds values out of range, ``sensitivity`` is unknown or
        ``decline_coefficient`` is negative.

    Notes
    -----
    The model and hourly convention are those of :func:`mould_index`; row ``i`` of the result is exactly
    ``mould_index_step(temp_air[i], relative_humidity[i], MouldState(state_index[i],
    state_dry_hours[i]), ...)``. Calling this on consecutive stretches of hours, passing the returned
    state on, gives the same numbers as one call on the whole record.

    The recurrence is sequential in time, so the function loops over hours, each step a handful of numpy
    operations across all rows; everything that does not depend on the index (rates, M_max, dry-spell
    phases) is computed for blocks of hours beforehand. Throughput grows with the number of rows up to
    a few thousand and then levels off (about 10 million room-hours per second on one core at 10 000
    rows); the result takes 8 bytes per room-hour, so split very large estates into chunks of rows
    (e.g. 10 000) and, for several cores, run chunks in separate processes. A pandas DataFrame indexed
    by time with one column per surface is (hours, rooms): pass its transpose.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
       Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010:
       Mold growth modeling of building structures using sensitivity classes of materials. Thermal
       Performance of the Exterior Envelopes of Whole Buildings XI. Atlanta: ASHRAE.

    Examples
    --------
    >>> import numpy as np
    >>> index, state_index, state_dry = mould_index_2d(np.full((2, 48), 20.0), [[90.0] * 48, [60.0] * 48])
    >>> [round(float(value), 3) for value in state_index], state_dry.tolist()
    ([0.039, 0.0], [0, 48])
    """
    sens = _sensitivity(sensitivity)
    c_mat = _decline_coefficient(decline_coefficient)
    temp = np.asarray(as_numeric(temp_air, "temp_air"), dtype=float)
    rh = np.asarray(as_numeric(relative_humidity, "relative_humidity"), dtype=float)
    if temp.ndim != 2 or rh.ndim != 2:
        raise ValueError(
            "temp_air and relative_humidity must be two-dimensional (rooms, hours); "
            "use mould_index for a single series"
        )
    if temp.shape != rh.shape:
        raise ValueError(
            f"temp_air has shape {temp.shape} but relative_humidity has shape {rh.shape}; "
            "pass one value per room and hour for both"
        )
    m0, dry0 = _rows_state(temp.shape[0], state_index, state_dry_hours)
    index, m, dry = _mould_index_core(temp, rh, m0, dry0, sens, c_mat)
    return index, m, dry


def _rows_state(rows: int, state_index: Any, state_dry_hours: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check and return the per-row starting state (zeros where omitted)."""
    if state_index is None:
        m0 = np.zeros(rows)
    else:
        m0 = np.asarray(as_numeric(state_index, "state_index"), dtype=float)
    dry0 = np.zeros(rows, dtype=np.int64) if state_dry_hours is None else np.asarray(state_dry_hours)
    for name, state in (("state_index", m0), ("state_dry_hours", dry0)):
        if state.shape != (rows,):
            raise ValueError(
                f"{name} has shape {state.shape} but there are {rows} rooms; "
                "pass one value per row of temp_air"
            )
    _check_state(m0, dry0, "state_")
    return m0, dry0.astype(np.int64)


def mould_index_daily(
    temp_air: Any,
    relative_humidity: Any,
    state_index: Any = None,
    state_dry_hours: Any = None,
    sensitivity: str | VTTSensitivity = "sensitive",
    decline_coefficient: float = 1.0,
    hours_per_day: int = 24,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""
    Hourly VTT mould index for many surfaces, with the state at the start of every day.

    Parameters
    ----------
    temp_air, relative_humidity : array_like, shape (rooms, hours)
        Surface temperature [°C] and relative humidity [%], as for :func:`mould_index_2d`. Arrays stored
        hour-major (the transposes of (hours, rooms) arrays) are read without a transposing copy.
    state_index, state_dry_hours : array_like, shape (rooms,), optional
        State before the first hour; zeros if omitted.
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class, see :func:`mould_index_2d`.
    decline_coefficient : float, default 1.0
        Material decline coefficient C_mat ≥ 0. [-]
    hours_per_day : int, default 24
        Hours from one recorded state to the next. [h]

    Returns
    -------
    mould_index : numpy.ndarray, shape (rooms, hours)
        Mould index at the end of each hour (a view of an hour-major array). [-]
    day_index : numpy.ndarray, shape (rooms, days)
        Mould index at the start of each day (before hour ``day * hours_per_day``). [-]
    day_dry_hours : numpy.ndarray of int, shape (rooms, days)
        Dry-spell count at the start of each day. [h]
    state_index, state_dry_hours : numpy.ndarray, shape (rooms,)
        State after the last hour, to pass to the next call.

    Raises
    ------
    ValueError
        As :func:`mould_index_2d`, or if ``hours_per_day`` is not a positive whole number.

    Notes
    -----
    The numbers are those of :func:`mould_index_2d` (the same core); the recorded states are exactly
    what :func:`mould_index_2d` would return if called one day at a time, so a later run can restart
    from the start of any day. One call costs far less than one call per day.

    Examples
    --------
    >>> import numpy as np
    >>> index, day_index, day_dry, _, _ = mould_index_daily(np.full((1, 48), 20.0), [[90.0] * 24 + [60.0] * 24])
    >>> day_dry.tolist(), round(float(day_index[0, 1]), 4) == round(float(index[0, 23]), 4)
    ([[0, 0]], True)
    """
    if isinstance(hours_per_day, bool) or not isinstance(hours_per_day, int | np.integer) or hours_per_day < 1:
        raise ValueError(f"hours_per_day must be a whole number of hours, 1 or more, got {hours_per_day!r}")
    sens = _sensitivity(sensitivity)
    c_mat = _decline_coefficient(decline_coefficient)
    temp = np.asarray(as_numeric(temp_air, "temp_air"), dtype=float)
    rh = np.asarray(as_numeric(relative_humidity, "relative_humidity"), dtype=float)
    if temp.ndim != 2 or temp.shape != rh.shape:
        raise ValueError(
            f"temp_air and relative_humidity must be (rooms, hours) arrays of the same shape, got "
            f"{temp.shape} and {rh.shape}"
        )
    m0, dry0 = _rows_state(temp.shape[0], state_index, state_dry_hours)
    index, m, dry, day_index, day_dry = _mould_index_core(temp, rh, m0, dry0, sens, c_mat, int(hours_per_day))
    return index, day_index, day_dry, m, dry


def mould_index_step(
    temp_air: Numeric,
    relative_humidity: Numeric,
    state: MouldState | None = None,
    sensitivity: str | VTTSensitivity = "sensitive",
    decline_coefficient: float = 1.0,
) -> tuple[np.ndarray, MouldState]:
    r"""
    Hourly VTT mould index for one surface, continuing from where the last run stopped.

    Parameters
    ----------
    temp_air : numeric
        Surface temperature, one value per hour. [°C]
    relative_humidity : numeric
        Surface relative humidity, one value per hour. [%]
    state : MouldState, optional
        Index and dry-spell count before the first hour; ``MouldState()`` (index 0, no dry spell) if
        omitted.
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class, see :func:`mould_index`.
    decline_coefficient : float, default 1.0
        Material decline coefficient C_mat ≥ 0. [-]

    Returns
    -------
    mould_index : numpy.ndarray
        Mould index at the end of each hour. [-]
    state : MouldState
        Index and dry-spell count after the last hour, to pass to the next call.

    Raises
    ------
    ValueError
        If the two series differ in length, ``state`` is not a :class:`MouldState`, ``sensitivity`` is
        unknown or ``decline_coefficient`` is negative.

    Notes
    -----
    Same model and convention as :func:`mould_index`. Running consecutive stretches of a record, each
    from the state the previous one returned, reproduces one run over the whole record exactly.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
       Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010:
       Mold growth modeling of building structures using sensitivity classes of materials. Thermal
       Performance of the Exterior Envelopes of Whole Buildings XI. Atlanta: ASHRAE.

    Examples
    --------
    >>> monday, state = mould_index_step([20.0] * 24, [95.0] * 24, sensitivity="very_sensitive")
    >>> tuesday, state = mould_index_step([20.0] * 24, [60.0] * 24, state, sensitivity="very_sensitive")
    >>> round(float(monday[-1]), 4), state.dry_spell_hours, round(state.index, 4)
    (0.0721, 24, 0.0641)
    """
    sens = _sensitivity(sensitivity)
    c_mat = _decline_coefficient(decline_coefficient)
    if state is None:
        state = MouldState()
    elif not isinstance(state, MouldState):
        raise ValueError(f"state must be a MouldState (or None to start from zero), got {state!r}")
    temp, rh = _series_pair(temp_air, relative_humidity)
    index, m, dry = _mould_index_core(
        temp[np.newaxis, :],
        rh[np.newaxis, :],
        np.array([state.index]),
        np.array([state.dry_spell_hours], dtype=np.int64),
        sens,
        c_mat,
    )
    return index[0], MouldState(index=float(m[0]), dry_spell_hours=int(dry[0]))


def mould_index(
    temp_air: Numeric,
    relative_humidity: Numeric,
    sensitivity: str | VTTSensitivity = "sensitive",
    decline_coefficient: float = 1.0,
    initial_index: float = 0.0,
) -> np.ndarray:
    r"""
    Hourly VTT mould index of a surface.

    Parameters
    ----------
    temp_air : numeric
        Surface temperature, one value per hour in time order. [°C]
    relative_humidity : numeric
        Surface relative humidity, one value per hour. [%]
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material sensitivity class of Ojanen et al. [2]_: ``"very_sensitive"`` (pine sapwood),
        ``"sensitive"`` (the usual choice for painted plaster and plasterboard), ``"medium_resistant"``
        or ``"resistant"``; or a custom :class:`analytics.constants.VTTSensitivity`.
    decline_coefficient : float, default 1.0
        Material decline coefficient C_mat ≥ 0: 1 for the original model; 0.5, 0.25 or 0.1 for materials
        on which mould recedes more slowly in dry spells [2]_. [-]
    initial_index : float, default 0.0
        Mould index before the first hour, 0 to 6; the dry-spell count starts at 0. [-]

    Returns
    -------
    mould_index : numpy.ndarray
        Mould index at the end of each hour, one value per input hour (a plain array even for a Series
        input: wrap it with ``pd.Series(result, index=temp_air.index)``). [-]

    Raises
    ------
    ValueError
        If the two series differ in length, ``sensitivity`` is unknown, ``decline_coefficient`` is
        negative or ``initial_index`` is outside 0 to 6.

    Notes
    -----
    The model of Hukka and Viitanen [1]_ with the sensitivity classes and decline coefficient of Ojanen
    et al. [2]_, stepped one hour at a time by explicit Euler:

    .. math:: M_{h} = \max\left(0,\; M_{h-1} + \Delta M(T_h, RH_h, M_{h-1})\right)

    In a favourable hour (0 < T < 50 °C and RH ≥ RH_crit(T), see :func:`critical_relative_humidity`)

    .. math::

        \Delta M = \frac{1}{24}\,\frac{k_1\,k_2}{7 \exp(-0.68 \ln T - 13.9 \ln RH + 66.02)}, \quad
        k_2 = \max\left(1 - e^{2.3 (M_{h-1} - M_{max})}, 0\right)

    with k1 chosen by whether :math:`M_{h-1} < 1` and M_max from :func:`maximum_mould_index`. In any other
    hour with data, the n-th hour of a dry spell gives

    .. math::

        \Delta M = -\frac{C_{mat}}{24} \times
        \begin{cases} 0.032 & n \le 6 \\ 0 & 6 < n \le 24 \\ 0.016 & n > 24 \end{cases}

    A favourable hour ends the dry spell; the count runs on while M is 0. A missing hour (NaN in either
    input) holds M and the count. Because the step is explicit and small (at most about 0.03 per hour),
    M approaches M_max from below without overshooting it.

    The model was fitted to wood and extended to building materials by the sensitivity classes; it is
    driven by surface conditions at 0-50 °C and takes hourly data. Forgetting the /24 on hourly data
    would make growth 24 times too fast.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
       Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010:
       Mold growth modeling of building structures using sensitivity classes of materials. Thermal
       Performance of the Exterior Envelopes of Whole Buildings XI. Atlanta: ASHRAE.

    Examples
    --------
    >>> index = mould_index([20.0] * 24, [90.0] * 24, sensitivity="very_sensitive")
    >>> round(float(index[0] * 24), 5)
    0.03399
    """
    try:
        start = float(initial_index)
    except (TypeError, ValueError):
        start = float("nan")
    if not 0.0 <= start <= VTT_INDEX_MAX:
        raise ValueError(
            f"initial_index must be a number from 0 to {VTT_INDEX_MAX:g} (the VTT mould index scale), "
            f"got {initial_index!r}; start from 0 when nothing is known"
        )
    index, _ = mould_index_step(
        temp_air, relative_humidity, MouldState(index=start), sensitivity, decline_coefficient
    )
    return index


def days_to_mould_index(
    index_now: Numeric,
    rise: Numeric,
    target: float,
    window_days: float = 14.0,
    sensitivity: str | VTTSensitivity = "sensitive",
) -> Any:
    r"""
    Days until the mould index reaches ``target`` if the last window's conditions continue.

    Parameters
    ----------
    index_now : numeric
        Mould index now. [-]
    rise : numeric
        Its change over the last ``window_days`` (net of growth and decline). [-]
    target : float
        Index to reach: 1 (growth under a microscope) or 3 (visible patches). [-]
    window_days : float, default 14
        Length of the window the rise was measured over. [d]
    sensitivity : str or VTTSensitivity, default "sensitive"
        Material class; its two growth coefficients k1 set how the rate changes when the index passes 1.

    Returns
    -------
    numeric
        Days (0 when the index is already there, ``inf`` when it is not rising). NaN where an input is NaN.

    Notes
    -----
    The window's mean rate :math:`r = \Delta M / t_w` is taken to continue; as in the VTT model, growth from
    an index of 1 on runs at :math:`k_{1,\ge 1}/k_{1,<1}` times the rate below 1 (0.386/0.578 for sensitive
    materials, 2 for very sensitive ones):

    .. math::

        t = \frac{\min(1, M_t) - M}{r} + \frac{M_t - \max(1, M)}{r\,k_{1,\ge 1}/k_{1,<1}}

    with each term counted only when positive, and the rate measured below 1 scaled likewise when the index
    is already above 1. The slowing of growth near the highest index the conditions allow (:math:`k_2`)
    is not modelled, so the figure is a lower bound on the time: an early warning, not a forecast.

    References
    ----------
    .. [1] Ojanen, T. et al. (2010). Mold growth modeling of building structures using sensitivity classes
       of materials. Proceedings of Buildings XI, ASHRAE.

    Examples
    --------
    >>> float(days_to_mould_index(0.5, 0.35, 1.0))
    20.0
    """
    if not window_days > 0:
        raise ValueError("window_days must be positive: give the length of the window the rise was measured over")
    classes = _sensitivity(sensitivity)
    ratio = classes.k1_from_one / classes.k1_below_one
    m = np.asarray(index_now, dtype=float)
    r = np.asarray(rise, dtype=float) / window_days
    with np.errstate(divide="ignore", invalid="ignore"):
        # The rate below and from 1, whichever side it was measured on.
        below = np.where(m < 1.0, r, r / ratio)
        above = below * ratio
        first = np.maximum(np.minimum(1.0, target) - m, 0.0) / below
        second = np.maximum(target - np.maximum(1.0, m), 0.0) / above
        days = np.where(m >= target, 0.0, np.where(r > 0, first + second, np.inf))
    days = np.where(np.isfinite(m) & np.isfinite(r), days, np.nan)
    return days if days.ndim else float(days)
