"""The device's life: wake on the timer, measure, publish or buffer, deep sleep.

Every wake starts from nothing, as after a reset: what carries over lives in
RTC memory (``state.RtcState``) and on flash (the seq reservation and the ring
buffer in ``data_dir``). ``run_cycle`` does one wake and returns how long to
sleep; ``main`` is what ``/main.py`` calls on the device.

A wake, in order:

1. If a network attempt is due (the reconnect backoff has run out) and the
   clock was never set, join Wi-Fi and set the clock from NTP first, so the
   reading can carry a time.
2. Measure (SHT3x, retried on a bad CRC) and the battery. A failed
   measurement is counted and nothing is published for this wake. A reading
   gets the next ``seq`` and a ``ts`` only if the clock was set from NTP since
   the RTC last lost power; otherwise ``ts`` is left out.
3. If the attempt is due: join Wi-Fi (and re-sync NTP once a day), connect with
   the last will set, subscribe to ``<prefix>/<id>/stored`` (the ingestor's
   retained acknowledgement of what is in the store), publish the online status
   (retained, with the buffer's dropped counter), upload what flash holds above
   the acknowledgement, oldest first, as ``{"readings": [...]}`` batches, and
   listen a few seconds for the acknowledgement to cover them. A reading leaves
   flash only when the acknowledgement covers it (with ``stored_ack`` false:
   after its PUBACK), so the broker always receives readings in the order they
   were taken and a broker crash loses none.
4. If the network or broker failed, the reading goes to the ring buffer and
   the next attempt waits out a capped, jittered exponential backoff.
5. Wi-Fi off; sleep for the rest of ``interval_s``.

The board object is the device's only way to the hardware; see
``board_esp32.Esp32Board`` for the list of what it provides.
"""

import json

from firmware_stub import backoff, config, uplink
from firmware_stub.payload import Reading, batch_json, iso_utc, status_json, take_batch
from firmware_stub.persist import ensure_dir
from firmware_stub.ringbuf import RingBuffer
from firmware_stub.sht3x import SensorError, SHT3x
from firmware_stub.state import RtcState, SeqCounter

FIRMWARE_VERSION = "0.1.0"
#: A clock that reads earlier than this was never set (an ESP32 RTC starts at 2000-01-01).
EARLIEST_VALID_YEAR = 2025
#: Shortest deep sleep, whatever the wake cost.
MIN_SLEEP_MS = 1000
#: How often the device listens for the stored acknowledgement while it waits for one.
ACK_POLL_MS = 100


def clock_valid(board, state):
    """True when the device clock was set from NTP since the RTC last lost power."""
    if not state.last_sync:
        return False
    return board.gmtime(board.time())[0] >= EARLIEST_VALID_YEAR


def timestamp(board, state):
    """The current time as ISO 8601 UTC, or None when the clock cannot be trusted (never invent a time)."""
    if not clock_valid(board, state):
        return None
    return iso_utc(board.gmtime(board.time()))


def _sync_clock(board, cfg, state):
    """Set the clock from NTP when it was never set or the last sync is older than ``ntp_resync_s``."""
    if clock_valid(board, state) and board.time() - state.last_sync < cfg.ntp_resync_s:
        return
    if board.sync_time(cfg.ntp_host):
        state.last_sync = board.time()
    else:
        board.log("NTP sync with %s failed" % cfg.ntp_host)


def _go_online(board, cfg, state):
    """Join Wi-Fi and keep the clock set; False when Wi-Fi is not there."""
    if not board.wifi_connect(cfg.wifi_ssid, cfg.wifi_password, cfg.wifi_timeout_s):
        board.log("Wi-Fi %s not joined" % cfg.wifi_ssid)
        return False
    _sync_clock(board, cfg, state)
    return True


def _measure(board, cfg, state, seq):
    """A Reading, or None when the sensor failed (the failure is counted, nothing is invented)."""
    sensor = SHT3x(board.i2c, cfg.sht3x_address, board.sleep_ms)
    try:
        temperature, humidity = sensor.measure()
    except SensorError as exc:
        state.sensor_errors += 1
        state.crc_errors += sensor.crc_errors
        board.log("measurement failed: %s" % exc)
        return None
    state.crc_errors += sensor.crc_errors
    ts = timestamp(board, state)
    return Reading(seq.take(), ts, temperature, humidity, board.battery_mv())


def _status(board, cfg, state, buf, status):
    return status_json(
        status,
        dropped=buf.dropped,
        buffered=len(buf),
        sensor_errors=state.sensor_errors,
        crc_errors=state.crc_errors,
        battery_mv=board.battery_mv(),
        interval_s=cfg.interval_s,
        clock_set=clock_valid(board, state),
        firmware=FIRMWARE_VERSION,
    )


class StoredAck:
    """The ingestor's end-to-end acknowledgement, heard on ``<prefix>/<id>/stored``: ``{"seq": N}``.

    N is the highest seq of this device in the readings store. An acknowledgement above every seq
    this device has taken is not about these readings (the flash was wiped and seq started again, or
    another device had this id) and is ignored, so it can never remove a reading that is not stored.
    """

    def __init__(self, board, buf):
        self.board = board
        self.buf = buf
        self.seq = 0

    def heard(self, topic, msg):
        try:
            seq = json.loads(msg)["seq"]
        except (ValueError, KeyError, TypeError):
            self.board.log("ignored a stored acknowledgement that is not {\"seq\": N}: %r" % (msg,))
            return
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return
        if seq > self.buf.highest_seq():
            self.board.log("ignored a stored acknowledgement for seq %d, above any seq taken here" % seq)
            return
        if seq > self.seq:
            self.seq = seq
            self.buf.remove_through(seq)


