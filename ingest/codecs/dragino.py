"""Dragino: LHT65 / LHT65N (and LHT65S) and LHT52 temperature and humidity sensors.

LHT65 and LHT65N, fPort 2, 11 bytes, big-endian (Dragino LHT65 and LHT65N user manuals,
"Uplink payload"; examples in TheThingsNetwork/lorawan-devices vendor/dragino/lht65-codec.yaml
and lht65n-codec.yaml):

=======  =====================================================  ===============
bytes    value                                                  DampWatch
=======  =====================================================  ===============
0-1      bits 15-14 battery status, bits 13-0 battery in mV     battery_v
2-3      built-in temperature, signed, 0.01 °C                  temperature_c
4-5      built-in humidity, 0.1 %                               humidity_pct
6        external sensor type                                   not stored
7-10     external sensor value                                  not stored
=======  =====================================================  ===============

The LHT65N answers a datalog poll on fPort 3 with 11-byte entries (LHT65N manual, "Datalog
Uplink payload"; field order as in TheThingsNetwork/lorawan-devices vendor/dragino/lht65n.js):
external value (2), built-in temperature (2, signed, 0.01 °C), built-in humidity (low 12
bits, 0.1 %), poll flag and external type (1), Unix time (4); each becomes a reading at its
own time. An entry of eleven zero bytes means "no data in the polled period" and is skipped.

LHT52, big-endian (Dragino LHT52 user manual; TheThingsNetwork/lorawan-devices
vendor/dragino/lht52-codec.yaml): fPort 2 and each 11-byte entry of a fPort 3 datalog
answer: temperature (2, signed, 0.01 °C), humidity (2, 0.1 %), external temperature (2),
external type (1), Unix time (4). A live fPort 2 uplink takes the network's reception
time (the device clock is only as good as its last time sync); datalog entries keep the
device's time. fPort 5 is the device status (model, firmware, battery): no reading.

Dragino's DevEUI range (``A84041``) covers many models with different layouts on the same
fPort, so a Dragino device needs its codec in the device map.
"""

from __future__ import annotations

from ingest.codecs.base import Codec, CodecError, DecodedRecord, Frame, register_codec, require_fport

SOURCE = "Dragino LHT65, LHT65N and LHT52 user manuals; TheThingsNetwork/lorawan-devices vendor/dragino"
ENTRY_BYTES = 11
#: The value an absent external temperature probe reports.
NO_PROBE = 0x7FFF


def _lht65_live(data: bytes) -> DecodedRecord:
    if len(data) != ENTRY_BYTES:
        raise CodecError(f"Dragino LHT65 frame on fPort 2 has {len(data)} bytes, not {ENTRY_BYTES}")
    frame = Frame(data, "Dragino LHT65")
    battery_mv = frame.uint(2, "the battery", big_endian=True) & 0x3FFF
    temperature_c = frame.sint(2, "the temperature", big_endian=True) / 100
    humidity_pct = frame.uint(2, "the humidity", big_endian=True) / 10
    return DecodedRecord(
        {"temperature_c": temperature_c, "humidity_pct": humidity_pct, "battery_v": battery_mv / 1000},
        {"external_type": data[6]},
    )


def _entries(data: bytes, what: str) -> list[bytes]:
    if not data or len(data) % ENTRY_BYTES:
        raise CodecError(f"{what} datalog answer has {len(data)} bytes, not a whole number of {ENTRY_BYTES}-byte entries")
    return [data[start:start + ENTRY_BYTES] for start in range(0, len(data), ENTRY_BYTES)]


def decode_lht65(fport: int | None, data: bytes) -> list[DecodedRecord]:
    """LHT65 / LHT65N: a live uplink (fPort 2), a datalog answer (fPort 3) or device status (fPort 5)."""
    require_fport("Dragino LHT65", fport, (2, 3, 5))
    if fport == 2:
        return [_lht65_live(data)]
    if fport == 5:
        return []
    records = []
    for entry in _entries(data, "Dragino LHT65N"):
        if not any(entry):
            continue  # "no data in the polled period"
        frame = Frame(entry, "Dragino LHT65N datalog")
        frame.take(2, "the external value")
        temperature_c = frame.sint(2, "the temperature", big_endian=True) / 100
        humidity_pct = (frame.uint(2, "the humidity", big_endian=True) & 0x0FFF) / 10
        frame.take(1, "the poll flag")
        ts = frame.uint(4, "the time", big_endian=True)
        records.append(DecodedRecord({"temperature_c": temperature_c, "humidity_pct": humidity_pct}, ts=ts))
    return records


def _lht52_entry(entry: bytes, *, own_time: bool) -> DecodedRecord:
    frame = Frame(entry, "Dragino LHT52")
    temperature_c = frame.sint(2, "the temperature", big_endian=True) / 100
    humidity_pct = frame.uint(2, "the humidity", big_endian=True) / 10
    probe = frame.uint(2, "the external temperature", big_endian=True)
    frame.take(1, "the external sensor type")
    ts = frame.uint(4, "the time", big_endian=True)
    extra: dict[str, float] = {}
    if probe != NO_PROBE:
        extra["external_temperature_c"] = int.from_bytes(entry[4:6], "big", signed=True) / 100
    return DecodedRecord(
        {"temperature_c": temperature_c, "humidity_pct": humidity_pct}, extra, ts=ts if own_time else None
    )


def decode_lht52(fport: int | None, data: bytes) -> list[DecodedRecord]:
    """LHT52: a live uplink (fPort 2), a datalog answer (fPort 3) or device status (fPort 5)."""
    require_fport("Dragino LHT52", fport, (2, 3, 5))
    if fport == 5:
        return []
    if fport == 2:
        if len(data) != ENTRY_BYTES:
            raise CodecError(f"Dragino LHT52 frame on fPort 2 has {len(data)} bytes, not {ENTRY_BYTES}")
        return [_lht52_entry(data, own_time=False)]
    return [_lht52_entry(entry, own_time=True) for entry in _entries(data, "Dragino LHT52") if any(entry)]


#: Dragino's DevEUI range: it names the vendor, not the model, so it only lists the candidates in a dead letter.
DRAGINO_DEV_EUI_PREFIX = "A84041"
register_codec(Codec("dragino-lht65", "Dragino", "LHT65, LHT65N, LHT65S", decode_lht65, SOURCE,
                     dev_eui_prefixes=(DRAGINO_DEV_EUI_PREFIX,), fports=frozenset({2, 3, 5})),
               aliases=("dragino-lht65n",))
register_codec(Codec("dragino-lht52", "Dragino", "LHT52", decode_lht52, SOURCE,
                     dev_eui_prefixes=(DRAGINO_DEV_EUI_PREFIX,), fports=frozenset({2, 3, 5})))
