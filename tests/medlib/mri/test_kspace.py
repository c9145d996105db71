"""medlib.mri.kspace against independent references: explicit DFT sums and analytic Fourier
transforms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy.special import sici

from medlib import mri

# --- k-space ------------------------------------------------------------------------------------

@pytest.mark.formula("mri.kspace-discrete")
@pytest.mark.parametrize("shape", [(16, 12), (15, 9)])
def test_forward_equals_the_centred_dft_sum(shape, rng):
    img = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    dy, dx = 0.8, 1.3
    s = mri.kspace_forward(img, (dy, dx))
    y = mri.image_coordinates(shape[0], dy)[:, None]
    x = mri.image_coordinates(shape[1], dx)[None, :]
    ky = mri.kspace_coordinates(shape[0], dy)
    kx = mri.kspace_coordinates(shape[1], dx)
    for m, n in [(0, 0), (shape[0] // 2, shape[1] // 2), (3, 7), (shape[0] - 1, 1)]:
        ref = dy * dx * np.sum(img * np.exp(-2j * np.pi * (ky[m] * y + kx[n] * x)))
        assert s[m, n] == pytest.approx(ref, abs=1e-12)



@pytest.mark.formula("mri.fov-aliasing")
def test_kspace_coordinates_are_the_shifted_fft_frequencies_with_step_one_over_fov():
    for n, d in [(8, 0.5), (9, 2.0), (256, 0.9)]:
        k = mri.kspace_coordinates(n, d)
        np.testing.assert_allclose(k, np.fft.fftshift(np.fft.fftfreq(n, d)), atol=1e-15)
        np.testing.assert_allclose(np.diff(k), 1 / (n * d))
        assert k[n // 2] == 0 and mri.image_coordinates(n, d)[n // 2] == 0



@pytest.mark.formula("mri.signal-equation")
def test_forward_transform_of_a_gaussian_is_the_analytic_integral():
    # integral of exp(-(x^2+y^2)/(2 s^2)) exp(-j 2 pi k.x) = 2 pi s^2 exp(-2 pi^2 s^2 |k|^2)
    n, d, s = 128, 0.25, 2.0
    x = mri.image_coordinates(n, d)
    img = np.exp(-(x[:, None] ** 2 + (x[None, :] - 1.5) ** 2) / (2 * s**2))   # off-centre in x
    k = mri.kspace_coordinates(n, d)
    ref = 2 * np.pi * s**2 * np.exp(-2 * np.pi**2 * s**2 * (k[:, None] ** 2 + k[None, :] ** 2)) \
        * np.exp(-2j * np.pi * k[None, :] * 1.5)
    np.testing.assert_allclose(mri.kspace_forward(img, d), ref, atol=1e-10)



@pytest.mark.formula("mri.inverse-fourier")
def test_inverse_transform_of_the_analytic_spectrum_is_the_gaussian():
    n, d, s = 128, 0.25, 2.0
    k = mri.kspace_coordinates(n, d)
    spectrum = 2 * np.pi * s**2 * np.exp(-2 * np.pi**2 * s**2 * (k[:, None] ** 2 + k[None, :] ** 2))
    x = mri.image_coordinates(n, d)
    ref = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * s**2))
    np.testing.assert_allclose(mri.kspace_inverse(spectrum, d), ref, atol=1e-10)



@pytest.mark.formula("mri.ifft-recon")
@pytest.mark.parametrize("shape", [(64, 48), (33, 17), (8, 9, 10), (7,)])
def test_round_trip_is_exact(shape, rng):
    img = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    back = mri.kspace_inverse(mri.kspace_forward(img, 0.7), 0.7)
    assert np.max(np.abs(back - img)) < 1e-12
    assert back.dtype == np.complex128



@pytest.mark.formula("mri.ifft-recon", "mri.kspace-discrete")
def test_centred_point_has_flat_real_kspace_and_forgetting_the_shift_gives_a_checkerboard():
    img = np.zeros((8, 8))
    img[4, 4] = 1.0                             # x = 0 by the centring convention
    s = mri.kspace_forward(img, 0.5)
    np.testing.assert_allclose(s, 0.25, atol=1e-15)
    naive = np.fft.fftshift(np.fft.fft2(img))   # no ifftshift before the FFT
    i, j = np.indices(img.shape)
    np.testing.assert_allclose(naive, (-1.0) ** (i + j), atol=1e-12)



@pytest.mark.formula("mri.fov-aliasing")
@pytest.mark.parametrize("offset, sign", [(0, 1.0), (1, -1.0)])
def test_half_fov_undersampling_shifts_a_copy_by_half_the_field_of_view(offset, sign, rng):
    img = rng.normal(size=(64, 40))
    s = mri.kspace_forward(img)
    mask = mri.regular_mask(s.shape, 2, axis=0, offset=offset)
    assert mask.sum() == 32 * 40
    recon = mri.kspace_inverse(s * mask)
    expected = 0.5 * (img + sign * np.roll(img, 32, axis=0))
    np.testing.assert_allclose(recon, expected, atol=1e-12)
    # along the other axis nothing happens
    maskx = mri.regular_mask(s.shape, 2, axis=1)
    np.testing.assert_allclose(mri.kspace_inverse(s * maskx),
                               0.5 * (img + np.roll(img, 20, axis=1)), atol=1e-12)



@pytest.mark.formula("mri.fov-aliasing")
def test_decimated_kspace_reconstructs_the_folded_image_on_a_smaller_fov(rng):
    img = rng.normal(size=(60, 20))
    small = mri.decimate_kspace(mri.kspace_forward(img), 3, axis=0)
    assert small.shape == (20, 20)
    folded = mri.kspace_inverse(small)
    # centred coordinates: row y_n = n - 30 in the full image, y'_n = n - 10 in the small one
    y = np.arange(60) - 30
    expected = np.zeros((20, 20))
    for n in range(60):
        expected[(y[n] + 10) % 20] += img[n]
    np.testing.assert_allclose(folded, expected, atol=1e-12)



def test_regular_mask_keeps_the_centre_lines():
    m = mri.regular_mask((32, 4), 4, center_lines=8)
    rows = np.flatnonzero(m[:, 0])
    assert set(range(12, 20)) <= set(rows)
    assert m[16].all() and m.shape == (32, 4) and m.dtype == bool



def test_random_mask_is_reproducible_and_has_the_requested_line_count():
    a = mri.random_mask((100, 8), 4, rng=5, center_lines=10)
    b = mri.random_mask((100, 8), 4, rng=np.random.default_rng(5), center_lines=10)
    np.testing.assert_array_equal(a, b)
    assert a[:, 0].sum() == 25 and a[45:55, 0].all()



@pytest.mark.parametrize("n", [65, 64])
def test_zero_filling_interpolates_without_changing_the_original_samples(n, rng):
    img = rng.normal(size=(n, n))
    s = mri.kspace_forward(img)
    if n % 2 == 0:
        s[0, :] = 0.0     # an even grid's Nyquist line has no partner on the larger grid
        s[:, 0] = 0.0
        img = mri.kspace_inverse(s).real
    big = mri.zero_fill(s, (2 * n, 2 * n))
    fine = mri.kspace_inverse(big, 0.5)
    start = 1 if n % 2 else 0
    np.testing.assert_allclose(fine[start::2, start::2], img, atol=1e-12)




def test_truncation_overshoot_sampled_by_zero_filling_is_the_gibbs_constant():
    # A box of width FOV/2 (analytic k-space), M samples kept, zero-filled 64-fold so that the
    # first lobe of the ringing is sampled: its overshoot is Si(pi)/pi - 1/2 of the jump.
    gibbs = sici(np.pi)[0] / np.pi - 0.5
    fov = 100.0
    for keep in (63, 255, 1023):
        k = mri.kspace_coordinates(keep, fov / keep)
        box = fov / 2 * np.sinc(k * fov / 2)
        up = 64 * keep
        ring = mri.kspace_inverse(mri.zero_fill(box, (up,)), fov / up).real
        assert ring.max() - 1.0 == pytest.approx(gibbs, abs=2e-4)
        assert ring.min() == pytest.approx(-gibbs, abs=2e-4)

def test_crop_truncate_and_zero_fill_compose(rng):
    s = rng.normal(size=(32, 30)) + 1j * rng.normal(size=(32, 30))
    t = mri.truncate_kspace(s, (16, 10))
    np.testing.assert_array_equal(t, mri.zero_fill(mri.crop_kspace(s, (16, 10)), s.shape))
    assert t[16, 15] == s[16, 15] and t[0, 0] == 0 and t.shape == s.shape
    np.testing.assert_array_equal(mri.crop_kspace(mri.zero_fill(s, (40, 41)), s.shape), s)



@pytest.mark.formula("mri.hermitian-symmetry")
@pytest.mark.parametrize("shape", [(64, 64), (63, 50)])
def test_partial_fourier_of_a_real_image_is_recovered_exactly(shape, rng):
    img = rng.normal(size=shape)
    s = mri.kspace_forward(img)
    mask = mri.partial_fourier_mask(shape, 5 / 8)
    filled = mri.hermitian_fill(s * mask, mask)
    np.testing.assert_allclose(filled, s, atol=1e-12)
    np.testing.assert_allclose(mri.kspace_inverse(filled), img, atol=1e-12)



@pytest.mark.parametrize("fraction", [5 / 8, 3 / 4])
def test_zero_filled_partial_fourier_widens_the_psf_by_one_over_the_fraction(fraction):
    # |PSF| of the measured lines (a one-sided window of fraction * N lines), resolved on a
    # 16x finer grid: its FWHM is 1 / fraction times that of full sampling; the Hermitian fill
    # of a real object restores it.
    n, up = 256, 16
    point = np.zeros(n)
    point[n // 2] = 1.0
    s = mri.kspace_forward(point)
    mask = mri.partial_fourier_mask((n,), fraction)

    def fwhm(k_line):
        prof = np.abs(mri.kspace_inverse(mri.zero_fill(k_line, (n * up,)), 1 / up))
        half = np.flatnonzero(prof >= 0.5 * prof.max())
        return (half[-1] - half[0] + 1) / up

    full = fwhm(s)
    assert fwhm(s * mask) / full == pytest.approx(1 / fraction, rel=0.04)
    assert fwhm(mri.hermitian_fill(s * mask, mask)) == pytest.approx(full, abs=1 / up)

@pytest.mark.formula("mri.hermitian-symmetry")
def test_conjugate_symmetry_fails_for_an_image_with_phase(rng):
    img = rng.normal(size=(32, 32)) * np.exp(1j * np.linspace(0, 2, 32))[None, :]
    s = mri.kspace_forward(img)
    mask = mri.partial_fourier_mask(s.shape, 0.6)
    recon = mri.kspace_inverse(mri.hermitian_fill(s * mask, mask))
    assert np.max(np.abs(recon - img)) > 0.1



# --- Bad input, purity ------------------------------------------------------------------------

# issue 11, group 8: errors named an internal argument, or came from NumPy unnamed.
NAMED_CALLS = [
    (mri.truncate_kspace, (np.ones((4, 4)), (5, 2)), {}, ValueError,
     r"^keep_shape \(5, 2\) must not exceed"),
    (mri.truncate_kspace, (np.ones((4, 4)), (2, 2, 2)), {}, ValueError,
     "^keep_shape must have 2 entries"),
    (mri.truncate_kspace, (np.ones((4, 4)), 2.5), {}, TypeError, "^keep_shape must be an int"),
    (mri.crop_kspace, (np.ones((4, 4)), "2"), {}, TypeError, "^shape must be an int"),
]

test_errors_name_the_callers_argument = bad_input_test(NAMED_CALLS)


# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (mri.random_mask, ((16, 16), 33, 0), {}, ValueError,
     "acceleration must be at most the 16 lines along axis 0"),
    (mri.random_mask, ((8, 16), 9.5, 0), {"axis": 0}, ValueError, "acceleration"),
    (mri.hermitian_fill, (np.ones((4, 4)), np.full((4, 4), np.nan)), {}, ValueError, "^mask"),
    (mri.hermitian_fill, (np.ones((4, 4)), np.full((4, 4), 0.5)), {}, ValueError,
     "^mask must be a boolean mask"),
    (mri.image_coordinates, (2**63,), {}, ValueError, "^n asks for an array"),
    (mri.kspace_coordinates, (2**63,), {}, ValueError, "^n asks for an array"),
    (mri.regular_mask, ((2**40, 2**40), 2), {}, ValueError, "^shape asks for an array"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


def test_random_mask_keeps_at_least_one_line_at_the_largest_acceleration():
    mask = mri.random_mask((16, 4), 16, 0)
    assert mask.any(axis=1).sum() == 1
    assert mri.random_mask((16, 4), 12.0, 1).any(axis=1).sum() == 1      # round(16 / 12)


BAD_CALLS = [
    (mri.kspace_forward, (np.ones((4, 4)), (1.0, 1.0, 1.0)), {}, ValueError, "spacing_mm"),
    (mri.kspace_forward, (np.ones((4, 4)), -1.0), {}, ValueError, "spacing_mm"),
    (mri.kspace_inverse, ([[1.0, np.nan]],), {}, ValueError, "finite"),
    (mri.regular_mask, ((8, 8), 0), {}, ValueError, "acceleration"),
    (mri.regular_mask, ((8, 8), 2), {"axis": 2}, ValueError, "axis"),
    (mri.random_mask, ((8, 8), 4, 0), {"center_lines": 4}, ValueError, "center_lines"),
    (mri.random_mask, ((8, 8), 2, None), {}, TypeError, "rng"),
    (mri.decimate_kspace, (np.ones((9, 4)), 2), {}, ValueError, "divisible"),
    (mri.decimate_kspace, (np.complex128(1.0), 2), {}, ValueError, "kspace must be an array"),
    (mri.decimate_kspace, (np.ones((8, 4)), 2), {"axis": 2}, ValueError, "axis"),
    (mri.crop_kspace, (np.ones((4, 4)), (5, 4)), {}, ValueError, "exceed"),
    (mri.zero_fill, (np.ones((4, 4)), (3, 4)), {}, ValueError, "smaller"),
    (mri.zero_fill, (np.ones((4, 4)), (8, 8, 8)), {}, ValueError, "shape"),
    (mri.partial_fourier_mask, ((8, 8), 0.3), {}, ValueError, "fraction"),
    (mri.hermitian_fill, (np.ones((4, 4)), np.ones((4, 3), bool)), {}, ValueError, "mask"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: a k-space of the wrong ndim is named (not only the shape compared with it), shape
# None is named, sizes of 2**63 are refused before allocation, and a spacing whose pixel area
# float64 cannot hold is refused instead of giving NaN
_K = np.ones((4, 4), complex)
ISSUE_11_CALLS = [
    (mri.crop_kspace, (5.0 + 0j, (2, 2)), {}, ValueError, "^kspace must be an array"),
    (mri.zero_fill, (5.0 + 0j, (6, 6)), {}, ValueError, "^kspace must be an array"),
    (mri.truncate_kspace, (5.0 + 0j, (2, 2)), {}, ValueError, "^kspace must be an array"),
    (mri.hermitian_fill, (5.0 + 0j, np.ones((4, 4), bool)), {}, ValueError,
     "^kspace must be an array"),
    (mri.crop_kspace, (np.ones((2, 4, 4)), (2, 2)), {}, ValueError,
     r"kspace \(shape \(2, 4, 4\)\)"),
    (mri.zero_fill, (np.ones((2, 4, 4)), (6, 6)), {}, ValueError,
     r"kspace \(shape \(2, 4, 4\)\)"),
    (mri.truncate_kspace, (np.ones((2, 4, 4)), (2, 2)), {}, ValueError,
     r"kspace \(shape \(2, 4, 4\)\)"),
    (mri.hermitian_fill, (np.ones((2, 4, 4)), np.ones((4, 4), bool)), {}, ValueError,
     r"kspace has shape \(2, 4, 4\)"),
    (mri.zero_fill, (_K, (2 ** 63, 4)), {}, ValueError, "^shape asks for an array"),
    (mri.regular_mask, (None, 2), {}, TypeError, "^shape must be"),
    (mri.random_mask, (None, 2.0, 0), {}, TypeError, "^shape must be"),
    (mri.partial_fourier_mask, (None, 0.6), {}, TypeError, "^shape must be"),
    (mri.regular_mask, ((8, 8), 2 ** 63), {}, ValueError, "^acceleration must be at most"),
    (mri.kspace_forward, (np.ones((4, 4)), 1e300), {}, ValueError, "^spacing_mm"),
    (mri.kspace_inverse, (_K, 1e-300), {}, ValueError, "^spacing_mm"),
]

test_issue_11_bad_kspace_input_is_named = bad_input_test(ISSUE_11_CALLS)


def test_regular_mask_offset_is_taken_modulo_the_acceleration():
    np.testing.assert_array_equal(mri.regular_mask((8, 4), 3, offset=2 ** 63 + 1),
                                  mri.regular_mask((8, 4), 3, offset=(2 ** 63 + 1) % 3))
    rows = np.flatnonzero(mri.regular_mask((8, 4), 3, offset=1)[:, 0])
    np.testing.assert_array_equal(rows, [2, 5])  # m = row - 4 with (m - 1) % 3 == 0


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    img = rng.normal(size=(16, 16))
    s = mri.kspace_forward(img)
    assert_inputs_unchanged(mri.kspace_forward, img, 0.5)
    assert_inputs_unchanged(mri.kspace_inverse, s, 0.5)
    assert_inputs_unchanged(mri.decimate_kspace, s, 2)
    assert_inputs_unchanged(mri.crop_kspace, s, (8, 8))
    assert_inputs_unchanged(mri.zero_fill, s, (20, 20))
    assert_inputs_unchanged(mri.truncate_kspace, s, (8, 8))
    mask = mri.partial_fourier_mask(s.shape, 0.6)
    assert_inputs_unchanged(mri.hermitian_fill, s * mask, mask)
