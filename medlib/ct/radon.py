"""The Radon transform: the parallel-beam projector, the exact transform of ellipses, and the
geometry every CT function of the course shares.

Taught in ``chapters/ct/radon.ipynb`` (section 3.2 of the key formulas).

Geometry convention (identical to :func:`skimage.transform.radon` / ``iradon`` with
``circle=True``, except that angles are in radians)
-------------------------------------------------------------------------------------------------
* The image is square, ``N x N``, and zero outside its inscribed circle. The rotation centre is
  the pixel ``(N // 2, N // 2)``. A pixel ``(row, col)`` sits at ``x = col - N // 2`` (to the
  right) and ``y = N // 2 - row`` (upwards), in pixel units.
* The projection at angle ``theta`` (radians) integrates along the lines
  ``x cos(theta) + y sin(theta) = t``. ``theta = 0`` integrates down the columns (so ``t = x``),
  ``theta = pi / 2`` along the rows (``t = y``); angles grow counter-clockwise.
* A sinogram has shape ``(N, n_angles)``: axis 0 holds ``N`` detector bins at
  ``t = k - N // 2`` (bin ``k``, pixel units), axis 1 the angles, in the order of ``theta``.
  Transpose it to show angle vertically.

So ``radon(image, theta)`` corresponds to ``skimage.transform.radon(image, np.rad2deg(theta))``
and ``fbp(sinogram, theta)`` to ``skimage.transform.iradon(sinogram, np.rad2deg(theta))``; the
tests check both numerically. The projector and backprojector are our own (faster, and a
different interpolation), so the numbers agree to about 1 %, not bit for bit.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_size
from ._common import _angles, _layouts

__all__ = [
    "circle_mask",
    "detector_positions",
    "pad_to_circle",
    "pixel_positions",
    "radon",
    "radon_ellipses",
]

_PROJ_OVERSAMPLE = 16   # fine bins per pixel in the forward projector's histogram (even)
_PROJ_CHUNK = 4         # angles per vectorised pass of the forward projector


def _square_image(image, name: str) -> tuple[np.ndarray, int]:
    img = as_array(image, name, ndim=2)
    n = img.shape[0]
    if img.shape[1] != n:
        raise ValueError(f"{name} must be square (N x N), got shape {img.shape}; pad it "
                         "(e.g. with ct.pad_to_circle) before projecting")
    if n < 2:
        raise ValueError(f"{name} must be at least 2 x 2, got {img.shape}")
    return img, n


def circle_mask(n: int) -> np.ndarray:
    """The reconstruction circle of an ``n x n`` image: pixels within ``n // 2`` of the centre.

    Parameters
    ----------
    n : int
        Image size (>= 1).

    Returns
    -------
    numpy.ndarray of bool, shape (n, n)
        True where ``(row - n//2)^2 + (col - n//2)^2 <= (n//2)^2`` (scikit-image's criterion).
    """
    size = as_size(n, "n", ndim=2)
    c = size // 2
    r = np.arange(size) - c
    return r[:, None] ** 2 + r[None, :] ** 2 <= c**2


def pixel_positions(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) coordinates of the pixels of an ``n x n`` image in the projector's geometry.

    Parameters
    ----------
    n : int
        Image size (>= 1).

    Returns
    -------
    x, y : numpy.ndarray, shape (n, n)
        x = col - n // 2 (to the right) and y = n // 2 - row (upwards), in pixels: the
        convention of :func:`radon` and of scikit-image. A pixel at (x, y) projects to the
        detector position t = x cos(theta) + y sin(theta).
    """
    size = as_size(n, "n", ndim=2)
    c = size // 2
    x = np.broadcast_to(np.arange(size) - c, (size, size)).astype(float)
    y = np.broadcast_to((c - np.arange(size))[:, None], (size, size)).astype(float)
    return x, y


def detector_positions(n: int) -> np.ndarray:
    """The positions t (pixels) of the ``n`` detector bins of a sinogram: t_k = k - n // 2.

    Parameters
    ----------
    n : int
        Number of detector bins (the image size, >= 1).

    Returns
    -------
    numpy.ndarray, shape (n,)
        Bin centres; bin ``n // 2`` holds the rays through the rotation centre.
    """
    size = as_size(n, "n")
    return (np.arange(size) - size // 2).astype(float)


def pad_to_circle(image) -> np.ndarray:
    """Zero-pad a 2D image so that all of it lies inside the inscribed circle.

    Parameters
    ----------
    image : array_like, shape (rows, cols)

    Returns
    -------
    numpy.ndarray, shape (M, M)
        ``M = ceil(sqrt(rows^2 + cols^2)) + 2``; the image is placed so that its centre pixel
        ``(rows // 2, cols // 2)`` lands on ``(M // 2, M // 2)``, the rotation centre. Crop a
        reconstruction back with ``recon[M//2 - rows//2 :, M//2 - cols//2 :][:rows, :cols]``.

    Notes
    -----
    A scanner can only reconstruct what stays inside its scan field of view at every angle;
    objects outside it cause truncation artefacts. Padding is the software equivalent of a
    larger field of view (scikit-image's ``circle=False`` does the same).
    """
    img = as_array(image, "image", ndim=2)
    rows, cols = img.shape
    m = int(np.ceil(np.hypot(rows, cols))) + 2
    top, left = m // 2 - rows // 2, m // 2 - cols // 2
    out = np.zeros((m, m), dtype=img.dtype)
    out[top:top + rows, left:left + cols] = img
    return out


def _check_inside_circle(img: np.ndarray, n: int) -> None:
    outside = ~circle_mask(n)
    if np.any(img[outside] != 0):
        raise ValueError(
            "image must be zero outside its inscribed circle (radius N // 2 around pixel "
            "(N // 2, N // 2)): a scanner cannot measure what leaves the field of view at some "
            "angles; pad it first with ct.pad_to_circle (or mask it with ct.circle_mask)"
        )


def _box_footprints(hist: np.ndarray, lo: np.ndarray, hi: np.ndarray, D: int) -> np.ndarray:
    """Spread each fine-bin mass over a box of D fine bins and integrate over [lo, hi).

    ``hist`` has shape (k, length): masses at the fine nodes u. ``lo`` and ``hi`` (k, n) are
    real positions in fine-bin units. The boxes' density on [x, x + 1) is the sum of the D
    masses within half a box of it (a running sum); its integral is piecewise linear between
    nodes (a second running sum), evaluated exactly at the real end points.
    """
    k, length = hist.shape
    run = np.cumsum(hist, axis=1)
    half = D // 2
    density = np.zeros_like(run)
    density[:, half:length - half] = run[:, D:] - run[:, :-D]
    integral = np.zeros((k, length + 1))
    np.cumsum(density, axis=1, out=integral[:, 1:])
    integral /= D
    integral, density = integral.ravel(), density.ravel()
    rows_i = (np.arange(k) * (length + 1))[:, None]
    rows_d = (np.arange(k) * length)[:, None]

    def at(x):
        base = np.floor(x).astype(np.intp)
        return integral[base + rows_i] + (x - base) * density[base + rows_d] / D

    return at(hi) - at(lo)


def radon(image, theta) -> np.ndarray:
    """Radon transform (parallel-beam sinogram) of a square image, angles in radians.

    Parameters
    ----------
    image : array_like, shape (N, N)
        Attenuation (or any value) per pixel, zero outside the inscribed circle (see the
        module docstring for the geometry, which is scikit-image's).
    theta : array_like, shape (n_angles,)
        Projection angles in radians (any real values; typically ``np.linspace(0, np.pi,
        n_angles, endpoint=False)``).

    Returns
    -------
    numpy.ndarray, shape (N, n_angles)
        Line integrals p(theta, t) in (image units) x pixels: multiply by the pixel size in cm
        when the image holds mu in 1/cm. Column ``a`` is the projection at ``theta[a]``;
        row ``k`` is the detector bin at t = k - N // 2.

    Raises
    ------
    ValueError
        If the image is not square, not finite, or non-zero outside its inscribed circle; if
        ``theta`` is empty or not finite.

    Notes
    -----
    :formula:`ct.radon-parametrized` :formula:`ct.radon`

    p(theta, t) = int mu(t cos(theta) - s sin(theta), t sin(theta) + s cos(theta)) ds is
    discretised with square pixels and detector bins of finite width, in the spirit of the
    distance-driven projector of De Man and Basu (2004). Take |cos theta| >= |sin theta| (rows
    and columns swap roles otherwise): every ray crosses each image row once, over a length
    1 / |cos theta|, and the pixels of a row, projected along the ray, tile the detector axis
    with intervals of width |cos theta|. Each pixel's value is spread uniformly over its
    interval and every detector bin collects what falls within its own width (1). Hence:

    * a uniform image gives exact path lengths, and every pixel's value reaches the detector
      in full, at every angle (sum over t of p(theta, t) = sum of the image);
    * at theta = 0 and pi/2 the projections are the exact column and row sums.

    It is computed per chunk of angles, vectorised. Along the major axis the pixels of row a
    sit at s = b + offset_a (pixels); the row offsets are rounded to 1/16 pixel and the pixel
    values binned into a fine histogram with one ``np.bincount``. Two running sums (cumsum)
    then turn the histogram into each bin's share of the uniform footprints.

    Differences from :func:`skimage.transform.radon`: angles in radians, not degrees; only
    square images (scikit-image crops); an error, not a warning, for values outside the
    circle; area-weighted pixel footprints instead of rotating the image with bilinear
    interpolation (the sinograms agree to about 0.1 % RMS on a Shepp-Logan phantom); 5-7
    times faster.

    References
    ----------
    B. De Man and S. Basu, "Distance-driven projection and backprojection in three
    dimensions", Phys. Med. Biol. 49(11), 2463-2475, 2004. A. C. Kak and M. Slaney,
    *Principles of Computerized Tomographic Imaging*, IEEE Press, 1988, ch. 3.
    """
    img, n = _square_image(image, "image")
    th = _angles(theta)
    _check_inside_circle(img, n)
    sino = np.zeros((n, th.size))
    if not np.any(img):
        return sino
    c = n // 2
    D = _PROJ_OVERSAMPLE
    cos, sin = np.cos(th), np.sin(th)
    use_x = np.abs(cos) >= np.abs(sin)
    layouts = _layouts(n)
    bins_t = np.arange(n) - c
    for key, members in (("x", np.flatnonzero(use_x)), ("y", np.flatnonzero(~use_x))):
        if members.size == 0:
            continue
        minor, b0 = layouts[key]
        grid = img if key == "x" else img[::-1, :].T      # grid[a, b]
        rows = np.flatnonzero(np.any(grid != 0, axis=1))  # work on the non-zero bounding box
        cols = np.flatnonzero(np.any(grid != 0, axis=0))
        sub = grid[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        ua = minor[rows[0]:rows[-1] + 1]                   # minor coordinate of each row a
        sb = np.arange(cols[0], cols[-1] + 1) - b0          # s of each column b (integers)
        # Fine histogram over s in [s_lo, s_hi), D bins per pixel, wide enough for every pixel
        # of the box (|offset| <= |ua|) and every detector footprint (|t| <= N/2, |g| >= 0.7).
        reach = np.abs(ua).max()
        s_lo = int(np.floor(min(sb[0] - reach, -0.75 * n))) - 3
        s_hi = int(np.ceil(max(sb[-1] + reach, 0.75 * n))) + 3
        length = D * (s_hi - s_lo)
        col_term = D * (sb - s_lo)                          # exact: integers times D
        chunk_max = min(_PROJ_CHUNK, members.size)
        weights = np.tile(sub.ravel(), chunk_max)
        index = np.empty((chunk_max,) + sub.shape, dtype=np.intp)
        for start in range(0, members.size, _PROJ_CHUNK):
            chunk = members[start:start + _PROJ_CHUNK]
            k = chunk.size
            g = cos[chunk] if key == "x" else sin[chunk]    # t = g * s
            ratio = (sin[chunk] / g) if key == "x" else (cos[chunk] / g)
            # 1. Pixel (a, b) -> fine bin D (s_b - s_lo) + round(D * offset_a).
            row_term = np.rint(D * ua[None, :] * ratio[:, None]).astype(np.intp)
            row_term += (np.arange(k) * length)[:, None]
            np.add(row_term[:, :, None], col_term[None, None, :], out=index[:k])
            hist = np.bincount(index[:k].ravel(), weights=weights[:index[:k].size],
                               minlength=k * length)[:k * length].reshape(k, length)
            # 2. Footprint: every pixel covers a box of width 1 in s (|g| in t), and detector
            # bin k collects the part of the boxes within its own width, 1 / |g| in s, around
            # s_k = t_k / g (two running sums, see _box_footprints).
            centre = D * (bins_t[None, :] / g[:, None] - s_lo)
            half_bin = 0.5 * D / np.abs(g)[:, None]
            proj = _box_footprints(hist, centre - half_bin, centre + half_bin, D)
            sino[:, chunk] = proj.T
    return sino


def radon_ellipses(ellipses, theta, n: int) -> np.ndarray:
    """Exact Radon transform of a sum of filled ellipses, on the detector of an ``n x n`` image.

    Parameters
    ----------
    ellipses : array_like, shape (m, 6)
        Rows (value, a, b, x0, y0, angle_deg) on the field of view [-1, 1]^2, as in
        :func:`medlib.phantoms.shepp_logan_ellipses` (x right, y up; values add up).
    theta : array_like, shape (n_angles,)
        Angles in radians.
    n : int
        Size of the image the ellipses would be rasterised on by
        :func:`medlib.phantoms.ellipse_phantom`; sets the pixel size 2 / n.

    Returns
    -------
    numpy.ndarray, shape (n, n_angles)
        p(theta, t) at the bin centres t_k = k - n // 2 (pixels), in value x pixels, directly
        comparable with ``radon(ellipse_phantom(ellipses, n), theta)``.

    Raises
    ------
    ValueError
        If the table has the wrong shape, a semi-axis is not positive, or ``n`` < 2.

    Notes
    -----
    Formula ct.radon, closed form for one ellipse of value rho and semi-axes a, b rotated by
    alpha and centred at (x0, y0): with tau = t - x0 cos(theta) - y0 sin(theta) and
    s^2 = a^2 cos^2(theta - alpha) + b^2 sin^2(theta - alpha),
    p = 2 rho a b sqrt(s^2 - tau^2) / s^2 for |tau| < s, else 0 (Kak & Slaney, eq. 3.41).
    ``ellipse_phantom`` puts the pixel centre of index n // 2 at -1 + (n // 2 + 0.5) (2 / n),
    half a pixel off the origin for even n; the bins are shifted accordingly.

    References
    ----------
    A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, 1988, sec. 3.2.
    """
    table = as_array(ellipses, "ellipses", ndim=2)
    if table.shape[1] != 6:
        raise ValueError(f"ellipses must have shape (m, 6), got {table.shape}")
    if np.any(table[:, 1:3] <= 0):
        raise ValueError("ellipse semi-axes a and b must be positive")
    th = _angles(theta)
    size = as_size(n, "n", low=2)
    pix = 2.0 / size
    c = size // 2
    # Phantom coordinates of the rotation centre pixel (row c, col c).
    xc = -1.0 + (c + 0.5) * pix
    yc = 1.0 - (c + 0.5) * pix
    t = (np.arange(size) - c)[:, None] * pix                    # (n, 1), in FOV units
    cos, sin = np.cos(th)[None, :], np.sin(th)[None, :]
    out = np.zeros((size, th.size))
    for value, a, b, x0, y0, angle in table:
        alpha = np.deg2rad(angle)
        with np.errstate(over="ignore", invalid="ignore"):
            tau = t - ((x0 - xc) * cos + (y0 - yc) * sin)
            # 2 rho a b sqrt(s^2 - tau^2) / s^2 = 2 rho (a / s) b sqrt(1 - (tau / s)^2), with
            # s = hypot(a cos, b sin): no a^2 or a b that overflows (or underflows to 0 / 0)
            s = np.hypot(a * np.cos(th - alpha), b * np.sin(th - alpha))[None, :]
            chord = np.sqrt(np.clip(1.0 - (tau / s) ** 2, 0.0, None))
            out += np.where(chord > 0, 2 * value * (a / s) * b * chord, 0.0)
    return out / pix
