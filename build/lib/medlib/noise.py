"""Noise models of medical images: Gaussian, Poisson and Rician, and the signal-to-noise ratio.

Taught in ``chapters/foundations/noise.ipynb`` (section 2.3 of the key formulas). Every random
function takes an ``rng`` (a :class:`numpy.random.Generator` or a seed) so results reproduce.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from ._validate import as_array, as_rng, as_scalar

__all__ = [
    "add_gaussian_noise",
    "poisson_noise",
    "rician_magnitude",
    "rician_mean",
    "rician_pdf",
    "sigma_from_background",
    "snr",
]


def add_gaussian_noise(image, sigma: float, rng) -> np.ndarray:
    """Add zero-mean Gaussian noise: y = x + N(0, sigma^2), independently per pixel.

    Parameters
    ----------
    image : array_like
        Noise-free values x (any shape, real or complex; complex gets independent real and
        imaginary noise of standard deviation sigma each).
    sigma : float
        Standard deviation (>= 0), in the units of ``image``.
    rng : numpy.random.Generator or int
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        A new array y; ``image`` is not modified.

    Raises
    ------
    ValueError
        If ``sigma`` < 0 or ``image`` is not finite.
    TypeError
        If ``rng`` is not a Generator or seed.

    Notes
    -----
    :formula:`noise.gaussian`. A good model where many independent small errors add up:
    electronic noise, the real and imaginary channels of MRI, reconstructed CT far from
    photon starvation.
    """
    x = as_array(image, "image", dtype=None)
    s = as_scalar(sigma, "sigma", low=0.0)
    gen = as_rng(rng)
    if np.iscomplexobj(x):
        noise = gen.normal(0.0, s, x.shape) + 1j * gen.normal(0.0, s, x.shape)
    else:
        noise = gen.normal(0.0, s, x.shape)
    return x + noise


def poisson_noise(expected, rng) -> np.ndarray:
    """Draw photon counts y ~ Poisson(x) independently per detector element or pixel.

    Parameters
    ----------
    expected : array_like
        Expected counts x >= 0 (the Poisson mean lambda).
    rng : numpy.random.Generator or int
        Source of randomness.

    Returns
    -------
    numpy.ndarray of float
        Non-negative integer counts (stored as float64 so that logs and divisions just work).

    Raises
    ------
    ValueError
        If any expected count is negative or not finite.

    Notes
    -----
    :formula:`noise.poisson` -- mean and variance are both x, so the SNR of a count is
    sqrt(x): four times the dose halves the relative noise.
    """
    lam = as_array(expected, "expected")
    if np.any(lam < 0):
        raise ValueError("expected counts must be >= 0")
    return as_rng(rng).poisson(lam).astype(np.float64)


def rician_magnitude(magnitude, sigma: float, rng) -> np.ndarray:
    """Magnitude MR image: |A + n_re + j n_im| with Gaussian n in each channel.

    Parameters
    ----------
    magnitude : array_like
        True signal magnitude A >= 0 (the phase does not matter for the magnitude statistics).
    sigma : float
        Noise standard deviation of each channel (>= 0).
    rng : numpy.random.Generator or int
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Rician-distributed magnitudes (Rayleigh where A = 0).

    Raises
    ------
    ValueError
        If ``magnitude`` has negative or non-finite values or ``sigma`` < 0.

    Notes
    -----
    :formula:`noise.rician` -- the magnitude of complex Gaussian noise around A follows the Rice
    distribution with parameters (A, sigma).
    """
    a = as_array(magnitude, "magnitude")
    if np.any(a < 0):
        raise ValueError("magnitude must be >= 0")
    s = as_scalar(sigma, "sigma", low=0.0)
    gen = as_rng(rng)
    return np.hypot(a + gen.normal(0.0, s, a.shape), gen.normal(0.0, s, a.shape))


def rician_pdf(m, nu: float, sigma: float) -> np.ndarray:
    """Probability density of the Rice distribution.

    Parameters
    ----------
    m : array_like
        Magnitudes at which to evaluate (>= 0; the density is 0 below 0).
    nu : float
        True magnitude A >= 0.
    sigma : float
        Per-channel noise standard deviation (> 0).

    Returns
    -------
    numpy.ndarray
        p(m) = m / sigma^2 exp(-(m^2 + nu^2) / (2 sigma^2)) I0(m nu / sigma^2).

    Raises
    ------
    ValueError
        If ``nu`` < 0, ``sigma`` <= 0 or ``m`` is not finite.

    Notes
    -----
    :formula:`noise.rician`. Evaluated with the exponentially scaled Bessel function
    ``i0e(z) = exp(-z) I0(z)`` so that large SNR does not overflow.
    """
    x = as_array(m, "m")
    v = as_scalar(nu, "nu", low=0.0)
    s = as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
    z = np.clip(x, 0.0, None) * v / s**2
    pdf = x / s**2 * np.exp(-((x - v) ** 2) / (2 * s**2)) * special.i0e(z)
    return np.where(x >= 0, pdf, 0.0)


def rician_mean(nu, sigma: float) -> np.ndarray:
    """Mean of the Rice distribution: the bias of a magnitude image.

    Parameters
    ----------
    nu : array_like
        True magnitude(s) A >= 0.
    sigma : float
        Per-channel noise standard deviation (> 0).

    Returns
    -------
    numpy.ndarray
        sigma sqrt(pi/2) L_{1/2}(-nu^2 / (2 sigma^2)), with the Laguerre function
        L_{1/2}(x) = exp(x/2) [(1 - x) I0(-x/2) - x I1(-x/2)]. It tends to
        sigma sqrt(pi/2) at nu = 0 (Rayleigh) and to sqrt(nu^2 + sigma^2) for large nu.

    Raises
    ------
    ValueError
        If ``nu`` < 0 or ``sigma`` <= 0.

    Notes
    -----
    :formula:`noise.rician`. Scaled Bessel functions keep it finite for any SNR.
    """
    v = as_array(nu, "nu")
    if np.any(v < 0):
        raise ValueError("nu must be >= 0")
    s = as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
    half = v**2 / (4 * s**2)  # = -x/2 with x = -nu^2 / (2 sigma^2)
    laguerre = (1 + 2 * half) * special.i0e(half) + 2 * half * special.i1e(half)
    return s * np.sqrt(np.pi / 2) * laguerre


def sigma_from_background(background) -> float:
    """Estimate the per-channel noise sigma of a magnitude MR image from signal-free background.

    Parameters
    ----------
    background : array_like
        Magnitudes of pixels that hold no signal (air), at least 2.

    Returns
    -------
    float
        mean(background) / sqrt(pi / 2): in air the magnitude is Rayleigh distributed, whose
        mean is sigma sqrt(pi/2). (The plain standard deviation of the background would
        underestimate sigma by the factor sqrt(2 - pi/2) = 0.655.)

    Raises
    ------
    ValueError
        If fewer than two values are given, or any is negative or not finite.

    Notes
    -----
    :formula:`noise.rician` (its nu = 0 case).
    """
    b = as_array(background, "background").ravel()
    if b.size < 2:
        raise ValueError("background must hold at least 2 values")
    if np.any(b < 0):
        raise ValueError("background magnitudes must be >= 0")
    return float(b.mean() / np.sqrt(np.pi / 2))


def snr(samples, *, axis=None) -> np.ndarray:
    """Signal-to-noise ratio of repeated measurements of one value: mean / standard deviation.

    Parameters
    ----------
    samples : array_like
        Repeated measurements of the same true signal (or the pixels of a uniform region).
    axis : int, optional
        Axis along which the repetitions run (default: all values are repetitions).

    Returns
    -------
    numpy.ndarray or float
        mean / std with ``ddof=1`` (an unbiased variance). Infinite where the spread is zero.

    Raises
    ------
    ValueError
        If there are fewer than two samples along ``axis`` or values are not finite.

    Notes
    -----
    :formula:`noise.snr` -- SNR = mu / sigma; in decibels 20 log10(SNR). For Poisson counts
    this is sqrt(lambda), for additive Gaussian noise x / sigma.
    """
    x = as_array(samples, "samples")
    n = x.size if axis is None else x.shape[axis]
    if n < 2:
        raise ValueError("samples must hold at least 2 repetitions along axis")
    mean = x.mean(axis=axis)
    std = x.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(std > 0, mean / np.where(std > 0, std, 1.0), np.inf)
    return ratio if np.ndim(ratio) else float(ratio)
