"""Loss functions of segmentation and classification networks, and their gradients, in NumPy.

Taught in ``chapters/dl-formulas/losses.ipynb`` (section 9.2 of the key formulas). Every loss
has an analytic gradient with respect to what the network outputs (logits, or probabilities for
the Dice loss); the tests check values against PyTorch's and MONAI's losses and gradients against
autograd, and :func:`medlib.nn.numpy_loss` lets these very functions train a PyTorch model. This
module does not import PyTorch.

Conventions: ``target`` has the shape of the prediction (binary losses) or of the logits without
their class axis (class indices); ``reduction`` is "mean" (default, as PyTorch), "sum" or "none".
"""
from __future__ import annotations

import numpy as np
from scipy import special

from .._validate import as_array, as_choice, as_int, as_scalar
from . import metrics

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_gradient",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "cross_entropy_gradient",
    "focal_loss",
    "focal_loss_gradient",
    "hard_dice_loss",
    "log_sigmoid",
    "log_softmax",
    "soft_dice_loss",
    "soft_dice_loss_gradient",
]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: np.ndarray, reduction: str):
    if reduction == "mean":
        return float(values.mean())
    if reduction == "sum":
        return float(values.sum())
    return values


def _reduce_gradient(grad: np.ndarray, reduction: str) -> np.ndarray:
    return grad / grad.size if reduction == "mean" else grad


def _pair(prediction, target, pred_name: str, *, binary_target: bool = False):
    p = as_array(prediction, pred_name)
    t = as_array(target, "target")
    if t.shape != p.shape:
        raise ValueError(f"{pred_name} and target must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    if binary_target:
        if not np.all((t == 0) | (t == 1)):
            raise ValueError("target must hold binary labels 0 and 1")
    elif np.any((t < 0) | (t > 1)):
        raise ValueError("target must lie in [0, 1] (labels or label probabilities)")
    return p, t


def _probabilities(p: np.ndarray, name: str) -> None:
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"{name} must be probabilities in [0, 1], got values in "
                         f"[{p.min():.4g}, {p.max():.4g}] (pass logits to the *_with_logits / "
                         "focal / cross_entropy functions instead)")


# --- Dice ---------------------------------------------------------------------------------------

def hard_dice_loss(probabilities, target, *, threshold: float = 0.5) -> float:
    """Dice loss of thresholded predictions: 1 - Dice(p >= threshold, target).

    Parameters
    ----------
    probabilities : array_like
        Predicted foreground probabilities in [0, 1] (or a binary mask).
    target : array_like
        Binary ground truth (0/1), same shape.
    threshold : float, optional
        Probability at and above which a voxel is foreground (default 0.5).

    Returns
    -------
    float
        In [0, 1]; 0 when both masks are empty (:func:`medlib.dl.metrics.dice`'s convention).

    Raises
    ------
    ValueError
        On a shape mismatch, probabilities outside [0, 1], or non-binary targets.

    Notes
    -----
    :formula:`dl.dice-loss` -- :math:`\\mathcal{L}_{Dice} = 1 - \\mathrm{Dice}`. As a function of
    the network's output it is piecewise constant: its gradient is zero almost everywhere, so it
    evaluates a network but cannot train one; :func:`soft_dice_loss` can.
    """
    p, t = _pair(probabilities, target, "probabilities", binary_target=True)
    _probabilities(p, "probabilities")
    thr = as_scalar(threshold, "threshold", low=0.0, high=1.0)
    return 1.0 - metrics.dice(p >= thr, t.astype(bool))


