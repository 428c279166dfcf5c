"""The native payload parser: the contract in shared/DESIGN.md, rule by rule."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from core.readings import FLAG_UNTIMED
from ingest.parse import MAX_PAYLOAD_BYTES, Reason, excerpt, parse

NOW = dt.datetime(2026, 11, 22, 10, 20, tzinfo=dt.UTC)
TOPIC = "dampwatch/dev-1/up"
GOOD = {"ts": "2026-11-22T10:15:00Z", "temperature_c": 18.4, "humidity_pct": 71.2, "battery_v": 2.91, "seq": 1042}


def _parse(payload: bytes | dict | list | str, topic: str = TOPIC):
    if isinstance(payload, dict | list):
        payload = json.dumps(payload).encode()
    elif isinstance(payload, str):
        payload = payload.encode()
    return parse(topic, payload, received_at=NOW)


def _with(**changes) -> dict:
    reading = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            reading.pop(key)
        else:
            reading[key] = value
    return reading


def test_single_reading_parses_to_canonical_form():
    """The contract's example payload becomes one canonical reading."""
    result = _parse(GOOD)
    assert result.rejections == []
    (reading,) = result.readings
    assert reading.device_id == "dev-1"
    assert reading.ts == dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)
    assert (reading.temperature_c, reading.humidity_pct, reading.battery_v, reading.seq) == (18.4, 71.2, 2.91, 1042)
    assert reading.flags == 0


def test_batch_form_keeps_good_readings_and_rejects_bad_ones():
    """A batch is judged reading by reading: the good ones are kept."""
    batch = {"readings": [GOOD, _with(humidity_pct=140), _with(ts="2026-11-22T10:05:00Z", seq=1041)]}
    result = _parse(batch)
    assert [r.seq for r in result.readings] == [1042, 1041]
    (rejection,) = result.rejections
    assert rejection.reason == Reason.HUMIDITY_OUT_OF_RANGE
    assert rejection.detail.startswith("reading 2 of 3")


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-22T10:15:00Z", dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)),
        ("2026-11-22T10:15:00+01:00", dt.datetime(2026, 11, 22, 9, 15, tzinfo=dt.UTC)),
        ("2026-11-22T10:15:00", dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)),
        ("2026-11-22T10:15:00.750Z", dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)),
        (1795342500, dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)),
        (1795342500.9, dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)),
    ],
)
def test_timestamp_forms(ts, expected):
    """ISO 8601 (with or without zone) and epoch seconds are accepted, kept to the second in UTC."""
    (reading,) = _parse(_with(ts=ts)).readings
    assert reading.ts == expected


def test_missing_ts_uses_ingest_time_and_flags_reading():
    """Without ts the ingest time is used and the reading is flagged untimed."""
    (reading,) = _parse(_with(ts=...)).readings
    assert reading.ts == NOW
    assert reading.flags & FLAG_UNTIMED


def test_optional_fields_may_be_absent():
    """battery_v and seq are optional."""
    (reading,) = _parse(_with(battery_v=..., seq=...)).readings
    assert reading.battery_v is None and reading.seq is None


@pytest.mark.parametrize("value", [-40, 85, -40.0, 85.0])
def test_temperature_limits_are_inclusive(value):
    """-40 °C and 85 °C themselves are valid."""
    assert _parse(_with(temperature_c=value)).readings


@pytest.mark.parametrize("value", [0, 100])
def test_humidity_limits_are_inclusive(value):
    """0 % and 100 % themselves are valid."""
    assert _parse(_with(humidity_pct=value)).readings


def test_ten_minutes_ahead_is_allowed_but_not_more():
    """A clock up to 10 minutes fast is tolerated; beyond that the reading is rejected."""
    ok = NOW + dt.timedelta(minutes=10)
    late = NOW + dt.timedelta(minutes=10, seconds=1)
    assert _parse(_with(ts=ok.isoformat())).readings
    assert _parse(_with(ts=late.isoformat())).rejections[0].reason == Reason.FUTURE_TIMESTAMP


