"""Real sensors out of the box (issue 12) and each format's own time and bounded numbers (issue 11): raw LoRaWAN
bytes through the built-in codecs, ChirpStack v3, Tasmota's every sensor and STATUS8, Shelly prefixes with '/',
Zigbee2MQTT last_seen; then properties of every adapter (never raises, documented ranges, values round-trip)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.readings import FLAG_UNTIMED
from ingest.adapters import (
    ADAPTERS,
    AdapterRegistry,
    AdapterResult,
    ShellyAdapter,
    chirpstack,
    senml,
    tasmota,
    tts,
    zigbee2mqtt,
)
from ingest.adapters.base import AdapterOptions
from ingest.adapters.chirpstack import chirpstack_http
from ingest.adapters.devicemap import load_device_map
from ingest.adapters.tts import tts_http
from ingest.codecs import CODEC_ERROR
from ingest.parse import Reason
from tests.ingest.test_adapters import (
    CHIRPSTACK_UP_WITHOUT_CODEC,
    PLUS_HT_FULL_STATUS,
    TASMOTA_AM2301,
    TTS_UPLINK,
    mutate,
    only_reading,
    only_rejection,
    utc,
)

# Milesight EM300-TH README examples (Milesight-IoT/SensorDecoders): a live frame and a history record
# stored at 1665561758 (2022-10-12T08:02:38Z).
EM300_LIVE = bytes.fromhex("01755C03673401046865")
EM300_HISTORY = bytes.fromhex("20CE9E74466310015D00")
HISTORY_TS = dt.datetime.fromtimestamp(1665561758, dt.UTC)
UPLINK_TIME = "2022-10-12T09:00:00.123456789+00:00"
RECEIVED = utc("2022-10-12T09:00:01+00:00")
# Elsys generic decoder example (0100e202290400270506060308070d62: 22.6 °C, 41 %, 3.426 V)
ELSYS_FRAME = bytes.fromhex("0100E202290400270506060308070D62")
# TheThingsNetwork/lorawan-devices vendor/dragino/lht65-codec.yaml, "Temperature"
LHT65_FRAME = bytes.fromhex("CBF60B0D0376010ADD7FFF")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def chirpstack_raw(dev_eui: str, frame: bytes, fport: int, **changes) -> tuple[str, bytes]:
    """The ChirpStack docs' uplink without a codec, for another device and frame."""
    def change(document):
        document["deviceInfo"]["devEui"] = dev_eui
        document.update({"data": b64(frame), "fPort": fport, "time": UPLINK_TIME, "fCnt": 7}, **changes)

    return f"application/app-1/device/{dev_eui}/event/up", mutate(CHIRPSTACK_UP_WITHOUT_CODEC, change)


def options(**kwargs) -> AdapterOptions:
    return AdapterOptions(**kwargs)


# --- raw LoRaWAN bytes --------------------------------------------------------------------------

def test_chirpstack_raw_milesight_bytes_with_the_device_map_codec_and_history():
    """Live values at the uplink's time, each history record at its own time, mapped device id."""
    topic, payload = chirpstack_raw("24e124136b502217", EM300_LIVE + EM300_HISTORY, 85)
    result = chirpstack(topic, payload, received_at=RECEIVED, options=options(
        mapping={"24e124136b502217": "bath-7"}, codecs={"24e124136b502217": "milesight-em300-th"}))
    assert result.rejections == []
    live, history = result.readings
    assert (live.device_id, live.ts, live.temperature_c, live.humidity_pct, live.seq) == (
        "bath-7", utc("2022-10-12T09:00:00+00:00"), 30.8, 50.5, 7)
    assert live.battery_v is None  # Milesight reports a percentage, which is not stored
    assert (history.ts, history.temperature_c, history.humidity_pct, history.seq) == (HISTORY_TS, 27.2, 46.5, None)
    assert not history.flags & FLAG_UNTIMED


def test_codec_chosen_by_dev_eui_range_when_unambiguous():
    """An Elsys DevEUI needs no device-map row."""
    topic, payload = chirpstack_raw("a81758fffe0312c5", ELSYS_FRAME, 5)
    reading = only_reading(chirpstack(topic, payload, received_at=RECEIVED))
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct, reading.battery_v) == (
        "lorawan-a81758fffe0312c5", 22.6, 41.0, 3.426)