def soft_dice_loss(probabilities, target, *, smooth: float = 1.0) -> float:
    """Soft Dice loss: the Dice formula on probabilities, with a smoothing term.

    Parameters
    ----------
    probabilities : array_like
        Predicted foreground probabilities p_i in [0, 1] (a sigmoid output), any shape; the sums
        run over all elements (the whole batch: "batch Dice").
    target : array_like
        Ground truth g_i in [0, 1] (binary labels, or soft labels), same shape.
    smooth : float, optional
        epsilon >= 0 (default 1), added to numerator and denominator.

    Returns
    -------
    float
        1 - (2 sum p g + eps) / (sum p + sum g + eps), in [0, 1]. Equals
        ``monai.losses.DiceLoss(smooth_nr=eps, smooth_dr=eps, squared_pred=False, batch=True)``
        on (N, 1, ...) probabilities; MONAI's default ``batch=False`` averages one loss per image
        instead.

    Raises
    ------
    ValueError
        On a shape mismatch, values outside [0, 1], a negative ``smooth``, or ``smooth = 0`` with
        an empty prediction and target (0/0).

    Notes
    -----
    :formula:`dl.soft-dice-loss`. Without epsilon the loss of an empty target and an empty
    prediction is 0/0, and on a patch with no foreground any positive p_i gives the maximal
    loss 1 whatever its size. With epsilon the empty/empty case scores 0 loss (perfect
    agreement) and the gradient stays finite; epsilon = 1 is common, MONAI uses 1e-5. On binary
    p and g with epsilon = 0 it equals :func:`hard_dice_loss`.

    References
    ----------
    F. Milletari, N. Navab, S.-A. Ahmadi, "V-Net: Fully convolutional neural networks for
    volumetric medical image segmentation", 3DV 2016 (their form squares p and g in the
    denominator; this is the common linear form).
    """
    p, t = _pair(probabilities, target, "probabilities")
    _probabilities(p, "probabilities")
    eps = as_scalar(smooth, "smooth", low=0.0)
    inter, total = float(np.sum(p * t)), float(np.sum(p) + np.sum(t))
    if total + eps == 0:
        raise ValueError("soft Dice of an empty prediction and target is 0/0: use smooth > 0")
    return 1.0 - (2.0 * inter + eps) / (total + eps)


def soft_dice_loss_gradient(probabilities, target, *, smooth: float = 1.0) -> np.ndarray:
    """Gradient of :func:`soft_dice_loss` with respect to every probability p_i.

    Parameters
    ----------
    probabilities, target, smooth
        As :func:`soft_dice_loss`.

    Returns
    -------
    numpy.ndarray, shape of ``probabilities``
        -(2 g_i (P + G + eps) - (2 I + eps)) / (P + G + eps)^2 with I = sum p g, P = sum p,
        G = sum g.

    Raises
    ------
    ValueError
        As :func:`soft_dice_loss`.

    Notes
    -----
    Supports dl.soft-dice-loss. Every voxel's gradient depends on the sums over the whole
    image: a false positive costs more when the target is small, which is how the Dice loss
    counters class imbalance.
    """
    p, t = _pair(probabilities, target, "probabilities")
    _probabilities(p, "probabilities")
    eps = as_scalar(smooth, "smooth", low=0.0)
    inter, total = np.sum(p * t), np.sum(p) + np.sum(t)
    if total + eps == 0:
        raise ValueError("soft Dice of an empty prediction and target is 0/0: use smooth > 0")
    return -(2.0 * t * (total + eps) - (2.0 * inter + eps)) / (total + eps) ** 2


# --- cross-entropy ------------------------------------------------------------------------------

def binary_cross_entropy(probabilities, target, *, reduction: str = "mean"):
    """Binary cross-entropy of probabilities, the textbook formula.

    Parameters
    ----------
    probabilities : array_like
        Predicted probabilities y-hat in [0, 1].
    target : array_like
        Labels y in [0, 1] (0/1, or soft labels), same shape.
    reduction : {"mean", "sum", "none"}, optional

    Returns
    -------
    float or numpy.ndarray
        -[y log y-hat + (1 - y) log(1 - y-hat)], in nats; each log is clamped at -100, as
        ``torch.nn.functional.binary_cross_entropy`` does, so a confident mistake costs 100
        instead of infinity.

    Raises
    ------
    ValueError
        On a shape mismatch, values outside [0, 1] or an unknown ``reduction``.

    Notes
    -----
    :formula:`dl.bce`. Computing y-hat = sigmoid(z) first and then this formula loses
    everything beyond |z| ~ 37 in float64 (sigmoid(z) rounds to 1): use
    :func:`binary_cross_entropy_with_logits` on the logits.
    """
    p, t = _pair(probabilities, target, "probabilities")
    _probabilities(p, "probabilities")
    as_choice(reduction, "reduction", _REDUCTIONS)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_q = np.maximum(np.log1p(-p), -100.0)
    return _reduce(-(t * log_p + (1 - t) * log_q), reduction)


def log_sigmoid(z) -> np.ndarray:
    """log(sigmoid(z)) without overflow or log(0): -(max(-z, 0) + log(1 + exp(-|z|))).

    Parameters
    ----------
    z : array_like
        Logits.

    Returns
    -------
    numpy.ndarray
        <= 0; equals -z (to round-off) for very negative z, where sigmoid underflows.

    Notes
    -----
    Supports dl.bce-logits: log(1 - sigmoid(z)) = log_sigmoid(-z).
    """
    x = as_array(z, "z")
    return -(np.maximum(-x, 0.0) + np.log1p(np.exp(-np.abs(x))))


