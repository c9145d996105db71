"""Training glue: a NumPy loss as a PyTorch loss, a full-batch training loop, and prediction.

Used in ``chapters/dl-formulas/losses.ipynb`` (section 9.2 of the key formulas), which trains
:func:`medlib.nn.tiny_segmenter` with each loss of :mod:`medlib.dl.losses`. No formula of its own:

* :func:`numpy_loss` turns a NumPy loss of :mod:`medlib.dl.losses` and its analytic gradient into a
  differentiable PyTorch function, so a network is trained by the very code the book derives;
* :func:`train` fits a model with Adam on a small training set, :func:`predict` applies it;
* :func:`fit` is the general trainer of Parts III and IV: deterministic mini-batches drawn with a
  local :class:`torch.Generator`, Adam, a progress bar, a validation metric every few steps, and
  a :class:`History` of the losses (``chapters/segmentation/architectures.ipynb`` and after).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .._validate import as_array, as_bool, as_int, as_scalar
from ._validate import as_module

__all__ = ["History", "fit", "numpy_loss", "predict", "train"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)   # PyTorch computes in float32: 3.4e38
_MAX_STEPS = 1_000_000                            # a full-batch loop on a toy set: hours beyond


def _as_model(model) -> torch.nn.Module:
    return as_module(model, example="tiny_segmenter()")


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


@dataclasses.dataclass
class History:
    """What :func:`fit` records.

    Attributes
    ----------
    loss : list of float
        The training loss of the mini-batch at each step (before the step's update).
    val_steps : list of int
        The steps (1-based: after that many updates) at which ``val`` was evaluated.
    val : list of float
        The validation metric at those steps.
    """

    loss: list = dataclasses.field(default_factory=list)
    val_steps: list = dataclasses.field(default_factory=list)
    val: list = dataclasses.field(default_factory=list)


def _as_target_batch(value, n: int) -> torch.Tensor:
    """Targets as float32 (binary/soft maps) or int64 (class indices, for cross-entropy)."""
    arr = np.asarray(value)
    if arr.dtype.kind in "iu":
        t = as_array(arr, "targets", dtype=np.int64)
        out = torch.as_tensor(t)
    else:
        out = _as_float32_batch(value, "targets")
    if out.ndim < 1 or out.shape[0] != n:
        raise ValueError(f"targets must have one entry per image ({n}) along axis 0, got shape "
                         f"{tuple(out.shape)}")
    return out


def fit(model: torch.nn.Module, images, targets, loss_fn, *, steps: int = 150,
        batch_size: int = 8, lr: float = 1e-3, seed: int = 0, val=None, val_every: int = 25,
        augment=None, progress: bool = True, betas=(0.9, 0.999),
        after_step=None) -> History:
    """Train ``model`` with Adam on mini-batches drawn deterministically from a seed.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch of images to outputs that ``loss_fn`` compares with the targets; trained in
        place and left in evaluation mode (``model.eval()``).
    images : array_like, shape (N, C, ...)
        Training inputs, within float32's range.
    targets : array_like, shape (N, ...)
        Training targets: floats (binary masks, soft labels, clean images) are passed as
        float32, integers (class indices for cross-entropy) as int64.
    loss_fn : callable
        ``loss_fn(output, target)`` -> 0-dim tensor, e.g.
        :class:`torch.nn.BCEWithLogitsLoss` or a Dice loss.
    steps : int, optional
        Optimiser steps, 1 to 10^6 (default 150).
    batch_size : int, optional
        Images per step, 1 to N (default 8). Batches are the consecutive slices of a random
        permutation of the N images, a new permutation per epoch (sampling without replacement).
    lr : float, optional
        Adam's learning rate, in (0, 1] (default 1e-3).
    seed : int, optional
        Seeds the batch order (a local :class:`torch.Generator`) and the global stream that
        dropout or ``augment`` may use, inside :func:`torch.random.fork_rng`, so that the caller's
        global random state is left untouched and the same seed gives bit-identical weights.
    val : callable, optional
        ``val(model)`` -> float, a validation metric (e.g. the Dice on held-out images), called
        with the model in evaluation mode and gradients off, every ``val_every`` steps and after
        the last step. None (default) for none.
    val_every : int, optional
        Steps between validations (default 25).
    augment : callable, optional
        ``augment(x, y, generator)`` -> ``(x, y)``: a random transformation of the batch tensors
        drawn from ``generator`` (the local one), e.g. flips. None (default) for none.
    progress : bool, optional
        Show a tqdm progress bar with the running loss (default True); False is silent.
    betas : pair of float, optional
        Adam's decay rates of its running means of the gradient and of its square, each in
        [0, 1) (default (0.9, 0.999), PyTorch's). Adversarial training uses (0.5, 0.999)
        (Radford et al. 2016): a shorter gradient memory for a moving target.
    after_step : callable, optional
        ``after_step(model, step)``, called after each optimiser step (``step`` counts from 0)
        and before that step's validation, e.g. to update an exponential moving average of the
        weights (the mean teacher of :func:`medlib.trust.mean_teacher`). None (default) for
        none.

    Returns
    -------
    History
        ``loss`` per step, ``val_steps`` and ``val``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module`` or ``loss_fn``, ``val``, ``augment`` or
        ``after_step`` is not callable.
    ValueError
        On out-of-range ``steps``, ``batch_size``, ``lr``, ``seed`` or ``val_every``, targets
        without one entry per image, values beyond float32's range, or a non-finite loss.

    Notes
    -----
    The same seed, data, model initialisation and thread count give bit-identical weights on
    the CPU: the batches come from the local generator and every operation used by the course's
    networks is deterministic on the CPU.
    """
    from tqdm.auto import tqdm

    model = _as_model(model)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a callable loss_fn(output, target), got "
                        f"{type(loss_fn).__name__}")
    if val is not None and not callable(val):
        raise TypeError(f"val must be a callable val(model) -> float or None, got "
                        f"{type(val).__name__}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a callable augment(x, y, generator) or None, got "
                        f"{type(augment).__name__}")
    if after_step is not None and not callable(after_step):
        raise TypeError(f"after_step must be a callable after_step(model, step) or None, got "
                        f"{type(after_step).__name__}")
    n_steps = as_int(steps, "steps", low=1, high=_MAX_STEPS)
    rate = as_scalar(lr, "lr", low=0.0, low_inclusive=False, high=1.0)
    s = as_int(seed, "seed", low=0, high=2 ** 63 - 1)
    every = as_int(val_every, "val_every", low=1, high=_MAX_STEPS)
    show = as_bool(progress, "progress")
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"betas must be a pair of floats, got {betas!r}")
    adam_betas = tuple(as_scalar(b, "betas", low=0.0, high=1.0, high_inclusive=False)
                       for b in betas)
    x = _as_float32_batch(images, "images")
    if x.ndim < 3:
        raise ValueError(f"images must have shape (N, C, ...), got {tuple(x.shape)}")
    n = int(x.shape[0])
    y = _as_target_batch(targets, n)
    b = as_int(batch_size, "batch_size", low=1, high=n)

    history = History()
    optimiser = torch.optim.Adam(model.parameters(), lr=rate, betas=adam_betas)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s)
        gen = torch.Generator().manual_seed(s)
        order, pos = torch.randperm(n, generator=gen), 0
        bar = tqdm(range(n_steps), disable=not show, desc="training", leave=False)
        for step in bar:
            if pos + b > n:
                order, pos = torch.randperm(n, generator=gen), 0
            idx = order[pos:pos + b]
            pos += b
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb, yb = augment(xb, yb, gen)
            model.train()
            optimiser.zero_grad()
            try:
                out = model(xb)
            except (RuntimeError, ValueError) as exc:
                raise ValueError(f"images of shape {tuple(x.shape)} do not fit the model: "
                                 f"{exc}") from exc
            try:
                loss = loss_fn(out, yb)
            except (RuntimeError, ValueError) as exc:
                raise ValueError(f"targets of shape {tuple(y.shape)} do not fit the model's "
                                 f"output {tuple(out.shape)} in loss_fn: {exc}") from exc
            value = float(loss.detach())
            if not np.isfinite(value):
                raise ValueError(f"the loss became {value} at step {step}: lower lr or check "
                                 "loss_fn and the targets")
            loss.backward()
            optimiser.step()
            if after_step is not None:
                after_step(model, step)
            history.loss.append(value)
            if val is not None and ((step + 1) % every == 0 or step + 1 == n_steps):
                model.eval()
                with torch.no_grad():
                    history.val.append(float(val(model)))
                history.val_steps.append(step + 1)
            if show and (step % 10 == 0 or step + 1 == n_steps):
                bar.set_postfix(loss=f"{value:.4f}")
        bar.close()
    model.eval()
    return history
