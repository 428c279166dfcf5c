"""The schedule and findings export commands."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from analytics.labels import read_outcomes_csv
from core.cases import open_case, record_finding
from core.model import Inspection, Property, PropertyRisk, Room, ScoringRun, Team
from core.scheduling import schedule_inspection
from dampwatch.cli import Context, main
from dampwatch.commands_cases import COMMANDS, findings, schedule


@pytest.fixture
def context(settings):
    """A command context on an app database with a team, two flagged homes and one open case."""
    ctx = Context(settings)
    now = dt.datetime.now(dt.UTC)
    with ctx.database.session() as session:
        session.add(Team(name="North team", daily_capacity=2))
        run = ScoringRun(mode="full", scored_until=now, model_name="physics", model_version="1")
        session.add(run)
        session.flush()
        for uprn, score in (("11", 0.9), ("12", 0.7), ("13", None)):
            home = Property(uprn=uprn, address=f"{uprn} Mill Lane", postcode="LS6 1AB")
            home.rooms = [Room(name="Bathroom", room_type="bathroom")]
            session.add(home)
            session.flush()
            if score is not None:
                session.add(PropertyRisk(run_id=run.id, uprn=uprn, computed_at=now, score=score, band="high",
                                         data_coverage=1.0, outdoor_source="weather", reasons=[], what_would_help=[],
                                         model_name="physics", model_version="1"))
        open_case(session, uprn="13", aware_at=now - dt.timedelta(days=1), source="tenant_report", actor="officer")
    yield ctx
    ctx.close()


def run(command, args, context):
    return CliRunner().invoke(command, args, obj=context, catch_exceptions=False)


def test_the_module_offers_its_commands_for_registration():
    """COMMANDS lists schedule and findings, and the main command has them."""
    assert [c.name for c in COMMANDS] == ["schedule", "findings"]
    assert {"schedule", "findings"} <= set(main.commands)


def test_schedule_prints_proposals_then_accepts(context):
    """Without --accept nothing is booked; with it, inspections are booked and cases opened."""
    result = run(schedule, ["--team", "North team", "--days", "5"], context)
    assert result.exit_code == 0, result.output
    assert "Proposed inspections for North team" in result.output
    assert "13 Mill Lane" in result.output and "11 Mill Lane" in result.output
    assert "A case will be opened" in result.output
    assert "3 inspections proposed" in result.output
    with context.database.session() as session:
        assert session.scalars(select(Inspection)).all() == []
    result = run(schedule, ["--team", "North team", "--days", "5", "--accept"], context)
    assert result.exit_code == 0, result.output
    assert "booked 3 inspections" in result.output
    with context.database.session() as session:
        assert sorted(i.uprn for i in session.scalars(select(Inspection))) == ["11", "12", "13"]
    result = run(schedule, ["--team", "North team"], context)
    assert "nothing to schedule" in result.output


def test_schedule_names_the_teams_when_one_is_unknown(context):
    """An unknown team is an error that lists the teams there are."""
    result = CliRunner().invoke(schedule, ["--team", "South"], obj=context)
    assert result.exit_code == 1
    assert "no team called 'South' (teams: North team)" in result.output


def test_findings_export_writes_training_labels(context, tmp_path):
    """Recorded findings come out as an outcomes file the trainer reads."""
    output = tmp_path / "outcomes.csv"
    result = CliRunner().invoke(findings, ["export", "-o", str(output)], obj=context)
    assert result.exit_code == 1 and "no inspection finding" in result.output
    with context.database.session() as session:
        from core.cases import find_open_case

        case = find_open_case(session, "13")
        team = session.scalars(select(Team)).one()
        inspection = schedule_inspection(session, case, team, _next_weekday(), "officer")
        record_finding(session, inspection, {"mould_found": True, "severity": "minor", "likely_cause": "leak"},
                       "repair")
    result = run(findings, ["export", "-o", str(output)], context)
    assert result.exit_code == 0, result.output
    assert "wrote 1 findings (1 with mould or damp)" in result.output
    outcomes, errors = read_outcomes_csv(output)
    assert errors == [] and outcomes.loc[0, "uprn"] == "13" and outcomes.loc[0, "cause"] == "leak"


def _next_weekday() -> dt.date:
    from core.workdays import is_working_day, london_date, next_working_day

    day = london_date(dt.datetime.now(dt.UTC))
    return day if is_working_day(day) else next_working_day(day)
