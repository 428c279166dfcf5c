"""Elsys: the ERS family (ERS, ERS Lite, ERS CO2, ERS Eco, ERS Sound, ERS Desk ...) and the other Elsys
sensors that share its format.

Layout ("Elsys LoRa payload" document, https://www.elsys.se/en/elsys-payload/, and the ERS
examples of TheThingsNetwork/lorawan-devices vendor/elsys): a frame is a sequence of
``type, value`` items, big-endian, on any fPort (ERS sends on 5 by default):

====  =====  ==========================================  ================
type  bytes  value                                       DampWatch
====  =====  ==========================================  ================
01    2      temperature, signed, 0.1 °C                 temperature_c
02    1      relative humidity, %                        humidity_pct
03    3      acceleration X, Y, Z                        not stored
04    2      light, lux                                  not stored
05    1      motion count (PIR)                          not stored
06    2      CO₂, ppm                                    not stored (``co2_ppm``)
07    2      supply voltage, mV                          battery_v
08    2      analog input 1, mV                          not stored
09    6      GPS position                                not stored
0A    2      pulse count 1                               not stored
0B    4      pulse count 1, absolute                     not stored
0C    2      external temperature, 0.1 °C                not stored
0D    1      digital input 1                             not stored
0E    2      external distance, mm                       not stored
0F    1      acceleration motion count                   not stored
10    4      IR temperatures (internal, external)        not stored
11    1      occupancy                                   not stored
12    1      water leak                                  not stored
13    65     Grid-EYE thermal image                      not stored
14    4      pressure, 0.001 hPa                         not stored
15    2      sound, peak and average                     not stored
16    2      pulse count 2                               not stored
17    4      pulse count 2, absolute                     not stored
18    2      analog input 2                              not stored
19    2      external temperature 2, 0.1 °C              not stored
1A    1      digital input 2                             not stored
1B    4      analog input, µV                            not stored
1C    2      TVOC                                        not stored
3D    4      debug information                           not stored
3E    rest   sensor settings (the rest of the frame)     not stored
====  =====  ==========================================  ================
"""

from __future__ import annotations

from ingest.codecs.base import Codec, CodecError, DecodedRecord, Frame, register_codec

SOURCE = "Elsys LoRa payload document (elsys.se/en/elsys-payload); TheThingsNetwork/lorawan-devices vendor/elsys"
ELSYS_DEV_EUI_PREFIX = "A81758"

#: Types whose value DampWatch does not store: their length in bytes.
_SKIPPED: dict[int, int] = {
    0x03: 3, 0x04: 2, 0x05: 1, 0x08: 2, 0x09: 6, 0x0A: 2, 0x0B: 4, 0x0C: 2, 0x0D: 1, 0x0E: 2, 0x0F: 1,
    0x10: 4, 0x11: 1, 0x12: 1, 0x13: 65, 0x15: 2, 0x16: 2, 0x17: 4, 0x18: 2, 0x19: 2, 0x1A: 1, 0x1B: 4,
    0x1C: 2, 0x3D: 4,
}
_SETTINGS = 0x3E


def decode_elsys(_fport: int | None, data: bytes) -> list[DecodedRecord]:
    """Decode one Elsys frame into one record (none for a settings frame)."""
    if not data:
        raise CodecError("Elsys frame is empty")
    frame = Frame(data, "Elsys")
    fields: dict[str, float] = {}
    extra: dict[str, float] = {}
    while frame.remaining():
        at = frame.position
        kind = frame.uint(1, "a type byte", big_endian=True)
        if kind == 0x01:
            fields["temperature_c"] = frame.sint(2, "the temperature", big_endian=True) / 10
        elif kind == 0x02:
            fields["humidity_pct"] = float(frame.uint(1, "the humidity", big_endian=True))
        elif kind == 0x06:
            extra["co2_ppm"] = frame.uint(2, "the CO2", big_endian=True)
        elif kind == 0x07:
            fields["battery_v"] = frame.uint(2, "the supply voltage", big_endian=True) / 1000
        elif kind == 0x14:
            extra["pressure_hpa"] = frame.uint(4, "the pressure", big_endian=True) / 1000
        elif kind == _SETTINGS:
            break  # the rest of the frame is the sensor's settings
        elif kind in _SKIPPED:
            frame.take(_SKIPPED[kind], f"type 0x{kind:02X}")
        else:
            raise CodecError(
                f"Elsys frame has an unknown type 0x{kind:02X} at byte {at}; its length is unknown, so the frame "
                "cannot be read (check the codec chosen for this device)"
            )
    if not fields and not extra:
        return []
    return [DecodedRecord(fields, extra)]


register_codec(
    Codec("elsys", "Elsys", "ERS, ERS Lite, ERS CO2, ERS Eco, ERS Sound, ERS Desk, ELT", decode_elsys, SOURCE,
          dev_eui_prefixes=(ELSYS_DEV_EUI_PREFIX,)),
    aliases=("elsys-ers",),
)
