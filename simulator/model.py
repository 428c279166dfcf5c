"""The estate's rooms as a network of heat and moisture balances, stepped through time.

:func:`run_physics` turns an :class:`~simulator.estate.Estate` and a period into
true room air temperature and vapour density at every physics step, plus the
outdoor weather of each site. Daily life (sleep, showers, cooking, drying
clothes, windows, heating) is drawn per home and UTC day from the seed as
events in local (Europe/London) minutes, then averaged exactly onto the
physics steps. Each step is solved exactly (first-order relaxations with the
forcing held over the step), so any step is stable; the step is at most 10
minutes so that a 10-minute shower is resolved.

Per room and step:

* heat: towards the heating set-point at rate 1/0.75 h while the heating
  timer is on and the set-point is above the free-running temperature,
  otherwise towards ``θ_e + internal gain`` at the home's rate ``1/τ``; an
  open window adds a pull towards ``θ_e``, and a weak pull (time constant
  6 h) draws each room towards the home's mean temperature.
* moisture: ``dc/dt = G/V − n (c − c_s)`` with ``n = n_out + n_int`` and the
  supply ``c_s`` a mix of outdoor air (background ventilation, fans, windows:
  ``n_out``) and the home's mean air (doors and stairs: ``n_int``); vapour
  beyond saturation condenses, capping RH at 100 %.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from zoneinfo import ZoneInfo

import numpy as np

from simulator import constants as C
from simulator import physics
from simulator.estate import Estate

LOCAL_TZ = ZoneInfo("Europe/London")
MAX_PHYSICS_STEP_MINUTES = 10
MINUTES_PER_DAY = 1440
#: Moisture from one person [g/h]: asleep, and awake and active (BS 5250:2021 Annex; CIBSE Guide A).
PERSON_ASLEEP_G_PER_H = 40.0
PERSON_AWAKE_G_PER_H = 55.0
#: Air exchange between a room and the rest of the home through doors [1/h].
INTERNAL_EXCHANGE_ACH = {"bathroom": 0.4, "kitchen": 0.6}
INTERNAL_EXCHANGE_DEFAULT_ACH = 0.6
#: Heating pulls a room to its set-point with this time constant [h].
HEATING_TIME_CONSTANT_H = 0.75
#: Most a heating system can lift a room above outdoors [K].
HEATING_MAX_LIFT_K = 35.0
#: Rooms pull towards the home's mean temperature with this time constant [h].
COUPLING_TIME_CONSTANT_H = 6.0
#: Cooling of room air per unit of window air change rate [1/h per 1/h] (air is light, walls are heavy).
WINDOW_COOLING_PER_ACH = 0.25
WINDOW_ACH_PER_H = 3.0


@dataclasses.dataclass(frozen=True)
class RoomTable:
    """The indoor rooms (and their homes) of an estate, flattened into arrays for vectorised stepping."""

    home: np.ndarray  # home index per room
    site: np.ndarray  # site index per room
    home_uprn: list[str]
    slug: list[str]
    room_type: list[str]
    volume_m3: np.ndarray
    f_rsi: np.ndarray
    background_ach: np.ndarray
    internal_ach: np.ndarray
    loss_rate_per_h: np.ndarray
    gain_k: np.ndarray
    setpoint_c: np.ndarray  # NaN where unheated
    fan_ach: np.ndarray  # 0 where no fan or the fan has failed
    sleepers: np.ndarray
    solar_exposure: np.ndarray  # multiplies the solar gain: orientation and glazing of the room
    index: dict[tuple[str, str], int]  # (uprn, slug) -> row
    homes: dict[str, np.ndarray]  # per-home behaviour arrays, see room_table

    @property
    def n_rooms(self) -> int:
        return len(self.slug)


FABRIC_LOSS_SHARE = 0.6
"""Share of a room's heat loss that goes through the walls whose cold spot f_Rsi describes (the rest through
windows, floor, ceiling and air change). [-]"""


def room_table(estate: Estate) -> RoomTable:
    """Flatten the estate's indoor rooms and their homes' behaviour into a :class:`RoomTable`."""
    site_index = {site.name: s for s, site in enumerate(estate.sites)}
    cols: dict[str, list] = {
        k: []
        for k in (
            "home",
            "site",
            "home_uprn",
            "slug",
            "room_type",
            "volume_m3",
            "f_rsi",
            "background_ach",
            "internal_ach",
            "loss_rate_per_h",
            "gain_k",
            "setpoint_c",
            "fan_ach",
            "sleepers",
        )
    }
    for h, home in enumerate(estate.homes):
        b = home.behaviour
        home_f = float(np.median([room.f_rsi for room in home.indoor_rooms]))
        for room in home.indoor_rooms:
            cols["home"].append(h)
            cols["site"].append(site_index[home.site])
            cols["home_uprn"].append(home.uprn)
            cols["slug"].append(room.slug)
            cols["room_type"].append(room.room_type)
            cols["volume_m3"].append(room.volume_m3)
            cols["f_rsi"].append(room.f_rsi)
            cols["background_ach"].append(b.background_ach_per_h)
            cols["internal_ach"].append(
                INTERNAL_EXCHANGE_ACH.get(room.room_type, INTERNAL_EXCHANGE_DEFAULT_ACH)
            )
            # A room whose walls are colder than the rest of the home's loses heat faster through them:
            # conduction scales with U, and 1 - f_Rsi = R_si U (BS EN ISO 13788), so the wall's share of the
            # room's loss grows by (1 - f_room) / (1 - f_home).
            if room.f_rsi is None:  # only the outdoor "room" has none
                raise ValueError(f"indoor room {room.slug} of home {home.uprn} has no f_rsi")
            wall_ratio = (1.0 - room.f_rsi) / (1.0 - home_f)
            cols["loss_rate_per_h"].append((1.0 + FABRIC_LOSS_SHARE * (wall_ratio - 1.0)) / b.time_constant_h)
            cols["gain_k"].append(b.internal_gain_k)
            cols["setpoint_c"].append(np.nan if room.setpoint_c is None else room.setpoint_c)
            cols["fan_ach"].append(room.fan_ach_per_h if room.fan_working else 0.0)
            cols["sleepers"].append(room.sleepers)
    index = {(u, s): i for i, (u, s) in enumerate(zip(cols["home_uprn"], cols["slug"], strict=True))}
    arrays = {
        k: np.asarray(v, dtype=float)
        for k, v in cols.items()
        if k not in ("home", "site", "home_uprn", "slug", "room_type")
    }

    def row(home, slug: str | None) -> int:
        return index.get((home.uprn, slug), -1) if slug else -1

    patterns = {"two_period": 0, "long": 1, "short": 2}
    homes = {
        "size": np.array([h.household.size for h in estate.homes], dtype=float),
        "daytime": np.array([h.behaviour.home_daytime for h in estate.homes]),
        "shower_p": np.array([h.behaviour.shower_probability for h in estate.homes]),
        "drying_p": np.array([h.behaviour.drying_probability for h in estate.homes]),
        "window_p": np.array([h.behaviour.window_probability for h in estate.homes]),
        "hood_p": np.array([h.behaviour.hood_use_probability for h in estate.homes]),
        "cooking": np.array([h.behaviour.cooking_scale for h in estate.homes]),
        "leak_g_per_h": np.array([h.behaviour.leak_g_per_h for h in estate.homes]),
        "leak_with_heating": np.array([h.behaviour.leak_pattern == "heating" for h in estate.homes]),
        "pattern": np.array([patterns[h.behaviour.heating_pattern] for h in estate.homes]),
        "bathroom": np.array([row(h, "bathroom") for h in estate.homes]),
        "kitchen": np.array([row(h, "kitchen") for h in estate.homes]),
        "living_room": np.array([row(h, "living_room") for h in estate.homes]),
        "bedroom_1": np.array([row(h, "bedroom_1") for h in estate.homes]),
        "dry_room": np.array([row(h, h.behaviour.dry_room) for h in estate.homes]),
        "leak_room": np.array([row(h, h.behaviour.leak_room) for h in estate.homes]),
    }
    exposure = np.random.default_rng([estate.seed, 6]).uniform(0.4, 1.6, len(cols["slug"]))
    return RoomTable(
        solar_exposure=exposure,
        home=np.asarray(cols["home"], dtype=np.int64),
        site=np.asarray(cols["site"], dtype=np.int64),
        home_uprn=cols["home_uprn"],
        slug=cols["slug"],
        room_type=cols["room_type"],
        index=index,
        homes=homes,
        **arrays,
    )


@dataclasses.dataclass(repr=False)
class PhysicsResult:
    """True conditions at every physics step of a segment.

    Arrays are float32 of shape ``(n_rooms, n_steps)`` (rooms) or
    ``(n_sites, n_steps)`` (outdoor); step ``i`` covers
    ``[origin + i·step, origin + (i + 1)·step)`` and holds the state at its end
    (the outdoor values are the step means).
    """

    origin: dt.datetime
    step_minutes: int
    rooms: RoomTable
    temp_air_c: np.ndarray
    vapour_density_g_m3: np.ndarray
    temp_out_c: np.ndarray
    rh_out_pct: np.ndarray
    final_state: np.ndarray  # [temperatures; vapour densities] after the last step, to continue from

    @property
    def n_steps(self) -> int:
        return self.temp_air_c.shape[1]

    def rh_air_pct(self) -> np.ndarray:
        """Room relative humidity at every step, at most 100. [%]"""
        return self._rh_air

    def surface_temperature_c(self) -> np.ndarray:
        """Cold-spot temperature of every room at every step. [°C]"""
        return self._surface_temperature

    def surface_rh_pct(self) -> np.ndarray:
        """Cold-spot relative humidity of every room at every step, at most 100. [%]"""
        return physics.surface_relative_humidity(
            self.temp_air_c.astype(float),
            self.rh_air_pct(),
            self.temp_out_c[self.rooms.site].astype(float),
            self.rooms.f_rsi[:, None],
        )

    @functools.cached_property
    def _rh_air(self) -> np.ndarray:
        return np.minimum(
            physics.relative_humidity_from_absolute_humidity(
                self.temp_air_c.astype(float), self.vapour_density_g_m3.astype(float)
            ),
            100.0,
        )

    @functools.cached_property
    def _surface_temperature(self) -> np.ndarray:
        return physics.surface_temperature(
            self.temp_air_c.astype(float),
            self.temp_out_c[self.rooms.site].astype(float),
            self.rooms.f_rsi[:, None],
        )

    def hourly_mean(self, values: np.ndarray) -> np.ndarray:
        """Means over each whole hour of a ``(rows, n_steps)`` array (the segment starts on an hour)."""
        per_hour = 60 // self.step_minutes
        rows, n = values.shape
        return values[:, : n - n % per_hour].reshape(rows, n // per_hour, per_hour).mean(axis=2)


def physics_step_minutes(interval_minutes: int) -> int:
    """The physics step for a reading interval: the largest of 10, 6, 5, 3, 2, 1 minutes that divides it.

    Every candidate divides the 30-minute spin-up step and the hour, so steps
    average cleanly into both.
    """
    if interval_minutes < 1 or MINUTES_PER_DAY % interval_minutes:
        raise ValueError(
            f"interval_minutes must divide a day (1, 2, 5, 10, 15, 30, 60, ...); got {interval_minutes}"
        )
    return next(step for step in (10, 6, 5, 3, 2, 1) if interval_minutes % step == 0)


def outdoor_weather(estate: Estate, origin: dt.datetime, days: int, step_minutes: int):
    """Outdoor temperature and humidity of every site, from ``origin`` for ``days`` days.

    Parameters
    ----------
    estate : Estate
        The estate (its seed and number of sites).
    origin : datetime.datetime
        Start, a UTC midnight.
    days : int
        Length in days.
    step_minutes : int
        Step. [min]

    Returns
    -------
    temp_out : numpy.ndarray
        Mean over each step, shape ``(n_sites, n_steps)``. [°C]
    rh_out : numpy.ndarray
        Mean over each step, shape ``(n_sites, n_steps)``. [%]
    """
    n_steps = days * MINUTES_PER_DAY // step_minutes
    rng = np.random.default_rng([estate.seed, 2, origin.toordinal()])
    mid_s = int(origin.timestamp()) + (np.arange(n_steps) + 0.5) * step_minutes * 60
    stamps = mid_s.astype("datetime64[s]")
    day_of_year = (stamps - stamps.astype("datetime64[Y]")).astype("timedelta64[s]").astype(
        float
    ) / 86400.0 + 1.0
    hour_of_day = (stamps - stamps.astype("datetime64[D]")).astype("timedelta64[s]").astype(float) / 3600.0
    return physics.uk_outdoor_weather(rng, day_of_year, hour_of_day, len(estate.sites), step_minutes / 60.0)


def run_physics(
    estate: Estate,
    origin: dt.datetime,
    days: int,
    step_minutes: int,
    temp_out_c: np.ndarray,
    rh_out_pct: np.ndarray,
    initial_state: np.ndarray | None = None,
    rooms: RoomTable | None = None,
) -> PhysicsResult:
    """Step every indoor room of the estate from ``origin`` (a UTC midnight) for ``days`` days.

    Parameters
    ----------
    estate : Estate
        The estate.
    origin : datetime.datetime
        Start, a UTC midnight.
    days : int
        Whole days to simulate.
    step_minutes : int
        Physics step, dividing 30. [min]
    temp_out_c, rh_out_pct : numpy.ndarray
        Outdoor temperature [°C] and humidity [%] of each site over each step,
        shape ``(n_sites, days · steps per day)``.
    initial_state : numpy.ndarray, optional
        ``final_state`` of the segment before; by default rooms start at their
        set-points (16 °C unheated) and 2 g/m³ above outdoors.
    rooms : RoomTable, optional
        The estate's room table, if already built.

    Returns
    -------
    PhysicsResult
    """
    rooms = rooms or room_table(estate)
    n_rooms = rooms.n_rooms
    n_homes = len(estate.homes)
    steps_per_day = MINUTES_PER_DAY // step_minutes
    n_steps = days * steps_per_day
    if temp_out_c.shape[1] != n_steps or rh_out_pct.shape[1] != n_steps:
        raise ValueError(f"outdoor series must have {n_steps} steps, one per physics step")
    dt_h = step_minutes / 60.0
    c_out = physics.absolute_humidity(temp_out_c, rh_out_pct)

    site, home, volume = rooms.site, rooms.home, rooms.volume_m3
    # The state is temperatures and vapour densities stacked, s = [θ_i (rooms); c (rooms)], so that one
    # numpy call updates both. Each step is an exact relaxation s ← A + (s − A)·D towards
    # A = P + Q·(the home's volume-weighted mean of s), with P, Q and D fixed over the step.
    group = np.concatenate([home, home + n_homes])
    weight = volume / np.bincount(home, weights=volume, minlength=n_homes)[home]
    weight2 = np.concatenate([weight, weight])
    loss_rate = rooms.loss_rate_per_h[None, :]
    heat_rate = 1.0 / HEATING_TIME_CONSTANT_H
    couple_rate = 1.0 / COUPLING_TIME_CONSTANT_H
    internal = rooms.internal_ach[None, :]
    sat = C.ABSOLUTE_HUMIDITY_FACTOR_G_K_PER_M3_PA * C.MAGNUS_WMO_WATER.a_pa
    mag_b, mag_c = C.MAGNUS_WMO_WATER.b, C.MAGNUS_WMO_WATER.c_c

    if initial_state is None:
        state = np.concatenate(
            [np.where(np.isnan(rooms.setpoint_c), 16.0, rooms.setpoint_c), c_out[site, 0] + 2.0]
        )
    else:
        state = np.array(initial_state, dtype=float)
    history = np.empty((n_steps, 2 * n_rooms), dtype=np.float32)
    carry = np.zeros((n_rooms, steps_per_day))
    home_site = np.zeros(n_homes, dtype=np.int64)
    home_site[home] = site
    hour_of_day = (np.arange(steps_per_day) + 0.5) * dt_h
    for d in range(days):
        date = (origin + dt.timedelta(days=d)).date()
        sl = slice(d * steps_per_day, (d + 1) * steps_per_day)
        day_mean_out = temp_out_c[home_site, sl].mean(axis=1)
        day = build_day(estate, rooms, date, step_minutes, carry, day_mean_out)
        carry = day.carry
        solar = physics.solar_gain(date.timetuple().tm_yday, hour_of_day)
        # Everything that does not depend on the state, for the whole day at once, shape (steps, rooms).
        t_o = temp_out_c[site, sl].T
        c_o = c_out[site, sl].T
        window_rate = day.window_ach_per_h.T * WINDOW_COOLING_PER_ACH
        n_out = rooms.background_ach[None, :] + day.fan_ach_per_h.T + day.window_ach_per_h.T
        n_total = n_out + internal
        free = t_o + rooms.gain_k[None, :] + solar[:, None] * rooms.solar_exposure[None, :]
        target = np.minimum(rooms.setpoint_c[None, :], t_o + HEATING_MAX_LIFT_K)
        heat_on = (day.heating_on.T > 0.5) & (target > free)  # NaN set-points (unheated rooms) compare False
        heat_or_loss = np.where(heat_on, heat_rate, loss_rate)
        rate_t = heat_or_loss + window_rate + couple_rate
        p = np.concatenate(
            [
                (heat_or_loss * np.where(heat_on, target, free) + window_rate * t_o) / rate_t,
                (n_out * c_o + day.generation_g_per_h.T / volume[None, :]) / n_total,
            ],
            axis=1,
        )
        q = np.concatenate([couple_rate / rate_t, internal / n_total], axis=1)
        decay = np.exp(-np.concatenate([rate_t, n_total], axis=1) * dt_h)
        for j in range(steps_per_day):
            aim = p[j] + q[j] * np.bincount(group, weights=state * weight2, minlength=2 * n_homes)[group]
            state = aim + (state - aim) * decay[j]
            temp = state[:n_rooms]
            # Vapour beyond saturation condenses: RH never exceeds 100 %.
            np.minimum(
                state[n_rooms:],
                sat * np.exp(mag_b * temp / (mag_c + temp)) / (temp + C.ZERO_CELSIUS_K),
                out=state[n_rooms:],
            )
            history[d * steps_per_day + j] = state
    return PhysicsResult(
        origin=origin,
        step_minutes=step_minutes,
        rooms=rooms,
        temp_air_c=np.ascontiguousarray(history[:, :n_rooms].T),
        vapour_density_g_m3=np.ascontiguousarray(history[:, n_rooms:].T),
        temp_out_c=temp_out_c.astype(np.float32),
        rh_out_pct=rh_out_pct.astype(np.float32),
        final_state=state,
    )


@dataclasses.dataclass
class DaySchedule:
    """One UTC day of forcing, averaged over each physics step, shape ``(n_rooms, steps_per_day)``."""

    generation_g_per_h: np.ndarray
    fan_ach_per_h: np.ndarray
    window_ach_per_h: np.ndarray
    heating_on: np.ndarray  # fraction of the step the heating timer is on
    carry: np.ndarray  # moisture generation spilling into the next day


class _Events:
    """Events in local minutes, gathered as arrays, then averaged onto physics steps in one go."""

    GENERATION, FAN, WINDOW, HEATING = range(4)

    def __init__(self) -> None:
        self.parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, kind: int, rows, start, minutes, value, mask=None) -> None:
        """Add ``value`` to ``rows`` over local minutes ``[start, start + minutes)`` where ``mask``."""
        rows, start, minutes, value = np.broadcast_arrays(
            np.asarray(rows),
            np.asarray(start, dtype=float),
            np.asarray(minutes, dtype=float),
            np.asarray(value, dtype=float),
        )
        keep = (rows >= 0) & (minutes > 0)
        if mask is not None:
            keep &= np.broadcast_to(mask, rows.shape)
        self.parts.append((kind, rows[keep], start[keep], minutes[keep], value[keep]))

    def to_steps(self, n_rooms: int, offset_minutes: int, step_minutes: int) -> np.ndarray:
        """Step averages, shape ``(4, n_rooms, 2 days of steps)``, in UTC steps from the day's midnight."""
        kind = np.concatenate([np.full(len(p[1]), p[0]) for p in self.parts])
        rows = np.concatenate([p[1] for p in self.parts])
        a = np.concatenate([p[2] for p in self.parts]) - offset_minutes
        z = a + np.concatenate([p[3] for p in self.parts])
        value = np.concatenate([p[4] for p in self.parts])
        # In summer time local midnight is 23:00 UTC the day before: wrap that hour to the day's end.
        early = a < 0
        wrapped = early & (z > 0)
        kind = np.concatenate(
            [
                kind,
                kind[early],
            ]
        )
        rows = np.concatenate([rows, rows[early]])
        value = np.concatenate([value, value[early]])
        a, z = (
            np.concatenate([np.where(early, 0.0, a), a[early] + MINUTES_PER_DAY]),
            np.concatenate([np.where(early & ~wrapped, 0.0, z), np.minimum(z[early], 0.0) + MINUTES_PER_DAY]),
        )
        width = 2 * MINUTES_PER_DAY // step_minutes
        a = np.clip(a, 0.0, float(width * step_minutes)) / step_minutes  # in steps from here on
        z = np.clip(z, 0.0, float(width * step_minutes)) / step_minutes
        i0 = np.floor(a).astype(np.int64)
        i1 = np.floor(z).astype(np.int64)
        base = (kind * n_rooms + rows) * (width + 1)
        same = i0 == i1
        # Partial first step (the whole event when it starts and ends in one step), partial last step,
        # and the full steps between as a run in a difference array.
        direct_idx = np.concatenate([base + i0, (base + i1)[~same]])
        direct_val = np.concatenate([value * np.where(same, z - a, i0 + 1 - a), (value * (z - i1))[~same]])
        run = ~same & (i1 > i0 + 1)
        run_idx = np.concatenate([(base + i0 + 1)[run], (base + i1)[run]])
        run_val = np.concatenate([value[run], -value[run]])
        size = 4 * n_rooms * (width + 1)
        direct = np.bincount(direct_idx, weights=direct_val, minlength=size)
        runs = np.cumsum(
            np.bincount(run_idx, weights=run_val, minlength=size).reshape(4 * n_rooms, width + 1), axis=1
        )
        out = direct.reshape(4 * n_rooms, width + 1) + runs
        return out[:, :width].reshape(4, n_rooms, width)


