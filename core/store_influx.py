"""The InfluxDB readings backend (InfluxDB 2.x OSS and Cloud), through ``influxdb-client``.

URL
---
::

    influxdb2://TOKEN@HOST[:PORT]/ORG/BUCKET[?OPTIONS]          plain HTTP, port 8086 by default
    influxdb2+https://TOKEN@HOST[:PORT]/ORG/BUCKET[?OPTIONS]    HTTPS, port 443 by default

``influxdb://`` is the same as ``influxdb2://`` and ``+http`` may be spelled out.
``TOKEN`` is an API token with read and write access to the bucket; percent-encode
any ``/``, ``@`` or ``:`` in it (tokens InfluxDB generates need no encoding).
``USER:PASSWORD@`` instead sends HTTP basic authentication (InfluxDB 1.8 with its
v2 API, or a proxy). ``ORG`` is the organisation name or id and ``BUCKET`` the
bucket name, both percent-encoded if they hold ``/`` or spaces. For example::

    influxdb2://my-token@127.0.0.1:8086/housing/readings
    influxdb2+https://my-token@eu-central-1-1.aws.cloud2.influxdata.com/housing/readings

Options (all optional): ``measurement`` (default ``env``), ``timeout`` (seconds per
HTTP request, default 10), ``retries`` (extra attempts for a failed write, default
2), ``batch_size`` (lines per HTTP request, default 5000), ``token_file`` (read the
token from this file instead of the URL: Docker and Kubernetes secrets),
``verify_ssl`` (``false`` to accept a self-signed certificate) and ``ca_file``.

Data layout
-----------
One point per reading in the measurement ``env``, tagged with ``device`` and, when
the store was given a device→room mapping (``rooms=`` of
:class:`InfluxReadingsStore`), ``room``; fields ``temperature_c``, ``humidity_pct``,
``battery_v`` (when known), ``seq`` (integer, when known) and ``flags`` (integer)::

    env,device=sensor-0042,room=bathroom temperature_c=18.4,humidity_pct=71.2,battery_v=2.91,seq=1042i,flags=0i 1795086000

Timestamps are written in whole seconds, so a redelivered reading lands on the
same point and overwrites it with the same values: writes are idempotent. The
store cannot tell a new point from an overwrite, so :meth:`InfluxReadingsStore.write`
reports ``stored=len(batch)``, ``duplicates=0`` and ``stored_by_device=None``
(SQLite keeps the first copy and counts duplicates; InfluxDB keeps the last copy).
The ``room`` tag is the device's room when the reading was written; reads group by
``device`` only, so a device that moved keeps one history. Leave ``rooms`` out (the
default through :func:`core.readings.open_store`) when the room is not known at
ingest time: the app database knows where each device was, and a tag that changes
with every move would split a device's points over several series. A reading
rewritten after its device moved rooms would be stored twice (once per room tag).

Writes and durability
---------------------
:meth:`InfluxReadingsStore.write` returns only once InfluxDB has accepted every
line (HTTP 204), because the ingestor acknowledges the MQTT messages as soon as
it returns. It uses the client's synchronous write API in requests of
``batch_size`` lines; a request that fails with a transient error (connection
refused or reset, timeout, HTTP 429 or 5xx) is retried ``retries`` times with a
short backoff, each failure logged with its line count, and then
:class:`core.errors.StoreError` is raised. Nothing is buffered inside the store, so
nothing can be lost on close. The client's batching ``WriteApi`` returns before the
data is durable (failures reach only its error callback) and is slower: writing 605k
readings to VictoriaMetrics 1.79.5 in 5000-line batches, synchronous requests stored
~84k readings/s against ~49k/s for the batching API including its flush on close.
Errors that a retry cannot fix (HTTP 400, 401, 403, 404, 413) raise at once with
a message that says what to change. The whole write is bounded by
``(retries + 1) * timeout`` seconds plus at most a few seconds of backoff.

Reads
-----
Flux: hourly aggregates with ``aggregateWindow(every: 1h, timeSrc: "_start")``
(windows are aligned to the Unix epoch, so an hour is ``[h, h+1h)`` exactly as in
SQLite), the latest reading with per-series ``last()``, readings per device with
``pivot()``. InfluxDB 3 accepts this backend's writes through its v2-compatible
``/api/v2/write`` endpoint but has no Flux, so reads need InfluxDB 2.x or Cloud
(TSM); use VictoriaMetrics or SQLite for a store that must also be read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from math import isfinite
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, StoreError
from core.readings import HOURLY_COLUMNS, Reading, WriteResult, empty_hourly, utc

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

DEFAULT_MEASUREMENT = "env"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_WRITE_RETRIES = 2
DEFAULT_BATCH_LINES = 5000
#: First pause before retrying a failed write; it doubles per attempt up to the maximum.
RETRY_BACKOFF_S = 0.25
RETRY_BACKOFF_MAX_S = 2.0
#: Reads look this far past the store's clock for the newest readings (parse allows 10 minutes).
FUTURE_HORIZON = dt.timedelta(days=1)
#: Devices per query when a read names many devices.
DEVICES_PER_QUERY = 200
#: The fields of a point, in line-protocol order.
FIELDS = ("temperature_c", "humidity_pct", "battery_v", "seq", "flags")
MEASUREMENT_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: HTTP statuses after which the same request may succeed later.
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_PLAIN_TAG = re.compile(r"^[A-Za-z0-9_.:/-]*$")  # tag values that need no escaping (every valid device id)
_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\\": "\\\\"})

try:  # influxdb-client is an optional dependency: only this backend and VictoriaMetrics need it
    import influxdb_client
    import urllib3
    from influxdb_client.client.write_api import SYNCHRONOUS
    from influxdb_client.rest import ApiException

    HAVE_INFLUXDB_CLIENT = True
except ImportError:  # pragma: no cover - exercised only where the package is missing
    HAVE_INFLUXDB_CLIENT = False


def require_client() -> None:
    """Raise :class:`ConfigError` when ``influxdb-client`` is not installed."""
    if not HAVE_INFLUXDB_CLIENT:
        raise ConfigError(
            "the InfluxDB and VictoriaMetrics readings backends need the influxdb-client package: "
            "pip install 'influxdb-client>=1.40'"
        )


# --- line protocol -----------------------------------------------------------------------------


def escape_tag(value: str) -> str:
    """Escape a tag key or value for line protocol (commas, equals signs, spaces, backslashes)."""
    return value.translate(_TAG_ESCAPES)


def _not_finite(reading: Reading) -> StoreError:
    return StoreError(
        f"reading of {reading.device_id!r} at {reading.ts.isoformat()} has a value that is not a finite number "
        f"({reading.temperature_c} °C, {reading.humidity_pct} %, {reading.battery_v} V); only finite numbers can "
        "be stored (ingest.parse rejects such readings before they reach the store)"
    )


def encode_line(reading: Reading, measurement: str = DEFAULT_MEASUREMENT, room: str | None = None) -> str:
    """One reading as a line of InfluxDB line protocol, time-stamped in whole seconds.

    ``battery_v`` and ``seq`` are left out when unknown and ``flags`` when 0
    (readers take a missing ``flags`` as 0), which saves a sample per reading
    in VictoriaMetrics.
    """
    temperature, humidity = float(reading.temperature_c), float(reading.humidity_pct)
    if not (isfinite(temperature) and isfinite(humidity)):
        raise _not_finite(reading)
    fields = f"temperature_c={temperature!r},humidity_pct={humidity!r}"
    if reading.battery_v is not None:
        battery = float(reading.battery_v)
        if not isfinite(battery):
            raise _not_finite(reading)
        fields += f",battery_v={battery!r}"
    if reading.seq is not None:
        fields += f",seq={int(reading.seq)}i"
    if reading.flags:
        fields += f",flags={int(reading.flags)}i"
    device = reading.device_id
    if not _PLAIN_TAG.match(device):
        device = escape_tag(device)
    tags = f"device={device},room={escape_tag(room)}" if room else f"device={device}"
    return f"{measurement},{tags} {fields} {int(reading.ts.timestamp())}"


def encode_lines(
    readings: Sequence[Reading], measurement: str, rooms: Mapping[str, str] | None = None
) -> list[str]:
    """Every reading as a line of line protocol (see :func:`encode_line`)."""
    if not rooms:
        return [encode_line(r, measurement) for r in readings]
    return [encode_line(r, measurement, rooms.get(r.device_id)) for r in readings]


# --- URL options -------------------------------------------------------------------------------


class UrlOptions:
    """The ``?name=value`` options of a readings URL, each read once; unknown names are an error."""

    def __init__(self, url: str, query: str, known: Iterable[str]) -> None:
        self.url = redact_url(url)
        self._values = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        unknown = sorted(set(self._values) - set(known))
        if unknown:
            raise ConfigError(
                f"readings URL {self.url!r} has unknown option(s) {', '.join(unknown)}; "
                f"known options: {', '.join(sorted(known))}"
            )

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._values.get(name)
        return default if value in (None, "") else value

    def number(self, name: str, default: float, *, minimum: float, integer: bool = False) -> float:
        raw = self._values.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            raise ConfigError(
                f"readings URL {self.url!r}: option {name}={raw!r} must be a {'whole ' if integer else ''}number"
            ) from None
        if not (math.isfinite(value) and value >= minimum):
            raise ConfigError(f"readings URL {self.url!r}: option {name}={raw!r} must be at least {minimum:g}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._values.get(name)
        if raw in (None, ""):
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"readings URL {self.url!r}: option {name}={raw!r} must be true or false")


def redact_url(url: str) -> str:
    """The URL with its credentials replaced by ``***``, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def split_scheme(scheme: str, names: Iterable[str]) -> bool:
    """Whether a readings URL scheme such as ``influxdb2+https`` asks for TLS; ``ConfigError`` if unknown."""
    base, _, transport = scheme.lower().partition("+")
    if base not in names or transport not in ("", "http", "https"):
        raise ConfigError(
            f"readings URL scheme {scheme!r} is not one of {', '.join(sorted(names))} "
            "(optionally followed by +http or +https)"
        )
    return transport == "https"


