"""What the dashboard keeps between requests is recomputed when what it rests on changes.

The risk list's postcode districts are kept until the homes change; a home's excess cold and heat insight is
kept like its chart series (until the hour turns, one of its devices reports, or the register changes it).
"""

from __future__ import annotations

import datetime as dt

import time_machine
from sqlalchemy import select, update

from core.model import DeviceHealth, Installation, Property, Room
from dashboard import charts, queries


def _districts(client_request) -> list[str]:
    page = client_request.get("main.risk_list")
    return [o["value"] for o in page.select('select[name="district"] option') if o["value"]]


def test_a_new_district_appears_once_the_homes_change(client_request, scored_estate, staff):
    client_request.login(staff.officer)
    assert _districts(client_request) == ["M12"]
    with scored_estate.database.session() as session:
        session.add(Property(uprn="100099990001", address="1 New Road", postcode="LS10 1AB"))
    queries._list_versions.clear()  # the list version is trusted for a few seconds; do not wait for them
    assert _districts(client_request) == ["LS10", "M12"]  # natural order: area letters first
    # A postcode moved to another district counts as a change to the homes (its updated_at) too.
    with scored_estate.database.session() as session:
        session.execute(update(Property).where(Property.uprn == "100099990001")
                        .values(postcode="LS2 7AA", updated_at=dt.datetime.now(dt.UTC)))
    queries._list_versions.clear()
    assert _districts(client_request) == ["LS2", "M12"]


def test_thermal_insight_is_recomputed_when_a_device_reports(scored_estate):
    uprn = scored_estate.uprns[0]
    store = scored_estate.store
    with time_machine.travel(scored_estate.end - dt.timedelta(minutes=30), tick=False), \
            scored_estate.database.session() as session:
        now = dt.datetime.now(dt.UTC)
        first = charts.property_thermal(session, store, uprn, now)
        assert first is not None
        assert charts.property_thermal(session, store, uprn, now) is first  # kept
        # Another home's insight is its own.
        assert charts.property_thermal(session, store, scored_estate.uprns[1], now) is not first
        device_id = session.scalars(select(Installation.device_id).join(Room, Room.id == Installation.room_id)
                                    .where(Room.uprn == uprn)).first()
        session.merge(DeviceHealth(device_id=device_id, last_seen=now))  # it reported (the ingestor records it)
        session.flush()
        again = charts.property_thermal(session, store, uprn, now)
        assert again is not first
        assert again.as_dict() == first.as_dict()  # same readings, same figures
        # The next hour is a new window.
        assert charts.property_thermal(session, store, uprn, now + dt.timedelta(hours=1)) is not again
        assert charts.property_thermal(session, store, "no-such-home", now) is None
