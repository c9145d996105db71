"""medlib.pet.forward_model against skimage.transform.radon, explicit sums and scipy.stats."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import sparse, stats
from skimage.transform import radon

from medlib import pet


def _phantom(n, rng):
    img = rng.random((n, n)) * pet.circle_mask(n)
    img[n // 3:n // 2, n // 3:n // 2] += 3.0
    return img * pet.circle_mask(n)


@pytest.mark.parametrize("n, n_angles", [(64, 45), (65, 30), (32, 180), (128, 7)])
def test_system_matrix_reproduces_skimage_radon(n, n_angles, rng):
    theta = np.linspace(0, np.pi, n_angles, endpoint=False) + 0.01
    A = pet.system_matrix(n, theta)
    assert A.shape == (n * n_angles, n * n) and sparse.issparse(A)
    img = _phantom(n, rng)
    sino = (A @ img.ravel()).reshape(n, n_angles)
    ref = radon(img, np.rad2deg(theta), circle=True)
    # Same bilinear rotate-and-sum as skimage: agreement to rounding (tolerance 1e-9 relative).
    np.testing.assert_allclose(sino, ref, atol=1e-9 * np.abs(ref).max())


def test_system_matrix_angles_beyond_pi_and_float32(rng):
    theta = np.deg2rad([0.0, 33.3, 90.0, 200.0, 359.0])
    A = pet.system_matrix(48, theta, dtype=np.float32)
    img = _phantom(48, rng)
    np.testing.assert_allclose((A @ img.ravel()).reshape(48, 5),
                               radon(img, np.rad2deg(theta)), rtol=1e-5, atol=1e-4)
    assert A.dtype == np.float32


def test_system_matrix_orientation_of_theta_and_detector_axis():
    n = 65
    img = np.zeros((n, n))
    img[20, 40] = 1.0          # row 20 (above the centre 32), column 40 (right of it)
    A = pet.system_matrix(n, np.deg2rad([0.0, 90.0]))
    sino = (A @ img.ravel()).reshape(n, 2)
    # theta = 0: bin = col; theta = 90 deg: s = -(row - c) -> bin = c - (row - c) = 2c - row.
    assert np.argmax(sino[:, 0]) == 40
    assert np.argmax(sino[:, 1]) == 2 * (n // 2) - 20


def test_pixels_outside_the_circle_have_no_entries():
    A = pet.system_matrix(32, np.linspace(0, np.pi, 16, endpoint=False))
    sens = np.asarray(A.sum(axis=0)).ravel().reshape(32, 32)
    mask = pet.circle_mask(32)
    assert np.all(sens[~mask] == 0) and np.all(sens[mask] > 0)


@pytest.mark.formula("pet.forward-model", "pet.forward-model-vector")
def test_expected_counts_equal_the_explicit_sum_plus_background(rng):
    n, theta = 24, np.linspace(0, np.pi, 12, endpoint=False)
    A = pet.system_matrix(n, theta)
    x = _phantom(n, rng).ravel()
    r = rng.uniform(0, 2, A.shape[0])
    dense = A.toarray()
    explicit = np.array([sum(dense[i, j] * x[j] for j in np.flatnonzero(dense[i])) + r[i]
                         for i in range(A.shape[0])])
    np.testing.assert_allclose(pet.expected_counts(A, x, r), explicit, rtol=1e-12)
    np.testing.assert_allclose(pet.expected_counts(dense, x, 0.5),
                               radon(x.reshape(n, n), np.rad2deg(theta)).ravel() + 0.5,
                               rtol=1e-10)


@pytest.mark.formula("pet.poisson-model")
def test_sampled_counts_follow_scipys_poisson_pmf():
    lam = 3.5
    y = pet.sample_counts(np.full(100_000, lam), rng=4)
    assert y.dtype == np.float64 and np.all(y == np.round(y))
    assert abs(y.mean() - lam) < 5 * np.sqrt(lam / y.size)
    k = np.arange(0, 12)
    observed = np.bincount(np.minimum(y.astype(int), 11), minlength=12)
    expected = stats.poisson.pmf(k, lam)
    expected[-1] = stats.poisson.sf(10, lam)
    assert stats.chisquare(observed, expected * y.size).pvalue > 1e-3


def test_sampled_counts_of_a_scalar_is_a_0d_array():
    # issue 11, group 4: a scalar expected count raised AttributeError.
    y = pet.sample_counts(7.5, 3)
    assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.float64
    assert y == np.random.default_rng(3).poisson(7.5)


def test_scale_to_counts_hits_the_requested_total():
    A = pet.system_matrix(32, np.linspace(0, np.pi, 20, endpoint=False))
    x, r = pet.scale_to_counts(A, pet.circle_mask(32).ravel() * 1.0, 1e5,
                               background_fraction=0.2)
    assert pet.expected_counts(A, x, r).sum() == pytest.approx(1e5)
    assert r.sum() == pytest.approx(2e4)


def test_brain_phantom_from_probability_maps():
    gm = np.zeros((60, 80))
    wm = np.zeros((60, 80))
    gm[20:40, 20:40] = 1.0
    wm[20:40, 45:65] = 1.0
    act = pet.brain_phantom(gm, wm, n=64)
    assert act.shape == (64, 64)
    assert np.all(act[~pet.circle_mask(64)] == 0)
    assert act.max() == pytest.approx(4.0, rel=0.01)
    # The centre of the grey block (4) and of the white block (1): ratio 4:1.
    gm_small = pet.brain_phantom(gm, np.zeros_like(wm), n=64)
    wm_small = pet.brain_phantom(np.zeros_like(gm), wm, n=64)
    assert gm_small.max() / wm_small.max() == pytest.approx(4.0, rel=0.01)



# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (pet.expected_counts, (sparse.csr_matrix(np.array([[1 + 2j, 0], [0, 1]])), [1.0, 1.0]), {},
     TypeError, "^A must be real-valued"),
    (pet.system_matrix, (2**40, [0.0]), {}, ValueError, "^n asks for an array"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


BAD_CALLS = [
    (pet.system_matrix, (1, [0.0]), {}, ValueError, "n"),
    (pet.system_matrix, (8, []), {}, ValueError, "angles_rad"),
    (pet.system_matrix, (8, [np.nan]), {}, ValueError, "finite"),
    (pet.expected_counts, (np.ones((4, 3)), np.ones(4)), {}, ValueError, "activity_image"),
    (pet.expected_counts, (np.ones((4, 3)), np.ones(3), -1.0), {}, ValueError, "background"),
    (pet.expected_counts, (-np.ones((4, 3)), np.ones(3)), {}, ValueError, "non-negative"),
    (pet.sample_counts, ([-1.0], 0), {}, ValueError, ">= 0"),
    (pet.sample_counts, ([1.0], None), {}, TypeError, "rng"),
    (pet.brain_phantom, (np.ones((4, 4)), np.ones((4, 5))), {}, ValueError, "white_matter"),
    (pet.brain_phantom, (np.full((4, 4), 255.0), np.ones((4, 4))), {}, ValueError, "[0, 1]"),
    (pet.scale_to_counts, (np.ones((4, 3)), np.ones(3), 0.0), {}, ValueError, "total_counts"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_counts_beyond_numpys_poisson_sampler_are_refused_by_name():
    with pytest.raises(ValueError, match="^expected must be <= 1e"):  # not "lam value too large"
        pet.sample_counts(np.array([1.0, 1e300]), 0)
    assert pet.sample_counts(np.array([1e18]), 0)[0] == pytest.approx(1e18, rel=1e-6)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    A = pet.system_matrix(16, np.linspace(0, np.pi, 8, endpoint=False))
    x, r = pet.scale_to_counts(A, _phantom(16, rng).ravel(), 2e4, background_fraction=0.1)
    A_before = A.copy()
    assert_inputs_unchanged(pet.expected_counts, A.toarray(), x, r)
    assert_inputs_unchanged(pet.sample_counts, x, 0)
    assert_inputs_unchanged(pet.brain_phantom, x.reshape(16, 16) / x.max(),
                            x.reshape(16, 16) / x.max(), n=8)
    pet.expected_counts(A, x, r)
    assert (A != A_before).nnz == 0


def test_dtypes_and_shapes():
    assert pet.circle_mask(5).dtype == bool


def test_system_matrix_entries_are_path_lengths_in_pixel_widths_not_probabilities():
    n, n_angles = 64, 32
    A = pet.system_matrix(n, np.linspace(0, np.pi, n_angles, endpoint=False))
    mask = pet.circle_mask(n)
    # theta = 0: each ray runs down one column, one pixel width per pixel inside the circle.
    rows0 = np.arange(n) * n_angles
    np.testing.assert_allclose(np.asarray(A[rows0].sum(axis=1)).ravel(), mask.sum(axis=0))
    # Oblique rays: the entries add up to the chord through the circle, to within a pixel.
    k = n_angles // 4                                   # 45 degrees
    for offset in (0, 10, 20):
        chord = 2 * np.sqrt((n / 2) ** 2 - offset**2)
        assert A[(n // 2 + offset) * n_angles + k].sum() == pytest.approx(chord, abs=1.0)
    # A probability would be <= 1, and so would its sum over the bins; lengths are not.
    assert A.data.max() > 1.0
    sens = np.asarray(A.sum(axis=0)).ravel()[mask.ravel()]
    assert sens.min() > 0.5 * n_angles
