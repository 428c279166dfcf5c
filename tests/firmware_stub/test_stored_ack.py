"""End-to-end acknowledgement: the firmware keeps readings until the ingestor says they are stored.

Mosquitto acknowledges (PUBACK) a reading as soon as it is in memory and saves to disk only every
``autosave_interval`` seconds, so a broker crash loses what arrived since its last snapshot. These tests
give the broker a wide window (30 s, what DampWatch used to write), queue readings for an ingestor that
is away, SIGKILL the broker, and count what reaches the store: with the stored acknowledgement every
reading arrives exactly once; without it (the control) the crash loses readings, which shows the
scenario is real and the test able to fail.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from core.db import Database
from core.model import Property, Room
from core.mqtt import MosquittoBroker
from core.provisioning import provision_device
from core.settings import Settings
from core.store_sqlite import SQLiteReadingsStore
from firmware_stub import app
from firmware_stub.ringbuf import RingBuffer
from firmware_stub.sim_hw import SimBoard, SimClock, SimDevice, SimNetwork
from ingest.service import Ingestor

pytestmark = pytest.mark.broker
DEVICE = "dw-ack-0001"


def wait_for(condition, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


class RunningIngestor:
    """An ingestor in a thread that can be stopped and started again (its session stays on the broker)."""

    def __init__(self, settings: Settings, store, database, url: str) -> None:
        self.args = (settings, store, database, url)
        self.ingestor: Ingestor | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> Ingestor:
        settings, store, database, url = self.args
        self.ingestor = Ingestor(settings, store, database, broker_url=url)
        self.thread = threading.Thread(target=self.ingestor.run, daemon=True)
        self.thread.start()
        assert self.ingestor.wait_connected(15), "the ingestor did not connect"
        return self.ingestor

    def stop(self) -> None:
        if self.ingestor is not None:
            self.ingestor.stop()
            self.thread.join(30)
            assert not self.thread.is_alive()
            self.ingestor = None


@pytest.fixture
def path(tmp_path: Path):
    """A registered device, a Mosquitto with a 30 s snapshot interval, a store and an (inline) ingestor."""
    database = Database(f"sqlite:///{tmp_path}/app.db")
    with database.session() as session:
        prop = Property(uprn="100000000002", address="2 Test Street", postcode="LS6 1AB")
        prop.rooms = [Room(name="Bathroom", room_type="bathroom")]
        session.add(prop)
        session.flush()
        provision_device(session, DEVICE, uprn="100000000002", room="Bathroom", broker_host="127.0.0.1")
    broker = MosquittoBroker(tmp_path / "broker", autosave_interval_s=30).start()
    store = SQLiteReadingsStore(f"sqlite:///{tmp_path}/readings.db")
    settings = Settings(
        var_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/app.db", readings_url=store.url, metrics_port=0,
        ingest_flush_interval_s=0.05, ingest_workers=0, mqtt_client_id="ack-ingestor",
    )
    ingest = RunningIngestor(settings, store, database, broker.url)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    with SimNetwork(broker.host, broker.port) as network:
        yield {"broker": broker, "store": store, "ingest": ingest, "network": network, "start": start,
               "tmp": tmp_path}
    ingest.stop()
    broker.stop()
    store.close()
    database.dispose()


def stored_seqs(store) -> list[int]:
    return [r.seq for r in store.iter_readings(device_ids=[DEVICE])]


@pytest.mark.parametrize("stored_ack", [True, False], ids=["stored-ack", "puback-only-control"])
def test_broker_sigkill_with_a_backlog_loses_nothing_from_our_firmware(path, stored_ack: bool) -> None:
    """Firmware → Mosquitto SIGKILL with a backlog → restart: every reading stored exactly once (control: lost)."""
    store, ingest, broker = path["store"], path["ingest"], path["broker"]
    device = SimDevice(path["tmp"] / "flash", path["network"], clock=SimClock(path["start"]), device_id=DEVICE,
                       stored_ack=stored_ack, ack_wait_s=1)
    ingest.start()
    device.run(3)
    wait_for(lambda: len(stored_seqs(store)) == 3, what="the first readings")
    first = 3
    if stored_ack and device.buffered():
        first += device.run_until(lambda: device.buffered() == 0, max_wakes=3)  # the ack empties the flash
    ingest.stop()  # away: its persistent session keeps the backlog on the broker

    device.run(20)  # each PUBACKed by the broker, queued for the ingestor, not yet stored
    assert device.buffered() == (20 if stored_ack else 0)
    broker.stop(kill=True)
    broker.start()

    ingest.start()
    if stored_ack:
        extra = device.run_until(lambda: device.buffered() == 0, max_wakes=5)
    else:
        extra = 2
        device.run(extra)
    ingest_now = ingest.ingestor
    wait_for(lambda: ingest_now.metrics.pending._value.get() == 0 and len(stored_seqs(store)) >= 3, what="the drain")
    time.sleep(0.5)
    last_seq = first + 20 + extra
    seqs = stored_seqs(store)
    if stored_ack:
        assert seqs == list(range(1, last_seq + 1)), "every reading taken is stored, once, none missing"
        assert device.buffered() == 0
    else:
        missing = sorted(set(range(1, last_seq + 1)) - set(seqs))
        assert missing, "the control: without the stored acknowledgement the broker crash loses readings"
        assert set(missing) <= set(range(first + 1, first + 21)), "what was lost is what waited in the broker's memory"


def test_acknowledgement_above_any_seq_taken_is_ignored(tmp_path: Path, offline_network) -> None:
    """A stored ack for seq 5000 cannot remove readings 1..3 of a device whose flash was wiped."""
    board = SimBoard(SimClock(), offline_network)
    buf = RingBuffer(str(tmp_path / "data"), 10)
    from firmware_stub.payload import Reading

    for seq in (1, 2, 3):
        buf.append(Reading(seq, None, 2000, 5000, 2900))
    ack = app.StoredAck(board, buf)
    ack.heard(b"dampwatch/x/stored", b'{"seq": 5000}')
    assert len(buf) == 3
    ack.heard(b"dampwatch/x/stored", b"not json")
    ack.heard(b"dampwatch/x/stored", b'{"seq": "2"}')
    assert len(buf) == 3
    ack.heard(b"dampwatch/x/stored", b'{"seq": 2}')
    assert [r.seq for r in buf.peek(10)] == [3]
    ack.heard(b"dampwatch/x/stored", b'{"seq": 1}')  # an older acknowledgement changes nothing
    assert [r.seq for r in buf.peek(10)] == [3]
