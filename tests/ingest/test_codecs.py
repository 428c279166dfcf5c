"""Built-in LoRaWAN codecs against the vendors' published examples (source beside each vector), broken frames,
and properties: any bytes give records or a CodecError, never another exception; documented layouts round-trip."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from ingest.codecs import (
    CODEC_ERROR,
    CODECS,
    CodecError,
    codec_by_name,
    codec_for_uplink,
    codec_names,
    codecs_for_dev_eui,
)


def decode(name: str, fport: int | None, hex_bytes: str):
    return CODECS[name].decode(fport, bytes.fromhex(hex_bytes.replace(" ", "")))


def only(records):
    (record,) = records
    return record


# --- published vectors --------------------------------------------------------------------------

# Each row: codec, fPort, bytes, the published stored values, the published values DampWatch does not store.
VECTORS = [
    # Milesight-IoT/SensorDecoders EM_Series/EM300_Series/EM300-TH/README.md, first example
    ("milesight-em300-th", 85, "01755C 03673401 046865",
     {"temperature_c": 30.8, "humidity_pct": 50.5}, {"battery_pct": 92}),
    # thingsboard/data-converters VENDORS/Milesight/AM102/guide.md (and Milesight AM102 README)
    ("milesight-am102", 85, "017564 03671801 04686D", {"temperature_c": 28.0, "humidity_pct": 54.5},
     {"battery_pct": 100}),
    # Milesight-IoT/SensorDecoders AM_Series/AM103/README.md
    ("milesight-am103", 85, "017564 03671801 04686D 077DC501", {"temperature_c": 28.0, "humidity_pct": 54.5},
     {"battery_pct": 100, "co2_ppm": 453}),
    # Milesight-IoT/SensorDecoders AM_Series/AM100_Series/README.md (AM107 example with every channel)
    ("milesight-am100", 85, "01755C 03673401 046865 056A4900 06651C0079001400 077DE704 087D0700 09733F27",
     {"temperature_c": 30.8, "humidity_pct": 50.5}, {"battery_pct": 92, "co2_ppm": 1255, "pressure_hpa": 1004.7}),
    # Milesight-IoT/SensorDecoders AM_Series/AM300_v2/README.md (AM319 example)
    ("milesight-am319", 85, "0367EE00 04687C 050001 06CB02 077DA803 087D2500 09736627 0A7D0400 0B7D2000 0C7D3000",
     {"temperature_c": 23.8, "humidity_pct": 62.0}, {"co2_ppm": 936, "pressure_hpa": 1008.6}),
    # Elsys payload examples: TheThingsNetwork/lorawan-devices (ERS CO2 fixture) and the Elsys
    # generic decoder's example 0100e202290400270506060308070d62 (temperature 22.6, humidity 41, light 39,
    # motion 6, co2 776, vdd 3426 mV)
    ("elsys", 5, "0100E202290400270506060308070D62", {"temperature_c": 22.6, "humidity_pct": 41.0, "battery_v": 3.426},
     {"co2_ppm": 776}),
    # TheThingsNetwork/lorawan-devices vendor/dragino/lht65-codec.yaml, example "Temperature"
    ("dragino-lht65", 2, "CBF60B0D0376010ADD7FFF", {"temperature_c": 28.29, "humidity_pct": 88.6, "battery_v": 3.062},
     {}),
    # TheThingsNetwork/lorawan-devices vendor/dragino/lht65n-codec.yaml, example "Temperature"
    ("dragino-lht65n", 2, "CBF60B0D0376010ADD7FFF",
     {"temperature_c": 28.29, "humidity_pct": 88.6, "battery_v": 3.062}, {}),
    # TheThingsNetwork/lorawan-devices vendor/dragino/lht52-codec.yaml, example "Temperature & Humidity"
    # (external probe absent: TempC_DS 327.67 is 0x7FFF, not stored)
    ("dragino-lht52", 2, "08CD02207FFF0161CD4EDD", {"temperature_c": 22.53, "humidity_pct": 54.4}, {}),
    # TheThingsNetwork/lorawan-devices vendor/browan/tbhh100-codec.yaml, example "Temperature & Humidity"
    ("browan-tabs", 103, "08AB3522FFFFFFFF", {"temperature_c": 21.0, "humidity_pct": 34.0, "battery_v": 3.6}, {}),
    # TheThingsNetwork/lorawan-devices vendor/netvox/r718a-codec.yaml, example "Status report"
    ("netvox", 6, "010B012409EA1A90000000", {"temperature_c": 25.38, "humidity_pct": 68.0, "battery_v": 3.6}, {}),
    # TheThingsNetwork/lorawan-devices vendor/netvox/r711-codec.yaml, example "Status report"
    ("netvox", 6, "0101011E09EA1A90000000", {"temperature_c": 25.38, "humidity_pct": 68.0, "battery_v": 3.0}, {}),
]


@pytest.mark.parametrize(("name", "fport", "data", "stored", "not_stored"), VECTORS)
def test_published_vectors(name, fport, data, stored, not_stored):
    """Each codec reads the vendor's published example to the published values."""
    record = only(decode(name, fport, data))
    assert record.ts is None
    assert record.fields == pytest.approx(stored)
    for key, value in not_stored.items():
        assert record.extra[key] == pytest.approx(value)


