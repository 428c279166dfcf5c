"""What passes between the ingestor and its worker: raw messages in, results out (kept light to import)."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from typing import NamedTuple, Protocol

#: A :class:`RawMessage` as the ingestor sends it to its worker: ``(topic, payload, received_at)``.
RawItem = tuple[str, bytes, float]


class RawMessage(NamedTuple):
    """One MQTT message as received: what the writer needs, nothing of the connection.

    The ingestor sends plain ``(topic, payload, received_at)`` tuples to its worker
    (ten times cheaper to pickle than objects); ``RawMessage(*item)`` reads one.
    """

    topic: str
    payload: bytes
    received_at: float  # epoch seconds of arrival

    @property
    def received(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.received_at, dt.UTC)


@dataclasses.dataclass
class BatchResult:
    """What writing one batch did, for the ingestor's counters."""

    stored: int = 0
    duplicates: int = 0
    rejected: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    seconds: float = 0.0
    ignored: int = 0  # messages of other systems that carry no reading (joins, status, bridge messages)
    spooled: int = 0  # messages put in the spool because the store could not take them
    spool_depth: int = 0  # messages waiting in the spool after this batch
    #: Per device (native topics), the highest ``seq`` now in the store: the end-to-end acknowledgement
    #: the ingestor publishes on ``<prefix>/<id>/stored`` (readings only spooled are not in it).
    stored_seq: dict[str, int] = dataclasses.field(default_factory=dict)

    def add(self, other: BatchResult) -> BatchResult:
        """Counts of both (spool depth from ``other``, the later of the two)."""
        stored_seq = dict(self.stored_seq)
        for device_id, seq in other.stored_seq.items():
            stored_seq[device_id] = max(seq, stored_seq.get(device_id, seq))
        return BatchResult(
            self.stored + other.stored,
            self.duplicates + other.duplicates,
            self.rejected + other.rejected,
            self.seconds + other.seconds,
            self.ignored + other.ignored,
            self.spooled + other.spooled,
            other.spool_depth,
            stored_seq=stored_seq,
        )


class Writer(Protocol):
    """What makes batches durable: :class:`ingest.writer.BatchWriter`, or it with a replay window
    (:class:`ingest.replay.ReplayingWriter`)."""

    def write(self, batch: list[RawMessage]) -> BatchResult:
        """Store ``batch``; returns only once it is durable (or raises)."""
        ...

    def reachable(self) -> bool:
        """True if the app database and the readings store both answer now (an outage probe)."""
        ...
