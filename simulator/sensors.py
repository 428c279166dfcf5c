"""Sensors that behave like real ones: accuracy, noise, resolution, batteries and faults.

A :class:`SensorReadings` holds, for every device and every reading slot of
the window, what the device measured, what it stamped and what became of the
reading (:data:`LIVE`, dropped, buffered while offline, glitched). Payloads
follow the native contract of ``shared/DESIGN.md`` exactly.

Faults, all deterministic from the seed: dropped messages (a gap in ``seq``),
offline spells sent later as ``{"readings": [...]}`` batches (each at most
500 readings and 64 KiB), duplicate sends, stuck sensors (one value repeated
for hours, still valid), out-of-range glitches (temperature 130 or -55 °C,
humidity 104 or -3 %), a far-future timestamp (year 2099) and clock skew (a
device's stamps off by a constant tens of seconds).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import numpy as np

from simulator import constants as C

logger = logging.getLogger(__name__)

#: What became of a reading slot.
LIVE = 0  # published when taken
DROPPED = 1  # never published (a gap in seq)
BUFFERED = 2  # taken while offline, published in a batch when the device came back
GLITCH_TEMPERATURE = 3  # published with an impossible temperature
GLITCH_HUMIDITY = 4  # published with an impossible humidity
FUTURE_TIMESTAMP = 5  # published stamped in 2099
#: Slots whose reading is published on its own when taken.
PUBLISHED_LIVE = (LIVE, GLITCH_TEMPERATURE, GLITCH_HUMIDITY, FUTURE_TIMESTAMP)
#: Dead-letter reason codes of the ingestor for each glitch.
REJECTION_REASONS = {
    GLITCH_TEMPERATURE: "temperature_out_of_range",
    GLITCH_HUMIDITY: "humidity_out_of_range",
    FUTURE_TIMESTAMP: "future_timestamp",
}
#: Most readings in one catch-up batch, and most bytes in one payload (the native contract's limit).
MAX_BATCH_READINGS = 500
MAX_PAYLOAD_BYTES = 64 * 1024
#: Year stamped on the far-future reading.
FUTURE_YEAR = 2099
#: Chance a live reading is never published (a gap in seq).
DROP_PROBABILITY = 0.003
#: Chance a live reading is published twice.
DUPLICATE_PROBABILITY = 0.001
#: Share of devices that go offline once and catch up in batches.
OFFLINE_DEVICE_SHARE = 0.08
#: Out-of-range temperatures (and, as many, humidities) per reading; at least one of each.
GLITCHES_PER_READING = 3e-6
#: Starting voltage of the one or two devices near their 2.5 V cut-off. [V]
LOW_BATTERY_V = 2.56


@dataclasses.dataclass(frozen=True)
class Fault:
    """One injected fault, for the record (``Simulation.faults``)."""

    device_id: str
    kind: str  # offline, dropped, duplicate, stuck, temperature_glitch, humidity_glitch, future_timestamp, clock_skew
    first_seq: int | None
    readings: int
    detail: str


@dataclasses.dataclass(repr=False)
class SensorReadings:
    """Every reading slot of every device in the window, shape ``(n_devices, n_readings)``.

    ``taken_s`` is when the device took the reading (UTC epoch seconds), which is
    also when a live reading is published; ``ts_s`` is the time the device
    stamped on it (``taken_s`` plus its clock skew). ``status`` says what became
    of the slot; ``duplicate`` marks live readings sent twice; ``batch_at``
    gives, for buffered readings, the slot at which the device came back and
    sent its batch.
    """

    device_ids: list[str]
    taken_s: np.ndarray
    ts_s: np.ndarray
    temperature_c: np.ndarray
    humidity_pct: np.ndarray
    battery_v: np.ndarray
    seq: np.ndarray
    status: np.ndarray
    duplicate: np.ndarray
    batch_at: np.ndarray
    faults: list[Fault]

    @property
    def n_devices(self) -> int:
        return len(self.device_ids)

    @property
    def n_readings(self) -> int:
        return self.status.shape[1]


def measure(
    rng: np.random.Generator,
    true_temperature_c: np.ndarray,
    true_humidity_pct: np.ndarray,
    elapsed_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What SHT3x-like sensors on a battery report for the true air conditions.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    true_temperature_c : numpy.ndarray
        True air temperature, shape ``(n_devices, n_readings)``. [°C]
    true_humidity_pct : numpy.ndarray
        True relative humidity, same shape. [%]
    elapsed_days : numpy.ndarray
        Days since the window began for each reading, shape ``(n_readings,)``. [d]

    Returns
    -------
    temperature_c, humidity_pct, battery_v : numpy.ndarray
        Rounded to 0.01. Each device has a fixed calibration offset within the
        datasheet accuracy (±0.2 °C, ±2 %RH) plus small reading-to-reading
        noise; humidity is clipped to 0-100 as the sensor does. Batteries start
        near 3.0 V (one or two devices near 2.56 V) and drain slowly, sagging
        a little in the cold.
    """
    n_devices: int
    n_devices, _ = true_temperature_c.shape
    t_offset = np.clip(
        rng.normal(0.0, 0.1, n_devices), -C.SENSOR_TEMPERATURE_ACCURACY_C, C.SENSOR_TEMPERATURE_ACCURACY_C
    )
    h_offset = np.clip(
        rng.normal(0.0, 1.0, n_devices), -C.SENSOR_HUMIDITY_ACCURACY_PCT, C.SENSOR_HUMIDITY_ACCURACY_PCT
    )
    shape = true_temperature_c.shape
    temperature = (
        true_temperature_c + t_offset[:, None] + rng.normal(0.0, C.SENSOR_TEMPERATURE_NOISE_C, shape)
    )
    humidity = np.clip(
        true_humidity_pct + h_offset[:, None] + rng.normal(0.0, C.SENSOR_HUMIDITY_NOISE_PCT, shape),
        0.0,
        100.0,
    )
    start_v = rng.uniform(2.92, 3.12, n_devices)
    drain_v_per_day = rng.uniform(0.0005, 0.002, n_devices)
    low = rng.choice(n_devices, size=min(n_devices, 1 if n_devices < 100 else 2), replace=False)
    start_v[low] = LOW_BATTERY_V + rng.uniform(-0.01, 0.01, len(low))
    battery = (
        start_v[:, None]
        - drain_v_per_day[:, None] * elapsed_days[None, :]
        - 0.003 * np.maximum(0.0, 10.0 - true_temperature_c)
        + rng.normal(0.0, 0.004, shape)
    )
    decimals = C.SENSOR_RESOLUTION_DECIMALS
    return np.round(temperature, decimals), np.round(humidity, decimals), np.round(battery, decimals)


