"""The Awaab's Law commands: export awaab (json and csv), import work-orders."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from core.cases import open_case
from core.model import Property, Room
from dampwatch.cli import Context, main
from dampwatch.commands_awaab import export, import_group, returns


@pytest.fixture
def context(settings):
    ctx = Context(settings)
    with ctx.database.session() as session:
        home = Property(uprn="21", address="21 Mill Lane", postcode="LS6 1AB")
        home.rooms = [Room(name="Bedroom", room_type="bedroom")]
        session.add(home)
        session.flush()
        open_case(session, uprn="21", aware_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2), source="risk_flag",
                  actor="officer", hazards=[{"hazard": "excess_heat", "severity": "medium"}])
    yield ctx
    ctx.close()


def run(args, context):
    group = {"export": export, "import": import_group, "returns": returns}[args[0]]
    return CliRunner().invoke(group, args[1:], obj=context, catch_exceptions=False)


def test_the_commands_are_registered():
    """dampwatch export and dampwatch import are on the main command."""
    assert {"export", "import", "returns"} <= set(main.commands)


def test_export_awaab_json_and_csv(context, tmp_path):
    """JSON holds every entity; CSV writes one file per entity."""
    result = run(["export", "awaab", "--format", "json", "-o", str(tmp_path / "a.json")], context)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["hazard_report"][0]["uprn"] == "21" and data["hazard_report"][0]["reported_by"] == "Environmental Sensor"
    result = run(["export", "awaab", "--format", "csv", "-o", str(tmp_path / "csv")], context)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "escalation.csv", "hazard_report.csv", "investigation.csv", "investigation_hazard.csv", "notification.csv",
        "work_order.csv"]


def test_import_work_orders_reports_bad_rows_and_exits_1(context, tmp_path):
    """A new work order for our case is created; a bad row is listed and the exit status is 1."""
    path = tmp_path / "wo.csv"
    path.write_text("work_order_id,hazard_report_id,job_status_update\nHMS-1,DW-C1,Booked\nHMS-2,DW-C1,Teleported\n")
    result = CliRunner().invoke(import_group, ["work-orders", str(path)], obj=context)
    assert result.exit_code == 1
    assert "1 created" in result.output


def test_returns_writes_the_period_as_csv(context, tmp_path):
    """The return's CSV has the excess heat case of the fixture; dates the wrong way round are refused."""
    today = dt.date.today()
    path = tmp_path / "return.csv"
    result = run(["returns", "--from", (today - dt.timedelta(days=7)).isoformat(), "--to", today.isoformat(),
                  "-o", str(path)], context)
    assert result.exit_code == 0, result.output
    assert "cases by hazard,Excess heat,medium,1" in path.read_text()
    bad = CliRunner().invoke(returns, ["--from", today.isoformat(), "--to", "2020-01-01"], obj=context)
    assert bad.exit_code != 0 and "before --from" in bad.output
