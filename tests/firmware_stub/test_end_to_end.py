"""The reference device end to end: simulated hardware, a real Mosquitto, a plain paho subscriber."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import pytest

from core.mqtt import MosquittoBroker
from firmware_stub.payload import MAX_PAYLOAD_BYTES
from firmware_stub.sim_hw import PowerLoss, SimDevice, SimNetwork, WatchdogReset, indoor_climate

from .conftest import Subscriber

pytestmark = pytest.mark.broker

READING_KEYS = {"ts", "temperature_c", "humidity_pct", "battery_v", "seq"}
OFFLINE = {"status": "offline"}


def world_s(ts: str) -> float:
    return dt.datetime.fromisoformat(ts).timestamp()


def assert_matches_climate(reading: dict) -> None:
    """The reading's values are the simulated room's at its ts, to the 0.01 the payload keeps."""
    temperature_c, humidity_pct = indoor_climate(world_s(reading["ts"]))
    assert reading["temperature_c"] == pytest.approx(temperature_c, abs=0.015)
    assert reading["humidity_pct"] == pytest.approx(humidity_pct, abs=0.015)


def assert_in_order_without_gaps(readings: list[dict], count: int) -> None:
    """``count`` readings, each once, seq 1..count, ts strictly increasing where present."""
    assert [r["seq"] for r in readings] == list(range(1, count + 1))
    stamps = [world_s(r["ts"]) for r in readings if "ts" in r]
    assert stamps == sorted(set(stamps))


def test_device_publishes_readings(network: SimNetwork, subscriber: Subscriber, make_device) -> None:
    """Online, each wake publishes one native reading (QoS 1) with the room's values, and an online status."""
    device: SimDevice = make_device(network)
    device.run(6)
    subscriber.wait_for(lambda s: len(s.readings()) == 6, what="six readings")
    readings = subscriber.readings()
    assert all(set(r) == READING_KEYS for r in readings)
    assert_in_order_without_gaps(readings, 6)
    for reading in readings:
        assert_matches_climate(reading)
        assert reading["ts"].endswith("Z") and len(reading["ts"]) == 20
        assert 2.0 < reading["battery_v"] < 3.4
    # The first wake joined Wi-Fi and NTP before measuring; from then on wakes are exactly 600 s apart.
    gaps = {world_s(b["ts"]) - world_s(a["ts"]) for a, b in itertools.pairwise(readings[1:])}
    assert gaps == {600.0}
    status = subscriber.payloads("/status")[-1]
    assert status["status"] == "online"
    assert (status["dropped"], status["buffered"], status["clock_set"]) == (0, 0, True)
    assert device.buffered() == 0


def test_day_offline_is_uploaded_in_batches(network: SimNetwork, subscriber: Subscriber, make_device) -> None:
    """A day without network (144 readings) is buffered, then uploaded in batches: none lost, in ts order."""
    device = make_device(network, batch_max_readings=50)
    device.run(3)
    network.cut()
    device.run(144)
    assert device.buffered() == 144
    subscriber.wait_for(lambda s: len(s.readings()) == 3, what="the readings before the cut")
    network.restore()
    device.run_until(lambda: device.buffered() == 0, max_wakes=8)
    subscriber.wait_for(lambda s: s.readings() and s.readings()[-1]["seq"] >= 148, what="the backlog")
    readings = subscriber.readings()
    reconnect_wakes = len(readings) - 147
    assert_in_order_without_gaps(readings, 147 + reconnect_wakes)
    assert all("ts" in r for r in readings)
    for reading in readings:
        assert_matches_climate(reading)
    batches = [p for p in subscriber.payloads("/up") if "readings" in p]
    assert sum(len(b["readings"]) for b in batches) >= 144
    assert all(len(b["readings"]) <= 50 for b in batches)
    raw_sizes = [len(payload) for topic, payload, _ in subscriber.messages if topic.endswith("/up")]
    assert max(raw_sizes) <= MAX_PAYLOAD_BYTES


def test_batches_are_removed_only_after_their_puback(
    network: SimNetwork, subscriber: Subscriber, make_device
) -> None:
    """A cut in the middle of the upload keeps every unacknowledged batch on flash; nothing is lost or doubled."""
    device = make_device(network, batch_max_readings=20)
    network.cut()
    device.run(70)
    network.restore()
    batches_sent = []

    def cut_before_third_batch(topic: str, payload: bytes) -> None:
        if topic.endswith("/up"):
            batches_sent.append(payload)
            if len(batches_sent) == 3:
                network.cut()

    network.before_publish = cut_before_third_batch
    wakes = device.run_until(lambda: len(batches_sent) >= 3, max_wakes=8)
    assert device.buffered() == 70 + wakes - 40  # two batches acknowledged and removed, the rest kept
    network.before_publish = None
    network.restore()
    device.run_until(lambda: device.buffered() == 0, max_wakes=8)
    subscriber.wait_for(lambda s: len(s.readings()) >= 72, what="every reading")
    readings = subscriber.readings()
    assert_in_order_without_gaps(readings, len(readings))