def inject_faults(
    rng: np.random.Generator,
    readings: SensorReadings,
    interval_minutes: int,
) -> None:
    """Give ``readings`` a realistic mix of faults, in place.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    readings : SensorReadings
        Clean readings (every slot live, no skew).
    interval_minutes : int
        Reading interval. [min]

    Notes
    -----
    About 8 % of devices go offline once (2-36 hours; the first for over 500
    readings when the window is long enough, so its catch-up needs two
    batches); 0.3 % of live readings are dropped and 0.1 % sent twice; one
    device in a hundred (at least one) is stuck for 3-12 hours or has a
    clock skewed by 20-90 s; and a few readings, at least one of each kind,
    carry an impossible temperature, an impossible humidity or a 2099 stamp.
    """
    n_dev, n_read = readings.status.shape
    if n_read < 4:
        logger.info("window of %d readings per device is too short for faults; none injected", n_read)
        return
    status = readings.status
    ids = readings.device_ids
    faults = readings.faults
    per_hour = 60.0 / interval_minutes

    # Offline spells, buffered and sent in batches when the device comes back.
    n_offline = max(1, round(OFFLINE_DEVICE_SHARE * n_dev))
    for rank, d in enumerate(rng.choice(n_dev, size=min(n_dev, n_offline), replace=False)):
        if rank == 0 and n_read >= 800:
            length = int(rng.integers(MAX_BATCH_READINGS + 20, MAX_BATCH_READINGS + 200))
        else:
            length = int(np.clip(round(rng.uniform(2.0, 36.0) * per_hour), 1, max(1, n_read // 3)))
        first = int(rng.integers(1, n_read - length))
        back = first + length
        status[d, first:back] = BUFFERED
        readings.batch_at[d, first:back] = back
        faults.append(
            Fault(
                ids[d],
                "offline",
                int(readings.seq[d, first]),
                length,
                f"offline for {length} readings; sent in a batch at seq {int(readings.seq[d, back])}",
            )
        )

    # Dropped messages.
    dropped = (rng.random(status.shape) < DROP_PROBABILITY) & (status == LIVE)
    if not dropped.any():
        dropped.flat[_pick_live(rng, status, 1)] = True
    status[dropped] = DROPPED
    for d, k in zip(*np.nonzero(dropped), strict=True):
        faults.append(Fault(ids[d], "dropped", int(readings.seq[d, k]), 1, "never published"))

    # Stuck sensors: one value repeated for some hours (still valid readings); before the glitches,
    # so that a glitch inside a stuck spell keeps its impossible value.
    n_small = max(1, round(0.01 * n_dev))
    for d in rng.choice(n_dev, size=min(n_dev, n_small), replace=False):
        length = int(np.clip(round(rng.uniform(3.0, 12.0) * per_hour), 2, n_read - 1))
        first = int(rng.integers(0, n_read - length))
        readings.temperature_c[d, first + 1 : first + length] = readings.temperature_c[d, first]
        readings.humidity_pct[d, first + 1 : first + length] = readings.humidity_pct[d, first]
        faults.append(
            Fault(
                ids[d],
                "stuck",
                int(readings.seq[d, first]),
                length,
                f"repeats {readings.temperature_c[d, first]} °C, {readings.humidity_pct[d, first]} %",
            )
        )

    # Glitches: impossible values and a far-future stamp.
    n_glitch = max(1, round(GLITCHES_PER_READING * status.size))
    for code, count in ((GLITCH_TEMPERATURE, n_glitch), (GLITCH_HUMIDITY, n_glitch), (FUTURE_TIMESTAMP, 1)):
        for flat in _pick_live(rng, status, count):
            d, k = divmod(int(flat), n_read)
            status[d, k] = code
            if code == GLITCH_TEMPERATURE:
                readings.temperature_c[d, k] = float(rng.choice([130.0, -55.0]))
                detail = f"temperature {readings.temperature_c[d, k]}"
            elif code == GLITCH_HUMIDITY:
                readings.humidity_pct[d, k] = float(rng.choice([104.0, -3.0]))
                detail = f"humidity {readings.humidity_pct[d, k]}"
            else:
                readings.ts_s[d, k] = _in_year(int(readings.ts_s[d, k]), FUTURE_YEAR)
                detail = f"stamped in {FUTURE_YEAR}"
            faults.append(
                Fault(
                    ids[d],
                    REJECTION_REASONS[code].replace("_out_of_range", "_glitch"),
                    int(readings.seq[d, k]),
                    1,
                    detail,
                )
            )

    # Duplicate sends of live readings.
    duplicate = (rng.random(status.shape) < DUPLICATE_PROBABILITY) & (status == LIVE)
    if not duplicate.any():
        duplicate.flat[_pick_live(rng, status, 1)] = True
    readings.duplicate |= duplicate
    for d, k in zip(*np.nonzero(duplicate), strict=True):
        faults.append(Fault(ids[d], "duplicate", int(readings.seq[d, k]), 1, "published twice"))

    # Clock skew: a device's stamps off by a constant tens of seconds.
    for d in rng.choice(n_dev, size=min(n_dev, n_small), replace=False):
        skew = int(rng.integers(20, 91)) * int(rng.choice([-1, 1]))
        normal = status[d] != FUTURE_TIMESTAMP
        readings.ts_s[d, normal] += skew
        faults.append(Fault(ids[d], "clock_skew", None, n_read, f"clock {skew:+d} s"))


def _pick_live(rng: np.random.Generator, status: np.ndarray, count: int) -> np.ndarray:
    """Flat indices of ``count`` distinct live slots that are not sent twice."""
    live = np.flatnonzero(status.ravel() == LIVE)
    return rng.choice(live, size=min(count, len(live)), replace=False)


def _in_year(epoch_s: int, year: int) -> int:
    when = dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    try:
        moved = when.replace(year=year)
    except ValueError:  # 29 February
        moved = when.replace(year=year, day=28)
    return int(moved.timestamp())


def iso_z(epoch_s: np.ndarray) -> list[str]:
    """ISO 8601 UTC stamps with a ``Z`` and whole seconds, e.g. ``2026-01-05T10:10:00Z``."""
    return [
        s + "Z" for s in np.datetime_as_string(np.asarray(epoch_s, dtype="datetime64[s]"), unit="s").tolist()
    ]


def reading_json(ts: str, temperature_c: float, humidity_pct: float, battery_v: float, seq: int) -> str:
    """One reading in the native payload format (compact floats, the field order of the contract)."""
    return (
        f'{{"ts": "{ts}", "temperature_c": {temperature_c!r}, "humidity_pct": {humidity_pct!r}, '
        f'"battery_v": {battery_v!r}, "seq": {seq}}}'
    )


def batch_payloads(items: list[str]) -> list[bytes]:
    """Split readings (JSON objects) into ``{"readings": [...]}`` payloads of at most 500 readings and 64 KiB."""
    payloads: list[bytes] = []
    current: list[str] = []
    size = 0
    overhead = len('{"readings": []}')
    for item in items:
        extra = len(item.encode()) + (2 if current else 0)
        if current and (len(current) >= MAX_BATCH_READINGS or overhead + size + extra > MAX_PAYLOAD_BYTES):
            payloads.append(('{"readings": [' + ", ".join(current) + "]}").encode())
            current, size = [], 0
            extra = len(item.encode())
        current.append(item)
        size += extra
    if current:
        payloads.append(('{"readings": [' + ", ".join(current) + "]}").encode())
    return payloads
