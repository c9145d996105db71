"""Image processing: normalisation and histograms, smoothing and edge filters, resampling.

Taught in ``chapters/image-processing/`` (sections 8.1, 8.2 and 8.3 of the key formulas):

* 8.1 ``normalization.ipynb``: min-max and z-score normalisation with statistics *fitted on
  training data* and passed in, the grey-level histogram, its CDF and histogram equalisation.
* 8.2 ``filtering.ipynb``: sampled Gaussian kernels, Sobel gradients, the Laplacian, sharpening,
  and how much noise each filter lets through.
* 8.3 ``resampling.ipynb``: affine resampling by backward mapping, nearest-neighbour lookup for
  label maps, and resampling a volume to a new (isotropic) spacing with its origin and extent kept.

The formulas are the lesson, so they are implemented as written and tested against SciPy,
scikit-image and nibabel. Convolutions reuse :mod:`medlib.sampling`; multilinear interpolation is
:func:`medlib.sampling.interpolate_linear`.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import sampling
from ._validate import as_array, as_choice, as_int, as_scalar

__all__ = [
    "affine_resample",
    "cdf",
    "equalize_histogram",
    "filtered_noise_std",
    "fit_minmax",
    "fit_zscore",
    "gaussian_filter",
    "gaussian_kernel_1d",
    "gaussian_kernel_2d",
    "gradient_magnitude",
    "histogram",
    "interpolate_nearest",
    "laplacian",
    "laplacian_kernel",
    "laplacian_sharpen",
    "mask_volume_ml",
    "minmax_normalize",
    "quantize",
    "resample_to_spacing",
    "sobel_gradients",
    "sobel_kernels",
    "unsharp_mask",
    "zscore_normalize",
]


# --- 8.1 normalisation and histograms ----------------------------------------------------------

def _pooled(training, name: str) -> np.ndarray:
    """All values of one array, or of a list of arrays of different shapes, as one 1D array."""
    if isinstance(training, (list, tuple)) and training and not isinstance(
            training[0], numbers.Number):
        parts = [as_array(t, f"{name}[{i}]").ravel() for i, t in enumerate(training)]
        return np.concatenate(parts)
    return as_array(training, name).ravel()


def fit_minmax(training, *, percentiles=(0.0, 100.0)) -> tuple[float, float]:
    """Fit the statistics of min-max normalisation on training data.

    Parameters
    ----------
    training : array_like or sequence of array_like
        The training images (one array, or a list of arrays of any shapes). Never include the
        validation or test images: their statistics would leak into the model.
    percentiles : tuple of two floats, optional
        Percentiles used as (x_min, x_max); the default (0, 100) is the true minimum and maximum,
        (0.5, 99.5) a robust version that ignores a few extreme pixels.

    Returns
    -------
    x_min, x_max : float
        Pass them to :func:`minmax_normalize` for training *and* test images.

    Raises
    ------
    ValueError
        If the data are empty or not finite, the percentiles are not increasing within
        [0, 100], or x_max == x_min (constant data cannot be normalised).
    """
    values = _pooled(training, "training")
    pct = as_array(percentiles, "percentiles", shape=(2,))
    if not (0.0 <= pct[0] < pct[1] <= 100.0):
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {pct.tolist()}")
    lo, hi = np.percentile(values, pct)
    if hi <= lo:
        raise ValueError(f"training has x_max == x_min == {lo}: min-max normalisation would "
                         "divide by zero")
    return float(lo), float(hi)


def minmax_normalize(image, x_min: float, x_max: float, *, clip: bool = False) -> np.ndarray:
    """Min-max normalisation with given statistics: x' = (x - x_min) / (x_max - x_min).

    Parameters
    ----------
    image : array_like
        Intensities x, any shape and unit (HU, detector counts ...).
    x_min, x_max : float
        Statistics from the *training* data (:func:`fit_minmax`), or fixed physical limits such
        as a CT window. x_max > x_min.
    clip : bool, optional
        Clip the result to [0, 1] (default False: values outside the training range map outside
        [0, 1], which is honest about a test image that differs from the training data).

    Returns
    -------
    numpy.ndarray of float64
        Dimensionless x'; 0 at x_min and 1 at x_max.

    Raises
    ------
    ValueError
        If x_max <= x_min or the image is not finite.

    Notes
    -----
    :formula:`proc.minmax` -- :math:`x' = (x - x_{\\min}) / (x_{\\max} - x_{\\min})`.
    Statistics computed on each image separately (the seed's reading) make every image span
    [0, 1], whatever its content; computing them on train and test data together leaks
    information from the test set.
    """
    x = as_array(image, "image")
    lo = as_scalar(x_min, "x_min")
    hi = as_scalar(x_max, "x_max")
    if hi <= lo:
        raise ValueError(f"x_max must be greater than x_min, got x_min={lo}, x_max={hi}")
    out = (x - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0) if clip else out


def fit_zscore(training) -> tuple[float, float]:
    """Fit the mean and standard deviation of z-score normalisation on training data.

    Parameters
    ----------
    training : array_like or sequence of array_like
        The training images (or the training voxels inside a mask); never the test images.

    Returns
    -------
    mean, std : float
        Population statistics (ddof=0) of all pooled values.

    Raises
    ------
    ValueError
        If the data are empty, not finite, or constant (std == 0).
    """
    values = _pooled(training, "training")
    mu, sd = float(values.mean()), float(values.std())
    if sd == 0:
        raise ValueError("training has zero standard deviation: z-scores would divide by zero")
    return mu, sd


def zscore_normalize(image, mean: float, std: float) -> np.ndarray:
    """Z-score normalisation with given statistics: x' = (x - mu) / sigma.

    Parameters
    ----------
    image : array_like
        Intensities x, any shape.
    mean : float
        mu, from the training data (:func:`fit_zscore`), in the unit of ``image``.
    std : float
        sigma > 0, from the training data, same unit.

    Returns
    -------
    numpy.ndarray of float64
        Dimensionless x'. The *training* data get mean 0 and standard deviation 1; a test image
        keeps its own offset, which is what the model must see.

    Raises
    ------
    ValueError
        If ``std`` <= 0 or the image is not finite.

    Notes
    -----
    :formula:`proc.zscore` -- :math:`x' = (x - \\mu) / \\sigma`.
    """
    x = as_array(image, "image")
    mu = as_scalar(mean, "mean")
    sd = as_scalar(std, "std", low=0.0, low_inclusive=False)
    return (x - mu) / sd


def quantize(image, n_levels: int, x_min: float, x_max: float) -> np.ndarray:
    """Map intensities to the integer grey levels 0 ... L-1 (nearest level, clipped).

    Parameters
    ----------
    image : array_like
        Intensities, any shape.
    n_levels : int
        L >= 2 (256 for 8 bits).
    x_min, x_max : float
        Intensities mapped to level 0 and level L-1 (x_max > x_min).

    Returns
    -------
    numpy.ndarray of int64
        round((L - 1) * minmax_normalize(x, x_min, x_max)), clipped to [0, L-1].

    Raises
    ------
    ValueError
        If L < 2 or x_max <= x_min.

    Notes
    -----
    Supports proc.histeq: the histogram formulas count integer grey levels.
    """
    n = as_int(n_levels, "n_levels", low=2)
    t = minmax_normalize(image, x_min, x_max, clip=True)
    return np.rint(t * (n - 1)).astype(np.int64)


def _levels(image, n_levels) -> tuple[np.ndarray, int]:
    n = as_int(n_levels, "n_levels", low=2)
    x = as_array(image, "image", dtype=None)
    if x.dtype == bool:
        x = x.astype(np.int64)
    if not np.issubdtype(x.dtype, np.integer):
        if not np.all(x == np.floor(x)):
            raise ValueError("image must hold integer grey levels (use quantize() first)")
    if x.min() < 0 or x.max() > n - 1:
        raise ValueError(f"image grey levels must lie in [0, n_levels - 1] = [0, {n - 1}], got "
                         f"[{x.min()}, {x.max()}]")
    return x.astype(np.int64), n


def histogram(image, n_levels: int) -> np.ndarray:
    """The grey-level histogram h(i): how many pixels have level i, for i = 0 ... L-1.

    Parameters
    ----------
    image : array_like of int
        Grey levels in [0, L-1] (integer dtype, or floats with integer values).
    n_levels : int
        L >= 2.

    Returns
    -------
    numpy.ndarray of int64, shape (L,)
        h, with ``h.sum() == image.size`` (N).

    Raises
    ------
    ValueError
        If a value is not an integer or lies outside [0, L-1].

    Notes
    -----
    Supports proc.cdf (the h(i) of its sum).
    """
    x, n = _levels(image, n_levels)
    return np.bincount(x.ravel(), minlength=n)


def cdf(image, n_levels: int) -> np.ndarray:
    """Cumulative distribution of the grey levels: CDF(x) = sum_{i<=x} h(i) / N.

    Parameters
    ----------
    image : array_like of int
        Grey levels in [0, L-1].
    n_levels : int
        L >= 2.

    Returns
    -------
    numpy.ndarray of float64, shape (L,)
        Non-decreasing, ending at exactly 1.

    Raises
    ------
    ValueError
        As :func:`histogram`.

    Notes
    -----
    :formula:`proc.cdf` -- :math:`\\mathrm{CDF}(x) = \\sum_{i=0}^{x} h(i)/N`.
    """
    h = histogram(image, n_levels)
    c = np.cumsum(h) / h.sum()
    c[-1] = 1.0
    return c


def equalize_histogram(image, n_levels: int) -> np.ndarray:
    """Histogram equalisation: every grey level x becomes (L - 1) CDF(x).

    Parameters
    ----------
    image : array_like of int
        Grey levels in [0, L-1].
    n_levels : int
        L >= 2.

    Returns
    -------
    numpy.ndarray of float64
        The equalised image, values in (0, L-1], same shape; round it for an integer image.
        Divided by L - 1 it equals :func:`skimage.exposure.equalize_hist` of an integer image.

    Raises
    ------
    ValueError
        As :func:`histogram`.

    Notes
    -----
    :formula:`proc.histeq` -- :math:`x' = (L-1)\\,\\mathrm{CDF}(x)`. The map is monotonic, so it
    never swaps the order of two grey levels; it spreads crowded levels apart and merges sparse
    ones, which flattens the histogram only approximately (one level cannot be split).

    References
    ----------
    R. C. Gonzalez, R. E. Woods, *Digital Image Processing*, 4th ed., Pearson, 2018, sec. 3.3.
    """
    x, n = _levels(image, n_levels)
    return (n - 1) * cdf(x, n)[x]


# --- 8.2 filtering and features ----------------------------------------------------------------

def _sigma(sigma) -> float:
    return as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)


def _radius(sigma: float, truncate) -> int:
    t = as_scalar(truncate, "truncate", low=0.0, low_inclusive=False)
    return int(t * sigma + 0.5)          # scipy.ndimage's rule


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
        If ``sigma`` or ``truncate`` is not positive.

    Notes
    -----
    :formula:`proc.gaussian-1d` -- :math:`G(x) = e^{-x^2/(2\\sigma^2)} / \\sqrt{2\\pi\\sigma^2}`.
    """
    s = _sigma(sigma)
    r = _radius(s, truncate)
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * s**2)) / np.sqrt(2 * np.pi * s**2)
    return g / g.sum() if normalize else g


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
        If ``sigma`` or ``truncate`` is not positive.

    Notes
    -----
    :formula:`proc.gaussian-2d` --
    :math:`G(x,y) = e^{-(x^2+y^2)/(2\\sigma^2)} / (2\\pi\\sigma^2)`.
    """
    s = _sigma(sigma)
    r = _radius(s, truncate)
    x = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * s**2)) / (2 * np.pi * s**2)
    return g / g.sum() if normalize else g


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


# --- 8.3 resampling and alignment --------------------------------------------------------------

def interpolate_nearest(array, coords, *, cval: float = 0.0) -> np.ndarray:
    """Nearest-neighbour lookup at fractional indices (the interpolation for label maps).

    Parameters
    ----------
    array : array_like, d dimensions
        Samples on the integer grid; integer label maps keep their dtype.
    coords : array_like, shape (d, ...)
        Fractional indices, one row per axis (as :func:`scipy.ndimage.map_coordinates`).
    cval : float, optional
        Value for points outside [0, n - 1] along any axis (default 0).

    Returns
    -------
    numpy.ndarray, shape coords.shape[1:]
        ``array[floor(c + 0.5)]`` (halves round up, as SciPy's order 0): every output value is
        one of the input values (or ``cval``), so a label map keeps its label set.

    Raises
    ------
    ValueError
        If ``coords`` does not have d rows or holds non-finite values.

    Notes
    -----
    Supports proc.backward-mapping with ``order=0``.
    """
    a = as_array(array, "array", dtype=None)
    c = as_array(coords, "coords", allow_empty=True)
    if c.ndim < 1 or c.shape[0] != a.ndim:
        raise ValueError(f"coords must have shape ({a.ndim}, ...) for a {a.ndim}D array, "
                         f"got {c.shape}")
    fill = as_scalar(cval, "cval")
    inside = np.ones(c.shape[1:], dtype=bool)
    index = []
    for axis in range(a.ndim):
        inside &= (c[axis] >= 0) & (c[axis] <= a.shape[axis] - 1)
        index.append(np.clip(np.floor(c[axis] + 0.5).astype(np.int64), 0, a.shape[axis] - 1))
    values = a[tuple(index)]
    if np.all(inside):
        return values
    # Keep an integer label map's dtype when the fill value fits it (0 usually does).
    fill_value = fill
    if np.issubdtype(a.dtype, np.integer) and fill.is_integer() and \
            np.can_cast(np.min_scalar_type(int(fill)), a.dtype):
        fill_value = int(fill)
    return np.where(inside, values, fill_value)


_CHUNK = 1 << 20     # output voxels per block: bounds the memory of the coordinate arrays


def affine_resample(array, matrix, offset, output_shape, *, order: int = 1,
                    mode: str = "constant", cval: float = 0.0) -> np.ndarray:
    """Resample an image or volume under an affine map of its indices (backward mapping).

    Parameters
    ----------
    array : array_like, d dimensions
        The input image I_in.
    matrix : array_like, shape (d, d)
        A, mapping an *output* index o to the input index A o + b (rotation, scaling, shear).
    offset : array_like, shape (d,)
        b, in input voxels.
    output_shape : sequence of int, length d
        Shape of the result.
    order : {0, 1}, optional
        0: nearest neighbour (label maps); 1: linear, i.e. bilinear / trilinear (default).
    mode : {"constant", "nearest"}, optional
        Outside the input grid: ``cval`` (default), or the value of the nearest edge sample
        (the input coordinates are clamped to [0, n - 1]).
    cval : float, optional
        Fill value for ``mode="constant"``.

    Returns
    -------
    numpy.ndarray, shape output_shape
        float64 for ``order=1``; the input's dtype for ``order=0`` when ``cval`` fits it.
        Equals ``scipy.ndimage.affine_transform(array, matrix, offset, output_shape,
        order=order, mode=mode, cval=cval)``.

    Raises
    ------
    ValueError
        On mismatched shapes, a non-finite matrix or offset, an unknown ``order`` or ``mode``,
        or a non-positive output size.

    Notes
    -----
    :formula:`proc.backward-mapping` -- :math:`I_{out}(\\mathbf{o}) = I_{in}(\\mathbf{A}\\mathbf{o}
    + \\mathbf{b})`: every output voxel asks where it comes from, so no output voxel is left
    empty (pushing input voxels forward would leave holes). To move an image by the affine
    :math:`\\mathbf{x}' = \\mathbf{M}\\mathbf{x} + \\mathbf{t}` (geometry.affine), pass
    :math:`\\mathbf{A} = \\mathbf{M}^{-1}`, :math:`\\mathbf{b} = -\\mathbf{M}^{-1}\\mathbf{t}`.
    Linear interpolation is :func:`medlib.sampling.interpolate_linear` (proc.trilinear).
    """
    a = as_array(array, "array", dtype=None)
    if a.ndim == 0:
        raise ValueError("array must have at least one dimension")
    d = a.ndim
    m = as_array(matrix, "matrix", shape=(d, d))
    b = as_array(offset, "offset", shape=(d,))
    shp = as_array(output_shape, "output_shape", shape=(d,), dtype=None)
    if not np.issubdtype(shp.dtype, np.integer) or np.any(shp < 1):
        raise ValueError(f"output_shape must hold {d} positive integers, got {list(output_shape)}")
    order = as_int(order, "order", low=0, high=1)
    mode = as_choice(mode, "mode", ("constant", "nearest"))
    fill = as_scalar(cval, "cval")
    shape = tuple(int(s) for s in shp)
    dtype = np.float64 if order == 1 else None
    flat = []
    for start in range(0, int(np.prod(shape)), _CHUNK):        # blocks of output voxels
        grid = np.stack(np.unravel_index(np.arange(start, min(start + _CHUNK, np.prod(shape))),
                                         shape)).astype(np.float64)
        coords = m @ grid + b[:, None]
        if mode == "nearest":
            coords = np.clip(coords, 0, np.array(a.shape)[:, None] - 1)
        if order == 0:
            flat.append(interpolate_nearest(a, coords, cval=fill))
        else:
            flat.append(sampling.interpolate_linear(a, coords, cval=fill))
    out = np.concatenate(flat)
    return out.reshape(shape) if dtype is None else out.astype(dtype, copy=False).reshape(shape)


def resample_to_spacing(volume, affine, spacing_mm, *, order: int = 1):
    """Resample an image or volume to a new voxel spacing, keeping its origin and extent.

    Parameters
    ----------
    volume : array_like, d dimensions
        The data, with axes in the index order of ``affine``.
    affine : array_like, shape (d+1, d+1)
        Voxel-to-world matrix (mm) of ``volume``.
    spacing_mm : float or array_like, shape (d,)
        New spacing along each index axis, in mm (a number for isotropic voxels).
    order : {0, 1}, optional
        1: linear (trilinear in 3D) for intensities (default); 0: nearest neighbour for label
        maps, which keeps the label set.

    Returns
    -------
    resampled : numpy.ndarray
        Shape n'_a = round(n_a s_a / s'_a) per axis.
    new_affine : numpy.ndarray, shape (d+1, d+1)
        ``affine @ diag(s'_a / s_a, 1)``: same origin (voxel 0 stays where it was), same
        direction cosines, new spacing.

    Raises
    ------
    ValueError
        If a spacing is not positive, the affine does not match the volume, or ``order`` is not
        0 or 1.

    Notes
    -----
    :formula:`proc.resample-spacing`. New voxel o sits at old index o s'/s. The physical extent
    n s is kept to within half a new voxel per axis (n' is an integer); the few new centres that
    fall beyond the last old centre take the edge value (``mode="nearest"``). Equals
    ``nibabel.processing.resample_from_to(img, (shape, new_affine), order=order,
    mode="nearest")``.
    """
    from .geometry import voxel_spacing

    v = as_array(volume, "volume", dtype=None)
    aff = as_array(affine, "affine", shape=(v.ndim + 1, v.ndim + 1))
    old = voxel_spacing(aff)
    new = as_array(spacing_mm, "spacing_mm", ndim=(0, 1))
    new = np.full(v.ndim, float(new)) if new.ndim == 0 else new
    if new.shape != (v.ndim,) or np.any(new <= 0):
        raise ValueError(f"spacing_mm must be positive, one number or {v.ndim} values, "
                         f"got {np.asarray(spacing_mm).tolist()}")
    order = as_int(order, "order", low=0, high=1)
    ratio = new / old
    shape = np.maximum(np.rint(np.array(v.shape) * old / new), 1).astype(np.int64)
    out = affine_resample(v, np.diag(ratio), np.zeros(v.ndim), shape, order=order,
                          mode="nearest")
    scale = np.eye(v.ndim + 1)
    scale[:v.ndim, :v.ndim] = np.diag(ratio)
    return out, aff @ scale


def mask_volume_ml(mask, spacing_mm) -> float:
    """Volume of a binary mask: number of voxels times the voxel volume, in millilitres.

    Parameters
    ----------
    mask : array_like
        Non-zero voxels count (a label map: compare with the label first).
    spacing_mm : array_like, shape (d,)
        Voxel spacing in mm along each axis of ``mask``.

    Returns
    -------
    float
        Volume in mL (1 mL = 1000 mm^3).

    Raises
    ------
    ValueError
        If the spacing does not have one positive value per axis.
    """
    m = as_array(mask, "mask", dtype=None)
    s = as_array(spacing_mm, "spacing_mm", shape=(m.ndim,))
    if np.any(s <= 0):
        raise ValueError(f"spacing_mm must be positive, got {s.tolist()}")
    return float(np.count_nonzero(m) * np.prod(s) / 1000.0)
