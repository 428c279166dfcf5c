"""RTC memory state and the seq counter: monotonic across deep sleep, resets and power cuts."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_stub.sim_hw import PowerLoss, SimBoard, SimNetwork, WatchdogReset
from firmware_stub.state import SEQ_BLOCK, RtcState, SeqCounter


def counter(board: SimBoard, path: Path) -> SeqCounter:
    """The counter as a fresh wake builds it: state from RTC memory, reservation from flash."""
    return SeqCounter(RtcState(board), str(path))


def test_rtc_state_round_trips(board: SimBoard) -> None:
    """Everything saved to RTC memory is there on the next wake."""
    state = RtcState(board)
    assert not state.valid
    state.next_seq, state.last_sync, state.retry_wait_s = 42, 1_795_342_500, 900
    state.failures, state.sensor_errors, state.crc_errors = 3, 2, 7
    state.save()
    again = RtcState(board)
    assert again.valid
    assert (again.next_seq, again.last_sync, again.retry_wait_s) == (42, 1_795_342_500, 900)
    assert (again.failures, again.sensor_errors, again.crc_errors) == (3, 2, 7)


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 40, b"\xff" * 40, b"DWS1" + b"\x01" * 36])
def test_rtc_garbage_reads_as_nothing_remembered(board: SimBoard, garbage: bytes) -> None:
    """RTC memory after a power cut (empty or random) gives the defaults, never wrong numbers."""
    board.rtc_memory(garbage)
    state = RtcState(board)
    assert not state.valid
    assert (state.next_seq, state.last_sync, state.failures) == (0, 0, 0)


def test_seq_counts_up_from_one_across_deep_sleep(board: SimBoard, tmp_path: Path) -> None:
    """Across deep sleeps (RTC memory kept) seq goes 1, 2, 3, ... with no gaps."""
    taken = [counter(board, tmp_path / "seq.dat").take() for _ in range(250)]
    assert taken == list(range(1, 251))


def test_seq_reservation_is_written_once_per_block(board: SimBoard, tmp_path: Path) -> None:
    """Flash is written ahead once per block of seq numbers, not on every reading."""
    path = tmp_path / "seq.dat"
    writes = 0
    for _ in range(3 * SEQ_BLOCK):
        before = path.read_bytes() if path.exists() else b""
        counter(board, path).take()
        writes += path.read_bytes() != before
    assert writes == 3


@pytest.mark.parametrize("taken_before", [1, 57, SEQ_BLOCK, SEQ_BLOCK + 1, 3 * SEQ_BLOCK - 1])
def test_seq_never_reused_after_power_cut(board: SimBoard, tmp_path: Path, taken_before: int) -> None:
    """After a power cut (RTC memory lost) seq resumes above every number handed out, skipping under a block."""
    path = tmp_path / "seq.dat"
    used = [counter(board, path).take() for _ in range(taken_before)]
    board.power_cycle()
    after = counter(board, path).take()
    assert after > max(used)
    assert after - max(used) <= SEQ_BLOCK


def test_seq_never_reused_with_corrupt_rtc_memory(board: SimBoard, tmp_path: Path) -> None:
    """A crash that scrambles RTC memory falls back to the flash reservation."""
    path = tmp_path / "seq.dat"
    used = [counter(board, path).take() for _ in range(30)]
    board.rtc_memory(bytes(b ^ 0x55 for b in board.rtc_memory()))
    assert counter(board, path).take() > max(used)


def test_seq_raise_to(board: SimBoard, tmp_path: Path) -> None:
    """raise_to lifts the next seq above what the buffer already holds (a lost seq file)."""
    seq = counter(board, tmp_path / "seq.dat")
    seq.raise_to(500)
    assert seq.take() == 500
    seq.raise_to(10)
    assert seq.take() == 501


@pytest.mark.parametrize("reset", ["deep_sleep", "watchdog", "power_loss"])
def test_seq_monotonic_through_a_device_reset(make_device, offline_network: SimNetwork, reset: str) -> None:
    """A device's buffered seqs only ever go up whether it sleeps, is reset by the watchdog or loses power."""
    device = make_device(offline_network)
    device.run(5)
    if reset != "deep_sleep":
        hook = device.board.watchdog_reset if reset == "watchdog" else device.board.power_loss
        original = device.board.battery_mv

        def crash_after_seq_taken() -> int:
            device.board.battery_mv = original
            hook()

        # Reading(seq.take(), ..., board.battery_mv()): the crash comes after the seq was handed out.
        device.board.battery_mv = crash_after_seq_taken
        with pytest.raises(WatchdogReset if reset == "watchdog" else PowerLoss):
            device.wake()
    device.run(5)
    taken = [r["seq"] for r in device.readings_in_buffer()]
    assert taken == sorted(set(taken))
    assert len(taken) == 10
    if reset == "deep_sleep":
        assert taken == list(range(1, 11))
    else:
        assert taken[5] > 6  # seq 6 went to the reading lost in the crash and is never used again
