"""Serving the dashboard: figures computed ahead, and several processes behind one listening socket.

Python runs one thread of Python at a time per process, so waitress's threads share one processor's worth of
work: on a machine with several cores, ``dampwatch serve --processes N`` forks N copies of the server after
binding the port once; every copy accepts from the same listening socket (the kernel hands each new
connection to one of them), so no reverse proxy or new dependency is needed. The parent only watches: it
starts a copy again if one dies, and stops them all on Ctrl-C or SIGTERM.

The portfolio summary's figures take seconds on 100 000 homes when the data has changed, and the whole
risk list's order (every home, by score) most of a second. They are computed
before the port is opened (in the parent, so every forked copy starts with them) and kept fresh by a
background thread in each copy (:class:`Refresher`), which looks at the cheap data version every few
seconds and computes the figures again when it moved or the hour turned; a request only pays for them if it
comes in the seconds between a change and the refresher noticing.

Forking needs ``os.fork`` (Linux, the BSDs, macOS); elsewhere ``--processes`` above 1 is refused with a
clear message. Nothing is left open across the fork: the database engine and the readings store are closed
first and each copy opens its own connections.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds between the refresher's looks at the data version (five indexed look-ups, a few ms).
REFRESH_INTERVAL_S = 5.0
#: Seconds a stopping copy gets before it is killed.
STOP_GRACE_S = 10.0


class ServingError(Exception):
    """The dashboard cannot be served as asked; the message says how to fix it."""


def warm(database) -> float:
    """Compute (or find kept) the portfolio summary's figures and the whole risk list's order; the seconds."""
    from dashboard import portfolio, queries

    started = time.perf_counter()
    with database.session() as session:
        portfolio.summary_figures(session, dt.datetime.now(dt.UTC))
        queries.warm_risk_list(session)
    return time.perf_counter() - started


class Refresher:
    """A daemon thread keeping the portfolio summary's figures computed ahead of the requests."""

    def __init__(self, database, interval_s: float = REFRESH_INTERVAL_S) -> None:
        self.database = database
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dampwatch-refresher", daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_GRACE_S)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                took = warm(self.database)
            except Exception:  # a database hiccup must not end the thread; the next look tries again
                logger.warning("could not refresh the portfolio summary's figures", exc_info=True)
                continue
            if took > 0.5:
                logger.info("portfolio summary's figures computed ahead in %.1f s", took)


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A bound, listening, non-blocking TCP socket on ``host:port`` (``port`` 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog, reuse_port=False)
    sock.setblocking(False)
    return sock


def _close_connections(context) -> None:
    # Nothing open may cross a fork: SQLite and PostgreSQL connections are per process.
    context.close()


def serve_processes(context, processes: int, make_server: Callable[[socket.socket], Any],
                    run: Callable[[Any], None], sock: socket.socket) -> None:
    """Fork ``processes`` copies, each serving ``make_server(sock)`` with ``run``; watch them until stopped."""
    if not hasattr(os, "fork"):
        raise ServingError("--processes above 1 needs os.fork (Linux, macOS); on this system run one "
                           "dampwatch serve per port behind a reverse proxy instead")
    _close_connections(context)
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def start(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the copy
            code = 0
            try:
                # Ctrl-C reaches the whole process group; ``run`` turns SIGTERM into a clean stop too.
                signal.signal(signal.SIGINT, signal.default_int_handler)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                server = make_server(sock)
                refresher = Refresher(context.database).start()
                try:
                    run(server)
                finally:
                    refresher.stop()
            except BaseException:  # the copy must never return into the parent's code
                logger.exception("dashboard process %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for slot in range(processes):
            start(slot)
        logger.info("dashboard served by %d processes (pids %s)", processes, ", ".join(map(str, children)))
        while not stopping:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.2)
                continue
            ended = children.pop(pid, None)
            if ended is not None and not stopping:
                logger.warning("dashboard process %d ended (status %d); starting another", pid, status)
                time.sleep(1.0)  # a copy that fails at once must not spin
                start(ended)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        logger.info("stopping the dashboard's %d processes", len(children))
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while children and time.monotonic() < deadline:
            for pid in list(children):
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    children.pop(pid)
            time.sleep(0.05)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        sock.close()
