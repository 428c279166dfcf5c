"""The native DampWatch payload, written by hand so every board prints it the same way.

A reading is sent as::

    {"ts": "2026-11-22T10:15:00Z", "temperature_c": 18.4, "humidity_pct": 71.2, "battery_v": 2.91, "seq": 1042}

and a backlog as ``{"readings": [{...}, {...}]}``. ``ts`` is left out when the
device's clock was never set: the ingestor then uses its own receive time and
flags the reading. Numbers are kept as integers in hundredths (or millivolts)
and formatted with exactly the decimals they have, so a single-precision float
can never print ``18.399999``.
"""

#: Largest payload the contract allows (64 KiB), batch wrapper included.
MAX_PAYLOAD_BYTES = 65536
_BATCH_OPEN = '{"readings": ['
_BATCH_CLOSE = "]}"


def _div_round(numerator, denominator):
    return (2 * numerator + denominator) // (2 * denominator)


def centi_str(value):
    """Format an integer number of hundredths as a JSON number: 1840 -> "18.4", -5 -> "-0.05"."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    whole, frac = divmod(value, 100)
    if frac == 0:
        return "%s%d.0" % (sign, whole)
    if frac % 10 == 0:
        return "%s%d.%d" % (sign, whole, frac // 10)
    return "%s%d.%02d" % (sign, whole, frac)


def iso_utc(tm):
    """ISO 8601 UTC with a Z, whole seconds, from a ``gmtime()`` tuple."""
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (tm[0], tm[1], tm[2], tm[3], tm[4], tm[5])


class Reading:
    """One measurement: ``seq``, ``ts`` (ISO text or None when untimed), values in hundredths, battery in mV."""

    def __init__(self, seq, ts, temperature_centi_c, humidity_centi_pct, battery_mv):
        self.seq = seq
        self.ts = ts
        self.temperature_centi_c = temperature_centi_c
        self.humidity_centi_pct = humidity_centi_pct
        self.battery_mv = battery_mv

    def to_json(self):
        """The native payload for this reading (a str)."""
        parts = []
        if self.ts:
            parts.append('"ts": "%s"' % self.ts)
        parts.append('"temperature_c": %s' % centi_str(self.temperature_centi_c))
        parts.append('"humidity_pct": %s' % centi_str(self.humidity_centi_pct))
        if self.battery_mv:
            parts.append('"battery_v": %s' % centi_str(_div_round(self.battery_mv, 10)))
        parts.append('"seq": %d' % self.seq)
        return "{" + ", ".join(parts) + "}"

    def __eq__(self, other):
        return (
            isinstance(other, Reading)
            and self.seq == other.seq
            and self.ts == other.ts
            and self.temperature_centi_c == other.temperature_centi_c
            and self.humidity_centi_pct == other.humidity_centi_pct
            and self.battery_mv == other.battery_mv
        )

    def __repr__(self):
        return "Reading(%s)" % self.to_json()


def batch_json(readings):
    """``{"readings": [...]}`` for ``readings`` (in the order given)."""
    return _BATCH_OPEN + ", ".join([r.to_json() for r in readings]) + _BATCH_CLOSE


def take_batch(readings, max_bytes=MAX_PAYLOAD_BYTES):
    """The longest prefix of ``readings`` whose batch payload fits in ``max_bytes`` (at least one)."""
    size = len(_BATCH_OPEN) + len(_BATCH_CLOSE)
    count = 0
    for reading in readings:
        size += len(reading.to_json()) + (2 if count else 0)
        if count and size > max_bytes:
            break
        count += 1
    return readings[:count]


def status_json(
    status,
    dropped=None,
    buffered=None,
    sensor_errors=None,
    crc_errors=None,
    battery_mv=None,
    interval_s=None,
    clock_set=None,
    firmware=None,
):
    """The device's status message: ``{"status": "online", "dropped": 0, ...}`` (absent fields left out)."""
    parts = ['"status": "%s"' % status]
    for name, value in (
        ("dropped", dropped),
        ("buffered", buffered),
        ("sensor_errors", sensor_errors),
        ("crc_errors", crc_errors),
        ("interval_s", interval_s),
    ):
        if value is not None:
            parts.append('"%s": %d' % (name, value))
    if battery_mv:
        parts.append('"battery_v": %s' % centi_str(_div_round(battery_mv, 10)))
    if clock_set is not None:
        parts.append('"clock_set": %s' % ("true" if clock_set else "false"))
    if firmware is not None:
        parts.append('"firmware": "%s"' % firmware)
    return "{" + ", ".join(parts) + "}"
