"""MR intensity normalisation: White Stripe as published, Nyul-Udupa histogram standardisation,
the foreground z-score of MR and nnU-Net's CT clipping then z-scoring.

Taught in ``chapters/prep-mri/mri-normalization.ipynb``. An MR intensity has no unit: the same
white matter reads 110 on one scanner and 660 on another. Each method below maps intensities to
a scale on which tissues line up again; they differ in what they assume (a white-matter peak,
a training population's histogram, or just the foreground's mean and spread). Learned steps
follow TorchIO's normalisers: fit on training images, apply to any. Tested against
``intensity-normalization`` (White Stripe), TorchIO (``HistogramStandardization``) and NumPy.
"""
from __future__ import annotations

import dataclasses
import numbers

import numpy as np
from scipy.interpolate import make_smoothing_spline

from .._validate import as_array, as_choice, as_int, as_mask, as_scalar

__all__ = [
    "WhiteStripe",
    "apply_ct_normalization",
    "apply_nyul",
    "fit_ct_normalization",
    "fit_nyul",
    "smoothed_histogram",
    "white_stripe",
    "white_stripe_normalize",
    "zscore_foreground",
]

_MIN_VOXELS = 10          # fewer foreground voxels than this cannot give a histogram mode
_KDE_GRID = 80            # intensity-normalization 3.0.1 evaluates its KDE on 80 points
_KDE_TAIL_T1 = 96.0       # ... after dropping the voxels above this percentile (T1)


# ---------------------------------------------------------------------------------------------
# Shared checks
# ---------------------------------------------------------------------------------------------
def _image_and_mask(image, mask, *, image_name="image", mask_name="mask"):
    """The image as float64 and a boolean mask (default: image > 0) of the same shape."""
    img = as_array(image, image_name)
    if mask is None:
        m = img > 0
    else:
        m = as_mask(mask, mask_name)
        if m.shape != img.shape:
            raise ValueError(f"{mask_name} must have the shape of {image_name} {img.shape}, "
                             f"got {m.shape}")
    count = int(m.sum())
    if count < _MIN_VOXELS:
        raise ValueError(f"{mask_name} selects {count} voxels of {image_name}; at least "
                         f"{_MIN_VOXELS} are needed")
    values = img[m]
    if np.ptp(values) <= 1e-12 * max(float(np.max(np.abs(values))), 1e-300):
        raise ValueError(f"{image_name} is constant inside {mask_name}: it has no histogram "
                         "to normalise")
    return img, m, values


def _images(images, name):
    """A list of arrays from one array or a sequence of arrays (of any shapes)."""
    if isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{name} must hold at least one image")
        if isinstance(images[0], numbers.Number):
            return [as_array(images, name)]
        return [as_array(im, f"{name}[{i}]") for i, im in enumerate(images)]
    return [as_array(images, name)]


def _pair(value, name, low, high):
    """Two increasing numbers within [low, high]."""
    arr = as_array(value, name, shape=(2,), low=low, high=high)
    if not arr[0] < arr[1]:
        raise ValueError(f"{name} must be increasing, got {tuple(arr)}")
    return float(arr[0]), float(arr[1])


