"""Data for segmentation: real 2D images with real labels, and splits that cannot leak.

Used in ``chapters/segmentation/datasets.ipynb`` (section 14.1) and by the other sections of the
chapter (cost functions, architectures), which train on these sets. No formula of its own.

Every builder returns a :class:`SliceSet`: float32 images (N, C, H, W), int64 labels (N, H, W),
and for every slice the subject it comes from (``groups``) and its axial position (``z_mm``), so
that a split by subject (:func:`patient_split`) or by a distant region of one subject
(:func:`region_split`) is made from the record, not from slice indices. Images are axial, rows
run anterior to posterior and columns from the patient's right to left (radiological view),
whatever the file's voxel order.

* :func:`brain_tissue_slices`: background/CSF, grey matter, white matter on the MNI152 T1
  template (an average of 152 brains, labels = argmax of its tissue probability maps), or on
  Colin27 (one real subject in MNI space, labels = the template's, approximate);
* :func:`lung_slices`: both lungs on the chest CTs of two patients (lung2, lung1), labelled by
  :func:`medlib.prep.lung_mask` (Part II's lung-parenchyma mask, section 11.3);
* :func:`tumour_slices`: a small structure: the lung tumour of lung2, the brain tumours of
  brain_mr1 and brain_mr2 (the expert labels shipped with the images).

For the section's experiments: :func:`simulate_annotators`, :func:`pairwise_dice` and
:func:`staple` (label ambiguity, STAPLE checked against SimpleITK), :func:`predict_labels` (the
class map of a multi-class network) and :func:`class_dice` (the Dice of every class, pooled or
per image). The networks trained on these sets are those of :mod:`.architectures` (the section
uses a small :class:`UNet` as its instrument), trained with :func:`medlib.nn.fit`.

The loaded volumes are cached (read-only) for the session: building a set twice costs the
resampling only.
"""
from __future__ import annotations

import dataclasses
import functools

import nibabel as nib
import numpy as np
import torch
from scipy import ndimage

from .. import data as _data
from .._validate import as_array, as_bool, as_choice, as_int, as_mask, as_rng, as_scalar
from ..dl import metrics as _metrics
from ..nn._validate import as_module
from ..prep.lung_pipeline import lung_mask as _prep_lung_mask

__all__ = [
    "SliceSet",
    "StapleResult",
    "brain_tissue_slices",
    "class_dice",
    "concat",
    "lung_slices",
    "pairwise_dice",
    "patient_split",
    "predict_labels",
    "region_split",
    "simulate_annotators",
    "staple",
    "tumour_slices",
]

BRAIN_CLASSES = ("background/CSF", "grey matter", "white matter")
_FOV_MM = 192.0            # square field of view of the brain slices (x and y), 1 mm samples
_FOV_CENTRE_MM = (0.0, -17.0)   # (x, y) centre of that field in MNI space: the brain's centre
_SIZES_BRAIN = (32, 48, 64, 96, 192)
_SIZES_256 = (32, 64, 128, 256)


