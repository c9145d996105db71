"""Perceptual and adversarial losses for restoration (section 15.4, ``perceptual.ipynb``).

A pixel loss (MSE) rewards the conditional mean of the clean image given the noisy one, which
is smooth: noise is removed together with the texture radiologists read. Two losses aim at
"looking right" instead:

* the **perceptual loss** :class:`PerceptualLoss` compares feature maps of a network trained
  beforehand, here a small convolutional autoencoder :class:`ConvAutoencoder` trained on
  full-dose CT slices inside the course (:func:`train_autoencoder`; no downloaded weights);
* the **adversarial loss** (:func:`discriminator_loss`, :func:`generator_loss`) pits the
  restoring network against a small discriminator :class:`PatchDiscriminator` that tells
  full-dose patches from restored ones (the non-saturating GAN loss of Goodfellow et al.).

:func:`train_restorer` trains the chapter's one denoising network, :class:`DnCNN` (started at
the identity, ``identity_init=True``), with any weighted sum of the pixel, perceptual and
adversarial losses; :func:`train_autoencoder` trains the feature network. Both go through the
shared trainer :func:`medlib.nn.fit` (random crops as its ``augment`` hook,
:func:`crop_augment`), deterministically, PyTorch's global random state left untouched; the
adversarial game's discriminator step rides inside fit's loss (see :func:`train_restorer`), so
there is no training loop of this module's own. :func:`restore` applies a network.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import as_array, as_bool, as_int, as_scalar
from ..nn._validate import as_module
from ..nn.training import fit
from .denoising import DnCNN, _apply, crop_augment

__all__ = ["ConvAutoencoder", "PatchDiscriminator", "PerceptualLoss", "discriminator_loss",
           "generator_loss", "restore", "train_autoencoder", "train_restorer"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_MAX_STEPS = 100_000
_MAX_CHANNELS = 256


def _as_channels(value, name: str) -> int:
    return as_int(value, name, low=1, high=_MAX_CHANNELS)


def _as_seed(seed) -> int:
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be an int (PyTorch seeds its own generator), got a "
                        "numpy Generator")
    return as_int(seed, "seed", low=0, high=2**63 - 1)


def _as_logits(value, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of discriminator logits, got "
                        f"{type(value).__name__}")
    if not torch.is_floating_point(value):
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if value.numel() == 0:
        raise ValueError(f"{name} is empty")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return value


def _as_images(value, name: str) -> np.ndarray:
    """A stack of 2D images (N, H, W), finite, within float32's range."""
    arr = as_array(value, name, ndim=3)
    if min(arr.shape) < 1:
        raise ValueError(f"{name} must hold at least one image")
    if np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError(f"{name} holds values beyond float32's range, in which networks compute")
    return arr


class ConvAutoencoder(nn.Module):
    """A small convolutional autoencoder whose encoder gives the perceptual loss its features.

    Parameters
    ----------
    channels : tuple of int, optional
        Channels of the encoder's three stages (default (8, 16, 32)); each stage is a 3x3
        convolution and a ReLU, the second and third with stride 2 (resolutions 1, 1/2, 1/4).
    seed : int, optional
        Seed of the initial weights (drawn in a forked random state).

    Notes
    -----
    ``features()`` returns the three ReLU outputs: the feature maps
    :math:`\\phi_j` of :eq:`restore.perceptual`. The decoder mirrors the encoder with
    nearest-neighbour upsampling; it only serves the training.
    """

    def __init__(self, channels=(8, 16, 32), *, seed: int = 0):
        super().__init__()
        if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") \
                or len(channels) != 3:
            raise TypeError(f"channels must be three ints, got {channels!r}")
        c1, c2, c3 = (_as_channels(c, "channels") for c in channels)
        seed = _as_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stages = nn.ModuleList([
                nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU()),
                nn.Sequential(nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU()),
                nn.Sequential(nn.Conv2d(c2, c3, 3, stride=2, padding=1), nn.ReLU()),
            ])
            self.decoder = nn.Sequential(
                nn.Upsample(scale_factor=2), nn.Conv2d(c3, c2, 3, padding=1), nn.ReLU(),
                nn.Upsample(scale_factor=2), nn.Conv2d(c2, c1, 3, padding=1), nn.ReLU(),
                nn.Conv2d(c1, 1, 3, padding=1))

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The encoder's feature maps, one per stage, for images x of shape (N, 1, H, W)."""
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.features(x)[-1])