@pytest.mark.parametrize("failure", ["network_cut", "power_loss", "watchdog_reset"])
def test_last_will_on_unclean_drop(
    network: SimNetwork, subscriber: Subscriber, mosquitto: MosquittoBroker, make_device, failure: str
) -> None:
    """When the connection drops mid-session, the broker publishes the retained offline will on the status topic."""
    device = make_device(network)
    device.run(2)
    subscriber.wait_for(lambda s: len(s.readings()) == 2, what="two readings")
    assert subscriber.payloads("/status")[-1]["status"] == "online"

    def fail(topic: str, payload: bytes) -> None:
        if topic.endswith("/up"):
            network.before_publish = None
            if failure == "network_cut":
                network.cut()
            elif failure == "power_loss":
                device.board.power_loss()
            else:
                device.board.watchdog_reset()

    network.before_publish = fail
    if failure == "network_cut":
        device.wake()
    else:
        with pytest.raises(PowerLoss if failure == "power_loss" else WatchdogReset):
            device.wake()
    subscriber.wait_for(lambda s: OFFLINE in s.payloads("/status"), what="the last will")
    late = Subscriber(
        mosquitto.host,
        mosquitto.port,
        topic=f"dampwatch/{device.settings['device_id']}/status",
        client_id="late-subscriber",
    )
    try:
        late.wait_for(lambda s: len(s.messages) == 1, what="the retained status")
        assert json.loads(late.messages[0][1]) == OFFLINE and late.messages[0][2]
    finally:
        late.close()

    network.restore()
    device.run_until(lambda: device.buffered() == 0 and device.board.rtc_memory() != b"", max_wakes=8)
    subscriber.wait_for(lambda s: s.payloads("/status")[-1]["status"] == "online", what="online again")
    seqs = [r["seq"] for r in subscriber.readings()]
    assert seqs == sorted(set(seqs))
    if failure == "network_cut":
        assert seqs[:3] == [1, 2, 3]  # the reading of the failed session was buffered and delivered
    else:
        assert 3 not in seqs  # that reading died with the device, and its seq is never reused


def test_clean_disconnect_leaves_the_device_online(
    network: SimNetwork, subscriber: Subscriber, mosquitto: MosquittoBroker, make_device
) -> None:
    """After normal wakes (DISCONNECT sent) the retained status is online, not the will."""
    device = make_device(network)
    device.run(3)
    subscriber.wait_for(lambda s: len(s.readings()) == 3, what="three readings")
    assert OFFLINE not in subscriber.payloads("/status")
    late = Subscriber(mosquitto.host, mosquitto.port, topic="dampwatch/+/status", client_id="late-subscriber")
    try:
        late.wait_for(lambda s: len(s.messages) == 1, what="the retained status")
        assert json.loads(late.messages[0][1])["status"] == "online"
    finally:
        late.close()


def test_broker_outage_is_buffered_and_caught_up(
    network: SimNetwork, subscriber: Subscriber, mosquitto: MosquittoBroker, make_device
) -> None:
    """With Wi-Fi up but the broker stopped, readings are buffered and delivered once it is back."""
    device = make_device(network)
    device.run(2)
    subscriber.wait_for(lambda s: len(s.readings()) == 2, what="two readings")
    subscriber.close()
    mosquitto.stop()
    device.run(10)
    assert device.buffered() == 10
    mosquitto.start()
    fresh = Subscriber(mosquitto.host, mosquitto.port, client_id="fw-test-subscriber-2")
    try:
        device.run_until(lambda: device.buffered() == 0, max_wakes=8)
        fresh.wait_for(lambda s: s.readings() and s.readings()[-1]["seq"] >= 13, what="the backlog")
        seqs = [r["seq"] for r in fresh.readings()]
        assert seqs == list(range(3, seqs[-1] + 1))
    finally:
        fresh.close()


def test_overflow_drops_oldest_and_reports_it(
    network: SimNetwork, subscriber: Subscriber, make_device
) -> None:
    """A buffer that overflows keeps the newest readings and the status reports how many were dropped."""
    device = make_device(network, buffer_capacity=20)
    network.cut()
    device.run(30)
    network.restore()
    wakes = device.run_until(lambda: device.buffered() == 0, max_wakes=8)
    taken = 30 + wakes
    subscriber.wait_for(
        lambda s: s.readings() and s.readings()[-1]["seq"] == taken, what="the newest reading"
    )
    received = [r["seq"] for r in subscriber.readings()]
    dropped = subscriber.payloads("/status")[0]["dropped"]
    assert len(received) + dropped == taken
    assert received == list(range(dropped + 1, taken + 1))


def test_untimed_readings_arrive_without_ts(network: SimNetwork, subscriber: Subscriber, make_device) -> None:
    """Readings taken before the clock was ever set arrive without ts; later ones carry it."""
    device = make_device(network)
    network.cut()
    device.run(4)
    network.restore()
    device.run_until(lambda: device.buffered() == 0, max_wakes=8)
    subscriber.wait_for(lambda s: len(s.readings()) >= 5, what="the backlog")
    readings = subscriber.readings()
    assert all("ts" not in r for r in readings[:4])
    assert all("ts" in r for r in readings[4:])
    assert_in_order_without_gaps(readings, len(readings))


def test_sensor_failure_publishes_no_reading(
    network: SimNetwork, subscriber: Subscriber, make_device
) -> None:
    """A wake whose measurement keeps failing its CRC publishes no reading, and the status counts the error."""
    device = make_device(network)
    device.run(1)
    device.sensor.corrupt_crc_frames = 3
    device.run(2)
    subscriber.wait_for(lambda s: len(s.readings()) == 2, what="two readings")
    assert [r["seq"] for r in subscriber.readings()] == [1, 2]
    status = subscriber.payloads("/status")[-1]
    assert (status["sensor_errors"], status["crc_errors"]) == (1, 3)
