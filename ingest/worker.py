"""The ingest worker: a separate process that makes batches durable, so parsing and writing run on
another core than the MQTT loop (Python threads would share one core through the GIL).

The ingestor sends ``("batch", batch_id, [RawMessage, ...])`` over a pipe; the
worker answers ``("done", batch_id, BatchResult)`` once the batch is durable, or
``("failed", batch_id, reason)`` if it gave up while stopping. The ingestor
acknowledges a batch's MQTT messages only on ``done``. If the ingestor dies, the
worker dies too (parent-death signal, and end of file on the pipe); if the worker
dies, the ingestor starts a new one and hands it the batches not yet answered, and
nothing unwritten is ever acknowledged. One worker per spool: it holds the spool
folder's lock (:mod:`ingest.lifecycle`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from core.errors import DampWatchError
from ingest.batch import BatchResult, RawItem, RawMessage, Writer
from ingest.isolation import failure_text, is_outage, write_isolating
from ingest.quarantine import Quarantine, QuarantineError
from ingest.spool import Spool, SpoolError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

    from core.readings import ReadingsStore
    from core.settings import Settings
    from ingest.lifecycle import SpoolLock

logger = logging.getLogger(__name__)

#: Waits between attempts to write a batch the store or database refused.
RETRY_DELAYS_S = (0.5, 1, 2, 5, 10, 30)
#: Attempts made on a failing batch once the ingestor is stopping.
ATTEMPTS_WHEN_STOPPING = 3
#: Waits between attempts to replay the spool while the store stays down.
REPLAY_DELAYS_S = (1, 2, 5, 10, 30)
#: How often an idle worker looks at the spool.
IDLE_POLL_S = 1.0

#: What a worker answers: ``(kind, batch_id, detail)``; the detail of ``"done"`` and ``"spool"`` is a
#: :class:`BatchResult`, of ``"failed"`` and ``"error"`` a reason (see the module docstring).
WorkerResult = tuple[str, int, object]


def _write_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    return (DampWatchError, OSError, SQLAlchemyError)


class SpoolingWriter:
    """Writes batches; while the store cannot take them they go to the spool, replayed when it can.

    A batch that fails for a data reason (not an outage: :mod:`ingest.isolation`) is
    written in parts so that only the message(s) at fault go to the quarantine;
    the spool never waits behind a batch that can never be written.
    """

    def __init__(self, writer: Writer, spool: Spool | None) -> None:
        self.writer = writer
        self.spool = spool
        self.quarantine = Quarantine(spool.directory / "quarantine") if spool is not None else None
        self._errors = _write_errors()
        self._replay_failures = 0
        self._next_replay = 0.0

    def _outage(self, exc: BaseException) -> bool:
        return is_outage(exc, self.writer.reachable)

    def _quarantine(self) -> Quarantine:
        """The spool's quarantine (a writer has one whenever it has a spool)."""
        if self.quarantine is None:
            raise RuntimeError("this writer has no spool, so no quarantine")
        return self.quarantine

    def write(self, batch: list[RawMessage], stopping: Callable[[], bool]) -> BatchResult | None:
        """Durable when it returns: in the store, or in the spool. None if it gave up while stopping."""
        if self.spool is None:
            return write_with_retry(self.writer, batch, stopping)
        result = self.replay()
        if not self.spool:
            try:
                return result.add(self.writer.write(batch))
            except Exception as exc:  # judged: an outage spools the batch, a data error isolates the bad message
                if not self._outage(exc):
                    logger.warning("a batch of %d messages failed for a data reason (%s); writing it in parts",
                                   len(batch), failure_text(exc)[:300])
                    try:
                        written, batch = write_isolating(self.writer, batch, self._quarantine(), self._outage)
                    except QuarantineError as q_exc:
                        logger.error("%s; holding the batch unacknowledged and retrying", q_exc)
                        later = write_with_retry(self.writer, batch, stopping)
                        return None if later is None else result.add(later)
                    result = result.add(written)
                    if not batch:
                        return result
                self._replay_failed()
                logger.warning("the store cannot take a batch of %d messages (%s); spooling it to %s",
                               len(batch), failure_text(exc)[:300], self.spool.directory)
        try:
            self.spool.append(batch)
        except SpoolError as exc:
            logger.error("%s; holding the batch unacknowledged and retrying", exc)
            later = write_with_retry(self.writer, batch, stopping)
            return None if later is None else result.add(later)
        return result.add(BatchResult(spooled=len(batch), spool_depth=self.spool.messages))

    def replay(self) -> BatchResult:
        """Write spooled batches to the store, oldest first, while it takes them."""
        total = BatchResult(spool_depth=self.spool.messages if self.spool is not None else 0)
        while self.spool and time.monotonic() >= self._next_replay:
            try:
                batch = self.spool.peek()
            except SpoolError as exc:  # a damaged file: set it aside whole, never wait behind it
                try:
                    self._quarantine().add_damaged(self.spool.oldest_path, str(exc))
                except QuarantineError as q_exc:
                    self._replay_failed()
                    logger.error("%s; the spool waits", q_exc)
                    break
                self.spool.pop()
                continue
            try:
                result = self.writer.write(batch)
            except Exception as exc:  # judged: an outage waits, a data error quarantines the bad message(s)
                if self._outage(exc):
                    self._replay_failed()
                    if self._replay_failures == 1:
                        logger.warning("cannot replay the spool yet (%s); %d messages wait",
                                       failure_text(exc)[:300], self.spool.messages)
                    break
                logger.warning("a spooled batch of %d messages failed for a data reason (%s); writing it in parts",
                               len(batch), failure_text(exc)[:300])
                try:
                    result, rest = write_isolating(self.writer, batch, self._quarantine(), self._outage)
                except QuarantineError as q_exc:
                    self._replay_failed()
                    logger.error("%s; the spool waits", q_exc)
                    break
                if rest:  # the store went away part way: the whole file is replayed later (idempotent)
                    self._replay_failed()
                    total = total.add(result)
                    break
            self.spool.pop()
            if self._replay_failures:
                logger.info("the store is back; replaying the spool (%d messages left)", self.spool.messages)
            self._replay_failures = 0
            total = total.add(result)
            total.spool_depth = self.spool.messages
        return total

    def _replay_failed(self) -> None:
        self._replay_failures += 1
        delay = REPLAY_DELAYS_S[min(self._replay_failures - 1, len(REPLAY_DELAYS_S) - 1)]
        self._next_replay = time.monotonic() + delay


