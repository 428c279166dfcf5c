"""The on-disk spool: durable, ordered, crash-safe."""

from __future__ import annotations

import pytest

from ingest.batch import RawMessage
from ingest.spool import Spool, SpoolError


def _batch(start: int, n: int) -> list[RawMessage]:
    return [RawMessage(f"dampwatch/d{i}/up", bytes([i % 256]) * (i % 7 + 1), 1_700_000_000.0 + i)
            for i in range(start, start + n)]


def test_batches_come_back_in_order_and_exactly(tmp_path):
    """Batches are returned oldest first, byte for byte, and counted."""
    spool = Spool(tmp_path)
    first, second = _batch(0, 5), _batch(5, 3)
    spool.append(first)
    spool.append(second)
    assert (spool.batches, spool.messages) == (2, 8)
    assert spool.peek() == first
    spool.pop()
    assert spool.peek() == second
    spool.pop()
    assert not spool and spool.messages == 0


def test_spool_survives_a_restart(tmp_path):
    """A new Spool on the same folder finds what was left, with its count, and carries on numbering."""
    spool = Spool(tmp_path)
    spool.append(_batch(0, 4))
    spool.append(_batch(4, 2))
    again = Spool(tmp_path)
    assert (again.batches, again.messages) == (2, 6)
    again.append(_batch(6, 1))
    assert [p.name for p in sorted(tmp_path.glob("*.jsonl"))] == [
        "000000000001.jsonl", "000000000002.jsonl", "000000000003.jsonl"]
    assert again.peek() == _batch(0, 4)


def test_unfinished_write_is_discarded(tmp_path):
    """A .tmp file (a write cut short, never acknowledged) is removed at start."""
    (tmp_path / "000000000001.tmp").write_text("half a batch")
    spool = Spool(tmp_path)
    assert not spool and not list(tmp_path.glob("*.tmp"))


def test_damaged_file_is_reported_with_how_to_continue(tmp_path):
    """A file that cannot be read raises SpoolError naming it."""
    spool = Spool(tmp_path)
    spool.append(_batch(0, 1))
    next(tmp_path.glob("*.jsonl")).write_text("not json\n")
    with pytest.raises(SpoolError, match="move it aside"):
        Spool(tmp_path).peek()
