"""Synthetic images with a known ground truth: the Shepp-Logan head phantom and test patterns.

Used throughout the book wherever the point is to compare a result with the truth (aliasing in
``chapters/foundations/sampling.ipynb``, noise in ``noise.ipynb``, and the reconstructions of the
CT and PET chapters).
"""
from __future__ import annotations

import numpy as np

from ._validate import as_array, as_choice, as_int, as_scalar, as_size, check_size

__all__ = ["ellipse_phantom", "shepp_logan", "shepp_logan_ellipses", "zone_plate"]

# Columns: value, semi-axis a (along x), semi-axis b (along y), centre x0, centre y0, angle (deg).
# Coordinates are in [-1, 1], x to the right and y upwards (mathematical orientation).
# Shepp & Logan (1974), Table 1 as reproduced in Kak & Slaney (1988), Table 3.1.
_SHEPP_LOGAN = np.array([
    [2.00, 0.6900, 0.9200, 0.00, 0.0000, 0.0],
    [-0.98, 0.6624, 0.8740, 0.00, -0.0184, 0.0],
    [-0.02, 0.1100, 0.3100, 0.22, 0.0000, -18.0],
    [-0.02, 0.1600, 0.4100, -0.22, 0.0000, 18.0],
    [0.01, 0.2100, 0.2500, 0.00, 0.3500, 0.0],
    [0.01, 0.0460, 0.0460, 0.00, 0.1000, 0.0],
    [0.01, 0.0460, 0.0460, 0.00, -0.1000, 0.0],
    [0.01, 0.0460, 0.0230, -0.08, -0.6050, 0.0],
    [0.01, 0.0230, 0.0230, 0.00, -0.6060, 0.0],
    [0.01, 0.0230, 0.0460, 0.06, -0.6050, 0.0],
])
# Toft (1996): the same ellipses with contrast raised so that the inner structures are visible.
_MODIFIED_VALUES = np.array([1.0, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])


def shepp_logan_ellipses(*, modified: bool = True) -> np.ndarray:
    """The table of the Shepp-Logan phantom's ten ellipses.

    Parameters
    ----------
    modified : bool, optional
        True (default): Toft's higher-contrast values (1.0 skull, 0.2 brain, 0.3 lesions ...),
        the phantom of MATLAB's ``phantom`` and scikit-image. False: Shepp and Logan's original
        values, whose brain (1.02) and ventricles (1.00) differ by 2 %, like real tissue.

    Returns
    -------
    numpy.ndarray, shape (10, 6)
        Rows (value, a, b, x0, y0, angle_deg) in the unit square [-1, 1]^2, x right, y up. The
        value is *added* inside each ellipse, so overlapping ellipses sum.

    Raises
    ------
    TypeError
        If ``modified`` is not a bool.

    References
    ----------
    L. A. Shepp and B. F. Logan, "The Fourier reconstruction of a head section", IEEE Trans.
    Nucl. Sci. 21(3), 1974. P. A. Toft, "The Radon transform: theory and implementation",
    PhD thesis, DTU, 1996.
    """
    if not isinstance(modified, (bool, np.bool_)):
        raise TypeError(f"modified must be True or False, got {modified!r}")
    table = _SHEPP_LOGAN.copy()
    if modified:
        table[:, 0] = _MODIFIED_VALUES
    return table


