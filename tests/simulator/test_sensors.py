"""The message stream: the native payload contract, realistic faults, and the expected set it implies."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest

from simulator import READINGS_CSV_COLUMNS, write_readings_csv
from simulator.sensors import MAX_BATCH_READINGS, MAX_PAYLOAD_BYTES

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
FIELDS = ["ts", "temperature_c", "humidity_pct", "battery_v", "seq"]


def decode(sim):
    """Every message decoded on its own terms: (message index, device, batch size or 0, reading) rows."""
    rows = []
    for index, (topic, payload) in enumerate(sim.iter_messages()):
        prefix, device_id, kind = topic.split("/")
        assert (prefix, kind) == (sim.prefix, "up")
        document = json.loads(payload.decode("utf-8"))
        items = document.get("readings", [document])
        batch_size = len(items) if "readings" in document else 0
        rows.extend((index, device_id, batch_size, len(payload), item) for item in items)
    return rows


@pytest.fixture(scope="module")
def decoded(week):
    """The week's stream, decoded once."""
    return decode(week)


def rebuild_expected(rows, now):
    """What an ingestor following the contract stores and rejects, from the decoded stream alone."""
    stored = {}
    rejected = collections.Counter()
    for _, device_id, _, _, item in rows:
        ts = dt.datetime.fromisoformat(item["ts"].replace("Z", "+00:00"))
        if not -40.0 <= item["temperature_c"] <= 85.0:
            rejected["temperature_out_of_range"] += 1
        elif not 0.0 <= item["humidity_pct"] <= 100.0:
            rejected["humidity_out_of_range"] += 1
        elif ts > now + dt.timedelta(minutes=10):
            rejected["future_timestamp"] += 1
        else:
            stored[(device_id, ts)] = (
                item["temperature_c"],
                item["humidity_pct"],
                item["battery_v"],
                item["seq"],
            )
    frame = pd.DataFrame(
        [(d, ts, *values) for (d, ts), values in stored.items()],
        columns=["device_id", "ts", "temperature_c", "humidity_pct", "battery_v", "seq"],
    )
    return frame.sort_values(["device_id", "ts"]).reset_index(drop=True), rejected


def test_expected_set_is_exactly_what_the_stream_implies(week, decoded):
    """Decoding every payload and applying the ingest rules rebuilds Simulation.expected and its rejections."""
    rebuilt, rejected = rebuild_expected(decoded, dt.datetime.now(dt.UTC))
    expected = week.expected
    assert list(expected.columns) == list(rebuilt.columns)
    assert str(expected.ts.dt.tz) == "UTC"
    assert expected.duplicated(["device_id", "ts"]).sum() == 0
    pd.testing.assert_frame_equal(
        expected.assign(ts=expected.ts.dt.as_unit("s")),
        rebuilt.assign(ts=pd.to_datetime(rebuilt.ts, utc=True).dt.as_unit("s")),
        check_dtype=False,
    )
    assert dict(rejected) == {k: v for k, v in week.expected_rejections.items() if v}
    assert set(week.expected_rejections) == {
        "temperature_out_of_range",
        "humidity_out_of_range",
        "future_timestamp",
    }


def test_message_count_matches_the_stream(week, decoded):
    """message_count is the number of messages iter_messages yields."""
    assert week.message_count == decoded[-1][0] + 1


def test_single_payloads_follow_the_native_contract(week):
    """Fields in the contract's order, ts ISO 8601 with Z and whole seconds, numbers to 0.01."""
    topic, payload = next(iter(week.iter_messages()))
    assert re.fullmatch(r"dampwatch/sim-\d{12}-[a-z_0-9]+/up", topic)
    text = payload.decode()
    document = json.loads(text)
    assert list(document) == FIELDS
    assert TS_RE.match(document["ts"])
    assert isinstance(document["seq"], int)
    for field in ("temperature_c", "humidity_pct", "battery_v"):
        assert round(document[field], 2) == document[field]
    assert text.startswith('{"ts": "') and ", " in text


def test_batches_are_within_the_size_limits_and_one_needed_splitting(decoded):
    """Catch-up batches hold at most 500 readings and 64 KiB; a long outage took two of them."""
    batches = {(index, size, nbytes) for index, _, size, nbytes, _ in decoded if size}
    assert batches
    assert all(size <= MAX_BATCH_READINGS and nbytes <= MAX_PAYLOAD_BYTES for _, size, nbytes in batches)
    assert any(size == MAX_BATCH_READINGS for _, size, _ in batches)


