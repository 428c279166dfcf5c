"""Parse the native payload: ``(topic, payload) -> readings + rejections``, with no I/O.

The native contract (``shared/DESIGN.md``): a device publishes UTF-8 JSON of at
most 64 KiB to ``<prefix>/<device_id>/up``, either one reading

    {"ts": "2026-11-22T10:15:00Z", "temperature_c": 18.4, "humidity_pct": 71.2,
     "battery_v": 2.91, "seq": 1042}

or a batch ``{"readings": [{...}, ...]}`` from a device that was offline.
``ts`` is UTC (ISO 8601 or epoch seconds); without it the ingest time is used
and the reading is flagged untimed. Anything that breaks a rule becomes a
:class:`Rejection` with a reason code; in a batch each bad reading is rejected
on its own and the good ones are kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

from core.model import DEVICE_ID_PATTERN
from core.readings import FLAG_UNTIMED, Reading

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_BATCH_READINGS = 1000
TEMPERATURE_RANGE_C = (-40.0, 85.0)
HUMIDITY_RANGE_PCT = (0.0, 100.0)
BATTERY_RANGE_V = (0.0, 10.0)
DEFAULT_MAX_FUTURE_S = 600
#: Readings stamped before this are from a device whose clock was never set.
EARLIEST_TS = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
#: Epoch values above this are milliseconds, not seconds (year 5138 in seconds).
EPOCH_SECONDS_MAX = 1e11
#: Integers at or beyond this magnitude are never a sensor value, a time or a counter (SQL BIGINT's range):
#: they are refused before any arithmetic, so a 309-digit number cannot raise ``OverflowError``.
MAX_ABS_INT = 2**63
#: Longest timestamp string looked at (ISO 8601 with a fraction and an offset is under 40 characters).
MAX_TIMESTAMP_CHARS = 64
EXCERPT_BYTES = 256


class Reason:
    """Reason codes recorded with every dead letter (stable: dashboards and alerts filter on them)."""

    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_UTF8 = "not_utf8"
    INVALID_JSON = "invalid_json"
    TOO_DEEPLY_NESTED = "too_deeply_nested"
    NOT_AN_OBJECT = "not_an_object"
    EMPTY_BATCH = "empty_batch"
    BATCH_TOO_LARGE = "batch_too_large"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    NOT_FINITE = "not_finite"
    TEMPERATURE_OUT_OF_RANGE = "temperature_out_of_range"
    HUMIDITY_OUT_OF_RANGE = "humidity_out_of_range"
    BATTERY_OUT_OF_RANGE = "battery_out_of_range"
    INVALID_SEQ = "invalid_seq"
    INVALID_TIMESTAMP = "invalid_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    TIMESTAMP_TOO_OLD = "timestamp_too_old"
    INVALID_TOPIC = "invalid_topic"
    INVALID_DEVICE_ID = "invalid_device_id"
    UNKNOWN_DEVICE = "unknown_device"
    INVALID_STATUS = "invalid_status"
    DUPLICATE_KEY = "duplicate_key"
    INTERNAL_ERROR = "internal_error"


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    """Why (part of) a message could not be stored."""

    reason: str
    detail: str
    device_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A message on a device's status topic (its last will, or its own "online")."""

    device_id: str
    status: str
    detail: dict[str, object]  # the status message's JSON object ({} for a bare string)


@dataclasses.dataclass(slots=True)
class ParseResult:
    """What one MQTT message held: readings to store, rejections to record, or a status."""

    readings: list[Reading] = dataclasses.field(default_factory=list)
    rejections: list[Rejection] = dataclasses.field(default_factory=list)
    status: DeviceStatus | None = None


