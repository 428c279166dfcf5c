"""The ``dampwatch`` command: a thin composition root that wires the boxes into processes.

Nothing imports this module; each command reads settings, builds the parts
it needs and hands over to them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from core.errors import DampWatchError
from core.settings import Settings, describe_settings, load_settings

logger = logging.getLogger("dampwatch")
# Piped output (logs, files, tests) gets wide tables rather than rich's 80-column default.
console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def progress_bar(transient: bool = False) -> Progress:
    """The progress bar every long job shows."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal and not _force_progress(),
    )


def _force_progress() -> bool:
    import os

    return os.environ.get("DAMPWATCH_PROGRESS", "") == "1"


class Context:
    """What every command gets: settings, and the parts built from them on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._database = None
        self._store = None

    @property
    def database(self):
        if self._database is None:
            from core.db import Database

            self._database = Database(self.settings.database_url)
        return self._database

    @property
    def store(self):
        if self._store is None:
            from core.readings import open_store

            self._store = open_store(self.settings.readings_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        if self._database is not None:
            self._database.dispose()


pass_context = click.make_pass_decorator(Context)


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
        ctx.exit(_check_config(settings))
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)
    context = Context(settings)
    ctx.obj = context
    ctx.call_on_close(context.close)


def _check_config(settings: Settings) -> int:
    """Try every part the settings point at; print what fails and how to fix it."""
    from core.db import Database
    from core.mqtt import BrokerAddress, wait_for_port
    from core.readings import open_store

    problems = 0
    for key, value in settings.redacted().items():
        out.print(f"  {key} = {value}")
    checks = [
        ("app database", lambda: Database(settings.database_url).dispose()),
        ("readings store", lambda: open_store(settings.readings_url).close()),
    ]
    if settings.mqtt_url:
        address = BrokerAddress.from_url(settings.mqtt_url)
        checks.append(("MQTT broker", lambda: wait_for_port(address.host, address.port, 3)))
    checks += _sensor_checks(settings)
    for name, check in checks:
        try:
            check()
            out.print(f"[green]ok[/]    {name}")
        except Exception as exc:  # report every failure, whatever raised it
            problems += 1
            out.print(f"[red]fail[/]  {name}: {exc}")
    if not settings.mqtt_url:
        out.print("note  DAMPWATCH_MQTT_URL is not set: 'dampwatch demo' starts its own broker; "
                  "'dampwatch ingest' will use mqtt://127.0.0.1:1883")
    from core.broker_durability import crash_window_notes

    for kind, text in crash_window_notes(settings):  # warnings: they do not fail the check
        out.print(f"[yellow]warn[/]  {text}" if kind == "warn" else f"[green]ok[/]    {text}")
    return 1 if problems else 0


def _sensor_checks(settings: Settings) -> list:
    """Adapter routes, the device map (with its codec column) and HTTP integrations, when configured."""
    from dampwatch.commands_sensors import sensor_checks

    return sensor_checks(settings)


@main.command("settings")
def settings_command() -> None:
    """List every DAMPWATCH_* setting with its default."""
    table = Table("variable", "default", "what it is for")
    for name, default, description in describe_settings():
        table.add_row(name, default, description)
    out.print(table)


# -- database ---------------------------------------------------------------------------

@main.group()
def db() -> None:
    """The app database."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Create or migrate the app database schema to the latest version."""
    context.database  # noqa: B018 - opening it runs the migrations
    out.print(f"app database is up to date: {context.settings.redacted()['database_url']}")


# -- properties, devices, readings --------------------------------------------------------

@main.group()
def properties() -> None:
    """The asset register: properties, rooms and devices."""


@properties.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--allow-errors", is_flag=True, help="Exit 0 even if some rows were rejected (a partial import).")
@pass_context
def properties_import(context: Context, csv_file: Path, allow_errors: bool) -> None:
    """Import or update the asset register from CSV_FILE (one row per room; plain or .gz, UTF-8 or
    Windows-1252)."""
    from core.assets import import_assets, read_asset_csv

    try:
        rows, errors = read_asset_csv(csv_file)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    with progress_bar() as bar, context.database.session() as session:
        task = bar.add_task("importing rooms", total=len(rows), rate="")
        report = import_assets(session, rows, progress=lambda n: bar.advance(task, n))
    total = len(rows) + len(errors)
    errors += report.errors
    out.print(
        f"imported {total - len(errors)} of {total} rows: "
        f"{report.properties} new properties, {report.rooms} new rooms, {report.devices} new devices, "
        f"{report.moved} devices moved"
    )
    _print_row_errors(errors)
    _exit_if_rejected(len(errors), allow_errors)


def _print_row_errors(errors: list) -> None:
    if not errors:
        return
    console.print(f"[yellow]{len(errors)} row(s) were not imported; fix them and import again:[/]")
    for error in errors[:50]:
        console.print(f"  {error}")
    if len(errors) > 50:
        console.print(f"  … and {len(errors) - 50} more")


