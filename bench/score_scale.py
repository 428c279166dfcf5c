"""Benchmark the scoring core at estate scale: full scoring over 90 days, then a one-day incremental update.

Usage::

    .venv/bin/python bench/score_scale.py [--n 1000 10000 100000] [--workers 2] [--chunk 2000]

For each N, hourly data for N properties × 3 rooms (a bathroom, a kitchen, a bedroom) × 90 days is made in
memory, batch by batch (``--chunk`` properties), and fed as arrays to :func:`analytics.scoring.score_rooms`:
the same core ``dampwatch score`` runs on each batch (day summaries with the VTT mould index, the 14-day
window, scores, bands, causes). The readings store, the app database and the wording of reasons are not
part of the timing; data generation is timed separately. Batches run in ``--workers`` processes.

Then every batch is updated by one more day (24 hours plus the 3 hours of context) from the mould state and
day rows the full run left: the incremental path. Prints seconds, room-hours per second and peak resident
memory (the largest process, and parent plus workers) for each N; also the CPU seconds the workers spent
(they do not grow when other programs share the machine, as wall time does) and the load average.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from analytics.features import CONTEXT_HOURS, WINDOW_DAYS, HourlyConditions
from analytics.risk import RoomTable
from analytics.scoring import DAY_ROWS_KEPT, score_rooms

DAYS = 90
ROOM_TYPES = ("bathroom", "kitchen", "bedroom")
PROFILES = 64
HOUR0 = 20_200 * 24  # 2025-04-22 00:00 UTC; the season does not change the cost


def _profiles(days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bank of hourly room climates, (hours, PROFILES × 3 rooms), from a fixed seed: some dry, some damp."""
    rng = np.random.default_rng(7)
    hours = days * 24 + CONTEXT_HOURS
    t = np.arange(hours)
    daily = np.sin(2 * np.pi * (t % 24 - 9) / 24)
    temp = np.empty((hours, PROFILES * 3), dtype=np.float32)
    rh = np.empty_like(temp)
    rh_max = np.empty_like(temp)
    for p in range(PROFILES):
        damp = p % 4 == 0
        for r in range(3):
            column = 3 * p + r
            base_t = rng.uniform(15.0, 21.0) + 1.5 * daily + rng.normal(0, 0.4, hours)
            base_rh = (rng.uniform(68, 82) if damp else rng.uniform(45, 60)) - 3 * daily + rng.normal(0, 1.5, hours)
            peaks = np.zeros(hours)
            if r < 2:  # showers and cooking: a peak most days, decaying over a few hours
                for s in np.flatnonzero(rng.random(hours) < 0.05):
                    decay = np.exp(-np.arange(6) / rng.uniform(0.5, 3.0)) * rng.uniform(10, 25)
                    peaks[s: s + 6] += decay[: hours - s]
            temp[:, column] = base_t
            rh[:, column] = np.clip(base_rh + peaks, 5, 100)
            rh_max[:, column] = np.clip(rh[:, column] + np.abs(rng.normal(0, 2, hours)) + peaks * 0.3, 5, 100)
    return temp, rh, rh_max


