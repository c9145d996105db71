"""medlib.ct against scikit-image, pydicom, SciPy quadrature, NIST values and closed forms."""
from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_windowing
from scipy import integrate
from skimage.transform import iradon
from skimage.transform import radon as sk_radon

from medlib import ct, data, noise, phantoms

# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def shepp128():
    return phantoms.shepp_logan(128)


@pytest.fixture(scope="module")
def angles180():
    return np.linspace(0.0, np.pi, 180, endpoint=False)


def _rel_rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2)))


# ------------------------------------------------------------------------------- 3.1 attenuation

# Hubbell & Seltzer (NIST SRD 126), Table 4, mu/rho in cm^2/g, typed from the published tables.
NIST_MU_RHO = {("water", 60): 0.2059, ("water", 80): 0.1837, ("soft tissue", 60): 0.2048,
               ("bone", 60): 0.3148, ("bone", 80): 0.2229, ("air", 60): 0.1875,
               ("lung", 60): 0.2053}
DENSITY = {"water": 1.0, "soft tissue": 1.06, "bone": 1.92, "air": 1.205e-3, "lung": 0.26}


@pytest.mark.parametrize("material, energy", list(NIST_MU_RHO))
def test_attenuation_coefficients_are_the_nist_values(material, energy):
    expected = NIST_MU_RHO[(material, energy)] * DENSITY[material]
    assert ct.attenuation_coefficient(material, energy) == pytest.approx(expected, rel=1e-12)


def test_attenuation_is_interpolated_log_log():
    # Between 60 and 80 keV, log-log interpolation at the geometric mean energy gives the
    # geometric mean of the two coefficients.
    e = np.sqrt(60.0 * 80.0)
    expected = np.sqrt(0.2059 * 0.1837)
    assert ct.attenuation_coefficient("water", e) == pytest.approx(expected, rel=1e-12)
    mus = [ct.attenuation_coefficient("bone", e) for e in (40, 55, 70, 90, 100)]
    assert np.all(np.diff(mus) < 0)           # attenuation falls with energy


@pytest.mark.formula("ct.beer-lambert")
def test_lambert_beer_through_a_water_slab_is_exponential():
    mu = ct.attenuation_coefficient("water", 60)
    samples = np.full(200, mu)                 # 200 steps of 0.05 cm: 10 cm of water
    intensity = ct.attenuate(1e5, samples, 0.05)
    assert intensity == pytest.approx(1e5 * np.exp(-mu * 10.0), rel=1e-12)


@pytest.mark.formula("ct.beer-lambert")
def test_lambert_beer_is_multiplicative_along_the_ray(rng):
    mu = rng.uniform(0, 0.5, size=(5, 40))
    whole = ct.attenuate(1.0, mu, 0.1)
    halves = ct.attenuate(1.0, mu[:, :20], 0.1) * ct.attenuate(1.0, mu[:, 20:], 0.1)
    np.testing.assert_allclose(whole, halves, rtol=1e-12)


@pytest.mark.formula("ct.line-integral")
def test_line_integral_matches_scipy_quadrature():
    # A smooth attenuation profile along a 20 cm ray; the midpoint rule converges to quad.
    def mu(s):
        return 0.2 + 0.15 * np.exp(-((s - 8.0) ** 2) / 4.0)

    reference, _ = integrate.quad(mu, 0.0, 20.0)
    ds = 0.01
    midpoints = (np.arange(2000) + 0.5) * ds
    assert ct.line_integral(mu(midpoints), ds) == pytest.approx(reference, rel=1e-8)


@pytest.mark.formula("ct.line-integral")
def test_line_integral_runs_along_the_chosen_axis(rng):
    mu = rng.uniform(0, 1, size=(3, 4, 5))
    np.testing.assert_allclose(ct.line_integral(mu, 0.5, axis=1), mu.sum(axis=1) * 0.5)


@pytest.mark.formula("ct.log-transform")
def test_log_transform_inverts_lambert_beer(rng):
    p = rng.uniform(0, 6, size=100)
    measured = 2e4 * np.exp(-p)
    np.testing.assert_allclose(ct.log_transform(measured, 2e4), p, atol=1e-12)
    np.testing.assert_allclose(ct.log_transform(measured, 2e4), -np.log(measured / 2e4))


