"""Psychrometrics, room heat and moisture balances, and UK outdoor weather, vectorised with numpy.

Every function takes floats, numpy arrays or pandas Series (it uses numpy
ufuncs throughout) and returns the same kind of thing. No I/O and no logging
here: this module is the physics the rest of the simulator composes.

Units are SI with temperatures in °C: vapour pressures in Pa, absolute humidity
(vapour density) in g/m³, volumes in m³, air change rates in 1/h, moisture
generation in g/h, time steps in hours.

References
----------
.. [1] WMO (2018). Guide to Instruments and Methods of Observation (WMO-No. 8),
   Annex 4.B.
.. [2] BS EN ISO 13788:2012, clauses 4 and 5 (temperature factor, surface humidity).
.. [3] CIBSE Guide A (2015), section 4: moisture balance of a ventilated space,
   ``V dc/dt = G − n V (c − c_e)``.
"""

from __future__ import annotations

import numpy as np

from simulator import constants as C


def saturation_vapour_pressure(temp_air, coeff: C.MagnusCoefficients = C.MAGNUS_WMO_WATER):
    """Saturation vapour pressure over a flat surface of water.

    Parameters
    ----------
    temp_air : numeric
        Air (or surface) temperature. [°C]
    coeff : MagnusCoefficients, default MAGNUS_WMO_WATER
        Magnus coefficients; ``MAGNUS_WMO_ICE`` for saturation over ice.

    Returns
    -------
    numeric
        Saturation vapour pressure. [Pa]

    Notes
    -----
    ``e_s(t) = 611.2 exp(17.62 t / (243.12 + t))`` (WMO-No. 8, Sonntag 1990) [1],
    valid from about -45 to 60 °C. It is 0.1-0.3 % below IAPWS-IF97 between 0
    and 35 °C (e_s(20 °C) = 2337 Pa against 2339.21 Pa).
    """
    return coeff.a_pa * np.exp(coeff.b * temp_air / (coeff.c_c + temp_air))


def vapour_pressure(temp_air, relative_humidity):
    """Partial pressure of water vapour in moist air.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    relative_humidity : numeric
        Relative humidity over water. [%]

    Returns
    -------
    numeric
        Vapour pressure ``e = RH/100 · e_s(t)``. [Pa]
    """
    return relative_humidity / 100.0 * saturation_vapour_pressure(temp_air)


def relative_humidity_from_vapour_pressure(temp_air, vapour_pressure_pa):
    """Relative humidity of air (or at a surface) with a given vapour pressure.

    Parameters
    ----------
    temp_air : numeric
        Air or surface temperature. [°C]
    vapour_pressure_pa : numeric
        Vapour pressure. [Pa]

    Returns
    -------
    numeric
        Relative humidity ``100 e / e_s(t)``, not capped. [%]
    """
    return 100.0 * vapour_pressure_pa / saturation_vapour_pressure(temp_air)


def dewpoint(temp_air, relative_humidity):
    """Dew point temperature from the Magnus form.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    relative_humidity : numeric
        Relative humidity, greater than 0. [%]

    Returns
    -------
    numeric
        Dew point. [°C]

    Notes
    -----
    ``Td = c γ / (b − γ)`` with ``γ = ln(RH/100) + b t / (c + t)`` [1].
    20 °C and 50 % give 9.255 °C.
    """
    coeff = C.MAGNUS_WMO_WATER
    gamma = np.log(relative_humidity / 100.0) + coeff.b * temp_air / (coeff.c_c + temp_air)
    return coeff.c_c * gamma / (coeff.b - gamma)


def absolute_humidity(temp_air, relative_humidity):
    """Water vapour density (absolute humidity) of moist air.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    relative_humidity : numeric
        Relative humidity. [%]

    Returns
    -------
    numeric
        Vapour density ``ρ_v = 2.1668 e / T``. [g/m³]

    Notes
    -----
    From the ideal gas law with R_v = 461.5 J/(kg·K); 20 °C and 50 % give 8.62 g/m³.
    """
    return (
        C.ABSOLUTE_HUMIDITY_FACTOR_G_K_PER_M3_PA
        * vapour_pressure(temp_air, relative_humidity)
        / (temp_air + C.ZERO_CELSIUS_K)
    )


def saturation_absolute_humidity(temp_air):
    """Vapour density of saturated air, the most a room's air can hold.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]

    Returns
    -------
    numeric
        Saturation vapour density. [g/m³]
    """
    return absolute_humidity(temp_air, 100.0)


