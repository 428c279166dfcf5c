"""The virtual estate: identity contract, archetypes, households, sensors and the asset-register CSV."""

from __future__ import annotations

import collections
import csv
import re

import pytest

from simulator import CAUSES, ESTATE_CSV_COLUMNS, build_estate, write_estate_csv
from simulator.estate import DEVICE_ID_RE, POSTCODE_RE, ROOM_TYPES, WALL_TYPES


@pytest.fixture(scope="module")
def estate():
    """The default-sized estate."""
    return build_estate(11, 50)


def test_same_seed_same_estate_other_seed_other_estate():
    """The estate is a pure function of the seed."""
    assert build_estate(3, 20) == build_estate(3, 20)
    assert build_estate(3, 20) != build_estate(4, 20)


def test_uprns_are_unique_twelve_digit_strings(estate):
    """Every property has its own 12-digit UPRN."""
    uprns = [home.uprn for home in estate.homes]
    assert len(set(uprns)) == len(uprns) == 50
    assert all(re.fullmatch(r"\d{12}", u) for u in uprns)
    assert uprns[0] == "100000000001"


def test_addresses_and_postcodes_are_plausible(estate):
    """Addresses name a street and a town; postcodes are valid UK postcodes in LS, M, S or CF."""
    for home in estate.homes:
        assert POSTCODE_RE.match(home.postcode), home.postcode
        assert re.match(r"(LS|M|S|CF)\d", home.postcode)
        assert home.address.split(", ")[-1] in {"Leeds", "Manchester", "Sheffield", "Cardiff"}


@pytest.mark.parametrize(("homes", "sites"), [(50, None), (50, 2), (7, None), (1, None), (30, 30)])
def test_homes_are_split_into_sites(homes, sites):
    """About 17 homes per site by default, each site with exactly one outdoor sensor."""
    estate = build_estate(2, homes, sites)
    per_site = collections.Counter(home.site for home in estate.homes)
    assert len(per_site) == len(estate.sites) == (sites or max(1, round(homes / 17)))
    if sites is None and homes >= 10:
        assert all(10 <= n <= 25 for n in per_site.values())
    outdoor = collections.Counter(
        home.site for home in estate.homes for room in home.rooms if room.room_type == "outdoor"
    )
    assert outdoor == {site.name: 1 for site in estate.sites}
    for site in estate.sites:
        home = estate.home(site.outdoor_uprn)
        assert home.site == site.name
        assert home.room("outdoor").name == "Outdoor"


def test_archetypes_households_and_rooms_follow_the_contract(estate):
    """Wall types, floor levels, household sizes and room types are from the agreed lists."""
    for home in estate.homes:
        arch, hh = home.archetype, home.household
        assert arch.wall_type in WALL_TYPES
        assert 1880 < arch.build_year < 2026
        assert arch.floor_level is None or isinstance(arch.floor_level, int)
        assert 1 <= hh.size <= 6
        types = [room.room_type for room in home.rooms]
        assert set(types) <= set(ROOM_TYPES)
        assert {"bathroom", "kitchen", "living_room", "bedroom"} <= set(types)
        assert 1 <= types.count("bedroom") <= 3


def test_each_home_has_about_four_sensors_with_valid_ids(estate):
    """Sensors in the bathroom, kitchen, living room and main bedroom: sim-<uprn>-<room>."""
    ids = [device_id for device_id, _, _ in estate.devices]
    assert len(ids) == len(set(ids))
    assert len(ids) == 4 * 50 + len(estate.sites)
    for device_id, home, room in estate.devices:
        assert DEVICE_ID_RE.match(device_id)
        assert device_id == f"sim-{home.uprn}-{room.slug}"
    for home in estate.homes:
        sensored = {room.slug for room in home.indoor_rooms if room.device_id}
        assert sensored == {"bathroom", "kitchen", "living_room", "bedroom_1"}


