"""The MRI bias field: a smooth multiplicative gain, how to make one, apply it, estimate it.

Taught in ``chapters/prep-mri/bias-field.ipynb`` (the seed's "MRI intensity inhomogeneity").
The receive-coil sensitivity and the transmit (B1) inhomogeneity multiply the signal by a slowly
varying gain ``B(x)``: ``I = B I0 + n``, or ``log I = log B + log I0`` in the log domain, where the
field is additive. This module makes smooth fields (the polynomial model that TorchIO's
``RandomBiasField`` uses, with a reproducible ``rng``, also the augmentation of
``chapters/prep-common``), applies them, and computes the seed's three estimates (division,
log difference, low-pass filtering) and the coefficient of variation used to judge uniformity.
The real correction, N4, is :mod:`medlib.prep.n4`.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_int, as_mask, as_rng, as_scalar, check_size

__all__ = [
    "apply_bias_field",
    "coefficient_of_variation",
    "estimate_bias_division",
    "estimate_bias_log_difference",
    "estimate_bias_lowpass",
    "field_correlation",
    "polynomial_bias_field",
    "polynomial_exponents",
    "random_bias_field",
]

MAX_ORDER = 8


def _as_shape(shape, name: str = "shape") -> tuple[int, ...]:
    """A 2D or 3D array shape: a tuple of 2 or 3 positive integers."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(f"{name} must be a tuple of 2 or 3 positive integers, got "
                        f"{type(shape).__name__}")
    if len(shape) not in (2, 3):
        raise ValueError(f"{name} must have 2 or 3 entries, got {len(shape)}")
    dims = tuple(as_int(s, f"{name}[{i}]", low=1) for i, s in enumerate(shape))
    check_size(dims, name)
    return dims


def polynomial_exponents(ndim: int, order: int) -> np.ndarray:
    """The exponents of the polynomial terms of a bias field, in TorchIO's order.

    Parameters
    ----------
    ndim : int
        2 or 3, the number of image axes.
    order : int
        Highest total degree of a term, 0 to 8.

    Returns
    -------
    numpy.ndarray of int, shape (n_terms, ndim)
        One row ``(a0, a1[, a2])`` per term ``u0**a0 * u1**a1 [* u2**a2]`` with
        ``a0 + a1 + a2 <= order``, in lexicographic order (the order of the coefficients of
        TorchIO's ``BiasField``); ``n_terms = C(order + ndim, ndim)`` (20 for order 3 in 3D).

    Raises
    ------
    ValueError
        If ``ndim`` is not 2 or 3 or ``order`` is outside [0, 8].
    """
    nd = as_int(ndim, "ndim", low=2, high=3)
    p = as_int(order, "order", low=0, high=MAX_ORDER)
    grids = np.indices((p + 1,) * nd).reshape(nd, -1).T
    return grids[grids.sum(axis=1) <= p]


