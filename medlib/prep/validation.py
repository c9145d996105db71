"""Validating a preprocessing step, and an auditable pipeline (section 13.4, ``validation``).

A validation report compares a step's input and output: intensity statistics before and after,
the correlation inside a region of interest, and the structural similarity (SSIM) in the
image's own dimensionality and slice by slice, each with a stated data range. A report carries
a verdict, so a broken step (an 8-bit overflow, swapped axes, a lost slice) is flagged rather
than printed and forgotten.

:class:`Pipeline` chains steps in TorchIO's fit-on-train style: ``fit(training_images)`` learns
the statistics that steps need (from training images only), ``apply(image, affine)`` applies
them to any image and returns a record of what every step did (name, parameters, fitted
statistics, statistics before and after, shapes and spacings). The record is plain JSON;
``Pipeline.from_record`` rebuilds the fitted pipeline from it, and the replay gives the
identical output (the record stores the sha256 of input and output to prove it).

The steps wrap Part I functions: :func:`medlib.ct.window`, :func:`medlib.processing.fit_zscore`
and :func:`~medlib.processing.zscore_normalize`, :func:`~medlib.processing.fit_minmax` and
:func:`~medlib.processing.minmax_normalize`, :func:`~medlib.processing.resample_to_spacing`.
"""
from __future__ import annotations

import hashlib
import json
import numbers

import numpy as np
from scipy import ndimage

from .. import ct, processing
from .._validate import as_array, as_bool, as_int, as_mask, as_scalar

__all__ = [
    "intensity_stats",
    "ssim",
    "ssim_map",
    "slicewise_ssim",
    "roi_correlation",
    "validation_report",
    "ClipStep",
    "WindowStep",
    "ZScoreStep",
    "MinMaxStep",
    "ResampleStep",
    "Pipeline",
]

_TRUNCATE = 3.5          # scikit-image's Gaussian window: radius int(3.5 sigma + 0.5)


# ---------------------------------------------------------------------------------------------
# Statistics and similarity
# ---------------------------------------------------------------------------------------------
def _roi(mask, shape, name: str = "mask") -> np.ndarray:
    if mask is None:
        return np.ones(shape, bool)
    m = as_mask(mask, name)
    if m.shape != tuple(shape):
        raise ValueError(f"{name} must have the image's shape {tuple(shape)}, got {m.shape}")
    if not m.any():
        raise ValueError(f"{name} selects no voxel")
    return m


def intensity_stats(image, *, mask=None) -> dict:
    """Summary statistics of an image, or of the voxels inside a mask.

    Parameters
    ----------
    image : array_like
        Any shape; finite values.
    mask : array_like of bool, optional
        Same shape as ``image``; only its True voxels count (default: all).

    Returns
    -------
    dict
        ``n`` (voxels), ``mean``, ``std`` (population, ddof=0), ``min``, ``p01``, ``median``,
        ``p99``, ``max``: Python floats (``n`` an int), ready for JSON.

    Raises
    ------
    ValueError
        If the image is empty or not finite, or the mask has another shape or selects nothing.
    """
    x = as_array(image, "image")
    m = _roi(mask, x.shape)
    v = x[m]
    p01, med, p99 = np.percentile(v, [1.0, 50.0, 99.0])
    return {"n": int(v.size), "mean": float(v.mean()), "std": float(v.std()),
            "min": float(v.min()), "p01": float(p01), "median": float(med), "p99": float(p99),
            "max": float(v.max())}


def _ssim_args(image1, image2, data_range, win_size, gaussian, sigma):
    x = as_array(image1, "image1")
    y = as_array(image2, "image2")
    if x.shape != y.shape:
        raise ValueError(f"image1 and image2 must have the same shape, got {x.shape} and "
                         f"{y.shape}")
    r = as_scalar(data_range, "data_range", low=0.0, low_inclusive=False)
    gaussian = as_bool(gaussian, "gaussian")
    s = as_scalar(sigma, "sigma", low=0.0, low_inclusive=False, high=100.0)
    if win_size is None:
        w = 2 * int(_TRUNCATE * s + 0.5) + 1 if gaussian else 7
    else:
        w = as_int(win_size, "win_size", low=3)
        if w % 2 == 0:
            raise ValueError(f"win_size must be odd, got {w}")
    # SSIM is unchanged when x, y and R are scaled together: work in units of R (no overflow of
    # C1 = (0.01 R)^2 for a huge R), and refuse values whose squares would overflow.
    x, y = x / r, y / r
    for v, name in ((x, "image1"), (y, "image2")):
        if v.size and float(np.max(np.abs(v))) > 1e100:
            raise ValueError(f"{name} has values more than 1e100 times data_range={r}: is "
                             "data_range in the images' unit?")
    return x, y, 1.0, gaussian, s, w