# ---------------------------------------------------------------------------------------------
# White Stripe
# ---------------------------------------------------------------------------------------------
def _histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and counts of at most ``bins`` equal bins.

    Integer data get bins of a whole number of levels (as R's ``hist`` with its "pretty"
    breaks): ``bins`` equal bins over 0 ... 3057 would hold one or two integer levels in turn
    and give the histogram a saw-tooth that a smoother can mistake for peaks.
    """
    lo, hi = float(values.min()), float(values.max())
    if np.all(values == np.round(values)) and hi - lo < 2**31:
        width = max(1, int(np.ceil((hi - lo + 1) / bins)))
        counts = np.bincount(((values - lo) // width).astype(np.int64))
        return lo + width * np.arange(counts.size) + (width - 1) / 2, counts.astype(float)
    counts, edges = np.histogram(values, bins, range=(lo, hi))
    return 0.5 * (edges[1:] + edges[:-1]), counts.astype(float)


def smoothed_histogram(values, *, bins: int = 2000, rare_fraction: float = 0.0):
    """The histogram of intensities and its smoothing spline (White Stripe's first step).

    Parameters
    ----------
    values : array_like
        Intensities (any shape; flattened), e.g. the brain voxels of a T1-weighted image.
    bins : int, optional
        Number of bins (default 2000, as the ``WhiteStripe`` R package). Integer data get bins
        of a whole number of levels (one level per bin when there are fewer than ``bins``), as
        R's ``hist`` does with its rounded breaks.
    rare_fraction : float, optional
        Drop the bins whose count is below this fraction of the largest count before smoothing
        (the R package's ``rare.prop``: 1/5 for T1 images, 0 keeps all bins).

    Returns
    -------
    centres, counts, smooth : numpy.ndarray
        Centres and counts of the bins kept, and the smoothing spline (a
        :class:`scipy.interpolate.BSpline`) through them.

    Raises
    ------
    ValueError
        If fewer than 10 values are given, they are constant, or ``bins`` < 10.

    Notes
    -----
    Shinohara et al. smooth the histogram with a penalised regression spline whose smoothing
    parameter is chosen by REML (R's ``mgcv``). Here :func:`scipy.interpolate.make_smoothing_spline`
    (a cubic smoothing spline with the penalty chosen by generalised cross-validation) plays the
    same role: a smooth curve through the counts whose derivative locates the peaks.

    References
    ----------
    R. T. Shinohara et al., Statistical normalization techniques for magnetic resonance imaging,
    NeuroImage: Clinical 6, 9-19 (2014). J. Muschelli et al., R package ``WhiteStripe``.
    """
    v = as_array(values, "values").ravel()
    n_bins = as_int(bins, "bins", low=10, high=2**20)
    rare = as_scalar(rare_fraction, "rare_fraction", low=0.0, high=1.0, high_inclusive=False)
    if v.size < _MIN_VOXELS:
        raise ValueError(f"values must hold at least {_MIN_VOXELS} intensities, got {v.size}")
    if np.ptp(v) <= 1e-12 * max(float(np.max(np.abs(v))), 1e-300):
        raise ValueError("values are constant: they have no histogram peak")
    x, y = _histogram(v, n_bins)
    keep = y >= rare * y.max()
    x, y = x[keep], y[keep]
    if x.size < 5:
        raise ValueError(f"values give only {x.size} histogram bins after dropping the rare "
                         "ones; lower rare_fraction or raise bins")
    return x, y, make_smoothing_spline(x, y)


def _spline_mode(values: np.ndarray, contrast: str, bins: int) -> float:
    """The mode of the R package: zero crossings (+ to -) of the smoothed histogram's slope;
    the last one for T1, the one with the most voxels for T2."""
    x, y, smooth = smoothed_histogram(values, bins=bins,
                                      rare_fraction=0.2 if contrast == "t1" else 0.0)
    slope = smooth.derivative()(x)
    peaks = np.flatnonzero((slope[:-1] > 0) & (slope[1:] <= 0))
    if peaks.size == 0:                     # monotone histogram: its highest bin
        return float(x[np.argmax(y)])
    if contrast == "t1":
        return float(x[peaks[-1]])
    return float(x[peaks[np.argmax(y[peaks])]])


def _kde_mode(values: np.ndarray, contrast: str) -> float:
    """The mode as ``intensity-normalization`` 3.0.1 finds it: a Gaussian KDE (Scott's
    bandwidth) on 80 grid points, after dropping the top 4 % for T1; the last strict local
    maximum (T1) or the global maximum (T2). The KDE is evaluated exactly from the values'
    histogram on a fine grid, in one matrix product."""
    if contrast == "t1":
        values = values[values <= np.percentile(values, _KDE_TAIL_T1)]
    if values.size < 2 or np.ptp(values) == 0:
        raise ValueError("image has too few distinct values inside mask for a density estimate")
    bandwidth = values.size ** (-0.2) * values.std(ddof=1)
    grid = np.linspace(values.min(), values.max(), _KDE_GRID)
    centres, counts = _histogram(values, 2**14)
    keep = counts > 0
    centres, counts = centres[keep], counts[keep]
    pdf = np.exp(-0.5 * ((grid[:, None] - centres[None, :]) / bandwidth) ** 2) @ counts
    if contrast == "t1":
        inner = np.flatnonzero((pdf[1:-1] > pdf[:-2]) & (pdf[1:-1] > pdf[2:])) + 1
        if inner.size:
            return float(grid[inner[-1]])
    return float(grid[np.argmax(pdf)])


@dataclasses.dataclass(frozen=True)
class WhiteStripe:
    """The white stripe of one image: its mode, intensity window, statistics and voxels.

    Attributes
    ----------
    mode : float
        The white-matter mode of the smoothed histogram (image units).
    quantile : float
        The fraction of brain voxels below the mode, F(mode).
    low, high : float
        The stripe's intensity window: the quantiles F^-1(F(mode) -+ tau) of the brain voxels.
    mean, std : float
        mu and sigma of the voxels strictly inside the window (std with ddof=1, as R's ``sd``).
    mask : numpy.ndarray of bool
        The stripe's voxels (inside the brain mask).
    """

    mode: float
    quantile: float
    low: float
    high: float
    mean: float
    std: float
    mask: np.ndarray


def white_stripe(image, mask=None, *, contrast: str = "t1", width: float = 0.05,
                 method: str = "spline", bins: int = 2000) -> WhiteStripe:
    """Find the white stripe: the normal-appearing white matter around the histogram's WM mode.

    Parameters
    ----------
    image : array_like
        An MR image or volume (any axis order), skull-stripped or with a brain ``mask``.
    mask : array_like of bool, optional
        The brain (the volume of interest); default ``image > 0`` (a skull-stripped image).
    contrast : {"t1", "t2"}, optional
        "t1": white matter is the last (brightest) peak; "t2": the largest peak.
    width : float, optional
        tau, the half-width of the stripe in quantiles (default 0.05: 10 % of the brain).
    method : {"spline", "kde"}, optional
        How the mode is found. "spline" (default): the paper and its R package, a smoothing
        spline through a 2000-bin histogram (bins with fewer than 1/5 of the largest count
        dropped for T1) and the zero crossings of its slope. "kde": as ``intensity-normalization``
        3.0.1, a Gaussian KDE on 80 grid points after dropping the brightest 4 % (T1).
    bins : int, optional
        Number of histogram bins of the "spline" method (default 2000).

    Returns
    -------
    WhiteStripe
        Mode, quantile, window, mean, standard deviation and voxel mask of the stripe.

    Raises
    ------
    ValueError
        If the mask selects fewer than 10 voxels, the image is constant inside it, the
        shapes differ, ``width`` is outside (0, 0.5], or the stripe is empty.

    Notes
    -----
    :formula:`pre.white-stripe` -- with F the empirical distribution of the brain voxels,
    :math:`q = F(\\hat m)`, the stripe is the voxels with
    :math:`F^{-1}(q - \\tau) < I < F^{-1}(q + \\tau)`, and :math:`\\mu, \\sigma` are their mean
    and standard deviation. :func:`white_stripe_normalize` then returns
    :math:`(I - \\mu) / \\sigma`.

    References
    ----------
    R. T. Shinohara et al., Statistical normalization techniques for magnetic resonance imaging,
    NeuroImage: Clinical 6, 9-19 (2014). J. C. Reinhold et al., Evaluating the impact of
    intensity normalization on MR image synthesis, Proc. SPIE 10949 (2019)
    (``intensity-normalization``).
    """
    img, m, values = _image_and_mask(image, mask)
    kind = as_choice(contrast, "contrast", ("t1", "t2"))
    tau = as_scalar(width, "width", low=0.0, high=0.5, low_inclusive=False)
    how = as_choice(method, "method", ("spline", "kde"))
    n_bins = as_int(bins, "bins", low=10, high=2**20)
    mode = _spline_mode(values, kind, n_bins) if how == "spline" else _kde_mode(values, kind)
    q = float(np.mean(values < mode))
    low, high = np.quantile(values, (max(q - tau, 0.0), min(q + tau, 1.0)))
    stripe = m & (img > low) & (img < high)
    inside = img[stripe]
    if inside.size < 2:
        raise ValueError(f"the white stripe of image holds {inside.size} voxels; widen width "
                         f"(got {tau})")
    std = float(inside.std(ddof=1))
    if std <= 0:
        raise ValueError("the white stripe of image is constant; widen width")
    return WhiteStripe(mode=mode, quantile=q, low=float(low), high=float(high),
                       mean=float(inside.mean()), std=std, mask=stripe)


def white_stripe_normalize(image, mask=None, *, contrast: str = "t1", width: float = 0.05,
                           method: str = "spline") -> np.ndarray:
    """White Stripe normalisation: (I - mu) / sigma with the white stripe's mean and sd.

    Parameters
    ----------
    image, mask, contrast, width, method
        As :func:`white_stripe`.

    Returns
    -------
    numpy.ndarray of float64, the shape of ``image``
        Every voxel in units of the normal-appearing white matter's standard deviation, with
        that white matter at 0. Nothing is clipped or rescaled to [0, 1].

    Raises
    ------
    ValueError
        As :func:`white_stripe`.

    Notes
    -----
    :formula:`pre.white-stripe` -- :math:`I_{WS} = (I - \\mu_{ws}) / \\sigma_{ws}`.
    """
    stripe = white_stripe(image, mask, contrast=contrast, width=width, method=method)
    return (as_array(image, "image") - stripe.mean) / stripe.std


# ---------------------------------------------------------------------------------------------
# Nyul-Udupa histogram standardisation
# ---------------------------------------------------------------------------------------------
def _landmark_percentiles(cutoff: tuple[float, float]) -> np.ndarray:
    """pc1, the deciles 10 ... 90 and pc2, in percent."""
    return np.concatenate([[100 * cutoff[0]], np.arange(10.0, 100.0, 10.0), [100 * cutoff[1]]])


def _cutoff(cutoff) -> tuple[float, float]:
    lo, hi = _pair(cutoff, "cutoff", 0.0, 1.0)
    if lo >= 0.1 or hi <= 0.9:
        raise ValueError(f"cutoff must satisfy cutoff[0] < 0.1 and cutoff[1] > 0.9 (outside the "
                         f"deciles), got {(lo, hi)}")
    return lo, hi


def fit_nyul(images, masks=None, *, cutoff=(0.01, 0.99),
             standard_range=(0.0, 100.0)) -> np.ndarray:
    """Learn Nyul-Udupa landmarks: the mean of the training images' mapped percentiles.

    Parameters
    ----------
    images : array_like or sequence of array_like
        Training images (any shapes); never the test images.
    masks : array_like or sequence of array_like, optional
        Foreground masks, one per image; default ``image > 0``.
    cutoff : tuple of two floats, optional
        (pc1, pc2) as quantiles (default (0.01, 0.99), TorchIO's default): the range of interest.
    standard_range : tuple of two floats, optional
        (s1, s2), where pc1 and pc2 land (default (0, 100)).

    Returns
    -------
    numpy.ndarray, shape (11,)
        The standard landmarks: the images' pc1, deciles 10 ... 90 and pc2, each image's
        mapped linearly by pc1 -> s1, pc2 -> s2, averaged over the images.

    Raises
    ------
    ValueError
        On an empty list, a mask of another shape, a constant foreground, or a cutoff that is
        not increasing, outside [0, 1] or inside the deciles.

    Notes
    -----
    Nyul and Udupa's training step. :func:`apply_nyul` maps a new image's landmarks onto these,
    piecewise linearly. Equals TorchIO's ``HistogramStandardization.train`` (its landmarks
    without the quartiles, which TorchIO computes but does not use).

    References
    ----------
    L. G. Nyul, J. K. Udupa, On standardizing the MR image intensity scale, Magn. Reson. Med.
    42, 1072-1081 (1999). L. G. Nyul, J. K. Udupa, X. Zhang, New variants of a method of MRI
    scale standardization, IEEE Trans. Med. Imaging 19, 143-150 (2000).
    """
    imgs = _images(images, "images")
    if masks is None:
        mask_list = [None] * len(imgs)
    else:
        mask_list = masks if isinstance(masks, (list, tuple)) else [masks]
        if len(mask_list) != len(imgs):
            raise ValueError(f"masks must hold one mask per image ({len(imgs)}), got "
                             f"{len(mask_list)}")
    lo, hi = _cutoff(cutoff)
    s1, s2 = _pair(standard_range, "standard_range", None, None)
    percentiles = _landmark_percentiles((lo, hi))
    mapped = []
    for i, (img, msk) in enumerate(zip(imgs, mask_list)):
        _, _, values = _image_and_mask(img, msk, image_name=f"images[{i}]",
                                       mask_name=f"masks[{i}]")
        p = np.percentile(values, percentiles)
        if p[-1] <= p[0]:
            raise ValueError(f"images[{i}] has pc1 == pc2 inside its mask: widen cutoff")
        mapped.append(s1 + (p - p[0]) * (s2 - s1) / (p[-1] - p[0]))
    return np.mean(mapped, axis=0)


def apply_nyul(image, landmarks, mask=None, *, cutoff=(0.01, 0.99)) -> np.ndarray:
    """Standardise an image's histogram onto learned Nyul-Udupa landmarks.

    Parameters
    ----------
    image : array_like
        The image to standardise (any shape).
    landmarks : array_like, shape (11,)
        Increasing standard landmarks from :func:`fit_nyul` (same ``cutoff``).
    mask : array_like of bool, optional
        Foreground whose percentiles are the image's landmarks; default ``image > 0``.
    cutoff : tuple of two floats, optional
        (pc1, pc2) as quantiles, as in :func:`fit_nyul`.

    Returns
    -------
    numpy.ndarray of float64, the shape of ``image``
        The piecewise-linear map taking the image's landmarks onto ``landmarks``, applied to
        every voxel; below pc1 and above pc2 the first and last segments are extended.

    Raises
    ------
    ValueError
        If ``landmarks`` has not 11 increasing values, or as :func:`fit_nyul`.

    Notes
    -----
    Equals TorchIO's ``HistogramStandardization`` transform (to float32 precision), which maps
    the same landmarks and extends the end segments the same way.
    """
    img, _, values = _image_and_mask(image, mask)
    lm = as_array(landmarks, "landmarks", shape=(11,))
    if np.any(np.diff(lm) <= 0):
        raise ValueError("landmarks must be strictly increasing")
    lo, hi = _cutoff(cutoff)
    p = np.percentile(values, _landmark_percentiles((lo, hi)))
    dp = np.diff(p)
    # A segment of zero width (many voxels of one value) gets slope 0 rather than infinity.
    slope = np.where(dp > 0, np.diff(lm) / np.where(dp > 0, dp, 1.0), 0.0)
    segment = np.clip(np.searchsorted(p[1:-1], img, side="right"), 0, len(slope) - 1)
    return lm[segment] + slope[segment] * (img - p[segment])


# ---------------------------------------------------------------------------------------------
# What segmentation frameworks do: foreground z-score (MR), clip then z-score (CT)
# ---------------------------------------------------------------------------------------------
def zscore_foreground(image, mask=None) -> np.ndarray:
    """Z-score an image with the mean and standard deviation of its own foreground (MR).

    Parameters
    ----------
    image : array_like
        One image (one MR sequence of one subject), any shape.
    mask : array_like of bool, optional
        The foreground (head or brain); default ``image > 0``.

    Returns
    -------
    numpy.ndarray of float64
        ``(image - mu_fg) / sigma_fg`` everywhere (ddof=0); the foreground then has mean 0 and
        standard deviation 1.

    Raises
    ------
    ValueError
        If the mask selects fewer than 10 voxels, has another shape, or the foreground is
        constant.

    Notes
    -----
    nnU-Net's default for non-CT images. Per image, because MR intensities have no unit shared
    between images; inside the foreground (nnU-Net does so when cropping to the non-zero region
    removed much of the image, as for skull-stripped brains), because the amount of air around
    the head would otherwise set mu and sigma.

    References
    ----------
    F. Isensee et al., nnU-Net: a self-configuring method for deep learning-based biomedical
    image segmentation, Nature Methods 18, 203-211 (2021).
    """
    img, _, values = _image_and_mask(image, mask)
    return (img - values.mean()) / values.std()


def fit_ct_normalization(images, masks, *, percentiles=(0.5, 99.5)) -> dict[str, float]:
    """Fit nnU-Net's CT normalisation on training images: foreground percentiles, mean, sd.

    Parameters
    ----------
    images : array_like or sequence of array_like
        Training CT images in HU (any shapes).
    masks : array_like or sequence of array_like
        Their foreground (the labelled structures, as nnU-Net uses), one per image.
    percentiles : tuple of two floats, optional
        Clipping percentiles of the pooled foreground voxels (default (0.5, 99.5)).

    Returns
    -------
    dict
        ``{"low", "high", "mean", "std"}``: the percentiles, then the mean and standard
        deviation of the pooled foreground voxels (in HU).

    Raises
    ------
    ValueError
        On mismatched masks, empty or constant foregrounds, or bad percentiles.

    Notes
    -----
    HU are absolute, so the statistics are those of the *training set*, one set for every
    image; clipping to the foreground's percentiles removes air, bone and metal extremes that
    would otherwise dominate the z-scores. nnU-Net computes the mean and sd of the foreground
    before clipping, as here.
    """
    imgs = _images(images, "images")
    if masks is None:       # HU are negative in air and fat: image > 0 is no foreground
        raise TypeError("masks must be given: one foreground mask per CT image")
    mask_list = masks if isinstance(masks, (list, tuple)) else [masks]
    if len(mask_list) != len(imgs):
        raise ValueError(f"masks must hold one mask per image ({len(imgs)}), got "
                         f"{len(mask_list)}")
    lo_p, hi_p = _pair(percentiles, "percentiles", 0.0, 100.0)
    pooled = np.concatenate([
        _image_and_mask(img, msk, image_name=f"images[{i}]", mask_name=f"masks[{i}]")[2]
        for i, (img, msk) in enumerate(zip(imgs, mask_list))])
    low, high = np.percentile(pooled, (lo_p, hi_p))
    return {"low": float(low), "high": float(high), "mean": float(pooled.mean()),
            "std": float(pooled.std())}


def apply_ct_normalization(image, params) -> np.ndarray:
    """nnU-Net's CT normalisation: clip to the training foreground's percentiles, then z-score.

    Parameters
    ----------
    image : array_like
        CT image in HU, any shape.
    params : mapping
        ``{"low", "high", "mean", "std"}`` from :func:`fit_ct_normalization`.

    Returns
    -------
    numpy.ndarray of float64
        ``(clip(image, low, high) - mean) / std``.

    Raises
    ------
    ValueError
        If a key is missing, ``low >= high`` or ``std <= 0``.
    TypeError
        If ``params`` is not a mapping.
    """
    img = as_array(image, "image")
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict from fit_ct_normalization, got "
                        f"{type(params).__name__}")
    missing = {"low", "high", "mean", "std"} - set(params)
    if missing:
        raise ValueError(f"params is missing {sorted(missing)}")
    low, high = _pair((params["low"], params["high"]), "params['low'], params['high']",
                      None, None)
    mean = as_scalar(params["mean"], "params['mean']")
    std = as_scalar(params["std"], "params['std']", low=0.0, low_inclusive=False)
    return (np.clip(img, low, high) - mean) / std
