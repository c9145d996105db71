"""Segmentation architectures: the naive encoder-upsample network, an FCN, the UNet; receptive
fields.

Section 14.3 of the course (``chapters/segmentation/architectures.ipynb``), the architecture part
of the pixel-wise prediction notes:

* :class:`NaiveSegmenter`: the notes' ``I -> 32 -> 128 -> 256 -(up s)-> 128 -> 32 -> O``, an
  encoder whose coarsest map is brought back to the image size by ONE upsampling of factor
  ``s = 2**depth``: it loses the resolution that pooling removed;
* :class:`FCN`: a fully convolutional network that adds class scores predicted at several
  scales (Long et al. 2015, FCN-8s style), coarse to fine;
* :class:`UNet`: an encoder-decoder with skip connections (Ronneberger et al. 2015), upsampling
  by bilinear interpolation followed by a convolution, or by a transposed convolution; 2D or 3D;
* :func:`receptive_field` computes the receptive field of a chain of layers from their kernels
  and strides, :func:`empirical_receptive_field` measures it as the support of the gradient of
  one output pixel with respect to the input; :func:`count_parameters` and
  :func:`conv_flops` give the cost of a network;
* :func:`hausdorff_distance`, the (95th-percentile) Hausdorff distance between the boundaries of
  two masks, the boundary metric that Dice misses.

Every network is built from PyTorch modules, takes ``(N, C, H, W)`` (or ``(N, C, D, H, W)`` in
3D) and returns logits of the same spatial size; its initial weights are drawn from ``seed``
under :func:`torch.random.fork_rng`, so the caller's global random state is untouched and the
same seed gives the same weights.

:formula:`seg.architectures` is tagged on :class:`UNet`, the architecture the notes end with.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from .._validate import as_array, as_bool, as_choice, as_int, as_mask, as_scalar, as_shape
from ..nn._validate import as_module

__all__ = ["FCN", "NaiveSegmenter", "UNet", "conv_flops", "count_parameters",
           "empirical_receptive_field", "hausdorff_distance", "receptive_field"]

_MAX_CHANNELS = 4096      # a typo (2**63 channels) fails by name instead of by memory
_MAX_DEPTH = 8            # 2**8 = 256: the input must be divisible by 2**depth
_MAX_SEED = 2 ** 63 - 1


def _seeded(seed: int, build):
    """``build()`` under a forked global RNG seeded with ``seed`` (the caller's state restored)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _layers(dims: int):
    if dims == 2:
        return nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.BatchNorm2d, "bilinear"
    return nn.Conv3d, nn.ConvTranspose3d, nn.MaxPool3d, nn.BatchNorm3d, "trilinear"


def _conv_block(conv, norm, c_in: int, c_out: int, n_convs: int = 2) -> nn.Sequential:
    """``n_convs`` times: 3x3 convolution with 1-padding ('same'), optional batch norm, ReLU."""
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers.append(conv(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=norm is None))
        if norm is not None:
            layers.append(norm(c_out))
        layers.append(nn.ReLU(inplace=False))
    return nn.Sequential(*layers)


def _check_common(in_channels, out_channels, depth, base_channels, seed):
    c_in = as_int(in_channels, "in_channels", low=1, high=_MAX_CHANNELS)
    c_out = as_int(out_channels, "out_channels", low=1, high=_MAX_CHANNELS)
    d = as_int(depth, "depth", low=1, high=_MAX_DEPTH)
    base = as_int(base_channels, "base_channels", low=1, high=_MAX_CHANNELS)
    if base * 2 ** d > _MAX_CHANNELS:
        raise ValueError(f"base_channels * 2**depth must be <= {_MAX_CHANNELS} (the channels of "
                         f"the coarsest level), got base_channels={base}, depth={d}")
    s = as_int(seed, "seed", low=0, high=_MAX_SEED)
    return c_in, c_out, d, base, s


class _Segmenter(nn.Module):
    """Shared checks: the input's channels and a spatial size divisible by 2**depth."""

    dims: int
    depth: int
    in_channels: int

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != self.dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, "
                             f"{', '.join('H W'.split() if self.dims == 2 else 'D H W'.split())})"
                             f", got {tuple(x.shape)}")
        f = 2 ** self.depth
        if any(n % f for n in x.shape[2:]):
            raise ValueError(f"x's spatial size {tuple(x.shape[2:])} must be divisible by "
                             f"2**depth = {f}")


