"""Physical constants and published coefficients the simulator uses, each with its source.

The simulator carries its own copies on purpose: it is the ground truth the
rest of DampWatch is tested against, so it shares no physics code with
``analytics`` (see ``shared/SCIENCE.md``).

References
----------
.. [1] WMO (2018). Guide to Instruments and Methods of Observation (WMO-No. 8),
   Annex 4.B; Sonntag, D. (1990). Important new values of the physical constants
   of 1986, vapour pressure formulations based on the ITS-90, and psychrometer
   formulae. Z. Meteorol. 40(5), 340-344.
.. [2] BS EN ISO 13788:2012. Hygrothermal performance of building components and
   building elements. Internal surface temperature to avoid critical surface
   humidity and interstitial condensation.
.. [3] Hukka, A. and Viitanen, H. (1999). A mathematical model of mould growth on
   wooden material. Wood Sci. Technol. 33, 475-485. doi:10.1007/s002260050131
.. [4] Ojanen, T., Viitanen, H., Peuhkuri, R., Lähdesmäki, K., Vinha, J. and
   Salminen, K. (2010). Mould growth modeling of building structures using
   sensitivity classes of materials. Proc. Buildings XI, ASHRAE.
.. [5] Met Office HadCET: Central England Temperature monthly means, 1991-2020.
.. [6] Sensirion (2022). Datasheet SHT3x-DIS, version 7.
"""

from __future__ import annotations

from typing import NamedTuple


class MagnusCoefficients(NamedTuple):
    """Coefficients of the Magnus formula ``e_s = a · exp(b t / (c + t))`` [Pa, °C]."""

    a_pa: float
    b: float
    c_c: float


#: Magnus form over liquid water, WMO-No. 8 / Sonntag 1990 [1]; valid about -45 to 60 °C.
MAGNUS_WMO_WATER = MagnusCoefficients(611.2, 17.62, 243.12)
#: Magnus form over ice, WMO-No. 8 [1]; valid about -65 to 0 °C.
MAGNUS_WMO_ICE = MagnusCoefficients(611.2, 22.46, 272.62)

#: Water vapour: 1 / R_v · 1000 g/kg with R_v = 461.5 J/(kg·K), so ρ_v [g/m³] = 2.1668 · e [Pa] / T [K].
ABSOLUTE_HUMIDITY_FACTOR_G_K_PER_M3_PA = 2.1668
#: 0 °C in kelvin.
ZERO_CELSIUS_K = 273.15

#: BS EN ISO 13788 [2] / BRE IP1/06 design minimum temperature factor for dwellings.
F_RSI_DESIGN_MIN = 0.75
#: Surface RH above which mould is expected as a monthly mean (BS EN ISO 13788 [2]) [%].
MOULD_SURFACE_RH_PCT = 80.0


class VTTSensitivity(NamedTuple):
    """One material sensitivity class of the VTT mould model (Ojanen et al. 2010 [4])."""

    k1_below_1: float
    k1_from_1: float
    a: float
    b: float
    c: float
    rh_min_pct: float


#: Sensitivity classes, Ojanen et al. 2010 [4], Table 2 (as transcribed in shared/SCIENCE.md).
VTT_SENSITIVITY = {
    "very_sensitive": VTTSensitivity(1.0, 2.0, 1.0, 7.0, 2.0, 80.0),
    "sensitive": VTTSensitivity(0.578, 0.386, 0.3, 6.0, 1.0, 80.0),
    "medium_resistant": VTTSensitivity(0.072, 0.097, 0.0, 5.0, 1.5, 85.0),
    "resistant": VTTSensitivity(0.033, 0.014, 0.0, 3.0, 1.0, 85.0),
}
#: Decline of the mould index in unfavourable conditions [per day], Hukka & Viitanen 1999 [3],
#: by hours since the dry spell began: first 6 h, hours 7-24, from hour 25.
VTT_DECLINE_PER_DAY = (-0.032, 0.0, -0.016)
VTT_DECLINE_HOURS = (6, 24)
#: Growth is possible only for 0 < T < 50 °C [3].
VTT_TEMPERATURE_RANGE_C = (0.0, 50.0)

#: Central England monthly mean temperature is about 4.5 °C in January and 17 °C in July [5];
#: a sinusoid with this annual mean and amplitude, coldest mid-January, fits within ~1 K.
UK_ANNUAL_MEAN_TEMPERATURE_C = 10.4
UK_ANNUAL_AMPLITUDE_K = 6.3
UK_COLDEST_DAY_OF_YEAR = 15
#: Half the daily temperature range [K]: about 2.5 K in midwinter, 4 K in midsummer.
UK_DAILY_AMPLITUDE_WINTER_K = 2.5
UK_DAILY_AMPLITUDE_SUMMER_K = 4.0
#: Hour of the daily maximum, local solar time.
UK_DAILY_PEAK_HOUR = 15.0
#: Outdoor relative humidity: monthly means about 87 % in December-January and 74 % in June-July.
UK_RH_ANNUAL_MEAN_PCT = 80.5
UK_RH_ANNUAL_AMPLITUDE_PCT = 6.5
#: Synoptic weather anomalies as AR(1): standard deviation and correlation time.
WEATHER_TEMPERATURE_SD_K = 2.5
WEATHER_RH_SD_PCT = 6.0
WEATHER_CORRELATION_HOURS = 60.0

#: SHT3x-like sensor [6]: typical accuracy ±0.2 °C and ±2 %RH, resolution 0.01.
SENSOR_TEMPERATURE_ACCURACY_C = 0.2
SENSOR_HUMIDITY_ACCURACY_PCT = 2.0
SENSOR_TEMPERATURE_NOISE_C = 0.03
SENSOR_HUMIDITY_NOISE_PCT = 0.3
SENSOR_RESOLUTION_DECIMALS = 2
