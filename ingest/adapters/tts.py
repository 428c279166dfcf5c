"""The Things Stack v3 uplinks, over its MQTT server or a webhook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

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
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason


def tts(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """The Things Stack v3 MQTT server: ``v3/<app id>@<tenant>/devices/<device id>/up``.

    Readings come from ``uplink_message.decoded_payload`` when a payload formatter is set,
    otherwise from ``frm_payload`` through a built-in codec (:mod:`ingest.codecs`); join,
    downlink, service and location messages and simulated uplinks are ignored. The time is
    ``uplink_message.received_at`` (network reception).
    """
    options = effective_options(options, mapping, max_future_s)
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "v3" or parts[2] != "devices":
        return _rejected(Reason.INVALID_TOPIC, f"topic {topic!r} is not v3/<app>@<tenant>/devices/<device id>/up")
    return tts_message(parts[3], "/".join(parts[4:]), payload, received_at=received_at, options=options)


def tts_message(
    device_name: str, event: str, payload: bytes, *, received_at: dt.datetime, options: AdapterOptions
) -> AdapterResult:
    """A message about device ``device_name`` (from the MQTT topic, or the webhook body's ``end_device_ids``)."""
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
        if decoded is not None:
            decoded = _object(decoded, "'decoded_payload'")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail, _known_device_id("tts", device_name, options.mapping, "tts"))
    ids = document.get("end_device_ids")
    dev_eui = ids.get("dev_eui") if isinstance(ids, dict) else None
    if isinstance(dev_eui, str) and dev_eui:
        key, prefix = dev_eui.lower(), "lorawan"
    else:
        key, prefix = device_name, "tts"
    ts = uplink.get("received_at") or document.get("received_at")
    where = f"The Things Stack uplink of {device_name}"
    if decoded is None or use_codec(decoded, options, "tts", key):
        return codec_result(
            "tts", key, default_prefix=prefix, fport=uplink.get("f_port"), data=uplink.get("frm_payload"), ts=ts,
            seq=uplink.get("f_cnt"), received_at=received_at, options=options, where=where,
            configure="set an uplink payload formatter for the device or application in The Things Stack",
        )
    return decoded_result(
        "tts", key, prefix, decoded, ts=ts, seq=uplink.get("f_cnt"), received_at=received_at, options=options,
        where=where,
    )


#: Webhook bodies by the top-level key that names the message type (uplinks are read; the rest ignored).
WEBHOOK_MESSAGE_KEYS = ("uplink_message", "join_accept", "downlink_ack", "downlink_nack", "downlink_sent",
                        "downlink_failed", "downlink_queued", "location_solved", "service_data", "uplink_normalized")


def tts_http(
    topic: str,
    payload: bytes,
    *,
    received_at: dt.datetime,
    mapping: Mapping[str, str] | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    options: AdapterOptions | None = None,
) -> AdapterResult:
    """A message pushed by a The Things Stack webhook, as :mod:`ingest.http` names it: ``http/tts/<name>``.

    The device and the message type come from the body (``end_device_ids.device_id``; an
    ``uplink_message`` is an uplink, every other type is ignored).
    """
    options = effective_options(options, mapping, max_future_s)
    try:
        document = _object(load_json(payload), "The Things Stack webhook message")
    except InvalidReading as bad:
        return _rejected(bad.reason, bad.detail)
    ids = document.get("end_device_ids")
    device_name = ids.get("device_id") if isinstance(ids, dict) else None
    if not isinstance(device_name, str) or not device_name:
        return _rejected(Reason.MISSING_FIELD, "The Things Stack webhook message has no end_device_ids.device_id")
    if "uplink_message" not in document:
        kind = next((key for key in WEBHOOK_MESSAGE_KEYS if key in document), "unknown")
        return AdapterResult(ignored=f"The Things Stack {kind} message")
    return tts_message(device_name, "up", payload, received_at=received_at, options=options)


register_adapter("tts", lambda: tts, default_routes=[(20, "v3/+/devices/+/#")])
register_adapter("tts-http", lambda: tts_http)
