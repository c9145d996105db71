"""Relaxation and contrast: T1 recovery, T2 decay, the spin-echo signal equation, tissue
parameters at 1.5 T and 3 T, and images synthesised from tissue maps of a real brain.

Taught in ``chapters/mri/relaxation.ipynb`` (section 4.2 of the key formulas). Times are in
milliseconds (``t1_ms``, ``te_ms``), fields in tesla (``b0_t``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .._validate import as_array, as_bool, as_int, as_mask, as_scalar
from ._common import _broadcast, _check_te_tr, _relaxation_times, _result, _times

__all__ = [
    "TISSUES",
    "Tissue",
    "spin_echo_image",
    "spin_echo_signal",
    "spin_echo_signal_exact",
    "t1_recovery",
    "t2_decay",
    "tissue_fractions",
    "tissue_parameters",
]


# ---------------------------------------------------------------------------------------------
# Closed forms: relaxation and the spin-echo signal equation
# ---------------------------------------------------------------------------------------------

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
    m0a = as_array(m0, "m0", low=0)
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
    a = as_array(mxy0, "mxy0", low=0)
    t, t2, a = _broadcast(t_ms=t, t2_ms=t2, mxy0=a)
    return _result(a * np.exp(-t / t2))


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
    rho = as_array(pd, "pd", low=0)
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
    rho = as_array(pd, "pd", low=0)
    tr, te, t1, t2, rho = _broadcast(tr_ms=tr, te_ms=te, t1_ms=t1, t2_ms=t2, pd=rho)
    _check_te_tr(te, tr, "the spin-echo signal equation")
    mz = 1 - 2 * np.exp(-(tr - te / 2) / t1) + np.exp(-tr / t1)
    return _result(rho * mz * np.exp(-te / t2))


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
_WM_GM_T1 = "T1: Wright et al. 2008 (in vivo, MPRAGE)"
_WM_GM_T2 = "T2: Stanisz et al. 2005 (in vitro, bovine, 37 degC)"
#: Literature relaxation times at 1.5 T and 3 T (keys: field in tesla). See the docstring of
#: :func:`tissue_parameters` for the sources, which values are in vivo, and their caveats.
TISSUES: dict[float, dict[str, Tissue]] = {
    1.5: {
        "wm": Tissue("white matter", 646.0, 72.0, 0.65,
                     f"{_WM_GM_T1}; {_WM_GM_T2}; {_ERNST_PD}"),
        "gm": Tissue("grey matter", 1197.0, 95.0, 0.78,
                     f"{_WM_GM_T1}; {_WM_GM_T2}; {_ERNST_PD}"),
        "csf": Tissue("cerebrospinal fluid", 4300.0, 2000.0, 0.97,
                      "T1: Rooney et al. 2007 (in vivo, field-independent); T2: about 2 s as at "
                      f"3 T (Spijkerman et al. 2018, in vivo); {_ERNST_PD}"),
        "fat": Tissue("fat (subcutaneous)", 343.0, 58.0, 0.90,
                      "de Bazelaire et al. 2004 (in vivo); PD 0.9 is a course assumption"),
    },
    3.0: {
        "wm": Tissue("white matter", 838.0, 69.0, 0.65,
                     f"{_WM_GM_T1}; {_WM_GM_T2}; {_ERNST_PD}"),
        "gm": Tissue("grey matter", 1607.0, 99.0, 0.78,
                     f"{_WM_GM_T1}; {_WM_GM_T2}; {_ERNST_PD}"),
        "csf": Tissue("cerebrospinal fluid", 4300.0, 2000.0, 0.97,
                      "T1: Rooney et al. 2007 (in vivo); T2: Spijkerman et al. 2018 (in vivo, "
                      f"about 2 s); {_ERNST_PD}"),
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
    Values, field strengths and sources. Every T1 is an in-vivo value; the white- and
    grey-matter T2 are in vitro:

    ======  ==================  ==================  =============================================
    tissue  1.5 T: T1 / T2 ms   3 T: T1 / T2 ms     source
    ======  ==================  ==================  =============================================
    WM      646 / 72            838 / 69            T1 Wright 2008 (in vivo); T2 Stanisz 2005
    GM      1197 / 95           1607 / 99           T1 Wright 2008 (in vivo); T2 Stanisz 2005
    CSF     4300 / 2000         4300 / 2000         Rooney 2007; Spijkerman 2018 (in vivo)
    fat     343 / 58            382 / 68            de Bazelaire et al. 2004 (in vivo)
    ======  ==================  ==================  =============================================

    White- and grey-matter T1 are the in-vivo MPRAGE values of Wright et al. (four subjects,
    white matter and cortical grey matter, the same method at both fields: 646 +- 32 and
    1197 +- 134 ms at 1.5 T, 838 +- 50 and 1607 +- 112 ms at 3 T). Their T2 are Stanisz et al.'s
    in-vitro values (bovine tissue at 37 degC), kept because T2 barely changes with the field
    and in-vivo T2 keeps the same order (grey matter longer than white matter). Stanisz's
    in-vitro T1 (WM 884 and GM 1124 ms at 1.5 T, 1084 and 1820 ms at 3 T) are *not* used: with
    them a T1-weighted spin echo at 1.5 T shows grey matter brighter than white matter, the
    opposite of every clinical image. With the values above the clinical orderings hold at both
    fields: T1-weighted WM > GM > CSF, T2-weighted CSF > GM > WM, PD-weighted GM > WM.

    T1 and T2 depend on the measurement method (by 20 % and more between studies; at 3 T
    Wansapura et al. measured 832 and 1331 ms in vivo), on age and on the region. CSF T2 was
    measured at 3 T (about 2 s); the 1.5 T entry reuses it (CSF T2 shortens with field, so at
    1.5 T it is if anything longer). Proton densities are the water contents of Ernst et al.
    (WM 0.65, GM 0.78, CSF 0.97); fat's 0.9 is an assumption of the course.

    References
    ----------
    P. J. Wright et al., Water proton T1 measurements in brain tissue at 7, 3, and 1.5 T using
    IR-EPI, IR-TSE, and MPRAGE: results and optimization, MAGMA 21, 121-130 (2008).
    G. J. Stanisz et al., T1, T2 relaxation and magnetization transfer in tissue at 3T,
    Magn. Reson. Med. 54, 507-512 (2005).
    J. P. Wansapura et al., NMR relaxation times in the human brain at 3.0 tesla,
    J. Magn. Reson. Imaging 9, 531-538 (1999).
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
        If the shapes differ, probabilities lie outside [0, 1], thicknesses are negative, or
        ``brain_mask`` holds NaN or a value other than 0 and 1.

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
    mask = as_mask(brain_mask, "brain_mask")
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
        Repetition and echo time (ms, TE <= TR): one number each (True and False are refused;
        for a series of TRs or TEs, call once per value).
    exact : bool, optional
        Use :func:`spin_echo_signal_exact` instead of :func:`spin_echo_signal`.

    Returns
    -------
    numpy.ndarray
        The noise-free image, in units of a voxel of pure water's PD = 1.

    Raises
    ------
    TypeError
        If ``exact`` is not True or False (a string such as 'False' is refused), or ``tr_ms``
        or ``te_ms`` is not a real number.
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
    signal_fn = spin_echo_signal_exact if as_bool(exact, "exact") else spin_echo_signal
    tr_ms = as_scalar(tr_ms, "tr_ms", low=0.0)      # one image: one TR and one TE
    te_ms = as_scalar(te_ms, "te_ms", low=0.0)
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
