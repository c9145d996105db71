"""medlib.pet.spect against a Monte Carlo of a collimator, closed forms, xraydb and an independent
rotate-blur-attenuate-sum projector written with scipy.ndimage."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry

from medlib import pet

BAD_INPUT_CALLS = {
    "pet.spect.effective_hole_length_mm": Entry(lambda: C(24.0, 2.5)),
    "pet.spect.collimator_resolution_mm": Entry(lambda: C(np.array([1.1, 1.5]), 24.0, 100.0)),
    "pet.spect.collimator_efficiency": Entry(lambda: C(np.array([1.1, 1.5]), 24.0, 0.2, k=0.24)),
    "pet.spect.spect_system_matrix": Entry(
        lambda: C(12, np.linspace(0, 2 * np.pi, 6, endpoint=False), pixel_mm=4.0, radius_mm=30.0,
                  mu_map_per_cm=np.full((12, 12), 0.15), hole_diameter_mm=1.5,
                  hole_length_mm=24.0, intrinsic_fwhm_mm=3.0)),
}


@pytest.mark.formula("pet.collimator-resolution")
def test_collimator_resolution_matches_a_monte_carlo_of_a_slit_collimator(rng):
    # 2-D cut through a collimator: slits of width d, septa t, length l; a point source at
    # height z above the face, rays uniform in angle, collimator offset uniform (averaging over
    # hole positions). A ray passes if it enters and leaves in the same slit.
    d, t, length, z = 1.5, 0.2, 24.0, 100.0
    n_rays = 400_000
    tan_phi = np.tan(rng.uniform(-0.1, 0.1, n_rays))        # wider than the response
    offset = rng.uniform(0, d + t, n_rays)
    x_top = z * tan_phi + offset
    x_bottom = (z + length) * tan_phi + offset
    hole_top = np.floor(x_top / (d + t))
    hole_bottom = np.floor(x_bottom / (d + t))
    open_top = x_top - hole_top * (d + t) < d
    open_bottom = x_bottom - hole_bottom * (d + t) < d
    passed = open_top & open_bottom & (hole_top == hole_bottom)
    x_det = (z + length) * tan_phi[passed]
    # The response is a triangle; one of half-base (= FWHM) w has variance w^2 / 6 and support
    # [-w, w]. The second moment uses every ray (~110 000: ~0.2 % standard error), where a
    # half-maximum read off a histogram is biased low by the noise of its peak bin.
    r_g = pet.collimator_resolution_mm(d, length, z)
    assert np.sqrt(6 * np.mean(x_det**2)) == pytest.approx(r_g, rel=0.01)
    assert np.mean(x_det) == pytest.approx(0.0, abs=0.01 * r_g)
    assert np.abs(x_det).max() == pytest.approx(r_g, rel=0.01)
    assert pet.collimator_resolution_mm(d, length, z) == pytest.approx(d * (length + z) / length)


def test_effective_hole_length_uses_lead_attenuation_from_xraydb():
    xraydb = pytest.importorskip("xraydb")
    mu_lead = xraydb.material_mu("lead", 140.5e3) / 10.0           # 1/mm
    assert 2.0 < mu_lead < 3.0
    assert pet.effective_hole_length_mm(24.0, mu_lead) == pytest.approx(24.0 - 2.0 / mu_lead)
    assert pet.effective_hole_length_mm(24.0) == 24.0
    with pytest.raises(ValueError, match="mu_septa_per_mm"):
        pet.effective_hole_length_mm(0.5, 2.5)


@pytest.mark.formula("pet.collimator-efficiency")
def test_collimator_efficiency_by_hand_and_its_trade_off_with_resolution():
    g = pet.collimator_efficiency(1.5, 24.0, 0.2)
    assert g == pytest.approx(0.26**2 * (1.5 / 24.0) ** 2 * 1.5**2 / 1.7**2)
    assert 1e-5 < g < 1e-3                                      # of order 1e-4
    # Without septa, doubling the holes doubles R_g and quadruples g: g proportional to R_g^2.
    g1, g2 = pet.collimator_efficiency(np.array([1.0, 2.0]), 24.0, 0.0)
    r1, r2 = pet.collimator_resolution_mm(np.array([1.0, 2.0]), 24.0, 100.0)
    assert g2 / g1 == pytest.approx((r2 / r1) ** 2)


def _reference_projection(image, mu_per_px, sigma_of_depth):
    """Blur-attenuate-sum at theta = 0, written independently: attenuation by a cumulative sum
    down the columns, blur of each row by np.convolve with bin-integrated Gaussian weights
    (scipy.stats.norm)."""
    from scipy import stats

    n = image.shape[0]
    out = np.zeros(n)
    # theta = 0: s = X (columns), u = Y (rows, down); the camera is below the image (u > 0).
    path = np.cumsum(mu_per_px[::-1], axis=0)[::-1] - 0.5 * mu_per_px
    lags = np.arange(-n + 1, n)
    for r in range(n):
        row = image[r] * np.exp(-path[r])
        sig = sigma_of_depth(r - n // 2)
        kernel = stats.norm.cdf((lags + 0.5) / sig) - stats.norm.cdf((lags - 0.5) / sig)
        out += np.convolve(row, kernel)[n - 1:2 * n - 1]
    return out


@pytest.mark.formula("pet.spect-projection")
def test_spect_projector_matches_an_independent_rotate_blur_attenuate_sum(rng):
    n, px, radius = 32, 4.0, 80.0
    rr, cc = np.mgrid[:n, :n] - n // 2
    disk = np.hypot(rr, cc) < 13
    img = rng.uniform(0, 1, (n, n)) * disk
    mu = 0.15 * disk
    d, length, r_int = 1.5, 24.0, 3.0
    M = pet.spect_system_matrix(n, np.array([0.0]), pixel_mm=px, radius_mm=radius,
                                mu_map_per_cm=mu, hole_diameter_mm=d, hole_length_mm=length,
                                intrinsic_fwhm_mm=r_int)

    def sigma(u):
        z = radius - u * px
        return np.hypot(d * (length + z) / length, r_int) / px / np.sqrt(8 * np.log(2))

    ref = _reference_projection(img, mu * px / 10, sigma)
    got = M @ img.ravel()
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * ref.max())


@pytest.mark.formula("pet.spect-projection")
def test_spect_attenuation_of_a_central_point_and_conservation_without_it():
    n, px = 64, 4.0
    theta = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    rr, cc = np.mgrid[:n, :n] - n // 2
    mu = 0.15 * (np.hypot(rr, cc) <= 25)
    M = pet.spect_system_matrix(n, theta, pixel_mm=px, radius_mm=200.0, mu_map_per_cm=mu,
                                hole_diameter_mm=1.5)
    centre = (n // 2) * n + n // 2
    per_angle = np.asarray(M[:, centre].todense()).ravel().reshape(n, 16).sum(axis=0)
    # Along the grid axes (theta = 0, pi/2, pi, 3 pi/2) the path is exactly 25 pixels of 0.4 cm
    # plus half the centre pixel's own: exp(-0.15 x 1.02).
    np.testing.assert_allclose(per_angle[::4], np.exp(-0.15 * 0.4 * 25.5), rtol=1e-6)
    # Oblique views sample the pixelised disk's edge bilinearly: within 5 % of exp(-0.15 x 10).
    np.testing.assert_allclose(per_angle, np.exp(-0.15 * 10.0), rtol=0.05)
    M0 = pet.spect_system_matrix(n, theta, pixel_mm=px, radius_mm=200.0)
    sums = np.asarray(M0.sum(axis=0)).ravel().reshape(n, n)
    np.testing.assert_allclose(sums[np.hypot(rr, cc) < 28], 16.0, rtol=1e-12)


def test_spect_blur_grows_with_distance_to_the_camera():
    n, px = 64, 4.0
    M = pet.spect_system_matrix(n, np.array([0.0]), pixel_mm=px, radius_mm=200.0,
                                hole_diameter_mm=1.5, intrinsic_fwhm_mm=3.5)
    widths = []
    for row in (n // 2 + 20, n // 2, n // 2 - 20):                  # near, centre, far
        e = np.zeros(n * n)
        e[row * n + n // 2] = 1.0
        p = M @ e
        s = np.arange(n)
        m = np.sum(p * s) / p.sum()
        var = np.sum(p * (s - m) ** 2) / p.sum() - 1 / 12        # minus the bin's own width
        widths.append(np.sqrt(var) * np.sqrt(8 * np.log(2)) * px)
        z = 200.0 - (row - n // 2) * px
        assert widths[-1] == pytest.approx(np.hypot(1.5 * (24 + z) / 24, 3.5), rel=0.02)
    assert widths[0] < widths[1] < widths[2]


def test_spect_matrix_refuses_bad_geometry():
    with pytest.raises(ValueError, match="radius_mm"):
        pet.spect_system_matrix(64, [0.0], pixel_mm=4.0, radius_mm=100.0)
    with pytest.raises(ValueError, match="mu_map_per_cm"):
        pet.spect_system_matrix(8, [0.0], pixel_mm=4.0, radius_mm=100.0,
                                mu_map_per_cm=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="intrinsic_fwhm_mm"):
        pet.spect_system_matrix(8, [0.0], pixel_mm=4.0, radius_mm=100.0, intrinsic_fwhm_mm=3.0)