def _normalised_coordinates(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Per axis, the voxel centres mapped to [-1, 1] (end voxels at -1 and +1; 0 for length 1)."""
    coords = []
    for n in shape:
        half = (n - 1) / 2.0
        u = np.arange(n, dtype=float) - half
        coords.append(u / half if half > 0 else u)
    return coords


def polynomial_bias_field(shape, coefficients, *, order: int = 3) -> np.ndarray:
    """A smooth bias field, the exponential of a polynomial in normalised coordinates.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` or ``(z, y, x)``.
    coefficients : array_like, shape (n_terms,)
        One coefficient per term of :func:`polynomial_exponents` ``(len(shape), order)``, in that
        order; 0 everywhere gives B = 1.
    order : int, optional
        Highest total degree (default 3, TorchIO's default).

    Returns
    -------
    numpy.ndarray of float64, shape ``shape``
        ``B = exp(sum_k c_k prod_d u_d**a_kd)`` with ``u_d`` the voxel centres of axis ``d``
        mapped linearly to [-1, 1]. Always positive.

    Raises
    ------
    ValueError
        If ``coefficients`` does not have one entry per term, or is not finite, or the field
        overflows (``|log B|`` above 50).

    Notes
    -----
    Implements :formula:`pre.bias-model`: the log field is a low-order polynomial, so it is
    smooth by construction (the model of Van Leemput et al. 1999, used by TorchIO's
    ``BiasField``, with which it agrees to float32 precision on the same coefficients).

    References
    ----------
    K. Van Leemput, F. Maes, D. Vandermeulen, P. Suetens, "Automated model-based tissue
    classification of MR images of the brain", IEEE TMI 18(10), 897-908, 1999.
    """
    dims = _as_shape(shape)
    exps = polynomial_exponents(len(dims), order)
    c = as_array(coefficients, "coefficients", ndim=1)
    if c.size != len(exps):
        raise ValueError(f"coefficients must have one entry per term of a polynomial of order "
                         f"{order} in {len(dims)}D ({len(exps)} terms), got {c.size}")
    coords = _normalised_coordinates(dims)
    # Powers of every axis once, then one broadcast product per term (terms are few: <= 165).
    log_b = np.zeros(dims)
    for k, a in enumerate(exps):
        if c[k] == 0.0:
            continue
        term = c[k]
        for d, n in enumerate(dims):
            view = [1] * len(dims)
            view[d] = n
            term = term * (coords[d] ** a[d]).reshape(view)
        log_b = log_b + term
    if np.max(np.abs(log_b)) > 50.0:
        raise ValueError("coefficients give a log field beyond +-50 (the field would overflow); "
                         "use smaller coefficients")
    return np.exp(log_b)


def random_bias_field(shape, rng, *, strength: float = 0.5, order: int = 3) -> np.ndarray:
    """A random smooth bias field (for simulation and augmentation), reproducible by ``rng``.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` or ``(z, y, x)``.
    rng : numpy.random.Generator or int
        The source of randomness (a seed gives the same field every time).
    strength : float, optional
        Largest magnitude of a coefficient (default 0.5, as TorchIO's ``RandomBiasField``):
        coefficients are drawn uniformly in ``[-strength, strength]``. 0 gives B = 1; 0.1-0.3
        gives the 10-40 % gains seen at 1.5-3 T.
    order : int, optional
        Highest total degree of the polynomial (default 3).

    Returns
    -------
    numpy.ndarray of float64, shape ``shape``
        ``polynomial_bias_field(shape, c, order=order)`` with
        ``c = rng.uniform(-strength, strength, n_terms)`` (drawn in one call, in the order of
        :func:`polynomial_exponents`).

    Raises
    ------
    ValueError
        If ``strength`` is negative or above 5, or ``order`` is outside [0, 8].
    TypeError
        If ``rng`` is neither a Generator nor a non-negative integer seed.

    Notes
    -----
    Implements :formula:`pre.bias-model` (the field ``B`` of ``I = B I0 + n``). Multiply an
    image by the result (:func:`apply_bias_field`) to simulate a bias or to augment training
    data; TorchIO's ``RandomBiasField`` draws the same kind of field.
    """
    dims = _as_shape(shape)
    s = as_scalar(strength, "strength", low=0.0, high=5.0)
    n_terms = len(polynomial_exponents(len(dims), order))
    gen = as_rng(rng)
    coefficients = gen.uniform(-s, s, n_terms)
    return polynomial_bias_field(dims, coefficients, order=order)


def apply_bias_field(image, field) -> np.ndarray:
    """Apply a multiplicative bias field: ``I = B * I0``.

    Parameters
    ----------
    image : array_like
        The bias-free image ``I0`` (2D or 3D, any real values).
    field : array_like, same shape
        The gain ``B``, positive everywhere.

    Returns
    -------
    numpy.ndarray of float64
        ``field * image`` (add noise after it if the noise term ``n`` is wanted).

    Raises
    ------
    ValueError
        If the shapes differ, a value is not finite, or ``field`` is not positive.

    Notes
    -----
    Implements :formula:`pre.bias-model`, ``I(x) = B(x) I0(x) + n(x)``, and in the log domain
    (noise neglected) ``log I = log B + log I0``: the field becomes an additive smooth term.
    """
    img = as_array(image, "image", ndim=(2, 3))
    b = as_array(field, "field", ndim=(2, 3), low=0.0, low_inclusive=False)
    if b.shape != img.shape:
        raise ValueError(f"field must have the shape of image {img.shape}, got {b.shape}")
    return b * img


def _region(mask, shape: tuple[int, ...], default: np.ndarray, what: str) -> np.ndarray:
    """The boolean region of a statistic: ``mask`` (checked against ``shape``) or ``default``."""
    if mask is None:
        m = default
    else:
        m = as_mask(mask, "mask")
        if m.shape != shape:
            raise ValueError(f"mask must have the shape of {what} {shape}, got {m.shape}")
        m = m & default
    if not m.any():
        raise ValueError(f"mask selects no voxel where {what} is usable")
    return m


def estimate_bias_division(observed, reference, *, mask=None) -> np.ndarray:
    """Estimate the bias field by division, ``B = I / I0``, where a bias-free reference exists.

    Parameters
    ----------
    observed : array_like
        The biased image ``I`` (2D or 3D).
    reference : array_like, same shape
        The bias-free image ``I0`` (known in a simulation, or a corrected image).
    mask : array_like of bool, optional
        Where to estimate; intersected with ``reference > 0`` (default: ``reference > 0``).

    Returns
    -------
    numpy.ndarray of float64
        ``observed / reference`` inside the region, NaN outside: the field is undefined where the
        reference holds no signal (background, air), and is not 0 there.

    Raises
    ------
    ValueError
        If the shapes differ, values are not finite, or the region is empty.

    Notes
    -----
    Implements :formula:`pre.bias-estimate` (division). Exact when ``I = B I0`` without noise;
    with noise ``n`` the estimate is ``B + n / I0``, which explodes where ``I0`` is small.
    """
    obs = as_array(observed, "observed", ndim=(2, 3))
    ref = as_array(reference, "reference", ndim=(2, 3))
    if ref.shape != obs.shape:
        raise ValueError(f"reference must have the shape of observed {obs.shape}, got {ref.shape}")
    m = _region(mask, obs.shape, ref > 0, "reference")
    out = np.full(obs.shape, np.nan)
    out[m] = obs[m] / ref[m]
    return out


def estimate_bias_log_difference(observed, reference, *, mask=None) -> np.ndarray:
    """Estimate the log bias field, ``log B = log I - log I0``, where both are positive.

    Parameters
    ----------
    observed : array_like
        The biased image ``I`` (2D or 3D).
    reference : array_like, same shape
        The bias-free image ``I0``.
    mask : array_like of bool, optional
        Where to estimate; intersected with ``observed > 0`` and ``reference > 0``.

    Returns
    -------
    numpy.ndarray of float64
        ``log(observed) - log(reference)`` inside the region, NaN outside. ``exp`` of it equals
        :func:`estimate_bias_division` to rounding: the two estimates are the same estimate.

    Raises
    ------
    ValueError
        If the shapes differ, values are not finite, or the region is empty.

    Notes
    -----
    Implements :formula:`pre.bias-estimate` (log difference): in the log domain the field is an
    additive term, which is what lets N4 fit it by least squares.
    """
    obs = as_array(observed, "observed", ndim=(2, 3))
    ref = as_array(reference, "reference", ndim=(2, 3))
    if ref.shape != obs.shape:
        raise ValueError(f"reference must have the shape of observed {obs.shape}, got {ref.shape}")
    m = _region(mask, obs.shape, (ref > 0) & (obs > 0), "reference and observed")
    out = np.full(obs.shape, np.nan)
    out[m] = np.log(obs[m]) - np.log(ref[m])
    return out


def estimate_bias_lowpass(observed, sigma_vox, *, mask=None) -> np.ndarray:
    """Estimate the bias field by Gaussian low-pass filtering of the image itself.

    Parameters
    ----------
    observed : array_like
        The biased image ``I`` (2D or 3D); no reference is needed.
    sigma_vox : float or sequence of float
        Standard deviation of the Gaussian in voxels (one per axis or one for all), > 0.
    mask : array_like of bool, optional
        The tissue region. Inside it the filter is a normalised convolution,
        ``G*(m I) / G*m``, so the background's zeros do not darken the estimate near the edge;
        default: the whole image (``G*I``, with zero padding outside, normalised the same way).

    Returns
    -------
    numpy.ndarray of float64
        The smoothed image scaled to a mean of 1 over the region (the seed's
        ``gaussian(I) / mean``), NaN outside the region.

    Raises
    ------
    ValueError
        If ``sigma_vox`` is not positive, values are not finite, or the region is empty or has
        a mean of 0.

    Notes
    -----
    Implements :formula:`pre.bias-estimate` (low-pass filtering). It estimates ``B`` only if the
    anatomy ``I0`` has no energy at the frequencies the filter passes; a brain's anatomy does
    (the grey/white/CSF layout at the scale of centimetres), so the estimate mixes anatomy into
    the field: the chapter measures how much against a known field.
    """
    obs = as_array(observed, "observed", ndim=(2, 3))
    sig = as_array(sigma_vox, "sigma_vox", ndim=(0, 1), low=0.0, low_inclusive=False)
    if sig.ndim == 1 and sig.size != obs.ndim:
        raise ValueError(f"sigma_vox must have one entry per axis ({obs.ndim}), got {sig.size}")
    if np.any(sig > 10 * max(obs.shape)):
        raise ValueError(f"sigma_vox must be at most 10 times the image size, got {sig}")
    m = _region(mask, obs.shape, np.ones(obs.shape, bool), "observed")
    sigma = tuple(np.broadcast_to(sig, (obs.ndim,)))
    num = ndimage.gaussian_filter(np.where(m, obs, 0.0), sigma, mode="constant")
    den = ndimage.gaussian_filter(m.astype(float), sigma, mode="constant")
    out = np.full(obs.shape, np.nan)
    ok = m & (den > 1e-12)
    out[ok] = num[ok] / den[ok]
    mean = out[ok].mean()
    if not mean > 0:
        raise ValueError("observed must have a positive mean inside mask")
    return out / mean


def coefficient_of_variation(image, *, mask=None) -> float:
    """The coefficient of variation ``CV = sigma / mu`` of an image inside a region.

    Parameters
    ----------
    image : array_like
        Any real array.
    mask : array_like of bool, optional
        The region (one tissue class, e.g. white matter); default: every voxel.

    Returns
    -------
    float
        Population standard deviation over the mean (``ddof=0``, as ``scipy.stats.variation``).

    Raises
    ------
    ValueError
        If the region is empty or its mean is not positive.

    Notes
    -----
    Implements :formula:`pre.bias-estimate` (the uniformity measure). A bias field widens the
    intensity distribution of a tissue, so the CV of *one tissue class* falls when the field is
    removed; the CV of a whole image mixes tissues and background and measures contrast, not
    uniformity.
    """
    img = as_array(image, "image")
    m = np.ones(img.shape, bool) if mask is None else as_mask(mask, "mask")
    if m.shape != img.shape:
        raise ValueError(f"mask must have the shape of image {img.shape}, got {m.shape}")
    if not m.any():
        raise ValueError("mask selects no voxel")
    values = img[m]
    mu = values.mean()
    if not mu > 0:
        raise ValueError(f"image must have a positive mean inside mask, got {mu}")
    return float(values.std() / mu)


def field_correlation(estimate, truth, *, mask=None) -> float:
    """Pearson correlation of two bias fields' logarithms inside a region.

    Parameters
    ----------
    estimate, truth : array_like, same shape
        Two positive fields (an estimate and the known field); NaN voxels of ``estimate`` are
        left out.
    mask : array_like of bool, optional
        The region (default: every voxel where both are finite).

    Returns
    -------
    float
        ``corr(log estimate, log truth)`` over the region, in [-1, 1]. Invariant to a constant
        gain on either field, which no retrospective method can recover.

    Raises
    ------
    ValueError
        If shapes differ, a field is not positive, fewer than 2 voxels remain, or a field is
        constant over the region.
    """
    est = as_array(estimate, "estimate", finite=False)
    tru = as_array(truth, "truth", low=0.0, low_inclusive=False)
    if tru.shape != est.shape:
        raise ValueError(f"truth must have the shape of estimate {est.shape}, got {tru.shape}")
    if np.any(np.isinf(est)) or np.any(est[np.isfinite(est)] <= 0):
        raise ValueError("estimate must be positive where finite (NaN marks undefined voxels)")
    m = np.isfinite(est)
    if mask is not None:
        mm = as_mask(mask, "mask")
        if mm.shape != est.shape:
            raise ValueError(f"mask must have the shape of estimate {est.shape}, got {mm.shape}")
        m = m & mm
    if np.count_nonzero(m) < 2:
        raise ValueError("mask leaves fewer than 2 voxels where estimate is defined")
    a, b = np.log(est[m]), np.log(tru[m])
    a, b = a - a.mean(), b - b.mean()
    na, nb = np.sqrt(np.sum(a * a)), np.sqrt(np.sum(b * b))
    if na < 1e-12 * max(1.0, np.abs(np.log(est[m])).max()) or nb < 1e-12 * max(
            1.0, np.abs(np.log(tru[m])).max()):
        raise ValueError("estimate and truth must vary over mask (a constant field has no "
                         "correlation)")
    return float(np.clip(np.sum(a * b) / (na * nb), -1.0, 1.0))
