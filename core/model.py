"""The domain model kept in the app database (SQLAlchemy 2.x).

Properties are keyed by UPRN; rooms belong to a property; a device is
installed in one room at a time and its installation history is kept
(moving a device closes one installation and opens another). Tenants,
device health and dead letters live here too. All stored times are UTC.
Schema changes go through Alembic migrations in ``core/migrations``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from core.causes import FINDING_CAUSES
from core.errors import ValidationError

if TYPE_CHECKING:
    from core.model_awaab import CaseClock, CaseHazard, WorkOrder

ROOM_TYPES = ("bathroom", "kitchen", "bedroom", "living_room", "hallway", "other", "outdoor")
WET_ROOM_TYPES = ("bathroom", "kitchen")
WALL_TYPES = ("solid_brick", "cavity_unfilled", "cavity_filled", "timber_frame", "system_built", "other")
CHANNELS = ("sms", "email", "letter", "none")

UPRN_PATTERN = re.compile(r"^[0-9]{1,12}$")
DEVICE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# The UK postcode format: outward code (area, district) and inward code (sector, unit).
POSTCODE_PATTERN = re.compile(r"^(GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2})$")


def normalise_uprn(value: str | int) -> str:
    """A UPRN as its canonical string (digits, no leading zeros); ``ValidationError`` if invalid."""
    text = str(value).strip()
    if not UPRN_PATTERN.match(text) or int(text) == 0:
        raise ValidationError(f"UPRN {value!r} is not valid: a UPRN is 1 to 12 digits")
    return str(int(text))


def normalise_postcode(value: str) -> str:
    """A UK postcode in its standard form (upper case, one space); ``ValidationError`` if invalid."""
    text = re.sub(r"\s+", "", str(value)).upper()
    if not POSTCODE_PATTERN.match(text):
        raise ValidationError(f"postcode {value!r} is not a valid UK postcode (for example LS6 1AB)")
    return f"{text[:-3]} {text[-3:]}"


def postcode_district(postcode: str) -> str:
    """The outward code of a normalised postcode ("LS6 1AB" → "LS6")."""
    return postcode.split(" ", 1)[0]


def validate_device_id(value: str) -> str:
    """Check a device id can stand in an MQTT topic level; ``ValidationError`` if not."""
    if not isinstance(value, str) or not DEVICE_ID_PATTERN.match(value):
        raise ValidationError(
            f"device id {value!r} is not valid: use 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column; attach tzinfo=datetime.UTC")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Property(Base):
    """A home, keyed by its UPRN, with optional archetype and household vulnerability."""

    __tablename__ = "property"

    uprn: Mapped[str] = mapped_column(String(12), primary_key=True)
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(8), index=True)
    site: Mapped[str | None] = mapped_column(String(120), index=True)
    build_year: Mapped[int | None] = mapped_column(Integer)
    wall_type: Mapped[str | None] = mapped_column(String(40))
    floor_level: Mapped[int | None] = mapped_column(Integer)
    temperature_factor: Mapped[float | None] = mapped_column(Float)
    # Household vulnerability: None means not known. Kept minimal on purpose.
    child_under_15: Mapped[bool | None] = mapped_column(Boolean)
    over_65: Mapped[bool | None] = mapped_column(Boolean)
    respiratory_condition: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    rooms: Mapped[list[Room]] = relationship(back_populates="property", cascade="all, delete-orphan")
    tenants: Mapped[list[Tenant]] = relationship(back_populates="property", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("temperature_factor IS NULL OR (temperature_factor > 0 AND temperature_factor < 1)",
                        name="temperature_factor_range"),
        CheckConstraint("build_year IS NULL OR (build_year >= 1500 AND build_year <= 2100)", name="build_year_range"),
    )

    @validates("uprn")
    def _check_uprn(self, _key: str, value: str) -> str:
        return normalise_uprn(value)

    @validates("postcode")
    def _check_postcode(self, _key: str, value: str) -> str:
        return normalise_postcode(value)

    @property
    def vulnerable(self) -> bool:
        """True when any household vulnerability flag is set."""
        return bool(self.child_under_15 or self.over_65 or self.respiratory_condition)


class Room(Base):
    """A room of a property, with its type (and optionally its own temperature factor)."""

    __tablename__ = "room"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uprn: Mapped[str] = mapped_column(ForeignKey("property.uprn", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    room_type: Mapped[str] = mapped_column(String(20), index=True)  # outdoor sensors near a home are looked up
    temperature_factor: Mapped[float | None] = mapped_column(Float)

    property: Mapped[Property] = relationship(back_populates="rooms")
    installations: Mapped[list[Installation]] = relationship(back_populates="room")

    __table_args__ = (
        UniqueConstraint("uprn", "name", name="uq_room_uprn_name"),
        CheckConstraint(
            "room_type IN (" + ", ".join(f"'{t}'" for t in ROOM_TYPES) + ")", name="room_type_known"
        ),
    )

    @validates("room_type")
    def _check_room_type(self, _key: str, value: str) -> str:
        if value not in ROOM_TYPES:
            raise ValidationError(f"room type {value!r} is not one of: {', '.join(ROOM_TYPES)}")
        return value


class Device(Base):
    """A sensor, known by the id it publishes under."""

    __tablename__ = "device"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    installations: Mapped[list[Installation]] = relationship(
        back_populates="device", order_by="Installation.installed_at"
    )
    health: Mapped[DeviceHealth | None] = relationship(back_populates="device", cascade="all, delete-orphan")

    @validates("device_id")
    def _check_device_id(self, _key: str, value: str) -> str:
        return validate_device_id(value)


class Installation(Base):
    """A period during which a device sat in a room; ``removed_at`` is None while it is there."""

    __tablename__ = "installation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.device_id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"), index=True)
    installed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    device: Mapped[Device] = relationship(back_populates="installations")
    room: Mapped[Room] = relationship(back_populates="installations")

    __table_args__ = (
        # At most one open installation per device.
        Index(
            "uq_installation_open_device",
            "device_id",
            unique=True,
            sqlite_where=removed_at.is_(None),
            postgresql_where=removed_at.is_(None),
        ),
        CheckConstraint("removed_at IS NULL OR removed_at >= installed_at", name="removed_after_installed"),
    )


class Tenant(Base):
    """A tenant's contact details, preferred channel and consent (minimal for now)."""

    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uprn: Mapped[str] = mapped_column(ForeignKey("property.uprn", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    preferred_channel: Mapped[str] = mapped_column(String(10), default="none")
    language: Mapped[str] = mapped_column(String(8), default="en")
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Quiet hours in Europe/London local time ("HH:MM"); None means the settings' default (21:00-08:00).
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5))
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5))
    # Raised when the tenant signs out: every session made from an earlier link ends.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    property: Mapped[Property] = relationship(back_populates="tenants")

    __table_args__ = (
        CheckConstraint(
            "preferred_channel IN (" + ", ".join(f"'{c}'" for c in CHANNELS) + ")", name="channel_known"
        ),
    )


