"""medlib.mri.relaxation against independent references: direct numerical integration of the
Bloch equation (scipy.integrate.solve_ivp), the Bloch simulator and closed forms; the tissue
table and the images synthesised from it."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test, integrate_bloch

from medlib import mri

RTOL = 1e-6          # the bar for simulator versus closed forms





# --- The simulator against the closed forms (1e-6 relative) ------------------------------------

@pytest.mark.formula("mri.t1-recovery")
def test_simulated_saturation_recovery_is_the_t1_closed_form():
    t1 = np.array([250.0, 884.0, 1820.0, 4300.0])
    times = [0.0, 10.0, 100.0, 500.0, 2000.0]
    events = [mri.pulse(90), mri.spoil()]
    for dt in np.diff([0.0] + times[1:]):
        events += [mri.free(dt), mri.readout()]
    res = mri.bloch_simulate(events, t1, 80.0)
    for j, t in enumerate(times[1:]):
        np.testing.assert_allclose(res.readouts[j, 2], mri.t1_recovery(t, t1), rtol=RTOL)
    assert res.times_ms.tolist() == times[1:]



@pytest.mark.formula("mri.t1-recovery")
def test_t1_recovery_solves_the_longitudinal_bloch_equation():
    for mz0 in (0.0, -1.0, 0.4):
        ref = integrate_bloch([0.0, 0.0, mz0], 700.0, np.zeros(3), t1=900.0, t2=50.0, m0=1.3)[2]
        assert mri.t1_recovery(700.0, 900.0, m0=1.3, mz0=mz0) == pytest.approx(ref, rel=1e-10)
    assert mri.t1_recovery(900.0 * np.log(2), 900.0) == pytest.approx(0.5)



@pytest.mark.formula("mri.t2-decay")
def test_simulated_isochromats_decay_with_t2_and_the_echo_with_t2_only():
    t2 = np.full(5001, 70.0)
    df = mri.lorentzian_off_resonance(5001, 30.0)
    events = [mri.pulse(90)] + [mri.free(10.0), mri.readout()] * 6
    res = mri.bloch_simulate(events, 1000.0, t2, off_resonance_hz=df)
    for j, t in enumerate(res.times_ms):
        mag = np.hypot(res.readouts[j, 0], res.readouts[j, 1])
        np.testing.assert_allclose(mag, mri.t2_decay(t, 70.0), rtol=RTOL)
    # The ensemble (free induction decay) dephases faster: T2* with 1/T2* = 1/T2 + 1/T2'.
    fid = np.abs(res.readouts[:, :2].mean(axis=2) @ [1, 1j])
    t2_star = 1 / (1 / 70.0 + 1 / 30.0)
    np.testing.assert_allclose(fid[:3], np.exp(-res.times_ms[:3] / t2_star), rtol=0.01)



@pytest.mark.formula("mri.t2-decay")
def test_t2_decay_solves_the_transverse_bloch_equation():
    ref = integrate_bloch([0.6, 0.0, 0.0], 45.0, np.zeros(3), t1=np.inf, t2=60.0, m0=0.0)
    assert mri.t2_decay(45.0, 60.0, mxy0=0.6) == pytest.approx(np.hypot(*ref[:2]), rel=1e-10)



@pytest.mark.formula("mri.spin-echo-exact")
def test_simulated_spin_echo_with_dephasing_is_the_exact_closed_form():
    tr, te = 600.0, 90.0
    t1 = np.array([884.0, 1124.0, 4300.0, 343.0])
    n = 2001
    df = mri.lorentzian_off_resonance(n, 15.0)
    for a, b in zip(t1, [72.0, 95.0, 2000.0, 58.0]):
        cycle = [mri.spoil(), mri.pulse(90, "x"), mri.free(te / 2), mri.pulse(180, "y"),
                 mri.free(te / 2), mri.readout(), mri.free(tr - te)]
        res = mri.bloch_simulate(cycle * 3, a, b, off_resonance_hz=df, average=True)
        sig = res.signal[-1]
        assert abs(sig.real) < 1e-12              # the echo is refocused along +y
        assert sig.imag == pytest.approx(mri.spin_echo_signal_exact(tr, te, a, b), rel=RTOL)



@pytest.mark.formula("mri.spin-echo-signal")
def test_simplified_spin_echo_is_a_spoiled_90_degree_echo_without_refocusing():
    # 90x, TE, read, TR - TE, spoil: Mz starts from 0 at every pulse -> rho (1 - E1) exp(-TE/T2).
    tr, te = 800.0, 30.0
    t1, t2, pd = np.array([884.0, 1124.0]), np.array([72.0, 95.0]), np.array([0.65, 0.78])
    cycle = [mri.pulse(90), mri.free(te), mri.readout(), mri.free(tr - te), mri.spoil()]
    res = mri.bloch_simulate(cycle * 2, t1, t2, m0=pd)
    np.testing.assert_allclose(res.readouts[-1, 1], mri.spin_echo_signal(tr, te, t1, t2, pd=pd),
                               rtol=RTOL)



@pytest.mark.formula("mri.spin-echo-signal", "mri.spin-echo-exact")
def test_simple_and_exact_spin_echo_differ_by_the_t1_recovery_during_te():
    tr, te, t1, t2 = 500.0, 100.0, 900.0, 80.0
    diff = mri.spin_echo_signal(tr, te, t1, t2) - mri.spin_echo_signal_exact(tr, te, t1, t2)
    expected = 2 * np.exp(-tr / t1) * (np.exp(te / (2 * t1)) - 1) * np.exp(-te / t2)
    assert diff == pytest.approx(expected, rel=1e-12)
    # and they agree as TE -> 0
    assert mri.spin_echo_signal(tr, 1e-9, t1, t2) == pytest.approx(
        mri.spin_echo_signal_exact(tr, 1e-9, t1, t2), rel=1e-9)



@pytest.mark.formula("mri.pd-limit")
def test_long_tr_and_short_te_leave_proton_density():
    pd = np.array([0.65, 0.78, 0.97])
    s = mri.spin_echo_signal(1e7, 1e-6, [884.0, 1124.0, 4300.0], [72.0, 95.0, 2000.0], pd=pd)
    np.testing.assert_allclose(s, pd, rtol=1e-6)



# --- Tissue parameters and synthetic images -----------------------------------------------------

def test_tissue_table_holds_the_cited_values():
    # WM and GM T1: Wright et al. 2008, in vivo (MPRAGE); their T2: Stanisz et al. 2005.
    cited = {1.5: {"wm": (646, 72), "gm": (1197, 95), "fat": (343, 58)},
             3.0: {"wm": (838, 69), "gm": (1607, 99), "fat": (382, 68)}}
    for b0, rows in cited.items():
        table = mri.tissue_parameters(b0)
        for name, (t1, t2) in rows.items():
            assert (table[name].t1_ms, table[name].t2_ms) == (t1, t2)
        assert table["csf"].t2_ms > 1000 and table["csf"].t1_ms > 4000
        for t in table.values():
            assert 0 < t.t2_ms < t.t1_ms and 0 < t.pd <= 1 and t.source
    for name in ("wm", "gm", "fat"):        # T1 lengthens with the field
        assert mri.tissue_parameters(3.0)[name].t1_ms > mri.tissue_parameters(1.5)[name].t1_ms


# Clinical spin-echo protocols (TR, TE in ms) and the orderings every clinical image shows.
CLINICAL = {"T1w": (500.0, 15.0), "PDw": (3000.0, 15.0), "T2w": (4000.0, 100.0)}


@pytest.mark.parametrize("b0", [1.5, 3.0])
def test_tissue_table_gives_the_clinical_contrasts_at_both_fields(b0):
    # In vivo, white matter is brighter than grey matter on T1-weighted images at 1.5 T and at
    # 3 T. The in-vitro T1 of Stanisz et al. (884 / 1124 ms at 1.5 T) reversed this at 1.5 T.
    tissues = mri.tissue_parameters(b0)
    s = {name: {k: mri.spin_echo_signal(tr, te, t.t1_ms, t.t2_ms, pd=t.pd)
                for k, t in tissues.items()} for name, (tr, te) in CLINICAL.items()}
    assert s["T1w"]["wm"] > s["T1w"]["gm"] > s["T1w"]["csf"]
    assert s["T2w"]["csf"] > s["T2w"]["gm"] > s["T2w"]["wm"]
    assert s["PDw"]["gm"] > s["PDw"]["wm"]
    assert s["T1w"]["fat"] > s["T1w"]["wm"]
    for key in ("wm", "gm"):
        assert "in vivo" in tissues[key].source.split(";")[0]        # the T1 is an in-vivo value



def _disc_phantom(n=96):
    y, x = np.mgrid[:n, :n] - n / 2
    r = np.hypot(x, y)
    wm = np.clip(14 - r, 0, 1) * (r > 5)           # WM disc with ventricles (r < 5)
    gm = ((r >= 14) & (r < 22)).astype(float)
    gm[(np.abs(y) < 1.5) & (x > 16)] = 0.0          # a sulcus cut into the cortex
    brain = r < 24                                  # skull-stripped mask: brain + outer CSF
    return gm, wm, brain, r



def test_tissue_fractions_fill_ventricles_and_sulci_with_csf_and_add_a_fat_shell():
    gm, wm, brain, r = _disc_phantom()
    f = mri.tissue_fractions(gm, wm, brain, skull_voxels=3, fat_voxels=4)
    total = sum(f.values())
    assert np.all(total <= 1 + 1e-12) and all(np.all(v >= 0) for v in f.values())
    assert np.all(f["csf"][r < 4] == 1.0)               # ventricles
    n = gm.shape[0]
    assert f["csf"][n // 2, n // 2 + 19] == 1.0         # the sulcus
    np.testing.assert_allclose(f["csf"][brain], 1 - gm[brain] - wm[brain])
    assert np.all(f["csf"][~brain] == 0)
    # Euclidean shells: skull (24, 27] (no signal), fat (27, 31]
    d = r - 24                                          # approximately the distance to the mask
    assert np.all(f["fat"][(d > 4) & (d < 6)] == 1.0)
    assert np.all(f["fat"][(d < 2) | (d > 8)] == 0.0)
    np.testing.assert_allclose(f["gm"], gm)
    none = mri.tissue_fractions(gm, wm, brain, fat_voxels=0)
    assert not none["fat"].any()



def test_tissue_fractions_rescale_overlapping_probabilities():
    f = mri.tissue_fractions(np.array([[0.7]]), np.array([[0.6]]), np.array([[True]]),
                             fat_voxels=0)
    assert f["gm"][0, 0] + f["wm"][0, 0] == pytest.approx(1.0) and f["csf"][0, 0] == 0.0



def test_spin_echo_image_is_the_fraction_weighted_sum_of_tissue_signals():
    tissues = mri.tissue_parameters(1.5)
    fr = {"wm": np.array([1.0, 0.0, 0.5]), "csf": np.array([0.0, 1.0, 0.5])}
    img = mri.spin_echo_image(fr, tissues, 2500.0, 100.0)
    s_wm = mri.spin_echo_signal(2500.0, 100.0, 646.0, 72.0, pd=0.65)
    s_csf = mri.spin_echo_signal(2500.0, 100.0, 4300.0, 2000.0, pd=0.97)
    np.testing.assert_allclose(img, [s_wm, s_csf, (s_wm + s_csf) / 2], rtol=1e-12)
    exact = mri.spin_echo_image(fr, tissues, 2500.0, 100.0, exact=True)
    assert exact[0] == pytest.approx(mri.spin_echo_signal_exact(2500.0, 100.0, 646.0, 72.0,
                                                                pd=0.65))



# --- Bad input, purity ------------------------------------------------------------------------

# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (mri.spin_echo_image, ({"wm": np.ones(2)}, mri.tissue_parameters(1.5), 2500.0, 100.0),
     {"exact": "False"}, TypeError, "exact must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (mri.tissue_fractions, (np.array([[0.7]]), np.array([[0.6]]), np.array([[np.nan]])), {},
     ValueError, "^brain_mask"),
    (mri.tissue_fractions, (np.array([[0.7]]), np.array([[0.6]]), np.array([[0.5]])), {},
     ValueError, "^brain_mask must be a boolean mask"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


# issue 11: spin_echo_image takes one TR and one TE (a bool is not a time; an array of TRs gave
# NumPy's broadcast message)
_FR, _TIS = {"wm": np.ones((2, 2))}, mri.tissue_parameters(1.5)
SCALAR_TIME_CALLS = [
    (mri.spin_echo_image, (_FR, _TIS, 2500.0, True), {}, TypeError, "^te_ms must be a real"),
    (mri.spin_echo_image, (_FR, _TIS, np.array([2500.0, 3000.0]), 100.0), {}, TypeError,
     "^tr_ms must be a real"),
    (mri.spin_echo_image, (_FR, _TIS, 2500.0, np.array([10.0, 100.0])), {}, TypeError,
     "^te_ms must be a real"),
]

test_spin_echo_image_takes_one_tr_and_one_te = bad_input_test(SCALAR_TIME_CALLS)


BAD_CALLS = [
    (mri.t1_recovery, (10.0, -5.0), {}, ValueError, "t1_ms"),
    (mri.t1_recovery, (-1.0, 500.0), {}, ValueError, "t_ms"),
    (mri.t1_recovery, ([1.0, 2.0, 3.0], [500.0, 600.0]), {}, ValueError, "broadcast"),
    (mri.t2_decay, (10.0, 0.0), {}, ValueError, "t2_ms"),
    (mri.t2_decay, (10.0, 50.0), {"mxy0": -1.0}, ValueError, "mxy0"),
    (mri.spin_echo_signal, (-500.0, 20.0, 900.0, 80.0), {}, ValueError, "tr_ms"),
    (mri.spin_echo_signal, (500.0, -20.0, 900.0, 80.0), {}, ValueError, "te_ms"),
    (mri.spin_echo_signal, (500.0, 20.0, -900.0, 80.0), {}, ValueError, "t1_ms"),
    (mri.spin_echo_signal, (500.0, 20.0, 900.0, -80.0), {}, ValueError, "t2_ms"),
    (mri.spin_echo_signal, (50.0, 80.0, 900.0, 80.0), {}, ValueError, "te_ms must not exceed"),
    (mri.spin_echo_signal, (500.0, 20.0, np.ones(3), np.ones(4)), {}, ValueError, "broadcast"),
    (mri.spin_echo_signal, (500.0, 20.0, 900.0, 80.0), {"pd": -1.0}, ValueError, "pd"),
    (mri.spin_echo_signal_exact, (50.0, 80.0, 900.0, 80.0), {}, ValueError, "te_ms"),
    (mri.tissue_parameters, (7.0,), {}, ValueError, "b0_t"),
    (mri.tissue_fractions, (np.zeros((4, 4)), np.zeros((4, 5)), np.ones((4, 4), bool)), {},
     ValueError, "same shape"),
    (mri.tissue_fractions, (np.full((4, 4), 2.0), np.zeros((4, 4)), np.ones((4, 4), bool)), {},
     ValueError, "gm"),
    (mri.tissue_fractions, (np.zeros((4, 4)), np.zeros((4, 4)), np.ones((4, 4), bool)),
     {"skull_voxels": -1}, ValueError, "skull_voxels"),
    (mri.spin_echo_image, ({"wm": np.ones(2)}, {}, 500.0, 20.0), {}, ValueError, "wm"),
    (mri.spin_echo_image, ({"wm": np.ones(2), "gm": np.ones(3)}, mri.tissue_parameters(3.0),
                           500.0, 20.0), {}, ValueError, "same shape"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged):
    t1 = np.array([900.0, 1200.0, 400.0])
    t2 = np.array([80.0, 100.0, 50.0])
    m0 = np.array([0.7, 0.8, 0.9])
    assert_inputs_unchanged(mri.t1_recovery, np.array([1.0, 5.0, 9.0]), t1)
    assert_inputs_unchanged(mri.t2_decay, np.array([1.0, 5.0, 9.0]), t2)
    assert_inputs_unchanged(mri.spin_echo_signal, 600.0, 20.0, t1, t2, pd=m0)
    assert_inputs_unchanged(mri.spin_echo_signal_exact, 600.0, 20.0, t1, t2, pd=m0)
    gm, wm, brain, _ = _disc_phantom(48)
    assert_inputs_unchanged(mri.tissue_fractions, gm, wm, brain)
    fr = {"wm": np.array([0.2, 0.5]), "gm": np.array([0.7, 0.1])}
    assert_inputs_unchanged(mri.spin_echo_image, fr, mri.tissue_parameters(3.0), 500.0, 15.0)