def build_day(
    estate: Estate,
    rooms: RoomTable,
    date: dt.date,
    step_minutes: int,
    carry: np.ndarray | None = None,
    outdoor_mean_c: np.ndarray | None = None,
) -> DaySchedule:
    """Draw one day of life in every home, deterministic from the estate seed and the date.

    Parameters
    ----------
    estate : Estate
        The estate.
    rooms : RoomTable
        Its indoor rooms.
    date : datetime.date
        The UTC day.
    step_minutes : int
        Physics step. [min]
    carry : numpy.ndarray, optional
        Moisture generation spilling over from the day before. [g/h]
    outdoor_mean_c : numpy.ndarray, optional
        The day's mean outdoor temperature at each home; warm days bring
        windows open more often and for longer. [°C]

    Returns
    -------
    DaySchedule
        Moisture generation [g/h], fan and window air change rates [1/h] and
        the heating timer, each averaged over the physics steps of ``date`` (UTC).

    Notes
    -----
    Times are drawn in local (Europe/London) minutes: people sleep (40 g/h each)
    from about 23:00 to 07:00 (later at weekends), are awake (55 g/h) in the
    kitchen and living room, out in the day unless at home; each person
    showers with the household's probability (200-400 g in 10 minutes, the fan
    running for 30 minutes); three meals (the cooker hood used sometimes);
    clothes dried indoors (1.5-2.5 kg over 12-20 hours); bedroom and living
    room windows opened sometimes, more often and for longer on warm days
    (above 10 °C); a leak is steady, or follows the heating (a leaking heating pipe). Heating follows the
    household's timer pattern.
    """
    n_rooms = rooms.n_rooms
    noon = dt.datetime.combine(date, dt.time(12), tzinfo=dt.UTC)
    utc_offset = noon.astimezone(LOCAL_TZ).utcoffset()
    assert utc_offset is not None  # an aware datetime always has one
    offset = int(utc_offset.total_seconds() // 60)  # local = UTC + offset
    weekend = date.weekday() >= 5
    rng = np.random.default_rng([estate.seed, 3, date.toordinal()])
    hm = rooms.homes
    n_homes = len(hm["size"])
    size = hm["size"]
    u = rng.random((n_homes, 24))  # every uniform the day needs, drawn at once
    ev = _Events()
    GEN, FAN, WIN, HEAT = _Events.GENERATION, _Events.FAN, _Events.WINDOW, _Events.HEATING

    wake = np.where(weekend, 480 + 80 * u[:, 0], 390 + 60 * u[:, 0])
    bed = 1335 + 90 * u[:, 1]
    at_home_day = hm["daytime"] | weekend
    awake = PERSON_AWAKE_G_PER_H
    # People asleep in bedrooms.
    sleeping = rooms.sleepers > 0
    r_sleep = np.flatnonzero(sleeping)
    h_sleep = rooms.home[r_sleep]
    ev.add(GEN, r_sleep, 0.0, wake[h_sleep], rooms.sleepers[r_sleep] * PERSON_ASLEEP_G_PER_H)
    ev.add(
        GEN,
        r_sleep,
        bed[h_sleep],
        MINUTES_PER_DAY - bed[h_sleep],
        rooms.sleepers[r_sleep] * PERSON_ASLEEP_G_PER_H,
    )
    # Awake: breakfast hour, the day (if at home) and the evening.
    ev.add(GEN, hm["kitchen"], wake, 60.0, 0.5 * size * awake)
    ev.add(GEN, hm["living_room"], wake, 60.0, 0.5 * size * awake)
    ev.add(
        GEN, hm["living_room"], wake + 60.0, 1020.0 - wake - 60.0, np.ceil(0.6 * size) * awake, at_home_day
    )
    ev.add(GEN, hm["living_room"], 1020.0, bed - 1020.0, 0.75 * size * awake)
    ev.add(GEN, hm["kitchen"], 1020.0, bed - 1020.0, 0.25 * size * awake)
    # Showers: a few hundred grams in ten minutes; the fan (if it works) runs for 30 minutes.
    person = np.arange(6)[None, :] < size[:, None]
    showers = person & (u[:, 2:8] < hm["shower_p"][:, None])
    morning = u[:, 8:14] < 0.7
    start = np.where(morning, wake[:, None] + 60.0 * u[:, 14:20], 1140.0 + 210.0 * u[:, 14:20])
    grams = 200.0 + 200.0 * rng.random((n_homes, 6))
    bath = np.broadcast_to(hm["bathroom"][:, None], start.shape)
    ev.add(GEN, bath, start, 10.0, grams * 6.0, showers)
    ev.add(FAN, bath, start, 30.0, rooms.fan_ach[hm["bathroom"]][:, None], showers)
    # Cooking: breakfast, lunch when at home, dinner; the cooker hood sometimes.
    kitchen = hm["kitchen"]
    v = rng.random((n_homes, 9))
    meal_start = np.stack([wake + 5 + 25 * v[:, 0], 720 + 60 * v[:, 1], 1050 + 120 * v[:, 2]], axis=1)
    meal_minutes = np.stack([np.full(n_homes, 15.0), np.full(n_homes, 20.0), 30 + 30 * v[:, 3]], axis=1)
    meal_grams = np.stack(
        [40 + 50 * v[:, 4], 80 + 70 * v[:, 5], (150 + 100 * size) * (0.8 + 0.4 * v[:, 6])], axis=1
    )
    meal_grams *= hm["cooking"][:, None]
    cooked = np.stack([np.ones(n_homes, bool), at_home_day, np.ones(n_homes, bool)], axis=1)
    hood = cooked & (rng.random((n_homes, 3)) < hm["hood_p"][:, None])
    k_rows = np.broadcast_to(kitchen[:, None], meal_start.shape)
    ev.add(GEN, k_rows, meal_start, meal_minutes, meal_grams * 60.0 / meal_minutes, cooked)
    ev.add(FAN, k_rows, meal_start, meal_minutes + 10.0, rooms.fan_ach[kitchen][:, None], hood)
    # Clothes drying indoors: 1.5-2.5 kg of water over 12-20 hours, spilling into the next day.
    drying = u[:, 20] < hm["drying_p"]
    dry_minutes = 720 + 480 * v[:, 7]
    dry_grams = (1500 + 1000 * v[:, 8]) * np.where(size > 3, 1.2, 1.0)
    ev.add(GEN, hm["dry_room"], 540 + 660 * u[:, 21], dry_minutes, dry_grams * 60.0 / dry_minutes, drying)
    # Windows: more often and for longer on warm days.
    warmth = np.zeros(n_homes) if outdoor_mean_c is None else np.clip((outdoor_mean_c - 10.0) / 5.0, 0.0, 3.0)
    window_p = np.minimum(1.0, hm["window_p"] * (1.0 + warmth))
    w = rng.random((n_homes, 4))
    ev.add(
        WIN,
        hm["bedroom_1"],
        wake + 60 * w[:, 0],
        (20 + 40 * w[:, 1]) * (1.0 + warmth),
        WINDOW_ACH_PER_H,
        u[:, 22] < window_p,
    )
    ev.add(
        WIN,
        hm["living_room"],
        780 + 180 * w[:, 2],
        (30 + 90 * w[:, 3]) * (1.0 + warmth),
        WINDOW_ACH_PER_H,
        (at_home_day | (warmth > 0)) & (u[:, 23] < 0.5 * window_p),
    )
    # Heating timer: two periods, one long period (at home, or weekends), or two short ones.
    pattern = hm["pattern"]
    one_long = (pattern == 1) | ((pattern == 0) & weekend)
    first_start = np.where(pattern == 2, wake, wake - 30.0)
    first_minutes = np.where(one_long, bed - wake, np.where(pattern == 2, 60.0, 120.0))
    second_start = np.where(pattern == 2, 1080.0, 990.0)
    second_minutes = np.where(one_long, 0.0, np.where(pattern == 2, 180.0, bed - 1020.0))
    all_rows = np.arange(n_rooms)
    ev.add(HEAT, all_rows, first_start[rooms.home], first_minutes[rooms.home], 1.0)
    ev.add(HEAT, all_rows, second_start[rooms.home], second_minutes[rooms.home], 1.0)

    steps = ev.to_steps(n_rooms, offset, step_minutes)
    spd = MINUTES_PER_DAY // step_minutes
    gen = steps[0]
    if carry is not None:
        gen[:, :spd] += carry
    # A steady leak wets its room day and night; a leaking heating pipe only while the heating runs.
    leak = (hm["leak_room"] >= 0) & ~hm["leak_with_heating"]
    gen[hm["leak_room"][leak], :spd] += hm["leak_g_per_h"][leak][:, None]
    pipe = (hm["leak_room"] >= 0) & hm["leak_with_heating"]
    pipe_rooms = hm["leak_room"][pipe]
    gen[pipe_rooms, :spd] += hm["leak_g_per_h"][pipe][:, None] * steps[3, pipe_rooms, :spd]
    return DaySchedule(
        generation_g_per_h=gen[:, :spd],
        fan_ach_per_h=steps[1, :, :spd],
        window_ach_per_h=steps[2, :, :spd],
        heating_on=steps[3, :, :spd],
        carry=gen[:, spd:],
    )
