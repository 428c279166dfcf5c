"""A bounded ring buffer of readings on flash, for when the broker cannot be reached.

Layout: ``buffer.dat`` holds ``capacity`` fixed-size slots; each record carries
its ``seq`` and a CRC-32, so a record torn by a power cut reads as an empty
slot and harms no other. Records are written to the slots in turn, so going
round the ring from the slot after the newest record visits the records in
the order they were taken (and of their ``ts``).

``buffer.hdr`` (a ``DualSlot``) holds the *floor*: every record whose seq is at
or below it has been uploaded or dropped and is dead. Removing readings after
the broker's PUBACK is a single header write that raises the floor. When the
ring is full the oldest live record is dropped first: the header (floor and
the persistent ``dropped`` counter) is written *before* its slot is reused,
so a crash in between can lose only the reading being written, never count
wrongly or reorder.
"""

import struct

from firmware_stub.payload import Reading
from firmware_stub.persist import DualSlot, crc32, ensure_dir, file_size

#: marker, flags, seq, ts (ASCII, NUL padded), temperature 0.01 °C, humidity 0.01 %, battery mV.
_BODY_FORMAT = "<BBI20shHH"
_BODY_SIZE = struct.calcsize(_BODY_FORMAT)
RECORD_SIZE = _BODY_SIZE + 4
_MARKER = 0xD7
_FLAG_TIMED = 0x01
#: floor seq, dropped count, capacity.
_HEADER_FORMAT = "<IIH"
MIN_CAPACITY = 1
MAX_CAPACITY = 65535


def encode_record(reading):
    """The fixed-size bytes of one record."""
    ts = reading.ts.encode() if reading.ts else b""
    body = struct.pack(
        _BODY_FORMAT,
        _MARKER,
        _FLAG_TIMED if ts else 0,
        reading.seq,
        ts,
        reading.temperature_centi_c,
        reading.humidity_centi_pct,
        reading.battery_mv or 0,
    )
    return body + struct.pack("<I", crc32(body))


def decode_record(data):
    """The Reading in ``data``, or None for an empty, torn or corrupt slot."""
    if len(data) != RECORD_SIZE or data[0] != _MARKER:
        return None
    (crc,) = struct.unpack("<I", data[_BODY_SIZE:])
    if crc32(data[:_BODY_SIZE]) != crc:
        return None
    _, flags, seq, ts, temp, rh, battery = struct.unpack(_BODY_FORMAT, data[:_BODY_SIZE])
    if seq == 0:
        return None
    text = ts.rstrip(b"\x00").decode() if flags & _FLAG_TIMED else None
    return Reading(seq, text, temp, rh, battery)


class RingBuffer:
    """Readings kept on flash in ``directory``, at most ``capacity`` of them, oldest dropped first."""

    def __init__(self, directory, capacity):
        if not MIN_CAPACITY <= capacity <= MAX_CAPACITY:
            raise ValueError("capacity must be between %d and %d" % (MIN_CAPACITY, MAX_CAPACITY))
        ensure_dir(directory)
        self.capacity = capacity
        self.data_path = directory + "/buffer.dat"
        self._header = DualSlot(directory + "/buffer.hdr", _HEADER_FORMAT)
        self.floor = 0
        self.dropped = 0
        self._slot_seq = [0] * capacity
        self._next = 0
        self._open()

    # -- opening -------------------------------------------------------------------------------

    def _open(self):
        header = self._header.load()
        stored_capacity = self.capacity
        if header is not None:
            self.floor, self.dropped, stored_capacity = header
        if file_size(self.data_path) != stored_capacity * RECORD_SIZE:
            self._create(carry=[])
            return
        if stored_capacity != self.capacity:
            self._resize(stored_capacity)
            return
        self._scan()

    def _scan(self):
        newest_seq = 0
        newest_slot = -1
        with open(self.data_path, "rb") as f:
            for slot in range(self.capacity):
                reading = decode_record(f.read(RECORD_SIZE))
                seq = reading.seq if reading is not None else 0
                self._slot_seq[slot] = seq
                if seq > newest_seq:
                    newest_seq = seq
                    newest_slot = slot
        self._next = (newest_slot + 1) % self.capacity

    def _create(self, carry):
        """A fresh data file holding ``carry`` (readings in order) from slot 0."""
        blank = bytes(RECORD_SIZE)
        with open(self.data_path, "wb") as f:
            for slot in range(self.capacity):
                if slot < len(carry):
                    f.write(encode_record(carry[slot]))
                    self._slot_seq[slot] = carry[slot].seq
                else:
                    f.write(blank)
                    self._slot_seq[slot] = 0
        self._next = len(carry) % self.capacity
        self._write_header()

    def _resize(self, stored_capacity):
        """Move the live records to a file of the configured capacity, dropping the oldest if needed."""
        wanted = self.capacity
        self.capacity = stored_capacity
        self._slot_seq = [0] * stored_capacity
        self._scan()
        live = self.peek(stored_capacity)
        self.capacity = wanted
        self._slot_seq = [0] * wanted
        excess = len(live) - wanted
        if excess > 0:
            self.dropped += excess
            self.floor = live[excess - 1].seq
            live = live[excess:]
        self._create(carry=live)

    def _write_header(self):
        self._header.save((self.floor, self.dropped, self.capacity))

    # -- queries -------------------------------------------------------------------------------

    def __len__(self):
        floor = self.floor
        return len([seq for seq in self._slot_seq if seq > floor])

    def highest_seq(self):
        """The highest seq ever stored here (uploaded, dropped or live); 0 when none."""
        return max(self.floor, max(self._slot_seq))

    def _live_slots(self):
        """Slots of the live records, oldest first."""
        floor = self.floor
        slots = []
        for offset in range(self.capacity):
            slot = (self._next + offset) % self.capacity
            if self._slot_seq[slot] > floor:
                slots.append(slot)
        return slots

    def peek(self, count, after=0):
        """Up to ``count`` of the oldest live readings with a seq above ``after``, oldest first, kept in place."""
        slots = [slot for slot in self._live_slots() if self._slot_seq[slot] > after][:count]
        readings = []  # type: list[Reading]
        if not slots:
            return readings
        with open(self.data_path, "rb") as f:
            for slot in slots:
                f.seek(slot * RECORD_SIZE)
                reading = decode_record(f.read(RECORD_SIZE))
                if reading is not None:
                    readings.append(reading)
        return readings

    # -- changes -------------------------------------------------------------------------------

    def append(self, reading):
        """Store ``reading`` (its seq must be above every stored seq); drop the oldest if full."""
        slot = self._next
        victim = self._slot_seq[slot]
        if victim > self.floor:
            # Write-ahead: count the drop and retire the oldest record before reusing its slot.
            self.floor = victim
            self.dropped += 1
            self._write_header()
        self._slot_seq[slot] = 0
        with open(self.data_path, "r+b") as f:
            f.seek(slot * RECORD_SIZE)
            f.write(encode_record(reading))
            f.flush()
        self._slot_seq[slot] = reading.seq
        self._next = (slot + 1) % self.capacity

    def remove_through(self, seq):
        """Forget every reading with a seq up to and including ``seq`` (call it after the PUBACK)."""
        if seq > self.floor:
            self.floor = seq
            self._write_header()
