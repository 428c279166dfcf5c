"""Zigbee2MQTT device state messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ingest.adapters.base import (
    AdapterOptions,
    AdapterResult,
    FieldRule,
    _known_device_id,
    _millivolts_to_volts,
    _object,
    _reading_result,
    _rejected,
    _rules,
    effective_options,
    extract_fields,
    load_json,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason

#: Zigbee2MQTT device state: always °C and %; ``voltage`` is the battery in millivolts.
ZIGBEE2MQTT_FIELDS: tuple[FieldRule, ...] = (
    *_rules("temperature_c", "temperature"),
    *_rules("humidity_pct", "humidity"),
    *_rules("battery_v", "voltage", convert=_millivolts_to_volts),
)



_ZIGBEE2MQTT_SUFFIXES = ("availability", "set", "get")


def zigbee2mqtt(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """Zigbee2MQTT device state: ``<base topic>/<friendly name>`` (the name may contain ``/``).

    The first topic level is the base topic (``zigbee2mqtt`` by default). ``bridge/...``,
    ``.../availability`` and ``.../set`` / ``.../get`` topics are ignored. The time is the
    state's ``last_seen`` when Zigbee2MQTT is configured to add it (``advanced.last_seen``:
    ``ISO_8601``, ``ISO_8601_local`` or ``epoch`` milliseconds); without it, the ingest time.
    """
    options = effective_options(options, mapping, max_future_s)
    mapping, max_future_s = options.mapping, options.max_future_s
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
        ts=last_seen_time(state.get("last_seen")), received_at=received_at, mapping=mapping, max_future_s=max_future_s,
        where=f"Zigbee2MQTT state of {friendly_name!r}", rules=ZIGBEE2MQTT_FIELDS,
    )



def last_seen_time(value: object) -> object:
    """``last_seen`` as a native ``ts``: ISO strings as they are, epoch milliseconds as seconds, else None.

    A value that is neither (a boolean, a number that is no plausible epoch in milliseconds)
    is passed on unchanged when it is a string, so the native rules reject it with their
    reason, and treated as absent otherwise.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 < value < EPOCH_MILLISECONDS_MAX:
        return None
    return value / 1000


#: ``last_seen`` epoch values at or above this are not milliseconds of a plausible date (year 5138).
EPOCH_MILLISECONDS_MAX = 1e14


register_adapter("zigbee2mqtt", lambda: zigbee2mqtt, default_routes=[(30, "zigbee2mqtt/#")])
