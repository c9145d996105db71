"""medlib.quality.dose (section 10.4) against closed forms, SciPy and the published tables."""
from __future__ import annotations

import math

import numpy as np
import pytest
from badinput import C, Entry
from scipy import integrate, special

from medlib.quality import dose as Q

BAD_INPUT_CALLS = {
    "quality.dose.ctdi100": Entry(
        lambda: C(np.exp(-np.linspace(-60, 60, 25) ** 2 / 200), np.linspace(-60, 60, 25), 20.0)),
    "quality.dose.ctdi_w": Entry(lambda: C(10.0, np.array([19.0, 20.0, 21.0, 20.0]))),
    "quality.dose.ctdi_vol": Entry(lambda: C(16.0, 1.2)),
    "quality.dose.dlp": Entry(lambda: C(np.array([10.0, 13.0]), 35.0)),
    "quality.dose.equivalent_dose": Entry(lambda: C(np.array([0.001, 0.01]), "photons")),
    "quality.dose.effective_dose": Entry(lambda: C({"lung": 10.0, "breast": 8.0}),
                                         skip={"equivalent_doses_msv"}),   # a dict, tested below
    "quality.dose.effective_dose_from_dlp": Entry(lambda: C(np.array([400.0, 900.0]), "chest")),
    "quality.dose.tissue_weighting_factors": Entry(lambda: C()),
    "quality.dose.radiation_weighting_factors": Entry(lambda: C()),
    "quality.dose.dlp_k_factors": Entry(lambda: C()),
    "quality.dose.typical_effective_doses": Entry(lambda: C()),
}


def profile(z, width=20.0, blur=3.0, tail=0.1, tail_length=40.0):
    """A beam profile: a 20 mm rectangle with Gaussian edges, plus exponential scatter tails."""
    edges = special.ndtr((z + width / 2) / blur) - special.ndtr((z - width / 2) / blur)
    return 10.0 * (edges + tail * np.exp(-np.abs(z) / tail_length))


@pytest.mark.formula("quality.ctdi100")
def test_ctdi100_integrates_the_profile_over_100_mm():
    z = np.linspace(-80, 80, 3201)
    expected = integrate.quad(profile, -50, 50, limit=200)[0] / 20.0
    assert Q.ctdi100(profile(z), z, 20.0) == pytest.approx(expected, rel=1e-5)
    # an ideal 20 mm rectangle of 10 mGy: CTDI_100 = 10 mGy
    ideal = 10.0 * (np.abs(z) <= 10)
    assert Q.ctdi100(ideal, z, 20.0) == pytest.approx(10.0, rel=3e-3)   # half a step per edge


@pytest.mark.formula("quality.ctdi-w")
def test_ctdi_w_weights_centre_one_third():
    assert Q.ctdi_w(10.0, 20.0) == pytest.approx(50.0 / 3)
    assert Q.ctdi_w(10.0, [18.0, 20.0, 22.0, 20.0]) == pytest.approx(10 / 3 + 40 / 3)
    # a dose falling linearly from surface to centre: its area average over the disk is
    # close to CTDI_w (exact average of a + b r over the disk: a + 2 b R / 3)
    centre, surface, radius = 10.0, 22.0, 16.0
    average = integrate.quad(lambda r: (centre + (surface - centre) * r / radius) * 2 * r,
                             0, radius)[0] / radius**2
    periphery = centre + (surface - centre) * 15 / 16       # 1 cm below the surface
    assert Q.ctdi_w(centre, periphery) == pytest.approx(average, rel=0.03)


@pytest.mark.formula("quality.ctdi-vol")
def test_ctdi_vol_divides_by_pitch():
    assert Q.ctdi_vol(16.0, 1.0) == 16.0
    assert Q.ctdi_vol(16.0, 1.6) == pytest.approx(10.0)


@pytest.mark.formula("quality.dlp")
def test_dlp_is_ctdi_vol_times_length():
    assert Q.dlp(12.0, 35.0) == pytest.approx(420.0)
    np.testing.assert_allclose(Q.dlp(np.array([10.0, 60.0]), np.array([35.0, 15.0])), [350, 900])


@pytest.mark.formula("quality.effective-dose")
def test_icrp103_weights_sum_to_one_and_give_the_published_values():
    w = Q.tissue_weighting_factors()
    assert math.fsum(w.values()) == pytest.approx(1.0, abs=1e-12)
    assert len(w) == 15
    assert sorted(k for k, v in w.items() if v == 0.12) == sorted(
        ["red bone marrow", "colon", "lung", "stomach", "breast", "remainder"])
    assert w["gonads"] == 0.08 and w["thyroid"] == 0.04 and w["brain"] == 0.01
    uniform = {t: 5.0 for t in w}                        # a uniform whole-body dose: E = H
    assert Q.effective_dose(uniform) == pytest.approx(5.0)
    assert Q.effective_dose({"lung": 10.0, "thyroid": 2.0}) == pytest.approx(1.2 + 0.08)
    w["lung"] = 1.0                                      # a copy: the table is not changed
    assert Q.tissue_weighting_factors()["lung"] == 0.12


@pytest.mark.formula("quality.equivalent-dose")
def test_equivalent_dose_uses_icrp103_radiation_weights():
    assert Q.equivalent_dose(0.002) == pytest.approx(0.002)
    assert Q.equivalent_dose(0.002, "alpha particles") == pytest.approx(0.04)
    assert Q.radiation_weighting_factors()["protons"] == 2.0


@pytest.mark.formula("quality.e-dlp")
def test_effective_dose_from_dlp_uses_aapm96_coefficients():
    k = Q.dlp_k_factors()
    assert k["head"] == 0.0021 and k["chest"] == 0.014 and k["abdomen and pelvis"] == 0.015
    # a typical chest CT (DLP about 500 mGy cm) lands on Mettler's 7 mSv
    assert Q.effective_dose_from_dlp(500.0, "chest") == pytest.approx(7.0)
    assert Q.typical_effective_doses()["chest CT"][0] == 7.0


def test_typical_doses_have_sources_and_span_three_decades():
    table = Q.typical_effective_doses()
    values = [v for v, _ in table.values()]
    assert all(src for _, src in table.values())
    assert max(values) / min(values) > 500
    # Mettler 2008: FDG 14.1 mSv for 740 MBq, i.e. 0.019 mSv/MBq (ICRP 106)
    assert table["FDG PET (F-18, 740 MBq)"][0] / 740 == pytest.approx(0.019, abs=5e-4)


def test_bad_arguments_are_named():
    z = np.linspace(-40, 40, 9)
    with pytest.raises(ValueError, match="z_mm must cover"):
        Q.ctdi100(np.ones(9), z, 10.0)
    with pytest.raises(ValueError, match="pitch"):
        Q.ctdi_vol(10.0, 0.0)
    with pytest.raises(ValueError, match="unknown tissue 'lungs'"):
        Q.effective_dose({"lungs": 1.0})
    with pytest.raises(ValueError, match=r"equivalent_doses_msv\['lung'\]"):
        Q.effective_dose({"lung": -1.0})
    with pytest.raises(TypeError, match="equivalent_doses_msv"):
        Q.effective_dose([("lung", 1.0)])
    with pytest.raises(ValueError, match="region"):
        Q.effective_dose_from_dlp(100.0, "thorax")
    with pytest.raises(ValueError, match="radiation"):
        Q.equivalent_dose(1.0, "neutrons")