def _combine(moments, n, r):
    """SSIM from the window means of x, y, x^2, y^2, xy over windows of n voxels.

    Works in place on the five (private, freshly filtered) arrays to keep the memory of a
    large volume low; the result is the first of them.
    """
    ux, uy, uxx, uyy, uxy = moments
    cov_norm = n / (n - 1.0)                       # sample covariance, as scikit-image
    c1, c2 = (0.01 * r) ** 2, (0.03 * r) ** 2
    uxx -= ux * ux
    uxx *= cov_norm                                # sigma_x^2
    uyy -= uy * uy
    uyy *= cov_norm                                # sigma_y^2
    uxy -= ux * uy
    uxy *= cov_norm                                # sigma_xy
    num = ux * uy
    num *= 2.0
    num += c1
    uxy *= 2.0
    uxy += c2
    num *= uxy                                     # (2 mu_x mu_y + C1)(2 sigma_xy + C2)
    ux *= ux
    uy *= uy
    ux += uy
    ux += c1
    uxx += uyy
    uxx += c2
    ux *= uxx                                      # (mu_x^2 + mu_y^2 + C1)(sigma_x^2 + ...)
    num /= ux
    return num


def _ssim_slices_and_volume(x, y, w):
    """Uniform-window SSIM maps of two volumes (in units of R = 1), slice by slice and in 3D,
    sharing the in-plane filtering: the 3D window mean is the in-plane mean averaged along z."""
    planar = [ndimage.uniform_filter(v, (1, w, w)) for v in (x, y, x * x, y * y, x * y)]
    s3 = None
    if x.shape[0] >= w:
        s3 = _combine([ndimage.uniform_filter1d(v, w, axis=0) for v in planar], w ** 3, 1.0)
    return _combine(planar, w ** 2, 1.0), s3


def _ssim_full(x, y, r, w, gaussian, sigma, axes):
    """SSIM map over the windows of ``axes`` (the other axes get a window of one voxel)."""
    sizes = [w if a in axes else 1 for a in range(x.ndim)]
    too_small = [a for a in axes if x.shape[a] < w]
    if too_small:
        raise ValueError(f"image1 is smaller than win_size={w} along axes {too_small} "
                         f"(shape {x.shape}); choose a smaller win_size")
    if gaussian:
        sig = [sigma if a in axes else 0.0 for a in range(x.ndim)]

        def filt(a):
            return ndimage.gaussian_filter(a, sig, truncate=_TRUNCATE)
    else:
        def filt(a):
            return ndimage.uniform_filter(a, sizes)
    s = _combine([filt(v) for v in (x, y, x * x, y * y, x * y)], w ** len(axes), r)
    pad = (w - 1) // 2
    crop = tuple(slice(pad, n_a - pad) if a in axes else slice(None)
                 for a, n_a in enumerate(x.shape))
    return s, crop


def ssim_map(image1, image2, *, data_range, win_size=None, gaussian: bool = False,
             sigma: float = 1.5) -> np.ndarray:
    """Local SSIM of two images of any dimension, on the windows that fit inside the image.

    Parameters
    ----------
    image1, image2 : array_like, same shape
        The two images, in the same unit (compare a step's output with its input only after
        mapping both to one unit; :func:`validation_report` does).
    data_range : float
        The dynamic range R of that unit, stated, not measured on the data (e.g. 1 for images in
        [0, 1], 4095 for 12-bit CT numbers); it sets C1 = (0.01 R)^2 and C2 = (0.03 R)^2.
    win_size : int, optional
        Odd side of the window (default 7; with ``gaussian``, 2 int(3.5 sigma + 0.5) + 1).
    gaussian : bool, optional
        Gaussian-weighted windows of standard deviation ``sigma`` voxels (Wang et al.'s
        choice) instead of uniform ones (default False).
    sigma : float, optional
        Standard deviation of the Gaussian window in voxels (default 1.5).

    Returns
    -------
    numpy.ndarray
        The SSIM at every voxel whose window lies inside the image (the border of
        (win_size - 1) / 2 voxels is cropped on every axis); values in [-1, 1].

    Raises
    ------
    ValueError
        If the shapes differ, an axis is shorter than the window, ``data_range`` <= 0 or
        ``win_size`` is even or < 3.

    Notes
    -----
    :formula:`pre.validate` -- with local means, variances and covariance over each window,
    SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 +
    sigma_y^2 + C2)). Same definition and options as
    ``skimage.metrics.structural_similarity`` (sample covariance, reflecting borders,
    K1 = 0.01, K2 = 0.03, Gaussian truncated at 3.5 sigma), for 2D and 3D alike.

    References
    ----------
    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE Trans. Image Process. 13(4), 600-612, 2004.
    """
    x, y, r, gaussian, s, w = _ssim_args(image1, image2, data_range, win_size, gaussian, sigma)
    if x.ndim == 0:
        raise ValueError("image1 must have at least one dimension, got a scalar")
    full, crop = _ssim_full(x, y, r, w, gaussian, s, tuple(range(x.ndim)))
    return full[crop]


