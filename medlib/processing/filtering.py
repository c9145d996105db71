"""Filtering and features: sampled Gaussian kernels, Sobel gradients, the Laplacian, sharpening,
and how much noise each filter lets through.

Taught in ``chapters/image-processing/filtering.ipynb`` (section 8.2 of the key formulas).
The formulas are the lesson, so they are implemented as written and tested against SciPy and
scikit-image. Convolutions reuse :mod:`medlib.sampling`.
"""
from __future__ import annotations

import numpy as np

from .. import sampling
from .._validate import MAX_ELEMENTS, as_array, as_bool, as_int, as_scalar

__all__ = [
    "filtered_noise_std",
    "gaussian_filter",
    "gaussian_kernel_1d",
    "gaussian_kernel_2d",
    "gradient_magnitude",
    "laplacian",
    "laplacian_kernel",
    "laplacian_sharpen",
    "sobel_gradients",
    "sobel_kernels",
    "unsharp_mask",
]


def _sigma(sigma) -> float:
    return as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)


def _peak(peak: float, sigma: float) -> float:
    """The unnormalised kernel's centre value, or a ValueError when it overflows."""
    if not np.isfinite(peak):
        raise ValueError(f"sigma={sigma:g} pixel is too small for normalize=False: the kernel's "
                         "peak overflows; use normalize=True (a delta kernel)")
    return peak


def _radius(sigma: float, truncate, ndim: int = 1) -> int:
    """R = int(truncate * sigma + 0.5), scipy.ndimage's rule, for a kernel of (2R+1)^ndim taps
    of at most MAX_ELEMENTS (checked in floats first: 1e300 * 4 must not reach int())."""
    t = as_scalar(truncate, "truncate", low=0.0, low_inclusive=False)
    with np.errstate(over="ignore"):
        radius = np.float64(t) * sigma + 0.5                    # may overflow to inf
        taps = (2 * radius + 1) ** ndim                         # inf, not an OverflowError
    if not taps <= MAX_ELEMENTS:
        raise ValueError(f"sigma={sigma} and truncate={t} give a kernel radius "
                         f"R = int(truncate * sigma + 0.5) of {radius:.3g} pixels: (2R+1)^{ndim} "
                         f"taps exceed the limit of {MAX_ELEMENTS} (is sigma in pixels?)")
    return int(radius)


def gaussian_kernel_1d(sigma: float, *, truncate: float = 4.0,
                       normalize: bool = True) -> np.ndarray:
    """The sampled 1D Gaussian kernel G(x) at x = -R ... R pixels.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0). For a width in mm divide by the pixel spacing.
    truncate : float, optional
        Radius in standard deviations, R = int(truncate * sigma + 0.5) (default 4, as
        :func:`scipy.ndimage.gaussian_filter`).
    normalize : bool, optional
        Divide by the sum of the taps (default True) so that filtering preserves the mean. If
        False, return the formula's samples as they are: they sum to slightly less than 1 once
        the tails are cut off, and to noticeably more than 1 for sigma below 0.5 pixel.

    Returns
    -------
    numpy.ndarray, shape (2R + 1,)
        Symmetric kernel centred on its middle tap.

    Raises
    ------
    ValueError
        If ``sigma`` or ``truncate`` is not positive, the kernel would have more than 2**28
        taps, or ``normalize=False`` with a sigma so small that the peak 1/sqrt(2 pi sigma^2)
        overflows. (A tiny sigma with the default
        ``normalize=True`` gives the delta kernel [1.0].)
    TypeError
        If ``normalize`` is not a bool.

    Notes
    -----
    :formula:`proc.gaussian-1d` -- :math:`G(x) = e^{-x^2/(2\\sigma^2)} / \\sqrt{2\\pi\\sigma^2}`.
    """
    s = _sigma(sigma)
    r = _radius(s, truncate)
    x = np.arange(-r, r + 1, dtype=np.float64)
    with np.errstate(over="ignore"):
        g = np.exp(-0.5 * (x / s) ** 2)        # x / s, not x^2 / s^2: no 0/0 for a tiny sigma
    if as_bool(normalize, "normalize"):
        return g / g.sum()                     # the centre tap is 1: a delta for a tiny sigma
    with np.errstate(over="ignore", divide="ignore"):
        peak = 1.0 / (np.sqrt(2 * np.pi) * np.float64(s))
    return g * _peak(peak, s)


