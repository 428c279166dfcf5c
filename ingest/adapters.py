"""Adapters for sensors that do not speak the native payload: LoRaWAN servers, Zigbee and Wi-Fi hubs, SenML.

Each adapter turns one MQTT message of another system into DampWatch readings
and rejections, with no I/O::

    adapter(topic, payload, *, received_at, mapping, max_future_s=600) -> AdapterResult

and applies the native contract's rules through :func:`ingest.parse.reading_from_document`
(temperature -40..85 °C, humidity 0..100 %, battery 0..10 V, finite numbers, a
timestamp at most ten minutes ahead and not before 2015), so a reading is judged the
same whatever format it arrived in. :class:`AdapterRegistry` chooses the adapter by
MQTT topic filter.

=====================  ==============================================  ======================================
adapter                topics (default filter)                         device key → default DampWatch id
=====================  ==============================================  ======================================
``chirpstack``         ``application/+/device/+/event/+`` (v4)         DevEUI → ``lorawan-<deveui>``
``tts``                ``v3/+/devices/+/#`` (The Things Stack v3)      DevEUI → ``lorawan-<deveui>``, else
                                                                       device id → ``tts-<device id>``
``zigbee2mqtt``        ``zigbee2mqtt/#``                               friendly name → ``z2m-<name>``
``tasmota``            ``tele/+/SENSOR``                               Tasmota topic → ``tasmota-<topic>``
``shelly``             ``shellies/+/sensor/+`` (Gen1 H&T),             Shelly id → ``shelly-<id>``
                       ``+/events/rpc`` (Gen2+; add ``+/status/+``
                       if only generic status updates are on)
``senml``              none (choose a filter)                          base name, else the MQTT topic →
                                                                       ``senml-<key>``
=====================  ==============================================  ======================================

Device identity
    ``mapping`` maps a system's own device key to a DampWatch device id. It is looked
    up as ``"<adapter>:<key>"`` first, then ``"<key>"``, then the key lower-cased, so
    ``{"0101010101010101": "bath-12a"}`` and ``{"zigbee2mqtt:Bathroom sensor": "bath-12a"}``
    both work. An unmapped key gets the default id in the table: lower-cased, with any
    character a device id cannot hold (``[A-Za-z0-9_.-]``) replaced by ``-``. A key whose
    default id would be longer than 64 characters must be mapped. The ingestor still
    checks that the device is registered (``unknown_device``).

What counts as a reading
    A message becomes a reading when it carries a relative humidity: a device that
    reports no humidity (a plug, a door sensor, a thermostat valve's temperature) is not a
    damp sensor, and its messages are **ignored** (``AdapterResult.ignored`` says why;
    nothing is dead-lettered). Messages that are not uplinks at all are ignored the same
    way: ChirpStack ``join``/``status``/``ack``/``txack``/``log`` events, The Things Stack
    ``join``/``down/*``/``service/*`` messages and simulated uplinks, Zigbee2MQTT
    ``bridge/*``, ``availability``, ``set`` and ``get`` topics, Tasmota ``STATE``/``LWT``.
    A message that should hold a reading and cannot give one is **dead-lettered** with
    a :class:`ingest.parse.Reason` code: bad JSON, an uplink with no decoded payload
    (``missing_field``: configure a codec or payload formatter), humidity without
    temperature, out-of-range or non-numeric values. Numeric strings such as ``"21.5"``
    (common in LoRaWAN codecs) are accepted as numbers.

Field names
    Decoded payloads name their values freely; :data:`LORAWAN_FIELDS` and the other
    tables list, in order of preference, the names each adapter reads and how it converts
    them (°F → °C, K → °C, mV → V). Battery is read only from fields that are volts
    (``BatV``, ``battery_v``, Zigbee2MQTT ``voltage`` in mV): ``battery`` is a percentage
    in most systems and is not stored. The LoRaWAN frame counter (``fCnt``/``f_cnt``)
    becomes ``seq``.

Timestamps
    ChirpStack's ``time`` and The Things Stack's ``uplink_message.received_at`` (network
    reception time); Shelly Gen2 ``params.ts``; SenML ``bt + t``. Tasmota's ``Time`` is the
    device's local time without an offset, so unless it carries one (``SetOption52 1``)
    the ingest time is used, as it is for Zigbee2MQTT and Shelly Gen1, which send none;
    such readings are flagged untimed (:data:`core.readings.FLAG_UNTIMED`).

Shelly Gen1 H&T pairing
    The Gen1 H&T publishes temperature and humidity as two MQTT messages
    (``shellies/<id>/sensor/temperature`` then ``.../humidity``) each time it wakes. The
    ``shelly`` adapter keeps the latest half of each device in memory and emits one reading
    when the other half arrives within :data:`SHELLY_PAIR_WINDOW_S` (30 s), time-stamped
    with the later arrival; a half that waits longer is dropped. The first half is
    therefore acknowledged before its reading is stored: a crash between the two halves
    loses that one reading, and the device sends a new pair at its next wake-up (at most
    a few hours later). Gen2+ devices (Plus H&T, H&T Gen3) send both values in one
    ``NotifyFullStatus``; a ``NotifyStatus`` or ``status/...`` message with one of them is
    paired the same way. Gen1 publishes temperature in the unit set on the device: set it
    to °C. The battery percentage is not stored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from core.errors import ConfigError
from core.model import DEVICE_ID_PATTERN
from core.readings import Reading
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

#: How long a Shelly half-reading (temperature or humidity alone) waits for its other half.
SHELLY_PAIR_WINDOW_S = 30.0
#: Devices whose half-reading the Shelly adapter holds at most (the oldest are dropped).
SHELLY_MAX_PENDING = 10_000
#: SenML times below 2**28 are relative to now (RFC 8428 section 4.5.3).
SENML_RELATIVE_TIME_LIMIT = 2**28
KELVIN_OFFSET = 273.15
_INVALID_ID_CHARS = re.compile(r"[^a-z0-9_.-]+")


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
    ) -> AdapterResult: ...


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

#: Zigbee2MQTT device state: always °C and %; ``voltage`` is the battery in millivolts.
ZIGBEE2MQTT_FIELDS: tuple[FieldRule, ...] = (
    *_rules("temperature_c", "temperature"),
    *_rules("humidity_pct", "humidity"),
    *_rules("battery_v", "voltage", convert=_millivolts_to_volts),
)

#: One Tasmota sensor object (``"SHT3X": {...}``); the unit comes from ``TempUnit``.
TASMOTA_FIELDS: tuple[FieldRule, ...] = (
    *_rules("temperature_c", "Temperature"),
    *_rules("humidity_pct", "Humidity"),
)


def _numeric(value: object) -> object:
    """Numbers and numeric strings as floats; anything else unchanged (validation rejects it)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    return value


