"""Learning to denoise low-dose CT: a small residual CNN against the classical denoisers.

Used in ``chapters/restoration/denoising.ipynb`` (section 16.3). The module holds what the
notebook and the benchmark ``benchmarks/bench_restore_denoise.py`` share:

* :class:`DnCNN`, a small residual denoiser (Zhang et al. 2017): a stack of 3x3 convolutions
  that estimates the noise, subtracted from the input;
* :func:`train_denoiser`, deterministic training on random patches with an L1 or L2 pixel
  loss, through the course's shared trainer :func:`medlib.nn.fit` (the patch recipe is its
  ``augment`` hook, :func:`crop_augment`, which the perceptual section 15.4 reuses);
* :func:`denoise`, the trained network applied to whole slices in Hounsfield units;
* :func:`tune_denoiser`, a grid search of any denoiser's parameters on training pairs (how the
  classical baselines, scikit-image's TV, non-local means, bilateral and BM3D, are tuned);
* :func:`power_ratio`, the radially averaged power spectrum of a result over that of the clean
  image: below 1 where detail was smoothed away (blur), above 1 where noise remains.

Images are 2D slices (rows, cols) or stacks (n, rows, cols) in HU; the network sees HU / 1000.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np
import torch

from .._validate import as_array, as_bool, as_choice, as_int, as_scalar
from ..nn._validate import as_module
from ..nn.training import fit
from ..noise import noise_power_spectrum

__all__ = ["DnCNN", "crop_augment", "denoise", "power_ratio", "train_denoiser", "tune_denoiser"]

HU_SCALE = 1000.0          # the network works on HU / 1000: values of order 1
_MAX_STEPS = 100_000
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class DnCNN(torch.nn.Module):
    """A small residual denoising CNN: output = input - estimated noise.

    Parameters
    ----------
    channels : int, optional
        Feature channels of the hidden layers, 1 to 256 (default 16).
    depth : int, optional
        Number of 3x3 convolution layers, 2 to 32 (default 5): conv + ReLU, then
        ``depth - 2`` times conv + BatchNorm-free ReLU, then a conv to one channel. The receptive
        field is (2 depth + 1) pixels square.
    dilated : bool, optional
        Dilate the hidden convolutions (1, 2, 4, ..., 2, 1) for a wider receptive field
        (default False).
    identity_init : bool, optional
        Start the last convolution at zero, so that the untrained network is exactly the
        identity (what an adversarial or perceptual training starts from, section 15.4).
        Default False: the last layer's default initialisation scaled by 0.1, so the untrained
        network is *close to* the identity and every layer gets a gradient from the first step.
    seed : int, optional
        Seed of the initial weights, drawn under :func:`torch.random.fork_rng` so the caller's
        global random state is untouched (default 0).

    Notes
    -----
    Residual learning (Zhang et al. 2017): the network :math:`R_\\theta` predicts the noise and
    the estimate is :math:`\\hat y = x - R_\\theta(x)`; at initialisation it is close to (or,
    with ``identity_init``, exactly) the identity. The course's one denoising network: 15.3
    trains it with pixel losses, 15.4 with perceptual and adversarial ones. The original DnCNN
    has 17 layers of 64 channels with batch normalisation; this one is small enough to train
    in seconds on a CPU, and has no batch normalisation so that a single image is processed
    exactly as in a batch. Input and output: (N, 1, H, W), zero
    padding keeps the size.

    References
    ----------
    K. Zhang, W. Zuo, Y. Chen, D. Meng and L. Zhang, "Beyond a Gaussian denoiser: residual
    learning of deep CNN for image denoising", IEEE Trans. Image Process. 26(7), 3142-3155, 2017.
    """

    def __init__(self, channels: int = 16, depth: int = 5, *, dilated: bool = False,
                 identity_init: bool = False, seed: int = 0):
        if not isinstance(dilated, (bool, np.bool_)):
            raise TypeError(f"dilated must be True or False, got {type(dilated).__name__}")
        zero_last = as_bool(identity_init, "identity_init")
        c = as_int(channels, "channels", low=1, high=256)
        d = as_int(depth, "depth", low=2, high=32)
        s = as_int(seed, "seed", low=0, high=2**63 - 1)
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            layers: list[torch.nn.Module] = [torch.nn.Conv2d(1, c, 3, padding=1),
                                             torch.nn.ReLU()]
            for i in range(1, d - 1):
                dil = min(2**i, 2**(d - 1 - i)) if dilated else 1
                layers += [torch.nn.Conv2d(c, c, 3, padding=dil, dilation=dil), torch.nn.ReLU()]
            layers.append(torch.nn.Conv2d(c, 1, 3, padding=1))
            self.body = torch.nn.Sequential(*layers)
            with torch.no_grad():                  # start near (or at) the identity map
                if zero_last:
                    self.body[-1].weight.zero_()
                else:
                    self.body[-1].weight.mul_(0.1)
                self.body[-1].bias.zero_()
        self.channels, self.depth, self.dilated = c, d, bool(dilated)
        self.identity_init = zero_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The denoised batch ``x - body(x)``, shape (N, 1, H, W)."""
        return x - self.body(x)


