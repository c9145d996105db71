"""The metrics of restoration: MAE, MSE, NMSE, PSNR and SSIM, with their conventions stated.

Taught in ``chapters/restoration/metrics.ipynb`` (chapter 16.2).

Every function takes ``(target, prediction)``: the reference y (the full-dose image, the fully
sampled scan) first, the restored or degraded image f(x; theta) second, as
``skimage.metrics`` takes ``(image_true, image_test)``. The order matters for NMSE and PSNR,
which are normalised by the target. Images of any shape, in one unit.

Conventions (and where the pixel-wise notes differ):

* MAE and MSE are *means* over pixels, as in PyTorch's ``reduction="mean"`` and
  scikit-image; ``reduction="sum"`` gives the notes' sums, which grow with the image size.
* NMSE comes in the notes' two normalisations: by the target's energy,
  sum (y - f)^2 / sum y^2 (= ``normalized_root_mse(..., normalization="euclidean") ** 2``), and
  by its squared range, mean (y - f)^2 / (max y - min y)^2
  (= ``normalized_root_mse(..., normalization="min-max") ** 2``). Both are unitless; only the
  second is unchanged by an offset of the unit (HU versus attenuation).
* PSNR and SSIM need a stated data range R: a number (the modality's range, e.g. 2000 HU for
  [-1000, 1000] HU), or ``"max"`` (the notes' max(y), the target's own maximum) or ``"range"``
  (max(y) - min(y)). For CT in HU the choice moves PSNR by many dB for the same error.
* SSIM is Part II's :func:`medlib.prep.ssim` (scikit-image's definition), wrapped only to take
  the same data-range choices as PSNR.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_choice, as_scalar

__all__ = ["mae", "mse", "nmse", "psnr", "ssim", "restoration_metrics"]


def _pair(target, prediction) -> tuple[np.ndarray, np.ndarray, float]:
    """Both images as float64, same shape, non-empty, and their joint scale s (max |value|)."""
    y = as_array(target, "target")
    f = as_array(prediction, "prediction")
    if y.shape != f.shape:
        raise ValueError(f"target and prediction must have the same shape, got {y.shape} and "
                         f"{f.shape}")
    if y.size == 0:
        raise ValueError("target is empty")
    s = float(max(np.max(np.abs(y)), np.max(np.abs(f))))
    return y, f, s


def _scaled_sq_error(y, f, s):
    """mean((y - f)^2) / s^2, computed in units of s (no overflow or underflow of the squares)."""
    if s == 0.0:
        return 0.0
    return float(np.mean(((y / s) - (f / s)) ** 2))


def _reduction(reduction) -> str:
    return as_choice(reduction, "reduction", ("mean", "sum"))


def mae(target, prediction, *, reduction: str = "mean") -> float:
    """Mean absolute error between a target and a prediction.

    Parameters
    ----------
    target, prediction : array_like, same shape
        Reference y and estimate f, in one unit.
    reduction : {"mean", "sum"}, optional
        "mean" (default; PyTorch's and scikit-image's convention) or "sum" (the notes' form).

    Returns
    -------
    float
        (1/N) sum_r |y(r) - f(r)| in the images' unit (or the sum).

    Raises
    ------
    ValueError
        If the shapes differ, the images are empty or not finite, or ``reduction`` is unknown.

    Notes
    -----
    :formula:`restore.mae` -- MAE = (1/N) sum_r |y(r) - f(x; theta)(r)|, equal to
    ``torch.nn.functional.l1_loss(f, y)``. The notes write the sum, which doubles when the
    image is four times larger at the same quality, so that values cannot be compared across
    image sizes (seed erratum in the notebook).
    """
    y, f, _ = _pair(target, prediction)
    red = _reduction(reduction)
    err = np.abs(y - f)
    return float(err.sum() if red == "sum" else err.mean())


def mse(target, prediction, *, reduction: str = "mean") -> float:
    """Mean squared error between a target and a prediction.

    Parameters
    ----------
    target, prediction : array_like, same shape
        Reference y and estimate f, in one unit.
    reduction : {"mean", "sum"}, optional
        "mean" (default; ``skimage.metrics.mean_squared_error``, PyTorch's ``mse_loss``) or
        "sum" (the notes' form).

    Returns
    -------
    float
        (1/N) sum_r (y(r) - f(r))^2, in the unit squared (or the sum); ``inf`` if it exceeds
        the float range.

    Raises
    ------
    ValueError
        As :func:`mae`.

    Notes
    -----
    :formula:`restore.mse` -- MSE = (1/N) sum_r (y(r) - f(x; theta)(r))^2. For scalar pixels
    the notes' ||.||_2^2 is just the square; for vector-valued pixels (channels) it sums
    them. Computed in units of the images' largest magnitude, so huge or tiny values do not
    overflow or underflow in the squares.
    """
    y, f, s = _pair(target, prediction)
    red = _reduction(reduction)
    scaled = _scaled_sq_error(y, f, s)
    with np.errstate(over="ignore"):
        m = scaled * s * s if scaled > 0 else 0.0
    return float(m * y.size if red == "sum" else m)


def nmse(target, prediction, *, normalization: str = "energy") -> float:
    """Normalised mean squared error, by the target's energy or by its squared range.

    Parameters
    ----------
    target, prediction : array_like, same shape
        Reference y and estimate f, in one unit.
    normalization : {"energy", "range"}, optional
        "energy" (default): sum (y - f)^2 / sum y^2. "range": mean (y - f)^2 /
        (max y - min y)^2.

    Returns
    -------
    float
        The unitless NMSE: the square of scikit-image's
        ``normalized_root_mse(target, prediction, normalization="euclidean")`` (energy) or
        ``normalization="min-max"`` (range). ``inf`` for a non-zero error on a target that is
        all zeros (energy) or constant (range); 0 for identical images.

    Raises
    ------
    ValueError
        As :func:`mae`, or on an unknown ``normalization``.

    Notes
    -----
    :formula:`restore.nmse` -- NMSE = sum_r (y - f)^2 / sum_r y^2 or
    NMSE = MSE / (max y - min y)^2. The notes put a *mean* (their MSE) over a *sum* of
    energy, which is not normalised at all (it falls as 1/N); numerator and denominator must
    both be sums or both means. The energy form depends on where the unit puts its zero: the
    same CT error has a different NMSE in HU (water = 0) and in attenuation (water = 0.2 /cm);
    the range form does not (an offset cancels in both the error and the range).
    """
    y, f, s = _pair(target, prediction)
    kind = as_choice(normalization, "normalization", ("energy", "range"))
    num = _scaled_sq_error(y, f, s)
    if num == 0.0:
        return 0.0
    if kind == "energy":
        den = float(np.mean((y / s) ** 2))
    else:
        den = (float(np.max(y / s)) - float(np.min(y / s))) ** 2
    return float(num / den) if den > 0 else float("inf")


def _data_range(y: np.ndarray, data_range) -> float:
    if isinstance(data_range, str):
        choice = as_choice(data_range, "data_range", ("max", "range"))
        r = float(np.max(y)) if choice == "max" else float(np.max(y) - np.min(y))
        if not (np.isfinite(r) and r > 0):
            raise ValueError(f"data_range={choice!r} gives {r} on this target, which is not "
                             "positive: state the modality's range as a number instead")
        return r
    return as_scalar(data_range, "data_range", low=0.0, low_inclusive=False)


def psnr(target, prediction, *, data_range) -> float:
    """Peak signal-to-noise ratio in dB, with the data range stated.

    Parameters
    ----------
    target, prediction : array_like, same shape
        Reference y and estimate f, in one unit.
    data_range : float or {"max", "range"}
        The peak R: a positive number in the images' unit (the modality's or the data type's
        range: what scikit-image's ``data_range`` means), or "max" for the target's own
        maximum (the notes' max(y)), or "range" for max(y) - min(y) (what
        ``data_range=target.max() - target.min()`` gives in scikit-image).

    Returns
    -------
    float
        10 log10(R^2 / MSE) in dB; ``inf`` for identical images.

    Raises
    ------
    ValueError
        As :func:`mae`, if a number ``data_range`` is not positive, or if "max" or "range"
        give a value <= 0 on this target (a CT slice in HU can have a negative maximum).

    Notes
    -----
    :formula:`restore.psnr` -- PSNR = 10 log10(R^2 / MSE), MSE the mean of :func:`mse`;
    equal to ``skimage.metrics.peak_signal_noise_ratio(target, prediction,
    data_range=R)``. With R = max(y), as the notes write, the score depends on the content
    and on the unit's zero: the same CT error gives a different PSNR in HU, in stored values
    (HU + 1024) and on a slice with or without bone. Computed as 20 log10(R / s) -
    10 log10(MSE / s^2), s the images' largest magnitude, so nothing overflows.
    """
    y, f, s = _pair(target, prediction)
    r = _data_range(y, data_range)
    m = _scaled_sq_error(y, f, s)
    if m == 0.0:
        return float("inf")
    return float(20.0 * np.log10(r / s) - 10.0 * np.log10(m))


def ssim(target, prediction, *, data_range, win_size=None, gaussian: bool = False,
         sigma: float = 1.5) -> float:
    """Mean structural similarity (SSIM), with the data range chosen as for :func:`psnr`.

    Parameters
    ----------
    target, prediction : array_like, same shape
        Reference y and estimate f, in one unit (2D slices, or any dimension).
    data_range : float or {"max", "range"}
        The range R that sets the constants C1 = (0.01 R)^2 and C2 = (0.03 R)^2 (see
        :func:`psnr` for the choices).
    win_size, gaussian, sigma
        The window, as :func:`medlib.prep.ssim_map`: 7 x 7 uniform by default (scikit-image's
        default); ``gaussian=True`` gives Wang et al.'s Gaussian window (sigma 1.5, 11 x 11).

    Returns
    -------
    float
        The mean of the local SSIM over the windows inside the image: 1 for identical images.
        Equals ``skimage.metrics.structural_similarity(target, prediction, data_range=R,
        win_size=..., gaussian_weights=gaussian, sigma=sigma)`` (sample covariance).

    Raises
    ------
    ValueError
        As :func:`medlib.prep.ssim`, or as :func:`psnr` for ``data_range``.

    Notes
    -----
    :formula:`restore.ssim` -- SSIM(a, b) = (2 mu_a mu_b + C1)(2 sigma_ab + C2) /
    ((mu_a^2 + mu_b^2 + C1)(sigma_a^2 + sigma_b^2 + C2)) over each window, averaged. The
    computation is Part II's :func:`medlib.prep.ssim` (not implemented twice); this wrapper
    only resolves ``data_range``.

    References
    ----------
    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality assessment: from error
    visibility to structural similarity", IEEE Trans. Image Process. 13(4), 600-612, 2004.
    """
    from ..prep.validation import ssim as _prep_ssim

    y, f, _ = _pair(target, prediction)
    r = _data_range(y, data_range)
    try:
        return _prep_ssim(y, f, data_range=r, win_size=win_size, gaussian=gaussian, sigma=sigma)
    except ValueError as exc:      # name the caller's arguments, not prep.ssim's
        msg = str(exc).replace("image1", "target").replace("image2", "prediction")
        raise ValueError(msg) from None


def restoration_metrics(target, prediction, *, data_range) -> dict[str, float]:
    """All five metrics of one prediction, with one stated data range (a row of a results table).

    Parameters
    ----------
    target, prediction : array_like, same shape
        Reference and estimate, in one unit.
    data_range : float or {"max", "range"}
        For PSNR and SSIM (see :func:`psnr`).

    Returns
    -------
    dict
        ``{"MAE", "MSE", "NMSE (energy)", "NMSE (range)", "PSNR (dB)", "SSIM"}`` as floats,
        each from the function of that name with its default conventions.

    Raises
    ------
    ValueError
        As the individual metrics.
    """
    y, f, _ = _pair(target, prediction)
    r = _data_range(y, data_range)
    return {
        "MAE": mae(y, f),
        "MSE": mse(y, f),
        "NMSE (energy)": nmse(y, f, normalization="energy"),
        "NMSE (range)": nmse(y, f, normalization="range"),
        "PSNR (dB)": psnr(y, f, data_range=r),
        "SSIM": ssim(y, f, data_range=r),
    }
