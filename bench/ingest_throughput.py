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
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere: core, ingest, bench, tests

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


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (Linux)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def dampwatch_ingestor(url: str, n: int, workdir: str, readings_url: str, client_id: str, group: str | None,
                       total, register_only: bool, result: mp.Queue) -> None:
    """One ingestor, as ``dampwatch ingest`` runs it; ``total`` counts what all ingestors have written."""
    from core.settings import Settings
    from ingest.service import Ingestor

    settings = Settings(
        var_dir=Path(workdir), database_url=f"sqlite:///{workdir}/app.db", readings_url=readings_url,
        metrics_port=0, mqtt_client_id=client_id, log_level="WARNING", mqtt_shared_group=group,
        ingest_spool_dir=Path(workdir) / f"spool-{client_id}",
    )
    if register_only and client_id.endswith("-0"):
        from core.db import Database
        from core.model import Device

        database = Database(settings.database_url)
        with database.session() as session:
            session.add_all(Device(device_id=d) for d in device_ids())
        database.dispose()
    ingestor = Ingestor(settings, broker_url=url)
    import threading

    thread = threading.Thread(target=ingestor.run, daemon=True)
    thread.start()
    ingestor.wait_connected(30)
    if register_only:
        time.sleep(0.5)
        ingestor.stop()
        thread.join(30)
        result.put(None)
        return
    deadline = time.monotonic() + 600
    metrics = ingestor.metrics
    counted = 0
    while total.value < n and time.monotonic() < deadline:
        written = int(metrics.stored._value.get() + metrics.duplicates._value.get())
        if written != counted:
            with total.get_lock():
                total.value += written - counted
            counted = written
        time.sleep(0.005)
    t1 = time.time()
    backend = ingestor._backend
    worker_rss = peak_rss_mb(backend._process.pid) if hasattr(backend, "_process") else 0.0
    ingestor.stop()
    thread.join(60)
    result.put({"count": counted, "rss_mb": peak_rss_mb() + worker_rss, "main_rss_mb": peak_rss_mb(),
                "worker_rss_mb": worker_rss, "t_connected": ingestor.connected_at, "t_done": t1})


def run_consumer(target, args: tuple) -> dict | None:
    return run_consumers(target, [args])[0]


def run_consumers(target, args_list: list[tuple]) -> list[dict | None]:
    """Run one consumer process per argument tuple, at the same time; their results in order."""
    ctx = mp.get_context("spawn")
    queues = [ctx.Queue() for _ in args_list]
    processes = [ctx.Process(target=target, args=(*args, q)) for args, q in zip(args_list, queues, strict=True)]
    for process in processes:
        process.start()
    values = [q.get(timeout=900) for q in queues]
    for process in processes:
        process.join(60)
    return values


def publish_all(url: str, n: int) -> float:
    import simulator

    started = time.perf_counter()
    simulator.publish(messages(n), url, client_id="bench-publisher", max_inflight=1000)
    return n / (time.perf_counter() - started)


def measure_bare(n: int, autosave_s: int | None = None) -> dict:
    from core.mqtt import AUTOSAVE_INTERVAL_S, MosquittoBroker

    autosave_s = autosave_s or AUTOSAVE_INTERVAL_S
    with tempfile.TemporaryDirectory(prefix="dw-bench-bare-") as tmp, MosquittoBroker(
        Path(tmp) / "broker", autosave_interval_s=autosave_s
    ) as broker:
        run_consumer(bare_subscriber, (broker.url, n, "bench-bare", True))
        publish_rate = publish_all(broker.url, n)
        figures = run_consumer(bare_subscriber, (broker.url, n, "bench-bare", False))
    figures["rate"] = figures["count"] / figures["seconds"]
    figures["publish_rate"] = publish_rate
    return figures