@pytest.mark.formula("ct.log-transform")
def test_log_transform_refuses_zero_counts_unless_floored():
    counts = np.array([100.0, 3.0, 0.0])
    with pytest.raises(ValueError, match="photon starvation"):
        ct.log_transform(counts, 1000.0)
    p = ct.log_transform(counts, 1000.0, floor=1.0)
    np.testing.assert_allclose(p, [np.log(10.0), np.log(1000 / 3.0), np.log(1000.0)])


@pytest.mark.formula("ct.log-variance")
@pytest.mark.parametrize("p", [0.5, 3.0, 5.0])
def test_log_variance_matches_poisson_simulation(p):
    i0 = 1e5
    counts = noise.poisson_noise(np.full(200_000, i0 * np.exp(-p)), rng=11)
    simulated = ct.log_transform(counts, i0).var()
    assert simulated == pytest.approx(ct.log_variance(p, i0), rel=0.03)


# ----------------------------------------------------------------------------- 3.2 radon


@pytest.mark.formula("ct.radon-parametrized")
def test_radon_matches_scikit_image(shepp128, angles180):
    ours = ct.radon(shepp128, angles180)
    theirs = sk_radon(shepp128, np.rad2deg(angles180))
    assert ours.shape == theirs.shape == (128, 180) and ours.dtype == np.float64
    assert _rel_rms(ours, theirs) < 0.01


@pytest.mark.formula("ct.radon-parametrized")
def test_radon_orientation_matches_scikit_image_for_an_off_centre_object():
    image = np.zeros((96, 96))
    image[30:34, 60:63] = 1.0                 # up and to the right of the centre
    theta = np.linspace(0, np.pi, 24, endpoint=False)
    ours = ct.radon(image, theta)
    theirs = sk_radon(image, np.rad2deg(theta))
    bins = np.arange(96)
    centroid = (ours * bins[:, None]).sum(0) / ours.sum(0)
    centroid_sk = (theirs * bins[:, None]).sum(0) / theirs.sum(0)
    np.testing.assert_allclose(centroid, centroid_sk, atol=0.1)
    # Closed form: the centre of mass (x, y) projects to t = x cos(theta) + y sin(theta).
    x, y = 61 - 48, 48 - 31.5
    np.testing.assert_allclose(centroid - 48, x * np.cos(theta) + y * np.sin(theta), atol=0.1)


@pytest.mark.formula("ct.radon-parametrized")
def test_radon_at_0_and_90_degrees_are_column_and_row_sums(rng):
    n = 64
    image = np.where(ct.circle_mask(n), rng.uniform(0, 1, (n, n)), 0.0)
    p = ct.radon(image, [0.0, np.pi / 2])
    np.testing.assert_allclose(p[:, 0], image.sum(axis=0), rtol=1e-9, atol=1e-9)
    # theta = pi/2: t = y = n//2 - row, so bin k holds row n - k.
    np.testing.assert_allclose(p[1:, 1], image.sum(axis=1)[::-1][:-1], rtol=1e-9, atol=1e-9)


@pytest.mark.formula("ct.radon")
def test_radon_of_a_pixelated_disc_matches_the_analytic_transform(angles180):
    table = [[1.0, 0.5, 0.5, 0.1, 0.2, 0.0]]
    image = phantoms.ellipse_phantom(table, 128, oversample=8)     # area-averaged pixels
    exact = ct.radon_ellipses(table, angles180, 128)
    assert _rel_rms(ct.radon(image, angles180), exact) < 0.01


@pytest.mark.formula("ct.radon")
def test_radon_of_shepp_logan_is_as_close_to_the_analytic_transform_as_scikit_image(
        angles180):
    # Sharp edges sampled on a pixel grid differ from the exact line integrals by a few per
    # cent (the skull); the discretisation must be no worse than scikit-image's.
    table = phantoms.shepp_logan_ellipses()
    image = phantoms.ellipse_phantom(table, 128, oversample=4)
    exact = ct.radon_ellipses(table, angles180, 128)
    ours = _rel_rms(ct.radon(image, angles180), exact)
    theirs = _rel_rms(sk_radon(image, np.rad2deg(angles180)), exact)
    assert ours <= theirs and ours < 0.03


