"""Uncertainty and calibration of pixel-wise predictions.

Used in ``chapters/trustworthy/uncertainty.ipynb`` (section 16.2). The module holds:

* aleatoric uncertainty: :func:`gaussian_nll`, the heteroscedastic Gaussian negative
  log-likelihood, and :class:`HeteroscedasticDnCNN`, Part III's :class:`~medlib.restoration.DnCNN`
  with a second head that predicts a log-variance per pixel; :func:`sigma_calibration` bins
  pixels by predicted sigma and compares with the actual error (a calibration plot for
  regression);
* epistemic uncertainty from several predictions of one input: :func:`mc_dropout_predict`
  (Monte Carlo dropout), :func:`ensemble_predict` (a deep ensemble), :func:`tta_predict`
  (test-time augmentation by flips and rotations, undone on the output), summarised by
  :func:`predictive_moments` and :func:`entropy_decomposition`;
* calibration: :func:`expected_calibration_error` (the convention of torchmetrics'
  ``MulticlassCalibrationError``), :func:`reliability_curve`, :func:`fit_temperature` and
  :func:`temperature_scale`;
* does uncertainty point at errors? :func:`error_detection_auroc` and :func:`risk_coverage`.

Probabilities are NumPy arrays: a stack of predictions has shape (T, N, C, H, W) (T samples,
N images, C classes), one prediction (N, C, H, W); labels are integer class maps (N, H, W).
Entropies are in nats.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import optimize, special, stats

from .._validate import as_array, as_choice, as_int, as_scalar
from ..nn._validate import as_module, as_tensor
from ..restoration.denoising import DnCNN

__all__ = [
    "HeteroscedasticDnCNN",
    "ensemble_predict",
    "entropy_decomposition",
    "error_detection_auroc",
    "expected_calibration_error",
    "fit_temperature",
    "gaussian_nll",
    "mc_dropout_predict",
    "predictive_moments",
    "reliability_curve",
    "risk_coverage",
    "sigma_calibration",
    "tta_predict",
    "temperature_scale",
]

_REDUCTIONS = ("mean", "sum", "none")
_ACTIVATIONS = ("softmax", "sigmoid", "none")
_MAX_SAMPLES = 1000
_LOG_T_BOUNDS = (-6.0, 6.0)       # temperatures from 0.0025 to 403
_DROPOUT = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d,
            torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout)


# --- argument checks ----------------------------------------------------------------------------

def _tensor(value, name: str) -> torch.Tensor:
    """``value`` as a finite real floating tensor; a tensor keeps its graph and dtype."""
    return as_tensor(value, name)


def _model(model, name: str = "model") -> torch.nn.Module:
    return as_module(model, name)


def _images(x, name: str = "x") -> torch.Tensor:
    arr = as_array(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, name,
                   ndim=(3, 4, 5), real=True)
    if np.max(np.abs(arr)) > float(np.finfo(np.float32).max):
        raise ValueError(f"{name} exceeds float32's range")
    return torch.as_tensor(arr.astype(np.float32))


def _activate(out: torch.Tensor, activation: str) -> np.ndarray:
    if activation == "softmax":
        out = torch.softmax(out, dim=1)
    elif activation == "sigmoid":
        out = torch.sigmoid(out)
    return out.double().numpy()


def _probs(probs, name: str = "probs", *, min_ndim: int = 2) -> np.ndarray:
    p = as_array(probs, name, low=0.0, high=1.0, real=True)
    if p.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {p.shape}")
    return p


def _labels(labels, name: str, shape: tuple, n_classes: int) -> np.ndarray:
    arr = np.asarray(labels) if not isinstance(labels, (str, bytes)) else None
    if arr is None or arr.dtype.kind not in "iub" or arr.dtype.kind == "b":
        raise TypeError(f"{name} must be an array of integer class indices, got "
                        f"{type(labels).__name__}"
                        + (f" of {arr.dtype}" if arr is not None else ""))
    lab = as_array(arr, name, dtype=np.int64)
    if lab.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (probs without the class axis), got "
                         f"{lab.shape}")
    if lab.min() < 0 or lab.max() >= n_classes:
        raise ValueError(f"{name} must hold class indices in [0, {n_classes}), got "
                         f"{lab.min()}..{lab.max()}")
    return lab


def _top_label(probs, labels, n_bins) -> tuple[np.ndarray, np.ndarray, int]:
    p = _probs(probs)
    if p.shape[1] < 2:
        raise ValueError(f"probs must have at least 2 classes along axis 1, got shape {p.shape}")
    lab = _labels(labels, "labels", (p.shape[0],) + p.shape[2:], p.shape[1])
    m = as_int(n_bins, "n_bins", low=1, high=10_000)
    confidence = p.max(axis=1).ravel()
    correct = (p.argmax(axis=1) == lab).ravel().astype(np.float64)
    return confidence, correct, m


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    # bin m holds m/M <= c < (m+1)/M, and a confidence of exactly 1 is a bin (index M) of its
    # own: torchmetrics' torch.bucketize(c, linspace(0, 1, M + 1), right=True) - 1
    return np.floor(confidence * n_bins).astype(np.int64)


def _score_pair(uncertainty, errors) -> tuple[np.ndarray, np.ndarray]:
    u = as_array(uncertainty, "uncertainty", real=True).ravel()
    e_raw = np.asarray(errors) if not isinstance(errors, (str, bytes)) else None
    if e_raw is None or e_raw.dtype.kind not in "biuf":
        raise TypeError(f"errors must be a boolean or 0/1 array, got {type(errors).__name__}")
    e = as_array(e_raw, "errors", real=True).ravel()
    if not np.all((e == 0) | (e == 1)):
        raise ValueError("errors must be boolean (1 where the prediction is wrong)")
    if e.size != u.size:
        raise ValueError(f"uncertainty and errors must have the same number of elements, got "
                         f"{u.size} and {e.size}")
    return u, e.astype(bool)


# --- aleatoric uncertainty ----------------------------------------------------------------------

def gaussian_nll(mean, log_var, target, *, reduction: str = "mean",
                 full: bool = False) -> torch.Tensor:
    """Heteroscedastic Gaussian negative log-likelihood of a target given a mean and log-variance.

    Parameters
    ----------
    mean, log_var, target : torch.Tensor or array_like, same shape
        Predicted mean, predicted natural log of the variance, and the observed target, per
        element (e.g. (N, 1, H, W)). Tensors keep their graph (the loss to train with).
    reduction : {"mean", "sum", "none"}, optional
        Mean over all elements (default), sum, or the per-element losses.
    full : bool, optional
        Add the constant :math:`\\tfrac12 \\log 2\\pi` per element (default False).

    Returns
    -------
    torch.Tensor
        The loss: 0-dim, or of the inputs' shape for ``reduction="none"``.

    Raises
    ------
    TypeError
        If an input is not real, or ``full`` is not a bool.
    ValueError
        If an input is empty or not finite, the shapes differ, or ``reduction`` is unknown.

    Notes
    -----
    Per element, with :math:`s_i = \\log \\sigma_i^2` predicted (Kendall and Gal 2017):

    .. math::

        \\ell_i = \\tfrac12 s_i + \\tfrac12 (y_i - \\mu_i)^2 e^{-s_i}
        \\;\\Big(+ \\tfrac12 \\log 2\\pi\\Big)

    :formula:`trust.gaussian-nll`

    Predicting the log-variance keeps the variance positive without a clamp. PyTorch's
    :class:`torch.nn.GaussianNLLLoss` takes the variance itself and clamps it below at ``eps``
    (default 1e-6) for stability; with variances above ``eps`` and ``full`` alike the two agree
    (the course's tests check it). A small error with a large predicted variance costs
    :math:`\\tfrac12 s`; a large error with a small one costs its squared error magnified: the
    network learns to predict a large variance exactly where it cannot predict the mean.

    References
    ----------
    A. Kendall, Y. Gal, "What uncertainties do we need in Bayesian deep learning for computer
    vision?", NeurIPS 2017. D. A. Nix, A. S. Weigend, "Estimating the mean and variance of the
    target probability distribution", ICNN 1994.
    """
    mu = _tensor(mean, "mean")
    s = _tensor(log_var, "log_var")
    y = _tensor(target, "target")
    for name, t in (("log_var", s), ("target", y)):
        if tuple(t.shape) != tuple(mu.shape):
            raise ValueError(f"mean and {name} must have the same shape, got {tuple(mu.shape)} "
                             f"and {tuple(t.shape)}")
    red = as_choice(reduction, "reduction", _REDUCTIONS)
    if not isinstance(full, (bool, np.bool_)):
        raise TypeError(f"full must be True or False, got {type(full).__name__}")
    dtype = torch.promote_types(torch.promote_types(mu.dtype, s.dtype), y.dtype)
    mu, s, y = mu.to(dtype), s.to(dtype), y.to(dtype)
    loss = 0.5 * s + 0.5 * (y - mu) ** 2 * torch.exp(-s)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    if red == "mean":
        return loss.mean()
    if red == "sum":
        return loss.sum()
    return loss


class HeteroscedasticDnCNN(torch.nn.Module):
    """A DnCNN that predicts a denoised image and a log-variance per pixel (two heads).

    Parameters
    ----------
    channels : int, optional
        Hidden channels, 1 to 256 (default 16).
    depth : int, optional
        Convolution layers of the mean path, 2 to 32 (default 5), as :class:`DnCNN`.
    seed : int, optional
        Seed of the initial weights (drawn under :func:`torch.random.fork_rng`; the global random
        state is untouched), default 0.

    Notes
    -----
    The mean head is Part III's :class:`~medlib.restoration.DnCNN` unchanged (its weights are
    those of ``DnCNN(channels, depth, seed=seed)``): :math:`\\mu = x - R_\\theta(x)`. The
    log-variance head is one more 3x3 convolution on the DnCNN's last hidden features, so both
    outputs share the same receptive field. The forward pass returns (N, 2, H, W): channel 0
    the mean, channel 1 the log-variance :math:`s = \\log \\sigma^2`, in the units of the
    input squared (the course feeds HU / 1000). Train with :func:`gaussian_nll`. The
    log-variance head starts at zero weight and a bias of ``log(0.05**2)``: a uniform sigma of
    50 HU, the order of low-dose CT noise, so the first steps are not dominated by
    :math:`e^{-s}` blowing up.

    References
    ----------
    A. Kendall, Y. Gal, NeurIPS 2017 (heteroscedastic regression); K. Zhang et al., IEEE TIP
    26(7), 2017 (DnCNN).
    """

    def __init__(self, channels: int = 16, depth: int = 5, *, seed: int = 0):
        super().__init__()
        self.dncnn = DnCNN(channels, depth, seed=seed)
        c = self.dncnn.channels
        with torch.random.fork_rng(devices=[]):     # the caller's random state is untouched
            self.log_var_head = torch.nn.Conv2d(c, 1, 3, padding=1)
        with torch.no_grad():
            self.log_var_head.weight.zero_()
            self.log_var_head.bias.fill_(float(np.log(0.05 ** 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 2, H, W): the mean ``x - R(x)`` and the log-variance, from (N, 1, H, W)."""
        features = self.dncnn.body[:-1](x)
        mean = x - self.dncnn.body[-1](features)
        return torch.cat([mean, self.log_var_head(features)], dim=1)


