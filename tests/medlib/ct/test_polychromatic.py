"""medlib.ct.polychromatic (chapters/ct/polychromatic.ipynb) against xraydb (Elam's tables, an
independent compilation), Kramers' closed form, quadrature and monochromatic limits."""
from __future__ import annotations

import numpy as np
import pytest
import xraydb
from badinput import C, Entry
from helpers import bad_input_test
from scipy import integrate

from medlib import ct

# Elemental mass fractions: water; ICRU-44 soft tissue and cortical bone (NIST SRD 126 Table 2);
# dry air near sea level. xraydb's per-element Elam cross sections, mixed by mass fraction,
# are the independent reference for the typed NIST table.
COMPOSITION = {
    "water": {"H": 0.111894, "O": 0.888106},
    "soft tissue": dict(H=.102, C=.143, N=.034, O=.708, Na=.002, P=.003, S=.003, Cl=.002, K=.003),
    "bone": dict(H=.034, C=.155, N=.042, O=.435, Na=.001, Mg=.002, P=.103, S=.003, Ca=.225),
    "aluminium": {"Al": 1.0},
    "copper": {"Cu": 1.0},
    "air": dict(C=.000124, N=.755268, O=.231781, Ar=.012827),
}


def elam_mu_rho(material, energy_kev, kind="total"):
    return sum(w * xraydb.mu_elam(el, np.asarray(energy_kev) * 1e3, kind=kind)
               for el, w in COMPOSITION[material].items())


@pytest.mark.parametrize("material", sorted(COMPOSITION))
def test_table_agrees_with_xraydb(material):
    # NIST (XCOM) and Elam et al. (2002) compile the same photoelectric (Scofield) and
    # scattering cross sections, with different renormalisations and fits; they agree to about
    # 1 %. The tolerance, 1.5 %, also covers the interpolation between NIST's coarse grid
    # points (a log-log cubic spline) and the rounding of the compositions.
    e = np.geomspace(10, 150, 97)
    ours = ct.mass_attenuation(material, e)
    ref = elam_mu_rho(material, e)
    assert np.allclose(ours, ref, rtol=0.015), np.max(np.abs(ours / ref - 1))


def test_xraydb_materials_agree_for_the_linear_coefficient():
    e = np.array([20.0, 60.0, 120.0])
    for ours, theirs in [("water", "water"), ("aluminium", "aluminum"), ("copper", "copper")]:
        ref = xraydb.material_mu(theirs, e * 1e3)       # 1/cm at xraydb's density
        density = {"water": 1.0, "aluminum": 2.699, "copper": 8.96}[theirs]
        ref = ref / xraydb.get_material(theirs)[1] * density
        assert np.allclose(ct.linear_attenuation(ours, e), ref, rtol=0.015)


def test_linear_log_log_interpolation_would_err_by_4_percent():
    # Why a spline: straight lines in log-log between NIST's 20 and 30 keV miss by ~4 %.
    e = np.sqrt(20.0 * 30.0)
    linear = np.sqrt(0.8096 * 0.3756)
    assert abs(linear / elam_mu_rho("water", e) - 1) > 0.03
    assert abs(ct.mass_attenuation("water", e) / elam_mu_rho("water", e) - 1) < 0.01


def test_table_matches_part_one_at_the_nist_energies():
    for material in ("water", "soft tissue", "bone", "air"):
        for e in (40.0, 50.0, 60.0, 80.0, 100.0):
            assert ct.linear_attenuation(material, e) == pytest.approx(
                ct.attenuation_coefficient(material, e), rel=1e-12)


