"""medlib.prep.ct_intensities (chapters/prep-ct-xray/ct-intensities.ipynb) against pydicom,
NumPy, SciPy, scikit-image and the seed's own listings."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_windowing
from scipy import ndimage
from skimage.morphology import remove_small_objects

from medlib import ct, data, prep

BAD_INPUT_CALLS = {
    "prep.ct_intensities.hu_from_stored_values": Entry(
        lambda: C(np.array([[-2000, 0, 1024], [40, 2000, 1064]]), 1.0, -1024.0,
                  padding_value=-2000)),
    "prep.ct_intensities.clip_hu": Entry(
        lambda: C(np.array([[-3000.0, -500.0], [0.0, 2500.0]]), -1000.0, 1000.0)),
    "prep.ct_intensities.clip_fractions": Entry(
        lambda: C(np.array([[-3000.0, -500.0], [0.0, 2500.0]]), -1000.0, 1000.0)),
    "prep.ct_intensities.window_image": Entry(
        lambda: C(np.array([[-1200.0, -600.0], [0.0, 400.0]]), -600.0, 1500.0)),
    "prep.ct_intensities.stack_windows": Entry(
        lambda: C(np.array([[-1200.0, -600.0], [0.0, 400.0]]), ["lung", (50.0, 350.0)])),
    "prep.ct_intensities.metal_mask": Entry(
        lambda: C(np.pad(np.full((3, 3), 4000.0), 2), min_voxels=4)),
    "prep.ct_intensities.body_mask": Entry(
        lambda: C(np.pad(np.pad(np.full((2, 2), -800.0), 1, constant_values=40.0), 2,
                         constant_values=-1000.0))),
}


def seed_clip_hu_values(image, min_hu=-1000, max_hu=1000):
    """The seed's listing, verbatim."""
    processed_image = image.copy()
    processed_image[processed_image < min_hu] = min_hu
    processed_image[processed_image > max_hu] = max_hu
    return processed_image


def seed_detect_metal_artifacts(image, threshold=3000):
    """The seed's listing, verbatim: one pass over the volume per component."""
    metal_mask = image > threshold
    labeled_mask, num_features = ndimage.label(metal_mask)
    significant_metal = np.zeros_like(metal_mask)
    for i in range(1, num_features + 1):
        if np.sum(labeled_mask == i) > 100:
            significant_metal[labeled_mask == i] = True
    return significant_metal


@pytest.mark.formula("pre.hu-rescale")
def test_hu_from_stored_values_matches_pydicom_on_the_real_head_ct():
    ds = pydicom.dcmread(data.path("dicom/ct_head_693.dcm"))
    stored = ds.pixel_array
    before = stored.copy()
    hu = prep.hu_from_stored_values(stored, ds.RescaleSlope, ds.RescaleIntercept)
    np.testing.assert_array_equal(hu, apply_modality_lut(stored, ds))
    padded = prep.hu_from_stored_values(stored, ds.RescaleSlope, ds.RescaleIntercept,
                                        padding_value=ds.PixelPaddingValue)
    pad = stored == ds.PixelPaddingValue
    assert pad.any() and np.all(padded[pad] == -1000.0)
    np.testing.assert_array_equal(padded[~pad], apply_modality_lut(stored, ds)[~pad])
    np.testing.assert_array_equal(stored, before)


def test_hu_from_stored_values_closed_form():
    hu = prep.hu_from_stored_values(np.array([0, 1024, 2000]), 2.0, -1024.0)
    np.testing.assert_array_equal(hu, [-1024.0, 1024.0, 2976.0])


@pytest.mark.formula("pre.hu-clip")
@pytest.mark.parametrize("low, high", [(-1000, 1000), (-200, 400), (-200, 3000), (-1200, 600)])
def test_clip_hu_equals_the_seed_listing_and_leaves_the_input(low, high):
    rng = np.random.default_rng(1)
    hu = rng.integers(-3024, 3071, size=(7, 9)).astype(float)
    before = hu.copy()
    out = prep.clip_hu(hu, low, high)
    np.testing.assert_array_equal(out, seed_clip_hu_values(hu, low, high))
    np.testing.assert_array_equal(hu, before)
    assert out is not hu


def test_clip_fractions_count_what_clipping_changes():
    rng = np.random.default_rng(2)
    hu = rng.normal(-200, 600, size=(40, 50))
    below, above = prep.clip_fractions(hu, -1000, 1000)
    changed = prep.clip_hu(hu, -1000, 1000) != hu
    assert below + above == pytest.approx(changed.mean())
    assert below == pytest.approx(np.count_nonzero(hu < -1000) / hu.size)
    mask = hu > -500
    b, a = prep.clip_fractions(hu, -1000, 1000, mask=mask)
    assert b == 0.0 and a == pytest.approx(np.count_nonzero(hu > 1000) / mask.sum())


@pytest.mark.formula("pre.window-255")
def test_window_image_edges_level_and_pydicom():
    out = prep.window_image([-1350.0, -600.0, 150.0, -2000.0, 500.0], -600, 1500)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [0, 128, 255, 0, 255])     # 127.5 rounds to even 128
    unit = prep.window_image([-1350.0, -600.0, 150.0], -600, 1500, output="unit")
    np.testing.assert_allclose(unit, [0.0, 0.5, 1.0])
    # pydicom's VOI LUT LINEAR (integer-oriented: c - 0.5, w - 1) within one grey level
    values = np.arange(-1500, 400).astype(float)
    voi = Dataset()
    voi.PhotometricInterpretation, voi.BitsStored, voi.PixelRepresentation = "MONOCHROME2", 8, 0
    voi.WindowCenter, voi.WindowWidth = -600 + 2000, 1500
    ref = apply_windowing(values + 2000, voi)          # 0..255 for BitsStored 8
    assert np.max(np.abs(prep.window_image(values, -600, 1500).astype(float) - ref)) <= 1.0


