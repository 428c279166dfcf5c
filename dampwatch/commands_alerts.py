"""The alerts commands: ``alerts run|digest``, ``outbox deliver|list|retry`` and ``tenants import``.

``dampwatch/cli.py`` registers ``COMMANDS`` on its ``main`` group. Each command gets the
:class:`dampwatch.cli.Context` (settings, app database). This module imports ``dampwatch.cli`` only inside
functions, so either module can be imported first.

Processes
---------
* ``dampwatch alerts run --every 300``: evaluates the rules every 5 minutes (sensor health every time, the
  risk rules whenever ``dampwatch score`` has finished a new run), escalates, and sends the daily digest.
* ``dampwatch outbox deliver --forever``: the delivery worker. Run one or more; they never send a message
  twice (see ``alerts.outbox``).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from pathlib import Path

import click
from rich.table import Column, Table
from rich.text import Text

from core.errors import DampWatchError
from dampwatch.commands_common import console, out, pass_context

logger = logging.getLogger(__name__)





class _Stopper:
    """Set by SIGTERM or Ctrl-C: long-running loops finish their pass and stop."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.event.set())

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when asked to stop."""
        try:
            return self.event.wait(seconds)
        except KeyboardInterrupt:
            self.event.set()
            return True


# -- alerts ------------------------------------------------------------------------------------------------------


@click.group("alerts")
def alerts() -> None:
    """Alarm rules, escalation and the staff digest."""


def _summary(report) -> str:
    return (f"{report.observations} observations: {len(report.raised)} alarms raised, {len(report.cleared)} cleared, "
            f"{len(report.escalated)} escalated, {report.messages} tenant messages queued, {report.digests} digests")


@alerts.command("run")
@click.option("--every", "every_s", type=click.FloatRange(min=10), default=None,
              help="Keep running, evaluating every SECONDS (sensor health each time; risk rules when a new "
              "scoring run has finished).")
@pass_context
def alerts_run(context, every_s: float | None) -> None:
    """Evaluate the alarm rules, escalate unacknowledged alarms, queue messages and the daily digest."""
    from alerts.engine import run_once

    stopper = _Stopper()
    stopper.install()
    while True:
        try:
            report = run_once(context.database, context.settings, store=context.store)
        except DampWatchError as exc:
            raise click.ClickException(str(exc)) from exc
        if every_s is None:
            out.print(_summary(report))
            return
        if report.raised or report.cleared or report.escalated or report.messages or report.digests:
            logger.info("%s", _summary(report))
        if stopper.wait(every_s):
            logger.info("alerts run stopped")
            return


@alerts.command("digest")
@click.option("--force", is_flag=True, help="Send today's digest now, even before the digest hour or with "
              "nothing new (once a day per address).")
@pass_context
def alerts_digest(context, force: bool) -> None:
    """Queue the staff's daily digest of new and escalating alarms (DAMPWATCH_ALERTS_DIGEST_TO)."""
    from alerts.digest import recipients, send_digest_if_due

    if not recipients(context.settings):
        raise click.ClickException("DAMPWATCH_ALERTS_DIGEST_TO is empty; set the staff addresses to send to")
    with context.database.session() as session:
        messages = send_digest_if_due(session, context.settings, dt.datetime.now(dt.UTC), force=force)
        addresses = [m.recipient for m in messages]
    if addresses:
        out.print(f"queued the digest for {', '.join(addresses)}; 'dampwatch outbox deliver' sends it")
    else:
        out.print("no digest queued: already sent today, or nothing new (use --force to send one anyway)")


# -- outbox ------------------------------------------------------------------------------------------------------


@click.group("outbox")
def outbox() -> None:
    """Messages waiting to be sent, sent and failed."""


