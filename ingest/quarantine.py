"""Quarantine: messages that fail to store for a data reason, kept whole on disk until a fix lets them in.

The spool (:mod:`ingest.spool`) holds batches the store could not take because it
was *unreachable*; it is replayed in order and everything behind it waits. A
message that cannot be stored although the store and the app database answer
(a data error: a bug, a value a backend refuses) must not wait there for ever,
so the worker moves it here with the reason, acknowledges it, and the pipeline
moves on. A spool file that cannot be read at all is moved here as it is.

``dampwatch quarantine list`` shows what is here; ``dampwatch quarantine replay``
writes it again (after the fix) and removes what went in. Files live in
``<spool_dir>/quarantine/``, one per event, named ``<UTC time>-<n>.jsonl``: a
header line ``{"version", "messages", "reason", "quarantined_at"}``, then one
message per line as in the spool (topic, base64 payload, ``received_at``).
Damaged spool files keep their bytes, renamed ``<UTC time>-<n>.damaged``, with
the reason in a ``.reason`` file beside them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import itertools
import json
import logging
import os
from pathlib import Path

from ingest.batch import RawMessage

logger = logging.getLogger(__name__)

QUARANTINE_FORMAT_VERSION = 1
#: Longest reason text kept with a quarantine file.
REASON_CHARS = 2000


class QuarantineError(OSError):
    """The quarantine folder cannot be written or a file in it cannot be read."""


@dataclasses.dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One quarantine file: what it holds and why it is here."""

    path: Path
    messages: int
    reason: str
    quarantined_at: str
    damaged: bool  # a spool file that could not be read, kept as it was

    @property
    def name(self) -> str:
        return self.path.name


class Quarantine:
    """The quarantine folder beside a spool."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._counter = itertools.count(1)

    def _new_path(self, suffix: str) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        while True:
            path = self.directory / f"{stamp}-{os.getpid()}-{next(self._counter)}{suffix}"
            if not path.exists():
                return path

    def _ensure(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise QuarantineError(f"cannot create the quarantine folder {self.directory}: {exc.strerror}") from exc

    def add(self, messages: list[RawMessage], reason: str) -> Path:
        """Keep ``messages`` durably (written, fsynced, renamed into place) with ``reason``; returns the file."""
        self._ensure()
        path = self._new_path(".jsonl")
        header = {
            "version": QUARANTINE_FORMAT_VERSION,
            "messages": len(messages),
            "reason": reason[:REASON_CHARS],
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        lines = [json.dumps(header)]
        lines += [
            json.dumps({"topic": m.topic, "payload": base64.b64encode(m.payload).decode(), "received_at": m.received_at})
            for m in messages
        ]
        _write_durably(path, ("\n".join(lines) + "\n").encode())
        logger.error("quarantined %d message(s) in %s: %s", len(messages), path, reason[:300])
        return path

    def add_damaged(self, source: Path, reason: str) -> Path:
        """Copy an unreadable spool file here byte for byte, with ``reason`` beside it (the caller removes it)."""
        self._ensure()
        path = self._new_path(".damaged")
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise QuarantineError(f"cannot read {source} to quarantine it: {exc.strerror}") from exc
        _write_durably(path.with_suffix(".reason"), reason[:REASON_CHARS].encode("utf-8", "backslashreplace"))
        _write_durably(path, data)
        logger.error("copied the unreadable spool file %s to %s: %s", source, path, reason[:300])
        return path

    def entries(self) -> list[QuarantineEntry]:
        """Every quarantine file, oldest first."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in sorted(self.directory.iterdir()):
            if path.suffix == ".jsonl":
                try:
                    with open(path, encoding="utf-8") as handle:
                        header = json.loads(handle.readline())
                    out.append(QuarantineEntry(path, int(header["messages"]), str(header["reason"]),
                                               str(header["quarantined_at"]), False))
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    out.append(QuarantineEntry(path, 0, f"unreadable quarantine file ({exc})", "", True))
            elif path.suffix == ".damaged":
                try:
                    reason = path.with_suffix(".reason").read_text(encoding="utf-8", errors="replace")
                except OSError:
                    reason = "(no reason recorded)"
                stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
                out.append(QuarantineEntry(path, 0, reason, stamp, True))
        return out

    def find(self, name: str) -> QuarantineEntry:
        """The entry called ``name`` (a file name as ``list`` shows it)."""
        for entry in self.entries():
            if entry.name == name:
                return entry
        raise QuarantineError(f"no quarantine file {name!r} in {self.directory}; see 'dampwatch quarantine list'")

    def load(self, entry: QuarantineEntry) -> list[RawMessage]:
        """The messages of a quarantine file (damaged spool files are read as spool files, if they can be)."""
        try:
            lines = entry.path.read_text(encoding="utf-8").splitlines()
            json.loads(lines[0])
            return [
                RawMessage(str(item["topic"]), base64.b64decode(item["payload"]), float(item["received_at"]))
                for item in map(json.loads, lines[1:])
                if item
            ]
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise QuarantineError(f"{entry.path} cannot be read ({exc}); it has to be repaired by hand") from exc

    def remove(self, entry: QuarantineEntry) -> None:
        entry.path.unlink(missing_ok=True)
        entry.path.with_suffix(".reason").unlink(missing_ok=True)


def _write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_directory(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise QuarantineError(f"cannot write {path}: {exc.strerror}") from exc


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
