"""Resampling in physical space: an image is an array *and* its place in the world.

Taught in ``chapters/prep-common/physical-resampling.ipynb`` (Part II, the common steps). An
image is its voxel array plus an origin, a spacing and a direction (together: one voxel-to-world
affine, :class:`PhysicalImage`). Resampling to a target spacing chooses a new grid
(:func:`target_grid`: new shape ``round(n s / s')``, anchored at the first voxel's centre as
SimpleITK and nibabel do, or at the volume's centre as TorchIO does) and computes the image on
it by backward mapping (:func:`resample_onto`, built on Part I's
:func:`medlib.processing.affine_resample`). Any grid can be the target, so an image goes to
isotropic voxels and back to its own grid with the same two functions. Tested against
SimpleITK's ``ResampleImageFilter``, nibabel's ``resample_from_to`` and TorchIO's ``Resample``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_array, as_choice, as_int, as_scalar, as_spacing
from ..geometry import voxel_spacing
from ..processing.resampling import MAX_VOXELS, _output_shape, affine_resample

__all__ = [
    "PhysicalImage",
    "physical_image",
    "resample_onto",
    "resample_physical",
    "target_grid",
]


def _affine(affine, ndim: int, name: str = "affine", other: str = "array") -> np.ndarray:
    """``affine`` as a float (d+1, d+1) homogeneous matrix with an invertible linear part."""
    m = as_array(affine, name, ndim=2).copy()
    if m.shape != (ndim + 1, ndim + 1):
        raise ValueError(f"{name} must have shape ({ndim + 1}, {ndim + 1}) to match the "
                         f"{ndim} dimensions of {other}, got {m.shape}")
    bottom = np.zeros(ndim + 1)
    bottom[-1] = 1.0
    if not np.allclose(m[-1], bottom):
        raise ValueError(f"{name} must have last row [0, ..., 0, 1], got {m[-1].tolist()}")
    cond = np.linalg.cond(m[:ndim, :ndim])
    if not np.isfinite(cond) or cond > 1e12:
        raise ValueError(f"{name} must have an invertible (non-degenerate) linear part")
    m.setflags(write=False)
    return m


@dataclass(frozen=True, eq=False)
class PhysicalImage:
    """An image in physical space: a voxel array and the affine that places it in the world.

    Parameters
    ----------
    array : array_like, d dimensions
        The voxel values, axes in NumPy order ``(z, y, x)`` (or ``(row, col)``). Stored as a
        read-only copy; integer label maps keep their dtype.
    affine : array_like, shape (d+1, d+1)
        Voxel-to-world matrix in mm: the world position of voxel index ``i`` (in the array's
        axis order) is ``affine @ [i, 1]``. Column ``a`` is ``spacing_mm[a]`` times the unit
        direction of axis ``a``; the last column is the origin, the centre of voxel 0.

    Raises
    ------
    TypeError
        If ``array`` is not numeric.
    ValueError
        If ``array`` is empty or not finite, or ``affine`` does not fit its dimensions or is
        degenerate.

    Notes
    -----
    ``affine = [[D diag(s), o], [0, 1]]`` with origin ``o``, spacing ``s`` and direction cosines
    ``D`` (columns): ITK's origin, spacing and direction with the index order reversed, nibabel's
    affine with its columns permuted (:func:`medlib.geometry.transpose_affine`).
    """

    array: np.ndarray
    affine: np.ndarray

    def __post_init__(self):
        a = as_array(self.array, "array", dtype=None)
        if a.ndim == 0:
            raise ValueError("array must have at least one dimension")
        if a.dtype == bool:
            a = a.astype(np.uint8)
        a = np.array(a, copy=True)
        a.setflags(write=False)
        object.__setattr__(self, "array", a)
        object.__setattr__(self, "affine", _affine(self.affine, a.ndim))

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of voxels along each axis."""
        return self.array.shape

    @property
    def spacing_mm(self) -> np.ndarray:
        """Voxel spacing in mm, in the array's axis order."""
        return voxel_spacing(self.affine)

    @property
    def origin_mm(self) -> np.ndarray:
        """World position (mm) of the centre of voxel ``(0, ..., 0)``."""
        return self.affine[:-1, -1].copy()

    @property
    def direction(self) -> np.ndarray:
        """Direction cosines: column ``a`` is the unit world vector of array axis ``a``."""
        d = self.array.ndim
        return self.affine[:d, :d] / self.spacing_mm

    def world(self, indices=None) -> np.ndarray:
        """World coordinates (mm) of voxel centres.

        Parameters
        ----------
        indices : array_like, shape (..., d), optional
            Voxel indices (may be fractional). Default: every voxel of the image.

        Returns
        -------
        numpy.ndarray
            Shape ``(..., d)`` for given indices; ``(*shape, d)`` for every voxel.
        """
        d = self.array.ndim
        if indices is None:
            idx = np.stack(np.indices(self.shape, dtype=np.float64), axis=-1)
        else:
            idx = as_array(indices, "indices")
            if idx.shape[-1:] != (d,):
                raise ValueError(f"indices must have shape (..., {d}), got {idx.shape}")
        return idx @ self.affine[:d, :d].T + self.affine[:d, d]


