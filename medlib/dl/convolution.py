"""Convolutional layers from their formula, in NumPy: what ``torch.nn.Conv2d``/``Conv3d`` compute.

Taught in ``chapters/dl-formulas/convolution.ipynb`` (section 9.1 of the key formulas). PyTorch is
the independent reference in the tests; this module does not import it.

A layer's "convolution" is a cross-correlation summed over input channels, evaluated every S
samples (stride), on an input padded with P zeros, with kernel taps D samples apart (dilation):

    y[n, o, i] = b[o] + sum_c sum_m x[n, c, S i + D m - P] w[o, c, m]

:mod:`medlib.sampling` holds the single-channel signal-processing versions
(:func:`~medlib.sampling.convolve`, :func:`~medlib.sampling.correlate`); with one channel, stride
1, no padding and no dilation :func:`conv_layer` equals ``sampling.correlate(..., mode="valid")``.
"""
from __future__ import annotations

import itertools

import numpy as np

from .._validate import as_array, as_bool, as_int, check_size

__all__ = ["conv2d", "conv3d", "conv_layer", "output_size"]


def output_size(n_in: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> int:
    """Number of outputs of a convolution along one axis.

    Parameters
    ----------
    n_in : int
        Input size H_in (or W_in, D_in), >= 1.
    kernel_size : int
        K >= 1.
    stride : int, optional
        S >= 1 (default 1).
    padding : int, optional
        P >= 0 zeros added on *each* side (default 0).
    dilation : int, optional
        D >= 1, the spacing between kernel taps (default 1); the kernel spans D (K - 1) + 1
        samples.

    Returns
    -------
    int
        floor((n_in + 2P - D (K - 1) - 1) / S) + 1, as ``torch.nn.Conv2d`` documents.

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If an argument is out of range, or the dilated kernel does not fit in the padded input.

    Notes
    -----
    :formula:`dl.output-size-h`, :formula:`dl.output-size-w` and :formula:`dl.output-size-d`
    (the same formula along each axis). The seed's (H_in - K + 2P) / S + 1 lacks the floor: with
    H_in = 64, K = 3, P = 1, S = 2 it gives 32.5, while a layer returns 32 outputs (the last
    partial step is dropped).
    """
    n = as_int(n_in, "n_in", low=1)
    k = as_int(kernel_size, "kernel_size", low=1)
    s = as_int(stride, "stride", low=1)
    p = as_int(padding, "padding", low=0)
    d = as_int(dilation, "dilation", low=1)
    span = d * (k - 1) + 1
    if span > n + 2 * p:
        raise ValueError(f"the kernel spans {span} samples (kernel_size {k}, dilation {d}), more "
                         f"than the padded input n_in + 2 padding = {n + 2 * p}")
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _per_axis(value, name: str, ndim: int, low: int) -> tuple[int, ...]:
    if np.ndim(value) == 0:
        return (as_int(value, name, low=low),) * ndim
    values = tuple(value)
    if len(values) != ndim:
        raise ValueError(f"{name} must be one integer or {ndim} integers, got {len(values)}")
    return tuple(as_int(v, name, low=low) for v in values)


def conv_layer(x, weight, bias=None, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    """A convolution layer's forward pass, from its formula (1, 2 or 3 spatial dimensions).

    Parameters
    ----------
    x : array_like, shape (N, C_in) + spatial
        A batch of N inputs with C_in channels; spatial is (L,), (H, W) or (D, H, W).
    weight : array_like, shape (C_out, C_in) + kernel
        One kernel per pair of output and input channels (PyTorch's layout).
    bias : array_like, shape (C_out,), optional
        Added to every output of channel o (default none).
    stride, padding, dilation : int or tuple of int, optional
        S >= 1, P >= 0 (zeros on each side), D >= 1; one value for all spatial axes or one per
        axis (defaults 1, 0, 1).

    Returns
    -------
    numpy.ndarray of float64, shape (N, C_out) + out
        out along each axis as :func:`output_size`. Equals
        ``torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation)`` (conv1d,
        conv3d for other dimensions).

    Raises
    ------
    ValueError
        On inconsistent shapes (channels, dimensions, bias), out-of-range stride, padding or
        dilation, a dilated kernel larger than the padded input, or a padded input of more than
        2**28 elements.
    TypeError
        If stride, padding or dilation are not integers.

    Notes
    -----
    :formula:`dl.conv-layer` -- :math:`y[n, o, \\mathbf{i}] = b_o + \\sum_c \\sum_{\\mathbf{m}}
    x[n, c, S\\mathbf{i} + D\\mathbf{m} - P]\\, w[o, c, \\mathbf{m}]`: a cross-correlation (the
    kernel is not flipped). One vectorised pass per kernel tap: the tap's strided window of the
    padded input, for all positions, batches and channels at once, contracted with the (C_out,
    C_in) matrix of weights of that tap.
    """
    xa = as_array(x, "x")
    w = as_array(weight, "weight")
    if xa.ndim not in (3, 4, 5):
        raise ValueError(f"x must have shape (N, C_in, *spatial) with 1-3 spatial axes, got "
                         f"{xa.shape}")
    d = xa.ndim - 2
    if w.ndim != xa.ndim:
        raise ValueError(f"weight must have shape (C_out, C_in, *kernel) with {d} kernel axes "
                         f"for x of shape {xa.shape} ({d} spatial axes), got {w.shape}")
    if w.shape[1] != xa.shape[1]:
        raise ValueError(f"weight expects {w.shape[1]} input channels (weight.shape[1]) but x "
                         f"has {xa.shape[1]} (x.shape[1])")
    c_out = w.shape[0]
    b = np.zeros(c_out) if bias is None else as_array(bias, "bias", shape=(c_out,))
    strides = _per_axis(stride, "stride", d, 1)
    pads = _per_axis(padding, "padding", d, 0)
    dils = _per_axis(dilation, "dilation", d, 1)
    ksize = w.shape[2:]
    check_size(xa.shape[:2] + tuple(n + 2 * p for n, p in zip(xa.shape[2:], pads)), "padding")
    out_shape = tuple(output_size(n, k, stride=s, padding=p, dilation=dl)
                      for n, k, s, p, dl in zip(xa.shape[2:], ksize, strides, pads, dils))
    xp = np.pad(xa, [(0, 0), (0, 0)] + [(p, p) for p in pads])
    out = np.zeros((xa.shape[0], c_out) + out_shape)
    for tap in itertools.product(*(range(k) for k in ksize)):
        # Output i reads padded input S i + D m (= S i + D m - P in unpadded indices).
        window = tuple(slice(dl * m, dl * m + s * (o - 1) + 1, s)
                       for m, dl, s, o in zip(tap, dils, strides, out_shape))
        patch = xp[(slice(None), slice(None)) + window]            # (N, C_in, *out)
        out += np.einsum("nc...,oc->no...", patch, w[(slice(None), slice(None)) + tap])
    return out + b.reshape((1, c_out) + (1,) * d)


def _flipped(weight) -> np.ndarray:
    w = as_array(weight, "weight")
    if w.ndim < 3:
        raise ValueError(f"weight must have shape (C_out, C_in, *kernel), got {w.shape}")
    return w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)]


def conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1,
           flip: bool = False) -> np.ndarray:
    """2D convolution layer on a batch of images, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, H, W)
    weight : array_like, shape (C_out, C_in, K_h, K_w)
    bias : array_like, shape (C_out,), optional
    stride, padding, dilation : int or pair of int, optional
        As :func:`conv_layer`.
    flip : bool, optional
        False (default): what a layer computes, a cross-correlation. True: a true convolution,
        the seed's formula: the kernel is flipped along both spatial axes first.

    Returns
    -------
    numpy.ndarray of float64, shape (N, C_out, H_out, W_out)

    Raises
    ------
    TypeError
        If ``flip`` is not True or False (a string such as 'False' is refused).
    ValueError
        If ``x`` is not 4D, or as :func:`conv_layer`.

    Notes
    -----
    :formula:`dl.conv2d` -- :math:`y(i,j) = \\sum_m \\sum_n x(i-m, j-n)\\,k(m,n)` is the
    ``flip=True`` case (with ``padding = K - 1`` it is the "full" convolution of
    :func:`medlib.sampling.convolve`). A network learns its kernels, so the flip does not matter
    in training; it matters when a classical filter is copied into a layer.
    """
    xa = as_array(x, "x")
    if xa.ndim != 4:
        raise ValueError(f"x must have shape (N, C_in, H, W), got {xa.shape}")
    w = _flipped(weight) if as_bool(flip, "flip") else weight
    return conv_layer(xa, w, bias, stride=stride, padding=padding, dilation=dilation)


def conv3d(x, weight, bias=None, *, stride=1, padding=0, dilation=1,
           flip: bool = False) -> np.ndarray:
    """3D convolution layer on a batch of volumes, as ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    x : array_like, shape (N, C_in, D, H, W)
    weight : array_like, shape (C_out, C_in, K_d, K_h, K_w)
    bias : array_like, shape (C_out,), optional
    stride, padding, dilation : int or triple of int, optional
        As :func:`conv_layer`.
    flip : bool, optional
        True for a true convolution (the seed's formula), False (default) for the layer's
        cross-correlation.

    Returns
    -------
    numpy.ndarray of float64, shape (N, C_out, D_out, H_out, W_out)

    Raises
    ------
    TypeError
        If ``flip`` is not True or False (a string such as 'False' is refused).
    ValueError
        If ``x`` is not 5D, or as :func:`conv_layer`.

    Notes
    -----
    :formula:`dl.conv3d` -- :math:`y(i,j,k) = \\sum_u \\sum_v \\sum_w x(i-u, j-v, k-w)\\,
    k(u,v,w)` is the ``flip=True`` case.
    """
    xa = as_array(x, "x")
    if xa.ndim != 5:
        raise ValueError(f"x must have shape (N, C_in, D, H, W), got {xa.shape}")
    w = _flipped(weight) if as_bool(flip, "flip") else weight
    return conv_layer(xa, w, bias, stride=stride, padding=padding, dilation=dilation)