# Milesight-IoT/SensorDecoders EM_Series/EM300_Series/EM300-TH/README.md, history example:
# 20CE9E74466310015D00 -> timestamp 1665561758, temperature 27.2, humidity 46.5
def test_milesight_em300_history_record_keeps_the_device_time():
    """A history record becomes a reading at the device's own time."""
    record = only(decode("milesight-em300-th", 85, "20CE9E74466310015D00"))
    assert (record.ts, record.fields) == (1665561758, {"temperature_c": 27.2, "humidity_pct": 46.5})


# Milesight-IoT/SensorDecoders EM_Series/EM300_Series/EM320-TH/README.md: 20CE9E74466310015D (7-byte record)
def test_milesight_em320_history_record_is_seven_bytes():
    """EM320-TH history has no reserved byte."""
    record = only(decode("milesight-em320-th", 85, "20CE9E74466310015D"))
    assert (record.ts, record.fields) == (1665561758, {"temperature_c": 27.2, "humidity_pct": 46.5})


def test_milesight_live_values_and_several_history_records_in_one_frame():
    """Live values first, then every history record of the frame, each at its own time."""
    records = decode("milesight-em300-th", 85, "01755C 03673401 046865 20CE9E74466310015D00 20CEA27446630A01FF00")
    assert [r.ts for r in records] == [None, 1665561758, 1665561762]
    assert records[2].fields == {"temperature_c": 26.6, "humidity_pct": 127.5}  # validation rejects it later


def test_milesight_generic_codec_refuses_history_and_names_the_model_codecs():
    """History needs the model: the generic codec says which codecs to choose from, keeping the live values."""
    with pytest.raises(CodecError, match="milesight-em300-th") as caught:
        decode("milesight", 85, "20CE9E74466310015D00")
    assert caught.value.decoded == []
    with pytest.raises(CodecError) as caught:
        decode("milesight", 85, "01755C 03673401 046865 20CE9E74466310015D00")
    assert [r.fields for r in caught.value.decoded] == [{"temperature_c": 30.8, "humidity_pct": 50.5}]


def test_milesight_device_information_frame_has_no_values():
    """A frame of device information only (FF channels) yields no record."""
    assert decode("milesight", 85, "FF0BFF FF0101 FF166136D31234560000 FF090140 FF0A0114 FF0F00") == []


def test_dragino_datalog_entries_keep_their_own_times():
    """LHT52 and LHT65N datalog answers (fPort 3): one record per 11-byte entry, at the device's time."""
    lht52 = decode("dragino-lht52", 3, "08CD02207FFF0161CD4EDD" "08D002257FFF0161CD5269")
    assert [(r.ts, r.fields["humidity_pct"]) for r in lht52] == [(1640845021, 54.4), (1640845929, 54.9)]
    lht65n = decode("dragino-lht65n", 3, "7FFF 0B0D 0376 81 61CD4EDD".replace(" ", ""))  # poll flag set
    assert only(lht65n).ts == 1640845021 and only(lht65n).fields == {"temperature_c": 28.29, "humidity_pct": 88.6}
    # "If the device has no data in the polling time it uplinks 11 bytes of 0" (LHT65N manual, Datalog)
    assert decode("dragino-lht65n", 3, "00" * 11) == [] and decode("dragino-lht52", 3, "00" * 22) == []


@pytest.mark.parametrize(("name", "fport", "data"), [
    ("dragino-lht52", 5, "0B8801002500 01"),  # device status (published example of lht52-codec.yaml)
    ("netvox", 6, "010B00640220200811 0000"),  # startup version report (r718a-codec.yaml)
    ("elsys", 5, "3E0A01020304050607080910"),  # sensor settings
])
def test_frames_without_readings_give_no_records(name, fport, data):
    """Status, startup and settings frames carry no reading."""
    assert decode(name, fport, data) == []


