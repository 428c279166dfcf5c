"""analytics.room_series reads the district's outdoor sensors only when the block's own leave an hour open.

A room at 10 °C and 60 % with a temperature factor of 0.5: its cold spot is at T_out + 0.5 (10 − T_out).
With the block's sensor at 5 °C the cold spot is at 7.5 °C and its humidity is 60 % × p_sat(10 °C) /
p_sat(7.5 °C) = 60 × 1.2282 / 1.0371 ≈ 71.1 % (saturation pressures from the steam tables: 1.2282 kPa at
10 °C; 1.0021 and 1.0730 kPa at 7 and 8 °C, so ≈1.0371 kPa at 7.5 °C). With the district's sensor at 10 °C
the cold spot is at the room's own 10 °C, so its humidity is the room's 60 % exactly.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analytics.features import CONTEXT_HOURS, HOURS_PER_DAY
from analytics.registry import epoch_hour, hour_datetime
from analytics.room_series import room_series
from core.model import Device, Installation, Property, Room
from core.readings import Reading

END_HOUR = epoch_hour(dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC))  # the period's end (exclusive)
GAP_HOURS_BEFORE_END = 6  # the hour with no reading from the block's sensor
HOURS = 12  # a one-day period ending at noon: midnight to noon


def _estate(database, store, *, block_gap: bool, district_in_gap: bool = True, room_in_gap: bool = True) -> Property:
    with database.session() as session:
        session.add_all([
            Property(uprn="100000000001", address="1 Block A", postcode="LS6 1AA", site="Block A"),
            Property(uprn="100000000003", address="1 Block B", postcode="LS6 2ZZ", site="Block B"),
        ])
        session.flush()
        living = Room(uprn="100000000001", name="Living room", room_type="living_room", temperature_factor=0.5)
        block = Room(uprn="100000000001", name="Outside", room_type="outdoor")
        district = Room(uprn="100000000003", name="Outside", room_type="outdoor")
        session.add_all([living, block, district])
        session.flush()
        installed = hour_datetime(END_HOUR - 30 * HOURS_PER_DAY)
        for device_id, room in (("in-a", living), ("out-a", block), ("out-b", district)):
            session.add(Device(device_id=device_id))
            session.flush()
            session.add(Installation(device_id=device_id, room_id=room.id, installed_at=installed))
    first = END_HOUR - 2 * HOURS_PER_DAY - CONTEXT_HOURS
    gap = END_HOUR - GAP_HOURS_BEFORE_END
    readings = []
    for hour in range(first, END_HOUR):
        at = hour_datetime(hour) + dt.timedelta(minutes=30)
        if room_in_gap or hour != gap:
            readings.append(Reading("in-a", at, 10.0, 60.0))
        if not (block_gap and hour == gap):
            readings.append(Reading("out-a", at, 5.0, 90.0))
        if district_in_gap or hour != gap:
            readings.append(Reading("out-b", at, 10.0, 90.0))
    store.write(readings)
    with database.session() as session:
        return session.get(Property, "100000000001")


def _surface_rh(database, store, home) -> tuple[np.ndarray, np.ndarray]:
    with database.session() as session:
        home = session.get(Property, home.uprn)
        (series,) = room_series(session, store, home, 1, END_HOUR)
    return series.hourly.index, series.hourly["surface_rh_pct"].to_numpy()


def test_the_blocks_own_sensor_alone_gives_every_hour(database, store):
    """Every hour's cold spot follows the block's 5 °C sensor, never the district's 10 °C one."""
    home = _estate(database, store, block_gap=False)
    _, surface = _surface_rh(database, store, home)
    assert len(surface) == HOURS
    assert surface == pytest.approx([71.1] * HOURS, abs=0.3)


def test_an_hour_the_block_lacks_is_the_districts(database, store):
    """The hour without the block's reading takes the district's 10 °C (cold spot = room = 60 %)."""
    home = _estate(database, store, block_gap=True)
    index, surface = _surface_rh(database, store, home)
    gap = index == hour_datetime(END_HOUR - GAP_HOURS_BEFORE_END)
    assert gap.sum() == 1
    assert surface[gap] == pytest.approx([60.0], abs=0.01)
    assert surface[~gap] == pytest.approx([71.1] * (HOURS - 1), abs=0.3)


def test_an_hour_nobody_measured_is_a_gap_and_the_rest_is_the_blocks(database, store):
    """No sensor at all read in one hour: a gap in the chart, and every other hour is the block's 5 °C."""
    home = _estate(database, store, block_gap=True, district_in_gap=False, room_in_gap=False)
    index, surface = _surface_rh(database, store, home)
    gap = index == hour_datetime(END_HOUR - GAP_HOURS_BEFORE_END)
    assert np.isnan(surface[gap]).all()
    assert surface[~gap] == pytest.approx([71.1] * (HOURS - 1), abs=0.3)
