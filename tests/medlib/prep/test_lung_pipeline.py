"""medlib.prep.lung_pipeline (chapters/prep-ct-xray/lung-pipeline.ipynb) against SimpleITK,
SciPy, scikit-image, TorchIO and closed forms on phantoms with known answers."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from skimage.util import view_as_windows

from medlib import prep, processing

BAD_INPUT_CALLS = {
    "prep.lung_pipeline.resample_isotropic": Entry(
        lambda: C(np.arange(24.0).reshape(2, 3, 4), np.diag([4.0, 2.0, 2.0, 1.0]), 2.0,
                  interpolation="cubic")),
    "prep.lung_pipeline.lung_mask": Entry(
        lambda: C(_phantom((6, 24, 28))[0], (3.0, 2.0, 2.0), closing_radius_mm=2.0)),
    "prep.lung_pipeline.crop_to_mask": Entry(
        lambda: C(np.arange(60.0).reshape(3, 4, 5), _small_mask(), np.diag([5.0, 2.0, 2.0, 1.0]),
                  margin_mm=2.0)),
    "prep.lung_pipeline.lung_volumes_l": Entry(
        lambda: C(np.pad(np.ones((2, 2, 4), bool), 1), np.diag([5.0, 2.0, -2.0, 1.0]))),
    "prep.lung_pipeline.nodule_candidates": Entry(
        lambda: C(*_nodule_phantom((8, 16, 16))[:2], 2.0, min_diameter_mm=4.0)),
    "prep.lung_pipeline.candidate_hits": Entry(
        lambda: C(np.pad(np.ones((1, 2, 2), np.int32), 1),
                  np.pad(np.ones((1, 1, 2)), ((1, 1), (1, 2), (1, 1))))),
    "prep.lung_pipeline.normalize_hu": Entry(
        lambda: C(np.array([[-1500.0, -1200.0], [-300.0, 900.0]]))),
    "prep.lung_pipeline.extract_patches": Entry(
        lambda: C(np.arange(60.0).reshape(3, 4, 5), np.array([[0, 1, 2], [2, 3, 4]]), 3)),
    "prep.lung_pipeline.sample_patch_centres": Entry(
        lambda: C(np.pad(np.ones((1, 2, 2)), 1), np.ones((3, 4, 4), bool), 4, rng=1)),
}


def _small_mask():
    mask = np.zeros((3, 4, 5), bool)
    mask[1, 1:3, 2] = True
    return mask


def _phantom(shape=(20, 60, 72), spacing=(3.0, 2.0, 2.0)):
    """Air, an elliptic body at 40 HU with two ellipsoidal lungs at -850 HU, a vessel inside
    the right one, a small gas bubble and a 'stomach' gas pocket; returns (hu, lungs)."""
    z, y, x = (np.indices(shape).astype(float) * np.array(spacing)[:, None, None, None])
    zc, yc, xc = (np.array(shape) - 1) * np.array(spacing) / 2
    body = ((y - yc) / (0.45 * shape[1] * spacing[1])) ** 2 + \
        ((x - xc) / (0.45 * shape[2] * spacing[2])) ** 2 <= 1
    lungs = np.zeros(shape, bool)
    for side in (-1, 1):
        lungs |= ((z - zc) / (0.35 * shape[0] * spacing[0])) ** 2 + \
            ((y - yc) / (0.3 * shape[1] * spacing[1])) ** 2 + \
            ((x - xc - side * 0.22 * shape[2] * spacing[2]) / (0.15 * shape[2] * spacing[2])) ** 2 \
            <= 1
    hu = np.full(shape, -1000.0)
    hu[body] = 40.0
    hu[lungs] = -850.0
    vessel = lungs & (np.abs(y - yc) < 2.1) & (np.abs(x - xc - 0.22 * shape[2] * spacing[2]) < 2.1)
    hu[vessel] = 40.0
    bubble = body & ~lungs & ((z - zc) ** 2 + (y - yc - 0.35 * shape[1] * spacing[1]) ** 2
                              + (x - xc) ** 2 <= 2.0 ** 2)
    hu[bubble] = -1000.0
    return hu, lungs


def _nodule_phantom(shape=(16, 40, 40), spacing=2.0, diameter_mm=10.0):
    """Lung tissue at -850 HU with a spherical nodule and a thin long vessel at 40 HU."""
    z, y, x = np.indices(shape).astype(float) * spacing
    c = (np.array(shape) - 1) * spacing / 2
    nodule = (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= (diameter_mm / 2) ** 2
    vessel = (np.abs(y - spacing * 4) <= 1.0) & (np.abs(x - spacing * 4) <= 1.0)
    hu = np.full(shape, -850.0)
    hu[nodule | vessel] = 40.0
    return hu, np.ones(shape, bool), nodule


def test_cubic_resampling_matches_simpleitk_bspline():
    sitk = pytest.importorskip("SimpleITK")
    rng = np.random.default_rng(0)
    vol = rng.normal(size=(20, 36, 34))
    spacing_old = np.array([5.0, 1.5, 1.5])
    affine = np.diag(np.append(spacing_old, 1.0))
    out, new_affine = prep.resample_isotropic(vol, affine, 1.25, interpolation="cubic")
    assert out.shape == tuple(int(round(n * s / 1.25)) for n, s in zip(vol.shape, spacing_old))
    np.testing.assert_allclose(np.diag(new_affine)[:3], 1.25)

    img = sitk.GetImageFromArray(vol)                 # sitk axes (x, y, z)
    img.SetSpacing(tuple(spacing_old[::-1]))
    ref = sitk.Resample(img, out.shape[::-1], sitk.Transform(), sitk.sitkBSpline,
                        (0.0, 0.0, 0.0), (1.25, 1.25, 1.25), img.GetDirection(), 0.0,
                        sitk.sitkFloat64)
    ref = sitk.GetArrayFromImage(ref)
    # Same cubic B-spline; the boundary rules of the spline coefficients differ (ITK mirrors,
    # we repeat the edge), an effect that decays by 0.268 per sample: compare 8 samples in.
    inner = tuple(slice(int(np.ceil(8 * s / 1.25)), -int(np.ceil(8 * s / 1.25)))
                  for s in spacing_old)
    assert out[inner].size > 1000
    np.testing.assert_allclose(out[inner], ref[inner], atol=1e-4)
    assert np.abs(out - ref).max() > 1e-3                   # the boundaries do differ


def test_linear_and_nearest_resampling_are_part_one():
    rng = np.random.default_rng(1)
    vol = rng.normal(size=(4, 6, 6))
    labels = rng.integers(0, 3, size=(4, 6, 6)).astype(np.uint8)
    affine = np.diag([4.0, 2.0, 2.0, 1.0])
    lin, a1 = prep.resample_isotropic(vol, affine, 1.0)
    ref, a2 = processing.resample_to_spacing(vol, affine, 1.0, order=1)
    np.testing.assert_array_equal(lin, ref)
    nn, _ = prep.resample_isotropic(labels, affine, 1.0, interpolation="nearest")
    assert nn.dtype == np.uint8 and set(np.unique(nn)) == set(np.unique(labels))


def test_cubic_interpolates_the_samples_and_overshoots_a_step():
    step = np.zeros((1, 1, 16))
    step[..., 8:] = 1.0
    out, _ = prep.resample_isotropic(step, np.eye(4), 0.25, interpolation="cubic")
    np.testing.assert_allclose(out[0, 0, ::4], step[0, 0], atol=1e-9)     # through the samples
    assert out.min() < -0.05 and out.max() > 1.05                          # ringing


@pytest.mark.formula("pre.lung-mask")
def test_lung_mask_of_a_phantom_finds_the_lungs_with_their_vessel():
    spacing = (3.0, 2.0, 2.0)
    hu, lungs = _phantom(spacing=spacing)
    before = hu.copy()
    mask = prep.lung_mask(hu, spacing)
    dice = 2 * np.sum(mask & lungs) / (mask.sum() + lungs.sum())
    assert dice > 0.98
    assert not np.any(mask & (hu == -1000.0) & ~lungs)      # outside air and the bubble: out
    vessel = lungs & (hu == 40.0)
    assert vessel.any() and mask[vessel].all()               # the vessel is filled in
    np.testing.assert_array_equal(hu, before)


def test_lung_mask_steps_threshold_and_largest_components():
    spacing = (3.0, 2.0, 2.0)
    hu, lungs = _phantom(spacing=spacing)
    hu[hu == -850.0] = -450.0                                  # above the threshold: no lung
    assert not prep.lung_mask(hu, spacing).any()
    assert prep.lung_mask(hu, spacing, threshold_hu=-400).sum() > 0.95 * lungs.sum()
    hu, lungs = _phantom(spacing=spacing)
    one = prep.lung_mask(hu, spacing, n_components=1)
    assert 0.45 < one.sum() / lungs.sum() < 0.55              # one lung of two


def test_lung_volumes_left_and_right_in_ras():
    mask = np.zeros((4, 10, 20), bool)
    mask[:, 2:8, 1:5] = True                                   # 96 voxels at small index x
    mask[:, 2:8, 12:19] = True                                 # 168 voxels at large index x
    affine = np.array([[0.0, 0.0, 2.0, -20.0],                 # world x (RAS) from index x
                       [0.0, 2.0, 0.0, 0.0],
                       [5.0, 0.0, 0.0, 0.0],
                       [0.0, 0.0, 0.0, 1.0]])
    right, left = prep.lung_volumes_l(mask, affine)
    assert right == pytest.approx(168 * 20 / 1e6) and left == pytest.approx(96 * 20 / 1e6)
    flipped = affine.copy()
    flipped[0, 2] = -2.0                                       # index x towards the left
    assert prep.lung_volumes_l(mask, flipped) == pytest.approx((left, right))


def test_crop_to_mask_keeps_every_voxel_in_place():
    from medlib import geometry
    rng = np.random.default_rng(5)
    vol = rng.normal(size=(10, 20, 30))
    mask = np.zeros(vol.shape, bool)
    mask[4:6, 8:12, 10:20] = True
    affine = np.array([[0.0, 0.0, -0.7, 100.0], [0.0, 0.7, 0.0, -50.0],
                       [2.5, 0.0, 0.0, 10.0], [0.0, 0.0, 0.0, 1.0]])
    crop, new_affine, box = prep.crop_to_mask(vol, mask, affine, margin_mm=2.0)
    assert box == (slice(3, 7), slice(5, 15), slice(7, 23))       # ceil(2 / 2.5), ceil(2 / 0.7)
    np.testing.assert_array_equal(crop, vol[box])
    for index in ([0, 0, 0], [3, 9, 15]):
        original = np.array(index) + [b.start for b in box]
        np.testing.assert_allclose(geometry.voxel_to_world(new_affine, index),
                                   geometry.voxel_to_world(affine, original))
    whole, _, box2 = prep.crop_to_mask(vol, mask, affine, margin_mm=100.0)
    assert whole.shape == vol.shape and all(b.start == 0 for b in box2)


def test_nodule_candidates_keep_the_nodule_and_drop_the_vessel():
    hu, lungs, nodule = _nodule_phantom()
    labels, n = prep.nodule_candidates(hu, lungs, 2.0)
    assert n == 1 and labels.dtype == np.int32
    assert labels[nodule].mean() > 0.5 and not labels[~nodule].any()
    assert prep.candidate_hits(labels, nodule) == (1.0, 0)
    small, n_small = prep.nodule_candidates(hu, lungs, 2.0, min_diameter_mm=12.0)
    assert n_small == 0 and prep.candidate_hits(small, nodule) == (0.0, 0)


def test_candidate_hits_closed_form():
    c = np.zeros((1, 10, 10), np.int32)
    c[0, 1, 1] = 1
    c[0, 5, 5] = 2
    c[0, 8, 8] = 3
    truth = np.zeros((1, 10, 10))
    truth[0, 5:7, 5:7] = 1                                     # hit by candidate 2
    truth[0, 0, 8] = 1                                         # missed
    assert prep.candidate_hits(c, truth) == (0.5, 2)


@pytest.mark.formula("pre.hu-normalize")
def test_normalize_hu_is_the_seed_formula():
    hu = np.array([-2000.0, -1200.0, -300.0, 600.0, 3000.0])
    before = hu.copy()
    out = prep.normalize_hu(hu)
    np.testing.assert_allclose(out, (np.clip(hu, -1200, 600) + 1200) / 1800)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0])
    np.testing.assert_array_equal(hu, before)


@pytest.mark.formula("pre.hu-normalize")
def test_zscore_with_training_statistics_matches_numpy_and_torchio():
    torch = pytest.importorskip("torch")
    tio = pytest.importorskip("torchio")
    rng = np.random.default_rng(2)
    train = [rng.normal(-300, 400, size=(4, 5, 6)), rng.normal(-200, 300, size=(3, 5, 6))]
    # The pipeline's z-score is Part I's: processing.fit_zscore on the training volumes only
    # (the voxels inside a mask, where one is given), processing.zscore_normalize on any scan.
    mean, std = processing.fit_zscore(train)
    pooled = np.concatenate([v.ravel() for v in train])
    assert mean == pytest.approx(pooled.mean()) and std == pytest.approx(pooled.std())
    test = rng.normal(0, 100, size=(2, 5, 6))
    np.testing.assert_allclose(processing.zscore_normalize(test, mean, std), (test - mean) / std)
    # One training volume: TorchIO's ZNormalization (its own statistics, std with n - 1).
    vol = train[0]
    ref = tio.ZNormalization()(tio.ScalarImage(tensor=torch.from_numpy(vol[None]))).numpy()[0]
    m, s = processing.fit_zscore([vol])
    n = vol.size
    np.testing.assert_allclose(processing.zscore_normalize(vol, m, s * np.sqrt(n / (n - 1))), ref,
                               rtol=1e-4, atol=1e-4)
    masks = [v > -300 for v in train]
    mm, ms = processing.fit_zscore([v[k] for v, k in zip(train, masks)])
    sel = np.concatenate([v[k] for v, k in zip(train, masks)])
    assert mm == pytest.approx(sel.mean()) and ms == pytest.approx(sel.std())


@pytest.mark.formula("pre.patches")
def test_extract_patches_match_scikit_image_windows():
    rng = np.random.default_rng(3)
    vol = rng.integers(-1000, 1000, size=(9, 10, 11)).astype(np.int16)
    centres = np.array([[4, 5, 5], [0, 0, 0], [8, 9, 10], [3, 2, 7]])
    for size in (1, 4, 5):
        patches = prep.extract_patches(vol, centres, size, cval=-1024)
        assert patches.shape == (4, size, size, size) and patches.dtype == np.int16
        padded = np.pad(vol, size, constant_values=-1024)
        windows = view_as_windows(padded, (size,) * 3)
        ref = np.stack([windows[tuple(c - size // 2 + size)] for c in centres])
        np.testing.assert_array_equal(patches, ref)
    inner = prep.extract_patches(vol, centres[:1], 3)[0]
    np.testing.assert_array_equal(inner, vol[3:6, 4:7, 4:7])


def test_sample_patch_centres_ratio_and_places():
    label = np.zeros((10, 12, 12))
    label[4:6, 5:8, 5:8] = 1
    mask = np.zeros((10, 12, 12), bool)
    mask[2:8, 2:10, 2:10] = True
    centres, positive = prep.sample_patch_centres(label, mask, 20, positive_fraction=0.25, rng=4)
    assert centres.shape == (20, 3) and positive.sum() == 5
    values = label[tuple(centres.T)]
    assert np.all(values[positive] == 1) and np.all(values[~positive] == 0)
    assert np.all(mask[tuple(centres[~positive].T)])
    again, _ = prep.sample_patch_centres(label, mask, 20, positive_fraction=0.25, rng=4)
    np.testing.assert_array_equal(centres, again)


test_bad_input_raises_a_clear_error = bad_input_test([
    (prep.resample_isotropic, (np.zeros((2, 2, 2)), np.eye(4)), {"interpolation": "spline"},
     ValueError, "interpolation"),
    (prep.resample_isotropic, (np.zeros((2, 2, 2)), np.eye(4), 1e-4), {"interpolation": "cubic"},
     ValueError, "spacing_mm"),
    (prep.lung_mask, (np.zeros((2, 2)), 1.0), {}, ValueError, "hu"),
    (prep.lung_mask, (np.zeros((2, 2, 2)), (1.0, 1.0)), {}, ValueError, "spacing_mm"),
    (prep.lung_volumes_l, (np.zeros((2, 2, 2), bool), np.eye(4)), {}, ValueError, "mask"),
    (prep.crop_to_mask, (np.zeros((2, 2, 2)), np.zeros((2, 2, 2), bool), np.eye(4)), {},
     ValueError, "mask"),
    (prep.nodule_candidates, (np.zeros((2, 2, 2)), np.ones((2, 2, 2), bool), 1.0),
     {"max_diameter_mm": 2.0}, ValueError, "max_diameter_mm"),
    (prep.normalize_hu, (np.zeros(2), 600.0, -1200.0), {}, ValueError, "low_hu"),
    (prep.extract_patches, (np.zeros((2, 2, 2)), [[0, 0, 2]], 2), {}, ValueError, "centres"),
    (prep.sample_patch_centres, (np.zeros((2, 2, 2)), np.ones((2, 2, 2), bool), 2), {},
     ValueError, "label"),
])