def relative_humidity_from_absolute_humidity(temp_air, absolute_humidity_g_m3):
    """Relative humidity of air with a given vapour density.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    absolute_humidity_g_m3 : numeric
        Vapour density. [g/m³]

    Returns
    -------
    numeric
        Relative humidity, not capped. [%]

    Notes
    -----
    At constant vapour density, RH falls as the temperature rises.
    """
    return 100.0 * absolute_humidity_g_m3 / saturation_absolute_humidity(temp_air)


def surface_temperature(temp_in, temp_out, f_rsi):
    """Temperature of the coldest internal surface (the cold spot).

    Parameters
    ----------
    temp_in : numeric
        Room air temperature θ_i. [°C]
    temp_out : numeric
        Outdoor air temperature θ_e. [°C]
    f_rsi : numeric
        Temperature factor at the internal surface, 0-1. [-]

    Returns
    -------
    numeric
        Surface temperature ``θ_si = θ_e + f_Rsi (θ_i − θ_e)``. [°C]

    Notes
    -----
    BS EN ISO 13788 [2]. Dwellings are designed to f_Rsi ≥ 0.75; thermal bridges
    and uninsulated solid walls sit at 0.45-0.6.
    """
    return temp_out + f_rsi * (temp_in - temp_out)


def surface_relative_humidity(temp_in, relative_humidity_in, temp_out, f_rsi):
    """Relative humidity at the cold spot, capped at 100 % (condensation).

    Parameters
    ----------
    temp_in : numeric
        Room air temperature. [°C]
    relative_humidity_in : numeric
        Room air relative humidity. [%]
    temp_out : numeric
        Outdoor air temperature. [°C]
    f_rsi : numeric
        Temperature factor of the cold spot. [-]

    Returns
    -------
    numeric
        Surface relative humidity ``φ_s = e / e_s(θ_si)``. [%]

    Notes
    -----
    The surface sees the room's vapour pressure at its own, lower, temperature
    [2]. 20 °C in, 10 °C out, 50 % and f_Rsi 0.5 give 68.5 %.
    """
    theta_si = surface_temperature(temp_in, temp_out, f_rsi)
    phi = relative_humidity_from_vapour_pressure(theta_si, vapour_pressure(temp_in, relative_humidity_in))
    return np.minimum(phi, 100.0)


def relax(value, target, rate_per_h, dt_h):
    """Exact step of first-order relaxation ``dx/dt = rate (target − x)`` over ``dt_h``.

    Parameters
    ----------
    value : numeric
        Value at the start of the step.
    target : numeric
        Equilibrium value, constant over the step.
    rate_per_h : numeric
        Relaxation rate (inverse time constant), at least 0. [1/h]
    dt_h : float
        Step length. [h]

    Returns
    -------
    numeric
        Value at the end of the step. Unconditionally stable for any step.
    """
    return target + (value - target) * np.exp(-rate_per_h * dt_h)


def moisture_equilibrium(generation_g_per_h, volume_m3, ach_per_h, supply_g_m3):
    """Vapour density a ventilated room settles at with a steady source.

    Parameters
    ----------
    generation_g_per_h : numeric
        Moisture released into the room. [g/h]
    volume_m3 : numeric
        Room volume. [m³]
    ach_per_h : numeric
        Air changes per hour bringing in supply air, greater than 0. [1/h]
    supply_g_m3 : numeric
        Vapour density of the incoming air. [g/m³]

    Returns
    -------
    numeric
        ``c_eq = c_supply + G / (n V)``. [g/m³]
    """
    return supply_g_m3 + generation_g_per_h / (ach_per_h * volume_m3)


def moisture_step(
    vapour_density_g_m3,
    generation_g_per_h,
    volume_m3,
    ach_per_h,
    supply_g_m3,
    dt_h: float,
):
    """Exact step of a room's moisture balance over ``dt_h`` with constant inputs.

    Parameters
    ----------
    vapour_density_g_m3 : numeric
        Room vapour density at the start of the step. [g/m³]
    generation_g_per_h : numeric
        Moisture released in the room during the step. [g/h]
    volume_m3 : numeric
        Room volume. [m³]
    ach_per_h : numeric
        Total air change rate with the supply air, greater than 0. [1/h]
    supply_g_m3 : numeric
        Vapour density of the supply air (outdoor air, or a mix with the rest
        of the home). [g/m³]
    dt_h : float
        Step length. [h]

    Returns
    -------
    numeric
        Vapour density at the end of the step, before any condensation cap. [g/m³]

    Notes
    -----
    ``dc/dt = G/V − n (c − c_s)`` [3] has the solution
    ``c(t) = c_eq + (c(0) − c_eq) exp(−n t)``, so after a source stops the
    excess over the supply decays with time constant ``1/n``.
    """
    c_eq = moisture_equilibrium(generation_g_per_h, volume_m3, ach_per_h, supply_g_m3)
    return relax(vapour_density_g_m3, c_eq, ach_per_h, dt_h)


