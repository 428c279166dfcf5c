"""Run a simulation: physics, sensors, the message stream, what an ingestor must store, and the truth.

:func:`simulate` runs the estate's physics over a spin-up and the published
window, samples it with simulated sensors and plans their faults. The returned
:class:`Simulation` generates the MQTT messages lazily, in publish order
(:meth:`Simulation.iter_messages`), and knows exactly what a correct ingestor
stores (:attr:`Simulation.expected`) and dead-letters
(:attr:`Simulation.expected_rejections`).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from simulator import physics, sensors
from simulator.estate import Estate
from simulator.model import (
    MINUTES_PER_DAY,
    PhysicsResult,
    outdoor_weather,
    physics_step_minutes,
    room_table,
    run_physics,
)
from simulator.truth import TRUTH_SENSITIVITY, build_truth, vtt_mould_index

logger = logging.getLogger(__name__)

#: Days simulated before the window so the mould index has a history.
DEFAULT_SPINUP_DAYS = 60
#: Physics step during the spin-up (coarser than the window: only the mould index needs it). [min]
SPINUP_STEP_MINUTES = 30
#: Header of the readings CSV.
READINGS_CSV_COLUMNS = ("device_id", "ts", "temperature_c", "humidity_pct", "battery_v", "seq")
#: Reading slots turned into messages at a time by the message iterator.
_CHUNK_READINGS = 144


@functools.cache
def _clock_strings() -> list[str]:
    """``HH:MM:SS`` for every second of a day, for fast time stamps."""
    return [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]


@dataclasses.dataclass(frozen=True)
class Device:
    """A sensor of the simulation and where it is."""

    device_id: str
    uprn: str
    room: str
    room_type: str
    row: int  # row in the physics room table, or -1 outdoors
    site: int


@dataclasses.dataclass(repr=False)
class Simulation:
    """A finished simulation: the estate, its true conditions and what its sensors sent.

    Build it with :func:`simulate`. Message payloads are generated on demand,
    so a month of an estate costs little memory until iterated.

    Attributes
    ----------
    estate : Estate
        The simulated estate.
    start, end : datetime.datetime
        The published window, tz-aware UTC.
    interval_minutes : int
        Reading interval of every sensor. [min]
    faults_enabled : bool
        Whether sensor faults were injected.
    prefix : str
        Topic prefix.
    devices : list of Device
        The sensors, in estate order.
    readings : SensorReadings
        Every reading slot of every device (values, stamps, what became of it).
    window : PhysicsResult
        True room conditions over the window's whole UTC days, at the physics step.
    mould_index : numpy.ndarray
        Hourly VTT index (``sensitive``) at each indoor room's cold spot, from the
        start of the spin-up, shape ``(n_rooms, n_hours)``; rows as ``window.rooms``.
    surface_temperature_hourly, surface_rh_hourly : numpy.ndarray
        The hourly cold-spot temperature [°C] and RH [%] the index was computed from.
    mould_hours_s : numpy.ndarray
        End of each of those hours, UTC epoch seconds.
    window_hours : slice
        The hours (columns) inside the window.
    """

    estate: Estate
    start: dt.datetime
    end: dt.datetime
    interval_minutes: int
    faults_enabled: bool
    prefix: str
    devices: list[Device]
    readings: sensors.SensorReadings
    window: PhysicsResult
    mould_index: np.ndarray  # (n_rooms, n_hours) from the spin-up start
    surface_temperature_hourly: np.ndarray  # (n_rooms, n_hours) cold-spot hourly means [°C]
    surface_rh_hourly: np.ndarray  # (n_rooms, n_hours) cold-spot hourly means [%]
    mould_hours_s: np.ndarray  # end of each mould-index hour, UTC epoch seconds
    window_hours: slice  # hours of mould_index inside the window

    def __repr__(self) -> str:
        return (
            f"<Simulation seed={self.estate.seed} homes={len(self.estate.homes)} devices={len(self.devices)} "
            f"{self.start.isoformat()}..{self.end.isoformat()} every {self.interval_minutes} min "
            f"faults={'on' if self.faults_enabled else 'off'}>"
        )

    # -- messages ------------------------------------------------------------------------------------
    @functools.cached_property
    def _topics(self) -> list[str]:
        return [f"{self.prefix}/{d.device_id}/up" for d in self.devices]

    @functools.cached_property
    def _batches(self) -> dict[tuple[int, int], list[bytes]]:
        """Batch payloads keyed by (device, slot at which it was sent)."""
        r = self.readings
        out: dict[tuple[int, int], list[int]] = {}  # slots of the readings in each batch
        for d, k in zip(*np.nonzero(r.status == sensors.BUFFERED), strict=True):
            out.setdefault((int(d), int(r.batch_at[d, k])), []).append(int(k))
        payloads = {}
        for (d, back), slots in out.items():
            slots_arr = np.asarray(slots)
            stamps = sensors.iso_z(r.ts_s[d, slots_arr])
            items = [
                sensors.reading_json(ts, t, h, b, q)
                for ts, t, h, b, q in zip(
                    stamps,
                    r.temperature_c[d, slots_arr].tolist(),
                    r.humidity_pct[d, slots_arr].tolist(),
                    r.battery_v[d, slots_arr].tolist(),
                    r.seq[d, slots_arr].tolist(),
                    strict=True,
                )
            ]
            payloads[(d, back)] = sensors.batch_payloads(items)
        return payloads

    def _chunks(self) -> Iterator[tuple[list[str], list[bytes], list[int]]]:
        """Messages in publish order, a day's worth at a time: topics, payloads, publish times (epoch s)."""
        r = self.readings
        n_dev, n_read = r.status.shape
        order = np.argsort(r.taken_s[:, 0], kind="stable")  # devices by phase
        rank = np.empty(n_dev, dtype=np.int64)
        rank[order] = np.arange(n_dev)
        topics = self._topics
        # Batches are sent just before the device's reading at the slot where it came back.
        batch_keys = sorted((back * n_dev + int(rank[d]), d, back) for d, back in self._batches)
        publishable = np.isin(r.status, sensors.PUBLISHED_LIVE)
        dates: dict[int, str] = {}
        clock = _clock_strings()
        # Values are whole hundredths: print them through tables of Python's shortest float text.
        t_idx, t_text = _hundredths(r.temperature_c)
        h_idx, h_text = _hundredths(r.humidity_pct)
        b_idx, b_text = _hundredths(r.battery_v)
        for k0 in range(0, n_read, _CHUNK_READINGS):
            k1 = min(n_read, k0 + _CHUNK_READINGS)
            # Chronological: slot, then device phase; a duplicate right after its original.
            keep = publishable[order, k0:k1].T
            slot_m = np.broadcast_to(np.arange(k0, k1)[:, None], keep.shape)[keep]
            dev_m = np.broadcast_to(order[None, :], keep.shape)[keep]
            repeat = 1 + r.duplicate[dev_m, slot_m]
            slot_m = np.repeat(slot_m, repeat)
            dev_m = np.repeat(dev_m, repeat)
            ts = r.ts_s[dev_m, slot_m]
            day = ts // 86400
            for d in np.unique(day).tolist():
                if d not in dates:
                    dates[d] = str(np.datetime64(d, "D"))
            payloads = [
                f'{{"ts": "{dates[dd]}T{clock[sec]}Z", "temperature_c": {t_text[t]}, "humidity_pct": {h_text[h]}, '
                f'"battery_v": {b_text[b]}, "seq": {q}}}'.encode()
                for dd, sec, t, h, b, q in zip(
                    day.tolist(),
                    (ts % 86400).tolist(),
                    t_idx[dev_m, slot_m].tolist(),
                    h_idx[dev_m, slot_m].tolist(),
                    b_idx[dev_m, slot_m].tolist(),
                    r.seq[dev_m, slot_m].tolist(),
                    strict=True,
                )
            ]
            dev_list = dev_m.tolist()
            chunk_topics = [topics[d] for d in dev_list]
            times = r.taken_s[dev_m, slot_m].tolist()
            due = [b for b in batch_keys if k0 <= b[2] < k1]
            if due:
                keys = slot_m * n_dev + rank[dev_m]
                spliced_topics: list[str] = []
                spliced_payloads: list[bytes] = []
                spliced_times: list[int] = []
                prev = 0
                for key, d, back in due:
                    pos = int(np.searchsorted(keys, key, side="left"))
                    spliced_topics += chunk_topics[prev:pos]
                    spliced_payloads += payloads[prev:pos]
                    spliced_times += times[prev:pos]
                    batch = self._batches[(d, back)]
                    spliced_topics += [topics[d]] * len(batch)
                    spliced_payloads += batch
                    spliced_times += [int(r.taken_s[d, back])] * len(batch)
                    prev = pos
                chunk_topics = spliced_topics + chunk_topics[prev:]
                payloads = spliced_payloads + payloads[prev:]
                times = spliced_times + times[prev:]
            yield chunk_topics, payloads, times

    def iter_messages(self) -> Iterator[tuple[str, bytes]]:
        """Every MQTT message as ``(topic, payload)``, in publish order.

        Within a reading interval devices publish in the order of their phase;
        a device back from an offline spell sends its batch(es) just before its
        first reading after the spell; a duplicate follows its original at
        once. Payloads are generated a day at a time, so memory stays small.
        """
        for chunk_topics, payloads, _ in self._chunks():
            yield from zip(chunk_topics, payloads, strict=True)

    def iter_timed_messages(self) -> Iterator[tuple[str, bytes, dt.datetime]]:
        """Every message as ``(topic, payload, published_at)``; ``published_at`` is the simulated UTC time."""
        for chunk_topics, payloads, times in self._chunks():
            for topic, payload, when in zip(chunk_topics, payloads, times, strict=True):
                yield topic, payload, dt.datetime.fromtimestamp(when, dt.UTC)

    @functools.cached_property
    def message_count(self) -> int:
        """How many messages :meth:`iter_messages` yields."""
        r = self.readings
        live = int(np.isin(r.status, sensors.PUBLISHED_LIVE).sum())
        return live + int(r.duplicate.sum()) + sum(len(p) for p in self._batches.values())

    # -- what a correct ingestor does ------------------------------------------------------------------
    @functools.cached_property
    def expected(self) -> pd.DataFrame:
        """Exactly the readings a correct ingestor stores, one row per ``(device_id, ts)``.

        Columns ``device_id, ts`` (tz-aware UTC), ``temperature_c, humidity_pct,
        battery_v, seq``; sorted by device then time. Duplicates are collapsed,
        dropped readings and glitches are absent, batched readings present.
        """
        r = self.readings
        ids = np.asarray([d.device_id for d in self.devices], dtype=object)
        by_id = np.argsort(ids, kind="stable")
        status = r.status[by_id]
        stored = (status == sensors.LIVE) | (status == sensors.BUFFERED)
        pos, slot = np.nonzero(stored)  # row-major: by device id, then slot (time order within a device)
        dev = by_id[pos]
        return pd.DataFrame(
            {
                "device_id": ids[dev],
                "ts": pd.to_datetime(r.ts_s[dev, slot], unit="s", utc=True),
                "temperature_c": r.temperature_c[dev, slot],
                "humidity_pct": r.humidity_pct[dev, slot],
                "battery_v": r.battery_v[dev, slot],
                "seq": r.seq[dev, slot].astype(np.int64),
            }
        )

    @functools.cached_property
    def expected_rejections(self) -> dict[str, int]:
        """Readings a correct ingestor dead-letters, by reason code."""
        status = self.readings.status
        return {reason: int((status == code).sum()) for code, reason in sensors.REJECTION_REASONS.items()}

    @functools.cached_property
    def faults(self) -> pd.DataFrame:
        """The faults injected, one row per fault (device_id, kind, first_seq, readings, detail)."""
        return pd.DataFrame(
            [dataclasses.asdict(f) for f in self.readings.faults],
            columns=["device_id", "kind", "first_seq", "readings", "detail"],
        )

    # -- ground truth ----------------------------------------------------------------------------------
    @functools.cached_property
    def truth(self) -> pd.DataFrame:
        """Ground truth per room; see :func:`simulator.truth.truth_frame`."""
        return build_truth(self)

    def room_series(self, uprn: str, room_slug: str) -> pd.DataFrame:
        """True air and cold-spot conditions of one room over the window, at the physics step.

        Returns
        -------
        pandas.DataFrame
            Indexed by the UTC end of each step: ``temperature_c``,
            ``humidity_pct``, ``vapour_density_g_m3``, ``surface_temperature_c``,
            ``surface_rh_pct``, ``outdoor_temperature_c``, ``outdoor_humidity_pct``.
        """
        w = self.window
        row = w.rooms.index[(uprn, room_slug)]
        times = pd.to_datetime(self.window_step_end_s, unit="s", utc=True)
        site = w.rooms.site[row]
        temp_out = w.temp_out_c[site].astype(float)
        temp = w.temp_air_c[row].astype(float)
        rh = w.rh_air_pct()[row]
        f_rsi = w.rooms.f_rsi[row]
        return pd.DataFrame(
            {
                "temperature_c": temp,
                "humidity_pct": rh,
                "vapour_density_g_m3": w.vapour_density_g_m3[row].astype(float),
                "surface_temperature_c": physics.surface_temperature(temp, temp_out, f_rsi),
                "surface_rh_pct": physics.surface_relative_humidity(temp, rh, temp_out, f_rsi),
                "outdoor_temperature_c": temp_out,
                "outdoor_humidity_pct": w.rh_out_pct[site].astype(float),
            },
            index=pd.DatetimeIndex(times, name="ts"),
        )

    @property
    def window_step_end_s(self) -> np.ndarray:
        """End of every physics step of the window segment, UTC epoch seconds."""
        w = self.window
        return int(w.origin.timestamp()) + (np.arange(w.n_steps, dtype=np.int64) + 1) * w.step_minutes * 60


