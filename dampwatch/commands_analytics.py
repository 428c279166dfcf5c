"""The analytics commands: ``score``, ``risk export``, ``train``, ``evaluate`` and ``weather import``.

``dampwatch/cli.py`` registers them on its ``main`` group::

    from dampwatch.commands_analytics import COMMANDS
    for command in COMMANDS:
        main.add_command(command)

Each command gets the :class:`dampwatch.cli.Context` (settings, app database, readings store). This module
imports ``dampwatch.cli`` only inside functions, so either module can be imported first.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from core.errors import DampWatchError
from dampwatch.commands_common import console, out, pass_context

logger = logging.getLogger(__name__)


EXPORT_COLUMNS = (
    "uprn",
    "score",
    "band",
    "driver_room",
    "cause",
    "cold_home",
    "ventilation",
    "days_to_mould_1",
    "days_to_mould_3",
    "reasons",
    "what_would_help",
    "data_coverage",
    "outdoor_source",
    "physics_score",
    "model_name",
    "model_version",
    "computed_at",
)




def _progress():
    from dampwatch.commands_common import progress_bar

    return progress_bar()


def _rate(bar, task, started: float, unit: str) -> Callable[[int], None]:
    def advance(n: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        done = bar.tasks[task].completed + n
        bar.update(task, advance=n, rate=f"{done / elapsed:,.0f} {unit}/s")

    return advance


def _model_dir(context, model_dir: Path | None) -> Path:
    return model_dir or Path(context.settings.var_dir) / "models"


def _choose_model(directory: Path, physics_only: bool):
    """The newest trained model if it passed its quality gate; None (physics) otherwise, saying why."""
    from analytics.errors import ModelError
    from analytics.risk_model import latest_model

    if physics_only:
        return None
    try:
        model = latest_model(directory)
    except ModelError as exc:
        console.print(f"[yellow]the trained model cannot be used ({exc}); scoring with the physics score[/]")
        return None
    if model is None:
        return None
    if not model.passes_gate:
        failures = "; ".join(model.metadata["quality_gate"]["failures"])
        console.print(f"[yellow]model {model.name} {model.version} did not pass its quality gate ({failures}); "
                      "scoring with the physics score[/]")
        return None
    return model


# -- score ------------------------------------------------------------------------------------------------


@click.command("score")
@click.option("--full", is_flag=True, help="Recompute every room from its first reading instead of carrying on "
              "from the last run.")
@click.option("--until", "until", type=click.DateTime(), help="Score up to this UTC time (default: now).")
@click.option("--history-days", default=120, show_default=True, type=click.IntRange(15, 3650),
              help="How far back --full (and a newly fitted room) reads.")
@click.option("--rewind-days", default=0, show_default=True, type=click.IntRange(0, 27),
              help="Also recompute this many days before the last run, to take in late readings.")
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where trained models are (default: DAMPWATCH_VAR_DIR/models).")
@click.option("--physics-only", is_flag=True, help="Ignore any trained model; use the physics score.")
@click.option("--batch", "chunk_properties", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Properties read and scored together.")
@pass_context
def score(context, full: bool, until, history_days: int, rewind_days: int, model_dir: Path | None,
          physics_only: bool, chunk_properties: int) -> None:
    """Score every property's damp and mould risk from its readings (only the new hours unless --full)."""
    import datetime as dt

    from analytics.scoring import score_estate

    model = _choose_model(_model_dir(context, model_dir), physics_only)
    now = until.replace(tzinfo=dt.UTC) if until is not None else _historic_end(context)
    with context.database.session() as session:
        from sqlalchemy import func, select

        from core.model import Property

        total = session.scalar(select(func.count()).select_from(Property)) or 0
    started = time.monotonic()
    try:
        with _progress() as bar:
            task = bar.add_task("scoring properties", total=total, rate="")
            report = score_estate(context.database, context.store, now=now, full=full, model=model,
                                  history_days=history_days, rewind_days=rewind_days,
                                  chunk_properties=chunk_properties,
                                  progress=_rate(bar, task, started, "properties"))
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    table = Table("band", "properties", title=f"Risk up to {report.scored_until:%Y-%m-%d %H:%M} UTC")
    for band in ("critical", "high", "medium", "low", "insufficient data"):
        table.add_row(band, str(report.bands.get(band, 0)))
    out.print(table)
    out.print(f"{report.mode} run {report.run_id}: {report.properties} properties, {report.rooms} rooms, "
              f"{report.room_hours:,} room-hours in {report.seconds:.1f} s; "
              f"score from {report.model_name} {report.model_version}")
    out.print("export it with: dampwatch risk export --format csv -o risk.csv")