@main.group(invoke_without_command=True)
@click.option("--offline", is_flag=True, help="Only devices not heard from within DAMPWATCH_DEVICE_OFFLINE_AFTER_S.")
@click.pass_context
def devices(ctx: click.Context, offline: bool) -> None:
    """List devices with their health (last seen, battery, sequence gaps, offline)."""
    if ctx.invoked_subcommand is not None:
        return
    from core.health import device_rows

    context: Context = ctx.obj
    with context.database.session() as session:
        rows = device_rows(session, offline_after_s=context.settings.device_offline_after_s)
    if offline:
        rows = [r for r in rows if r.offline]
    out.print(_device_table(rows))


def _device_table(rows: list, limit: int | None = None) -> Table:
    table = Table("device", "property", "room", "last reading (UTC)", "battery V", "readings", "seq gaps", "state")
    for row in rows[:limit] if limit else rows:
        state = "[red]offline[/]" if row.offline else "online"
        if row.low_battery:
            state += " [yellow]low battery[/]"
        table.add_row(
            row.device_id, row.uprn or "-", row.room or "-",
            row.last_seen.strftime("%Y-%m-%d %H:%M") if row.last_seen else "never",
            f"{row.battery_v:.2f}" if row.battery_v is not None else "-",
            str(row.readings), str(row.seq_gaps), state,
        )
    return table


@devices.command("provision")
@click.argument("device_id")
@click.option("--property", "uprn", required=True, help="UPRN of the property the device goes in.")
@click.option("--room", required=True, help="Room name (as in the asset register).")
@click.option("--room-type", type=click.Choice(["bathroom", "kitchen", "bedroom", "living_room", "hallway", "other",
                                                "outdoor"]), help="Create the room with this type if it is new.")
@click.option("--broker-host", default="127.0.0.1", show_default=True, help="Broker host name the device connects to.")
@click.option("--broker-port", default=0, show_default=True, help="Broker port (0: 8883 with TLS, 1883 without).")
@click.option("--tls/--no-tls", default=True, show_default=True, help="Connect to the broker over TLS.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Device config file to write (default: DAMPWATCH_VAR_DIR/devices/DEVICE_ID.json).")
@pass_context
def devices_provision(context: Context, device_id: str, uprn: str, room: str, room_type: str | None,
                      broker_host: str, broker_port: int, tls: bool, output: Path | None) -> None:
    """Create a device in a room with its own broker credential, and write its config file."""
    from core.provisioning import provision_device, write_device_config

    try:
        with context.database.session() as session:
            result = provision_device(session, device_id, uprn=uprn, room=room, room_type=room_type,
                                      broker_host=broker_host, broker_port=broker_port, tls=tls,
                                      topic_prefix=context.settings.mqtt_topic_prefix)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    output = output or context.settings.var_dir / "devices" / f"{device_id}.json"
    write_device_config(result.config, output)
    out.print(f"provisioned {device_id} in {room} of {uprn}; its config (with its password) is in {output}")
    out.print("copy it to the device as /dampwatch.json, then run 'dampwatch broker config --reload' "
              "so the broker accepts it")


@devices.command("revoke")
@click.argument("device_id")
@pass_context
def devices_revoke(context: Context, device_id: str) -> None:
    """Remove a device's broker credential; run 'dampwatch broker config --reload' after."""
    from core.provisioning import revoke_device

    try:
        with context.database.session() as session:
            revoke_device(session, device_id)
    except DampWatchError as exc:
        raise click.ClickException(str(exc)) from exc
    out.print(f"revoked {device_id}; run 'dampwatch broker config --reload' to apply it to the broker")


@main.group()
def broker() -> None:
    """The MQTT broker's security: password file, ACL, TLS."""


@broker.command("config")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to write the files (default: DAMPWATCH_VAR_DIR/broker-config).")
@click.option("--port", default=None, type=int, help="Listener port in the written mosquitto.conf "
              "(default 8883 with --tls, else 1883).")
@click.option("--bind", default="0.0.0.0", show_default=True, help="Listener address in mosquitto.conf.")
@click.option("--tls", is_flag=True, help="Also generate a pilot CA and server certificate (kept if present).")
@click.option("--hostname", "hostnames", multiple=True, default=("localhost", "127.0.0.1"), show_default=True,
              help="Names the server certificate is valid for (repeatable).")
@click.option("--reload", "reload_pid_file", is_flag=False, flag_value="/run/mosquitto/mosquitto.pid", default=None,
              help="Send SIGHUP to the broker whose pid file is given (default /run/mosquitto/mosquitto.pid) "
              "so it re-reads the files without a restart.")
