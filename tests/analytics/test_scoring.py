"""Tests for analytics.scoring and analytics.registry against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

import simulator
from analytics.features import WINDOW_DAYS
from analytics.registry import load_registry, outdoor_conditions, read_room_hours
from analytics.scoring import DAY_ROWS_KEPT, PHYSICS_MODEL_NAME, latest_risk, score_estate
from analytics.weather import import_weather
from analytics.wording import render
from core.assets import import_assets, install_device, read_asset_csv
from core.model import PropertyRisk, Room, RoomDay, RoomMouldState, RoomRisk
from core.readings import Reading
from core.store_sqlite import SQLiteReadingsStore
from tests.analytics.conftest import WINTER_START, readings_file, register

ROOM_COLUMNS = ["score", "band", "data_coverage", "hours_since_data", "mould_index", "mould_index_max",
                "mould_index_trend", "hours_surface_rh_over_80", "days_surface_rh_over_80", "hours_rh_over_70",
                "days_rh_over_70", "hours_below_16", "hours_below_18", "mean_temperature_c", "mean_humidity_pct",
                "mean_surface_rh_pct", "vapour_pressure_excess_pa", "humidity_class", "ventilation_score"]
PROPERTY_COLUMNS = ["score", "physics_score", "band", "driver_room", "cause", "cold_home", "mean_temperature_c",
                    "data_coverage", "reasons", "what_would_help", "model_name", "model_version"]


@pytest.fixture(scope="module")
def small_sim() -> simulator.Simulation:
    """Eight homes over sixteen winter days, with sensor faults."""
    return simulator.simulate(simulator.build_estate(seed=5, homes=8), WINTER_START, days=16)


@pytest.fixture(scope="module")
def small_readings(small_sim, tmp_path_factory) -> Path:
    """The small estate's readings in a SQLite file, written once."""
    return readings_file(small_sim, tmp_path_factory.mktemp("small") / "readings.db")