def _historic_end(context):
    """Where to score up to when no --until is given: now, unless every reading is historic.

    Data that ends more than the 14-day window ago is an old export (a backfill), not a live estate: it is
    scored up to its newest reading, and the command says so. Data that stopped more recently may be an
    outage, so it is scored up to now (its homes read "insufficient data", never safe) with a warning
    naming --until.
    """
    import datetime as dt

    from analytics.features import WINDOW_DAYS
    from analytics.risk import SILENT_AFTER_HOURS

    latest = context.store.latest()
    if not latest:
        return None
    newest = max(reading.ts for reading in latest.values())
    now = dt.datetime.now(dt.UTC)
    age = now - newest
    if age > dt.timedelta(days=WINDOW_DAYS):
        end = newest.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        console.print(f"[yellow]The newest reading is from {newest:%Y-%m-%d %H:%M} UTC, {age.days} days ago: "
                      f"scoring up to {end:%Y-%m-%d %H:%M} UTC, the end of the data.[/] Pass --until to score "
                      "up to another time.")
        return end
    if age > dt.timedelta(hours=SILENT_AFTER_HOURS):
        console.print(f"[yellow]No sensor has reported since {newest:%Y-%m-%d %H:%M} UTC ({age.days} days): "
                      "every home will read 'insufficient data'.[/] If this is historic data, score it with "
                      f"--until {newest:%Y-%m-%dT%H:%M}; otherwise check the ingestor and the sensors.")
    return None


# -- risk export ----------------------------------------------------------------------------------------


@click.group("risk")
def risk() -> None:
    """Risk results: export the latest scores."""


def _export_record(row, ventilation: dict[str, float],
                   projection: tuple[float | None, float | None] = (None, None)) -> dict[str, Any]:
    return {
        "uprn": row.uprn,
        "score": None if row.score is None else round(row.score, 1),
        "band": row.band,
        "driver_room": row.driver_room,
        "cause": row.cause,
        "cold_home": row.cold_home,
        "ventilation": ventilation,
        "days_to_mould_1": projection[0],
        "days_to_mould_3": projection[1],
        "reasons": list(row.reasons),
        "what_would_help": list(row.what_would_help),
        "data_coverage": round(row.data_coverage, 3),
        "outdoor_source": row.outdoor_source,
        "physics_score": None if row.physics_score is None else round(row.physics_score, 1),
        "model_name": row.model_name,
        "model_version": row.model_version,
        "computed_at": row.computed_at.isoformat(),
    }


