"""How long the Awaab's Law export and the period's return take for an estate's cases (SQLite app database).

Usage: python bench/awaab_returns.py [--cases 2000]

Builds a throwaway SQLite app database with that many homes, each with a case (a third investigated, made safe
and closed; hazards of three kinds), then times ``core.awaab_model.export_cases`` (JSON and CSV) and
``core.returns.period_return`` for the year. Prints the figures; no pass/fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import time_machine

from core.awaab_model import export_cases
from core.cases import close_case, open_case, record_step
from core.db import Database
from core.model import Property
from core.returns import period_return, return_csv

HAZARDS = ("damp_and_mould", "excess_cold", "excess_heat")


def build(database: Database, cases: int) -> None:
    start = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC), tick=False), \
            database.session() as session:
        for i in range(cases):
            uprn = str(100000 + i)
            session.add(Property(uprn=uprn, address=f"{i} Bench Street", postcode="LS6 1AB"))
            session.flush()
            aware = start + dt.timedelta(hours=3 * i)
            case = open_case(session, uprn=uprn, aware_at=aware, source="alarm", actor="bench",
                             hazards=[{"hazard": HAZARDS[i % 3], "severity": ("high", "medium", "low")[i % 3]}])
            if i % 3 == 0:
                record_step(session, case, "investigate", aware + dt.timedelta(days=4), "bench")
                record_step(session, case, "make_safe", aware + dt.timedelta(days=8), "bench")
                close_case(session, case, actor="bench", reason="done", at=aware + dt.timedelta(days=20))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
        began = time.perf_counter()
        build(database, args.cases)
        print(f"built {args.cases} cases in {time.perf_counter() - began:.1f} s")
        now = dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.UTC)
        with database.session() as session:
            began = time.perf_counter()
            export = export_cases(session, now=now)
            text = export.to_json()
            json_s = time.perf_counter() - began
            began = time.perf_counter()
            files = export.to_csv()
            csv_s = time.perf_counter() - began
        with database.session() as session:
            began = time.perf_counter()
            result = period_return(session, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
            return_csv(result)
            return_s = time.perf_counter() - began
        rows = sum(len(v) for v in export.entities.values())
        print(f"export_cases + JSON: {json_s:.2f} s ({rows} rows, {len(text) / 1e6:.1f} MB)")
        print(f"CSV of the same: {csv_s:.2f} s ({sum(len(t) for t in files.values()) / 1e6:.1f} MB)")
        print(f"period_return for 2026: {return_s:.2f} s ({result.cases} cases)")
        database.dispose()


if __name__ == "__main__":
    main()
