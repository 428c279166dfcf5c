"""Other systems' messages through a real Mosquitto and the ingestor: each becomes stored readings."""

from __future__ import annotations

import pytest

import simulator
from core.db import Database
from core.model import Device
from ingest.parse import Reason
from tests.ingest.test_adapters import (
    CHIRPSTACK_STATUS,
    CHIRPSTACK_TOPIC,
    LHT65_OBJECT,
    SENML_COLLECTION,
    TASMOTA_BME280,
    TTS_TOPIC,
    Z2M_AQARA,
    chirpstack_up,
    tts_uplink,
)
from tests.ingest.test_ingest_broker import dead_letter_counts, running_ingestor, wait_for

pytestmark = pytest.mark.broker

ROUTES = ("application/+/device/+/event/+=chirpstack, v3/+/devices/+/#=tts, zigbee2mqtt/#=zigbee2mqtt, "
          "tele/+/SENSOR=tasmota, senml/#=senml")


def test_chirpstack_tts_zigbee2mqtt_tasmota_and_senml_become_stored_readings(broker, settings, store, tmp_path):
    """One uplink of each system is stored under its mapped or default device id; a join is ignored."""
    device_map = tmp_path / "devices.csv"
    device_map.write_text("key,device_id\n0101010101010101,bath-1\nzigbee2mqtt:aqara bathroom,bath-2\n")
    settings = settings.model_copy(update={"ingest_adapters": ROUTES, "ingest_device_map_file": device_map})
    database = Database(settings.database_url)
    ids = ["bath-1", "lorawan-0004a30b001c0530", "bath-2", "tasmota-tasmota_bme", "senml-2001-db8-1",
           "senml-2001-db8-2"]
    with database.session() as session:
        session.add_all(Device(device_id=i) for i in ids)
    senml = SENML_COLLECTION.replace(b"1.320078429e+09", b"1.7953425e+09")
    messages = [
        (CHIRPSTACK_TOPIC.format("up"), chirpstack_up(LHT65_OBJECT)),
        (CHIRPSTACK_TOPIC.format("status"), CHIRPSTACK_STATUS),
        (TTS_TOPIC.format("up"), tts_uplink(LHT65_OBJECT)),
        ("zigbee2mqtt/aqara bathroom", Z2M_AQARA),
        ("zigbee2mqtt/bridge/state", b'{"state":"online"}'),
        ("tele/tasmota_bme/SENSOR", TASMOTA_BME280),
        ("senml/gateway-7", senml),
        ("zigbee2mqtt/aqara bathroom", b'{"temperature": 21.0, "humidity": 104}'),
    ]
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        assert "zigbee2mqtt/#" in ingestor.subscriptions
        simulator.publish(iter(messages), broker.url, client_id="adapters")
        wait_for(lambda: ingestor.metrics.received._value.get() >= len(messages)
                 and ingestor.metrics.pending._value.get() == 0, what="every message", state=ingestor.metrics.log_line)
        assert ingestor.metrics.ignored._value.get() >= 2
    stored = {r.device_id: r for r in store.iter_readings()}
    assert set(stored) == set(ids)
    assert (stored["bath-1"].temperature_c, stored["bath-1"].humidity_pct) == (28.29, 88.6)
    assert stored["bath-2"].humidity_pct == 58.5
    assert stored["tasmota-tasmota_bme"].humidity_pct == 66.6
    assert dead_letter_counts(database) == {Reason.HUMIDITY_OUT_OF_RANGE: 1}
    database.dispose()


def test_shared_subscription_topics(settings):
    """With a group set, every subscription is a shared one ($share/<group>/...)."""
    from ingest.service import Ingestor

    shared = Ingestor(settings.model_copy(update={"mqtt_shared_group": "ingest"}), broker_url="mqtt://127.0.0.1:1")
    assert shared.subscriptions == ["$share/ingest/dampwatch/+/up", "$share/ingest/dampwatch/+/status"]