@risk.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="CSV (reasons joined into one cell) or JSON (lists).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@pass_context
def risk_export(context, fmt: str, output: Path | None) -> None:
    """Export the latest risk of every property, highest score first.

    Besides score, band, driver room, cause, reasons and what would help, each property carries the
    cold-home insight, the ventilation score (0-100) of each wet room with enough showers or cooking, and
    the days until the driver room's mould index reaches 1 and 3 if the last 14 days' conditions continue
    (blank where it is not rising).
    """
    from analytics.scoring import latest_risk, mould_projections, ventilation_scores

    with context.database.session() as session:
        run, rows = latest_risk(session)
        if run is None:
            raise click.ClickException("no risk has been computed yet; run 'dampwatch score' first")
        ventilation = ventilation_scores(session, run.id)
        projections = mould_projections(session, run.id)
        records = [_export_record(row, ventilation.get(row.uprn, {}), projections.get(row.uprn, (None, None)))
                   for row in rows]
    handle = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    try:
        if fmt == "json":
            json.dump({"scored_until": run.scored_until.isoformat(), "properties": records}, handle, indent=2)
            handle.write("\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
            writer.writeheader()
            for record in records:
                writer.writerow({**record, "reasons": " ".join(record["reasons"]),
                                 "what_would_help": " ".join(record["what_would_help"]),
                                 "cold_home": "yes" if record["cold_home"] else "no",
                                 "ventilation": "; ".join(f"{room} {score:.0f}"
                                                          for room, score in record["ventilation"].items())})
    finally:
        if output:
            handle.close()
    if output:
        console.print(f"wrote the risk of {len(records)} properties (scored up to "
                      f"{run.scored_until:%Y-%m-%d %H:%M} UTC) to {output}")


# -- train ----------------------------------------------------------------------------------------------


@click.command("train")
@click.option("--outcomes", "outcomes_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Inspection outcomes CSV: uprn,date,mould_found,severity,cause,room.")
@click.option("--capacity", default=10.0, show_default=True, type=click.FloatRange(0.1, 100),
              help="Share of homes the team can inspect [%]: the decision threshold flags that share.")
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20), help="Property folds for "
              "cross-validation.")
@click.option("--seed", default=0, show_default=True, help="Random seed of the pipeline.")
@click.option("--history-days", default=120, show_default=True, type=click.IntRange(15, 3650),
              help="Days of readings before the first inspection that the mould index is run over.")
@click.option("--model-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to save the model (default: DAMPWATCH_VAR_DIR/models).")
@pass_context
def train(context, outcomes_file: Path, capacity: float, folds: int, seed: int, history_days: int,
          model_dir: Path | None) -> None:
    """Train the risk model on inspection outcomes; save it with its metadata and model card."""
    from analytics.labels import file_sha256, read_outcomes_csv
    from analytics.risk_model import save_model
    from analytics.risk_model import train as train_model
    from analytics.scoring import training_frame

    try:
        outcomes, errors = read_outcomes_csv(outcomes_file)
        for error in errors[:20]:
            console.print(f"[yellow]left out {error}[/]")
        properties = outcomes["uprn"].nunique()
        started = time.monotonic()
        with _progress() as bar:
            task = bar.add_task("computing features", total=properties, rate="")
            X, y, groups, used = training_frame(context.database, context.store, outcomes, history_days=history_days,
                                                progress=_rate(bar, task, started, "properties"))
        with console.status(f"training on {len(y)} inspections ({folds}-fold cross-validation by property)"):
            trained = train_model(X, y, groups, capacity_pct=capacity, n_splits=folds, random_state=seed, data={
                "outcomes_file": str(outcomes_file),
                "outcomes_sha256": file_sha256(outcomes_file),
                "first_inspection": str(min(used["date"])),
                "last_inspection": str(max(used["date"])),
                "history_days": history_days,
                "readings_store": context.settings.redacted()["readings_url"],
            })
        paths = save_model(trained, _model_dir(context, model_dir))
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    cv = trained.metadata["cross_validation"]
    gate = trained.metadata["quality_gate"]
    table = Table("measure", "value", title=f"{trained.metadata['model_name']} {trained.metadata['version']}")
    table.add_row("inspections (homes)", f"{len(y)} ({trained.metadata['data']['properties']})")
    table.add_row("with mould", str(trained.metadata["data"]["with_mould"]))
    table.add_row("CV ROC AUC", f"{cv['roc_auc']:.3f}")
    table.add_row(f"precision at top {capacity:g} %", f"{cv['precision_at_k']:.3f}")
    table.add_row(f"recall at top {capacity:g} %", f"{cv['recall_at_k']:.3f}")
    table.add_row("Brier score", f"{cv['brier']:.3f}")
    table.add_row("calibration error / slope", f"{cv['calibration_error']:.3f} / {cv['calibration_slope']:.2f}")
    table.add_row("threshold (top capacity)", f"{trained.metadata['threshold']:.3f}")
    table.add_row("quality gate", "passed" if gate["passed"] else "[red]failed[/]: " + "; ".join(gate["failures"]))
    out.print(table)
    out.print(f"saved {paths['model']}, {paths['metadata'].name} and the model card {paths['card'].name}")
    if not gate["passed"]:
        out.print("this model will not be used for scoring; 'dampwatch score' keeps the physics score")


