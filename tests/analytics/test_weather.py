"""Tests for analytics.weather: importing hourly weather per postcode district."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from analytics.errors import WeatherError
from analytics.weather import import_weather, read_weather_csv
from core.model import WeatherHour

GOOD = (
    "area,ts,temperature_c,humidity_pct\n"
    "LS6,2026-01-05T00:10:00Z,3.0,90\n"
    "LS6,2026-01-05T00:40:00Z,4.0,80\n"
    "ls6 2ab,2026-01-05T01:00:00+00:00,5.5,\n"
    "M11,1767574800,1.0,95\n"
)


def stored(database) -> list[tuple]:
    with database.session() as session:
        rows = session.scalars(select(WeatherHour).order_by(WeatherHour.area, WeatherHour.hour)).all()
        return [(r.area, r.hour, r.temperature_c, r.humidity_pct) for r in rows]


def test_weather_is_averaged_into_hours_per_district(database, tmp_path):
    """Readings within an hour are averaged; a postcode counts for its district; blank humidity is kept blank."""
    path = tmp_path / "weather.csv"
    path.write_text(GOOD)
    with database.session() as session:
        report = import_weather(session, path)
    assert (report.rows, report.hours, report.areas, report.errors) == (4, 3, ["LS6", "M11"], [])
    assert stored(database) == [
        ("LS6", dt.datetime(2026, 1, 5, 0, tzinfo=dt.UTC), 3.5, 85.0),
        ("LS6", dt.datetime(2026, 1, 5, 1, tzinfo=dt.UTC), 5.5, None),
        ("M11", dt.datetime(2026, 1, 5, 1, tzinfo=dt.UTC), 1.0, 95.0),
    ]


def test_importing_again_replaces_the_same_hours(database, tmp_path):
    """A second import of corrected values overwrites the hours it covers and adds no duplicates."""
    path = tmp_path / "weather.csv"
    path.write_text(GOOD)
    with database.session() as session:
        import_weather(session, path)
    path.write_text("area,ts,temperature_c,humidity_pct\nLS6,2026-01-05T00:30:00Z,-1.0,99\n")
    with database.session() as session:
        import_weather(session, path)
    rows = stored(database)
    assert len(rows) == 3
    assert rows[0] == ("LS6", dt.datetime(2026, 1, 5, 0, tzinfo=dt.UTC), -1.0, 99.0)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9X,2026-01-05T00:00:00Z,3,90", "postcode district"),
        ("LS6,yesterday,3,90", "ISO 8601"),
        ("LS6,2026-01-05T00:00:00Z,75,90", "temperature_c 75"),
        ("LS6,2026-01-05T00:00:00Z,3,120", "humidity_pct 120"),
        ("LS6,2026-01-05T00:00:00Z,,90", "temperature_c is empty"),
    ],
)
def test_bad_rows_are_reported_with_their_line(tmp_path, line, message):
    """A bad row is left out with its line number and the reason; good rows around it are kept."""
    path = tmp_path / "weather.csv"
    path.write_text(f"area,ts,temperature_c,humidity_pct\nLS6,2026-01-05T03:00:00Z,3,90\n{line}\n")
    hours, errors, rows = read_weather_csv(path)
    assert rows == 2 and len(hours) == 1
    assert len(errors) == 1 and errors[0].line == 3 and message in errors[0].message


def test_a_file_without_the_required_columns_is_refused(tmp_path):
    """The header must name area, ts and temperature_c."""
    path = tmp_path / "weather.csv"
    path.write_text("place,time,temp\nLS6,2026-01-05,3\n")
    with pytest.raises(WeatherError, match="area,ts,temperature_c,humidity_pct"):
        read_weather_csv(path)
