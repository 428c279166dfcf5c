"""Adapters for ChirpStack, The Things Stack, Zigbee2MQTT, Tasmota, Shelly and SenML, against the payloads
those systems publish (each example's source is in the comment above it), then broken variants of each."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from core.errors import ConfigError
from core.readings import FLAG_UNTIMED
from ingest.adapters import (
    DEFAULT_ROUTES,
    AdapterRegistry,
    AdapterResult,
    ShellyAdapter,
    chirpstack,
    parse_routes,
    resolve_device_id,
    select_adapter,
    senml,
    tasmota,
    topic_matches,
    tts,
    validate_topic_filter,
    zigbee2mqtt,
)
from ingest.parse import InvalidReading, ParseResult, Reason

NOW = dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def only_reading(result: AdapterResult):
    assert result.rejections == [] and result.ignored is None, result
    (reading,) = result.readings
    return reading


def only_rejection(result: AdapterResult):
    assert result.readings == [] and result.ignored is None, result
    (rejection,) = result.rejections
    return rejection


def ignored(result: AdapterResult) -> str:
    assert result.readings == [] and result.rejections == [], result
    assert result.ignored
    return result.ignored


def mutate(payload: bytes, change) -> bytes:
    document = json.loads(payload)
    change(document)
    return json.dumps(document).encode()


# --- ChirpStack v4 -----------------------------------------------------------------------------

CHIRPSTACK_TOPIC = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0101010101010101/event/{}"

# chirpstack/chirpstack-docs src/chirpstack/integrations/events.md, "up - Uplink event" JSON example
# (https://www.chirpstack.io/docs/chirpstack/integrations/events.html). Its device profile has no codec,
# so the event has no decoded "object".
CHIRPSTACK_UP_WITHOUT_CODEC = b"""{
	"deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
	"time": "2022-07-18T09:34:15.775023242+00:00",
	"deviceInfo": {
		"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
		"tenantName": "ChirpStack",
		"applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
		"applicationName": "Test application",
		"deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
		"deviceProfileName": "Test device-profile",
		"deviceName": "Test device",
		"devEui": "0101010101010101",
		"tags": {
			"key": "value"
		}
	},
	"devAddr": "00189440",
	"dr": 1,
	"fPort": 1,
	"data": "qg==",
	"rxInfo": [{
		"gatewayId": "0016c001f153a14c",
		"uplinkId": 4217106255,
		"rssi": -36,
		"snr": 10.5,
		"context": "E3OWOQ==",
		"metadata": {
			"region_name": "eu868",
			"region_common_name": "EU868"
		}
	}],
	"txInfo": {
		"frequency": 867100000,
		"modulation": {
			"lora": {
				"bandwidth": 125000,
				"spreadingFactor": 11,
				"codeRate": "CR_4_5"
			}
		}
	}
}"""
CHIRPSTACK_TIME = utc("2022-07-18T09:34:15+00:00")
CHIRPSTACK_RECEIVED = CHIRPSTACK_TIME + dt.timedelta(seconds=1)

# The Dragino LHT65 codec's decoded output: TheThingsNetwork/lorawan-devices
# vendor/dragino/lht65-codec.yaml (example "Temperature"); ChirpStack v4 runs the same decodeUplink codecs
# and puts their "data" under "object".
LHT65_OBJECT = {"BatV": 3.062, "Bat_status": 3, "Ext_sensor": "Temperature Sensor", "Hum_SHT": 88.6,
                "TempC_DS": 27.81, "TempC_SHT": 28.29}
# Milesight AM102 decoded example: thingsboard/data-converters VENDORS/Milesight/AM102/guide.md
MILESIGHT_OBJECT = {"battery": 100, "temperature": 28, "humidity": 54.5}


def chirpstack_up(decoded=None, **changes) -> bytes:
    def change(document):
        if decoded is not None:
            document["object"] = decoded
        document["fCnt"] = 42
        document.update(changes)

    return mutate(CHIRPSTACK_UP_WITHOUT_CODEC, change)


def test_chirpstack_uplink_with_dragino_codec():
    """A decoded LHT65 uplink: SHT temperature and humidity, battery volts, network time, frame counter."""
    result = chirpstack(CHIRPSTACK_TOPIC.format("up"), chirpstack_up(LHT65_OBJECT), received_at=CHIRPSTACK_RECEIVED)
    reading = only_reading(result)
    assert reading.device_id == "lorawan-0101010101010101"
    assert (reading.temperature_c, reading.humidity_pct, reading.battery_v) == (28.29, 88.6, 3.062)
    assert (reading.ts, reading.seq, reading.flags) == (CHIRPSTACK_TIME, 42, 0)
    assert isinstance(result, ParseResult)


def test_chirpstack_generic_codec_and_mapping():
    """A Milesight-style object (battery in %, not stored); the DevEUI is mapped to a DampWatch id."""
    result = chirpstack(
        CHIRPSTACK_TOPIC.format("up"), chirpstack_up(MILESIGHT_OBJECT), received_at=CHIRPSTACK_RECEIVED,
        mapping={"0101010101010101": "bath-12a"},
    )
    reading = only_reading(result)
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct, reading.battery_v) == (
        "bath-12a", 28.0, 54.5, None,
    )


def test_chirpstack_uplink_without_codec_is_dead_lettered():
    """The documented uplink has no decoded object: dead-lettered, saying to configure a codec."""
    result = chirpstack(CHIRPSTACK_TOPIC.format("up"), CHIRPSTACK_UP_WITHOUT_CODEC, received_at=CHIRPSTACK_RECEIVED)
    rejection = only_rejection(result)
    assert rejection.reason == Reason.MISSING_FIELD
    assert "codec" in rejection.detail
    assert rejection.device_id == "lorawan-0101010101010101"


# Same file, "status" and "log" JSON examples.
CHIRPSTACK_STATUS = b"""{"deduplicationId": "bf2a9746-1c8b-49be-a92e-f0b89c8534e4",
 "time": "2022-07-18T09:35:06.927172638+00:00",
 "deviceInfo": {"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "tenantName": "ChirpStack",
  "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97", "applicationName": "Test application",
  "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad", "deviceProfileName": "Test device-profile",
  "deviceName": "Test device", "devEui": "0101010101010101"},
 "margin": 10, "batteryLevel": 88.3}"""
CHIRPSTACK_LOG = b"""{"time": "2022-07-18T09:39:57.311414029+00:00",
 "deviceInfo": {"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242", "tenantName": "ChirpStack",
  "applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97", "applicationName": "Test application",
  "deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad", "deviceProfileName": "Test device-profile",
  "deviceName": "Test device", "devEui": "0101010101010101", "tags": {"key": "value"}},
 "level": "ERROR", "code": "UPLINK_MIC", "description": "MIC of join-request is invalid, make sure keys are correct",
 "context": {"deduplication_id": "4e91db13-5ce3-4c8c-ab0f-dfc626cf0771"}}"""


@pytest.mark.parametrize(
    ("event", "payload"),
    [("status", CHIRPSTACK_STATUS), ("log", CHIRPSTACK_LOG), ("join", b"{}"), ("ack", b"{}"), ("txack", b"{}"),
     ("location", b"{}"), ("integration", b"{}")],
)
def test_chirpstack_other_events_are_ignored(event, payload):
    """Join, status, ack, txack, log, location and integration events carry no reading: ignored, not dead-lettered."""
    assert event in ignored(chirpstack(CHIRPSTACK_TOPIC.format(event), payload, received_at=CHIRPSTACK_RECEIVED))


def test_chirpstack_numeric_strings_are_numbers():
    """Codecs that format with toFixed() send strings; those that hold a number are read as one."""
    decoded = {"TempC_SHT": "21.50", "Hum_SHT": "61.2", "BatV": "3.05"}
    reading = only_reading(
        chirpstack(CHIRPSTACK_TOPIC.format("up"), chirpstack_up(decoded), received_at=CHIRPSTACK_RECEIVED)
    )
    assert (reading.temperature_c, reading.humidity_pct, reading.battery_v) == (21.5, 61.2, 3.05)


def test_chirpstack_object_without_humidity_is_ignored():
    """A device of another kind in the same application (no humidity) is ignored."""
    result = chirpstack(
        CHIRPSTACK_TOPIC.format("up"), chirpstack_up({"temperature": 20.1, "co2": 512}),
        received_at=CHIRPSTACK_RECEIVED,
    )
    assert "no humidity" in ignored(result)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (CHIRPSTACK_UP_WITHOUT_CODEC[:-5], Reason.INVALID_JSON),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b"\xff\xfe", Reason.NOT_UTF8),
        (b" " * (64 * 1024 + 1), Reason.PAYLOAD_TOO_LARGE),
        (chirpstack_up(["not", "an", "object"]), Reason.NOT_AN_OBJECT),
        (chirpstack_up({**LHT65_OBJECT, "Hum_SHT": 120.0}), Reason.HUMIDITY_OUT_OF_RANGE),
        (chirpstack_up({**LHT65_OBJECT, "TempC_SHT": -55.0}), Reason.TEMPERATURE_OUT_OF_RANGE),
        (chirpstack_up({**LHT65_OBJECT, "TempC_SHT": "warm"}), Reason.WRONG_TYPE),
        (chirpstack_up({**LHT65_OBJECT, "Hum_SHT": True}), Reason.WRONG_TYPE),
        (chirpstack_up({**LHT65_OBJECT, "BatV": 36.5}), Reason.BATTERY_OUT_OF_RANGE),
        (chirpstack_up({"Hum_SHT": 50.0, "BatV": 3.0}), Reason.MISSING_FIELD),
        (chirpstack_up(LHT65_OBJECT).replace(b'"TempC_SHT": 28.29', b'"TempC_SHT": NaN'), Reason.NOT_FINITE),
        (chirpstack_up(LHT65_OBJECT, time="2022-07-18T11:34:15+00:00"), Reason.FUTURE_TIMESTAMP),
        (chirpstack_up(LHT65_OBJECT, time="yesterday"), Reason.INVALID_TIMESTAMP),
    ],
)
def test_chirpstack_broken_uplinks_are_dead_lettered(payload, reason):
    """Broken uplinks are dead-lettered with the native reason codes."""
    rejection = only_rejection(chirpstack(CHIRPSTACK_TOPIC.format("up"), payload, received_at=CHIRPSTACK_RECEIVED))
    assert rejection.reason == reason


def test_chirpstack_unexpected_topic():
    """A topic that is not a ChirpStack event topic is rejected as such."""
    result = chirpstack("application/1/device/up", chirpstack_up(LHT65_OBJECT), received_at=CHIRPSTACK_RECEIVED)
    assert only_rejection(result).reason == Reason.INVALID_TOPIC


# --- The Things Stack v3 -------------------------------------------------------------------------

TTS_TOPIC = "v3/app1@ttn/devices/dev1/{}"

# TheThingsIndustries/lorawan-stack-docs doc/content/the-things-stack/concepts/data-formats/_index.md,
# "Uplink message example" (https://www.thethingsindustries.com/docs/the-things-stack/concepts/data-formats/).
TTS_UPLINK = b"""{
  "end_device_ids" : {
    "device_id" : "dev1",
    "application_ids" : {
      "application_id" : "app1"
    },
    "dev_eui" : "0004A30B001C0530",
    "join_eui" : "800000000000000C",
    "dev_addr" : "00BCB929"
  },
  "correlation_ids" : [
    "as:up:01E0WZGT6Y7657CPFPE5WEYDSQ",
    "gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE",
    "gs:uplink:01E0WZGSZWT07NE5TS2APTV1Z9",
    "ns:uplink:01E0WZGSZXZXZS8RFAWZX0F2FY",
    "rpc:/ttn.lorawan.v3.GsNs/HandleUplink:01E0WZGSZXGE1KS577PFBWRJEE"
  ],
  "received_at" : "2020-02-12T15:15:46.014773143Z",
  "uplink_message" : {
    "session_key_id" : "AXA50tHUGUucuzS/bCGMNw==",
    "f_cnt" : 1,
    "frm_payload" : "gkHe",
    "decoded_payload" : {
      "temperature": 1.0,
      "luminosity": 0.64
    },
    "rx_metadata" : [ {
      "gateway_ids" : {
        "gateway_id" : "gtw1",
        "eui" : "9C5C8E00001A05C4"
      },
      "time" : "2020-02-12T15:15:45.787Z",
      "timestamp" : 2463457000,
      "rssi" : -35,
      "channel_rssi" : -35,
      "snr" : 5,
      "uplink_token" : "ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=",
      "channel_index" : 2
    } ],
    "settings" : {
      "data_rate" : {
        "lora" : {
          "bandwidth" : 125000,
          "spreading_factor" : 7
        }
      },
      "coding_rate" : "4/6",
      "frequency" : "868300000",
      "timestamp" : 2463457000,
      "time" : "2020-02-12T15:15:45.787Z"
    },
    "consumed_airtime": "0.056576s",
    "locations": {
      "user": {
        "latitude": 37.97155556731436,
        "longitude": 23.72678801175413,
        "altitude": 10,
        "source": "SOURCE_REGISTRY"
      }
    },
    "version_ids": {
        "brand_id": "the-things-products",
        "model_id": "the-things-uno",
        "hardware_version": "1.0",
        "firmware_version": "quickstart",
        "band_id": "US_902_928"
    },
    "network_ids": {
      "net_id": "000013",
      "tenant_id": "tenant1",
      "cluster_id": "nam1"
    },
    "received_at" : "2020-02-12T15:15:45.789585559Z"
  }
}"""
TTS_RECEIVED = utc("2020-02-12T15:15:46+00:00")

# Same page, "Join message example" (on the .../join topic).
TTS_JOIN = b"""{"end_device_ids": {"device_id": "dev1", "application_ids": {"application_id": "app1"},
 "dev_eui": "0004A30B001C0530", "join_eui": "800000000000000C", "dev_addr": "01497ECC"},
 "correlation_ids": ["as:up:01E191YN5F2HMBQCBCVRF731VY", "gs:conn:01E191S6ZEWB630NTR45K5QN4Q",
  "gs:uplink:01E191YMZ2S7ZRTEGATVE2S3HH", "ns:uplink:01E191YMZ2J64K6FEW5F0WE7TQ",
  "rpc:/ttn.lorawan.v3.GsNs/HandleUplink:01E191YMZ2KK3TJYG5C4XZP8JK"],
 "received_at": "2020-02-17T07:49:09.935284891Z",
 "join_accept": {"session_key_id": "AXBSH1Pk6Z0G166RlH16CQ==", "received_at": "2020-02-17T07:49:09.736532315Z"}}"""

# The "data" (ApplicationUp) of thingsboard/data-converters VENDORS/Ezurio/RS26x/guide.md: a
# temperature-only sensor (Ezurio RS26x) on The Things Stack.
TTS_TEMPERATURE_ONLY = b"""{"end_device_ids": {"device_id": "rs261-erik-internal",
  "application_ids": {"application_id": "thingsboard-ttn-demo"}, "dev_eui": "0025CA00000017C2",
  "join_eui": "ECC07A0000000009", "dev_addr": "260BDF71"},
 "correlation_ids": ["gs:uplink:01K9ER8B2712V0HV1YBNRF35ZY"],
 "received_at": "2025-11-07T08:52:14.742127657Z",
 "uplink_message": {"session_key_id": "AZpdcJdm3ixYYWExQAIgUg==", "f_port": 1, "f_cnt": 25,
  "frm_payload": "AMQAFdQ=",
  "decoded_payload": {"Battery Status": "Good", "Device Status": {"Backlog Wraparound": "No",
   "Backlogs Available": "Yes", "Bandwidth Limitation": "No", "Sensor Fault": "No",
   "Unsupported API Version": "No"}, "Temperature": 21.83}}}"""


def tts_uplink(decoded, **uplink_changes) -> bytes:
    def change(document):
        document["uplink_message"]["decoded_payload"] = decoded
        document["uplink_message"].update(uplink_changes)

    return mutate(TTS_UPLINK, change)


def test_tts_documented_uplink_without_humidity_is_ignored():
    """The documented uplink decodes temperature and luminosity only: not a damp sensor, ignored."""
    assert "no humidity" in ignored(tts(TTS_TOPIC.format("up"), TTS_UPLINK, received_at=TTS_RECEIVED))
    assert "no humidity" in ignored(
        tts("v3/thingsboard-ttn-demo@ttn/devices/rs261-erik-internal/up", TTS_TEMPERATURE_ONLY,
            received_at=utc("2025-11-07T08:52:15+00:00"))
    )


def test_tts_uplink_with_temperature_and_humidity():
    """The documented uplink with a Dragino LHT65 decoded payload: DevEUI key, network time, f_cnt."""
    reading = only_reading(tts(TTS_TOPIC.format("up"), tts_uplink(LHT65_OBJECT), received_at=TTS_RECEIVED))
    assert reading.device_id == "lorawan-0004a30b001c0530"
    assert (reading.temperature_c, reading.humidity_pct, reading.battery_v, reading.seq) == (28.29, 88.6, 3.062, 1)
    assert reading.ts == utc("2020-02-12T15:15:45+00:00")


def test_tts_without_dev_eui_uses_the_device_id():
    """An ABP device with no DevEUI in the message is keyed by its device id."""
    payload = mutate(tts_uplink(MILESIGHT_OBJECT), lambda d: d["end_device_ids"].pop("dev_eui"))
    assert only_reading(tts(TTS_TOPIC.format("up"), payload, received_at=TTS_RECEIVED)).device_id == "tts-dev1"
    mapped = tts(TTS_TOPIC.format("up"), payload, received_at=TTS_RECEIVED, mapping={"tts:dev1": "kitchen-3"})
    assert only_reading(mapped).device_id == "kitchen-3"


@pytest.mark.parametrize(
    ("suffix", "payload"),
    [("join", TTS_JOIN), ("down/ack", b"{}"), ("down/queued", b"{}"), ("down/failed", b"{}"),
     ("service/data", b"{}"), ("location/solved", b"{}")],
)
def test_tts_other_messages_are_ignored(suffix, payload):
    """Join, downlink, service and location messages are ignored."""
    assert suffix in ignored(tts(TTS_TOPIC.format(suffix), payload, received_at=TTS_RECEIVED))


def test_tts_simulated_uplink_is_ignored():
    """An uplink simulated from the console is not a measurement."""
    payload = mutate(tts_uplink(LHT65_OBJECT), lambda d: d.update(simulated=True))
    assert "simulated" in ignored(tts(TTS_TOPIC.format("up"), payload, received_at=TTS_RECEIVED))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (mutate(TTS_UPLINK, lambda d: d["uplink_message"].pop("decoded_payload")), Reason.MISSING_FIELD),
        (mutate(TTS_UPLINK, lambda d: d.pop("uplink_message")), Reason.MISSING_FIELD),
        (tts_uplink("temperature=21"), Reason.NOT_AN_OBJECT),
        (tts_uplink({**LHT65_OBJECT, "Hum_SHT": -3}), Reason.HUMIDITY_OUT_OF_RANGE),
        (tts_uplink({**LHT65_OBJECT, "TempC_SHT": {"value": 21}}), Reason.WRONG_TYPE),
        (tts_uplink(LHT65_OBJECT, received_at="2020-02-12T16:15:45Z"), Reason.FUTURE_TIMESTAMP),
        (TTS_UPLINK.replace(b'"f_cnt" : 1,', b'"f_cnt" : 1'), Reason.INVALID_JSON),
    ],
)
def test_tts_broken_uplinks_are_dead_lettered(payload, reason):
    """Broken uplinks are dead-lettered with the reason (a missing payload formatter says so)."""
    rejection = only_rejection(tts(TTS_TOPIC.format("up"), payload, received_at=TTS_RECEIVED))
    assert rejection.reason == reason
    if reason == Reason.MISSING_FIELD and "decoded_payload" in rejection.detail:
        assert "payload formatter" in rejection.detail


# --- Zigbee2MQTT ---------------------------------------------------------------------------------

# https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html, zigbee2mqtt/FRIENDLY_NAME examples
Z2M_WSDCGQ01LM = b'{"temperature": 27.34, "humidity": 44.72}'
Z2M_BULB = b'{"state": "ON", "brightness": 215, "color_temp": 325}'
# Koenkk/zigbee2mqtt issue #21808 (Aqara WSDCGQ11LM log: MQTT publish to zigbee2mqtt/humidity_xiaomi_bad_stefan)
Z2M_AQARA = (b'{"battery":97,"humidity":58.5,"linkquality":72,"power_outage_count":11574,"pressure":1001.8,'
             b'"temperature":22.4,"voltage":2995}')
# Koenkk/zigbee2mqtt issue #10034 (topic zigbee2mqtt/Bedroom Temperature Sensor, battery and voltage null)
Z2M_NULL_BATTERY = (b'{"battery":null,"humidity":52.82,"linkquality":108,"pressure":999.4,"temperature":26.14,'
                    b'"voltage":null}')


def test_zigbee2mqtt_temperature_humidity_sensor():
    """A T/H sensor's state: no timestamp, so the ingest time is used and the reading is flagged."""
    reading = only_reading(zigbee2mqtt("zigbee2mqtt/0x00158d0001dc126a", Z2M_WSDCGQ01LM, received_at=NOW))
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct) == ("z2m-0x00158d0001dc126a", 27.34, 44.72)
    assert (reading.ts, reading.flags & FLAG_UNTIMED) == (NOW, FLAG_UNTIMED)


