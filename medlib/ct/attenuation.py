"""X-ray attenuation: tabulated coefficients, the Lambert-Beer law, the log transform and its
Poisson noise, and a thorax phantom with realistic attenuation.

Taught in ``chapters/ct/attenuation.ipynb`` (section 3.1 of the key formulas); the thorax
phantom is also the patient of ``chapters/ct/fbp.ipynb``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_choice, as_int, as_scalar, check_broadcast

__all__ = [
    "MATERIALS",
    "attenuate",
    "attenuation_coefficient",
    "line_integral",
    "log_transform",
    "log_variance",
    "thorax_ellipses",
]

# Mass attenuation coefficients mu/rho (cm^2/g, coherent scattering included) from the NIST
# X-Ray Mass Attenuation Coefficients tables (Hubbell & Seltzer, NIST SRD 126), Table 4:
# "Water, Liquid", "Tissue, Soft (ICRU-44)", "Bone, Cortical (ICRU-44)", "Lung Tissue (ICRU-44)"
# and "Air, Dry (near sea level)". Densities (g/cm^3): NIST Table 2, except inflated lung, whose
# bulk density (0.26 g/cm^3, a commonly used value for inflated lung; phantoms use roughly 0.25
# to 0.4 depending on the breathing state) replaces the 1.05 g/cm^3 of lung *tissue*.
_ENERGIES_KEV = np.array([40.0, 50.0, 60.0, 80.0, 100.0])
MATERIALS: dict[str, dict] = {
    "water": {"density": 1.000, "mu_rho": (0.2683, 0.2269, 0.2059, 0.1837, 0.1707)},
    "soft tissue": {"density": 1.060, "mu_rho": (0.2688, 0.2264, 0.2048, 0.1823, 0.1693)},
    "bone": {"density": 1.920, "mu_rho": (0.6655, 0.4242, 0.3148, 0.2229, 0.1855)},
    "lung": {"density": 0.260, "mu_rho": (0.2699, 0.2270, 0.2053, 0.1826, 0.1695)},
    "air": {"density": 1.205e-3, "mu_rho": (0.2485, 0.2080, 0.1875, 0.1662, 0.1541)},
}
"""Tabulated materials: density (g/cm^3) and mu/rho (cm^2/g) at 40, 50, 60, 80 and 100 keV."""


def attenuation_coefficient(material: str, energy_kev: float = 60.0) -> float:
    """Linear attenuation coefficient of a body material at one photon energy.

    Parameters
    ----------
    material : {"water", "soft tissue", "bone", "lung", "air"}
        ``"bone"`` is cortical bone, ``"lung"`` inflated lung (tissue and air, 0.26 g/cm^3).
    energy_kev : float, optional
        Photon energy in keV, 40 to 100 (default 60, close to the effective energy of a
        120 kVp CT beam).

    Returns
    -------
    float
        mu = (mu/rho) * rho in 1/cm. Between tabulated energies mu/rho is interpolated
        linearly in log(mu/rho) versus log(E), as NIST recommends; at 40, 50, 60, 80 and
        100 keV the table value is returned exactly.

    Raises
    ------
    ValueError
        If the material is unknown or the energy lies outside 40-100 keV.

    References
    ----------
    J. H. Hubbell and S. M. Seltzer, "Tables of X-Ray Mass Attenuation Coefficients and Mass
    Energy-Absorption Coefficients", NIST Standard Reference Database 126 (1996, updated 2004),
    https://physics.nist.gov/PhysRefData/XrayMassCoef/. The inflated-lung density 0.26 g/cm^3 is
    a conventional value (phantoms use about 0.25-0.4 g/cm^3 depending on the breathing state).
    """
    name = as_choice(material, "material", tuple(MATERIALS))
    e = as_scalar(energy_kev, "energy_kev", low=_ENERGIES_KEV[0], high=_ENERGIES_KEV[-1])
    entry = MATERIALS[name]
    log_mu_rho = np.interp(np.log(e), np.log(_ENERGIES_KEV), np.log(entry["mu_rho"]))
    return float(np.exp(log_mu_rho) * entry["density"])


def attenuate(i0, mu_per_cm, step_cm: float, *, axis: int = -1) -> np.ndarray:
    """Lambert-Beer law along sampled rays: I = I0 exp(-sum_s mu(s) ds).

    Parameters
    ----------
    i0 : float or array_like
        Incident intensity (photons per detector element, or any intensity unit), >= 0;
        broadcast against the result (one value per ray, or a scalar).
    mu_per_cm : array_like
        Linear attenuation coefficients (1/cm, >= 0) sampled along each ray at equal steps;
        the samples of one ray run along ``axis``.
    step_cm : float
        Distance between samples along the ray, in cm (> 0).
    axis : int, optional
        Axis along which the rays run (default: last).

    Returns
    -------
    numpy.ndarray
        Transmitted intensity, in the unit of ``i0``; shape of ``mu_per_cm`` without ``axis``.

    Raises
    ------
    ValueError
        If ``mu_per_cm`` or ``i0`` is negative or not finite, ``step_cm`` <= 0, or ``i0`` does
        not broadcast against the rays.

    Notes
    -----
    :formula:`ct.beer-lambert`. The line integral in the exponent is evaluated by
    :func:`line_integral` (formula ct.line-integral). Valid for a monochromatic, narrow beam
    without scatter; a real polychromatic beam hardens along the path.
    """
    p = line_integral(mu_per_cm, step_cm, axis=axis)
    i_0 = as_array(i0, "i0", low=0)
    try:
        np.broadcast_shapes(i_0.shape, p.shape)
    except ValueError:
        raise ValueError(f"i0 of shape {i_0.shape} must broadcast against the rays of mu_per_cm "
                         f"(shape {np.shape(mu_per_cm)} without axis {axis}: {p.shape})") from None
    return i_0 * np.exp(-p)


def line_integral(mu_per_cm, step_cm: float, *, axis: int = -1) -> np.ndarray:
    """Line integral of the attenuation along sampled rays: p = int_L mu(s) ds.

    Parameters
    ----------
    mu_per_cm : array_like
        Linear attenuation coefficients (1/cm, >= 0), sampled at the midpoints of equal
        steps along each ray; the samples of one ray run along ``axis``.
    step_cm : float
        Step length in cm (> 0).
    axis : int, optional
        Axis along which the rays run (default: last).

    Returns
    -------
    numpy.ndarray
        p = sum_i mu_i * step_cm (dimensionless), the midpoint rule for the integral.

    Raises
    ------
    ValueError
        If ``mu_per_cm`` is negative or not finite, or ``step_cm`` <= 0.

    Notes
    -----
    :formula:`ct.line-integral`. The midpoint rule integrates piecewise-constant (voxelised)
    attenuation exactly when the steps follow the voxel boundaries.
    """
    mu = as_array(mu_per_cm, "mu_per_cm", low=0)
    ds = as_scalar(step_cm, "step_cm", low=0.0, low_inclusive=False)
    ax = as_int(axis, "axis", low=-mu.ndim, high=mu.ndim - 1) if mu.ndim else None
    if ax is None:
        raise ValueError("mu_per_cm must have at least one dimension (the ray)")
    return mu.sum(axis=ax) * ds


def log_transform(intensity, i0, *, floor: float | None = None) -> np.ndarray:
    """Projection value from a measured intensity: p = -ln(I / I0).

    Parameters
    ----------
    intensity : array_like
        Measured intensity or photon counts I (after dark-current subtraction).
    i0 : float or array_like
        Unattenuated intensity I0 (> 0), broadcast against ``intensity`` (a scalar, or one
        value per detector element from a blank scan).
    floor : float, optional
        Where ``intensity`` is below ``floor`` it is replaced by ``floor`` before the log
        (0 < floor <= min(i0)). Photon-counting data usually take ``floor`` = 1 count or a
        fraction of it. Without a floor, any I <= 0 is an error.

    Returns
    -------
    numpy.ndarray
        p (dimensionless); with a floor, at most -ln(floor / I0).

    Raises
    ------
    ValueError
        If some ``intensity`` is <= 0 and no ``floor`` is given (photon starvation: -ln(0)
        is infinite, and one infinite ray ruins a whole reconstruction), if ``i0`` <= 0, or if
        ``floor`` is not in (0, min(i0)].

    Notes
    -----
    :formula:`ct.log-transform`. The floor is the simplest safe practice; it biases the
    starved rays (their true p is larger) but keeps them finite, and the bias is visible in
    the result. Better practices replace starved rays by interpolation from neighbours or
    reconstruct from the counts with a Poisson likelihood (statistical reconstruction).
    """
    counts = as_array(intensity, "intensity")
    i_0 = as_array(i0, "i0", low=0, low_inclusive=False)
    check_broadcast(intensity=counts, i0=i_0)
    if floor is None:
        starved = int(np.count_nonzero(counts <= 0))
        if starved:
            raise ValueError(
                f"intensity has {starved} value(s) <= 0, where -ln(I/I0) is infinite (photon "
                "starvation); pass floor=... (e.g. 1 count) to clip them, or exclude those rays"
            )
        return -np.log(counts / i_0)
    f = as_scalar(floor, "floor", low=0.0, low_inclusive=False)
    if f > float(i_0.min()):
        raise ValueError(f"floor must be <= i0 (min {float(i_0.min())}), got {f}")
    return -np.log(np.maximum(counts, f) / i_0)


def log_variance(p, i0, *, order: int = 1) -> np.ndarray:
    """Variance of a log-transformed Poisson count: Var(p_hat) ~ exp(p) / I0.

    Parameters
    ----------
    p : array_like
        True line integrals (dimensionless, >= 0).
    i0 : float or array_like
        Expected unattenuated counts per detector element (> 0).
    order : {1, 2}, optional
        Order of the delta-method expansion in 1 / E[I] (default 1, the formula of the book).

    Returns
    -------
    numpy.ndarray
        The variance of p_hat = -ln(I / I0) when I ~ Poisson(m), m = E[I] = I0 exp(-p):
        1 / m = exp(p) / I0 to first order, 1 / m + 3 / (2 m^2) to second order.

    Raises
    ------
    ValueError
        If ``p`` < 0, ``i0`` <= 0 or ``order`` is not 1 or 2.

    Notes
    -----
    :formula:`ct.log-variance`. The variance grows exponentially with the attenuation: each
    extra 0.69 of p (one half-value layer) doubles it. The approximation needs E[I] >> 1;
    near zero counts the log transform is not even defined (see :func:`log_transform`).

    Second order: write I = m (1 + e), so E[e] = 0, E[e^2] = 1/m, E[e^3] = 1/m^2 and
    E[e^4] = 3/m^2 + 1/m^3 (the central moments of a Poisson variable are m, m and
    3 m^2 + m), and every higher moment is O(m^-3). Then ln I - ln m = e - e^2/2 + e^3/3 - ...,
    whose mean is -1/(2m) + O(m^-2) and whose second moment is
    E[e^2] - E[e^3] + (1/4 + 2/3) E[e^4] + O(m^-3) = 1/m - 1/m^2 + 11/(4 m^2) + O(m^-3), so

        Var(ln I) = 1/m + 7/(4 m^2) - 1/(4 m^2) + O(m^-3) = 1/m + 3/(2 m^2) + O(m^-3).

    At m = 25 counts the second-order term adds 6 % to the first-order variance. The tests
    check it against the exact variance (a sum over the Poisson distribution) and against a
    simulation.
    """
    pp = as_array(p, "p", low=0)
    i_0 = as_array(i0, "i0", low=0, low_inclusive=False)
    check_broadcast(p=pp, i0=i_0)
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    first = np.exp(pp) / i_0
    if order == 1:
        return first
    return first + 1.5 * first**2


# ---------------------------------------------------------------------------------------------
# Phantom with realistic attenuation coefficients
# ---------------------------------------------------------------------------------------------

def thorax_ellipses(energy_kev: float = 60.0) -> np.ndarray:
    """A simple thorax phantom: water-like body, two lungs, spine, sternum and a dense rib.

    Parameters
    ----------
    energy_kev : float, optional
        Photon energy (40-100 keV) at which the attenuation coefficients are evaluated.

    Returns
    -------
    numpy.ndarray, shape (7, 6)
        Rows (mu, a, b, x0, y0, angle_deg) for :func:`medlib.phantoms.ellipse_phantom` and
        :func:`medlib.ct.radon.radon_ellipses`; the field of view [-1, 1]^2 is meant to be 32 cm
        wide. The values *add*, so inner ellipses carry differences: the lungs hold
        mu_lung - mu_soft.

    Raises
    ------
    ValueError
        If the energy lies outside 40-100 keV.
    """
    soft = attenuation_coefficient("soft tissue", energy_kev)
    lung = attenuation_coefficient("lung", energy_kev)
    bone = attenuation_coefficient("bone", energy_kev)
    water = attenuation_coefficient("water", energy_kev)
    return np.array([
        [soft, 0.85, 0.60, 0.00, 0.00, 0.0],            # body (soft tissue)
        [lung - soft, 0.28, 0.40, -0.38, 0.05, 8.0],    # right lung (image left)
        [lung - soft, 0.28, 0.40, 0.38, 0.05, -8.0],    # left lung
        [bone - soft, 0.10, 0.09, 0.00, -0.42, 0.0],    # vertebral body
        [bone - soft, 0.07, 0.03, 0.00, 0.50, 0.0],     # sternum
        [water - soft, 0.12, 0.14, 0.10, 0.10, 20.0],   # heart (blood ~ water)
        [bone - soft, 0.03, 0.03, -0.70, -0.10, 0.0],   # a rib in cross-section
    ])