def extract_fields(decoded: Mapping[str, Any], rules: Sequence[FieldRule]) -> dict[str, object]:
    """The native fields found in ``decoded`` by ``rules`` (first matching name wins; None counts as absent)."""
    found: dict[str, object] = {}
    for rule in rules:
        if rule.target in found or decoded.get(rule.name) is None:
            continue
        value = _numeric(decoded[rule.name])
        if rule.convert is not None and isinstance(value, float):
            value = rule.convert(value)
        found[rule.target] = value
    return found


def _names(rules: Sequence[FieldRule], target: str) -> str:
    return ", ".join(rule.name for rule in rules if rule.target == target)


# --- shared steps ----------------------------------------------------------------------------


def load_json(payload: bytes) -> object:
    """Decode a JSON payload under the native size limit; raises ``InvalidReading``."""
    return decode_payload(payload)


def _object(document: object, what: str) -> dict:
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


def _rejected(reason: str, detail: str, device_id: str | None = None) -> AdapterResult:
    return AdapterResult(rejections=[Rejection(reason, detail, device_id)])


def _known_device_id(adapter: str, key: str, mapping: Mapping[str, str] | None, default_prefix: str) -> str | None:
    """The device id for dead-letter records of a message that could not be read (None if there is none)."""
    try:
        return resolve_device_id(adapter, key, mapping, default_prefix)
    except InvalidReading:
        return None


# --- ChirpStack v4 -----------------------------------------------------------------------------


