"""Fault benchmark: crash each part of the ingest path while readings flow, and count what survives.

Every scenario starts from nothing in a temporary folder: a real Mosquitto on a free loopback port
(the config DampWatch writes), a real readings store (SQLite, or a real VictoriaMetrics), an app
database (SQLite), and ``dampwatch ingest`` as its own process (with its worker process). A publisher
sends unique QoS 1 readings at a steady rate (or simulated devices run DampWatch's firmware), the
scenario's fault is injected, and at the end the store is read back. Per scenario it prints:

* **sent**: readings published (for the firmware: readings the devices took);
* **acked**: readings the broker acknowledged to the publisher (PUBACK; for the firmware, all it took);
* **stored**: distinct acknowledged readings found in the readings store;
* **lost**: acknowledged readings not in the store;
* **dup**: store rows beyond one per reading, plus device-health counts beyond the readings written or
  short of the readings stored (device health must count each reading exactly once).

    python bench/faults.py                  # every scenario, 3 000 readings each at 500 msg/s
    python bench/faults.py -n 10000 --rate 1000 --only broker_kill_backlog_firmware

Loopback only; every process it starts is stopped at the end of its scenario. Issue 18's own harness
used 150 000 readings at 1 000 msg/s; the defaults here are smaller so that a run takes minutes on
a shared two-core machine. The firmware scenario's devices are simulated (``firmware_stub.sim_hw``),
running the unchanged firmware.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

DEVICES = 20
PREFIX = "dampwatch"


@dataclasses.dataclass
class Outcome:
    scenario: str
    sent: int
    acked: int
    stored: int
    lost: int
    duplicated: int
    closable: str
    note: str = ""


# -- the parts ----------------------------------------------------------------------------------


class Stack:
    """Mosquitto, a readings store, an app database and a ``dampwatch ingest`` process, in ``workdir``."""

    def __init__(self, workdir: Path, *, backend: str = "sqlite", autosave_interval_s: int | None = None,
                 database_url: str | None = None) -> None:
        from core.db import Database
        from core.model import Device
        from core.mqtt import AUTOSAVE_INTERVAL_S, MosquittoBroker

        self.workdir = workdir
        self.broker = MosquittoBroker(workdir / "broker", autosave_interval_s=autosave_interval_s or AUTOSAVE_INTERVAL_S)
        self.broker.start()
        self.victoria = None
        if backend == "victoriametrics":
            from core.victoria_server import VictoriaMetricsServer

            self.victoria = VictoriaMetricsServer(workdir / "victoria").start()
            self.readings_url = self.victoria.url + "?retries=1&timeout=2"
        else:
            self.readings_url = f"sqlite:///{workdir}/readings.db"
        self.database_url = database_url or f"sqlite:///{workdir}/app.db"
        database = Database(self.database_url)
        with database.session() as session:
            for device_id in device_ids():
                session.add(Device(device_id=device_id))
        database.dispose()
        self.ingest: subprocess.Popen | None = None
        self.ingest_log = workdir / "ingest.log"
        self.extra_env: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAMPWATCH_")}
        env.update({
            "DAMPWATCH_VAR_DIR": str(self.workdir / "var"),
            "DAMPWATCH_DATABASE_URL": self.database_url,
            "DAMPWATCH_READINGS_URL": self.readings_url,
            "DAMPWATCH_MQTT_URL": self.broker.url,
            "DAMPWATCH_MQTT_CLIENT_ID": "faults-ingest",
            "DAMPWATCH_METRICS_PORT": "0",
            "DAMPWATCH_INGEST_FLUSH_INTERVAL_S": "0.1",
            "DAMPWATCH_INGEST_BATCH_SIZE": "500",
            "DAMPWATCH_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        })
        env.update(self.extra_env)
        return env

    def start_ingest(self) -> None:
        log = open(self.ingest_log, "ab")  # noqa: SIM115 - handed to the child
        self.ingest = subprocess.Popen(
            [sys.executable, "-c", "from dampwatch.cli import main; main()", "ingest"],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # connected once the log says so
            if "connected to" in self.ingest_log.read_text(errors="replace"):
                return
            if self.ingest.poll() is not None:
                raise RuntimeError(f"dampwatch ingest exited: {self.tail()}")
            time.sleep(0.1)
        raise RuntimeError(f"dampwatch ingest did not connect: {self.tail()}")

    def stop_ingest(self, *, kill: bool = False) -> None:
        if self.ingest is None:
            return
        if self.ingest.poll() is None:
            self.ingest.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.ingest.wait(90)
            except subprocess.TimeoutExpired:
                self.ingest.kill()
                self.ingest.wait()
        self.ingest = None
        with open(self.ingest_log, "r+b") as log:  # a new ingestor's "connected to" must not be the old one's
            text = log.read().replace(b"connected to", b"connected-before to")
            log.seek(0)
            log.write(text)
            log.truncate()

    def worker_pid(self) -> int | None:
        """The ingest worker: the child process of ``dampwatch ingest``."""
        if self.ingest is None:
            return None
        for task in Path(f"/proc/{self.ingest.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                children = (task / "children").read_text().split()
                for child in children:
                    cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
                    if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                        return int(child)
        return None

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.ingest_log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def count_log(self, words: str) -> int:
        return self.ingest_log.read_text(errors="replace").count(words)

    def stored(self) -> tuple[set[tuple[str, int]], int]:
        """The (device, ts) keys in the store and its row count."""
        from core.readings import open_store

        if self.victoria is not None:
            self.victoria.flush()
        store = open_store(self.readings_url)
        try:
            keys = [(r.device_id, r.epoch_s) for r in store.iter_readings(device_ids=device_ids())]
        finally:
            store.close()
        return set(keys), len(keys)

    def health_total(self) -> int:
        from sqlalchemy import func, select

        from core.db import Database
        from core.model import DeviceHealth

        database = Database(self.database_url, migrate=False)
        try:
            with database.session() as session:
                return int(session.scalar(select(func.coalesce(func.sum(DeviceHealth.readings), 0))))
        finally:
            database.dispose()

    def close(self) -> None:
        self.stop_ingest()
        self.broker.stop()
        if self.victoria is not None:
            self.victoria.stop()


def device_ids() -> list[str]:
    return [f"fault-{i:03d}" for i in range(DEVICES)]


START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=5)).replace(second=0, microsecond=0)


def reading(index: int) -> tuple[str, bytes, tuple[str, int]]:
    """Reading ``index``: round-robin over the devices, one minute apart per device; topic, payload, key."""
    device = device_ids()[index % DEVICES]
    step = index // DEVICES
    ts = START + dt.timedelta(minutes=step)
    payload = {"ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "temperature_c": 19.0 + (index % 40) / 10,
               "humidity_pct": 55.0 + (index % 300) / 10, "seq": step + 1}
    return f"{PREFIX}/{device}/up", json.dumps(payload).encode(), (device, int(ts.timestamp()))


class Publisher(threading.Thread):
    """A third-party sensor fleet: QoS 1 readings at ``rate`` per second; counts PUBACKs; reconnects."""

    def __init__(self, url: str, total: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.total, self.rate = url, total, rate
        self.acked: set[tuple[str, int]] = set()
        self.sent = 0

    def run(self) -> None:
        import paho.mqtt.client as mqtt

        from core.mqtt import new_client

        host, port = self.url.removeprefix("mqtt://").split(":")
        client = new_client("faults-publisher", clean_session=True)
        client.max_inflight_messages_set(100)
        client.reconnect_delay_set(0.2, 1)
        client.connect_async(host, int(port))
        client.loop_start()
        published: list[tuple[mqtt.MQTTMessageInfo, tuple[str, int]]] = []
        started = time.monotonic()
        index = 0
        while index < self.total:
            pause = started + index / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if not client.is_connected():
                time.sleep(0.05)
                continue
            topic, payload, key = reading(index)
            info = client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                continue  # not taken: the same reading again (a sensor would retry)
            published.append((info, key))
            index += 1
            self.sent = index
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(info.is_published() for info, _ in published[-200:]):
            time.sleep(0.1)  # what was in flight when the broker died is sent again by paho after reconnecting
        self.acked = {key for info, key in published if info.is_published()}
        client.loop_stop()
        client.disconnect()


# -- scenarios -----------------------------------------------------------------------------------


def settle(stack: Stack, expected: set[tuple[str, int]], timeout_s: float = 90.0) -> None:
    """Wait until the store holds every expected reading (or the time runs out)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        keys, _rows = stack.stored()
        if expected <= keys:
            time.sleep(1.0)
            return
        time.sleep(1.0)


