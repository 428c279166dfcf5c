"""The VictoriaMetrics readings backend (single node or cluster).

Writes go through ``influxdb-client``'s line protocol, exactly as for InfluxDB
(:mod:`core.store_influx`); VictoriaMetrics turns the line
``env,device=A temperature_c=20,humidity_pct=61.5 1795086000`` into the series
``env_temperature_c{device="A"}`` and ``env_humidity_pct{device="A"}``. Reads use
the Prometheus-compatible HTTP API: hourly aggregates with ``/api/v1/query_range``,
the latest reading with ``/api/v1/query``, readings with ``/api/v1/export``.

URL
---
::

    victoriametrics://[USER:PASSWORD@]HOST[:PORT][?OPTIONS]                single node, port 8428
    victoriametrics://[USER:PASSWORD@]HOST[:PORT]?tenant=0[&select=HOST:PORT]   cluster

``vm://`` is the same as ``victoriametrics://``; add ``+https`` (``victoriametrics+https://``)
for TLS. ``USER:PASSWORD`` is sent as HTTP basic authentication (``-httpAuth.*`` or vmauth).

* **Single node** (no ``tenant``): writes to ``http://HOST:8428/influx/api/v2/write``,
  reads from ``http://HOST:8428/prometheus/api/v1/...``.
* **Cluster** (``tenant=ACCOUNT`` or ``tenant=ACCOUNT:PROJECT``): writes to vminsert at
  ``http://HOST:PORT/insert/<tenant>/influx/api/v2/write`` (port 8480 by default) and reads
  from vmselect at ``http://SELECT/select/<tenant>/prometheus/api/v1/...``. ``select=HOST:PORT``
  names vmselect (port 8481 by default); without it reads go to ``HOST:PORT`` too, which is
  right when one load balancer or vmauth routes ``/insert/`` to vminsert and ``/select/`` to
  vmselect. Example: ``victoriametrics://vminsert.internal:8480?tenant=0&select=vmselect.internal:8481``.

Other options: ``measurement`` (default ``env``), ``timeout`` (seconds per HTTP request,
default 10), ``retries`` (extra attempts for a failed write, default 2), ``batch_size``
(lines per write request, default 5000), ``verify_ssl``, ``ca_file`` and
``check_dedup`` (default ``true``, see below).

Server set-up
-------------
VictoriaMetrics keeps every sample it is sent, so a reading that MQTT redelivers
would be stored twice unless deduplication is on. DampWatch's key is
``(device, second)``, so every VictoriaMetrics process that stores or queries data must run
with ``-dedup.minScrapeInterval=1s``: it then keeps one sample per series and second
(1.79 keeps the last one written, newer releases the largest value; a redelivery carries the
same values, so either way the write is idempotent). A larger interval would merge
distinct readings. Set ``-retentionPeriod`` to how long readings must be kept
(the default is one month, after which samples are deleted; for example ``-retentionPeriod=10y``).
The store reads ``/flags`` (single node, or vmselect in a cluster) once and raises
:class:`core.errors.ConfigError` when deduplication is off; ``check_dedup=false``
skips the check where ``/flags`` is not reachable.

Single node::

    victoria-metrics -storageDataPath=/var/lib/victoria-metrics -retentionPeriod=10y \\
        -dedup.minScrapeInterval=1s -httpListenAddr=:8428

Cluster (each component scales out on its own; put a load balancer or vmauth in front
of several vminsert and vmselect nodes)::

    vmstorage -storageDataPath=/var/lib/vmstorage -retentionPeriod=10y -dedup.minScrapeInterval=1s
        # listens on 8400 (from vminsert), 8401 (from vmselect), 8482 (HTTP)
    vminsert -storageNode=vmstorage-1:8400,vmstorage-2:8400     # HTTP on 8480
    vmselect -storageNode=vmstorage-1:8401,vmstorage-2:8401 -dedup.minScrapeInterval=1s   # HTTP on 8481

With ``-replicationFactor=N`` on vminsert, vmselect deduplicates the replicas with the
same ``-dedup.minScrapeInterval`` setting.

Writes and durability
---------------------
As for InfluxDB: synchronous requests of ``batch_size`` lines, transient failures retried
``retries`` times with backoff, then :class:`core.errors.StoreError`; ``write()`` returns
``stored=len(batch)``, ``duplicates=0``, ``stored_by_device=None`` because the server does
not say which samples it already had. VictoriaMetrics answers 204 once the samples are in
its in-memory buffers, which reach disk within ``-inmemoryDataFlushInterval`` (5 s by
default): a graceful stop (SIGINT/SIGTERM) flushes them, but a hard crash of the server
loses the last seconds of acknowledged writes (about 10 000 readings in one measured run).
The ingestor closes that window itself: it keeps recent batches on local disk and writes
them again when :meth:`VictoriaMetricsReadingsStore.started_at` (the server's process start
time) changes (:mod:`ingest.replay`, single node only).

Reads
-----
Hourly aggregates are computed by the server with ``/api/v1/query_range``
(``step=1h``). A rollup window ``[1h]`` evaluated at time ``t`` covers ``(t-1h, t]``;
readings are stored in whole seconds, so evaluating at ``h + 3599 s`` covers exactly
``[h, h+1h)``, the same hour buckets as the SQLite backend. A start or end that is not
on the hour gets its own instant query over the partial hour. Means are computed as
``sum_over_time / count_over_time`` summed by ``device``, so several series of one
device (a ``room`` label that changed) still give one exact row per hour. This was
measured against fetching the raw samples with ``/api/v1/export`` and aggregating in
pandas: both give the same frame (to 1e-12), and on 300 devices × 14 days of 10-minute
readings (605k readings, 100 800 hourly rows; 2-core machine, VictoriaMetrics 1.79.5) the
server-side query took 1.6–2.4 s against 2.6–3.8 s. The export moves every sample (12 per
device-hour here, more for devices that report more often) where ``query_range`` moves 4
numbers per device-hour, so the gap grows with the reporting rate.

Every query passes ``nocache=1``: devices back-fill old readings after an outage, and a
cached response would hide them (a cluster's vmselect does not see inserts, so it cannot
reset its cache by itself). ``latest`` asks for ``last_over_time`` and ``tlast_over_time``
over widening windows (two days, two months, everything); ``iter_readings`` finds each
device's first and last second, then exports its series in 92-day windows and joins them
by second; ``count`` sums ``count_over_time`` of the temperature series. "Everything"
starts at 2000-01-01 (ingest rejects readings from before 2015) and ends a day after the
store's clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, StoreError
from core.readings import HOURLY_COLUMNS, Reading, WriteResult, empty_hourly
from core.store_influx import (
    DEFAULT_BATCH_LINES,
    DEFAULT_TIMEOUT_S,
    DEFAULT_WRITE_RETRIES,
    DEVICES_PER_QUERY,
    FUTURE_HORIZON,
    LineProtocolWriter,
    UrlOptions,
    WriteTarget,
    chunked,
    encode_lines,
    epoch_seconds,
    finish_hourly,
    measurement_option,
    redact_url,
    require_client,
    split_scheme,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    HourlyPart: TypeAlias = tuple[str, str, NDArray[np.int64], NDArray[np.float64]]
    """One (device, aggregate) series of an hourly query: device_id, aggregate name, hours, values."""

logger = logging.getLogger(__name__)

VM_SCHEMES = ("victoriametrics", "vm")
VM_OPTIONS = (
    "tenant", "select", "measurement", "timeout", "retries", "batch_size", "verify_ssl", "ca_file", "check_dedup",
)
SINGLE_NODE_PORT = 8428
VMINSERT_PORT = 8480
VMSELECT_PORT = 8481
HOUR_S = 3600
#: Hours per ``query_range`` request (VictoriaMetrics allows 30 000 points per series by default).
HOURS_PER_QUERY = 24 * 366
#: Days of one device's readings per ``/api/v1/export`` request, to bound memory.
EXPORT_WINDOW_DAYS = 92
#: Windows ``latest`` tries in turn before it looks at the whole history.
LATEST_WINDOWS = (dt.timedelta(days=2), dt.timedelta(days=62))
#: The store's first second (2000-01-01): VictoriaMetrics finds nothing with a window that starts at
#: 0, and ingest rejects readings from before 2015 anyway.
EARLIEST_S = 946_684_800
TENANT_PATTERN = re.compile(r"^\d{1,10}(:\d{1,10})?$")
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
DURATION_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
    "y": 31536000,
}

# urllib3 comes with influxdb-client; without it the module still imports and require_client() says what is missing.
with contextlib.suppress(ImportError):
    import urllib3


@dataclasses.dataclass(frozen=True)
class VictoriaConfig:
    """A VictoriaMetrics readings URL, parsed."""

    write: WriteTarget
    read_base: str  # .../prometheus, to which /api/v1/... is appended
    flags_url: str
    measurement: str
    cluster: bool
    check_dedup: bool


def _host_port(value: str, default_port: int, url: str) -> str:
    parts = urllib.parse.urlsplit("//" + value)
    if not parts.hostname or parts.path or parts.query:
        raise ConfigError(f"VictoriaMetrics readings URL {url!r}: {value!r} must be HOST or HOST:PORT")
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(f"VictoriaMetrics readings URL {url!r}: {value!r} has an invalid port") from None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{host}:{port}"


def parse_victoria_url(url: str) -> VictoriaConfig:
    """Parse a ``victoriametrics://`` URL (see the module docstring)."""
    parts = urllib.parse.urlsplit(url)
    tls = split_scheme(parts.scheme, VM_SCHEMES)
    options = UrlOptions(url, parts.query, VM_OPTIONS)
    if not parts.hostname:
        raise ConfigError(
            f"VictoriaMetrics readings URL {options.url!r} has no host; use victoriametrics://127.0.0.1:8428"
        )
    if parts.path.strip("/"):
        raise ConfigError(
            f"VictoriaMetrics readings URL {options.url!r} must not have a path; "
            "choose a cluster tenant with ?tenant=0 and vmselect with &select=HOST:PORT"
        )
    scheme = "https" if tls else "http"
    tenant = options.text("tenant")
    cluster = tenant is not None
    if tenant is not None and not TENANT_PATTERN.match(tenant):
        raise ConfigError(
            f"VictoriaMetrics readings URL {options.url!r}: tenant {tenant!r} must be ACCOUNT or ACCOUNT:PROJECT, "
            "whole numbers (for example tenant=0)"
        )
    netloc = parts.netloc.rsplit("@", 1)[-1]
    insert = _host_port(netloc, VMINSERT_PORT if cluster else SINGLE_NODE_PORT, options.url)
    select_option = options.text("select")
    if select_option is not None and not cluster:
        raise ConfigError(
            f"VictoriaMetrics readings URL {options.url!r}: select= is for a cluster; add tenant=0 (or your tenant)"
        )
    select = _host_port(select_option, VMSELECT_PORT, options.url) if select_option else insert
    if cluster:
        write_base = f"{scheme}://{insert}/insert/{tenant}/influx"
        read_base = f"{scheme}://{select}/select/{tenant}/prometheus"
    else:
        write_base = f"{scheme}://{insert}/influx"
        read_base = f"{scheme}://{insert}/prometheus"
    basic = None
    if parts.username is not None or parts.password is not None:
        basic = f"{urllib.parse.unquote(parts.username or '')}:{urllib.parse.unquote(parts.password or '')}"
    write = WriteTarget(
        base_url=write_base,
        org="dampwatch",  # VictoriaMetrics ignores org and bucket
        bucket="dampwatch",
        basic_auth=basic,
        timeout_s=options.number("timeout", DEFAULT_TIMEOUT_S, minimum=0.1),
        retries=int(options.number("retries", DEFAULT_WRITE_RETRIES, minimum=0, integer=True)),
        batch_lines=int(options.number("batch_size", DEFAULT_BATCH_LINES, minimum=1, integer=True)),
        verify_ssl=options.flag("verify_ssl", True),
        ca_file=options.text("ca_file"),
        label="VictoriaMetrics",
    )
    return VictoriaConfig(
        write=write,
        read_base=read_base,
        flags_url=f"{scheme}://{select}/flags",
        measurement=measurement_option(options),
        cluster=cluster,
        check_dedup=options.flag("check_dedup", True),
    )


