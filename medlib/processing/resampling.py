"""Resampling and alignment: affine resampling by backward mapping, nearest-neighbour lookup for
label maps, and resampling a volume to a new (isotropic) spacing with its origin and extent kept.

Taught in ``chapters/image-processing/resampling.ipynb`` (section 8.3 of the key formulas).
Multilinear (trilinear) interpolation is :func:`medlib.sampling.interpolate_linear`; the results
are tested against SciPy and nibabel.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import sampling
from .._validate import as_array, as_array_and_coords, as_choice, as_int, as_scalar

__all__ = [
    "affine_resample",
    "interpolate_nearest",
    "mask_volume_ml",
    "resample_to_spacing",
]


def interpolate_nearest(array, coords, *, cval: float = 0.0) -> np.ndarray:
    """Nearest-neighbour lookup at fractional indices (the interpolation for label maps).

    Parameters
    ----------
    array : array_like, d dimensions
        Samples on the integer grid; integer label maps keep their dtype.
    coords : array_like, shape (d, ...)
        Fractional indices, one row per axis (as :func:`scipy.ndimage.map_coordinates`).
    cval : float, optional
        Value for points outside [0, n - 1] along any axis (default 0).

    Returns
    -------
    numpy.ndarray, shape coords.shape[1:]
        ``array[floor(c + 0.5)]`` (halves round up, as SciPy's order 0): every output value is
        one of the input values (or ``cval``), so a label map keeps its label set.

    Raises
    ------
    ValueError
        If ``coords`` does not have d rows or holds non-finite values.

    Notes
    -----
    Supports proc.backward-mapping with ``order=0``.
    """
    a, c = as_array_and_coords(array, coords, dtype=None)
    fill = as_scalar(cval, "cval")
    inside = np.ones(c.shape[1:], dtype=bool)
    index = []
    for axis in range(a.ndim):
        inside &= (c[axis] >= 0) & (c[axis] <= a.shape[axis] - 1)
        index.append(np.clip(np.floor(c[axis] + 0.5).astype(np.int64), 0, a.shape[axis] - 1))
    values = a[tuple(index)]
    if np.all(inside):
        return values
    # Keep an integer label map's dtype when the fill value fits it (0 usually does).
    fill_value = fill
    if np.issubdtype(a.dtype, np.integer) and fill.is_integer() and \
            np.can_cast(np.min_scalar_type(int(fill)), a.dtype):
        fill_value = int(fill)
    return np.where(inside, values, fill_value)


_CHUNK = 1 << 20     # output voxels per block: bounds the memory of the coordinate arrays
MAX_VOXELS = 2 ** 28  # default bound on an output's size: 2 GiB of float64


def affine_resample(array, matrix, offset, output_shape, *, order: int = 1,
                    mode: str = "constant", cval: float = 0.0,
                    max_voxels: int = MAX_VOXELS) -> np.ndarray:
    """Resample an image or volume under an affine map of its indices (backward mapping).

    Parameters
    ----------
    array : array_like, d dimensions
        The input image I_in.
    matrix : array_like, shape (d, d)
        A, mapping an *output* index o to the input index A o + b (rotation, scaling, shear).
    offset : array_like, shape (d,)
        b, in input voxels.
    output_shape : sequence of int, length d
        Shape of the result.
    order : {0, 1}, optional
        0: nearest neighbour (label maps); 1: linear, i.e. bilinear / trilinear (default).
    mode : {"constant", "nearest"}, optional
        Outside the input grid: ``cval`` (default), or the value of the nearest edge sample
        (the input coordinates are clamped to [0, n - 1]).
    cval : float, optional
        Fill value for ``mode="constant"``.
    max_voxels : int, optional
        Largest output allowed, in voxels (default 2**28, 2 GiB of float64): the size is checked
        before anything is allocated, so a mistaken ``output_shape`` fails at once.

    Returns
    -------
    numpy.ndarray, shape output_shape
        float64 for ``order=1``; the input's dtype for ``order=0`` when ``cval`` fits it.
        Equals ``scipy.ndimage.affine_transform(array, matrix, offset, output_shape,
        order=order, mode=mode, cval=cval)``.

    Raises
    ------
    ValueError
        On mismatched shapes, a non-finite matrix or offset, an unknown ``order`` or ``mode``,
        a non-positive output size, or an output of more than ``max_voxels`` voxels.

    Notes
    -----
    :formula:`proc.backward-mapping` -- :math:`I_{out}(\\mathbf{o}) = I_{in}(\\mathbf{A}\\mathbf{o}
    + \\mathbf{b})`: every output voxel asks where it comes from, so no output voxel is left
    empty (pushing input voxels forward would leave holes). To move an image by the affine
    :math:`\\mathbf{x}' = \\mathbf{M}\\mathbf{x} + \\mathbf{t}` (geometry.affine), pass
    :math:`\\mathbf{A} = \\mathbf{M}^{-1}`, :math:`\\mathbf{b} = -\\mathbf{M}^{-1}\\mathbf{t}`.
    Linear interpolation is :func:`medlib.sampling.interpolate_linear` (proc.trilinear).
    """
    a = as_array(array, "array", dtype=None)
    if a.ndim == 0:
        raise ValueError("array must have at least one dimension")
    d = a.ndim
    m = as_array(matrix, "matrix", ndim=2)
    if m.shape != (d, d):
        raise ValueError(f"matrix of shape {m.shape} does not match array of shape {a.shape}: "
                         f"a {d}D array needs a ({d}, {d}) matrix")
    b = as_array(offset, "offset", shape=(d,))
    shape = _output_shape(output_shape, d)
    order = as_int(order, "order", low=0, high=1)
    mode = as_choice(mode, "mode", ("constant", "nearest"))
    fill = as_scalar(cval, "cval")
    limit = as_int(max_voxels, "max_voxels", low=1)
    size = math.prod(shape)                                     # Python int: no overflow
    if size > limit:
        raise ValueError(f"output_shape {shape} asks for {size:.3g} voxels, more than "
                         f"max_voxels={limit}; pass a larger max_voxels if this is intended")
    dtype = np.float64 if order == 1 else None
    flat = []
    for start in range(0, size, _CHUNK):                         # blocks of output voxels
        grid = np.stack(np.unravel_index(np.arange(start, min(start + _CHUNK, size)),
                                         shape)).astype(np.float64)
        coords = m @ grid + b[:, None]
        if mode == "nearest":
            coords = np.clip(coords, 0, np.array(a.shape)[:, None] - 1)
        if order == 0:
            flat.append(interpolate_nearest(a, coords, cval=fill))
        else:
            flat.append(sampling.interpolate_linear(a, coords, cval=fill))
    out = np.concatenate(flat)
    return out.reshape(shape) if dtype is None else out.astype(dtype, copy=False).reshape(shape)


def _resample_axes(v: np.ndarray, ratio: np.ndarray, shape: tuple[int, ...],
                   order: int) -> np.ndarray:
    """``affine_resample(v, diag(ratio), 0, shape, order=order, mode="nearest")``, one axis at
    a time.

    A diagonal map moves each axis on its own, and the (tri)linear weight is a product of 1D
    weights, so interpolating along one axis after the other gives the same values (to rounding)
    in O(n) memory and time, without the d x N coordinate array; nearest neighbour picks the
    same voxels exactly.
    """
    out = v.astype(np.float64) if order == 1 else v
    # the axes that shrink first, so the later passes work on fewer voxels
    for axis in sorted(range(v.ndim), key=lambda a: shape[a] / v.shape[a]):
        n_new, r, n_old = shape[axis], ratio[axis], out.shape[axis]
        x = np.clip(np.arange(n_new) * float(r), 0, n_old - 1)     # mode="nearest"
        if order == 0:
            out = np.take(out, np.floor(x + 0.5).astype(np.int64), axis=axis)
            continue
        i = np.floor(x).astype(np.int64)
        frac = (x - i).reshape((-1,) + (1,) * (out.ndim - axis - 1))
        upper = np.minimum(i + 1, n_old - 1)
        out = np.take(out, i, axis=axis) * (1.0 - frac) + np.take(out, upper, axis=axis) * frac
    return out


def _output_shape(output_shape, d: int) -> tuple[int, ...]:
    """``output_shape`` as a tuple of d positive Python ints (no int64 overflow), or raise."""
    if isinstance(output_shape, (str, bytes)) or np.ndim(output_shape) != 1 or \
            len(output_shape) != d:
        raise ValueError(f"output_shape must hold {d} positive integers, got {output_shape!r}")
    shape = []
    for s in output_shape:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (numbers.Integral, np.integer)) \
                or s < 1:
            raise ValueError(f"output_shape must hold {d} positive integers, "
                             f"got {list(output_shape)}")
        shape.append(int(s))
    return tuple(shape)


def resample_to_spacing(volume, affine, spacing_mm, *, order: int = 1,
                        max_voxels: int = MAX_VOXELS):
    """Resample an image or volume to a new voxel spacing, keeping its origin and extent.

    Parameters
    ----------
    volume : array_like, d dimensions
        The data, with axes in the index order of ``affine``.
    affine : array_like, shape (d+1, d+1)
        Voxel-to-world matrix (mm) of ``volume``.
    spacing_mm : float or array_like, shape (d,)
        New spacing along each index axis, in mm (a number for isotropic voxels).
    order : {0, 1}, optional
        1: linear (trilinear in 3D) for intensities (default); 0: nearest neighbour for label
        maps, which keeps the label set.
    max_voxels : int, optional
        Largest result allowed, in voxels (default 2**28, 2 GiB of float64), checked before
        anything is allocated: a spacing given in metres (0.001 for 1 mm) asks for 10^9 times
        more voxels than meant.

    Returns
    -------
    resampled : numpy.ndarray
        Shape n'_a = round(n_a s_a / s'_a) per axis.
    new_affine : numpy.ndarray, shape (d+1, d+1)
        ``affine @ diag(s'_a / s_a, 1)``: same origin (voxel 0 stays where it was), same
        direction cosines, new spacing.

    Raises
    ------
    TypeError
        If ``volume`` is complex (resample the real and imaginary parts separately).
    ValueError
        If a spacing is not positive, the affine does not match the volume, ``order`` is not
        0 or 1, or the result would have more than ``max_voxels`` voxels.

    Notes
    -----
    :formula:`proc.resample-spacing`. New voxel o sits at old index o s'/s. The physical extent
    n s is kept to within half a new voxel per axis (n' is an integer); the few new centres that
    fall beyond the last old centre take the edge value (``mode="nearest"``). Since the first
    centres coincide, the last new centre lies up to s - s'/2 beyond the last old one (from
    n' s' <= n s + s'/2): half an old voxel only when s' = s, nearly a whole one when
    upsampling (5 mm slices to 1.25 mm: up to 4.4 mm). Equals
    ``nibabel.processing.resample_from_to(img, (shape, new_affine), order=order,
    mode="nearest")``.
    """
    from ..geometry import voxel_spacing

    v = as_array(volume, "volume", dtype=None, real=True)
    if v.ndim == 0:
        raise ValueError("volume must have at least one dimension, got a scalar")
    aff = as_array(affine, "affine", ndim=2)
    if aff.shape != (v.ndim + 1, v.ndim + 1):
        raise ValueError(f"affine of shape {aff.shape} does not match volume of shape {v.shape}: "
                         f"a {v.ndim}D volume needs a ({v.ndim + 1}, {v.ndim + 1}) affine")
    old = voxel_spacing(aff)
    new = as_array(spacing_mm, "spacing_mm", ndim=(0, 1))
    new = np.full(v.ndim, float(new)) if new.ndim == 0 else new
    if new.shape != (v.ndim,) or np.any(new <= 0):
        raise ValueError(f"spacing_mm must be positive, one number or {v.ndim} values, "
                         f"got {np.asarray(spacing_mm).tolist()}")
    order = as_int(order, "order", low=0, high=1)
    limit = as_int(max_voxels, "max_voxels", low=1)
    ratio = new / old
    exact = np.maximum(np.array(v.shape) * old / new, 1.0)      # float: never wraps around
    with np.errstate(over="ignore"):
        size = float(np.prod(exact))                            # inf when it overflows
    shape = tuple(int(round(float(e))) for e in exact) if np.isfinite(size) else None
    if shape is None or math.prod(shape) > limit:
        raise ValueError(
            f"spacing_mm={new.tolist()} would resample the volume of shape {v.shape} (spacing "
            f"{old.tolist()} mm) to about {size:.3g} voxels, more than max_voxels={limit}: "
            "is spacing_mm in metres instead of millimetres? (1 mm is 1.0, not 0.001)")
    out = _resample_axes(v, ratio, shape, order)
    scale = np.eye(v.ndim + 1)
    scale[:v.ndim, :v.ndim] = np.diag(ratio)
    return out, aff @ scale


def mask_volume_ml(mask, spacing_mm) -> float:
    """Volume of a binary mask: number of voxels times the voxel volume, in millilitres.

    Parameters
    ----------
    mask : array_like
        Non-zero voxels count (a label map: compare with the label first).
    spacing_mm : array_like, shape (d,)
        Voxel spacing in mm along each axis of ``mask``.

    Returns
    -------
    float
        Volume in mL (1 mL = 1000 mm^3).

    Raises
    ------
    TypeError
        If ``mask`` is complex (its imaginary part would be silently ignored).
    ValueError
        If ``mask`` is a scalar or the spacing does not have one positive value per axis.
    """
    m = as_array(mask, "mask", dtype=None, real=True)
    if m.ndim == 0:
        raise ValueError("mask must have at least one dimension, got a scalar")
    s = as_array(spacing_mm, "spacing_mm", ndim=1, low=0, low_inclusive=False)
    if s.shape != (m.ndim,):
        raise ValueError(f"spacing_mm must have one value per axis of mask: mask has shape "
                         f"{m.shape} ({m.ndim} axes), spacing_mm has {s.size} values")
    return float(np.count_nonzero(m) * np.prod(s) / 1000.0)
