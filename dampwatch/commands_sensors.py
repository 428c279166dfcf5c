"""Commands for sensors from other systems: ``ingest-http`` (network servers that push) and ``codecs``."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from dampwatch.commands_common import pass_context

if TYPE_CHECKING:
    from core.settings import Settings

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


@click.command("codecs")
def codecs() -> None:
    """List the built-in LoRaWAN payload codecs: the names for the device map's codec column."""
    from rich.table import Table

    from dampwatch.commands_common import out
    from ingest.codecs import CODECS, codec_names

    table = Table("codec", "aliases", "vendor", "sensors", "chosen without a map row")
    for name in codec_names():
        codec = CODECS[name]
        aliases = sorted(alias for alias, other in CODECS.items() if other is codec and alias != name)
        ports = f" on fPort {', '.join(map(str, sorted(codec.fports)))}" if codec.fports else ""
        shared = any(other is not codec and other.name != codec.name and set(other.dev_eui_prefixes)
                     & set(codec.dev_eui_prefixes) for other in CODECS.values())
        if not codec.dev_eui_prefixes:
            automatic = "no"
        elif shared:
            automatic = f"no (DevEUI {', '.join(codec.dev_eui_prefixes)}… has several models)"
        else:
            automatic = f"DevEUI {', '.join(codec.dev_eui_prefixes)}…{ports}"
        table.add_row(name, ", ".join(aliases), codec.vendor, codec.models, automatic)
    out.print(table)
    out.print("Name a device's codec in DAMPWATCH_INGEST_DEVICE_MAP_FILE: key,device_id,codec "
              "(e.g. a84041000181e4c2,bath-12a,dragino-lht65). A vendor range shared by several codecs lists them "
              "in the dead letter of an uplink it cannot decode.")


def sensor_checks(settings: Settings) -> list[tuple[str, Callable[[], object]]]:
    """Checks for ``dampwatch --check-config``: each a (name, callable that raises what is wrong)."""
    checks: list[tuple[str, Callable[[], object]]] = []
    if settings.ingest_adapters.strip() or settings.ingest_device_map_file:
        from ingest.adapters import registry_from_settings

        checks.append(("adapters and device map", lambda: registry_from_settings(settings)))
    if settings.ingest_http_integrations.strip() or settings.ingest_http_secrets:
        from ingest.http import integrations_from_settings

        checks.append(("HTTP integrations", lambda: integrations_from_settings(settings)))
    return checks


COMMANDS = [ingest_http, codecs]
