"""Provisioning devices and writing the broker's security files from the app database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.assets import install_device
from core.broker_auth import (
    INGESTOR_USERNAME,
    Account,
    acl_file_text,
    mosquitto_hash,
    new_password,
    password_file_text,
    write_private,
)
from core.errors import ValidationError
from core.model import BrokerAccount, Device, Property, Room, normalise_uprn, utcnow, validate_device_id

#: The version of the device config file written for the firmware (firmware_stub/config.py reads it).
DEVICE_CONFIG_SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Provisioned:
    device_id: str
    password: str
    config: dict[str, Any]


def _set_account(session: Session, username: str, kind: str, password: str) -> None:
    account = session.get(BrokerAccount, username)
    if account is None:
        session.add(BrokerAccount(username=username, kind=kind, password_hash=mosquitto_hash(password)))
    else:
        account.kind, account.password_hash, account.revoked_at = kind, mosquitto_hash(password), None
        account.created_at = utcnow()
    session.flush()


def provision_device(
    session: Session,
    device_id: str,
    *,
    uprn: str,
    room: str,
    room_type: str | None = None,
    broker_host: str,
    broker_port: int = 0,
    tls: bool = True,
    topic_prefix: str = "dampwatch",
    wifi_ssid: str = "CHANGE-ME",
    at: dt.datetime | None = None,
) -> Provisioned:
    """Create (or re-provision) a device in a room with a new random credential.

    Returns the device's config for its flash, holding the password in clear:
    it is shown once and only its hash is kept. Provisioning again rotates it.
    """
    validate_device_id(device_id)
    if device_id == INGESTOR_USERNAME:
        raise ValidationError(f"{device_id!r} is reserved for the ingestor's account")
    uprn = normalise_uprn(uprn)
    prop = session.get(Property, uprn)
    if prop is None:
        raise ValidationError(f"no property with UPRN {uprn}; import the asset register first")
    room_row = session.scalars(select(Room).where(Room.uprn == uprn, Room.name == room)).one_or_none()
    if room_row is None:
        if room_type is None:
            names = ", ".join(sorted(r.name for r in prop.rooms)) or "none yet"
            raise ValidationError(
                f"property {uprn} has no room {room!r} (rooms: {names}); give --room-type to create it"
            )
        room_row = Room(uprn=uprn, name=room, room_type=room_type)
        prop.rooms.append(room_row)
        session.flush()
    device = session.get(Device, device_id)
    if device is not None:
        device.active = True
    install_device(session, device_id, room_row, at or utcnow())
    password = new_password()
    _set_account(session, device_id, "device", password)
    config = {
        "schema_version": DEVICE_CONFIG_SCHEMA_VERSION,
        "device_id": device_id,
        "wifi_ssid": wifi_ssid,
        "wifi_password": "",
        "broker_host": broker_host,
        "broker_port": broker_port,
        "tls": tls,
        "tls_verify": True,
        "tls_ca_file": "/ca.crt" if tls else None,
        "mqtt_username": device_id,
        "mqtt_password": password,
        "topic_prefix": topic_prefix,
    }
    return Provisioned(device_id, password, config)


def revoke_device(session: Session, device_id: str) -> None:
    """Remove a device's broker credential (and stop accepting its readings)."""
    account = session.get(BrokerAccount, device_id)
    device = session.get(Device, device_id)
    if account is None and device is None:
        raise ValidationError(f"no device {device_id!r}")
    if account is not None:
        account.revoked_at = utcnow()
    if device is not None:
        device.active = False


def ensure_service_account(session: Session, username: str = INGESTOR_USERNAME) -> str | None:
    """Create the ingestor's broker account if missing; return its new password (None if it existed)."""
    account = session.get(BrokerAccount, username)
    if account is not None and account.revoked_at is None:
        return None
    password = new_password()
    _set_account(session, username, "service", password)
    return password


def active_accounts(session: Session) -> list[Account]:
    rows = session.scalars(select(BrokerAccount).where(BrokerAccount.revoked_at.is_(None)))
    return [Account(r.username, r.password_hash, r.kind == "device") for r in rows]


@dataclasses.dataclass(frozen=True)
class BrokerFiles:
    password_file: Path
    acl_file: Path


def write_broker_files(session: Session, directory: Path, *, prefix: str) -> BrokerFiles:
    """Write Mosquitto's password and ACL files for every active account (atomically)."""
    accounts = active_accounts(session)
    files = BrokerFiles(directory / "passwd", directory / "acl")
    write_private(files.password_file, password_file_text(accounts))
    write_private(files.acl_file, acl_file_text(accounts, prefix))
    return files


def write_device_config(config: Mapping[str, Any], path: Path) -> None:
    """The device's config file (JSON), readable only by whoever flashes it."""
    write_private(path, json.dumps(config, indent=2) + "\n", owner=None)
