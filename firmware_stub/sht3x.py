"""Sensirion SHT3x (SHT30/SHT31/SHT35) humidity and temperature sensor driver.

Speaks to the sensor through any object with MicroPython's ``machine.I2C``
methods ``writeto(addr, buf)`` and ``readfrom(addr, n)``, so the same code runs
on an ESP32 and against the simulated bus in ``sim_hw``.

One measurement is a single shot, high repeatability, without clock
stretching (command 0x2400): the sensor NACKs reads until the conversion is
done, so the driver waits longer than the datasheet's 15 ms maximum before it
reads six bytes: temperature MSB, LSB, CRC, humidity MSB, LSB, CRC.

Every 16-bit word is checked with the datasheet's CRC-8 (polynomial 0x31,
initial value 0xFF, no reflection, no final XOR). A reading whose CRC fails is
measured again a bounded number of times and then reported as a ``CRCError``;
a value that failed its CRC is never returned.

Values are returned as integers in hundredths (0.01 °C, 0.01 %RH) so that the
rounding to two decimals is exact on boards whose floats are single precision.
"""

import time

#: I2C address with the ADDR pin low (0x45 with it high).
DEFAULT_ADDRESS = 0x44
#: Single shot, high repeatability, clock stretching disabled (datasheet table 9).
CMD_MEASURE_HIGH_NO_STRETCH = b"\x24\x00"
#: Soft reset (datasheet section 4.9).
CMD_SOFT_RESET = b"\x30\xa2"
#: Longest conversion time for high repeatability is 15 ms; wait a little longer.
MEASURE_WAIT_MS = 16
#: CRC-8 parameters from the datasheet (section 4.12).
CRC8_POLYNOMIAL = 0x31
CRC8_INIT = 0xFF
#: Measurements tried before a failure is reported.
DEFAULT_ATTEMPTS = 3


class SensorError(Exception):
    """The sensor could not give a trustworthy measurement."""


class CRCError(SensorError):
    """A word read from the sensor failed its CRC-8 check."""


def crc8(data):
    """CRC-8 of ``data`` (bytes) as the SHT3x computes it; ``crc8(b"\\xbe\\xef") == 0x92``."""
    crc = CRC8_INIT
    for byte in data:
        crc ^= byte
        for _ in range(8):
            if crc & 0x80:
                crc = ((crc << 1) ^ CRC8_POLYNOMIAL) & 0xFF
            else:
                crc = (crc << 1) & 0xFF
    return crc


def _div_round(numerator, denominator):
    """Integer division rounded to the nearest integer, halves upwards (``denominator`` > 0)."""
    return (2 * numerator + denominator) // (2 * denominator)


def temperature_centi_c(raw):
    """Temperature in hundredths of a °C from the raw word: T = -45 + 175 * S_T / 65535."""
    return _div_round(17500 * raw - 4500 * 65535, 65535)


def humidity_centi_pct(raw):
    """Relative humidity in hundredths of a % from the raw word: RH = 100 * S_RH / 65535."""
    return _div_round(10000 * raw, 65535)


def temperature_c(raw):
    """Temperature in °C (float) from the raw word."""
    return -45 + 175 * raw / 65535


def humidity_pct(raw):
    """Relative humidity in % (float) from the raw word."""
    return 100 * raw / 65535


def _default_sleep_ms(ms):
    sleep_ms = getattr(time, "sleep_ms", None)
    if sleep_ms is not None:
        sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def parse_frame(frame):
    """Check the CRCs of a six-byte frame and return ``(raw_temperature, raw_humidity)``.

    Raises ``CRCError`` naming the word whose CRC failed.
    """
    if len(frame) != 6:
        raise SensorError("expected 6 bytes from the sensor, got %d" % len(frame))
    if crc8(frame[0:2]) != frame[2]:
        raise CRCError("temperature word failed its CRC check")
    if crc8(frame[3:5]) != frame[5]:
        raise CRCError("humidity word failed its CRC check")
    return (frame[0] << 8) | frame[1], (frame[3] << 8) | frame[4]


class SHT3x:
    """An SHT3x on an I2C bus.

    ``sleep_ms`` is the function used to wait for the conversion (defaults to
    ``time.sleep_ms``); ``attempts`` bounds how many measurements are tried
    before a failure is reported. ``crc_errors`` and ``bus_errors`` count
    every failed attempt since the driver was created.
    """

    def __init__(self, i2c, address=DEFAULT_ADDRESS, sleep_ms=None, attempts=DEFAULT_ATTEMPTS):
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.i2c = i2c
        self.address = address
        self.sleep_ms = sleep_ms or _default_sleep_ms
        self.attempts = attempts
        self.crc_errors = 0
        self.bus_errors = 0

    def read_raw(self):
        """One single-shot measurement: ``(raw_temperature, raw_humidity)``; no retry."""
        self.i2c.writeto(self.address, CMD_MEASURE_HIGH_NO_STRETCH)
        self.sleep_ms(MEASURE_WAIT_MS)
        return parse_frame(bytes(self.i2c.readfrom(self.address, 6)))

    def measure(self):
        """Measure ``(temperature_centi_c, humidity_centi_pct)``, retrying failed attempts.

        Raises ``CRCError`` when every attempt failed its CRC and ``SensorError``
        when the last failure was on the bus (sensor missing or not answering).
        """
        last = None  # type: Exception | None
        for _ in range(self.attempts):
            try:
                raw_t, raw_rh = self.read_raw()
            except CRCError as exc:
                self.crc_errors += 1
                last = exc
                continue
            except OSError as exc:
                self.bus_errors += 1
                last = exc
                continue
            return temperature_centi_c(raw_t), humidity_centi_pct(raw_rh)
        if isinstance(last, CRCError):
            raise CRCError("%s after %d attempts" % (last.args[0], self.attempts))
        raise SensorError(
            "no answer from the sensor at 0x%02x after %d attempts (%s)" % (self.address, self.attempts, last)
        )

    def soft_reset(self):
        """Reset the sensor (it needs about 1.5 ms before the next command)."""
        self.i2c.writeto(self.address, CMD_SOFT_RESET)
        self.sleep_ms(2)