def test_zigbee2mqtt_battery_voltage_is_millivolts():
    """``voltage`` is the battery in mV; ``battery`` (%) is not stored."""
    reading = only_reading(zigbee2mqtt("zigbee2mqtt/humidity_xiaomi_bad_stefan", Z2M_AQARA, received_at=NOW))
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct, reading.battery_v) == (
        "z2m-humidity_xiaomi_bad_stefan", 22.4, 58.5, 2.995,
    )


def test_zigbee2mqtt_friendly_names_with_spaces_and_slashes():
    """Spaces become dashes in the default id; a name with '/' keeps all its levels; null battery is absent."""
    reading = only_reading(zigbee2mqtt("zigbee2mqtt/Bedroom Temperature Sensor", Z2M_NULL_BATTERY, received_at=NOW))
    assert (reading.device_id, reading.battery_v) == ("z2m-bedroom-temperature-sensor", None)
    nested = zigbee2mqtt(
        "zigbee2mqtt/flat 3/bathroom", Z2M_WSDCGQ01LM, received_at=NOW,
        mapping={"zigbee2mqtt:flat 3/bathroom": "f3-bath"},
    )
    assert only_reading(nested).device_id == "f3-bath"


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("zigbee2mqtt/bridge/state", b'{"state":"online"}'),
        ("zigbee2mqtt/bridge/devices", b"[]"),
        ("zigbee2mqtt/bridge/logging", b'{"level":"info","message":"MQTT publish"}'),
        ("zigbee2mqtt/Bedroom Temperature Sensor/availability", b'{"state":"online"}'),
        ("zigbee2mqtt/lamp/set", b'{"state":"ON"}'),
        ("zigbee2mqtt/lamp/set/brightness", b"120"),
        ("zigbee2mqtt/lamp/get", b'{"state":""}'),
        ("zigbee2mqtt/living room lamp", Z2M_BULB),
    ],
)
def test_zigbee2mqtt_bridge_and_other_devices_are_ignored(topic, payload):
    """Bridge topics, availability, set/get and devices without humidity are ignored."""
    ignored(zigbee2mqtt(topic, payload, received_at=NOW))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"temperature": 27.34, "humidity": ', Reason.INVALID_JSON),
        (b'"online"', Reason.NOT_AN_OBJECT),
        (b'{"temperature": 27.34, "humidity": 104.2}', Reason.HUMIDITY_OUT_OF_RANGE),
        (b'{"temperature": "hot", "humidity": 44.72}', Reason.WRONG_TYPE),
        (b'{"humidity": 44.72}', Reason.MISSING_FIELD),
        (b'{"temperature": 21.0, "humidity": 44.72, "voltage": 30000}', Reason.BATTERY_OUT_OF_RANGE),
    ],
)
def test_zigbee2mqtt_broken_state_is_dead_lettered(payload, reason):
    """Broken device state is dead-lettered with the device id it would have had."""
    rejection = only_rejection(zigbee2mqtt("zigbee2mqtt/Bathroom", payload, received_at=NOW))
    assert (rejection.reason, rejection.device_id) == (reason, "z2m-bathroom")


