"""The asset register: properties, rooms and devices imported from a council's CSV.

The import format has one row per room; the property's columns repeat on each
of its rows::

    uprn,address,postcode,site,build_year,wall_type,floor_level,temperature_factor,
    child_under_15,over_65,respiratory_condition,room,room_type,device_id

``site`` (an estate or block), the archetype columns, ``temperature_factor`` and
the vulnerability flags (``yes``/``no``/blank) may be blank; so may
``device_id`` for a room without a sensor. Importing again updates what
changed: a device that now sits in another room has its old installation
closed and a new one opened, so its history is kept. Bad rows are reported
with their line numbers; good rows are kept. The file may be gzip-compressed and in UTF-8 (with or without
a byte-order mark) or Windows-1252, as Excel saves it (:func:`core.textfile.open_text`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ValidationError
from core.model import (
    ROOM_TYPES,
    Device,
    Installation,
    Property,
    Room,
    normalise_postcode,
    normalise_uprn,
    utcnow,
    validate_device_id,
)
from core.textfile import open_text

logger = logging.getLogger(__name__)

ASSET_COLUMNS = (
    "uprn", "address", "postcode", "site", "build_year", "wall_type", "floor_level", "temperature_factor",
    "child_under_15", "over_65", "respiratory_condition", "room", "room_type", "device_id",
)
REQUIRED_COLUMNS = ("uprn", "address", "postcode", "room", "room_type")
PROPERTY_FIELDS = (
    "address", "postcode", "site", "build_year", "wall_type", "floor_level", "temperature_factor",
    "child_under_15", "over_65", "respiratory_condition",
)
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}


@dataclasses.dataclass
class RowError:
    """A CSV line that was not imported, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclasses.dataclass
class ImportReport:
    """What an import did."""

    properties: int = 0
    rooms: int = 0
    devices: int = 0
    moved: int = 0
    rows: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)


def _flag(value: str, column: str) -> bool | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValidationError(f"{column} must be yes, no or blank, not {value!r}")


def _optional_int(value: str, column: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"{column} must be a whole number, not {value!r}") from None


def _optional_factor(value: str) -> float | None:
    text = value.strip()
    if not text:
        return None
    try:
        factor = float(text)
    except ValueError:
        raise ValidationError(f"temperature_factor must be a number between 0 and 1, not {value!r}") from None
    if not 0 < factor < 1:
        raise ValidationError(f"temperature_factor must be between 0 and 1 (typically 0.5 to 0.9), not {factor}")
    return factor


PropertyValues = tuple[
    str, str, str | None, int | None, str | None, int | None, float | None, bool | None, bool | None, bool | None
]
"""A row's values for :data:`PROPERTY_FIELDS`, in that order."""


@dataclasses.dataclass(frozen=True)
class AssetRow:
    """One validated row of the asset register."""

    line: int
    uprn: str
    property_values: PropertyValues
    room: str
    room_type: str
    device_id: str | None


def parse_asset_row(line: int, row: dict[str, str]) -> AssetRow:
    """Validate one CSV row; raise ``ValidationError`` naming the column at fault."""
    def get(name: str) -> str:
        return (row.get(name) or "").strip()

    for name in REQUIRED_COLUMNS:
        if not get(name):
            raise ValidationError(f"{name} is empty")
    uprn = normalise_uprn(get("uprn"))
    room_type = get("room_type").lower().replace(" ", "_")
    if room_type not in ROOM_TYPES:
        raise ValidationError(f"room_type {get('room_type')!r} is not one of: {', '.join(ROOM_TYPES)}")
    build_year = _optional_int(get("build_year"), "build_year")
    if build_year is not None and not 1500 <= build_year <= 2100:
        raise ValidationError(f"build_year {build_year} is not a plausible year")
    values: PropertyValues = (
        get("address"),
        normalise_postcode(get("postcode")),
        get("site") or None,
        build_year,
        get("wall_type") or None,
        _optional_int(get("floor_level"), "floor_level"),
        _optional_factor(get("temperature_factor")),
        _flag(get("child_under_15"), "child_under_15"),
        _flag(get("over_65"), "over_65"),
        _flag(get("respiratory_condition"), "respiratory_condition"),
    )
    device_id = get("device_id") or None
    if device_id is not None:
        validate_device_id(device_id)
    return AssetRow(line, uprn, values, get("room"), room_type, device_id)


def read_asset_csv(path: Path) -> tuple[list[AssetRow], list[RowError]]:
    """Read and validate an asset register CSV; bad rows come back as errors, with line numbers."""
    rows: list[AssetRow] = []
    errors: list[RowError] = []
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationError(
                f"{path} has no column(s) {', '.join(missing)}; the header must include: {', '.join(ASSET_COLUMNS)}"
            )
        for row in reader:
            try:
                rows.append(parse_asset_row(reader.line_num, row))
            except ValidationError as exc:
                errors.append(RowError(reader.line_num, str(exc)))
    return rows, errors


def install_device(session: Session, device_id: str, room: Room, at: dt.datetime) -> bool:
    """Make ``room`` the device's current place; close its previous installation. True if it moved."""
    device = session.get(Device, device_id)
    if device is None:
        device = Device(device_id=device_id)
        session.add(device)
        session.flush()
    current = session.scalars(
        select(Installation).where(Installation.device_id == device_id, Installation.removed_at.is_(None))
    ).one_or_none()
    if current is not None and current.room_id == room.id:
        return False
    moved = current is not None
    if current is not None:
        current.removed_at = at
        session.flush()
    session.add(Installation(device_id=device_id, room_id=room.id, installed_at=at))
    session.flush()
    return moved


def import_assets(
    session: Session,
    rows: Iterable[AssetRow],
    *,
    at: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Create or update properties, rooms, devices and installations from validated rows."""
    at = at or utcnow()
    report = ImportReport()
    seen_values: dict[str, tuple[int, PropertyValues]] = {}
    seen_devices: dict[str, int] = {}
    properties = {p.uprn: p for p in session.scalars(select(Property))}
    for row in rows:
        report.rows += 1
        first = seen_values.setdefault(row.uprn, (row.line, row.property_values))
        if first[1] != row.property_values:
            report.errors.append(
                RowError(row.line, f"UPRN {row.uprn}'s property columns differ from line {first[0]}")
            )
            continue
        if row.device_id is not None:
            if row.device_id in seen_devices:
                report.errors.append(
                    RowError(row.line, f"device {row.device_id} is already placed on line {seen_devices[row.device_id]}")
                )
                continue
            seen_devices[row.device_id] = row.line
        prop = properties.get(row.uprn)
        if prop is None:
            prop = properties[row.uprn] = Property(uprn=row.uprn, address="", postcode=row.property_values[1])
            session.add(prop)
            report.properties += 1
        for name, value in zip(PROPERTY_FIELDS, row.property_values, strict=True):
            if getattr(prop, name) != value:
                setattr(prop, name, value)
        room = session.scalars(select(Room).where(Room.uprn == row.uprn, Room.name == row.room)).one_or_none()
        if room is None:
            room = Room(uprn=row.uprn, name=row.room, room_type=row.room_type)
            prop.rooms.append(room)
            report.rooms += 1
        elif room.room_type != row.room_type:
            room.room_type = row.room_type
        session.flush()
        if row.device_id is not None:
            is_new = session.get(Device, row.device_id) is None
            if install_device(session, row.device_id, room, at):
                report.moved += 1
            report.devices += int(is_new)
        if progress is not None:
            progress(1)
    return report