def test_air_energy_absorption_is_photo_plus_compton_transfer():
    # Below 20 keV, mu_en ~ photoabsorption; above 80 keV, photo + incoherent times the mean
    # fraction of energy given to the Compton electron (Klein-Nishina, integrated by quad).
    mod = ct.polychromatic
    e = mod.XCOM_ENERGIES_KEV
    photo = elam_mu_rho("air", e, "photo")
    assert np.allclose(mod.AIR_MU_EN_RHO[:3], photo[:3], rtol=0.015)
    incoh = elam_mu_rho("air", e, "incoh")

    def transfer_fraction(k):                    # k = E / (m c^2)
        def dsigma(c):
            r = 1 / (1 + k * (1 - c))
            return r**2 * (r + 1 / r - (1 - c**2))
        num = integrate.quad(lambda c: dsigma(c) * (1 - 1 / (1 + k * (1 - c))), -1, 1)[0]
        return num / integrate.quad(dsigma, -1, 1)[0]

    for i in (7, 8, 9):
        expected = photo[i] + incoh[i] * transfer_fraction(e[i] / 511.0)
        assert mod.AIR_MU_EN_RHO[i] == pytest.approx(expected, rel=0.04)


@pytest.mark.formula("ct.kramers")
def test_kramers_closed_form():
    e = np.array([10.0, 30.0, 60.0, 119.0, 120.0, 130.0])
    phi = ct.kramers_spectrum(e, 120.0)
    assert np.allclose(phi, [11.0, 3.0, 1.0, 1 / 119, 0.0, 0.0])
    # Energy fluence E Phi(E) falls linearly to zero at kVp (Kramers' law for the intensity).
    psi = e[:4] * phi[:4]
    assert np.allclose(np.diff(psi) / np.diff(e[:4]), -1.0)


def test_tube_spectrum_is_kramers_times_filter_transmission():
    e, phi = ct.tube_spectrum(100, aluminium_mm=3.0, copper_mm=0.1, step_kev=2.0)
    assert e[0] == 11.0 and e[-1] < 100 and phi.sum() == pytest.approx(1.0)
    mu = elam_mu_rho("aluminium", e) * 2.699 * 0.3 + elam_mu_rho("copper", e) * 8.96 * 0.01
    ref = (100 - e) / e * np.exp(-mu)
    assert np.allclose(phi, ref / ref.sum(), rtol=0.03, atol=1e-6)


@pytest.mark.formula("ct.hvl")
def test_hvl_of_a_monoenergetic_beam_is_ln2_over_mu():
    e = np.array([59.0, 60.0, 61.0])
    phi = np.array([0.0, 1.0, 0.0])
    for weighting in ("kerma", "photons"):
        hvl = ct.half_value_layer_mm(e, phi, "aluminium", weighting=weighting)
        mu = elam_mu_rho("aluminium", 60.0) * 2.699 / 10      # 1/mm
        assert hvl == pytest.approx(np.log(2) / mu, rel=0.01)


@pytest.mark.formula("ct.hvl")
def test_hvl_halves_the_kerma_and_the_beam_hardens():
    e, phi = ct.tube_spectrum(120, aluminium_mm=6.0)
    hvl1 = ct.half_value_layer_mm(e, phi)
    # Independent kerma with xraydb's coefficients (total attenuation; mu_en from our table).
    t = np.exp(-elam_mu_rho("aluminium", e) * 2.699 * hvl1 / 10)
    k = phi * e * ct.polychromatic._loglog(ct.polychromatic.AIR_MU_EN_RHO, e)
    assert np.sum(k * t) / np.sum(k) == pytest.approx(0.5, abs=0.005)
    hardened = ct.filter_spectrum(e, phi, hvl1)
    hvl2 = ct.half_value_layer_mm(e, hardened)
    assert hvl2 > 1.1 * hvl1                       # second HVL > first: the beam hardened
    assert ct.half_value_layer_mm(e, phi, weighting="photons") != pytest.approx(hvl1, rel=0.01)


@pytest.mark.formula("ct.effective-energy")
def test_effective_energy_inverts_mu():
    for energy in (25.0, 47.3, 60.0, 100.0):
        mu_mm = elam_mu_rho("aluminium", energy) * 2.699 / 10
        assert ct.effective_energy_kev(np.log(2) / mu_mm) == pytest.approx(energy, rel=0.01)
    e, phi = ct.tube_spectrum(120, aluminium_mm=8.0)
    e_eff = ct.effective_energy_kev(ct.half_value_layer_mm(e, phi))
    assert 30 < e_eff < np.average(e, weights=phi)   # the HVL's energy is below the mean


