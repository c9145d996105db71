"""Perceptual and adversarial losses for restoration (section 14.4, ``perceptual.ipynb``).

A pixel loss (MSE) rewards the conditional mean of the clean image given the noisy one, which
is smooth: noise is removed together with the texture radiologists read. Two losses aim at
"looking right" instead:

* the **perceptual loss** :class:`PerceptualLoss` compares feature maps of a network trained
  beforehand, here a small convolutional autoencoder :class:`ConvAutoencoder` trained on
  full-dose CT slices inside the course (:func:`train_autoencoder`; no downloaded weights);
* the **adversarial loss** (:func:`discriminator_loss`, :func:`generator_loss`) pits the
  restoring network against a small discriminator :class:`PatchDiscriminator` that tells
  full-dose patches from restored ones (the non-saturating GAN loss of Goodfellow et al.).

:func:`train_restorer` trains a :class:`ResidualDenoiser` with any weighted sum of the pixel,
perceptual and adversarial losses, deterministically (a local generator for crops, PyTorch's
global random state left untouched); :func:`restore` applies it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import as_array, as_bool, as_int, as_scalar

__all__ = ["ConvAutoencoder", "PatchDiscriminator", "PerceptualLoss", "ResidualDenoiser",
           "discriminator_loss", "generator_loss", "restore", "train_autoencoder",
           "train_restorer"]

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


class ResidualDenoiser(nn.Module):
    """A small residual CNN: the output is the input plus a learned correction.

    Parameters
    ----------
    channels : int, optional
        Feature channels of the hidden layers (default 16).
    depth : int, optional
        Number of 3x3 convolutions, >= 2 (default 5); receptive field 2 depth + 1 pixels.
    seed : int, optional
        Seed of the initial weights (drawn in a forked random state).

    Notes
    -----
    The last convolution starts at zero, so the untrained network is the identity (Zhang et
    al.'s residual learning of DnCNN, without batch normalisation).
    """

    def __init__(self, channels: int = 16, depth: int = 5, *, seed: int = 0):
        super().__init__()
        c = _as_channels(channels, "channels")
        d = as_int(depth, "depth", low=2, high=64)
        seed = _as_seed(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = [nn.Conv2d(1, c, 3, padding=1), nn.ReLU()]
            for _ in range(d - 2):
                layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU()]
            last = nn.Conv2d(c, 1, 3, padding=1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.body = nn.Sequential(*layers, last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


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


def _crops(images: torch.Tensor, gen: torch.Generator, batch: int, crop: int, *others):
    """The same random crops (batch, 1, crop, crop) of ``images`` and of each array in others."""
    n, h, w = images.shape
    idx = torch.randint(0, n, (batch,), generator=gen)
    ys = torch.randint(0, h - crop + 1, (batch,), generator=gen)
    xs = torch.randint(0, w - crop + 1, (batch,), generator=gen)
    out = []
    for arr in (images, *others):
        out.append(torch.stack([arr[i, y:y + crop, x:x + crop]
                                for i, y, x in zip(idx.tolist(), ys.tolist(), xs.tolist())])
                   .unsqueeze(1))
    return out


def _check_training(steps, crop, batch, lr, shape):
    n_steps = as_int(steps, "steps", low=1, high=_MAX_STEPS)
    n_crop = as_int(crop, "crop", low=4, high=4096)
    if n_crop > min(shape[1:]):
        raise ValueError(f"crop {n_crop} is larger than the images ({shape[1]} x {shape[2]})")
    n_batch = as_int(batch, "batch", low=1, high=1024)
    rate = as_scalar(lr, "lr", low=0.0, low_inclusive=False, high=1.0)
    return n_steps, n_crop, n_batch, rate


def train_autoencoder(images, *, steps: int = 150, crop: int = 48, batch: int = 8,
                      lr: float = 2e-3, channels=(8, 16, 32), seed: int = 0):
    """Train a :class:`ConvAutoencoder` to reconstruct random crops of images (MSE, Adam).

    Parameters
    ----------
    images : array_like, shape (N, H, W)
        Training images (full-dose CT slices, scaled to about unit range, e.g. HU / 1000).
    steps : int, optional
        Adam steps (default 150), each on ``batch`` random ``crop`` x ``crop`` crops.
    crop, batch : int, optional
        Crop size in pixels (multiple of 4, <= H, W) and crops per step.
    lr : float, optional
        Adam's learning rate in (0, 1].
    channels : tuple of int, optional
        The autoencoder's channels.
    seed : int, optional
        Seeds the weights and the crops; two calls give bit-identical weights.

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
    if n_crop % 4:
        raise ValueError(f"crop must be a multiple of 4 (two stride-2 stages), got {n_crop}")
    seed = _as_seed(seed)
    model = ConvAutoencoder(channels, seed=seed)
    x_all = torch.as_tensor(arr, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=rate)
    history = []
    model.train()
    for _ in range(n_steps):
        (x,) = _crops(x_all, gen, n_batch, n_crop)
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    model.zero_grad(set_to_none=True)
    model.eval()
    return model, history


def train_restorer(noisy, clean, *, perceptual: PerceptualLoss | None = None,
                   perceptual_weight: float = 0.0, adversarial_weight: float = 0.0,
                   steps: int = 150, crop: int = 48, batch: int = 8, lr: float = 2e-3,
                   channels: int = 16, depth: int = 5, seed: int = 0):
    """Train a :class:`ResidualDenoiser` with pixel, perceptual and adversarial losses.

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
        discriminator alike; Adam with betas (0.5, 0.999) as GANs use when adversarial).
    channels, depth : int, optional
        The generator's size (see :class:`ResidualDenoiser`).
    seed : int, optional
        Seeds both networks and the crops; two calls give bit-identical weights.

    Returns
    -------
    model : ResidualDenoiser
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
    if n_crop % 4:
        raise ValueError(f"crop must be a multiple of 4, got {n_crop}")
    seed = _as_seed(seed)
    gen_model = ResidualDenoiser(channels, depth, seed=seed)
    betas = (0.5, 0.999) if w_a > 0 else (0.9, 0.999)
    opt_g = torch.optim.Adam(gen_model.parameters(), lr=rate, betas=betas)
    disc = opt_d = None
    if w_a > 0:
        disc = PatchDiscriminator(seed=seed + 1 if seed < 2**63 - 1 else 0)
        opt_d = torch.optim.Adam(disc.parameters(), lr=rate, betas=betas)
    xs = torch.as_tensor(x_arr, dtype=torch.float32)
    ys = torch.as_tensor(y_arr, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    history = {"pixel": [], "perceptual": [], "adversarial": [], "discriminator": []}
    gen_model.train()
    zero = torch.zeros(())
    for _ in range(n_steps):
        x, y = _crops(xs, gen, n_batch, n_crop, ys)
        if disc is not None:   # discriminator step on detached restorations
            opt_d.zero_grad()
            with torch.no_grad():
                fake = gen_model(x)
            d_loss = discriminator_loss(disc(y), disc(fake))
            d_loss.backward()
            opt_d.step()
        opt_g.zero_grad()
        out = gen_model(x)
        pix = F.mse_loss(out, y)
        perc = perceptual(out, y) if w_p > 0 else zero
        if disc is not None:
            for p in disc.parameters():
                p.requires_grad_(False)
            adv = generator_loss(disc(out))
            for p in disc.parameters():
                p.requires_grad_(True)
        else:
            adv = zero
        loss = pix + w_p * perc + w_a * adv
        loss.backward()
        opt_g.step()
        history["pixel"].append(float(pix.detach()))
        history["perceptual"].append(float(perc.detach()))
        history["adversarial"].append(float(adv.detach()))
        history["discriminator"].append(float(d_loss.detach()) if disc is not None else 0.0)
    gen_model.zero_grad(set_to_none=True)
    gen_model.eval()
    return gen_model, history


def restore(model: nn.Module, images) -> np.ndarray:
    """Apply a restoring network to a stack of 2D images.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (N, 1, H, W) to (N, 1, H, W) (a trained :class:`ResidualDenoiser`).
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
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    arr = as_array(images, "images", ndim=(2, 3))
    if np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError("images hold values beyond float32's range")
    stack = arr[np.newaxis] if arr.ndim == 2 else arr
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.as_tensor(stack, dtype=torch.float32).unsqueeze(1))[:, 0]
    model.train(was_training)
    out = out.double().numpy()
    return out[0] if arr.ndim == 2 else out
