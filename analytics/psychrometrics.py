"""Moist-air relations for room readings and the cold spots they imply.

Every function takes floats, numpy arrays, lists or pandas Series (a Series comes back as a Series with
its index) and lets NaN through, so missing readings stay missing. Temperatures are in degrees Celsius,
relative humidity in percent (0-100) and vapour pressures in pascals.

The route from a room reading to mould risk is: the room's vapour pressure (:func:`vapour_pressure`)
meets the coldest surface (:func:`surface_temperature`), where the relative humidity is higher
(:func:`surface_relative_humidity`); the mould model in :mod:`analytics.mould` then works from the
surface conditions. :func:`rh_for_surface_rh` and :func:`temperature_for_surface_rh` turn that round and
say how dry, or how warm, a room must be kept for its cold spot to stay below a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analytics._arrays import Numeric, as_numeric, check_broadcastable
from analytics.constants import (
    DESIGN_TEMPERATURE_FACTOR,
    HUMIDITY_CLASS_EXCESS_AT_0C,
    HUMIDITY_CLASS_ZERO_EXCESS_TEMPERATURE,
    MAGNUS_WMO,
    SURFACE_RH_MOULD_LIMIT,
    WATER_VAPOUR_GAS_CONSTANT,
    ZERO_CELSIUS_IN_KELVIN,
    MagnusCoefficients,
)

__all__ = [
    "absolute_humidity",
    "dewpoint",
    "dewpoint_from_vapour_pressure",
    "humidity_class_limit",
    "internal_humidity_class",
    "relative_humidity_from_dewpoint",
    "rh_for_surface_rh",
    "saturation_vapour_pressure",
    "surface_relative_humidity",
    "surface_temperature",
    "temperature_for_surface_rh",
    "vapour_pressure",
    "vapour_pressure_excess",
]

# --------------------------------------------------------------------------------------------------------
# Argument handling
# --------------------------------------------------------------------------------------------------------


def _magnus(coefficients: Any) -> MagnusCoefficients:
    """Check and return Magnus coefficients (a [Pa], b [-], c [°C])."""
    try:
        a, b, c = (float(value) for value in coefficients)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "coefficients must be three numbers (a [Pa], b, c [°C]), e.g. analytics.constants.MAGNUS_WMO"
        ) from exc
    if not all(np.isfinite(value) and value > 0 for value in (a, b, c)):
        raise ValueError(f"Magnus coefficients must be finite and positive, got {(a, b, c)}")
    return MagnusCoefficients(a, b, c)


def _check_temperature_factor(temperature_factor: Any, allow_zero: bool = True) -> Any:
    """Check that the temperature factor lies in [0, 1] (or (0, 1]); NaN passes through."""
    factor = as_numeric(temperature_factor, "temperature_factor")
    with np.errstate(invalid="ignore"):
        too_low = np.less(factor, 0.0) if allow_zero else np.less_equal(factor, 0.0)
        bad = np.any(too_low | np.greater(factor, 1.0))
    if bad:
        lowest = "0" if allow_zero else "just above 0"
        raise ValueError(
            f"temperature_factor must lie between {lowest} and 1 (BS EN ISO 13788 f_Rsi; UK design "
            "guidance uses 0.75, poor walls and thermal bridges 0.5-0.6)"
        )
    return factor


def _check_rh_limit(surface_rh_limit: float) -> float:
    """Check that a target surface relative humidity lies in (0, 100] %."""
    try:
        limit = float(surface_rh_limit)
    except (TypeError, ValueError):
        limit = float("nan")
    if not 0.0 < limit <= 100.0:
        raise ValueError(
            f"surface_rh_limit must be a relative humidity above 0 and at most 100 %, got {limit}; "
            "80 % is the BS EN ISO 13788 mould criterion"
        )
    return limit


def _magnus_exponent(temp: Any, coeff: MagnusCoefficients) -> Any:
    """The exponent b t / (c + t) of the Magnus form. [-]"""
    return coeff.b * temp / (coeff.c + temp)


def _temperature_at_saturation(pressure: Any, coeff: MagnusCoefficients) -> Any:
    """Invert the Magnus form: the temperature at which ``e_s`` equals ``pressure``. [°C]"""
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.log(pressure / coeff.a)
        return coeff.c * gamma / (coeff.b - gamma)


# --------------------------------------------------------------------------------------------------------
# Moist air
# --------------------------------------------------------------------------------------------------------


def saturation_vapour_pressure(temp_air: Numeric, coefficients: Sequence[float] = MAGNUS_WMO) -> Any:
    r"""
    Saturation vapour pressure over a plane surface of liquid water.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)`` in [Pa], [-] and [°C]. Pass
        :data:`analytics.constants.MAGNUS_WMO_ICE` for saturation over ice.

    Returns
    -------
    saturation_vapour_pressure : numeric
        Saturation vapour pressure. [Pa]

    Raises
    ------
    ValueError
        If ``coefficients`` is not three positive numbers.

    Notes
    -----
    The Magnus form recommended by the WMO [1]_ after Sonntag [2]_:

    .. math:: e_s(t) = 611.2 \exp\left(\frac{17.62\,t}{243.12 + t}\right)

    It is valid over water from about -45 °C to 60 °C, and over 0-35 °C it reads 0.1-0.3 % below the
    IAPWS-95 values [3]_ (2339.21 Pa at 20 °C), about 0.02 K in dew point. Hygrometers report relative
    humidity over water even below 0 °C, so the water form is the right default for sensor data.

    References
    ----------
    .. [1] WMO, 2018: Guide to Instruments and Methods of Observation (WMO-No. 8), Volume I, Annex 4.B.
    .. [2] Sonntag, D., 1990: Important new values of the physical constants of 1986, vapour pressure
       formulations based on the ITS-90, and psychrometer formulae. Z. Meteorol. 40(5), 340-344.
    .. [3] Wagner, W. and Pruß, A., 2002: The IAPWS formulation 1995 for the thermodynamic properties of
       ordinary water substance for general and scientific use. J. Phys. Chem. Ref. Data 31(2),
       387-535. :doi:`10.1063/1.1461829`

    Examples
    --------
    >>> round(float(saturation_vapour_pressure(20.0)), 1)
    2332.6
    """
    coeff = _magnus(coefficients)
    temp = as_numeric(temp_air, "temp_air")
    return coeff.a * np.exp(_magnus_exponent(temp, coeff))


def vapour_pressure(
    temp_air: Numeric, relative_humidity: Numeric, coefficients: Sequence[float] = MAGNUS_WMO
) -> Any:
    r"""
    Partial pressure of water vapour in moist air.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    relative_humidity : numeric
        Relative humidity over water. [%]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    vapour_pressure : numeric
        Water vapour pressure. [Pa]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or ``coefficients`` is invalid.

    Notes
    -----
    .. math:: e = \frac{RH}{100}\, e_s(t)

    with :math:`e_s` from :func:`saturation_vapour_pressure` (valid about -45 °C to 60 °C). The vapour
    pressure measures the moisture content of the air and does not change when the air is warmed or
    cooled without adding or removing water, which is what makes it the quantity to carry from a room to
    its cold surfaces.

    References
    ----------
    .. [1] WMO, 2018: Guide to Instruments and Methods of Observation (WMO-No. 8), Volume I, Annex 4.B.

    Examples
    --------
    >>> round(float(vapour_pressure(20.0, 50.0)), 1)
    1166.3
    """
    coeff = _magnus(coefficients)
    temp = as_numeric(temp_air, "temp_air")
    rh = as_numeric(relative_humidity, "relative_humidity")
    check_broadcastable(temp_air=temp, relative_humidity=rh)
    return rh / 100.0 * coeff.a * np.exp(_magnus_exponent(temp, coeff))


def dewpoint(
    temp_air: Numeric, relative_humidity: Numeric, coefficients: Sequence[float] = MAGNUS_WMO
) -> Any:
    r"""
    Dew point temperature of moist air.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    relative_humidity : numeric
        Relative humidity over water. [%]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    dewpoint : numeric
        Dew point temperature: a surface at or below it collects condensation. NaN where the relative
        humidity is zero or negative. [°C]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or ``coefficients`` is invalid.

    Notes
    -----
    The Magnus form solved for temperature [1]_, [2]_:

    .. math::

        \gamma = \ln\frac{RH}{100} + \frac{b\,t}{c + t}, \qquad
        T_d = \frac{c\,\gamma}{b - \gamma}

    with b = 17.62 and c = 243.12 °C. It is exact for the Magnus form, so it is valid wherever that form
    is (about -45 °C to 60 °C). For example, 20 °C and 50 % give 9.255 °C.

    References
    ----------
    .. [1] WMO, 2018: Guide to Instruments and Methods of Observation (WMO-No. 8), Volume I, Annex 4.B.
    .. [2] Lawrence, M. G., 2005: The relationship between relative humidity and the dewpoint temperature
       in moist air: a simple conversion and applications. Bull. Amer. Meteor. Soc. 86(2), 225-233.
       :doi:`10.1175/BAMS-86-2-225`

    Examples
    --------
    >>> round(float(dewpoint(20.0, 50.0)), 3)
    9.255
    """
    coeff = _magnus(coefficients)
    temp = as_numeric(temp_air, "temp_air")
    rh = as_numeric(relative_humidity, "relative_humidity")
    check_broadcastable(temp_air=temp, relative_humidity=rh)
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.log(rh / 100.0) + _magnus_exponent(temp, coeff)
        return coeff.c * gamma / (coeff.b - gamma)


def dewpoint_from_vapour_pressure(
    vapour_pressure: Numeric, coefficients: Sequence[float] = MAGNUS_WMO
) -> Any:
    r"""
    Dew point temperature of air with a given water vapour pressure.

    Parameters
    ----------
    vapour_pressure : numeric
        Water vapour pressure. [Pa]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    dewpoint : numeric
        Dew point temperature, the temperature at which ``vapour_pressure`` is the saturation pressure.
        NaN where the vapour pressure is zero or negative. [°C]

    Raises
    ------
    ValueError
        If ``coefficients`` is invalid.

    Notes
    -----
    The inverse of the Magnus form [1]_:

    .. math:: \gamma = \ln\frac{e}{a}, \qquad T_d = \frac{c\,\gamma}{b - \gamma}

    valid for dew points from about -45 °C to 60 °C.

    References
    ----------
    .. [1] WMO, 2018: Guide to Instruments and Methods of Observation (WMO-No. 8), Volume I, Annex 4.B.

    Examples
    --------
    >>> round(float(dewpoint_from_vapour_pressure(611.2)), 3)
    0.0
    """
    coeff = _magnus(coefficients)
    pressure = as_numeric(vapour_pressure, "vapour_pressure")
    return _temperature_at_saturation(pressure, coeff)


def relative_humidity_from_dewpoint(
    temp_air: Numeric, dewpoint: Numeric, coefficients: Sequence[float] = MAGNUS_WMO
) -> Any:
    r"""
    Relative humidity of air from its temperature and dew point.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    dewpoint : numeric
        Dew point temperature. [°C]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    relative_humidity : numeric
        Relative humidity over water; exactly 100 where the dew point equals the air temperature. Not
        capped: a dew point above the air temperature (a sensor fault) gives more than 100. [%]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or ``coefficients`` is invalid.

    Notes
    -----
    .. math:: RH = 100\,\frac{e_s(T_d)}{e_s(t)}
              = 100 \exp\left(\frac{b\,T_d}{c + T_d} - \frac{b\,t}{c + t}\right)

    with the Magnus form of :func:`saturation_vapour_pressure` (valid about -45 °C to 60 °C) [1]_. It is
    the exact inverse of :func:`dewpoint`.

    References
    ----------
    .. [1] Lawrence, M. G., 2005: The relationship between relative humidity and the dewpoint temperature
       in moist air: a simple conversion and applications. Bull. Amer. Meteor. Soc. 86(2), 225-233.
       :doi:`10.1175/BAMS-86-2-225`

    Examples
    --------
    >>> round(float(relative_humidity_from_dewpoint(20.0, 9.255)), 2)
    50.0
    """
    coeff = _magnus(coefficients)
    temp = as_numeric(temp_air, "temp_air")
    dew = as_numeric(dewpoint, "dewpoint")
    check_broadcastable(temp_air=temp, dewpoint=dew)
    return 100.0 * np.exp(_magnus_exponent(dew, coeff) - _magnus_exponent(temp, coeff))


def absolute_humidity(
    temp_air: Numeric,
    relative_humidity: Numeric,
    coefficients: Sequence[float] = MAGNUS_WMO,
    gas_constant: float = WATER_VAPOUR_GAS_CONSTANT,
) -> Any:
    r"""
    Mass of water vapour per unit volume of moist air.

    Parameters
    ----------
    temp_air : numeric
        Air temperature. [°C]
    relative_humidity : numeric
        Relative humidity over water. [%]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.
    gas_constant : float, default :data:`analytics.constants.WATER_VAPOUR_GAS_CONSTANT`
        Specific gas constant of water vapour. [J/(kg K)]

    Returns
    -------
    absolute_humidity : numeric
        Water vapour density. [g/m³]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or a coefficient is invalid.

    Notes
    -----
    Water vapour treated as an ideal gas [1]_:

    .. math:: \rho_v = \frac{1000\, e}{R_v\,(t + 273.15)} \approx 2.1668\,\frac{e}{T}

    with e in Pa from :func:`vapour_pressure`, R_v = 461.5 J/(kg K) and T in kelvin. The ideal-gas error
    is well under 0.5 % at room conditions; the range is that of the Magnus form (about -45 °C to 60 °C).
    For example, 20 °C and 50 % hold 8.62 g/m³.

    References
    ----------
    .. [1] Wagner, W. and Pruß, A., 2002: The IAPWS formulation 1995 for the thermodynamic properties of
       ordinary water substance for general and scientific use. J. Phys. Chem. Ref. Data 31(2),
       387-535. :doi:`10.1063/1.1461829`

    Examples
    --------
    >>> round(float(absolute_humidity(20.0, 50.0)), 2)
    8.62
    """
    try:
        r_v = float(gas_constant)
    except (TypeError, ValueError):
        r_v = float("nan")
    if not (np.isfinite(r_v) and r_v > 0):
        raise ValueError(
            "gas_constant must be a positive number in J/(kg K), e.g. 461.5 for water vapour; "
            f"got {gas_constant!r}"
        )
    pressure = vapour_pressure(temp_air, relative_humidity, coefficients)
    temp = as_numeric(temp_air, "temp_air")
    return 1000.0 * pressure / (r_v * (temp + ZERO_CELSIUS_IN_KELVIN))


# --------------------------------------------------------------------------------------------------------
# Surfaces
# --------------------------------------------------------------------------------------------------------


def surface_temperature(
    temp_in: Numeric, temp_out: Numeric, temperature_factor: Numeric = DESIGN_TEMPERATURE_FACTOR
) -> Any:
    r"""
    Internal surface temperature of the coldest spot of an external wall.

    Parameters
    ----------
    temp_in : numeric
        Room air temperature. [°C]
    temp_out : numeric
        Outdoor air temperature. [°C]
    temperature_factor : numeric, default 0.75
        Temperature factor at the internal surface, f_Rsi, between 0 and 1. UK design guidance for
        dwellings asks for at least 0.75 [2]_; old solid walls and thermal bridges sit at 0.5-0.6. [-]

    Returns
    -------
    surface_temperature : numeric
        Internal surface temperature. [°C]

    Raises
    ------
    ValueError
        If ``temperature_factor`` lies outside 0 to 1, or the inputs have lengths that do not match.

    Notes
    -----
    The definition of the temperature factor in BS EN ISO 13788 [1]_ solved for the surface:

    .. math::

        f_{Rsi} = \frac{\theta_{si} - \theta_e}{\theta_i - \theta_e}
        \quad\Rightarrow\quad
        \theta_{si} = \theta_e + f_{Rsi}\,(\theta_i - \theta_e)

    It is a steady-state relation: it holds for averages over a day or more, not for each hour of a
    heavy wall's response. Home Assistant's "calibration factor" is :math:`1 / f_{Rsi}`.

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Clause 5.
    .. [2] BRE Information Paper IP1/06, 2006: Assessing the effects of thermal bridging at junctions and
       around openings. Garston: BRE.

    Examples
    --------
    >>> float(surface_temperature(20.0, 10.0, temperature_factor=0.5))
    15.0
    """
    factor = _check_temperature_factor(temperature_factor)
    t_in = as_numeric(temp_in, "temp_in")
    t_out = as_numeric(temp_out, "temp_out")
    check_broadcastable(temp_in=t_in, temp_out=t_out, temperature_factor=factor)
    return t_out + factor * (t_in - t_out)


def surface_relative_humidity(
    temp_air: Numeric,
    relative_humidity: Numeric,
    temp_surface: Numeric,
    coefficients: Sequence[float] = MAGNUS_WMO,
) -> Any:
    r"""
    Relative humidity at a surface that is colder (or warmer) than the room air.

    Parameters
    ----------
    temp_air : numeric
        Room air temperature. [°C]
    relative_humidity : numeric
        Room relative humidity. [%]
    temp_surface : numeric
        Surface temperature, e.g. from :func:`surface_temperature`. [°C]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    surface_relative_humidity : numeric
        Relative humidity of the air touching the surface, capped at 100 (at or below the dew point the
        surface collects condensation instead). [%]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or ``coefficients`` is invalid.

    Notes
    -----
    The air at the surface has the room's vapour pressure but the surface's saturation pressure [1]_:

    .. math:: \varphi_s = \min\left(100,\; RH\,\frac{e_s(t)}{e_s(\theta_s)}\right)

    with :math:`e_s` the Magnus form (valid about -45 °C to 60 °C). BS EN ISO 13788 [1]_ takes 80 % as
    the monthly mean surface humidity above which mould is likely. Home Assistant's mould indicator case
    (20 °C and 50 % in the room, 10 °C outside, f_Rsi 0.5, so a 15 °C cold spot) gives 68.5 %.

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Clause 5.

    Examples
    --------
    >>> round(float(surface_relative_humidity(20.0, 50.0, 15.0)), 1)
    68.5
    """
    coeff = _magnus(coefficients)
    temp = as_numeric(temp_air, "temp_air")
    rh = as_numeric(relative_humidity, "relative_humidity")
    surface = as_numeric(temp_surface, "temp_surface")
    check_broadcastable(temp_air=temp, relative_humidity=rh, temp_surface=surface)
    ratio = np.exp(_magnus_exponent(temp, coeff) - _magnus_exponent(surface, coeff))
    return np.minimum(rh * ratio, 100.0)


def rh_for_surface_rh(
    temp_air: Numeric,
    temp_out: Numeric,
    temperature_factor: Numeric = DESIGN_TEMPERATURE_FACTOR,
    surface_rh_limit: float = SURFACE_RH_MOULD_LIMIT,
    coefficients: Sequence[float] = MAGNUS_WMO,
) -> Any:
    r"""
    Room relative humidity at which the cold spot reaches a given surface relative humidity.

    Answers "how dry must this room be kept, at its present temperature, for the coldest wall to stay
    below 80 %?". Any room humidity below the returned value keeps the cold spot below the limit.

    Parameters
    ----------
    temp_air : numeric
        Room air temperature. [°C]
    temp_out : numeric
        Outdoor air temperature. [°C]
    temperature_factor : numeric, default 0.75
        Temperature factor of the coldest spot, f_Rsi, between 0 and 1. [-]
    surface_rh_limit : float, default 80.0
        Surface relative humidity not to be exceeded, above 0 and at most 100. [%]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    relative_humidity : numeric
        Room relative humidity that puts the cold spot exactly at ``surface_rh_limit``, capped at 100
        (a cold spot warmer than the room can never reach the limit). [%]

    Raises
    ------
    ValueError
        If ``temperature_factor`` lies outside 0 to 1, ``surface_rh_limit`` outside (0, 100], or the
        inputs have lengths that do not match.

    Notes
    -----
    The cold spot sits at :math:`\theta_{si} = \theta_e + f_{Rsi}(\theta_i - \theta_e)`
    (:func:`surface_temperature`), and its humidity is :math:`RH\,e_s(\theta_i)/e_s(\theta_{si})`, so

    .. math:: RH_{max} = \min\left(100,\; \varphi_{lim}\,\frac{e_s(\theta_{si})}{e_s(\theta_i)}\right)

    This is the critical indoor humidity of BS EN ISO 13788 [1]_ clause 5, under the same steady-state
    assumption as :func:`surface_temperature`, valid within the Magnus range (about -45 °C to 60 °C).

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Clause 5.

    Examples
    --------
    >>> round(float(rh_for_surface_rh(20.0, 5.0, temperature_factor=0.75)), 1)
    63.2
    """
    coeff = _magnus(coefficients)
    limit = _check_rh_limit(surface_rh_limit)
    temp = as_numeric(temp_air, "temp_air")
    surface = surface_temperature(temp, temp_out, temperature_factor)
    ratio = np.exp(_magnus_exponent(surface, coeff) - _magnus_exponent(temp, coeff))
    return np.minimum(limit * ratio, 100.0)


def temperature_for_surface_rh(
    temp_air: Numeric,
    relative_humidity: Numeric,
    temp_out: Numeric,
    temperature_factor: Numeric = DESIGN_TEMPERATURE_FACTOR,
    surface_rh_limit: float = SURFACE_RH_MOULD_LIMIT,
    coefficients: Sequence[float] = MAGNUS_WMO,
) -> Any:
    r"""
    Room temperature at which the cold spot reaches a given surface relative humidity, at the room's
    present moisture content.

    Answers "how warm must this room be kept, with the moisture it holds now, for the coldest wall to
    stay below 80 %?". Any room temperature above the returned value keeps the cold spot below the limit.

    Parameters
    ----------
    temp_air : numeric
        Present room air temperature. [°C]
    relative_humidity : numeric
        Present room relative humidity. [%]
    temp_out : numeric
        Outdoor air temperature. [°C]
    temperature_factor : numeric, default 0.75
        Temperature factor of the coldest spot, f_Rsi, above 0 and at most 1. [-]
    surface_rh_limit : float, default 80.0
        Surface relative humidity not to be exceeded, above 0 and at most 100. [%]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    temperature : numeric
        Room air temperature that puts the cold spot exactly at ``surface_rh_limit``. It can be below the
        present temperature (the room is already warm enough) or even below ``temp_out`` (no heating is
        needed at all). NaN where the relative humidity is zero or negative. [°C]

    Raises
    ------
    ValueError
        If ``temperature_factor`` is not above 0 and at most 1, ``surface_rh_limit`` lies outside
        (0, 100], or the inputs have lengths that do not match.

    Notes
    -----
    Heating the room leaves its vapour pressure :math:`e` unchanged (same moisture content and
    ventilation). The cold spot reaches the limit when
    :math:`e_s(\theta_{si}) = 100\,e / \varphi_{lim}`, i.e. at the dew point of that pressure, and the
    room temperature that gives this surface temperature follows from the temperature factor [1]_:

    .. math::

        \theta_{si}^* = T_d\!\left(\frac{100\,e}{\varphi_{lim}}\right), \qquad
        \theta_i^* = \theta_e + \frac{\theta_{si}^* - \theta_e}{f_{Rsi}}

    Steady state, as for :func:`surface_temperature`; valid within the Magnus range (about -45 °C to
    60 °C). In practice warmer air also lets the room hold more moisture from cooking and washing, so the
    figure is a guide to what heating alone would achieve.

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Clause 5.

    Examples
    --------
    >>> round(float(temperature_for_surface_rh(17.0, 72.0, 5.0)), 1)
    18.8
    """
    coeff = _magnus(coefficients)
    limit = _check_rh_limit(surface_rh_limit)
    factor = _check_temperature_factor(temperature_factor, allow_zero=False)
    t_out = as_numeric(temp_out, "temp_out")
    pressure = vapour_pressure(temp_air, relative_humidity, coeff)
    check_broadcastable(vapour_pressure=pressure, temp_out=t_out, temperature_factor=factor)
    surface = _temperature_at_saturation(pressure * (100.0 / limit), coeff)
    return t_out + (surface - t_out) / factor


# --------------------------------------------------------------------------------------------------------
# Internal humidity classes
# --------------------------------------------------------------------------------------------------------


def vapour_pressure_excess(
    temp_in: Numeric,
    relative_humidity_in: Numeric,
    temp_out: Numeric,
    relative_humidity_out: Numeric,
    coefficients: Sequence[float] = MAGNUS_WMO,
) -> Any:
    r"""
    Excess of indoor over outdoor water vapour pressure.

    Parameters
    ----------
    temp_in : numeric
        Room air temperature. [°C]
    relative_humidity_in : numeric
        Room relative humidity. [%]
    temp_out : numeric
        Outdoor air temperature. [°C]
    relative_humidity_out : numeric
        Outdoor relative humidity. [%]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    vapour_pressure_excess : numeric
        Indoor minus outdoor vapour pressure: the moisture the household adds and the ventilation has not
        removed. [Pa]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or ``coefficients`` is invalid.

    Notes
    -----
    .. math:: \Delta p = e_i - e_e = \frac{RH_i}{100} e_s(\theta_i) - \frac{RH_e}{100} e_s(\theta_e)

    BS EN ISO 13788 [1]_ Annex A classifies buildings by this excess, taken as monthly means (see
    :func:`internal_humidity_class`). Valid within the Magnus range (about -45 °C to 60 °C).

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Annex A.

    Examples
    --------
    >>> round(float(vapour_pressure_excess(20.0, 50.0, 5.0, 85.0)))
    425
    """
    coeff = _magnus(coefficients)
    inside = vapour_pressure(temp_in, relative_humidity_in, coeff)
    outside = vapour_pressure(temp_out, relative_humidity_out, coeff)
    check_broadcastable(inside=inside, outside=outside)
    return inside - outside


def _humidity_class_factor(temp_out: Any, zero_excess_temperature: float) -> Any:
    """Fraction of the 0 °C class limits that applies at ``temp_out``: 1 at or below 0 °C, falling to 0."""
    return np.minimum(1.0 - temp_out / zero_excess_temperature, 1.0)


def _check_class_limits(excess_at_0c: Sequence[float], zero_excess_temperature: float) -> tuple[float, ...]:
    """Check the class limits (increasing, positive) and the zero-excess temperature (positive)."""
    limits = tuple(float(value) for value in excess_at_0c)
    if len(limits) < 2 or not all(np.isfinite(v) and v > 0 for v in limits) or list(limits) != sorted(limits):
        raise ValueError(
            "excess_at_0c must be two or more increasing positive vapour pressure excesses in Pa, "
            "e.g. analytics.constants.HUMIDITY_CLASS_EXCESS_AT_0C"
        )
    if not (np.isfinite(zero_excess_temperature) and zero_excess_temperature > 0):
        raise ValueError(
            f"zero_excess_temperature must be a temperature above 0 °C, got {zero_excess_temperature}"
        )
    return limits


def humidity_class_limit(
    temp_out: Numeric,
    humidity_class: int,
    excess_at_0c: Sequence[float] = HUMIDITY_CLASS_EXCESS_AT_0C,
    zero_excess_temperature: float = HUMIDITY_CLASS_ZERO_EXCESS_TEMPERATURE,
) -> Any:
    r"""
    Upper limit of an internal humidity class of BS EN ISO 13788, as a vapour pressure excess.

    Parameters
    ----------
    temp_out : numeric
        Monthly mean outdoor air temperature. [°C]
    humidity_class : int
        Internal humidity class, 1 to 5 (1 to ``len(excess_at_0c)``).
    excess_at_0c : sequence of float, default :data:`analytics.constants.HUMIDITY_CLASS_EXCESS_AT_0C`
        Upper limit of each class at outdoor temperatures of 0 °C and below. [Pa]
    zero_excess_temperature : float, default 20.0
        Outdoor temperature at which every limit has fallen to zero. [°C]

    Returns
    -------
    vapour_pressure_excess : numeric
        Largest vapour pressure excess of the class at ``temp_out``; zero at and above
        ``zero_excess_temperature``. [Pa]

    Raises
    ------
    ValueError
        If ``humidity_class`` is not one of the classes, or the class limits are invalid.

    Notes
    -----
    BS EN ISO 13788 [1]_ Annex A:

    .. math::

        \Delta p_n(\theta_e) = \Delta p_n(0)\, \min\left(1,\; \max\left(0,\;
        1 - \frac{\theta_e}{20\,°C}\right)\right)

    with :math:`\Delta p_n(0)` = 270, 540, 810, 1080 and 1350 Pa for classes 1 to 5. The limits apply to
    monthly means.

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Annex A.

    Examples
    --------
    >>> float(humidity_class_limit(10.0, 2))
    270.0
    """
    limits = _check_class_limits(excess_at_0c, zero_excess_temperature)
    if isinstance(humidity_class, bool) or humidity_class not in range(1, len(limits) + 1):
        raise ValueError(
            f"humidity_class must be a whole number from 1 to {len(limits)}, got {humidity_class!r}"
        )
    t_out = as_numeric(temp_out, "temp_out")
    factor = np.maximum(_humidity_class_factor(t_out, float(zero_excess_temperature)), 0.0)
    return limits[int(humidity_class) - 1] * factor


def internal_humidity_class(
    temp_in: Numeric,
    relative_humidity_in: Numeric,
    temp_out: Numeric,
    relative_humidity_out: Numeric,
    excess_at_0c: Sequence[float] = HUMIDITY_CLASS_EXCESS_AT_0C,
    zero_excess_temperature: float = HUMIDITY_CLASS_ZERO_EXCESS_TEMPERATURE,
    coefficients: Sequence[float] = MAGNUS_WMO,
) -> Any:
    r"""
    Internal humidity class of BS EN ISO 13788 that a room's moisture load falls in.

    Parameters
    ----------
    temp_in : numeric
        Room air temperature, ideally a monthly mean. [°C]
    relative_humidity_in : numeric
        Room relative humidity, ideally a monthly mean. [%]
    temp_out : numeric
        Outdoor air temperature, ideally a monthly mean. [°C]
    relative_humidity_out : numeric
        Outdoor relative humidity, ideally a monthly mean. [%]
    excess_at_0c : sequence of float, default :data:`analytics.constants.HUMIDITY_CLASS_EXCESS_AT_0C`
        Upper limit of each class at outdoor temperatures of 0 °C and below. [Pa]
    zero_excess_temperature : float, default 20.0
        Outdoor temperature at which every limit has fallen to zero. [°C]
    coefficients : sequence of three floats, default :data:`analytics.constants.MAGNUS_WMO`
        Magnus coefficients ``(a, b, c)``, see :func:`saturation_vapour_pressure`.

    Returns
    -------
    humidity_class : numeric
        Class 1 to 5 as a float: the lowest class whose upper limit is not exceeded, and 5 for anything
        above the class 4 limit (compare :func:`vapour_pressure_excess` with
        ``humidity_class_limit(temp_out, 5)`` to see how far above). NaN where an input is missing or the
        outdoor temperature is at or above ``zero_excess_temperature``, where the classes are not
        defined. [-]

    Raises
    ------
    ValueError
        If the inputs have lengths that do not match, or a coefficient or the class limits are invalid.

    Notes
    -----
    The excess :math:`\Delta p = e_i - e_e` (:func:`vapour_pressure_excess`) is compared with the class
    limits of BS EN ISO 13788 [1]_ Annex A (:func:`humidity_class_limit`), which fall linearly from
    270, 540, 810, 1080 and 1350 Pa at 0 °C outdoors to zero at 20 °C:

    .. math:: \text{class} = 1 + \#\{n \le 4 : \Delta p > \Delta p_n(\theta_e)\}

    Class 2 is a normally occupied, well-ventilated dwelling, class 3 a dwelling of unknown occupancy; a
    home in class 4 or 5 has a high moisture load or poor ventilation. The classes are meant for monthly
    means in the heating season; as the outdoor temperature approaches 20 °C all limits approach zero and
    the class is no longer informative.

    References
    ----------
    .. [1] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
       Internal surface temperature to avoid critical surface humidity and interstitial condensation.
       Calculation methods. Annex A.

    Examples
    --------
    >>> float(internal_humidity_class(20.0, 45.0, 5.0, 85.0))
    2.0
    """
    limits = _check_class_limits(excess_at_0c, zero_excess_temperature)
    excess = vapour_pressure_excess(
        temp_in, relative_humidity_in, temp_out, relative_humidity_out, coefficients
    )
    t_out = as_numeric(temp_out, "temp_out")
    factor = _humidity_class_factor(t_out, float(zero_excess_temperature))
    humidity_class = 1.0
    for limit in limits[:-1]:
        humidity_class = humidity_class + np.greater(excess, limit * factor)
    with np.errstate(invalid="ignore"):
        defined = np.isfinite(excess) & np.greater(factor, 0.0)
    return humidity_class + np.where(defined, 0.0, np.nan)
