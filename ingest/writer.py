"""The batch writer: parse raw messages, store the readings, record dead letters and device health.

It holds no MQTT state: the ingestor hands it raw messages and acknowledges
them once :meth:`BatchWriter.write` has returned, which it does only when
the batch is durable. It runs inside the ingest worker process (or inline,
with ``DAMPWATCH_INGEST_WORKERS=0``).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy import Table, bindparam, case, cast, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert, Update

from core.db import Database
from core.model import Base, DeadLetter, Device, DeviceHealth
from core.readings import FLAG_UNTIMED, Reading, ReadingsStore, WriteResult
from core.settings import Settings
from ingest.batch import BatchResult, RawMessage
from ingest.deadletters import DeadLetterLog, DeadLetterRow, db_text, dead_letter_row, prune_dead_letters
from ingest.isolation import name_failed_part
from ingest.parse import DeviceStatus, ParseResult, Reason, Rejection, parse

if TYPE_CHECKING:
    from ingest.adapters.registry import AdapterRegistry

logger = logging.getLogger(__name__)

#: Most device ids named in one look-up query (SQLite allows 32 766 bound values, PostgreSQL 65 535).
DEVICE_LOOKUP_CHUNK = 500
#: How often the worker prunes dead letters past their retention.
PRUNE_INTERVAL_S = 3600.0
#: Devices whose last untimed reading is remembered (for keeping untimed readings apart) before starting afresh.
UNTIMED_DEVICES_MAX = 200_000

#: What tells a retried batch from another: its length and its first and last messages' topics and times.
_BatchKey = tuple[int, str, float, str, float] | tuple[()]


@dataclasses.dataclass
class _HealthUpdate:
    last_seen: dt.datetime
    battery_v: float | None
    min_seq: int | None
    max_seq: int | None
    untimed: int = 0


class BatchWriter:
    """Makes batches of raw messages durable in the readings store and the app database."""

    #: A batch whose readings reached the store but whose device health did not reach the app
    #: database (the connection broke): its key and what the store said. Written again, the store
    #: finds those readings already there; health and the counters must still count them once.
    _unrecorded: tuple[_BatchKey, WriteResult] | None = None

    def __init__(self, settings: Settings, store: ReadingsStore, database: Database) -> None:
        self.settings = settings
        self.store = store
        self.database = database
        self._native_prefix = settings.mqtt_topic_prefix + "/"
        self.adapters = adapter_registry(settings)
        self._known_devices: frozenset[str] = frozenset()
        self._known_loaded_at = -1e9
        # Per device, the time given to its last reading without a device time (see _order_untimed).
        self._untimed_last: dict[str, dt.datetime] = {}
        self._dead_log = DeadLetterLog()
        self._next_prune = time.monotonic() + 60.0  # not while starting up

    def _parse_safely(self, message: RawMessage) -> ParseResult:
        """:meth:`_parse`, but any exception becomes an ``internal_error`` rejection of this message alone."""
        try:
            return self._parse(message)
        except Exception as exc:  # per-message isolation: no message can stop the batch
            if self._dead_log.allow(("traceback", type(exc).__name__)):  # one traceback a minute per class
                logger.exception("reading a message on %r raised %s; it is dead-lettered as internal_error",
                                 message.topic[:120], type(exc).__name__)
            return ParseResult(rejections=[internal_error(exc)])

    def _parse(self, message: RawMessage) -> ParseResult:
        """The native parser for the device topics; the adapter chosen by topic for anything else."""
        if self.adapters is not None and not message.topic.startswith(self._native_prefix):
            result = self.adapters.parse(message.topic, message.payload, received_at=message.received)
            if result is not None:
                return result
        return parse(
            message.topic,
            message.payload,
            received_at=message.received,
            prefix=self.settings.mqtt_topic_prefix,
            max_future_s=self.settings.ingest_max_future_s,
        )

    def write(self, batch: list[RawMessage]) -> BatchResult:
        """Parse, validate and store one batch; returns only once it is durable (or raises)."""
        started = time.perf_counter()
        parsed = [(message, self._parse_safely(message)) for message in batch]
        known = self._devices_known({r.device_id for _m, result in parsed for r in result.readings})
        readings: list[Reading] = []
        dead: list[tuple[RawMessage, Rejection]] = []
        statuses: list[tuple[DeviceStatus, dt.datetime]] = []
        ignored = 0
        for message, result in parsed:
            ignored += bool(getattr(result, "ignored", None))
            for rejection in result.rejections:
                dead.append((message, rejection))
            if result.status is not None:
                statuses.append((result.status, message.received))
            unknown: collections.Counter[str] = collections.Counter()
            for reading in result.readings:
                if reading.device_id in known:
                    readings.append(reading)
                else:
                    unknown[reading.device_id] += 1
            for device_id, count in unknown.items():
                dead.append((message, _unknown_device(device_id, count)))
        undo = self._order_untimed(readings)
        try:
            write = self._with_unrecorded(batch, self.store.write(readings))
            try:
                self._record(readings, write.stored_by_device, dead, statuses, batch)
            except SQLAlchemyError as exc:
                name_failed_part(exc, "app database")  # logs name the part that failed (isolation.failure_text)
                raise
            self._unrecorded = None
        except BaseException:
            for device_id, before in undo.items():  # the batch will be written again: the same times again
                if before is None:
                    self._untimed_last.pop(device_id, None)
                else:
                    self._untimed_last[device_id] = before
            raise
        self._maybe_prune()
        return BatchResult(
            ignored=ignored,
            stored=write.stored,
            duplicates=write.duplicates,
            rejected=collections.Counter(rejection.reason for _m, rejection in dead),
            seconds=time.perf_counter() - started,
            stored_seq=self._stored_seq(parsed, known),
        )

    def _with_unrecorded(self, batch: list[RawMessage], write: WriteResult) -> WriteResult:
        """``write``, plus what an earlier attempt at this same batch stored before the app database failed.

        Without this, a batch retried after its device-health transaction failed would count every
        reading as a duplicate and device health would miss them all (measured: 265 of each after a
        PostgreSQL connection was terminated).
        """
        key: _BatchKey = (len(batch), batch[0].topic, batch[0].received_at, batch[-1].topic, batch[-1].received_at) if batch else ()
        previous = self._unrecorded
        if previous is not None and previous[0] == key:
            before = previous[1]
            by_device: dict[str, int] | None = None
            if before.stored_by_device is not None and write.stored_by_device is not None:
                by_device = dict(
                    collections.Counter(before.stored_by_device) + collections.Counter(write.stored_by_device)
                )
            stored = before.stored + write.stored
            write = WriteResult(stored=stored, duplicates=max(0, write.stored + write.duplicates - stored),
                                stored_by_device=by_device)
        self._unrecorded = (key, write)  # cleared once the app database has recorded it
        return write

    def _stored_seq(self, parsed: list[tuple[RawMessage, ParseResult]], known: frozenset[str]) -> dict[str, int]:
        """Per device on the native topics, the highest ``seq`` this batch put (or found) in the store."""
        highest: dict[str, int] = {}
        for message, result in parsed:
            if not message.topic.startswith(self._native_prefix):
                continue  # other systems' devices cannot hear an acknowledgement on our topics
            for reading in result.readings:
                if reading.seq is not None and reading.device_id in known:
                    highest[reading.device_id] = max(reading.seq, highest.get(reading.device_id, reading.seq))
        return highest

    def _order_untimed(self, readings: list[Reading]) -> dict[str, dt.datetime | None]:
        """Give readings without a device time distinct, rising seconds per device, in arrival order.

        Such a reading is stamped with its arrival time, kept to the second; two of
        a device's messages arriving in one second (or a queue delivered at once after
        an outage) would share a time and the store would keep one. Each gets at least
        one second more than the device's previous untimed reading, so none collapses
        and their order is the broker's. Returns what to restore if the write fails.
        """
        undo: dict[str, dt.datetime | None] = {}
        for index, reading in enumerate(readings):
            if not reading.flags & FLAG_UNTIMED:
                continue
            device_id = reading.device_id
            last = self._untimed_last.get(device_id)
            if device_id not in undo:
                undo[device_id] = last
            ts = reading.ts
            if last is not None and ts <= last:
                ts = last + dt.timedelta(seconds=1)
                readings[index] = dataclasses.replace(reading, ts=ts)
            if len(self._untimed_last) >= UNTIMED_DEVICES_MAX and device_id not in self._untimed_last:
                self._untimed_last.clear()
            self._untimed_last[device_id] = ts
        return undo

    def reachable(self) -> bool:
        """True if the app database and the readings store both answer a trivial query now (an outage probe)."""
        from sqlalchemy import text

        try:
            with self.database.engine.connect() as conn:
                for table in ("device", "device_health", "dead_letter"):
                    conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
            self.store.latest(["dampwatch-probe"])
        except Exception as exc:  # any failure means "not reachable"
            logger.debug("outage probe failed: %s", type(exc).__name__)
            return False
        return True

    def _maybe_prune(self) -> None:
        """Prune dead letters past their retention, at most every :data:`PRUNE_INTERVAL_S` (never fails a batch)."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_INTERVAL_S
        try:
            prune_dead_letters(self.database, self.settings.retention_dead_letters_days)
        except Exception as exc:
            logger.warning("could not prune old dead letters (%s: %s); will try again in an hour",
                           type(exc).__name__, str(exc)[:200])

    def _record(
        self,
        readings: list[Reading],
        stored_by_device: dict[str, int] | None,
        dead: list[tuple[RawMessage, Rejection]],
        statuses: list[tuple[DeviceStatus, dt.datetime]],
        batch: list[RawMessage],
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
        if stored_by_device is None:  # the backend cannot tell new from redelivered: count what arrived
            stored_by_device = collections.Counter(r.device_id for r in readings)
        known_statuses = [(s, at) for s, at in statuses if s.device_id in self._known_devices]
        if not (updates or dead or known_statuses):
            return
        received_at = batch[-1].received
        with self.database.engine.begin() as conn:
            if dead:
                conn.execute(insert(DeadLetter), self._dead_letter_rows(dead))
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
                            "stored": stored_by_device.get(device_id, 0),
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
                    .values(status=db_text(status.status, 20), status_at=at)
                )

    def _dead_letter_rows(self, dead: list[tuple[RawMessage, Rejection]]) -> list[DeadLetterRow]:
        """One row per message, however many of its items were rejected; each logged at a bounded rate."""
        by_message: dict[int, tuple[RawMessage, list[Rejection]]] = {}
        for message, rejection in dead:
            by_message.setdefault(id(message), (message, []))[1].append(rejection)
        rows: list[DeadLetterRow] = []
        for message, rejections in by_message.values():
            row = dead_letter_row(message, rejections)
            self._dead_log.record(message.topic, row["reason"], row["detail"], row["device_id"])
            rows.append(row)
        return rows

    def _devices_known(self, device_ids: set[str]) -> frozenset[str]:
        """The registered, active devices among those seen (the full list is cached and refreshed)."""
        now = time.monotonic()
        if now - self._known_loaded_at > self.settings.ingest_known_devices_refresh_s:
            with self.database.session() as session:
                self._known_devices = frozenset(
                    session.scalars(select(Device.device_id).where(Device.active.is_(True)))
                )
            self._known_loaded_at = now
        missing = sorted(device_ids - self._known_devices)
        found: set[str] = set()
        if missing:  # registered since the last refresh? Never a stale refusal; queries of bounded size.
            with self.database.session() as session:
                for start in range(0, len(missing), DEVICE_LOOKUP_CHUNK):
                    chunk = missing[start:start + DEVICE_LOOKUP_CHUNK]
                    found.update(
                        session.scalars(
                            select(Device.device_id).where(Device.device_id.in_(chunk), Device.active.is_(True))
                        )
                    )
            if found:
                self._known_devices = self._known_devices | found
        return self._known_devices


