"""The HTTP ingest end to end: a real server on loopback, real SQLite and VictoriaMetrics stores, the real writer.

A 2xx only once readings (or their dead letters) are durable; 503 while the store is down and the sender's retry
is stored once; authentication, methods, sizes and bad bodies each get their own answer."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import time

import pytest
from sqlalchemy import select

from core.db import Database
from core.errors import ConfigError
from core.model import DeadLetter, Device, DeviceHealth
from core.readings import open_store
from ingest.http import HttpIngestServer, build_http_ingest, integrations_from_settings
from tests.backends_fixtures import running_victoria
from tests.ingest.test_adapters import CHIRPSTACK_UP_WITHOUT_CODEC, TTS_UPLINK, mutate
from tests.ingest.test_ingest_broker import dead_letter_counts

SECRET_CS = "cs-secret-0123456789abcdef"
SECRET_TTS = "tts-secret-0123456789abcdef"
ELSYS_DEV_EUI = "a81758fffe0312c5"
# Elsys generic decoder example: 22.6 °C, 41 %, 3.426 V (see tests/ingest/test_codecs.py)
ELSYS_FRAME = bytes.fromhex("0100E202290400270506060308070D62")


@pytest.fixture
def http_settings(settings):
    return settings.model_copy(update={
        "ingest_http_integrations": "council-cs=chirpstack, council-tts=tts",
        "ingest_http_secrets": f"council-cs={SECRET_CS}, council-tts={SECRET_TTS}",
        "ingest_http_max_body_bytes": 4096,
    })


def register(database: Database, *device_ids: str) -> None:
    with database.session() as session:
        session.add_all(Device(device_id=i) for i in device_ids)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def chirpstack_body(at: dt.datetime, frame: bytes = ELSYS_FRAME, dev_eui: str = ELSYS_DEV_EUI) -> bytes:
    """ChirpStack v4's documented up event (no codec), for an Elsys device, posted by its HTTP integration."""
    def change(document):
        document["deviceInfo"]["devEui"] = dev_eui
        document.update({"time": iso(at), "data": base64.b64encode(frame).decode(), "fPort": 5, "fCnt": 3})

    return mutate(CHIRPSTACK_UP_WITHOUT_CODEC, change)


