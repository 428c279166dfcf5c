"""The app database's connection is terminated mid-batch: device health and the counters stay exact.

Real PostgreSQL: the batch's device-health transaction is made to wait on a table lock, its backend is
terminated with ``pg_terminate_backend`` (as a database restart or a failover does), and the batch is
written again. The readings are already in the store by then; they must be counted stored once, not
as duplicates, and device health must count every one.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from sqlalchemy import select, text

from core.model import Device, DeviceHealth
from ingest.batch import RawMessage
from ingest.isolation import failure_text
from ingest.writer import BatchWriter

pytestmark = pytest.mark.postgres
DEVICE = "dw-pg-0001"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_terminated_connection_leaves_health_and_duplicates_exact(database, store, settings) -> None:
    """Terminate the writer's PostgreSQL backend inside its health transaction: health counts 40, duplicates 0."""
    with database.session() as session:
        session.add(Device(device_id=DEVICE))
    writer = BatchWriter(settings, store, database)
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    batch = [
        RawMessage(f"dampwatch/{DEVICE}/up", json.dumps({
            "ts": (start + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "temperature_c": 20.0, "humidity_pct": 60.0, "seq": i + 1,
        }).encode(), start.timestamp() + 3600 + i)
        for i in range(40)
    ]
    writer.write(batch[:1])  # the connection pool is warm; the first reading is stored and counted
    rest = batch[1:]
    results: list = []
    failures: list[BaseException] = []

    def write_until_done() -> None:
        for _attempt in range(5):
            try:
                results.append(writer.write(rest))
                return
            except Exception as exc:  # a broken connection, as the worker sees it
                failures.append(exc)
                time.sleep(0.2)

    locker = database.engine.connect()
    locker.execute(text("LOCK TABLE device_health IN ACCESS EXCLUSIVE MODE"))
    thread = threading.Thread(target=write_until_done)
    thread.start()
    admin = database.engine.connect()
    try:
        deadline = time.monotonic() + 20
        waiting = []
        while not waiting and time.monotonic() < deadline:
            waiting = admin.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalars().all()
            admin.rollback()  # pg_stat_activity is a snapshot per transaction: look again in a new one
            time.sleep(0.05)
        assert waiting, f"the writer never waited on the lock: {results} {failures}"
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": waiting[0]})
        admin.commit()
    finally:
        locker.rollback()
        locker.close()
        admin.close()
    thread.join(30)
    assert failures, "the terminated connection must have failed one attempt"
    said = failure_text(failures[0])
    assert said.startswith("app database: OperationalError: ") and "terminat" in said
    assert "UPDATE" not in said and "device_health" not in said, "no SQL statement in the log"
    assert len(results) == 1
    assert (results[0].stored, results[0].duplicates) == (39, 0)
    assert store.count() == 40
    with database.session() as session:
        health = session.scalar(select(DeviceHealth).where(DeviceHealth.device_id == DEVICE))
        assert (health.readings, health.first_seq, health.last_seq) == (40, 1, 40)
