"""A prior for the temperature factor f_Rsi of a room's coldest wall, from what an asset register holds.

The register says a home's wall type, build year and floor; the RdSAP tables give the U-value of such a
wall as built, and BS EN ISO 13788 relates the U-value to the inside surface temperature. A room's own
figure (a survey) always wins over this prior, and the prior over the UK design value of 0.75.

The data can then refine the factor: a room that cools clearly faster than the rest of its home when the
heating goes off loses more heat through its walls, so they are colder (:func:`refined_temperature_factor`).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

__all__ = [
    "COLD_SPOT_MAX_FACTOR",
    "INTERNAL_SURFACE_RESISTANCE_M2K_W",
    "heat_loss_ratio",
    "refined_temperature_factor",
    "temperature_factor_prior",
    "wall_u_value",
]

INTERNAL_SURFACE_RESISTANCE_M2K_W: Final = 0.13
"""Internal surface resistance, horizontal heat flow (BS EN ISO 6946:2017, Table 7). [m²K/W]"""

COLD_SPOT_MAX_FACTOR: Final = 0.80
"""The cold spot is a junction (a corner, a lintel, a floor edge), never as warm as the plain wall: the prior
is capped here, a little above the 0.75 that BRE IP1/06 sets as the design limit for junctions. [-]"""

GROUND_FLOOR_PENALTY: Final = 0.02
"""Taken off on the ground floor (floor level 0), where the wall meets an often uninsulated floor. [-]"""

# U-values of walls as built [W/(m²K)], after the RdSAP 10 tables for England (S5/S6: solid brick 2.1;
# cavity as built 1.6 to 1975, 1.0 to 1982, 0.6 to 1990, 0.45 to 2002, 0.35 after; filled cavity 0.5;
# system built 2.0 to 1975, 1.0 after; timber frame 0.8 to 1975, 0.45 after). (wall type, last year, U).
_U_VALUES: Final = {
    "solid_brick": ((9999, 2.1),),
    "cavity_unfilled": ((1975, 1.6), (1982, 1.0), (1990, 0.6), (2002, 0.45), (9999, 0.35)),
    "cavity_filled": ((2002, 0.5), (9999, 0.35)),
    "system_built": ((1975, 2.0), (9999, 1.0)),
    "timber_frame": ((1975, 0.8), (9999, 0.45)),
}


def wall_u_value(wall_type: str | None, build_year: float | None) -> float:
    """U-value of a wall as built, from its type and build year; NaN for an unknown type. [W/(m²K)]

    An unknown build year takes the oldest band (the cautious choice).
    """
    bands = _U_VALUES.get(str(wall_type or "").strip().lower())
    if bands is None:
        return math.nan
    year = float(build_year) if build_year is not None and math.isfinite(float(build_year)) else 0.0
    for last_year, u_value in bands:
        if year <= last_year:
            return u_value
    return bands[-1][1]


def temperature_factor_prior(wall_type: str | None, build_year: float | None, floor_level: float | None,
                             r_si: float = INTERNAL_SURFACE_RESISTANCE_M2K_W) -> float:
    """Prior f_Rsi of a room's coldest wall from the archetype; NaN when the wall type is unknown.

    Parameters
    ----------
    wall_type : str or None
        ``solid_brick``, ``cavity_unfilled``, ``cavity_filled``, ``system_built`` or ``timber_frame``.
    build_year : float or None
        Year built. [-]
    floor_level : float or None
        0 for the ground floor; None for a house (taken as having a ground floor room too).
    r_si : float, default 0.13
        Internal surface resistance. [m²K/W]

    Returns
    -------
    float
        ``min(1 - r_si U, 0.80)``, less 0.02 on the ground floor. [-]

    Notes
    -----
    For a plain wall in steady state the inside surface sits :math:`R_{si} U (\\theta_i - \\theta_e)` below
    the room air, so :math:`f_{Rsi} = 1 - R_{si} U` (BS EN ISO 13788:2012, clause 3 and Annex A).
    Solid brick (U 2.1) gives 0.73, an unfilled 1960s cavity (1.6) 0.79.

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
    .. [2] BRE Information Paper IP1/06, Assessing the effects of thermal bridging at junctions and around
       openings (2006).
    .. [3] BRE, RdSAP 10 specification, Tables S5-S6 (wall U-values by age band), 2023.
    """
    u_value = wall_u_value(wall_type, build_year)
    if not math.isfinite(u_value):
        return math.nan
    factor = min(1.0 - r_si * u_value, COLD_SPOT_MAX_FACTOR)
    if floor_level is None or (isinstance(floor_level, float) and math.isnan(floor_level)) or int(floor_level) == 0:
        factor -= GROUND_FLOOR_PENALTY
    return float(np.clip(factor, 0.3, 1.0))


WALL_SHARE_OF_ROOM_LOSS: Final = 0.5
"""Share of a room's heat loss that goes through its walls, the rest through windows, floor, ceiling and air
change (the Energy Saving Trust puts the walls at about a third of an uninsulated home's loss; a room with
external walls loses more of its heat through them). [-]"""

REFINE_MIN_RATIO: Final = 1.25
"""A room must cool at least this much faster than the median room of its home before its temperature factor
is lowered: smaller differences are within what windows, doors and sensor placement cause. [-]"""

MIN_REFINED_FACTOR: Final = 0.35
"""The lowest temperature factor a refinement gives (a solid wall's worst junctions). [-]"""


def heat_loss_ratio(heat_loss_index: np.ndarray, property_index: np.ndarray, n_properties: int) -> np.ndarray:
    """Each room's heat-loss index over the median of its home's rooms (NaN without two rooms to compare).

    Parameters
    ----------
    heat_loss_index : numpy.ndarray
        Cooling rate of each room when the heating is off, as a share of the indoor-outdoor difference. [1/h]
    property_index : numpy.ndarray of int
        The property (0 to n_properties - 1) of each room.
    n_properties : int
        Number of properties.
    """
    values = np.asarray(heat_loss_index, dtype=float)
    group = np.asarray(property_index)
    median = np.full(n_properties, np.nan)
    finite = np.isfinite(values)
    counts = np.bincount(group[finite], minlength=n_properties)
    for p in np.flatnonzero(counts >= 2):
        median[p] = np.median(values[finite & (group == p)])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio: np.ndarray = values / median[group]
    return ratio


def refined_temperature_factor(prior: np.ndarray, ratio: np.ndarray,
                               wall_share: float = WALL_SHARE_OF_ROOM_LOSS) -> np.ndarray:
    r"""A room's temperature factor lowered where it loses heat clearly faster than the rest of its home.

    Parameters
    ----------
    prior : numpy.ndarray
        The factor from the register, the archetype or the design value. [-]
    ratio : numpy.ndarray
        :func:`heat_loss_ratio` of each room (NaN where unknown). [-]
    wall_share : float, default 0.5
        Share of a room's heat loss through its walls. [-]

    Returns
    -------
    numpy.ndarray
        The prior where the ratio is unknown or below :data:`REFINE_MIN_RATIO`; else
        :math:`1 - (1 - f) \left(1 + (r - 1)/s\right)`, never above the prior nor below 0.35.

    Notes
    -----
    Conduction through a wall scales with its U-value, and :math:`1 - f_{Rsi} = R_{si} U` (BS EN ISO 13788),
    so if a share :math:`s` of the room's loss goes through its walls, a room losing heat :math:`r` times as
    fast as its neighbours has walls with :math:`1 + (r - 1)/s` times their :math:`1 - f_{Rsi}`.

    Examples
    --------
    >>> float(refined_temperature_factor(np.array([0.75]), np.array([1.5]))[0])
    0.5
    """
    prior = np.asarray(prior, dtype=float)
    ratio = np.asarray(ratio, dtype=float)
    with np.errstate(invalid="ignore"):
        scaled = 1.0 - (1.0 - prior) * (1.0 + (ratio - 1.0) / wall_share)
        refined = np.where(ratio >= REFINE_MIN_RATIO, np.clip(scaled, MIN_REFINED_FACTOR, prior), prior)
    return np.where(np.isfinite(refined), refined, prior)
