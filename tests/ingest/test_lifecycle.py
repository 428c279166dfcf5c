"""The ingest processes' lifecycle: one worker per spool, workers die with their parent, a dead worker is
replaced, the ingestor stops with a clear message only when it cannot, a stall is reported, a locked
SQLite store spools in seconds. Real processes, a real Mosquitto, real SQLite files."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Gauge

from core.db import Database
from core.errors import StoreError
from core.model import Property, Room
from core.mqtt import new_client
from core.provisioning import provision_device
from core.readings import Reading
from core.store_sqlite import SQLiteReadingsStore
from ingest.lifecycle import SpoolBusyError, SpoolLock, StallWatchdog
from ingest.service import Ingestor
from ingest.worker import WorkerDiedError

REPO = Path(__file__).resolve().parents[2]
DEVICE = "dw-life-0001"


def wait_for(condition, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


def register_device(database_url: str) -> None:
    database = Database(database_url)
    with database.session() as session:
        prop = Property(uprn="100000000003", address="3 Test Street", postcode="LS6 1AB")
        prop.rooms = [Room(name="Bathroom", room_type="bathroom")]
        session.add(prop)
        session.flush()
        provision_device(session, DEVICE, uprn="100000000003", room="Bathroom", broker_host="127.0.0.1")
    database.dispose()


def publish_readings(url: str, first: int, count: int) -> None:
    """``count`` native readings of DEVICE, seq ``first``.., at QoS 1, each acknowledged by the broker."""
    host, port = url.removeprefix("mqtt://").split(":")
    client = new_client(f"pub-{first}-{os.getpid()}")
    client.connect(host, int(port))
    client.loop_start()
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    infos = []
    for seq in range(first, first + count):
        ts = (start + dt.timedelta(minutes=seq)).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = json.dumps({"ts": ts, "temperature_c": 19.5, "humidity_pct": 60.0, "seq": seq})
        infos.append(client.publish(f"dampwatch/{DEVICE}/up", payload, qos=1))
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


# -- the spool lock ------------------------------------------------------------------------------


def test_second_worker_on_one_spool_is_refused_naming_the_holder_and_lock_dies_with_it(tmp_path: Path) -> None:
    """A process holding the spool's lock keeps a second one out (message names its pid); SIGKILL frees it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(REPO)!r})
            from ingest.lifecycle import SpoolLock
            lock = SpoolLock({str(tmp_path)!r})
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SpoolBusyError, match=f"in use by another ingest worker \\(pid {holder.pid}\\)"):
            SpoolLock(tmp_path, wait_s=0.5)
        holder.kill()
        holder.wait(10)
        with SpoolLock(tmp_path, wait_s=5) as lock:
            assert lock.held and lock.holder() == os.getpid()
    finally:
        holder.kill()
        holder.wait(10)


# -- the worker's lifecycle ----------------------------------------------------------------------


