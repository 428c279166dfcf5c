"""The wake cycle on simulated hardware with no broker: timestamps, sensor failures, cadence, main()."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from firmware_stub import app, config
from firmware_stub.sim_hw import SimNetwork


def test_untimed_readings_omit_ts(make_device, offline_network: SimNetwork) -> None:
    """A device that never reached NTP stores its readings without ts, never with an invented time."""
    device = make_device(offline_network)
    device.run(4)
    readings = list(device.readings_in_buffer())
    assert len(readings) == 4
    assert all("ts" not in reading for reading in readings)
    assert [reading["seq"] for reading in readings] == [1, 2, 3, 4]


@pytest.mark.broker
def test_power_cut_makes_the_clock_untrusted(make_device, network: SimNetwork) -> None:
    """After a power cut the RTC restarts at 2000-01-01; readings go untimed until NTP answers again."""
    device = make_device(network)
    device.run(1)
    assert device.clock.rtc_set
    network.cut()
    device.power_cycle()
    device.run(2)
    assert not device.clock.rtc_set
    assert all("ts" not in reading for reading in device.readings_in_buffer())


@pytest.mark.parametrize(
    ("bad_frames", "stored", "sensor_errors", "crc_errors"),
    [(0, 1, 0, 0), (1, 1, 0, 1), (2, 1, 0, 2), (3, 0, 1, 3), (7, 0, 1, 3)],
)
def test_crc_failures_are_retried_then_counted_never_stored(
    make_device,
    offline_network: SimNetwork,
    bad_frames: int,
    stored: int,
    sensor_errors: int,
    crc_errors: int,
) -> None:
    """Up to two bad CRCs are retried away; a third fails the wake's measurement, which is counted, not stored."""
    device = make_device(offline_network)
    device.sensor.corrupt_crc_frames = bad_frames
    device.wake()
    assert device.buffered() == stored
    state = app.RtcState(device.board)
    assert (state.sensor_errors, state.crc_errors) == (sensor_errors, crc_errors)
    device.sensor.corrupt_crc_frames = 0
    device.wake()
    # No seq was spent on the failed measurement.
    assert [r["seq"] for r in device.readings_in_buffer()] == list(range(1, stored + 2))


def test_missing_sensor_stores_nothing(make_device, offline_network: SimNetwork) -> None:
    """With no sensor on the bus the wake stores no reading and counts a sensor error."""
    device = make_device(offline_network)
    device.board.i2c.devices.clear()
    device.run(2)
    assert device.buffered() == 0
    assert app.RtcState(device.board).sensor_errors == 2
    assert any("measurement failed" in line for line in device.board.log_lines)


@pytest.mark.parametrize("interval_s", [60, 600, 3600])
def test_wakes_keep_their_cadence(make_device, offline_network: SimNetwork, interval_s: int) -> None:
    """The deep sleep makes up for the time spent awake, so wakes start exactly interval_s apart."""
    device = make_device(offline_network, interval_s=interval_s, wifi_timeout_s=15)
    starts = []
    for _ in range(5):
        starts.append(device.clock.world_s)
        device.wake()
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [interval_s] * 4
    assert all(ms <= interval_s * 1000 for ms in device.board.sleeps_ms)


def test_config_error_stops_main(
    make_device, offline_network: SimNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() prints a config error naming the field and raises it (the device stays at the REPL)."""
    device = make_device(offline_network)
    device.config_path.write_text(
        '{"device_id": "dw-1", "wifi_ssid": "x", "broker_host": "h", "tls": false, "interval_s": 1}'
    )
    with pytest.raises(config.ConfigError, match="interval_s"):
        device.wake()
    assert "interval_s" in capsys.readouterr().out
    assert device.board.sleeps_ms == []


def test_unexpected_failure_still_sleeps(make_device, offline_network: SimNetwork) -> None:
    """A wake that fails unexpectedly (here: the data folder is a file) is logged and still deep-sleeps."""
    device = make_device(offline_network, interval_s=900)
    Path(device.settings["data_dir"]).write_text("not a folder")
    device.wake()
    assert device.board.sleeps_ms == [900_000]
    assert any("wake failed" in line for line in device.board.log_lines)
