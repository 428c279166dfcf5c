"""Dashboard under concurrency: signed-in clients against a real ``dampwatch serve`` (waitress) for a while.

    .venv/bin/python bench/dashboard_concurrency.py                    # 20 clients, 60 s, think time 0
    .venv/bin/python bench/dashboard_concurrency.py --think-ms 1000    # each client pauses ~1 s between pages
    .venv/bin/python bench/dashboard_concurrency.py --threads 4        # waitress threads (default: serve's)
    .venv/bin/python bench/dashboard_concurrency.py --processes 2      # two serve processes, clients shared
                                                                       # between them (as a reverse proxy would)
    .venv/bin/python bench/dashboard_concurrency.py --serve-processes 2  # one dampwatch serve --processes 2

It uses the estate ``bench/dashboard_latency.py`` builds (``var/bench/dashboard/``, 100 000 homes; build it
first), starts ``dampwatch serve`` on a free loopback port as its own process with production settings
(CSRF, CSP; the session cookie not Secure, as the run is plain http on loopback), signs in ``--clients``
officers' browsers through the real sign-in form, and lets each walk the workspace until the time is up:
the risk list (random pages, and filtered), estate pages, the portfolio summary, property pages with their
chart data. Each client waits for an answer before asking again, then pauses ``--think-ms`` (uniformly 0.5×
to 1.5×; 0: no pause at all, the harshest load).

It prints the requests per second, p50/p95/p99 of the answer time (as the client saw it, over loopback),
every error (a status other than 200, or no answer), and how many times waitress warned that its task queue
was deep (requests waiting for a free thread), then PASS or FAIL against issue 16's target: p95 under 300 ms
with no error. The machine's load average is printed with it: other programs on the machine slow the server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.dashboard_latency import OFFICER_EMAIL, PASSWORD  # noqa: E402

TARGET_P95_MS = 300.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(folder: Path, port: int, threads: int | None, serve_processes: int = 1) -> subprocess.Popen:
    env = {**os.environ, "DAMPWATCH_VAR_DIR": str(folder), "DAMPWATCH_DATABASE_URL": f"sqlite:///{folder}/app.db",
           "DAMPWATCH_READINGS_URL": f"sqlite:///{folder}/readings.db", "DAMPWATCH_WEB_CONFIG": "production",
           "DAMPWATCH_WEB_SECRET_KEY": "bench-concurrency", "DAMPWATCH_WEB_COOKIE_SECURE": "false",
           "DAMPWATCH_WEB_PUBLIC_URL": f"http://127.0.0.1:{port}", "DAMPWATCH_METRICS_PORT": "0"}
    command = [str(REPO / ".venv" / "bin" / "dampwatch"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if threads:
        command += ["--threads", str(threads)]
    if serve_processes > 1:
        command += ["--processes", str(serve_processes)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"dampwatch serve stopped: {server.stderr.read()[-2000:]}")
        try:
            requests.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
            return server
        except requests.ConnectionError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("dampwatch serve did not answer within 60 s")


def _sign_in(session: requests.Session, base: str) -> None:
    page = session.get(f"{base}/sign-in", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    response = session.post(f"{base}/sign-in", data={"email": OFFICER_EMAIL, "password": PASSWORD,
                                                     "csrf_token": token.group(1) if token else ""},
                            allow_redirects=False, timeout=60)
    if response.status_code != 302:
        raise SystemExit(f"signing in failed: {response.status_code}")


def _client(base: str, number: int, meta: dict, sites: list[str], stop: threading.Event, think_ms: float,
            results: list, errors: list, start: threading.Barrier) -> None:
    rng = random.Random(number)
    session = requests.Session()
    _sign_in(session, base)
    homes = list(meta["sampled_uprns"])
    pages = max(1, meta["homes"] // 50)
    start.wait()
    while not stop.is_set():
        draw = rng.random()
        if draw < 0.35:
            urls = [f"/?page={rng.randint(1, pages)}"]
        elif draw < 0.5:
            urls = [f"/?band=high&band=critical&vulnerable=y&page={rng.randint(1, 10)}"]
        elif draw < 0.65:
            urls = ["/portfolio/sites/" + quote(rng.choice(sites))]
        elif draw < 0.75:
            urls = ["/portfolio/"]
        else:  # a home and, as its page's script does, its chart data
            uprn = rng.choice(homes)
            urls = [f"/properties/{uprn}", f"/properties/{uprn}/chart-data.json?days=30"]
        for url in urls:
            started = time.perf_counter()
            try:
                response = session.get(base + url, timeout=60, allow_redirects=False)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {url}")
                results.append((url.split("?")[0].split("/")[1] or "risk list", elapsed))
            except requests.RequestException as exc:
                errors.append(f"{type(exc).__name__} {url}")
        if think_ms:
            stop.wait(rng.uniform(0.5, 1.5) * think_ms / 1000)


def _process_tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc; empty where there is none)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _pss_mb(pids: list[int]) -> float | None:
    """Proportional set size of the processes together (memory shared between forked copies counted once). [MB]"""
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            return None
    return total_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=REPO / "var" / "bench" / "dashboard",
                        help="the estate bench/dashboard_latency.py built")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think-ms", type=float, default=0.0, help="mean pause between a client's pages")
    parser.add_argument("--threads", type=int, default=None, help="waitress threads (default: dampwatch serve's)")
    parser.add_argument("--processes", type=int, default=1,
                        help="dampwatch serve processes; client i uses process i mod N (sticky, like ip_hash)")
    parser.add_argument("--serve-processes", type=int, default=1,
                        help="one dampwatch serve --processes N (copies sharing one port)")
    args = parser.parse_args()
    try:
        meta = json.loads((args.folder / "meta.json").read_text())
    except OSError:
        raise SystemExit(f"no estate in {args.folder}: run bench/dashboard_latency.py first") from None

    import sqlite3

    with sqlite3.connect(f"file:{args.folder / 'app.db'}?mode=ro", uri=True) as connection:
        sites = [row[0] for row in connection.execute("SELECT DISTINCT site FROM property WHERE site IS NOT NULL")]
    ports = [_free_port() for _ in range(args.processes)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    servers = [_start_server(args.folder, port, args.threads, args.serve_processes) for port in ports]
    warnings: list[str] = []
    for server in servers:
        threading.Thread(target=lambda server=server: warnings.extend(server.stderr), daemon=True).start()
    load_before = os.getloadavg()
    results: list[tuple[str, float]] = []
    errors: list[str] = []
    try:
        barrier = threading.Barrier(args.clients + 1)
        stop = threading.Event()
        threads = [threading.Thread(target=_client, args=(bases[number % len(bases)], number, meta, sites, stop,
                                                          args.think_ms, results, errors, barrier), daemon=True)
                   for number in range(args.clients)]
        # Every client signs in first; then all start together and run for --seconds.
        for thread in threads:
            thread.start()
        barrier.wait(timeout=300)
        started = time.monotonic()
        stop.wait(args.seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        elapsed = max(time.monotonic() - started, 1e-9)
        trees = [_process_tree(server.pid) for server in servers]
        memory_mb = _pss_mb([pid for tree in trees for pid in tree])
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    load_after = os.getloadavg()
    times = sorted(ms for _, ms in results)
    queue_warnings = sum("task queue depth" in line.lower() for line in warnings)
    if not times:
        raise SystemExit("no request was answered")

    def pct(q: float) -> float:
        return times[min(len(times) - 1, math.ceil(q * len(times)) - 1)]

    p95 = pct(0.95)
    print(f"{args.clients} signed-in clients for {args.seconds:.0f} s against dampwatch serve "
          f"({args.processes} serve(s) x {args.serve_processes} process(es), threads {args.threads or 'default'}), think time {args.think_ms:.0f} ms, {meta['homes']:,} homes")
    print(f"requests {len(times)}, {len(times) / elapsed:.1f} req/s; answer time p50 {statistics.median(times):.0f} ms,"
          f" p95 {p95:.0f} ms, p99 {pct(0.99):.0f} ms; errors {len(errors)}; waitress task-queue warnings "
          f"{queue_warnings}")
    by_kind: dict[str, list[float]] = {}
    for kind, ms in results:
        by_kind.setdefault(kind, []).append(ms)
    for kind, values in sorted(by_kind.items()):
        values.sort()
        print(f"  {kind:<12} {len(values):>6} requests, p50 {statistics.median(values):.0f} ms, "
              f"p95 {values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]:.0f} ms")
    for error in errors[:10]:
        print(f"  error: {error}")
    if memory_mb is not None:
        print(f"memory of the dashboard's {sum(map(len, trees))} process(es) after the run: {memory_mb:.0f} MB "
              "(proportional set size: pages the forked copies share counted once)")
    print(f"{os.cpu_count()} processors; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    passed = p95 < TARGET_P95_MS and not errors
    print(f"Target (issue 16): p95 under {TARGET_P95_MS:.0f} ms with no error: {'PASS' if passed else 'FAIL'}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
