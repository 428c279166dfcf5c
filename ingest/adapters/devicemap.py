"""The device map: another system's device key to a DampWatch device id and, for raw LoRaWAN bytes, a codec.

A CSV file (``DAMPWATCH_INGEST_DEVICE_MAP_FILE``) with the header ``key,device_id`` and an
optional third column ``codec``::

    key,device_id,codec
    a84041000181e4c2,bath-12a,dragino-lht65
    24e124136b123456,kitchen-12a,milesight-em300-th
    zigbee2mqtt:Bathroom sensor,bath-14,

A row may leave ``device_id`` empty to name only the codec (the device keeps its default
id, ``lorawan-<deveui>``). Keys may carry an adapter prefix (``zigbee2mqtt:...``), as in
:func:`ingest.adapters.base.resolve_device_id`.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

from core.errors import ConfigError
from ingest.codecs import codec_by_name


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceMap:
    """Device ids and codecs by device key."""

    device_ids: dict[str, str] = dataclasses.field(default_factory=dict)
    codecs: dict[str, str] = dataclasses.field(default_factory=dict)


def load_device_map(path: Path | None) -> DeviceMap:
    """Read the device map; :class:`ConfigError` naming the row for an unknown codec or a bad header."""
    if path is None:
        return DeviceMap()
    device_ids: dict[str, str] = {}
    codecs: dict[str, str] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or {"key", "device_id"} - set(reader.fieldnames):
                raise ConfigError(
                    f"{path} must have the header key,device_id[,codec] (for example 0004a30b001c0530,bath-12a)"
                )
            for line, row in enumerate(reader, start=2):
                key = (row.get("key") or "").strip()
                if not key:
                    continue
                device_id = (row.get("device_id") or "").strip()
                if device_id:
                    device_ids[key] = device_id
                codec = (row.get("codec") or "").strip().lower()
                if codec:
                    try:
                        codec_by_name(codec)
                    except ConfigError as exc:
                        raise ConfigError(f"{path} line {line}: {exc}") from None
                    codecs[key] = codec
    except OSError as exc:
        raise ConfigError(f"DAMPWATCH_INGEST_DEVICE_MAP_FILE {path} cannot be read: {exc.strerror}") from exc
    return DeviceMap(device_ids, codecs)
