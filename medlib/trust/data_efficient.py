"""Learning from little labelled data: augmentation, self-supervised pretraining, mean teacher.

Section 16.3, ``chapters/trustworthy/data-efficient.ipynb``. Torch side of the torch boundary;
every training goes through the course's trainer :func:`medlib.nn.fit` or follows its
conventions (a local :class:`torch.Generator`, :func:`torch.random.fork_rng`, a progress bar):

* :func:`augment_batch` draws a random flip, rotation and scaling per image and applies it with
  :func:`warp` (``affine_grid`` + ``grid_sample``; nearest sampling for integer labels), in the
  signature of ``fit(..., augment=)``. :func:`index_affine_to_theta` turns Part II's index
  affine (:func:`medlib.prep.random_affine`, the backward map of ``scipy.ndimage``) into
  PyTorch's normalised ``theta``: the same transformation on both sides of the boundary.
* :func:`pretext_batch`, :func:`masked_mse` and :func:`pretrain`: masked-patch inpainting, the
  self-supervised pretext; :func:`transfer_weights` copies the pretrained encoder and decoder
  into a segmenter and leaves its head fresh.
* :func:`ema_update` and :func:`mean_teacher`: the mean teacher of Tarvainen and Valpola.
"""
from __future__ import annotations

import copy
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import as_array, as_bool, as_int, as_scalar
from ..nn.training import History, _as_float32_batch, _as_model, _as_target_batch, fit

__all__ = ["augment_batch", "ema_update", "index_affine_to_theta", "masked_mse",
           "mean_teacher", "pretext_batch", "pretrain", "transfer_weights", "warp"]

_MAX_STEPS = 1_000_000


# --- augmentation -----------------------------------------------------------------------------

def _as_generator(generator) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (fit passes its own), got "
                        f"{type(generator).__name__}")
    return generator


def _as_images(value, name: str) -> torch.Tensor:
    """A float32 (N, C, H, W) tensor: tensors are used as they are (no copy), else validated."""
    if isinstance(value, torch.Tensor):
        if value.dtype not in (torch.float32, torch.float64) or value.ndim != 4:
            raise ValueError(f"{name} must be a float tensor of shape (N, C, H, W), got "
                             f"{value.dtype} {tuple(value.shape)}")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"{name} must be finite")
        return value.float()
    x = _as_float32_batch(value, name, ndim=4)
    if 0 in x.shape:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    return x


def index_affine_to_theta(matrix, offset, shape) -> torch.Tensor:
    """PyTorch's normalised ``theta`` of an index-space affine map of a 2D image.

    Parameters
    ----------
    matrix : array_like, shape (2, 2)
        ``A`` of the backward map: output index ``o = (row, col)`` reads the input at
        ``A o + b`` (the convention of :func:`scipy.ndimage.affine_transform` and of
        :func:`medlib.prep.random_affine`).
    offset : array_like, shape (2,)
        ``b``, in pixels (row, col).
    shape : (int, int)
        (H, W) of the image.

    Returns
    -------
    torch.Tensor, float32, shape (1, 2, 3)
        ``theta`` for :func:`torch.nn.functional.affine_grid` with ``align_corners=False``:
        normalised output coordinates (x, y) in [-1, 1] map to normalised input coordinates.

    Raises
    ------
    ValueError
        On a wrong shape or non-finite entries.

    Notes
    -----
    With ``align_corners=False`` pixel ``i`` of ``n`` has the normalised coordinate
    ``u = (2 i + 1) / n - 1``, so ``p = S u + h`` with ``S = diag(W/2, H/2)`` and
    ``h = ((W-1)/2, (H-1)/2)`` in (x, y) order. With ``A'``, ``b'`` the map in (x, y) order
    (rows and columns swapped): ``theta = [S^-1 A' S | S^-1 (A' h + b' - h)]``.
    """
    a = as_array(matrix, "matrix", shape=(2, 2), low=-1e6, high=1e6)
    b = as_array(offset, "offset", shape=(2,), low=-1e6, high=1e6)
    hw = as_array(shape, "shape", shape=(2,), low=1, high=1e6)
    if np.any(hw != np.round(hw)):
        raise ValueError(f"shape must hold two integers (H, W), got {shape!r}")
    h_px, w_px = float(hw[0]), float(hw[1])
    a_xy = a[::-1, ::-1]                       # (row, col) -> (x, y) = (col, row)
    b_xy = b[::-1]
    s = np.diag([w_px / 2.0, h_px / 2.0])
    s_inv = np.diag([2.0 / w_px, 2.0 / h_px])
    h = np.array([(w_px - 1.0) / 2.0, (h_px - 1.0) / 2.0])
    theta = np.concatenate([s_inv @ a_xy @ s, (s_inv @ (a_xy @ h + b_xy - h))[:, None]], axis=1)
    return torch.as_tensor(theta[None], dtype=torch.float32)