def condensation_cap(vapour_density_g_m3, temp_air):
    """Remove vapour beyond saturation (it condenses), so RH never exceeds 100 %.

    Parameters
    ----------
    vapour_density_g_m3 : numeric
        Room vapour density. [g/m³]
    temp_air : numeric
        Room air temperature. [°C]

    Returns
    -------
    numeric
        ``min(c, c_sat(t))``. [g/m³]
    """
    return np.minimum(vapour_density_g_m3, saturation_absolute_humidity(temp_air))


def simulate_moisture(
    temp_air,
    generation_g_per_h,
    volume_m3,
    ach_per_h,
    supply_g_m3,
    dt_h: float,
    initial_g_m3=None,
):
    """Integrate one room's (or many rooms') moisture balance over a time series.

    Parameters
    ----------
    temp_air : array_like
        Room air temperature per step, time on the last axis. [°C]
    generation_g_per_h : array_like
        Moisture generation per step (broadcast to ``temp_air``). [g/h]
    volume_m3 : numeric
        Room volume. [m³]
    ach_per_h : array_like
        Air change rate per step (broadcast to ``temp_air``). [1/h]
    supply_g_m3 : array_like
        Supply air vapour density per step (broadcast to ``temp_air``). [g/m³]
    dt_h : float
        Step length. [h]
    initial_g_m3 : numeric, optional
        Vapour density before the first step; the first step's supply by default. [g/m³]

    Returns
    -------
    vapour_density : numpy.ndarray
        Vapour density at the end of each step, capped at saturation. [g/m³]
    relative_humidity : numpy.ndarray
        Room relative humidity at the end of each step. [%]
    """
    temp_air = np.asarray(temp_air, dtype=float)
    shape = temp_air.shape
    gen = np.broadcast_to(np.asarray(generation_g_per_h, dtype=float), shape)
    ach = np.broadcast_to(np.asarray(ach_per_h, dtype=float), shape)
    supply = np.broadcast_to(np.asarray(supply_g_m3, dtype=float), shape)
    if np.any(ach <= 0):
        raise ValueError("ach_per_h must be greater than 0 at every step: a room always exchanges some air")
    c = np.empty(shape)
    current = supply[..., 0] if initial_g_m3 is None else np.broadcast_to(initial_g_m3, shape[:-1])
    for i in range(shape[-1]):
        current = moisture_step(current, gen[..., i], volume_m3, ach[..., i], supply[..., i], dt_h)
        current = condensation_cap(current, temp_air[..., i])
        c[..., i] = current
    return c, relative_humidity_from_absolute_humidity(temp_air, c)


def uk_climate_temperature(day_of_year, hour_of_day):
    """Climatological UK (Central England) outdoor temperature for a day and hour.

    Parameters
    ----------
    day_of_year : numeric
        Day of the year, 1-366, fractional allowed.
    hour_of_day : numeric
        Local solar hour, 0-24.

    Returns
    -------
    numeric
        Mean temperature for that time of year and day. [°C]

    Notes
    -----
    A sinusoid with annual mean 10.4 °C and amplitude 6.3 K, coldest on 15
    January (HadCET 1991-2020 monthly means are about 4.5 °C in January and
    17 °C in July), plus a daily cycle peaking at 15:00 whose half-range grows
    from 2.5 K in winter to 4 K in summer.
    """
    season = np.cos(2.0 * np.pi * (day_of_year - C.UK_COLDEST_DAY_OF_YEAR) / 365.25)
    mean = C.UK_ANNUAL_MEAN_TEMPERATURE_C - C.UK_ANNUAL_AMPLITUDE_K * season
    daily_amp = (
        C.UK_DAILY_AMPLITUDE_WINTER_K
        + (C.UK_DAILY_AMPLITUDE_SUMMER_K - C.UK_DAILY_AMPLITUDE_WINTER_K) * (1.0 - season) / 2.0
    )
    return mean + daily_amp * np.cos(2.0 * np.pi * (hour_of_day - C.UK_DAILY_PEAK_HOUR) / 24.0)


