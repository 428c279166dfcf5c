"""Tests for dashboard.charts and the chart images: the numbers agree with scoring, the images are real PNGs,
and the words and tables say what the pictures show."""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pytest
import time_machine
from sqlalchemy import delete, select

from analytics.psychrometrics import surface_relative_humidity, surface_temperature
from core.model import DeviceHealth, Installation, Room, RoomDay, RoomRisk
from dashboard import charts

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def estate(scored_estate, client_request, staff):
    """The scored estate seen half an hour before the end of the scoring run's last hour (time frozen)."""
    charts._CACHE.clear()
    with time_machine.travel(scored_estate.end - dt.timedelta(minutes=30), tick=False):
        client_request.login(staff.officer)
        yield scored_estate


def _series(estate, uprn: str, days: int = 30) -> list[charts.RoomSeries]:
    with estate.database.session() as session:
        return charts.property_series(session, estate.store, uprn, days=days,
                                      now=estate.end - dt.timedelta(minutes=30))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_chart_endpoint_returns_a_png(client_request, estate):
    """Each room's chart is a real PNG of the size the page's img element states."""
    uprn = estate.damp_uprns[0]
    with estate.database.session() as session:
        room_id = session.scalars(select(Room.id).where(Room.uprn == uprn, Room.room_type == "bathroom")).one()
    for days in (30, 90):
        response = client_request.get_response("main.property_chart", uprn=uprn, room_id=room_id, days=days)
        assert response.mimetype == "image/png"
        assert _png_size(response.data) == (720, 537)
    page = client_request.get("main.property_page", uprn=uprn)
    image = page.select_one(f"#chart-{room_id} img")
    assert (int(image["width"]), int(image["height"])) == (720, 537)
    series = next(s for s in _series(estate, uprn) if s.room_id == room_id)
    assert _png_size(charts.render_room_chart(series, dpi=80)) == (600, 448)  # the evidence pack's size


@pytest.mark.parametrize("which", ["unknown room", "room of another home", "outdoor room", "unknown home"])
def test_chart_of_nothing_is_not_found(client_request, estate, which):
    """A chart is only for an indoor room of the home named, with a sensor."""
    uprn, other = estate.uprns[0], estate.uprns[1]
    with estate.database.session() as session:
        other_room = session.scalars(select(Room.id).where(Room.uprn == other)).first()
        outdoor = session.scalars(select(Room).where(Room.room_type == "outdoor")).first()
    args = {
        "unknown room": (uprn, 999_999),
        "room of another home": (uprn, other_room),
        "outdoor room": (outdoor.uprn, outdoor.id),
        "unknown home": ("999999999999", other_room),
    }[which]
    client_request.get_response("main.property_chart", uprn=args[0], room_id=args[1], _expected_status=404)


def test_last_mould_index_agrees_with_scoring(estate):
    """The chart's mould index at the end of the last day is the one the scoring run stored for each room."""
    for uprn in estate.uprns:
        with estate.database.session() as session:
            stored = {r.room_id: r.mould_index for r in session.scalars(select(RoomRisk).where(RoomRisk.uprn == uprn))}
        series = _series(estate, uprn)
        assert series
        for room in series:
            if stored.get(room.room_id) is None:
                continue
            assert room.daily["mould_index"].iloc[-1] == pytest.approx(stored[room.room_id], abs=1e-6)


def test_days_after_the_last_kept_row_carry_on_from_its_mould_state(estate):
    """When scoring last ran days ago, the chart carries each room's index on from the last kept day and
    reaches the same value scoring would."""
    uprn = estate.damp_uprns[0]
    with estate.database.session() as session:
        stored = {r.room_id: r.mould_index for r in session.scalars(select(RoomRisk).where(RoomRisk.uprn == uprn))}
        session.execute(delete(RoomDay).where(RoomDay.room_id.in_(list(stored)), RoomDay.day >= dt.date(2026, 1, 22)))
    for room in _series(estate, uprn):
        assert room.daily["mould_index"].iloc[-1] == pytest.approx(stored[room.room_id], abs=1e-6)
        assert not room.mould_index_partial


