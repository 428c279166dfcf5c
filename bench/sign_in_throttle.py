"""How long the sign-in delay check takes when the audit log is full of failed attempts (a spraying attack).

Fills a fresh SQLite app database with N failed sign-ins within the last 15 minutes (from 1 000 addresses
against 5 000 accounts) plus older history, then times ``wait_before_attempt`` (the two counts every sign-in
makes before checking a password). Prints the median and 95th percentile. Usage:
``python bench/sign_in_throttle.py [--failures 200000] [--folder DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from core.db import Database
from core.model import AuditEvent
from dashboard.views.auth import wait_before_attempt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=200_000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="dampwatch-throttle-"))
    database = Database(f"sqlite:///{folder}/app.db")
    now = dt.datetime.now(dt.UTC)
    rows = [{"at": now - dt.timedelta(seconds=(i % 900) + 0.5), "actor": f"person{i % 5000}@example.org",
             "action": "auth.sign_in_failed", "object_type": "user", "ip": f"203.0.{(i // 256) % 4}.{i % 250}",
             "detail": {"reason": "wrong password"}} for i in range(args.failures)]
    rows += [{"at": now - dt.timedelta(days=1 + i % 300), "actor": "officer@example.org", "action": "case.opened",
              "object_type": "case", "ip": "192.0.2.1", "detail": {}} for i in range(args.failures)]
    with database.session() as session:
        for start in range(0, len(rows), 20_000):
            session.execute(insert(AuditEvent), rows[start:start + 20_000])
    timings = []
    with database.session() as session:
        for i in range(200):
            began = time.perf_counter()
            wait_before_attempt(session, f"person{i}@example.org", f"203.0.0.{i % 250}", now, known_device=False)
            timings.append((time.perf_counter() - began) * 1000)
    timings.sort()
    print(f"audit rows: {len(rows):,} ({args.failures:,} failed sign-ins in the last 15 minutes)")
    print(f"wait_before_attempt: median {statistics.median(timings):.1f} ms, "
          f"p95 {timings[int(len(timings) * 0.95)]:.1f} ms over {len(timings)} calls")
    database.dispose()


if __name__ == "__main__":
    main()
