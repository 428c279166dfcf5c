"""Publish a simulation's messages to an MQTT broker, fast and without losing any.

:func:`publish` uses paho-mqtt 2.x (``CallbackAPIVersion.VERSION2``, MQTT
3.1.1). It checks the return code of every ``publish()``, keeps the number of
messages not yet acknowledged at or below ``max_inflight`` (past 65 535 in
flight paho fails publishes with rc 15 and the message is gone), waits for every
PUBACK before returning, and rides out a broker that drops the connection: it
reconnects and paho re-sends every QoS 1 message not yet acknowledged, so a
message may arrive twice but is never lost.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime

import paho.mqtt.client as mqtt

from core.mqtt import BrokerAddress, new_client
from simulator.errors import PublishError

logger = logging.getLogger(__name__)

#: Most messages in flight paho can track (message ids are 16 bits); stay well below.
MAX_INFLIGHT_LIMIT = 60_000
CONNECT_TIMEOUT_S = 30.0
#: Give up when no acknowledgement arrives for this long while messages are in flight.
STALL_TIMEOUT_S = 120.0
PROGRESS_INTERVAL_S = 0.25


@dataclasses.dataclass(frozen=True)
class PublishStats:
    """What :func:`publish` did."""

    published: int  # messages handed to paho (each acknowledged before publish returned)
    bytes: int  # payload bytes
    reconnects: int  # connections re-established after the broker dropped us
    resent: int  # messages in flight at a disconnection, which paho sent again
    elapsed_s: float

    @property
    def rate_per_s(self) -> float:
        """Messages per second, publish to last acknowledgement."""
        return self.published / self.elapsed_s if self.elapsed_s > 0 else float("inf")


class _Tracker:
    """Counts messages sent and acknowledged, and connection events (paho calls back in our thread)."""

    def __init__(self) -> None:
        self.sent = 0
        self.acked = 0
        self.connected = False
        self.connect_error: str | None = None
        self.connects = 0
        self.resent = 0
        self.closing = False
        self.last_ack = time.monotonic()

    @property
    def in_flight(self) -> int:
        return self.sent - self.acked

    def on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.connect_error = f"{reason_code} (reason code {reason_code.value})"
            logger.error("the broker refused the connection: %s", self.connect_error)
            return
        self.connected = True
        self.connects += 1
        self.last_ack = time.monotonic()
        if self.connects > 1:
            logger.info(
                "reconnected to the broker; paho re-sends the %d unacknowledged messages", self.in_flight
            )

    def on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        if self.closing:
            logger.debug("disconnected from the broker (%s)", reason_code)
            return
        self.resent += self.in_flight
        logger.warning(
            "the broker dropped the connection (%s) with %d messages unacknowledged",
            reason_code,
            self.in_flight,
        )

    def on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.acked += 1
        self.last_ack = time.monotonic()


def _message_time(item: tuple) -> float | None:
    """Simulated publish time of a message [epoch s]: its third element, else the payload's latest ``ts``."""
    if len(item) >= 3:
        when = item[2]
        return when.timestamp() if isinstance(when, datetime) else float(when)
    try:
        document = json.loads(item[1])
        readings = document.get("readings", [document])
        return max(datetime.fromisoformat(r["ts"].replace("Z", "+00:00")).timestamp() for r in readings)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def publish(
    messages: Iterable[tuple],
    url: str = "mqtt://127.0.0.1:1883",
    *,
    qos: int = 1,
    client_id: str | None = None,
    max_inflight: int = 1000,
    speedup: float | None = None,
    progress: Callable[[int], None] | None = None,
    username: str | None = None,
    password: str | None = None,
) -> PublishStats:
    """Publish ``(topic, payload)`` messages to a broker and wait until every one is acknowledged.

    Parameters
    ----------
    messages : iterable of tuple
        ``(topic, payload)`` or ``(topic, payload, published_at)`` items, for
        example :meth:`Simulation.iter_messages` or
        :meth:`Simulation.iter_timed_messages`.
    url : str, default "mqtt://127.0.0.1:1883"
        Broker, ``mqtt://[user:password@]host[:port]`` or ``mqtts://`` for TLS.
    qos : int, default 1
        0 or 1. With QoS 1 a message is done when its PUBACK arrives; with
        QoS 0 when it is written to the socket.
    client_id : str, optional
        MQTT client id; a unique one by default.
    max_inflight : int, default 1000
        Most messages published but not yet acknowledged (1-60000).
    speedup : float, optional
        Pace publishing in accelerated simulated time (e.g. 3600: an hour of
        readings a second), from each item's ``published_at`` or its payload's
        ``ts``; None publishes as fast as possible.
    progress : callable, optional
        Called as ``progress(n_done)`` with the number acknowledged so far,
        about four times a second and once at the end.
    username, password : str, optional
        Credentials; override any in ``url``.

    Returns
    -------
    PublishStats

    Raises
    ------
    PublishError
        When the broker cannot be reached or refuses the connection, paho
        rejects a publish, the broker stays away for 120 s, or
        acknowledgements stop arriving for 120 s.

    Notes
    -----
    One thread does everything: it publishes, and every 64 messages (or
    whenever the in-flight bound is reached) runs paho's network loop to read
    acknowledgements. That is about three times faster than paho's background
    thread, which wakes per message and contends for the GIL. paho's own
    in-flight limit is switched off (its bookkeeping scans every message in
    flight on each PUBACK); the bound here replaces it.

    Under MQTT 3.1.1 a broker acknowledges even a publish its ACL denies (and
    drops it), so with an ACL in place make sure this client may write under
    every device's topic.
    """
    if qos not in (0, 1):
        raise ValueError(f"qos must be 0 or 1; got {qos}")
    if not 1 <= max_inflight <= MAX_INFLIGHT_LIMIT:
        raise ValueError(f"max_inflight must be between 1 and {MAX_INFLIGHT_LIMIT}; got {max_inflight}")
    if speedup is not None and speedup <= 0:
        raise ValueError(f"speedup must be greater than 0 (or None for as fast as possible); got {speedup}")
    address = BrokerAddress.from_url(url)
    client = new_client(
        client_id or f"dampwatch-sim-{os.getpid()}-{os.urandom(3).hex()}",
        username=username or address.username,
        password=password if password is not None else address.password,
    )
    if address.tls:
        client.tls_set()
    client.max_inflight_messages_set(0)  # unlimited in paho: our own bound below replaces it
    client.max_queued_messages_set(0)
    tracker = _Tracker()
    client.on_connect = tracker.on_connect
    client.on_disconnect = tracker.on_disconnect
    client.on_publish = tracker.on_publish
    try:
        client.connect(address.host, address.port, keepalive=60)
    except OSError as exc:
        raise PublishError(f"cannot reach the MQTT broker at {address.url}: {exc}") from exc
    link = _Link(client, tracker, address.url)
    try:
        link.wait_connected()
        return _publish_all(link, messages, qos, max_inflight, speedup, progress)
    finally:
        tracker.closing = True
        if tracker.connected:
            client.disconnect()
            client.loop(0.1)


