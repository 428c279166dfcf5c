"""Dashboard latency: server time of the officer's pages on an estate of 100 000 homes.

    .venv/bin/python bench/dashboard_latency.py                 # build (or reuse) var/bench/dashboard, measure
    .venv/bin/python bench/dashboard_latency.py --requests 400  # more requests per scenario
    .venv/bin/python bench/dashboard_latency.py --homes 10000   # a smaller estate (issue 4's size)
    .venv/bin/python bench/dashboard_latency.py --rebuild       # make the estate again

The estate (built once, kept under ``var/bench/dashboard/`` and reused while its parameters match; the build
time is printed):

* 100 000 homes in 40 postcode districts and 4 000 estates or blocks (25 homes each, a wall type per block and
  a floor per flat), 3 or 4 rooms each (bathroom, kitchen, bedroom, and a living room in half of them) with a
  sensor in every room, and one outdoor sensor per block: about 354 000 devices, each with its health (a few
  offline, a few with low batteries);
* two finished scoring runs a week apart with a risk row for every home (the latest also for every room; bands
  in realistic shares, reasons and advice in words), household vulnerability flags, and open and closed cases;
* 90 days of hourly readings, but only for the homes the benchmark opens (``--sample``, 300 by default)
  and the outdoor sensors of their sites. Hourly readings for all 10 000 homes would be about 75 million
  rows (several GB, and a long build) while the pages only ever read the home they show; the risk list
  reads the app database alone (so do the estate pages and the portfolio summary). For the sampled rooms, the day rows and mould state that scoring keeps
  (the last 28 days) are computed from the same readings with ``analytics.features.summarise_days``.

Then, signed in as a housing officer through the real sign-in form, it times with Flask's test client
(server time: the whole WSGI call, no network) at least ``--requests`` requests of each of:

* the risk list, unfiltered, on random pages;
* the risk list filtered to high and critical homes with a vulnerable household, on random pages;
* the page of a random estate or block;
* the portfolio summary: first with its figures computed afresh (the cache emptied before each request: what
  the first officer after a scoring run, a new case or a new alarm waits for), then as every later request
  finds it (kept, keyed by the data version);
* the property page of random sampled homes (each home once: nothing is cached for it yet);
* the interactive charts' JSON for 90 days of the same homes (not yet computed for that period: the series
  are read and computed afresh), and for the 30 days the page has just shown (as a browser fetches it);
* the chart images of those pages (each room's PNG), measured separately, as a browser fetches them
  after the page.

It prints p50 and p95 in milliseconds for each (and the same for the processor time the request used, which
does not grow when other programs share the machine), and PASS or FAIL against the targets: p95 of the
server time under 300 ms for the risk list, the estate page, the portfolio summary and the property page, and
under 150 ms for the chart data (issues 4 and 16). The clock is frozen at the end of the built data (with
time-machine), so a reused estate looks the same on any day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

BUILD_VERSION = 4  # change when the data made below changes, so a cached estate is rebuilt
HOMES = 100_000
HOMES_PER_SITE = 25
DISTRICTS = [f"LS{n}" for n in range(1, 30)] + [f"BD{n}" for n in range(1, 12)]
DAYS = 90
TARGET_P95_MS = 300.0
#: Scenarios with their own target (ms); the others have TARGET_P95_MS; None: measured, no target.
TARGETS_MS = {"chart data JSON, 90 days (computed)": 150.0, "chart data JSON, 30 days (after its page)": 150.0,
              "chart image (after its page)": None, "portfolio summary (computed afresh)": None,
              "thermal insight (computed afresh)": None}
WALL_TYPES = ("cavity", "solid brick", "system built", "timber frame")
PASSWORD = "benchmark password 1"
OFFICER_EMAIL = "officer@bench.example"

CAUSE_WORDS = {
    "poor_ventilation": "After showers, the humidity in the bathroom falls back slowly.",
    "high_moisture_load": "The air indoors holds much more moisture than the air outside.",
    "under_heating": "The home averaged 15.2 °C over the last 14 days.",
    "cold_fabric": "The coldest wall of the bedroom is damp although the air is ordinary.",
    "leak": "The kitchen stays humid day and night.",
}


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


# --------------------------------------------------------------------------------------------------------
# Building the estate
# --------------------------------------------------------------------------------------------------------


def _homes(rng: np.random.Generator, count: int) -> list[dict]:
    homes = []
    sites = max(1, count // HOMES_PER_SITE)
    for i in range(count):
        site = i % sites
        district = DISTRICTS[site % len(DISTRICTS)]
        inward = f"{rng.integers(1, 10)}{chr(65 + rng.integers(0, 26))}{chr(65 + rng.integers(0, 26))}"
        flags = rng.random(4)
        homes.append({
            "uprn": str(200_000_000_001 + i),
            "address": f"Flat {i // sites + 1}, {['Ash', 'Birch', 'Cedar', 'Damson', 'Elm'][site % 5]} House, "
                       f"Site road {site + 1}",
            "postcode": f"{district} {inward}",
            "site": f"Block {site + 1:04d}",
            "wall_type": WALL_TYPES[site % len(WALL_TYPES)],
            "floor_level": (i // sites) % 6,
            "child_under_15": None if flags[3] < 0.1 else bool(flags[0] < 0.2),
            "over_65": None if flags[3] < 0.1 else bool(flags[1] < 0.25),
            "respiratory_condition": None if flags[3] < 0.1 else bool(flags[2] < 0.1),
            "temperature_factor": float(rng.uniform(0.55, 0.8)),
            "rooms": ["bathroom", "kitchen", "bedroom"] + (["living_room"] if i % 2 else []),
            "outdoor": i < sites,  # the first home of each site carries the site's outdoor sensor
        })
    return homes


def _band(score: float) -> str:
    return "critical" if score >= 75 else "high" if score >= 50 else "medium" if score >= 25 else "low"


def _climate(rng: np.random.Generator, hours: int, first_hour: int, damp: bool) -> tuple[np.ndarray, np.ndarray]:
    """An hourly room climate: a daily heating cycle, noise, and in damp homes high humidity."""
    t = (np.arange(hours) + first_hour) % 24
    cycle = np.sin(2 * np.pi * (t - 9) / 24)
    temp = rng.uniform(15.0, 21.0) + 1.5 * cycle + rng.normal(0, 0.4, hours)
    base = rng.uniform(66, 80) if damp else rng.uniform(45, 60)
    rh = np.clip(base - 3 * cycle + rng.normal(0, 2.0, hours), 5, 100)
    return temp, rh


def build(folder: Path, sample: int, seed: int, count: int = HOMES) -> dict:
    """Make the app database and readings store in ``folder``; return the build's metadata."""
    from sqlalchemy import insert

    from analytics.features import CONTEXT_HOURS, DAY_FIELDS, HourlyConditions, summarise_days
    from analytics.risk import WET_ROOM_TYPES
    from analytics.scoring import DAY_ROWS_KEPT
    from core.db import Database
    from core.model import (
        Case,
        Device,
        DeviceHealth,
        Installation,
        Property,
        PropertyRisk,
        Room,
        RoomDay,
        RoomMouldState,
        RoomRisk,
        ScoringRun,
        User,
    )
    from core.store_sqlite import SQLiteReadingsStore

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    end_hour = int(end.timestamp()) // 3600
    first_hour = end_hour - DAYS * 24
    homes = _homes(rng, count)
    sampled = sorted(rng.choice(len(homes), size=sample, replace=False).tolist())
    database = Database(f"sqlite:///{folder}/app.db")
    progress = _progress()
    with progress:
        task = progress.add_task("register, devices and their health", total=len(homes))
        with database.session() as session:
            from werkzeug.security import generate_password_hash

            session.add(User(email=OFFICER_EMAIL, name="Bench Officer", role="officer",
                             password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")))
            week_before = end - dt.timedelta(days=7)
            earlier = ScoringRun(started_at=week_before, finished_at=week_before, mode="full",
                                 scored_until=week_before, model_name="dampwatch-physics", model_version="1.0",
                                 properties=len(homes))
            session.add(earlier)
            session.flush()
            earlier_id = earlier.id
            run = ScoringRun(started_at=end, finished_at=end, mode="full", scored_until=end,
                             model_name="dampwatch-physics", model_version="1.0", properties=len(homes))
            session.add(run)
            session.flush()
            run_id = run.id
        room_id = 0
        rooms_of: dict[str, list[tuple[int, str, str]]] = {}
        for chunk_start in range(0, len(homes), 1000):
            chunk = homes[chunk_start:chunk_start + 1000]
            properties, rooms, devices, installs, health, risks, room_risks, cases = [], [], [], [], [], [], [], []
            for home in chunk:
                properties.append({k: home[k] for k in ("uprn", "address", "postcode", "site", "child_under_15",
                                                         "over_65", "respiratory_condition", "temperature_factor",
                                                         "wall_type", "floor_level")})
                home_rooms = []
                for room_type in home["rooms"] + (["outdoor"] if home["outdoor"] else []):
                    room_id += 1
                    name = room_type.replace("_", " ").capitalize()
                    device_id = f"b-{home['uprn']}-{room_type}"
                    rooms.append({"id": room_id, "uprn": home["uprn"], "name": name, "room_type": room_type})
                    devices.append({"device_id": device_id, "model": "bench"})
                    installs.append({"device_id": device_id, "room_id": room_id,
                                     "installed_at": end - dt.timedelta(days=DAYS + 30)})
                    draw = rng.random()
                    last_seen = end - (dt.timedelta(days=2) if draw < 0.03 else dt.timedelta(minutes=int(rng.integers(1, 55))))
                    health.append({"device_id": device_id, "last_seen": last_seen, "last_received_at": last_seen,
                                   "battery_v": 2.4 if rng.random() < 0.04 else float(rng.uniform(2.8, 3.2)),
                                   "readings": DAYS * 24})
                    home_rooms.append((room_id, room_type, device_id))
                rooms_of[home["uprn"]] = home_rooms
                score = float(np.clip(rng.beta(1.2, 4.0) * 100, 0, 100))
                insufficient = rng.random() < 0.03
                band = "insufficient data" if insufficient else _band(score)
                cause = None if band in ("low", "insufficient data") else str(rng.choice(list(CAUSE_WORDS)))
                driver = home_rooms[int(rng.integers(0, len(home["rooms"])))]
                risks.append({
                    "run_id": run_id, "uprn": home["uprn"], "computed_at": end,
                    "score": None if insufficient else score, "physics_score": None if insufficient else score,
                    "band": band, "driver_room_id": driver[0], "driver_room": driver[1].replace("_", " ").capitalize(),
                    "cause": cause, "cold_home": cause == "under_heating", "mean_temperature_c": 18.0,
                    "data_coverage": 0.0 if insufficient else 0.97, "outdoor_source": "site sensor",
                    "reasons": [CAUSE_WORDS[cause]] if cause else ["The coldest walls stayed below 80 % humidity."],
                    "what_would_help": ["Check that the extractor fan works."] if cause else ["Nothing needs doing now."],
                    "model_name": "dampwatch-physics", "model_version": "1.0",
                })
                before = float(np.clip(score + rng.normal(0, 8), 0, 100))  # the week before
                risks.append({**risks[-1], "run_id": earlier_id, "computed_at": week_before,
                              "score": None if insufficient else before, "physics_score": None if insufficient else before,
                              "band": "insufficient data" if insufficient else _band(before)})
                for rid, room_type, _ in home_rooms:
                    if room_type == "outdoor":
                        continue
                    room_score = float(np.clip(score + rng.normal(0, 10), 0, 100))
                    room_risks.append({"run_id": run_id, "room_id": rid, "uprn": home["uprn"], "computed_at": end,
                                       "score": room_score, "band": _band(room_score), "data_coverage": 0.97,
                                       "mould_index": float(rng.uniform(0, 2)),
                                       "hours_surface_rh_over_80": float(rng.integers(0, 200))})
                draw = rng.random()
                if draw < 0.07:
                    cases.append({"uprn": home["uprn"], "source": "risk_flag", "aware_at": end - dt.timedelta(days=5),
                                  "opened_at": end - dt.timedelta(days=5), "opened_by": OFFICER_EMAIL,
                                  "status": "open" if draw < 0.04 else "closed",
                                  "closed_at": None if draw < 0.04 else end - dt.timedelta(days=1)})
            with database.session() as session:
                for table, rows in ((Property, properties), (Room, rooms), (Device, devices), (Installation, installs),
                                    (DeviceHealth, health), (PropertyRisk, risks), (RoomRisk, room_risks),
                                    (Case, cases)):
                    if rows:
                        session.execute(insert(table), rows)
            progress.advance(task, len(chunk))

        store = SQLiteReadingsStore(f"sqlite:///{folder}/readings.db")
        connection = sqlite3.connect(store.path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        sampled_uprns = [homes[i]["uprn"] for i in sampled]
        sites = {homes[i]["site"] for i in sampled}
        outdoor = {home["site"]: home["uprn"] for home in homes if home["outdoor"]}
        task = progress.add_task(f"{DAYS} days of hourly readings ({len(sampled)} homes)", total=len(sampled) + len(sites))
        hours = DAYS * 24
        stamps = (np.arange(first_hour, end_hour) * 3600 + 600).tolist()
        site_weather: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for site in sorted(sites):
            t = np.arange(first_hour - CONTEXT_HOURS, end_hour) % 24
            temp_out = 6.0 + 4.0 * np.sin(2 * np.pi * (t - 9) / 24) + rng.normal(0, 1.0, t.size)
            rh_out = np.clip(85 + rng.normal(0, 5, t.size), 30, 100)
            site_weather[site] = (temp_out, rh_out)
            device_id = f"b-{outdoor[site]}-outdoor"
            rows = zip([device_id] * hours, stamps, temp_out[CONTEXT_HOURS:].round(2).tolist(),
                       rh_out[CONTEXT_HOURS:].round(1).tolist(), strict=True)
            connection.execute("BEGIN")
            connection.executemany("INSERT OR IGNORE INTO reading (device_id, ts, temperature_c, humidity_pct, "
                                   "battery_v, seq, flags) VALUES (?, ?, ?, ?, 3.0, NULL, 0)", rows)
            connection.execute("COMMIT")
            progress.advance(task)
        day_records, states = [], []
        first_kept = DAYS - DAY_ROWS_KEPT
        by_uprn = {home["uprn"]: home for home in homes}
        for uprn in sampled_uprns:
            home = by_uprn[uprn]
            indoor = [(rid, room_type, device_id) for rid, room_type, device_id in rooms_of[uprn]
                      if room_type != "outdoor"]
            damp = rng.random() < 0.3
            temps, rhs = [], []
            connection.execute("BEGIN")
            for _, _, device_id in indoor:
                temp, rh = _climate(rng, hours + CONTEXT_HOURS, first_hour - CONTEXT_HOURS, damp)
                temps.append(temp)
                rhs.append(rh)
                rows = zip([device_id] * hours, stamps, temp[CONTEXT_HOURS:].round(2).tolist(),
                           rh[CONTEXT_HOURS:].round(1).tolist(), strict=True)
                connection.executemany("INSERT OR IGNORE INTO reading (device_id, ts, temperature_c, humidity_pct, "
                                       "battery_v, seq, flags) VALUES (?, ?, ?, ?, 3.0, NULL, 0)", rows)
            connection.execute("COMMIT")
            # The day rows and mould state scoring keeps, from the same hours (the context hours are NaN,
            # as the readings start with the first day).
            temp = np.array(temps)
            rh = np.array(rhs)
            temp[:, :CONTEXT_HOURS] = np.nan
            rh[:, :CONTEXT_HOURS] = np.nan
            temp_out, rh_out = site_weather[home["site"]]
            n = len(indoor)
            conditions = HourlyConditions(temp, rh, rh, np.tile(temp_out, (n, 1)), np.tile(rh_out, (n, 1)),
                                          np.ones((n, hours + CONTEXT_HOURS), dtype=bool), CONTEXT_HOURS)
            wet = np.isin([room_type for _, room_type, _ in indoor], WET_ROOM_TYPES)
            days, index, dry = summarise_days(conditions, home["temperature_factor"], wet, first_kept_day=first_kept)
            first_day = first_hour // 24
            for r, (rid, _, _) in enumerate(indoor):
                for offset, values in enumerate(days[r]):
                    record = {"room_id": rid, "day": dt.date(1970, 1, 1) + dt.timedelta(days=first_day + first_kept + offset)}
                    for name, value in zip(DAY_FIELDS, values.tolist(), strict=True):
                        record[name] = None if not np.isfinite(value) else value
                    for name in ("dry_spell_hours_start", "hours_data", "hours_outdoor_measured",
                                 "hours_surface_rh_over_80", "hours_rh_over_70", "hours_below_16", "hours_below_18",
                                 "ventilation_events", "last_data_hour"):
                        if record[name] is not None:
                            record[name] = int(record[name])
                    day_records.append(record)
                states.append({"room_id": rid, "processed_until": end, "mould_index": float(index[r]),
                               "dry_spell_hours": int(dry[r]), "temperature_factor": home["temperature_factor"],
                               "updated_at": end})
            progress.advance(task)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        store.close()
        with database.session() as session:
            session.execute(insert(RoomDay), day_records)
            session.execute(insert(RoomMouldState), states)
    with database.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    meta = {"version": BUILD_VERSION, "homes": count, "days": DAYS, "sample": sample, "seed": seed,
            "end": end.isoformat(), "sampled_uprns": sampled_uprns}
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def _cached(folder: Path, sample: int, seed: int, count: int = HOMES) -> dict | None:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    wanted = {"version": BUILD_VERSION, "homes": count, "days": DAYS, "sample": sample, "seed": seed}
    if any(meta.get(key) != value for key, value in wanted.items()):
        return None
    if not (folder / "app.db").exists() or not (folder / "readings.db").exists():
        return None
    return meta


# --------------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------------


def _sign_in(client) -> None:
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    response = client.post("/sign-in", data={"email": OFFICER_EMAIL, "password": PASSWORD,
                                              "csrf_token": token.group(1) if token else ""})
    if response.status_code != 302:
        raise SystemExit(f"signing in failed: {response.status_code}")


#: Processor time of each request (ms), by scenario: what the server needed, whatever else the machine ran.
CPU_MS: dict[str, list[float]] = {}


def _get(client, url: str, scenario: str) -> tuple[float, bytes]:
    """Server time of one GET in milliseconds (the body read in full, as a server would send it) and the body."""
    started, started_cpu = time.perf_counter(), time.thread_time()
    response = client.get(url)
    body = response.get_data()
    elapsed = (time.perf_counter() - started) * 1000.0
    CPU_MS.setdefault(scenario, []).append((time.thread_time() - started_cpu) * 1000.0)
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    return elapsed, body


def _time(client, url: str, scenario: str) -> float:
    return _get(client, url, scenario)[0]


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


def measure(folder: Path, meta: dict, requests: int, seed: int) -> bool:
    import time_machine
    from rich.console import Console
    from rich.table import Table

    from core.db import Database
    from core.settings import Settings
    from core.store_sqlite import SQLiteReadingsStore
    from dashboard import create_app

    end = dt.datetime.fromisoformat(meta["end"])
    settings = Settings(var_dir=folder, database_url=f"sqlite:///{folder}/app.db",
                        readings_url=f"sqlite:///{folder}/readings.db", web_config="production",
                        web_secret_key="bench", web_cookie_secure=False)
    database = Database(settings.database_url, migrate=False)
    store = SQLiteReadingsStore(settings.readings_url)
    app = create_app(settings, database=database, store=store)
    rng = random.Random(seed)
    results: dict[str, list[float]] = {}
    load_before = os.getloadavg()
    with time_machine.travel(end + dt.timedelta(minutes=20), tick=True), app.test_client() as client:
        _sign_in(client)
        filtered = "band=high&band=critical&vulnerable=y"
        with database.session() as session:
            from dashboard.queries import RiskFilters, risk_page

            total = risk_page(session, RiskFilters(), now=end, offline_after_s=settings.device_offline_after_s).pages
            total_filtered = risk_page(session, RiskFilters(bands=("high", "critical"), vulnerable=True), now=end,
                                       offline_after_s=settings.device_offline_after_s).pages
        for url in ("/", f"/?{filtered}", f"/properties/{meta['sampled_uprns'][0]}", "/portfolio/"):  # warm up
            _time(client, url, "warm-up")
        with database.session() as session:
            from sqlalchemy import select

            from core.model import Property

            sites = sorted(session.scalars(select(Property.site).distinct()).all())
        homes = list(meta["sampled_uprns"][1:])
        rng.shuffle(homes)
        if len(homes) < requests:
            raise SystemExit(f"only {len(homes)} sampled homes; build with --sample {requests + 1} or more")
        progress = _progress()
        with progress:
            task = progress.add_task("risk list, unfiltered", total=requests)
            results["risk list, unfiltered"] = []
            for _ in range(requests):
                results["risk list, unfiltered"].append(
                    _time(client, f"/?page={rng.randint(1, total)}", "risk list, unfiltered"))
                progress.advance(task)
            task = progress.add_task("risk list, high+critical, vulnerable", total=requests)
            results["risk list, high+critical, vulnerable"] = []
            for _ in range(requests):
                page = rng.randint(1, total_filtered)
                results["risk list, high+critical, vulnerable"].append(
                    _time(client, f"/?{filtered}&page={page}", "risk list, high+critical, vulnerable"))
                progress.advance(task)
            task = progress.add_task("estate or block page", total=requests)
            results["estate or block page"] = []
            for _ in range(requests):
                site = rng.choice(sites)
                results["estate or block page"].append(
                    _time(client, "/portfolio/sites/" + quote(site), "estate or block page"))
                progress.advance(task)
            from dashboard import portfolio

            fresh = max(10, requests // 10)
            task = progress.add_task("portfolio summary (computed afresh)", total=fresh)
            results["portfolio summary (computed afresh)"] = []
            for _ in range(fresh):
                portfolio.CACHE.clear()
                results["portfolio summary (computed afresh)"].append(
                    _time(client, "/portfolio/", "portfolio summary (computed afresh)"))
                progress.advance(task)
            task = progress.add_task("portfolio summary", total=requests)
            results["portfolio summary"] = []
            for _ in range(requests):
                results["portfolio summary"].append(_time(client, "/portfolio/", "portfolio summary"))
                progress.advance(task)
            task = progress.add_task("property page (each home once)", total=requests)
            results["property page"] = []
            results["chart image (after its page)"] = []
            results["chart data JSON, 30 days (after its page)"] = []
            results["chart data JSON, 90 days (computed)"] = []
            results["thermal insight (computed afresh)"] = []
            from analytics.thermal_home import home_thermal

            chart = re.compile(r'src="(/properties/[0-9]+/rooms/[0-9]+/chart\.png\?days=[0-9]+)"')
            for uprn in homes[:requests]:
                elapsed, body = _get(client, f"/properties/{uprn}", "property page")
                results["property page"].append(elapsed)
                results["chart data JSON, 30 days (after its page)"].append(
                    _time(client, f"/properties/{uprn}/chart-data.json?days=30",
                          "chart data JSON, 30 days (after its page)"))
                for url in chart.findall(body.decode()):
                    results["chart image (after its page)"].append(
                        _time(client, url.replace("&amp;", "&"), "chart image (after its page)"))
                results["chart data JSON, 90 days (computed)"].append(
                    _time(client, f"/properties/{uprn}/chart-data.json?days=90", "chart data JSON, 90 days (computed)"))
                # The property page's excess cold and heat section, without the page's cache.
                started, started_cpu = time.perf_counter(), time.thread_time()
                with database.session() as session:
                    home_thermal(session, store, uprn, dt.datetime.now(dt.UTC))
                results["thermal insight (computed afresh)"].append((time.perf_counter() - started) * 1000.0)
                CPU_MS.setdefault("thermal insight (computed afresh)", []).append(
                    (time.thread_time() - started_cpu) * 1000.0)
                progress.advance(task)
    store.close()
    database.dispose()
    load_after = os.getloadavg()

    console = Console(width=120)
    table = Table(title=f"Dashboard server time, {meta['homes']:,} homes ({len(meta['sampled_uprns'])} with "
                        f"{meta['days']} days of hourly readings), Flask test client")
    for column in ("scenario", "requests", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms", "p95 target"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    passed = True
    for name, values in results.items():
        p50, p95 = _percentiles(values)
        target = TARGETS_MS.get(name, TARGET_P95_MS)
        ok = target is None or p95 < target
        passed &= ok
        verdict = "no target" if target is None else f"{'PASS' if ok else 'FAIL'} (< {target:.0f} ms)"
        cpu50, cpu95 = _percentiles(CPU_MS[name])
        table.add_row(name, str(len(values)), f"{p50:.1f}", f"{p95:.1f}", f"{cpu50:.1f}", f"{cpu95:.1f}", verdict)
    console.print(table)
    console.print(f"{os.cpu_count()} processors; load average {load_before[0]:.2f} before and {load_after[0]:.2f} "
                  "after (server time is wall-clock time; CPU is the processor time the request's thread used)")
    console.print("Targets (issues 4 and 16): p95 under 300 ms for the risk list (filtered and unfiltered), the estate "
                  "page, the portfolio summary and the property page, and under 150 ms for the chart data: "
                  f"{'PASS' if passed else 'FAIL'}")
    return passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("var/bench/dashboard"), help="where the estate is kept")
    parser.add_argument("--requests", type=int, default=200, help="requests per scenario (at least 200)")
    parser.add_argument("--sample", type=int, default=300, help="homes given 90 days of hourly readings")
    parser.add_argument("--seed", type=int, default=4, help="random seed of the estate and the requests")
    parser.add_argument("--rebuild", action="store_true", help="build the estate again even if one is kept")
    parser.add_argument("--homes", type=int, default=HOMES, help="homes in the estate")
    args = parser.parse_args()
    if args.requests < 200:
        parser.error("--requests must be at least 200 (issue 4 asks for 200 or more per scenario)")
    meta = None if args.rebuild else _cached(args.folder, args.sample, args.seed, args.homes)
    if meta is None:
        print(f"building the estate in {args.folder} (readings for {args.sample} of {args.homes:,} homes; "
              "see --help)")
        started = time.perf_counter()
        meta = build(args.folder, args.sample, args.seed, args.homes)
        print(f"built in {time.perf_counter() - started:.0f} s (load average {os.getloadavg()[0]:.2f})")
    else:
        print(f"reusing the estate in {args.folder} (built for {meta['end']}; --rebuild to make it again)")
    sys.exit(0 if measure(args.folder, meta, args.requests, args.seed) else 1)


if __name__ == "__main__":
    main()
