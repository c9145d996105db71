"""medlib.prep.n4 against SimpleITK's N4BiasFieldCorrectionImageFilter, SciPy and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import interpolate, ndimage

from medlib import prep
from medlib.prep import n4


def _small_volume():
    z, y, x = np.indices((8, 8, 8), dtype=float)
    return 100.0 + 40.0 * ((x + y) % 4 < 2) + z


BAD_INPUT_CALLS = {
    "prep.n4.n4_correct": Entry(lambda: C(_small_volume(), shrink=1, n_iterations=(3, 2))),
    "prep.n4.n4_sharpen": Entry(lambda: C(np.log(_small_volume()).ravel(), n_bins=50)),
    "prep.n4.n4_histograms": Entry(lambda: C(np.log(_small_volume()).ravel(), n_bins=50)),
    "prep.n4.bspline_basis": Entry(lambda: C(np.linspace(0.0, 9.0, 7), 10, 5)),
    "prep.n4.fit_bspline_field": Entry(lambda: C(np.log(_small_volume()), 4)),
    "prep.n4.evaluate_bspline_field": Entry(
        lambda: C(np.linspace(-0.2, 0.2, 80).reshape(4, 4, 5), (6, 7, 8))),
    # A record type: its constructor promises no validation.
    "prep.n4.N4Result": Entry(
        lambda: C(corrected=np.ones((2, 2)), field=np.ones((2, 2)), log_field=np.zeros((2, 2)),
                  convergence=(np.array([0.1]),), mask=np.ones((2, 2), bool)), mutate=False),
}


def _phantom(rng, shape=(24, 28, 26), strength=0.25, noise=1.0):
    """Three 'tissues' in blobs, a known smooth field, Gaussian noise; all positive."""
    labels = ndimage.gaussian_filter(rng.normal(size=shape), 2.0)
    q = np.quantile(labels, [0.33, 0.66])
    truth = np.where(labels < q[0], 50.0, np.where(labels < q[1], 80.0, 110.0))
    truth = truth + rng.normal(0, noise, shape)
    field = prep.random_bias_field(shape, rng, strength=strength, order=2)
    return truth, field, truth * field


# ----------------------------------------------------------------------------------- B-splines
@pytest.mark.formula("pre.n4")
@pytest.mark.parametrize("n_control", [4, 5, 7, 11])
def test_bspline_basis_matches_scipy_design_matrix(n_control):
    length = 23
    pos = np.linspace(0, length - 1, 57)
    mesh = n_control - 3
    knots = np.arange(-3, mesh + 4, dtype=float)
    ref = interpolate.BSpline.design_matrix(pos * mesh / (length - 1), knots, 3).toarray()
    np.testing.assert_allclose(prep.bspline_basis(pos, length, n_control), ref, atol=1e-14)


def test_lstsq_fit_reproduces_a_bspline_field_and_evaluation_matches_scipy(rng):
    coeffs = rng.normal(size=(5, 6, 4))
    shape = (13, 17, 11)
    field = prep.evaluate_bspline_field(coeffs, shape)
    # Independent evaluation: SciPy's tensor-product design matrices.
    mats = []
    for n, c in zip(shape, coeffs.shape):
        mesh = c - 3
        knots = np.arange(-3, mesh + 4, dtype=float)
        mats.append(interpolate.BSpline.design_matrix(
            np.arange(n) * mesh / (n - 1), knots, 3).toarray())
    ref = np.einsum("ijk,zi,yj,xk->zyx", coeffs, *mats)
    np.testing.assert_allclose(field, ref, atol=1e-12)
    fitted = prep.fit_bspline_field(field, coeffs.shape, method="lstsq", ridge=1e-12)
    np.testing.assert_allclose(prep.evaluate_bspline_field(fitted, shape), field, atol=1e-8)
    np.testing.assert_allclose(fitted, coeffs, atol=1e-3)     # corner coefficients: weakly set


def test_lstsq_fit_is_the_ridge_least_squares_solution_inside_a_mask(rng):
    values = rng.normal(size=(9, 10))
    mask = rng.random((9, 10)) > 0.3
    ours = prep.fit_bspline_field(values, (5, 4), mask=mask, method="lstsq", ridge=1e-3)
    # Independent form: the dense Kronecker design matrix of the masked voxels.
    phi = np.kron(prep.bspline_basis(np.arange(9.0), 9, 5), prep.bspline_basis(
        np.arange(10.0), 10, 4))[mask.ravel()]
    gram = phi.T @ phi
    lam = 1e-3 * np.mean(np.diag(gram))
    ref = np.linalg.solve(gram + lam * np.eye(20), phi.T @ values[mask])
    np.testing.assert_allclose(ours.ravel(), ref, atol=1e-10)


def test_mba_fit_interpolates_a_single_point_exactly():
    # Lee et al. (1997): with one data point, the approximation passes through it.
    values = np.zeros((12, 15))
    values[5, 9] = 2.5
    mask = np.zeros((12, 15), bool)
    mask[5, 9] = True
    lattice = prep.fit_bspline_field(values, 5, mask=mask, method="mba")
    assert prep.evaluate_bspline_field(lattice, (12, 15))[5, 9] == pytest.approx(2.5, rel=1e-12)


def test_mba_fit_follows_the_shape_of_a_smooth_field_but_is_no_best_fit():
    z, y, x = np.indices((20, 22, 18), dtype=float)
    smooth = 0.3 * np.sin(z / 12) + 0.2 * (y / 21) ** 2 - 0.1 * x / 17
    approx = prep.evaluate_bspline_field(prep.fit_bspline_field(smooth, 6, method="mba"),
                                         smooth.shape)
    best = prep.evaluate_bspline_field(prep.fit_bspline_field(smooth, 6, method="lstsq"),
                                       smooth.shape)
    assert np.corrcoef(approx.ravel(), smooth.ravel())[0, 1] > 0.97
    assert np.abs(best - smooth).max() < 0.02
    # A single MBA level overshoots dense data (each point asks for the change that would fit
    # it alone): a constant 1 comes back above 1. N4's iterations absorb the gain.
    const = prep.evaluate_bspline_field(prep.fit_bspline_field(np.ones((20, 22, 18)), 4),
                                        (20, 22, 18))
    assert 1.0 < const.min() and const.mean() < 1.6


# ----------------------------------------------------------------------------------- sharpening
@pytest.mark.formula("pre.n4")
def test_histogram_is_the_triangular_parzen_histogram(rng):
    v = rng.normal(size=500)
    centres, hist, _, _ = prep.n4_histograms(v, n_bins=30)
    step = centres[1] - centres[0]
    # Independent form: sum over values of the hat function max(0, 1 - |v - centre| / step).
    ref = np.maximum(0.0, 1.0 - np.abs(v[:, None] - centres[None, :]) / step).sum(axis=0)
    np.testing.assert_allclose(hist, ref, atol=1e-9)
    assert hist.sum() == pytest.approx(500.0)


@pytest.mark.formula("pre.n4")
def test_sharpening_mapping_is_wiener_deconvolution_then_conditional_mean(rng):
    v = np.concatenate([rng.normal(0.0, 0.05, 4000), rng.normal(0.6, 0.05, 4000)])
    nb = 64
    centres, hist, decon, mapping = prep.n4_histograms(v, fwhm=0.15, wiener_noise=0.01,
                                                       n_bins=nb)
    # Independent form: dense circulant matrices on the zero-padded axis, no FFT.
    size, step = 128, centres[1] - centres[0]      # 2 ** (ceil(log2(64)) + 1), as ITK pads
    off = (size - nb) // 2
    d = np.minimum(np.arange(size), size - np.arange(size))
    fwhm_b = 0.15 / step
    g = 2 * np.sqrt(np.log(2) / np.pi) / fwhm_b * np.exp(-4 * np.log(2) * d ** 2 / fwhm_b ** 2)
    circ = np.array([np.roll(g, k) for k in range(size)])       # convolution by g
    padded = np.zeros(size)
    padded[off:off + nb] = hist
    # Wiener: U = (G^T G + noise I)^-1 G^T V for a circulant G (G^T = G, as g is symmetric).
    u = np.linalg.solve(circ.T @ circ + 0.01 * np.eye(size), circ.T @ padded)
    u = np.maximum(u, 0.0)
    np.testing.assert_allclose(decon, u[off:off + nb], atol=1e-8 * u.max())
    vals = centres[0] + (np.arange(size) - off) * step
    ref = (circ @ (vals * u)) / (circ @ u)
    np.testing.assert_allclose(mapping, ref[off:off + nb], atol=1e-8)


@pytest.mark.formula("pre.n4")
def test_sharpening_pulls_blurred_classes_toward_their_means(rng):
    truth = np.repeat([0.0, 0.5], 5000)
    v = truth + rng.normal(0, 0.06, truth.size)
    sharp = prep.n4_sharpen(v)
    for level in (0.0, 0.5):
        sel = truth == level
        assert sharp[sel].std() < 0.8 * v[sel].std()
    assert np.all(np.isfinite(sharp))


# ----------------------------------------------------------------------------------- N4
@pytest.mark.formula("pre.n4")
def test_n4_recovers_a_known_field_as_well_as_simpleitk(rng):
    sitk = pytest.importorskip("SimpleITK")
    truth, field, biased = _phantom(rng)
    its = [50, 50, 50]
    ours = prep.n4_correct(biased, shrink=2, n_iterations=its)
    img = sitk.GetImageFromArray(biased)
    small = sitk.Shrink(img, [2, 2, 2])
    f = sitk.N4BiasFieldCorrectionImageFilter()
    f.SetMaximumNumberOfIterations(its)
    f.SetConvergenceThreshold(0.001)
    f.Execute(small, sitk.Cast(small > 0, sitk.sitkUInt8))
    ref = np.exp(sitk.GetArrayFromImage(f.GetLogBiasFieldAsImage(img)))
    r_ours = prep.field_correlation(ours.field, field)
    r_ref = prep.field_correlation(ref, field)
    assert r_ref > 0.8
    assert r_ours > r_ref - 0.02
    # The correction lowers the CV of each tissue as SimpleITK's does.
    for level in (50.0, 80.0, 110.0):
        sel = np.abs(truth - level) < 5
        cv_b = prep.coefficient_of_variation(biased, mask=sel)
        cv_ours = prep.coefficient_of_variation(ours.corrected, mask=sel)
        cv_ref = prep.coefficient_of_variation(biased / ref, mask=sel)
        assert cv_ours < cv_b
        assert cv_ours < 1.2 * cv_ref


@pytest.mark.formula("pre.n4")
def test_n4_convergence_curve_and_iteration_budget(rng):
    _, _, biased = _phantom(rng, shape=(16, 18, 14))
    r = prep.n4_correct(biased, shrink=1, n_iterations=(7, 5), convergence_threshold=0.0)
    assert r.n_iterations == (7, 5)
    assert all(np.all(c >= 0) for c in r.convergence)
    r2 = prep.n4_correct(biased, shrink=1, n_iterations=(200,), convergence_threshold=0.01)
    curve = r2.convergence[0]
    assert curve[-1] <= 0.01 and np.all(curve[:-1] > 0.01)
    # The measure is ITK's: CV of exp(old - new) over the mask; level 1 starts from B = 1, so
    # the first value is the CV of 1 / B_1.
    r1 = prep.n4_correct(biased, shrink=1, n_iterations=(1,))
    inv = np.exp(-r1.log_field[r1.mask])
    assert r1.convergence[0][0] == pytest.approx(inv.std(ddof=1) / inv.mean(), rel=1e-10)


def test_n4_result_is_consistent_and_mask_restricts_the_estimate(rng):
    truth, field, biased = _phantom(rng, shape=(16, 18, 14))
    r = prep.n4_correct(biased, shrink=2, n_iterations=(20, 20))
    np.testing.assert_allclose(r.field, np.exp(r.log_field), rtol=1e-14)
    np.testing.assert_allclose(r.corrected, biased / r.field, rtol=1e-14)
    assert r.mask.shape == (8, 9, 7)
    mask = np.zeros(biased.shape, bool)
    mask[:, :9] = True
    rm = prep.n4_correct(biased, mask=mask, shrink=2, n_iterations=(20, 20))
    assert not rm.mask[:, 5:].any()
    assert not np.allclose(rm.field, r.field)


def test_n4_shrink_per_axis(rng):
    _, field, biased = _phantom(rng, shape=(12, 24, 20))
    same = prep.n4_correct(biased, shrink=(2, 2, 2), n_iterations=(10, 10))
    np.testing.assert_array_equal(same.field, prep.n4_correct(
        biased, shrink=2, n_iterations=(10, 10)).field)
    thick = prep.n4_correct(biased, shrink=(1, 4, 4), n_iterations=(20, 20))
    assert thick.mask.shape == (12, 6, 5)
    assert prep.field_correlation(thick.field, field) > 0.8


def test_n4_on_a_constant_image_finds_no_field():
    r = prep.n4_correct(np.full((8, 8, 8), 2.0), shrink=1)
    np.testing.assert_allclose(r.field, 1.0, atol=1e-12)
    assert r.n_iterations == (1, 1, 1, 1)


def test_n4_in_2d_improves_uniformity(rng):
    truth, field, biased = _phantom(rng, shape=(64, 60))
    r = prep.n4_correct(biased, shrink=1, n_iterations=(50, 50, 50))
    assert prep.field_correlation(r.field, field) > 0.9


BAD_CALLS = [
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"shrink": 5}, ValueError, "shrink"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"shrink": (1, 2)}, ValueError, "shrink"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"shrink": (1, 0, 2)}, ValueError, r"shrink\[1\]"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"n_iterations": 50}, TypeError, "n_iterations"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"n_iterations": []}, ValueError, "n_iterations"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"n_iterations": [10, 0]}, ValueError,
     r"n_iterations\[1\]"),
    (prep.n4_correct, (-np.ones((8, 8, 8)),), {}, ValueError, "mask"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"mask": np.ones((8, 8), bool)}, ValueError, "mask"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"fwhm": 0.0}, ValueError, "fwhm"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"fit": "gauss"}, ValueError, "fit"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"n_control": 3}, ValueError, "n_control"),
    (prep.n4_correct, (np.ones((8, 8, 8)),), {"n_control": 12, "n_iterations": [1] * 4,
                                              "fit": "lstsq"}, ValueError, "n_iterations"),
    (prep.n4_sharpen, (np.ones((3, 3)),), {}, ValueError, "values"),
    (prep.n4_sharpen, (np.ones(3),), {"wiener_noise": 0.0}, ValueError, "wiener_noise"),
    (prep.n4_sharpen, (np.ones(3),), {"n_bins": 1}, ValueError, "n_bins"),
    (prep.bspline_basis, ([0.0, 10.0], 10, 4), {}, ValueError, "positions"),
    (prep.bspline_basis, ([0.0], 10, 3), {}, ValueError, "n_control"),
    (prep.fit_bspline_field, (np.ones((5, 5)), (4, 4, 4)), {}, ValueError, "n_control"),
    (prep.fit_bspline_field, (np.ones((5, 5)), 4), {"method": "x"}, ValueError, "method"),
    (prep.fit_bspline_field, (np.ones((5, 5)), 4), {"mask": np.zeros((5, 5), bool)},
     ValueError, "mask"),
    (prep.evaluate_bspline_field, (np.ones((4, 4)), (5, 5, 5)), {}, ValueError, "shape"),
    (prep.evaluate_bspline_field, (np.ones((3, 4)), (5, 5)), {}, ValueError, "coefficients"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    _, _, biased = _phantom(rng, shape=(10, 12, 8))
    mask = biased > 60
    assert_inputs_unchanged(n4.n4_correct, biased, mask=mask, shrink=1, n_iterations=[3])
    v = np.log(biased).ravel()
    assert_inputs_unchanged(n4.n4_sharpen, v)
    assert_inputs_unchanged(n4.n4_histograms, v)
    assert_inputs_unchanged(n4.fit_bspline_field, np.log(biased), [4, 5, 4], mask=mask)
    assert_inputs_unchanged(n4.evaluate_bspline_field, np.ones((4, 4)), [6, 7])
    assert_inputs_unchanged(n4.bspline_basis, np.arange(5.0), 5, 4)
