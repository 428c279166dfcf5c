"""Data errors apart from outages: which failures send a batch to the spool, and how a poison message is cut out.

Only a store or app database that cannot be *reached* is an outage: the batch
waits in the spool and everything after it queues behind. Any other failure is
a **data error** tied to some message(s) of the batch: :func:`write_isolating`
then writes the batch in halves, down to single messages, so every good message
is stored and only a message that fails on its own is set aside, whole, in the
quarantine (:mod:`ingest.quarantine`) with the reason. Either way the batch is
durable afterwards and its messages may be acknowledged.

How a failure is judged (:func:`is_outage`):

- exceptions that are not I/O or database errors (``ValueError``, ``TypeError``,
  ``OverflowError``, ``UnicodeEncodeError``, …) are data errors: a message
  carried them in;
- SQLAlchemy's ``DataError``, ``IntegrityError``, ``ProgrammingError``,
  ``CompileError`` and statement errors raised before reaching the database
  are data errors;
- a database or store message that names a data limit (too many SQL variables,
  a string too big, an invalid value, HTTP 400/413/422) is a data error; one that
  names a lock, a timeout, a refused or lost connection, a full or read-only disk
  is an outage;
- a missing table or column, or a permission refused, is the set-up's fault: an
  outage (spooled until someone fixes it), whatever its type;
- anything else is judged by a probe: if the app database answers a query on
  the tables ingest writes and the store answers a read now, the failure was the
  batch's, not theirs.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import DampWatchError
from ingest.batch import BatchResult, RawMessage, Writer

if TYPE_CHECKING:
    from ingest.quarantine import Quarantine

logger = logging.getLogger(__name__)

#: Attribute the writer sets on an exception to name the part that failed (read back by :func:`failure_text`).
PART_ATTRIBUTE = "dampwatch_part"

#: Reason label counted in ``dampwatch_ingest_rejected`` for messages set aside in the quarantine.
QUARANTINED = "quarantined"

_DATA_WORDS = (
    "too many sql variables", "string or blob too big", "too many terms", "expression tree is too large",
    "too many columns", "value too long", "out of range", "invalid input", "cannot contain nul", "0x00",
    "surrogates not allowed", "invalid byte sequence", "numeric field overflow", "http 400", "http 413",
    "http 422", "bad request", "payload too large", "unprocessable",
)
#: Failures of the set-up, not of a message (a database not migrated, a user without rights): outages.
_SETUP_WORDS = (
    "no such table", "no such column", "does not exist", "undefined table", "undefinedtable", "undefined column",
    "permission denied", "insufficient privilege", "authentication", "password", "http 401", "http 403",
    "http 404", "unauthorized", "forbidden",
)
_OUTAGE_WORDS = (
    "locked", "busy", "disk i/o", "unable to open", "connect", "timeout", "timed out", "refused", "unreachable",
    "closed", "reset by peer", "broken pipe", "no space", "disk full", "read-only", "readonly", "terminat",
    "shutdown", "shutting down", "not ready", "temporarily", "http 5", "service unavailable", "eof",
    "name or service not known", "no route", "too many connections", "server",
)


def failure_text(exc: BaseException) -> str:
    """What a failure says, without the SQL statement and parameters SQLAlchemy appends (which carry payload text),
    prefixed with the part that failed when the writer named it (``app database: OperationalError: ...``)."""
    orig = getattr(exc, "orig", None)
    text = str(orig) if orig is not None else str(exc)
    if orig is not None:  # the driver's first line; psycopg goes on with the statement ("LINE 1: INSERT ...")
        text = getattr(getattr(orig, "diag", None), "message_primary", None) or (text.splitlines() or [""])[0]
    part = getattr(exc, PART_ATTRIBUTE, None)
    return f"{part + ': ' if part else ''}{type(exc).__name__}: {text[:500]}"


def name_failed_part(exc: BaseException, part: str) -> None:
    """Tag ``exc`` (any library's exception) with the part that failed, e.g. ``"app database"``, for the logs."""
    setattr(exc, PART_ATTRIBUTE, part)


def is_outage(exc: BaseException, probe: Callable[[], bool]) -> bool:
    """True if ``exc`` means the store or app database cannot be reached (spool the batch); False for a data error."""
    from sqlalchemy import exc as sa_exc

    if not isinstance(exc, DampWatchError | OSError | sa_exc.SQLAlchemyError):
        return False
    text = failure_text(exc).lower()
    if any(word in text for word in _SETUP_WORDS):
        return True
    if isinstance(
        exc,
        sa_exc.DataError | sa_exc.IntegrityError | sa_exc.ProgrammingError | sa_exc.NotSupportedError
        | sa_exc.CompileError | sa_exc.ArgumentError,
    ):
        return False
    if isinstance(exc, sa_exc.StatementError) and not isinstance(exc, sa_exc.DBAPIError):
        return False  # a parameter could not even be converted: that is the value's fault
    if any(word in text for word in _DATA_WORDS):
        return False
    if isinstance(exc, ConnectionError | TimeoutError) or any(word in text for word in _OUTAGE_WORDS):
        return True
    try:
        reachable = probe()
    except Exception:  # a probe that fails is the answer
        reachable = False
    return not reachable


def write_isolating(
    writer: Writer,
    batch: list[RawMessage],
    quarantine: Quarantine,
    outage: Callable[[BaseException], bool],
) -> tuple[BatchResult, list[RawMessage]]:
    """Write ``batch`` in ever smaller parts so that only messages failing on their own are set aside.

    Returns what was written and, if an outage began part way, the messages not
    yet written (in order; the caller spools them). Messages that fail alone for
    a data reason go to the quarantine in one file, with their reasons; a
    :class:`ingest.quarantine.QuarantineError` propagates (nothing is acknowledged then).
    """
    result = BatchResult()
    failed: list[tuple[RawMessage, str]] = []
    parts: collections.deque[list[RawMessage]] = collections.deque([batch])
    remaining: list[RawMessage] = []
    while parts:
        part = parts.popleft()
        try:
            result = result.add(writer.write(part))
            continue
        except Exception as exc:  # judged below: outage or data
            if outage(exc):
                remaining = [message for piece in (part, *parts) for message in piece]
                logger.warning("the store or database went away while isolating a bad message (%s); "
                               "%d messages go to the spool", failure_text(exc)[:200], len(remaining))
                break
            if len(part) == 1:
                failed.append((part[0], failure_text(exc)))
                continue
        middle = len(part) // 2
        parts.appendleft(part[middle:])
        parts.appendleft(part[:middle])
    if failed:
        reasons = collections.Counter(reason for _m, reason in failed)
        summary = "; ".join(f"{reason} (×{count})" for reason, count in reasons.most_common(5))
        quarantine.add([message for message, _r in failed],
                       f"{len(failed)} message(s) could not be stored though the store and database answer: {summary}")
        result.rejected[QUARANTINED] += len(failed)
    return result, remaining
