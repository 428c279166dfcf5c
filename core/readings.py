"""The readings store: one small interface, backends chosen by URL.

A backend keeps at most one reading per ``(device_id, ts)``: MQTT QoS 1
redelivers and devices re-send their buffers, so every write is idempotent.
Timestamps are kept to the whole second, in UTC.

Backends implement :class:`ReadingsStore`; :func:`open_store` picks one from
the URL scheme (``sqlite:///path``). Adding a backend means writing one class
and registering its scheme in ``BACKENDS``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.errors import ConfigError

if TYPE_CHECKING:  # pandas is imported where frames are built, so the ingestor never loads it
    import pandas as pd

#: Reading flag: the device sent no timestamp, so the ingest time was used.
FLAG_UNTIMED = 1

#: Columns of :meth:`ReadingsStore.hourly`, in order.
HOURLY_COLUMNS = (
    "device_id",
    "hour",
    "temperature_c",
    "humidity_pct",
    "humidity_max_pct",
    "count",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    """One canonical reading, whatever format it arrived in.

    ``ts`` is timezone-aware UTC; temperatures in °C, humidity in % RH,
    battery in volts. ``flags`` is a bit set (:data:`FLAG_UNTIMED`).
    """

    device_id: str
    ts: dt.datetime
    temperature_c: float
    humidity_pct: float
    battery_v: float | None = None
    seq: int | None = None
    flags: int = 0

    @property
    def epoch_s(self) -> int:
        """``ts`` as whole seconds since the Unix epoch."""
        return int(self.ts.timestamp())


@dataclasses.dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: rows newly stored and rows already there.

    ``stored_by_device`` breaks ``stored`` down by device where the backend
    can tell (SQLite can; a time-series database that upserts cannot: None).
    """

    stored: int
    duplicates: int
    stored_by_device: dict[str, int] | None = None


@runtime_checkable
class ReadingsStore(Protocol):
    """The interface every readings backend implements."""

    url: str

    def write(self, readings: Sequence[Reading]) -> WriteResult:
        """Store readings in one durable batch; a reading already stored is skipped.

        Returns only once the batch is durable, so a caller may then
        acknowledge the messages that carried it.
        """
        ...

    def hourly(
        self,
        start: dt.datetime,
        end: dt.datetime,
        device_ids: Iterable[str] | None = None,
    ) -> pd.DataFrame:
        """Hourly aggregates per device over ``[start, end)``.

        Columns :data:`HOURLY_COLUMNS`: ``hour`` is the tz-aware UTC start of
        the hour; mean temperature, mean and max humidity, and the number of
        readings. Hours with no reading are absent (not zero).
        """
        ...

    def latest(self, device_ids: Iterable[str] | None = None) -> dict[str, Reading]:
        """The most recent reading (by ``ts``) of each device."""
        ...

    def iter_readings(
        self,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        device_ids: Iterable[str] | None = None,
    ) -> Iterator[Reading]:
        """Every reading in ``[start, end)``, ordered by device then ``ts``."""
        ...

    def count(self) -> int:
        """How many readings the store holds."""
        ...

    def close(self) -> None:
        """Flush and release the backend's resources."""
        ...


def utc(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def empty_hourly() -> pd.DataFrame:
    """An empty frame with the hourly columns and dtypes."""
    import pandas as pd

    frame = pd.DataFrame({name: pd.Series(dtype="float64") for name in HOURLY_COLUMNS})
    frame["device_id"] = frame["device_id"].astype("object")
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    frame["count"] = frame["count"].astype("int64")
    return frame


def open_store(url: str) -> ReadingsStore:
    """Open the readings backend named by ``url``.

    Raises :class:`ConfigError` for a scheme no backend handles.
    """
    scheme = url.split(":", 1)[0].lower()
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(
            f"DAMPWATCH_READINGS_URL {url!r} has an unknown scheme {scheme!r}; use one of: {known} "
            "(for example sqlite:///var/readings.db)"
        )
    return factory(url)


def _open_sqlite(url: str) -> ReadingsStore:
    from core.store_sqlite import SQLiteReadingsStore

    return SQLiteReadingsStore(url)


def _open_influx(url: str) -> ReadingsStore:
    from core.store_influx import InfluxReadingsStore

    return InfluxReadingsStore(url)


def _open_victoria(url: str) -> ReadingsStore:
    from core.store_victoria import VictoriaMetricsReadingsStore

    return VictoriaMetricsReadingsStore(url)


# Time-series servers (issue 7): InfluxDB 2.x/Cloud as influxdb2://TOKEN@host:8086/ORG/BUCKET and
# VictoriaMetrics as victoriametrics://host:8428 (cluster: ?tenant=0&select=vmselect:8481); each also
# as +http or +https (TLS). The URL formats are documented in core/store_influx.py and core/store_victoria.py.
BACKENDS = {
    "sqlite": _open_sqlite,
    **{f"{name}{transport}": _open_influx for name in ("influxdb", "influxdb2") for transport in ("", "+http", "+https")},
    **{f"{name}{transport}": _open_victoria for name in ("victoriametrics", "vm") for transport in ("", "+http", "+https")},
}
