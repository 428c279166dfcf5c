"""The ingestor end to end, driven by the simulator through a real Mosquitto.

Every test compares the readings store with the simulator's own account of
what a correct ingestor stores (``Simulation.expected``): nothing lost,
nothing stored twice, whatever is killed or restarted on the way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

import simulator
from core.assets import import_assets, read_asset_csv
from core.db import Database
from core.model import DeadLetter, DeviceHealth
from core.readings import Reading
from ingest.parse import Reason
from ingest.service import Ingestor
from tests.ingest.test_parse import BAD_PAYLOADS, GOOD

pytestmark = pytest.mark.broker

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def wait_for(condition, timeout_s: float = 60.0, interval_s: float = 0.1, what: str = "condition",
             state=None) -> None:
    """Poll ``condition`` until true; on time-out say what was awaited and, with ``state``, where things stood."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}" + (f": {state()}" if state else ""))
        time.sleep(interval_s)


@contextlib.contextmanager
def running_ingestor(settings, store, database, url):
    ingestor = Ingestor(settings, store, database, broker_url=url)
    thread = threading.Thread(target=ingestor.run, daemon=True)
    thread.start()
    assert ingestor.wait_connected(15), "the ingestor did not connect"
    try:
        yield ingestor
    finally:
        ingestor.stop()
        thread.join(30)
        assert not thread.is_alive()


def register_estate(sim, database: Database, tmp_path: Path) -> None:
    path = simulator.write_estate_csv(sim.estate, tmp_path / "estate.csv")
    rows, errors = read_asset_csv(Path(path))
    assert errors == []
    with database.session() as session:
        import_assets(session, rows)


def stored_frame(store) -> pd.DataFrame:
    rows = [(r.device_id, r.ts, r.temperature_c, r.humidity_pct, r.battery_v, r.seq) for r in store.iter_readings()]
    return pd.DataFrame(rows, columns=["device_id", "ts", "temperature_c", "humidity_pct", "battery_v", "seq"])


def assert_store_matches(store, expected: pd.DataFrame) -> None:
    """The store holds exactly the expected readings, each once, with the right values."""
    got = stored_frame(store).sort_values(["device_id", "ts"]).reset_index(drop=True)
    want = expected[list(got.columns)].sort_values(["device_id", "ts"]).reset_index(drop=True)
    want["ts"] = pd.to_datetime(want["ts"], utc=True)
    got["ts"] = pd.to_datetime(got["ts"], utc=True)
    assert len(got) == len(want)
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, atol=1e-9)


def dead_letter_counts(database: Database) -> Counter:
    with database.session() as session:
        return Counter(dict(session.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason)).all()))


@pytest.fixture
def small_sim():
    """Five homes, three days, every sensor fault switched on."""
    estate = simulator.build_estate(seed=7, homes=5)
    return simulator.simulate(estate, start=START, days=3, interval_minutes=10)


def test_every_simulated_reading_is_stored_exactly_once(broker, settings, store, tmp_path, small_sim, database_url):
    """Duplicates and catch-up batches included, the store ends equal to the simulator's expectation.

    Runs with the app database (dead letters, device health) on SQLite and on PostgreSQL.
    """
    settings = settings.model_copy(update={"database_url": database_url})
    database = Database(settings.database_url)
    register_estate(small_sim, database, tmp_path)
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(small_sim.iter_messages(), broker.url, client_id="sim-test")
        wait_for(lambda: store.count() >= len(small_sim.expected) and ingestor.metrics.pending._value.get() == 0,
                 what="every reading stored")
        time.sleep(0.3)  # anything extra would arrive now
    assert_store_matches(store, small_sim.expected)
    rejected = dead_letter_counts(database)
    assert dict(rejected) == {k: v for k, v in small_sim.expected_rejections.items() if v}
    duplicates = ingestor.metrics.snapshot()["dampwatch_ingest_readings_duplicate_total"]
    assert duplicates > 0, "the simulation sends duplicates; the ingestor must have seen them"
    with database.session() as session:
        health = {h.device_id: h for h in session.scalars(select(DeviceHealth))}
    last = small_sim.expected.sort_values("ts").groupby("device_id").last()
    for device_id, row in last.iterrows():
        assert health[device_id].last_seen == row.ts.to_pydatetime()
        assert health[device_id].battery_v == pytest.approx(row.battery_v)
    database.dispose()