def sigma_calibration(sigma, error, *, n_bins: int = 10):
    """Predicted sigma against the actual error, in bins of equal count (regression calibration).

    Parameters
    ----------
    sigma : array_like
        Predicted standard deviations, >= 0, any shape.
    error : array_like
        Actual errors (prediction - truth), same number of elements.
    n_bins : int, optional
        Number of bins, 1 to 1000 (default 10): the pixels sorted by ``sigma`` are cut into
        ``n_bins`` groups of (nearly) equal count.

    Returns
    -------
    mean_sigma, rmse, count : numpy.ndarray, shape (n_bins,)
        Root-mean-square predicted sigma of each bin, the root-mean-square actual error of each
        bin, and the number of pixels.

    Raises
    ------
    ValueError
        If an input is not finite, ``sigma`` is negative, the sizes differ or there are fewer
        elements than bins.

    Notes
    -----
    A calibrated regressor has :math:`\\mathrm{RMSE}(B_m) = \\sqrt{\\overline{\\sigma^2}}(B_m)`
    in every bin: the points of ``rmse`` against ``mean_sigma`` lie on the diagonal (Levi et al.
    2022, "Evaluating and calibrating uncertainty prediction in regression tasks").
    """
    s = as_array(sigma, "sigma", low=0.0, real=True).ravel()
    e = as_array(error, "error", real=True).ravel()
    if e.size != s.size:
        raise ValueError(f"sigma and error must have the same number of elements, got {s.size} "
                         f"and {e.size}")
    m = as_int(n_bins, "n_bins", low=1, high=1000)
    if s.size < m:
        raise ValueError(f"n_bins ({m}) must not exceed the number of elements ({s.size})")
    order = np.argsort(s, kind="stable")
    groups = np.array_split(order, m)
    mean_sigma = np.array([np.sqrt(np.mean(s[g] ** 2)) for g in groups])
    rmse = np.array([np.sqrt(np.mean(e[g] ** 2)) for g in groups])
    count = np.array([g.size for g in groups])
    return mean_sigma, rmse, count


