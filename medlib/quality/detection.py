"""Contrast and detection: CNR, the Rose criterion and model observers.

Taught in ``chapters/image-quality/detection.ipynb`` (section 10.3). Whether a lesion can be
seen depends on its contrast, its size, the noise and the noise's texture. The contrast-to-noise
ratio measures the first and the third; the Rose model adds the size for white quantum noise;
model observers (the non-prewhitening matched filter and the channelised Hotelling observer)
turn signal-present and signal-absent images into a detectability index d', and d' into the
area under the ROC curve.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from .._validate import as_array, as_int, as_mask, as_rng, as_scalar, as_shape

__all__ = [
    "DprimeInterval",
    "auc_from_dprime",
    "bootstrap_dprime",
    "channel_outputs",
    "cnr",
    "dprime",
    "empirical_auc",
    "hotelling_template",
    "laguerre_gauss_channels",
    "npw_dprime_white",
    "observer_scores",
    "rose_snr",
]


def cnr(image, signal_mask, background_mask) -> float:
    """Contrast-to-noise ratio of a region against its background.

    Parameters
    ----------
    image : array_like
        The image (any dimension).
    signal_mask, background_mask : array_like of bool
        Masks the shape of ``image``: the lesion's pixels, and background pixels (at least 2)
        whose spread is the noise.

    Returns
    -------
    float
        |mean(signal) - mean(background)| / std(background) (``ddof=1``); ``inf`` for a
        noise-free background with contrast, 0 with none.

    Raises
    ------
    ValueError
        If the masks do not match the image, are empty (the background needs 2 pixels), or
        overlap.

    Notes
    -----
    :formula:`quality.cnr`. Per-pixel CNR ignores the lesion's size and the noise's texture:
    two lesions of equal CNR, one of 4 pixels and one of 400, are not equally visible
    (:func:`rose_snr`).
    """
    img = as_array(image, "image", ndim=None)
    sig = as_mask(signal_mask, "signal_mask")
    bg = as_mask(background_mask, "background_mask")
    if sig.shape != img.shape or bg.shape != img.shape:
        raise ValueError(f"signal_mask {sig.shape} and background_mask {bg.shape} must have the "
                         f"image's shape {img.shape}")
    if sig.sum() < 1:
        raise ValueError("signal_mask selects no pixel")
    if bg.sum() < 2:
        raise ValueError("background_mask must select at least 2 pixels")
    if np.any(sig & bg):
        raise ValueError("signal_mask and background_mask overlap")
    contrast = abs(img[sig].mean() - img[bg].mean())
    sd = img[bg].std(ddof=1)
    if sd == 0:
        return float("inf") if contrast > 0 else 0.0
    return float(contrast / sd)


def rose_snr(contrast, fluence_per_mm2, area_mm2):
    """Rose model SNR of a uniform lesion in quantum noise: k = C sqrt(phi A).

    Parameters
    ----------
    contrast : array_like
        Relative contrast C = |phi_lesion - phi| / phi (>= 0).
    fluence_per_mm2 : array_like
        Background quanta per mm^2, phi (> 0).
    area_mm2 : array_like
        Lesion area A in mm^2 (> 0). The three broadcast together.

    Returns
    -------
    numpy.ndarray or float
        The SNR k; Rose's criterion calls the lesion detectable when k >= about 5.

    Raises
    ------
    ValueError
        If a value is out of range or the arrays do not broadcast.

    Notes
    -----
    :formula:`quality.rose`. The difference of the counts in the lesion's area and in an equal
    area of background is C phi A; its Poisson noise sqrt(phi A) (Rose 1948). For white
    noise this is the NPW observer's d' of a flat disk (:func:`npw_dprime_white`). Rose's k of
    about 5 (Burgess 1999: 3 to 5 for a human observer who does not know where to look)
    leaves a margin for the many places a lesion could be.
    """
    c = as_array(contrast, "contrast", low=0.0, high=1e6)
    phi = as_array(fluence_per_mm2, "fluence_per_mm2", low=0.0, high=1e150, low_inclusive=False)
    area = as_array(area_mm2, "area_mm2", low=0.0, high=1e150, low_inclusive=False)
    try:
        np.broadcast_shapes(c.shape, phi.shape, area.shape)
    except ValueError:
        raise ValueError(f"contrast {c.shape}, fluence_per_mm2 {phi.shape} and area_mm2 "
                         f"{area.shape} must broadcast") from None
    with np.errstate(over="ignore"):
        k = c * np.sqrt(phi) * np.sqrt(area)
    if not np.all(np.isfinite(k)):
        raise ValueError("contrast * sqrt(fluence_per_mm2 * area_mm2) overflows float64")
    return k if k.ndim else float(k)


def npw_dprime_white(signal, sigma: float) -> float:
    """Analytic d' of the non-prewhitening matched filter in white noise: sqrt(sum s^2) / sigma.

    Parameters
    ----------
    signal : array_like
        The expected difference s between signal-present and signal-absent images (any shape).
    sigma : float
        Standard deviation of the white noise per pixel (> 0).

    Returns
    -------
    float
        d' = ||s|| / sigma.

    Raises
    ------
    ValueError
        If ``signal`` is empty or not finite, or ``sigma`` is not positive.

    Notes
    -----
    :formula:`quality.npw`. The NPW observer's statistic t = sum s g has mean difference
    sum s^2 and variance sigma^2 sum s^2 in white noise, so d'^2 = sum s^2 / sigma^2 (for
    white noise the NPW is also the ideal linear observer). In correlated noise of covariance
    K it is (s^T s)^2 / (s^T K s), which the simulation of :func:`observer_scores` measures.
    """
    s = as_array(signal, "signal", ndim=None)
    sd = as_scalar(sigma, "sigma", low=1e-150, high=1e150)
    with np.errstate(over="ignore"):
        norm = np.sqrt(np.sum(s * s))
    if not np.isfinite(norm):
        raise ValueError("signal is too large: sum s^2 overflows float64")
    return float(norm / sd)


def observer_scores(images, template) -> np.ndarray:
    """A linear observer's test statistics: t = sum over pixels of template * image.

    Parameters
    ----------
    images : array_like, shape (n, ...)
        ``n`` images.
    template : array_like, shape (...)
        The observer's template, the shape of one image (the expected signal for the NPW
        observer).

    Returns
    -------
    numpy.ndarray, shape (n,)
        One score per image.

    Raises
    ------
    ValueError
        If the template's shape is not that of one image.

    Notes
    -----
    Used with :formula:`quality.npw`: thresholding t decides signal present or absent.
    """
    g = as_array(images, "images", ndim=None)
    w = as_array(template, "template", ndim=None)
    if g.ndim != w.ndim + 1 or g.shape[1:] != w.shape:
        raise ValueError(f"template {w.shape} must have the shape of one of images {g.shape}")
    return g.reshape(g.shape[0], -1) @ w.ravel()


def dprime(scores_present, scores_absent) -> float:
    """Detectability index from an observer's scores: mean difference over the pooled spread.

    Parameters
    ----------
    scores_present, scores_absent : array_like, shape (n1,), (n0,)
        Scores of signal-present and signal-absent images (at least 2 each).

    Returns
    -------
    float
        d' = (mean_1 - mean_0) / sqrt((var_1 + var_0) / 2), ``ddof=1``.

    Raises
    ------
    ValueError
        If a set has fewer than 2 scores or both have no spread.

    Notes
    -----
    :formula:`quality.npw` (the d' of any linear observer's scores). For Gaussian scores of
    equal variance, the AUC is Phi(d' / sqrt 2) (:func:`auc_from_dprime`).
    """
    s1 = as_array(scores_present, "scores_present", ndim=1)
    s0 = as_array(scores_absent, "scores_absent", ndim=1)
    if s1.size < 2 or s0.size < 2:
        raise ValueError(f"scores_present and scores_absent need at least 2 scores each, got "
                         f"{s1.size} and {s0.size}")
    scale = max(float(np.abs(s1).max()), float(np.abs(s0).max()), 1e-300)
    a, b = s1 / scale, s0 / scale
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    if pooled == 0:
        raise ValueError("scores_present and scores_absent have no spread: d' is undefined")
    return float((a.mean() - b.mean()) / pooled)


def auc_from_dprime(d):
    """Area under the ROC curve of an observer with Gaussian scores of equal variance.

    Parameters
    ----------
    d : array_like
        Detectability index d' (any real).

    Returns
    -------
    numpy.ndarray or float
        AUC = Phi(d' / sqrt(2)), 0.5 at d' = 0.

    Raises
    ------
    ValueError
        If ``d`` is not finite.

    Notes
    -----
    :formula:`quality.auc-dprime`. The AUC is the probability that a signal-present score
    exceeds a signal-absent one; their difference is normal with mean d' and variance 2
    (in units of the score's standard deviation).
    """
    x = as_array(d, "d", allow_empty=True)
    auc = special.ndtr(x / np.sqrt(2.0))
    return auc if auc.ndim else float(auc)


def empirical_auc(scores_present, scores_absent) -> float:
    """Empirical AUC: the Mann-Whitney statistic U / (n1 n0), ties counted one half.

    Parameters
    ----------
    scores_present, scores_absent : array_like, shape (n1,), (n0,)
        Scores of signal-present and signal-absent images (at least 1 each).

    Returns
    -------
    float
        The fraction of (present, absent) pairs ranked correctly.

    Raises
    ------
    ValueError
        If a set is empty or not finite.

    Notes
    -----
    Checks :formula:`quality.auc-dprime` on data (Hanley and McNeil 1982). For each
    signal-present score, the number of absent scores below it (plus half of those equal) by a
    binary search in the sorted absent scores: O(n log n). (``scipy.stats`` is not imported:
    it fails to import where PyTorch is blocked, and this package must work without it.)
    """
    s1 = as_array(scores_present, "scores_present", ndim=1)
    s0 = as_array(scores_absent, "scores_absent", ndim=1)
    if s1.size < 1 or s0.size < 1:
        raise ValueError("scores_present and scores_absent need at least 1 score each")
    absent = np.sort(s0)
    below = np.searchsorted(absent, s1, side="left")
    not_above = np.searchsorted(absent, s1, side="right")
    u = below.sum() + 0.5 * (not_above - below).sum()
    return float(u / (s1.size * s0.size))


def laguerre_gauss_channels(shape, n_channels: int, width_px: float, *, centre=None):
    """Laguerre-Gauss channels: rotationally symmetric profiles for a channelised observer.

    Parameters
    ----------
    shape : pair of int
        Image shape (ny, nx).
    n_channels : int
        Number of channels J (1 to 20).
    width_px : float
        Gaussian width a in pixels (> 0); choose it near the lesion's diameter.
    centre : pair of float, optional
        The lesion's centre (row, column) in pixels; default the image centre
        ((ny - 1) / 2, (nx - 1) / 2).

    Returns
    -------
    numpy.ndarray, shape (n_channels, ny, nx)
        u_j(r) = (sqrt 2 / a) exp(-pi r^2 / a^2) L_j(2 pi r^2 / a^2), j = 0 ... J - 1.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`quality.lg-channels`. The continuous channels are orthonormal; sampled on the
    pixel grid they nearly are when a is a few pixels. They represent rotationally
    symmetric signals at rising frequencies (Barrett et al. 1993; Gallas and Barrett 2003).
    """
    ny, nx = as_shape(shape, "shape", ndim=2)
    j = as_int(n_channels, "n_channels", low=1, high=20)
    a = as_scalar(width_px, "width_px", low=1e-3, high=1e6)
    if centre is None:
        cy, cx = (ny - 1) / 2, (nx - 1) / 2
    else:
        c = as_array(centre, "centre", shape=(2,))
        cy, cx = float(c[0]), float(c[1])
    y, x = np.mgrid[:ny, :nx].astype(np.float64)
    r2 = (y - cy) ** 2 + (x - cx) ** 2
    g = np.sqrt(2) / a * np.exp(-np.pi * r2 / a**2)
    arg = 2 * np.pi * r2 / a**2
    return np.stack([g * special.eval_laguerre(k, arg) for k in range(j)])


def channel_outputs(images, channels) -> np.ndarray:
    """Channel responses v = U^T g of each image.

    Parameters
    ----------
    images : array_like, shape (n, ny, nx)
        Images.
    channels : array_like, shape (J, ny, nx)
        Channel profiles (:func:`laguerre_gauss_channels`).

    Returns
    -------
    numpy.ndarray, shape (n, J)

    Raises
    ------
    ValueError
        If the image and channel shapes differ.
    """
    g = as_array(images, "images", ndim=3)
    u = as_array(channels, "channels", ndim=3)
    if g.shape[1:] != u.shape[1:]:
        raise ValueError(f"channels {u.shape[1:]} and images {g.shape[1:]} must have the same "
                         "image shape")
    return g.reshape(g.shape[0], -1) @ u.reshape(u.shape[0], -1).T


def hotelling_template(v_present, v_absent) -> tuple[np.ndarray, float]:
    """Channelised Hotelling observer trained on channel outputs.

    Parameters
    ----------
    v_present, v_absent : array_like, shape (n1, J), (n0, J)
        Channel outputs of signal-present and signal-absent training images (more images
        than channels in each set).

    Returns
    -------
    template : numpy.ndarray, shape (J,)
        w = S^-1 (mean v_1 - mean v_0), S = (S_1 + S_0) / 2 the mean class covariance.
    dprime_train : float
        d'^2 = dv^T S^-1 dv on the training set (optimistic; test on other images with
        :func:`dprime`).

    Raises
    ------
    ValueError
        If the sets' channel counts differ, a set has no more images than channels, or S is
        singular.

    Notes
    -----
    :formula:`quality.cho`. The Hotelling observer is the best linear observer: it prewhitens
    the noise (S^-1) before matching the signal. Restricted to a few channels its covariance
    can be estimated from a few hundred images (Myers and Barrett 1987).
    """
    v1 = as_array(v_present, "v_present", ndim=2)
    v0 = as_array(v_absent, "v_absent", ndim=2)
    if v1.shape[1] != v0.shape[1]:
        raise ValueError(f"v_present has {v1.shape[1]} channels and v_absent {v0.shape[1]}")
    j = v1.shape[1]
    if v1.shape[0] <= j or v0.shape[0] <= j:
        raise ValueError(f"v_present and v_absent need more images than channels ({j}), got "
                         f"{v1.shape[0]} and {v0.shape[0]}")
    scale = max(float(np.abs(v1).max()), float(np.abs(v0).max()), 1e-300)
    a, b = v1 / scale, v0 / scale
    s = (np.cov(a, rowvar=False).reshape(j, j) + np.cov(b, rowvar=False).reshape(j, j)) / 2
    dv = a.mean(axis=0) - b.mean(axis=0)
    if np.linalg.cond(s) > 1e12:
        raise ValueError("v_present and v_absent give a singular channel covariance (channels "
                         "that are constant or copies of each other)")
    w = np.linalg.solve(s, dv)
    return w / scale, float(np.sqrt(max(dv @ w, 0.0)))


class DprimeInterval(NamedTuple):
    """A d' with its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float


def bootstrap_dprime(scores_present, scores_absent, rng, *, n_resamples: int = 1000,
                     confidence: float = 0.95) -> DprimeInterval:
    """Percentile bootstrap interval of d', resampling the images of each class.

    Parameters
    ----------
    scores_present, scores_absent : array_like, shape (n1,), (n0,)
        Test scores (at least 2 each).
    rng : numpy.random.Generator or int
        Source of the resamples.
    n_resamples : int, optional
        100 to 100000 (default 1000).
    confidence : float, optional
        Coverage in (0, 1) (default 0.95).

    Returns
    -------
    DprimeInterval
        ``estimate`` (:func:`dprime` of the scores) and the interval ``low``, ``high``.

    Raises
    ------
    ValueError
        As :func:`dprime`, or if ``n_resamples`` or ``confidence`` is out of range.
    TypeError
        If ``rng`` is not a Generator or seed.

    Notes
    -----
    ``medlib.dl.bootstrap_ci`` bootstraps a mean; d' is a ratio of the two classes' statistics,
    so each class is resampled (with replacement, keeping its size) and d' recomputed.
    """
    s1 = as_array(scores_present, "scores_present", ndim=1)
    s0 = as_array(scores_absent, "scores_absent", ndim=1)
    estimate = dprime(s1, s0)
    n = as_int(n_resamples, "n_resamples", low=100, high=100_000)
    conf = as_scalar(confidence, "confidence", low=0.0, high=1.0, low_inclusive=False,
                     high_inclusive=False)
    gen = as_rng(rng)
    if n * (s1.size + s0.size) > 5e7:
        raise ValueError(f"n_resamples * number of scores = {n * (s1.size + s0.size)} exceeds "
                         "5e7 draws")
    scale = max(float(np.abs(s1).max()), float(np.abs(s0).max()), 1e-300)
    a = (s1 / scale)[gen.integers(0, s1.size, (n, s1.size))]
    b = (s0 / scale)[gen.integers(0, s0.size, (n, s0.size))]
    pooled = np.sqrt((a.var(axis=1, ddof=1) + b.var(axis=1, ddof=1)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (a.mean(axis=1) - b.mean(axis=1)) / pooled
    d = d[np.isfinite(d)]
    if d.size == 0:
        return DprimeInterval(estimate, estimate, estimate)
    low, high = np.quantile(d, [(1 - conf) / 2, (1 + conf) / 2])
    return DprimeInterval(estimate, float(low), float(high))
