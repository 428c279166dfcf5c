"""Duration conditions and hysteresis on crafted series: rules raise late enough and never flap."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from alerts.rules import Hysteresis, RuleState, observe

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def run(rule: Hysteresis, values, step: dt.timedelta = HOUR, state: RuleState | None = None):
    """Feed hourly values; return the state and the (index, transition) list."""
    state = state or RuleState()
    transitions = []
    for i, value in enumerate(values):
        change = observe(state, value, T0 + i * step, rule)
        if change:
            transitions.append((i, change))
    return state, transitions


def test_a_value_hovering_at_the_threshold_does_not_flap():
    """Noise of ±2 around the raise level raises once and never clears while it stays above the clear level."""
    rng = np.random.default_rng(1)
    values = 80 + rng.uniform(-2, 2, 24 * 14)
    rule = Hysteresis(raise_at=80, clear_at=70, raise_after=3 * HOUR, clear_after=24 * HOUR)
    _, transitions = run(rule, values)
    assert len(transitions) == 1
    assert transitions[0][1] == "raise"


def test_without_hysteresis_the_same_series_would_flap():
    """The same noise with no gap between the levels and no durations flaps dozens of times (the control)."""
    rng = np.random.default_rng(1)
    values = 80 + rng.uniform(-2, 2, 24 * 14)
    _, transitions = run(Hysteresis(raise_at=80, clear_at=80), values)
    assert len(transitions) > 50


@pytest.mark.parametrize(
    ("hours_above", "raised"),
    [(71, False), (72, False), (73, True), (100, True)],
)
def test_raises_only_after_the_condition_held_for_its_duration(hours_above, raised):
    """"Above 80 % for 72 hours": hourly samples from hour 0 to hour 72 span 72 h; 72 samples are not enough."""
    rule = Hysteresis(raise_at=80, clear_at=70, raise_after=72 * HOUR)
    state, transitions = run(rule, [85.0] * hours_above)
    assert state.raised is raised
    if raised:
        assert transitions == [(72, "raise")]


def test_a_dip_below_the_raise_level_restarts_the_duration():
    """70 hours above, one hour below, then above again: the 72 hours count from after the dip."""
    rule = Hysteresis(raise_at=80, clear_at=70, raise_after=72 * HOUR)
    values = [85.0] * 70 + [79.0] + [85.0] * 73
    _, transitions = run(rule, values)
    assert transitions == [(71 + 72, "raise")]


def test_clearing_needs_the_clear_level_for_the_minimum_time():
    """Once raised, values between the levels keep it raised; below the clear level it clears after clear_after."""
    rule = Hysteresis(raise_at=80, clear_at=70, clear_after=6 * HOUR)
    values = [85.0] + [75.0] * 48 + [65.0] * 6 + [75.0] + [65.0] * 7
    state, transitions = run(rule, values)
    assert transitions == [(0, "raise"), (1 + 48 + 6 + 1 + 6, "clear")]
    assert state.raised is False


def test_missing_values_neither_raise_nor_clear_nor_break_a_run():
    """None is no information: a gap inside a damp spell does not restart the duration."""
    rule = Hysteresis(raise_at=80, clear_at=70, raise_after=4 * HOUR)
    state, transitions = run(rule, [85.0, 85.0, None, None, 85.0])
    assert transitions == [(4, "raise")]
    state, transitions = run(rule, [None] * 10, state=state)
    assert transitions == [] and state.raised


def test_rules_on_low_values():
    """A battery rule raises at or below its level and clears above the higher clear level."""
    rule = Hysteresis(raise_at=2.6, clear_at=2.8, raise_after=2 * HOUR, clear_after=HOUR, direction="below")
    _, transitions = run(rule, [2.7, 2.6, 2.55, 2.58, 2.7, 2.75, 2.65, 2.9, 2.95])
    assert transitions == [(3, "raise"), (8, "clear")]


def test_observations_already_taken_in_are_ignored():
    """Offering the same series again (a restart, a repeated run) changes nothing."""
    rule = Hysteresis(raise_at=80, clear_at=70, raise_after=2 * HOUR, clear_after=6 * HOUR)
    state, first = run(rule, [85.0] * 5)
    again = RuleState(**vars(state))
    _, second = run(rule, [85.0] * 5 + [60.0] * 3, state=again)
    assert first == [(2, "raise")]
    assert second == []  # the first five are old; three low hours are not 6 h
    assert again.clear_since == T0 + 5 * HOUR


def test_an_observation_over_a_span_counts_its_whole_span():
    """Three damp days, each one observation from 00:00 to 24:00, complete 72 hours at the end of the third."""
    rule = Hysteresis(raise_at=0.75, clear_at=0.5, raise_after=72 * HOUR)
    state = RuleState()
    day = dt.timedelta(days=1)
    results = [observe(state, 0.9, T0 + i * day, rule, until=T0 + (i + 1) * day) for i in range(3)]
    assert results == [None, None, "raise"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"raise_at": 70, "clear_at": 80}, "clear_at must not be above"),
        ({"raise_at": 2.8, "clear_at": 2.6, "direction": "below"}, "clear_at must not be below"),
        ({"raise_at": 1, "clear_at": 0, "direction": "sideways"}, "direction must be"),
        ({"raise_at": 1, "clear_at": 0, "raise_after": -HOUR}, "cannot be negative"),
    ],
)
def test_inconsistent_levels_are_refused(kwargs, message):
    """Levels that would make a rule flap or never clear are a ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        Hysteresis(**kwargs)
