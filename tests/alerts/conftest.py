"""Fixtures for the alerts tests: a home with tenants and sensors, a real SMTP server, local HTTP receivers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.db import Database
from core.model import Device, DeviceHealth, Installation, Property, Room, Tenant
from core.settings import Settings

UPRN = "100000000001"
OTHER_UPRN = "100000000002"
#: A Monday in winter, in the past (UTC).
MONDAY = dt.datetime(2026, 1, 12, 10, 0, tzinfo=dt.UTC)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def alert_settings(settings: Settings) -> Settings:
    """Settings for the alerts: no quiet hours in the way unless a test sets them, a public URL for links."""
    return settings.model_copy(update={"web_public_url": "https://dampwatch.example.org",
                                       "alerts_digest_to": "duty@example.org"})


def add_home(session, uprn: str = UPRN, *, tenants: list[dict] | None = None, sensors: bool = True,
             installed_at: dt.datetime = MONDAY - dt.timedelta(days=30)) -> Property:
    """A home with a bathroom, kitchen and bedroom, a sensor in each, and its tenants."""
    home = Property(uprn=uprn, address=f"{int(uprn) % 100} Beech Road, Leeds", postcode="LS6 1AB")
    session.add(home)
    for name, room_type in (("Bathroom", "bathroom"), ("Kitchen", "kitchen"), ("Bedroom 1", "bedroom")):
        room = Room(property=home, name=name, room_type=room_type)
        session.add(room)
        if sensors:
            device = Device(device_id=f"dev-{uprn}-{room_type}")
            session.add(device)
            session.add(Installation(device=device, room=room, installed_at=installed_at))
    for values in tenants if tenants is not None else [{}]:
        tenant = {"name": "Sam Jones", "email": "sam@example.org", "phone": "07700900123",
                  "preferred_channel": "email", "language": "en", "consent": True,
                  "consent_at": installed_at, **values}
        session.add(Tenant(property=home, **tenant))
    session.flush()
    return home


@pytest.fixture
def home_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite app database with one home (three rooms with sensors) and one consenting tenant."""
    database = Database(f"sqlite:///{tmp_path}/alerts.db")
    with database.session() as session:
        add_home(session)
    try:
        yield database
    finally:
        database.dispose()


def set_health(session, device_id: str, *, last_seen: dt.datetime | None, battery_v: float | None = 3.0) -> None:
    """Write what the ingestor would have recorded about a device."""
    health = session.get(DeviceHealth, device_id)
    if health is None:
        health = DeviceHealth(device_id=device_id, readings=0, untimed=0)
        session.add(health)
    health.last_seen = last_seen
    health.last_received_at = last_seen
    health.battery_v = battery_v


# -- a real SMTP server ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class SmtpServer:
    """An aiosmtpd server on a free loopback port that keeps what it receives; it can be stopped and started."""

    port: int
    received: list = dataclasses.field(default_factory=list)
    tls_context: object = None
    auth: tuple[str, str] | None = None
    _controller: object = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        received = self.received

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                from email import message_from_bytes, policy

                received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                 "message": message_from_bytes(envelope.content, policy=policy.default),
                                 "tls": session.ssl is not None, "authenticated": session.authenticated})
                return "250 Message accepted"

        kwargs = {}
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=True)
        if self.auth is not None:
            user, password = self.auth

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = auth_data.login.decode() == user and auth_data.password.decode() == password
                return AuthResult(success=ok)

            kwargs.update(authenticator=authenticator, auth_require_tls=True, auth_required=True)
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free port, plain (no TLS)."""
    server = SmtpServer(free_port()).start()
    try:
        yield server
    finally:
        server.stop()


def smtp_settings(settings: Settings, server: SmtpServer, **extra) -> Settings:
    """Settings that send email to ``server`` without TLS."""
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": server.port, "smtp_starttls": False,
                                       "smtp_from": "DampWatch <alerts@example.org>", "smtp_timeout_s": 5.0,
                                       **extra})


# -- a local HTTP receiver (the webhook's other end, and a stand-in for Notify's API) ---------------------------


@dataclasses.dataclass
class Receiver:
    """An HTTP server in a thread that records each request and answers with ``responder``."""

    url: str
    requests: list
    server: ThreadingHTTPServer
    status: list  # [status code] the next answers use; change it to make the receiver fail


def start_receiver(responder=None) -> Receiver:
    requests: list = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = {"method": self.command, "path": self.path, "headers": self.headers, "body": body}
            requests.append(request)
            code, payload = (responder(request) if responder else (status[0], {}))
            if status[0] != 200:
                code, payload = status[0], {"status_code": status[0], "errors": [{"error": "Test",
                                                                                  "message": "try later"}]}
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = _handle
        do_GET = _handle

        def log_message(self, *args) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Receiver(f"http://127.0.0.1:{server.server_address[1]}", requests, server, status)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP receiver answering 200 {} to everything."""
    running = start_receiver()
    try:
        yield running
    finally:
        running.server.shutdown()
        running.server.server_close()
