"""Readings from and to CSV: backfill from data loggers, and export.

The backfill format is long: one reading per line, header
``device_id,ts,temperature_c,humidity_pct`` with optional ``battery_v`` and
``seq`` columns (the same as ``dampwatch readings export`` writes, so the two
round-trip). Each row is checked by the same rules as an MQTT payload; bad
rows are reported with their line numbers and the good rows are stored.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TextIO

from core.assets import RowError
from core.errors import ValidationError
from core.readings import Reading, ReadingsStore
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, reading_from_document

READING_COLUMNS = ("device_id", "ts", "temperature_c", "humidity_pct", "battery_v", "seq")
REQUIRED_READING_COLUMNS = READING_COLUMNS[:4]
BATCH_ROWS = 5000


@dataclasses.dataclass
class BackfillReport:
    """What a backfill did."""

    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)


def _row_document(row: dict[str, str]) -> dict:
    document: dict = {}
    for name in ("temperature_c", "humidity_pct", "battery_v"):
        text = (row.get(name) or "").strip()
        if text:
            try:
                document[name] = float(text)
            except ValueError:
                raise InvalidReading("wrong_type", f"{name} {text!r} is not a number") from None
    seq = (row.get("seq") or "").strip()
    if seq:
        try:
            document["seq"] = int(seq)
        except ValueError:
            raise InvalidReading("invalid_seq", f"seq {seq!r} is not a whole number") from None
    ts = (row.get("ts") or "").strip()
    if not ts:
        raise InvalidReading("missing_field", "ts is empty (a backfilled reading needs its time)")
    document["ts"] = float(ts) if ts.replace(".", "", 1).isdigit() else ts
    return document


def backfill_csv(
    path: Path,
    store: ReadingsStore,
    *,
    known_devices: Collection[str],
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> BackfillReport:
    """Store the readings of a logger CSV; report bad rows with their line numbers."""
    now = now or dt.datetime.now(dt.UTC)
    latest_allowed = now + dt.timedelta(seconds=DEFAULT_MAX_FUTURE_S)
    report = BackfillReport()
    batch: list[Reading] = []

    def flush() -> None:
        result = store.write(batch)
        report.stored += result.stored
        report.duplicates += result.duplicates
        if progress is not None:
            progress(len(batch))
        batch.clear()

    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_READING_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(
                f"{path} has no column(s) {', '.join(missing)}; the header must be "
                f"{','.join(REQUIRED_READING_COLUMNS)} (battery_v and seq optional)"
            )
        for row in reader:
            report.rows += 1
            device_id = (row.get("device_id") or "").strip()
            if device_id not in known_devices:
                report.errors.append(
                    RowError(reader.line_num, f"device {device_id!r} is not registered (import the asset register first)")
                )
                continue
            try:
                batch.append(reading_from_document(device_id, _row_document(row), now, latest_allowed))
            except InvalidReading as bad:
                report.errors.append(RowError(reader.line_num, f"{bad.reason}: {bad.detail}"))
                continue
            if len(batch) >= BATCH_ROWS:
                flush()
    if batch:
        flush()
    return report


def format_ts(ts: dt.datetime) -> str:
    """ISO 8601 UTC with a Z, to the second."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_csv(readings: Iterable[Reading], handle: TextIO) -> int:
    """Write readings in the backfill format; return how many."""
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(READING_COLUMNS)
    count = 0
    for r in readings:
        writer.writerow(
            (
                r.device_id,
                format_ts(r.ts),
                repr(r.temperature_c),
                repr(r.humidity_pct),
                "" if r.battery_v is None else repr(r.battery_v),
                "" if r.seq is None else r.seq,
            )
        )
        count += 1
    return count
