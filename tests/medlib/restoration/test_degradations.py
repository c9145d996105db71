"""medlib.restoration.degradations (chapter 16.1) against scikit-image, NumPy's FFT and closed
forms: low-dose CT from real slices with a noiseless partner, undersampled and low-resolution MR.
"""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from badinput import C, Entry
from skimage.transform import iradon, radon

from medlib import ct, data
from medlib.restoration import degradations as deg

BAD_INPUT_CALLS = {
    "restoration.degradations.load_slices": Entry(lambda: C("lung2", [30], size=32)),
    "restoration.degradations.simulate_low_dose_ct": Entry(
        lambda: C(np.full((16, 16), -200.0), 1e4, 0, pixel_mm=2.0, n_angles=24)),
    "restoration.degradations.low_dose_ct_pairs": Entry(
        lambda: C(1e4, 0, n_train=1, n_test=1, size=32, n_angles=16)),
    "restoration.degradations.CTPairs": Entry(
        lambda: C(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), "lung2", (3,), 2.5, 1e4),
        mutate=False),
    "restoration.degradations.undersample_mr": Entry(
        lambda: C(np.arange(64.0).reshape(8, 8), 2.0, 0, center_lines=2)),
    "restoration.degradations.lower_resolution_mr": Entry(
        lambda: C(np.arange(64.0).reshape(8, 8), 2)),
}


@pytest.fixture(scope="module")
def lung2_slice():
    hu, pixel_mm = deg.load_slices("lung2", [30], size=64)
    return hu[0], pixel_mm


@pytest.mark.parametrize("volume, name", [("lung1", "nifti/chest_ct_lung1_256.nii.gz"),
                                           ("brain_mr1", "nifti/brain_mr1.nii.gz")])
def test_load_slices_is_the_block_mean_in_radiological_orientation(volume, name):
    stack, pixel_mm = deg.load_slices(volume, [5, 20], size=64)
    img = nib.load(data.path(name))
    # Independent: nibabel's canonical RAS+ array; RAS rows point anterior and columns right,
    # the radiological display wants rows towards posterior and columns towards the left.
    ras = np.asarray(nib.as_closest_canonical(img).dataobj, dtype=float)
    assert nib.aff2axcodes(img.affine)[2] == "S"                  # the slice index is unchanged
    expected = ras[:, :, 20].T[::-1, ::-1].reshape(64, 4, 64, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(stack[1], expected, atol=1e-9)
    assert stack.shape == (2, 64, 64)
    assert pixel_mm == pytest.approx(4 * float(img.header.get_zooms()[0]))


def test_full_dose_reference_matches_scikit_image_fbp_of_the_same_attenuation(lung2_slice):
    hu, pixel_mm = lung2_slice
    _, full = deg.simulate_low_dose_ct(hu, 1e4, 0, pixel_mm=pixel_mm, n_angles=180)
    # Independent pipeline: scikit-image's projector and FBP on the same mu (in 1/cm).
    mu_w = ct.attenuation_coefficient("water", 60.0)
    mu = mu_w * (1 + np.maximum(hu, -1000) / 1000)
    n = hu.shape[0]
    m = int(np.ceil(n * np.sqrt(2))) + 2
    pad = np.zeros((m, m))
    top = m // 2 - n // 2
    pad[top:top + n, top:top + n] = mu
    angles = np.linspace(0, 180, 180, endpoint=False)
    rec = iradon(radon(pad, angles), angles, filter_name="ramp")[top:top + n, top:top + n]
    hu_sk = 1000 * (rec - mu_w) / mu_w
    body = hu > -500
    assert np.abs(full - hu_sk)[body].mean() < 15          # two projectors, ~1 % of mu
    assert np.abs(full - hu)[body].mean() < 60             # FBP of 180 views restores the slice


def test_only_noise_differs_and_it_vanishes_at_infinite_dose(lung2_slice):
    hu, pixel_mm = lung2_slice
    low, full = deg.simulate_low_dose_ct(hu, 1e15, 1, pixel_mm=pixel_mm, n_angles=90)
    assert np.abs(low - full).max() < 0.5                  # 1e15 photons: ~1e-5 relative noise
    low2, full2 = deg.simulate_low_dose_ct(hu, 1e3, 1, pixel_mm=pixel_mm, n_angles=90)
    np.testing.assert_array_equal(full2, full)             # the reference ignores the dose


def test_noise_variance_scales_as_one_over_i0_and_the_noise_is_unbiased(lung2_slice):
    hu, pixel_mm = lung2_slice
    stack = np.repeat(hu[None], 6, axis=0)
    var = {}
    for i0 in (2e4, 8e4):
        low, full = deg.simulate_low_dose_ct(stack, i0, 7, pixel_mm=pixel_mm, n_angles=90)
        err = low - full
        body = np.broadcast_to(hu > -500, err.shape)
        var[i0] = err[body].var()
        # The log of Poisson counts is biased by about +1/(2 I0 e^-p) per ray: far below noise.
        assert abs(err[body].mean()) < 0.1 * np.sqrt(var[i0])
    # Var(-ln(N/I0)) ~ e^p / I0 (ct.log-variance) and FBP is linear: 4x the dose, 1/4 variance.
    assert var[2e4] / var[8e4] == pytest.approx(4.0, rel=0.1)


def test_simulation_is_deterministic_per_seed(lung2_slice):
    hu, pixel_mm = lung2_slice
    a = deg.simulate_low_dose_ct(hu, 1e4, 3, pixel_mm=pixel_mm, n_angles=30)
    b = deg.simulate_low_dose_ct(hu, 1e4, np.random.default_rng(3), pixel_mm=pixel_mm,
                                 n_angles=30)
    c = deg.simulate_low_dose_ct(hu, 1e4, 4, pixel_mm=pixel_mm, n_angles=30)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_pairs_split_by_patient_and_held_out_noise_ignores_n_train():
    p = deg.low_dose_ct_pairs(1e4, 0, n_train=3, n_test=2, size=32, n_angles=32)
    q = deg.low_dose_ct_pairs(1e4, 0, n_train=5, n_test=2, size=32, n_angles=32)
    assert p["train"].patient == "lung2" and p["test"].patient == "lung1"
    assert p["train"].low_dose.shape == (3, 32, 32) and p["test"].full_dose.shape == (2, 32, 32)
    assert len(set(p["train"].slices)) == 3
    np.testing.assert_array_equal(p["test"].low_dose, q["test"].low_dose)
    hu, _ = deg.load_slices("lung1", list(p["test"].slices), size=32)
    _, full = deg.simulate_low_dose_ct(hu, 1e4, 0, pixel_mm=p["test"].pixel_mm, n_angles=32)
    np.testing.assert_allclose(p["test"].full_dose, full, atol=1e-9)


def _numpy_zero_filled(img, mask):
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img)))
    return np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(np.where(mask, k, 0)))))


