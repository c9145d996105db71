"""Data augmentation with exact labels: one sampled transform for an image and all its labels.

Taught in ``chapters/prep-common/augmentation.ipynb`` (Part II, the common steps). A spatial
augmentation is *sampled once* as a map from output voxels to input positions (an affine part
from :func:`random_affine`, rotations, scaling, translation and flips in millimetres, plus an
optional elastic displacement field from :func:`elastic_displacement`) and then *applied* to
the image with linear interpolation and to every label map with nearest neighbour
(:func:`spatial_augment`), so labels keep their values exactly and stay on the image.
Intensity augmentations: :func:`gamma_transform`, and MR artefacts made physically in k-space
with Part I's :mod:`medlib.mri.kspace` (:func:`motion_artifact`, :func:`ghosting_artifact`).
Noise and bias fields come from :mod:`medlib.noise` and :mod:`medlib.prep.bias_field`.
Randomness only through an ``rng``. Tested against SciPy, TorchIO and closed forms.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np
from scipy import ndimage

from .._validate import (
    MAX_ELEMENTS,
    as_array,
    as_axis,
    as_choice,
    as_rng,
    as_scalar,
    as_spacing,
    check_size,
)
from ..mri.kspace import kspace_coordinates, kspace_forward, kspace_inverse
from ..processing.resampling import interpolate_nearest
from .physical_resampling import _shape

__all__ = [
    "elastic_displacement",
    "gamma_transform",
    "ghosting_artifact",
    "motion_artifact",
    "random_affine",
    "sampling_coordinates",
    "spatial_augment",
]


def _grid_shape(shape, name: str = "shape") -> tuple[int, ...]:
    dims = _shape(shape, None, name)
    if len(dims) not in (2, 3):
        raise ValueError(f"{name} must have 2 or 3 axes, got {dims}")
    check_size(dims, name, max_elements=MAX_ELEMENTS)
    return dims


def _plane_rotation(d: int, i: int, j: int, theta: float) -> np.ndarray:
    r = np.eye(d)
    c, s = math.cos(theta), math.sin(theta)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


def random_affine(shape, rng, *, spacing_mm=1.0, rotation_deg: float = 15.0,
                  scale_range=(0.9, 1.1), translation_mm: float = 0.0,
                  flip_axes=()) -> tuple[np.ndarray, np.ndarray]:
    """Sample one random rotation, scaling, translation and flip about the image's centre.

    Parameters
    ----------
    shape : sequence of int, length 2 or 3
        Shape of the image (axes in NumPy order); the output has the same shape.
    rng : numpy.random.Generator or int
        Source of randomness.
    spacing_mm : float or array_like, shape (d,), optional
        Voxel spacing in mm (default 1): rotations act in millimetres, so an anisotropic
        volume is rotated as the patient would be, not as its array.
    rotation_deg : float, optional
        Largest rotation angle in degrees in each plane of two axes (one plane in 2D, three in
        3D); angles are drawn uniformly in ``[-rotation_deg, rotation_deg]`` (default 15).
    scale_range : (float, float), optional
        Isotropic scale factor drawn uniformly in this range (default (0.9, 1.1)); above 1
        enlarges the content.
    translation_mm : float, optional
        Largest shift in mm along each axis, drawn uniformly (default 0).
    flip_axes : sequence of int, optional
        Axes that are each flipped with probability 1/2 (default none). Only axes along which
        the anatomy allows it (see the notebook): usually none, or the left-right axis of a
        brain, with left/right labels swapped.

    Returns
    -------
    matrix : numpy.ndarray, shape (d, d)
        A, mapping an output index o to the input index A o + b (backward mapping, the
        convention of :func:`medlib.processing.affine_resample` and
        :func:`scipy.ndimage.affine_transform`).
    offset : numpy.ndarray, shape (d,)
        b, in input voxels.

    Raises
    ------
    ValueError
        On a bad shape, a negative range, or a scale range that is not positive and ordered.
    TypeError
        If ``rng`` is not a Generator or a seed.

    Notes
    -----
    :formula:`pre.spatial-augment` -- the content moves by
    :math:`\\mathbf{x}' = s\\,\\mathbf{R}\\,\\mathbf{F}(\\mathbf{x} - \\mathbf{c}) + \\mathbf{c}
    + \\mathbf{t}` (mm, about the centre :math:`\\mathbf{c}`), so output index
    :math:`\\mathbf{o}` reads input index :math:`\\mathbf{S}^{-1}\\mathbf{F}\\mathbf{R}^T
    \\mathbf{S}(\\mathbf{o} - \\mathbf{c}_i - \\mathbf{S}^{-1}\\mathbf{t})/s + \\mathbf{c}_i`
    with :math:`\\mathbf{S} = \\operatorname{diag}(\\text{spacing})` and
    :math:`\\mathbf{c}_i = (n - 1)/2`. Random draws, in this order: one angle per plane of two
    axes, the scale, the translation, one coin per flip axis.
    """
    dims = _grid_shape(shape)
    d = len(dims)
    gen = as_rng(rng)
    s_mm = as_spacing(spacing_mm, "spacing_mm", d)
    rot = math.radians(as_scalar(rotation_deg, "rotation_deg", low=0.0, high=180.0))
    sr = as_array(scale_range, "scale_range", shape=(2,), low=0.0, low_inclusive=False)
    if sr[0] > sr[1] or sr[1] > 10.0:
        raise ValueError(f"scale_range must be (low, high) with 0 < low <= high <= 10, got "
                         f"{sr.tolist()}")
    t_max = as_scalar(translation_mm, "translation_mm", low=0.0, high=1e4)
    if isinstance(flip_axes, (str, bytes)) or np.ndim(flip_axes) != 1:
        raise TypeError(f"flip_axes must be a sequence of axes, got {flip_axes!r}")
    axes = sorted({as_axis(a, d, "flip_axes") for a in flip_axes})
    if any(isinstance(a, (int, np.integer)) and a < 0 for a in flip_axes):
        raise ValueError(f"flip_axes must hold axes 0 to {d - 1}, got {list(flip_axes)}")

    r = np.eye(d)
    for i, j in combinations(range(d), 2):
        r = r @ _plane_rotation(d, i, j, gen.uniform(-rot, rot))
    scale = gen.uniform(sr[0], sr[1])
    t = gen.uniform(-t_max, t_max, d)
    f = np.ones(d)
    for a in axes:
        f[a] = -1.0 if gen.random() < 0.5 else 1.0

    centre = (np.array(dims) - 1) / 2.0
    matrix = (np.diag(f / s_mm) @ r.T @ np.diag(s_mm)) / scale
    offset = centre - matrix @ (centre + t / s_mm)
    return matrix, offset


def elastic_displacement(shape, rng, *, alpha: float, sigma_vox: float) -> np.ndarray:
    """A random smooth displacement field: Gaussian-smoothed white noise times ``alpha``.

    Parameters
    ----------
    shape : sequence of int, length 2 or 3
        Shape of the image.
    rng : numpy.random.Generator or int
        Source of randomness.
    alpha : float
        Scale of the field (>= 0), in voxels times the smoothed noise (see Notes for the
        resulting displacement in voxels).
    sigma_vox : float
        Standard deviation of the Gaussian smoothing in voxels (> 0): the length over which
        the deformation is coherent.

    Returns
    -------
    numpy.ndarray, shape ``(d, *shape)``
        Displacement u_a(x) in voxels along each axis a: output voxel x reads the input at
        x + u(x).

    Raises
    ------
    ValueError
        On a bad shape, a negative ``alpha`` or a non-positive ``sigma_vox``.

    Notes
    -----
    :formula:`pre.elastic` -- :math:`u_a = \\alpha\\,(G_\\sigma * n_a)`, :math:`n_a(\\mathbf{x})
    \\sim \\mathcal{N}(0, 1)` independent per voxel and axis (Simard et al. 2003). The
    standard deviation of each component is :math:`\\alpha\\,(\\sum g^2)^{1/2} \\approx
    \\alpha\\,(2\\sqrt{\\pi}\\sigma)^{-d/2}`: the same ``alpha`` moves a 2D image far more
    than a 3D volume. The noise is smoothed with periodic borders (``mode="wrap"``), which
    keeps the field's statistics the same at every voxel; zero padding (``mode="constant"``,
    the seed's) weakens it towards the edges, mirroring (``"reflect"``) strengthens it.
    Random draws: one standard normal array of ``shape`` per axis, in axis order.

    References
    ----------
    P. Y. Simard, D. Steinkraus, J. C. Platt, "Best practices for convolutional neural
    networks applied to visual document analysis", ICDAR 2003.
    """
    dims = _grid_shape(shape)
    gen = as_rng(rng)
    a = as_scalar(alpha, "alpha", low=0.0, high=1e6)
    sigma = as_scalar(sigma_vox, "sigma_vox", low=0.0, low_inclusive=False, high=1e3)
    return np.stack([a * ndimage.gaussian_filter(gen.standard_normal(dims), sigma,
                                                 mode="wrap") for _ in dims])


def sampling_coordinates(shape, matrix=None, offset=None, displacement=None) -> np.ndarray:
    """The input position that every output voxel reads: T(o) = A o + b + u(o).

    Parameters
    ----------
    shape : sequence of int, length d
        Shape of the output grid.
    matrix : array_like, shape (d, d), optional
        A of a backward affine map (default identity), e.g. from :func:`random_affine`.
    offset : array_like, shape (d,), optional
        b, in input voxels (default zeros).
    displacement : array_like, shape ``(d, *shape)``, optional
        u, in input voxels, e.g. from :func:`elastic_displacement` (default none).

    Returns
    -------
    numpy.ndarray, shape ``(d, *shape)``
        Fractional input indices, as :func:`scipy.ndimage.map_coordinates` takes them.

    Raises
    ------
    ValueError
        If a shape does not match or a value is not finite.

    Notes
    -----
    Supports :formula:`pre.spatial-augment`: one transform T, sampled once, is what the
    image and all its label maps are read through.
    """
    dims = _shape(shape, None)
    check_size(dims, "shape", max_elements=MAX_ELEMENTS)
    d = len(dims)
    a = np.eye(d) if matrix is None else as_array(matrix, "matrix", shape=(d, d))
    b = np.zeros(d) if offset is None else as_array(offset, "offset", shape=(d,))
    grid = np.indices(dims, dtype=np.float64)
    coords = np.einsum("ij,j...->i...", a, grid) + b.reshape((d,) + (1,) * d)
    if displacement is not None:
        coords += as_array(displacement, "displacement", shape=(d,) + dims)
    return coords


def spatial_augment(image, coords, labels=(), *, mode: str = "constant", cval: float = 0.0,
                    label_cval: float = 0.0):
    """Apply one sampled spatial transform to an image and all its label maps.

    Parameters
    ----------
    image : array_like, d dimensions
        The intensities, resampled with linear interpolation.
    coords : array_like, shape (d, ...)
        The input index each output voxel reads (:func:`sampling_coordinates`).
    labels : tuple or list of array_like, optional
        Label maps on the image's grid (same shape), resampled with nearest neighbour: every
        output value is one of the input's values (or ``label_cval`` outside the field of
        view).
    mode : {"constant", "nearest"}, optional
        Positions outside the input grid [0, n - 1]: the fill values (default), or the nearest
        edge voxel (no fill value ever appears).
    cval : float, optional
        Image value outside the field of view for ``mode="constant"`` (e.g. -1024 for CT).
    label_cval : float, optional
        Label value outside the field of view (default 0, background).

    Returns
    -------
    image_out : numpy.ndarray, float64, shape coords.shape[1:]
    labels_out : tuple of numpy.ndarray
        One per label map, same dtype as its input.

    Raises
    ------
    TypeError
        If ``labels`` is not a tuple or list.
    ValueError
        If shapes do not match, values are not finite or ``mode`` is unknown.

    Notes
    -----
    :formula:`pre.spatial-augment` -- :math:`I'(\\mathbf{o}) = I(T(\\mathbf{o}))` (linear,
    :formula:`proc.trilinear`) and :math:`L'_m(\\mathbf{o}) = L_m(\\operatorname{round}
    T(\\mathbf{o}))` for every label map :math:`m`, with the same :math:`T`. With
    :formula:`pre.elastic`, :math:`T(\\mathbf{o}) = \\mathbf{o} + \\mathbf{u}(\\mathbf{o})`.
    Linear interpolation is SciPy's ``map_coordinates(order=1)`` (equal to
    :func:`medlib.sampling.interpolate_linear`, in C); nearest neighbour is Part I's
    :func:`medlib.processing.interpolate_nearest`, which can only copy input values.
    """
    img = as_array(image, "image")
    if img.ndim == 0:
        raise ValueError("image must have at least one dimension")
    c = as_array(coords, "coords")
    if c.ndim < 2 or c.shape[0] != img.ndim:
        raise ValueError(f"coords must have shape ({img.ndim}, ...) for a {img.ndim}D image, "
                         f"got {c.shape}")
    if not isinstance(labels, (tuple, list)):
        raise TypeError(f"labels must be a tuple or list of label maps, got "
                        f"{type(labels).__name__}")
    maps = []
    for i, lab in enumerate(labels):
        m = as_array(lab, f"labels[{i}]", dtype=None)
        if m.shape != img.shape:
            raise ValueError(f"labels[{i}] must have the image's shape {img.shape}, got "
                             f"{m.shape}")
        if np.iscomplexobj(m):
            raise TypeError(f"labels[{i}] must be real-valued")
        maps.append(m.astype(np.uint8) if m.dtype == bool else m)
    mode = as_choice(mode, "mode", ("constant", "nearest"))
    fill = as_scalar(cval, "cval")
    label_fill = as_scalar(label_cval, "label_cval")
    for i, m in enumerate(maps):
        if np.issubdtype(m.dtype, np.integer) and not (
                label_fill.is_integer() and np.iinfo(m.dtype).min <= label_fill
                <= np.iinfo(m.dtype).max):
            raise ValueError(f"label_cval must be a value of labels[{i}]'s dtype {m.dtype} "
                             f"(an integer label), got {label_cval}")
    if mode == "nearest":
        c = np.clip(c, 0, np.reshape(np.array(img.shape) - 1, (-1,) + (1,) * (c.ndim - 1)))
    out = ndimage.map_coordinates(img, c, order=1, mode="constant", cval=fill)
    # map_coordinates(order=1, mode="constant") still interpolates within 1e-9 of the edges
    # (and then blends in cval); the labels decide inside/outside by [0, n - 1], so do we.
    inside = np.ones(c.shape[1:], dtype=bool)
    for axis, n in enumerate(img.shape):
        inside &= (c[axis] >= 0) & (c[axis] <= n - 1)
    out = np.where(inside, out, fill)
    return out, tuple(interpolate_nearest(m, c, cval=label_fill) for m in maps)


def gamma_transform(image, gamma: float) -> np.ndarray:
    """Gamma contrast change on the image's own range: min + range * ((x - min) / range)^gamma.

    Parameters
    ----------
    image : array_like
        Intensities (any real values).
    gamma : float
        Exponent (> 0); below 1 brightens the dark values, above 1 darkens them. Augmentation
        usually draws ``log(gamma)`` uniformly in about [-0.3, 0.3] (TorchIO's
        ``RandomGamma``).

    Returns
    -------
    numpy.ndarray, float64
        Same shape, same minimum and maximum; a constant image is returned unchanged.

    Raises
    ------
    ValueError
        If ``gamma`` is not positive or ``image`` is not finite.
    """
    x = as_array(image, "image")
    g = as_scalar(gamma, "gamma", low=0.0, low_inclusive=False, high=100.0)
    lo, hi = float(x.min()), float(x.max())
    if hi == lo:
        return x.copy()
    u = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return lo + (hi - lo) * u ** g


def _kspace_lines(shape, axis: int, pick) -> np.ndarray:
    """A boolean array over k-space, True on the phase-encode lines ``pick`` selects."""
    n = shape[axis]
    lines = pick(np.arange(n))
    view = [1] * len(shape)
    view[axis] = n
    return np.broadcast_to(lines.reshape(view), shape)


def motion_artifact(image, shift_mm, *, spacing_mm=1.0, axis: int = 0,
                    start_fraction: float = 0.5) -> np.ndarray:
    """Rigid motion during an MR acquisition, made in k-space: part of the lines see a shift.

    Parameters
    ----------
    image : array_like, 2D or 3D
        The object (magnitude image), axes in NumPy order.
    shift_mm : array_like, shape (d,)
        Translation of the object (mm, per axis) after it moved.
    spacing_mm : float or array_like, shape (d,), optional
        Voxel spacing in mm (default 1).
    axis : int, optional
        The phase-encode axis: k-space is filled one line (fixed index along this axis) per
        repetition, in order (default 0).
    start_fraction : float, optional
        Fraction of the lines acquired before the motion, in [0, 1] (default 0.5: the object
        moves half way through, as the central line k = 0 is reached).

    Returns
    -------
    numpy.ndarray, float64
        The magnitude of the reconstruction (what the scanner shows): ghosts and blurring
        along the phase-encode axis.

    Raises
    ------
    ValueError
        On a bad shape, axis, fraction or non-finite values.

    Notes
    -----
    Shift theorem: an object moved by :math:`\\mathbf{t}` has k-space
    :math:`S(\\mathbf{k})\\,e^{-2\\pi i\\,\\mathbf{k}\\cdot\\mathbf{t}}`. The lines acquired
    after the motion get this phase, the others not; the inverse transform of the mixture is
    the artefact. ``start_fraction=0`` moves the whole object (an exact shift); 1 leaves it.
    Uses Part I's :func:`medlib.mri.kspace_forward` / :func:`medlib.mri.kspace_inverse`.
    """
    x = as_array(image, "image", ndim=(2, 3))
    d = x.ndim
    t = as_array(shift_mm, "shift_mm", ndim=1, low=-1e4, high=1e4)
    if t.shape != (d,):
        raise ValueError(f"shift_mm must hold one shift per axis of the {d}D image, got "
                         f"{t.shape[0]} values")
    s = as_spacing(spacing_mm, "spacing_mm", d)
    ax = as_axis(axis, d, "axis")
    frac = as_scalar(start_fraction, "start_fraction", low=0.0, high=1.0)
    k = kspace_forward(x, s)
    phase = np.zeros(x.shape)
    for a in range(d):
        view = [1] * d
        view[a] = x.shape[a]
        phase = phase + kspace_coordinates(x.shape[a], s[a]).reshape(view) * t[a]
    start = int(round(frac * x.shape[ax]))
    moved = _kspace_lines(x.shape, ax, lambda i: i >= start)
    k = np.where(moved, k * np.exp(-2j * np.pi * phase), k)
    return np.abs(kspace_inverse(k, s))


def ghosting_artifact(image, intensity: float, *, period: int = 2,
                      axis: int = 0) -> np.ndarray:
    """Ghosts made in k-space: every ``period``-th phase-encode line scaled by 1 - intensity.

    Parameters
    ----------
    image : array_like, 2D or 3D
        The object (magnitude image).
    intensity : float
        Fraction in [0, 1] by which the affected lines are attenuated (an inconsistency
        between line groups: EPI's odd and even echoes, or a periodic motion).
    period : int, optional
        Every ``period``-th line (index 1, 1 + period, ...) is affected (default 2); ghosts
        appear at multiples of n / period voxels along ``axis``.
    axis : int, optional
        The phase-encode axis (default 0).

    Returns
    -------
    numpy.ndarray, float64
        Magnitude of the reconstruction.

    Raises
    ------
    ValueError
        On a bad shape, axis, period or intensity.

    Notes
    -----
    With ``period=2``, scaling the odd lines by :math:`1 - a` splits the image into
    :math:`(1 - a/2)\\,I(\\mathbf{x}) \\pm (a/2)\\,I(\\mathbf{x} + \\tfrac{N}{2}\\mathbf{e})`:
    the object and one ghost shifted by half the field of view (the Nyquist or N/2 ghost).
    """
    x = as_array(image, "image", ndim=(2, 3))
    a = as_scalar(intensity, "intensity", low=0.0, high=1.0)
    ax = as_axis(axis, x.ndim, "axis")
    p = as_scalar(period, "period", low=2, high=x.shape[ax] if x.shape[ax] >= 2 else 2)
    if p != int(p):
        raise ValueError(f"period must be an integer >= 2, got {period}")
    p = int(p)
    k = kspace_forward(x)                     # the spacing would only change k's units
    hit = _kspace_lines(x.shape, ax, lambda i: i % p == 1)
    return np.abs(kspace_inverse(np.where(hit, k * (1.0 - a), k)))