@pytest.mark.formula("ct.polychromatic-projection")
def test_polychromatic_projection_quadrature_and_limits():
    e, phi = ct.tube_spectrum(120, aluminium_mm=6.0)
    lengths = np.array([0.0, 1.0, 10.0, 30.0])
    p = ct.polychromatic_projection(lengths, e, phi)
    mu = elam_mu_rho("water", e)
    direct = -np.log([np.sum(phi * np.exp(-mu * x)) for x in lengths])
    assert np.allclose(p, direct, rtol=0.01, atol=1e-12)
    slope0 = np.sum(phi * mu) / np.sum(phi)
    thin = ct.polychromatic_projection(0.01, e, phi)
    assert thin / 0.01 == pytest.approx(slope0, rel=0.01)
    assert np.all(np.diff(p / np.maximum(lengths, 1e-9))[1:] < 0)    # mu_eff falls: hardening
    # Monoenergetic beam: Lambert-Beer exactly.
    mono = ct.polychromatic_projection(lengths, [59.0, 60.0, 61.0], [0, 1, 0])
    assert np.allclose(mono, ct.attenuation_coefficient("water", 60) * lengths)
    # Two materials add in the exponent; energy-integrating weights E Phi.
    two = ct.polychromatic_projection(np.array([[5.0], [1.0]]), e, phi, ["water", "bone"],
                                      detector="integrating")
    mu_b = elam_mu_rho("bone", e) * 1.92
    expected = -np.log(np.sum(e * phi * np.exp(-5 * mu - mu_b)) / np.sum(e * phi))
    assert two[0] == pytest.approx(expected, rel=0.01)


@pytest.mark.formula("ct.water-correction")
def test_water_correction_linearises_water():
    e, phi = ct.tube_spectrum(120, aluminium_mm=6.0)
    c = ct.water_correction_coefficients(e, phi, max_path_cm=40.0, degree=4)
    assert c[0] == 0.0
    lengths = np.linspace(0.5, 38.0, 23)
    p = ct.polychromatic_projection(lengths, e, phi)
    mu_ref = np.sum(phi * elam_mu_rho("water", e)) / np.sum(phi)
    corrected = ct.apply_water_correction(p, c)
    assert np.allclose(corrected, mu_ref * lengths, rtol=0.002, atol=0.002)
    assert np.max(np.abs(p / (mu_ref * lengths) - 1)) > 0.1       # before: > 10 % off
    assert ct.apply_water_correction(2.0, [0.0, 1.0, 0.5]) == pytest.approx(4.0)


def test_inputs_untouched():
    e, phi = ct.tube_spectrum(80)
    e0, phi0 = e.copy(), phi.copy()
    ct.filter_spectrum(e, phi, 1.0)
    ct.half_value_layer_mm(e, phi)
    ct.polychromatic_projection(np.ones(3), e, phi)
    assert np.array_equal(e, e0) and np.array_equal(phi, phi0)


