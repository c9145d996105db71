"""medlib.quality.noise_power (section 10.2) against closed forms, SciPy and scikit-image."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import ndimage
from skimage.transform import iradon

from medlib.quality import noise_power as N


def nps_2d(rois, dy, dx):
    """The NPS written out with NumPy (Siewerdsen 2002), for comparison."""
    d = rois - rois.mean(axis=(1, 2), keepdims=True)
    return np.fft.fftshift((np.abs(np.fft.fft2(d)) ** 2).mean(axis=0)) * dy * dx / (
        rois.shape[1] * rois.shape[2])


BAD_INPUT_CALLS = {
    "quality.noise_power.white_nps": Entry(lambda: C(2.0, (0.5, 0.8))),
    "quality.noise_power.transfer_function": Entry(lambda: C(np.ones((3, 3)) / 9, (8, 8))),
    "quality.noise_power.radial_average": Entry(
        lambda: C(np.arange(48.0).reshape(6, 8), (0.5, 0.4))),
    "quality.noise_power.filtered_nps": Entry(lambda: C(np.ones((8, 8)), np.ones((3, 3)) / 9)),
    "quality.noise_power.fbp_nps": Entry(
        lambda: C(np.linspace(0, 0.5, 6), 1.0, 90, "hann", interpolation=True)),
    "quality.noise_power.quantum_detector_image": Entry(
        lambda: C(500.0, (8, 8), 3, pixel_mm=0.2, efficiency=0.6, gain=2.0, blur_px=1.0,
                  electronic_sd=1.0)),
    "quality.noise_power.dqe": Entry(lambda: C(np.linspace(1, 0.2, 5), np.full(5, 0.3), 50.0, 1e3)),
    "quality.noise_power.detector_dqe": Entry(
        lambda: C(np.linspace(1, 0.2, 5), 0.7, 1e3, 0.2, gain=2.0, electronic_sd=1.0)),
    "quality.noise_power.noise_at_dose": Entry(lambda: C(10.0, 2.0, np.array([1.0, 4.0]))),
    "quality.noise_power.dose_noise_exponent": Entry(
        lambda: C(np.array([1.0, 2.0, 4.0]), np.array([4.0, 2.9, 2.0]))),
}


@pytest.mark.formula("quality.nps-white")
def test_white_noise_has_a_flat_nps_of_variance_times_pixel_area(rng):
    dy, dx, sigma = 0.5, 0.8, 3.0
    rois = rng.normal(0, sigma, (200, 32, 32))
    measured = nps_2d(rois, dy, dx)
    level = N.white_nps(sigma, (dy, dx))
    assert level == pytest.approx(sigma**2 * dy * dx)
    off_zero = np.ones((32, 32), bool)
    off_zero[16, 16] = False
    assert measured[off_zero].mean() == pytest.approx(level, rel=0.01)
    assert measured[off_zero].std() / level < 0.12       # flat up to estimation noise 1/sqrt(200)


@pytest.mark.formula("quality.nps-filter")
def test_filtered_nps_matches_scipy_filtered_noise_and_parseval(rng):
    kernel = np.outer([1, 4, 6, 4, 1], [1, 2, 1]).astype(float)
    kernel /= kernel.sum()
    white = rng.normal(0, 2.0, (300, 32, 32))
    filtered = np.stack([ndimage.convolve(w, kernel, mode="wrap") for w in white])
    measured = nps_2d(filtered, 1.0, 1.0)
    predicted = N.filtered_nps(np.full((32, 32), N.white_nps(2.0, 1.0)), kernel)
    band = predicted > 0.05 * predicted.max()
    assert np.median(measured[band] / predicted[band]) == pytest.approx(1.0, abs=0.03)
    # Parseval: the NPS integrates to sigma^2 sum k^2
    assert predicted.sum() / 32**2 == pytest.approx(4.0 * (kernel**2).sum(), rel=1e-12)


def test_radial_average_uses_the_bins_of_the_part_one_nps(rng):
    from medlib import noise
    rois = rng.normal(size=(5, 20, 16))
    f, nps, nps2d = noise.noise_power_spectrum(rois, (0.5, 0.7))
    fr, means = N.radial_average(nps2d, (0.5, 0.7))
    np.testing.assert_allclose(fr, f, rtol=1e-12)
    np.testing.assert_allclose(means, nps, rtol=1e-12)
    # a function of |f| alone averages to itself at the ring's mean radius (exact for |f|)
    fy = np.fft.fftshift(np.fft.fftfreq(32, 0.25))
    radius = np.hypot(fy[:, None], fy[None, :])
    fr, means = N.radial_average(radius, 0.25)
    np.testing.assert_allclose(means, fr, rtol=1e-12)


def test_transfer_function_is_the_dft_of_the_impulse_response():
    kernel = np.arange(15.0).reshape(3, 5)
    delta = np.zeros((16, 12))
    delta[0, 0] = 1.0
    impulse = ndimage.convolve(delta, kernel, mode="wrap")
    np.testing.assert_allclose(N.transfer_function(kernel, (16, 12)),
                               np.fft.fftshift(np.fft.fft2(impulse)), atol=1e-12)


@pytest.mark.formula("quality.nps-fbp")
def test_fbp_nps_matches_scikit_image_iradon_of_white_projection_noise(rng):
    n, n_angles, sigma_p = 96, 120, 2.0
    theta_deg = np.linspace(0, 180, n_angles, endpoint=False)
    rois = []
    for _ in range(24):
        sino = rng.normal(0, sigma_p, (n, n_angles))
        rois.append(iradon(sino, theta_deg, filter_name="ramp", circle=True)[24:72, 24:72])
    measured = nps_2d(np.array(rois), 1.0, 1.0)
    f = np.fft.fftshift(np.fft.fftfreq(48))
    radius = np.hypot(f[:, None], f[None, :])
    band = (radius > 0.06) & (radius < 0.35)
    ratio = measured[band].mean() / N.fbp_nps(radius[band], sigma_p, n_angles).mean()
    assert ratio == pytest.approx(1.0, abs=0.12)
    # the NPS rises with |f| at low frequency: ramp-shaped
    low = N.fbp_nps(np.array([0.05, 0.1]), 1.0, 100, interpolation=False)
    assert low[1] / low[0] == pytest.approx(2.0, rel=0.03)
    # Hann: the ramp's NPS times the squared window
    f = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(N.fbp_nps(f, 1.0, 10, "hann") / N.fbp_nps(f, 1.0, 10),
                               (0.5 + 0.5 * np.cos(np.pi * f / 0.5)) ** 2, rtol=1e-5)


@pytest.mark.formula("quality.dqe")
def test_dqe_of_an_ideal_counting_detector_is_one_and_the_closed_form(rng):
    q, a = 1500.0, 0.25
    counts = rng.poisson(q * a * a, (100, 32, 32)).astype(float)    # ideal: every quantum
    nps = nps_2d(counts, a, a)
    off_zero = np.ones((32, 32), bool)
    off_zero[16, 16] = False
    d = N.dqe(1.0, nps[off_zero], counts.mean(), q)
    assert d.mean() == pytest.approx(1.0, abs=0.02)
    assert N.dqe(0.5, 2.0, 10.0, 100.0) == pytest.approx(10.0**2 * 0.25 / (100.0 * 2.0))


@pytest.mark.formula("quality.dqe-detector")
def test_detector_dqe_matches_the_simulated_detector(rng):
    q, a, eta, g = 2000.0, 0.2, 0.6, 4.0
    for sd, blur in [(0.0, 1.0), (8.0, 0.0)]:
        images = np.stack([N.quantum_detector_image(q, (48, 48), rng, pixel_mm=a,
                                                    efficiency=eta, gain=g, blur_px=blur,
                                                    electronic_sd=sd) for _ in range(80)])
        assert images.mean() == pytest.approx(g * eta * q * a * a, rel=0.01)
        nps = nps_2d(images, a, a)
        kernel = N._clipped_kernel(blur, 48, 48) if blur else np.ones((1, 1))
        mtf = np.abs(N.transfer_function(kernel, (48, 48)))
        band = mtf > 0.3
        band[24, 24] = False
        measured = N.dqe(mtf[band], nps[band], images.mean(), q)
        model = N.detector_dqe(mtf[band], eta, q, a, gain=g, electronic_sd=sd)
        assert np.median(measured / model) == pytest.approx(1.0, abs=0.05)
    assert N.detector_dqe(np.array([1.0, 0.5]), 0.6, q, a) == pytest.approx([0.6, 0.6])


@pytest.mark.formula("quality.dose-noise")
def test_poisson_noise_falls_as_one_over_root_dose(rng):
    doses = np.array([100.0, 400.0, 1600.0, 6400.0])
    sigmas = np.array([rng.poisson(d, 20000).std() / d for d in doses])   # relative noise
    assert N.dose_noise_exponent(doses, sigmas) == pytest.approx(-0.5, abs=0.02)
    np.testing.assert_allclose(N.noise_at_dose(sigmas[0], doses[0], doses), sigmas, rtol=0.03)
    assert N.noise_at_dose(10.0, 1.0, 4.0) == pytest.approx(5.0)
    assert N.dose_noise_exponent([1, 10, 100], [3.0, 0.3, 0.03]) == pytest.approx(-1.0)


def test_functions_leave_inputs_unchanged(assert_inputs_unchanged):
    nps = np.ones((8, 8))
    kernel = np.ones((3, 3)) / 9
    assert_inputs_unchanged(N.filtered_nps, nps, kernel)
    assert_inputs_unchanged(N.dqe, np.ones(3), np.ones(3), 2.0, 3.0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kernel"):
        N.transfer_function(np.ones((9, 9)), (4, 4))
    with pytest.raises(ValueError, match="frequencies"):
        N.fbp_nps([0.7], 1.0, 10)
    with pytest.raises(ValueError, match="filter_name"):
        N.fbp_nps([0.1], 1.0, 10, "gauss")
    with pytest.raises(ValueError, match="efficiency"):
        N.quantum_detector_image(10.0, (8, 8), 0, efficiency=1.5)
    with pytest.raises(ValueError, match="mtf .* and nps .* must broadcast"):
        N.dqe(np.ones(3), np.ones(4), 1.0, 1.0)
    with pytest.raises(ValueError, match="doses must hold at least 2 distinct"):
        N.dose_noise_exponent([2.0, 2.0], [1.0, 1.5])
    with pytest.raises(ValueError, match="dose"):
        N.noise_at_dose(1.0, 1.0, 0.0)