def test_zigbee2mqtt_name_too_long_for_a_default_id():
    """A friendly name whose default id would exceed 64 characters must be mapped."""
    rejection = only_rejection(zigbee2mqtt("zigbee2mqtt/" + "x" * 70, Z2M_WSDCGQ01LM, received_at=NOW))
    assert rejection.reason == Reason.INVALID_DEVICE_ID and "mapping" in rejection.detail


# --- Tasmota -------------------------------------------------------------------------------------

# tasmota/docs docs/AM2301.md (https://tasmota.github.io/docs/AM2301/)
TASMOTA_AM2301 = b"""{
  "Time": "2019-01-01T00:00:00",
  "AM2301": {
    "Temperature": 24.6,
    "Humidity": 58.2
  },
  "TempUnit": "C"
}"""
# tasmota/docs docs/BME280.md (https://tasmota.github.io/docs/BME280/)
TASMOTA_BME280 = b"""{
  "Time": "2019-11-03T19:34:28",
  "BME280": {
    "Temperature": 21.7,
    "Humidity": 66.6,
    "Pressure": 988.6
  },
  "PressureUnit": "hPa",
  "TempUnit": "C"
}"""
# klisiecki/scripts python/test.py: captures from tele/tasmota_garderoba/SENSOR (SHT3X-0x44),
# tele/tasmota_lazienka/SENSOR (BME280 with a switch) and a DS18B20 unit (temperatures only)
TASMOTA_SHT3X = b'{"Time":"2020-11-15T18:35:34","SHT3X-0x44":{"Temperature":22.1,"Humidity":57.5,"DewPoint":13.3},"TempUnit":"C"}'
TASMOTA_BATHROOM = (b'{"Time":"2021-02-14T18:18:54","Switch1":"OFF","BME280":{"Temperature":22.9,"Humidity":33.0,'
                    b'"DewPoint":5.7,"Pressure":1027.4},"PressureUnit":"hPa","TempUnit":"C"}')
