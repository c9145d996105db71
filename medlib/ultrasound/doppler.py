"""Doppler ultrasound: the Doppler equation and its angle, Poiseuille flow, pulsed-wave (PW)
Doppler on simulated slow-time data, its spectrum and Nyquist limit, and colour flow by the
lag-one autocorrelation (Kasai) estimator with a wall filter.

Taught in ``chapters/ultrasound/doppler.ipynb`` (section 5.6).

A pulsed Doppler data set is an array of shape ``(..., n_pulses, n_samples)``: slow time (one
row per transmitted pulse, sampled at the pulse repetition frequency, PRF) along the second last
axis, fast time (depth) along the last. Velocities are positive **towards** the probe (the
convention of the Doppler equation and of a colour map's red). Angles are in radians: the
insonation angle theta between the beam and the direction of flow.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_int, as_scalar, check_broadcast, check_size
from .bmode import _analytic, simulate_rf
from .waves import SOFT_TISSUE_SPEED_M_PER_S

__all__ = [
    "cw_doppler_iq",
    "doppler_shift",
    "doppler_spectrum",
    "doppler_velocity",
    "iq_demodulate",
    "kasai_velocity",
    "nyquist_velocity",
    "poiseuille_velocity",
    "simulate_doppler_rf",
    "wall_filter",
]

_C = SOFT_TISSUE_SPEED_M_PER_S


def _angle(angle_rad, name: str = "angle_rad") -> np.ndarray:
    """Insonation angles in [0, pi/2): at 90 degrees the beam sees no axial motion."""
    return as_array(angle_rad, name, low=0.0, high=np.pi / 2, high_inclusive=False)


def doppler_shift(velocity_m_per_s, angle_rad, center_frequency_hz, *,
                  speed_m_per_s: float = _C) -> np.ndarray:
    """Doppler frequency of a reflector: f_D = 2 f0 v cos(theta) / c.

    Parameters
    ----------
    velocity_m_per_s : array_like
        Speed v of the reflector along its direction of motion, m/s; positive towards the probe.
    angle_rad : array_like
        Insonation angle theta in [0, pi/2) between the beam and the motion, rad.
    center_frequency_hz : array_like
        Transmitted frequency f0 (> 0), Hz. The three arrays broadcast.
    speed_m_per_s : float, optional
        Speed of sound c (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray or float
        f_D in Hz (positive towards the probe).

    Raises
    ------
    ValueError
        If an argument is out of range, not finite, or the arrays do not broadcast.

    Notes
    -----
    :formula:`us.doppler-shift`. The factor 2 is the round trip: the moving scatterer receives
    a shifted frequency and re-emits it as a moving source. Only the component v cos(theta)
    along the beam is seen. Valid for v << c (exact: f0 (c + v cos) / (c - v cos) - f0).

    References
    ----------
    J. L. Prince and J. M. Links, *Medical Imaging Signals and Systems*, 2nd ed., ch. 11.
    """
    v = as_array(velocity_m_per_s, "velocity_m_per_s")
    th = _angle(angle_rad)
    f0 = as_array(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    check_broadcast(velocity_m_per_s=v, angle_rad=th, center_frequency_hz=f0)
    out = 2.0 * f0 * v * np.cos(th) / c
    return out if out.ndim else float(out)


def doppler_velocity(shift_hz, angle_rad, center_frequency_hz, *,
                     speed_m_per_s: float = _C) -> np.ndarray:
    """Velocity from a Doppler shift, the scanner's inversion: v = c f_D / (2 f0 cos(theta)).

    Parameters
    ----------
    shift_hz : array_like
        Doppler frequency f_D, Hz.
    angle_rad : array_like
        Insonation angle theta in [0, pi/2) that the operator sets (the angle correction), rad.
    center_frequency_hz : array_like
        Transmitted frequency f0 (> 0), Hz.
    speed_m_per_s : float, optional
        Speed of sound c (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray or float
        v in m/s, positive towards the probe.

    Raises
    ------
    ValueError
        If an argument is out of range or not finite.

    Notes
    -----
    Formula us.doppler-shift solved for v. If the true angle is theta + delta, the reported
    velocity is off by the factor cos(theta + delta) / cos(theta): the relative error grows as
    tan(theta) delta, which is why angles above 60 degrees are avoided.
    """
    fd = as_array(shift_hz, "shift_hz")
    th = _angle(angle_rad)
    f0 = as_array(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    check_broadcast(shift_hz=fd, angle_rad=th, center_frequency_hz=f0)
    out = c * fd / (2.0 * f0 * np.cos(th))
    return out if out.ndim else float(out)


def poiseuille_velocity(radius_m, vessel_radius_m: float, v_max_m_per_s: float) -> np.ndarray:
    """Laminar (Poiseuille) flow in a straight tube: v(r) = v_max (1 - r^2 / R^2), 0 outside.

    Parameters
    ----------
    radius_m : array_like
        Distance r from the vessel axis, m (the sign is ignored: |r| is used).
    vessel_radius_m : float
        Vessel radius R (> 0), m.
    v_max_m_per_s : float
        Centre-line velocity v_max, m/s (any sign).

    Returns
    -------
    numpy.ndarray or float
        v(r), m/s; 0 for |r| >= R (the wall and the tissue around it do not flow).

    Raises
    ------
    ValueError
        If an argument is not finite or R is not positive.

    Notes
    -----
    :formula:`us.poiseuille`. The mean velocity over the cross-section is v_max / 2, and
    because the area with a velocity above u is pi R^2 (1 - u / v_max), the velocities of a
    uniformly insonated lumen are **uniformly distributed** on [0, v_max]: a flat Doppler
    spectrum up to f_D(v_max).
    """
    r = as_array(radius_m, "radius_m")
    big_r = as_scalar(vessel_radius_m, "vessel_radius_m", low=0.0, low_inclusive=False)
    vmax = as_scalar(v_max_m_per_s, "v_max_m_per_s")
    rho2 = (r / big_r) ** 2
    out = np.where(rho2 < 1.0, vmax * (1.0 - rho2), 0.0)
    return out if out.ndim else float(out)


def nyquist_velocity(prf_hz, center_frequency_hz, angle_rad=0.0, *,
                     speed_m_per_s: float = _C) -> np.ndarray:
    """Largest velocity pulsed Doppler measures without aliasing: c PRF / (4 f0 cos(theta)).

    Parameters
    ----------
    prf_hz : array_like
        Pulse repetition frequency (> 0), Hz: the slow-time sampling rate.
    center_frequency_hz : array_like
        Transmitted frequency f0 (> 0), Hz.
    angle_rad : array_like, optional
        Insonation angle theta in [0, pi/2), rad (default 0).
    speed_m_per_s : float, optional
        Speed of sound c (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray or float
        v_Nyq in m/s. Faster flow wraps: it is reported as v - 2 v_Nyq.

    Raises
    ------
    ValueError
        If an argument is out of range or not finite.

    Notes
    -----
    :formula:`us.doppler-nyquist`: f_D <= PRF / 2 with formula us.doppler-shift. The PRF itself
    is bounded by the depth: a pulse must return before the next leaves, PRF <= c / (2 z_max),
    so deep, fast flow cannot be measured at a high f0 (continuous-wave Doppler has no such
    limit but no depth resolution either).
    """
    prf = as_array(prf_hz, "prf_hz", low=0.0, low_inclusive=False)
    f0 = as_array(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    th = _angle(angle_rad)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    check_broadcast(prf_hz=prf, center_frequency_hz=f0, angle_rad=th)
    out = c * prf / (4.0 * f0 * np.cos(th))
    return out if out.ndim else float(out)


def simulate_doppler_rf(depth_m, amplitude, velocity_m_per_s, *, prf_hz: float, n_pulses: int,
                        fs_hz: float, n_samples: int, center_frequency_hz: float,
                        fractional_bandwidth: float = 0.6,
                        speed_m_per_s: float = _C) -> np.ndarray:
    """Pulse-echo RF of moving scatterers, one line per pulse: the slow-time data of PW Doppler.

    Parameters
    ----------
    depth_m : array_like, shape (K,)
        Depth of each scatterer at the first pulse (>= 0), m.
    amplitude : array_like, shape (K,)
        Reflectivity of each scatterer.
    velocity_m_per_s : array_like, shape (K,)
        Axial velocity of each scatterer (its velocity times cos(theta)), m/s, positive towards
        the probe: at pulse n its depth is z_k - v_k n / PRF.
    prf_hz : float
        Pulse repetition frequency (> 0), Hz.
    n_pulses : int
        Number of pulses (slow-time samples, >= 1).
    fs_hz, n_samples, center_frequency_hz, fractional_bandwidth, speed_m_per_s
        As in :func:`~medlib.ultrasound.bmode.simulate_rf` (the course's Gaussian pulse).

    Returns
    -------
    numpy.ndarray, shape (n_pulses, n_samples)
        RF, slow time along axis 0, fast time along axis 1.

    Raises
    ------
    ValueError
        If the arrays disagree in length, a parameter is out of range, or a scatterer would
        reach the probe (depth < 0) during the ensemble.

    Notes
    -----
    Each pulse is an ordinary :func:`~medlib.ultrasound.bmode.simulate_rf` line of the
    scatterers at their positions at that pulse, so the Doppler effect appears exactly as it
    does in a pulsed system: as a change of round-trip time 2 v / (c PRF) from pulse to pulse
    (the RF is not frequency-shifted inside a pulse; that shift, f_D ~ 1 kHz on 5 MHz, is
    negligible and pulsed systems do not measure it). All pulses are simulated in one
    vectorised call. Motion across the beam (transit time) and beam diffraction are left out.
    """
    z = as_array(depth_m, "depth_m", ndim=1, low=0.0)
    amp = as_array(amplitude, "amplitude", ndim=1)
    v = as_array(velocity_m_per_s, "velocity_m_per_s", ndim=1)
    if not z.shape == amp.shape == v.shape:
        raise ValueError(f"depth_m, amplitude and velocity_m_per_s must have the same length, "
                         f"got {z.size}, {amp.size} and {v.size}")
    prf = as_scalar(prf_hz, "prf_hz", low=0.0, low_inclusive=False)
    n_p = as_int(n_pulses, "n_pulses", low=1)
    n_s = as_int(n_samples, "n_samples", low=1)
    check_size((n_p, n_s), "n_pulses (times n_samples)")
    check_size((n_p, z.size), "n_pulses (times the number of scatterers)")
    slow = np.arange(n_p) / prf
    zz = z[None, :] - v[None, :] * slow[:, None]
    if not np.all(np.isfinite(zz)):
        raise ValueError("velocity_m_per_s and prf_hz move a scatterer to an infinite depth")
    if zz.min() < 0:
        raise ValueError("depth_m, velocity_m_per_s, prf_hz and n_pulses move a scatterer to the "
                         "probe (depth < 0) during the ensemble; start it deeper or shorten the "
                         "ensemble")
    lines = np.repeat(np.arange(n_p), z.size)
    return simulate_rf(zz.ravel(), np.tile(amp, n_p), fs_hz=fs_hz, n_samples=n_s,
                       center_frequency_hz=center_frequency_hz,
                       fractional_bandwidth=fractional_bandwidth, speed_m_per_s=speed_m_per_s,
                       line=lines, n_lines=n_p)


def cw_doppler_iq(depth_m, amplitude, velocity_m_per_s, *, fs_hz: float, n_samples: int,
                  center_frequency_hz: float, speed_m_per_s: float = _C) -> np.ndarray:
    """Demodulated continuous-wave (CW) Doppler signal of moving scatterers.

    Parameters
    ----------
    depth_m : array_like, shape (K,)
        Depth of each scatterer at t = 0 (any real value: only its phase matters), m.
    amplitude : array_like, shape (K,)
        Reflectivity of each scatterer.
    velocity_m_per_s : array_like, shape (K,)
        Axial velocity of each scatterer (towards the probe positive), m/s.
    fs_hz : float
        Sampling rate of the demodulated signal (> 0), Hz: the electronics', not a PRF.
    n_samples : int
        Number of samples (>= 1).
    center_frequency_hz : float
        Transmitted frequency f0 (> 0), Hz.
    speed_m_per_s : float, optional
        Speed of sound c (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray of complex, shape (n_samples,)
        x(t) = sum_k a_k exp(-j 4 pi f0 (z_k - v_k t) / c), t = m / fs.

    Raises
    ------
    ValueError
        If the arrays disagree in length or a parameter is out of range.

    Notes
    -----
    A CW probe transmits cos(2 pi f0 t) without pause and receives from every depth inside its
    beam overlap at once; mixing with the transmitted carrier leaves one complex exponential at
    the Doppler frequency (formula us.doppler-shift) per scatterer. No depth information
    survives, and since fs can be tens of kHz, no practical aliasing limit either. Beam
    profile, attenuation and the carrier's second harmonic (removed by the mixer's low-pass
    filter) are left out.
    """
    z = as_array(depth_m, "depth_m", ndim=1)
    amp = as_array(amplitude, "amplitude", ndim=1)
    v = as_array(velocity_m_per_s, "velocity_m_per_s", ndim=1)
    if not z.shape == amp.shape == v.shape:
        raise ValueError(f"depth_m, amplitude and velocity_m_per_s must have the same length, "
                         f"got {z.size}, {amp.size} and {v.size}")
    fs = as_scalar(fs_hz, "fs_hz", low=0.0, low_inclusive=False)
    n = as_int(n_samples, "n_samples", low=1)
    f0 = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    check_size((n,), "n_samples")
    k = 4.0 * np.pi * f0 / c
    out = np.zeros(n, dtype=complex)
    t = np.arange(n) / fs
    chunk = max(1, 2_000_000 // max(z.size, 1))                 # bound the (n, K) temporaries
    for start in range(0, n, chunk):
        tt = t[start:start + chunk, None]
        with np.errstate(over="ignore", invalid="ignore"):
            phase = np.mod(k * (z[None, :] - v[None, :] * tt), 2 * np.pi)
        if not np.all(np.isfinite(phase)):
            raise ValueError("depth_m, velocity_m_per_s, fs_hz and n_samples give a phase that "
                             "is not finite")
        out[start:start + chunk] = np.exp(-1j * phase) @ amp
    return out


def iq_demodulate(rf, *, fs_hz: float, center_frequency_hz: float) -> np.ndarray:
    """Complex baseband (IQ) signal of RF lines: the analytic signal shifted down by f0.

    Parameters
    ----------
    rf : array_like, shape (..., n_samples)
        Real RF, fast time along the last axis, sample m at t = m / fs.
    fs_hz : float
        RF sampling frequency (> 0), Hz.
    center_frequency_hz : float
        Demodulation frequency f0 (> 0, below fs / 2), Hz.

    Returns
    -------
    numpy.ndarray of complex
        IQ(t) = (x + j x_hat)(t) exp(-j 2 pi f0 t), same shape as ``rf``; |IQ| is the envelope.

    Raises
    ------
    ValueError
        If ``rf`` is empty or not finite or a frequency is out of range.
    TypeError
        If ``rf`` is complex.

    Notes
    -----
    A scanner mixes the RF with cos and sin of 2 pi f0 t and low-pass filters; the analytic
    signal (:func:`~medlib.ultrasound.bmode.analytic_signal`) does the same without a filter
    design. For an echo from depth z the phase of IQ is -4 pi f0 z / c: a displacement of
    lambda / 2 turns it by a full cycle, which is what the Doppler estimators measure.
    """
    fs = as_scalar(fs_hz, "fs_hz", low=0.0, low_inclusive=False)
    f0 = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    if f0 >= fs / 2:
        raise ValueError(f"center_frequency_hz={f0} must be below fs_hz / 2 = {fs / 2}")
    z = _analytic(rf, -1, "rf")
    t = np.arange(z.shape[-1]) / fs
    return z * np.exp(-2j * np.pi * f0 * t)


def _slow_time(iq, name: str = "iq", min_pulses: int = 2) -> np.ndarray:
    x = as_array(iq, name, dtype=complex)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., n_pulses, n_samples), got {x.shape}")
    if x.shape[-2] < min_pulses:
        raise ValueError(f"{name} needs at least {min_pulses} pulses along axis -2, "
                         f"got {x.shape[-2]}")
    return x


def wall_filter(iq, *, order: int = 1) -> np.ndarray:
    """Polynomial-regression wall (clutter) filter along slow time.

    Parameters
    ----------
    iq : array_like, shape (..., n_pulses, n_samples)
        IQ data, slow time along axis -2.
    order : int, optional
        Degree of the polynomials removed (>= 0, < n_pulses - 1); 0 removes the mean (still
        tissue), 1 also a linear drift (slowly moving walls). Default 1.

    Returns
    -------
    numpy.ndarray of complex
        The data minus its least-squares fit by polynomials of slow time up to ``order``.

    Raises
    ------
    ValueError
        If ``iq`` has fewer than two axes or ``order`` is too large for the ensemble.

    Notes
    -----
    Echoes of tissue and vessel walls are 40-60 dB stronger than blood and nearly constant
    over an ensemble; removing the low-order polynomials projects them out. The price: flow
    slower than about (order + 1) PRF / (2 n_pulses) in Doppler frequency is attenuated too,
    which biases the velocity near the vessel wall.

    References
    ----------
    S. Bjaerum, H. Torp, K. Kristoffersen,
    "Clutter filter design for ultrasound color flow imaging", IEEE TUFFC 49(2):204, 2002.
    """
    x = _slow_time(iq)
    n = x.shape[-2]
    k = as_int(order, "order", low=0)
    if k >= n - 1:
        raise ValueError(f"order must be below n_pulses - 1 = {n - 1}, got {k}")
    t = np.linspace(-1.0, 1.0, n)
    q, _ = np.linalg.qr(np.vander(t, k + 1, increasing=True))     # orthonormal basis (n, k+1)
    proj = q @ (q.conj().T @ x)                                    # broadcasts over leading axes
    return x - proj


def kasai_velocity(iq, *, prf_hz: float, center_frequency_hz: float, angle_rad: float = 0.0,
                   gate_samples: int = 1, speed_m_per_s: float = _C) -> np.ndarray:
    """Mean axial velocity by the lag-one autocorrelation (Kasai) estimator, per depth sample.

    Parameters
    ----------
    iq : array_like, shape (..., n_pulses, n_samples)
        IQ data (after the wall filter), slow time along axis -2, at least 2 pulses.
    prf_hz : float
        Pulse repetition frequency (> 0), Hz.
    center_frequency_hz : float
        Transmitted frequency f0 (> 0), Hz.
    angle_rad : float, optional
        Insonation angle theta in [0, pi/2) for the angle correction, rad (default 0: the
        axial velocity).
    gate_samples : int, optional
        Length (>= 1, odd or even) of a moving average of R(1) along depth: the range gate
        over which the estimate is pooled (about one pulse length reduces its variance).
    speed_m_per_s : float, optional
        Speed of sound c (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray, shape (..., n_samples)
        v = c PRF / (4 pi f0 cos(theta)) arg R(1), m/s, positive towards the probe, within
        +- the Nyquist velocity (:func:`nyquist_velocity`); faster flow wraps.

    Raises
    ------
    ValueError
        If ``iq`` has the wrong shape or a parameter is out of range.

    Notes
    -----
    :formula:`us.kasai`. R(1) = sum_n conj(x_n) x_{n+1} over the ensemble. An echo whose depth
    falls by v cos(theta) / PRF each pulse turns its IQ phase by 4 pi f0 v cos(theta) /
    (c PRF) each pulse, so arg R(1) is that turn, averaged with the echo power as weight: the
    estimator is the mean Doppler frequency of the power spectrum (the first moment, by the
    Wiener-Khinchin theorem) without computing a spectrum. Samples with no signal give an
    arbitrary angle: mask them by power (R(0)) in a display.

    References
    ----------
    C. Kasai, K. Namekawa, A. Koyano, R. Omoto, "Real-time two-dimensional blood flow imaging
    using an autocorrelation technique", IEEE Trans. Sonics Ultrason. 32(3):458, 1985.
    """
    x = _slow_time(iq)
    prf = as_scalar(prf_hz, "prf_hz", low=0.0, low_inclusive=False)
    f0 = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    th = float(_angle(as_scalar(angle_rad, "angle_rad")))
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    gate = as_int(gate_samples, "gate_samples", low=1)
    r1 = np.sum(np.conj(x[..., :-1, :]) * x[..., 1:, :], axis=-2)
    if gate > 1:
        size = min(gate, r1.shape[-1])
        r1 = (ndimage.uniform_filter1d(r1.real, size, axis=-1, mode="nearest")
              + 1j * ndimage.uniform_filter1d(r1.imag, size, axis=-1, mode="nearest"))
    return c * prf / (4.0 * np.pi * f0 * np.cos(th)) * np.angle(r1)


def doppler_spectrum(iq, *, prf_hz: float, n_fft: int = 64, hop: int | None = None):
    """PW Doppler spectrogram: short-time Fourier transform of the slow-time samples of a gate.

    Parameters
    ----------
    iq : array_like, shape (n_pulses, n_samples)
        IQ samples of the range gate: slow time along axis 0, the gate's depth samples along
        axis 1 (their spectra are added: the gate is the sample volume).
    prf_hz : float
        Pulse repetition frequency (> 0), Hz.
    n_fft : int, optional
        Segment length in pulses (2 <= n_fft <= n_pulses), Hann-windowed (default 64).
    hop : int, optional
        Step between segments (>= 1, default n_fft // 2).

    Returns
    -------
    frequency_hz : numpy.ndarray, shape (n_fft,)
        Doppler frequencies from -PRF/2 up to PRF/2 (increasing; zero in the middle).
    time_s : numpy.ndarray, shape (n_segments,)
        Centre time of each segment, s.
    power : numpy.ndarray, shape (n_fft, n_segments)
        |FFT(w x)|^2 / (sum w)^2 summed over the gate samples (the 'spectrum' scaling of
        :func:`scipy.signal.spectrogram`, two-sided).

    Raises
    ------
    ValueError
        If ``iq`` has the wrong shape or a parameter is out of range.

    Notes
    -----
    What a scanner shows in PW mode (the spectral trace against time). Each column is the
    distribution of power over Doppler frequency, so for a uniformly insonated Poiseuille
    profile (formula us.poiseuille) it is flat from 0 to 2 f0 v_max cos(theta) / c; a frequency
    beyond PRF / 2 appears at f - PRF (aliasing, formula us.doppler-nyquist).
    """
    x = as_array(iq, "iq", dtype=complex, ndim=2)
    n_p = x.shape[0]
    prf = as_scalar(prf_hz, "prf_hz", low=0.0, low_inclusive=False)
    nf = as_int(n_fft, "n_fft", low=2, high=n_p)
    h = min(nf // 2 if hop is None else as_int(hop, "hop", low=1), n_p)
    check_size((nf, x.shape[1], (n_p - nf) // h + 1), "n_fft (times the gate and segments)")
    starts = np.arange(0, n_p - nf + 1, h)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(nf) / nf)     # periodic Hann, as for an FFT
    seg = x[starts[:, None] + np.arange(nf)[None, :], :]            # (n_seg, nf, n_gate)
    spec = np.fft.fft(seg * w[None, :, None], axis=1)
    power = (np.abs(spec) ** 2).sum(axis=2) / w.sum() ** 2         # (n_seg, nf)
    freq = np.fft.fftshift(np.fft.fftfreq(nf, 1.0 / prf))
    time_s = (starts + nf / 2) / prf
    return freq, time_s, np.fft.fftshift(power, axes=1).T
