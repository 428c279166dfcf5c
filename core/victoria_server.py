"""A local single-node VictoriaMetrics process, for the tests, the benchmarks and anyone trying the backend.

:class:`VictoriaMetricsServer` runs Debian's ``victoria-metrics`` binary on a free loopback port with its own data
folder. It can be stopped (gracefully, or with SIGKILL to play a crash) and started again on the same port and data.
It lives in ``core`` (like the embedded MQTT broker) so that tests and benchmarks can both use it: DESIGN.md lets
nothing import ``tests``.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from core.mqtt import free_port

VICTORIA_BINARY_NAMES = ("victoria-metrics", "victoria-metrics-prod")


def victoria_binary() -> str | None:
    """The path of the single-node VictoriaMetrics binary, if installed."""
    for name in VICTORIA_BINARY_NAMES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
        if found:
            return found
    return None


class VictoriaMetricsServer:
    """A real single-node VictoriaMetrics on a free loopback port.

    ``dedup`` is the ``-dedup.minScrapeInterval`` flag (None leaves
    deduplication off, as VictoriaMetrics does by default).
    """

    def __init__(self, data_dir: Path, *, dedup: str | None = "1s", binary: str | None = None) -> None:
        found = binary or victoria_binary()
        if found is None:
            raise FileNotFoundError("victoria-metrics is not installed (apt-get install victoria-metrics)")
        self.binary: str = found
        self.data_dir = data_dir
        self.port = free_port()
        self.dedup = dedup
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The readings URL of this server."""
        return f"victoriametrics://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> VictoriaMetricsServer:
        """Start the server (again) and wait until it answers ``/health``."""
        args = [
            self.binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.data_dir}",
            "-retentionPeriod=100y",  # the default month would drop older test samples
            "-loggerLevel=WARN",
        ]
        if self.dedup is not None:
            args.append(f"-dedup.minScrapeInterval={self.dedup}")
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"victoria-metrics exited with {self._process.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.http}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"victoria-metrics did not answer /health within {timeout_s:g} s: {self.log()}")

    def stop(self, *, hard: bool = False) -> None:
        """Stop the server: SIGTERM flushes its buffers; ``hard`` sends SIGKILL (a crash)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def flush(self) -> None:
        """Make every accepted sample searchable (``/internal/force_flush``)."""
        with urllib.request.urlopen(f"{self.http}/internal/force_flush", timeout=10):
            pass

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""
