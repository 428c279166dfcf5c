"""simulate(): determinism, arguments, and the physics of a whole estate."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from simulator import build_estate, simulate
from simulator.physics import saturation_absolute_humidity

START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def _small(seed: int, **kwargs):
    return simulate(build_estate(seed, 4), START, days=kwargs.pop("days", 1), spinup_days=2, **kwargs)


def test_same_seed_gives_the_same_messages_expected_set_and_truth():
    """Two runs from one seed agree byte for byte."""
    a, b = _small(21), _small(21)
    assert list(a.iter_messages()) == list(b.iter_messages())
    pd.testing.assert_frame_equal(a.expected, b.expected)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert a.expected_rejections == b.expected_rejections


def test_another_seed_gives_another_estate_and_stream():
    """A different seed changes the readings."""
    a, b = _small(21), _small(22)
    assert list(itertools.islice(a.iter_messages(), 50)) != list(itertools.islice(b.iter_messages(), 50))


@pytest.mark.parametrize(("interval", "per_day"), [(5, 288), (10, 144), (15, 96), (30, 48), (60, 24)])
def test_reading_interval_sets_the_number_of_readings(interval, per_day):
    """Each device reads every interval_minutes, whatever the physics step."""
    sim = _small(3, interval_minutes=interval, faults=False)
    assert sim.readings.n_readings == per_day
    gaps = np.diff(sim.readings.taken_s, axis=1)
    assert (gaps == interval * 60).all()


def test_naive_start_is_utc_and_fractional_days_work():
    """A naive start is taken as UTC; half a day gives half a day of readings."""
    sim = simulate(build_estate(1, 2), dt.datetime(2026, 3, 2, 6, 30), days=0.5, spinup_days=1, faults=False)
    assert sim.start == dt.datetime(2026, 3, 2, 6, 30, tzinfo=dt.UTC)
    assert sim.readings.n_readings == 72
    assert sim.expected.ts.min() >= pd.Timestamp(sim.start)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"interval_minutes": 7}, "interval_minutes"), ({"days": 0}, "days"), ({"prefix": "a/#"}, "prefix")],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    """Intervals that do not divide a day, empty windows and wildcard prefixes are refused."""
    with pytest.raises(ValueError, match=match):
        simulate(build_estate(1, 2), START, **{"days": 1, "spinup_days": 0, **kwargs})


def test_topic_prefix_is_configurable():
    """prefix changes every topic to <prefix>/<device_id>/up."""
    sim = _small(5, prefix="estate7")
    assert {topic.split("/")[0] for topic, _ in sim.iter_messages()} == {"estate7"}


def test_room_air_never_exceeds_saturation(month):
    """Condensation caps every room at 100 % RH throughout the window."""
    w = month.window
    assert (
        w.vapour_density_g_m3 <= saturation_absolute_humidity(w.temp_air_c.astype(float)) * (1 + 1e-6)
    ).all()
    rh = w.rh_air_pct()
    assert rh.max() <= 100.0 and rh.max() > 99.0  # showers do fog a bathroom up


def test_showers_raise_bathroom_rh_and_failed_fans_keep_it_high(month):
    """Bathrooms with poor extraction spend far longer above 80 % RH than those with a working fan."""
    rooms = month.window.rooms
    rh = month.window.rh_air_pct()
    working, failed = [], []
    for home in month.estate.homes:
        bathroom = home.room("bathroom")
        if home.behaviour.leak_room == "bathroom":
            continue
        share = (rh[rooms.index[(home.uprn, "bathroom")]] > 80).mean()
        # Poor ventilation in any of its forms (failed fan, no fan, a fan that moves little air) against a
        # working fan of ordinary strength.
        if home.cause == "poor_ventilation":
            failed.append(share)
        elif bathroom.fan_working:
            working.append(share)
    assert failed and working
    assert np.median(failed) > 2 * np.median(working)
    peaks = np.diff(rh[[rooms.index[(h.uprn, "bathroom")] for h in month.estate.homes]], axis=1).max(axis=1)
    assert np.median(peaks) > 15  # a shower lifts RH by over 15 points in one step


def test_under_heated_homes_are_colder(month):
    """Homes with an under-heating cause average at least 3 K colder than the rest."""
    truth = month.truth
    indoor = truth[truth.room_type != "outdoor"]
    mean_t = indoor.groupby("property_cause").mean_temperature_c.mean()
    assert mean_t["under_heating"] < mean_t.drop("under_heating").min() - 3


def test_outdoor_sensor_reads_the_site_weather(month):
    """The outdoor sensor of each site sees January weather: cold and humid."""
    outdoor = month.expected[month.expected.device_id.str.endswith("-outdoor")]
    by_device = outdoor.groupby("device_id")
    assert len(by_device) == len(month.estate.sites)
    assert by_device.temperature_c.mean().between(-2, 9).all()
    assert by_device.humidity_pct.mean().between(75, 95).all()
