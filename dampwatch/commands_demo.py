"""``dampwatch demo``: every box at once on a simulated estate: broker, simulator, ingest, scoring, alarms, then the
dashboard."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from core.settings import Settings
from dampwatch.commands_common import (
    out,
    progress_bar,
)
from dampwatch.commands_core import _device_table
from dampwatch.commands_simulator import (
    _publish_beside,
    _simulate_files,
    _simulation_start,
    broker_for,
)

if TYPE_CHECKING:
    from dampwatch.cli import Context

logger = logging.getLogger("dampwatch")


@click.command()
@click.option("--homes", default=50, show_default=True, help="How many homes the simulated estate has.")
@click.option("--days", default=30.0, show_default=True, help="How many days of readings.")
@click.option("--seed", default=2026, show_default=True, help="Random seed.")
@click.option("--fresh/--keep", default=True, show_default=True,
              help="Start from empty databases in DAMPWATCH_VAR_DIR (the default) or keep what is there.")
@click.option("--serve/--no-serve", default=True, show_default=True,
              help="End by serving the dashboard on the simulated estate until Ctrl-C.")
@click.pass_context
def demo(ctx: click.Context, homes: int, days: float, seed: int, fresh: bool, serve: bool) -> None:
    """Run everything on a simulated estate: broker, simulator, ingestor, scoring, alarms; then serve the dashboard."""
    from core.assets import import_assets, read_asset_csv
    from ingest.service import Ingestor

    context: Context = ctx.obj
    settings = context.settings
    var = settings.var_dir
    if fresh:
        _reset_local_data(settings)
    var.mkdir(parents=True, exist_ok=True)
    start_utc = _simulation_start(None, days)
    sim = _simulate_files(homes, days, seed, start_utc, 10, settings, var / "sim", False, var / "sim" / "outcomes.csv")
    rows, errors = read_asset_csv(var / "sim" / "estate.csv")
    if errors:
        raise click.ClickException(f"the simulated estate did not import: {errors[:3]}")
    with context.database.session() as session:
        import_assets(session, rows)
    out.print(f"estate: {homes} homes, {len(rows)} rooms, {len(sim.estate.devices)} devices "
              f"(files in {var / 'sim'})")
    with broker_for(settings, var / "broker") as (url, broker_settings):
        ingestor = Ingestor(broker_settings, context.store, context.database, broker_url=url)
        thread = threading.Thread(target=ingestor.run, name="ingestor", daemon=True)
        thread.start()
        if not ingestor.wait_connected(15):
            raise click.ClickException(f"the ingestor could not connect to {url}")
        params = {"seed": seed, "homes": homes, "days": days, "start": start_utc, "interval_minutes": 10,
                  "prefix": settings.mqtt_topic_prefix}
        _publish_beside(params, sim.message_count, url)
        expected = len(sim.expected)
        _wait_until_stored(context, ingestor, expected, before=0)
        ingestor.stop()
        thread.join(30)
    _print_summary(context, sim, ingestor)
    out.print("\nscoring every home's damp and mould risk from the readings just stored:")
    ctx.invoke(_command(ctx, "score"))
    out.print("the ground truth of each simulated home is in var/sim/truth.csv, to compare with 'dampwatch risk export'")
    out.print("\nevaluating the alarm rules on the new scores (alarms appear in the dashboard):")
    ctx.invoke(_command(ctx, "alerts", "run"))
    if serve:
        from dampwatch.commands_dashboard import serve_demo

        serve_demo(context)


def _command(ctx: click.Context, *path: str) -> click.Command:
    """The command of the root group at ``path`` (e.g. ``"alerts", "run"``)."""
    command = ctx.find_root().command
    for name in path:
        sub = command.get_command(ctx, name) if isinstance(command, click.Group) else None
        if sub is None:
            raise RuntimeError(f"no command {' '.join(path)!r} is wired into the dampwatch command")
        command = sub
    return command


def _reset_local_data(settings: Settings) -> None:
    """Delete the demo's SQLite files and broker data (only local files under var/)."""
    import shutil

    for url in (settings.database_url, settings.readings_url):
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///"):])
            for suffix in ("", "-wal", "-shm"):
                candidate = path.with_name(path.name + suffix)
                if candidate.exists():
                    candidate.unlink()
    shutil.rmtree(settings.var_dir / "broker", ignore_errors=True)


def _wait_until_stored(context: Context, ingestor, expected: int, before: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    with progress_bar() as bar:
        task = bar.add_task("storing", total=expected, rate="")
        while time.monotonic() < deadline:
            stored = int(ingestor.metrics.stored._value.get()) - before
            bar.update(task, completed=min(stored, expected))
            if stored >= expected and ingestor.metrics.pending._value.get() == 0:
                return
            time.sleep(0.2)
    logger.warning("gave up waiting after %d s: %d of %d readings stored", timeout_s,
                   int(ingestor.metrics.stored._value.get()) - before, expected)


def _print_summary(context: Context, sim, ingestor) -> None:
    from core.health import device_rows

    with context.database.session() as session:
        rows = device_rows(session, offline_after_s=context.settings.device_offline_after_s)
    rejected = ingestor.metrics.rejected_by_reason()
    metrics = ingestor.metrics.snapshot()
    table = Table("what", "count", title="DampWatch demo summary")
    table.add_row("homes", str(len(sim.estate.homes)))
    table.add_row("devices", str(len(sim.estate.devices)))
    table.add_row("messages published", str(sim.message_count))
    table.add_row("readings stored", str(context.store.count()))
    table.add_row("readings the simulator expects", str(len(sim.expected)))
    table.add_row("duplicates ignored", str(int(metrics.get("dampwatch_ingest_readings_duplicate_total", 0))))
    table.add_row("rejected (dead letters)", str(sum(rejected.values())))
    for reason, count in sorted(rejected.items()):
        table.add_row(f"  {reason}", str(count))
    table.add_row("devices offline", str(sum(r.offline for r in rows)))
    table.add_row("devices with low battery", str(sum(r.low_battery for r in rows)))
    table.add_row("devices with sequence gaps", str(sum(r.seq_gaps > 0 for r in rows)))
    out.print(table)
    worst = sorted(rows, key=lambda r: (not r.offline, not r.low_battery, -r.seq_gaps))[:15]
    out.print(_device_table(worst))
    out.print(f"data left in {context.settings.var_dir}/ (readings: {context.settings.readings_url}; "
              f"app database: {context.settings.redacted()['database_url']})")
    out.print("see every device: dampwatch devices; rejected input: dampwatch dead-letters")


COMMANDS: list[click.Command] = [demo]
