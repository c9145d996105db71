"""medlib.pet.mlem_osem against scipy.stats, scipy.optimize and the seed's formulas written out."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import optimize, sparse, stats

from medlib import pet


def _phantom(n, rng):
    img = rng.random((n, n)) * pet.circle_mask(n)
    img[n // 3:n // 2, n // 3:n // 2] += 3.0
    return img * pet.circle_mask(n)


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


@pytest.mark.formula("pet.em-background")
def test_mlem_step_is_the_em_m_step_and_its_q_minorises_the_log_likelihood(rng):
    # EM for Poisson data: E[z_ij | y] = y_i a_ij x_j / lambda_i; the M-step is sum_i z_ij / s_j,
    # the maximiser of Q(x | x_k), and Q(x | x_k) - Q(x_k | x_k) <= log L(x) - log L(x_k).
    A = rng.uniform(0, 1, (15, 5)) * (rng.random((15, 5)) < 0.7)
    r = np.full(15, 0.3)
    y = rng.poisson(A @ rng.uniform(1, 5, 5) + r).astype(float)
    x_k = rng.uniform(0.5, 4.0, 5)
    lam = A @ x_k + r
    z = y[:, None] * A * x_k[None, :] / lam[:, None]
    step, _ = pet.mlem(y, A, 1, r, x0=x_k)
    np.testing.assert_allclose(step, z.sum(axis=0) / A.sum(axis=0), rtol=1e-12)

    def q_gain(x):
        return np.sum(z * np.log(x / x_k)) - np.sum(A @ (x - x_k))

    opt = optimize.minimize(lambda v: -q_gain(v), x_k, method="L-BFGS-B",
                            bounds=[(1e-9, None)] * 5, options={"ftol": 1e-14, "gtol": 1e-12})
    np.testing.assert_allclose(opt.x, step, rtol=1e-4)
    ll_k = pet.log_likelihood(y, lam)
    for x in rng.uniform(0.05, 10.0, (500, 5)):
        assert pet.log_likelihood(y, A @ x + r) - ll_k >= q_gain(x) - 1e-9


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
    est, _ = pet.osem(y, A, 1, 4, x0=x0, n_angles=24)
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
    est_o, ll_o = pet.osem(y, A, 2, 8, r, n_angles=32)
    assert np.all(est_o >= 0)
    assert ll_o[2] > ll_m[8]          # 2 passes over 8 subsets beat 8 MLEM iterations



@pytest.mark.formula("pet.osem")
@pytest.mark.parametrize("n_subsets", [4, 7])
def test_osem_subsets_are_interleaved_angles_even_when_s_does_not_divide_the_angles(n_subsets,
                                                                                    rng):
    # 30 angles: S = 4 and S = 7 do not divide them. The subsets must still be whole angles
    # (every S-th angle), of near-equal size; rows i mod S would mix bins of different angles.
    n, n_angles = 24, 30
    A, _x, _, y = _small_problem(rng, n=n, n_angles=n_angles, background_fraction=0.0)
    dense = A.toarray()
    x0 = np.where(dense.sum(axis=0) > 0, 1.0, 0.0)
    angle = np.arange(dense.shape[0]) % n_angles
    sizes = [np.unique(angle[angle % n_subsets == s]).size for s in range(n_subsets)]
    assert sum(sizes) == n_angles and max(sizes) - min(sizes) == 1
    ref = x0.copy()
    for s in range(n_subsets):
        rows = np.flatnonzero(angle % n_subsets == s)        # all bins of angles s, s + S, ...
        sub = dense[rows]
        sens = sub.sum(axis=0)
        proj = sub @ ref
        upd = sub.T @ np.where(proj > 0, y[rows] / np.where(proj > 0, proj, 1), 0)
        ref = np.where(sens > 0, ref * upd / np.where(sens > 0, sens, 1), ref)
    est, _ = pet.osem(y, A, 1, n_subsets, x0=x0, n_angles=n_angles)
    np.testing.assert_allclose(est, ref, rtol=1e-10)
    # A 2-D sinogram says how many angles there are.
    est_2d, _ = pet.osem(y.reshape(n, n_angles), A, 1, n_subsets, x0=x0)
    np.testing.assert_allclose(est_2d, ref, rtol=1e-12)


def test_osem_refuses_to_guess_the_angles_of_a_vector_sinogram(rng):
    A, _x, r, y = _small_problem(rng, n=16, n_angles=10)
    with pytest.raises(ValueError, match="n_angles"):
        pet.osem(y, A, 1, 4, r)
    # One subset needs no angles (it is MLEM); rows as independent views: n_angles = M.
    est_1, _ = pet.osem(y, A, 2, 1, r)
    np.testing.assert_allclose(est_1, pet.mlem(y, A, 2, r)[0], rtol=1e-12)
    pet.osem(y, A, 1, 4, r, n_angles=A.shape[0])


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (pet.log_likelihood, ([1.0, 2.0], [1.5, 1.5]), {"constant": "False"}, TypeError,
     "constant must be True or False"),
    (pet.log_likelihood, ([1.0], [0.0]), {"constant": 0}, TypeError,       # before the -inf exit
     "constant must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


BAD_CALLS = [
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
    (pet.osem, (np.ones(4), np.ones((4, 3)), 2, 2), {}, ValueError, "n_angles"),
    (pet.osem, (np.ones(4), np.ones((4, 3)), 2, 2), {"n_angles": 3}, ValueError, "n_angles"),
    (pet.osem, (np.ones(4), np.ones((4, 3)), 2, 3), {"n_angles": 2}, ValueError, "n_subsets"),
    (pet.osem, (np.ones((2, 2)), np.ones((4, 3)), 2, 3), {}, ValueError, "n_subsets"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_a_number_of_iterations_of_2_63_is_refused_by_name():
    a = pet.system_matrix(8, np.linspace(0.0, np.pi, 4, endpoint=False))
    y = np.ones(a.shape[0])
    with pytest.raises(ValueError, match="^n_iter asks for an array"):
        pet.mlem(y, a, 2 ** 63)
    with pytest.raises(ValueError, match="^n_iter"):
        pet.osem(y, a, 2 ** 63, 2, n_angles=4)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    A, x, r, y = _small_problem(rng, n=16, n_angles=8)
    A_before = A.copy()
    assert_inputs_unchanged(pet.mlem, y, A.toarray(), 3, r)
    assert_inputs_unchanged(pet.osem, y, A.toarray(), 2, 2, r, n_angles=8)
    pet.mlem(y, A, 3, r)
    pet.osem(y, A, 2, 2, r, n_angles=8)
    assert_inputs_unchanged(pet.log_likelihood, y, A @ x + r)
    assert (A != A_before).nnz == 0


def test_dtypes_and_shapes(rng):
    A, x, r, y = _small_problem(rng, n=16, n_angles=8)
    est, ll = pet.osem(y.reshape(16, 8), A, 3, 2, r)     # a 2-D sinogram is accepted
    assert est.dtype == np.float64 and est.shape == (256,) and ll.shape == (4,)
    assert isinstance(pet.log_likelihood(y, A @ x + r), float)