def chirpstack(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
) -> AdapterResult:
    """ChirpStack v4 MQTT integration events, JSON marshaler: ``application/<id>/device/<devEui>/event/<type>``.

    Readings come from ``up`` events' decoded ``object``; other event types are ignored.
    """
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != "application" or parts[2] != "device" or parts[4] != "event":
        return _rejected(
            Reason.INVALID_TOPIC, f"topic {topic!r} is not application/<id>/device/<devEui>/event/<type>"
        )
    dev_eui, event = parts[3].lower(), parts[5]
    if event != "up":
        return AdapterResult(ignored=f"ChirpStack {event} event")
    try:
        document = _object(load_json(payload), "ChirpStack up event")
        decoded = document.get("object")
        if decoded is None:
            raise InvalidReading(
                Reason.MISSING_FIELD,
                "ChirpStack up event has no decoded 'object'; configure a payload codec in the device profile "
                "(a codec error is also reported as a ChirpStack log event)",
            )
        decoded = _object(decoded, "ChirpStack 'object'")
    except InvalidReading as bad:
        detail = bad.detail
        if bad.reason in (Reason.NOT_UTF8, Reason.INVALID_JSON):
            detail += "; set the ChirpStack MQTT integration's marshaler to JSON"
        return _rejected(bad.reason, detail, _known_device_id("chirpstack", dev_eui, mapping, "lorawan"))
    return _reading_result(
        "chirpstack", dev_eui, "lorawan", extract_fields(decoded, LORAWAN_FIELDS),
        ts=document.get("time"), seq=document.get("fCnt"), received_at=received_at, mapping=mapping,
        max_future_s=max_future_s, where=f"ChirpStack uplink of {dev_eui}", rules=LORAWAN_FIELDS,
    )


# --- The Things Stack v3 -------------------------------------------------------------------------


def tts(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
) -> AdapterResult:
    """The Things Stack v3 MQTT server: ``v3/<app id>@<tenant>/devices/<device id>/up``.

    Readings come from ``uplink_message.decoded_payload``; join, downlink, service
    and location messages and simulated uplinks are ignored.
    """
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "v3" or parts[2] != "devices":
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} is not v3/<app>@<tenant>/devices/<device id>/up")
    device_name, event = parts[3], "/".join(parts[4:])
    if event != "up":
        return AdapterResult(ignored=f"The Things Stack {event} message")
    try:
        document = _object(load_json(payload), "The Things Stack uplink")
        if document.get("simulated"):
            return AdapterResult(ignored="simulated uplink (sent from the console, not the device)")
        uplink = document.get("uplink_message")
        if uplink is None:
            raise InvalidReading(Reason.MISSING_FIELD, "The Things Stack uplink has no 'uplink_message'")
        uplink = _object(uplink, "'uplink_message'")
        decoded = uplink.get("decoded_payload")
        if decoded is None:
            raise InvalidReading(
                Reason.MISSING_FIELD,
                "The Things Stack uplink has no 'decoded_payload'; set an uplink payload formatter for the device "
                "or application",
            )
        decoded = _object(decoded, "'decoded_payload'")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail, _known_device_id("tts", device_name, mapping, "tts"))
    ids = document.get("end_device_ids")
    dev_eui = ids.get("dev_eui") if isinstance(ids, dict) else None
    if isinstance(dev_eui, str) and dev_eui:
        key, prefix = dev_eui.lower(), "lorawan"
    else:
        key, prefix = device_name, "tts"
    return _reading_result(
        "tts", key, prefix, extract_fields(decoded, LORAWAN_FIELDS),
        ts=uplink.get("received_at") or document.get("received_at"), seq=uplink.get("f_cnt"),
        received_at=received_at, mapping=mapping, max_future_s=max_future_s,
        where=f"The Things Stack uplink of {device_name}", rules=LORAWAN_FIELDS,
    )


# --- Zigbee2MQTT ---------------------------------------------------------------------------------

_ZIGBEE2MQTT_SUFFIXES = ("availability", "set", "get")


