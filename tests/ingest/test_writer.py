"""The batch writer and the spooling writer on a real SQLite store and a real app database (SQLite and PostgreSQL):
per-message isolation, data errors apart from outages, quarantine, dead-letter hygiene and pruning."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from core.model import DeadLetter, Device
from core.store_sqlite import SQLiteReadingsStore
from dampwatch.cli import main
from ingest.adapters.registry import ADAPTERS, register_adapter
from ingest.batch import RawMessage
from ingest.deadletters import DeadLetterLog, prune_dead_letters
from ingest.isolation import QUARANTINED
from ingest.parse import Reason
from ingest.quarantine import Quarantine
from ingest.spool import Spool
from ingest.worker import SpoolingWriter
from ingest.writer import BatchWriter

NOW = time.time()


def _native(device_id: str, ts: dt.datetime | None = None, humidity_pct: float = 60.0, **extra) -> RawMessage:
    document = {"temperature_c": 19.0, "humidity_pct": humidity_pct, **extra}
    if ts is not None:
        document["ts"] = ts.isoformat()
    return RawMessage(f"dampwatch/{device_id}/up", json.dumps(document).encode(), NOW)


def _register(database, *device_ids: str) -> None:
    with database.session() as session:
        session.add_all(Device(device_id=device_id) for device_id in device_ids)


def _letters(database) -> list[DeadLetter]:
    with database.session() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


class _Exploding:
    """A real adapter (registered like any vendor's) with a bug: it raises on a payload it did not foresee."""

    def __call__(self, topic, payload, **_options):
        raise ZeroDivisionError("division by zero in a vendor adapter")


@pytest.fixture
def writer(settings, database, store):
    register_adapter("exploding", _Exploding)
    try:
        settings = settings.model_copy(update={"ingest_adapters": "boom/#=exploding"})
        _register(database, "dev-1", "dev-2")
        yield BatchWriter(settings, store, database)
    finally:
        ADAPTERS.pop("exploding", None)  # the registry is global: leave it as the other tests expect


def test_an_adapter_that_raises_dead_letters_its_message_as_internal_error_and_the_batch_goes_on(writer, store,
                                                                                                 database):
    """An exception inside an adapter costs its own message only: internal_error naming the exception class."""
    ts = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    batch = [_native("dev-1", ts), RawMessage("boom/x", b'{"temperature": 20}', NOW), _native("dev-2", ts)]
    result = writer.write(batch)
    assert result.stored == 2
    (letter,) = _letters(database)
    assert letter.reason == Reason.INTERNAL_ERROR == "internal_error"
    assert "ZeroDivisionError" in letter.detail and letter.topic == "boom/x"


def test_one_dead_letter_per_message_with_the_count_of_bad_items(writer, database):
    """A batch of 1000 readings, 999 bad, makes one dead letter that counts them, with a bounded excerpt."""
    readings = [{"temperature_c": 19.0, "humidity_pct": 140 + i % 3} for i in range(999)]
    readings.append({"temperature_c": 19.0, "humidity_pct": 50, "ts": "2026-11-22T10:00:00Z"})
    payload = json.dumps({"readings": readings}).encode()
    result = writer.write([RawMessage("dampwatch/dev-1/up", payload, NOW)])
    assert result.stored == 1 and result.rejected[Reason.HUMIDITY_OUT_OF_RANGE] == 999
    (letter,) = _letters(database)
    assert letter.reason == Reason.HUMIDITY_OUT_OF_RANGE
    assert letter.detail.startswith("999 bad items in this message (humidity_out_of_range ×999)")
    assert letter.payload_bytes == len(payload) and len(letter.payload_excerpt) <= 2048 + 1


@pytest.mark.parametrize(
    "payload",
    [b'{"temperature_c": 20, "humidity_pct": "\\u0000\\ud800 [bold]x[/]"}', b"\x00\xff\xfe not json",
     b'{"readings": "\\ud800"}', "\u0000 ".encode() * 3000],
)
def test_dead_letters_hold_any_bytes_on_postgresql_and_sqlite(writer, database, payload):
    """NUL characters, lone surrogates and invalid UTF-8 in a payload never make the dead letter fail to insert."""
    writer.write([RawMessage("dampwatch/dev-1/up", payload, NOW)])
    (letter,) = _letters(database)
    assert "\x00" not in letter.payload_excerpt + letter.detail
    assert len(letter.payload_excerpt) <= 4 * 2048 + 1


def test_device_look_ups_of_70000_unknown_names_are_chunked(settings, database, store):
    """70 400 unregistered names in one batch: one bounded query per 500, one dead letter per message."""
    settings = settings.model_copy(update={"ingest_adapters": "senml/#=senml"})
    writer = BatchWriter(settings, store, database)
    records = []
    batch = []
    for pack in range(64):
        records = []
        for number in range(pack * 1100, pack * 1100 + 1100):
            records += [{"bn": f"x{number:06d}:", "u": "Cel", "v": 20}, {"u": "%RH", "v": 50}]
        batch.append(RawMessage("senml/gw", json.dumps(records, separators=(",", ":")).encode(), NOW))
    result = writer.write(batch)
    assert result.rejected == {Reason.UNKNOWN_DEVICE: 70_400}
    assert len(_letters(database)) == 64


def test_untimed_readings_of_one_second_get_distinct_rising_times_in_arrival_order(writer, store):
    """Twelve untimed readings in one second stay twelve, in order; a failed write gives the same times again."""
    humidities = [61, 64, 70, 78, 85, 88, 86, 80, 75, 70, 66, 63]
    batch = [_native("dev-1", humidity_pct=h) for h in humidities]
    writer.write(batch[:5])
    writer.write(batch[5:])
    readings = sorted(store.iter_readings(), key=lambda r: r.ts)
    assert [r.humidity_pct for r in readings] == humidities
    assert [(b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(readings)] == [1.0] * 11


class _RefusingStore(SQLiteReadingsStore):
    """A real SQLite store that refuses one value for a data reason (as a backend refuses a value it cannot hold)."""

    refuse_humidity = 13.13

    def write(self, readings):
        if any(r.humidity_pct == self.refuse_humidity for r in readings):
            raise ValueError("this backend cannot hold humidity 13.13")
        return super().write(readings)


def _spooling(settings, database, tmp_path):
    store = _RefusingStore(f"sqlite:///{tmp_path}/refusing.db")
    _register(database, "dev-1")
    spool = Spool(tmp_path / "spool")
    return SpoolingWriter(BatchWriter(settings, store, database), spool), store, spool


def test_a_data_error_isolates_the_bad_message_and_stores_the_rest(settings, database, tmp_path):
    """A batch the store refuses for one message's sake: the others are stored, that one quarantined, nothing spooled."""
    writing, store, spool = _spooling(settings, database, tmp_path)
    ts = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    batch = [_native("dev-1", ts + dt.timedelta(minutes=i), humidity_pct=50 + i) for i in range(20)]
    batch[13] = _native("dev-1", ts + dt.timedelta(minutes=13), humidity_pct=13.13)
    result = writing.write(batch, lambda: False)
    assert result.stored == 19 and result.spooled == 0 and not spool
    assert result.rejected[QUARANTINED] == 1
    (entry,) = writing.quarantine.entries()
    assert entry.messages == 1 and "ValueError" in entry.reason and "13.13" in entry.reason
    assert writing.quarantine.load(entry) == [batch[13]]
    store.close()


def test_a_spooled_batch_that_fails_for_a_data_reason_is_quarantined_and_the_spool_moves_on(settings, database,
                                                                                            tmp_path):
    """Replay: the bad message and a damaged spool file go to the quarantine; later batches are written."""
    writing, store, spool = _spooling(settings, database, tmp_path)
    ts = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    first = [_native("dev-1", ts, humidity_pct=13.13), _native("dev-1", ts + dt.timedelta(minutes=1))]
    spool.append(first)
    spool.append([_native("dev-1", ts + dt.timedelta(minutes=2))])
    (spool.directory / "000000000002.jsonl").write_text('{"version": 1, "messages": 1}\nnot json\n')
    spool.append([_native("dev-1", ts + dt.timedelta(minutes=3))])
    later = writing.write([_native("dev-1", ts + dt.timedelta(minutes=4))], lambda: False)
    assert not spool, "the spool must not wait behind a batch that can never be written"
    assert store.count() == 3 and later.spooled == 0
    entries = writing.quarantine.entries()
    assert [e.damaged for e in entries] == [False, True] or [e.damaged for e in entries] == [True, False]
    runner = CliRunner()
    env = {"DAMPWATCH_VAR_DIR": str(tmp_path), "DAMPWATCH_DATABASE_URL": database.url,
           "DAMPWATCH_INGEST_SPOOL_DIR": str(spool.directory)}
    listed = runner.invoke(main, ["quarantine", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "damaged spool file" in listed.output and "ValueError" in listed.output
    store.close()
    good = next(e for e in entries if not e.damaged)
    env["DAMPWATCH_READINGS_URL"] = f"sqlite:///{tmp_path}/refusing.db"  # the fix: a store that takes 13.13
    replayed = runner.invoke(main, ["quarantine", "replay", good.name], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "1 readings stored" in replayed.output
    assert [e.damaged for e in Quarantine(spool.directory / "quarantine").entries()] == [True]
    check = SQLiteReadingsStore(f"sqlite:///{tmp_path}/refusing.db")
    assert sorted(r.humidity_pct for r in check.iter_readings())[0] == 13.13
    check.close()


@pytest.mark.parametrize("how", ["cannot be opened", "has no tables"])
def test_an_unreachable_or_unmigrated_database_is_still_an_outage(settings, tmp_path, how):
    """A database that cannot be opened, or has no tables, spools the batch (it is not taken for a data error)."""
    from core.db import Database

    broken = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/folder/app.db"})
    bad_database = Database(broken.database_url, migrate=False)
    if how == "cannot be opened":
        shutil.rmtree(tmp_path / "folder")
        (tmp_path / "folder").write_text("a file where the database's folder was")
    store = SQLiteReadingsStore(f"sqlite:///{tmp_path}/r.db")
    spool = Spool(tmp_path / "spool")
    writing = SpoolingWriter(BatchWriter(broken, store, bad_database), spool)
    result = writing.write([_native("dev-1")], lambda: False)
    assert result.spooled == 1 and spool.messages == 1
    assert writing.quarantine.entries() == []
    store.close()
    bad_database.dispose()


def test_dead_letters_older_than_the_retention_are_pruned_in_chunks(database):
    """prune_dead_letters deletes only rows older than the retention, in chunks, and reports how many."""
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    rows = [{"received_at": now - dt.timedelta(days=days, minutes=1), "topic": "t", "device_id": None,
             "reason": "invalid_json", "detail": "d", "payload_excerpt": "", "payload_bytes": 0}
            for days in [0, 1, 29, 30, 31, 45, 400] * 3]
    with database.engine.begin() as conn:
        conn.execute(DeadLetter.__table__.insert(), rows)
    assert prune_dead_letters(database, 30, now=now, chunk_rows=2) == 12  # 30 days and a minute, 31, 45, 400 (x3)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 9
    assert prune_dead_letters(database, 0, now=now) == 0  # 0 keeps for ever


def test_the_dead_letter_log_line_is_rate_limited_per_device_and_reason(caplog):
    """Many dead letters of one device and reason log one line per minute, the next saying how many were held."""
    clock = [0.0]
    log = DeadLetterLog(interval_s=60, clock=lambda: clock[0])
    caplog.set_level("INFO", logger="ingest.deadletters")
    written = [log.record("t", "invalid_json", "d", "dev-1") for _ in range(1000)]
    assert written.count(True) == 1
    assert log.record("t", "not_utf8", "d", "dev-1") and log.record("t", "invalid_json", "d", "dev-2")
    clock[0] = 61.0
    assert log.record("t", "invalid_json", "d", "dev-1")
    assert "(999 more like it in the last 60 s)" in caplog.records[-1].getMessage()


def test_dead_letters_command_prints_device_text_as_plain_text(settings, database, tmp_path):
    """Rich markup and terminal escapes from MQTT data are shown escaped; a payload like '[/]' crashes nothing."""
    with database.engine.begin() as conn:
        conn.execute(DeadLetter.__table__.insert(), [{
            "received_at": dt.datetime.now(dt.UTC), "topic": "dampwatch/x/up", "device_id": "x",
            "reason": "invalid_json", "detail": "[/] [bold red]boom[/] \x1b[2J\r\u202e",
            "payload_excerpt": "[/]\x1b]0;pwned\x07", "payload_bytes": 9}])
    env = {"DAMPWATCH_VAR_DIR": str(tmp_path), "DAMPWATCH_DATABASE_URL": database.url}
    result = CliRunner().invoke(main, ["dead-letters"], env=env)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\r" not in result.output and "\u202e" not in result.output
    assert "[/] [bold red]boom[/]" in result.output
    assert "\\x1b[2J\\x0d\\u202e" in result.output
    pruned = CliRunner().invoke(main, ["dead-letters", "prune", "--older-than-days", "1"], env=env)
    assert pruned.exit_code == 0 and "pruned 0 dead letters" in pruned.output


def test_the_writer_prunes_old_dead_letters_itself(writer, database):
    """The ingest worker prunes dead letters past DAMPWATCH_RETENTION_DEAD_LETTERS_DAYS (30) as it writes."""
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    with database.engine.begin() as conn:
        conn.execute(DeadLetter.__table__.insert(), [{
            "received_at": old, "topic": "t", "device_id": None, "reason": "invalid_json", "detail": "d",
            "payload_excerpt": "", "payload_bytes": 0}])
    writer._next_prune = 0.0  # the hour since start-up has passed
    writer.write([RawMessage("dampwatch/dev-1/up", b"not json", NOW)])
    assert [letter.reason for letter in _letters(database)] == [Reason.INVALID_JSON]
    assert _letters(database)[0].received_at > old


def test_a_status_with_nul_and_surrogates_is_recorded_not_quarantined(writer, database):
    """A last will carrying NUL or a lone surrogate is kept (escaped) on SQLite and PostgreSQL."""
    from core.model import DeviceHealth

    writer._known_devices = frozenset({"dev-1"})
    result = writer.write([RawMessage("dampwatch/dev-1/status", b'{"status": "off\\u0000\\ud800line"}', NOW)])
    assert not result.rejected
    with database.session() as session:
        health = session.get(DeviceHealth, "dev-1")
    assert health is not None and "\x00" not in health.status and health.status.startswith("off")