TASMOTA_DS18B20 = (b'{"Time":"2020-11-15T21:05:00","DS18B20-1":{"Id":"01183379C9FF","Temperature":46.9},'
                   b'"DS18B20-2":{"Id":"011833902FFF","Temperature":44.1},"DS18B20-3":{"Id":"0300A279BDBD",'
                   b'"Temperature":13.4},"DS18B20-4":{"Id":"0300A279C76C","Temperature":8.0},"DS18B20-5":'
                   b'{"Id":"0319A2794947","Temperature":6.9},"TempUnit":"C"}')
# solarslurpi/GrowBuddies docs (SnifferBuddy's tele/snifferbuddy/SENSOR message, TempUnit F)
TASMOTA_SCD30_F = (b'{"Time":"2022-09-06T08:52:59","ANALOG":{"A0":542},"SCD30":{"CarbonDioxide":814,"eCO2":787,'
                   b'"Temperature":71.8,"Humidity":61.6,"DewPoint":57.9},"TempUnit":"F"}')


@pytest.mark.parametrize(
    ("topic", "payload", "temperature_c", "humidity_pct"),
    [
        ("tele/sonoff-th/SENSOR", TASMOTA_AM2301, 24.6, 58.2),
        ("tele/tasmota_bme/SENSOR", TASMOTA_BME280, 21.7, 66.6),
        ("tele/tasmota_garderoba/SENSOR", TASMOTA_SHT3X, 22.1, 57.5),
        ("tele/tasmota_lazienka/SENSOR", TASMOTA_BATHROOM, 22.9, 33.0),
        ("tele/snifferbuddy/SENSOR", TASMOTA_SCD30_F, pytest.approx((71.8 - 32) * 5 / 9), 61.6),
    ],
)
def test_tasmota_sensors(topic, payload, temperature_c, humidity_pct):
    """SHT3X, BME280, AM2301 and SCD30 telemetry; °F converted; local Time without offset means ingest time."""
    reading = only_reading(tasmota(topic, payload, received_at=NOW))
    assert reading.device_id == "tasmota-" + topic.split("/")[1].lower()
    assert (reading.temperature_c, reading.humidity_pct) == (temperature_c, humidity_pct)
    assert (reading.ts, reading.flags) == (NOW, FLAG_UNTIMED)


