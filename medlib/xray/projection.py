"""Projection radiography: transmission, the slab law and digitally reconstructed radiographs.

Taught in ``chapters/xray/projection.ipynb`` (section 7.1 of the key formulas): a radiograph is a
single-angle Radon transform; a DRR from a real chest CT. The attenuation formulas themselves
(Lambert-Beer, the log transform, the line integral) live in :mod:`medlib.ct`, where section 3.1
derives them.
"""
from __future__ import annotations

import numpy as np

from .. import ct
from .._validate import as_array, as_int, as_scalar, check_broadcast

__all__ = [
    "drr",
    "slab_transmission",
    "transmission",
]


def transmission(p, i0=1.0) -> np.ndarray:
    """Intensity reaching the detector for a line integral p: I = I0 exp(-p).

    Parameters
    ----------
    p : array_like
        Line integrals of the attenuation (dimensionless, >= 0), e.g. a DRR.
    i0 : float or array_like, optional
        Unattenuated intensity (>= 0), broadcast against ``p`` (default 1: the transmitted
        fraction).

    Returns
    -------
    numpy.ndarray
        I in the unit of ``i0``.

    Raises
    ------
    ValueError
        If ``p`` or ``i0`` is negative or not finite.

    Notes
    -----
    :formula:`xray.transmission` -- Lambert-Beer (formula ct.beer-lambert) written with the
    line integral; :func:`medlib.ct.log_transform` inverts it.
    """
    pp = as_array(p, "p", low=0)
    i_0 = as_array(i0, "i0", low=0)
    check_broadcast(p=pp, i0=i_0)
    return i_0 * np.exp(-pp)


def slab_transmission(mu_per_cm, thickness_cm, i0=1.0) -> np.ndarray:
    """Intensity behind a uniform slab: I = I0 exp(-mu d).

    Parameters
    ----------
    mu_per_cm : array_like
        Linear attenuation coefficient of the slab material (1/cm, >= 0).
    thickness_cm : array_like
        Slab thickness d along the ray (cm, >= 0); broadcast against ``mu_per_cm``.
    i0 : float or array_like, optional
        Unattenuated intensity (default 1).

    Returns
    -------
    numpy.ndarray
        I, falling exponentially with both mu and d: each half-value layer
        d_1/2 = ln 2 / mu halves it.

    Raises
    ------
    ValueError
        If an argument is negative or not finite.

    Notes
    -----
    :formula:`xray.brightness` -- the special case of a constant mu along the ray, where the
    line integral is mu d. This is the *detected* intensity; a radiograph is displayed with
    high attenuation bright (bone white), i.e. inverted.
    """
    mu = as_array(mu_per_cm, "mu_per_cm", low=0)
    d = as_array(thickness_cm, "thickness_cm", low=0)
    i_0 = as_array(i0, "i0", low=0)
    check_broadcast(mu_per_cm=mu, thickness_cm=d, i0=i_0)
    return transmission(mu * d, i_0)


def drr(hu, spacing_mm: float, *, axis: int, mu_water_per_cm: float) -> np.ndarray:
    """Digitally reconstructed radiograph: parallel-beam line integrals through a CT volume.

    Parameters
    ----------
    hu : array_like, 3D
        CT volume in Hounsfield units, in any axis order.
    spacing_mm : float
        Voxel size along ``axis`` in mm (> 0).
    axis : int
        The axis the rays run along (e.g. the anterior-posterior axis for a frontal view).
    mu_water_per_cm : float
        Attenuation of water at the beam's effective energy (1/cm, > 0), e.g.
        ``ct.attenuation_coefficient("water", 60)``.

    Returns
    -------
    numpy.ndarray, 2D
        p = sum_j mu_j * spacing (dimensionless), the volume's shape without ``axis``. Pass it
        to :func:`transmission` for the detected intensity.

    Raises
    ------
    ValueError
        If ``hu`` is not 3D and finite, or a scalar argument is out of range.

    Notes
    -----
    :formula:`xray.drr`. HU are converted to mu with formula ct.hu solved for mu, after
    clipping at -1000 HU (values below are padding outside the scan field, not negative
    attenuation). The conversion uses one effective energy for all tissues, so bone is
    approximate (its mu/rho falls faster with energy than water's), and the beam is parallel,
    not the cone of a real X-ray tube. Along a volume axis the projection is the single-angle
    Radon transform at theta = 0 or pi/2 (see :func:`medlib.ct.radon`).
    """
    vol = as_array(hu, "hu", ndim=3)
    ds = as_scalar(spacing_mm, "spacing_mm", low=0.0, low_inclusive=False)
    ax = as_int(axis, "axis", low=-3, high=2)
    mw = as_scalar(mu_water_per_cm, "mu_water_per_cm", low=0.0, low_inclusive=False)
    mu = ct.mu_from_hu(np.maximum(vol, -1000.0), mw)
    return ct.line_integral(np.maximum(mu, 0.0), ds / 10.0, axis=ax)
