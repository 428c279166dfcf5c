"""ChirpStack v4 MQTT integration events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ingest.adapters.base import (
    LORAWAN_FIELDS,
    AdapterResult,
    _known_device_id,
    _object,
    _reading_result,
    _rejected,
    extract_fields,
    load_json,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason


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




register_adapter("chirpstack", lambda: chirpstack, default_routes=[(10, "application/+/device/+/event/+")])