def test_tasmota_time_with_offset_is_used():
    """With SetOption52 the Time carries its offset, and is used."""
    payload = TASMOTA_SHT3X.replace(b'"2020-11-15T18:35:34"', b'"2026-11-22T10:14:05+00:00"')
    reading = only_reading(tasmota("tele/tasmota_garderoba/SENSOR", payload, received_at=NOW))
    assert (reading.ts, reading.flags) == (utc("2026-11-22T10:14:05+00:00"), 0)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("tele/pool/SENSOR", TASMOTA_DS18B20),
        ("tele/tasmota_garderoba/STATE", b'{"Time":"2020-11-15T18:35:34","Uptime":"0T01:00:00","POWER":"ON"}'),
        ("tele/tasmota_garderoba/LWT", b"Online"),
        ("tele/tasmota_garderoba/INFO1", b'{"Module":"Generic","Version":"9.1.0"}'),
    ],
)
def test_tasmota_other_telemetry_is_ignored(topic, payload):
    """Temperature-only sensors and STATE/LWT/INFO telemetry are ignored."""
    ignored(tasmota(topic, payload, received_at=NOW))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (TASMOTA_AM2301.replace(b"58.2", b"null"), Reason.MISSING_FIELD),
        (TASMOTA_AM2301.replace(b'"Temperature": 24.6,', b""), Reason.MISSING_FIELD),
        (TASMOTA_AM2301.replace(b'"C"', b'"K"'), Reason.WRONG_TYPE),
        (TASMOTA_AM2301.replace(b"24.6", b"91.0"), Reason.TEMPERATURE_OUT_OF_RANGE),
        (TASMOTA_AM2301.replace(b"58.2", b'"wet"'), Reason.WRONG_TYPE),
        (TASMOTA_AM2301[:-3], Reason.INVALID_JSON),
        (b"[]", Reason.NOT_AN_OBJECT),
    ],
)
def test_tasmota_broken_telemetry_is_dead_lettered(payload, reason):
    """A failed sensor read (null), a missing value, an unknown unit, out of range or bad JSON is dead-lettered."""
    rejection = only_rejection(tasmota("tele/sonoff-th/SENSOR", payload, received_at=NOW))
    assert (rejection.reason, rejection.device_id) == (reason, "tasmota-sonoff-th")


# --- Shelly H&T ----------------------------------------------------------------------------------

# Shelly Gen1 API, Shelly H&T MQTT (https://shelly-api-docs.shelly.cloud/gen1/#shelly-h-amp-t-mqtt):
# shellies/shellyht-<deviceid>/sensor/temperature (°C or °F as configured), .../humidity (RH %),
# .../battery (%), .../error, .../act_reasons, .../ext_power; each payload is a bare value.
GEN1 = "shellies/shellyht-6FEC4D/sensor/{}"

# gist NelsonMinar/494a0f53785c20290b395639548349fa "Status from a Shelly Plus H&T (via MQTT)" on
# shellyplusht-b8d61a8b17cc/events/rpc (wifi and ws sections cut); USB powered, so the battery reads 0.43 V.
PLUS_HT_FULL_STATUS = b"""{
  "src": "shellyplusht-b8d61a8b17cc",
  "dst": "shellyplusht-b8d61a8b17cc/events",
  "method": "NotifyFullStatus",
  "params": {
    "ts": 1680962879.62,
    "ble": {},
    "cloud": {"connected": false},
    "devicepower:0": {"id": 0, "battery": {"V": 0.43, "percent": 0}, "external": {"present": true}},
    "ht_ui": {},
    "humidity:0": {"id": 0, "rh": 42.2},
    "mqtt": {"connected": true},
    "sys": {"mac": "B8D61A8B17CC", "restart_required": false, "time": null, "unixtime": null, "uptime": 3,
            "ram_size": 235300, "ram_free": 164244, "fs_size": 458752, "fs_free": 118784, "cfg_rev": 10,
            "kvs_rev": 0, "webhook_rev": 0, "available_updates": {},
            "wakeup_reason": {"boot": "deepsleep_wake", "cause": "status_update"}, "wakeup_period": 600},
    "temperature:0": {"id": 0, "tC": 19.8, "tF": 67.6}
  }
}"""
PLUS_HT_TS = dt.datetime.fromtimestamp(1680962879, dt.UTC)