# --- epistemic uncertainty: several predictions -------------------------------------------------

def mc_dropout_predict(model, x, n_samples: int, seed: int, *,
                       activation: str = "softmax") -> np.ndarray:
    """Monte Carlo dropout: ``n_samples`` forward passes with dropout on and batch norm frozen.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network with dropout layers (e.g. ``segmentation.UNet(..., dropout=0.2)``).
        Its modes are restored afterwards; its weights are not changed.
    x : array_like or torch.Tensor, shape (N, C, H, W)
        Input batch (within float32's range).
    n_samples : int
        Number of stochastic passes T, 1 to 1000.
    seed : int
        Seed of the dropout masks, drawn under :func:`torch.random.fork_rng` (the caller's global
        random state is untouched; the same seed gives the same samples).
    activation : {"softmax", "sigmoid", "none"}, optional
        Applied to each output: softmax over the class axis (default), sigmoid, or none.

    Returns
    -------
    numpy.ndarray of float64, shape (T, N, K, H, W)
        One prediction per pass.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        On a bad input, ``n_samples``, ``seed`` or ``activation``.

    Notes
    -----
    Every module is put in evaluation mode (batch normalisation uses its running statistics),
    then the dropout modules back in training mode: the samples differ only by the dropout
    masks. Gal and Ghahramani (2016) read the passes as samples of an approximate posterior
    over the weights; their spread is the epistemic part of the uncertainty. With no active
    dropout layer (p = 0) all passes are equal.

    References
    ----------
    Y. Gal, Z. Ghahramani, "Dropout as a Bayesian approximation: representing model uncertainty
    in deep learning", ICML 2016.
    """
    net = _model(model)
    t = as_int(n_samples, "n_samples", low=1, high=_MAX_SAMPLES)
    s = as_int(seed, "seed", low=0, high=2 ** 63 - 1)
    act = as_choice(activation, "activation", _ACTIVATIONS)
    xb = _images(x)
    modes = {m: m.training for m in net.modules()}
    out = []
    try:
        net.eval()
        for m in net.modules():
            if isinstance(m, _DROPOUT):
                m.train()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(s)
            for _ in range(t):
                out.append(_activate(net(xb), act))
    finally:
        for m, mode in modes.items():
            m.train(mode)
    return np.stack(out)


