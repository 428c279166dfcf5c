"""Tests for dampwatch.commands_analytics: the score, risk export, train, evaluate and weather commands."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import simulator
from analytics.risk_model import MODEL_NAME, save_model
from analytics.scoring import PHYSICS_MODEL_NAME
from core.settings import Settings
from dampwatch.cli import Context
from dampwatch.commands_analytics import COMMANDS, EXPORT_COLUMNS, evaluate, risk, score, weather
from dampwatch.commands_analytics import train as train_command


@pytest.fixture
def context(scored_estate, settings, tmp_path) -> Context:
    """A command context on a copy of the scored winter estate."""
    database_url, readings_url = scored_estate.copy_to(tmp_path)
    copy = Settings(**{**settings.model_dump(), "database_url": database_url, "readings_url": readings_url})
    ctx = Context(copy)
    yield ctx
    ctx.close()


def run(command, args, context):
    result = CliRunner().invoke(command, args, obj=context, catch_exceptions=False)
    return result


def until(scored_estate) -> str:
    return scored_estate.end.strftime("%Y-%m-%dT%H:%M:%S")


def test_the_module_offers_its_commands_for_registration():
    """COMMANDS lists the commands cli.py adds with main.add_command."""
    assert [c.name for c in COMMANDS] == ["score", "risk", "train", "evaluate", "weather"]


def test_score_then_export_csv_and_json(context, scored_estate, tmp_path):
    """Scoring prints the bands and the model used; the export has every column, highest score first."""
    result = run(score, ["--until", until(scored_estate)], context)
    assert result.exit_code == 0, result.output
    assert "incremental run" in result.output and f"score from {PHYSICS_MODEL_NAME}" in result.output
    result = run(risk, ["export", "--format", "csv"], context)
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 40
    scores = [float(r["score"]) for r in rows if r["score"]]
    assert scores == sorted(scores, reverse=True)
    assert rows[0]["reasons"].startswith("In the ")
    out = tmp_path / "risk.json"
    run(risk, ["export", "--format", "json", "-o", str(out)], context)
    exported = json.loads(out.read_text())
    assert len(exported["properties"]) == 40
    assert isinstance(exported["properties"][0]["reasons"], list)
    ventilation = [p["ventilation"] for p in exported["properties"]]
    assert sum("Bathroom" in v for v in ventilation) >= 30
    assert all(0 <= score <= 100 for v in ventilation for score in v.values())
    # Days to visible mould: given where the driver room's index rises, and 3 never before 1.
    projected = [(p["days_to_mould_1"], p["days_to_mould_3"]) for p in exported["properties"]]
    assert any(d3 is not None for _, d3 in projected)
    assert all(d1 <= d3 for d1, d3 in projected if d1 is not None and d3 is not None)
    assert {p["band"] for p in exported["properties"]} <= {"low", "medium", "high", "critical", "insufficient data"}


def test_full_rescoring_gives_the_same_export(context, scored_estate):
    """--full after an incremental run exports the same scores and bands."""
    run(score, ["--until", until(scored_estate)], context)
    before = pd.read_csv(io.StringIO(run(risk, ["export"], context).output)).set_index("uprn")
    run(score, ["--until", until(scored_estate), "--full"], context)
    after = pd.read_csv(io.StringIO(run(risk, ["export"], context).output)).set_index("uprn")
    pd.testing.assert_series_equal(before["score"], after["score"])
    pd.testing.assert_series_equal(before["band"], after["band"])


def test_evaluate_prints_the_figures_and_writes_plots(context, scored_estate, tmp_path):
    """Evaluation against truth.csv prints ROC AUC and precision at capacity, and writes three PNGs."""
    truth = simulator.write_truth_csv(scored_estate.sim, tmp_path / "truth.csv")
    result = run(evaluate, ["--truth", str(truth), "--capacity", "10", "--out-dir", str(tmp_path / "plots")], context)
    assert "ROC AUC" in result.output and "precision at top 10 % (4 homes)" in result.output
    assert "By cause" in result.output
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["calibration.png", "precision_at_k.png",
                                                                       "roc.png"]


def test_train_saves_a_model_and_score_uses_it_only_if_it_passes_its_gate(context, scored_estate, tmp_path):
    """Training on outcomes writes model, metadata and card; scoring then says which model scored."""
    truth = scored_estate.sim.truth.groupby("uprn")["property_damp_prone"].first()
    date = (scored_estate.end - pd.Timedelta(days=1)).date().isoformat()
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"uprn": truth.index, "date": date, "mould_found": np.where(truth, "yes", "no"),
                  "severity": "", "cause": "", "room": ""}).to_csv(outcomes, index=False)
    models = tmp_path / "models"
    result = run(train_command, ["--outcomes", str(outcomes), "--folds", "3", "--model-dir", str(models)], context)
    assert result.exit_code == 0, result.output
    assert "CV ROC AUC" in result.output and "quality gate" in result.output
    metadata = json.loads(next(models.glob("*.json")).read_text())
    assert metadata["data"]["inspections"] == 40 and metadata["cross_validation"]["n_splits"] == 3
    assert len(list(models.glob("*.skops"))) == len(list(models.glob("*.md"))) == 1
    result = run(score, ["--until", until(scored_estate), "--model-dir", str(models)], context)
    expected = MODEL_NAME if metadata["quality_gate"]["passed"] else PHYSICS_MODEL_NAME
    assert f"score from {expected}" in result.output


def test_score_uses_a_model_that_passed_its_gate(context, scored_estate, trained_model, tmp_path):
    """With a passing model in the model folder the export names it and its version."""
    trained, _ = trained_model
    assert trained.metadata["quality_gate"]["passed"]
    save_model(trained, tmp_path / "models")
    result = run(score, ["--until", until(scored_estate), "--model-dir", str(tmp_path / "models")], context)
    assert f"score from {MODEL_NAME} {trained.metadata['version']}" in result.output
    exported = json.loads(run(risk, ["export", "--format", "json"], context).output)
    assert {p["model_version"] for p in exported["properties"]} == {trained.metadata["version"]}
    result = run(score, ["--until", until(scored_estate), "--model-dir", str(tmp_path / "models"), "--physics-only"],
                 context)
    assert f"score from {PHYSICS_MODEL_NAME}" in result.output


def test_weather_import_command(context, tmp_path):
    """The weather command stores hours and lists bad rows with their lines."""
    path = tmp_path / "weather.csv"
    path.write_text("area,ts,temperature_c,humidity_pct\nLS6,2026-01-05T00:00:00Z,3,90\nLS6,never,3,90\n")
    result = run(weather, ["import", str(path)], context)
    assert "1 hours stored for LS6; 1 rows left out" in result.output
    assert "line 3: ts 'never'" in result.output
    assert result.exit_code == 1 and "--allow-errors" in result.output
    assert run(weather, ["import", "--allow-errors", str(path)], context).exit_code == 0


def test_weather_for_a_postcode_area_or_the_whole_estate(context, tmp_path):
    """An area such as HX and '*' (the estate) are accepted, gzip and Windows-1252 too; 'HX9Z9' is not."""
    import gzip

    path = tmp_path / "weather.csv.gz"
    text = ("area,ts,temperature_c,humidity_pct,station\n"
            "HX,2026-01-05T00:00:00Z,3,90,Halifax °\n"
            "estate,2026-01-05T00:00:00Z,4,88,\n"
            "*,2026-01-05T01:00:00Z,4.5,87,\n"
            "HX9Z9,2026-01-05T00:00:00Z,3,90,\n")
    path.write_bytes(gzip.compress(text.encode("cp1252")))
    result = run(weather, ["import", "--allow-errors", str(path)], context)
    assert result.exit_code == 0, result.output
    assert "3 hours stored for *, HX" in result.output
    assert "line 5: area 'HX9Z9'" in result.output


def test_score_on_historic_data_scores_up_to_the_last_reading(context, scored_estate):
    """Readings that ended long ago: 'score' says so and scores up to them instead of calling every home silent."""
    result = run(score, [], context)
    assert result.exit_code == 0, result.output
    assert "The newest reading is from" in result.output and "--until" in result.output
    assert f"Risk up to {scored_estate.end:%Y-%m-%d %H}" in result.output
    assert "insufficient data │ 40" not in result.output


def test_evaluate_refuses_unknown_causes(context, tmp_path):
    """A truth file naming a cause DampWatch does not know is refused, naming it and the known codes."""
    path = tmp_path / "truth.csv"
    path.write_text("uprn,property_damp_prone,property_cause\n100000000001,true,ventilation\n"
                    "100000000002,false,none\n")
    result = CliRunner().invoke(evaluate, ["--truth", str(path)], obj=context)
    assert result.exit_code == 1
    assert "'ventilation'" in result.output and "poor_ventilation" in result.output


def test_export_before_scoring_says_what_to_do(settings):
    """On an empty database the export fails with how to fix it."""
    result = CliRunner().invoke(risk, ["export"], obj=Context(settings))
    assert result.exit_code == 1
    assert "run 'dampwatch score' first" in result.output


def test_train_with_a_bad_outcomes_file_says_what_is_wrong(context, tmp_path):
    """A file without the outcomes columns is refused with the expected header."""
    path = tmp_path / "outcomes.csv"
    path.write_text("uprn,when\n1,2026-01-01\n")
    result = CliRunner().invoke(train_command, ["--outcomes", str(path)], obj=context)
    assert result.exit_code == 1
    assert "uprn,date,mould_found,severity,cause,room" in result.output
