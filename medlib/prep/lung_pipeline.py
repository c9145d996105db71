"""The lung-nodule preprocessing pipeline of a chest CT, step by step: isotropic resampling
(nearest, linear, cubic), a 3D lung-parenchyma mask, nodule candidates inside it, normalisation
to [0, 1] and z-scores with training statistics, and patch extraction with labels.

Taught in ``chapters/prep-ct-xray/lung-pipeline.ipynb``, which composes these functions with the
intensity steps of :mod:`medlib.prep.ct_intensities` and the CLAHE of
:mod:`medlib.prep.xray_contrast` on a real chest CT with its tumour label. Linear and nearest
resampling are Part I's :func:`medlib.processing.resample_to_spacing`; morphology and labelling
are SciPy's. Tested against SciPy, scikit-image, SimpleITK and TorchIO.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validate import (
    MAX_ELEMENTS,
    as_array,
    as_choice,
    as_int,
    as_rng,
    as_scalar,
    as_spacing,
    check_size,
)
from ..geometry import voxel_spacing
from ..processing import resampling as _resampling

__all__ = [
    "candidate_hits",
    "crop_to_mask",
    "extract_patches",
    "lung_mask",
    "lung_volumes_l",
    "nodule_candidates",
    "normalize_hu",
    "resample_isotropic",
    "sample_patch_centres",
]


def _ellipsoid(radius_mm: float, spacing: np.ndarray, name: str) -> np.ndarray:
    """A ball of ``radius_mm`` on an anisotropic grid: an ellipsoid of voxels (always >= 1)."""
    half = np.floor(radius_mm / spacing)
    if np.any(half > 64):
        raise ValueError(f"{name} / spacing_mm asks for a structuring element of "
                         f"{(2 * half + 1).astype(int).tolist()} voxels (at most 129 per axis): "
                         "is spacing_mm in metres instead of millimetres?")
    half = half.astype(int)
    axes = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    dist2 = sum((a * s / radius_mm) ** 2 for a, s in zip(axes, spacing))
    return dist2 <= 1.0


def resample_isotropic(volume, affine, spacing_mm: float = 1.0, *,
                       interpolation: str = "linear"):
    """Resample a volume to isotropic voxels, keeping its origin and extent.

    Parameters
    ----------
    volume : array_like, shape (z, y, x)
        Intensities (HU) or a label map.
    affine : array_like, shape (4, 4)
        Voxel-to-world matrix (mm) of ``volume``, columns in (z, y, x) order.
    spacing_mm : float, optional
        The new spacing along every axis, in mm (default 1, the seed's and LUNA16's).
    interpolation : {"linear", "cubic", "nearest"}, optional
        "linear" (trilinear, default) and "nearest" (for label maps) are Part I's
        :func:`medlib.processing.resample_to_spacing`; "cubic" is cubic B-spline interpolation
        (:func:`scipy.ndimage.affine_transform`, ``order=3``, with the spline prefilter) on the
        same grid.

    Returns
    -------
    resampled : numpy.ndarray
        Shape round(n s / s') per axis; float64 (the label dtype for "nearest").
    new_affine : numpy.ndarray, shape (4, 4)
        Same origin and direction, new spacing.

    Raises
    ------
    ValueError
        If the affine does not fit the volume, the spacing is not positive, or the
        interpolation is unknown.

    Notes
    -----
    New voxel o lies at old index o s'/s; beyond the last old centre the edge value is
    repeated (``mode="nearest"``), as in Part I. Cubic B-splines interpolate (they pass through
    the samples after the prefilter) with a 4-sample support per axis (64 voxels in 3D), and
    overshoot at sharp edges: a cubic image of a [0, 1] step holds values below 0 and above 1.
    """
    kind = as_choice(interpolation, "interpolation", ("linear", "cubic", "nearest"))
    v = as_array(volume, "volume", ndim=3, dtype=None)
    if np.iscomplexobj(v):
        raise TypeError(f"volume must be real-valued, got dtype {v.dtype}")
    new = as_scalar(spacing_mm, "spacing_mm", low=0.0, low_inclusive=False)
    if kind != "cubic":
        return _resampling.resample_to_spacing(v, affine, new,
                                               order=0 if kind == "nearest" else 1)
    # The grid of Part I's resample_to_spacing: shape round(n s / s'), same origin.
    aff = as_array(affine, "affine", shape=(4, 4))
    old = voxel_spacing(aff)
    exact = np.maximum(np.array(v.shape) * old / new, 1.0)
    with np.errstate(over="ignore"):
        total = float(np.prod(exact))
    if not total <= MAX_ELEMENTS:
        raise ValueError(f"spacing_mm={new} would give about {total:.3g} voxels from shape "
                         f"{v.shape}: is it in metres instead of millimetres?")
    shape = tuple(int(round(float(e))) for e in exact)
    check_size(shape, "spacing_mm")
    new_affine = aff @ np.diag(np.append(new / old, 1.0))
    out = ndimage.affine_transform(v.astype(np.float64), new / old, offset=0.0,
                                   output_shape=shape, order=3, mode="nearest", prefilter=True)
    return out, new_affine


def lung_mask(hu, spacing_mm, *, threshold_hu: float = -500.0, min_object_mm3: float = 100.0,
              closing_radius_mm: float = 3.0, n_components: int = 2,
              min_fraction: float = 0.1) -> np.ndarray:
    """A 3D lung-parenchyma mask of a chest CT by thresholding and morphology.

    Parameters
    ----------
    hu : array_like, shape (z, y, x)
        CT numbers in HU.
    spacing_mm : float or array_like, shape (3,)
        Voxel spacing (z, y, x) in mm (anisotropic spacing is allowed: the structuring
        element is a ball in mm).
    threshold_hu : float, optional
        Air and lung lie below it (default -500 HU, the seed's).
    min_object_mm3 : float, optional
        Connected air pockets smaller than this (in mm^3) are removed (default 100 mm^3).
    closing_radius_mm : float, optional
        Radius of the spherical structuring element of the closing, in mm (default 3 mm);
        0 skips the closing.
    n_components : int, optional
        Keep at most this many largest components (default 2, the left and right lungs).
    min_fraction : float, optional
        Drop a kept component smaller than this fraction of the largest (default 0.1): when
        the lungs touch there is only one, and the second largest is bowel gas.

    Returns
    -------
    numpy.ndarray of bool, shape (z, y, x)

    Raises
    ------
    ValueError
        If ``hu`` is not 3D and finite, or an option is out of range.

    Notes
    -----
    :formula:`pre.lung-mask` The seed's steps, in its order: (1) threshold, HU < T, without
    the components that touch the volume's side faces (the air around the patient is below T
    too, and is the largest "lung" of all unless it is excluded first; the lungs never reach
    the side faces of a chest CT's field of view); (2) hole filling, per axial slice (the
    vessels and nodules inside the lung); (3) small-object removal; (4) closing with a ball;
    (5) the largest connected components. The closing is computed on a padded copy so that
    the volume's faces do not erode the mask.
    """
    h = as_array(hu, "hu", ndim=3)
    s = as_spacing(spacing_mm, "spacing_mm", 3)
    t = as_scalar(threshold_hu, "threshold_hu")
    min_mm3 = as_scalar(min_object_mm3, "min_object_mm3", low=0.0)
    radius = as_scalar(closing_radius_mm, "closing_radius_mm", low=0.0, high=50.0)
    n_keep = as_int(n_components, "n_components", low=1)
    frac = as_scalar(min_fraction, "min_fraction", low=0.0, high=1.0)

    low = h < t                                                               # (1)
    labels, n = ndimage.label(low)
    # Air outside the patient reaches the volume's side faces (y and x); the lungs do not.
    faces = np.concatenate([labels[:, [0, -1], :].ravel(), labels[:, :, [0, -1]].ravel()])
    outside = np.zeros(n + 1, dtype=bool)
    outside[faces] = True
    outside[0] = True
    mask = ~outside[labels]
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    mask = ndimage.binary_fill_holes(mask, structure=in_plane)               # (2)
    labels, n = ndimage.label(mask)                                           # (3)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes * np.prod(s) >= min_mm3
    keep[0] = False
    mask = keep[labels]
    if radius > 0 and mask.any():                                             # (4)
        # A closing never leaves the bounding box of its input: close the box only, padded
        # with background so that neither the box's nor the volume's faces erode the mask.
        ball = _ellipsoid(radius, s, "closing_radius_mm")
        box = []
        for axis in range(3):
            hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
            box.append(slice(hit[0], hit[-1] + 1))
        box = tuple(box)
        pad = [(r, r) for r in np.array(ball.shape) // 2]
        closed = ndimage.binary_closing(np.pad(mask[box], pad), structure=ball)
        mask = np.zeros_like(mask)
        mask[box] = closed[tuple(slice(a, a + b.stop - b.start) for (a, _), b in zip(pad, box))]
    labels, n = ndimage.label(mask)                                           # (5)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    order = np.argsort(sizes)[::-1][:n_keep]
    order = order[sizes[order] >= frac * sizes[order[0]]]
    keep = np.zeros(n + 1, dtype=bool)
    keep[order] = True
    return keep[labels]


def crop_to_mask(volume, mask, affine, *, margin_mm: float = 10.0):
    """Crop a volume to the bounding box of a mask plus a margin, with the affine of the crop.

    Parameters
    ----------
    volume : array_like, shape (z, y, x)
        Image or label map (the dtype is kept).
    mask : array_like of bool, shape (z, y, x)
        The region to keep (e.g. the lungs found on the acquired grid); not empty.
    affine : array_like, shape (4, 4)
        Voxel-to-world matrix (mm) of ``volume``, columns in (z, y, x) order.
    margin_mm : float, optional
        Margin added on every side, in mm (default 10), converted to voxels per axis with the
        spacing and clipped at the volume's faces.

    Returns
    -------
    cropped : numpy.ndarray
        A copy of ``volume[box]``.
    new_affine : numpy.ndarray, shape (4, 4)
        The same matrix with its origin moved to the box's first voxel: every cropped voxel
        keeps its place in the patient.
    box : tuple of slice
        The box in the original volume's indices (apply it to the label as well).

    Raises
    ------
    ValueError
        If the mask is empty or does not match, or the margin is negative.

    Notes
    -----
    Air around the patient and the abdomen below the lungs carry nothing for a lung task; a
    crop before resampling makes every later step proportionally cheaper.
    """
    v = as_array(volume, "volume", ndim=3, dtype=None)
    m = as_array(mask, "mask", shape=v.shape, dtype=None)
    if m.dtype != bool:
        raise TypeError(f"mask must be boolean, got dtype {m.dtype}")
    aff = as_array(affine, "affine", shape=(4, 4))
    margin = as_scalar(margin_mm, "margin_mm", low=0.0, high=1e4)
    if not m.any():
        raise ValueError("mask is empty: nothing to crop to")
    pad = np.ceil(margin / voxel_spacing(aff)).astype(int)
    box = []
    for axis in range(3):
        hit = np.flatnonzero(m.any(axis=tuple(a for a in range(3) if a != axis)))
        box.append(slice(max(hit[0] - pad[axis], 0),
                         min(hit[-1] + 1 + pad[axis], v.shape[axis])))
    box = tuple(box)
    new_affine = aff.copy()
    new_affine[:3, 3] = aff[:3, :3] @ np.array([b.start for b in box], dtype=float) + aff[:3, 3]
    return v[box].copy(), new_affine, box


def lung_volumes_l(mask, affine) -> tuple[float, float]:
    """Volumes of the right and left lung of a mask, in litres.

    Parameters
    ----------
    mask : array_like of bool, shape (z, y, x)
    affine : array_like, shape (4, 4)
        Voxel-to-world matrix in RAS+ mm (NIfTI's convention: world x grows towards the
        patient's right; DICOM's LPS is the opposite), columns in (z, y, x) order.

    Returns
    -------
    right_l, left_l : float
        Mask volume on each side of the sagittal plane through the middle of the mask's extent
        in world x (patient's right: larger x), in litres.

    Raises
    ------
    ValueError
        If the mask is empty or the affine does not fit.
    TypeError
        If the mask is not boolean.
    """
    m = as_array(mask, "mask", ndim=3, dtype=None)
    if m.dtype != bool:
        raise TypeError(f"mask must be boolean, got dtype {m.dtype}")
    aff = as_array(affine, "affine", shape=(4, 4))
    voxel_ml = abs(np.linalg.det(aff[:3, :3])) / 1000.0
    if voxel_ml == 0:
        raise ValueError("affine must be invertible")
    idx = np.nonzero(m)
    if idx[0].size == 0:
        raise ValueError("mask is empty")
    x = aff[0, 0] * idx[0] + aff[0, 1] * idx[1] + aff[0, 2] * idx[2] + aff[0, 3]
    mid = (x.min() + x.max()) / 2.0
    right = np.count_nonzero(x > mid)
    return right * voxel_ml / 1000.0, (idx[0].size - right) * voxel_ml / 1000.0


def nodule_candidates(hu, lungs, spacing_mm, *, threshold_hu: float = -400.0,
                      min_diameter_mm: float = 4.0,
                      max_diameter_mm: float = 30.0) -> tuple[np.ndarray, int]:
    """Nodule candidates inside a lung mask: dense blobs that survive an opening.

    Parameters
    ----------
    hu : array_like, shape (z, y, x)
        CT numbers in HU.
    lungs : array_like of bool, shape (z, y, x)
        Lung mask (:func:`lung_mask`), with the vessels and nodules inside it filled.
    spacing_mm : float or array_like, shape (3,)
        Voxel spacing (z, y, x) in mm.
    threshold_hu : float, optional
        Tissue denser than this counts (default -400 HU: solid and most part-solid nodules).
    min_diameter_mm, max_diameter_mm : float, optional
        Keep candidates whose equivalent-sphere diameter (6 V / pi)^(1/3) lies in this range
        (default 4 to 30 mm: the seed's follow-up size for new nodules; above 30 mm a lesion
        is a mass, not a nodule).

    Returns
    -------
    labels : numpy.ndarray of int32, shape (z, y, x)
        0 for background, 1..n for the candidates.
    n : int
        Number of candidates.

    Raises
    ------
    ValueError
        If the shapes differ, a value is not finite, or the diameters are not ordered.

    Notes
    -----
    Vessels are thin and long; a nodule is round. An opening with a ball of radius
    ``min_diameter_mm / 2`` removes every structure thinner than that and keeps the cores of
    blobs at least that wide; the connected components left are then filtered by size. This
    is the seed's "intensity thresholding combined with morphological filtering", the classical
    candidate stage before a network reduces false positives.
    """
    h = as_array(hu, "hu", ndim=3)
    m = as_array(lungs, "lungs", shape=h.shape, dtype=None)
    if m.dtype != bool:
        raise TypeError(f"lungs must be boolean, got dtype {m.dtype}")
    s = as_spacing(spacing_mm, "spacing_mm", 3)
    t = as_scalar(threshold_hu, "threshold_hu")
    d_min = as_scalar(min_diameter_mm, "min_diameter_mm", low=0.0, low_inclusive=False)
    d_max = as_scalar(max_diameter_mm, "max_diameter_mm", low=0.0, low_inclusive=False)
    if not d_min < d_max:
        raise ValueError(f"min_diameter_mm must be below max_diameter_mm, got {d_min} and "
                         f"{d_max}")
    dense = m & (h > t)
    opened = ndimage.binary_opening(dense, structure=_ellipsoid(d_min / 2.0, s, "min_diameter_mm"))
    labels, n = ndimage.label(opened)
    sizes = np.bincount(labels.ravel(), minlength=n + 1) * np.prod(s)
    diameter = np.cbrt(6.0 * sizes / np.pi)
    keep = (diameter >= d_min) & (diameter <= d_max)
    keep[0] = False
    new_ids = np.zeros(n + 1, dtype=np.int32)
    new_ids[keep] = np.arange(1, np.count_nonzero(keep) + 1, dtype=np.int32)
    return new_ids[labels], int(np.count_nonzero(keep))


def candidate_hits(candidates, truth) -> tuple[float, int]:
    """Sensitivity and false positives of candidates against a reference label.

    Parameters
    ----------
    candidates : array_like of int, shape (z, y, x)
        Candidate labels (0 background), as from :func:`nodule_candidates`.
    truth : array_like, shape (z, y, x)
        Reference lesions, non-zero inside (each face-connected component is one lesion).

    Returns
    -------
    sensitivity : float
        Fraction of reference lesions that overlap at least one candidate (NaN when there is
        no lesion).
    false_positives : int
        Candidates that overlap no lesion (per scan).

    Raises
    ------
    ValueError
        If the shapes differ or the candidates are not non-negative integers.
    """
    c = as_array(candidates, "candidates", ndim=3, dtype=None)
    if not np.issubdtype(c.dtype, np.integer) or (c.size and c.min() < 0):
        raise ValueError("candidates must be a non-negative integer label image")
    t = as_array(truth, "truth", shape=c.shape) != 0
    lesions, n_lesions = ndimage.label(t)
    overlap = (c > 0) & t
    hit_lesions = np.unique(lesions[overlap])
    hit_candidates = np.unique(c[overlap])
    n_candidates = np.unique(c[c > 0]).size
    sensitivity = hit_lesions.size / n_lesions if n_lesions else float("nan")
    return sensitivity, int(n_candidates - hit_candidates.size)


def normalize_hu(hu, low_hu: float = -1200.0, high_hu: float = 600.0) -> np.ndarray:
    """Min-max normalisation of clipped HU to [0, 1] with a fixed range.

    Parameters
    ----------
    hu : array_like
        CT numbers in HU.
    low_hu, high_hu : float, optional
        The range (default the seed's -1200 to 600 HU).

    Returns
    -------
    numpy.ndarray of float64
        (clip(hu, low, high) - low) / (high - low), in [0, 1].

    Raises
    ------
    ValueError
        If ``low_hu >= high_hu`` or a value is not finite.

    Notes
    -----
    :formula:`pre.hu-normalize` x = (clip(HU, -1200, 600) + 1200) / 1800. The range is fixed,
    not taken from the image, so the same tissue maps to the same value in every scan: HU are
    already a calibrated scale.
    """
    h = as_array(hu, "hu")
    lo = as_scalar(low_hu, "low_hu")
    hi = as_scalar(high_hu, "high_hu")
    if not lo < hi:
        raise ValueError(f"low_hu must be below high_hu, got low_hu={lo}, high_hu={hi}")
    return (np.clip(h, lo, hi) - lo) / (hi - lo)


def extract_patches(volume, centres, size: int, *, cval: float = 0.0) -> np.ndarray:
    """Cubic patches of a volume around given centres, padded with ``cval`` at the borders.

    Parameters
    ----------
    volume : array_like, shape (z, y, x)
        Image or label map (the dtype is kept).
    centres : array_like of int, shape (n, 3)
        Voxel indices (z, y, x) of the patch centres, inside the volume.
    size : int
        Edge length in voxels (>= 1; the seed's 32, 64, 128). The patch of centre c covers
        c - size // 2 to c - size // 2 + size - 1 along each axis.
    cval : float, optional
        Value outside the volume (default 0; use the air value for a HU volume).

    Returns
    -------
    numpy.ndarray, shape (n, size, size, size)

    Raises
    ------
    ValueError
        If a centre lies outside the volume or ``size`` is not a positive integer.

    Notes
    -----
    :formula:`pre.patches` P_k = V[c_k - s//2 : c_k - s//2 + s] along each axis. All patches
    are gathered with one fancy index (no loop over patches, no padded copy of the volume);
    indices outside the volume are clamped, then overwritten with ``cval``.
    """
    v = as_array(volume, "volume", ndim=3, dtype=None)
    n = as_int(size, "size", low=1, high=512)
    c = as_array(centres, "centres", ndim=2, shape=(None, 3), allow_empty=True)
    if np.any(c != np.round(c)):
        raise ValueError("centres must be integer voxel indices")
    if np.any(c < 0) or np.any(c >= np.array(v.shape)):
        raise ValueError(f"centres must lie inside the volume of shape {v.shape}")
    c = c.astype(np.int64)
    fill = as_scalar(cval, "cval")
    offsets = np.arange(n) - n // 2
    idx = [c[:, axis, None] + offsets for axis in range(3)]              # (n_patches, size)
    inside = [(i >= 0) & (i < length) for i, length in zip(idx, v.shape)]
    idx = [np.clip(i, 0, length - 1) for i, length in zip(idx, v.shape)]
    out = v[idx[0][:, :, None, None], idx[1][:, None, :, None], idx[2][:, None, None, :]]
    outside = ~(inside[0][:, :, None, None] & inside[1][:, None, :, None]
                & inside[2][:, None, None, :])
    if outside.any():
        out[outside] = np.asarray(fill).astype(v.dtype)
    return out


def sample_patch_centres(label, mask, n_patches: int, *, positive_fraction: float = 0.5,
                         rng=0) -> tuple[np.ndarray, np.ndarray]:
    """Random patch centres with a chosen fraction of positives (centres inside the label).

    Parameters
    ----------
    label : array_like, shape (z, y, x)
        Lesion label, non-zero inside.
    mask : array_like of bool, shape (z, y, x)
        Where negative centres may lie (e.g. the lung mask); voxels of the label are excluded.
    n_patches : int
        Number of centres (>= 1).
    positive_fraction : float, optional
        Fraction of centres drawn inside the label (default 0.5), rounded to whole patches;
        the seed's "positive/negative ratio" r corresponds to r / (1 + r).
    rng : numpy.random.Generator or int, optional
        Random generator or seed (default 0).

    Returns
    -------
    centres : numpy.ndarray of int64, shape (n_patches, 3)
    is_positive : numpy.ndarray of bool, shape (n_patches,)

    Raises
    ------
    ValueError
        If positives (or negatives) are asked for and there is no voxel to draw them from.

    Notes
    -----
    Drawn uniformly with replacement among the eligible voxels. A lesion covers a tiny
    fraction of a scan (here well under 1 %); uniform sampling would almost never show one to
    the network, hence the fixed positive fraction.
    """
    lab = as_array(label, "label", ndim=3) != 0
    m = as_array(mask, "mask", shape=lab.shape, dtype=None)
    if m.dtype != bool:
        raise TypeError(f"mask must be boolean, got dtype {m.dtype}")
    n = as_int(n_patches, "n_patches", low=1, high=10**6)
    frac = as_scalar(positive_fraction, "positive_fraction", low=0.0, high=1.0)
    gen = as_rng(rng)
    n_pos = int(round(frac * n))
    pos = np.flatnonzero(lab)
    neg = np.flatnonzero(m & ~lab)
    if n_pos and pos.size == 0:
        raise ValueError("label has no voxel to draw positive centres from")
    if n - n_pos and neg.size == 0:
        raise ValueError("mask has no voxel outside the label to draw negative centres from")
    flat = np.concatenate([gen.choice(pos, n_pos) if n_pos else np.empty(0, np.int64),
                           gen.choice(neg, n - n_pos) if n - n_pos else np.empty(0, np.int64)])
    centres = np.stack(np.unravel_index(flat, lab.shape), axis=1).astype(np.int64)
    return centres, np.arange(n) < n_pos
