"""Device health as people read it: where each device is, when it last spoke, its battery."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.model import Device, DeviceHealth, Installation, Room

#: Below this battery voltage a device is flagged for a battery change (two AA cells or a Li-SOCl2 cell near end of life).
LOW_BATTERY_V = 2.6


@dataclasses.dataclass(frozen=True)
class DeviceRow:
    device_id: str
    uprn: str | None
    room: str | None
    room_type: str | None
    last_seen: dt.datetime | None
    battery_v: float | None
    readings: int
    seq_gaps: int
    status: str | None
    offline: bool
    low_battery: bool


def device_rows(session: Session, *, offline_after_s: int, now: dt.datetime | None = None) -> list[DeviceRow]:
    """Every device with its current room and health, offline ones first."""
    now = now or dt.datetime.now(dt.UTC)
    query = (
        select(Device, DeviceHealth, Room)
        .outerjoin(DeviceHealth, DeviceHealth.device_id == Device.device_id)
        .outerjoin(
            Installation,
            (Installation.device_id == Device.device_id) & Installation.removed_at.is_(None),
        )
        .outerjoin(Room, Room.id == Installation.room_id)
        .order_by(Device.device_id)
    )
    rows = []
    for device, health, room in session.execute(query):
        last_seen = health.last_seen if health else None
        battery = health.battery_v if health else None
        rows.append(
            DeviceRow(
                device_id=device.device_id,
                uprn=room.uprn if room else None,
                room=room.name if room else None,
                room_type=room.room_type if room else None,
                last_seen=last_seen,
                battery_v=battery,
                readings=health.readings if health else 0,
                seq_gaps=health.seq_gaps if health else 0,
                status=health.status if health else None,
                offline=last_seen is None or (now - last_seen).total_seconds() > offline_after_s,
                low_battery=battery is not None and battery < LOW_BATTERY_V,
            )
        )
    rows.sort(key=lambda r: (not r.offline, r.device_id))
    return rows