# -- evaluate -------------------------------------------------------------------------------------------


@click.command("evaluate")
@click.option("--truth", "truth_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Truth CSV (as written by 'dampwatch simulate'): property_damp_prone and property_cause per UPRN.")
@click.option("--capacity", default=10.0, show_default=True, type=click.FloatRange(0.1, 100),
              help="Share of homes the team can inspect [%].")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the plots (default: DAMPWATCH_VAR_DIR/evaluation).")
@pass_context
def evaluate(context, truth_file: Path, capacity: float, out_dir: Path | None) -> None:
    """Judge the latest risk scores against the truth: ROC AUC, precision and recall at capacity, calibration."""
    import pandas as pd

    from analytics.evaluation import evaluate_ranking, write_plots
    from analytics.labels import read_truth_csv
    from analytics.scoring import latest_risk

    with context.database.session() as session:
        run, rows = latest_risk(session)
        scored = pd.DataFrame(
            [(r.uprn, r.score, r.cause or "", r.model_name) for r in rows],
            columns=["uprn", "score", "cause", "model_name"],
        ).set_index("uprn")
    if run is None:
        raise click.ClickException("no risk has been computed yet; run 'dampwatch score' first")
    try:
        report = evaluate_ranking(scored, read_truth_csv(truth_file), capacity)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = Table("measure", "value", title=f"Risk up to {run.scored_until:%Y-%m-%d %H:%M} UTC against {truth_file.name}")
    for name, value in report.summary().items():
        summary.add_row(name, str(value))
    out.print(summary)
    by_cause = Table("true cause", "homes", "mean score", f"in top {capacity:g} %", "share in top", "cause named",
                     title="By cause")
    for row in report.by_cause:
        by_cause.add_row(row.cause, str(row.homes), f"{row.mean_score:.1f}", str(row.in_top_k),
                         f"{row.share_in_top_k:.2f}", str(row.cause_named) if row.cause != "none" else "-")
    out.print(by_cause)
    paths = write_plots(report, out_dir or Path(context.settings.var_dir) / "evaluation")
    out.print("plots: " + ", ".join(str(p) for p in paths))


# -- weather import -------------------------------------------------------------------------------------


@click.group("weather")
def weather() -> None:
    """Outdoor weather per postcode district, for homes without an outdoor sensor nearby."""


@weather.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-errors", is_flag=True, help="Exit 0 even if some rows were rejected (a partial import).")
@pass_context
def weather_import(context, csv_file: Path, allow_errors: bool) -> None:
    """Import hourly weather (area,ts,temperature_c,humidity_pct; area = a postcode district such as LS6, a
    postcode area such as HX, or * for the whole estate; plain or .gz, UTF-8 or Windows-1252)."""
    from analytics.weather import import_weather

    started = time.monotonic()
    try:
        with _progress() as bar, context.database.session() as session:
            task = bar.add_task("storing weather hours", total=None, rate="")
            report = import_weather(session, csv_file, progress=_rate(bar, task, started, "hours"))
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out.print(f"read {report.rows} rows: {report.hours} hours stored for "
              f"{', '.join(report.areas) or 'no area'}; {len(report.errors)} rows left out")
    if report.errors:
        console.print(f"[yellow]{len(report.errors)} row(s) were not imported; fix them and import again:[/]")
        for error in report.errors[:50]:
            console.print(f"  {error}")
        if not allow_errors:
            console.print(f"[red]{len(report.errors)} row(s) rejected: exit status 1.[/] Fix them and import "
                          "again (importing is safe to repeat), or pass --allow-errors to accept a partial import.")
            raise SystemExit(1)


COMMANDS = (score, risk, train, evaluate, weather)
"""Every command of this module, for ``main.add_command``."""