def post(server: HttpIngestServer, path: str, body: bytes, *, secret: str | None = SECRET_CS,
         method: str = "POST", headers: dict | None = None) -> tuple[int, dict, dict]:
    host, port = server.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            all_headers["Authorization"] = f"Bearer {secret}"
        connection.request(method, path, body=body, headers=all_headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, (json.loads(payload) if payload else {}), dict(response.getheaders())
    finally:
        connection.close()


@pytest.fixture
def running(http_settings, store, database):
    register(database, f"lorawan-{ELSYS_DEV_EUI}", "lorawan-0004a30b001c0530")
    with HttpIngestServer(build_http_ingest(http_settings, store, database), port=0) as server:
        yield server


def test_chirpstack_http_uplink_is_stored_before_the_answer(running, store, database):
    """A raw Elsys uplink is decoded, stored and counted in device health before 200 comes back."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=5)
    status, body, _ = post(running, "/ingest/council-cs?event=up", chirpstack_body(at))
    assert (status, body["stored"], body["rejected"]) == (200, 1, {})
    (reading,) = list(store.iter_readings())
    assert (reading.device_id, reading.ts, reading.temperature_c, reading.humidity_pct, reading.battery_v,
            reading.seq) == (f"lorawan-{ELSYS_DEV_EUI}", at, 22.6, 41.0, 3.426, 3)
    with database.session() as session:
        health = session.get(DeviceHealth, f"lorawan-{ELSYS_DEV_EUI}")
        assert (health.readings, health.last_seq) == (1, 3)
    status, body, _ = post(running, "/ingest/council-cs?event=up", chirpstack_body(at))
    assert (status, body["stored"], body["duplicates"]) == (200, 0, 1)  # a resend is stored once
    status, body, _ = post(running, "/ingest/council-cs?event=join", b'{"deviceInfo": {}}')
    assert (status, body["ignored"]) == (200, 1)


def test_tts_webhook_uplink_is_stored(running, store):
    """A The Things Stack webhook uplink (documented format, decoded payload with humidity) is stored."""
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    body = mutate(TTS_UPLINK, lambda d: d["uplink_message"].update(
        received_at=iso(at), decoded_payload={"temperature": 19.5, "humidity": 77.5}))
    status, answer, _ = post(running, "/ingest/council-tts/uplink", body, secret=SECRET_TTS)
    assert (status, answer["stored"]) == (200, 1)
    assert [(r.device_id, r.humidity_pct) for r in store.iter_readings()] == [("lorawan-0004a30b001c0530", 77.5)]


def test_bad_bodies_are_dead_lettered_and_acknowledged(running, database, store):
    """Bad JSON and an unregistered device: 200 (no retry would help) and one dead letter each."""
    status, body, _ = post(running, "/ingest/council-cs?event=up", b"{not json")
    assert (status, body["rejected"]) == (200, {"invalid_json": 1})
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    status, body, _ = post(running, "/ingest/council-cs", chirpstack_body(at, dev_eui="a81758fffe999999"))
    assert (status, body["rejected"]) == (200, {"unknown_device": 1})
    assert dead_letter_counts(database) == {"invalid_json": 1, "unknown_device": 1}
    with database.session() as session:
        topics = set(session.scalars(select(DeadLetter.topic)))
    assert topics == {"http/chirpstack/council-cs/up"}
    assert list(store.iter_readings()) == []


@pytest.mark.parametrize(("path", "secret", "status"), [
    ("/ingest/council-cs", None, 401),
    ("/ingest/council-cs", "wrong-secret-0123456789", 401),
    ("/ingest/council-cs", SECRET_TTS, 401),  # another integration's secret
    ("/ingest/elsewhere", SECRET_CS, 404),
    ("/other/council-cs", SECRET_CS, 404),
])
def test_requests_without_the_integrations_secret_are_refused(running, database, path, secret, status):
    """Each integration has its own bearer secret; nothing is written for a refused request."""
    answer, body, headers = post(running, path, chirpstack_body(dt.datetime.now(dt.UTC)), secret=secret)
    assert answer == status and body["error"]
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer")
    assert dead_letter_counts(database) == {}


def test_methods_lengths_and_sizes(running):
    """GET is 405, a body without Content-Length 411, a body over the limit 413."""
    assert post(running, "/ingest/council-cs", b"", method="GET")[0] == 405
    host, port = running.server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/ingest/council-cs")
    connection.putheader("Authorization", f"Bearer {SECRET_CS}")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"5\r\nhello\r\n0\r\n\r\n")
    assert connection.getresponse().status == 411
    connection.close()
    status, body, _ = post(running, "/ingest/council-cs", b"x" * 5000)
    assert status == 413 and "4096" in body["error"]


def test_settings_errors_say_how_to_fix_them(http_settings):
    """A missing or short secret, an unknown format or a stray secret stops start-up with the fix."""
    assert set(integrations_from_settings(http_settings)) == {"council-cs", "council-tts"}
    for update, message in [
        ({"ingest_http_integrations": ""}, "DAMPWATCH_INGEST_HTTP_INTEGRATIONS"),
        ({"ingest_http_secrets": f"council-cs={SECRET_CS}"}, "council-tts.*needs a secret"),
        ({"ingest_http_secrets": "council-cs=short, council-tts=short"}, "at least 16"),
        ({"ingest_http_integrations": "council-cs=loriot, council-tts=tts"}, "format 'loriot'"),
        ({"ingest_http_secrets": f"council-cs={SECRET_CS}, council-tts={SECRET_TTS}, old={SECRET_TTS}"},
         "do not exist"),
    ]:
        with pytest.raises(ConfigError, match=message):
            integrations_from_settings(http_settings.model_copy(update=update))


@pytest.fixture
def victoria(tmp_path):
    """A real single-node VictoriaMetrics on a free port."""
    yield from running_victoria(tmp_path)


def test_store_down_answers_503_and_the_retry_is_stored_once(http_settings, database, victoria):
    """VictoriaMetrics stopped: 503 with Retry-After and nothing recorded; started again: the retry is stored once."""
    url = victoria.url + "?retries=1&timeout=2"
    store = open_store(url)
    register(database, f"lorawan-{ELSYS_DEV_EUI}")
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    body = chirpstack_body(at)
    try:
        with HttpIngestServer(build_http_ingest(http_settings.model_copy(update={"readings_url": url}), store,
                                                database), port=0) as server:
            victoria.stop()
            status, answer, headers = post(server, "/ingest/council-cs?event=up", body)
            assert status == 503 and int(headers["Retry-After"]) > 0 and "retry" in answer["error"]
            with database.session() as session:
                assert session.get(DeviceHealth, f"lorawan-{ELSYS_DEV_EUI}") is None
            victoria.start()
            deadline = time.monotonic() + 30
            while (status := post(server, "/ingest/council-cs?event=up", body)[0]) == 503:
                assert time.monotonic() < deadline, "the store did not come back"
                time.sleep(0.5)
            assert status == 200
            assert post(server, "/ingest/council-cs?event=up", body)[0] == 200  # a second retry
        victoria.flush()
        readings = list(store.iter_readings())
        assert [(r.device_id, r.ts, r.humidity_pct) for r in readings] == [(f"lorawan-{ELSYS_DEV_EUI}", at, 41.0)]
        with database.session() as session:
            # VictoriaMetrics cannot tell a new reading from a resent one, so health counts arrivals; the time is right
            assert session.get(DeviceHealth, f"lorawan-{ELSYS_DEV_EUI}").last_seen.replace(tzinfo=dt.UTC) == at
    finally:
        store.close()


def test_any_body_is_answered_200_while_the_store_is_up(http_settings, store, database):
    """Hypothesis: whatever a sender posts (any bytes, any JSON), the answer is 200 and nothing raises."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    bodies = st.one_of(
        st.binary(max_size=300),
        st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                     max_leaves=10).map(lambda v: json.dumps(v).encode()),
    )
    with HttpIngestServer(build_http_ingest(http_settings, store, database), port=0) as server:
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(body=bodies, integration=st.sampled_from([("council-cs", SECRET_CS), ("council-tts", SECRET_TTS)]))
        def check(body, integration):
            name, secret = integration
            status, answer, _ = post(server, f"/ingest/{name}?event=up", body, secret=secret)
            assert status == 200, answer
            assert answer["stored"] == 0

        check()
        assert set(server.ingest.counts) == {200}