def ssim(image1, image2, *, data_range, mask=None, win_size=None, gaussian: bool = False,
         sigma: float = 1.5) -> float:
    """Mean SSIM of two images of any dimension (2D, 3D ...), optionally inside a mask.

    Parameters
    ----------
    image1, image2 : array_like, same shape
        The two images, in the same unit.
    data_range : float
        The stated dynamic range R of that unit (see :func:`ssim_map`).
    mask : array_like of bool, optional
        Average the SSIM map only over these voxels (same shape as the images; voxels within
        (win_size - 1) / 2 of the border are left out, as in the unmasked mean). The windows
        still see the neighbours of the masked voxels: the SSIM of a region keeps its spatial
        structure, unlike an SSIM of the flattened region's values.
    win_size, gaussian, sigma
        As for :func:`ssim_map`.

    Returns
    -------
    float
        Mean SSIM; 1 for identical images. Without a mask it equals
        ``skimage.metrics.structural_similarity(image1, image2, data_range=data_range, ...)``.

    Raises
    ------
    ValueError
        As :func:`ssim_map`, or if the mask has another shape or keeps no voxel of the
        cropped map.

    Notes
    -----
    :formula:`pre.validate`.
    """
    x, y, r, gaussian, s, w = _ssim_args(image1, image2, data_range, win_size, gaussian, sigma)
    if x.ndim == 0:
        raise ValueError("image1 must have at least one dimension, got a scalar")
    m = _roi(mask, x.shape)
    full, crop = _ssim_full(x, y, r, w, gaussian, s, tuple(range(x.ndim)))
    keep = m[crop]
    if not keep.any():
        raise ValueError("mask keeps no voxel away from the border of (win_size - 1) / 2")
    return float(full[crop][keep].mean())


def slicewise_ssim(image1, image2, *, data_range, axis: int = 0, win_size=None,
                   gaussian: bool = False, sigma: float = 1.5) -> np.ndarray:
    """2D SSIM of every slice of two volumes along one axis, in one vectorised pass.

    Parameters
    ----------
    image1, image2 : array_like, 3 dimensions, same shape
        The volumes, in the same unit.
    data_range : float
        The stated dynamic range of that unit.
    axis : int, optional
        The slice axis (default 0, the z of (z, y, x)).
    win_size, gaussian, sigma
        As for :func:`ssim_map`; the window spans the two in-plane axes only.

    Returns
    -------
    numpy.ndarray, shape (n_slices,)
        The mean 2D SSIM of each slice; entry k equals ``ssim(image1[k], image2[k], ...)`` for
        ``axis=0``. A single broken slice shows here, while the mean 3D SSIM of a volume of
        many slices hardly moves.

    Raises
    ------
    ValueError
        If the volumes are not 3D or differ in shape, or as :func:`ssim_map`.

    Notes
    -----
    :formula:`pre.validate`. The window has one voxel along ``axis``, so each slice is filtered
    on its own: the slices' 2D SSIMs come from one filtering of the whole volume.
    """
    x, y, r, gaussian, s, w = _ssim_args(image1, image2, data_range, win_size, gaussian, sigma)
    if x.ndim != 3:
        raise ValueError(f"image1 must have 3 dimensions, got shape {x.shape}")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not -3 <= axis < 3:
        raise ValueError(f"axis must be an integer in [-3, 2], got {axis!r}")
    ax = int(axis) % 3
    inplane = tuple(a for a in range(3) if a != ax)
    full, crop = _ssim_full(x, y, r, w, gaussian, s, inplane)
    return full[crop].mean(axis=inplane)


