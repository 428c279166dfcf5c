"""Damp and mould risk per room and per property, from room features: score, band, driver room and cause.

Everything here works on arrays, one value per room (or per property), so that a whole estate is judged
in a few numpy operations. The words that explain a result live in :mod:`analytics.wording`.

The physics score
-----------------
A room's score, 0 to 100, adds four parts, each capped:

* up to 40 points for the mould index at the cold spot now (40 at an index of 3, visible growth);
* up to 40 for the share of hours with data in which the cold spot was above 80 % relative humidity
  (40 at 60 % of the hours);
* up to 10 for the rise of the mould index over the window (10 for a rise of 0.5 in 14 days);
* up to 10 for the share of hours the room air was above 70 % (10 at 60 % of the hours).

Past their caps, up to 20 more points as the mould index climbs from 3 to 6, and the trend and damp share
beyond theirs, keep ordering the worst rooms; above 60 points :func:`soft_cap` bends the sum so that it
approaches 100 without reaching it: homes at the top of the list never tie.

A property's score is that of its highest-scoring room with enough data, the *driver room*. The bands
are ``low`` below 25, ``medium`` from 25, ``high`` from 50 and ``critical`` from 75
(:data:`BAND_THRESHOLDS`).

Missing data
------------
A room has enough data when its sensor covered at least 60 % of the window's hours and sent a reading in
the last 48 hours (:data:`MIN_COVERAGE`, :data:`SILENT_AFTER_HOURS`). A property gets the band
``insufficient data`` when no room has enough data, or when a room lacks it and the others would put
the home in ``low`` or ``medium``: a silent sensor never makes a home look safe. A home already ``high``
or ``critical`` from the rooms that did report keeps that band (a missing room cannot make it safer).

Causes
------
For properties in ``medium`` or above, every cause of :data:`core.causes.CAUSES` gets a weight of
evidence from 0 to 1, and the strongest is named (the runner-up too when it is close:
:data:`RUNNER_UP_SHARE`). The evidence:

* ``under_heating``: how far the home's mean falls below 17.5 °C (1 at 14.5 °C), or how far the share of
  hours its rooms were below 16 °C tops a quarter (1 at three quarters), whichever is larger;
* ``leak``: one room's daily lowest vapour pressure excess above the median of the home's rooms (0 at
  75 Pa, 1 at 300 Pa) and how steadily it stays there (humid day and night, without the rise and fall of
  washing and cooking); discounted when that room is the wet room whose ventilation is slow, unless the
  excess is far larger than slow clearing explains. A leak that is not steady (a heating pipe, a waste
  joint) shows instead as a bathroom or kitchen far more humid on average than the home's other rooms
  (:data:`WET_LEAK_EXCESS_PA`) while those stay dry against it (:data:`WET_LEAK_RATIO`): slow clearing of
  steam spreads into the whole home, a leak mostly wets its own room, so the slow clearing of that room
  is then put down to the leak;
* ``poor_ventilation``: the share of a moisture event's rise still in the air two hours after its peak,
  against the wet room's limit (:data:`VENTILATION_REMAINING_POOR`; 0 at 40 % of the limit, 1 at the
  limit); discounted when the same room's steady excess is a leak's;
* ``high_moisture_load``: the BS EN ISO 13788 humidity class of the home (without its steadiest humid room when that
  looks like a leak)
  (0 at class 2, 1 at 4.5), discounted by half the ventilation evidence (slow clearing raises it too);
* ``cold_fabric``: the remaining explanation, 0.3 when the driver room's air is not humid, plus up to 0.5
  when the room's temperature factor (register or archetype prior) is below the 0.75 design value.

Under-heating without damp evidence (band ``low``) is reported as a cold-home hazard, not as a damp cause.

The thresholds were set from simulated homes with known causes and are meant to be revisited against
inspection records.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

from analytics.features import RoomFeatures
from core.causes import CAUSES as CAUSE_CODES

__all__ = [
    "BANDS",
    "BAND_THRESHOLDS",
    "CAUSES",
    "INSUFFICIENT_DATA",
    "Assessment",
    "RoomTable",
    "assess",
    "band_of",
    "final_band",
    "room_score",
    "ventilation_score",
]

BANDS: Final = ("low", "medium", "high", "critical")
"""Risk bands, least to most urgent."""

INSUFFICIENT_DATA: Final = "insufficient data"
"""The band of a room or property whose sensors are silent or too sparse to judge."""

BAND_THRESHOLDS: Final = (25.0, 50.0, 75.0)
"""Lowest score of ``medium``, ``high`` and ``critical``."""

CAUSES: Final = CAUSE_CODES
"""Likely causes a property can be given (the simulator and inspection records use the same codes)."""

WET_ROOM_TYPES: Final = ("bathroom", "kitchen")

MIN_COVERAGE: Final = 0.6
"""Share of the window's hours a room's sensor must cover for the room to be judged. [-]"""

SILENT_AFTER_HOURS: Final = 48.0
"""A sensor with no reading for longer than this is silent: its room is not judged. [h]"""

SCORE_MOULD_POINTS, SCORE_MOULD_FULL_INDEX = 40.0, 3.0
SCORE_SURFACE_POINTS, SCORE_SURFACE_FULL_SHARE = 40.0, 0.6
SCORE_TREND_POINTS, SCORE_TREND_FULL_RISE = 10.0, 0.5
SCORE_AIR_POINTS, SCORE_AIR_FULL_SHARE = 10.0, 0.6
SCORE_BEYOND_POINTS: Final = 20.0
"""Extra points as the mould index climbs from 3 (visible) to 6, before the soft cap."""
SOFT_CAP_FROM: Final = 60.0
"""Points up to which the score is the plain sum of its parts; above, :func:`soft_cap` bends it below 100."""

COLD_HOME_MEAN_C: Final = 16.0
"""A home averaging below this is under-heated (a common landlord definition). [°C]"""

COLD_HOME_SHARE_BELOW_16: Final = 0.5
"""... as is one whose rooms were below 16 °C for at least this share of the hours. [-]"""

LEAK_EXCESS_ABOVE_HOME_PA: Final = 150.0
"""A room whose mean daily lowest vapour pressure excess tops the home's median by this much... [Pa]"""

