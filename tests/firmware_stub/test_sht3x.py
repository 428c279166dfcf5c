"""The SHT3x driver: CRC-8, conversions, retries, against the bus-level sensor model."""

from __future__ import annotations

import pytest

from firmware_stub import sht3x
from firmware_stub.sim_hw import SHT3xModel, SimClock, SimI2C, constant_climate


def sensor_on_bus(
    clock: SimClock, temperature_c: float = 21.5, humidity_pct: float = 63.0
) -> tuple[SHT3xModel, SimI2C]:
    model = SHT3xModel(clock, constant_climate(temperature_c, humidity_pct))
    return model, SimI2C(model)


def driver(clock: SimClock, bus: SimI2C, attempts: int = sht3x.DEFAULT_ATTEMPTS) -> sht3x.SHT3x:
    return sht3x.SHT3x(bus, sleep_ms=lambda ms: clock.advance(ms / 1000), attempts=attempts)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xbe\xef", 0x92),  # the datasheet's example (SHT3x-DIS, section 4.12)
        (b"123456789", 0xF7),  # the catalogue check value of CRC-8/NRSC-5 (poly 0x31, init 0xFF)
        (b"\x00\x00", 0x81),
        (b"", 0xFF),  # no data: the initial value, no final XOR
    ],
)
def test_crc8_published_values(data: bytes, expected: int) -> None:
    """CRC-8 matches the datasheet example and the catalogue check value."""
    assert sht3x.crc8(data) == expected


@pytest.mark.parametrize(
    ("raw", "centi_c", "celsius"),
    [
        (0x0000, -4500, -45.0),
        (0xFFFF, 13000, 130.0),
        (0x6666, 2500, 25.0),  # 26214 / 65535 = 0.4 exactly
        (0x8000, 4250, 42.501335),
        (0x4CCD, 750, 7.501335),
    ],
)
def test_temperature_conversion(raw: int, centi_c: int, celsius: float) -> None:
    """T = -45 + 175 * S_T / 65535, in °C and in hundredths rounded to nearest."""
    assert sht3x.temperature_centi_c(raw) == centi_c
    assert sht3x.temperature_c(raw) == pytest.approx(celsius, abs=1e-5)


@pytest.mark.parametrize(
    ("raw", "centi_pct", "percent"),
    [
        (0x0000, 0, 0.0),
        (0xFFFF, 10000, 100.0),
        (0x8000, 5000, 50.000763),
        (0xB333, 7000, 70.000763),
        (0x1999, 1000, 9.999237),
    ],
)
def test_humidity_conversion(raw: int, centi_pct: int, percent: float) -> None:
    """RH = 100 * S_RH / 65535, in % and in hundredths rounded to nearest."""
    assert sht3x.humidity_centi_pct(raw) == centi_pct
    assert sht3x.humidity_pct(raw) == pytest.approx(percent, abs=1e-5)


def test_parse_frame_reads_both_words() -> None:
    """A six-byte frame with good CRCs gives the two raw words."""
    frame = b"\x66\x66" + bytes([sht3x.crc8(b"\x66\x66")]) + b"\xbe\xef\x92"
    assert sht3x.parse_frame(frame) == (0x6666, 0xBEEF)


@pytest.mark.parametrize(("index", "word"), [(2, "temperature"), (5, "humidity")])
def test_parse_frame_rejects_a_bad_crc(index: int, word: str) -> None:
    """A wrong CRC byte on either word raises CRCError naming the word."""
    frame = bytearray(b"\x66\x66" + bytes([sht3x.crc8(b"\x66\x66")]) + b"\xbe\xef\x92")
    frame[index] ^= 0x01
    with pytest.raises(sht3x.CRCError, match=word):
        sht3x.parse_frame(bytes(frame))


@pytest.mark.parametrize(
    ("temperature_c", "humidity_pct"),
    [(18.4, 71.2), (-10.25, 5.0), (0.0, 100.0), (36.6, 48.3), (84.99, 0.01)],
)
def test_measure_through_the_bus(temperature_c: float, humidity_pct: float) -> None:
    """The driver reads back what the modelled sensor measured, to 0.01."""
    clock = SimClock()
    _, bus = sensor_on_bus(clock, temperature_c, humidity_pct)
    centi_c, centi_pct = driver(clock, bus).measure()
    assert centi_c / 100 == pytest.approx(temperature_c, abs=0.011)
    assert centi_pct / 100 == pytest.approx(humidity_pct, abs=0.011)


def test_measure_waits_for_the_conversion() -> None:
    """The driver waits at least the 15 ms conversion time; reading earlier is NACKed by the sensor."""
    clock = SimClock()
    _, bus = sensor_on_bus(clock)
    start = clock.world_s
    driver(clock, bus).measure()
    assert clock.world_s - start >= 0.015
    impatient = sht3x.SHT3x(bus, sleep_ms=lambda ms: None, attempts=2)
    with pytest.raises(sht3x.SensorError, match="no answer"):
        impatient.measure()
    assert impatient.bus_errors == 2


@pytest.mark.parametrize("word", ["temperature", "humidity"])
@pytest.mark.parametrize("bad_frames", [1, 2])
def test_crc_failure_is_retried(word: str, bad_frames: int) -> None:
    """A frame with a bad CRC is measured again and the good retry is returned; the failures are counted."""
    clock = SimClock()
    model, bus = sensor_on_bus(clock, 20.0, 55.0)
    model.corrupt_crc_frames = bad_frames
    model.corrupt_word = word
    sensor = driver(clock, bus, attempts=3)
    assert sensor.measure() == (2000, 5500)
    assert sensor.crc_errors == bad_frames
    assert model.measurements == bad_frames + 1


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_crc_failure_is_reported_after_the_last_attempt(attempts: int) -> None:
    """When every attempt fails its CRC, CRCError is raised and no value is returned."""
    clock = SimClock()
    model, bus = sensor_on_bus(clock)
    model.corrupt_crc_frames = attempts
    sensor = driver(clock, bus, attempts=attempts)
    with pytest.raises(sht3x.CRCError, match=f"after {attempts} attempts"):
        sensor.measure()
    assert sensor.crc_errors == attempts
    assert model.measurements == attempts


def test_missing_sensor_is_a_sensor_error() -> None:
    """No device at the address (ENODEV on the bus) is reported as SensorError, not a value."""
    clock = SimClock()
    sensor = sht3x.SHT3x(SimI2C(), sleep_ms=lambda ms: clock.advance(ms / 1000))
    with pytest.raises(sht3x.SensorError, match="0x44"):
        sensor.measure()


def test_model_frames_carry_datasheet_crcs() -> None:
    """The simulated sensor's frames pass the driver's CRC check and decode to its words."""
    frame = SHT3xModel.frame_for(25.0, 50.0)
    raw_t, raw_rh = sht3x.parse_frame(frame)
    assert raw_t == 0x6666
    assert sht3x.humidity_centi_pct(raw_rh) == 5000
