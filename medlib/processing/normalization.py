"""Normalisation and histograms: min-max and z-score normalisation, the grey-level histogram,
its CDF and histogram equalisation.

Taught in ``chapters/image-processing/normalization.ipynb`` (section 8.1 of the key formulas).
The statistics of a normalisation are *fitted on training data* (``fit_minmax``, ``fit_zscore``)
and passed in, so the same frozen map applies to every other image. The formulas are the lesson,
so they are implemented as written and tested against scikit-image and SciPy.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._validate import as_array, as_bool, as_int, as_scalar, as_size

__all__ = [
    "cdf",
    "equalize_histogram",
    "fit_minmax",
    "fit_zscore",
    "histogram",
    "minmax_normalize",
    "quantize",
    "zscore_normalize",
]


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
    TypeError
        If ``clip`` is not True or False (a string such as 'False' is refused).
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
    clip = as_bool(clip, "clip")
    if hi <= lo:
        raise ValueError(f"x_max must be greater than x_min, got x_min={lo}, x_max={hi}")
    out = (x - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0) if clip else out


_CONSTANT_RTOL = 1e-12   # std / max|x| below this is the rounding error of a constant


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
        If the data are empty, not finite, or constant: a standard deviation at most 1e-12
        times the largest magnitude is rounding error of the mean (np.full(3, 0.1).std() is
        1.4e-17, not 0), not contrast.
    """
    values = _pooled(training, "training")
    mu, sd = float(values.mean()), float(values.std())
    if sd <= _CONSTANT_RTOL * float(np.max(np.abs(values))):
        raise ValueError(f"training has zero standard deviation (std {sd:.3g} is rounding error "
                         "of constant data): z-scores would divide by zero")
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
    n = as_size(n_levels, "n_levels", low=2)             # the histogram has n_levels bins
    x = as_array(image, "image", dtype=None, real=True)
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
