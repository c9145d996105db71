"""Fan-beam geometry: equiangular fan projections, rebinning to parallel beam, direct fan-beam
filtered backprojection, the short scan with Parker weights, and the pitch and cone angle of
helical multi-row scanners.

Taught in ``chapters/ct/fan-beam.ipynb`` (section 3.6).

Geometry (pixel units; the image geometry of :mod:`medlib.ct.radon`)
-------------------------------------------------------------------------------------------------
The source turns on a circle of radius ``D`` (``source_radius``) around the rotation centre.
At source angle ``beta`` it sits at ``D (-sin beta, cos beta)``; its central ray passes
through the centre and is the parallel ray ``theta = beta``, ``t = 0``. An equiangular detector
samples the rays at equal fan angles ``gamma`` (radians, positive towards +t). The ray
``(beta, gamma)`` is the parallel-beam line

    theta = beta + gamma,   t = D sin(gamma)

of ``x cos(theta) + y sin(theta) = t``. A fan sinogram has shape ``(n_gamma, n_beta)``:
detector along axis 0, source angles along axis 1, as the parallel sinograms of ``ct.radon``.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_scalar, as_size
from .fbp import ramp_kernel
from .radon import circle_mask, pixel_positions

__all__ = [
    "cone_angle",
    "fan_beam_fbp",
    "fan_beam_projection",
    "fan_to_parallel",
    "helical_pitch",
    "parker_weights",
    "rebin_to_parallel",
]


def _grid(values, name: str) -> np.ndarray:
    g = as_array(values, name, ndim=1)
    if g.size < 2 or np.any(np.diff(g) <= 0):
        raise ValueError(f"{name} must hold at least 2 strictly increasing values")
    step = np.diff(g)
    if not np.allclose(step, step[0], rtol=1e-6, atol=0):
        raise ValueError(f"{name} must be uniformly spaced")
    return g


def _geometry(beta, gamma, source_radius):
    b = _grid(beta, "beta")
    g = _grid(gamma, "gamma")
    d = as_scalar(source_radius, "source_radius", low=0.0, low_inclusive=False)
    if np.abs(g).max() >= np.pi / 2:
        raise ValueError("gamma must lie within (-pi/2, pi/2) (radians)")
    if b[-1] - b[0] > 2 * np.pi + 1e-9:
        raise ValueError("beta must span at most 2 pi (radians, not degrees)")
    return b, g, d


def fan_to_parallel(beta, gamma, source_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The parallel-beam coordinates (theta, t) of the fan-beam ray (beta, gamma).

    Parameters
    ----------
    beta : array_like
        Source angles in radians.
    gamma : array_like
        Fan angles in radians, |gamma| < pi / 2; broadcast against ``beta``.
    source_radius : float
        Distance D from the source to the rotation centre, in pixels (> 0).

    Returns
    -------
    theta : numpy.ndarray
        beta + gamma, radians (not wrapped).
    t : numpy.ndarray
        D sin(gamma), pixels.

    Raises
    ------
    ValueError
        If an angle is not finite, |gamma| >= pi / 2, or D <= 0.

    Notes
    -----
    :formula:`ct.fan-parallel`. The ray from the source at D (-sin beta, cos beta), turned
    by gamma from the central ray, has the normal (cos(beta + gamma), sin(beta + gamma)) and
    passes the centre at the distance D sin(gamma) (Kak & Slaney, sec. 3.4.1).
    """
    b = as_array(beta, "beta")
    g = as_array(gamma, "gamma", low=-np.pi / 2, high=np.pi / 2, low_inclusive=False,
                 high_inclusive=False)
    d = as_scalar(source_radius, "source_radius", low=0.0, low_inclusive=False)
    try:
        b, g = np.broadcast_arrays(b, g)
    except ValueError:
        raise ValueError(f"beta {b.shape} and gamma {g.shape} must broadcast") from None
    return b + g, d * np.sin(g)


