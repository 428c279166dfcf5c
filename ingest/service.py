"""The ingestor process: subscribe, parse, batch, store, then acknowledge.

One thread does everything, so nothing waits on a lock or hands work across
the GIL: it runs paho's network loop, parses each message as it arrives (pure,
:func:`ingest.parse.parse`) and adds it to the batch; when the batch is full
or old enough it makes it durable (readings into the readings store, dead
letters and device health into the app database) and only then acknowledges
the batch's QoS 1 messages to the broker (paho's manual acknowledgement). An
ingestor killed at any point therefore loses nothing: the broker redelivers
whatever was not acknowledged, and the store keeps one reading per
``(device_id, ts)``. While a batch is written the socket is not read; the
broker and the kernel buffer the stream meanwhile.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import signal
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from core.db import Database
from core.errors import DampWatchError
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
        self._batch: list[_Message] = []
        self._batch_readings = 0
        self._batch_started = 0.0
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._fatal: str | None = None
        self._known_devices: frozenset[str] = frozenset()
        self._known_loaded_at = -1e9
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
        if not self._batch:
            self._batch_started = time.monotonic()
        self._batch.append(_Message(message.mid, message.qos, message.topic, payload, result, received_at))
        self._batch_readings += len(result.readings)
        if len(self._batch) >= self.settings.ingest_batch_size or self._batch_readings >= self.settings.ingest_batch_size:
            self._flush_batch(acknowledge=True)

    # -- the loop (the thread that calls run) -------------------------------------------

    def _connect_properties(self) -> tuple[bool | int, Properties | None]:
        if self.protocol != mqtt.MQTTv5:
            return mqtt.MQTT_CLEAN_START_FIRST_ONLY, None  # 3.1.1: clean_session=False applies
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        properties.ReceiveMaximum = self.receive_maximum
        return False, properties

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Block until connected and subscribed (or ``timeout_s`` passes)."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Ask :meth:`run` to flush what it holds, acknowledge it and return."""
        self._stop.set()

    def run(self, *, handle_signals: bool = False) -> None:
        """Ingest until stopped; flushes and acknowledges everything received before returning."""
        if handle_signals:
            self._install_signal_handlers()
        clean_start, properties = self._connect_properties()
        logger.info("connecting to %s as %r", self.address.url, self.settings.mqtt_client_id)
        self.client.connect_async(
            self.address.host, self.address.port, keepalive=30, clean_start=clean_start, properties=properties
        )
        delay = RECONNECT_MIN_DELAY_S
        rc = mqtt.MQTT_ERR_NO_CONN
        next_log = time.monotonic() + self.settings.log_interval_s
        try:
            while not self._stop.is_set():
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    if not self._try_connect(delay):
                        delay = min(delay * 2, RECONNECT_MAX_DELAY_S)
                        continue
                    delay = RECONNECT_MIN_DELAY_S
                rc = self.client.loop(timeout=self._loop_timeout())
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self._on_connection_lost(rc)
                if self._batch and time.monotonic() - self._batch_started >= self.settings.ingest_flush_interval_s:
                    self._flush_batch(acknowledge=True)
                if time.monotonic() >= next_log:
                    logger.info("ingest counters: %s", self.metrics.log_line())
                    next_log = time.monotonic() + self.settings.log_interval_s
            self._shutdown()
        finally:
            self.metrics.connected.set(0)
        if self._fatal:
            raise IngestError(self._fatal + "; check DAMPWATCH_MQTT_USERNAME and DAMPWATCH_MQTT_PASSWORD")

    def _loop_timeout(self) -> float:
        if not self._batch:
            return 0.1
        left = self._batch_started + self.settings.ingest_flush_interval_s - time.monotonic()
        return max(0.0, min(0.1, left))

    def _try_connect(self, delay: float) -> bool:
        """One connection attempt; on failure wait ``delay`` (with jitter) and report False."""
        try:
            self.client.reconnect()
            return True
        except OSError as exc:
            logger.warning("cannot reach the broker at %s (%s); retrying in %.0f s", self.address.url, exc, delay)
            self._stop.wait(delay * random.uniform(0.8, 1.2))
            return False

    def _on_connection_lost(self, rc: mqtt.MQTTErrorCode) -> None:
        self._connected.clear()
        self.metrics.connected.set(0)
        if self._batch:
            # The broker will redeliver these (same session); store them now, acknowledge the copies later.
            self._flush_batch(acknowledge=False)
        if not self._stop.is_set():
            logger.warning("lost the connection to %s (%s); reconnecting", self.address.url, mqtt.error_string(rc))

    def _shutdown(self) -> None:
        """Flush and acknowledge the last batch, then disconnect cleanly (the session stays on the broker)."""
        if self._batch:
            self._flush_batch(acknowledge=self._connected.is_set())
        if self._connected.is_set():
            self.client.disconnect()
            deadline = time.monotonic() + 5
            while self.client.loop(timeout=0.1) == mqtt.MQTT_ERR_SUCCESS and time.monotonic() < deadline:
                pass

    def _install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            logger.info("received %s: flushing and stopping", signal.Signals(signum).name)
            self._stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _flush_batch(self, *, acknowledge: bool) -> None:
        batch, self._batch, self._batch_readings = self._batch, [], 0
        attempt = 0
        while True:
            try:
                self.flush(batch, acknowledge=acknowledge)
                return
            except (DampWatchError, OSError, SQLAlchemyError) as exc:
                self.metrics.write_failures.inc()
                rows = sum(len(m.result.readings) for m in batch)
                logger.warning(
                    "writing a batch of %d messages (%d readings) failed (attempt %d), will retry: %s",
                    len(batch), rows, attempt + 1, exc,
                )
            if self._stop.is_set() and attempt >= 2:
                logger.error("stopping with %d unacknowledged messages; the broker will redeliver them", len(batch))
                self.metrics.pending.dec(len(batch))
                return
            self._stop.wait(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)])
            attempt += 1

    def flush(self, batch: list[_Message], *, acknowledge: bool = True) -> None:
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
        if acknowledge:
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
        """Dead letters and device health for one batch, in one transaction of bulk statements."""
        updates: dict[str, _HealthUpdate] = {}
        for reading in readings:
            change = updates.get(reading.device_id)
            if change is None:
                change = updates[reading.device_id] = _HealthUpdate(reading.ts, reading.battery_v, None, None)
            if reading.ts >= change.last_seen:
                change.last_seen = reading.ts
                if reading.battery_v is not None:
                    change.battery_v = reading.battery_v
            if reading.seq is not None:
                change.min_seq = reading.seq if change.min_seq is None else min(change.min_seq, reading.seq)
                change.max_seq = reading.seq if change.max_seq is None else max(change.max_seq, reading.seq)
            if reading.flags & FLAG_UNTIMED:
                change.untimed += 1
        known_statuses = [(s, at) for s, at in statuses if s.device_id in self._known_devices]
        if not (updates or dead or known_statuses):
            return
        received_at = batch[-1].received_at
        with self.database.engine.begin() as conn:
            if dead:
                conn.execute(
                    insert(DeadLetter),
                    [
                        {
                            "received_at": message.received_at,
                            "topic": message.topic[:300],
                            "device_id": rejection.device_id,
                            "reason": rejection.reason,
                            "detail": rejection.detail,
                            "payload_excerpt": excerpt(message.payload),
                            "payload_bytes": len(message.payload),
                        }
                        for message, rejection in dead
                    ],
                )
            ids = set(updates) | {s.device_id for s, _ in known_statuses}
            if ids:
                conn.execute(
                    _insert_ignore(conn.dialect.name, DeviceHealth),
                    [{"device_id": i, "readings": 0, "untimed": 0} for i in sorted(ids)],
                )
            if updates:
                conn.execute(
                    _HEALTH_UPDATE,
                    [
                        {
                            "id": device_id,
                            "seen": u.last_seen,
                            "battery": u.battery_v,
                            "received": received_at,
                            "stored": (stored_by_device or {}).get(device_id, 0),
                            "untimed_n": u.untimed,
                            "min_seq": u.min_seq,
                            "max_seq": u.max_seq,
                        }
                        for device_id, u in updates.items()
                    ],
                )
            for status, at in known_statuses:
                conn.execute(
                    update(DeviceHealth)
                    .where(DeviceHealth.device_id == status.device_id)
                    .values(status=status.status, status_at=at)
                )

    def _devices_known(self, device_ids: set[str]) -> frozenset[str]:
        """The registered, active devices among those seen (the full list is cached and refreshed)."""
        now = time.monotonic()
        if now - self._known_loaded_at > self.settings.ingest_known_devices_refresh_s:
            with self.database.session() as session:
                self._known_devices = frozenset(
                    session.scalars(select(Device.device_id).where(Device.active.is_(True)))
                )
            self._known_loaded_at = now
        missing = device_ids - self._known_devices
        if missing:  # registered since the last refresh? One small query per batch, never a stale refusal.
            with self.database.session() as session:
                found = set(
                    session.scalars(
                        select(Device.device_id).where(Device.device_id.in_(missing), Device.active.is_(True))
                    )
                )
            if found:
                self._known_devices = self._known_devices | found
        return self._known_devices


