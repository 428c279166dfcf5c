"""The VictoriaMetrics readings store against a real victoria-metrics (Debian's package), compared with SQLite."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from core.errors import ConfigError, StoreError
from core.readings import Reading, ReadingsStore, open_store
from core.store_victoria import (
    VictoriaMetricsReadingsStore,
    device_matcher,
    duration_seconds,
    parse_victoria_url,
)
from tests.backends_fixtures import (
    T0,
    assert_hourly_matches,
    assert_readings_match,
    running_victoria,
    sample_readings,
    sqlite_reference,
    victoria_server,
)


@pytest.fixture
def victoria(tmp_path):
    """A real single-node VictoriaMetrics with per-second deduplication, on a free port."""
    yield from running_victoria(tmp_path)


@pytest.fixture
def vm_store(victoria):
    store = VictoriaMetricsReadingsStore(victoria.url + "?retries=1&timeout=3")
    try:
        yield store
    finally:
        store.close()


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "write_base", "read_base", "flags_url"),
    [
        ("victoriametrics://vm.internal", "http://vm.internal:8428/influx", "http://vm.internal:8428/prometheus",
         "http://vm.internal:8428/flags"),
        ("vm+https://vm.example.org", "https://vm.example.org:8428/influx", "https://vm.example.org:8428/prometheus",
         "https://vm.example.org:8428/flags"),
        ("vm://127.0.0.1:9428", "http://127.0.0.1:9428/influx", "http://127.0.0.1:9428/prometheus",
         "http://127.0.0.1:9428/flags"),
        ("victoriametrics://vminsert:8480?tenant=0&select=vmselect",
         "http://vminsert:8480/insert/0/influx", "http://vmselect:8481/select/0/prometheus", "http://vmselect:8481/flags"),
        ("victoriametrics+https://lb.example.org:443?tenant=42:7",
         "https://lb.example.org:443/insert/42:7/influx", "https://lb.example.org:443/select/42:7/prometheus",
         "https://lb.example.org:443/flags"),
        ("victoriametrics://vminsert?tenant=3&select=10.0.0.5:9000",
         "http://vminsert:8480/insert/3/influx", "http://10.0.0.5:9000/select/3/prometheus", "http://10.0.0.5:9000/flags"),
    ],
)
def test_url_names_single_node_and_cluster_endpoints(url, write_base, read_base, flags_url):
    """Single-node and cluster URLs give the vminsert, vmselect and flags endpoints."""
    config = parse_victoria_url(url)
    assert (config.write.base_url, config.read_base, config.flags_url) == (write_base, read_base, flags_url)
    assert config.cluster == ("tenant=" in url)


def test_url_options():
    """Credentials become basic authentication; options reach the writer."""
    config = parse_victoria_url(
        "vm://ingest:s%40cret@vm:8428?measurement=dw&timeout=2.5&retries=0&batch_size=100&check_dedup=false"
    )
    assert config.write.basic_auth == "ingest:s@cret"
    assert (config.measurement, config.write.timeout_s, config.write.retries, config.write.batch_lines) == (
        "dw", 2.5, 0, 100,
    )
    assert config.check_dedup is False


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("victoriametrics://", "no host"),
        ("victoriametrics://vm:8428/prometheus", "must not have a path"),
        ("victoriametrics://vm?tenant=zero", "tenant 'zero'"),
        ("victoriametrics://vm?select=vmselect:8481", "select= is for a cluster"),
        ("victoriametrics://vm?retention=1y", "unknown option"),
        ("victoriametrics://vm?timeout=soon", "must be a number"),
        ("victoriametrics://vm?measurement=env-1", "measurement 'env-1'"),
        ("victoriametrics+ftp://vm", "+http or +https"),
        ("victoriametrics://vm:99999", "invalid port"),
    ],
)
def test_bad_urls_say_how_to_fix_them(url, message):
    """A wrong URL raises ConfigError naming the problem."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_victoria_url(url)


def test_credentials_are_not_repeated_in_errors():
    """Messages show the URL with its password redacted."""
    with pytest.raises(ConfigError) as raised:
        parse_victoria_url("vm://user:topsecret@vm?bogus=1")
    assert "topsecret" not in str(raised.value)


