"""Personal data commands: ``tenants export`` and ``tenants erase`` (subject access and erasure), ``retention run``.

The rules live in ``alerts.privacy``; these commands read the arguments, call it and print what happened. The
``tenants`` group is the alerts commands' (``tenants import``); this module adds two commands to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table
from rich.text import Text

from core.errors import DampWatchError
from dampwatch.commands_alerts import tenants
from dampwatch.commands_common import console, out, pass_context

if TYPE_CHECKING:
    from core.db import Database


@tenants.command("export")
@click.argument("who")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the pack to this file (mode 0600) instead of standard output.")
@pass_context
def tenants_export(context, who: str, output: Path | None) -> None:
    """A subject-access pack for the household WHO names (a UPRN, an email address or a mobile number), as JSON."""
    from alerts.privacy import subject_access

    try:
        with context.database.session() as session:
            pack = subject_access(session, context.settings, who, actor="dampwatch tenants export")
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    text = json.dumps(pack, indent=2, ensure_ascii=False, default=str) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(output, 0o600)
    console.print(f"wrote the subject-access pack for UPRN {pack['home']['uprn']} to {output}: "
                  f"{len(pack['tenants'])} tenant(s), {len(pack['messages'])} message(s), {len(pack['cases'])} "
                  f"case(s), {len(pack['audit_entries'])} audit entries")


@tenants.command("erase")
@click.argument("who")
@click.option("--dry-run", is_flag=True, help="Say what would be erased and kept; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def tenants_erase(context, who: str, dry_run: bool, yes: bool) -> None:
    """Erase the personal data of the tenants WHO names (a UPRN, email or mobile), keeping what the law requires."""
    from alerts.privacy import erase_tenants

    if not dry_run and not yes:
        click.confirm(f"Erase the personal data of the tenants of {who}? This cannot be undone", abort=True)
    try:
        with context.database.session() as session:
            report = erase_tenants(session, context.settings, who, actor="dampwatch tenants erase", dry_run=dry_run)
            if dry_run:
                session.rollback()
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "would erase" if dry_run else "erased"
    out.print(f"UPRN {report.uprn}: {verb} {len(report.tenants_erased)} tenant(s), blanked "
              f"{report.messages_blanked} message(s), {report.case_texts_erased} text(s) on closed cases, "
              f"{report.sign_in_links_deleted} sign-in link(s)")
    for reason in report.kept_because:
        out.print(Text(f"kept: {reason}"))


@click.group("retention")
def retention() -> None:
    """How long personal data is kept (DAMPWATCH_RETENTION_*_DAYS)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Report what is due for deletion; delete nothing.")
@pass_context
def retention_run(context, dry_run: bool) -> None:
    """Delete readings, dead letters, messages, audit entries and closed cases older than their retention."""
    from alerts.privacy import apply_retention

    prune_dead_letters: Callable[[Database, float], int] | None
    try:
        from ingest.deadletters import prune_dead_letters  # the ingest box's own pruning, when it has one
    except ImportError:
        prune_dead_letters = None
    lines = apply_retention(context.database, context.settings, dry_run=dry_run,
                            prune_dead_letters=prune_dead_letters)
    table = Table("data", "kept for", "older than", "due for deletion" if dry_run else "deleted", "note")
    for line in lines:
        table.add_row(line.data_class.replace("_", " "), f"{line.days} days" if line.days else "for ever",
                      f"{line.cutoff:%Y-%m-%d %H:%M} UTC" if line.cutoff else "-", str(line.rows), Text(line.note))
    out.print(table)
    if dry_run:
        out.print("dry run: nothing was deleted; run without --dry-run to delete")


COMMANDS = [retention]