def test_about_forty_percent_of_homes_are_damp_prone_with_every_cause(estate):
    """20 of 50 homes have a cause of damp, four of each of the five causes."""
    causes = collections.Counter(home.cause for home in estate.homes)
    assert causes["none"] == 30
    assert {cause: causes[cause] for cause in CAUSES} == dict.fromkeys(CAUSES, 4)


def test_causes_show_in_the_hidden_make_up_of_the_home(estate):
    """Failed fans, cold spots, low set-points, big households and leaks go with their causes."""
    for home in estate.homes:
        b = home.behaviour
        if home.cause == "poor_ventilation":
            bathroom = home.room("bathroom")
            # Three forms: a failed fan, no extraction at all, a fan that moves little air.
            assert {"failed_fan": bathroom.fan_working is False, "no_fan": bathroom.fan_working is None,
                    "weak_fan": bathroom.fan_working is True and bathroom.fan_ach_per_h <= 1.0}[b.form]
        elif home.cause == "cold_fabric":
            assert home.room("bedroom_1").f_rsi <= 0.55
        elif home.cause == "under_heating":
            assert b.setpoint_c <= 17.5
        elif home.cause == "high_moisture_load":
            assert home.household.size >= 5 and b.dries_clothes
        elif home.cause == "leak":
            assert b.leak_room is not None and b.leak_g_per_h >= 50
            assert b.leak_pattern == ("heating" if b.form == "heating_pipe" else "steady")
        else:
            assert b.leak_room is None and b.setpoint_c >= 18.5


def test_estate_csv_has_the_register_format(estate, tmp_path):
    """One row per room, the exact header, property columns repeated, blanks where the register has none."""
    path = write_estate_csv(estate, tmp_path / "estate.csv")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    assert tuple(header) == ESTATE_CSV_COLUMNS
    assert ",".join(header) == (
        "uprn,address,postcode,site,build_year,wall_type,floor_level,temperature_factor,child_under_15,"
        "over_65,respiratory_condition,room,room_type,device_id"
    )
    assert len(rows) == sum(len(home.rooms) for home in estate.homes)
    for row in rows:
        assert row["temperature_factor"] == ""
        for flag in ("child_under_15", "over_65", "respiratory_condition"):
            assert row[flag] in {"yes", "no", ""}
        assert row["floor_level"] == "" or row["floor_level"].isdigit()
        assert row["device_id"] == "" or DEVICE_ID_RE.match(row["device_id"])
        assert row["room_type"] in ROOM_TYPES
    by_uprn = collections.defaultdict(list)
    for row in rows:
        by_uprn[row["uprn"]].append(row)
    for uprn, home_rows in by_uprn.items():
        home = estate.home(uprn)
        assert len(home_rows) == len(home.rooms)
        assert len({(r["address"], r["postcode"], r["site"], r["wall_type"]) for r in home_rows}) == 1
        assert (home_rows[0]["floor_level"] == "") == (home.archetype.floor_level is None)
    assert any(row["device_id"] == "" for row in rows)  # rooms without a sensor


@pytest.mark.parametrize(("homes", "sites"), [(0, None), (5, 6), (5, 0)])
def test_bad_sizes_raise_value_error(homes, sites):
    """An empty estate or more sites than homes is refused with a clear message."""
    with pytest.raises(ValueError, match=r"homes|sites"):
        build_estate(1, homes, sites)


def test_every_cause_comes_in_each_of_its_forms_on_a_large_estate():
    """Over 600 homes, each cause shows every one of its realistic forms, and healthy homes have none."""
    from simulator.estate import CAUSE_FORMS, build_estate

    estate = build_estate(seed=5, homes=600)
    seen: dict[str, set[str]] = {}
    for home in estate.homes:
        seen.setdefault(home.cause, set()).add(home.behaviour.form)
    assert seen.pop("none") == {""}
    assert seen == {cause: set(forms) for cause, forms in CAUSE_FORMS.items()}
