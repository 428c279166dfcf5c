"""Retained messages replayed on (re)subscription are not new readings.

A broker sends a topic's retained message to every new subscription, with the
retain flag set; the ingestor subscribes again each time it connects. A bridge
that publishes retained state (Zigbee2MQTT with ``retain: true``, a last will on
a status topic) would otherwise have its last message stored again, as a new
reading stamped with the ingest time, on every restart.

The ingestor remembers, per topic, a digest of the last message it received
(live messages at once; retained ones only once their batch is durable, so a
crash can never make it skip a message it did not store). A message that
arrives with the retain flag and equals the remembered one is a replay: it is
acknowledged and counted (``dampwatch_ingest_retained_ignored``), not stored. A
retained message that differs (published while the ingestor was away and not
queued for it, or the first one ever seen) is new and is stored as usual.

The memory is a JSON file in the spool folder, written every
:data:`SAVE_INTERVAL_S` while it changes and when the ingestor stops; it holds at
most :data:`MAX_TOPICS` topics (the least recently seen are forgotten first).
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

RETAINED_FORMAT_VERSION = 1
#: Topics remembered at most (a bridge's devices, a fleet's status topics).
MAX_TOPICS = 100_000
#: How often a changed memory is written to disk.
SAVE_INTERVAL_S = 30.0


def digest(payload: bytes) -> int:
    """A cheap fingerprint of a payload (CRC-32 and length): enough to tell "the same as last time"."""
    return (zlib.crc32(payload) << 24) ^ len(payload)


class RetainedFilter:
    """Decides whether a message is a retained replay; remembers what was made durable."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._last: dict[str, int] = {}
        self._unsaved = False
        self._next_save = clock() + SAVE_INTERVAL_S
        self._waiting: list[tuple[str, int]] = []  # retained messages of the batch being filled
        self._in_flight: dict[int, list[tuple[str, int]]] = {}
        self._load()

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            if document.get("version") != RETAINED_FORMAT_VERSION:
                raise ValueError(f"version {document.get('version')!r}")
            self._last = {str(topic): int(value) for topic, value in document["topics"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("cannot read %s (%s); retained messages received next are stored as new", self.path, exc)
            self._last = {}

    def is_replay(self, topic: str, payload: bytes, retain: bool) -> bool:
        """True for a retained message equal to the last one seen on its topic (acknowledge it, do not store it)."""
        value = digest(payload)
        if retain:
            if self._last.get(topic) == value:
                return True
            self._waiting.append((topic, value))
            return False
        self._remember(topic, value)
        return False

    def dispatched(self, batch_id: int) -> None:
        """The batch being filled was handed to the writer as ``batch_id``."""
        if self._waiting:
            self._in_flight[batch_id] = self._waiting
            self._waiting = []

    def durable(self, batch_id: int) -> None:
        """``batch_id`` is in the store: its retained messages are remembered from now on."""
        for topic, value in self._in_flight.pop(batch_id, ()):
            self._remember(topic, value)

    def dropped(self, batch_id: int) -> None:
        """``batch_id`` was not written (it will be redelivered): forget its retained messages."""
        self._in_flight.pop(batch_id, None)

    def _remember(self, topic: str, value: int) -> None:
        if self._last.get(topic) == value:
            return
        self._last.pop(topic, None)  # re-insert: dict order is recency order
        self._last[topic] = value
        if len(self._last) > MAX_TOPICS:
            del self._last[next(iter(self._last))]
        self._unsaved = True

    def maybe_save(self) -> None:
        """Write the memory if it changed and :data:`SAVE_INTERVAL_S` has passed."""
        if self._unsaved and self._clock() >= self._next_save:
            self.save()

    def save(self) -> None:
        """Write the memory now (atomically); a failure is logged, never raised."""
        self._next_save = self._clock() + SAVE_INTERVAL_S
        if self.path is None or not self._unsaved:
            return
        tmp = self.path.with_name(self.path.name + ".new")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"version": RETAINED_FORMAT_VERSION, "topics": self._last}), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            logger.warning("cannot write %s (%s); will try again", self.path, exc.strerror)
            return
        self._unsaved = False
