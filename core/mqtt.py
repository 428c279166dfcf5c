"""MQTT plumbing every box shares: broker URLs, paho clients and a managed Mosquitto.

A :class:`MosquittoBroker` runs the real ``mosquitto`` binary on a free
loopback port with a config DampWatch writes itself, so the demo, the tests
and the benchmarks all control their broker's settings. Every config written
here sets a large ``max_queued_messages`` and ``persistence true``: Mosquitto's
default queue of 1000 messages silently drops QoS 1 messages for a slow but
connected subscriber while the publisher still gets its PUBACK.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any, TypedDict

import paho.mqtt.client as mqtt

from core.errors import ConfigError

logger = logging.getLogger(__name__)

#: Queue depth per client for every broker config DampWatch writes (Mosquitto's default is 1000).
MAX_QUEUED_MESSAGES = 10_000_000
#: Messages the broker may have in flight to one client before it waits for acknowledgements.
#: The ingestor acknowledges a whole batch at once, so this must exceed its batch size.
MAX_INFLIGHT_MESSAGES = 65_535
#: Largest MQTT packet the broker accepts. Payloads over 64 KiB are refused by the ingestor with a dead letter;
#: the broker lets them through (up to this) so that the refusal is recorded rather than the sender cut off.
MAX_PACKET_BYTES = 4 * 1024 * 1024
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
#: Mosquitto 2.0 keeps messages in memory and writes a snapshot of everything (queued messages, retained
#: messages, sessions) every ``autosave_interval`` seconds, with no per-message fsync: a crash (SIGKILL,
#: power cut, OOM kill) loses every message that arrived since the last snapshot, though each was
#: already PUBACKed. This is the crash window of every config DampWatch writes (measured choice: see
#: the README's "Broker crash windows"); Mosquitto's own default is 1800 s.
AUTOSAVE_INTERVAL_S = 1
#: A time-based snapshot interval longer than this is reported by ``dampwatch --check-config``.
WIDE_CRASH_WINDOW_S = 5


@dataclasses.dataclass(frozen=True)
class BrokerAddress:
    """Where a broker is and how to log in to it, parsed from a URL."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://[user:password@]host[:port]`` (or ``mqtts://`` for TLS)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ConfigError(
                f"broker URL {url!r} must start with mqtt:// or mqtts:// (for example mqtt://127.0.0.1:1883)"
            )
        if not parts.hostname:
            raise ConfigError(f"broker URL {url!r} has no host name (for example mqtt://127.0.0.1:1883)")
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError as exc:
            raise ConfigError(f"broker URL {url!r} has an invalid port") from exc
        return cls(
            host=parts.hostname,
            port=port,
            tls=parts.scheme == "mqtts",
            username=urllib.parse.unquote(parts.username) if parts.username else None,
            password=urllib.parse.unquote(parts.password) if parts.password else None,
        )

    @property
    def url(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    """Block until ``host:port`` accepts TCP connections, or raise ``TimeoutError``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing accepted connections on {host}:{port} within {timeout_s} s") from None
            time.sleep(0.05)


def new_client(
    client_id: str,
    *,
    protocol: int = mqtt.MQTTv311,
    manual_ack: bool = False,
    username: str | None = None,
    password: str | None = None,
    tls_ca_file: str | None = None,
    tls_insecure: bool = False,
    clean_session: bool | None = None,
) -> mqtt.Client:
    """A paho-mqtt 2.x client with the callback API DampWatch uses (VERSION2).

    With ``protocol=MQTTv5`` the clean-start flag is given to ``connect``
    instead; ``clean_session`` applies to MQTT 3.1.1 only.
    """
    kwargs: dict[str, Any] = {
        "callback_api_version": mqtt.CallbackAPIVersion.VERSION2,
        "client_id": client_id,
        "protocol": protocol,
        "manual_ack": manual_ack,
    }
    if protocol != mqtt.MQTTv5 and clean_session is not None:
        kwargs["clean_session"] = clean_session
    client = mqtt.Client(**kwargs)
    if username:
        client.username_pw_set(username, password)
    if tls_ca_file is not None or tls_insecure:
        client.tls_set(ca_certs=tls_ca_file)
        client.tls_insecure_set(tls_insecure)
    return client


def mosquitto_config(
    *,
    port: int,
    data_dir: Path,
    bind: str = "127.0.0.1",
    password_file: Path | None = None,
    acl_file: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tls_ca: Path | None = None,
    log_dest: str = "stderr",
    run_as: str | None = None,
    autosave_interval_s: int = AUTOSAVE_INTERVAL_S,
) -> str:
    """The text of a Mosquitto 2.x config with DampWatch's safe queue settings.

    ``autosave_interval_s`` is the crash window: how many seconds of accepted
    messages a broker crash can lose (see :data:`AUTOSAVE_INTERVAL_S`).
    """
    if autosave_interval_s < 1:
        raise ConfigError(f"autosave_interval_s must be at least 1 second (got {autosave_interval_s})")
    lines = [
        "# Written by DampWatch. The queue settings matter: Mosquitto's default",
        "# max_queued_messages (1000) silently drops QoS 1 messages for a slow subscriber.",
        "# The snapshot interval is the crash window: a broker crash loses what arrived since the last snapshot.",
        "persistence true",
        f"persistence_location {data_dir}/",
        "autosave_on_changes false",
        f"autosave_interval {autosave_interval_s}",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        "max_queued_bytes 0",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"log_dest {log_dest}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "per_listener_settings false",
        f"listener {port} {bind}",
    ]
    if run_as is not None:
        lines.insert(4, f"user {run_as}")
    if tls_cert is not None:
        lines += [f"certfile {tls_cert}", f"keyfile {tls_key}"]
        if tls_ca is not None:
            lines.append(f"cafile {tls_ca}")
    if password_file is not None:
        lines += ["allow_anonymous false", f"password_file {password_file}"]
    else:
        lines.append("allow_anonymous true")
    if acl_file is not None:
        lines.append(f"acl_file {acl_file}")
    return "\n".join(lines) + "\n"


class _MosquittoFiles(TypedDict):
    """The :func:`mosquitto_config` arguments a :class:`MosquittoBroker` keeps from its constructor."""

    password_file: Path | None
    acl_file: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    tls_ca: Path | None
    autosave_interval_s: int


def mosquitto_binary() -> str | None:
    """Path of the ``mosquitto`` executable, if installed (Debian puts it in /usr/sbin)."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
    )