def ensemble_predict(models, x, *, activation: str = "softmax") -> np.ndarray:
    """The predictions of a deep ensemble: each member in evaluation mode on the same batch.

    Parameters
    ----------
    models : sequence of torch.nn.Module
        The members (the same architecture trained from different seeds), at least one.
    x : array_like or torch.Tensor, shape (N, C, H, W)
        Input batch.
    activation : {"softmax", "sigmoid", "none"}, optional
        Applied to each output (default softmax over the class axis).

    Returns
    -------
    numpy.ndarray of float64, shape (M, N, K, H, W)
        One prediction per member.

    Raises
    ------
    TypeError
        If ``models`` is not a sequence of modules.
    ValueError
        On a bad input or ``activation``, or an empty ``models``.

    Notes
    -----
    Lakshminarayanan et al. (2017): members differ by their random initialisation and batch
    order; the spread of their predictions measures what the training data do not pin down.
    Each member's mode is restored afterwards.

    References
    ----------
    B. Lakshminarayanan, A. Pritzel, C. Blundell, "Simple and scalable predictive uncertainty
    estimation using deep ensembles", NeurIPS 2017.
    """
    if isinstance(models, torch.nn.Module) or not isinstance(models, (list, tuple)):
        raise TypeError(f"models must be a list or tuple of torch.nn.Module, got "
                        f"{type(models).__name__}")
    if not models:
        raise ValueError("models is empty: an ensemble needs at least one member")
    nets = [_model(m, f"models[{i}]") for i, m in enumerate(models)]
    act = as_choice(activation, "activation", _ACTIVATIONS)
    xb = _images(x)
    out = []
    for net in nets:
        mode = net.training
        try:
            net.eval()
            with torch.no_grad():
                out.append(_activate(net(xb), act))
        finally:
            net.train(mode)
    return np.stack(out)


# the eight symmetries of the square: (forward, inverse) on the last two axes
_TRANSFORMS = {
    "identity": (lambda t: t, lambda t: t),
    "flip_rows": (lambda t: torch.flip(t, (-2,)), lambda t: torch.flip(t, (-2,))),
    "flip_cols": (lambda t: torch.flip(t, (-1,)), lambda t: torch.flip(t, (-1,))),
    "rot90": (lambda t: torch.rot90(t, 1, (-2, -1)), lambda t: torch.rot90(t, -1, (-2, -1))),
    "rot180": (lambda t: torch.rot90(t, 2, (-2, -1)), lambda t: torch.rot90(t, -2, (-2, -1))),
    "rot270": (lambda t: torch.rot90(t, 3, (-2, -1)), lambda t: torch.rot90(t, -3, (-2, -1))),
    "transpose": (lambda t: t.transpose(-2, -1), lambda t: t.transpose(-2, -1)),
    "antitranspose": (lambda t: torch.rot90(t, 2, (-2, -1)).transpose(-2, -1),
                      lambda t: torch.rot90(t.transpose(-2, -1), -2, (-2, -1))),
}
TTA_TRANSFORMS = tuple(_TRANSFORMS)


