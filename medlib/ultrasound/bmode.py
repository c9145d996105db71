"""B-mode imaging: the Gaussian pulse, pulse-echo RF simulation, envelope detection (analytic
signal), time-gain compensation, log compression, scan conversion and speckle statistics.

Taught in ``chapters/ultrasound/bmode.ipynb`` (section 5.3 of the key formulas).

Units are named in the arguments: SI for the wave itself (``speed_m_per_s``, ``frequency_hz``,
``depth_m``, ``t_s``), clinical units where the field quotes them (``alpha_db_per_cm_mhz``,
``frequency_mhz``, ``depth_cm``). An RF data set is an array of shape ``(n_lines, n_samples)``:
one row per scan line (A-line), fast time along the last axis.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import (
    MAX_ELEMENTS,
    as_array,
    as_axis,
    as_bool,
    as_int,
    as_scalar,
    check_broadcast,
    check_size,
)
from .echoes import attenuation_db
from .waves import SOFT_TISSUE_SPEED_M_PER_S

__all__ = [
    "RAYLEIGH_SNR",
    "analytic_signal",
    "apply_tgc",
    "cartesian_to_sector",
    "db_compress",
    "envelope",
    "gaussian_pulse",
    "gaussian_pulse_envelope",
    "log_compress",
    "scan_convert",
    "sector_to_cartesian",
    "simulate_rf",
    "speckle_snr",
    "tgc_gain_db",
]

#: Mean over standard deviation of a Rayleigh-distributed envelope: sqrt(pi / (4 - pi)) = 1.913.
RAYLEIGH_SNR = float(np.sqrt(np.pi / (4.0 - np.pi)))


def _gauss_exponent(center_frequency_hz: float, fractional_bandwidth: float,
                    bandwidth_reference_db: float) -> float:
    fc = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    bw = as_scalar(fractional_bandwidth, "fractional_bandwidth", low=0.0, low_inclusive=False)
    ref_db = as_scalar(bandwidth_reference_db, "bandwidth_reference_db", high=0.0,
                       high_inclusive=False)
    # The spectrum exp(-pi^2 (f - fc)^2 / a) falls to `ref` at f - fc = bw fc / 2. ln(ref) is
    # ref_db ln(10) / 20, taken directly: 10 ** (-1e-17 / 20) rounds to 1, whose log is 0.
    log_ref = ref_db * np.log(10.0) / 20.0
    # In NumPy floats, a huge fc * bw overflows to +inf (a delta envelope) instead of raising
    # the OverflowError of Python floats.
    with np.errstate(over="ignore", divide="ignore"):
        return float(-((np.pi * np.float64(fc) * bw) ** 2) / (4.0 * log_ref))


def gaussian_pulse_envelope(t_s, center_frequency_hz: float, fractional_bandwidth: float = 0.6,
                            *, bandwidth_reference_db: float = -6.0) -> np.ndarray:
    """Envelope exp(-a t^2) of :func:`gaussian_pulse` (its analytic envelope).

    Parameters
    ----------
    t_s : array_like
        Times relative to the pulse centre, s.
    center_frequency_hz, fractional_bandwidth, bandwidth_reference_db
        As in :func:`gaussian_pulse`.

    Returns
    -------
    numpy.ndarray
        Values in (0, 1], 1 at t = 0.

    Raises
    ------
    ValueError
        If a parameter is out of range.
    """
    t = as_array(t_s, "t_s")
    a = _gauss_exponent(center_frequency_hz, fractional_bandwidth, bandwidth_reference_db)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(t == 0, 1.0, np.exp(-a * t**2))    # 1 at t = 0 even when a overflows


def gaussian_pulse(t_s, center_frequency_hz: float, fractional_bandwidth: float = 0.6, *,
                   bandwidth_reference_db: float = -6.0) -> np.ndarray:
    """Gaussian-modulated cosine, the usual model of a transducer's transmitted pulse.

    Parameters
    ----------
    t_s : array_like
        Times relative to the pulse centre, s.
    center_frequency_hz : float
        Centre frequency fc (> 0), Hz.
    fractional_bandwidth : float, optional
        Bandwidth over fc (> 0), measured where the spectrum has fallen by
        ``bandwidth_reference_db`` (default 0.6 at -6 dB: a short imaging pulse).
    bandwidth_reference_db : float, optional
        Level (< 0 dB) at which the bandwidth is measured.

    Returns
    -------
    numpy.ndarray
        exp(-a t^2) cos(2 pi fc t), with a set by the bandwidth; the parametrisation of
        :func:`scipy.signal.gausspulse`.

    Raises
    ------
    ValueError
        If a parameter is out of range or ``t_s`` is not finite.

    Notes
    -----
    The spectrum of the pulse is a pair of Gaussians centred on +-fc; a wider bandwidth means a
    shorter pulse and a finer axial resolution (about half the -6 dB pulse length).
    """
    t = as_array(t_s, "t_s")
    fc = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    env = gaussian_pulse_envelope(t, fc, fractional_bandwidth,
                                  bandwidth_reference_db=bandwidth_reference_db)
    return env * np.cos(2 * np.pi * fc * t)


def simulate_rf(depth_m, amplitude, *, fs_hz: float, n_samples: int, center_frequency_hz: float,
                fractional_bandwidth: float = 0.6,
                speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S,
                alpha_db_per_cm_mhz: float = 0.0, line=None, n_lines: int | None = None,
                truncate: float = 4.0, attenuation_exponent: float = 1.0) -> np.ndarray:
    """Pulse-echo RF lines from point scatterers: a sum of delayed, attenuated Gaussian pulses.

    Parameters
    ----------
    depth_m : array_like, shape (K,)
        Depth z_k of each scatterer on its line (>= 0), m.
    amplitude : array_like, shape (K,)
        Reflectivity of each scatterer (any sign: a scatterer softer than its surroundings
        reflects with inverted phase).
    fs_hz : float
        Sampling frequency of the RF (> 0), Hz; must exceed 2 fc (Nyquist) and should exceed
        2 fc (1 + bandwidth / 2), the upper band edge.
    n_samples : int
        Samples per line; sample m is taken at t = m / fs.
    center_frequency_hz : float
        Centre frequency of the pulse (> 0), Hz.
    fractional_bandwidth : float, optional
        -6 dB fractional bandwidth of the pulse (default 0.6).
    speed_m_per_s : float, optional
        Speed of sound (> 0), default 1540 m/s; the echo of z_k arrives at t_k = 2 z_k / c.
    alpha_db_per_cm_mhz : float, optional
        Attenuation coefficient alpha_0 (>= 0), dB/(cm MHz^n), applied over the round trip at
        the centre frequency: the echo is multiplied by 10^(-alpha_0 fc^n 2 z / 20) (default 0:
        no attenuation).
    line : array_like of int, shape (K,), optional
        Index of the scan line of each scatterer (default: all on one line).
    n_lines : int, optional
        Number of lines (default: ``line.max() + 1``).
    truncate : float, optional
        Each pulse is evaluated within +- ``truncate`` standard deviations of its envelope
        (default 4: the neglected tail is below 3e-4 of the peak).
    attenuation_exponent : float, optional
        Exponent n (>= 0) of alpha(f) = alpha_0 f^n (default 1, soft tissue; 2 for water).

    Returns
    -------
    numpy.ndarray
        Shape (n_samples,) without ``line``, else (n_lines, n_samples).

    Raises
    ------
    ValueError
        If arrays disagree in length, a parameter is out of range, ``center_frequency_hz`` is
        not below the Nyquist frequency fs / 2, a line index is invalid, or the pulse or the
        result would exceed 2**28 samples.

    Notes
    -----
    A linear, first-order (Born) model: each scatterer returns a copy of the pulse
    (:func:`gaussian_pulse`) delayed by its round-trip time and scaled by its amplitude and by the
    round-trip attenuation (formula us.attenuation-frequency with ``round_trip``). Beam
    diffraction, the 1/z spreading of a real beam and the downshift of the centre frequency by
    frequency-dependent attenuation are left out. Each scatterer is added exactly at its
    (fractional) delay: the work is proportional to the number of scatterers times the pulse
    length, not to the number of scatterers times the number of samples.
    """
    z = as_array(depth_m, "depth_m", ndim=1, allow_empty=True, low=0)
    amp = as_array(amplitude, "amplitude", ndim=1, allow_empty=True)
    if z.shape != amp.shape:
        raise ValueError(f"depth_m and amplitude must have the same length, got {z.size} "
                         f"and {amp.size}")
    fs = as_scalar(fs_hz, "fs_hz", low=0.0, low_inclusive=False)
    n = as_int(n_samples, "n_samples", low=1)
    fc = as_scalar(center_frequency_hz, "center_frequency_hz", low=0.0, low_inclusive=False)
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    alpha0 = as_scalar(alpha_db_per_cm_mhz, "alpha_db_per_cm_mhz", low=0.0)
    n_exp = as_scalar(attenuation_exponent, "attenuation_exponent", low=0.0)
    trunc = as_scalar(truncate, "truncate", low=0.0, low_inclusive=False)
    if fc >= fs / 2:
        raise ValueError(f"center_frequency_hz={fc} must be below the Nyquist frequency "
                         f"fs_hz / 2 = {fs / 2} (sampled at fs_hz, a higher frequency aliases)")
    a = _gauss_exponent(fc, fractional_bandwidth, -6.0)
    with np.errstate(over="ignore", divide="ignore"):
        half_float = np.ceil(trunc / np.sqrt(2 * a) * fs)       # envelope sigma = 1 / sqrt(2a)
    if not 2 * half_float + 1 <= MAX_ELEMENTS:
        raise ValueError(f"the pulse would span {2 * half_float + 1:.3g} samples (truncate="
                         f"{trunc} envelope sigmas at fs_hz={fs}, center_frequency_hz={fc}, "
                         f"fractional_bandwidth={fractional_bandwidth}), more than "
                         f"{MAX_ELEMENTS}")
    half = int(half_float)
    if line is None:
        lines = np.zeros(z.size, dtype=np.int64)
        nl = 1
    else:
        lines = as_array(line, "line", ndim=1, dtype=None, allow_empty=True)
        if lines.shape != z.shape or not np.issubdtype(lines.dtype, np.integer):
            raise ValueError("line must hold one integer line index per scatterer")
        lines = lines.astype(np.int64)
        nl = (int(lines.max()) + 1 if lines.size else 1) if n_lines is None else \
            as_int(n_lines, "n_lines", low=1)
        if lines.size and (lines.min() < 0 or lines.max() >= nl):
            raise ValueError(f"line indices must lie in [0, {nl - 1}]")
    check_size((nl, n), "n_samples (times n_lines)")
    delay = 2 * z / c
    gain = amp * 10.0 ** (-alpha0 * (fc / 1e6) ** n_exp * (2 * z * 100.0) / 20.0)
    offsets = np.arange(-half, half + 1)
    out = np.zeros(nl * n)
    chunk = max(1, 2_000_000 // offsets.size)                 # bound the temporary arrays
    for start in range(0, z.size, chunk):
        sl = slice(start, start + chunk)
        idx = np.rint(delay[sl] * fs).astype(np.int64)[:, None] + offsets[None, :]
        valid = (idx >= 0) & (idx < n)
        tau = idx / fs - delay[sl, None]
        with np.errstate(invalid="ignore"):
            env = np.where(tau == 0, 1.0, np.exp(-a * tau**2))  # 1 at tau = 0 even for a = inf
        pulse = gain[sl, None] * env * np.cos(2 * np.pi * fc * tau)
        flat = (lines[sl, None] * n + idx)[valid]
        out += np.bincount(flat, weights=pulse[valid], minlength=nl * n)
    out = out.reshape(nl, n)
    return out[0] if line is None else out


def envelope(rf, *, axis: int = -1) -> np.ndarray:
    """Envelope of an RF signal: the magnitude of its analytic signal.

    Parameters
    ----------
    rf : array_like
        Real RF samples; each line along ``axis``.
    axis : int, optional
        Fast-time axis (default the last).

    Returns
    -------
    numpy.ndarray
        A(t) = sqrt(x(t)^2 + x_hat(t)^2) >= 0, same shape as ``rf``.

    Raises
    ------
    ValueError
        If ``rf`` is empty or not finite.
    TypeError
        If ``rf`` is complex.

    Notes
    -----
    :formula:`us.envelope`, with x_hat the Hilbert transform of x, computed by
    :func:`analytic_signal`. For a pulse exp(-a t^2) cos(2 pi fc t) whose spectrum does not reach
    zero frequency, the envelope is exactly exp(-a t^2).
    """
    z = _analytic(rf, axis, "rf")
    return np.hypot(z.real, z.imag)


def analytic_signal(x, *, axis: int = -1) -> np.ndarray:
    """Analytic signal x + j H{x}, by suppressing the negative frequencies of the DFT.

    Parameters
    ----------
    x : array_like
        Real signal(s).
    axis : int, optional
        Axis along which to transform.

    Returns
    -------
    numpy.ndarray of complex
        Real part x, imaginary part the (discrete, periodic) Hilbert transform x_hat.

    Raises
    ------
    ValueError
        If ``x`` is empty or not finite.
    TypeError
        If ``x`` is complex.

    Notes
    -----
    Used by :func:`envelope` (formula us.envelope). The DFT X[k] is multiplied by h[k] = 1 at
    k = 0 (and at k = N/2 for even N), 2 for the positive frequencies, 0 for the negative ones;
    the inverse DFT is the analytic signal. This is the algorithm of
    :func:`scipy.signal.hilbert` (Marple 1999), which it reproduces to rounding.

    References
    ----------
    S. L. Marple, "Computing the discrete-time analytic signal via FFT", IEEE Trans. Signal
    Process. 47(9):2600, 1999.
    """
    return _analytic(x, axis, "x")


def _analytic(x, axis, name: str) -> np.ndarray:
    """:func:`analytic_signal`, naming the caller's argument ``name`` in errors."""
    arr = as_array(x, name)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension")
    ax = as_axis(axis, arr.ndim)
    n = arr.shape[ax]
    h = np.zeros(n)
    h[0] = 1.0
    if n % 2 == 0:
        h[n // 2] = 1.0
        h[1:n // 2] = 2.0
    else:
        h[1:(n + 1) // 2] = 2.0
    shape = [1] * arr.ndim
    shape[ax] = n
    return np.fft.ifft(np.fft.fft(arr, axis=ax) * h.reshape(shape), axis=ax)


def tgc_gain_db(depth_m, alpha_db_per_cm_mhz: float, frequency_mhz: float, *,
                exponent: float = 1.0) -> np.ndarray:
    """Time-gain compensation that undoes the round-trip attenuation: G(z) = 2 alpha_0 f^n z (dB).

    Parameters
    ----------
    depth_m : array_like
        Depth z of each sample (>= 0), m (use :func:`~medlib.ultrasound.waves.echo_depth` of
        the sample times).
    alpha_db_per_cm_mhz : float
        Assumed attenuation coefficient alpha_0 (>= 0), dB/(cm MHz^n).
    frequency_mhz : float
        Centre frequency (> 0), MHz.
    exponent : float, optional
        Exponent n (>= 0) of alpha(f) = alpha_0 f^n (default 1: the soft-tissue rule, as the
        formula us.tgc is written).

    Returns
    -------
    numpy.ndarray
        Gain in dB at each depth (apply with :func:`apply_tgc`).

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`us.tgc`. The seed's chain (envelope, log compression) leaves deep echoes dark once
    attenuation is modelled; every scanner therefore amplifies the signal in proportion to the
    time since transmission. Scanners let the user shape G with sliders because the true
    attenuation varies between tissues.
    """
    z = as_array(depth_m, "depth_m", low=0)
    a0 = as_scalar(alpha_db_per_cm_mhz, "alpha_db_per_cm_mhz", low=0.0)
    f = as_scalar(frequency_mhz, "frequency_mhz", low=0.0, low_inclusive=False)
    return attenuation_db(a0, f, z * 100.0, round_trip=True, exponent=exponent)


def apply_tgc(lines, gain_db, *, axis: int = -1) -> np.ndarray:
    """Multiply each sample by 10^(G/20), the amplitude gain of G dB (formula us.tgc).

    Parameters
    ----------
    lines : array_like
        RF or envelope data, fast time along ``axis``.
    gain_db : array_like, shape (n_samples,)
        Gain per sample, dB.
    axis : int, optional
        Fast-time axis (default the last).

    Returns
    -------
    numpy.ndarray
        The compensated data.

    Raises
    ------
    ValueError
        If ``gain_db`` does not have one value per sample.
    """
    x = as_array(lines, "lines")
    g = as_array(gain_db, "gain_db", ndim=1)
    if x.ndim == 0:
        raise ValueError("lines must have at least one dimension, got a scalar")
    axis = as_axis(axis, x.ndim)
    if g.size != x.shape[axis]:
        raise ValueError(f"gain_db must have one value per sample ({x.shape[axis]}), "
                         f"got {g.size}")
    shape = [1] * x.ndim
    shape[axis] = g.size
    return x * 10.0 ** (g.reshape(shape) / 20.0)


def log_compress(envelope_values, *, gain: float = 1.0) -> np.ndarray:
    """The seed's log compression I = ln(1 + g A).

    Parameters
    ----------
    envelope_values : array_like
        Envelope A (>= 0).
    gain : float, optional
        Scale g (> 0) applied before the logarithm (default 1).

    Returns
    -------
    numpy.ndarray
        ln(1 + g A) >= 0 (natural logarithm).

    Raises
    ------
    ValueError
        If the envelope has negative values or the gain is not positive.

    Notes
    -----
    :formula:`us.log-compression`. The "+1" keeps zero at zero and makes the map linear for
    g A << 1 and logarithmic for g A >> 1, so the result depends on the (arbitrary) unit of A:
    the knee sits at A = 1/g. The decibel form :func:`db_compress` is scale-free.
    """
    a = as_array(envelope_values, "envelope_values", low=0)
    g = as_scalar(gain, "gain", low=0.0, low_inclusive=False)
    return np.log1p(g * a)


def db_compress(envelope_values, *, dynamic_range_db: float = 60.0, reference: float | None = None,
                normalize: bool = False) -> np.ndarray:
    """Decibel compression with a dynamic range: I = 20 log10(A / A_ref), clipped to [-DR, 0].

    Parameters
    ----------
    envelope_values : array_like
        Envelope A (>= 0).
    dynamic_range_db : float, optional
        Dynamic range DR (> 0), dB: levels below -DR are shown black (default 60 dB).
    reference : float, optional
        A_ref (> 0), the amplitude shown at 0 dB (white); default the maximum of A.
    normalize : bool, optional
        True: map [-DR, 0] dB linearly to grey levels [0, 1] for display.

    Returns
    -------
    numpy.ndarray
        Levels in dB (or grey levels). Zero amplitudes give -DR (or 0).

    Raises
    ------
    TypeError
        If ``normalize`` is not True or False (a string such as 'False' is refused).
    ValueError
        If the envelope is negative or all zero (without ``reference``), or DR is not positive.

    Notes
    -----
    :formula:`us.db-compression` -- 20 log10 because A is an amplitude. Without a dynamic range the
    formula maps A = 0 to minus infinity: choosing DR is part of the formula in practice. A
    smaller DR gives more contrast and hides weak echoes; a larger one shows them with less
    contrast.
    """
    a = as_array(envelope_values, "envelope_values", low=0)
    normalize = as_bool(normalize, "normalize")
    dr = as_scalar(dynamic_range_db, "dynamic_range_db", low=0.0, low_inclusive=False)
    if reference is None:
        ref = float(a.max())
        if ref <= 0:
            raise ValueError("envelope_values are all zero: give a reference amplitude")
    else:
        ref = as_scalar(reference, "reference", low=0.0, low_inclusive=False)
    floor = ref * 10.0 ** (-dr / 20.0)
    level = 20.0 * np.log10(np.maximum(a, floor) / ref)
    level = np.clip(level, -dr, 0.0)
    return (level + dr) / dr if normalize else level


def scan_convert(lines, angles_rad, depths_m, *, pixel_size_m: float,
                 fill: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scan conversion of a sector scan: from lines on (angle, depth) to a Cartesian (y, x) image.

    Parameters
    ----------
    lines : array_like, shape (n_angles, n_depths)
        One row per scan line (e.g. log-compressed envelopes).
    angles_rad : array_like, shape (n_angles,)
        Steering angle theta of each line, radians, strictly increasing; 0 points straight down
        (along +y), positive angles to the right (+x). Need not be uniformly spaced.
    depths_m : array_like, shape (n_depths,)
        Range r of each sample along its line, m, strictly increasing (e.g.
        :func:`~medlib.ultrasound.waves.echo_depth`).
    pixel_size_m : float
        Side of the square output pixels (> 0), m.
    fill : float, optional
        Value outside the sector: a finite number or ``numpy.nan`` (default 0; NaN shows it
        transparent in plots).

    Returns
    -------
    image : numpy.ndarray, shape (n_y, n_x)
        Rows run down in depth y, columns left to right in x.
    x_m : numpy.ndarray, shape (n_x,)
        Lateral position of each column's centre, m (0 below the apex).
    y_m : numpy.ndarray, shape (n_y,)
        Depth of each row's centre, m.

    Raises
    ------
    ValueError
        If shapes disagree, angles or depths are not strictly increasing, |theta| >= pi/2,
        ``fill`` is infinite, or the image would exceed 2**28 pixels.
    TypeError
        If ``fill`` is not a real number (a bool or a string is refused).

    Notes
    -----
    :formula:`us.scan-conversion`. The seed writes I(x, y) = LogCompress(A(t)), which names no
    coordinate map. The map is the inverse of the sector geometry x = r sin theta, y = r cos theta
    (:func:`sector_to_cartesian`): each output pixel (x, y) looks up theta = atan2(x, y) and
    r = sqrt(x^2 + y^2) (:func:`cartesian_to_sector`) and interpolates the lines bilinearly there.
    Pulling values from the lines into every pixel leaves no holes, which pushing each sample to
    its nearest pixel would (the lines diverge with depth).
    """
    data = as_array(lines, "lines", ndim=2)
    theta = as_array(angles_rad, "angles_rad", ndim=1)
    r = as_array(depths_m, "depths_m", ndim=1)
    if data.shape != (theta.size, r.size):
        raise ValueError(f"lines must have shape (n_angles, n_depths) = ({theta.size}, {r.size}), "
                         f"got {data.shape}")
    if theta.size < 2 or np.any(np.diff(theta) <= 0):
        raise ValueError("angles_rad must hold at least 2 strictly increasing angles")
    if np.any(np.abs(theta) >= np.pi / 2):
        raise ValueError("angles_rad must lie in (-pi/2, pi/2)")
    if r.size < 2 or np.any(np.diff(r) <= 0) or r[0] < 0:
        raise ValueError("depths_m must hold at least 2 strictly increasing depths >= 0")
    px = as_scalar(pixel_size_m, "pixel_size_m", low=0.0, low_inclusive=False)
    if isinstance(fill, (float, np.floating)) and np.isnan(fill):
        fill_value = float("nan")                                 # documented: transparent
    else:
        fill_value = as_scalar(fill, "fill")
    # Bounding box of the sector (x extremes at the outer arc, y from the inner arc to r_max),
    # in pixels. The box edges are rounded with a tolerance of 1e-6 pixel, so that the grid
    # does not depend on the last bit of the depths or the pixel size (0.05 / 0.005 is 10 in
    # float64 but 10.0000002 in float32, which ceil() would round up to a whole extra row).
    arc = np.linspace(theta[0], theta[-1], 512)
    xs = np.concatenate([r[-1] * np.sin(arc), r[0] * np.sin(arc), [0.0]])
    y_lo = min(r[0] * np.cos(theta[0]), r[0] * np.cos(theta[-1]), r[0])
    tol = 1e-6
    with np.errstate(over="ignore"):
        lo = np.floor(np.array([xs.min(), y_lo]) / px + tol)
        hi = np.ceil(np.array([xs.max(), r[-1]]) / px - tol)
    counts = hi - lo + 1                                         # floats: never wrap around
    if not np.all(counts <= MAX_ELEMENTS) or counts.prod() > MAX_ELEMENTS:
        raise ValueError(f"pixel_size_m={px} asks for an image of about {counts[1]:.3g} x "
                         f"{counts[0]:.3g} pixels for depths up to {r[-1]} m, more than "
                         f"{MAX_ELEMENTS} (is pixel_size_m in metres?)")
    x_m = np.arange(lo[0], hi[0] + 1) * px
    y_m = np.arange(lo[1], hi[1] + 1) * px
    xx, yy = np.meshgrid(x_m, y_m)
    t_pix, r_pix = cartesian_to_sector(xx, yy)
    inside = (t_pix >= theta[0]) & (t_pix <= theta[-1]) & (r_pix >= r[0]) & (r_pix <= r[-1])
    i_theta = np.interp(t_pix, theta, np.arange(theta.size))   # fractional line index
    i_r = np.interp(r_pix, r, np.arange(r.size))               # fractional sample index
    values = ndimage.map_coordinates(data, [i_theta.ravel(), i_r.ravel()], order=1,
                                     mode="nearest").reshape(xx.shape)
    return np.where(inside, values, fill_value), x_m, y_m


def sector_to_cartesian(angle_rad, depth_m) -> tuple[np.ndarray, np.ndarray]:
    """Position of a sample of a sector scan: x = r sin theta, y = r cos theta.

    Parameters
    ----------
    angle_rad : array_like
        Steering angle theta, radians (0 straight down, positive to the right).
    depth_m : array_like
        Range r along the line (>= 0), m. Broadcast with ``angle_rad``.

    Returns
    -------
    x, y : numpy.ndarray
        Lateral position and depth, m (the geometry of formula us.scan-conversion).

    Raises
    ------
    ValueError
        If a range is negative, a value is not finite or the shapes do not broadcast.
    """
    t = as_array(angle_rad, "angle_rad")
    r = as_array(depth_m, "depth_m", low=0)
    check_broadcast(angle_rad=t, depth_m=r)
    return r * np.sin(t), r * np.cos(t)


def cartesian_to_sector(x_m, y_m) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`sector_to_cartesian`: theta = atan2(x, y), r = sqrt(x^2 + y^2).

    Parameters
    ----------
    x_m, y_m : array_like
        Lateral position and depth, m (broadcast).

    Returns
    -------
    angle_rad, depth_m : numpy.ndarray
        Angle from the +y axis (positive towards +x) and range (formula us.scan-conversion).

    Raises
    ------
    ValueError
        If a value is not finite or the shapes do not broadcast.
    """
    x = as_array(x_m, "x_m")
    y = as_array(y_m, "y_m")
    check_broadcast(x_m=x, y_m=y)
    return np.arctan2(x, y), np.hypot(x, y)


def speckle_snr(envelope_values) -> float:
    """Point signal-to-noise ratio of an envelope region: mean / standard deviation.

    Parameters
    ----------
    envelope_values : array_like
        Envelope samples (>= 0, at least 2) from a region of uniform tissue.

    Returns
    -------
    float
        mean / std (ddof=1). Fully developed speckle gives sqrt(pi / (4 - pi)) = 1.91
        (:data:`RAYLEIGH_SNR`) whatever the echo strength; lower values mean a few strong
        scatterers (or specular reflectors) dominate, higher values coherent or smoothed data.

    Raises
    ------
    ValueError
        If fewer than 2 values are given or any is negative.

    Notes
    -----
    :formula:`us.speckle-snr`. With many randomly placed scatterers per resolution cell the
    received RF is a sum of many random phasors, complex Gaussian by the central limit theorem, so
    its envelope is Rayleigh distributed (the nu = 0 case of formula noise.rician).

    References
    ----------
    C. B. Burckhardt, "Speckle in ultrasound B-mode scans", IEEE Trans. Sonics Ultrason.
    25(1):1, 1978. R. F. Wagner, S. W. Smith, J. M. Sandrik, H. Lopez, "Statistics of speckle in
    ultrasound B-scans", IEEE Trans. Sonics Ultrason. 30(3):156, 1983.
    """
    a = as_array(envelope_values, "envelope_values").ravel()
    if a.size < 2:
        raise ValueError("envelope_values must hold at least 2 values")
    if np.any(a < 0):
        raise ValueError("envelope_values must be >= 0")
    std = a.std(ddof=1)
    return float(a.mean() / std) if std > 0 else float("inf")
