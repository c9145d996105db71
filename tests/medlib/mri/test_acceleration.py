"""medlib.mri.acceleration against closed forms, Monte Carlo noise, PyWavelets and SigPy
(birdcage_maps, SenseRecon, L1WaveletRecon)."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test

from medlib import mri


def _phantom(n=32):
    y, x = np.mgrid[:n, :n] - n / 2
    img = ((x / (0.4 * n)) ** 2 + (y / (0.45 * n)) ** 2 < 1).astype(float)
    img += 0.5 * ((x - 3) ** 2 + (y + 2) ** 2 < (n / 8) ** 2)
    return img


BAD_INPUT_CALLS = {
    "mri.acceleration.coil_sensitivities": Entry(lambda: C((8, 6), 4, radius=1.5)),
    "mri.acceleration.multicoil_kspace": Entry(
        lambda: C(_phantom(8), mri.coil_sensitivities((8, 8), 4))),
    "mri.acceleration.sense_reconstruct": Entry(
        lambda: C(mri.multicoil_kspace(_phantom(8), mri.coil_sensitivities((8, 8), 4)),
                  mri.coil_sensitivities((8, 8), 4), 2)),
    "mri.acceleration.g_factor": Entry(lambda: C(mri.coil_sensitivities((8, 8), 4), 2)),
    "mri.acceleration.haar_forward": Entry(lambda: C(_phantom(8), 2)),
    "mri.acceleration.haar_inverse": Entry(lambda: C(_phantom(8), 2)),
    "mri.acceleration.variable_density_mask": Entry(lambda: C((8, 8), 2.0, 0)),
    "mri.acceleration.cs_reconstruct": Entry(
        lambda: C(mri.kspace_forward(_phantom(8)), np.indices((8, 8)).sum(0) % 2 == 0, 0.01,
                  n_iter=3, levels=2)),
}


def test_coil_sensitivities_equal_sigpy_birdcage_maps():
    sigpy_mri = pytest.importorskip("sigpy.mri")
    for shape, nc, r in [((32, 32), 8, 1.5), ((24, 40), 5, 2.0)]:
        ours = mri.coil_sensitivities(shape, nc, radius=r)
        ref = sigpy_mri.birdcage_maps((nc, *shape), r=r)
        np.testing.assert_allclose(ours, ref, atol=1e-12)
        np.testing.assert_allclose(np.sum(np.abs(ours) ** 2, axis=0), 1.0, atol=1e-12)


def test_coil_sensitivity_is_the_biot_savart_field_of_a_line_current():
    # |B| of a wire falls as 1/r: the ratio of two unnormalised maps is the inverse distance
    # ratio, independent of the normalisation, for one coil alone (normalised to 1) and two
    s = mri.coil_sensitivities((16, 16), 2, radius=1.5)
    y, x = (np.mgrid[:16, :16] - 8.0) / 8.0
    d0 = np.hypot(x - 1.5, y)
    d1 = np.hypot(x + 1.5, y)
    np.testing.assert_allclose(np.abs(s[0]) / np.abs(s[1]), d1 / d0, rtol=1e-12)
    # the field is azimuthal: B_x + i B_y is i w / |w|^2, perpendicular to w
    w = (x - 1.5) + 1j * y
    np.testing.assert_allclose(np.real(s[0] * np.conj(w)), 0.0, atol=1e-12)


def test_multicoil_kspace_is_the_signal_equation_of_each_weighted_image(rng):
    img = rng.normal(size=(8, 10))
    s = mri.coil_sensitivities((8, 10), 3)
    k = mri.multicoil_kspace(img, s)
    y = mri.image_coordinates(8)[:, None]
    x = mri.image_coordinates(10)[None, :]
    ky, kx = mri.kspace_coordinates(8), mri.kspace_coordinates(10)
    for c, m, n in [(0, 0, 0), (1, 3, 7), (2, 5, 2)]:
        ref = np.sum(s[c] * img * np.exp(-2j * np.pi * (ky[m] * y + kx[n] * x)))
        assert k[c, m, n] == pytest.approx(ref, abs=1e-12)


@pytest.mark.formula("mri.sense")
@pytest.mark.parametrize("r", [1, 2, 4])
def test_sense_unfolds_noise_free_data_exactly(r, rng):
    img = _phantom(32) * np.exp(1j * rng.uniform(0, 0.3))
    s = mri.coil_sensitivities((32, 32), 8)
    k = mri.multicoil_kspace(img, s)
    before = k.copy()
    rec = mri.sense_reconstruct(k, s, r)
    np.testing.assert_allclose(rec, img, atol=1e-10)
    assert np.array_equal(k, before)
    # the lines the pattern does not keep are ignored
    k_only = k * mri.regular_mask((32, 32), r)
    np.testing.assert_allclose(mri.sense_reconstruct(k_only, s, r), rec, atol=1e-12)


@pytest.mark.formula("mri.sense")
def test_sense_agrees_with_sigpy_sense_recon():
    app = pytest.importorskip("sigpy.mri.app")
    n, r = 32, 2
    img = _phantom(n)
    s = mri.coil_sensitivities((n, n), 4)
    mask = mri.regular_mask((n, n), r)
    k = mri.multicoil_kspace(img, s) * mask
    rng = np.random.default_rng(4)
    k = k + 0.3 * mask * (rng.normal(size=k.shape) + 1j * rng.normal(size=k.shape))
    ours = mri.sense_reconstruct(k, s, r)
    # SigPy's centred FFT is unitary: its data are ours / sqrt(N); it solves the same least
    # squares problem by conjugate gradients
    ref = app.SenseRecon(k / n, s, lamda=0, max_iter=200, show_pbar=False).run()
    assert np.max(np.abs(ours - ref)) < 1e-6 * np.max(np.abs(ours))


@pytest.mark.formula("mri.g-factor")
def test_g_factor_closed_forms():
    s = mri.coil_sensitivities((16, 16), 4)
    np.testing.assert_allclose(mri.g_factor(s, 1), 1.0, atol=1e-12)
    # two coils, R = 2: g^2 = (|a|^2 + |b|^2)(|c|^2 + |d|^2) / |ad - bc|^2 for E = [[a, b], [c, d]]
    s2 = mri.coil_sensitivities((8, 4), 2, radius=1.3)
    g = mri.g_factor(s2, 2)
    a, b = s2[0, 1, 2], s2[0, 5, 2]
    c, d = s2[1, 1, 2], s2[1, 5, 2]
    ehe = np.array([[abs(a) ** 2 + abs(c) ** 2, np.conj(a) * b + np.conj(c) * d],
                    [np.conj(b) * a + np.conj(d) * c, abs(b) ** 2 + abs(d) ** 2]])
    ref = np.sqrt(np.real(np.linalg.inv(ehe)[0, 0] * ehe[0, 0]))
    assert g[1, 2] == pytest.approx(ref, rel=1e-12)
    assert np.all(g >= 1.0)


@pytest.mark.formula("mri.g-factor")
def test_g_factor_predicts_the_monte_carlo_noise_amplification():
    n, r, trials = 32, 4, 400
    s = mri.coil_sensitivities((n, n), 8)
    g = mri.g_factor(s, r)
    rng = np.random.default_rng(11)
    full, acc = [], []
    for _ in range(trials):
        noise = rng.normal(size=s.shape) + 1j * rng.normal(size=s.shape)
        full.append(mri.sense_reconstruct(noise, s, 1))
        acc.append(mri.sense_reconstruct(noise, s, r))
    # SNR_R = SNR_full / (g sqrt(R)): the noise std grows by g sqrt(R)
    ratio = np.std(acc, axis=0) / np.std(full, axis=0) / np.sqrt(r)
    assert np.median(ratio / g) == pytest.approx(1.0, abs=0.02)
    assert np.percentile(np.abs(ratio / g - 1), 90) < 0.1          # 400 trials: ~3.5 % std
    assert g.max() > 2                                              # and g does vary


def test_sense_refuses_too_high_an_acceleration():
    s = mri.coil_sensitivities((16, 16), 2)
    with pytest.raises(ValueError, match="acceleration"):
        mri.g_factor(s, 4)
    with pytest.raises(ValueError, match="acceleration"):
        mri.g_factor(s, 3)


def test_haar_is_orthonormal_and_matches_pywavelets(rng):
    pywt = pytest.importorskip("pywt")
    img = rng.normal(size=(16, 24))
    c = mri.haar_forward(img, 3)
    assert np.linalg.norm(c) == pytest.approx(np.linalg.norm(img), rel=1e-12)
    np.testing.assert_allclose(mri.haar_inverse(c, 3), img, atol=1e-12)
    ref = pywt.wavedec2(img, "haar", level=3, mode="periodization")
    np.testing.assert_allclose(c[:2, :3], ref[0], atol=1e-12)
    for ch, cv, cd in ref[1:]:
        hy, hx = ch.shape
        # the same coefficients up to PyWavelets' sign of the high-pass filter
        blocks = {"row-high": c[hy:2 * hy, :hx], "col-high": c[:hy, hx:2 * hx],
                  "both": c[hy:2 * hy, hx:2 * hx]}
        np.testing.assert_allclose(np.abs(blocks["row-high"]), np.abs(ch), atol=1e-12)
        np.testing.assert_allclose(np.abs(blocks["col-high"]), np.abs(cv), atol=1e-12)
        np.testing.assert_allclose(np.abs(blocks["both"]), np.abs(cd), atol=1e-12)
    # a piecewise-constant image on the dyadic grid is sparse
    blocky = np.kron(rng.normal(size=(2, 3)), np.ones((8, 8)))
    assert np.count_nonzero(np.abs(mri.haar_forward(blocky, 3)) > 1e-12) == 6


@pytest.mark.formula("mri.cs-l1")
def test_cs_with_full_sampling_is_wavelet_soft_thresholding(rng):
    # M = I: the minimiser of 1/2 |F x - y|^2 + lam |W x|_1 is W^T soft(W F^H y) (closed form)
    img = _phantom(16) + 0.05 * rng.normal(size=(16, 16))
    y = mri.kspace_forward(img)
    lam = 0.08
    rec = mri.cs_reconstruct(y, np.ones((16, 16), bool), lam, n_iter=5, levels=2)
    c = mri.haar_forward(img, 2)
    soft = c * np.maximum(0, 1 - lam / np.maximum(np.abs(c), 1e-300))
    soft[:4, :4] = c[:4, :4]
    np.testing.assert_allclose(rec, mri.haar_inverse(soft, 2), atol=1e-10)


@pytest.mark.formula("mri.cs-l1")
def test_cs_reaches_the_fixed_point_of_the_proximal_step_and_beats_zero_filling():
    n = 64
    img = _phantom(n)
    y = mri.kspace_forward(img)
    mask = mri.variable_density_mask((n, n), 4.0, np.random.default_rng(1), center_radius=0.08)
    lam = 0.01
    rec = mri.cs_reconstruct(y, mask, lam, n_iter=500, levels=3)
    # optimality: the proximal gradient step leaves the solution unchanged
    c = mri.haar_forward(rec, 3)
    resid = (y * mask - mask * mri.kspace_forward(rec)) / n
    step = c + mri.haar_forward(mri.kspace_inverse(resid * n), 3)
    soft = step * np.maximum(0, 1 - lam / np.maximum(np.abs(step), 1e-300))
    soft[:8, :8] = step[:8, :8]
    assert np.max(np.abs(soft - c)) < 1e-5
    zf = mri.kspace_inverse(y * mask)
    err = lambda x: np.linalg.norm(np.abs(x) - img) / np.linalg.norm(img)   # noqa: E731
    assert err(rec) < 0.5 * err(zf)


@pytest.mark.formula("mri.cs-l1")
def test_cs_and_sigpy_l1_wavelet_recon_both_beat_zero_filling():
    app = pytest.importorskip("sigpy.mri.app")
    n = 64
    img = _phantom(n)
    y = mri.kspace_forward(img)
    mask = mri.variable_density_mask((n, n), 4.0, np.random.default_rng(1), center_radius=0.08)
    ours = mri.cs_reconstruct(y, mask, 0.01, n_iter=200, levels=3)
    ref = app.L1WaveletRecon((y * mask / n)[None], np.ones((1, n, n)), 0.01, wave_name="haar",
                             max_iter=200, show_pbar=False).run()
    err = lambda x: np.linalg.norm(np.abs(x) - img) / np.linalg.norm(img)   # noqa: E731
    zf = err(mri.kspace_inverse(y * mask))
    assert err(ours) < 0.6 * zf and err(ref) < 0.6 * zf
    assert np.linalg.norm(ours - ref) / np.linalg.norm(img) < 0.1


def test_variable_density_mask_count_centre_and_density():
    m = mri.variable_density_mask((64, 48), 4.0, 3, power=3.0, center_radius=0.1)
    assert m.sum() == round(64 * 48 / 4)
    assert m[32, 24] and m[31:34, 23:26].all()
    ky = np.abs(np.arange(64) - 32)[:, None] + 0 * np.arange(48)[None, :]
    assert m[ky < 8].mean() > 2 * m[ky > 24].mean()
    np.testing.assert_array_equal(m, mri.variable_density_mask((64, 48), 4.0, 3, power=3.0,
                                                               center_radius=0.1))


NAMED_CALLS = [
    (mri.sense_reconstruct, (np.ones((2, 8, 8)), mri.coil_sensitivities((8, 8), 3), 2), {},
     ValueError, "coils"),
    (mri.sense_reconstruct, (np.ones((2, 8, 8)), mri.coil_sensitivities((8, 6), 2), 2), {},
     ValueError, "^sensitivities"),
    (mri.haar_forward, (np.ones((12, 8)), 3), {}, ValueError, "^levels"),
    (mri.cs_reconstruct, (np.ones((8, 8)), np.ones((4, 8), bool), 0.1), {}, ValueError, "^mask"),
    (mri.cs_reconstruct, (np.ones((8, 8)), np.ones((8, 8), bool), -0.1), {}, ValueError, "^lam"),
    (mri.variable_density_mask, ((8, 8), 32.0, 0), {"center_radius": 0.9}, ValueError,
     "^center_radius"),
]

test_errors_name_the_callers_argument = bad_input_test(NAMED_CALLS)