def test_shelly_gen1_pairs_temperature_and_humidity():
    """Gen1 sends two messages; the second completes one reading at its arrival time, flagged untimed."""
    shelly = ShellyAdapter()
    first = shelly(GEN1.format("temperature"), b"21.62", received_at=NOW)
    assert "waiting" in ignored(first) and shelly.pending() == 1
    reading = only_reading(shelly(GEN1.format("humidity"), b"64.5", received_at=NOW + dt.timedelta(seconds=1)))
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct) == ("shelly-shellyht-6fec4d", 21.62, 64.5)
    assert (reading.ts, reading.flags) == (NOW + dt.timedelta(seconds=1), FLAG_UNTIMED)
    assert shelly.pending() == 0


def test_shelly_gen1_pairs_in_either_order_and_drops_stale_halves():
    """Humidity first works too; a half older than the pairing window is dropped, not paired."""
    shelly = ShellyAdapter(pair_window_s=30)
    shelly(GEN1.format("humidity"), b"70", received_at=NOW)
    assert only_reading(shelly(GEN1.format("temperature"), b"18.5", received_at=NOW)).humidity_pct == 70.0
    shelly(GEN1.format("humidity"), b"71", received_at=NOW)
    late = shelly(GEN1.format("temperature"), b"18.4", received_at=NOW + dt.timedelta(seconds=31))
    assert "waiting" in ignored(late)


@pytest.mark.parametrize(
    ("kind", "payload"), [("battery", b"97"), ("error", b"0"), ("act_reasons", b'["sensor"]'), ("ext_power", b"false")]
)
def test_shelly_gen1_other_values_are_ignored(kind, payload):
    """Battery percentage, error, wake-up reasons and power source are not readings."""
    ignored(ShellyAdapter()(GEN1.format(kind), payload, received_at=NOW))


def test_shelly_plus_full_status():
    """A Plus H&T NotifyFullStatus gives the reading at the device's ts; the USB-powered battery is not stored."""
    result = ShellyAdapter()("shellyplusht-b8d61a8b17cc/events/rpc", PLUS_HT_FULL_STATUS,
                             received_at=PLUS_HT_TS + dt.timedelta(seconds=2))
    reading = only_reading(result)
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct) == ("shelly-shellyplusht-b8d61a8b17cc", 19.8, 42.2)
    assert (reading.ts, reading.flags, reading.battery_v) == (PLUS_HT_TS, 0, None)


def test_shelly_plus_battery_and_unset_clock():
    """On batteries the voltage is stored; a ts before 2015 (clock not set) means the ingest time is used."""
    def change(document):
        document["params"]["devicepower:0"] = {"id": 0, "battery": {"V": 5.86, "percent": 87}, "external": {"present": False}}
        document["params"]["ts"] = 3.52

    reading = only_reading(
        ShellyAdapter()("shellyplusht-b8d61a8b17cc/events/rpc", mutate(PLUS_HT_FULL_STATUS, change), received_at=NOW)
    )
    assert (reading.battery_v, reading.ts, reading.flags) == (5.86, NOW, FLAG_UNTIMED)


def test_shelly_notify_status_halves_are_paired():
    """NotifyStatus with one component at a time (and status/... topics) are paired like Gen1."""
    def only(component, ts):
        def change(document):
            document["method"] = "NotifyStatus"
            document["params"] = {"ts": ts, component: json.loads(PLUS_HT_FULL_STATUS)["params"][component]}
        return mutate(PLUS_HT_FULL_STATUS, change)

    shelly = ShellyAdapter()
    received = PLUS_HT_TS + dt.timedelta(seconds=5)
    ignored(shelly("shellyplusht-b8d61a8b17cc/events/rpc", only("temperature:0", 1680962879.62), received_at=received))
    reading = only_reading(shelly("shellyplusht-b8d61a8b17cc/events/rpc", only("humidity:0", 1680962880.1),
                                  received_at=received))
    assert (reading.temperature_c, reading.humidity_pct, reading.ts) == (19.8, 42.2, PLUS_HT_TS + dt.timedelta(seconds=1))
    ignored(shelly("shellyhtg3-lina/status/temperature:0", b'{"id":0,"tC":22.5,"tF":72.5}', received_at=NOW))
    paired = shelly("shellyhtg3-lina/status/humidity:0", b'{"id":0,"rh":58}', received_at=NOW)
    assert only_reading(paired).device_id == "shelly-shellyhtg3-lina"


def test_shelly_other_notifications_are_ignored():
    """NotifyEvent and status of other components carry no reading."""
    shelly = ShellyAdapter()
    event = b'{"src":"shellyplusht-b8d61a8b17cc","dst":"x","method":"NotifyEvent","params":{"ts":1680962879.62,"events":[]}}'
    ignored(shelly("shellyplusht-b8d61a8b17cc/events/rpc", event, received_at=NOW))
    ignored(shelly("shellyplusht-b8d61a8b17cc/online", b"true", received_at=NOW))
    ignored(shelly("shellies/announce", b"{}", received_at=NOW))


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (GEN1.format("temperature"), b"twenty", Reason.INVALID_JSON),
        ("shellyplusht-b8d61a8b17cc/events/rpc", PLUS_HT_FULL_STATUS[:-10], Reason.INVALID_JSON),
        ("shellyplusht-b8d61a8b17cc/events/rpc", PLUS_HT_FULL_STATUS.replace(b'"rh": 42.2', b'"rh": 142.2'),
         Reason.HUMIDITY_OUT_OF_RANGE),
        ("shellyplusht-b8d61a8b17cc/events/rpc", PLUS_HT_FULL_STATUS.replace(b'"tC": 19.8', b'"tC": "cold"'),
         Reason.WRONG_TYPE),
        ("shellyplusht-b8d61a8b17cc/events/rpc", b'{"method":"NotifyFullStatus","params":[]}', Reason.WRONG_TYPE),
        ("shellyplusht-b8d61a8b17cc/events/rpc", b'["NotifyFullStatus"]', Reason.NOT_AN_OBJECT),
    ],
)
def test_shelly_broken_messages_are_dead_lettered(topic, payload, reason):
    """Unreadable values, out-of-range humidity and malformed notifications are dead-lettered."""
    assert only_rejection(ShellyAdapter()(topic, payload, received_at=PLUS_HT_TS)).reason == reason


