"""Clock profiles: which rules set a case's deadlines, so each case records the rules it was judged by.

A profile holds every number the step clocks use (``core.cases.step_clocks``). Three are built in:

``england_social``
    The Hazards in Social Housing (Prescribed Requirements) (England) Regulations 2025 (SI 2025/1042) and
    MHCLG's guidance for social landlords: emergency hazards investigated and made safe within 24 hours;
    significant hazards investigated within 10 working days of the landlord becoming aware, a written
    summary within 3 working days of the investigation concluding, relevant safety work within 5 working
    days of it concluding, supplementary preventative work begun within 5 working days or, where that is
    not reasonably practicable, within 12 weeks. Sources differ on whether safety work must *begin* or be
    *complete* within the 5 days: ``safety_work`` says which reading the profile takes ("begin" here, as
    the Regulations' "relevant safety work ... begun"; set "complete" to hold yourself to the stricter one).
``wales_whqs``
    The Welsh Housing Quality Standard 2023 asks each landlord to publish its own hazard response times
    and report against them in the WHQS return; nothing is prescribed, so every number is configurable.
    The defaults are the England figures until the landlord sets its own.
``other``
    Any other landlord (private renting: the Renters' Rights Act 2025 lets Awaab's Law be applied later,
    with no date yet): a configurable copy of the England numbers.

Working days are those of England and Wales (``core.workdays``). A profile's ``rules_version`` is stored on
each case when it opens, so a later change of profile or of the law never rewrites an old case's deadlines.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from core.errors import ConfigError

__all__ = ["BUILT_IN", "DEFAULT_PROFILE", "ClockProfile", "configured_profile", "load_profiles", "profile"]

SAFETY_WORK_READINGS: Final = ("begin", "complete")


@dataclasses.dataclass(frozen=True)
class ClockProfile:
    """The numbers behind the step clocks of a case (days are working days unless said otherwise)."""

    name: str
    label: str
    rules_version: str
    emergency_hours: int = 24
    investigate_working_days: int = 10
    summary_working_days: int = 3
    safety_working_days: int = 5
    safety_work: str = "begin"
    preventative_working_days: int = 5
    backstop_weeks: int = 12
    phases_in_force: tuple[int, ...] = (1, 2)
    """Phases of ``core.hazards`` whose hazards have statutory clocks as significant hazards."""

    def __post_init__(self) -> None:
        for field in ("emergency_hours", "investigate_working_days", "summary_working_days",
                      "safety_working_days", "preventative_working_days", "backstop_weeks"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 366:
                raise ConfigError(f"clock profile {self.name!r}: {field} must be a whole number from 0 to 366, "
                                  f"not {value!r}")
        if self.safety_work not in SAFETY_WORK_READINGS:
            raise ConfigError(f"clock profile {self.name!r}: safety_work must be 'begin' or 'complete', "
                              f"not {self.safety_work!r}")
        if not self.rules_version.strip():
            raise ConfigError(f"clock profile {self.name!r}: give a rules_version (for example 'WHQS 2023, v1')")

    def with_overrides(self, values: Mapping[str, Any]) -> ClockProfile:
        """A copy with some numbers changed; unknown keys are refused with the list of known ones."""
        known = {f.name for f in dataclasses.fields(self)} - {"name"}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"clock profile {self.name!r}: unknown setting(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(known))}")
        changes = dict(values)
        if "phases_in_force" in changes:
            changes["phases_in_force"] = tuple(int(p) for p in changes["phases_in_force"])
        return dataclasses.replace(self, **changes)


ENGLAND_SOCIAL: Final = ClockProfile(
    name="england_social",
    label="England, social housing (Awaab's Law)",
    rules_version="SI 2025/1042 (phase 1 27 Oct 2025; phase 2 hazards 2026)",
)
WALES_WHQS: Final = ClockProfile(
    name="wales_whqs",
    label="Wales, WHQS 2023 published response times",
    rules_version="WHQS 2023 (landlord's published response times; defaults not yet set)",
)
OTHER: Final = ClockProfile(
    name="other",
    label="Other landlord (voluntary Awaab's Law timescales)",
    rules_version="Voluntary, England timescales",
)
BUILT_IN: Final[dict[str, ClockProfile]] = {p.name: p for p in (ENGLAND_SOCIAL, WALES_WHQS, OTHER)}
DEFAULT_PROFILE: Final = ENGLAND_SOCIAL.name


def load_profiles(path: Path | None = None) -> dict[str, ClockProfile]:
    """The built-in profiles, with a JSON file's changes applied (``{"wales_whqs": {"investigate_working_days": 20,
    "rules_version": "Our WHQS response times 2026"}}``). The England profile is the law and cannot be changed."""
    profiles = dict(BUILT_IN)
    if path is None:
        return profiles
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read clock profiles from {path}: {exc}; give a JSON object of profile "
                          "name to settings") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"clock profiles file {path} must hold a JSON object of profile name to settings")
    for name, values in data.items():
        if name == ENGLAND_SOCIAL.name:
            raise ConfigError("the england_social profile is set by the Regulations and cannot be changed; "
                              "configure wales_whqs or other instead")
        if name not in profiles or not isinstance(values, dict):
            raise ConfigError(f"clock profiles file {path}: {name!r} is not one of wales_whqs, other "
                              "(or its value is not an object)")
        profiles[name] = profiles[name].with_overrides(values)
    return profiles


def profile(name: str | None, profiles: Mapping[str, ClockProfile] | None = None) -> ClockProfile:
    """The profile called ``name`` (None: the England one, which every case opened before profiles had)."""
    table = profiles if profiles is not None else BUILT_IN
    key = name or DEFAULT_PROFILE
    try:
        return table[key]
    except KeyError:
        raise ConfigError(f"clock profile {key!r} is unknown; use one of: {', '.join(table)}") from None


def configured_profile(settings: Any = None) -> ClockProfile:
    """The profile new cases follow: ``DAMPWATCH_CLOCK_PROFILE`` with ``DAMPWATCH_CLOCK_PROFILES_FILE``'s changes."""
    if settings is None:
        from core.settings import load_settings

        settings = load_settings()
    return profile(settings.clock_profile, load_profiles(settings.clock_profiles_file))