def test_generic_milesight_stores_live_values_and_dead_letters_the_history_it_cannot_size():
    """Chosen by DevEUI range, the generic Milesight codec stores the live values; the history record is a
    codec_error naming the model codecs."""
    topic, payload = chirpstack_raw("24e124136b502217", EM300_LIVE + EM300_HISTORY, 85)
    result = chirpstack(topic, payload, received_at=RECEIVED)
    reading = result.readings[0]
    assert (len(result.readings), reading.temperature_c, reading.humidity_pct) == (1, 30.8, 50.5)
    (rejection,) = result.rejections
    assert rejection.reason == CODEC_ERROR and "milesight-em300-th" in rejection.detail
    assert rejection.device_id == "lorawan-24e124136b502217"


# Milesight's own decoder output for the EM300-TH history example (Milesight-IoT/SensorDecoders EM300-TH README):
# what ChirpStack or The Things Stack put in the decoded object when the vendor codec is installed there.
MILESIGHT_DECODED_HISTORY = {"history": [{"humidity": 46.5, "temperature": 27.2, "timestamp": 1665561758}]}


@pytest.mark.parametrize("adapter", ["chirpstack", "tts"])
def test_decoded_milesight_history_records_are_stored_at_their_own_time(adapter):
    """A decoded object's history records (the vendor codec ran on the network server) each become a reading."""
    decoded = {"battery": 92, "temperature": 30.8, "humidity": 50.5, **MILESIGHT_DECODED_HISTORY,
               "extra": "x"}
    decoded["history"] = [*decoded["history"], {"temperature": 20.0, "humidity": 40.0}, "junk"]
    if adapter == "chirpstack":
        topic, payload = chirpstack_raw("24e124136b502217", b"", 85, object=decoded)
        result = chirpstack(topic, payload, received_at=RECEIVED)
    else:
        payload = mutate(TTS_UPLINK, lambda d: d["uplink_message"].update(decoded_payload=decoded))
        result = tts("v3/app1@ttn/devices/dev1/up", payload, received_at=RECEIVED)
    assert [(r.ts, r.temperature_c, r.humidity_pct) for r in result.readings][1:] == [(HISTORY_TS, 27.2, 46.5)]
    assert result.readings[0].humidity_pct == 50.5
    assert [r.reason for r in result.rejections] == [Reason.MISSING_FIELD, Reason.WRONG_TYPE]
    assert "history record 2 has no 'timestamp'" in result.rejections[0].detail


def test_ambiguous_vendor_range_dead_letter_names_the_codecs_and_the_row():
    """A Dragino uplink without a codec says which codecs fit and which device-map row to add."""
    topic, payload = chirpstack_raw("a84041000181e4c2", LHT65_FRAME, 2)
    rejection = only_rejection(chirpstack(topic, payload, received_at=RECEIVED))
    assert rejection.reason == Reason.MISSING_FIELD
    assert rejection.device_id == "lorawan-a84041000181e4c2"
    assert "'a84041000181e4c2,lorawan-a84041000181e4c2,<codec>'" in rejection.detail
    assert "dragino-lht65, dragino-lht52" in rejection.detail or "dragino-lht52, dragino-lht65" in rejection.detail
    assert "device profile" in rejection.detail


def test_unknown_vendor_dead_letter_lists_every_codec():
    """An unknown DevEUI range: the dead letter lists every built-in codec."""
    topic, payload = chirpstack_raw("0101010101010101", LHT65_FRAME, 2)
    rejection = only_rejection(chirpstack(topic, payload, received_at=RECEIVED))
    assert "browan-tabs" in rejection.detail and "netvox" in rejection.detail


def test_codec_errors_are_dead_lettered_with_the_codec_name():
    """A short frame for the chosen codec is a codec_error naming the codec and the problem."""
    topic, payload = chirpstack_raw("a84041000181e4c2", LHT65_FRAME[:5], 2)
    rejection = only_rejection(chirpstack(topic, payload, received_at=RECEIVED, options=options(
        codecs={"a84041000181e4c2": "dragino-lht65"})))
    assert rejection.reason == CODEC_ERROR
    assert "codec dragino-lht65" in rejection.detail and "5 bytes" in rejection.detail


