"""Attribution maps for a segmentation network, and their sanity checks (Part IV, section 16.1).

Used in ``chapters/trustworthy/interpretability.ipynb``. A segmentation network outputs a map,
not a number; every attribution method explains a number. :func:`region_score` makes one: the
summed logit (or probability) of a class over a region, per image. The maps:

* :func:`saliency`, the gradient of the score (Simonyan et al. 2014), :formula:`trust.saliency`;
* :func:`gradient_x_input`, the gradient times the input (Shrikumar et al. 2017),
  :formula:`trust.gradient-x-input`;
* :func:`integrated_gradients`, the path integral of the gradient from a baseline (Sundararajan
  et al. 2017), with Captum's quadratures, :formula:`trust.integrated-gradients`;
* :func:`grad_cam`, the gradient-weighted feature maps of one layer (Selvaraju et al. 2017),
  :formula:`trust.grad-cam`;
* :func:`occlusion`, the drop of the score when a window is covered (Zeiler and Fergus 2014),
  :formula:`trust.occlusion`.

The sanity checks of Adebayo et al. (2018): :func:`layer_order` and :func:`randomize_layers`
(cascading re-initialisation from the output towards the input) and :func:`rank_correlation`
(Spearman's rank correlation of the maps' absolute values).

Every map is computed in float32 like the network, returned as a float64 NumPy array, and
checked in the tests against Captum (``captum.attr``) on the same model and input. No function
modifies the model (weights, gradients, train/eval mode, batch-norm statistics) or the input.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import as_array, as_bool, as_choice, as_int, as_mask, as_scalar, as_shape
from ..nn._validate import as_module

__all__ = ["grad_cam", "gradient_x_input", "integrated_gradients", "layer_order", "occlusion",
           "randomize_layers", "rank_correlation", "region_score", "saliency"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_METHODS = ("gausslegendre", "trapezoid", "riemann_trapezoid", "riemann_left", "riemann_right",
            "riemann_middle")
_MAX_STEPS = 1000
_MAX_BATCH = 4096


# ---------------------------------------------------------------------------------------------
# Checks and helpers
# ---------------------------------------------------------------------------------------------
def _as_model(model, name: str = "model") -> torch.nn.Module:
    return as_module(model, name, example="segmentation.UNet")


def _as_score(score):
    if not callable(score) or isinstance(score, (str, bytes)):
        raise TypeError(f"score must be a callable x -> (N,) scores (e.g. from region_score), "
                        f"got {type(score).__name__}")
    return score


def _as_input(x, name: str = "x") -> torch.Tensor:
    """A batch (N, C, H, W) as a float32 tensor (a copy: the caller's array is never touched)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = as_array(x, name, ndim=4)
    if arr.shape[0] == 0 or min(arr.shape[1:]) == 0:
        raise ValueError(f"{name} must hold at least one image of at least one pixel, got shape "
                         f"{arr.shape}")
    if np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError(f"{name} holds values up to {np.max(np.abs(arr)):.3g}, beyond float32's "
                         f"range in which the network computes")
    return torch.as_tensor(arr, dtype=torch.float32)


def _as_baseline(baseline, x: torch.Tensor, name: str = "baseline") -> torch.Tensor:
    """A scalar or an array broadcastable to ``x``'s shape, as float32."""
    if isinstance(baseline, torch.Tensor):
        baseline = baseline.detach().cpu().numpy()
    arr = as_array(baseline, name)
    if arr.ndim > 4:
        raise ValueError(f"{name} must be a scalar or broadcast to x's shape {tuple(x.shape)}, "
                         f"got shape {arr.shape}")
    try:
        np.broadcast_shapes(arr.shape, tuple(x.shape))
    except ValueError:
        raise ValueError(f"{name} of shape {arr.shape} does not broadcast to x's shape "
                         f"{tuple(x.shape)}") from None
    if arr.size and np.max(np.abs(arr)) > _FLOAT32_MAX:
        raise ValueError(f"{name} holds values beyond float32's range")
    return torch.as_tensor(arr, dtype=torch.float32)


def _scores(score, x: torch.Tensor) -> torch.Tensor:
    out = score(x)
    if not isinstance(out, torch.Tensor) or out.shape != (x.shape[0],):
        raise ValueError(f"score must return one value per image, shape ({x.shape[0]},), got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    return out


def _gradient(score, x: torch.Tensor) -> torch.Tensor:
    """d score_n / d x_n for each image n, by one backward pass of the summed scores."""
    xg = x.clone().requires_grad_(True)
    with torch.enable_grad():
        out = _scores(score, xg)
        (grad,) = torch.autograd.grad(out.sum(), xg, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad.detach()


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


@contextlib.contextmanager
def _evaluation(model: torch.nn.Module):
    """Evaluation mode inside, each module's own mode restored after (batch-norm statistics are
    not updated by an attribution)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.train(mode)


# ---------------------------------------------------------------------------------------------
# The score that every map explains
# ---------------------------------------------------------------------------------------------
class _RegionScore:
    """``x -> (N,)``: the summed logit or probability of one class over a region."""

    def __init__(self, model, target_class, region, output):
        self.model, self.target_class, self.region, self.output = (model, target_class, region,
                                                                   output)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with _evaluation(self.model):
            logits = self.model(x)
        if logits.ndim != 4 or not 0 <= self.target_class < logits.shape[1]:
            raise ValueError(f"target_class {self.target_class} is not a channel of the model's "
                             f"output of shape {tuple(logits.shape)}")
        if self.output == "probability":
            maps = (torch.softmax(logits, dim=1) if logits.shape[1] > 1
                    else torch.sigmoid(logits))[:, self.target_class]
        else:
            maps = logits[:, self.target_class]
        if self.region is None:
            return maps.sum(dim=(-2, -1))
        if tuple(self.region.shape) != tuple(maps.shape[-2:]):
            raise ValueError(f"region of shape {tuple(self.region.shape)} does not match the "
                             f"output's {tuple(maps.shape[-2:])}")
        return (maps * self.region).sum(dim=(-2, -1))

    def __repr__(self) -> str:
        where = "the whole image" if self.region is None else \
            f"a region of {int(self.region.sum())} pixels"
        return f"region_score(class {self.target_class}, summed {self.output} over {where})"


def region_score(model, target_class: int = 1, region=None, *, output: str = "logit"):
    """The scalar per image that an attribution map explains: a class's output summed over a region.

    Parameters
    ----------
    model : torch.nn.Module
        A segmentation network mapping (N, C, H, W) images to (N, K, H, W) logits.
    target_class : int, optional
        The output channel explained, 0 to K - 1 (default 1: the foreground of a two-class
        network).
    region : array_like of bool, shape (H, W), optional
        The pixels summed over (e.g. the predicted or the true lung of one slice, fixed in
        advance). None (default) sums over the whole image.
    output : {"logit", "probability"}, optional
        Sum the logits (default: linear in the last layer, unbounded) or the probabilities
        (softmax over the K channels, or a sigmoid when K = 1; saturate where the network is
        sure).

    Returns
    -------
    callable
        ``score(x)`` for a float32 tensor ``x`` of shape (N, C, H, W), returning a tensor of shape
        (N,), differentiable with respect to ``x``: the forward function to give to the maps of
        this module and to Captum (``target=None``). The model runs in evaluation mode inside
        (batch normalisation uses its running statistics and is not updated); its mode is
        restored after each call.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        On a negative ``target_class``, a ``region`` that is not a 2D mask or is empty, or an
        unknown ``output``. A class or a region that does not fit the model's output is reported
        when the score is called.

    Notes
    -----
    .. math::

        F(x) = \\sum_{(i, j) \\in R} z_{k, ij}(x)

    with :math:`z_k` the logit (or probability) map of class :math:`k` and :math:`R` the region.
    The region must not depend on ``x`` (a mask recomputed from each input would make the score
    piecewise constant in the region and break the completeness of Integrated Gradients).
    """
    model = _as_model(model)
    k = as_int(target_class, "target_class", low=0, high=4096)
    out = as_choice(output, "output", ("logit", "probability"))
    mask = None
    if region is not None:
        if isinstance(region, torch.Tensor):
            region = region.detach().cpu().numpy()
        m = as_mask(region, "region")
        if m.ndim != 2:
            raise ValueError(f"region must be a 2D mask (H, W), got shape {m.shape}")
        if not m.any():
            raise ValueError("region is empty: no pixel to sum over")
        mask = torch.as_tensor(m, dtype=torch.float32)
    return _RegionScore(model, k, mask, out)


# ---------------------------------------------------------------------------------------------
# Gradient maps
# ---------------------------------------------------------------------------------------------
def saliency(score, x) -> np.ndarray:
    """The gradient of the score with respect to each input pixel (signed).

    Parameters
    ----------
    score : callable
        ``score(x)`` -> (N,) tensor, e.g. from :func:`region_score`.
    x : array_like, shape (N, C, H, W)
        Input images (a tensor is copied, never modified).

    Returns
    -------
    numpy.ndarray of float64, shape (N, C, H, W)
        :math:`\\partial F(x_n) / \\partial x_{n,i}` for each image.

    Raises
    ------
    TypeError
        If ``score`` is not callable.
    ValueError
        If ``x`` is not 4D, finite and within float32's range, or ``score`` does not return one
        value per image.

    Notes
    -----
    .. math::

        S_i(x) = \\frac{\\partial F(x)}{\\partial x_i}

    :formula:`trust.saliency`. Simonyan et al. show the absolute value (the maximum over colour
    channels); Captum's ``Saliency`` does too by default (``abs=True``). The signed gradient is
    returned here, its absolute value is one ``np.abs`` away.

    References
    ----------
    K. Simonyan, A. Vedaldi, A. Zisserman, "Deep inside convolutional networks: visualising image
    classification models and saliency maps", ICLR workshop 2014.
    """
    score = _as_score(score)
    xt = _as_input(x)
    return _numpy(_gradient(score, xt))


def gradient_x_input(score, x) -> np.ndarray:
    """The gradient times the input: each pixel's first-order contribution relative to zero.

    Parameters
    ----------
    score : callable
        ``score(x)`` -> (N,) tensor, e.g. from :func:`region_score`.
    x : array_like, shape (N, C, H, W)
        Input images.

    Returns
    -------
    numpy.ndarray of float64, shape (N, C, H, W)

    Raises
    ------
    TypeError
        If ``score`` is not callable.
    ValueError
        If ``x`` is not 4D, finite and within float32's range.

    Notes
    -----
    .. math::

        A_i(x) = x_i \\, \\frac{\\partial F(x)}{\\partial x_i}

    :formula:`trust.gradient-x-input`. It is the first-order Taylor term of :math:`F(x) - F(0)`,
    exact for a linear score without bias; it is zero wherever the input is zero, whatever the
    network, and tends to look like the image (Adebayo et al. 2018). Captum:
    ``InputXGradient``.

    References
    ----------
    A. Shrikumar, P. Greenside, A. Shcherbina, A. Kundaje, "Not just a black box: learning
    important features through propagating activation differences", arXiv:1605.01713, 2016;
    A. Shrikumar, P. Greenside, A. Kundaje, "Learning important features through propagating
    activation differences" (DeepLIFT), ICML 2017.
    """
    score = _as_score(score)
    xt = _as_input(x)
    return _numpy(xt * _gradient(score, xt))


def _quadrature(n_steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1] of Captum's quadratures for Integrated Gradients."""
    n = int(n_steps)
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)
        return 0.5 * (nodes + 1.0), 0.5 * weights
    if n < 2:
        raise ValueError(f"n_steps must be at least 2 for the rule {method!r}, got {n}")
    if method == "trapezoid":
        weights = np.full(n, 1.0 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0.0, 1.0, n), weights
    weights = np.full(n, 1.0 / n)
    kind = method.split("_")[1]
    if kind == "trapezoid":
        weights[0] /= 2
        weights[-1] /= 2
        alphas = torch.linspace(0, 1, n)
    elif kind == "left":
        alphas = torch.linspace(0, 1 - 1 / n, n)
    elif kind == "middle":
        alphas = torch.linspace(1 / (2 * n), 1 - 1 / (2 * n), n)
    else:
        alphas = torch.linspace(1 / n, 1, n)
    return np.asarray(alphas.tolist()), weights


def integrated_gradients(score, x, baseline=0.0, *, n_steps: int = 50,
                         method: str = "gausslegendre", batch_size: int = 64) -> np.ndarray:
    """Integrated Gradients: the gradient integrated along the straight path from a baseline.

    Parameters
    ----------
    score : callable
        ``score(x)`` -> (N,) tensor, e.g. from :func:`region_score`.
    x : array_like, shape (N, C, H, W)
        Input images.
    baseline : float or array_like broadcastable to ``x``, optional
        The reference input :math:`x'` (default 0: a black image; for CT windowed to [0, 1],
        0 is air at the bottom of the window).
    n_steps : int, optional
        Quadrature nodes, 1 to 1000 (2 or more for the Riemann rules); default 50, Captum's.
    method : {"gausslegendre", "trapezoid", "riemann_trapezoid", "riemann_left", \
"riemann_right", "riemann_middle"}, optional
        The quadrature of the integral over :math:`\\alpha \\in [0, 1]`. "gausslegendre"
        (default, Captum's default): Gauss-Legendre nodes and weights mapped to [0, 1], exact for
        polynomials of degree up to ``2 n_steps - 1`` in :math:`\\alpha`. "trapezoid": the
        composite trapezoid rule on ``n_steps`` equispaced nodes from 0 to 1, weights
        :math:`1/(m-1)` halved at both ends (error :math:`O(1/m^2)`). The ``riemann_*`` rules are
        Captum's, node for node and weight for weight: left, right and midpoint rules on
        ``n_steps`` cells of width :math:`1/m` (error :math:`O(1/m)`, :math:`O(1/m^2)` for the
        midpoint), and Captum's "riemann_trapezoid", which puts nodes at 0, 1/(m-1), ..., 1 but
        weights :math:`1/m` (halved at both ends) that sum to :math:`1 - 1/m`, not 1: its
        attributions are scaled by about :math:`(m-1)/m` and miss completeness by
        :math:`(F(x) - F(x'))/m` (kept for comparison with Captum; prefer "trapezoid").
    batch_size : int, optional
        Images per forward pass (default 64): the ``N n_steps`` interpolated images are processed
        in chunks, which changes the memory used, not the result.

    Returns
    -------
    numpy.ndarray of float64, shape (N, C, H, W)

    Raises
    ------
    TypeError
        If ``score`` is not callable.
    ValueError
        If ``x`` or ``baseline`` is invalid, or on an unknown ``method`` or out-of-range
        ``n_steps`` or ``batch_size``.

    Notes
    -----
    .. math::

        \\mathrm{IG}_i(x) = (x_i - x'_i) \\int_0^1
        \\frac{\\partial F\\big(x' + \\alpha (x - x')\\big)}{\\partial x_i}\\, d\\alpha
        \\approx (x_i - x'_i) \\sum_{s=1}^{m} w_s\\,
        \\frac{\\partial F\\big(x' + \\alpha_s (x - x')\\big)}{\\partial x_i},
        \\qquad \\sum_i \\mathrm{IG}_i = F(x) - F(x')

    :formula:`trust.integrated-gradients`. Completeness (the last equation) holds for the exact
    integral, by the fundamental theorem of calculus along the path; the quadrature makes it hold
    up to an error that shrinks as ``n_steps`` grows. For a linear score
    :math:`F(x) = w \\cdot x + b`, :math:`\\mathrm{IG} = (x - x') \\odot w` for any rule whose
    weights sum to 1 (all but Captum's "riemann_trapezoid"). Computed as Captum's
    ``IntegratedGradients`` does (same nodes, weights and order of summation, in float32).

    References
    ----------
    M. Sundararajan, A. Taly, Q. Yan, "Axiomatic attribution for deep networks", ICML 2017.
    """
    score = _as_score(score)
    xt = _as_input(x)
    base = _as_baseline(baseline, xt)
    m = as_int(n_steps, "n_steps", low=1, high=_MAX_STEPS)
    rule = as_choice(method, "method", _METHODS)
    chunk = as_int(batch_size, "batch_size", low=1, high=_MAX_BATCH)
    if rule != "gausslegendre" and m < 2:
        raise ValueError(f"n_steps must be at least 2 for the rule {rule!r}, got {m}")
    alphas, weights = _quadrature(m, rule)
    # the path, step-major as Captum builds it: (m N, C, H, W)
    path = torch.cat([base + float(a) * (xt - base) for a in alphas], dim=0)
    grads = torch.cat([_gradient(score, path[i:i + chunk])
                       for i in range(0, path.shape[0], chunk)], dim=0)
    w = torch.tensor(weights.tolist()).float().view(m, 1)
    scaled = grads.contiguous().view(m, -1) * w
    total = scaled.view(m, *xt.shape).sum(dim=0)
    return _numpy(total * (xt - base))


# ---------------------------------------------------------------------------------------------
# Grad-CAM
# ---------------------------------------------------------------------------------------------
def grad_cam(score, x, layer, *, relu: bool = True, upsample: bool = True) -> np.ndarray:
    """Grad-CAM: a layer's feature maps weighted by their spatially averaged gradients.

    Parameters
    ----------
    score : callable
        ``score(x)`` -> (N,) tensor that runs the network containing ``layer`` (e.g. from
        :func:`region_score`).
    x : array_like, shape (N, C, H, W)
        Input images.
    layer : torch.nn.Module
        A module of the network whose output is a feature map (N, K, h, w): for
        :class:`medlib.segmentation.UNet`, ``model.encoder[-1]`` (the bottleneck, the coarsest)
        or a decoder level ``model.decoder[i]``.
    relu : bool, optional
        Keep only the positive part (default True, as Selvaraju et al.; Captum's ``LayerGradCam``
        defaults to ``relu_attributions=False``).
    upsample : bool, optional
        Interpolate the map bilinearly (``align_corners=False``) to the input's size (default
        True, as Captum's ``LayerAttribution.interpolate(..., "bilinear")``); False returns the
        layer's resolution (h, w).

    Returns
    -------
    numpy.ndarray of float64, shape (N, 1, H, W) (or (N, 1, h, w))

    Raises
    ------
    TypeError
        If ``score`` is not callable or ``layer`` is not a ``torch.nn.Module``.
    ValueError
        If ``x`` is invalid, or ``layer`` is not run by ``score`` or does not output a 4D
        feature map.

    Notes
    -----
    .. math::

        \\alpha_k = \\frac{1}{Z} \\sum_{i,j} \\frac{\\partial F}{\\partial A^k_{ij}}, \\qquad
        L_{\\text{Grad-CAM}} = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k A^k\\Big)

    :formula:`trust.grad-cam`, with :math:`A^k` the layer's k-th feature map and :math:`Z` its
    number of pixels. The map has the layer's resolution: at the bottleneck of a UNet of depth
    :math:`L`, one value per :math:`2^L \\times 2^L` block of input pixels, which the bilinear
    upsampling smooths but cannot sharpen. The ReLU is applied before the upsampling (as Captum
    does it when both are asked for).

    References
    ----------
    R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra, "Grad-CAM: visual
    explanations from deep networks via gradient-based localization", ICCV 2017.
    """
    score = _as_score(score)
    xt = _as_input(x)
    layer = _as_model(layer, "layer")
    use_relu = as_bool(relu, "relu")
    up = as_bool(upsample, "upsample")
    seen = []

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor):
            seen.append(output)

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            out = _scores(score, xt.clone().requires_grad_(True))
            if not seen:
                raise ValueError("layer was not run by score: pass a module of the network that "
                                 "score evaluates")
            acts = seen[0]
            if acts.ndim != 4:
                raise ValueError(f"layer must output a 4D feature map (N, K, h, w), got shape "
                                 f"{tuple(acts.shape)}")
            (grads,) = torch.autograd.grad(out.sum(), acts, allow_unused=True)
    finally:
        handle.remove()
    if grads is None:
        grads = torch.zeros_like(acts)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = (weights * acts.detach()).sum(dim=1, keepdim=True)
    if use_relu:
        cam = F.relu(cam)
    if up:
        cam = F.interpolate(cam, size=tuple(xt.shape[-2:]), mode="bilinear")
    return _numpy(cam)


# ---------------------------------------------------------------------------------------------
# Occlusion
# ---------------------------------------------------------------------------------------------
def occlusion(score, x, window=(8, 8), stride=(4, 4), baseline: float = 0.0, *,
              batch_size: int = 64) -> np.ndarray:
    """Occlusion sensitivity: the drop of the score when a window is replaced by a baseline.

    Parameters
    ----------
    score : callable
        ``score(x)`` -> (N,) tensor, e.g. from :func:`region_score`.
    x : array_like, shape (N, C, H, W)
        Input images.
    window : (int, int), optional
        Rows and columns of the occluding window, covering all channels (default (8, 8)); at most
        the image's size.
    stride : (int, int), optional
        Step between windows in rows and columns, at most the window (default (4, 4)). Windows
        start at 0, ``stride``, ..., up to the first start at or beyond ``H - h``; a window
        that would cross the image's edge is cut there, as Captum's ``Occlusion`` places them,
        so that every pixel is covered.
    baseline : float, optional
        The value that replaces the occluded pixels (default 0).
    batch_size : int, optional
        Occluded images per forward pass, 1 to 4096 (default 64): the windows are processed as
        batches, one forward pass per batch.

    Returns
    -------
    numpy.ndarray of float64, shape (N, C, H, W)
        The mean score drop over the windows covering each pixel.

    Raises
    ------
    TypeError
        If ``score`` is not callable.
    ValueError
        If ``x`` is invalid, ``window`` or ``stride`` is not two positive integers with the
        window inside the image and the stride at most the window, or ``baseline`` is not
        finite.

    Notes
    -----
    .. math::

        O_i = \\frac{1}{|P_i|} \\sum_{p \\in P_i}
        \\big(F(x) - F(x \\odot (1 - m_p) + b\\, m_p)\\big)

    :formula:`trust.occlusion`, with :math:`m_p` the mask of window :math:`p`, :math:`P_i` the
    windows that cover pixel :math:`i` and :math:`b` the baseline. It costs one forward pass per
    window and image, :math:`(\\lceil (H - h)/s_r \\rceil + 1)(\\lceil (W - w)/s_c \\rceil
    + 1)` of them (plus one for :math:`F(x)`), and no gradient. Captum: ``Occlusion`` with
    ``sliding_window_shapes=(C, h, w)``, ``strides=(C, s_r, s_c)``.

    References
    ----------
    M. D. Zeiler, R. Fergus, "Visualizing and understanding convolutional networks", ECCV 2014.
    """
    score = _as_score(score)
    xt = _as_input(x)
    n, c, rows, cols = xt.shape
    win = as_shape(window, "window", ndim=2)
    step = as_shape(stride, "stride", ndim=2)
    if win[0] > rows or win[1] > cols:
        raise ValueError(f"window {tuple(win)} is larger than the image ({rows}, {cols})")
    b = as_scalar(baseline, "baseline", low=-_FLOAT32_MAX, high=_FLOAT32_MAX)
    chunk = as_int(batch_size, "batch_size", low=1, high=_MAX_BATCH)
    if step[0] > win[0] or step[1] > win[1]:
        raise ValueError(f"stride {tuple(step)} must not exceed window {tuple(win)}: pixels "
                         "between windows would be left out")
    # as Captum: ceil((H - h) / s) + 1 windows per axis, the last one cut at the image's edge
    r0 = step[0] * np.arange(-(-(rows - win[0]) // step[0]) + 1)
    c0 = step[1] * np.arange(-(-(cols - win[1]) // step[1]) + 1)
    rr, cc = np.meshgrid(r0, c0, indexing="ij")
    starts_r, starts_c = rr.ravel(), cc.ravel()
    in_r = (np.arange(rows)[None] >= starts_r[:, None]) & \
        (np.arange(rows)[None] < starts_r[:, None] + win[0])
    in_c = (np.arange(cols)[None] >= starts_c[:, None]) & \
        (np.arange(cols)[None] < starts_c[:, None] + win[1])
    masks = torch.as_tensor(in_r[:, :, None] & in_c[:, None, :], dtype=torch.float32)  # (P,H,W)
    counts = masks.sum(dim=0)
    out = torch.zeros_like(xt)
    with torch.no_grad():
        reference = _scores(score, xt)
        for k in range(n):
            drops = []
            for i in range(0, masks.shape[0], chunk):
                m = masks[i:i + chunk, None]                       # (p, 1, H, W)
                occluded = xt[k:k + 1] * (1.0 - m) + b * m         # (p, C, H, W)
                drops.append(reference[k] - _scores(score, occluded))
            drop = torch.cat(drops)
            total = torch.tensordot(drop, masks, dims=1)           # (H, W)
            out[k] = (total / counts)[None]
    return _numpy(out)


# ---------------------------------------------------------------------------------------------
# Sanity checks (Adebayo et al. 2018)
# ---------------------------------------------------------------------------------------------
def _parameterised_leaves(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    return {name: m for name, m in model.named_modules()
            if not list(m.children()) and list(m.parameters(recurse=False))}


def layer_order(model, x) -> list[str]:
    """The model's layers with weights, in the order a forward pass runs them (input first).

    Parameters
    ----------
    model : torch.nn.Module
    x : array_like, shape (N, C, H, W)
        An input the model accepts (one image is enough; only the order of the calls is used).

    Returns
    -------
    list of str
        Names (as in ``model.named_modules()``) of the leaf modules that own parameters
        (convolutions, batch normalisations), in the order of their first call.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``x`` is invalid or the model has no layer with weights.
    """
    model = _as_model(model)
    xt = _as_input(x)
    leaves = _parameterised_leaves(model)
    if not leaves:
        raise ValueError("model has no layer with weights to order")
    order: list[str] = []
    handles = [m.register_forward_hook(lambda mod, i, o, name=name: order.append(name)
                                       if name not in order else None)
               for name, m in leaves.items()]
    try:
        with torch.no_grad(), _evaluation(model):
            model(xt[:1])
    finally:
        for h in handles:
            h.remove()
    return order


def randomize_layers(model, n_top: int, x, *, seed: int = 0) -> torch.nn.Module:
    """A copy of the model with its top ``n_top`` layers re-initialised (cascading randomisation).

    Parameters
    ----------
    model : torch.nn.Module
        The trained network; left untouched.
    n_top : int
        How many layers with weights to re-initialise, counted from the output towards the input
        in forward order (:func:`layer_order`): 0 gives an identical copy, the number of layers
        a fully re-initialised network.
    x : array_like, shape (N, C, H, W)
        An input the model accepts, to find the forward order.
    seed : int, optional
        Seed of the new weights, drawn with each layer's own ``reset_parameters`` (PyTorch's
        default initialisation; a batch normalisation also forgets its running statistics)
        inside :func:`torch.random.fork_rng`: the caller's random state is untouched.

    Returns
    -------
    torch.nn.Module
        A deep copy in evaluation mode.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``n_top`` is negative or exceeds the number of layers, or ``x`` or ``seed`` is
        invalid.

    Notes
    -----
    The model-parameter randomisation test of Adebayo et al. (2018): an explanation that
    explains the model must change when the model's weights are replaced by random ones; one
    that does not may be explaining the input (an edge detector does as well). The layers are
    re-initialised cumulatively from the top (the logits), as in their cascading test; the
    same ``seed`` gives each layer the same new weights for every ``n_top``.

    References
    ----------
    J. Adebayo, J. Gilmer, M. Muelly, I. Goodfellow, M. Hardt, B. Kim, "Sanity checks for
    saliency maps", NeurIPS 2018.
    """
    model = _as_model(model)
    order = layer_order(model, x)
    k = as_int(n_top, "n_top", low=0, high=len(order))
    s = as_int(seed, "seed", low=0, high=2 ** 63 - 1)
    new = copy.deepcopy(model)
    leaves = _parameterised_leaves(new)
    with torch.random.fork_rng(devices=[]):
        for rank, name in enumerate(reversed(order[len(order) - k:] if k else [])):
            torch.manual_seed((s + 7919 * rank) % 2 ** 63)
            layer = leaves[name]
            if not hasattr(layer, "reset_parameters"):
                raise ValueError(f"layer {name} of model has no reset_parameters to re-initialise")
            layer.reset_parameters()
            if hasattr(layer, "reset_running_stats"):
                layer.reset_running_stats()
    return new.eval()


def rank_correlation(a, b, *, absolute: bool = True) -> float:
    """Spearman's rank correlation of two maps (of their absolute values by default).

    Parameters
    ----------
    a, b : array_like
        Two attribution maps of the same shape (at least two pixels).
    absolute : bool, optional
        Rank ``|a|`` and ``|b|`` (default True: where the attribution is large, whatever its
        sign) or the signed values (False).

    Returns
    -------
    float
        In [-1, 1]: the Pearson correlation of the ranks of ``|a|`` and ``|b|`` (ties get
        their average rank), as :func:`scipy.stats.spearmanr`; 0 if either map is constant (a
        map without a pattern shares none with another; SciPy returns NaN).

    Raises
    ------
    ValueError
        If the shapes differ, a map has fewer than two pixels or is not finite.

    Notes
    -----
    Adebayo et al. (2018) compare maps by the rank correlation of their absolute values
    (the sign of an attribution often flips under randomisation while its pattern stays) and
    without the absolute value; ``absolute`` chooses.
    """
    from scipy.stats import rankdata

    x = as_array(a, "a")
    y = as_array(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same shape, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError(f"a and b need at least two pixels, got {x.size}")
    use_abs = as_bool(absolute, "absolute")
    rx = rankdata((np.abs(x) if use_abs else x).ravel())
    ry = rankdata((np.abs(y) if use_abs else y).ravel())
    rx -= rx.mean()
    ry -= ry.mean()
    den = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
    return float(np.sum(rx * ry) / den) if den > 0 else 0.0
