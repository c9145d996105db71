"""medlib.ultrasound.echoes against closed forms: nepers and decibels, the dB/cm/MHz rule,
impedance, reflection and transmission."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test

from medlib import ultrasound as us


@pytest.mark.formula("us.attenuation")
def test_attenuation_in_nepers_matches_decibels():
    assert us.attenuate(1.0, 1.0, 1.0) == pytest.approx(np.exp(-1))
    alpha_np, d = 0.3, np.linspace(0, 10, 21)
    # Independent: a loss of L dB multiplies an amplitude by 10^(-L/20).
    loss_db = alpha_np * 20 * np.log10(np.e) * d
    np.testing.assert_allclose(us.attenuate(2.0, alpha_np, d), 2.0 * 10 ** (-loss_db / 20))


@pytest.mark.formula("us.neper-db")
def test_one_neper_is_8_686_decibels():
    assert us.neper_to_db(1.0) == pytest.approx(20 / np.log(10))
    assert us.neper_to_db(1.0) == pytest.approx(8.685889638)
    assert us.db_to_neper(us.neper_to_db(0.37)) == pytest.approx(0.37)
    # An intensity falls by the same number of dB: 10 log10(I ratio) = 20 log10(A ratio).
    a = us.attenuate(1.0, 0.5, 3.0)
    assert 10 * np.log10(a**2) == pytest.approx(20 * np.log10(a))


@pytest.mark.formula("us.attenuation-frequency")
def test_db_per_cm_per_mhz_rule():
    assert us.attenuation_db(0.5, 5.0, 10.0) == pytest.approx(25.0)
    assert us.attenuation_db(0.5, 5.0, 10.0, round_trip=True) == pytest.approx(50.0)
    np.testing.assert_allclose(us.attenuation_db(0.5, np.array([2.0, 4.0]), 1.0), [1.0, 2.0])
    assert us.attenuation_db(0.0022, 3.0, 1.0, exponent=2) == pytest.approx(0.0022 * 9)


@pytest.mark.formula("us.attenuation-db")
def test_level_in_db_is_a_straight_line():
    d = np.linspace(0, 8, 9)
    level = us.attenuate_db(0.0, 2.5, d)
    amplitude = us.attenuate(1.0, us.db_to_neper(2.5), d)
    np.testing.assert_allclose(level, 20 * np.log10(amplitude), atol=1e-12)
    assert us.attenuate_db(-3.0, 1.0, 2.0) == pytest.approx(-5.0)


@pytest.mark.formula("us.impedance")
def test_impedance_is_density_times_speed():
    assert us.impedance(998.0, 1482.0) == pytest.approx(1.479e6, rel=1e-3)
    soft = us.tissue("soft tissue")
    assert 1.5e6 < us.impedance(soft.density_kg_per_m3, soft.speed_m_per_s) < 1.7e6


@pytest.mark.formula("us.reflection")
def test_reflection_is_symmetric_bounded_and_conserves_energy(rng):
    z1, z2 = rng.uniform(1e2, 1e7, 1000), rng.uniform(1e2, 1e7, 1000)
    r = us.reflection_coefficient(z1, z2)
    assert np.all((r >= 0) & (r <= 1))
    np.testing.assert_allclose(r, us.reflection_coefficient(z2, z1))
    np.testing.assert_allclose(r + us.transmission_coefficient(z1, z2), 1.0)
    # Independent closed form of the transmitted intensity.
    np.testing.assert_allclose(1 - r, 4 * z1 * z2 / (z1 + z2) ** 2)
    assert us.reflection_coefficient(1.5e6, 1.5e6) == 0.0


@pytest.mark.formula("us.reflection")
def test_reflection_at_real_interfaces():
    z = {k: us.impedance(t.density_kg_per_m3, t.speed_m_per_s) for k, t in us.TISSUES.items()}
    assert us.reflection_coefficient(z["soft tissue"], z["air"]) > 0.998      # gas: no gel
    assert 0.3 < us.reflection_coefficient(z["soft tissue"], z["bone"]) < 0.5  # bone shadows
    assert us.reflection_coefficient(z["fat"], z["muscle"]) < 0.01            # soft interfaces
    # Pressure: inverted echo from a softer medium, transmitted amplitude > 1 into a harder one.
    assert us.reflection_coefficient(z["soft tissue"], z["air"], kind="pressure") < -0.99
    assert us.transmission_coefficient(z["fat"], z["bone"], kind="pressure") > 1
    p = us.reflection_coefficient(z["fat"], z["liver"], kind="pressure")
    assert p**2 == pytest.approx(us.reflection_coefficient(z["fat"], z["liver"]))



@pytest.mark.formula("us.attenuation-frequency")
def test_water_attenuation_grows_as_the_square_of_frequency():
    f = np.array([1.0, 2.0, 5.0, 10.0])
    loss = us.tissue_attenuation_db("water", f, 10.0)
    np.testing.assert_allclose(loss / loss[0], f**2)
    # 10 cm of water at 5 MHz: 0.0022 * 25 * 10 = 0.55 dB (a linear rule would give 0.11 dB).
    assert us.tissue_attenuation_db("water", 5.0, 10.0) == pytest.approx(0.55)
    # Against Pinkerton (1949), alpha / f^2 = 25e-15 s^2/m at 20 degC, in nepers over 1 m:
    alpha_np_per_m = 25e-15 * (5e6) ** 2
    assert us.tissue_attenuation_db("water", 5.0, 100.0) == pytest.approx(
        us.neper_to_db(alpha_np_per_m), rel=0.02)
    assert us.tissue_attenuation_db("water", 5.0, 10.0, round_trip=True) == pytest.approx(1.1)


def test_tissues_follow_the_db_per_cm_per_mhz_rule():
    for name in ("fat", "liver", "muscle", "kidney", "heart", "breast", "bone", "soft tissue"):
        a0 = us.tissue(name).attenuation_db_per_cm_mhz
        np.testing.assert_allclose(us.tissue_attenuation_db(name, [2.0, 4.0], 3.0),
                                   [a0 * 2 * 3, a0 * 4 * 3])
    assert us.tissue_attenuation_db("liver", 5.0, 10.0, round_trip=True) == pytest.approx(50.0)


def test_air_has_no_loss_per_centimetre_only_an_impedance():
    with pytest.raises(ValueError, match="air.*reflects 99.9 %"):
        us.tissue_attenuation_db("air", 5.0, 1.0)
    air, soft = us.tissue("air"), us.tissue("soft tissue")
    z_air = us.impedance(air.density_kg_per_m3, air.speed_m_per_s)
    z_soft = us.impedance(soft.density_kg_per_m3, soft.speed_m_per_s)
    assert z_air == pytest.approx(412.0, abs=1.0)
    assert us.reflection_coefficient(z_soft, z_air) == pytest.approx(0.999, abs=2e-4)   # 99.9 %
    # Through a tissue/air interface and back: a millionth of the intensity, -60 dB.
    assert us.transmission_coefficient(z_soft, z_air) ** 2 < 1.1e-6


def test_impedances_of_the_table():
    z = {k: us.impedance(t.density_kg_per_m3, t.speed_m_per_s) for k, t in us.TISSUES.items()}
    assert z["water"] == pytest.approx(998.0 * 1482.0)
    soft = {k: z[k] for k in ("fat", "breast", "kidney", "muscle", "heart", "liver", "soft tissue")}
    assert min(soft, key=soft.get) == "fat" and soft["fat"] == pytest.approx(1.404e6, rel=1e-3)
    assert max(soft, key=soft.get) == "liver" and soft["liver"] == pytest.approx(1.691e6, rel=1e-3)
    assert z["bone"] == pytest.approx(7.2e6)


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (us.attenuation_db, (0.5, 5.0, 10.0), {"round_trip": "False"}, TypeError,
     "round_trip must be True or False"),
    (us.tissue_attenuation_db, ("liver", 5.0, 10.0), {"round_trip": "no"}, TypeError,
     "round_trip must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


BAD_CALLS = [
    (us.attenuate, (1.0, -0.1, 1.0), {}, ValueError, "alpha_np_per_cm"),
    (us.attenuation_db, (0.5, 0.0, 1.0), {}, ValueError, "frequency_mhz"),
    (us.attenuation_db, (0.5, 5.0, -1.0), {}, ValueError, "depth_cm"),
    (us.impedance, (0.0, 1540.0), {}, ValueError, "density"),
    (us.reflection_coefficient, (0.0, 1.0), {}, ValueError, "z1"),
    (us.reflection_coefficient, (1.0, 2.0), {"kind": "amplitude"}, ValueError, "kind"),
    (us.attenuation_db, (0.5, 5.0, 1.0), {"exponent": -1.0}, ValueError, "exponent"),
    (us.tissue_attenuation_db, ("bones", 5.0, 1.0), {}, ValueError, "name"),
    (us.tissue_attenuation_db, ("air", 5.0, 1.0), {}, ValueError, "name"),
    (us.tissue_attenuation_db, ("water", 0.0, 1.0), {}, ValueError, "frequency_mhz"),
    (us.tissue_attenuation_db, ("liver", 5.0, -1.0), {}, ValueError, "depth_cm"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: arrays that do not broadcast are named (not NumPy's "operands could not be broadcast
# together"), and a huge power-law exponent gives no NaN at zero depth
BROADCAST_CALLS = [
    (us.attenuate, (np.ones(4), np.ones(2), np.ones(4)), {}, ValueError,
     r"alpha_np_per_cm \(2,\)"),
    (us.attenuate_db, (np.ones(4), np.ones(2), np.ones(4)), {}, ValueError,
     r"alpha_db_per_cm \(2,\)"),
    (us.attenuation_db, (np.ones(2), 5.0, np.ones(4)), {}, ValueError,
     r"alpha_db_per_cm_mhz \(2,\)"),
    (us.attenuation_db, (0.5, np.ones(2), np.ones(4)), {}, ValueError, r"frequency_mhz \(2,\)"),
    (us.tissue_attenuation_db, ("liver", np.ones(2), np.ones(4)), {}, ValueError,
     r"frequency_mhz \(2,\)"),
]

test_non_broadcasting_arrays_are_named = bad_input_test(BROADCAST_CALLS)


def test_attenuation_at_zero_depth_is_zero_for_any_exponent():
    loss = us.attenuation_db(0.5, 5.0, np.array([0.0, 1.0]), exponent=1e300)
    assert loss[0] == 0.0 and loss[1] == np.inf          # 0 dB over no path; 5^1e300 overflows
    np.testing.assert_array_equal(us.attenuation_db(0.0, 5.0, [1.0], exponent=1e300), [0.0])
    assert us.attenuation_db(0.5, 5.0, 2.0) == pytest.approx(5.0)  # alpha_0 f d, a scalar


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    x = rng.random(64)
    assert_inputs_unchanged(us.reflection_coefficient, x + 1, x + 2)
    assert_inputs_unchanged(us.attenuate, x, 0.1, x)
    assert_inputs_unchanged(us.tissue_attenuation_db, "water", x + 1, x)


def test_the_package_re_exports_every_public_name():
    from medlib.ultrasound import echoes

    assert set(echoes.__all__) <= set(us.__all__)
    for name in echoes.__all__:
        assert getattr(us, name) is getattr(echoes, name), name