class UNet(_Segmenter):
    """A UNet: encoder, bottleneck, decoder with skip connections (Ronneberger et al. 2015).

    Parameters
    ----------
    in_channels, out_channels : int, optional
        Input channels (sequences) and output channels (1 logit map for a binary task, one per
        class otherwise); default 1 and 1.
    depth : int, optional
        Number of 2x poolings (default 3); the input's size must be divisible by ``2**depth``.
    base_channels : int, optional
        Channels of the first level (default 8); level ``l`` has ``base_channels * 2**l``.
    upsampling : {"bilinear", "transposed"}, optional
        ``"bilinear"``: bilinear (trilinear in 3D) upsampling by 2 followed by a 3x3 convolution;
        ``"transposed"``: a 2x2 transposed convolution of stride 2 (default "bilinear").
    skip : bool, optional
        Concatenate the encoder's feature map to the decoder's at each level (default True);
        False gives the plain encoder-decoder, for comparison.
    norm : {"batch", "none"}, optional
        Batch normalisation after each convolution, or none (default "batch").
    dims : {2, 3}, optional
        2D or 3D convolutions (default 2).
    dropout : float, optional
        Probability in [0, 1) of zeroing a whole feature map (channel dropout,
        :class:`torch.nn.Dropout2d` or ``Dropout3d``) after the bottleneck and after each
        decoder level; default 0 (no dropout layer at all, so the weights drawn from ``seed``
        are those of the network without it). Kept active at test time it gives Monte Carlo
        dropout (Part IV, uncertainty).
    seed : int, optional
        Seed of the initial weights (PyTorch's default initialisation, drawn under
        :func:`torch.random.fork_rng`: the global random state is left as it was).

    Notes
    -----
    Each level of the encoder is two blocks "3x3 convolution (same), ReLU", then 2x2 max
    pooling; the decoder upsamples by 2, concatenates the skip connection and applies two blocks;
    a 1x1 convolution gives the logits (apply a sigmoid or a softmax for probabilities):

    .. math::

        e_0 = B_0(I),\\quad e_l = B_l(\\mathrm{pool}(e_{l-1})),\\quad
        d_L = e_L,\\quad d_l = B'_l([\\mathrm{up}(d_{l+1}),\\, e_l]),\\quad O = W_{1\\times1} d_0

    :formula:`seg.architectures`

    References
    ----------
    O. Ronneberger, P. Fischer, T. Brox, "U-Net: convolutional networks for biomedical image
    segmentation", MICCAI 2015. J. Long, E. Shelhamer, T. Darrell, "Fully convolutional networks
    for semantic segmentation", CVPR 2015.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, depth: int = 3,
                 base_channels: int = 8, upsampling: str = "bilinear", skip: bool = True,
                 norm: str = "batch", dims: int = 2, dropout: float = 0.0, seed: int = 0):
        super().__init__()
        c_in, c_out, d, base, s = _check_common(in_channels, out_channels, depth,
                                                base_channels, seed)
        self.dropout = as_scalar(dropout, "dropout", low=0.0, high=1.0, high_inclusive=False)
        self.upsampling = as_choice(upsampling, "upsampling", ("bilinear", "transposed"))
        self.skip = as_bool(skip, "skip")
        as_choice(norm, "norm", ("batch", "none"))
        self.dims = as_int(dims, "dims", low=2, high=3)
        self.in_channels, self.out_channels, self.depth = c_in, c_out, d
        self.base_channels = base
        _seeded(s, lambda: self._build(norm))

    def _build(self, norm_name: str) -> None:
        conv, tconv, pool, norm, mode = _layers(self.dims)
        norm = norm if norm_name == "batch" else None
        ch = [self.base_channels * 2 ** level for level in range(self.depth + 1)]
        self.encoder = nn.ModuleList(
            [_conv_block(conv, norm, self.in_channels if lv == 0 else ch[lv - 1], ch[lv])
             for lv in range(self.depth + 1)])
        self.pool = pool(2)
        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for lv in range(self.depth - 1, -1, -1):
            if self.upsampling == "bilinear":
                self.up.append(nn.Sequential(
                    nn.Upsample(scale_factor=2, mode=mode, align_corners=False),
                    conv(ch[lv + 1], ch[lv], 3, padding=1)))
            else:
                self.up.append(tconv(ch[lv + 1], ch[lv], 2, stride=2))
            self.decoder.append(_conv_block(conv, norm, ch[lv] * (2 if self.skip else 1),
                                            ch[lv]))
        self.head = conv(ch[0], self.out_channels, 1)
        if self.dropout > 0.0:
            drop = nn.Dropout2d if self.dims == 2 else nn.Dropout3d
            self.drop = drop(self.dropout)

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(x) if self.dropout > 0.0 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        skips = []
        for lv, block in enumerate(self.encoder):
            x = block(x if lv == 0 else self.pool(x))
            skips.append(x)
        x = self._drop(skips.pop())
        for up, block in zip(self.up, self.decoder):
            x = torch.relu(up(x))
            e = skips.pop()
            x = self._drop(block(torch.cat([x, e], dim=1) if self.skip else x))
        return self.head(x)

    def path(self) -> list[tuple[int, float]]:
        """(kernel, stride) of the layers on the deepest path, input to output, for
        :func:`receptive_field` (an upsampling by 2 has stride 1/2; its kernel is the number of
        input pixels one output pixel reads: 2 for bilinear, 1 for the 2x2/2 transposed conv)."""
        out: list[tuple[int, float]] = [(3, 1), (3, 1)]
        for _ in range(self.depth):
            out += [(2, 2), (3, 1), (3, 1)]
        for _ in range(self.depth):
            out += [(2, 0.5), (3, 1)] if self.upsampling == "bilinear" else [(1, 0.5)]
            out += [(3, 1), (3, 1)]
        return out + [(1, 1)]


class NaiveSegmenter(_Segmenter):
    """The notes' naive network: an encoder, ONE upsampling by ``2**depth``, two convolutions.

    ``I -> c1 -> c2 -> ... -> c_depth -(up s)-> c_{depth-1} -> ... -> O`` as in the notes'
    ``I -> 32 -> 128 -> 256 -(up s)-> 128 -> 32 -> O``: each arrow of the encoder is a 3x3
    convolution (1-padding), ReLU and 2x2 max pooling, so the coarsest map has ``1/2**depth`` of
    the image's size; it is upsampled bilinearly by ``s = 2**depth`` in one step and two 3x3
    convolutions (ReLU between them) give the logits at full size.

    Parameters
    ----------
    in_channels, out_channels : int, optional
        Default 1 and 1.
    channels : tuple of int, optional
        Channels after each encoder step (default ``(8, 32, 64)``, the notes' ``(32, 128, 256)``
        scaled down for the CPU); ``depth = len(channels)``.
    norm : {"batch", "none"}, optional
        Batch normalisation after each convolution but the last, as in :class:`UNet` (default
        "batch"), so that a comparison of the two is one of architecture, not of training.
    seed : int, optional
        Seed of the initial weights (under :func:`torch.random.fork_rng`).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *,
                 channels: tuple[int, ...] = (8, 32, 64), norm: str = "batch", seed: int = 0):
        super().__init__()
        ch = as_shape(channels, "channels", low=1)
        bn = as_choice(norm, "norm", ("batch", "none")) == "batch"
        if len(ch) > _MAX_DEPTH or max(ch) > _MAX_CHANNELS:
            raise ValueError(f"channels must have at most {_MAX_DEPTH} entries, each <= "
                             f"{_MAX_CHANNELS}, got {ch}")
        c_in, c_out, d, _, s = _check_common(in_channels, out_channels, len(ch), 1, seed)
        self.dims, self.depth, self.in_channels, self.out_channels = 2, d, c_in, c_out
        self.channels = ch

        def block(a, b):
            layers = [nn.Conv2d(a, b, 3, padding=1, bias=not bn)]
            return layers + ([nn.BatchNorm2d(b)] if bn else []) + [nn.ReLU()]

        def build():
            enc: list[nn.Module] = []
            for i, c in enumerate(ch):
                enc += block(c_in if i == 0 else ch[i - 1], c) + [nn.MaxPool2d(2)]
            self.encoder = nn.Sequential(*enc)
            mid = ch[-2] if d > 1 else ch[-1]
            self.upsample = nn.Upsample(scale_factor=2 ** d, mode="bilinear",
                                        align_corners=False)
            self.decoder = nn.Sequential(*block(ch[-1], mid), *block(mid, ch[0]),
                                         nn.Conv2d(ch[0], c_out, 3, padding=1))
        _seeded(s, build)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return self.decoder(self.upsample(self.encoder(x)))

    def path(self) -> list[tuple[int, float]]:
        """(kernel, stride) of its layers, input to output, for :func:`receptive_field`."""
        s = 2 ** self.depth
        # bilinear upsampling by s (align_corners=False): each output pixel reads 2 input pixels
        return [(3, 1), (2, 2)] * self.depth + [(2, 1 / s), (3, 1), (3, 1), (3, 1)]