def test_stream_has_a_duplicate_send(week):
    """At least one payload is published twice in a row."""
    previous = None
    repeats = 0
    for message in week.iter_messages():
        repeats += message == previous
        previous = message
    assert repeats >= 1


def test_seq_increases_by_one_per_reading_with_gaps_for_dropped_messages(decoded):
    """Per device seq runs up by one per reading; dropped messages leave gaps that nothing fills."""
    seqs = collections.defaultdict(set)
    for _, device_id, _, _, item in decoded:
        seqs[device_id].add(item["seq"])
    gaps = 0
    for values in seqs.values():
        ordered = np.sort(np.fromiter(values, dtype=np.int64))
        steps = np.diff(ordered)
        assert steps.min() >= 1
        gaps += int((steps > 1).sum())
    assert gaps >= 1


def test_stream_carries_each_kind_of_glitch(decoded):
    """Impossible temperatures and humidities and a 2099 stamp are all there."""
    items = [item for *_, item in decoded]
    assert any(item["temperature_c"] in (130.0, -55.0) for item in items)
    assert any(item["humidity_pct"] in (104.0, -3.0) for item in items)
    assert any(item["ts"].startswith("2099-") for item in items)


def test_a_stuck_sensor_repeats_one_value_for_hours(week):
    """Some device reports the same temperature and humidity for at least three hours running."""
    frame = week.expected
    longest = 0
    for _, rows in frame.groupby("device_id"):
        same = (rows.temperature_c.diff() == 0) & (rows.humidity_pct.diff() == 0)
        run = same.groupby((~same).cumsum()).cumsum().max()
        longest = max(longest, int(run))
    assert longest >= 18


def test_a_device_clock_is_skewed_by_tens_of_seconds(week):
    """One device stamps its readings a constant 20-90 s off the time it took them."""
    r = week.readings
    offsets = [set((r.ts_s[d] - r.taken_s[d])[r.status[d] != 5].tolist()) for d in range(r.n_devices)]
    skewed = [o.pop() for o in offsets if o != {0}]
    assert skewed and all(20 <= abs(s) <= 90 for s in skewed)


def test_batteries_discharge_from_about_3_volts_and_one_is_low(week):
    """Batteries sit near 3.0 V and drain slowly; one device is close to its 2.5 V cut-off."""
    by_device = week.expected.groupby("device_id").battery_v
    start, end = by_device.first(), by_device.last()
    assert start.median() == pytest.approx(3.0, abs=0.15)
    assert (end <= start + 0.02).mean() > 0.9
    assert (start < 2.6).sum() >= 1


def test_publish_times_are_chronological(week):
    """Messages come in publish order: simulated publish times never go backwards."""
    times = [when for _, _, when in week.iter_timed_messages()]
    assert all(b >= a for a, b in itertools.pairwise(times))
    assert times[0] >= week.start


def test_sensors_read_the_true_room_air_within_their_accuracy(clean_week):
    """A living-room sensor tracks the true air within SHT3x accuracy (±0.2 °C, ±2 %RH plus noise)."""
    home = clean_week.estate.homes[0]
    device_id = home.room("living_room").device_id
    readings = clean_week.expected[clean_week.expected.device_id == device_id].set_index("ts")
    truth = clean_week.room_series(home.uprn, "living_room")
    truth = truth.reindex(readings.index, method="nearest")
    assert (readings.temperature_c - truth.temperature_c).abs().mean() < 0.3
    assert (readings.humidity_pct - truth.humidity_pct).abs().mean() < 2.5


def test_without_faults_every_reading_arrives_once(clean_week):
    """faults=False: one message per reading, no batches, duplicates, gaps or glitches."""
    r = clean_week.readings
    assert clean_week.message_count == r.n_devices * r.n_readings == len(clean_week.expected)
    assert clean_week.expected_rejections == dict.fromkeys(clean_week.expected_rejections, 0)
    assert clean_week.faults.empty


def test_readings_csv_is_the_expected_set_in_long_format(week, tmp_path):
    """The readings CSV holds Simulation.expected with ts in ISO 8601 Z."""
    path = write_readings_csv(week, tmp_path / "readings.csv")
    frame = pd.read_csv(path)
    assert tuple(frame.columns) == READINGS_CSV_COLUMNS
    assert len(frame) == len(week.expected)
    assert frame.ts.str.match(TS_RE.pattern).all()
    assert (pd.to_datetime(frame.ts, utc=True).to_numpy() == week.expected.ts.to_numpy()).all()
    assert (frame.temperature_c.to_numpy() == week.expected.temperature_c.to_numpy()).all()
