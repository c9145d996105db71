"""Pulse sequences: spin echo versus gradient echo in an inhomogeneous field, inversion recovery
images (FLAIR, STIR), fast spin echo, echo-planar imaging and its artefacts, balanced SSFP.

Taught in ``chapters/mri/sequences.ipynb`` (section 4.6). It builds on the Bloch simulator and
closed forms of :mod:`medlib.mri.bloch` (checks), the signal equations and tissue maps of
:mod:`medlib.mri.relaxation` and the centred Fourier transforms of :mod:`medlib.mri.kspace`.

Conventions
-----------
As in :mod:`medlib.mri.bloch`: times in ms, off-resonance in Hz, flip angles in degrees; an
isochromat ``df`` Hz above the frame frequency turns ``Mx + i My`` by ``exp(-i 2 pi df t)``.
Images are ``(row, col) = (phase encode, readout)`` for EPI and FSE, pixel index ``N // 2`` at
position 0 as in :func:`~medlib.mri.kspace_forward`. 3D grids are ``(z, y, x)`` with B0 along z.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._validate import as_array, as_bool, as_int, as_scalar, as_shape, as_spacing, check_size
from ._common import _broadcast, _relaxation_times, _result, _times
from .bloch import GAMMA_BAR_MHZ_PER_T, inversion_recovery
from .kspace import kspace_forward, kspace_inverse
from .relaxation import Tissue

__all__ = [
    "bssfp_signal",
    "epi_displacement_pixels",
    "epi_ghost_fraction",
    "epi_kspace",
    "epi_sample_times",
    "fse_echo_times",
    "fse_image",
    "fse_scan_time_s",
    "inversion_recovery_image",
    "sinc_dephasing",
    "sphere_field_map_hz",
    "t2_star",
    "voxel_dephasing",
]


# ---------------------------------------------------------------------------------------------
# Spin echo versus gradient echo: T2, T2' and T2*
# ---------------------------------------------------------------------------------------------

def t2_star(t2_ms, t2_prime_ms):
    """The apparent transverse decay time T2* of a gradient echo: 1/T2* = 1/T2 + 1/T2'.

    Parameters
    ----------
    t2_ms : float or array_like
        Irreversible (spin-spin) decay time T2 in ms (> 0; ``np.inf`` for none).
    t2_prime_ms : float or array_like
        Reversible decay time T2' in ms from field inhomogeneity within the voxel (> 0;
        ``np.inf`` for a perfectly homogeneous field).

    Returns
    -------
    float or numpy.ndarray
        T2* in ms (infinite only when both are).

    Raises
    ------
    ValueError
        On non-positive or NaN times, or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.t2-star` -- :math:`1/T_2^* = 1/T_2 + 1/T_2'`. Exact when the off-resonances
    within the voxel follow a Lorentzian of half-width :math:`1/(2\\pi T_2')` (the mean of
    :math:`e^{-i2\\pi\\Delta f t}` is then :math:`e^{-t/T_2'}`, see
    :func:`~medlib.mri.lorentzian_off_resonance`); for other distributions (a linear field
    across the voxel: :func:`sinc_dephasing`) the decay is not exponential and T2* is only a
    fit. A spin echo refocuses the T2' part and decays with T2.
    """
    t2 = _relaxation_times(t2_ms, "t2_ms")
    t2p = _relaxation_times(t2_prime_ms, "t2_prime_ms")
    t2, t2p = _broadcast(t2_ms=t2, t2_prime_ms=t2p)
    rate = 1.0 / t2 + 1.0 / t2p
    with np.errstate(divide="ignore"):
        return _result(1.0 / rate)


def sinc_dephasing(te_ms, spread_hz):
    """Gradient-echo signal factor of a voxel across which the field varies linearly.

    Parameters
    ----------
    te_ms : float or array_like
        Echo time in ms (>= 0).
    spread_hz : float or array_like
        Difference of off-resonance between the two faces of the voxel, in Hz (the field
        gradient times the voxel size, times gamma bar); its sign does not matter.

    Returns
    -------
    float or numpy.ndarray
        sinc(spread TE) = sin(pi spread TE) / (pi spread TE), in [-0.22, 1]: the mean of
        exp(-i 2 pi df t) over the voxel relative to that of its centre. Multiply the factors of
        the three axes for a gradient with components along several axes.

    Raises
    ------
    ValueError
        On a negative or non-finite TE, a non-finite spread, or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.gre-sinc` -- with :math:`\\Delta f(u) = \\bar f + \\delta\\,u` for
    :math:`u\\in[-1/2, 1/2]` across the voxel,
    :math:`\\int_{-1/2}^{1/2} e^{-i2\\pi(\\bar f + \\delta u)TE}\\,du =
    e^{-i2\\pi\\bar f TE}\\,\\mathrm{sinc}(\\delta\\,TE)`: the signal vanishes at
    :math:`TE = 1/\\delta` and rises again (not an exponential decay). A spin echo refocuses
    it completely.

    References
    ----------
    J. R. Reichenbach et al., Theory and application of static field inhomogeneity effects in
    gradient-echo imaging, J. Magn. Reson. Imaging 7, 266-279 (1997).
    """
    te = _times(te_ms, "te_ms")
    spread = as_array(spread_hz, "spread_hz")
    te, spread = _broadcast(te_ms=te, spread_hz=spread)
    return _result(np.sinc(spread * te * 1e-3))


def voxel_dephasing(off_resonance_hz, te_ms: float, factor):
    """Mean phase factor exp(-i 2 pi df TE) of the isochromats of each voxel (a block mean).

    Parameters
    ----------
    off_resonance_hz : array_like
        Off-resonance in Hz sampled on a grid ``factor`` times finer than the image along each
        axis (the isochromats: sub-voxel positions), shape ``(n0 f0, n1 f1, ...)``.
    te_ms : float
        Echo time of the gradient echo in ms (>= 0).
    factor : int or sequence of int
        Sub-samples per voxel along each axis (one int for all axes).

    Returns
    -------
    numpy.ndarray, complex128, shape (n0, n1, ...)
        The signal of each voxel relative to a homogeneous field: magnitude 1 means no
        intra-voxel dephasing; a spin echo at the same TE has factor 1 everywhere.

    Raises
    ------
    ValueError
        If the map is empty or not finite, TE is negative, or a factor does not divide the
        map's shape.
    TypeError
        If ``factor`` is not an integer or a sequence of integers.

    Notes
    -----
    Many isochromats per voxel: the discrete form of the integral of ``mri.gre-sinc``, for any
    field (a linear field gives the Dirichlet kernel, which tends to the sinc as the number of
    sub-samples grows).
    """
    df = as_array(off_resonance_hz, "off_resonance_hz")
    te = as_scalar(te_ms, "te_ms", low=0.0)
    if df.ndim == 0:
        raise ValueError("off_resonance_hz must have at least one dimension")
    if isinstance(factor, (str, bytes)) or np.ndim(factor) == 0:
        f = (as_int(factor, "factor", low=1),) * df.ndim
    else:
        f = as_shape(factor, "factor", ndim=df.ndim)
    for axis, (n, k) in enumerate(zip(df.shape, f)):
        if n % k:
            raise ValueError(f"factor {k} does not divide axis {axis} of off_resonance_hz "
                             f"(length {n})")
    phase = np.exp(-2j * np.pi * df * (te * 1e-3))
    blocks = []
    for n, k in zip(df.shape, f):
        blocks += [n // k, k]
    return phase.reshape(blocks).mean(axis=tuple(range(1, 2 * df.ndim, 2)))


def sphere_field_map_hz(shape, spacing_mm, centre_mm, radius_mm: float, *,
                        delta_chi_ppm: float = 9.4, b0_t: float = 3.0):
    """Off-resonance around a sphere of different magnetic susceptibility (an air-filled sinus).

    Parameters
    ----------
    shape : sequence of 3 int
        Grid shape ``(nz, ny, nx)``; B0 is along z (axis 0).
    spacing_mm : float or sequence of 3 float
        Grid spacing in mm, axis order (z, y, x). Index ``n // 2`` of each axis is position 0.
    centre_mm : sequence of 3 float
        Centre of the sphere in mm, axis order (z, y, x) (may lie outside the grid).
    radius_mm : float
        Radius of the sphere in mm (> 0).
    delta_chi_ppm : float, optional
        Susceptibility of the sphere minus that of the surrounding tissue, in ppm (SI volume
        susceptibility). Air (+0.36 ppm) in water (-9.05 ppm): +9.4 ppm (default).
    b0_t : float, optional
        Field strength in tesla (> 0).

    Returns
    -------
    numpy.ndarray, shape ``shape``
        Off-resonance in Hz outside the sphere and on its surface; 0 inside (air gives no
        signal).

    Raises
    ------
    ValueError
        On a malformed shape, spacing or centre, or a non-positive radius or field.

    Notes
    -----
    :formula:`mri.sphere-field` -- outside a sphere of radius a (small susceptibility
    difference), :math:`\\Delta f = \\bar\\gamma B_0\\,\\frac{\\Delta\\chi}{3}\\,
    \\frac{a^3}{r^3}\\,(3\\cos^2\\theta - 1)` with :math:`\\theta` the angle between
    :math:`\\mathbf r` and B0: a dipole field, positive above and below the sphere and negative
    beside it.

    References
    ----------
    J. F. Schenck, The role of magnetic susceptibility in magnetic resonance imaging: MRI
    magnetic compatibility of the first and second kinds, Med. Phys. 23, 815-850 (1996).
    """
    shp = as_shape(shape, "shape", ndim=3)
    sp = as_spacing(spacing_mm, "spacing_mm", 3)
    c = as_array(centre_mm, "centre_mm", shape=(3,))
    a = as_scalar(radius_mm, "radius_mm", low=0.0, low_inclusive=False, high=1e6)
    chi = as_scalar(delta_chi_ppm, "delta_chi_ppm", low=-1e5, high=1e5)
    b0 = as_scalar(b0_t, "b0_t", low=0.0, low_inclusive=False, high=1e3)
    z, y, x = ((np.arange(n) - n // 2) * d - c0 for n, d, c0 in zip(shp, sp, c))
    z, y, x = z[:, None, None], y[None, :, None], x[None, None, :]
    r2 = z * z + y * y + x * x
    outside = r2 >= a * a
    r2_safe = np.where(outside, r2, a * a)
    f_max = GAMMA_BAR_MHZ_PER_T["1H"] * 1e6 * b0 * chi * 1e-6 / 3.0
    field = f_max * a ** 3 * (3 * z * z / r2_safe - 1.0) / r2_safe ** 1.5
    return np.where(outside, field, 0.0)


# ---------------------------------------------------------------------------------------------
# Inversion recovery images: FLAIR and STIR
# ---------------------------------------------------------------------------------------------

def _fractions_and_tissues(fractions, tissues):
    if not isinstance(fractions, Mapping) or not fractions:
        raise TypeError("fractions must be a non-empty mapping of tissue name to array")
    if not isinstance(tissues, Mapping):
        raise TypeError("tissues must be a mapping of tissue name to Tissue")
    out, shape = {}, None
    for name, f in fractions.items():
        if name not in tissues:
            raise ValueError(f"tissues has no entry for fraction map {name!r}")
        if not isinstance(tissues[name], Tissue):
            raise TypeError(f"tissues[{name!r}] must be a Tissue")
        arr = as_array(f, f"fractions[{name!r}]", ndim=2)
        if np.any(arr < 0) or np.any(arr > 1):
            raise ValueError(f"fractions[{name!r}] must lie in [0, 1]")
        if shape is not None and arr.shape != shape:
            raise ValueError(f"fraction maps must have the same shape, got {shape} and "
                             f"{arr.shape} ({name!r})")
        shape = arr.shape
        out[name] = arr
    return out


def inversion_recovery_image(fractions, tissues, tr_ms: float, ti_ms: float, te_ms: float, *,
                             magnitude: bool = True):
    """Inversion-recovery spin-echo image of a voxel mixture (FLAIR, STIR).

    Parameters
    ----------
    fractions : mapping of str to array_like, 2D
        Volume fraction of each tissue per voxel (:func:`~medlib.mri.tissue_fractions`).
    tissues : mapping of str to Tissue
        Parameters for every key of ``fractions`` (:func:`~medlib.mri.tissue_parameters`).
    tr_ms, ti_ms, te_ms : float
        Repetition, inversion and echo times in ms (TI <= TR).
    magnitude : bool, optional
        Return the magnitude image (default); False gives the signed, phase-sensitive image.

    Returns
    -------
    numpy.ndarray, 2D
        S = | sum_k f_k PD_k Mz_k(TI) exp(-TE/T2_k) |, Mz from ``mri.inversion-recovery``.

    Raises
    ------
    TypeError
        If ``fractions`` or ``tissues`` is not a mapping of the right values, or ``magnitude`` is
        not a bool.
    ValueError
        On missing tissues, fractions outside [0, 1], differing shapes or invalid times.

    Notes
    -----
    The readout is a spin echo at TE after the 90 degree pulse at TI; as in
    :func:`~medlib.mri.spin_echo_signal`, T1 recovery between the 90 and 180 degree pulses is
    neglected (TE << T1). A tissue with TI at its null time
    (:func:`~medlib.mri.inversion_null_time`) contributes nothing: CSF in FLAIR, fat in STIR.
    """
    fr = _fractions_and_tissues(fractions, tissues)
    mag = as_bool(magnitude, "magnitude")
    tr = as_scalar(tr_ms, "tr_ms", low=0.0)
    ti = as_scalar(ti_ms, "ti_ms", low=0.0)
    if ti > tr:
        raise ValueError(f"ti_ms must not exceed tr_ms, got TI = {ti} ms and TR = {tr} ms")
    te = as_scalar(te_ms, "te_ms", low=0.0)
    out = 0.0
    for name, f in fr.items():
        t = tissues[name]
        mz = inversion_recovery(ti, t.t1_ms, m0=t.pd, tr_ms=tr)
        out = out + f * (mz * np.exp(-te / t.t2_ms))
    return np.abs(out) if mag else out


# ---------------------------------------------------------------------------------------------
# Fast spin echo
# ---------------------------------------------------------------------------------------------

def fse_echo_times(n_lines: int, echo_train_length: int, esp_ms: float, effective_echo: int):
    """Echo time at which each phase-encode line of a fast (turbo) spin echo is acquired.

    Parameters
    ----------
    n_lines : int
        Number of phase-encode lines N (a multiple of ``echo_train_length``).
    echo_train_length : int
        Echoes per excitation (ETL >= 1).
    esp_ms : float
        Echo spacing in ms (> 0): echo j (1-based) is at j ESP after the 90 degree pulse.
    effective_echo : int
        The echo (1 to ETL) that acquires the centre of k-space (line N // 2).

    Returns
    -------
    numpy.ndarray, shape (n_lines,)
        Echo time of each line in ms, centred k-space order. The centre line's time is the
        effective TE, ``effective_echo * esp_ms``.

    Raises
    ------
    ValueError
        If ETL does not divide N or ``effective_echo`` is out of range.

    Notes
    -----
    Linear ordering with a shift: k-space is cut into ETL contiguous bands of N / ETL lines;
    band b is acquired by echo ``(b - b_c + j_eff - 1) mod ETL + 1``, b_c the band holding the
    centre. Each excitation acquires one line of every band, so the scan takes N / ETL
    repetitions instead of N (:func:`fse_scan_time_s`).
    """
    etl = as_int(echo_train_length, "echo_train_length", low=1, high=4096)
    n = as_int(n_lines, "n_lines", low=1, high=1 << 16)
    if n % etl:
        raise ValueError(f"echo_train_length {etl} must divide n_lines {n}")
    esp = as_scalar(esp_ms, "esp_ms", low=0.0, low_inclusive=False)
    j_eff = as_int(effective_echo, "effective_echo", low=1)
    if j_eff > etl:
        raise ValueError(f"effective_echo must lie between 1 and echo_train_length = {etl}, got "
                         f"{j_eff}")
    per_band = n // etl
    band = np.arange(n) // per_band
    b_c = (n // 2) // per_band
    echo = (band - b_c + j_eff - 1) % etl + 1
    return echo * esp


def fse_scan_time_s(tr_ms: float, n_lines: int, echo_train_length: int = 1, n_averages: int = 1):
    """Acquisition time of a (fast) spin-echo image: one excitation per TR, ETL lines each.

    Parameters
    ----------
    tr_ms : float
        Repetition time in ms (> 0).
    n_lines : int
        Phase-encode lines N_pe (a multiple of ``echo_train_length``).
    echo_train_length : int, optional
        Echoes (lines) per excitation, ETL (default 1: the conventional spin echo).
    n_averages : int, optional
        Number of averages N_avg (default 1).

    Returns
    -------
    float
        T_acq in seconds.

    Raises
    ------
    ValueError
        On a non-positive TR, counts < 1, or an ETL that does not divide N_pe.

    Notes
    -----
    :formula:`mri.fse-scan-time` -- :math:`T_\\mathrm{acq} = TR\\,N_\\mathrm{pe}\\,
    N_\\mathrm{avg}/ETL`: N_pe / ETL excitations (:func:`fse_echo_times` gives every echo N_pe /
    ETL lines), each repeated N_avg times.
    """
    tr = as_scalar(tr_ms, "tr_ms", low=0.0, low_inclusive=False)
    n = as_int(n_lines, "n_lines", low=1, high=1 << 16)
    etl = as_int(echo_train_length, "echo_train_length", low=1, high=4096)
    n_avg = as_int(n_averages, "n_averages", low=1, high=1 << 16)
    if n % etl:
        raise ValueError(f"echo_train_length {etl} must divide n_lines {n}")
    return tr * 1e-3 * (n // etl) * n_avg


def fse_image(fractions, tissues, tr_ms: float, echo_times_ms, spacing_mm=1.0):
    """Fast-spin-echo image of a voxel mixture: each k-space line carries its own T2 weighting.

    Parameters
    ----------
    fractions : mapping of str to array_like, 2D
        Volume fraction of each tissue per voxel, shape (n_pe, n_ro) (rows = phase encode).
    tissues : mapping of str to Tissue
        Parameters for every key of ``fractions``.
    tr_ms : float
        Repetition time in ms.
    echo_times_ms : array_like, shape (n_pe,)
        Echo time of each phase-encode line, centred order (:func:`fse_echo_times`); all equal
        to TE gives the conventional spin echo.
    spacing_mm : float or sequence of 2 float, optional
        Pixel spacing in mm.

    Returns
    -------
    numpy.ndarray, complex128, 2D
        The reconstructed image (take ``np.abs``).

    Raises
    ------
    TypeError, ValueError
        As :func:`inversion_recovery_image`; also if ``echo_times_ms`` has the wrong length.

    Notes
    -----
    k-space of the mixture: :math:`S(k) = \\sum_k \\mathcal F\\{f_k\\,PD_k(1-e^{-TR/T_{1,k}})\\}
    (k)\\;e^{-TE(k_y)/T_{2,k}}`, reconstructed with :func:`~medlib.mri.kspace_inverse`. The
    contrast is that of the effective TE (the centre line); the T2 modulation of the outer
    lines blurs short-T2 tissue along the phase-encode direction.
    """
    fr = _fractions_and_tissues(fractions, tissues)
    tr = as_scalar(tr_ms, "tr_ms", low=0.0)
    shape = next(iter(fr.values())).shape
    te = as_array(echo_times_ms, "echo_times_ms", shape=(shape[0],), low=0.0)
    s = 0.0
    for name, f in fr.items():
        t = tissues[name]
        weight = t.pd * -np.expm1(-tr / t.t1_ms)
        s = s + kspace_forward(f * weight, spacing_mm) * np.exp(-te / t.t2_ms)[:, None]
    return kspace_inverse(s, spacing_mm)


# ---------------------------------------------------------------------------------------------
# Echo-planar imaging
# ---------------------------------------------------------------------------------------------

def epi_sample_times(n_pe: int, n_ro: int, esp_ms: float, te_ms: float = 0.0):
    """Acquisition time of every k-space sample of a single-shot EPI (zig-zag with blips).

    Parameters
    ----------
    n_pe, n_ro : int
        Phase-encode lines and readout samples per line.
    esp_ms : float
        Echo spacing: the time between successive lines, in ms (> 0); the readout dwell time is
        ESP / n_ro (no ramp sampling).
    te_ms : float, optional
        Echo time: the time of the k-space centre (sample (n_pe // 2, n_ro // 2)), in ms.

    Returns
    -------
    numpy.ndarray, shape (n_pe, n_ro)
        Time in ms of each sample, indexed in centred k-space order (ky, kx). Lines whose
        offset from the centre line is odd are read from +kx to -kx (time runs backwards along
        the row): the zig-zag.

    Raises
    ------
    ValueError
        On sizes < 1, a non-positive ESP or a non-finite TE.
    """
    npe = as_int(n_pe, "n_pe", low=1, high=4096)
    nro = as_int(n_ro, "n_ro", low=1, high=4096)
    esp = as_scalar(esp_ms, "esp_ms", low=0.0, low_inclusive=False)
    te = as_scalar(te_ms, "te_ms")
    line = np.arange(npe) - npe // 2
    col = np.arange(nro)
    reverse = (line % 2 == 1)[:, None]
    position = np.where(reverse, nro - 1 - col[None, :], col[None, :])
    return te + line[:, None] * esp + (position - nro // 2) * (esp / nro)


def epi_kspace(image, off_resonance_hz, esp_ms: float, *, te_ms: float = 0.0, spacing_mm=1.0,
               subvoxels: int = 1, odd_shift_samples: float = 0.0, odd_phase_rad: float = 0.0):
    """Simulate a single-shot EPI acquisition of an object with off-resonance.

    Parameters
    ----------
    image : array_like, 2D
        The object rho (real or complex), shape (n_pe s, n_ro s) for ``subvoxels`` = s: rows
        along the phase-encode direction, columns along the readout.
    off_resonance_hz : float or array_like, 2D
        Off-resonance of each image point in Hz (same shape, or a scalar).
    esp_ms : float
        Echo spacing in ms (> 0).
    te_ms : float, optional
        Time of the k-space centre after excitation, in ms.
    spacing_mm : float or sequence of 2 float, optional
        Pixel spacing of the reconstructed image in mm (scales S as
        :func:`~medlib.mri.kspace_forward` does).
    subvoxels : int, optional
        Image points per pixel along each axis (default 1): with s > 1 the object and its
        off-resonance are given on a grid s times finer than the k-space matrix (isochromats
        within each pixel), so intra-voxel dephasing and sub-pixel displacements are simulated
        rather than assumed.
    odd_shift_samples : float, optional
        Echo misalignment of the reversed lines, in readout samples: they sample
        kx + shift dkx instead of kx (gradient delays), an N/2 ghost source.
    odd_phase_rad : float, optional
        Constant phase error of the reversed lines, in radians (eddy currents): the other N/2
        ghost source.

    Returns
    -------
    numpy.ndarray, complex128, shape (n_pe, n_ro)
        Centred k-space in the units of :func:`~medlib.mri.kspace_forward`; reconstruct with
        :func:`~medlib.mri.kspace_inverse`. With ``subvoxels=1``, no off-resonance and no
        errors it equals ``kspace_forward(image, spacing_mm)``.

    Raises
    ------
    ValueError
        On a non-2D or non-finite image, a map of another shape, a shape that ``subvoxels``
        does not divide, or invalid times.

    Notes
    -----
    :formula:`mri.epi-signal` -- the signal as a sum over voxels (isochromats) along the
    trajectory, with off-resonance phase accrued up to each sample's time t
    (:func:`epi_sample_times`):
    :math:`S_j = \\Delta x\\Delta y\\sum_v \\rho_v\\,e^{-i2\\pi(\\mathbf k_j\\cdot\\mathbf r_v +
    \\Delta f_v t_j)}`: :func:`~medlib.mri.encode_signal`'s sum (``mri.encoded-signal``) on
    EPI's trajectory and timing, to which it is tested equal. The time splits into line time and
    in-line time; the in-line factor depends only on the line's direction, so each direction is
    one matrix product over voxels (much faster than the general sum).
    The line-to-line phase :math:`2\\pi\\Delta f\\,ESP` per line is a shift of
    :math:`\\Delta f\\,N_{pe}\\,ESP` pixels along the phase encode (``mri.epi-distortion``,
    :func:`epi_displacement_pixels`).
    """
    rho = as_array(image, "image", ndim=2, dtype=np.complex128)
    df = as_array(off_resonance_hz, "off_resonance_hz", ndim=(0, 2))
    if df.ndim == 2 and df.shape != rho.shape:
        raise ValueError(f"off_resonance_hz must be a scalar or have the image's shape "
                         f"{rho.shape}, got {df.shape}")
    df = np.broadcast_to(df, rho.shape)
    esp = as_scalar(esp_ms, "esp_ms", low=0.0, low_inclusive=False)
    te = as_scalar(te_ms, "te_ms")
    sp = as_spacing(spacing_mm, "spacing_mm", 2)
    f = as_int(subvoxels, "subvoxels", low=1, high=64)
    shift = as_scalar(odd_shift_samples, "odd_shift_samples", low=-1e3, high=1e3)
    phi = as_scalar(odd_phase_rad, "odd_phase_rad", low=-1e3, high=1e3)
    if rho.shape[0] % f or rho.shape[1] % f:
        raise ValueError(f"image shape {rho.shape} must be a multiple of subvoxels = {f} along "
                         "each axis")
    npe, nro = rho.shape[0] // f, rho.shape[1] // f
    check_size((rho.size, 2 * max(npe, nro)), "image")
    t = epi_sample_times(npe, nro, esp, te) * 1e-3                # s
    line = np.arange(npe) - npe // 2
    # positions of the image points in pixels of the result: sub-point p of a pixel lies at
    # (p + 1/2) / f - 1/2 from the pixel's centre (the centre itself when f = 1)
    pos_y = (np.arange(npe * f) + 0.5) / f - 0.5 - npe // 2
    pos_x = (np.arange(nro * f) + 0.5) / f - 0.5 - nro // 2
    ey = np.exp(-2j * np.pi * np.outer(line, pos_y) / npe)        # (ky, y)
    out = np.empty((npe, nro), dtype=np.complex128)
    dfv = df.reshape(-1)
    for odd in (False, True):
        rows = np.flatnonzero((line % 2 == 1) == odd)
        if rows.size == 0:
            continue
        kx = np.arange(nro) - nro // 2 + (shift if odd else 0.0)
        ex = np.exp(-2j * np.pi * np.outer(kx, pos_x) / nro)      # (kx, x)
        t_line = t[rows, nro // 2]                                  # a time per line
        t_in = t[rows[0]] - t[rows[0], nro // 2]                   # in-line time, (kx,)
        # per line: rho e^{-i 2 pi df t_line} e^{-i 2 pi ky y}; per kx: e^{-i 2 pi (kx x + df t_in)}
        a = (ey[rows][:, :, None] * rho[None]).reshape(rows.size, -1) \
            * np.exp(-2j * np.pi * np.outer(t_line, dfv))
        b = (np.broadcast_to(ex[:, None, :], (nro, rho.shape[0], rho.shape[1])).reshape(nro, -1)
             * np.exp(-2j * np.pi * np.outer(t_in, dfv)))
        out[rows] = a @ b.T
        if odd:
            out[rows] *= np.exp(1j * phi)
    return np.prod(sp) / f ** 2 * out


def epi_displacement_pixels(off_resonance_hz, n_pe: int, esp_ms: float):
    """Shift of a voxel along the phase-encode direction of an EPI image, in pixels.

    Parameters
    ----------
    off_resonance_hz : float or array_like
        Off-resonance in Hz.
    n_pe : int
        Phase-encode lines of the (single-shot) echo train.
    esp_ms : float
        Echo spacing in ms (> 0).

    Returns
    -------
    float or numpy.ndarray
        Displacement df N ESP = df / BW_pe in pixels, towards increasing row index for df > 0
        with the blips of :func:`epi_sample_times` (a reversed blip polarity flips the sign).

    Raises
    ------
    ValueError
        On a non-finite off-resonance, n_pe < 1 or ESP <= 0.

    Notes
    -----
    :formula:`mri.epi-distortion` -- the phase :math:`2\\pi\\Delta f\\,ESP` added per line is
    indistinguishable from the phase-encode phase :math:`2\\pi\\,\\Delta y/(N\\,\\delta y)` per
    line of a voxel moved by :math:`\\Delta y`: :math:`\\Delta y/\\delta y = \\Delta f\\,N_{pe}
    \\,ESP = \\Delta f / BW_{pe}`, with :math:`BW_{pe} = 1/(N_{pe}ESP)` the bandwidth per pixel
    along the phase encode (tens of Hz, against about a kHz along the readout).
    """
    df = as_array(off_resonance_hz, "off_resonance_hz")
    n = as_int(n_pe, "n_pe", low=1)
    esp = as_scalar(esp_ms, "esp_ms", low=0.0, low_inclusive=False)
    return _result(df * n * esp * 1e-3)


def epi_ghost_fraction(odd_phase_rad):
    """Amplitude of the N/2 ghost relative to the object for a phase error of alternate lines.

    Parameters
    ----------
    odd_phase_rad : float or array_like
        Phase error of every other k-space line, in radians.

    Returns
    -------
    float or numpy.ndarray
        |sin(phi / 2)|; the object keeps |cos(phi / 2)|.

    Raises
    ------
    ValueError
        If the phase is not finite.

    Notes
    -----
    :formula:`mri.epi-ghost` -- multiplying alternate lines by :math:`e^{i\\varphi}` is
    :math:`\\tfrac{1+e^{i\\varphi}}{2} + \\tfrac{1-e^{i\\varphi}}{2}(-1)^{n}`; the factor
    :math:`(-1)^n` shifts the image by half the field of view, so
    :math:`\\rho' = \\tfrac{1+e^{i\\varphi}}{2}\\rho(y) \\pm \\tfrac{1-e^{i\\varphi}}{2}
    \\rho(y - \\mathrm{FOV}/2)`, of magnitudes :math:`|\\cos(\\varphi/2)|` and
    :math:`|\\sin(\\varphi/2)|`.
    """
    phi = as_array(odd_phase_rad, "odd_phase_rad")
    return _result(np.abs(np.sin(phi / 2)))


# ---------------------------------------------------------------------------------------------
# Balanced SSFP
# ---------------------------------------------------------------------------------------------

def bssfp_signal(off_resonance_hz, tr_ms, flip_deg, t1_ms, t2_ms, *, te_ms=None, pd=1.0,
                 phase_cycling: bool = True):
    """Steady-state transverse magnetisation of balanced SSFP (TrueFISP, FIESTA, bFFE).

    Parameters
    ----------
    off_resonance_hz : float or array_like
        Off-resonance df in Hz.
    tr_ms : float or array_like
        Repetition time in ms (> 0).
    flip_deg : float or array_like
        Flip angle alpha in degrees (hard pulses about x).
    t1_ms, t2_ms : float or array_like
        Relaxation times in ms (> 0).
    te_ms : float or array_like, optional
        Echo time in ms, 0 <= TE <= TR (default TR / 2).
    pd : float or array_like, optional
        Proton density M0 (>= 0).
    phase_cycling : bool, optional
        Alternate the pulses +alpha, -alpha (default, the usual bSSFP: passband centred on
        resonance, bands at df = +-1/(2 TR)); False repeats +alpha (bands at df = 0, +-1/TR).

    Returns
    -------
    complex or numpy.ndarray of complex
        Mx + i My at TE after each +alpha pulse (after the -alpha pulses it is the negative).

    Raises
    ------
    TypeError
        If ``phase_cycling`` is not a bool.
    ValueError
        On non-positive TR or relaxation times, TE outside [0, TR], negative PD, non-finite
        values or shapes that do not broadcast.

    Notes
    -----
    :formula:`mri.bssfp` -- with :math:`E_{1,2} = e^{-TR/T_{1,2}}`, the precession per TR
    :math:`\\theta = 2\\pi\\Delta f\\,TR` (plus :math:`\\pi` with phase cycling),
    :math:`M_{xy}(0^+) = i M_0 \\frac{(1-E_1)\\sin\\alpha\\,(1 - E_2 e^{i\\theta})}
    {C\\cos\\theta + D}`, :math:`C = E_2(E_1-1)(1+\\cos\\alpha)`,
    :math:`D = (1 - E_1\\cos\\alpha) - (E_1 - \\cos\\alpha)E_2^2`, then
    :math:`M_{xy}(TE) = M_{xy}(0^+)e^{-TE/T_2}e^{-i2\\pi\\Delta f\\,TE}`. Nothing is spoiled:
    the fixed point of pulse, precession and relaxation. The signal collapses where
    :math:`\\theta \\equiv 0 \\pmod{2\\pi}` (:math:`E_2 \\to 1`): dark bands at
    :math:`\\Delta f = \\pm 1/(2TR)` with phase cycling. On resonance and for
    :math:`TR \\ll T_2` it tends to :math:`M_0\\sin\\alpha/(1 + \\cos\\alpha + (1-\\cos\\alpha)
    T_1/T_2)`.

    References
    ----------
    R. Freeman and H. D. W. Hill, Phase and intensity anomalies in Fourier transform NMR,
    J. Magn. Reson. 4, 366-383 (1971).
    B. A. Hargreaves, S. S. Vasanawala, J. M. Pauly, D. G. Nishimura, Characterization and
    reduction of the transient response in steady-state MR imaging, Magn. Reson. Med. 46,
    149-158 (2001).
    """
    cycling = as_bool(phase_cycling, "phase_cycling")
    df = as_array(off_resonance_hz, "off_resonance_hz")
    tr = as_array(tr_ms, "tr_ms", low=0.0, low_inclusive=False)
    alpha = np.deg2rad(as_array(flip_deg, "flip_deg"))
    t1 = _relaxation_times(t1_ms, "t1_ms")
    t2 = _relaxation_times(t2_ms, "t2_ms")
    te = tr / 2 if te_ms is None else _times(te_ms, "te_ms")
    rho = as_array(pd, "pd", low=0)
    df, tr, alpha, t1, t2, te, rho = _broadcast(off_resonance_hz=df, tr_ms=tr, flip_deg=alpha,
                                                t1_ms=t1, t2_ms=t2, te_ms=te, pd=rho)
    if np.any(te > tr):
        raise ValueError("te_ms must lie between 0 and tr_ms")
    e1 = np.exp(-tr / t1)
    e2 = np.exp(-tr / t2)
    theta = 2 * np.pi * np.mod(df * tr * 1e-3, 1.0) + (np.pi if cycling else 0.0)
    ca = np.cos(alpha)
    c = e2 * (e1 - 1) * (1 + ca)
    d = (1 - e1 * ca) - (e1 - ca) * e2 ** 2
    denominator = c * np.cos(theta) + d
    if np.any(denominator <= 1e-12 * (np.abs(c) + np.abs(d))):
        raise ValueError("no steady state: with t2_ms = inf the magnetisation at a band never "
                         "settles (nor with t1_ms = t2_ms = inf anywhere); give a finite t2_ms")
    m0 = 1j * rho * (1 - e1) * np.sin(alpha) * (1 - e2 * np.exp(1j * theta)) / denominator
    phase_te = np.exp(-2j * np.pi * np.mod(df * te * 1e-3, 1.0))
    out = m0 * np.exp(-te / t2) * phase_te
    return complex(out) if out.ndim == 0 else out
