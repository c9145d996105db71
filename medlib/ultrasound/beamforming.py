"""Beam formation with a linear array: element geometry, focused transmission, channel data,
delay-and-sum receive beamforming with dynamic focusing and apodisation, and the closed forms of
the beam (lateral resolution, grating lobes, Fresnel distance).

Taught in ``chapters/ultrasound/beamforming.ipynb`` (section 5.4).

Geometry: the array lies along x (lateral) at depth z = 0, its elements centred on x = 0; the
scan line is the z axis. Channel data have shape ``(n_elements, n_samples)``, sample m taken at
t = m / fs after the first element fires. Units are named in the arguments (SI).
"""
from __future__ import annotations

import numpy as np

from .._validate import (
    MAX_ELEMENTS,
    as_array,
    as_bool,
    as_choice,
    as_int,
    as_scalar,
    check_size,
)
from .bmode import _analytic, _gauss_exponent, simulate_rf
from .waves import SOFT_TISSUE_SPEED_M_PER_S

__all__ = [
    "LATERAL_FWHM_CONSTANT",
    "apodization",
    "channel_data",
    "delay_and_sum",
    "element_positions",
    "fresnel_distance",
    "fwhm",
    "grating_lobe_angle",
    "lateral_resolution",
    "transmit_delays",
    "transmit_field",
]

#: -6 dB two-way width of a focused rectangular aperture, in units of lambda z / D: the
#: half-power point of sinc(u), u = x D / (lambda z), is u = 0.4429, so sinc^2 falls to 1/2 at
#: x = +-0.4429 lambda z / D.
LATERAL_FWHM_CONSTANT = 0.8859

_WINDOWS = ("rect", "hann")