def roi_correlation(image1, image2, *, mask=None) -> float:
    """Pearson correlation of two images' values inside a region of interest.

    Parameters
    ----------
    image1, image2 : array_like, same shape
        Any units: the correlation is unchanged by any increasing linear map of either image.
    mask : array_like of bool, optional
        The region (default: every voxel).

    Returns
    -------
    float
        r in [-1, 1]: 1 for a correct linear step (rescaling, z-score), lower for a step that
        clips, reorders or scrambles voxels, negative for an inverted image.

    Raises
    ------
    ValueError
        If the shapes differ, or either image is constant inside the region (r is undefined).
    """
    x = as_array(image1, "image1")
    y = as_array(image2, "image2")
    if x.shape != y.shape:
        raise ValueError(f"image1 and image2 must have the same shape, got {x.shape} and "
                         f"{y.shape}")
    m = _roi(mask, x.shape)
    xm, ym = x[m], y[m]
    a, b = xm - xm.mean(), ym - ym.mean()
    for v, name, full in ((a, "image1", xm), (b, "image2", ym)):
        if not np.any(np.abs(v) > 1e-12 * max(1.0, float(np.max(np.abs(full))))):
            raise ValueError(f"{name} is constant inside the mask: the correlation is undefined")
    r = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.clip(r, -1.0, 1.0))


def validation_report(before, after, *, data_range, mask=None, min_correlation: float = 0.95,
                      min_ssim: float = 0.9, win_size: int = 7) -> dict:
    """Validate one preprocessing step from its input and output: statistics, ROI correlation,
    SSIM in the image's dimensionality and slice by slice, and a verdict.

    Parameters
    ----------
    before : array_like, 2D or 3D
        The step's input, in its unit (HU, MR signal ...); finite.
    after : array_like, same shape
        The step's output, in its own unit. Non-finite values are reported, not refused: a
        step that produces NaN must fail its report.
    data_range : float
        The stated dynamic range of the *output's* unit (1 for a [0, 1] window, about 8 for
        z-scores), used by SSIM.
    mask : array_like of bool, optional
        Region of interest (a body or brain mask), where correlation and SSIM are measured.
    min_correlation, min_ssim : float, optional
        Thresholds of the verdict (defaults 0.95 and 0.9), for the correlation and for the
        SSIM of the whole image and of its worst slice.
    win_size : int, optional
        SSIM window side (odd, default 7).

    Returns
    -------
    dict
        ``stats_before``, ``stats_after`` (whole image, :func:`intensity_stats`), ``roi_before``
        and ``roi_after`` (inside the mask), ``gain`` and ``offset`` of the least-squares map
        of ``before`` onto ``after`` inside the mask, ``correlation`` (or None when undefined),
        ``ssim`` (in the input's dimensionality, averaged inside the mask; None for a volume
        with fewer than ``win_size`` slices), ``slice_ssim`` (3D inputs: the 2D SSIM of every
        slice along axis 0), ``worst_slice_ssim`` and ``worst_slice``, ``non_finite``
        (count), ``problems`` (list of str) and ``passed`` (bool). JSON-serialisable.

    Raises
    ------
    ValueError
        If ``before`` is not finite or not 2D/3D, the shapes differ, or a threshold is outside
        [-1, 1].

    Notes
    -----
    :formula:`pre.validate`. SSIM compares images in one unit, but a step may change the unit
    (HU to z-scores). The report therefore first maps ``before`` onto ``after`` by the
    least-squares line inside the mask, after ~ gain * before + offset, and measures the SSIM
    of that map with the output: a correct linear step scores 1 exactly, a windowing step
    scores below 1 only where it clips, and a step that breaks structure (overflow, swapped
    axes, lost slices) scores low. The correlation is invariant to the line anyway.
    """
    b = as_array(before, "before", ndim=(2, 3))
    a = as_array(after, "after", finite=False)
    if a.shape != b.shape:
        raise ValueError(f"before and after must have the same shape, got {b.shape} and "
                         f"{a.shape} (validate a resampling step on a common grid)")
    r_range = as_scalar(data_range, "data_range", low=0.0, low_inclusive=False)
    min_r = as_scalar(min_correlation, "min_correlation", low=-1.0, high=1.0)
    min_s = as_scalar(min_ssim, "min_ssim", low=-1.0, high=1.0)
    w = as_int(win_size, "win_size", low=3)
    if w % 2 == 0 or min(b.shape[-2:]) < w:
        raise ValueError(f"win_size must be odd and fit in the image's planes {b.shape}, "
                         f"got {w}")
    m = _roi(mask, b.shape)
    problems: list[str] = []
    finite = np.isfinite(a)
    non_finite = int(a.size - np.count_nonzero(finite))
    report = {"shape": list(b.shape), "data_range": r_range, "non_finite": non_finite,
              "stats_before": intensity_stats(b), "roi_before": intensity_stats(b, mask=m)}
    if non_finite:
        problems.append(f"after has {non_finite} non-finite values (NaN or infinity)")
        report.update(stats_after=None, roi_after=None, gain=None, offset=None,
                      correlation=None, ssim=None, slice_ssim=None, worst_slice_ssim=None,
                      worst_slice=None)
        report.update(problems=problems, passed=False)
        return report
    if float(np.max(np.abs(a))) > 1e100 * r_range:
        raise ValueError(f"after has values more than 1e100 times data_range={r_range}: is "
                         "data_range in the output's unit?")
    report["stats_after"] = intensity_stats(a)
    report["roi_after"] = intensity_stats(a, mask=m)
    bv, av = b[m], a[m]
    var_b = float(np.var(bv))
    gain = float(np.mean((bv - bv.mean()) * (av - av.mean())) / var_b) if var_b > 0 else 0.0
    offset = float(av.mean() - gain * bv.mean())
    report["gain"], report["offset"] = gain, offset
    try:
        r = roi_correlation(b, a, mask=m)
    except ValueError:
        r = None
        problems.append("correlation undefined: before or after is constant inside the mask")
    report["correlation"] = r
    if r is not None and r < min_r:
        problems.append(f"correlation {r:.3f} inside the mask is below {min_r}")
    matched = gain * b + offset
    report["ssim"] = report["worst_slice_ssim"] = report["worst_slice"] = None
    report["slice_ssim"] = None
    pad = (w - 1) // 2
    inner = (slice(pad, -pad),) * 2
    if b.ndim == 3:
        s2, s3 = _ssim_slices_and_volume(matched / r_range, a / r_range, w)
        per_slice = s2[(slice(None),) + inner].mean(axis=(1, 2))
        k = int(np.argmin(per_slice))
        report["slice_ssim"] = [float(v) for v in per_slice]
        report["worst_slice_ssim"], report["worst_slice"] = float(per_slice[k]), k
        if s3 is not None:
            crop = (slice(pad, -pad),) + inner
            keep = m[crop] if m[crop].any() else np.ones(s3[crop].shape, bool)
            report["ssim"] = float(s3[crop][keep].mean())
    else:
        crop = _crop(b.shape, w)
        report["ssim"] = ssim(matched, a, data_range=r_range,
                              mask=m if m[crop].any() else None, win_size=w)
    if report["ssim"] is not None and report["ssim"] < min_s:
        problems.append(f"SSIM {report['ssim']:.3f} is below {min_s}")
    if report["worst_slice_ssim"] is not None and report["worst_slice_ssim"] < min_s:
        k = report["worst_slice"]
        problems.append(f"slice {k} has a 2D SSIM of {per_slice[k]:.3f}, below {min_s}")
    report["problems"] = problems
    report["passed"] = not problems
    return report


