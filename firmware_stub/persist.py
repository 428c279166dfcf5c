"""Small records on flash that survive a crash in the middle of a write.

A ``DualSlot`` keeps two copies of a record in one file, each with a
generation number and a CRC-32. A save overwrites the older copy, so a write
torn by a power cut leaves the newer copy intact, and a load returns the valid
copy with the highest generation. It works on LittleFS and on FAT alike and
needs neither ``rename`` nor ``fsync``.
"""

import binascii
import os
import struct

_GEN_FORMAT = "<I"
_CRC_FORMAT = "<I"


def _crc32_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xEDB88320 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_table = None


def crc32_portable(data):
    """CRC-32 (as zlib) in plain Python, for ports built without ``binascii.crc32``."""
    global _table
    if _table is None:
        _table = _crc32_table()
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


_builtin_crc32 = getattr(binascii, "crc32", None)


def crc32(data):
    """CRC-32 (as zlib) of ``data``: binascii's where the port has it, else ``crc32_portable``."""
    if _builtin_crc32 is None:
        return crc32_portable(data)
    return _builtin_crc32(data) & 0xFFFFFFFF


def ensure_dir(path):
    """Create ``path`` and its parents if missing (``os.makedirs`` is not in MicroPython)."""
    current = ""
    for part in path.split("/"):
        if not part:
            continue
        if current:
            current = current + "/" + part
        else:
            current = ("/" if path.startswith("/") else "") + part
        try:
            os.mkdir(current)
        except OSError:
            pass  # it exists already (EEXIST); a real failure shows on the first open()


def file_size(path):
    """Size of the file at ``path`` in bytes, or -1 when it does not exist."""
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


class DualSlot:
    """A record of ``struct`` format ``fmt`` stored twice in the file at ``path``."""

    def __init__(self, path, fmt):
        self.path = path
        self.fmt = "<" + fmt.lstrip("<")
        self.body_size = struct.calcsize(self.fmt)
        self.slot_size = 4 + self.body_size + 4
        self._generation = None

    def _read_slots(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read(2 * self.slot_size)
        except OSError:
            return []
        slots = []
        for index in range(2):
            chunk = data[index * self.slot_size : (index + 1) * self.slot_size]
            if len(chunk) != self.slot_size:
                continue
            (crc,) = struct.unpack(_CRC_FORMAT, chunk[-4:])
            if crc32(chunk[:-4]) != crc:
                continue
            (generation,) = struct.unpack(_GEN_FORMAT, chunk[:4])
            slots.append((generation, struct.unpack(self.fmt, chunk[4:-4])))
        return slots

    def load(self):
        """The newest valid record as a tuple, or None when neither copy is valid."""
        slots = self._read_slots()
        if not slots:
            self._generation = 0
            return None
        generation, values = max(slots, key=lambda slot: slot[0])
        self._generation = generation
        return values

    def save(self, values):
        """Write ``values`` (a tuple matching the format) over the older copy."""
        if self._generation is None:
            self.load()  # sets it
        assert self._generation is not None
        generation = self._generation + 1
        body = struct.pack(_GEN_FORMAT, generation) + struct.pack(self.fmt, *values)
        record = body + struct.pack(_CRC_FORMAT, crc32(body))
        offset = (generation % 2) * self.slot_size
        try:
            f = open(self.path, "r+b")
        except OSError:
            f = open(self.path, "w+b")
            f.write(bytes(2 * self.slot_size))
        try:
            f.seek(offset)
            f.write(record)
            f.flush()
        finally:
            f.close()
        self._generation = generation
