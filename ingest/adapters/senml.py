"""SenML JSON packs (RFC 8428)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping

from ingest.adapters.base import (
    AdapterOptions,
    AdapterResult,
    _kelvin_to_celsius,
    _numeric,
    _reading_result,
    _rejected,
    effective_options,
    load_json,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason

#: SenML times below 2**28 are relative to now (RFC 8428 section 4.5.3).
SENML_RELATIVE_TIME_LIMIT = 2**28


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
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """A SenML JSON pack (RFC 8428): a JSON array of records, base fields resolved in order.

    Records in ``Cel`` or ``K`` are temperatures and in ``%RH`` humidities; a record in
    ``V`` named like a battery is the battery voltage. Records of the same device (base
    name, or the topic when there is none) and the same resolved time form one reading;
    each becomes a reading or a rejection on its own. Times below 2**28 are relative to
    the ingest time; a pack with no time at all is flagged untimed.
    """
    settings = effective_options(options, mapping, max_future_s)
    mapping, max_future_s = settings.mapping, settings.max_future_s
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
            value = _numeric(value) + base_value  # bounded: a 400-digit integer is infinite, not an OverflowError
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
    value = _numeric(value)
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




register_adapter("senml", lambda: senml)  # SenML has no standard topic: add your own route