def test_bad_payloads_land_in_dead_letters_and_good_ones_around_them_are_stored(broker, settings, store, tmp_path):
    """Each bad payload of the parser's table, sent between good readings, is dead-lettered with its reason."""
    database = Database(settings.database_url)
    estate = simulator.build_estate(seed=3, homes=1)
    sim = simulator.simulate(estate, start=START, days=0.1, interval_minutes=10, faults=False)
    register_estate(sim, database, tmp_path)
    device = sorted(d[0] for d in sim.estate.devices)[0]
    topic = f"dampwatch/{device}/up"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    messages, good_times = [], []
    for index, (_case, payload, _reason) in enumerate(BAD_PAYLOADS):
        ts = now - dt.timedelta(minutes=10 * (index + 1))
        good_times.append(ts)
        messages.append((topic, json.dumps({**GOOD, "ts": ts.isoformat(), "seq": index}).encode()))
        messages.append((topic, payload))
    messages.append(("dampwatch/not-registered/up", json.dumps(GOOD).encode()))
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(iter(messages), broker.url, client_id="bad-payloads")
        wait_for(lambda: ingestor.metrics.received._value.get() >= len(messages)
                 and ingestor.metrics.pending._value.get() == 0, what="all messages handled",
                 state=lambda: f"{ingestor.metrics.log_line()}; in flight {len(ingestor._in_flight)}, "
                               f"held {len(ingestor._batch)}, connected {ingestor._connected.is_set()}")
    expected = Counter(reason for _case, _payload, reason in BAD_PAYLOADS)
    expected[Reason.UNKNOWN_DEVICE] += 1
    assert dead_letter_counts(database) == expected
    assert sorted(r.ts for r in store.iter_readings()) == sorted(good_times)
    with database.session() as session:
        big = session.scalars(select(DeadLetter).where(DeadLetter.reason == Reason.PAYLOAD_TOO_LARGE)).first()
        assert big.payload_bytes > 64 * 1024 and len(big.payload_excerpt) <= 2048 + 1  # 2 KiB and '…'
    database.dispose()


def _ingest_process(settings, url: str, log: Path, **extra_env: str) -> subprocess.Popen:
    env = {**os.environ, "DAMPWATCH_DATABASE_URL": settings.database_url,
           "DAMPWATCH_READINGS_URL": settings.readings_url, "DAMPWATCH_METRICS_PORT": "0",
           "DAMPWATCH_MQTT_CLIENT_ID": settings.mqtt_client_id, "DAMPWATCH_LOG_INTERVAL_S": "1",
           "DAMPWATCH_INGEST_FLUSH_INTERVAL_S": "0.1", "DAMPWATCH_VAR_DIR": str(settings.var_dir), **extra_env}
    code = "from dampwatch.cli import main; main()"
    return subprocess.Popen([sys.executable, "-c", code, "ingest", "--broker", url],
                            env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


@pytest.fixture
def longer_sim():
    """Eight homes, a week: enough messages that a kill lands mid-stream."""
    estate = simulator.build_estate(seed=11, homes=8)
    return simulator.simulate(estate, start=START, days=7, interval_minutes=10)


def test_ingestor_killed_mid_stream_loses_nothing(broker, settings, store, tmp_path, longer_sim):
    """SIGKILL the ingestor process mid-stream, restart it: every reading stored, none twice."""
    database = Database(settings.database_url)
    register_estate(longer_sim, database, tmp_path)
    log = tmp_path / "ingest.log"
    first = _ingest_process(settings, broker.url, log)
    wait_for(lambda: "connected to" in log.read_text(), 20, what="the ingestor to connect")
    publisher = threading.Thread(
        target=simulator.publish, args=(longer_sim.iter_messages(), broker.url), kwargs={"client_id": "sim-kill"}
    )
    publisher.start()
    expected = len(longer_sim.expected)
    wait_for(lambda: store.count() > expected * 0.25, 60, 0.02, what="a quarter of the readings")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    at_kill = store.count()
    publisher.join(120)
    assert not publisher.is_alive()
    assert at_kill < expected, "the kill must land mid-stream"
    second = _ingest_process(settings, broker.url, log)
    try:
        wait_for(lambda: store.count() >= expected, 120, what="every reading after the restart")
        time.sleep(0.5)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-2000:]
    assert_store_matches(store, longer_sim.expected)
    assert "resumed session" in log.read_text()
    database.dispose()


def test_broker_restart_mid_stream_loses_nothing(broker, settings, store, tmp_path, longer_sim):
    """Mosquitto stopped and started again mid-stream: publisher and ingestor resume, nothing lost."""
    database = Database(settings.database_url)
    register_estate(longer_sim, database, tmp_path)
    expected = len(longer_sim.expected)
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        publisher = threading.Thread(
            target=simulator.publish, args=(longer_sim.iter_messages(), broker.url),
            kwargs={"client_id": "sim-restart"},
        )
        publisher.start()
        wait_for(lambda: store.count() > expected * 0.3, 60, 0.02, what="a third of the readings")
        broker.stop()
        time.sleep(1.0)
        broker.start()
        publisher.join(180)
        assert not publisher.is_alive()
        wait_for(lambda: store.count() >= expected and ingestor.metrics.pending._value.get() == 0, 120,
                 what="every reading after the broker restart")
        time.sleep(0.5)
    assert_store_matches(store, longer_sim.expected)
    database.dispose()


