"""Awaab's Law commands: ``export awaab`` (the MHCLG/HACT data model), ``import work-orders`` and ``returns``.

``dampwatch/cli.py`` registers ``COMMANDS``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import click

from core.errors import DampWatchError
from dampwatch.commands_common import console, out, pass_context

logger = logging.getLogger(__name__)


@click.group("export")
def export() -> None:
    """Export records in a shared format (the Awaab's Law data model)."""


@export.command("awaab")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="json", show_default=True,
              help="json: one file with every entity; csv: a folder with one CSV per entity.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The JSON file, or the folder for the CSV files (created if missing).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Cases the landlord became aware of on or "
              "after this day (London).")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="... and on or before this day.")
@pass_context
def export_awaab(context, fmt: str, output: Path, since: dt.datetime | None, until: dt.datetime | None) -> None:
    """Write cases as hazard reports, investigations, hazards, notifications, escalations and work orders."""
    from core.awaab_model import export_cases

    now = dt.datetime.now(dt.UTC)
    with context.database.session() as session:
        data = export_cases(session, now=now, since=since.date() if since else None,
                            until=until.date() if until else None)
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in data.entities.items())
    if fmt == "json":
        if output.is_dir():
            raise click.ClickException(f"{output} is a folder; give a file name for the JSON export")
        output.write_text(data.to_json(), encoding="utf-8")
    else:
        if output.exists() and not output.is_dir():
            raise click.ClickException(f"{output} is a file; give a folder for the CSV export")
        output.mkdir(parents=True, exist_ok=True)
        for name, text in data.to_csv().items():
            (output / name).write_text(text, encoding="utf-8")
    console.print(f"wrote {counts} to {output}")


@click.group("import")
def import_group() -> None:
    """Import updates from a housing management system."""


@import_group.command("work-orders")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), help="Default: from the file's suffix.")
@pass_context
def import_work_orders_command(context, path: Path, fmt: str | None) -> None:
    """Apply work-order status updates in the Awaab's Law data model's work_order shape (CSV or JSON).

    Bad rows are listed and skipped; the others apply. Exit status 1 when any row was refused.
    """
    from core.awaab_model import AwaabModelError, import_work_orders, read_work_order_rows

    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "json")
    try:
        rows = read_work_order_rows(path.read_text(encoding="utf-8-sig"), fmt=fmt)
        with context.database.session() as session:
            report = import_work_orders(session, rows, f"command:import work-orders ({path.name})")
    except (AwaabModelError, DampWatchError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    out.print(f"work orders: {report.created} created, {report.updated} updated, {report.unchanged} unchanged; "
              f"{report.steps_recorded} 'works completed' steps recorded; {len(report.errors)} rows refused")
    for error in report.errors:
        console.print(f"[red]{error}[/]")
    if report.errors:
        raise SystemExit(1)


@click.command("returns")
@click.option("--from", "start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day of the period (London date).")
@click.option("--to", "end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last day of the period (London date).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the return as CSV here (default: print it).")
@pass_context
def returns(context, start: dt.datetime, end: dt.datetime, output: Path | None) -> None:
    """The period's Awaab's Law return: cases by hazard, times to each step, deadlines met and missed, sensors."""
    from core.returns import period_return, return_csv

    if end < start:
        raise click.ClickException("--to is before --from; give the earlier date first")
    with context.database.session() as session:
        text = return_csv(period_return(session, start.date(), end.date()))
    if output is None:
        out.print(text, end="", markup=False, highlight=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote the return for {start.date()} to {end.date()} to {output}")


COMMANDS: list[click.Command] = [export, import_group, returns]
"""Every command of this module, for ``main.add_command``."""