@pytest.mark.parametrize("data", ["not base64!", 17, ["AQI="]])
def test_raw_payload_that_is_not_base64(data):
    """Bytes that are not base64 are dead-lettered, not decoded."""
    topic, payload = chirpstack_raw("a81758fffe0312c5", b"", 5, data=data)
    assert only_rejection(chirpstack(topic, payload, received_at=RECEIVED)).reason == Reason.WRONG_TYPE


@pytest.mark.parametrize(("data", "fport"), [(None, 5), ("", 5), ("AgMHAA==", 0)])
def test_uplink_without_application_payload_is_ignored(data, fport):
    """No FRMPayload, or MAC commands on fPort 0: nothing to decode, ignored and counted."""
    topic, payload = chirpstack_raw("a81758fffe0312c5", b"", fport, data=data)
    assert "no application payload" in chirpstack(topic, payload, received_at=RECEIVED).ignored


def test_frame_without_humidity_is_ignored():
    """A Milesight frame with only the battery is counted as ignored (no humidity), not dead-lettered."""
    topic, payload = chirpstack_raw("24e124136b502217", bytes.fromhex("017564"), 85)
    result = chirpstack(topic, payload, received_at=RECEIVED)
    assert result.readings == [] and result.rejections == [] and "no humidity" in result.ignored


# ChirpStack v3 (chirpstack-application-server docs, integrations/events "up", JSON marshaler): no top-level
# time, the gateway time in rxInfo[].time, the decoded object as the objectJSON string, devEUI in base64.
CHIRPSTACK_V3_UP = json.dumps({
    "applicationID": "123", "applicationName": "temperature-sensor", "deviceName": "garden-sensor",
    "devEUI": "AgICAgICAgI=",
    "rxInfo": [{"gatewayID": "AwMDAwMDAwM=", "time": "2019-11-08T13:59:25.048445Z", "rssi": -48, "loRaSNR": 9},
               {"gatewayID": "BAQEBAQEBAQ=", "time": "2019-11-08T13:59:24.948445Z", "rssi": -60, "loRaSNR": 3}],
    "adr": True, "dr": 1, "fCnt": 10, "fPort": 5, "data": "...",
    "objectJSON": "{\"temperature\": 18.5, \"humidity\": 77}",
}).encode()


def test_chirpstack_v3_event_uses_object_json_and_the_earliest_gateway_time():
    """v3: objectJSON is read, and the time is the earliest rxInfo[].time."""
    reading = only_reading(chirpstack("application/123/device/0202020202020202/event/up", CHIRPSTACK_V3_UP,
                                      received_at=utc("2019-11-08T14:00:00+00:00")))
    assert (reading.device_id, reading.ts, reading.temperature_c, reading.humidity_pct, reading.seq) == (
        "lorawan-0202020202020202", utc("2019-11-08T13:59:24+00:00"), 18.5, 77.0, 10)


def test_tts_raw_frm_payload_through_a_codec():
    """The Things Stack uplink without a formatter: frm_payload through the device's codec, at received_at."""
    def change(document):
        del document["uplink_message"]["decoded_payload"]
        document["uplink_message"].update({"frm_payload": b64(LHT65_FRAME), "f_port": 2})

    result = tts("v3/app1@ttn/devices/dev1/up", mutate(TTS_UPLINK, change), received_at=utc("2020-02-12T15:16:00Z"),
                 options=options(codecs={"0004a30b001c0530": "dragino-lht65"}))
    reading = only_reading(result)
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct, reading.battery_v, reading.ts) == (
        "lorawan-0004a30b001c0530", 28.29, 88.6, 3.062, utc("2020-02-12T15:15:45+00:00"))  # uplink_message.received_at


