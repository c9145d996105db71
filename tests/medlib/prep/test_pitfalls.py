"""medlib.prep.pitfalls (section 13.3) against SciPy, scikit-image and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import ndimage, stats
from skimage.measure import euler_number

from medlib.prep import pitfalls


def _ball(shape, centre, radius, spacing=(1.0, 1.0, 1.0)):
    grids = np.meshgrid(*[(np.arange(n) - c) * s for n, c, s in zip(shape, centre, spacing)],
                        indexing="ij")
    return sum(g ** 2 for g in grids) <= radius ** 2


def test_lesion_contrast_of_a_piecewise_constant_image():
    mask = _ball((9, 21, 21), (4, 10, 10), 3.0)
    image = np.where(mask, 100.0, 20.0)
    image[:, :2] = -500.0                                     # far from the lesion: ignored
    image0 = image.copy()
    assert pitfalls.lesion_contrast(image, mask, 1.0, shell_mm=3.0) == pytest.approx(80.0)
    assert np.array_equal(image, image0)
    # The shell is the set of voxels within shell_mm of the lesion (SciPy's distance transform).
    ramp = np.arange(image.size, dtype=float).reshape(image.shape)
    dist = ndimage.distance_transform_edt(~mask, sampling=(2.0, 1.0, 1.0))
    shell = (dist > 0) & (dist <= 2.5)
    expected = ramp[mask].mean() - ramp[shell].mean()
    got = pitfalls.lesion_contrast(ramp, mask, (2.0, 1.0, 1.0), shell_mm=2.5)
    assert got == pytest.approx(expected)


def test_lesion_contrast_refuses_an_empty_mask():
    with pytest.raises(ValueError, match="lesion_mask"):
        pitfalls.lesion_contrast(np.ones((5, 5)), np.zeros((5, 5), bool), 1.0)


def test_local_zscore_equals_a_direct_weighted_computation():
    rng = np.random.default_rng(0)
    image = rng.normal(50, 10, (6, 30, 28))
    mask = np.zeros(image.shape, bool)
    mask[:, 3:27, 4:25] = True
    sigma_mm, spacing = (0.0, 3.0, 3.0), (5.0, 1.5, 1.5)
    out = pitfalls.local_zscore(image, sigma_mm, spacing, mask=mask)
    # The weighted mean and variance at one voxel, from the Gaussian weights themselves.
    z, y, x = 2, 12, 10
    delta = np.zeros(image.shape)
    delta[z, y, x] = 1.0
    w = ndimage.gaussian_filter(delta, (0.0, 2.0, 2.0)) * mask       # symmetric kernel
    mu = (w * image).sum() / w.sum()
    sd = np.sqrt((w * image ** 2).sum() / w.sum() - mu ** 2)
    assert out[z, y, x] == pytest.approx((image[z, y, x] - mu) / sd, rel=1e-9)
    assert np.all(out[~mask] == 0)


def test_local_zscore_is_unchanged_by_a_global_linear_map():
    rng = np.random.default_rng(1)
    image = rng.normal(0, 1, (40, 40))
    a = pitfalls.local_zscore(image, 4.0, 1.0)
    b = pitfalls.local_zscore(3.0 * image + 700.0, 4.0, 1.0)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_roc_auc_equals_the_mann_whitney_statistic_with_ties():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 6, 200).astype(float)             # many ties
    labels = rng.random(200) < 0.3
    u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    expected = u / (labels.sum() * (~labels).sum())
    assert pitfalls.roc_auc(scores, labels) == pytest.approx(expected, abs=1e-12)
    assert pitfalls.roc_auc(np.exp(scores), labels) == pytest.approx(expected, abs=1e-12)
    assert pitfalls.roc_auc([1.0, 2.0, 3.0], [False, False, True]) == 1.0
    with pytest.raises(ValueError, match="labels"):
        pitfalls.roc_auc([1.0, 2.0], [True, True])


def test_best_threshold_is_the_brute_force_maximum():
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=150), 1)
    labels = scores + rng.normal(0, 1, 150) > 0.3
    t, ba = pitfalls.best_threshold(scores, labels)
    brute = max(pitfalls.balanced_accuracy(scores, labels, c) for c in np.unique(scores))
    assert ba == pytest.approx(brute, abs=1e-12)
    assert pitfalls.balanced_accuracy(scores, labels, t) == pytest.approx(ba, abs=1e-12)


def test_balanced_accuracy_closed_form():
    s = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.8])
    y = np.array([False, False, False, True, True, True])
    # > 0.5: positives predicted 0.9, 0.8 (2 of 3), negatives 0.1, 0.4 right (2 of 3)
    assert pitfalls.balanced_accuracy(s, y, 0.5) == pytest.approx(2 / 3)


def test_patch_features_are_the_slices_of_the_volume():
    v = np.arange(4 * 9 * 10, dtype=float).reshape(4, 9, 10)
    pos = np.array([[0, 2, 2], [3, 5, 7], [1, 4, 4]])
    got = pitfalls.patch_features(v, pos, 2)
    for row, (z, y, x) in zip(got, pos):
        np.testing.assert_array_equal(row, v[z, y - 2:y + 3, x - 2:x + 3].ravel())
    with pytest.raises(ValueError, match="positions"):
        pitfalls.patch_features(v, [[0, 1, 5]], 2)


def test_knn_scores_equal_a_brute_force_vote():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(40, 3))
    y = rng.random(40) < 0.5
    b = rng.normal(size=(7, 3))
    got = pitfalls.knn_scores(a, y, b, k=5)
    d = np.linalg.norm(b[:, None, :] - a[None, :, :], axis=2)
    expected = np.array([y[np.argsort(row)[:5]].mean() for row in d])
    np.testing.assert_allclose(got, expected)
    # k = 1 on the training set itself: every sample is its own nearest neighbour
    np.testing.assert_array_equal(pitfalls.knn_scores(a, y, a, k=1), y.astype(float))


def test_mask_topology_of_a_ball_a_hollow_ball_and_a_torus():
    ball = _ball((21, 21, 21), (10, 10, 10), 8.0)
    hollow = ball & ~_ball((21, 21, 21), (10, 10, 10), 4.0)
    z, y, x = np.mgrid[-12:13, -12:13, -12:13].astype(float)
    torus = (np.sqrt(y ** 2 + x ** 2) - 7.0) ** 2 + z ** 2 <= 2.5 ** 2
    two = np.concatenate([ball, ball], axis=0)
    for m, comps, euler in [(ball, 1, 1), (hollow, 1, 2), (torus, 1, 0), (two, 2, 2)]:
        topo = pitfalls.mask_topology(m)
        assert topo["components"] == comps and topo["euler_number"] == euler
        assert topo["euler_number"] == euler_number(m, connectivity=3)
        assert topo["voxels"] == m.sum()
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7] = True
    ring[4, 4] = False
    assert pitfalls.mask_topology(ring) == {"components": 1, "euler_number": 0, "voxels": 24}


def test_jacobian_determinant_of_an_affine_displacement_is_det_a():
    shape, spacing = (6, 7, 8), np.array([2.0, 1.0, 0.5])
    a = np.array([[1.1, 0.2, 0.0], [0.0, 0.9, 0.1], [0.05, 0.0, 1.2]])
    pts = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)],
                               indexing="ij"))
    u = np.einsum("ij,j...->i...", a - np.eye(3), pts)
    det = pitfalls.jacobian_determinant(u, spacing)
    np.testing.assert_allclose(det, np.linalg.det(a), rtol=1e-12)
    # A reflection folds space: determinant -1 everywhere.
    u2 = np.zeros((2, 5, 5))
    u2[1] = -2.0 * np.arange(5)[None, :]
    np.testing.assert_allclose(pitfalls.jacobian_determinant(u2, 1.0), -1.0)


def test_jacobian_determinant_equals_simpleitk_inside_the_grid():
    sitk = pytest.importorskip("SimpleITK")
    rng = np.random.default_rng(6)
    spacing, shape = np.array([2.0, 1.0, 0.5]), (8, 10, 12)
    u = np.stack([ndimage.gaussian_filter(rng.normal(size=shape), 2.0) * 3.0 for _ in range(3)])
    ours = pitfalls.jacobian_determinant(u, spacing)
    # SimpleITK: a vector image in (x, y, z) order, components (u_x, u_y, u_z), spacing (x, y, z).
    field = sitk.GetImageFromArray(np.moveaxis(u[::-1], 0, -1), isVector=True)
    field.SetSpacing(tuple(spacing[::-1].tolist()))
    ref = sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(
        sitk.Cast(field, sitk.sitkVectorFloat64)))
    inner = (slice(1, -1),) * 3                       # the borders use one-sided differences
    np.testing.assert_allclose(ours[inner], ref[inner], atol=1e-12)


BAD_INPUT_CALLS = {
    "prep.pitfalls.lesion_contrast": Entry(
        lambda: C(np.arange(49.0).reshape(7, 7), np.pad(np.ones((3, 3), bool), 2), 1.0,
                  shell_mm=2.0)),
    "prep.pitfalls.local_zscore": Entry(
        lambda: C(np.arange(64.0).reshape(8, 8) ** 1.5, 2.0, 1.0)),
    "prep.pitfalls.roc_auc": Entry(
        lambda: C(np.array([0.1, 0.5, 0.3, 0.9, 0.7]),
                  np.array([False, True, False, True, False]))),
    "prep.pitfalls.balanced_accuracy": Entry(
        lambda: C(np.array([0.1, 0.5, 0.3, 0.9, 0.7]),
                  np.array([False, True, False, True, False]), 0.4)),
    "prep.pitfalls.best_threshold": Entry(
        lambda: C(np.array([0.1, 0.5, 0.3, 0.9, 0.7]),
                  np.array([False, True, False, True, False]))),
    "prep.pitfalls.patch_features": Entry(
        lambda: C(np.arange(2 * 6 * 6.0).reshape(2, 6, 6), np.array([[0, 2, 3], [1, 3, 2]]),
                  1)),
    "prep.pitfalls.knn_scores": Entry(
        lambda: C(np.arange(12.0).reshape(6, 2), np.array([0, 1, 0, 1, 1, 0], bool),
                  np.array([[0.5, 1.0], [7.0, 9.0]]), k=3)),
    "prep.pitfalls.mask_topology": Entry(lambda: C(np.pad(np.ones((3, 3, 3), bool), 1))),
    "prep.pitfalls.jacobian_determinant": Entry(
        lambda: C(np.stack([np.outer(np.arange(4.0), np.ones(5)) * 0.1,
                            np.outer(np.ones(4), np.arange(5.0)) * -0.2]), (1.0, 2.0))),
}