def _insert_ignore(dialect: str, model: type):
    """INSERT that skips rows whose primary key exists (SQLite and PostgreSQL spell it alike)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model).on_conflict_do_nothing()


def _health_update():
    """One UPDATE per device, run as executemany: newest reading wins, counters add, seq span widens."""
    h = DeviceHealth.__table__.c
    seen, battery = bindparam("seen", type_=h.last_seen.type), bindparam("battery", type_=h.battery_v.type)
    newer = (h.last_seen.is_(None)) | (seen >= h.last_seen)
    min_seq, max_seq = bindparam("min_seq", type_=h.first_seq.type), bindparam("max_seq", type_=h.last_seq.type)
    return (
        update(DeviceHealth.__table__)
        .where(h.device_id == bindparam("id"))
        .values(
            last_seen=case((newer, seen), else_=h.last_seen),
            battery_v=case((newer & battery.is_not(None), battery), else_=h.battery_v),
            last_received_at=bindparam("received", type_=h.last_received_at.type),
            readings=h.readings + bindparam("stored"),
            untimed=h.untimed + bindparam("untimed_n"),
            first_seq=case(
                (min_seq.is_(None), h.first_seq),
                (h.first_seq.is_(None) | (min_seq < h.first_seq), min_seq),
                else_=h.first_seq,
            ),
            last_seq=case(
                (max_seq.is_(None), h.last_seq),
                (h.last_seq.is_(None) | (max_seq > h.last_seq), max_seq),
                else_=h.last_seq,
            ),
        )
    )


_HEALTH_UPDATE = _health_update()


def _unknown_device(device_id: str, count: int) -> Rejection:
    return Rejection(
        Reason.UNKNOWN_DEVICE,
        f"{count} reading(s) from device {device_id!r}, which is not registered; add it with "
        "'dampwatch properties import' or 'dampwatch devices provision'",
        device_id,
    )