def test_shelly_pairing_is_bounded():
    """Half-readings of at most max_pending devices are kept; the oldest go first."""
    shelly = ShellyAdapter(max_pending=3)
    for n in range(5):
        shelly(f"shellies/shellyht-{n}/sensor/temperature", b"20", received_at=NOW + dt.timedelta(seconds=n))
    assert shelly.pending() == 3
    assert shelly("shellies/shellyht-0/sensor/humidity", b"50", received_at=NOW).readings == []


# --- SenML (RFC 8428) ----------------------------------------------------------------------------

# RFC 8428 section 5.1.6, "Collection of Resources" (https://www.rfc-editor.org/rfc/rfc8428#section-5.1.6):
# two devices, the second record set reusing the first record's base time.
SENML_COLLECTION = b"""[
  {"bn":"2001:db8::2/","bt":1.320078429e+09,
   "n":"temperature","u":"Cel","v":25.2},
  {"n":"humidity","u":"%RH","v":30},
  {"bn":"2001:db8::1/","n":"temperature","u":"Cel","v":12.3},
  {"n":"humidity","u":"%RH","v":67}
]"""
# RFC 8428 section 5.1.1, "Single Datapoint"
SENML_SINGLE = b"""[
  {"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}
]"""
# RFC 8428 section 5.1.3, "Multiple Measurements": humidity, position and battery (%EL) of one device
SENML_HUMIDITY_ONLY = b"""[
  {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
   "bu":"%RH","v":20},
  {"u":"lon","v":24.30621},
  {"u":"lat","v":60.07965},
  {"t":60,"v":20.3},
  {"u":"lon","t":60,"v":24.30622},
  {"u":"lat","t":60,"v":60.07965},
  {"t":120,"v":20.7},
  {"u":"lon","t":120,"v":24.30623},
  {"u":"lat","t":120,"v":60.07966},
  {"u":"%EL","t":150,"v":98},
  {"t":180,"v":21.2},
  {"u":"lon","t":180,"v":24.30628},
  {"u":"lat","t":180,"v":60.07967}
]"""
SENML_RECEIVED = dt.datetime.fromtimestamp(1_795_342_500, dt.UTC)


def test_senml_collection_of_two_devices():
    """Base name and time carry over records; each device gets its reading (with a current base time)."""
    recent = SENML_COLLECTION.replace(b"1.320078429e+09", b"1.7953425e+09")
    result = senml("senml/gateway-7", recent, received_at=SENML_RECEIVED)
    assert result.rejections == [] and result.ignored is None
    by_device = {r.device_id: r for r in result.readings}
    assert set(by_device) == {"senml-2001-db8-2", "senml-2001-db8-1"}
    assert (by_device["senml-2001-db8-1"].temperature_c, by_device["senml-2001-db8-1"].humidity_pct) == (12.3, 67.0)
    assert by_device["senml-2001-db8-2"].ts == SENML_RECEIVED


def test_senml_rfc_times_are_too_old():
    """The RFC's own 2011 times break the native rule (no reading before 2015): dead-lettered per reading."""
    result = senml("senml/gateway-7", SENML_COLLECTION, received_at=SENML_RECEIVED)
    assert [r.reason for r in result.rejections] == [Reason.TIMESTAMP_TOO_OLD] * 2
    assert {r.device_id for r in result.rejections} == {"senml-2001-db8-2", "senml-2001-db8-1"}


def test_senml_without_humidity_is_ignored():
    """A temperature-only pack is not a damp reading."""
    assert "humidity" in ignored(senml("senml/thermo", SENML_SINGLE, received_at=SENML_RECEIVED))


def test_senml_humidity_without_temperature_is_dead_lettered():
    """Four humidity measurements without temperature: four rejections; position and battery % are skipped."""
    result = senml("senml/mobile", SENML_HUMIDITY_ONLY, received_at=SENML_RECEIVED)
    assert result.readings == []
    assert [r.reason for r in result.rejections] == [Reason.MISSING_FIELD] * 4
    assert {r.device_id for r in result.rejections} == {"senml-urn-dev-ow-10e2073a01080063"}


def test_senml_kelvin_relative_time_base_value_and_battery():
    """Kelvin becomes °C, times below 2**28 are relative to now, bv is added (until reset), a battery in V is kept."""
    pack = json.dumps([
        {"bn": "urn:dev:mac:0024befffe804ff1/", "n": "temperature", "u": "K", "v": 294.65, "t": -60},
        {"n": "humidity", "u": "%RH", "v": 57.5, "t": -60},
        {"n": "battery", "u": "V", "v": 2.95, "t": -60},
        {"n": "humidity", "bv": 10, "u": "%RH", "v": 48, "t": 0},
        {"n": "temperature", "bv": 0, "u": "Cel", "v": 21.0},  # base values last until changed
    ]).encode()
    result = senml("senml/lab", pack, received_at=SENML_RECEIVED)
    assert result.rejections == []
    earlier, now = sorted(result.readings, key=lambda r: r.ts)
    assert (earlier.temperature_c, earlier.humidity_pct, earlier.battery_v) == (pytest.approx(21.5), 57.5, 2.95)
    assert earlier.ts == SENML_RECEIVED - dt.timedelta(seconds=60) and earlier.flags == 0
    assert (now.humidity_pct, now.temperature_c, now.flags) == (58.0, 21.0, FLAG_UNTIMED)
    assert now.device_id == "senml-urn-dev-mac-0024befffe804ff1"