class _Link:
    """Runs paho's network loop in the caller's thread, and reconnects when the broker drops us."""

    def __init__(self, client: mqtt.Client, tracker: _Tracker, url: str) -> None:
        self.client = client
        self.tracker = tracker
        self.url = url

    def wait_connected(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        """Run the loop until CONNACK; raise on refusal, loss or timeout."""
        deadline = time.monotonic() + timeout_s
        while not self.tracker.connected:
            rc = self.client.loop(0.1)
            if self.tracker.connect_error:
                raise PublishError(
                    f"the broker at {self.url} refused the connection: {self.tracker.connect_error}"
                )
            if rc != mqtt.MQTT_ERR_SUCCESS:
                raise PublishError(
                    f"lost the connection to {self.url} while connecting: {mqtt.error_string(rc)}"
                )
            if time.monotonic() > deadline:
                raise PublishError(f"no connection to the broker at {self.url} within {timeout_s:.0f} s")

    def service(self, timeout_s: float = 0.0) -> None:
        """Read acknowledgements and keep the connection alive; reconnect if it was lost."""
        rc = self.client.loop(timeout_s)
        if rc != mqtt.MQTT_ERR_SUCCESS or not self.tracker.connected:
            self.reconnect(rc)

    def reconnect(self, rc: int) -> None:
        """Reconnect with capped backoff; paho then re-sends every QoS 1 message not yet acknowledged."""
        logger.warning("connection to %s lost (%s); reconnecting", self.url, mqtt.error_string(rc))
        self.tracker.connected = False
        deadline = time.monotonic() + STALL_TIMEOUT_S
        delay_s = 0.25
        while True:
            try:
                self.client.reconnect()
                self.wait_connected(timeout_s=10.0)
                return
            except (OSError, PublishError) as exc:
                if time.monotonic() > deadline:
                    raise PublishError(
                        f"the broker at {self.url} did not come back within {STALL_TIMEOUT_S:.0f} s "
                        f"({self.tracker.in_flight} messages unacknowledged)"
                    ) from exc
                logger.info("reconnect to %s failed (%s); retrying in %.2f s", self.url, exc, delay_s)
            time.sleep(delay_s)
            delay_s = min(2 * delay_s, 5.0)

    def wait_until(self, most_in_flight: int) -> None:
        """Run the loop until at most ``most_in_flight`` messages are unacknowledged."""
        tracker = self.tracker
        while tracker.in_flight > most_in_flight:
            self.service(0.05)
            if time.monotonic() - tracker.last_ack > STALL_TIMEOUT_S:
                raise PublishError(
                    f"{tracker.in_flight} messages unacknowledged and no acknowledgement for {STALL_TIMEOUT_S:.0f} s"
                )

    def sleep_until(self, wall_time: float) -> None:
        """Wait until ``wall_time`` (monotonic), serving the connection meanwhile."""
        while (remaining := wall_time - time.monotonic()) > 0:
            self.service(min(remaining, 1.0))


#: paho return codes meaning the connection is down (not that the message is bad).
_CONNECTION_ERRORS = (mqtt.MQTT_ERR_NO_CONN, mqtt.MQTT_ERR_CONN_LOST)
#: Run paho's network loop after this many publishes.
SERVICE_EVERY = 64


def _publish_all(
    link: _Link,
    messages: Iterable[tuple],
    qos: int,
    max_inflight: int,
    speedup: float | None,
    progress: Callable[[int], None] | None,
) -> PublishStats:
    client, tracker = link.client, link.tracker
    started = time.monotonic()
    n_bytes = 0
    sim_origin: float | None = None
    sim_now: float | None = None
    last_progress = started
    for item in messages:
        topic, payload = item[0], item[1]
        if speedup is not None:
            when = _message_time(item)
            # Ignore times that run backwards or leap ahead a day (a device with a broken clock).
            if when is not None and (sim_now is None or sim_now <= when <= sim_now + 86400.0):
                sim_now = when
                if sim_origin is None:
                    sim_origin = when
                link.sleep_until(started + (when - sim_origin) / speedup)
        if tracker.in_flight >= max_inflight:
            link.wait_until(max_inflight - 1)
        while True:
            info = client.publish(topic, payload, qos=qos)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                break
            if info.rc in _CONNECTION_ERRORS:
                if qos > 0:
                    break  # paho keeps a QoS 1 message it could not send and re-sends it after reconnecting
                link.reconnect(info.rc)  # QoS 0: paho did not keep the message; send it again
                continue
            raise PublishError(
                f"publishing to {topic} failed: {mqtt.error_string(info.rc)} (rc {int(info.rc)}) "
                f"after {tracker.sent} messages"
            )
        tracker.sent += 1
        n_bytes += len(payload)
        if tracker.sent % SERVICE_EVERY == 0:
            link.service(0.0)
            if progress is not None and time.monotonic() - last_progress >= PROGRESS_INTERVAL_S:
                progress(tracker.acked)
                last_progress = time.monotonic()
    link.wait_until(0)
    elapsed = time.monotonic() - started
    if progress is not None:
        progress(tracker.acked)
    stats = PublishStats(
        published=tracker.sent,
        bytes=n_bytes,
        reconnects=max(0, tracker.connects - 1),
        resent=tracker.resent,
        elapsed_s=elapsed,
    )
    logger.info(
        "published %d messages (%.1f MB) in %.1f s, %.0f msg/s, %d reconnects",
        stats.published,
        n_bytes / 1e6,
        elapsed,
        stats.rate_per_s,
        stats.reconnects,
    )
    return stats
