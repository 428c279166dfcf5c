"""The parts every adapter shares: the result type, field-name tables, device identity and validation."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, overload

from core.errors import ConfigError
from core.model import DEVICE_ID_PATTERN
from core.readings import Reading
from ingest.codecs import CodecError, codec_by_name, codec_for_uplink, codec_names, codecs_for_dev_eui
from ingest.parse import (
    DEFAULT_MAX_FUTURE_S,
    InvalidReading,
    ParseResult,
    Reason,
    Rejection,
    decode_payload,
    reading_from_document,
)

logger = logging.getLogger(__name__)

KELVIN_OFFSET = 273.15
_INVALID_ID_CHARS = re.compile(r"[^a-z0-9_.-]+")
#: Numeric strings accepted as numbers: plain decimal notation, at most this long.
NUMERIC_STRING_MAX_CHARS = 32
_NUMERIC_STRING = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d{1,3})?")
#: Integers beyond this magnitude are not converted to float (a float cannot hold 10**309).
INTEGER_MAX_MAGNITUDE = 10**18


@dataclasses.dataclass(frozen=True, slots=True)
class AdapterOptions:
    """What the adapters are configured with, beyond the message itself.

    ``mapping`` maps a system's device key to a DampWatch device id; ``codecs`` maps the
    same keys to a codec name (:mod:`ingest.codecs`) for raw LoRaWAN bytes;
    ``tasmota_timezone`` is the zone of Tasmota's offset-less ``Time`` (None: such times
    are not trusted and the ingest time is used).
    """

    mapping: Mapping[str, str] = dataclasses.field(default_factory=dict)
    codecs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    max_future_s: float = DEFAULT_MAX_FUTURE_S
    tasmota_timezone: dt.tzinfo | None = None


@dataclasses.dataclass(slots=True)
class AdapterResult(ParseResult):
    """A :class:`ingest.parse.ParseResult` that may also say why a message was ignored.

    ``ignored`` is set (and there are no readings or rejections) when the message is
    valid but carries nothing to store: acknowledge it and move on.
    """

    ignored: str | None = None


class Adapter(Protocol):
    """What every adapter is: a function of one MQTT message."""

    def __call__(
        self,
        topic: str,
        payload: bytes,
        *,
        received_at: dt.datetime,
        mapping: Mapping[str, str] | None = None,
        max_future_s: float = DEFAULT_MAX_FUTURE_S,
        options: AdapterOptions | None = None,
    ) -> AdapterResult: ...


def effective_options(
    options: AdapterOptions | None, mapping: Mapping[str, str] | None, max_future_s: float
) -> AdapterOptions:
    """``options`` if given, else options built from the older ``mapping`` / ``max_future_s`` arguments."""
    if options is not None:
        return options
    return AdapterOptions(mapping=dict(mapping or {}), max_future_s=max_future_s)


# --- field-name tables -----------------------------------------------------------------------


def _fahrenheit_to_celsius(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def _kelvin_to_celsius(value: float) -> float:
    return value - KELVIN_OFFSET


def _millivolts_to_volts(value: float) -> float:
    return value / 1000.0


@dataclasses.dataclass(frozen=True, slots=True)
class FieldRule:
    """Read the decoded field ``name`` into the native field ``target``, converting its unit."""

    name: str
    target: str  # temperature_c, humidity_pct or battery_v
    convert: Callable[[float], float] | None = None


def _rules(target: str, *names: str, convert: Callable[[float], float] | None = None) -> tuple[FieldRule, ...]:
    return tuple(FieldRule(name, target, convert) for name in names)


#: Decoded LoRaWAN payloads (ChirpStack ``object``, The Things Stack ``decoded_payload``), most
#: specific first: Dragino (``TempC_SHT``, ``Hum_SHT``, ``TempC1``, ``BatV``), Milesight, Elsys,
#: Browan, Netvox, RAK and most generic codecs (``temperature``, ``humidity``).
LORAWAN_FIELDS: tuple[FieldRule, ...] = (
    *_rules("temperature_c", "temperature_c", "TempC_SHT", "temperature", "Temperature", "temp", "TempC1",
            "TempC", "air_temperature", "ambient_temperature"),
    *_rules("temperature_c", "temperature_f", "TempF", convert=_fahrenheit_to_celsius),
    *_rules("humidity_pct", "humidity_pct", "Hum_SHT", "humidity", "Humidity", "hum", "Hum", "relative_humidity",
            "rh", "air_humidity"),
    *_rules("battery_v", "battery_v", "BatV", "batV", "battery_voltage", "batteryVoltage", "vbat", "Vbat"),
    *_rules("battery_v", "battery_mv", "vdd", convert=_millivolts_to_volts),
)

@overload
def _numeric(value: float) -> float: ...  # an int or float (bool included) comes back a float or the bool
@overload
def _numeric(value: object) -> object: ...
def _numeric(value: object) -> object:
    """A number or numeric string as a float; anything else unchanged (validation rejects it).

    Bounded before any arithmetic: an integer too large for a float (a JSON number of
    309 or more digits) becomes infinity, which validation rejects as not finite, instead
    of raising ``OverflowError``. Numeric strings (``"21.5"``, common in LoRaWAN codecs) are
    accepted in plain decimal notation up to :data:`NUMERIC_STRING_MAX_CHARS` characters;
    ``"nan"``, ``"inf"``, ``"0x1A"`` or ``"1_000"`` are not numbers and stay strings.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > INTEGER_MAX_MAGNITUDE:
            return math.inf if value > 0 else -math.inf
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) <= NUMERIC_STRING_MAX_CHARS and _NUMERIC_STRING.fullmatch(text):
            return float(text)
        return value
    return value