def test_senml_without_base_name_uses_the_topic():
    """Records with no base name belong to the device named by the topic (or its mapping)."""
    pack = b'[{"n":"temp","u":"Cel","v":19.5,"t":1795342400},{"n":"rh","u":"%RH","v":66,"t":1795342400}]'
    reading = only_reading(senml("senml/room-4", pack, received_at=SENML_RECEIVED, mapping={"senml/room-4": "r4"}))
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct) == ("r4", 19.5, 66.0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"e": [{"n": "temperature", "u": "Cel", "v": 21}]}', Reason.WRONG_TYPE),
        (b"[]", Reason.EMPTY_BATCH),
        (b'[{"n":"t","u":"Cel","v":21}, 7]', Reason.WRONG_TYPE),
        (b'[{"bn":"d/","bt":"yesterday","n":"t","u":"Cel","v":21},{"n":"h","u":"%RH","v":50}]', Reason.WRONG_TYPE),
        (b'[{"bn":7,"n":"t","u":"Cel","v":21}]', Reason.WRONG_TYPE),
        (b'[{"bn":"d/","n":"t","u":"Cel","v":21},{"n":"h","u":"%RH","vs":"high"}]', Reason.WRONG_TYPE),
        (b'[{"bn":"d/","n":"t","u":"Cel","v":21},{"n":"h","u":"%RH","v":101}]', Reason.HUMIDITY_OUT_OF_RANGE),
        (b'[{"bn":"d/","n":"t","u":"K","v":500},{"n":"h","u":"%RH","v":50}]', Reason.TEMPERATURE_OUT_OF_RANGE),
        (b'[{"bn":"d/","bt":1.7953432e+09,"n":"t","u":"Cel","v":21},{"n":"h","u":"%RH","v":50}]',
         Reason.FUTURE_TIMESTAMP),
        (b'[{"bn":"d/","n":"t","u":"Cel","v":21}', Reason.INVALID_JSON),
    ],
)
def test_senml_broken_packs_are_dead_lettered(payload, reason):
    """Not a pack, empty, bad base fields, non-numeric or out-of-range values, future time, bad JSON."""
    assert only_rejection(senml("senml/x", payload, received_at=SENML_RECEIVED)).reason == reason


# --- device ids ----------------------------------------------------------------------------------


def test_device_mapping_lookup_order_and_validation():
    """'<adapter>:<key>' wins over '<key>', then the lower-cased key; a bad mapped id is refused."""
    mapping = {"tasmota:Bath": "a", "Bath": "b", "kitchen": "c"}
    assert resolve_device_id("tasmota", "Bath", mapping, "tasmota") == "a"
    assert resolve_device_id("zigbee2mqtt", "Bath", mapping, "z2m") == "b"
    assert resolve_device_id("zigbee2mqtt", "KITCHEN", mapping, "z2m") == "c"
    assert resolve_device_id("zigbee2mqtt", "Hall #2", mapping, "z2m") == "z2m-hall-2"
    with pytest.raises(InvalidReading) as raised:
        resolve_device_id("tasmota", "x", {"x": "not valid!"}, "tasmota")
    assert raised.value.reason == Reason.INVALID_DEVICE_ID


# --- choosing adapters by topic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("zigbee2mqtt/#", "zigbee2mqtt/Bath sensor", True),
        ("zigbee2mqtt/#", "zigbee2mqtt", True),
        ("zigbee2mqtt/#", "zigbee2mqttx/a", False),
        ("tele/+/SENSOR", "tele/th1/SENSOR", True),
        ("tele/+/SENSOR", "tele/th1/STATE", False),
        ("tele/+/SENSOR", "tele/a/b/SENSOR", False),
        ("+/events/rpc", "shellyplusht-1/events/rpc", True),
        ("+/events/rpc", "$SYS/events/rpc", False),
        ("#", "$SYS/broker/uptime", False),
        ("#", "a/b", True),
        ("application/+/device/+/event/+", "application/1/device/0101/event/up", True),
        ("a/b", "a/b/c", False),
    ],
)
def test_topic_matches(topic_filter, topic, matches):
    """MQTT wildcard semantics: + is one level, # the rest (including none), $ topics are not wildcard-matched."""
    assert topic_matches(topic_filter, topic) is matches


@pytest.mark.parametrize("bad", ["", "a/#/b", "a#", "a/b+/c", "+a"])
def test_invalid_topic_filters(bad):
    """Misplaced wildcards are configuration errors."""
    with pytest.raises(ConfigError):
        validate_topic_filter(bad)


def test_select_adapter_first_match_wins():
    """Routes are tried in order."""
    routes = [("zigbee2mqtt/bridge/#", "senml"), ("zigbee2mqtt/#", "zigbee2mqtt")]
    assert select_adapter("zigbee2mqtt/bridge/x", routes) == "senml"
    assert select_adapter("zigbee2mqtt/Bath", routes) == "zigbee2mqtt"
    assert select_adapter("dampwatch/d1/up", DEFAULT_ROUTES) is None
    assert select_adapter("tele/th1/SENSOR", DEFAULT_ROUTES) == "tasmota"


def test_registry_routes_messages_to_adapters():
    """The registry subscribes to its filters, runs the chosen adapter with its mapping, keeps Shelly state."""
    registry = AdapterRegistry([*DEFAULT_ROUTES, ("senml/#", "senml")], mapping={"humidity_xiaomi_bad_stefan": "bath-9"})
    assert registry.subscriptions()[-1] == "senml/#" and len(registry.subscriptions()) == len(DEFAULT_ROUTES) + 1
    result = registry.parse("zigbee2mqtt/humidity_xiaomi_bad_stefan", Z2M_AQARA, received_at=NOW)
    assert only_reading(result).device_id == "bath-9"
    assert registry.parse("dampwatch/d1/up", b"{}", received_at=NOW) is None
    registry.parse(GEN1.format("temperature"), b"20.5", received_at=NOW)
    assert only_reading(registry.parse(GEN1.format("humidity"), b"61", received_at=NOW)).temperature_c == 20.5


def test_registry_refuses_unknown_adapters_and_bad_filters():
    """Configuration mistakes fail at start-up with the list of adapters."""
    with pytest.raises(ConfigError, match="choose one of: chirpstack, chirpstack-http, ") as caught:
        AdapterRegistry([("lora/#", "loriot")])
    for name in ("chirpstack", "senml", "shelly", "tasmota", "tts", "tts-http", "zigbee2mqtt"):
        assert f" {name}," in str(caught.value) or str(caught.value).endswith(f" {name}")
    with pytest.raises(ConfigError, match="'#' must be"):
        AdapterRegistry([("lora/#/up", "chirpstack")])


def test_parse_routes_from_a_setting():
    """Routes can be written as one setting: FILTER=ADAPTER, comma or newline separated."""
    assert parse_routes("zigbee2mqtt/#=zigbee2mqtt, tele/+/SENSOR=tasmota\nsenml/#=senml") == [
        ("zigbee2mqtt/#", "zigbee2mqtt"), ("tele/+/SENSOR", "tasmota"), ("senml/#", "senml"),
    ]
    with pytest.raises(ConfigError, match="TOPIC_FILTER=ADAPTER"):
        parse_routes("zigbee2mqtt/#")
