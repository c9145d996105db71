"""medlib.ultrasound.waves against closed forms: c = lambda f, the travelling wave, z = c t / 2,
and the tissue table."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import constants

from medlib import ultrasound as us

FC = 5e6


@pytest.mark.formula("us.wave-relation")
def test_wavelength_is_speed_over_frequency():
    assert us.wavelength(1540.0, 5e6) == pytest.approx(0.308e-3)
    lam = us.wavelength(np.array([1450.0, 1540.0, 1580.0]), 2.5e6)
    np.testing.assert_allclose(lam * 2.5e6, [1450.0, 1540.0, 1580.0])


@pytest.mark.formula("us.pressure-wave")
def test_pressure_wave_travels_at_the_speed_of_sound():
    x = np.linspace(0, 3e-3, 301)
    t = np.array([0.0, 0.13e-6, 0.5e-6])[:, None]
    p = us.pressure_wave(x[None, :], t, amplitude_pa=2.0, frequency_hz=FC, speed_m_per_s=1540.0)
    # Independent form: a function of t - x / c only.
    np.testing.assert_allclose(p, 2.0 * np.cos(2 * np.pi * FC * (t - x / 1540.0)), atol=1e-12)
    dt = 0.2e-6
    shifted = us.pressure_wave(x + 1540.0 * dt, dt, amplitude_pa=2.0, frequency_hz=FC)
    np.testing.assert_allclose(shifted, us.pressure_wave(x, 0.0, amplitude_pa=2.0,
                                                         frequency_hz=FC), atol=1e-12)


@pytest.mark.formula("us.range-equation")
def test_echo_depth_and_time_are_inverse_and_13_us_per_cm():
    assert us.echo_time(0.01) == pytest.approx(12.987e-6, rel=1e-4)
    z = np.linspace(0, 0.2, 11)
    np.testing.assert_allclose(us.echo_depth(us.echo_time(z)), z)


def test_tissue_table():
    assert us.tissue("soft tissue").speed_m_per_s == us.SOFT_TISSUE_SPEED_M_PER_S
    for t in us.TISSUES.values():
        lo, hi = t.speed_range_m_per_s
        assert lo <= t.speed_m_per_s <= hi
    assert us.tissue("fat").speed_m_per_s < us.tissue("liver").speed_m_per_s



# Goss, Johnston and Dunn (1978, 1980) as summarised in Cardoso and Cowin, Mech. Mater. 44:174
# (2012), Table 3, typed from the table: density (kg/m^3) and speed range (m/s). Bone: cortical.
CARDOSO_TABLE_3 = {
    "fat": (950.0, (1468.0, 1488.0)),
    "breast": (1020.0, (1490.0, 1530.0)),
    "kidney": (1050.0, (1530.0, 1590.0)),
    "muscle": (1050.0, (1517.0, 1600.0)),
    "heart": (1060.0, (1526.0, 1623.0)),
    "liver": (1060.0, (1555.0, 1635.0)),
    "bone": ((1800.0, 2200.0), (3200.0, 4000.0)),
}
# Quarato et al., Diagnostics 13:855 (2023), Table 4, "dB/cm at 1 MHz" (muscle: perpendicular
# fibres). For the tissues this is alpha_0 with n = 1; for water it is alpha_0 of an f^2 law.
QUARATO_TABLE_4 = {"water": 0.0022, "fat": 0.63, "breast": 0.75, "kidney": 1.00, "muscle": 0.96,
                   "heart": 0.52, "liver": 0.50, "bone": 15.0}


@pytest.mark.parametrize("name", list(CARDOSO_TABLE_3))
def test_speeds_and_densities_are_those_of_goss_as_summarised_by_cardoso(name):
    density, (lo, hi) = CARDOSO_TABLE_3[name]
    t = us.tissue(name)
    assert t.speed_range_m_per_s == (lo, hi)
    assert t.speed_m_per_s == pytest.approx((lo + hi) / 2, abs=0.5)      # the middle, rounded
    assert t.density_kg_per_m3 == pytest.approx(np.mean(density))


@pytest.mark.parametrize("name", list(QUARATO_TABLE_4))
def test_attenuation_coefficients_are_the_cited_values(name):
    t = us.tissue(name)
    assert t.attenuation_db_per_cm_mhz == QUARATO_TABLE_4[name]
    assert t.attenuation_exponent == (2.0 if name == "water" else 1.0)


def test_water_and_air_at_20_degrees():
    water, air = us.tissue("water"), us.tissue("air")
    # Water at 20 degC: 1482.3 m/s (Del Grosso and Mader 1972), 998.2 kg/m^3; the table rounds.
    assert water.speed_m_per_s == pytest.approx(1482.3, abs=0.5)
    assert water.density_kg_per_m3 == pytest.approx(998.2, abs=0.5)
    # Water's absorption is viscous, alpha / f^2 = 25e-15 s^2/m (Np) at 20 degC (Pinkerton
    # 1949): alpha_0 in dB/(cm MHz^2) with n = 2.
    alpha0 = 25e-15 * 1e12 * 20 / np.log(10) / 100
    assert water.attenuation_db_per_cm_mhz == pytest.approx(alpha0, rel=0.02)
    assert water.attenuation_exponent == 2.0
    # Air as an ideal gas at 20 degC and 1 atm: c = sqrt(gamma R T / M), rho = p M / (R T).
    r_gas, temp, molar_mass = constants.R, 293.15, 0.028964
    assert air.speed_m_per_s == pytest.approx(np.sqrt(1.4 * r_gas * temp / molar_mass), abs=0.5)
    assert air.density_kg_per_m3 == pytest.approx(constants.atm * molar_mass / (r_gas * temp),
                                                  abs=0.01)
    # No per-cm loss for air: it is described by its impedance alone.
    assert np.isnan(air.attenuation_db_per_cm_mhz) and np.isnan(air.attenuation_exponent)


def test_the_soft_tissue_row_holds_the_conventional_values():
    soft = us.tissue("soft tissue")
    assert (soft.speed_m_per_s, soft.density_kg_per_m3, soft.attenuation_db_per_cm_mhz,
            soft.attenuation_exponent) == (1540.0, 1060.0, 0.5, 1.0)
    measured = [us.tissue(k) for k in CARDOSO_TABLE_3 if k != "bone"]
    assert soft.speed_range_m_per_s == (min(t.speed_range_m_per_s[0] for t in measured),
                                        max(t.speed_range_m_per_s[1] for t in measured))


# issue 11, group 8: errors named an internal argument, or came from NumPy unnamed.
NAMED_CALLS = [
    (us.pressure_wave, (np.ones(3), np.ones(4)), {"amplitude_pa": 1.0, "frequency_hz": 1e6},
     ValueError, r"x_m and t_s must have broadcastable shapes"),
]

test_errors_name_the_callers_argument = bad_input_test(NAMED_CALLS)


BAD_CALLS = [
    (us.wavelength, (1540.0, 0.0), {}, ValueError, "frequency_hz"),
    (us.wavelength, (-1.0, 5e6), {}, ValueError, "speed_m_per_s"),
    (us.pressure_wave, (0.0, 0.0), {"amplitude_pa": 1.0, "frequency_hz": -1.0}, ValueError,
     "frequency_hz"),
    (us.echo_depth, (-1e-6,), {}, ValueError, "t_s"),
    (us.tissue, ("bones",), {}, ValueError, "name"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_dtypes_and_shapes():
    assert isinstance(us.wavelength(1540.0, 1e6), float)


def test_the_package_re_exports_every_public_name():
    from medlib.ultrasound import waves

    assert set(waves.__all__) <= set(us.__all__)
    for name in waves.__all__:
        assert getattr(us, name) is getattr(waves, name), name
