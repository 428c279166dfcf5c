"""HTTP ingest: network servers that push (ChirpStack's HTTP integration, The Things Stack webhooks).

Each integration has a name, a format and its own bearer secret, and is served at
``<DAMPWATCH_INGEST_HTTP_PATH>/<name>`` (default ``/ingest/<name>``)::

    DAMPWATCH_INGEST_HTTP_INTEGRATIONS="council-cs=chirpstack, council-tts=tts"
    DAMPWATCH_INGEST_HTTP_SECRETS="council-cs=<long random secret>, council-tts=<another>"

A request is ``POST`` with ``Authorization: Bearer <secret>`` and a JSON body of at most
``DAMPWATCH_INGEST_HTTP_MAX_BODY_BYTES``. Its body becomes one raw message on the topic
``http/<format>/<name>[/<event>]`` and goes through the same :class:`ingest.writer.BatchWriter`
as MQTT messages: the same adapters and built-in codecs, the same dead letters, the same
device health. The answer comes only after the write has returned, that is once the
readings (and any dead letter) are durable:

* ``200`` with counts: stored, or recorded as a dead letter (a bad message is not retried);
* ``503`` (with ``Retry-After``) when the readings store or the app database cannot take it:
  the sender retries, and the store keeps one reading per ``(device_id, ts)``, so a retry is
  stored once; ``500`` if writing failed for any other reason (nothing was acknowledged);
* ``401`` without the right secret, ``404`` for an unknown integration, ``405`` for other
  methods, ``411`` without ``Content-Length``, ``413`` for a body over the limit.

ChirpStack names the event in the ``event`` query parameter (``?event=up``); only ``up``
events carry readings. The Things Stack sends each message type to its own path; send
uplinks (any path under the integration is accepted) and the message type is read from the body.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from core.errors import ConfigError, DampWatchError
from core.settings import name_value_pairs
from ingest.batch import BatchResult, RawMessage, Writer

if TYPE_CHECKING:
    from core.db import Database
    from core.readings import ReadingsStore
    from core.settings import Settings

logger = logging.getLogger(__name__)

#: Formats an HTTP integration may have, and the adapter that reads its messages.
HTTP_FORMATS = {"chirpstack": "chirpstack-http", "tts": "tts-http"}
#: Routes the HTTP ingest's own writer uses (topics it makes up; they never come from a broker).
HTTP_ROUTES = "http/chirpstack/#=chirpstack-http, http/tts/#=tts-http"
INTEGRATION_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CHIRPSTACK_EVENT = re.compile(r"^[a-z]{1,16}$")
#: Seconds a sender is asked to wait before retrying after a 503.
RETRY_AFTER_S = 30
#: Smallest secret accepted: shorter ones are refused when the settings are read.
MIN_SECRET_CHARS = 16


class HttpIngestError(DampWatchError):
    """The HTTP ingest cannot start (for example the port is taken)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Integration:
    """One network server pushing to DampWatch: its name (the last part of the URL), format and secret."""

    name: str
    format: str
    secret: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: dict[str, object]  # sent as JSON
    headers: tuple[tuple[str, str], ...] = ()