def test_http_adapters_read_the_device_from_the_body():
    """ChirpStack's HTTP integration and TTS webhooks carry the device in the body, not a topic."""
    _topic, payload = chirpstack_raw("a81758fffe0312c5", ELSYS_FRAME, 5)
    reading = only_reading(chirpstack_http("http/chirpstack/council/up", payload, received_at=RECEIVED))
    assert reading.device_id == "lorawan-a81758fffe0312c5"
    assert chirpstack_http("http/chirpstack/council/join", payload, received_at=RECEIVED).ignored
    assert only_rejection(chirpstack_http("http/chirpstack/council/up", b'{"fPort": 1}', received_at=RECEIVED)
                          ).reason == Reason.MISSING_FIELD
    tts_reading = only_reading(tts_http("http/tts/council", mutate(TTS_UPLINK, lambda d: d["uplink_message"].update(
        decoded_payload={"temperature": 20.5, "humidity": 60})), received_at=utc("2020-02-12T15:16:00Z")))
    assert tts_reading.humidity_pct == 60.0
    join = mutate(TTS_UPLINK, lambda d: (d.pop("uplink_message"), d.update(join_accept={"session_key_id": "x"})))
    assert "join_accept" in tts_http("http/tts/council", join, received_at=RECEIVED).ignored


def test_device_map_codec_column(tmp_path):
    """The device map's codec column is read and checked; device_id may be left empty."""
    path = tmp_path / "devices.csv"
    path.write_text("key,device_id,codec\na84041000181e4c2,bath-1,Dragino-LHT65\n24e124136b502217,,milesight-em300\n"
                    "zigbee2mqtt:Bathroom,bath-2,\n")
    device_map = load_device_map(path)
    assert device_map.device_ids == {"a84041000181e4c2": "bath-1", "zigbee2mqtt:Bathroom": "bath-2"}
    assert device_map.codecs == {"a84041000181e4c2": "dragino-lht65", "24e124136b502217": "milesight-em300"}
    path.write_text("key,device_id,codec\na84041000181e4c2,bath-1,acme\n")
    with pytest.raises(ConfigError, match=r"line 2.*choose one of"):
        load_device_map(path)
    with pytest.raises(ConfigError, match="does not exist"):
        AdapterRegistry(codecs={"x": "acme"})


# --- Tasmota, Shelly, Zigbee2MQTT ----------------------------------------------------------------

# Two SHT3X sensors on one Tasmota (tasmota/docs docs/SHT3x.md: addresses 0x44 and 0x45 are named
# SHT3X-0x44 and SHT3X-0x45 in the SENSOR message).
TASMOTA_TWO_SHT3X = (b'{"Time":"2024-01-15T07:30:00","SHT3X-0x44":{"Temperature":21.4,"Humidity":63.1,"DewPoint":14.1},'
                     b'"SHT3X-0x45":{"Temperature":17.9,"Humidity":81.2,"DewPoint":14.6},"TempUnit":"C"}')
TASMOTA_RECEIVED = utc("2024-01-15T07:30:02+00:00")


def test_tasmota_every_humidity_sensor_is_its_own_device():
    """Two humidity sensors: two readings, keys <topic>/<SensorName>."""
    result = tasmota("tele/bathroom-plug/SENSOR", TASMOTA_TWO_SHT3X, received_at=TASMOTA_RECEIVED,
                     options=options(mapping={"bathroom-plug/SHT3X-0x45": "bath-window"}))
    assert result.rejections == []
    assert [(r.device_id, r.humidity_pct) for r in result.readings] == [
        ("tasmota-bathroom-plug-sht3x-0x44", 63.1), ("bath-window", 81.2)]


def test_tasmota_status8_answer_and_single_sensor_mapping_by_sensor_name():
    """stat/<topic>/STATUS8 carries StatusSNS; a map row for <topic>/<Sensor> is used with one sensor too."""
    status8 = json.dumps({"StatusSNS": json.loads(TASMOTA_AM2301)}).encode()  # Tasmota 'Status 8' wraps SENSOR
    reading = only_reading(tasmota("stat/hall/STATUS8", status8, received_at=utc("2019-01-01T00:00:05Z"),
                                   options=options(mapping={"hall/AM2301": "hall-1"})))
    assert (reading.device_id, reading.humidity_pct) == ("hall-1", 58.2)
    assert tasmota("stat/hall/STATUS8", b'{"StatusPWR":{}}', received_at=TASMOTA_RECEIVED).ignored
    assert tasmota("stat/hall/STATUS1", b"{}", received_at=TASMOTA_RECEIVED).ignored


