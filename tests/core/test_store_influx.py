"""The InfluxDB readings store: URLs, line protocol and the write path (checked by a real VictoriaMetrics,
which speaks the same /api/v2/write line protocol), and the whole backend against a real InfluxDB 2.x
when DAMPWATCH_TEST_INFLUX_URL names one. No stand-in InfluxDB is used anywhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import urllib.request
import uuid

import pytest

from core.errors import ConfigError, StoreError
from core.mqtt import free_port
from core.readings import Reading, ReadingsStore, open_store
from core.store_influx import (
    InfluxReadingsStore,
    LineProtocolWriter,
    WriteTarget,
    encode_line,
    flux_string,
    flux_time,
    parse_influx_url,
)
from tests.backends_fixtures import (
    INFLUX_URL_VARIABLE,
    T0,
    assert_hourly_matches,
    assert_readings_match,
    running_victoria,
    sample_readings,
    sqlite_reference,
)

TS = dt.datetime(2026, 11, 22, 10, 15, tzinfo=dt.UTC)  # 1795342500


@pytest.fixture
def victoria(tmp_path):
    """A real VictoriaMetrics: a line-protocol server that shows exactly which points it received."""
    yield from running_victoria(tmp_path)


def exported(server, match: str = '{__name__=~".+"}') -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every sample the server holds, as {(series name, device): [(epoch s, value), ...]}."""
    server.flush()
    query = urllib.parse.urlencode({"match[]": match, "start": "946684800"})
    with urllib.request.urlopen(f"{server.http}/api/v1/export?{query}") as response:
        lines = response.read().splitlines()
    samples = {}
    for line in lines:
        series = json.loads(line)
        key = (series["metric"]["__name__"], series["metric"].get("device"))
        samples[key] = [(t // 1000, v) for t, v in zip(series["timestamps"], series["values"], strict=True)]
    return samples


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base_url", "org", "bucket"),
    [
        ("influxdb2://tok3n==@127.0.0.1:8086/housing/readings", "http://127.0.0.1:8086", "housing", "readings"),
        ("influxdb://tok@influx/housing/readings", "http://influx:8086", "housing", "readings"),
        ("influxdb2+http://tok@influx:9999/housing/readings", "http://influx:9999", "housing", "readings"),
        ("influxdb2+https://tok@eu-central-1-1.aws.cloud2.influxdata.com/My%20Org/dw%2Freadings",
         "https://eu-central-1-1.aws.cloud2.influxdata.com:443", "My Org", "dw/readings"),
        ("influxdb+https://tok@[::1]:8086/o/b", "https://[::1]:8086", "o", "b"),
    ],
)
def test_url_names_server_org_and_bucket(url, base_url, org, bucket):
    """The URL gives the server, organisation and bucket; +https chooses TLS."""
    config = parse_influx_url(url)
    assert (config.write.base_url, config.write.org, config.write.bucket) == (base_url, org, bucket)
    assert config.measurement == "env"


def test_url_credentials():
    """A bare user part is the token, user:password is basic authentication, token_file reads a secret."""
    assert parse_influx_url("influxdb2://abc%2Fdef@h/o/b").write.token == "abc/def"
    assert parse_influx_url("influxdb2://:abc@h/o/b").write.token == "abc"
    basic = parse_influx_url("influxdb2://reader:pa%3Ass@h/o/b").write
    assert (basic.token, basic.basic_auth) == (None, "reader:pa:ss")


def test_url_token_file(tmp_path):
    """token_file= reads the token from a secret file (Docker, Kubernetes)."""
    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    assert parse_influx_url(f"influxdb2://h/o/b?token_file={secret}").write.token == "from-a-file"
    with pytest.raises(ConfigError, match="cannot read the InfluxDB token"):
        parse_influx_url(f"influxdb2://h/o/b?token_file={tmp_path}/missing")


def test_url_options():
    """Options reach the writer and the store."""
    config = parse_influx_url(
        "influxdb2://t@h/o/b?measurement=dw_env&timeout=3&retries=5&batch_size=1000&verify_ssl=false&ca_file=/ca.pem"
    )
    write = config.write
    assert (config.measurement, write.timeout_s, write.retries, write.batch_lines) == ("dw_env", 3.0, 5, 1000)
    assert (write.verify_ssl, write.ca_file) == (False, "/ca.pem")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("influxdb2://t@h:8086/onlyorg", "organisation and bucket"),
        ("influxdb2://t@h:8086/o/b/c", "organisation and bucket"),
        ("influxdb2://h:8086/o/b", "has no token"),
        ("influxdb2:///o/b", "has no host"),
        ("influxdb3://t@h/o/b", "influxdb, influxdb2"),
        ("influxdb2://t@h/o/b?precision=ms", "unknown option(s) precision"),
        ("influxdb2://t@h/o/b?retries=-1", "at least 0"),
        ("influxdb2://t@h/o/b?verify_ssl=maybe", "true or false"),
    ],
)
def test_bad_urls_say_how_to_fix_them(url, message):
    """A wrong URL raises ConfigError naming the problem."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_influx_url(url)


def test_token_is_not_repeated_in_errors():
    """Messages show the URL with the token redacted."""
    with pytest.raises(ConfigError) as raised:
        parse_influx_url("influxdb2://supersecrettoken@h/o/b?bogus=1")
    assert "supersecrettoken" not in str(raised.value)


@pytest.mark.parametrize("scheme", ["influxdb", "influxdb2", "influxdb2+http", "influxdb2+https", "influxdb+https"])
def test_open_store_picks_the_influx_backend(scheme):
    """open_store() maps every InfluxDB scheme to this backend, without connecting."""
    store = open_store(f"{scheme}://token@127.0.0.1:1/org/bucket")
    try:
        assert isinstance(store, InfluxReadingsStore)
        assert isinstance(store, ReadingsStore)
    finally:
        store.close()


# --- line protocol -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reading", "room", "line"),
    [
        (Reading("sensor-0042", TS, 18.4, 71.2, 2.91, 1042), None,
         "env,device=sensor-0042 temperature_c=18.4,humidity_pct=71.2,battery_v=2.91,seq=1042i 1795342500"),
        (Reading("s.1", TS.replace(microsecond=999_999), 20, 55, None, None, 1), None,
         "env,device=s.1 temperature_c=20.0,humidity_pct=55.0,flags=1i 1795342500"),
        (Reading("s_1", TS, -0.5, 100.0, 3.3, 0), "Bathroom, 1st floor",
         r"env,device=s_1,room=Bathroom\,\ 1st\ floor temperature_c=-0.5,humidity_pct=100.0,battery_v=3.3,seq=0i "
         "1795342500"),
        (Reading("odd device=1", TS, 1e-05, 50.0), "",
         r"env,device=odd\ device\=1 temperature_c=1e-05,humidity_pct=50.0 1795342500"),
    ],
)
def test_encode_line(reading, room, line):
    """Tags are escaped, unknown fields left out, seq and flags are integers, time in whole seconds."""
    assert encode_line(reading, "env", room) == line


@pytest.mark.parametrize("field", ["temperature_c", "humidity_pct", "battery_v"])
def test_encode_line_refuses_non_finite_values(field):
    """NaN or infinity cannot be stored: StoreError names the reading."""
    values = {"temperature_c": 20.0, "humidity_pct": 50.0, "battery_v": 3.0, field: float("nan")}
    reading = Reading("a", TS, values["temperature_c"], values["humidity_pct"], values["battery_v"])
    with pytest.raises(StoreError, match="finite"):
        encode_line(reading)


def test_flux_literals():
    """Flux strings are escaped and times are RFC 3339 UTC."""
    assert flux_string('a"b\\c${x}') == r'"a\"b\\c\${x}"'
    assert flux_time(dt.datetime(2026, 1, 5, 10, 30, 15, 500, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == (
        "2026-01-05T09:30:15Z"
    )


# --- the write path, checked by a real line-protocol server ---------------------------------------


def test_store_writes_points_a_line_protocol_server_accepts(victoria):
    """InfluxReadingsStore.write() sends the readings through influxdb-client's /api/v2/write, idempotently."""
    url = f"influxdb2://some-token@127.0.0.1:{victoria.port}/housing/readings"
    store = InfluxReadingsStore(url, rooms={"bath-01": "bathroom"})
    try:
        readings = sample_readings()
        result = store.write(readings)
        assert (result.stored, result.duplicates, result.stored_by_device) == (len(readings), 0, None)
        store.write(readings)  # a redelivery lands on the same points
    finally:
        store.close()
    samples = exported(victoria)
    bath = [r for r in readings if r.device_id == "bath-01"]
    assert samples[("env_temperature_c", "bath-01")] == [(r.epoch_s, r.temperature_c) for r in bath]
    assert samples[("env_seq", "bath-01")] == [(r.epoch_s, r.seq) for r in bath if r.seq is not None]
    assert samples[("env_battery_v", "bath-01")] == [(r.epoch_s, r.battery_v) for r in bath if r.battery_v is not None]
    assert samples[("env_flags", "kitchen.2")] == [(int((T0 + dt.timedelta(seconds=2430)).timestamp()), 1)]
    assert ("env_seq", "bed_3") not in samples
    assert sum(len(v) for (name, _), v in samples.items() if name == "env_humidity_pct") == len(readings)


