"""Dead letters that cannot flood anything: one bounded row per message, a rate-limited log, pruning by age.

A message that cannot be stored (or whose batch holds some bad readings) becomes
**one** dead-letter row, however many bad items it holds: the row's reason is
the commonest one among them, its detail starts with the count of bad items and
their reasons, and it keeps at most :data:`EXCERPT_BYTES` of the payload. So one
64 KiB SenML pack naming 1 356 unregistered devices is one row of a few KiB, not
1 356 rows of 30 KiB. The log line for a dead letter is rate-limited per device
and reason; rows older than the retention setting are pruned by the ingest
worker (hourly) and by ``dampwatch dead-letters prune``.

All text that reaches the database goes through :func:`db_text`: no NUL characters
(PostgreSQL's ``text`` refuses them), no lone surrogates (UTF-8 cannot encode them),
and never longer than its column.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

from sqlalchemy import delete, select

from core.model import DeadLetter

if TYPE_CHECKING:
    from core.db import Database
    from ingest.batch import RawMessage
    from ingest.parse import Rejection

logger = logging.getLogger(__name__)

#: Most of a payload kept with its dead letter (the rest is counted in ``payload_bytes``).
EXCERPT_BYTES = 2048
#: Most of a dead letter's detail text.
DETAIL_CHARS = 1000
#: Column widths of :class:`core.model.DeadLetter` (PostgreSQL enforces them).
TOPIC_CHARS = 300
DEVICE_ID_CHARS = 300
REASON_CHARS = 40
#: Rows deleted per transaction when pruning (keeps locks short on a busy database).
PRUNE_CHUNK_ROWS = 5000
#: One log line per (device, reason) at most this often; the lines in between are counted.
LOG_INTERVAL_S = 60.0
#: (device, reason) pairs remembered by the log limiter before it starts afresh.
LOG_KEYS_MAX = 10_000


def db_text(text: str, limit: int) -> str:
    """``text`` made safe for any database column of ``limit`` characters."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def excerpt(payload: bytes, limit: int = EXCERPT_BYTES) -> str:
    """The start of a payload as safe text: at most ``limit`` bytes of it, invalid UTF-8 escaped."""
    text = payload[:limit].decode("utf-8", errors="backslashreplace")
    return db_text(text, 4 * limit + 1) + ("…" if len(payload) > limit else "")


def summarise(rejections: list[Rejection]) -> tuple[str, str, str | None]:
    """``(reason, detail, device_id)`` of the one dead letter that stands for all of a message's rejections."""
    if len(rejections) == 1:
        only = rejections[0]
        return only.reason, only.detail, only.device_id
    reasons = collections.Counter(r.reason for r in rejections)
    reason = reasons.most_common(1)[0][0]
    first = next(r for r in rejections if r.reason == reason)
    devices = {r.device_id for r in rejections}
    breakdown = ", ".join(f"{name} ×{count}" for name, count in reasons.most_common(5))
    more = f" and {len(reasons) - 5} more reasons" if len(reasons) > 5 else ""
    detail = f"{len(rejections)} bad items in this message ({breakdown}{more}); the first: {first.detail}"
    return reason, detail, first.device_id if len(devices) == 1 else None


class DeadLetterRow(TypedDict):
    """The columns of one :class:`core.model.DeadLetter` row, as inserted."""

    received_at: dt.datetime
    topic: str
    device_id: str | None
    reason: str
    detail: str
    payload_excerpt: str
    payload_bytes: int


def dead_letter_row(message: RawMessage, rejections: list[Rejection]) -> DeadLetterRow:
    """The one row recorded for ``message`` (insert it into :class:`core.model.DeadLetter`)."""
    reason, detail, device_id = summarise(rejections)
    return {
        "received_at": message.received,
        "topic": db_text(message.topic, TOPIC_CHARS),
        "device_id": None if device_id is None else db_text(device_id, DEVICE_ID_CHARS),
        "reason": db_text(reason, REASON_CHARS),
        "detail": db_text(detail, DETAIL_CHARS),
        "payload_excerpt": excerpt(message.payload),
        "payload_bytes": len(message.payload),
    }


@dataclasses.dataclass
class _Window:
    next_at: float
    suppressed: int = 0


class DeadLetterLog:
    """Logs dead letters at most once per ``interval_s`` per (device, reason), saying how many were not logged."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._windows: dict[tuple[str | None, str], _Window] = {}

    def allow(self, key: tuple[str | None, str]) -> bool:
        """True at most once per ``interval_s`` for ``key`` (for other lines that must not flood the log)."""
        now = self._clock()
        window = self._windows.get(key)
        if window is not None and now < window.next_at:
            window.suppressed += 1
            return False
        if len(self._windows) >= LOG_KEYS_MAX:
            self._windows.clear()
        self._windows[key] = _Window(now + self.interval_s)
        return True

    def record(self, topic: str, reason: str, detail: str, device_id: str | None) -> bool:
        """Log one dead letter unless its (device, reason) was logged lately; True if a line was written."""
        now = self._clock()
        key = (device_id, reason)
        window = self._windows.get(key)
        if window is not None and now < window.next_at:
            window.suppressed += 1
            return False
        if len(self._windows) >= LOG_KEYS_MAX:
            self._windows.clear()
        suppressed = window.suppressed if window is not None else 0
        self._windows[key] = _Window(now + self.interval_s)
        logger.info(
            "dead letter %s from %s on %s: %s%s",
            reason, device_id or "an unknown sender", db_text(topic, 120), db_text(detail, 200),
            f" ({suppressed} more like it in the last {self.interval_s:g} s)" if suppressed else "",
        )
        return True


def prune_dead_letters(
    database: Database, retention_days: float, *, now: dt.datetime | None = None, chunk_rows: int = PRUNE_CHUNK_ROWS
) -> int:
    """Delete dead letters received more than ``retention_days`` ago; returns how many went.

    ``retention_days`` of 0 keeps them for ever. Deletes in chunks of
    ``chunk_rows`` so a large backlog never holds a long lock.
    """
    if retention_days <= 0:
        return 0
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=retention_days)
    removed = 0
    while True:
        with database.engine.begin() as conn:
            ids = conn.scalars(
                select(DeadLetter.id).where(DeadLetter.received_at < cutoff).order_by(DeadLetter.id).limit(chunk_rows)
            ).all()
            if not ids:
                break
            conn.execute(delete(DeadLetter).where(DeadLetter.id.in_(ids)))
        removed += len(ids)
        if len(ids) < chunk_rows:
            break
    if removed:
        logger.info("pruned %d dead letters received before %s", removed, cutoff.isoformat(timespec="seconds"))
    return removed