def test_worker_dies_with_its_ingestor_even_while_blocked(tmp_path: Path) -> None:
    """SIGKILL the ingestor's process while its worker waits on a locked store: the worker is gone in seconds.

    The worker cannot see its pipe close while it waits inside SQLite, so only the parent-death signal
    can end it; before, such a worker outlived its ingestor and fought the next one over the spool.
    """
    register_device(f"sqlite:///{tmp_path}/app.db")
    SQLiteReadingsStore(f"sqlite:///{tmp_path}/readings.db").close()
    other = sqlite3.connect(tmp_path / "readings.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(REPO)!r})
        from core.settings import Settings
        from ingest.worker import ProcessBackend

        if __name__ == "__main__":
            settings = Settings(var_dir={str(tmp_path)!r}, metrics_port=0, readings_lock_wait_s=300)
            backend = ProcessBackend(settings.model_dump(mode="json"))
            payload = json.dumps({{"ts": "2026-01-01T00:00:00Z", "temperature_c": 20, "humidity_pct": 60}}).encode()
            backend.submit(1, [("dampwatch/{DEVICE}/up", payload, time.time())])
            print(backend.pid, flush=True)
            time.sleep(120)
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMPWATCH_")}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        worker_pid = int(parent.stdout.readline())
        time.sleep(1.0)  # the worker is now waiting for the lock
        assert pid_alive(worker_pid)
        parent.kill()
        parent.wait(10)
        wait_for(lambda: not pid_alive(worker_pid), timeout_s=10, what="the orphaned worker to die")
        with SpoolLock(tmp_path / "spool", wait_s=5) as lock:  # and the spool is free for the next one
            assert lock.held
    finally:
        parent.kill()
        parent.wait(10)
        other.execute("ROLLBACK")
        other.close()


@pytest.fixture
def worker_ingestor(broker, settings, tmp_path: Path):
    """An ingestor with a worker process, running in a thread; yields (ingestor, thread, errors)."""
    register_device(settings.database_url)
    ingestor = Ingestor(settings, broker_url=broker.url)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            ingestor.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ingestor.wait_connected(20)
    wait_for(lambda: ingestor._backend is not None and getattr(ingestor._backend, "pid", None), what="the worker")
    yield ingestor, thread, errors
    ingestor.stop()
    thread.join(60)


def test_dead_worker_is_replaced_and_loses_nothing(worker_ingestor, broker, settings, caplog) -> None:
    """SIGKILL the worker mid-stream and again while idle: a new one takes over, logged; every reading stored once."""
    ingestor, thread, errors = worker_ingestor
    caplog.set_level(logging.INFO, logger="ingest.worker")
    publish_readings(broker.url, 1, 300)
    os.kill(ingestor._backend.pid, signal.SIGKILL)
    publish_readings(broker.url, 301, 300)
    store = SQLiteReadingsStore(settings.readings_url)
    try:
        wait_for(lambda: store.count() == 600, what="600 readings after the first kill")
        old = ingestor._backend.pid
        os.kill(old, signal.SIGKILL)  # no traffic now: the ingestor must notice by itself
        wait_for(lambda: ingestor._backend.pid != old and ingestor.metrics.worker_restarts._value.get() == 2,
                 what="the idle worker's replacement")
        publish_readings(broker.url, 601, 100)
        wait_for(lambda: store.count() == 700, what="readings after the second kill")
        assert sorted(r.seq for r in store.iter_readings()) == list(range(1, 701))
    finally:
        store.close()
    assert thread.is_alive() and not errors
    died = [r.getMessage() for r in caplog.records if "the ingest worker died" in r.getMessage()]
    assert len(died) == 2 and "killed by SIGKILL" in died[0]


def test_ingestor_stops_with_a_clear_error_when_no_worker_can_start(worker_ingestor, settings) -> None:
    """The worker dies and the store cannot be opened any more: the ingestor stops with WorkerDiedError saying so."""
    ingestor, thread, errors = worker_ingestor
    readings_path = Path(settings.readings_url.removeprefix("sqlite:///"))
    readings_path.unlink()
    readings_path.mkdir()  # SQLite cannot open a folder: no new worker can start
    os.kill(ingestor._backend.pid, signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], WorkerDiedError)
    message = str(errors[0])
    assert "could not start" in message and "killed by SIGKILL" in message and "readings" in message


# -- the stall watchdog and the SQLite lock wait -------------------------------------------------


def test_stall_watchdog_logs_and_sets_its_gauge_only_past_the_setting(caplog) -> None:
    """Spooling with no reading stored for longer than the setting: one error line and the gauge at 1; cleared on progress."""
    now = [1000.0]
    gauge = Gauge("stalled", "test", registry=CollectorRegistry())
    watchdog = StallWatchdog(120.0, gauge, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="ingest.lifecycle")
    assert not watchdog.check(500)
    now[0] += 119
    assert not watchdog.check(500) and gauge._value.get() == 0
    now[0] += 2
    assert watchdog.check(500, "/var/spool") and gauge._value.get() == 1
    now[0] += 10
    assert watchdog.check(800)  # still stalled, logged once per period
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "121 s" in errors[0] and "500 messages" in errors[0]
    watchdog.progress()
    assert gauge._value.get() == 0 and not watchdog.check(800)
    assert not watchdog.check(0)