def _as_stack(value, name: str) -> np.ndarray:
    arr = as_array(value, name, ndim=(2, 3))
    if arr.size and np.max(np.abs(arr)) / HU_SCALE > 1e6:
        raise ValueError(f"{name} holds values up to {np.max(np.abs(arr)):.3g}: these are not "
                         "CT numbers in HU (expected roughly -1024 to a few thousand)")
    return arr[np.newaxis] if arr.ndim == 2 else arr


def crop_augment(patch_size: int, n_patches: int):
    """The random-patch recipe as an ``augment`` hook of :func:`medlib.nn.fit`.

    Parameters
    ----------
    patch_size : int
        Side of the square patches in pixels, 4 to 4096.
    n_patches : int
        Patches per step, 1 to 4096: drawn with replacement from the images of fit's batch.

    Returns
    -------
    callable
        ``augment(x, y, generator)`` -> ``(x_patches, y_patches)``: for tensors x and y of
        shape (B, 1, H, W) (the inputs and targets of one batch), ``n_patches`` crops of shape
        (n_patches, 1, patch_size, patch_size), the same image and position in x and y, drawn
        from ``generator`` (fit's local one, so training stays deterministic). It raises a
        ValueError naming ``patch_size`` if the images are smaller than the patch.

    Raises
    ------
    ValueError
        If ``patch_size`` or ``n_patches`` is out of range.

    Notes
    -----
    Vectorised: one advanced-indexing gather per step, no loop over patches.
    """
    size = as_int(patch_size, "patch_size", low=4, high=4096)
    count = as_int(n_patches, "n_patches", low=1, high=4096)
    offsets = torch.arange(size)

    def augment(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator):
        b, _, h, w = x.shape
        if size > min(h, w):
            raise ValueError(f"patch_size {size} is larger than the images ({h} x {w})")
        k = torch.randint(0, b, (count,), generator=generator)[:, None, None]
        rr = (torch.randint(0, h - size + 1, (count,), generator=generator)[:, None]
              + offsets)[:, :, None]
        cc = (torch.randint(0, w - size + 1, (count,), generator=generator)[:, None]
              + offsets)[:, None, :]
        return x[:, 0][k, rr, cc][:, None], y[:, 0][k, rr, cc][:, None]

    return augment


def train_denoiser(noisy, clean, *, loss: str = "l2", steps: int = 200, batch_size: int = 8,
                   patch_size: int = 40, lr: float = 2e-3, channels: int = 16, depth: int = 5,
                   dilated: bool = False, seed: int = 0, progress: bool = False):
    """Train a :class:`DnCNN` on pairs of noisy and clean slices, deterministically.

    A thin wrapper of the shared trainer :func:`medlib.nn.fit` that adds the section's recipe:
    HU / 1000 scaling, random patches (:func:`crop_augment`) and the choice of pixel loss.

    Parameters
    ----------
    noisy, clean : array_like, shape (n, rows, cols) or (rows, cols)
        Training pairs in HU (e.g. low-dose and full-dose reconstructions of the same slices).
    loss : {"l1", "l2"}, optional
        Pixel loss: mean absolute error (L1) or mean squared error (L2, default), on HU / 1000.
    steps : int, optional
        Optimiser (Adam) steps, 1 to 100000 (default 200).
    batch_size : int, optional
        Patches per step, >= 1 (default 8). Each step, :func:`medlib.nn.fit` draws
        min(batch_size, n) slices (without replacement, a new permutation per epoch) and the
        patches are cut from those.
    patch_size : int, optional
        Side of the square training patches in pixels, 8 to min(rows, cols) (default 40).
    lr : float, optional
        Adam's learning rate in (0, 1] (default 2e-3).
    channels, depth : int, optional
        The network's size (see :class:`DnCNN`).
    dilated : bool, optional
        Dilated hidden convolutions (see :class:`DnCNN`).
    seed : int, optional
        Seeds the initial weights and, through :func:`medlib.nn.fit`'s local generator, the
        slices and patch positions: the same call gives bit-identical weights (at a fixed
        thread count); the caller's global random state is untouched.
    progress : bool, optional
        Show a tqdm progress bar (default False).

    Returns
    -------
    model : DnCNN
        The trained network, in evaluation mode.
    history : list of float
        The training loss of each step's batch (before the step).

    Raises
    ------
    ValueError
        On out-of-range sizes or rates, an unknown ``loss``, mismatched shapes, or a patch
        larger than the slices.

    Notes
    -----
    The losses are the pixel losses of the restoration notes, averaged over the pixels of the
    batch: :math:`L_1 = \\frac1N \\sum_r |y(r) - \\hat y(r)|` and
    :math:`L_2 = \\frac1N \\sum_r (y(r) - \\hat y(r))^2` (PyTorch's ``l1_loss`` and
    ``mse_loss`` with ``reduction="mean"``). The L2 minimiser is the conditional mean
    E[y | x], the L1 minimiser the conditional median: both average over the clean images
    compatible with the noisy one, which is why they blur what the noise hides.
    """
    x = _as_stack(noisy, "noisy")
    y = _as_stack(clean, "clean")
    if y.shape != x.shape:
        raise ValueError(f"clean must have the shape of noisy, {x.shape}, got {y.shape}")
    kind = as_choice(loss, "loss", ("l1", "l2"))
    n_steps = as_int(steps, "steps", low=1, high=_MAX_STEPS)
    batch = as_int(batch_size, "batch_size", low=1, high=4096)
    patch = as_int(patch_size, "patch_size", low=8, high=4096)
    if patch > min(x.shape[1:]):
        raise ValueError(f"patch_size must be at most the slices' size {x.shape[1:]}, got {patch}")
    rate = as_scalar(lr, "lr", low=0.0, low_inclusive=False, high=1.0)
    s = as_int(seed, "seed", low=0, high=2**63 - 1)
    show = as_bool(progress, "progress")

    model = DnCNN(channels, depth, dilated=dilated, seed=s)
    loss_fn = torch.nn.functional.l1_loss if kind == "l1" else torch.nn.functional.mse_loss
    history = fit(model, x[:, np.newaxis] / HU_SCALE, y[:, np.newaxis] / HU_SCALE, loss_fn,
                  steps=n_steps, batch_size=min(batch, x.shape[0]), lr=rate, seed=s,
                  augment=crop_augment(patch, batch), progress=show)
    return model, history.loss