def test_tasmota_time_in_the_configured_zone():
    """Offset-less Time: untimed without a zone; in Europe/London it is read as local time (BST in summer)."""
    summer = (b'{"Time":"2024-07-01T12:00:00","AM2301":{"Temperature":24.6,"Humidity":58.2},"TempUnit":"C"}')
    received = utc("2024-07-01T11:00:03+00:00")
    untimed = only_reading(tasmota("tele/hall/SENSOR", summer, received_at=received))
    assert untimed.flags & FLAG_UNTIMED
    zoned = only_reading(tasmota("tele/hall/SENSOR", summer, received_at=received, options=options(
        tasmota_timezone=zoneinfo.ZoneInfo("Europe/London"))))
    assert zoned.ts == utc("2024-07-01T11:00:00+00:00") and not zoned.flags & FLAG_UNTIMED


def test_tasmota_full_topic_with_the_topic_first():
    """FullTopic %topic%/%prefix%/ gives <topic>/tele/SENSOR."""
    reading = only_reading(tasmota("kitchen/tele/SENSOR", TASMOTA_AM2301, received_at=utc("2019-01-01T00:00:05Z")))
    assert reading.device_id == "tasmota-kitchen"


@pytest.mark.parametrize("prefix", ["home/bathroom/shellyplusht-b8d61a8b17cc", "a/b/c/d"])
def test_shelly_gen2_prefix_with_slashes(prefix):
    """A Gen2 topic prefix may contain '/': the reading is still read, with the device's own ts."""
    reading = only_reading(ShellyAdapter()(f"{prefix}/events/rpc", PLUS_HT_FULL_STATUS,
                                           received_at=utc("2023-04-08T14:08:00Z")))
    assert (reading.device_id, reading.humidity_pct, reading.ts) == (
        "shelly-shellyplusht-b8d61a8b17cc", 42.2, utc("2023-04-08T14:07:59+00:00"))


def test_shelly_status_topics_with_slashes_in_the_prefix_are_paired():
    """status/temperature:0 then status/humidity:0 under a prefix with '/' make one reading."""
    adapter = ShellyAdapter()
    first = adapter("flat/12a/ht/status/temperature:0", b'{"id":0,"tC":19.5,"tF":67.1}', received_at=RECEIVED)
    assert first.ignored
    reading = only_reading(adapter("flat/12a/ht/status/humidity:0", b'{"id":0,"rh":71.5}', received_at=RECEIVED))
    assert (reading.device_id, reading.temperature_c, reading.humidity_pct) == ("shelly-flat-12a-ht", 19.5, 71.5)


@pytest.mark.parametrize(("last_seen", "expected"), [
    ("2024-01-15T07:29:58.123Z", "2024-01-15T07:29:58+00:00"),  # advanced.last_seen: ISO_8601
    ("2024-01-15T07:29:58.123+00:00", "2024-01-15T07:29:58+00:00"),  # ISO_8601_local (winter: +00:00)
    (1705303798123, "2024-01-15T07:29:58+00:00"),  # epoch (milliseconds)
])
def test_zigbee2mqtt_last_seen_is_the_reading_time(last_seen, expected):
    """With last_seen configured, a queued message keeps its own time instead of the ingest time."""
    payload = json.dumps({"temperature": 19.1, "humidity": 72.5, "last_seen": last_seen}).encode()
    reading = only_reading(zigbee2mqtt("zigbee2mqtt/bath", payload, received_at=utc("2024-01-15T08:00:00+00:00")))
    assert reading.ts == utc(expected) and not reading.flags & FLAG_UNTIMED


def test_zigbee2mqtt_without_last_seen_is_untimed():
    """No last_seen: the ingest time, flagged untimed."""
    reading = only_reading(zigbee2mqtt("zigbee2mqtt/bath", b'{"temperature": 19.1, "humidity": 72.5}',
                                       received_at=RECEIVED))
    assert reading.flags & FLAG_UNTIMED