LEAK_STEADINESS: Final = 0.55
"""... and stays above this share of its own mean excess (humid day and night) may have a leak. [-]"""

VENTILATION_MIN_EVENTS: Final = 5
"""Moisture events needed in the window before a wet room's ventilation is judged."""

VENTILATION_REMAINING_POOR: Final = {"bathroom": 0.18, "kitchen": 0.30}
"""Share of a moisture event's rise still there two hours after the peak above which a wet room's
ventilation is poor: cooking goes on longer than a shower, so kitchens are allowed more. [-]"""

VENTILATION_REMAINING_ZERO_SCORE: Final = 0.36
"""Remaining share at which the ventilation score reaches 0 (it is 100 when nothing remains, and 50 at
the bathroom's "poor" limit). [-]"""

COLD_HOME_FULL_C: Final = 18.0
"""WHO minimum indoor temperature: the under-heating evidence grows as a home falls below it. [°C]"""

LEAK_SIZE_TO_SET_ASIDE: Final = 0.3
"""The steadiest humid room is left out of the moisture-load class only when its excess over the home is
this far along the leak scale (about 140 Pa); a smaller one is the home's own load. [-]"""

COLD_HOURS_SHARE: Final = (0.25, 0.75)
"""Share of hours below 16 °C (over the home's rooms) at which the evidence for under-heating starts and is
full: rooms heated twice a day spend some nights below 16 °C without being under-heated. [-]"""

WET_LEAK_EXCESS_PA: Final = (150.0, 350.0)
"""A bathroom's or kitchen's mean vapour pressure excess above the median of the home's other rooms at which
the evidence for a leak there that is not steady starts, and is full (showers and cooking with working
extraction keep a wet room within about 100 Pa of the rest of the home). [Pa]"""

WET_LEAK_RATIO: Final = (0.3, 0.8)
"""... scaled by how large that is against the other rooms' own excess: 0 at 0.3 times it, full at 0.8
times (steam that clears slowly raises the whole home, a leak mostly its own room). [-]"""

