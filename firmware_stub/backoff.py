"""Capped exponential backoff with jitter for reconnecting to Wi-Fi and the broker.

After the n-th failed attempt in a row (n = 0 for the first) the device waits

    ceiling = min(cap_s, base_s * 2**n)
    delay   = ceiling / 2 + jitter,   jitter uniform in [0, ceiling / 2)

("equal jitter"): the wait grows, never exceeds the cap, is never zero, and
differs from device to device, so a whole estate coming back after a broker
outage does not reconnect in the same second. A sleeping device counts the
wait down by the time it sleeps and keeps measuring (into its buffer) in
between, so the backoff spares the battery, not the readings.
"""

import random


def ceiling_s(failures, base_s, cap_s):
    """The un-jittered wait after ``failures`` + 1 failed attempts: ``min(cap_s, base_s * 2**failures)``."""
    ceiling = base_s
    for _ in range(failures):
        if ceiling >= cap_s:
            break
        ceiling *= 2
    return min(ceiling, cap_s)


def delay_s(failures, base_s, cap_s, rand16=None):
    """Seconds to wait before the next attempt, jittered by ``rand16`` (0..65535; random when None)."""
    if rand16 is None:
        rand16 = random.getrandbits(16)
    ceiling = ceiling_s(failures, base_s, cap_s)
    half = ceiling // 2
    return ceiling - half + (half * rand16) // 65536
