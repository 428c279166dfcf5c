"""The ingest worker: a separate process that makes batches durable, so parsing and writing run on
another core than the MQTT loop (Python threads would share one core through the GIL).

The ingestor sends ``("batch", batch_id, [RawMessage, ...])`` over a pipe; the
worker answers ``("done", batch_id, BatchResult)`` once the batch is durable, or
``("failed", batch_id, reason)`` if it gave up while stopping. The ingestor
acknowledges a batch's MQTT messages only on ``done``. If the ingestor dies, the
pipe closes and the worker exits; if the worker dies, the ingestor stops with an
error and nothing unwritten is ever acknowledged.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from core.errors import DampWatchError
from ingest.batch import BatchResult, RawMessage

if TYPE_CHECKING:
    from ingest.writer import BatchWriter

logger = logging.getLogger(__name__)

#: Waits between attempts to write a batch the store or database refused.
RETRY_DELAYS_S = (0.5, 1, 2, 5, 10, 30)
#: Attempts made on a failing batch once the ingestor is stopping.
ATTEMPTS_WHEN_STOPPING = 3


def write_with_retry(writer: BatchWriter, batch: list[RawMessage], stopping) -> BatchResult | None:
    """Write ``batch``, retrying with backoff until it is durable; None if stopping and still failing."""
    from sqlalchemy.exc import SQLAlchemyError

    attempt = 0
    while True:
        try:
            return writer.write(batch)
        except (DampWatchError, OSError, SQLAlchemyError) as exc:
            logger.warning(
                "writing a batch of %d messages failed (attempt %d), will retry: %s", len(batch), attempt + 1, exc
            )
        attempt += 1
        if stopping() and attempt >= ATTEMPTS_WHEN_STOPPING:
            return None
        time.sleep(RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)])


def worker_main(conn: Connection, settings_values: dict, stop_event) -> None:
    """The worker process: open the store and database, then write batches until told to stop."""
    from core.db import Database
    from core.readings import open_store
    from core.settings import Settings
    from ingest.writer import BatchWriter

    settings = Settings(**settings_values)
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)-7s %(name)s[worker]: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    try:
        store = open_store(settings.readings_url)
        database = Database(settings.database_url, migrate=False)
    except DampWatchError as exc:
        conn.send(("error", 0, str(exc)))
        return
    writer = BatchWriter(settings, store, database)
    conn.send(("ready", 0, None))
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:  # the ingestor has gone; what it did not acknowledge will be redelivered
                break
            if message[0] == "stop":
                break
            _, batch_id, batch = message
            result = write_with_retry(writer, batch, stop_event.is_set)
            if result is None:
                conn.send(("failed", batch_id, "the store or database kept failing while stopping"))
            else:
                conn.send(("done", batch_id, result))
    finally:
        store.close()
        database.dispose()


class ProcessBackend:
    """Runs a :class:`BatchWriter` in a worker process; results come back in order."""

    def __init__(self, settings_values: dict) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._stop_event = context.Event()
        self._process = context.Process(
            target=worker_main, args=(child, settings_values, self._stop_event), name="dampwatch-ingest-worker",
            daemon=True,
        )
        self._process.start()
        child.close()
        kind, _, detail = self._conn.recv()
        if kind != "ready":
            self._process.join(5)
            raise DampWatchError(f"the ingest worker could not start: {detail}")

    def submit(self, batch_id: int, batch: list[RawMessage]) -> None:
        self._conn.send(("batch", batch_id, batch))

    def results(self, timeout_s: float = 0.0) -> list[tuple[str, int, object]]:
        """Results that have arrived (waiting up to ``timeout_s`` for the first)."""
        out = []
        try:
            if self._conn.poll(timeout_s):
                while True:
                    out.append(self._conn.recv())
                    if not self._conn.poll():
                        break
        except EOFError as exc:
            raise DampWatchError(f"the ingest worker died (exit code {self._process.exitcode})") from exc
        return out

    def stopping(self) -> None:
        self._stop_event.set()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(("stop",))
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()


class InlineBackend:
    """Runs the :class:`BatchWriter` in the ingestor's own thread (``DAMPWATCH_INGEST_WORKERS=0``)."""

    def __init__(self, writer: BatchWriter) -> None:
        self._writer = writer
        self._done: collections.deque = collections.deque()
        self._stopping = False

    def submit(self, batch_id: int, batch: list[RawMessage]) -> None:
        result = write_with_retry(self._writer, batch, lambda: self._stopping)
        if result is None:
            self._done.append(("failed", batch_id, "the store or database kept failing while stopping"))
        else:
            self._done.append(("done", batch_id, result))

    def results(self, timeout_s: float = 0.0) -> list[tuple[str, int, object]]:
        out = list(self._done)
        self._done.clear()
        return out

    def stopping(self) -> None:
        self._stopping = True

    def close(self) -> None:
        pass