def test_writer_splits_batches(victoria):
    """Lines go out in requests of batch_lines each, and all arrive."""
    target = WriteTarget(base_url=f"{victoria.http}/influx", org="o", bucket="b", token="t", batch_lines=3)
    writer = LineProtocolWriter(target)
    try:
        writer.write_lines([f"m,device=d{n} v={n} {1795342500 + n}" for n in range(10)])
    finally:
        writer.close()
    assert len([key for key in exported(victoria) if key[0] == "m_v"]) == 10


def test_writer_retries_then_raises_when_nothing_listens():
    """Connection refused is transient: retried `retries` times with backoff, each failure reported, then StoreError."""
    failures = []
    target = WriteTarget(base_url=f"http://127.0.0.1:{free_port()}", org="o", bucket="b", token="t", retries=2,
                         timeout_s=2)
    writer = LineProtocolWriter(target, on_error=lambda lines, exc: failures.append(lines))
    started = time.monotonic()
    try:
        with pytest.raises(StoreError, match=r"failed 3 times.*can be written again"):
            writer.write_lines(["m,device=a v=1 1795342500", "m,device=b v=2 1795342500"])
    finally:
        writer.close()
    assert failures == [2, 2, 2]
    assert time.monotonic() - started < 3


def test_writer_does_not_retry_a_rejected_request(victoria):
    """An HTTP 400 (here: a path the server does not serve) is raised at once with a hint."""
    failures = []
    target = WriteTarget(base_url=f"{victoria.http}/nowhere", org="o", bucket="b", token="t", retries=3)
    writer = LineProtocolWriter(target, on_error=lambda lines, exc: failures.append(lines))
    try:
        with pytest.raises(StoreError, match=r"HTTP 400.*check that the readings URL points at the server's write API"):
            writer.write_lines(["m,device=a v=1 1795342500"])
    finally:
        writer.close()
    assert failures == [1]