def _outdoor(hours: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(hours)
    return (6.0 + 4.0 * np.sin(2 * np.pi * (t % 24 - 9) / 24)).astype(np.float32), np.full(hours, 85.0, np.float32)


def _chunk_conditions(chunk: int, properties: int, first_hour: int, hours: int) -> HourlyConditions:
    """Conditions of one batch: profiles from the bank, shifted per room so that no two rooms are equal.

    The arrays are made hour-major, (hours, rooms), and handed over as their (rooms, hours) transposes, as
    :func:`analytics.registry.read_room_hours` does.
    """
    temp_bank, rh_bank, max_bank = _BANK
    rng = np.random.default_rng(chunk)
    columns = (3 * rng.integers(0, PROFILES, properties)[:, None] + np.arange(3)).ravel()
    window = slice(first_hour, first_hour + hours)
    shift = rng.normal(0.0, 1.0, properties * 3).astype(np.float32)
    temp = temp_bank[window].take(columns, axis=1)
    temp += shift
    shift *= 2.0
    rh = rh_bank[window].take(columns, axis=1)
    rh += shift
    rh_max = max_bank[window].take(columns, axis=1)
    rh_max += shift
    out_t, out_rh = _OUTDOOR
    shape = (properties * 3, hours)
    t_out = np.broadcast_to(out_t[window][:, None], shape[::-1]).T
    rh_out = np.broadcast_to(out_rh[window][:, None], shape[::-1]).T
    return HourlyConditions(temp.T, rh.T, rh_max.T, t_out, rh_out, np.ones(shape[::-1], dtype=bool).T, CONTEXT_HOURS)


_BANK: tuple[np.ndarray, ...] = ()
_OUTDOOR: tuple[np.ndarray, ...] = ()


def _init() -> None:
    global _BANK, _OUTDOOR
    _BANK = _profiles(DAYS + 1)
    _OUTDOOR = _outdoor((DAYS + 1) * 24 + CONTEXT_HOURS)


def _table(properties: int) -> RoomTable:
    return RoomTable(np.repeat(np.arange(properties), 3), np.tile(np.array(ROOM_TYPES), properties), properties)


def _full(chunk: int, properties: int, state_dir: str) -> tuple[float, float, int, int]:
    """Score one batch over 90 days; keep its state; return (generate CPU s, score CPU s, room-hours, peak RSS).

    CPU seconds of the worker process, not wall time: on a shared machine they do not grow with the load.
    """
    started = time.process_time()
    conditions = _chunk_conditions(chunk, properties, 0, DAYS * 24 + CONTEXT_HOURS)
    generated = time.process_time()
    # As 'dampwatch score --full': only the day rows that are kept (the last 28) are summarised.
    result = score_rooms(conditions, 0.75, _table(properties), first_kept_day=DAYS - DAY_ROWS_KEPT)
    scored = time.process_time()
    np.savez(Path(state_dir) / f"{chunk}.npz", index=result.state_index, dry=result.state_dry_hours,
             days=result.days[:, -(WINDOW_DAYS - 1):], bands=result.assessment.band)
    return generated - started, scored - generated, properties * 3 * DAYS * 24, _rss_kb()


def _incremental(chunk: int, properties: int, state_dir: str) -> tuple[float, float, int, int]:
    """Update one batch by one day from its kept state (CPU seconds, as :func:`_full`)."""
    kept = np.load(Path(state_dir) / f"{chunk}.npz")
    started = time.process_time()
    conditions = _chunk_conditions(chunk, properties, DAYS * 24, 24 + CONTEXT_HOURS)
    generated = time.process_time()
    score_rooms(conditions, 0.75, _table(properties), kept["index"], kept["dry"], kept["days"])
    scored = time.process_time()
    return generated - started, scored - generated, properties * 3 * 24, _rss_kb()


def _rss_kb(_: object = None) -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run(pool: cf.Executor, job, n: int, chunk: int, state_dir: str) -> tuple[float, float, float, int, int]:
    sizes = [min(chunk, n - start) for start in range(0, n, chunk)]
    started = time.perf_counter()
    results = list(pool.map(job, range(len(sizes)), sizes, [state_dir] * len(sizes)))
    wall = time.perf_counter() - started
    generate = sum(r[0] for r in results)
    score = sum(r[1] for r in results)
    return wall, generate, score, sum(r[2] for r in results), max(r[3] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="numbers of properties")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)")
    parser.add_argument("--chunk", type=int, default=2_000, help="properties per batch")
    args = parser.parse_args()
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"scoring core, {DAYS} days x 3 rooms per property, batches of {args.chunk} properties, "
          f"{args.workers} worker process(es)")
    with cf.ProcessPoolExecutor(args.workers, initializer=_init) as pool:
        list(pool.map(_rss_kb, range(args.workers)))  # start the workers (and build their profile banks)
        for n in args.n:
            with tempfile.TemporaryDirectory() as state_dir:
                wall, generate, score, room_hours, rss = _run(pool, _full, n, args.chunk, state_dir)
                print(f"N={n:>7,}  full 90 days : {wall:7.2f} s wall ({score:7.2f} CPU s scoring + {generate:6.2f} "
                      f"CPU s generating, summed over workers; {(score + generate) / args.workers:6.2f} s divided "
                      f"among them, the wall time on {args.workers} idle core(s) when the batches spread evenly), {room_hours / wall / 1e6:6.2f} M "
                      f"room-hours/s, peak RSS per worker {rss / 1024:,.0f} MB")
                wall, generate, score, room_hours, rss = _run(pool, _incremental, n, args.chunk, state_dir)
                print(f"N={n:>7,}  incremental 1 day: {wall:7.2f} s wall ({score:7.2f} CPU s scoring + {generate:6.2f} "
                      f"CPU s generating), {room_hours / wall / 1e6:6.2f} M room-hours/s, "
                      f"peak RSS per worker {rss / 1024:,.0f} MB")
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"peak RSS: parent {parent / 1024:,.0f} MB, largest worker {children / 1024:,.0f} MB, "
          f"total at most {(parent + args.workers * children) / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