class InvalidReading(ValueError):
    """A payload or reading breaks the contract; ``reason`` is a :class:`Reason` code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def excerpt(payload: bytes, limit: int = EXCERPT_BYTES) -> str:
    """The start of a payload as safe text, for the dead-letter record."""
    text = payload[:limit].decode("utf-8", errors="backslashreplace")
    return text + ("…" if len(payload) > limit else "")


def split_topic(topic: str, prefix: str) -> tuple[str, str]:
    """``<prefix>/<device_id>/<kind>`` → ``(device_id, kind)``; raises ``InvalidReading``."""
    head = prefix + "/"
    if not topic.startswith(head):
        raise InvalidReading(Reason.INVALID_TOPIC, f"topic {topic!r} does not start with {head!r}")
    parts = topic[len(head):].split("/")
    if len(parts) != 2 or parts[1] not in ("up", "status"):
        raise InvalidReading(Reason.INVALID_TOPIC, f"topic {topic!r} is not {prefix}/<device_id>/up or /status")
    device_id = parts[0]
    if not DEVICE_ID_PATTERN.match(device_id):
        raise InvalidReading(Reason.INVALID_DEVICE_ID, f"device id {device_id!r} in the topic is not valid")
    return device_id, parts[1]


def parse(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    prefix: str = "dampwatch",
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
) -> ParseResult:
    """Parse one native message into readings and rejections (never raises for bad input)."""
    result = ParseResult()
    try:
        device_id, kind = split_topic(topic, prefix)
    except InvalidReading as bad:
        result.rejections.append(Rejection(bad.reason, bad.detail))
        return result
    try:
        document = decode_payload(payload)
        if kind == "status":
            result.status = _status(device_id, document)
            return result
        if not isinstance(document, dict):
            raise InvalidReading(Reason.NOT_AN_OBJECT, f"payload is a JSON {type(document).__name__}, not an object")
    except InvalidReading as bad:
        result.rejections.append(Rejection(bad.reason, bad.detail, device_id))
        return result

    if "readings" in document:
        items = document["readings"]
        if not isinstance(items, list):
            result.rejections.append(Rejection(Reason.WRONG_TYPE, "'readings' must be a list", device_id))
            return result
        if not items:
            result.rejections.append(Rejection(Reason.EMPTY_BATCH, "'readings' is an empty list", device_id))
            return result
        if len(items) > MAX_BATCH_READINGS:
            result.rejections.append(
                Rejection(
                    Reason.BATCH_TOO_LARGE,
                    f"batch of {len(items)} readings; at most {MAX_BATCH_READINGS} per message",
                    device_id,
                )
            )
            return result
        where = "reading {index} of " + str(len(items)) + ": "
    else:
        items = [document]
        where = ""
    latest_allowed = received_at + dt.timedelta(seconds=max_future_s)
    for index, item in enumerate(items, start=1):
        try:
            result.readings.append(reading_from_document(device_id, item, received_at, latest_allowed))
        except InvalidReading as bad:
            result.rejections.append(
                Rejection(bad.reason, where.format(index=index) + bad.detail, device_id)
            )
    return result


def decode_payload(payload: bytes) -> object:
    """JSON from a payload under the 64 KiB limit; raises ``InvalidReading`` with the reason code."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidReading(
            Reason.PAYLOAD_TOO_LARGE,
            f"payload is over {MAX_PAYLOAD_BYTES} bytes, the most accepted; send smaller messages or batches",
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidReading(Reason.NOT_UTF8, f"payload is not UTF-8 (byte {exc.start})") from None
    try:
        return _loads_unique(text)
    except _DuplicateKey as exc:
        raise InvalidReading(
            Reason.DUPLICATE_KEY, f"payload JSON repeats the key {exc.key[:40]!r} in one object; send each field once"
        ) from None
    except RecursionError:
        raise InvalidReading(Reason.TOO_DEEPLY_NESTED, "payload JSON is nested too deeply") from None
    except ValueError as exc:  # includes integers longer than Python's 4300-digit conversion limit
        raise InvalidReading(Reason.INVALID_JSON, f"payload is not valid JSON: {str(exc)[:200]}") from None


