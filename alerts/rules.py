"""The pure logic of an alarm rule: a duration condition with hysteresis, over a series of observations.

A rule watches one number per subject (a home's risk score, the hours a sensor has been silent, a
battery's voltage, ...). It is *raised* when the number has been at or beyond the raise level for at least
``raise_after``, and *cleared* only when it has been back beyond a second, gentler level for at least
``clear_after``. Between the two levels nothing changes, so a value hovering at a threshold does not make
the alarm flap::

            raise_at ─────────────  value must stay here ``raise_after`` to raise
            clear_at ─────────────  ... and below here ``clear_after`` to clear

An observation covers a span of time: ``at`` is when it starts to hold and ``until`` (default ``at``) when
it was last known to hold. A day of readings is one observation from 00:00 to 24:00; a reading of the
device health table is an instant. A missing value (``None``) is no information: it neither raises nor
clears, and it does not break a run of qualifying observations.

Nothing here touches the database: :class:`RuleState` is a small value object that
:mod:`alerts.engine` loads from and saves to the ``alarm_rule_state`` table, so rules survive restarts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Final, Literal

__all__ = ["Hysteresis", "RuleState", "Transition", "observe"]

Transition = Literal["raise", "clear"]

ZERO: Final = dt.timedelta(0)


@dataclasses.dataclass(frozen=True)
class Hysteresis:
    """When a rule raises and when it clears.

    Parameters
    ----------
    raise_at : float
        The value at (or beyond) which the raise condition holds.
    clear_at : float
        The value beyond which (on the other side) the clear condition holds; for ``direction="above"``
        it must be below ``raise_at``, for ``"below"`` above it.
    raise_after : datetime.timedelta
        How long the raise condition must hold before the rule raises (0: at once).
    clear_after : datetime.timedelta
        How long the clear condition must hold before a raised rule clears: the minimum time before
        clearing.
    direction : {"above", "below"}
        ``"above"``: high values are bad (raise when ``value >= raise_at``, clear when
        ``value < clear_at``). ``"below"``: low values are bad (raise when ``value <= raise_at``, clear
        when ``value > clear_at``).
    """

    raise_at: float
    clear_at: float
    raise_after: dt.timedelta = ZERO
    clear_after: dt.timedelta = ZERO
    direction: Literal["above", "below"] = "above"

    def __post_init__(self) -> None:
        if self.direction not in ("above", "below"):
            raise ValueError(f"direction must be 'above' or 'below', not {self.direction!r}")
        if self.direction == "above" and not self.clear_at <= self.raise_at:
            raise ValueError("for a rule on high values, clear_at must not be above raise_at")
        if self.direction == "below" and not self.clear_at >= self.raise_at:
            raise ValueError("for a rule on low values, clear_at must not be below raise_at")
        if self.raise_after < ZERO or self.clear_after < ZERO:
            raise ValueError("raise_after and clear_after cannot be negative")

    def raising(self, value: float) -> bool:
        """True when ``value`` meets the raise condition."""
        return value >= self.raise_at if self.direction == "above" else value <= self.raise_at

    def clearing(self, value: float) -> bool:
        """True when ``value`` meets the clear condition."""
        return value < self.clear_at if self.direction == "above" else value > self.clear_at


@dataclasses.dataclass
class RuleState:
    """Where a rule stands for one subject.

    Attributes
    ----------
    raised : bool
        Whether the rule is raised.
    condition_since : datetime.datetime or None
        While not raised: since when the raise condition has held without a break (None: it does not).
    clear_since : datetime.datetime or None
        While raised: since when the clear condition has held without a break (None: it does not).
    last_value : float or None
        The last value taken in.
    last_at : datetime.datetime or None
        The end of the last observation taken in; older observations are ignored (so the same data
        can be offered again after a restart without double counting).
    """

    raised: bool = False
    condition_since: dt.datetime | None = None
    clear_since: dt.datetime | None = None
    last_value: float | None = None
    last_at: dt.datetime | None = None


def observe(
    state: RuleState,
    value: float | None,
    at: dt.datetime,
    rule: Hysteresis,
    *,
    until: dt.datetime | None = None,
) -> Transition | None:
    """Take in one observation; update ``state`` in place and say whether the rule raised or cleared.

    Parameters
    ----------
    state : RuleState
        The subject's state (changed in place).
    value : float or None
        The observed value; None means no information (nothing changes but ``last_at``).
    at : datetime.datetime
        When the observation starts to hold (tz-aware).
    rule : Hysteresis
        The levels and durations.
    until : datetime.datetime, optional
        When it was last known to hold (default ``at``); durations are measured up to here.

    Returns
    -------
    "raise", "clear" or None
        "raise" when this observation completes the raise condition's duration, "clear" when it
        completes the clear condition's; None otherwise (including observations older than
        ``state.last_at``, which are ignored).
    """
    until = at if until is None else until
    if until < at:
        raise ValueError("an observation cannot end before it starts")
    if state.last_at is not None and until <= state.last_at:
        return None
    state.last_at = until
    if value is None:
        return None
    state.last_value = float(value)
    if not state.raised:
        if not rule.raising(value):
            state.condition_since = None
            return None
        if state.condition_since is None:
            state.condition_since = at
        if until - state.condition_since >= rule.raise_after:
            state.raised = True
            state.condition_since = None
            state.clear_since = None
            return "raise"
        return None
    if not rule.clearing(value):
        state.clear_since = None
        return None
    if state.clear_since is None:
        state.clear_since = at
    if until - state.clear_since >= rule.clear_after:
        state.raised = False
        state.clear_since = None
        state.condition_since = None
        return "clear"
    return None
