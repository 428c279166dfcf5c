"""A virtual housing estate: properties, rooms, households and their hidden damp causes, from a seed.

:func:`build_estate` makes the estate; :func:`write_estate_csv` writes what a
landlord's asset register would hold (one row per room). What the register does
not know (the cause of damp, the true temperature factors, failed fans, the
household's habits) stays in each :class:`Home`'s ``behaviour`` and the rooms'
physical fields; it is written only by :func:`simulator.truth.write_truth_csv`.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import re
from pathlib import Path

import numpy as np

from core.causes import CAUSES as CAUSE_CODES
from simulator.errors import SimulatorError

logger = logging.getLogger(__name__)

#: Wall types of the archetype field.
WALL_TYPES = ("solid_brick", "cavity_unfilled", "cavity_filled", "timber_frame", "system_built")
#: Room types of the identity contract, plus ``outdoor`` for the one outdoor sensor per site.
ROOM_TYPES = ("bathroom", "kitchen", "bedroom", "living_room", "hallway", "other", "outdoor")
#: Causes of damp a home may be given; ``none`` for a healthy home.
CAUSES = CAUSE_CODES
#: The realistic forms each cause takes, drawn evenly (from a generator of their own, so that adding a form
#: leaves every other draw of the estate unchanged).
CAUSE_FORMS = {
    "poor_ventilation": ("failed_fan", "no_fan", "weak_fan"),
    "high_moisture_load": ("drying_indoors", "crowded"),
    "under_heating": ("low_setpoint", "short_heating"),
    "cold_fabric": ("one_room", "two_rooms"),
    "leak": ("steady", "heating_pipe"),
}
#: Extract rate of a fan that runs but barely moves air (a blocked or undersized duct). [1/h]
WEAK_FAN_ACH_PER_H = (0.4, 1.0)
#: Share of homes that are damp-prone.
DAMP_PRONE_SHARE = 0.4
#: Header of the asset-register CSV, exactly.
ESTATE_CSV_COLUMNS = (
    "uprn",
    "address",
    "postcode",
    "site",
    "build_year",
    "wall_type",
    "floor_level",
    "temperature_factor",
    "child_under_15",
    "over_65",
    "respiratory_condition",
    "room",
    "room_type",
    "device_id",
)
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][ABD-HJLNP-UW-Z]{2}$")
UPRN_BASE = 100_000_000_000
HOMES_PER_SITE = 17

# Places for plausible addresses: (post town, postcode districts, neighbourhoods).
_TOWNS = (
    (
        "Leeds",
        ("LS9", "LS10", "LS11", "LS12", "LS14"),
        ("Holbeck", "Beeston", "Seacroft", "Armley", "Gipton"),
    ),
    (
        "Manchester",
        ("M11", "M12", "M22", "M40"),
        ("Clayton", "Gorton", "Wythenshawe", "Miles Platting", "Harpurhey"),
    ),
    (
        "Sheffield",
        ("S2", "S5", "S6", "S14"),
        ("Park Hill", "Parson Cross", "Hillsborough", "Gleadless", "Manor"),
    ),
    ("Cardiff", ("CF3", "CF5", "CF11", "CF24"), ("Llanrumney", "Ely", "Grangetown", "Splott", "Trowbridge")),
)
_ESTATE_SUFFIXES = ("Grange", "Green", "Fields", "Estate", "Park", "Vale", "Heights", "Gardens")
_STREETS = (
    "Beech Close",
    "Rowan Way",
    "Elm Grove",
    "Ash Road",
    "Hawthorn Drive",
    "Chestnut Avenue",
    "Willow Walk",
    "Oak Crescent",
    "Linden Street",
    "Maple Terrace",
    "Holly Bank",
    "Poplar View",
    "Sycamore Road",
    "Birch Lane",
    "Laurel Mount",
    "Cedar Place",
    "Alder Row",
    "Hazel Court",
    "Juniper Rise",
    "Larch Gardens",
)
_BLOCKS = (
    "Kestrel House",
    "Heron House",
    "Curlew Court",
    "Lapwing Tower",
    "Merlin House",
    "Plover Court",
    "Swift House",
    "Wren Tower",
)
_POSTCODE_UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_FAN_ACH_PER_H = {"bathroom": (4.0, 7.0), "kitchen": (3.0, 6.0)}
# Background air change rate to outdoors by wall type [1/h] (leaky solid walls ventilate most).
_BACKGROUND_ACH = {
    "solid_brick": 0.6,
    "cavity_unfilled": 0.5,
    "cavity_filled": 0.42,
    "timber_frame": 0.35,
    "system_built": 0.45,
}
# Thermal time constant of the unheated home by wall type [h].
_TIME_CONSTANT_H = {
    "solid_brick": 22.0,
    "cavity_unfilled": 18.0,
    "cavity_filled": 30.0,
    "timber_frame": 16.0,
    "system_built": 15.0,
}
# Typical cold-spot temperature factor by wall type (BRE IP1/06 designs to 0.75).
_F_RSI_MEAN = {
    "solid_brick": 0.70,
    "cavity_unfilled": 0.72,
    "cavity_filled": 0.78,
    "timber_frame": 0.81,
    "system_built": 0.69,
}
_SETPOINT_OFFSET_K = {
    "living_room": 0.0,
    "kitchen": -1.0,
    "bathroom": 0.0,
    "bedroom": -1.5,
    "hallway": -2.0,
    "other": -2.5,
}
_VOLUME_M3 = {
    "bathroom": (8.0, 12.0),
    "kitchen": (16.0, 26.0),
    "living_room": (35.0, 50.0),
    "bedroom_main": (27.0, 35.0),
    "bedroom": (17.0, 26.0),
    "hallway": (12.0, 20.0),
    "other": (10.0, 15.0),
}


@dataclasses.dataclass(frozen=True)
class Archetype:
    """What kind of building a property is."""

    build_year: int
    wall_type: str
    floor_level: int | None  # None for a house


@dataclasses.dataclass(frozen=True)
class Household:
    """Who lives in a property, as far as the landlord records it.

    The vulnerability flags are None where the register holds no answer.
    """

    size: int
    child_under_15: bool | None
    over_65: bool | None
    respiratory_condition: bool | None


@dataclasses.dataclass(frozen=True)
class Behaviour:
    """How a home is lived in and how it performs: hidden from the register, drives the physics."""

    setpoint_c: float
    heating_pattern: str  # "two_period", "long" or "short"
    home_daytime: bool
    shower_probability: float
    dries_clothes: bool
    drying_probability: float
    dry_room: str | None  # slug
    window_probability: float
    hood_use_probability: float
    background_ach_per_h: float
    time_constant_h: float
    internal_gain_k: float
    leak_room: str | None  # slug
    leak_g_per_h: float
    cooking_scale: float
    form: str = ""  # which realistic form the home's cause takes (see CAUSE_FORMS)
    leak_pattern: str = "steady"  # "steady", or "heating" (a heating pipe that leaks while the heating runs)


@dataclasses.dataclass(frozen=True)
class Room:
    """A room, its sensor (if any) and its physical make-up.

    ``f_rsi`` is the temperature factor of the room's cold spot; ``fan_ach_per_h``
    the extract rate of its fan when running; ``fan_working`` is None where the
    room has no extractor fan.
    """

    name: str
    room_type: str
    slug: str
    volume_m3: float
    device_id: str | None
    f_rsi: float | None
    fan_working: bool | None
    fan_ach_per_h: float
    heated: bool
    setpoint_c: float | None
    sleepers: int
    damp_prone: bool

    @property
    def indoor(self) -> bool:
        return self.room_type != "outdoor"


@dataclasses.dataclass(frozen=True)
class Home:
    """A property: identity, archetype, household, rooms, and its hidden cause of damp."""

    uprn: str
    address: str
    postcode: str
    site: str
    archetype: Archetype
    household: Household
    rooms: tuple[Room, ...]
    cause: str
    behaviour: Behaviour

    @property
    def damp_prone(self) -> bool:
        return self.cause != "none"

    @property
    def indoor_rooms(self) -> tuple[Room, ...]:
        return tuple(room for room in self.rooms if room.indoor)

    def room(self, slug: str) -> Room:
        """The room with this slug."""
        for room in self.rooms:
            if room.slug == slug:
                return room
        raise KeyError(f"home {self.uprn} has no room {slug!r}")


@dataclasses.dataclass(frozen=True)
class Site:
    """An estate or block: the homes share a postcode district, an outdoor sensor and weather."""

    name: str
    town: str
    district: str
    kind: str  # "houses" or "flats"
    outdoor_uprn: str


@dataclasses.dataclass(frozen=True, repr=False)
class Estate:
    """A landlord's virtual stock, built deterministically from ``seed``."""

    seed: int
    sites: tuple[Site, ...]
    homes: tuple[Home, ...]

    def __repr__(self) -> str:
        damp = sum(home.damp_prone for home in self.homes)
        return f"<Estate seed={self.seed} homes={len(self.homes)} sites={len(self.sites)} damp-prone={damp}>"

    def home(self, uprn: str) -> Home:
        """The home with this UPRN."""
        for home in self.homes:
            if home.uprn == uprn:
                return home
        raise KeyError(f"no home with UPRN {uprn}")

    @property
    def devices(self) -> list[tuple[str, Home, Room]]:
        """``(device_id, home, room)`` for every sensor, in estate order."""
        return [(room.device_id, home, room) for home in self.homes for room in home.rooms if room.device_id]