# --- broken frames ------------------------------------------------------------------------------

BROKEN = [
    ("milesight-em300-th", 85, "0367", "ends at byte 2 inside the temperature"),
    ("milesight-em300-th", 85, "03", "inside the type of channel"),
    ("milesight-em300-th", 85, "20CE9E744663", "inside a history temperature"),
    ("milesight-em300-th", 85, "01755C 9999AA", "unknown channel 0x99 0x99 at byte 3"),
    ("milesight", 85, "", "empty"),
    ("elsys", 5, "0100", "inside the temperature"),
    ("elsys", 5, "01 00E2 7F 00", "unknown type 0x7F at byte 3"),
    ("elsys", 5, "", "empty"),
    ("dragino-lht65", 2, "CBF60B0D03", "has 5 bytes, not 11"),
    ("dragino-lht65", 42, "CBF60B0D0376010ADD7FFF", "fPort 2, 3, 5, not 42"),  # lht65-codec.yaml "Unknown FPort"
    ("dragino-lht65", None, "CBF60B0D0376010ADD7FFF", "not None"),
    ("dragino-lht52", 42, "0B880100250001", "fPort 2, 3, 5, not 42"),  # lht52-codec.yaml "Unknown FPort"
    ("dragino-lht52", 3, "08CD02207FFF0161CD4E", "not a whole number of 11-byte entries"),
    ("browan-tabs", 42, "01", "fPort 103, not 42"),  # tbhh100-codec.yaml "Unknown FPort"
    ("browan-tabs", 103, "08AB35", "at least 4"),
    ("netvox", 6, "010B0124", "has 4 bytes, not 11"),
    ("netvox", 6, "01AA012409EA1A90000000", "device type 0xAA"),
    ("netvox", 6, "010B052409EA1A90000000", "report type 0x05"),
    ("netvox", 7, "810B0000000000000000 00", "fPort 6, not 7"),  # a configuration response (r718a-codec.yaml)
]


@pytest.mark.parametrize(("name", "fport", "data", "message"), BROKEN)
def test_broken_frames_raise_a_codec_error_saying_what_is_wrong(name, fport, data, message):
    """Short frames, wrong fPorts and unknown channels are refused with a reason a user can act on."""
    with pytest.raises(CodecError) as caught:
        decode(name, fport, data)
    assert caught.value.reason == CODEC_ERROR
    assert message in caught.value.detail


# --- choosing a codec ---------------------------------------------------------------------------

def test_codec_names_and_aliases():
    """Every codec is found by its name or alias, case-insensitively; unknown names list the choices."""
    assert codec_by_name("Milesight-EM300").name == "milesight-em300-th"
    assert codec_by_name("dragino-lht65n").name == "dragino-lht65"
    assert {"milesight-em300-th", "milesight-am102", "milesight-am307", "elsys", "dragino-lht65", "dragino-lht52",
            "browan-tabs", "netvox"} <= set(codec_names())
    with pytest.raises(ConfigError, match="choose one of: browan-tabs"):
        codec_by_name("acme-3000")


@pytest.mark.parametrize(("dev_eui", "fport", "expected"), [
    ("24e124136b123456", 85, "milesight"),
    ("A81758FFFE0312C5", 5, "elsys"),
    ("00137a1000001234", 6, "netvox"),
    ("58a0cb0000201234", 103, "browan-tabs"),
    ("58a0cb0000201234", 104, None),  # a Browan sensor of another kind
    ("a840410000000001", 2, None),  # Dragino: LHT65 and LHT52 share fPort 2 and length
    ("0101010101010101", 1, None),
])
def test_codec_from_dev_eui_range_only_when_unambiguous(dev_eui, fport, expected):
    """A vendor's DevEUI range chooses a codec only where the vendor's format is one format."""
    codec = codec_for_uplink(dev_eui, fport)
    assert (codec.name if codec else None) == expected
    assert bool(codecs_for_dev_eui(dev_eui)) == (not dev_eui.startswith("01"))


# --- properties ---------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(CODECS)), fport=st.one_of(st.none(), st.integers(0, 255)),
       data=st.binary(max_size=80))
