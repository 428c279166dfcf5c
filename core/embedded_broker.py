"""A broker for the demo when none is configured: Mosquitto if installed, else amqtt in-process.

Mosquitto is the real thing and ~10x faster; amqtt (pure Python, optional
extra ``dampwatch[embedded-broker]``) lets the demo run on a laptop without
it. amqtt speaks MQTT 3.1.1 only, so callers switch the ingestor's protocol
when the broker's ``protocol`` attribute says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.mqtt import MosquittoBroker, free_port, mosquitto_binary, wait_for_port

if TYPE_CHECKING:
    from amqtt.broker import Broker

logger = logging.getLogger(__name__)


class AmqttBroker:
    """amqtt running on its own event loop in a background thread, on a loopback port."""

    protocol = "3.1.1"

    def __init__(self, port: int | None = None) -> None:
        try:
            import amqtt.broker  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "no MQTT broker available: install Mosquitto ('apt-get install mosquitto') or the "
                "embedded one ('pip install dampwatch[embedded-broker]'), or set DAMPWATCH_MQTT_URL"
            ) from exc
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.url = f"mqtt://{self.host}:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="amqtt", daemon=True)
        self._broker: Broker | None = None

    def start(self) -> AmqttBroker:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._thread.start()
        broker = self._broker = Broker(config, loop=self._loop)
        asyncio.run_coroutine_threadsafe(broker.start(), self._loop).result(15)
        wait_for_port("127.0.0.1", self.port)
        logger.info("embedded amqtt broker on %s", self.url)
        return self

    def stop(self) -> None:
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop).result(15)
            self._broker = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@contextlib.contextmanager
def start_local_broker(workdir: Path, *, prefer: str = "mosquitto") -> Iterator[MosquittoBroker | AmqttBroker]:
    """Start a loopback broker for the demo or a test; stop it on exit."""
    if prefer == "mosquitto" and mosquitto_binary() is not None:
        broker: MosquittoBroker | AmqttBroker = MosquittoBroker(workdir)
    else:
        broker = AmqttBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