class PatchDiscriminator(nn.Module):
    """A small convolutional discriminator: one logit per overlapping patch.

    Parameters
    ----------
    channels : int, optional
        Channels of the first layer, doubled in the second (default 16).
    seed : int, optional
        Seed of the initial weights (drawn in a forked random state).

    Notes
    -----
    Two 4x4 convolutions of stride 2 with leaky ReLUs and a final 3x3 convolution: each output
    logit sees an 18x18-pixel patch (a PatchGAN, Isola et al. 2017), so it judges texture
    rather than the whole image. The output is a logit, D = sigmoid(logit).
    """

    def __init__(self, channels: int = 16, *, seed: int = 0):
        super().__init__()
        c = _as_channels(channels, "channels")
        seed = _as_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.body = nn.Sequential(
                nn.Conv2d(1, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Conv2d(2 * c, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class PerceptualLoss(nn.Module):
    """Perceptual loss: the sum over layers of the mean squared differences of feature maps.

    Parameters
    ----------
    feature_net : torch.nn.Module
        A trained network with a ``features(x)`` method returning a list of feature maps (a
        :class:`ConvAutoencoder`). It is frozen here: its parameters get ``requires_grad =
        False`` and it is put in eval mode (the loss trains the generator, never the features).
    layers : sequence of int, optional
        Which feature maps j to use (default: all).
    reduction : {"mean", "sum"}, optional
        "mean" (default) averages each layer's squared differences over its C_j H_j W_j
        elements and the batch (Johnson et al.'s normalisation, so that every layer counts
        whatever its size); "sum" sums them (the seed's MSE as a sum over pixels).

    Notes
    -----
    :formula:`restore.perceptual`::

        L_perc(f, y) = sum_j 1 / (C_j H_j W_j) || phi_j(f) - phi_j(y) ||_2^2

    where phi_j is the j-th feature map of the frozen network, f the restored image, y the
    target. The target's features are computed without gradient; gradients flow through
    phi_j(f) to the restored image and so to the generator that made it.

    References
    ----------
    J. Johnson, A. Alahi and L. Fei-Fei, "Perceptual losses for real-time style transfer and
    super-resolution", ECCV 2016. Q. Yang et al., "Low-dose CT image denoising using a
    generative adversarial network with Wasserstein distance and perceptual loss", IEEE TMI
    37(6), 1348-1357, 2018.
    """

    def __init__(self, feature_net: nn.Module, layers=None, *, reduction: str = "mean"):
        super().__init__()
        if not isinstance(feature_net, nn.Module) or not callable(
                getattr(feature_net, "features", None)):
            raise TypeError("feature_net must be a torch.nn.Module with a features(x) method "
                            f"(e.g. a trained ConvAutoencoder), got {type(feature_net).__name__}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if layers is not None:
            if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
                raise TypeError(f"layers must be a sequence of ints, got {layers!r}")
            layers = tuple(as_int(j, "layers", low=0, high=1000) for j in layers)
            if not layers:
                raise ValueError("layers must name at least one feature map")
        self.feature_net = feature_net
        for p in self.feature_net.parameters():
            p.requires_grad_(False)
        self.feature_net.eval()
        self.layers = layers
        self.reduction = reduction

    def train(self, mode: bool = True):  # the feature network stays in eval mode
        super().train(mode)
        self.feature_net.eval()
        return self

    def _select(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.layers is None:
            return list(feats)
        if max(self.layers) >= len(feats):
            raise ValueError(f"layers {self.layers} beyond the {len(feats)} feature maps")
        return [feats[j] for j in self.layers]

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        for name, t in (("prediction", prediction), ("target", target)):
            if not isinstance(t, torch.Tensor) or t.ndim != 4:
                raise TypeError(f"{name} must be a tensor of shape (N, 1, H, W)")
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target "
                             f"{tuple(target.shape)} differ in shape")
        fp = self._select(self.feature_net.features(prediction))
        with torch.no_grad():
            ft = self._select(self.feature_net.features(target))
        return sum(F.mse_loss(a, b, reduction=self.reduction) for a, b in zip(fp, ft))


def discriminator_loss(real_logits, fake_logits) -> torch.Tensor:
    """The discriminator's loss: binary cross-entropy, real patches 1, restored patches 0.

    Parameters
    ----------
    real_logits, fake_logits : torch.Tensor
        Discriminator logits on full-dose (real) and restored (fake) images; any shapes.

    Returns
    -------
    torch.Tensor
        0-dim: ``-mean log D(y) - mean log(1 - D(G(x)))`` with ``D = sigmoid(logit)``,
        computed stably from the logits.

    Raises
    ------
    TypeError
        If a logit argument is not a floating-point tensor.
    ValueError
        If one is empty or not finite.

    Notes
    -----
    :formula:`restore.adversarial`. The GAN value function (Goodfellow et al. 2014) is
    ``V(D, G) = E_y[log D(y)] + E_x[log(1 - D(G(x)))]``; D maximises it, that is minimises
    this loss. With ``log sigmoid(l) = -softplus(-l)`` and ``log(1 - sigmoid(l)) =
    -softplus(l)`` the loss is ``mean softplus(-l_real) + mean softplus(l_fake)``.

    References
    ----------
    I. Goodfellow et al., "Generative adversarial nets", NeurIPS 2014.
    """
    real = _as_logits(real_logits, "real_logits")
    fake = _as_logits(fake_logits, "fake_logits")
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(fake_logits, *, saturating: bool = False) -> torch.Tensor:
    """The generator's adversarial loss on the discriminator's logits of restored images.

    Parameters
    ----------
    fake_logits : torch.Tensor
        Discriminator logits on restored images G(x).
    saturating : bool, optional
        False (default): the non-saturating loss ``-mean log D(G(x))`` that GANs are trained
        with. True: the minimax form ``mean log(1 - D(G(x)))``, whose gradient vanishes when
        the discriminator confidently rejects G(x) (kept to show why it is not used).

    Returns
    -------
    torch.Tensor
        0-dim.

    Raises
    ------
    TypeError
        If ``fake_logits`` is not a floating-point tensor, or ``saturating`` not a bool.
    ValueError
        If ``fake_logits`` is empty or not finite.

    Notes
    -----
    :formula:`restore.adversarial`. Non-saturating: ``mean softplus(-l)``, derivative
    ``-(1 - sigmoid(l))`` per logit, near -1 for a rejected G(x) (l very negative).
    Saturating: ``-mean softplus(l)``, derivative ``-sigmoid(l)``, near 0 there.
    """
    fake = _as_logits(fake_logits, "fake_logits")
    if as_bool(saturating, "saturating"):
        return -F.softplus(fake).mean()
    return F.softplus(-fake).mean()


def _check_training(steps, crop, batch, lr, shape):
    n_steps = as_int(steps, "steps", low=1, high=_MAX_STEPS)
    n_crop = as_int(crop, "crop", low=4, high=4096)
    if n_crop > min(shape[1:]):
        raise ValueError(f"crop {n_crop} is larger than the images ({shape[1]} x {shape[2]})")
    if n_crop % 4:
        raise ValueError(f"crop must be a multiple of 4 (two stride-2 stages), got {n_crop}")
    n_batch = as_int(batch, "batch", low=1, high=1024)
    rate = as_scalar(lr, "lr", low=0.0, low_inclusive=False, high=1.0)
    return n_steps, n_crop, n_batch, rate


def train_autoencoder(images, *, steps: int = 150, crop: int = 48, batch: int = 8,
                      lr: float = 2e-3, channels=(8, 16, 32), seed: int = 0):
    """Train a :class:`ConvAutoencoder` to reconstruct random crops of images (MSE, Adam).

    A thin wrapper of :func:`medlib.nn.fit`: the images are both inputs and targets, and
    :func:`crop_augment` cuts ``batch`` random crops per step.

    Parameters
    ----------
    images : array_like, shape (N, H, W)
        Training images (full-dose CT slices, scaled to about unit range, e.g. HU / 1000).
    steps : int, optional
        Adam steps (default 150), each on ``batch`` random ``crop`` x ``crop`` crops.
    crop, batch : int, optional
        Crop size in pixels (multiple of 4, <= H, W) and crops per step (cut from
        min(batch, N) images that fit draws without replacement).
    lr : float, optional
        Adam's learning rate in (0, 1].
    channels : tuple of int, optional
        The autoencoder's channels.
    seed : int, optional
        Seeds the weights and (fit's local generator) the crops; two calls give bit-identical
        weights.

    Returns
    -------
    model : ConvAutoencoder
        The trained network (eval mode).
    history : list of float
        The training loss at each step.

    Raises
    ------
    ValueError, TypeError
        On images that are not a finite (N, H, W) stack or out-of-range options.
    """
    arr = _as_images(images, "images")
    n_steps, n_crop, n_batch, rate = _check_training(steps, crop, batch, lr, arr.shape)
    seed = _as_seed(seed)
    model = ConvAutoencoder(channels, seed=seed)
    history = fit(model, arr[:, np.newaxis], arr[:, np.newaxis], F.mse_loss, steps=n_steps,
                  batch_size=min(n_batch, arr.shape[0]), lr=rate, seed=seed,
                  augment=crop_augment(n_crop, n_batch), progress=False)
    model.zero_grad(set_to_none=True)
    return model, history.loss


class _RestorerObjective:
    """The generator's loss for :func:`medlib.nn.fit`, with the discriminator's step inside.

    Called once per step by fit with the generator's output G(x) and the target y; returns
    ``MSE + w_p L_perc + w_a L_G^adv`` and records each term. When adversarial, it first
    updates the discriminator on (y, G(x).detach()) with its own Adam optimiser, then scores
    G(x) with the updated, frozen discriminator: the alternation of the GAN game, one D step
    per G step, without a second training loop.
    """

    def __init__(self, perceptual, w_p, w_a, disc, lr, betas):
        self.perceptual, self.w_p, self.w_a, self.disc = perceptual, w_p, w_a, disc
        self.opt_d = (torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)
                      if disc is not None else None)
        self.history = {"pixel": [], "perceptual": [], "adversarial": [], "discriminator": []}

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        zero = torch.zeros((), dtype=out.dtype)
        d_loss = adv = zero
        if self.disc is not None:
            self.disc.train()
            self.opt_d.zero_grad()
            d_loss = discriminator_loss(self.disc(y), self.disc(out.detach()))
            d_loss.backward()
            self.opt_d.step()
            for p in self.disc.parameters():
                p.requires_grad_(False)
            adv = generator_loss(self.disc(out))
            for p in self.disc.parameters():
                p.requires_grad_(True)
        pix = F.mse_loss(out, y)
        perc = self.perceptual(out, y) if self.w_p > 0 else zero
        for key, value in (("pixel", pix), ("perceptual", perc), ("adversarial", adv),
                           ("discriminator", d_loss)):
            self.history[key].append(float(value.detach()))
        return pix + self.w_p * perc + self.w_a * adv


def train_restorer(noisy, clean, *, perceptual: PerceptualLoss | None = None,
                   perceptual_weight: float = 0.0, adversarial_weight: float = 0.0,
                   steps: int = 150, crop: int = 48, batch: int = 8, lr: float = 2e-3,
                   channels: int = 16, depth: int = 5, seed: int = 0):
    """Train a :class:`DnCNN` with pixel, perceptual and adversarial losses.

    Parameters
    ----------
    noisy, clean : array_like, shape (N, H, W)
        Paired training images (low-dose input, full-dose target), same shape.
    perceptual : PerceptualLoss, optional
        The perceptual loss; needed when ``perceptual_weight`` > 0.
    perceptual_weight, adversarial_weight : float, optional
        Weights (>= 0) of the perceptual and adversarial terms; the pixel MSE has weight 1.
    steps, crop, batch, lr : optional
        Adam steps, crop size (multiple of 4), crops per step, learning rate (generator and
        discriminator alike; with an adversarial term both Adams use betas (0.5, 0.999), as
        GANs do, through fit's ``betas``).
    channels, depth : int, optional
        The generator's size (see :class:`DnCNN`; built with ``identity_init=True``, so the
        untrained generator returns its input).
    seed : int, optional
        Seeds both networks and the crops; two calls give bit-identical weights.

    Returns
    -------
    model : DnCNN
        The trained generator (eval mode).
    history : dict of str to list of float
        Per step: "pixel", "perceptual", "adversarial" (generator) and "discriminator" losses
        (the last two are 0 when ``adversarial_weight`` is 0).

    Raises
    ------
    ValueError, TypeError
        On bad images, weights or options, or ``perceptual_weight`` > 0 without
        ``perceptual``.

    Notes
    -----
    Generator objective (:formula:`restore.adversarial`, :formula:`restore.perceptual`)::

        L_G = MSE(G(x), y) + w_p L_perc(G(x), y) + w_a (-mean log D(G(x)))

    alternating with one discriminator step on :func:`discriminator_loss` per generator step.
    The training loop is :func:`medlib.nn.fit`'s (its batches, crops, seeding, Adam for the
    generator, progress bar): the discriminator's step is taken inside the loss that fit
    calls, on the detached restorations of the current batch, before the generator is scored
    by the updated discriminator.
    """
    x_arr = _as_images(noisy, "noisy")
    y_arr = _as_images(clean, "clean")
    if x_arr.shape != y_arr.shape:
        raise ValueError(f"noisy {x_arr.shape} and clean {y_arr.shape} differ in shape")
    w_p = as_scalar(perceptual_weight, "perceptual_weight", low=0.0, high=1e6)
    w_a = as_scalar(adversarial_weight, "adversarial_weight", low=0.0, high=1e6)
    if perceptual is not None and not isinstance(perceptual, PerceptualLoss):
        raise TypeError(f"perceptual must be a PerceptualLoss, got {type(perceptual).__name__}")
    if w_p > 0 and perceptual is None:
        raise ValueError("perceptual_weight > 0 needs a perceptual loss (perceptual=...)")
    n_steps, n_crop, n_batch, rate = _check_training(steps, crop, batch, lr, x_arr.shape)
    seed = _as_seed(seed)
    gen_model = DnCNN(channels, depth, identity_init=True, seed=seed)
    disc = None
    if w_a > 0:
        disc = PatchDiscriminator(seed=seed + 1 if seed < 2**63 - 1 else 0)
    objective = _RestorerObjective(perceptual, w_p, w_a, disc, rate, (0.5, 0.999))
    fit(gen_model, x_arr[:, np.newaxis], y_arr[:, np.newaxis], objective, steps=n_steps,
        batch_size=min(n_batch, x_arr.shape[0]), lr=rate, seed=seed,
        augment=crop_augment(n_crop, n_batch), progress=False,
        betas=(0.5, 0.999) if w_a > 0 else (0.9, 0.999))
    gen_model.zero_grad(set_to_none=True)
    return gen_model, objective.history


def restore(model: nn.Module, images) -> np.ndarray:
    """Apply a restoring network to a stack of 2D images.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (N, 1, H, W) to (N, 1, H, W) (a :class:`DnCNN` from :func:`train_restorer`).
    images : array_like, shape (N, H, W) or (H, W)
        Finite, within float32's range.

    Returns
    -------
    numpy.ndarray of float64, the shape of ``images``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``images`` is not a finite 2D image or stack of them.
    """
    as_module(model)
    arr = as_array(images, "images", ndim=(2, 3))
    if np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError("images hold values beyond float32's range")
    return _apply(model, arr)
