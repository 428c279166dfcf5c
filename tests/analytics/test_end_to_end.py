"""End to end: simulate an estate, publish through a real Mosquitto, ingest, score, export.

The simulator's homes with a hidden damp cause must come out on top of the exported ranking.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from sklearn.metrics import roc_auc_score

import simulator
from core.db import Database
from dampwatch.cli import Context
from dampwatch.commands_analytics import risk, score
from tests.ingest.test_ingest_broker import register_estate, running_ingestor, wait_for

pytestmark = pytest.mark.broker

START = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def test_simulate_ingest_score_export_ranks_damp_homes_on_top(broker, settings, store, tmp_path):
    """Twelve homes, fifteen winter days, a reading every 30 minutes through MQTT: damp homes lead the export."""
    sim = simulator.simulate(simulator.build_estate(seed=25, homes=12), START, days=15, interval_minutes=30)
    database = Database(settings.database_url)
    register_estate(sim, database, tmp_path)
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(sim.iter_messages(), broker.url, client_id="sim-analytics")
        wait_for(lambda: store.count() >= len(sim.expected) and ingestor.metrics.pending._value.get() == 0,
                 timeout_s=120, what="every reading stored")
    database.dispose()
    context = Context(settings)
    try:
        until = sim.end.strftime("%Y-%m-%dT%H:%M:%S")
        result = CliRunner().invoke(score, ["--until", until], obj=context, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        exported = json.loads(CliRunner().invoke(risk, ["export", "--format", "json"], obj=context).output)
    finally:
        context.close()
    ranking = exported["properties"]
    assert len(ranking) == 12
    damp = sim.truth.groupby("uprn")["property_damp_prone"].first()
    scores = [(p["uprn"], p["score"]) for p in ranking if p["score"] is not None]
    assert roc_auc_score([damp[u] for u, _ in scores], [s for _, s in scores]) >= 0.8
    assert all(damp[p["uprn"]] for p in ranking[:3])
    top = ranking[0]
    assert top["band"] in ("high", "critical") and top["cause"] and top["reasons"] and top["what_would_help"]
    assert top["model_name"] == "dampwatch-physics"