def physical_image(array, spacing_mm, origin_mm=None, direction=None) -> PhysicalImage:
    """Build a :class:`PhysicalImage` from an origin, a spacing and a direction (ITK's parts).

    Parameters
    ----------
    array : array_like, d dimensions
        Voxel values, axes in NumPy order.
    spacing_mm : float or array_like, shape (d,)
        Voxel spacing in mm along each array axis (a number for isotropic voxels).
    origin_mm : array_like, shape (d,), optional
        World position (mm) of the centre of voxel 0 (default: all zeros).
    direction : array_like, shape (d, d), optional
        Orthonormal direction cosines, column ``a`` for array axis ``a`` (default: identity).

    Returns
    -------
    PhysicalImage
        With affine ``[[direction @ diag(spacing_mm), origin_mm], [0, 1]]``.

    Raises
    ------
    ValueError
        If a spacing is not positive, a shape does not match, or ``direction`` is not
        orthonormal.
    """
    a = as_array(array, "array", dtype=None)
    if a.ndim == 0:
        raise ValueError("array must have at least one dimension")
    d = a.ndim
    s = as_spacing(spacing_mm, "spacing_mm", d)
    o = np.zeros(d) if origin_mm is None else as_array(origin_mm, "origin_mm", shape=(d,))
    r = np.eye(d) if direction is None else as_array(direction, "direction", shape=(d, d))
    if not np.allclose(r.T @ r, np.eye(d), atol=1e-6):
        raise ValueError("direction must be orthonormal (its columns unit vectors at right "
                         "angles)")
    affine = np.eye(d + 1)
    affine[:d, :d] = r * s
    affine[:d, d] = o
    return PhysicalImage(a, affine)


def _shape(shape, d: int | None, name: str = "shape") -> tuple[int, ...]:
    """``shape`` as a tuple of positive Python ints (d of them when ``d`` is given)."""
    if isinstance(shape, (str, bytes)) or np.ndim(shape) != 1 or len(shape) == 0:
        raise ValueError(f"{name} must be a sequence of positive integers, got {shape!r}")
    try:
        return _output_shape(shape, len(shape) if d is None else d)
    except ValueError:
        raise ValueError(f"{name} must hold {d or len(shape)} positive integers, "
                         f"got {shape!r}") from None


def _image(image) -> PhysicalImage:
    if not isinstance(image, PhysicalImage):
        raise TypeError(f"image must be a PhysicalImage, got {type(image).__name__}")
    return image


def target_grid(shape, affine, spacing_mm, *, anchor: str = "origin",
                max_voxels: int = MAX_VOXELS) -> tuple[tuple[int, ...], np.ndarray]:
    """The grid of a given spacing that covers the same physical extent as ``(shape, affine)``.

    Parameters
    ----------
    shape : sequence of int, length d
        Number of voxels of the original grid, in array axis order.
    affine : array_like, shape (d+1, d+1)
        Voxel-to-world matrix (mm) of the original grid.
    spacing_mm : float or array_like, shape (d,)
        Target spacing in mm along each array axis (a number for isotropic voxels).
    anchor : {"origin", "centre"}, optional
        What the new grid keeps exactly: the centre of voxel 0 (``"origin"``, default; nibabel,
        SimpleITK with the input's origin, :func:`medlib.processing.resample_to_spacing`) or
        the centre of the volume (``"centre"``; TorchIO's ``Resample``), which splits the
        rounding of the extent evenly between both ends.
    max_voxels : int, optional
        Largest grid allowed (default 2**28): a spacing in metres fails at once.

    Returns
    -------
    new_shape : tuple of int
        ``round(n_a s_a / s'_a)`` per axis (at least 1).
    new_affine : numpy.ndarray, shape (d+1, d+1)
        Same direction cosines, spacing ``s'``; origin kept (``"origin"``) or shifted so that
        the volume's centre is kept (``"centre"``).

    Raises
    ------
    ValueError
        If a spacing is not positive, shapes do not match, ``anchor`` is unknown or the grid
        would exceed ``max_voxels``.

    Notes
    -----
    :formula:`pre.isotropic-resample` -- :math:`n'_a = \\operatorname{round}(n_a s_a / s'_a)`,
    :math:`\\mathbf{M}' = \\mathbf{M}\\,\\operatorname{diag}(s'/s, 1)` plus, for ``"centre"``,
    the origin shift :math:`\\mathbf{D}\\,[(n-1)s - (n'-1)s']/2`. The extent :math:`n s` is
    kept to within half a new voxel per axis.

    References
    ----------
    SimpleITK ``ResampleImageFilter``; TorchIO ``transforms.Resample`` (Perez-Garcia et al.,
    Comput. Methods Programs Biomed. 208, 106236, 2021).
    """
    shp = np.array(_shape(shape, None))
    d = len(shp)
    m = _affine(affine, d, other="shape")
    new = as_spacing(spacing_mm, "spacing_mm", d)
    anchor = as_choice(anchor, "anchor", ("origin", "centre"))
    limit = as_int(max_voxels, "max_voxels", low=1)
    old = voxel_spacing(m)
    exact = np.maximum(shp * old / new, 1.0)
    with np.errstate(over="ignore"):
        size = float(np.prod(exact))
    if not np.isfinite(size) or size > limit:
        raise ValueError(f"spacing_mm={new.tolist()} would turn the grid of shape "
                         f"{tuple(shp.tolist())} into about {size:.3g} voxels, more than "
                         f"max_voxels={limit}: is spacing_mm in metres instead of mm?")
    new_shape = tuple(max(int(round(float(e))), 1) for e in exact)
    out = m.copy()
    out[:d, :d] = m[:d, :d] * (new / old)
    if anchor == "centre":
        shift_vox = ((shp - 1) * old - (np.array(new_shape) - 1) * new) / 2   # mm, per axis
        out[:d, d] = m[:d, d] + (m[:d, :d] / old) @ shift_vox
    return new_shape, out