def measurement_option(options: UrlOptions) -> str:
    """The ``measurement`` option, checked to be a plain identifier."""
    measurement = options.text("measurement", DEFAULT_MEASUREMENT)
    assert measurement is not None
    if not MEASUREMENT_PATTERN.match(measurement):
        raise ConfigError(
            f"readings URL {options.url!r}: measurement {measurement!r} must be letters, digits and "
            "underscores, starting with a letter or underscore (for example env)"
        )
    return measurement


def read_secret_file(path: str, what: str) -> str:
    """The stripped contents of a secret file named in a URL option."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} from {path!r}: {exc.strerror}; check the path and its permissions") from exc
    if not value:
        raise ConfigError(f"the {what} file {path!r} is empty")
    return value


# --- the writer both InfluxDB and VictoriaMetrics use ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class WriteTarget:
    """Where and how line protocol is written."""

    base_url: str  # the client appends /api/v2/write to it
    org: str
    bucket: str
    token: str | None = None
    basic_auth: str | None = None  # "user:password"
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_WRITE_RETRIES
    batch_lines: int = DEFAULT_BATCH_LINES
    verify_ssl: bool = True
    ca_file: str | None = None
    label: str = "InfluxDB"  # the server's kind, for messages


class LineProtocolWriter:
    """Writes line protocol synchronously in bounded requests, retrying transient failures.

    :meth:`write_lines` returns once the server accepted every line, or raises
    :class:`StoreError` after ``retries`` further attempts. ``on_error`` (optional)
    is called with the number of lines and the exception for every failed
    attempt, for metrics; the failure is logged either way.
    """

    def __init__(
        self,
        target: WriteTarget,
        *,
        on_error: Callable[[int, BaseException], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        require_client()
        self.target = target
        self.on_error = on_error
        self._sleep = sleep
        kwargs: dict[str, Any] = {"verify_ssl": target.verify_ssl, "retries": False}
        if target.ca_file:
            kwargs["ssl_ca_cert"] = target.ca_file
        if target.basic_auth is not None:
            kwargs["auth_basic"] = True
            token = target.basic_auth
        else:
            token = target.token or ""
        self._client = influxdb_client.InfluxDBClient(
            url=target.base_url, token=token, org=target.org, timeout=int(target.timeout_s * 1000), **kwargs
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write every line; return once all are durable or raise :class:`StoreError`."""
        size = self.target.batch_lines
        for start in range(0, len(lines), size):
            self._write_chunk("\n".join(lines[start:start + size]), min(size, len(lines) - start))

    def _write_chunk(self, body: str, line_count: int) -> None:
        attempts = self.target.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                self._write_api.write(
                    bucket=self.target.bucket,
                    org=self.target.org,
                    record=body,
                    # the client annotates WritePrecision, but its constants (WritePrecision.S) are plain str
                    write_precision=influxdb_client.WritePrecision.S,  # type: ignore[arg-type]
                )
                return
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                transient = _is_transient(exc)
                logger.warning(
                    "writing %d lines to %s at %s failed (attempt %d of %d): %s",
                    line_count, self.target.label, redact_url(self.target.base_url), attempt,
                    attempts if transient else attempt, _describe(exc),
                )
                if self.on_error is not None:
                    self.on_error(line_count, exc)
                if not transient:
                    raise StoreError(self._permanent_message(exc, line_count)) from exc
                if attempt == attempts:
                    raise StoreError(
                        f"writing {line_count} readings to {self.target.label} at {redact_url(self.target.base_url)} "
                        f"failed {attempts} times: {_describe(exc)}; check that the server is running and "
                        "reachable (the batch was not acknowledged, so it can be written again)"
                    ) from exc
                self._sleep(min(RETRY_BACKOFF_S * 2 ** (attempt - 1), RETRY_BACKOFF_MAX_S))

    def _permanent_message(self, exc: BaseException, line_count: int) -> str:
        where = f"{self.target.label} at {redact_url(self.target.base_url)}"
        status = getattr(exc, "status", None)
        hints: dict[int | None, str] = {
            400: "the server rejected the request; check that the readings URL points at the server's write API, "
                 "else report a DampWatch bug with the server's message",
            401: "the token or password was refused; check the credentials in the readings URL",
            403: "the token may not write to this bucket; give it write access",
            404: "the organisation, bucket or path does not exist; check the readings URL",
            413: "the request was too large; lower batch_size in the readings URL",
        }
        hint = hints.get(status, "check the readings URL and the server's log")
        return f"writing {line_count} readings to {where} failed: {_describe(exc)}; {hint}"

    def close(self) -> None:
        """Release the HTTP connections (the synchronous API holds no unsent lines)."""
        self._write_api.close()  # type: ignore[no-untyped-call]  # influxdb-client leaves close() unannotated
        self._client.close()  # type: ignore[no-untyped-call]  # influxdb-client leaves close() unannotated


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status == 0 or exc.status in TRANSIENT_HTTP_STATUSES
    return True  # connection refused or reset, timeouts, DNS failures


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
        body = " ".join(body.split())[:300]
        return f"HTTP {exc.status} {exc.reason or ''}".strip() + (f": {body}" if body else "")
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"