@pytest.mark.formula("ct.radon")
def test_analytic_projection_of_a_disc_is_its_chord_length():
    # Odd n: the rotation centre pixel is the centre of the field of view.
    theta = np.linspace(0, np.pi, 7)
    p = ct.radon_ellipses([[2.0, 0.5, 0.5, 0.0, 0.0, 0.0]], theta, 65)
    pix = 2 / 65
    t = (np.arange(65) - 32) * pix
    expected = 2.0 * 2 * np.sqrt(np.clip(0.25 - t**2, 0, None)) / pix
    for col in p.T:
        np.testing.assert_allclose(col, expected, atol=1e-12)


@pytest.mark.formula("ct.radon-parametrized")
def test_every_projection_carries_the_whole_image(rng):
    # The integral of p(theta, t) over t is the integral of the image, at every angle (for an
    # object clear of the circle's rim, whose footprints would overhang the last bins).
    r = np.hypot(*np.mgrid[-25:25, -25:25])
    image = np.where(r < 23, rng.uniform(0, 1, (50, 50)), 0.0)
    p = ct.radon(image, rng.uniform(-4, 4, 25))
    np.testing.assert_allclose(p.sum(axis=0), image.sum(), rtol=1e-10)


def test_radon_is_linear_and_symmetric_under_a_half_turn(rng, shepp128):
    theta = rng.uniform(0, np.pi, 9)
    other = np.where(ct.circle_mask(128), rng.uniform(0, 1, (128, 128)), 0.0)
    np.testing.assert_allclose(ct.radon(2 * shepp128 - 3 * other, theta),
                               2 * ct.radon(shepp128, theta) - 3 * ct.radon(other, theta),
                               atol=1e-9)
    # p(theta + pi, t) = p(theta, -t); t -> -t maps bin k to 2 * (n // 2) - k.
    a, b = ct.radon(shepp128, theta), ct.radon(shepp128, theta + np.pi)
    np.testing.assert_allclose(b[1:], a[1:][::-1], atol=1e-9)


