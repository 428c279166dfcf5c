"""Adapters for sensors that do not speak the native payload: LoRaWAN servers, Zigbee and Wi-Fi hubs, SenML.

Each adapter turns one MQTT message of another system into DampWatch readings
and rejections, with no I/O::

    adapter(topic, payload, *, received_at, mapping=None, max_future_s=600, options=None) -> AdapterResult

(``options``, an :class:`AdapterOptions`, carries the device map, the codecs and the
Tasmota time zone; ``mapping`` and ``max_future_s`` remain for callers that predate it)

and applies the native contract's rules through :func:`ingest.parse.reading_from_document`
(temperature -40..85 °C, humidity 0..100 %, battery 0..10 V, finite numbers, a
timestamp at most ten minutes ahead and not before 2015), so a reading is judged the
same whatever format it arrived in. :class:`AdapterRegistry` chooses the adapter by
MQTT topic filter.

One module per system (``chirpstack.py``, ``tts.py``, ...); each registers itself with
:func:`ingest.adapters.registry.register_adapter` when imported, and this package imports
every module in its folder, so adding a system is one new module plus its test. Raw
LoRaWAN bytes are decoded by the codecs of :mod:`ingest.codecs`.

=====================  ==============================================  ======================================
adapter                topics (default filter)                         device key → default DampWatch id
=====================  ==============================================  ======================================
``chirpstack``         ``application/+/device/+/event/+`` (v4, v3)     DevEUI → ``lorawan-<deveui>``
``tts``                ``v3/+/devices/+/#`` (The Things Stack v3)      DevEUI → ``lorawan-<deveui>``, else
                                                                       device id → ``tts-<device id>``
``zigbee2mqtt``        ``zigbee2mqtt/#``                               friendly name → ``z2m-<name>``
``tasmota``            ``tele/+/SENSOR``, ``stat/+/STATUS8``,          Tasmota topic → ``tasmota-<topic>``;
                       ``stat/+/STATUS10``                             several humidity sensors:
                                                                       ``<topic>/<Sensor>`` each
``shelly``             ``shellies/+/sensor/+`` (Gen1 H&T),             Shelly id → ``shelly-<id>``
                       ``+/events/rpc`` (Gen2+; prefixes with ``/``
                       need their own filter, e.g. ``home/#``)
``senml``              none (choose a filter)                          base name, else the MQTT topic →
                                                                       ``senml-<key>``
``chirpstack-http``,   ``http/...`` topics that :mod:`ingest.http`     as ``chirpstack`` and ``tts``
``tts-http``           gives requests (no broker route)
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
    a :class:`ingest.parse.Reason` code: bad JSON, an uplink with no decoded payload and
    no built-in codec for the device (``missing_field``, naming the codecs and the
    device-map row to add), bytes the codec cannot read (``codec_error``), humidity
    without temperature, out-of-range or non-numeric values.

Numbers
    Numeric strings in plain decimal such as ``"21.5"`` (common in LoRaWAN codecs) are
    accepted as numbers; ``"nan"``, ``"inf"``, hex and ``1_000`` are not. Every conversion
    is bounded before arithmetic: an integer too large for a float is infinite, so it is
    rejected as ``not_finite`` and never raises ``OverflowError``. ``1e-400`` is 0.0 (the
    JSON parser's nearest double); a repeated JSON key refuses the payload
    (``duplicate_key``, :func:`ingest.parse.decode_payload`).

Field names
    Decoded payloads name their values freely; :data:`LORAWAN_FIELDS` and the other
    tables list, in order of preference, the names each adapter reads and how it converts
    them (°F → °C, K → °C, mV → V). Battery is read only from fields that are volts
    (``BatV``, ``battery_v``, Zigbee2MQTT ``voltage`` in mV): ``battery`` is a percentage
    in most systems and is not stored. The LoRaWAN frame counter (``fCnt``/``f_cnt``)
    becomes ``seq``.

Timestamps
    ChirpStack's ``time`` (v4), else the earliest gateway ``rxInfo[].time`` (v3); The
    Things Stack's ``uplink_message.received_at`` (network reception time); history and
    datalog records decoded by a codec keep the device's own time; Shelly Gen2
    ``params.ts``; SenML ``bt + t``; Zigbee2MQTT ``last_seen`` when it is configured to send
    it (ISO 8601 or epoch milliseconds). Tasmota's ``Time`` is the device's local time
    without an offset: it is used when it carries one (``SetOption52 1``) or when its zone
    is configured (``DAMPWATCH_INGEST_TASMOTA_TIMEZONE``). Otherwise (and for Shelly Gen1,
    which sends none) the ingest time is used and the reading is flagged untimed
    (:data:`core.readings.FLAG_UNTIMED`).

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

import importlib
import pkgutil

from ingest.adapters import registry
from ingest.adapters.base import (
    KELVIN_OFFSET,
    LORAWAN_FIELDS,
    Adapter,
    AdapterOptions,
    AdapterResult,
    FieldRule,
    build_reading,
    extract_fields,
    load_json,
    resolve_device_id,
)
from ingest.adapters.registry import (
    ADAPTERS,
    AdapterRegistry,
    default_routes,
    parse_routes,
    register_adapter,
    registry_from_settings,
    select_adapter,
    topic_matches,
    validate_topic_filter,
)

_SHARED_MODULES = frozenset({"base", "registry"})
for _module in pkgutil.iter_modules(__path__):
    if _module.name not in _SHARED_MODULES and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

# The adapters under their historical names (each is also the name of its module: the function wins here).
from ingest.adapters.chirpstack import chirpstack  # noqa: E402
from ingest.adapters.senml import SENML_BATTERY_NAMES, SENML_RELATIVE_TIME_LIMIT, SENML_UNITS, senml  # noqa: E402
from ingest.adapters.shelly import SHELLY_MAX_PENDING, SHELLY_PAIR_WINDOW_S, ShellyAdapter  # noqa: E402
from ingest.adapters.tasmota import TASMOTA_FIELDS, tasmota  # noqa: E402
from ingest.adapters.tts import tts  # noqa: E402
from ingest.adapters.zigbee2mqtt import ZIGBEE2MQTT_FIELDS, zigbee2mqtt  # noqa: E402

#: Topic filters of each system's default set-up, in route order (SenML has none: add your own).
DEFAULT_ROUTES: tuple[tuple[str, str], ...] = default_routes()

__all__ = [
    "ADAPTERS",
    "DEFAULT_ROUTES",
    "KELVIN_OFFSET",
    "LORAWAN_FIELDS",
    "SENML_BATTERY_NAMES",
    "SENML_RELATIVE_TIME_LIMIT",
    "SENML_UNITS",
    "SHELLY_MAX_PENDING",
    "SHELLY_PAIR_WINDOW_S",
    "TASMOTA_FIELDS",
    "ZIGBEE2MQTT_FIELDS",
    "Adapter",
    "AdapterOptions",
    "AdapterRegistry",
    "AdapterResult",
    "FieldRule",
    "ShellyAdapter",
    "build_reading",
    "chirpstack",
    "default_routes",
    "extract_fields",
    "load_json",
    "parse_routes",
    "register_adapter",
    "registry",
    "registry_from_settings",
    "resolve_device_id",
    "select_adapter",
    "senml",
    "tasmota",
    "topic_matches",
    "tts",
    "validate_topic_filter",
    "zigbee2mqtt",
]
