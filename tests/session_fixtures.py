"""Session-scoped fixtures shared by more than one folder of tests (registered in ``tests/conftest.py``).

A session fixture defined in a folder's ``conftest.py`` is private to that folder; imported into a second
folder it would be a second fixture, built again. These are built once per run and shared by the box's own
tests and the command-line tests in ``tests/dampwatch/``:

* ``winter_sim`` and ``scored_estate`` (``tests.analytics.conftest.ScoredEstate``): forty simulated homes over
  three winter weeks, stored, registered and scored. ``tests/dashboard`` has its own, smaller ``scored_estate``.
* ``trained_model``: a risk model trained on synthetic inspections, and its data.
* ``_migrated_database_file``: an empty app database migrated once (tests copy it: migrating takes ~1 s).
* ``_scored_estate_files``: the dashboard's six scored homes (files each test copies), for ``tests/dashboard``
  and ``tests/browser``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from core.db import Database
from core.store_sqlite import SQLiteReadingsStore
from tests.analytics.conftest import WINTER_START, ScoredEstate, inspections, readings_from, register
from tests.dashboard.conftest import DASHBOARD_ESTATE_START


@pytest.fixture(scope="session")
def winter_sim() -> simulator.Simulation:
    """Forty homes over three winter weeks, every sensor fault switched on."""
    return simulator.simulate(simulator.build_estate(seed=11, homes=40), WINTER_START, days=21)


@pytest.fixture(scope="session")
def scored_estate(winter_sim: simulator.Simulation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScoredEstate]:
    """The winter estate in a SQLite store and app database, scored (physics) at the end of its window."""
    from analytics.scoring import score_estate

    folder = tmp_path_factory.mktemp("scored_estate")
    sim = winter_sim
    truth = sim.truth
    healthy = sorted(set(truth.loc[~truth["property_damp_prone"], "uprn"]))
    offline_uprn, gap_uprn = healthy[0], healthy[1]
    expected = sim.expected
    end = sim.end
    week = pd.Timedelta(days=7)
    silent = (expected["device_id"] == f"sim-{offline_uprn}-living_room") & (expected["ts"] >= end - week)
    gap = (expected["device_id"] == f"sim-{gap_uprn}-bedroom_1") & (expected["ts"] >= end - 2 * week) & (
        expected["ts"] < end - week)
    store = SQLiteReadingsStore(f"sqlite:///{folder}/readings.db")
    store.write(readings_from(expected[~silent & ~gap]))
    database = Database(f"sqlite:///{folder}/app.db")
    register(sim, database, folder)
    score_estate(database, store, now=end, full=True)
    try:
        yield ScoredEstate(sim, database, store, end, folder, offline_uprn, gap_uprn)
    finally:
        store.close()
        database.dispose()


@pytest.fixture(scope="session")
def trained_model():
    """A model trained on synthetic inspections with a clear signal (it passes its quality gate), and its data."""
    from analytics.risk_model import train

    X, y, groups = inspections(np.random.default_rng(3))
    return train(X, y, groups, capacity_pct=10, data={"outcomes_file": "synthetic.csv"}), X


@pytest.fixture(scope="session")
def _migrated_database_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty app database migrated once per session (copied for each test: migrating takes ~1 s)."""
    path = tmp_path_factory.mktemp("dashboard_template") / "app.db"
    database = Database(f"sqlite:///{path}")
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


@pytest.fixture(scope="session")
def _scored_estate_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[simulator.Simulation, Path]:
    """Six homes, three winter weeks of readings, registered and scored once per session (files to copy)."""
    from analytics.scoring import score_estate
    from core.store_sqlite import SQLiteReadingsStore

    folder = tmp_path_factory.mktemp("dashboard_estate")
    sim = simulator.simulate(simulator.build_estate(seed=11, homes=6), DASHBOARD_ESTATE_START, days=21)
    store = SQLiteReadingsStore(f"sqlite:///{folder}/readings.db")
    store.write(readings_from(sim.expected))
    database = Database(f"sqlite:///{folder}/app.db")
    register(sim, database, folder)
    score_estate(database, store, now=sim.end, full=True)
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    database.dispose()
    return sim, folder
