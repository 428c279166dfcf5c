"""Backfill from logger CSVs and export: bad rows reported by line, good rows kept, round trip exact."""

from __future__ import annotations

import datetime as dt
import io

from core.readings import Reading
from ingest.backfill import backfill_csv, export_csv

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)


def test_backfill_reports_bad_rows_by_line_and_keeps_good_ones(tmp_path, store):
    """Each bad row names its line and what is wrong; every good row is stored."""
    path = tmp_path / "logger.csv"
    path.write_text(
        "device_id,ts,temperature_c,humidity_pct\n"
        "dev-1,2026-11-01T00:00:00Z,18.5,61.0\n"      # line 2: good
        "dev-1,2026-11-01T00:10:00Z,warm,61.0\n"      # line 3: not a number
        "dev-1,2026-11-01T00:20:00Z,18.4,104\n"       # line 4: humidity out of range
        "ghost,2026-11-01T00:20:00Z,18.4,60\n"        # line 5: unknown device
        "dev-1,,18.4,60\n"                            # line 6: no time
        "dev-1,2099-01-01T00:00:00Z,18.4,60\n"        # line 7: future
        "dev-1,1793491800,18.0,60.5\n"                # line 8: good, epoch seconds
        "dev-1,2026-11-01T00:00:00Z,18.5,61.0\n"      # line 9: duplicate of line 2
    )
    report = backfill_csv(path, store, known_devices={"dev-1"}, now=NOW)
    assert report.rows == 8
    assert (report.stored, report.duplicates) == (2, 1)
    assert [e.line for e in report.errors] == [3, 4, 5, 6, 7]
    messages = [e.message for e in report.errors]
    assert "wrong_type" in messages[0]
    assert "humidity_out_of_range" in messages[1]
    assert "not registered" in messages[2]
    assert "future_timestamp" in messages[4]


def test_export_then_import_round_trips_exactly(tmp_path, store):
    """What 'readings export' writes, 'readings import' reads back to identical readings."""
    readings = [
        Reading("dev-1", T0 + dt.timedelta(minutes=10 * i), 18.0 + i / 7, 60.0 + i / 3, 2.9 - i / 1000, i)
        for i in range(50)
    ] + [Reading("dev-2", T0, -3.25, 99.99, None, None)]
    store.write(readings)
    buffer = io.StringIO()
    assert export_csv(store.iter_readings(), buffer) == 51
    path = tmp_path / "export.csv"
    path.write_text(buffer.getvalue())
    from core.store_sqlite import SQLiteReadingsStore

    other = SQLiteReadingsStore(f"sqlite:///{tmp_path}/other.db")
    report = backfill_csv(path, other, known_devices={"dev-1", "dev-2"}, now=NOW)
    assert report.errors == [] and report.stored == 51
    assert list(other.iter_readings()) == list(store.iter_readings())
    other.close()


# -- files a council can actually feed: gzip, encodings, split and wide layouts ------------------------

import gzip  # noqa: E402 - grouped with the tests that use it

import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from core.errors import ValidationError  # noqa: E402
from core.textfile import detect  # noqa: E402
from ingest.backfill import read_header_map  # noqa: E402

STANDARD = ("device_id,ts,temperature_c,humidity_pct\n"
            "dev-1,2026-11-01T00:00:00Z,18.5,61.0\n"
            "dev-1,2026-11-01T01:00:00Z,18.0,65.5\n")


@pytest.mark.parametrize(
    ("encoding", "gzipped", "expected"),
    [
        ("utf-8", False, "utf-8"),
        ("utf-8-sig", False, "utf-8-sig"),
        ("cp1252", False, "cp1252"),
        ("utf-8", True, "utf-8"),
        ("utf-8-sig", True, "utf-8-sig"),
        ("cp1252", True, "cp1252"),
    ],
)
def test_gzip_and_encodings_are_detected_and_read(tmp_path, store, encoding, gzipped, expected):
    """UTF-8, UTF-8 with a BOM and Windows-1252 (with a '°' that UTF-8 cannot decode), plain or gzip, all import."""
    # A comment column carrying '°C' and 'é' makes the encodings differ byte for byte.
    text = "device_id,ts,temperature_c,humidity_pct,note\n" + "".join(
        line + ",Café 18°C\n" for line in STANDARD.splitlines()[1:])
    data = text.encode(encoding)
    path = tmp_path / ("logger.csv.gz" if gzipped else "logger.csv")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    info = detect(path)
    assert (info.gzip, info.encoding) == (gzipped, expected)
    report = backfill_csv(path, store, known_devices={"dev-1"}, now=NOW)
    assert (report.rows, report.stored, report.rejected) == (2, 2, 0)


def test_a_damaged_gzip_file_is_a_clear_error(tmp_path, store):
    """A truncated .gz stops with a message saying the file is incomplete, not a traceback."""
    path = tmp_path / "logger.csv.gz"
    path.write_bytes(gzip.compress(STANDARD.encode() * 50)[:40])
    with pytest.raises(ValidationError, match="cannot be read"):
        backfill_csv(path, store, known_devices={"dev-1"}, now=NOW)