def test_the_ingest_http_command_serves_until_sigterm(http_settings, tmp_path):
    """'dampwatch ingest-http' starts from the environment, stores a pushed uplink and stops cleanly on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    database = Database(f"sqlite:///{tmp_path}/app.db")
    register(database, "lorawan-0004a30b001c0530")
    database.dispose()
    env = {name: value for name, value in os.environ.items() if not name.startswith("DAMPWATCH_")}
    env.update({
        "DAMPWATCH_VAR_DIR": str(tmp_path), "DAMPWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/app.db",
        "DAMPWATCH_READINGS_URL": f"sqlite:///{tmp_path}/readings.db", "DAMPWATCH_METRICS_PORT": "0",
        "DAMPWATCH_INGEST_HTTP_INTEGRATIONS": "council-tts=tts",
        "DAMPWATCH_INGEST_HTTP_PORT": str(port),
    })
    secrets = tmp_path / "http-secrets"
    secrets.write_text(f"council-tts={SECRET_TTS}\n")
    env["DAMPWATCH_INGEST_HTTP_SECRETS_FILE"] = str(secrets)
    process = subprocess.Popen([sys.executable, "-c", "from dampwatch.cli import main; main()", "ingest-http"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1][-2000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "ingest-http did not start listening"
                time.sleep(0.2)
        at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        body = mutate(TTS_UPLINK, lambda d: d["uplink_message"].update(
            received_at=iso(at), decoded_payload={"temperature": 20.0, "humidity": 65.0}))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/ingest/council-tts", body=body, headers={"Authorization": f"Bearer {SECRET_TTS}"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["stored"]) == (200, 1)
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    assert "HTTP ingest listening" in err and SECRET_TTS not in err
    store = open_store(f"sqlite:///{tmp_path}/readings.db")
    try:
        assert [(r.device_id, r.humidity_pct) for r in store.iter_readings()] == [("lorawan-0004a30b001c0530", 65.0)]
    finally:
        store.close()


def test_codecs_command_lists_the_device_map_names():
    """'dampwatch codecs' lists every codec with its aliases and whether a DevEUI range chooses it."""
    from click.testing import CliRunner

    from dampwatch.cli import main

    result = CliRunner().invoke(main, ["codecs"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert {"milesight-em300-th", "elsys", "dragino-lht65", "dragino-lht52", "browan-tabs", "netvox"} <= set(lines)
    assert "milesight-em300" in lines["milesight-em300-th"] and "DevEUI A81758" in lines["elsys"]
    assert "several models" in lines["dragino-lht65"]


def test_check_config_reports_a_bad_device_map_codec_and_a_missing_secret(tmp_path, monkeypatch):
    """'dampwatch --check-config' names the device-map line with an unknown codec and the integration without a
    secret."""
    import os

    from click.testing import CliRunner

    from dampwatch.cli import main

    for name in list(os.environ):
        if name.startswith("DAMPWATCH_"):
            monkeypatch.delenv(name)
    device_map = tmp_path / "devices.csv"
    device_map.write_text("key,device_id,codec\na84041000181e4c2,bath-1,dragino-lht99\n")
    for name, value in {"DAMPWATCH_VAR_DIR": str(tmp_path), "DAMPWATCH_DATABASE_URL": f"sqlite:///{tmp_path}/a.db",
                        "DAMPWATCH_READINGS_URL": f"sqlite:///{tmp_path}/r.db",
                        "DAMPWATCH_INGEST_ADAPTERS": "application/+/device/+/event/+=chirpstack",
                        "DAMPWATCH_INGEST_DEVICE_MAP_FILE": str(device_map),
                        "DAMPWATCH_INGEST_HTTP_INTEGRATIONS": "council=chirpstack"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["--check-config"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "fail  adapters and device map" in result.output and "line 2" in result.output
    assert "fail  HTTP integrations" in result.output and "needs a secret" in result.output
    device_map.write_text("key,device_id,codec\na84041000181e4c2,bath-1,dragino-lht65\n")
    monkeypatch.setenv("DAMPWATCH_INGEST_HTTP_SECRETS", f"council={SECRET_CS}")
    result = CliRunner().invoke(main, ["--check-config"], catch_exceptions=False)
    assert "ok    adapters and device map" in result.output and "ok    HTTP integrations" in result.output


def test_an_unexpected_failure_is_a_500_and_nothing_is_acknowledged(http_settings, store, database):
    """A writer that fails in an unforeseen way answers 500 (the sender keeps the message and retries)."""
    ingest = build_http_ingest(http_settings, store, database)

    class Broken:
        def write(self, batch):
            raise RuntimeError("a bug")

    ingest.writer = Broken()
    with HttpIngestServer(ingest, port=0) as server:
        status, body, _ = post(server, "/ingest/council-cs?event=up", chirpstack_body(dt.datetime.now(dt.UTC)))
    assert status == 500 and "not stored" in body["error"]


def test_victoriametrics_sigkill_after_200s_is_replayed_from_the_window(http_settings, database, victoria, caplog):
    """Answers of 200 stay true when VictoriaMetrics is SIGKILLed after accepting them: the HTTP path's own replay
    window writes them again once the store is back (its restart is seen from its process start time)."""
    url = victoria.url + "?retries=1&timeout=2"
    store = open_store(url)
    register(database, f"lorawan-{ELSYS_DEV_EUI}")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    moments = [start + dt.timedelta(minutes=i) for i in range(40)]
    caplog.set_level("WARNING", logger="ingest.replay")
    settings = http_settings.model_copy(update={"readings_url": url})
    try:
        with HttpIngestServer(build_http_ingest(settings, store, database), port=0) as server:
            for at in moments:
                assert post(server, "/ingest/council-cs?event=up", chirpstack_body(at))[0] == 200
            # VictoriaMetrics gives its start time in whole seconds: a restart within the second it started is not
            # seen (the README says so), so the crash comes at least a second after the start.
            time.sleep(1.1)
            victoria.stop(hard=True)  # SIGKILL: rows it had accepted but not flushed are gone
            victoria.start()
            time.sleep(1.1)  # the writer looks at the store's start time at most once a second
            late = start + dt.timedelta(minutes=45)
            deadline = time.monotonic() + 30
            while post(server, "/ingest/council-cs?event=up", chirpstack_body(late))[0] != 200:
                assert time.monotonic() < deadline, "the store did not come back"
                time.sleep(0.5)
        assert (settings.spool_dir / "recent-http").is_dir()
        assert [r for r in caplog.records if "readings store restarted" in r.getMessage()], "no replay happened"
        victoria.flush()
        stored = sorted(r.ts for r in store.iter_readings())
        assert stored == [*moments, late]
    finally:
        store.close()
