"""The durable spool: batches the store could not take, kept on local disk until it can.

When the readings store (or the app database) is unreachable, the ingest
worker appends the batch here, and the ingestor acknowledges its MQTT messages
only once the file is on disk (written, fsynced, renamed into place). When the
store answers again the spool is replayed oldest first; new batches queue
behind it so readings keep their order. Replaying is idempotent (one reading per
``(device_id, ts)``), so a crash between a replay and the file's removal stores
nothing twice.

One file per batch, ``<sequence>.jsonl``: the first line a header with the
format version and message count, then one JSON object per message with the
topic, the payload (base64) and the time it was received.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

from ingest.batch import RawMessage

logger = logging.getLogger(__name__)

SPOOL_FORMAT_VERSION = 1


class SpoolError(OSError):
    """The spool could not be written or read (disk full, permissions, a damaged file)."""


class Spool:
    """Batches waiting for the store, on disk, in arrival order."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"cannot create the spool folder {self.directory}: {exc.strerror}") from exc
        for leftover in self.directory.glob("*.tmp"):  # a write that never finished was never acknowledged
            leftover.unlink()
        self._files = sorted(self.directory.glob("*.jsonl"))
        self._next = int(self._files[-1].stem) + 1 if self._files else 1
        self.messages = sum(self._count(path) for path in self._files)
        if self._files:
            logger.warning("the spool holds %d messages in %d batches from before; they will be replayed first",
                           self.messages, len(self._files))

    @property
    def batches(self) -> int:
        return len(self._files)

    def __bool__(self) -> bool:
        return bool(self._files)

    @property
    def oldest_path(self) -> Path:
        """The file of the oldest batch (to move it to the quarantine when it cannot be read)."""
        return self._files[0]

    def append(self, batch: list[RawMessage]) -> None:
        """Write ``batch`` durably; only then may its messages be acknowledged."""
        path = self.directory / f"{self._next:012d}.jsonl"
        tmp = path.with_suffix(".tmp")
        lines = [json.dumps({"version": SPOOL_FORMAT_VERSION, "messages": len(batch)})]
        lines += [
            json.dumps(
                {"topic": m.topic, "payload": base64.b64encode(m.payload).decode(), "received_at": m.received_at}
            )
            for m in batch
        ]
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SpoolError(f"cannot write to the spool in {self.directory}: {exc.strerror}") from exc
        self._next += 1
        self._files.append(path)
        self.messages += len(batch)

    def peek(self) -> list[RawMessage]:
        """The oldest batch (without removing it)."""
        path = self._files[0]
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
            header = json.loads(lines[0])
            if header.get("version") != SPOOL_FORMAT_VERSION:
                raise SpoolError(f"{path} is spool format {header.get('version')}, not {SPOOL_FORMAT_VERSION}")
            return [
                RawMessage(item["topic"], base64.b64decode(item["payload"]), item["received_at"])
                for item in map(json.loads, lines[1:])
            ]
        except (OSError, ValueError, KeyError, IndexError) as exc:
            raise SpoolError(f"the spool file {path} cannot be read ({exc}); move it aside to continue") from exc

    def pop(self) -> None:
        """Remove the oldest batch (after it has been written to the store)."""
        path = self._files.pop(0)
        self.messages -= self._count(path)
        path.unlink()

    @staticmethod
    def _count(path: Path) -> int:
        try:
            with open(path, encoding="utf-8") as handle:
                return int(json.loads(handle.readline())["messages"])
        except (OSError, ValueError, KeyError):
            return 0
