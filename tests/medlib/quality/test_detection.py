"""medlib.quality.detection (section 10.3) against closed forms, SciPy and simulation."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import special, stats

from medlib.quality import detection as D


def disk(shape, radius):
    y, x = np.mgrid[:shape[0], :shape[1]]
    return (np.hypot(y - (shape[0] - 1) / 2, x - (shape[1] - 1) / 2) <= radius).astype(float)


def _masks():
    img = np.arange(36.0).reshape(6, 6) % 5
    sig = np.zeros((6, 6), bool)
    sig[2:4, 2:4] = True
    bg = np.zeros((6, 6), bool)
    bg[0] = True
    return img, sig, bg


BAD_INPUT_CALLS = {
    "quality.detection.cnr": Entry(lambda: C(*_masks())),
    "quality.detection.rose_snr": Entry(lambda: C(0.05, 1000.0, np.array([1.0, 4.0]))),
    "quality.detection.npw_dprime_white": Entry(lambda: C(disk((8, 8), 2.0), 0.5)),
    "quality.detection.observer_scores": Entry(
        lambda: C(np.arange(48.0).reshape(3, 4, 4), disk((4, 4), 1.5))),
    "quality.detection.dprime": Entry(
        lambda: C(np.array([1.0, 2.0, 3.5, 2.2]), np.array([0.1, 0.9, -0.3]))),
    "quality.detection.auc_from_dprime": Entry(lambda: C(np.array([0.0, 1.0, 2.5]))),
    "quality.detection.empirical_auc": Entry(
        lambda: C(np.array([1.0, 2.0, 3.5]), np.array([0.1, 2.0, -0.3]))),
    "quality.detection.laguerre_gauss_channels": Entry(
        lambda: C((8, 8), 3, 4.0, centre=(3.5, 3.5))),
    "quality.detection.channel_outputs": Entry(
        lambda: C(np.arange(48.0).reshape(3, 4, 4), np.ones((2, 4, 4)))),
    "quality.detection.hotelling_template": Entry(
        lambda: C(np.random.default_rng(1).normal(1, 1, (6, 2)),
                  np.random.default_rng(2).normal(0, 1, (5, 2)))),
    "quality.detection.bootstrap_dprime": Entry(
        lambda: C(np.linspace(0.5, 3.0, 12) ** 1.5, np.linspace(-1.0, 1.5, 12) ** 3, 4,
                  n_resamples=100, confidence=0.9)),
    "quality.detection.DprimeInterval": Entry(lambda: C(1.0, 0.5, 1.5), mutate=False),
}


@pytest.mark.formula("quality.cnr")
def test_cnr_is_contrast_over_background_noise(rng):
    image = rng.normal(100.0, 4.0, (64, 64))
    lesion = disk((64, 64), 6) > 0
    image[lesion] += 10.0
    background = ~(disk((64, 64), 12) > 0)
    expected = abs(image[lesion].mean() - image[background].mean()) / image[background].std(ddof=1)
    assert D.cnr(image, lesion, background) == pytest.approx(expected, rel=1e-12)
    assert D.cnr(image, lesion, background) == pytest.approx(2.5, rel=0.08)


@pytest.mark.formula("quality.rose")
def test_rose_snr_equals_the_simulated_count_difference_snr(rng):
    phi, area_px, contrast = 400.0, 0.25, 0.05              # quanta/mm^2, mm^2 per pixel
    lesion = disk((32, 32), 4.5)
    n_pix = lesion.sum()
    present = rng.poisson(phi * area_px * (1 + contrast * lesion), (4000, 32, 32))
    absent = rng.poisson(phi * area_px * np.ones((32, 32)), (4000, 32, 32))
    d = D.dprime(D.observer_scores(present, lesion), D.observer_scores(absent, lesion))
    k = D.rose_snr(contrast, phi, n_pix * area_px)
    assert k == pytest.approx(contrast * np.sqrt(phi * n_pix * area_px))
    assert d == pytest.approx(k, rel=0.05)


@pytest.mark.formula("quality.npw")
def test_npw_dprime_in_white_noise_matches_simulation(rng):
    signal = 0.8 * disk((24, 24), 3.0)
    sigma = 2.0
    present = signal + rng.normal(0, sigma, (3000, 24, 24))
    absent = rng.normal(0, sigma, (3000, 24, 24))
    d = D.dprime(D.observer_scores(present, signal), D.observer_scores(absent, signal))
    assert D.npw_dprime_white(signal, sigma) == pytest.approx(np.sqrt((signal**2).sum()) / sigma)
    assert d == pytest.approx(D.npw_dprime_white(signal, sigma), rel=0.05)


@pytest.mark.formula("quality.auc-dprime")
def test_auc_from_dprime_matches_mann_whitney_and_the_normal_cdf(rng):
    assert D.auc_from_dprime(0.0) == 0.5
    assert D.auc_from_dprime(1.0) == pytest.approx(stats.norm.cdf(1 / np.sqrt(2)), rel=1e-12)
    d = 1.3
    present, absent = rng.normal(d, 1, 5000), rng.normal(0, 1, 4000)
    u = stats.mannwhitneyu(present, absent).statistic
    assert D.empirical_auc(present, absent) == pytest.approx(u / (5000 * 4000), rel=1e-12)
    assert D.empirical_auc(present, absent) == pytest.approx(D.auc_from_dprime(d), abs=0.01)
    assert D.empirical_auc([1.0, 2.0], [2.0, 0.0]) == pytest.approx(0.625)   # a tie is 1/2


@pytest.mark.formula("quality.lg-channels")
def test_laguerre_gauss_channels_are_near_orthonormal_and_closed_form():
    u = D.laguerre_gauss_channels((64, 64), 5, 8.0)
    gram = u.reshape(5, -1) @ u.reshape(5, -1).T
    np.testing.assert_allclose(gram, np.eye(5), atol=1e-3)
    r2 = 3.0**2 + 4.0**2                                  # pixel (31.5 + 3, 31.5 + 4)
    a = 8.0
    expected = np.sqrt(2) / a * np.exp(-np.pi * r2 / a**2) * special.eval_laguerre(
        2, 2 * np.pi * r2 / a**2)
    u_off = D.laguerre_gauss_channels((64, 64), 3, a, centre=(31.0, 32.0))
    assert u_off[2, 34, 36] == pytest.approx(expected, rel=1e-12)


@pytest.mark.formula("quality.cho")
def test_hotelling_observer_prewhitens_correlated_noise(rng):
    # two channels with correlated noise: the Hotelling d' beats a matched (NPW-like) one
    cov = np.array([[1.0, 0.9], [0.9, 1.0]])
    dv = np.array([1.0, 0.0])
    chol = np.linalg.cholesky(cov)
    v1 = dv + rng.normal(size=(20000, 2)) @ chol.T
    v0 = rng.normal(size=(20000, 2)) @ chol.T
    w, d_train = D.hotelling_template(v1, v0)
    d_true = np.sqrt(dv @ np.linalg.solve(cov, dv))            # sqrt(1 / 0.19) = 2.29
    assert d_train == pytest.approx(d_true, rel=0.03)
    assert D.dprime(v1 @ w, v0 @ w) == pytest.approx(d_true, rel=0.03)
    assert D.dprime(v1 @ dv, v0 @ dv) == pytest.approx(1.0, rel=0.03)
    np.testing.assert_allclose(w / np.linalg.norm(w), np.linalg.solve(cov, dv) / np.linalg.norm(
        np.linalg.solve(cov, dv)), atol=0.02)


def test_channel_outputs_are_inner_products(rng):
    images = rng.normal(size=(4, 8, 8))
    channels = rng.normal(size=(3, 8, 8))
    np.testing.assert_allclose(D.channel_outputs(images, channels),
                               np.einsum("nyx,jyx->nj", images, channels), rtol=1e-12)


def test_bootstrap_interval_covers_the_true_dprime(rng):
    present, absent = rng.normal(1.5, 1, 200), rng.normal(0, 1, 200)
    ci = D.bootstrap_dprime(present, absent, 3)
    assert ci.low < 1.5 < ci.high
    assert ci.low < ci.estimate < ci.high
    assert 0.2 < ci.high - ci.low < 0.6           # about 2 * 1.96 * sqrt(2 / 200 + d^2 / 800)


def test_functions_leave_inputs_unchanged(assert_inputs_unchanged):
    image, sig, bg = _masks()
    assert_inputs_unchanged(D.cnr, image, sig, bg)
    assert_inputs_unchanged(D.bootstrap_dprime, np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0]), 1)


def test_bad_arguments_are_named():
    image, sig, bg = _masks()
    with pytest.raises(ValueError, match="overlap"):
        D.cnr(image, sig, sig)
    with pytest.raises(ValueError, match="template"):
        D.observer_scores(np.ones((3, 4, 4)), np.ones((5, 5)))
    with pytest.raises(ValueError, match="no spread"):
        D.dprime([1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="more images than channels"):
        D.hotelling_template(np.ones((2, 3)), np.ones((5, 3)))
    with pytest.raises(ValueError, match="n_channels"):
        D.laguerre_gauss_channels((8, 8), 0, 3.0)