def test_undersample_mr_equals_numpy_fft_zero_filling_and_keeps_one_line_in_r():
    mr, _ = deg.load_slices("brain_mr1", 12, size=64)
    img = mr[0]
    zf, mask = deg.undersample_mr(img, 4, 0, center_lines=6)
    np.testing.assert_allclose(zf, _numpy_zero_filled(img, mask), atol=1e-9 * img.max())
    rows = mask.all(axis=1)
    assert np.array_equal(mask.any(axis=1), rows)           # whole phase-encoding rows
    assert rows.sum() == 16 and rows[32 - 3:32 + 3].all()
    full, _ = deg.undersample_mr(img, 1, 0, center_lines=0)
    np.testing.assert_allclose(full, img, atol=1e-9 * img.max())


def test_regular_half_sampling_folds_two_copies_half_a_field_apart():
    # Closed form (mri.fov-aliasing): keeping every 2nd row of k-space (k = 0 kept) gives
    # (img + roll(img, N/2)) / 2 along that axis; the random mask with R = 1 keeps all rows.
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 1, (16, 16))
    mask = np.zeros((16, 16), bool)
    mask[::2] = True                                      # rows m - 8 even, k = 0 included
    np.testing.assert_allclose(_numpy_zero_filled(img, mask),
                               np.abs(img + np.roll(img, 8, axis=0)) / 2, atol=1e-12)


def test_lower_resolution_keeps_the_central_k_space_block():
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 1, (16, 16))
    low = deg.lower_resolution_mr(img, 2)
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img)))
    keep = np.zeros_like(k)
    keep[4:12, 4:12] = k[4:12, 4:12]
    expected = np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(keep))))
    np.testing.assert_allclose(low, expected, atol=1e-12)
    np.testing.assert_allclose(deg.lower_resolution_mr(img, 1), img, atol=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: deg.load_slices("lung3", 0), "volume"),
    (lambda: deg.load_slices("lung2", 61), "slices"),
    (lambda: deg.load_slices("lung2", 0, size=100), "size"),
    (lambda: deg.simulate_low_dose_ct(np.zeros((4, 5)), 1e4, 0, pixel_mm=1), "hu"),
    (lambda: deg.simulate_low_dose_ct(np.zeros((4, 4)), 0.5, 0, pixel_mm=1), "i0"),
    (lambda: deg.simulate_low_dose_ct(np.zeros((4, 4)), 1e4, 0, pixel_mm=0), "pixel_mm"),
    (lambda: deg.low_dose_ct_pairs(1e4, 0, n_test=49), "n_test"),
    (lambda: deg.undersample_mr(np.zeros((8, 8)), 0.5, 0), "acceleration"),
    (lambda: deg.lower_resolution_mr(np.zeros((8, 8)), 9), "factor"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