def duration_seconds(text: str) -> float:
    """A Go-style duration (``1s``, ``1m30s``, ``500ms``; VictoriaMetrics also uses ``d``, ``w``, ``y``)."""
    text = text.strip().strip('"')
    if text in ("", "0"):
        return 0.0
    total, position = 0.0, 0
    for match in DURATION_PART.finditer(text):
        if match.start() != position:
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group(1)) * DURATION_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(f"not a duration: {text!r}")
    return total


def metricsql_string(value: str) -> str:
    """A MetricsQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def device_matcher(device_ids: Sequence[str] | None) -> str:
    """The label filter ``{device=~"a|b"}`` for some devices, or ``{}`` for all."""
    if device_ids is None:
        return "{}"
    pattern = "|".join(re.escape(d) for d in device_ids)
    return "{device=~" + metricsql_string(pattern) + "}"


class VictoriaMetricsReadingsStore:
    """The VictoriaMetrics backend of :class:`core.readings.ReadingsStore` (see the module docstring).

    ``rooms`` maps device ids to room names for an optional ``room`` label (reads
    group by device, so leave it out unless something else needs it);
    ``on_write_error`` is called with the line count and exception of every failed
    write attempt.
    """

    def __init__(
        self,
        url: str,
        *,
        rooms: Mapping[str, str] | None = None,
        on_write_error: Callable[[int, BaseException], None] | None = None,
    ) -> None:
        require_client()
        self.url = url
        self.config = parse_victoria_url(url)
        self.measurement = self.config.measurement
        self.rooms = dict(rooms) if rooms else None
        self._writer = LineProtocolWriter(self.config.write, on_error=on_write_error)
        write = self.config.write
        self._timeout = urllib3.Timeout(connect=write.timeout_s, read=write.timeout_s)
        pool_options: dict[str, Any] = {"retries": False, "timeout": self._timeout, "maxsize": 4}
        if not write.verify_ssl:
            pool_options["cert_reqs"] = "CERT_NONE"
        if write.ca_file:
            pool_options["ca_certs"] = write.ca_file
        self._http = urllib3.PoolManager(**pool_options)
        self._headers = urllib3.make_headers(basic_auth=write.basic_auth) if write.basic_auth else {}
        self._dedup_checked = not self.config.check_dedup
        self._where = f"VictoriaMetrics at {redact_url(self.config.read_base)}"

    def _series(self, field: str) -> str:
        return f"{self.measurement}_{field}"

    # server checks

    def check_server(self) -> None:
        """Check once that the server deduplicates per second (see the module docstring).

        Raises :class:`ConfigError` when ``-dedup.minScrapeInterval`` is off or
        too long; when ``/flags`` cannot be read the check is skipped with a warning
        (and tried again next time if the server was unreachable).
        """
        if self._dedup_checked:
            return
        try:
            response = self._http.request("GET", self.config.flags_url, headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("cannot check VictoriaMetrics flags at %s yet: %s", self.config.flags_url, exc)
            return
        self._dedup_checked = True
        if response.status != 200:
            logger.warning(
                "cannot check VictoriaMetrics flags at %s (HTTP %d); make sure it runs with "
                "-dedup.minScrapeInterval=1s, or the store counts redelivered readings twice",
                self.config.flags_url, response.status,
            )
            return
        interval = None
        for line in response.data.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "-dedup.minScrapeInterval":
                interval = value
        interval = interval or "0"
        try:
            seconds = duration_seconds(interval)
        except ValueError:
            logger.warning("cannot read -dedup.minScrapeInterval=%s from %s", interval, self.config.flags_url)
            return
        which = "vmselect and vmstorage" if self.config.cluster else "victoria-metrics"
        if seconds <= 0:
            raise ConfigError(
                f"{self._where} runs without deduplication, so redelivered readings would be stored twice; "
                f"start {which} with -dedup.minScrapeInterval=1s (or add check_dedup=false to the readings URL)"
            )
        if seconds > 1:
            raise ConfigError(
                f"{self._where} runs with -dedup.minScrapeInterval={interval.strip(chr(34))}, which keeps one reading "
                f"per series in that interval and would drop readings; start {which} with -dedup.minScrapeInterval=1s"
            )

    def started_at(self) -> float | None:
        """When the VictoriaMetrics process started (``process_start_time_seconds`` in its ``/metrics``).

        The ingestor compares it between writes: a change means the server restarted and may have
        lost samples it had acknowledged but not flushed (see :mod:`ingest.replay`). None for a
        cluster, where the samples live in vmstorage nodes this URL does not reach.
        Raises :class:`StoreError` when the server does not answer.
        """
        if self.config.cluster:
            return None
        url = self.config.flags_url.rsplit("/", 1)[0] + "/metrics"
        try:
            response = self._http.request("GET", url, headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise StoreError(f"{self._where} does not answer {url}: {exc}") from exc
        if response.status != 200:
            raise StoreError(f"{self._where} answered {url} with HTTP {response.status}")
        for line in response.data.decode("utf-8", "replace").splitlines():
            if line.startswith("process_start_time_seconds"):
                try:
                    return float(line.split()[-1])
                except ValueError:
                    break
        logger.warning("%s has no process_start_time_seconds in %s; cannot tell when it restarts", self._where, url)
        return None

    # writes

    def write(self, readings: Sequence[Reading]) -> WriteResult:
        if not readings:
            return WriteResult(0, 0)
        self.check_server()
        self._writer.write_lines(encode_lines(readings, self.measurement, self.rooms))
        return WriteResult(stored=len(readings), duplicates=0, stored_by_device=None)

    # HTTP reads

    def _post(self, path: str, fields: Sequence[tuple[str, str]], *, stream: bool = False) -> Any:
        url = self.config.read_base + path
        try:
            response = self._http.request(
                "POST", url, fields=list(fields), encode_multipart=False, headers=self._headers,
                preload_content=not stream,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise StoreError(
                f"querying {self._where} failed: {type(exc).__name__}: {getattr(exc, 'reason', None) or exc}; "
                "check that it is running and reachable"
            ) from exc
        if response.status != 200:
            body = response.data.decode("utf-8", "replace")[:400]
            response.release_conn()
            hint = {
                401: "check the user and password in the readings URL",
                404: "check the host, tenant and select= in the readings URL",
            }.get(response.status, "see the server's message")
            raise StoreError(f"querying {self._where}{path} failed: HTTP {response.status}: {body}; {hint}")
        return response

    def _query(self, path: str, fields: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        response = self._post(path, [*fields, ("nocache", "1")])
        try:
            document = json.loads(response.data)
        except ValueError as exc:
            raise StoreError(f"{self._where}{path} answered with something that is not JSON: {exc}") from exc
        if document.get("status") != "success":
            raise StoreError(f"{self._where}{path} failed: {document.get('error', document)}")
        result: list[dict[str, Any]] = document["data"]["result"]  # Prometheus API: series with metric, value(s)
        return result

    def _instant(self, query: str, at_s: int) -> list[dict[str, Any]]:
        return self._query("/api/v1/query", [("query", query), ("time", str(at_s))])

    def _device_batches(self, device_ids: Iterable[str] | None) -> list[Sequence[str] | None]:
        if device_ids is None:
            return [None]
        return list(chunked(sorted(set(device_ids)), DEVICES_PER_QUERY))

    # hourly aggregates

    def _hourly_query(self, devices: Sequence[str] | None, window: str) -> str:
        temperature, humidity = self._series("temperature_c"), self._series("humidity_pct")
        return (
            f"WITH (f = {device_matcher(devices)}, t = {temperature}{{f}}, h = {humidity}{{f}}) union("
            f'label_set(sum(sum_over_time(t[{window}])) by (device) / sum(count_over_time(t[{window}])) by (device), '
            '"agg", "temperature_c"), '
            f'label_set(sum(sum_over_time(h[{window}])) by (device) / sum(count_over_time(h[{window}])) by (device), '
            '"agg", "humidity_pct"), '
            f'label_set(max(max_over_time(h[{window}])) by (device), "agg", "humidity_max_pct"), '
            f'label_set(sum(count_over_time(t[{window}])) by (device), "agg", "count"))'
        )

    def hourly(
        self,
        start: dt.datetime,
        end: dt.datetime,
        device_ids: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        start_s, end_s = epoch_seconds(start), epoch_seconds(end)
        if device_ids is not None:
            device_ids = list(device_ids)
        self.check_server()
        parts: list[HourlyPart] = []
        if end_s > start_s:
            first_full = -(-start_s // HOUR_S) * HOUR_S
            last_full = end_s // HOUR_S * HOUR_S
            for batch in self._device_batches(device_ids):
                if first_full < last_full:
                    self._full_hours(batch, first_full, last_full, parts)
                    if start_s < first_full:
                        self._partial_hour(batch, start_s, first_full, parts)
                    if last_full < end_s:
                        self._partial_hour(batch, last_full, end_s, parts)
                else:  # the range lies within one hour, or straddles one boundary
                    for low, high in ((start_s, min(first_full, end_s)), (max(first_full, start_s), end_s)):
                        if low < high:
                            self._partial_hour(batch, low, high, parts)
        return _hourly_from_parts(parts)

    @staticmethod
    def _collect(result: list[dict[str, Any]], parts: list[HourlyPart], hour_offset_s: int | None) -> None:
        """Add each (device, aggregate) series of a response to ``parts`` as arrays of hours and values.

        ``hour_offset_s`` is subtracted from each evaluation time to give the hour;
        None when the response is one instant query for a partial hour (``parts``
        then gets the hour from the caller).
        """
        import numpy as np

        for series in result:
            metric = series["metric"]
            device, agg = metric.get("device"), metric.get("agg")
            if device is None or agg is None:
                continue
            points = series.get("values") or [series["value"]]
            at, values = zip(*points, strict=True)
            hours = np.rint(np.asarray(at, dtype="float64")).astype("int64")
            if hour_offset_s is not None:
                hours -= hour_offset_s
            parts.append((device, agg, hours, np.asarray(values, dtype="float64")))

    def _full_hours(self, devices: Sequence[str] | None, first: int, last: int, parts: list[HourlyPart]) -> None:
        """Whole hours ``[first, last)``: one point per hour, evaluated at its last second."""
        query = self._hourly_query(devices, "1h")
        for chunk_start in range(first, last, HOURS_PER_QUERY * HOUR_S):
            chunk_end = min(last, chunk_start + HOURS_PER_QUERY * HOUR_S)
            result = self._query("/api/v1/query_range", [
                ("query", query),
                ("start", str(chunk_start + HOUR_S - 1)),
                ("end", str(chunk_end - 1)),
                ("step", f"{HOUR_S}s"),
            ])
            self._collect(result, parts, HOUR_S - 1)

    def _partial_hour(self, devices: Sequence[str] | None, low: int, high: int, parts: list[HourlyPart]) -> None:
        """Readings in ``[low, high)``, both within one hour: one instant query with a shorter window."""
        result = self._instant(self._hourly_query(devices, f"{high - low}s"), high - 1)
        found: list[HourlyPart] = []
        self._collect(result, found, None)
        hour = low // HOUR_S * HOUR_S
        parts.extend((device, agg, hours * 0 + hour, values) for device, agg, hours, values in found)

    # latest

    def _latest_query(self, devices: Sequence[str], window_s: int) -> str:
        parts = []
        for field in ("temperature_c", "humidity_pct", "battery_v", "seq", "flags"):
            selector = f"{self._series(field)}{{f}}[{window_s}s]"
            parts.append(f'label_set(last_over_time({selector}), "field", "{field}")')
            parts.append(f'label_set(tlast_over_time({selector}), "field", "t:{field}")')
        return f"WITH (f = {device_matcher(devices)}) union({', '.join(parts)})"

    def devices(self, start_s: int = EARLIEST_S, end_s: int | None = None) -> list[str]:
        """Device ids with temperature series in ``[start_s, end_s]`` (by the index's day granularity)."""
        end_s = end_s if end_s is not None else epoch_seconds(dt.datetime.now(dt.UTC) + FUTURE_HORIZON)
        response = self._post(
            "/api/v1/label/device/values",
            [("match[]", self._series("temperature_c")), ("start", str(start_s)), ("end", str(end_s))],
        )
        try:
            return sorted(json.loads(response.data)["data"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self._where} answered the device list with something unexpected: {exc}") from exc

    def latest(self, device_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        self.check_server()
        wanted = self.devices() if device_ids is None else sorted(set(device_ids))
        at_s = epoch_seconds(dt.datetime.now(dt.UTC) + FUTURE_HORIZON)
        windows = [int((w + FUTURE_HORIZON).total_seconds()) for w in LATEST_WINDOWS] + [at_s - EARLIEST_S]
        result: dict[str, Reading] = {}
        for window_s in windows:
            missing = [d for d in wanted if d not in result]
            for batch in chunked(missing, DEVICES_PER_QUERY):
                result.update(self._latest_in(batch, window_s, at_s))
            if len(result) == len(wanted):
                break
        return result

    def _latest_in(self, devices: Sequence[str], window_s: int, at_s: int) -> dict[str, Reading]:
        by_series: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
        for series in self._instant(self._latest_query(devices, window_s), at_s):
            labels = {k: v for k, v in series["metric"].items() if k not in ("__name__", "field")}
            key = tuple(sorted(labels.items()))
            by_series.setdefault(key, {})[series["metric"].get("field", "")] = float(series["value"][1])
        newest: dict[str, dict[str, float]] = {}
        for key, values in by_series.items():
            device = dict(key).get("device")
            if device is None or "t:temperature_c" not in values:
                continue
            best = newest.get(device)
            if best is None or values["t:temperature_c"] > best["t:temperature_c"]:
                newest[device] = values
        readings = {}
        for device, values in newest.items():
            ts_s = values["t:temperature_c"]
            # a field belongs to the newest reading only if it was last written at the same second
            same: dict[str, float] = {
                field: values[field]
                for field in ("temperature_c", "humidity_pct", "battery_v", "seq", "flags")
                if field in values and values.get(f"t:{field}") == ts_s
            }
            if "humidity_pct" not in same:
                continue
            readings[device] = _reading(device, int(ts_s), same)
        return readings

    # readings

    def iter_readings(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        device_ids: Iterable[str] | None = None,
    ) -> Iterator[Reading]:
        self.check_server()
        start_s = EARLIEST_S if start is None else max(EARLIEST_S, epoch_seconds(start))
        end_s = (
            epoch_seconds(dt.datetime.now(dt.UTC) + FUTURE_HORIZON) if end is None else epoch_seconds(end)
        )
        if end_s <= start_s:
            return
        window_s = EXPORT_WINDOW_DAYS * 86400
        for batch in self._device_batches(device_ids):
            bounds = self._bounds(batch, start_s, end_s)
            for device_id in sorted(bounds):
                first_s, last_s = bounds[device_id]
                for low in range(first_s, last_s + 1, window_s):
                    yield from self._export(device_id, low, min(low + window_s, last_s + 1))

    def _bounds(self, devices: Sequence[str] | None, start_s: int, end_s: int) -> dict[str, tuple[int, int]]:
        """The first and last second with a reading of each device in ``[start_s, end_s)``."""
        selector = f"{self._series('temperature_c')}{device_matcher(devices)}[{end_s - start_s}s]"
        query = (
            f'union(label_set(min(tfirst_over_time({selector})) by (device), "b", "first"), '
            f'label_set(max(tlast_over_time({selector})) by (device), "b", "last"))'
        )
        found: dict[str, dict[str, int]] = {}
        for series in self._instant(query, end_s - 1):
            metric = series["metric"]
            if "device" in metric:
                found.setdefault(metric["device"], {})[metric.get("b", "")] = int(float(series["value"][1]))
        return {d: (b["first"], b["last"]) for d, b in found.items() if "first" in b and "last" in b}

    def _export(self, device_id: str, low_s: int, high_s: int) -> Iterator[Reading]:
        """One device's readings in ``[low_s, high_s)``, by time."""
        names = "|".join(
            re.escape(self._series(f)) for f in ("temperature_c", "humidity_pct", "battery_v", "seq", "flags")
        )
        match = "{__name__=~" + metricsql_string(names) + ",device=" + metricsql_string(device_id) + "}"
        response = self._post(
            "/api/v1/export",
            # export includes both ends; the stored times are whole seconds, so stop 1 ms early
            [("match[]", match), ("start", str(low_s)), ("end", f"{high_s - 1}.999")],
        )
        by_time: dict[int, dict[str, float]] = {}
        prefix = len(self.measurement) + 1
        try:
            for line in response.data.splitlines():
                if not line.strip():
                    continue
                series = json.loads(line)
                field = series["metric"]["__name__"][prefix:]
                for at_ms, value in zip(series["timestamps"], series["values"], strict=True):
                    by_time.setdefault(at_ms // 1000, {})[field] = value
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{self._where} export of {device_id!r} is not what was expected: {exc}") from exc
        for ts_s in sorted(by_time):
            values = by_time[ts_s]
            if "temperature_c" in values and "humidity_pct" in values:
                yield _reading(device_id, ts_s, values)

    # count

    def count(self) -> int:
        self.check_server()
        at_s = epoch_seconds(dt.datetime.now(dt.UTC) + FUTURE_HORIZON)
        window_s = at_s - EARLIEST_S
        result = self._instant(f"sum(count_over_time({self._series('temperature_c')}[{window_s}s]))", at_s)
        return int(float(result[0]["value"][1])) if result else 0

    def close(self) -> None:
        self._writer.close()
        self._http.clear()


def _hourly_from_parts(parts: list[HourlyPart]) -> pd.DataFrame:
    """Series of ``(device, aggregate, hours, values)`` as the hourly frame (hours without readings dropped)."""
    if not parts:
        return empty_hourly()
    import numpy as np
    import pandas as pd

    long = pd.DataFrame({
        "device_id": np.concatenate([np.full(len(hours), device, dtype=object) for device, _, hours, _ in parts]),
        "hour": np.concatenate([hours for _, _, hours, _ in parts]),
        "agg": np.concatenate([np.full(len(hours), agg, dtype=object) for _, agg, hours, _ in parts]),
        "value": np.concatenate([values for _, _, _, values in parts]),
    })
    wide = long.dropna(subset=["value"]).pivot(index=["device_id", "hour"], columns="agg", values="value")
    wide = wide.reindex(columns=list(HOURLY_COLUMNS[2:])).dropna()
    wide = wide[wide["count"] > 0].reset_index()
    return finish_hourly(wide)


def _reading(device_id: str, ts_s: int, values: Mapping[str, float]) -> Reading:
    battery = values.get("battery_v")
    seq = values.get("seq")
    flags = values.get("flags")
    return Reading(
        device_id=device_id,
        ts=dt.datetime.fromtimestamp(ts_s, dt.UTC),
        temperature_c=float(values["temperature_c"]),
        humidity_pct=float(values["humidity_pct"]),
        battery_v=None if battery is None else float(battery),
        seq=None if seq is None else int(seq),
        flags=0 if flags is None else int(flags),
    )
