"""Magnetic resonance: Larmor precession, a fast Bloch simulator, relaxation and contrast, k-space.

Taught in ``chapters/mri/`` (sections 4.1 to 4.3 of the key formulas):

* ``bloch.ipynb`` (4.1): gyromagnetic ratios and the Larmor frequency; :func:`bloch_simulate`,
  which applies *exact* rotation and relaxation operators event by event to many isochromats at
  once; the closed forms it is checked against (inversion recovery, the spoiled gradient-echo
  steady state and the Ernst angle).
* ``relaxation.ipynb`` (4.2): T1 recovery, T2 decay, the spin-echo signal equation, tissue
  parameters at 1.5 T and 3 T, and images synthesised from tissue maps of a real brain.
* ``kspace.ipynb`` (4.3): the signal equation as a Fourier transform with explicit centring,
  reconstruction, masks, truncation, zero-filling, aliasing and partial Fourier.

Conventions of this module
--------------------------
Sign of the Bloch equation
    ``dM/dt = gamma M x B`` with gamma > 0 for 1H (Bloch 1946). Magnetisation therefore
    precesses *clockwise* seen from +z: the precession vector is ``-gamma B``. In the rotating
    frame an isochromat ``off_resonance_hz`` above the frame frequency turns its transverse
    magnetisation ``Mx + i My`` by ``exp(-i 2 pi df t)``; a hard pulse with B1 along +x tips +z
    towards +y (a rotation by ``-flip`` about +x in the right-handed sense).
Times and frequencies
    Milliseconds (``t1_ms``, ``tr_ms``), hertz for off-resonance, tesla for fields, degrees for
    flip angles (the names end in ``_deg``).
Magnetisation arrays
    Shape ``(3, n)``: rows ``(Mx, My, Mz)``, one column per isochromat, float64.
k-space arrays
    Centred: the sample at index ``N // 2`` along every axis is ``k = 0`` (and the image pixel at
    index ``N // 2`` is ``x = 0``). :func:`kspace_forward` and :func:`kspace_inverse` apply the
    ``ifftshift``/``fftshift`` pairs that this requires and scale by the pixel and k-space
    areas, so that they approximate the continuous integrals of the seed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._validate import as_array, as_choice, as_int, as_rng, as_scalar

__all__ = [
    "GAMMA_BAR_MHZ_PER_T",
    "TISSUES",
    "BlochResult",
    "Free",
    "Pulse",
    "Readout",
    "Spoil",
    "Tissue",
    "bloch_simulate",
    "crop_kspace",
    "decimate_kspace",
    "ernst_angle_deg",
    "free",
    "free_precession",
    "hermitian_fill",
    "image_coordinates",
    "inversion_null_time",
    "inversion_recovery",
    "kspace_coordinates",
    "kspace_forward",
    "kspace_inverse",
    "larmor_frequency_mhz",
    "lorentzian_off_resonance",
    "partial_fourier_mask",
    "pulse",
    "random_mask",
    "readout",
    "regular_mask",
    "rf_rotation",
    "spin_echo_image",
    "spin_echo_signal",
    "spin_echo_signal_exact",
    "spoil",
    "spoiled_gre_signal",
    "t1_recovery",
    "t2_decay",
    "tissue_fractions",
    "tissue_parameters",
    "truncate_kspace",
    "zero_fill",
]

# ---------------------------------------------------------------------------------------------
# Gyromagnetic ratios and the Larmor frequency
# ---------------------------------------------------------------------------------------------

#: gamma / (2 pi) in MHz/T, as observed in the standard reference samples. 1H: the shielded
#: proton in a spherical water sample at 25 degC (CODATA 2022, as in scipy.constants). The others:
#: IUPAC frequency ratios Xi (Harris et al. 2001; 13C in TMS 25.145020 %, 23Na in NaCl/D2O
#: 26.451900 %, 31P in 85 % H3PO4 40.480742 %) times the 1H value.
GAMMA_BAR_MHZ_PER_T = {
    "1H": 42.57638543,
    "13C": 0.25145020 * 42.57638543,
    "23Na": 0.26451900 * 42.57638543,
    "31P": 0.40480742 * 42.57638543,
}


def larmor_frequency_mhz(b0_t, nucleus: str = "1H"):
    """Larmor frequency f0 = gamma_bar B0 of a nucleus in a static field.

    Parameters
    ----------
    b0_t : float or array_like
        Static field strength B0 in tesla (>= 0).
    nucleus : {"1H", "13C", "23Na", "31P"}, optional
        The nucleus (default protons).

    Returns
    -------
    float or numpy.ndarray
        f0 in MHz; the angular frequency is omega0 = 2 pi f0 (rad/s when f0 is in Hz).

    Raises
    ------
    ValueError
        If ``b0_t`` is negative or not finite, or ``nucleus`` is unknown.

    Notes
    -----
    :formula:`mri.larmor` -- :math:`\\omega_0 = \\gamma B_0`, i.e. :math:`f_0 = \\bar\\gamma B_0`
    with :math:`\\bar\\gamma = \\gamma / 2\\pi` from :data:`GAMMA_BAR_MHZ_PER_T`. This is the
    *magnitude*: with :math:`\\gamma > 0` the precession is clockwise about :math:`B_0`
    (angular velocity :math:`-\\gamma B_0`), see the module notes.

    References
    ----------
    E. Tiesinga et al., CODATA recommended values of the fundamental physical constants: 2018,
    Rev. Mod. Phys. 93, 025010 (2021), and the 2022 adjustment (scipy.constants).
    R. K. Harris et al., NMR nomenclature. Nuclear spin properties and conventions for chemical
    shifts (IUPAC Recommendations 2001), Pure Appl. Chem. 73, 1795-1818 (2001).
    """
    nuc = as_choice(nucleus, "nucleus", tuple(GAMMA_BAR_MHZ_PER_T))
    b0 = as_array(b0_t, "b0_t")
    if np.any(b0 < 0):
        raise ValueError("b0_t must be >= 0 tesla")
    f0 = GAMMA_BAR_MHZ_PER_T[nuc] * b0
    return float(f0) if f0.ndim == 0 else f0


# ---------------------------------------------------------------------------------------------
# The Bloch simulator: events, exact operators, many isochromats at once
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pulse:
    """An instantaneous (hard) RF pulse: a rotation by ``flip_deg`` about an axis of the
    rotating frame (B1 along that axis), the same for every isochromat."""

    flip_deg: float
    axis: str = "x"


@dataclass(frozen=True)
class Free:
    """Free precession for ``duration_ms``: off-resonance rotation about z plus T1 and T2
    relaxation, per isochromat."""

    duration_ms: float


@dataclass(frozen=True)
class Spoil:
    """Ideal spoiling: the transverse magnetisation of every isochromat is set to zero."""


@dataclass(frozen=True)
class Readout:
    """Record the magnetisation at this point of the sequence."""


_AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "-x": (-1.0, 0.0, 0.0),
         "-y": (0.0, -1.0, 0.0)}


def pulse(flip_deg: float, axis: str = "x") -> Pulse:
    """A hard RF pulse event (see :class:`Pulse`); ``axis`` is "x", "y", "-x" or "-y"."""
    return Pulse(as_scalar(flip_deg, "flip_deg"), as_choice(axis, "axis", tuple(_AXES)))


def free(duration_ms: float) -> Free:
    """A free-precession event of ``duration_ms`` >= 0 (see :class:`Free`)."""
    return Free(as_scalar(duration_ms, "duration_ms", low=0.0))


def spoil() -> Spoil:
    """An ideal-spoiling event (see :class:`Spoil`)."""
    return Spoil()


def readout() -> Readout:
    """A readout event (see :class:`Readout`)."""
    return Readout()


def rf_rotation(flip_deg: float, axis: str = "x") -> np.ndarray:
    """The 3x3 matrix of a hard RF pulse in the rotating frame.

    Parameters
    ----------
    flip_deg : float
        Flip angle alpha in degrees (negative values rotate the other way).
    axis : {"x", "y", "-x", "-y"}, optional
        Direction of B1 in the rotating frame.

    Returns
    -------
    numpy.ndarray, shape (3, 3)
        R such that ``M_after = R @ M_before``. With B1 along +x, +z goes to
        ``(0, sin alpha, cos alpha)``.

    Raises
    ------
    ValueError
        If ``flip_deg`` is not finite or ``axis`` is unknown.

    Notes
    -----
    :formula:`mri.hard-pulse` -- integrating :math:`d\\mathbf M/dt = \\gamma\\,\\mathbf M\\times
    B_1\\hat{\\mathbf n}` over the pulse rotates M by :math:`-\\alpha` about
    :math:`\\hat{\\mathbf n}` (right-handed), :math:`\\alpha = \\gamma B_1 \\tau`. Rodrigues'
    formula with :math:`\\theta = -\\alpha`:
    :math:`R = I\\cos\\theta + (1-\\cos\\theta)\\hat n\\hat n^T + \\sin\\theta\\,[\\hat n]_\\times`.
    """
    theta = -np.deg2rad(as_scalar(flip_deg, "flip_deg"))
    n = np.array(_AXES[as_choice(axis, "axis", tuple(_AXES))])
    cross = np.array([[0.0, -n[2], n[1]], [n[2], 0.0, -n[0]], [-n[1], n[0], 0.0]])
    return np.cos(theta) * np.eye(3) + (1 - np.cos(theta)) * np.outer(n, n) \
        + np.sin(theta) * cross


def _relaxation_times(value, name: str) -> np.ndarray:
    """T1 or T2 in ms: > 0, infinity allowed (no relaxation), NaN refused."""
    arr = as_array(value, name, finite=False)
    if np.any(np.isnan(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0 ms (infinity means no relaxation)")
    return arr


def _free_coefficients(duration_ms: float, t1, t2, m0, df_hz):
    """Per-isochromat coefficients of one exact free-precession step (see free_precession)."""
    phi = 2 * np.pi * df_hz * (duration_ms * 1e-3)
    e2 = np.exp(-duration_ms / t2)
    e1 = np.exp(-duration_ms / t1)
    return e2 * np.cos(phi), e2 * np.sin(phi), e1, m0 * (1.0 - e1)


def free_precession(m, duration_ms: float, t1_ms, t2_ms, *, m0=1.0,
                    off_resonance_hz=0.0) -> np.ndarray:
    """One exact step of free precession with relaxation, for many isochromats.

    Parameters
    ----------
    m : array_like, shape (3,) or (3, n)
        Magnetisation (Mx, My, Mz) before the step.
    duration_ms : float
        Step length tau >= 0 in ms.
    t1_ms, t2_ms : float or array_like, shape (n,)
        Relaxation times in ms (> 0; ``np.inf`` for none).
    m0 : float or array_like, shape (n,), optional
        Equilibrium magnetisation M0 >= 0.
    off_resonance_hz : float or array_like, shape (n,), optional
        Off-resonance df of each isochromat in Hz.

    Returns
    -------
    numpy.ndarray, shape (3, n)
        The magnetisation after the step (a new array).

    Raises
    ------
    ValueError
        On negative or NaN times, mismatched lengths, or a malformed ``m``.

    Notes
    -----
    :formula:`mri.free-precession` -- with :math:`\\varphi = 2\\pi\\,\\Delta f\\,\\tau`,
    :math:`E_1 = e^{-\\tau/T_1}`, :math:`E_2 = e^{-\\tau/T_2}`:
    :math:`M_x' + iM_y' = E_2 e^{-i\\varphi}(M_x + iM_y)`,
    :math:`M_z' = E_1 M_z + M_0(1 - E_1)`. This is the exact solution of the Bloch equation
    ``mri.bloch`` over the step (rotation about z and relaxation commute), so steps of any length
    introduce no discretisation error.
    """
    tau = as_scalar(duration_ms, "duration_ms", low=0.0)
    t1, t2, mm0, df = _isochromat_parameters(t1_ms, t2_ms, m0, off_resonance_hz)
    mag = _initial_magnetisation(m, t1.size, mm0, name="m")
    n = max(t1.size, mag.shape[1])
    t1, t2, mm0, df = (np.broadcast_to(a, (n,)) for a in (t1, t2, mm0, df))
    mag = np.broadcast_to(mag, (3, n))
    a, b, e1, rec = _free_coefficients(tau, t1, t2, mm0, df)
    out = np.empty((3, n))
    out[0] = a * mag[0] + b * mag[1]
    out[1] = a * mag[1] - b * mag[0]
    out[2] = e1 * mag[2] + rec
    return out


def _isochromat_parameters(t1_ms, t2_ms, m0, off_resonance_hz):
    t1 = _relaxation_times(t1_ms, "t1_ms")
    t2 = _relaxation_times(t2_ms, "t2_ms")
    mm0 = as_array(m0, "m0")
    if np.any(mm0 < 0):
        raise ValueError("m0 must be >= 0")
    df = as_array(off_resonance_hz, "off_resonance_hz")
    arrays = {"t1_ms": t1, "t2_ms": t2, "m0": mm0, "off_resonance_hz": df}
    lengths = {}
    for name, arr in arrays.items():
        if arr.ndim > 1:
            raise ValueError(f"{name} must be a scalar or a 1D array (one value per isochromat), "
                             f"got shape {arr.shape}")
        if arr.ndim == 1 and arr.size != 1:
            lengths[name] = arr.size
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise ValueError(f"isochromat arrays must have the same length: {desc}")
    n = next(iter(lengths.values()), 1)
    return tuple(np.broadcast_to(a.reshape(-1), (n,)) for a in (t1, t2, mm0, df))


def _initial_magnetisation(m_init, n: int, m0: np.ndarray, name: str = "m_init") -> np.ndarray:
    if m_init is None:
        out = np.zeros((3, n))
        out[2] = m0
        return out
    arr = as_array(m_init, name)
    if arr.ndim == 1:
        if arr.shape != (3,):
            raise ValueError(f"{name} must have shape (3,) or (3, n), got {arr.shape}")
        return np.repeat(arr[:, None], n, axis=1)
    if arr.ndim != 2 or arr.shape[0] != 3 or (n != 1 and arr.shape[1] not in (1, n)):
        raise ValueError(f"{name} must have shape (3,) or (3, {n}), got {arr.shape}")
    return arr


@dataclass
class BlochResult:
    """What :func:`bloch_simulate` returns.

    Attributes
    ----------
    m : numpy.ndarray, shape (3, n)
        Magnetisation after the last event.
    readouts : numpy.ndarray, shape (n_readouts, 3, n) or (n_readouts, 3)
        Magnetisation at every :class:`Readout` event; averaged over the isochromats (the
        signal a coil would measure) when the simulation was run with ``average=True``.
    times_ms : numpy.ndarray, shape (n_readouts,)
        Time of each readout since the start of the sequence.
    """

    m: np.ndarray
    readouts: np.ndarray
    times_ms: np.ndarray

    @property
    def signal(self) -> np.ndarray:
        """Transverse magnetisation Mx + i My at each readout (complex)."""
        return self.readouts[:, 0] + 1j * self.readouts[:, 1]


def bloch_simulate(events, t1_ms, t2_ms, *, m0=1.0, off_resonance_hz=0.0, m_init=None,
                   average: bool = False) -> BlochResult:
    """Simulate a pulse sequence for many isochromats with exact operators per event.

    Parameters
    ----------
    events : sequence of Pulse, Free, Spoil, Readout
        The sequence, in order (build it with :func:`pulse`, :func:`free`, :func:`spoil`,
        :func:`readout`; lists can be repeated with ``*``).
    t1_ms, t2_ms : float or array_like, shape (n,)
        Relaxation times of each isochromat in ms (> 0; ``np.inf`` disables relaxation).
    m0 : float or array_like, shape (n,), optional
        Equilibrium magnetisation (proton density) of each isochromat, >= 0.
    off_resonance_hz : float or array_like, shape (n,), optional
        Off-resonance frequency of each isochromat in Hz (field inhomogeneity, chemical shift).
    m_init : array_like, shape (3,) or (3, n), optional
        Starting magnetisation (default: equilibrium, (0, 0, M0)).
    average : bool, optional
        Record the mean over isochromats at each readout (the measured signal, shape
        (n_readouts, 3)) instead of every isochromat (shape (n_readouts, 3, n)).

    Returns
    -------
    BlochResult
        Final magnetisation, readouts and readout times. The inputs are not modified.

    Raises
    ------
    TypeError
        If an event is not one of the event types.
    ValueError
        On non-positive or NaN relaxation times, negative m0, non-finite off-resonance,
        isochromat arrays of different lengths, or a malformed ``m_init``.

    Notes
    -----
    :formula:`mri.bloch` -- the Bloch equation
    :math:`d\\mathbf M/dt = \\gamma\\,\\mathbf M\\times\\mathbf B - (M_x\\hat i + M_y\\hat j)/T_2 -
    (M_z - M_0)\\hat k/T_1`, solved in the rotating frame event by event: a hard pulse is the
    rotation :func:`rf_rotation` (relaxation during the pulse neglected), free precession the
    exact step :func:`free_precession`. The coefficients of each distinct free-precession
    duration are computed once and the steps are applied in place on preallocated (3, n)
    float64 buffers, so one pulse plus one free-precession step over 1e5 isochromats costs
    well under a millisecond (``benchmarks/bench_bloch.py``).

    References
    ----------
    F. Bloch, Nuclear induction, Phys. Rev. 70, 460-474 (1946).
    E. T. Jaynes, Matrix treatment of nuclear induction, Phys. Rev. 98, 1099-1105 (1955).
    """
    if isinstance(events, (str, bytes)) or not isinstance(events, Sequence):
        raise TypeError("events must be a sequence (list or tuple) of Pulse, Free, Spoil or "
                        "Readout events")
    for i, ev in enumerate(events):
        if not isinstance(ev, (Pulse, Free, Spoil, Readout)):
            raise TypeError(f"events[{i}] must be a Pulse, Free, Spoil or Readout event, got "
                            f"{type(ev).__name__}")
        if isinstance(ev, Free) and not (np.isfinite(ev.duration_ms) and ev.duration_ms >= 0):
            raise ValueError(f"events[{i}]: duration_ms must be finite and >= 0")
        if isinstance(ev, Pulse):
            as_choice(ev.axis, f"events[{i}].axis", tuple(_AXES))
            as_scalar(ev.flip_deg, f"events[{i}].flip_deg")
    t1, t2, mm0, df = _isochromat_parameters(t1_ms, t2_ms, m0, off_resonance_hz)
    start = _initial_magnetisation(m_init, t1.size, mm0)
    n = max(t1.size, start.shape[1])
    t1, t2, mm0, df = (np.broadcast_to(a, (n,)) for a in (t1, t2, mm0, df))

    m = np.empty((3, n))
    m[:] = start                       # a private copy: the caller's m_init is never touched
    spare = np.empty((3, n))           # second buffer: rotations write here, then the two swap
    tmp = np.empty((2, n))             # scratch rows for the in-place free-precession update
    coefficients: dict[float, tuple] = {}
    rotations: dict[tuple, np.ndarray] = {}
    records, times, t_now = [], [], 0.0

    for ev in events:
        if isinstance(ev, Free):
            if ev.duration_ms == 0:
                continue
            co = coefficients.get(ev.duration_ms)
            if co is None:
                co = coefficients[ev.duration_ms] = _free_coefficients(ev.duration_ms, t1, t2,
                                                                       mm0, df)
            _apply_free(m, tmp, co)
            t_now += ev.duration_ms
        elif isinstance(ev, Pulse):
            key = (ev.flip_deg, ev.axis)
            r = rotations.get(key)
            if r is None:
                r = rotations[key] = rf_rotation(ev.flip_deg, ev.axis)
            m, spare = _apply_rotation(m, spare, r)
        elif isinstance(ev, Spoil):
            m[:2] = 0.0
        else:
            records.append(m.mean(axis=1) if average else m.copy())
            times.append(t_now)
    shape = (0, 3) if average else (0, 3, n)
    readouts = np.stack(records) if records else np.empty(shape)
    return BlochResult(m=m, readouts=readouts, times_ms=np.array(times, dtype=float))


def _apply_free(m: np.ndarray, tmp: np.ndarray, co) -> None:
    """In place: Mxy <- E2 exp(-i phi) Mxy, Mz <- E1 Mz + M0 (1 - E1)."""
    a, b, e1, rec = co
    mx, my, mz = m
    t0, t1 = tmp
    np.multiply(a, mx, out=t0)
    np.multiply(b, my, out=t1)
    t0 += t1                            # new Mx
    np.multiply(b, mx, out=t1)
    np.multiply(a, my, out=my)
    my -= t1                            # new My
    mx[:] = t0
    mz *= e1
    mz += rec


def _apply_rotation(m: np.ndarray, spare: np.ndarray, r: np.ndarray):
    """M <- R M for one 3x3 rotation shared by every isochromat; returns the (new, spare) pair.

    One BLAS matrix product into the preallocated spare buffer; the buffers then swap roles.
    """
    np.matmul(r, m, out=spare)
    return spare, m


def lorentzian_off_resonance(n: int, t2_prime_ms: float) -> np.ndarray:
    """Off-resonance frequencies whose ensemble dephases like exp(-t / T2').

    Parameters
    ----------
    n : int
        Number of isochromats (>= 1).
    t2_prime_ms : float
        The reversible decay time T2' in ms (> 0).

    Returns
    -------
    numpy.ndarray, shape (n,)
        Deterministic quantiles of a Cauchy (Lorentzian) distribution of half-width
        w = 1 / (2 pi T2') in Hz: df_k = w tan(pi (u_k - 1/2)), u_k = (k + 1/2) / n.

    Raises
    ------
    ValueError
        If ``n`` < 1 or ``t2_prime_ms`` <= 0.

    Notes
    -----
    The mean of :math:`e^{-i2\\pi\\Delta f t}` over a Lorentzian is :math:`e^{-2\\pi w|t|} =
    e^{-|t|/T_2'}`, so with T2 relaxation the free induction decay falls as
    :math:`e^{-t/T_2^*}`, :math:`1/T_2^* = 1/T_2 + 1/T_2'`; a spin echo refocuses the T2' part.
    With finitely many isochromats the agreement holds for t up to a few T2'.
    """
    k = as_int(n, "n", low=1)
    t2p = as_scalar(t2_prime_ms, "t2_prime_ms", low=0.0, low_inclusive=False)
    w = 1.0 / (2 * np.pi * t2p * 1e-3)
    u = (np.arange(k) + 0.5) / k
    return w * np.tan(np.pi * (u - 0.5))


# ---------------------------------------------------------------------------------------------
# Closed forms: relaxation and the signal equations
# ---------------------------------------------------------------------------------------------

def _times(value, name: str) -> np.ndarray:
    arr = as_array(value, name)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 ms")
    return arr


def _broadcast(**arrays) -> list[np.ndarray]:
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"array arguments must have broadcastable shapes, got {shapes}") \
            from None


def _result(x: np.ndarray):
    return float(x) if x.ndim == 0 else x


def t1_recovery(t_ms, t1_ms, *, m0=1.0, mz0=0.0):
    """Longitudinal magnetisation recovering towards M0 with time constant T1.

    Parameters
    ----------
    t_ms : float or array_like
        Time since the start of recovery (>= 0 ms).
    t1_ms : float or array_like
        T1 in ms (> 0).
    m0 : float or array_like, optional
        Equilibrium magnetisation (>= 0).
    mz0 : float or array_like, optional
        Mz at t = 0 (default 0: recovery after a 90 degree pulse or saturation; -M0 after
        an inversion).

    Returns
    -------
    float or numpy.ndarray
        Mz(t) = M0 - (M0 - Mz(0)) exp(-t / T1), broadcast over the inputs.

    Raises
    ------
    ValueError
        On negative times, T1 <= 0, negative m0, or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.t1-recovery` -- the seed's :math:`M_z(t) = M_0(1 - e^{-t/T_1})` is the case
    Mz(0) = 0. It solves the z-component of the Bloch equation ``mri.bloch``.
    """
    t = _times(t_ms, "t_ms")
    t1 = _relaxation_times(t1_ms, "t1_ms")
    m0a = as_array(m0, "m0")
    if np.any(m0a < 0):
        raise ValueError("m0 must be >= 0")
    mz = as_array(mz0, "mz0")
    t, t1, m0a, mz = _broadcast(t_ms=t, t1_ms=t1, m0=m0a, mz0=mz)
    return _result(m0a - (m0a - mz) * np.exp(-t / t1))


def t2_decay(t_ms, t2_ms, *, mxy0=1.0):
    """Magnitude of the transverse magnetisation decaying with time constant T2.

    Parameters
    ----------
    t_ms : float or array_like
        Time since excitation (>= 0 ms).
    t2_ms : float or array_like
        T2 in ms (> 0).
    mxy0 : float or array_like, optional
        |Mxy| right after excitation (M0 sin alpha; M0 after a 90 degree pulse).

    Returns
    -------
    float or numpy.ndarray
        |Mxy(t)| = |Mxy(0)| exp(-t / T2).

    Raises
    ------
    ValueError
        On negative times or magnitudes, T2 <= 0, or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.t2-decay` -- the seed's :math:`M_{xy}(t) = M_0 e^{-t/T_2}` (after a 90
    degree pulse). Only one isochromat, or a refocused echo, decays with T2; the free
    induction decay of a voxel decays faster, with T2* (see :func:`lorentzian_off_resonance`).
    """
    t = _times(t_ms, "t_ms")
    t2 = _relaxation_times(t2_ms, "t2_ms")
    a = as_array(mxy0, "mxy0")
    if np.any(a < 0):
        raise ValueError("mxy0 must be >= 0 (a magnitude)")
    t, t2, a = _broadcast(t_ms=t, t2_ms=t2, mxy0=a)
    return _result(a * np.exp(-t / t2))


def _check_te_tr(te: np.ndarray, tr: np.ndarray, what: str) -> None:
    if np.any(te > tr):
        raise ValueError(f"te_ms must not exceed tr_ms: {what} assumes the echo is read before "
                         "the next excitation")


def spin_echo_signal(tr_ms, te_ms, t1_ms, t2_ms, *, pd=1.0):
    """The (simplified) spin-echo signal equation S = PD (1 - exp(-TR/T1)) exp(-TE/T2).

    Parameters
    ----------
    tr_ms, te_ms : float or array_like
        Repetition and echo times in ms (>= 0, TE <= TR).
    t1_ms, t2_ms : float or array_like
        Relaxation times in ms (> 0).
    pd : float or array_like, optional
        Proton density rho (equilibrium magnetisation, >= 0).

    Returns
    -------
    float or numpy.ndarray
        The signal in units of PD, broadcast over all inputs (maps of T1, T2, PD work).

    Raises
    ------
    ValueError
        On negative times, TE > TR, non-positive T1/T2, negative PD, or shapes that do not
        broadcast.

    Notes
    -----
    :formula:`mri.spin-echo-signal` -- the general spin-echo equation: T1 weighting comes from
    the factor :math:`1-e^{-TR/T_1}`, T2 weighting from :math:`e^{-TE/T_2}`. It assumes TE << T1
    (see :func:`spin_echo_signal_exact`) and TR >> T2 (no transverse magnetisation left at the
    next excitation).
    :formula:`mri.pd-limit` -- with TR >> T1 and TE << T2 both factors tend to 1 and
    S tends to PD: proton-density weighting is a *limit* of this equation, not its name.
    """
    tr = _times(tr_ms, "tr_ms")
    te = _times(te_ms, "te_ms")
    t1 = _relaxation_times(t1_ms, "t1_ms")
    t2 = _relaxation_times(t2_ms, "t2_ms")
    rho = as_array(pd, "pd")
    if np.any(rho < 0):
        raise ValueError("pd must be >= 0")
    tr, te, t1, t2, rho = _broadcast(tr_ms=tr, te_ms=te, t1_ms=t1, t2_ms=t2, pd=rho)
    _check_te_tr(te, tr, "the spin-echo signal equation")
    return _result(rho * (1 - np.exp(-tr / t1)) * np.exp(-te / t2))


def spin_echo_signal_exact(tr_ms, te_ms, t1_ms, t2_ms, *, pd=1.0):
    """Steady-state spin-echo signal including T1 recovery between the 90 and 180 degree pulses.

    Parameters
    ----------
    tr_ms, te_ms, t1_ms, t2_ms, pd
        As :func:`spin_echo_signal` (TE <= TR).

    Returns
    -------
    float or numpy.ndarray
        S = PD (1 - 2 exp(-(TR - TE/2)/T1) + exp(-TR/T1)) exp(-TE/T2).

    Raises
    ------
    ValueError
        As :func:`spin_echo_signal`.

    Notes
    -----
    :formula:`mri.spin-echo-exact` -- a 90x - TE/2 - 180y - TE/2 - echo sequence repeated every
    TR, with the transverse magnetisation gone (or spoiled) before each 90 degree pulse. Mz
    recovers for TE/2, is inverted by the 180 degree pulse and recovers for TR - TE/2. It differs
    from :func:`spin_echo_signal` by :math:`2 e^{-TR/T_1}(e^{TE/2T_1} - 1)` (relative to PD),
    negligible when TE << T1. This is the form the Bloch simulator reproduces exactly.
    """
    tr = _times(tr_ms, "tr_ms")
    te = _times(te_ms, "te_ms")
    t1 = _relaxation_times(t1_ms, "t1_ms")
    t2 = _relaxation_times(t2_ms, "t2_ms")
    rho = as_array(pd, "pd")
    if np.any(rho < 0):
        raise ValueError("pd must be >= 0")
    tr, te, t1, t2, rho = _broadcast(tr_ms=tr, te_ms=te, t1_ms=t1, t2_ms=t2, pd=rho)
    _check_te_tr(te, tr, "the spin-echo signal equation")
    mz = 1 - 2 * np.exp(-(tr - te / 2) / t1) + np.exp(-tr / t1)
    return _result(rho * mz * np.exp(-te / t2))


def inversion_recovery(ti_ms, t1_ms, *, m0=1.0, tr_ms=np.inf):
    """Longitudinal magnetisation at the inversion time of an inversion-recovery sequence.

    Parameters
    ----------
    ti_ms : float or array_like
        Inversion time TI (180 degree pulse to 90 degree readout pulse), ms >= 0.
    t1_ms : float or array_like
        T1 in ms (> 0).
    m0 : float or array_like, optional
        Equilibrium magnetisation (>= 0).
    tr_ms : float or array_like, optional
        Repetition time between inversions (default infinite: full recovery); TI <= TR.

    Returns
    -------
    float or numpy.ndarray
        Mz(TI) = M0 (1 - 2 exp(-TI/T1) + exp(-TR/T1)); negative values mean the magnetisation
        still points down (a magnitude image shows the absolute value).

    Raises
    ------
    ValueError
        On negative times, TI > TR, T1 <= 0, negative m0 or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.inversion-recovery` -- the readout pulse saturates Mz, which recovers for
    TR - TI, is inverted, and recovers for TI (:func:`t1_recovery` twice). The null, where a
    tissue vanishes, is :func:`inversion_null_time`.
    """
    ti = _times(ti_ms, "ti_ms")
    t1 = _relaxation_times(t1_ms, "t1_ms")
    tr = as_array(tr_ms, "tr_ms", finite=False)
    if np.any(np.isnan(tr)) or np.any(tr < 0):
        raise ValueError("tr_ms must be >= 0 ms (infinity allowed)")
    m0a = as_array(m0, "m0")
    if np.any(m0a < 0):
        raise ValueError("m0 must be >= 0")
    ti, t1, tr, m0a = _broadcast(ti_ms=ti, t1_ms=t1, tr_ms=tr, m0=m0a)
    if np.any(ti > tr):
        raise ValueError("ti_ms must not exceed tr_ms")
    return _result(m0a * (1 - 2 * np.exp(-ti / t1) + np.exp(-tr / t1)))


def inversion_null_time(t1_ms, *, tr_ms=np.inf):
    """Inversion time at which a tissue's Mz crosses zero: TI = T1 ln(2 / (1 + exp(-TR/T1))).

    Parameters
    ----------
    t1_ms : float or array_like
        T1 in ms (> 0).
    tr_ms : float or array_like, optional
        Repetition time (default infinite, giving T1 ln 2).

    Returns
    -------
    float or numpy.ndarray
        The null time in ms.

    Raises
    ------
    ValueError
        If T1 <= 0 or TR is negative.

    Notes
    -----
    Zero of ``mri.inversion-recovery``; used by STIR (fat suppression) and FLAIR (CSF
    suppression).
    """
    t1 = _relaxation_times(t1_ms, "t1_ms")
    tr = as_array(tr_ms, "tr_ms", finite=False)
    if np.any(np.isnan(tr)) or np.any(tr < 0):
        raise ValueError("tr_ms must be >= 0 ms (infinity allowed)")
    t1, tr = _broadcast(t1_ms=t1, tr_ms=tr)
    return _result(t1 * np.log(2 / (1 + np.exp(-tr / t1))))


def spoiled_gre_signal(tr_ms, flip_deg, t1_ms, *, te_ms=0.0, t2star_ms=np.inf, pd=1.0):
    """Steady-state signal of a spoiled gradient echo (FLASH, SPGR).

    Parameters
    ----------
    tr_ms : float or array_like
        Repetition time in ms (>= 0).
    flip_deg : float or array_like
        Flip angle in degrees.
    t1_ms : float or array_like
        T1 in ms (> 0).
    te_ms : float or array_like, optional
        Echo time in ms (0 <= TE <= TR); default 0 (the signal right after the pulse).
    t2star_ms : float or array_like, optional
        Decay time of the gradient echo (T2*, or T2 for a single isochromat); default none.
    pd : float or array_like, optional
        Proton density (>= 0).

    Returns
    -------
    float or numpy.ndarray
        S = PD sin(a) (1 - E1) / (1 - cos(a) E1) exp(-TE/T2*), E1 = exp(-TR/T1).

    Raises
    ------
    ValueError
        On negative times, TE > TR, non-positive T1/T2*, negative PD, or shapes that do not
        broadcast.

    Notes
    -----
    :formula:`mri.spoiled-gre` -- after each pulse Mz' = cos(a) Mz; spoiling removes the
    transverse part; recovery over TR gives Mz = E1 cos(a) Mz + M0 (1 - E1), whose fixed point
    times sin(a) is the signal. The maximum over a is at the Ernst angle
    (:func:`ernst_angle_deg`).

    References
    ----------
    R. R. Ernst and W. A. Anderson, Application of Fourier transform spectroscopy to magnetic
    resonance, Rev. Sci. Instrum. 37, 93-102 (1966).
    """
    tr = _times(tr_ms, "tr_ms")
    alpha = np.deg2rad(as_array(flip_deg, "flip_deg"))
    t1 = _relaxation_times(t1_ms, "t1_ms")
    te = _times(te_ms, "te_ms")
    t2s = _relaxation_times(t2star_ms, "t2star_ms")
    rho = as_array(pd, "pd")
    if np.any(rho < 0):
        raise ValueError("pd must be >= 0")
    tr, alpha, t1, te, t2s, rho = _broadcast(tr_ms=tr, flip_deg=alpha, t1_ms=t1, te_ms=te,
                                             t2star_ms=t2s, pd=rho)
    _check_te_tr(te, tr, "the spoiled gradient-echo steady state")
    e1 = np.exp(-tr / t1)
    return _result(rho * np.sin(alpha) * (1 - e1) / (1 - np.cos(alpha) * e1)
                   * np.exp(-te / t2s))


def ernst_angle_deg(tr_ms, t1_ms):
    """The flip angle that maximises the spoiled gradient-echo signal: arccos(exp(-TR/T1)).

    Parameters
    ----------
    tr_ms : float or array_like
        Repetition time in ms (>= 0).
    t1_ms : float or array_like
        T1 in ms (> 0).

    Returns
    -------
    float or numpy.ndarray
        The Ernst angle in degrees (0 when TR = 0, 90 when TR >> T1).

    Raises
    ------
    ValueError
        On a negative TR, T1 <= 0 or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.ernst-angle` -- :math:`\\cos\\alpha_E = e^{-TR/T_1}`, from
    :math:`dS/d\\alpha = 0` in ``mri.spoiled-gre``.
    """
    tr = _times(tr_ms, "tr_ms")
    t1 = _relaxation_times(t1_ms, "t1_ms")
    tr, t1 = _broadcast(tr_ms=tr, t1_ms=t1)
    return _result(np.rad2deg(np.arccos(np.exp(-tr / t1))))


# ---------------------------------------------------------------------------------------------
# Tissue parameters and images synthesised from tissue maps
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tissue:
    """Relaxation times (ms) and relative proton density of a tissue at one field strength."""

    name: str
    t1_ms: float
    t2_ms: float
    pd: float
    source: str


_ERNST_PD = "PD: water content, Ernst et al. 1993"
#: Literature relaxation times at 1.5 T and 3 T (keys: field in tesla). See the docstring of
#: :func:`tissue_parameters` for the sources and their caveats.
TISSUES: dict[float, dict[str, Tissue]] = {
    1.5: {
        "wm": Tissue("white matter", 884.0, 72.0, 0.65,
                     f"Stanisz et al. 2005 (in vitro, 37 degC); {_ERNST_PD}"),
        "gm": Tissue("grey matter", 1124.0, 95.0, 0.78,
                     f"Stanisz et al. 2005 (in vitro, 37 degC); {_ERNST_PD}"),
        "csf": Tissue("cerebrospinal fluid", 4300.0, 2000.0, 0.97,
                      "T1: Rooney et al. 2007 (field-independent); T2: about 2 s as at 3 T "
                      f"(Spijkerman et al. 2018); {_ERNST_PD}"),
        "fat": Tissue("fat (subcutaneous)", 343.0, 58.0, 0.90,
                      "de Bazelaire et al. 2004 (in vivo); PD 0.9 is a course assumption"),
    },
    3.0: {
        "wm": Tissue("white matter", 1084.0, 69.0, 0.65,
                     f"Stanisz et al. 2005 (in vitro, 37 degC); {_ERNST_PD}"),
        "gm": Tissue("grey matter", 1820.0, 99.0, 0.78,
                     f"Stanisz et al. 2005 (in vitro, 37 degC); {_ERNST_PD}"),
        "csf": Tissue("cerebrospinal fluid", 4300.0, 2000.0, 0.97,
                      "T1: Rooney et al. 2007; T2: Spijkerman et al. 2018 (about 2 s); "
                      f"{_ERNST_PD}"),
        "fat": Tissue("fat (subcutaneous)", 382.0, 68.0, 0.90,
                      "de Bazelaire et al. 2004 (in vivo); PD 0.9 is a course assumption"),
    },
}


def tissue_parameters(b0_t: float = 3.0) -> dict[str, Tissue]:
    """Relaxation times and proton densities of white matter, grey matter, CSF and fat.

    Parameters
    ----------
    b0_t : float, optional
        Field strength in tesla: 1.5 or 3.0 (default).

    Returns
    -------
    dict
        ``{"wm", "gm", "csf", "fat"}`` -> :class:`Tissue` (a copy of :data:`TISSUES`' entry).

    Raises
    ------
    ValueError
        For a field strength without tabulated values.

    Notes
    -----
    Values, field strengths and caveats (T1 and T2 depend on the measurement method, by 20 %
    and more between studies; Stanisz's brain samples are bovine tissue in vitro):

    ======  ========================  ========================  ===============================
    tissue  1.5 T: T1 / T2 (ms)       3 T: T1 / T2 (ms)         source
    ======  ========================  ========================  ===============================
    WM      884 / 72                  1084 / 69                 Stanisz et al. 2005, Table 1
    GM      1124 / 95                 1820 / 99                 Stanisz et al. 2005, Table 1
    CSF     4300 / 2000               4300 / 2000               Rooney 2007; Spijkerman 2018
    fat     343 / 58                  382 / 68                  de Bazelaire et al. 2004
    ======  ========================  ========================  ===============================

    CSF T2 was measured at 3 T (about 2 s); the 1.5 T entry reuses it (CSF T2 shortens with
    field, so at 1.5 T it is if anything longer). Proton densities are the water contents of
    Ernst et al. (WM 0.65, GM 0.78, CSF 0.97); fat's 0.9 is an assumption of the course.

    References
    ----------
    G. J. Stanisz et al., T1, T2 relaxation and magnetization transfer in tissue at 3T,
    Magn. Reson. Med. 54, 507-512 (2005).
    W. D. Rooney et al., Magnetic field and tissue dependencies of human brain longitudinal 1H2O
    relaxation in vivo, Magn. Reson. Med. 57, 308-318 (2007).
    J. M. Spijkerman et al., T2 mapping of cerebrospinal fluid: 3 T versus 7 T, MAGMA 31,
    415-424 (2018).
    C. M. J. de Bazelaire et al., MR imaging relaxation times of abdominal and pelvic tissues
    measured in vivo at 3.0 T: preliminary results, Radiology 230, 652-659 (2004).
    T. Ernst, R. Kreis, B. D. Ross, Absolute quantitation of water and metabolites in the human
    brain. I. Compartments and water, J. Magn. Reson. B 102, 1-8 (1993).
    """
    b0 = as_scalar(b0_t, "b0_t")
    for field, table in TISSUES.items():
        if abs(b0 - field) < 1e-9:
            return dict(table)
    raise ValueError(f"b0_t must be one of {sorted(TISSUES)} tesla, got {b0}")


def tissue_fractions(gm, wm, brain_mask, *, skull_voxels: int = 4,
                     fat_voxels: int = 4) -> dict[str, np.ndarray]:
    """Fractions of WM, GM, CSF and fat per voxel, from GM/WM probability maps and a brain mask.

    Parameters
    ----------
    gm, wm : array_like
        Grey- and white-matter probabilities in [0, 1] (2D slice or 3D volume, same shape).
    brain_mask : array_like of bool
        The intracranial region (for the skull-stripped MNI template: where the T1 template is
        non-zero). Holes are filled.
    skull_voxels : int, optional
        Thickness of a signal-free shell (skull) added around the mask, in voxels (default 4).
    fat_voxels : int, optional
        Thickness of a synthetic scalp-fat shell outside the skull, in voxels (default 4; 0 for
        none).

    Returns
    -------
    dict
        ``"wm"``, ``"gm"``, ``"csf"``, ``"fat"``: float64 arrays in [0, 1] whose sum is <= 1.

    Raises
    ------
    ValueError
        If the shapes differ, probabilities lie outside [0, 1], or thicknesses are negative.

    Notes
    -----
    The recipe (a course choice, documented in ``relaxation.ipynb``):

    * GM and WM are the given probabilities (rescaled where their sum exceeds 1);
    * CSF = brain mask - GM - WM, clipped to [0, 1]: ventricles, sulci and the subarachnoid
      space of the template;
    * the template is skull-stripped, so it holds no scalp at all. A skull shell (no signal) and
      a scalp-fat shell (fat fraction 1) are *synthesised* at Euclidean distances
      (0, skull] and (skull, skull + fat] voxels from the mask; they are geometric stand-ins,
      not anatomy;
    * everything else (air) is empty and gives no signal.
    """
    g = as_array(gm, "gm")
    w = as_array(wm, "wm")
    mask = as_array(brain_mask, "brain_mask", dtype=bool)
    if g.shape != w.shape or g.shape != mask.shape:
        raise ValueError(f"gm, wm and brain_mask must have the same shape, got {g.shape}, "
                         f"{w.shape} and {mask.shape}")
    for name, arr in (("gm", g), ("wm", w)):
        if np.any(arr < 0) or np.any(arr > 1):
            raise ValueError(f"{name} must hold probabilities in [0, 1]")
    skull = as_int(skull_voxels, "skull_voxels", low=0)
    fat_n = as_int(fat_voxels, "fat_voxels", low=0)
    inside = ndimage.binary_fill_holes(mask)
    total = g + w
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)   # keep GM + WM <= 1
    g_out, w_out = g * scale, w * scale
    csf = np.where(inside, np.clip(1.0 - g_out - w_out, 0.0, 1.0), 0.0)
    fat = np.zeros(g.shape)
    if fat_n and np.any(inside):
        distance = ndimage.distance_transform_edt(~inside)
        fat[(distance > skull) & (distance <= skull + fat_n)] = 1.0
        fat[(g_out + w_out) > 0] = 0.0                 # never on top of brain tissue
    return {"wm": w_out, "gm": g_out, "csf": csf, "fat": fat}


def spin_echo_image(fractions: Mapping[str, np.ndarray], tissues: Mapping[str, Tissue],
                    tr_ms: float, te_ms: float, *, exact: bool = False) -> np.ndarray:
    """Spin-echo image of a voxel mixture: S = sum over tissues of fraction x signal.

    Parameters
    ----------
    fractions : mapping of str to array_like
        Volume fraction of each tissue per voxel (all the same shape).
    tissues : mapping of str to Tissue
        Parameters for every key of ``fractions`` (e.g. :func:`tissue_parameters`).
    tr_ms, te_ms : float
        Repetition and echo time (ms, TE <= TR).
    exact : bool, optional
        Use :func:`spin_echo_signal_exact` instead of :func:`spin_echo_signal`.

    Returns
    -------
    numpy.ndarray
        The noise-free image, in units of a voxel of pure water's PD = 1.

    Raises
    ------
    ValueError
        If a tissue is missing, shapes differ, fractions are outside [0, 1], or TE > TR.

    Notes
    -----
    Partial-volume model: each voxel's magnetisation is the sum of its tissues'
    (``mri.spin-echo-signal`` per tissue, weighted by volume fraction).
    """
    if not isinstance(fractions, Mapping) or not fractions:
        raise TypeError("fractions must be a non-empty mapping of tissue name to array")
    if not isinstance(tissues, Mapping):
        raise TypeError("tissues must be a mapping of tissue name to Tissue")
    signal_fn = spin_echo_signal_exact if exact else spin_echo_signal
    out, shape = None, None
    for name, f in fractions.items():
        if name not in tissues:
            raise ValueError(f"tissues has no entry for fraction map {name!r}")
        arr = as_array(f, f"fractions[{name!r}]")
        if np.any(arr < 0) or np.any(arr > 1):
            raise ValueError(f"fractions[{name!r}] must lie in [0, 1]")
        if shape is None:
            shape = arr.shape
        elif arr.shape != shape:
            raise ValueError(f"fraction maps must have the same shape, got {shape} and "
                             f"{arr.shape} ({name!r})")
        t = tissues[name]
        s = signal_fn(tr_ms, te_ms, t.t1_ms, t.t2_ms, pd=t.pd)
        out = arr * s if out is None else out + arr * s
    return out


# ---------------------------------------------------------------------------------------------
# k-space
# ---------------------------------------------------------------------------------------------

def _spacing(spacing_mm, ndim: int) -> np.ndarray:
    sp = as_array(spacing_mm, "spacing_mm", ndim=(0, 1))
    if sp.ndim == 0:
        sp = np.full(ndim, float(sp))
    if sp.size != ndim:
        raise ValueError(f"spacing_mm must be a scalar or have {ndim} values, got {sp.size}")
    if np.any(sp <= 0):
        raise ValueError("spacing_mm must be > 0")
    return sp


def image_coordinates(n: int, spacing_mm: float = 1.0) -> np.ndarray:
    """Positions of the pixels along one axis, centred: x = (i - n // 2) dx, in mm.

    Parameters
    ----------
    n : int
        Number of pixels (>= 1).
    spacing_mm : float, optional
        Pixel spacing dx in mm (> 0).

    Returns
    -------
    numpy.ndarray, shape (n,)
        x = 0 at index n // 2 (the convention of :func:`kspace_forward`).

    Raises
    ------
    ValueError
        If ``n`` < 1 or the spacing is not positive.
    """
    k = as_int(n, "n", low=1)
    dx = as_scalar(spacing_mm, "spacing_mm", low=0.0, low_inclusive=False)
    return (np.arange(k) - k // 2) * dx


def kspace_coordinates(n: int, spacing_mm: float = 1.0) -> np.ndarray:
    """Spatial frequencies of the centred k-space samples along one axis, in cycles/mm.

    Parameters
    ----------
    n : int
        Number of samples (>= 1).
    spacing_mm : float, optional
        Pixel spacing dx of the image in mm (> 0).

    Returns
    -------
    numpy.ndarray, shape (n,)
        k = (m - n // 2) dk with dk = 1 / (n dx) = 1 / FOV; equals
        ``np.fft.fftshift(np.fft.fftfreq(n, dx))``. The extreme |k| is 1 / (2 dx) (Nyquist).

    Raises
    ------
    ValueError
        If ``n`` < 1 or the spacing is not positive.

    Notes
    -----
    :formula:`mri.fov-aliasing` -- :math:`\\Delta k = 1/\\mathrm{FOV}`: the field of view is set
    by the k-space *step*, the resolution by the k-space *extent*.
    """
    k = as_int(n, "n", low=1)
    dx = as_scalar(spacing_mm, "spacing_mm", low=0.0, low_inclusive=False)
    return (np.arange(k) - k // 2) / (k * dx)


def kspace_forward(image, spacing_mm=1.0) -> np.ndarray:
    """Fourier-encode an image: the discrete form of the MR signal equation, centred.

    Parameters
    ----------
    image : array_like
        The object rho (real or complex; 1D, 2D or 3D), with x = 0 at index N // 2 per axis.
    spacing_mm : float or sequence of float, optional
        Pixel spacing per axis in mm (default 1).

    Returns
    -------
    numpy.ndarray, complex128
        S at the k of :func:`kspace_coordinates` (k = 0 at index N // 2), in units of
        rho x mm^d.

    Raises
    ------
    ValueError
        If the image is empty or not finite, or the spacing is wrong.

    Notes
    -----
    :formula:`mri.signal-equation` -- the integral
    :math:`S(k_x,k_y)=\\iint\\rho(x,y)e^{-j2\\pi(k_xx+k_yy)}dx\\,dy` as a Riemann sum on the
    pixel grid, which is exact for band-limited objects sampled finely enough.
    :formula:`mri.kspace-discrete` --
    :math:`S[m,n] = \\Delta x\\Delta y\\sum_{p,q}\\rho[p,q]e^{-j2\\pi(mp/N_x + nq/N_y)}` with
    centred indices; the ``ifftshift`` before the FFT puts x = 0 at index 0 where the FFT
    expects it, the ``fftshift`` after it puts k = 0 at the centre.
    """
    rho = as_array(image, "image", dtype=np.complex128)
    if rho.ndim == 0:
        raise ValueError("image must have at least one dimension")
    dx = _spacing(spacing_mm, rho.ndim)
    axes = tuple(range(rho.ndim))
    return np.prod(dx) * np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(rho, axes), axes=axes),
                                         axes)


def kspace_inverse(kspace, spacing_mm=1.0) -> np.ndarray:
    """Reconstruct the image from centred k-space: the inverse of :func:`kspace_forward`.

    Parameters
    ----------
    kspace : array_like
        Centred k-space samples S (k = 0 at index N // 2 per axis).
    spacing_mm : float or sequence of float, optional
        Pixel spacing of the reconstructed image in mm (default 1); dk = 1 / (N dx).

    Returns
    -------
    numpy.ndarray, complex128
        rho with x = 0 at index N // 2; take ``np.abs`` for a magnitude image.

    Raises
    ------
    ValueError
        If the array is empty or not finite, or the spacing is wrong.

    Notes
    -----
    :formula:`mri.inverse-fourier` -- the continuous inverse
    :math:`\\rho=\\iint S\\,e^{+j2\\pi(k_xx+k_yy)}dk_x dk_y` as a sum with weight
    :math:`\\Delta k_x\\Delta k_y = 1/(N_x\\Delta x N_y\\Delta y)`.
    :formula:`mri.ifft-recon` -- :math:`\\rho = \\mathcal F^{-1}\\{S\\}`: ``numpy.fft.ifftn``
    already divides by :math:`N_xN_y`, so only the pixel area remains; with the shifts the
    round trip ``kspace_inverse(kspace_forward(x)) == x`` holds to rounding error.
    """
    s = as_array(kspace, "kspace", dtype=np.complex128)
    if s.ndim == 0:
        raise ValueError("kspace must have at least one dimension")
    dx = _spacing(spacing_mm, s.ndim)
    axes = tuple(range(s.ndim))
    return np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(s, axes), axes=axes), axes) / np.prod(dx)


def _line_axis(shape, axis) -> tuple[tuple[int, ...], int]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shp = tuple(as_int(s, "shape", low=1) for s in shape)
    if not shp:
        raise ValueError("shape must have at least one dimension")
    ax = as_int(axis, "axis", low=-len(shp), high=len(shp) - 1) % len(shp)
    return shp, ax


def _lines_to_mask(keep: np.ndarray, shape, axis: int) -> np.ndarray:
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return np.broadcast_to(keep.reshape(view), shape).copy()


def regular_mask(shape, acceleration: int, *, axis: int = 0, center_lines: int = 0,
                 offset: int = 0) -> np.ndarray:
    """Keep every R-th phase-encoding line (plus an optional fully sampled centre).

    Parameters
    ----------
    shape : tuple of int
        Shape of the centred k-space.
    acceleration : int
        R >= 1: the fraction 1/R of the lines is kept outside the centre.
    axis : int, optional
        The phase-encoding axis (default 0, the rows).
    center_lines : int, optional
        Number of central lines always kept (autocalibration region), default 0.
    offset : int, optional
        Keep lines with (m - N // 2 - offset) divisible by R (default 0: the k = 0 line is kept).

    Returns
    -------
    numpy.ndarray of bool
        The sampling mask, ``shape``.

    Raises
    ------
    ValueError
        On a non-positive acceleration, too many centre lines or a bad axis.

    Notes
    -----
    Supports ``mri.fov-aliasing``: keeping every R-th line multiplies dk by R and divides the
    field of view by R; the zero-filled reconstruction is the average of R copies of the object
    shifted by multiples of N/R along ``axis`` (with phases when ``offset`` is not 0).
    """
    shp, ax = _line_axis(shape, axis)
    r = as_int(acceleration, "acceleration", low=1)
    n = shp[ax]
    c = as_int(center_lines, "center_lines", low=0, high=n)
    off = as_int(offset, "offset")
    m = np.arange(n) - n // 2
    keep = (m - off) % r == 0
    keep[n // 2 - c // 2: n // 2 - c // 2 + c] = True
    return _lines_to_mask(keep, shp, ax)


def random_mask(shape, acceleration: float, rng, *, axis: int = 0,
                center_lines: int = 0) -> np.ndarray:
    """Keep a random subset of phase-encoding lines plus a fully sampled centre.

    Parameters
    ----------
    shape : tuple of int
        Shape of the centred k-space.
    acceleration : float
        R >= 1: about N / R lines are kept in total.
    rng : numpy.random.Generator or int
        Source of randomness.
    axis : int, optional
        The phase-encoding axis (default 0).
    center_lines : int, optional
        Central lines always kept (counted in the N / R).

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    ValueError
        If R < 1 or the centre alone exceeds N / R lines.

    Notes
    -----
    Incoherent sampling: aliasing spreads as noise-like artefacts instead of coherent ghosts
    (the starting point of compressed sensing).
    """
    shp, ax = _line_axis(shape, axis)
    r = as_scalar(acceleration, "acceleration", low=1.0)
    gen = as_rng(rng)
    n = shp[ax]
    total = int(round(n / r))
    c = as_int(center_lines, "center_lines", low=0, high=n)
    if c > total:
        raise ValueError(f"center_lines ({c}) exceeds the {total} lines that acceleration "
                         f"{r} keeps")
    keep = np.zeros(n, dtype=bool)
    keep[n // 2 - c // 2: n // 2 - c // 2 + c] = True
    rest = np.flatnonzero(~keep)
    keep[gen.choice(rest, size=total - c, replace=False)] = True
    return _lines_to_mask(keep, shp, ax)


def decimate_kspace(kspace, factor: int, *, axis: int = 0) -> np.ndarray:
    """Keep every R-th line of centred k-space, on the smaller grid the reduced data define.

    Parameters
    ----------
    kspace : array_like
        Centred k-space (k = 0 at index N // 2).
    factor : int
        R >= 1; N must be divisible by R along ``axis``.
    axis : int, optional
        The phase-encoding axis.

    Returns
    -------
    numpy.ndarray
        N / R lines with spacing R dk, centred again (k = 0 at index (N / R) // 2). Its
        reconstruction (same pixel spacing) covers FOV / R and shows the object folded: the sum
        of its copies shifted by multiples of FOV / R.

    Raises
    ------
    ValueError
        If N is not divisible by R.

    Notes
    -----
    ``mri.fov-aliasing`` on the reduced grid: :math:`\\mathrm{FOV}' = 1/(R\\Delta k)`.
    """
    s = as_array(kspace, "kspace", dtype=None)
    r = as_int(factor, "factor", low=1)
    ax = as_int(axis, "axis", low=-s.ndim, high=s.ndim - 1) % s.ndim
    n = s.shape[ax]
    if n % r:
        raise ValueError(f"kspace has {n} lines along axis {ax}, not divisible by factor {r}")
    n_new = n // r
    lines = n // 2 + r * (np.arange(n_new) - n_new // 2)
    return np.take(s, lines, axis=ax)


def _centred_slices(old, new):
    """Slices placing the centred sample (index n // 2) of one grid onto the other's."""
    src, dst = [], []
    for o, n in zip(old, new):
        m = min(o, n)
        so, sn = o // 2 - m // 2, n // 2 - m // 2
        src.append(slice(so, so + m))
        dst.append(slice(sn, sn + m))
    return tuple(src), tuple(dst)


def _shape_arg(shape, ndim: int) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),) * ndim
    shp = tuple(as_int(s, "shape", low=1) for s in shape)
    if len(shp) != ndim:
        raise ValueError(f"shape must have {ndim} entries, got {len(shp)}")
    return shp


def crop_kspace(kspace, shape) -> np.ndarray:
    """The central part of centred k-space: fewer samples, same dk (same FOV, coarser pixels).

    Parameters
    ----------
    kspace : array_like
        Centred k-space.
    shape : int or tuple of int
        The new shape (each <= the old one).

    Returns
    -------
    numpy.ndarray
        The central ``shape`` samples; k = 0 stays at index n // 2.

    Raises
    ------
    ValueError
        If the new shape is larger than the old one.
    """
    s = as_array(kspace, "kspace", dtype=None)
    shp = _shape_arg(shape, s.ndim)
    if any(n > o for n, o in zip(shp, s.shape)):
        raise ValueError(f"shape {shp} must not exceed the k-space shape {s.shape}")
    src, _ = _centred_slices(s.shape, shp)
    return s[src].copy()


def zero_fill(kspace, shape) -> np.ndarray:
    """Pad centred k-space with zeros to a larger matrix (interpolation in the image).

    Parameters
    ----------
    kspace : array_like
        Centred k-space.
    shape : int or tuple of int
        The new shape (each >= the old one).

    Returns
    -------
    numpy.ndarray
        ``shape``, the data at the centre (k = 0 at index n // 2), zeros outside. The
        reconstruction has smaller pixels (FOV / n) but no new information: it is a sinc
        interpolation of the original image.

    Raises
    ------
    ValueError
        If the new shape is smaller than the old one.
    """
    s = as_array(kspace, "kspace", dtype=None)
    shp = _shape_arg(shape, s.ndim)
    if any(n < o for n, o in zip(shp, s.shape)):
        raise ValueError(f"shape {shp} must not be smaller than the k-space shape {s.shape}")
    out = np.zeros(shp, dtype=np.result_type(s, np.complex128))
    src, dst = _centred_slices(s.shape, shp)
    out[dst] = s[src]
    return out


def truncate_kspace(kspace, keep_shape) -> np.ndarray:
    """Zero all but the central ``keep_shape`` samples (same matrix size): truncation.

    Parameters
    ----------
    kspace : array_like
        Centred k-space.
    keep_shape : int or tuple of int
        Size of the central region that is kept.

    Returns
    -------
    numpy.ndarray
        Same shape as ``kspace``; equals ``zero_fill(crop_kspace(kspace, keep), kspace.shape)``.
        Its reconstruction rings at edges (Gibbs phenomenon).

    Raises
    ------
    ValueError
        If ``keep_shape`` exceeds the k-space shape.
    """
    s = as_array(kspace, "kspace", dtype=None)
    return zero_fill(crop_kspace(s, keep_shape), s.shape)


def partial_fourier_mask(shape, fraction: float, *, axis: int = 0) -> np.ndarray:
    """Acquire only the first part of the phase-encoding lines, past the centre.

    Parameters
    ----------
    shape : tuple of int
        Shape of the centred k-space.
    fraction : float
        Fraction of the lines acquired, in [0.5, 1] (e.g. 5/8); lines from the first (most
        negative k) up to ``ceil(fraction N)`` are kept.
    axis : int, optional
        The phase-encoding axis.

    Returns
    -------
    numpy.ndarray of bool

    Raises
    ------
    ValueError
        If ``fraction`` is outside [0.5, 1].
    """
    shp, ax = _line_axis(shape, axis)
    f = as_scalar(fraction, "fraction", low=0.5, high=1.0)
    n = shp[ax]
    keep = np.arange(n) < int(np.ceil(f * n))
    return _lines_to_mask(keep, shp, ax)


def hermitian_fill(kspace, mask) -> np.ndarray:
    """Fill unacquired k-space samples from their conjugate-symmetric partners.

    Parameters
    ----------
    kspace : array_like
        Centred k-space (complex), zero or arbitrary where not acquired.
    mask : array_like of bool
        True where a sample was acquired (same shape as ``kspace``).

    Returns
    -------
    numpy.ndarray, complex128
        A copy where every missing sample whose partner at -k was acquired is set to
        ``conj(S(-k))``. Samples with no acquired partner stay as they were.

    Raises
    ------
    ValueError
        If shapes differ.

    Notes
    -----
    :formula:`mri.hermitian-symmetry` -- for a *real* object
    :math:`S(-\\mathbf k) = S^*(\\mathbf k)`, so a little over half of k-space determines all of
    it. On the centred grid the partner of index m is ``(2 (N // 2) - m) mod N`` along every
    axis (for even N the most negative line is its own partner). Real MR images carry a phase
    (field inhomogeneity, coil sensitivity), which breaks the symmetry: homodyne or POCS
    reconstructions first estimate that phase from the symmetric centre.
    """
    s = as_array(kspace, "kspace", dtype=np.complex128)
    mk = as_array(mask, "mask", dtype=bool)
    if mk.shape != s.shape:
        raise ValueError(f"mask must have the k-space shape {s.shape}, got {mk.shape}")
    partner_s, partner_m = s, mk
    for ax, n in enumerate(s.shape):
        idx = (2 * (n // 2) - np.arange(n)) % n
        partner_s = np.take(partner_s, idx, axis=ax)
        partner_m = np.take(partner_m, idx, axis=ax)
    fill = ~mk & partner_m
    out = s.copy()
    out[fill] = np.conj(partner_s[fill])
    return out