def device_id_for(uprn: str, slug: str) -> str:
    """The simulator's device id for a sensor: ``sim-<uprn>-<roomslug>``."""
    device_id = f"sim-{uprn}-{slug}"
    if not DEVICE_ID_RE.match(device_id):
        raise SimulatorError(f"device id {device_id!r} does not match {DEVICE_ID_RE.pattern}")
    return device_id


def build_estate(seed: int, homes: int = 50, sites: int | None = None) -> Estate:
    """Build a virtual estate of ``homes`` properties on ``sites`` sites, deterministic from ``seed``.

    Parameters
    ----------
    seed : int
        Seed of every random choice; the same seed gives the same estate.
    homes : int, default 50
        Number of properties, at least 1.
    sites : int, optional
        Number of estates or blocks; by default about one per 17 homes.

    Returns
    -------
    Estate
        Homes with UPRNs ``100000000001`` upwards, addresses and postcodes in
        Leeds, Manchester, Sheffield or Cardiff, archetypes, households, rooms
        with sensors in the bathroom, kitchen, living room and main bedroom, and
        one outdoor sensor per site. About 60 % of homes have no damp cause; the
        rest are split evenly among :data:`CAUSES`.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed}")
    if homes < 1:
        raise ValueError(f"homes must be at least 1; got {homes}")
    n_sites = max(1, round(homes / HOMES_PER_SITE)) if sites is None else sites
    if not 1 <= n_sites <= homes:
        raise ValueError(f"sites must be between 1 and the number of homes ({homes}); got {sites}")
    rng = np.random.default_rng([seed, 1])
    site_of_home = _split_homes(homes, n_sites)
    causes = _assign_causes(rng, homes)

    built_sites: list[Site] = []
    built_homes: list[Home] = []
    used_site_names: set[str] = set()
    for s in range(n_sites):
        members = [i for i in range(homes) if site_of_home[i] == s]
        town, districts, areas = _TOWNS[int(rng.integers(len(_TOWNS)))]
        district = districts[int(rng.integers(len(districts)))]
        kind = "flats" if rng.random() < 0.4 else "houses"
        name = _site_name(rng, areas, kind, used_site_names)
        build_year, wall_type = _site_archetype(rng, kind)
        streets = [str(x) for x in rng.choice(_STREETS, size=3, replace=False)]
        street_postcodes = {street: _postcode(rng, district) for street in streets}
        block = str(rng.choice(_BLOCKS))
        outdoor_index = members[int(rng.integers(len(members)))]
        next_number = {street: int(rng.integers(1, 30)) for street in streets}
        for position, i in enumerate(members):
            uprn = str(UPRN_BASE + i + 1)
            floor_level = None
            if kind == "flats":
                street = streets[0]
                floor_level = int(rng.integers(0, 12))
                address = f"Flat {position + 1}, {block}, {street}, {town}"
            else:
                street = streets[position % len(streets)]
                address = f"{next_number[street]} {street}, {town}"
                next_number[street] += int(rng.integers(1, 3))
            home_year = build_year + int(rng.integers(-2, 3))
            home_wall = wall_type
            if wall_type == "cavity_unfilled" and rng.random() < 0.3:
                home_wall = "cavity_filled"  # retrofitted cavity wall insulation
            archetype = Archetype(home_year, home_wall, floor_level)
            home = _build_home(
                rng,
                uprn=uprn,
                address=address,
                postcode=street_postcodes[street],
                site=name,
                archetype=archetype,
                cause=causes[i],
                house=kind == "houses",
                outdoor=i == outdoor_index,
            )
            built_homes.append(home)
        built_sites.append(Site(name, town, district, kind, str(UPRN_BASE + outdoor_index + 1)))
    estate = Estate(seed, tuple(built_sites), tuple(built_homes))
    logger.debug(
        "built estate seed=%d: %d homes on %d sites, %d sensors",
        seed,
        homes,
        n_sites,
        len(estate.devices),
    )
    return estate


def _split_homes(homes: int, n_sites: int) -> list[int]:
    per_site = np.full(n_sites, homes // n_sites)
    per_site[: homes % n_sites] += 1
    return [s for s in range(n_sites) for _ in range(per_site[s])]


def _assign_causes(rng: np.random.Generator, homes: int) -> list[str]:
    n_damp = round(DAMP_PRONE_SHARE * homes)
    order = list(rng.permutation(len(CAUSES)))
    damp_causes = [CAUSES[order[k % len(CAUSES)]] for k in range(n_damp)]
    causes = damp_causes + ["none"] * (homes - n_damp)
    return [causes[k] for k in rng.permutation(homes)]


def _site_name(rng: np.random.Generator, areas: tuple[str, ...], kind: str, used: set[str]) -> str:
    for _ in range(100):
        area = str(rng.choice(areas))
        suffix = "Court" if kind == "flats" and rng.random() < 0.5 else str(rng.choice(_ESTATE_SUFFIXES))
        name = f"{area} {suffix}"
        if name not in used:
            used.add(name)
            return name
    name = f"{area} {suffix} {len(used) + 1}"
    used.add(name)
    return name


def _site_archetype(rng: np.random.Generator, kind: str) -> tuple[int, str]:
    if kind == "flats":
        year = int(rng.choice([1958, 1964, 1968, 1972, 1985, 2004]))
        if 1960 <= year <= 1975:
            return year, str(rng.choice(["system_built", "system_built", "cavity_unfilled"]))
        return year, "cavity_filled" if year > 1980 else "cavity_unfilled"
    year = int(rng.choice([1905, 1925, 1936, 1952, 1965, 1978, 1992, 2008]))
    if year < 1930:
        return year, "solid_brick"
    if year < 1980:
        return year, str(
            rng.choice(["cavity_unfilled", "cavity_filled", "solid_brick" if year < 1945 else "system_built"])
        )
    return year, str(rng.choice(["cavity_filled", "timber_frame"]))


def _postcode(rng: np.random.Generator, district: str) -> str:
    letters = rng.choice(list(_POSTCODE_UNIT_LETTERS), size=2)
    return f"{district} {int(rng.integers(1, 10))}{letters[0]}{letters[1]}"


def _household(rng: np.random.Generator, cause: str) -> Household:
    if cause == "high_moisture_load":
        size = int(rng.integers(5, 7))
    else:
        size = int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.29, 0.29, 0.17, 0.15, 0.07, 0.03]))
    child = size >= 3 and rng.random() < 0.8
    over_65 = size <= 2 and rng.random() < 0.35
    respiratory = rng.random() < 0.15

    def recorded(flag: bool) -> bool | None:
        return None if rng.random() < 0.1 else flag

    return Household(size, recorded(child), recorded(over_65), recorded(respiratory))


def _build_home(
    rng: np.random.Generator,
    *,
    uprn: str,
    address: str,
    postcode: str,
    site: str,
    archetype: Archetype,
    cause: str,
    house: bool,
    outdoor: bool,
) -> Home:
    household = _household(rng, cause)
    size = household.size
    bedrooms = 1 if size == 1 else 2 if size <= 3 else 3
    if size == 2 and rng.random() < 0.3:
        bedrooms = 1
    if house and bedrooms == 1:
        bedrooms = 2

    wall = archetype.wall_type
    home_daytime = bool(household.over_65) or rng.random() < 0.3

    # Heating and behaviour.
    setpoint = float(np.round(rng.uniform(18.5, 21.5), 1))
    pattern = "long" if home_daytime and rng.random() < 0.6 else "two_period"
    background = _BACKGROUND_ACH[wall] * rng.uniform(0.8, 1.2)
    window_probability = rng.uniform(0.2, 0.6)
    hood_use = rng.uniform(0.4, 0.8)
    dries_clothes = rng.random() < 0.25
    drying_probability = rng.uniform(0.1, 0.3) if dries_clothes else 0.0
    bath_fan = rng.random() < 0.9  # present
    bath_fan_working: bool | None = (rng.random() < 0.92) if bath_fan else None
    kitchen_fan_working: bool | None = rng.random() < 0.92
    leak_room: str | None = None
    leak_rate = 0.0
    cooking_scale = rng.uniform(0.8, 1.2)
    shower_probability = rng.uniform(0.6, 0.85)
    unheated_bedrooms = False
    f_shift = 0.0
    cold_rooms: set[str] = set()

    forms = np.random.default_rng([int(uprn), 14])
    form = str(forms.choice(CAUSE_FORMS[cause])) if cause in CAUSE_FORMS else ""
    weak_fan = False
    leak_pattern = "steady"
    if cause == "poor_ventilation":
        background *= rng.uniform(0.3, 0.4)
        bath_fan_working = False
        kitchen_fan_working = rng.random() < 0.3
        window_probability = rng.uniform(0.0, 0.05)
        hood_use = 0.0 if not kitchen_fan_working else rng.uniform(0.0, 0.2)
        if form == "no_fan":  # never had extraction: an older bathroom without a fan
            bath_fan_working = None
        elif form == "weak_fan":  # the fan runs but moves little air
            bath_fan_working, weak_fan = True, True
    elif cause == "high_moisture_load":
        dries_clothes = True
        drying_probability = rng.uniform(0.6, 0.9)
        shower_probability = rng.uniform(0.85, 1.0)
        cooking_scale = rng.uniform(1.3, 1.8)
        window_probability = rng.uniform(0.05, 0.25)
        background *= rng.uniform(0.75, 0.95)
        if form == "crowded":  # no washing dried indoors, but many people cooking and bathing
            drying_probability = float(forms.uniform(0.0, 0.15))
            cooking_scale = float(forms.uniform(1.6, 2.2))
    elif cause == "under_heating":
        if rng.random() < 0.7:
            setpoint = float(np.round(rng.uniform(14.0, 16.0), 1))
            pattern = "short" if rng.random() < 0.5 else "two_period"
        else:
            setpoint = float(np.round(rng.uniform(16.0, 17.5), 1))
            pattern = "short"
        unheated_bedrooms = rng.random() < 0.7
        window_probability = rng.uniform(0.0, 0.15)
        form = "low_setpoint" if setpoint < 16.0 else "short_heating"
    elif cause == "cold_fabric":
        cold_rooms = {"bedroom_1"} | ({"living_room"} if rng.random() < 0.5 else set())
        form = "two_rooms" if len(cold_rooms) == 2 else "one_room"
    elif cause == "leak":
        leak_room = str(
            rng.choice(["bathroom", "kitchen", "bedroom_1", "living_room"], p=[0.35, 0.25, 0.25, 0.15])
        )
        leak_rate = float(rng.uniform(50.0, 110.0))
        if form == "heating_pipe":  # wets the room only while the heating runs: a daily cycle
            leak_pattern = "heating"
            leak_rate *= float(forms.uniform(1.3, 1.8))
    else:
        f_shift = rng.uniform(0.0, 0.03)  # healthy homes lean slightly better-built

    # Rooms.
    specs: list[tuple[str, str, str, str]] = [  # name, room_type, slug, volume key
        ("Living room", "living_room", "living_room", "living_room"),
        ("Kitchen", "kitchen", "kitchen", "kitchen"),
        ("Bathroom", "bathroom", "bathroom", "bathroom"),
    ]
    for b in range(1, bedrooms + 1):
        specs.append((f"Bedroom {b}", "bedroom", f"bedroom_{b}", "bedroom_main" if b == 1 else "bedroom"))
    if house:
        specs.append(("Hallway", "hallway", "hallway", "hallway"))
    if rng.random() < 0.15:
        specs.append(("Box room", "other", "box_room", "other"))
    sensored = {"living_room", "kitchen", "bathroom", "bedroom_1"}

    dry_room = None
    if dries_clothes:
        dry_room = "living_room" if rng.random() < 0.6 else "bedroom_1"

    sleepers = _sleepers(size, bedrooms)
    damp_slugs = _damp_rooms(cause, [s[2] for s in specs], cold_rooms, leak_room, dry_room)
    rooms: list[Room] = []
    f_mean = _F_RSI_MEAN[wall] + f_shift
    for name, room_type, slug, volume_key in specs:
        low, high = _VOLUME_M3[volume_key]
        if slug in cold_rooms:
            f_rsi = rng.uniform(0.42, 0.55)
        else:
            f_rsi = float(np.clip(rng.normal(f_mean, 0.03), 0.62, 0.9))
        fan_working = None
        if room_type == "bathroom":
            fan_working = bath_fan_working
        elif room_type == "kitchen":
            fan_working = kitchen_fan_working
        fan_low, fan_high = _FAN_ACH_PER_H.get(room_type, (0.0, 0.0))
        heated = not (unheated_bedrooms and room_type == "bedroom")
        fan_rate = float(rng.uniform(fan_low, fan_high)) if fan_high else 0.0
        if weak_fan and room_type == "bathroom":
            fan_rate = float(forms.uniform(*WEAK_FAN_ACH_PER_H))
        room_setpoint = round(setpoint + _SETPOINT_OFFSET_K[room_type], 1) if heated else None
        rooms.append(
            Room(
                name=name,
                room_type=room_type,
                slug=slug,
                volume_m3=float(np.round(rng.uniform(low, high), 1)),
                device_id=device_id_for(uprn, slug) if slug in sensored else None,
                f_rsi=float(np.round(f_rsi, 3)),
                fan_working=fan_working,
                fan_ach_per_h=fan_rate,
                heated=heated,
                setpoint_c=room_setpoint,
                sleepers=sleepers.get(slug, 0),
                damp_prone=slug in damp_slugs,
            )
        )
    if outdoor:
        rooms.append(
            Room(
                "Outdoor",
                "outdoor",
                "outdoor",
                0.0,
                device_id_for(uprn, "outdoor"),
                None,
                None,
                0.0,
                False,
                None,
                0,
                False,
            )
        )

    flat_gain = 1.0 if archetype.floor_level not in (None, 0) else 0.0
    behaviour = Behaviour(
        setpoint_c=setpoint,
        heating_pattern=pattern,
        home_daytime=home_daytime,
        shower_probability=float(shower_probability),
        dries_clothes=dries_clothes,
        drying_probability=float(drying_probability),
        dry_room=dry_room,
        window_probability=float(window_probability),
        hood_use_probability=float(hood_use),
        background_ach_per_h=float(background),
        time_constant_h=float(_TIME_CONSTANT_H[wall] * rng.uniform(0.85, 1.15)),
        internal_gain_k=float(rng.uniform(1.5, 2.5) + flat_gain),
        leak_room=leak_room,
        leak_g_per_h=leak_rate,
        cooking_scale=float(cooking_scale),
        form=form,
        leak_pattern=leak_pattern,
    )
    return Home(uprn, address, postcode, site, archetype, household, tuple(rooms), cause, behaviour)


def _sleepers(size: int, bedrooms: int) -> dict[str, int]:
    main = min(2, size) if bedrooms > 1 else size
    rest = size - main
    out = {"bedroom_1": main}
    for b in range(2, bedrooms + 1):
        share = rest // (bedrooms - 1) + (1 if (b - 2) < rest % (bedrooms - 1) else 0)
        out[f"bedroom_{b}"] = share
    return out


def _damp_rooms(
    cause: str, slugs: list[str], cold_rooms: set[str], leak_room: str | None, dry_room: str | None
) -> set[str]:
    if cause == "poor_ventilation":
        return {s for s in slugs if s in ("bathroom", "kitchen") or s.startswith("bedroom")}
    if cause == "high_moisture_load":
        return {s for s in slugs if s != "hallway"}
    if cause == "under_heating":
        return {s for s in slugs if s == "living_room" or s.startswith("bedroom")}
    if cause == "cold_fabric":
        return set(cold_rooms)
    if cause == "leak" and leak_room:
        return {leak_room}
    return set()


def write_estate_csv(estate: Estate, path: str | Path) -> Path:
    """Write the estate in the asset-register import format, one row per room.

    Parameters
    ----------
    estate : Estate
        The estate.
    path : str or pathlib.Path
        Where to write the CSV.

    Returns
    -------
    pathlib.Path
        The path written. The header is :data:`ESTATE_CSV_COLUMNS`; property
        columns repeat on each room's row; ``floor_level`` is blank for a
        house; ``temperature_factor`` is blank (the register does not know it);
        vulnerability columns are ``yes``, ``no`` or blank; ``device_id`` is
        blank for a room without a sensor.
    """
    path = Path(path)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ESTATE_CSV_COLUMNS)
        for home in estate.homes:
            arch, hh = home.archetype, home.household
            for room in home.rooms:
                writer.writerow(
                    [
                        home.uprn,
                        home.address,
                        home.postcode,
                        home.site,
                        arch.build_year,
                        arch.wall_type,
                        "" if arch.floor_level is None else arch.floor_level,
                        "",
                        _yes_no(hh.child_under_15),
                        _yes_no(hh.over_65),
                        _yes_no(hh.respiratory_condition),
                        room.name,
                        room.room_type,
                        room.device_id or "",
                    ]
                )
                rows += 1
    logger.info("wrote %d rooms of %d homes to %s", rows, len(estate.homes), path)
    return path


def _yes_no(flag: bool | None) -> str:
    return "" if flag is None else "yes" if flag else "no"