def adapter_registry(settings: Settings) -> AdapterRegistry | None:
    """The adapters the settings route topics to, or None when only native payloads are taken."""
    if not settings.ingest_adapters.strip():
        return None
    from ingest.adapters import registry_from_settings  # the device map with its codec column, Tasmota's zone

    return registry_from_settings(settings)


def _insert_ignore(dialect: str, model: type[Base]) -> Insert:
    """INSERT that skips rows whose primary key exists (SQLite and PostgreSQL spell it alike)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(model).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing()


def _health_update() -> Update:
    """One UPDATE per device, run as executemany: newest reading wins, counters add, seq span widens."""
    table = DeviceHealth.__table__
    if not isinstance(table, Table):  # a __tablename__ maps to a Table; SQLAlchemy types it as any FromClause
        raise TypeError(f"DeviceHealth is mapped to a {type(table).__name__}, not a table")
    h = table.c
    seen, battery = bindparam("seen", type_=h.last_seen.type), bindparam("battery", type_=h.battery_v.type)
    newer = (h.last_seen.is_(None)) | (seen >= h.last_seen)
    min_seq, max_seq = bindparam("min_seq", type_=h.first_seq.type), bindparam("max_seq", type_=h.last_seq.type)
    return (
        update(table)
        .where(h.device_id == bindparam("id"))
        .values(
            last_seen=case((newer, seen), else_=h.last_seen),
            # cast: PostgreSQL cannot type a bare NULL parameter in 'IS NOT NULL' (a batch without any battery)
            battery_v=case((newer & cast(battery, h.battery_v.type).is_not(None), battery), else_=h.battery_v),
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


def internal_error(exc: BaseException) -> Rejection:
    """The rejection for a message whose reading raised an unexpected exception (a bug, or input no rule foresaw)."""
    return Rejection(
        Reason.INTERNAL_ERROR,
        f"{type(exc).__name__} while reading this message: {str(exc)[:300]}; the message is kept here, "
        "please report it with this dead letter",
    )


def _unknown_device(device_id: str, count: int) -> Rejection:
    return Rejection(
        Reason.UNKNOWN_DEVICE,
        f"{count} reading(s) from device {device_id!r}, which is not registered; add it with "
        "'dampwatch properties import' or 'dampwatch devices provision'",
        device_id,
    )
