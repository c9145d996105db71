"""medlib.mri.bloch against independent references: CODATA/IUPAC constants (scipy.constants),
direct numerical integration of the Bloch equation (scipy.integrate.solve_ivp) and the closed
forms of inversion recovery, the spoiled gradient echo and the Ernst angle."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from helpers import bad_input_test, integrate_bloch
from scipy import constants, optimize

from medlib import mri

RTOL = 1e-6          # the bar for simulator versus closed forms





# --- Larmor frequency -------------------------------------------------------------------------

@pytest.mark.formula("mri.larmor")
def test_proton_gyromagnetic_ratio_is_codatas_shielded_proton():
    ref = constants.physical_constants["shielded proton gyromag. ratio in MHz/T"][0]
    assert mri.GAMMA_BAR_MHZ_PER_T["1H"] == pytest.approx(ref, rel=1e-7)
    assert mri.larmor_frequency_mhz(1.0) == pytest.approx(ref, rel=1e-7)



@pytest.mark.formula("mri.larmor")
def test_proton_value_and_its_citation_are_the_same_codata_edition():
    # gamma'_p / 2 pi, shielded proton in water at 25 degC, MHz/T: CODATA 2022 and 2018.
    codata_2022, codata_2018 = 42.57638543, 42.57638474
    assert mri.GAMMA_BAR_MHZ_PER_T["1H"] == pytest.approx(codata_2022, abs=1e-9)
    assert abs(mri.GAMMA_BAR_MHZ_PER_T["1H"] - codata_2018) > 5e-7
    doc = inspect.getdoc(mri.larmor_frequency_mhz)
    references = doc.split("References")[1]
    assert "fundamental physical constants: 2022" in " ".join(references.split())
    assert "2018" not in references


@pytest.mark.formula("mri.larmor")
def test_other_nuclei_follow_iupac_frequency_ratios():
    # Xi (%) of Harris et al. 2001, Table: 13C (TMS), 23Na (NaCl in D2O), 31P (85 % H3PO4).
    xi = {"13C": 25.145020, "23Na": 26.451900, "31P": 40.480742}
    proton = constants.physical_constants["shielded proton gyromag. ratio in MHz/T"][0]
    for nucleus, ratio in xi.items():
        assert mri.larmor_frequency_mhz(1.0, nucleus) == pytest.approx(ratio / 100 * proton,
                                                                      rel=1e-6)
    # The rounded values of MR textbooks (42.58, 10.71, 11.26, 17.24 MHz/T).
    textbook = {"1H": 42.58, "13C": 10.71, "23Na": 11.26, "31P": 17.24}
    for nucleus, value in textbook.items():
        assert abs(mri.GAMMA_BAR_MHZ_PER_T[nucleus] - value) < 0.006



@pytest.mark.formula("mri.larmor")
def test_larmor_frequency_scales_with_the_field():
    b0 = np.array([1.5, 3.0, 7.0])
    f = mri.larmor_frequency_mhz(b0)
    np.testing.assert_allclose(f, b0 * constants.physical_constants[
        "shielded proton gyromag. ratio in MHz/T"][0], rtol=1e-7)
    assert 127.7 < mri.larmor_frequency_mhz(3.0) < 127.8
    # omega0 = gamma B0 with gamma in rad/s/T
    gamma = constants.physical_constants["shielded proton gyromag. ratio"][0]
    assert 2 * np.pi * mri.larmor_frequency_mhz(3.0) * 1e6 == pytest.approx(gamma * 3.0, rel=1e-7)



# --- Operators against the Bloch equation integrated numerically ------------------------------

@pytest.mark.formula("mri.hard-pulse", "mri.bloch")
@pytest.mark.parametrize("axis, w_dir", [("x", (1, 0, 0)), ("y", (0, 1, 0)), ("-x", (-1, 0, 0)),
                                         ("-y", (0, -1, 0))])
def test_hard_pulse_is_the_solution_of_the_bloch_equation(axis, w_dir):
    m = np.array([0.3, -0.5, 0.7])
    w1 = 2 * np.pi / 3.0                           # rad/ms
    duration = 0.8
    ref = integrate_bloch(m, duration, w1 * np.array(w_dir, float))
    r = mri.rf_rotation(np.rad2deg(w1 * duration), axis)
    np.testing.assert_allclose(r @ m, ref, atol=1e-10)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-14)
    assert np.linalg.det(r) == pytest.approx(1.0)



@pytest.mark.formula("mri.hard-pulse")
def test_ninety_degrees_about_x_tips_z_to_plus_y():
    np.testing.assert_allclose(mri.rf_rotation(90, "x") @ [0, 0, 1], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(mri.rf_rotation(90, "y") @ [0, 0, 1], [-1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(mri.rf_rotation(180, "x") @ [0, 0, 1], [0, 0, -1], atol=1e-15)



@pytest.mark.formula("mri.free-precession", "mri.bloch")
def test_free_precession_is_the_solution_of_the_bloch_equation():
    rng = np.random.default_rng(3)
    m = rng.normal(size=(3, 6))
    t1 = rng.uniform(300, 2000, 6)
    t2 = rng.uniform(20, 200, 6)
    df = rng.uniform(-80, 80, 6)
    m0 = rng.uniform(0.5, 1.0, 6)
    tau = 17.0
    ours = mri.free_precession(m, tau, t1, t2, m0=m0, off_resonance_hz=df)
    for i in range(6):
        w = np.array([0.0, 0.0, 2 * np.pi * df[i] * 1e-3])
        ref = integrate_bloch(m[:, i], tau, w, t1[i], t2[i], m0[i])
        np.testing.assert_allclose(ours[:, i], ref, atol=1e-10)



@pytest.mark.formula("mri.free-precession")
def test_positive_off_resonance_turns_clockwise():
    m = mri.free_precession([1.0, 0.0, 0.0], 2.5, np.inf, np.inf, off_resonance_hz=100.0)
    np.testing.assert_allclose(m[:, 0], [0.0, -1.0, 0.0], atol=1e-12)   # a quarter turn



@pytest.mark.formula("mri.bloch")
def test_simulator_matches_a_direct_integration_of_a_whole_sequence():
    # 60x - 9 ms - 120y - 5 ms for three isochromats, against solve_ivp event by event.
    t1, t2, df = np.array([900.0, 400.0, 1500.0]), np.array([80.0, 40.0, 150.0]), \
        np.array([-30.0, 0.0, 55.0])
    res = mri.bloch_simulate([mri.pulse(60), mri.free(9.0), mri.pulse(120, "y"), mri.free(5.0)],
                             t1, t2, off_resonance_hz=df)
    for i in range(3):
        m = mri.rf_rotation(60, "x") @ np.array([0.0, 0.0, 1.0])
        m = integrate_bloch(m, 9.0, np.array([0, 0, 2 * np.pi * df[i] * 1e-3]), t1[i], t2[i])
        m = mri.rf_rotation(120, "y") @ m
        m = integrate_bloch(m, 5.0, np.array([0, 0, 2 * np.pi * df[i] * 1e-3]), t1[i], t2[i])
        np.testing.assert_allclose(res.m[:, i], m, atol=1e-10)



@pytest.mark.formula("mri.inversion-recovery")
@pytest.mark.parametrize("tr", [np.inf, 3000.0])
def test_simulated_inversion_recovery_is_the_closed_form(tr):
    t1 = np.array([343.0, 884.0, 1124.0, 4300.0])
    ti = 400.0
    if np.isinf(tr):
        events = [mri.pulse(180), mri.free(ti), mri.readout()]
    else:   # 90 (readout) ... TR-TI ... 180 ... TI ..., twice: the second is the steady state
        events = [mri.pulse(90), mri.spoil(), mri.free(tr - ti), mri.pulse(180), mri.free(ti),
                  mri.readout()] * 2
    res = mri.bloch_simulate(events, t1, 60.0)
    np.testing.assert_allclose(res.readouts[-1, 2], mri.inversion_recovery(ti, t1, tr_ms=tr),
                               rtol=RTOL)



@pytest.mark.formula("mri.inversion-recovery")
def test_inversion_null_time_zeroes_the_closed_form():
    for tr in (np.inf, 2500.0):
        ti = mri.inversion_null_time(343.0, tr_ms=tr)
        assert abs(mri.inversion_recovery(ti, 343.0, tr_ms=tr)) < 1e-12
    assert mri.inversion_null_time(1000.0) == pytest.approx(1000.0 * np.log(2))



@pytest.mark.formula("mri.spoiled-gre", "mri.ernst-angle")
@pytest.mark.parametrize("tr, t1", [(10.0, 884.0), (25.0, 1820.0), (100.0, 343.0)])
def test_simulated_spoiled_gradient_echo_reaches_the_ernst_steady_state(tr, t1):
    alpha = mri.ernst_angle_deg(tr, t1)
    e1 = np.exp(-tr / t1)
    n_pulses = int(np.ceil(np.log(1e-9) / np.log(np.cos(np.deg2rad(alpha)) * e1))) + 1
    te, t2 = 4.0, 60.0
    cycle = [mri.pulse(alpha), mri.free(te), mri.readout(), mri.free(tr - te), mri.spoil()]
    res = mri.bloch_simulate(cycle * n_pulses, t1, t2, average=True)
    s = mri.spoiled_gre_signal(tr, alpha, t1, te_ms=te, t2star_ms=t2)
    assert abs(res.signal[-1]) == pytest.approx(s, rel=RTOL)
    # At the Ernst angle the steady state equals sqrt((1 - E1) / (1 + E1)) (times exp(-TE/T2)).
    assert s == pytest.approx(np.sqrt((1 - e1) / (1 + e1)) * np.exp(-te / t2), rel=1e-12)



@pytest.mark.formula("mri.ernst-angle")
def test_ernst_angle_maximises_the_signal_numerically():
    for tr, t1 in [(5.0, 1084.0), (50.0, 884.0), (2000.0, 343.0)]:
        best = optimize.minimize_scalar(lambda a, tr=tr, t1=t1: -mri.spoiled_gre_signal(tr, a, t1),
                                        bounds=(0.0, 90.0), method="bounded",
                                        options={"xatol": 1e-10})
        assert mri.ernst_angle_deg(tr, t1) == pytest.approx(best.x, abs=1e-4)



def test_readouts_can_be_averaged_or_kept_per_isochromat():
    events = [mri.pulse(90), mri.readout(), mri.free(5.0), mri.readout()]
    full = mri.bloch_simulate(events, 1000.0, [50.0, 60.0, 70.0])
    mean = mri.bloch_simulate(events, 1000.0, [50.0, 60.0, 70.0], average=True)
    assert full.readouts.shape == (2, 3, 3) and mean.readouts.shape == (2, 3)
    np.testing.assert_allclose(mean.readouts, full.readouts.mean(axis=2), atol=1e-15)
    assert full.m.dtype == np.float64 and full.m.shape == (3, 3)
    assert mean.signal.dtype == np.complex128
    empty = mri.bloch_simulate([mri.free(1.0)], 1000.0, 50.0)
    assert empty.readouts.shape == (0, 3, 1) and empty.times_ms.shape == (0,)



def test_m_init_and_infinite_relaxation():
    res = mri.bloch_simulate([mri.free(10.0)], np.inf, np.inf, m_init=[1.0, 0.0, 0.0])
    np.testing.assert_allclose(res.m[:, 0], [1.0, 0.0, 0.0])



def test_lorentzian_offsets_are_symmetric_quantiles():
    df = mri.lorentzian_off_resonance(1001, 10.0)
    np.testing.assert_allclose(df, -df[::-1], atol=1e-9)
    w = 1 / (2 * np.pi * 10e-3)
    assert np.mean(np.abs(df) < w) == pytest.approx(0.5, abs=0.002)   # half within +-w



# --- Bad input, purity ------------------------------------------------------------------------

def test_inversion_null_time_without_relaxation_is_the_formulas_limit():
    # issue 11, group 5: T1 = inf is allowed ("no relaxation") and gave NaN (inf / inf).
    assert mri.inversion_null_time(np.inf) == np.inf               # T1 ln 2 with T1 -> inf
    assert mri.inversion_null_time(np.inf, tr_ms=1000.0) == 500.0  # T1 ln(2/(1+e^-x)) -> TR/2
    np.testing.assert_allclose(mri.inversion_null_time([1e12, np.inf], tr_ms=[1000.0, 80.0]),
                               [500.0 - 1000.0**2 / (8 * 1e12), 40.0], rtol=1e-14)
    assert mri.inversion_null_time(1000.0) == pytest.approx(1000.0 * np.log(2), rel=1e-15)


@pytest.mark.parametrize("tr, flip, t1", [(0.0, 0.0, 1000.0), (0.0, 30.0, 1000.0),
                                          (10.0, 0.0, np.inf), (10.0, 360.0, np.inf)])
def test_spoiled_gre_signal_is_zero_where_the_fraction_is_zero_over_zero(tr, flip, t1):
    # issue 11, group 5: spoiled_gre_signal(0, 0, 1000) was NaN; no recovery (TR = 0 or
    # T1 = inf) and no excitation leave no signal.
    assert mri.spoiled_gre_signal(tr, flip, t1) == pytest.approx(0.0, abs=1e-15)


def test_spoiled_gre_signal_tends_smoothly_to_zero_at_small_tr():
    tr = np.array([1e-12, 1e-9])
    a = np.deg2rad(15.0)
    x = tr / 900.0                      # 1 - E1 = x + O(x^2): first order is exact to 1e-12
    expected = np.sin(a) * x / (x + 1 - np.cos(a))
    np.testing.assert_allclose(mri.spoiled_gre_signal(tr, 15.0, 900.0), expected, rtol=1e-9)


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (mri.bloch_simulate, ([mri.pulse(90)], 800.0, 80.0), {"average": "False"}, TypeError,
     "average must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (mri.lorentzian_off_resonance, (2**63, 10.0), {}, ValueError, "^n asks for an array"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


BAD_CALLS = [
    (mri.larmor_frequency_mhz, (-1.0,), {}, ValueError, "b0_t"),
    (mri.larmor_frequency_mhz, (3.0, "2H"), {}, ValueError, "nucleus"),
    (mri.spoiled_gre_signal, (10.0, 20.0, 900.0), {"te_ms": 12.0}, ValueError, "te_ms"),
    (mri.spoiled_gre_signal, (10.0, 20.0, 900.0), {"t2star_ms": 0.0}, ValueError, "t2star_ms"),
    (mri.inversion_recovery, (600.0, 900.0), {"tr_ms": 500.0}, ValueError, "ti_ms"),
    (mri.inversion_recovery, (-6.0, 900.0), {}, ValueError, "ti_ms"),
    (mri.ernst_angle_deg, (-10.0, 900.0), {}, ValueError, "tr_ms"),
    (mri.ernst_angle_deg, (10.0, np.nan), {}, ValueError, "t1_ms"),
    (mri.bloch_simulate, ([mri.pulse(90)], [900.0, 800.0, 700.0], [80.0, 70.0]), {}, ValueError,
     "same length"),
    (mri.bloch_simulate, ([mri.pulse(90)], 900.0, 80.0), {"off_resonance_hz": np.zeros(4),
                                                         "m0": np.ones(3)}, ValueError, "length"),
    (mri.bloch_simulate, ([mri.pulse(90)], -900.0, 80.0), {}, ValueError, "t1_ms"),
    (mri.bloch_simulate, ([mri.pulse(90)], 900.0, 0.0), {}, ValueError, "t2_ms"),
    (mri.bloch_simulate, ([mri.pulse(90)], 900.0, 80.0), {"m0": -1.0}, ValueError, "m0"),
    (mri.bloch_simulate, ([mri.pulse(90)], np.ones((2, 2)), 80.0), {}, ValueError, "1D"),
    (mri.bloch_simulate, ([mri.pulse(90), "wait"], 900.0, 80.0), {}, TypeError, r"events\[1\]"),
    (mri.bloch_simulate, (mri.pulse(90), 900.0, 80.0), {}, TypeError, "sequence"),
    (mri.bloch_simulate, ([mri.Free(-1.0)], 900.0, 80.0), {}, ValueError, "duration_ms"),
    (mri.bloch_simulate, ([mri.Pulse(90.0, "z")], 900.0, 80.0), {}, ValueError, "axis"),
    (mri.bloch_simulate, ([mri.pulse(90)], [900.0, 800.0], 80.0), {"m_init": np.zeros((3, 3))},
     ValueError, "m_init"),
    (mri.pulse, (90.0, "z"), {}, ValueError, "axis"),
    (mri.free, (-2.0,), {}, ValueError, "duration_ms"),
    (mri.free_precession, (np.zeros(2), 1.0, 900.0, 80.0), {}, ValueError, "shape"),
    (mri.lorentzian_off_resonance, (0, 10.0), {}, ValueError, "n"),
    (mri.lorentzian_off_resonance, (10, 0.0), {}, ValueError, "t2_prime_ms"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_free_precession_requires_m_while_bloch_simulate_defaults_m_init():
    # issue 11: m=None was silently read as equilibrium; m is required (m_init is optional)
    with pytest.raises(TypeError, match="^m must be a magnetisation"):
        mri.free_precession(None, 2.5, 900.0, 80.0)
    np.testing.assert_allclose(mri.free_precession([0.0, 0.0, 1.0], 2.5, 900.0, 80.0),
                               [[0.0], [0.0], [1.0]])       # equilibrium stays put


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged):
    t1 = np.array([900.0, 1200.0, 400.0])
    t2 = np.array([80.0, 100.0, 50.0])
    df = np.array([-10.0, 0.0, 12.0])
    m0 = np.array([0.7, 0.8, 0.9])
    m_init = np.array([[0.0, 0.1, 0.2], [0.0, 0.0, 0.1], [1.0, 0.9, 0.8]])
    events = [mri.pulse(90), mri.free(10.0), mri.readout(), mri.pulse(180, "y"), mri.free(5.0)]
    assert_inputs_unchanged(mri.bloch_simulate, events, t1, t2, m0=m0, off_resonance_hz=df,
                            m_init=m_init)
    assert_inputs_unchanged(mri.free_precession, m_init, 3.0, t1, t2, m0=m0, off_resonance_hz=df)
    assert_inputs_unchanged(mri.spoiled_gre_signal, 10.0, np.array([5.0, 10.0, 20.0]), t1)
    assert_inputs_unchanged(mri.inversion_recovery, np.array([100.0, 200.0, 300.0]), t1)
    assert_inputs_unchanged(mri.ernst_angle_deg, 10.0, t1)
    assert_inputs_unchanged(mri.larmor_frequency_mhz, np.array([1.5, 3.0]))