def uk_climate_relative_humidity(day_of_year, hour_of_day):
    """Climatological UK outdoor relative humidity for a day and hour.

    Parameters
    ----------
    day_of_year : numeric
        Day of the year, 1-366.
    hour_of_day : numeric
        Local solar hour, 0-24.

    Returns
    -------
    numeric
        Mean relative humidity: about 87 % in midwinter, 74 % in midsummer,
        higher at night than in the afternoon. [%]
    """
    season = np.cos(2.0 * np.pi * (day_of_year - C.UK_COLDEST_DAY_OF_YEAR) / 365.25)
    mean = C.UK_RH_ANNUAL_MEAN_PCT + C.UK_RH_ANNUAL_AMPLITUDE_PCT * season
    daily_amp = 4.0 + 4.0 * (1.0 - season) / 2.0
    return mean - daily_amp * np.cos(2.0 * np.pi * (hour_of_day - C.UK_DAILY_PEAK_HOUR) / 24.0)


def solar_gain(day_of_year, hour_of_day):
    """Warming of a room's free-running temperature by sun through its windows, for an average exposure.

    Parameters
    ----------
    day_of_year : numeric
        Day of the year, 1-366.
    hour_of_day : numeric
        Local solar hour, 0-24.

    Returns
    -------
    numeric
        Temperature lift over outdoors from solar gains. [K]

    Notes
    -----
    A half-cosine over the daylight hours, peaking at 12:30, whose day length
    runs from 7.5 h at midwinter to 16.5 h at midsummer (about 53 °N) and whose
    peak from 1 K to 4 K: enough that an unheated British home sits a few
    degrees above outdoors on a summer afternoon.
    """
    season = np.cos(2.0 * np.pi * (day_of_year - C.UK_COLDEST_DAY_OF_YEAR) / 365.25)
    peak_k = 2.5 - 1.5 * season
    day_length_h = 12.0 - 4.5 * season
    x = (hour_of_day - 12.5) / (day_length_h / 2.0)
    return np.where(np.abs(x) < 1.0, peak_k * np.cos(np.pi / 2.0 * np.clip(x, -1.0, 1.0)), 0.0)


def ar1_noise(rng: np.random.Generator, n_series: int, n_steps: int, sd: float, rho: float) -> np.ndarray:
    """Stationary AR(1) noise, ``x[t] = ρ x[t−1] + sqrt(1 − ρ²) σ ε[t]``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n_series : int
        Number of independent series (rows).
    n_steps : int
        Length of each series.
    sd : float
        Stationary standard deviation σ.
    rho : float
        Lag-one autocorrelation, 0 ≤ ρ < 1.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_series, n_steps)``.
    """
    if not 0.0 <= rho < 1.0:
        raise ValueError(f"rho must be in [0, 1) for a stationary AR(1) process; got {rho}")
    shocks = rng.standard_normal((n_series, n_steps)) * sd * np.sqrt(1.0 - rho**2)
    out = np.empty((n_series, n_steps))
    current = rng.standard_normal(n_series) * sd
    for i in range(n_steps):
        current = rho * current + shocks[:, i]
        out[:, i] = current
    return out


def uk_outdoor_weather(
    rng: np.random.Generator,
    day_of_year,
    hour_of_day,
    n_sites: int,
    dt_h: float,
):
    """Synthetic UK outdoor temperature and humidity with weather noise, one series per site.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness for the weather anomalies.
    day_of_year : array_like
        Fractional day of the year of each step, shape ``(n_steps,)``.
    hour_of_day : array_like
        Local solar hour of each step, shape ``(n_steps,)``.
    n_sites : int
        Number of independent sites.
    dt_h : float
        Step length. [h]

    Returns
    -------
    temp_out : numpy.ndarray
        Outdoor temperature, shape ``(n_sites, n_steps)``. [°C]
    rh_out : numpy.ndarray
        Outdoor relative humidity, 35-100, shape ``(n_sites, n_steps)``. [%]

    Notes
    -----
    The climatology of :func:`uk_climate_temperature` and
    :func:`uk_climate_relative_humidity` plus AR(1) synoptic anomalies with a
    60 h correlation time (σ = 2.5 K and 6 %RH); warm anomalies are drier.
    """
    day_of_year = np.asarray(day_of_year, dtype=float)
    hour_of_day = np.asarray(hour_of_day, dtype=float)
    n_steps = day_of_year.shape[0]
    rho = float(np.exp(-dt_h / C.WEATHER_CORRELATION_HOURS))
    temp_anomaly = ar1_noise(rng, n_sites, n_steps, C.WEATHER_TEMPERATURE_SD_K, rho)
    rh_anomaly = ar1_noise(rng, n_sites, n_steps, C.WEATHER_RH_SD_PCT, rho)
    temp_out = uk_climate_temperature(day_of_year, hour_of_day)[None, :] + temp_anomaly
    rh_out = uk_climate_relative_humidity(day_of_year, hour_of_day)[None, :] + rh_anomaly - 1.0 * temp_anomaly
    return temp_out, np.clip(rh_out, 35.0, 100.0)