def warp(images, theta, *, mode: str = "bilinear") -> torch.Tensor:
    """Resample a batch through affine maps with ``affine_grid`` and ``grid_sample``.

    Parameters
    ----------
    images : tensor or array_like, shape (N, C, H, W)
        Images (float); for labels pass them as float and use ``mode="nearest"``.
    theta : tensor or array_like, shape (N, 2, 3) or (1, 2, 3)
        Backward maps in normalised coordinates (see :func:`index_affine_to_theta`); one for
        all images if its first axis is 1.
    mode : {"bilinear", "nearest"}, optional
        Interpolation (default "bilinear"); outside the image the value is 0.

    Returns
    -------
    torch.Tensor, float32, shape (N, C, H, W)

    Raises
    ------
    ValueError
        On wrong shapes, non-finite values or an unknown ``mode``.
    """
    x = _as_images(images, "images")
    t = theta if isinstance(theta, torch.Tensor) else _as_float32_batch(theta, "theta", ndim=3)
    t = t.float()
    if t.ndim != 3 or t.shape[1:] != (2, 3) or t.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"theta must have shape (N, 2, 3) or (1, 2, 3) with N = "
                         f"{x.shape[0]}, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()) or float(t.abs().max()) > 1e6:
        raise ValueError("theta must be finite (and below 1e6)")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")
    t = t.expand(x.shape[0], 2, 3)
    grid = F.affine_grid(t, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def _random_theta(n: int, h: int, w: int, generator: torch.Generator, rotation_deg: float,
                  scale: float, flip: bool) -> torch.Tensor:
    u = torch.rand(n, 3, generator=generator, dtype=torch.float64)
    angle = (2.0 * u[:, 0] - 1.0) * math.radians(rotation_deg)
    zoom = 1.0 + (2.0 * u[:, 1] - 1.0) * scale          # > 1 enlarges the content
    sign = torch.where(u[:, 2] < 0.5, -1.0, 1.0) if flip else torch.ones(n, dtype=torch.float64)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # (x, y) pixel map about the centre: rotation / zoom, then a left-right flip of the output
    a = torch.stack([torch.stack([cos * sign, -sin], 1), torch.stack([sin * sign, cos], 1)], 1)
    s = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    a = a * s[None, None, :] / s[None, :, None]         # S^-1 A S
    return torch.cat([a, torch.zeros(n, 2, 1, dtype=torch.float64)], 2).float()


def augment_batch(x, y, generator, *, rotation_deg: float = 10.0, scale: float = 0.1,
                  flip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """A random left-right flip, rotation and scaling per image, applied to images and labels.

    The signature of ``medlib.nn.fit(..., augment=)``: pass
    ``functools.partial(augment_batch, rotation_deg=..., scale=...)`` or the function itself.

    Parameters
    ----------
    x : tensor or array_like, shape (N, C, H, W)
        Images; resampled bilinearly, 0 outside.
    y : tensor or array_like, shape (N, H, W) or (N, K, H, W)
        Targets on the same grid: integer class maps are resampled by nearest neighbour (a
        class stays a class), float maps (soft masks, images) bilinearly.
    generator : torch.Generator
        Source of the draws (``fit`` passes its local one: training stays deterministic).
    rotation_deg : float, optional
        Largest rotation, degrees, 0 to 180; angles uniform in ``[-rotation_deg,
        rotation_deg]`` (default 10).
    scale : float, optional
        Zoom factors uniform in ``[1 - scale, 1 + scale]``, ``scale`` in [0, 0.9] (default 0.1).
    flip : bool, optional
        Flip left-right with probability 1/2 (default True; the brain is nearly symmetric).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        The transformed ``x`` (float32) and ``y`` (its dtype); with ``rotation_deg=0``,
        ``scale=0`` and ``flip=False`` the inputs themselves, unchanged.

    Raises
    ------
    TypeError
        If ``generator`` is not a ``torch.Generator``.
    ValueError
        On out-of-range parameters or a ``y`` that is not on ``x``'s grid.

    Notes
    -----
    The backward map of output pixel ``p`` about the image centre ``c`` is
    ``p_in = c + F R(-a) (p - c) / s`` with ``F`` the flip; it is the map of
    :func:`medlib.prep.random_affine` (in (x, y) order), applied by ``grid_sample`` instead of
    ``scipy.ndimage.affine_transform`` (see :func:`index_affine_to_theta`).
    """
    gen = _as_generator(generator)
    rot = as_scalar(rotation_deg, "rotation_deg", low=0.0, high=180.0)
    sc = as_scalar(scale, "scale", low=0.0, high=0.9)
    fl = as_bool(flip, "flip")
    xt = _as_images(x, "x")
    n, _, h, w = xt.shape
    try:
        yt = y if isinstance(y, torch.Tensor) else _as_target_batch(y, n)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"y is not a valid target batch: {exc}") from exc
    if yt.ndim not in (3, 4) or yt.shape[0] != n or tuple(yt.shape[-2:]) != (h, w):
        raise ValueError(f"y must have shape (N, H, W) or (N, K, H, W) on x's grid "
                         f"{(n, h, w)}, got {tuple(yt.shape)}")
    if rot == 0.0 and sc == 0.0 and not fl:
        return xt, yt
    theta = _random_theta(n, h, w, gen, rot, sc, fl)
    x_out = warp(xt, theta)
    integer = not torch.is_floating_point(yt)
    y4 = (yt[:, None] if yt.ndim == 3 else yt).to(torch.float32)
    y_out = warp(y4, theta, mode="nearest" if integer else "bilinear")
    y_out = y_out[:, 0] if yt.ndim == 3 else y_out
    return x_out, (y_out.round().to(yt.dtype) if integer else y_out.to(yt.dtype))


# --- self-supervised pretext: masked-patch inpainting -----------------------------------------

def pretext_batch(x, y, generator, *, patch: int = 8,
                  ratio: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-patch inpainting: hide square patches of each image; the target is the image.

    The signature of ``medlib.nn.fit(..., augment=)`` with the images as their own targets.

    Parameters
    ----------
    x : tensor or array_like, shape (N, C, H, W)
        Images.
    y : tensor or array_like, shape (N, C, H, W)
        What to reconstruct, usually ``x`` itself.
    generator : torch.Generator
        Source of the masks.
    patch : int, optional
        Side of the square patches, pixels, 1 to min(H, W) (default 8); the image is tiled by
        them (the last row and column of tiles may be cut by the border).
    ratio : float, optional
        Fraction of the tiles hidden in each image, in (0, 1) (default 0.25); at least one tile.

    Returns
    -------
    masked : torch.Tensor, shape (N, C, H, W)
        ``x`` with the hidden patches set to 0 (the mean of a z-scored image).
    target : torch.Tensor, shape (N, C + 1, H, W)
        ``y`` and, as its last channel, the mask ``m`` (1 on hidden pixels) for
        :func:`masked_mse`.

    Raises
    ------
    TypeError
        If ``generator`` is not a ``torch.Generator``.
    ValueError
        On out-of-range ``patch`` or ``ratio`` or mismatched shapes.

    Notes
    -----
    The pretext :math:`t(x) = (1 - m) \\odot x`, :math:`\\tau(x, t) = x` on the hidden pixels
    (Pathak et al. 2016, context encoders; He et al. 2022, masked autoencoders).

    :formula:`trust.self-supervised`
    """
    gen = _as_generator(generator)
    xt = _as_images(x, "x")
    yt = _as_images(y, "y")
    n, c, h, w = xt.shape
    if yt.shape[0] != n or tuple(yt.shape[2:]) != (h, w):
        raise ValueError(f"y must have x's number of images and grid {(n, h, w)}, got "
                         f"{tuple(yt.shape)}")
    p = as_int(patch, "patch", low=1, high=min(h, w))
    r = as_scalar(ratio, "ratio", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    th, tw = -(-h // p), -(-w // p)
    k = max(1, int(round(r * th * tw)))
    rank = torch.rand(n, th * tw, generator=gen).argsort(dim=1).argsort(dim=1)
    tiles = (rank < k).to(torch.float32).reshape(n, 1, th, tw)
    m = tiles.repeat_interleave(p, 2).repeat_interleave(p, 3)[:, :, :h, :w]
    return xt * (1.0 - m), torch.cat([yt, m], dim=1)


def masked_mse(output, target) -> torch.Tensor:
    """Mean squared error of ``output`` against ``target[:, :-1]`` over the masked pixels only.

    Parameters
    ----------
    output : torch.Tensor, shape (N, C, H, W)
        The reconstruction.
    target : torch.Tensor, shape (N, C + 1, H, W)
        From :func:`pretext_batch`: the images and, last, the mask ``m`` in {0, 1}.

    Returns
    -------
    torch.Tensor, 0-dim
        :math:`\\sum m (g - x)^2 / (C \\sum m)`; 0 if nothing is masked.

    Raises
    ------
    TypeError
        If an argument is not a tensor.
    ValueError
        On mismatched shapes.

    :formula:`trust.self-supervised`
    """
    for name, v in (("output", output), ("target", target)):
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(v).__name__}")
    if output.ndim != 4 or target.shape != (output.shape[0], output.shape[1] + 1,
                                            *output.shape[2:]):
        raise ValueError(f"target must have shape (N, C + 1, H, W) for output "
                         f"{tuple(output.shape)}, got {tuple(target.shape)}")
    m = target[:, -1:]
    sq = m * (output - target[:, :-1]) ** 2
    return sq.sum() / (m.sum() * output.shape[1]).clamp_min(1.0)


def pretrain(model: torch.nn.Module, images, *, steps: int = 60, batch_size: int = 8,
             lr: float = 5e-3, seed: int = 0, patch: int = 8, ratio: float = 0.25,
             augment=None, progress: bool = True) -> History:
    """Self-supervised pretraining by masked-patch inpainting, with :func:`medlib.nn.fit`.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (N, C, H, W) to (N, C, H, W) (e.g. ``UNet(C, C)``: an image head); trained in
        place.
    images : array_like, shape (N, C, H, W)
        Unlabelled images.
    steps, batch_size, lr, seed, progress
        As in :func:`medlib.nn.fit` (defaults 60, 8, 5e-3, 0, True).
    patch, ratio
        As in :func:`pretext_batch` (defaults 8 and 0.25).
    augment : callable, optional
        ``augment(x, y, generator)`` applied before masking (e.g. :func:`augment_batch`).

    Returns
    -------
    History
        The masked reconstruction loss per step.

    Raises
    ------
    TypeError, ValueError
        As :func:`medlib.nn.fit` and :func:`pretext_batch`.

    Notes
    -----
    .. math:: \\min_\\theta \\; \\mathbb{E}_{x, m}\\,
        \\frac{\\lVert m \\odot (g_\\theta((1 - m) \\odot x) - x) \\rVert^2}{\\lVert m \\rVert_1}

    :formula:`trust.self-supervised`

    References
    ----------
    D. Pathak et al., "Context encoders: feature learning by inpainting", CVPR 2016.
    K. He et al., "Masked autoencoders are scalable vision learners", CVPR 2022.
    """
    x = _as_images(images, "images")
    p = as_int(patch, "patch", low=1, high=min(x.shape[2:]))
    r = as_scalar(ratio, "ratio", low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a callable augment(x, y, generator) or None, got "
                        f"{type(augment).__name__}")
    pretext = functools.partial(pretext_batch, patch=p, ratio=r)

    def transform(xb, yb, gen):
        if augment is not None:
            xb, yb = augment(xb, yb, gen)
        return pretext(xb, yb, gen)

    return fit(model, x, x, masked_mse, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
               augment=transform, progress=progress)


def transfer_weights(pretrained: torch.nn.Module, model: torch.nn.Module, *,
                     exclude=("head",)) -> list[str]:
    """Copy the pretrained tensors into ``model``, except those under ``exclude`` (the head).

    Parameters
    ----------
    pretrained : torch.nn.Module
        The source (e.g. a UNet pretrained by :func:`pretrain`).
    model : torch.nn.Module
        The destination (e.g. a UNet with a segmentation head); modified in place.
    exclude : sequence of str, optional
        Name prefixes left as they are in ``model`` (default ``("head",)``: the UNet's final
        1x1 convolution).

    Returns
    -------
    list of str
        The names of the copied tensors (parameters and buffers such as batch-norm
        statistics), in ``model``'s order.

    Raises
    ------
    TypeError
        If a model is not a ``torch.nn.Module`` or ``exclude`` is not a sequence of strings.
    ValueError
        If a tensor outside ``exclude`` is missing from ``pretrained`` or has another shape
        (architectures that differ), or if nothing would be copied.
    """
    src = _as_model(pretrained)
    dst = _as_model(model)
    if isinstance(exclude, str) or not all(isinstance(e, str) for e in exclude):
        raise TypeError(f"exclude must be a sequence of name prefixes (str), got {exclude!r}")
    prefixes = tuple(exclude)
    source = src.state_dict()
    copied = []
    with torch.no_grad():
        for name, tensor in dst.state_dict().items():
            if any(name == e or name.startswith(e + ".") for e in prefixes):
                continue
            if name not in source or source[name].shape != tensor.shape:
                got = tuple(source[name].shape) if name in source else "missing"
                raise ValueError(f"pretrained does not fit model at {name!r}: model "
                                 f"{tuple(tensor.shape)}, pretrained {got}; add it to exclude")
            copied.append(name)
        if not copied:
            raise ValueError(f"exclude={prefixes!r} leaves nothing to copy")
        state = dst.state_dict()
        for name in copied:
            state[name].copy_(source[name])
    return copied


# --- mean teacher -------------------------------------------------------------------------

def ema_update(teacher: torch.nn.Module, student: torch.nn.Module,
               beta: float) -> torch.nn.Module:
    """One exponential-moving-average step of the teacher's weights towards the student's.

    Parameters
    ----------
    teacher, student : torch.nn.Module
        Same architecture. The teacher is modified in place.
    beta : float
        Decay in [0, 1]: 0 copies the student, 1 leaves the teacher (default in training 0.99).

    Returns
    -------
    torch.nn.Module
        ``teacher``.

    Raises
    ------
    TypeError
        If a model is not a ``torch.nn.Module``.
    ValueError
        On ``beta`` outside [0, 1] or different architectures.

    Notes
    -----
    .. math:: \\theta'_t = \\beta\\, \\theta'_{t-1} + (1 - \\beta)\\, \\theta_t

    for every parameter; buffers (batch-norm running statistics, counters) are copied from the
    student.

    :formula:`trust.mean-teacher`

    References
    ----------
    A. Tarvainen, H. Valpola, "Mean teachers are better role models", NeurIPS 2017.
    """
    t_mod = _as_model(teacher)
    s_mod = _as_model(student)
    b = as_scalar(beta, "beta", low=0.0, high=1.0)
    t_params, s_params = dict(t_mod.named_parameters()), dict(s_mod.named_parameters())
    t_buf, s_buf = dict(t_mod.named_buffers()), dict(s_mod.named_buffers())
    if (t_params.keys() != s_params.keys() or t_buf.keys() != s_buf.keys()
            or any(t_params[k].shape != s_params[k].shape for k in t_params)):
        raise ValueError("teacher and student must have the same architecture")
    with torch.no_grad():
        for k, p in t_params.items():
            p.mul_(b).add_(s_params[k].detach(), alpha=1.0 - b)
        for k, buf in t_buf.items():
            buf.copy_(s_buf[k])
    return t_mod


def _probabilities(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)


def mean_teacher(student: torch.nn.Module, images, targets, unlabelled, loss_fn, *,
                 steps: int = 80, batch_size: int = 4, unlabelled_batch_size: int = 8,
                 lr: float = 5e-3, seed: int = 0, beta: float = 0.99,
                 consistency: float = 1.0, rampup_steps: int = 20, noise_std: float = 0.1,
                 augment=None, val=None, val_every: int = 20,
                 progress: bool = True) -> tuple[torch.nn.Module, History]:
    """Train a student on labelled images plus a consistency loss with its EMA teacher.

    Parameters
    ----------
    student : torch.nn.Module
        The segmenter (logits); trained in place.
    images, targets : array_like
        The labelled images (N, C, H, W) and their targets (as for :func:`medlib.nn.fit`).
    unlabelled : array_like, shape (M, C, H, W)
        Images without labels.
    loss_fn : callable
        The supervised loss ``loss_fn(logits, targets)`` (e.g. ``torch.nn.CrossEntropyLoss()``).
    steps, batch_size, lr, seed, augment, val, val_every, progress
        As in :func:`medlib.nn.fit` (defaults 80, 4, 5e-3, 0, None, None, 20, True);
        ``augment`` is applied to the labelled batch and to the unlabelled one (before noise).
    unlabelled_batch_size : int, optional
        Unlabelled images per step, drawn with replacement, 1 to 10^4 (default 8).
    beta : float, optional
        The teacher's EMA decay, in [0, 1] (default 0.99); after update ``k`` (1-based) the decay
        used is ``min(beta, 1 - 1/(k + 1))``, so that early on the teacher is the plain average
        of the students so far, not mostly its random initialisation (as in Tarvainen and
        Valpola's code).
    consistency : float, optional
        The weight lambda of the consistency loss, 0 to 1e6 (default 1).
    rampup_steps : int, optional
        lambda ramps up as ``exp(-5 (1 - t)^2)``, ``t = min(1, step / rampup_steps)``
        (Laine and Aila 2017), 0 for none (default 20).
    noise_std : float, optional
        Standard deviation of the Gaussian noise added, independently, to the student's and
        the teacher's copy of the unlabelled batch, 0 to 10 (default 0.1).

    Returns
    -------
    teacher : torch.nn.Module
        The EMA teacher (a deep copy of the initial student, updated by :func:`ema_update` after
        every step), in evaluation mode: usually the better model to use.
    history : History
        Total loss per step; ``val`` is evaluated on the teacher.

    Raises
    ------
    TypeError, ValueError
        As :func:`medlib.nn.fit`, naming the argument.

    Notes
    -----
    .. math:: \\mathcal{L} = \\mathcal{L}_{\\text{sup}} + \\lambda\\,
        \\big\\lVert \\sigma(f(x + \\eta; \\theta))
        - \\sigma(f(x + \\eta'; \\theta')) \\big\\rVert^2

    the squared difference of the probabilities (softmax, or sigmoid for one channel) averaged
    over pixels, classes and images, the teacher's side without gradient. The loop is
    :func:`medlib.nn.fit`'s (its ``augment`` hook draws the unlabelled batch and the noises from
    fit's generator, its loss adds the consistency term, its ``after_step`` hook updates the
    teacher), so the seed fixes everything as in ``fit``. The student's pass
    on the unlabelled batch is in training mode: it also updates the student's batch-norm
    running statistics (used at test time), even with ``consistency=0``; compare with that
    ablation, not only with :func:`medlib.nn.fit`, to isolate the consistency term.

    :formula:`trust.mean-teacher`

    References
    ----------
    A. Tarvainen, H. Valpola, "Mean teachers are better role models: weight-averaged
    consistency targets improve semi-supervised deep learning results", NeurIPS 2017.
    S. Laine, T. Aila, "Temporal ensembling for semi-supervised learning", ICLR 2017.
    """
    model = _as_model(student)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if val is not None and not callable(val):
        raise TypeError(f"val must be callable, got {type(val).__name__}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable, got {type(augment).__name__}")
    b = as_scalar(beta, "beta", low=0.0, high=1.0)
    lam = as_scalar(consistency, "consistency", low=0.0, high=1e6)
    ramp = as_int(rampup_steps, "rampup_steps", low=0, high=_MAX_STEPS)
    sigma = as_scalar(noise_std, "noise_std", low=0.0, high=10.0)
    x = _as_images(images, "images")
    u = _as_images(unlabelled, "unlabelled")
    if u.shape[1:] != x.shape[1:]:
        raise ValueError(f"unlabelled must have the images' shape (M, C, H, W) = "
                         f"(M, *{tuple(x.shape[1:])}), got {tuple(u.shape)}")
    bu = as_int(unlabelled_batch_size, "unlabelled_batch_size", low=1, high=10_000)

    teacher = copy.deepcopy(model)
    for p in teacher.parameters():
        p.requires_grad_(False)
    # medlib.nn.fit runs the loop; three hooks add the mean teacher. ``augment`` also draws this
    # step's unlabelled batch and its two noises from fit's generator; the loss adds the
    # consistency term; ``after_step`` updates the teacher and counts the steps for the ramp.
    state = {"step": 0}

    def draw(xb, yb, gen):
        xu = u[torch.randint(u.shape[0], (bu,), generator=gen)]
        if augment is not None:
            xb, yb = augment(xb, yb, gen)
            xu, _ = augment(xu, xu, gen)
        state["student"] = xu + torch.randn(xu.shape, generator=gen) * sigma
        state["teacher"] = xu + torch.randn(xu.shape, generator=gen) * sigma
        return xb, yb

    def total_loss(out_l, yb):
        out_u = model(state["student"])
        supervised = loss_fn(out_l, yb)
        teacher.eval()
        with torch.no_grad():
            target_u = _probabilities(teacher(state["teacher"]))
        cons = ((_probabilities(out_u) - target_u) ** 2).mean()
        t = 1.0 if ramp == 0 else min(1.0, state["step"] / ramp)
        return supervised + lam * math.exp(-5.0 * (1.0 - t) ** 2) * cons

    def update_teacher(trained, step):
        ema_update(teacher, trained, min(b, 1.0 - 1.0 / (step + 2)))
        state["step"] = step + 1

    history = fit(model, x, targets, total_loss, steps=steps, batch_size=batch_size, lr=lr,
                  seed=seed, val=None if val is None else (lambda _: val(teacher)),
                  val_every=val_every, augment=draw, progress=progress,
                  after_step=update_teacher)
    teacher.eval()
    return teacher, history
