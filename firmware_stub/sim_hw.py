"""Simulated hardware that runs the DampWatch firmware unchanged under CPython.

CPython only (it is never copied to a device). It provides the same board
interface as :class:`firmware_stub.board_esp32.Esp32Board`:

- :class:`SHT3xModel` on a :class:`SimI2C` bus speaks the sensor's real command
  and response bytes with real CRCs, NACKs a read before the conversion is
  done, can be told to corrupt CRCs, and measures a climate given as a
  function of time;
- :class:`SimClock` is the world's time and the device's RTC: deep sleep and
  ``sleep_ms`` advance it instantly; the RTC reads 2000-01-01 after a power cut
  until NTP sets it;
- RTC memory is a bytes attribute (kept across deep sleep, lost in a power
  cut); "flash" is a directory;
- :class:`SimNetwork` is Wi-Fi plus a TCP path to a real broker (a small proxy)
  that can be cut and restored; cutting it drops open connections without an
  MQTT DISCONNECT, as a dead access point does, so the broker publishes the
  device's last will;
- :class:`MQTTClient` has umqtt.simple's classic API and is built on paho-mqtt
  2.x: a QoS 1 ``publish`` returns only after the PUBACK and raises
  ``OSError`` when the connection is gone.

:class:`SimDevice` puts these together with a config file so a test can run
any number of wakes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import json
import logging
import math
import select
import socket
import ssl as ssl_module
import struct
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import paho.mqtt.client as mqtt

from firmware_stub import app, config, sht3x
from firmware_stub.ringbuf import RingBuffer

logger = logging.getLogger(__name__)

#: 2000-01-01T00:00:00Z: where an ESP32's RTC starts after power-on.
RTC_POWER_ON_EPOCH_S = 946_684_800
#: Default start of simulated time.
DEFAULT_START = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
#: MicroPython's ticks_ms() wraps at 2**30.
TICKS_PERIOD = 1 << 30
#: Conversion time the model enforces (datasheet maximum for high repeatability).
SHT3X_MEASURE_S = 0.015
#: Time a successful Wi-Fi join takes.
WIFI_JOIN_S = 1.5
#: Time an NTP exchange takes.
NTP_EXCHANGE_S = 0.05
#: How long the MQTT adapter waits for the broker before it raises OSError (real seconds).
MQTT_TIMEOUT_S = 5.0
#: How long ``check_msg`` waits for something to arrive (umqtt.simple does not wait at all; the simulation
#: gives the broker a moment, since its clock does not stop while the device sleeps between checks).
CHECK_MSG_WAIT_S = 0.05

#: A climate: world time in Unix seconds -> (air temperature [°C], relative humidity [%]).
Climate = Callable[[float], tuple[float, float]]


class SimReset(BaseException):
    """The simulated device was reset mid-wake (a BaseException: the firmware cannot catch it)."""


class PowerLoss(SimReset):
    """The power went: RTC memory and the clock are lost, flash is kept."""


class WatchdogReset(SimReset):
    """The watchdog (or a crash) reset the chip: RTC memory and the clock survive, as on the ESP32."""


# -- climates -------------------------------------------------------------------------------------


def indoor_climate(world_s: float) -> tuple[float, float]:
    """A damp room: 19 ± 2 °C and 70 ± 10 %RH on a daily cycle (humidity peaks in the morning)."""
    phase = 2 * math.pi * (world_s % 86_400) / 86_400
    return 19.0 + 2.0 * math.sin(phase - math.pi / 2), 70.0 + 10.0 * math.sin(phase + 1.0)


def constant_climate(temperature_c: float, humidity_pct: float) -> Climate:
    """A climate that never changes."""

    def climate(world_s: float) -> tuple[float, float]:
        return temperature_c, humidity_pct

    return climate


# -- time -----------------------------------------------------------------------------------------


class SimClock:
    """World time and the device's RTC, in seconds; advancing is instant.

    The RTC reads ``RTC_POWER_ON_EPOCH_S`` plus the time since power-on until
    :meth:`set_from_ntp` sets it to the world's time.
    """

    def __init__(self, start: dt.datetime = DEFAULT_START) -> None:
        self.world_s = start.timestamp()
        self._rtc_offset_s = RTC_POWER_ON_EPOCH_S - self.world_s
        self._ticks_ms = 0.0

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        if seconds < 0:
            raise ValueError("time only goes forwards: seconds must be >= 0")
        self.world_s += seconds
        self._ticks_ms += seconds * 1000

    @property
    def rtc_set(self) -> bool:
        """True when the RTC agrees with the world (it was set from NTP since power-on)."""
        return self._rtc_offset_s == 0

    def rtc_s(self) -> int:
        """What the device's ``time.time()`` returns (Unix epoch in the simulation)."""
        return int(self.world_s + self._rtc_offset_s)

    def set_from_ntp(self) -> None:
        self._rtc_offset_s = 0.0

    def power_on(self) -> None:
        """The RTC restarts at 2000-01-01, as after a power cut."""
        self._rtc_offset_s = RTC_POWER_ON_EPOCH_S - self.world_s

    def ticks_ms(self) -> int:
        return int(self._ticks_ms) % TICKS_PERIOD

    @staticmethod
    def ticks_diff(a: int, b: int) -> int:
        """``a - b`` on the wrapping tick counter, as MicroPython's ``time.ticks_diff``."""
        half = TICKS_PERIOD // 2
        return ((a - b + half) % TICKS_PERIOD) - half

    @property
    def world(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.world_s, dt.UTC)