def test_locked_sqlite_store_fails_within_the_lock_wait_not_thirty_seconds(tmp_path: Path) -> None:
    """Another process holds the write lock: a write with a 0.5 s lock wait fails in about that, naming the store."""
    store = SQLiteReadingsStore(f"sqlite:///{tmp_path}/readings.db")
    store.set_lock_wait(0.5)
    other = sqlite3.connect(tmp_path / "readings.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    reading = Reading(DEVICE, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), 20.0, 60.0)
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match=r"readings store .*lock for more than 0\.5 s"):
            store.write([reading])
        assert time.monotonic() - started < 5
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.write([reading]).stored == 1
    store.close()


def test_sigterm_to_the_whole_process_group_stops_cleanly(broker, settings, tmp_path: Path) -> None:
    """systemd and Ctrl-C signal the whole group: the worker ignores it, finishes, and the ingestor exits 0."""
    register_device(settings.database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMPWATCH_")}
    env.update({"DAMPWATCH_VAR_DIR": str(tmp_path), "DAMPWATCH_DATABASE_URL": settings.database_url,
                "DAMPWATCH_READINGS_URL": settings.readings_url, "DAMPWATCH_MQTT_URL": broker.url,
                "DAMPWATCH_METRICS_PORT": "0", "PYTHONPATH": str(REPO)})
    log = tmp_path / "ingest.log"
    with open(log, "wb") as out:
        ingest = subprocess.Popen([sys.executable, "-c", "from dampwatch.cli import main; main()", "ingest"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "connected to" in log.read_text(errors="replace"), what="the ingestor to connect")
        publish_readings(broker.url, 1, 200)
        store = SQLiteReadingsStore(settings.readings_url)
        wait_for(lambda: store.count() == 200, what="200 readings")
        store.close()
        os.killpg(ingest.pid, signal.SIGTERM)
        assert ingest.wait(60) == 0, log.read_text()[-2000:]
    finally:
        if ingest.poll() is None:
            os.killpg(ingest.pid, signal.SIGKILL)
            ingest.wait(10)
    text = log.read_text(errors="replace")
    assert "worker died" not in text and "worker stopped" not in text and "Traceback" not in text


def test_a_batch_that_every_worker_dies_on_stops_the_ingestor(broker, settings, tmp_path: Path) -> None:
    """Workers killed again and again before answering the same batch: after 3 replacements the ingestor stops."""
    register_device(settings.database_url)
    SQLiteReadingsStore(settings.readings_url).close()
    settings = settings.model_copy(update={"readings_lock_wait_s": 300.0})
    other = sqlite3.connect(settings.readings_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the batch cannot be answered: each worker waits on the lock
    ingestor = Ingestor(settings, broker_url=broker.url)
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run_into(ingestor, errors), daemon=True)
    thread.start()
    try:
        assert ingestor.wait_connected(20)
        publish_readings(broker.url, 1, 5)
        for deaths in range(4):
            restarts = ingestor.metrics.worker_restarts
            wait_for(lambda n=deaths, counter=restarts: counter._value.get() == n and ingestor._backend._unanswered,
                     what=f"worker {deaths + 1} ready with the batch in hand")
            time.sleep(0.5)  # it is waiting on the store's lock now
            os.kill(ingestor._backend.pid, signal.SIGKILL)
        thread.join(60)
    finally:
        other.execute("ROLLBACK")
        other.close()
        ingestor.stop()
        thread.join(30)
    assert len(errors) == 1 and isinstance(errors[0], WorkerDiedError)
    assert "died 4 times in a row" in str(errors[0]) and "before answering batch" in str(errors[0])


def _run_into(ingestor: Ingestor, errors: list[BaseException]) -> None:
    try:
        ingestor.run()
    except BaseException as exc:  # handed to the test
        errors.append(exc)