@pytest.fixture
def store(small_readings, tmp_path):
    """A copy of the small estate's readings store (this module's tests all read the small estate)."""
    path = tmp_path / "filled.db"
    shutil.copyfile(small_readings, path)
    store = SQLiteReadingsStore(f"sqlite:///{path}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def estate(small_sim, database, store, tmp_path):
    """The small estate's readings in the store and its register in the app database."""
    register(small_sim, database, tmp_path)
    return small_sim


def at(days: float, hours: int = 0) -> dt.datetime:
    return WINTER_START + dt.timedelta(days=days, hours=hours)


def room_results(database, run_id: int) -> pd.DataFrame:
    with database.session() as session:
        rows = session.scalars(select(RoomRisk).where(RoomRisk.run_id == run_id)).all()
        return pd.DataFrame([{c: getattr(r, c) for c in ["room_id", *ROOM_COLUMNS]} for r in rows]).set_index("room_id").sort_index()


def property_results(database, run_id: int) -> pd.DataFrame:
    with database.session() as session:
        rows = session.scalars(select(PropertyRisk).where(PropertyRisk.run_id == run_id)).all()
        return pd.DataFrame([{c: getattr(r, c) for c in ["uprn", *PROPERTY_COLUMNS]} for r in rows]).set_index("uprn").sort_index()


def states(database) -> pd.DataFrame:
    with database.session() as session:
        rows = session.scalars(select(RoomMouldState)).all()
        return pd.DataFrame([(r.room_id, r.processed_until, r.mould_index, r.dry_spell_hours) for r in rows],
                            columns=["room_id", "until", "index", "dry"]).set_index("room_id").sort_index()


@pytest.mark.parametrize("rewind_days", [0, 2])
def test_incremental_scoring_equals_full_scoring(estate, database, store, rewind_days):
    """Full, then incremental runs (mid-day and at midnight) give exactly what one full run gives."""
    score_estate(database, store, now=at(9, 13), full=True)
    score_estate(database, store, now=at(12), rewind_days=rewind_days)
    incremental = score_estate(database, store, now=at(15, 7), rewind_days=rewind_days)
    assert incremental.mode == "incremental"
    assert incremental.room_hours < 4 * 24 * incremental.rooms * (1 + rewind_days)
    carried = states(database)
    full = score_estate(database, store, now=at(15, 7), full=True)
    pd.testing.assert_frame_equal(room_results(database, incremental.run_id), room_results(database, full.run_id),
                                  check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(property_results(database, incremental.run_id),
                                  property_results(database, full.run_id), check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(carried, states(database), check_exact=False, rtol=1e-12)


def test_scoring_twice_in_the_same_hour_gives_the_same_risk(estate, database, store):
    """A second run up to the same hour recomputes the day from its start and changes nothing."""
    first = score_estate(database, store, now=at(15, 7), full=True)
    second = score_estate(database, store, now=at(15, 7, ))
    pd.testing.assert_frame_equal(property_results(database, first.run_id), property_results(database, second.run_id))


def test_scoring_keeps_state_day_rows_and_history(estate, database, store):
    """Each room keeps its state up to the scored hour, at most DAY_ROWS_KEPT day rows, and every run's risk."""
    score_estate(database, store, now=at(15), full=True)
    report = score_estate(database, store, now=at(16))
    with database.session() as session:
        until = set(session.scalars(select(RoomMouldState.processed_until)))
        per_room = session.execute(select(RoomDay.room_id, func.count()).group_by(RoomDay.room_id)).all()
        runs = session.scalars(select(func.count(func.distinct(PropertyRisk.run_id)))).one()
        run, latest = latest_risk(session)
    assert until == {at(16)}
    assert all(count <= DAY_ROWS_KEPT for _, count in per_room) and len(per_room) == report.rooms
    assert max(count for _, count in per_room) == 16
    assert runs == 2
    assert run.id == report.run_id and len(latest) == report.properties == 8
    assert [r.score for r in latest] == sorted((r.score for r in latest), reverse=True)
    assert {r.model_name for r in latest} == {PHYSICS_MODEL_NAME}


def test_a_home_without_sensors_is_insufficient_data(estate, database, store, tmp_path):
    """A property whose rooms have no sensor is scored as insufficient data, and says why."""
    csv_path = tmp_path / "extra.csv"
    csv_path.write_text(
        "uprn,address,postcode,room,room_type,device_id\n"
        "900000000001,1 Test Street,LS6 1AB,Kitchen,kitchen,\n"
    )
    rows, errors = read_asset_csv(csv_path)
    assert errors == []
    with database.session() as session:
        import_assets(session, rows)
    score_estate(database, store, now=at(16), full=True)
    with database.session() as session:
        _, latest = latest_risk(session)
    silent = next(r for r in latest if r.uprn == "900000000001")
    assert silent.band == "insufficient data"
    assert silent.score is None
    assert silent.reasons == [render("reason.no_sensors")]


def test_a_window_shorter_than_the_minimum_coverage_is_insufficient_data(estate, database, store):
    """Five days after the sensors went up, no home can be judged yet."""
    report = score_estate(database, store, now=at(5), full=True)
    assert set(report.bands) == {"insufficient data"}


def test_readings_follow_a_device_when_it_moves(database, store):
    """Before a move the readings belong to the first room (even before it was registered), after it to the new one."""
    csv_rows = ("uprn,address,postcode,room,room_type,device_id\n"
                "100,1 A Street,LS6 1AB,Kitchen,kitchen,dev-1\n"
                "100,1 A Street,LS6 1AB,Bathroom,bathroom,\n")
    path = Path(store.path).with_name("move.csv")
    path.write_text(csv_rows)
    registered = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
    moved = dt.datetime(2026, 1, 12, tzinfo=dt.UTC)
    with database.session() as session:
        import_assets(session, read_asset_csv(path)[0], at=registered)
        bathroom = session.scalars(select(Room).where(Room.name == "Bathroom")).one()
        install_device(session, "dev-1", bathroom, moved)
    store.write([Reading("dev-1", dt.datetime(2026, 1, 9 + d, 12, tzinfo=dt.UTC), 20.0 + d, 50.0) for d in range(5)])
    with database.session() as session:
        registry = load_registry(session)
    rooms = registry.rooms.set_index("name")["room_id"]
    start = int(dt.datetime(2026, 1, 9, tzinfo=dt.UTC).timestamp()) // 3600
    temp, _, _ = read_room_hours(store, registry, [rooms["Kitchen"], rooms["Bathroom"]], start, start + 5 * 24)
    kitchen = temp[0][np.isfinite(temp[0])]
    bathroom = temp[1][np.isfinite(temp[1])]
    assert kitchen.tolist() == [20.0, 21.0, 22.0]
    assert bathroom.tolist() == [23.0, 24.0]


def test_without_outdoor_data_the_climatology_is_used_and_said(small_sim, database, store, tmp_path):
    """No outdoor sensor and no weather file: typical UK weather, and a reason saying so."""
    path = simulator.write_estate_csv(small_sim.estate, tmp_path / "estate.csv")
    rows, _ = read_asset_csv(Path(path))
    with database.session() as session:
        import_assets(session, [r for r in rows if r.room_type != "outdoor"])
    score_estate(database, store, now=at(16), full=True)
    with database.session() as session:
        _, latest = latest_risk(session)
    assert {r.outdoor_source for r in latest} == {"climatology"}
    assert all(render("reason.climatology") in r.reasons for r in latest)


def test_an_imported_weather_file_serves_its_postcode_district(small_sim, database, store, tmp_path):
    """Homes without outdoor sensors take the weather file of their district."""
    path = simulator.write_estate_csv(small_sim.estate, tmp_path / "estate.csv")
    rows, _ = read_asset_csv(Path(path))
    with database.session() as session:
        import_assets(session, [r for r in rows if r.room_type != "outdoor"])
        registry = load_registry(session)
    district = registry.properties["district"].iloc[0]
    hours = pd.date_range(at(0), at(16), freq="h", inclusive="left")
    weather = tmp_path / "weather.csv"
    pd.DataFrame({"area": district, "ts": hours.strftime("%Y-%m-%dT%H:%M:%SZ"), "temperature_c": 2.5,
                  "humidity_pct": 90.0}).to_csv(weather, index=False)
    with database.session() as session:
        import_weather(session, weather)
    with database.session() as session:
        outdoor = outdoor_conditions(session, store, registry, int(at(1).timestamp()) // 3600,
                                     int(at(2).timestamp()) // 3600)
    uprn = registry.properties.index[0]
    row = outdoor.chain_of[uprn]
    assert outdoor.main_source(uprn, outdoor.start_hour, outdoor.start_hour + 24) == "weather file"
    assert np.all(outdoor.temperature_c[row] == 2.5)
    others = [u for u, d in registry.properties["district"].items() if d != district]
    for other in others:
        assert outdoor.main_source(other, outdoor.start_hour, outdoor.start_hour + 24) == "climatology"


def test_outdoor_sensors_of_the_site_come_first(estate, database, store):
    """Homes with an outdoor sensor on their site use it; the series equals the sensor's hourly means."""
    with database.session() as session:
        registry = load_registry(session)
        start = int(at(3).timestamp()) // 3600
        outdoor = outdoor_conditions(session, store, registry, start, start + WINDOW_DAYS * 24)
    sensor = registry.outdoor_rooms.iloc[0]
    temp, _, _ = read_room_hours(store, registry, [sensor["room_id"]], start, start + WINDOW_DAYS * 24)
    row = outdoor.chain_of[sensor["uprn"]]
    measured = np.isfinite(temp[0])
    assert outdoor.main_source(sensor["uprn"], start, start + WINDOW_DAYS * 24) == "site sensor"
    np.testing.assert_allclose(outdoor.temperature_c[row][measured], temp[0][measured])


def test_a_room_whose_kept_rows_are_gone_is_recomputed_in_full(estate, database, store):
    """Without the day row to restart from, a room is recomputed from its first reading: same result."""
    score_estate(database, store, now=at(12, 9), full=True)
    with database.session() as session:
        room_id = session.scalars(select(RoomMouldState.room_id)).first()
        session.execute(RoomDay.__table__.delete().where(RoomDay.room_id == room_id))
    incremental = score_estate(database, store, now=at(15, 7))
    full = score_estate(database, store, now=at(15, 7), full=True)
    pd.testing.assert_frame_equal(room_results(database, incremental.run_id), room_results(database, full.run_id),
                                  check_exact=False, rtol=1e-9)


def test_weather_for_a_postcode_area_and_the_estate_fills_in_behind_the_district(small_sim, database, store, tmp_path):
    """District weather first, then its postcode area's (LS for LS9), then the estate's ('*'), hour by hour."""
    from analytics.weather import postcode_area

    path = simulator.write_estate_csv(small_sim.estate, tmp_path / "estate.csv")
    rows, _ = read_asset_csv(Path(path))
    with database.session() as session:
        import_assets(session, [r for r in rows if r.room_type != "outdoor"])
        registry = load_registry(session)
    district = registry.properties["district"].iloc[0]
    area = postcode_area(district)
    hours = pd.date_range(at(1), at(2), freq="h", inclusive="left").strftime("%Y-%m-%dT%H:%M:%SZ")
    weather = tmp_path / "weather.csv"
    pd.concat([
        pd.DataFrame({"area": district, "ts": hours[:6], "temperature_c": 1.0, "humidity_pct": 90.0}),
        pd.DataFrame({"area": area, "ts": hours[:12], "temperature_c": 2.0, "humidity_pct": 90.0}),
        pd.DataFrame({"area": "*", "ts": hours, "temperature_c": 3.0, "humidity_pct": 90.0}),
    ]).to_csv(weather, index=False)
    with database.session() as session:
        import_weather(session, weather)
        outdoor = outdoor_conditions(session, store, registry, int(at(1).timestamp()) // 3600,
                                     int(at(2).timestamp()) // 3600)
    uprn = registry.properties.index[0]
    # Hand-written: 6 hours from the district, 6 more from the area, the other 12 from the estate.
    assert outdoor.temperature_c[outdoor.chain_of[uprn]].tolist() == [1.0] * 6 + [2.0] * 6 + [3.0] * 12
    elsewhere = [u for u, d in registry.properties["district"].items() if postcode_area(d) != area]
    for other in elsewhere:
        assert outdoor.temperature_c[outdoor.chain_of[other]].tolist() == [3.0] * 24