def _hundredths(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Indices into a table of texts such that ``table[index] == repr(value)`` for values rounded to 0.01."""
    cents = np.rint(values * 100.0).astype(np.int64)
    low = int(cents.min())
    table = [repr(k / 100) for k in range(low, int(cents.max()) + 1)]
    return cents - low, table


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _midnight(value: dt.datetime) -> dt.datetime:
    return dt.datetime.combine(value.date(), dt.time(0), tzinfo=dt.UTC)


def simulate(
    estate: Estate,
    start: dt.datetime,
    days: float = 30,
    interval_minutes: int = 10,
    faults: bool = True,
    prefix: str = "dampwatch",
    spinup_days: int = DEFAULT_SPINUP_DAYS,
) -> Simulation:
    """Simulate the estate's rooms and sensors over ``[start, start + days)``.

    Parameters
    ----------
    estate : Estate
        From :func:`simulator.build_estate`.
    start : datetime.datetime
        Start of the published window (naive values are taken as UTC). Keep the
        window in the past: the ingestor rejects readings more than 10 minutes
        ahead of its clock.
    days : float, default 30
        Length of the window. [d]
    interval_minutes : int, default 10
        Reading interval of every sensor; must divide a day. [min]
    faults : bool, default True
        Inject sensor faults (drops, offline spells, duplicates, stuck
        sensors, glitches, clock skew).
    prefix : str, default "dampwatch"
        Topic prefix: messages go to ``<prefix>/<device_id>/up``.
    spinup_days : int, default 60
        Days of physics before the window, so the mould index has a history.

    Returns
    -------
    Simulation
    """
    start = _utc(start).replace(microsecond=0)
    if days <= 0:
        raise ValueError(f"days must be greater than 0; got {days}")
    if spinup_days < 0:
        raise ValueError(f"spinup_days must be at least 0; got {spinup_days}")
    step = physics_step_minutes(interval_minutes)
    if not prefix.strip("/") or any(c in prefix for c in "+#"):
        raise ValueError(
            f"prefix must be a topic prefix without wildcards, such as 'dampwatch'; got {prefix!r}"
        )
    prefix = prefix.strip("/")
    end = start + dt.timedelta(days=days)
    now = dt.datetime.now(dt.UTC)
    if end > now:
        logger.warning(
            "the window ends %s, after now (%s): an ingestor will reject readings stamped more than "
            "10 minutes ahead of its clock as future_timestamp",
            end.isoformat(),
            now.isoformat(timespec="seconds"),
        )
    interval_s = interval_minutes * 60
    n_read = max(1, round(days * MINUTES_PER_DAY / interval_minutes))

    # Physics: a coarse spin-up, then the window at the fine step, both on whole UTC days.
    fine_origin = _midnight(start)
    spin_origin = fine_origin - dt.timedelta(days=spinup_days)
    last_reading = start + dt.timedelta(seconds=(n_read - 1) * interval_s + interval_s)
    fine_days = max(1, math.ceil((last_reading - fine_origin).total_seconds() / 86400.0))
    weather_t, weather_rh = outdoor_weather(estate, spin_origin, spinup_days + fine_days, step)
    rooms = room_table(estate)
    split = spinup_days * MINUTES_PER_DAY // step
    state = None
    hourly_t, hourly_rh = [], []
    if spinup_days:
        coarse = SPINUP_STEP_MINUTES // step
        n_coarse = split // coarse
        t_c = weather_t[:, :split].reshape(len(estate.sites), n_coarse, coarse).mean(axis=2)
        rh_c = weather_rh[:, :split].reshape(len(estate.sites), n_coarse, coarse).mean(axis=2)
        spin = run_physics(estate, spin_origin, spinup_days, SPINUP_STEP_MINUTES, t_c, rh_c, rooms=rooms)
        state = spin.final_state
        hourly_t.append(spin.hourly_mean(spin.surface_temperature_c()))
        hourly_rh.append(spin.hourly_mean(spin.surface_rh_pct()))
        del spin
    window = run_physics(
        estate, fine_origin, fine_days, step, weather_t[:, split:], weather_rh[:, split:], state, rooms=rooms
    )
    hourly_t.append(window.hourly_mean(window.surface_temperature_c()))
    hourly_rh.append(window.hourly_mean(window.surface_rh_pct()))
    surface_t = np.concatenate(hourly_t, axis=1)
    surface_rh = np.concatenate(hourly_rh, axis=1)
    mould = vtt_mould_index(surface_t, surface_rh, TRUTH_SENSITIVITY)
    hour_end_s = int(spin_origin.timestamp()) + (np.arange(mould.shape[1], dtype=np.int64) + 1) * 3600
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    first_hour = int(np.searchsorted(hour_end_s, start_s, side="right"))  # first hour ending after start
    last_hour = int(np.searchsorted(hour_end_s, end_s, side="right"))  # hours ending at or before end
    window_hours = slice(first_hour, max(first_hour + 1, last_hour))

    # Sensors.
    devices = _devices(estate, rooms)
    n_dev = len(devices)
    rng = np.random.default_rng([estate.seed, 4, int(start.timestamp()) % 2**63, n_read, interval_minutes])
    phase_s = rng.integers(0, interval_s, n_dev)
    taken_s = (
        int(start.timestamp()) + phase_s[:, None] + np.arange(n_read, dtype=np.int64)[None, :] * interval_s
    )
    step_s = step * 60
    fine_origin_s = int(fine_origin.timestamp())
    step_index = np.clip(
        np.round((taken_s - fine_origin_s) / step_s).astype(np.int64) - 1, 0, window.n_steps - 1
    )
    rows = np.array([d.row for d in devices])
    sites = np.array([d.site for d in devices])
    indoor = rows >= 0
    rh_air = window.rh_air_pct()
    true_t = np.where(
        indoor[:, None],
        window.temp_air_c[np.maximum(rows, 0)[:, None], step_index],
        window.temp_out_c[sites[:, None], step_index],
    ).astype(float)
    true_h = np.where(
        indoor[:, None],
        rh_air[np.maximum(rows, 0)[:, None], step_index],
        window.rh_out_pct[sites[:, None], step_index],
    ).astype(float)
    del rh_air
    elapsed_days = np.arange(n_read) * interval_minutes / MINUTES_PER_DAY
    temperature, humidity, battery = sensors.measure(rng, true_t, true_h, elapsed_days)
    seq0 = rng.integers(1, 50_000, n_dev)
    readings = sensors.SensorReadings(
        device_ids=[d.device_id for d in devices],
        taken_s=taken_s,
        ts_s=taken_s.copy(),
        temperature_c=temperature,
        humidity_pct=humidity,
        battery_v=battery,
        seq=seq0[:, None] + np.arange(n_read, dtype=np.int64)[None, :],
        status=np.zeros((n_dev, n_read), dtype=np.int8),
        duplicate=np.zeros((n_dev, n_read), dtype=bool),
        batch_at=np.full((n_dev, n_read), -1, dtype=np.int64),
        faults=[],
    )
    if faults:
        sensors.inject_faults(rng, readings, interval_minutes)
    sim = Simulation(
        estate=estate,
        start=start,
        end=end,
        interval_minutes=interval_minutes,
        faults_enabled=faults,
        prefix=prefix,
        devices=devices,
        readings=readings,
        window=window,
        mould_index=mould,
        surface_temperature_hourly=surface_t,
        surface_rh_hourly=surface_rh,
        mould_hours_s=hour_end_s,
        window_hours=window_hours,
    )
    logger.info(
        "simulated %d homes, %d sensors, %d readings each from %s (%d faults)",
        len(estate.homes),
        n_dev,
        n_read,
        start.isoformat(),
        len(readings.faults),
    )
    return sim


def _devices(estate: Estate, rooms) -> list[Device]:
    site_index = {site.name: s for s, site in enumerate(estate.sites)}
    out = []
    for device_id, home, room in estate.devices:
        row = rooms.index.get((home.uprn, room.slug), -1) if room.indoor else -1
        out.append(Device(device_id, home.uprn, room.name, room.room_type, row, site_index[home.site]))
    return out


def write_readings_csv(sim: Simulation, path: str | Path) -> Path:
    """Write :attr:`Simulation.expected` in long format.

    Parameters
    ----------
    sim : Simulation
        A finished simulation.
    path : str or pathlib.Path
        Where to write.

    Returns
    -------
    pathlib.Path
        The path written; header :data:`READINGS_CSV_COLUMNS`, ``ts`` as
        ISO 8601 with ``Z``, values as the sensors sent them.
    """
    path = Path(path)
    frame = sim.expected
    epoch_s = ((frame["ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy()
    stamps = sensors.iso_z(epoch_s)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(READINGS_CSV_COLUMNS)
        writer.writerows(
            zip(
                frame["device_id"].tolist(),
                stamps,
                frame["temperature_c"].tolist(),
                frame["humidity_pct"].tolist(),
                frame["battery_v"].tolist(),
                frame["seq"].tolist(),
                strict=True,
            )
        )
    logger.info("wrote %d readings to %s", len(frame), path)
    return path