# --- bounded numbers (issue 11) ------------------------------------------------------------------

HUGE = "9" * 400


@pytest.mark.parametrize(("adapter", "topic", "payload"), [
    ("chirpstack", "application/a/device/0101010101010101/event/up",
     '{"object": {"temperature": HUGE, "humidity": 50}, "time": "2026-11-22T10:00:00Z"}'),
    ("chirpstack", "application/a/device/0101010101010101/event/up",
     '{"object": {"temperature": 20, "humidity": 50}, "fCnt": HUGE, "time": HUGE}'),
    ("tts", "v3/a@ttn/devices/d/up",
     '{"uplink_message": {"decoded_payload": {"temperature": 1, "humidity": -HUGE}, "f_port": HUGE,'
     ' "received_at": HUGE}}'),
    ("zigbee2mqtt", "zigbee2mqtt/x", '{"temperature": 20, "humidity": 50, "voltage": HUGE, "last_seen": HUGE}'),
    ("tasmota", "tele/x/SENSOR", '{"Time": "0001-01-01T00:00:00+01:00", "S": {"Temperature": HUGE, "Humidity": 5}}'),
    ("shelly", "x/events/rpc",
     '{"method": "NotifyFullStatus", "params": {"ts": HUGE, "temperature:0": {"tC": 1}, "humidity:0": {"rh": HUGE}}}'),
    ("senml", "senml/x",
     '[{"bn": "a", "bt": HUGE, "n": "t", "u": "Cel", "v": HUGE}, {"n": "h", "u": "%RH", "v": 50, "t": HUGE}]'),
])
def test_huge_integers_are_rejected_not_raised(adapter, topic, payload):
    """309+ digit integers anywhere become a dead letter, never an OverflowError."""
    result = ADAPTERS[adapter]()(topic, payload.replace("HUGE", HUGE).encode(), received_at=utc("2026-11-22T10:00:00Z"))
    assert result.readings == [] and result.rejections, result


# --- properties of every adapter -------------------------------------------------------------------

NOW = utc("2026-11-22T10:15:00+00:00")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
TOPICS = {
    "chirpstack": "application/a/device/0101010101010101/event/up", "tts": "v3/a@ttn/devices/d/up",
    "zigbee2mqtt": "zigbee2mqtt/sensor", "tasmota": "tele/t/SENSOR", "shelly": "s/events/rpc", "senml": "senml/x",
    "chirpstack-http": "http/chirpstack/c/up", "tts-http": "http/tts/c",
}


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(ADAPTERS)), document=json_values)
def test_adapters_never_raise_on_any_json(name, document):
    """Whatever JSON arrives, every adapter returns a result; readings it gives obey the native ranges."""
    payload = json.dumps(document).encode()
    result = ADAPTERS[name]()(TOPICS[name], payload, received_at=NOW)
    assert isinstance(result, AdapterResult)
    for reading in result.readings:
        assert -40 <= reading.temperature_c <= 85 and 0 <= reading.humidity_pct <= 100


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(ADAPTERS)), payload=st.binary(max_size=200))
def test_adapters_never_raise_on_any_bytes(name, payload):
    """Bytes that are not JSON are dead-lettered by every adapter, never raised."""
    assert isinstance(ADAPTERS[name]()(TOPICS[name], payload, received_at=NOW), AdapterResult)