class FCN(_Segmenter):
    """A fully convolutional network combining class scores from several scales (FCN-8s style).

    The encoder is the UNet's (two 3x3 convolutions with ReLU per level, 2x2 max pooling). A 1x1
    convolution predicts class scores at each of the ``depth + 1`` levels; from the coarsest,
    the scores are upsampled bilinearly by 2 and ADDED to the next finer level's scores, down to
    full resolution (Long et al. 2015). Unlike the UNet, the decoder has no convolutions of
    features: only scores are combined.

    Parameters
    ----------
    in_channels, out_channels : int, optional
        Default 1 and 1.
    depth, base_channels : int, optional
        As for :class:`UNet` (default 3 and 8).
    seed : int, optional
        Seed of the initial weights (under :func:`torch.random.fork_rng`).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, depth: int = 3,
                 base_channels: int = 8, seed: int = 0):
        super().__init__()
        c_in, c_out, d, base, s = _check_common(in_channels, out_channels, depth,
                                                base_channels, seed)
        self.dims, self.depth, self.in_channels, self.out_channels = 2, d, c_in, c_out

        def build():
            ch = [base * 2 ** lv for lv in range(d + 1)]
            self.encoder = nn.ModuleList(
                [_conv_block(nn.Conv2d, nn.BatchNorm2d, c_in if lv == 0 else ch[lv - 1], ch[lv])
                 for lv in range(d + 1)])
            self.pool = nn.MaxPool2d(2)
            self.scores = nn.ModuleList([nn.Conv2d(c, c_out, 1) for c in ch])
            self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        _seeded(s, build)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        feats = []
        for lv, block in enumerate(self.encoder):
            x = block(x if lv == 0 else self.pool(x))
            feats.append(x)
        out = self.scores[-1](feats[-1])
        for lv in range(self.depth - 1, -1, -1):
            out = self.upsample(out) + self.scores[lv](feats[lv])
        return out

    def path(self) -> list[tuple[int, float]]:
        """(kernel, stride) of the deepest path, input to output, for :func:`receptive_field`."""
        return ([(3, 1), (3, 1)] + [(2, 2), (3, 1), (3, 1)] * self.depth + [(1, 1)]
                + [(2, 0.5)] * self.depth)


def receptive_field(layers, index: int = 0) -> int:
    """The receptive field, in input pixels along one axis, of output pixel ``index`` of a chain.

    Parameters
    ----------
    layers : sequence of (kernel, stride)
        From input to output. A layer with ``stride >= 1`` is a convolution or pooling window of
        ``kernel`` pixels (a 3x3 convolution: ``(3, 1)``, 'same' padding ``(kernel - 1) // 2``;
        2x2 max pooling: ``(2, 2)``, no padding). A layer with ``stride = 1/f < 1`` upsamples by
        the integer ``f``: ``kernel`` 2 for (bi)linear interpolation (``align_corners=False``),
        1 for nearest neighbour or a transposed convolution of kernel ``f`` and stride ``f``.
    index : int, optional
        The output pixel (default 0). On an unbounded grid the receptive field of a chain that
        only downsamples is the same for every pixel; after an upsampling it depends on the
        pixel's position modulo the upsampling factors (its phase).

    Returns
    -------
    int
        The number of input pixels between the first and the last that influence the output
        pixel, found by mapping the interval ``[index, index]`` back through the layers.

    Raises
    ------
    TypeError
        If ``layers`` is not a sequence of pairs of numbers.
    ValueError
        If a kernel is < 1, a stride is not a positive integer or the inverse of one, or an
        upsampling kernel is not 1 or 2.

    Notes
    -----
    For a chain of convolutions and poolings (strides >= 1) the interval grows by ``k_l - 1``
    pixels of layer ``l``'s input, each spanning the product of the strides before it (the
    "jump"): :math:`r = 1 + \\sum_l (k_l - 1) \\prod_{i<l} s_i` (Araujo, Norris, Sim,
    "Computing receptive fields of convolutional neural networks", Distill 2019). For a
    network with branches (skip connections) the receptive field is the largest over its
    paths: the deepest one.
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__") or len(layers) == 0:
        raise TypeError(f"layers must be a non-empty sequence of (kernel, stride) pairs, got "
                        f"{layers!r}")
    checked = []
    for i, pair in enumerate(layers):
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise TypeError(f"layers[{i}] must be a (kernel, stride) pair, got {pair!r}")
        k = as_int(pair[0], f"layers[{i}] kernel", low=1, high=2 ** 20)
        s = as_scalar(pair[1], f"layers[{i}] stride", low=0.0, low_inclusive=False,
                      high=2.0 ** 20)
        if s >= 1:
            if not float(s).is_integer():
                raise ValueError(f"layers[{i}] stride must be an integer >= 1 or 1/f, got {s}")
            checked.append((k, int(s), 1))
        else:
            f = round(1 / s)
            if abs(f * s - 1) > 1e-9:
                raise ValueError(f"layers[{i}] stride must be an integer >= 1 or 1/f, got {s}")
            if k not in (1, 2):
                raise ValueError(f"layers[{i}] kernel of an upsampling must be 1 (nearest, "
                                 f"transposed) or 2 (linear), got {k}")
            checked.append((k, 1, f))
    i0 = as_int(index, "index", low=-2 ** 40, high=2 ** 40)
    lo, hi = i0, i0
    for k, s, f in reversed(checked):
        if f == 1:
            pad = (k - 1) // 2 if s == 1 else 0
            lo, hi = lo * s - pad, hi * s - pad + k - 1
        elif k == 1:
            lo, hi = lo // f, hi // f
        else:   # linear, align_corners=False: output i reads floor(src), floor(src) + 1
            lo = math.floor((lo + 0.5) / f - 0.5)
            hi = math.floor((hi + 0.5) / f - 0.5) + 1
    return int(hi - lo + 1)


