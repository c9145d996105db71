"""medlib.pet.quantitation against xraydb, skimage's radon, scipy.stats, scipy.ndimage,
scipy.optimize and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import ndimage, optimize, stats

from medlib import pet

N_SMALL = 16
THETA_SMALL = np.linspace(0.0, np.pi, 8, endpoint=False)


def _small_a():
    return pet.system_matrix(N_SMALL, THETA_SMALL)


BAD_INPUT_CALLS = {
    "pet.quantitation.mu511_from_hu": Entry(lambda: C(np.array([-1000.0, -50, 0, 40, 1200]))),
    "pet.quantitation.attenuation_correction_factors": Entry(
        lambda: C(_small_a(), pet.circle_mask(N_SMALL).ravel() * 0.096, 0.5)),
    "pet.quantitation.corrected_system_matrix": Entry(
        lambda: C(_small_a(), acf=np.full(N_SMALL * 8, 2.0), efficiency=np.full(N_SMALL * 8, 0.9))),
    "pet.quantitation.randoms_rate": Entry(lambda: C(np.array([1e4, 2e4]), 3e4, 2e-9)),
    "pet.quantitation.count_coincidences": Entry(
        lambda: C(np.array([0.0, 1.0, 2.0, 5.0]), np.array([0.1, 2.05, 7.0]), 0.2, delay_s=0.0),
        valid={"times_a_s": {"empty"}, "times_b_s": {"empty"}}),
    "pet.quantitation.suv": Entry(lambda: C(np.array([5000.0, 20000.0]), 3.7e8, 70.0,
                                            uptake_time_s=3600.0, half_life_s=6584.0)),
    "pet.quantitation.recovery_coefficient": Entry(lambda: C(np.array([5.0, 10.0, 30.0]), 8.0,
                                                             ndim=3)),
    "pet.quantitation.gaussian_blur_matrix": Entry(lambda: C(8, 2.0, truncate=3.0)),
    "pet.quantitation.tof_resolution_mm": Entry(lambda: C(np.array([200.0, 500.0]))),
    "pet.quantitation.tof_snr_gain": Entry(lambda: C(np.array([200.0, 400.0]), 400.0)),
    "pet.quantitation.tof_system_matrix": Entry(
        lambda: C(_small_a(), N_SMALL, THETA_SMALL, 4, 5.0)),
    "pet.quantitation.quadratic_prior_gradient": Entry(
        lambda: C(np.arange(12.0).reshape(3, 4) ** 1.5)),
    "pet.quantitation.map_osl": Entry(
        lambda: C(np.round(_small_a() @ (pet.circle_mask(N_SMALL).ravel() * 5.0)), _small_a(), 3,
                  0.1, (N_SMALL, N_SMALL), 0.5)),
}


# --- attenuation ---------------------------------------------------------------------------
@pytest.mark.formula("pet.hu-to-mu511")
def test_mu511_of_water_and_air_match_xraydb():
    xraydb = pytest.importorskip("xraydb")
    mu_water = xraydb.material_mu("water", 511e3)           # 1/cm, Elam et al. tables
    assert pet.mu511_from_hu(0.0) == pytest.approx(mu_water, rel=0.005)
    assert pet.mu511_from_hu(-1000.0) == 0.0
    assert pet.mu511_from_hu(-1500.0) == 0.0                  # clipped, never negative
    # Lung (-700 HU) is 30 % water by the water-air mixture model.
    assert pet.mu511_from_hu(-700.0) == pytest.approx(0.3 * 0.096)


@pytest.mark.formula("pet.hu-to-mu511")
def test_mu511_bilinear_is_continuous_and_flatter_above_the_breakpoint():
    for kvp, (a, b, brk) in pet.CARNEY_BILINEAR.items():
        below = pet.mu511_from_hu(brk, kvp=kvp)
        above = pet.mu511_from_hu(brk + 1e-6, kvp=kvp)
        assert above == pytest.approx(below, rel=0.01), kvp       # Carney's lines meet
        assert a < 9.6e-5                                          # bone segment flatter
        assert pet.mu511_from_hu(1000.0, kvp=kvp) == pytest.approx(a * 2000 + b)
    # Dense cortical bone (about 1500 HU at 120 kVp) near xraydb's hydroxyapatite-collagen
    # mixture value is not checked here: the conversion is an empirical calibration.
    with pytest.raises(ValueError, match="kvp"):
        pet.mu511_from_hu(0.0, kvp=125)


@pytest.mark.formula("pet.acf")
def test_acf_is_exp_of_the_radon_transform_of_mu():
    from skimage.transform import radon

    n = 32
    theta = np.linspace(0.0, np.pi, 12, endpoint=False)
    A = pet.system_matrix(n, theta)
    rr, cc = np.mgrid[:n, :n]
    mu = np.where(np.hypot(rr - n // 2, cc - n // 2) < 12, 0.096, 0.0)
    mu[10:14, 12:18] = 0.17                                     # a bone insert
    acf = pet.attenuation_correction_factors(A, mu.ravel(), 0.5)
    ref = np.exp(radon(mu, np.rad2deg(theta), circle=True) * 0.5).ravel()
    np.testing.assert_allclose(acf, ref, rtol=1e-9)
    assert acf.min() >= 1.0


@pytest.mark.formula("pet.acf")
def test_acf_of_a_uniform_disk_centre_line_is_exp_mu_d():
    n = 64
    A = pet.system_matrix(n, np.array([0.0]))
    rr, cc = np.mgrid[:n, :n]
    disk = (np.hypot(rr - n // 2, cc - n // 2) < 20.5).astype(float)
    acf = pet.attenuation_correction_factors(A, 0.096 * disk.ravel(), 0.5)
    centre = acf[n // 2]                                          # bin n//2, angle 0
    # The chord through the centre is 41 pixels of 0.5 cm: exp(0.096 * 20.5) to the sampling.
    assert centre == pytest.approx(np.exp(0.096 * 41 * 0.5), rel=0.02)


def test_corrected_system_matrix_is_diag_eff_over_acf_times_a(rng):
    A = _small_a()
    acf = rng.uniform(1.0, 5.0, A.shape[0])
    eff = rng.uniform(0.5, 1.5, A.shape[0])
    got = pet.corrected_system_matrix(A, acf=acf, efficiency=eff).toarray()
    np.testing.assert_allclose(got, (eff / acf)[:, None] * A.toarray(), rtol=1e-12)
    np.testing.assert_allclose(pet.corrected_system_matrix(A).toarray(), A.toarray())
    with pytest.raises(ValueError, match="acf"):
        pet.corrected_system_matrix(A, acf=np.zeros(A.shape[0]))
    with pytest.raises(ValueError, match="efficiency"):
        pet.corrected_system_matrix(A, efficiency=np.ones(3))


def test_attenuation_corrected_mlem_recovers_a_uniform_cylinder_within_5_percent(rng):
    n, n_angles = 48, 48
    theta = np.linspace(0, np.pi, n_angles, endpoint=False)
    A = pet.system_matrix(n, theta)
    rr, cc = np.mgrid[:n, :n]
    radius = np.hypot(rr - n // 2, cc - n // 2)
    cyl = (radius < 20).astype(float)
    acf = pet.attenuation_correction_factors(A, pet.mu511_from_hu(0.0) * cyl.ravel(), 0.5)
    A_att = pet.corrected_system_matrix(A, acf=acf)
    x = cyl.ravel() * 50.0
    y = rng.poisson(A_att @ x).astype(float)
    inner = (radius < 15).ravel()
    with_ac, _ = pet.osem(y, A_att, 5, 8, n_angles=n_angles)
    without, _ = pet.osem(y, A, 5, 8, n_angles=n_angles)
    assert with_ac[inner].mean() == pytest.approx(50.0, rel=0.05)
    prof = without.reshape(n, n)[n // 2]
    assert prof[n // 2] < 0.6 * prof[n // 2 - 17]             # cupping: the centre is dark


# --- randoms -------------------------------------------------------------------------------
@pytest.mark.formula("pet.randoms")
def test_randoms_rate_matches_a_monte_carlo_of_two_poisson_detectors(rng):
    s_a, s_b, tau, duration = 2e5, 3e5, 5e-9, 2.0
    t_a = rng.uniform(0, duration, rng.poisson(s_a * duration))
    t_b = rng.uniform(0, duration, rng.poisson(s_b * duration))
    expected = pet.randoms_rate(s_a, s_b, tau) * duration
    assert expected == pytest.approx(2 * tau * s_a * s_b * duration)
    prompt = pet.count_coincidences(t_a, t_b, tau)
    delayed = pet.count_coincidences(t_a, t_b, tau, delay_s=1e-6)
    for counted in (prompt, delayed):
        assert abs(counted - expected) < 4 * np.sqrt(expected)


def test_count_coincidences_counts_pairs_by_brute_force(rng):
    t_a = rng.uniform(0, 1, 200)
    t_b = rng.uniform(0, 1, 150)
    brute = int(np.sum(np.abs(t_a[:, None] - (t_b[None, :] + 0.01)) <= 0.003))
    assert pet.count_coincidences(t_a, t_b, 0.003, delay_s=0.01) == brute


# --- SUV -----------------------------------------------------------------------------------
@pytest.mark.formula("pet.suv")
def test_suv_by_hand():
    half = pet.NUCLIDES["F-18"].half_life_s
    c, dose, weight, t = 12_000.0, 370e6, 75.0, 3600.0
    by_hand = c / (dose * 2.0 ** (-t / half) / (weight * 1000.0))
    assert pet.suv(c, dose, weight, uptake_time_s=t, half_life_s=half) == pytest.approx(by_hand)
    # A tracer spread evenly through a 70 kg body of density 1 g/mL has SUV 1.
    assert pet.suv(dose / 70_000.0, dose, 70.0, uptake_time_s=0.0,
                   half_life_s=half) == pytest.approx(1.0)


# --- partial volume ------------------------------------------------------------------------
@pytest.mark.formula("pet.recovery-coefficient")
def test_recovery_coefficient_is_the_chi_cdf():
    d = np.array([2.0, 5.0, 10.0, 20.0, 40.0])
    fwhm = 8.0
    sigma = fwhm / np.sqrt(8 * np.log(2))
    np.testing.assert_allclose(pet.recovery_coefficient(d, fwhm),
                               stats.chi(2).cdf(d / 2 / sigma), rtol=1e-12)
    np.testing.assert_allclose(pet.recovery_coefficient(d, fwhm, ndim=3),
                               stats.chi(3).cdf(d / 2 / sigma), rtol=1e-10, atol=1e-15)


@pytest.mark.formula("pet.recovery-coefficient")
def test_recovery_coefficient_matches_a_blurred_disk_and_sphere():
    step = 0.25                                                 # mm
    fwhm = 6.0
    sigma = fwhm / np.sqrt(8 * np.log(2)) / step
    for d in (4.0, 8.0, 16.0):
        g = np.arange(-64, 65) * step
        yy, xx = np.meshgrid(g, g, indexing="ij")
        disk = (np.hypot(yy, xx) <= d / 2).astype(float)
        centre = ndimage.gaussian_filter(disk, sigma, mode="constant")[64, 64]
        assert centre == pytest.approx(pet.recovery_coefficient(d, fwhm), abs=0.02)
        g3 = np.arange(-40, 41) * 0.5
        zz, yy3, xx3 = np.meshgrid(g3, g3, g3, indexing="ij")
        ball = (np.sqrt(zz**2 + yy3**2 + xx3**2) <= d / 2).astype(float)
        c3 = ndimage.gaussian_filter(ball, fwhm / np.sqrt(8 * np.log(2)) / 0.5,
                                     mode="constant")[40, 40, 40]
        assert c3 == pytest.approx(pet.recovery_coefficient(d, fwhm, ndim=3), abs=0.03)


def test_gaussian_blur_matrix_matches_scipy_gaussian_filter(rng):
    n = 20
    img = rng.random((n, n))
    for fwhm, trunc in ((2.0, 4.0), (4.5, 3.0)):
        B = pet.gaussian_blur_matrix(n, fwhm, truncate=trunc)
        ref = ndimage.gaussian_filter(img, fwhm / np.sqrt(8 * np.log(2)), mode="constant",
                                      truncate=trunc)
        np.testing.assert_allclose((B @ img.ravel()).reshape(n, n), ref, atol=1e-12)
        assert abs(B - B.T).max() < 1e-15


# --- time of flight ------------------------------------------------------------------------
@pytest.mark.formula("pet.tof-resolution")
def test_tof_resolution_by_hand():
    assert pet.tof_resolution_mm(500.0) == pytest.approx(299_792_458e3 * 500e-12 / 2)
    assert pet.tof_resolution_mm(200.0) == pytest.approx(29.98, abs=0.01)


@pytest.mark.formula("pet.tof-snr-gain")
def test_tof_snr_gain_by_hand_and_growing_with_the_patient():
    assert pet.tof_snr_gain(300.0, 400.0) == pytest.approx(np.sqrt(300 / (0.299792458 * 200)))
    gains = pet.tof_snr_gain(np.array([200.0, 300.0, 400.0]), 400.0)
    assert np.all(np.diff(gains) > 0)


def test_tof_bins_add_up_to_the_non_tof_matrix_and_localise_a_point():
    n = 32
    theta = np.linspace(0, np.pi, 16, endpoint=False)
    A = pet.system_matrix(n, theta)
    n_tof = 8
    T = pet.tof_system_matrix(A, n, theta, n_tof, 3.0)
    m = A.shape[0]
    total = sum(T[t * m:(t + 1) * m] for t in range(n_tof))
    assert abs(total - A).max() < 1e-12
    # A point 10 pixels right of the centre, seen at theta = pi/2, lies at u = +10 along the
    # ray: bin 6 of [8, 12) (bins of 4 pixels from -16) holds most of its TOF profile.
    img = np.zeros((n, n))
    img[n // 2, n // 2 + 10] = 1.0
    proj = (T @ img.ravel()).reshape(n_tof, n, 16)
    k = 8                                                   # theta[8] = pi/2
    profile = proj[:, :, k].sum(axis=1)
    centres = (np.arange(n_tof) - n_tof / 2 + 0.5) * (n / n_tof)
    assert np.argmax(profile) == 6
    mean_u = np.sum(profile * centres) / profile.sum()
    assert mean_u == pytest.approx(10.0, abs=0.6)


# --- MAP-EM --------------------------------------------------------------------------------
def test_quadratic_prior_gradient_matches_a_numerical_gradient(rng):
    img = rng.random((5, 6))

    def prior(v):
        x = v.reshape(5, 6)
        return 0.5 * (np.sum(np.diff(x, axis=0) ** 2) + np.sum(np.diff(x, axis=1) ** 2))

    num = optimize.approx_fprime(img.ravel(), prior, 1e-7)
    np.testing.assert_allclose(pet.quadratic_prior_gradient(img).ravel(), num, atol=1e-5)


@pytest.mark.formula("pet.osl-map")
def test_map_osl_with_beta_zero_is_mlem(rng):
    A = _small_a()
    x = pet.circle_mask(N_SMALL).ravel() * rng.uniform(2, 8, N_SMALL * N_SMALL)
    y = rng.poisson(A @ x + 1.0).astype(float)
    got, hist = pet.map_osl(y, A, 10, 0.0, (N_SMALL, N_SMALL), 1.0)
    ref, ll = pet.mlem(y, A, 10, 1.0)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_allclose(hist, ll, rtol=1e-12)


@pytest.mark.formula("pet.osl-map")
def test_map_osl_converges_to_the_penalised_ml_estimate_of_scipy(rng):
    n = 8
    theta = np.linspace(0, np.pi, 8, endpoint=False)
    A = pet.system_matrix(n, theta)
    support = np.asarray(A.sum(axis=0)).ravel() > 0
    truth = np.where(support, rng.uniform(5, 15, n * n), 0.0)
    y = rng.poisson(A @ truth + 2.0).astype(float)
    beta = 0.05
    est, hist = pet.map_osl(y, A, 3000, beta, (n, n), 2.0)
    assert hist[-1] >= hist[-50] - 1e-9                       # settled
    Ad = A.toarray()[:, support]
    sup_img = support.reshape(n, n)

    def neg_obj(v):
        full = np.zeros(n * n)
        full[support] = v
        img = full.reshape(n, n)
        dr = np.where(sup_img[:-1] & sup_img[1:], np.diff(img, axis=0), 0)
        dc = np.where(sup_img[:, :-1] & sup_img[:, 1:], np.diff(img, axis=1), 0)
        lam = Ad @ v + 2.0
        return -(np.sum(y * np.log(lam) - lam) - beta * 0.5 * (np.sum(dr**2) + np.sum(dc**2)))

    ref = optimize.minimize(neg_obj, np.full(support.sum(), 10.0), method="L-BFGS-B",
                            bounds=[(1e-9, None)] * int(support.sum()),
                            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 20000})
    np.testing.assert_allclose(est[support], ref.x, rtol=2e-3, atol=2e-3)


def test_map_osl_smooths_more_with_larger_beta(rng):
    n, n_angles = 24, 24
    theta = np.linspace(0, np.pi, n_angles, endpoint=False)
    A = pet.system_matrix(n, theta)
    x = pet.circle_mask(n).ravel() * 10.0
    y = rng.poisson(A @ x).astype(float)
    inner = (np.hypot(*np.mgrid[-12:12, -12:12]) < 7).ravel()
    stds = [pet.map_osl(y, A, 30, b, (n, n))[0][inner].std() for b in (0.0, 0.1, 0.4)]
    assert stds[0] > stds[1] > stds[2]


def test_map_osl_refuses_a_too_large_beta_and_a_wrong_shape(rng):
    A = _small_a()
    y = np.round(A @ (pet.circle_mask(N_SMALL).ravel() * 5.0))
    with pytest.raises(ValueError, match="image_shape"):
        pet.map_osl(y, A, 2, 0.1, (N_SMALL, N_SMALL + 1))
    with pytest.raises(ValueError, match="beta"):
        pet.map_osl(y, A, 2, -1.0, (N_SMALL, N_SMALL))
