"""ChirpStack MQTT integration events (v4, and v3's JSON marshalers): ``application/<id>/device/<devEui>/event/<type>``.

Readings come from ``up`` events: the network server's decoded ``object`` (v3's
``objectJSON`` string too) when a codec is set in the device profile, otherwise the raw
``data`` bytes through a built-in codec (:mod:`ingest.codecs`). Other event types are
ignored. The time is v4's ``time`` (network reception), else the earliest gateway time
``rxInfo[].time`` (v3, and v4 gateways with GPS); neither: the ingest time, flagged.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from ingest.adapters.base import (
    AdapterOptions,
    AdapterResult,
    _known_device_id,
    _object,
    _rejected,
    codec_result,
    decoded_result,
    effective_options,
    load_json,
    use_codec,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, MAX_PAYLOAD_BYTES, InvalidReading, Reason

CONFIGURE_CODEC = "configure a payload codec in the ChirpStack device profile"


def chirpstack(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """One ChirpStack integration event (JSON marshaler)."""
    options = effective_options(options, mapping, max_future_s)
    parts = topic.split("/")
    if len(parts) != 6 or parts[0] != "application" or parts[2] != "device" or parts[4] != "event":
        return _rejected(
            Reason.INVALID_TOPIC, f"topic {topic!r} is not application/<id>/device/<devEui>/event/<type>"
        )
    return chirpstack_event(parts[3], parts[5], payload, received_at=received_at, options=options)


def chirpstack_event(
    dev_eui: str, event: str, payload: bytes, *, received_at: dt.datetime, options: AdapterOptions
) -> AdapterResult:
    """An event of device ``dev_eui`` (from the MQTT topic or the HTTP integration's ``event`` parameter)."""
    dev_eui = dev_eui.lower()
    if event != "up":
        return AdapterResult(ignored=f"ChirpStack {event} event")
    where = f"ChirpStack uplink of {dev_eui}"
    try:
        document = _object(load_json(payload), "ChirpStack up event")
        decoded = document.get("object")
        if decoded is None and isinstance(document.get("objectJSON"), str) and document["objectJSON"]:
            decoded = _object_json(document["objectJSON"])
        if decoded is not None:
            decoded = _object(decoded, "ChirpStack 'object'")
    except InvalidReading as bad:
        detail = bad.detail
        if bad.reason in (Reason.NOT_UTF8, Reason.INVALID_JSON):
            detail += "; set the ChirpStack integration's marshaler to JSON"
        return _rejected(bad.reason, detail, _known_device_id("chirpstack", dev_eui, options.mapping, "lorawan"))
    ts = document.get("time") or earliest_gateway_time(document.get("rxInfo"))
    if decoded is None or use_codec(decoded, options, "chirpstack", dev_eui):
        return codec_result(
            "chirpstack", dev_eui, fport=document.get("fPort"), data=document.get("data"), ts=ts,
            seq=document.get("fCnt"), received_at=received_at, options=options, where=where,
            configure=CONFIGURE_CODEC + " (a codec error is also reported as a ChirpStack log event)",
        )
    return decoded_result(
        "chirpstack", dev_eui, "lorawan", decoded, ts=ts, seq=document.get("fCnt"), received_at=received_at, options=options,
        where=where,
    )


def _object_json(text: str) -> object:
    if len(text) > MAX_PAYLOAD_BYTES:
        raise InvalidReading(Reason.PAYLOAD_TOO_LARGE, "ChirpStack 'objectJSON' is too large")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidReading(Reason.INVALID_JSON, "ChirpStack 'objectJSON' is not valid JSON") from None


def earliest_gateway_time(rx_info: object) -> str | None:
    """The earliest ``rxInfo[].time`` that is an ISO 8601 time with an offset (None if there is none)."""
    if not isinstance(rx_info, list):
        return None
    best: tuple[dt.datetime, str] | None = None
    for item in rx_info[:64]:
        text = item.get("time") if isinstance(item, dict) else None
        if not isinstance(text, str) or len(text) > 64:
            continue
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            continue
        if parsed.tzinfo is None or parsed.year < 2000:
            continue
        try:
            key = parsed.astimezone(dt.UTC)
        except OverflowError:
            continue
        if best is None or key < best[0]:
            best = (key, text)
    return best[1] if best else None


def chirpstack_http(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """An event pushed by ChirpStack's HTTP integration, as :mod:`ingest.http` names it: ``http/chirpstack/<name>/<event>``.

    The DevEUI comes from the body: ``deviceInfo.devEui`` (v4) or ``devEUI`` (v3, hex or base64).
    """
    options = effective_options(options, mapping, max_future_s)
    parts = topic.split("/")
    if len(parts) != 4 or parts[:2] != ["http", "chirpstack"]:
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} is not http/chirpstack/<integration>/<event>")
    event = parts[3]
    if event != "up":
        return AdapterResult(ignored=f"ChirpStack {event} event")
    try:
        document = _object(load_json(payload), "ChirpStack up event")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail + "; set the ChirpStack HTTP integration's payload encoding to JSON")
    dev_eui = body_dev_eui(document)
    if dev_eui is None:
        return _rejected(
            Reason.MISSING_FIELD, "ChirpStack up event has no device EUI (deviceInfo.devEui in v4, devEUI in v3)"
        )
    return chirpstack_event(dev_eui, event, payload, received_at=received_at, options=options)


def body_dev_eui(document: dict[str, Any]) -> str | None:
    """The DevEUI of a ChirpStack event body, as 16 lower-case hex digits (None if absent or malformed)."""
    info = document.get("deviceInfo")
    candidate = info.get("devEui") if isinstance(info, dict) else document.get("devEUI")
    if not isinstance(candidate, str):
        return None
    if len(candidate) == 16 and all(c in "0123456789abcdefABCDEF" for c in candidate):
        return candidate.lower()
    try:
        raw = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 8 else None


register_adapter("chirpstack", lambda: chirpstack, default_routes=[(10, "application/+/device/+/event/+")])
register_adapter("chirpstack-http", lambda: chirpstack_http)