def extract_fields(decoded: Mapping[str, Any], rules: Sequence[FieldRule]) -> dict[str, object]:
    """The native fields found in ``decoded`` by ``rules`` (first matching name wins; None counts as absent)."""
    found: dict[str, object] = {}
    for rule in rules:
        if rule.target in found or decoded.get(rule.name) is None:
            continue
        value = _numeric(decoded[rule.name])
        if rule.convert is not None and isinstance(value, float) and math.isfinite(value):
            value = rule.convert(value)
        found[rule.target] = value
    return found


def _names(rules: Sequence[FieldRule], target: str) -> str:
    return ", ".join(rule.name for rule in rules if rule.target == target)


# --- shared steps ----------------------------------------------------------------------------


def load_json(payload: bytes) -> object:
    """Decode a JSON payload under the native size limit; raises ``InvalidReading``."""
    return decode_payload(payload)


def _object(document: object, what: str) -> dict[str, Any]:  # a JSON object: values of any JSON type
    if not isinstance(document, dict):
        raise InvalidReading(Reason.NOT_AN_OBJECT, f"{what} is a JSON {type(document).__name__}, not an object")
    return document


def resolve_device_id(adapter: str, key: str, mapping: Mapping[str, str] | None, default_prefix: str) -> str:
    """The DampWatch device id for a system's device ``key`` (see the module docstring)."""
    if mapping:
        for candidate in (f"{adapter}:{key}", key, key.lower()):
            mapped = mapping.get(candidate)
            if mapped is not None:
                if not isinstance(mapped, str) or not DEVICE_ID_PATTERN.match(mapped):
                    raise InvalidReading(
                        Reason.INVALID_DEVICE_ID,
                        f"the device mapping gives {mapped!r} for {adapter} device {key!r}, which is not a valid "
                        "device id; fix the mapping (1 to 64 letters, digits, '.', '_' or '-')",
                    )
                return mapped
    slug = _INVALID_ID_CHARS.sub("-", key.lower()).strip("-.")
    device_id = f"{default_prefix}-{slug}"
    if not slug or not DEVICE_ID_PATTERN.match(device_id):
        raise InvalidReading(
            Reason.INVALID_DEVICE_ID,
            f"{adapter} device {key[:80]!r} gives no valid default device id; add it to the device mapping",
        )
    return device_id


def build_reading(
    device_id: str,
    fields: Mapping[str, object],
    *,
    ts: object,
    seq: object,
    received_at: dt.datetime,
    max_future_s: float,
    where: str,
    rules: Sequence[FieldRule] = (),
) -> Reading:
    """Validate ``fields`` with the native rules; returns the reading or raises ``InvalidReading``."""
    if "temperature_c" not in fields:
        names = _names(rules, "temperature_c")
        raise InvalidReading(
            Reason.MISSING_FIELD,
            f"{where} has a humidity but no temperature" + (f" (read from: {names})" if names else ""),
        )
    document = {key: fields[key] for key in ("temperature_c", "humidity_pct", "battery_v") if key in fields}
    if ts is not None:
        document["ts"] = ts
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**63:
        document["seq"] = seq
    latest_allowed = received_at + dt.timedelta(seconds=max_future_s)
    try:
        return reading_from_document(device_id, document, received_at, latest_allowed)
    except InvalidReading as bad:
        raise InvalidReading(bad.reason, f"{where}: {bad.detail}") from None