def test_lorawan_without_codecs_and_the_other_gaps_through_a_real_broker(broker, settings, store, tmp_path):
    """ChirpStack with no codecs (Milesight with history, Elsys by DevEUI range, Dragino by the map's codec column),
    The Things Stack with no formatter (Netvox), Tasmota with two sensors and a STATUS8 answer, Shelly Gen1 pairs
    and a Gen2 prefix with '/', Zigbee2MQTT last_seen: stored with the right values and times; a Dragino uplink with
    no codec anywhere becomes a dead letter naming the codecs."""
    import base64
    import datetime as dt
    import json

    from tests.ingest.test_adapters import CHIRPSTACK_UP_WITHOUT_CODEC, PLUS_HT_FULL_STATUS, mutate
    from tests.ingest.test_adapters_sensors import TASMOTA_TWO_SHT3X

    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    history_at = now - dt.timedelta(hours=6)

    def chirpstack(dev_eui: str, frame: bytes, fport: int) -> tuple[str, bytes]:
        def change(document):
            document["deviceInfo"]["devEui"] = dev_eui
            document.update({"time": now.isoformat(), "data": base64.b64encode(frame).decode(), "fPort": fport})

        return f"application/app-1/device/{dev_eui}/event/up", mutate(CHIRPSTACK_UP_WITHOUT_CODEC, change)

    # Milesight EM300-TH layout (README of Milesight-IoT/SensorDecoders): live 30.8 °C / 50.5 %, then a history
    # record (timestamp, 27.2 °C, 46.5 %, reserved byte) dated six hours ago.
    milesight = bytes.fromhex("01755C03673401046865") + b"\x20\xce" + int(history_at.timestamp()).to_bytes(4, "little") \
        + bytes.fromhex("1001 5D 00")
    device_map = tmp_path / "devices.csv"
    device_map.write_text("key,device_id,codec\n24e124136b502217,bath-ms,milesight-em300-th\n"
                          "a84041000181e4c2,bath-lht,dragino-lht65\ntasmota:plug/SHT3X-0x45,bath-window,\n")
    settings = settings.model_copy(update={
        "ingest_adapters": "application/+/device/+/event/+=chirpstack, tele/+/SENSOR=tasmota, "
                           "home/#=shelly, zigbee2mqtt/#=zigbee2mqtt, v3/+/devices/+/#=tts, "
                           "shellies/+/sensor/+=shelly, stat/+/STATUS8=tasmota",
        "ingest_device_map_file": device_map,
    })
    database = Database(settings.database_url)
    ids = ["bath-ms", "bath-lht", "lorawan-a81758fffe0312c5", "tasmota-plug-sht3x-0x44", "bath-window",
           "shelly-shellyplusht-b8d61a8b17cc", "z2m-hall", "lorawan-00137a1000001234", "shelly-shellyht-6fa1b2",
           "tasmota-landing"]
    with database.session() as session:
        session.add_all(Device(device_id=i) for i in ids)
    shelly = mutate(PLUS_HT_FULL_STATUS, lambda d: d["params"].update(ts=now.timestamp()))
    messages = [
        chirpstack("24e124136b502217", milesight, 85),
        chirpstack("a81758fffe0312c5", bytes.fromhex("0100E202290400270506060308070D62"), 5),
        chirpstack("a84041000181e4c2", bytes.fromhex("CBF60B0D0376010ADD7FFF"), 2),
        chirpstack("a84041000181ffff", bytes.fromhex("CBF60B0D0376010ADD7FFF"), 2),  # no codec: dead letter
        ("tele/plug/SENSOR", TASMOTA_TWO_SHT3X),
        ("home/bathroom/shellyplusht-b8d61a8b17cc/events/rpc", shelly),
        ("zigbee2mqtt/hall", json.dumps({"temperature": 18.2, "humidity": 74.0,
                                         "last_seen": now.isoformat().replace("+00:00", "Z")}).encode()),
        # The Things Stack without a payload formatter: a Netvox R718A status report (r718a-codec.yaml example)
        ("v3/app1@ttn/devices/r718a-1/up", json.dumps({
            "end_device_ids": {"device_id": "r718a-1", "dev_eui": "00137A1000001234"},
            "uplink_message": {"f_port": 6, "f_cnt": 12, "received_at": now.isoformat(),
                               "frm_payload": base64.b64encode(bytes.fromhex("010B012409EA1A90000000")).decode()},
        }).encode()),
        ("shellies/shellyht-6fa1b2/sensor/temperature", b"20.5"),  # Gen1 H&T: two messages, paired
        ("shellies/shellyht-6fa1b2/sensor/humidity", b"66"),
        ("stat/landing/STATUS8", json.dumps({"StatusSNS": {"Time": now.isoformat(), "AM2301": {
            "Temperature": 16.4, "Humidity": 69.9}, "TempUnit": "C"}}).encode()),
    ]
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(iter(messages), broker.url, client_id="sensors")
        wait_for(lambda: ingestor.metrics.received._value.get() >= len(messages)
                 and ingestor.metrics.pending._value.get() == 0, what="every message", state=ingestor.metrics.log_line)
    stored = sorted((r.device_id, r.ts, r.temperature_c, r.humidity_pct) for r in store.iter_readings())
    assert stored == sorted([
        ("bath-ms", now, 30.8, 50.5),
        ("bath-ms", history_at, 27.2, 46.5),
        ("bath-lht", now, 28.29, 88.6),
        ("lorawan-a81758fffe0312c5", now, 22.6, 41.0),
        ("tasmota-plug-sht3x-0x44", _ts_of(store, "tasmota-plug-sht3x-0x44"), 21.4, 63.1),
        ("bath-window", _ts_of(store, "bath-window"), 17.9, 81.2),
        ("shelly-shellyplusht-b8d61a8b17cc", now, 19.8, 42.2),
        ("z2m-hall", now, 18.2, 74.0),
        ("lorawan-00137a1000001234", now, 25.38, 68.0),
        ("shelly-shellyht-6fa1b2", _ts_of(store, "shelly-shellyht-6fa1b2"), 20.5, 66.0),
        ("tasmota-landing", now, 16.4, 69.9),
    ])
    assert dead_letter_counts(database) == {Reason.MISSING_FIELD: 1}
    with database.session() as session:
        from sqlalchemy import select

        from core.model import DeadLetter

        (detail,) = session.scalars(select(DeadLetter.detail))
    assert "a84041000181ffff,lorawan-a84041000181ffff,<codec>" in detail and "dragino-lht65" in detail
    database.dispose()


def _ts_of(store, device_id):
    """The stored time of a device's only reading (Tasmota's offset-less Time: the ingest time, flagged)."""
    (reading,) = [r for r in store.iter_readings() if r.device_id == device_id]
    return reading.ts
