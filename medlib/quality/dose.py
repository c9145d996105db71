"""Radiation dose: CT dose indices, dose-length product and effective dose.

Taught in ``chapters/image-quality/dose.ipynb`` (section 10.4). CT reports its output as the
volume CT dose index (CTDI_vol, mGy) and the dose-length product (DLP, mGy cm), both measured in
standard acrylic phantoms; the effective dose (mSv) weighs the doses to organs by their
radiation sensitivity (ICRP Publication 103) and is estimated from the DLP with published
conversion coefficients (AAPM Report 96). The dose-noise relation of section 10.2 is the price
list: halving the noise costs four times the dose.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_choice, as_scalar

__all__ = [
    "ctdi100",
    "ctdi_vol",
    "ctdi_w",
    "dlp",
    "dlp_k_factors",
    "effective_dose",
    "effective_dose_from_dlp",
    "equivalent_dose",
    "radiation_weighting_factors",
    "tissue_weighting_factors",
    "typical_effective_doses",
]

# ICRP Publication 103 (2007), Table 3: tissue weighting factors w_T. "remainder" is the mean
# dose of the 13 remainder tissues (adrenals, extrathoracic region, gall bladder, heart, kidneys,
# lymphatic nodes, muscle, oral mucosa, pancreas, prostate or uterus/cervix, small intestine,
# spleen, thymus).
_ICRP103_WT = {
    "red bone marrow": 0.12, "colon": 0.12, "lung": 0.12, "stomach": 0.12, "breast": 0.12,
    "remainder": 0.12,
    "gonads": 0.08,
    "bladder": 0.04, "oesophagus": 0.04, "liver": 0.04, "thyroid": 0.04,
    "bone surface": 0.01, "brain": 0.01, "salivary glands": 0.01, "skin": 0.01,
}

# ICRP Publication 103, Table 2: radiation weighting factors w_R (neutrons: a continuous
# function of energy, left out).
_ICRP103_WR = {"photons": 1.0, "electrons": 1.0, "muons": 1.0, "protons": 2.0,
               "charged pions": 2.0, "alpha particles": 20.0, "heavy ions": 20.0}

# AAPM Report 96 (2008), Table 4 (from the European Guidelines on Quality Criteria for CT and
# Shrimpton 2004): E / DLP for adults (standard patient), mSv per mGy cm ("trunk": the
# chest-abdomen-pelvis row).
_AAPM96_K = {"head and neck": 0.0031, "head": 0.0021, "neck": 0.0059, "chest": 0.014,
             "abdomen and pelvis": 0.015, "trunk": 0.015}

# Typical adult effective doses in mSv: examinations from Mettler et al., Radiology 248, 2008
# (Tables 1, 2 and 6); natural background from UNSCEAR 2008 (worldwide average, per year) and
# NCRP Report 160 (United States, per year).
_TYPICAL_MSV = {
    "chest radiograph (PA)": (0.02, "Mettler 2008"),
    "chest radiographs (PA and lateral)": (0.1, "Mettler 2008"),
    "screening mammography": (0.4, "Mettler 2008"),
    "lumbar spine radiographs": (1.5, "Mettler 2008"),
    "head CT": (2.0, "Mettler 2008"),
    "chest CT": (7.0, "Mettler 2008"),
    "abdomen CT": (8.0, "Mettler 2008"),
    "coronary CT angiography": (16.0, "Mettler 2008"),
    "bone scan (Tc-99m MDP, 740 MBq)": (6.3, "Mettler 2008"),
    "FDG PET (F-18, 740 MBq)": (14.1, "Mettler 2008"),
    "natural background, one year (world average)": (2.4, "UNSCEAR 2008"),
    "natural background, one year (United States)": (3.1, "NCRP Report 160"),
}


def tissue_weighting_factors() -> dict[str, float]:
    """ICRP Publication 103 tissue weighting factors w_T (a new dict; they sum to 1).

    Returns
    -------
    dict
        Tissue name -> w_T. "remainder" stands for the mean of the 13 remainder tissues.

    References
    ----------
    ICRP, "The 2007 Recommendations of the International Commission on Radiological
    Protection", ICRP Publication 103, Ann. ICRP 37(2-4), 2007, Table 3.
    """
    return dict(_ICRP103_WT)


def radiation_weighting_factors() -> dict[str, float]:
    """ICRP Publication 103 radiation weighting factors w_R (neutrons left out).

    Returns
    -------
    dict
        Radiation -> w_R.

    References
    ----------
    ICRP Publication 103, 2007, Table 2.
    """
    return dict(_ICRP103_WR)


def dlp_k_factors() -> dict[str, float]:
    """Adult conversion coefficients k = E / DLP in mSv / (mGy cm), AAPM Report 96.

    Returns
    -------
    dict
        Body region -> k; "trunk" is the table's chest-abdomen-pelvis row.

    References
    ----------
    AAPM Report No. 96, "The Measurement, Reporting, and Management of Radiation Dose in CT",
    2008, Table 4.
    """
    return dict(_AAPM96_K)


def typical_effective_doses() -> dict[str, tuple[float, str]]:
    """Typical adult effective doses of examinations and of a year of natural background.

    Returns
    -------
    dict
        Name -> (effective dose in mSv, source).

    References
    ----------
    F. A. Mettler, W. Huda, T. T. Yoshizumi and M. Mahesh, "Effective doses in radiology and
    diagnostic nuclear medicine: a catalog", Radiology 248(1), 254-263, 2008. UNSCEAR 2008
    Report, Annex B. NCRP Report No. 160, 2009.
    """
    return dict(_TYPICAL_MSV)


def ctdi100(dose_mgy, z_mm, collimation_mm: float) -> float:
    """CTDI_100: the single-rotation dose profile integrated over 100 mm, per nominal beam width.

    Parameters
    ----------
    dose_mgy : array_like, shape (n,)
        Dose D(z) in mGy along the rotation axis from one axial rotation (in a phantom or free
        in air), at the positions ``z_mm``.
    z_mm : array_like, shape (n,)
        Increasing positions in mm, covering -50 to +50 mm (the profile is centred at 0).
    collimation_mm : float
        Nominal beam width N T in mm (N detector rows of width T), > 0.

    Returns
    -------
    float
        CTDI_100 in mGy.

    Raises
    ------
    ValueError
        If the arrays differ in shape, are not finite, the doses are negative, ``z_mm`` does
        not increase or does not cover [-50, 50] mm, or ``collimation_mm`` is not positive.

    Notes
    -----
    :formula:`quality.ctdi100`. CTDI_100 = (1 / N T) * integral from -50 to 50 mm of D(z) dz
    (trapezoidal rule; the ends are interpolated). A 100 mm pencil chamber measures the
    integral directly. It misses the scatter tails beyond +-50 mm, which matter for wide beams
    (AAPM Report 111).
    """
    d = as_array(dose_mgy, "dose_mgy", ndim=1, low=0.0)
    z = as_array(z_mm, "z_mm", ndim=1)
    if d.shape != z.shape or d.size < 2:
        raise ValueError(f"dose_mgy and z_mm must have the same length >= 2, got {d.size} "
                         f"and {z.size}")
    if np.any(np.diff(z) <= 0):
        raise ValueError("z_mm must increase strictly")
    if z[0] > -50 or z[-1] < 50:
        raise ValueError(f"z_mm must cover -50 to 50 mm, got {z[0]} to {z[-1]}")
    nt = as_scalar(collimation_mm, "collimation_mm", low=1e-3, high=1e3)
    inside = (z > -50) & (z < 50)
    zz = np.concatenate([[-50.0], z[inside], [50.0]])
    dd = np.concatenate([[np.interp(-50.0, z, d)], d[inside], [np.interp(50.0, z, d)]])
    with np.errstate(over="ignore"):
        integral = float(np.sum((dd[1:] + dd[:-1]) * np.diff(zz)) / 2)
    if not np.isfinite(integral):
        raise ValueError("dose_mgy is too large: the integral overflows float64")
    return integral / nt


def ctdi_w(ctdi_centre_mgy: float, ctdi_periphery_mgy) -> float:
    """Weighted CTDI: one third of the centre's CTDI_100 plus two thirds of the periphery's.

    Parameters
    ----------
    ctdi_centre_mgy : float
        CTDI_100 in the centre hole of the phantom, mGy (>= 0).
    ctdi_periphery_mgy : float or array_like
        CTDI_100 at the peripheral holes (1 cm below the surface), mGy (>= 0): one value, or
        the four readings (averaged).

    Returns
    -------
    float
        CTDI_w in mGy.

    Raises
    ------
    ValueError
        If a value is negative, not finite, or the periphery is empty.

    Notes
    -----
    :formula:`quality.ctdi-w`. CTDI_w = CTDI_centre / 3 + 2 CTDI_periphery / 3 approximates
    the average dose over the phantom's cross-section (the dose falls roughly linearly from
    surface to centre). Phantoms: 16 cm acrylic (head), 32 cm (body).
    """
    c = as_scalar(ctdi_centre_mgy, "ctdi_centre_mgy", low=0.0, high=1e12)
    p = as_array(ctdi_periphery_mgy, "ctdi_periphery_mgy", ndim=(0, 1), low=0.0, high=1e12)
    if p.size == 0:
        raise ValueError("ctdi_periphery_mgy is empty")
    return float(c / 3 + 2 * p.mean() / 3)


def ctdi_vol(ctdi_w_mgy: float, pitch: float) -> float:
    """Volume CTDI: CTDI_w divided by the helical pitch.

    Parameters
    ----------
    ctdi_w_mgy : float
        Weighted CTDI in mGy (>= 0).
    pitch : float
        Table feed per rotation over the nominal beam width N T (0.1 to 5; 1 for contiguous
        axial scans).

    Returns
    -------
    float
        CTDI_vol in mGy, the average dose in the scanned volume of the phantom.

    Raises
    ------
    ValueError
        If a value is out of range.

    Notes
    -----
    :formula:`quality.ctdi-vol`. A pitch above 1 spreads each rotation's dose over a longer
    table travel. CTDI_vol describes the scanner's output in a standard phantom, not the
    patient's dose (a small patient receives more than CTDI_vol from a body protocol).
    """
    w = as_scalar(ctdi_w_mgy, "ctdi_w_mgy", low=0.0, high=1e12)
    p = as_scalar(pitch, "pitch", low=0.1, high=5.0)
    return w / p


def dlp(ctdi_vol_mgy, scan_length_cm):
    """Dose-length product: CTDI_vol times the scan length.

    Parameters
    ----------
    ctdi_vol_mgy : array_like
        CTDI_vol in mGy (>= 0).
    scan_length_cm : array_like
        Irradiated length along z in cm (> 0); the two broadcast.

    Returns
    -------
    numpy.ndarray or float
        DLP in mGy cm.

    Raises
    ------
    ValueError
        If a value is out of range or the arrays do not broadcast.

    Notes
    -----
    :formula:`quality.dlp`. DLP = CTDI_vol L: the quantity the scanner reports for the whole
    examination, and the input of :func:`effective_dose_from_dlp`.
    """
    c = as_array(ctdi_vol_mgy, "ctdi_vol_mgy", low=0.0, high=1e12)
    length = as_array(scan_length_cm, "scan_length_cm", low=0.0, high=1e4, low_inclusive=False)
    try:
        out = c * length
    except ValueError:
        raise ValueError(f"ctdi_vol_mgy {c.shape} and scan_length_cm {length.shape} must "
                         "broadcast") from None
    return out if out.ndim else float(out)


def equivalent_dose(absorbed_dose_gy, radiation: str = "photons"):
    """Equivalent dose in an organ: H_T = w_R D_T, in sievert.

    Parameters
    ----------
    absorbed_dose_gy : array_like
        Mean absorbed dose D_T in the organ, Gy (>= 0).
    radiation : str, optional
        One of :func:`radiation_weighting_factors` (default "photons": every X-ray and gamma
        imaging modality).

    Returns
    -------
    numpy.ndarray or float
        H_T in Sv.

    Raises
    ------
    ValueError
        If a dose is negative or the radiation unknown.

    Notes
    -----
    :formula:`quality.equivalent-dose`. H_T = sum over radiations R of w_R D_T,R; for a
    single radiation the product. For X-rays and gamma rays w_R = 1: 1 Gy gives 1 Sv.
    """
    d = as_array(absorbed_dose_gy, "absorbed_dose_gy", low=0.0, high=1e12)
    r = as_choice(radiation, "radiation", _ICRP103_WR)
    out = _ICRP103_WR[r] * d
    return out if out.ndim else float(out)


def effective_dose(equivalent_doses_msv: dict) -> float:
    """Effective dose: the tissue-weighted sum of equivalent doses (ICRP Publication 103).

    Parameters
    ----------
    equivalent_doses_msv : dict
        Tissue name (a key of :func:`tissue_weighting_factors`) -> equivalent dose H_T in mSv
        (>= 0). Tissues not given count as 0.

    Returns
    -------
    float
        E in mSv.

    Raises
    ------
    TypeError
        If ``equivalent_doses_msv`` is not a dict.
    ValueError
        If a tissue is unknown or a dose is negative or not finite.

    Notes
    -----
    :formula:`quality.effective-dose`. E = sum over tissues T of w_T H_T. A uniform
    whole-body dose H gives E = H (the weights sum to 1). E is a protection quantity for a
    reference person, averaged over sex and age: not a measure of an individual patient's risk.
    """
    if not isinstance(equivalent_doses_msv, dict):
        raise TypeError("equivalent_doses_msv must be a dict of tissue -> mSv, got "
                        f"{type(equivalent_doses_msv).__name__}")
    total = 0.0
    for tissue, value in equivalent_doses_msv.items():
        if tissue not in _ICRP103_WT:
            raise ValueError(f"equivalent_doses_msv: unknown tissue {tissue!r}; tissues are "
                             f"{', '.join(sorted(_ICRP103_WT))}")
        h = as_scalar(value, f"equivalent_doses_msv[{tissue!r}]", low=0.0, high=1e12)
        total += _ICRP103_WT[tissue] * h
    return float(total)


def effective_dose_from_dlp(dlp_mgy_cm, region: str):
    """Effective dose estimated from the DLP: E = k DLP with AAPM Report 96's adult k.

    Parameters
    ----------
    dlp_mgy_cm : array_like
        DLP in mGy cm (>= 0).
    region : str
        Body region, a key of :func:`dlp_k_factors` ("head", "chest", ...).

    Returns
    -------
    numpy.ndarray or float
        E in mSv.

    Raises
    ------
    ValueError
        If a DLP is negative or the region unknown.

    Notes
    -----
    :formula:`quality.e-dlp`. The coefficients come from Monte Carlo organ doses in
    standard adult phantoms; for children they are several times larger.
    """
    d = as_array(dlp_mgy_cm, "dlp_mgy_cm", low=0.0, high=1e12)
    r = as_choice(region, "region", _AAPM96_K)
    out = _AAPM96_K[r] * d
    return out if out.ndim else float(out)
