"""Evaluate DampWatch's risk on a simulated estate: physics score, then a model trained on inspections.

Usage::

    .venv/bin/python bench/evaluate_estate.py [--homes 500] [--days 90] [--seed 2026] [--out var/eval]
        [--reuse-readings]

Steps, each timed: simulate the estate (``simulator``), write what a correct ingestor would store
(``Simulation.expected``) straight into a SQLite readings store (no MQTT), import the asset register, score
every home with the physics score (``analytics.scoring.score_estate``, as ``dampwatch score --full``) and
evaluate it against ``truth.csv`` (as ``dampwatch evaluate``); then train the model on the simulated
inspection outcomes (as ``dampwatch train``), score again with it (if it passes its quality gate, which
asks it to beat the physics score on the same folds) and evaluate again. Prints ROC AUC, precision at the
top 10 % and at the top N (N = the number of damp homes), the cause confusion table over the damp homes
at risk and over all damp homes (by the cause's form too), the number of reason/band contradictions
found while scoring, ties at the top, and the model gate's decision; writes the files, plots and model into
``--out``. Tune on one seed and quote another (the defaults: 2026 for tuning). ``--reuse-readings`` keeps a readings store left in ``--out`` by an earlier
run with the same estate (the simulator is deterministic), skipping the slowest step.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from pathlib import Path

import pandas as pd

import simulator
from analytics.evaluation import evaluate_ranking, write_plots
from analytics.labels import file_sha256, read_outcomes_csv, read_truth_csv
from analytics.risk_model import latest_model, save_model, train
from analytics.scoring import latest_risk, score_estate, training_frame
from core.assets import import_assets, read_asset_csv
from core.db import Database
from core.readings import Reading
from core.store_sqlite import SQLiteReadingsStore

BATCH_READINGS = 500_000


def _write_expected(store: SQLiteReadingsStore, expected: pd.DataFrame) -> int:
    total = 0
    for start in range(0, len(expected), BATCH_READINGS):
        part = expected.iloc[start: start + BATCH_READINGS]
        rows = [
            Reading(device, ts, t, h, b, int(q))
            for device, ts, t, h, b, q in zip(
                part["device_id"], part["ts"].dt.to_pydatetime(), part["temperature_c"], part["humidity_pct"],
                part["battery_v"], part["seq"], strict=True)
        ]
        total += store.write(rows).stored
    return total


def _scores(database: Database) -> pd.DataFrame:
    with database.session() as session:
        _, rows = latest_risk(session)
        return pd.DataFrame([(r.uprn, r.score, r.cause or "", r.model_name) for r in rows],
                            columns=["uprn", "score", "cause", "model_name"]).set_index("uprn")


def _confusion(database: Database, truth_path: Path) -> None:
    """The cause named against the true cause, for damp homes; by form of the cause; and the top of the list."""
    with database.session() as session:
        _, rows = latest_risk(session)
        named = pd.DataFrame([(r.uprn, r.cause or "-", r.band, r.score) for r in rows],
                             columns=["uprn", "named", "band", "score"]).set_index("uprn")
    truth = pd.read_csv(truth_path, dtype={"uprn": str}).groupby("uprn").first()
    joined = truth[["property_cause", "property_cause_form"]].join(named)
    damp = joined[joined["property_cause"] != "none"]
    at_risk = damp[damp["band"].isin(["medium", "high", "critical"])]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\ncause confusion, damp homes banded medium or above (rows: true cause, columns: named)")
        print(pd.crosstab(at_risk["property_cause"], at_risk["named"], margins=True))
        right = (at_risk["property_cause"] == at_risk["named"]).mean()
        print(f"  cause named right: {right:.1%} of {len(at_risk)} damp homes at risk")
        print("\ncause confusion, every damp home ('-' = banded low or insufficient data, so no cause named)")
        print(pd.crosstab(damp["property_cause"], damp["named"], margins=True))
        right_all = (damp["property_cause"] == damp["named"]).mean()
        print(f"  cause named right: {right_all:.1%} of {len(damp)} damp homes")
        print("\nby form of the cause: homes, banded medium or above, cause named right")
        forms = damp.assign(at_risk=damp["band"].isin(["medium", "high", "critical"]),
                            right=damp["property_cause"] == damp["named"])
        print(forms.groupby(["property_cause", "property_cause_form"])[["at_risk", "right"]]
              .agg(["size", "sum"]).iloc[:, [0, 1, 3]].set_axis(["homes", "at risk", "named right"], axis=1))
    scores = named["score"].dropna().sort_values(ascending=False)
    n_damp = len(damp)
    top = scores.index[:n_damp]
    print(f"\nprecision at the top N = {n_damp} (the number of damp homes): "
          f"{joined.loc[top, 'property_cause'].ne('none').mean():.3f}")
    print(f"ties among the top {n_damp} scores: {n_damp - scores.iloc[:n_damp].nunique()}; "
          f"homes scoring exactly 100: {(scores == 100).sum()}")
    low = joined[joined["band"] == "low"]
    print(f"homes without a score: {named['score'].isna().sum()} (all of them 'insufficient data': "
          f"{(named.loc[named['score'].isna(), 'band'] == 'insufficient data').all()}); "
          f"low-band homes with a cause named: {(low['named'] != '-').sum()}")


def _print_report(title: str, report) -> None:
    print(f"\n{title}")
    for name, value in report.summary().items():
        print(f"  {name}: {value}")
    print("  by true cause: homes, mean score, in top k, cause named")
    for row in report.by_cause:
        print(f"    {row.cause:<20} {row.homes:4d} {row.mean_score:6.1f} {row.in_top_k:4d} {row.cause_named:4d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=500)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--start", default="2025-11-03", help="first simulated day (UTC), default 2025-11-03")
    parser.add_argument("--capacity", type=float, default=10.0, help="inspection capacity [%%]")
    parser.add_argument("--out", type=Path, default=Path("var/eval"))
    parser.add_argument("--reuse-readings", action="store_true",
                        help="keep the readings store an earlier run of the same estate left in --out")
    args = parser.parse_args()

    out = args.out
    readings_db = out / "readings.db"
    reuse = args.reuse_readings and readings_db.is_file()
    if reuse:
        for name in ("app.db", "app.db-wal", "app.db-shm"):
            (out / name).unlink(missing_ok=True)
        for folder in ("models", "plots-physics", "plots-model"):
            shutil.rmtree(out / folder, ignore_errors=True)
    else:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
    start = dt.datetime.fromisoformat(args.start).replace(tzinfo=dt.UTC)
    end = start + dt.timedelta(days=args.days)

    t = time.perf_counter()
    estate = simulator.build_estate(seed=args.seed, homes=args.homes)
    sim = simulator.simulate(estate, start, days=args.days)
    simulator.write_estate_csv(estate, out / "estate.csv")
    simulator.write_truth_csv(sim, out / "truth.csv")
    simulator.write_outcomes_csv(sim, out / "outcomes.csv", seed=args.seed)
    print(f"simulated {args.homes} homes x {args.days:g} days from {start:%Y-%m-%d}: {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    store = SQLiteReadingsStore(f"sqlite:///{out.resolve()}/readings.db")
    if reuse:
        print(f"kept the {store.count():,} readings of the earlier run in {readings_db}")
    else:
        stored = _write_expected(store, sim.expected)
        print(f"stored {stored:,} readings in SQLite (no MQTT): {time.perf_counter() - t:.1f} s")
    del sim

    database = Database(f"sqlite:///{out.resolve()}/app.db")
    rows, errors = read_asset_csv(out / "estate.csv")
    assert not errors, errors
    with database.session() as session:
        import_assets(session, rows)
    truth = read_truth_csv(out / "truth.csv")

    t = time.perf_counter()
    report = score_estate(database, store, now=end, full=True)
    print(f"physics scoring ({report.rooms} rooms, {report.room_hours:,} room-hours): {time.perf_counter() - t:.1f} s")
    print(f"reason/band contradictions found while scoring: {report.contradictions}")
    physics = evaluate_ranking(_scores(database), truth, args.capacity)
    write_plots(physics, out / "plots-physics")
    _print_report("physics score against truth.csv", physics)
    _confusion(database, out / "truth.csv")

    t = time.perf_counter()
    outcomes, _ = read_outcomes_csv(out / "outcomes.csv")
    X, y, groups, _ = training_frame(database, store, outcomes)
    trained = train(X, y, groups, capacity_pct=args.capacity, data={
        "outcomes_file": str(out / "outcomes.csv"), "outcomes_sha256": file_sha256(out / "outcomes.csv")})
    save_model(trained, out / "models")
    cv = trained.metadata["cross_validation"]
    print(f"\ntrained on {len(y)} inspections ({int(y.sum())} with mould): {time.perf_counter() - t:.1f} s; "
          f"CV ROC AUC {cv['roc_auc']:.3f}, CV precision at {args.capacity:g} % {cv['precision_at_k']:.3f}, "
          f"ECE {cv['calibration_error']:.3f}, slope {cv['calibration_slope']:.2f}; physics score on the same "
          f"folds: ROC AUC {cv['physics_roc_auc']:.3f}, ECE {cv['physics_calibration_error']:.3f}")
    gate = trained.metadata["quality_gate"]
    print("model gate: " + ("passed: scoring uses the model" if gate["passed"] else
                            "failed, scoring keeps the physics score: " + "; ".join(gate["failures"])))

    model = latest_model(out / "models")
    if model is not None and model.passes_gate:
        rescored = score_estate(database, store, now=end, model=model)
        print(f"reason/band contradictions with the model's bands: {rescored.contradictions}")
        scored = evaluate_ranking(_scores(database), truth, args.capacity)
        write_plots(scored, out / "plots-model")
        _print_report(f"model {model.name} {model.version} against truth.csv", scored)
    else:
        print("the model did not pass its quality gate: scoring stays with the physics score")
    store.close()
    database.dispose()


if __name__ == "__main__":
    main()
