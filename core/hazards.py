"""The one table of HHSRS hazards that cases carry, and when Awaab's Law covers each.

The Housing Health and Safety Rating System (England) Regulations 2005 (SI 2005/3208, Schedule 1) list 29
hazards in four groups. The Hazards in Social Housing (Prescribed Requirements) (England) Regulations 2025
(SI 2025/1042, "Awaab's Law") bring them in by phase:

- phase 1, from 27 October 2025: significant damp and mould hazards, and **every** hazard (except crowding
  and space) when it is an emergency hazard;
- phase 2, in 2026: excess cold, excess heat, falls (baths, level surfaces, stairs, between levels),
  structural collapse, explosions, fire, flames and hot surfaces, electrical hazards, domestic hygiene,
  food safety, personal hygiene and sanitation (as significant hazards);
- phase 3, in 2027: the rest, except crowding and space.

Which phases are in force is a property of the clock profile (``core.clock_profiles``), not of this table,
because the dates of phases 2 and 3 were announced, not yet enacted, when this was written.

Each row has a stable code (what the app database, the API and the export use), the HHSRS number and name,
the MHCLG/HACT data model's ``hazard_type`` name and category, and its phase. Only the data lives here.
"""

from __future__ import annotations

import dataclasses
from typing import Final

__all__ = [
    "HAZARDS",
    "HAZARD_CODES",
    "HAZARD_SEVERITIES",
    "Hazard",
    "UnknownHazard",
    "hazard",
]

HAZARD_SEVERITIES: Final[tuple[str, ...]] = ("high", "medium", "low")
"""A hazard's severity on a case, as the data model's ``severity`` code list (High, Medium, Low)."""


class UnknownHazard(ValueError):
    """A hazard code that is not in :data:`HAZARDS`."""


@dataclasses.dataclass(frozen=True)
class Hazard:
    """One HHSRS hazard.

    Attributes
    ----------
    code : str
        Stable code (``damp_and_mould``).
    number : int
        Its number in SI 2005/3208 Schedule 1 (1 to 29).
    name : str
        Its name as the HHSRS Operating Guidance gives it, in words for a page.
    category : str
        The HHSRS group (the data model's ``hazard_type.category``).
    phase : int
        The Awaab's Law phase in which it is covered as a *significant* hazard (0: never, i.e. crowding).
    emergency_in_scope : bool
        Whether an emergency hazard of this kind is covered from phase 1 (every hazard but crowding).
    sensor_visible : bool
        Whether DampWatch's temperature and humidity sensors give evidence of it.
    """

    code: str
    number: int
    name: str
    category: str
    phase: int
    emergency_in_scope: bool = True
    sensor_visible: bool = False


_PHYSIOLOGICAL = "Physiological requirements"
_PSYCHOLOGICAL = "Psychological requirements"
_INFECTION = "Protection against infection"
_ACCIDENTS = "Protection against accidents"

HAZARDS: Final[tuple[Hazard, ...]] = (
    Hazard("damp_and_mould", 1, "Damp and mould growth", _PHYSIOLOGICAL, 1, sensor_visible=True),
    Hazard("excess_cold", 2, "Excess cold", _PHYSIOLOGICAL, 2, sensor_visible=True),
    Hazard("excess_heat", 3, "Excess heat", _PHYSIOLOGICAL, 2, sensor_visible=True),
    Hazard("asbestos_and_mmf", 4, "Asbestos and manufactured mineral fibres", _PHYSIOLOGICAL, 3),
    Hazard("biocides", 5, "Biocides", _PHYSIOLOGICAL, 3),
    Hazard("carbon_monoxide", 6, "Carbon monoxide and fuel combustion products", _PHYSIOLOGICAL, 3),
    Hazard("lead", 7, "Lead", _PHYSIOLOGICAL, 3),
    Hazard("radiation", 8, "Radiation", _PHYSIOLOGICAL, 3),
    Hazard("uncombusted_fuel_gas", 9, "Uncombusted fuel gas", _PHYSIOLOGICAL, 3),
    Hazard("volatile_organic_compounds", 10, "Volatile organic compounds", _PHYSIOLOGICAL, 3),
    Hazard("crowding_and_space", 11, "Crowding and space", _PSYCHOLOGICAL, 0, emergency_in_scope=False),
    Hazard("entry_by_intruders", 12, "Entry by intruders", _PSYCHOLOGICAL, 3),
    Hazard("lighting", 13, "Lighting", _PSYCHOLOGICAL, 3),
    Hazard("noise", 14, "Noise", _PSYCHOLOGICAL, 3),
    Hazard("domestic_hygiene", 15, "Domestic hygiene, pests and refuse", _INFECTION, 2),
    Hazard("food_safety", 16, "Food safety", _INFECTION, 2),
    Hazard("personal_hygiene", 17, "Personal hygiene, sanitation and drainage", _INFECTION, 2),
    Hazard("water_supply", 18, "Water supply", _INFECTION, 3),
    Hazard("falls_baths", 19, "Falls associated with baths etc", _ACCIDENTS, 2),
    Hazard("falls_level", 20, "Falling on level surfaces etc", _ACCIDENTS, 2),
    Hazard("falls_stairs", 21, "Falling on stairs etc", _ACCIDENTS, 2),
    Hazard("falls_between_levels", 22, "Falling between levels", _ACCIDENTS, 2),
    Hazard("electrical", 23, "Electrical hazards", _ACCIDENTS, 2),
    Hazard("fire", 24, "Fire", _ACCIDENTS, 2),
    Hazard("flames_hot_surfaces", 25, "Flames, hot surfaces etc", _ACCIDENTS, 2),
    Hazard("collision_entrapment", 26, "Collision and entrapment", _ACCIDENTS, 3),
    Hazard("explosions", 27, "Explosions", _ACCIDENTS, 2),
    Hazard("amenities", 28, "Position and operability of amenities etc", _ACCIDENTS, 3),
    Hazard("structural_collapse", 29, "Structural collapse and falling elements", _ACCIDENTS, 2),
)

HAZARD_CODES: Final[tuple[str, ...]] = tuple(h.code for h in HAZARDS)
_BY_CODE: Final[dict[str, Hazard]] = {h.code: h for h in HAZARDS}


def hazard(code: str) -> Hazard:
    """The hazard with ``code``; :class:`UnknownHazard` naming the known codes otherwise."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise UnknownHazard(f"hazard {code!r} is not an HHSRS hazard code; use one of: {', '.join(HAZARD_CODES)}") \
            from None