def _reading_result(
    adapter: str,
    key: str,
    default_prefix: str,
    fields: Mapping[str, object],
    *,
    ts: object,
    seq: object = None,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None,
    max_future_s: float,
    where: str,
    rules: Sequence[FieldRule] = (),
) -> AdapterResult:
    """The one reading of a message, or why it was ignored or rejected."""
    if "humidity_pct" not in fields:
        return AdapterResult(ignored=f"{where} has no humidity")
    try:
        device_id = resolve_device_id(adapter, key, mapping, default_prefix)
    except InvalidReading as bad:
        return AdapterResult(rejections=[Rejection(bad.reason, bad.detail)])
    try:
        reading = build_reading(
            device_id, fields, ts=ts, seq=seq, received_at=received_at, max_future_s=max_future_s, where=where,
            rules=rules,
        )
    except InvalidReading as bad:
        return AdapterResult(rejections=[Rejection(bad.reason, bad.detail, device_id)])
    return AdapterResult(readings=[reading])


#: Keys of a decoded LoRaWAN object that hold records the device stored while offline (Milesight's decoders
#: emit ``"history": [{"timestamp": <epoch s>, "temperature": .., "humidity": ..}, ...]``).
HISTORY_KEYS = ("history",)
#: History records read from one decoded object at most (the rest are rejected in one dead letter).
MAX_HISTORY_RECORDS = 1000


def decoded_result(
    adapter: str,
    key: str,
    default_prefix: str,
    decoded: Mapping[str, Any],
    *,
    ts: object,
    seq: object,
    received_at: dt.datetime,
    options: AdapterOptions,
    where: str,
) -> AdapterResult:
    """The readings of a decoded LoRaWAN object: its live values, and each history record at its own time.

    A history record's time is its ``timestamp`` (epoch seconds, as the vendors' decoders
    give it); a record without one cannot be placed in time and is rejected.
    """
    result = _reading_result(
        adapter, key, default_prefix, extract_fields(decoded, LORAWAN_FIELDS), ts=ts, seq=seq,
        received_at=received_at, mapping=options.mapping, max_future_s=options.max_future_s, where=where,
        rules=LORAWAN_FIELDS,
    )
    history = next((decoded[name] for name in HISTORY_KEYS if isinstance(decoded.get(name), list)), None)
    if not history:
        return result
    combined = AdapterResult(readings=list(result.readings), rejections=list(result.rejections))
    for index, record in enumerate(history[:MAX_HISTORY_RECORDS], start=1):
        label = f"{where}, history record {index}"
        if not isinstance(record, dict):
            combined.rejections.append(Rejection(Reason.WRONG_TYPE, f"{label} is not an object",
                                                 _known_device_id(adapter, key, options.mapping, default_prefix)))
            continue
        stamp = record.get("timestamp")
        if stamp is None or isinstance(stamp, bool):
            combined.rejections.append(Rejection(Reason.MISSING_FIELD, f"{label} has no 'timestamp'",
                                                 _known_device_id(adapter, key, options.mapping, default_prefix)))
            continue
        one = _reading_result(
            adapter, key, default_prefix, extract_fields(record, LORAWAN_FIELDS), ts=stamp, received_at=received_at,
            mapping=options.mapping, max_future_s=options.max_future_s, where=label, rules=LORAWAN_FIELDS,
        )
        combined.readings.extend(one.readings)
        combined.rejections.extend(one.rejections)
    if len(history) > MAX_HISTORY_RECORDS:
        combined.rejections.append(Rejection(
            Reason.BATCH_TOO_LARGE, f"{where}: {len(history)} history records; at most {MAX_HISTORY_RECORDS} are read",
            _known_device_id(adapter, key, options.mapping, default_prefix),
        ))
    if combined.readings or combined.rejections:
        return combined
    return result


def _rejected(reason: str, detail: str, device_id: str | None = None) -> AdapterResult:
    return AdapterResult(rejections=[Rejection(reason, detail, device_id)])