def measure_ingestors(n: int, backend: str, ingestors: int, autosave_s: int | None = None) -> dict:
    """DampWatch's ingestor(s) draining N queued readings into the chosen backend."""
    from core.mqtt import AUTOSAVE_INTERVAL_S, MosquittoBroker

    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dw-bench-ingest-"))
        broker = stack.enter_context(
            MosquittoBroker(Path(tmp) / "broker", autosave_interval_s=autosave_s or AUTOSAVE_INTERVAL_S)
        )
        if backend == "victoriametrics":
            from core.victoria_server import VictoriaMetricsServer

            victoria = VictoriaMetricsServer(Path(tmp) / "victoria").start()
            stack.callback(victoria.stop)
            readings_url = victoria.url
        else:
            readings_url = f"sqlite:///{tmp}/readings.db"
        group = "bench" if ingestors > 1 else None
        total = mp.get_context("spawn").Value("q", 0)
        args = [(broker.url, n, tmp, readings_url, f"bench-ingestor-{i}", group, total) for i in range(ingestors)]
        run_consumers(dampwatch_ingestor, [(*a, True) for a in args])
        publish_all(broker.url, n)
        results = run_consumers(dampwatch_ingestor, [(*a, False) for a in args])
        broker_cpu_s = process_cpu_s(broker._process.pid)
        from core.readings import open_store

        if backend == "victoriametrics":
            victoria.flush()
        store = open_store(readings_url)
        in_store = store.count()
        store.close()
    seconds = max(r["t_done"] for r in results) - min(r["t_connected"] for r in results)
    return {"rate": n / seconds, "seconds": seconds, "in_store": in_store, "rss_mb": max(r["rss_mb"] for r in results),
            "main_rss_mb": max(r["main_rss_mb"] for r in results), "worker_rss_mb": max(r["worker_rss_mb"] for r in results),
            "shares": [r["count"] for r in results], "broker_cpu_s": broker_cpu_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--readings", type=int, default=200_000, help="readings to publish (default 200 000)")
    parser.add_argument("--backend", choices=["sqlite", "victoriametrics"], default="sqlite",
                        help="readings store the ingestor writes to (default sqlite)")
    parser.add_argument("--ingestors", type=int, choices=[1, 2], default=1,
                        help="DampWatch ingestors sharing the load through an MQTT 5 shared subscription")
    parser.add_argument("--autosave", type=int, default=None, metavar="S",
                        help="Mosquitto's snapshot interval in seconds, its crash window (default: DampWatch's, "
                             "core.mqtt.AUTOSAVE_INTERVAL_S)")
    parser.add_argument("--peer", action="store_true",
                        help="also measure mqtt2influxdb writing the same messages to VictoriaMetrics "
                             "(pip install mqtt2influxdb; slow: about 250 msg/s)")
    parser.add_argument("--peer-readings", type=int, default=20_000, help="readings for the peer (default 20 000)")
    args = parser.parse_args()
    n = args.readings
    print(f"ingest throughput: {n} native readings, QoS 1, {DEVICES} devices, Mosquitto on loopback, "
          f"backend {args.backend}, {args.ingestors} ingestor(s)")
    from core.mqtt import AUTOSAVE_INTERVAL_S

    print(f"  Mosquitto snapshot every {args.autosave or AUTOSAVE_INTERVAL_S} s (autosave_interval)")
    bare = measure_bare(n, args.autosave)
    print(f"  bare paho subscriber (counts only):  {bare['rate']:>9,.0f} msg/s  "
          f"({bare['count']} in {bare['seconds']:.2f} s; peak RSS {bare['rss_mb']:.0f} MB)")
    ours = measure_ingestors(n, args.backend, args.ingestors, args.autosave)
    print(f"  dampwatch ingestor(s) -> {args.backend + ':':<11}{ours['rate']:>9,.0f} readings/s  "
          f"({ours['in_store']} in the store after {ours['seconds']:.2f} s; per ingestor: peak RSS "
          f"{ours['main_rss_mb']:.0f} MB + {ours['worker_rss_mb']:.0f} MB worker; shares {ours['shares']})")
    ratio = ours["rate"] / bare["rate"]
    # Issue 2's target is for the embedded SQLite store; with VictoriaMetrics its server shares the two cores.
    ratio_target = 0.8 if args.backend == "sqlite" and args.ingestors == 1 else 0.0
    print(f"  ratio ingestor / bare:               {ratio:9.2f}   "
          + (f"(target >= {ratio_target:.2f})" if ratio_target else "(no target: the store's server shares the cores)"))
    print(f"  ingestor peak RSS, both processes:   {ours['rss_mb']:9.0f} MB (target < 150 MB)")
    print(f"  Mosquitto CPU, publish and drain:    {ours['broker_cpu_s']:9.2f} s (snapshots included)")
    print(f"  publisher rate (for reference):      {bare['publish_rate']:>9,.0f} msg/s")
    ok = ratio >= ratio_target and ours["rss_mb"] < 150 and ours["in_store"] == n
    if args.peer:
        from bench.peer_mqtt2influxdb import measure_peer, native_messages

        with tempfile.TemporaryDirectory(prefix="dw-bench-peer-") as tmp:
            peer = measure_peer(args.peer_readings, native_messages, Path(tmp))
        print(f"  peer mqtt2influxdb -> VictoriaMetrics: {peer['rate']:>7,.0f} msg/s  "
              f"({peer['count']} in {peer['seconds']:.1f} s, {peer['mode']} mode, version {peer.get('version')})")
        peer_ratio = ours["rate"] / peer["rate"]
        print(f"  ratio dampwatch / mqtt2influxdb:     {peer_ratio:9.1f}   (target >= 3)")
        ok = ok and peer_ratio >= 3
    print("  result:", "targets met" if ok else "TARGET MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