class DeviceHealth(Base):
    """What the ingestor last heard from a device: kept up to date as readings arrive."""

    __tablename__ = "device_health"

    device_id: Mapped[str] = mapped_column(ForeignKey("device.device_id", ondelete="CASCADE"), primary_key=True)
    last_seen: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # newest reading's ts
    last_received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # wall clock of arrival
    battery_v: Mapped[float | None] = mapped_column(Float)
    first_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    readings: Mapped[int] = mapped_column(Integer, default=0)  # readings stored (duplicates excluded)
    untimed: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str | None] = mapped_column(String(20))  # from the device's status topic (online/offline)
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    device: Mapped[Device] = relationship(back_populates="health")

    @property
    def seq_gaps(self) -> int:
        """Readings missing by sequence number: the span of seq seen less the readings stored."""
        if self.first_seq is None or self.last_seq is None:
            return 0
        return max(0, (self.last_seq - self.first_seq + 1) - (self.readings or 0))


class DeadLetter(Base):
    """A message, or one reading of a batch, that could not be stored, and why."""

    __tablename__ = "dead_letter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(300))
    device_id: Mapped[str | None] = mapped_column(String(300), index=True)
    reason: Mapped[str] = mapped_column(String(40), index=True)
    detail: Mapped[str] = mapped_column(Text)
    payload_excerpt: Mapped[str] = mapped_column(Text)
    payload_bytes: Mapped[int] = mapped_column(Integer)


