"""Sampling, convolution, interpolation and the Fourier transform.

Taught in ``chapters/foundations/sampling.ipynb`` (section 2.2 of the key formulas). Here the
formulas are the lesson, so each is implemented as written and tested against NumPy/SciPy
(``np.convolve``, ``scipy.signal.convolve2d``, ``scipy.ndimage.map_coordinates``, ``np.fft``).
Loops run over kernel taps or blocks of frequencies, never over pixels.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from ._validate import (
    MAX_ELEMENTS,
    as_array,
    as_array_and_coords,
    as_axis,
    as_choice,
    as_int,
    as_scalar,
    check_size,
)

__all__ = [
    "antialias_downsample",
    "circular_convolve",
    "continuous_fourier",
    "convolve",
    "convolve_continuous",
    "correlate",
    "dft",
    "downsample",
    "fft_convolve",
    "idft",
    "interpolate_linear",
    "triangle_kernel",
    "upsample",
]

_PAD_MODES = {"fill": "constant", "wrap": "wrap", "symm": "symmetric"}


def _full_convolution(signal: np.ndarray, kernel: np.ndarray, boundary: str) -> np.ndarray:
    """Full discrete convolution, sum_k f[n - k] g[k], by one vectorised pass per kernel tap."""
    lead = [k - 1 for k in kernel.shape]
    padded = np.pad(signal, [(p, p) for p in lead], mode=_PAD_MODES[boundary])
    full_shape = tuple(s + k - 1 for s, k in zip(signal.shape, kernel.shape))
    dtype = np.result_type(signal, kernel)
    out = np.zeros(full_shape, dtype=dtype)
    for tap in itertools.product(*(range(k) for k in kernel.shape)):
        weight = kernel[tap]
        if weight == 0:
            continue
        # out[n] += g[m] f[n - m]; f[n - m] sits at padded[n - m + lead].
        window = tuple(slice(l - m, l - m + s) for l, m, s in zip(lead, tap, full_shape))
        out += weight * padded[window]
    return out


def _crop(full: np.ndarray, signal_shape, kernel_shape, mode: str, correlate: bool) -> np.ndarray:
    if mode == "full":
        return full
    if mode == "valid":
        if any(s < k for s, k in zip(signal_shape, kernel_shape)):
            raise ValueError("mode='valid' needs the signal to be at least as large as the kernel "
                             f"along every axis; got {tuple(signal_shape)} and "
                             f"{tuple(kernel_shape)}")
        return full[tuple(slice(k - 1, s) for s, k in zip(signal_shape, kernel_shape))].copy()
    # "same": centred on the full result, as scipy.signal does.
    starts = [((k - 1) - (k - 1) // 2) if correlate else (k - 1) // 2 for k in kernel_shape]
    return full[tuple(slice(a, a + s) for a, s in zip(starts, signal_shape))].copy()


def _check_conv_args(signal, kernel, mode, boundary):
    f = as_array(signal, "signal", dtype=None)
    g = as_array(kernel, "kernel", dtype=None)
    if np.issubdtype(f.dtype, np.integer) or f.dtype == bool:
        f = f.astype(np.float64)
    if np.issubdtype(g.dtype, np.integer) or g.dtype == bool:
        g = g.astype(np.float64)
    if f.ndim != g.ndim:
        raise ValueError(f"signal and kernel must have the same number of dimensions, got "
                         f"{f.ndim} and {g.ndim}")
    if f.ndim == 0:
        raise ValueError("signal and kernel must be arrays with at least one dimension")
    as_choice(mode, "mode", ("full", "same", "valid"))
    as_choice(boundary, "boundary", tuple(_PAD_MODES))
    return f, g


def convolve(signal, kernel, *, mode: str = "full", boundary: str = "fill") -> np.ndarray:
    """Discrete convolution in any number of dimensions, from its defining sum.

    Parameters
    ----------
    signal : array_like
        The signal f or image I (1D, 2D or 3D, real or complex).
    kernel : array_like
        The kernel g or K, with the same number of dimensions.
    mode : {"full", "same", "valid"}, optional
        Output size, as in :func:`scipy.signal.convolve2d`: every overlap (size N+M-1), the
        signal's size (centred), or only where the kernel lies wholly inside the signal.
    boundary : {"fill", "wrap", "symm"}, optional
        Values assumed outside the signal: zeros, periodic, or mirrored (edge repeated).

    Returns
    -------
    numpy.ndarray
        The convolution, float64 (complex if an input is complex).

    Raises
    ------
    ValueError
        On mismatched dimensions, an unknown ``mode``/``boundary``, non-finite values, or a
        ``valid`` convolution with a kernel larger than the signal.

    Notes
    -----
    :formula:`signal.convolution-discrete` -- :math:`(f*g)[n] = \\sum_k f[k]\\,g[n-k]`, and in
    2D :formula:`signal.convolution-2d` -- :math:`I'(x,y) = \\sum_m\\sum_n I(x-m, y-n)K(m,n)`.
    One vectorised pass per kernel tap: the cost is (kernel size) x (output size).
    """
    f, g = _check_conv_args(signal, kernel, mode, boundary)
    full = _full_convolution(f, g, boundary)
    return _crop(full, f.shape, g.shape, mode, correlate=False)


def correlate(signal, kernel, *, mode: str = "full", boundary: str = "fill") -> np.ndarray:
    """Cross-correlation: what deep-learning "convolution" layers compute.

    Parameters
    ----------
    signal, kernel, mode, boundary
        As in :func:`convolve`.

    Returns
    -------
    numpy.ndarray
        :math:`\\sum_m f[n + m]\\,g[m]`: the convolution with the kernel flipped along every axis.
        For ``mode="same"`` with even kernel sizes the centring follows
        :func:`scipy.signal.correlate2d`.

    Raises
    ------
    ValueError
        As :func:`convolve`.

    Notes
    -----
    Same as ``signal.convolution-2d`` with K(m, n) replaced by K(-m, -n). The two agree
    exactly for symmetric kernels (Gaussian, Laplacian) and differ in sign for odd ones (Sobel).
    """
    f, g = _check_conv_args(signal, kernel, mode, boundary)
    flipped = np.conj(g[tuple(slice(None, None, -1) for _ in range(g.ndim))])
    full = _full_convolution(f, flipped, boundary)
    return _crop(full, f.shape, g.shape, mode, correlate=True)


def convolve_continuous(f, g, dt: float, *, t0_f: float = 0.0, t0_g: float = 0.0):
    """Approximate the continuous convolution integral by a Riemann sum on a sampled grid.

    Parameters
    ----------
    f, g : array_like, 1D
        Samples f(t0_f + n dt) and g(t0_g + n dt).
    dt : float
        Sampling step (> 0), the d-tau of the integral.
    t0_f, t0_g : float, optional
        Times of the first samples.

    Returns
    -------
    t : numpy.ndarray
        Times of the result, ``t0_f + t0_g + n dt``.
    values : numpy.ndarray
        :math:`(f*g)(t) \\approx \\Delta t\\sum_k f(\\tau_k) g(t-\\tau_k)`.

    Raises
    ------
    ValueError
        If ``dt`` is not positive or the samples are not 1D and finite.

    Notes
    -----
    :formula:`signal.convolution-continuous` -- :math:`(f*g)(t)=\\int f(\\tau) g(t-\\tau) d\\tau`.
    The error is O(dt^2) for smooth functions (midpoint-like), O(dt) at jumps.
    """
    step = as_scalar(dt, "dt", low=0.0, low_inclusive=False)
    fa = as_array(f, "f", ndim=1)
    ga = as_array(g, "g", ndim=1)
    t0 = as_scalar(t0_f, "t0_f") + as_scalar(t0_g, "t0_g")
    values = step * convolve(fa, ga, mode="full")
    return t0 + step * np.arange(values.size), values


def _axes(x: np.ndarray, axis) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = as_int(a, "axis", low=-x.ndim, high=x.ndim - 1)
        out.append(a % x.ndim)
    return tuple(out)


def downsample(x, factor: int, *, axis=None) -> np.ndarray:
    """Keep every N-th sample: x_down[n] = x[nN], with no filtering (so it may alias).

    Parameters
    ----------
    x : array_like
        Signal or image.
    factor : int
        N >= 1.
    axis : int or tuple of int, optional
        Axes to decimate (default: all).

    Returns
    -------
    numpy.ndarray
        A new array of size ceil(n / N) along each decimated axis.

    Raises
    ------
    ValueError
        If ``factor`` < 1, ``axis`` is out of range, or ``x`` is empty or not finite.

    Notes
    -----
    :formula:`signal.downsample`. Frequencies above the new Nyquist limit 1/(2N) cycles per
    original sample fold back (alias); :func:`antialias_downsample` removes them first.
    """
    arr = as_array(x, "x", dtype=None)
    n = as_int(factor, "factor", low=1)
    index = [slice(None)] * arr.ndim
    for a in _axes(arr, axis):
        index[a] = slice(None, None, n)
    return arr[tuple(index)].copy()


def antialias_downsample(x, factor: int, *, sigma: float | None = None, axis=None) -> np.ndarray:
    """Low-pass filter with a Gaussian, then keep every N-th sample.

    Parameters
    ----------
    x : array_like
        Signal or image (real).
    factor : int
        N >= 1.
    sigma : float, optional
        Gaussian standard deviation in input samples; default (N - 1) / 2, the choice of
        :func:`skimage.transform.rescale` with ``anti_aliasing=True``.
    axis : int or tuple of int, optional
        Axes to decimate (default: all); only these are filtered.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ValueError
        If ``factor`` < 1, ``sigma`` < 0 or so large that the kernel exceeds 2**28 taps, or
        ``x`` is not finite.

    Notes
    -----
    Supports ``signal.downsample``. The Gaussian filter itself (key formulas 8.2) is
    delegated to :func:`scipy.ndimage.gaussian_filter` with mirrored edges.
    """
    arr = as_array(x, "x")
    n = as_int(factor, "factor", low=1)
    s = (n - 1) / 2 if sigma is None else as_scalar(sigma, "sigma", low=0.0)
    if 2 * (4.0 * s + 0.5) + 1 > MAX_ELEMENTS:          # SciPy's kernel: radius int(4 s + 0.5)
        raise ValueError(f"sigma={s} asks for a Gaussian kernel of about {8 * s:.3g} taps, more "
                         f"than the limit of {MAX_ELEMENTS} (is sigma in samples?)")
    axes = _axes(arr, axis)
    sigmas = [s if a in axes else 0.0 for a in range(arr.ndim)]
    smooth = ndimage.gaussian_filter(arr, sigmas, mode="mirror") if s > 0 else arr
    return downsample(smooth, n, axis=axes)


def upsample(x, factor: int, *, axis=None) -> np.ndarray:
    """Insert N - 1 zeros after every sample: x_up[n] = x[n/N] if N divides n, else 0.

    Parameters
    ----------
    x : array_like
        Signal or image.
    factor : int
        N >= 1.
    axis : int or tuple of int, optional
        Axes to expand (default: all).

    Returns
    -------
    numpy.ndarray
        N times longer along each expanded axis (trailing zeros included, so that
        ``downsample(upsample(x, N), N)`` returns ``x``).

    Raises
    ------
    ValueError
        If ``factor`` < 1 or so large that the result exceeds 2**28 elements, or ``x`` is empty
        or not finite.

    Notes
    -----
    :formula:`signal.upsample`. The zeros create N - 1 spectral images; an interpolation filter
    (for example :func:`triangle_kernel`) removes them.
    """
    arr = as_array(x, "x", dtype=None)
    n = as_int(factor, "factor", low=1)
    axes = _axes(arr, axis)
    shape = tuple(s * n if a in axes else s for a, s in enumerate(arr.shape))
    check_size(shape, "factor")                         # Python ints: 2**63 does not wrap
    out = np.zeros(shape, dtype=arr.dtype)
    out[tuple(slice(None, None, n) if a in axes else slice(None) for a in range(arr.ndim))] = arr
    return out


def triangle_kernel(factor: int) -> np.ndarray:
    """The interpolation filter that turns zero-inserted samples into linear interpolation.

    Parameters
    ----------
    factor : int
        Upsampling factor N >= 1.

    Returns
    -------
    numpy.ndarray, shape (2N - 1,)
        h[n] = 1 - |n| / N for n = -(N-1) ... N-1 (centred).

    Raises
    ------
    ValueError
        If ``factor`` < 1 or the kernel would exceed 2**28 taps.

    Notes
    -----
    Supports ``signal.upsample``: ``convolve(upsample(x, N), h, mode="same")`` equals
    linear interpolation between the original samples.
    """
    n = as_int(factor, "factor", low=1)
    check_size((2 * n - 1,), "factor")
    k = np.arange(-(n - 1), n)
    return 1.0 - np.abs(k) / n


def interpolate_linear(array, coords, *, cval: float = 0.0) -> np.ndarray:
    """Linear interpolation in d dimensions (bilinear for images, trilinear for volumes).

    Parameters
    ----------
    array : array_like, d dimensions
        Samples on the integer grid.
    coords : array_like, shape (d, ...)
        Fractional indices at which to interpolate, one row per axis (the layout of
        :func:`scipy.ndimage.map_coordinates`).
    cval : float, optional
        Value returned for points outside ``[0, n - 1]`` along any axis (default 0).

    Returns
    -------
    numpy.ndarray, shape coords.shape[1:]

    Raises
    ------
    ValueError
        If ``array`` is a scalar, ``coords`` does not have d rows or holds non-finite values.

    Notes
    -----
    :formula:`signal.bilinear` -- :math:`f(x,y) = \\sum_{m,n\\in\\{0,1\\}} f(i+m, j+n)
    (1-|x-i-m|)(1-|y-j-n|)` with i = floor(x), j = floor(y); the same sum over 2^d corners in d
    dimensions. Matches ``map_coordinates(array, coords, order=1, mode="constant", cval=cval)``.
    For volumes this is :formula:`proc.trilinear`, the eight-corner sum taught in section 8.3
    (``chapters/image-processing/resampling.ipynb``).
    """
    a, c = as_array_and_coords(array, coords)
    fill = as_scalar(cval, "cval")
    inside = np.ones(c.shape[1:], dtype=bool)
    nodes, weights = [], []
    for axis in range(a.ndim):
        x = c[axis]
        inside &= (x >= 0) & (x <= a.shape[axis] - 1)
        i = np.floor(x).astype(np.int64)
        frac = x - i
        # Per axis once: the two neighbouring nodes i, i + 1 and their weights 1 - |x - node|.
        nodes.append((np.clip(i, 0, a.shape[axis] - 1), np.clip(i + 1, 0, a.shape[axis] - 1)))
        weights.append((1.0 - frac, frac))
    out = np.zeros(c.shape[1:])
    for corner in itertools.product((0, 1), repeat=a.ndim):
        weight = weights[0][corner[0]]
        for axis in range(1, a.ndim):
            weight = weight * weights[axis][corner[axis]]
        out += weight * a[tuple(nodes[axis][corner[axis]] for axis in range(a.ndim))]
    return np.where(inside, out, fill)


_DFT_BLOCK = 512


def _dft(x, axis: int, sign: float, name: str) -> np.ndarray:
    arr = as_array(x, name, dtype=np.complex128)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension to transform, got a scalar")
    ax = as_axis(axis, arr.ndim)
    moved = np.moveaxis(arr, ax, -1)
    n = moved.shape[-1]
    idx = np.arange(n)
    out = np.empty_like(moved)
    for start in range(0, n, _DFT_BLOCK):
        k = idx[start:start + _DFT_BLOCK, None]
        # (k n) mod N keeps the exponent's argument small, so the twiddles stay exact to ~1e-16.
        w = np.exp(sign * 2j * np.pi * ((k * idx[None, :]) % n) / n)
        out[..., start:start + _DFT_BLOCK] = moved @ w.T
    out = np.moveaxis(out, -1, ax)
    return out / n if sign > 0 else out       # the inverse carries the 1/N


def dft(x, *, axis: int = -1) -> np.ndarray:
    """The discrete Fourier transform by its defining sum (O(N^2); for teaching and testing).

    Parameters
    ----------
    x : array_like
        Real or complex samples.
    axis : int, optional
        Axis along which to transform (default last).

    Returns
    -------
    numpy.ndarray, complex
        X[k] = sum_n x[n] exp(-j 2 pi k n / N), k = 0 ... N-1 (the layout of :func:`numpy.fft.fft`).

    Raises
    ------
    ValueError
        If ``x`` is a scalar, empty or not finite, or ``axis`` is out of range.
    TypeError
        If ``axis`` is not an integer.

    Notes
    -----
    :formula:`signal.dft`. Use :func:`numpy.fft.fft` in practice: the same numbers in
    O(N log N).
    """
    return _dft(x, axis, -1.0, "x")


def idft(spectrum, *, axis: int = -1) -> np.ndarray:
    """Inverse DFT by its defining sum: x[n] = (1/N) sum_k X[k] exp(+j 2 pi k n / N).

    Parameters
    ----------
    spectrum : array_like
        DFT coefficients in :func:`numpy.fft.fft` layout.
    axis : int, optional
        Axis along which to transform.

    Returns
    -------
    numpy.ndarray, complex

    Raises
    ------
    ValueError
        If ``spectrum`` is a scalar, empty or not finite, or ``axis`` is out of range.
    TypeError
        If ``axis`` is not an integer.

    Notes
    -----
    :formula:`signal.dft` (its inverse).
    """
    return _dft(spectrum, axis, +1.0, "spectrum")


def continuous_fourier(samples, dt: float, *, t0: float = 0.0):
    """Approximate the continuous Fourier transform F(omega) of a sampled function with the FFT.

    Parameters
    ----------
    samples : array_like, 1D
        f(t0 + n dt), n = 0 ... N-1; f should be (close to) zero outside the window.
    dt : float
        Sampling step (> 0), in seconds (or mm for spatial signals).
    t0 : float, optional
        Time of the first sample.

    Returns
    -------
    omega : numpy.ndarray
        Angular frequencies 2 pi k / (N dt), ascending, in rad per unit of ``dt``.
    spectrum : numpy.ndarray, complex
        F(omega_k) ~ dt exp(-j omega_k t0) X[k], with X the DFT of the samples.

    Raises
    ------
    ValueError
        If ``dt`` is not positive or ``samples`` is not a finite 1D array.

    Notes
    -----
    :formula:`signal.fourier-continuous` -- :math:`F(\\omega)=\\int f(t)e^{-j\\omega t}dt`,
    replaced by the Riemann sum :math:`\\Delta t\\sum_n f(t_n) e^{-j\\omega t_n}`, which on the
    grid :math:`\\omega_k = 2\\pi k/(N\\Delta t)` is the DFT times a phase. Exact up to aliasing
    (f must be band-limited below pi/dt) and truncation of the window.
    """
    f = as_array(samples, "samples", ndim=1, dtype=np.complex128)
    step = as_scalar(dt, "dt", low=0.0, low_inclusive=False)
    start = as_scalar(t0, "t0")
    n = f.size
    omega = 2 * np.pi * np.fft.fftfreq(n, d=step)
    spectrum = step * np.exp(-1j * omega * start) * np.fft.fft(f)
    return np.fft.fftshift(omega), np.fft.fftshift(spectrum)


def circular_convolve(f, g) -> np.ndarray:
    """Circular (periodic) convolution by its sum: y[n] = sum_k f[k] g[(n - k) mod N].

    Parameters
    ----------
    f, g : array_like
        Arrays of the same shape (any number of dimensions); indices wrap around.

    Returns
    -------
    numpy.ndarray
        Same shape as the inputs.

    Raises
    ------
    ValueError
        If the shapes differ or values are not finite.

    Notes
    -----
    The direct sum behind ``signal.convolution-theorem``: the DFT turns exactly this sum into a
    product, :math:`\\mathrm{DFT}(f \\circledast g) = \\mathrm{DFT}(f)\\,\\mathrm{DFT}(g)`.
    """
    fa = as_array(f, "f", dtype=None)
    ga = as_array(g, "g", dtype=None)
    if fa.shape != ga.shape:
        raise ValueError(f"f and g must have the same shape, got {fa.shape} and {ga.shape}")
    dtype = np.result_type(fa, ga, np.float64)
    out = np.zeros(fa.shape, dtype=dtype)
    for tap in zip(*np.nonzero(ga)):
        out += ga[tap] * np.roll(fa, shift=tap, axis=tuple(range(fa.ndim)))
    return out


def fft_convolve(f, g, *, mode: str = "linear") -> np.ndarray:
    """Convolution through the convolution theorem: multiply the spectra, transform back.

    Parameters
    ----------
    f, g : array_like
        Real or complex arrays with the same number of dimensions.
    mode : {"linear", "circular"}, optional
        "linear" zero-pads both to N + M - 1 per axis and equals ``convolve(f, g, mode="full")``;
        "circular" uses the arrays as they are (same shape required) and equals
        :func:`circular_convolve`.

    Returns
    -------
    numpy.ndarray
        Real if both inputs are real.

    Raises
    ------
    ValueError
        On an unknown ``mode``, mismatched dimensions, or (circular) mismatched shapes.

    Notes
    -----
    :formula:`signal.convolution-theorem` --
    :math:`\\mathcal{F}\\{f*g\\} = \\mathcal{F}\\{f\\}\\cdot\\mathcal{F}\\{g\\}`. With the DFT
    the product gives the *circular* convolution; zero-padding makes the circular wrap-around
    land in zeros, which is why linear convolution needs N + M - 1 points.
    """
    mode = as_choice(mode, "mode", ("linear", "circular"))
    fa = as_array(f, "f", dtype=None)
    ga = as_array(g, "g", dtype=None)
    if fa.ndim != ga.ndim:
        raise ValueError(f"f and g must have the same number of dimensions, got {fa.ndim} "
                         f"and {ga.ndim}")
    if mode == "circular":
        if fa.shape != ga.shape:
            raise ValueError(f"mode='circular' needs f and g of the same shape, got {fa.shape} "
                             f"and {ga.shape}")
        shape = fa.shape
    else:
        shape = tuple(a + b - 1 for a, b in zip(fa.shape, ga.shape))
    axes = tuple(range(fa.ndim))
    out = np.fft.ifftn(np.fft.fftn(fa, shape, axes) * np.fft.fftn(ga, shape, axes), axes=axes)
    if not (np.iscomplexobj(fa) or np.iscomplexobj(ga)):
        out = out.real
    return out