def _probe_copy(model: nn.Module) -> nn.Module:
    """A float64 copy whose every path is open: weights 1/fan-in > 0, no biases, max pooling
    replaced by average pooling of the same geometry, batch norm as the identity."""
    probe = copy.deepcopy(model).double().eval()
    for mod in list(probe.modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, (nn.MaxPool2d, nn.MaxPool3d)):
                avg = nn.AvgPool2d if isinstance(child, nn.MaxPool2d) else nn.AvgPool3d
                setattr(mod, child_name, avg(child.kernel_size, child.stride, child.padding))
            elif isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(mod, child_name, nn.Identity())
    with torch.no_grad():
        for mod in probe.modules():
            w = getattr(mod, "weight", None)
            if isinstance(w, torch.Tensor) and w.ndim >= 2:
                w.fill_(1.0 / w[0].numel())
            b = getattr(mod, "bias", None)
            if isinstance(b, torch.Tensor):
                b.zero_()
    return probe


def empirical_receptive_field(model: nn.Module, shape) -> tuple[int, ...]:
    """The receptive field of the central output pixel, measured by back-propagation.

    The gradient of one output pixel (channel 0, the centre of the output) with respect to the
    input is non-zero exactly on the input pixels that can influence it. To see every pixel that
    CAN (rather than those a given input and set of weights happen to use), the measurement runs
    on a float64 copy of ``model`` in which every weight is positive (1/fan-in), biases are zero,
    max pooling is replaced by average pooling (the same geometry; max pooling passes a gradient
    to one pixel only) and batch normalisation by the identity; the input is all ones, so that
    every ReLU is active. ``model`` itself is not changed.

    Parameters
    ----------
    model : torch.nn.Module
        A network mapping ``(1, C, *shape)`` to ``(1, K, *shape)``; ``C`` is read from its
        ``in_channels`` attribute (default 1).
    shape : tuple of int
        Spatial size of the probe input (H, W) or (D, H, W); large enough that the receptive
        field does not reach the border (else a ValueError).

    Returns
    -------
    tuple of int
        The extent (number of pixels from the first to the last non-zero gradient) along each
        spatial axis.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``shape`` is too small to contain the receptive field.
    """
    as_module(model)
    size = as_shape(shape, "shape", low=1, max_elements=2 ** 24)
    probe = _probe_copy(model)
    c = int(getattr(model, "in_channels", 1))
    x = torch.ones((1, c) + size, dtype=torch.float64, requires_grad=True)
    out = probe(x)
    centre = (0, 0) + tuple(n // 2 for n in out.shape[2:])
    out[centre].backward()
    support = (x.grad[0].abs().sum(dim=0) > 0).numpy()
    extents = []
    for axis in range(support.ndim):
        idx = np.flatnonzero(support.any(axis=tuple(a for a in range(support.ndim) if a != axis)))
        if idx.size == 0:
            raise ValueError("shape: the gradient vanished everywhere")
        if idx[0] == 0 or idx[-1] == size[axis] - 1:
            raise ValueError(f"shape {size} is too small: the receptive field reaches the "
                             f"border along axis {axis}; use a larger shape")
        extents.append(int(idx[-1] - idx[0] + 1))
    return tuple(extents)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters (weights and biases) of ``model``.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    """
    as_module(model)
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def conv_flops(model: nn.Module, shape) -> int:
    """Multiply-accumulate operations of the convolutions of ``model`` on one input of ``shape``.

    Counted with forward hooks: a convolution with ``C_in`` input channels, ``C_out`` output
    channels, a kernel of ``K`` elements and an output of ``P`` pixels (voxels) costs
    ``C_in / groups * K * C_out * P`` multiply-accumulates (MACs; 1 MAC = 2 FLOPs); a transposed
    convolution ``C_in * K * C_out / groups * P_in``. Pooling, normalisation, activations and
    interpolation (a few operations per pixel) are not counted.

    Parameters
    ----------
    model : torch.nn.Module
    shape : tuple of int
        Spatial size (H, W) or (D, H, W); the input has the model's ``in_channels`` (default 1).

    Returns
    -------
    int
        Multiply-accumulates for one forward pass of one image.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``shape`` is not a shape.
    """
    as_module(model)
    size = as_shape(shape, "shape", low=1, max_elements=2 ** 24)
    total = [0]

    def hook(mod, inp, out):
        k = int(np.prod(mod.kernel_size))
        if isinstance(mod, nn.modules.conv._ConvTransposeNd):
            px = int(np.prod(inp[0].shape[2:]))
        else:
            px = int(np.prod(out.shape[2:]))
        total[0] += mod.in_channels // mod.groups * k * mod.out_channels * px

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.modules.conv._ConvNd)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, int(getattr(model, "in_channels", 1))) + size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0]


def _edges(mask: np.ndarray) -> np.ndarray:
    """The mask's boundary pixels: in the mask, with a face-neighbour outside it (or off the
    array)."""
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)


def hausdorff_distance(prediction, target, *, percentile: float = 95.0,
                       spacing_mm=None) -> float:
    """The percentile Hausdorff distance between the boundaries of two binary masks, in mm.

    Parameters
    ----------
    prediction, target : array_like of bool (or 0/1), same shape, 2D or 3D
        Axis order (y, x) or (z, y, x).
    percentile : float, optional
        In [0, 100] (default 95: HD95); 100 gives the classical (maximum) Hausdorff distance.
    spacing_mm : float or sequence of float, optional
        Pixel spacing in mm, one per axis in axis order (default 1 for each: distances in
        pixels).

    Returns
    -------
    float
        :math:`\\max\\big(P_q\\{d(a, \\partial T): a \\in \\partial P\\},\\,
        P_q\\{d(b, \\partial P): b \\in \\partial T\\}\\big)`, where
        :math:`\\partial` is the set of boundary pixels, :math:`d` the Euclidean distance in
        mm to the nearest pixel of the other boundary and :math:`P_q` the q-th percentile
        (linear interpolation, as :func:`numpy.percentile`). ``inf`` if exactly one mask is
        empty, ``nan`` if both are.

    Raises
    ------
    ValueError
        If the masks are not 0/1, differ in shape, are not 2D or 3D, or ``percentile`` or
        ``spacing_mm`` is out of range.

    Notes
    -----
    A boundary pixel is a mask pixel with a face-connected neighbour outside the mask (the mask
    minus its erosion by the cross-shaped structuring element; the array's outside counts as
    background). The distances from each boundary pixel to the other boundary come from one
    Euclidean distance transform (:func:`scipy.ndimage.distance_transform_edt`) with the
    spacing as sampling. This is MONAI's ``compute_hausdorff_distance(..., percentile=q)``
    (tested against it). The 95th percentile ignores the 5 % farthest boundary pixels, so that
    one stray pixel does not decide the score, which the maximum lets it do.

    References
    ----------
    D. P. Huttenlocher, G. A. Klanderman, W. J. Rucklidge, "Comparing images using the Hausdorff
    distance", IEEE TPAMI 15 (1993) 850-863. L. Maier-Hein et al., "Metrics reloaded",
    Nature Methods 21 (2024) 195-212.
    """
    p = as_mask(prediction, "prediction")
    t = as_mask(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"prediction and target must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    if p.ndim not in (2, 3):
        raise ValueError(f"prediction must be 2D or 3D, got {p.ndim} dimensions")
    q = as_scalar(percentile, "percentile", low=0.0, high=100.0)
    if spacing_mm is None:
        sampling = np.ones(p.ndim)
    else:
        sampling = as_array(spacing_mm, "spacing_mm", ndim=(0, 1), low=0.0, low_inclusive=False,
                            high=1e6)
        sampling = np.broadcast_to(sampling, (p.ndim,)) if sampling.ndim == 0 else sampling
        if sampling.shape != (p.ndim,):
            raise ValueError(f"spacing_mm must hold one spacing per axis ({p.ndim}), got "
                             f"{sampling.shape[0]}")
    ep, et = _edges(p), _edges(t)
    if not ep.any() and not et.any():
        return float("nan")
    if not ep.any() or not et.any():
        return float("inf")
    d_to_t = ndimage.distance_transform_edt(~et, sampling=sampling)[ep]
    d_to_p = ndimage.distance_transform_edt(~ep, sampling=sampling)[et]
    return float(max(np.percentile(d_to_t, q), np.percentile(d_to_p, q)))