def outcome(name: str, stack: Stack, sent: int, acked: set[tuple[str, int]], closable: str, note: str = "") -> Outcome:
    settle(stack, acked)
    keys, rows = stack.stored()
    stack.stop_ingest()
    ours = keys & {reading(i)[2] for i in range(sent)} if sent else keys
    lost = len(acked - keys)
    health = stack.health_total()
    # Each reading counted once: by the store (one row) and by device health (never more than were written,
    # never fewer than are stored).
    duplicated = (rows - len(keys)) + max(0, health - len(acked | keys)) + max(0, len(keys) - health)
    if health != len(keys):
        note = (note + f"; device health counts {health} of {len(keys)}").lstrip("; ")
    return Outcome(name, sent, len(acked), len(ours), lost, duplicated, closable, note)


def run_with_publisher(stack: Stack, n: int, rate: float, fault: Callable[[Publisher], None]) -> Publisher:
    stack.start_ingest()
    publisher = Publisher(stack.broker.url, n, rate)
    publisher.start()
    fault(publisher)
    publisher.join(600)
    return publisher


def wait_sent(publisher: Publisher, share: float) -> None:
    while publisher.sent < publisher.total * share and publisher.is_alive():
        time.sleep(0.05)


def scenario_ingestor_kill(workdir: Path, n: int, rate: float) -> Outcome:
    stack = Stack(workdir)
    try:
        def fault(publisher: Publisher) -> None:
            for share in (0.3, 0.6):
                wait_sent(publisher, share)
                stack.stop_ingest(kill=True)
                time.sleep(1.0)
                stack.start_ingest()

        p = run_with_publisher(stack, n, rate, fault)
        return outcome("ingestor SIGKILL x2", stack, p.sent, p.acked, "yes")
    finally:
        stack.close()


