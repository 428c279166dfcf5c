"""Outdoor weather per area, imported from a CSV file, for homes without an outdoor sensor nearby.

The file has one row per observation::

    area,ts,temperature_c,humidity_pct
    LS6,2026-01-05T00:00:00Z,3.4,91

``area`` is a postcode district (the outward code, e.g. ``LS6``; a full postcode is accepted and cut to
its district), a postcode area (the letters alone, e.g. ``HX``: every district in it), or ``*`` (also
``all`` or ``estate``: the whole estate). A home takes, hour by hour, its district's weather, else its
area's, else the estate's. The file may be gzip-compressed and in UTF-8 or Windows-1252; ``ts`` is UTC (ISO 8601, or seconds since the epoch; a time without a zone is taken as
UTC); ``humidity_pct`` may be blank. Observations are averaged into whole hours and stored per area and
hour; importing again replaces the hours the new file covers, so an import is idempotent.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

import pandas as pd
from sqlalchemy import Insert
from sqlalchemy.orm import Session

from analytics.errors import WeatherError
from core.assets import RowError
from core.errors import ValidationError
from core.model import WeatherHour, utcnow
from core.textfile import open_text

__all__ = ["ESTATE_AREA", "WEATHER_COLUMNS", "WeatherImport", "import_weather", "postcode_area", "read_weather_csv"]

logger = logging.getLogger(__name__)

WEATHER_COLUMNS: Final = ("area", "ts", "temperature_c", "humidity_pct")
REQUIRED_COLUMNS: Final = ("area", "ts", "temperature_c")
DISTRICT_PATTERN: Final = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
AREA_PATTERN: Final = re.compile(r"^[A-Z]{1,2}$")
ESTATE_AREA: Final = "*"
"""The ``area`` of weather that applies to every home (written ``*``, ``all`` or ``estate`` in a file)."""
_ESTATE_WORDS: Final = frozenset({"*", "ALL", "ESTATE"})
TEMPERATURE_RANGE_C: Final = (-40.0, 50.0)
_BATCH_ROWS: Final = 5000


@dataclasses.dataclass
class WeatherImport:
    """What an import did."""

    rows: int = 0
    hours: int = 0
    areas: list[str] = dataclasses.field(default_factory=list)
    errors: list[RowError] = dataclasses.field(default_factory=list)


def postcode_area(district: str) -> str:
    """The postcode area of a district: its leading letters (``HX`` for ``HX1``)."""
    letters = re.match(r"^[A-Z]*", district.upper())
    assert letters is not None  # "[A-Z]*" matches every string, if only with no letters
    return letters.group(0)


def _area(value: str) -> str:
    text = re.sub(r"\s+", " ", value.strip().upper())
    if text in _ESTATE_WORDS:
        return ESTATE_AREA
    if AREA_PATTERN.match(text):
        return text
    district = text.split(" ", 1)[0] if " " in text else (text[:-3] if len(text) > 4 else text)
    if not DISTRICT_PATTERN.match(district):
        raise ValueError(f"area {value!r} is not a postcode district (for example LS6), a postcode area (HX), "
                         "a postcode, or * for the whole estate")
    return district


def _timestamp(value: str) -> dt.datetime:
    text = value.strip()
    try:
        if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"ts {value!r} is not an ISO 8601 time or seconds since 1970") from None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _number(value: str, column: str, low: float, high: float, required: bool) -> float | None:
    text = value.strip()
    if not text:
        if required:
            raise ValueError(f"{column} is empty")
        return None
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{column} {value!r} is not a number") from None
    if not low <= number <= high:
        raise ValueError(f"{column} {number:g} is outside {low:g} to {high:g}")
    return number


def read_weather_csv(path: Path) -> tuple[pd.DataFrame, list[RowError], int]:
    """Read and check a weather file; average it into hours.

    Returns
    -------
    hours : pandas.DataFrame
        ``area, hour, temperature_c, humidity_pct`` (hour: aware UTC start of the hour), one row per area
        and hour.
    errors : list of RowError
        Lines left out, with their line numbers.
    rows : int
        Data lines read.

    Raises
    ------
    WeatherError
        If the file cannot be read or lacks a required column.
    """
    records, errors, rows = [], [], 0
    try:
        with open_text(path) as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise WeatherError(
                    f"{path} has no column(s) {', '.join(missing)}; the header must be "
                    f"{','.join(WEATHER_COLUMNS)} (humidity_pct may be left blank)"
                )
            for row in reader:
                rows += 1
                try:
                    records.append((
                        _area(row.get("area") or ""),
                        _timestamp(row.get("ts") or ""),
                        _number(row.get("temperature_c") or "", "temperature_c", *TEMPERATURE_RANGE_C, True),
                        _number(row.get("humidity_pct") or "", "humidity_pct", 0.0, 100.0, False),
                    ))
                except ValueError as exc:
                    errors.append(RowError(reader.line_num, str(exc)))
    except (OSError, ValidationError) as exc:
        raise WeatherError(f"cannot read the weather file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    frame = pd.DataFrame(records, columns=list(WEATHER_COLUMNS))
    if frame.empty:
        return pd.DataFrame(columns=["area", "hour", "temperature_c", "humidity_pct"]), errors, rows
    frame["hour"] = pd.to_datetime(frame["ts"], utc=True).dt.floor("h")
    frame["humidity_pct"] = frame["humidity_pct"].astype(float)
    hours = frame.groupby(["area", "hour"], as_index=False).agg(
        temperature_c=("temperature_c", "mean"), humidity_pct=("humidity_pct", "mean")
    )
    return hours, errors, rows


def _upsert(session: Session) -> Insert:
    """An INSERT ... ON CONFLICT (area, hour) DO UPDATE for the session's database."""
    dialect = session.get_bind().dialect.name
    key = [WeatherHour.area, WeatherHour.hour]
    updated = ("temperature_c", "humidity_pct", "source", "imported_at")
    # The two dialects' INSERTs are different classes with the same on_conflict_do_update.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        postgresql = postgresql_insert(WeatherHour)
        return postgresql.on_conflict_do_update(
            index_elements=key, set_={name: postgresql.excluded[name] for name in updated}
        )
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        sqlite = sqlite_insert(WeatherHour)
        return sqlite.on_conflict_do_update(index_elements=key, set_={name: sqlite.excluded[name] for name in updated})
    # DampWatch supports SQLite and PostgreSQL only.
    raise WeatherError(f"weather import does not support the {dialect} database")  # pragma: no cover