def _message(name: str, temperature: float, humidity: float) -> tuple[str, bytes]:
    """One message of each format carrying ``temperature`` and ``humidity`` (built from its documented shape)."""
    ts = "2026-11-22T10:00:00Z"
    if name in ("chirpstack", "chirpstack-http"):
        return TOPICS[name], json.dumps({"deviceInfo": {"devEui": "0101010101010101"}, "time": ts,
                                         "object": {"temperature": temperature, "humidity": humidity}}).encode()
    if name in ("tts", "tts-http"):
        return TOPICS[name], json.dumps({"end_device_ids": {"device_id": "d", "dev_eui": "0101010101010101"},
                                         "uplink_message": {"received_at": ts, "decoded_payload": {
                                             "temperature": temperature, "humidity": humidity}}}).encode()
    if name == "zigbee2mqtt":
        return TOPICS[name], json.dumps({"temperature": temperature, "humidity": humidity, "last_seen": ts}).encode()
    if name == "tasmota":
        return TOPICS[name], json.dumps({"Time": "2026-11-22T10:00:00+00:00", "SHT3X": {
            "Temperature": temperature, "Humidity": humidity}, "TempUnit": "C"}).encode()
    if name == "shelly":
        return TOPICS[name], json.dumps({"src": "shellyhtg3-1", "method": "NotifyFullStatus", "params": {
            "ts": 1795341600.5, "temperature:0": {"tC": temperature}, "humidity:0": {"rh": humidity}}}).encode()
    return TOPICS[name], json.dumps([{"bn": "urn:dev:x:", "bt": 1795341600, "n": "t", "u": "Cel", "v": temperature},
                                     {"n": "h", "u": "%RH", "v": humidity}]).encode()


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(ADAPTERS)),
       temperature=st.floats(-60, 120, allow_nan=False).map(lambda v: round(v, 2)),
       humidity=st.floats(-20, 120, allow_nan=False).map(lambda v: round(v, 2)))
def test_adapters_accept_exactly_the_documented_ranges_and_round_trip(name, temperature, humidity):
    """-40..85 °C and 0..100 % become one reading with the same values at the message's time; else a rejection."""
    topic, payload = _message(name, temperature, humidity)
    result = ADAPTERS[name]()(topic, payload, received_at=NOW)
    if -40 <= temperature <= 85 and 0 <= humidity <= 100:
        reading = only_reading(result)
        assert (reading.temperature_c, reading.humidity_pct) == (temperature, humidity)
        assert reading.ts == utc("2026-11-22T10:00:00+00:00") and not reading.flags & FLAG_UNTIMED
    else:
        rejection = only_rejection(result)
        assert rejection.reason in (Reason.TEMPERATURE_OUT_OF_RANGE, Reason.HUMIDITY_OUT_OF_RANGE)


def test_numeric_strings_are_numbers_only_in_plain_decimal():
    """'21.5' is a number in decoded LoRaWAN objects; 'nan', 'inf', '1_0' and hex are not."""
    def up(humidity):
        return json.dumps({"time": "2026-11-22T10:00:00Z", "object": {"temperature": "21.5", "humidity": humidity}})

    topic = TOPICS["chirpstack"]
    assert only_reading(chirpstack(topic, up(" 60 ").encode(), received_at=NOW)).humidity_pct == 60.0
    for text in ("nan", "inf", "1_0", "0x3C", "6e1000", "", "1" * 40):
        assert only_rejection(chirpstack(topic, up(text).encode(), received_at=NOW)).reason in (
            Reason.WRONG_TYPE, Reason.NOT_FINITE), text


def test_tiny_exponent_is_zero_and_duplicate_keys_are_refused():
    """1e-400 is read as 0.0 (JSON's nearest double); a payload with a duplicate key is refused whole."""
    tiny = b'{"time": "2026-11-22T10:00:00Z", "object": {"temperature": 1e-400, "humidity": 50}}'
    assert only_reading(chirpstack(TOPICS["chirpstack"], tiny, received_at=NOW)).temperature_c == 0.0
    twice = b'{"temperature": 20, "humidity": 50, "humidity": 99}'
    assert only_rejection(zigbee2mqtt("zigbee2mqtt/a", twice, received_at=NOW)).reason == Reason.DUPLICATE_KEY


def test_senml_huge_base_time_is_not_finite():
    """bt + t that overflows to infinity is a rejection."""
    pack = b'[{"bn": "a", "bt": 1e308, "n": "t", "u": "Cel", "v": 20, "t": 1e308}, {"n": "h", "u": "%RH", "v": 50}]'
    result = senml("senml/x", pack, received_at=NOW)
    assert result.rejections and not any(r.ts.year > 3000 for r in result.readings)


