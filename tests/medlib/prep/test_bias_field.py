"""medlib.prep.bias_field against TorchIO, SciPy and closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import ndimage, stats

from medlib import prep
from medlib.prep import bias_field as bf

BAD_INPUT_CALLS = {
    "prep.bias_field.polynomial_exponents": Entry(lambda: C(3, 2)),
    "prep.bias_field.polynomial_bias_field": Entry(
        lambda: C((4, 5, 6), np.linspace(-0.2, 0.2, 10), order=2)),
    "prep.bias_field.random_bias_field": Entry(lambda: C((4, 5, 6), 3, strength=0.3, order=2)),
    "prep.bias_field.apply_bias_field": Entry(
        lambda: C(np.arange(1.0, 25.0).reshape(4, 6), np.full((4, 6), 1.5))),
    # The reference's background (0) makes NaN, "undefined", in the valid call too.
    "prep.bias_field.estimate_bias_division": Entry(
        lambda: C(np.arange(0.0, 24.0).reshape(4, 6) * 1.2, np.arange(0.0, 24.0).reshape(4, 6))),
    "prep.bias_field.estimate_bias_log_difference": Entry(
        lambda: C(np.arange(0.0, 24.0).reshape(4, 6) * 1.2, np.arange(0.0, 24.0).reshape(4, 6))),
    "prep.bias_field.estimate_bias_lowpass": Entry(
        lambda: C(np.arange(1.0, 25.0).reshape(4, 6), 1.5)),
    "prep.bias_field.coefficient_of_variation": Entry(
        lambda: C(np.arange(1.0, 25.0).reshape(4, 6))),
    "prep.bias_field.field_correlation": Entry(
        lambda: C(np.exp(np.linspace(0, 1, 24)).reshape(4, 6),
                  np.exp(np.linspace(0, 1, 24) ** 2).reshape(4, 6)),
        valid={"estimate": {"nan"}}),   # NaN marks undefined voxels of an estimate (documented)
}


@pytest.mark.formula("pre.bias-model")
@pytest.mark.parametrize("order", [0, 1, 3])
def test_polynomial_field_matches_torchio_biasfield(rng, order):
    biasfield = pytest.importorskip(
        "torchio.transforms.augmentation.intensity.random_bias_field").BiasField
    n_terms = math.comb(order + 3, 3)
    coefficients = rng.uniform(-0.5, 0.5, n_terms)
    for shape in [(7, 8, 9), (10, 6, 5)]:
        ref = biasfield.generate_bias_field(np.zeros((1,) + shape), order, list(coefficients))
        ours = prep.polynomial_bias_field(shape, coefficients, order=order)
        np.testing.assert_allclose(ours, ref, rtol=1e-6)


@pytest.mark.formula("pre.bias-model")
def test_polynomial_exponents_count_and_order():
    for ndim in (2, 3):
        for order in range(5):
            exps = prep.polynomial_exponents(ndim, order)
            assert len(exps) == math.comb(order + ndim, ndim)
            assert exps.sum(axis=1).max() == order
            assert [tuple(e) for e in exps] == sorted(tuple(e) for e in exps)


@pytest.mark.formula("pre.bias-model")
def test_polynomial_field_closed_form_in_2d():
    # order 1 in 2D: terms 1, u1, u0 (lexicographic (0,0), (0,1), (1,0)).
    field = prep.polynomial_bias_field((5, 3), [0.1, 0.2, -0.3], order=1)
    u0 = np.linspace(-1, 1, 5)[:, None]
    u1 = np.linspace(-1, 1, 3)[None, :]
    np.testing.assert_allclose(field, np.exp(0.1 + 0.2 * u1 - 0.3 * u0), rtol=1e-14)


def test_random_field_is_reproducible_and_bounded():
    a = prep.random_bias_field((6, 7, 8), 5, strength=0.2)
    b = prep.random_bias_field((6, 7, 8), np.random.default_rng(5), strength=0.2)
    c = prep.random_bias_field((6, 7, 8), 6, strength=0.2)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # |log B| <= strength * (number of terms), since |u| <= 1.
    assert np.abs(np.log(a)).max() <= 0.2 * 20 + 1e-12
    np.testing.assert_array_equal(prep.random_bias_field((4, 4), 0, strength=0.0), 1.0)
    # The coefficients are one uniform draw, in the documented order.
    coeffs = np.random.default_rng(5).uniform(-0.2, 0.2, 20)
    np.testing.assert_allclose(a, prep.polynomial_bias_field((6, 7, 8), coeffs), rtol=1e-14)


def test_random_field_is_smooth(rng):
    field = np.log(prep.random_bias_field((40, 40, 40), rng, strength=0.3))
    # A cubic polynomial: fourth differences along an axis vanish.
    np.testing.assert_allclose(np.diff(field, n=4, axis=1), 0.0, atol=1e-10)


@pytest.mark.formula("pre.bias-model")
def test_apply_bias_field_is_multiplicative_and_additive_in_log(rng):
    image = rng.uniform(1, 10, (6, 7, 5))
    field = prep.random_bias_field(image.shape, rng, strength=0.3)
    biased = prep.apply_bias_field(image, field)
    np.testing.assert_allclose(biased, image * field, rtol=1e-15)
    np.testing.assert_allclose(np.log(biased), np.log(image) + np.log(field), atol=1e-12)


@pytest.mark.formula("pre.bias-estimate")
def test_division_and_log_difference_recover_a_known_field(rng):
    image = rng.uniform(0, 10, (8, 9, 7))
    image[:2] = 0.0                                  # background
    field = prep.random_bias_field(image.shape, rng, strength=0.3)
    biased = image * field
    div = prep.estimate_bias_division(biased, image)
    logd = prep.estimate_bias_log_difference(biased, image)
    inside = image > 0
    np.testing.assert_allclose(div[inside], field[inside], rtol=1e-12)
    np.testing.assert_allclose(np.exp(logd[inside]), field[inside], rtol=1e-12)
    assert np.isnan(div[~inside]).all() and np.isnan(logd[~inside]).all()
    sub = prep.estimate_bias_division(biased, image, mask=np.indices(image.shape)[0] > 5)
    assert np.isfinite(sub[6:]).all() and np.isnan(sub[:6]).all()


@pytest.mark.formula("pre.bias-estimate")
def test_lowpass_without_mask_is_normalised_scipy_gaussian(rng):
    image = rng.uniform(1, 2, (20, 24))
    ours = prep.estimate_bias_lowpass(image, 3.0)
    num = ndimage.gaussian_filter(image, 3.0, mode="constant")
    den = ndimage.gaussian_filter(np.ones_like(image), 3.0, mode="constant")
    ref = num / den
    np.testing.assert_allclose(ours, ref / ref.mean(), rtol=1e-12)


@pytest.mark.formula("pre.bias-estimate")
def test_lowpass_recovers_a_field_on_a_flat_object_but_not_on_structure(rng):
    shape = (48, 48)
    field = prep.polynomial_bias_field(shape, [0.0, 0.3, 0.2], order=1)   # 1, u1, u0
    flat = np.full(shape, 100.0)
    est = prep.estimate_bias_lowpass(flat * field, 4.0)
    assert prep.field_correlation(est, field) > 0.995
    # Anatomy at the filter's scale (16-pixel bands, contrast 1.8) leaks into the estimate.
    stripes = 100.0 * (1 + 0.8 * (np.arange(48) // 16 % 2))[None, :] * np.ones(shape)
    est2 = prep.estimate_bias_lowpass(stripes * field, 4.0)
    assert prep.field_correlation(est2, field) < 0.8


@pytest.mark.formula("pre.bias-estimate")
def test_coefficient_of_variation_matches_scipy(rng):
    image = rng.gamma(4.0, 2.0, (10, 11))
    mask = rng.random((10, 11)) > 0.3
    assert prep.coefficient_of_variation(image) == pytest.approx(
        stats.variation(image, axis=None), rel=1e-12)
    assert prep.coefficient_of_variation(image, mask=mask) == pytest.approx(
        stats.variation(image[mask]), rel=1e-12)


@pytest.mark.formula("pre.bias-estimate")
def test_a_bias_field_raises_the_cv_of_one_tissue(rng):
    tissue = 100 + rng.normal(0, 2, (30, 30, 30))
    field = prep.random_bias_field(tissue.shape, rng, strength=0.2)
    assert prep.coefficient_of_variation(tissue * field) > 2 * prep.coefficient_of_variation(
        tissue)


def test_field_correlation_matches_scipy_pearson_and_ignores_gain(rng):
    a = np.exp(rng.normal(0, 0.2, (6, 7)))
    b = np.exp(np.log(a) + rng.normal(0, 0.1, (6, 7)))
    ref = stats.pearsonr(np.log(a).ravel(), np.log(b).ravel())[0]
    assert prep.field_correlation(a, b) == pytest.approx(ref, rel=1e-12)
    assert prep.field_correlation(3.0 * a, b) == pytest.approx(ref, rel=1e-12)
    nan_a = a.copy()
    nan_a[0] = np.nan
    ref2 = stats.pearsonr(np.log(a[1:]).ravel(), np.log(b[1:]).ravel())[0]
    assert prep.field_correlation(nan_a, b) == pytest.approx(ref2, rel=1e-12)


BAD_CALLS = [
    (prep.polynomial_bias_field, ((4, 4), [0.1, 0.2]), {"order": 1}, ValueError, "coefficients"),
    (prep.polynomial_bias_field, ((4, 4), [0.1, 0.2, 0.3]), {"order": 9}, ValueError, "order"),
    (prep.polynomial_bias_field, ((4,), [0.1]), {"order": 0}, ValueError, "shape"),
    (prep.polynomial_bias_field, ((4, 0), [0.1]), {"order": 0}, ValueError, r"shape\[1\]"),
    (prep.polynomial_bias_field, ("44", [0.1]), {"order": 0}, TypeError, "shape"),
    (prep.polynomial_bias_field, ((4, 4), [100.0]), {"order": 0}, ValueError, "coefficients"),
    (prep.random_bias_field, ((4, 4), None), {}, TypeError, "rng"),
    (prep.random_bias_field, ((4, 4), 0), {"strength": -0.1}, ValueError, "strength"),
    (prep.apply_bias_field, (np.ones((3, 3)), np.zeros((3, 3))), {}, ValueError, "field"),
    (prep.apply_bias_field, (np.ones((3, 3)), np.ones((3, 4))), {}, ValueError, "field"),
    (prep.estimate_bias_division, (np.ones((3, 3)), np.zeros((3, 3))), {}, ValueError, "mask"),
    (prep.estimate_bias_division, (np.ones((3, 3)), np.ones((3, 3))),
     {"mask": np.ones((3, 4), bool)}, ValueError, "mask"),
    (prep.estimate_bias_log_difference, (np.ones((3, 3)), np.ones((2, 3))), {}, ValueError,
     "reference"),
    (prep.estimate_bias_lowpass, (np.ones((3, 3)), 0.0), {}, ValueError, "sigma_vox"),
    (prep.estimate_bias_lowpass, (np.ones((3, 3)), [1.0, 1.0, 1.0]), {}, ValueError,
     "sigma_vox"),
    (prep.estimate_bias_lowpass, (-np.ones((3, 3)), 1.0), {}, ValueError, "observed"),
    (prep.coefficient_of_variation, (np.ones((3, 3)),), {"mask": np.zeros((3, 3), bool)},
     ValueError, "mask"),
    (prep.coefficient_of_variation, (-np.ones((3, 3)),), {}, ValueError, "image"),
    (prep.field_correlation, (np.ones((3, 3)), np.ones((3, 3))), {}, ValueError, "vary"),
    (prep.field_correlation, (-np.ones((3, 3)), np.ones((3, 3))), {}, ValueError, "estimate"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    image = rng.uniform(1, 5, (6, 7))
    field = prep.random_bias_field(image.shape, rng, strength=0.3)
    mask = image > 2
    coeffs = rng.uniform(-0.1, 0.1, 10)
    assert_inputs_unchanged(prep.polynomial_bias_field, (6, 7, 3), coeffs, order=2)
    assert_inputs_unchanged(prep.apply_bias_field, image, field)
    assert_inputs_unchanged(bf.estimate_bias_division, image * field, image, mask=mask)
    assert_inputs_unchanged(bf.estimate_bias_log_difference, image * field, image, mask=mask)
    assert_inputs_unchanged(bf.estimate_bias_lowpass, image, [2.0, 3.0], mask=mask)
    assert_inputs_unchanged(bf.coefficient_of_variation, image, mask=mask)
    assert_inputs_unchanged(bf.field_correlation, field, image, mask=mask)