RUNNER_UP_SHARE: Final = 0.7
"""The second cause is named too when its evidence is at least this share of the first's... [-]"""

RUNNER_UP_MIN_EVIDENCE: Final = 0.3
"""... and at least this strong. [-]"""

FABRIC_BASE_EVIDENCE: Final = 0.3
"""Evidence for a cold wall when the cold spot is damp and the room air is not humid (the remaining
explanation); a wall that the archetype says is colder than 0.75 adds to it. [-]"""

DESIGN_FACTOR: Final = 0.75
"""The UK design temperature factor (BRE IP1/06). [-]"""

HIGH_MOISTURE_CLASS: Final = 4
"""BS EN ISO 13788 internal humidity class from which a home's moisture load is high."""


def room_score(features: RoomFeatures) -> np.ndarray:
    """Physics risk score of each room, 0-100 (see the module notes); NaN for a room without data.

    Parameters
    ----------
    features : RoomFeatures
        From :func:`analytics.features.window_features`.

    Returns
    -------
    numpy.ndarray
        One score per room.
    """
    with np.errstate(invalid="ignore"):
        mould = np.clip(np.nan_to_num(features["mould_index"]) / SCORE_MOULD_FULL_INDEX, 0.0, 1.0)
        surface = np.clip(features["share_surface_rh_over_80"] / SCORE_SURFACE_FULL_SHARE, 0.0, 1.0)
        trend = np.clip(np.nan_to_num(features["mould_index_trend"]) / SCORE_TREND_FULL_RISE, 0.0, 1.0)
        air = np.clip(features["share_rh_over_70"] / SCORE_AIR_FULL_SHARE, 0.0, 1.0)
    raw = (
        SCORE_MOULD_POINTS * mould
        + SCORE_SURFACE_POINTS * surface
        + SCORE_TREND_POINTS * trend
        + SCORE_AIR_POINTS * air
    )
    # Beyond the capped parts, how far the mould index and its growth go on (to 6, the top of the scale)
    # orders the homes that fill every part, so that the top of the list has no ties at 100.
    with np.errstate(invalid="ignore"):
        beyond = (SCORE_BEYOND_POINTS * np.clip(np.nan_to_num(features["mould_index"]) - SCORE_MOULD_FULL_INDEX, 0.0,
                                                 3.0) / 3.0
                  + np.clip(np.nan_to_num(features["mould_index_trend"]) - SCORE_TREND_FULL_RISE, 0.0, 3.0)
                  + np.clip(features["share_surface_rh_over_80"] - SCORE_SURFACE_FULL_SHARE, 0.0, 0.4))
    score = soft_cap(raw + beyond)
    return np.where(features["hours_since_data"] >= 0, score, np.nan)


def soft_cap(raw: np.ndarray) -> np.ndarray:
    """Points to a 0-100 score: unchanged up to :data:`SOFT_CAP_FROM`, then approaching 100 without reaching it.

    ``s = k + (100 - k) (1 - exp(-(raw - k) / (100 - k)))`` above ``k``: continuous, with slope 1 at ``k``
    and strictly increasing, so homes with more evidence always rank higher (no ties at 100).
    """
    k = SOFT_CAP_FROM
    span = 100.0 - k
    over = np.maximum(np.asarray(raw, dtype=float) - k, 0.0)
    return np.where(raw <= k, raw, k + span * -np.expm1(-over / span))


def band_of(score: np.ndarray | float) -> np.ndarray:
    """Band index of each score: 0 low, 1 medium, 2 high, 3 critical (:data:`BANDS`); -1 for NaN."""
    values = np.atleast_1d(np.asarray(score, dtype=float))
    bands = np.searchsorted(np.asarray(BAND_THRESHOLDS), values, side="right")
    return np.where(np.isfinite(values), bands, -1)


