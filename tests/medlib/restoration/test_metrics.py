"""medlib.restoration.metrics (chapter 16.2) against scikit-image, PyTorch and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from badinput import C, Entry
from skimage.metrics import (
    mean_squared_error,
    normalized_root_mse,
    peak_signal_noise_ratio,
    structural_similarity,
)

from medlib.restoration import degradations as deg
from medlib.restoration import metrics as M


def _pair_factory():
    y = np.linspace(-1000.0, 400.0, 64).reshape(8, 8)
    return y, y + np.cos(np.arange(64.0)).reshape(8, 8) * 20


BAD_INPUT_CALLS = {
    "restoration.metrics.mae": Entry(lambda: C(*_pair_factory())),
    "restoration.metrics.mse": Entry(lambda: C(*_pair_factory())),
    "restoration.metrics.nmse": Entry(lambda: C(*_pair_factory(), normalization="range")),
    "restoration.metrics.psnr": Entry(lambda: C(*_pair_factory(), data_range=1400.0)),
    "restoration.metrics.ssim": Entry(lambda: C(*_pair_factory(), data_range=1400.0)),
    "restoration.metrics.restoration_metrics": Entry(
        lambda: C(*_pair_factory(), data_range=1400.0)),
}


@pytest.fixture(scope="module")
def ct_pair():
    """A real chest CT slice (full dose) and its simulated low-dose partner, in HU."""
    hu, pixel_mm = deg.load_slices("lung1", [20], size=64)
    low, full = deg.simulate_low_dose_ct(hu[0], 2e4, 0, pixel_mm=pixel_mm, n_angles=90)
    return full, low


@pytest.mark.formula("restore.mae")
def test_mae_is_the_mean_and_equals_pytorch_l1_loss(ct_pair):
    y, f = ct_pair
    expected = F.l1_loss(torch.from_numpy(f), torch.from_numpy(y)).item()
    assert M.mae(y, f) == pytest.approx(expected, rel=1e-12)
    assert M.mae(y, f, reduction="sum") == pytest.approx(expected * y.size, rel=1e-12)
    assert M.mae(y, y) == 0.0


@pytest.mark.formula("restore.mse")
def test_mse_equals_scikit_image_and_pytorch(ct_pair):
    y, f = ct_pair
    assert M.mse(y, f) == pytest.approx(mean_squared_error(y, f), rel=1e-10)
    assert M.mse(y, f) == pytest.approx(F.mse_loss(torch.from_numpy(f),
                                                   torch.from_numpy(y)).item(), rel=1e-10)
    assert M.mse(y, f, reduction="sum") == pytest.approx(((y - f) ** 2).sum(), rel=1e-10)


@pytest.mark.formula("restore.mse")
def test_the_notes_sum_grows_with_image_size_while_the_mean_does_not():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(16, 16))
    f = y + 0.1                                            # the same error everywhere
    big_y, big_f = np.kron(y, np.ones((2, 2))), np.kron(f, np.ones((2, 2)))
    assert M.mse(big_y, big_f) == pytest.approx(M.mse(y, f), rel=1e-12) == pytest.approx(0.01)
    assert M.mse(big_y, big_f, reduction="sum") == pytest.approx(
        4 * M.mse(y, f, reduction="sum"), rel=1e-12)


@pytest.mark.formula("restore.nmse")
def test_nmse_both_normalisations_are_scikit_image_nrmse_squared(ct_pair):
    y, f = ct_pair
    assert M.nmse(y, f, normalization="energy") == pytest.approx(
        normalized_root_mse(y, f, normalization="euclidean") ** 2, rel=1e-10)
    assert M.nmse(y, f, normalization="range") == pytest.approx(
        normalized_root_mse(y, f, normalization="min-max") ** 2, rel=1e-10)
    assert M.nmse(y, f, normalization="range") == pytest.approx(
        np.mean((y - f) ** 2) / (y.max() - y.min()) ** 2, rel=1e-12)


@pytest.mark.formula("restore.nmse")
def test_energy_nmse_depends_on_the_units_zero_and_range_nmse_does_not(ct_pair):
    y, f = ct_pair
    # The same images as stored values (HU + 1024): energy changes, range is invariant.
    e_hu, e_stored = M.nmse(y, f), M.nmse(y + 1024, f + 1024)
    assert abs(e_hu / e_stored - 1) > 0.1
    assert M.nmse(y, f, normalization="range") == pytest.approx(
        M.nmse(y + 1024, f + 1024, normalization="range"), rel=1e-10)
    # Both are unchanged by a common scale (unitless).
    assert M.nmse(3 * y, 3 * f) == pytest.approx(e_hu, rel=1e-12)


@pytest.mark.formula("restore.psnr")
@pytest.mark.parametrize("data_range", [2000.0, 4095.0, 1.0])
def test_psnr_equals_scikit_image_at_the_stated_range(ct_pair, data_range):
    y, f = ct_pair
    assert M.psnr(y, f, data_range=data_range) == pytest.approx(
        peak_signal_noise_ratio(y, f, data_range=data_range), abs=1e-6)


@pytest.mark.formula("restore.psnr")
def test_psnr_of_the_notes_uses_the_targets_own_maximum_and_moves_with_the_unit(ct_pair):
    y, f = ct_pair
    assert M.psnr(y, f, data_range="max") == pytest.approx(
        10 * np.log10(y.max() ** 2 / np.mean((y - f) ** 2)), abs=1e-9)
    assert M.psnr(y, f, data_range="range") == pytest.approx(
        peak_signal_noise_ratio(y, f, data_range=y.max() - y.min()), abs=1e-6)
    # Same error, same images, stored values instead of HU: the notes' PSNR changes, the
    # stated-range PSNR does not.
    assert M.psnr(y + 1024, f + 1024, data_range="max") - M.psnr(y, f, data_range="max") > 1.0
    assert M.psnr(y + 1024, f + 1024, data_range=2000.0) == pytest.approx(
        M.psnr(y, f, data_range=2000.0), abs=1e-9)
    # 20 log10(2): doubling the range adds 6.02 dB.
    assert M.psnr(y, f, data_range=4000.0) - M.psnr(y, f, data_range=2000.0) == pytest.approx(
        20 * np.log10(2), abs=1e-12)
    assert M.psnr(y, y, data_range=1.0) == np.inf


@pytest.mark.formula("restore.ssim")
@pytest.mark.parametrize("gaussian, win_size", [(False, 7), (False, 11), (True, None)])
@pytest.mark.parametrize("data_range", [2000.0, "range"])
def test_ssim_equals_scikit_image_with_the_same_window_and_range(ct_pair, gaussian, win_size,
                                                                 data_range):
    y, f = ct_pair
    r = y.max() - y.min() if data_range == "range" else data_range
    expected = structural_similarity(y, f, data_range=r, win_size=win_size,
                                     gaussian_weights=gaussian, sigma=1.5,
                                     use_sample_covariance=True)
    assert M.ssim(y, f, data_range=data_range, win_size=win_size,
                  gaussian=gaussian) == pytest.approx(expected, abs=1e-6)


@pytest.mark.formula("restore.ssim")
def test_ssim_closed_form_on_one_window():
    # One 7 x 7 window (the whole image): SSIM is the formula of the global moments, with the
    # sample covariance (ddof = 1) and C1 = (0.01 R)^2, C2 = (0.03 R)^2.
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 1, (7, 7)), rng.uniform(0, 1, (7, 7))
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    cov = np.cov(a.ravel(), b.ravel(), ddof=1)
    expected = ((2 * a.mean() * b.mean() + c1) * (2 * cov[0, 1] + c2)
                / ((a.mean() ** 2 + b.mean() ** 2 + c1) * (cov[0, 0] + cov[1, 1] + c2)))
    # The map has a single valid pixel, the centre; scikit-image's mean crops the same border.
    assert M.ssim(a, b, data_range=1.0) == pytest.approx(expected, abs=1e-12)


def test_restoration_metrics_gathers_the_five(ct_pair):
    y, f = ct_pair
    row = M.restoration_metrics(y, f, data_range=2000.0)
    assert row["MSE"] == pytest.approx(mean_squared_error(y, f), rel=1e-10)
    assert row["PSNR (dB)"] == pytest.approx(peak_signal_noise_ratio(y, f, data_range=2000.0),
                                             abs=1e-6)
    assert row["SSIM"] == pytest.approx(structural_similarity(y, f, data_range=2000.0),
                                        abs=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: M.mae(np.zeros(3), np.zeros(4)), "target and prediction"),
    (lambda: M.mae(np.zeros(3), np.zeros(3), reduction="none"), "reduction"),
    (lambda: M.nmse(np.zeros(3), np.ones(3), normalization="max"), "normalization"),
    (lambda: M.psnr(np.zeros(3), np.ones(3), data_range=0), "data_range"),
    (lambda: M.psnr(-np.ones(3), np.ones(3), data_range="max"), "data_range"),
    (lambda: M.psnr(np.ones(3), np.ones(3), data_range="dtype"), "data_range"),
    (lambda: M.ssim(np.zeros((8, 8)), np.zeros((8, 8)), data_range=-1), "data_range"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