def import_weather(
    session: Session,
    path: Path,
    progress: Callable[[int], None] | None = None,
) -> WeatherImport:
    """Import a weather file into the app database (see the module notes for its format).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A session on the app database.
    path : pathlib.Path
        The CSV file.
    progress : callable, optional
        Called with the number of hours stored after each batch.

    Returns
    -------
    WeatherImport
        Rows read, hours stored, areas, and the lines left out.

    Raises
    ------
    WeatherError
        If the file cannot be read or lacks a required column.
    """
    hours, errors, rows = read_weather_csv(path)
    report = WeatherImport(rows=rows, errors=errors)
    if hours.empty:
        return report
    now = utcnow()
    statement = _upsert(session)
    records = [
        {"area": area, "hour": hour.to_pydatetime(), "temperature_c": float(temperature),
         "humidity_pct": None if pd.isna(humidity) else float(humidity), "source": Path(path).name,
         "imported_at": now}
        for area, hour, temperature, humidity in hours[["area", "hour", "temperature_c", "humidity_pct"]].itertuples(
            index=False, name=None)
    ]
    for start in range(0, len(records), _BATCH_ROWS):
        batch = records[start: start + _BATCH_ROWS]
        session.execute(statement, batch)
        if progress is not None:
            progress(len(batch))
    report.hours = len(records)
    report.areas = sorted(set(hours["area"]))
    logger.info("imported %d weather hours for %s from %s (%d lines left out)", report.hours,
                ", ".join(report.areas), path, len(errors))
    return report
