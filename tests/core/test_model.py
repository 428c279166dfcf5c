"""The domain model and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from core.assets import install_device
from core.errors import ValidationError
from core.model import (
    Base,
    Device,
    Installation,
    Property,
    Room,
    normalise_postcode,
    normalise_uprn,
    validate_device_id,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("raw", "expected"), [("1", "1"), ("100023336956", "100023336956"), (" 42 ", "42"), (7, "7")])
def test_valid_uprns(raw, expected):
    """UPRNs are 1 to 12 digits."""
    assert normalise_uprn(raw) == expected


@pytest.mark.parametrize("raw", ["", "0", "1000233369561", "12a", "-5", "1.5"])
def test_invalid_uprns(raw):
    """Anything else is refused with a message saying what a UPRN is."""
    with pytest.raises(ValidationError, match="1 to 12 digits"):
        normalise_uprn(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("ls61ab", "LS6 1AB"), ("SW1A 1AA", "SW1A 1AA"), ("m1  1ae", "M1 1AE"), ("CF10 3AT", "CF10 3AT"), ("B33 8TH", "B33 8TH")],
)
def test_valid_postcodes(raw, expected):
    """UK postcodes are normalised to upper case with one space."""
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["", "LS6", "123 456", "LS6 1A", "QQQ1 1AA", "LS6 1AB X"])
def test_invalid_postcodes(raw):
    """Malformed postcodes are refused."""
    with pytest.raises(ValidationError, match="postcode"):
        normalise_postcode(raw)


@pytest.mark.parametrize("raw", ["", "-leading", "a/b", "a+b", "a#", "x" * 65, "space id"])
def test_invalid_device_ids(raw):
    """Device ids must be usable as one MQTT topic level."""
    with pytest.raises(ValidationError):
        validate_device_id(raw)


def test_migrations_create_every_table(database):
    """Alembic's head schema has every table the model declares."""
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def _home(session, uprn="100000000001"):
    prop = Property(uprn=uprn, address="1 Damp Street", postcode="ls6 1ab")
    prop.rooms = [Room(name="Bathroom", room_type="bathroom"), Room(name="Bedroom 1", room_type="bedroom")]
    session.add(prop)
    session.flush()
    return prop


def test_property_round_trip_keeps_types_and_utc(database):
    """A property and its rooms round-trip; timestamps come back timezone-aware UTC."""
    with database.session() as session:
        _home(session)
    with database.session() as session:
        prop = session.get(Property, "100000000001")
        assert prop.postcode == "LS6 1AB"
        assert sorted(r.room_type for r in prop.rooms) == ["bathroom", "bedroom"]
        assert prop.created_at.tzinfo is not None
        assert prop.vulnerable is False


def test_moving_a_device_keeps_its_history(database):
    """Moving a device closes the old installation and opens a new one."""
    with database.session() as session:
        prop = _home(session)
        bathroom, bedroom = sorted(prop.rooms, key=lambda r: r.name)
        assert install_device(session, "dev-1", bathroom, T0) is False
        assert install_device(session, "dev-1", bathroom, T0 + dt.timedelta(days=1)) is False
        assert install_device(session, "dev-1", bedroom, T0 + dt.timedelta(days=2)) is True
    with database.session() as session:
        history = session.get(Device, "dev-1").installations
        assert [(i.room.name, i.removed_at) for i in history] == [
            ("Bathroom", T0 + dt.timedelta(days=2)),
            ("Bedroom 1", None),
        ]


def test_at_most_one_open_installation_per_device(database):
    """The database itself refuses a second open installation of one device."""
    with pytest.raises(IntegrityError), database.session() as session:
        prop = _home(session)
        session.add(Device(device_id="dev-1"))
        session.flush()
        for room in prop.rooms:
            session.add(Installation(device_id="dev-1", room_id=room.id, installed_at=T0))
        session.flush()


def test_room_type_is_checked(database):
    """Unknown room types are refused before they reach the database."""
    with pytest.raises(ValidationError, match="room type"), database.session():
        Room(uprn="1", name="Attic", room_type="attic")


def test_deleting_a_property_removes_its_rooms(database):
    """Rooms go with their property."""
    with database.session() as session:
        _home(session)
    with database.session() as session:
        session.delete(session.get(Property, "100000000001"))
    with database.session() as session:
        assert session.scalars(select(Room)).all() == []
