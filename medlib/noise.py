"""Noise models of medical images: Gaussian, Poisson and Rician, the signal-to-noise ratio,
and the noise power spectrum that tells white from correlated noise.

Taught in ``chapters/foundations/noise.ipynb`` (section 2.3 of the key formulas). Every random
function takes an ``rng`` (a :class:`numpy.random.Generator` or a seed) so results reproduce.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from ._validate import as_array, as_axis, as_int, as_rng, as_scalar

__all__ = [
    "add_gaussian_noise",
    "noise_power_spectrum",
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
    electronic noise, the real and imaginary channels of MRI. Not for reconstructed CT:
    its noise is close to Gaussian at each pixel, but correlated between pixels and of
    different variance in different places (see :func:`noise_power_spectrum`).
    """
    x = as_array(image, "image", dtype=None)
    s = as_scalar(sigma, "sigma", low=0.0)
    gen = as_rng(rng)
    if np.iscomplexobj(x):
        noise = gen.normal(0.0, s, x.shape) + 1j * gen.normal(0.0, s, x.shape)
    else:
        noise = gen.normal(0.0, s, x.shape)
    return x + noise


# NumPy's Poisson sampler refuses a mean above about 9.2e18 ("lam value too large"); a count
# that large has a relative noise of 1e-9, so a mean above 1e18 is refused by name instead.
_MAX_POISSON_MEAN = 1e18


def poisson_noise(expected, rng) -> np.ndarray:
    """Draw photon counts y ~ Poisson(x) independently per detector element or pixel.

    Parameters
    ----------
    expected : array_like
        Expected counts x in [0, 1e18] (the Poisson mean lambda; NumPy's sampler stops near
        9.2e18, and a count of 1e18 has a relative noise of 1e-9).
    rng : numpy.random.Generator or int
        Source of randomness.

    Returns
    -------
    numpy.ndarray of float
        Non-negative integer counts (stored as float64 so that logs and divisions just work),
        the shape of ``expected``: a 0-d array for a scalar.

    Raises
    ------
    ValueError
        If any expected count is negative, above 1e18 or not finite.

    Notes
    -----
    :formula:`noise.poisson` -- mean and variance are both x, so the SNR of a count is
    sqrt(x): four times the dose halves the relative noise.
    """
    lam = as_array(expected, "expected")
    if np.any(lam < 0):
        raise ValueError("expected counts must be >= 0")
    as_array(lam, "expected", high=_MAX_POISSON_MEAN)
    return np.asarray(as_rng(rng).poisson(lam), dtype=np.float64)   # poisson() of 0-d is an int


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
    a = as_array(magnitude, "magnitude", low=0)
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
    :formula:`noise.rician`. Evaluated in log space with the exponentially scaled Bessel
    function ``i0e(z) = exp(-z) I0(z)``: log p = log m - 2 log sigma - ((m - nu)/sigma)^2 / 2
    + log i0e(z), z = m nu / sigma^2 (log z from the logs, and the asymptote
    i0e(z) ~ 1/sqrt(2 pi z) beyond 1e12), so that neither a large SNR nor a tiny sigma
    overflows to NaN.
    """
    x = as_array(m, "m")
    v = as_scalar(nu, "nu", low=0.0)
    s = as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
    xp = np.clip(x, 0.0, None)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        log_z = np.log(xp) + np.log(v) - 2 * np.log(s)           # -inf when m = 0 or nu = 0
        z = np.exp(np.minimum(log_z, 700.0))
        log_i0e = np.where(log_z > np.log(1e12), -0.5 * (np.log(2 * np.pi) + log_z),
                           np.log(special.i0e(z)))
        log_pdf = np.log(xp) - 2 * np.log(s) - 0.5 * ((xp - v) / s) ** 2 + log_i0e
        pdf = np.exp(log_pdf)
    return np.where(x > 0, pdf, 0.0)


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
    v = as_array(nu, "nu", low=0)
    s = as_scalar(sigma, "sigma", low=0.0, low_inclusive=False)
    with np.errstate(over="ignore", invalid="ignore"):
        half = (v / (2 * s)) ** 2  # = -x/2 with x = -nu^2 / (2 sigma^2); no s**2 overflow
        laguerre = (1 + 2 * half) * special.i0e(half) + 2 * half * special.i1e(half)
        exact = s * np.sqrt(np.pi / 2) * laguerre
    # beyond an SNR of 2e6 the asymptote sqrt(nu^2 + sigma^2) agrees to (sigma/nu)^4 ~ 1e-25,
    # and it stays finite where half overflows (inf * 0 in the Bessel terms would be NaN)
    return np.where(half > 1e12, np.hypot(v, s), exact)[()]


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
        If there are fewer than two samples along ``axis``, values are not finite, or ``axis``
        is out of range.
    TypeError
        If ``axis`` is neither None nor an integer.

    Notes
    -----
    :formula:`noise.snr` -- SNR = mu / sigma; in decibels 20 log10(SNR). For Poisson counts
    this is sqrt(lambda), for additive Gaussian noise x / sigma.
    """
    x = as_array(samples, "samples")
    if axis is not None:
        if x.ndim == 0:
            raise ValueError("samples must be an array of repeated measurements, got a scalar")
        axis = as_axis(axis, x.ndim)
    n = x.size if axis is None else x.shape[axis]
    if n < 2:
        raise ValueError("samples must hold at least 2 repetitions along axis")
    mean = x.mean(axis=axis)
    std = x.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(std > 0, mean / np.where(std > 0, std, 1.0), np.inf)
    return ratio if np.ndim(ratio) else float(ratio)


