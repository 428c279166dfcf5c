"""Tasmota telemetry."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from ingest.adapters.base import (
    AdapterResult,
    FieldRule,
    _fahrenheit_to_celsius,
    _known_device_id,
    _object,
    _reading_result,
    _rejected,
    _rules,
    extract_fields,
    load_json,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason

logger = logging.getLogger(__name__)

#: One Tasmota sensor object (``"SHT3X": {...}``); the unit comes from ``TempUnit``.
TASMOTA_FIELDS: tuple[FieldRule, ...] = (
    *_rules("temperature_c", "Temperature"),
    *_rules("humidity_pct", "Humidity"),
)





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




register_adapter("tasmota", lambda: tasmota, default_routes=[(40, "tele/+/SENSOR")])