def _loads_unique(text: str) -> object:
    """``json.loads`` that refuses a repeated key in any object.

    The common payload, one flat object without escapes, is parsed at C speed and
    proved free of repeats by counting colons: without backslashes every colon in
    the text belongs to a key token or lies inside a key or string value, so the
    count equals ``len(object)`` plus the colons inside its keys and string values
    exactly when no key token was dropped. Anything else takes the exact (slower)
    path that checks every object as it is built.
    """
    if text[:1] == "{" and "\\" not in text:
        document = json.loads(text)
        if type(document) is dict:
            colons = len(document)
            for key, value in document.items():
                if type(value) is dict or type(value) is list:
                    break
                colons += key.count(":") + (value.count(":") if type(value) is str else 0)
            else:
                if colons == text.count(":"):
                    return document
    return json.loads(text, object_pairs_hook=_unique_keys)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """``object_pairs_hook`` for :func:`json.loads`: an object naming a key twice is refused, not "last wins"."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return document


# -- bounded conversions (shared with the adapters: none of them raises anything but InvalidReading) -----------


def describe_number(value: object) -> str:
    """A short, safe text for a number in a message (a huge integer is described, never printed in full)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_ABS_INT < value < MAX_ABS_INT:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def finite_float(value: object, name: str) -> float:
    """``value`` (a JSON number) as a finite float; raises ``InvalidReading``, never ``OverflowError``.

    Booleans and strings are ``wrong_type``; NaN, infinities and integers of
    :data:`MAX_ABS_INT` or more are ``not_finite``. A float that underflows in
    JSON (``1e-400``) has already become ``0.0`` and is accepted as such.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidReading(Reason.WRONG_TYPE, f"'{name}' must be a number, not {type(value).__name__}")
    if isinstance(value, int):
        if -MAX_ABS_INT < value < MAX_ABS_INT:
            return float(value)
        raise InvalidReading(Reason.NOT_FINITE, f"'{name}' is {describe_number(value)}, too large for a measurement")
    if not math.isfinite(value):
        raise InvalidReading(Reason.NOT_FINITE, f"'{name}' is {value}, not a finite number")
    return float(value)


def float_in_range(value: object, name: str, low: float, high: float, reason: str, unit: str = "") -> float:
    """``value`` as a float within ``[low, high]``, else ``InvalidReading(reason)`` (huge integers included)."""
    if (type(value) is float or type(value) is int) and low <= value <= high:  # the common case; NaN fails it
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_ABS_INT < value < MAX_ABS_INT:
        raise InvalidReading(reason, f"'{name}' {describe_number(value)} is outside {low:g}..{high:g}{unit}")
    number = finite_float(value, name)
    if not low <= number <= high:
        raise InvalidReading(reason, f"'{name}' {number:g}{unit} is outside {low:g}..{high:g}{unit}")
    return number


def bounded_int(value: object, name: str, low: int, high: int, reason: str) -> int:
    """A whole number (JSON integer, or a float with no fraction) within ``[low, high]``; else ``InvalidReading``."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < MAX_ABS_INT:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidReading(reason, f"'{name}' must be a whole number from {low} to {high}, not {describe_number(value)}")
    return value