def zigbee2mqtt(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
) -> AdapterResult:
    """Zigbee2MQTT device state: ``<base topic>/<friendly name>`` (the name may contain ``/``).

    The first topic level is the base topic (``zigbee2mqtt`` by default). ``bridge/...``,
    ``.../availability`` and ``.../set`` / ``.../get`` topics are ignored. Zigbee2MQTT
    sends no timestamp, so the ingest time is used.
    """
    parts = topic.split("/")
    if len(parts) < 2 or not all(parts[1:]):
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} is not <base topic>/<friendly name>")
    name_parts = parts[1:]
    if name_parts[0] == "bridge":
        return AdapterResult(ignored="Zigbee2MQTT bridge message")
    if name_parts[-1] in _ZIGBEE2MQTT_SUFFIXES or (len(name_parts) > 2 and name_parts[-2] in ("set", "get")):
        return AdapterResult(ignored=f"Zigbee2MQTT {name_parts[-1]} topic")
    friendly_name = "/".join(name_parts)
    try:
        state = _object(load_json(payload), f"Zigbee2MQTT state of {friendly_name!r}")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail, _known_device_id("zigbee2mqtt", friendly_name, mapping, "z2m"))
    return _reading_result(
        "zigbee2mqtt", friendly_name, "z2m", extract_fields(state, ZIGBEE2MQTT_FIELDS),
        ts=None, received_at=received_at, mapping=mapping, max_future_s=max_future_s,
        where=f"Zigbee2MQTT state of {friendly_name!r}", rules=ZIGBEE2MQTT_FIELDS,
    )


# --- Tasmota -------------------------------------------------------------------------------------


def tasmota(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
) -> AdapterResult:
    """Tasmota telemetry ``tele/<topic>/SENSOR`` (default FullTopic ``%prefix%/%topic%/``).

    The first sensor object with a ``Humidity`` (SHT3X, BME280, AM2301, SI7021, SCD30 ...)
    gives the reading, converted from °F when ``TempUnit`` is ``F``. Other telemetry
    (``STATE``, ``LWT``, ``INFO``) is ignored.
    """
    parts = topic.split("/")
    if len(parts) != 3 or not parts[1]:
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} is not tele/<topic>/SENSOR")
    device_topic, kind = parts[1], parts[2]
    if kind != "SENSOR":
        return AdapterResult(ignored=f"Tasmota {kind} telemetry")
    try:
        document = _object(load_json(payload), "Tasmota SENSOR telemetry")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail, _known_device_id("tasmota", device_topic, mapping, "tasmota"))
    sensors = [(name, value) for name, value in document.items() if isinstance(value, dict) and "Humidity" in value]
    if not sensors:
        return AdapterResult(ignored=f"Tasmota {device_topic} reports no humidity sensor")
    sensor_name, sensor = sensors[0]
    if len(sensors) > 1:
        logger.debug("Tasmota %s reports %d humidity sensors; using %s", device_topic, len(sensors), sensor_name)
    where = f"Tasmota {device_topic} {sensor_name}"
    unit = document.get("TempUnit", "C")
    if unit not in ("C", "F"):
        return _rejected(
            Reason.WRONG_TYPE, f"{where}: TempUnit {unit!r} is neither C nor F",
            _known_device_id("tasmota", device_topic, mapping, "tasmota"),
        )
    rules = TASMOTA_FIELDS if unit == "C" else (
        FieldRule("Temperature", "temperature_c", _fahrenheit_to_celsius), *TASMOTA_FIELDS[1:],
    )
    fields = extract_fields(sensor, rules)
    if "humidity_pct" not in fields:  # "Humidity": null: the sensor could not be read
        return _rejected(
            Reason.MISSING_FIELD, f"{where} sent no humidity value (the sensor read failed)",
            _known_device_id("tasmota", device_topic, mapping, "tasmota"),
        )
    return _reading_result(
        "tasmota", device_topic, "tasmota", fields,
        ts=_offset_time_or_none(document.get("Time")), received_at=received_at, mapping=mapping,
        max_future_s=max_future_s, where=where, rules=rules,
    )