def _crop(shape, w):
    pad = (w - 1) // 2
    return tuple(slice(pad, n - pad) for n in shape)


def _digest(image) -> str:
    """The sha256 of an array's values, shape and dtype: equal digests mean identical arrays.

    Parameters
    ----------
    image : array_like
        Any array (stored C-contiguous before hashing, so a view hashes like its copy).

    Returns
    -------
    str
        64 hexadecimal characters.

    Raises
    ------
    TypeError
        If ``image`` is not numeric.
    """
    a = np.asarray(image)
    h = hashlib.sha256()
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Steps and the pipeline
# ---------------------------------------------------------------------------------------------
class _Step:
    """A pipeline step: parameters fixed at construction, statistics learnt by :meth:`fit`."""

    kind = ""
    learns = False

    def __init__(self):
        self.fitted: dict = {}

    @property
    def params(self) -> dict:
        return {}

    def fit(self, images) -> _Step:
        return self

    def transform(self, image, affine):
        raise NotImplementedError

    #: Stated dynamic range of the step's output, for SSIM (None: the step is not validated
    #: on its input's grid, e.g. a resampling).
    output_range: float | None = None

    def kept(self, image) -> np.ndarray:
        """The voxels of the input the step promises to map linearly (not clipped)."""
        return np.ones(np.shape(image), bool)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "params": self.params, "fitted": dict(self.fitted)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


