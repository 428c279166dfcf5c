"""The flash ring buffer: order, overflow, persistence, removal after PUBACK, torn writes."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from firmware_stub.payload import Reading
from firmware_stub.persist import crc32, crc32_portable
from firmware_stub.ringbuf import RECORD_SIZE, RingBuffer


def reading(seq: int, timed: bool = True) -> Reading:
    ts = f"2026-11-22T{seq // 60 % 24:02d}:{seq % 60:02d}:00Z" if timed else None
    return Reading(seq, ts, 1800 + seq % 100, 6000 + seq % 1000, 3000 - seq % 50)


def seqs(buf: RingBuffer) -> list[int]:
    return [r.seq for r in buf.peek(buf.capacity)]


@pytest.fixture
def data_dir(tmp_path: Path) -> str:
    return str(tmp_path / "flash" / "dampwatch")


def test_readings_come_back_oldest_first_and_intact(data_dir: str) -> None:
    """What goes in comes back unchanged, oldest first, timed and untimed alike."""
    buf = RingBuffer(data_dir, 10)
    stored = [reading(1), reading(2, timed=False), reading(3)]
    for item in stored:
        buf.append(item)
    assert len(buf) == 3
    assert buf.peek(10) == stored
    assert buf.peek(2) == stored[:2]


@pytest.mark.parametrize(("capacity", "written"), [(5, 6), (5, 12), (10, 144), (1, 3)])
def test_overflow_drops_the_oldest_and_counts(data_dir: str, capacity: int, written: int) -> None:
    """When full, the oldest reading is dropped first and the dropped counter counts every one."""
    buf = RingBuffer(data_dir, capacity)
    for seq in range(1, written + 1):
        buf.append(reading(seq))
    assert seqs(buf) == list(range(written - capacity + 1, written + 1))
    assert buf.dropped == written - capacity
    assert RingBuffer(data_dir, capacity).dropped == written - capacity


@pytest.mark.parametrize("written", [0, 3, 7, 20])
def test_buffer_survives_a_reboot(data_dir: str, written: int) -> None:
    """A new RingBuffer on the same files (after a reset or power cut) has the same readings and counters."""
    buf = RingBuffer(data_dir, 7)
    for seq in range(1, written + 1):
        buf.append(reading(seq))
    if written:
        buf.remove_through(min(2, written))
    again = RingBuffer(data_dir, 7)
    assert again.peek(7) == buf.peek(7)
    assert (again.dropped, len(again)) == (buf.dropped, len(buf))
    again.append(reading(written + 1))
    assert seqs(again)[-1] == written + 1


def test_remove_through_forgets_only_what_was_acknowledged(data_dir: str) -> None:
    """remove_through(seq) removes readings up to seq and keeps the rest, also after a reboot."""
    buf = RingBuffer(data_dir, 10)
    for seq in range(1, 8):
        buf.append(reading(seq))
    buf.remove_through(4)
    assert seqs(buf) == [5, 6, 7]
    assert seqs(RingBuffer(data_dir, 10)) == [5, 6, 7]
    buf.remove_through(3)  # an old acknowledgement changes nothing
    assert seqs(buf) == [5, 6, 7]


def test_wraps_round_many_times_in_order(data_dir: str) -> None:
    """Appending and removing across many laps of the ring keeps the order of seq."""
    buf = RingBuffer(data_dir, 6)
    next_seq = 1
    for lap in range(20):
        for _ in range(lap % 5 + 1):
            buf.append(reading(next_seq))
            next_seq += 1
        live = seqs(buf)
        assert live == sorted(live)
        if lap % 3 == 0 and live:
            buf.remove_through(live[len(live) // 2])
    assert seqs(RingBuffer(data_dir, 6)) == seqs(buf)


def test_torn_record_is_skipped(data_dir: str) -> None:
    """A record half-written by a power cut fails its CRC and is skipped; every other reading survives."""
    buf = RingBuffer(data_dir, 8)
    for seq in range(1, 6):
        buf.append(reading(seq))
    with open(buf.data_path, "r+b") as f:
        f.seek(2 * RECORD_SIZE + 5)
        f.write(b"\xff\xff\xff")
    assert seqs(RingBuffer(data_dir, 8)) == [1, 2, 4, 5]


def test_torn_header_falls_back_to_the_previous_copy(data_dir: str) -> None:
    """A header write torn by a power cut leaves the previous header in force."""
    buf = RingBuffer(data_dir, 8)
    for seq in range(1, 6):
        buf.append(reading(seq))
    buf.remove_through(2)
    buf.remove_through(3)  # the newest header copy
    header = Path(data_dir) / "buffer.hdr"
    raw = bytearray(header.read_bytes())
    slot_size = len(raw) // 2
    generations = [int.from_bytes(raw[i * slot_size : i * slot_size + 4], "little") for i in (0, 1)]
    raw[generations.index(max(generations)) * slot_size + 6] ^= 0xFF
    header.write_bytes(bytes(raw))
    assert seqs(RingBuffer(data_dir, 8)) == [3, 4, 5]


@pytest.mark.parametrize(
    ("old", "new", "kept"), [(10, 4, [7, 8, 9, 10]), (4, 10, [7, 8, 9, 10]), (6, 6, [5, 6, 7, 8, 9, 10])]
)
def test_capacity_change_keeps_the_newest(data_dir: str, old: int, new: int, kept: list[int]) -> None:
    """A new buffer_capacity keeps the newest readings that fit and counts the rest as dropped."""
    buf = RingBuffer(data_dir, old)
    for seq in range(1, 11):
        buf.append(reading(seq))
    dropped_before, live_before = buf.dropped, seqs(buf)
    resized = RingBuffer(data_dir, new)
    assert seqs(resized) == kept
    assert resized.dropped == dropped_before + len(live_before) - len(kept)
    assert seqs(RingBuffer(data_dir, new)) == kept


@pytest.mark.parametrize("data", [b"", b"123456789", bytes(range(256)), b"\xff" * 36])
def test_portable_crc32_matches_zlib(data: bytes) -> None:
    """The plain-Python CRC-32 (for ports without binascii.crc32) equals zlib's; 0xCBF43926 for "123456789"."""
    assert crc32_portable(data) == zlib.crc32(data) == crc32(data)
    if data == b"123456789":
        assert crc32_portable(data) == 0xCBF43926
