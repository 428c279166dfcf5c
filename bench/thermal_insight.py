"""How long the excess cold and heat insight of one home takes, and the excess_heat alarm's outdoor limits for an estate.

Usage: python bench/thermal_insight.py [--homes 500] [--repeat 20]

Builds a throwaway SQLite app database and SQLite readings store: ``--homes`` homes in 50 postcode districts,
each with a living room, kitchen and bedroom read every 10 minutes for the 21 days before 15 July 2026 (the
window and the running mean's week), one outdoor sensor per district. Times ``analytics.thermal_home.home_thermal``
for one home (what the property page and ``GET /api/v1/properties/{uprn}/thermal`` do on each request, median of
``--repeat``) and ``alerts.thermal.thermal_observations`` over the estate (the alarm run, with the registry and
outdoor conditions it now reads). Prints the figures; no pass/fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from alerts.thermal import _adaptive_limits, thermal_observations
from analytics.thermal_home import home_thermal
from core.db import Database
from core.model import Device, Installation, Property, Room
from core.readings import Reading
from core.store_sqlite import SQLiteReadingsStore

END = dt.datetime(2026, 7, 15, tzinfo=dt.UTC)
DAYS = 21
STEP = dt.timedelta(minutes=10)


def build(database: Database, store: SQLiteReadingsStore, homes: int) -> list[str]:
    start = END - dt.timedelta(days=DAYS)
    devices: list[tuple[str, float]] = []
    uprns = []
    with database.session() as session:
        for district in range(50):
            home = Property(uprn=str(900000 + district), address=f"Weather post {district}",
                            postcode=f"LS{district + 1} 9ZZ")
            room = Room(property=home, name="Outside", room_type="outdoor")
            device = Device(device_id=f"out-{district}")
            session.add_all([home, room, device, Installation(device=device, room=room, installed_at=start)])
            devices.append((device.device_id, 0.0))
        for i in range(homes):
            uprn = str(100000 + i)
            uprns.append(uprn)
            home = Property(uprn=uprn, address=f"{i} Bench Street", postcode=f"LS{i % 50 + 1} 1AB")
            session.add(home)
            for name, room_type, base in (("Living room", "living_room", 23.0), ("Kitchen", "kitchen", 24.0),
                                          ("Bedroom 1", "bedroom", 21.0)):
                room = Room(property=home, name=name, room_type=room_type)
                device = Device(device_id=f"{uprn}-{room_type}")
                session.add_all([room, device, Installation(device=device, room=room, installed_at=start)])
                devices.append((device.device_id, base))
    steps = int(dt.timedelta(days=DAYS) / STEP)
    for device_id, base in devices:
        readings = []
        for n in range(steps):
            ts = start + n * STEP
            warm = 4.0 if 12 <= ts.hour < 18 else 0.0
            temperature = (15.0 + warm) if device_id.startswith("out-") else base + warm
            readings.append(Reading(device_id=device_id, ts=ts, temperature_c=temperature, humidity_pct=55.0))
        store.write(readings)
    return uprns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'app.db'}")
        store = SQLiteReadingsStore(f"sqlite:///{Path(folder) / 'readings.db'}")
        try:
            began = time.perf_counter()
            uprns = build(database, store, args.homes)
            print(f"built {args.homes} homes (3 rooms each, {DAYS} days every 10 min) in "
                  f"{time.perf_counter() - began:.1f} s")
            with database.session() as session:
                times = []
                for _ in range(args.repeat):
                    began = time.perf_counter()
                    result = home_thermal(session, store, uprns[len(uprns) // 2], END)
                    times.append(time.perf_counter() - began)
                print(f"home_thermal, one home: median {statistics.median(times) * 1000:.1f} ms, "
                      f"max {max(times) * 1000:.1f} ms over {args.repeat} (heat {result.heat}, "
                      f"outdoor {result.outdoor_source})")
                began = time.perf_counter()
                observations = thermal_observations(session, store, END)
                print(f"thermal_observations, {args.homes} homes: {time.perf_counter() - began:.2f} s "
                      f"({len(observations)} observations)")
                began = time.perf_counter()
                first = END - dt.timedelta(days=7)
                limits = _adaptive_limits(session, store, set(uprns), first, END)
                print(f"  of which the outdoor limits (registry, outdoor conditions, running means): "
                      f"{time.perf_counter() - began:.2f} s ({sum(map(len, limits.values()))} home-days)")
        finally:
            store.close()
            database.dispose()


if __name__ == "__main__":
    main()
