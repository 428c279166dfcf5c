"""Physical constants and model coefficients used by :mod:`analytics`.

Every number the physics functions use lives here, with its source beside it, and reaches the functions as
a defaulted keyword argument so that a caller can swap in another published set without editing code.

References
----------
.. [1] WMO, 2018: Guide to Instruments and Methods of Observation (WMO-No. 8), Volume I, Annex 4.B.
   Geneva: World Meteorological Organization.
.. [2] Sonntag, D., 1990: Important new values of the physical constants of 1986, vapour pressure
   formulations based on the ITS-90, and psychrometer formulae. Zeitschrift für Meteorologie 40(5),
   340-344.
.. [3] Wagner, W. and Pruß, A., 2002: The IAPWS formulation 1995 for the thermodynamic properties of
   ordinary water substance for general and scientific use. J. Phys. Chem. Ref. Data 31(2), 387-535.
   :doi:`10.1063/1.1461829`
.. [4] BS EN ISO 13788:2012, Hygrothermal performance of building components and building elements.
   Internal surface temperature to avoid critical surface humidity and interstitial condensation.
   Calculation methods. Clause 5 and Annex A.
.. [5] BRE Information Paper IP1/06, 2006: Assessing the effects of thermal bridging at junctions and
   around openings. Garston: BRE.
.. [6] Hukka, A. and Viitanen, H. A., 1999: A mathematical model of mould growth on wooden material.
   Wood Science and Technology 33(6), 475-485. :doi:`10.1007/s002260050131`
.. [7] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and Salminen, K., 2010: Mold
   growth modeling of building structures using sensitivity classes of materials. Thermal Performance
   of the Exterior Envelopes of Whole Buildings XI, Clearwater Beach, FL. Atlanta: ASHRAE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, NamedTuple

# --------------------------------------------------------------------------------------------------------
# Psychrometrics
# --------------------------------------------------------------------------------------------------------


class MagnusCoefficients(NamedTuple):
    """Coefficients of the Magnus form ``e_s(t) = a * exp(b * t / (c + t))``.

    Attributes
    ----------
    a : float
        Saturation vapour pressure at 0 °C. [Pa]
    b : float
        Dimensionless slope coefficient. [-]
    c : float
        Temperature offset. [°C]
    """

    a: float
    b: float
    c: float


MAGNUS_WMO: Final = MagnusCoefficients(a=611.2, b=17.62, c=243.12)
"""Magnus coefficients over liquid water, WMO-No. 8 Annex 4.B [1]_ after Sonntag (1990) [2]_.

Valid from about -45 °C to 60 °C; over 0-35 °C it reads 0.1-0.3 % below the IAPWS reference values [3]_
(about 0.02 K in dew point). Used below 0 °C too, because hygrometers report RH over water."""

MAGNUS_WMO_ICE: Final = MagnusCoefficients(a=611.2, b=22.46, c=272.62)
"""Magnus coefficients over ice, WMO-No. 8 Annex 4.B [1]_ after Sonntag (1990) [2]_; -65 °C to 0 °C."""

ZERO_CELSIUS_IN_KELVIN: Final = 273.15
"""0 °C in kelvin (ITS-90). [K]"""

WATER_VAPOUR_GAS_CONSTANT: Final = 461.5
"""Specific gas constant of water vapour, R_v = R / M_w (8.314 / 0.018015) [3]_. [J/(kg K)]"""

# --------------------------------------------------------------------------------------------------------
# Building fabric and surface criteria
# --------------------------------------------------------------------------------------------------------

DESIGN_TEMPERATURE_FACTOR: Final = 0.75
"""Minimum internal surface temperature factor f_Rsi for dwellings in UK guidance (BRE IP1/06 [5]_).
Older solid walls and thermal bridges often sit at 0.5-0.6. [-]"""

SURFACE_RH_MOULD_LIMIT: Final = 80.0
"""Surface relative humidity that a monthly mean should not exceed to avoid mould, BS EN ISO 13788 [4]_
clause 5 (also BS 5250). [%]"""

HUMIDITY_CLASS_EXCESS_AT_0C: Final = (270.0, 540.0, 810.0, 1080.0, 1350.0)
"""Internal humidity classes 1-5 of BS EN ISO 13788 Annex A [4]_: the upper limit of the internal-minus-
external vapour pressure excess of each class for monthly mean outdoor temperatures of 0 °C and below. [Pa]