class MosquittoBroker:
    """A real Mosquitto on a loopback port, with a config DampWatch controls.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Its data
    (persistence file, config, log) lives in ``workdir`` so a restart keeps
    queued messages and persistent sessions.
    """

    protocol: str = "5"
    """The MQTT version to speak to it (Mosquitto 2 speaks 5; see :class:`core.embedded_broker.AmqttBroker`)."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        tls_ca: Path | None = None,
        autosave_interval_s: int = AUTOSAVE_INTERVAL_S,
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise ConfigError(
                "the mosquitto broker is not installed; install it with 'apt-get install mosquitto' "
                "or set DAMPWATCH_MQTT_URL to an existing broker"
            )
        self.binary = binary
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self._config_kwargs: _MosquittoFiles = {
            "password_file": password_file,
            "acl_file": acl_file,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
            "tls_ca": tls_ca,
            "autosave_interval_s": autosave_interval_s,
        }
        self._process: subprocess.Popen[bytes] | None = None
        self._log: io.BufferedWriter | None = None

    @property
    def url(self) -> str:
        scheme = "mqtts" if self._config_kwargs["tls_cert"] else "mqtt"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 10.0) -> MosquittoBroker:
        """Write the config and start the broker; return once it accepts connections."""
        data_dir = self.workdir / "data"
        data_dir.mkdir(exist_ok=True)
        # Started as root, mosquitto drops to user 'mosquitto' before it opens its password, ACL and
        # persistence files, which then must be readable by that user along their whole path. A broker
        # DampWatch starts for itself (demo, tests) is private to loopback, so it keeps the caller's user.
        run_as = "root" if os.geteuid() == 0 else None
        self.config_path.write_text(
            mosquitto_config(port=self.port, data_dir=data_dir, run_as=run_as, **self._config_kwargs)
        )
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open while the broker runs
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.port, timeout_s)
        except TimeoutError as exc:
            self.stop()
            raise ConfigError(f"mosquitto did not start on port {self.port}; see its log: {self.tail_log()}") from exc
        if not self.running:
            raise ConfigError(f"mosquitto exited at once; its log says: {self.tail_log()}")
        logger.info("mosquitto started on %s (pid %d)", self.url, self._process.pid)
        return self

    def stop(self, *, kill: bool = False, timeout_s: float = 10.0) -> None:
        """Stop the broker: SIGTERM (it saves its persistence file) or, with ``kill``, SIGKILL."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop gracefully and start again on the same port with the same data."""
        self.stop()
        self.start()

    def reload(self) -> None:
        """Ask the broker to re-read its password and ACL files (SIGHUP), without a restart."""
        if self._process is None:
            raise RuntimeError("the broker is not running")
        self._process.send_signal(signal.SIGHUP)

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
