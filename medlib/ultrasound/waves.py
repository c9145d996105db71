"""Sound waves: speed, frequency and wavelength, the travelling pressure wave, the range equation,
and the table of tissues' acoustic properties.

Taught in ``chapters/ultrasound/waves.ipynb`` (section 5.1 of the key formulas).

Units are named in the arguments: SI for the wave itself (``speed_m_per_s``, ``frequency_hz``,
``depth_m``, ``t_s``), clinical units where the field quotes them (``alpha_db_per_cm_mhz``,
``frequency_mhz``, ``depth_cm``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_choice, as_scalar, check_broadcast

__all__ = [
    "SOFT_TISSUE_SPEED_M_PER_S",
    "TISSUES",
    "Tissue",
    "echo_depth",
    "echo_time",
    "pressure_wave",
    "tissue",
    "wavelength",
]

#: The speed of sound every clinical scanner assumes when it turns echo time into depth (m/s).
SOFT_TISSUE_SPEED_M_PER_S = 1540.0


class Tissue(NamedTuple):
    """Acoustic properties of one tissue (typical values; real tissue varies by several %).

    ``attenuation_db_per_cm_mhz`` is the coefficient alpha_0 of the power law
    alpha(f) = alpha_0 f^n (alpha in dB/cm, f in MHz), so its unit is dB/(cm MHz^n) with
    n = ``attenuation_exponent``: 1 for the tissues (the usual approximation), 2 for water.
    Air has neither (NaN): no per-cm loss of air is used in imaging, because a tissue/air
    interface reflects 99.9 % of the intensity and nothing useful crosses it.
    """

    speed_m_per_s: float
    density_kg_per_m3: float
    attenuation_db_per_cm_mhz: float
    speed_range_m_per_s: tuple[float, float]
    attenuation_exponent: float = 1.0


_NAN = float("nan")

# Speeds and densities: the ranges compiled by Goss, Johnston and Dunn (1978, 1980) as summarised
# in Table 3 of a Mechanics of Materials review (2012, doi:10.1016/j.mechmat.2011.08.007); the
# value used is the middle of each range (cortical bone for "bone"). Attenuation alpha_0 of the
# tissues at 1 MHz (dB/cm), with n = 1 (the usual soft-tissue approximation; measured exponents
# are close to 1): Table 4 of Diagnostics 13:855 (2023, doi:10.3390/diagnostics13050855),
# perpendicular fibres for muscle. Water at 20 degC: 1482 m/s and 998 kg/m^3 (rounded), and
# its viscous absorption alpha/f^2 = 25e-15 s^2/m (Pinkerton 1949), i.e.
# 0.0022 dB/(cm MHz^2) with n = 2 (the same table quotes 0.0022 "dB/cm at 1 MHz"). Air at
# 20 degC, 1 atm: 343 m/s, 1.2 kg/m^3; its absorption also grows as f^2 and is left out (NaN):
# only its impedance matters. Soft-tissue row: conventional textbook values, the scanners'
# 1540 m/s, density 1060 kg/m^3 (liver, heart) and the often quoted 0.5 dB/cm/MHz (liver's
# value in the same table) and, as its range, the span of the soft tissues above (fat to liver).
TISSUES: dict[str, Tissue] = {
    "air": Tissue(343.0, 1.2, _NAN, (331.0, 355.0), _NAN),
    "water": Tissue(1482.0, 998.0, 0.0022, (1480.0, 1484.0), 2.0),
    "fat": Tissue(1478.0, 950.0, 0.63, (1468.0, 1488.0), 1.0),
    "breast": Tissue(1510.0, 1020.0, 0.75, (1490.0, 1530.0), 1.0),
    "kidney": Tissue(1560.0, 1050.0, 1.0, (1530.0, 1590.0), 1.0),
    "muscle": Tissue(1558.0, 1050.0, 0.96, (1517.0, 1600.0), 1.0),
    "heart": Tissue(1575.0, 1060.0, 0.52, (1526.0, 1623.0), 1.0),
    "liver": Tissue(1595.0, 1060.0, 0.50, (1555.0, 1635.0), 1.0),
    "soft tissue": Tissue(1540.0, 1060.0, 0.5, (1468.0, 1635.0), 1.0),
    "bone": Tissue(3600.0, 2000.0, 15.0, (3200.0, 4000.0), 1.0),
}


def tissue(name: str) -> Tissue:
    """Typical acoustic properties of a tissue from :data:`TISSUES`.

    Parameters
    ----------
    name : str
        One of the keys of :data:`TISSUES` ("fat", "liver", "bone", "air", ...).

    Returns
    -------
    Tissue
        Speed (m/s), density (kg/m^3), attenuation coefficient alpha_0 (dB/(cm MHz^n)), the
        speed range and the exponent n of alpha(f) = alpha_0 f^n (NaN for air: see
        :class:`Tissue`).

    Raises
    ------
    ValueError
        If the tissue is not tabulated.

    References
    ----------
    S. A. Goss, R. L. Johnston, F. Dunn, "Comprehensive compilation of empirical ultrasonic
    properties of mammalian tissues", J. Acoust. Soc. Am. 64(2):423, 1978, and its continuation,
    J. Acoust. Soc. Am. 68(1):93, 1980; their ranges as summarised in Mech. Mater. 44:174, 2012
    (doi:10.1016/j.mechmat.2011.08.007), Table 3. Attenuation at 1 MHz: Diagnostics 13(5):855,
    2023 (doi:10.3390/diagnostics13050855), Table 4. Water's absorption: J. M. M. Pinkerton,
    "The absorption of ultrasonic waves in liquids and its relation to molecular
    constitution", Proc. Phys. Soc. B 62(2):129, 1949. F. A. Duck, *Physical Properties of
    Tissue*, Academic Press, 1990, is the standard book-length compilation.
    """
    as_choice(name, "name", TISSUES)
    return TISSUES[name]


def wavelength(speed_m_per_s, frequency_hz) -> np.ndarray:
    """Wavelength of a sound wave, lambda = c / f.

    Parameters
    ----------
    speed_m_per_s : float or array_like
        Speed of sound c (> 0), m/s.
    frequency_hz : float or array_like
        Frequency f (> 0), Hz. Broadcasts with ``speed_m_per_s``.

    Returns
    -------
    numpy.ndarray or float
        Wavelength in metres.

    Raises
    ------
    ValueError
        If a speed or frequency is not positive and finite.

    Notes
    -----
    :formula:`us.wave-relation` -- c = lambda f. At 1540 m/s a 5 MHz wave has lambda = 0.31 mm;
    the axial resolution of a pulse of a few cycles is of that order.
    """
    c = as_array(speed_m_per_s, "speed_m_per_s", low=0, low_inclusive=False)
    f = as_array(frequency_hz, "frequency_hz", low=0, low_inclusive=False)
    out = c / f
    return out if out.ndim else float(out)


def pressure_wave(x_m, t_s, *, amplitude_pa: float, frequency_hz: float,
                  speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> np.ndarray:
    """Plane pressure wave travelling towards +x: p(x, t) = p0 cos(2 pi f t - k x).

    Parameters
    ----------
    x_m : array_like
        Positions x in metres.
    t_s : array_like
        Times t in seconds; broadcast against ``x_m`` (e.g. ``x[None, :]`` and ``t[:, None]``).
    amplitude_pa : float
        Pressure amplitude p0 (>= 0), Pa.
    frequency_hz : float
        Frequency f (> 0), Hz.
    speed_m_per_s : float, optional
        Speed of sound c (> 0), default 1540 m/s; sets the wave number
        k = 2 pi / lambda = 2 pi f / c.

    Returns
    -------
    numpy.ndarray
        Acoustic (excess) pressure in Pa, of the broadcast shape.

    Raises
    ------
    ValueError
        If a parameter is out of range, the inputs are not finite or ``x_m`` and ``t_s`` do not
        broadcast.

    Notes
    -----
    :formula:`us.pressure-wave`. A crest (phase 0) sits where 2 pi f t = k x, i.e. at
    x = (2 pi f / k) t = c t: the pattern moves at the speed of sound.
    """
    x = as_array(x_m, "x_m")
    t = as_array(t_s, "t_s")
    check_broadcast(x_m=x, t_s=t)
    p0 = as_scalar(amplitude_pa, "amplitude_pa", low=0.0)
    f = as_scalar(frequency_hz, "frequency_hz", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    k = 2 * np.pi * f / c
    return p0 * np.cos(2 * np.pi * f * t - k * x)


def echo_depth(t_s, speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> np.ndarray:
    """Depth of a reflector from the round-trip time of its echo: z = c t / 2.

    Parameters
    ----------
    t_s : array_like
        Time after transmission (>= 0), s.
    speed_m_per_s : float, optional
        Assumed speed of sound (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray or float
        Depth in metres.

    Raises
    ------
    ValueError
        If a time is negative or the speed not positive.

    Notes
    -----
    :formula:`us.range-equation` -- the pulse travels to the reflector and back, hence the 2.
    A scanner assumes 1540 m/s everywhere: in fat (about 1480 m/s) echoes arrive late and the
    reflector is drawn about 4 % too deep.
    """
    t = as_array(t_s, "t_s", low=0)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    out = c * t / 2
    return out if out.ndim else float(out)


def echo_time(depth_m, speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> np.ndarray:
    """Round-trip time of the echo from depth z: t = 2 z / c (inverse of :func:`echo_depth`).

    Parameters
    ----------
    depth_m : array_like
        Depth (>= 0), m.
    speed_m_per_s : float, optional
        Speed of sound (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray or float
        Time in seconds (formula us.range-equation solved for t).

    Raises
    ------
    ValueError
        If a depth is negative or the speed not positive.
    """
    z = as_array(depth_m, "depth_m", low=0)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    out = 2 * z / c
    return out if out.ndim else float(out)
