"""Signal-to-noise ratio of an MR acquisition: how voxel size, sampling time, bandwidth,
averages and field strength set it, a Monte Carlo acquisition to check it, and the SNR of a real
magnitude image measured from its background.

Taught in ``chapters/mri/snr.ipynb`` (section 4.8).

Conventions of this module
--------------------------
Thermal noise is white over the receiver band, so each complex k-space sample carries Gaussian
noise whose per-channel variance is proportional to the total receiver bandwidth
``bandwidth_hz`` (= 1 / dwell time): per-channel standard deviation
``noise_density x sqrt(bandwidth_hz)``, with ``noise_density`` in signal units per sqrt(Hz).
Signals follow the scale of :func:`medlib.mri.kspace_forward` (rho x mm^2 per sample), with
rho the magnetisation per unit volume times the slice thickness.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_int, as_mask, as_rng, as_scalar
from ..noise import sigma_from_background
from .kspace import kspace_forward, kspace_inverse

__all__ = [
    "acquire",
    "field_snr_ratio",
    "relative_sar",
    "relative_snr",
    "repeated_snr",
    "snr_from_background",
]


def relative_snr(spacing_mm, n_pe: int, n_ro: int, bandwidth_hz: float, *,
                 n_avg: int = 1) -> float:
    """SNR up to a constant: voxel volume times the square root of the sampling time.

    Parameters
    ----------
    spacing_mm : sequence of 3 float
        Voxel size (dz, dy, dx) in mm: slice thickness and in-plane pixel size.
    n_pe, n_ro : int
        Numbers of phase-encoding lines and readout samples (>= 1).
    bandwidth_hz : float
        Total receiver bandwidth in Hz (1 / dwell time, = n_ro x bandwidth per pixel).
    n_avg : int, optional
        Number of averages (NEX, NSA; default 1).

    Returns
    -------
    float
        :math:`\\Delta x\\Delta y\\Delta z\\sqrt{N_{pe}N_{ro}N_{avg}/BW}` in mm^3 s^(1/2). Only
        ratios are meaningful: the constant depends on the coil, the body and the field.

    Raises
    ------
    ValueError
        If a size is not positive or ``spacing_mm`` does not hold three values.

    Notes
    -----
    :formula:`mri.snr-scaling` --
    :math:`\\mathrm{SNR}\\propto\\Delta x\\Delta y\\Delta z\\sqrt{N_{pe}N_{ro}N_{avg}/BW}`: the
    signal of a voxel is proportional to its volume, and the noise of the image falls with the
    square root of the total time the ADC spends sampling,
    :math:`T_{samp} = N_{pe}N_{avg}N_{ro}\\Delta t_s = N_{pe}N_{avg}N_{ro}/BW`.

    References
    ----------
    D. I. Hoult and R. E. Richards, J. Magn. Reson. 24, 71-85 (1976); D. G. Nishimura,
    Principles of Magnetic Resonance Imaging (1996), ch. 7 (SNR).
    """
    sp = as_array(spacing_mm, "spacing_mm", shape=(3,), low=1e-6, high=1e6)
    npe = as_int(n_pe, "n_pe", low=1, high=2 ** 31)
    nro = as_int(n_ro, "n_ro", low=1, high=2 ** 31)
    bw = as_scalar(bandwidth_hz, "bandwidth_hz", low=1e-6, high=1e12)
    nav = as_int(n_avg, "n_avg", low=1, high=2 ** 31)
    return float(np.prod(sp) * np.sqrt(npe * nro * nav / bw))


def acquire(image, spacing_mm, *, bandwidth_hz: float, noise_density: float, rng,
            n_avg: int = 1, slice_mm: float = 1.0) -> np.ndarray:
    """Simulate a noisy 2D acquisition of an image and reconstruct it.

    Parameters
    ----------
    image : array_like, shape (ny, nx)
        Magnetisation per unit volume (real or complex), x = 0 at index N // 2.
    spacing_mm : float or (float, float)
        Pixel size (dy, dx) in mm.
    bandwidth_hz : float
        Total receiver bandwidth in Hz (> 0).
    noise_density : float
        Per-channel noise per sqrt(Hz) of each k-space sample, in the units of
        :func:`mri.kspace_forward` (>= 0).
    rng : numpy.random.Generator or int
        Source of randomness.
    n_avg : int, optional
        Number of averages: the k-space is acquired ``n_avg`` times with independent noise and
        averaged (default 1).
    slice_mm : float, optional
        Slice thickness in mm (default 1): the signal of each voxel scales with it.

    Returns
    -------
    numpy.ndarray, complex128, shape (ny, nx)
        The reconstructed complex image (:func:`mri.kspace_inverse`); the noise-free image is
        ``image x slice_mm``. Take ``np.abs`` for a magnitude image.

    Raises
    ------
    ValueError
        If the image is not 2D and finite, or an argument is out of range.

    Notes
    -----
    Every k-space sample receives complex white Gaussian noise of per-channel standard
    deviation ``noise_density x sqrt(bandwidth_hz)`` per average; averaging is done on the
    k-space, as a scanner does. The SNR of the result follows :formula:`mri.snr-scaling`.
    """
    img = as_array(image, "image", ndim=2, dtype=np.complex128)
    sp = as_array(spacing_mm, "spacing_mm", ndim=(0, 1), low=1e-6, high=1e6)
    bw = as_scalar(bandwidth_hz, "bandwidth_hz", low=1e-6, high=1e12)
    nd = as_scalar(noise_density, "noise_density", low=0.0, high=1e100)
    nav = as_int(n_avg, "n_avg", low=1, high=4096)
    dz = as_scalar(slice_mm, "slice_mm", low=1e-6, high=1e6)
    gen = as_rng(rng)
    clean = kspace_forward(img * dz, sp)
    sigma = nd * np.sqrt(bw)
    total = np.zeros(clean.shape, dtype=np.complex128)
    for _ in range(nav):                   # one loop step per average, each one vectorised
        total += gen.normal(0.0, sigma, clean.shape) + 1j * gen.normal(0.0, sigma, clean.shape)
    return kspace_inverse(clean + total / nav, sp)


def repeated_snr(repetitions, roi) -> tuple[float, float]:
    """SNR of a uniform region from repeated acquisitions, and its Monte Carlo standard error.

    Parameters
    ----------
    repetitions : array_like, shape (n_rep, ny, nx)
        Real (or the real part of complex) images of the same object, independent noise.
    roi : array_like of bool, shape (ny, nx)
        Pixels of one uniform signal.

    Returns
    -------
    snr : float
        Mean signal in the ROI over the pooled noise standard deviation: the variance across
        repetitions (ddof = 1) averaged over the ROI pixels.
    rel_error : float
        Relative standard error of ``snr`` from the noise estimate,
        :math:`1/\\sqrt{2 n_{roi}(n_{rep} - 1)}` (the signal mean is far more precise).

    Raises
    ------
    ValueError
        If fewer than two repetitions are given, the shapes differ or the ROI is empty.
    """
    rep = as_array(repetitions, "repetitions", ndim=3)
    mask = as_mask(roi, "roi")
    if rep.shape[0] < 2:
        raise ValueError("repetitions must hold at least 2 images")
    if mask.shape != rep.shape[1:]:
        raise ValueError(f"roi must have the shape of one image {rep.shape[1:]}, got {mask.shape}")
    if not mask.any():
        raise ValueError("roi must select at least one pixel")
    values = rep[:, mask]
    sigma = np.sqrt(values.var(axis=0, ddof=1).mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = float(values.mean() / sigma) if sigma > 0 else np.inf
    return snr, float(1.0 / np.sqrt(2.0 * values.shape[1] * (rep.shape[0] - 1)))


def snr_from_background(signal, background) -> float:
    """SNR of a magnitude MR image: a tissue region against a signal-free background region.

    Parameters
    ----------
    signal : array_like
        Magnitudes of a uniform tissue region (at least 1 value).
    background : array_like
        Magnitudes of air (no signal, no artefact; at least 2 values). Exact zeros that a
        scanner or an export inserted are not noise: leave them out.

    Returns
    -------
    float
        :math:`A/\\sigma` with :math:`\\sigma = \\langle M_{bg}\\rangle/\\sqrt{\\pi/2}` (the mean
        of Rayleigh noise, :func:`medlib.noise.sigma_from_background`) and
        :math:`A = \\sqrt{\\max(\\langle M^2\\rangle - 2\\sigma^2, 0)}` (the Rician second
        moment, which removes the noise floor that biases low-SNR regions upwards).

    Raises
    ------
    ValueError
        If a region is empty, negative or not finite, or the background is all zero.

    Notes
    -----
    :formula:`mri.snr-magnitude` --
    :math:`\\mathrm{SNR} = \\sqrt{\\langle M^2\\rangle - 2\\sigma^2}/\\sigma`. Valid for a
    single-coil (or a phase-combined) magnitude image; a multi-coil sum of squares is
    noncentral chi, not Rician, and its background mean is larger than
    :math:`\\sigma\\sqrt{\\pi/2}`.

    References
    ----------
    H. Gudbjartsson and S. Patz, The Rician distribution of noisy MRI data, Magn. Reson. Med.
    34, 910-914 (1995). R. M. Henkelman, Measurement of signal intensities in the presence of
    noise in MR images, Med. Phys. 12, 232-233 (1985).
    """
    m = as_array(signal, "signal", low=0.0).ravel()
    sigma = sigma_from_background(background)
    if sigma <= 0:
        raise ValueError("background must not be all zero (no noise to measure)")
    a2 = np.mean(m * m) - 2.0 * sigma * sigma
    return float(np.sqrt(max(a2, 0.0)) / sigma)


def field_snr_ratio(b0_t, b0_ref_t: float, *, exponent: float = 1.0):
    """Intrinsic SNR gain from a field change at fixed relaxation: (B0 / B0_ref) ** exponent.

    Parameters
    ----------
    b0_t : float or array_like
        Field strength in tesla (> 0).
    b0_ref_t : float
        Reference field strength in tesla (> 0).
    exponent : float, optional
        1 (default) where the patient's body noise dominates, as at clinical fields; up to 7/4
        where the coil's own noise dominates (low fields, small coils).

    Returns
    -------
    float or numpy.ndarray
        The ratio of the SNRs, before relaxation, bandwidth and SAR are considered.

    Raises
    ------
    ValueError
        If a field is not positive or ``exponent`` is outside [1, 7/4].

    Notes
    -----
    :formula:`mri.snr-field` -- :math:`\\mathrm{SNR}\\propto B_0^{\\beta}`, with
    :math:`1\\le\\beta\\le 7/4`: the magnetisation grows as :math:`B_0` and the induced EMF as
    :math:`\\omega_0 M_0\\propto B_0^2`, while the noise voltage, the square root of the
    resistance that produces it, grows as :math:`B_0^{1/4}` (the coil's resistance,
    :math:`\\propto\\omega_0^{1/2}` by the skin effect) or as :math:`B_0` (the conductive body's,
    :math:`\\propto\\omega_0^2`).

    References
    ----------
    D. I. Hoult and R. E. Richards, J. Magn. Reson. 24, 71-85 (1976); D. I. Hoult and
    P. C. Lauterbur, J. Magn. Reson. 34, 425-433 (1979); W. A. Edelstein et al.,
    Magn. Reson. Med. 3, 604-618 (1986).
    """
    b0 = as_array(b0_t, "b0_t", low=0.0, low_inclusive=False, high=1e3)
    ref = as_scalar(b0_ref_t, "b0_ref_t", low=0.0, low_inclusive=False, high=1e3)
    beta = as_scalar(exponent, "exponent", low=1.0, high=1.75)
    out = (b0 / ref) ** beta
    return float(out) if out.ndim == 0 else out


def relative_sar(b0_t, flip_deg, pulse_ms, tr_ms):
    """Specific absorption rate of a train of rectangular RF pulses, up to a constant.

    Parameters
    ----------
    b0_t : float or array_like
        Field strength in tesla (> 0).
    flip_deg : float or array_like
        Flip angle of each pulse in degrees (> 0).
    pulse_ms : float or array_like
        Duration of each (rectangular) pulse in ms (> 0).
    tr_ms : float or array_like
        Time between pulses in ms (>= ``pulse_ms``).

    Returns
    -------
    float or numpy.ndarray
        :math:`B_0^2\\alpha^2/(\\tau\\,TR)` in T^2 rad^2 / ms^2: only ratios are meaningful.

    Raises
    ------
    ValueError
        If an argument is not positive, or a pulse is longer than its TR.

    Notes
    -----
    :formula:`mri.sar-field` -- :math:`\\mathrm{SAR}\\propto\\omega_0^2B_1^2\\,\\tau/TR
    \\propto B_0^2\\alpha^2/(\\tau\\,TR)`: a pulse of amplitude :math:`B_1` and duration
    :math:`\\tau` flips by :math:`\\alpha=\\gamma B_1\\tau`; it induces electric fields
    :math:`\\propto\\omega_0B_1` in the conductive body, which dissipate
    :math:`\\propto\\sigma E^2` for the fraction :math:`\\tau/TR` of the time.

    References
    ----------
    P. A. Bottomley and E. R. Andrew, Phys. Med. Biol. 23, 630-643 (1978).
    """
    b0 = as_array(b0_t, "b0_t", low=0.0, low_inclusive=False, high=1e3)
    alpha = np.deg2rad(as_array(flip_deg, "flip_deg", low=0.0, low_inclusive=False, high=1e5))
    tau = as_array(pulse_ms, "pulse_ms", low=0.0, low_inclusive=False, high=1e6)
    tr = as_array(tr_ms, "tr_ms", low=0.0, low_inclusive=False, high=1e9)
    try:
        b0, alpha, tau, tr = np.broadcast_arrays(b0, alpha, tau, tr)
    except ValueError:
        raise ValueError("b0_t, flip_deg, pulse_ms and tr_ms must have broadcastable shapes") \
            from None
    if np.any(tau > tr):
        raise ValueError("pulse_ms must not exceed tr_ms")
    out = b0 ** 2 * alpha ** 2 / (tau * tr)
    return float(out) if out.ndim == 0 else out
