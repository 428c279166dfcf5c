"""What every payload codec shares: decoded records, the error type, a bounded byte reader, the registry.

A codec turns the raw bytes of one LoRaWAN uplink (``fPort`` and ``FRMPayload``) into
zero or more :class:`DecodedRecord`: the values of one measurement and, for records the
device stored while it was offline (history, datalog), the device's own time. Codecs do
no I/O and never raise anything but :class:`CodecError` for bad bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from core.errors import ConfigError

#: Dead-letter reason for bytes that do not decode as the chosen codec documents (short frame,
#: wrong fPort, unknown channel). Stable, like the codes of :class:`ingest.parse.Reason`.
CODEC_ERROR = "codec_error"
#: The DampWatch fields a record may carry that the readings store keeps.
STORED_FIELDS = ("temperature_c", "humidity_pct", "battery_v")


class CodecError(ValueError):
    """The bytes are not a frame of this codec; ``detail`` says why, in words a user can act on.

    ``decoded`` holds the records read before the problem (kept: they are valid on their own).
    """

    def __init__(self, detail: str, decoded: list[DecodedRecord] | None = None) -> None:
        super().__init__(detail)
        self.reason = CODEC_ERROR
        self.detail = detail
        self.decoded = decoded or []


@dataclasses.dataclass(frozen=True, slots=True)
class DecodedRecord:
    """One measurement decoded from a frame.

    ``fields`` holds the values the readings store keeps (:data:`STORED_FIELDS`) and
    ``extra`` the ones it does not (CO₂, battery percentage, pressure ...): those are
    decoded, so a frame is checked whole, and then deliberately not stored. ``ts`` is
    the device's own time (epoch seconds) of a stored history record; None for a live
    measurement, which takes the uplink's time.
    """

    fields: dict[str, float]
    extra: dict[str, float] = dataclasses.field(default_factory=dict)
    ts: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Codec:
    """A named decoder for one family of devices.

    ``dev_eui_prefixes`` (upper-case hex) and ``fports`` let a device without a codec in
    the device map be decoded anyway when its DevEUI range says unambiguously what it is.
    """

    name: str
    vendor: str
    models: str
    decode: Callable[[int | None, bytes], list[DecodedRecord]]
    source: str
    dev_eui_prefixes: tuple[str, ...] = ()
    fports: frozenset[int] | None = None


#: Every codec by name (aliases included); filled by :func:`register_codec` as the vendor modules load.
CODECS: dict[str, Codec] = {}
_PRIMARY: list[str] = []


def register_codec(codec: Codec, *, aliases: Iterable[str] = ()) -> Codec:
    """Make ``codec`` available under its name (and ``aliases``) to the device map's ``codec`` column."""
    for name in (codec.name, *aliases):
        if name in CODECS:
            raise ConfigError(f"two codecs are registered under the name {name!r}")
        CODECS[name] = codec
    _PRIMARY.append(codec.name)
    return codec


def codec_names() -> list[str]:
    """The codecs' names (without aliases), sorted."""
    return sorted(_PRIMARY)


def codec_by_name(name: str) -> Codec:
    """The codec called ``name``; :class:`ConfigError` naming the choices if there is none."""
    codec = CODECS.get(name.strip().lower())
    if codec is None:
        raise ConfigError(f"codec {name!r} does not exist; choose one of: {', '.join(codec_names())}")
    return codec


def codecs_for_dev_eui(dev_eui: str) -> list[Codec]:
    """The codecs whose DevEUI range includes ``dev_eui`` (several when the range is a vendor's, not a model's)."""
    key = dev_eui.upper()
    seen: dict[str, Codec] = {}
    for codec in CODECS.values():
        if any(key.startswith(prefix) for prefix in codec.dev_eui_prefixes):
            seen.setdefault(codec.name, codec)
    return list(seen.values())


def codec_for_uplink(dev_eui: str, fport: int | None) -> Codec | None:
    """The one codec a DevEUI range and fPort name unambiguously, or None."""
    candidates = [
        codec for codec in codecs_for_dev_eui(dev_eui) if codec.fports is None or fport in codec.fports
    ]
    return candidates[0] if len(candidates) == 1 else None


class Frame:
    """A cursor over a frame's bytes that raises :class:`CodecError` instead of reading past the end."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = bytes(data)
        self.what = what
        self.position = 0

    def remaining(self) -> int:
        return len(self.data) - self.position

    def take(self, count: int, field: str) -> bytes:
        if self.remaining() < count:
            raise CodecError(
                f"{self.what} frame ends at byte {len(self.data)} inside {field} "
                f"(needs {count} bytes from byte {self.position})"
            )
        chunk = self.data[self.position:self.position + count]
        self.position += count
        return chunk

    def uint(self, size: int, field: str, *, big_endian: bool) -> int:
        return int.from_bytes(self.take(size, field), "big" if big_endian else "little", signed=False)

    def sint(self, size: int, field: str, *, big_endian: bool) -> int:
        return int.from_bytes(self.take(size, field), "big" if big_endian else "little", signed=True)


def require_fport(what: str, fport: int | None, allowed: Iterable[int]) -> int:
    """``fport`` if it is one of ``allowed``; otherwise a :class:`CodecError` naming them."""
    allowed = tuple(allowed)
    if fport not in allowed:
        raise CodecError(
            f"{what} frames come on fPort {', '.join(map(str, allowed))}, not {fport}; check the codec chosen "
            "for this device"
        )
    return fport
