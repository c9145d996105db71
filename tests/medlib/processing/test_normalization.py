"""medlib.processing.normalization (section 8.1) against scikit-image, SciPy and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import stats
from skimage import exposure

from medlib import processing
from medlib.processing import normalization


@pytest.mark.formula("proc.minmax")
def test_minmax_matches_skimage_rescale_intensity(rng):
    train = rng.normal(40.0, 12.0, size=(20, 30))
    test = rng.normal(55.0, 12.0, size=(10, 10))
    lo, hi = normalization.fit_minmax(train)
    assert (lo, hi) == (train.min(), train.max())
    ref = exposure.rescale_intensity(test, in_range=(lo, hi), out_range=(0.0, 1.0))
    np.testing.assert_allclose(normalization.minmax_normalize(test, lo, hi, clip=True), ref,
                               atol=1e-12)
    unclipped = normalization.minmax_normalize(test, lo, hi)
    np.testing.assert_allclose(unclipped, (test - lo) / (hi - lo), atol=1e-12)
    assert unclipped.max() > 1.0          # the shifted test set leaves [0, 1]: no clipping


@pytest.mark.formula("proc.minmax")
def test_minmax_of_the_training_data_spans_exactly_zero_to_one(rng):
    train = rng.uniform(-1000, 400, size=500)
    out = normalization.minmax_normalize(train, *normalization.fit_minmax(train))
    assert out.min() == 0.0 and out.max() == 1.0


def test_robust_minmax_uses_percentiles_of_pooled_images(rng):
    images = [rng.normal(size=(8, 8)), rng.normal(size=(5, 7)), rng.normal(size=30)]
    pooled = np.concatenate([i.ravel() for i in images])
    lo, hi = normalization.fit_minmax(images, percentiles=(1, 99))
    np.testing.assert_allclose([lo, hi], np.percentile(pooled, [1, 99]))


@pytest.mark.formula("proc.zscore")
def test_zscore_with_the_images_own_statistics_matches_scipy(rng):
    x = rng.gamma(2.0, 30.0, size=(15, 12))
    out = normalization.zscore_normalize(x, *normalization.fit_zscore(x))
    np.testing.assert_allclose(out, stats.zscore(x, axis=None), atol=1e-12)


@pytest.mark.formula("proc.zscore")
def test_zscore_uses_training_statistics_only(rng):
    train = [rng.normal(100.0, 20.0, size=(16, 16)) for _ in range(4)]
    test = rng.normal(130.0, 20.0, size=(16, 16))
    mu, sd = normalization.fit_zscore(train)
    pooled = np.concatenate([t.ravel() for t in train])
    assert mu == pytest.approx(pooled.mean()) and sd == pytest.approx(pooled.std())
    z_train = normalization.zscore_normalize(pooled, mu, sd)
    assert abs(z_train.mean()) < 1e-12 and z_train.std() == pytest.approx(1.0)
    z_test = normalization.zscore_normalize(test, mu, sd)
    # The test image keeps its offset of about +1.5 training standard deviations.
    assert z_test.mean() == pytest.approx((test.mean() - mu) / sd)
    assert z_test.mean() > 1.0


def test_quantize_maps_the_range_to_integer_levels():
    x = np.array([-5.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(normalization.quantize(x, 256, 0.0, 1.0), [0, 0, 128, 255, 255])
    assert normalization.quantize(x, 4, 0.0, 1.0).dtype == np.int64


def test_histogram_counts_every_level(rng):
    img = rng.integers(0, 16, size=(30, 40))
    h = normalization.histogram(img, 16)
    np.testing.assert_array_equal(h, [np.sum(img == i) for i in range(16)])
    ref, _ = np.histogram(img, bins=np.arange(17) - 0.5)
    np.testing.assert_array_equal(h, ref)


@pytest.mark.formula("proc.cdf")
def test_cdf_matches_skimage_cumulative_distribution(rng):
    img = rng.integers(3, 200, size=(50, 60))        # levels 0-2 and 200-255 unused
    c = normalization.cdf(img, 256)
    ref, centres = exposure.cumulative_distribution(img)
    np.testing.assert_allclose(c[centres], ref, atol=1e-12)
    assert np.all(c[:3] == 0) and np.all(c[centres[-1]:] == 1.0)
    assert np.all(np.diff(c) >= 0)


@pytest.mark.formula("proc.histeq")
@pytest.mark.parametrize("levels", [16, 256, 4096])
def test_equalization_matches_skimage_equalize_hist(rng, levels):
    img = np.clip(rng.normal(levels / 3, levels / 10, size=(64, 48)), 0, levels - 1).astype(int)
    ours = normalization.equalize_histogram(img, levels)
    np.testing.assert_allclose(ours / (levels - 1), exposure.equalize_hist(img), atol=1e-12)


@pytest.mark.formula("proc.histeq")
def test_equalized_histogram_is_close_to_uniform(rng):
    img = np.clip(rng.gamma(2.0, 10.0, size=(200, 200)), 0, 255).astype(np.uint8)
    eq = np.rint(normalization.equalize_histogram(img, 256)).astype(int)
    # At every occupied output level x', the output's CDF is x' / (L - 1) (to the rounding):
    # the CDF of the equalised image is the straight line of a uniform distribution.
    out_cdf = normalization.cdf(eq, 256)
    occupied = np.unique(eq)
    assert np.max(np.abs(out_cdf[occupied] - occupied / 255)) <= 0.5 / 255 + 1e-12
    # Monotonic: the order of grey levels is kept.
    order = np.argsort(img.ravel(), kind="stable")
    assert np.all(np.diff(eq.ravel()[order]) >= 0)


def test_histogram_refuses_non_integer_or_out_of_range_levels():
    with pytest.raises(ValueError, match="integer grey levels"):
        normalization.histogram(np.array([0.5, 1.0]), 4)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        normalization.cdf(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        normalization.equalize_histogram(np.array([-1, 2]), 4)


def test_the_package_re_exports_every_public_name():
    for name in normalization.__all__:
        assert getattr(processing, name) is getattr(normalization, name), name
    assert set(normalization.__all__) <= set(processing.__all__)


@pytest.mark.parametrize("value, n", [(0.1, 3), (0.7, 7), (0.3, 10), (-2.5e5 / 3, 1000)])
def test_fit_zscore_refuses_a_constant_whose_std_is_rounding_error(value, n):
    # issue 11, group 1: np.full(3, 0.1).std() is 1.4e-17, not 0; the image z-scored to all ones.
    data = np.full(n, value)
    with pytest.raises(ValueError, match="training has zero standard deviation"):
        normalization.fit_zscore(data)
    with pytest.raises(ValueError, match="training has zero standard deviation"):
        normalization.fit_zscore([data[:2], data[2:]])


def test_fit_zscore_keeps_a_small_but_real_spread():
    data = 1000.0 + np.array([-1.0, 0.0, 1.0]) * 1e-6     # std / max = 8e-10: real contrast
    mu, sd = normalization.fit_zscore(data)
    assert sd == pytest.approx(np.sqrt(2 / 3) * 1e-6, rel=1e-6)


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (normalization.minmax_normalize, (np.ones(3), 0.0, 2.0), {"clip": "False"}, TypeError,
     "clip must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


BAD_CALLS = [
    (normalization.fit_minmax, (np.ones(5),), {}, ValueError, "x_max == x_min"),
    (normalization.fit_minmax, (np.arange(5.0),), {"percentiles": (50, 10)}, ValueError,
     "percentiles"),
    (normalization.fit_minmax, ([],), {}, ValueError, "empty"),
    (normalization.minmax_normalize, (np.ones(3), 2.0, 1.0), {}, ValueError, "x_max"),
    (normalization.minmax_normalize, ([1.0, np.nan], 0.0, 1.0), {}, ValueError, "finite"),
    (normalization.fit_zscore, (np.full(4, 3.0),), {}, ValueError, "standard deviation"),
    (normalization.zscore_normalize, (np.ones(3), 0.0, 0.0), {}, ValueError, "std"),
    (normalization.zscore_normalize, (np.ones(3), "0", 1.0), {}, TypeError, "mean"),
    (normalization.quantize, (np.ones(3), 1, 0.0, 1.0), {}, ValueError, "n_levels"),
    (normalization.histogram, ([0, 1.5], 4), {}, ValueError, "integer"),
    (normalization.histogram, ([0, 1], 2.5), {}, TypeError, "n_levels"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: complex grey levels get a named TypeError (not NumPy's "ufunc 'floor'"), and a
# number of levels of 2**63 is refused before np.bincount overflows
ISSUE_11_CALLS = [
    (normalization.histogram, (np.array([0, 1 + 1j]), 4), {}, TypeError, "^image must be real"),
    (normalization.cdf, (np.array([0, 1 + 1j]), 4), {}, TypeError, "^image must be real"),
    (normalization.equalize_histogram, (np.array([0, 1 + 1j]), 4), {}, TypeError,
     "^image must be real"),
    (normalization.histogram, (np.array([0, 1]), 2 ** 63), {}, ValueError, "^n_levels"),
    (normalization.cdf, (np.array([0, 1]), 2 ** 63), {}, ValueError, "^n_levels"),
    (normalization.equalize_histogram, (np.array([0, 1]), 2 ** 63), {}, ValueError,
     "^n_levels"),
]

test_issue_11_bad_levels_are_named = bad_input_test(ISSUE_11_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    img = rng.normal(size=(12, 11))
    levels = rng.integers(0, 8, size=(6, 6))
    train = [rng.normal(size=(3, 3)), rng.normal(size=5)]
    assert_inputs_unchanged(normalization.fit_minmax, train)
    assert_inputs_unchanged(normalization.fit_zscore, train)
    assert_inputs_unchanged(normalization.minmax_normalize, img, -1.0, 1.0, clip=True)
    assert_inputs_unchanged(normalization.zscore_normalize, img, 0.5, 2.0)
    assert_inputs_unchanged(normalization.quantize, img, 16, -2.0, 2.0)
    assert_inputs_unchanged(normalization.histogram, levels, 8)
    assert_inputs_unchanged(normalization.cdf, levels, 8)
    assert_inputs_unchanged(normalization.equalize_histogram, levels, 8)