def noise_power_spectrum(rois, spacing_mm=1.0, *, n_bins: int | None = None):
    """Noise power spectrum (NPS) of noise-only regions, in 2D and radially averaged.

    Parameters
    ----------
    rois : array_like, shape (n_rois, ny, nx) or (ny, nx)
        Regions of interest holding noise realisations (noise-only images, or uniform regions
        of repeated scans), rows along y. Each ROI's own mean is subtracted first.
    spacing_mm : float or pair of float, optional
        Pixel spacing (dy, dx) in mm (> 0); a single value for square pixels. Default 1.
    n_bins : int, optional
        Number of radial frequency bins (>= 1) from 0 up to the lower Nyquist frequency
        min(1 / (2 dy), 1 / (2 dx)). Default: one bin per frequency step of the coarser axis,
        ``floor(min(ny, nx) / 2) + 1`` for square pixels.

    Returns
    -------
    frequencies : numpy.ndarray, shape (n_bins,)
        Mean radial frequency |f| of the samples in each bin, in cycles/mm (bin 0 holds
        only f = 0 when ``n_bins`` is the default).
    nps : numpy.ndarray, shape (n_bins,)
        Radially averaged NPS in (image units)^2 mm^2. Every bin holds at least one frequency
        sample (more bins than the ROI's frequency grid fills are refused).
    nps_2d : numpy.ndarray, shape (ny, nx)
        The 2D NPS, ``numpy.fft.fftshift``-ed: zero frequency at [ny // 2, nx // 2], the
        frequencies along each axis are ``fftshift(fftfreq(n, spacing))``.

    Raises
    ------
    ValueError
        If ``rois`` is not 2D or 3D, has fewer than 2 pixels along an axis, or is not finite;
        if a spacing is not positive or its pixel area or Nyquist frequency overflows; if
        ``n_bins`` < 1, or so large that a radial bin would hold no frequency sample.
    TypeError
        If ``rois`` is not numeric or real, or ``n_bins`` is not an integer.

    Notes
    -----
    :formula:`noise.nps`. The normalisation is the usual one in CT (Siewerdsen et al. 2002)::

        NPS(f_y, f_x) = dy dx / (ny nx) * mean over ROIs of |DFT{roi - mean(roi)}|^2

    so that the NPS integrated over the frequency plane (the sum times the frequency steps
    1 / (ny dy) and 1 / (nx dx)) equals the pixel variance. White noise of variance s^2 has
    a flat NPS equal to s^2 dy dx at every frequency except f = 0, which the mean subtraction
    sets to 0. Correlated noise of the same variance spreads the same area differently: the
    ramp filter of filtered backprojection gives an NPS that rises with |f| and is near 0 at
    low frequencies. The 2D NPS of one ROI is noisy (each value has a relative standard
    deviation of about 1); average many ROIs and, for isotropic noise, the radial bins.

    References
    ----------
    J. H. Siewerdsen, I. A. Cunningham and D. A. Jaffray, "A framework for noise-power
    spectrum analysis of multidimensional images", Med. Phys. 29(11), 2655-2671, 2002.
    M. F. Kijewski and P. F. Judy, "The noise power spectrum of CT images", Phys. Med. Biol.
    32(5), 565-575, 1987.
    """
    x = as_array(rois, "rois", ndim=(2, 3))
    if x.ndim == 2:
        x = x[np.newaxis]
    ny, nx = x.shape[1:]
    if ny < 2 or nx < 2:
        raise ValueError(f"rois must have at least 2 pixels along y and x, got {ny} x {nx}")
    spacing = as_array(spacing_mm, "spacing_mm", ndim=(0, 1))
    spacing = np.broadcast_to(spacing, (2,)) if spacing.ndim == 0 else spacing
    if spacing.shape != (2,):
        raise ValueError(f"spacing_mm must be one value or a pair (dy, dx), got {spacing.shape}")
    if np.any(spacing <= 0):
        raise ValueError(f"spacing_mm must be > 0, got {tuple(spacing)}")
    dy, dx = (float(v) for v in spacing)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        area, finest = dy * dx, 1 / (2 * min(dy, dx))
    if not (0.0 < area < np.inf and finest < np.inf):
        raise ValueError(f"spacing_mm={[dy, dx]} gives a pixel area of {area} mm^2 and a "
                         f"Nyquist frequency of {finest} cycles/mm, which float64 cannot hold "
                         "(is the spacing in mm?)")

    detrended = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(detrended)) ** 2
    nps_2d = np.fft.fftshift(power.mean(axis=0) * dy * dx / (ny * nx))

    freqs, nps = _ring_means(nps_2d, dy, dx, n_bins)
    return freqs, nps, nps_2d