def test_store_write_fails_with_store_error_when_the_server_is_down(victoria):
    """A stopped server makes InfluxReadingsStore.write() raise StoreError within its bound."""
    store = InfluxReadingsStore(f"influxdb2://t@127.0.0.1:{victoria.port}/o/b?retries=1&timeout=2")
    try:
        victoria.stop()
        started = time.monotonic()
        with pytest.raises(StoreError):
            store.write(sample_readings())
        assert time.monotonic() - started < 3
        victoria.start()
        assert store.write(sample_readings()).stored == len(sample_readings())
    finally:
        store.close()


@pytest.mark.parametrize(
    "read",
    [
        lambda store: store.count(),
        lambda store: store.latest(),
        lambda store: store.hourly(T0, T0 + dt.timedelta(hours=1)),
        lambda store: list(store.iter_readings()),
    ],
    ids=["count", "latest", "hourly", "iter_readings"],
)
def test_reads_fail_with_store_error_without_a_flux_server(victoria, read):
    """Reads need Flux: VictoriaMetrics (no /api/v2/query) and a closed port both give StoreError, not a crash."""
    for url in (f"influxdb2://t@127.0.0.1:{victoria.port}/o/b", f"influxdb2://t@127.0.0.1:{free_port()}/o/b?timeout=1"):
        store = InfluxReadingsStore(url)
        try:
            with pytest.raises(StoreError, match="querying InfluxDB"):
                read(store)
        finally:
            store.close()


# --- a real InfluxDB 2.x, when one is configured -------------------------------------------------

#: Tests against a real InfluxDB 2.x server. None can be installed on this project's machines (not in Debian or
#: PyPI, no Docker engine), so without DAMPWATCH_TEST_INFLUX_URL they are deselected at collection, and the run's
#: summary says so (tests/conftest.py); they are never skipped, in CI or elsewhere.
influx_only = pytest.mark.influxdb2


@pytest.fixture
def influx_store():
    """The store on the configured InfluxDB, in a measurement of its own that is deleted afterwards."""
    base = os.environ[INFLUX_URL_VARIABLE]
    measurement = f"dampwatch_test_{uuid.uuid4().hex[:12]}"
    store = InfluxReadingsStore(f"{base}{'&' if '?' in base else '?'}measurement={measurement}")
    try:
        yield store
    finally:
        try:
            store._writer._client.delete_api().delete(
                start="1970-01-01T00:00:00Z",
                stop=(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                predicate=f'_measurement="{measurement}"',
                bucket=store.bucket,
                org=store.org,
            )
        finally:
            store.close()


@influx_only
def test_influx_round_trip_matches_sqlite(influx_store, tmp_path):
    """Against a real InfluxDB: hourly, latest, iter_readings and count equal the SQLite backend's."""
    readings = sample_readings()
    influx_store.write(readings)
    reference = sqlite_reference(tmp_path, readings)
    assert_hourly_matches(influx_store, reference)
    assert_readings_match(influx_store, reference)


@influx_only
def test_influx_rewrite_is_idempotent(influx_store, tmp_path):
    """Against a real InfluxDB: writing the same readings again changes nothing."""
    readings = sample_readings()
    influx_store.write(readings)
    influx_store.write(readings[1::2])
    reference = sqlite_reference(tmp_path, readings)
    assert_hourly_matches(influx_store, reference)
    assert_readings_match(influx_store, reference)


@influx_only
def test_influx_empty_measurement(influx_store):
    """Against a real InfluxDB: nothing written gives empty answers."""
    assert influx_store.hourly(T0, T0 + dt.timedelta(hours=2)).empty
    assert influx_store.latest() == {}
    assert list(influx_store.iter_readings()) == []
    assert influx_store.count() == 0