class ClipStep(_Step):
    """Clip intensities to [low, high] (a CT range in HU, for instance).

    Parameters
    ----------
    low, high : float
        The range, low < high, in the image's unit.

    Raises
    ------
    ValueError
        If the bounds are not finite or not increasing.
    """

    kind = "clip"

    def __init__(self, low: float, high: float):
        super().__init__()
        self.low = as_scalar(low, "low")
        self.high = as_scalar(high, "high")
        if self.high <= self.low:
            raise ValueError(f"high must be greater than low, got low={self.low}, "
                             f"high={self.high}")

    @property
    def params(self) -> dict:
        return {"low": self.low, "high": self.high}

    def transform(self, image, affine):
        return np.clip(image, self.low, self.high), affine

    @property
    def output_range(self) -> float:
        return self.high - self.low

    def kept(self, image):
        return (image > self.low) & (image < self.high)


class WindowStep(_Step):
    """CT window to [0, 1] with :func:`medlib.ct.window` (level and width in HU).

    Parameters
    ----------
    level, width : float
        Window level and width (> 0) in HU.

    Raises
    ------
    ValueError
        If ``level`` is not finite or ``width`` is not positive.
    """

    kind = "window"

    def __init__(self, level: float, width: float):
        super().__init__()
        self.level = as_scalar(level, "level")
        self.width = as_scalar(width, "width", low=0.0, low_inclusive=False)

    @property
    def params(self) -> dict:
        return {"level": self.level, "width": self.width}

    def transform(self, image, affine):
        return ct.window(image, self.level, self.width), affine

    output_range = 1.0

    def kept(self, image):
        return np.abs(image - self.level) < self.width / 2


def _foreground(values: np.ndarray, above):
    return values if above is None else values[values > above]


class ZScoreStep(_Step):
    """Z-score with statistics fitted on training images (:func:`medlib.processing.fit_zscore`).

    Parameters
    ----------
    foreground_above : float, optional
        Fit on the training voxels above this value only (the body or the head, not the air);
        default None: every voxel.

    Raises
    ------
    ValueError
        If ``foreground_above`` is not finite.
    """

    kind = "zscore"
    learns = True

    def __init__(self, foreground_above: float | None = None):
        super().__init__()
        self.foreground_above = (None if foreground_above is None
                                 else as_scalar(foreground_above, "foreground_above"))

    @property
    def params(self) -> dict:
        return {"foreground_above": self.foreground_above}

    def fit(self, images):
        values = np.concatenate([_foreground(np.ravel(im), self.foreground_above)
                                 for im in images])
        mean, std = processing.fit_zscore(values)
        self.fitted = {"mean": mean, "std": std}
        return self

    def transform(self, image, affine):
        return processing.zscore_normalize(image, self.fitted["mean"],
                                           self.fitted["std"]), affine

    output_range = 8.0                             # z-scores of -4 to 4 standard deviations


class MinMaxStep(_Step):
    """Min-max to [0, 1] with percentiles fitted on training images
    (:func:`medlib.processing.fit_minmax`), clipped.

    Parameters
    ----------
    percentiles : tuple of two floats, optional
        Percentiles of the training voxels used as x_min and x_max (default (0.5, 99.5)).
    foreground_above : float, optional
        Fit on training voxels above this value only (default None: every voxel).

    Raises
    ------
    ValueError
        If the percentiles are not increasing within [0, 100] or ``foreground_above`` is not
        finite.
    """

    kind = "minmax"
    learns = True

    def __init__(self, percentiles=(0.5, 99.5), foreground_above: float | None = None):
        super().__init__()
        p = as_array(percentiles, "percentiles", shape=(2,))
        if not 0.0 <= p[0] < p[1] <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {p.tolist()}")
        self.percentiles = [float(p[0]), float(p[1])]
        self.foreground_above = (None if foreground_above is None
                                 else as_scalar(foreground_above, "foreground_above"))

    @property
    def params(self) -> dict:
        return {"percentiles": list(self.percentiles), "foreground_above": self.foreground_above}

    def fit(self, images):
        values = np.concatenate([_foreground(np.ravel(im), self.foreground_above)
                                 for im in images])
        lo, hi = processing.fit_minmax(values, percentiles=tuple(self.percentiles))
        self.fitted = {"x_min": lo, "x_max": hi}
        return self

    def transform(self, image, affine):
        return processing.minmax_normalize(image, self.fitted["x_min"], self.fitted["x_max"],
                                           clip=True), affine

    output_range = 1.0

    def kept(self, image):
        return (image > self.fitted["x_min"]) & (image < self.fitted["x_max"])