def test_readings_from_unknown_devices_are_dead_lettered_until_registered(broker, settings, store, tmp_path):
    """A device not in the register is refused with a reason; once imported, its readings are stored."""
    database = Database(settings.database_url)
    estate = simulator.build_estate(seed=5, homes=1)
    sim = simulator.simulate(estate, start=START, days=0.05, interval_minutes=10, faults=False)
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(sim.iter_messages(), broker.url, client_id="unknown-1")
        wait_for(lambda: ingestor.metrics.received._value.get() >= sim.message_count
                 and ingestor.metrics.pending._value.get() == 0, what="messages handled")
        assert store.count() == 0
        assert dead_letter_counts(database)[Reason.UNKNOWN_DEVICE] == sim.message_count
        register_estate(sim, database, tmp_path)
        simulator.publish(sim.iter_messages(), broker.url, client_id="unknown-2")
        wait_for(lambda: store.count() == len(sim.expected), what="readings stored after registration")
    database.dispose()


@pytest.mark.parametrize("workers", [0, 1], ids=["inline", "worker-process"])
def test_untimed_reading_is_stored_with_ingest_time_and_flag(broker, settings, store, tmp_path, workers):
    """A reading without ts is stored at the time it arrived, flagged untimed, and counted in health (both modes)."""
    settings = settings.model_copy(update={"ingest_workers": workers})
    database = Database(settings.database_url)
    estate = simulator.build_estate(seed=5, homes=1)
    sim = simulator.simulate(estate, start=START, days=0.01, interval_minutes=10, faults=False)
    register_estate(sim, database, tmp_path)
    device = sorted(d[0] for d in sim.estate.devices)[0]
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        payload = json.dumps({"temperature_c": 17.5, "humidity_pct": 66.0}).encode()
        simulator.publish(iter([(f"dampwatch/{device}/up", payload)]), broker.url, client_id="untimed")
        wait_for(lambda: store.count() == 1 and ingestor.metrics.pending._value.get() == 0, what="the reading")
    (reading,) = list(store.iter_readings())
    assert isinstance(reading, Reading) and reading.flags == 1
    assert before <= reading.ts <= dt.datetime.now(dt.UTC)
    with database.session() as session:
        assert session.get(DeviceHealth, device).untimed == 1
    database.dispose()


def test_two_ingestors_share_the_load_and_survive_a_kill(broker, settings, store, tmp_path, longer_sim):
    """Two ingestors on one MQTT 5 shared subscription; one is SIGKILLed mid-stream and restarted: exactly once."""
    database = Database(settings.database_url)
    register_estate(longer_sim, database, tmp_path)
    logs = {name: tmp_path / f"ingest-{name}.log" for name in ("a", "b")}
    shared = {"DAMPWATCH_MQTT_SHARED_GROUP": "ingest"}

    def start(name: str) -> subprocess.Popen:
        client = settings.model_copy(update={"mqtt_client_id": f"{settings.mqtt_client_id}-{name}"})
        return _ingest_process(client, broker.url, logs[name], DAMPWATCH_INGEST_SPOOL_DIR=str(tmp_path / f"spool-{name}"),
                               **shared)

    processes = {name: start(name) for name in logs}
    for name in logs:
        wait_for(lambda name=name: "connected to" in logs[name].read_text(), 20, what=f"ingestor {name} to connect")
    publisher = threading.Thread(
        target=simulator.publish, args=(longer_sim.iter_messages(), broker.url), kwargs={"client_id": "sim-shared"}
    )
    publisher.start()
    expected = len(longer_sim.expected)
    wait_for(lambda: store.count() > expected * 0.25, 60, 0.02, what="a quarter of the readings")
    processes["a"].send_signal(signal.SIGKILL)
    processes["a"].wait(10)
    publisher.join(180)
    assert not publisher.is_alive()
    processes["a"] = start("a")
    try:
        wait_for(lambda: store.count() >= expected, 120, what="every reading after the restart",
                 state=lambda: f"{store.count()} of {expected}")
        time.sleep(0.5)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        for name, process in processes.items():
            assert process.wait(30) == 0, logs[name].read_text()[-2000:]
    assert_store_matches(store, longer_sim.expected)
    for name, log in logs.items():
        received = [int(part.split("=")[1]) for line in log.read_text().splitlines() if "ingest counters" in line
                    for part in line.split() if part.startswith("received=")]
        assert received and max(received) > 0, f"ingestor {name} took no share of the load"
    database.dispose()
