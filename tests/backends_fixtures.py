"""Real time-series servers for the readings-store tests, and checks every backend must pass.

:class:`VictoriaMetricsServer` (from ``core.victoria_server``) runs Debian's ``victoria-metrics`` binary on a free
loopback port with a temporary data folder. It can be stopped and started again on
the same port and data, which is how the store-outage tests (and the ingestor's
spool tests) take the store away and bring it back.

Test modules wrap :func:`running_victoria` in their own fixture; the
``assert_*`` helpers compare any backend with the SQLite reference backend.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest

from core.readings import HOURLY_COLUMNS, Reading, ReadingsStore
from core.store_sqlite import SQLiteReadingsStore
from core.victoria_server import VictoriaMetricsServer, victoria_binary

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
INFLUX_URL_VARIABLE = "DAMPWATCH_TEST_INFLUX_URL"
#: The hour every store test starts from: recent, so any retention keeps it, and in the past.
T0 = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


def running_victoria(tmp_path: Path, *, dedup: str | None = "1s") -> Iterator[VictoriaMetricsServer]:
    """Body of a fixture: a started server, stopped afterwards; skips (fails in CI) without the binary."""
    if victoria_binary() is None:
        message = "victoria-metrics is not installed (apt-get install victoria-metrics)"
        if IN_CI:
            pytest.fail(message + "; .ci/run must install it")
        pytest.skip(message)
    server = VictoriaMetricsServer(tmp_path / "victoria", dedup=dedup).start()
    try:
        yield server
    finally:
        server.stop()


#: The same as a context manager, for a test that needs a server of its own: ``with victoria_server(tmp_path):``
victoria_server = contextlib.contextmanager(running_victoria)


# --- the readings every backend test stores ------------------------------------------------------


def sample_readings() -> list[Reading]:
    """Readings of three devices over five hours: uneven gaps, readings on and next to hour
    boundaries, some without battery or sequence number, one flagged untimed."""
    readings = []
    offsets_s = {
        "bath-01": [0, 1, 599, 1800, 3599, 3600, 3601, 7199, 9000, 14400, 17999],
        "kitchen.2": [30, 1230, 2430, 3630, 10830, 12030],
        "bed_3": [3600, 7200],
    }
    for d, (device, offsets) in enumerate(offsets_s.items()):
        for i, offset in enumerate(offsets):
            readings.append(Reading(
                device_id=device,
                ts=T0 + dt.timedelta(seconds=offset),
                temperature_c=round(14.0 + 0.37 * i + d + (i % 3) * 0.11, 2),
                humidity_pct=round(55.0 + 3.3 * ((i * 7 + d) % 11), 1),
                battery_v=None if i % 4 == 3 else round(3.0 - 0.01 * i, 2),
                seq=None if device == "bed_3" else 100 + i,
                flags=1 if (device, i) == ("kitchen.2", 2) else 0,
            ))
    return readings


def sqlite_reference(tmp_path: Path, readings: Sequence[Reading]) -> SQLiteReadingsStore:
    """The SQLite backend holding ``readings``: what every other backend must answer."""
    store = SQLiteReadingsStore(f"sqlite:///{tmp_path}/reference.db")
    store.write(readings)
    return store


#: ``(start, end)`` offsets in seconds from :data:`T0` for hourly queries: whole hours,
#: ragged ends, a range inside one hour, one that straddles a boundary, and an empty one.
HOURLY_RANGES_S = [(0, 5 * 3600), (-7200, 8 * 3600), (1, 7199), (600, 1800), (3000, 4000), (3600, 3600)]


def assert_hourly_matches(store: ReadingsStore, reference: ReadingsStore) -> None:
    """``hourly`` gives the reference's frame for every range and device filter."""
    for start_s, end_s in HOURLY_RANGES_S:
        start, end = T0 + dt.timedelta(seconds=start_s), T0 + dt.timedelta(seconds=end_s)
        for devices in (None, ["kitchen.2"], ["bath-01", "bed_3", "nobody"], []):
            got = store.hourly(start, end, devices)
            want = reference.hourly(start, end, devices)
            assert tuple(got.columns) == HOURLY_COLUMNS
            pd.testing.assert_frame_equal(
                got, want, check_exact=False, rtol=1e-12, obj=f"hourly {start_s}..{end_s} s of {devices}"
            )


def assert_readings_match(store: ReadingsStore, reference: ReadingsStore) -> None:
    """``latest``, ``iter_readings`` and ``count`` give what the reference gives."""
    assert store.count() == reference.count()
    assert store.latest() == reference.latest()
    assert store.latest(["kitchen.2", "nobody"]) == reference.latest(["kitchen.2", "nobody"])
    assert list(store.iter_readings()) == list(reference.iter_readings())
    start, end = T0 + dt.timedelta(seconds=1), T0 + dt.timedelta(seconds=7200)
    for devices in (None, ["bed_3", "bath-01"], []):
        assert list(store.iter_readings(start, end, devices)) == list(reference.iter_readings(start, end, devices))
