"""The polychromatic X-ray beam: tube spectrum, filtration, half-value layer, effective energy,
beam hardening and the water (polynomial) correction.

Taught in ``chapters/ct/polychromatic.ipynb`` (section 3.5). Sections 3.1 to 3.4 pretend that the
beam has one energy; a tube emits a continuum, and every material removes its low energies
first. This module carries its own attenuation table, 10 to 150 keV (the table of
:mod:`medlib.ct.attenuation` spans only 40 to 100 keV and is left as it is).

Spectra are sampled on a uniform energy grid: ``fluence[i]`` is the number of photons (any
unit) in the bin of width ``energy_kev[1] - energy_kev[0]`` centred on ``energy_kev[i]``. Every
quantity computed here is a ratio of sums over that grid, so the unit of ``fluence`` cancels.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.interpolate import CubicSpline

from .._validate import as_array, as_choice, as_int, as_scalar

__all__ = [
    "AIR_MU_EN_RHO",
    "XCOM_ENERGIES_KEV",
    "XCOM_MATERIALS",
    "air_kerma",
    "apply_water_correction",
    "effective_energy_kev",
    "filter_spectrum",
    "half_value_layer_mm",
    "kramers_spectrum",
    "linear_attenuation",
    "mass_attenuation",
    "polychromatic_projection",
    "tube_spectrum",
    "water_correction_coefficients",
]

XCOM_ENERGIES_KEV = np.array([10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 80.0, 100.0, 150.0])
"""Energies (keV) of the tabulated coefficients: the NIST SRD 126 grid between 10 and 150 keV."""

# Mass attenuation coefficients mu/rho (cm^2/g, coherent scattering included), typed from the
# NIST X-Ray Mass Attenuation Coefficients (Hubbell & Seltzer, NIST SRD 126): Table 3 for the
# elements (aluminium Z = 13, copper Z = 29), Table 4 for "Water, Liquid", "Tissue, Soft
# (ICRU-44)", "Bone, Cortical (ICRU-44)" and "Air, Dry (near sea level)". Densities (g/cm^3):
# NIST Tables 1 and 2. Between 40 and 100 keV they are the values of medlib.ct.attenuation.
XCOM_MATERIALS: dict[str, dict] = {
    "water": {"density": 1.000,
              "mu_rho": (5.329, 1.673, 0.8096, 0.3756, 0.2683, 0.2269, 0.2059, 0.1837, 0.1707,
                         0.1505)},
    "soft tissue": {"density": 1.060,
                    "mu_rho": (5.379, 1.700, 0.8204, 0.3760, 0.2688, 0.2264, 0.2048, 0.1823,
                               0.1693, 0.1492)},
    "bone": {"density": 1.920,
             "mu_rho": (28.51, 9.032, 4.001, 1.331, 0.6655, 0.4242, 0.3148, 0.2229, 0.1855,
                        0.1480)},
    "aluminium": {"density": 2.699,
                  "mu_rho": (26.23, 7.955, 3.441, 1.128, 0.5685, 0.3681, 0.2778, 0.2018, 0.1704,
                             0.1378)},
    "copper": {"density": 8.960,
               "mu_rho": (215.9, 74.05, 33.79, 10.92, 4.862, 2.613, 1.593, 0.7630, 0.4584,
                          0.2217)},
    "air": {"density": 1.205e-3,
            "mu_rho": (5.120, 1.614, 0.7779, 0.3538, 0.2485, 0.2080, 0.1875, 0.1662, 0.1541,
                       0.1356)},
}
"""Tabulated materials: density (g/cm^3) and mu/rho (cm^2/g) at :data:`XCOM_ENERGIES_KEV`."""

AIR_MU_EN_RHO = np.array([4.742, 1.334, 0.5389, 0.1537, 0.06833, 0.04098, 0.03041, 0.02407,
                          0.02325, 0.02496])
"""Mass energy-absorption coefficient of dry air (cm^2/g, NIST SRD 126 Table 4) at
:data:`XCOM_ENERGIES_KEV`: the weight of each photon energy in the air kerma."""


def _energies(energy_kev, name: str = "energy_kev") -> np.ndarray:
    return as_array(energy_kev, name, low=XCOM_ENERGIES_KEV[0], high=XCOM_ENERGIES_KEV[-1])


def _loglog(table, e: np.ndarray) -> np.ndarray:
    spline = CubicSpline(np.log(XCOM_ENERGIES_KEV), np.log(table))
    return np.exp(spline(np.log(e)))


def mass_attenuation(material: str, energy_kev) -> np.ndarray:
    """Mass attenuation coefficient mu/rho of a material, 10 to 150 keV.

    Parameters
    ----------
    material : {"water", "soft tissue", "bone", "aluminium", "copper", "air"}
        ``"bone"`` is cortical bone (ICRU-44), ``"soft tissue"`` ICRU-44 soft tissue.
    energy_kev : float or array_like
        Photon energies in keV, 10 to 150.

    Returns
    -------
    numpy.ndarray
        mu/rho in cm^2/g, shape of ``energy_kev``: the NIST value at a tabulated energy,
        interpolated in between by a cubic spline of log(mu/rho) against log(E) (none of these
        materials has an absorption edge between 10 and 150 keV).

    Notes
    -----
    NIST's grid is coarse (10, 15, 20, 30, 40, ... keV). Linear interpolation in log-log, which
    :func:`medlib.ct.attenuation_coefficient` uses between 40 and 100 keV, errs by up to 4 %
    between 10 and 30 keV, where the photoelectric effect hands over to Compton scattering and
    log(mu/rho) bends; the cubic spline (XCOM's own interpolation) stays within about 1 % of
    the independent Elam tables everywhere (the tests check it).

    Raises
    ------
    ValueError
        If the material is unknown or an energy lies outside 10-150 keV.

    References
    ----------
    J. H. Hubbell and S. M. Seltzer, "Tables of X-Ray Mass Attenuation Coefficients and Mass
    Energy-Absorption Coefficients", NIST Standard Reference Database 126 (1996, updated 2004),
    https://physics.nist.gov/PhysRefData/XrayMassCoef/.
    """
    name = as_choice(material, "material", tuple(XCOM_MATERIALS))
    e = _energies(energy_kev)
    return _loglog(XCOM_MATERIALS[name]["mu_rho"], e)


def linear_attenuation(material: str, energy_kev) -> np.ndarray:
    """Linear attenuation coefficient mu = (mu/rho) rho, 10 to 150 keV, in 1/cm.

    Parameters
    ----------
    material : {"water", "soft tissue", "bone", "aluminium", "copper", "air"}
        A material of :data:`XCOM_MATERIALS`, at its tabulated density.
    energy_kev : float or array_like
        Photon energies in keV, 10 to 150.

    Returns
    -------
    numpy.ndarray
        mu in 1/cm, shape of ``energy_kev``; between 40 and 100 keV the same as
        :func:`medlib.ct.attenuation_coefficient` for the materials both tables hold.

    Raises
    ------
    ValueError
        If the material is unknown or an energy lies outside 10-150 keV.
    """
    mu_rho = mass_attenuation(material, energy_kev)
    return mu_rho * XCOM_MATERIALS[material]["density"]


def _spectrum(energy_kev, fluence) -> tuple[np.ndarray, np.ndarray]:
    e = as_array(energy_kev, "energy_kev", ndim=1, low=XCOM_ENERGIES_KEV[0],
                 high=XCOM_ENERGIES_KEV[-1])
    if e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("energy_kev must hold at least 2 strictly increasing energies")
    step = np.diff(e)
    if not np.allclose(step, step[0], rtol=1e-6):
        raise ValueError("energy_kev must be a uniform grid (fluence is per energy bin)")
    phi = as_array(fluence, "fluence", shape=e.shape, low=0)
    if not np.any(phi > 0):
        raise ValueError("fluence must have at least one positive value")
    return e, phi


def kramers_spectrum(energy_kev, kvp: float) -> np.ndarray:
    """Kramers' bremsstrahlung spectrum of a thick target, in photons per unit energy.

    Parameters
    ----------
    energy_kev : array_like
        Photon energies in keV (> 0).
    kvp : float
        Tube voltage in kV (the maximum photon energy in keV), 20 to 150.

    Returns
    -------
    numpy.ndarray
        Phi(E) = (kvp - E) / E for E < kvp, 0 above: the photon fluence per unit energy, up to
        the factor k Z i (anode atomic number times tube current), which cancels in every
        quantity of this module. Shape of ``energy_kev``.

    Raises
    ------
    ValueError
        If an energy is not positive or ``kvp`` is outside 20-150 kV.

    Notes
    -----
    :formula:`ct.kramers`. Kramers (1923) derived the energy fluence per unit energy of a thick
    target, Psi(E) proportional to Z (E_max - E); dividing by the photon energy E gives photons.
    The model leaves out the absorption inside the anode (the heel effect), which hardens real
    beams a little, and tungsten's characteristic K lines (57-69 keV, only above 69.5 kV),
    which add a few per cent of the photons at 120 kV. The unfiltered spectrum diverges as
    1/E; the tube window and the filters (:func:`filter_spectrum`) remove the low energies.

    References
    ----------
    H. A. Kramers, "On the theory of X-ray absorption and of the continuous X-ray spectrum",
    Phil. Mag. 46, 836-871 (1923). J. T. Bushberg et al., *The Essential Physics of Medical
    Imaging*, 3rd ed., 2012, ch. 6.
    """
    e = as_array(energy_kev, "energy_kev", low=0.0, low_inclusive=False)
    v = as_scalar(kvp, "kvp", low=20.0, high=150.0)
    return np.where(e < v, (v - e) / e, 0.0)


def filter_spectrum(energy_kev, fluence, thickness_mm: float,
                    material: str = "aluminium") -> np.ndarray:
    """Attenuate a spectrum by a slab of filter: Phi_out(E) = Phi(E) exp(-mu(E) d).

    Parameters
    ----------
    energy_kev : array_like, shape (n,)
        Uniform grid of photon energies, keV, 10 to 150.
    fluence : array_like, shape (n,)
        Photons per energy bin (>= 0).
    thickness_mm : float
        Filter thickness in mm (>= 0).
    material : str, optional
        A material of :data:`XCOM_MATERIALS` (default ``"aluminium"``).

    Returns
    -------
    numpy.ndarray, shape (n,)
        The transmitted fluence, in the unit of ``fluence``.

    Raises
    ------
    ValueError
        If the grid is not uniform and increasing, the fluence negative or zero everywhere, the
        thickness negative or the material unknown.

    Notes
    -----
    Formula ct.beer-lambert at each energy (narrow beam, no scatter).
    """
    e, phi = _spectrum(energy_kev, fluence)
    d_mm = as_scalar(thickness_mm, "thickness_mm", low=0.0)
    mu = linear_attenuation(material, e)
    return phi * np.exp(-mu * d_mm / 10.0)


def tube_spectrum(kvp: float, *, aluminium_mm: float = 2.5, copper_mm: float = 0.0,
                  step_kev: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A filtered tube spectrum: Kramers' continuum through aluminium and copper.

    Parameters
    ----------
    kvp : float
        Tube voltage, 20 to 150 kV.
    aluminium_mm : float, optional
        Total aluminium filtration (inherent plus added), mm (default 2.5, the minimum that
        IEC 60601-1-3 requires above 70 kV).
    copper_mm : float, optional
        Added copper filtration, mm (default 0).
    step_kev : float, optional
        Width of the energy bins, keV (0.05 to 5, default 1).

    Returns
    -------
    energy_kev : numpy.ndarray
        Bin centres from 10 keV + step / 2 up to below ``kvp``.
    fluence : numpy.ndarray
        Photons per bin, normalised to a sum of 1.

    Raises
    ------
    ValueError
        If an argument is out of its range, or if nothing is left of the beam (a filter so
        thick that every bin underflows to zero).

    Notes
    -----
    :func:`kramers_spectrum` times the bin width, then :func:`filter_spectrum` for each
    filter. Energies below 10 keV are dropped: 2.5 mm of aluminium leaves exp(-17.7) of them.
    """
    v = as_scalar(kvp, "kvp", low=20.0, high=150.0)
    al = as_scalar(aluminium_mm, "aluminium_mm", low=0.0)
    cu = as_scalar(copper_mm, "copper_mm", low=0.0)
    de = as_scalar(step_kev, "step_kev", low=0.05, high=5.0)
    e = XCOM_ENERGIES_KEV[0] + de * (np.arange(int(np.floor((v - 10.0) / de))) + 0.5)
    if e.size < 2:
        raise ValueError(f"kvp ({v}) must exceed 10 keV by at least 2 bins of step_kev ({de})")
    phi = kramers_spectrum(e, v) * de
    phi = filter_spectrum(e, phi, al, "aluminium")
    if cu > 0:
        phi = phi * np.exp(-linear_attenuation("copper", e) * cu / 10.0)
    total = phi.sum()
    if not total > 0:
        raise ValueError(f"the filtration (aluminium_mm={al}, copper_mm={cu}) absorbs the whole "
                         "beam: every bin underflows to 0")
    return e, phi / total


def air_kerma(energy_kev, fluence) -> float:
    """Air kerma of a spectrum, up to a constant: K = sum_E Phi(E) E (mu_en/rho)_air(E).

    Parameters
    ----------
    energy_kev : array_like, shape (n,)
        Uniform grid of photon energies, keV, 10 to 150.
    fluence : array_like, shape (n,)
        Photons per bin per unit area (>= 0).

    Returns
    -------
    float
        Kerma in keV cm^2/g times the unit of ``fluence`` (multiply by 1.602e-13 J/keV x 1000
        g/kg to get Gy for a fluence in photons/cm^2).

    Raises
    ------
    ValueError
        As :func:`filter_spectrum`.

    Notes
    -----
    Kerma (kinetic energy released per unit mass) is what an ionisation chamber measures, so
    the half-value layer is defined with it, not with the photon count.
    """
    e, phi = _spectrum(energy_kev, fluence)
    return float(np.sum(phi * e * _loglog(AIR_MU_EN_RHO, e)))


def half_value_layer_mm(energy_kev, fluence, material: str = "aluminium", *,
                        weighting: str = "kerma") -> float:
    """Half-value layer: the filter thickness that halves the beam's air kerma.

    Parameters
    ----------
    energy_kev : array_like, shape (n,)
        Uniform grid of photon energies, keV, 10 to 150.
    fluence : array_like, shape (n,)
        Photons per bin (>= 0).
    material : str, optional
        Absorber, a material of :data:`XCOM_MATERIALS` (default ``"aluminium"``).
    weighting : {"kerma", "photons"}, optional
        Halve the air kerma (default, the definition used by IEC 61267 and every dosimetry
        protocol) or the number of photons.

    Returns
    -------
    float
        HVL in mm, the root of K(d) = K(0) / 2.

    Raises
    ------
    ValueError
        As :func:`filter_spectrum`, or for an unknown material or weighting.

    Notes
    -----
    :formula:`ct.hvl`. K(d) = sum_E w(E) Phi(E) exp(-mu(E) d) with w = E (mu_en/rho)_air(E)
    (kerma) or w = 1 (photons). K(d) falls monotonically, so the root is bracketed by 0 and
    the HVL of the softest energy of the grid and found by Brent's method (to 1e-9 mm). A
    polychromatic beam hardens in the absorber: the second HVL exceeds the first.
    """
    e, phi = _spectrum(energy_kev, fluence)
    name = as_choice(material, "material", tuple(XCOM_MATERIALS))
    how = as_choice(weighting, "weighting", ("kerma", "photons"))
    w = phi * (e * _loglog(AIR_MU_EN_RHO, e) if how == "kerma" else 1.0)
    w = w / w.sum()
    mu_mm = linear_attenuation(name, e) / 10.0

    def excess(d):
        return float(np.sum(w * np.exp(-mu_mm * d))) - 0.5

    upper = np.log(2.0) / mu_mm.min()              # the hardest energy alone halves here
    return float(optimize.brentq(excess, 0.0, upper * (1 + 1e-9), xtol=1e-9, rtol=1e-12))


def effective_energy_kev(hvl_mm: float, material: str = "aluminium") -> float:
    """Effective energy: the photon energy whose half-value layer equals the beam's.

    Parameters
    ----------
    hvl_mm : float
        Measured (or computed) half-value layer in mm of ``material`` (> 0).
    material : str, optional
        Absorber of :data:`XCOM_MATERIALS` (default ``"aluminium"``).

    Returns
    -------
    float
        E_eff in keV, the root of mu(E_eff) = ln 2 / HVL.

    Raises
    ------
    ValueError
        If the HVL is not positive, or outside the HVLs of 10 to 150 keV photons in the
        material.

    Notes
    -----
    :formula:`ct.effective-energy`. mu(E) falls monotonically from 10 to 150 keV in these
    materials (no edge), so the root is unique; it is found on the log-log interpolated table
    by Brent's method. The effective energy is not the mean energy of the spectrum: the
    HVL weights the energies by kerma and by transmission.
    """
    name = as_choice(material, "material", tuple(XCOM_MATERIALS))
    hvl = as_scalar(hvl_mm, "hvl_mm", low=0.0, low_inclusive=False)
    target = np.log(2.0) / (hvl / 10.0)               # mu in 1/cm
    mu_lo = float(linear_attenuation(name, XCOM_ENERGIES_KEV[-1]))
    mu_hi = float(linear_attenuation(name, XCOM_ENERGIES_KEV[0]))
    if not mu_lo <= target <= mu_hi:
        raise ValueError(f"hvl_mm ({hvl}) must lie between {10 * np.log(2) / mu_hi:.4g} and "
                         f"{10 * np.log(2) / mu_lo:.4g} mm of {name} (10 to 150 keV)")

    def gap(log_e):
        return float(np.log(linear_attenuation(name, np.exp(log_e)))) - np.log(target)

    lo, hi = np.log(XCOM_ENERGIES_KEV[0]), np.log(XCOM_ENERGIES_KEV[-1])
    if gap(lo) == 0:
        return float(XCOM_ENERGIES_KEV[0])
    if gap(hi) == 0:
        return float(XCOM_ENERGIES_KEV[-1])
    return float(np.exp(optimize.brentq(gap, lo, hi, xtol=1e-12)))


def _materials(materials) -> tuple[str, ...]:
    if isinstance(materials, str):
        return (as_choice(materials, "materials", tuple(XCOM_MATERIALS)),)
    if not isinstance(materials, (list, tuple)) or not materials:
        raise TypeError("materials must be a material name or a non-empty list of names")
    return tuple(as_choice(m, "materials", tuple(XCOM_MATERIALS)) for m in materials)


def polychromatic_projection(path_cm, energy_kev, fluence, materials="water", *,
                             detector: str = "counting") -> np.ndarray:
    """Measured projection of a polychromatic beam: p = -ln(sum_E S e^{-sum_m mu_m L_m} / sum_E S).

    Parameters
    ----------
    path_cm : array_like
        Path lengths in cm (>= 0). With one material (a name), any shape, one length per ray;
        with ``m`` materials (a list), shape (m, ...): ``path_cm[j]`` is the length through
        ``materials[j]``.
    energy_kev : array_like, shape (n,)
        Uniform grid of photon energies, keV, 10 to 150.
    fluence : array_like, shape (n,)
        Photons per bin reaching the patient (>= 0).
    materials : str or list of str, optional
        Materials of :data:`XCOM_MATERIALS` (default ``"water"``).
    detector : {"counting", "integrating"}, optional
        A photon-counting detector weighs each photon by 1, an energy-integrating one (every
        clinical CT) by its energy E: S(E) = Phi(E) or E Phi(E).

    Returns
    -------
    numpy.ndarray
        p (dimensionless), shape ``path_cm.shape`` (one material) or ``path_cm.shape[1:]``.

    Raises
    ------
    ValueError
        If a path is negative or not finite, the shapes disagree, or the spectrum is invalid.
    TypeError
        If ``materials`` is neither a name nor a list of names.

    Notes
    -----
    :formula:`ct.polychromatic-projection`. p(L) is concave: its slope, the spectrum-weighted
    mean of mu under the spectrum transmitted so far, falls with depth (beam hardening). At
    L = 0 the slope is sum S mu / sum S. The sum over energies is a loop (one vectorised pass
    over all rays per energy). A ray so long that every energy underflows gives p = inf.
    """
    names = _materials(materials)
    e, phi = _spectrum(energy_kev, fluence)
    how = as_choice(detector, "detector", ("counting", "integrating"))
    paths = as_array(path_cm, "path_cm", low=0)
    if not isinstance(materials, str):
        if paths.ndim < 1 or paths.shape[0] != len(names):
            raise ValueError(f"path_cm must have shape ({len(names)}, ...) for "
                             f"{len(names)} materials, got {paths.shape}")
    else:
        paths = paths[None]
    s = phi * (e if how == "integrating" else 1.0)
    s = s / s.sum()
    mu = np.stack([linear_attenuation(m, e) for m in names])       # (m, n)
    total = np.zeros(paths.shape[1:])
    for k in np.flatnonzero(s > 0):
        exponent = np.tensordot(mu[:, k], paths, axes=(0, 0))
        total += s[k] * np.exp(-exponent)
    with np.errstate(divide="ignore"):
        return -np.log(total)


def water_correction_coefficients(energy_kev, fluence, *, max_path_cm: float = 40.0,
                                  degree: int = 4, detector: str = "counting",
                                  mu_ref_per_cm: float | None = None) -> np.ndarray:
    """Fit the water (polynomial) beam-hardening correction: mu_ref L as a polynomial of p_poly.

    Parameters
    ----------
    energy_kev, fluence : array_like, shape (n,)
        The beam: uniform energy grid (keV, 10 to 150) and photons per bin.
    max_path_cm : float, optional
        Longest water path to fit, cm (0 < max_path_cm <= 100; default 40, a large abdomen).
    degree : int, optional
        Polynomial degree K (1 to 8, default 4).
    detector : {"counting", "integrating"}, optional
        As in :func:`polychromatic_projection`.
    mu_ref_per_cm : float, optional
        Attenuation of water that the corrected data should have, 1/cm. Default: the slope of
        p(L) at L = 0, sum S mu_water / sum S, so that thin paths are left unchanged.

    Returns
    -------
    numpy.ndarray, shape (degree + 1,)
        Coefficients c_0 = 0, c_1, ..., c_K, lowest first (NumPy's polynomial order), of the
        least-squares fit of mu_ref L by sum_k c_k p_poly(L)^k over 200 water paths L in
        [0, max_path_cm].

    Raises
    ------
    ValueError
        If an argument is out of its range or the spectrum is invalid.

    Notes
    -----
    The correction applied to every ray (:func:`apply_water_correction`) turns the hardened
    projection of any water path into the monochromatic one, which removes cupping in objects
    made of water-like tissue. It cannot correct bone or iodine, whose mu(E) has another
    shape: their streaks need a second pass (segment bone, reproject, correct).

    References
    ----------
    G. T. Herman, "Correction for beam hardening in computed tomography", Phys. Med. Biol. 24,
    81-106 (1979). J. Hsieh, *Computed Tomography: Principles, Design, Artifacts, and
    Recent Advances*, 2nd ed., SPIE Press, 2009 (the chapter on artefacts).
    """
    e, phi = _spectrum(energy_kev, fluence)
    length = as_scalar(max_path_cm, "max_path_cm", low=0.0, high=100.0, low_inclusive=False)
    k = as_int(degree, "degree", low=1, high=8)
    how = as_choice(detector, "detector", ("counting", "integrating"))
    s = phi * (e if how == "integrating" else 1.0)
    mu_w = linear_attenuation("water", e)
    if mu_ref_per_cm is None:
        mu_ref = float(np.sum(s * mu_w) / np.sum(s))
    else:
        mu_ref = as_scalar(mu_ref_per_cm, "mu_ref_per_cm", low=0.0, low_inclusive=False)
    paths = np.linspace(0.0, length, 200)
    p_poly = polychromatic_projection(paths, e, phi, "water", detector=how)
    if not np.all(np.isfinite(p_poly)):
        raise ValueError(f"max_path_cm ({length}) absorbs the whole beam: lower it")
    scale = p_poly.max()
    if not scale > 1e-6:
        raise ValueError(f"max_path_cm ({length}) is too short to fit a correction (p < 1e-6)")
    design = (p_poly[:, None] / scale) ** np.arange(1, k + 1)[None, :]
    coef, *_ = np.linalg.lstsq(design, mu_ref * paths, rcond=None)
    return np.concatenate([[0.0], coef / scale ** np.arange(1, k + 1)])


def apply_water_correction(sinogram, coefficients) -> np.ndarray:
    """Apply the water correction to measured projections: p_corr = sum_k c_k p^k.

    Parameters
    ----------
    sinogram : array_like
        Measured (polychromatic) projections p, any shape, in the unit the coefficients were
        fitted in (dimensionless line integrals).
    coefficients : array_like, shape (K + 1,)
        From :func:`water_correction_coefficients`, lowest order first.

    Returns
    -------
    numpy.ndarray
        Corrected projections, shape of ``sinogram``.

    Raises
    ------
    ValueError
        If an input is not finite or ``coefficients`` is empty.

    Notes
    -----
    :formula:`ct.water-correction`. Evaluated by Horner's scheme
    (:func:`numpy.polynomial.polynomial.polyval`).
    """
    p = as_array(sinogram, "sinogram")
    c = as_array(coefficients, "coefficients", ndim=1)
    return np.polynomial.polynomial.polyval(p, c)