def _offset_time_or_none(value: object) -> str | None:
    """An ISO time only if it carries a UTC offset (Tasmota's default ``Time`` is local time without one)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value  # let the native rules reject it
    return value if parsed.tzinfo is not None else None


# --- Shelly H&T ----------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Half:
    temperature_c: object = None
    humidity_pct: object = None
    battery_v: object = None
    ts: object = None
    at: dt.datetime | None = None


class ShellyAdapter:
    """Shelly H&T, Gen1 (one MQTT message per value, paired here) and Gen2+ (RPC notifications).

    One instance per ingestor (it holds unpaired half-readings); thread-safe.
    """

    def __init__(self, pair_window_s: float = SHELLY_PAIR_WINDOW_S, max_pending: int = SHELLY_MAX_PENDING) -> None:
        self.pair_window_s = pair_window_s
        self.max_pending = max_pending
        self._pending: dict[str, _Half] = {}
        self._lock = threading.Lock()

    def __call__(
        self,
        topic: str,
        payload: bytes,
        *,
        received_at: dt.datetime,
        mapping: Mapping[str, str] | None = None,
        max_future_s: float = DEFAULT_MAX_FUTURE_S,
    ) -> AdapterResult:
        parts = topic.split("/")
        options = {"received_at": received_at, "mapping": mapping, "max_future_s": max_future_s}
        if len(parts) == 4 and parts[0] == "shellies" and parts[2] == "sensor":
            return self._gen1(parts[1], parts[3], payload, **options)
        if len(parts) == 3 and parts[1:] == ["events", "rpc"]:
            return self._rpc(parts[0], payload, **options)
        if len(parts) == 3 and parts[1] == "status" and parts[2] in ("temperature:0", "humidity:0", "devicepower:0"):
            return self._component(parts[0], parts[2], payload, **options)
        return AdapterResult(ignored=f"Shelly message on {topic!r} carries no sensor value")

    # Gen1: shellies/<id>/sensor/<kind>, payload a bare number

    def _gen1(self, shelly_id: str, kind: str, payload: bytes, **options: Any) -> AdapterResult:
        if kind not in ("temperature", "humidity"):
            return AdapterResult(ignored=f"Shelly {kind} message")
        try:
            value = load_json(payload)
        except InvalidReading as bad:
            return _rejected(bad.reason, f"Shelly {shelly_id} {kind}: {bad.detail}")
        half = _Half(**{"temperature_c" if kind == "temperature" else "humidity_pct": _numeric(value)})
        return self._pair(shelly_id, half, **options)

    # Gen2+: <id>/events/rpc with NotifyStatus or NotifyFullStatus

    def _rpc(self, prefix: str, payload: bytes, **options: Any) -> AdapterResult:
        try:
            document = _object(load_json(payload), "Shelly RPC notification")
        except InvalidReading as bad:
            return _rejected(bad.reason, bad.detail)
        method = document.get("method")
        if method not in ("NotifyStatus", "NotifyFullStatus"):
            return AdapterResult(ignored=f"Shelly {method} notification")
        params = document.get("params")
        if not isinstance(params, dict):
            return _rejected(Reason.WRONG_TYPE, f"Shelly {method} has no 'params' object")
        shelly_id = document.get("src") if isinstance(document.get("src"), str) else prefix
        half = _Half(ts=_shelly_ts(params.get("ts")))
        _read_components(params, half)
        if half.temperature_c is None and half.humidity_pct is None:
            return AdapterResult(ignored=f"Shelly {method} without temperature or humidity")
        return self._pair(shelly_id, half, **options)

    def _component(self, shelly_id: str, component: str, payload: bytes, **options: Any) -> AdapterResult:
        try:
            status = _object(load_json(payload), f"Shelly {component} status")
        except InvalidReading as bad:
            return _rejected(bad.reason, bad.detail)
        half = _Half()
        _read_components({component: status}, half)
        if half.temperature_c is None and half.humidity_pct is None:
            return AdapterResult(ignored=f"Shelly {component} status")
        return self._pair(shelly_id, half, **options)

    def _pair(
        self, shelly_id: str, half: _Half, *, received_at: dt.datetime, mapping: Mapping[str, str] | None,
        max_future_s: float,
    ) -> AdapterResult:
        half.at = received_at
        if half.temperature_c is None or half.humidity_pct is None:
            with self._lock:
                waiting = self._pending.pop(shelly_id, None)
                if waiting is not None and abs((received_at - waiting.at).total_seconds()) <= self.pair_window_s:
                    half = _merge(waiting, half)
                if half.temperature_c is None or half.humidity_pct is None:
                    self._remember(shelly_id, half)
                    return AdapterResult(ignored=f"Shelly {shelly_id}: waiting for the other half of the reading")
        fields = {
            key: value
            for key, value in (("temperature_c", half.temperature_c), ("humidity_pct", half.humidity_pct),
                               ("battery_v", half.battery_v))
            if value is not None
        }
        return _reading_result(
            "shelly", shelly_id, "shelly", fields, ts=half.ts, received_at=half.at or received_at, mapping=mapping,
            max_future_s=max_future_s, where=f"Shelly {shelly_id}",
        )

    def _remember(self, shelly_id: str, half: _Half) -> None:
        self._pending[shelly_id] = half
        if len(self._pending) > self.max_pending:
            oldest = min(self._pending, key=lambda key: self._pending[key].at)
            del self._pending[oldest]

    def pending(self) -> int:
        """How many devices have a half-reading waiting."""
        with self._lock:
            return len(self._pending)


def _merge(older: _Half, newer: _Half) -> _Half:
    """Two halves as one: the newer value of each field wins, stamped with the newer arrival."""
    merged = _Half(at=newer.at)
    for name in ("temperature_c", "humidity_pct", "battery_v", "ts"):
        value = getattr(newer, name)
        setattr(merged, name, value if value is not None else getattr(older, name))
    return merged


def _shelly_ts(value: object) -> object:
    """``params.ts``, or None (use the ingest time) when it is missing or before 2015: the clock is not set."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 1_420_070_400:
        return None
    return value


