"""medlib.prep.xray_contrast against scikit-image, SciPy, pydicom and closed forms."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import ndimage
from skimage import exposure
from skimage.exposure._adapthist import clip_histogram as skimage_clip_histogram

from medlib import data, prep, xray

ONE_LEVEL = 1 / (2 ** 14 - 1)   # one grey level of scikit-image's 14-bit working range


def _radiograph():
    ds = pydicom.dcmread(data.path("dicom/cr_chest_rg1_half.dcm"))
    return ds, xray.to_monochrome2(ds.pixel_array, ds.PhotometricInterpretation, ds.BitsStored)


# --------------------------------------------------------------------------------------------
# CLAHE
# --------------------------------------------------------------------------------------------
CASES = [  # shape, kernel_size, clip_limit, nbins
    ((64, 64), None, 0.01, 256),
    ((97, 130), None, 0.03, 256),
    ((50, 41), 7, 0.01, 256),
    ((50, 41), (13, 5), 0.2, 64),
    ((33, 90), (33, 90), 0.0, 256),      # one tile, no clipping: plain equalisation
    ((40, 40), (3, 4), 1.0, 1000),
    ((17, 23), (1, 1), 0.05, 16),
    ((120, 80), (30, 17), 0.002, 2),
    ((9, 200), None, 0.5, 256),
]


@pytest.mark.formula("pre.clahe")
@pytest.mark.parametrize("shape, kernel_size, clip_limit, nbins", CASES)
@pytest.mark.parametrize("kind", ["uniform", "levels", "smooth"])
def test_clahe_agrees_with_equalize_adapthist(rng, shape, kernel_size, clip_limit, nbins, kind):
    if kind == "uniform":
        img = rng.random(shape)
    elif kind == "levels":                          # few grey levels: many ties, tall peaks
        img = rng.integers(0, 6, shape) / 5
    else:                                           # a smooth ramp plus noise
        y, x = np.indices(shape)
        img = np.clip(0.3 + 0.4 * y / shape[0] + 0.1 * np.sin(x / 3)
                      + 0.02 * rng.normal(size=shape), 0, 1)
    ours = prep.clahe(img, clip_limit=clip_limit, kernel_size=kernel_size, nbins=nbins)
    ref = exposure.equalize_adapthist(img, kernel_size=kernel_size, clip_limit=clip_limit,
                                      nbins=nbins)
    assert ours.shape == img.shape and ours.dtype == np.float64
    assert np.abs(ours - ref).max() <= 1 / 256               # the bar
    np.testing.assert_allclose(ours, ref, rtol=0, atol=ONE_LEVEL)   # what we actually reach


@pytest.mark.formula("pre.clahe")
@pytest.mark.parametrize("clip_limit, kernel_size", [(0.01, None), (0.03, (64, 64)),
                                                      (0.005, (200, 150))])
def test_clahe_agrees_with_equalize_adapthist_on_the_real_radiograph(clip_limit, kernel_size):
    ds, mono2 = _radiograph()
    img = mono2 / (2 ** ds.BitsStored - 1)
    ours = prep.clahe(img, clip_limit=clip_limit, kernel_size=kernel_size)
    ref = exposure.equalize_adapthist(img, clip_limit=clip_limit, kernel_size=kernel_size)
    assert np.abs(ours - ref).max() <= 1 / 256
    np.testing.assert_allclose(ours, ref, rtol=0, atol=ONE_LEVEL)


def test_clahe_of_a_constant_image_is_constant_as_in_scikit_image():
    img = np.full((20, 30), 0.4)
    np.testing.assert_array_equal(prep.clahe(img), exposure.equalize_adapthist(img))


@pytest.mark.formula("pre.clahe")
def test_clahe_with_one_tile_and_no_clip_is_global_equalisation_in_closed_form(rng):
    # Grey values placed at the middle of scikit-image's bins (65 levels of 16383 each, for
    # nbins=256) so the bin of each pixel is known; the mapping is then floor(16383 * CDF).
    bins = rng.integers(0, 253, size=(24, 24))
    bins[0, 0], bins[-1, -1] = 0, 252
    img = np.clip((65 * bins + 32) / 16383, 0, 1)
    img[0, 0], img[-1, -1] = 0.0, 1.0                  # fix the stretch to [0, 1]
    counts = np.bincount(bins.ravel(), minlength=256)
    levels = np.floor(np.cumsum(counts) * (16383 / bins.size))
    expected = (levels[bins] - levels[bins].min()) / (levels[bins].max() - levels[bins].min())
    out = prep.clahe(img, clip_limit=0.0, kernel_size=24)
    # The blend of four equal mappings is summed in float32 and truncated, as scikit-image does:
    # a level can come out one lower (1/16383 before the final stretch).
    np.testing.assert_allclose(out, expected, atol=1.01 / (levels[bins].max() - levels[bins].min()))
    maps = prep.clahe_tile_mappings(img, clip_limit=0.0, kernel_size=24)
    assert maps.shape == (1, 1, 256)
    np.testing.assert_allclose(maps[0, 0], levels / 16383, atol=1e-15)


@pytest.mark.formula("pre.clahe")
def test_tile_mappings_are_the_clipped_cumulative_histograms_of_each_tile(rng):
    bins = rng.integers(0, 253, size=(16, 24))
    bins[0, 0], bins[-1, -1] = 0, 252
    img = np.clip((65 * bins + 32) / 16383, 0, 1)
    img[0, 0], img[-1, -1] = 0.0, 1.0
    maps = prep.clahe_tile_mappings(img, clip_limit=0.1, kernel_size=8)
    assert maps.shape == (2, 3, 256)
    clim = int(0.1 * 64)
    for i in range(2):
        for j in range(3):
            tile = bins[8 * i:8 * i + 8, 8 * j:8 * j + 8]
            hist = skimage_clip_histogram(np.bincount(tile.ravel(), minlength=256), clim)
            expected = np.minimum(np.floor(np.cumsum(hist) * (16383 / 64)), 16383) / 16383
            np.testing.assert_allclose(maps[i, j], expected, atol=1e-15)


@pytest.mark.formula("pre.clahe")
def test_clip_histogram_matches_scikit_image_bin_for_bin(rng):
    for _ in range(300):
        nbins = int(rng.integers(1, 60))
        hist = rng.integers(0, 40, nbins) * (rng.random(nbins) < rng.random())
        limit = int(rng.integers(1, 30))
        ours = prep.clip_histogram(hist, limit)
        ref = skimage_clip_histogram(hist.copy(), limit)
        np.testing.assert_array_equal(ours, ref)


def test_clip_histogram_keeps_the_count_and_the_limit_and_works_on_stacks(rng):
    hist = rng.integers(0, 200, size=(5, 7, 64)) * (rng.random((5, 7, 64)) < 0.3)
    out = prep.clip_histogram(hist, 12)
    assert out.shape == hist.shape and out.max() <= 12
    room = 12 * 64 >= hist.sum(axis=-1)
    np.testing.assert_array_equal(out.sum(axis=-1)[room], hist.sum(axis=-1)[room])
    for index in np.ndindex(5, 7):
        np.testing.assert_array_equal(out[index], skimage_clip_histogram(hist[index].copy(), 12))


def test_clahe_is_at_least_as_fast_as_scikit_image_on_the_radiograph():
    # Not the benchmark (benchmarks/bench_prep_clahe.py measures the ratio); a guard against a
    # regression to per-tile Python loops, loose enough for a loaded machine.
    import time
    ds, mono2 = _radiograph()
    img = mono2 / (2 ** ds.BitsStored - 1)
    ours, ref = [], []
    for _ in range(3):
        t0 = time.process_time()
        prep.clahe(img)
        t1 = time.process_time()
        exposure.equalize_adapthist(img)
        t2 = time.process_time()
        ours.append(t1 - t0)
        ref.append(t2 - t1)
    assert min(ours) < min(ref)


# --------------------------------------------------------------------------------------------
# MONOCHROME1 and the lung field
# --------------------------------------------------------------------------------------------
def test_the_radiograph_is_monochrome1_and_its_lungs_are_dark_only_after_inversion():
    ds, mono2 = _radiograph()
    assert ds.PhotometricInterpretation == "MONOCHROME1" and ds.BitsStored == 15
    # pydicom's own VOI pipeline knows nothing of the interpretation; the inversion is ours.
    np.testing.assert_array_equal(mono2, (2 ** 15 - 1) - ds.pixel_array.astype(float))
    mask = prep.lung_field_mask(mono2)
    rows, cols = mono2.shape
    mediastinum = mono2[rows // 4:rows // 2, cols // 2 - 20:cols // 2 + 20]
    assert mono2[mask].mean() < mediastinum.mean()          # air is dark in MONOCHROME2
    stored = ds.pixel_array.astype(float)
    assert stored[mask].mean() > stored[rows // 4:rows // 2, cols // 2 - 20:cols // 2 + 20].mean()


def test_lung_field_mask_of_the_radiograph_is_two_lungs_one_each_side():
    _, mono2 = _radiograph()
    mask = prep.lung_field_mask(mono2)
    labels, n = ndimage.label(mask)
    assert n == 2
    centres = ndimage.center_of_mass(mask, labels, [1, 2])
    cols = sorted(c for _, c in centres)
    assert cols[0] < mono2.shape[1] / 2 < cols[1]
    assert 0.12 < mask.mean() < 0.40
    assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def test_lung_field_stages_end_in_the_mask_and_report_otsus_threshold_in_image_units(rng):
    img, truth = _phantom()
    img = 1000 * (img + 0.02 * rng.normal(size=img.shape)) + 50
    stages = prep.lung_field_stages(img, smoothing_px=0.0, closing_px=3)
    from skimage.filters import threshold_otsu
    assert stages["threshold"] == pytest.approx(threshold_otsu(img), rel=1e-6)
    np.testing.assert_array_equal(stages["candidates"], img < stages["threshold"])
    assert not stages["inside"][0].any() and (stages["lungs"] <= stages["inside"]).all()
    np.testing.assert_array_equal(stages["mask"],
                                  prep.lung_field_mask(img, smoothing_px=0.0, closing_px=3))
    labels, n = ndimage.label(stages["lungs"])
    assert n == 2


def _phantom():
    y, x = np.mgrid[0:120, 0:140]
    body = ((y - 60) / 55) ** 2 + ((x - 70) / 62) ** 2 < 1
    left = ((y - 60) / 35) ** 2 + ((x - 40) / 18) ** 2 < 1
    right = ((y - 60) / 35) ** 2 + ((x - 100) / 18) ** 2 < 1
    img = np.where(body, 0.8, 0.1)                   # air around the patient: dark
    img[left | right] = 0.3                          # aerated lung: dark, inside the body
    img[58:63, 38:43] = 0.8                          # a nodule inside the left lung
    return img, left | right


def test_lung_field_mask_finds_the_two_lungs_of_a_phantom_and_fills_a_nodule(rng):
    img, truth = _phantom()
    img = img + 0.02 * rng.normal(size=img.shape)
    mask = prep.lung_field_mask(img, smoothing_px=1.0, closing_px=5)
    dice = 2 * np.sum(mask & truth) / (mask.sum() + truth.sum())
    assert dice > 0.97
    assert mask[60, 40]                              # the nodule is inside the field


def test_lung_field_mask_threshold_is_in_image_units_and_can_find_nothing():
    img, truth = _phantom()
    assert prep.lung_field_mask(img, threshold=0.2, smoothing_px=0).sum() == 0   # air only
    mask = prep.lung_field_mask(img, threshold=0.5, smoothing_px=0, closing_px=0)
    np.testing.assert_array_equal(mask, truth | (mask & ~truth))
    assert mask[truth].all()
    scaled = prep.lung_field_mask(1000 * img + 7, threshold=507.0, smoothing_px=0, closing_px=0)
    np.testing.assert_array_equal(scaled, mask)


@pytest.mark.formula("pre.lung-field-normalize")
def test_lung_field_normalize_uses_the_statistics_inside_the_mask_only(rng):
    img, truth = _phantom()
    img = img + rng.normal(0, 0.05, img.shape)
    labels = truth.astype(int)
    mu = ndimage.mean(img, labels, 1)
    sigma = ndimage.standard_deviation(img, labels, 1)      # population (ddof=0)
    out = prep.lung_field_normalize(img, truth)
    np.testing.assert_allclose(out[truth], (img[truth] - mu) / sigma, rtol=1e-12, atol=1e-12)
    assert np.all(out[~truth] == 0.0)
    np.testing.assert_allclose([out[truth].mean(), out[truth].std()], [0, 1], atol=1e-12)
    kept = prep.lung_field_normalize(img, truth, keep_outside=True)
    np.testing.assert_allclose(kept, (img - mu) / sigma, rtol=1e-12, atol=1e-12)


@pytest.mark.formula("pre.lung-field-normalize")
def test_lung_field_normalize_ignores_the_outside_and_the_exposure(rng):
    img, truth = _phantom()
    img = img + rng.normal(0, 0.05, img.shape)
    other = img.copy()
    other[~truth] = rng.uniform(-50, 50, np.count_nonzero(~truth))   # markers, collimation
    ref = prep.lung_field_normalize(img, truth)
    np.testing.assert_allclose(prep.lung_field_normalize(other, truth), ref, atol=1e-12)
    np.testing.assert_allclose(prep.lung_field_normalize(3.5 * img + 1200, truth), ref,
                               atol=1e-9)


def test_the_seeds_masked_normalisation_sends_the_outside_to_minus_mu_over_sigma(rng):
    img, truth = _phantom()
    img = img + rng.normal(0, 0.05, img.shape)
    mu, sigma = img[truth].mean(), img[truth].std()
    seed = (img * truth - mu) / (sigma + 1e-6)          # the seed's lung_segmentation_preprocessing
    np.testing.assert_allclose(seed[~truth], -mu / (sigma + 1e-6))
    assert np.all(prep.lung_field_normalize(img, truth)[~truth] == 0)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    img = rng.random((30, 40))
    assert_inputs_unchanged(prep.clahe, img, clip_limit=0.02, kernel_size=[10, 10])
    assert_inputs_unchanged(prep.clahe_tile_mappings, img, kernel_size=(10, 10))
    hist = rng.integers(0, 50, (3, 32))
    assert_inputs_unchanged(prep.clip_histogram, hist, 5)
    phantom, truth = _phantom()
    assert_inputs_unchanged(prep.lung_field_mask, phantom)
    assert_inputs_unchanged(prep.lung_field_normalize, phantom, truth)


_IMG = np.linspace(0, 1, 12 * 16).reshape(12, 16)
BAD_CALLS = [
    (prep.clahe, (np.ones((4, 4, 4)) / 2,), {}, ValueError, "image"),
    (prep.clahe, (_IMG * 2,), {}, ValueError, "image"),
    (prep.clahe, (_IMG - 0.5,), {}, ValueError, "image"),
    (prep.clahe, (np.where(_IMG > 0.5, np.nan, _IMG),), {}, ValueError, "image"),
    (prep.clahe, (_IMG,), {"clip_limit": -0.1}, ValueError, "clip_limit"),
    (prep.clahe, (_IMG,), {"clip_limit": 2.0}, ValueError, "clip_limit"),
    (prep.clahe, (_IMG,), {"nbins": 1}, ValueError, "nbins"),
    (prep.clahe, (_IMG,), {"nbins": 2.5}, TypeError, "nbins"),
    (prep.clahe, (_IMG,), {"kernel_size": 0}, ValueError, "kernel_size"),
    (prep.clahe, (_IMG,), {"kernel_size": (3,)}, ValueError, "kernel_size"),
    (prep.clahe, (_IMG,), {"kernel_size": (3, 17)}, ValueError, "kernel_size"),
    (prep.clahe, (_IMG,), {"kernel_size": "8"}, TypeError, "kernel_size"),
    (prep.clahe_tile_mappings, (_IMG,), {"nbins": 20000}, ValueError, "nbins"),
    (prep.clip_histogram, ([3, -1, 2], 2), {}, ValueError, "hist"),
    (prep.clip_histogram, ([3.5, 1, 2], 2), {}, TypeError, "hist"),
    (prep.clip_histogram, ([3, 1, 2], 0), {}, ValueError, "clip_limit"),
    (prep.lung_field_mask, (np.ones(5),), {}, ValueError, "image"),
    (prep.lung_field_mask, (_IMG,), {"smoothing_px": -1}, ValueError, "smoothing_px"),
    (prep.lung_field_mask, (_IMG,), {"closing_px": -1}, ValueError, "closing_px"),
    (prep.lung_field_mask, (_IMG,), {"threshold": np.nan}, ValueError, "threshold"),
    (prep.lung_field_normalize, (_IMG, np.zeros((12, 16), bool)), {}, ValueError, "mask"),
    (prep.lung_field_normalize, (_IMG, np.ones((12, 15), bool)), {}, ValueError, "mask"),
    (prep.lung_field_normalize, (_IMG, _IMG), {}, ValueError, "mask"),
    (prep.lung_field_normalize, (np.ones((12, 16)), np.ones((12, 16), bool)), {}, ValueError,
     "image"),
    (prep.lung_field_normalize, (_IMG, _IMG > 0.5), {"keep_outside": 1}, TypeError,
     "keep_outside"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)

_SMALL = (np.arange(12 * 16).reshape(12, 16) % 17) / 16      # exact in float32
_PHANTOM = _phantom()[0][::4, ::4]
BAD_INPUT_CALLS = {
    "prep.xray_contrast.clahe": Entry(lambda: C(_SMALL.copy(), clip_limit=0.05,
                                                kernel_size=(4, 8), nbins=16)),
    "prep.xray_contrast.clahe_tile_mappings": Entry(lambda: C(_SMALL.copy(), clip_limit=0.05,
                                                              kernel_size=(4, 8), nbins=16)),
    "prep.xray_contrast.clip_histogram": Entry(lambda: C(np.array([[5, 0, 1, 9], [2, 2, 2, 0]]),
                                                         3)),
    "prep.xray_contrast.lung_field_mask": Entry(lambda: C(_PHANTOM.copy(), threshold=None,
                                                          smoothing_px=1.0, closing_px=2.0)),
    "prep.xray_contrast.lung_field_stages": Entry(lambda: C(_PHANTOM.copy(), threshold=0.5,
                                                            smoothing_px=1.0, closing_px=2.0)),
    "prep.xray_contrast.lung_field_normalize": Entry(
        lambda: C(_SMALL.copy(), _SMALL > 0.5, keep_outside=False)),
}
