"""Cost functions of segmentation networks in PyTorch: pixel-wise cross-entropy and soft Dice.

Taught in ``chapters/segmentation/losses.ipynb`` (section 14.2, the cost functions of the
pixel-wise prediction notes). Every loss is written from its formula with PyTorch operations, so
autograd differentiates it; the tests check the values against Part I's NumPy versions
(:mod:`medlib.dl.losses`), PyTorch's ``F.binary_cross_entropy_with_logits``/``F.cross_entropy``
and MONAI's ``DiceLoss``/``DiceCELoss`` at matching options.

Conventions (PyTorch's): a batch is ``(N, C, *spatial)``, channels on axis 1; networks output
*logits* (the activations ``a_k(r)`` before the sigmoid or the softmax); ``reduction`` is
``"sum"`` (the notes: a sum over pixels and samples), ``"mean"`` (what frameworks use) or
``"none"``. Inputs are never modified.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import as_array, as_bool, as_choice, as_mask, as_scalar
from ..nn._validate import as_tensor

__all__ = [
    "DiceCELoss",
    "SoftDiceLoss",
    "bce_pixel",
    "ce_pixel",
    "dataset_loss",
    "dice_coefficient",
    "loss_split",
    "soft_dice_loss",
    "softmax",
]

_REDUCTIONS = ("sum", "mean", "none")


# --- argument checks ----------------------------------------------------------------------------

def _tensor(value, name: str, *, min_ndim: int = 2) -> torch.Tensor:
    """``value`` as a finite real floating tensor (a tensor keeps its graph and dtype)."""
    return as_tensor(value, name, min_ndim=min_ndim)


def _target_like(target, x: torch.Tensor, x_name: str, name: str = "target") -> torch.Tensor:
    t = _tensor(target, name, min_ndim=1).to(x.dtype)
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"{x_name} and {name} must have the same shape, got {tuple(x.shape)} "
                         f"and {tuple(t.shape)}")
    return t


def _probability_target(t: torch.Tensor, name: str = "target") -> None:
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError(f"{name} must lie in [0, 1] (labels or label probabilities)")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return values.sum()
    if reduction == "mean":
        return values.mean()
    return values


# --- softmax and cross-entropy ------------------------------------------------------------------

def softmax(logits, *, dim: int = 1) -> torch.Tensor:
    """Softmax over the channel axis at every pixel.

    Parameters
    ----------
    logits : tensor or array_like, shape ``(N, C, *spatial)``
        Activations a_j(r) of the last layer.
    dim : int, optional
        The channel axis (default 1, PyTorch's convention).

    Returns
    -------
    torch.Tensor, shape of ``logits``
        f_k(r) = exp(a_k(r)) / sum_j exp(a_j(r)): non-negative, summing to 1 over ``dim``.

    Raises
    ------
    TypeError
        If ``logits`` is not real numbers or ``dim`` is not an integer.
    ValueError
        If ``logits`` is not finite, has fewer than 2 dimensions, or ``dim`` is out of range.

    Notes
    -----
    :formula:`seg.softmax`. Computed as exp(a_k - max_j a_j) / sum_j exp(a_j - max_j a_j): the
    shift cancels in the ratio and keeps exp from overflowing for large activations (a logit of
    1000 overflows exp in float64, the shifted form does not).

    References
    ----------
    I. Goodfellow, Y. Bengio, A. Courville, *Deep Learning*, MIT Press 2016, section 6.2.2.3.
    """
    a = _tensor(logits, "logits")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an integer, got {dim!r}")
    if not -a.ndim <= dim < a.ndim:
        raise ValueError(f"dim must be in [{-a.ndim}, {a.ndim - 1}], got {dim}")
    e = torch.exp(a - a.amax(dim=int(dim), keepdim=True))
    return e / e.sum(dim=int(dim), keepdim=True)


def bce_pixel(logits, target, *, reduction: str = "sum") -> torch.Tensor:
    """Pixel-wise binary cross-entropy of a sigmoid output, summed over pixels (the notes).

    Parameters
    ----------
    logits : tensor or array_like, shape ``(N, 1, *spatial)`` (any shape of >= 1 dimension)
        Activations a(r); the network's probability is f(r) = sigmoid(a(r)).
    target : tensor or array_like, shape of ``logits``
        y(r) in [0, 1]: binary labels (or soft labels).
    reduction : {"sum", "mean", "none"}, optional
        "sum" (default) sums over pixels and samples as the notes write; "mean" divides by the
        number of pixels (PyTorch's default); "none" returns the loss of every pixel.

    Returns
    -------
    torch.Tensor
        0-dim, or the shape of ``logits`` for "none".

    Raises
    ------
    TypeError
        On non-numeric inputs.
    ValueError
        On a shape mismatch, non-finite values, targets outside [0, 1] or an unknown
        ``reduction``.

    Notes
    -----
    :formula:`seg.bce-pixel` -- L = sum_r BCE(y(r), f(r)) with
    BCE(y, f) = -y log f - (1 - y) log(1 - f). From the logits,
    log f = log sigmoid(a) and log(1 - f) = log sigmoid(-a), each computed without forming f,
    so a confident wrong pixel costs |a| instead of log(0) = -inf. Equals
    ``F.binary_cross_entropy_with_logits(logits, target, reduction=...)``.
    """
    a = _tensor(logits, "logits", min_ndim=1)
    y = _target_like(target, a, "logits")
    _probability_target(y)
    red = as_choice(reduction, "reduction", _REDUCTIONS)
    per_pixel = -(y * F.logsigmoid(a) + (1.0 - y) * F.logsigmoid(-a))
    return _reduce(per_pixel, red)


def _class_probabilities(target, a: torch.Tensor) -> torch.Tensor:
    """The target as p(y(r) = k), shape of the logits: from class indices or probabilities."""
    if isinstance(target, torch.Tensor):
        t = target
        integral = not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)
    else:
        if isinstance(target, (str, bytes)) or target is None:
            raise TypeError(f"target must be a tensor or an array of numbers, got {target!r}")
        arr = np.asarray(target)
        integral = arr.dtype.kind in "iu"
        t = None
    n_classes = a.shape[1]
    if integral:                                   # class indices, shape ``(N, *spatial)``
        idx = t if t is not None else torch.as_tensor(np.asarray(target))
        if tuple(idx.shape) != (a.shape[0], *a.shape[2:]):
            raise ValueError(f"target of class indices must have the shape (N, *spatial) of "
                             f"logits {tuple(a.shape)} without its class axis, got "
                             f"{tuple(idx.shape)}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n_classes):
            raise ValueError(f"target class indices must lie in [0, {n_classes - 1}]")
        return F.one_hot(idx.long(), n_classes).movedim(-1, 1).to(a.dtype)
    p = _target_like(target, a, "logits")
    _probability_target(p)
    return p


def ce_pixel(logits, target, *, reduction: str = "sum") -> torch.Tensor:
    """Pixel-wise multi-class cross-entropy of a softmax output, summed over pixels (the notes).

    Parameters
    ----------
    logits : tensor or array_like, shape ``(N, K, *spatial)``
        Activations a_k(r) of K classes.
    target : tensor or array_like
        Either integer class indices of shape ``(N, *spatial)`` (certain labels, PyTorch's usual
        form), or label probabilities p(y(r) = k) of the logits' shape (one-hot or soft labels).
    reduction : {"sum", "mean", "none"}, optional
        "sum" (default, the notes), "mean" (divides by the number of pixels N x D, as
        ``F.cross_entropy``), or "none" (the loss of every pixel, shape ``(N, *spatial)``).

    Returns
    -------
    torch.Tensor
        0-dim, or ``(N, *spatial)`` for "none".

    Raises
    ------
    TypeError
        On non-numeric inputs.
    ValueError
        On shapes that do not match, class indices outside [0, K - 1], probabilities outside
        [0, 1], non-finite values or an unknown ``reduction``.

    Notes
    -----
    :formula:`seg.ce-pixel` -- L = sum_r CE(y(r), f(r)), CE = -sum_k p(y = k) log f_k with f the
    softmax (:func:`softmax`); log f_k = a_k - logsumexp_j a_j is computed without forming f.
    With certain labels the sum over k keeps one term, -log f_{y(r)}(r). Equals
    ``F.cross_entropy(logits, target, reduction=...)`` for both target forms.
    """
    a = _tensor(logits, "logits")
    p = _class_probabilities(target, a)
    red = as_choice(reduction, "reduction", _REDUCTIONS)
    log_f = a - torch.logsumexp(a, dim=1, keepdim=True)
    per_pixel = -(p * log_f).sum(dim=1)
    return _reduce(per_pixel, red)


def dataset_loss(loss, logits, target) -> torch.Tensor:
    """The loss of a data set: the sum over samples of each sample's loss.

    Parameters
    ----------
    loss : callable
        ``loss(logits_n, target_n)`` -> 0-dim tensor, the loss L(y_n, f(x_n)) of one sample
        (e.g. ``functools.partial(ce_pixel, reduction="sum")``).
    logits : tensor or array_like, shape (N, ...)
        The network's outputs for the N samples.
    target : tensor or array_like, shape (N, ...)
        Their targets, in the form ``loss`` expects.

    Returns
    -------
    torch.Tensor
        0-dim: sum_n L(y_n, f(x_n)).

    Raises
    ------
    TypeError
        If ``loss`` is not callable or does not return a 0-dim tensor.
    ValueError
        If ``logits`` and ``target`` hold different numbers of samples.

    Notes
    -----
    :formula:`seg.dataset-loss` -- calL(D; theta) = sum_{n=1}^N L(y_n, f(x_n; theta)). Each
    sample is passed as a batch of one, ``logits[n:n+1]``. With ``reduction="sum"`` losses it
    equals one call on the whole batch; a framework's "mean" divides that by N x D (the number
    of pixels), which changes the gradient's scale, not its direction.
    """
    if not callable(loss):
        raise TypeError(f"loss must be a callable loss(logits, target), got {type(loss).__name__}")
    a = _tensor(logits, "logits", min_ndim=1)
    if isinstance(target, torch.Tensor):
        t = target
    else:
        t = torch.as_tensor(as_array(target, "target", dtype=None, real=True))
    if t.ndim < 1 or t.shape[0] != a.shape[0]:
        raise ValueError(f"target must hold as many samples as logits ({a.shape[0]}), got shape "
                         f"{tuple(t.shape)}")
    total = None
    for n in range(a.shape[0]):                    # one sample at a time, as the formula reads
        value = loss(a[n:n + 1], t[n:n + 1])
        if not isinstance(value, torch.Tensor) or value.ndim != 0:
            raise TypeError("loss must return a 0-dim tensor (use reduction 'sum' or 'mean')")
        total = value if total is None else total + value
    return total


def loss_split(pixel_losses, small) -> dict:
    """Split a summed pixel-wise loss into its small-structure part and the rest.

    Parameters
    ----------
    pixel_losses : tensor or array_like
        The loss of every pixel (``reduction="none"``), non-negative, any shape.
    small : array_like of bool, shape of ``pixel_losses``
        Omega_small: the pixels of the small structure.

    Returns
    -------
    dict
        ``small`` (L_small), ``rest`` (L of the complement), ``share`` (L_small / L, NaN when
        L = 0) and ``area_share`` (|Omega_small| / D), as floats.

    Raises
    ------
    TypeError
        If ``small`` is not boolean.
    ValueError
        On a shape mismatch, negative or non-finite losses.

    Notes
    -----
    :formula:`seg.imbalance` -- L = sum_{r in Omega_small} CE(r) + sum_{r not in Omega_small}
    CE(r) = L_small + L_rest. When the network's loss per pixel is about the same everywhere,
    ``share`` is about ``area_share``: a tumour of 0.3 % of the pixels steers 0.3 % of the
    gradient.
    """
    if isinstance(pixel_losses, torch.Tensor):
        values = pixel_losses.detach().to(torch.float64).cpu().numpy()
        values = as_array(values, "pixel_losses", low=0.0, allow_empty=False)
    else:
        values = as_array(pixel_losses, "pixel_losses", low=0.0)
    mask = as_mask(small, "small")
    if mask.shape != values.shape:
        raise ValueError(f"small must have the shape of pixel_losses {values.shape}, got "
                         f"{mask.shape}")
    l_small, l_all = float(values[mask].sum()), float(values.sum())
    return {"small": l_small, "rest": l_all - l_small,
            "share": l_small / l_all if l_all > 0 else float("nan"),
            "area_share": float(mask.mean())}


# --- soft Dice ----------------------------------------------------------------------------------

def _dice_options(squared, smooth_nr, smooth_dr, batch, include_background):
    return (as_bool(squared, "squared"), as_scalar(smooth_nr, "smooth_nr", low=0.0),
            as_scalar(smooth_dr, "smooth_dr", low=0.0), as_bool(batch, "batch"),
            as_bool(include_background, "include_background"))


def dice_coefficient(probabilities, target, *, squared: bool = True, smooth_nr: float = 0.0,
                     smooth_dr: float = 0.0, batch: bool = False,
                     include_background: bool = True) -> torch.Tensor:
    """Soft Sørensen-Dice coefficient per class (the notes' formula, a score to maximise).

    Parameters
    ----------
    probabilities : tensor or array_like, shape ``(N, K, *spatial)``
        f_k(r) in [0, 1] (a sigmoid or softmax output); K = 1 for binary segmentation.
    target : tensor or array_like, shape of ``probabilities``
        p(y(r) = k) in [0, 1]: one-hot labels (or soft labels).
    squared : bool, optional
        True (default, the notes and V-Net): sum y^2 + sum f^2 in the denominator; False: the
        linear form sum y + sum f (the same on binary masks).
    smooth_nr, smooth_dr : float, optional
        eps >= 0 added to numerator and denominator (default 0, the notes' formula).
    batch : bool, optional
        False (default): one coefficient per image and class, sums over pixels; True: the sums
        run over the whole batch as well ("batch Dice", one coefficient per class).
    include_background : bool, optional
        False drops channel 0 (the background class) before the sums.

    Returns
    -------
    torch.Tensor
        Shape (N, K') or (K',) with ``batch``; K' = K, or K - 1 without background.

    Raises
    ------
    TypeError
        On non-numeric arrays or non-bool flags.
    ValueError
        On a shape mismatch, values outside [0, 1], negative smoothing, dropping the only
        channel, or a 0/0 (an empty class and prediction with ``smooth_dr = 0``).

    Notes
    -----
    :formula:`seg.soft-dice-binary` -- DSC = (2 sum_r y(r) f(r) + eps_nr) /
    (sum_r y(r)^2 + sum_r f(r)^2 + eps_dr); on binary masks it is the Dice coefficient
    2|A n B| / (|A| + |B|). It is differentiable in f because f is not thresholded.

    References
    ----------
    F. Milletari, N. Navab, S.-A. Ahmadi, "V-Net: fully convolutional neural networks for
    volumetric medical image segmentation", 3DV 2016 (the squared form).
    """
    f = _tensor(probabilities, "probabilities")
    y = _target_like(target, f, "probabilities")
    if bool(((f < 0) | (f > 1)).any()):
        raise ValueError("probabilities must lie in [0, 1] (apply a sigmoid or softmax first)")
    _probability_target(y)
    sq, eps_nr, eps_dr, per_batch, background = _dice_options(
        squared, smooth_nr, smooth_dr, batch, include_background)
    if not background:
        if f.shape[1] == 1:
            raise ValueError("include_background=False needs more than one channel (channel 0 "
                             "is the background)")
        f, y = f[:, 1:], y[:, 1:]
    axes = ([0] if per_batch else []) + list(range(2, f.ndim))
    intersection = (y * f).sum(dim=axes)
    denominator = ((y * y).sum(dim=axes) + (f * f).sum(dim=axes) if sq
                   else y.sum(dim=axes) + f.sum(dim=axes)) + eps_dr
    if bool((denominator == 0).any()):
        raise ValueError("the soft Dice of an empty class and an empty prediction is 0/0: use "
                         "smooth_dr > 0")
    return (2.0 * intersection + eps_nr) / denominator


def soft_dice_loss(probabilities, target, *, squared: bool = True, smooth_nr: float = 0.0,
                   smooth_dr: float = 0.0, batch: bool = False, include_background: bool = True,
                   reduction: str = "mean") -> torch.Tensor:
    """Soft Dice loss 1 - DSC per class, averaged (or summed) over classes and images.

    Parameters
    ----------
    probabilities, target, squared, smooth_nr, smooth_dr, batch, include_background
        As :func:`dice_coefficient`.
    reduction : {"mean", "sum", "none"}, optional
        "mean" (default, MONAI's): the mean of 1 - DSC_k over classes (and images); "sum": their
        sum; "none": the (N, K') or (K',) tensor.

    Returns
    -------
    torch.Tensor
        In [0, 1] for "mean" (with eps_nr <= eps_dr).

    Raises
    ------
    TypeError, ValueError
        As :func:`dice_coefficient`, or an unknown ``reduction``.

    Notes
    -----
    :formula:`seg.soft-dice-multiclass` -- L = (1/K) sum_k (1 - DSC_k). The notes write
    sum_k DSC_k: a score to maximise, not a loss, and unnormalised (it grows with K); 1 - DSC
    is minimised, and the mean over classes keeps it in [0, 1] whatever K. Every class
    counts equally, whatever its size: the point of the Dice loss for small structures. Equals
    ``monai.losses.DiceLoss(squared_pred=squared, smooth_nr=..., smooth_dr=..., batch=...,
    include_background=..., reduction=...)`` on probabilities and one-hot targets.
    """
    red = as_choice(reduction, "reduction", _REDUCTIONS)
    dsc = dice_coefficient(probabilities, target, squared=squared, smooth_nr=smooth_nr,
                           smooth_dr=smooth_dr, batch=batch,
                           include_background=include_background)
    return _reduce(1.0 - dsc, red)


def _activate(x: torch.Tensor, sigmoid: bool, use_softmax: bool) -> torch.Tensor:
    if sigmoid:
        return torch.sigmoid(x)
    if use_softmax:
        return softmax(x, dim=1)
    return x


def _one_hot_target(target, x: torch.Tensor, to_onehot_y: bool) -> torch.Tensor:
    if not to_onehot_y:
        return _target_like(target, x, "input")
    t = _tensor(target, "target", min_ndim=2)
    if tuple(t.shape) != (x.shape[0], 1, *x.shape[2:]):
        raise ValueError(f"target of class indices must have the shape (N, 1, *spatial) of "
                         f"input {tuple(x.shape)} with one channel, got {tuple(t.shape)}")
    if bool((t != torch.round(t)).any()) or int(t.min()) < 0 or int(t.max()) >= x.shape[1]:
        raise ValueError(f"target must hold class indices in [0, {x.shape[1] - 1}]")
    return F.one_hot(t[:, 0].long(), x.shape[1]).movedim(-1, 1).to(x.dtype)


class SoftDiceLoss(torch.nn.Module):
    """Soft Dice loss as a PyTorch module, with MONAI ``DiceLoss``'s options and defaults.

    Parameters
    ----------
    include_background : bool, optional
        False leaves channel 0 out of the loss (default True).
    to_onehot_y : bool, optional
        True: the target is class indices of shape ``(N, 1, *spatial)``, one-hot encoded here.
    sigmoid, softmax : bool, optional
        Apply a sigmoid (binary, independent channels) or a softmax (:func:`softmax`, exclusive
        classes) to the network's logits first; both False: the input is probabilities.
    squared_pred : bool, optional
        The squared denominator of the notes and V-Net (default False, MONAI's linear form).
    smooth_nr, smooth_dr : float, optional
        Smoothing of numerator and denominator (default 1e-5, MONAI's).
    batch : bool, optional
        Sums over the whole batch (one Dice per class) instead of per image (default False).
    reduction : {"mean", "sum", "none"}, optional
        Over images and classes (default "mean").

    Raises
    ------
    TypeError
        On non-bool flags.
    ValueError
        If both ``sigmoid`` and ``softmax`` are set, on negative smoothing or an unknown
        ``reduction``; in ``forward``, as :func:`dice_coefficient`.

    Notes
    -----
    Supports seg.soft-dice-binary and seg.soft-dice-multiclass: ``forward(logits, target)``
    is :func:`soft_dice_loss` on the activated input. MONAI's own ``DiceLoss`` (the library to
    graduate to) has the same signature; the tests require equality to 1e-6.
    """

    def __init__(self, include_background: bool = True, to_onehot_y: bool = False,
                 sigmoid: bool = False, softmax: bool = False, squared_pred: bool = False,
                 smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, batch: bool = False,
                 reduction: str = "mean"):
        super().__init__()
        self.include_background = as_bool(include_background, "include_background")
        self.to_onehot_y = as_bool(to_onehot_y, "to_onehot_y")
        self.sigmoid = as_bool(sigmoid, "sigmoid")
        self.softmax = as_bool(softmax, "softmax")
        if self.sigmoid and self.softmax:
            raise ValueError("sigmoid and softmax are exclusive: set one of them")
        self.squared_pred = as_bool(squared_pred, "squared_pred")
        self.smooth_nr = as_scalar(smooth_nr, "smooth_nr", low=0.0)
        self.smooth_dr = as_scalar(smooth_dr, "smooth_dr", low=0.0)
        self.batch = as_bool(batch, "batch")
        self.reduction = as_choice(reduction, "reduction", _REDUCTIONS)

    def forward(self, input, target):  # noqa: A002 (PyTorch's name)
        x = _tensor(input, "input")
        y = _one_hot_target(target, x, self.to_onehot_y)
        background = self.include_background or x.shape[1] == 1   # MONAI ignores it for 1 channel
        return soft_dice_loss(_activate(x, self.sigmoid, self.softmax), y,
                              squared=self.squared_pred, smooth_nr=self.smooth_nr,
                              smooth_dr=self.smooth_dr, batch=self.batch,
                              include_background=background, reduction=self.reduction)


class DiceCELoss(torch.nn.Module):
    """Soft Dice loss plus cross-entropy, as MONAI ``DiceCELoss`` (mean reductions).

    Parameters
    ----------
    include_background, to_onehot_y, sigmoid, softmax, squared_pred, smooth_nr, smooth_dr, batch
        The Dice term's options, as :class:`SoftDiceLoss`.
    lambda_dice, lambda_ce : float, optional
        Weights of the two terms (default 1 and 1), >= 0.

    Raises
    ------
    TypeError, ValueError
        As :class:`SoftDiceLoss`, or negative weights.

    Notes
    -----
    Supports seg.soft-dice-multiclass and seg.ce-pixel: lambda_dice x Dice + lambda_ce x CE,
    where CE is :func:`ce_pixel` with ``reduction="mean"`` on the logits (K > 1 channels) or
    :func:`bce_pixel` (one channel), both on every channel. The cross-entropy gives every pixel
    a gradient from the first step; the Dice term weighs the classes equally.
    """

    def __init__(self, include_background: bool = True, to_onehot_y: bool = False,
                 sigmoid: bool = False, softmax: bool = False, squared_pred: bool = False,
                 smooth_nr: float = 1e-5, smooth_dr: float = 1e-5, batch: bool = False,
                 lambda_dice: float = 1.0, lambda_ce: float = 1.0):
        super().__init__()
        self.dice = SoftDiceLoss(include_background=include_background,
                                 to_onehot_y=to_onehot_y, sigmoid=sigmoid, softmax=softmax,
                                 squared_pred=squared_pred, smooth_nr=smooth_nr,
                                 smooth_dr=smooth_dr, batch=batch)
        self.lambda_dice = as_scalar(lambda_dice, "lambda_dice", low=0.0)
        self.lambda_ce = as_scalar(lambda_ce, "lambda_ce", low=0.0)

    def forward(self, input, target):  # noqa: A002 (PyTorch's name)
        x = _tensor(input, "input")
        y = _one_hot_target(target, x, self.dice.to_onehot_y)
        dice = self.dice(x, y) if not self.dice.to_onehot_y else self.dice(x, target)
        if x.shape[1] == 1:
            ce = bce_pixel(x, y, reduction="mean")
        else:
            ce = ce_pixel(x, y, reduction="mean")
        return self.lambda_dice * dice + self.lambda_ce * ce
