"""No message can stop ingest (issue 11), through a real Mosquitto and the real ingest worker.

Poison messages sit between good readings; every good reading must be stored,
each poison must become exactly one dead letter, and the worker must never have
to be replaced. The expected reasons are written here by hand from the contract.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter

import pytest
from sqlalchemy import select

import simulator
from core.db import Database
from core.model import DeadLetter, Device
from core.mqtt import BrokerAddress, new_client
from ingest.parse import Reason
from tests.ingest.test_ingest_broker import dead_letter_counts, running_ingestor, wait_for

pytestmark = pytest.mark.broker

HUGE = "9" * 309  # one digit more than any float can hold: float() of it raises OverflowError
ROUTES = "zigbee2mqtt/#=zigbee2mqtt, senml/#=senml, tele/+/SENSOR=tasmota"


def _register(database: Database, *device_ids: str) -> None:
    with database.session() as session:
        session.add_all(Device(device_id=device_id) for device_id in device_ids)


def _good(ts: dt.datetime, seq: int, humidity_pct: float = 60.0) -> bytes:
    return json.dumps({"ts": ts.isoformat(), "temperature_c": 19.5, "humidity_pct": humidity_pct, "seq": seq}).encode()


# Native poison payloads and the reason each must be dead-lettered with (from the contract, by hand).
NATIVE_POISON = [
    (b'{"ts": "0001-01-01T00:00:00+01:00", "temperature_c": 20, "humidity_pct": 50}', Reason.TIMESTAMP_TOO_OLD),
    (b'{"ts": "9999-12-31T23:59:59-01:00", "temperature_c": 20, "humidity_pct": 50}', Reason.FUTURE_TIMESTAMP),
    (b'{"temperature_c": ' + HUGE.encode() + b', "humidity_pct": 50}', Reason.TEMPERATURE_OUT_OF_RANGE),
    (b'{"temperature_c": 20, "humidity_pct": -' + HUGE.encode() + b'}', Reason.HUMIDITY_OUT_OF_RANGE),
    (b'{"temperature_c": 20, "humidity_pct": 50, "battery_v": ' + HUGE.encode() + b'}', Reason.BATTERY_OUT_OF_RANGE),
    (b'{"temperature_c": 20, "humidity_pct": 50, "seq": ' + HUGE.encode() + b'}', Reason.INVALID_SEQ),
    (b'{"ts": ' + HUGE.encode() + b', "temperature_c": 20, "humidity_pct": 50}', Reason.INVALID_TIMESTAMP),
    (b'{"ts": -' + HUGE.encode() + b', "temperature_c": 20, "humidity_pct": 50}', Reason.TIMESTAMP_TOO_OLD),
    (b'{"ts": 1e308, "temperature_c": 20, "humidity_pct": 50}', Reason.INVALID_TIMESTAMP),
    (b'{"temperature_c": 1e400, "humidity_pct": 50}', Reason.NOT_FINITE),
    (b'{"temperature_c": ' + b"9" * 5000 + b', "humidity_pct": 50}', Reason.INVALID_JSON),
    (b'{"temperature_c": 20, "humidity_pct": 50, "humidity_pct": 99}', Reason.DUPLICATE_KEY),
    (b'{"readings": [{"ts": "0001-01-01T00:00:00+14:00", "temperature_c": 20, "humidity_pct": 50}]}',
     Reason.TIMESTAMP_TOO_OLD),
]
# Other systems' poison: each must be one dead letter (the adapter decides the reason) and stop nothing.
ADAPTER_POISON = [
    ("senml/gw-1", b'[{"bn": "poison-1:", "u": "Cel", "v": ' + HUGE.encode() + b'}, {"u": "%RH", "v": 50}]'),
    ("senml/gw-1", b'[{"bn": "poison-1:", "bt": ' + HUGE.encode() + b', "u": "Cel", "v": 20}, {"u": "%RH", "v": 50}]'),
    ("zigbee2mqtt/poison-2", b'{"temperature": ' + HUGE.encode() + b', "humidity": 50}'),
    ("tele/poison-3/SENSOR", b'{"Time": "2026-01-01T00:00:00", "SHT3X": {"Temperature": 20, "Humidity": -'
     + HUGE.encode() + b'}}'),
]


def test_poison_messages_between_good_readings_stop_nothing(broker, settings, store, tmp_path):
    """100 good readings with every kind of poison between them: all 100 stored, one dead letter per poison."""
    settings = settings.model_copy(update={"ingest_adapters": ROUTES})
    database = Database(settings.database_url)
    _register(database, "dev-good", "dev-poison", "senml-poison-1", "z2m-poison-2", "tasmota-poison-3")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    poison = [("dampwatch/dev-poison/up", payload) for payload, _reason in NATIVE_POISON]
    poison += [("dampwatch/not-registered/up", NATIVE_POISON[0][0])]  # the device need not be registered
    poison += ADAPTER_POISON
    messages, good_times = [], []
    for index in range(100):
        ts = now - dt.timedelta(minutes=index + 1)
        good_times.append(ts)
        messages.append(("dampwatch/dev-good/up", _good(ts, index)))
        if index < len(poison):
            messages.append(poison[index])
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(iter(messages), broker.url, client_id="poison")
        wait_for(lambda: ingestor.metrics.received._value.get() >= len(messages)
                 and ingestor.metrics.pending._value.get() == 0, what="every message handled",
                 state=ingestor.metrics.log_line)
        assert getattr(ingestor._backend, "restarts", 0) == 0, "a message killed the ingest worker"
    assert sorted(r.ts for r in store.iter_readings()) == sorted(good_times)
    counts = dead_letter_counts(database)
    expected_native = Counter(reason for _payload, reason in NATIVE_POISON)
    expected_native[Reason.TIMESTAMP_TOO_OLD] += 1  # the unregistered device's copy
    with database.session() as session:
        letters = session.scalars(select(DeadLetter)).all()
    native = Counter(letter.reason for letter in letters if letter.topic.startswith("dampwatch/"))
    assert native == expected_native
    adapter_letters = [letter for letter in letters if not letter.topic.startswith("dampwatch/")]
    assert len(adapter_letters) == len(ADAPTER_POISON), [(x.topic, x.reason, x.detail) for x in adapter_letters]
    assert sum(counts.values()) == len(poison)
    database.dispose()


def _senml_pack(first: int, devices: int) -> bytes:
    records = []
    for number in range(first, first + devices):
        records.append({"bn": f"x{number:06d}:", "u": "Cel", "v": 20})
        records.append({"u": "%RH", "v": 50})
    return json.dumps(records, separators=(",", ":")).encode()


def test_senml_packs_naming_70000_unregistered_devices_do_not_wedge_ingest(broker, settings, store, database_url):
    """The wedge of issue 11: a batch naming 70 000 unknown devices (more than PostgreSQL's 65 535 bound
    parameters in one query), then 50 good readings: all 50 stored, nothing spooled."""
    settings = settings.model_copy(
        update={"ingest_adapters": ROUTES, "ingest_flush_interval_s": 3.0, "database_url": database_url}
    )
    database = Database(settings.database_url)
    _register(database, "dev-good")
    per_pack = 1100
    packs = [("senml/gw-2", _senml_pack(n * per_pack, per_pack)) for n in range(64)]
    assert all(len(payload) < 64 * 1024 for _topic, payload in packs)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    good = [("dampwatch/dev-good/up", _good(now - dt.timedelta(minutes=n), n)) for n in range(50)]
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(iter(packs + good), broker.url, client_id="wedge")
        wait_for(lambda: store.count() >= 50 and ingestor.metrics.pending._value.get() == 0,
                 what="the good readings after the packs", state=ingestor.metrics.log_line)
        assert ingestor.metrics.spool_depth._value.get() == 0
        assert ingestor.metrics.spooled._value.get() == 0, "a data error was taken for an outage"
    assert store.count() == 50
    with database.session() as session:
        letters = session.scalars(select(DeadLetter)).all()
    assert len(letters) == len(packs), "one dead letter per message, not one per device"
    assert {letter.reason for letter in letters} == {Reason.UNKNOWN_DEVICE}
    assert all(letter.detail.startswith(f"{per_pack} bad items") for letter in letters)
    assert all(len(letter.payload_excerpt) <= 2049 for letter in letters)
    database.dispose()


def _publish_retained(url: str, topic: str, payload: bytes) -> None:
    address = BrokerAddress.from_url(url)
    client = new_client(f"retainer-{time.monotonic_ns()}")
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_untimed_messages_keep_their_order_and_are_never_collapsed(broker, settings, store):
    """Twelve Zigbee2MQTT states delivered at once after an outage stay twelve readings, in broker order."""
    settings = settings.model_copy(update={"ingest_adapters": ROUTES})
    database = Database(settings.database_url)
    _register(database, "z2m-bathroom")
    humidities = [61, 64, 70, 78, 85, 88, 86, 80, 75, 70, 66, 63]
    with running_ingestor(settings, store, database, broker.url):
        pass  # makes the persistent session; the states below queue on the broker while it is away
    messages = [("zigbee2mqtt/bathroom", json.dumps({"temperature": 21.5, "humidity": h}).encode())
                for h in humidities]
    simulator.publish(iter(messages), broker.url, client_id="z2m")
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        wait_for(lambda: ingestor.metrics.received._value.get() >= len(messages)
                 and ingestor.metrics.pending._value.get() == 0, what="the queued states", state=ingestor.metrics.log_line)
    readings = sorted(store.iter_readings(), key=lambda r: r.ts)
    assert [r.humidity_pct for r in readings] == humidities
    assert len({r.ts for r in readings}) == len(humidities)
    assert max(r.humidity_pct for r in readings) == 88
    database.dispose()


def _wait_for_the_retained_copy(ingestor) -> None:
    """The broker sends the retained copy right after subscribing: wait until it was stored or ignored."""
    metrics = ingestor.metrics
    wait_for(lambda: metrics.received._value.get() + metrics.retained_ignored._value.get() >= 1
             and metrics.pending._value.get() == 0, what="the retained copy handled", state=metrics.log_line)


def test_retained_messages_are_stored_once_not_on_every_restart(broker, settings, store):
    """A retained state is a reading once; the broker's copy on each re-subscription is not; a new one is."""
    settings = settings.model_copy(update={"ingest_adapters": ROUTES})
    database = Database(settings.database_url)
    _register(database, "z2m-kitchen")
    _publish_retained(broker.url, "zigbee2mqtt/kitchen", b'{"temperature": 20.0, "humidity": 55}')
    for restart in range(3):
        with running_ingestor(settings, store, database, broker.url) as ingestor:
            _wait_for_the_retained_copy(ingestor)
        assert store.count() == 1, f"restart {restart} stored the retained state again"
    assert ingestor.metrics.retained_ignored._value.get() == 1
    _publish_retained(broker.url, "zigbee2mqtt/kitchen", b'{"temperature": 20.5, "humidity": 71}')  # while away
    fresh = settings.model_copy(update={"mqtt_client_id": settings.mqtt_client_id + "-new"})  # session lost
    for _restart in range(2):
        with running_ingestor(fresh, store, database, broker.url) as ingestor:
            _wait_for_the_retained_copy(ingestor)
    assert sorted(r.humidity_pct for r in store.iter_readings()) == [55, 71]
    database.dispose()


