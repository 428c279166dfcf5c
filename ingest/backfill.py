"""Readings from and to CSV: backfill from data loggers, and export.

Three layouts are read, each plain or gzip-compressed, in UTF-8 (with or without a byte-order mark) or
Windows-1252 (:func:`core.textfile.open_text`):

* **standard** (one reading per line), header ``device_id,ts,temperature_c,humidity_pct`` with optional
  ``battery_v`` and ``seq`` columns: the same as ``dampwatch readings export`` writes, so the two
  round-trip;
* **split** (one quantity per line, as many building management systems export), header
  ``device_id,ts,quantity,value`` where ``quantity`` is ``temperature_c`` or ``humidity_pct`` (also
  ``temperature``, ``t``, ``humidity``, ``rh``): a temperature and a humidity row of the same device and
  time make one reading;
* **wide** (one column per sensor and quantity, as a data logger's software exports), read with a header
  map file (``column,device_id,quantity``; the row whose quantity is ``ts`` names the time column), given
  as ``header_map``.

Each reading is checked by the same rules as an MQTT payload; bad rows are reported with their line
numbers and the good rows are stored. The layout is told by the header (and the map).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Final, TextIO

from core.assets import RowError
from core.errors import ValidationError
from core.readings import Reading, ReadingsStore
from core.textfile import open_text
from ingest.parse import DEFAULT_MAX_FUTURE_S, InvalidReading, reading_from_document

READING_COLUMNS = ("device_id", "ts", "temperature_c", "humidity_pct", "battery_v", "seq")
REQUIRED_READING_COLUMNS = READING_COLUMNS[:4]
SPLIT_COLUMNS: Final = ("device_id", "ts", "quantity", "value")
MAP_COLUMNS: Final = ("column", "device_id", "quantity")
QUANTITY_NAMES: Final = {
    "temperature_c": "temperature_c", "temperature": "temperature_c", "t": "temperature_c", "temp": "temperature_c",
    "humidity_pct": "humidity_pct", "humidity": "humidity_pct", "rh": "humidity_pct", "relative_humidity": "humidity_pct",
}
"""Names accepted for the two quantities in split files and header maps (case-insensitive)."""
BATCH_ROWS = 5000


@dataclasses.dataclass
class BackfillReport:
    """What a backfill did."""

    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)
    layout: str = "standard"
    encoding: str = ""

    @property
    def rejected(self) -> int:
        """How many rows (or readings, in a wide file) were not stored because they broke a rule."""
        return len(self.errors)

    def reject_summary(self, top: int = 5) -> list[tuple[str, int]]:
        """The commonest reasons rows were rejected, with their counts, most frequent first."""
        counts: dict[str, int] = {}
        for error in self.errors:
            reason = error.message.split(":", 1)[0] if ":" in error.message else error.message
            counts[reason] = counts.get(reason, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidReading("wrong_type", f"{name} {text!r} is not a number") from None


def _ts_value(ts: str) -> str | float:
    ts = ts.strip()
    if not ts:
        raise InvalidReading("missing_field", "ts is empty (a backfilled reading needs its time)")
    return float(ts) if ts.replace(".", "", 1).isdigit() else ts


#: One reading as the native parser takes it (numbers, and the time as text or epoch seconds).
_Document = dict[str, object]


def _row_document(row: dict[str, str]) -> _Document:
    document: _Document = {}
    for name in ("temperature_c", "humidity_pct", "battery_v"):
        text = (row.get(name) or "").strip()
        if text:
            document[name] = _number(text, name)
    seq = (row.get("seq") or "").strip()
    if seq:
        try:
            document["seq"] = int(seq)
        except ValueError:
            raise InvalidReading("invalid_seq", f"seq {seq!r} is not a whole number") from None
    document["ts"] = _ts_value(row.get("ts") or "")
    return document


def _quantity(text: str, where: str) -> str:
    name = QUANTITY_NAMES.get(text.strip().lower())
    if name is None:
        raise InvalidReading("unknown_quantity", f"{where} {text!r} is not temperature_c or humidity_pct")
    return name


class _Counted:
    """A :class:`csv.DictReader` that counts the rows it gives (its ``line_num`` passes through)."""

    def __init__(self, reader: csv.DictReader[str]) -> None:
        self.reader = reader
        self.rows = 0

    @property
    def line_num(self) -> int:
        return self.reader.line_num

    def __iter__(self) -> Iterator[dict[str, str]]:
        for row in self.reader:
            self.rows += 1
            yield row


#: One item from a layout reader: the line, and either (device_id, document) or an error message.
_Item = tuple[int, str, _Document | None, str]


def _standard(reader: _Counted) -> Iterator[_Item]:
    for row in reader:
        device_id = (row.get("device_id") or "").strip()
        try:
            yield reader.line_num, device_id, _row_document(row), ""
        except InvalidReading as bad:
            yield reader.line_num, device_id, None, f"{bad.reason}: {bad.detail}"


def _split(reader: _Counted) -> Iterator[_Item]:
    """Pair temperature and humidity rows of the same device and time (the time as written)."""
    pending: dict[tuple[str, str], tuple[int, _Document]] = {}
    for row in reader:
        line = reader.line_num
        device_id = (row.get("device_id") or "").strip()
        ts_text = (row.get("ts") or "").strip()
        try:
            quantity = _quantity(row.get("quantity") or "", "quantity")
            value = _number((row.get("value") or "").strip(), quantity)
            ts = _ts_value(ts_text)
        except InvalidReading as bad:
            yield line, device_id, None, f"{bad.reason}: {bad.detail}"
            continue
        key = (device_id, ts_text)
        first_line, document = pending.pop(key, (line, {"ts": ts}))
        if quantity in document:
            yield line, device_id, None, (f"duplicate_row: a second {quantity} for {device_id} at {ts_text} "
                                          f"(first on line {first_line})")
            pending[key] = (first_line, document)
            continue
        document[quantity] = value
        if "temperature_c" in document and "humidity_pct" in document:
            yield first_line, device_id, document, ""
        else:
            pending[key] = (first_line, document)
    for (device_id, ts_text), (line, document) in pending.items():
        missing = "humidity_pct" if "temperature_c" in document else "temperature_c"
        yield line, device_id, None, (f"unpaired_row: no {missing} row for {device_id} at {ts_text}; each time "
                                      "needs a temperature and a humidity row")


def read_header_map(path: Path) -> tuple[str, dict[str, dict[str, str]]]:
    """A wide file's header map: the time column, and for each device the column of each quantity.

    Raises
    ------
    ValidationError
        If the map lacks its columns or a time column, names a quantity that is not known, gives a device
        only one of the two quantities, or maps one column twice.
    """
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        if not set(MAP_COLUMNS) <= set(fields):
            raise ValidationError(f"the header map {path} needs the columns {','.join(MAP_COLUMNS)}; one row per "
                                  "logger column, and one row with quantity 'ts' naming the time column")
        reader.fieldnames = fields
        ts_column = ""
        devices: dict[str, dict[str, str]] = {}
        seen: set[str] = set()
        for row in reader:
            column = (row.get("column") or "").strip()
            quantity = (row.get("quantity") or "").strip().lower()
            if column in seen:
                raise ValidationError(f"the header map {path} maps the column {column!r} twice (line "
                                      f"{reader.line_num})")
            seen.add(column)
            if quantity == "ts":
                ts_column = column
                continue
            try:
                name = _quantity(quantity, "quantity")
            except InvalidReading as bad:
                raise ValidationError(f"the header map {path}, line {reader.line_num}: {bad.detail}") from None
            devices.setdefault((row.get("device_id") or "").strip(), {})[name] = column
    if not ts_column:
        raise ValidationError(f"the header map {path} has no row with quantity 'ts' naming the time column")
    for device_id, columns in devices.items():
        if len(columns) != 2:
            raise ValidationError(f"the header map {path} gives device {device_id!r} only "
                                  f"{', '.join(columns)}; map both its temperature and its humidity column")
    return ts_column, devices


def _wide(reader: _Counted, ts_column: str, devices: dict[str, dict[str, str]]) -> Iterator[_Item]:
    for row in reader:
        ts_text = (row.get(ts_column) or "").strip()
        for device_id, columns in devices.items():
            t_text = (row.get(columns["temperature_c"]) or "").strip()
            h_text = (row.get(columns["humidity_pct"]) or "").strip()
            if not t_text and not h_text:
                continue  # this sensor has no reading at this time (loggers leave gaps blank)
            try:
                if not t_text or not h_text:
                    gap = columns["humidity_pct"] if t_text else columns["temperature_c"]
                    raise InvalidReading("missing_field", f"{gap!r} is blank for {device_id} at {ts_text}")
                document: _Document = {"ts": _ts_value(ts_text), "temperature_c": _number(t_text, columns["temperature_c"]),
                            "humidity_pct": _number(h_text, columns["humidity_pct"])}
            except InvalidReading as bad:
                yield reader.line_num, device_id, None, f"{bad.reason}: {bad.detail}"
                continue
            yield reader.line_num, device_id, document, ""


def backfill_csv(
    path: Path,
    store: ReadingsStore,
    *,
    known_devices: Collection[str],
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
    header_map: Path | None = None,
) -> BackfillReport:
    """Store the readings of a logger CSV (any layout of the module notes); report bad rows by line.

    Raises
    ------
    ValidationError
        If the file cannot be read or its header fits no layout (the message names the layouts).
    """
    now = now or dt.datetime.now(dt.UTC)
    latest_allowed = now + dt.timedelta(seconds=DEFAULT_MAX_FUTURE_S)
    report = BackfillReport()
    batch: list[Reading] = []
    wide_map = read_header_map(header_map) if header_map is not None else None

    def flush() -> None:
        result = store.write(batch)
        report.stored += result.stored
        report.duplicates += result.duplicates
        if progress is not None:
            progress(len(batch))
        batch.clear()

    with open_text(path) as handle:
        report.encoding = getattr(handle, "encoding", "")
        reader = csv.DictReader(handle)
        header = [f.strip() for f in (reader.fieldnames or [])]
        reader.fieldnames = header
        rows = _Counted(reader)
        if wide_map is not None:
            ts_column, devices = wide_map
            absent = [c for c in [ts_column, *(c for cols in devices.values() for c in cols.values())]
                      if c not in header]
            if absent:
                raise ValidationError(f"{path} has no column(s) {', '.join(repr(c) for c in absent)} named in the "
                                      "header map; check the map against the logger file's first line")
            report.layout, items = "wide", _wide(rows, ts_column, devices)
        elif all(c in header for c in REQUIRED_READING_COLUMNS):
            report.layout, items = "standard", _standard(rows)
        elif all(c in header for c in SPLIT_COLUMNS):
            report.layout, items = "split", _split(rows)
        else:
            raise ValidationError(
                f"{path} has the header {','.join(header) or '(none)'}, which fits no readings layout: use "
                f"{','.join(REQUIRED_READING_COLUMNS)} (battery_v and seq optional), or "
                f"{','.join(SPLIT_COLUMNS)} (one row per quantity), or a logger file with a header map "
                "(--map)"
            )
        for line, device_id, document, problem in items:
            if device_id not in known_devices:
                report.errors.append(RowError(
                    line, f"unknown_device: device {device_id!r} is not registered (import the asset register "
                          "first)"))
                continue
            if document is None:
                report.errors.append(RowError(line, problem))
                continue
            try:
                batch.append(reading_from_document(device_id, document, now, latest_allowed))
            except InvalidReading as bad:
                report.errors.append(RowError(line, f"{bad.reason}: {bad.detail}"))
                continue
            if len(batch) >= BATCH_ROWS:
                flush()
        report.rows = rows.rows
    if batch:
        flush()
    report.errors.sort(key=lambda error: error.line)
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
