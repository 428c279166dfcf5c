"""Milesight: EM300-TH / EM320-TH and the AM100 (AM102, AM103, AM104, AM107) and AM300 (AM307, AM308, AM319)
ambience series.

Layout (Milesight-IoT/SensorDecoders, the READMEs of EM_Series/EM300_Series/EM300-TH,
EM320-TH, AM_Series/AM100_Series, AM102, AM103, AM300_Series and AM300_v2): a frame is a
sequence of ``channel id, channel type, value`` items, little-endian:

=========  ======  ====================================================  ==========================
id, type   bytes   value                                                 DampWatch
=========  ======  ====================================================  ==========================
01 75      1       battery, %                                            not stored (a percentage)
03 67      2       temperature, signed, 0.1 °C                           temperature_c
04 68      1       relative humidity, 0.5 %                              humidity_pct
05 6A      2       activity (AM100)                                      not stored
05 00      1       PIR (AM300)                                           not stored
06 65      6       illuminance, visible+IR, IR (AM100)                   not stored
06 CB      1       light level (AM300)                                   not stored
07 7D      2       CO₂, ppm                                              not stored (``co2_ppm``)
08 7D/E6   2       tVOC                                                  not stored
09 73      2       pressure, 0.1 hPa                                     not stored
0A..0D 7D  2       HCHO, PM2.5, PM10, O₃ (AM300)                         not stored
0E 01      1       beep (AM300)                                          not stored
FF xx      1..8    device information (version, serial number ...)       not stored
20 CE      model   a history record: epoch seconds (4) then the values   one reading at its own time
=========  ======  ====================================================  ==========================

A history record's length and layout depend on the model (EM300-TH 8 bytes with a
reserved byte, EM320-TH and AM102 7, AM103 9 with CO₂, AM307 16, AM308 20 and AM319 22
with a 2-byte humidity), so history needs the model's codec (``milesight-em300-th`` ...);
the generic ``milesight`` codec, chosen from the Milesight DevEUI range ``24E124``, reads
live values and rejects history with the list of model codecs (live values before the
history record are still stored).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ingest.codecs.base import Codec, CodecError, DecodedRecord, Frame, register_codec

SOURCE = "Milesight-IoT/SensorDecoders READMEs (EM300-TH, EM320-TH, AM100_Series, AM102, AM103, AM300_v2)"
MILESIGHT_DEV_EUI_PREFIX = "24E124"

#: Items that carry no value DampWatch reads, by (channel id, channel type): their length in bytes.
_SKIPPED: dict[tuple[int, int], int] = {
    (0x05, 0x6A): 2, (0x05, 0x00): 1, (0x06, 0x65): 6, (0x06, 0xCB): 1, (0x08, 0x7D): 2, (0x08, 0xE6): 2,
    (0x0A, 0x7D): 2, (0x0B, 0x7D): 2, (0x0C, 0x7D): 2, (0x0D, 0x7D): 2, (0x0E, 0x01): 1,
    (0xFF, 0x01): 1, (0xFF, 0x09): 2, (0xFF, 0x0A): 2, (0xFF, 0x0B): 1, (0xFF, 0x0F): 1, (0xFF, 0x16): 8,
    (0xFF, 0xFF): 2,
}


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryLayout:
    """A model's history record after its 4-byte timestamp: humidity width, then bytes after humidity."""

    humidity_bytes: int  # 1 (EM300, AM100) or 2 (AM300 v2), in 0.5 % steps
    co2_offset: int | None  # bytes after the humidity where CO₂ (2 bytes) starts, if any
    tail_bytes: int  # bytes after the humidity, including CO₂

    @property
    def length(self) -> int:
        return 4 + 2 + self.humidity_bytes + self.tail_bytes


#: History layouts per model (Milesight-IoT/SensorDecoders READMEs; AM300 from AM300_v2).
HISTORY_LAYOUTS: dict[str, HistoryLayout] = {
    "em300-th": HistoryLayout(1, None, 1),  # + reserved(1)
    "em320-th": HistoryLayout(1, None, 0),
    "am102": HistoryLayout(1, None, 0),
    "am103": HistoryLayout(1, 0, 2),  # + co2(2)
    "am307": HistoryLayout(2, 2, 8),  # + pir(1) light(1) co2(2) tvoc(2) pressure(2)
    "am308": HistoryLayout(2, 2, 12),  # ... + pm2_5(2) pm10(2)
    "am319": HistoryLayout(2, 2, 14),  # ... + hcho or o3(2)
}