def test_ingestor_acknowledges_poison_so_the_broker_does_not_redeliver_it(broker, settings, store):
    """After a poison message the ingestor's session holds nothing: a restart receives nothing again."""
    database = Database(settings.database_url)
    _register(database, "dev-ack")
    messages = [("dampwatch/dev-ack/up", payload) for payload, _reason in NATIVE_POISON[:4]]
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(iter(messages), broker.url, client_id="ack")
        wait_for(lambda: ingestor.metrics.received._value.get() >= len(messages)
                 and ingestor.metrics.pending._value.get() == 0, what="the poison handled")
    with running_ingestor(settings, store, database, broker.url) as again:
        time.sleep(1.5)
        assert again.metrics.received._value.get() == 0, "the broker redelivered acknowledged messages"
    assert sum(dead_letter_counts(database).values()) == len(messages)
    database.dispose()



def test_a_3_mb_message_is_held_only_to_64_kib_and_dead_lettered(broker, settings, store):
    """The broker passes up to 4 MB; the ingestor keeps 64 KiB + 1 byte of such a message, enough to refuse it."""
    database = Database(settings.database_url)
    _register(database, "dev-big")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    messages = [("dampwatch/dev-big/up", b'{"readings": [' + b" " * 3_000_000 + b"]}"),
                ("dampwatch/dev-big/up", _good(now, 1))]
    with running_ingestor(settings, store, database, broker.url) as ingestor:
        simulator.publish(iter(messages), broker.url, client_id="big")
        wait_for(lambda: ingestor.metrics.received._value.get() >= 2 and ingestor.metrics.pending._value.get() == 0,
                 what="both messages")
    assert store.count() == 1
    with database.session() as session:
        (letter,) = session.scalars(select(DeadLetter)).all()
    assert letter.reason == Reason.PAYLOAD_TOO_LARGE and letter.payload_bytes == 64 * 1024 + 1
    database.dispose()
