"""The parts every adapter shares: the result type, field-name tables, device identity and validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

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


