"""Ingest throughput: DampWatch's ingestor against a bare paho subscriber, in the same run.

For each consumer, the benchmark starts a real Mosquitto on a free loopback
port (DampWatch's config: large queue, persistence), registers the consumer's
persistent session, publishes N native readings at QoS 1 while the consumer is
away (the publisher keeps its unacknowledged backlog bounded), then starts the
consumer in a fresh process and times the drain from CONNACK to the last
message: counted, for the bare subscriber; committed to SQLite and
acknowledged, for the ingestor. Both see the same messages from the same kind
of broker, so the ratio is the price of parsing, validating, storing and
acknowledging only after commit.

    python bench/ingest_throughput.py            # 200 000 readings
    python bench/ingest_throughput.py -n 50000   # quicker

Target (issue 2): the ingestor reaches at least 80 % of the bare subscriber's
rate and its peak RSS stays under 150 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEVICES = 200
TOPIC_PREFIX = "dampwatch"


def device_ids() -> list[str]:
    return [f"bench-{i:04d}" for i in range(DEVICES)]


def messages(n: int):
    """N native single-reading payloads, spread over DEVICES devices at 10-minute steps."""
    ids = device_ids()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        device = ids[i % DEVICES]
        step = i // DEVICES
        ts = (start + dt.timedelta(minutes=10 * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = {"ts": ts, "temperature_c": round(18 + (i % 50) / 10, 2), "humidity_pct": round(55 + (i % 300) / 10, 2),
                   "battery_v": 2.95, "seq": step}
        yield f"{TOPIC_PREFIX}/{device}/up", json.dumps(payload).encode()


def peak_rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- consumers, each run in a fresh (spawned) process ------------------------------------------

def bare_subscriber(url: str, n: int, client_id: str, register_only: bool, result: mp.Queue) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from core.mqtt import BrokerAddress, new_client

    address = BrokerAddress.from_url(url)
    client = new_client(client_id, protocol=mqtt.MQTTv5)
    state = {"count": 0, "t0": None, "t1": None}

    def on_connect(c, _u, _f, rc, _p):
        state["t0"] = time.perf_counter()
        c.subscribe(f"{TOPIC_PREFIX}/+/up", qos=1)

    def on_message(_c, _u, _m):
        state["count"] += 1
        if state["count"] == n:
            state["t1"] = time.perf_counter()

    client.on_connect = on_connect
    client.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 65535
    client.connect(address.host, address.port, clean_start=False, properties=props)
    client.loop_start()
    if register_only:
        time.sleep(0.5)
        client.disconnect()
        client.loop_stop()
        result.put(None)
        return
    deadline = time.monotonic() + 600
    while state["t1"] is None and time.monotonic() < deadline:
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()
    result.put({"count": state["count"], "seconds": state["t1"] - state["t0"], "rss_mb": peak_rss_mb()})


def dampwatch_ingestor(url: str, n: int, workdir: str, register_only: bool, result: mp.Queue) -> None:
    from core.db import Database
    from core.model import Device
    from core.readings import open_store
    from core.settings import Settings
    from ingest.service import Ingestor

    settings = Settings(
        var_dir=Path(workdir), database_url=f"sqlite:///{workdir}/app.db", readings_url=f"sqlite:///{workdir}/readings.db",
        metrics_port=0, mqtt_client_id="bench-ingestor", log_level="WARNING",
    )
    database = Database(settings.database_url)
    store = open_store(settings.readings_url)
    if register_only:
        with database.session() as session:
            session.add_all(Device(device_id=d) for d in device_ids())
    ingestor = Ingestor(settings, store, database, broker_url=url)
    import threading

    thread = threading.Thread(target=ingestor.run, daemon=True)
    thread.start()
    ingestor.wait_connected(30)
    t_connected = time.perf_counter()
    if register_only:
        time.sleep(0.5)
        ingestor.stop()
        thread.join(30)
        result.put(None)
        return
    deadline = time.monotonic() + 600
    stored = ingestor.metrics.stored._value
    while stored.get() < n and time.monotonic() < deadline:
        time.sleep(0.005)
    t1 = time.perf_counter()
    backend = ingestor._backend
    worker_rss = peak_rss_mb(backend._process.pid) if hasattr(backend, "_process") else 0.0
    ingestor.stop()
    thread.join(60)
    result.put({"count": int(stored.get()), "seconds": t1 - t_connected, "rss_mb": peak_rss_mb() + worker_rss,
                "main_rss_mb": peak_rss_mb(), "worker_rss_mb": worker_rss, "stored_in_db": store.count()})


def run_consumer(target, args: tuple) -> dict | None:
    ctx = mp.get_context("spawn")
    result = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, result))
    process.start()
    value = result.get(timeout=900)
    process.join(60)
    return value


def publish_all(url: str, n: int) -> float:
    import simulator

    started = time.perf_counter()
    simulator.publish(messages(n), url, client_id="bench-publisher", max_inflight=1000)
    return n / (time.perf_counter() - started)


def measure(name: str, target, n: int, extra: tuple) -> dict:
    from core.mqtt import MosquittoBroker

    with tempfile.TemporaryDirectory(prefix=f"dw-bench-{name}-") as tmp, MosquittoBroker(Path(tmp) / "broker") as broker:
        run_consumer(target, (broker.url, n, *extra(tmp), True))
        publish_rate = publish_all(broker.url, n)
        figures = run_consumer(target, (broker.url, n, *extra(tmp), False))
    figures["rate"] = figures["count"] / figures["seconds"]
    figures["publish_rate"] = publish_rate
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--readings", type=int, default=200_000, help="readings to publish (default 200 000)")
    args = parser.parse_args()
    n = args.readings
    print(f"ingest throughput: {n} native readings, QoS 1, {DEVICES} devices, Mosquitto on loopback")
    bare = measure("bare", bare_subscriber, n, lambda tmp: ("bench-bare",))
    print(f"  bare paho subscriber (counts only): {bare['rate']:>9,.0f} msg/s  "
          f"({bare['count']} in {bare['seconds']:.2f} s; peak RSS {bare['rss_mb']:.0f} MB)")
    ours = measure("ingestor", dampwatch_ingestor, n, lambda tmp: (tmp,))
    print(f"  dampwatch ingestor -> SQLite:       {ours['rate']:>9,.0f} readings/s  "
          f"({ours['count']} stored in {ours['seconds']:.2f} s; peak RSS {ours['main_rss_mb']:.0f} MB ingestor "
          f"+ {ours['worker_rss_mb']:.0f} MB worker)")
    ratio = ours["rate"] / bare["rate"]
    print(f"  ratio ingestor / bare:              {ratio:9.2f}   (target >= 0.80)")
    print(f"  ingestor peak RSS, both processes:  {ours['rss_mb']:9.0f} MB (target < 150 MB)")
    print(f"  publisher rate (for reference):     {bare['publish_rate']:>9,.0f} msg/s")
    ok = ratio >= 0.8 and ours["rss_mb"] < 150 and ours["stored_in_db"] == n
    print("  result:", "targets met" if ok else "TARGET MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
