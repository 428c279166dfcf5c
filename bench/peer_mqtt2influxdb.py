"""The peer in the ingest benchmark (issue 7): mqtt2influxdb (PyPI) writing the same messages to VictoriaMetrics.

:func:`measure_peer` starts its own Mosquitto (:class:`core.mqtt.MosquittoBroker`)
and its own VictoriaMetrics (``core.victoria_server.VictoriaMetricsServer``),
runs the ``mqtt2influxdb`` bridge as a black box in a subprocess with a config
written here (topic ``dampwatch/+/up``, fields ``temperature_c`` and
``humidity_pct`` from the native JSON payload, tag ``device`` from the topic),
feeds it N messages at QoS 1 and times until all N ``temperature_c`` samples are
searchable in VictoriaMetrics.

Why not a persistent-session drain, as the DampWatch ingestor is measured:
mqtt2influxdb 2.x connects with MQTT 3.1.1, an empty client id (the broker
assigns one) and a clean session, none of it configurable, so whatever is
published while it is offline is lost. Two modes therefore:

``drain`` (default)
    The bridge connects and subscribes, then is frozen (SIGSTOP) while the N
    messages are published; the broker queues them for the frozen but still
    connected client. The clock starts at SIGCONT. Like the ingestor's drain, the
    consumer starts with the whole backlog waiting and does not share the CPU
    with the publisher. The freeze must stay well inside the bridge's 60 s MQTT
    keep-alive (the broker drops a client after 1.5 keep-alives), which is checked.
``live``
    The bridge runs while the publisher publishes; the clock starts when
    publishing starts. On a small machine the bridge then shares the CPU with the
    publisher, and it can never be faster than the publisher.

Both modes also report the span between the first and last sample's own
timestamps: mqtt2influxdb stamps each point with its processing time (it only
reads a numeric ``timestamp`` payload field, and the native payload carries an
ISO ``ts``), so that span is the bridge's own processing time, free of polling.
For the same reason VictoriaMetrics runs *without* ``-dedup.minScrapeInterval``:
with 1 s deduplication it would keep one processing-time sample per device per
second and the count would never reach N.

    python bench/peer_mqtt2influxdb.py               # 20 000 readings, drain mode
    python bench/peer_mqtt2influxdb.py -n 50000 --mode live
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MessagesFactory = Callable[[int], Iterable[tuple[str, bytes]]]

#: Topic filter the bridge subscribes to; its second segment is the device id.
TOPIC_FILTER = "dampwatch/+/up"
#: InfluxDB measurement; VictoriaMetrics names the series ``<measurement>_<field>``.
MEASUREMENT = "dampwatch"
FIELDS = ("temperature_c", "humidity_pct")
COUNTED_METRIC = f"{MEASUREMENT}_{FIELDS[0]}"
#: A device id the benchmark's messages never use: one reading from it proves the bridge is subscribed and writing.
PROBE_DEVICE = "peer-probe"
#: How often VictoriaMetrics is asked for the samples that became searchable since the last poll.
POLL_INTERVAL_S = 0.2
#: Recount everything once when no new sample has appeared for this long.
RESYNC_AFTER_S = 3.0
#: Give up when no new sample has become searchable for this long.
STALL_TIMEOUT_S = 60.0
#: The bridge's MQTT keep-alive is 60 s and Mosquitto drops a client silent for 1.5 of them;
#: a drain freeze longer than this is refused (the queued messages would be lost with its clean session).
MAX_FREEZE_S = 75.0
#: The bridge must be connected, subscribed and writing within this time.
STARTUP_TIMEOUT_S = 30.0


def peer_version() -> str:
    """The installed mqtt2influxdb version (``pip install mqtt2influxdb``)."""
    from importlib.metadata import version

    return version("mqtt2influxdb")


def bridge_config(mqtt_port: int, influx_port: int, qos: int = 1) -> dict:
    """The mqtt2influxdb configuration mapping the native payload to ``dampwatch_<field>{device=...}``.

    ``host`` needs its scheme: the bridge joins ``host:port`` and its InfluxDB
    v3 client reads a bare ``127.0.0.1:8428`` as a path and falls back to
    ``https://...:443``. VictoriaMetrics ignores the token, the org and the
    bucket (the bridge writes to ``/api/v2/write``); the config requires them.
    """
    return {
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
        "influxdb": {
            "host": "http://127.0.0.1",
            "port": influx_port,
            "token": "unused-by-victoriametrics",
            "org": "dampwatch",
            "bucket": "dampwatch",
        },
        "points": [
            {
                "measurement": MEASUREMENT,
                "topic": TOPIC_FILTER,
                "qos": qos,
                "fields": {field: f"$.payload.{field}" for field in FIELDS},
                "tags": {"device": "$.topic[1]"},
            }
        ],
    }


def native_messages(n: int, devices: int = 200) -> Iterator[tuple[str, bytes]]:
    """N native single-reading messages over ``devices`` devices, shaped like the benchmark's."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for i in range(n):
        step = i // devices
        ts = (start + dt.timedelta(minutes=10 * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = {"ts": ts, "temperature_c": round(18 + (i % 50) / 10, 2),
                   "humidity_pct": round(55 + (i % 300) / 10, 2), "battery_v": 2.95, "seq": step}
        yield f"dampwatch/bench-{i % devices:04d}/up", json.dumps(payload).encode()


# -- VictoriaMetrics, read over HTTP -----------------------------------------------------------


def _get(url: str, timeout_s: float = 10.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return response.read().decode()


def exported_samples(http: str, selector: str, start_ms: int | None = None) -> list[tuple[str, int]]:
    """``(device, timestamp_ms)`` of every searchable sample matching ``selector``, after a force flush.

    ``start_ms`` limits the export to samples stamped at or after it. ``end``
    is given explicitly, a day ahead: by default the export ends at the current
    whole second, which hides the samples the bridge stamped in the last second.
    """
    _get(f"{http}/internal/force_flush")
    args = {"match[]": selector, "format": "device,__timestamp__:unix_ms", "end": str(int(time.time()) + 86400)}
    if start_ms is not None:
        args["start"] = f"{start_ms / 1000:.3f}"
    text = _get(f"{http}/api/v1/export/csv?{urllib.parse.urlencode(args)}", timeout_s=60.0)
    return [(row[0], int(row[1])) for row in csv.reader(io.StringIO(text)) if row]


class VisibleCounter:
    """Counts the searchable samples of one selector, reading only those stamped since the last poll.

    mqtt2influxdb stamps a point, writes it and waits for the answer before it
    stamps the next, so once a sample stamped ``t`` is searchable every sample
    stamped before ``t`` is too: each poll exports only from the newest
    timestamp seen (inclusive; the samples seen at exactly that millisecond are
    remembered so they are not counted twice). The export therefore stays a few
    hundred rows however many samples are stored, and polling costs little.
    :meth:`full_count` exports everything, to confirm.
    """

    def __init__(self, http: str, selector: str) -> None:
        self.http = http
        self.selector = selector
        self.count = 0
        self.newest_ms: int | None = None
        self._at_newest: set[tuple[str, int]] = set()

    def poll(self) -> int:
        """Add the samples that became searchable since the last poll; return the running count."""
        fresh = [s for s in exported_samples(self.http, self.selector, self.newest_ms) if s not in self._at_newest]
        if fresh:
            self.count += len(fresh)
            newest = max(ts for _device, ts in fresh)
            if newest != self.newest_ms:
                self.newest_ms, self._at_newest = newest, set()
            self._at_newest.update(s for s in fresh if s[1] == newest)
        return self.count

    def full_count(self) -> int:
        """Every searchable sample of the selector, counted afresh."""
        return len(exported_samples(self.http, self.selector))


def counted_selector() -> str:
    """The benchmark's ``temperature_c`` samples, without the probe reading."""
    return f'{COUNTED_METRIC}{{device!="{PROBE_DEVICE}"}}'


# -- the bridge process ------------------------------------------------------------------------


def _proc_figures(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS (MB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss_mb = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            rss_mb = int(line.split()[1]) / 1024
    return cpu_s, rss_mb


class Bridge:
    """mqtt2influxdb running in a subprocess (``python -m mqtt2influxdb.cli -c <config>``)."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.frozen = False

    def start(self) -> Bridge:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mqtt2influxdb.cli", "-c", str(self.config_path), "-o", str(self.log_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the bridge is not running")
        return self.process.pid

    def check_alive(self) -> None:
        """Raise if the bridge has exited."""
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise RuntimeError(f"mqtt2influxdb exited (code {code}); its log ends: {self.tail_log()}")

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            os.kill(self.pid, signal.SIGCONT)
            self.frozen = False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Thaw if frozen, then SIGTERM (the bridge disconnects and closes its client); SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            if self.frozen:
                process.send_signal(signal.SIGCONT)
                self.frozen = False
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)

    def tail_log(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# -- the measurement ---------------------------------------------------------------------------


def _wait_for_probe(bridge: Bridge, broker_url: str, http: str) -> None:
    """Publish one reading from :data:`PROBE_DEVICE` until it is searchable: the bridge is subscribed and writing.

    The bridge's clean session drops anything published before its SUBSCRIBE, so
    the probe is published again every second until one lands.
    """
    import simulator

    payload = json.dumps({"ts": "2026-01-01T00:00:00Z", "temperature_c": 20.0, "humidity_pct": 50.0}).encode()
    topic = TOPIC_FILTER.replace("+", PROBE_DEVICE)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        bridge.check_alive()
        simulator.publish([(topic, payload)], broker_url, client_id="peer-probe-publisher")
        for _ in range(10):
            time.sleep(0.1)
            if exported_samples(http, f'{COUNTED_METRIC}{{device="{PROBE_DEVICE}"}}'):
                return
    raise TimeoutError(f"mqtt2influxdb wrote nothing within {STARTUP_TIMEOUT_S:g} s; its log ends: {bridge.tail_log()}")


def _wait_until_visible(bridge: Bridge, counter: VisibleCounter, n: int, deadline: float) -> tuple[float, float]:
    """Wait until ``n`` counted samples are searchable; return when the poll saw them (perf_counter, wall time).

    Polls every :data:`POLL_INTERVAL_S` with :meth:`VisibleCounter.poll`; when
    that reaches ``n``, a full export must confirm it (else polling goes on).
    After :data:`RESYNC_AFTER_S` without progress the running count is replaced
    by a full count once, in case the incremental one missed something.
    """
    last_count, last_progress, resynced = -1, time.monotonic(), False
    while True:
        bridge.check_alive()
        count = counter.poll()
        seen = time.perf_counter(), time.time()
        if count >= n:
            confirmed = counter.full_count()
            if confirmed >= n:
                return seen
            counter.count = confirmed  # should not happen: trust the full export and keep polling
        now = time.monotonic()
        if count != last_count:
            last_count, last_progress, resynced = count, now, False
        elif now - last_progress > RESYNC_AFTER_S and not resynced:
            counter.count, resynced = counter.full_count(), True
            continue
        elif now - last_progress > STALL_TIMEOUT_S:
            raise TimeoutError(f"no new sample became searchable for {STALL_TIMEOUT_S:g} s ({count} of {n}); "
                               f"the bridge's log ends: {bridge.tail_log()}")
        if now > deadline:
            raise TimeoutError(f"gave up at the overall timeout with {count} of {n} samples searchable")
        time.sleep(POLL_INTERVAL_S)


def measure_peer(
    n: int,
    messages_factory: MessagesFactory,
    workdir: Path,
    *,
    mode: str = "drain",
    qos: int = 1,
    timeout_s: float | None = None,
) -> dict:
    """Time mqtt2influxdb moving ``messages_factory(n)`` from a fresh Mosquitto into a fresh VictoriaMetrics.

    Parameters
    ----------
    n : int
        Messages to publish; each must be a native single reading on ``dampwatch/<device>/up``.
    messages_factory : callable
        ``messages_factory(n)`` yields ``(topic, payload_bytes)``.
    workdir : Path
        Holds the broker's and VictoriaMetrics' data, the bridge's config and every log.
    mode : {"drain", "live"}
        ``drain``: the bridge is frozen while the messages are published and timed
        from SIGCONT; ``live``: timed from the start of publishing (see the module docstring).
    qos : int
        QoS of the bridge's subscription (the messages are published at QoS 1).
    timeout_s : float, optional
        Bound on the whole wait; by default 120 s plus 20 ms per message.

    Returns
    -------
    dict
        ``count`` (searchable ``temperature_c`` samples), ``seconds``, ``rate``
        (count / seconds), ``mode``, and for reference ``publish_rate``,
        ``stamped_seconds`` / ``stamped_rate`` (from the samples' own timestamps),
        ``first_sample_after_s`` (clock start to the first sample's timestamp),
        ``visible_after_last_sample_s`` (last sample's timestamp to the count being confirmed),
        ``humidity_count``, ``devices``, ``cpu_seconds`` and ``rss_mb`` of the
        bridge over the measured interval, and ``version`` of mqtt2influxdb.
    """
    import yaml

    import simulator
    from core.mqtt import MosquittoBroker
    from core.victoria_server import VictoriaMetricsServer

    try:
        version = peer_version()
    except ImportError as exc:  # PackageNotFoundError
        raise RuntimeError("mqtt2influxdb is not installed in this Python; pip install mqtt2influxdb") from exc
    if mode not in ("drain", "live"):
        raise ValueError(f"mode must be 'drain' or 'live'; got {mode!r}")
    if n < 2:
        raise ValueError(f"n must be at least 2; got {n}")
    deadline = time.monotonic() + (timeout_s if timeout_s is not None else 120.0 + n / 50)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(MosquittoBroker(workdir / "broker"))
        victoria = VictoriaMetricsServer(workdir / "victoria", dedup=None)  # see the module docstring
        stack.callback(victoria.stop)
        victoria.start()
        config_path = workdir / "mqtt2influxdb.yml"
        config_path.write_text(yaml.safe_dump(bridge_config(broker.port, victoria.port, qos), sort_keys=False))
        bridge = Bridge(config_path, workdir / "mqtt2influxdb.log")
        stack.callback(bridge.stop)
        bridge.start()
        _wait_for_probe(bridge, broker.url, victoria.http)
        counter = VisibleCounter(victoria.http, counted_selector())

        cpu_before, _ = _proc_figures(bridge.pid)  # the frozen bridge uses none while the messages are published
        if mode == "drain":
            bridge.freeze()
        publish_started, wall_publish_started = time.perf_counter(), time.time()
        stats = simulator.publish(messages_factory(n), broker.url, client_id="peer-bench-publisher", max_inflight=1000)
        published = time.perf_counter()
        if mode == "drain":
            if published - publish_started > MAX_FREEZE_S:
                raise RuntimeError(f"publishing took {published - publish_started:.0f} s, longer than the bridge's "
                                   f"keep-alive allows a freeze ({MAX_FREEZE_S:g} s); use fewer messages or mode='live'")
            t0, wall_t0 = time.perf_counter(), time.time()
            bridge.thaw()
        else:
            t0, wall_t0 = publish_started, wall_publish_started
        t1, wall_t1 = _wait_until_visible(bridge, counter, n, deadline)
        cpu_after, rss_mb = _proc_figures(bridge.pid)

        samples = exported_samples(victoria.http, counted_selector())
        humidity = exported_samples(victoria.http, f'{MEASUREMENT}_{FIELDS[1]}{{device!="{PROBE_DEVICE}"}}')
        stamps = [ts for _device, ts in samples]
        stamped_s = (max(stamps) - min(stamps)) / 1000
        seconds = t1 - t0
        figures = {
            "count": len(samples),
            "seconds": seconds,
            "rate": len(samples) / seconds,
            "mode": mode,
            "publish_rate": stats.published / (published - publish_started),
            "stamped_seconds": stamped_s,
            "stamped_rate": (len(stamps) - 1) / stamped_s if stamped_s > 0 else float("inf"),
            "first_sample_after_s": min(stamps) / 1000 - wall_t0,
            "visible_after_last_sample_s": wall_t1 - max(stamps) / 1000,
            "humidity_count": len(humidity),
            "devices": len({device for device, _ts in samples}),
            "cpu_seconds": cpu_after - cpu_before,
            "rss_mb": rss_mb,
            "version": version,
        }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--readings", type=int, default=20_000, help="readings to publish (default 20 000)")
    parser.add_argument("--mode", choices=("drain", "live"), default="drain", help="see the module docstring")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dw-bench-peer-") as tmp:
        figures = measure_peer(args.readings, native_messages, Path(tmp), mode=args.mode)
    print(f"mqtt2influxdb {figures['version']} -> VictoriaMetrics, {args.readings} native readings, "
          f"QoS 1, mode {figures['mode']}")
    print(f"  rate:            {figures['rate']:>9,.0f} msg/s  ({figures['count']} temperature_c samples "
          f"searchable in {figures['seconds']:.2f} s; {figures['humidity_count']} humidity_pct; "
          f"{figures['devices']} devices)")
    print(f"  stamped rate:    {figures['stamped_rate']:>9,.0f} msg/s  (first to last sample's own timestamp, "
          f"{figures['stamped_seconds']:.2f} s)")
    print(f"  clock start -> first sample {figures['first_sample_after_s']:.2f} s; last sample -> count "
          f"confirmed {figures['visible_after_last_sample_s']:.2f} s")
    print(f"  bridge CPU:      {figures['cpu_seconds']:9.2f} s   ({figures['cpu_seconds'] / figures['count'] * 1e6:.0f} µs "
          f"per message); peak RSS {figures['rss_mb']:.0f} MB")
    print(f"  publisher rate:  {figures['publish_rate']:>9,.0f} msg/s (for reference)")
    return 0 if figures["count"] == args.readings else 1


if __name__ == "__main__":
    sys.exit(main())