def _read_components(params: Mapping[str, Any], half: _Half) -> None:
    """``temperature:0`` (``tC``, else ``tF``), ``humidity:0`` (``rh``), ``devicepower:0`` battery volts."""
    temperature = params.get("temperature:0")
    if isinstance(temperature, dict):
        if temperature.get("tC") is not None:
            half.temperature_c = _numeric(temperature["tC"])
        elif temperature.get("tF") is not None:
            value = _numeric(temperature["tF"])
            half.temperature_c = _fahrenheit_to_celsius(value) if isinstance(value, float) else value
    humidity = params.get("humidity:0")
    if isinstance(humidity, dict) and humidity.get("rh") is not None:
        half.humidity_pct = _numeric(humidity["rh"])
    power = params.get("devicepower:0")
    if isinstance(power, dict):
        external = power.get("external")
        battery = power.get("battery")
        on_mains = isinstance(external, dict) and external.get("present") is True
        if isinstance(battery, dict) and battery.get("V") is not None and not on_mains:
            half.battery_v = _numeric(battery["V"])


# --- SenML (RFC 8428) ----------------------------------------------------------------------------

#: Units (RFC 8428 section 12.1) this adapter reads, and how.
SENML_UNITS: dict[str, tuple[str, Callable[[float], float] | None]] = {
    "Cel": ("temperature_c", None),
    "K": ("temperature_c", _kelvin_to_celsius),
    "%RH": ("humidity_pct", None),
}
#: Names (last part of the record name) of a record in volts that is a battery voltage.
SENML_BATTERY_NAMES = frozenset({"battery", "batt", "bat", "vbat", "battery_voltage", "batteryvoltage"})
_SENML_SEPARATORS = ":/.-_"


