"""The native payload as the device writes it: exact text, untimed readings, batch limits."""

from __future__ import annotations

import json
import time

import pytest

from firmware_stub.payload import (
    MAX_PAYLOAD_BYTES,
    Reading,
    batch_json,
    centi_str,
    iso_utc,
    status_json,
    take_batch,
)


@pytest.mark.parametrize(
    ("centi", "text"),
    [
        (1840, "18.4"),
        (7120, "71.2"),
        (291, "2.91"),
        (1800, "18.0"),
        (0, "0.0"),
        (5, "0.05"),
        (-5, "-0.05"),
        (-1234, "-12.34"),
        (-4500, "-45.0"),
        (10000, "100.0"),
        (6541, "65.41"),
    ],
)
def test_centi_str(centi: int, text: str) -> None:
    """Hundredths print with the decimals they have, and parse back to the same number."""
    assert centi_str(centi) == text
    assert json.loads(text) == pytest.approx(centi / 100, abs=1e-12)


def test_reading_is_exactly_the_contract_example() -> None:
    """A timed reading prints exactly as the contract's example payload."""
    reading = Reading(1042, "2026-11-22T10:15:00Z", 1840, 7120, 2910)
    assert reading.to_json() == (
        '{"ts": "2026-11-22T10:15:00Z", "temperature_c": 18.4, "humidity_pct": 71.2, "battery_v": 2.91, "seq": 1042}'
    )


def test_untimed_reading_omits_ts() -> None:
    """A reading taken before the clock was set has no ts key at all (never an invented time)."""
    document = json.loads(Reading(7, None, 1840, 7120, 2910).to_json())
    assert "ts" not in document
    assert document == {"temperature_c": 18.4, "humidity_pct": 71.2, "battery_v": 2.91, "seq": 7}


@pytest.mark.parametrize(("millivolts", "volts"), [(2914, 2.91), (2915, 2.92), (3000, 3.0), (3305, 3.31)])
def test_battery_rounds_to_two_decimals(millivolts: int, volts: float) -> None:
    """battery_v is the millivolts rounded to hundredths of a volt."""
    assert json.loads(Reading(1, None, 0, 0, millivolts).to_json())["battery_v"] == volts


@pytest.mark.parametrize(
    ("epoch_s", "text"),
    [(0, "1970-01-01T00:00:00Z"), (1795342500, "2026-11-22T10:15:00Z"), (1709164799, "2024-02-28T23:59:59Z")],
)
def test_iso_utc(epoch_s: int, text: str) -> None:
    """ISO 8601 UTC with Z and whole seconds, from a gmtime tuple."""
    assert iso_utc(time.gmtime(epoch_s)) == text


def test_batch_is_a_readings_list_in_order() -> None:
    """A batch is {"readings": [...]} with the readings in the order given."""
    readings = [Reading(seq, None, 2000 + seq, 6000, 3000) for seq in range(1, 4)]
    document = json.loads(batch_json(readings))
    assert [item["seq"] for item in document["readings"]] == [1, 2, 3]


@pytest.mark.parametrize("limit", [300, 2_000, MAX_PAYLOAD_BYTES])
def test_take_batch_fits_the_size_limit(limit: int) -> None:
    """take_batch keeps the longest prefix whose payload fits in the limit."""
    readings = [Reading(seq, "2026-11-22T10:15:00Z", -1234, 9999, 2910) for seq in range(1, 1001)]
    batch = take_batch(readings, limit)
    assert len(batch_json(batch).encode()) <= limit
    if len(batch) < len(readings):
        assert len(batch_json(readings[: len(batch) + 1]).encode()) > limit


def test_status_message_carries_the_counters() -> None:
    """The status message is JSON with the buffer's dropped counter and the error counters."""
    document = json.loads(
        status_json(
            "online",
            dropped=3,
            buffered=10,
            sensor_errors=1,
            crc_errors=4,
            battery_mv=2910,
            interval_s=600,
            clock_set=False,
            firmware="0.1.0",
        )
    )
    assert document == {
        "status": "online",
        "dropped": 3,
        "buffered": 10,
        "sensor_errors": 1,
        "crc_errors": 4,
        "battery_v": 2.91,
        "interval_s": 600,
        "clock_set": False,
        "firmware": "0.1.0",
    }
