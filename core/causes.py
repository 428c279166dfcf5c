"""The one table of damp causes that every box reads.

A cause has a code (what analytics names, the simulator hides in its homes, the dashboard filters on and
the API returns), the code an inspector records as a finding's likely cause, the key of its words in
``analytics/wording.toml`` (sections ``[cause]``, ``[help]`` and ``[reason]``) and the tenant message it
sends (a section of every language file in ``alerts/templates/tenant``). ``tests/core/test_causes.py`` ties
every row to its words in every language, so a cause cannot be added in one place and forgotten in another.

Only the data lives here; the words themselves stay in their template files.
"""

from __future__ import annotations

import dataclasses
from typing import Final

__all__ = [
    "CAUSES",
    "CAUSE_TABLE",
    "FINDING_CAUSES",
    "UNKNOWN_CAUSE_FINDINGS",
    "Cause",
    "UnknownCause",
    "cause",
    "cause_from_finding",
    "check_cause",
]


class UnknownCause(ValueError):
    """A cause code that is not in :data:`CAUSE_TABLE`."""


@dataclasses.dataclass(frozen=True)
class Cause:
    """One damp cause.

    Attributes
    ----------
    code : str
        The code analytics, the simulator, the dashboard and the API use (``poor_ventilation``).
    finding_code : str
        The code an inspector records as a finding's likely cause (``ventilation``).
    tenant_message : str
        The tenant message type sent for this cause (a section of each tenant language file).
    reason_key : str
        The ``[reason]`` template that states the evidence for this cause.
    fabric : bool
        True for causes in the building (the landlord's repair), False for how the home is heated and aired.
    """

    code: str
    finding_code: str
    tenant_message: str
    reason_key: str
    fabric: bool


CAUSE_TABLE: Final[tuple[Cause, ...]] = (
    Cause("poor_ventilation", "ventilation", "ventilation", "ventilation_slow", True),
    Cause("high_moisture_load", "moisture_load", "moisture_load", "moisture_load", False),
    Cause("under_heating", "under_heating", "under_heating", "cold_home", False),
    Cause("cold_fabric", "cold_fabric", "damp_risk", "cold_fabric", True),
    Cause("leak", "leak", "possible_leak", "leak", True),
)
"""Every damp cause, in the order lists show them."""

CAUSES: Final[tuple[str, ...]] = tuple(row.code for row in CAUSE_TABLE)
"""The cause codes."""

UNKNOWN_CAUSE_FINDINGS: Final[tuple[str, ...]] = ("other", "unknown")
"""Finding codes an inspector may record that name no cause of the table."""

FINDING_CAUSES: Final[tuple[str, ...]] = tuple(row.finding_code for row in CAUSE_TABLE) + UNKNOWN_CAUSE_FINDINGS
"""Every likely cause an inspection finding may record."""

_BY_CODE: Final = {row.code: row for row in CAUSE_TABLE}
_BY_FINDING: Final = {row.finding_code: row for row in CAUSE_TABLE}


def cause(code: str) -> Cause:
    """The row of a cause code; raises :class:`UnknownCause` naming the known codes."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise UnknownCause(f"unknown cause {code!r}; use one of: {', '.join(CAUSES)}") from None


def check_cause(code: str) -> str:
    """``code`` itself if it is a known cause code (or an inspector's finding code, translated); else raise.

    Raises
    ------
    UnknownCause
        Naming the accepted codes.
    """
    if code in _BY_CODE:
        return code
    if code in _BY_FINDING:
        return _BY_FINDING[code].code
    raise UnknownCause(f"unknown cause {code!r}; use one of: {', '.join(CAUSES)} (or 'none' for a healthy home)")


def cause_from_finding(finding_code: str) -> str:
    """The cause code of an inspector's finding code; ``""`` for ``other`` and ``unknown``.

    Raises
    ------
    UnknownCause
        If the finding code is not one of :data:`FINDING_CAUSES`.
    """
    if finding_code in UNKNOWN_CAUSE_FINDINGS:
        return ""
    try:
        return _BY_FINDING[finding_code].code
    except KeyError:
        raise UnknownCause(f"unknown likely cause {finding_code!r}; use one of: {', '.join(FINDING_CAUSES)}") \
            from None