@pass_context
def broker_config(context: Context, directory: Path | None, port: int | None, bind: str, tls: bool,
                  hostnames: tuple[str, ...], reload_pid_file: str | None) -> None:
    """Write Mosquitto's password file, ACL and config from the app database (and a pilot TLS CA)."""
    import os
    import signal

    from core.broker_auth import generate_test_ca
    from core.mqtt import mosquitto_config
    from core.provisioning import ensure_service_account, write_broker_files

    settings = context.settings
    directory = directory or settings.var_dir / "broker-config"
    with context.database.session() as session:
        ingest_password = ensure_service_account(session)
        files = write_broker_files(session, directory, prefix=settings.mqtt_topic_prefix)
    if ingest_password is not None:
        from core.broker_auth import write_private

        write_private(directory / "ingest-password", ingest_password + "\n", owner=None)
        out.print(f"created the ingestor's broker account; its password is in {directory / 'ingest-password'} "
                  "(set DAMPWATCH_MQTT_USERNAME=dampwatch-ingest and DAMPWATCH_MQTT_PASSWORD_FILE to that path)")
    tls_files = None
    if tls:
        tls_dir = directory / "tls"
        if (tls_dir / "server.crt").exists():
            from core.broker_auth import TLSFiles

            tls_files = TLSFiles(tls_dir / "ca.crt", tls_dir / "ca.key", tls_dir / "server.crt", tls_dir / "server.key")
            out.print(f"kept the existing certificates in {tls_dir}")
        else:
            tls_files = generate_test_ca(tls_dir, list(hostnames))
            out.print(f"generated a pilot CA and server certificate in {tls_dir}; give devices {tls_files.ca_cert}")
    conf = mosquitto_config(
        port=port or (8883 if tls else 1883), data_dir=(directory / "data").resolve(), bind=bind,
        password_file=files.password_file.resolve(), acl_file=files.acl_file.resolve(),
        tls_cert=tls_files.server_cert.resolve() if tls_files else None,
        tls_key=tls_files.server_key.resolve() if tls_files else None,
        log_dest="syslog",
    )
    (directory / "mosquitto.conf").write_text(conf)
    out.print(f"wrote {files.password_file}, {files.acl_file} and {directory / 'mosquitto.conf'}")
    if reload_pid_file:
        try:
            pid = int(Path(reload_pid_file).read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"could not signal the broker via {reload_pid_file}: {exc}") from exc
        out.print(f"asked the broker (pid {pid}) to reload its password and ACL files")


@main.group()
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
    _print_row_errors(report.errors)
    _exit_if_rejected(report.rejected, allow_errors, report.reject_summary())


def _known_devices(context: Context) -> set[str]:
    from sqlalchemy import select

    from core.model import Device

    with context.database.session() as session:
        return set(session.scalars(select(Device.device_id)))


def _exit_if_rejected(rejected: int, allow_errors: bool, summary: list[tuple[str, int]] | None = None) -> None:
    """Exit 1 when rows were rejected, unless the user accepts a partial import."""
    if not rejected:
        return
    for reason, count in summary or []:
        console.print(f"  {count} x {reason}")
    if allow_errors:
        console.print(f"[yellow]{rejected} row(s) rejected; the rest were imported (--allow-errors).[/]")
        return
    console.print(f"[red]{rejected} row(s) rejected: exit status 1.[/] Fix them and import again (importing is "
                  "safe to repeat), or pass --allow-errors to accept a partial import.")
    raise SystemExit(1)


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


# -- processes ------------------------------------------------------------------------------

@main.command()
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


@contextlib.contextmanager
def _broker_for(settings: Settings, workdir: Path) -> Iterator[tuple[str, Settings]]:
    """The configured broker, or one DampWatch starts for the demo, with settings to match."""
    if settings.mqtt_url:
        yield settings.mqtt_url, settings
        return
    from core.embedded_broker import start_local_broker

    with start_local_broker(workdir) as broker:
        logger.info("started a local broker for the demo at %s", broker.url)
        yield broker.url, settings.model_copy(update={"mqtt_protocol": broker.protocol})


@main.command()
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
    import multiprocessing as mp

    context = mp.get_context("spawn")
    done, failure = context.Value("q", 0), context.Array("c", 512)
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


@main.command()
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
    with _broker_for(settings, var / "broker") as (url, broker_settings):
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
    ctx.invoke(main.get_command(ctx, "score"))
    out.print("the ground truth of each simulated home is in var/sim/truth.csv, to compare with 'dampwatch risk export'")
    out.print("\nevaluating the alarm rules on the new scores (alarms appear in the dashboard):")
    ctx.invoke(main.get_command(ctx, "alerts").get_command(ctx, "run"))
    if serve:
        from dampwatch.commands_dashboard import serve_demo

        serve_demo(context)


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


# Each box's commands live in a module of their own with a COMMANDS list; they are wired in here.
COMMAND_MODULES = (
    "dampwatch.commands_analytics",  # score, risk export, train, evaluate, weather import
    "dampwatch.commands_dashboard",  # serve, users
    "dampwatch.commands_cases",  # schedule
    "dampwatch.commands_alerts",  # alerts run, outbox deliver, tenants import
    "dampwatch.commands_sensors",  # ingest-http, codecs
    "dampwatch.commands_ingest",  # dead-letters [prune], quarantine list|replay
    "dampwatch.commands_privacy",  # tenants export|erase, retention run
    "dampwatch.commands_awaab",  # export awaab, import work-orders, returns
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        for command in importlib.import_module(name).COMMANDS:
            main.add_command(command)


_register_commands()