def _wait_for_ack(board, cfg, client, ack, last_seq):
    """Listen up to ``ack_wait_s`` for the acknowledgement to cover ``last_seq``; True if it did."""
    waited_ms = 0
    while ack.seq < last_seq and waited_ms < cfg.ack_wait_s * 1000:
        client.check_msg()
        if ack.seq >= last_seq:
            break
        board.sleep_ms(ACK_POLL_MS)
        waited_ms += ACK_POLL_MS
    return ack.seq >= last_seq


def _upload(board, cfg, state, buf, reading):
    """One MQTT session: status, backlog, reading. True when everything was acknowledged.

    With ``stored_ack`` (the default) every reading goes to flash first and leaves it only when the
    ingestor's stored acknowledgement covers it: the retained one heard on subscribing, or a newer
    one heard while sending or within ``ack_wait_s`` after. What the broker PUBACKed but the
    acknowledgement does not cover stays on flash and is sent again next session, so a broker that
    crashes before saving what it acknowledged loses nothing. Without it, a batch leaves flash on
    the broker's PUBACK.

    On failure the connection is dropped without DISCONNECT (the broker then
    publishes the last will) and an unsent reading goes to the buffer.
    """
    if reading is not None and (len(buf) or cfg.stored_ack):
        buf.append(reading)
        reading = None
    # Bytes, not str: umqtt.simple sizes packets with len(), which counts characters in a str.
    up_topic = cfg.up_topic.encode()
    client = None
    ack = StoredAck(board, buf)
    try:
        client = uplink.new_client(board, cfg)
        client.connect(clean_session=True)
        if cfg.stored_ack:
            client.set_callback(ack.heard)
            client.subscribe(cfg.stored_topic.encode(), 0)  # the retained acknowledgement arrives first
            client.check_msg()
        status = _status(board, cfg, state, buf, "online")
        client.publish(cfg.status_topic.encode(), status.encode(), True, 1)
        sent = 0
        while True:
            batch = take_batch(buf.peek(cfg.batch_max_readings, after=sent))
            if not batch:
                break
            payload = batch[0].to_json() if len(batch) == 1 and sent == 0 and cfg.stored_ack else batch_json(batch)
            client.publish(up_topic, payload.encode(), False, 1)
            sent = batch[-1].seq
            if not cfg.stored_ack:
                buf.remove_through(sent)
        if reading is not None:
            client.publish(up_topic, reading.to_json().encode(), False, 1)
            reading = None
        if cfg.stored_ack and sent:
            if not _wait_for_ack(board, cfg, client, ack, sent):
                board.log("readings up to seq %d sent; %d stay on flash until the ingestor says they are stored"
                          % (sent, len(buf)))
    except board.network_errors as exc:
        board.log("MQTT session with %s:%d failed: %r" % (cfg.broker_host, cfg.port, exc))
        if client is not None:
            uplink.abandon(client)
        if reading is not None:
            buf.append(reading)
        return False
    try:
        client.disconnect()
    except board.network_errors as exc:
        board.log("MQTT disconnect failed after delivery: %r" % (exc,))
    return True


def run_cycle(board, cfg):
    """One wake of the device; returns the milliseconds to deep-sleep before the next."""
    started_ms = board.ticks_ms()
    ensure_dir(cfg.data_dir)
    state = RtcState(board)
    buf = RingBuffer(cfg.data_dir, cfg.buffer_capacity)
    seq = SeqCounter(state, cfg.data_dir + "/seq.dat")
    seq.raise_to(buf.highest_seq() + 1)  # in case the seq file was lost but the buffer was not

    attempt = state.retry_wait_s == 0
    online = None
    if attempt and not clock_valid(board, state):
        online = _go_online(board, cfg, state)
    reading = _measure(board, cfg, state, seq)
    if attempt and online is None:
        online = _go_online(board, cfg, state)

    if attempt and online:
        delivered = _upload(board, cfg, state, buf, reading)
    else:
        delivered = False
        if reading is not None:
            buf.append(reading)

    if attempt:
        if delivered:
            state.failures = 0
            state.retry_wait_s = 0
        else:
            state.retry_wait_s = backoff.delay_s(state.failures, cfg.backoff_base_s, cfg.backoff_cap_s)
            state.failures += 1
    board.wifi_off()

    awake_ms = board.ticks_diff(board.ticks_ms(), started_ms)
    sleep_ms = max(MIN_SLEEP_MS, cfg.interval_s * 1000 - awake_ms)
    state.retry_wait_s = max(0, state.retry_wait_s - (awake_ms + sleep_ms) // 1000)
    state.save()
    return sleep_ms


def main(board=None, config_path=config.DEFAULT_PATH):
    """Run one wake and go to deep sleep (on the ESP32, the next wake starts again at /main.py)."""
    try:
        cfg = config.load(config_path)
    except config.ConfigError as exc:
        print("dampwatch: %s" % exc)
        raise
    if board is None:
        from firmware_stub.board_esp32 import Esp32Board

        board = Esp32Board(cfg)
    try:
        sleep_ms = run_cycle(board, cfg)
    except Exception as exc:  # a bug must not keep the radio on until the battery is flat
        board.log("wake failed: %r" % (exc,))
        sleep_ms = cfg.interval_s * 1000
    board.deep_sleep(sleep_ms)