# -- the sensor and its bus -----------------------------------------------------------------------


def raw_word(value: float, offset: float, span: float) -> int:
    """The 16-bit word an SHT3x returns for ``value`` = offset + span * S / 65535, clamped."""
    return max(0, min(0xFFFF, round((value - offset) * 0xFFFF / span)))


class SHT3xModel:
    """An SHT3x as seen from the I2C bus.

    It answers the single-shot high-repeatability command (0x2400) and soft
    reset (0x30A2) and NACKs anything else. A read before the conversion time
    has passed, or with no measurement started, is NACKed (``OSError``), as the
    real sensor does without clock stretching. ``corrupt_crc_frames`` makes
    that many following frames carry a wrong CRC on ``corrupt_word``.
    """

    def __init__(
        self, clock: SimClock, climate: Climate = indoor_climate, address: int = sht3x.DEFAULT_ADDRESS
    ):
        self.clock = clock
        self.climate = climate
        self.address = address
        self.corrupt_crc_frames = 0
        self.corrupt_word = "temperature"
        self.measurements = 0
        self._frame: bytes | None = None
        self._ready_at_s = 0.0

    @staticmethod
    def frame_for(temperature_c: float, humidity_pct: float) -> bytes:
        """The six bytes the sensor sends for these values, CRCs included."""
        t_word = struct.pack(">H", raw_word(temperature_c, -45.0, 175.0))
        rh_word = struct.pack(">H", raw_word(humidity_pct, 0.0, 100.0))
        return t_word + bytes([sht3x.crc8(t_word)]) + rh_word + bytes([sht3x.crc8(rh_word)])

    def write(self, data: bytes) -> None:
        if data == sht3x.CMD_MEASURE_HIGH_NO_STRETCH:
            temperature_c, humidity_pct = self.climate(self.clock.world_s)
            self._frame = self.frame_for(temperature_c, humidity_pct)
            self._ready_at_s = self.clock.world_s + SHT3X_MEASURE_S
            self.measurements += 1
        elif data == sht3x.CMD_SOFT_RESET:
            self._frame = None
        else:
            raise OSError(errno.EIO, f"SHT3x NACKed command {data.hex()}")

    def read(self, nbytes: int) -> bytes:
        if self._frame is None or self.clock.world_s < self._ready_at_s - 1e-9:
            raise OSError(errno.EIO, "SHT3x NACKed the read: no measurement ready")
        frame = bytearray(self._frame)
        self._frame = None
        if self.corrupt_crc_frames > 0:
            self.corrupt_crc_frames -= 1
            frame[2 if self.corrupt_word == "temperature" else 5] ^= 0x5A
        return bytes(frame[:nbytes])


