"""Resolution and artefacts: the axial resolution of a pulse, a linear-scan line model with a
lateral beam profile, path-dependent attenuation (shadowing and enhancement), reverberation,
mirror images, speed-of-sound errors, and the acoustic output indices MI and TI.

Taught in ``chapters/ultrasound/artefacts.ipynb`` (section 5.5).

Units are named in the arguments (SI, except the clinical units of the output indices:
``pressure_mpa``, ``frequency_mhz``, ``power_mw``).
"""
from __future__ import annotations

import numpy as np

from .._validate import MAX_ELEMENTS, as_array, as_axis, as_int, as_scalar
from .bmode import _gauss_exponent, simulate_rf
from .waves import SOFT_TISSUE_SPEED_M_PER_S

__all__ = [
    "axial_resolution",
    "derated_pressure",
    "displayed_depth",
    "linear_scan_rf",
    "mechanical_index",
    "mirror_depth",
    "pulse_duration",
    "reverberation_echoes",
    "round_trip_loss_db",
    "spatial_pulse_length",
    "thermal_index",
]


def pulse_duration(center_frequency_hz: float, fractional_bandwidth: float = 0.6, *,
                   level_db: float = -6.0) -> float:
    """Duration of the Gaussian pulse's envelope above ``level_db`` (the -6 dB pulse length).

    Parameters
    ----------
    center_frequency_hz : float
        Centre frequency fc (> 0), Hz.
    fractional_bandwidth : float, optional
        -6 dB fractional bandwidth B of the pulse (> 0), default 0.6, as in
        :func:`~medlib.ultrasound.bmode.gaussian_pulse`.
    level_db : float, optional
        Envelope level (< 0) at which the duration is measured, dB (default -6).

    Returns
    -------
    float
        T, s. For the -6 dB duration of a pulse whose -6 dB bandwidth is B fc,
        T = 4 ln(10^(6/20)) / (pi B fc) = 0.8795 / (B fc): the time-bandwidth product of a
        Gaussian.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    a = _gauss_exponent(center_frequency_hz, fractional_bandwidth, -6.0)
    lev = as_scalar(level_db, "level_db", high=0.0, high_inclusive=False)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return float(2.0 * np.sqrt(-lev * np.log(10.0) / 20.0 / a))


def spatial_pulse_length(center_frequency_hz: float, fractional_bandwidth: float = 0.6, *,
                         speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> float:
    """Spatial pulse length SPL = c T of the Gaussian pulse (-6 dB), m.

    Parameters
    ----------
    center_frequency_hz, fractional_bandwidth
        As in :func:`pulse_duration`.
    speed_m_per_s : float, optional
        Speed of sound (> 0), default 1540 m/s.

    Returns
    -------
    float
        The length in the tissue of the -6 dB part of the pulse, m.

    Raises
    ------
    ValueError
        If an argument is out of range.
    """
    c = as_scalar(speed_m_per_s, "speed_m_per_s", low=0.0, low_inclusive=False)
    return c * pulse_duration(center_frequency_hz, fractional_bandwidth)


def axial_resolution(center_frequency_hz: float, fractional_bandwidth: float = 0.6, *,
                     speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> float:
    """Axial resolution: half the spatial pulse length, Delta z = SPL / 2 = c T / 2.

    Parameters
    ----------
    center_frequency_hz, fractional_bandwidth
        As in :func:`pulse_duration`.
    speed_m_per_s : float, optional
        Speed of sound (> 0), default 1540 m/s.

    Returns
    -------
    float
        Delta z, m: the -6 dB length, in depth, of the echo of a point.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`us.axial-resolution`. The echo of a point at depth z is the pulse, arriving at
    2 z / c; depth is displayed as c t / 2, so a pulse T long in time covers c T / 2 in depth.
    Two reflectors closer than that produce overlapping echoes. With T = 0.8795 / (B fc),
    Delta z = 0.44 c / (B fc): the resolution follows the absolute bandwidth B fc, not the
    centre frequency alone.

    References
    ----------
    J. T. Bushberg et al., *The Essential Physics of Medical Imaging*, 3rd ed., 2012, ch. 14.
    """
    return spatial_pulse_length(center_frequency_hz, fractional_bandwidth,
                                speed_m_per_s=speed_m_per_s) / 2.0


def round_trip_loss_db(alpha_db_per_cm_mhz, depth_m, frequency_mhz: float, *,
                       axis: int = -1) -> np.ndarray:
    """Cumulative round-trip attenuation along depth through tissue of varying attenuation.

    Parameters
    ----------
    alpha_db_per_cm_mhz : array_like
        Attenuation slope alpha_0 (>= 0) at each depth sample, dB/(cm MHz); each line along
        ``axis``.
    depth_m : array_like, shape (M,)
        Increasing depths (>= 0) of the samples, m; the first is the skin line.
    frequency_mhz : float
        Frequency (> 0), MHz.
    axis : int, optional
        Depth axis of ``alpha_db_per_cm_mhz`` (default the last).

    Returns
    -------
    numpy.ndarray
        L(z) = 2 f integral_0^z alpha(z') dz' in dB (trapezoid rule, z in cm), same shape as
        ``alpha_db_per_cm_mhz``, 0 at the first sample.

    Raises
    ------
    ValueError
        If the depths are not increasing or do not match the depth axis.

    Notes
    -----
    The loss of an echo from depth z (formula us.attenuation-frequency, round trip), with the
    attenuation accumulated along the actual path: behind a strongly attenuating object the
    echoes are weaker than time-gain compensation set for tissue expects (shadowing), behind a
    weakly attenuating fluid stronger (enhancement).
    """
    a = as_array(alpha_db_per_cm_mhz, "alpha_db_per_cm_mhz", low=0.0)
    if a.ndim == 0:
        raise ValueError("alpha_db_per_cm_mhz must have a depth axis")
    ax = as_axis(axis, a.ndim)
    z = as_array(depth_m, "depth_m", ndim=1, low=0.0)
    f = as_scalar(frequency_mhz, "frequency_mhz", low=0.0, low_inclusive=False)
    if z.size != a.shape[ax]:
        raise ValueError(f"depth_m must have one value per sample along axis {ax} "
                         f"({a.shape[ax]}), got {z.size}")
    if np.any(np.diff(z) <= 0):
        raise ValueError("depth_m must be strictly increasing")
    moved = np.moveaxis(a, ax, -1)
    dz_cm = np.diff(z) * 100.0
    steps = 0.5 * (moved[..., 1:] + moved[..., :-1]) * dz_cm
    cum = np.concatenate([np.zeros(moved.shape[:-1] + (1,)), np.cumsum(steps, axis=-1)], axis=-1)
    with np.errstate(over="ignore"):
        return np.moveaxis(2.0 * f * cum, -1, ax)


def reverberation_echoes(depth1_m: float, depth2_m: float, r1: float, r2: float, *,
                         n_echoes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Echoes of two parallel reflectors, including the reverberations between them.

    Parameters
    ----------
    depth1_m, depth2_m : float
        Depths of the first and second reflector, 0 <= z1 < z2, m.
    r1, r2 : float
        Pressure reflection coefficients of the two interfaces seen from above, in (-1, 1)
        (:func:`~medlib.ultrasound.echoes.reflection_coefficient` with ``kind='pressure'``).
    n_echoes : int, optional
        Number of echoes after the first (>= 1): the primary echo of the second reflector and
        ``n_echoes - 1`` reverberations (default 5).

    Returns
    -------
    depth_m : numpy.ndarray, shape (n_echoes + 1,)
        Displayed depths: z1, then z2 + k (z2 - z1), k = 0, 1, ...
    amplitude : numpy.ndarray, shape (n_echoes + 1,)
        Pressure amplitudes re the incident pulse: r1, then (1 - r1^2) r2 (-r1 r2)^k.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`us.reverberation`. The pulse that crossed the first interface (pressure
    transmission 1 + r1 down, 1 - r1 up: product 1 - r1^2) bounces between the reflectors; each
    round trip in the gap adds 2 (z2 - z1) to the path and the factor r2 (-r1) (from below, the
    first interface reflects with the opposite sign), so the scanner, which assumes a single
    reflection, draws equally spaced copies of the second reflector below it, fading by
    |r1 r2| per copy. Attenuation in the gap is left out.
    """
    z1 = as_scalar(depth1_m, "depth1_m", low=0.0)
    z2 = as_scalar(depth2_m, "depth2_m", low=0.0)
    if not z2 > z1:
        raise ValueError(f"depth2_m ({z2}) must be greater than depth1_m ({z1})")
    a1 = as_scalar(r1, "r1", low=-1.0, high=1.0, low_inclusive=False, high_inclusive=False)
    a2 = as_scalar(r2, "r2", low=-1.0, high=1.0, low_inclusive=False, high_inclusive=False)
    n = as_int(n_echoes, "n_echoes", low=1, high=MAX_ELEMENTS - 1)
    k = np.arange(n)
    depth = np.concatenate([[z1], z2 + k * (z2 - z1)])
    amp = np.concatenate([[a1], (1.0 - a1**2) * a2 * (-a1 * a2) ** k])
    return depth, amp


def mirror_depth(depth_m, mirror_depth_m: float) -> np.ndarray:
    """Displayed depth of the mirror image of a target in a strong flat specular reflector.

    Parameters
    ----------
    depth_m : array_like
        True depth z of the target(s), 0 <= z < z_m, m.
    mirror_depth_m : float
        Depth z_m of the reflector (> 0), perpendicular to the beam, m.

    Returns
    -------
    numpy.ndarray
        2 z_m - z: the image lies as far below the reflector as the target lies above it.

    Raises
    ------
    ValueError
        If an argument is out of range.

    Notes
    -----
    :formula:`us.mirror-image`. The path probe -> reflector -> target -> reflector -> probe is
    2 (2 z_m - z) long, and the scanner assumes the echo came straight back: it draws the target
    a second time, at 2 z_m - z, with the amplitude multiplied by R_m^2 (two reflections off the
    mirror). The paths with one reflection off the mirror are z_m + (z_m - z) + z = 2 z_m long
    and land on the mirror itself. Behind a tissue-air interface (the diaphragm above the lung)
    there are no true echoes, so the mirror image is what fills the space.
    """
    zm = as_scalar(mirror_depth_m, "mirror_depth_m", low=0.0, low_inclusive=False)
    z = as_array(depth_m, "depth_m", low=0.0)
    if np.any(z >= zm):
        raise ValueError(f"depth_m must lie above the reflector (< mirror_depth_m = {zm}), got "
                         f"a maximum of {z.max()}")
    return 2.0 * zm - z


def displayed_depth(thickness_m, speed_m_per_s, *,
                    assumed_speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S) -> np.ndarray:
    """Depths at which a scanner draws the bottom of each layer of a stack of layers.

    Parameters
    ----------
    thickness_m : array_like, shape (L,)
        Thickness d_i (>= 0) of each layer, from the skin down, m.
    speed_m_per_s : array_like, shape (L,)
        True speed of sound c_i (> 0) in each layer, m/s.
    assumed_speed_m_per_s : float, optional
        Speed c_0 (> 0) the scanner assumes, default 1540 m/s.

    Returns
    -------
    numpy.ndarray, shape (L,)
        z'_l = sum_{i <= l} d_i c_0 / c_i, m; the error is
        z'_l - z_l = sum_{i <= l} d_i (c_0 / c_i - 1).

    Raises
    ------
    ValueError
        If the lengths differ or a value is out of range.

    Notes
    -----
    :formula:`us.speed-error`. The echo from the bottom of layer l returns after
    t = 2 sum d_i / c_i; the scanner draws it at c_0 t / 2. A slow layer (fat, ~1450 m/s) pushes
    everything beneath it deeper, a fast one (muscle, bone) pulls it up. For a uniform medium
    z' = z c_0 / c. Where the layer covers only part of the aperture, the delays of the
    beamformer are also wrong across the aperture and the focus blurs.
    """
    d = as_array(thickness_m, "thickness_m", ndim=1, low=0.0)
    c = as_array(speed_m_per_s, "speed_m_per_s", ndim=1, low=0.0, low_inclusive=False)
    if d.shape != c.shape:
        raise ValueError(f"thickness_m and speed_m_per_s must have the same length, got "
                         f"{d.size} and {c.size}")
    c0 = as_scalar(assumed_speed_m_per_s, "assumed_speed_m_per_s", low=0.0,
                   low_inclusive=False)
    with np.errstate(over="ignore"):
        return np.cumsum(d * (c0 / c))


def linear_scan_rf(scatterer_x_m, scatterer_z_m, amplitude, line_x_m, *, lateral_fwhm_m: float,
                   fs_hz: float, n_samples: int, center_frequency_hz: float,
                   fractional_bandwidth: float = 0.6,
                   speed_m_per_s: float = SOFT_TISSUE_SPEED_M_PER_S,
                   truncate: float = 2.0) -> np.ndarray:
    """RF lines of a linear scan: the line model of ``simulate_rf`` with a Gaussian beam profile.

    Parameters
    ----------
    scatterer_x_m, scatterer_z_m : array_like, shape (K,)
        Lateral position and (displayed) depth >= 0 of each scatterer, m.
    amplitude : array_like, shape (K,)
        Echo amplitude of each scatterer, with any path-dependent loss already applied.
    line_x_m : array_like, shape (L,)
        Lateral positions of the scan lines, m.
    lateral_fwhm_m : float
        -6 dB pulse-echo width of the beam (> 0), m, e.g. from
        :func:`~medlib.ultrasound.beamforming.lateral_resolution`.
    fs_hz, n_samples, center_frequency_hz, fractional_bandwidth, speed_m_per_s
        As in :func:`~medlib.ultrasound.bmode.simulate_rf`.
    truncate : float, optional
        A scatterer contributes to the lines within ``truncate`` FWHM of it (default 2: weights
        below 2^-16 = 1.5e-5 are dropped).

    Returns
    -------
    numpy.ndarray, shape (L, n_samples)
        Line l is simulate_rf of the scatterers with amplitudes a_k b(x_k - x_l),
        b(u) = 2^(-(2 u / FWHM)^2) (1/2 at u = +-FWHM / 2).

    Raises
    ------
    ValueError
        If arrays disagree in length or a parameter is out of range.

    Notes
    -----
    A separable model of the resolution cell: the axial profile is the pulse, the lateral one
    a Gaussian of the given width, the same at every depth (dynamic focusing with a constant
    f-number). Path effects (attenuation along the path, multiple reflections, speed errors) are
    the caller's: they change the amplitude or the displayed depth of each scatterer.
    """
    xs = as_array(scatterer_x_m, "scatterer_x_m", ndim=1, allow_empty=True)
    zs = as_array(scatterer_z_m, "scatterer_z_m", ndim=1, allow_empty=True, low=0.0)
    amp = as_array(amplitude, "amplitude", ndim=1, allow_empty=True)
    if not xs.shape == zs.shape == amp.shape:
        raise ValueError(f"scatterer_x_m, scatterer_z_m and amplitude must have the same "
                         f"length, got {xs.size}, {zs.size} and {amp.size}")
    lx = as_array(line_x_m, "line_x_m", ndim=1)
    w = as_scalar(lateral_fwhm_m, "lateral_fwhm_m", low=0.0, low_inclusive=False)
    trunc = as_scalar(truncate, "truncate", low=0.0, low_inclusive=False)
    order = np.argsort(lx, kind="stable")
    sorted_x = lx[order]
    reach = trunc * w
    lo = np.searchsorted(sorted_x, xs - reach, side="left")
    hi = np.searchsorted(sorted_x, xs + reach, side="right")
    counts = hi - lo
    total = int(counts.sum())
    if total > MAX_ELEMENTS:
        raise ValueError(f"the scan would add {total} echoes, more than {MAX_ELEMENTS}: "
                         "reduce the scatterers or lateral_fwhm_m")
    k = np.repeat(np.arange(xs.size), counts)
    start = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    pos = start + np.arange(total)                      # index into sorted_x for each pair
    lines = order[pos] if total else np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        u = (xs[k] - lx[lines]) / w
        weight = amp[k] * np.exp2(-4.0 * u**2)
    return simulate_rf(zs[k], weight, line=lines.astype(np.int64), n_lines=lx.size,
                       fs_hz=fs_hz, n_samples=n_samples, center_frequency_hz=center_frequency_hz,
                       fractional_bandwidth=fractional_bandwidth, speed_m_per_s=speed_m_per_s)


def derated_pressure(pressure_mpa, depth_cm, frequency_mhz: float, *,
                     derating_db_per_cm_mhz: float = 0.3) -> np.ndarray:
    """In-situ ("derated") pressure: the pressure measured in water attenuated by 0.3 dB/cm/MHz.

    Parameters
    ----------
    pressure_mpa : array_like
        Peak rarefactional pressure measured in water (>= 0), MPa.
    depth_cm : array_like
        Depth (>= 0), cm.
    frequency_mhz : float
        Centre frequency (> 0), MHz.
    derating_db_per_cm_mhz : float, optional
        Derating factor (>= 0), default 0.3 dB/(cm MHz), the standard's value.

    Returns
    -------
    numpy.ndarray
        p 10^(-0.3 f z / 20), MPa (one way: the wave travels to the depth once).

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.
    """
    p = as_array(pressure_mpa, "pressure_mpa", low=0.0)
    z = as_array(depth_cm, "depth_cm", low=0.0)
    f = as_scalar(frequency_mhz, "frequency_mhz", low=0.0, low_inclusive=False)
    a = as_scalar(derating_db_per_cm_mhz, "derating_db_per_cm_mhz", low=0.0)
    try:
        return p * 10.0 ** (-a * f * z / 20.0)
    except ValueError as err:
        raise ValueError(f"pressure_mpa and depth_cm do not broadcast: {err}") from None


def mechanical_index(pressure_mpa, frequency_mhz) -> np.ndarray:
    """Mechanical index MI = p_r,0.3 / sqrt(f_c): the risk of cavitation.

    Parameters
    ----------
    pressure_mpa : array_like
        Derated peak rarefactional pressure p_r,0.3 (>= 0), MPa (:func:`derated_pressure`).
    frequency_mhz : array_like
        Centre frequency f_c (> 0), MHz.

    Returns
    -------
    numpy.ndarray
        MI, dimensionless (the formula divides by 1 MPa MHz^-1/2).

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`us.mechanical-index`. The threshold of inertial cavitation rises with the square
    root of the frequency; the scanner displays the largest MI along the beam. The US FDA
    limits diagnostic scanners to MI <= 1.9 (lower with contrast agents, whose microbubbles
    respond from MI ~ 0.1).

    References
    ----------
    AIUM/NEMA UD 3, *Standard for Real-Time Display of Thermal and Mechanical Acoustic Output
    Indices on Diagnostic Ultrasound Equipment*, 2004; J. T. Bushberg et al., *The Essential
    Physics of Medical Imaging*, 3rd ed., 2012, ch. 14.
    """
    p = as_array(pressure_mpa, "pressure_mpa", low=0.0)
    f = as_array(frequency_mhz, "frequency_mhz", low=0.0, low_inclusive=False)
    try:
        return p / np.sqrt(f)
    except ValueError as err:
        raise ValueError(f"pressure_mpa and frequency_mhz do not broadcast: {err}") from None


def thermal_index(power_mw, power_for_1c_mw) -> np.ndarray:
    """Thermal index TI = W_0 / W_deg: the output power over the power that heats tissue 1 degC.

    Parameters
    ----------
    power_mw : array_like
        Relevant acoustic output power W_0 (>= 0), mW.
    power_for_1c_mw : array_like
        Power W_deg (> 0) estimated to raise the tissue temperature by 1 degC in the model of
        the index (soft tissue TIS, bone TIB, cranial bone TIC), mW.

    Returns
    -------
    numpy.ndarray
        TI, dimensionless: roughly the worst-case temperature rise in degC.

    Raises
    ------
    ValueError
        If an argument is out of range or the shapes do not broadcast.

    Notes
    -----
    :formula:`us.thermal-index`. For soft tissue the standard's model gives
    W_deg = 210 / f_c mW (f_c in MHz) for a scanned beam at the surface; the models are
    deliberately conservative and the index is an indicator, not a measured temperature.
    """
    w0 = as_array(power_mw, "power_mw", low=0.0)
    wd = as_array(power_for_1c_mw, "power_for_1c_mw", low=0.0, low_inclusive=False)
    try:
        return w0 / wd
    except ValueError as err:
        raise ValueError(f"power_mw and power_for_1c_mw do not broadcast: {err}") from None