def write_with_retry(writer: Writer, batch: list[RawMessage], stopping: Callable[[], bool]) -> BatchResult | None:
    """Write ``batch``, retrying with backoff until it is durable; None if stopping and still failing."""
    attempt = 0
    while True:
        try:
            return writer.write(batch)
        except Exception as exc:  # held unacknowledged and retried, whatever it was: never ends the worker
            logger.warning(
                "writing a batch of %d messages failed (attempt %d), will retry: %s", len(batch), attempt + 1,
                failure_text(exc)[:300],
            )
        attempt += 1
        if stopping() and attempt >= ATTEMPTS_WHEN_STOPPING:
            return None
        time.sleep(RETRY_DELAYS_S[min(attempt - 1, len(RETRY_DELAYS_S) - 1)])


def worker_main(
    conn: Connection, settings_values: dict[str, Any], stop_event: Event, parent_pid: int | None = None
) -> None:
    """The worker process: open the store and database, then write batches until told to stop.

    It dies with its parent (``PR_SET_PDEATHSIG``, and end of file on the pipe) and holds the
    spool folder's lock for its whole life, so one spool never has two workers.
    """
    from core.db import Database
    from core.readings import open_store
    from core.settings import Settings
    from ingest.lifecycle import SpoolLock, die_with_parent
    from ingest.replay import with_replay_window
    from ingest.writer import BatchWriter

    if parent_pid is not None:
        die_with_parent(parent_pid)
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the ingestor decides when its
    # worker stops (a "stop" message, the pipe's end, or its own death), so the last batches get written.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = Settings(**settings_values)
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        format="%(asctime)s %(levelname)-7s %(name)s[worker]: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    try:
        lock = SpoolLock(settings.spool_dir)
    except (DampWatchError, OSError) as exc:
        conn.send(("error", 0, str(exc)))
        return
    try:
        store = open_store(settings.readings_url)
        configure_store(store, settings)
        database = Database(settings.database_url, migrate=False)
    except DampWatchError as exc:
        conn.send(("error", 0, str(exc)))
        return
    try:
        writer = SpoolingWriter(with_replay_window(BatchWriter(settings, store, database), store, settings),
                                Spool(settings.spool_dir))
    except DampWatchError as exc:
        conn.send(("error", 0, str(exc)))
        return
    conn.send(("ready", 0, None))
    try:
        while True:
            if writer.spool and not conn.poll(IDLE_POLL_S):
                replayed = writer.replay()
                if replayed.stored or replayed.duplicates or replayed.rejected or not writer.spool:
                    conn.send(("spool", 0, replayed))
                continue
            try:
                message = conn.recv()
            except EOFError:  # the ingestor has gone; what it did not acknowledge will be redelivered
                break
            if message[0] == "stop":
                break
            _, batch_id, items = message
            result = writer.write([RawMessage(*item) for item in items], stop_event.is_set)
            if result is None:
                conn.send(("failed", batch_id, "the store or database kept failing while stopping"))
            else:
                conn.send(("done", batch_id, result))
    finally:
        store.close()
        database.dispose()
        lock.release()


