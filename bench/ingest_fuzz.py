"""Ingest fuzz: N hostile messages among M good readings through a real Mosquitto and ``dampwatch ingest``.

Starts a Mosquitto on a free loopback port and the real ingestor (``dampwatch
ingest`` in its own process, with its worker, every adapter routed), supervised
as systemd would: if it exits it is counted as a crash and started again. It
then publishes M good readings (native, Zigbee2MQTT, Tasmota and SenML, from
registered devices) shuffled with N hostile messages (seeded), waits until the
ingestor has received and acknowledged everything, and prints:

- good stored / expected: good readings found in the store, exactly once and
  with the values sent;
- dead-lettered by reason (one row per message);
- silently dropped: hostile messages that left no trace (no dead letter, not
  counted as ignored, not quarantined), plus good readings missing;
- crashes: ingestor exits and ingest-worker replacements;
- peak RSS of the ingestor and its worker.

Every hostile message has a topic of its own (``.../fz-000123/...``), so its
dead letter can be found. Bounded: the run ends after ``--timeout`` seconds.

    python bench/ingest_fuzz.py                 # 10 000 hostile + 2 000 good
    python bench/ingest_fuzz.py -n 2000 -m 500 --seed 7
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

ROUTES = ("application/+/device/+/event/+=chirpstack, v3/+/devices/+/#=tts, zigbee2mqtt/#=zigbee2mqtt, "
          "tele/+/SENSOR=tasmota, shellies/+/sensor/+=shelly, senml/#=senml")
GOOD_NATIVE_DEVICES = [f"good-{i:03d}" for i in range(20)]
HUGE = "9" * 309


# -- the messages ------------------------------------------------------------------------------

def good_messages(m: int, now: dt.datetime) -> tuple[list[tuple[str, bytes]], list[tuple[str, dt.datetime | None]]]:
    """M good messages and what each must store: ``(device_id, ts)`` (ts None: untimed, counted instead)."""
    out, expected = [], []
    for i in range(m):
        kind = i % 10
        ts = (now - dt.timedelta(minutes=10 * (i + 1))).replace(microsecond=0)
        if kind < 7:  # native
            device = GOOD_NATIVE_DEVICES[i % len(GOOD_NATIVE_DEVICES)]
            body = {"ts": ts.isoformat(), "temperature_c": round(15 + i % 100 / 10, 1),
                    "humidity_pct": round(40 + i % 500 / 10, 1), "seq": i}
            out.append((f"dampwatch/{device}/up", json.dumps(body).encode()))
            expected.append((device, ts))
        elif kind == 7:  # Tasmota, its own time (with an offset, so no zone setting is needed)
            body = {"Time": ts.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "SHT3X": {"Temperature": 20.1, "Humidity": 55.5},
                    "TempUnit": "C"}
            out.append(("tele/good_tas/SENSOR", json.dumps(body).encode()))
            expected.append(("tasmota-good_tas", ts))
        elif kind == 8:  # SenML, bt + t
            body = [{"bn": "good-senml:", "bt": ts.timestamp(), "n": "temperature", "u": "Cel", "v": 19.5},
                    {"n": "humidity", "u": "%RH", "v": 61}]
            out.append(("senml/good", json.dumps(body).encode()))
            expected.append(("senml-good-senml", ts))
        else:  # Zigbee2MQTT without last_seen: untimed, must never collapse
            out.append(("zigbee2mqtt/good_z2m", json.dumps({"temperature": 21.2, "humidity": 50 + i % 40}).encode()))
            expected.append(("z2m-good_z2m", None))
    return out, expected


def hostile_messages(n: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """N hostile messages, each on a topic of its own; a mix of every attack issue 11 names and more."""
    out = []
    for i in range(n):
        tag = f"fz-{i:06d}"
        topic_kind = rng.randrange(6)
        topic = [f"dampwatch/{tag}/up", f"zigbee2mqtt/{tag}", f"tele/{tag}/SENSOR", f"senml/{tag}",
                 f"application/1/device/ff{i:014x}/event/up", f"shellies/{tag}/sensor/temperature"][topic_kind]
        out.append((topic, _hostile_payload(rng, tag)))
    return out


def _hostile_payload(rng: random.Random, tag: str) -> bytes:
    choice = rng.randrange(18)
    if choice == 0:
        return rng.randbytes(rng.randrange(0, 300))
    if choice == 1:
        return b'{"ts": "0001-01-01T00:00:00+01:00", "temperature_c": 20, "humidity_pct": 50}'
    if choice == 2:
        field = rng.choice(["temperature_c", "humidity_pct", "battery_v", "seq", "ts", "temperature", "humidity",
                            "Temperature", "v", "bt"])
        sign = rng.choice(["", "-"])
        return (f'{{"{field}": {sign}{HUGE}, "temperature_c": 20, "humidity_pct": 50, "temperature": 20, "humidity": 50, '
                f'"SHT3X": {{"Temperature": {sign}{HUGE}, "Humidity": 50}}}}').encode()
    if choice == 3:
        return (f'[{{"bn": "{tag}:", "bt": {HUGE}, "u": "Cel", "v": 20}}, {{"u": "%RH", "v": {HUGE}}}]').encode()
    if choice == 4:
        return b'{"temperature_c": NaN, "humidity_pct": Infinity, "temperature": -Infinity, "humidity": NaN}'
    if choice == 5:
        return b"[" * 100_000  # nesting far past the recursion limit
    if choice == 6:
        return b'{"temperature_c": 20, "humidity_pct": 50, "humidity_pct": 99, "humidity": 1, "humidity": 2}'
    if choice == 7:
        return b'{"temperature_c": 1e-400, "humidity_pct": 1e400, "temperature": "18.4", "humidity": "x"}'
    if choice == 8:  # a SenML pack naming ~900 unregistered devices (the dead-letter amplifier of issue 11)
        records = []
        for number in range(900):
            records += [{"bn": f"{tag}-{number:04d}:", "u": "Cel", "v": 20}, {"u": "%RH", "v": 50}]
        return json.dumps(records, separators=(",", ":")).encode()
    if choice == 9:
        return b"x" * (64 * 1024 + rng.randrange(1, 200_000))  # oversize
    if choice == 10:
        return (b'{"temperature_c": 20, "humidity_pct": 50, "note": "[/] [bold red]x[/] \\u001b[2J\\r\\u202e", '
                b'"readings": "[link=file:///etc/passwd]x"}')
    if choice == 11:
        one = '{"temperature_c": 20, "humidity_pct": 50, "ts": ' + str(rng.randrange(-10**12, 10**12)) + "}"
        return ('{"readings": [' + ",".join([one] * rng.randrange(1, 1200)) + "]}").encode()
    if choice == 12:
        return json.dumps({"ts": rng.choice(["9999-12-31T23:59:59-01:00", "2015-13-45", "", "now", "1e400"]),
                           "temperature_c": 20, "humidity_pct": 50, "Time": "0000-00-00T00:00:00"}).encode()
    if choice == 13:
        return b'"\\ud800\\u0000"'
    if choice == 14:  # ChirpStack-like with a poisoned object
        return json.dumps({"deviceInfo": {"devEui": "zz"}, "object": {"temperature": 10**30, "humidity": -1},
                           "time": "0001-01-01T00:00:00Z", "rxInfo": [{"time": 1e308}]}).encode()
    if choice == 15:
        return b"\xef\xbb\xbf" + b'{"temperature_c": 20, "humidity_pct": 50}\x00'
    if choice == 16:
        body = {"temperature_c": rng.uniform(-1e6, 1e6), "humidity_pct": rng.uniform(-1e3, 1e3),
                "ts": rng.uniform(-1e10, 1e11), "battery_v": rng.uniform(-5, 50), "seq": rng.randrange(-5, 5)}
        return json.dumps(body).encode()
    return base64.b64encode(rng.randbytes(60))


# -- the ingestor under supervision -----------------------------------------------------------

def _rss_mb(pid: int, field: str = "VmHWM") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _metrics(port: int) -> dict[str, float]:
    values: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return values
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


class Supervised:
    """``dampwatch ingest`` in its own process, restarted (and counted) whenever it exits."""

    def __init__(self, env: dict[str, str], broker_url: str, log: Path) -> None:
        self.env, self.broker_url, self.log = env, broker_url, log
        self.crashes = 0
        self.peak_rss_mb = 0.0
        self.peaks: dict[int, float] = {}  # per process: the ingestor, then its children (worker, resource tracker)
        self.worker_restarts = 0
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        code = "from dampwatch.cli import main; main()"
        return subprocess.Popen([sys.executable, "-c", code, "ingest", "--broker", self.broker_url],
                                env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)

    def watch(self, port: int) -> dict[str, float]:
        if self.process.poll() is not None:
            self.crashes += 1
            self.process = self._start()
            time.sleep(1)
        pids = [self.process.pid, *_children(self.process.pid)]
        for pid in pids:
            self.peaks[pid] = max(self.peaks.get(pid, 0.0), _rss_mb(pid))
        self.peak_rss_mb = max(self.peak_rss_mb, sum(_rss_mb(pid) for pid in pids))
        values = _metrics(port)
        self.worker_restarts = max(self.worker_restarts, int(values.get("dampwatch_ingest_worker_restarts_total", 0)))
        return values

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the run ----------------------------------------------------------------------------------

def run(n: int, m: int, seed: int, timeout_s: float) -> dict:
    from sqlalchemy import func, select

    import simulator
    from core.db import Database
    from core.model import DeadLetter, Device
    from core.mqtt import MosquittoBroker, free_port
    from core.store_sqlite import SQLiteReadingsStore

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    goods, expected = good_messages(m, now)
    hostile = hostile_messages(n, rng)
    messages = goods + hostile
    rng.shuffle(messages)
    with tempfile.TemporaryDirectory(prefix="dw-fuzz-") as tmp:
        work = Path(tmp)
        database_url, readings_url = f"sqlite:///{work}/app.db", f"sqlite:///{work}/readings.db"
        database = Database(database_url)
        with database.session() as session:
            ids = [*GOOD_NATIVE_DEVICES, "tasmota-good_tas", "senml-good-senml", "z2m-good_z2m"]
            session.add_all(Device(device_id=device_id) for device_id in ids)
        metrics_port = free_port()
        env = {**os.environ, "DAMPWATCH_VAR_DIR": str(work), "DAMPWATCH_DATABASE_URL": database_url,
               "DAMPWATCH_READINGS_URL": readings_url, "DAMPWATCH_METRICS_PORT": str(metrics_port),
               "DAMPWATCH_MQTT_CLIENT_ID": "fuzz-ingest", "DAMPWATCH_INGEST_ADAPTERS": ROUTES,
               "DAMPWATCH_LOG_INTERVAL_S": "5", "DAMPWATCH_LOG_LEVEL": "WARNING"}
        with MosquittoBroker(work / "broker") as broker:
            ingest = Supervised(env, broker.url, work / "ingest.log")
            started = time.monotonic()
            try:
                while (_metrics(metrics_port).get("dampwatch_ingest_connected") != 1
                       and time.monotonic() - started < 60):
                    ingest.watch(metrics_port)
                    time.sleep(0.2)
                publish_started = time.monotonic()
                simulator.publish(iter(messages), broker.url, client_id="fuzz-publisher", max_inflight=500)
                publish_s = time.monotonic() - publish_started
                values: dict[str, float] = {}
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    values = ingest.watch(metrics_port)
                    received = values.get("dampwatch_ingest_messages_received_total", 0) + values.get(
                        "dampwatch_ingest_retained_ignored_total", 0)
                    if received >= len(messages) and values.get("dampwatch_ingest_pending_messages", 1) == 0:
                        break
                    time.sleep(0.25)
                drain_s = time.monotonic() - publish_started
                values = ingest.watch(metrics_port)
            finally:
                ingest.stop()
        store = SQLiteReadingsStore(readings_url)
        stored = collections.Counter((r.device_id, r.ts) for r in store.iter_readings())
        by_device = collections.Counter(r.device_id for r in store.iter_readings())
        store.close()
        timed = [item for item in expected if item[1] is not None]
        good_stored = sum(1 for item in timed if stored.get(item) == 1)
        untimed_expected = sum(1 for item in expected if item[1] is None)
        good_stored += min(by_device.get("z2m-good_z2m", 0), untimed_expected)
        with database.session() as session:
            reasons = dict(session.execute(
                select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason).order_by(func.count().desc())
            ).all())
            letter_topics = set(session.scalars(select(DeadLetter.topic)))
            letter_bytes = session.scalar(select(func.sum(func.length(DeadLetter.payload_excerpt) +
                                                        func.length(DeadLetter.detail)))) or 0
        database.dispose()
        hostile_topics = [topic for topic, _payload in hostile]
        ignored = int(values.get("dampwatch_ingest_ignored_total", 0))
        traced = sum(1 for topic in hostile_topics if topic in letter_topics)
        quarantined_count = int(values.get('dampwatch_ingest_rejected_total{reason="quarantined"}', 0))
        silent = max(0, len(hostile_topics) - traced - ignored - quarantined_count) + (len(expected) - good_stored)
        db_mb = (work / "app.db").stat().st_size / 1e6
        log_mb = (work / "ingest.log").stat().st_size / 1e6
        return {
            "n": n, "m": m, "seed": seed, "good_stored": good_stored, "good_expected": len(expected),
            "dead_letters": reasons, "hostile_traced": traced, "ignored": ignored, "quarantined": quarantined_count,
            "silent": silent, "crashes": ingest.crashes, "worker_restarts": ingest.worker_restarts,
            "peak_rss_mb": ingest.peak_rss_mb, "publish_s": publish_s, "drain_s": drain_s,
            "peaks_mb": list(ingest.peaks.values()),
            "received": int(values.get("dampwatch_ingest_messages_received_total", 0)),
            "dead_letter_text_mb": letter_bytes / 1e6, "app_db_mb": db_mb, "log_mb": log_mb,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--hostile", type=int, default=10_000, help="hostile messages (default 10 000)")
    parser.add_argument("-m", "--good", type=int, default=2_000, help="good readings (default 2 000)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for the ingestor to drain (s)")
    args = parser.parse_args()
    r = run(args.hostile, args.good, args.seed, args.timeout)
    print(f"ingest fuzz: {r['n']} hostile + {r['m']} good messages, seed {r['seed']} "
          f"(published in {r['publish_s']:.1f} s, drained in {r['drain_s']:.1f} s; {r['received']} received)")
    print(f"  good stored / expected:  {r['good_stored']} / {r['good_expected']}")
    print("  dead-lettered by reason: " + ", ".join(f"{k} {v}" for k, v in r["dead_letters"].items()))
    print(f"  hostile traced:          {r['hostile_traced']} dead-lettered, {r['ignored']} ignored (counted), "
          f"{r['quarantined']} quarantined")
    print(f"  silently dropped:        {r['silent']}")
    print(f"  crashes:                 {r['crashes']} ingestor exits, {r['worker_restarts']} worker replacements")
    print(f"  peak RSS:                {r['peak_rss_mb']:.0f} MB (ingestor + worker); per process (ingestor, then its children): "
          + ", ".join(f"{mb:.0f} MB" for mb in r["peaks_mb"]))
    print(f"  dead-letter text:        {r['dead_letter_text_mb']:.1f} MB; app database {r['app_db_mb']:.1f} MB; "
          f"ingest log {r['log_mb']:.2f} MB")
    ok = (r["good_stored"] == r["good_expected"] and r["silent"] == 0 and r["crashes"] == 0
          and r["worker_restarts"] == 0)
    print("  result:                  " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