def binary_cross_entropy_with_logits(logits, target, *, pos_weight: float = 1.0,
                                     reduction: str = "mean"):
    """Binary cross-entropy computed from logits z (y-hat = sigmoid(z)), numerically stable.

    Parameters
    ----------
    logits : array_like
        The network's raw outputs z (any real values).
    target : array_like
        Labels y in [0, 1], same shape.
    pos_weight : float, optional
        w > 0 multiplies the positive term: -[w y log y-hat + (1 - y) log(1 - y-hat)]; w > 1
        counters a rare foreground (PyTorch's ``pos_weight``). Default 1.
    reduction : {"mean", "sum", "none"}, optional

    Returns
    -------
    float or numpy.ndarray
        Equals ``torch.nn.functional.binary_cross_entropy_with_logits``.

    Raises
    ------
    ValueError
        On a shape mismatch, non-finite logits, targets outside [0, 1], ``pos_weight`` <= 0 or an
        unknown ``reduction``.

    Notes
    -----
    :formula:`dl.bce-logits` -- with -log sigmoid(z) = softplus(-z) and
    -log(1 - sigmoid(z)) = z + softplus(-z), the loss is
    :math:`(1-y) z + (w y + 1 - y)\\,\\mathrm{softplus}(-z)`, and for w = 1
    :math:`\\max(z, 0) - z y + \\log(1 + e^{-|z|})`: no exponential of a large positive number
    is ever taken, and nothing is rounded to log(0).
    """
    z, t = _pair(logits, target, "logits")
    w = as_scalar(pos_weight, "pos_weight", low=0.0, low_inclusive=False)
    as_choice(reduction, "reduction", _REDUCTIONS)
    softplus_neg = -log_sigmoid(z)              # max(-z, 0) + log(1 + exp(-|z|))
    return _reduce((1 - t) * z + (w * t + 1 - t) * softplus_neg, reduction)