def tta_predict(model, x, transforms=("identity", "flip_rows", "flip_cols", "rot180"), *,
                activation: str = "softmax") -> np.ndarray:
    """Test-time augmentation: predict transformed copies and undo each transform on the output.

    Parameters
    ----------
    model : torch.nn.Module
        A trained network, run in evaluation mode (its mode is restored afterwards).
    x : array_like or torch.Tensor, shape (N, C, H, W)
        Input batch; square images for the rotations by 90 and 270 degrees and the transposes.
    transforms : sequence of str, optional
        Symmetries of the square, applied to the two image axes (rows, cols): ``"identity"``,
        ``"flip_rows"`` (upside down), ``"flip_cols"`` (left-right), ``"rot90"``, ``"rot180"``,
        ``"rot270"`` (counter-clockwise), ``"transpose"``, ``"antitranspose"``. Default: the
        identity, both flips and the half turn.
    activation : {"softmax", "sigmoid", "none"}, optional
        Applied to each output before the inverse transform (default softmax).

    Returns
    -------
    numpy.ndarray of float64, shape (K, N, K_out, H, W)
        One prediction per transform, each mapped back to the input's orientation.

    Raises
    ------
    TypeError
        If ``model`` is not a module or ``transforms`` not a sequence of names.
    ValueError
        On an unknown or empty list of transforms, a non-square image with a transform that
        needs one, or a bad input.

    Notes
    -----
    The prediction of the transformed image, :math:`g^{-1} f(g x)`, equals :math:`f(x)` for a
    network equivariant to :math:`g`; a convolutional network is not exactly, so the spread
    over :math:`g` measures how much the prediction depends on orientation (Wang et al. 2019
    call it aleatoric, being a spread over plausible inputs). Each inverse is exact (a
    permutation of pixels): the identity model gives back its input under every transform.

    References
    ----------
    G. Wang, W. Li, M. Aertsen, J. Deprest, S. Ourselin, T. Vercauteren, "Aleatoric uncertainty
    estimation with test-time augmentation for medical image segmentation with convolutional
    neural networks", Neurocomputing 338, 34-45, 2019.
    """
    net = _model(model)
    if isinstance(transforms, (str, bytes)) or not isinstance(transforms, (list, tuple)):
        raise TypeError(f"transforms must be a list or tuple of names from {TTA_TRANSFORMS}, got "
                        f"{type(transforms).__name__}")
    if not transforms:
        raise ValueError("transforms is empty: give at least one, e.g. ('identity',)")
    for name in transforms:
        as_choice(name, "transforms", TTA_TRANSFORMS)
    act = as_choice(activation, "activation", _ACTIVATIONS)
    xb = _images(x)
    square = {"rot90", "rot270", "transpose", "antitranspose"}
    if xb.shape[-1] != xb.shape[-2] and square.intersection(transforms):
        raise ValueError(f"transforms {sorted(square.intersection(transforms))} need square "
                         f"images, got x of shape {tuple(xb.shape)}")
    mode = net.training
    out = []
    try:
        net.eval()
        with torch.no_grad():
            for name in transforms:
                forward, inverse = _TRANSFORMS[name]
                y = net(forward(xb))
                if act == "softmax":
                    y = torch.softmax(y, dim=1)
                elif act == "sigmoid":
                    y = torch.sigmoid(y)
                out.append(inverse(y).double().numpy())
    finally:
        net.train(mode)
    return np.stack(out)


