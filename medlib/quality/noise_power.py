"""Noise power and detective quantum efficiency: the noise side of image quality.

Taught in ``chapters/image-quality/noise-power.ipynb`` (section 10.2). The noise power spectrum
(NPS) itself is Part I's :func:`medlib.noise.noise_power_spectrum` (section 2.3); this module
adds the closed forms it is checked against (white noise, filtered backprojection, a linear
filter), a quantum-limited detector model and its detective quantum efficiency (DQE), and the
dose-noise relation sigma proportional to 1 / sqrt(dose).
"""
from __future__ import annotations

import numpy as np

from .. import noise
from .._validate import as_array, as_choice, as_int, as_rng, as_scalar, as_shape, as_spacing
from ..ct.fbp import FILTERS, filter_response
from ..processing.filtering import gaussian_kernel_2d

__all__ = [
    "detector_dqe",
    "dose_noise_exponent",
    "dqe",
    "fbp_nps",
    "filtered_nps",
    "noise_at_dose",
    "quantum_detector_image",
    "radial_average",
    "transfer_function",
    "white_nps",
]


def white_nps(sigma: float, spacing_mm=1.0) -> float:
    """The flat NPS of white noise: sigma^2 dy dx.

    Parameters
    ----------
    sigma : float
        Pixel standard deviation (>= 0), in image units.
    spacing_mm : float or pair of float, optional
        Pixel spacing (dy, dx) in mm. Default 1.

    Returns
    -------
    float
        NPS in (image units)^2 mm^2, the same at every frequency.

    Raises
    ------
    ValueError
        If ``sigma`` < 0 or a spacing is not positive (or not in 1e-6 to 1e6 mm).

    Notes
    -----
    :formula:`quality.nps-white`. The NPS integrates over the frequency square of side
    1 / dy by 1 / dx to the variance, so a flat NPS must be sigma^2 dy dx.
    """
    s = as_scalar(sigma, "sigma", low=0.0, high=1e150)
    dy, dx = as_spacing(spacing_mm, "spacing_mm", 2)
    return float(s * s * dy * dx)