class ResampleStep(_Step):
    """Resample to a voxel spacing in mm (:func:`medlib.processing.resample_to_spacing`).

    Parameters
    ----------
    spacing_mm : float or sequence of float
        Target spacing, one number (isotropic) or one per axis in the image's axis order.
    order : {0, 1}, optional
        1 linear (images, default), 0 nearest neighbour (label maps).

    Raises
    ------
    ValueError
        If a spacing is not positive and finite, or ``order`` is not 0 or 1.
    """

    kind = "resample"

    def __init__(self, spacing_mm, order: int = 1):
        super().__init__()
        s = as_array(spacing_mm, "spacing_mm", ndim=(0, 1), low=0.0, low_inclusive=False)
        self.spacing_mm = float(s) if s.ndim == 0 else [float(v) for v in s]
        self.order = as_int(order, "order", low=0, high=1)

    @property
    def params(self) -> dict:
        return {"spacing_mm": self.spacing_mm, "order": self.order}

    def transform(self, image, affine):
        return processing.resample_to_spacing(image, affine, self.spacing_mm, order=self.order)


_KINDS = {cls.kind: cls for cls in (ClipStep, WindowStep, ZScoreStep, MinMaxStep, ResampleStep)}


def _spacing(affine) -> list[float]:
    return [float(v) for v in np.linalg.norm(np.asarray(affine)[:-1, :-1], axis=0)]


def _step_verdict(step, before, after) -> dict:
    """The parts of a step's validation report that go into the pipeline's record."""
    if step.output_range is None or before.shape != after.shape:
        return {"skipped": "the step changes the grid; validate it on a common grid"}
    kept = step.kept(before)
    try:
        rep = validation_report(before, after, data_range=step.output_range,
                                mask=kept if kept.any() else None)
    except ValueError as exc:                    # too small for the SSIM window, constant ...
        return {"skipped": str(exc)}
    return {k: rep[k] for k in ("correlation", "ssim", "worst_slice_ssim", "worst_slice",
                                "problems", "passed")}