def ventilation_score(features: RoomFeatures, room_type: np.ndarray) -> np.ndarray:
    """How quickly each wet room clears moisture after showers or cooking, 0 (not at all) to 100.

    ``100 × (1 − remaining / 0.36)`` clipped to 0-100, where *remaining* is the mean share of a moisture
    event's rise still in the air two hours after its peak. NaN for rooms other than bathrooms and
    kitchens and for wet rooms with fewer than :data:`VENTILATION_MIN_EVENTS` events in the window.
    """
    wet = np.isin(room_type, WET_ROOM_TYPES)
    enough = features["ventilation_events"] >= VENTILATION_MIN_EVENTS
    with np.errstate(invalid="ignore"):
        score = 100.0 * np.clip(1.0 - features["ventilation_remaining"] / VENTILATION_REMAINING_ZERO_SCORE,
                                0.0, 1.0)
    return np.where(wet & enough, score, np.nan)


def final_band(score: np.ndarray, any_judged: np.ndarray, rooms_without_data: np.ndarray) -> np.ndarray:
    """Band index of each property's score, -1 (``insufficient data``) where the data cannot support it.

    Parameters
    ----------
    score : numpy.ndarray
        Property scores, 0-100 (NaN where none).
    any_judged : numpy.ndarray of bool
        Whether at least one of the property's rooms had enough data.
    rooms_without_data : numpy.ndarray of int
        How many of its rooms lacked enough data.

    Returns
    -------
    numpy.ndarray of int
        0-3 (:data:`BANDS`), or -1 when no room had enough data, or when a room lacked it and the score
        would otherwise be ``low`` or ``medium``.
    """
    band = band_of(score)
    return np.where(~any_judged | ((rooms_without_data > 0) & (band < 2)), -1, band)


@dataclasses.dataclass(frozen=True)
class RoomTable:
    """The rooms of a batch of properties, in the row order of their features.

    Attributes
    ----------
    property_index : numpy.ndarray of int
        Property (0 to n_properties - 1) of each room, non-decreasing: a property's rooms are
        consecutive, and every property has at least one room.
    room_type : numpy.ndarray of str
        Room type of each room (``bathroom``, ``kitchen``, ``bedroom``, ...).
    n_properties : int
        Number of properties.
    """

    property_index: np.ndarray
    room_type: np.ndarray
    n_properties: int

    def __post_init__(self) -> None:
        index = np.asarray(self.property_index)
        if index.ndim != 1 or (index.size and (np.any(np.diff(index) < 0) or index[0] != 0)):
            raise ValueError("property_index must list each room's property, rooms of a property together, "
                             "properties numbered from 0 in order")
        if index.size and (index[-1] != self.n_properties - 1
                           or np.unique(index).size != self.n_properties):
            raise ValueError("every property needs at least one room in the RoomTable")
        if np.shape(self.room_type) != index.shape:
            raise ValueError("room_type needs one entry per room")

    @property
    def starts(self) -> np.ndarray:
        """Row of each property's first room."""
        return np.flatnonzero(np.r_[True, np.diff(self.property_index) != 0])


@dataclasses.dataclass(frozen=True)
class Assessment:
    """Risk of every room and property of a batch, as arrays (see :func:`assess`).

    Room arrays have one value per room, property arrays one per property. Bands are indices into
    :data:`BANDS`, or -1 for ``insufficient data``. ``driver_room``, ``leak_room`` and
    ``ventilation_room`` are room rows, -1 for none; ``cause`` is one of :data:`CAUSES` or ``""``.
    ``any_judged`` says whether any of a property's rooms had enough data, ``rooms_without_data`` how
    many did not; ``leak_excess_pa`` is how far the most steadily humid room's daily lowest vapour
    pressure excess tops the home's median; ``leak_steady`` whether the leak evidence is that steady excess
    (True) or a wet room's average far above the rest of the home (False).
    """

    room_score: np.ndarray
    room_band: np.ndarray
    room_sufficient: np.ndarray
    room_ventilation_score: np.ndarray
    score: np.ndarray
    band: np.ndarray
    driver_room: np.ndarray
    cause: np.ndarray
    cold_home: np.ndarray
    mean_temperature_c: np.ndarray
    share_below_16: np.ndarray
    leak_room: np.ndarray
    ventilation_room: np.ndarray
    ventilation_remaining: np.ndarray
    humidity_class: np.ndarray
    coverage: np.ndarray
    rooms_without_data: np.ndarray
    any_judged: np.ndarray
    leak_excess_pa: np.ndarray
    cause_evidence: np.ndarray | None = None
    cause_strength: np.ndarray | None = None
    runner_up: np.ndarray | None = None
    score_with_gaps: np.ndarray | None = None
    leak_steady: np.ndarray | None = None

    def band_names(self) -> list[str]:
        """Each property's band as a word: one of :data:`BANDS` or ``insufficient data``."""
        return [BANDS[b] if b >= 0 else INSUFFICIENT_DATA for b in self.band.tolist()]


