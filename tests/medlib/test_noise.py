"""medlib.noise against scipy.stats distributions and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import stats

from medlib import noise


@pytest.mark.formula("noise.gaussian")
def test_gaussian_noise_has_the_requested_mean_and_spread():
    x = np.full(200_000, 5.0)
    y = noise.add_gaussian_noise(x, 2.0, rng=1)
    assert abs(y.mean() - 5.0) < 0.02          # standard error 2 / sqrt(2e5) = 0.0045
    assert abs(y.std() - 2.0) < 0.02
    assert stats.kstest(y - 5.0, stats.norm(scale=2.0).cdf).pvalue > 1e-3


@pytest.mark.formula("noise.gaussian")
def test_gaussian_noise_on_complex_data_is_independent_per_channel():
    y = noise.add_gaussian_noise(np.zeros(100_000, complex), 1.0, rng=2)
    assert abs(y.real.std() - 1) < 0.02 and abs(y.imag.std() - 1) < 0.02
    assert abs(np.corrcoef(y.real, y.imag)[0, 1]) < 0.02


def test_noise_is_reproducible_with_a_seed_and_a_generator():
    x = np.zeros(10)
    np.testing.assert_array_equal(noise.add_gaussian_noise(x, 1.0, rng=7),
                                  noise.add_gaussian_noise(x, 1.0, rng=np.random.default_rng(7)))
    assert not np.array_equal(noise.add_gaussian_noise(x, 1.0, rng=7),
                              noise.add_gaussian_noise(x, 1.0, rng=8))


@pytest.mark.formula("noise.poisson")
@pytest.mark.parametrize("lam", [0.5, 4.0, 100.0])
def test_poisson_counts_follow_scipys_pmf_and_variance_equals_mean(lam):
    y = noise.poisson_noise(np.full(100_000, lam), rng=3)
    assert y.dtype == np.float64 and np.all(y == np.round(y)) and y.min() >= 0
    assert abs(y.mean() - lam) < 5 * np.sqrt(lam / y.size)
    assert abs(y.var() / y.mean() - 1) < 0.03
    # Chi-square goodness of fit against scipy's pmf, tails pooled into the end bins.
    lo, hi = stats.poisson.ppf([1e-4, 1 - 1e-4], lam).astype(int)
    observed = np.bincount(np.clip(y.astype(int), lo, hi) - lo, minlength=hi - lo + 1)
    k = np.arange(lo, hi + 1)
    expected = stats.poisson.pmf(k, lam)
    expected[0], expected[-1] = stats.poisson.cdf(lo, lam), stats.poisson.sf(hi - 1, lam)
    assert stats.chisquare(observed, expected * y.size / expected.sum()).pvalue > 1e-3


@pytest.mark.formula("noise.poisson")
def test_poisson_of_zero_is_zero():
    assert np.all(noise.poisson_noise(np.zeros(5), rng=0) == 0)


@pytest.mark.formula("noise.snr")
def test_poisson_noise_of_a_scalar_is_a_0d_array():
    # issue 11, group 4: poisson_noise(5.0, rng=0) raised AttributeError ('int' has no astype).
    y = noise.poisson_noise(5.0, rng=0)
    assert isinstance(y, np.ndarray) and y.shape == () and y.dtype == np.float64
    assert y == np.random.default_rng(0).poisson(5.0)
    assert noise.poisson_noise(np.float32(0.0), 1).shape == ()


def test_snr_of_poisson_counts_is_the_square_root_of_the_mean():
    for lam in (25.0, 400.0):
        y = noise.poisson_noise(np.full(50_000, lam), rng=4)
        assert noise.snr(y) == pytest.approx(np.sqrt(lam), rel=0.02)


@pytest.mark.formula("noise.snr")
def test_snr_of_additive_gaussian_noise_is_signal_over_sigma():
    y = noise.add_gaussian_noise(np.full((4, 40_000), 30.0), 3.0, rng=5)
    np.testing.assert_allclose(noise.snr(y, axis=1), 10.0, rtol=0.02)
    ref = y.mean(axis=1) / y.std(axis=1, ddof=1)
    np.testing.assert_allclose(noise.snr(y, axis=1), ref)


def test_snr_is_infinite_without_spread():
    assert noise.snr(np.full(10, 3.0)) == np.inf


@pytest.mark.formula("noise.rician")
@pytest.mark.parametrize("nu", [0.0, 0.7, 3.0, 25.0])
def test_rician_pdf_matches_scipy(nu):
    m = np.linspace(0, nu + 8, 300)
    np.testing.assert_allclose(noise.rician_pdf(m, nu, 1.3), stats.rice.pdf(m, nu / 1.3,
                               scale=1.3), atol=1e-12)


@pytest.mark.formula("noise.rician")
@pytest.mark.parametrize("nu", [0.0, 0.5, 2.0, 10.0, 60.0])
def test_rician_mean_matches_scipy(nu):
    assert noise.rician_mean(nu, 2.0) == pytest.approx(stats.rice.mean(nu / 2.0, scale=2.0),
                                                       rel=1e-12)


@pytest.mark.formula("noise.rician")
def test_rician_mean_stays_finite_where_scipys_overflows():
    # scipy's closed form overflows near nu / sigma = 200; the scaled Bessel form does not.
    np.testing.assert_allclose(noise.rician_mean(300.0, 1.0), np.sqrt(300.0**2 + 1.0), rtol=1e-6)
    assert noise.rician_mean(0.0, 1.0) == pytest.approx(np.sqrt(np.pi / 2))


@pytest.mark.formula("noise.rician")
def test_rician_magnitudes_follow_the_rice_distribution():
    y = noise.rician_magnitude(np.full(50_000, 2.0), 1.0, rng=6)
    assert stats.kstest(y, stats.rice(2.0, scale=1.0).cdf).pvalue > 1e-3
    assert y.mean() == pytest.approx(noise.rician_mean(2.0, 1.0), rel=0.01)


@pytest.mark.formula("noise.rician")
def test_sigma_from_background_recovers_sigma_where_std_does_not():
    background = noise.rician_magnitude(np.zeros(100_000), 4.0, rng=9)
    assert noise.sigma_from_background(background) == pytest.approx(4.0, rel=0.01)
    assert background.std() == pytest.approx(4.0 * np.sqrt(2 - np.pi / 2), rel=0.01)


@pytest.mark.formula("noise.nps")
def test_nps_of_white_noise_is_flat_at_variance_times_pixel_area(rng):
    # Closed form: white noise of variance s^2 on pixels dy x dx has NPS = s^2 dy dx at every
    # frequency but 0, which the per-ROI mean subtraction sets to exactly 0.
    s, dy, dx = 2.0, 0.5, 0.8
    f, nps, nps_2d = noise.noise_power_spectrum(rng.normal(3.0, s, (400, 32, 32)), (dy, dx))
    assert f[0] == 0 and nps[0] == pytest.approx(0, abs=1e-20)
    np.testing.assert_allclose(nps[1:], s**2 * dy * dx, rtol=0.03)
    np.testing.assert_allclose(f[1:], np.arange(1, f.size) / (32 * dy), rtol=0.1)
    assert f[-1] == pytest.approx(1 / (2 * dx), rel=0.1)      # up to the lower Nyquist limit
    assert nps_2d.shape == (32, 32) and nps_2d[16, 16] == pytest.approx(0, abs=1e-20)


@pytest.mark.formula("noise.nps")
def test_nps_integrates_to_the_pixel_variance(rng):
    rois = rng.normal(size=(5, 24, 40)).cumsum(axis=2)        # strongly correlated noise
    dy, dx = 0.7, 1.3
    _, _, nps_2d = noise.noise_power_spectrum(rois, (dy, dx))
    integral = nps_2d.sum() / (24 * dy) / (40 * dx)
    assert integral == pytest.approx(rois.var(axis=(1, 2)).mean(), rel=1e-12)


def test_nps_of_neighbour_sum_follows_the_filters_transfer_function(rng):
    # y[n] = x[n] + x[n - 1] (circular, along x) has |H(f)|^2 = 2 + 2 cos(2 pi f dx).
    s, d = 1.5, 0.6
    white = rng.normal(0.0, s, (300, 32, 32))
    summed = white + np.roll(white, 1, axis=2)
    _, _, nps_2d = noise.noise_power_spectrum(summed, d)
    fx = np.fft.fftshift(np.fft.fftfreq(32, d))
    expected = s**2 * d * d * (2 + 2 * np.cos(2 * np.pi * fx * d))
    along_x = np.delete(nps_2d, 16, axis=0).mean(axis=0)     # rows with f_y != 0
    np.testing.assert_allclose(along_x, expected, rtol=0.05, atol=0.01 * expected.max())


def test_nps_of_one_roi_equals_the_stack_of_one_and_bins_can_be_chosen(rng):
    roi = rng.normal(size=(16, 16))
    for a, b in zip(noise.noise_power_spectrum(roi), noise.noise_power_spectrum(roi[None])):
        np.testing.assert_array_equal(a, b)
    f, nps, _ = noise.noise_power_spectrum(roi, 2.0, n_bins=4)
    assert f.shape == nps.shape == (4,)
    assert np.all(np.diff(f) > 0) and f[-1] <= 0.25 * np.sqrt(2)


def test_rician_pdf_at_a_tiny_sigma_is_finite_and_scales():
    # issue 11, group 5: sigma^2 underflowed to 0 and the density became NaN below ~1e-154.
    s, nu = 1e-170, 2.5e-170
    m = np.linspace(0.0, 8.0, 17) * s
    p = noise.rician_pdf(m, nu, s)
    assert np.all(np.isfinite(p))
    # p(m; nu, sigma) = p(m / sigma; nu / sigma, 1) / sigma, with SciPy at sigma = 1
    np.testing.assert_allclose(p * s, stats.rice.pdf(m / s, nu / s), rtol=1e-10, atol=1e-300)
    # Very high SNR: the density at m = nu tends to sqrt(m / nu) / (sigma sqrt(2 pi)).
    assert noise.rician_pdf(1.0, 1.0, 1e-160) == pytest.approx(
        1 / (np.sqrt(2 * np.pi) * 1e-160), rel=1e-12)


def test_rician_pdf_matches_scipy_over_many_scales():
    m = np.linspace(0.0, 6.0, 25)
    for s in (1e-3, 0.05, 1.0, 40.0):
        np.testing.assert_allclose(noise.rician_pdf(m, 1.5, s), stats.rice.pdf(m, 1.5 / s, scale=s),
                                   rtol=1e-9, atol=1e-300)


# issue 11, group 6: a wrong axis gave IndexError/TypeError from inside NumPy.
AXIS_CALLS = [
    (noise.snr, (np.ones((3, 4)),), {"axis": 5}, ValueError, r"axis must be in \[-2, 1\]"),
    (noise.snr, (np.ones((3, 4)),), {"axis": 1.5}, TypeError, "axis must be an integer"),
    (noise.snr, (np.ones((3, 4)),), {"axis": "0"}, TypeError, "axis must be an integer"),
]

test_a_wrong_axis_is_named = bad_input_test(AXIS_CALLS)


def test_snr_accepts_a_negative_axis():
    x = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 9.0]])
    np.testing.assert_allclose(noise.snr(x, axis=-1), [2.0 / 1.0, 5.0 / np.sqrt(13.0)])


BAD_CALLS = [
    (noise.add_gaussian_noise, (np.ones(3), -1.0, 0), {}, ValueError, "sigma"),
    (noise.add_gaussian_noise, (np.ones(3), 1.0, None), {}, TypeError, "rng"),
    (noise.add_gaussian_noise, (np.ones(3), 1.0, 1.5), {}, TypeError, "rng"),
    (noise.add_gaussian_noise, ([1.0, np.nan], 1.0, 0), {}, ValueError, "finite"),
    (noise.poisson_noise, ([1.0, -2.0], 0), {}, ValueError, ">= 0"),
    (noise.poisson_noise, ([1.0, np.inf], 0), {}, ValueError, "finite"),
    (noise.rician_magnitude, ([-1.0], 1.0, 0), {}, ValueError, "magnitude"),
    (noise.rician_pdf, ([1.0], 1.0, 0.0), {}, ValueError, "sigma"),
    (noise.rician_pdf, ([1.0], -1.0, 1.0), {}, ValueError, "nu"),
    (noise.rician_mean, (-1.0, 1.0), {}, ValueError, "nu"),
    (noise.sigma_from_background, ([1.0],), {}, ValueError, "at least 2"),
    (noise.sigma_from_background, ([1.0, -1.0],), {}, ValueError, ">= 0"),
    (noise.snr, ([1.0],), {}, ValueError, "at least 2"),
    (noise.noise_power_spectrum, (np.ones(8),), {}, ValueError, "rois"),
    (noise.noise_power_spectrum, (np.ones((3, 8, 1)),), {}, ValueError, "at least 2"),
    (noise.noise_power_spectrum, (np.ones((8, 8)) * 1j,), {}, TypeError, "rois"),
    (noise.noise_power_spectrum, (np.ones((8, 8)), -1.0), {}, ValueError, "spacing_mm"),
    (noise.noise_power_spectrum, (np.ones((8, 8)), (1, 1, 1)), {}, ValueError, "spacing_mm"),
    (noise.noise_power_spectrum, (np.ones((8, 8)),), {"n_bins": 0}, ValueError, "n_bins"),
    (noise.noise_power_spectrum, (np.ones((8, 8)),), {"n_bins": 2.5}, TypeError, "n_bins"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: extreme but finite values are computed stably or refused by name
ISSUE_11_CALLS = [
    (noise.poisson_noise, ([1.0, 1e300], 0), {}, ValueError, "^expected must be <= 1e"),
    (noise.noise_power_spectrum, (np.ones((8, 8)),), {"n_bins": 2 ** 63}, ValueError,
     "^n_bins must be <= 64"),
    (noise.noise_power_spectrum, (np.ones((6, 6)),), {"n_bins": 8}, ValueError,
     "^n_bins=8 is more radial bins"),
    (noise.noise_power_spectrum, (np.ones((8, 8)), 1e300), {}, ValueError, "^spacing_mm"),
    (noise.noise_power_spectrum, (np.ones((8, 8)), 1e-300), {}, ValueError, "^spacing_mm"),
]

test_issue_11_extreme_values_are_refused_by_name = bad_input_test(ISSUE_11_CALLS)


def test_rician_mean_is_finite_at_extreme_snr():
    assert noise.rician_mean(1e300, 1.0) == 1e300                      # sqrt(nu^2 + s^2)
    assert noise.rician_mean(3.0, 1e-300) == 3.0
    assert noise.rician_mean(0.0, 1e300) == pytest.approx(1e300 * np.sqrt(np.pi / 2))  # Rayleigh
    from scipy import stats
    for snr in (0.5, 3.0, 30.0):
        assert noise.rician_mean(snr * 2.0, 2.0) == pytest.approx(
            stats.rice.mean(snr, scale=2.0), rel=1e-9)
    below, above = noise.rician_mean(np.array([1.999e6, 2.001e6]), 1.0)   # the switch at 2e6
    assert below == pytest.approx(np.hypot(1.999e6, 1.0), rel=1e-13)
    assert above == np.hypot(2.001e6, 1.0)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged):
    x = np.linspace(0, 10, 20)
    assert_inputs_unchanged(noise.add_gaussian_noise, x, 1.0, 0)
    assert_inputs_unchanged(noise.poisson_noise, x, 0)
    assert_inputs_unchanged(noise.rician_magnitude, x, 1.0, 0)
    assert_inputs_unchanged(noise.rician_pdf, x, 2.0, 1.0)
    assert_inputs_unchanged(noise.rician_mean, x, 1.0)
    assert_inputs_unchanged(noise.sigma_from_background, x)
    assert_inputs_unchanged(noise.snr, x)
    assert_inputs_unchanged(noise.noise_power_spectrum, x.reshape(4, 5), [0.5, 0.7])


def test_snr_of_a_scalar_names_samples_even_with_an_axis():
    with pytest.raises(ValueError, match="samples must be an array"):
        noise.snr(3.0, axis=0)
