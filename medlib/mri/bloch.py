"""Larmor precession and the Bloch simulator, with the closed forms it is checked against.

Taught in ``chapters/mri/bloch.ipynb`` (section 4.1 of the key formulas): gyromagnetic ratios
and the Larmor frequency; :func:`bloch_simulate`, which applies *exact* rotation and relaxation
operators event by event to many isochromats at once; the closed forms it is checked against
(inversion recovery, the spoiled gradient-echo steady state and the Ernst angle).

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
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._validate import as_array, as_bool, as_choice, as_scalar, as_size
from ._common import _broadcast, _check_te_tr, _relaxation_times, _result, _times

__all__ = [
    "GAMMA_BAR_MHZ_PER_T",
    "BlochResult",
    "Free",
    "Pulse",
    "Readout",
    "Spoil",
    "bloch_simulate",
    "ernst_angle_deg",
    "free",
    "free_precession",
    "inversion_null_time",
    "inversion_recovery",
    "larmor_frequency_mhz",
    "lorentzian_off_resonance",
    "pulse",
    "readout",
    "rf_rotation",
    "spoil",
    "spoiled_gre_signal",
]


# ---------------------------------------------------------------------------------------------
# Gyromagnetic ratios and the Larmor frequency
# ---------------------------------------------------------------------------------------------

#: gamma / (2 pi) in MHz/T, as observed in the standard reference samples. 1H: the shielded
#: proton in a spherical water sample at 25 degC, gamma'_p / 2 pi = 42.576 385 43 MHz/T of
#: CODATA 2022 (Mohr et al. 2025, the edition in scipy.constants; CODATA 2018 gave
#: 42.576 384 74, the unshielded proton 42.577 478 461). The others: IUPAC frequency ratios Xi
#: (Harris et al. 2001; 13C in TMS 25.145020 %, 23Na in NaCl/D2O 26.451900 %, 31P in 85 % H3PO4
#: 40.480742 %) times the 1H value.
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
    P. J. Mohr, D. B. Newell, B. N. Taylor, E. Tiesinga, CODATA recommended values of the
    fundamental physical constants: 2022, Rev. Mod. Phys. 97, 025002 (2025) (the shielded
    proton gyromagnetic ratio; the edition in scipy.constants).
    R. K. Harris et al., NMR nomenclature. Nuclear spin properties and conventions for chemical
    shifts (IUPAC Recommendations 2001), Pure Appl. Chem. 73, 1795-1818 (2001).
    """
    nuc = as_choice(nucleus, "nucleus", tuple(GAMMA_BAR_MHZ_PER_T))
    b0 = as_array(b0_t, "b0_t", low=0)
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
        Magnetisation (Mx, My, Mz) before the step. Required: unlike ``bloch_simulate``'s
        optional ``m_init``, ``None`` is refused (a step from equilibrium is written
        ``m=[0, 0, m0]``; a None here is usually a value some earlier code forgot to return).
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
    TypeError
        If ``m`` is None or not numeric.
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
    if m is None:
        raise TypeError("m must be a magnetisation of shape (3,) or (3, n), got None (for a "
                        "step from equilibrium pass m=[0, 0, m0])")
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
    mm0 = as_array(m0, "m0", low=0)
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
        If ``average`` is not True or False (a string such as 'False' is refused).
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
    average = as_bool(average, "average")
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
    k = as_size(n, "n")
    t2p = as_scalar(t2_prime_ms, "t2_prime_ms", low=0.0, low_inclusive=False)
    w = 1.0 / (2 * np.pi * t2p * 1e-3)
    u = (np.arange(k) + 0.5) / k
    return w * np.tan(np.pi * (u - 0.5))


# ---------------------------------------------------------------------------------------------
# Closed forms the simulator is checked against
# ---------------------------------------------------------------------------------------------

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
    m0a = as_array(m0, "m0", low=0)
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
        The null time in ms. For T1 = infinity (allowed: no relaxation) it is the formula's
        limit TR / 2 (infinite for the default infinite TR).

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
    # T1 ln(2 / (1 + E)) = -T1 log1p((E - 1) / 2): no cancellation when TR << T1.
    with np.errstate(invalid="ignore"):
        ti = -t1 * np.log1p(np.expm1(-tr / t1) / 2)
    return _result(np.where(np.isinf(t1), tr / 2, ti))      # the limit T1 -> inf is TR / 2


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
        S = PD sin(a) (1 - E1) / (1 - cos(a) E1) exp(-TE/T2*), E1 = exp(-TR/T1); 0 where the
        fraction is 0/0 (E1 = 1 and cos(a) = 1: no recovery and no tipping), its limit.

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
    rho = as_array(pd, "pd", low=0)
    tr, alpha, t1, te, t2s, rho = _broadcast(tr_ms=tr, flip_deg=alpha, t1_ms=t1, te_ms=te,
                                             t2star_ms=t2s, pd=rho)
    _check_te_tr(te, tr, "the spoiled gradient-echo steady state")
    e1 = np.exp(-tr / t1)
    one_minus_e1 = -np.expm1(-tr / t1)
    # 1 - cos(a) E1 written as (1 - E1) + 2 sin^2(a/2) E1: a sum of non-negative terms that is 0
    # only when the numerator's (1 - E1) is 0 too (TR = 0 or T1 = inf with a = 0 mod 360).
    denominator = one_minus_e1 + 2 * np.sin(alpha / 2) ** 2 * e1
    fraction = np.divide(one_minus_e1, denominator, out=np.zeros_like(denominator),
                         where=denominator > 0)
    return _result(rho * np.sin(alpha) * fraction * np.exp(-te / t2s))


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
