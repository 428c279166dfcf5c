"""Netvox: R711 (R712) and R718A temperature and humidity sensors.

Layout (Netvox R711 and R718A user manuals, "Data report"; examples in
TheThingsNetwork/lorawan-devices vendor/netvox/r711-codec.yaml and r718a-codec.yaml), fPort 6,
11 bytes, big-endian:

=====  ========================================================  ===============
byte   value                                                     DampWatch
=====  ========================================================  ===============
0      protocol version                                          not stored
1      device type: 0x01 R711 (R712), 0x0B R718A                 —
2      report type: 0x00 startup (versions), 0x01 status         —
3      battery, 0.1 V (bit 7 set: low battery)                   battery_v
4-5    temperature, signed, 0.01 °C                              temperature_c
6-7    relative humidity, 0.01 %                                 humidity_pct
8-10   reserved                                                  —
=====  ========================================================  ===============

The report is self-describing, so a Netvox DevEUI (``00137A``) is decoded without a device-map codec.
"""

from __future__ import annotations

from ingest.codecs.base import Codec, CodecError, DecodedRecord, Frame, register_codec, require_fport

SOURCE = "Netvox R711 and R718A user manuals; TheThingsNetwork/lorawan-devices vendor/netvox"
NETVOX_DEV_EUI_PREFIX = "00137A"
REPORT_FPORT = 6
#: Device types whose status report is temperature and humidity in this layout.
TEMPERATURE_HUMIDITY_TYPES = {0x01: "R711", 0x0B: "R718A"}


def decode_netvox(fport: int | None, data: bytes) -> list[DecodedRecord]:
    """One Netvox report frame (fPort 6); the startup report carries no reading."""
    require_fport("Netvox", fport, (REPORT_FPORT,))
    if len(data) != 11:
        raise CodecError(f"Netvox report has {len(data)} bytes, not 11")
    frame = Frame(data, "Netvox")
    frame.take(1, "the version")
    device_type = frame.uint(1, "the device type", big_endian=True)
    report_type = frame.uint(1, "the report type", big_endian=True)
    if device_type not in TEMPERATURE_HUMIDITY_TYPES:
        raise CodecError(
            f"Netvox device type 0x{device_type:02X} is not one this codec reads "
            f"({', '.join(f'0x{k:02X} {v}' for k, v in TEMPERATURE_HUMIDITY_TYPES.items())})"
        )
    if report_type == 0x00:
        return []  # the startup report: software and hardware versions
    if report_type != 0x01:
        raise CodecError(f"Netvox report type 0x{report_type:02X} is neither startup (0x00) nor status (0x01)")
    battery = frame.uint(1, "the battery", big_endian=True)
    temperature_c = frame.sint(2, "the temperature", big_endian=True) / 100
    humidity_pct = frame.uint(2, "the humidity", big_endian=True) / 100
    return [DecodedRecord(
        {"temperature_c": temperature_c, "humidity_pct": humidity_pct, "battery_v": (battery & 0x7F) / 10},
        {"low_battery": battery >> 7},
    )]


register_codec(
    Codec("netvox", "Netvox", "R711 (R712), R718A", decode_netvox, SOURCE,
          dev_eui_prefixes=(NETVOX_DEV_EUI_PREFIX,), fports=frozenset({REPORT_FPORT})),
    aliases=("netvox-r711", "netvox-r718a"),
)
