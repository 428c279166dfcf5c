"""Typical UK outdoor conditions by time of year, for homes with no outdoor sensor and no weather file.

The cold-spot estimate needs the outdoor temperature (it sets how cold the coldest wall gets) and the
vapour pressure excess needs the outdoor humidity. When neither an outdoor sensor nor an imported weather
file covers a home, DampWatch falls back on the monthly climatology below and says so in the reasons: the
risk is then a guide for an average month, without the cold snaps that drive condensation.

References
----------
.. [1] Met Office Hadley Centre: HadCET, Central England Temperature monthly means, averages for
   1991-2020 (rounded to 0.1 °C; check against the current Met Office release before quoting).
.. [2] Met Office: UK climate averages 1991-2020, mean relative humidity, averaged over lowland
   stations of England and Wales (rounded to whole percent; check before quoting).
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = [
    "UK_MONTHLY_HUMIDITY_PCT",
    "UK_MONTHLY_TEMPERATURE_C",
    "climatology",
]

UK_MONTHLY_TEMPERATURE_C: Final = (4.9, 5.1, 6.9, 9.1, 12.3, 15.2, 17.4, 17.1, 14.6, 11.1, 7.6, 5.2)
"""Mean outdoor air temperature by calendar month, January first, central England 1991-2020 [1]_. [°C]"""

UK_MONTHLY_HUMIDITY_PCT: Final = (87.0, 84.0, 80.0, 76.0, 74.0, 74.0, 74.0, 76.0, 79.0, 83.0, 86.0, 88.0)
"""Mean outdoor relative humidity by calendar month, January first, lowland England and Wales
1991-2020 [2]_. [%]"""

_SECONDS_PER_DAY = 86_400
_DAYS_PER_YEAR = 365.2425
# Mid-month positions as fractions of a year, with December before January and January after December
# so that interpolation wraps round the year end.
_MID_MONTH_FRACTION = (np.arange(12) + 0.5) / 12.0


def _interpolate_monthly(year_fraction: np.ndarray, monthly: tuple[float, ...]) -> np.ndarray:
    """Linear interpolation between mid-month values, wrapping round the year."""
    x = np.concatenate(([_MID_MONTH_FRACTION[-1] - 1.0], _MID_MONTH_FRACTION, [_MID_MONTH_FRACTION[0] + 1.0]))
    y = np.concatenate(([monthly[-1]], monthly, [monthly[0]]))
    values: np.ndarray = np.interp(year_fraction, x, y)
    return values


def climatology(hours_utc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""
    Typical UK outdoor temperature and relative humidity for given hours.

    Parameters
    ----------
    hours_utc : array_like of int
        Start of each hour as whole hours since 1970-01-01 00:00 UTC (``epoch_seconds // 3600``).

    Returns
    -------
    temperature : numpy.ndarray
        Outdoor air temperature, same shape as ``hours_utc``. [°C]
    relative_humidity : numpy.ndarray
        Outdoor relative humidity, same shape. [%]

    Notes
    -----
    The monthly means of :data:`UK_MONTHLY_TEMPERATURE_C` and :data:`UK_MONTHLY_HUMIDITY_PCT` are placed
    at the middle of each month and interpolated linearly between them (a smooth year, without the
    step at each month's end). There is no daily cycle and no weather: a cold week is not in it, so risk
    computed from it underestimates condensation in cold spells.

    Examples
    --------
    >>> import numpy as np
    >>> t, rh = climatology(np.array([491_256]))  # 2026-01-16 00:00 UTC, mid-January
    >>> round(float(t[0]), 1), round(float(rh[0]))
    (4.9, 87)
    """
    hours = np.asarray(hours_utc, dtype=np.int64)
    days = hours / 24.0
    # Days since 1970-01-01 → fraction of the year since 1 January (a mean year; within a day of the
    # calendar, which is far finer than monthly means resolve).
    year_fraction = np.mod(days, _DAYS_PER_YEAR) / _DAYS_PER_YEAR
    return (
        _interpolate_monthly(year_fraction, UK_MONTHLY_TEMPERATURE_C),
        _interpolate_monthly(year_fraction, UK_MONTHLY_HUMIDITY_PCT),
    )
