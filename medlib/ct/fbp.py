"""Filtered backprojection: the ramp filter and its windows, backprojection and FBP.

Taught in ``chapters/ct/fbp.ipynb`` (section 3.3 of the key formulas). The geometry is the one
stated in :mod:`medlib.ct.radon` (scikit-image's, angles in radians).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft

from .._validate import as_array, as_choice, as_scalar, as_size
from ._common import _angles, _layouts
from .radon import circle_mask

__all__ = [
    "backproject",
    "fbp",
    "filter_response",
    "filter_sinogram",
    "ramp_kernel",
]

_BP_OVERSAMPLE = 32     # fine samples per pixel in the backprojector's lookup table

FILTERS = ("ramp", "ram-lak", "shepp-logan", "cosine", "hamming", "hann")


def ramp_kernel(lags) -> np.ndarray:
    """The band-limited ramp (Ram-Lak) filter in the spatial domain, unit sample spacing.

    Parameters
    ----------
    lags : array_like of int
        Sample offsets n (any integers).

    Returns
    -------
    numpy.ndarray
        h[n] = 1/4 for n = 0, 0 for even n, -1 / (pi n)^2 for odd n: the inverse Fourier
        transform of |f| restricted to |f| <= 1/2 cycle per sample, sampled at the integers.

    Raises
    ------
    ValueError
        If a lag is not an integer.

    Notes
    -----
    :formula:`ct.ramp-kernel` (Kak & Slaney, eq. 3.61). Building the discrete filter from
    these samples (rather than sampling |f| directly) keeps the zero-frequency term right:
    sampling |f| sets the DC gain to exactly 0 although the periodic, zero-padded convolution
    needs a small positive one, and the reconstruction acquires an offset.
    """
    n = as_array(lags, "lags")
    if np.any(n != np.round(n)):
        raise ValueError("lags must be integers")
    n = np.round(n).astype(np.int64)
    odd = (n % 2) != 0
    h = np.zeros(n.shape)
    h[n == 0] = 0.25
    h[odd] = -1.0 / (np.pi * n[odd]) ** 2
    return h


def filter_response(n_padded: int, filter_name: str = "ramp", *, cutoff: float = 1.0):
    """Frequency response of a reconstruction filter for a zero-padded FFT of length ``n``.

    Parameters
    ----------
    n_padded : int
        FFT length (even, >= 4): the projections' length after zero padding.
    filter_name : {"ramp", "ram-lak", "shepp-logan", "cosine", "hamming", "hann"}, optional
        "ramp" and "ram-lak" are the same (the band-limited ramp). The others multiply it by
        a window that falls towards the cut-off.
    cutoff : float, optional
        Cut-off as a fraction of the Nyquist frequency 1/2 cycle per pixel (0 < cutoff <= 1,
        default 1). Above f_c = cutoff / 2 the response is 0.

    Returns
    -------
    frequencies : numpy.ndarray, shape (n_padded // 2 + 1,)
        f in cycles per pixel (the bins of ``numpy.fft.rfftfreq``), 0 to 1/2.
    response : numpy.ndarray, same shape
        H(f) = R(f) W(f / f_c) for f <= f_c, else 0, where R is the discrete ramp (the DFT of
        :func:`ramp_kernel`, equal to |f| up to a small positive value near f = 0) and W the
        window: 1 (ramp), sinc(f / (2 f_c)) (Shepp-Logan), cos(pi f / (2 f_c)) (cosine),
        0.54 + 0.46 cos(pi f / f_c) (Hamming), 0.5 + 0.5 cos(pi f / f_c) (Hann).

    Raises
    ------
    ValueError
        If ``n_padded`` is odd or < 4, the filter name is unknown or ``cutoff`` outside (0, 1].

    Notes
    -----
    :formula:`ct.ramp-filter` :formula:`ct.ramp-windowed`. Frequencies are ordinary
    frequencies (cycles per unit length), the convention in which the FBP formula needs no
    factor 1/(2 pi). The windows trade resolution for noise: the ramp amplifies the highest
    frequencies most, where projections hold mostly noise.

    References
    ----------
    A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, 1988, sec.
    3.3.3-3.3.4. L. A. Shepp and B. F. Logan, IEEE Trans. Nucl. Sci. 21(3), 1974.
    """
    size = as_size(n_padded, "n_padded", low=4)
    if size % 2:
        raise ValueError(f"n_padded must be even, got {size}")
    name = as_choice(filter_name, "filter_name", FILTERS)
    fc = 0.5 * as_scalar(cutoff, "cutoff", low=0.0, high=1.0, low_inclusive=False)
    lags = np.arange(size)
    lags = np.where(lags <= size // 2, lags, lags - size)      # circular: 0, 1, ..., -1
    ramp = np.fft.rfft(ramp_kernel(lags)).real
    f = np.fft.rfftfreq(size)
    x = f / fc
    if name in ("ramp", "ram-lak"):
        w = np.ones_like(f)
    elif name == "shepp-logan":
        w = np.sinc(x / 2)
    elif name == "cosine":
        w = np.cos(np.pi * x / 2)
    elif name == "hamming":
        w = 0.54 + 0.46 * np.cos(np.pi * x)
    else:  # hann
        w = 0.5 + 0.5 * np.cos(np.pi * x)
    return f, np.where(f <= fc, ramp * w, 0.0)


def _padded_length(n: int) -> int:
    # As scikit-image: the next power of two >= 2 n (at least 64), so that the circular
    # convolution of the FFT equals the linear one over the whole projection.
    return max(64, int(2 ** np.ceil(np.log2(2 * n))))


def _check_sinogram(sinogram, theta) -> tuple[np.ndarray, np.ndarray]:
    sino = as_array(sinogram, "sinogram", ndim=2)
    if sino.shape[0] < 2:
        raise ValueError(f"sinogram must have at least 2 detector bins, got {sino.shape}")
    th = _angles(theta)
    if th.size != sino.shape[1]:
        raise ValueError(f"theta has {th.size} angles but the sinogram has {sino.shape[1]} "
                         "columns (the sinogram's shape is (detector bins, angles))")
    span = float(th.max() - th.min())
    if span > _FULL_TURN:      # the reconstruction weights assume [0, pi) or [0, 2 pi)
        raise ValueError(f"theta spans {span:.4g} rad, more than a full rotation (2 pi): the "
                         "angles look like degrees; pass np.deg2rad(theta)")
    return sino, th


_FULL_TURN = 2 * np.pi * (1 + 1e-9)     # a full rotation, with room for rounding


def filter_sinogram(sinogram, filter_name: str = "ramp", *,
                    cutoff: float = 1.0) -> np.ndarray:
    """Filter every projection (column) of a sinogram with a reconstruction filter.

    Parameters
    ----------
    sinogram : array_like, shape (N, n_angles)
        Projections in the columns (detector bins along axis 0).
    filter_name : str, optional
        See :func:`filter_response` (default "ramp").
    cutoff : float, optional
        Cut-off as a fraction of Nyquist (default 1).

    Returns
    -------
    numpy.ndarray, shape (N, n_angles)
        p~(theta, t) = (p * h)(t), computed as IFFT(FFT(p) H) after zero-padding each column
        to the next power of two >= 2 N, so the circular convolution does not wrap around.

    Raises
    ------
    ValueError
        If the sinogram is not 2D and finite, or the filter arguments are invalid.

    Notes
    -----
    :formula:`ct.filtering` (the convolution theorem turns the convolution into a product).
    """
    sino = as_array(sinogram, "sinogram", ndim=2)
    n = sino.shape[0]
    size = _padded_length(n)
    _, response = filter_response(size, filter_name, cutoff=cutoff)
    spectrum = sp_fft.rfft(sino, n=size, axis=0)
    spectrum *= response[:, None]
    return sp_fft.irfft(spectrum, n=size, axis=0)[:n]


def backproject(sinogram, theta) -> np.ndarray:
    """Backproject a (filtered or unfiltered) sinogram: b(x, y) = sum_theta p(theta, t) dtheta.

    Parameters
    ----------
    sinogram : array_like, shape (N, n_angles)
        Projections in the columns (see :mod:`medlib.ct.radon` for the geometry).
    theta : array_like, shape (n_angles,)
        Their angles in radians, sampling [0, pi) (or [0, 2 pi)) uniformly.

    Returns
    -------
    numpy.ndarray, shape (N, N)
        b(x, y) = (pi / n_angles) sum_a p(theta_a, x cos(theta_a) + y sin(theta_a)), with p
        interpolated linearly between detector bins; zero outside the reconstruction circle.
        Applied to a ramp-filtered sinogram this is the reconstruction; applied to the raw
        sinogram it is the object blurred by 1/r.

    Raises
    ------
    ValueError
        If the sinogram is not 2D and finite or ``theta`` does not match its columns or
        spans more than 2 pi (angles in degrees).

    Notes
    -----
    :formula:`ct.backprojection` :formula:`ct.backprojection-blur`. The quadrature weight
    pi / n_angles is the spacing of angles uniformly covering [0, pi); for a full rotation
    (2 n_angles angles over [0, 2 pi)) every line is counted twice and the same weight
    pi / (2 n_angles) per angle is right.

    Implementation: for each angle the image rows (or columns, whichever is closer to the
    detector) sample the projection at equally spaced points x cos(theta) + y sin(theta).
    The linearly interpolated projection is tabulated once on a grid 32 times finer than that
    spacing; every row then starts at its own offset (rounded to 1/32 pixel) and reads the
    table with a fixed stride, i.e. a contiguous slice of one of its 32 phases, and all rows
    are gathered in one fancy-indexing copy. No pixel loop, no per-pixel index arithmetic.
    The accumulation is in float32 (rounding ~1e-6 relative, far below the discretisation).
    """
    sino, th = _check_sinogram(sinogram, theta)
    n, n_angles = sino.shape
    c = n // 2
    D = _BP_OVERSAMPLE
    layouts = _layouts(n)
    acc = {"x": np.zeros((n, n), np.float32), "y": np.zeros((n, n), np.float32)}
    # Detector positions with one zero bin on each side: the projection falls linearly to 0
    # beyond the detector's ends instead of jumping (as in scikit-image, which zero-pads).
    det = np.arange(-1, n + 1, dtype=float)
    column = np.zeros(n + 2)
    # Fine table over s in [s_lo, s_lo + m_len), D samples per pixel: s = (b - b0) + offset
    # with b - b0 in [-c - 1, n] and |offset| <= c + 1.
    s_lo = -(2 * c + 3)
    m_len = 2 * n + 8
    s_fine = s_lo + np.arange(D * m_len) / D
    table = np.zeros(D * m_len, dtype=np.float32)
    for a in range(n_angles):
        ca, sa = np.cos(th[a]), np.sin(th[a])
        key = "x" if abs(ca) >= abs(sa) else "y"
        minor, b0 = layouts[key]
        g, ratio = (ca, sa / ca) if key == "x" else (sa, ca / sa)
        # The projection at t = g s, interpolated linearly between bins; zero off the detector,
        # so only |s| <= (c + 1) / |g| needs computing.
        reach = (c + 3) / abs(g)
        lo = max(0, int(D * (-reach - s_lo)))
        hi = min(table.size, int(D * (reach - s_lo)) + 2)
        table.fill(0.0)
        column[1:-1] = sino[:, a]
        table[lo:hi] = np.interp(g * s_fine[lo:hi] + c, det, column, left=0.0, right=0.0)
        phases = np.ascontiguousarray(table.reshape(m_len, D).T)   # [q, m] = table[q + D m]
        windows = sliding_window_view(phases, n, axis=1)   # [q, m, b] = table[q + D (m + b)]
        # Pixel (a, b) sits at fine index D b + e_a, e_a = D (offset_a - b0 - s_lo), rounded.
        e = np.rint(D * (minor * ratio - b0 - s_lo)).astype(np.intp)
        acc[key] += windows[e % D, e // D]
    image = acc["x"].astype(np.float64)
    image += acc["y"].T[::-1, :]
    image *= np.pi / n_angles
    image[~circle_mask(n)] = 0.0
    return image


def fbp(sinogram, theta, filter_name: str = "ramp", *, cutoff: float = 1.0) -> np.ndarray:
    """Filtered backprojection: reconstruct an image from its parallel-beam sinogram.

    Parameters
    ----------
    sinogram : array_like, shape (N, n_angles)
        Projections in the columns, as returned by :func:`medlib.ct.radon.radon`
        (scikit-image's layout).
    theta : array_like, shape (n_angles,)
        Projection angles in radians, uniformly covering [0, pi) (or [0, 2 pi)).
    filter_name : {"ramp", "ram-lak", "shepp-logan", "cosine", "hamming", "hann"}, optional
        Reconstruction filter (default "ramp", the Ram-Lak filter); see
        :func:`filter_response`.
    cutoff : float, optional
        Filter cut-off as a fraction of the Nyquist frequency (default 1).

    Returns
    -------
    numpy.ndarray, shape (N, N)
        The reconstruction, zero outside the inscribed circle, in the sinogram's units per
        pixel: divide by the pixel size (cm) to get mu in 1/cm when the sinogram holds
        dimensionless line integrals.

    Raises
    ------
    ValueError
        If the sinogram is not 2D and finite, ``theta`` does not match its columns or spans
        more than 2 pi (angles in degrees, the common mistake), or the filter arguments are
        invalid.

    Notes
    -----
    :formula:`ct.fbp` :formula:`ct.radon-inverse`. ``backproject(filter_sinogram(p))``: the
    ramp filter undoes the 1/|f| weighting that backprojection applies to the image's
    spectrum (central-slice theorem), which makes FBP the inverse Radon transform for
    complete, noise-free data.

    Differences from :func:`skimage.transform.iradon`: angles in radians; the windows are
    evaluated on the continuous frequency axis (scikit-image samples ``np.hamming`` and
    ``np.hanning`` over the FFT length, a slightly different curve); ``cutoff`` lets the
    window end below Nyquist; the backprojection interpolates the same way (linearly, up to
    positions rounded to 1/32 pixel) but is 7-9 times faster (``benchmarks/bench_ct.py``).
    The geometry and the scaling are the same (the tests compare them).

    References
    ----------
    A. C. Kak and M. Slaney, *Principles of Computerized Tomographic Imaging*, 1988, ch. 3.
    """
    sino, th = _check_sinogram(sinogram, theta)
    return backproject(filter_sinogram(sino, filter_name, cutoff=cutoff), th)