def fan_beam_projection(image, beta, gamma, source_radius: float, *,
                        step: float = 0.25) -> np.ndarray:
    """Fan-beam projections of a square image by line integration along the rays.

    Parameters
    ----------
    image : array_like, shape (N, N)
        Values per pixel (zero outside the inscribed circle; the geometry of ``ct.radon``).
    beta : array_like, shape (n_beta,)
        Source angles in radians (uniform, increasing, spanning at most 2 pi).
    gamma : array_like, shape (n_gamma,)
        Fan angles in radians (uniform, increasing, |gamma| < pi / 2).
    source_radius : float
        D in pixels, larger than the field's radius N / 2 (the source turns outside it).
    step : float, optional
        Sampling step along each ray, in pixels (0.05 to 1, default 0.25).

    Returns
    -------
    numpy.ndarray, shape (n_gamma, n_beta)
        R_beta(gamma) = p(beta + gamma, D sin(gamma)): line integrals in value x pixels.

    Raises
    ------
    ValueError
        If the image is not square and finite or the geometry is invalid.

    Notes
    -----
    Formula ct.fan-parallel gives each ray's line; the integral is the sum of bilinear
    interpolates (:func:`scipy.ndimage.map_coordinates`, order 1) at equal steps along the
    chord of the field circle (radius N / 2 + 1), times the step. One vectorised pass per
    source angle.
    """
    img = as_array(image, "image", ndim=2)
    n = img.shape[0]
    if img.shape[1] != n or n < 2:
        raise ValueError(f"image must be square, at least 2 x 2, got {img.shape}")
    b, g, d = _geometry(beta, gamma, source_radius)
    if d <= n / 2:
        raise ValueError(f"source_radius ({d}) must exceed the field radius N / 2 = {n / 2}")
    ds = as_scalar(step, "step", low=0.05, high=1.0)
    c = n // 2
    radius = n / 2 + 1.0
    s = np.arange(-radius, radius + ds / 2, ds)                  # along the ray, from t's foot
    t = d * np.sin(g)
    inside = np.abs(s)[None, :] <= np.sqrt(np.clip(radius**2 - t[:, None] ** 2, 0, None))
    out = np.empty((g.size, b.size))
    for j, beta_j in enumerate(b):
        th = beta_j + g
        cos, sin = np.cos(th)[:, None], np.sin(th)[:, None]
        x = t[:, None] * cos - s[None, :] * sin
        y = t[:, None] * sin + s[None, :] * cos
        values = ndimage.map_coordinates(img, [c - y, x + c], order=1, mode="constant",
                                         cval=0.0)
        out[:, j] = np.sum(values * inside, axis=1) * ds
    return out


