"""Slice selection: a shaped RF pulse under a gradient, simulated over isochromats along z.

Taught in ``chapters/mri/slice-selection.ipynb`` (section 4.4). A windowed sinc pulse of a given
time-bandwidth product (:func:`sinc_pulse`) is played while a gradient ``G`` makes the
off-resonance of an isochromat at position z equal to ``gamma_bar G z``; the pulse then excites
only the slab whose off-resonance lies inside its bandwidth, of thickness
:func:`slice_thickness_mm`. :func:`selective_excitation` integrates the Bloch equation exactly
for piecewise-constant B1 (one rotation per time step, vectorised over the isochromats),
:func:`small_tip_profile` is the Fourier-transform approximation it is compared with, and
:func:`profile_fwhm_mm` measures the thickness of a simulated profile.

Conventions of this module
--------------------------
The sign conventions of :mod:`medlib.mri.bloch`: in the rotating frame an isochromat
``df`` hertz above the frame frequency turns ``Mx + i My`` by ``exp(-i 2 pi df t)``, and a pulse
with B1 along +x tips +z towards +y. A complex ``b1_ut`` is ``B1x + i B1y``. Units: B1 in
microtesla, times in ms, gradients in mT/m (= microtesla per mm), positions in mm, bandwidths
in Hz; relaxation during the pulse (a few ms) is neglected.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_array, as_choice, as_scalar, as_size, check_size
from .bloch import GAMMA_BAR_MHZ_PER_T

__all__ = [
    "profile_fwhm_mm",
    "selective_excitation",
    "sinc_pulse",
    "slice_thickness_mm",
    "small_tip_profile",
]

#: gamma_bar of 1H in Hz per (microtesla) and in Hz per (mT/m * mm) (the same number).
_GAMMA_HZ_PER_UT = GAMMA_BAR_MHZ_PER_T["1H"]
_WINDOWS = ("none", "hamming", "hann")


def sinc_pulse(flip_deg: float, duration_ms: float, tbw: float, *, n_samples: int = 256,
               window: str = "hamming"):
    """A windowed sinc RF pulse of a given flip angle and time-bandwidth product.

    Parameters
    ----------
    flip_deg : float
        Nominal flip angle at the centre of the slice, in degrees (> 0, <= 360).
    duration_ms : float
        Pulse duration T in ms (> 0).
    tbw : float
        Time-bandwidth product T * BW (>= 1). The sinc's zeros are at t - T/2 = k / BW, so the
        pulse spans ``tbw`` zero-crossing intervals: for an even ``tbw`` a main lobe of width
        2 / BW and ``tbw / 2 - 1`` side lobes on each side (``tbw - 2`` zero crossings).
    n_samples : int, optional
        Number of piecewise-constant samples (>= 8), each ``T / n_samples`` long.
    window : {"hamming", "hann", "none"}, optional
        Apodisation: ``0.54 + 0.46 cos(2 pi s / T)`` (Hamming), ``0.5 + 0.5 cos(2 pi s / T)``
        (Hann), or none (a truncated sinc), with s = t - T/2.

    Returns
    -------
    t_ms : numpy.ndarray, shape (n_samples,)
        Centres of the samples, ``(k + 1/2) T / n_samples``.
    b1_ut : numpy.ndarray, shape (n_samples,)
        B1 amplitude of each sample in microtesla (real: along +x of the rotating frame).

    Raises
    ------
    ValueError
        If an argument is out of range or ``window`` is unknown.

    Notes
    -----
    :formula:`mri.sinc-pulse` -- :math:`B_1(t) = A\\,w(t)\\,\\mathrm{sinc}(\\mathrm{BW}\\,(t -
    T/2))`, :math:`\\mathrm{BW} = \\mathrm{TBW}/T`, with :math:`\\mathrm{sinc}(u) = \\sin(\\pi
    u)/(\\pi u)`. The spectrum of an untruncated sinc is a box of width BW (the excited band).
    The amplitude A makes the flip angle at resonance :math:`\\alpha = 2\\pi\\bar\\gamma
    \\sum_k B_1(t_k)\\,\\Delta t` (the hard-pulse rule ``mri.hard-pulse`` applied to the
    pulse's area).
    """
    alpha = np.deg2rad(as_scalar(flip_deg, "flip_deg", low=0.0, high=360.0,
                                 low_inclusive=False))
    t_ms = as_scalar(duration_ms, "duration_ms", low=1e-3, high=1e3)
    tb = as_scalar(tbw, "tbw", low=1.0, high=1e3)
    n = as_size(n_samples, "n_samples", low=8, max_elements=2**22)
    win = as_choice(window, "window", _WINDOWS)
    dt = t_ms / n
    t = (np.arange(n) + 0.5) * dt
    s = (t - t_ms / 2) / t_ms                        # in units of T, from -1/2 to 1/2
    shape = np.sinc(tb * s)
    if win == "hamming":
        shape = shape * (0.54 + 0.46 * np.cos(2 * np.pi * s))
    elif win == "hann":
        shape = shape * (0.5 + 0.5 * np.cos(2 * np.pi * s))
    area = np.sum(shape) * dt * 1e-3                 # s
    amplitude = alpha / (2 * np.pi * _GAMMA_HZ_PER_UT * area)   # microtesla
    return t, amplitude * shape


def slice_thickness_mm(bandwidth_hz, gradient_mt_per_m, nucleus: str = "1H"):
    """Thickness of the slab excited by a pulse of bandwidth BW under a gradient G.

    Parameters
    ----------
    bandwidth_hz : float or array_like
        RF bandwidth BW in Hz (> 0); for :func:`sinc_pulse`, ``tbw / duration``.
    gradient_mt_per_m : float or array_like
        Slice-select gradient amplitude G in mT/m (> 0).
    nucleus : {"1H", "13C", "23Na", "31P"}, optional
        The nucleus (its gamma_bar from :data:`~medlib.mri.bloch.GAMMA_BAR_MHZ_PER_T`).

    Returns
    -------
    float or numpy.ndarray
        Slice thickness in mm.

    Raises
    ------
    ValueError
        If a bandwidth or gradient is not positive and finite, or the nucleus is unknown.

    Notes
    -----
    :formula:`mri.slice-thickness` -- the gradient maps position to frequency,
    :math:`\\Delta f = \\bar\\gamma G z`, so the band BW covers
    :math:`\\Delta z = \\mathrm{BW} / (\\bar\\gamma G)`. With G in mT/m (= microtesla/mm) and
    :math:`\\bar\\gamma` = 42.576 Hz/microtesla, 1 kHz at 10 mT/m is 2.35 mm.
    """
    nuc = as_choice(nucleus, "nucleus", tuple(GAMMA_BAR_MHZ_PER_T))
    bw = as_array(bandwidth_hz, "bandwidth_hz", low=0.0, low_inclusive=False)
    g = as_array(gradient_mt_per_m, "gradient_mt_per_m", low=0.0, low_inclusive=False)
    try:
        bw, g = np.broadcast_arrays(bw, g)
    except ValueError:
        raise ValueError(f"bandwidth_hz {bw.shape} and gradient_mt_per_m {g.shape} must "
                         "broadcast") from None
    with np.errstate(over="ignore", under="ignore"):
        dz = bw / (GAMMA_BAR_MHZ_PER_T[nuc] * g)
    if not np.all(np.isfinite(dz)) or np.any(dz == 0):
        raise ValueError("bandwidth_hz / gradient_mt_per_m gives a thickness float64 cannot "
                         "represent")
    return float(dz) if dz.ndim == 0 else dz


def _pulse_args(b1_ut, dt_ms, gradient_mt_per_m, z_mm, rephase_fraction):
    b1 = as_array(b1_ut, "b1_ut", ndim=1, dtype=complex, high=None)
    if np.max(np.abs(b1)) > 1e3:
        raise ValueError("b1_ut must be in microtesla (|B1| <= 1000 uT), got a maximum of "
                         f"{np.max(np.abs(b1)):.3g}")
    dt = as_scalar(dt_ms, "dt_ms", low=1e-6, high=1e2)
    g = as_scalar(gradient_mt_per_m, "gradient_mt_per_m", low=-1e3, high=1e3)
    z = as_array(z_mm, "z_mm", ndim=1, low=-1e4, high=1e4)
    rephase = as_scalar(rephase_fraction, "rephase_fraction", low=-10.0, high=10.0)
    return b1, dt, g, z, rephase


def _rephase(mxy: np.ndarray, omega_hz: np.ndarray, duration_ms: float, fraction: float):
    """A gradient lobe of area -fraction * (slice-select area): turns Mxy back by exp(+i ...)."""
    return mxy * np.exp(2j * np.pi * omega_hz * fraction * duration_ms * 1e-3)


def selective_excitation(b1_ut, dt_ms: float, gradient_mt_per_m: float, z_mm, *,
                         rephase_fraction: float = 0.0, off_resonance_hz=0.0) -> np.ndarray:
    """Bloch simulation of a shaped RF pulse under a constant slice-select gradient.

    Parameters
    ----------
    b1_ut : array_like, shape (n_t,)
        B1 of each piecewise-constant sample in microtesla (real: along +x; complex:
        B1x + i B1y), e.g. from :func:`sinc_pulse`.
    dt_ms : float
        Duration of one sample in ms (> 0).
    gradient_mt_per_m : float
        Slice-select gradient G in mT/m (its sign flips the profile in z).
    z_mm : array_like, shape (n_z,)
        Isochromat positions along the gradient, in mm.
    rephase_fraction : float, optional
        After the pulse, a gradient lobe of area ``-rephase_fraction`` times the slice-select
        lobe's area (G T) is applied (default 0: none; 0.5 is the usual refocusing lobe).
    off_resonance_hz : float or array_like, shape (n_z,), optional
        Extra off-resonance of each isochromat (B0 inhomogeneity, chemical shift), in Hz.

    Returns
    -------
    numpy.ndarray, shape (3, n_z)
        (Mx, My, Mz) of each isochromat at the end (starting from equilibrium, M0 = 1).

    Raises
    ------
    ValueError
        If an array is empty, not finite, of the wrong shape, or a value is out of range
        (|B1| <= 1000 microtesla, |G| <= 1000 mT/m, |z| <= 10 m).

    Notes
    -----
    :formula:`mri.rephasing` -- during sample k the isochromat at z sees, in the rotating frame,
    the effective field :math:`(B_{1x}, B_{1y}, 2\\pi\\Delta f / \\gamma)` with
    :math:`\\Delta f = \\bar\\gamma G z + \\Delta f_0`; it is rotated by
    :math:`-\\gamma |B_{\\mathrm{eff}}|\\Delta t` about :math:`B_{\\mathrm{eff}}` (exact for
    piecewise-constant B1, Rodrigues' formula vectorised over z; the loop runs over the time
    samples only). The excited magnetisation of a symmetric pulse carries the linear phase
    :math:`-2\\pi\\bar\\gamma G z\\,T/2`, as if it had been tipped at the pulse centre; a lobe
    of area :math:`-\\tfrac12 G T` removes it: the rephasing rotation is
    :math:`M_{xy} \\leftarrow M_{xy}\\,e^{+i2\\pi\\bar\\gamma G z\\,f T}`, f the fraction.
    """
    b1, dt, g, z, rephase = _pulse_args(b1_ut, dt_ms, gradient_mt_per_m, z_mm, rephase_fraction)
    df0 = as_array(off_resonance_hz, "off_resonance_hz", ndim=(0, 1), low=-1e9, high=1e9)
    if df0.ndim == 1 and df0.shape != z.shape:
        raise ValueError(f"off_resonance_hz must be a scalar or have the shape of z_mm "
                         f"{z.shape}, got {df0.shape}")
    check_size((3, z.size), "z_mm")
    domega_hz = _GAMMA_HZ_PER_UT * g * z + df0           # Hz
    bz_ut = domega_hz / _GAMMA_HZ_PER_UT                 # the z field of the rotating frame
    bz_ut = np.broadcast_to(bz_ut, z.shape)
    mx, my, mz = np.zeros(z.size), np.zeros(z.size), np.ones(z.size)
    scale = 2 * np.pi * _GAMMA_HZ_PER_UT * dt * 1e-3     # radians per microtesla per sample
    for b in b1:
        bx, by = b.real, b.imag
        norm = np.sqrt(bx * bx + by * by + bz_ut * bz_ut)
        theta = -scale * norm                            # right-handed rotation angle
        with np.errstate(invalid="ignore", divide="ignore"):
            inv = np.where(norm > 0, 1.0 / norm, 0.0)
        nx, ny, nz = bx * inv, by * inv, bz_ut * inv
        c, s = np.cos(theta), np.sin(theta)
        dot = (nx * mx + ny * my + nz * mz) * (1 - c)
        cx = ny * mz - nz * my
        cy = nz * mx - nx * mz
        cz = nx * my - ny * mx
        mx, my, mz = (mx * c + cx * s + nx * dot, my * c + cy * s + ny * dot,
                      mz * c + cz * s + nz * dot)
    mxy = _rephase(mx + 1j * my, domega_hz, b1.size * dt, rephase)
    return np.stack([mxy.real, mxy.imag, mz])


def small_tip_profile(b1_ut, dt_ms: float, gradient_mt_per_m: float, z_mm, *,
                      rephase_fraction: float = 0.0) -> np.ndarray:
    """The small-tip (Fourier) approximation of the excited transverse magnetisation.

    Parameters
    ----------
    b1_ut, dt_ms, gradient_mt_per_m, z_mm, rephase_fraction
        As for :func:`selective_excitation`.

    Returns
    -------
    numpy.ndarray of complex, shape (n_z,)
        Mx + i My at the end of the pulse (and of the rephasing lobe), for M0 = 1.

    Raises
    ------
    ValueError
        As for :func:`selective_excitation`, or if n_t * n_z exceeds 2**28.

    Notes
    -----
    :formula:`mri.small-tip` -- with :math:`M_z \\approx M_0` throughout the pulse the Bloch
    equation becomes linear, :math:`dM_{xy}/dt = -i\\omega(z) M_{xy} + i\\gamma B_1(t) M_0`,
    :math:`\\omega = 2\\pi\\bar\\gamma G z`, whose solution is
    :math:`M_{xy}(z, T) = i\\gamma M_0 \\int_0^T B_1(t)\\,e^{-i\\omega(z)(T - t)}\\,dt`:
    the profile is the Fourier transform of the pulse, evaluated at the frequency
    :math:`\\bar\\gamma G z` (computed here as the sum over the samples' centres). Exact to
    first order in the flip angle; it ignores the fall of Mz, so it overestimates
    |Mxy| = sin(alpha) as alpha, and predicts nothing for an inversion.
    """
    b1, dt, g, z, rephase = _pulse_args(b1_ut, dt_ms, gradient_mt_per_m, z_mm, rephase_fraction)
    check_size((z.size, b1.size), "z_mm")
    n = b1.size
    t_end = n * dt * 1e-3                                 # s
    t = (np.arange(n) + 0.5) * dt * 1e-3
    omega = 2 * np.pi * _GAMMA_HZ_PER_UT * g * z          # rad/s
    gamma = 2 * np.pi * _GAMMA_HZ_PER_UT                  # rad/s per microtesla
    phases = np.exp(-1j * omega[:, None] * (t_end - t)[None, :])
    mxy = 1j * gamma * (phases @ b1) * dt * 1e-3
    return _rephase(mxy, omega / (2 * np.pi), n * dt, rephase)


def profile_fwhm_mm(z_mm, profile) -> float:
    """Full width at half maximum of a slice profile, by linear interpolation.

    Parameters
    ----------
    z_mm : array_like, shape (n,)
        Increasing positions in mm.
    profile : array_like, shape (n,)
        The profile (e.g. |Mxy|, or (1 - Mz) / 2 for an inversion), >= 0, with its maximum
        inside ``z_mm`` and falling below half of it at both ends.

    Returns
    -------
    float
        Distance in mm between the outermost half-maximum crossings, each located by linear
        interpolation between the two samples around it.

    Raises
    ------
    ValueError
        If the arrays differ in length, ``z_mm`` is not increasing, the profile is negative,
        zero, or does not fall below half its maximum at both ends.
    """
    z = as_array(z_mm, "z_mm", ndim=1)
    p = as_array(profile, "profile", ndim=1, low=0.0)
    if z.shape != p.shape:
        raise ValueError(f"z_mm and profile must have the same length, got {z.size} and "
                         f"{p.size}")
    if z.size < 3 or np.any(np.diff(z) <= 0):
        raise ValueError("z_mm must hold at least 3 strictly increasing positions")
    peak = p.max()
    if not peak > 0:
        raise ValueError("profile must have a positive maximum")
    half = peak / 2
    above = np.flatnonzero(p >= half)
    i0, i1 = above[0], above[-1]
    if i0 == 0 or i1 == p.size - 1:
        raise ValueError("profile must fall below half its maximum at both ends of z_mm")
    left = z[i0 - 1] + (half - p[i0 - 1]) / (p[i0] - p[i0 - 1]) * (z[i0] - z[i0 - 1])
    right = z[i1] + (p[i1] - half) / (p[i1] - p[i1 + 1]) * (z[i1 + 1] - z[i1])
    return float(right - left)