class Pipeline:
    """A chain of preprocessing steps, fitted on training images and applied to any image,
    that records what every step did.

    Parameters
    ----------
    steps : sequence of steps
        Instances of :class:`ClipStep`, :class:`WindowStep`, :class:`ZScoreStep`,
        :class:`MinMaxStep`, :class:`ResampleStep`, applied in order.

    Raises
    ------
    TypeError
        If ``steps`` is not a list or tuple of steps.
    ValueError
        If it is empty.

    Notes
    -----
    :formula:`pre.validate`. ``fit`` passes the training images through the steps in order, so
    a step that learns statistics (z-score, min-max) learns them from the training images as
    the earlier steps leave them, never from a test image (TorchIO's ``HistogramStandardization``
    is trained the same way). ``apply`` returns the output, its affine and a record: for each
    step its kind, parameters, fitted statistics, statistics of its input and output, shapes,
    spacings, and the sha256 of the pipeline's input and output; with ``validate=True`` also
    each step's verdict from :func:`validation_report` (on the voxels the step does not clip,
    with its stated output range). ``json.dumps(record)`` is the audit trail;
    ``Pipeline.from_record(record)`` rebuilds the fitted pipeline, whose output has the same
    sha256.
    """

    def __init__(self, steps):
        if not isinstance(steps, (list, tuple)):
            raise TypeError(f"steps must be a list of pipeline steps, got {type(steps).__name__}")
        if not steps:
            raise ValueError("steps must not be empty")
        for i, s in enumerate(steps):
            if not isinstance(s, _Step):
                raise TypeError(f"steps[{i}] must be a pipeline step (ClipStep, WindowStep, "
                                f"ZScoreStep, MinMaxStep, ResampleStep), got "
                                f"{type(s).__name__}")
        self.steps = list(steps)
        self.is_fitted = not any(s.learns for s in self.steps)

    def __repr__(self) -> str:
        return f"Pipeline({self.steps!r})"

    @staticmethod
    def _pair(image, affine, name="image"):
        x = as_array(image, name, ndim=(2, 3))
        if affine is None:
            aff = np.eye(x.ndim + 1)
        else:
            aff = as_array(affine, "affine", shape=(x.ndim + 1, x.ndim + 1))
        return x, aff

    def fit(self, training_images, affines=None) -> Pipeline:
        """Learn every step's statistics from the training images (and only from them).

        Parameters
        ----------
        training_images : sequence of array_like
            2D or 3D training images (any shapes).
        affines : sequence of array_like, optional
            Their voxel-to-world affines (needed before a :class:`ResampleStep`); default
            identity (1 mm voxels).

        Returns
        -------
        Pipeline
            ``self``, fitted.
        """
        if not isinstance(training_images, (list, tuple)) or not training_images:
            raise TypeError("training_images must be a non-empty list of images")
        if affines is None:
            affines = [None] * len(training_images)
        if len(affines) != len(training_images):
            raise ValueError("affines must have one affine per training image")
        pairs = [self._pair(im, af, f"training_images[{i}]")
                 for i, (im, af) in enumerate(zip(training_images, affines))]
        for step in self.steps:
            step.fit([p[0] for p in pairs])
            pairs = [step.transform(x, a) for x, a in pairs]
        self.is_fitted = True
        return self

    def apply(self, image, affine=None, *, keep_intermediate: bool = False,
              validate: bool = False):
        """Apply the fitted steps to one image and record what each did.

        Parameters
        ----------
        image : array_like, 2D or 3D
            Any image (training or test).
        affine : array_like, optional
            Its voxel-to-world affine (default identity).
        keep_intermediate : bool, optional
            Also return every step's output (for validating each step).
        validate : bool, optional
            Add to each step that keeps the grid a ``validation`` entry: the verdict of
            :func:`validation_report` on its input and output, with the step's stated output
            range and, as region of interest, the voxels it promises to map linearly (those it
            does not clip); and to the record ``passed``, true when every step passed.

        Returns
        -------
        output : numpy.ndarray
        output_affine : numpy.ndarray
        record : dict
            JSON-serialisable: ``steps`` (per step ``kind``, ``params``, ``fitted``,
            ``stats_before``, ``stats_after``, ``shape_before``, ``shape_after``,
            ``spacing_before``, ``spacing_after``, with ``validate`` ``validation``),
            ``input_sha256``, ``output_sha256`` (and ``passed`` with ``validate``).
        intermediates : list of numpy.ndarray
            Only with ``keep_intermediate``: the input, then each step's output.

        Raises
        ------
        RuntimeError
            If a step that learns statistics has not been fitted.
        """
        if not self.is_fitted:
            raise RuntimeError("fit the pipeline on training images before apply")
        keep = as_bool(keep_intermediate, "keep_intermediate")
        check = as_bool(validate, "validate")
        x, aff = self._pair(image, affine)
        record = {"input_sha256": _digest(x), "input_shape": list(x.shape), "steps": []}
        inter = [x]
        for step in self.steps:
            entry = step.to_dict()
            entry.update(shape_before=list(x.shape), spacing_before=_spacing(aff),
                         stats_before=intensity_stats(x))
            x_in = x
            x, aff = step.transform(x, aff)
            entry.update(shape_after=list(x.shape), spacing_after=_spacing(aff),
                         stats_after=intensity_stats(x))
            if check:
                entry["validation"] = _step_verdict(step, x_in, x)
            record["steps"].append(entry)
            if keep:
                inter.append(x)
        record["output_sha256"] = _digest(x)
        record["output_affine"] = np.asarray(aff).tolist()
        if check:
            record["passed"] = all(e["validation"].get("passed", True) for e in record["steps"])
        return (x, aff, record, inter) if keep else (x, aff, record)

    digest = staticmethod(_digest)

    @classmethod
    def from_record(cls, record) -> Pipeline:
        """Rebuild the fitted pipeline described by a record (a dict or its JSON text).

        Parameters
        ----------
        record : dict or str
            A record returned by :meth:`apply`, or ``json.dumps`` of one.

        Returns
        -------
        Pipeline
            With the recorded parameters and fitted statistics; nothing is refitted.

        Raises
        ------
        ValueError
            If the record is malformed or names an unknown step kind.
        """
        if isinstance(record, str):
            record = json.loads(record)
        if not isinstance(record, dict) or not isinstance(record.get("steps"), list):
            raise ValueError("record must be a dict (or JSON text) with a list of 'steps'")
        steps = []
        for i, entry in enumerate(record["steps"]):
            kind = entry.get("kind") if isinstance(entry, dict) else None
            if kind not in _KINDS:
                raise ValueError(f"record step {i} has unknown kind {kind!r}; known: "
                                 f"{sorted(_KINDS)}")
            step = _KINDS[kind](**entry.get("params", {}))
            step.fitted = dict(entry.get("fitted", {}))
            steps.append(step)
        pipe = cls(steps)
        pipe.is_fitted = True
        return pipe
