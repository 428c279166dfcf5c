"""Browan (TABS): the TBHH100 temperature and humidity sensor, and the first values of the TBHV110 IAQ sensor.

Layout (Browan "TBHH100 Temperature & Humidity Sensor" payload document; example in
TheThingsNetwork/lorawan-devices vendor/browan/tbhh100-codec.yaml), fPort 103, at least 4 bytes:

=====  =======================================================  ===============
byte   value                                                    DampWatch
=====  =======================================================  ===============
0      status                                                   not stored
1      bits 3-0: battery, (25 + value) / 10 V                   battery_v
2      bits 6-0: temperature, value − 32 °C                     temperature_c
3      bits 6-0: relative humidity, %                           humidity_pct
=====  =======================================================  ===============
"""

from __future__ import annotations

from ingest.codecs.base import Codec, CodecError, DecodedRecord, register_codec, require_fport

SOURCE = "Browan TBHH100 payload document; TheThingsNetwork/lorawan-devices vendor/browan/tbhh100-codec.yaml"
BROWAN_DEV_EUI_PREFIX = "58A0CB"
TABS_FPORT = 103


def decode_tabs(fport: int | None, data: bytes) -> list[DecodedRecord]:
    """One TBHH100 status frame."""
    require_fport("Browan TABS", fport, (TABS_FPORT,))
    if len(data) < 4:
        raise CodecError(f"Browan TABS frame has {len(data)} bytes; at least 4 are needed")
    battery_v = (25 + (data[1] & 0x0F)) / 10
    temperature_c = float((data[2] & 0x7F) - 32)
    humidity_pct = float(data[3] & 0x7F)
    return [DecodedRecord(
        {"temperature_c": temperature_c, "humidity_pct": humidity_pct, "battery_v": battery_v},
        {"status": data[0]},
    )]


register_codec(
    Codec("browan-tabs", "Browan", "TBHH100 (TABS Healthy Home temperature & humidity), TBHV110", decode_tabs,
          SOURCE, dev_eui_prefixes=(BROWAN_DEV_EUI_PREFIX,), fports=frozenset({TABS_FPORT})),
    aliases=("browan-tbhh100",),
)