@pytest.mark.parametrize("url", ["vm://127.0.0.1:1", "victoriametrics+https://vm.example.org?tenant=0"])
def test_open_store_picks_the_victoria_backend(url):
    """open_store() maps the victoriametrics and vm schemes to this backend, without connecting."""
    store = open_store(url)
    try:
        assert isinstance(store, VictoriaMetricsReadingsStore)
        assert isinstance(store, ReadingsStore)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "seconds"), [("1s", 1), ('"1s"', 1), ("0s", 0), ("0", 0), ("500ms", 0.5), ("1m30s", 90), ("2h", 7200)]
)
def test_duration_seconds(text, seconds):
    """Go durations as /flags prints them."""
    assert duration_seconds(text) == seconds


def test_device_matcher_escapes_regex_and_string():
    """Device ids are matched literally: dots are escaped for the regex and the MetricsQL string."""
    assert device_matcher(["a.1", "b-2"]) == r'{device=~"a\\.1|b\\-2"}'
    assert device_matcher(None) == "{}"


# --- round trips against a real server -----------------------------------------------------------


def test_round_trip_matches_sqlite(vm_store, victoria, tmp_path):
    """Hourly aggregates, latest readings, iter_readings and count equal the SQLite backend's."""
    readings = sample_readings()
    result = vm_store.write(readings)
    assert (result.stored, result.duplicates, result.stored_by_device) == (len(readings), 0, None)
    victoria.flush()
    reference = sqlite_reference(tmp_path, readings)
    assert_hourly_matches(vm_store, reference)
    assert_readings_match(vm_store, reference)


def test_rewrite_is_idempotent(vm_store, victoria, tmp_path):
    """Writing the same readings again (an MQTT redelivery) changes nothing."""
    readings = sample_readings()
    vm_store.write(readings)
    vm_store.write(readings[::2])
    vm_store.write(readings)
    victoria.flush()
    reference = sqlite_reference(tmp_path, readings)
    assert_hourly_matches(vm_store, reference)
    assert_readings_match(vm_store, reference)


def test_one_reading_per_device_and_second(vm_store, victoria):
    """Two readings of one device in the same second are one reading (here the later and larger one)."""
    vm_store.write([Reading("a", T0, 20.0, 40.0)])
    vm_store.write([Reading("a", T0 + dt.timedelta(microseconds=300), 25.0, 45.0)])
    victoria.flush()
    (only,) = list(vm_store.iter_readings())
    assert (only.ts, only.temperature_c) == (T0, 25.0)
    assert vm_store.count() == 1


def test_empty_store(vm_store):
    """An empty store answers with empty results, not errors."""
    frame = vm_store.hourly(T0, T0 + dt.timedelta(hours=3))
    assert frame.empty
    assert vm_store.latest() == {}
    assert list(vm_store.iter_readings()) == []
    assert vm_store.count() == 0
    assert vm_store.write([]).stored == 0


def test_latest_finds_devices_silent_for_months(vm_store, victoria, tmp_path):
    """latest() widens its window for devices that last reported long ago; fields of older readings stay out."""
    readings = [
        Reading("fresh", T0, 20.0, 50.0, 2.9, 1),
        Reading("fresh", T0 + dt.timedelta(minutes=10), 21.0, 51.0, None, None, 1),
        Reading("quiet", T0 - dt.timedelta(days=20), 18.0, 70.0, 3.1, 7),
        Reading("gone", T0 - dt.timedelta(days=400), 16.0, 80.0, 2.5, 9),
    ]
    vm_store.write(readings)
    victoria.flush()
    reference = sqlite_reference(tmp_path, readings)
    assert vm_store.latest() == reference.latest()
    assert vm_store.latest()["fresh"].battery_v is None
    assert vm_store.latest(["gone"]) == {"gone": readings[-1]}


