"""Commands of the simulator: ``dampwatch simulate`` (a virtual estate, its files and its MQTT traffic), and the
broker the demo starts when none is configured."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.settings import Settings
from dampwatch.commands_common import (
    console,
    out,
    pass_context,
    progress_bar,
)

if TYPE_CHECKING:
    from dampwatch.cli import Context

logger = logging.getLogger("dampwatch")


@contextlib.contextmanager
def broker_for(settings: Settings, workdir: Path) -> Iterator[tuple[str, Settings]]:
    """The configured broker, or one DampWatch starts for the demo, with settings to match."""
    if settings.mqtt_url:
        yield settings.mqtt_url, settings
        return
    from core.embedded_broker import start_local_broker

    with start_local_broker(workdir) as broker:
        logger.info("started a local broker for the demo at %s", broker.url)
        yield broker.url, settings.model_copy(update={"mqtt_protocol": broker.protocol})


@click.command()
@click.option("--homes", default=50, show_default=True, help="How many homes the estate has.")
@click.option("--days", default=30.0, show_default=True, help="How many days of readings.")
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same estate.")
@click.option("--start", type=click.DateTime(), help="First simulated time, UTC (default: DAYS before now).")
@click.option("--interval", "interval_minutes", default=10, show_default=True, help="Minutes between readings.")
@click.option("--publish/--no-publish", default=True, show_default=True, help="Publish the readings over MQTT.")
@click.option("--broker", "broker_url", help="Broker URL (default DAMPWATCH_MQTT_URL or mqtt://127.0.0.1:1883).")
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write estate.csv, truth.csv (and readings.csv with --csv) here (default: DAMPWATCH_VAR_DIR/sim).")
@click.option("--csv", "write_csv", is_flag=True, help="Also write every reading to readings.csv.")
@click.option("--outcomes", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write simulated inspection outcomes to this CSV.")
@pass_context
def simulate(context: Context, homes: int, days: float, seed: int, start: dt.datetime | None,
             interval_minutes: int, publish: bool, broker_url: str | None, out_dir: Path | None,
             write_csv: bool, outcomes: Path | None) -> None:
    """Simulate an estate's sensors: write its files and publish its readings over MQTT."""
    settings = context.settings
    start_utc = _simulation_start(start, days)
    out_dir = out_dir or settings.var_dir / "sim"
    sim = _simulate_files(homes, days, seed, start_utc, interval_minutes, settings, out_dir, write_csv, outcomes)
    if publish:
        _publish_with_progress(sim, broker_url or settings.broker_url)
    out.print(f"simulated {homes} homes, {len(sim.estate.devices)} devices, {sim.message_count} messages; "
              f"files in {out_dir}")


def _simulation_start(start: dt.datetime | None, days: float) -> dt.datetime:
    if start is not None:
        return start.replace(tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return now - dt.timedelta(days=days)


def _simulate_files(homes, days, seed, start_utc, interval_minutes, settings, out_dir, write_csv, outcomes):
    import simulator

    out_dir.mkdir(parents=True, exist_ok=True)
    with console.status(f"simulating {homes} homes for {days:g} days"):
        estate = simulator.build_estate(seed=seed, homes=homes)
        sim = simulator.simulate(estate, start=start_utc, days=days, interval_minutes=interval_minutes,
                                 prefix=settings.mqtt_topic_prefix)
        simulator.write_estate_csv(estate, out_dir / "estate.csv")
        simulator.write_truth_csv(sim, out_dir / "truth.csv")
        if write_csv:
            simulator.write_readings_csv(sim, out_dir / "readings.csv")
        if outcomes is not None:
            simulator.write_outcomes_csv(sim, outcomes, seed=seed)
    return sim


def _publish_with_progress(sim, url: str):
    import simulator

    started = time.monotonic()
    with progress_bar() as bar:
        task = bar.add_task("publishing", total=sim.message_count, rate="")

        def advance(done: int) -> None:  # publish() reports the running total acknowledged
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, rate=f"{done / elapsed:,.0f} msg/s")

        stats = simulator.publish(sim.iter_messages(), url, progress=advance, client_id="dampwatch-simulator")
    return stats


def _publish_in_process(params: dict, url: str, done, failure) -> None:
    """Child process of the demo: rebuild the same simulation (it is deterministic) and publish it."""
    import simulator

    try:
        estate = simulator.build_estate(seed=params["seed"], homes=params["homes"])
        sim = simulator.simulate(estate, start=params["start"], days=params["days"],
                                 interval_minutes=params["interval_minutes"], prefix=params["prefix"])

        def progress(n: int) -> None:
            done.value = n

        simulator.publish(sim.iter_messages(), url, progress=progress, client_id="dampwatch-simulator")
    except Exception as exc:  # reported to the parent, which says what failed
        failure.value = str(exc)[:500].encode()
        raise


def _publish_beside(params: dict, total: int, url: str) -> None:
    """Publish from a second process, so the simulator and the ingestor each get a core."""
    import ctypes
    import multiprocessing as mp

    context = mp.get_context("spawn")
    done, failure = context.Value("q", 0), context.Array(ctypes.c_char, 512)
    process = context.Process(target=_publish_in_process, args=(params, url, done, failure), daemon=True)
    started = time.monotonic()
    process.start()
    with progress_bar() as bar:
        task = bar.add_task("publishing", total=total, rate="")
        while process.is_alive():
            process.join(0.2)
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done.value, rate=f"{done.value / elapsed:,.0f} msg/s")
    if process.exitcode != 0:
        raise click.ClickException(f"the simulator's publisher failed: {failure.value.decode() or process.exitcode}")


COMMANDS: list[click.Command] = [simulate]