def _timed_message(name: str, moment: dt.datetime) -> tuple[str, bytes]:
    """A message of each format whose own time is ``moment`` (in the format's own notation)."""
    iso_z = moment.isoformat().replace("+00:00", "Z")
    epoch = moment.timestamp()
    if name in ("chirpstack", "chirpstack-http"):
        return TOPICS[name], json.dumps({"deviceInfo": {"devEui": "0101010101010101"}, "time": iso_z,
                                         "object": {"temperature": 20, "humidity": 50}}).encode()
    if name in ("tts", "tts-http"):
        return TOPICS[name], json.dumps({"end_device_ids": {"device_id": "d"}, "uplink_message": {
            "received_at": iso_z, "decoded_payload": {"temperature": 20, "humidity": 50}}}).encode()
    if name == "zigbee2mqtt":
        return TOPICS[name], json.dumps({"temperature": 20, "humidity": 50, "last_seen": round(epoch * 1000)}).encode()
    if name == "tasmota":
        return TOPICS[name], json.dumps({"Time": moment.astimezone(zoneinfo.ZoneInfo("Europe/London")).isoformat(),
                                         "SHT3X": {"Temperature": 20, "Humidity": 50}}).encode()
    if name == "shelly":
        return TOPICS[name], json.dumps({"src": "s", "method": "NotifyFullStatus", "params": {
            "ts": epoch, "temperature:0": {"tC": 20}, "humidity:0": {"rh": 50}}}).encode()
    return TOPICS[name], json.dumps([{"bn": "x:", "bt": epoch, "n": "t", "u": "Cel", "v": 20},
                                     {"n": "h", "u": "%RH", "v": 50}]).encode()


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(ADAPTERS)),
       moment=st.datetimes(min_value=dt.datetime(2010, 1, 1), max_value=dt.datetime(2030, 1, 1),
                           timezones=st.just(dt.UTC)).map(lambda m: m.replace(microsecond=0)))
def test_every_format_keeps_its_own_time_within_2015_and_ten_minutes_ahead(name, moment):
    """A device time from 2015 to ten minutes past the ingest clock is the reading's time; outside it, a rejection
    (Shelly, whose clock may be unset, falls back to the ingest time before 2015)."""
    topic, payload = _timed_message(name, moment)
    result = ADAPTERS[name]()(topic, payload, received_at=NOW)
    if name == "shelly" and moment < dt.datetime(2015, 1, 1, tzinfo=dt.UTC):
        assert only_reading(result).flags & FLAG_UNTIMED
    elif dt.datetime(2015, 1, 1, tzinfo=dt.UTC) <= moment <= NOW + dt.timedelta(seconds=600):
        reading = only_reading(result)
        assert reading.ts == moment and not reading.flags & FLAG_UNTIMED
    else:
        assert only_rejection(result).reason in (Reason.TIMESTAMP_TOO_OLD, Reason.FUTURE_TIMESTAMP)


@pytest.mark.parametrize(("document", "expected"), [
    ({"deviceInfo": {"devEui": "A81758FFFE0312C5"}}, "a81758fffe0312c5"),  # v4
    ({"devEUI": "AgICAgICAgI="}, "0202020202020202"),  # v3 JSON marshaler: base64
    ({"devEUI": "0202020202020202"}, "0202020202020202"),  # v3 json_v3 marshaler: hex
    ({"devEUI": "AgICAg=="}, None), ({"devEUI": 17}, None), ({"deviceInfo": "x"}, None), ({}, None),
])
def test_chirpstack_http_body_dev_eui(document, expected):
    """The DevEUI of an HTTP event body in each ChirpStack version's spelling; anything else is None."""
    from ingest.adapters.chirpstack import body_dev_eui

    assert body_dev_eui(document) == expected


def test_a_mapped_codec_decodes_the_bytes_when_the_servers_object_has_no_humidity_we_can_read():
    """The server's codec named its fields its own way: with a codec in the device map, the bytes are decoded;
    without one, the object is read as before (no humidity: ignored)."""
    topic, payload = chirpstack_raw("a84041000181e4c2", LHT65_FRAME, 2, object={"Bat": 3.06, "T_int": 28.29})
    mapped = chirpstack(topic, payload, received_at=RECEIVED, options=options(
        codecs={"a84041000181e4c2": "dragino-lht65"}))
    assert only_reading(mapped).humidity_pct == 88.6
    assert chirpstack(topic, payload, received_at=RECEIVED).ignored
