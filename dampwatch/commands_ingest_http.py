"""``dampwatch ingest-http``: the HTTP ingest for network servers that push (ChirpStack, The Things Stack)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from dampwatch.commands_common import pass_context

logger = logging.getLogger("dampwatch")


@click.command("ingest-http")
@click.option("--port", type=int, default=None, help="Override DAMPWATCH_INGEST_HTTP_PORT (0: any free port).")
@pass_context
def ingest_http(context, port: int | None) -> None:
    """Take readings pushed over HTTP by ChirpStack's HTTP integration or The Things Stack webhooks.

    Each integration is served at <DAMPWATCH_INGEST_HTTP_PATH>/<name> and answers 200 only once
    what it sent is stored (or recorded as a dead letter), 503 while the store is down (the
    sender retries). Runs until SIGTERM or Ctrl-C.
    """
    from core.errors import DampWatchError
    from ingest.http import HttpIngestServer, build_http_ingest

    settings = context.settings
    try:
        ingest = build_http_ingest(settings, context.store, context.database)
        server = HttpIngestServer(ingest, settings.ingest_http_bind,
                                  settings.ingest_http_port if port is None else port)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        logger.info("received %s: finishing the request being written and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    server.start()
    names = ", ".join(f"{server.url}/{name}" for name in ingest.integrations)
    logger.info("HTTP ingest listening: %s", names)
    try:
        stop.wait()
    finally:
        server.stop()
    logger.info("stopped; answers by status: %s", dict(sorted(ingest.counts.items())))


COMMANDS = [ingest_http]