class SimI2C:
    """An I2C bus with MicroPython ``machine.I2C``'s ``writeto`` / ``readfrom``."""

    def __init__(self, *devices: SHT3xModel) -> None:
        self.devices = {device.address: device for device in devices}

    def _device(self, addr: int) -> SHT3xModel:
        try:
            return self.devices[addr]
        except KeyError:
            raise OSError(errno.ENODEV, f"no device at I2C address 0x{addr:02x}") from None

    def scan(self) -> list[int]:
        return sorted(self.devices)

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        self._device(addr).write(bytes(buf))
        return len(buf)

    def readfrom(self, addr: int, nbytes: int, stop: bool = True) -> bytes:
        return self._device(addr).read(nbytes)


class SimBattery:
    """Two lithium AA cells: a slow decline with time and a little per Wi-Fi join."""

    def __init__(
        self, clock: SimClock, full_mv: int = 3300, mv_per_day: float = 0.8, mv_per_join: float = 0.02
    ):
        self.clock = clock
        self.full_mv = full_mv
        self.mv_per_day = mv_per_day
        self.mv_per_join = mv_per_join
        self.joins = 0
        self._start_s = clock.world_s

    def mv(self) -> int:
        days = (self.clock.world_s - self._start_s) / 86_400
        return max(0, round(self.full_mv - self.mv_per_day * days - self.mv_per_join * self.joins))


# -- the network ----------------------------------------------------------------------------------


def _abort(sock: socket.socket) -> None:
    """Close ``sock`` with a reset (no orderly shutdown), waking any thread blocked on it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Link:
    """One proxied TCP connection: device side and broker side, pumped by two threads."""

    def __init__(
        self, device_side: socket.socket, broker_side: socket.socket, on_done: Callable[[_Link], None]
    ):
        self.device_side = device_side
        self.broker_side = broker_side
        self._on_done = on_done
        self._lock = threading.Lock()
        self._open_directions = 2
        self._closed = False

    def start(self) -> None:
        for src, dst in ((self.device_side, self.broker_side), (self.broker_side, self.device_side)):
            threading.Thread(target=self._pipe, args=(src, dst), daemon=True, name="sim-net-pipe").start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65_536):
                dst.sendall(data)
        except OSError:
            self.abort()
            return
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)  # pass the orderly close on (after a DISCONNECT, say)
        with self._lock:
            self._open_directions -= 1
            finished = self._open_directions == 0
        if finished:
            self.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for sock in (self.device_side, self.broker_side):
            with contextlib.suppress(OSError):
                sock.close()
        self._on_done(self)

    def abort(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        _abort(self.device_side)
        _abort(self.broker_side)
        self._on_done(self)


class SimNetwork:
    """Wi-Fi and the route to a real broker, which a test can cut and restore.

    The device connects to :attr:`host`:``port`` (a proxy in this process)
    instead of the broker. While the network is cut, Wi-Fi cannot be joined,
    NTP fails, new TCP connections are reset and open ones are dropped without
    an MQTT DISCONNECT. ``before_publish`` is a hook the MQTT adapter calls
    with ``(topic, payload)`` before each publish, for injecting faults at an
    exact point of a session.
    """

    def __init__(
        self,
        broker_host: str,
        broker_port: int,
        ssid: str = "dampwatch-lab",
        password: str = "damp-and-mould",
    ) -> None:
        self.broker_host = broker_host
        self.broker_port = broker_port
        self.ssid = ssid
        self.password = password
        self.up = True
        self.before_publish: Callable[[str, bytes], None] | None = None
        self.wifi_attempts = 0
        self.connections = 0
        self._links: set[_Link] = set()
        self._clients: weakref.WeakSet[MQTTClient] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.host, self.port = self._listener.getsockname()[:2]
        self._running = True
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True, name="sim-net-accept")
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while self._running:
            try:
                device_side, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            device_side.settimeout(None)
            if not self.up:
                _abort(device_side)
                continue
            try:
                broker_side = socket.create_connection((self.broker_host, self.broker_port), timeout=5)
                broker_side.settimeout(None)
            except OSError as exc:
                logger.info(
                    "sim network: broker %s:%d unreachable: %s", self.broker_host, self.broker_port, exc
                )
                _abort(device_side)
                continue
            link = _Link(device_side, broker_side, self._forget)
            with self._lock:
                self._links.add(link)
                self.connections += 1
            link.start()

    def _forget(self, link: _Link) -> None:
        with self._idle:
            self._links.discard(link)
            self._idle.notify_all()

    def settle(self, timeout_s: float = 5.0) -> None:
        """Wait until every connection has finished closing, as it has in the real minutes between wakes.

        Without this, a wake that follows at once could reach the broker before the
        previous session's DISCONNECT has crossed the proxy; the broker would then see
        a session takeover and publish the last will.
        """
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._links:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    logger.warning(
                        "sim network: %d connection(s) still open after %s s", len(self._links), timeout_s
                    )
                    return
                self._idle.wait(remaining)

    def register(self, client: MQTTClient) -> None:
        self._clients.add(client)

    def drop_connections(self) -> None:
        """Drop every open connection without a DISCONNECT (both the proxy's and the device's sockets)."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.abort()
        for client in list(self._clients):
            client.drop()

    def cut(self) -> None:
        """Take the network away: Wi-Fi gone, open connections dropped uncleanly."""
        self.up = False
        self.drop_connections()

    def restore(self) -> None:
        """Bring the network back."""
        self.up = True

    def close(self) -> None:
        self._running = False
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() at once
        with contextlib.suppress(OSError):
            self._listener.close()
        self.drop_connections()
        self._acceptor.join(timeout=2)

    def __enter__(self) -> SimNetwork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- MQTT -----------------------------------------------------------------------------------------


