"""Backfill from logger CSVs and export: bad rows reported by line, good rows kept, round trip exact."""

from __future__ import annotations

import datetime as dt
import io

from core.readings import Reading
from ingest.backfill import backfill_csv, export_csv

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)


def test_backfill_reports_bad_rows_by_line_and_keeps_good_ones(tmp_path, store):
    """Each bad row names its line and what is wrong; every good row is stored."""
    path = tmp_path / "logger.csv"
    path.write_text(
        "device_id,ts,temperature_c,humidity_pct\n"
        "dev-1,2026-11-01T00:00:00Z,18.5,61.0\n"      # line 2: good
        "dev-1,2026-11-01T00:10:00Z,warm,61.0\n"      # line 3: not a number
        "dev-1,2026-11-01T00:20:00Z,18.4,104\n"       # line 4: humidity out of range
        "ghost,2026-11-01T00:20:00Z,18.4,60\n"        # line 5: unknown device
        "dev-1,,18.4,60\n"                            # line 6: no time
        "dev-1,2099-01-01T00:00:00Z,18.4,60\n"        # line 7: future
        "dev-1,1793491800,18.0,60.5\n"                # line 8: good, epoch seconds
        "dev-1,2026-11-01T00:00:00Z,18.5,61.0\n"      # line 9: duplicate of line 2
    )
    report = backfill_csv(path, store, known_devices={"dev-1"}, now=NOW)
    assert report.rows == 8
    assert (report.stored, report.duplicates) == (2, 1)
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 7]
    messages = [e.message for e in report.errors]
    assert "wrong_type" in messages[0]
    assert "humidity_out_of_range" in messages[1]
    assert "not registered" in messages[2]
    assert "future_timestamp" in messages[4]


def test_export_then_import_round_trips_exactly(tmp_path, store):
    """What 'readings export' writes, 'readings import' reads back to identical readings."""
    readings = [
        Reading("dev-1", T0 + dt.timedelta(minutes=10 * i), 18.0 + i / 7, 60.0 + i / 3, 2.9 - i / 1000, i)
        for i in range(50)
    ] + [Reading("dev-2", T0, -3.25, 99.99, None, None)]
    store.write(readings)
    buffer = io.StringIO()
    assert export_csv(store.iter_readings(), buffer) == 51
    path = tmp_path / "export.csv"
    path.write_text(buffer.getvalue())
    from core.store_sqlite import SQLiteReadingsStore

    other = SQLiteReadingsStore(f"sqlite:///{tmp_path}/other.db")
    report = backfill_csv(path, other, known_devices={"dev-1", "dev-2"}, now=NOW)
    assert report.errors == [] and report.stored == 51
    assert list(other.iter_readings()) == list(store.iter_readings())
    other.close()
