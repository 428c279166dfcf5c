"""Tasmota telemetry and status answers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

from ingest.adapters.base import (
    AdapterOptions,
    AdapterResult,
    FieldRule,
    _fahrenheit_to_celsius,
    _known_device_id,
    _lookup,
    _object,
    _reading_result,
    _rejected,
    _rules,
    effective_options,
    extract_fields,
    load_json,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason, Rejection

logger = logging.getLogger(__name__)

#: One Tasmota sensor object (``"SHT3X": {...}``); the unit comes from ``TempUnit``.
TASMOTA_FIELDS: tuple[FieldRule, ...] = (
    *_rules("temperature_c", "Temperature"),
    *_rules("humidity_pct", "Humidity"),
)





#: Tasmota topics that carry sensor values: periodic telemetry, and the answers to ``Status 8`` / ``Status 10``.
SENSOR_KINDS = {"SENSOR": None, "STATUS8": "StatusSNS", "STATUS10": "StatusSNS"}
_PREFIXES = ("tele", "stat")


def tasmota(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """Tasmota ``tele/<topic>/SENSOR`` telemetry and ``stat/<topic>/STATUS8`` (or ``STATUS10``) answers.

    The default FullTopic ``%prefix%/%topic%/`` and ``%topic%/%prefix%/`` are both read.
    Every sensor object with a ``Humidity`` (SHT3X, BME280, AM2301, SI7021, SCD30 ...)
    gives a reading, converted from °F when ``TempUnit`` is ``F``. With one such sensor
    the device key is the Tasmota topic; with several each sensor is its own device,
    ``<topic>/<SensorName>`` (a device-map row for ``<topic>/<SensorName>`` is also used
    when there is one sensor). ``Time`` is used when it carries an offset, or when the
    Tasmota time zone is configured (``DAMPWATCH_INGEST_TASMOTA_TIMEZONE``); otherwise the
    ingest time. Other telemetry (``STATE``, ``LWT``, ``INFO``, other status answers) is ignored.
    """
    options = effective_options(options, mapping, max_future_s)
    parts = topic.split("/")
    if len(parts) >= 3 and parts[0] in _PREFIXES:
        device_topic = "/".join(parts[1:-1])
    elif len(parts) >= 3 and parts[-2] in _PREFIXES:
        device_topic = "/".join(parts[:-2])
    else:
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} is not tele/<topic>/SENSOR or stat/<topic>/STATUS8")
    kind = parts[-1]
    if not device_topic or not all(device_topic.split("/")):
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} has no Tasmota topic")
    if kind not in SENSOR_KINDS:
        return AdapterResult(ignored=f"Tasmota {kind} message")
    where_topic = f"Tasmota {device_topic}"
    try:
        document = _object(load_json(payload), f"Tasmota {kind}")
        wrapper = SENSOR_KINDS[kind]
        if wrapper is not None:
            if wrapper not in document:
                return AdapterResult(ignored=f"Tasmota {kind} answer without {wrapper}")
            document = _object(document[wrapper], f"Tasmota {kind} '{wrapper}'")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail, _known_device_id("tasmota", device_topic, options.mapping, "tasmota"))
    sensors = [(name, value) for name, value in document.items() if isinstance(value, dict) and "Humidity" in value]
    if not sensors:
        return AdapterResult(ignored=f"{where_topic} reports no humidity sensor")
    unit = document.get("TempUnit", "C")
    if unit not in ("C", "F"):
        return _rejected(
            Reason.WRONG_TYPE, f"{where_topic}: TempUnit {str(unit)[:20]!r} is neither C nor F",
            _known_device_id("tasmota", device_topic, options.mapping, "tasmota"),
        )
    rules = TASMOTA_FIELDS if unit == "C" else (
        FieldRule("Temperature", "temperature_c", _fahrenheit_to_celsius), *TASMOTA_FIELDS[1:],
    )
    ts = tasmota_time(document.get("Time"), options.tasmota_timezone)
    result = AdapterResult()
    for sensor_name, sensor in sensors:
        key = f"{device_topic}/{sensor_name}"
        if len(sensors) == 1 and _lookup(options.mapping, "tasmota", key) is None:
            key = device_topic
        where = f"Tasmota {device_topic} {sensor_name}"
        fields = extract_fields(sensor, rules)
        if "humidity_pct" not in fields:  # "Humidity": null: the sensor could not be read
            result.rejections.append(Rejection(
                Reason.MISSING_FIELD, f"{where} sent no humidity value (the sensor read failed)",
                _known_device_id("tasmota", key, options.mapping, "tasmota"),
            ))
            continue
        one = _reading_result(
            "tasmota", key, "tasmota", fields, ts=ts, received_at=received_at, mapping=options.mapping,
            max_future_s=options.max_future_s, where=where, rules=rules,
        )
        result.readings.extend(one.readings)
        result.rejections.extend(one.rejections)
    return result


def tasmota_time(value: object, zone: dt.tzinfo | None) -> str | None:
    """Tasmota's ``Time`` as a native ``ts``: kept if it has an offset, placed in ``zone`` if not.

    Tasmota's default ``Time`` is the device's local time without an offset; with no zone
    configured it is not trusted (None: the ingest time is used). A string that is not a
    time is passed on so the native rules reject it.
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value[:64]  # let the native rules reject it
    if parsed.tzinfo is not None:
        return value
    if zone is None or parsed.year < 2000:
        return None
    return parsed.replace(tzinfo=zone, fold=0).isoformat()


register_adapter("tasmota", lambda: tasmota, default_routes=[(40, "tele/+/SENSOR"), (41, "stat/+/STATUS8"),
                                                             (42, "stat/+/STATUS10")])
