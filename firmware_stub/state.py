"""What the device remembers between wakes: RTC memory for the hot state, flash for seq.

RTC memory (``machine.RTC().memory()`` on the ESP32) survives deep sleep and
soft resets but not a power cut; it costs no flash wear. It holds the next
``seq``, when the clock was last set from NTP, the reconnect backoff and the
error counters, with a magic word and a CRC-32 so that garbage after a power
cut reads as "nothing remembered".

``seq`` must never be reused, even after a crash or a power cut. The counter
is written ahead in two places before a number is handed out: RTC memory
gets ``next = seq + 1`` on every reading, and flash gets a *reservation*
``seq + SEQ_BLOCK`` once per block. After a power cut the device resumes at
the reservation, skipping at most a block of numbers and never reusing one.
"""

import struct

from firmware_stub.persist import DualSlot, crc32

_MAGIC = b"DWS1"
#: magic, next seq, last NTP sync (device clock seconds, 0 = never), seconds to wait before the next
#: network attempt, consecutive failed attempts, failed measurements, CRC failures.
_RTC_FORMAT = "<4sIIIHII"
_RTC_SIZE = struct.calcsize(_RTC_FORMAT) + 4
#: Numbers reserved on flash at a time (one flash write per block of readings).
SEQ_BLOCK = 100
_SEQ_FORMAT = "<I"


class RtcState:
    """The state kept in RTC memory, loaded from ``board.rtc_memory()``."""

    def __init__(self, board):
        self.board = board
        self.valid = False
        self.next_seq = 0
        self.last_sync = 0
        self.retry_wait_s = 0
        self.failures = 0
        self.sensor_errors = 0
        self.crc_errors = 0
        self.load()

    def load(self):
        """Read RTC memory; anything missing or corrupt leaves the defaults (``valid`` False)."""
        data = bytes(self.board.rtc_memory() or b"")
        if len(data) < _RTC_SIZE:
            return
        body = data[: _RTC_SIZE - 4]
        (crc,) = struct.unpack("<I", data[_RTC_SIZE - 4 : _RTC_SIZE])
        if crc32(body) != crc:
            return
        values = struct.unpack(_RTC_FORMAT, body)
        if values[0] != _MAGIC:
            return
        (
            _,
            self.next_seq,
            self.last_sync,
            self.retry_wait_s,
            self.failures,
            self.sensor_errors,
            self.crc_errors,
        ) = values
        self.valid = True

    def save(self):
        """Write the state to RTC memory."""
        body = struct.pack(
            _RTC_FORMAT,
            _MAGIC,
            self.next_seq,
            self.last_sync,
            self.retry_wait_s,
            min(self.failures, 0xFFFF),
            self.sensor_errors,
            self.crc_errors,
        )
        self.board.rtc_memory(body + struct.pack("<I", crc32(body)))
        self.valid = True


class SeqCounter:
    """Hands out ``seq`` numbers that only ever go up, across deep sleep, crashes and power cuts."""

    def __init__(self, state, path, block=SEQ_BLOCK):
        self.state = state
        self.block = block
        self._slot = DualSlot(path, _SEQ_FORMAT)
        stored = self._slot.load()
        #: Every number below this may have been used; none at or above it has.
        self.reserved = stored[0] if stored else 1

    def peek(self):
        """The number the next ``take()`` returns."""
        if self.state.next_seq >= 1:
            return self.state.next_seq
        return self.reserved

    def raise_to(self, minimum):
        """Make sure the next number is at least ``minimum`` (e.g. above what the buffer holds)."""
        if self.peek() < minimum:
            self.state.next_seq = minimum
            self.state.save()

    def take(self):
        """A fresh seq. Written ahead to flash (per block) and RTC memory before it is returned."""
        seq = self.peek()
        if seq >= self.reserved:
            self.reserved = seq + self.block
            self._slot.save((self.reserved,))
        self.state.next_seq = seq + 1
        self.state.save()
        return seq