def binary_cross_entropy_gradient(logits, target, *, pos_weight: float = 1.0,
                                  reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` with respect to the logits.

    Parameters
    ----------
    logits, target, pos_weight, reduction
        As :func:`binary_cross_entropy_with_logits`.

    Returns
    -------
    numpy.ndarray, shape of ``logits``
        (w y + 1 - y) sigmoid(z) - w y; for w = 1 simply sigmoid(z) - y (divided by the number
        of elements for ``reduction="mean"``).

    Raises
    ------
    ValueError
        As :func:`binary_cross_entropy_with_logits`.

    Notes
    -----
    :formula:`dl.ce-gradient` (binary case): prediction minus target, bounded by 1 in magnitude
    however wrong the prediction. The sigmoid's own derivative cancels the log's, which is why
    sigmoid + cross-entropy trains well where sigmoid + squared error saturates.
    """
    z, t = _pair(logits, target, "logits")
    w = as_scalar(pos_weight, "pos_weight", low=0.0, low_inclusive=False)
    reduction = as_choice(reduction, "reduction", _REDUCTIONS)
    return _reduce_gradient((w * t + 1 - t) * special.expit(z) - w * t, reduction)


def log_softmax(logits, *, axis: int = 1) -> np.ndarray:
    """Logarithm of the softmax along the class axis, shifted by the maximum (no overflow).

    Parameters
    ----------
    logits : array_like
        Class scores z, with the classes along ``axis``.
    axis : int, optional
        The class axis (default 1: PyTorch's (N, C, ...) layout).

    Returns
    -------
    numpy.ndarray, shape of ``logits``
        log y-hat_c; ``np.exp`` of it sums to 1 along ``axis``. Equals
        :func:`scipy.special.log_softmax`.

    Raises
    ------
    ValueError
        If ``logits`` is not finite or ``axis`` is out of range.

    Notes
    -----
    :formula:`dl.log-softmax` -- :math:`\\log\\hat{y}_c = z_c - m - \\log\\sum_k e^{z_k - m}`
    with :math:`m = \\max_k z_k`. Subtracting m changes nothing mathematically (softmax is
    invariant to a common shift) and keeps every exponent <= 0.
    """
    z = as_array(logits, "logits")
    if z.ndim == 0:
        raise ValueError("logits must have a class axis, got a scalar")
    ax = as_int(axis, "axis", low=-z.ndim, high=z.ndim - 1)
    shifted = z - z.max(axis=ax, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))


def _class_target(z: np.ndarray, target, axis: int) -> np.ndarray:
    """One-hot (or probability) target with the shape of ``z``."""
    t = as_array(target, "target", dtype=None, real=True)
    n_classes = z.shape[axis]
    if t.shape == z.shape:
        t = t.astype(np.float64)
        if np.any((t < 0) | (t > 1)):
            raise ValueError("target class probabilities must lie in [0, 1]")
        return t
    expected = z.shape[:axis] + z.shape[axis + 1:]
    if t.shape != expected:
        raise ValueError(f"target of shape {t.shape} does not fit logits of shape {z.shape} "
                         f"(classes along axis {axis}): target must hold class indices of shape "
                         f"{expected} or class probabilities of shape {z.shape}")
    if not (t.dtype == bool or np.issubdtype(t.dtype, np.integer) or np.all(t == np.floor(t))):
        raise ValueError("target class indices must be integers")
    labels = t.astype(np.int64)
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"target class indices must lie in [0, {n_classes - 1}], got "
                         f"[{labels.min()}, {labels.max()}]")
    return np.moveaxis(np.eye(n_classes)[labels], -1, axis)


def cross_entropy(logits, target, *, axis: int = 1, reduction: str = "mean"):
    """Multi-class cross-entropy from logits: -sum_c y_c log softmax(z)_c.

    Parameters
    ----------
    logits : array_like, shape (N, C, ...)
        Class scores z (classes along ``axis``).
    target : array_like
        Class indices 0 ... C-1 of shape (N, ...) (the logits' shape without the class axis), or
        class probabilities of the logits' shape (one-hot, or smoothed labels).
    axis : int, optional
        Class axis (default 1).
    reduction : {"mean", "sum", "none"}, optional
        Mean or sum over every sample and voxel (the positions without the class axis).

    Returns
    -------
    float or numpy.ndarray
        Equals ``torch.nn.functional.cross_entropy(logits, target)``.

    Raises
    ------
    ValueError
        On mismatched shapes, non-integer or out-of-range class indices, probabilities outside
        [0, 1], or an unknown ``reduction``.

    Notes
    -----
    :formula:`dl.ce` -- :math:`\\mathcal{L}_{CE} = -\\sum_c y_c \\log \\hat{y}_c`, with
    :math:`\\log\\hat{y}_c` from :func:`log_softmax` (never ``log(softmax)``, which underflows to
    log 0 for a confidently wrong class). For C = 2 it equals the binary cross-entropy of the
    logit difference z_1 - z_0.
    """
    z = as_array(logits, "logits")
    if z.ndim < 2:
        raise ValueError(f"logits must have shape (N, C, ...), got {z.shape}")
    ax = as_int(axis, "axis", low=-z.ndim, high=z.ndim - 1) % z.ndim
    as_choice(reduction, "reduction", _REDUCTIONS)
    y = _class_target(z, target, ax)
    with np.errstate(over="ignore"):          # a class 1e308 below the best has log p = -inf
        log_p = log_softmax(z, axis=ax)
    # Classes with y_c = 0 contribute 0, also where log p_c = -inf (0 * -inf would be NaN).
    terms = np.multiply(y, log_p, out=np.zeros_like(log_p), where=y > 0)
    return _reduce(-np.sum(terms, axis=ax), reduction)


def cross_entropy_gradient(logits, target, *, axis: int = 1,
                           reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to the logits: softmax(z) - y.

    Parameters
    ----------
    logits, target, axis, reduction
        As :func:`cross_entropy`.

    Returns
    -------
    numpy.ndarray, shape of ``logits``
        y-hat_c - y_c (divided by the number of positions for ``reduction="mean"``); sums to 0
        along the class axis for one-hot targets.

    Raises
    ------
    ValueError
        As :func:`cross_entropy`.

    Notes
    -----
    :formula:`dl.ce-gradient` (multi-class case; for soft targets the gradient is
    y-hat_c * sum_k y_k - y_c, which is the same when the target sums to 1).
    """
    z = as_array(logits, "logits")
    if z.ndim < 2:
        raise ValueError(f"logits must have shape (N, C, ...), got {z.shape}")
    ax = as_int(axis, "axis", low=-z.ndim, high=z.ndim - 1) % z.ndim
    reduction = as_choice(reduction, "reduction", _REDUCTIONS)
    y = _class_target(z, target, ax)
    grad = np.exp(log_softmax(z, axis=ax)) * y.sum(axis=ax, keepdims=True) - y
    return grad / (z.size // z.shape[ax]) if reduction == "mean" else grad


# --- focal loss ---------------------------------------------------------------------------------

def _focal_terms(logits, target, gamma, alpha):
    z, t = _pair(logits, target, "logits", binary_target=True)
    g = as_scalar(gamma, "gamma", low=0.0)
    a = None if alpha is None else as_scalar(alpha, "alpha", low=0.0, high=1.0)
    s = 2.0 * t - 1.0                          # +1 for y = 1, -1 for y = 0
    p_t = special.expit(s * z)                 # sigmoid(z) where y = 1, 1 - sigmoid(z) where y = 0
    one_minus_pt = special.expit(-s * z)       # computed directly: no cancellation near p_t = 1
    alpha_t = np.ones_like(t) if a is None else np.where(t == 1, a, 1.0 - a)
    return s, g, alpha_t, p_t, log_sigmoid(s * z), one_minus_pt


def focal_loss(logits, target, *, gamma: float = 2.0, alpha: float | None = 0.25,
               reduction: str = "mean"):
    """Binary focal loss from logits, in its full form with alpha balancing.

    Parameters
    ----------
    logits : array_like
        Raw outputs z; y-hat = sigmoid(z).
    target : array_like
        Binary labels y (0 or 1), same shape.
    gamma : float, optional
        Focusing parameter gamma >= 0 (default 2): (1 - p_t)^gamma shrinks the loss of examples
        the model already gets right (p_t near 1). gamma = 0 gives the cross-entropy.
    alpha : float or None, optional
        Weight of the positive class in [0, 1] (default 0.25, Lin et al.'s choice with
        gamma = 2); negatives get 1 - alpha. None: no class weighting.
    reduction : {"mean", "sum", "none"}, optional

    Returns
    -------
    float or numpy.ndarray
        -alpha_t (1 - p_t)^gamma log p_t, equal to ``monai.losses.FocalLoss(gamma, alpha,
        use_softmax=False)`` on (N, 1, ...) logits for reductions "mean" and "none" (MONAI's
        default alpha is None; its "sum" first averages over the pixels of each image and
        channel, this one sums everything, as PyTorch's losses do) and to
        ``torchvision.ops.sigmoid_focal_loss`` (which uses alpha = -1 for "no weighting").

    Raises
    ------
    ValueError
        On a shape mismatch, non-binary targets, gamma < 0, alpha outside [0, 1] or an unknown
        ``reduction``.

    Notes
    -----
    :formula:`dl.focal` -- :math:`p_t = \\hat{y}` where y = 1 and :math:`1 - \\hat{y}` where
    y = 0; :math:`\\alpha_t` likewise. The seed's :math:`-(1-\\hat{y})^\\gamma y \\log\\hat{y}`
    is only the y = 1 term: it gives every background voxel zero loss, so a network trained on
    it learns to call everything foreground. log p_t is computed as log sigmoid(+-z).

    References
    ----------
    T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollar, "Focal loss for dense object
    detection", ICCV 2017 (IEEE TPAMI 42(2), 2020).
    """
    as_choice(reduction, "reduction", _REDUCTIONS)
    _, g, alpha_t, _, log_pt, one_minus_pt = _focal_terms(logits, target, gamma, alpha)
    return _reduce(-alpha_t * one_minus_pt**g * log_pt, reduction)


def focal_loss_gradient(logits, target, *, gamma: float = 2.0, alpha: float | None = 0.25,
                        reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`focal_loss` with respect to the logits.

    Parameters
    ----------
    logits, target, gamma, alpha, reduction
        As :func:`focal_loss`.

    Returns
    -------
    numpy.ndarray, shape of ``logits``
        s alpha_t (1 - p_t)^gamma [gamma p_t log p_t - (1 - p_t)] with s = +1 for y = 1 and -1
        for y = 0 (divided by the number of elements for ``reduction="mean"``).

    Raises
    ------
    ValueError
        As :func:`focal_loss`.

    Notes
    -----
    Supports dl.focal. From d p_t / dz = s p_t (1 - p_t): the log term alone gives
    -s alpha_t (1 - p_t)^(gamma + 1), the cross-entropy's gradient times (1 - p_t)^gamma; the
    focusing factor's own derivative adds s alpha_t gamma p_t (1 - p_t)^gamma log p_t.
    """
    reduction = as_choice(reduction, "reduction", _REDUCTIONS)
    s, g, alpha_t, p_t, log_pt, one_minus_pt = _focal_terms(logits, target, gamma, alpha)
    grad = s * alpha_t * one_minus_pt**g * (g * p_t * log_pt - one_minus_pt)
    return _reduce_gradient(grad, reduction)
