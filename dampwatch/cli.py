"""The ``dampwatch`` command: a thin composition root that wires the boxes into processes.

This module holds only the wiring: the root group (settings, logging, ``--check-config``), the
:class:`Context` every command gets, and the list of command modules, one per box
(``commands_core``, ``commands_ingest``, ``commands_simulator``, ``commands_analytics``, ...), each
exporting ``COMMANDS``. Nothing outside ``dampwatch`` imports it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import click

from core.errors import DampWatchError
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from core.db import Database
    from core.readings import ReadingsStore

logger = logging.getLogger("dampwatch")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


class Context:
    """What every command gets: settings, and the parts built from them on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._database: Database | None = None
        self._store: ReadingsStore | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            from core.db import Database

            self._database = Database(self.settings.database_url)
        return self._database

    @property
    def store(self) -> ReadingsStore:
        if self._store is None:
            from core.readings import open_store

            self._store = open_store(self.settings.readings_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None  # asked for again (a forked dashboard process), a new one is opened
        if self._database is not None:
            self._database.dispose()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
             invoke_without_command=True)
@click.option("--check-config", is_flag=True, help="Check the settings, say what is wrong and how to fix it, and exit.")
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]), default=None,
              help="Override DAMPWATCH_LOG_LEVEL.")
@click.version_option(package_name="dampwatch")
@click.pass_context
def main(ctx: click.Context, check_config: bool, log_level: str | None) -> None:
    """DampWatch: find damp and mould in social homes before tenants get ill.

    Settings come from DAMPWATCH_* environment variables (see 'dampwatch settings')
    and an optional TOML file named by DAMPWATCH_CONFIG.
    """
    try:
        settings = load_settings()
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    _setup_logging(log_level or settings.log_level)
    if check_config:
        from dampwatch.commands_core import check_config as run_config_check

        ctx.exit(run_config_check(settings))
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)
    context = Context(settings)
    ctx.obj = context
    ctx.call_on_close(context.close)


# Each box's commands live in a module of their own with a COMMANDS list; they are wired in here.
COMMAND_MODULES = (
    "dampwatch.commands_core",  # settings, db upgrade, properties import, devices, broker config
    "dampwatch.commands_ingest",  # ingest, readings import|export, dead-letters [prune], quarantine list|replay
    "dampwatch.commands_simulator",  # simulate
    "dampwatch.commands_demo",  # demo
    "dampwatch.commands_analytics",  # score, risk export, train, evaluate, weather import
    "dampwatch.commands_dashboard",  # serve, users
    "dampwatch.commands_cases",  # schedule
    "dampwatch.commands_alerts",  # alerts run, outbox deliver, tenants import
    "dampwatch.commands_sensors",  # ingest-http, codecs
    "dampwatch.commands_privacy",  # tenants export|erase, retention run
    "dampwatch.commands_awaab",  # export awaab, import work-orders, returns
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        for command in importlib.import_module(name).COMMANDS:
            main.add_command(command)


_register_commands()