def scenario_worker_kill(workdir: Path, n: int, rate: float) -> Outcome:
    stack = Stack(workdir)
    try:
        def fault(publisher: Publisher) -> None:
            for share in (0.3, 0.6):
                wait_sent(publisher, share)
                pid = stack.worker_pid()
                if pid:
                    os.kill(pid, signal.SIGKILL)
                time.sleep(1.0)

        p = run_with_publisher(stack, n, rate, fault)
        restarts = stack.count_log("took over")
        alive = stack.ingest is not None and stack.ingest.poll() is None
        return outcome("worker SIGKILL x2", stack, p.sent, p.acked, "yes",
                       f"workers replaced: {restarts}; ingestor still running: {alive}")
    finally:
        stack.close()


def scenario_broker_kill_backlog(workdir: Path, n: int, rate: float, autosave_interval_s: int | None = None) -> Outcome:
    """The ingestor away 10 s, then Mosquitto SIGKILLed with the backlog: third-party publishers lose its window."""
    stack = Stack(workdir, autosave_interval_s=autosave_interval_s)
    try:
        def fault(publisher: Publisher) -> None:
            wait_sent(publisher, 0.3)
            stack.stop_ingest()
            time.sleep(10.0)
            stack.broker.stop(kill=True)
            stack.broker.start()
            stack.start_ingest()

        p = run_with_publisher(stack, n, rate, fault)
        window = autosave_interval_s or 1
        return outcome(f"Mosquitto SIGKILL, backlog, third-party sensors ({window} s window)", stack, p.sent, p.acked,
                       f"no (broker's {window} s window)")
    finally:
        stack.close()


