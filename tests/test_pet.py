"""medlib.pet against closed forms, scipy.stats, scipy.optimize and skimage.transform.radon."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize, sparse, stats
from skimage.transform import radon

from medlib import pet


# --- 6.1 decay -------------------------------------------------------------------------------

# Literature half-lives in minutes (see medlib.pet.NUCLIDES for the sources).
LITERATURE_MIN = {"F-18": 109.734, "Tc-99m": 6.0072 * 60, "Ga-68": 67.83, "C-11": 20.3402}


@pytest.mark.formula("pet.decay")
@pytest.mark.parametrize("name", sorted(pet.NUCLIDES))
def test_decay_halves_after_one_half_life_and_matches_the_exponential_law(name):
    t_half = pet.NUCLIDES[name].half_life_s
    assert t_half / 60 == pytest.approx(LITERATURE_MIN[name], rel=1e-9)
    assert pet.decay(1000.0, t_half, half_life_s=t_half) == pytest.approx(500.0)
    t = np.linspace(0, 5 * t_half, 11)
    # Independent: the survival function of an exponential lifetime with mean 1 / lambda.
    np.testing.assert_allclose(pet.decay(1.0, t, half_life_s=t_half),
                               stats.expon.sf(t, scale=t_half / np.log(2)), rtol=1e-12)


@pytest.mark.formula("pet.half-life")
@pytest.mark.parametrize("name", sorted(pet.NUCLIDES))
def test_half_life_is_recovered_from_simulated_decay_counts(name):
    t_half = pet.NUCLIDES[name].half_life_s
    lam = pet.decay_constant(t_half)
    assert pet.half_life(lam) == pytest.approx(t_half)
    assert lam == pytest.approx(np.log(2) / t_half)
    # Count 1e6 atoms' decay times (exponential lifetimes) and fit the survival curve.
    lifetimes = stats.expon.rvs(scale=1 / lam, size=1_000_000, random_state=5)
    t = np.linspace(0, 3 * t_half, 30)
    surviving = (lifetimes[None, :] > t[:, None]).mean(axis=1)
    slope = np.polyfit(t, np.log(surviving), 1)[0]
    assert pet.half_life(-slope) == pytest.approx(t_half, rel=0.01)


@pytest.mark.formula("pet.activity")
def test_activity_is_minus_the_rate_of_change_of_n():
    t_half = pet.NUCLIDES["F-18"].half_life_s
    t = np.linspace(0, 3600, 20001)
    n = pet.decay(2e11, t, half_life_s=t_half)
    np.testing.assert_allclose(pet.activity(n, half_life_s=t_half)[1:-1],
                               -np.gradient(n, t)[1:-1], rtol=1e-6)
    # 370 MBq of F-18 is about 3.5e12 nuclei, about 0.1 ng.
    n_dose = 370e6 / pet.decay_constant(t_half)
    assert n_dose == pytest.approx(3.515e12, rel=0.01)


@pytest.mark.formula("pet.decay-correction")
def test_decay_correction_undoes_decay_and_the_frame_average():
    t_half = pet.NUCLIDES["F-18"].half_life_s
    assert pet.decay_correction(3600.0, half_life_s=t_half) == pytest.approx(2 ** (60 / 109.734))
    a0 = 100.0
    assert pet.decay(a0, 1800.0, half_life_s=t_half) * pet.decay_correction(
        1800.0, half_life_s=t_half) == pytest.approx(a0)
    # A frame from t to t + D measures the mean activity over the frame (numerical integral).
    t0, dur = 3600.0, 900.0
    mean_activity = integrate.quad(lambda s: pet.decay(a0, s, half_life_s=t_half),
                                   t0, t0 + dur)[0] / dur
    d = pet.decay_correction(t0, half_life_s=t_half, frame_duration_s=dur)
    assert mean_activity * d == pytest.approx(a0, rel=1e-10)


# --- 6.2 the forward model --------------------------------------------------------------------

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


# --- 6.3 likelihood and reconstruction --------------------------------------------------------

@pytest.mark.formula("pet.log-likelihood")
def test_log_likelihood_matches_scipy_logpmf(rng):
    lam = rng.uniform(0.1, 20, 500)
    y = rng.poisson(lam).astype(float)
    assert pet.log_likelihood(y, lam) == pytest.approx(stats.poisson.logpmf(y, lam).sum())
    # Without the constant C = -sum ln y!:
    assert pet.log_likelihood(y, lam, constant=False) == pytest.approx(
        stats.poisson.logpmf(y, lam).sum() + sum(np.log(np.arange(1, v + 1)).sum()
                                                 for v in y.astype(int)))
    assert pet.log_likelihood([0.0, 2.0], [0.0, 1.0]) == pytest.approx(stats.poisson.logpmf(
        2, 1.0))
    assert pet.log_likelihood([1.0], [0.0]) == -np.inf


@pytest.mark.formula("pet.likelihood")
def test_likelihood_is_the_product_of_pmfs_and_underflows_for_real_data(rng):
    lam = rng.uniform(0.5, 5, 8)
    y = rng.poisson(lam).astype(float)
    assert pet.likelihood(y, lam) == pytest.approx(np.prod(stats.poisson.pmf(y, lam)), rel=1e-10)
    big = rng.uniform(5, 50, 20_000)
    assert pet.likelihood(rng.poisson(big), big) == 0.0       # log-likelihood, not likelihood


def _small_problem(rng, n=24, n_angles=24, counts=2e4, background_fraction=0.1):
    theta = np.linspace(0, np.pi, n_angles, endpoint=False)
    A = pet.system_matrix(n, theta)
    truth = _phantom(n, rng).ravel()
    x, r = pet.scale_to_counts(A, truth, counts, background_fraction=background_fraction)
    y = pet.sample_counts(pet.expected_counts(A, x, r), rng)
    return A, x, r, y


@pytest.mark.formula("pet.mlem")
def test_mlem_keeps_non_negativity_and_raises_the_log_likelihood_every_iteration(rng):
    A, x, r, y = _small_problem(rng)
    est, ll = pet.mlem(y, A, 60, r)
    assert ll.shape == (61,) and est.shape == (A.shape[1],)
    assert np.all(est >= 0)
    assert np.all(np.diff(ll) > 0), "the log-likelihood must rise at every iteration"
    assert ll[-1] == pytest.approx(pet.log_likelihood(y, A @ est + r))


@pytest.mark.formula("pet.mlem")
def test_mlem_without_background_is_the_seeds_update(rng):
    A, x, _, y = _small_problem(rng, background_fraction=0.0)
    dense = A.toarray()
    x0 = rng.uniform(0.5, 1.5, dense.shape[1]) * (dense.sum(axis=0) > 0)
    est, _ = pet.mlem(y, A, 1, x0=x0)
    # The seed's formula written out with dense arrays, term by term.
    proj = dense @ x0
    ref = x0 * (dense.T @ np.where(proj > 0, y / np.where(proj > 0, proj, 1), 0)) / np.where(
        dense.sum(axis=0) > 0, dense.sum(axis=0), 1)
    np.testing.assert_allclose(est, ref, rtol=1e-12)


@pytest.mark.formula("pet.em-background")
def test_em_update_with_background_has_r_in_the_denominator(rng):
    A, x, r, y = _small_problem(rng)
    dense = A.toarray()
    x0 = np.where(dense.sum(axis=0) > 0, 1.0, 0.0)
    est, _ = pet.mlem(y, A, 1, r, x0=x0)
    sens = dense.sum(axis=0)
    ref = np.where(sens > 0, x0 / np.where(sens > 0, sens, 1) * (dense.T @ (y / (dense @ x0 + r))),
                   0)
    np.testing.assert_allclose(est, ref, rtol=1e-12)
    # Ignoring a real background biases the activity upwards.
    with_r, _ = pet.mlem(y, A, 30, r)
    without_r, _ = pet.mlem(y, A, 30)
    assert without_r.sum() > with_r.sum() * 1.05


@pytest.mark.formula("pet.mle")
def test_mlem_converges_to_the_maximum_likelihood_estimate(rng):
    # A small, well-posed problem (more data than unknowns) solved also by L-BFGS-B.
    A = sparse.csr_matrix(rng.uniform(0, 1, (60, 8)) * (rng.random((60, 8)) < 0.6))
    truth = rng.uniform(1, 10, 8)
    r = np.full(60, 0.5)
    y = rng.poisson(A @ truth + r).astype(float)
    est, ll = pet.mlem(y, A, 5000, r)

    def neg_ll(v):
        lam = A @ v + r
        return -(np.sum(y * np.log(lam) - lam)), -(A.T @ (y / lam - 1))

    opt = optimize.minimize(neg_ll, np.ones(8), jac=True, method="L-BFGS-B",
                            bounds=[(0, None)] * 8, options={"ftol": 1e-15, "gtol": 1e-10})
    assert ll[-1] >= pet.log_likelihood(y, A @ opt.x + r) - 1e-6
    np.testing.assert_allclose(est, opt.x, rtol=1e-3, atol=1e-3)


@pytest.mark.formula("pet.osem")
def test_osem_with_one_subset_equals_mlem(rng):
    A, x, r, y = _small_problem(rng)
    est_m, ll_m = pet.mlem(y, A, 15, r)
    est_o, ll_o = pet.osem(y, A, 15, 1, r)
    np.testing.assert_allclose(est_o, est_m, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ll_o, ll_m, rtol=1e-12)


@pytest.mark.formula("pet.osem")
def test_one_osem_sub_iteration_is_the_seeds_subset_update(rng):
    A, x, _, y = _small_problem(rng, background_fraction=0.0)
    dense = A.toarray()
    x0 = np.where(dense.sum(axis=0) > 0, 1.0, 0.0)
    # With one iteration and four subsets the estimate is four sequential subset updates.
    est, _ = pet.osem(y, A, 1, 4, x0=x0)
    ref = x0.copy()
    for s in range(4):
        rows = np.arange(s, dense.shape[0], 4)
        sub = dense[rows]
        sens = sub.sum(axis=0)
        proj = sub @ ref
        upd = sub.T @ np.where(proj > 0, y[rows] / np.where(proj > 0, proj, 1), 0)
        ref = np.where(sens > 0, ref * upd / np.where(sens > 0, sens, 1), ref)
    np.testing.assert_allclose(est, ref, rtol=1e-10)


@pytest.mark.formula("pet.osem")
def test_osem_progresses_about_s_times_faster_early_on(rng):
    A, x, r, y = _small_problem(rng, n=32, n_angles=32, counts=1e5)
    _, ll_m = pet.mlem(y, A, 16, r)
    est_o, ll_o = pet.osem(y, A, 2, 8, r)
    assert np.all(est_o >= 0)
    assert ll_o[2] > ll_m[8]          # 2 passes over 8 subsets beat 8 MLEM iterations


BAD_CALLS = [
    (pet.decay, (1.0, 1.0), {"half_life_s": 0.0}, ValueError, "half_life_s"),
    (pet.decay, (-1.0, 1.0), {"half_life_s": 1.0}, ValueError, "n0"),
    (pet.decay_constant, (-5.0,), {}, ValueError, "half_life_s"),
    (pet.activity, (-1.0,), {"half_life_s": 1.0}, ValueError, "n_nuclei"),
    (pet.decay_correction, (-1.0,), {"half_life_s": 1.0}, ValueError, "t_s"),
    (pet.system_matrix, (1, [0.0]), {}, ValueError, "n"),
    (pet.system_matrix, (8, []), {}, ValueError, "angles_rad"),
    (pet.system_matrix, (8, [np.nan]), {}, ValueError, "finite"),
    (pet.expected_counts, (np.ones((4, 3)), np.ones(4)), {}, ValueError, "activity_image"),
    (pet.expected_counts, (np.ones((4, 3)), np.ones(3), -1.0), {}, ValueError, "background"),
    (pet.expected_counts, (-np.ones((4, 3)), np.ones(3)), {}, ValueError, "non-negative"),
    (pet.sample_counts, ([-1.0], 0), {}, ValueError, ">= 0"),
    (pet.sample_counts, ([1.0], None), {}, TypeError, "rng"),
    (pet.log_likelihood, ([-1.0], [1.0]), {}, ValueError, "y"),
    (pet.log_likelihood, ([1.0, 2.0], [1.0]), {}, ValueError, "same size"),
    (pet.mlem, ([1.0, -2.0, 3.0, 4.0], np.ones((4, 3)), 5), {}, ValueError, "negative"),
    (pet.mlem, (np.ones(5), np.ones((4, 3)), 5), {}, ValueError, "one value per row of A"),
    (pet.mlem, (np.ones(4), np.ones(3), 5), {}, ValueError, "dimensions"),
    (pet.mlem, (np.ones(4), np.ones((4, 3)), 0), {}, ValueError, "n_iter"),
    (pet.mlem, (np.ones(4), np.ones((4, 3)), 2.5), {}, TypeError, "n_iter"),
    (pet.mlem, (np.ones(4), np.ones((4, 3)), 2, np.ones(3)), {}, ValueError, "background"),
    (pet.mlem, (np.ones(4), np.ones((4, 3)), 2), {"x0": -np.ones(3)}, ValueError, "x0"),
    (pet.osem, (np.ones(4), np.ones((4, 3)), 2, 0), {}, ValueError, "n_subsets"),
    (pet.osem, (np.ones(4), np.ones((4, 3)), 2, 5), {}, ValueError, "n_subsets"),
    (pet.osem, ([np.nan, 1, 1, 1], np.ones((4, 3)), 2, 2), {}, ValueError, "finite"),
    (pet.brain_phantom, (np.ones((4, 4)), np.ones((4, 5))), {}, ValueError, "white_matter"),
    (pet.brain_phantom, (np.full((4, 4), 255.0), np.ones((4, 4))), {}, ValueError, "[0, 1]"),
    (pet.scale_to_counts, (np.ones((4, 3)), np.ones(3), 0.0), {}, ValueError, "total_counts"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", BAD_CALLS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_a_clear_error(func, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(*args, **kwargs)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    A, x, r, y = _small_problem(rng, n=16, n_angles=8)
    A_before = A.copy()
    assert_inputs_unchanged(pet.mlem, y, A.toarray(), 3, r)
    assert_inputs_unchanged(pet.osem, y, A.toarray(), 2, 2, r)
    pet.mlem(y, A, 3, r)
    pet.osem(y, A, 2, 2, r)
    assert_inputs_unchanged(pet.expected_counts, A.toarray(), x, r)
    assert_inputs_unchanged(pet.log_likelihood, y, A @ x + r)
    assert_inputs_unchanged(pet.sample_counts, x, 0)
    assert_inputs_unchanged(pet.decay, x, 10.0, half_life_s=100.0)
    assert_inputs_unchanged(pet.brain_phantom, x.reshape(16, 16) / x.max(),
                            x.reshape(16, 16) / x.max(), n=8)
    assert (A != A_before).nnz == 0


def test_dtypes_and_shapes(rng):
    A, x, r, y = _small_problem(rng, n=16, n_angles=8)
    est, ll = pet.osem(y.reshape(16, 8), A, 3, 2, r)     # a 2-D sinogram is accepted
    assert est.dtype == np.float64 and est.shape == (256,) and ll.shape == (4,)
    assert isinstance(pet.log_likelihood(y, A @ x + r), float)
    assert pet.circle_mask(5).dtype == bool