def denoise(model, images) -> np.ndarray:
    """Apply a trained denoiser to whole slices in HU.

    Parameters
    ----------
    model : torch.nn.Module
        A denoiser of (N, 1, H, W) images in HU / 1000, e.g. from :func:`train_denoiser`.
    images : array_like, shape (rows, cols) or (n, rows, cols)
        Noisy slices in HU.

    Returns
    -------
    numpy.ndarray of float64
        The denoised slices in HU, shaped like ``images``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``images`` is not 2D or 3D and finite.
    """
    as_module(model, example="from train_denoiser")
    arr = as_array(images, "images", ndim=(2, 3))
    if arr.size and np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError(f"images holds values up to {np.max(np.abs(arr)):.3g}, beyond "
                         "float32's range in which the network computes")
    return _apply(model, arr / HU_SCALE) * HU_SCALE


def _apply(model: torch.nn.Module, arr: np.ndarray) -> np.ndarray:
    """The network on a validated 2D image or (n, rows, cols) stack, in evaluation mode and
    without gradients, its training mode restored; float64, shaped like ``arr``. Shared by
    :func:`denoise` (HU) and :func:`medlib.restoration.restore` (network units)."""
    stack = arr[np.newaxis] if arr.ndim == 2 else arr
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(stack, dtype=torch.float32)[:, None])[:, 0]
    model.train(was_training)
    result = out.double().numpy()
    return result[0] if arr.ndim == 2 else result


def _grid(grid) -> list[dict]:
    if isinstance(grid, dict):
        if not grid:
            raise ValueError("grid must name at least one parameter")
        names = list(grid)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"grid's keys must be parameter names (str), got {name!r}")
            if isinstance(grid[name], (str, bytes)) or not np.iterable(grid[name]) \
                    or len(grid[name]) == 0:
                raise ValueError(f"grid[{name!r}] must be a non-empty list of values")
        return [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]
    if isinstance(grid, (list, tuple)) and grid and all(isinstance(g, dict) for g in grid):
        return [dict(g) for g in grid]
    raise TypeError("grid must be a dict {parameter: [values]} or a non-empty list of dicts, "
                    f"got {type(grid).__name__}")


