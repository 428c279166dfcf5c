"""Excess cold and excess heat in a room, from its hourly temperatures: the HHSRS hazards 2 and 3.

Cold is judged by the share of the room's occupied hours below two thresholds: 18 °C, which the WHO
Housing and health guidelines [1]_ give as a safe and well-balanced indoor temperature for the general
population in the cold season, and 16 °C, below which the review behind England's cold-weather advice [2]_
found raised respiratory risk. Heat follows CIBSE TM59 [3]_ for homes: (a) living rooms, kitchens and
bedrooms should not exceed the adaptive upper limit of BS EN 15251 category II (CIBSE TM52 [4]_) by 1 K or
more for more than 3 % of occupied hours (May to September); (b) bedrooms should not be above 26 °C for more
than 1 % of the hours from 22:00 to 07:00 (32 hours a year).

Sensors measure air temperature; TM59 asks for operative temperature, which in a room without strong
radiant sources is close to it. Treat the result as a screening signal for an inspector, not a TM59
compliance calculation (that is a design-stage simulation).

Every function takes floats, numpy arrays or pandas Series and lets NaN through; none does I/O.

References
----------
.. [1] World Health Organization (2018). WHO Housing and health guidelines, recommendation 3.1.
   ISBN 978-92-4-155037-6. https://www.who.int/publications/i/item/9789241550376
.. [2] Public Health England (2014). Minimum home temperature thresholds for health in winter: a systematic
   literature review. https://www.gov.uk/government/publications/minimum-home-temperature-thresholds-for-health-in-winter
.. [3] CIBSE (2017). TM59: Design methodology for the assessment of overheating risk in homes.
   ISBN 978-1-912034-17-1.
.. [4] CIBSE (2013). TM52: The limits of thermal comfort: avoiding overheating in European buildings.
   ISBN 978-1-906846-34-3; the adaptive limits of BS EN 15251:2007, annex A.
.. [5] CIBSE (2006). Guide A: Environmental design, 7th edition: the static overheating criterion for living
   areas of dwellings (operative temperature above 28 °C for at most 1 % of annual occupied hours), which TM59
   replaced for design; used here only where no outdoor temperature is measured for the adaptive limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

__all__ = [
    "COLD_THRESHOLD_HEALTHY_C",
    "COLD_THRESHOLD_RESPIRATORY_C",
    "GUIDE_A_LIVING_LIMIT_C",
    "TM59_BEDROOM_NIGHT_LIMIT_C",
    "ThermalAssessment",
    "adaptive_upper_limit",
    "assess_room",
    "exceedance_delta",
    "occupied_hours_mask",
    "running_mean_outdoor_temperature",
    "static_overheating",
    "tm59_criterion_a",
    "tm59_criterion_b",
]

COLD_THRESHOLD_HEALTHY_C: Final = 18.0
"""WHO (2018) [1]_: a safe and well-balanced indoor temperature in the cold season. [°C]"""
COLD_THRESHOLD_RESPIRATORY_C: Final = 16.0
"""PHE (2014) [2]_: below this, raised risk of respiratory illness. [°C]"""
RUNNING_MEAN_ALPHA: Final = 0.8
"""TM52 / BS EN 15251: the weight of yesterday's running mean in today's. [-]"""
ADAPTIVE_SLOPE: Final = 0.33
ADAPTIVE_COMFORT_OFFSET_C: Final = 18.8
"""Comfort temperature = 0.33 θrm + 18.8 (BS EN 15251 annex A; TM52 eq. 2). [°C]"""
CATEGORY_MARGIN_K: Final = {"I": 2.0, "II": 3.0, "III": 4.0}
"""Upper limit above the comfort temperature per building category; TM59 uses II (normal expectation). [K]"""
TM59_A_SHARE: Final = 0.03
"""TM59 criterion (a): at most 3 % of occupied hours with ΔT ≥ 1 K."""
TM59_BEDROOM_NIGHT_LIMIT_C: Final = 26.0
"""TM59 criterion (b): bedroom temperature not to exceed this ... [°C]"""
TM59_B_SHARE: Final = 0.01
"""... for more than 1 % of the night hours (22:00-07:00): 32 hours over a year of 3285 night hours."""
GUIDE_A_LIVING_LIMIT_C: Final = 28.0
"""CIBSE Guide A (2006) [5]_: living areas of dwellings not above this ... [°C]"""
GUIDE_A_SHARE: Final = 0.01
"""... for more than 1 % of occupied hours."""
TM59_SEASON_MONTHS: Final = (5, 6, 7, 8, 9)
"""TM59 assesses May to September."""

#: TM59's occupancy profiles, as (first hour, hour after the last) in local time: living rooms and kitchens
#: 09:00-22:00; bedrooms are occupied all day for criterion (a) and 22:00-07:00 for (b).
OCCUPIED_HOURS: Final[dict[str, tuple[int, int]]] = {
    "living_room": (9, 22), "kitchen": (9, 22), "bedroom": (0, 24), "other": (9, 22),
}
NIGHT_HOURS: Final = (22, 7)


def running_mean_outdoor_temperature(daily_mean_outdoor: Any, alpha: float = RUNNING_MEAN_ALPHA,
                                     initial: float | None = None) -> Any:
    """Exponentially weighted running mean of the daily mean outdoor temperature.

    Parameters
    ----------
    daily_mean_outdoor : numeric
        Daily mean outdoor air temperatures, oldest first. [°C]
    alpha : float, default 0.8
        Weight of the previous day's running mean, 0 <= alpha < 1.
    initial : float, optional
        The running mean before the first day; default: the first day's mean (the series starts steady).

    Returns
    -------
    numeric
        θrm for each day, computed from the days *before* it. [°C]

    Notes
    -----
    θrm(d) = (1 - α) θed(d-1) + α θrm(d-1) (CIBSE TM52 eq. 1; BS EN 15251 annex A). A NaN day carries the
    previous running mean forward unchanged.

    Examples
    --------
    >>> float(running_mean_outdoor_temperature([15.0, 15.0, 15.0])[-1])
    15.0
    """
    if not 0 <= alpha < 1:
        raise ValueError("alpha must be at least 0 and below 1 (TM52 uses 0.8)")
    index = daily_mean_outdoor.index if isinstance(daily_mean_outdoor, pd.Series) else None
    values = np.asarray(daily_mean_outdoor, dtype=float)
    out = np.full(values.shape, np.nan)
    if values.size == 0:
        return pd.Series(out, index=index) if index is not None else out
    previous_rm = values[0] if initial is None else float(initial)
    previous_day = values[0] if initial is None else np.nan
    for i in range(values.size):
        if (i > 0 or initial is not None) and not np.isnan(previous_day):
            previous_rm = (1 - alpha) * previous_day + alpha * previous_rm
        out[i] = previous_rm
        previous_day = values[i]
    return pd.Series(out, index=index) if index is not None else out


def adaptive_upper_limit(running_mean: Any, category: str = "II") -> Any:
    """The adaptive maximum acceptable temperature for free-running buildings.

    Parameters
    ----------
    running_mean : numeric
        Running mean outdoor temperature θrm. [°C]
    category : {"I", "II", "III"}
        BS EN 15251 building category; TM59 uses "II".

    Returns
    -------
    numeric
        Tmax = 0.33 θrm + 18.8 + margin (3 K for category II: Tmax = 0.33 θrm + 21.8). [°C]

    Examples
    --------
    >>> round(float(adaptive_upper_limit(15.0)), 2)
    26.75
    """
    if category not in CATEGORY_MARGIN_K:
        raise ValueError("category must be 'I', 'II' or 'III' (TM59 uses 'II')")
    value = np.asarray(running_mean, dtype=float) * ADAPTIVE_SLOPE + ADAPTIVE_COMFORT_OFFSET_C \
        + CATEGORY_MARGIN_K[category]
    return pd.Series(value, index=running_mean.index) if isinstance(running_mean, pd.Series) else value


def exceedance_delta(temperature: Any, upper_limit: Any) -> Any:
    """ΔT = T - Tmax rounded to a whole kelvin, halves away from zero (TM52: 0.5 to 1.5 K counts as 1 K). [K]"""
    difference = np.asarray(temperature, dtype=float) - np.asarray(upper_limit, dtype=float)
    rounded = np.sign(difference) * np.floor(np.abs(difference) + 0.5)
    return pd.Series(rounded, index=temperature.index) if isinstance(temperature, pd.Series) else rounded


def tm59_criterion_a(temperature: Any, upper_limit: Any) -> tuple[int, int, bool]:
    """TM59 (a): (hours with ΔT >= 1 K, hours assessed, passes: at most 3 % of them). NaN hours are not assessed."""
    t = np.asarray(temperature, dtype=float)
    limit = np.broadcast_to(np.asarray(upper_limit, dtype=float), t.shape)
    valid = ~(np.isnan(t) | np.isnan(limit))
    delta = exceedance_delta(t[valid], limit[valid])
    hours = int(valid.sum())
    exceeding = int(np.sum(delta >= 1))
    return exceeding, hours, exceeding <= TM59_A_SHARE * hours


def tm59_criterion_b(night_temperature: Any, annual_night_hours: int | None = None) -> tuple[int, int, bool]:
    """TM59 (b): (night hours above 26 °C, the allowance, passes).

    The allowance is 1 % of the night hours assessed, rounded down (32 for a full year's 3285 night hours);
    ``annual_night_hours`` sets it from a different count (for a season, give that season's night hours).
    """
    t = np.asarray(night_temperature, dtype=float)
    assessed = int((~np.isnan(t)).sum()) if annual_night_hours is None else int(annual_night_hours)
    allowance = int(np.floor(TM59_B_SHARE * assessed + 1e-9))
    above = int(np.sum(t > TM59_BEDROOM_NIGHT_LIMIT_C))
    return above, allowance, above <= allowance


def static_overheating(temperature: Any, limit_c: float = GUIDE_A_LIVING_LIMIT_C,
                       share: float = GUIDE_A_SHARE) -> tuple[int, int, bool]:
    """The static overheating criterion of CIBSE Guide A [5]_ for a living area.

    Parameters
    ----------
    temperature : numeric
        Hourly temperatures of the occupied hours (NaN: not assessed). [°C]
    limit_c : float, default 28.0
        The temperature not to be exceeded for more than ``share`` of the hours. [°C]
    share : float, default 0.01
        The share of the assessed hours allowed above ``limit_c``. [-]

    Returns
    -------
    tuple of (int, int, bool)
        Hours above the limit, hours assessed, and whether the room passes (at most ``share`` of them).

    Examples
    --------
    >>> static_overheating([27.0, 28.0, 28.5, float("nan")])
    (1, 3, False)
    """
    t = np.asarray(temperature, dtype=float)
    valid = ~np.isnan(t)
    hours = int(valid.sum())
    above = int(np.sum(t[valid] > limit_c))
    return above, hours, above <= share * hours


def occupied_hours_mask(local_hours: Any, room_type: str, *, night: bool = False) -> np.ndarray:
    """True for the hours (0-23, local time) TM59 counts a room of ``room_type`` as occupied (or its night)."""
    hours = np.asarray(local_hours, dtype=int)
    if night:
        start, end = NIGHT_HOURS
        return (hours >= start) | (hours < end)
    start, end = OCCUPIED_HOURS.get(room_type, OCCUPIED_HOURS["other"])
    return (hours >= start) & (hours < end)


@dataclass
class ThermalAssessment:
    """A room's cold and heat figures over a window, with the verdicts an alarm and a person read."""

    room_type: str
    hours_assessed: int
    share_below_healthy: float | None  # share of occupied hours below 18 °C
    share_below_respiratory: float | None  # ... below 16 °C
    cold: str  # "none", "medium" (mostly below 18 °C), "high" (much below 16 °C), "unknown"
    tm59_a: tuple[int, int, bool] | None = None
    tm59_b: tuple[int, int, bool] | None = None
    heat: str = "none"  # "none", "medium" (one criterion failed), "high" (both), "unknown"
    figures: dict[str, float] = field(default_factory=dict)


def assess_room(hourly_temperature: pd.Series, room_type: str, *, outdoor_daily_mean: pd.Series | None = None,
                cold_healthy_c: float = COLD_THRESHOLD_HEALTHY_C,
                cold_respiratory_c: float = COLD_THRESHOLD_RESPIRATORY_C, cold_share: float = 0.5,
                cold_high_share: float = 0.25, timezone: str = "Europe/London") -> ThermalAssessment:
    """Cold and heat in one room from its hourly mean temperatures (index: tz-aware hour starts).

    Cold: ``medium`` when at least ``cold_share`` of the occupied hours are below ``cold_healthy_c``;
    ``high`` when at least ``cold_high_share`` are below ``cold_respiratory_c``. Heat (TM59): criterion (a)
    against the adaptive limit when ``outdoor_daily_mean`` is given (daily means indexed by London date),
    criterion (b) for bedrooms; ``medium`` when one fails, ``high`` when both fail.
    """
    if not isinstance(hourly_temperature.index, pd.DatetimeIndex) or hourly_temperature.index.tz is None:
        raise ValueError("hourly_temperature needs a tz-aware DatetimeIndex (hour starts in UTC)")
    local = hourly_temperature.index.tz_convert(timezone)
    temps = hourly_temperature.to_numpy(dtype=float)
    occupied = occupied_hours_mask(local.hour, room_type)
    valid = occupied & ~np.isnan(temps)
    assessed = int(valid.sum())
    if assessed == 0:
        return ThermalAssessment(room_type, 0, None, None, "unknown", heat="unknown")
    below_healthy = float(np.sum(temps[valid] < cold_healthy_c) / assessed)
    below_resp = float(np.sum(temps[valid] < cold_respiratory_c) / assessed)
    cold = "high" if below_resp >= cold_high_share else ("medium" if below_healthy >= cold_share else "none")
    result = ThermalAssessment(room_type, assessed, below_healthy, below_resp, cold)
    result.figures = {"mean_occupied_c": float(np.nanmean(temps[valid])), "max_c": float(np.nanmax(temps))}
    failures = 0
    judged = False
    if outdoor_daily_mean is not None and len(outdoor_daily_mean):
        running = running_mean_outdoor_temperature(outdoor_daily_mean.sort_index())
        limits = adaptive_upper_limit(running)
        days = pd.Index(local.date)
        upper = pd.Series(limits.to_numpy(), index=pd.Index(outdoor_daily_mean.sort_index().index)).reindex(days)
        result.tm59_a = tm59_criterion_a(np.where(occupied, temps, np.nan), upper.to_numpy(dtype=float))
        judged = judged or result.tm59_a[1] > 0
        failures += int(result.tm59_a[1] > 0 and not result.tm59_a[2])
    if room_type == "bedroom":
        night = occupied_hours_mask(local.hour, room_type, night=True)
        result.tm59_b = tm59_criterion_b(np.where(night, temps, np.nan))
        judged = True
        failures += int(not result.tm59_b[2])
    result.heat = "unknown" if not judged else ("high" if failures >= 2 else "medium" if failures == 1 else "none")
    return result
