"""Fixtures for the analytics tests: reproducible hourly surface climates and simulated estates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from core.assets import import_assets, read_asset_csv
from core.db import Database
from core.readings import Reading
from core.store_sqlite import SQLiteReadingsStore


def _surface_climate(rng: np.random.Generator, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """An hourly surface climate with damp and dry spells, out-of-range hours and missing readings."""
    temp = np.empty(hours)
    rh = np.empty(hours)
    start = 0
    while start < hours:
        length = int(rng.integers(3, 200))
        stop = min(start + length, hours)
        n = stop - start
        kind = rng.choice(["damp", "dry", "showers", "cold", "hot"], p=[0.4, 0.3, 0.2, 0.05, 0.05])
        if kind == "damp":
            temp[start:stop] = rng.uniform(5.0, 25.0) + rng.normal(0.0, 1.0, n)
            rh[start:stop] = np.clip(rng.uniform(82.0, 99.0) + rng.normal(0.0, 2.0, n), 0.0, 100.0)
        elif kind == "dry":
            temp[start:stop] = rng.uniform(12.0, 24.0) + rng.normal(0.0, 1.0, n)
            rh[start:stop] = rng.uniform(35.0, 75.0, n)
        elif kind == "showers":
            temp[start:stop] = rng.uniform(14.0, 22.0, n)
            rh[start:stop] = np.where(
                rng.random(n) < 0.3, rng.uniform(85.0, 100.0, n), rng.uniform(50.0, 75.0, n)
            )
        elif kind == "cold":
            temp[start:stop] = rng.uniform(-5.0, 0.0, n)
            rh[start:stop] = rng.uniform(90.0, 100.0, n)
        else:
            temp[start:stop] = rng.uniform(50.0, 55.0, n)
            rh[start:stop] = rng.uniform(90.0, 100.0, n)
        start = stop
    gaps = rng.random(hours) < 0.02
    temp[gaps & (rng.random(hours) < 0.5)] = np.nan
    rh[gaps & ~np.isnan(temp)] = np.nan
    return temp, rh


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator, so every run sees the same numbers."""
    return np.random.default_rng(20251027)


@pytest.fixture
def surface_climate(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Six months of hourly surface temperature [°C] and relative humidity [%] for one cold spot."""
    return _surface_climate(rng, 24 * 183)


@pytest.fixture
def surface_climates(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Hourly surface climates for 12 cold spots over 45 days, as (rooms, hours) arrays."""
    pairs = [_surface_climate(rng, 24 * 45) for _ in range(12)]
    return np.array([pair[0] for pair in pairs]), np.array([pair[1] for pair in pairs])


# --------------------------------------------------------------------------------------------------------
# Simulated estates for the risk tests
# --------------------------------------------------------------------------------------------------------

#: A January window in the past (the simulator's tests use the same).
WINTER_START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def readings_from(expected: pd.DataFrame) -> list[Reading]:
    """The simulator's expected readings as canonical readings, ready for ``store.write``."""
    seconds = (expected["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return [
        Reading(device, dt.datetime.fromtimestamp(ts, dt.UTC), t, h, b, q)
        for device, ts, t, h, b, q in zip(
            expected["device_id"].tolist(), seconds.tolist(), expected["temperature_c"].tolist(),
            expected["humidity_pct"].tolist(), expected["battery_v"].tolist(), expected["seq"].tolist(), strict=True)
    ]


def readings_file(sim: simulator.Simulation, path: Path) -> Path:
    """A SQLite readings store file holding the simulation's expected readings (copy it for each test)."""
    store = SQLiteReadingsStore(f"sqlite:///{path}")
    try:
        store.write(readings_from(sim.expected))
        store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    return path


def register(sim: simulator.Simulation, database: Database, folder: Path) -> None:
    """Import the simulated estate's asset register into the app database."""
    path = simulator.write_estate_csv(sim.estate, folder / "estate.csv")
    rows, errors = read_asset_csv(Path(path))
    assert errors == []
    with database.session() as session:
        import_assets(session, rows)


@dataclasses.dataclass(frozen=True)
class ScoredEstate:
    """A simulated estate stored, registered and scored once (read it, do not change it)."""

    sim: simulator.Simulation
    database: Database
    store: SQLiteReadingsStore
    end: dt.datetime
    folder: Path
    offline_uprn: str  # a healthy home whose living-room sensor fell silent for the last week
    gap_uprn: str  # a healthy home whose bedroom sensor was off for a week in the middle of the window

    def copy_to(self, folder: Path) -> tuple[str, str]:
        """Copy the app database and readings store into ``folder``; return their URLs."""
        with self.database.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        self.store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for name in ("app.db", "readings.db"):
            shutil.copyfile(self.folder / name, folder / name)
        return f"sqlite:///{folder}/app.db", f"sqlite:///{folder}/readings.db"


def inspections(rng: np.random.Generator, homes: int = 150, signal: float = 2.5, beyond_physics: float = 2.0
                ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Synthetic training data: two inspections per home, mould found more often the higher the physics
    score and (by ``beyond_physics``) the mould index, which the physics score alone does not see;
    unrelated to the features when both are 0."""
    from analytics.risk_model import NUMERIC_FEATURES

    n = 2 * homes
    X = pd.DataFrame({name: rng.normal(size=n) for name in NUMERIC_FEATURES})
    X.loc[rng.random(n) < 0.1, "ventilation_remaining"] = np.nan
    X["wall_type"] = rng.choice(np.array(["solid_brick", "cavity_filled", None], dtype=object), n)
    X["dwelling"] = rng.choice(np.array(["house", "flat"], dtype=object), n)
    logit = signal * X["physics_score"].to_numpy() + beyond_physics * X["mould_index"].to_numpy() - 0.5
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    return X, y, np.repeat(np.arange(homes), 2).astype(str)