def _ring_means(values_2d: np.ndarray, dy: float, dx: float, n_bins=None):
    """Mean |f| and mean value of an ``fftshift``-ed 2D spectrum over rings of equal |f|.

    The rings of :func:`noise_power_spectrum` (and of :func:`medlib.quality.radial_average`):
    by default one frequency step of the coarser axis per ring, from 0 up to the lower Nyquist
    frequency; with ``n_bins``, that many equal rings up to it. Refuses a ring with no sample.
    """
    ny, nx = values_2d.shape
    fy = np.fft.fftshift(np.fft.fftfreq(ny, dy))
    fx = np.fft.fftshift(np.fft.fftfreq(nx, dx))
    radius = np.hypot(fy[:, None], fx[None, :])
    step = max(1 / (ny * dy), 1 / (nx * dx))
    nyquist = min(1 / (2 * dy), 1 / (2 * dx))
    if n_bins is None:
        bins = int(np.floor(nyquist / step + 1e-9)) + 1
        index = np.round(radius / step).astype(int)
    else:
        bins = as_int(n_bins, "n_bins", low=1, high=ny * nx)   # each sample fills one bin
        index = np.floor(radius / nyquist * bins).astype(int)
        index[np.isclose(radius, nyquist)] = bins - 1     # the Nyquist circle joins the last bin
    inside = index < bins
    counts = np.bincount(index[inside], minlength=bins)
    if not counts.all():
        raise ValueError(f"n_bins={bins} is more radial bins than the {ny} x {nx} ROI fills: "
                         f"bin {int(np.argmin(counts > 0))} holds no frequency sample (the "
                         f"default n_bins, {int(np.floor(nyquist / step + 1e-9)) + 1}, puts one "
                         "frequency step in each bin)")
    with np.errstate(over="ignore", invalid="ignore"):
        means = np.bincount(index[inside], values_2d[inside], minlength=bins) / counts
        freqs = np.bincount(index[inside], radius[inside], minlength=bins) / counts
    return freqs, means
