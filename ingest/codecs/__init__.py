"""Built-in LoRaWAN payload codecs: raw uplink bytes to DampWatch values, per vendor.

Used by the LoRaWAN adapters (ChirpStack, The Things Stack, over MQTT or HTTP) only when
the network server sent no decoded object. A device's codec is named in the device map's
``codec`` column (``0004a30b001c0530,bath-12a,dragino-lht65``); a device without one is
decoded when its DevEUI range names one codec unambiguously (Milesight ``24E124``, Elsys
``A81758``, Netvox ``00137A``, Browan ``58A0CB`` on fPort 103). Otherwise the uplink is
dead-lettered with the codecs to choose from.

One module per vendor; each registers its codecs with :func:`register_codec` when
imported, and this package imports every module in its folder, so adding a vendor is one
new module plus its test. Each module names the published documents its layout comes from.
"""

from __future__ import annotations

import importlib
import pkgutil

from ingest.codecs.base import (
    CODEC_ERROR,
    CODECS,
    STORED_FIELDS,
    Codec,
    CodecError,
    DecodedRecord,
    codec_by_name,
    codec_for_uplink,
    codec_names,
    codecs_for_dev_eui,
    register_codec,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "CODECS", "CODEC_ERROR", "STORED_FIELDS", "Codec", "CodecError", "DecodedRecord", "codec_by_name",
    "codec_for_uplink", "codec_names", "codecs_for_dev_eui", "register_codec",
]
