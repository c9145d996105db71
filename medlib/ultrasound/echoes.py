"""Echo formation: attenuation in nepers and decibels, its power law in frequency alpha_0 f^n
(the dB/cm/MHz rule for soft tissue, f^2 for water), acoustic impedance, reflection and
transmission at an interface.

Taught in ``chapters/ultrasound/echoes.ipynb`` (section 5.2 of the key formulas).

Units are named in the arguments: SI for the wave itself (``speed_m_per_s``, ``frequency_hz``,
``depth_m``, ``t_s``), clinical units where the field quotes them (``alpha_db_per_cm_mhz``,
``frequency_mhz``, ``depth_cm``).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_bool, as_choice, as_scalar, check_broadcast
from .waves import TISSUES, tissue

__all__ = [
    "NEPER_TO_DB",
    "attenuate",
    "attenuate_db",
    "attenuation_db",
    "db_to_neper",
    "impedance",
    "neper_to_db",
    "reflection_coefficient",
    "tissue_attenuation_db",
    "transmission_coefficient",
]

#: Decibels per neper for amplitudes: 20 log10(e) = 8.686 dB/Np.
NEPER_TO_DB = 20.0 / np.log(10.0)


def attenuate(amplitude, alpha_np_per_cm, depth_cm) -> np.ndarray:
    """Amplitude after a path of length d: A(d) = A0 exp(-alpha d), alpha in nepers per cm.

    Parameters
    ----------
    amplitude : array_like
        Amplitude A0 at d = 0 (any unit, >= 0).
    alpha_np_per_cm : float or array_like
        Amplitude attenuation coefficient alpha (>= 0), Np/cm (convert from dB with
        :func:`db_to_neper`).
    depth_cm : array_like
        Path length d (>= 0), cm. All three broadcast.

    Returns
    -------
    numpy.ndarray
        A(d), same unit as ``amplitude``.

    Raises
    ------
    ValueError
        If an argument is negative or not finite.

    Notes
    -----
    :formula:`us.attenuation`. The intensity (proportional to amplitude squared) decays as
    exp(-2 alpha d): in nepers the intensity coefficient is twice the amplitude coefficient,
    while in decibels the two are the same number (see :func:`neper_to_db`).
    """
    a0 = as_array(amplitude, "amplitude")
    alpha = as_array(alpha_np_per_cm, "alpha_np_per_cm")
    d = as_array(depth_cm, "depth_cm")
    for arr, name in ((a0, "amplitude"), (alpha, "alpha_np_per_cm"), (d, "depth_cm")):
        if np.any(arr < 0):
            raise ValueError(f"{name} must be >= 0")
    check_broadcast(amplitude=a0, alpha_np_per_cm=alpha, depth_cm=d)
    return a0 * np.exp(-alpha * d)


def attenuation_db(alpha_db_per_cm_mhz, frequency_mhz, depth_cm, *, round_trip: bool = False,
                   exponent: float = 1.0) -> np.ndarray:
    """Loss in dB over a path in tissue, by the dB/cm/MHz rule: alpha_dB = alpha_0 f^n d.

    Parameters
    ----------
    alpha_db_per_cm_mhz : float or array_like
        Attenuation slope alpha_0 (>= 0), dB/(cm MHz^n) (e.g. 0.5 for soft tissue).
    frequency_mhz : float or array_like
        Frequency f (> 0), MHz.
    depth_cm : array_like
        One-way path length d (>= 0), cm.
    round_trip : bool, optional
        True: count the path twice (to a reflector and back), as an echo does.
    exponent : float, optional
        Power law exponent n (>= 0; default 1: attenuation proportional to frequency, the usual
        approximation for soft tissue; water has n = 2). :func:`tissue_attenuation_db` takes
        alpha_0 and n from the tissue table.

    Returns
    -------
    numpy.ndarray
        The loss in dB (a positive number); the amplitude is multiplied by 10^(-loss/20).

    Raises
    ------
    TypeError
        If ``round_trip`` is not True or False (a string such as 'False' is refused).
    ValueError
        If an argument is out of range or the arrays do not broadcast together.

    Notes
    -----
    :formula:`us.attenuation-frequency`. At 0.5 dB/cm/MHz, an echo from 10 cm at 5 MHz has lost
    0.5 * 5 * 20 = 50 dB; at 10 MHz, 100 dB, below the noise floor: higher frequency buys
    resolution and costs penetration.
    """
    a0 = as_array(alpha_db_per_cm_mhz, "alpha_db_per_cm_mhz", low=0)
    f = as_array(frequency_mhz, "frequency_mhz", low=0, low_inclusive=False)
    d = as_array(depth_cm, "depth_cm", low=0)
    n = as_scalar(exponent, "exponent", low=0.0)
    check_broadcast(alpha_db_per_cm_mhz=a0, frequency_mhz=f, depth_cm=d)
    factor = 2.0 if as_bool(round_trip, "round_trip") else 1.0
    path = a0 * d
    with np.errstate(over="ignore", invalid="ignore"):
        fn = f**n                                 # may overflow to inf for a large exponent
        # no path (d = 0) or no attenuation (alpha_0 = 0) loses 0 dB whatever f^n is (the
        # product inf * 0 = NaN it would give is replaced)
        return (np.where(path == 0, 0.0, path * fn) * factor)[()]


def tissue_attenuation_db(name: str, frequency_mhz, depth_cm, *,
                          round_trip: bool = False) -> np.ndarray:
    """Loss in dB over a path in a tabulated tissue: alpha_0 f^n d with the tissue's own n.

    Parameters
    ----------
    name : str
        A key of :data:`~medlib.ultrasound.waves.TISSUES` that has an attenuation (all but air).
    frequency_mhz : float or array_like
        Frequency f (> 0), MHz.
    depth_cm : array_like
        One-way path length d (>= 0), cm.
    round_trip : bool, optional
        True: count the path twice, as an echo does.

    Returns
    -------
    numpy.ndarray
        The loss in dB (:func:`attenuation_db` with the tissue's alpha_0 and exponent n).

    Raises
    ------
    TypeError
        If ``round_trip`` is not True or False (a string such as 'False' is refused).
    ValueError
        If the tissue is unknown, is air, or another argument is out of range.

    Notes
    -----
    Formula us.attenuation-frequency with the exponent of the table: n = 1 for the tissues,
    n = 2 for water, whose loss therefore grows fourfold, not twofold, when f doubles (0.55 dB
    over 10 cm at 5 MHz, not 0.11 dB). Air has no entry: its absorption grows as f^2 as well,
    but a tissue/air interface reflects 99.9 % of the intensity, so no echo from beyond air
    reaches the probe and air enters imaging only through its impedance.
    """
    as_bool(round_trip, "round_trip")
    t = tissue(name)
    if not np.isfinite(t.attenuation_db_per_cm_mhz):
        has = ", ".join(k for k, v in TISSUES.items() if np.isfinite(v.attenuation_db_per_cm_mhz))
        raise ValueError(
            f"name: no attenuation is tabulated for {name!r}: a tissue/air interface reflects "
            f"99.9 % of the intensity, so use reflection_coefficient; tissues with one: {has}")
    return attenuation_db(t.attenuation_db_per_cm_mhz, frequency_mhz, depth_cm,
                          round_trip=round_trip, exponent=t.attenuation_exponent)


def attenuate_db(level_db, alpha_db_per_cm, depth_cm) -> np.ndarray:
    """Amplitude level in dB after a path: A_dB(d) = A_dB(0) - alpha_dB d.

    Parameters
    ----------
    level_db : array_like
        Level at d = 0, dB (20 log10 of the amplitude over a reference).
    alpha_db_per_cm : float or array_like
        Attenuation at the working frequency (>= 0), dB/cm (alpha_0 f from
        :func:`attenuation_db` with d = 1).
    depth_cm : array_like
        Path length d (>= 0), cm.

    Returns
    -------
    numpy.ndarray
        The level in dB: exponential decay of the amplitude is a straight line in dB.

    Raises
    ------
    ValueError
        If the attenuation or the depth is negative.

    Notes
    -----
    :formula:`us.attenuation-db`. Equivalent to :func:`attenuate` with
    alpha_dB = 8.686 alpha_Np (formula us.neper-db gives the factor, see :func:`neper_to_db`).
    """
    level = as_array(level_db, "level_db")
    alpha = as_array(alpha_db_per_cm, "alpha_db_per_cm", low=0)
    d = as_array(depth_cm, "depth_cm", low=0)
    check_broadcast(level_db=level, alpha_db_per_cm=alpha, depth_cm=d)
    return level - alpha * d


def neper_to_db(alpha_np) -> np.ndarray:
    """Convert an amplitude attenuation from nepers to decibels: x 20 log10(e) = 8.686.

    Parameters
    ----------
    alpha_np : array_like
        Attenuation in Np (or Np/cm, Np/(cm MHz)).

    Returns
    -------
    numpy.ndarray or float
        The same attenuation in dB (per the same length and frequency unit).

    Notes
    -----
    :formula:`us.neper-db`. A loss of 1 Np divides the amplitude by e; in dB that is
    20 log10(e) = 8.686 dB. The factor is 20 (not 10) because decibels of an amplitude are
    20 log10 of its ratio (10 log10 of the intensity ratio, the same number).
    """
    a = as_array(alpha_np, "alpha_np")
    out = a * NEPER_TO_DB
    return out if out.ndim else float(out)


def db_to_neper(alpha_db) -> np.ndarray:
    """Convert an amplitude attenuation from decibels to nepers: / 8.686 (inverse of
    :func:`neper_to_db`, formula us.neper-db).

    Parameters
    ----------
    alpha_db : array_like
        Attenuation in dB (per any length and frequency unit).

    Returns
    -------
    numpy.ndarray or float
        The same attenuation in Np.
    """
    a = as_array(alpha_db, "alpha_db")
    out = a / NEPER_TO_DB
    return out if out.ndim else float(out)


def impedance(density_kg_per_m3, speed_m_per_s) -> np.ndarray:
    """Characteristic acoustic impedance Z = rho c.

    Parameters
    ----------
    density_kg_per_m3 : array_like
        Density rho (> 0), kg/m^3.
    speed_m_per_s : array_like
        Speed of sound c (> 0), m/s.

    Returns
    -------
    numpy.ndarray or float
        Z in rayl (kg m^-2 s^-1 = Pa s/m); soft tissue is about 1.6e6 rayl = 1.6 MRayl.

    Raises
    ------
    ValueError
        If a density or speed is not positive.

    Notes
    -----
    :formula:`us.impedance`. Z is the ratio of acoustic pressure to particle velocity in a plane
    wave; a jump in Z, not in density or speed alone, is what reflects sound.
    """
    rho = as_array(density_kg_per_m3, "density_kg_per_m3", low=0, low_inclusive=False)
    c = as_array(speed_m_per_s, "speed_m_per_s", low=0, low_inclusive=False)
    out = rho * c
    return out if out.ndim else float(out)


def _impedances(z1, z2):
    a = as_array(z1, "z1", low=0, low_inclusive=False)
    b = as_array(z2, "z2", low=0, low_inclusive=False)
    return a, b


def reflection_coefficient(z1, z2, *, kind: str = "intensity") -> np.ndarray:
    """Reflection at normal incidence on a flat interface from medium 1 into medium 2.

    Parameters
    ----------
    z1, z2 : array_like
        Acoustic impedances (> 0) of the first and second medium, in the same unit.
    kind : {"intensity", "pressure"}, optional
        "intensity" (default): R = ((Z2 - Z1) / (Z2 + Z1))^2, the fraction of the incident
        intensity (power) reflected, in [0, 1] and symmetric in Z1, Z2. "pressure": the signed
        amplitude ratio r = (Z2 - Z1) / (Z2 + Z1), in [-1, 1]; negative means the echo is
        inverted (from a softer medium, e.g. tissue to gas).

    Returns
    -------
    numpy.ndarray or float
        The coefficient (dimensionless).

    Raises
    ------
    ValueError
        If an impedance is not positive or ``kind`` is unknown.

    Notes
    -----
    :formula:`us.reflection` (the intensity form of the seed). The intensity reflected and
    transmitted add up to 1 (:func:`transmission_coefficient`); the amplitudes do not.
    """
    a, b = _impedances(z1, z2)
    as_choice(kind, "kind", ("intensity", "pressure"))
    r = (b - a) / (b + a)
    out = r**2 if kind == "intensity" else r
    return out if out.ndim else float(out)


def transmission_coefficient(z1, z2, *, kind: str = "intensity") -> np.ndarray:
    """Transmission at normal incidence: intensity T = 4 Z1 Z2 / (Z1 + Z2)^2 = 1 - R, or the
    pressure amplitude ratio t = 2 Z2 / (Z1 + Z2) (which exceeds 1 into a harder medium).

    Parameters
    ----------
    z1, z2 : array_like
        Impedances (> 0) of the first and second medium.
    kind : {"intensity", "pressure"}, optional
        Which coefficient.

    Returns
    -------
    numpy.ndarray or float
        The coefficient (formula us.reflection, its complement).

    Raises
    ------
    ValueError
        If an impedance is not positive or ``kind`` is unknown.
    """
    a, b = _impedances(z1, z2)
    as_choice(kind, "kind", ("intensity", "pressure"))
    out = 4 * a * b / (a + b) ** 2 if kind == "intensity" else 2 * b / (a + b)
    return out if out.ndim else float(out)