1 storage and unoccupied buildings; 2 offices, dwellings with normal occupancy and ventilation;
3 buildings with unknown occupancy; 4 sports halls, kitchens, canteens; 5 special buildings such as
laundries, breweries and swimming pools."""

HUMIDITY_CLASS_ZERO_EXCESS_TEMPERATURE: Final = 20.0
"""Monthly mean outdoor temperature at which every class limit of BS EN ISO 13788 Annex A [4]_ has fallen
linearly to zero excess. [°C]"""

# --------------------------------------------------------------------------------------------------------
# VTT mould growth model
# --------------------------------------------------------------------------------------------------------

VTT_RH_CRIT_POLYNOMIAL: Final = (-0.00267, 0.160, -3.13, 100.0)
"""Coefficients (T³, T², T, 1) of the critical relative humidity curve of Hukka and Viitanen (1999) [6]_,
RH_crit(T) = -0.00267 T³ + 0.160 T² - 3.13 T + 100, with T in °C and RH_crit in %."""

VTT_GROWTH_EXPONENTS: Final = (0.68, 13.9, 66.02)
"""Coefficients (a, b, c) of the time to growth in weeks, exp(-a ln T - b ln RH + c), for pine sapwood
("very sensitive") in Hukka and Viitanen (1999) [6]_ (their W = 0, SQ = 0 case)."""

VTT_K2_COEFFICIENT: Final = 2.3
"""Exponent factor of the growth-limiting term k2 = max(1 - exp(2.3 (M - M_max)), 0) [6]_. [-]"""

VTT_TEMPERATURE_RANGE: Final = (0.0, 50.0)
"""Open temperature interval (low, high) within which mould can grow in the VTT model [6]_. [°C]"""

VTT_DECLINE_RATES: Final = (0.032, 0.0, 0.016)
"""Decline rates of the mould index in unfavourable conditions [6]_: during the first
``VTT_DECLINE_PHASE_HOURS[0]`` hours of a dry spell, up to ``VTT_DECLINE_PHASE_HOURS[1]`` hours, and after
that. Hukka and Viitanen give them per hour as 0.00133, 0 and 0.000667, i.e. 0.032 and 0.016 per day.
[1/day]"""

VTT_DECLINE_PHASE_HOURS: Final = (6, 24)
"""Ends of the first two decline phases, in hours since the dry spell began [6]_. [h]"""

VTT_DECLINE_COEFFICIENTS: Final = (1.0, 0.5, 0.25, 0.1)
"""Material decline coefficients C_mat listed by Ojanen et al. (2010) [7]_: 1 reproduces the original
(pine sapwood) decline; 0.5, 0.25 and 0.1 are for materials on which mould recedes more slowly during dry
spells. [-]"""

VTT_INDEX_MAX: Final = 6.0
"""Top of the mould index scale: heavy and tight growth, coverage about 100 % [6]_. [-]"""


@dataclass(frozen=True)
class VTTSensitivity:
    """One sensitivity class of the VTT model, Table 1 and 2 of Ojanen et al. (2010) [7]_.

    Attributes
    ----------
    k1_below_one : float
        Growth intensity while M < 1 (relative to pine sapwood). [-]
    k1_from_one : float
        Growth intensity once M ≥ 1. [-]
    a, b, c : float
        Coefficients of the highest attainable index, M_max = A + B x - C x². [-]
    rh_min : float
        Lowest relative humidity at which growth can start. [%]
    """

    k1_below_one: float
    k1_from_one: float
    a: float
    b: float
    c: float
    rh_min: float


VTT_SENSITIVITY_CLASSES: Final = {
    "very_sensitive": VTTSensitivity(k1_below_one=1.0, k1_from_one=2.0, a=1.0, b=7.0, c=2.0, rh_min=80.0),
    "sensitive": VTTSensitivity(k1_below_one=0.578, k1_from_one=0.386, a=0.3, b=6.0, c=1.0, rh_min=80.0),
    "medium_resistant": VTTSensitivity(
        k1_below_one=0.072, k1_from_one=0.097, a=0.0, b=5.0, c=1.5, rh_min=85.0
    ),
    "resistant": VTTSensitivity(k1_below_one=0.033, k1_from_one=0.014, a=0.0, b=3.0, c=1.0, rh_min=85.0),
}
"""The four sensitivity classes of Ojanen et al. (2010) [7]_. Their examples: pine sapwood is very
sensitive; spruce, glued boards and paper-faced PUR are sensitive; concrete and mineral wool are medium
resistant; glass, metals and polished PUR are resistant. Painted plaster and plasterboard are usually
taken as sensitive, with very sensitive as the cautious choice."""