def senml(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
) -> AdapterResult:
    """A SenML JSON pack (RFC 8428): a JSON array of records, base fields resolved in order.

    Records in ``Cel`` or ``K`` are temperatures and in ``%RH`` humidities; a record in
    ``V`` named like a battery is the battery voltage. Records of the same device (base
    name, or the topic when there is none) and the same resolved time form one reading;
    each becomes a reading or a rejection on its own. Times below 2**28 are relative to
    the ingest time; a pack with no time at all is flagged untimed.
    """
    try:
        pack = load_json(payload)
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail)
    if not isinstance(pack, list):
        return _rejected(Reason.WRONG_TYPE, f"a SenML pack must be a JSON array of records, not a {type(pack).__name__}")
    if not pack:
        return _rejected(Reason.EMPTY_BATCH, "the SenML pack has no records")
    groups: dict[tuple[str, float], dict[str, object]] = {}
    base_name, base_time, base_unit, base_value = "", 0.0, None, 0.0
    for index, record in enumerate(pack, start=1):
        if not isinstance(record, dict):
            return _rejected(Reason.WRONG_TYPE, f"SenML record {index} is a {type(record).__name__}, not an object")
        try:
            if "bn" in record:
                base_name = _senml_text(record["bn"], "bn", index)
            if "bt" in record:
                base_time = _senml_number(record["bt"], "bt", index)
            if "bu" in record:
                base_unit = _senml_text(record["bu"], "bu", index)
            if "bv" in record:
                base_value = _senml_number(record["bv"], "bv", index)
            unit = _senml_text(record["u"], "u", index) if "u" in record else base_unit
            name = base_name + (_senml_text(record["n"], "n", index) if "n" in record else "")
            time_s = base_time + (_senml_number(record["t"], "t", index) if "t" in record else 0.0)
        except InvalidReading as bad:
            return _rejected(bad.reason, bad.detail)
        target, convert = _senml_target(unit, name)
        if target is None:
            continue  # a quantity DampWatch does not store (position, light, battery %)
        value = record.get("v")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = float(value) + base_value
            value = convert(value) if convert is not None else value
        elif value is None:
            value = record.get("vs", record.get("vb", "no numeric value"))
        key = base_name.rstrip(_SENML_SEPARATORS) or topic
        groups.setdefault((key, time_s), {})[target] = value
    if not groups:
        return AdapterResult(ignored="SenML pack has no temperature or humidity record")
    result = AdapterResult()
    for (key, time_s), fields in groups.items():
        ts, where = _senml_time(time_s, received_at), f"SenML reading of {key!r}"
        one = _reading_result(
            "senml", key, "senml", fields, ts=ts, received_at=received_at, mapping=mapping,
            max_future_s=max_future_s, where=where,
        )
        result.readings.extend(one.readings)
        result.rejections.extend(one.rejections)
    if not result.readings and not result.rejections:
        result.ignored = "SenML pack has no humidity"
    return result


def _senml_text(value: object, field: str, index: int) -> str:
    if not isinstance(value, str):
        raise InvalidReading(Reason.WRONG_TYPE, f"SenML record {index}: '{field}' must be a string")
    return value


def _senml_number(value: object, field: str, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidReading(Reason.WRONG_TYPE, f"SenML record {index}: '{field}' must be a number")
    if not math.isfinite(value):
        raise InvalidReading(Reason.NOT_FINITE, f"SenML record {index}: '{field}' is not finite")
    return float(value)


def _senml_target(unit: str | None, name: str) -> tuple[str | None, Callable[[float], float] | None]:
    if unit in SENML_UNITS:
        return SENML_UNITS[unit]
    if unit == "V":
        last = re.split(r"[:/.]", name.rstrip(_SENML_SEPARATORS))[-1].lower()
        if last in SENML_BATTERY_NAMES:
            return "battery_v", None
    return None, None


def _senml_time(time_s: float, received_at: dt.datetime) -> object:
    """An absolute time for a resolved SenML time (None: untimed, use the ingest time)."""
    if time_s == 0:
        return None
    if abs(time_s) < SENML_RELATIVE_TIME_LIMIT:
        return (received_at + dt.timedelta(seconds=time_s)).timestamp()
    return time_s


# --- choosing an adapter by topic ----------------------------------------------------------------

#: Adapter factories by name (a new ingestor gets its own Shelly pairing state).
ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "chirpstack": lambda: chirpstack,
    "tts": lambda: tts,
    "zigbee2mqtt": lambda: zigbee2mqtt,
    "tasmota": lambda: tasmota,
    "shelly": ShellyAdapter,
    "senml": lambda: senml,
}