def rebin_to_parallel(fan_sinogram, beta, gamma, source_radius: float, theta,
                      n: int) -> np.ndarray:
    """Rebin a full-scan fan sinogram to a parallel-beam sinogram for ``ct.fbp``.

    Parameters
    ----------
    fan_sinogram : array_like, shape (n_gamma, n_beta)
        R_beta(gamma), as from :func:`fan_beam_projection`.
    beta : array_like, shape (n_beta,)
        Source angles, radians, uniformly covering a full turn [beta_0, beta_0 + 2 pi).
    gamma : array_like, shape (n_gamma,)
        Fan angles, radians (uniform, increasing).
    source_radius : float
        D in pixels.
    theta : array_like, shape (n_theta,)
        Parallel angles wanted, radians.
    n : int
        Number of parallel detector bins, at t_k = k - n // 2 (pixels): the image size.

    Returns
    -------
    numpy.ndarray, shape (n, n_theta)
        p(theta, t) interpolated bilinearly in (gamma, beta) at gamma = arcsin(t / D),
        beta = theta - gamma (periodic in beta); zero where |t| exceeds the fan.

    Raises
    ------
    ValueError
        If the shapes disagree, beta does not cover a full turn, or the geometry is invalid.

    Notes
    -----
    Formula ct.fan-parallel, inverted: gamma = arcsin(t / D), beta = theta - gamma.
    """
    b, g, d = _geometry(beta, gamma, source_radius)
    sino = as_array(fan_sinogram, "fan_sinogram", shape=(g.size, b.size))
    db = b[1] - b[0]
    if abs(b.size * db - 2 * np.pi) > 1e-6 * 2 * np.pi:
        raise ValueError("beta must cover one full turn uniformly (n_beta * step = 2 pi) "
                         "to be rebinned")
    th = as_array(theta, "theta", ndim=1)
    size = as_size(n, "n", low=2)
    t = (np.arange(size) - size // 2).astype(float)
    if np.abs(t).max() >= d:
        raise ValueError(f"n ({size}) is too large: |t| must stay below source_radius ({d})")
    gam = np.arcsin(t / d)[:, None]
    bet = th[None, :] - gam
    gi = (gam - g[0]) / (g[1] - g[0]) + 0 * bet
    bi = np.mod(bet - b[0], 2 * np.pi) / db
    pad = 4                                        # periodic in beta, zero beyond the fan
    padded = np.pad(np.concatenate([sino[:, -pad:], sino, sino[:, :pad]], axis=1),
                    ((pad, pad), (0, 0)))
    out = ndimage.map_coordinates(padded, [gi + pad, bi + pad], order=3, mode="nearest")
    out[(gi < 0) | (gi > g.size - 1)] = 0.0
    return out


def parker_weights(beta, gamma, half_fan_angle: float | None = None) -> np.ndarray:
    """Parker's weights for a short scan over beta in [0, pi + 2 gamma_m].

    Parameters
    ----------
    beta : array_like, shape (n_beta,)
        Source angles, radians, from 0 (the start of the scan) to pi + 2 gamma_m.
    gamma : array_like, shape (n_gamma,)
        Fan angles, radians.
    half_fan_angle : float, optional
        gamma_m, radians, at least max |gamma| (default: max |gamma|, the detector's edge).

    Returns
    -------
    numpy.ndarray, shape (n_gamma, n_beta)
        w = sin^2(pi/4 beta / (gamma_m - gamma)) for beta < 2 gamma_m - 2 gamma; 1 up to
        pi - 2 gamma; sin^2(pi/4 (pi + 2 gamma_m - beta) / (gamma_m + gamma)) up to
        pi + 2 gamma_m; 0 beyond.

    Raises
    ------
    ValueError
        If an angle is not finite, beta is negative, |gamma| >= pi / 2 or ``half_fan_angle`` <
        max |gamma|.

    Notes
    -----
    :formula:`ct.parker-weights`. A short scan measures the lines near its two ends twice:
    the ray (beta, gamma) and (beta + pi + 2 gamma, -gamma) are the same line. The weights of
    the two copies add up to 1 and vary smoothly, so filtering does not turn their seams into
    streaks (Parker, 1982).

    References
    ----------
    D. L. Parker, "Optimal short scan convolution reconstruction for fanbeam CT", Med. Phys.
    9(2), 254-257, 1982.
    """
    b = as_array(beta, "beta", ndim=1, low=0.0)[None, :]
    g = as_array(gamma, "gamma", ndim=1, low=-np.pi / 2, high=np.pi / 2, low_inclusive=False,
                 high_inclusive=False)[:, None]
    gm = float(np.abs(g).max())
    if half_fan_angle is not None:
        gm_given = as_scalar(half_fan_angle, "half_fan_angle", high=np.pi / 2,
                             high_inclusive=False)
        if gm_given < gm:
            raise ValueError(f"half_fan_angle ({gm_given}) must be at least max |gamma| ({gm})")
        gm = gm_given
    w = np.zeros(np.broadcast_shapes(b.shape, g.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.sin(np.pi / 4 * b / (gm - g)) ** 2
        fall = np.sin(np.pi / 4 * (np.pi + 2 * gm - b) / (gm + g)) ** 2
    # Continuous at every seam; at the detector's edges (gamma = -/+ gamma_m) the first and
    # the last regions shrink to the single views beta = 0 and pi + 2 gamma_m, weight 0.
    first = b <= 2 * gm - 2 * g
    middle = (b > 2 * gm - 2 * g) & (b < np.pi - 2 * g)
    last = (b >= np.pi - 2 * g) & (b <= np.pi + 2 * gm)
    w = np.where(first, rise, w)
    w = np.where(middle, 1.0, w)
    w = np.where(last, fall, w)
    return np.nan_to_num(w, nan=0.0)


def fan_beam_fbp(fan_sinogram, beta, gamma, source_radius: float, n: int, *,
                 redundancy_weights=None) -> np.ndarray:
    """Direct fan-beam filtered backprojection (equiangular detector, Ram-Lak filter).

    Parameters
    ----------
    fan_sinogram : array_like, shape (n_gamma, n_beta)
        R_beta(gamma) in value x pixels.
    beta : array_like, shape (n_beta,)
        Source angles, radians, uniformly spaced (a full turn, or a short scan).
    gamma : array_like, shape (n_gamma,)
        Fan angles, radians, uniformly spaced, symmetric about 0 (gamma_k = -gamma_{-k}).
    source_radius : float
        D in pixels (> n / 2).
    n : int
        Size of the reconstructed image (pixels, the geometry of ``ct.radon``).
    redundancy_weights : array_like, shape (n_gamma, n_beta), optional
        How much each measured ray counts. Default 1/2 everywhere: a full turn measures every
        line twice. For a short scan pass :func:`parker_weights`.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        The reconstruction in value units, zero outside the inscribed circle.

    Raises
    ------
    ValueError
        If the shapes disagree, gamma is not symmetric, or the geometry is invalid.

    Notes
    -----
    :formula:`ct.fan-fbp` (Kak & Slaney, sec. 3.4.2, with the redundancy weight w in place
    of their factor 1/2):

    1. pre-weight every ray by D cos(gamma) (the projected ray spacing) and by w;
    2. convolve along gamma with g(gamma) = (gamma / sin gamma)^2 h(gamma), h the Ram-Lak
       kernel for the angular spacing alpha: h(k alpha) = ramp_kernel(k) / alpha^2 (the sum
       times alpha);
    3. backproject with the weight 1 / L^2, L the distance from the source to the pixel,
       reading the filtered projection at the fan angle gamma' of the ray through the pixel
       (linear interpolation), and sum over beta times the step of beta.

    One vectorised pass over all pixels per source angle.

    References
    ----------
    A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, IEEE Press,
    1988, sec. 3.4.2 (equiangular rays).
    """
    b, g, d = _geometry(beta, gamma, source_radius)
    sino = as_array(fan_sinogram, "fan_sinogram", shape=(g.size, b.size))
    size = as_size(n, "n", low=2)
    if d <= size / 2:
        raise ValueError(f"source_radius ({d}) must exceed the field radius n / 2 = {size / 2}")
    alpha = g[1] - g[0]
    if not np.allclose(g, -g[::-1], atol=1e-9 * alpha + 1e-12):
        raise ValueError("gamma must be symmetric about 0 (the central ray at gamma = 0 or "
                         "half-way between two bins)")
    if redundancy_weights is None:
        w = 0.5
    else:
        w = as_array(redundancy_weights, "redundancy_weights", shape=sino.shape, low=0.0)
    m = g.size
    lags = np.arange(-(m - 1), m)
    ang = lags * alpha
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(lags == 0, 1.0, ang / np.sin(ang))
    kernel = ratio**2 * ramp_kernel(lags) / alpha**2 * alpha      # g(k alpha) times alpha
    weighted = sino * w * d * np.cos(g)[:, None]
    size_fft = int(2 ** np.ceil(np.log2(3 * m)))
    spectrum = np.fft.rfft(kernel, size_fft)
    filtered = np.fft.irfft(np.fft.rfft(weighted, size_fft, axis=0) * spectrum[:, None],
                            size_fft, axis=0)[m - 1:2 * m - 1]
    x, y = pixel_positions(size)
    mask = circle_mask(size)
    xs, ys = x[mask], y[mask]
    image = np.zeros(xs.shape)
    db = b[1] - b[0]
    for j, beta_j in enumerate(b):
        sx, sy = -d * np.sin(beta_j), d * np.cos(beta_j)
        ux, uy = xs - sx, ys - sy
        along = ux * np.sin(beta_j) - uy * np.cos(beta_j)         # towards the centre
        across = ux * np.cos(beta_j) + uy * np.sin(beta_j)        # towards +t
        gam = np.arctan2(across, along)
        image += np.interp(gam, g, filtered[:, j], left=0.0, right=0.0) / (ux**2 + uy**2)
    out = np.zeros((size, size))
    out[mask] = image * db
    return out


def helical_pitch(table_feed_mm: float, collimation_mm: float) -> float:
    """Helical pitch: table feed per rotation over the total collimation N T.

    Parameters
    ----------
    table_feed_mm : float
        Table travel per 360 degree rotation, mm (>= 0).
    collimation_mm : float
        Total nominal beam collimation N T (rows times row width at the isocentre), mm (> 0).

    Returns
    -------
    float
        The pitch (dimensionless): 1 is contiguous, above 1 leaves gaps that helical
        interpolation bridges, below 1 overlaps (more dose).

    Raises
    ------
    ValueError
        If an argument is out of its range.

    Notes
    -----
    :formula:`ct.helical-pitch` (IEC 60601-2-44's definition). The "detector pitch" of older
    single-row literature divides by one row width T instead, N times larger.
    """
    feed = as_scalar(table_feed_mm, "table_feed_mm", low=0.0)
    coll = as_scalar(collimation_mm, "collimation_mm", low=0.0, low_inclusive=False)
    return feed / coll


def cone_angle(collimation_mm: float, source_radius_mm: float) -> float:
    """Full cone angle of a multi-row beam: 2 arctan(N T / (2 R)), radians.

    Parameters
    ----------
    collimation_mm : float
        Total collimation N T at the isocentre, mm (> 0).
    source_radius_mm : float
        Source-to-isocentre distance R, mm (> 0).

    Returns
    -------
    float
        The full cone angle in radians; the outer rows' rays are tilted by half of it from
        the central plane.

    Raises
    ------
    ValueError
        If an argument is not positive.

    Notes
    -----
    :formula:`ct.cone-angle`. Fan-beam FBP assumes every ray lies in the reconstructed plane.
    The tilted rays of the outer rows cross the plane: a point at distance r from the axis is
    seen at heights that differ by about 2 r tan(kappa / 2) between opposite views. FDK
    (Feldkamp, Davis and Kress, 1984) backprojects along the true cone rays with a cosine
    weight, but a circular orbit does not measure enough to reconstruct exactly (Tuy's
    condition fails off the central plane), so FDK is approximate and its error grows with
    the cone angle.
    """
    coll = as_scalar(collimation_mm, "collimation_mm", low=0.0, low_inclusive=False)
    r = as_scalar(source_radius_mm, "source_radius_mm", low=0.0, low_inclusive=False)
    return float(2 * np.arctan(coll / (2 * r)))
