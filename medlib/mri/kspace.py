"""k-space: the signal equation as a Fourier transform with explicit centring, reconstruction,
masks, truncation, zero-filling, aliasing and partial Fourier.

Taught in ``chapters/mri/kspace.ipynb`` (section 4.3 of the key formulas).

Conventions of this module
--------------------------
k-space arrays
    Centred: the sample at index ``N // 2`` along every axis is ``k = 0`` (and the image pixel at
    index ``N // 2`` is ``x = 0``). :func:`kspace_forward` and :func:`kspace_inverse` apply the
    ``ifftshift``/``fftshift`` pairs that this requires and scale by the pixel and k-space
    areas, so that they approximate the continuous integrals of the seed.
"""
from __future__ import annotations

import numpy as np

from .._validate import (
    as_array,
    as_axis,
    as_int,
    as_mask,
    as_rng,
    as_scalar,
    as_size,
    check_size,
)

__all__ = [
    "crop_kspace",
    "decimate_kspace",
    "hermitian_fill",
    "image_coordinates",
    "kspace_coordinates",
    "kspace_forward",
    "kspace_inverse",
    "partial_fourier_mask",
    "random_mask",
    "regular_mask",
    "truncate_kspace",
    "zero_fill",
]


def _spacing(spacing_mm, ndim: int) -> np.ndarray:
    sp = as_array(spacing_mm, "spacing_mm", ndim=(0, 1))
    if sp.ndim == 0:
        sp = np.full(ndim, float(sp))
    if sp.size != ndim:
        raise ValueError(f"spacing_mm must be a scalar or have {ndim} values, got {sp.size}")
    if np.any(sp <= 0):
        raise ValueError("spacing_mm must be > 0")
    with np.errstate(over="ignore", under="ignore"):
        measure = float(np.prod(sp))
    if not 0.0 < measure < np.inf:  # the pixel area scales S (and 1 / area scales rho)
        raise ValueError(f"spacing_mm={sp.tolist()} gives a pixel measure (product of the "
                         f"spacings) of {measure} mm^{ndim}, which float64 cannot represent")
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
    k = as_size(n, "n")
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
    k = as_size(n, "n")
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
        If the image is empty or not finite, or the spacing is wrong (not positive, the wrong
        length, or a pixel area that float64 cannot hold).

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
        If the array is empty or not finite, or the spacing is wrong (not positive, the wrong
        length, or a pixel area that float64 cannot hold).

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
    if isinstance(shape, (str, bytes)) or np.ndim(shape) != 1:
        raise TypeError(f"shape must be an int or a sequence of ints, got {shape!r}")
    shp = tuple(as_int(s, "shape", low=1) for s in shape)
    if not shp:
        raise ValueError("shape must have at least one dimension")
    check_size(shp, "shape")
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
        R in [1, N]: the fraction 1/R of the lines is kept outside the centre (as
        :func:`random_mask`, a larger R is refused).
    axis : int, optional
        The phase-encoding axis (default 0, the rows).
    center_lines : int, optional
        Number of central lines always kept (autocalibration region), default 0.
    offset : int, optional
        Keep lines with (m - N // 2 - offset) divisible by R (default 0: the k = 0 line is kept);
        only ``offset mod R`` matters.

    Returns
    -------
    numpy.ndarray of bool
        The sampling mask, ``shape``.

    Raises
    ------
    ValueError
        On an acceleration below 1 or above the number of lines, too many centre lines or a
        bad axis.

    Notes
    -----
    Supports ``mri.fov-aliasing``: keeping every R-th line multiplies dk by R and divides the
    field of view by R; the zero-filled reconstruction is the average of R copies of the object
    shifted by multiples of N/R along ``axis`` (with phases when ``offset`` is not 0).
    """
    shp, ax = _line_axis(shape, axis)
    n = shp[ax]
    r = as_int(acceleration, "acceleration", low=1)
    if r > n:
        raise ValueError(f"acceleration must be at most the {n} lines along axis {ax} (at least "
                         f"one line is kept), got {r}")
    c = as_int(center_lines, "center_lines", low=0, high=n)
    off = as_int(offset, "offset") % r                # Python int: any offset, no overflow
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
        R in [1, N]: round(N / R) lines are kept in total, at least one (a larger R, which
        would keep no line, is refused).
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
        If R < 1, R > N (no line would be kept) or the centre alone exceeds N / R lines.

    Notes
    -----
    Incoherent sampling: aliasing spreads as noise-like artefacts instead of coherent ghosts
    (the starting point of compressed sensing).
    """
    shp, ax = _line_axis(shape, axis)
    r = as_scalar(acceleration, "acceleration", low=1.0)
    gen = as_rng(rng)
    n = shp[ax]
    if r > n:
        raise ValueError(f"acceleration must be at most the {n} lines along axis {ax} (at least "
                         f"one line is kept), got {r}")
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
    if s.ndim == 0:
        raise ValueError("kspace must be an array of k-space samples, got a scalar")
    r = as_int(factor, "factor", low=1)
    ax = as_axis(axis, s.ndim)
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


def _kspace(kspace, dtype=None) -> np.ndarray:
    """``kspace`` as an array of at least one dimension (named ``kspace`` in errors)."""
    s = as_array(kspace, "kspace", dtype=dtype)
    if s.ndim == 0:
        raise ValueError("kspace must be an array of k-space samples, got a scalar")
    return s


def _shape_arg(shape, s: np.ndarray, name: str = "shape") -> tuple[int, ...]:
    """A size per axis of the k-space ``s`` (one int for all axes) as a tuple of ints, named
    ``name`` in errors."""
    ndim = s.ndim
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,) * ndim
    if isinstance(shape, (str, bytes)) or np.ndim(shape) != 1:
        raise TypeError(f"{name} must be an int or a sequence of {ndim} ints, got {shape!r}")
    shp = tuple(as_int(v, name, low=1) for v in shape)
    if len(shp) != ndim:
        raise ValueError(f"{name} must have {ndim} entries, one per axis of kspace (shape "
                         f"{s.shape}), got {len(shp)}")
    check_size(shp, name)
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
    s = _kspace(kspace)
    shp = _shape_arg(shape, s)
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
    s = _kspace(kspace)
    shp = _shape_arg(shape, s)
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
        If ``keep_shape`` exceeds the k-space shape or has the wrong number of entries.
    TypeError
        If ``keep_shape`` is not an int or a sequence of ints.
    """
    s = _kspace(kspace)
    keep = _shape_arg(keep_shape, s, "keep_shape")
    if any(n > o for n, o in zip(keep, s.shape)):
        raise ValueError(f"keep_shape {keep} must not exceed the k-space shape {s.shape}")
    return zero_fill(crop_kspace(s, keep), s.shape)


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
        If shapes differ, or ``mask`` holds NaN or a value other than 0 and 1.

    Notes
    -----
    :formula:`mri.hermitian-symmetry` -- for a *real* object
    :math:`S(-\\mathbf k) = S^*(\\mathbf k)`, so a little over half of k-space determines all of
    it. On the centred grid the partner of index m is ``(2 (N // 2) - m) mod N`` along every
    axis (for even N the most negative line is its own partner). Real MR images carry a phase
    (field inhomogeneity, coil sensitivity), which breaks the symmetry: homodyne or POCS
    reconstructions first estimate that phase from the symmetric centre.
    """
    s = _kspace(kspace, np.complex128)
    mk = as_mask(mask, "mask")
    if mk.shape != s.shape:
        raise ValueError(f"mask must have the shape of kspace: kspace has shape {s.shape}, mask "
                         f"{mk.shape}")
    partner_s, partner_m = s, mk
    for ax, n in enumerate(s.shape):
        idx = (2 * (n // 2) - np.arange(n)) % n
        partner_s = np.take(partner_s, idx, axis=ax)
        partner_m = np.take(partner_m, idx, axis=ax)
    fill = ~mk & partner_m
    out = s.copy()
    out[fill] = np.conj(partner_s[fill])
    return out