class BrokerAccount(Base):
    """A login on the MQTT broker: a device (user name = device id) or a service such as the ingestor.

    Only the hash is kept, in Mosquitto's own format, so the broker's password
    file can be written from here at any time. A revoked account stays as a
    record (who, when) but is left out of the broker's files.
    """

    __tablename__ = "broker_account"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "device" or "service"
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("kind IN ('device', 'service')", name="kind_known"),)


# -- analytics: scoring state, risk history, weather (issue 3) ------------------------------------------

RISK_BANDS = ("low", "medium", "high", "critical", "insufficient data")


class RoomMouldState(Base):
    """Where scoring of a room stopped: the hour processed up to and the mould index at its cold spot.

    The next ``dampwatch score`` carries on from here; ``temperature_factor`` is the one the index was
    computed with (a different factor needs ``--full``).
    """

    __tablename__ = "room_mould_state"

    room_id: Mapped[int] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"), primary_key=True)
    processed_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)  # end (exclusive) of the last hour
    mould_index: Mapped[float] = mapped_column(Float)
    dry_spell_hours: Mapped[int] = mapped_column(Integer)
    temperature_factor: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RoomDay(Base):
    """One UTC day of a room's hourly conditions, summarised: the unit incremental scoring adds up.

    Counts are hours with data; ``sum_*`` are sums over those hours (divide by ``hours_data`` for means);
    the mould index state at the day's start lets a later run restart from that day. See
    ``analytics.features.DAY_FIELDS``.
    """

    __tablename__ = "room_day"

    room_id: Mapped[int] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    mould_index_start: Mapped[float] = mapped_column(Float)
    dry_spell_hours_start: Mapped[int] = mapped_column(Integer)
    mould_index_end: Mapped[float] = mapped_column(Float)
    mould_index_max: Mapped[float] = mapped_column(Float)
    hours_data: Mapped[int] = mapped_column(Integer)
    hours_outdoor_measured: Mapped[int] = mapped_column(Integer)
    hours_surface_rh_over_80: Mapped[int] = mapped_column(Integer)
    hours_rh_over_70: Mapped[int] = mapped_column(Integer)
    hours_below_16: Mapped[int] = mapped_column(Integer)
    hours_below_18: Mapped[int] = mapped_column(Integer)
    sum_temperature_c: Mapped[float] = mapped_column(Float)
    sum_humidity_pct: Mapped[float] = mapped_column(Float)
    sum_surface_temperature_c: Mapped[float] = mapped_column(Float)
    sum_surface_rh_pct: Mapped[float] = mapped_column(Float)
    sum_outdoor_temperature_c: Mapped[float] = mapped_column(Float)
    sum_outdoor_humidity_pct: Mapped[float] = mapped_column(Float)
    sum_vapour_pressure_excess_pa: Mapped[float] = mapped_column(Float)
    min_vapour_pressure_excess_pa: Mapped[float | None] = mapped_column(Float)
    last_data_hour: Mapped[int | None] = mapped_column(Integer)
    ventilation_events: Mapped[int] = mapped_column(Integer)
    ventilation_remaining_sum: Mapped[float] = mapped_column(Float)
    hours_cooling: Mapped[int | None] = mapped_column(Integer)  # migration 0007_d
    sum_cooling_rate_per_h: Mapped[float | None] = mapped_column(Float)


class ScoringRun(Base):
    """One run of ``dampwatch score``: when, how (full or incremental), up to which hour, with which model."""

    __tablename__ = "scoring_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(String(12))  # "full" or "incremental"
    scored_until: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)  # end (exclusive) of the last hour
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    properties: Mapped[int] = mapped_column(Integer, default=0)
    rooms: Mapped[int] = mapped_column(Integer, default=0)
    room_hours: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (CheckConstraint("mode IN ('full', 'incremental')", name="mode_known"),)


