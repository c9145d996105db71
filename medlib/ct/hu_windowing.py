"""Hounsfield units and display windows: HU from attenuation and from DICOM stored values,
the linear window and the clinical presets.

Taught in ``chapters/ct/hu-windowing.ipynb`` (section 3.4 of the key formulas).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_choice, as_scalar

__all__ = [
    "CLINICAL_WINDOWS",
    "clinical_window",
    "hu_from_mu",
    "hu_from_stored",
    "mu_from_hu",
    "window",
]


def hu_from_mu(mu, mu_water: float, *, mu_air: float = 0.0) -> np.ndarray:
    """Hounsfield units from linear attenuation coefficients.

    Parameters
    ----------
    mu : array_like
        Linear attenuation coefficients (any unit, the same as ``mu_water``).
    mu_water : float
        Attenuation of water at the same effective energy (> 0).
    mu_air : float, optional
        Attenuation of air (default 0). With 0 this is the textbook definition
        HU = 1000 (mu - mu_water) / mu_water; with the measured value it is the two-point
        calibration HU = 1000 (mu - mu_water) / (mu_water - mu_air), which puts air at
        exactly -1000.

    Returns
    -------
    numpy.ndarray
        CT numbers in HU: water 0, air -1000 (exactly, for the two-point form or mu_air = 0).

    Raises
    ------
    ValueError
        If ``mu_water`` <= 0, ``mu_air`` < 0 or ``mu_air`` >= ``mu_water``, or ``mu`` is
        not finite.

    Notes
    -----
    :formula:`ct.hu` :formula:`ct.hu-two-point`. Real air attenuates a little
    (about 2.3e-4 /cm at 60 keV), so the one-point formula gives air about -998.9 HU.
    """
    m = as_array(mu, "mu")
    mw = as_scalar(mu_water, "mu_water", low=0.0, low_inclusive=False)
    ma = as_scalar(mu_air, "mu_air", low=0.0, high=mw, high_inclusive=False)
    return 1000.0 * (m - mw) / (mw - ma)


def mu_from_hu(hu, mu_water: float, *, mu_air: float = 0.0) -> np.ndarray:
    """Linear attenuation coefficients from Hounsfield units (the inverse of :func:`hu_from_mu`).

    Parameters
    ----------
    hu : array_like
        CT numbers in HU.
    mu_water : float
        Attenuation of water (> 0), in the unit wanted for the result (e.g. 1/cm).
    mu_air : float, optional
        Attenuation of air (default 0), as in :func:`hu_from_mu`.

    Returns
    -------
    numpy.ndarray
        mu = mu_water + hu (mu_water - mu_air) / 1000. Values below -1000 HU (padding
        outside the scan field, often -1024 or -2048) give negative mu: clip them first.

    Raises
    ------
    ValueError
        As :func:`hu_from_mu`.

    Notes
    -----
    Formula ct.hu solved for mu.
    """
    h = as_array(hu, "hu")
    mw = as_scalar(mu_water, "mu_water", low=0.0, low_inclusive=False)
    ma = as_scalar(mu_air, "mu_air", low=0.0, high=mw, high_inclusive=False)
    return mw + h * (mw - ma) / 1000.0


def hu_from_stored(stored, slope: float, intercept: float) -> np.ndarray:
    """Hounsfield units from a CT DICOM's stored pixel values: HU = slope * SV + intercept.

    Parameters
    ----------
    stored : array_like
        Stored values (``ds.pixel_array``, integers, possibly signed).
    slope : float
        Rescale Slope (0028,1053), non-zero (usually 1).
    intercept : float
        Rescale Intercept (0028,1052) (usually -1024 or -1000).

    Returns
    -------
    numpy.ndarray of float64
        HU values.

    Raises
    ------
    ValueError
        If ``slope`` is zero or any value is not finite.

    Notes
    -----
    :formula:`ct.hu-rescale`. This is DICOM's Modality LUT for CT (what
    ``pydicom.pixels.apply_modality_lut`` applies). Forgetting it shifts every value by the
    intercept: water then reads 1024 instead of 0.
    """
    sv = as_array(stored, "stored")
    m = as_scalar(slope, "slope")
    if m == 0:
        raise ValueError("slope must be non-zero")
    b = as_scalar(intercept, "intercept")
    return sv * m + b


def window(hu, level: float, width: float) -> np.ndarray:
    """Linear display window: map [level - width/2, level + width/2] onto [0, 1], clip outside.

    Parameters
    ----------
    hu : array_like
        CT numbers in HU (or any values).
    level : float
        Window level WL (centre), same unit as ``hu``.
    width : float
        Window width WW (> 0), same unit.

    Returns
    -------
    numpy.ndarray
        clip((hu - (level - width / 2)) / width, 0, 1): 0 (black) at and below
        level - width/2, 1 (white) at and above level + width/2, 0.5 at the level.

    Raises
    ------
    ValueError
        If ``width`` <= 0 or ``level`` or ``hu`` is not finite.

    Notes
    -----
    :formula:`ct.window`. DICOM's VOI LUT "LINEAR" function differs by half a unit:
    y = ((x - (c - 0.5)) / (w - 1) + 0.5), clipped, designed for integer stored values;
    for clinical widths (hundreds of HU) the two agree to within 1/width.
    """
    h = as_array(hu, "hu")
    wl = as_scalar(level, "level")
    ww = as_scalar(width, "width", low=0.0, low_inclusive=False)
    return np.clip((h - (wl - ww / 2.0)) / ww, 0.0, 1.0)


CLINICAL_WINDOWS: dict[str, tuple[float, float]] = {
    "soft tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "mediastinum": (50.0, 350.0),
    "abdomen": (50.0, 400.0),
}
"""Typical (level, width) in HU; institutions and vendors vary. Source: A. Murphy, D. J. Bell et
al., "Windowing (CT)", Radiopaedia.org, https://radiopaedia.org/articles/windowing-ct (bone
is their spine-bone window)."""


def clinical_window(hu, name: str) -> np.ndarray:
    """Apply one of the :data:`CLINICAL_WINDOWS` presets.

    Parameters
    ----------
    hu : array_like
        CT numbers in HU.
    name : {"soft tissue", "lung", "bone", "brain", "mediastinum", "abdomen"}

    Returns
    -------
    numpy.ndarray
        ``window(hu, *CLINICAL_WINDOWS[name])``, values in [0, 1].

    Raises
    ------
    ValueError
        If the name is unknown.

    References
    ----------
    A. Murphy, D. J. Bell et al., "Windowing (CT)", Radiopaedia.org.
    """
    key = as_choice(name, "name", tuple(CLINICAL_WINDOWS))
    level, width = CLINICAL_WINDOWS[key]
    return window(hu, level, width)
