"""The commands for cases and inspections: ``schedule`` and ``findings export``.

``dampwatch/cli.py`` registers ``COMMANDS``. Each command gets the :class:`dampwatch.cli.Context`;
``dampwatch.cli`` is imported only inside functions, so either module can be imported first.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import click
from rich.table import Table

from core.errors import DampWatchError
from dampwatch.commands_common import console, out, pass_context

logger = logging.getLogger(__name__)





def _london_day(value: dt.datetime) -> str:
    from core.workdays import LONDON

    local = value.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b %Y}"


@click.command("schedule")
@click.option("--team", "team_name", required=True, help="The repair team's name, as in 'dampwatch users'.")
@click.option("--days", default=10, show_default=True, type=click.IntRange(1, 60),
              help="How many working days ahead to fill.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), help="First day (default: today, London time).")
@click.option("--accept", is_flag=True, help="Book the proposed inspections (opening cases where needed).")
@pass_context
def schedule(context, team_name: str, days: int, start: dt.datetime | None, accept: bool) -> None:
    """Propose a team's inspections over the next working days: earliest Awaab's Law deadline first.

    Fills the team's remaining daily capacity with open cases not yet investigated, then homes whose risk
    is high or critical (a case is opened for them on --accept), highest risk x vulnerability first.
    """
    from sqlalchemy import select

    from core.model import Team
    from core.scheduling import accept_proposals, propose_schedule
    from core.workdays import london_date

    now = dt.datetime.now(dt.UTC)
    first = start.date() if start else london_date(now)
    try:
        with context.database.session() as session:
            team = session.scalars(select(Team).where(Team.name == team_name)).first()
            if team is None:
                known = ", ".join(session.scalars(select(Team.name).order_by(Team.name))) or "none yet"
                raise click.ClickException(f"there is no team called {team_name!r} (teams: {known})")
            proposals = propose_schedule(session, team, first, days, now)
            table = Table(title=f"Proposed inspections for {team.name} ({team.daily_capacity} a day, {days} "
                          "working days)")
            for column in ("date", "UPRN", "address", "case", "deadline", "risk", "priority", "note"):
                table.add_column(column, justify="right" if column in ("case", "priority") else "left")
            for p in proposals:
                table.add_row(
                    f"{p.date:%a} {p.date.day} {p.date:%b}" if p.date else "-",
                    p.uprn,
                    p.address,
                    str(p.case_id) if p.case_id else "new",
                    _london_day(p.deadline) + (" (emergency)" if p.emergency else ""),
                    f"{p.band} {p.score:.2f}" if p.score is not None else (p.band or "-"),
                    f"{p.priority:.2f}",
                    ("[red]" + p.note + "[/]") if p.late else p.note,
                )
            out.print(table)
            scheduled = [p for p in proposals if p.date is not None]
            if not proposals:
                out.print("nothing to schedule: no open case waits for an inspection and no home is flagged")
                return
            if accept:
                booked = accept_proposals(session, team, scheduled, f"command:schedule ({team.name})", now=now)
                out.print(f"booked {len(booked)} inspections for {team.name}")
            else:
                out.print(f"{len(scheduled)} inspections proposed; run again with --accept to book them")
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("findings")
def findings() -> None:
    """Inspection findings: export them as training labels for the risk model."""


@findings.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV to write, in the format 'dampwatch train --outcomes' reads.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Only findings recorded on or after this day.")
@pass_context
def findings_export(context, output: Path, since: dt.datetime | None) -> None:
    """Write every recorded finding as an outcomes CSV (uprn,date,mould_found,severity,cause,room)."""
    from core.cases import finding_labels, write_finding_labels

    with context.database.session() as session:
        rows = finding_labels(session, since=since.date() if since else None)
    if not rows:
        raise click.ClickException("no inspection finding has been recorded yet" + (" since then" if since else ""))
    count = write_finding_labels(rows, output)
    found = sum(r["mould_found"] == "yes" for r in rows)
    console.print(f"wrote {count} findings ({found} with mould or damp) to {output}; "
                  f"train with: dampwatch train --outcomes {output}")


COMMANDS: list[click.Command] = [schedule, findings]
"""Every command of this module, for ``main.add_command``."""
