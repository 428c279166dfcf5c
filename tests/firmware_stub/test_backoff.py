"""Reconnect backoff: grows, is capped, is jittered, and spares the radio while the network is down."""

from __future__ import annotations

import itertools
import random

import pytest

from firmware_stub.backoff import ceiling_s, delay_s
from firmware_stub.sim_hw import SimNetwork


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        (0, 60),
        (1, 120),
        (2, 240),
        (3, 480),
        (4, 960),
        (5, 1920),
        (6, 3600),
        (7, 3600),
        (50, 3600),
        (10_000, 3600),
    ],
)
def test_ceiling_doubles_up_to_the_cap(failures: int, expected: int) -> None:
    """The un-jittered wait doubles with each failure and stops at the cap."""
    assert ceiling_s(failures, 60, 3600) == expected


@pytest.mark.parametrize("failures", [0, 1, 3, 6, 20])
@pytest.mark.parametrize("rand16", [0, 1, 32768, 65535])
def test_delay_stays_between_half_and_the_ceiling(failures: int, rand16: int) -> None:
    """Equal jitter: the delay is in [ceiling/2, ceiling], never zero and never above the cap."""
    ceiling = ceiling_s(failures, 60, 3600)
    delay = delay_s(failures, 60, 3600, rand16)
    assert ceiling / 2 <= delay <= ceiling <= 3600
    assert isinstance(delay, int)


def test_delay_grows_for_the_same_jitter() -> None:
    """With the jitter held still, every further failure waits longer until the cap."""
    delays = [delay_s(n, 60, 3600, 40_000) for n in range(7)]
    assert delays == sorted(delays)
    assert len(set(delays)) == len(delays)


def test_delay_is_jittered() -> None:
    """Random delays for the same failure count differ and spread over the jitter range."""
    random.seed(2026)
    delays = [delay_s(6, 60, 3600) for _ in range(500)]
    assert len(set(delays)) > 100
    assert min(delays) < 1900 < 3400 < max(delays)


@pytest.mark.parametrize(("base_s", "cap_s"), [(1, 1), (1, 2), (5, 7)])
def test_tiny_settings_never_wait_zero(base_s: int, cap_s: int) -> None:
    """Even a one-second base and cap waits at least one second."""
    assert all(delay_s(n, base_s, cap_s, r) >= 1 for n in range(5) for r in (0, 65535))


def test_offline_device_backs_off_its_wifi_attempts(make_device, offline_network: SimNetwork) -> None:
    """While the network is down the device keeps measuring every wake but tries Wi-Fi less and less often."""
    device = make_device(offline_network, interval_s=600, backoff_base_s=60, backoff_cap_s=3600)
    attempt_wakes = []
    for wake in range(60):
        before = offline_network.wifi_attempts
        device.wake()
        if offline_network.wifi_attempts > before:
            attempt_wakes.append(wake)
    gaps = [b - a for a, b in itertools.pairwise(attempt_wakes)]
    assert gaps[:4] == [1, 1, 1, 1]  # waits under one interval: try again at the next wake
    assert max(gaps) > 2  # it grew
    assert max(gaps) <= 3600 // 600 + 1  # and is capped
    assert device.buffered() == 60  # no reading was skipped
