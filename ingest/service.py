"""The ingestor process: subscribe, batch, make durable, then acknowledge.

The ingestor's thread runs paho's network loop and does as little as possible
per message: it keeps the raw message and its packet id. Full or old batches go
to the ingest worker (:mod:`ingest.worker`), a separate process that parses,
validates and stores them (readings into the readings store; dead letters and
device health into the app database) on the other core. Only when the worker
says a batch is durable does the ingestor acknowledge that batch's QoS 1
messages to the broker (paho's manual acknowledgement), in order. An ingestor
or worker killed at any point therefore loses nothing: the broker redelivers
whatever was not acknowledged, and the store keeps one reading per
``(device_id, ts)``.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import random
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from core.errors import DampWatchError
from core.mqtt import BrokerAddress, new_client
from core.settings import Settings
from ingest.batch import BatchResult, RawItem
from ingest.lifecycle import StallWatchdog
from ingest.metrics import IngestMetrics
from ingest.retained import RetainedFilter
from ingest.worker import InlineBackend, ProcessBackend

if TYPE_CHECKING:  # the ingestor's own process never loads the database layer unless it writes inline
    from core.db import Database
    from core.readings import ReadingsStore

logger = logging.getLogger(__name__)

RECONNECT_MIN_DELAY_S = 1
#: Most of a payload the ingestor holds: no path accepts more than 64 KiB, so a larger message (the broker passes
#: up to 4 MB, MQTT itself 256 MB) is kept only to one byte past that, enough to dead-letter it as payload_too_large.
HELD_PAYLOAD_BYTES = 64 * 1024 + 1
#: A batch is handed to the worker once its payloads reach this size, whatever its count (bounds memory
#: when messages are large: 2 000 messages of 64 KiB would otherwise be 128 MB in one batch).
MAX_BATCH_BYTES = 8 * 1024 * 1024
RECONNECT_MAX_DELAY_S = 30
#: How long a stopping ingestor waits for its last batches to be written.
SHUTDOWN_WAIT_S = 60.0


class IngestError(DampWatchError):
    """The ingestor cannot go on (for example the broker refused its credentials)."""


@dataclasses.dataclass(slots=True)
class _InFlight:
    batch_id: int
    generation: int  # the connection the messages came on: acks are valid only on that one
    acks: list[tuple[int, int]]  # (mid, qos)
    size: int


class Ingestor:
    """Subscribes to the device topics and stores what arrives.

    ``run()`` blocks until :meth:`stop` is called (or SIGTERM/SIGINT when
    ``handle_signals``), then writes and acknowledges what it holds and
    disconnects, keeping its session on the broker. ``store`` and ``database``
    are used in inline mode (``ingest_workers=0``); the worker process opens
    its own from the settings' URLs.
    """

    def __init__(
        self,
        settings: Settings,
        store: ReadingsStore | None = None,
        database: Database | None = None,
        *,
        broker_url: str | None = None,
        metrics: IngestMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.database = database
        self.address = BrokerAddress.from_url(broker_url or settings.broker_url)
        self.metrics = metrics or IngestMetrics()
        self._clock = clock
        self._batch: list[RawItem] = []
        self._acks: list[tuple[int, int]] = []
        self._batch_started = 0.0
        self._batch_bytes = 0
        self._batch_id = 0
        self._generation = 0
        self._in_flight: collections.deque[_InFlight] = collections.deque()
        self._backend: ProcessBackend | InlineBackend | None = None
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._fatal: str | None = None
        self.connected_at: float | None = None  # wall clock of the last CONNACK
        # The end-to-end acknowledgement: per device, the highest seq in the store, and those not yet published.
        self._stored_seq: dict[str, int] = {}
        # Retained messages sent again on (re)subscription are acknowledged, not stored (ingest/retained.py).
        self._retained = RetainedFilter(settings.spool_dir / "retained-digests.json")
        self._watchdog = StallWatchdog(settings.ingest_stall_after_s, self.metrics.stalled)
        self._ack_unsent: set[str] = set()
        self.protocol = mqtt.MQTTv5 if settings.mqtt_protocol == "5" else mqtt.MQTTv311
        self.receive_maximum = min(65535, max(1000, 5 * settings.ingest_batch_size))
        self.client = self._make_client()

    # -- MQTT callbacks (run inside client.loop, in the ingestor's thread) --------------------

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
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    @property
    def subscriptions(self) -> list[str]:
        """The device topics, the adapters' topics, each shared by the ingestors of a group if one is set."""
        prefix = self.settings.mqtt_topic_prefix
        topics = [f"{prefix}/+/up", f"{prefix}/+/status"]
        if self.settings.ingest_adapters.strip():
            from ingest.adapters import parse_routes

            topics += [topic for topic, _adapter in parse_routes(self.settings.ingest_adapters)]
        group = self.settings.mqtt_shared_group
        return [f"$share/{group}/{topic}" for topic in topics] if group else topics

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            logger.error("broker %s refused the connection: %s", self.address.url, reason_code)
            if reason_code.value in (0x86, 0x87, 0x04, 0x05):  # bad user name or password / not authorised
                self._fatal = f"the broker refused the ingestor's credentials ({reason_code})"
                self._stop.set()
            return
        self.connected_at = time.time()
        session = "resumed" if flags.session_present else "new"
        logger.info("connected to %s (%s session)", self.address.url, session)
        client.subscribe([(topic, 1) for topic in self.subscriptions])

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: object, _mid: int, reason_codes: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        refused = [f"{topic} ({code})" for topic, code in zip(self.subscriptions, reason_codes, strict=False)
                   if code.is_failure]
        if refused:
            logger.error("the broker refused the subscriptions %s; check the ingestor's ACL", ", ".join(refused))
        # Connected means subscribed: a message published from now on reaches this ingestor.
        self._connected.set()
        self.metrics.connected.set(1)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)  # paho says bytes | bytearray; a received PUBLISH's is bytes (not copied)
        if self._retained.is_replay(message.topic, payload, message.retain):
            self._ack_replayed(message)
            return
        if not self._batch:
            self._batch_started = time.monotonic()
        if len(payload) > HELD_PAYLOAD_BYTES:
            payload = payload[:HELD_PAYLOAD_BYTES]
        self._batch.append((message.topic, payload, self._clock()))  # a RawMessage, as a plain tuple
        self._acks.append((message.mid, message.qos))
        self._batch_bytes += len(payload)
        if len(self._batch) >= self.settings.ingest_batch_size or self._batch_bytes >= MAX_BATCH_BYTES:
            self._dispatch()

    def _ack_replayed(self, message: mqtt.MQTTMessage) -> None:
        """Acknowledge a retained replay in order: with the batch being filled, the last one in flight, or now."""
        self.metrics.retained_ignored.inc()
        if message.qos == 0:
            return
        if self._batch:
            self._acks.append((message.mid, message.qos))
        elif self._in_flight and self._in_flight[-1].generation == self._generation:
            self._in_flight[-1].acks.append((message.mid, message.qos))
        else:
            self.client.ack(message.mid, message.qos)

    # -- the loop ------------------------------------------------------------------------------

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Block until connected and subscribed (or ``timeout_s`` passes)."""
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        """Ask :meth:`run` to write what it holds, acknowledge it and return."""
        self._stop.set()

    def run(self, *, handle_signals: bool = False) -> None:
        """Ingest until stopped; writes and acknowledges everything received before returning."""
        if handle_signals:
            self._install_signal_handlers()
        self._backend = self._start_backend()
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
                        self._collect()
                        continue
                    delay = RECONNECT_MIN_DELAY_S
                rc = self.client.loop(timeout=self._loop_timeout())
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self._on_connection_lost(rc)
                if self._batch and time.monotonic() - self._batch_started >= self.settings.ingest_flush_interval_s:
                    self._dispatch()
                self._collect()  # also notices a worker that died with nothing to do
                self._watchdog.check(int(self.metrics.spool_depth._value.get()), self.settings.spool_dir)
                if self._ack_unsent and self._connected.is_set():
                    self._publish_stored_acks()
                self._retained.maybe_save()
                if time.monotonic() >= next_log:
                    logger.info("ingest counters: %s", self.metrics.log_line())
                    next_log = time.monotonic() + self.settings.log_interval_s
            self._shutdown()
        finally:
            self.metrics.connected.set(0)
            self._retained.save()
            self._backend.close()
        if self._fatal:
            raise IngestError(self._fatal)

    def _start_backend(self) -> ProcessBackend | InlineBackend:
        if self.settings.ingest_workers == 0:
            if self.store is None or self.database is None:
                raise IngestError("inline ingestion (DAMPWATCH_INGEST_WORKERS=0) needs a store and a database")
            from ingest.lifecycle import SpoolLock
            from ingest.spool import Spool
            from ingest.worker import configure_store
            from ingest.writer import BatchWriter

            configure_store(self.store, self.settings)
            lock = SpoolLock(self.settings.spool_dir)
            from ingest.replay import with_replay_window

            writer = with_replay_window(BatchWriter(self.settings, self.store, self.database), self.store, self.settings)
            return InlineBackend(writer, Spool(self.settings.spool_dir), lock)
        return ProcessBackend(self.settings.model_dump(mode="json"), on_restart=self.metrics.worker_restarts.inc)

    def _running_backend(self) -> ProcessBackend | InlineBackend:
        """The worker (or inline writer) :meth:`run` started; batches reach it only while it runs."""
        if self._backend is None:
            raise IngestError("the ingestor is not running: its worker starts in run()")
        return self._backend

    def _connect_properties(self) -> tuple[mqtt.CleanStartOption, Properties | None]:
        if self.protocol != mqtt.MQTTv5:
            return mqtt.MQTT_CLEAN_START_FIRST_ONLY, None  # 3.1.1: clean_session=False applies
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it unannotated
        properties.SessionExpiryInterval = self.settings.mqtt_session_expiry_s
        properties.ReceiveMaximum = self.receive_maximum
        return False, properties

    def _loop_timeout(self) -> float:
        if self._in_flight:
            return 0.005
        if not self._batch:
            return 0.1
        left = self._batch_started + self.settings.ingest_flush_interval_s - time.monotonic()
        return max(0.0, min(0.1, left))

    def _try_connect(self, delay: float) -> bool:
        """One connection attempt; on failure wait about ``delay`` (with jitter) and report False."""
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
            self._dispatch()  # written now; the broker redelivers the messages, and those copies are acknowledged
        self._generation += 1
        if not self._stop.is_set():
            logger.warning("lost the connection to %s (%s); reconnecting", self.address.url, mqtt.error_string(rc))

    def _dispatch(self) -> None:
        """Hand the current batch to the writer; remember its packet ids for the acknowledgement."""
        batch, acks = self._batch, self._acks
        self._batch, self._acks = [], []
        self._batch_bytes = 0
        self._batch_id += 1
        self._in_flight.append(_InFlight(self._batch_id, self._generation, acks, len(batch)))
        self._retained.dispatched(self._batch_id)
        self.metrics.pending.inc(len(batch))
        self.metrics.received.inc(len(batch))
        self._running_backend().submit(self._batch_id, batch)

    def _collect(self, timeout_s: float = 0.0) -> None:
        """Acknowledge every batch the writer has made durable, oldest first."""
        for kind, batch_id, detail in self._running_backend().results(timeout_s):
            if kind == "spool":  # the worker replayed spooled batches while idle
                self._count(_batch_result(kind, batch_id, detail))
                continue
            in_flight = self._in_flight.popleft()
            if in_flight.batch_id != batch_id:
                raise IngestError(f"the ingest worker answered batch {batch_id}, expected {in_flight.batch_id}")
            self.metrics.pending.dec(in_flight.size)
            if kind != "done":
                self._retained.dropped(batch_id)
                logger.error("batch %d of %d messages not written (%s); the broker will redeliver it",
                             batch_id, in_flight.size, detail)
                continue
            self._retained.durable(batch_id)
            if in_flight.generation == self._generation and self._connected.is_set():
                for mid, qos in in_flight.acks:
                    if qos > 0:
                        self.client.ack(mid, qos)
            self._count(_batch_result(kind, batch_id, detail))

    def _count(self, result: BatchResult) -> None:
        if self.settings.ingest_stored_ack:
            for device_id, seq in result.stored_seq.items():
                if seq > self._stored_seq.get(device_id, -1):
                    self._stored_seq[device_id] = seq
                    self._ack_unsent.add(device_id)
        if result.stored or result.duplicates:
            self._watchdog.progress()
        self.metrics.spool_depth.set(result.spool_depth)
        self.metrics.spooled.inc(result.spooled)
        self.metrics.ignored.inc(result.ignored)
        self.metrics.stored.inc(result.stored)
        self.metrics.duplicates.inc(result.duplicates)
        for reason, count in result.rejected.items():
            self.metrics.rejected.labels(reason).inc(count)
        self.metrics.batch_seconds.observe(result.seconds)

    def stored_ack_topic(self, device_id: str) -> str:
        """Where the ingestor tells a device which of its readings are in the store (retained)."""
        return f"{self.settings.mqtt_topic_prefix}/{device_id}/stored"

    def _publish_stored_acks(self) -> None:
        """Publish, retained at QoS 1, each device's highest seq now in the store (only ever rising here).

        A device running DampWatch's firmware keeps every reading on flash until this covers it,
        so a broker that crashes after its PUBACK but before its snapshot loses nothing of ours.
        """
        for device_id in sorted(self._ack_unsent):
            payload = b'{"seq": %d}' % self._stored_seq[device_id]
            info = self.client.publish(self.stored_ack_topic(device_id), payload, qos=1, retain=True)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                logger.debug("stored acknowledgement for %s not published yet (%s)", device_id,
                             mqtt.error_string(info.rc))
                return  # kept in _ack_unsent; tried again on the next turn of the loop
            self._ack_unsent.discard(device_id)

    def _shutdown(self) -> None:
        """Write and acknowledge the last batches, then disconnect cleanly (the session stays on the broker)."""
        if self._batch:
            self._dispatch()
        self._running_backend().stopping()
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        while self._in_flight and time.monotonic() < deadline:
            self._collect(timeout_s=0.1)
            if self._connected.is_set():
                self.client.loop(timeout=0.0)  # keep the connection served while waiting
        if self._in_flight:
            logger.error("stopping with %d batches unwritten; the broker will redeliver them", len(self._in_flight))
        if self._connected.is_set():
            if self._ack_unsent:
                self._publish_stored_acks()
            self.client.disconnect()
            deadline = time.monotonic() + 5
            while self.client.loop(timeout=0.1) == mqtt.MQTT_ERR_SUCCESS and time.monotonic() < deadline:
                pass

    def _install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            logger.info("received %s: writing what is held and stopping", signal.Signals(signum).name)
            self._stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def _batch_result(kind: str, batch_id: int, detail: object) -> BatchResult:
    """The :class:`BatchResult` a worker sends with ``done`` and ``spool`` (see :mod:`ingest.worker`)."""
    if not isinstance(detail, BatchResult):
        raise IngestError(f"the ingest worker answered {kind!r} for batch {batch_id} with a {type(detail).__name__}")
    return detail
