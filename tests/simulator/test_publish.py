"""Publishing through a real Mosquitto: every message arrives, even when the broker restarts."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time

import pytest

from core.mqtt import BrokerAddress, MosquittoBroker, free_port, new_client
from simulator import PublishError, build_estate, publish, simulate

pytestmark = pytest.mark.broker


class Subscriber:
    """A plain paho subscriber on <prefix>/#, QoS 1, counting every (topic, payload) it receives."""

    def __init__(self, url: str, *, client_id: str = "sim-test-sub", persistent: bool = False) -> None:
        address = BrokerAddress.from_url(url)
        self.received: collections.Counter = collections.Counter()
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = new_client(client_id, clean_session=not persistent)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=1)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe("dampwatch/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the subscriber never subscribed"

    def _on_message(self, client, userdata, message) -> None:
        with self.lock:
            self.received[(message.topic, bytes(message.payload))] += 1

    def wait_for(self, count: int, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                total = sum(self.received.values())
            if total >= count:
                break
            time.sleep(0.05)
        time.sleep(0.2)  # let any redelivered duplicates land
        with self.lock:
            return sum(self.received.values())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def small_sim():
    """Three homes for a day, with every kind of fault."""
    return simulate(build_estate(8, 3), dt.datetime(2026, 1, 12, tzinfo=dt.UTC), days=1, spinup_days=2)


def test_a_plain_subscriber_receives_every_message(tmp_path, small_sim):
    """Published at QoS 1 to a real Mosquitto, every message of the stream reaches a subscriber."""
    sent = collections.Counter(small_sim.iter_messages())
    calls = []
    with MosquittoBroker(tmp_path) as broker:
        subscriber = Subscriber(broker.url)
        try:
            stats = publish(small_sim.iter_messages(), broker.url, progress=calls.append)
            subscriber.wait_for(sum(sent.values()))
        finally:
            subscriber.close()
    assert stats.published == small_sim.message_count == sum(sent.values())
    assert stats.reconnects == 0 and stats.bytes > 0 and stats.rate_per_s > 0
    missing = {m: n for m, n in sent.items() if subscriber.received[m] < n}
    assert not missing, f"{len(missing)} messages never arrived"
    assert calls and calls[-1] == stats.published


def test_nothing_is_lost_when_the_broker_restarts_mid_publish(tmp_path):
    """The broker restarts during publishing: the publisher reconnects and re-sends, the subscriber misses nothing."""
    sim = simulate(build_estate(9, 8), dt.datetime(2026, 1, 12, tzinfo=dt.UTC), days=1.5, spinup_days=1)
    sent = collections.Counter(sim.iter_messages())
    restarted = threading.Event()
    restarts: list[threading.Thread] = []
    with MosquittoBroker(tmp_path) as broker:
        subscriber = Subscriber(broker.url, client_id="sim-test-persistent", persistent=True)

        def restart_once(n_done: int) -> None:
            if n_done > 500 and not restarts:
                thread = threading.Thread(target=lambda: (broker.restart(), restarted.set()))
                restarts.append(thread)
                thread.start()

        try:
            stats = publish(
                sim.iter_messages(), broker.url, progress=restart_once, max_inflight=200, speedup=4e4
            )
            assert restarted.wait(30)
            subscriber.wait_for(sum(sent.values()))
        finally:
            for thread in restarts:
                thread.join(30)
            subscriber.close()
    assert restarts, "the publish finished before the restart could happen"
    assert stats.reconnects >= 1
    missing = {m: n for m, n in sent.items() if subscriber.received[m] < n}
    assert not missing, f"{len(missing)} messages lost across the restart"


def test_unreachable_broker_raises_publish_error():
    """Nothing listening on the port: a PublishError that names the broker."""
    url = f"mqtt://127.0.0.1:{free_port()}"
    with pytest.raises(PublishError, match=r"127\.0\.0\.1"):
        publish(iter([("dampwatch/x/up", b"{}")]), url)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"qos": 2}, "qos"),
        ({"max_inflight": 0}, "max_inflight"),
        ({"max_inflight": 70_000}, "max_inflight"),
        ({"speedup": 0}, "speedup"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    """QoS 2, an unbounded backlog or a zero speed-up are refused before connecting."""
    with pytest.raises(ValueError, match=match):
        publish(iter([]), "mqtt://127.0.0.1:1", **kwargs)


def test_qos0_and_a_small_inflight_bound_still_deliver_everything(tmp_path, small_sim):
    """A backlog bound of one message and QoS 0 on loopback still deliver the whole stream."""
    sent = collections.Counter(small_sim.iter_messages())
    with MosquittoBroker(tmp_path) as broker:
        subscriber = Subscriber(broker.url)
        try:
            stats = publish(small_sim.iter_messages(), broker.url, qos=0, max_inflight=1)
            received = subscriber.wait_for(sum(sent.values()))
        finally:
            subscriber.close()
    assert stats.published == sum(sent.values()) == received


def test_speedup_paces_publishing_in_simulated_time(tmp_path, small_sim):
    """At a speed-up of 86 400 a simulated day of readings takes about a second."""
    with MosquittoBroker(tmp_path) as broker:
        stats = publish(small_sim.iter_timed_messages(), broker.url, speedup=86_400)
    assert 0.8 < stats.elapsed_s < 5.0
