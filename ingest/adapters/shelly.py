"""Shelly H&T, Gen1 and Gen2+."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any

from ingest.adapters.base import (
    AdapterOptions,
    AdapterResult,
    _fahrenheit_to_celsius,
    _numeric,
    _object,
    _reading_result,
    _rejected,
    effective_options,
    load_json,
)
from ingest.adapters.registry import register_adapter
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, Reason

#: How long a Shelly half-reading (temperature or humidity alone) waits for its other half.
SHELLY_PAIR_WINDOW_S = 30.0
#: Devices whose half-reading the Shelly adapter holds at most (the oldest are dropped).
SHELLY_MAX_PENDING = 10_000



@dataclasses.dataclass(slots=True)
class _Half:
    temperature_c: object = None
    humidity_pct: object = None
    battery_v: object = None
    ts: object = None


class ShellyAdapter:
    """Shelly H&T, Gen1 (one MQTT message per value, paired here) and Gen2+ (RPC notifications).

    One instance per ingestor (it holds unpaired half-readings); thread-safe.
    """

    def __init__(self, pair_window_s: float = SHELLY_PAIR_WINDOW_S, max_pending: int = SHELLY_MAX_PENDING) -> None:
        self.pair_window_s = pair_window_s
        self.max_pending = max_pending
        self._pending: dict[str, tuple[dt.datetime, _Half]] = {}  # by device: its arrival, the half-reading
        self._lock = threading.Lock()

    def __call__(
        self,
        topic: str,
        payload: bytes,
        *,
        received_at: dt.datetime,
        mapping: Mapping[str, str] | None = None,
        max_future_s: float = DEFAULT_MAX_FUTURE_S,
        options: AdapterOptions | None = None,
    ) -> AdapterResult:
        """One Shelly message. Gen2+ topic prefixes may contain ``/`` (``home/bathroom/shellyhtg3-1/events/rpc``)."""
        settings = effective_options(options, mapping, max_future_s)
        parts = topic.split("/")
        options_ = {"received_at": received_at, "mapping": settings.mapping, "max_future_s": settings.max_future_s}
        if len(parts) == 4 and parts[0] == "shellies" and parts[2] == "sensor":
            return self._gen1(parts[1], parts[3], payload, **options_)
        prefix = "/".join(parts[:-2])
        if len(parts) >= 3 and parts[-2:] == ["events", "rpc"] and all(parts[:-2]):
            return self._rpc(prefix, payload, **options_)
        if (len(parts) >= 3 and parts[-2] == "status" and all(parts[:-2])
                and parts[-1] in ("temperature:0", "humidity:0", "devicepower:0")):
            return self._component(prefix, parts[-1], payload, **options_)
        return AdapterResult(ignored=f"Shelly message on {topic!r} carries no sensor value")

    # Gen1: shellies/<id>/sensor/<kind>, payload a bare number

    def _gen1(self, shelly_id: str, kind: str, payload: bytes, **options: Any) -> AdapterResult:
        if kind not in ("temperature", "humidity"):
            return AdapterResult(ignored=f"Shelly {kind} message")
        try:
            value = load_json(payload)
        except InvalidReading as bad:
            return _rejected(bad.reason, f"Shelly {shelly_id} {kind}: {bad.detail}")
        half = _Half(temperature_c=_numeric(value)) if kind == "temperature" else _Half(humidity_pct=_numeric(value))
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
        src = document.get("src")
        shelly_id = src if isinstance(src, str) else prefix
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
        if half.temperature_c is None or half.humidity_pct is None:
            with self._lock:
                waiting = self._pending.pop(shelly_id, None)
                if waiting is not None and abs((received_at - waiting[0]).total_seconds()) <= self.pair_window_s:
                    half = _merge(waiting[1], half)
                if half.temperature_c is None or half.humidity_pct is None:
                    self._remember(shelly_id, received_at, half)
                    return AdapterResult(ignored=f"Shelly {shelly_id}: waiting for the other half of the reading")
        fields = {
            key: value
            for key, value in (("temperature_c", half.temperature_c), ("humidity_pct", half.humidity_pct),
                               ("battery_v", half.battery_v))
            if value is not None
        }
        return _reading_result(
            "shelly", shelly_id, "shelly", fields, ts=half.ts, received_at=received_at, mapping=mapping,
            max_future_s=max_future_s, where=f"Shelly {shelly_id}",
        )

    def _remember(self, shelly_id: str, received_at: dt.datetime, half: _Half) -> None:
        self._pending[shelly_id] = (received_at, half)
        if len(self._pending) > self.max_pending:
            oldest = min(self._pending, key=lambda key: self._pending[key][0])
            del self._pending[oldest]

    def pending(self) -> int:
        """How many devices have a half-reading waiting."""
        with self._lock:
            return len(self._pending)


def _merge(older: _Half, newer: _Half) -> _Half:
    """Two halves as one: the newer value of each field wins (the caller keeps the newer arrival)."""
    merged = _Half()
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




register_adapter("shelly", ShellyAdapter, default_routes=[(50, "shellies/+/sensor/+"), (51, "+/events/rpc")])