def _known_device_id(adapter: str, key: str, mapping: Mapping[str, str] | None, default_prefix: str) -> str | None:
    """The device id for dead-letter records of a message that could not be read (None if there is none)."""
    try:
        return resolve_device_id(adapter, key, mapping, default_prefix)
    except InvalidReading:
        return None




# --- raw LoRaWAN bytes through a codec ----------------------------------------------------------


def codec_result(
    adapter: str,
    dev_eui: str,
    *,
    default_prefix: str = "lorawan",
    fport: object,
    data: object,
    ts: object,
    seq: object,
    received_at: dt.datetime,
    options: AdapterOptions,
    where: str,
    configure: str,
) -> AdapterResult:
    """The readings of an uplink with no decoded object: its base64 ``data`` decoded by the device's codec.

    The codec is the device map's ``codec`` for the DevEUI, else the one its DevEUI range and
    fPort name unambiguously. Without one the uplink is dead-lettered saying which codec and
    which device-map row would read it (or ``configure``: the network server's own codec).
    """
    device_id = _known_device_id(adapter, dev_eui, options.mapping, default_prefix)
    port = fport if isinstance(fport, int) and not isinstance(fport, bool) and 0 <= fport <= 255 else None
    if data is None or data == "" or port == 0:
        return AdapterResult(ignored=f"{where} carries no application payload (MAC commands only)")
    if not isinstance(data, str):
        return _rejected(Reason.WRONG_TYPE, f"{where}: the payload bytes must be a base64 string", device_id)
    name = _lookup(options.codecs, adapter, dev_eui)
    try:
        codec = codec_by_name(name) if name else codec_for_uplink(dev_eui, port)
    except ConfigError as exc:  # a device-map codec that does not exist (also refused when the map is loaded)
        return _rejected(Reason.MISSING_FIELD, f"{where}: {exc}; fix the codec column of the device map", device_id)
    if codec is None:
        candidates = [c.name for c in codecs_for_dev_eui(dev_eui)] or codec_names()
        row = f"{dev_eui},{device_id or '<device id>'},{candidates[0] if len(candidates) == 1 else '<codec>'}"
        return _rejected(
            Reason.MISSING_FIELD,
            f"{where} (fPort {fport}) has no decoded object and no codec is known for this device; add the row "
            f"'{row}' to the device map (DAMPWATCH_INGEST_DEVICE_MAP_FILE, columns key,device_id,codec) with one "
            f"of the codecs {', '.join(candidates)}, or {configure}",
            device_id,
        )
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return _rejected(Reason.WRONG_TYPE, f"{where}: the payload bytes are not valid base64", device_id)
    result = AdapterResult()
    try:
        records = codec.decode(port, raw)
    except CodecError as bad:
        result.rejections.append(Rejection(bad.reason, f"{where}, codec {codec.name}: {bad.detail}", device_id))
        records = bad.decoded  # what was read before the problem is valid on its own
    for index, record in enumerate(records):
        fields = dict(record.fields)
        one = _reading_result(
            adapter, dev_eui, default_prefix, fields, ts=record.ts if record.ts is not None else ts,
            seq=seq if record.ts is None else None, received_at=received_at, mapping=options.mapping,
            max_future_s=options.max_future_s,
            where=f"{where}, codec {codec.name}" + (f", record {index + 1}" if len(records) > 1 else ""),
        )
        result.readings.extend(one.readings)
        result.rejections.extend(one.rejections)
    if not result.readings and not result.rejections:
        result.ignored = f"{where}: codec {codec.name} found no humidity in this frame"
    return result


def use_codec(decoded: Mapping[str, Any] | None, options: AdapterOptions, adapter: str, key: str) -> bool:
    """Whether to decode the raw bytes rather than the network server's object.

    Always when there is no object; also when the device map names a codec for the device
    and the object holds no humidity we can read (the server's codec names its fields in a
    way the tables do not know), so a mapped device is never silently ignored.
    """
    if decoded is None:
        return True
    if _lookup(options.codecs, adapter, key) is None:
        return False
    return "humidity_pct" not in extract_fields(decoded, LORAWAN_FIELDS) and not any(
        isinstance(decoded.get(name), list) for name in HISTORY_KEYS)


def _lookup(table: Mapping[str, str], adapter: str, key: str) -> str | None:
    for candidate in (f"{adapter}:{key}", key, key.lower()):
        found = table.get(candidate)
        if found:
            return found
    return None