def epoch_to_datetime(value: object, name: str = "ts") -> dt.datetime:
    """Epoch seconds (int or float) as an aware UTC datetime; raises ``InvalidReading`` for anything else.

    Values above :data:`EPOCH_SECONDS_MAX` are refused as milliseconds. The range
    of years is checked by :func:`check_device_time`.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidReading(Reason.WRONG_TYPE, f"'{name}' must be epoch seconds, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidReading(Reason.NOT_FINITE, f"'{name}' is {value}, not a finite number")
    if value > EPOCH_SECONDS_MAX:
        raise InvalidReading(
            Reason.INVALID_TIMESTAMP, f"'{name}' {describe_number(value)} looks like milliseconds; send epoch seconds"
        )
    if value < -EPOCH_SECONDS_MAX:
        raise InvalidReading(Reason.TIMESTAMP_TOO_OLD, f"'{name}' {describe_number(value)} is long before {EARLIEST_TS.year}")
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidReading(Reason.INVALID_TIMESTAMP, f"'{name}' {describe_number(value)} is not a valid epoch time") from None


def iso_to_datetime(value: object, name: str = "ts", *, zone: dt.tzinfo = dt.UTC) -> dt.datetime:
    """An ISO 8601 string as an aware UTC datetime (a string without offset is in ``zone``).

    Raises ``InvalidReading``, never ``OverflowError``: years far outside the
    accepted range (``0001-01-01T00:00:00+01:00``) are refused before the
    conversion to UTC.
    """
    if not isinstance(value, str):
        raise InvalidReading(Reason.WRONG_TYPE, f"'{name}' must be an ISO 8601 string, not {type(value).__name__}")
    if len(value) > MAX_TIMESTAMP_CHARS:
        raise InvalidReading(Reason.INVALID_TIMESTAMP, f"'{name}' is {len(value)} characters; not a timestamp")
    try:
        ts = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidReading(Reason.INVALID_TIMESTAMP, f"'{name}' {value[:40]!r} is not ISO 8601") from None
    if ts.year < EARLIEST_TS.year - 1:
        raise InvalidReading(
            Reason.TIMESTAMP_TOO_OLD, f"'{name}' {value[:40]!r} is before {EARLIEST_TS.year}; the device clock is not set"
        )
    if ts.year > dt.MAXYEAR - 1:
        raise InvalidReading(Reason.FUTURE_TIMESTAMP, f"'{name}' {value[:40]!r} is in the far future")
    try:
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=zone)
        return ts.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise InvalidReading(Reason.INVALID_TIMESTAMP, f"'{name}' {value[:40]!r} is not a valid time") from None


def check_device_time(
    ts: dt.datetime, received_at: dt.datetime, max_future_s: float = DEFAULT_MAX_FUTURE_S, name: str = "ts"
) -> dt.datetime:
    """A device's own time if it lies in ``2015-01-01 .. received_at + max_future_s``, to the whole second (UTC).

    Raises ``InvalidReading`` with ``timestamp_too_old`` (the clock was never
    set) or ``future_timestamp``. ``ts`` must be aware (or naive UTC).
    """
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    if ts < EARLIEST_TS:
        raise InvalidReading(
            Reason.TIMESTAMP_TOO_OLD, f"'{name}' {ts.isoformat()} is before {EARLIEST_TS.year}; the device clock is not set"
        )
    latest_allowed = received_at + dt.timedelta(seconds=max_future_s)
    if ts > latest_allowed:
        raise InvalidReading(
            Reason.FUTURE_TIMESTAMP,
            f"'{name}' {ts.isoformat()} is more than {int(max_future_s)} s "
            "ahead of the ingest clock; check the device's time source",
        )
    return ts.astimezone(dt.UTC).replace(microsecond=0)


def device_time(
    value: object, received_at: dt.datetime, max_future_s: float = DEFAULT_MAX_FUTURE_S, name: str = "ts"
) -> dt.datetime:
    """A device timestamp (ISO 8601 string or epoch seconds) checked by :func:`check_device_time`."""
    if isinstance(value, str):
        ts = iso_to_datetime(value, name)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ts = epoch_to_datetime(value, name)
    else:
        raise InvalidReading(
            Reason.WRONG_TYPE, f"'{name}' must be an ISO 8601 string or epoch seconds, not {type(value).__name__}"
        )
    return check_device_time(ts, received_at, max_future_s, name)


def _timestamp(value: object, received_at: dt.datetime, latest_allowed: dt.datetime) -> dt.datetime:
    return device_time(value, received_at, (latest_allowed - received_at).total_seconds())


def reading_from_document(device_id: str, item: object, received_at: dt.datetime, latest_allowed: dt.datetime) -> Reading:
    """One native reading object as a :class:`Reading`; raises ``InvalidReading`` (and nothing else) if it breaks a rule."""
    if not isinstance(item, dict):
        raise InvalidReading(Reason.WRONG_TYPE, f"a reading must be a JSON object, not {type(item).__name__}")
    for name in ("temperature_c", "humidity_pct"):
        if item.get(name) is None:
            raise InvalidReading(Reason.MISSING_FIELD, f"'{name}' is missing")
    low, high = TEMPERATURE_RANGE_C
    temperature_c = float_in_range(
        item["temperature_c"], "temperature_c", low, high, Reason.TEMPERATURE_OUT_OF_RANGE, " °C"
    )
    low, high = HUMIDITY_RANGE_PCT
    humidity_pct = float_in_range(item["humidity_pct"], "humidity_pct", low, high, Reason.HUMIDITY_OUT_OF_RANGE, " %")
    battery_v = None
    if item.get("battery_v") is not None:
        low, high = BATTERY_RANGE_V
        battery_v = float_in_range(item["battery_v"], "battery_v", low, high, Reason.BATTERY_OUT_OF_RANGE, " V")
    seq = item.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0 or seq >= MAX_ABS_INT):
        raise InvalidReading(Reason.INVALID_SEQ, f"'seq' must be a whole number from 0, not {describe_number(seq)}"[:120])
    flags = 0
    raw_ts = item.get("ts")
    if raw_ts is None:
        ts = received_at.astimezone(dt.UTC).replace(microsecond=0)
        flags |= FLAG_UNTIMED
    else:
        ts = _timestamp(raw_ts, received_at, latest_allowed)
    return Reading(device_id, ts, temperature_c, humidity_pct, battery_v, seq, flags)


def _status(device_id: str, document: object) -> DeviceStatus:
    if isinstance(document, str):
        return DeviceStatus(device_id, document[:20], {})
    if not isinstance(document, dict) or not isinstance(document.get("status"), str):
        raise InvalidReading(Reason.INVALID_STATUS, "a status message must be an object with a 'status' string")
    return DeviceStatus(device_id, document["status"][:20], document)