def transfer_function(kernel, shape) -> np.ndarray:
    """Frequency response H of a small convolution kernel on an image grid, ``fftshift``-ed.

    Parameters
    ----------
    kernel : array_like, shape (ky, kx)
        Filter taps, centred at [ky // 2, kx // 2] (odd sizes centre exactly), at most ``shape``.
    shape : pair of int
        The image's (ny, nx).

    Returns
    -------
    numpy.ndarray of complex, shape (ny, nx)
        H(f_y, f_x), zero frequency at [ny // 2, nx // 2]: the layout of the 2D NPS returned
        by :func:`medlib.noise.noise_power_spectrum`.

    Raises
    ------
    ValueError
        If ``kernel`` is not a finite 2D array no larger than ``shape``.
    """
    k = as_array(kernel, "kernel", ndim=2)
    ny, nx = as_shape(shape, "shape", ndim=2)
    if k.shape[0] > ny or k.shape[1] > nx:
        raise ValueError(f"kernel {k.shape} is larger than the image shape {(ny, nx)}")
    padded = np.zeros((ny, nx))
    padded[:k.shape[0], :k.shape[1]] = k
    padded = np.roll(padded, (-(k.shape[0] // 2), -(k.shape[1] // 2)), axis=(0, 1))
    return np.fft.fftshift(np.fft.fft2(padded))


def radial_average(values_2d, spacing_mm=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Average an ``fftshift``-ed 2D spectrum (NPS, MTF, |H|) over rings of equal |f|.

    Parameters
    ----------
    values_2d : array_like, shape (ny, nx)
        Real values on the frequency grid of an (ny, nx) image, zero frequency at
        [ny // 2, nx // 2] (the layout of :func:`medlib.noise.noise_power_spectrum`'s 2D NPS and
        of :func:`transfer_function`), ny, nx >= 2.
    spacing_mm : float or pair of float, optional
        Pixel spacing (dy, dx) in mm. Default 1.

    Returns
    -------
    frequencies : numpy.ndarray
        Mean |f| of each ring in cycles/mm.
    means : numpy.ndarray
        Mean value in each ring.

    Raises
    ------
    ValueError
        If ``values_2d`` is not a finite 2D array of at least 2 x 2, or a spacing is invalid.

    Notes
    -----
    The rings are those of :func:`medlib.noise.noise_power_spectrum` with its default bins
    (one frequency step of the coarser axis each, up to the lower Nyquist frequency), computed
    by the same code, so the radial MTF and the radial NPS of the same grid can be combined
    bin by bin (for a DQE).
    """
    v = as_array(values_2d, "values_2d", ndim=2)
    ny, nx = v.shape
    if ny < 2 or nx < 2:
        raise ValueError(f"values_2d must be at least 2 x 2, got {ny} x {nx}")
    dy, dx = as_spacing(spacing_mm, "spacing_mm", 2)
    return noise._ring_means(v, dy, dx)


def filtered_nps(nps_2d, kernel) -> np.ndarray:
    """NPS after a linear, shift-invariant filter: |H|^2 times the input NPS.

    Parameters
    ----------
    nps_2d : array_like, shape (ny, nx)
        Input 2D NPS, ``fftshift``-ed (as :func:`medlib.noise.noise_power_spectrum` returns it).
    kernel : array_like, shape (ky, kx)
        The filter's taps, centred (see :func:`transfer_function`).

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        The output NPS, in the input's units.

    Raises
    ------
    ValueError
        If ``nps_2d`` is not a finite 2D array of non-negative values, or ``kernel`` is invalid.

    Notes
    -----
    :formula:`quality.nps-filter`. A filter multiplies every Fourier component of the noise by
    H(f), hence its power by |H(f)|^2 (applied circularly: exact for periodic images, and
    away from the borders for others). Integrated over frequency it gives Part I's
    variance rule sigma_out^2 = sigma^2 sum k^2 for white input (Parseval).
    """
    s = as_array(nps_2d, "nps_2d", ndim=2, low=0.0)
    h = transfer_function(kernel, s.shape)
    return np.abs(h) ** 2 * s


def fbp_nps(frequencies, sigma_p: float, n_angles: int, filter_name: str = "ramp", *,
            interpolation: bool = True) -> np.ndarray:
    """Radial NPS of a parallel-beam FBP image of white projection noise (pixel units).

    Parameters
    ----------
    frequencies : array_like
        Radial frequencies |f| in cycles per pixel, 0 to 0.5.
    sigma_p : float
        Standard deviation of the independent noise of each detector bin (>= 0), in sinogram
        units.
    n_angles : int
        Number of projections over [0, pi) (>= 1).
    filter_name : str, optional
        FBP filter, as :func:`medlib.ct.fbp` (default "ramp").
    interpolation : bool, optional
        Include the |sinc(f)|^4 of the backprojector's linear interpolation (default True).

    Returns
    -------
    numpy.ndarray
        NPS in (image units)^2 pixel^2, the shape of ``frequencies``.

    Raises
    ------
    ValueError
        If a frequency lies outside [0, 0.5], ``sigma_p`` < 0, ``n_angles`` < 1 or the filter
        is unknown.
    TypeError
        If ``interpolation`` is not a bool or ``n_angles`` not an integer.

    Notes
    -----
    :formula:`quality.nps-fbp`. Each filtered projection of white noise has the power spectrum
    sigma_p^2 |f|^2 |W(f)|^2 along its direction; backprojected with the weight pi / N, its 2D
    spectrum is a line through the origin. N lines cover the circle of radius |f| with density
    N / (pi |f|), so NPS(f) = (pi / N) sigma_p^2 |f| |W(f)|^2 (Kak and Slaney 1988, ch. 5;
    Kijewski and Judy 1987). Linear interpolation in the backprojector (a triangle, transfer
    function sinc^2) multiplies it by sinc^4(f). The discrete ramp R(f) (the DFT of
    :func:`medlib.ct.ramp_kernel`, slightly above |f| near 0) replaces |f| in the filter:
    NPS = (pi / N) sigma_p^2 R(f)^2 W(f)^2 / |f|, and 0 at f = 0.
    """
    f = as_array(frequencies, "frequencies", low=0.0, high=0.5, allow_empty=True)
    s = as_scalar(sigma_p, "sigma_p", low=0.0, high=1e150)
    n = as_int(n_angles, "n_angles", low=1, high=10**9)
    name = as_choice(filter_name, "filter_name", FILTERS)
    if not isinstance(interpolation, (bool, np.bool_)):
        raise TypeError(f"interpolation must be a bool, got {type(interpolation).__name__}")
    grid, windowed = filter_response(4096, name)
    response = np.interp(f, grid, windowed)          # R(f) W(f), the discrete filter
    with np.errstate(over="ignore"):
        out = np.where(f > 0, (np.pi / n) * s * s * response**2 / np.where(f > 0, f, 1.0), 0.0)
    if interpolation:
        out = out * np.sinc(f) ** 4
    return out


def quantum_detector_image(fluence_per_mm2: float, shape, rng, *, pixel_mm: float = 0.2,
                           efficiency: float = 1.0, gain: float = 1.0, blur_px: float = 0.0,
                           electronic_sd: float = 0.0) -> np.ndarray:
    """Flat-field image of a simple detector: Poisson quanta, detection, gain, blur, read noise.

    Parameters
    ----------
    fluence_per_mm2 : float
        Mean number of incident quanta per mm^2, q (> 0).
    shape : pair of int
        Image shape (ny, nx).
    rng : numpy.random.Generator or int
        Source of randomness.
    pixel_mm : float, optional
        Square pixel pitch in mm (default 0.2).
    efficiency : float, optional
        Quantum efficiency eta in (0, 1]: each quantum is detected with this probability.
    gain : float, optional
        Signal per detected quantum (> 0, default 1).
    blur_px : float, optional
        Standard deviation in pixels of a Gaussian spread of each detected quantum's signal
        (light spread in a scintillator), applied circularly; 0 for none.
    electronic_sd : float, optional
        Standard deviation of additive Gaussian read noise per pixel (>= 0).

    Returns
    -------
    numpy.ndarray, shape (ny, nx)
        Pixel values: gain * (blurred detected counts) + read noise.

    Raises
    ------
    ValueError
        If an argument is out of range or the mean count per pixel exceeds 1e12.
    TypeError
        If ``rng`` is not a Generator or seed.

    Notes
    -----
    The chain of Cunningham's cascaded-systems analysis in its simplest form: incident
    Poisson quanta (:func:`medlib.noise.poisson_noise`), binomial selection (which keeps
    them Poisson, with mean eta q A), a deterministic gain, a blur and additive noise. Its
    DQE is :func:`detector_dqe`.
    """
    q = as_scalar(fluence_per_mm2, "fluence_per_mm2", low=0.0, low_inclusive=False)
    ny, nx = as_shape(shape, "shape", ndim=2)
    gen = as_rng(rng)
    a = as_scalar(pixel_mm, "pixel_mm", low=1e-4, high=1e3) ** 2
    eta = as_scalar(efficiency, "efficiency", low=0.0, high=1.0, low_inclusive=False)
    g = as_scalar(gain, "gain", low=0.0, high=1e12, low_inclusive=False)
    blur = as_scalar(blur_px, "blur_px", low=0.0, high=min(ny, nx) / 4)
    sd = as_scalar(electronic_sd, "electronic_sd", low=0.0, high=1e12)
    if q * a > 1e12:
        raise ValueError(f"fluence_per_mm2 * pixel_mm^2 = {q * a:.3g} quanta per pixel; at "
                         "most 1e12 are simulated")
    incident = noise.poisson_noise(np.full((ny, nx), q * a), gen)
    detected = gen.binomial(incident.astype(np.int64), eta).astype(np.float64)
    if blur > 0:
        h = transfer_function(_clipped_kernel(blur, ny, nx), (ny, nx))
        detected = np.fft.ifft2(np.fft.fft2(detected) * np.fft.ifftshift(h)).real
    return g * detected + (gen.normal(0.0, sd, (ny, nx)) if sd > 0 else 0.0)


def _clipped_kernel(sigma: float, ny: int, nx: int) -> np.ndarray:
    """A normalised Gaussian kernel no larger than the image (odd sizes)."""
    k = gaussian_kernel_2d(sigma, truncate=4.0)
    r = k.shape[0] // 2
    ry, rx = min(r, (ny - 1) // 2), min(r, (nx - 1) // 2)
    k = k[r - ry:r + ry + 1, r - rx:r + rx + 1]
    return k / k.sum()


def dqe(mtf, nps, mean_signal: float, fluence_per_mm2: float) -> np.ndarray:
    """Detective quantum efficiency from a measured MTF and NPS.

    Parameters
    ----------
    mtf : array_like
        The detector's MTF at some frequencies (0 to 1e6; above 1 for an edge-enhancing filter).
    nps : array_like
        Its NPS at the same frequencies, in (signal units)^2 mm^2 (> 0); broadcast with ``mtf``.
    mean_signal : float
        Mean pixel value of the flat field, in signal units (its offset removed), > 0.
    fluence_per_mm2 : float
        Incident quanta per mm^2, q (> 0).

    Returns
    -------
    numpy.ndarray
        DQE(f) = mean_signal^2 MTF^2(f) / (q NPS(f)), dimensionless (1 for an ideal detector).

    Raises
    ------
    ValueError
        If the arrays do not broadcast, are not finite, the MTF is negative, the NPS is not
        positive, or a scalar is not positive.

    Notes
    -----
    :formula:`quality.dqe`. DQE(f) = SNR_out^2(f) / SNR_in^2(f): the incident Poisson quanta
    have SNR_in^2 = q per mm^2 at every frequency, the image has the noise-equivalent quanta
    NEQ(f) = mean_signal^2 MTF^2(f) / NPS(f). DQE(0) is the quantum efficiency of a detector
    whose only noise is the quanta's own (ICRU Report 54, 1996).
    """
    m = as_array(mtf, "mtf", low=0.0, high=1e6)
    s = as_array(nps, "nps", low=0.0, low_inclusive=False)
    try:
        np.broadcast_shapes(m.shape, s.shape)
    except ValueError:
        raise ValueError(f"mtf {m.shape} and nps {s.shape} must broadcast") from None
    mean = as_scalar(mean_signal, "mean_signal", low=0.0, high=1e150, low_inclusive=False)
    q = as_scalar(fluence_per_mm2, "fluence_per_mm2", low=0.0, high=1e150, low_inclusive=False)
    with np.errstate(over="ignore", under="ignore"):
        out = (mean / q) * mean * m**2 / s
    if not np.all(np.isfinite(out)):
        raise ValueError("nps is too small for the mtf and mean_signal given: the DQE "
                         "overflows float64")
    return out


def detector_dqe(mtf, efficiency: float, fluence_per_mm2: float, pixel_mm: float, *,
                 gain: float = 1.0, electronic_sd: float = 0.0) -> np.ndarray:
    """Closed-form DQE of :func:`quantum_detector_image`'s detector.

    Parameters
    ----------
    mtf : array_like
        The blur's MTF |H(f)| at the frequencies of interest (>= 0).
    efficiency : float
        Quantum efficiency eta in (0, 1].
    fluence_per_mm2 : float
        Incident quanta per mm^2 (> 0).
    pixel_mm : float
        Pixel pitch in mm (> 0).
    gain : float, optional
        Signal per detected quantum (> 0).
    electronic_sd : float, optional
        Read noise per pixel (>= 0), in signal units.

    Returns
    -------
    numpy.ndarray
        DQE(f) = eta MTF^2 / (MTF^2 + sigma_e^2 / (g^2 eta q a^2)).

    Raises
    ------
    ValueError
        If an argument is out of range or not finite.

    Notes
    -----
    :formula:`quality.dqe-detector`. Mean signal g eta q a^2 (a the pitch); NPS
    g^2 eta q a^4 MTF^2 (the detected quanta's Poisson noise, blurred with the signal) plus
    sigma_e^2 a^2 (white read noise). In :func:`dqe` the blur cancels wherever quantum noise
    dominates: DQE = eta at every frequency; read noise is not blurred, and pulls the DQE down
    where the MTF is small.
    """
    m = as_array(mtf, "mtf", low=0.0, high=1e6, allow_empty=True)
    eta = as_scalar(efficiency, "efficiency", low=0.0, high=1.0, low_inclusive=False)
    q = as_scalar(fluence_per_mm2, "fluence_per_mm2", low=0.0, high=1e150, low_inclusive=False)
    a = as_scalar(pixel_mm, "pixel_mm", low=1e-4, high=1e3)
    g = as_scalar(gain, "gain", low=0.0, high=1e12, low_inclusive=False)
    sd = as_scalar(electronic_sd, "electronic_sd", low=0.0, high=1e12)
    with np.errstate(over="ignore", under="ignore"):
        ratio = (np.float64(sd) / g) ** 2 / (eta * q * a * a)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        return np.where(m > 0, eta * m**2 / (m**2 + ratio), np.where(ratio == 0, eta, 0.0))


def noise_at_dose(sigma_ref: float, dose_ref: float, dose) -> np.ndarray:
    """Quantum-limited noise at another dose: sigma = sigma_ref sqrt(dose_ref / dose).

    Parameters
    ----------
    sigma_ref : float
        Noise standard deviation measured at ``dose_ref`` (>= 0).
    dose_ref : float
        The reference dose (> 0), in any unit (mGy, mAs, photons per ray).
    dose : array_like
        Doses (> 0) in the same unit.

    Returns
    -------
    numpy.ndarray or float
        The predicted standard deviations, in the unit of ``sigma_ref``.

    Raises
    ------
    ValueError
        If a dose is not positive or ``sigma_ref`` < 0.

    Notes
    -----
    :formula:`quality.dose-noise`. Photon counts are Poisson: variance proportional to the
    count, which is proportional to the dose, and every linear reconstruction keeps
    variance proportional to 1 / dose while the signal stays the same. Halving the noise
    costs four times the dose. Electronic noise and photon starvation break the law at very
    low doses.
    """
    s = as_scalar(sigma_ref, "sigma_ref", low=0.0, high=1e150)
    d0 = as_scalar(dose_ref, "dose_ref", low=0.0, high=1e150, low_inclusive=False)
    d = as_array(dose, "dose", low=0.0, high=1e150, low_inclusive=False)
    out = s * np.sqrt(d0 / d)
    return out if out.ndim else float(out)


def dose_noise_exponent(doses, sigmas) -> float:
    """Exponent k of a power law sigma = c dose^k fitted by least squares in log-log.

    Parameters
    ----------
    doses : array_like, shape (n,)
        At least 2 distinct positive doses.
    sigmas : array_like, shape (n,)
        Measured noise standard deviations (> 0).

    Returns
    -------
    float
        The slope of log(sigma) against log(dose): -1/2 for quantum-limited noise.

    Raises
    ------
    ValueError
        If the arrays differ in length, hold fewer than 2 distinct doses, or non-positive values.

    Notes
    -----
    Tests :formula:`quality.dose-noise` on measurements.
    """
    d = as_array(doses, "doses", ndim=1, low=0.0, low_inclusive=False)
    s = as_array(sigmas, "sigmas", ndim=1, low=0.0, low_inclusive=False)
    if d.shape != s.shape:
        raise ValueError(f"doses and sigmas must have the same length, got {d.size} and {s.size}")
    x, y = np.log(d), np.log(s)
    if d.size < 2 or np.ptp(x) == 0:
        raise ValueError("doses must hold at least 2 distinct values")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())
