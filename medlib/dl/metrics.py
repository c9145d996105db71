"""Evaluation metrics of segmentation and classification: overlap and the confusion matrix.

Taught in ``chapters/dl-formulas/metrics.ipynb`` (section 9.3 of the key formulas; the Dice
coefficient first appears with the Dice loss in section 9.2). NumPy only; tested against SciPy's
set dissimilarities and direct counting.

Edge cases are part of a metric's definition, so every function states them:

* Dice and IoU of an empty prediction *and* an empty ground truth: ``empty_score`` (default 1.0,
  perfect agreement; pass ``np.nan`` to leave such cases out of an average).
* Dice and IoU when exactly one of them is empty: 0 (the formula gives it).
* Sensitivity without any positive in the ground truth, specificity without any negative,
  precision without any positive prediction: undefined, ``zero_division`` (default NaN).

``empty_score`` and ``zero_division`` must be a number in [0, 1] (the range of the metric) or
NaN; anything else raises :class:`ValueError`.

The course's Dice and IoU convention is MONAI's ``compute_dice``/``DiceMetric`` (and
``compute_iou``/``MeanIoU``) with ``ignore_empty=False``. MONAI's *default*, ``ignore_empty=True``,
differs: it returns NaN whenever the ground truth is empty, also when the prediction is not (a
false positive on an empty image then drops out of an average, where here it scores 0). No
``empty_score`` reproduces that; ``tests/medlib/dl/test_metrics.py`` compares both conventions
with MONAI and ``chapters/dl-formulas/metrics.ipynb`` shows them side by side.

How sure is a mean score over a few held-out cases? :func:`bootstrap_ci` gives the percentile
bootstrap interval of the mean (checked against :func:`scipy.stats.bootstrap`); Parts III and IV
report every held-out score with it (for a ranking, the interval of the paired differences).

The binary metrics count TP, FP and FN with :func:`numpy.count_nonzero` on boolean masks, so
their memory use stays a fraction of their inputs' (two 256^3 masks: ~16 MB extra).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import as_array, as_int, as_rng, as_scalar, as_size, check_size

__all__ = [
    "ConfidenceInterval",
    "ConfusionCounts",
    "bootstrap_ci",
    "binary_counts",
    "confusion_matrix",
    "dice",
    "dice_from_iou",
    "iou",
    "iou_from_dice",
    "precision",
    "sensitivity",
    "specificity",
]


class ConfusionCounts(NamedTuple):
    """The four cells of a binary confusion matrix (numbers of voxels or cases)."""

    tp: int
    fp: int
    fn: int
    tn: int


class ConfidenceInterval(NamedTuple):
    """A point estimate with the bounds of its confidence interval."""

    estimate: float
    low: float
    high: float


_MAX_BOOTSTRAP_DRAWS = 50_000_000    # n_resamples * n indices held at once (400 MB of int64)


def bootstrap_ci(values, rng, *, n_resamples: int = 2000,
                 confidence: float = 0.95) -> ConfidenceInterval:
    """Percentile bootstrap confidence interval of the mean of per-case scores.

    Parameters
    ----------
    values : array_like, shape (n,)
        One finite score per held-out case (a Dice per image, a PSNR per slice), or, to compare
        two methods on the same cases, their paired differences. At least 2 values.
    rng : numpy.random.Generator or int
        Source of the resamples (a seed for a reproducible interval).
    n_resamples : int, optional
        Number of bootstrap resamples, 100 to 10^6 (default 2000).
    confidence : float, optional
        Coverage of the interval, in (0, 1) (default 0.95).

    Returns
    -------
    ConfidenceInterval
        ``estimate`` the mean of ``values``; ``low`` and ``high`` the ``(1 - confidence)/2``
        and ``(1 + confidence)/2`` quantiles of the means of ``n_resamples`` resamples of the
        ``n`` cases drawn with replacement.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D with at least 2 finite values, ``n_resamples`` or
        ``confidence`` is out of range, or ``n_resamples * n`` exceeds 5e7 draws.
    TypeError
        If ``rng`` is neither a Generator nor a seed.

    Notes
    -----
    The percentile method (Efron and Tibshirani 1993, ch. 13), as
    ``scipy.stats.bootstrap(..., method="percentile")``. Resampling the *cases* assumes they are
    independent: slices of one volume are not, so with slices of a single held-out subject the
    interval is too narrow (it measures slice-to-slice variation, not subject-to-subject). With
    a handful of cases the interval is itself uncertain; say how many cases it rests on.

    References
    ----------
    B. Efron, R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993.
    """
    x = as_array(values, "values", ndim=1, real=True)
    if x.size < 2:
        raise ValueError(f"values must hold at least 2 scores, got {x.size}")
    gen = as_rng(rng)
    b = as_int(n_resamples, "n_resamples", low=100, high=1_000_000)
    level = as_scalar(confidence, "confidence", low=0.0, high=1.0, low_inclusive=False,
                      high_inclusive=False)
    if b * x.size > _MAX_BOOTSTRAP_DRAWS:
        raise ValueError(f"n_resamples * len(values) must be <= {_MAX_BOOTSTRAP_DRAWS}, got "
                         f"{b} * {x.size}")
    means = x[gen.integers(0, x.size, size=(b, x.size))].mean(axis=1)
    low, high = np.quantile(means, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return ConfidenceInterval(float(x.mean()), float(low), float(high))


def _labels(value, name: str) -> np.ndarray:
    a = as_array(value, name, dtype=None, real=True)
    if a.dtype == bool:
        return a.astype(np.int64)
    if not np.issubdtype(a.dtype, np.integer):
        if not np.all(a == np.floor(a)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer values "
                             "(threshold probabilities first)")
        if a.max() >= 2 ** 53:      # beyond this, floats are not exact integers (nor int64s)
            raise ValueError(f"{name} must hold class labels below 2**53, got {a.max()}")
    if a.min() < 0:
        raise ValueError(f"{name} must hold non-negative class labels, got {a.min()}")
    return a.astype(np.int64)


def _binary_mask(value, name: str) -> np.ndarray:
    """``value`` as a boolean mask, without int64 copies (bool input is used as it is)."""
    a = as_array(value, name, dtype=None, real=True)
    if a.dtype == bool:
        return a
    if np.count_nonzero((a == 0) | (a == 1)) != a.size:     # boolean temporaries only
        labels = _labels(a, name)                            # raises for non-integer/negative
        raise ValueError(f"{name} must be a binary mask (0/1 or bool), got label "
                         f"{labels.max()}")
    return a != 0


def _binary_pair(prediction, target):
    p = _binary_mask(prediction, "prediction")
    t = _binary_mask(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"prediction and target must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    return p, t


def _undefined_value(value, name: str) -> float:
    """The value returned for an undefined ratio: a number in [0, 1] or NaN."""
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return float("nan")
    try:
        return as_scalar(value, name, low=0.0, high=1.0)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name} must be a number in [0, 1] or NaN, got {value!r}") from None


def confusion_matrix(prediction, target, *, n_classes: int | None = None) -> np.ndarray:
    """Confusion matrix of integer label maps: C[a, b] = voxels of true class a predicted as b.

    Parameters
    ----------
    prediction : array_like of int
        Predicted labels 0 ... n_classes-1 (bool for binary masks).
    target : array_like of int
        Ground-truth labels, same shape.
    n_classes : int, optional
        Number of classes (default: 1 + the largest label present, at least 2).

    Returns
    -------
    numpy.ndarray of int64, shape (n_classes, n_classes)
        Rows are the true class, columns the predicted class (scikit-learn's layout). For a
        binary problem ``[[TN, FP], [FN, TP]]``.

    Raises
    ------
    ValueError
        On a shape mismatch, non-integer or negative labels, or labels >= ``n_classes``.

    Notes
    -----
    :formula:`metrics.confusion-matrix` -- :math:`C_{ab} = \\#\\{i : g_i = a, \\hat{g}_i = b\\}`,
    counted in one pass with ``np.bincount`` of the pair index a C + b.
    """
    p = _labels(prediction, "prediction")
    t = _labels(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"prediction and target must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    largest = int(max(p.max(), t.max()))
    if n_classes is None:
        c = max(largest + 1, 2)
        check_size((c, c), f"the largest label of prediction and target ({largest})")
    else:
        c = as_size(n_classes, "n_classes", low=1, ndim=2)     # the matrix is n_classes**2
    if largest >= c:
        raise ValueError(f"labels must be < n_classes = {c}, got label {largest}")
    return np.bincount((t * c + p).ravel(), minlength=c * c).reshape(c, c)


def binary_counts(prediction, target) -> ConfusionCounts:
    """TP, FP, FN and TN of a binary prediction.

    Parameters
    ----------
    prediction, target : array_like
        Binary masks (bool or 0/1), same shape.

    Returns
    -------
    ConfusionCounts
        Named tuple (tp, fp, fn, tn) of Python ints.

    Raises
    ------
    ValueError
        On a shape mismatch or a non-binary mask.

    Notes
    -----
    Supports metrics.confusion-matrix: the four cells of its 2 x 2 form, counted with
    :func:`numpy.count_nonzero` on boolean masks (no integer copies of the inputs).
    """
    p, t = _binary_pair(prediction, target)
    tp = int(np.count_nonzero(np.logical_and(p, t)))
    fp = int(np.count_nonzero(p)) - tp
    fn = int(np.count_nonzero(t)) - tp
    return ConfusionCounts(tp=tp, fp=fp, fn=fn, tn=p.size - tp - fp - fn)


def _ratio(num: int, den: int, undefined: float) -> float:
    return float(num) / den if den else undefined


def dice(prediction, target, *, empty_score: float = 1.0) -> float:
    """Dice coefficient of two binary masks: 2 |A n B| / (|A| + |B|).

    Parameters
    ----------
    prediction, target : array_like
        Binary masks A (predicted) and B (ground truth), same shape.
    empty_score : float, optional
        Returned when both masks are empty: a number in [0, 1] or NaN (default 1.0; NaN to
        exclude the case from an average). MONAI's ``compute_dice(..., ignore_empty=False)``
        is this function with the default; its default ``ignore_empty=True`` gives NaN for every
        empty ground truth, also when the prediction is not empty (here 0).

    Returns
    -------
    float
        In [0, 1]; 0 when exactly one mask is empty.

    Raises
    ------
    ValueError
        On a shape mismatch, a non-binary mask, or ``empty_score`` outside [0, 1] and not NaN.

    Notes
    -----
    :formula:`metrics.dice` -- :math:`2|A\\cap B|/(|A|+|B|) = 2TP/(2TP + FP + FN)`, the
    harmonic mean of precision and sensitivity (the F1 score). ``1 - dice`` equals
    :func:`scipy.spatial.distance.dice` of the flattened masks.
    """
    undefined = _undefined_value(empty_score, "empty_score")
    c = binary_counts(prediction, target)
    return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, undefined)


def iou(prediction, target, *, empty_score: float = 1.0) -> float:
    """Intersection over union (Jaccard index) of two binary masks: |A n B| / |A u B|.

    Parameters
    ----------
    prediction, target : array_like
        Binary masks, same shape.
    empty_score : float, optional
        Returned when both masks are empty: a number in [0, 1] or NaN (default 1.0), as
        :func:`dice`.

    Returns
    -------
    float
        In [0, 1]; never larger than :func:`dice`.

    Raises
    ------
    ValueError
        On a shape mismatch, a non-binary mask, or ``empty_score`` outside [0, 1] and not NaN.

    Notes
    -----
    :formula:`metrics.iou` -- :math:`|A\\cap B|/|A\\cup B| = TP/(TP + FP + FN)`.
    """
    undefined = _undefined_value(empty_score, "empty_score")
    c = binary_counts(prediction, target)
    return _ratio(c.tp, c.tp + c.fp + c.fn, undefined)


def dice_from_iou(iou_value) -> np.ndarray | float:
    """Convert IoU to Dice: Dice = 2 IoU / (1 + IoU).

    Parameters
    ----------
    iou_value : float or array_like
        IoU values in [0, 1].

    Returns
    -------
    float or numpy.ndarray
        Dice, in [0, 1]; a float for scalar input.

    Raises
    ------
    ValueError
        If a value lies outside [0, 1].

    Notes
    -----
    :formula:`metrics.dice-iou` -- with I = |A n B| and U = |A u B|, |A| + |B| = U + I, so
    Dice = 2I / (U + I) = 2 IoU / (1 + IoU). The map is increasing: on one case both metrics
    rank segmentations identically, and Dice >= IoU with equality only at 0 and 1. Means over
    several cases can rank differently, because the map is not linear: segmentation A may have
    the higher mean Dice and B the higher mean IoU (the metrics notebook shows two such
    segmentations of two cases).
    """
    j = as_array(iou_value, "iou_value", low=0, high=1)
    out = 2 * j / (1 + j)
    return float(out) if out.ndim == 0 else out


def iou_from_dice(dice_value) -> np.ndarray | float:
    """Convert Dice to IoU: IoU = Dice / (2 - Dice), the inverse of :func:`dice_from_iou`.

    Parameters
    ----------
    dice_value : float or array_like
        Dice values in [0, 1].

    Returns
    -------
    float or numpy.ndarray

    Raises
    ------
    ValueError
        If a value lies outside [0, 1].

    Notes
    -----
    Supports metrics.dice-iou (solved for IoU).
    """
    d = as_array(dice_value, "dice_value", low=0, high=1)
    out = d / (2 - d)
    return float(out) if out.ndim == 0 else out


def sensitivity(prediction, target, *, zero_division: float = np.nan) -> float:
    """Sensitivity (recall, true-positive rate): TP / (TP + FN).

    Parameters
    ----------
    prediction, target : array_like
        Binary masks (or per-case binary labels), same shape.
    zero_division : float, optional
        Returned when the ground truth has no positive (default NaN: nothing to detect, so the
        ability to detect is undefined).

    Returns
    -------
    float
        The fraction of true positives that were found.

    Raises
    ------
    ValueError
        On a shape mismatch, a non-binary mask, or ``zero_division`` outside [0, 1] and not
        NaN.

    Notes
    -----
    :formula:`metrics.sensitivity` -- :math:`TP/(TP+FN)`. An empty prediction scores 0 on any
    non-empty ground truth; predicting everything positive scores 1.
    """
    undefined = _undefined_value(zero_division, "zero_division")
    c = binary_counts(prediction, target)
    return _ratio(c.tp, c.tp + c.fn, undefined)


def specificity(prediction, target, *, zero_division: float = np.nan) -> float:
    """Specificity (true-negative rate): TN / (TN + FP).

    Parameters
    ----------
    prediction, target : array_like
        Binary masks, same shape.
    zero_division : float, optional
        Returned when the ground truth has no negative (default NaN).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On a shape mismatch, a non-binary mask, or ``zero_division`` outside [0, 1] and not
        NaN.

    Notes
    -----
    :formula:`metrics.specificity` -- :math:`TN/(TN+FP)`. In a segmentation the background is
    huge, so TN dwarfs FP and specificity stays near 1 even for a poor segmentation: report
    Dice or precision alongside it.
    """
    undefined = _undefined_value(zero_division, "zero_division")
    c = binary_counts(prediction, target)
    return _ratio(c.tn, c.tn + c.fp, undefined)


def precision(prediction, target, *, zero_division: float = np.nan) -> float:
    """Precision (positive predictive value): TP / (TP + FP).

    Parameters
    ----------
    prediction, target : array_like
        Binary masks, same shape.
    zero_division : float, optional
        Returned when nothing is predicted positive (default NaN).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        On a shape mismatch, a non-binary mask, or ``zero_division`` outside [0, 1] and not
        NaN.

    Notes
    -----
    Supports metrics.dice: Dice = 2 precision sensitivity / (precision + sensitivity).
    """
    undefined = _undefined_value(zero_division, "zero_division")
    c = binary_counts(prediction, target)
    return _ratio(c.tp, c.tp + c.fp, undefined)