@pytest.mark.formula("pre.multi-window")
def test_stack_windows_is_one_window_per_channel():
    rng = np.random.default_rng(3)
    hu = rng.uniform(-1100, 1500, size=(4, 6, 5))
    out = prep.stack_windows(hu, ["lung", "mediastinal", (300.0, 2000.0)])
    assert out.shape == (3, 4, 6, 5)
    np.testing.assert_allclose(out[0], ct.window(hu, -600, 1500))
    np.testing.assert_allclose(out[1], ct.window(hu, 50, 350))
    np.testing.assert_allclose(out[2], ct.window(hu, *prep.SEED_WINDOWS["bone"]))


@pytest.mark.formula("pre.metal-mask")
def test_metal_mask_equals_the_seed_loop_and_scikit_image():
    rng = np.random.default_rng(4)
    hu = ndimage.gaussian_filter(rng.normal(0, 1, size=(20, 40, 40)), 1.2) * 20000
    before = hu.copy()
    ours = prep.metal_mask(hu)
    seed = seed_detect_metal_artifacts(hu)
    assert seed.any() and not seed.all()
    n_labels = ndimage.label(hu > 3000)[1]
    assert n_labels > 5                          # several components, some dropped
    np.testing.assert_array_equal(ours, seed)
    np.testing.assert_array_equal(ours, remove_small_objects(hu > 3000, max_size=100))
    np.testing.assert_array_equal(hu, before)


def test_metal_mask_sizes_and_connectivity():
    hu = np.zeros((12, 12))
    hu[1:4, 1:4] = 5000                          # 9 pixels
    hu[6:8, 6:8] = 5000                          # 4 pixels
    hu[8, 8] = 5000                              # touches the 2x2 block by a corner only
    m = prep.metal_mask(hu, min_voxels=4)
    assert m.sum() == 9
    m8 = prep.metal_mask(hu, min_voxels=4, connectivity=2)
    assert m8.sum() == 14


test_bad_input_raises_a_clear_error = bad_input_test([
    (prep.clip_hu, (np.zeros(3), 100.0, -100.0), {}, ValueError, "low_hu"),
    (prep.window_image, (np.zeros(3), 0.0, 0.0), {}, ValueError, "width"),
    (prep.window_image, (np.zeros(3), 0.0, 10.0), {"output": "float"}, ValueError, "output"),
    (prep.stack_windows, (np.zeros(3), []), {}, ValueError, "windows"),
    (prep.stack_windows, (np.zeros(3), ["lungs"]), {}, ValueError, r"windows\[0\]"),
    (prep.stack_windows, (np.zeros(3), [(0.0, -1.0)]), {}, ValueError, r"windows\[0\]"),
    (prep.metal_mask, (np.zeros(3),), {}, ValueError, "hu"),
    (prep.metal_mask, (np.zeros((3, 3)),), {"connectivity": 3}, ValueError, "connectivity"),
    (prep.clip_fractions, (np.zeros(3), 0.0, 1.0), {"mask": np.zeros(3, bool)}, ValueError,
     "mask"),
    (prep.hu_from_stored_values, (np.zeros(3), 0.0, -1024.0), {}, ValueError, "slope"),
])


def _phantom(shape=(6, 40, 48)):
    """Air, an elliptic body of 40 HU with two -850 HU lungs, and a table below the body."""
    z, y, x = np.indices(shape).astype(float)
    body = ((y - 18) / 14) ** 2 + ((x - 24) / 20) ** 2 <= 1
    lungs = (((y - 18) / 8) ** 2 + ((x - 15) / 6) ** 2 <= 1) | \
        (((y - 18) / 8) ** 2 + ((x - 33) / 6) ** 2 <= 1)
    hu = np.full(shape, -1000.0)
    hu[body] = 40.0
    hu[lungs] = -850.0
    hu[:, 36:38, 4:44] = 200.0                   # the table, apart from the body
    return hu, body, lungs


def test_body_mask_of_a_phantom_is_the_body_with_its_lungs():
    hu, body, _ = _phantom()
    before = hu.copy()
    np.testing.assert_array_equal(prep.body_mask(hu), body)
    np.testing.assert_array_equal(prep.body_mask(hu[3]), body[3])
    np.testing.assert_array_equal(hu, before)
    assert not prep.body_mask(np.full((4, 4), -1000.0)).any()


def test_body_mask_fills_holes_per_slice_as_scipy_does():
    hu, body, _ = _phantom()
    hu[0] = 40.0             # a slab closing the lungs (and joining the table to the body)
    per_slice = np.stack([ndimage.binary_fill_holes(s > -500) for s in hu])
    out = prep.body_mask(hu)
    np.testing.assert_array_equal(out, per_slice)
    assert out[0].all() and not ndimage.binary_fill_holes(hu > -500)[1:].all()


def test_metal_mask_at_the_volume_edges_and_without_metal():
    hu = np.zeros((5, 30, 30))
    hu[:, :6, :6] = 4000.0                       # 180 voxels in the corner: kept
    hu[4, 25:, 20:] = 4000.0                     # 50 voxels at the opposite edge: dropped
    hu[0, 29, 29] = 4000.0                       # one voxel in the far corner: dropped
    np.testing.assert_array_equal(prep.metal_mask(hu), seed_detect_metal_artifacts(hu))
    assert prep.metal_mask(hu).sum() == 180
    assert not prep.metal_mask(np.full((3, 4, 5), 2000.0)).any()
