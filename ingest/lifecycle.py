"""The ingest processes' lifecycle: one worker per spool, a worker that dies with its parent, a stall watchdog.

* :class:`SpoolLock` is an exclusive lock (``flock``) on a file in the spool folder, held for the life of
  the process that replays and writes the spool. A second worker on the same folder (an old one still
  blocked on a store lock after its ingestor was killed, or a second ingestor given the same folder)
  waits a few seconds for it, then refuses to start with a message naming the holder's pid. Two
  workers would otherwise replay and delete each other's files. The kernel drops the lock when its
  holder dies, however it dies.
* :func:`die_with_parent` asks Linux to SIGKILL the worker when the process that started it dies
  (``PR_SET_PDEATHSIG``), so a worker stuck in a long call cannot outlive its ingestor; a worker also
  stops when its pipe reaches end of file.
* :class:`StallWatchdog` notices readings being spooled while none reaches the store for longer than
  ``DAMPWATCH_INGEST_STALL_AFTER_S``: it logs an error (again every period while it lasts) and sets
  the ``dampwatch_ingest_stalled`` gauge.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DampWatchError

if TYPE_CHECKING:
    from prometheus_client import Gauge

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = ".lock"
#: How long a new worker waits for the spool lock (an old worker may take a moment to die).
SPOOL_LOCK_WAIT_S = 15.0
_PR_SET_PDEATHSIG = 1


class SpoolBusyError(DampWatchError):
    """Another process holds the spool folder's lock."""


class SpoolLock:
    """An exclusive, process-wide lock on a spool folder (released on :meth:`release` or process death)."""

    def __init__(self, directory: Path, *, wait_s: float = SPOOL_LOCK_WAIT_S) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / LOCK_FILE_NAME
        self._fd: int | None = None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise SpoolBusyError(f"cannot lock the spool folder {self.directory}: {exc.strerror}") from exc
            if time.monotonic() >= deadline:
                holder = self.holder()
                os.close(fd)
                raise SpoolBusyError(
                    f"the spool folder {self.directory} is in use by another ingest worker"
                    + (f" (pid {holder})" if holder else "")
                    + "; stop that process first, or give each ingestor its own DAMPWATCH_INGEST_SPOOL_DIR"
                )
            time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def holder(self) -> int | None:
        """The pid written by the process that holds (or last held) the lock."""
        try:
            return int(self.path.read_text().strip() or 0) or None
        except (OSError, ValueError):
            return None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> SpoolLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def die_with_parent(parent_pid: int) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; exit now if it already has.

    Returns whether the request was taken (Linux only; elsewhere the worker relies on its pipe's end
    of file alone).
    """
    taken = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            taken = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except OSError:
            taken = False
    if os.getppid() != parent_pid:  # the parent died before the request was made
        os._exit(1)
    return taken


class StallWatchdog:
    """Readings spooled but none stored for longer than ``stall_after_s``: an error log line and a gauge."""

    def __init__(
        self, stall_after_s: float, gauge: Gauge | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stall_after_s = stall_after_s
        self.gauge = gauge
        self._clock = clock
        self._last_progress = clock()
        self._next_log = 0.0
        self.stalled = False

    def progress(self) -> None:
        """Something reached the store."""
        if self.stalled:
            logger.info("the store takes readings again; the stall is over")
        self._last_progress = self._clock()
        self._set(False)

    def check(self, spool_depth: int, spool_dir: Path | str | None = None) -> bool:
        """Whether ingest is stalled now (logging when it starts and every period while it lasts)."""
        now = self._clock()
        if spool_depth <= 0:
            self._last_progress = now
            self._set(False)
            return False
        waited = now - self._last_progress
        if waited < self.stall_after_s:
            self._set(False)
            return False
        if not self.stalled or now >= self._next_log:
            logger.error(
                "ingest is stalled: no reading has reached the store for %.0f s while %d messages wait in the "
                "spool%s; the broker's messages are acknowledged into the spool, so nothing is lost yet, but check "
                "the readings store and the app database (dampwatch --check-config)",
                waited, spool_depth, f" ({spool_dir})" if spool_dir else "",
            )
            self._next_log = now + self.stall_after_s
        self._set(True)
        return True

    def _set(self, stalled: bool) -> None:
        self.stalled = stalled
        if self.gauge is not None:
            self.gauge.set(1 if stalled else 0)
