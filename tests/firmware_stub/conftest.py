"""Fixtures for the reference firmware: a real Mosquitto, the simulated network and devices, a subscriber."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from core.mqtt import MosquittoBroker, free_port, new_client
from firmware_stub.sim_hw import SimBoard, SimClock, SimDevice, SimNetwork


class Subscriber:
    """A plain paho subscriber on ``dampwatch/#`` that keeps every message it receives, in order."""

    def __init__(
        self, host: str, port: int, topic: str = "dampwatch/#", client_id: str = "fw-test-subscriber"
    ):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._condition = threading.Condition()
        self._subscribed = threading.Event()
        self._topic = topic
        self.client = new_client(client_id)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise AssertionError("the test subscriber did not get its SUBACK")

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        client.subscribe(self._topic, qos=1)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any
    ) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._condition:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self._condition.notify_all()

    def wait_for(
        self, condition: Callable[[Subscriber], bool], timeout_s: float = 10.0, what: str = "messages"
    ) -> None:
        """Block until ``condition(self)`` holds; AssertionError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
                self._condition.wait(remaining)

    def payloads(self, suffix: str) -> list[dict[str, Any]]:
        """The JSON payloads received on topics ending in ``suffix`` (``/up`` or ``/status``), in order."""
        with self._condition:
            return [json.loads(payload) for topic, payload, _ in self.messages if topic.endswith(suffix)]

    def readings(self) -> list[dict[str, Any]]:
        """Every reading received, batches unpacked, in arrival order."""
        flat: list[dict[str, Any]] = []
        for payload in self.payloads("/up"):
            flat.extend(payload.get("readings", [payload]))
        return flat

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto on a free loopback port (always Mosquitto: last wills are part of the test)."""
    with MosquittoBroker(tmp_path / "broker") as broker:
        yield broker


@pytest.fixture
def network(mosquitto: MosquittoBroker) -> Iterator[SimNetwork]:
    """The simulated Wi-Fi and route between the device and the real broker."""
    with SimNetwork(mosquitto.host, mosquitto.port) as net:
        yield net


@pytest.fixture
def offline_network() -> Iterator[SimNetwork]:
    """A network that is cut from the start and leads to no broker (for tests that never go online)."""
    with SimNetwork("127.0.0.1", free_port()) as net:
        net.cut()
        yield net


@pytest.fixture
def subscriber(mosquitto: MosquittoBroker) -> Iterator[Subscriber]:
    """A paho subscriber on ``dampwatch/#``, subscribed before the test starts."""
    sub = Subscriber(mosquitto.host, mosquitto.port)
    try:
        yield sub
    finally:
        sub.close()


@pytest.fixture
def make_device(tmp_path: Path) -> Callable[..., SimDevice]:
    """Build a simulated device on a network: ``make_device(network, **settings)``.

    No ingestor answers in most of these tests, so devices keep the broker-PUBACK behaviour
    (``stored_ack`` false) unless a test asks for the end-to-end acknowledgement.
    """
    count = 0

    def make(network: SimNetwork, **settings: Any) -> SimDevice:
        nonlocal count
        count += 1
        settings.setdefault("stored_ack", False)
        return SimDevice(tmp_path / f"device-{count}", network, **settings)

    return make


@pytest.fixture
def board(offline_network: SimNetwork) -> SimBoard:
    """A simulated board with no network, for the RTC memory and the sensor."""
    return SimBoard(SimClock(), offline_network)