def gaussian_kernel_2d(sigma: float, *, truncate: float = 4.0,
                       normalize: bool = True) -> np.ndarray:
    """The sampled 2D Gaussian kernel G(x, y) on a (2R + 1) x (2R + 1) grid.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0), the same along both axes.
    truncate : float, optional
        Radius R = int(truncate * sigma + 0.5) along each axis (a square support, as SciPy).
    normalize : bool, optional
        Divide by the sum of the taps (default True).

    Returns
    -------
    numpy.ndarray, shape (2R + 1, 2R + 1)
        Equal to ``np.outer(g, g)`` with ``g = gaussian_kernel_1d(sigma, ...)``: the Gaussian is
        separable.

    Raises
    ------
    ValueError
        If ``sigma`` or ``truncate`` is not positive, the kernel would have more than 2**28
        taps, or ``normalize=False`` with a sigma so small that the peak 1/(2 pi sigma^2)
        overflows.
    TypeError
        If ``normalize`` is not a bool.

    Notes
    -----
    :formula:`proc.gaussian-2d` --
    :math:`G(x,y) = e^{-(x^2+y^2)/(2\\sigma^2)} / (2\\pi\\sigma^2)`.
    """
    s = _sigma(sigma)
    r = _radius(s, truncate, ndim=2)
    x = np.arange(-r, r + 1, dtype=np.float64)
    with np.errstate(over="ignore"):
        g = np.exp(-0.5 * ((x[:, None] / s) ** 2 + (x[None, :] / s) ** 2))
    if as_bool(normalize, "normalize"):
        return g / g.sum()
    with np.errstate(over="ignore", divide="ignore"):
        peak = 1.0 / (2 * np.pi * np.float64(s) ** 2)
    return g * _peak(peak, s)


def gaussian_filter(image, sigma, *, truncate: float = 4.0) -> np.ndarray:
    """Smooth an image or volume with a Gaussian: one 1D convolution per axis.

    Parameters
    ----------
    image : array_like
        Image (row, col) or volume (z, y, x).
    sigma : float or sequence of float
        Standard deviation in pixels, one for all axes or one per axis (0 leaves an axis
        unfiltered; for anisotropic voxels pass sigma_mm / spacing_mm per axis).
    truncate : float, optional
        Kernel radius in standard deviations (default 4).

    Returns
    -------
    numpy.ndarray of float64
        Same shape; borders mirrored (edge sample repeated), like
        ``scipy.ndimage.gaussian_filter(image, sigma, mode="reflect")``.

    Raises
    ------
    ValueError
        If a sigma is negative or their number does not match the dimensions.

    Notes
    -----
    Uses proc.gaussian-1d: separability turns a (2R+1)^d kernel into d passes of 2R+1 taps.
    """
    x = as_array(image, "image")
    sig = as_array(sigma, "sigma", ndim=(0, 1))
    sig = np.full(x.ndim, float(sig)) if sig.ndim == 0 else sig
    if sig.shape != (x.ndim,):
        raise ValueError(f"sigma must be a number or have one value per axis ({x.ndim}), "
                         f"got {sig.shape[0]}")
    if np.any(sig < 0):
        raise ValueError(f"sigma must be >= 0, got {sig.tolist()}")
    out = x
    for axis, s in enumerate(sig):
        if s == 0:
            continue
        g = gaussian_kernel_1d(s, truncate=truncate)
        shape = [1] * x.ndim
        shape[axis] = g.size
        out = sampling.convolve(out, g.reshape(shape), mode="same", boundary="symm")
    return out if out is not x else x.copy()


_SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_kernels() -> tuple[np.ndarray, np.ndarray]:
    """The Sobel kernels G_x (derivative along x = columns) and G_y (along y = rows).

    Returns
    -------
    gx, gy : numpy.ndarray, shape (3, 3)
        New arrays; ``gy`` is ``gx.T``. Each is a smoothing [1, 2, 1] across the edge times a
        central difference [-1, 0, 1] along it.

    Notes
    -----
    :formula:`proc.sobel-x` and :formula:`proc.sobel-y`, as printed in the seed (rows are y,
    pointing down the image; columns are x). Applied by cross-correlation they give 8 times the
    derivative in intensity per pixel; applied by convolution, minus that (see
    :func:`sobel_gradients`).
    """
    return _SOBEL_X.copy(), _SOBEL_X.T.copy()


def sobel_gradients(image) -> tuple[np.ndarray, np.ndarray]:
    """Sobel derivative estimates of a 2D image along x (columns) and y (rows).

    Parameters
    ----------
    image : array_like, shape (rows, cols)
        The image I.

    Returns
    -------
    gx, gy : numpy.ndarray of float64
        The cross-correlation of I with G_x and G_y (mirrored borders). Both are positive where
        the intensity increases with the column / row index, and equal 8 x the derivative in
        intensity units per pixel on a linear ramp. Same as ``scipy.ndimage.sobel(I, axis=1)``
        and ``axis=0``.

    Raises
    ------
    ValueError
        If ``image`` is not a finite 2D array.

    Notes
    -----
    Uses proc.sobel-x and proc.sobel-y. The seed writes G_x * I with a convolution; a true
    convolution flips the kernel and returns -gx. The magnitude
    :func:`gradient_magnitude` is the same either way, the direction is not.
    """
    x = as_array(image, "image", ndim=2)
    gx_kernel, gy_kernel = sobel_kernels()
    gx = sampling.correlate(x, gx_kernel, mode="same", boundary="symm")
    gy = sampling.correlate(x, gy_kernel, mode="same", boundary="symm")
    return gx, gy


def gradient_magnitude(image) -> np.ndarray:
    """Sobel gradient magnitude |grad I| = sqrt(gx^2 + gy^2).

    Parameters
    ----------
    image : array_like, shape (rows, cols)

    Returns
    -------
    numpy.ndarray of float64
        Same shape, >= 0, 8 x the gradient in intensity per pixel for a ramp (divide by
        8 x the pixel spacing for intensity per mm).

    Raises
    ------
    ValueError
        If ``image`` is not a finite 2D array.

    Notes
    -----
    :formula:`proc.gradient-magnitude` --
    :math:`|\\nabla I| = \\sqrt{(G_x * I)^2 + (G_y * I)^2}`.
    """
    gx, gy = sobel_gradients(image)
    return np.hypot(gx, gy)


def laplacian_kernel(ndim: int = 2) -> np.ndarray:
    """The discrete Laplacian stencil: second differences summed over the axes.

    Parameters
    ----------
    ndim : int, optional
        1, 2 (default) or 3.

    Returns
    -------
    numpy.ndarray, shape (3,) * ndim
        Centre -2 ndim, the 2 ndim face neighbours +1, corners 0. In 2D
        [[0, 1, 0], [1, -4, 1], [0, 1, 0]].

    Raises
    ------
    ValueError
        If ``ndim`` is not 1, 2 or 3.

    Notes
    -----
    :formula:`proc.laplacian-kernel`. The seed's template [[0, -1, 0], [-1, 4, -1], [0, -1, 0]]
    is the *negative* of this, -nabla^2: the form that is added to an image to sharpen it. The
    sign matters whenever the Laplacian itself is wanted (zero crossings, curvature, diffusion).
    """
    d = as_int(ndim, "ndim", low=1, high=3)
    k = np.zeros((3,) * d)
    centre = (1,) * d
    k[centre] = -2.0 * d
    for axis in range(d):
        for side in (0, 2):
            idx = list(centre)
            idx[axis] = side
            k[tuple(idx)] = 1.0
    return k


