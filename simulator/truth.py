"""Ground truth of a simulated estate: the VTT mould index at each cold spot and the labels a risk model is judged on.

:func:`vtt_mould_index` is written straight from ``shared/SCIENCE.md`` (hourly
explicit Euler); ``analytics`` has its own implementation and a test compares
the two. :func:`truth_frame` turns a finished simulation into one row per room;
:func:`write_truth_csv` writes it.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simulator import constants as C

if TYPE_CHECKING:
    from simulator.run import Simulation

logger = logging.getLogger(__name__)

#: Material class used for the ground truth: painted plaster and plasterboard.
TRUTH_SENSITIVITY = "sensitive"

#: Columns of :func:`truth_frame` and the truth CSV, in order.
TRUTH_COLUMNS = (
    "uprn",
    "room",
    "room_type",
    "device_id",
    "cause",
    "damp_prone",
    "f_rsi",
    "fan_working",
    "setpoint_c",
    "mould_index_end",
    "mould_index_max",
    "hours_surface_rh_over_80",
    "mean_temperature_c",
    "mean_humidity_pct",
    "mean_surface_rh_pct",
    "property_damp_prone",
    "property_cause",
    "driver_room",
    "property_cause_form",
)


def _sensitivity(name: str) -> C.VTTSensitivity:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return C.VTT_SENSITIVITY[key]
    except KeyError:
        known = ", ".join(sorted(C.VTT_SENSITIVITY))
        raise ValueError(f"unknown sensitivity class {name!r}; use one of: {known}") from None


def vtt_critical_humidity(temp_air, sensitivity: str = "sensitive"):
    """Critical relative humidity for mould growth in the VTT model.

    Parameters
    ----------
    temp_air : numeric
        Surface temperature, 0 °C or above. [°C]
    sensitivity : str, default "sensitive"
        Material class: very_sensitive, sensitive, medium_resistant or resistant.

    Returns
    -------
    numeric
        ``RH_crit = max(−0.00267 T³ + 0.160 T² − 3.13 T + 100, RH_min)``. [%]

    Notes
    -----
    Hukka and Viitanen (1999) [1]; RH_min from Ojanen et al. (2010) [2].
    RH_crit(20 °C) = 80.04 %, RH_crit(5 °C) = 88.02 %.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. (1999). Wood Sci. Technol. 33, 475-485.
       doi:10.1007/s002260050131
    .. [2] Ojanen, T. et al. (2010). Mould growth modeling of building structures
       using sensitivity classes of materials. Proc. Buildings XI.
    """
    params = _sensitivity(sensitivity)
    poly = -0.00267 * temp_air**3 + 0.160 * temp_air**2 - 3.13 * temp_air + 100.0
    return np.maximum(poly, params.rh_min_pct)


def vtt_mould_index(
    temp_air,
    rh,
    sensitivity: str = "sensitive",
    decline_coefficient: float = 1.0,
    initial_index=0.0,
) -> np.ndarray:
    """Hourly VTT mould index from surface temperature and relative humidity.

    Parameters
    ----------
    temp_air : array_like
        Hourly surface temperature, time on the last axis (1-D for one
        surface, 2-D for many). [°C]
    rh : array_like
        Hourly surface relative humidity, same shape. [%]
    sensitivity : str, default "sensitive"
        Material class: very_sensitive, sensitive, medium_resistant or resistant
        (spaces or hyphens are accepted in place of underscores).
    decline_coefficient : float, default 1.0
        Material decline coefficient C_mat (1 for the original model; 0.5,
        0.25 or 0.1 for materials that lose mould more slowly).
    initial_index : numeric, default 0.0
        Mould index before the first hour (per surface when 2-D), 0-6.

    Returns
    -------
    numpy.ndarray
        Mould index at the end of each hour, same shape as the input.

    Raises
    ------
    ValueError
        For an unknown class, mismatched shapes, or a missing (NaN) hour:
        fill or drop gaps before computing the index.

    Notes
    -----
    Hour ``h`` is favourable when ``0 < T < 50`` and ``RH ≥ RH_crit(T)``
    (:func:`vtt_critical_humidity`). Then

    ``dM/dt = k1 k2 / (7 exp(−0.68 ln T − 13.9 ln RH + 66.02))`` per day,

    with ``k1`` set by ``M`` at the start of the hour (below 1 or not),
    ``k2 = max(1 − exp(2.3 (M − M_max)), 0)``,
    ``M_max = max(A + B x − C x², 0)`` and ``x = (RH_crit − RH)/(RH_crit − 100)``.
    In unfavourable hours ``M`` declines by 0.032/day during the first 6 hours
    of the dry spell, not at all in hours 7-24 and by 0.016/day from hour 25,
    each times ``decline_coefficient``; the spell count runs on while ``M`` is 0
    and any favourable hour restarts it. An unfavourable first hour of the
    series is taken as the first hour of a dry spell. Explicit Euler, one hour at a time
    (the per-day rates are divided by 24): ``M[h+1] = max(0, M[h] + ΔM)``.
    At 20 °C, 90 % and M = 0 on a very sensitive material dM/dt = 0.03399/day.

    References
    ----------
    .. [1] Hukka, A. and Viitanen, H. (1999). A mathematical model of mould
       growth on wooden material. Wood Sci. Technol. 33, 475-485.
       doi:10.1007/s002260050131
    .. [2] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and
       Salminen, K. (2010). Mould growth modeling of building structures using
       sensitivity classes of materials. Proc. Buildings XI, ASHRAE.
    """
    params = _sensitivity(sensitivity)
    temp = np.asarray(temp_air, dtype=float)
    hum = np.asarray(rh, dtype=float)
    if temp.shape != hum.shape:
        raise ValueError(f"temp_air and rh must have the same shape; got {temp.shape} and {hum.shape}")
    if temp.ndim == 0:
        raise ValueError("temp_air and rh must be hourly series (at least one dimension), not scalars")
    if np.isnan(temp).any() or np.isnan(hum).any():
        raise ValueError(
            "temp_air and rh contain NaN: fill or drop missing hours before computing the mould index"
        )
    if decline_coefficient < 0:
        raise ValueError(f"decline_coefficient must be at least 0; got {decline_coefficient}")

    t_low, t_high = C.VTT_TEMPERATURE_RANGE_C
    rh_crit = vtt_critical_humidity(temp, sensitivity)
    favourable = (temp > t_low) & (temp < t_high) & (hum >= rh_crit)
    # Growth rate per hour with k1 = k2 = 1, only where favourable (logs of safe values elsewhere).
    safe_t = np.where(favourable, temp, 1.0)
    safe_rh = np.where(favourable, hum, 100.0)
    base_per_h = np.where(
        favourable,
        1.0 / (7.0 * np.exp(-0.68 * np.log(safe_t) - 13.9 * np.log(safe_rh) + 66.02)) / 24.0,
        0.0,
    )
    x = np.where(favourable, (rh_crit - safe_rh) / np.where(favourable, rh_crit - 100.0, -1.0), 0.0)
    m_max = np.maximum(params.a + params.b * x - params.c * x**2, 0.0)

    decline_first, decline_mid, decline_late = (r / 24.0 * decline_coefficient for r in C.VTT_DECLINE_PER_DAY)
    first_hours, mid_hours = C.VTT_DECLINE_HOURS

    n_hours = temp.shape[-1]
    out = np.empty(temp.shape)
    m = np.broadcast_to(np.asarray(initial_index, dtype=float), temp.shape[:-1]).copy()
    if np.any(m < 0) or np.any(m > 6):
        raise ValueError("initial_index must be between 0 and 6")
    dry_hours = np.zeros(temp.shape[:-1], dtype=np.int64)
    for h in range(n_hours):
        fav = favourable[..., h]
        k1 = np.where(m < 1.0, params.k1_below_1, params.k1_from_1)
        k2 = np.maximum(1.0 - np.exp(2.3 * (m - m_max[..., h])), 0.0)
        growth = k1 * k2 * base_per_h[..., h]
        dry_hours = np.where(fav, 0, dry_hours + 1)
        decline = np.where(
            dry_hours <= first_hours,
            decline_first,
            np.where(dry_hours <= mid_hours, decline_mid, decline_late),
        )
        m = np.maximum(0.0, m + np.where(fav, growth, decline))
        out[..., h] = m
    return out


def build_truth(sim: Simulation) -> pd.DataFrame:
    """One row per room of the estate with its hidden condition and true mould state.

    Parameters
    ----------
    sim : Simulation
        A finished simulation.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRUTH_COLUMNS`, one row per room (outdoor rows included,
        with no surface values). ``cause`` is the home's cause where the room is
        affected by it, else ``none``. ``mould_index_end`` and
        ``mould_index_max`` are the VTT index (``sensitive`` material) at the
        room's cold spot at the end of the window and its maximum within it;
        ``hours_surface_rh_over_80`` counts window hours whose mean cold-spot RH
        exceeds 80 %; the means are over the window. ``driver_room`` is the
        indoor room with a sensor whose mould index peaks highest in the window
        (ties broken by hours over 80 %).
    """
    w = sim.window
    rooms = w.rooms
    hours = sim.window_hours
    mould = sim.mould_index[:, hours]
    surface_rh = sim.surface_rh_hourly[:, hours].astype(float)
    step_end = sim.window_step_end_s
    in_window = (step_end > int(sim.start.timestamp())) & (step_end <= int(sim.end.timestamp()))
    if not in_window.any():
        in_window[:] = True
    mean_t = w.temp_air_c[:, in_window].astype(float).mean(axis=1)
    mean_rh = w.rh_air_pct()[:, in_window].mean(axis=1)
    records = []
    for home in sim.estate.homes:
        rows = []
        for room in home.rooms:
            r = rooms.index.get((home.uprn, room.slug), -1) if room.indoor else -1
            indoor = r >= 0
            rows.append(
                {
                    "uprn": home.uprn,
                    "room": room.name,
                    "room_type": room.room_type,
                    "device_id": room.device_id,
                    "cause": home.cause if room.damp_prone else "none",
                    "damp_prone": room.damp_prone,
                    "f_rsi": room.f_rsi,
                    "fan_working": room.fan_working,
                    "setpoint_c": room.setpoint_c,
                    "mould_index_end": float(mould[r, -1]) if indoor else np.nan,
                    "mould_index_max": float(mould[r].max()) if indoor else np.nan,
                    "hours_surface_rh_over_80": int((surface_rh[r] > C.MOULD_SURFACE_RH_PCT).sum())
                    if indoor
                    else None,
                    "mean_temperature_c": float(mean_t[r]) if indoor else np.nan,
                    "mean_humidity_pct": float(mean_rh[r]) if indoor else np.nan,
                    "mean_surface_rh_pct": float(surface_rh[r].mean()) if indoor else np.nan,
                    "property_damp_prone": home.damp_prone,
                    "property_cause": home.cause,
                    "property_cause_form": home.behaviour.form,
                }
            )
        candidates = [row for row in rows if row["device_id"] and row["room_type"] != "outdoor"]
        driver = max(candidates, key=lambda row: (row["mould_index_max"], row["hours_surface_rh_over_80"]))
        for row in rows:
            row["driver_room"] = driver["room"]
        records.extend(rows)
    frame = pd.DataFrame.from_records(records, columns=list(TRUTH_COLUMNS))
    frame["hours_surface_rh_over_80"] = frame["hours_surface_rh_over_80"].astype("Int64")
    return frame


def truth_frame(sim: Simulation) -> pd.DataFrame:
    """The ground truth of a simulation (:attr:`Simulation.truth`, built by :func:`build_truth`)."""
    return sim.truth


def write_truth_csv(sim: Simulation, path: str | Path) -> Path:
    """Write the ground truth, one row per room with property columns repeated.

    Parameters
    ----------
    sim : Simulation
        A finished simulation.
    path : str or pathlib.Path
        Where to write the CSV.

    Returns
    -------
    pathlib.Path
        The path written. Booleans are ``true``/``false``; unknown or not
        applicable values are blank; numbers have 4 decimals at most.
    """
    path = Path(path)
    frame = sim.truth
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        for row in frame.itertuples(index=False):
            writer.writerow([_cell(getattr(row, name)) for name in TRUTH_COLUMNS])
    logger.info("wrote the ground truth for %d rooms to %s", len(frame), path)
    return path


def _cell(value: object) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return f"{float(value):.4f}".rstrip("0").rstrip(".") if value != 0 else "0"
    return str(value)
