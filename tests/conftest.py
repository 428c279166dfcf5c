"""Fixtures every test folder shares: a real broker, real databases, settings."""

from __future__ import annotations

import gc
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.mqtt import MosquittoBroker, mosquitto_binary
from core.settings import Settings

# Session fixtures more than one folder uses (one definition, so each is built once per run).
pytest_plugins = ("tests.session_fixtures",)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get("DAMPWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


INFLUX_URL_VARIABLE = "DAMPWATCH_TEST_INFLUX_URL"
_deselected_influx: list[str] = []


# The garbage collector's full passes: the suite keeps large session fixtures (simulated estates, a trained
# model, imported libraries), and Python's default thresholds (700, 10, 10) walk all of them every ~70 000
# allocations. Collections are made rarer, and what exists once the tests are collected (modules, the plugins)
# is frozen out of them (gc.freeze). DAMPWATCH_TEST_GC_REPORT=1 prints the time the collector took;
# DAMPWATCH_TEST_GC_DEFAULT=1 keeps Python's defaults, to compare.
GC_REPORT_VARIABLE, GC_DEFAULT_VARIABLE = "DAMPWATCH_TEST_GC_REPORT", "DAMPWATCH_TEST_GC_DEFAULT"
_gc_time = {"seconds": 0.0, "full": 0, "started": 0.0}


def _time_collections(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_time["started"] = time.perf_counter()
        return
    _gc_time["seconds"] += time.perf_counter() - _gc_time["started"]
    _gc_time["full"] += info["generation"] == 2


if os.environ.get(GC_REPORT_VARIABLE):
    gc.callbacks.append(_time_collections)
if not os.environ.get(GC_DEFAULT_VARIABLE):
    gc.set_threshold(10_000, 20, 20)


def pytest_collection_finish(session: pytest.Session) -> None:
    if not os.environ.get(GC_DEFAULT_VARIABLE):
        gc.collect()
        gc.freeze()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``influxdb2`` need a real InfluxDB 2.x: without one configured they are deselected, not skipped."""
    if os.environ.get(INFLUX_URL_VARIABLE):
        return
    keep = [item for item in items if item.get_closest_marker("influxdb2") is None]
    dropped = [item for item in items if item.get_closest_marker("influxdb2") is not None]
    if dropped:
        _deselected_influx.extend(item.nodeid for item in dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say which tests did not run and why (a real InfluxDB 2.x cannot be installed here); the collector's time."""
    if os.environ.get(GC_REPORT_VARIABLE):
        terminalreporter.write_line(
            f"garbage collector: {_gc_time['seconds']:.1f} s, {_gc_time['full']} full collection(s); thresholds "
            f"{gc.get_threshold()}")
    if _deselected_influx:
        terminalreporter.write_line(
            f"{len(_deselected_influx)} test(s) against a real InfluxDB 2.x were deselected: set "
            f"{INFLUX_URL_VARIABLE}=influxdb2://TOKEN@HOST:8086/ORG/BUCKET to run them (no InfluxDB 2.x server can be "
            "installed on this project's machines; the InfluxDB write path is tested against VictoriaMetrics)"
        )


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A real Mosquitto on a free loopback port, with DampWatch's config (the embedded broker off CI only)."""
    if mosquitto_binary() is None:
        if IN_CI:
            pytest.fail("mosquitto is not installed; .ci/run must install it (apt-get install mosquitto)")
        from core.embedded_broker import AmqttBroker

        embedded = AmqttBroker().start()
        try:
            yield embedded  # type: ignore[misc]
        finally:
            embedded.stop()
        return
    with MosquittoBroker(tmp_path / "broker") as running:
        yield running


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL database, empty or cloned from ``template``; dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"dampwatch_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    except Exception as exc:  # no server reachable: say so, and never skip in CI
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} (set DAMPWATCH_TEST_POSTGRES_URL)")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrations_fingerprint() -> str:
    """A short hash of every migration file: a changed schema gets a template of its own."""
    import hashlib

    from core.db import MIGRATIONS_DIR

    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS_DIR.rglob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def postgres_template() -> str | None:
    """A PostgreSQL database migrated to head once per schema, cloned by each test (``CREATE DATABASE ... TEMPLATE``).

    Cloning takes about 0.05 s where creating and migrating took 0.4-3 s. The template is built under a temporary
    name and renamed when complete, under an advisory lock, so parallel test runs never clone a half-built one.
    Returns None when no server is reachable (the per-test fixture then skips or fails as before).
    """
    from sqlalchemy import create_engine, text

    from core.db import Database

    final = f"dampwatch_tpl_{_migrations_fingerprint()}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(724021)"))
            try:
                exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": final}).first()
                if not exists:
                    building = f"{final}_{uuid.uuid4().hex[:6]}"
                    conn.execute(text(f'CREATE DATABASE "{building}"'))
                    db = Database(f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{building}")
                    db.dispose()
                    conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{final}"'))
                    conn.execute(text(f'ALTER DATABASE "{final}" WITH ALLOW_CONNECTIONS false'))
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(724021)"))
    except Exception:  # no server: the per-test fixture reports it (fails in CI, skips off CI)
        return None
    finally:
        admin.dispose()
    return final


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh app database: an empty SQLite file, then a throwaway PostgreSQL database cloned from the migrated
    template (migrating again is a no-op, so both behave as a new database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/app.db"
    else:
        yield from _postgres_database(request.getfixturevalue("postgres_template"))


@pytest.fixture
def database(database_url: str):
    """The app database, migrated to the latest schema."""
    from core.db import Database

    db = Database(database_url)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def store(tmp_path: Path):
    """An empty SQLite readings store."""
    from core.store_sqlite import SQLiteReadingsStore

    readings = SQLiteReadingsStore(f"sqlite:///{tmp_path}/readings.db")
    try:
        yield readings
    finally:
        readings.close()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with every local file under the test's temporary folder, read from a clean environment."""
    for name in list(os.environ):
        if name.startswith("DAMPWATCH_"):
            monkeypatch.delenv(name)
    return Settings(
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/app.db",
        readings_url=f"sqlite:///{tmp_path}/readings.db",
        metrics_port=0,
        ingest_flush_interval_s=0.1,
        mqtt_client_id=f"ingest-{uuid.uuid4().hex[:8]}",
    )
