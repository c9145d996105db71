"""The PET forward model: a sparse parallel-beam system matrix, expected counts with a
randoms/scatter background, Poisson sampling, and activity phantoms.

Taught in ``chapters/pet-spect/forward-model.ipynb`` (section 6.2 of the key formulas).

Layout of the data
------------------
An image of ``n x n`` pixels is the vector ``x = image.ravel()`` (row-major, ``(row, col)``).
A sinogram has the layout of :func:`skimage.transform.radon`, shape ``(n_bins, n_angles)``, and
its vector is ``sinogram.ravel()``: row ``i = bin * n_angles + angle`` of the system matrix.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from .. import noise
from .._validate import as_array, as_scalar, as_size

# The reconstruction circle of the parallel-beam geometry shared with CT (pet.circle_mask is
# ct.circle_mask).
from ..ct import circle_mask
from ._common import _as_background, _as_counts, _as_matrix

__all__ = [
    "brain_phantom",
    "circle_mask",
    "expected_counts",
    "sample_counts",
    "scale_to_counts",
    "system_matrix",
]


def system_matrix(n: int, angles_rad, *, dtype=np.float64) -> sparse.csr_matrix:
    """Sparse system matrix of parallel-beam projection, in the geometry of skimage's radon.

    Parameters
    ----------
    n : int
        The image is n x n pixels (>= 2) and each projection has n detector bins of one pixel.
    angles_rad : array_like, shape (n_angles,)
        Projection angles theta, radians (skimage's ``theta`` is the same angles in degrees).
    dtype : numpy dtype, optional
        float64 (default) or float32 (half the memory, slightly faster products).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n * n_angles, n * n)
        a_ij: the contribution of pixel j (``image.ravel()`` index ``row * n + col``) to sinogram
        entry i = ``bin * n_angles + angle`` (``sinogram.ravel()`` of a sinogram shaped
        ``(n, n_angles)``), a **path length in pixel widths**: the length of ray i inside pixel
        j (bilinear weights of unit-step samples; the entries of a row add up to the ray's
        chord through the reconstruction circle). Not a probability: entries reach about 1.17
        and the sensitivity sum_i a_ij is about one pixel width per angle. A detection
        probability is proportional to it; the constant (efficiency, solid angle, scan time,
        pixel size) belongs to the activity x, which is then in expected counts per pixel
        width. For an image that is zero outside :func:`circle_mask`,
        ``(A @ image.ravel()).reshape(n, n_angles)`` equals
        ``skimage.transform.radon(image, np.rad2deg(angles_rad), circle=True)`` to rounding
        (differences of order 1e-14 of the maximum in float64; the tests allow 1e-9, and 1e-5
        relative for float32).

    Raises
    ------
    ValueError
        If ``n`` < 2 or the angles are empty or not finite.

    Notes
    -----
    Geometry (the convention of :func:`skimage.transform.radon`, ``circle=True``): the rotation
    centre is pixel ``(n//2, n//2)``; with X = col - n//2 to the right and Y = row - n//2 *down*,
    detector bin b measures the line integral along the ray
    s = X cos theta - Y sin theta = b - n//2, i.e. the usual Radon transform in a frame whose
    y axis points up (theta = 0 projects onto the column axis, summing down the rows). Pixels
    outside the inscribed circle get no column entries (their columns are empty). The ray is
    sampled at unit steps u = -n//2, ..., n - 1 - n//2 at the points X = s cos theta + u sin theta,
    Y = -s sin theta + u cos theta, and each sample is spread over its four neighbouring pixels
    with bilinear weights: exactly skimage's rotate-and-sum, so the matrix and its transpose (the
    exact adjoint needed by MLEM) are built once and reused. The construction is vectorised over
    all rays and samples of one angle; entries of the same (ray, pixel) are summed.

    This module is the PET chapter's projector; the CT chapter follows the same convention.
    """
    n = as_size(n, "n", low=2, ndim=2)
    theta = as_array(angles_rad, "angles_rad", ndim=1)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError("dtype must be float32 or float64")
    n_angles = theta.size
    ctr = n // 2
    inside = circle_mask(n).ravel()
    grid = np.arange(n) - ctr
    u, s = np.meshgrid(grid, grid, indexing="ij")      # u: sample along the ray, s: bin offset
    s, u = s.ravel(), u.ravel()
    bins = s + ctr
    rows_all, cols_all, vals_all = [], [], []
    for k, t in enumerate(theta):
        cos_t, sin_t = np.cos(t), np.sin(t)
        x_in = s * cos_t + u * sin_t + ctr               # column coordinate of the sample
        y_in = -s * sin_t + u * cos_t + ctr              # row coordinate
        c0 = np.floor(x_in).astype(np.int64)
        r0 = np.floor(y_in).astype(np.int64)
        dx, dy = x_in - c0, y_in - r0
        for ddr, ddc, w in ((0, 0, (1 - dy) * (1 - dx)), (0, 1, (1 - dy) * dx),
                            (1, 0, dy * (1 - dx)), (1, 1, dy * dx)):
            rr, cc = r0 + ddr, c0 + ddc
            ok = (rr >= 0) & (rr < n) & (cc >= 0) & (cc < n) & (w > 0)
            pix = rr[ok] * n + cc[ok]
            keep = inside[pix]
            rows_all.append((bins[ok][keep] * n_angles + k).astype(np.int32))
            cols_all.append(pix[keep].astype(np.int32))
            vals_all.append(w[ok][keep].astype(dtype))
    matrix = sparse.coo_matrix(
        (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n * n_angles, n * n))
    return matrix.tocsr()      # sums duplicate (ray, pixel) entries


def expected_counts(A, activity_image, background=None) -> np.ndarray:
    """Expected counts of every detector bin: lambda = A x + r.

    Parameters
    ----------
    A : scipy.sparse matrix or array_like, shape (M, J)
        System matrix (non-negative), e.g. :func:`system_matrix`.
    activity_image : array_like
        Activity x (>= 0) with J values (an image is raveled row-major).
    background : float or array_like, optional
        Randoms and scatter r (>= 0): a scalar for a flat background or one value per bin.

    Returns
    -------
    numpy.ndarray, shape (M,)
        lambda_i = sum_j a_ij x_j + r_i.

    Raises
    ------
    ValueError
        If shapes disagree or any value is negative.

    Notes
    -----
    :formula:`pet.forward-model` and, as one matrix product, :formula:`pet.forward-model-vector`.
    The seed's a_ij also carries attenuation, detector efficiency and normalisation; the geometric
    matrix here models the line integrals only.
    """
    mat = _as_matrix(A)
    x = _as_counts(activity_image, mat.shape[1], "activity_image")
    return mat @ x + _as_background(background, mat.shape[0])


def sample_counts(expected, rng) -> np.ndarray:
    """Draw measured counts y_i ~ Poisson(lambda_i), independently per bin.

    Parameters
    ----------
    expected : array_like
        Expected counts lambda (>= 0), any shape.
    rng : numpy.random.Generator or int
        Source of randomness.

    Returns
    -------
    numpy.ndarray of float
        Integer-valued counts, same shape (a 0-d array for a scalar).

    Raises
    ------
    ValueError
        If an expected count is negative, above 1e18 (NumPy's sampler stops near 9.2e18) or
        not finite.

    Notes
    -----
    :formula:`pet.poisson-model`. Counting independent decays gives Poisson statistics: variance
    equal to the mean (section 2.3), so a bin expecting 4 counts has 50 % noise.
    """
    return noise.poisson_noise(expected, rng)      # the Poisson sampler of section 2.3


def scale_to_counts(A, activity_image, total_counts: float, *,
                    background_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Scale an activity image to a count level and add a flat randoms/scatter background.

    Parameters
    ----------
    A : scipy.sparse matrix or array_like, shape (M, J)
        System matrix.
    activity_image : array_like
        Relative activity (>= 0, not all zero), J values.
    total_counts : float
        Expected total counts sum_i lambda_i (> 0).
    background_fraction : float, optional
        Fraction in [0, 1) of the counts that are randoms and scatter, spread evenly over the bins.

    Returns
    -------
    activity : numpy.ndarray, shape (J,)
        Scaled activity (counts per unit of the matrix), so that sum(A x) = (1 - f) total.
    background : numpy.ndarray, shape (M,)
        r_i = f total / M.

    Raises
    ------
    ValueError
        If the activity projects to zero counts or a parameter is out of range.
    """
    mat = _as_matrix(A)
    x = _as_counts(activity_image, mat.shape[1], "activity_image")
    total = as_scalar(total_counts, "total_counts", low=0.0, low_inclusive=False)
    f = as_scalar(background_fraction, "background_fraction", low=0.0, high=1.0,
                  high_inclusive=False)
    projected = float((mat @ x).sum())
    if projected <= 0:
        raise ValueError("activity_image projects to zero counts (is it inside the circle?)")
    return x * (1 - f) * total / projected, np.full(mat.shape[0], f * total / mat.shape[0])


def brain_phantom(grey_matter, white_matter, *, n: int = 128, grey_activity: float = 4.0,
                  white_activity: float = 1.0) -> np.ndarray:
    """Activity phantom from grey- and white-matter probability maps of a real brain slice.

    Parameters
    ----------
    grey_matter, white_matter : array_like, shape (rows, cols)
        Tissue probabilities of one slice, in [0, 1] (divide uint8 maps by 255 first).
    n : int, optional
        Output size n x n (default 128).
    grey_activity, white_activity : float, optional
        Activity concentration of pure grey and white matter (>= 0); FDG's grey:white uptake is
        roughly 4:1 at rest (defaults 4 and 1).

    Returns
    -------
    numpy.ndarray, shape (n, n)
        grey_activity p_GM + white_activity p_WM, padded to a square, resampled (area-averaged)
        to n x n, and zeroed outside :func:`circle_mask`.

    Raises
    ------
    ValueError
        If the maps differ in shape or hold values outside [0, 1].
    """
    from skimage.transform import resize

    gm = as_array(grey_matter, "grey_matter", ndim=2)
    wm = as_array(white_matter, "white_matter", shape=gm.shape)
    for arr, name in ((gm, "grey_matter"), (wm, "white_matter")):
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{name} must hold probabilities in [0, 1]")
    n = as_size(n, "n", low=2, ndim=2)
    a_gm = as_scalar(grey_activity, "grey_activity", low=0.0)
    a_wm = as_scalar(white_activity, "white_activity", low=0.0)
    act = a_gm * gm + a_wm * wm
    side = max(act.shape)
    pad = [((side - s) // 2, side - s - (side - s) // 2) for s in act.shape]
    square = np.pad(act, pad)
    small = resize(square, (n, n), order=1, anti_aliasing=True, preserve_range=True)
    return np.where(circle_mask(n), np.clip(small, 0, None), 0.0)
