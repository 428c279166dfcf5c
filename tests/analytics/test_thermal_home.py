"""Excess cold and heat insights per room and per home (analytics.thermal_home).

Every expected figure is counted by hand in the test's docstring or comments: occupied hours are TM59's
(living rooms 09:00-22:00, 13 a day; bedrooms all day, nights 22:00-07:00, 9 a night), the WHO 18 °C and
PHE 16 °C thresholds, TM59 (b)'s allowance of 1 % of the night hours rounded down, TM59 (a)'s adaptive limit
0.33 θrm + 21.8 °C, and CIBSE Guide A's static 28 °C for at most 1 % of occupied hours.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.thermal_home import assess_home, home_thermal
from core.db import Database
from core.model import Device, Installation, Property, Room
from core.readings import Reading

JAN = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # London is on UTC in January
JUL = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)  # London is UTC+1 in July
DAYS = 14


def hours(start: dt.datetime, days: int = DAYS) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=days * 24, freq="h")


def series(start: dt.datetime, temp_for, days: int = DAYS) -> pd.Series:
    """Hourly temperatures: ``temp_for(day number, UTC hour)``."""
    index = hours(start, days)
    return pd.Series([float(temp_for((t - index[0]).days, t.hour)) for t in index], index=index)


def window(start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return start, start + dt.timedelta(days=DAYS)


def test_a_cold_living_room_makes_a_cold_home_with_energy_help():
    """Living room 15 °C all the time: 100 % of occupied hours below 18 °C and below 16 °C: high. The warm
    bedroom (19 °C) is not cold. Nothing is hot, no outdoor weather: the living room is judged by 28 °C."""
    result = assess_home("1", [(1, "Living room", "living_room", series(JAN, lambda d, h: 15.0)),
                               (2, "Bedroom 1", "bedroom", series(JAN, lambda d, h: 19.0))], *window(JAN))
    assert (result.cold, result.heat) == ("high", "none")
    assert [(r.name, r.cold, r.heat) for r in result.rooms] == [("Living room", "high", "none"),
                                                                 ("Bedroom 1", "none", "none")]
    assert result.rooms[0].assessment.hours_assessed == 13 * DAYS
    assert result.reasons[0] == ("Living room: 100 % of occupied hours below 18 °C (WHO 2018 advises at least 18 °C), "
                                 "100 % below 16 °C (raised respiratory risk, PHE 2014).")
    assert any("www.simpleenergyadvice.org.uk" in advice for advice in result.advice)
    assert any("Nest" in advice for advice in result.advice)
    assert not any("shading" in advice for advice in result.advice)
    assert result.rooms[0].static == (0, 13 * DAYS, True)


def test_just_over_half_the_hours_below_18_is_medium_cold():
    """17 °C from 09:00 to 16:00 (7 of 13 occupied hours), 20 °C after: 7/13 = 54 % below 18 °C, none below
    16 °C: medium. 6 of 13 (46 %) would not be cold."""
    medium = assess_home("1", [(1, "Living room", "living_room",
                                series(JAN, lambda d, h: 17.0 if 9 <= h < 16 else 20.0))], *window(JAN))
    assert medium.cold == "medium"
    assert medium.reasons[0].startswith("Living room: 54 % of occupied hours below 18 °C")
    assert "0 % below 16 °C" in medium.reasons[0]
    warm = assess_home("1", [(1, "Living room", "living_room",
                              series(JAN, lambda d, h: 17.0 if 9 <= h < 15 else 20.0))], *window(JAN))
    assert warm.cold == "none" and warm.advice == []
    assert warm.reasons[0].startswith("Warm enough")


def test_hot_bedroom_nights_fail_tm59_b_and_bring_heat_advice():
    """July: London nights 22:00-07:00 are 21:00-06:00 UTC, 9 a night, 126 in 14 days; TM59 (b) allows
    floor(1.26) = 1 hour above 26 °C. 27 °C through the nights at the ends of UTC days 0, 1 and 2 and the
    mornings of those days (UTC 00-05 and 21-23: 9 hours a day) is 27 hours: fails, heat medium."""
    def bedroom(day: int, hour: int) -> float:
        return 27.0 if day < 3 and (hour >= 21 or hour < 6) else 22.0

    result = assess_home("1", [(2, "Bedroom 1", "bedroom", series(JUL, bedroom))], *window(JUL))
    assert result.rooms[0].assessment.tm59_b == (27, 1, False)
    assert (result.cold, result.heat) == ("none", "medium")
    assert "Bedroom 1: 27 night hours (22:00 to 07:00) above 26 °C; CIBSE TM59 (b) allows 1." in result.reasons
    assert any("shading" in advice for advice in result.advice)
    assert not any("energy costs" in advice for advice in result.advice)
    one_hot_hour = assess_home("1", [(2, "Bedroom 1", "bedroom",
                                      series(JUL, lambda d, h: 27.0 if (d, h) == (4, 23) else 22.0))], *window(JUL))
    assert one_hot_hour.rooms[0].assessment.tm59_b == (1, 1, True) and one_hot_hour.heat == "none"


def _outdoor(mean_c: float) -> pd.Series:
    """A daily mean outdoor temperature held at ``mean_c`` from a week before the window to its end (the last
    UTC hour, 23:00 on 14 July, is 00:00 on 15 July in London: that date too)."""
    days = pd.Index([(JUL + dt.timedelta(days=n)).date() for n in range(-7, DAYS + 1)])
    return pd.Series(mean_c, index=days)


def test_criterion_a_uses_the_outdoor_weather_where_there_is_some():
    """Outdoor 20 °C every day: θrm = 20, the limit is 0.33 × 20 + 21.8 = 28.4 °C. A living room at 28.6 °C
    from 12:00 to 17:00 London (11-16 UTC, 5 hours a day, 70 of 182 occupied hours) is 0.2 K above: ΔT rounds
    to 0, so (a) passes, though the static 28 °C would fail it (70 > 1 % of 182). At 29.5 °C (1.1 K above,
    ΔT = 1) 70 of 182 hours exceed, more than 3 % (5.46): (a) fails."""
    def living(temp: float):
        return lambda d, h: temp if 11 <= h < 16 else 24.0

    mild = assess_home("1", [(1, "Living room", "living_room", series(JUL, living(28.6)))], *window(JUL),
                       outdoor_daily_mean=_outdoor(20.0), outdoor_source="site sensor")
    assert mild.rooms[0].assessment.tm59_a == (0, 182, True)
    assert mild.rooms[0].static is None
    assert mild.heat == "none" and mild.outdoor_source == "site sensor"

    hot = assess_home("1", [(1, "Living room", "living_room", series(JUL, living(29.5)))], *window(JUL),
                      outdoor_daily_mean=_outdoor(20.0), outdoor_source="site sensor")
    assert hot.rooms[0].assessment.tm59_a == (70, 182, False)
    assert hot.heat == "medium"
    assert ("Living room: 70 of 182 occupied hours 1 K or more above the adaptive limit for the weather outside "
            "(site sensor); CIBSE TM59 (a) allows 3 %.") in hot.reasons

    no_weather = assess_home("1", [(1, "Living room", "living_room", series(JUL, living(28.6)))], *window(JUL))
    assert no_weather.rooms[0].assessment.tm59_a is None
    assert no_weather.rooms[0].static == (70, 182, False)
    assert no_weather.heat == "medium" and no_weather.outdoor_source is None
    assert any(reason.startswith("Living room: 70 of 182 occupied hours above 28 °C; CIBSE Guide A allows 1 %")
               for reason in no_weather.reasons)


def test_a_bedroom_failing_both_criteria_is_high():
    """Outdoor 20 °C (limit 28.4 °C); bedroom at 30 °C all day on days 0-2 (72 of 336 hours: (a) fails, more
    than 3 %) which includes 27 of its 126 night hours above 26 °C ((b) fails): both fail, high."""
    bedroom = series(JUL, lambda d, h: 30.0 if d < 3 else 22.0)
    result = assess_home("1", [(2, "Bedroom 1", "bedroom", bedroom)], *window(JUL),
                         outdoor_daily_mean=_outdoor(20.0), outdoor_source="weather file")
    assert result.rooms[0].assessment.tm59_a == (72, 336, False)
    assert result.rooms[0].assessment.tm59_b[0] == 27
    assert result.heat == "high"


def test_no_readings_say_so():
    """Empty hours in every room and a bathroom (never judged): both verdicts unknown, one reason saying why."""
    empty = pd.Series(np.nan, index=hours(JAN))
    result = assess_home("1", [(1, "Living room", "living_room", empty), (3, "Bathroom", "bathroom", empty)],
                         *window(JAN))
    assert (result.cold, result.heat) == ("unknown", "unknown")
    assert [r.name for r in result.rooms] == ["Living room"]
    assert result.reasons == ["Not enough readings from living rooms, bedrooms or kitchens in this period to judge."]
    assert result.as_dict()["rooms"][0]["share_below_18c"] is None


def _home(database: Database, *, outdoor: bool) -> None:
    with database.session() as session:
        home = Property(uprn="200000000001", address="1 Elm Road, Leeds", postcode="LS6 2CD", site="Elm Court")
        session.add(home)
        rooms = [("Living room", "living_room"), ("Bedroom 1", "bedroom")] + ([("Outside", "outdoor")] if outdoor else [])
        for name, room_type in rooms:
            room = Room(property=home, name=name, room_type=room_type)
            device = Device(device_id=f"dev-{room_type}")
            session.add_all([room, device])
            session.add(Installation(device=device, room=room, installed_at=JUL - dt.timedelta(days=30)))


def _write(store, device_id: str, first: dt.datetime, days: int, temp_for) -> None:
    """Readings every 30 minutes, at ``temp_for(day number, UTC hour)``."""
    store.write([Reading(device_id=device_id, ts=first + dt.timedelta(minutes=30 * n),
                         temperature_c=float(temp_for(n // 48, (n // 2) % 24)), humidity_pct=55.0)
                 for n in range(days * 48)])


def test_home_thermal_reads_the_rooms_and_the_outdoor_sensor(tmp_path, store):
    """Real SQLite databases: the living room at 29.5 °C from 11 to 16 UTC; the home's outdoor sensor at
    20 °C for the week before and the 14 days: TM59 (a) fails with 70 of 182 hours, from the site sensor."""
    database = Database(f"sqlite:///{tmp_path}/app.db")
    try:
        _home(database, outdoor=True)
        _write(store, "dev-living_room", JUL, DAYS, lambda d, h: 29.5 if 11 <= h < 16 else 24.0)
        _write(store, "dev-bedroom", JUL, DAYS, lambda d, h: 22.0)
        _write(store, "dev-outdoor", JUL - dt.timedelta(days=7), DAYS + 7, lambda d, h: 20.0)
        with database.session() as session:
            result = home_thermal(session, store, "200000000001", JUL + dt.timedelta(days=DAYS))
            assert home_thermal(session, store, "999", JUL) is None
    finally:
        database.dispose()
    assert (result.start, result.end) == window(JUL)
    assert [(r.name, r.heat) for r in result.rooms] == [("Living room", "medium"), ("Bedroom 1", "none")]
    assert result.rooms[0].assessment.tm59_a == (70, 182, False)
    assert result.outdoor_source == "site sensor"
    data = result.as_dict()
    assert data["heat"] == "medium" and data["rooms"][0]["tm59_a"] == {
        "hours_exceeding": 70, "hours_assessed": 182, "passes": False}


def test_home_thermal_without_outdoor_weather_falls_back_on_28c(tmp_path, store):
    """No outdoor sensor or weather file: (a) is not judged (the climatology is not used for it); the
    living room's 70 of 182 hours above 28 °C fail CIBSE Guide A's 1 %."""
    database = Database(f"sqlite:///{tmp_path}/app.db")
    try:
        _home(database, outdoor=False)
        _write(store, "dev-living_room", JUL, DAYS, lambda d, h: 29.5 if 11 <= h < 16 else 24.0)
        with database.session() as session:
            result = home_thermal(session, store, "200000000001", JUL + dt.timedelta(days=DAYS))
    finally:
        database.dispose()
    assert result.outdoor_source is None
    assert result.rooms[0].assessment.tm59_a is None and result.rooms[0].static == (70, 182, False)
    assert result.heat == "medium"
    # The bedroom's sensor sent nothing: it is listed, not judged.
    assert [(r.name, r.cold, r.heat) for r in result.rooms] == [("Living room", "none", "medium"),
                                                                ("Bedroom 1", "unknown", "unknown")]


def test_a_weather_file_that_stops_part_way_judges_criterion_a_only_where_it_can(tmp_path, store):
    """No outdoor sensor; the postcode area's weather file (LS, 20 °C) runs from a week before the window to
    00:00 UTC on 8 July. London dates 24 June to 7 July have measured means (8 July has one hour, too few), so
    θrm rests on measured days up to 8 July; 9 to 15 July are not judged by (a). The living room at 29.5 °C for 5
    hours a day: 8 days × 5 = 40 of 8 × 13 = 104 occupied hours exceed the 28.4 °C limit; fails, from the file."""
    from core.model import WeatherHour

    database = Database(f"sqlite:///{tmp_path}/app.db")
    try:
        _home(database, outdoor=False)
        _write(store, "dev-living_room", JUL, DAYS, lambda d, h: 29.5 if 11 <= h < 16 else 24.0)
        with database.session() as session:
            first = JUL - dt.timedelta(days=7)
            session.add_all([WeatherHour(area="LS", hour=first + dt.timedelta(hours=n), temperature_c=20.0,
                                         humidity_pct=60.0, source="test") for n in range(14 * 24)])
        with database.session() as session:
            result = home_thermal(session, store, "200000000001", JUL + dt.timedelta(days=DAYS))
    finally:
        database.dispose()
    assert result.outdoor_source == "weather file"
    assert result.rooms[0].assessment.tm59_a == (40, 104, False)
    assert result.rooms[0].static is None and result.heat == "medium"

_ROOM_TYPES = ("living_room", "bedroom", "kitchen", "bathroom")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_ROOM_TYPES),
                          st.lists(st.one_of(st.floats(10.0, 32.0), st.just(float("nan"))), min_size=48, max_size=48)),
                min_size=1, max_size=4),
       st.booleans())
def test_the_home_takes_its_worst_rooms_verdict(rooms, with_outdoor):
    """Any temperatures (two July days of hours repeated over the window, gaps included): the home's cold and heat
    are the most serious of its judged rooms'; each room failing a heat criterion has a reason naming it; advice
    comes exactly when a verdict is medium or high; bathrooms are never judged."""
    order = ("unknown", "none", "medium", "high")
    given_rooms = [(n, f"Room {n}", room_type, pd.Series(np.tile(values, DAYS // 2), index=hours(JUL)))
                   for n, (room_type, values) in enumerate(rooms)]
    result = assess_home("1", given_rooms, *window(JUL), outdoor_daily_mean=_outdoor(18.0) if with_outdoor else None,
                         outdoor_source="site sensor" if with_outdoor else None)
    assert all(r.room_type != "bathroom" for r in result.rooms)
    cold = [r.cold for r in result.rooms if r.room_type in ("living_room", "bedroom") and r.cold != "unknown"]
    heat = [r.heat for r in result.rooms if r.heat != "unknown"]
    assert result.cold == (max(cold, key=order.index) if cold else "unknown")
    assert result.heat == (max(heat, key=order.index) if heat else "unknown")
    for room in result.rooms:
        a = room.assessment
        failed = (a.tm59_b is not None and not a.tm59_b[2]) or (a.tm59_a is not None and a.tm59_a[1] > 0
                                                                 and not a.tm59_a[2]) \
            or (room.static is not None and not room.static[2])
        assert failed == (room.heat in ("medium", "high")) or room.heat == "unknown"
        if failed:
            assert any(reason.startswith(f"{room.name}: ") and "CIBSE" in reason for reason in result.reasons)
    assert bool(result.advice) == (result.cold in ("medium", "high") or result.heat in ("medium", "high"))
