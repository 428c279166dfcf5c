"""The embedded readings store: one SQLite file in WAL mode.

One row per ``(device_id, ts)`` (the primary key, ``WITHOUT ROWID``), with
``ts`` in whole epoch seconds; writes are ``INSERT OR IGNORE`` in one
transaction per batch, so a redelivered reading is counted as a duplicate
and changes nothing. Readers (dashboard, scoring) and the one writer
(ingestor) can share the file: WAL lets readers run during writes.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from core.errors import ConfigError, StoreError
from core.private_files import private_file
from core.readings import HOURLY_COLUMNS, Reading, WriteResult, empty_hourly, utc

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

ReadingRow = tuple[str, int, float, float, float | None, int | None, int]
"""A ``reading`` row: device_id, ts, temperature_c, humidity_pct, battery_v, seq, flags."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS reading (
    device_id     TEXT    NOT NULL,
    ts            INTEGER NOT NULL,  -- whole seconds since the Unix epoch, UTC
    temperature_c REAL    NOT NULL,
    humidity_pct  REAL    NOT NULL,
    battery_v     REAL,
    seq           INTEGER,
    flags         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device_id, ts)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO store_meta (key, value) VALUES ('schema_version', '1');
"""

INSERT = (
    "INSERT OR IGNORE INTO reading (device_id, ts, temperature_c, humidity_pct, battery_v, seq, flags) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _path_from_url(url: str) -> str:
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ConfigError(f"SQLite readings URL {url!r} must look like sqlite:///var/readings.db")
    path = url[len(prefix):]
    if not path:
        raise ConfigError(f"SQLite readings URL {url!r} names no file")
    if path != ":memory:":
        private_file(path)  # mode 0600, like the app database
    return path


#: How long a connection waits for another process's write lock, unless told otherwise (readers, commands).
DEFAULT_LOCK_WAIT_S = 30.0


class SQLiteReadingsStore:
    """The SQLite backend of :class:`core.readings.ReadingsStore`.

    A write waits at most ``lock_wait_s`` for another process's lock on the file, then raises
    :class:`StoreError`; the ingestor sets it short (``DAMPWATCH_READINGS_LOCK_WAIT_S``) so that a
    batch goes to the spool in seconds instead of stalling every batch for the default 30 s.
    """

    def __init__(self, url: str, *, lock_wait_s: float = DEFAULT_LOCK_WAIT_S) -> None:
        self.url = url
        self.lock_wait_s = lock_wait_s
        self.path = _path_from_url(url)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._connection()
        try:
            # Only a new file needs the schema: writing it takes the write lock, which another process
            # (a long reader, another writer) may hold, and opening the store must not wait for that.
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'store_meta'").fetchone() is None:
                with conn:
                    conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the readings store (SQLite file {self.path}): {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections must not cross threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self.lock_wait_s, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the readings store {self.path!r}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def set_lock_wait(self, seconds: float) -> None:
        """Wait at most ``seconds`` for another process's lock from now on (every open connection too)."""
        self.lock_wait_s = seconds
        with self._lock:
            for conn in self._connections:
                conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def write(self, readings: Sequence[Reading]) -> WriteResult:
        if not readings:
            return WriteResult(0, 0)
        by_device: dict[str, list[ReadingRow]] = {}
        for r in readings:
            by_device.setdefault(r.device_id, []).append(
                (r.device_id, r.epoch_s, r.temperature_c, r.humidity_pct, r.battery_v, r.seq, r.flags)
            )
        stored_by_device: dict[str, int] = {}
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for device_id, rows in by_device.items():
                stored_by_device[device_id] = conn.executemany(INSERT, rows).rowcount
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            held = f" (another process held its lock for more than {self.lock_wait_s:g} s)" if "locked" in str(exc) else ""
            raise StoreError(
                f"the readings store (SQLite file {self.path}) did not take {len(readings)} readings: {exc}{held}"
            ) from exc
        stored = sum(stored_by_device.values())
        return WriteResult(stored=stored, duplicates=len(readings) - stored, stored_by_device=stored_by_device)

    def hourly(
        self,
        start: dt.datetime,
        end: dt.datetime,
        device_ids: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        where, params = self._where(start, end, device_ids)
        sql = (
            "SELECT device_id, (ts / 3600) * 3600 AS hour, AVG(temperature_c), AVG(humidity_pct), "
            f"MAX(humidity_pct), COUNT(*) FROM reading {where} GROUP BY device_id, ts / 3600 "
            "ORDER BY device_id, hour"
        )
        rows = self._connection().execute(sql, params).fetchall()
        if not rows:
            return empty_hourly()
        import pandas as pd

        frame = pd.DataFrame.from_records(rows, columns=list(HOURLY_COLUMNS))
        frame["hour"] = pd.to_datetime(frame["hour"], unit="s", utc=True)
        frame["count"] = frame["count"].astype("int64")
        return frame

    def latest(self, device_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        ids = None if device_ids is None else list(device_ids)
        conn = self._connection()
        if ids is None:
            ids = [row[0] for row in conn.execute("SELECT DISTINCT device_id FROM reading")]
        result: dict[str, Reading] = {}
        for device_id in ids:
            row = conn.execute(
                "SELECT device_id, ts, temperature_c, humidity_pct, battery_v, seq, flags FROM reading "
                "WHERE device_id = ? ORDER BY ts DESC LIMIT 1",
                (device_id,),
            ).fetchone()
            if row is not None:
                result[device_id] = _reading(row)
        return result

    def iter_readings(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        device_ids: Iterable[str] | None = None,
    ) -> Iterator[Reading]:
        where, params = self._where(start, end, device_ids)
        cursor = self._connection().execute(
            "SELECT device_id, ts, temperature_c, humidity_pct, battery_v, seq, flags FROM reading "
            f"{where} ORDER BY device_id, ts",
            params,
        )
        while batch := cursor.fetchmany(5000):
            for row in batch:
                yield _reading(row)

    def count(self) -> int:
        return int(self._connection().execute("SELECT COUNT(*) FROM reading").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    @staticmethod
    def _where(
        start: dt.datetime | None, end: dt.datetime | None, device_ids: Iterable[str] | None
    ) -> tuple[str, list[int | str]]:
        clauses: list[str] = []
        params: list[int | str] = []
        if start is not None:
            clauses.append("ts >= ?")
            params.append(int(utc(start).timestamp()))
        if end is not None:
            clauses.append("ts < ?")
            params.append(int(utc(end).timestamp()))
        if device_ids is not None:
            ids = list(device_ids)
            if not ids:
                clauses.append("0")
            else:
                clauses.append(f"device_id IN ({', '.join('?' * len(ids))})")
                params.extend(ids)
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _reading(row: ReadingRow) -> Reading:
    device_id, ts, temperature_c, humidity_pct, battery_v, seq, flags = row
    return Reading(
        device_id=device_id,
        ts=dt.datetime.fromtimestamp(ts, dt.UTC),
        temperature_c=temperature_c,
        humidity_pct=humidity_pct,
        battery_v=battery_v,
        seq=seq,
        flags=flags,
    )
