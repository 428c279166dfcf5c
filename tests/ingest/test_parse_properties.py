"""Properties of the native parser (hypothesis): it never raises, accepts exactly the documented ranges, round-trips.

The ranges below are written by hand from the contract in shared/DESIGN.md and the
README, not read from ``ingest.parse``: temperature -40..85 °C, humidity 0..100 %,
battery 0..10 V, seq a whole number from 0 below 2**63, a time from 2015-01-01 to
ten minutes after the ingest clock, to the second.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from core.readings import FLAG_UNTIMED, Reading
from ingest.parse import (
    Reason,
    device_time,
    finite_float,
    float_in_range,
    iso_to_datetime,
    parse,
)

NOW = dt.datetime(2026, 11, 22, 10, 20, tzinfo=dt.UTC)
TOPIC = "dampwatch/dev-1/up"
REASONS = {value for name, value in vars(Reason).items() if name.isupper()}
TEMPERATURE_C = (-40, 85)
HUMIDITY_PCT = (0, 100)
BATTERY_V = (0, 10)
EARLIEST = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
LATEST = NOW + dt.timedelta(minutes=10)

json_leaves = st.one_of(
    st.none(), st.booleans(), st.text(max_size=20),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=20,
)
field_names = st.sampled_from(["ts", "temperature_c", "humidity_pct", "battery_v", "seq", "readings", "x"])
numbers = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.integers(min_value=-200, max_value=200),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-100, max_value=200),
)


def _payload(document: object) -> bytes:
    return json.dumps(document, allow_nan=True).encode()


def _check(result) -> None:
    assert {r.reason for r in result.rejections} <= REASONS
    for reading in result.readings:
        assert TEMPERATURE_C[0] <= reading.temperature_c <= TEMPERATURE_C[1]
        assert HUMIDITY_PCT[0] <= reading.humidity_pct <= HUMIDITY_PCT[1]
        assert reading.ts.tzinfo is not None and reading.ts.microsecond == 0


@given(topic=st.text(max_size=80), payload=st.binary(max_size=3000))
def test_never_raises_on_any_bytes(topic, payload):
    """Any topic and any bytes: a result with known reason codes, never an exception."""
    _check(parse(topic, payload, received_at=NOW))


@given(document=st.dictionaries(field_names, json_values, max_size=6))
def test_never_raises_on_any_json_object(document):
    """Any JSON object, huge integers, NaN, nesting and all: a result, never an exception."""
    _check(parse(TOPIC, _payload(document), received_at=NOW))


@given(readings=st.lists(st.dictionaries(field_names, json_values, max_size=6), min_size=1, max_size=20))
def test_never_raises_on_any_batch(readings):
    """A batch of arbitrary readings: each is kept or rejected on its own."""
    result = parse(TOPIC, _payload({"readings": readings}), received_at=NOW)
    _check(result)
    assert len(result.readings) + len(result.rejections) == len(readings)


def _in(value, bounds) -> bool:
    low, high = bounds
    return math.isfinite(value) and low <= value <= high if isinstance(value, float) else low <= value <= high


@given(temperature=numbers, humidity=numbers, battery=numbers)
def test_accepts_exactly_the_documented_ranges(temperature, humidity, battery):
    """A reading is stored if and only if every value lies in its documented range, and then exactly as sent."""
    document = {"ts": "2026-11-22T10:00:00Z", "temperature_c": temperature, "humidity_pct": humidity,
                "battery_v": battery}
    result = parse(TOPIC, _payload(document), received_at=NOW)
    expected = _in(temperature, TEMPERATURE_C) and _in(humidity, HUMIDITY_PCT) and _in(battery, BATTERY_V)
    assert bool(result.readings) == expected, result.rejections
    if expected:
        (reading,) = result.readings
        assert (reading.temperature_c, reading.humidity_pct, reading.battery_v) == (
            float(temperature), float(humidity), float(battery))


@given(seq=st.one_of(st.integers(min_value=-(10**30), max_value=10**400), st.floats(), st.booleans(), st.text()))
def test_seq_is_a_whole_number_from_0_below_2_to_the_63(seq):
    """seq is kept if and only if it is an integer in 0..2**63-1 (booleans and floats refused)."""
    document = {"temperature_c": 20, "humidity_pct": 50, "seq": seq}
    result = parse(TOPIC, _payload(document), received_at=NOW)
    valid = isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**63
    assert bool(result.readings) == valid
    if not valid:
        assert result.rejections[0].reason == Reason.INVALID_SEQ


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@given(moment=st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=offsets))
def test_iso_times_are_accepted_exactly_from_2015_to_ten_minutes_ahead(moment):
    """Any ISO 8601 time with any offset, year 1 to 9999: kept iff 2015-01-01 <= t <= now + 10 min, to the second."""
    result = parse(TOPIC, _payload({"ts": moment.isoformat(), "temperature_c": 20, "humidity_pct": 50}),
                   received_at=NOW)
    utc = moment.astimezone(dt.UTC) if dt.MINYEAR + 1 < moment.year < dt.MAXYEAR - 1 else None
    expected = utc is not None and EARLIEST <= utc <= LATEST
    assert bool(result.readings) == expected, (moment, result.rejections)
    if expected:
        assert result.readings[0].ts == utc.replace(microsecond=0)


@given(epoch=st.one_of(st.integers(min_value=-(10**400), max_value=10**400),
                       st.floats(allow_nan=False, allow_infinity=False),
                       st.floats(min_value=1.3e9, max_value=1.9e9)))
def test_epoch_seconds_are_accepted_exactly_in_range(epoch):
    """Epoch seconds: kept iff the time lies from 2015-01-01 to now + 10 min (no OverflowError at any size)."""
    result = parse(TOPIC, _payload({"ts": epoch, "temperature_c": 20, "humidity_pct": 50}), received_at=NOW)
    expected = EARLIEST.timestamp() <= epoch <= LATEST.timestamp()
    assert bool(result.readings) == expected, (epoch, result.rejections)


device_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


@given(
    device_id=device_ids,
    ts=st.datetimes(min_value=dt.datetime(2015, 1, 1), max_value=dt.datetime(2026, 11, 22, 10, 20),
                    timezones=st.just(dt.UTC)),
    temperature=st.floats(min_value=-40, max_value=85),
    humidity=st.floats(min_value=0, max_value=100),
    battery=st.none() | st.floats(min_value=0, max_value=10),
    seq=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
    epoch=st.booleans(),
)
def test_round_trip(device_id, ts, temperature, humidity, battery, seq, epoch):
    """A reading written as the contract says comes back as the same canonical reading (time to the second)."""
    ts = ts.replace(microsecond=0)
    document = {"ts": int(ts.timestamp()) if epoch else ts.isoformat(), "temperature_c": temperature,
                "humidity_pct": humidity}
    if battery is not None:
        document["battery_v"] = battery
    if seq is not None:
        document["seq"] = seq
    result = parse(f"dampwatch/{device_id}/up", _payload(document), received_at=NOW)
    assert result.readings == [Reading(device_id, ts, temperature, humidity, battery, seq, 0)]


@given(key=field_names, first=json_values, second=json_values)
def test_a_key_sent_twice_is_refused_not_last_wins(key, first, second):
    """An object naming a key twice is a dead letter (duplicate_key), whichever value would have won."""
    text = f'{{"temperature_c": 20, "humidity_pct": 50, "{key}": {json.dumps(first)}, "{key}": {json.dumps(second)}}}'
    result = parse(TOPIC, text.encode(), received_at=NOW)
    assert [r.reason for r in result.rejections] == [Reason.DUPLICATE_KEY] and not result.readings


def test_decisions_on_surprising_numbers():
    """1e-400 underflows to 0.0 and is accepted; numeric strings are refused; an untimed reading is flagged."""
    tiny = parse(TOPIC, b'{"temperature_c": 1e-400, "humidity_pct": 50}', received_at=NOW)
    assert tiny.readings[0].temperature_c == 0.0 and tiny.readings[0].flags == FLAG_UNTIMED
    text = parse(TOPIC, b'{"temperature_c": "18.4", "humidity_pct": 50}', received_at=NOW)
    assert [r.reason for r in text.rejections] == [Reason.WRONG_TYPE]


@given(value=st.one_of(json_leaves, st.lists(st.integers(), max_size=2)))
def test_bounded_helpers_raise_only_invalid_reading(value):
    """The helpers shared with the adapters raise InvalidReading and nothing else, whatever they are given."""
    from ingest.parse import InvalidReading

    for call in (lambda: finite_float(value, "v"), lambda: float_in_range(value, "v", 0, 1, "r"),
                 lambda: device_time(value, NOW), lambda: iso_to_datetime(value)):
        with contextlib.suppress(InvalidReading):
            call()


flat_keys = st.text(alphabet="ab:", min_size=0, max_size=3)
flat_values = st.one_of(st.integers(-5, 5), st.text(alphabet="x:{}[],", max_size=4).map(json.dumps), st.just("null"))


@given(pairs=st.lists(st.tuples(flat_keys, flat_values), max_size=6),
       spaces=st.lists(st.sampled_from(["", " ", "\n", "\t "]), min_size=3, max_size=3))
def test_repeated_keys_are_found_in_flat_objects_whatever_colons_the_strings_hold(pairs, spaces):
    """The fast path for flat objects refuses exactly the objects whose key list repeats (colons in keys and values)."""
    before, after, between = spaces
    text = "{" + between.join(f'{json.dumps(key)}{before}:{after}{value},' for key, value in pairs).rstrip(",") + "}"
    text = text.replace(",}", "}")
    if not pairs:
        text = "{}"
    result = parse(TOPIC, text.encode(), received_at=NOW)
    keys = [key for key, _value in pairs]
    refused = [r.reason for r in result.rejections] == [Reason.DUPLICATE_KEY]
    assert refused == (len(keys) != len(set(keys))), text
