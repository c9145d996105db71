"""SPECT: parallel-hole collimator resolution and efficiency, and a projector with depth-dependent
resolution and attenuation, as a sparse system matrix for MLEM/OSEM.

Taught in ``chapters/pet-spect/spect.ipynb`` (section 6.5). The matrix has the row layout of
:func:`~medlib.pet.forward_model.system_matrix` (row ``i = bin * n_angles + angle``), so
:func:`~medlib.pet.mlem_osem.osem` takes it with ``n_angles=``.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse, special

from .._validate import as_array, as_scalar, as_size

__all__ = [
    "collimator_efficiency",
    "collimator_resolution_mm",
    "effective_hole_length_mm",
    "spect_system_matrix",
]


def effective_hole_length_mm(hole_length_mm: float, mu_septa_per_mm: float | None = None) -> float:
    """Effective hole length l_eff = l - 2 / mu, accounting for septal penetration near the ends.

    Parameters
    ----------
    hole_length_mm : float
        Hole (septum) length l (> 0), mm.
    mu_septa_per_mm : float, optional
        Linear attenuation coefficient of the septal material at the photon energy (> 0), 1/mm
        (lead at 140 keV: about 2.7 /mm). Default None: l_eff = l.

    Returns
    -------
    float
        l_eff in mm (> 0).

    Raises
    ------
    ValueError
        If a value is not positive or 2 / mu >= l.

    Notes
    -----
    Photons crossing the corners of the septa within about one mean free path get through, so
    the holes act slightly shorter than they are (Cherry, Sorenson and Phelps, ch. 14).
    """
    length = as_scalar(hole_length_mm, "hole_length_mm", low=0.0, low_inclusive=False)
    if mu_septa_per_mm is None:
        return length
    mu = as_scalar(mu_septa_per_mm, "mu_septa_per_mm", low=0.0, low_inclusive=False)
    if 2.0 / mu >= length:
        raise ValueError("mu_septa_per_mm is too small: 2 / mu must be shorter than "
                         "hole_length_mm")
    return length - 2.0 / mu


def collimator_resolution_mm(hole_diameter_mm, hole_length_mm: float, distance_mm) -> np.ndarray:
    """Geometric resolution (FWHM) of a parallel-hole collimator: R_g = d (l_eff + z) / l_eff.

    Parameters
    ----------
    hole_diameter_mm : array_like
        Hole diameter d (> 0), mm.
    hole_length_mm : float
        Effective hole length l_eff (> 0), mm (:func:`effective_hole_length_mm`).
    distance_mm : array_like
        Distance z from the source to the collimator face (>= 0), mm; broadcast with d.

    Returns
    -------
    numpy.ndarray or float
        R_g, mm (FWHM of the point-spread function in the plane at the back of the collimator).

    Raises
    ------
    ValueError
        If a value is out of range.

    Notes
    -----
    :formula:`pet.collimator-resolution`. A ray gets through a hole only if it enters and
    leaves within the same hole: averaged over hole positions, a point at distance z makes a
    triangular response whose half-base, and so FWHM, is d (l + z) / l. Resolution degrades
    linearly with depth: the SPECT projector must blur distant pixels more. The system
    resolution adds the intrinsic resolution R_i of the camera in quadrature,
    sqrt(R_g^2 + R_i^2).

    References
    ----------
    S. R. Cherry, J. A. Sorenson, M. E. Phelps, *Physics in Nuclear Medicine*, 4th ed.,
    Elsevier, 2012, ch. 14.
    """
    d = as_array(hole_diameter_mm, "hole_diameter_mm", low=0)
    if np.any(d <= 0):
        raise ValueError("hole_diameter_mm must be > 0")
    length = as_scalar(hole_length_mm, "hole_length_mm", low=0.0, low_inclusive=False)
    z = as_array(distance_mm, "distance_mm", low=0)
    out = d * (length + z) / length
    return out if out.ndim else float(out)


def collimator_efficiency(hole_diameter_mm, hole_length_mm: float, septal_thickness_mm: float,
                          *, k: float = 0.26) -> np.ndarray:
    """Geometric efficiency of a parallel-hole collimator: g = K^2 (d / l_eff)^2 d^2 / (d + t)^2.

    Parameters
    ----------
    hole_diameter_mm : array_like
        Hole diameter d (> 0), mm.
    hole_length_mm : float
        Effective hole length l_eff (> 0), mm.
    septal_thickness_mm : float
        Septal thickness t (>= 0), mm.
    k : float, optional
        Shape constant K (> 0): 0.26 for hexagonal holes in a hexagonal array (default), 0.24
        for round holes, 0.28 for square holes in a square array.

    Returns
    -------
    numpy.ndarray or float
        g, the fraction of the photons emitted by a source that pass the collimator
        (of order 1e-4).

    Raises
    ------
    ValueError
        If a value is out of range, or a hole is wider than it is long.

    Notes
    -----
    :formula:`pet.collimator-efficiency`. The solid angle a hole accepts is about (d / l)^2
    and the open fraction of the face is d^2 / (d + t)^2. g does not depend on the source
    distance (the farther, the more holes see it). At fixed l and t << d, g grows as d^2
    while R_g grows as d: **g is proportional to R_g^2**, the resolution-sensitivity trade-off.

    References
    ----------
    S. R. Cherry, J. A. Sorenson, M. E. Phelps, *Physics in Nuclear Medicine*, 4th ed., 2012,
    ch. 14.
    """
    d = as_array(hole_diameter_mm, "hole_diameter_mm", low=0)
    if np.any(d <= 0):
        raise ValueError("hole_diameter_mm must be > 0")
    length = as_scalar(hole_length_mm, "hole_length_mm", low=0.0, low_inclusive=False)
    t = as_scalar(septal_thickness_mm, "septal_thickness_mm", low=0.0)
    kk = as_scalar(k, "k", low=0.0, low_inclusive=False, high=1.0)
    if np.any(d > length):
        raise ValueError("hole_diameter_mm must not exceed hole_length_mm: the formula assumes "
                         "long, narrow holes (d << l_eff)")
    out = kk ** 2 * (d / length) ** 2 * (d / (d + t)) ** 2
    return out if out.ndim else float(out)


def spect_system_matrix(n: int, angles_rad, *, pixel_mm: float, radius_mm: float,
                        mu_map_per_cm=None, hole_diameter_mm: float | None = None,
                        hole_length_mm: float = 24.0, intrinsic_fwhm_mm: float = 0.0
                        ) -> sparse.csr_matrix:
    """Sparse SPECT system matrix with attenuation and depth-dependent collimator resolution.

    Parameters
    ----------
    n : int
        The image is n x n pixels (>= 2); each projection has n bins of one pixel.
    angles_rad : array_like, shape (n_angles,)
        Camera angles theta, radians (SPECT uses a full circle: opposite views differ).
    pixel_mm : float
        Pixel (and bin) width (> 0), mm.
    radius_mm : float
        Distance from the rotation centre to the collimator face (> 0), mm; at least the radius
        of the field of view, n * pixel_mm / 2.
    mu_map_per_cm : array_like, shape (n, n), optional
        Attenuation map at the photon energy (>= 0), 1/cm. Default None: no attenuation.
    hole_diameter_mm : float, optional
        Collimator hole diameter d (> 0), mm. Default None: no collimator blur (each pixel goes
        to its two nearest bins with linear-interpolation weights).
    hole_length_mm : float, optional
        Effective hole length l_eff (> 0), mm (default 24).
    intrinsic_fwhm_mm : float, optional
        Intrinsic resolution of the camera (>= 0), mm, added in quadrature (default 0).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n * n_angles, n * n)
        Row ``bin * n_angles + angle``, column ``row * n + col`` (``image.ravel()``): the
        probability (up to the collimator efficiency) that a photon emitted in pixel j is
        counted in bin i. Without attenuation every column sums to 1 per angle.

    Raises
    ------
    ValueError
        If a parameter is out of range or the map has the wrong shape.

    Notes
    -----
    :formula:`pet.spect-projection`. The geometry is that of
    :func:`~medlib.pet.forward_model.system_matrix` (rotation centre pixel (n//2, n//2)): a
    pixel at X = col - n//2, Y = row - n//2 (down) projects to s = X cos theta - Y sin theta
    and lies at u = X sin theta + Y cos theta along the projection direction; the camera face is
    at u = radius, so the pixel is z = radius - u * pixel_mm from it. Its photons reach bin b
    with the weight of a Gaussian of FWHM sqrt(R_g(z)^2 + R_i^2)
    (:formula:`pet.collimator-resolution`) integrated over the bin, times
    exp(-int_u^radius mu) along the path to the camera. The attenuation path of every
    pixel is computed per angle by resampling mu onto the rotated grid (bilinear), a reversed
    cumulative sum along u (half a pixel for the pixel itself), and bilinear sampling at the
    pixel's (s, u): vectorised per angle. Unlike PET, the attenuation depends on the depth of
    the decay, so it cannot be divided out of the data; it belongs in the matrix.
    """
    n = as_size(n, "n", low=2, ndim=2)
    theta = as_array(angles_rad, "angles_rad", ndim=1)
    px = as_scalar(pixel_mm, "pixel_mm", low=0.0, low_inclusive=False)
    rad = as_scalar(radius_mm, "radius_mm", low=0.0, low_inclusive=False)
    if rad < n * px / 2:
        raise ValueError(f"radius_mm ({rad}) must be at least the field-of-view radius "
                         f"n * pixel_mm / 2 = {n * px / 2}")
    mu = None
    if mu_map_per_cm is not None:
        mu = as_array(mu_map_per_cm, "mu_map_per_cm", low=0)
        if mu.shape != (n, n):
            raise ValueError(f"mu_map_per_cm must be an n x n image (n = {n}), got shape "
                             f"{mu.shape}")
    d = None
    if hole_diameter_mm is not None:
        d = as_scalar(hole_diameter_mm, "hole_diameter_mm", low=0.0, low_inclusive=False)
    length = as_scalar(hole_length_mm, "hole_length_mm", low=0.0, low_inclusive=False)
    r_int = as_scalar(intrinsic_fwhm_mm, "intrinsic_fwhm_mm", low=0.0)
    if d is None and r_int > 0:
        raise ValueError("intrinsic_fwhm_mm needs hole_diameter_mm (a collimated camera)")
    n_angles = theta.size
    ctr = n // 2
    col, row = np.meshgrid(np.arange(n), np.arange(n))
    x_pix = (col - ctr).ravel().astype(float)
    y_pix = (row - ctr).ravel().astype(float)
    pix = np.arange(n * n)
    grid = np.arange(n) - ctr
    u_grid, s_grid = np.meshgrid(grid, grid, indexing="ij")     # rotated sampling grid
    rows_all, cols_all, vals_all = [], [], []
    for k, t in enumerate(theta):
        cos_t, sin_t = np.cos(t), np.sin(t)
        s = x_pix * cos_t - y_pix * sin_t
        u = x_pix * sin_t + y_pix * cos_t
        if mu is not None:
            # mu on the rotated grid (rows: u, columns: s), then the path from u to the camera.
            xs = s_grid * cos_t + u_grid * sin_t + ctr
            ys = -s_grid * sin_t + u_grid * cos_t + ctr
            mu_rot = ndimage.map_coordinates(mu, [ys, xs], order=1, mode="grid-constant",
                                             cval=0.0)
            path = (np.cumsum(mu_rot[::-1], axis=0)[::-1] - 0.5 * mu_rot) * (px / 10.0)
            att = np.exp(-ndimage.map_coordinates(path, [u + ctr, s + ctr], order=1,
                                                  mode="nearest"))
        else:
            att = np.ones(n * n)
        pos = s + ctr                                            # bin coordinate
        if d is None:
            b0 = np.floor(pos).astype(np.int64)
            frac = pos - b0
            for off, w in ((0, 1.0 - frac), (1, frac)):
                b = b0 + off
                ok = (b >= 0) & (b < n) & (w > 0)
                rows_all.append(b[ok] * n_angles + k)
                cols_all.append(pix[ok])
                vals_all.append((w * att)[ok])
            continue
        z = np.clip(rad - u * px, 0.0, None)
        with np.errstate(over="ignore"):
            fwhm_px = np.hypot(d * (length + z) / length, r_int) / px
        sigma = fwhm_px / np.sqrt(8.0 * np.log(2.0))
        if not np.all(np.isfinite(sigma)):
            raise ValueError("the collimator blur overflows: check pixel_mm, radius_mm, "
                             "hole_diameter_mm, hole_length_mm and intrinsic_fwhm_mm")
        half = min(int(np.ceil(4.0 * sigma.max())) + 1, 2 * n)   # bins beyond 2n never count
        offsets = np.arange(-half, half + 1)
        b = np.round(pos).astype(np.int64)[:, None] + offsets[None, :]
        w = (special.ndtr((b + 0.5 - pos[:, None]) / sigma[:, None])
             - special.ndtr((b - 0.5 - pos[:, None]) / sigma[:, None]))
        ok = (b >= 0) & (b < n) & (w > 1e-10)
        rows_all.append(b[ok] * n_angles + k)
        cols_all.append(np.broadcast_to(pix[:, None], b.shape)[ok])
        vals_all.append((w * att[:, None])[ok])
    matrix = sparse.coo_matrix(
        (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n * n_angles, n * n))
    return matrix.tocsr()
