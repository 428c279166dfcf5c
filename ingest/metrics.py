"""The ingestor's counters, in Prometheus text format on a small HTTP port, and in the log."""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)


class IngestMetrics:
    """Counters for one ingestor; each instance has its own registry (tests run several)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.received = Counter(
            "dampwatch_ingest_messages_received", "MQTT messages received.", registry=self.registry
        )
        self.stored = Counter(
            "dampwatch_ingest_readings_stored", "Readings newly stored.", registry=self.registry
        )
        self.duplicates = Counter(
            "dampwatch_ingest_readings_duplicate",
            "Readings already stored (QoS 1 redeliveries, re-sent buffers).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "dampwatch_ingest_rejected",
            "Messages or readings sent to dead letters, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "dampwatch_ingest_batch_seconds",
            "Time to make one batch durable (store write and app database commit).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.spool_depth = Gauge(
            "dampwatch_ingest_spool_messages",
            "Messages waiting in the on-disk spool for the store to come back.",
            registry=self.registry,
        )
        self.spooled = Counter(
            "dampwatch_ingest_spooled", "Messages put in the spool while the store was unreachable.",
            registry=self.registry,
        )
        self.ignored = Counter(
            "dampwatch_ingest_ignored",
            "Messages of other systems that carry no reading (joins, status, bridge messages).",
            registry=self.registry,
        )
        self.retained_ignored = Counter(
            "dampwatch_ingest_retained_ignored",
            "Retained messages the broker sent again on (re)subscription, equal to the last one seen: not stored.",
            registry=self.registry,
        )
        self.pending = Gauge(
            "dampwatch_ingest_pending_messages",
            "Messages received but not yet acknowledged.",
            registry=self.registry,
        )
        self.connected = Gauge(
            "dampwatch_ingest_connected", "1 while connected to the broker.", registry=self.registry
        )
        self.stalled = Gauge(
            "dampwatch_ingest_stalled",
            "1 while readings are spooled but none has reached the store for DAMPWATCH_INGEST_STALL_AFTER_S.",
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "dampwatch_ingest_worker_restarts", "Ingest workers that died and were replaced.",
            registry=self.registry,
        )

        self._server: WSGIServer | None = None

    def serve(self, port: int, bind: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``bind:port`` in a background thread; return the port."""
        server, _thread = start_http_server(port, addr=bind, registry=self.registry)
        self._server = server
        return server.server_port

    def shutdown(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> dict[str, float]:
        """Current values by name (for logs, summaries and tests)."""
        values: dict[str, float] = {}
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name.endswith(("_created", "_bucket")):
                    continue
                label = ",".join(f"{k}={v}" for k, v in sample.labels.items())
                values[f"{sample.name}{{{label}}}" if label else sample.name] = sample.value
        return values

    def rejected_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for metric in self.registry.collect():
            if metric.name == "dampwatch_ingest_rejected":
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        out[sample.labels["reason"]] = int(sample.value)
        return out

    def log_line(self) -> str:
        snap = self.snapshot()
        rejected = sum(self.rejected_by_reason().values())
        return (
            f"received={int(snap.get('dampwatch_ingest_messages_received_total', 0))} "
            f"stored={int(snap.get('dampwatch_ingest_readings_stored_total', 0))} "
            f"duplicate={int(snap.get('dampwatch_ingest_readings_duplicate_total', 0))} "
            f"rejected={rejected} pending={int(snap.get('dampwatch_ingest_pending_messages', 0))} "
            f"spooled={int(snap.get('dampwatch_ingest_spooled_total', 0))} "
            f"spool_depth={int(snap.get('dampwatch_ingest_spool_messages', 0))} "
            f"ignored={int(snap.get('dampwatch_ingest_ignored_total', 0))}"
        )
