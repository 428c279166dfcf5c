"""Benchmark the simulator: estate physics, message generation, and publishing to a real Mosquitto.

Usage::

    .venv/bin/python bench/bench_simulator.py [--homes 50] [--days 30] [--publish] [--url mqtt://...]

Without ``--url`` the publish step starts its own Mosquitto (``core.mqtt.MosquittoBroker``)
in a temporary directory. Prints one line per figure; CPU time is given beside wall time
because wall time on a shared machine depends on what else is running.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import tempfile
import time
from pathlib import Path

from core.mqtt import MosquittoBroker
from simulator import build_estate, publish, simulate


class _Timer:
    def __enter__(self) -> _Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=50)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--publish", action="store_true", help="also publish every message (QoS 1)")
    parser.add_argument("--url", help="broker URL; by default a Mosquitto is started for the run")
    parser.add_argument("--max-inflight", type=int, default=1000)
    args = parser.parse_args()

    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    with _Timer() as t_sim:
        estate = build_estate(args.seed, args.homes)
        sim = simulate(estate, start, days=args.days)
    print(
        f"simulate: {args.homes} homes x {args.days:g} days: {t_sim.wall:.2f} s wall, {t_sim.cpu:.2f} s CPU"
    )
    with _Timer() as t_msg:
        n_messages = n_bytes = 0
        for _, payload in sim.iter_messages():
            n_messages += 1
            n_bytes += len(payload)
    print(
        f"messages: {n_messages} ({n_bytes / 1e6:.1f} MB) generated in {t_msg.wall:.2f} s wall, "
        f"{t_msg.cpu:.2f} s CPU ({n_messages / t_msg.wall:,.0f} msg/s)"
    )
    with _Timer() as t_exp:
        expected = sim.expected
    print(f"expected: {len(expected)} readings in {t_exp.wall:.2f} s; rejections {sim.expected_rejections}")
    if not args.publish:
        return
    with contextlib.ExitStack() as stack:
        url = args.url
        if url is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = stack.enter_context(MosquittoBroker(tmp)).url
        with _Timer() as t_pub:
            stats = publish(sim.iter_messages(), url, max_inflight=args.max_inflight)
    print(
        f"publish: {stats.published} messages QoS 1 to {url} in {stats.elapsed_s:.1f} s: "
        f"{stats.rate_per_s:,.0f} msg/s ({t_pub.cpu / stats.published * 1e6:.0f} us CPU per message, "
        f"generation included)"
    )


if __name__ == "__main__":
    main()