def scenario_broker_kill_backlog_firmware(workdir: Path, n: int, rate: float) -> Outcome:
    """The same crash with DampWatch firmware on the devices: the stored acknowledgement closes the window.

    Five simulated devices run the unchanged firmware (one reading a wake); the broker gets a wide
    window (a 30 s snapshot interval) to show that the firmware closes it whatever the broker does.
    Readings are identified by (device, seq): a device numbers its readings 1, 2, 3, ...
    """
    from firmware_stub.sim_hw import SimClock, SimDevice, SimNetwork

    stack = Stack(workdir, autosave_interval_s=30)
    devices_n = 5
    backlog_wakes = max(10, min(100, n // devices_n // 10))
    wakes = dict.fromkeys(device_ids()[:devices_n], 0)
    try:
        stack.start_ingest()
        with SimNetwork(stack.broker.host, stack.broker.port) as network:
            devices = [
                # no waiting for the acknowledgement while the ingestor is away: it would only cost wall time
                SimDevice(workdir / f"flash-{i}", network, clock=SimClock(START), device_id=device_ids()[i],
                          ack_wait_s=0)
                for i in range(devices_n)
            ]
            for device in devices:
                device.run(3)
                wakes[device.settings["device_id"]] += 3
            stack.stop_ingest()  # away: the broker holds its queue, the devices their flash
            for _ in range(backlog_wakes):
                for device in devices:
                    device.run(1)
                    wakes[device.settings["device_id"]] += 1
            stack.broker.stop(kill=True)
            stack.broker.start()
            stack.start_ingest()
            for device in devices:  # from now on each wake listens for its acknowledgement (the default 5 s)
                device.settings["ack_wait_s"] = 5
                device.config_path.write_text(json.dumps(device.settings))
                wakes[device.settings["device_id"]] += device.run_until(lambda d=device: d.buffered() == 0,
                                                                         max_wakes=30)
        expected = {(device_id, seq) for device_id, count in wakes.items() for seq in range(1, count + 1)}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found, rows = stored_seqs(stack)
            if expected <= found:
                break
            time.sleep(1.0)
        time.sleep(1.0)
        found, rows = stored_seqs(stack)
        stack.stop_ingest()
        duplicated = (rows - len(found)) + max(0, stack.health_total() - len(found))
        return Outcome("Mosquitto SIGKILL, backlog, DampWatch firmware (30 s window)", len(expected), len(expected),
                       len(expected & found), len(expected - found), duplicated, "yes",
                       f"{devices_n} devices x {max(wakes.values())} wakes; acked = taken")
    finally:
        stack.close()


def stored_seqs(stack: Stack) -> tuple[set[tuple[str, int]], int]:
    from core.readings import open_store

    store = open_store(stack.readings_url)
    try:
        pairs = [(r.device_id, r.seq) for r in store.iter_readings(device_ids=device_ids())]
    finally:
        store.close()
    return set(pairs), len(pairs)


def scenario_victoria_kill(workdir: Path, n: int, rate: float, window: bool = True) -> Outcome:
    stack = Stack(workdir, backend="victoriametrics")
    if not window:
        stack.extra_env["DAMPWATCH_INGEST_REPLAY_WINDOW_S"] = "0"
    try:
        def fault(publisher: Publisher) -> None:
            wait_sent(publisher, 0.5)
            stack.victoria.stop(hard=True)
            time.sleep(5.0)
            stack.victoria.start()

        p = run_with_publisher(stack, n, rate, fault)
        name = "VictoriaMetrics SIGKILL, down 5 s" + ("" if window else " (replay window off)")
        result = outcome(name, stack, p.sent, p.acked, "yes" if window else "no (window off)")
        result.note = (f"window replays: {stack.count_log('readings store restarted')}; " + result.note).rstrip("; ")
        return result
    finally:
        stack.close()


def scenario_victoria_stop(workdir: Path, n: int, rate: float) -> Outcome:
    stack = Stack(workdir, backend="victoriametrics")
    try:
        def fault(publisher: Publisher) -> None:
            wait_sent(publisher, 0.3)
            stack.victoria.stop()
            time.sleep(10.0)
            stack.victoria.start()

        p = run_with_publisher(stack, n, rate, fault)
        return outcome("VictoriaMetrics stopped 10 s", stack, p.sent, p.acked, "yes")
    finally:
        stack.close()


def scenario_sqlite_jam(workdir: Path, n: int, rate: float) -> Outcome:
    """The readings file locked by another process for 10 s; the ingestor killed and restarted meanwhile."""
    import sqlite3

    stack = Stack(workdir)
    try:
        def fault(publisher: Publisher) -> None:
            wait_sent(publisher, 0.3)
            other = sqlite3.connect(workdir / "readings.db", isolation_level=None, timeout=30)
            other.execute("BEGIN IMMEDIATE")
            time.sleep(4.0)
            stack.stop_ingest(kill=True)
            stack.start_ingest()
            time.sleep(6.0)
            other.execute("ROLLBACK")
            other.close()

        p = run_with_publisher(stack, n, rate, fault)
        return outcome("SQLite locked 10 s, ingestor SIGKILL meanwhile", stack, p.sent, p.acked, "yes")
    finally:
        stack.close()


def scenario_postgres_terminated(workdir: Path, n: int, rate: float) -> Outcome:
    """The app database on PostgreSQL; every connection of the ingest worker terminated three times."""
    from sqlalchemy import create_engine, text

    admin_url = os.environ.get("DAMPWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    name = f"dampwatch_faults_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    stack = None
    try:
        stack = Stack(workdir, database_url=f"{admin_url.rsplit('/', 1)[0]}/{name}")
        terminated = 0

        def fault(publisher: Publisher) -> None:
            nonlocal terminated
            for share in (0.25, 0.5, 0.75):
                wait_sent(publisher, share)
                with admin.connect() as conn:
                    terminated += len(conn.execute(text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).all())

        p = run_with_publisher(stack, n, rate, fault)
        return outcome("PostgreSQL app-database connections terminated x3", stack, p.sent, p.acked, "yes",
                       f"connections terminated: {terminated}")
    finally:
        if stack is not None:
            stack.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


SCENARIOS = {
    "ingestor_kill": scenario_ingestor_kill,
    "worker_kill": scenario_worker_kill,
    "broker_kill_backlog": scenario_broker_kill_backlog,
    "broker_kill_backlog_30s": lambda workdir, n, rate: scenario_broker_kill_backlog(workdir, n, rate, 30),
    "broker_kill_backlog_firmware": scenario_broker_kill_backlog_firmware,
    "victoria_kill": scenario_victoria_kill,
    "victoria_kill_no_window": lambda workdir, n, rate: scenario_victoria_kill(workdir, n, rate, window=False),
    "victoria_stop": scenario_victoria_stop,
    "sqlite_jam": scenario_sqlite_jam,
    "postgres_terminated": scenario_postgres_terminated,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--readings", type=int, default=3000, help="readings per scenario (default 3 000)")
    parser.add_argument("--rate", type=float, default=500.0, help="messages per second (default 500)")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), help="run only these scenarios")
    args = parser.parse_args()
    names = args.only or list(SCENARIOS)
    print(f"fault benchmark: {args.readings} unique QoS 1 readings per scenario at {args.rate:g} msg/s, "
          f"{DEVICES} devices, loopback only")
    results = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"dw-faults-{name}-") as tmp:
            started = time.monotonic()
            try:
                result = SCENARIOS[name](Path(tmp), args.readings, args.rate)
            except Exception as exc:  # one broken scenario must not hide the others' figures
                result = Outcome(name, 0, 0, 0, -1, -1, "?", f"ERROR {type(exc).__name__}: {exc}"[:200])
            result.note = (result.note + f"; {time.monotonic() - started:.0f} s").lstrip("; ")
            results.append(result)
            print(f"  done: {result.scenario}", flush=True)
    width = max(len(r.scenario) for r in results)
    print()
    print(f"| {'scenario':<{width}} | {'sent':>6} | {'acked':>6} | {'stored':>6} | {'lost':>5} | {'dup':>4} | "
          "closable by us | note |")
    print(f"|{'-' * (width + 2)}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 7}|{'-' * 6}|----------------|------|")
    for r in results:
        print(f"| {r.scenario:<{width}} | {r.sent:>6} | {r.acked:>6} | {r.stored:>6} | {r.lost:>5} | "
              f"{r.duplicated:>4} | {r.closable} | {r.note} |")
    bad = [r for r in results if r.closable == "yes" and (r.lost or r.duplicated)]
    print()
    print("result:", "0 lost and 0 duplicated in every scenario we can close" if not bad
          else "LOSS OR DUPLICATES in: " + ", ".join(r.scenario for r in bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
