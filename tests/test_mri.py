"""medlib.mri against independent references: CODATA/IUPAC constants (scipy.constants), direct
numerical integration of the Bloch equation (scipy.integrate.solve_ivp), closed forms, explicit
DFT sums and analytic Fourier transforms."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import constants, optimize
from scipy.integrate import solve_ivp

from medlib import mri

RTOL = 1e-6          # the bar for simulator versus closed forms


def _bloch_rhs(t, m, w, t1, t2, m0):
    """The seed's Bloch equation in the rotating frame: dM/dt = M x (gamma B) - relaxation.

    ``w`` is gamma B in rad/ms (B1 along x/y, off-resonance field along z).
    """
    dm = np.cross(m, w)
    dm[0] -= m[0] / t2
    dm[1] -= m[1] / t2
    dm[2] -= (m[2] - m0) / t1
    return dm


def _integrate(m, duration_ms, w, t1=np.inf, t2=np.inf, m0=1.0):
    sol = solve_ivp(_bloch_rhs, (0.0, duration_ms), np.asarray(m, float), args=(w, t1, t2, m0),
                    method="DOP853", rtol=1e-12, atol=1e-14)
    return sol.y[:, -1]


# --- Larmor frequency -------------------------------------------------------------------------

@pytest.mark.formula("mri.larmor")
def test_proton_gyromagnetic_ratio_is_codatas_shielded_proton():
    ref = constants.physical_constants["shielded proton gyromag. ratio in MHz/T"][0]
    assert mri.GAMMA_BAR_MHZ_PER_T["1H"] == pytest.approx(ref, rel=1e-7)
    assert mri.larmor_frequency_mhz(1.0) == pytest.approx(ref, rel=1e-7)


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
    ref = _integrate(m, duration, w1 * np.array(w_dir, float))
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
        ref = _integrate(m[:, i], tau, w, t1[i], t2[i], m0[i])
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
        m = _integrate(m, 9.0, np.array([0, 0, 2 * np.pi * df[i] * 1e-3]), t1[i], t2[i])
        m = mri.rf_rotation(120, "y") @ m
        m = _integrate(m, 5.0, np.array([0, 0, 2 * np.pi * df[i] * 1e-3]), t1[i], t2[i])
        np.testing.assert_allclose(res.m[:, i], m, atol=1e-10)


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
        ref = _integrate([0.0, 0.0, mz0], 700.0, np.zeros(3), t1=900.0, t2=50.0, m0=1.3)[2]
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
    ref = _integrate([0.6, 0.0, 0.0], 45.0, np.zeros(3), t1=np.inf, t2=60.0, m0=0.0)
    assert mri.t2_decay(45.0, 60.0, mxy0=0.6) == pytest.approx(np.hypot(*ref[:2]), rel=1e-10)


@pytest.mark.formula("mri.inversion-recovery")
@pytest.mark.parametrize("tr", [np.inf, 3000.0])
def test_simulated_inversion_recovery_is_the_closed_form(tr):
    t1 = np.array([343.0, 884.0, 1124.0, 4300.0])
    ti = 400.0
    if np.isinf(tr):
        events = [mri.pulse(180), mri.free(ti), mri.readout()]
    else:          # 90 (readout) ... TR-TI ... 180 ... TI ..., twice: the second is the steady state
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


@pytest.mark.formula("mri.spin-echo-exact")
def test_simulated_spin_echo_with_dephasing_is_the_exact_closed_form():
    tr, te = 600.0, 90.0
    t1 = np.array([884.0, 1124.0, 4300.0, 343.0])
    n = 2001
    df = mri.lorentzian_off_resonance(n, 15.0)
    for k, (a, b) in enumerate(zip(t1, [72.0, 95.0, 2000.0, 58.0])):
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
        best = optimize.minimize_scalar(lambda a: -mri.spoiled_gre_signal(tr, a, t1),
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


# --- Tissue parameters and synthetic images -----------------------------------------------------

def test_tissue_table_holds_the_cited_values():
    cited = {1.5: {"wm": (884, 72), "gm": (1124, 95), "fat": (343, 58)},
             3.0: {"wm": (1084, 69), "gm": (1820, 99), "fat": (382, 68)}}
    for b0, rows in cited.items():
        table = mri.tissue_parameters(b0)
        for name, (t1, t2) in rows.items():
            assert (table[name].t1_ms, table[name].t2_ms) == (t1, t2)
        assert table["csf"].t2_ms > 1000 and table["csf"].t1_ms > 4000
        for t in table.values():
            assert 0 < t.t2_ms < t.t1_ms and 0 < t.pd <= 1 and t.source
    for name in ("wm", "gm", "fat"):        # T1 lengthens with the field
        assert mri.tissue_parameters(3.0)[name].t1_ms > mri.tissue_parameters(1.5)[name].t1_ms


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
    s_wm = mri.spin_echo_signal(2500.0, 100.0, 884.0, 72.0, pd=0.65)
    s_csf = mri.spin_echo_signal(2500.0, 100.0, 4300.0, 2000.0, pd=0.97)
    np.testing.assert_allclose(img, [s_wm, s_csf, (s_wm + s_csf) / 2], rtol=1e-12)
    exact = mri.spin_echo_image(fr, tissues, 2500.0, 100.0, exact=True)
    assert exact[0] == pytest.approx(mri.spin_echo_signal_exact(2500.0, 100.0, 884.0, 72.0,
                                                                pd=0.65))


# --- k-space ------------------------------------------------------------------------------------

@pytest.mark.formula("mri.kspace-discrete")
@pytest.mark.parametrize("shape", [(16, 12), (15, 9)])
def test_forward_equals_the_centred_dft_sum(shape, rng):
    img = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    dy, dx = 0.8, 1.3
    s = mri.kspace_forward(img, (dy, dx))
    y = mri.image_coordinates(shape[0], dy)[:, None]
    x = mri.image_coordinates(shape[1], dx)[None, :]
    ky = mri.kspace_coordinates(shape[0], dy)
    kx = mri.kspace_coordinates(shape[1], dx)
    for m, n in [(0, 0), (shape[0] // 2, shape[1] // 2), (3, 7), (shape[0] - 1, 1)]:
        ref = dy * dx * np.sum(img * np.exp(-2j * np.pi * (ky[m] * y + kx[n] * x)))
        assert s[m, n] == pytest.approx(ref, abs=1e-12)


@pytest.mark.formula("mri.fov-aliasing")
def test_kspace_coordinates_are_the_shifted_fft_frequencies_with_step_one_over_fov():
    for n, d in [(8, 0.5), (9, 2.0), (256, 0.9)]:
        k = mri.kspace_coordinates(n, d)
        np.testing.assert_allclose(k, np.fft.fftshift(np.fft.fftfreq(n, d)), atol=1e-15)
        np.testing.assert_allclose(np.diff(k), 1 / (n * d))
        assert k[n // 2] == 0 and mri.image_coordinates(n, d)[n // 2] == 0


@pytest.mark.formula("mri.signal-equation")
def test_forward_transform_of_a_gaussian_is_the_analytic_integral():
    # integral of exp(-(x^2+y^2)/(2 s^2)) exp(-j 2 pi k.x) = 2 pi s^2 exp(-2 pi^2 s^2 |k|^2)
    n, d, s = 128, 0.25, 2.0
    x = mri.image_coordinates(n, d)
    img = np.exp(-(x[:, None] ** 2 + (x[None, :] - 1.5) ** 2) / (2 * s**2))   # off-centre in x
    k = mri.kspace_coordinates(n, d)
    ref = 2 * np.pi * s**2 * np.exp(-2 * np.pi**2 * s**2 * (k[:, None] ** 2 + k[None, :] ** 2)) \
        * np.exp(-2j * np.pi * k[None, :] * 1.5)
    np.testing.assert_allclose(mri.kspace_forward(img, d), ref, atol=1e-10)


@pytest.mark.formula("mri.inverse-fourier")
def test_inverse_transform_of_the_analytic_spectrum_is_the_gaussian():
    n, d, s = 128, 0.25, 2.0
    k = mri.kspace_coordinates(n, d)
    spectrum = 2 * np.pi * s**2 * np.exp(-2 * np.pi**2 * s**2 * (k[:, None] ** 2 + k[None, :] ** 2))
    x = mri.image_coordinates(n, d)
    ref = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * s**2))
    np.testing.assert_allclose(mri.kspace_inverse(spectrum, d), ref, atol=1e-10)


@pytest.mark.formula("mri.ifft-recon")
@pytest.mark.parametrize("shape", [(64, 48), (33, 17), (8, 9, 10), (7,)])
def test_round_trip_is_exact(shape, rng):
    img = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    back = mri.kspace_inverse(mri.kspace_forward(img, 0.7), 0.7)
    assert np.max(np.abs(back - img)) < 1e-12
    assert back.dtype == np.complex128


@pytest.mark.formula("mri.ifft-recon", "mri.kspace-discrete")
def test_centred_point_has_flat_real_kspace_and_forgetting_the_shift_gives_a_checkerboard():
    img = np.zeros((8, 8))
    img[4, 4] = 1.0                             # x = 0 by the centring convention
    s = mri.kspace_forward(img, 0.5)
    np.testing.assert_allclose(s, 0.25, atol=1e-15)
    naive = np.fft.fftshift(np.fft.fft2(img))   # no ifftshift before the FFT
    i, j = np.indices(img.shape)
    np.testing.assert_allclose(naive, (-1.0) ** (i + j), atol=1e-12)


@pytest.mark.formula("mri.fov-aliasing")
@pytest.mark.parametrize("offset, sign", [(0, 1.0), (1, -1.0)])
def test_half_fov_undersampling_shifts_a_copy_by_half_the_field_of_view(offset, sign, rng):
    img = rng.normal(size=(64, 40))
    s = mri.kspace_forward(img)
    mask = mri.regular_mask(s.shape, 2, axis=0, offset=offset)
    assert mask.sum() == 32 * 40
    recon = mri.kspace_inverse(s * mask)
    expected = 0.5 * (img + sign * np.roll(img, 32, axis=0))
    np.testing.assert_allclose(recon, expected, atol=1e-12)
    # along the other axis nothing happens
    maskx = mri.regular_mask(s.shape, 2, axis=1)
    np.testing.assert_allclose(mri.kspace_inverse(s * maskx),
                               0.5 * (img + np.roll(img, 20, axis=1)), atol=1e-12)


@pytest.mark.formula("mri.fov-aliasing")
def test_decimated_kspace_reconstructs_the_folded_image_on_a_smaller_fov(rng):
    img = rng.normal(size=(60, 20))
    small = mri.decimate_kspace(mri.kspace_forward(img), 3, axis=0)
    assert small.shape == (20, 20)
    folded = mri.kspace_inverse(small)
    # centred coordinates: row y_n = n - 30 in the full image, y'_n = n - 10 in the small one
    y = np.arange(60) - 30
    expected = np.zeros((20, 20))
    for n in range(60):
        expected[(y[n] + 10) % 20] += img[n]
    np.testing.assert_allclose(folded, expected, atol=1e-12)


def test_regular_mask_keeps_the_centre_lines():
    m = mri.regular_mask((32, 4), 4, center_lines=8)
    rows = np.flatnonzero(m[:, 0])
    assert set(range(12, 20)) <= set(rows)
    assert m[16].all() and m.shape == (32, 4) and m.dtype == bool


def test_random_mask_is_reproducible_and_has_the_requested_line_count():
    a = mri.random_mask((100, 8), 4, rng=5, center_lines=10)
    b = mri.random_mask((100, 8), 4, rng=np.random.default_rng(5), center_lines=10)
    np.testing.assert_array_equal(a, b)
    assert a[:, 0].sum() == 25 and a[45:55, 0].all()


@pytest.mark.parametrize("n", [65, 64])
def test_zero_filling_interpolates_without_changing_the_original_samples(n, rng):
    img = rng.normal(size=(n, n))
    s = mri.kspace_forward(img)
    if n % 2 == 0:
        s[0, :] = 0.0     # an even grid's Nyquist line has no partner on the larger grid
        s[:, 0] = 0.0
        img = mri.kspace_inverse(s).real
    big = mri.zero_fill(s, (2 * n, 2 * n))
    fine = mri.kspace_inverse(big, 0.5)
    start = 1 if n % 2 else 0
    np.testing.assert_allclose(fine[start::2, start::2], img, atol=1e-12)


def test_crop_truncate_and_zero_fill_compose(rng):
    s = rng.normal(size=(32, 30)) + 1j * rng.normal(size=(32, 30))
    t = mri.truncate_kspace(s, (16, 10))
    np.testing.assert_array_equal(t, mri.zero_fill(mri.crop_kspace(s, (16, 10)), s.shape))
    assert t[16, 15] == s[16, 15] and t[0, 0] == 0 and t.shape == s.shape
    np.testing.assert_array_equal(mri.crop_kspace(mri.zero_fill(s, (40, 41)), s.shape), s)


@pytest.mark.formula("mri.hermitian-symmetry")
@pytest.mark.parametrize("shape", [(64, 64), (63, 50)])
def test_partial_fourier_of_a_real_image_is_recovered_exactly(shape, rng):
    img = rng.normal(size=shape)
    s = mri.kspace_forward(img)
    mask = mri.partial_fourier_mask(shape, 5 / 8)
    filled = mri.hermitian_fill(s * mask, mask)
    np.testing.assert_allclose(filled, s, atol=1e-12)
    np.testing.assert_allclose(mri.kspace_inverse(filled), img, atol=1e-12)


@pytest.mark.formula("mri.hermitian-symmetry")
def test_conjugate_symmetry_fails_for_an_image_with_phase(rng):
    img = rng.normal(size=(32, 32)) * np.exp(1j * np.linspace(0, 2, 32))[None, :]
    s = mri.kspace_forward(img)
    mask = mri.partial_fourier_mask(s.shape, 0.6)
    recon = mri.kspace_inverse(mri.hermitian_fill(s * mask, mask))
    assert np.max(np.abs(recon - img)) > 0.1


# --- Bad input, purity ------------------------------------------------------------------------

BAD_CALLS = [
    (mri.larmor_frequency_mhz, (-1.0,), {}, ValueError, "b0_t"),
    (mri.larmor_frequency_mhz, (3.0, "2H"), {}, ValueError, "nucleus"),
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
    (mri.kspace_forward, (np.ones((4, 4)), (1.0, 1.0, 1.0)), {}, ValueError, "spacing_mm"),
    (mri.kspace_forward, (np.ones((4, 4)), -1.0), {}, ValueError, "spacing_mm"),
    (mri.kspace_inverse, ([[1.0, np.nan]],), {}, ValueError, "finite"),
    (mri.regular_mask, ((8, 8), 0), {}, ValueError, "acceleration"),
    (mri.regular_mask, ((8, 8), 2), {"axis": 2}, ValueError, "axis"),
    (mri.random_mask, ((8, 8), 4, 0), {"center_lines": 4}, ValueError, "center_lines"),
    (mri.random_mask, ((8, 8), 2, None), {}, TypeError, "rng"),
    (mri.decimate_kspace, (np.ones((9, 4)), 2), {}, ValueError, "divisible"),
    (mri.crop_kspace, (np.ones((4, 4)), (5, 4)), {}, ValueError, "exceed"),
    (mri.zero_fill, (np.ones((4, 4)), (3, 4)), {}, ValueError, "smaller"),
    (mri.zero_fill, (np.ones((4, 4)), (8, 8, 8)), {}, ValueError, "shape"),
    (mri.partial_fourier_mask, ((8, 8), 0.3), {}, ValueError, "fraction"),
    (mri.hermitian_fill, (np.ones((4, 4)), np.ones((4, 3), bool)), {}, ValueError, "mask"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", BAD_CALLS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_a_clear_error(func, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(*args, **kwargs)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    t1 = np.array([900.0, 1200.0, 400.0])
    t2 = np.array([80.0, 100.0, 50.0])
    df = np.array([-10.0, 0.0, 12.0])
    m0 = np.array([0.7, 0.8, 0.9])
    m_init = np.array([[0.0, 0.1, 0.2], [0.0, 0.0, 0.1], [1.0, 0.9, 0.8]])
    events = [mri.pulse(90), mri.free(10.0), mri.readout(), mri.pulse(180, "y"), mri.free(5.0)]
    assert_inputs_unchanged(mri.bloch_simulate, events, t1, t2, m0=m0, off_resonance_hz=df,
                            m_init=m_init)
    assert_inputs_unchanged(mri.free_precession, m_init, 3.0, t1, t2, m0=m0, off_resonance_hz=df)
    assert_inputs_unchanged(mri.t1_recovery, np.array([1.0, 5.0, 9.0]), t1)
    assert_inputs_unchanged(mri.t2_decay, np.array([1.0, 5.0, 9.0]), t2)
    assert_inputs_unchanged(mri.spin_echo_signal, 600.0, 20.0, t1, t2, pd=m0)
    assert_inputs_unchanged(mri.spin_echo_signal_exact, 600.0, 20.0, t1, t2, pd=m0)
    assert_inputs_unchanged(mri.spoiled_gre_signal, 10.0, np.array([5.0, 10.0, 20.0]), t1)
    assert_inputs_unchanged(mri.inversion_recovery, np.array([100.0, 200.0, 300.0]), t1)
    assert_inputs_unchanged(mri.ernst_angle_deg, 10.0, t1)
    assert_inputs_unchanged(mri.larmor_frequency_mhz, np.array([1.5, 3.0]))
    gm, wm, brain, _ = _disc_phantom(48)
    assert_inputs_unchanged(mri.tissue_fractions, gm, wm, brain)
    fr = {"wm": np.array([0.2, 0.5]), "gm": np.array([0.7, 0.1])}
    assert_inputs_unchanged(mri.spin_echo_image, fr, mri.tissue_parameters(3.0), 500.0, 15.0)
    img = rng.normal(size=(16, 16))
    s = mri.kspace_forward(img)
    assert_inputs_unchanged(mri.kspace_forward, img, 0.5)
    assert_inputs_unchanged(mri.kspace_inverse, s, 0.5)
    assert_inputs_unchanged(mri.decimate_kspace, s, 2)
    assert_inputs_unchanged(mri.crop_kspace, s, (8, 8))
    assert_inputs_unchanged(mri.zero_fill, s, (20, 20))
    assert_inputs_unchanged(mri.truncate_kspace, s, (8, 8))
    mask = mri.partial_fourier_mask(s.shape, 0.6)
    assert_inputs_unchanged(mri.hermitian_fill, s * mask, mask)