_E, _PHI = ct.tube_spectrum(80, step_kev=5.0)
BAD_CALLS = [
    (ct.mass_attenuation, ("lead", 60.0), {}, ValueError, "material"),
    (ct.mass_attenuation, ("water", 200.0), {}, ValueError, "energy_kev"),
    (ct.kramers_spectrum, ([30.0], 200.0), {}, ValueError, "kvp"),
    (ct.filter_spectrum, (_E, _PHI, -1.0), {}, ValueError, "thickness_mm"),
    (ct.filter_spectrum, (_E[::-1], _PHI, 1.0), {}, ValueError, "energy_kev"),
    (ct.half_value_layer_mm, (_E, _PHI[:-1]), {}, ValueError, "fluence"),
    (ct.half_value_layer_mm, (_E, 0 * _PHI), {}, ValueError, "fluence"),
    (ct.half_value_layer_mm, (_E, _PHI), {"weighting": "dose"}, ValueError, "weighting"),
    (ct.effective_energy_kev, (1e4,), {}, ValueError, "hvl_mm"),
    (ct.tube_spectrum, (120,), {"copper_mm": 5000.0}, ValueError, "filtration"),
    (ct.polychromatic_projection, (np.ones((3, 2)), _E, _PHI, ["water", "bone"]), {},
     ValueError, "path_cm"),
    (ct.polychromatic_projection, (np.ones(2), _E, _PHI, 3), {}, TypeError, "materials"),
    (ct.water_correction_coefficients, (_E, _PHI), {"degree": 0}, ValueError, "degree"),
    (ct.apply_water_correction, (np.ones(3), []), {}, ValueError, "coefficients"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)

BAD_INPUT_CALLS = {
    "ct.polychromatic.mass_attenuation": Entry(lambda: C("water", np.array([20.0, 60.0]))),
    "ct.polychromatic.linear_attenuation": Entry(lambda: C("bone", np.array([20.0, 60.0]))),
    "ct.polychromatic.kramers_spectrum": Entry(lambda: C(np.array([20.0, 50.0]), 80.0)),
    "ct.polychromatic.filter_spectrum": Entry(
        lambda: C(np.array([20.0, 40.0, 60.0]), np.array([1.0, 2.0, 1.0]), 2.0, "aluminium")),
    "ct.polychromatic.tube_spectrum": Entry(
        lambda: C(80.0, aluminium_mm=2.5, copper_mm=0.1, step_kev=5.0)),
    "ct.polychromatic.air_kerma": Entry(
        lambda: C(np.array([20.0, 40.0, 60.0]), np.array([1.0, 2.0, 1.0]))),
    "ct.polychromatic.half_value_layer_mm": Entry(
        lambda: C(np.array([20.0, 40.0, 60.0]), np.array([1.0, 2.0, 1.0]), "aluminium",
                  weighting="kerma")),
    "ct.polychromatic.effective_energy_kev": Entry(lambda: C(3.0, "aluminium")),
    "ct.polychromatic.polychromatic_projection": Entry(
        lambda: C(np.array([0.0, 5.0, 20.0]), np.array([20.0, 40.0, 60.0]),
                  np.array([1.0, 2.0, 1.0]), "water", detector="counting")),
    "ct.polychromatic.water_correction_coefficients": Entry(
        lambda: C(np.array([20.0, 40.0, 60.0]), np.array([1.0, 2.0, 1.0]), max_path_cm=20.0,
                  degree=3, detector="counting", mu_ref_per_cm=0.2)),
    "ct.polychromatic.apply_water_correction": Entry(
        lambda: C(np.array([0.5, 1.0, 2.0]), np.array([0.0, 1.0, 0.1]))),
}


@pytest.mark.formula("ct.water-correction")
def test_the_bar_cupping_of_a_water_cylinder_below_one_percent_after_correction():
    e, phi = ct.tube_spectrum(120, aluminium_mm=6.0, copper_mm=0.1)
    n, pixel_cm = 128, 40.0 / 128
    theta = np.linspace(0, np.pi, 180, endpoint=False)
    path = ct.radon_ellipses([[1.0, 0.75, 0.75, 0, 0, 0]], theta, n) * pixel_cm
    sino = ct.polychromatic_projection(path, e, phi, detector="integrating")
    coefficients = ct.water_correction_coefficients(e, phi, detector="integrating")
    r = np.hypot(*np.mgrid[-64:64, -64:64])
    centre, edge = r < 5, (r > 0.85 * 48) & (r < 0.95 * 48)

    def cupping(image):
        return (image[edge].mean() - image[centre].mean()) / image[edge].mean()

    before = cupping(ct.fbp(sino, theta))
    after = cupping(ct.fbp(ct.apply_water_correction(sino, coefficients), theta))
    assert before > 0.02 and abs(after) < 0.01


@pytest.mark.formula("ct.hvl")
def test_the_course_ct_beam_has_a_typical_ct_hvl():
    # 120 kVp, 6 mm Al + 0.1 mm Cu: a first HVL in the 6-8 mm Al usually quoted for CT.
    e, phi = ct.tube_spectrum(120, aluminium_mm=6.0, copper_mm=0.1)
    assert 6.0 < ct.half_value_layer_mm(e, phi) < 8.0