def tune_denoiser(denoiser, noisy, clean, grid, *, data_range: float, metric: str = "psnr"):
    """Grid search of a denoiser's parameters on training pairs.

    Parameters
    ----------
    denoiser : callable
        ``denoiser(image, **params)`` -> denoised image of the same shape (e.g.
        ``skimage.restoration.denoise_tv_chambolle``, or a lambda around ``bm3d.bm3d``).
    noisy, clean : array_like, shape (rows, cols) or (n, rows, cols)
        Training pairs (one image or a stack), in the units the denoiser expects.
    grid : dict or list of dict
        ``{name: [values, ...]}`` (every combination is tried) or an explicit list of
        parameter dicts.
    data_range : float
        The range of values the metric refers to (> 0), e.g. 2000 for HU from -1000 to 1000, or
        1 for images scaled to [0, 1]: PSNR's peak and SSIM's constants depend on it.
    metric : {"psnr", "ssim"}, optional
        What is maximised, averaged over the images (default "psnr"), computed with
        ``skimage.metrics.peak_signal_noise_ratio`` / ``structural_similarity`` (7x7 uniform
        window, sample covariance) at ``data_range``.

    Returns
    -------
    best : dict
        The parameters with the highest mean score.
    scores : list of (dict, float)
        Every parameter set tried with its mean score, in the order tried.

    Raises
    ------
    TypeError
        If ``denoiser`` is not callable or ``grid`` is malformed.
    ValueError
        On mismatched shapes, a non-positive ``data_range``, an unknown ``metric``, or a
        denoiser that returns an array of another shape or with non-finite values.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable, got {type(denoiser).__name__}")
    x = as_array(noisy, "noisy", ndim=(2, 3))
    y = as_array(clean, "clean", ndim=(2, 3))
    if x.shape != y.shape:
        raise ValueError(f"clean must have the shape of noisy, {x.shape}, got {y.shape}")
    if min(x.shape[-2:]) < 7:
        raise ValueError(f"noisy must be at least 7 x 7 pixels (SSIM's window), got {x.shape}")
    rng_ = as_scalar(data_range, "data_range", low=0.0, low_inclusive=False)
    if not 1e-150 < rng_ < 1e150:            # PSNR squares it, SSIM's constants too
        raise ValueError(f"data_range must be between 1e-150 and 1e150 (its square must be a "
                         f"finite, non-zero float), got {rng_:g}")
    kind = as_choice(metric, "metric", ("psnr", "ssim"))
    params = _grid(grid)
    xs, ys = (x[np.newaxis], y[np.newaxis]) if x.ndim == 2 else (x, y)
    scores = []
    for p in params:                       # loop over parameter sets and images
        values = []
        for xi, yi in zip(xs, ys):
            d = np.asarray(denoiser(xi.copy(), **p), dtype=np.float64)
            if d.shape != yi.shape or not np.all(np.isfinite(d)):
                raise ValueError(f"denoiser returned shape {d.shape} or non-finite values for "
                                 f"parameters {p}; expected a finite image of shape {yi.shape}")
            if kind == "psnr":
                values.append(peak_signal_noise_ratio(yi, d, data_range=rng_))
            else:
                values.append(structural_similarity(yi, d, data_range=rng_))
        scores.append((p, float(np.mean(values))))
    best = max(scores, key=lambda item: item[1])[0]
    return dict(best), scores


def power_ratio(denoised, clean, spacing_mm=1.0, *, n_bins: int | None = None):
    """Radially averaged power spectrum of a result divided by that of the clean image.

    Parameters
    ----------
    denoised, clean : array_like, shape (rows, cols) or (n, rows, cols)
        Result and reference (same shape); the spectra are averaged over the n images.
    spacing_mm : float or pair of float, optional
        Pixel spacing (dy, dx) in mm (default 1).
    n_bins : int, optional
        Radial bins, as in :func:`medlib.noise.noise_power_spectrum`.

    Returns
    -------
    frequencies : numpy.ndarray
        Radial frequencies in cycles/mm (the zero-frequency bin, where both spectra vanish
        after mean subtraction, is dropped).
    ratio : numpy.ndarray
        P_denoised(f) / P_clean(f): 1 where the result keeps the clean image's content, below 1
        where detail was smoothed away (blur), above 1 where noise was left.

    Raises
    ------
    ValueError
        On mismatched shapes, or a clean image with no power at some frequency.

    Notes
    -----
    Both spectra come from :func:`medlib.noise.noise_power_spectrum` (mean-subtracted
    periodogram with the NPS normalisation of section 2.3), applied to images instead of noise.
    """
    d = as_array(denoised, "denoised", ndim=(2, 3))
    c = as_array(clean, "clean", ndim=(2, 3))
    if d.shape != c.shape:
        raise ValueError(f"clean must have the shape of denoised, {d.shape}, got {c.shape}")
    if n_bins is not None and not isinstance(n_bins, numbers.Integral):
        raise TypeError(f"n_bins must be an integer, got {type(n_bins).__name__}")
    f, p_d, _ = noise_power_spectrum(d, spacing_mm, n_bins=n_bins)
    _, p_c, _ = noise_power_spectrum(c, spacing_mm, n_bins=n_bins)
    keep = f > 0
    if np.any(p_c[keep] <= 0):
        raise ValueError("clean has no power at some frequency (a constant image?): the ratio "
                         "is undefined")
    return f[keep], p_d[keep] / p_c[keep]