def integrations_from_settings(settings: Settings) -> dict[str, Integration]:
    """The configured integrations; :class:`ConfigError` saying how to fix a bad name, format or secret."""
    formats = name_value_pairs(settings.ingest_http_integrations, "DAMPWATCH_INGEST_HTTP_INTEGRATIONS")
    secrets = name_value_pairs(settings.ingest_http_secrets, "DAMPWATCH_INGEST_HTTP_SECRETS")
    if not formats:
        raise ConfigError(
            "no HTTP integration is configured; set DAMPWATCH_INGEST_HTTP_INTEGRATIONS (e.g. council-cs=chirpstack) "
            "and DAMPWATCH_INGEST_HTTP_SECRETS (council-cs=<secret>)"
        )
    found = {}
    for name, kind in formats.items():
        if not INTEGRATION_NAME.match(name):
            raise ConfigError(f"HTTP integration name {name!r} may hold only letters, digits, '.', '_' and '-'")
        if kind not in HTTP_FORMATS:
            raise ConfigError(f"HTTP integration {name!r}: format {kind!r} is not one of {', '.join(HTTP_FORMATS)}")
        secret = secrets.get(name)
        if secret is None or len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"HTTP integration {name!r} needs a secret of at least {MIN_SECRET_CHARS} characters in "
                f"DAMPWATCH_INGEST_HTTP_SECRETS ({name}=<secret>; e.g. from 'openssl rand -hex 32')"
            )
        found[name] = Integration(name, kind, secret)
    unknown = set(secrets) - set(formats)
    if unknown:
        raise ConfigError(f"DAMPWATCH_INGEST_HTTP_SECRETS names integrations that do not exist: {sorted(unknown)}")
    return found


def _write_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import SQLAlchemyError

    return (DampWatchError, OSError, SQLAlchemyError)


class HttpIngest:
    """Turns authenticated requests into raw messages and writes them before answering.

    ``writer`` must route the ``http/...`` topics (:func:`http_writer_settings`). One write
    at a time (the writer is not thread-safe); the server's threads wait their turn.
    """

    def __init__(
        self,
        writer: Writer,
        integrations: Mapping[str, Integration],
        *,
        path: str = "/ingest",
        max_body_bytes: int = 65536,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.writer = writer
        self.integrations = dict(integrations)
        self.path = "/" + path.strip("/")
        self.max_body_bytes = max_body_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._errors = _write_errors()
        self.counts: dict[int, int] = {}

    def route(self, target: str) -> tuple[Integration | None, str | None]:
        """The integration a request target names, and ChirpStack's ``event`` parameter."""
        split = urlsplit(target)
        head = self.path.rstrip("/") + "/"
        if not split.path.startswith(head):
            return None, None
        name = split.path[len(head):].split("/", 1)[0]
        event = parse_qs(split.query).get("event", [None])[0]
        return self.integrations.get(name), event

    def authorised(self, integration: Integration, header: str | None) -> bool:
        """Whether ``header`` is ``Bearer <the integration's secret>`` (compared in constant time)."""
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), integration.secret.encode())

    def topic(self, integration: Integration, event: str | None) -> str:
        if integration.format == "chirpstack":
            return f"http/chirpstack/{integration.name}/{event or 'up'}"
        return f"http/tts/{integration.name}"

    def handle(self, integration: Integration, event: str | None, body: bytes) -> Response:
        """Write one authenticated request's body; the answer says whether it is durable."""
        if integration.format == "chirpstack" and event is not None and not CHIRPSTACK_EVENT.match(event):
            return self._answer(Response(400, {"error": "the 'event' parameter must be a ChirpStack event name"}))
        message = RawMessage(self.topic(integration, event), body, self._clock())
        try:
            with self._lock:
                result = self.writer.write([message])
        except self._errors as exc:
            logger.warning("HTTP ingest from %s not written (%s); answering 503 so the sender retries",
                           integration.name, exc)
            return self._answer(Response(503, {"error": "the readings store or the app database is unavailable; "
                                                        "retry later"},
                                         (("Retry-After", str(RETRY_AFTER_S)),)))
        except Exception:  # a bug, not the sender's fault: nothing is acknowledged, so the sender retries
            logger.exception("HTTP ingest from %s failed unexpectedly; answering 500", integration.name)
            return self._answer(Response(500, {"error": "internal error; the request was not stored, retry later"}))
        return self._answer(Response(200, _summary(result)))

    def _answer(self, response: Response) -> Response:
        self.counts[response.status] = self.counts.get(response.status, 0) + 1
        return response


def _summary(result: BatchResult) -> dict[str, object]:
    return {
        "stored": result.stored,
        "duplicates": result.duplicates,
        "ignored": result.ignored,
        "rejected": dict(result.rejected),
    }


