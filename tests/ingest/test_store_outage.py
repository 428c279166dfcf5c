"""A store outage mid-stream: the ingestor spools to disk, acknowledges, and replays when the store returns."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pandas as pd
import pytest

import simulator
from core.db import Database
from core.readings import open_store
from tests.backends_fixtures import running_victoria
from tests.ingest.test_ingest_broker import assert_store_matches, register_estate, running_ingestor, wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def victoria(tmp_path):
    """A real single-node VictoriaMetrics (per-second deduplication, long retention) on a free port."""
    yield from running_victoria(tmp_path)


def test_store_stopped_mid_stream_loses_nothing_and_stores_nothing_twice(broker, settings, tmp_path, victoria):
    """VictoriaMetrics stops while readings flow; they go to the spool, are acknowledged, then replayed."""
    estate = simulator.build_estate(seed=13, homes=4)
    sim = simulator.simulate(estate, start=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), days=4)
    url = victoria.url + "?retries=1&timeout=2"
    settings = settings.model_copy(update={"readings_url": url, "ingest_batch_size": 500})
    database = Database(settings.database_url)
    register_estate(sim, database, tmp_path)
    store = open_store(url)
    expected = len(sim.expected)
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        metrics = ingestor.metrics
        publisher = threading.Thread(
            target=simulator.publish, args=(sim.iter_messages(), broker.url),
            kwargs={"client_id": "outage-publisher", "speedup": None},
        )
        publisher.start()
        wait_for(lambda: metrics.stored._value.get() > expected * 0.2, 60, 0.02, what="a fifth of the readings")
        victoria.stop()
        wait_for(lambda: metrics.spooled._value.get() > 0, 60, 0.05, what="batches going to the spool")
        time.sleep(2.0)  # the outage: readings keep arriving and are spooled
        spooled_during_outage = metrics.spooled._value.get()
        victoria.start()
        publisher.join(180)
        assert not publisher.is_alive()
        wait_for(lambda: metrics.pending._value.get() == 0 and metrics.spool_depth._value.get() == 0
                 and metrics.stored._value.get() + metrics.duplicates._value.get() >= expected, 120,
                 what="the spool to drain", state=metrics.log_line)
    assert spooled_during_outage > 0
    assert not list((settings.spool_dir).glob("*.jsonl")), "the spool is empty once replayed"
    victoria.flush()
    assert_store_matches(store, sim.expected)
    frame = store.hourly(dt.datetime(2026, 1, 5, tzinfo=dt.UTC), dt.datetime(2026, 1, 9, tzinfo=dt.UTC))
    assert int(frame["count"].sum()) == expected
    assert isinstance(frame, pd.DataFrame)
    store.close()
    database.dispose()
