"""Image geometry: from voxel indices to millimetres in the patient, and the matrices that move,
rotate and scale images.

Taught in ``chapters/foundations/geometry.ipynb`` (section 2.1 of the key formulas).

Two index orders meet here, and most geometry bugs come from mixing them up:

* DICOM writes its matrix for ``(i, j, k) = (column, row, slice)`` and the LPS world (x grows to
  the patient's Left, y to Posterior, z to Superior).
* NumPy indexes a pydicom image as ``pixels[row, col]`` and a stacked series as
  ``volume[slice, row, col]``: the reverse order. :func:`transpose_affine` turns one affine into
  the other; :func:`lps_to_ras` turns DICOM's world into NIfTI's RAS world.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_array, as_choice, as_int, as_scalar

__all__ = [
    "apply_affine",
    "dicom_affine",
    "flip_affine",
    "homogeneous",
    "invert_homogeneous",
    "lps_to_ras",
    "rotation_matrix",
    "scaling_matrix",
    "slice_geometry",
    "transpose_affine",
    "voxel_spacing",
    "voxel_to_world",
    "world_to_voxel",
]

_LPS_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _as_homogeneous(affine, name: str = "affine") -> np.ndarray:
    m = as_array(affine, name, ndim=2)
    n = m.shape[0]
    if m.shape != (n, n) or n < 2:
        raise ValueError(f"{name} must be a square (d+1, d+1) matrix, got shape {m.shape}")
    bottom = np.zeros(n)
    bottom[-1] = 1.0
    if not np.allclose(m[-1], bottom):
        raise ValueError(f"{name} must have last row [0, ..., 0, 1], got {m[-1].tolist()}")
    return m


def voxel_to_world(affine, indices) -> np.ndarray:
    """Map voxel indices to world coordinates with a homogeneous affine.

    Parameters
    ----------
    affine : array_like, shape (d+1, d+1)
        Homogeneous matrix whose last row is ``[0, ..., 0, 1]``; for volumes d = 3.
    indices : array_like, shape (..., d)
        Voxel indices (may be fractional), in the index order the affine's columns expect.

    Returns
    -------
    numpy.ndarray, shape (..., d)
        World coordinates (mm for DICOM and NIfTI affines).

    Raises
    ------
    ValueError
        If ``affine`` is not a square homogeneous matrix, ``indices`` does not end in d, or either
        holds non-finite values.

    Notes
    -----
    :formula:`geometry.voxel-to-world` -- :math:`[x, y, z, 1]^T = M [i, j, k, 1]^T`, taught in
    the Foundations chapter, section 2.1.
    """
    return _map_points(_as_homogeneous(affine), indices, "indices")


def _map_points(m: np.ndarray, points, name: str) -> np.ndarray:
    """Apply the homogeneous matrix m to points of shape (..., d), named ``name`` in errors."""
    d = m.shape[0] - 1
    x = as_array(points, name)
    if x.ndim == 0 or x.shape[-1] != d:
        raise ValueError(f"{name} must have shape (..., {d}) for a {d + 1}x{d + 1} affine, "
                         f"got {x.shape}")
    return x @ m[:d, :d].T + m[:d, d]


def world_to_voxel(affine, points) -> np.ndarray:
    """Map world coordinates to (fractional) voxel indices: the inverse of :func:`voxel_to_world`.

    Parameters
    ----------
    affine : array_like, shape (d+1, d+1)
        Invertible homogeneous matrix.
    points : array_like, shape (..., d)
        World coordinates.

    Returns
    -------
    numpy.ndarray, shape (..., d)
        Fractional voxel indices; round them to address the array.

    Raises
    ------
    ValueError
        If ``affine`` is not an invertible homogeneous matrix or the shapes do not match.

    Notes
    -----
    :formula:`geometry.voxel-to-world` (inverted with :func:`invert_homogeneous`).
    """
    return _map_points(invert_homogeneous(affine), points, "points")


def _direction_cosines(image_orientation) -> tuple[np.ndarray, np.ndarray]:
    iop = as_array(image_orientation, "image_orientation", shape=(6,))
    row_dir, col_dir = iop[:3], iop[3:]
    for name, v in (("row direction image_orientation[:3]", row_dir),
                    ("column direction image_orientation[3:]", col_dir)):
        if abs(np.linalg.norm(v) - 1.0) > 1e-3:
            raise ValueError(f"the {name} must be a unit vector, has norm {np.linalg.norm(v):.6g}")
    if abs(row_dir @ col_dir) > 1e-3:
        raise ValueError("image_orientation's row and column directions must be orthogonal, "
                         f"their dot product is {row_dir @ col_dir:.3g}")
    return row_dir, col_dir


def dicom_affine(image_orientation, image_position, pixel_spacing, slice_step=None) -> np.ndarray:
    """The DICOM voxel-to-patient matrix M for index order (i, j, k) = (column, row, slice).

    Parameters
    ----------
    image_orientation : array_like, shape (6,)
        Image Orientation (Patient) (0020,0037): the direction cosines of a row (towards
        increasing column index i) followed by those of a column (towards increasing row j).
    image_position : array_like, shape (3,)
        Image Position (Patient) (0020,0032): centre of the first transmitted voxel, mm, LPS.
    pixel_spacing : array_like, shape (2,)
        Pixel Spacing (0028,0030) *as stored*: (spacing between rows, spacing between columns)
        in mm, i.e. (delta_j, delta_i). The reversed order is DICOM's, not a typo.
    slice_step : float or array_like of shape (3,), optional
        Distance between slice centres in mm along the slice normal (row x column direction), or
        the full 3-vector from one slice's position to the next (handles gantry tilt). Default: a
        unit step along the normal, which is all a single slice needs.

    Returns
    -------
    numpy.ndarray, shape (4, 4)
        M with ``[x, y, z, 1] = M @ [i, j, k, 1]``, x/y/z in mm in DICOM's LPS world.

    Raises
    ------
    ValueError
        If the direction cosines are not orthonormal, a spacing is not positive, or a shape is
        wrong.

    Notes
    -----
    :formula:`geometry.dicom-affine` -- :math:`M = [R\\,\\mathrm{diag}(\\Delta x, \\Delta y,
    \\Delta z)\\;\\; T;\\; 0\\;1]` with the columns of R = (row cosine, column cosine, normal),
    (Delta x, Delta y) = (pixel_spacing[1], pixel_spacing[0]) and T = image_position. The book
    (Foundations 2.1) explains why Pixel Spacing is stored as (row, column) spacing.

    To address a NumPy array ``pixels[row, col]`` (or ``volume[slice, row, col]``) use
    ``transpose_affine(M, (1, 0, 2))`` (or ``(2, 1, 0)``).

    References
    ----------
    DICOM PS3.3, C.7.6.2.1.1 "Image Position and Image Orientation".
    """
    row_dir, col_dir = _direction_cosines(image_orientation)
    ipp = as_array(image_position, "image_position", shape=(3,))
    ps = as_array(pixel_spacing, "pixel_spacing", shape=(2,), low=0, low_inclusive=False)
    normal = np.cross(row_dir, col_dir)
    if slice_step is None:
        step = normal
    elif np.ndim(slice_step) == 0:
        step = normal * as_scalar(slice_step, "slice_step", low=0.0, low_inclusive=False)
    else:
        step = as_array(slice_step, "slice_step", shape=(3,))
        if np.linalg.norm(step) == 0:
            raise ValueError("slice_step must not be the zero vector")
    m = np.eye(4)
    m[:3, 0] = row_dir * ps[1]   # i: along a row, column spacing
    m[:3, 1] = col_dir * ps[0]   # j: down a column, row spacing
    m[:3, 2] = step
    m[:3, 3] = ipp
    return m


def slice_geometry(image_positions, image_orientation, *, rtol: float = 0.01):
    """Order DICOM slices in space and find the step between them.

    Files of a series come in any order (file names and Instance Numbers are not positions).
    Slices are sorted by the projection of their Image Position (Patient) on the slice normal.

    Parameters
    ----------
    image_positions : array_like, shape (n, 3)
        Image Position (Patient) of each slice, mm, in file order; n >= 2.
    image_orientation : array_like, shape (6,)
        The common Image Orientation (Patient).
    rtol : float, optional
        Largest relative deviation of any step from the mean step (default 1 %).

    Returns
    -------
    order : numpy.ndarray of int, shape (n,)
        Indices that sort the slices along the normal (``positions[order]`` is in space order).
    step : numpy.ndarray, shape (3,)
        Mean vector from one sorted slice position to the next, mm (the ``slice_step`` of
        :func:`dicom_affine`); its length is the slice spacing.

    Raises
    ------
    ValueError
        If fewer than two slices, two slices share a position, or the spacing is not uniform
        within ``rtol`` (a gap or a mixed series: do not build one affine for it).

    Notes
    -----
    Supports ``geometry.dicom-affine`` (its third column). Slice Thickness is *not* the
    spacing: slices may overlap or leave gaps.
    """
    pos = as_array(image_positions, "image_positions", ndim=2)
    if pos.shape[1] != 3 or pos.shape[0] < 2:
        raise ValueError(f"image_positions must have shape (n >= 2, 3), got {pos.shape}")
    rtol = as_scalar(rtol, "rtol", low=0.0)
    row_dir, col_dir = _direction_cosines(image_orientation)
    normal = np.cross(row_dir, col_dir)
    along = pos @ normal
    order = np.argsort(along, kind="stable")
    steps = np.diff(pos[order], axis=0)
    gaps = np.diff(along[order])
    if np.any(gaps <= 1e-6):
        raise ValueError("image_positions holds two slices at the same position along the "
                         "normal: the series has duplicates or mixes acquisitions")
    if np.max(np.abs(gaps - gaps.mean())) > rtol * gaps.mean():
        raise ValueError(f"slice spacing is not uniform (steps {np.round(gaps, 4).tolist()} mm); "
                         "a single affine cannot describe this series")
    return order, steps.mean(axis=0)


def transpose_affine(affine, axes) -> np.ndarray:
    """The affine of ``array.transpose(axes)``, given the affine of ``array``.

    Parameters
    ----------
    affine : array_like, shape (d+1, d+1)
        Homogeneous affine of the original array.
    axes : sequence of int
        A permutation of ``range(d)``, as passed to :func:`numpy.transpose`.

    Returns
    -------
    numpy.ndarray, shape (d+1, d+1)
        The affine whose columns are permuted so that every voxel keeps its world position.

    Raises
    ------
    TypeError
        If ``axes`` is not a sequence of integers (2.5, NaN and strings are refused, not
        truncated).
    ValueError
        If ``axes`` is not a permutation of ``range(d)``.

    Notes
    -----
    Element ``t[n0, n1, ...]`` of the transposed array is ``a[idx]`` with ``idx[axes[p]] = n_p``,
    so column ``p`` of the new affine is column ``axes[p]`` of the old one. Supports
    ``geometry.voxel-to-world``.
    """
    m = _as_homogeneous(affine)
    d = m.shape[0] - 1
    if isinstance(axes, (str, bytes)) or np.ndim(axes) != 1:
        raise TypeError(f"axes must be a permutation of {list(range(d))}, got {axes!r}")
    perm = [as_int(a, "axes") for a in axes]            # 2.5, NaN and '1' are refused
    if sorted(perm) != list(range(d)):
        raise ValueError(f"axes must be a permutation of {list(range(d))}, got {perm}")
    return m[:, perm + [d]].copy()


def flip_affine(affine, shape, axis: int) -> np.ndarray:
    """The affine of ``numpy.flip(array, axis)``, given the affine and shape of ``array``.

    Parameters
    ----------
    affine : array_like, shape (d+1, d+1)
        Homogeneous affine of the original array.
    shape : sequence of int, length d
        Shape of the array (only ``shape[axis]`` matters).
    axis : int
        The flipped axis.

    Returns
    -------
    numpy.ndarray, shape (d+1, d+1)
        Affine under which every voxel keeps its world position after the flip.

    Raises
    ------
    ValueError
        If ``axis`` is out of range or ``shape`` does not have d positive entries.

    Notes
    -----
    New index ``n' = shape[axis] - 1 - n``, hence ``M' = M F`` with F the homogeneous flip.
    Supports ``geometry.affine-homogeneous``.
    """
    m = _as_homogeneous(affine)
    d = m.shape[0] - 1
    shp = as_array(shape, "shape", shape=(d,), dtype=None)
    if not np.issubdtype(shp.dtype, np.integer) or np.any(shp < 1):
        raise ValueError(f"shape must hold {d} positive integers, got {list(shape)}")
    axis = as_int(axis, "axis", low=-d, high=d - 1) % d
    flip = np.eye(d + 1)
    flip[axis, axis] = -1.0
    flip[axis, d] = shp[axis] - 1
    return m @ flip


def lps_to_ras(affine) -> np.ndarray:
    """Convert a 4x4 affine between DICOM's LPS world and NIfTI's RAS world.

    Parameters
    ----------
    affine : array_like, shape (4, 4)
        Affine whose world axes are (L, P, S) (or (R, A, S): the map is its own inverse).

    Returns
    -------
    numpy.ndarray, shape (4, 4)
        ``diag(-1, -1, 1, 1) @ affine``: x and y change sign, z does not.

    Raises
    ------
    ValueError
        If ``affine`` is not a 4x4 homogeneous matrix.

    Notes
    -----
    :formula:`geometry.lps-to-ras` -- only the *world* axes change; the voxel order does not.
    """
    m = _as_homogeneous(affine)
    if m.shape != (4, 4):
        raise ValueError(f"affine must be 4x4, got shape {m.shape}")
    return _LPS_RAS @ m


def voxel_spacing(affine) -> np.ndarray:
    """Voxel spacing along each index axis: the lengths of the affine's first d columns.

    Parameters
    ----------
    affine : array_like, shape (d+1, d+1)

    Returns
    -------
    numpy.ndarray, shape (d,)
        Spacing in world units (mm) in the affine's index order.

    Raises
    ------
    ValueError
        If ``affine`` is not a homogeneous matrix.

    Notes
    -----
    Supports ``geometry.dicom-affine`` (the ``diag`` factor).
    """
    m = _as_homogeneous(affine)
    d = m.shape[0] - 1
    return np.linalg.norm(m[:d, :d], axis=0)


def scaling_matrix(scales) -> np.ndarray:
    """The diagonal scaling matrix S = diag(s_x, s_y, ...).

    Parameters
    ----------
    scales : array_like, shape (d,)
        Scale factor per axis; must be non-zero (negative values mirror the axis).

    Returns
    -------
    numpy.ndarray, shape (d, d)

    Raises
    ------
    ValueError
        If a factor is zero (the transform would not be invertible) or not finite.

    Notes
    -----
    :formula:`geometry.scaling`
    """
    s = as_array(scales, "scales", ndim=1)
    if np.any(s == 0):
        raise ValueError(f"scales must be non-zero, got {s.tolist()}")
    return np.diag(s)


def rotation_matrix(theta: float, axis: str = "z") -> np.ndarray:
    """Right-handed 3x3 rotation by ``theta`` radians about the x, y or z axis.

    Parameters
    ----------
    theta : float
        Angle in radians; positive turns counter-clockwise when looking down the axis towards the
        origin.
    axis : {"x", "y", "z"}, optional
        Rotation axis (default "z"). The upper-left 2x2 block of the z rotation is the 2D
        rotation of the image plane.

    Returns
    -------
    numpy.ndarray, shape (3, 3)
        An orthogonal matrix with determinant +1.

    Raises
    ------
    ValueError
        If ``axis`` is not one of "x", "y", "z" or ``theta`` is not finite.

    Notes
    -----
    :formula:`geometry.rotation-z` --
    :math:`R_z(\\theta) = [[\\cos\\theta, -\\sin\\theta, 0], [\\sin\\theta, \\cos\\theta, 0],
    [0, 0, 1]]`; the x and y rotations permute the same block.
    """
    t = as_scalar(theta, "theta")
    axis = as_choice(axis, "axis", ("x", "y", "z"))
    c, s = np.cos(t), np.sin(t)
    if axis == "z":
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    if axis == "x":
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _matrix_and_offset(matrix, offset) -> tuple[np.ndarray, np.ndarray]:
    a = as_array(matrix, "matrix", ndim=2)
    d = a.shape[0]
    if a.shape != (d, d):
        raise ValueError(f"matrix must be square (d, d), got shape {a.shape}")
    b = as_array(offset, "offset", shape=(d,))
    return a, b


def apply_affine(matrix, offset, points) -> np.ndarray:
    """Apply the affine transform x' = A x + b to points.

    Parameters
    ----------
    matrix : array_like, shape (d, d)
        The linear part A (rotation, scaling, shear).
    offset : array_like, shape (d,)
        The translation b.
    points : array_like, shape (..., d)
        Points x, one per row.

    Returns
    -------
    numpy.ndarray, shape (..., d)
        Transformed points x'.

    Raises
    ------
    ValueError
        If the shapes do not agree or values are not finite.

    Notes
    -----
    :formula:`geometry.affine`
    """
    a, b = _matrix_and_offset(matrix, offset)
    x = as_array(points, "points")
    if x.ndim == 0 or x.shape[-1] != a.shape[0]:
        raise ValueError(f"points must have shape (..., {a.shape[0]}), got {x.shape}")
    return x @ a.T + b


def homogeneous(matrix, offset) -> np.ndarray:
    """Pack A and b into the (d+1)x(d+1) homogeneous matrix [[A, b], [0, 1]].

    Parameters
    ----------
    matrix : array_like, shape (d, d)
    offset : array_like, shape (d,)

    Returns
    -------
    numpy.ndarray, shape (d+1, d+1)
        Composition of transforms becomes a matrix product: ``H2 @ H1`` applies H1 first.

    Raises
    ------
    ValueError
        If the shapes do not agree or values are not finite.

    Notes
    -----
    :formula:`geometry.affine-homogeneous`
    """
    a, b = _matrix_and_offset(matrix, offset)
    d = a.shape[0]
    h = np.eye(d + 1)
    h[:d, :d] = a
    h[:d, d] = b
    return h


def invert_homogeneous(affine) -> np.ndarray:
    """Inverse of a homogeneous affine by its block form [[A^-1, -A^-1 b], [0, 1]].

    Parameters
    ----------
    affine : array_like, shape (d+1, d+1)

    Returns
    -------
    numpy.ndarray, shape (d+1, d+1)

    Raises
    ------
    ValueError
        If ``affine`` is not homogeneous or its linear part is singular.

    Notes
    -----
    :formula:`geometry.affine-homogeneous` -- solving x = A x' + b for x' gives
    x' = A^-1 x - A^-1 b, again an affine map.
    """
    m = _as_homogeneous(affine)
    d = m.shape[0] - 1
    a, b = m[:d, :d], m[:d, d]
    if np.linalg.cond(a) > 1e12:
        raise ValueError("affine's linear part is singular (or nearly): it cannot be inverted")
    a_inv = np.linalg.inv(a)
    out = np.eye(d + 1)
    out[:d, :d] = a_inv
    out[:d, d] = -a_inv @ b
    return out