class PropertyRisk(Base):
    """A property's damp and mould risk as one scoring run found it; kept as history (before and after works)."""

    __tablename__ = "property_risk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_run.id", ondelete="CASCADE"), index=True)
    uprn: Mapped[str] = mapped_column(ForeignKey("property.uprn", ondelete="CASCADE"), index=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    score: Mapped[float | None] = mapped_column(Float)
    physics_score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    driver_room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id", ondelete="SET NULL"))
    driver_room: Mapped[str | None] = mapped_column(String(80))
    cause: Mapped[str | None] = mapped_column(String(30))
    cold_home: Mapped[bool] = mapped_column(Boolean, default=False)
    mean_temperature_c: Mapped[float | None] = mapped_column(Float)
    data_coverage: Mapped[float] = mapped_column(Float)
    outdoor_source: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    what_would_help: Mapped[list[str]] = mapped_column(JSON)
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("run_id", "uprn", name="uq_property_risk_run_uprn"),
        CheckConstraint("band IN (" + ", ".join(f"'{b}'" for b in RISK_BANDS) + ")", name="band_known"),
    )


class RoomRisk(Base):
    """A room's risk and the features behind it, as one scoring run found them; kept as history."""

    __tablename__ = "room_risk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("scoring_run.id", ondelete="CASCADE"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id", ondelete="CASCADE"), index=True)
    uprn: Mapped[str] = mapped_column(String(12), index=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    score: Mapped[float | None] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    data_coverage: Mapped[float] = mapped_column(Float)
    hours_since_data: Mapped[float | None] = mapped_column(Float)
    mould_index: Mapped[float | None] = mapped_column(Float)
    mould_index_max: Mapped[float | None] = mapped_column(Float)
    mould_index_trend: Mapped[float | None] = mapped_column(Float)
    hours_surface_rh_over_80: Mapped[float | None] = mapped_column(Float)
    days_surface_rh_over_80: Mapped[float | None] = mapped_column(Float)
    hours_rh_over_70: Mapped[float | None] = mapped_column(Float)
    days_rh_over_70: Mapped[float | None] = mapped_column(Float)
    hours_below_16: Mapped[float | None] = mapped_column(Float)
    hours_below_18: Mapped[float | None] = mapped_column(Float)
    mean_temperature_c: Mapped[float | None] = mapped_column(Float)
    mean_humidity_pct: Mapped[float | None] = mapped_column(Float)
    mean_surface_rh_pct: Mapped[float | None] = mapped_column(Float)
    vapour_pressure_excess_pa: Mapped[float | None] = mapped_column(Float)
    humidity_class: Mapped[float | None] = mapped_column(Float)
    ventilation_score: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("run_id", "room_id", name="uq_room_risk_run_room"),
        CheckConstraint("band IN (" + ", ".join(f"'{b}'" for b in RISK_BANDS) + ")", name="band_known"),
    )


class WeatherHour(Base):
    """Outdoor conditions of an area (a postcode district such as LS6) in one hour, from an imported file."""

    __tablename__ = "weather_hour"

    area: Mapped[str] = mapped_column(String(4), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)  # start of the hour, UTC
    temperature_c: Mapped[float] = mapped_column(Float)
    humidity_pct: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- People, cases and inspections (the dashboard's tables; Awaab's Law records) -------------------