def ellipse_phantom(ellipses, shape, *, oversample: int = 1) -> np.ndarray:
    """Rasterise a sum of filled ellipses on a square field of view [-1, 1]^2.

    Parameters
    ----------
    ellipses : array_like, shape (n, 6)
        Rows (value, a, b, x0, y0, angle_deg) as in :func:`shepp_logan_ellipses`; a, b > 0.
    shape : int or (int, int)
        Image size (rows, cols). Row 0 is the top (y = +1), column 0 the left (x = -1); pixel
        centres sit at the centres of an even grid over [-1, 1].
    oversample : int, optional
        Sub-samples per pixel and axis (default 1): values become the area-weighted average
        (partial-volume effect) instead of point samples.

    Returns
    -------
    numpy.ndarray, shape (rows, cols), float64
        Rounded to 12 decimals, so that each region holds its exact value (no -5e-17 where
        ellipses cancel).

    Raises
    ------
    ValueError
        If a semi-axis is not positive, the table has the wrong shape, or ``shape``/
        ``oversample`` are not positive integers.
    """
    table = as_array(ellipses, "ellipses", ndim=2)
    if table.shape[1] != 6:
        raise ValueError(f"ellipses must have shape (n, 6), got {table.shape}")
    if np.any(table[:, 1:3] <= 0):
        raise ValueError("ellipse semi-axes a and b must be positive")
    if isinstance(shape, (str, bytes)) or np.ndim(shape) not in (0, 1) or \
            (np.ndim(shape) == 1 and len(shape) != 2):
        raise ValueError(f"shape must be an int or a pair (rows, cols), got {shape!r}")
    rows, cols = (shape, shape) if np.ndim(shape) == 0 else tuple(shape)
    rows = as_int(rows, "shape[0]", low=1)
    cols = as_int(cols, "shape[1]", low=1)
    k = as_int(oversample, "oversample", low=1)
    check_size((rows, cols), "shape")
    check_size((rows * k, cols * k), "shape and oversample")
    # Sub-pixel centres on a (rows*k, cols*k) grid spanning [-1, 1].
    y = 1.0 - (np.arange(rows * k) + 0.5) * (2.0 / (rows * k))
    x = -1.0 + (np.arange(cols * k) + 0.5) * (2.0 / (cols * k))
    xx, yy = np.meshgrid(x, y)
    image = np.zeros_like(xx)
    for value, a, b, x0, y0, angle in table:
        t = np.deg2rad(angle)
        dx, dy = xx - x0, yy - y0
        u = dx * np.cos(t) + dy * np.sin(t)
        v = -dx * np.sin(t) + dy * np.cos(t)
        image += value * ((u / a) ** 2 + (v / b) ** 2 <= 1.0)
    if k > 1:
        image = image.reshape(rows, k, cols, k).mean(axis=(1, 3))
    # Sums like 1 - 0.8 - 0.2 leave round-off (-5.6e-17); round so that every region holds its
    # exact tabulated value and cancelling ellipses give exactly zero.
    return np.round(image, 12) + 0.0


def shepp_logan(shape=256, *, modified: bool = True, oversample: int = 1) -> np.ndarray:
    """The Shepp-Logan head phantom.

    Parameters
    ----------
    shape : int or (int, int), optional
        Image size (default 256 x 256), covering [-1, 1]^2.
    modified : bool, optional
        Toft's high-contrast values (default) or the original ones; see
        :func:`shepp_logan_ellipses`.
    oversample : int, optional
        Sub-samples per pixel and axis for partial-volume averaging (default 1).

    Returns
    -------
    numpy.ndarray
        With ``modified=True`` the values are 0 (air), 1.0 (skull), 0.2 (brain), 0.0 and 0.1
        (ventricles), 0.3 (lesions), matching :func:`skimage.data.shepp_logan_phantom`.

    Raises
    ------
    ValueError
        As :func:`ellipse_phantom`.
    """
    return ellipse_phantom(shepp_logan_ellipses(modified=modified), shape, oversample=oversample)


def zone_plate(size: int = 256, *, max_frequency: float = 0.5) -> np.ndarray:
    """A circular chirp whose local frequency grows linearly from the centre: an aliasing probe.

    Parameters
    ----------
    size : int, optional
        Image size (square), default 256.
    max_frequency : float, optional
        Local frequency in cycles per pixel reached at the middle of each edge (radius
        size/2); default 0.5, the Nyquist limit, so the full-resolution image is alias-free up
        to the edges and any decimation aliases visibly.

    Returns
    -------
    numpy.ndarray, shape (size, size)
        0.5 (1 + cos(phi(r))) in [0, 1] with phi(r) = pi f_max r^2 / (size / 2), whose local
        frequency phi'(r) / (2 pi) = f_max r / (size / 2).

    Raises
    ------
    ValueError
        If ``size`` < 2 or ``max_frequency`` is not positive.
    """
    n = as_size(size, "size", low=2, ndim=2)
    f = as_scalar(max_frequency, "max_frequency", low=0.0, low_inclusive=False)
    c = (np.arange(n) - (n - 1) / 2.0)
    r2 = c[:, None] ** 2 + c[None, :] ** 2
    return 0.5 * (1.0 + np.cos(np.pi * f * r2 / (n / 2.0)))


def _kind(value: str) -> str:  # pragma: no cover - kept for future phantom families
    return as_choice(value, "kind", ("shepp-logan",))