def laplacian(image) -> np.ndarray:
    """The discrete Laplacian nabla^2 I = d^2I/dx^2 + d^2I/dy^2 (+ d^2I/dz^2 for volumes).

    Parameters
    ----------
    image : array_like
        1D, 2D or 3D; unit spacing (divide by spacing^2 for intensity per mm^2).

    Returns
    -------
    numpy.ndarray of float64
        Same shape; borders mirrored, as ``scipy.ndimage.laplace(image, mode="reflect")``.

    Raises
    ------
    ValueError
        If ``image`` is not a finite 1D-3D array.

    Notes
    -----
    :formula:`proc.laplacian` -- :math:`\\nabla^2 I = \\partial^2 I/\\partial x^2 +
    \\partial^2 I/\\partial y^2`, each second derivative replaced by the central second
    difference I(x+1) - 2 I(x) + I(x-1) (exact for quadratics), i.e. a convolution with
    :func:`laplacian_kernel`.
    """
    x = as_array(image, "image", ndim=(1, 2, 3))
    return sampling.convolve(x, laplacian_kernel(x.ndim), mode="same", boundary="symm")


def laplacian_sharpen(image, amount: float = 1.0) -> np.ndarray:
    """Laplacian sharpening: I_s = I - c nabla^2 I.

    Parameters
    ----------
    image : array_like
        1D, 2D or 3D image.
    amount : float, optional
        c >= 0 (default 1). With c = 1 in 2D this is the convolution with
        [[0, -1, 0], [-1, 5, -1], [0, -1, 0]].

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    ValueError
        If ``amount`` < 0 or the image is not finite.

    Notes
    -----
    :formula:`proc.laplacian-sharpening` -- subtracting the Laplacian (adding the seed's template)
    steepens every edge: on a blurred step it undershoots on the dark side and overshoots on the
    bright side.
    """
    c = as_scalar(amount, "amount", low=0.0)
    x = as_array(image, "image", ndim=(1, 2, 3))
    return x - c * laplacian(x)


def unsharp_mask(image, sigma: float, amount: float = 1.0, *,
                 truncate: float = 4.0) -> np.ndarray:
    """Unsharp masking: add back a multiple of the detail the Gaussian removes.

    Parameters
    ----------
    image : array_like
        Image or volume.
    sigma : float
        Width of the Gaussian in pixels (> 0): the scale of the detail that is boosted.
    amount : float, optional
        a >= 0 (default 1).
    truncate : float, optional
        Gaussian radius in standard deviations.

    Returns
    -------
    numpy.ndarray of float64
        I + a (I - G_sigma * I); no clipping. Equals
        ``skimage.filters.unsharp_mask(I, radius=sigma, amount=a, preserve_range=True)``.

    Raises
    ------
    ValueError
        If ``sigma`` <= 0 or ``amount`` < 0.

    Notes
    -----
    :formula:`proc.unsharp-mask`. Since G_sigma * I ~ I + (sigma^2 / 2) nabla^2 I for small
    sigma, unsharp masking is Laplacian sharpening with c = a sigma^2 / 2 plus a smoothing of
    the boosted detail, which amplifies less noise.
    """
    s = _sigma(sigma)
    a = as_scalar(amount, "amount", low=0.0)
    x = as_array(image, "image")
    return x + a * (x - gaussian_filter(x, s, truncate=truncate))


def filtered_noise_std(kernel, sigma: float) -> float:
    """Standard deviation of white noise after a linear filter: sigma sqrt(sum k^2).

    Parameters
    ----------
    kernel : array_like
        The filter's taps (any dimension).
    sigma : float
        Standard deviation of the independent, identically distributed input noise (>= 0).

    Returns
    -------
    float
        In the unit of ``sigma``.

    Raises
    ------
    ValueError
        If ``sigma`` < 0 or the kernel is empty or not finite.

    Notes
    -----
    :formula:`proc.noise-gain` -- the output is a weighted sum of independent samples, so the
    variances add with the squared weights. A normalised Gaussian has sum k^2 < 1 (it averages
    noise away); derivative kernels have sum k = 0 and sum k^2 > 1: they remove the signal's mean
    but amplify its noise (Sobel x: sqrt(12) = 3.5; Laplacian: sqrt(20) = 4.5).
    """
    k = as_array(kernel, "kernel")
    s = as_scalar(sigma, "sigma", low=0.0)
    return float(s * np.sqrt(np.sum(k**2)))