def test_days_before_the_kept_rows_have_readings_but_no_mould_index(client_request, estate):
    """Days older than the kept day rows show their means, but the index only from the kept days on (and the
    day before them, which the first kept row's start state ends); the table says why."""
    uprn = estate.damp_uprns[0]
    with estate.database.session() as session:
        room_ids = list(session.scalars(select(Room.id).where(Room.uprn == uprn)))
        first_kept = {room_id: session.scalar(select(RoomDay).where(RoomDay.room_id == room_id,
                                                                     RoomDay.day == dt.date(2026, 1, 15)))
                      for room_id in room_ids}
        session.execute(delete(RoomDay).where(RoomDay.room_id.in_(room_ids), RoomDay.day < dt.date(2026, 1, 15)))
    for room in _series(estate, uprn):
        daily = room.daily.set_index("day")
        assert room.mould_index_partial
        early = daily.loc[dt.date(2026, 1, 5):dt.date(2026, 1, 13)]
        assert (early["hours_data"] > 0).all() and early["mould_index"].isna().all()
        assert early["temperature_c"].notna().all()
        assert daily.loc[dt.date(2026, 1, 14), "mould_index"] == first_kept[room.room_id].mould_index_start
        assert daily.loc[dt.date(2026, 1, 15):, "mould_index"].notna().all()
        assert f"it is kept for {charts.KEPT_DAYS} days" in charts.alt_text(room)
    page = client_request.get("main.property_page", uprn=uprn)
    assert f"The mould index is kept for the last {charts.KEPT_DAYS} days only." in page.select_one(
        "figure.dampwatch-chart table caption").text


def test_daily_values_match_the_hours(estate):
    """Each day's means and hours above 80 % at the coldest wall follow from the hourly series."""
    (room, *_) = [r for r in _series(estate, estate.damp_uprns[0]) if r.room_type == "bathroom"]
    hourly = room.hourly.copy()
    hourly["day"] = hourly.index.date
    by_day = hourly.groupby("day")
    daily = room.daily.set_index("day")
    measured = daily[daily["hours_data"] > 0]
    assert len(measured) >= 20
    for day, row in measured.iterrows():
        hours = by_day.get_group(day)
        assert row["hours_data"] == hours["temperature_c"].notna().sum()
        assert row["temperature_c"] == pytest.approx(hours["temperature_c"].mean(), abs=1e-3)
        assert row["humidity_pct"] == pytest.approx(hours["humidity_pct"].mean(), abs=1e-3)
        # The day rows are summed in single precision; borderline hours may fall either side of 80 %.
        over = int((hours["surface_rh_pct"] > 80.0).sum())
        assert abs(row["hours_surface_rh_over_80"] - over) <= 1
    assert measured["hours_surface_rh_over_80"].sum() > 0  # a damp bathroom: the 80 % line is crossed


def test_surface_humidity_uses_the_temperature_factor_and_outdoors(estate):
    """Hourly cold-spot humidity is the room's humidity carried to a wall cooled by the temperature factor."""
    with estate.database.session() as session:
        factors = {room.id: room.temperature_factor for room in session.scalars(select(Room))}
    (room, *_) = _series(estate, estate.damp_uprns[0])
    hourly = room.hourly.dropna()
    assert room.temperature_factor == pytest.approx(factors[room.room_id] or room.temperature_factor)
    # Solving the cold-spot relation for the outdoor temperature gives one plausible winter value per hour.
    for temp, rh, surface in hourly[["temperature_c", "humidity_pct", "surface_rh_pct"]].head(48).itertuples(index=False):
        outdoor = np.linspace(-15, 20, 3501)
        candidates = surface_relative_humidity(temp, rh, surface_temperature(temp, outdoor, room.temperature_factor))
        assert np.min(np.abs(candidates - surface)) < 0.05 or surface == 100.0


def test_days_before_the_first_reading_have_no_mould_index(estate):
    """Before a room's first reading the table says "No readings" and the chart draws no index."""
    (room, *_) = _series(estate, estate.uprns[0], days=90)
    assert len(room.daily) == 90
    empty = room.daily[room.daily["hours_data"] == 0]
    assert len(empty) >= 60
    assert empty["mould_index"].isna().all()
    assert room.daily["day"].iloc[-1] == dt.date(2026, 1, 25)


def test_alt_text_describes_the_chart(estate):
    """The alt text names the room and period and gives the averages, the 80 % hours and the mould index."""
    series = _series(estate, estate.damp_uprns[0])
    for room in series:
        text = charts.alt_text(room)
        assert text.startswith(f"Chart of the {room.name.lower()} from 27 December 2025 to 25 January 2026.")
        over = int(room.daily["hours_surface_rh_over_80"].sum())
        assert f"above 80 % for {over} hours" in text
        last = room.daily["mould_index"].dropna().iloc[-1]
        assert f"to {last:.1f} on a scale of 0 to 6" in text
        assert text.endswith("The table below gives the values for each day.")


def test_a_room_without_readings_in_the_period(estate):
    """A room with no readings in the period still gets a chart and says so in words."""
    with estate.database.session() as session:
        room = session.scalars(select(Room).where(Room.uprn == estate.uprns[0], Room.room_type == "kitchen")).one()
    later = estate.end + dt.timedelta(days=200)
    with estate.database.session() as session:
        series = charts.property_series(session, estate.store, estate.uprns[0], days=30, now=later)
    (kitchen,) = [r for r in series if r.room_id == room.id]
    assert not kitchen.has_data
    assert charts.alt_text(kitchen).endswith("no readings in this period.")
    assert charts.render_room_chart(kitchen)[:8] == PNG_SIGNATURE