def predictive_moments(probs) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over T predictions (samples along axis 0).

    Parameters
    ----------
    probs : array_like, shape (T, ...)
        T predictions of the same quantity (probabilities or regression outputs), T >= 1.

    Returns
    -------
    mean, variance : numpy.ndarray, shape probs.shape[1:]
        :math:`\\bar p` and the (biased, 1/T) variance.

    Raises
    ------
    ValueError
        If ``probs`` is not finite or has fewer than 2 dimensions.

    Notes
    -----
    .. math::

        \\bar p = \\frac{1}{T} \\sum_t p_t, \\qquad
        \\widehat{\\operatorname{Var}}[p] = \\frac{1}{T} \\sum_t (p_t - \\bar p)^2

    :formula:`trust.predictive-moments`

    The 1/T normalisation (``numpy.var``'s default, ``ddof=0``) is that of Gal and Ghahramani
    (2016) and of Kendall and Gal (2017); ``torch.var`` defaults to 1/(T - 1).
    """
    p = as_array(probs, "probs", real=True)
    if p.ndim < 2:
        raise ValueError(f"probs must have shape (T, ...) with at least 2 dimensions, got "
                         f"{p.shape}")
    mean = p.mean(axis=0)
    return mean, np.mean((p - mean) ** 2, axis=0)


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
    return -np.sum(special.xlogy(p, p), axis=axis)


def entropy_decomposition(probs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictive entropy, expected entropy (aleatoric) and mutual information (epistemic).

    Parameters
    ----------
    probs : array_like, shape (T, N, K, ...)
        T predictions of class probabilities (K classes on axis 2, each summing to 1).

    Returns
    -------
    total, expected, mutual_information : numpy.ndarray, shape (N, ...)
        :math:`\\mathcal H[\\bar p]`, :math:`\\frac1T\\sum_t \\mathcal H[p_t]` and their
        difference, in nats (>= 0 by Jensen's inequality; clipped at 0 against rounding).

    Raises
    ------
    ValueError
        If ``probs`` has fewer than 3 dimensions, values outside [0, 1], or class probabilities
        that do not sum to 1 (within 1e-4).

    Notes
    -----
    .. math::

        \\mathcal H[\\bar p] = \\frac1T \\sum_{t=1}^T \\mathcal H[p_t] + \\mathcal I,
        \\qquad \\mathcal H[p] = -\\sum_c p_c \\log p_c

    :formula:`trust.entropy-decomposition`

    The mutual information :math:`\\mathcal I` between the label and the weights (the BALD
    score of Houlsby et al. 2011) is large where the samples disagree, each being confident;
    the expected entropy is large where every sample is unsure (Depeweg et al. 2018). Identical
    samples give :math:`\\mathcal I = 0`; two confident opposite samples give
    :math:`\\log 2`. With :math:`0 \\log 0 = 0`.

    References
    ----------
    N. Houlsby, F. Huszar, Z. Ghahramani, M. Lengyel, "Bayesian active learning for
    classification and preference learning", arXiv:1112.5745, 2011. S. Depeweg et al.,
    "Decomposition of uncertainty in Bayesian deep learning", ICML 2018.
    """
    p = _probs(probs, min_ndim=3)
    if np.max(np.abs(p.sum(axis=2) - 1.0)) > 1e-4:
        raise ValueError("probs must sum to 1 over the class axis (axis 2 of (T, N, K, ...))")
    total = _entropy(p.mean(axis=0), axis=1)
    expected = _entropy(p, axis=2).mean(axis=0)
    return total, expected, np.maximum(total - expected, 0.0)


# --- calibration --------------------------------------------------------------------------------

def reliability_curve(probs, labels, *, n_bins: int = 15):
    """Per-bin accuracy, mean confidence and count of the top-label confidence.

    Parameters
    ----------
    probs : array_like, shape (N, K, ...)
        Class probabilities (K >= 2 classes on axis 1); every pixel is a prediction.
    labels : array_like of int, shape (N, ...)
        True class indices.
    n_bins : int, optional
        Equal-width bins of [0, 1], 1 to 10000 (default 15).

    Returns
    -------
    accuracy, confidence, count : numpy.ndarray, shape (n_bins + 1,)
        Fraction correct, mean confidence (NaN in an empty bin) and number of predictions per
        bin; bin m < n_bins holds confidences in [m/M, (m+1)/M), and the last entry those equal
        to 1 exactly (torchmetrics' convention, see :func:`expected_calibration_error`).

    Raises
    ------
    TypeError
        If ``labels`` is not an integer array.
    ValueError
        If the shapes do not match, a probability is outside [0, 1], a label is out of range,
        or ``n_bins`` is out of range.
    """
    confidence, correct, m = _top_label(probs, labels, n_bins)
    idx = _bin_index(confidence, m)
    count = np.bincount(idx, minlength=m + 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(idx, weights=correct, minlength=m + 1) / count
        conf = np.bincount(idx, weights=confidence, minlength=m + 1) / count
    return acc, conf, count.astype(np.int64)


def expected_calibration_error(probs, labels, *, n_bins: int = 15) -> float:
    """Top-label expected calibration error with equal-width bins.

    Parameters
    ----------
    probs : array_like, shape (N, K, ...)
        Class probabilities (K >= 2 on axis 1); every pixel counts as one prediction.
    labels : array_like of int, shape (N, ...)
        True class indices.
    n_bins : int, optional
        Number of equal-width confidence bins M, 1 to 10000 (default 15, as torchmetrics).

    Returns
    -------
    float
        The ECE, in [0, 1].

    Raises
    ------
    TypeError
        If ``labels`` is not an integer array.
    ValueError
        As :func:`reliability_curve`.

    Notes
    -----
    With the confidence :math:`c_i = \\max_k p_{ik}`, the prediction
    :math:`\\hat y_i = \\arg\\max_k p_{ik}`, and :math:`B_m` the predictions whose confidence
    falls in bin m (Naeini et al. 2015; Guo et al. 2017):

    .. math::

        \\mathrm{ECE} = \\sum_{m=1}^{M} \\frac{|B_m|}{n}
        \\big| \\mathrm{acc}(B_m) - \\mathrm{conf}(B_m) \\big|

    :formula:`trust.ece`

    Binning follows torchmetrics' ``MulticlassCalibrationError(num_classes, n_bins, norm="l1")``:
    ``torch.bucketize(c, linspace(0, 1, M + 1), right=True) - 1``, i.e. bins closed on the left,
    :math:`[m/M, (m+1)/M)` (here :math:`\\lfloor M c \\rfloor`, free of the rounding of a
    float32 ``linspace``), and a confidence of exactly 1 (a saturated softmax in float32) in an
    extra bin of its own. Guo et al. write bins closed on the right,
    :math:`((m-1)/M, m/M]`; the two differ only for confidences on an edge. torchmetrics'
    ``BinaryCalibrationError`` is another quantity: it bins the probability of the positive
    class (not the top-label confidence) against the label. The ECE depends on M, is biased
    upwards for small bins, and can be zero for a useless classifier that predicts the class
    frequencies: read it with the reliability diagram.

    References
    ----------
    M. P. Naeini, G. F. Cooper, M. Hauskrecht, "Obtaining well calibrated probabilities using
    Bayesian binning", AAAI 2015. C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration
    of modern neural networks", ICML 2017.
    """
    acc, conf, count = reliability_curve(probs, labels, n_bins=n_bins)
    used = count > 0
    return float(np.sum(count[used] / count.sum() * np.abs(acc[used] - conf[used])))


def _logits(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    z = as_array(logits, "logits", real=True)
    if z.ndim < 2 or z.shape[1] < 2:
        raise ValueError(f"logits must have shape (N, K, ...) with K >= 2 classes, got "
                         f"{z.shape}")
    if np.max(np.abs(z)) > 1e100:
        raise ValueError("logits must be below 1e100 in magnitude")
    lab = _labels(labels, "labels", (z.shape[0],) + z.shape[2:], z.shape[1])
    z = np.moveaxis(z, 1, -1).reshape(-1, z.shape[1])
    return z, lab.ravel()


def temperature_scale(logits, temperature: float) -> np.ndarray:
    """Class probabilities ``softmax(logits / T)`` over axis 1.

    Parameters
    ----------
    logits : array_like, shape (N, K, ...)
        Unnormalised scores (K classes on axis 1).
    temperature : float
        T > 0 (T > 1 softens over-confident predictions), up to 1e6.

    Returns
    -------
    numpy.ndarray of float64, shape of ``logits``

    Raises
    ------
    ValueError
        If ``logits`` is not finite or ``temperature`` is out of range.

    Notes
    -----
    :formula:`trust.temperature-scaling` (see :func:`fit_temperature`). Dividing by one T > 0
    does not change the arg max: accuracy is untouched, only the confidence moves.
    """
    z = as_array(logits, "logits", real=True)
    if z.ndim < 2:
        raise ValueError(f"logits must have shape (N, K, ...), got {z.shape}")
    t = as_scalar(temperature, "temperature", low=0.0, low_inclusive=False, high=1e6)
    if np.max(np.abs(z)) / t > 1e300:
        raise ValueError("logits / temperature overflows: use a larger temperature")
    return special.softmax(z / t, axis=1)


def fit_temperature(logits, labels) -> float:
    """The temperature that minimises the negative log-likelihood of held-out labels.

    Parameters
    ----------
    logits : array_like, shape (N, K, ...)
        Validation logits (K >= 2 classes on axis 1; every pixel is one prediction), from data
        the network was not trained on and that is not the test set.
    labels : array_like of int, shape (N, ...)
        Their true class indices.

    Returns
    -------
    float
        :math:`T^*` in [exp(-6), exp(6)] (about 0.0025 to 403).

    Raises
    ------
    TypeError
        If ``labels`` is not an integer array.
    ValueError
        If the shapes do not match, the logits are not finite, or a label is out of range.

    Notes
    -----
    .. math::

        \\hat p = \\operatorname{softmax}(z / T), \\qquad
        T^{*} = \\arg\\min_{T > 0} -\\sum_{n} \\log \\operatorname{softmax}(z_n / T)_{y_n}

    :formula:`trust.temperature-scaling`

    The NLL is convex in :math:`\\beta = 1/T` (a log-sum-exp of functions linear in
    :math:`\\beta`, minus a linear one), hence unimodal in :math:`\\log T`: a bounded Brent
    search over :math:`\\log T \\in [-6, 6]` (:func:`scipy.optimize.minimize_scalar`, to
    1e-6) finds the minimum deterministically, with no learning rate to tune. Guo et al. fit T
    with LBFGS on the same objective.

    References
    ----------
    C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, "On calibration of modern neural networks",
    ICML 2017.
    """
    z, y = _logits(logits, labels)
    target = z[np.arange(y.size), y]

    def nll(log_t: float) -> float:
        b = np.exp(-log_t)
        return float(np.mean(special.logsumexp(b * z, axis=1) - b * target))

    res = optimize.minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded",
                                   options={"xatol": 1e-6})
    return float(np.exp(res.x))


# --- does uncertainty point at errors? ----------------------------------------------------------

def error_detection_auroc(uncertainty, errors) -> float:
    """Area under the ROC curve of uncertainty as a detector of wrong predictions.

    Parameters
    ----------
    uncertainty : array_like
        One uncertainty per prediction (entropy, mutual information, 1 - confidence, a variance),
        any shape.
    errors : array_like of bool or 0/1
        True where the prediction is wrong; as many elements, with both values present.

    Returns
    -------
    float
        The probability that a random wrong prediction has a higher uncertainty than a random
        right one (ties count one half): 0.5 is chance, 1 a perfect detector.

    Raises
    ------
    TypeError
        If ``errors`` is not boolean or numeric.
    ValueError
        If the sizes differ, a value is not finite, ``errors`` is not 0/1, or it holds only one
        class.

    Notes
    -----
    By the rank statistic (Mann-Whitney U): with :math:`R_+` the sum of the mid-ranks of the
    errors' uncertainties among all n, :math:`n_+` errors and :math:`n_-` correct predictions,

    .. math::

        \\mathrm{AUROC} = \\frac{R_+ - n_+ (n_+ + 1)/2}{n_+ n_-}

    equal to ``scipy.stats.mannwhitneyu(u[errors], u[~errors]).statistic / (n_+ n_-)`` and to
    torchmetrics' ``BinaryAUROC`` (the trapezoidal area of the ROC curve).

    References
    ----------
    J. A. Hanley, B. J. McNeil, "The meaning and use of the area under a receiver operating
    characteristic (ROC) curve", Radiology 143, 29-36, 1982.
    """
    u, e = _score_pair(uncertainty, errors)
    n_pos = int(e.sum())
    n_neg = e.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("errors must contain both wrong (1) and right (0) predictions")
    ranks = stats.rankdata(u)
    return float((ranks[e].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def risk_coverage(uncertainty, errors) -> tuple[np.ndarray, np.ndarray]:
    """Risk-coverage curve of selective prediction: keep the most certain predictions first.

    Parameters
    ----------
    uncertainty : array_like
        One uncertainty per prediction, any shape.
    errors : array_like of bool or 0/1
        True where the prediction is wrong; as many elements.

    Returns
    -------
    coverage, risk : numpy.ndarray of float64
        For each distinct uncertainty threshold u (ascending), the fraction of predictions with
        uncertainty <= u, and the error rate among them. The last point is coverage 1 with the
        overall error rate.

    Raises
    ------
    TypeError
        If ``errors`` is not boolean or numeric.
    ValueError
        If the sizes differ, a value is not finite or ``errors`` is not 0/1.

    Notes
    -----
    A system that abstains on (refers to a human) the predictions above a threshold trades
    coverage for risk (Geifman and El-Yaniv 2017). Tied uncertainties are kept or dropped
    together, so the curve does not depend on the order of ties. A useful uncertainty gives a
    risk that falls as coverage falls; the area under the curve (AURC) summarises it.

    References
    ----------
    Y. Geifman, R. El-Yaniv, "Selective classification for deep neural networks", NeurIPS 2017.
    """
    u, e = _score_pair(uncertainty, errors)
    order = np.argsort(u, kind="stable")
    u_sorted, e_sorted = u[order], e[order].astype(np.float64)
    cum = np.cumsum(e_sorted)
    last = np.r_[u_sorted[1:] != u_sorted[:-1], True]     # the end of each group of ties
    k = np.flatnonzero(last) + 1
    return k / u.size, cum[k - 1] / k

