"""Training glue: a NumPy loss as a PyTorch loss, a full-batch training loop, and prediction.

Used in ``chapters/dl-formulas/losses.ipynb`` (section 9.2 of the key formulas), which trains
:func:`medlib.nn.tiny_segmenter` with each loss of :mod:`medlib.dl.losses`. No formula of its own:

* :func:`numpy_loss` turns a NumPy loss of :mod:`medlib.dl.losses` and its analytic gradient into a
  differentiable PyTorch function, so a network is trained by the very code the book derives;
* :func:`train` fits a model with Adam on a small training set, :func:`predict` applies it.
"""
from __future__ import annotations

import numpy as np
import torch

from .._validate import as_array, as_int, as_scalar

__all__ = ["numpy_loss", "predict", "train"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)   # PyTorch computes in float32: 3.4e38
_MAX_STEPS = 1_000_000                            # a full-batch loop on a toy set: hours beyond


def _as_model(model) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. tiny_segmenter()), got "
                        f"{type(model).__name__}")
    return model


def _as_float32_batch(value, name: str, **checks) -> torch.Tensor:
    """``value`` as a float32 tensor, refusing values that float32 turns into infinities."""
    arr = as_array(value, name, **checks)
    if arr.size and np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError(f"{name} holds values up to {np.max(np.abs(arr)):.3g}, beyond float32's "
                         f"range ({_FLOAT32_MAX:.3g}) in which the network computes")
    return torch.as_tensor(arr, dtype=torch.float32)


def numpy_loss(loss, gradient, **options):
    """A PyTorch loss whose forward and backward passes are NumPy functions.

    Parameters
    ----------
    loss : callable
        ``loss(prediction, target, **options)`` -> float (e.g.
        :func:`medlib.dl.losses.focal_loss`), on float64 NumPy arrays.
    gradient : callable
        ``gradient(prediction, target, **options)`` -> array of the prediction's shape, the
        derivative of ``loss`` with respect to its first argument (e.g.
        :func:`medlib.dl.losses.focal_loss_gradient`).
    **options
        Keyword arguments passed to both (gamma, alpha, smooth, pos_weight ...). The reduction
        must give a scalar ("mean" or "sum").

    Returns
    -------
    callable
        ``f(prediction, target)`` on tensors, returning a 0-dim tensor that autograd can
        differentiate with respect to ``prediction`` (not ``target``).

    Notes
    -----
    The backward pass returns ``grad_output * gradient(...)``: no automatic differentiation
    happens inside, so a wrong analytic gradient would train the network wrongly; the tests
    compare it with autograd on PyTorch versions of the same formulas.
    """
    if not (callable(loss) and callable(gradient)):
        raise TypeError("loss and gradient must be callables")

    class _NumpyLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, prediction, target):
            p = prediction.detach().cpu().double().numpy()
            t = target.detach().cpu().double().numpy()
            ctx.save_for_backward(prediction, target)
            value = loss(p, t, **options)
            if np.ndim(value) != 0:
                raise ValueError("numpy_loss needs a scalar loss: use reduction 'mean' or 'sum'")
            return torch.as_tensor(float(value), dtype=prediction.dtype)

        @staticmethod
        def backward(ctx, grad_output):
            prediction, target = ctx.saved_tensors
            g = gradient(prediction.detach().cpu().double().numpy(),
                         target.detach().cpu().double().numpy(), **options)
            grad = torch.as_tensor(np.asarray(g), dtype=prediction.dtype,
                                   device=prediction.device)
            return grad_output * grad, None

    def apply(prediction, target):
        return _NumpyLoss.apply(prediction, target)

    apply.__name__ = f"numpy_{getattr(loss, '__name__', 'loss')}"
    return apply


def train(model: torch.nn.Module, images, masks, loss_fn, *, steps: int = 200,
          lr: float = 0.01, on: str = "logits") -> list[float]:
    """Fit a model with Adam on the whole (small) training set at every step.

    Parameters
    ----------
    model : torch.nn.Module
        Maps images (N, 1, H, W) to logits of the same shape; trained in place.
    images, masks : array_like, shape (N, 1, H, W)
        Training inputs and binary targets, within float32's range (|x| <= 3.4e38).
    loss_fn : callable
        ``loss_fn(output, target)`` -> 0-dim tensor (for example from :func:`numpy_loss`).
    steps : int, optional
        Optimiser steps, 1 to 10^6 (default 200).
    lr : float, optional
        Adam's learning rate, in (0, 1] (default 0.01): Adam moves each weight by about ``lr``
        per step, so a rate above 1 only diverges.
    on : {"logits", "probabilities"}, optional
        What ``loss_fn`` receives: the logits (cross-entropy, focal) or their sigmoid (Dice).

    Returns
    -------
    list of float
        The loss before each step.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module`` or ``loss_fn`` is not callable.
    ValueError
        On out-of-range ``steps`` or ``lr``, an unknown ``on``, mismatched shapes, or values
        beyond float32's range.
    """
    model = _as_model(model)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable loss_fn(output, target) (e.g. from "
                        f"numpy_loss), got {type(loss_fn).__name__}")
    n_steps = as_int(steps, "steps", low=1, high=_MAX_STEPS)
    rate = as_scalar(lr, "lr", low=0.0, low_inclusive=False, high=1.0)
    if on not in ("logits", "probabilities"):
        raise ValueError(f"on must be 'logits' or 'probabilities', got {on!r}")
    x = _as_float32_batch(images, "images", ndim=4)
    y = _as_float32_batch(masks, "masks", shape=tuple(x.shape))
    optimiser = torch.optim.Adam(model.parameters(), lr=rate)
    history = []
    model.train()
    for _ in range(n_steps):
        optimiser.zero_grad()
        out = model(x)
        loss = loss_fn(torch.sigmoid(out) if on == "probabilities" else out, y)
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    return history


def predict(model: torch.nn.Module, images) -> np.ndarray:
    """Foreground probabilities sigmoid(model(images)) as a NumPy array.

    Parameters
    ----------
    model : torch.nn.Module
    images : array_like, shape (N, 1, H, W)
        Within float32's range (|x| <= 3.4e38).

    Returns
    -------
    numpy.ndarray of float64, shape (N, 1, H, W)

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``images`` is not 4D, not finite, or beyond float32's range.
    """
    model = _as_model(model)
    x = _as_float32_batch(images, "images", ndim=4)
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(x)).double().numpy()