BAD_PAYLOADS = [
    ("invalid JSON", b'{"ts": "2026-11-22T10:15:00Z", "temperature_c": 18.4,', Reason.INVALID_JSON),
    ("empty payload", b"", Reason.INVALID_JSON),
    ("not UTF-8", b'{"temperature_c": 18.4, "humidity_pct": \xff\xfe}', Reason.NOT_UTF8),
    ("JSON array", b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
    ("JSON string", b'"hello"', Reason.NOT_AN_OBJECT),
    ("JSON null", b"null", Reason.NOT_AN_OBJECT),
    ("1 MB payload", json.dumps({**GOOD, "pad": "x" * 1_000_000}).encode(), Reason.PAYLOAD_TOO_LARGE),
    ("deeply nested JSON over 64 KiB", b"[" * 40_000 + b"]" * 40_000, Reason.PAYLOAD_TOO_LARGE),
    ("deeply nested JSON under 64 KiB", b"[" * 30_000 + b"]" * 30_000, Reason.TOO_DEEPLY_NESTED),
    ("missing temperature", json.dumps(_with(temperature_c=...)).encode(), Reason.MISSING_FIELD),
    ("missing humidity", json.dumps(_with(humidity_pct=...)).encode(), Reason.MISSING_FIELD),
    ("temperature as string", json.dumps(_with(temperature_c="18.4")).encode(), Reason.WRONG_TYPE),
    ("humidity as boolean", json.dumps(_with(humidity_pct=True)).encode(), Reason.WRONG_TYPE),
    ("temperature as object", json.dumps(_with(temperature_c={"v": 1})).encode(), Reason.WRONG_TYPE),
    ("NaN temperature", b'{"ts": "2026-11-22T10:15:00Z", "temperature_c": NaN, "humidity_pct": 50}', Reason.NOT_FINITE),
    ("Infinity humidity", b'{"ts": "2026-11-22T10:15:00Z", "temperature_c": 18, "humidity_pct": Infinity}', Reason.NOT_FINITE),
    ("temperature too high", json.dumps(_with(temperature_c=85.01)).encode(), Reason.TEMPERATURE_OUT_OF_RANGE),
    ("temperature too low", json.dumps(_with(temperature_c=-55)).encode(), Reason.TEMPERATURE_OUT_OF_RANGE),
    ("humidity above 100", json.dumps(_with(humidity_pct=100.5)).encode(), Reason.HUMIDITY_OUT_OF_RANGE),
    ("humidity negative", json.dumps(_with(humidity_pct=-3)).encode(), Reason.HUMIDITY_OUT_OF_RANGE),
    ("far-future timestamp", json.dumps(_with(ts="2099-01-01T00:00:00Z")).encode(), Reason.FUTURE_TIMESTAMP),
    ("timestamp before the clock was set", json.dumps(_with(ts=0)).encode(), Reason.TIMESTAMP_TOO_OLD),
    ("timestamp in milliseconds", json.dumps(_with(ts=1795342500000)).encode(), Reason.INVALID_TIMESTAMP),
    ("timestamp not ISO 8601", json.dumps(_with(ts="22/11/2026 10:15")).encode(), Reason.INVALID_TIMESTAMP),
    ("timestamp as list", json.dumps(_with(ts=[2026, 11, 22])).encode(), Reason.WRONG_TYPE),
    ("negative seq", json.dumps(_with(seq=-1)).encode(), Reason.INVALID_SEQ),
    ("fractional seq", json.dumps(_with(seq=1.5)).encode(), Reason.INVALID_SEQ),
    ("battery out of range", json.dumps(_with(battery_v=42)).encode(), Reason.BATTERY_OUT_OF_RANGE),
    ("batch of 10 000", json.dumps({"readings": [GOOD] * 10_000}).encode(), Reason.PAYLOAD_TOO_LARGE),
    ("batch of 1 001 small readings", json.dumps({"readings": [{}] * 1001}).encode(), Reason.BATCH_TOO_LARGE),
    ("empty batch", b'{"readings": []}', Reason.EMPTY_BATCH),
    ("batch not a list", b'{"readings": {"a": 1}}', Reason.WRONG_TYPE),
    ("batch item not an object", b'{"readings": [42]}', Reason.WRONG_TYPE),
]


@pytest.mark.parametrize(("case", "payload", "reason"), BAD_PAYLOADS, ids=[c[0] for c in BAD_PAYLOADS])
def test_bad_payload_is_rejected_with_reason(case, payload, reason):
    """Each kind of bad payload becomes one rejection with its reason code, and no reading."""
    result = parse(TOPIC, payload, received_at=NOW)
    assert result.readings == [], case
    assert [r.reason for r in result.rejections] == [reason], case
    assert result.rejections[0].detail


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("other/dev-1/up", Reason.INVALID_TOPIC),
        ("dampwatch/dev-1/down", Reason.INVALID_TOPIC),
        ("dampwatch/dev-1/up/extra", Reason.INVALID_TOPIC),
        ("dampwatch/bad id!/up", Reason.INVALID_DEVICE_ID),
        ("dampwatch//up", Reason.INVALID_DEVICE_ID),
    ],
)
def test_bad_topic_is_rejected(topic, reason):
    """Only <prefix>/<device_id>/up|status with a valid device id is accepted."""
    result = _parse(GOOD, topic=topic)
    assert result.readings == []
    assert result.rejections[0].reason == reason


def test_status_topic_gives_status_not_readings():
    """A device's last will on its status topic is a status, not a reading."""
    result = _parse({"status": "offline", "dropped": 3}, topic="dampwatch/dev-1/status")
    assert result.readings == [] and result.rejections == []
    assert result.status.status == "offline"
    assert result.status.detail["dropped"] == 3


def test_payload_size_limit_is_64_kib_exactly():
    """A payload of exactly 64 KiB is read; one byte more is rejected."""
    base = json.dumps(GOOD)[:-1] + ', "pad": "'
    fill = MAX_PAYLOAD_BYTES - len(base) - 2
    payload = (base + "x" * fill + '"}').encode()
    assert len(payload) == MAX_PAYLOAD_BYTES
    assert _parse(payload).readings
    assert _parse(payload[:-2] + b'x"}').rejections[0].reason == Reason.PAYLOAD_TOO_LARGE


def test_excerpt_is_safe_text_and_bounded():
    """Dead-letter excerpts are short, printable and never raise on binary input."""
    text = excerpt(b"\xff\x00abc" * 1000)
    assert len(text) < 1100
    assert text.startswith("\\xff")
