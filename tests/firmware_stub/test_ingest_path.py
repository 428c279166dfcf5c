"""The whole device path: simulated SHT3x → firmware → TLS + password + ACL on a real Mosquitto → ingestor → store."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from core.broker_auth import INGESTOR_USERNAME, generate_test_ca
from core.db import Database
from core.model import DeadLetter, Property, Room
from core.mqtt import MosquittoBroker
from core.provisioning import ensure_service_account, provision_device, write_broker_files
from core.settings import Settings
from core.store_sqlite import SQLiteReadingsStore
from firmware_stub.sim_hw import SimClock, SimDevice, SimNetwork, indoor_climate
from ingest.service import Ingestor

pytestmark = pytest.mark.broker
DEVICE = "dw-fw-0001"


def wait_for(condition, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def secured_path(tmp_path: Path):
    """A provisioned device, a TLS broker with generated password and ACL files, and a running ingestor."""
    database = Database(f"sqlite:///{tmp_path}/app.db")
    with database.session() as session:
        prop = Property(uprn="100000000001", address="1 Test Street", postcode="LS6 1AB")
        prop.rooms = [Room(name="Bathroom", room_type="bathroom")]
        session.add(prop)
        session.flush()
        device = provision_device(session, DEVICE, uprn="100000000001", room="Bathroom", broker_host="127.0.0.1")
        ingest_password = ensure_service_account(session)
        files = write_broker_files(session, tmp_path / "conf", prefix="dampwatch")
    tls = generate_test_ca(tmp_path / "tls", ["127.0.0.1", "localhost"])
    broker = MosquittoBroker(tmp_path / "broker", password_file=files.password_file, acl_file=files.acl_file,
                             tls_cert=tls.server_cert, tls_key=tls.server_key)
    broker.start()
    store = SQLiteReadingsStore(f"sqlite:///{tmp_path}/readings.db")
    settings = Settings(
        var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/app.db", readings_url=store.url,
        mqtt_username=INGESTOR_USERNAME, mqtt_password=ingest_password, mqtt_tls_ca_file=tls.ca_cert,
        metrics_port=0, ingest_flush_interval_s=0.1,
    )
    ingestor = Ingestor(settings, store, database, broker_url=f"mqtts://127.0.0.1:{broker.port}")
    thread = threading.Thread(target=ingestor.run, daemon=True)
    thread.start()
    assert ingestor.wait_connected(15), broker.tail_log()
    # Two days ago, so a simulated day offline still lies in the past for the ingestor's future check.
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    with SimNetwork(broker.host, broker.port) as network:
        sim = SimDevice(
            tmp_path / "flash", network, clock=SimClock(start), device_id=DEVICE, tls=True,
            tls_ca_file=str(tls.ca_cert), mqtt_username=DEVICE, mqtt_password=device.password,
            batch_max_readings=50,
        )
        yield {"device": sim, "network": network, "store": store, "ingestor": ingestor, "database": database}
    ingestor.stop()
    thread.join(30)
    broker.stop()
    store.close()
    database.dispose()


def test_reading_travels_from_sensor_to_store_and_survives_a_network_cut(secured_path):
    """Readings arrive over TLS with the sensor's values; a day offline is uploaded and stored once, in ts order."""
    device, network, store = secured_path["device"], secured_path["network"], secured_path["store"]
    device.run(3)
    wait_for(lambda: store.count() == 3, what="the first readings")
    network.cut()
    device.run(144)
    assert device.buffered() == 144
    network.restore()
    device.run_until(lambda: device.buffered() == 0, max_wakes=10)
    wait_for(lambda: store.count() >= 147 and secured_path["ingestor"].metrics.pending._value.get() == 0,
             what="the backlog")
    time.sleep(0.3)
    readings = list(store.iter_readings(device_ids=[DEVICE]))
    seqs = [r.seq for r in readings]
    assert seqs == list(range(1, len(readings) + 1)), "every reading once, in ts order, none missing"
    assert len(readings) >= 147
    for reading in readings:
        temperature_c, humidity_pct = indoor_climate(reading.ts.timestamp())
        assert reading.temperature_c == pytest.approx(temperature_c, abs=0.015)
        assert reading.humidity_pct == pytest.approx(humidity_pct, abs=0.015)
        assert reading.flags == 0
    with secured_path["database"].session() as session:
        assert session.query(DeadLetter).count() == 0


def test_crc_failure_never_becomes_a_stored_value(secured_path):
    """A wake whose every CRC fails stores nothing; the next good wake is stored normally."""
    device, store = secured_path["device"], secured_path["store"]
    device.run(1)
    wait_for(lambda: store.count() == 1, what="the first reading")
    device.sensor.corrupt_crc_frames = 10  # more than the driver's retries
    device.run(1)
    device.sensor.corrupt_crc_frames = 0
    device.run(1)
    wait_for(lambda: store.count() == 2, what="the next good reading")
    time.sleep(0.3)
    readings = list(store.iter_readings())
    assert len(readings) == 2
    for reading in readings:
        temperature_c, humidity_pct = indoor_climate(reading.ts.timestamp())
        assert reading.temperature_c == pytest.approx(temperature_c, abs=0.015)
        assert reading.humidity_pct == pytest.approx(humidity_pct, abs=0.015)
