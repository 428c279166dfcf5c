"""The ingestor process: subscribe, parse, batch, store, then acknowledge.

Two threads. paho's network thread receives each message, parses it (pure,
:func:`ingest.parse.parse`) and queues it. The writer thread (the one that
calls :meth:`Ingestor.run`) collects a batch, flushed on size or age, and
makes it durable: readings into the readings store, dead letters and device
health into the app database. Only then does it acknowledge the batch's QoS 1
messages to the broker (paho's manual acknowledgement), so an ingestor killed
at any point loses nothing: the broker redelivers whatever was not
acknowledged, and the store keeps one reading per ``(device_id, ts)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import select

from core.db import Database
from core.errors import DampWatchError, StoreError
from core.model import DeadLetter, Device, DeviceHealth
from core.mqtt import BrokerAddress, new_client
from core.readings import FLAG_UNTIMED, Reading, ReadingsStore
from core.settings import Settings
from ingest.metrics import IngestMetrics
from ingest.parse import DeviceStatus, ParseResult, Reason, Rejection, excerpt, parse

logger = logging.getLogger(__name__)

#: How long the writer waits before retrying a batch the store refused.
RETRY_DELAYS_S = (0.5, 1, 2, 5, 10, 30)
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30
#: After an unknown device id, re-read the device list at most this often.
UNKNOWN_DEVICE_REFRESH_S = 2.0


class IngestError(DampWatchError):
    """The ingestor cannot go on (for example the broker refused its credentials)."""


@dataclasses.dataclass(slots=True)
class _Message:
    mid: int
    qos: int
    topic: str
    payload: bytes
    result: ParseResult
    received_at: dt.datetime


@dataclasses.dataclass
class _HealthUpdate:
    last_seen: dt.datetime
    battery_v: float | None
    min_seq: int | None
    max_seq: int | None
    untimed: int = 0


class Ingestor:
    """Subscribes to the device topics and stores what arrives.

    ``run()`` blocks until :meth:`stop` is called (or SIGTERM/SIGINT when
    ``handle_signals``), then flushes and acknowledges what it holds and
    disconnects, keeping its session on the broker.
    """

    def __init__(
        self,
        settings: Settings,
        store: ReadingsStore,
        database: Database,
        *,
        broker_url: str | None = None,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.database = database
        self.address = BrokerAddress.from_url(broker_url or settings.broker_url)
        self.metrics = metrics or IngestMetrics()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._queue: queue.Queue[_Message] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._fatal: str | None = None
        self._known_devices: frozenset[str] = frozenset()
        self._known_loaded_at = 0.0
        self._unknown_refresh_at = 0.0
        self.protocol = mqtt.MQTTv5 if settings.mqtt_protocol == "5" else mqtt.MQTTv311
        self.receive_maximum = min(65535, max(1000, 5 * settings.ingest_batch_size))
        self.client = self._make_client()

    # -- MQTT side (paho's network thread) ---------------------------------------------

    def _make_client(self) -> mqtt.Client:
        settings = self.settings
        client = new_client(
            settings.mqtt_client_id,
            protocol=self.protocol,
            manual_ack=True,
            username=settings.mqtt_username or self.address.username,
            password=settings.mqtt_password or self.address.password,
            tls_ca_file=str(settings.mqtt_tls_ca_file) if settings.mqtt_tls_ca_file else None,
            clean_session=False,
        )
        if self.address.tls and settings.mqtt_tls_ca_file is None:
            client.tls_set()  # verify against the system's certificate store
        client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    @property
    def subscriptions(self) -> list[str]:
        prefix = self.settings.mqtt_topic_prefix
        return [f"{prefix}/+/up", f"{prefix}/+/status"]

    def _on_connect(self, client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            logger.error("broker %s refused the connection: %s", self.address.url, reason_code)
            if reason_code.value in (0x86, 0x87, 0x04, 0x05):  # bad user name or password / not authorised
                self._fatal = f"the broker refused the ingestor's credentials ({reason_code})"
                self._stop.set()
            return
        session = "resumed" if flags.session_present else "new"
        logger.info("connected to %s (%s session)", self.address.url, session)
        client.subscribe([(topic, 1) for topic in self.subscriptions])
        self._connected.set()
        self.metrics.connected.set(1)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self._connected.clear()
        self.metrics.connected.set(0)
        if not self._stop.is_set():
            logger.warning("disconnected from %s (%s); reconnecting", self.address.url, reason_code)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        received_at = self._clock()
        payload = message.payload
        result = parse(
            message.topic,
            payload,
            received_at=received_at,
            prefix=self.settings.mqtt_topic_prefix,
            max_future_s=self.settings.ingest_max_future_s,
        )
        self.metrics.received.inc()
        self.metrics.pending.inc()
        self._queue.put(
            _Message(
                mid=message.mid,
                qos=message.qos,
                topic=message.topic,
                payload=payload,
                result=result,
                received_at=received_at,
            )
        )

    # -- the writer (the thread that calls run) ---------------------------------------

    def connect(self) -> None:
        """Connect (asynchronously: paho retries with capped backoff until the broker answers)."""
        properties = None
        clean_start: bool | int = mqtt.MQTT_CLEAN_START_FIRST_ONLY
        if self.protocol == mqtt.MQTTv5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
            properties.ReceiveMaximum = self.receive_maximum
            clean_start = False
        else:
            clean_start = mqtt.MQTT_CLEAN_START_FIRST_ONLY  # ignored for 3.1.1; clean_session=False applies
        logger.info("connecting to %s as %r", self.address.url, self.settings.mqtt_client_id)
        self.client.connect_async(
            self.address.host, self.address.port, keepalive=30, clean_start=clean_start, properties=properties
        )
        self.client.loop_start()

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Block until connected and subscribed (or ``timeout_s`` passes)."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Ask :meth:`run` to flush what it holds and return."""
        self._stop.set()

    def run(self, *, handle_signals: bool = False) -> None:
        """Ingest until stopped; flushes and acknowledges everything received before returning."""
        if handle_signals:
            self._install_signal_handlers()
        self.connect()
        try:
            self._write_loop()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            self.metrics.connected.set(0)
        if self._fatal:
            raise IngestError(self._fatal + "; check DAMPWATCH_MQTT_USERNAME and DAMPWATCH_MQTT_PASSWORD")

    def _install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            logger.info("received %s: flushing and stopping", signal.Signals(signum).name)
            self._stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _write_loop(self) -> None:
        settings = self.settings
        batch: list[_Message] = []
        readings_in_batch = 0
        batch_started = 0.0
        next_log = time.monotonic() + settings.log_interval_s
        while True:
            timeout = settings.ingest_flush_interval_s
            if batch:
                timeout = max(0.0, batch_started + settings.ingest_flush_interval_s - time.monotonic())
            try:
                message = self._queue.get(timeout=min(timeout, 0.1) if not batch else timeout)
            except queue.Empty:
                message = None
            if message is not None:
                if not batch:
                    batch_started = time.monotonic()
                batch.append(message)
                readings_in_batch += len(message.result.readings)
                # Drain whatever else is already waiting, up to the batch size.
                while readings_in_batch < settings.ingest_batch_size:
                    try:
                        message = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    batch.append(message)
                    readings_in_batch += len(message.result.readings)
            due = batch and (
                readings_in_batch >= settings.ingest_batch_size
                or len(batch) >= settings.ingest_batch_size
                or time.monotonic() - batch_started >= settings.ingest_flush_interval_s
                or self._stop.is_set()
            )
            if due:
                self._flush_with_retry(batch)
                batch, readings_in_batch = [], 0
            if time.monotonic() >= next_log:
                logger.info("ingest counters: %s", self.metrics.log_line())
                next_log = time.monotonic() + settings.log_interval_s
            if self._stop.is_set() and not batch and self._queue.empty():
                return

    def _flush_with_retry(self, batch: list[_Message]) -> None:
        attempt = 0
        while True:
            try:
                self.flush(batch)
                return
            except (StoreError, DampWatchError, OSError) as exc:
                self._count_failure(exc, batch, attempt)
            except Exception as exc:  # a database driver error: keep the batch, retry, never drop it
                self._count_failure(exc, batch, attempt)
            if self._stop.is_set() and attempt >= 2:
                logger.error(
                    "stopping with %d unacknowledged messages; the broker will redeliver them", len(batch)
                )
                return
            time.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)])
            attempt += 1

    def _count_failure(self, exc: BaseException, batch: list[_Message], attempt: int) -> None:
        self.metrics.write_failures.inc()
        rows = sum(len(m.result.readings) for m in batch)
        logger.warning(
            "writing a batch of %d messages (%d readings) failed (attempt %d), will retry: %s",
            len(batch), rows, attempt + 1, exc,
        )

    def flush(self, batch: list[_Message]) -> None:
        """Make one batch durable, then acknowledge its messages."""
        started = time.perf_counter()
        known = self._devices_known({r.device_id for m in batch for r in m.result.readings})
        readings: list[Reading] = []
        dead: list[tuple[_Message, Rejection]] = []
        statuses: list[tuple[DeviceStatus, dt.datetime]] = []
        for message in batch:
            result = message.result
            for rejection in result.rejections:
                dead.append((message, rejection))
            if result.status is not None:
                statuses.append((result.status, message.received_at))
            if not result.readings:
                continue
            device_id = result.readings[0].device_id  # one device per topic
            if device_id in known:
                readings.extend(result.readings)
            else:
                dead.append((message, _unknown_device(device_id, len(result.readings))))
        write = self.store.write(readings)
        self._record(readings, write.stored_by_device, dead, statuses, batch)
        for message in batch:
            if message.qos > 0:
                self.client.ack(message.mid, message.qos)
        self.metrics.pending.dec(len(batch))
        self.metrics.stored.inc(write.stored)
        self.metrics.duplicates.inc(write.duplicates)
        for _message, rejection in dead:
            self.metrics.rejected.labels(rejection.reason).inc()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _record(
        self,
        readings: list[Reading],
        stored_by_device: dict[str, int] | None,
        dead: list[tuple[_Message, Rejection]],
        statuses: list[tuple[DeviceStatus, dt.datetime]],
        batch: list[_Message],
    ) -> None:
        updates: dict[str, _HealthUpdate] = {}
        for reading in readings:
            update = updates.get(reading.device_id)
            if update is None:
                update = updates[reading.device_id] = _HealthUpdate(reading.ts, reading.battery_v, None, None)
            if reading.ts >= update.last_seen:
                update.last_seen = reading.ts
                if reading.battery_v is not None:
                    update.battery_v = reading.battery_v
            if reading.seq is not None:
                update.min_seq = reading.seq if update.min_seq is None else min(update.min_seq, reading.seq)
                update.max_seq = reading.seq if update.max_seq is None else max(update.max_seq, reading.seq)
            if reading.flags & FLAG_UNTIMED:
                update.untimed += 1
        if not (updates or dead or statuses):
            return
        received_at = batch[-1].received_at
        with self.database.session() as session:
            for message, rejection in dead:
                session.add(
                    DeadLetter(
                        received_at=message.received_at,
                        topic=message.topic[:300],
                        device_id=rejection.device_id,
                        reason=rejection.reason,
                        detail=rejection.detail,
                        payload_excerpt=excerpt(message.payload),
                        payload_bytes=len(message.payload),
                    )
                )
            if updates or statuses:
                ids = set(updates) | {s.device_id for s, _ in statuses if s.device_id in self._known_devices}
                health = {
                    h.device_id: h
                    for h in session.scalars(select(DeviceHealth).where(DeviceHealth.device_id.in_(ids)))
                }
                for device_id, update in updates.items():
                    row = health.get(device_id)
                    if row is None:
                        row = health[device_id] = DeviceHealth(device_id=device_id, seq_gaps=0, readings=0, untimed=0)
                        session.add(row)
                    new = (stored_by_device or {}).get(device_id, 0) if stored_by_device is not None else None
                    _apply_health(row, update, new, received_at)
                for status, at in statuses:
                    row = health.get(status.device_id)
                    if row is None and status.device_id in ids:
                        row = health[status.device_id] = DeviceHealth(
                            device_id=status.device_id, seq_gaps=0, readings=0, untimed=0
                        )
                        session.add(row)
                    if row is not None:
                        row.status, row.status_at = status.status, at

    def _devices_known(self, device_ids: set[str]) -> frozenset[str]:
        now = time.monotonic()
        stale = now - self._known_loaded_at > self.settings.ingest_known_devices_refresh_s
        missing = not device_ids <= self._known_devices
        if stale or (missing and now >= self._unknown_refresh_at):
            with self.database.session() as session:
                self._known_devices = frozenset(
                    session.scalars(select(Device.device_id).where(Device.active.is_(True)))
                )
            self._known_loaded_at = now
            if missing:
                self._unknown_refresh_at = now + UNKNOWN_DEVICE_REFRESH_S
        return self._known_devices


def _unknown_device(device_id: str, count: int) -> Rejection:
    return Rejection(
        Reason.UNKNOWN_DEVICE,
        f"{count} reading(s) from device {device_id!r}, which is not registered; add it with "
        "'dampwatch properties import' or 'dampwatch devices provision'",
        device_id,
    )


def _apply_health(row: DeviceHealth, update: _HealthUpdate, stored: int | None, received_at: dt.datetime) -> None:
    if row.last_seen is None or update.last_seen >= row.last_seen:
        row.last_seen = update.last_seen
        if update.battery_v is not None:
            row.battery_v = update.battery_v
    row.last_received_at = received_at
    row.readings = (row.readings or 0) + (stored if stored is not None else 0)
    row.untimed = (row.untimed or 0) + update.untimed
    if update.min_seq is not None:
        row.first_seq = update.min_seq if row.first_seq is None else min(row.first_seq, update.min_seq)
        row.last_seq = update.max_seq if row.last_seq is None else max(row.last_seq, update.max_seq)
        row.seq_gaps = max(0, (row.last_seq - row.first_seq + 1) - row.readings)