ROLES = ("officer", "repair", "manager", "admin")
CASE_SOURCES = ("risk_flag", "tenant_report", "officer", "inspection", "alarm")
CASE_STATUSES = ("open", "closed")
INSPECTION_STATUSES = ("scheduled", "completed", "no_access", "cancelled")
SEVERITIES = ("none", "minor", "moderate", "severe")
LIKELY_CAUSES = FINDING_CAUSES  # the one cause table, core/causes.py


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Team(Base):
    """A repair team: its members get inspection jobs, and it can do ``daily_capacity`` inspections a day."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    daily_capacity: Mapped[int] = mapped_column(Integer, default=4)
    # Postcode districts the team covers ("LS6 LS7"); empty means anywhere.
    districts: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="team")

    __table_args__ = (CheckConstraint("daily_capacity >= 0", name="capacity_not_negative"),)


class User(Base):
    """A member of staff who signs in: housing officer, repair team member, manager or admin."""

    __tablename__ = "user_account"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"), index=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Keyed hash (HMAC with the app secret) of the secret in this user's iCalendar feed URL; rotate by a new one.
    calendar_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Every session carries the version it was made under; raising it ends them all (sign-out, password, ...).
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    team: Mapped[Team | None] = relationship(back_populates="members")

    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_known"),)


class ApiToken(Base):
    """A per-user token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AuditEvent(Base):
    """Who did what and when: every change a person (or the system) makes is recorded here."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(254))  # email, "tenant:<id>", "system" or a command name
    action: Mapped[str] = mapped_column(String(60), index=True)  # "case.opened", "user.created", ...
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (
        Index("ix_audit_event_object", "object_type", "object_id"),
        # The sign-in delays count recent failures per account and per client address on every attempt.
        Index("ix_audit_event_action_actor_at", "action", "actor", "at"),
        Index("ix_audit_event_action_ip_at", "action", "ip", "at"),
    )


class Case(Base):
    """A damp and mould case at a property, with the Awaab's Law steps and when each was done.

    The clocks start at ``aware_at`` (when the landlord became aware: a sensor flag, a tenant report);
    the deadlines are computed from it in working days by ``core.cases``; the ``*_at`` columns say when
    each step was done (None = not yet).
    """

    __tablename__ = "damp_case"  # "case" is an SQL keyword

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uprn: Mapped[str] = mapped_column(ForeignKey("property.uprn", ondelete="CASCADE"), index=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("room.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20))
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    aware_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    opened_by: Mapped[str] = mapped_column(String(254))  # actor, as in the audit log
    property_risk_id: Mapped[int | None] = mapped_column(ForeignKey("property_risk.id", ondelete="SET NULL"))
    investigated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    summary_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    made_safe_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    preventative_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    works_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(Text)

    property: Mapped[Property] = relationship()
    room: Mapped[Room | None] = relationship()
    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEvent.at"
    )
    inspections: Mapped[list[Inspection]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="Inspection.scheduled_for"
    )
    # Awaab's Law records (core/model_awaab.py).
    hazards: Mapped[list[CaseHazard]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseHazard.id"
    )
    clock: Mapped[CaseClock | None] = relationship(back_populates="case", cascade="all, delete-orphan")
    work_orders: Mapped[list[WorkOrder]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="WorkOrder.id"
    )

    __table_args__ = (
        CheckConstraint(_in("source", CASE_SOURCES), name="source_known"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status_known"),
    )


class CaseEvent(Base):
    """One entry on a case's timeline: a step done, a note, a message to the tenant, a schedule change."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("damp_case.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # "opened", "investigated", "message_to_tenant", "note", ...
    actor: Mapped[str] = mapped_column(String(254))
    text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class Inspection(Base):
    """A visit by a repair team on a date, for a case; completed with a finding."""

    __tablename__ = "inspection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("damp_case.id", ondelete="CASCADE"), index=True)
    uprn: Mapped[str] = mapped_column(ForeignKey("property.uprn", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="RESTRICT"), index=True)
    scheduled_for: Mapped[dt.date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(12), default="scheduled", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254))
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    case: Mapped[Case] = relationship(back_populates="inspections")
    team: Mapped[Team] = relationship()
    finding: Mapped[Finding | None] = relationship(back_populates="inspection", cascade="all, delete-orphan")

    __table_args__ = (CheckConstraint(_in("status", INSPECTION_STATUSES), name="status_known"),)


class Finding(Base):
    """What a repair team member found at an inspection; also a training label for the risk model."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspection.id", ondelete="CASCADE"), unique=True, index=True
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(254))
    mould_found: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(10))
    room_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  # rooms where mould or damp was seen
    where_text: Mapped[str] = mapped_column(Text, default="")
    likely_cause: Mapped[str] = mapped_column(String(20))
    actions_taken: Mapped[str] = mapped_column(Text, default="")
    follow_up_work: Mapped[str] = mapped_column(Text, default="")
    follow_up_needed: Mapped[bool] = mapped_column(Boolean, default=False)

    inspection: Mapped[Inspection] = relationship(back_populates="finding")

    __table_args__ = (
        CheckConstraint(_in("severity", SEVERITIES), name="severity_known"),
        CheckConstraint(_in("likely_cause", LIKELY_CAUSES), name="likely_cause_known"),
    )


# The alerts box's tables (alarms, rule state, the outbox, tenant sign-in links) live in their own module
# on the same metadata; importing it here keeps one schema for migrations.
# So do Awaab's Law's hazards per case, clock profiles and work orders (core/model_awaab.py).
from core import model_alerts, model_awaab  # noqa: E402,F401