class MQTTException(Exception):  # the name umqtt.simple uses
    """The broker refused the connection; ``args[0]`` is the MQTT 3.1.1 CONNACK return code."""


#: paho's reason codes for a refused MQTT 3.1.1 CONNACK, back to the return code umqtt reports.
_CONNACK_RETURN_CODES = {132: 1, 133: 2, 136: 3, 134: 4, 135: 5}


class _SocketHandle:
    """What ``client.sock`` gives the firmware: ``close()`` drops the connection without DISCONNECT."""

    def __init__(self, client: MQTTClient) -> None:
        self._client = client

    def close(self) -> None:
        self._client.drop()


class MQTTClient:
    """umqtt.simple's ``MQTTClient``, built on paho-mqtt 2.x and driven synchronously.

    ``ssl`` with ``ssl_params`` works as on MicroPython: ``cert_reqs``
    (``2`` = required), ``cadata`` (the CA certificate, DER or PEM) and
    ``server_hostname`` (checked against the certificate when verifying).
    """

    def __init__(
        self,
        client_id: str | bytes,
        server: str,
        port: int = 0,
        user: str | bytes | None = None,
        password: str | bytes | None = None,
        keepalive: int = 0,
        ssl: bool = False,
        ssl_params: dict[str, Any] | None = None,
        *,
        network: SimNetwork | None = None,
        timeout_s: float = MQTT_TIMEOUT_S,
    ) -> None:
        self.client_id = client_id.decode() if isinstance(client_id, bytes) else client_id
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.ssl_params = dict(ssl_params or {})
        self.network = network
        self.timeout_s = timeout_s
        self._will: tuple[str, bytes, int, bool] | None = None
        self._paho: mqtt.Client | None = None
        self._connack: int | None = None
        self._session_present = False
        self._lost = False
        self._callback: Callable[[bytes, bytes], None] | None = None
        self._subacks: list = []
        self._inbox: list[tuple[bytes, bytes]] = []
        if network is not None:
            network.register(self)

    # -- umqtt.simple's API ----------------------------------------------------------------------

    @property
    def sock(self) -> _SocketHandle | None:
        return _SocketHandle(self) if self._paho is not None else None

    def set_last_will(self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0) -> None:
        if not 0 <= qos <= 2 or not topic:
            raise ValueError("a last will needs a topic and a QoS of 0, 1 or 2")
        self._will = (_text(topic), _bytes(msg), qos, bool(retain))

    def connect(self, clean_session: bool = True) -> bool:
        """Connect and wait for the CONNACK; returns the session-present flag."""
        if self.network is not None and not self.network.up:
            raise OSError(errno.ENETUNREACH, "network is unreachable")
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
        if self.user is not None:
            client.username_pw_set(_text(self.user), self.password)  # type: ignore[arg-type]  # paho sends a bytes password as it is
        if self._will is not None:
            topic, payload, qos, retain = self._will
            client.will_set(topic, payload, qos, retain)
        if self.ssl:
            client.tls_set_context(self._ssl_context())
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = lambda _c, _u, _mid, codes, _p: self._subacks.extend(codes)
        client.on_message = lambda _c, _u, message: self._inbox.append((message.topic.encode(), bytes(message.payload)))
        self._connack = None
        self._lost = False
        self._paho = client
        try:
            client.connect(self.server, self.port, self.keepalive)
        except OSError:
            self._paho = None
            raise
        self._pump(lambda: self._connack is not None, "CONNACK")
        if self._connack:
            self.drop()
            raise MQTTException(self._connack)
        return self._session_present

    def publish(self, topic: str | bytes, msg: str | bytes, retain: bool = False, qos: int = 0) -> None:
        """Publish; with QoS 1 return only after the broker's PUBACK."""
        if qos not in (0, 1):
            raise ValueError("umqtt.simple publishes with QoS 0 or 1")
        client = self._connected()
        payload = _bytes(msg)
        if self.network is not None and self.network.before_publish is not None:
            self.network.before_publish(_text(topic), payload)
            client = self._connected()
        info = client.publish(_text(topic), payload, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.drop()
            raise OSError(errno.ECONNRESET, f"publish failed: {mqtt.error_string(info.rc)}")
        if qos == 1:
            self._pump(info.is_published, "PUBACK")
        else:
            self._pump(lambda: not client.want_write(), "the write")

    def set_callback(self, callback: Callable[[bytes, bytes], None]) -> None:
        """Call ``callback(topic, msg)`` (bytes, as umqtt.simple does) for each message received."""
        self._callback = callback

    def subscribe(self, topic: str | bytes, qos: int = 0) -> None:
        """Subscribe and wait for the SUBACK (messages that arrive meanwhile go to the callback)."""
        if self._callback is None:
            raise ValueError("set_callback() must be called before subscribe(), as umqtt.simple requires")
        client = self._connected()
        self._subacks = []
        result, _mid = client.subscribe(_text(topic), qos)
        if result != mqtt.MQTT_ERR_SUCCESS:
            self.drop()
            raise OSError(errno.ECONNRESET, f"subscribe failed: {mqtt.error_string(result)}")
        self._pump(lambda: bool(self._subacks), "SUBACK")
        self._deliver()

    def check_msg(self) -> None:
        """Handle what has arrived, waiting at most a moment (umqtt.simple's non-blocking check)."""
        client = self._connected()
        deadline = time.monotonic() + CHECK_MSG_WAIT_S
        try:
            self._pump(lambda: bool(self._inbox) or time.monotonic() >= deadline, "a message")
        except OSError:
            if client is not self._paho:
                raise
        self._deliver()

    def disconnect(self) -> None:
        """Send DISCONNECT and close (the broker then discards the last will)."""
        client = self._connected()
        client.disconnect()
        try:
            self._pump(lambda: client.socket() is None or self._lost, "the close")
        finally:
            self._paho = None

    # -- simulation ------------------------------------------------------------------------------

    def drop(self) -> None:
        """Close the socket without DISCONNECT, as a crash or a lost link does."""
        client, self._paho = self._paho, None
        if client is None:
            return
        sock = client.socket()
        if sock is not None:
            _abort(sock)  # type: ignore[arg-type]

    # -- internals -------------------------------------------------------------------------------

    def _deliver(self) -> None:
        inbox, self._inbox = self._inbox, []
        for topic, payload in inbox:
            if self._callback is not None:
                self._callback(topic, payload)

    def _connected(self) -> mqtt.Client:
        if self._paho is None or self._lost:
            raise OSError(errno.ENOTCONN, "not connected to the broker")
        return self._paho

    def _ssl_context(self) -> ssl_module.SSLContext:
        params = self.ssl_params
        context = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_CLIENT)
        if params.get("cert_reqs", ssl_module.CERT_NONE) == ssl_module.CERT_REQUIRED:
            cadata = params.get("cadata")
            if not cadata:
                raise ValueError("ssl_params has cert_reqs=CERT_REQUIRED but no cadata to verify against")
            if isinstance(cadata, bytes) and cadata.lstrip().startswith(b"-----BEGIN"):
                cadata = cadata.decode("ascii")
            context.load_verify_locations(cadata=cadata)
            context.check_hostname = "server_hostname" in params
            context.verify_mode = ssl_module.CERT_REQUIRED
        else:
            context.check_hostname = False
            context.verify_mode = ssl_module.CERT_NONE
        return context

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Any,
    ) -> None:
        self._session_present = bool(flags.session_present)
        code = reason_code.value
        self._connack = _CONNACK_RETURN_CODES.get(code, code) if reason_code.is_failure else 0

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Any,
    ) -> None:
        if client is self._paho:
            self._lost = True

    def _pump(self, done: Callable[[], bool], what: str) -> None:
        """Run paho's network I/O in this thread until ``done()``; OSError if the link dies or times out."""
        client = self._paho
        deadline = time.monotonic() + self.timeout_s
        while not done():
            if client is None or client is not self._paho:
                raise OSError(errno.ECONNRESET, f"connection dropped while waiting for {what}")
            sock = client.socket()
            if self._lost or sock is None:
                self._paho = None
                raise OSError(errno.ECONNRESET, f"connection lost while waiting for {what}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.drop()
                raise OSError(errno.ETIMEDOUT, f"no {what} from the broker within {self.timeout_s} s")
            try:
                readable, writable, _ = select.select(
                    [sock], [sock] if client.want_write() else [], [], min(remaining, 0.05)
                )
            except (OSError, ValueError):
                self._paho = None
                raise OSError(errno.ECONNRESET, f"connection closed while waiting for {what}") from None
            pending = getattr(sock, "pending", None)
            if readable or (pending is not None and pending()):
                client.loop_read()
            if writable and client.socket() is not None:
                client.loop_write()
            if client.socket() is not None:
                client.loop_misc()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


# -- the board ------------------------------------------------------------------------------------


class SimBoard:
    """The board interface of ``board_esp32.Esp32Board``, on simulated parts."""

    def __init__(
        self,
        clock: SimClock,
        network: SimNetwork,
        sensor: SHT3xModel | None = None,
        battery: SimBattery | None = None,
    ) -> None:
        self.clock = clock
        self.network = network
        self.sensor = sensor or SHT3xModel(clock)
        self.battery = battery or SimBattery(clock)
        self.i2c = SimI2C(self.sensor)
        self.network_errors: tuple[type[BaseException], ...] = (OSError, MQTTException)
        self.MQTTClient = functools.partial(MQTTClient, network=network)
        self.rtc_memory_bytes = b""
        self.wifi_joined = False
        self.sleeps_ms: list[int] = []
        self.log_lines: list[str] = []

    # time
    def sleep_ms(self, ms: int) -> None:
        self.clock.advance(ms / 1000)

    def ticks_ms(self) -> int:
        return self.clock.ticks_ms()

    def ticks_diff(self, a: int, b: int) -> int:
        return self.clock.ticks_diff(a, b)

    def time(self) -> int:
        return self.clock.rtc_s()

    def gmtime(self, secs: int) -> tuple[int, ...]:
        return tuple(time.gmtime(secs))[:8]

    def sync_time(self, host: str) -> bool:
        if not (self.wifi_joined and self.network.up):
            return False
        self.clock.advance(NTP_EXCHANGE_S)
        self.clock.set_from_ntp()
        return True

    # power and memory
    def battery_mv(self) -> int:
        return self.battery.mv()

    def rtc_memory(self, data: bytes | None = None) -> bytes:
        if data is not None:
            self.rtc_memory_bytes = bytes(data)
        return self.rtc_memory_bytes

    def deep_sleep(self, ms: int) -> None:
        self.wifi_off()
        self.network.settle()
        self.sleeps_ms.append(ms)
        self.clock.advance(ms / 1000)

    def power_cycle(self) -> None:
        """Power off and on: RTC memory and clock lost, flash kept, connections dead."""
        self.network.drop_connections()
        self.wifi_joined = False
        self.rtc_memory_bytes = b""
        self.clock.power_on()

    def power_loss(self) -> NoReturn:
        """Lose power right now (call it from a hook): the wake ends with :class:`PowerLoss`."""
        self.power_cycle()
        raise PowerLoss("the device lost power")

    def watchdog_reset(self) -> NoReturn:
        """Reset right now (call it from a hook), keeping RTC memory: the wake ends with :class:`WatchdogReset`."""
        self.network.drop_connections()
        self.wifi_joined = False
        raise WatchdogReset("the watchdog reset the device")

    def log(self, message: str) -> None:
        self.log_lines.append(message)
        logger.info("device: %s", message)

    # network
    def wifi_connect(self, ssid: str, password: str, timeout_s: int) -> bool:
        self.network.wifi_attempts += 1
        if not self.network.up or (ssid, password) != (self.network.ssid, self.network.password):
            self.clock.advance(timeout_s)
            return False
        self.clock.advance(WIFI_JOIN_S)
        self.battery.joins += 1
        self.wifi_joined = True
        return True

    def wifi_off(self) -> None:
        self.wifi_joined = False


class SimDevice:
    """A simulated DampWatch device: a board, a flash directory with its config file, and its wakes.

    ``settings`` override the config written to ``<flash>/dampwatch.json``;
    by default it talks plain MQTT to ``network`` with the network's Wi-Fi
    credentials and keeps its data in ``<flash>/dampwatch``.
    """

    def __init__(
        self,
        flash_dir: Path,
        network: SimNetwork,
        *,
        clock: SimClock | None = None,
        climate: Climate = indoor_climate,
        device_id: str = "dw-sim-0001",
        **settings: Any,
    ) -> None:
        self.flash_dir = Path(flash_dir)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.clock = clock or SimClock()
        self.board = SimBoard(self.clock, network, SHT3xModel(self.clock, climate))
        self.settings: dict[str, Any] = {
            "device_id": device_id,
            "wifi_ssid": network.ssid,
            "wifi_password": network.password,
            "broker_host": network.host,
            "broker_port": network.port,
            "tls": False,
            "data_dir": str(self.flash_dir / "dampwatch"),
            **settings,
        }
        self.config_path = self.flash_dir / "dampwatch.json"
        self.config_path.write_text(json.dumps(self.settings, indent=2))

    @property
    def network(self) -> SimNetwork:
        return self.board.network

    @property
    def sensor(self) -> SHT3xModel:
        return self.board.sensor

    def wake(self) -> None:
        """One wake, from reset to deep sleep, exactly as ``/main.py`` runs it on the ESP32."""
        app.main(self.board, str(self.config_path))

    def run(self, wakes: int) -> None:
        """``wakes`` wakes in a row."""
        for _ in range(wakes):
            self.wake()

    def run_until(self, done: Callable[[], bool], max_wakes: int) -> int:
        """Wake until ``done()``; the number of wakes it took. RuntimeError after ``max_wakes``."""
        for count in range(1, max_wakes + 1):
            self.wake()
            if done():
                return count
        raise RuntimeError(f"not done after {max_wakes} wakes")

    def buffer(self) -> RingBuffer:
        """The ring buffer as it is on flash now."""
        capacity = self.settings.get("buffer_capacity", config.defaults()["buffer_capacity"])
        return RingBuffer(self.settings["data_dir"], capacity)

    def buffered(self) -> int:
        return len(self.buffer())

    def power_cycle(self) -> None:
        self.board.power_cycle()

    def readings_in_buffer(self) -> Iterator[dict[str, Any]]:
        """The buffered readings as native payload dicts, oldest first."""
        buf = self.buffer()
        for reading in buf.peek(buf.capacity):
            yield json.loads(reading.to_json())