# --- frames ------------------------------------------------------------------------------------


HourlyRow = tuple[str, int, float, float, float, int]
"""One row of the hourly frame: device_id, hour (epoch seconds), mean °C, mean %, max %, count."""


def hourly_frame(rows: list[HourlyRow]) -> pd.DataFrame:
    """Rows ``(device_id, hour epoch seconds, mean °C, mean %, max %, count)`` as the hourly frame."""
    if not rows:
        return empty_hourly()
    import pandas as pd

    return finish_hourly(pd.DataFrame.from_records(rows, columns=list(HOURLY_COLUMNS)))


def finish_hourly(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame of :data:`HOURLY_COLUMNS` (``hour`` in epoch seconds) the SQLite backend's order and dtypes.

    Sorted by device then hour, ``hour`` tz-aware UTC, ``count`` int64, the rest float64.
    """
    import pandas as pd

    if frame.empty:
        return empty_hourly()
    frame = frame[list(HOURLY_COLUMNS)].sort_values(["device_id", "hour"], kind="stable").reset_index(drop=True)
    frame["device_id"] = frame["device_id"].astype("str")  # the default string dtype, as SQLite gives
    frame["hour"] = pd.to_datetime(frame["hour"].astype("int64"), unit="s", utc=True)
    for name in ("temperature_c", "humidity_pct", "humidity_max_pct"):
        frame[name] = frame[name].astype("float64")
    frame["count"] = frame["count"].astype("int64")
    frame.columns.name = None
    return frame


def epoch_seconds(value: dt.datetime) -> int:
    """Whole seconds since the epoch, truncated like the SQLite backend's bounds."""
    return int(utc(value).timestamp())


def chunked(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- the InfluxDB store ------------------------------------------------------------------------

INFLUX_SCHEMES = ("influxdb", "influxdb2")
INFLUX_OPTIONS = ("measurement", "timeout", "retries", "batch_size", "token_file", "verify_ssl", "ca_file")


@dataclasses.dataclass(frozen=True)
class InfluxConfig:
    """An InfluxDB readings URL, parsed."""

    write: WriteTarget
    measurement: str


def parse_influx_url(url: str) -> InfluxConfig:
    """Parse an ``influxdb2://TOKEN@HOST:PORT/ORG/BUCKET`` URL (see the module docstring)."""
    parts = urllib.parse.urlsplit(url)
    tls = split_scheme(parts.scheme, INFLUX_SCHEMES)
    options = UrlOptions(url, parts.query, INFLUX_OPTIONS)
    example = "influxdb2://TOKEN@127.0.0.1:8086/ORG/BUCKET"
    if not parts.hostname:
        raise ConfigError(f"InfluxDB readings URL {options.url!r} has no host; use {example}")
    try:
        port = parts.port or (443 if tls else 8086)
    except ValueError:
        raise ConfigError(f"InfluxDB readings URL {options.url!r} has an invalid port") from None
    segments = [urllib.parse.unquote(s) for s in parts.path.strip("/").split("/")] if parts.path.strip("/") else []
    if len(segments) != 2 or not all(segments):
        raise ConfigError(
            f"InfluxDB readings URL {options.url!r} must name the organisation and bucket as its path: {example}"
        )
    org, bucket = segments
    token = basic = None
    token_file = options.text("token_file")
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    if token_file:
        token = read_secret_file(token_file, "InfluxDB token")
    elif username and password:
        basic = f"{username}:{password}"
    elif username or password:
        token = username or password
    else:
        raise ConfigError(
            f"InfluxDB readings URL {options.url!r} has no token; put it before the host ({example}) "
            "or name a file with ?token_file=/run/secrets/influx_token"
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    write = WriteTarget(
        base_url=f"{'https' if tls else 'http'}://{host}:{port}",
        org=org,
        bucket=bucket,
        token=token,
        basic_auth=basic,
        timeout_s=options.number("timeout", DEFAULT_TIMEOUT_S, minimum=0.1),
        retries=int(options.number("retries", DEFAULT_WRITE_RETRIES, minimum=0, integer=True)),
        batch_lines=int(options.number("batch_size", DEFAULT_BATCH_LINES, minimum=1, integer=True)),
        verify_ssl=options.flag("verify_ssl", True),
        ca_file=options.text("ca_file"),
        label="InfluxDB",
    )
    return InfluxConfig(write=write, measurement=measurement_option(options))


def flux_string(value: str) -> str:
    """A Flux string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def flux_time(value: dt.datetime) -> str:
    """A Flux time literal (RFC 3339, UTC, whole seconds)."""
    return utc(value).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class InfluxReadingsStore:
    """The InfluxDB 2.x backend of :class:`core.readings.ReadingsStore` (see the module docstring).

    ``rooms`` maps device ids to room names for the optional ``room`` tag;
    ``on_write_error`` is called with the line count and exception of every
    failed write attempt (for metrics).
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
        config = parse_influx_url(url)
        self.measurement = config.measurement
        self.bucket = config.write.bucket
        self.org = config.write.org
        self.rooms = dict(rooms) if rooms else None
        self._writer = LineProtocolWriter(config.write, on_error=on_write_error)
        self._query_api = self._writer._client.query_api()
        self._where = f"{config.write.label} at {redact_url(config.write.base_url)}"

    # writes

    def write(self, readings: Sequence[Reading]) -> WriteResult:
        if not readings:
            return WriteResult(0, 0)
        self._writer.write_lines(encode_lines(readings, self.measurement, self.rooms))
        return WriteResult(stored=len(readings), duplicates=0, stored_by_device=None)

    # reads

    def _query(self, flux: str) -> list[Any]:
        """Run a Flux query and return its records; failures raise :class:`StoreError`."""
        try:
            tables = self._query_api.query(flux, org=self.org)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreError(
                f"querying {self._where} failed: {_describe(exc)}; check that the server is running, "
                "that the bucket exists and that the token may read it"
            ) from exc
        return [record for table in tables for record in table.records]

    def _source(self, start: dt.datetime | None, end: dt.datetime | None) -> str:
        stop = end if end is not None else dt.datetime.now(dt.UTC) + FUTURE_HORIZON
        return (
            f"from(bucket: {flux_string(self.bucket)})\n"
            f"  |> range(start: {flux_time(start if start is not None else EPOCH)}, stop: {flux_time(stop)})\n"
            f"  |> filter(fn: (r) => r._measurement == {flux_string(self.measurement)})\n"
        )

    @staticmethod
    def _device_filter(device_ids: Sequence[str] | None) -> str:
        if device_ids is None:
            return ""
        if len(device_ids) <= 50:  # equality tests are pushed down to the storage engine
            test = " or ".join(f"r.device == {flux_string(d)}" for d in device_ids)
        else:
            test = f"contains(value: r.device, set: [{', '.join(flux_string(d) for d in device_ids)}])"
        return f"  |> filter(fn: (r) => {test})\n"

    def _device_batches(self, device_ids: Iterable[str] | None) -> list[Sequence[str] | None]:
        if device_ids is None:
            return [None]
        ids = sorted(set(device_ids))
        return list(chunked(ids, DEVICES_PER_QUERY))

    def hourly(
        self,
        start: dt.datetime,
        end: dt.datetime,
        device_ids: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        rows: list[HourlyRow] = []
        for batch in self._device_batches(device_ids):
            if batch is not None and not batch:
                continue
            flux = (
                "data = "
                + self._source(dt.datetime.fromtimestamp(epoch_seconds(start), dt.UTC),
                               dt.datetime.fromtimestamp(epoch_seconds(end), dt.UTC))
                + '  |> filter(fn: (r) => r._field == "temperature_c" or r._field == "humidity_pct")\n'
                + self._device_filter(batch)
                + '  |> group(columns: ["device", "_field"])\n'
                + _hourly_flux_tail()
            )
            for record in self._query(flux):
                values = record.values
                if values.get("count") is None or values.get("temperature_c") is None:
                    continue
                rows.append((
                    values["device"],
                    int(record.get_time().timestamp()),
                    float(values["temperature_c"]),
                    float(values["humidity_pct"]),
                    float(values["humidity_max_pct"]),
                    int(values["count"]),
                ))
        return hourly_frame(rows)

    def latest(self, device_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        result: dict[str, Reading] = {}
        for batch in self._device_batches(device_ids):
            if batch is not None and not batch:
                continue
            flux = (
                self._source(None, None)
                + self._device_filter(batch)
                + "  |> last()\n"
                + '  |> group(columns: ["device"])\n'
                + '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
            )
            for record in self._query(flux):
                reading = _reading_from_values(record.values["device"], record.get_time(), record.values)
                if reading is None:
                    continue  # a row of older fields (say battery_v) that the newest reading lacked
                known = result.get(reading.device_id)
                if known is None or reading.ts > known.ts:
                    result[reading.device_id] = reading
        return result

    def _devices(self, start: dt.datetime | None, end: dt.datetime | None) -> list[str]:
        flux = (
            self._source(start, end)
            + '  |> filter(fn: (r) => r._field == "temperature_c")\n'
            + "  |> last()\n"
            + '  |> keep(columns: ["device"])\n'
        )
        return sorted({record.values["device"] for record in self._query(flux)})

    def iter_readings(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        device_ids: Iterable[str] | None = None,
    ) -> Iterator[Reading]:
        start_at = None if start is None else dt.datetime.fromtimestamp(epoch_seconds(start), dt.UTC)
        end_at = None if end is None else dt.datetime.fromtimestamp(epoch_seconds(end), dt.UTC)
        devices = self._devices(start_at, end_at)
        if device_ids is not None:
            wanted = set(device_ids)
            devices = [d for d in devices if d in wanted]
        for device_id in devices:
            flux = (
                self._source(start_at, end_at)
                + self._device_filter([device_id])
                + '  |> group(columns: ["device"])\n'
                + '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
                + '  |> sort(columns: ["_time"])\n'
            )
            try:
                records = self._query_api.query_stream(flux, org=self.org)
                for record in records:
                    # what the unannotated record.get_time() returns
                    reading = _reading_from_values(device_id, record.values["_time"], record.values)
                    if reading is not None:
                        yield reading
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise StoreError(f"reading the readings of {device_id!r} from {self._where} failed: {_describe(exc)}") from exc

    def count(self) -> int:
        flux = (
            self._source(None, None)
            + '  |> filter(fn: (r) => r._field == "temperature_c")\n'
            + "  |> count()\n"
            + "  |> group()\n"
            + "  |> sum()\n"
        )
        return sum(int(record.get_value() or 0) for record in self._query(flux))

    def close(self) -> None:
        self._writer.close()


def _hourly_flux_tail() -> str:
    """Flux that turns ``data`` (temperature and humidity per device) into hourly rows."""
    window = 'every: 1h, createEmpty: false, timeSrc: "_start"'
    return (
        f'temperature = data |> filter(fn: (r) => r._field == "temperature_c") |> aggregateWindow({window}, fn: mean)\n'
        f'humidity = data |> filter(fn: (r) => r._field == "humidity_pct") |> aggregateWindow({window}, fn: mean)\n'
        f'humidity_max = data |> filter(fn: (r) => r._field == "humidity_pct") |> aggregateWindow({window}, fn: max)\n'
        '  |> set(key: "_field", value: "humidity_max_pct")\n'
        f'readings = data |> filter(fn: (r) => r._field == "temperature_c") |> aggregateWindow({window}, fn: count)\n'
        '  |> toFloat() |> set(key: "_field", value: "count")\n'
        "union(tables: [temperature, humidity, humidity_max, readings])\n"
        '  |> group(columns: ["device"])\n'
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
    )


def _reading_from_values(device_id: str, ts: dt.datetime, values: Mapping[str, Any]) -> Reading | None:
    """A reading from a pivoted row; None when the row lacks temperature or humidity."""
    temperature = values.get("temperature_c")
    humidity = values.get("humidity_pct")
    if temperature is None or humidity is None:
        return None
    battery = values.get("battery_v")
    seq = values.get("seq")
    flags = values.get("flags")
    return Reading(
        device_id=device_id,
        ts=utc(ts).replace(microsecond=0),
        temperature_c=float(temperature),
        humidity_pct=float(humidity),
        battery_v=None if battery is None else float(battery),
        seq=None if seq is None else int(seq),
        flags=0 if flags is None else int(flags),
    )
