"""PyTorch glue for the deep-learning chapters: the only medlib module that imports torch.

Used in ``chapters/dl-formulas/losses.ipynb`` (section 9.2). It holds no formula of its own:

* :func:`numpy_loss` turns a NumPy loss of :mod:`medlib.losses` and its analytic gradient into a
  differentiable PyTorch function, so a network is trained by the very code the book derives;
* :func:`lesion_task` makes a small synthetic segmentation problem with a rare foreground;
* :func:`tiny_segmenter`, :func:`train` and :func:`predict` build, fit and apply a three-layer
  fully convolutional network that trains in seconds on a CPU.

Install PyTorch with the course (``pip install -e ".[dl]"``, CPU build); everything else in
medlib works without it.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised by the import-without-torch test
    raise ImportError("medlib.dltorch needs PyTorch: pip install 'medlib[dl]' (the CPU build "
                      "is enough); the rest of medlib works without it") from exc

from ._validate import as_array, as_int, as_rng, as_scalar

__all__ = ["lesion_task", "numpy_loss", "predict", "tiny_segmenter", "train"]


def numpy_loss(loss, gradient, **options):
    """A PyTorch loss whose forward and backward passes are NumPy functions.

    Parameters
    ----------
    loss : callable
        ``loss(prediction, target, **options)`` -> float (e.g.
        :func:`medlib.losses.focal_loss`), on float64 NumPy arrays.
    gradient : callable
        ``gradient(prediction, target, **options)`` -> array of the prediction's shape, the
        derivative of ``loss`` with respect to its first argument (e.g.
        :func:`medlib.losses.focal_loss_gradient`).
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


def lesion_task(n_images: int, size: int, rng, *, lesions_per_image: float = 1.5,
                radius_px: tuple[float, float] = (1.5, 3.5), contrast: float = 1.0,
                noise_sigma: float = 0.6):
    """Noisy images with a few small bright discs, and their masks: a rare foreground.

    Parameters
    ----------
    n_images : int
        Number of images (>= 1).
    size : int
        Height and width in pixels (>= 8).
    rng : numpy.random.Generator or int
        Source of randomness.
    lesions_per_image : float, optional
        Mean number of discs per image (Poisson; default 1.5): some images have none.
    radius_px : pair of float, optional
        Range of disc radii in pixels (uniform; default 1.5 to 3.5).
    contrast : float, optional
        Disc intensity above the background (default 1).
    noise_sigma : float, optional
        Standard deviation of the white Gaussian noise (default 0.6); the background also gets
        a smooth random shading of amplitude ~0.5 so that a plain threshold does not suffice.

    Returns
    -------
    images : numpy.ndarray of float32, shape (n_images, 1, size, size)
    masks : numpy.ndarray of float32, shape (n_images, 1, size, size)
        1 inside a disc, 0 elsewhere; typically 1-3 % of the pixels are foreground.

    Raises
    ------
    ValueError
        On out-of-range arguments.
    """
    n = as_int(n_images, "n_images", low=1)
    s = as_int(size, "size", low=8)
    gen = as_rng(rng)
    lam = as_scalar(lesions_per_image, "lesions_per_image", low=0.0)
    r_lo, r_hi = as_array(radius_px, "radius_px", shape=(2,))
    if not 0 < r_lo <= r_hi:
        raise ValueError(f"radius_px must satisfy 0 < low <= high, got {[r_lo, r_hi]}")
    c = as_scalar(contrast, "contrast")
    sigma = as_scalar(noise_sigma, "noise_sigma", low=0.0)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    masks = np.zeros((n, 1, s, s))
    shading = np.zeros((n, 1, s, s))
    for i in range(n):                                    # loop over images, not pixels
        for _ in range(gen.poisson(lam)):
            r = gen.uniform(r_lo, r_hi)
            cy, cx = gen.uniform(r + 1, s - r - 1, size=2)
            masks[i, 0][(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = 1.0
        fy, fx, phase = gen.uniform(0.5, 2.0), gen.uniform(0.5, 2.0), gen.uniform(0, 2 * np.pi)
        shading[i, 0] = 0.5 * np.sin(2 * np.pi * (fy * yy + fx * xx) / s + phase)
    images = c * masks + shading + gen.normal(0.0, sigma, masks.shape)
    return images.astype(np.float32), masks.astype(np.float32)


def tiny_segmenter(channels: int = 8, *, seed: int = 0) -> torch.nn.Module:
    """A three-layer fully convolutional network for one-channel 2D images.

    Parameters
    ----------
    channels : int, optional
        Feature channels of the two hidden layers (default 8).
    seed : int, optional
        Seed of the initial weights (``torch.manual_seed``), so that runs reproduce.

    Returns
    -------
    torch.nn.Module
        conv 3x3 -> ReLU -> conv 3x3 -> ReLU -> conv 1x1, zero padding: input (N, 1, H, W),
        output logits (N, 1, H, W); receptive field 5 x 5 pixels; a few hundred parameters.
    """
    c = as_int(channels, "channels", low=1)
    torch.manual_seed(as_int(seed, "seed", low=0))
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, c, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(c, c, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(c, 1, 1),
    )


def train(model: torch.nn.Module, images, masks, loss_fn, *, steps: int = 200,
          lr: float = 0.01, on: str = "logits") -> list[float]:
    """Fit a model with Adam on the whole (small) training set at every step.

    Parameters
    ----------
    model : torch.nn.Module
        Maps images (N, 1, H, W) to logits of the same shape; trained in place.
    images, masks : array_like, shape (N, 1, H, W)
        Training inputs and binary targets.
    loss_fn : callable
        ``loss_fn(output, target)`` -> 0-dim tensor (for example from :func:`numpy_loss`).
    steps : int, optional
        Optimiser steps (default 200).
    lr : float, optional
        Adam's learning rate (default 0.01).
    on : {"logits", "probabilities"}, optional
        What ``loss_fn`` receives: the logits (cross-entropy, focal) or their sigmoid (Dice).

    Returns
    -------
    list of float
        The loss before each step.
    """
    n_steps = as_int(steps, "steps", low=1)
    rate = as_scalar(lr, "lr", low=0.0, low_inclusive=False)
    if on not in ("logits", "probabilities"):
        raise ValueError(f"on must be 'logits' or 'probabilities', got {on!r}")
    x = torch.as_tensor(as_array(images, "images", ndim=4), dtype=torch.float32)
    y = torch.as_tensor(as_array(masks, "masks", shape=x.shape), dtype=torch.float32)
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

    Returns
    -------
    numpy.ndarray of float64, shape (N, 1, H, W)
    """
    x = torch.as_tensor(as_array(images, "images", ndim=4), dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(x)).double().numpy()