@pytest.mark.formula("ct.radon-parametrized")
@pytest.mark.parametrize("n", [31, 32, 33])
def test_geometry_helpers_state_scikit_images_convention(n, rng):
    x, y = ct.pixel_positions(n)
    t = ct.detector_positions(n)
    assert x[0, 0] == -(n // 2) and y[0, 0] == n // 2 and t[n // 2] == 0
    # One pixel, many angles: both libraries put it at t = x cos + y sin (odd and even n).
    row, col = rng.integers(n // 2 - 6, n // 2 + 6, size=2)
    image = np.zeros((n, n))
    image[row, col] = 1.0
    theta = np.linspace(0, np.pi, 12, endpoint=False)
    expected = x[row, col] * np.cos(theta) + y[row, col] * np.sin(theta)
    for sino in (ct.radon(image, theta), sk_radon(image, np.rad2deg(theta))):
        centroid = (sino * t[:, None]).sum(0) / sino.sum(0)
        np.testing.assert_allclose(centroid, expected, atol=0.2)


@pytest.mark.formula("ct.fbp")
@pytest.mark.parametrize("n", [63, 64])
def test_fbp_matches_iradon_for_odd_and_even_sizes(n):
    image = phantoms.shepp_logan(n)
    theta = np.linspace(0, np.pi, 90, endpoint=False)
    sino = sk_radon(image, np.rad2deg(theta))
    assert _rel_rms(ct.radon(image, theta), sino) < 0.01
    inside = ct.circle_mask(n)
    ours = ct.fbp(sino, theta)
    theirs = iradon(sino, np.rad2deg(theta))
    assert _rel_rms(ours[inside], theirs[inside]) < 0.02


def test_the_sinogram_of_a_point_is_a_sinusoid():
    n = 64
    image = np.zeros((n, n))
    image[20, 40] = 1.0                               # x = 8, y = 12
    theta = np.linspace(0, np.pi, 50, endpoint=False)
    p = ct.radon(image, theta)
    centroid = (p * np.arange(n)[:, None]).sum(0) / p.sum(0) - n // 2
    # Bins have width 1: a one-pixel footprint's centroid is exact to (1 - 0.707) / 2 + 1/32.
    np.testing.assert_allclose(centroid, 8 * np.cos(theta) + 12 * np.sin(theta), atol=0.2)
    np.testing.assert_allclose(p.sum(axis=0), 1.0, rtol=1e-10)


def test_radon_of_zero_image_is_zero():
    assert np.all(ct.radon(np.zeros((16, 16)), [0.1, 0.2]) == 0)


def test_circle_mask_and_padding():
    mask = ct.circle_mask(9)
    i, j = np.mgrid[:9, :9]
    np.testing.assert_array_equal(mask, (i - 4) ** 2 + (j - 4) ** 2 <= 16)
    assert mask[4, 0] and mask[0, 4] and not mask[0, 0] and mask.sum() == 49
    img = np.ones((30, 50))
    padded = ct.pad_to_circle(img)
    m = padded.shape[0]
    assert padded.shape == (m, m) and padded.sum() == img.sum()
    assert np.all(padded[~ct.circle_mask(m)] == 0)
    assert padded[m // 2, m // 2] == 1.0
    ct.radon(padded, [0.3])                          # accepted: all inside the circle


# ------------------------------------------------------------------------ 3.3 filtered backprojection


@pytest.mark.formula("ct.ramp-kernel")
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10])
def test_ramp_kernel_is_the_inverse_fourier_transform_of_the_band_limited_ramp(n):
    value, _ = integrate.quad(lambda f: 2 * f * np.cos(2 * np.pi * f * n), 0.0, 0.5, limit=200)
    assert ct.ramp_kernel([n])[0] == pytest.approx(value, abs=1e-12)
    assert ct.ramp_kernel([-n])[0] == ct.ramp_kernel([n])[0]


@pytest.mark.formula("ct.ramp-filter")
def test_discrete_ramp_is_abs_f_with_a_small_positive_dc_term():
    f, h = ct.filter_response(1024, "ramp")
    assert f[0] == 0 and f[-1] == 0.5 and h.shape == (513,)
    odd = np.arange(1, 512, 2)
    assert h[0] == pytest.approx(0.25 - 2 * np.sum(1 / (np.pi * odd) ** 2), rel=1e-9)
    assert h[0] > 0
    middle = (f > 0.02) & (f < 0.48)
    np.testing.assert_allclose(h[middle], f[middle], atol=2e-3)
    np.testing.assert_array_equal(ct.filter_response(1024, "ram-lak")[1], h)


@pytest.mark.formula("ct.ramp-windowed")
def test_windows_at_zero_and_at_the_cutoff():
    f, ramp = ct.filter_response(512, "ramp")
    expected_at_nyquist = {"shepp-logan": 2 / np.pi, "cosine": 0.0, "hamming": 0.08,
                           "hann": 0.0}
    for name, factor in expected_at_nyquist.items():
        _, h = ct.filter_response(512, name)
        assert h[0] == pytest.approx(ramp[0])
        assert h[-1] == pytest.approx(factor * ramp[-1], abs=1e-12)
        assert np.all(h <= ramp + 1e-15)
    _, half = ct.filter_response(512, "hann", cutoff=0.5)
    assert np.all(half[f > 0.25] == 0) and half[1] == pytest.approx(ramp[1], rel=1e-3)


@pytest.mark.formula("ct.filtering")
def test_fft_filtering_equals_direct_convolution_with_the_ramp_kernel(rng):
    sino = rng.normal(size=(40, 3))
    lags = np.arange(-39, 40)
    kernel = ct.ramp_kernel(lags)
    direct = np.stack([np.convolve(col, kernel, mode="full")[39:79] for col in sino.T], axis=1)
    np.testing.assert_allclose(ct.filter_sinogram(sino, "ramp"), direct, atol=1e-12)


@pytest.mark.formula("ct.backprojection")
def test_backprojection_is_twice_iradon_without_filter(rng, angles180):
    sino = rng.uniform(0, 1, size=(64, 180))
    ours = ct.backproject(sino, angles180)
    # scikit-image's unfiltered iradon weights each angle by pi / (2 n_angles), ours by
    # pi / n_angles (the integral over [0, pi)): a factor of 2, nothing else.
    theirs = iradon(sino, np.rad2deg(angles180), filter_name=None)
    inside = ct.circle_mask(64)
    np.testing.assert_allclose(ours[inside], 2 * theirs[inside], rtol=2e-3, atol=2e-3)
    assert np.all(ours[~inside] == 0)


@pytest.mark.formula("ct.backprojection-blur")
def test_unfiltered_backprojection_of_a_point_falls_as_one_over_r():
    n = 128
    image = np.zeros((n, n))
    image[n // 2, n // 2] = 1.0
    theta = np.linspace(0, np.pi, 720, endpoint=False)
    blurred = ct.backproject(ct.radon(image, theta), theta)
    r = np.array([6, 10, 20, 35, 50])
    along_row = blurred[n // 2, n // 2 + r]
    along_diag = blurred[n // 2 - (r / np.sqrt(2)).round().astype(int),
                         n // 2 + (r / np.sqrt(2)).round().astype(int)]
    np.testing.assert_allclose(along_row, 1 / r, rtol=0.05)
    r_diag = np.hypot(*(2 * [(r / np.sqrt(2)).round()]))
    np.testing.assert_allclose(along_diag, 1 / r_diag, rtol=0.05)


@pytest.mark.formula("ct.fbp")
def test_fbp_of_shepp_logan_is_as_accurate_as_iradon(angles180):
    n = 256
    image = phantoms.shepp_logan(n)
    inside = ct.circle_mask(n)
    sino = sk_radon(image, np.rad2deg(angles180))
    ours = ct.fbp(sino, angles180)
    theirs = iradon(sino, np.rad2deg(angles180))
    rmse = np.sqrt(np.mean((ours - image)[inside] ** 2))
    rmse_sk = np.sqrt(np.mean((theirs - image)[inside] ** 2))
    assert rmse <= 1.01 * rmse_sk
    assert _rel_rms(ours[inside], theirs[inside]) < 0.01
    own = ct.fbp(ct.radon(image, angles180), angles180)
    assert np.sqrt(np.mean((own - image)[inside] ** 2)) <= 1.01 * rmse_sk


@pytest.mark.formula("ct.fbp", "ct.ramp-windowed")
@pytest.mark.parametrize("name", ["shepp-logan", "cosine", "hamming", "hann"])
def test_fbp_with_windowed_filters_matches_iradon(name, shepp128, angles180):
    sino = sk_radon(shepp128, np.rad2deg(angles180))
    inside = ct.circle_mask(128)
    ours = ct.fbp(sino, angles180, name)
    theirs = iradon(sino, np.rad2deg(angles180), filter_name=name)
    assert _rel_rms(ours[inside], theirs[inside]) < 0.01


@pytest.mark.formula("ct.radon-inverse")
def test_fbp_inverts_radon_with_the_right_amplitude():
    # A uniform disc of value 0.7: FBP must return 0.7 inside (no stray 2 pi or 1/2).
    table = [[0.7, 0.6, 0.6, 0.0, 0.0, 0.0]]
    theta = np.linspace(0, np.pi, 360, endpoint=False)
    sino = ct.radon_ellipses(table, theta, 128)
    rec = ct.fbp(sino, theta)
    r = np.hypot(*np.mgrid[-64:64, -64:64])
    assert np.mean(rec[r < 30]) == pytest.approx(0.7, rel=0.005)
    assert abs(np.mean(rec[(r > 45) & (r < 60)])) < 0.005


def test_fbp_accepts_a_full_rotation():
    theta = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    sino = ct.radon_ellipses([[1.0, 0.5, 0.5, 0.0, 0.0, 0.0]], theta, 64)
    rec = ct.fbp(sino, theta)
    r = np.hypot(*np.mgrid[-32:32, -32:32])
    assert np.mean(rec[r < 10]) == pytest.approx(1.0, rel=0.01)


# ------------------------------------------------------------------------------ 3.4 HU and windows


@pytest.mark.formula("ct.hu")
def test_water_is_zero_and_air_minus_1000_hu():
    mu_w = ct.attenuation_coefficient("water", 70)
    assert ct.hu_from_mu(mu_w, mu_w) == 0.0
    assert ct.hu_from_mu(0.0, mu_w) == -1000.0
    assert ct.hu_from_mu(2 * mu_w, mu_w) == pytest.approx(1000.0)
    hu = np.array([-1000.0, -500.0, 0.0, 40.0, 1500.0])
    np.testing.assert_allclose(ct.hu_from_mu(ct.mu_from_hu(hu, mu_w), mu_w), hu, atol=1e-9)


@pytest.mark.formula("ct.hu-two-point")
def test_two_point_calibration_puts_real_air_at_minus_1000():
    mu_w = ct.attenuation_coefficient("water", 60)
    mu_a = ct.attenuation_coefficient("air", 60)
    assert ct.hu_from_mu(mu_a, mu_w, mu_air=mu_a) == pytest.approx(-1000.0, abs=1e-9)
    assert ct.hu_from_mu(mu_w, mu_w, mu_air=mu_a) == 0.0
    one_point = float(ct.hu_from_mu(mu_a, mu_w))
    assert one_point == pytest.approx(-1000 + 1000 * 0.1875 * 1.205e-3 / 0.2059, rel=1e-9)
    hu = np.array([-800.0, 60.0])
    np.testing.assert_allclose(
        ct.hu_from_mu(ct.mu_from_hu(hu, mu_w, mu_air=mu_a), mu_w, mu_air=mu_a), hu)


@pytest.mark.formula("ct.hu-rescale")
def test_hu_from_stored_values_matches_pydicom_on_a_real_ct():
    ds = pydicom.dcmread(data.path("dicom/ct_head_693.dcm"))
    ours = ct.hu_from_stored(ds.pixel_array, ds.RescaleSlope, ds.RescaleIntercept)
    np.testing.assert_array_equal(ours, apply_modality_lut(ds.pixel_array, ds))
    assert ours.dtype == np.float64


@pytest.mark.formula("ct.window")
def test_window_maps_the_range_onto_zero_one_monotonically(rng):
    hu = np.sort(rng.uniform(-1500, 2500, 1000))
    out = ct.window(hu, 40, 400)
    assert out.min() >= 0 and out.max() <= 1 and np.all(np.diff(out) >= 0)
    np.testing.assert_allclose(ct.window([-160, 40, 240, -1000, 3000], 40, 400),
                               [0, 0.5, 1, 0, 1])


@pytest.mark.formula("ct.window")
def test_window_agrees_with_dicom_linear_voi_within_one_over_width():
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored, ds.PixelRepresentation = 16, 0
    ds.WindowCenter, ds.WindowWidth = 1200, 400
    stored = np.arange(800, 1601, dtype=float)
    dicom = apply_windowing(stored, ds) / 65535.0
    assert np.max(np.abs(ct.window(stored, 1200, 400) - dicom)) <= 1.0 / 400 + 1e-12


def test_clinical_windows_table():
    assert ct.CLINICAL_WINDOWS["lung"] == (-600.0, 1500.0)
    assert ct.CLINICAL_WINDOWS["brain"] == (40.0, 80.0)
    hu = np.array([-600.0, 0.0])
    np.testing.assert_array_equal(ct.clinical_window(hu, "lung"), ct.window(hu, -600, 1500))
    assert set(ct.CLINICAL_WINDOWS) == {"soft tissue", "lung", "bone", "brain", "mediastinum",
                                        "abdomen"}


def test_thorax_phantom_has_realistic_ct_numbers():
    table = ct.thorax_ellipses(60)
    mu = phantoms.ellipse_phantom(table, 128)
    hu = ct.hu_from_mu(mu, ct.attenuation_coefficient("water", 60))
    assert hu[64, 64] == pytest.approx(hu[64, 10])             # soft tissue background
    assert -800 < hu[60, 40] < -700                             # lung
    assert hu[91, 64] > 1500                                    # vertebra
    assert hu[0, 0] == -1000.0


# --------------------------------------------------------------------------------- bad input

SQUARE = np.zeros((8, 8))
BAD_CALLS = [
    (ct.radon, (np.zeros((8, 9)), [0.0]), ValueError, "square"),
    (ct.radon, (np.ones((8, 8)), [0.0]), ValueError, "outside"),
    (ct.radon, (SQUARE, []), ValueError, "theta"),
    (ct.radon, (SQUARE, [[0.0, 1.0]]), ValueError, "theta"),
    (ct.radon, (np.full((8, 8), np.nan), [0.0]), ValueError, "finite"),
    (ct.radon, (np.zeros(8), [0.0]), ValueError, "image"),
    (ct.fbp, (np.zeros((8, 3)), [0.0, 1.0]), ValueError, "theta has 2 angles"),
    (ct.fbp, (np.zeros((8, 3)), [0.0, 1.0, 2.0], "ramp-lak"), ValueError, "filter"),
    (ct.fbp, (np.zeros(8), [0.0]), ValueError, "sinogram"),
    (ct.backproject, (np.zeros((8, 2)), [0.0]), ValueError, "theta"),
    (ct.filter_response, (63,), ValueError, "even"),
    (ct.filter_response, (64, "hann"), None, None),
    (ct.window, ([0.0], 40, 0), ValueError, "width"),
    (ct.window, ([0.0], 40, -400), ValueError, "width"),
    (ct.window, ([0.0], np.nan, 400), ValueError, "level"),
    (ct.clinical_window, ([0.0], "liver"), ValueError, "name"),
    (ct.hu_from_mu, ([0.1], 0.0), ValueError, "mu_water"),
    (ct.hu_from_mu, ([0.1], 0.2), None, None),
    (ct.hu_from_mu, ([0.1], 0.2, 0.3), TypeError, "positional"),
    (ct.hu_from_stored, ([1, 2], 0, -1024), ValueError, "slope"),
    (ct.log_transform, ([1.0], 0.0), ValueError, "i0"),
    (ct.log_transform, ([1.0, 2.0], 10.0), None, None),
    (ct.log_transform, ([0.0], 10.0), ValueError, "floor"),
    (ct.log_transform, ([0.0], 10.0), ValueError, "starvation"),
    (ct.line_integral, ([-0.1, 0.2], 1.0), ValueError, "mu_per_cm"),
    (ct.line_integral, ([0.1, 0.2], 0.0), ValueError, "step_cm"),
    (ct.attenuation_coefficient, ("fat", 60), ValueError, "material"),
    (ct.attenuation_coefficient, ("water", 30), ValueError, "energy_kev"),
    (ct.log_variance, (-1.0, 100.0), ValueError, "p"),
]


@pytest.mark.parametrize("func, args, error, match", BAD_CALLS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_a_clear_error(func, args, error, match):
    if error is None:            # a valid call next to the invalid ones: must not raise
        func(*args)
        return
    with pytest.raises(error, match=match):
        func(*args)


def test_log_transform_floor_must_be_positive_and_below_i0():
    with pytest.raises(ValueError, match="floor"):
        ct.log_transform([0.0], 10.0, floor=0.0)
    with pytest.raises(ValueError, match="floor"):
        ct.log_transform([0.0], 10.0, floor=20.0)
    with pytest.raises(ValueError, match="cutoff"):
        ct.fbp(np.zeros((8, 1)), [0.0], cutoff=0.0)
    with pytest.raises(ValueError, match="cutoff"):
        ct.filter_sinogram(np.zeros((8, 1)), cutoff=1.5)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, shepp128, rng):
    theta = np.linspace(0, np.pi, 10, endpoint=False)
    image = shepp128.copy()
    sino = assert_inputs_unchanged(ct.radon, image, theta)
    assert_inputs_unchanged(ct.fbp, sino, theta, "hann", cutoff=0.8)
    assert_inputs_unchanged(ct.backproject, sino, theta)
    assert_inputs_unchanged(ct.filter_sinogram, sino, "cosine")
    assert_inputs_unchanged(ct.pad_to_circle, image)
    assert_inputs_unchanged(ct.radon_ellipses, phantoms.shepp_logan_ellipses(), theta, 32)
    hu = rng.uniform(-1000, 1000, 50)
    assert_inputs_unchanged(ct.window, hu, 40.0, 400.0)
    assert_inputs_unchanged(ct.hu_from_mu, hu / 5000 + 0.2, 0.2)
    assert_inputs_unchanged(ct.mu_from_hu, hu, 0.2)
    assert_inputs_unchanged(ct.hu_from_stored, hu, 1.0, -1024.0)
    counts = rng.uniform(0, 100, 20)
    assert_inputs_unchanged(ct.log_transform, counts, 100.0, floor=0.5)
    assert_inputs_unchanged(ct.attenuate, 1.0, counts / 100, 0.1)
    assert_inputs_unchanged(ct.ramp_kernel, np.arange(-5, 6))