def test_series_are_kept_until_a_new_reading_arrives(estate):
    """A page and its images share one computation; a newer reading makes a fresh one."""
    uprn = estate.uprns[0]
    first = _series(estate, uprn)
    assert _series(estate, uprn) is first
    with estate.database.session() as session:
        device_id = session.scalars(select(Installation.device_id).join(Room, Room.id == Installation.room_id)
                                    .where(Room.uprn == uprn)).first()
        session.add(DeviceHealth(device_id=device_id, last_seen=estate.end - dt.timedelta(minutes=5)))
    assert _series(estate, uprn) is not first


@pytest.mark.parametrize("days", [0, 7, 365])
def test_only_30_or_90_days(estate, days):
    """Other periods are refused with a message naming the ones offered."""
    with pytest.raises(ValueError, match="30, 90"):
        _series(estate, estate.uprns[0], days=days)


def test_series_on_both_databases(database, store):
    """The chart's queries work on SQLite and PostgreSQL: kept day rows are used and carried on, older days
    are summarised from the readings, and the cold spot uses the site's outdoor sensor."""
    from analytics.features import DAY_FIELDS
    from core.model import Device, Property
    from core.readings import Reading

    end = dt.datetime(2026, 2, 10, 12, 30, tzinfo=dt.UTC)
    first = dt.datetime(2026, 2, 5, tzinfo=dt.UTC)
    with database.session() as session:
        session.add_all([
            Property(uprn="1", address="1 Test Road", postcode="LS6 1AA", site="Test site", temperature_factor=0.6),
            Property(uprn="2", address="2 Test Road", postcode="LS6 1AB", site="Test site"),
        ])
        bathroom = Room(uprn="1", name="Bathroom", room_type="bathroom")
        outside = Room(uprn="2", name="Outdoor", room_type="outdoor")
        session.add_all([bathroom, outside, Device(device_id="bath"), Device(device_id="out")])
        session.flush()
        session.add_all([
            Installation(device_id="bath", room_id=bathroom.id, installed_at=first - dt.timedelta(days=30)),
            Installation(device_id="out", room_id=outside.id, installed_at=first - dt.timedelta(days=30)),
        ])
        kept_day = dt.date(2026, 2, 8)
        row = dict.fromkeys(DAY_FIELDS, 0)
        row.update(mould_index_start=2.0, dry_spell_hours_start=0, mould_index_end=2.0, mould_index_max=2.0,
                   min_vapour_pressure_excess_pa=None, last_data_hour=None)
        session.add(RoomDay(room_id=bathroom.id, day=kept_day, **row))
        bathroom_id = bathroom.id
    hours = int((end - first).total_seconds() // 3600) + 1
    store.write([Reading(device, first + dt.timedelta(hours=h, minutes=10), temp, rh)
                 for h in range(hours) for device, temp, rh in (("bath", 18.0, 70.0), ("out", 5.0, 90.0))])
    with database.session() as session:
        (room,) = charts.property_series(session, store, "1", days=30, now=end)
    assert room.room_id == bathroom_id and room.temperature_factor == 0.6
    daily = room.daily.set_index("day")
    assert len(daily) == 30 and daily.index[-1] == dt.date(2026, 2, 10)
    measured = daily[daily["hours_data"] > 0]
    assert list(measured.index) == [dt.date(2026, 2, d) for d in range(5, 11)]
    assert measured["temperature_c"].tolist() == pytest.approx([18.0] * 6)
    expected_surface = float(surface_relative_humidity(18.0, 70.0, surface_temperature(18.0, 5.0, 0.6)))
    assert measured["surface_rh_pct"].tolist() == pytest.approx([expected_surface] * 6, abs=0.05)
    assert measured.loc[dt.date(2026, 2, 6), "hours_surface_rh_over_80"] == (24 if expected_surface > 80 else 0)
    # Before the kept row: no index, but the day before it ends at the kept row's start state.
    assert measured.loc[dt.date(2026, 2, 5):dt.date(2026, 2, 6), "mould_index"].isna().all()
    assert measured.loc[dt.date(2026, 2, 7), "mould_index"] == 2.0
    # From the kept row on, the index is carried on from its state (a damp cold spot: it does not fall).
    carried = measured.loc[dt.date(2026, 2, 8):, "mould_index"]
    assert carried.notna().all() and carried.iloc[-1] >= 2.0
    assert room.hourly["surface_rh_pct"].dropna().iloc[0] == pytest.approx(expected_surface, abs=1e-6)
