"""Radioactive decay: the decay law, half-life, activity and decay correction, with tabulated
half-lives of four medical radionuclides.

Taught in ``chapters/pet-spect/decay.ipynb`` (section 6.1 of the key formulas). Times are in
seconds, activities in becquerel.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_scalar, check_broadcast

__all__ = [
    "NUCLIDES",
    "Nuclide",
    "activity",
    "decay",
    "decay_constant",
    "decay_correction",
    "half_life",
]


class Nuclide(NamedTuple):
    """Half-life of a radionuclide with its standard uncertainty and source."""

    half_life_s: float
    uncertainty_s: float
    source: str


#: Half-lives of the four workhorse nuclides of nuclear medicine (standard uncertainty, 1 sigma).
NUCLIDES: dict[str, Nuclide] = {
    "F-18": Nuclide(109.734 * 60, 0.008 * 60, "NUBASE2020 (Kondev et al. 2021): 109.734(8) min"),
    "Tc-99m": Nuclide(6.0072 * 3600, 0.0009 * 3600,
                      "ENSDF (Browne & Tuli 2017, Nucl. Data Sheets 145:25), NNDC: 6.0072(9) h"),
    "Ga-68": Nuclide(67.83 * 60, 0.20 * 60,
                     "DDEP evaluation (Kuzmenko 2019, Appl. Radiat. Isot. 152:188): 67.83(20) min"),
    "C-11": Nuclide(20.3402 * 60, 0.0053 * 60, "NUBASE2020 (Kondev et al. 2021): 20.3402(53) min"),
}



def decay(n0, t_s, *, half_life_s: float) -> np.ndarray:
    """Number of nuclei left after a time t: N(t) = N0 exp(-lambda t).

    Parameters
    ----------
    n0 : array_like
        Initial number of nuclei N0 (>= 0); any quantity proportional to it (activity, counts
        per second) decays the same way.
    t_s : array_like
        Elapsed time t, s (negative values go back in time). Broadcast with ``n0``.
    half_life_s : float
        Half-life T1/2 (> 0), s; lambda = ln 2 / T1/2 (:func:`decay_constant`).

    Returns
    -------
    numpy.ndarray or float
        N(t).

    Raises
    ------
    ValueError
        If ``n0`` is negative or the half-life is not positive.

    Notes
    -----
    :formula:`pet.decay`. Each nucleus decays independently with probability lambda dt in dt, so
    dN/dt = -lambda N. After one half-life N = N0 / 2, after ten about N0 / 1000.
    """
    n = as_array(n0, "n0", low=0)
    t = as_array(t_s, "t_s")
    check_broadcast(n0=n, t_s=t)
    lam = decay_constant(half_life_s)
    out = n * np.exp(-lam * t)
    return out if out.ndim else float(out)


def decay_constant(half_life_s: float) -> float:
    """Decay constant from the half-life: lambda = ln 2 / T1/2.

    Parameters
    ----------
    half_life_s : float
        Half-life (> 0), s.

    Returns
    -------
    float
        lambda in 1/s; 1/lambda is the mean life.

    Raises
    ------
    ValueError
        If the half-life is not positive.

    Notes
    -----
    :formula:`pet.half-life` (solved for lambda): exp(-lambda T1/2) = 1/2.
    """
    t_half = as_scalar(half_life_s, "half_life_s", low=0.0, low_inclusive=False)
    return float(np.log(2.0) / t_half)


def half_life(decay_constant_per_s: float) -> float:
    """Half-life from the decay constant: T1/2 = ln 2 / lambda (formula pet.half-life).

    Parameters
    ----------
    decay_constant_per_s : float
        lambda (> 0), 1/s.

    Returns
    -------
    float
        T1/2 in s.

    Raises
    ------
    ValueError
        If lambda is not positive.
    """
    lam = as_scalar(decay_constant_per_s, "decay_constant_per_s", low=0.0, low_inclusive=False)
    return float(np.log(2.0) / lam)


def activity(n_nuclei, *, half_life_s: float) -> np.ndarray:
    """Activity (decays per second) of N nuclei: A = lambda N.

    Parameters
    ----------
    n_nuclei : array_like
        Number of radioactive nuclei N (>= 0).
    half_life_s : float
        Half-life (> 0), s.

    Returns
    -------
    numpy.ndarray or float
        Activity in becquerel (1 Bq = 1 decay/s; 1 MBq = 1e6 Bq; 1 mCi = 37 MBq).

    Raises
    ------
    ValueError
        If N is negative or the half-life not positive.

    Notes
    -----
    :formula:`pet.activity`. A = -dN/dt. A 370 MBq FDG dose is only about 3.5e12 nuclei of F-18,
    some 1e-10 g: PET tracers are given in trace amounts.
    """
    n = as_array(n_nuclei, "n_nuclei", low=0)
    out = decay_constant(half_life_s) * n
    return out if out.ndim else float(out)


def decay_correction(t_s, *, half_life_s: float, frame_duration_s: float = 0.0) -> np.ndarray:
    """Factor that refers a measured activity back to a reference time.

    Parameters
    ----------
    t_s : array_like
        Time from the reference (e.g. injection) to the start of the measurement (>= 0), s.
    half_life_s : float
        Half-life (> 0), s.
    frame_duration_s : float, optional
        Length Delta of the acquisition frame (>= 0), s. The counts of a frame average the decaying
        activity over it, which adds the factor lambda Delta / (1 - exp(-lambda Delta)).

    Returns
    -------
    numpy.ndarray or float
        D = exp(lambda t) (times the frame factor); multiply the measured activity by D.

    Raises
    ------
    ValueError
        If a time is negative or the half-life not positive.

    Notes
    -----
    :formula:`pet.decay-correction`. An F-18 scan started 60 min after injection needs
    D = 2^(60 / 109.7) = 1.46. The frame factor is 1 + lambda Delta / 2 + ... for short frames.
    """
    t = as_array(t_s, "t_s", low=0)
    lam = decay_constant(half_life_s)
    delta = as_scalar(frame_duration_s, "frame_duration_s", low=0.0)
    x = lam * delta
    frame = 1.0 if x == 0 else x / -np.expm1(-x)
    out = np.exp(lam * t) * frame
    return out if out.ndim else float(out)