def test_room_label_does_not_split_a_device(victoria, tmp_path):
    """With a room label, a device that moved room mid-hour still gives one exact row per hour."""
    readings = sample_readings()
    before = [r for r in readings if r.ts < T0 + dt.timedelta(minutes=30)]
    after = [r for r in readings if r.ts >= T0 + dt.timedelta(minutes=30)]
    first = VictoriaMetricsReadingsStore(victoria.url, rooms={"bath-01": "bathroom", "kitchen.2": "kitchen"})
    second = VictoriaMetricsReadingsStore(victoria.url, rooms={"bath-01": "bedroom"})
    try:
        first.write(before)
        second.write(after)
        victoria.flush()
        reference = sqlite_reference(tmp_path, readings)
        assert_hourly_matches(second, reference)
        assert_readings_match(second, reference)
    finally:
        first.close()
        second.close()


def test_many_devices_are_queried_in_batches(vm_store, victoria, tmp_path):
    """More devices than fit one query are read in several, with the same result."""
    readings = [
        Reading(f"dev-{n:04d}", T0 + dt.timedelta(minutes=n % 60), 15.0 + n % 10, 40.0 + n % 50)
        for n in range(450)
    ]
    vm_store.write(readings)
    victoria.flush()
    reference = sqlite_reference(tmp_path, readings)
    ids = [f"dev-{n:04d}" for n in range(0, 450, 2)]
    end = T0 + dt.timedelta(hours=2)
    assert vm_store.hourly(T0, end, ids).equals(reference.hourly(T0, end, ids))
    assert vm_store.latest(ids) == reference.latest(ids)
    assert list(vm_store.iter_readings(device_ids=ids)) == list(reference.iter_readings(device_ids=ids))


def test_writes_in_several_requests(victoria, tmp_path):
    """A batch larger than batch_size goes out in several requests and all of it is stored."""
    store = VictoriaMetricsReadingsStore(victoria.url + "?batch_size=4")
    try:
        readings = sample_readings()
        store.write(readings)
        victoria.flush()
        assert list(store.iter_readings()) == list(sqlite_reference(tmp_path, readings).iter_readings())
    finally:
        store.close()


# --- server set-up and outages -------------------------------------------------------------------


def test_server_without_deduplication_is_refused(tmp_path):
    """A server without -dedup.minScrapeInterval would double-count redeliveries: ConfigError says the flag."""
    with victoria_server(tmp_path, dedup=None) as server:
        store = VictoriaMetricsReadingsStore(server.url)
        try:
            with pytest.raises(ConfigError, match=r"-dedup\.minScrapeInterval=1s"):
                store.write(sample_readings())
        finally:
            store.close()
        unchecked = VictoriaMetricsReadingsStore(server.url + "?check_dedup=false")
        try:
            assert unchecked.write(sample_readings()[:2]).stored == 2
        finally:
            unchecked.close()


def test_deduplication_interval_longer_than_a_second_is_refused(tmp_path):
    """A dedup interval over one second would merge distinct readings."""
    with victoria_server(tmp_path, dedup="1m") as server:
        store = VictoriaMetricsReadingsStore(server.url)
        try:
            with pytest.raises(ConfigError, match="would drop readings"):
                store.count()
        finally:
            store.close()


def test_outage_raises_promptly_then_recovers(victoria, tmp_path):
    """Stopping VictoriaMetrics makes write() raise StoreError within its bound; once it is back, writes succeed."""
    errors = []
    store = VictoriaMetricsReadingsStore(
        victoria.url + "?retries=2&timeout=2", on_write_error=lambda lines, exc: errors.append(lines)
    )
    try:
        readings = sample_readings()
        store.write(readings[:5])
        victoria.stop()
        started = time.monotonic()
        with pytest.raises(StoreError, match="failed 3 times"):
            store.write(readings[5:])
        assert time.monotonic() - started < 5
        assert errors == [len(readings) - 5] * 3
        with pytest.raises(StoreError, match="check that it is running"):
            store.count()
        victoria.start()
        store.write(readings[5:])
        victoria.flush()
        assert list(store.iter_readings()) == list(sqlite_reference(tmp_path, readings).iter_readings())
    finally:
        store.close()

