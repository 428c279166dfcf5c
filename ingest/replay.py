"""The replay window: recent batches kept on local disk for stores that acknowledge before disk.

VictoriaMetrics answers a write once the samples are in its memory and flushes them to disk
within ``-inmemoryDataFlushInterval`` (5 s by default); a SIGKILL, an out-of-memory kill or a
power cut loses what it had not flushed, though the ingestor had already acknowledged those
messages to the broker. So every batch the store took is also written here, in the spool's format,
and kept for ``DAMPWATCH_INGEST_REPLAY_WINDOW_S`` (60 s by default: the flush interval with a wide
margin). Before each write (at most once a second) the store's process start time is read; when it
has changed, the store restarted, and every batch in the window is written to it again. Writes are
idempotent (one reading per device and second), so replaying what survived harms nothing.

Batches leave the window only when a check has seen the *same* store process alive for the whole
window after they were written, so an outage of any length keeps them. Dead letters and device
health are not written again: only the readings store forgets.

The window survives a restart of the ingestor (the files and the last start time seen are on disk);
it is not fsynced, so it does not survive a power cut of the ingestor's own machine.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeGuard

from core.readings import ReadingsStore
from ingest.batch import BatchResult, RawMessage
from ingest.spool import SPOOL_FORMAT_VERSION

if TYPE_CHECKING:
    from core.settings import Settings
    from ingest.writer import BatchWriter

logger = logging.getLogger(__name__)

#: Shortest time between two looks at the store's process start time.
CHECK_INTERVAL_S = 1.0
STARTED_AT_FILE = "store-started-at"


class RestartTellingStore(ReadingsStore, Protocol):
    """A readings store that can say when its process started (VictoriaMetrics single node)."""

    def started_at(self) -> float | None:
        """The store's process start time (epoch seconds), None if it cannot tell; raises while it is down."""
        ...


def tells_restarts(store: ReadingsStore) -> TypeGuard[RestartTellingStore]:
    """Whether ``store`` has a ``started_at()`` (see :func:`with_replay_window`)."""
    return getattr(store, "started_at", None) is not None


class ReplayWindow:
    """Batches the store took in the last ``window_s`` seconds, on disk, oldest first."""

    def __init__(self, directory: Path, window_s: float, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.window_s = window_s
        self._clock = clock
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink()
        self._files = sorted(self.directory.glob("*.jsonl"))
        self._next = int(self._files[-1].stem) + 1 if self._files else 1

    def __len__(self) -> int:
        return len(self._files)

    @property
    def started_at(self) -> float | None:
        """The store's process start time when last seen (kept on disk across restarts of the ingestor)."""
        try:
            return float((self.directory / STARTED_AT_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    @started_at.setter
    def started_at(self, value: float) -> None:
        tmp = self.directory / (STARTED_AT_FILE + ".tmp")
        tmp.write_text(repr(value))
        os.replace(tmp, self.directory / STARTED_AT_FILE)

    def record(self, batch: list[RawMessage]) -> None:
        """Keep ``batch`` (just written to the store) in the window."""
        path = self.directory / f"{self._next:012d}.jsonl"
        tmp = path.with_suffix(".tmp")
        lines = [json.dumps({"version": SPOOL_FORMAT_VERSION, "messages": len(batch)})]
        lines += [
            json.dumps({"topic": m.topic, "payload": base64.b64encode(m.payload).decode(), "received_at": m.received_at})
            for m in batch
        ]
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        self._next += 1
        self._files.append(path)

    def batches(self) -> Iterator[list[RawMessage]]:
        """Every batch in the window, oldest first (a damaged file is logged and skipped)."""
        for path in list(self._files):
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
                yield [
                    RawMessage(item["topic"], base64.b64decode(item["payload"]), item["received_at"])
                    for item in map(json.loads, lines[1:])
                ]
            except (OSError, ValueError, KeyError) as exc:
                logger.error("cannot read %s from the replay window (%s); skipping it", path, exc)

    def prune(self, verified_at: float) -> None:
        """Drop batches written more than ``window_s`` before ``verified_at``, when the same store was seen alive."""
        cutoff = verified_at - self.window_s
        while self._files:
            path = self._files[0]
            try:
                if path.stat().st_mtime >= cutoff:
                    break
                path.unlink()
            except FileNotFoundError:
                pass
            self._files.pop(0)


class ReplayingWriter:
    """A :class:`ingest.writer.BatchWriter` that keeps a replay window and replays it when the store restarted.

    Used only with a store that can say when its process started (``store.started_at()``,
    VictoriaMetrics single node); with any other store the plain writer is used.
    """

    def __init__(self, writer: BatchWriter, store: RestartTellingStore, window: ReplayWindow) -> None:
        self.writer = writer
        self.store = store
        self.window = window
        self._next_check = 0.0
        self.replays = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.writer, name)  # everything else is the plain writer's

    def reachable(self) -> bool:
        """The plain writer's outage probe."""
        return self.writer.reachable()

    def write(self, batch: list[RawMessage]) -> BatchResult:
        """Write ``batch`` (after replaying the window if the store restarted); raises as the writer does."""
        self.check()
        result = self.writer.write(batch)
        self.window.record(batch)
        return result

    def check(self, *, force: bool = False) -> bool:
        """Look at the store's start time (at most once a second); replay the window if it changed."""
        now = time.monotonic()
        if not force and now < self._next_check:
            return False
        checked_at = time.time()
        started = self.store.started_at()  # StoreError while it is down: the caller spools the batch
        self._next_check = now + CHECK_INTERVAL_S
        if started is None:
            return False
        known = self.window.started_at
        if known is None or started == known:
            if known is None:
                self.window.started_at = started
            self.window.prune(checked_at)
            return False
        self._replay(known, started)
        self.window.started_at = started
        return True

    def _replay(self, was: float, now: float) -> None:
        batches = readings = 0
        for batch in self.window.batches():
            found = []
            for message in batch:
                found.extend(self.writer._parse(message).readings)
            known = self.writer._devices_known({r.device_id for r in found})
            written = [r for r in found if r.device_id in known]
            self.store.write(written)
            batches += 1
            readings += len(written)
        self.replays += 1
        logger.warning(
            "the readings store restarted (its process started at %s, before at %s) and may have lost writes it had "
            "acknowledged; wrote the replay window again: %d readings in %d batches", _utc(now), _utc(was),
            readings, batches,
        )


def _utc(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def with_replay_window(writer: BatchWriter, store: ReadingsStore, settings: Settings, *,
                       folder: str = "recent") -> BatchWriter | ReplayingWriter:
    """The writer to use: with a replay window when the store can tell that it restarted and the window is on.

    ``folder`` (under the spool directory) must be the writer's own: each process keeps its own window.
    """
    if settings.ingest_replay_window_s <= 0 or not tells_restarts(store):
        return writer
    return ReplayingWriter(writer, store, ReplayWindow(settings.spool_dir / folder, settings.ingest_replay_window_s))
