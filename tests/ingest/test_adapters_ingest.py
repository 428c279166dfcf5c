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