def test_any_bytes_give_records_or_a_codec_error(name, fport, data):
    """No frame makes a codec raise anything but CodecError; records hold only finite numbers."""
    try:
        records = CODECS[name].decode(fport, data)
    except CodecError as bad:
        assert bad.detail
        return
    for record in records:
        assert set(record.fields) <= {"temperature_c", "humidity_pct", "battery_v"}
        for value in record.fields.values():
            assert isinstance(value, float) and abs(value) < 1e6
        assert record.ts is None or 0 <= record.ts < 2**32


temperatures_deci = st.integers(-400, 850)  # -40.0 .. 85.0 °C in 0.1 °C
humidities_half = st.integers(0, 200)  # 0 .. 100 % in 0.5 %


@given(temperature=temperatures_deci, humidity=humidities_half, battery=st.integers(0, 100),
       ts=st.integers(1_420_070_400, 2**32 - 1))
def test_milesight_round_trip(temperature, humidity, battery, ts):
    """A frame built from the documented layout decodes to the values it was built from."""
    frame = (bytes([0x01, 0x75, battery]) + bytes([0x03, 0x67]) + struct.pack("<h", temperature)
             + bytes([0x04, 0x68, humidity]) + bytes([0x20, 0xCE]) + struct.pack("<IhBB", ts, temperature, humidity, 0))
    live, history = CODECS["milesight-em300-th"].decode(85, frame)
    expected = {"temperature_c": temperature / 10, "humidity_pct": humidity / 2}
    assert live.fields == pytest.approx(expected) and live.extra["battery_pct"] == battery
    assert history.fields == pytest.approx(expected) and history.ts == ts


@given(temperature=temperatures_deci, humidity=st.integers(0, 100), vdd=st.integers(0, 3600), co2=st.integers(0, 10000))
def test_elsys_round_trip(temperature, humidity, vdd, co2):
    """Elsys type-value items in any order decode to the values they were built from."""
    frame = b"\x02" + bytes([humidity]) + b"\x06" + struct.pack(">H", co2) + b"\x01" + struct.pack(">h", temperature)
    frame += b"\x07" + struct.pack(">H", vdd)
    record = only(CODECS["elsys"].decode(5, frame))
    assert record.fields == pytest.approx(
        {"temperature_c": temperature / 10, "humidity_pct": float(humidity), "battery_v": vdd / 1000})
    assert record.extra["co2_ppm"] == co2


@given(temperature=st.integers(-4000, 8500), humidity=st.integers(0, 1000), battery_mv=st.integers(0, 0x3FFF),
       status=st.integers(0, 3))
def test_dragino_lht65_round_trip(temperature, humidity, battery_mv, status):
    """LHT65: battery bits 13-0 in mV (status bits ignored), temperature 0.01 °C, humidity 0.1 %."""
    frame = struct.pack(">HhH", status << 14 | battery_mv, temperature, humidity) + b"\x01\x7f\xff\x7f\xff"
    record = only(CODECS["dragino-lht65"].decode(2, frame))
    assert record.fields == pytest.approx(
        {"temperature_c": temperature / 100, "humidity_pct": humidity / 10, "battery_v": battery_mv / 1000})


@given(temperature=st.integers(-32, 95), humidity=st.integers(0, 100), battery=st.integers(0, 15))
def test_browan_round_trip(temperature, humidity, battery):
    """TABS: temperature is the low 7 bits minus 32, humidity the low 7 bits, battery (25 + n) / 10 V."""
    frame = bytes([0, 0xA0 | battery, (temperature + 32) | 0x80, humidity | 0x80])
    record = only(CODECS["browan-tabs"].decode(103, frame))
    assert record.fields == pytest.approx(
        {"temperature_c": float(temperature), "humidity_pct": float(humidity), "battery_v": (25 + battery) / 10})


@given(temperature=st.integers(-4000, 8500), humidity=st.integers(0, 10000), battery=st.integers(0, 127),
       low=st.booleans(), device_type=st.sampled_from([0x01, 0x0B]))
def test_netvox_round_trip(temperature, humidity, battery, low, device_type):
    """Netvox: battery 0.1 V with the low-battery flag in bit 7, temperature and humidity in hundredths."""
    frame = bytes([1, device_type, 1, battery | (0x80 if low else 0)]) + struct.pack(">hH", temperature, humidity)
    record = only(CODECS["netvox"].decode(6, frame + b"\0\0\0"))
    assert record.fields == pytest.approx(
        {"temperature_c": temperature / 100, "humidity_pct": humidity / 100, "battery_v": battery / 10})
    assert record.extra["low_battery"] == int(low)