def test_split_rows_pair_temperature_and_humidity(tmp_path, store):
    """One row per quantity: a temperature and a humidity row at the same time make one reading; a lone
    row is rejected by its line."""
    path = tmp_path / "bms.csv"
    path.write_text(
        "device_id,ts,quantity,value\n"
        "dev-1,2026-11-01T00:00:00Z,temperature_c,18.5\n"   # line 2, pairs with line 3
        "dev-1,2026-11-01T00:00:00Z,RH,61.0\n"              # line 3
        "dev-1,2026-11-01T01:00:00Z,Humidity,70\n"          # line 4, pairs with line 6
        "dev-2,2026-11-01T01:00:00Z,temperature,19\n"       # line 5, no humidity row
        "dev-1,2026-11-01T01:00:00Z,t,17.5\n"               # line 6
        "dev-1,2026-11-01T02:00:00Z,pressure,1013\n"        # line 7, unknown quantity
    )
    report = backfill_csv(path, store, known_devices={"dev-1", "dev-2"}, now=NOW)
    assert report.layout == "split"
    assert (report.rows, report.stored) == (6, 2)
    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(5, "unpaired_row"), (7, "unknown_quantity")]
    stored = sorted((r.ts.hour, r.temperature_c, r.humidity_pct) for r in store.iter_readings(device_ids=["dev-1"]))
    assert stored == [(0, 18.5, 61.0), (1, 17.5, 70.0)]


def test_wide_logger_file_with_a_header_map(tmp_path, store):
    """A column per sensor, mapped by a small header file; blank cells are gaps, half-blank pairs are errors."""
    mapping = tmp_path / "map.csv"
    mapping.write_text(
        "column,device_id,quantity\n"
        "Date/Time (UTC),,ts\n"
        "Bedroom T (°C),dev-bed,temperature_c\n"
        "Bedroom RH (%),dev-bed,humidity_pct\n"
        "Bath T (°C),dev-bath,temperature\n"
        "Bath RH (%),dev-bath,rh\n", encoding="cp1252")
    logger = tmp_path / "logger.csv"
    logger.write_text(
        "Date/Time (UTC),Bedroom T (°C),Bedroom RH (%),Bath T (°C),Bath RH (%)\n"
        "2026-11-01T00:00:00Z,18.1,62,19.5,71\n"     # line 2: two readings
        "2026-11-01T01:00:00Z,18.0,63,,\n"           # line 3: bath gap, one reading
        "2026-11-01T02:00:00Z,17.9,,19.0,70\n"       # line 4: bedroom half-blank (error), bath good
        , encoding="utf-8-sig")
    report = backfill_csv(logger, store, known_devices={"dev-bed", "dev-bath"}, now=NOW, header_map=mapping)
    assert report.layout == "wide"
    assert (report.rows, report.stored) == (3, 4)
    assert [e.line for e in report.errors] == [4]
    assert "Bedroom RH (%)" in report.errors[0].message
    assert sorted((r.device_id, r.ts.hour) for r in store.iter_readings(device_ids=["dev-bed", "dev-bath"])) == [
        ("dev-bath", 0), ("dev-bath", 2), ("dev-bed", 0), ("dev-bed", 1)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("column,device_id,quantity\nT,dev-1,temperature_c\nRH,dev-1,humidity_pct\n", "no row with quantity 'ts'"),
        ("column,device_id,quantity\ntime,,ts\nT,dev-1,temperature_c\n", "only temperature_c"),
        ("column,device_id,quantity\ntime,,ts\nT,dev-1,lux\n", "not temperature_c or humidity_pct"),
        ("col,device\ntime,\n", "needs the columns"),
    ],
)
def test_a_bad_header_map_says_what_to_fix(tmp_path, text, message):
    """Each mistake in a header map is named before any reading is read."""
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(ValidationError, match=message):
        read_header_map(path)


def test_an_unknown_layout_names_the_layouts(tmp_path, store):
    """A header that fits no layout is refused with the three layouts spelled out."""
    path = tmp_path / "x.csv"
    path.write_text("sensor,when,temp\nA,2026-11-01,18\n")
    with pytest.raises(ValidationError, match="device_id,ts,quantity,value"):
        backfill_csv(path, store, known_devices={"A"}, now=NOW)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    notes=st.lists(st.text(alphabet=st.characters(codec="cp1252", exclude_categories=("Cc", "Cs")), max_size=12),
                   min_size=1, max_size=5),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    gzipped=st.booleans(),
)
def test_any_text_in_any_supported_encoding_reads_back_unchanged(tmp_path_factory, notes, encoding, gzipped):
    """Property: whatever characters a note column holds, each supported encoding reads back the same text."""
    import csv as csv_module

    from core.textfile import open_text

    buffer = io.StringIO()
    writer = csv_module.writer(buffer, lineterminator="\n")
    writer.writerow(["note"])
    for note in notes:
        writer.writerow([note])
    data = buffer.getvalue().encode(encoding)
    path = tmp_path_factory.mktemp("enc") / "f.csv"
    path.write_bytes(gzip.compress(data) if gzipped else data)
    with open_text(path) as handle:
        rows = [row["note"] for row in csv_module.DictReader(handle)]
    try:
        data.decode("utf-8")
        valid_utf8 = True
    except UnicodeDecodeError:
        valid_utf8 = False
    if encoding == "cp1252" and valid_utf8:
        # The one ambiguity no reader can resolve: Windows-1252 bytes that are also valid UTF-8 (such as
        # 'Â' then a no-break space) read as UTF-8, as documented.
        assert rows == [note.encode("cp1252").decode("utf-8") for note in notes]
    else:
        assert rows == notes
