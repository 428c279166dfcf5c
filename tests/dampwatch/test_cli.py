"""The dampwatch command, as a council's IT person would use it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dampwatch.cli import main

REGISTER = """uprn,address,postcode,site,build_year,wall_type,floor_level,temperature_factor,child_under_15,over_65,respiratory_condition,room,room_type,device_id
100000000001,"1 Beech Road, Leeds",ls6 1ab,Beech Court,1968,cavity_unfilled,2,,yes,no,,Bathroom,bathroom,dev-bath-1
100000000001,"1 Beech Road, Leeds",ls6 1ab,Beech Court,1968,cavity_unfilled,2,,yes,no,,Bedroom 1,bedroom,dev-bed-1
100000000002,"2 Beech Road, Leeds",LS6 1AB,Beech Court,1968,cavity_unfilled,,0.6,,,,Kitchen,kitchen,dev-kit-2
12345678901234,"Too long",LS6 1AB,,,,,,,,,Kitchen,kitchen,dev-x
100000000003,"3 Beech Road",NOTAPOSTCODE,,,,,,,,,Kitchen,kitchen,dev-y
100000000004,"4 Beech Road",LS6 1AB,,,,,,maybe,,,Kitchen,kitchen,dev-z
100000000005,"5 Beech Road",LS6 1AB,,,,,,,,,Attic,attic,dev-w
100000000002,"2 Beech Road, Leeds",LS6 1AB,Beech Court,1968,cavity_unfilled,,0.6,,,,Lounge,living_room,dev-bath-1
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("DAMPWATCH_"):
            monkeypatch.delenv(name)
    values = {
        "DAMPWATCH_VAR_DIR": str(tmp_path),
        "DAMPWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "DAMPWATCH_READINGS_URL": f"sqlite:///{tmp_path}/readings.db",
        "DAMPWATCH_METRICS_PORT": "0",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_properties_import_reports_bad_rows_by_line_and_keeps_good_ones(env, tmp_path):
    """Bad register rows are listed with line numbers and reasons; good rows are imported."""
    path = tmp_path / "register.csv"
    path.write_text(REGISTER)
    result = run("properties", "import", str(path))
    # Rejected rows make the import fail (exit 1) though the good rows are kept ...
    assert result.exit_code == 1, result.output
    assert "5 row(s) rejected: exit status 1" in result.output and "--allow-errors" in result.output
    assert "2 new properties" in result.output and "3 new rooms" in result.output
    assert "line 5: UPRN '12345678901234' is not valid" in result.output
    assert "line 6: postcode 'NOTAPOSTCODE'" in result.output
    assert "line 7: child_under_15 must be yes, no or blank" in result.output
    assert "line 8: room_type 'attic'" in result.output
    assert "line 9: device dev-bath-1 is already placed on line 2" in result.output
    # ... unless a partial import is accepted.
    again = run("properties", "import", "--allow-errors", str(path))
    assert again.exit_code == 0, again.output
    assert "5 row(s) rejected; the rest were imported" in again.output


def test_reimport_moves_a_device_and_keeps_history(env, tmp_path):
    """Importing a register where a device sits in another room moves it."""
    first = tmp_path / "a.csv"
    first.write_text(REGISTER.splitlines()[0] + "\n" + "\n".join(REGISTER.splitlines()[1:4]) + "\n")
    assert run("properties", "import", str(first)).exit_code == 0
    moved = first.read_text().replace("Bathroom,bathroom,dev-bath-1", "Bathroom,bathroom,").replace(
        "Bedroom 1,bedroom,dev-bed-1", "Bedroom 1,bedroom,dev-bath-1")
    second = tmp_path / "b.csv"
    second.write_text(moved)
    result = run("properties", "import", str(second))
    assert "1 devices moved" in result.output, result.output
    listing = run("devices")
    assert "dev-bath-1" in listing.output and "Bedroom 1" in listing.output


def test_readings_import_and_export_round_trip(env, tmp_path):
    """Backfilled readings export to the same CSV text."""
    register = tmp_path / "register.csv"
    register.write_text("\n".join(REGISTER.splitlines()[:4]) + "\n")
    run("properties", "import", str(register))
    logger_csv = tmp_path / "logger.csv"
    logger_csv.write_text(
        "device_id,ts,temperature_c,humidity_pct,battery_v,seq\n"
        "dev-bath-1,2026-11-01T00:00:00Z,18.5,61.0,2.9,1\n"
        "dev-bath-1,2026-11-01T00:10:00Z,18.25,63.5,,2\n"
        "dev-kit-2,2026-11-01T00:00:00Z,20.0,55.0,,\n"
        "dev-kit-2,2026-11-01T00:10:00Z,20.0,155.0,,\n"
    )
    result = run("readings", "import", str(logger_csv))
    assert "3 readings stored" in result.output and "line 5: humidity_out_of_range" in result.output
    assert result.exit_code == 1 and "1 x humidity_out_of_range" in result.output
    exported = tmp_path / "out.csv"
    run("readings", "export", "-o", str(exported))
    lines = logger_csv.read_text().splitlines()
    assert exported.read_text().splitlines() == lines[:4]


def test_check_config_reports_unreachable_parts(env, monkeypatch):
    """--check-config exits non-zero and names the part that fails."""
    monkeypatch.setenv("DAMPWATCH_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = run("--check-config")
    assert result.exit_code == 1
    assert "fail  app database" in result.output
    assert "ok    readings store" in result.output


def test_bad_setting_is_a_clear_error(env, monkeypatch):
    """A bad environment variable stops the command with a message naming it."""
    monkeypatch.setenv("DAMPWATCH_INGEST_BATCH_SIZE", "-5")
    result = CliRunner().invoke(main, ["devices"])
    assert result.exit_code == 1
    assert "DAMPWATCH_INGEST_BATCH_SIZE" in result.output


@pytest.mark.broker
def test_demo_runs_end_to_end(env, tmp_path):
    """The demo on a small estate starts its broker, ingests everything and prints the summary."""
    result = subprocess.run(
        [sys.executable, "-c", "from dampwatch.cli import main; main()", "demo", "--homes", "3", "--days", "2", "--no-serve"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DampWatch demo summary" in result.stdout
    assert "readings stored" in result.stdout
    assert "score from dampwatch-physics" in result.stdout, result.stdout[-2000:]
    assert Path(tmp_path / "readings.db").exists() and Path(tmp_path / "sim" / "truth.csv").exists()
    listing = subprocess.run(
        [sys.executable, "-c", "from dampwatch.cli import main; main()", "devices"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert "sim-" in listing.stdout