def decode_milesight(data: bytes, history: HistoryLayout | None, model: str) -> list[DecodedRecord]:
    """Decode one Milesight frame; history records need the model's ``history`` layout."""
    frame = Frame(data, f"Milesight {model}")
    if not data:
        raise CodecError(f"Milesight {model} frame is empty")
    fields: dict[str, float] = {}
    extra: dict[str, float] = {}
    records: list[DecodedRecord] = []
    while frame.remaining():
        at = frame.position
        channel = frame.uint(1, "a channel id", big_endian=False)
        kind = frame.uint(1, f"the type of channel 0x{channel:02X}", big_endian=False)
        if (channel, kind) == (0x01, 0x75):
            extra["battery_pct"] = frame.uint(1, "the battery", big_endian=False)
        elif (channel, kind) == (0x03, 0x67):
            fields["temperature_c"] = frame.sint(2, "the temperature", big_endian=False) / 10
        elif (channel, kind) == (0x04, 0x68):
            fields["humidity_pct"] = frame.uint(1, "the humidity", big_endian=False) / 2
        elif (channel, kind) == (0x07, 0x7D):
            extra["co2_ppm"] = frame.uint(2, "the CO2", big_endian=False)
        elif (channel, kind) == (0x09, 0x73):
            extra["pressure_hpa"] = frame.uint(2, "the pressure", big_endian=False) / 10
        elif (channel, kind) == (0x20, 0xCE):
            if history is None:
                before = records + ([DecodedRecord(fields, extra)] if fields or extra else [])
                raise CodecError(
                    f"Milesight frame holds a history record (20 CE at byte {at}), whose layout depends on the "
                    "model; name the model's codec in the device map (milesight-"
                    + ", milesight-".join(sorted(HISTORY_LAYOUTS)) + ")",
                    decoded=before,
                )
            records.append(_history_record(frame, history))
        elif (channel, kind) in _SKIPPED:
            frame.take(_SKIPPED[channel, kind], f"channel 0x{channel:02X} 0x{kind:02X}")
        else:
            raise CodecError(
                f"Milesight {model} frame has an unknown channel 0x{channel:02X} 0x{kind:02X} at byte {at}; "
                "its length is unknown, so the frame cannot be read (check the codec chosen for this device)"
            )
    if fields or extra:
        records.insert(0, DecodedRecord(fields, extra))
    return records


def _history_record(frame: Frame, layout: HistoryLayout) -> DecodedRecord:
    ts = frame.uint(4, "a history timestamp", big_endian=False)
    temperature_c = frame.sint(2, "a history temperature", big_endian=False) / 10
    humidity_pct = frame.uint(layout.humidity_bytes, "a history humidity", big_endian=False) / 2
    tail = frame.take(layout.tail_bytes, "the rest of a history record")
    extra: dict[str, float] = {}
    if layout.co2_offset is not None:
        extra["co2_ppm"] = int.from_bytes(tail[layout.co2_offset:layout.co2_offset + 2], "little")
    return DecodedRecord({"temperature_c": temperature_c, "humidity_pct": humidity_pct}, extra, ts=ts)


def _decoder(model: str) -> Callable[[int | None, bytes], list[DecodedRecord]]:
    history = HISTORY_LAYOUTS.get(model)

    def decode(_fport: int | None, data: bytes) -> list[DecodedRecord]:
        return decode_milesight(data, history, model)

    decode.__name__ = f"decode_milesight_{model.replace('-', '_')}"
    return decode


register_codec(Codec(
    "milesight", "Milesight", "any EM300/AM100/AM300 model (live values; history needs the model's codec)",
    _decoder("generic"), SOURCE, dev_eui_prefixes=(MILESIGHT_DEV_EUI_PREFIX,),
))
register_codec(Codec("milesight-em300-th", "Milesight", "EM300-TH", _decoder("em300-th"), SOURCE),
               aliases=("milesight-em300",))
register_codec(Codec("milesight-em320-th", "Milesight", "EM320-TH", _decoder("em320-th"), SOURCE))
register_codec(Codec("milesight-am102", "Milesight", "AM102", _decoder("am102"), SOURCE))
register_codec(Codec("milesight-am100", "Milesight", "AM104, AM107 (no history record documented)",
                     _decoder("am100"), SOURCE), aliases=("milesight-am104", "milesight-am107"))
register_codec(Codec("milesight-am103", "Milesight", "AM103, AM103L", _decoder("am103"), SOURCE))
register_codec(Codec("milesight-am307", "Milesight", "AM307 (v2)", _decoder("am307"), SOURCE),
               aliases=("milesight-am300",))
register_codec(Codec("milesight-am308", "Milesight", "AM308 (v2)", _decoder("am308"), SOURCE))
register_codec(Codec("milesight-am319", "Milesight", "AM319 (v2)", _decoder("am319"), SOURCE))