def configure_store(store: ReadingsStore, settings: Settings) -> None:
    """Apply the settings a readings backend takes after opening (the SQLite lock wait)."""
    set_lock_wait = getattr(store, "set_lock_wait", None)
    if set_lock_wait is not None:
        set_lock_wait(settings.readings_lock_wait_s)


class WorkerDiedError(DampWatchError):
    """The ingest worker died and no new one could be started."""


#: Waits before each attempt to start a new worker after one died.
RESTART_DELAYS_S = (0, 1, 5)
#: How often the ingestor checks that its worker is alive when no result is due.
ALIVE_CHECK_S = 1.0
#: Workers that may die in a row without answering a batch before the ingestor gives up: a batch that kills
#: every worker given it (a crash in a library, memory exhausted) must stop the ingestor, not loop for ever.
MAX_DEATHS_WITHOUT_PROGRESS = 3


def _exit_description(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessBackend:
    """Runs a :class:`BatchWriter` in a worker process; results come back in order.

    The backend keeps each batch until the worker answers it. If the worker dies (killed, out of
    memory, a crash), a new one is started, logged with the reason, and given the unanswered batches
    again in order (writes are idempotent); the ingestor goes on. Only when no new worker starts after
    :data:`RESTART_DELAYS_S` does it raise :class:`WorkerDiedError`, which stops the ingestor with that
    message. The worker dies with this process (see :mod:`ingest.lifecycle`).
    """

    def __init__(self, settings_values: dict[str, Any], *, on_restart: Callable[[], None] | None = None) -> None:
        self._settings_values = settings_values
        self._context = mp.get_context("spawn")
        self._stop_event = self._context.Event()
        self._unanswered: collections.OrderedDict[int, list[RawItem]] = collections.OrderedDict()
        self._on_restart = on_restart
        self._next_alive_check = 0.0
        self._dead = False  # the worker stopped while the ingestor was stopping: no new one
        self._failed: list[WorkerResult] = []
        self._deaths_without_progress = 0
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self._conn, child = self._context.Pipe()
        self._process = self._context.Process(
            target=worker_main, args=(child, self._settings_values, self._stop_event, os.getpid()),
            name="dampwatch-ingest-worker", daemon=True,
        )
        self._process.start()
        child.close()
        try:
            kind, _, detail = self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            kind, detail = "error", f"it stopped ({_exit_description(self._process.exitcode)}) before it was ready"
        if kind != "ready":
            self._process.join(5)
            self._conn.close()
            raise DampWatchError(f"the ingest worker could not start: {detail}")

    def _replace(self, why: str) -> list[WorkerResult]:
        """Start a new worker after the old one died, and give it every batch not yet answered.

        While the ingestor is stopping no new worker is started: the unanswered batches are reported
        failed (the broker redelivers them to the next ingestor). Returns those failures.
        """
        with contextlib.suppress(OSError):
            self._conn.close()
        self._process.join(5)
        code = _exit_description(self._process.exitcode)
        self._deaths_without_progress += 1
        if self._deaths_without_progress > MAX_DEATHS_WITHOUT_PROGRESS and self._unanswered:
            first = next(iter(self._unanswered))
            raise WorkerDiedError(
                f"the ingest worker died {self._deaths_without_progress} times in a row ({code}) before answering "
                f"batch {first} of {len(self._unanswered[first])} messages; nothing unwritten was acknowledged. "
                "See the worker's log above for the cause, then start 'dampwatch ingest' again"
            )
        if self._stop_event.is_set():
            logger.warning("the ingest worker stopped (%s) while the ingestor was stopping; the broker will "
                           "redeliver the %d batches it had not finished", code, len(self._unanswered))
            failed: list[WorkerResult] = [
                ("failed", batch_id, f"the worker stopped ({code})") for batch_id in self._unanswered
            ]
            self._unanswered.clear()
            self._dead = True
            return failed
        logger.error("the ingest worker died (%s, %s); starting a new one and handing it the %d batches it had "
                     "not finished (nothing was acknowledged for them)", code, why, len(self._unanswered))
        last_error = ""
        for delay in RESTART_DELAYS_S:
            time.sleep(delay)
            try:
                self._start()
            except DampWatchError as exc:
                last_error = str(exc)
                logger.error("%s; trying again", last_error)
                continue
            self.restarts += 1
            if self._on_restart is not None:
                self._on_restart()
            for batch_id, batch in self._unanswered.items():
                self._conn.send(("batch", batch_id, batch))
            logger.info("a new ingest worker (pid %d) took over", self._process.pid)
            return []
        raise WorkerDiedError(
            f"the ingest worker died ({code}) and a new one could not start after {len(RESTART_DELAYS_S)} attempts: "
            f"{last_error}. Nothing unwritten was acknowledged; fix the cause and start 'dampwatch ingest' again"
        )

    def submit(self, batch_id: int, batch: list[RawItem]) -> None:
        self._unanswered[batch_id] = batch
        if self._dead:
            return  # stopping without a worker: answered "failed" by results()
        try:
            self._conn.send(("batch", batch_id, batch))
        except OSError as exc:  # BrokenPipeError: the worker is gone
            self._failed.extend(self._replace(f"the pipe to it broke: {exc}"))

    def results(self, timeout_s: float = 0.0) -> list[WorkerResult]:
        """Results that have arrived (waiting up to ``timeout_s`` for the first); replaces a dead worker."""
        if self._dead:
            failed, self._failed = self._failed, []
            failed += [("failed", batch_id, "the worker had stopped") for batch_id in self._unanswered]
            self._unanswered.clear()
            return failed
        out: list[WorkerResult] = []
        try:
            if self._conn.poll(timeout_s):
                while True:
                    out.append(self._conn.recv())
                    if not self._conn.poll():
                        break
        except (EOFError, OSError) as exc:
            for _kind, batch_id, _detail in out:
                self._unanswered.pop(batch_id, None)
            return out + self._replace(f"its pipe closed: {type(exc).__name__}")
        for _kind, batch_id, _detail in out:
            self._unanswered.pop(batch_id, None)
        if out:
            self._deaths_without_progress = 0
        now = time.monotonic()
        if not out and now >= self._next_alive_check:  # a worker that dies with nothing to do is noticed too
            self._next_alive_check = now + ALIVE_CHECK_S
            if not self._process.is_alive():
                return self._replace("found dead while idle")
        return out

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def stopping(self) -> None:
        self._stop_event.set()

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("stop",))
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()


class InlineBackend:
    """Runs the :class:`BatchWriter` in the ingestor's own thread (``DAMPWATCH_INGEST_WORKERS=0``)."""

    def __init__(self, writer: Writer, spool: Spool | None, lock: SpoolLock | None = None) -> None:
        self._writer = SpoolingWriter(writer, spool)
        self._lock = lock  # the spool folder's SpoolLock, held by this process while it ingests
        self._done: collections.deque[WorkerResult] = collections.deque()
        self._stopping = False

    def submit(self, batch_id: int, batch: list[RawItem]) -> None:
        result = self._writer.write([RawMessage(*item) for item in batch], lambda: self._stopping)
        if result is None:
            self._done.append(("failed", batch_id, "the store or database kept failing while stopping"))
        else:
            self._done.append(("done", batch_id, result))

    def results(self, timeout_s: float = 0.0) -> list[WorkerResult]:
        if self._writer.spool and not self._done:
            replayed = self._writer.replay()
            if replayed.stored or replayed.duplicates or replayed.rejected:
                self._done.append(("spool", 0, replayed))
        out = list(self._done)
        self._done.clear()
        return out

    def stopping(self) -> None:
        self._stopping = True

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
