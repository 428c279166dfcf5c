"""Commands of the ingest box: ``dampwatch ingest`` (the MQTT ingestor), ``dampwatch readings import|export``
(backfill), and what ingest set aside: ``dampwatch dead-letters [prune]`` and ``dampwatch quarantine list|replay``.

Everything shown here came from devices or other systems over MQTT or HTTP, so
it is printed as plain text: Rich markup in it is not interpreted, and control
characters (terminal escape sequences, carriage returns, bidirectional overrides)
are shown as escapes such as ``\\x1b``, never sent to the terminal.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from core.errors import DampWatchError
from dampwatch.commands_common import (
    console,
    exit_if_rejected,
    out,
    pass_context,
    print_row_errors,
    progress_bar,
)

if TYPE_CHECKING:
    from dampwatch.cli import Context

logger = logging.getLogger("dampwatch")

#: Characters never written to a terminal as they are: controls, format characters (bidi overrides), surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def safe_text(value: object, limit: int | None = None) -> Text:
    """``value`` as Rich ``Text`` that shows exactly what it holds: no markup, no terminal control."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    if not text.isprintable():
        text = "".join(
            char if char == " " or unicodedata.category(char) not in _UNSAFE_CATEGORIES else _escape(char)
            for char in text
        )
    return Text(text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@click.group("dead-letters", invoke_without_command=True)
@click.option("--reason", help="Only this reason code (for example unknown_device).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="How many of the newest to show.")
@pass_context
def dead_letters(context, reason: str | None, limit: int) -> None:
    """Messages that could not be stored, newest first, with the reason (one row per message)."""
    if click.get_current_context().invoked_subcommand is None:
        _show_dead_letters(context, reason, limit)


def _show_dead_letters(context, reason: str | None, limit: int) -> None:
    from sqlalchemy import func, select

    from core.model import DeadLetter

    with context.database.session() as session:
        counts = session.execute(
            select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason).order_by(func.count().desc())
        ).all()
        query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
        if reason:
            query = query.where(DeadLetter.reason == reason)
        letters = session.scalars(query).all()
    summary = Table("reason", "count")
    for name, count in counts:
        summary.add_row(safe_text(name), str(count))
    out.print(summary)
    table = Table("received (UTC)", "topic", "reason", "detail", "payload")
    for letter in letters:
        table.add_row(letter.received_at.strftime("%Y-%m-%d %H:%M:%S"), safe_text(letter.topic, 120),
                      safe_text(letter.reason), safe_text(letter.detail, 160), safe_text(letter.payload_excerpt, 80))
    out.print(table)


@dead_letters.command("prune")
@click.option("--older-than-days", type=click.FloatRange(min=0, min_open=True),
              help="Age to prune at (default: DAMPWATCH_RETENTION_DEAD_LETTERS_DAYS, 30 days).")
@pass_context
def prune(context, older_than_days: float | None) -> None:
    """Delete dead letters older than the retention (the ingestor also does this every hour)."""
    from ingest.deadletters import prune_dead_letters

    days = older_than_days if older_than_days is not None else context.settings.retention_dead_letters_days
    if days <= 0:
        console.print("dead letters are kept for ever (retention 0); pass --older-than-days to prune anyway")
        return
    removed = prune_dead_letters(context.database, days)
    out.print(f"pruned {removed} dead letters older than {days:g} days")


@click.group("quarantine")
def quarantine() -> None:
    """Messages that failed to store for a data reason, kept whole until a fix lets them in."""


def _quarantine(context):
    from ingest.quarantine import Quarantine

    return Quarantine(context.settings.spool_dir / "quarantine")


@quarantine.command("list")
@pass_context
def quarantine_list(context) -> None:
    """Every quarantine file: when, how many messages, and why."""
    entries = _quarantine(context).entries()
    table = Table("file", "quarantined (UTC)", "messages", "reason")
    for entry in entries:
        table.add_row(safe_text(entry.name), safe_text(entry.quarantined_at),
                      "damaged spool file" if entry.damaged else str(entry.messages), safe_text(entry.reason, 300))
    out.print(table)
    if not entries:
        out.print("the quarantine is empty")
    else:
        out.print("after fixing the cause: dampwatch quarantine replay FILE (or --all)")


@quarantine.command("replay")
@click.argument("names", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every quarantine file.")
@pass_context
def quarantine_replay(context, names: tuple[str, ...], replay_all: bool) -> None:
    """Write quarantined messages again; a file that goes in is removed, messages that fail again stay."""
    from ingest.isolation import is_outage, write_isolating
    from ingest.quarantine import QuarantineError
    from ingest.writer import BatchWriter

    box = _quarantine(context)
    if replay_all == bool(names):
        raise click.UsageError("name the files to replay (see 'dampwatch quarantine list'), or pass --all")
    try:
        entries = box.entries() if replay_all else [box.find(name) for name in names]
    except QuarantineError as exc:
        raise click.ClickException(str(exc)) from exc
    writer = BatchWriter(context.settings, context.store, context.database)
    failed = False
    for entry in entries:
        try:
            messages = box.load(entry)
            result, rest = write_isolating(writer, messages, box, lambda exc: is_outage(exc, writer.reachable))
        except QuarantineError as exc:
            console.print(safe_text(f"{entry.name}: {exc}"))
            failed = True
            continue
        if rest:
            console.print(safe_text(f"{entry.name}: the store or database stopped answering; kept, try again later"))
            failed = True
            continue
        box.remove(entry)
        again = result.rejected.get("quarantined", 0)
        rejected = sum(result.rejected.values()) - again
        out.print(safe_text(
            f"{entry.name}: {len(messages)} messages: {result.stored} readings stored, {result.duplicates} already "
            f"there, {rejected} dead-lettered" + (f", {again} failed again (quarantined anew)" if again else "")
        ))
        failed = failed or bool(again)
    if failed:
        raise SystemExit(1)


@click.group()
def readings() -> None:
    """Readings: backfill from logger CSVs, export."""


@readings.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "header_map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Header map (column,device_id,quantity) for a logger file with one column per sensor.")
@click.option("--allow-errors", is_flag=True, help="Exit 0 even if some rows were rejected (a partial import).")
@pass_context
def readings_import(context: Context, csv_file: Path, header_map: Path | None, allow_errors: bool) -> None:
    """Backfill readings from a data logger CSV, plain or .gz, UTF-8 or Windows-1252: device_id,ts,temperature_c,
    humidity_pct[,battery_v,seq]; or device_id,ts,quantity,value; or a wide logger file with --map."""
    from ingest.backfill import backfill_csv

    known = _known_devices(context)
    try:
        with progress_bar() as bar:
            task = bar.add_task("storing readings", total=None, rate="")
            report = backfill_csv(csv_file, context.store, known_devices=known, header_map=header_map,
                                  progress=lambda n: bar.advance(task, n))
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out.print(f"read {report.rows} rows ({report.layout} layout, {report.encoding}): {report.stored} readings "
              f"stored, {report.duplicates} already there, {report.rejected} rejected")
    print_row_errors(report.errors)
    exit_if_rejected(report.rejected, allow_errors, report.reject_summary())


def _known_devices(context: Context) -> set[str]:
    from sqlalchemy import select

    from core.model import Device

    with context.database.session() as session:
        return set(session.scalars(select(Device.device_id)))


@readings.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default: stdout).")
@click.option("--device", "device_ids", multiple=True, help="Only this device (repeatable).")
@click.option("--start", type=click.DateTime(), help="From this UTC time (inclusive).")
@click.option("--end", type=click.DateTime(), help="Up to this UTC time (exclusive).")
@pass_context
def readings_export(context: Context, output: Path | None, device_ids: tuple[str, ...],
                    start: dt.datetime | None, end: dt.datetime | None) -> None:
    """Export readings as CSV in the backfill format (so it imports again)."""
    from core.readings import utc
    from ingest.backfill import export_csv

    rows = context.store.iter_readings(
        utc(start) if start else None, utc(end) if end else None, list(device_ids) or None
    )
    if output is None:
        export_csv(rows, sys.stdout)
        return
    with open(output, "w", newline="") as handle:
        count = export_csv(rows, handle)
    console.print(f"wrote {count} readings to {output}")


@click.command()
@click.option("--broker", "broker_url", help="Broker URL (default DAMPWATCH_MQTT_URL or mqtt://127.0.0.1:1883).")
@pass_context
def ingest(context: Context, broker_url: str | None) -> None:
    """Subscribe to the device topics and store readings until stopped (SIGTERM or Ctrl-C)."""
    from ingest.service import Ingestor

    settings = context.settings
    if settings.ingest_workers:  # the worker process opens the store and database; this process stays small
        ingestor = Ingestor(settings, broker_url=broker_url)
    else:
        ingestor = Ingestor(settings, context.store, context.database, broker_url=broker_url)
    if settings.metrics_port:
        port = ingestor.metrics.serve(settings.metrics_port, settings.metrics_bind)
        logger.info("metrics at http://%s:%d/metrics", settings.metrics_bind, port)
    try:
        ingestor.run(handle_signals=True)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        ingestor.metrics.shutdown()
    logger.info("stopped: %s", ingestor.metrics.log_line())


COMMANDS: list[click.Command] = [ingest, readings, dead_letters, quarantine]