def element_positions(n_elements: int, pitch_m: float) -> np.ndarray:
    """Lateral positions of the element centres of a linear array, centred on x = 0.

    Parameters
    ----------
    n_elements : int
        Number of elements N (>= 1).
    pitch_m : float
        Centre-to-centre distance of neighbouring elements (> 0), m.

    Returns
    -------
    numpy.ndarray, shape (N,)
        x_j = (j - (N - 1) / 2) pitch, m; the aperture is D = N pitch.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    n = as_int(n_elements, "n_elements", low=1, high=MAX_ELEMENTS)
    p = as_scalar(pitch_m, "pitch_m", low=0.0, low_inclusive=False)
    return (np.arange(n) - (n - 1) / 2.0) * p


def _elements(element_x_m) -> np.ndarray:
    x = as_array(element_x_m, "element_x_m", ndim=1, low=-1.0, high=1.0)   # an array < 2 m
    if x.size > 4096:
        raise ValueError(f"element_x_m holds {x.size} elements; at most 4096 are supported")
    return x


def transmit_delays(element_x_m, focus_depth_m: float, *,
                    speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> np.ndarray:
    """Firing delays that focus the transmitted pulses at the point (0, z_f).

    Parameters
    ----------
    element_x_m : array_like, shape (N,)
        Element positions, m.
    focus_depth_m : float
        Transmit focal depth z_f (> 0), m.
    speed_m_per_s : float, optional
        Speed of sound (> 0), default 1540 m/s.

    Returns
    -------
    numpy.ndarray, shape (N,)
        tau_j = (d_max - d_j) / c >= 0, s, with d_j = sqrt(z_f^2 + x_j^2): the outer elements
        fire first and every pulse reaches the focus at the same time d_max / c.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    x = _elements(element_x_m)
    zf = as_scalar(focus_depth_m, "focus_depth_m", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    d = np.hypot(zf, x)
    return (d.max() - d) / c


def transmit_field(x_m, z_m, element_x_m, *, focus_depth_m: float, center_frequency_hz: float,
                   fractional_bandwidth: float = 0.6,
                   speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S,
                   transmit_window: str = "rect", n_times: int = 41,
                   continuous_wave: bool = False) -> np.ndarray:
    """Peak envelope of the transmitted pulse at field points: the one-way beam profile.

    Parameters
    ----------
    x_m, z_m : array_like
        Lateral positions and depths (> 0) of the field points, m (broadcast together).
    element_x_m : array_like, shape (N,)
        Element positions, m.
    focus_depth_m : float
        Transmit focal depth (> 0), m; a very large value (say 1e3 m) gives an unfocused array.
    center_frequency_hz, fractional_bandwidth, speed_m_per_s
        As in :func:`~medlib.ultrasound.bmode.simulate_rf`.
    transmit_window : {'rect', 'hann'}, optional
        Transmit apodisation (default rectangular).
    n_times : int, optional
        Number of instants (>= 1) at which the envelope is evaluated, spread over the interval
        in which the element pulses arrive (default 41).
    continuous_wave : bool, optional
        If True, the amplitude of the continuous wave at the centre frequency instead,
        |sum_i w_i exp(-2 pi j fc (tau_i + d_i / c))|: the classic single-frequency beam, with
        its interference fringes, and ``n_times`` times less work (default False).

    Returns
    -------
    numpy.ndarray
        max_t |sum_i w_i p_a(t - tau_i - d_i / c)|, with p_a the analytic Gaussian pulse, at
        each field point (broadcast shape of ``x_m`` and ``z_m``); the transmit weights are
        normalised to sum to 1, so the value is 1 where all pulses arrive together.

    Raises
    ------
    ValueError
        If an argument is out of range or the work would exceed 2**28 values.

    Notes
    -----
    Point elements without 1/r spreading, as in :func:`channel_data`: the pattern, not the
    absolute pressure. The pulse-echo lateral response is about the product of this transmit
    profile and the receive one.
    """
    x = as_array(x_m, "x_m")
    z = as_array(z_m, "z_m", low=0.0, low_inclusive=False)
    try:
        x, z = np.broadcast_arrays(x, z)
    except ValueError as err:
        raise ValueError(f"x_m and z_m do not broadcast: {err}") from None
    ex = _elements(element_x_m)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    fc = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    a = _gauss_exponent(fc, fractional_bandwidth, -6.0)
    nt = as_int(n_times, "n_times", low=1, high=10_000)
    cw = as_bool(continuous_wave, "continuous_wave")
    if cw:
        nt = 1
    tau = transmit_delays(ex, focus_depth_m, speed_m_per_s=c)
    w = apodization(ex, [0.0], window=as_choice(transmit_window, "transmit_window", _WINDOWS))[0]
    check_size((x.size, ex.size, nt), "x_m (times elements times n_times)")
    xf, zf = x.ravel(), z.ravel()
    out = np.empty(xf.size)
    chunk = max(1, 4_000_000 // (ex.size * nt))
    for start in range(0, xf.size, chunk):
        sl = slice(start, start + chunk)
        arr = tau[None, :] + np.hypot(xf[sl, None] - ex[None, :], zf[sl, None]) / c  # (P, N)
        if cw:
            out[sl] = np.abs(np.exp(-2j * np.pi * fc * arr) @ w)
            continue
        lo, hi = arr.min(axis=1), arr.max(axis=1)
        t = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, nt)[None, :]   # (P, T)
        dt = t[:, None, :] - arr[:, :, None]                                         # (P, N, T)
        with np.errstate(over="ignore", invalid="ignore"):
            # the analytic pulse exp(-a dt^2 - 2 pi j fc dt) in one complex exponential; where
            # a overflows (a delta pulse) only dt = 0 survives
            expo = np.where(dt == 0, 0.0, -a * dt**2) - 2j * np.pi * fc * dt
        s = np.einsum("n,pnt->pt", w, np.exp(expo))
        out[sl] = np.abs(s).max(axis=1)
    return out.reshape(x.shape)


def apodization(element_x_m, depth_m, *, f_number: float | None = None,
                window: str = "rect") -> np.ndarray:
    """Receive (or transmit) weights of the elements for each focal depth.

    Parameters
    ----------
    element_x_m : array_like, shape (N,)
        Element positions, m, centred on the scan line x = 0.
    depth_m : array_like, shape (M,)
        Focal depths (>= 0), m.
    f_number : float, optional
        F-number F = z / D_active (> 0): the active aperture at depth z is z / F wide (dynamic
        aperture, constant lateral resolution), never less than the central element(s) nor more
        than the array. Default: the whole array at every depth.
    window : {'rect', 'hann'}, optional
        Weighting across the active half-width a: 1 (rectangular) or
        (1 + cos(pi x / a)) / 2 (Hann), zero outside.

    Returns
    -------
    numpy.ndarray, shape (M, N)
        Weights summing to 1 over the elements at each depth.

    Raises
    ------
    ValueError
        If an argument is out of range or ``window`` is unknown.
    """
    x = _elements(element_x_m)
    z = as_array(depth_m, "depth_m", ndim=1, low=0.0)
    win = as_choice(window, "window", _WINDOWS)
    check_size((z.size, x.size), "depth_m (times the number of elements)")
    ax = np.abs(x)
    if x.size > 1:
        half_pitch = np.min(np.diff(np.sort(x))) / 2.0
    else:
        half_pitch = 0.0
    edge = ax.max() + half_pitch                     # the half-width of the whole array
    floor = ax.min() + max(half_pitch, 1e-12)        # at least the central element(s)
    if f_number is None:
        a = np.full(z.size, edge)
    else:
        f = as_scalar(f_number, "f_number", low=0.0, low_inclusive=False)
        a = np.clip(z / (2.0 * f), floor, max(edge, floor))
    u = ax[None, :] / a[:, None]
    if win == "rect":
        w = (u <= 1.0).astype(np.float64)
    else:
        w = np.where(u < 1.0, 0.5 * (1.0 + np.cos(np.pi * np.minimum(u, 1.0))), 0.0)
    return w / w.sum(axis=1, keepdims=True)


def channel_data(scatterer_x_m, scatterer_z_m, amplitude, element_x_m, *, focus_depth_m: float,
                 fs_hz: float, n_samples: int, center_frequency_hz: float,
                 fractional_bandwidth: float = 0.6,
                 speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S,
                 transmit_window: str = "rect", element_width_m: float = 0.0,
                 t0_s: float = 0.0) -> np.ndarray:
    """RF signals received by every element after one focused transmission (point scatterers).

    Parameters
    ----------
    scatterer_x_m, scatterer_z_m : array_like, shape (K,)
        Lateral position and depth (> 0) of each scatterer, m.
    amplitude : array_like, shape (K,)
        Reflectivity of each scatterer.
    element_x_m : array_like, shape (N,)
        Element positions, m (every element transmits and receives).
    focus_depth_m : float
        Transmit focal depth z_f (> 0), m; the elements fire with :func:`transmit_delays`.
    fs_hz, n_samples, center_frequency_hz, fractional_bandwidth, speed_m_per_s
        As in :func:`~medlib.ultrasound.bmode.simulate_rf`.
    transmit_window : {'rect', 'hann'}, optional
        Transmit apodisation across the whole array (default rectangular).
    element_width_m : float, optional
        Element width w (>= 0), m: each element then transmits and receives with the
        directivity sinc(w sin(theta) / lambda) at the centre frequency, theta the angle of the
        scatterer from the element's normal. Default 0: point elements.
    t0_s : float, optional
        Time of the first sample after the first firing (>= 0), s: sample m is taken at
        t0 + m / fs (default 0). Recording only a window of depths saves work.

    Returns
    -------
    numpy.ndarray, shape (N, n_samples)
        s_j(t) = sum_k sum_i a_k w_i D_ik D_jk p(t - tau_i - (d_ik + d_jk) / c), with p the
        Gaussian pulse of :func:`~medlib.ultrasound.bmode.gaussian_pulse`.

    Raises
    ------
    ValueError
        If arrays disagree in length, a parameter is out of range or the work would exceed
        2**28 pulse evaluations per chunk.

    Notes
    -----
    The round-trip time from transmit element i to scatterer k and back to receive element j is
    tau_i + (d_ik + d_jk) / c, d = the Euclidean distance: the transmitted field is built from
    the N element pulses, so the transmit beam has its own diffraction pattern (focus, side and
    grating lobes). Each echo is a delayed copy of the pulse, added at its exact fractional delay
    by :func:`~medlib.ultrasound.bmode.simulate_rf` (one "line" per receive element). Left out:
    the 1/r spreading of each element's wave, attenuation, the frequency dependence of the
    element directivity and of the scattering (a first-order, narrow-band-directivity model).
    """
    xs = as_array(scatterer_x_m, "scatterer_x_m", ndim=1)
    zs = as_array(scatterer_z_m, "scatterer_z_m", ndim=1, low=0.0, low_inclusive=False)
    amp = as_array(amplitude, "amplitude", ndim=1)
    if not xs.shape == zs.shape == amp.shape:
        raise ValueError(f"scatterer_x_m, scatterer_z_m and amplitude must have the same "
                         f"length, got {xs.size}, {zs.size} and {amp.size}")
    x = _elements(element_x_m)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    fc = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    fs = as_scalar(fs_hz, "fs_hz", low=0.0, low_inclusive=False)
    n = as_int(n_samples, "n_samples", low=1)
    width = as_scalar(element_width_m, "element_width_m", low=0.0)
    t0 = as_scalar(t0_s, "t0_s", low=0.0)
    tau = transmit_delays(x, focus_depth_m, speed_m_per_s=c)
    tx_win = as_choice(transmit_window, "transmit_window", _WINDOWS)
    w_tx = apodization(x, [0.0], window=tx_win)[0] * x.size   # rect: all ones
    a = _gauss_exponent(fc, fractional_bandwidth, -6.0)
    check_size((x.size, n), "n_samples (times the number of elements)")
    # simulate_rf starts at t = 0: shift the paths by t0 and keep a margin for the pulses that
    # begin before t0 (their tails reach into the record); paths ending before it are dropped.
    with np.errstate(over="ignore", divide="ignore"):
        margin_f = np.ceil(4.0 / np.sqrt(2 * a) * fs) + 1.0 if t0 > 0 else 0.0
    if not margin_f <= MAX_ELEMENTS:
        raise ValueError(f"the pulse is too long to start the record at t0_s={t0}")
    margin = int(margin_f)
    lam = c / fc
    out = np.zeros((x.size, n))
    nx = x.size
    chunk = max(1, 400_000 // (nx * nx))
    for start in range(0, xs.size, chunk):
        sl = slice(start, start + chunk)
        dx = xs[sl, None] - x[None, :]                          # (k, element)
        d = np.hypot(dx, zs[sl, None])
        direct = np.sinc(width * (dx / d) / lam) if width > 0 else np.ones_like(d)
        # (k, tx, rx): time and weight of every path
        t = tau[None, :, None] + (d[:, :, None] + d[:, None, :]) / c
        g = (amp[sl, None, None] * (w_tx * direct)[:, :, None] * direct[:, None, :])
        rx = np.broadcast_to(np.arange(nx)[None, None, :], t.shape)
        shifted = t.ravel() - t0 + margin / fs
        keep = shifted >= 0
        out += simulate_rf(c * shifted[keep] / 2.0, g.ravel()[keep], line=rx.ravel()[keep],
                           n_lines=nx, fs_hz=fs, n_samples=n + margin, center_frequency_hz=fc,
                           fractional_bandwidth=fractional_bandwidth,
                           speed_m_per_s=c)[:, margin:]
    return out


def delay_and_sum(channels, element_x_m, depth_m, *, fs_hz: float, focus_depth_m: float,
                  center_frequency_hz: float, speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S,
                  f_number: float | None = None, window: str = "rect",
                  t0_s: float = 0.0) -> np.ndarray:
    """Delay-and-sum beamforming of one scan line (x = 0) with dynamic receive focusing.

    Parameters
    ----------
    channels : array_like, shape (N, n_samples)
        Channel data of one transmission (e.g. from :func:`channel_data`), sample m at m / fs.
    element_x_m : array_like, shape (N,)
        Element positions, m.
    depth_m : array_like, shape (M,)
        Depths (>= 0) of the points of the line to form, m.
    fs_hz : float
        Sampling frequency of ``channels`` (> 0), Hz.
    focus_depth_m : float
        Transmit focal depth z_f used for the transmission (> 0), m.
    center_frequency_hz : float
        Centre frequency (> 0), Hz, used to re-modulate the interpolated baseband signal.
    speed_m_per_s : float, optional
        Assumed speed of sound (> 0), default 1540 m/s.
    f_number, window
        Receive aperture and apodisation, as in :func:`apodization`.
    t0_s : float, optional
        Time of the first sample of ``channels`` (>= 0), s, as in :func:`channel_data`.

    Returns
    -------
    numpy.ndarray of complex, shape (M,)
        The beamformed analytic signal: its real part is the RF line, its magnitude the
        envelope (formula us.envelope).

    Raises
    ------
    ValueError
        If shapes disagree or an argument is out of range.
    TypeError
        If ``channels`` is complex.

    Notes
    -----
    The transmitted wave reaches the point (0, z) at t_tx = (d_max - z_f + z) / c (the centre
    element's pulse; exact on the axis for the delays of :func:`transmit_delays`), and its echo
    reaches element j at t_tx + sqrt(z^2 + x_j^2) / c. For every point and element the channel
    signal is read at that time and the weighted readings are summed: the receive focus follows
    the depth (dynamic focusing). The reading interpolates the complex baseband signal
    (analytic signal times exp(-2 pi j fc t)), which varies slowly, and re-modulates it, more
    accurate than interpolating the RF itself at a few samples per period.
    """
    ch = as_array(channels, "channels", ndim=2)
    x = _elements(element_x_m)
    if ch.shape[0] != x.size:
        raise ValueError(f"channels must have one row per element ({x.size}), got "
                         f"{ch.shape[0]}")
    z = as_array(depth_m, "depth_m", ndim=1, low=0.0)
    fs = as_scalar(fs_hz, "fs_hz", low=0.0, low_inclusive=False)
    fc = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    zf = as_scalar(focus_depth_m, "focus_depth_m", low=0.0, low_inclusive=False)
    t0 = as_scalar(t0_s, "t0_s", low=0.0)
    w = apodization(x, z, f_number=f_number, window=window)         # (M, N)
    n = ch.shape[1]
    t_axis = t0 + np.arange(n) / fs
    base = _analytic(ch, -1, "channels") * np.exp(-2j * np.pi * fc * t_axis)[None, :]
    d_max = np.hypot(zf, x).max()
    t = (d_max - zf + z[:, None] + np.hypot(z[:, None], x[None, :])) / c   # (M, N)
    pos = (t - t0) * fs
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, max(n - 2, 0))
    frac = pos - i0
    cols = np.arange(x.size)[None, :]
    if n == 1:
        val = np.broadcast_to(base[:, 0][None, :], pos.shape)
    else:
        val = base[cols, i0] * (1 - frac) + base[cols, i0 + 1] * frac
    val = np.where((pos >= 0) & (pos <= n - 1), val, 0.0)
    return np.sum(w * val * np.exp(2j * np.pi * fc * t), axis=1)


def fwhm(profile, coords_m, *, level_db: float = -6.0) -> float:
    """Width of the main lobe of a profile where it falls ``level_db`` below its peak.

    Parameters
    ----------
    profile : array_like, shape (M,)
        Non-negative amplitudes (an envelope), with a single peak above the level.
    coords_m : array_like, shape (M,)
        Increasing coordinates of the samples, m.
    level_db : float, optional
        Level (< 0) relative to the peak, dB of amplitude (default -6: half the amplitude, the
        full width at half maximum of an envelope).

    Returns
    -------
    float
        Distance between the two crossings of the level nearest the peak, linearly
        interpolated, m.

    Raises
    ------
    ValueError
        If the shapes disagree, the coordinates do not increase, the profile is negative or
        all zero, or the main lobe does not fall below the level on both sides.
    """
    p = as_array(profile, "profile", ndim=1, low=0.0)
    x = as_array(coords_m, "coords_m", ndim=1)
    if p.shape != x.shape or p.size < 3:
        raise ValueError(f"profile and coords_m must have the same length (>= 3), got "
                         f"{p.size} and {x.size}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("coords_m must be strictly increasing")
    lev = as_scalar(level_db, "level_db", high=0.0, high_inclusive=False)
    k = int(np.argmax(p))
    if p[k] <= 0:
        raise ValueError("profile must have a positive peak")
    thr = p[k] * 10.0 ** (lev / 20.0)
    below_left = np.flatnonzero(p[:k] < thr)
    below_right = np.flatnonzero(p[k + 1:] < thr)
    if below_left.size == 0 or below_right.size == 0:
        raise ValueError(f"profile does not fall level_db={lev} dB below its peak on both "
                         "sides")
    i = below_left[-1]                                   # p[i] < thr <= p[i + 1]
    j = k + 1 + below_right[0]                           # p[j - 1] >= thr > p[j]
    left = x[i] + (thr - p[i]) / (p[i + 1] - p[i]) * (x[i + 1] - x[i])
    right = x[j - 1] + (p[j - 1] - thr) / (p[j - 1] - p[j]) * (x[j] - x[j - 1])
    return float(right - left)


def lateral_resolution(wavelength_m, depth_m, aperture_m, *,
                       constant: float = LATERAL_FWHM_CONSTANT) -> np.ndarray:
    """Lateral -6 dB width of a focused beam at its focus: k lambda z / D.

    Parameters
    ----------
    wavelength_m : array_like
        Wavelength lambda (> 0), m.
    depth_m : array_like
        Focal depth z (> 0), m.
    aperture_m : array_like
        Aperture width D (> 0), m; z / D is the f-number.
    constant : float, optional
        k (> 0); default 0.886, the two-way (transmit and receive) -6 dB width of a
        rectangular aperture (:data:`LATERAL_FWHM_CONSTANT`); about 1.44 for Hann apodisation
        of both apertures, 1.21 for the one-way -6 dB width of a rectangular aperture (its
        one-way -3 dB width is 0.886 again; 1.03 is the -3 dB width of a circular aperture's
        Airy pattern, "about 1" in textbooks).

    Returns
    -------
    numpy.ndarray
        The width, m (broadcast shape).

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`us.lateral-resolution`. In the focal plane the one-way field of an aperture of
    width D is its Fourier transform, sinc(x D / (lambda z)) (Fraunhofer at the focus); the
    pulse-echo response is the product of the transmit and receive patterns, sinc^2, which
    falls to one half (-6 dB) at x = +-0.443 lambda z / D.

    References
    ----------
    T. L. Szabo, *Diagnostic Ultrasound Imaging: Inside Out*, 2nd ed., Academic Press, 2014,
    ch. 6-7; J. L. Prince and J. M. Links, *Medical Imaging Signals and Systems*, 2nd ed.,
    ch. 11.
    """
    lam = as_array(wavelength_m, "wavelength_m", low=0.0, low_inclusive=False)
    z = as_array(depth_m, "depth_m", low=0.0, low_inclusive=False)
    d = as_array(aperture_m, "aperture_m", low=0.0, low_inclusive=False)
    k = as_scalar(constant, "constant", low=0.0, low_inclusive=False)
    try:
        return k * lam * z / d
    except ValueError as err:
        raise ValueError(f"wavelength_m, depth_m and aperture_m do not broadcast: {err}") \
            from None


def grating_lobe_angle(wavelength_m, pitch_m, *, order: int = 1) -> np.ndarray:
    """Angle of the grating lobe of order m of an unsteered array: sin(theta_m) = m lambda / p.

    Parameters
    ----------
    wavelength_m : array_like
        Wavelength lambda (> 0), m.
    pitch_m : array_like
        Element pitch p (> 0), m.
    order : int, optional
        Lobe order m (>= 1), default 1.

    Returns
    -------
    numpy.ndarray
        theta_m in radians, NaN where m lambda / p > 1 (no such lobe in front of the array:
        with p <= lambda / 2 there is none even when the beam is steered by 90 degrees).

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`us.grating-lobe`. Waves from neighbouring elements reach a distant point at angle
    theta with a path difference p sin(theta); where it is a whole number of wavelengths they add
    in phase again, as on the axis. A beam steered to theta_0 moves its lobes to
    sin(theta_m) = sin(theta_0) - m lambda / p.
    """
    lam = as_array(wavelength_m, "wavelength_m", low=0.0, low_inclusive=False)
    p = as_array(pitch_m, "pitch_m", low=0.0, low_inclusive=False)
    m = as_int(order, "order", low=1, high=1_000_000)
    try:
        s = m * lam / p
    except ValueError as err:
        raise ValueError(f"wavelength_m and pitch_m do not broadcast: {err}") from None
    with np.errstate(invalid="ignore"):
        return np.where(s <= 1.0, np.arcsin(np.minimum(s, 1.0)), np.nan)


def fresnel_distance(aperture_m, wavelength_m) -> np.ndarray:
    """Near-field length (Fresnel distance) of an aperture: z_F = D^2 / (4 lambda).

    Parameters
    ----------
    aperture_m : array_like
        Aperture width or diameter D (> 0), m.
    wavelength_m : array_like
        Wavelength lambda (> 0), m.

    Returns
    -------
    numpy.ndarray
        z_F, m.

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`us.fresnel-distance`. On the axis of a circular piston of radius a = D / 2 the
    pressure is proportional to |sin(pi (sqrt(z^2 + a^2) - z) / lambda)|; its last maximum, where
    the path difference from the centre and the rim is lambda / 2, lies at
    z = a^2 / lambda - lambda / 4, about D^2 / (4 lambda) for D >> lambda. Beyond it (far field)
    the unfocused beam diverges with the angle sin(theta) = 1.22 lambda / D; focusing narrows
    the beam only at depths well inside z_F.

    References
    ----------
    J. T. Bushberg et al., *The Essential Physics of Medical Imaging*, 3rd ed., 2012, ch. 14.
    """
    d = as_array(aperture_m, "aperture_m", low=0.0, low_inclusive=False)
    lam = as_array(wavelength_m, "wavelength_m", low=0.0, low_inclusive=False)
    try:
        return d**2 / (4.0 * lam)
    except ValueError as err:
        raise ValueError(f"aperture_m and wavelength_m do not broadcast: {err}") from None