def resample_onto(image, shape, affine, *, order: int = 1, mode: str = "nearest",
                  cval: float = 0.0, max_voxels: int = MAX_VOXELS) -> PhysicalImage:
    """Resample ``image`` onto any target grid: each new voxel takes the value at its world point.

    Parameters
    ----------
    image : PhysicalImage
        The image to resample.
    shape : sequence of int, length d
        Shape of the target grid.
    affine : array_like, shape (d+1, d+1)
        Voxel-to-world matrix (mm) of the target grid (same world frame as ``image.affine``).
    order : {0, 1}, optional
        1: linear (trilinear) for intensities (default); 0: nearest neighbour for label maps,
        which keeps the label set.
    mode : {"nearest", "constant"}, optional
        World points outside the image take the nearest edge value (default) or ``cval``
        (SimpleITK's default pixel value).
    cval : float, optional
        Fill value for ``mode="constant"``.
    max_voxels : int, optional
        Largest target allowed, in voxels.

    Returns
    -------
    PhysicalImage
        Values on the target grid (float64 for ``order=1``; the input dtype for ``order=0``).

    Raises
    ------
    TypeError
        If ``image`` is not a :class:`PhysicalImage`.
    ValueError
        If the grid does not match the image's dimensions or is too large, or an option is
        unknown.

    Notes
    -----
    Backward mapping (:formula:`proc.backward-mapping`): target voxel :math:`\\mathbf{o}` sits
    at world point :math:`\\mathbf{M}'\\mathbf{o}`, which is input index
    :math:`\\mathbf{M}^{-1}\\mathbf{M}'\\mathbf{o}`; Part I's
    :func:`medlib.processing.affine_resample` interpolates there.
    """
    img = _image(image)
    d = img.array.ndim
    shp = _shape(shape, d)
    m = _affine(affine, d, other="image")
    limit = as_int(max_voxels, "max_voxels", low=1)
    if math.prod(shp) > limit:
        raise ValueError(f"shape {shp} asks for {math.prod(shp):.3g} voxels, more than "
                         f"max_voxels={limit}")
    order = as_int(order, "order", low=0, high=1)
    mode = as_choice(mode, "mode", ("nearest", "constant"))
    fill = as_scalar(cval, "cval")
    back = np.linalg.solve(img.affine, m)                       # target index -> input index
    out = affine_resample(img.array, back[:d, :d], back[:d, d], shp, order=order, mode=mode,
                          cval=fill, max_voxels=limit)
    return PhysicalImage(out, m)


def resample_physical(image, spacing_mm, *, order: int = 1, anchor: str = "origin",
                      max_voxels: int = MAX_VOXELS) -> PhysicalImage:
    """Resample an image to a target spacing, keeping its physical extent and world position.

    Parameters
    ----------
    image : PhysicalImage
        The image (or label map) to resample.
    spacing_mm : float or array_like, shape (d,)
        Target spacing in mm along each array axis (a number for isotropic voxels).
    order : {0, 1}, optional
        1: linear for intensities (default); 0: nearest neighbour for label maps.
    anchor : {"origin", "centre"}, optional
        Which point the new grid keeps exactly (see :func:`target_grid`).
    max_voxels : int, optional
        Largest result allowed, in voxels.

    Returns
    -------
    PhysicalImage
        On the grid of :func:`target_grid`; every new voxel has the value of the old image at
        its world position (edge values for the few centres beyond the last old one).

    Raises
    ------
    TypeError
        If ``image`` is not a :class:`PhysicalImage`.
    ValueError
        As :func:`target_grid` and :func:`resample_onto`.

    Notes
    -----
    :formula:`pre.isotropic-resample`. With ``anchor="origin"`` this is Part I's
    :func:`medlib.processing.resample_to_spacing` on a :class:`PhysicalImage`. Resample an
    image and its label maps with the same ``spacing_mm`` and ``anchor`` so they share the grid.
    """
    img = _image(image)
    shape, affine = target_grid(img.shape, img.affine, spacing_mm, anchor=anchor,
                                max_voxels=max_voxels)
    return resample_onto(img, shape, affine, order=order, mode="nearest",
                         max_voxels=max_voxels)
