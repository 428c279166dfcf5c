"""Commands of the shared core: settings and their check, the app database, the asset register, devices and the
broker's configuration (``dampwatch settings|db|properties|devices|broker``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from core.errors import DampWatchError
from core.settings import Settings, describe_settings
from dampwatch.commands_common import (
    exit_if_rejected,
    out,
    pass_context,
    print_row_errors,
    progress_bar,
)

if TYPE_CHECKING:
    from dampwatch.cli import Context

logger = logging.getLogger("dampwatch")


def check_config(settings: Settings) -> int:
    """Try every part the settings point at; print what fails and how to fix it."""
    from core.db import Database
    from core.mqtt import BrokerAddress, wait_for_port
    from core.readings import open_store

    problems = 0
    for key, value in settings.redacted().items():
        out.print(f"  {key} = {value}")
    checks: list[tuple[str, Callable[[], object]]] = [
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


def _sensor_checks(settings: Settings) -> list[tuple[str, Callable[[], object]]]:
    """Adapter routes, the device map (with its codec column) and HTTP integrations, when configured."""
    from dampwatch.commands_sensors import sensor_checks

    return sensor_checks(settings)


@click.command("settings")
def settings_command() -> None:
    """List every DAMPWATCH_* setting with its default."""
    table = Table("variable", "default", "what it is for")
    for name, default, description in describe_settings():
        table.add_row(name, default, description)
    out.print(table)


# -- database ---------------------------------------------------------------------------

@click.group()
def db() -> None:
    """The app database."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Create or migrate the app database schema to the latest version."""
    context.database  # noqa: B018 - opening it runs the migrations
    out.print(f"app database is up to date: {context.settings.redacted()['database_url']}")


# -- properties, devices, readings --------------------------------------------------------

@click.group()
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
    print_row_errors(errors)
    exit_if_rejected(len(errors), allow_errors)


@click.group(invoke_without_command=True)
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


@click.group()
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


COMMANDS: list[click.Command] = [settings_command, db, properties, devices, broker]