# ---------------------------------------------------------------------------------------------
# The record
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SliceSet:
    """A set of labelled 2D slices and where each comes from.

    Attributes
    ----------
    images : numpy.ndarray of float32, shape (N, C, H, W)
        C channels (sequences) per slice.
    labels : numpy.ndarray of int64, shape (N, H, W)
        Class index per pixel, 0 = background, ``len(classes)`` classes.
    groups : numpy.ndarray of str, shape (N,)
        The subject (patient) of each slice: the unit of a patient-level split.
    z_mm : numpy.ndarray of float64, shape (N,)
        Axial position of each slice in its subject's scanner (or MNI) coordinates, mm.
    classes : tuple of str
        Class names, index 0 first.
    spacing_mm : tuple of float
        Pixel spacing (row, column) in mm.
    """

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    z_mm: np.ndarray
    classes: tuple
    spacing_mm: tuple

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, index) -> SliceSet:
        """The slices at ``index`` (integer indices or a boolean mask), as a new SliceSet."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"index as a mask must have shape ({len(self)},), got "
                                 f"{idx.shape}")
            idx = np.flatnonzero(idx)
        idx = as_array(idx, "index", ndim=1, dtype=np.int64) if idx.size else idx.astype(int)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise ValueError(f"index must lie in [0, {len(self)}), got {idx.min()}..{idx.max()}")
        return SliceSet(self.images[idx], self.labels[idx], self.groups[idx], self.z_mm[idx],
                        self.classes, self.spacing_mm)


def concat(*sets: SliceSet) -> SliceSet:
    """Concatenate SliceSets with the same classes, spacing and image size.

    Parameters
    ----------
    *sets : SliceSet
        At least one.

    Returns
    -------
    SliceSet

    Raises
    ------
    TypeError
        If an argument is not a SliceSet.
    ValueError
        If none is given, or classes, spacing or shapes differ.
    """
    if not sets:
        raise ValueError("sets: give at least one SliceSet")
    for s in sets:
        if not isinstance(s, SliceSet):
            raise TypeError(f"sets must be SliceSet objects, got {type(s).__name__}")
    first = sets[0]
    for s in sets[1:]:
        if (s.classes != first.classes or s.spacing_mm != first.spacing_mm
                or s.images.shape[1:] != first.images.shape[1:]):
            raise ValueError("sets must share classes, spacing_mm and image shape (C, H, W)")
    return SliceSet(np.concatenate([s.images for s in sets]),
                    np.concatenate([s.labels for s in sets]),
                    np.concatenate([s.groups for s in sets]),
                    np.concatenate([s.z_mm for s in sets]), first.classes, first.spacing_mm)


# ---------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------
def patient_split(groups, test_groups) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and test slices, split by subject: no subject is on both sides.

    Parameters
    ----------
    groups : array_like of str, shape (N,)
        The subject of each slice (``SliceSet.groups``).
    test_groups : str or sequence of str
        The held-out subjects; each must occur in ``groups``.

    Returns
    -------
    train_index, test_index : numpy.ndarray of int64
        Disjoint, together all N indices; every slice of a test subject is in ``test_index``.

    Raises
    ------
    TypeError
        If ``groups`` does not hold strings.
    ValueError
        If ``groups`` is empty or not 1D, a test subject does not occur, or no subject is left
        for training.
    """
    g = np.asarray(groups)
    if g.ndim != 1 or g.size == 0:
        raise ValueError(f"groups must be a non-empty 1D array of subject names, got shape "
                         f"{g.shape}")
    if g.dtype.kind not in "UO" or not all(isinstance(v, str) for v in g.tolist()):
        raise TypeError("groups must hold subject names (str)")
    if isinstance(test_groups, str):
        tests = [test_groups]
    else:
        arr = np.asarray(test_groups, dtype=object)
        if arr.ndim != 1:
            raise TypeError("test_groups must be a subject name or a sequence of names (str)")
        tests = list(arr)
    if not tests or not all(isinstance(t, str) for t in tests):
        raise TypeError("test_groups must be a subject name or a sequence of names (str)")
    missing = sorted(set(tests) - set(g.tolist()))
    if missing:
        raise ValueError(f"test_groups {missing} do not occur in groups "
                         f"{sorted(set(g.tolist()))}")
    is_test = np.isin(g, np.array(tests, dtype=g.dtype))
    if is_test.all():
        raise ValueError("test_groups hold every subject: none is left for training")
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def region_split(z_mm, test_mm, *, gap_mm: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and test slices of ONE subject, split by distant axial regions.

    Test slices are those with ``test_mm[0] <= z <= test_mm[1]``; training slices are those at
    least ``gap_mm`` away from that interval; slices in between are used by neither, so that
    no training slice neighbours a test slice.

    Parameters
    ----------
    z_mm : array_like, shape (N,)
        Axial position of each slice, mm (``SliceSet.z_mm``).
    test_mm : (float, float)
        The held-out interval, mm, low <= high.
    gap_mm : float, optional
        Minimum distance between a training and a test slice, mm, >= 0 (default 20).

    Returns
    -------
    train_index, test_index : numpy.ndarray of int64
        Disjoint; ``min |z_train - z_test| >= gap_mm``.

    Raises
    ------
    ValueError
        If ``z_mm`` is empty or not finite, the interval is reversed, or either side is empty.

    Notes
    -----
    A region split is weaker than a patient split (the same anatomy and scanner on both sides),
    and is the only honest split of a single subject such as the MNI152 template.
    """
    z = as_array(z_mm, "z_mm", ndim=1)
    if z.size == 0:
        raise ValueError("z_mm must not be empty")
    lo_hi = as_array(test_mm, "test_mm", shape=(2,))
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    if lo > hi:
        raise ValueError(f"test_mm must be (low, high) with low <= high, got {test_mm}")
    gap = as_scalar(gap_mm, "gap_mm", low=0.0, high=1e6)
    is_test = (z >= lo) & (z <= hi)
    is_train = (z <= lo - gap) | (z >= hi + gap)
    if not is_test.any():
        raise ValueError(f"test_mm {test_mm} holds no slice (z_mm spans {z.min()}..{z.max()})")
    if not is_train.any():
        raise ValueError(f"no slice lies gap_mm={gap} mm or more outside test_mm {test_mm}")
    return np.flatnonzero(is_train), np.flatnonzero(is_test)


# ---------------------------------------------------------------------------------------------
# Loading (cached, read-only)
# ---------------------------------------------------------------------------------------------
@functools.cache
def _load_axial(name: str) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Volume as (z, y, x): z inferior to superior, rows anterior first, columns from the
    patient's right to left; its z positions (mm) and voxel size (z, y, x) mm; read-only."""
    img = nib.as_closest_canonical(nib.load(_data.path(name)))
    vol = np.asarray(img.dataobj).transpose(2, 1, 0)           # (x, y, z) -> (z, y, x)
    vol = vol[:, ::-1, :]                                       # rows: anterior first
    aff = img.affine
    zooms = tuple(float(v) for v in img.header.get_zooms()[:3])
    z = np.round(aff[2, 3] + aff[2, 2] * np.arange(vol.shape[0]), 3)
    vol = np.ascontiguousarray(vol)
    vol.flags.writeable = False
    z.flags.writeable = False
    return vol, z, (zooms[2], zooms[1], zooms[0])


@functools.cache
def _load_mni_world(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A 1 mm volume in MNI space, (z, y, x) indexed, and its affine (RAS, diagonal)."""
    img = nib.load(_data.path(name))
    aff = img.affine
    if not np.allclose(aff[:3, :3], np.eye(3)):
        raise RuntimeError(f"{name}: expected a 1 mm RAS grid")
    vol = np.ascontiguousarray(np.asarray(img.dataobj).transpose(2, 1, 0))
    vol.flags.writeable = False
    return vol, aff


def _mni_slices(name: str, z_mm: np.ndarray) -> np.ndarray:
    """Axial 1 mm slices (len(z), 192, 192) of an MNI-space volume on the common field of view
    (rows anterior first, columns patient's right first), linear in z, zero outside."""
    vol, aff = _load_mni_world(name)
    half = _FOV_MM / 2
    x = _FOV_CENTRE_MM[0] - half + np.arange(int(_FOV_MM))            # on the 1 mm voxels
    y = _FOV_CENTRE_MM[1] + half - np.arange(int(_FOV_MM))            # anterior first
    ix = x - aff[0, 3]
    iy = y - aff[1, 3]
    iz = np.asarray(z_mm, dtype=float) - aff[2, 3]
    zz, yy, xx = np.meshgrid(iz, iy, ix, indexing="ij")
    return ndimage.map_coordinates(vol.astype(np.float32), [zz, yy, xx], order=1,
                                   mode="constant", cval=0.0)


def _block_mean(stack: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor in-plane blocks of a (N, H, W) stack."""
    if factor == 1:
        return stack.astype(np.float64)
    n, h, w = stack.shape
    return stack.reshape(n, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


def _zscore_per_image(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(x - mean_fg) / sd_fg per image over its mask, 0 outside the mask (vectorised)."""
    m = masks.astype(np.float64)
    count = np.maximum(m.sum(axis=(1, 2), keepdims=True), 1.0)
    mean = (images * m).sum(axis=(1, 2), keepdims=True) / count
    var = (((images - mean) ** 2) * m).sum(axis=(1, 2), keepdims=True) / count
    sd = np.sqrt(var)
    sd = np.where(sd > 0, sd, 1.0)
    return np.where(masks, (images - mean) / sd, 0.0)


def _z_positions(z_range_mm, step_mm, name_range="z_range_mm", name_step="step_mm"):
    lo_hi = as_array(z_range_mm, name_range, shape=(2,), low=-200.0, high=200.0)
    lo, hi = float(lo_hi[0]), float(lo_hi[1])
    if lo > hi:
        raise ValueError(f"{name_range} must be (low, high) with low <= high, got {z_range_mm}")
    step = as_scalar(step_mm, name_step, low=1.0, high=100.0)
    n = int(np.floor((hi - lo) / step + 1e-9)) + 1
    if n > 400:
        raise ValueError(f"{name_range} / {name_step} asks for {n} slices, more than 400")
    return lo + step * np.arange(n)


# ---------------------------------------------------------------------------------------------
# Brain tissue (MNI152, Colin27)
# ---------------------------------------------------------------------------------------------
def brain_tissue_slices(subject: str = "mni152", *, z_range_mm=(-20.0, 60.0),
                        step_mm: float = 4.0, size: int = 64, normalize: str = "zscore",
                        sequences=("t1",)) -> SliceSet:
    """Axial brain slices with three tissue classes: background/CSF, grey and white matter.

    Parameters
    ----------
    subject : {"mni152", "colin27"}, optional
        ``"mni152"``: the MNI ICBM152 2009a T1 template (an average of 152 brains; skull
        removed with the brain mask below). ``"colin27"``: one real subject (27 averaged scans)
        in MNI space, brain-extracted, the out-of-subject test set.
    z_range_mm : (float, float), optional
        Axial range in MNI coordinates, mm (default -20 to 60: from the temporal lobes to the
        vertex's lower half), within [-200, 200].
    step_mm : float, optional
        Distance between slices, mm, 1 to 100 (default 4).
    size : {32, 48, 64, 96, 192}, optional
        Pixels per side of the 192 mm square field of view (64: 3 mm pixels, 96: 2 mm).
    normalize : {"zscore", "none"}, optional
        ``"zscore"`` (default): each image minus the mean, over the standard deviation, of its
        own brain pixels, 0 outside the brain. ``"none"``: the stored values (MNI152 0-255,
        Colin27 0-133: two scanners' scales), 0 outside the brain.
    sequences : sequence of "t1" or (tr_ms, te_ms), optional
        One channel each: ``"t1"`` the real image; ``(tr_ms, te_ms)`` a spin-echo image at 3 T
        synthesised from the template's tissue maps by :func:`medlib.mri.spin_echo_image`
        (MNI152 only), another scanner's contrast of the same anatomy.

    Returns
    -------
    SliceSet
        images (N, C, size, size) float32, labels (N, size, size) int64 in {0, 1, 2},
        groups all equal to ``subject``, z_mm the slice positions, classes
        ``BRAIN_CLASSES``, spacing (192/size, 192/size) mm.

    Raises
    ------
    ValueError
        On an unknown subject, size or normalisation, a reversed range, or a synthetic sequence
        requested for Colin27.

    Notes
    -----
    Labels are the argmax of (1 - GM - WM, GM, WM) of the MNI152 2009 probability maps,
    block-averaged from 1 mm to the pixel size, inside a brain mask (GM + WM > 0.3, closed and
    hole-filled per slice, so that ventricles are inside). The template ships no CSF map: CSF
    and everything outside the brain are one class. For Colin27 the same labels are used
    where Colin27 is non-zero: Colin27 is registered to MNI space, not identical to the
    template, so its labels are approximate (a few mm at the cortex), which bounds the Dice a
    network can reach on it.
    """
    subj = as_choice(subject, "subject", ("mni152", "colin27"))
    n_px = as_int(size, "size", low=1)
    if n_px not in _SIZES_BRAIN:
        raise ValueError(f"size must be one of {_SIZES_BRAIN} (192 mm / size mm pixels), got "
                         f"{n_px}")
    norm = as_choice(normalize, "normalize", ("zscore", "none"))
    seqs = _sequences(sequences, subj)
    z = _z_positions(z_range_mm, step_mm)
    factor = int(_FOV_MM) // n_px
    gm = _mni_slices("nifti/mni152_gm_1mm.nii.gz", z) / 255.0
    wm = _mni_slices("nifti/mni152_wm_1mm.nii.gz", z) / 255.0
    total = np.clip(gm + wm, 0.0, None)
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-12), 1.0)
    gm, wm = gm * scale, wm * scale
    core = ndimage.binary_closing(total > 0.3, structure=np.ones((1, 5, 5), bool))
    mask = np.stack([ndimage.binary_fill_holes(s) for s in core]) if core.size else core
    if subj == "colin27":
        t1 = _mni_slices("nifti/colin27_t1_brain_1mm.nii.gz", z)
        mask = mask & (t1 > 0)
    # labels at the pixel size: block-mean probabilities, then argmax inside the block mask
    gm_b, wm_b = _block_mean(gm * mask, factor), _block_mean(wm * mask, factor)
    mask_b = _block_mean(mask.astype(np.float64), factor) >= 0.5
    probs = np.stack([1.0 - gm_b - wm_b, gm_b, wm_b])
    labels = np.where(mask_b, np.argmax(probs, axis=0), 0).astype(np.int64)
    channels = []
    for seq in seqs:
        if seq == "t1":
            name = ("nifti/mni152_t1_1mm.nii.gz" if subj == "mni152"
                    else "nifti/colin27_t1_brain_1mm.nii.gz")
            img = t1 if subj == "colin27" else _mni_slices(name, z)
        else:
            img = _spin_echo(gm, wm, mask, *seq)
        img = _block_mean(np.where(mask, img, 0.0), factor)
        if norm == "zscore":
            img = _zscore_per_image(img, mask_b)
        else:
            img = np.where(mask_b, img, 0.0)
        channels.append(img)
    images = np.stack(channels, axis=1).astype(np.float32)
    spacing = float(_FOV_MM / n_px)
    return SliceSet(images, labels, np.full(z.size, subj), z.astype(np.float64),
                    BRAIN_CLASSES, (spacing, spacing))


def _sequences(sequences, subject: str) -> list:
    if isinstance(sequences, str):
        sequences = (sequences,)
    try:
        items = list(sequences)
    except TypeError:
        raise TypeError("sequences must be a sequence of 't1' or (tr_ms, te_ms) pairs") from None
    if not items or len(items) > 8:
        raise ValueError(f"sequences must hold 1 to 8 entries, got {len(items)}")
    out = []
    for item in items:
        if isinstance(item, str):
            if item != "t1":
                raise ValueError(f"sequences: a string entry must be 't1', got {item!r}")
            out.append("t1")
            continue
        pair = as_array(item, "sequences", shape=(2,), low=0.0, high=1e5)
        if pair[1] > pair[0]:
            raise ValueError(f"sequences: (tr_ms, te_ms) needs te_ms <= tr_ms, got {item}")
        if subject != "mni152":
            raise ValueError("sequences: synthetic (tr_ms, te_ms) contrasts need the template's "
                             "tissue maps: subject='mni152' only")
        out.append((float(pair[0]), float(pair[1])))
    return out


def _spin_echo(gm, wm, mask, tr_ms, te_ms):
    from ..mri.relaxation import spin_echo_image, tissue_fractions, tissue_parameters
    fr = tissue_fractions(np.clip(gm, 0, 1), np.clip(wm, 0, 1), mask, fat_voxels=0)
    fr = {k: fr[k] for k in ("wm", "gm", "csf")}
    return spin_echo_image(fr, tissue_parameters(3.0), tr_ms, te_ms)


# ---------------------------------------------------------------------------------------------
# Chest CT: lungs and the tumour
# ---------------------------------------------------------------------------------------------
_CT = {"lung1": "nifti/chest_ct_lung1_256.nii.gz", "lung2": "nifti/chest_ct_lung2_256.nii.gz"}
_TUMOUR = {"lung2": ("nifti/chest_ct_lung2_256.nii.gz", "nifti/chest_ct_lung2_256_tumour.nii.gz"),
           "lung1": ("nifti/chest_ct_lung1_256.nii.gz", "nifti/chest_ct_lung1_256_nodule.nii.gz"),
           "brain_mr1": ("nifti/brain_mr1.nii.gz", "nifti/brain_mr1_tumour.nii.gz"),
           "brain_mr2": ("nifti/brain_mr2.nii.gz", "nifti/brain_mr2_tumour.nii.gz")}


def _hu_window(stack: np.ndarray, window_hu) -> np.ndarray:
    lo, hi = window_hu
    return (np.clip(stack, lo, hi) - lo) / (hi - lo)


def _window(value, name: str) -> tuple[float, float]:
    w = as_array(value, name, shape=(2,), low=-2000.0, high=5000.0)
    if not w[0] < w[1]:
        raise ValueError(f"{name} must be (low, high) HU with low < high, got {value}")
    return float(w[0]), float(w[1])


def _size_256(size) -> int:
    n = as_int(size, "size", low=1)
    if n not in _SIZES_256:
        raise ValueError(f"size must be one of {_SIZES_256} (256 / size in-plane blocks), got {n}")
    return n


@functools.cache
def _lung_labels(patient: str) -> np.ndarray:
    vol, _, spacing = _load_axial(_CT[patient])
    m = _prep_lung_mask(vol, spacing)
    m.flags.writeable = False
    return m


def lung_slices(patient: str = "lung2", *, size: int = 64, window_hu=(-1000.0, 400.0),
                min_lung_fraction: float = 0.02) -> SliceSet:
    """Axial chest CT slices of one patient with a lung label (0 background, 1 lung).

    Parameters
    ----------
    patient : {"lung2", "lung1"}, optional
        lung2 (61 slices, 1.25 mm pixels) for training, lung1 (48 slices, 1.14 mm pixels, another
        patient) held out.
    size : {32, 64, 128, 256}, optional
        Pixels per side after in-plane block averaging of the 256 x 256 slices (default 64).
    window_hu : (float, float), optional
        HU mapped linearly to [0, 1] (clipped), default (-1000, 400).
    min_lung_fraction : float, optional
        Keep the slices where the lungs cover at least this fraction of the slice, in [0, 1]
        (default 0.02: drops slices above and below the lungs).

    Returns
    -------
    SliceSet
        images (N, 1, size, size) float32 in [0, 1], labels (N, size, size) int64, groups all
        ``patient``, z_mm from the file's affine, classes ("background", "lung"),
        spacing in mm (the two patients differ: resample before mixing if it matters).

    Raises
    ------
    ValueError
        On an unknown patient, size or fraction, or a reversed window.

    Notes
    -----
    Labels come from :func:`medlib.prep.lung_mask` on the full-resolution volume (a classical
    pipeline, not an expert's outline); a block is lung when at least half its pixels are.
    """
    pid = as_choice(patient, "patient", tuple(_CT))
    n_px = _size_256(size)
    win = _window(window_hu, "window_hu")
    frac = as_scalar(min_lung_fraction, "min_lung_fraction", low=0.0, high=1.0)
    vol, z, spacing = _load_axial(_CT[pid])
    factor = vol.shape[1] // n_px
    lab = _block_mean(_lung_labels(pid).astype(np.float64), factor) >= 0.5
    keep = lab.mean(axis=(1, 2)) >= frac
    keep &= lab.any(axis=(1, 2))
    img = _hu_window(_block_mean(vol[keep].astype(np.float64), factor), win)
    return SliceSet(img[:, None].astype(np.float32), lab[keep].astype(np.int64),
                    np.full(int(keep.sum()), pid), np.asarray(z)[keep].astype(np.float64),
                    ("background", "lung"), (spacing[1] * factor, spacing[2] * factor))


def tumour_slices(case: str = "lung2", *, size: int = 128, window_hu=(-1000.0, 400.0),
                  margin_slices: int = 0) -> SliceSet:
    """Axial slices through a tumour with its expert label (0 background, 1 tumour).

    Parameters
    ----------
    case : {"lung2", "lung1", "brain_mr1", "brain_mr2"}, optional
        The lung tumour of chest CT lung2 (about 49 mL), the nodule of another patient's chest
        CT lung1 (1.44 mL), or the brain tumours of two clinical T1 MR (16.4 and 1.8 mL, 6.5 mm
        slices).
    size : {32, 64, 128, 256}, optional
        Pixels per side after in-plane block averaging (default 128).
    window_hu : (float, float), optional
        For CT: HU mapped to [0, 1] (default (-1000, 400)). Ignored for MR, which is z-scored
        per slice over its head pixels (stored value > 5 % of the volume's 99th percentile).
    margin_slices : int, optional
        Also keep this many slices above and below the tumour (without tumour: the negatives of
        a detection problem), 0 to 20 (default 0).

    Returns
    -------
    SliceSet
        images (N, 1, size, size) float32, labels (N, size, size) int64, groups all ``case``,
        classes ("background", "tumour"); the tumour covers a few per cent of a slice or less:
        the small-structure, imbalanced case.

    Raises
    ------
    ValueError
        On an unknown case or size, a reversed window, or a margin out of range.

    Notes
    -----
    A block is tumour when at least half its pixels are (as the shipped half-resolution CT
    labels were made), so a very small tumour can lose slices at coarse sizes.
    """
    cid = as_choice(case, "case", tuple(_TUMOUR))
    n_px = _size_256(size)
    win = _window(window_hu, "window_hu")
    margin = as_int(margin_slices, "margin_slices", low=0, high=20)
    img_name, lab_name = _TUMOUR[cid]
    vol, z, spacing = _load_axial(img_name)
    label, _, _ = _load_axial(lab_name)
    factor = vol.shape[1] // n_px
    has = np.flatnonzero(label.any(axis=(1, 2)))
    lo, hi = max(has.min() - margin, 0), min(has.max() + margin, vol.shape[0] - 1)
    sel = np.arange(lo, hi + 1)
    lab = _block_mean(label[sel].astype(np.float64), factor) >= 0.5
    stack = _block_mean(vol[sel].astype(np.float64), factor)
    if cid == "lung2":
        img = _hu_window(stack, win)
    else:
        head = stack > 0.05 * np.percentile(vol, 99)
        img = _zscore_per_image(stack, head)
    return SliceSet(img[:, None].astype(np.float32), lab.astype(np.int64),
                    np.full(sel.size, cid), np.asarray(z)[sel].astype(np.float64),
                    ("background", "tumour"), (spacing[1] * factor, spacing[2] * factor))


# ---------------------------------------------------------------------------------------------
# Label ambiguity: simulated annotators, inter-rater Dice, STAPLE
# ---------------------------------------------------------------------------------------------
def simulate_annotators(label, n_raters: int, rng, *, bias_px: float = 1.0,
                        wobble_px: float = 1.0, smooth_px: float = 4.0) -> np.ndarray:
    """Several plausible outlines of one binary structure, each rater moving the boundary.

    Parameters
    ----------
    label : array_like of bool, shape (H, W) or (Z, Y, X)
        The reference outline (a real expert label).
    n_raters : int
        Number of simulated annotators, 1 to 64.
    rng : numpy.random.Generator or int
        Source of randomness (a seed gives a fresh generator).
    bias_px : float, optional
        Each rater's systematic offset of the boundary is uniform in [-bias_px, bias_px]
        pixels (outward positive: a generous or a tight annotator), 0 to 20 (default 1).
    wobble_px : float, optional
        Standard deviation of a smooth random offset that varies along the boundary, pixels,
        0 to 20 (default 1).
    smooth_px : float, optional
        Correlation length (Gaussian sigma) of that offset along the image, pixels, 0.5 to 50
        (default 4).

    Returns
    -------
    numpy.ndarray of uint8, shape ``(n_raters, *label.shape)``

    Raises
    ------
    ValueError
        If ``label`` is empty, not 2D/3D, or has no foreground; or a parameter is out of range.

    Notes
    -----
    With the signed distance d(x) to the boundary (pixels, positive outside, by two Euclidean
    distance transforms), rater j labels x when d(x) < b_j + w_j(x): b_j the rater's bias,
    w_j a Gaussian-smoothed white-noise field scaled to standard deviation ``wobble_px``.
    A rater thus dilates or erodes by an amount that varies smoothly along the outline, the
    disagreement of real annotators at fuzzy boundaries (Warfield et al. 2004, Joskowicz et
    al. 2019), not salt-and-pepper noise.
    """
    ref = as_mask(label, "label")
    if ref.ndim not in (2, 3) or ref.size == 0:
        raise ValueError(f"label must be a non-empty 2D or 3D mask, got shape {ref.shape}")
    if not ref.any():
        raise ValueError("label has no foreground: there is no boundary to annotate")
    n = as_int(n_raters, "n_raters", low=1, high=64)
    gen = as_rng(rng)
    bias = as_scalar(bias_px, "bias_px", low=0.0, high=20.0)
    wobble = as_scalar(wobble_px, "wobble_px", low=0.0, high=20.0)
    smooth = as_scalar(smooth_px, "smooth_px", low=0.5, high=50.0)
    signed = ndimage.distance_transform_edt(~ref) - ndimage.distance_transform_edt(ref)
    b = gen.uniform(-bias, bias, size=n)
    noise = gen.standard_normal((n, *ref.shape))
    field = ndimage.gaussian_filter(noise, sigma=(0.0,) + (smooth,) * ref.ndim, mode="reflect")
    sd = field.reshape(n, -1).std(axis=1).reshape((n,) + (1,) * ref.ndim)
    field = field / np.where(sd > 0, sd, 1.0) * wobble
    offset = b.reshape((n,) + (1,) * ref.ndim) + field
    return (signed[None] < offset).astype(np.uint8)


def pairwise_dice(segmentations) -> np.ndarray:
    """Dice coefficient of every pair of binary segmentations (inter-rater agreement).

    Parameters
    ----------
    segmentations : array_like, shape (R, ...)
        R binary masks of the same shape.

    Returns
    -------
    numpy.ndarray of float64, shape (R, R)
        Symmetric, ones on the diagonal; 2|A n B| / (|A| + |B|), 1 for two empty masks.

    Raises
    ------
    ValueError
        If fewer than 2 masks are given or they are not binary.
    """
    s = as_mask(segmentations, "segmentations")
    if s.ndim < 2 or s.shape[0] < 2:
        raise ValueError(f"segmentations must hold at least 2 masks (R, ...), got {s.shape}")
    flat = s.reshape(s.shape[0], -1).astype(np.float64)
    inter = flat @ flat.T
    sizes = flat.sum(axis=1)
    denom = sizes[:, None] + sizes[None, :]
    return np.where(denom > 0, 2 * inter / np.where(denom > 0, denom, 1.0), 1.0)


@dataclasses.dataclass(frozen=True)
class StapleResult:
    """STAPLE's estimate: the probability of the true label per pixel and each rater's quality.

    Attributes
    ----------
    probability : numpy.ndarray of float64
        W, the posterior probability that each pixel belongs to the structure.
    sensitivity, specificity : numpy.ndarray of float64, shape (R,)
        p_j and q_j of each rater.
    prior : float
        The foreground prior f used (the mean of the raters' foreground fractions).
    iterations : int
        EM iterations run.
    """

    probability: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    prior: float
    iterations: int


def staple(segmentations, *, max_iterations: int = 1000, tolerance: float = 1e-10,
           initial: float = 0.99999) -> StapleResult:
    """STAPLE consensus of binary segmentations (Warfield, Zou and Wells 2004), by EM.

    Parameters
    ----------
    segmentations : array_like, shape (R, ...)
        R >= 2 binary masks of the same structure by R raters.
    max_iterations : int, optional
        1 to 100000 (default 1000).
    tolerance : float, optional
        Stop when sum_j |dp_j| + |dq_j| < tolerance, in (0, 1) (default 1e-10).
    initial : float, optional
        Initial sensitivity and specificity of every rater, in (0.5, 1) (default 0.99999, as
        ITK's ``STAPLEImageFilter``).

    Returns
    -------
    StapleResult

    Raises
    ------
    ValueError
        If fewer than 2 masks are given, they are not binary, every mask is empty or full, or a
        parameter is out of range.

    Notes
    -----
    Hidden true label T_i per pixel, rater decisions D_ij, prior f = P(T_i = 1) fixed to the
    mean foreground fraction of the raters. E-step:

    .. math:: a_i = f \\prod_j p_j^{D_{ij}} (1 - p_j)^{1 - D_{ij}}, \\quad
              b_i = (1 - f) \\prod_j q_j^{1 - D_{ij}} (1 - q_j)^{D_{ij}}, \\quad
              W_i = a_i / (a_i + b_i).

    M-step: :math:`p_j = \\sum_i W_i D_{ij} / \\sum_i W_i`,
    :math:`q_j = \\sum_i (1 - W_i)(1 - D_{ij}) / \\sum_i (1 - W_i)`. Products are taken as sums
    of logarithms (no underflow with many raters). Vectorised over pixels and raters.

    References
    ----------
    S. K. Warfield, K. H. Zou, W. M. Wells, Simultaneous truth and performance level estimation
    (STAPLE): an algorithm for the validation of image segmentation, IEEE Trans. Med. Imaging
    23, 903-921 (2004).
    """
    s = as_mask(segmentations, "segmentations")
    if s.ndim < 2 or s.shape[0] < 2:
        raise ValueError(f"segmentations must hold at least 2 masks (R, ...), got {s.shape}")
    n_iter = as_int(max_iterations, "max_iterations", low=1, high=100_000)
    tol = as_scalar(tolerance, "tolerance", low=0.0, low_inclusive=False, high=1.0)
    init = as_scalar(initial, "initial", low=0.5, low_inclusive=False, high=1.0,
                     high_inclusive=False)
    d = s.reshape(s.shape[0], -1).astype(np.float64)
    f = float(d.mean())
    if not 0.0 < f < 1.0:
        raise ValueError("segmentations are all empty or all full: STAPLE has nothing to weigh")
    r = d.shape[0]
    p = np.full(r, init)
    q = np.full(r, init)
    eps = 1e-300
    iterations = 0
    w = np.full(d.shape[1], f)
    while iterations < n_iter:
        iterations += 1
        log_a = np.log(f) + (d * np.log(np.maximum(p, eps))[:, None]
                             + (1 - d) * np.log(np.maximum(1 - p, eps))[:, None]).sum(axis=0)
        log_b = np.log(1 - f) + ((1 - d) * np.log(np.maximum(q, eps))[:, None]
                                 + d * np.log(np.maximum(1 - q, eps))[:, None]).sum(axis=0)
        w = 1.0 / (1.0 + np.exp(np.clip(log_b - log_a, -700, 700)))
        sw, sv = w.sum(), (1 - w).sum()
        p_new = (d @ w) / sw if sw > 0 else p
        q_new = ((1 - d) @ (1 - w)) / sv if sv > 0 else q
        change = np.abs(p_new - p).sum() + np.abs(q_new - q).sum()
        p, q = p_new, q_new
        if change < tol:
            break
    return StapleResult(w.reshape(s.shape[1:]), p, q, f, iterations)


# ---------------------------------------------------------------------------------------------
# Predictions and scores of a multi-class network (the networks are those of architectures.py)
# ---------------------------------------------------------------------------------------------
def predict_labels(model: torch.nn.Module, images) -> np.ndarray:
    """The class of highest logit per pixel, as int64 (N, H, W).

    Parameters
    ----------
    model : torch.nn.Module
        A network that maps (N, C, H, W) to K >= 2 logit maps (N, K, H, W), e.g.
        :class:`UNet` with ``out_channels=K``; run in evaluation mode, gradients off.
    images : array_like, shape (N, C, H, W)
        Within float32's range.

    Returns
    -------
    numpy.ndarray of int64, shape (N, H, W)

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If ``images`` is not 4D, not finite, or does not fit the model.

    Notes
    -----
    The multi-class counterpart of :func:`medlib.nn.predict`, which returns the sigmoid
    probability of ONE foreground logit map (binary tasks); with K class channels the decision
    is the arg max over the channels (the softmax is monotone and not needed).
    """
    as_module(model)
    x = torch.as_tensor(as_array(images, "images", ndim=4, low=-3.4e38, high=3.4e38),
                        dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        try:
            out = model(x)
        except (RuntimeError, ValueError) as exc:
            raise ValueError(f"images of shape {tuple(x.shape)} do not fit the model: "
                             f"{exc}") from exc
    return out.argmax(dim=1).numpy().astype(np.int64)


def class_dice(prediction, target, n_classes: int, *, per_image: bool = False) -> np.ndarray:
    """Dice of each class of label maps, pooled over a set of images or per image.

    Parameters
    ----------
    prediction, target : array_like of int, same shape (N, ...)
        Class indices in [0, n_classes).
    n_classes : int
        Number of classes K, 2 to 256.
    per_image : bool, optional
        False (default): one Dice per class over all pixels of all images pooled; True: one
        per image and class, the per-case scores a bootstrap interval
        (:func:`medlib.dl.metrics.bootstrap_ci`) resamples.

    Returns
    -------
    numpy.ndarray of float64, shape (K,) or (N, K)
        2|P_k n T_k| / (|P_k| + |T_k|) per class k (and image); 1 where both are empty.

    Raises
    ------
    ValueError
        On a shape mismatch, non-integer classes or classes out of range.

    Notes
    -----
    :func:`medlib.dl.metrics.dice` is the Dice of ONE pair of binary masks; this is the
    multi-class form, every class at once, read off the confusion matrix
    :func:`medlib.dl.metrics.confusion_matrix` (the course's one counting routine):
    :math:`D_k = 2C_{kk} / (\\sum_b C_{kb} + \\sum_a C_{ak})`. Per image it equals MONAI's
    ``compute_dice(..., include_background=True, ignore_empty=False)`` on one-hot maps.
    """
    p = as_array(prediction, "prediction")
    t = as_array(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"prediction and target must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    k = as_int(n_classes, "n_classes", low=2, high=256)
    each = as_bool(per_image, "per_image")
    if each and (p.ndim < 2 or p.shape[0] == 0):
        raise ValueError(f"prediction must be (N, ...) with N >= 1 images when per_image=True, "
                         f"got shape {p.shape}")
    for name, a in (("prediction", p), ("target", t)):
        if a.size and (np.any(a != np.round(a)) or np.any(a < 0) or np.any(a >= k)):
            raise ValueError(f"{name} must hold integer classes in [0, n_classes={k})")
    if p.size == 0:
        raise ValueError("prediction must not be empty")
    pi, ti = p.astype(np.int64), t.astype(np.int64)
    pairs = zip(pi, ti) if each else [(pi, ti)]
    counts = np.stack([_metrics.confusion_matrix(a, b, n_classes=k) for a, b in pairs])
    inter = np.diagonal(counts, axis1=1, axis2=2).astype(np.float64)
    sizes = counts.sum(axis=1) + counts.sum(axis=2)
    out = np.where(sizes > 0, 2 * inter / np.where(sizes > 0, sizes, 1), 1.0)
    return out if each else out[0]
