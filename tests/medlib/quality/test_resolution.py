"""medlib.quality.resolution (section 10.1) against closed forms and SciPy."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import ndimage, stats
from scipy.special import ndtr

from medlib.quality import resolution as R


def slanted_edge(sigma_px=0.6, angle_deg=5.0, shape=(100, 64), low=100.0, high=1000.0):
    """A point-sampled edge blurred by a Gaussian: the error function across a tilted line."""
    ny, nx = shape
    y, x = np.mgrid[:ny, :nx].astype(float)
    th = np.deg2rad(angle_deg)
    d = ((x - nx / 2) - (y - ny / 2) * np.tan(th)) * np.cos(th)
    return low + (high - low) * ndtr(d / sigma_px)


BAD_INPUT_CALLS = {
    "quality.resolution.gaussian_mtf": Entry(lambda: C(np.linspace(0, 2, 5), 0.3)),
    "quality.resolution.line_spread_function": Entry(
        lambda: C(np.outer(np.hanning(7), np.hanning(9)), 0.5, axis=0)),
    "quality.resolution.mtf_from_lsf": Entry(lambda: C(np.hanning(9), 0.5)),
    "quality.resolution.mtf_frequency": Entry(
        lambda: C(np.linspace(0, 1, 6), np.linspace(1, 0, 6), 0.5)),
    "quality.resolution.edge_spread_function": Entry(
        lambda: C(slanted_edge(angle_deg=10.0, shape=(12, 20)), 0.5, oversampling=4)),
    "quality.resolution.slanted_edge_mtf": Entry(
        lambda: C(slanted_edge(angle_deg=10.0, shape=(12, 20)), 0.5, oversampling=4, correct=True)),
}


@pytest.mark.formula("quality.gaussian-mtf")
def test_gaussian_mtf_is_the_fourier_transform_of_a_gaussian():
    dx, sigma = 0.05, 0.4
    x = (np.arange(512) - 256) * dx
    lsf = stats.norm.pdf(x, scale=sigma)
    f = np.fft.rfftfreq(512, dx)
    numeric = np.abs(np.fft.rfft(lsf)) * dx          # the continuous transform, numerically
    np.testing.assert_allclose(R.gaussian_mtf(f, sigma), numeric, atol=1e-9)
    f10 = np.sqrt(np.log(10) / 2) / (np.pi * sigma)
    assert R.gaussian_mtf(f10, sigma) == pytest.approx(0.1, rel=1e-12)
    assert R.mtf_frequency(f, R.gaussian_mtf(f, sigma), 0.1) == pytest.approx(f10, rel=2e-3)


@pytest.mark.formula("quality.lsf")
def test_lsf_of_a_gaussian_psf_is_the_one_dimensional_gaussian():
    dy, dx, sigma = 0.2, 0.1, 0.5
    y = (np.arange(101) - 50) * dy
    x = (np.arange(81) - 40) * dx
    psf = stats.norm.pdf(y, scale=sigma)[:, None] * stats.norm.pdf(x, scale=sigma)[None, :]
    np.testing.assert_allclose(R.line_spread_function(psf, (dy, dx), axis=0),
                               stats.norm.pdf(x, scale=sigma), rtol=1e-6)
    np.testing.assert_allclose(R.line_spread_function(psf, (dy, dx), axis=1),
                               stats.norm.pdf(y, scale=sigma), rtol=1e-6)


@pytest.mark.formula("quality.mtf")
def test_mtf_of_a_box_lsf_is_a_sinc():
    dx, width = 0.1, 10                              # a 1 mm wide box of 10 samples
    lsf = np.zeros(400)
    lsf[195:205] = 1.0
    f, mtf = R.mtf_from_lsf(lsf, dx)
    assert f[-1] == pytest.approx(1 / (2 * dx))
    # the DFT of a discrete box: the Dirichlet kernel |sin(pi f W) / (W sin(pi f dx))|
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.abs(np.sin(np.pi * f * width * dx) / (width * np.sin(np.pi * f * dx)))
    expected[0] = 1.0
    np.testing.assert_allclose(mtf, expected, atol=1e-12)
    # the sampled box approximates the continuous one: |sinc(f * 1 mm)| at low frequencies
    low = f < 1.0
    np.testing.assert_allclose(mtf[low], np.abs(np.sinc(f[low] * 1.0)), atol=0.02)


@pytest.mark.formula("quality.slanted-edge")
def test_slanted_edge_mtf_of_a_gaussian_blur_within_five_percent_up_to_nyquist(rng):
    dx, sigma_px = 0.15, 0.6
    for angle in [3.0, 5.0, -7.0]:
        noisy = slanted_edge(sigma_px, angle) + rng.normal(0, 10.0, (100, 64))
        f, mtf = R.slanted_edge_mtf(noisy, dx)
        nyq = f <= 1 / (2 * dx) + 1e-9
        err = np.abs(mtf - R.gaussian_mtf(f, sigma_px * dx))[nyq]
        assert err.max() <= 0.05, (angle, err.max())
        _, _, theta = R.edge_spread_function(noisy, dx)
        assert np.rad2deg(theta) == pytest.approx(angle, abs=0.2)


def test_uncorrected_slanted_edge_mtf_is_low_by_the_derivative_and_bin_sincs():
    image = slanted_edge(0.6, 5.0, shape=(200, 64))
    f, corrected = R.slanted_edge_mtf(image, 1.0)
    _, raw = R.slanted_edge_mtf(image, 1.0, correct=False)
    h = 0.25
    np.testing.assert_allclose(raw / corrected, np.sinc(f * h) * np.sinc(2 * f * h), rtol=1e-12)
    assert np.interp(0.5, f, raw / corrected) == pytest.approx(0.877, abs=0.002)
    # against the truth (not the code's own factor): on a sharp edge (sigma 0.3 pixel) the
    # uncorrected MTF misses the analytic one by more than 0.05 below Nyquist, the corrected
    # one by less than 0.01
    sharp = slanted_edge(0.3, 5.0, shape=(200, 64))
    f, corrected = R.slanted_edge_mtf(sharp, 1.0)
    _, raw = R.slanted_edge_mtf(sharp, 1.0, correct=False)
    truth = R.gaussian_mtf(f, 0.3)
    below = f <= 0.5
    assert np.abs(raw - truth)[below].max() > 0.05
    assert np.abs(corrected - truth)[below].max() < 0.01


def test_horizontal_edge_and_scipy_blur_agree():
    # an ideal edge on a fine grid, blurred by scipy's Gaussian filter, then binned to pixels
    fine = slanted_edge(1e-3, 4.0, shape=(120 * 4, 64 * 4))
    blurred = ndimage.gaussian_filter(fine, 0.7 * 4, mode="nearest")
    image = blurred[2::4, 2::4]                      # point samples at pixel centres
    f, mtf = R.slanted_edge_mtf(image, 1.0)
    ft, mtf_t = R.slanted_edge_mtf(image.T.copy(), 1.0)
    np.testing.assert_allclose(mtf_t, mtf, atol=1e-12)
    nyq = f <= 0.5
    assert np.abs(mtf - R.gaussian_mtf(f, 0.7))[nyq].max() < 0.03


def test_functions_leave_inputs_unchanged(assert_inputs_unchanged):
    image = slanted_edge()
    assert_inputs_unchanged(R.slanted_edge_mtf, image, 0.2)
    assert_inputs_unchanged(R.line_spread_function, np.ones((4, 5)), (1.0, 2.0))


@pytest.mark.parametrize("image, match", [
    (np.full((40, 40), 3.0), "image is constant"),
    (slanted_edge(angle_deg=0.0, shape=(40, 40)), "must move at least 1 pixel"),
    (slanted_edge(shape=(4, 40)), "at least 8 rows"),
])
def test_bad_edges_are_refused_by_name(image, match):
    with pytest.raises(ValueError, match=match):
        R.slanted_edge_mtf(image)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="oversampling"):
        R.slanted_edge_mtf(slanted_edge(), oversampling=0)
    with pytest.raises(TypeError, match="correct"):
        R.slanted_edge_mtf(slanted_edge(), correct=1)
    with pytest.raises(ValueError, match="lsf sums to 0"):
        R.mtf_from_lsf([1.0, -1.0])
    with pytest.raises(ValueError, match="sigma_mm"):
        R.gaussian_mtf([0.1], -1.0)
    with pytest.raises(ValueError, match="level"):
        R.mtf_frequency([0, 1], [1, 0], 1.5)