#: Topic filters of each system's default set-up. SenML has no standard topic: add your own.
DEFAULT_ROUTES: tuple[tuple[str, str], ...] = (
    ("application/+/device/+/event/+", "chirpstack"),
    ("v3/+/devices/+/#", "tts"),
    ("zigbee2mqtt/#", "zigbee2mqtt"),
    ("tele/+/SENSOR", "tasmota"),
    ("shellies/+/sensor/+", "shelly"),
    ("+/events/rpc", "shelly"),
)


def validate_topic_filter(topic_filter: str) -> None:
    """Raise :class:`ConfigError` unless ``topic_filter`` is a valid MQTT topic filter."""
    if not topic_filter or len(topic_filter.encode("utf-8")) > 65535:
        raise ConfigError(f"MQTT topic filter {topic_filter!r} is empty or too long")
    levels = topic_filter.split("/")
    for position, level in enumerate(levels):
        if "#" in level and (level != "#" or position != len(levels) - 1):
            raise ConfigError(f"MQTT topic filter {topic_filter!r}: '#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise ConfigError(f"MQTT topic filter {topic_filter!r}: '+' must be a whole level (a/+/b)")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches an MQTT topic filter (``+`` one level, ``#`` the rest, including none).

    As in MQTT, wildcards at the first level do not match topics starting with ``$``.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels, topic_levels = topic_filter.split("/"), topic.split("/")
    for position, level in enumerate(filter_levels):
        if level == "#":
            return True
        if position >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[position]:
            return False
    return len(filter_levels) == len(topic_levels)


def select_adapter(topic: str, patterns: Iterable[tuple[str, str]]) -> str | None:
    """The adapter name of the first ``(topic filter, adapter name)`` pattern that matches ``topic``."""
    for topic_filter, name in patterns:
        if topic_matches(topic_filter, topic):
            return name
    return None


def parse_routes(text: str) -> list[tuple[str, str]]:
    """Routes from a setting such as ``"zigbee2mqtt/#=zigbee2mqtt, tele/+/SENSOR=tasmota"``."""
    routes = []
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        topic_filter, separator, name = item.rpartition("=")
        if not separator or not topic_filter.strip() or not name.strip():
            raise ConfigError(
                f"adapter route {item!r} must be TOPIC_FILTER=ADAPTER (for example zigbee2mqtt/#=zigbee2mqtt)"
            )
        routes.append((topic_filter.strip(), name.strip()))
    return routes


class AdapterRegistry:
    """Routes MQTT topics to adapters by topic filter; the first matching route wins.

    ``routes`` is a list of ``(topic filter, adapter name)``; ``mapping`` the device
    mapping every adapter uses. Unknown adapter names and invalid filters raise
    :class:`ConfigError` at construction.
    """

    def __init__(
        self,
        routes: Iterable[tuple[str, str]] = DEFAULT_ROUTES,
        *,
        mapping: Mapping[str, str] | None = None,
        max_future_s: float = DEFAULT_MAX_FUTURE_S,
    ) -> None:
        self.routes: list[tuple[str, str]] = []
        self.mapping = dict(mapping or {})
        self.max_future_s = max_future_s
        self._adapters: dict[str, Adapter] = {}
        for topic_filter, name in routes:
            validate_topic_filter(topic_filter)
            if name not in ADAPTERS:
                raise ConfigError(
                    f"adapter {name!r} (for topic filter {topic_filter!r}) does not exist; "
                    f"choose one of: {', '.join(sorted(ADAPTERS))}"
                )
            if name not in self._adapters:
                self._adapters[name] = ADAPTERS[name]()
            self.routes.append((topic_filter, name))

    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to, each once, in route order."""
        return list(dict.fromkeys(topic_filter for topic_filter, _ in self.routes))

    def select(self, topic: str) -> str | None:
        """The name of the adapter for ``topic`` (None when no route matches)."""
        return select_adapter(topic, self.routes)

    def adapter(self, name: str) -> Adapter:
        """The adapter instance registered under ``name``."""
        return self._adapters[name]

    def parse(self, topic: str, payload: bytes, *, received_at: dt.datetime) -> AdapterResult | None:
        """Run the adapter chosen for ``topic``; None when no route matches it."""
        name = self.select(topic)
        if name is None:
            return None
        return self._adapters[name](
            topic, payload, received_at=received_at, mapping=self.mapping, max_future_s=self.max_future_s
        )
