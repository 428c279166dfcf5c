"""The SQLite readings store: idempotent batches, hourly aggregates, latest readings."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from core.errors import ConfigError
from core.readings import HOURLY_COLUMNS, Reading, ReadingsStore, open_store

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def _reading(device="a", minutes=0, temp=20.0, rh=50.0, seq=None, battery=None):
    return Reading(device, T0 + dt.timedelta(minutes=minutes), temp, rh, battery, seq)


def test_store_satisfies_the_interface(store):
    """The SQLite backend implements the ReadingsStore protocol."""
    assert isinstance(store, ReadingsStore)


def test_write_is_idempotent(store):
    """Writing the same readings twice stores them once and counts duplicates."""
    batch = [_reading(minutes=m, seq=m) for m in range(0, 60, 10)]
    first = store.write(batch)
    second = store.write([*batch, _reading(minutes=60)])
    assert (first.stored, first.duplicates) == (6, 0)
    assert (second.stored, second.duplicates) == (1, 6)
    assert second.stored_by_device == {"a": 1}
    assert store.count() == 7


def test_one_reading_per_device_and_second(store):
    """Two readings of one device in the same second: the first one wins."""
    store.write([_reading(temp=20.0)])
    store.write([Reading("a", T0 + dt.timedelta(microseconds=300), 25.0, 40.0)])
    (only,) = list(store.iter_readings())
    assert only.temperature_c == 20.0


def test_hourly_aggregates(store):
    """Hourly means, max humidity and counts per device, hours without data absent."""
    store.write([
        _reading("a", 0, 19.0, 60.0), _reading("a", 30, 21.0, 80.0),
        _reading("a", 130, 18.0, 55.0), _reading("b", 5, 10.0, 90.0),
    ])
    frame = store.hourly(T0, T0 + dt.timedelta(hours=3))
    assert tuple(frame.columns) == HOURLY_COLUMNS
    assert len(frame) == 3
    first = frame.iloc[0]
    assert first.device_id == "a" and first.hour == pd.Timestamp(T0)
    assert (first.temperature_c, first.humidity_pct, first.humidity_max_pct, first["count"]) == (20.0, 70.0, 80.0, 2)
    assert frame.iloc[1].hour == pd.Timestamp(T0 + dt.timedelta(hours=2))
    only_b = store.hourly(T0, T0 + dt.timedelta(hours=3), device_ids=["b"])
    assert list(only_b.device_id) == ["b"]
    assert str(frame.hour.dt.tz) == "UTC"


def test_hourly_range_is_half_open_and_empty_is_typed(store):
    """[start, end) bounds; an empty answer still has the columns and a UTC hour."""
    store.write([_reading(minutes=60)])
    assert store.hourly(T0, T0 + dt.timedelta(hours=1)).empty
    empty = store.hourly(T0, T0 + dt.timedelta(hours=1), device_ids=[])
    assert tuple(empty.columns) == HOURLY_COLUMNS


def test_latest_reading_per_device(store):
    """latest() gives each device's newest reading by ts, whatever order they arrived in."""
    store.write([_reading("a", 20, seq=3), _reading("a", 10, seq=2), _reading("b", 5, seq=9, battery=2.7)])
    latest = store.latest()
    assert latest["a"].seq == 3
    assert latest["b"].battery_v == 2.7
    assert set(store.latest(["b"])) == {"b"}


def test_readings_survive_reopening(tmp_path):
    """Data is durable across close and reopen (WAL checkpointed)."""
    url = f"sqlite:///{tmp_path}/r.db"
    first = open_store(url)
    first.write([_reading()])
    first.close()
    again = open_store(url)
    assert again.count() == 1
    again.close()


def test_unknown_scheme_says_how_to_fix():
    """A URL no backend handles raises ConfigError naming the choices."""
    with pytest.raises(ConfigError, match="sqlite"):
        open_store("mysql://nowhere/readings")
