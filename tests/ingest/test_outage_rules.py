"""Which failures are outages (spool the batch) and which are data errors (isolate the message): a table by hand."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa_exc

from core.errors import StoreError
from ingest.isolation import is_outage


def _sa(kind, message: str):
    return kind("INSERT INTO dead_letter ...", {"payload_excerpt": "connection refused locked"}, sqlite3.Error(message))


# (failure, what the probe would answer, outage?) — the probe is consulted only when the failure says neither.
TABLE = [
    (ValueError("this backend cannot hold humidity 13.13"), True, False),
    (OverflowError("int too large to convert to float"), False, False),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), True, False),
    (TypeError("unsupported operand"), False, False),
    (_sa(sa_exc.OperationalError, "database is locked"), True, True),
    (_sa(sa_exc.OperationalError, "unable to open database file"), True, True),
    (_sa(sa_exc.OperationalError, "disk I/O error"), True, True),
    (_sa(sa_exc.OperationalError, "no such table: device"), True, True),
    (_sa(sa_exc.OperationalError, "too many SQL variables"), False, False),
    (_sa(sa_exc.OperationalError, "string or blob too big"), False, False),
    (_sa(sa_exc.OperationalError, "sending query and params failed: number of parameters must be between 0 and "
                                  "65535"), True, False),
    (_sa(sa_exc.OperationalError, "sending query and params failed: number of parameters must be between 0 and "
                                  "65535"), False, True),
    (_sa(sa_exc.OperationalError, "server closed the connection unexpectedly"), True, True),
    (_sa(sa_exc.DataError, "value too long for type character varying(300)"), False, False),
    (_sa(sa_exc.DataError, "A string literal cannot contain NUL (0x00) characters."), False, False),
    (_sa(sa_exc.IntegrityError, "duplicate key value violates unique constraint"), False, False),
    (_sa(sa_exc.ProgrammingError, "could not determine data type of parameter $3"), False, False),
    (_sa(sa_exc.ProgrammingError, 'relation "dead_letter" does not exist'), True, True),
    (_sa(sa_exc.ProgrammingError, "permission denied for table reading"), True, True),
    (StoreError("writing 5 readings to VictoriaMetrics at http://vm:8428 failed: HTTP 400 Bad Request: cannot "
                "parse line"), True, False),
    (StoreError("writing 5 readings to VictoriaMetrics failed: HTTP 413 Request Entity Too Large"), True, False),
    (StoreError("writing 5 readings failed: HTTP 401 Unauthorized; check the token"), True, True),
    (StoreError("writing 5 readings failed 3 times: ConnectionRefusedError: [Errno 111]; check that the server is "
                "running and reachable"), True, True),
    (StoreError("writing 5 readings to '/var/readings.db' failed: database is locked"), True, True),
    (ConnectionRefusedError(111, "Connection refused"), True, True),
    (TimeoutError("timed out"), True, True),
    (StoreError("something nobody foresaw"), True, False),
    (StoreError("something nobody foresaw"), False, True),
]


@pytest.mark.parametrize(("failure", "probe_answers", "outage"), TABLE,
                         ids=[f"{type(row[0]).__name__}-{i}" for i, row in enumerate(TABLE)])
def test_outage_or_data_error(failure, probe_answers, outage):
    """Each failure is judged as the table says; SQL parameters (payload text) never sway the judgement."""
    assert is_outage(failure, lambda: probe_answers) is outage


def test_a_probe_that_raises_means_an_outage():
    """A probe that itself fails says the store or database is not there."""
    def probe() -> bool:
        raise OSError("no route to host")

    assert is_outage(StoreError("something nobody foresaw"), probe) is True
