"""VictoriaMetrics SIGKILLed mid-stream: the replay window gives it back what it had acknowledged and lost."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

import simulator
from core.db import Database
from core.readings import open_store
from ingest.batch import RawMessage
from ingest.replay import ReplayWindow
from tests.backends_fixtures import running_victoria
from tests.ingest.test_ingest_broker import assert_store_matches, register_estate, running_ingestor, wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def victoria(tmp_path):
    """A real single-node VictoriaMetrics (per-second deduplication, long retention) on a free port."""
    yield from running_victoria(tmp_path)


def test_victoriametrics_sigkill_mid_stream_loses_nothing(broker, settings, tmp_path, victoria, caplog):
    """SIGKILL VictoriaMetrics while readings flow, restart it: the window is replayed and every reading is there."""
    estate = simulator.build_estate(seed=17, homes=4)
    sim = simulator.simulate(estate, start=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), days=4)
    url = victoria.url + "?retries=1&timeout=2"
    settings = settings.model_copy(update={"readings_url": url, "ingest_batch_size": 500, "ingest_workers": 0})
    database = Database(settings.database_url)
    register_estate(sim, database, tmp_path)
    store = open_store(url)
    expected = len(sim.expected)
    caplog.set_level("WARNING", logger="ingest.replay")
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        metrics = ingestor.metrics
        publisher = threading.Thread(
            target=simulator.publish, args=(sim.iter_messages(), broker.url),
            kwargs={"client_id": "crash-publisher", "speedup": None},
        )
        publisher.start()
        wait_for(lambda: metrics.stored._value.get() > expected * 0.3, 60, 0.02, what="a third of the readings")
        victoria.stop(hard=True)  # SIGKILL: what it had not flushed is gone
        time.sleep(1.5)
        victoria.start()
        publisher.join(180)
        assert not publisher.is_alive()
        wait_for(lambda: metrics.pending._value.get() == 0 and metrics.spool_depth._value.get() == 0
                 and metrics.stored._value.get() + metrics.duplicates._value.get() >= expected, 120,
                 what="every reading written", state=metrics.log_line)
    replays = [r.getMessage() for r in caplog.records if "readings store restarted" in r.getMessage()]
    assert len(replays) == 1
    victoria.flush()
    assert_store_matches(store, sim.expected)
    store.close()
    database.dispose()


def test_window_keeps_batches_until_the_same_store_was_seen_alive_past_them(tmp_path):
    """Pruning follows verification time: a batch goes only when a check came window_s after it was written."""
    window = ReplayWindow(tmp_path, 60.0)
    batch = [RawMessage("dampwatch/a/up", b'{"x": 1}', 1.0)]
    window.record(batch)
    written = next(tmp_path.glob("*.jsonl")).stat().st_mtime
    window.prune(written + 59)
    assert len(window) == 1
    assert list(window.batches()) == [batch]
    window.prune(written + 61)
    assert len(window) == 0 and not list(tmp_path.glob("*.jsonl"))
    window.started_at = 1765000000.0
    assert ReplayWindow(tmp_path, 60.0).started_at == 1765000000.0