def _group_reduce(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``ufunc.reduceat`` over consecutive groups starting at ``starts`` (all groups non-empty)."""
    return ufunc.reduceat(values, starts) if values.size else values[:0]


def _group_argmax(values: np.ndarray, group: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Row of the largest value in each group (the last such row on ties); NaN counts as lowest."""
    keyed = np.where(np.isfinite(values), values, -np.inf)
    order = np.lexsort((np.arange(values.size), keyed, group))
    ends = np.r_[starts[1:], values.size] - 1
    rows: np.ndarray = order[ends]
    return rows


def _group_median(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of the finite values of each group (NaN if none)."""
    finite = np.isfinite(values)
    order = np.lexsort((values, ~finite, group))
    counts = np.bincount(group[finite], minlength=n_groups)
    starts = np.r_[0, np.cumsum(np.bincount(group, minlength=n_groups))[:-1]]
    sorted_values = values[order]
    low = starts + np.maximum(counts - 1, 0) // 2
    high = starts + counts // 2
    median = 0.5 * (sorted_values[np.minimum(low, values.size - 1)] + sorted_values[np.minimum(high, values.size - 1)])
    return np.where(counts > 0, median, np.nan)


def assess(features: RoomFeatures, rooms: RoomTable, temperature_factor: np.ndarray | float | None = None
           ) -> Assessment:
    """Judge every room and property of a batch: scores, bands, driver rooms, causes and insights.

    Parameters
    ----------
    features : RoomFeatures
        Room features from :func:`analytics.features.window_features`, one row per room of ``rooms``.
    rooms : RoomTable
        Which property each room belongs to, and its type.
    temperature_factor : numpy.ndarray or float, optional
        The f_Rsi each room's cold spot was judged with (its own, the archetype's prior or 0.75): a
        low one is evidence for a cold wall.

    Returns
    -------
    Assessment
        See the module notes for the score, bands, missing data and the cause rules.

    Raises
    ------
    ValueError
        If ``features`` and ``rooms`` have different numbers of rooms.
    """
    n_rooms = features.rooms
    if n_rooms != rooms.property_index.size:
        raise ValueError(f"features hold {n_rooms} rooms but the RoomTable {rooms.property_index.size}")
    group = np.asarray(rooms.property_index)
    starts = rooms.starts
    room_type = np.asarray(rooms.room_type)

    scores = room_score(features)
    with np.errstate(invalid="ignore"):
        sufficient = (features["coverage"] >= MIN_COVERAGE) & (features["hours_since_data"] <= SILENT_AFTER_HOURS)
    room_band = np.where(sufficient, band_of(scores), -1)
    vent = ventilation_score(features, room_type)

    # The driver: the highest-scoring room with enough data, else the highest-scoring room with any.
    judged = np.where(sufficient, scores, np.nan)
    any_judged = _group_reduce(np.logical_or, sufficient, starts)
    driver = np.where(any_judged, _group_argmax(judged, group, starts), _group_argmax(scores, group, starts))
    score = scores[driver]
    missing = ~sufficient
    rooms_without_data = np.bincount(group[missing], minlength=rooms.n_properties)
    # A silent room never makes a home look safe.
    band = final_band(score, any_judged, rooms_without_data)

    # Home-wide temperature: means over the rooms with data.
    temp = features["mean_temperature_c"]
    has_temp = np.isfinite(temp)
    n_temp = np.bincount(group[has_temp], minlength=rooms.n_properties)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_temperature = np.bincount(group[has_temp], temp[has_temp], rooms.n_properties) / n_temp
        below = features["share_below_16"]
        has_below = np.isfinite(below)
        share_below_16 = (np.bincount(group[has_below], below[has_below], rooms.n_properties)
                          / np.bincount(group[has_below], minlength=rooms.n_properties))
        cold_home = (mean_temperature < COLD_HOME_MEAN_C) | (share_below_16 >= COLD_HOME_SHARE_BELOW_16)

        # A leak: one room humid day and night, well above the rest of the home.
        lowest = features["min_vapour_pressure_excess_pa"]
        leak_row = _group_argmax(lowest, group, starts)
        home_median = _group_median(lowest, group, rooms.n_properties)
        steadiness = lowest / features["vapour_pressure_excess_pa"]
        leak_excess = lowest[leak_row] - home_median

        # Ventilation: the bathroom if it has enough moisture events, else the kitchen.
        remaining = np.where(np.isfinite(vent), features["ventilation_remaining"], np.nan)
        limit = np.full(n_rooms, np.nan)
        for kind, poor_share in VENTILATION_REMAINING_POOR.items():
            limit[room_type == kind] = poor_share
        preference = np.where(room_type == "bathroom", 2.0, 1.0) * np.isfinite(remaining)
        vent_row = _group_argmax(np.where(preference > 0, preference, np.nan), group, starts)
        has_vent = np.isfinite(remaining[vent_row])
        ventilation_room = np.where(has_vent, vent_row, -1)
        ventilation_remaining = np.where(has_vent, remaining[vent_row], np.nan)

        klass = features["humidity_class"]
        humidity_class = _group_reduce(np.fmax, klass, starts)
        coverage = _group_reduce(np.add, np.nan_to_num(features["coverage"]), starts) / np.diff(
            np.r_[starts, n_rooms]
        )

        # The evidence for each cause, 0 (none) to 1 (strong), weighed together (see the module notes).
        evidence = np.zeros((rooms.n_properties, len(CAUSES)))
        heat = np.fmax(np.clip((COLD_HOME_FULL_C - 0.5 - mean_temperature) / 3.0, 0.0, 1.0),
                       np.clip((share_below_16 - COLD_HOURS_SHARE[0]) / (COLD_HOURS_SHARE[1] - COLD_HOURS_SHARE[0]), 0.0, 1.0))
        evidence[:, CAUSES.index("under_heating")] = np.nan_to_num(heat)
        leak_size = np.clip((leak_excess - LEAK_EXCESS_ABOVE_HOME_PA / 2.0) / (1.5 * LEAK_EXCESS_ABOVE_HOME_PA),
                            0.0, 1.0)
        leak_steady = np.clip(steadiness[leak_row] / (2.0 * LEAK_STEADINESS), 0.0, 1.0)
        leak_e = np.nan_to_num(np.sqrt(leak_size * leak_steady))
        vent_ratio = remaining[vent_row] / limit[vent_row]
        vent_e = np.nan_to_num(np.clip((vent_ratio - 0.4) / 0.6, 0.0, 1.0))
        # A wet room that clears steam slowly is humid day and night too: that is the ventilation's
        # signature, not a leak's, unless the steady excess is far larger than slow clearing explains
        # (and then the slow clearing is the leak's doing).
        same_room = np.nan_to_num(has_vent & (leak_row == vent_row)).astype(bool)
        vent_e_alone = vent_e
        vent_e = np.where(same_room, vent_e * (1.0 - np.nan_to_num(leak_size)), vent_e)
        leak_e = np.where(same_room & (leak_size < 1.0), leak_e * (1.0 - 0.6 * vent_e_alone), leak_e)
        # A leak that wets a bathroom or kitchen only part of the day (a heating pipe, a waste joint used
        # with the taps) is not steady, but it keeps the room far more humid on average than the rest of
        # the home; slow clearing of steam spreads into the other rooms and raises them too.
        mean_excess = features["vapour_pressure_excess_pa"]
        wet_row = _group_argmax(mean_excess, group, starts)
        rest = mean_excess.copy()
        rest[wet_row] = np.nan
        rest_median = _group_median(rest, group, rooms.n_properties)
        wet_excess = mean_excess[wet_row] - rest_median
        wet_size = np.clip((wet_excess - WET_LEAK_EXCESS_PA[0]) / (WET_LEAK_EXCESS_PA[1] - WET_LEAK_EXCESS_PA[0]),
                           0.0, 1.0)
        unexplained = np.clip((wet_excess / np.maximum(rest_median, 1.0) - WET_LEAK_RATIO[0])
                              / (WET_LEAK_RATIO[1] - WET_LEAK_RATIO[0]), 0.0, 1.0)
        wet_leak_e = np.nan_to_num(np.sqrt(wet_size * unexplained)) * np.isin(room_type[wet_row], WET_ROOM_TYPES)
        wet_wins = wet_leak_e > leak_e
        leak_e = np.where(wet_wins, wet_leak_e, leak_e)
        leak_row = np.where(wet_wins, wet_row, leak_row)
        leak_size = np.where(wet_wins, np.fmax(np.nan_to_num(leak_size), wet_leak_e), leak_size)
        # The slow clearing of a room such a leak keeps wet is the leak's doing, not the fan's.
        vent_e = np.where(wet_wins & has_vent & (wet_row == vent_row), vent_e * (1.0 - wet_leak_e), vent_e)
        evidence[:, CAUSES.index("leak")] = leak_e
        leak_room = np.where(leak_e > 0, leak_row, -1)
        evidence[:, CAUSES.index("poor_ventilation")] = vent_e
        # Moisture load: the humidity class of the home without its steadiest humid room (one humid room
        # on its own points to a leak there, not to the whole home's load).
        others = klass.copy()
        others[leak_row] = np.nan
        with_others = np.bincount(group[np.isfinite(others)], minlength=rooms.n_properties) > 0
        others_class = np.where(with_others & (leak_size >= LEAK_SIZE_TO_SET_ASIDE),
                                _group_reduce(np.fmax, others, starts), humidity_class)
        load_e = np.nan_to_num(np.clip((others_class - 2.0) / 2.5, 0.0, 1.0))
        evidence[:, CAUSES.index("high_moisture_load")] = load_e * (1.0 - 0.5 * vent_e)
        air_humid = np.nan_to_num(features["share_rh_over_70"][driver])
        factor = (np.full(n_rooms, DESIGN_FACTOR) if temperature_factor is None
                  else np.broadcast_to(np.asarray(temperature_factor, dtype=float), (n_rooms,)))
        fabric_prior = np.clip((DESIGN_FACTOR - factor[driver]) / 0.2, 0.0, 0.5)
        evidence[:, CAUSES.index("cold_fabric")] = FABRIC_BASE_EVIDENCE * (1.0 - air_humid) + fabric_prior

    order = np.argsort(-evidence, axis=1, kind="stable")
    top = order[:, 0]
    second = order[:, 1]
    rows_ = np.arange(rooms.n_properties)
    cause = np.asarray(CAUSES, dtype=object)[top]
    strength = evidence[rows_, top]
    runner = np.asarray(CAUSES, dtype=object)[second]
    runner_strength = evidence[rows_, second]
    close = (runner_strength >= RUNNER_UP_SHARE * strength) & (runner_strength >= RUNNER_UP_MIN_EVIDENCE)
    runner = np.where(close, runner, "").astype(object)
    # Insufficient data: no score, no cause (a silent sensor never makes a home look safe, nor damp).
    cause[~(band >= 1)] = ""
    runner[~(band >= 1)] = ""
    return Assessment(
        room_score=scores,
        room_band=room_band,
        room_sufficient=sufficient,
        room_ventilation_score=vent,
        score=np.where(band >= 0, score, np.nan),
        band=band,
        driver_room=driver,
        cause=cause,
        cold_home=np.asarray(cold_home, dtype=bool),
        mean_temperature_c=mean_temperature,
        share_below_16=share_below_16,
        leak_room=leak_room,
        ventilation_room=ventilation_room,
        ventilation_remaining=ventilation_remaining,
        humidity_class=humidity_class,
        coverage=coverage,
        rooms_without_data=rooms_without_data,
        any_judged=np.asarray(any_judged, dtype=bool),
        leak_excess_pa=leak_excess,
        cause_evidence=evidence,
        cause_strength=strength,
        runner_up=runner,
        score_with_gaps=score,
        leak_steady=~wet_wins,
    )