@outbox.command("deliver")
@click.option("--forever", is_flag=True, help="Keep delivering (every DAMPWATCH_OUTBOX_POLL_S seconds when idle).")
@click.option("--limit", default=200, show_default=True, help="Most messages per pass.")
@pass_context
def outbox_deliver(context, forever: bool, limit: int) -> None:
    """Send the messages that are due, with retries and backoff; record each outcome."""
    from alerts.channels import build_senders
    from alerts.outbox import RetryPolicy, deliver_due

    settings = context.settings
    try:
        senders = build_senders(settings)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    policy = RetryPolicy.from_settings(settings)
    missing = sorted({"email", "sms", "webhook"} - set(senders))
    if missing:
        console.print(f"[yellow]not configured, their messages wait: {', '.join(missing)}[/]")
    stopper = _Stopper()
    stopper.install()
    total = {"sent": 0, "retrying": 0, "failed": 0}
    while True:
        report = deliver_due(context.database, senders, policy, limit=limit)
        for key in total:
            total[key] += getattr(report, key)
        if report:
            logger.info("outbox: %d sent, %d to retry, %d failed, %d interrupted sends marked failed",
                        report.sent, report.retrying, report.failed, report.recovered)
        if not forever:
            out.print(f"{total['sent']} sent, {total['retrying']} to retry later, {total['failed']} failed")
            return
        if report.sent + report.retrying + report.failed >= limit:
            continue  # more may be waiting
        if stopper.wait(settings.outbox_poll_s):
            logger.info("outbox worker stopped: %s", total)
            return


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sending", "sent", "failed", "suppressed"]),
              help="Only messages with this status.")
@click.option("--limit", default=50, show_default=True, help="Most rows to show, newest first.")
@pass_context
def outbox_list(context, status: str | None, limit: int) -> None:
    """List messages in the outbox with their status, attempts and last error (bodies are not shown)."""
    from sqlalchemy import func, select

    from alerts.messages import LONDON
    from core.model_alerts import OutboxMessage

    with context.database.session() as session:
        counts = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
                      .all())
        query = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit)
        if status:
            query = query.where(OutboxMessage.status == status)
        rows = session.scalars(query).all()
        table = Table("id", "created (London)", "channel", "to", "type", "status", "attempts", "next try / sent",
                      Column("why / last error", overflow="fold"))
        for row in rows:
            when = row.sent_at or row.next_attempt_at or row.not_before
            recipient = row.recipient.splitlines()[0] if row.recipient else "-"
            why = row.reason or row.last_error or ""
            if row.status == "failed" and "dampwatch outbox retry" not in why:
                why += f" (to send it again: dampwatch outbox retry {row.id})"
            # Text, not markup: an error from a mail server is shown as it is, whole (with how to retry).
            table.add_row(str(row.id), f"{row.created_at.astimezone(LONDON):%d %b %H:%M}", row.channel,
                          Text(recipient), row.message_type, row.status, str(row.attempts),
                          f"{when.astimezone(LONDON):%d %b %H:%M}" if when else "-",
                          Text(" ".join(why.split())))
    out.print(table)
    out.print(", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "sending", "sent", "failed", "suppressed")))


@outbox.command("retry")
@click.argument("message_ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Every failed message.")
@pass_context
def outbox_retry(context, message_ids: tuple[int, ...], all_failed: bool) -> None:
    """Queue failed messages (MESSAGE_IDS, or --failed for all) to be sent again."""
    from alerts.outbox import retry

    if not message_ids and not all_failed:
        raise click.UsageError("give message ids, or --failed for every failed message")
    with context.database.session() as session:
        count = retry(session, list(message_ids), failed=all_failed, now=dt.datetime.now(dt.UTC))
    out.print(f"{count} message(s) queued again")


# -- tenants -----------------------------------------------------------------------------------------------------


@click.group("tenants")
def tenants() -> None:
    """Tenants' contact details, preferences and consent."""


@tenants.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_context
def tenants_import(context, csv_file: Path) -> None:
    """Import or update tenants from CSV_FILE (uprn,name,email,phone,channel,language,consent,...)."""
    from alerts.tenants import import_tenants, read_tenant_csv

    try:
        rows, errors = read_tenant_csv(csv_file)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    with context.database.session() as session:
        report = import_tenants(session, rows)
    errors = sorted(errors + report.errors, key=lambda e: e.line)
    total = len(rows) + len(errors) - len(report.errors)
    out.print(f"imported {total - len(errors)} of {total} rows: {report.created} new tenants, {report.updated} "
              f"updated, {report.unchanged} unchanged")
    for warning in report.warnings:
        console.print(f"[yellow]note[/] {warning}")
    if errors:
        console.print(f"[yellow]{len(errors)} row(s) were not imported; fix them and import again:[/]")
        for error in errors[:50]:
            console.print(f"  {error}")
        if len(errors) > 50:
            console.print(f"  … and {len(errors) - 50} more")


COMMANDS: list[click.Command] = [alerts, outbox, tenants]