def http_writer_settings(settings: Settings) -> Settings:
    """The settings with the HTTP topics routed to their adapters (the broker's own routes are kept)."""
    routes = ", ".join(part for part in (settings.ingest_adapters.strip(), HTTP_ROUTES) if part)
    return settings.model_copy(update={"ingest_adapters": routes})


def _handler(ingest: HttpIngest) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "DampWatch-ingest"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: without TCP_NODELAY, Nagle's algorithm and the sender's
        # delayed ACK hold every answer back ~40 ms (bench/http_ingest.py, one client: 22 requests/s, 1 559 with it).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

        def _send(self, response: Response) -> None:
            body = json.dumps(response.body).encode()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _refuse(self, status: int, error: str, *headers: tuple[str, str], close: bool = False) -> None:
            if close:
                self.close_connection = True
                headers = (*headers, ("Connection", "close"))
            self._send(ingest._answer(Response(status, {"error": error}, tuple(headers))))

        def do_POST(self) -> None:
            integration, event = ingest.route(self.path)
            if integration is None:
                self._refuse(404, "no HTTP integration at this address; check the URL", close=True)
                return
            if not ingest.authorised(integration, self.headers.get("Authorization")):
                self._refuse(401, "send the integration's secret as 'Authorization: Bearer <secret>'",
                             ("WWW-Authenticate", 'Bearer realm="dampwatch-ingest"'), close=True)
                return
            length_text = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") or length_text is None or not length_text.isdigit():
                self._refuse(411, "send the body with a Content-Length", close=True)
                return
            length = int(length_text)
            if length > ingest.max_body_bytes:
                self._refuse(413, f"the body is {length} bytes; at most {ingest.max_body_bytes} are accepted",
                             close=True)
                return
            body = self.rfile.read(length)
            if len(body) != length:
                self.close_connection = True
                return  # the sender went away mid-body: nothing was written, nothing to answer
            self._send(ingest.handle(integration, event, body))

        def _not_allowed(self) -> None:
            self._refuse(405, "use POST", ("Allow", "POST"), close=True)

        do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed

    return Handler


class HttpIngestServer:
    """The HTTP ingest listening on ``bind:port`` in its own threads; ``port=0`` picks a free port."""

    def __init__(self, ingest: HttpIngest, bind: str = "127.0.0.1", port: int = 8090) -> None:
        self.ingest = ingest
        try:
            self.server = ThreadingHTTPServer((bind, port), _handler(ingest))
        except OSError as exc:
            raise HttpIngestError(f"cannot listen on {bind}:{port} ({exc.strerror}); choose another "
                                  "DAMPWATCH_INGEST_HTTP_PORT") from exc
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        if isinstance(host, bytes):  # typeshed allows it; an AF_INET or AF_INET6 server's host is text
            host = host.decode()
        return f"http://{host}:{port}{self.ingest.path}"

    def start(self) -> HttpIngestServer:
        self._thread = threading.Thread(target=self.server.serve_forever, name="dampwatch-ingest-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        """Stop accepting requests, let the one being written finish, and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HttpIngestServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def build_http_ingest(settings: Settings, store: ReadingsStore, database: Database) -> HttpIngest:
    """The HTTP ingest the settings describe, writing with its own :class:`ingest.writer.BatchWriter`
    (wrapped in a replay window when the store can say it restarted)."""
    from ingest.replay import with_replay_window
    from ingest.writer import BatchWriter

    integrations = integrations_from_settings(settings)
    plain = BatchWriter(http_writer_settings(settings), store, database)
    # A store that answers before its data is on disk (VictoriaMetrics) gets the same replay window as the MQTT path,
    # in a folder of its own so that `dampwatch ingest` and `dampwatch ingest-http` never share one.
    writer = with_replay_window(plain, store, settings, folder="recent-http")
    return HttpIngest(writer, integrations, path=settings.ingest_http_path,
                      max_body_bytes=settings.ingest_http_max_body_bytes)
