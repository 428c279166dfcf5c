"""Contract tests: the firmware's and the simulator's payloads, read by the ingestor's own parser.

If any of the three drifts from the native payload in shared/DESIGN.md, one of
these fails: the ingestor must take every message the device and the simulator
send, with the values they meant.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

import simulator
from firmware_stub import payload as fw_payload
from ingest.parse import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES, parse

NOW = dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("centi_c", "centi_pct", "battery_mv", "seq"),
    [(1840, 7120, 2910, 1042), (-3999, 0, 2500, 0), (8499, 10000, 3300, 2**31), (-5, 5555, 2949, 7)],
)
def test_firmware_payloads_parse_to_their_values(centi_c, centi_pct, battery_mv, seq):
    """Single and batch payloads the firmware writes are read back by the ingestor with the same values."""
    reading = fw_payload.Reading(seq, "2026-11-20T10:15:00Z", centi_c, centi_pct, battery_mv)
    untimed = fw_payload.Reading(seq + 1, None, centi_c, centi_pct, battery_mv)
    for text, count in ((reading.to_json(), 1), (fw_payload.batch_json([reading, untimed]), 2)):
        result = parse("dampwatch/dw-1/up", text.encode(), received_at=NOW)
        assert result.rejections == []
        assert len(result.readings) == count
        parsed = result.readings[0]
        assert parsed.ts == dt.datetime(2026, 11, 20, 10, 15, tzinfo=dt.UTC)
        assert parsed.temperature_c == pytest.approx(centi_c / 100, abs=1e-9)
        assert parsed.humidity_pct == pytest.approx(centi_pct / 100, abs=1e-9)
        assert parsed.battery_v == pytest.approx(round(battery_mv / 10) / 100, abs=1e-9)
        assert parsed.seq == seq and parsed.flags == 0
    assert result.readings[1].flags == 1  # untimed: ts left out, flagged by the ingestor


def test_firmware_status_payload_is_a_status():
    """The firmware's status message (and its last will) is read as a device status."""
    text = fw_payload.status_json("online", dropped=3, buffered=0)
    result = parse("dampwatch/dw-1/status", text.encode(), received_at=NOW)
    assert result.status is not None and result.status.status == "online"
    assert result.status.detail["dropped"] == 3


def test_simulator_messages_parse_without_rejection_except_its_deliberate_glitches():
    """Every simulated message parses; the only rejections are the glitches the simulator counts itself."""
    estate = simulator.build_estate(seed=21, homes=3)
    sim = simulator.simulate(estate, start=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), days=2)
    readings, rejected = 0, {}
    for topic, payload in sim.iter_messages():
        assert len(payload) <= MAX_PAYLOAD_BYTES
        document = json.loads(payload)
        assert len(document.get("readings", [document])) <= MAX_BATCH_READINGS
        result = parse(topic, payload, received_at=NOW)
        readings += len(result.readings)
        for rejection in result.rejections:
            rejected[rejection.reason] = rejected.get(rejection.reason, 0) + 1
    assert rejected == {k: v for k, v in sim.expected_rejections.items() if v}
    assert readings >= len(sim.expected)  # duplicates are parsed, then collapsed by the store
