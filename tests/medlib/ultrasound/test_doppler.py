"""medlib.ultrasound.doppler against closed forms, scipy.signal and numpy.fft."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import integrate, signal, stats

from medlib import ultrasound as us

F0, FS, CS = 5e6, 20e6, 1540.0
PRF = 5e3


def _iq_uniform_motion(v_axial, *, n_pulses=32, n_scat=400, seed=0, z0=0.02):
    """IQ of a cloud of scatterers all moving at one axial velocity, and the depth axis (a
    30 % bandwidth pulse, longer than an imaging pulse, as Doppler modes use)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(z0, z0 + 0.01, n_scat)
    ns = int(2 * (z0 + 0.012) / CS * FS)
    rf = us.simulate_doppler_rf(z, rng.normal(size=n_scat), np.full(n_scat, v_axial),
                                prf_hz=PRF, n_pulses=n_pulses, fs_hz=FS, n_samples=ns,
                                center_frequency_hz=F0, fractional_bandwidth=0.3)
    depth = np.arange(ns) / FS * CS / 2
    return us.iq_demodulate(rf, fs_hz=FS, center_frequency_hz=F0), depth


@pytest.mark.formula("us.doppler-shift")
def test_doppler_shift_closed_form_and_exact_two_way_doppler():
    # 1 m/s head-on at 5 MHz: 2 f0 v / c = 6493.5 Hz; at 60 degrees half of it
    assert us.doppler_shift(1.0, 0.0, F0) == pytest.approx(2 * F0 / CS, rel=1e-12)
    assert us.doppler_shift(1.0, np.pi / 3, F0) == pytest.approx(F0 / CS, rel=1e-12)
    # the exact shift of a moving reflector, f0 (c + v) / (c - v) - f0, for v << c
    v = np.array([0.1, 0.5, 2.0])
    exact = F0 * (CS + v) / (CS - v) - F0
    np.testing.assert_allclose(us.doppler_shift(v, 0.0, F0), exact, rtol=2 * v.max() / CS)
    # away from the probe: negative
    assert us.doppler_shift(-0.3, 0.2, F0) == pytest.approx(-us.doppler_shift(0.3, 0.2, F0))


@pytest.mark.formula("us.doppler-shift")
def test_doppler_velocity_inverts_the_shift_and_angle_error():
    th = np.deg2rad([0.0, 30.0, 60.0, 75.0])
    np.testing.assert_allclose(us.doppler_velocity(us.doppler_shift(0.7, th, F0), th, F0), 0.7)
    # a 5 degree angle error: the relative error is cos(th) / cos(th + 5 deg) - 1
    fd = us.doppler_shift(1.0, th + np.deg2rad(5.0), F0)
    err = us.doppler_velocity(fd, th, F0) - 1.0
    np.testing.assert_allclose(err, np.cos(th + np.deg2rad(5)) / np.cos(th) - 1, rtol=1e-12)
    assert abs(err[2]) > 5 * abs(err[0])           # worse at 60 degrees than head-on


@pytest.mark.formula("us.poiseuille")
def test_poiseuille_mean_is_half_the_peak_and_velocities_are_uniform(rng):
    big_r, vmax = 3e-3, 0.8
    mean, _ = integrate.quad(lambda r: 2 * np.pi * r * us.poiseuille_velocity(r, big_r, vmax),
                             0, big_r)
    assert mean / (np.pi * big_r**2) == pytest.approx(vmax / 2, rel=1e-10)
    assert us.poiseuille_velocity(0.0, big_r, vmax) == vmax
    assert us.poiseuille_velocity(big_r, big_r, vmax) == 0.0
    assert us.poiseuille_velocity(-2 * big_r, big_r, vmax) == 0.0
    # points uniform over the cross-section: r = R sqrt(U); their velocities are U(0, v_max)
    r = big_r * np.sqrt(rng.uniform(size=20000))
    ks = stats.kstest(us.poiseuille_velocity(r, big_r, vmax), stats.uniform(0, vmax).cdf)
    assert ks.pvalue > 0.01


@pytest.mark.formula("us.doppler-nyquist")
def test_nyquist_velocity_closed_form():
    assert us.nyquist_velocity(PRF, F0) == pytest.approx(CS * PRF / (4 * F0), rel=1e-12)
    assert us.nyquist_velocity(PRF, F0, np.pi / 3) == pytest.approx(CS * PRF / (2 * F0))
    # the Nyquist velocity is the one whose Doppler shift is PRF / 2
    assert us.doppler_shift(us.nyquist_velocity(PRF, F0, 0.4), 0.4, F0) == pytest.approx(PRF / 2)


@pytest.mark.formula("us.doppler-nyquist")
@pytest.mark.formula("us.kasai")
@pytest.mark.parametrize("fraction", [-0.9, -0.4, 0.2, 0.6, 0.9, 1.3, 1.6])
def test_kasai_recovers_uniform_motion_and_wraps_beyond_nyquist(fraction):
    vn = us.nyquist_velocity(PRF, F0)
    iq, depth = _iq_uniform_motion(fraction * vn, n_pulses=64)
    inside = (depth > 0.022) & (depth < 0.028)
    # one estimate pooled over a 6 mm gate (the speckle of 64 pulses leaves a ~2 % spread)
    v = us.kasai_velocity(iq[:, inside], prf_hz=PRF, center_frequency_hz=F0,
                          gate_samples=int(inside.sum()))
    expected = fraction * vn if abs(fraction) < 1 else (fraction - 2 * np.sign(fraction)) * vn
    assert np.median(v) == pytest.approx(expected, abs=0.05 * vn)
    assert np.sign(np.median(v)) == np.sign(expected)          # beyond v_Nyq the sign flips


@pytest.mark.formula("us.kasai")
def test_kasai_agrees_with_the_spectral_mean_frequency_of_numpy_fft():
    vn = us.nyquist_velocity(PRF, F0)
    iq, depth = _iq_uniform_motion(0.45 * vn, n_pulses=128, seed=3)
    gate = (depth > 0.022) & (depth < 0.028)
    x = iq[:, gate]
    power = (np.abs(np.fft.fft(x, axis=0)) ** 2).sum(axis=1)
    f = np.fft.fftfreq(x.shape[0], 1 / PRF)
    f_mean = (f * power).sum() / power.sum()
    v_spec = us.doppler_velocity(f_mean, 0.0, F0)
    r1 = us.kasai_velocity(x[:, :], prf_hz=PRF, center_frequency_hz=F0,
                           gate_samples=int(gate.sum()))
    assert np.median(r1) == pytest.approx(v_spec, rel=0.03)
    assert v_spec == pytest.approx(0.45 * vn, rel=0.05)      # both estimate the truth


def test_kasai_angle_correction_divides_by_cos():
    iq, depth = _iq_uniform_motion(0.2)
    inside = (depth > 0.022) & (depth < 0.028)
    v0 = us.kasai_velocity(iq, prf_hz=PRF, center_frequency_hz=F0)[inside]
    v60 = us.kasai_velocity(iq, prf_hz=PRF, center_frequency_hz=F0, angle_rad=np.pi / 3)[inside]
    np.testing.assert_allclose(v60, 2 * v0, rtol=1e-12)


def test_iq_demodulate_magnitude_is_the_envelope_and_phase_is_the_depth():
    ns = 1200
    z = 0.0123
    rf = us.simulate_rf([z], [1.0], fs_hz=FS, n_samples=ns, center_frequency_hz=F0)
    iq = us.iq_demodulate(rf, fs_hz=FS, center_frequency_hz=F0)
    np.testing.assert_allclose(np.abs(iq), np.abs(signal.hilbert(rf)), atol=1e-12)
    k = int(np.argmax(np.abs(iq)))
    expected = np.angle(np.exp(-4j * np.pi * F0 * z / CS))
    phase_err = np.angle(iq[k] * np.exp(-1j * expected))
    assert abs(phase_err) < 2 * np.pi * F0 * abs(k / FS - 2 * z / CS) + 1e-6


def test_wall_filter_matches_polyfit_residuals(rng):
    x = rng.normal(size=(12, 5)) + 1j * rng.normal(size=(12, 5))
    for order in (0, 1, 2):
        out = us.wall_filter(x, order=order)
        t = np.linspace(-1, 1, 12)
        for part, fn in ((out.real, np.real), (out.imag, np.imag)):
            coef = np.polyfit(t, fn(x), order)
            fit = np.vander(t, order + 1) @ coef
            np.testing.assert_allclose(part, fn(x) - fit, atol=1e-12)
    # still tissue (constant) and a linear drift are removed exactly by order 1
    clutter = (3.0 + 2.0j) + np.linspace(0, 1, 16)[:, None] * np.ones((16, 4))
    assert np.abs(us.wall_filter(clutter, order=1)).max() < 1e-12


def test_doppler_spectrum_matches_scipy_spectrogram(rng):
    x = rng.normal(size=(200, 3)) + 1j * rng.normal(size=(200, 3))
    f, t, p = us.doppler_spectrum(x, prf_hz=PRF, n_fft=32, hop=16)
    fs_, ts_, ps_ = signal.spectrogram(x, fs=PRF, window="hann", nperseg=32, noverlap=16,
                                       detrend=False, return_onesided=False,
                                       scaling="spectrum", axis=0)
    # scipy: (freq, gate, time); ours sums the gate
    np.testing.assert_allclose(f, np.fft.fftshift(fs_))
    np.testing.assert_allclose(t, ts_)
    np.testing.assert_allclose(p, np.fft.fftshift(ps_.sum(axis=1), axes=0), rtol=1e-10)


@pytest.mark.formula("us.poiseuille")
def test_pw_spectrum_of_a_uniformly_insonated_parabolic_profile_is_flat():
    rng = np.random.default_rng(5)
    theta, big_r, zc, gate = np.pi / 3, 4e-3, 0.04, 2e-3
    vmax = 0.8 * us.nyquist_velocity(PRF, F0, theta)
    n_p, k = 256, 4000
    v = us.poiseuille_velocity(big_r * np.sqrt(rng.uniform(size=k)), big_r, vmax) * np.cos(theta)
    span = n_p / PRF * v.max()
    z = rng.uniform(zc - gate / 2 - 1e-3, zc + gate / 2 + span + 1e-3, k)
    ns = int(2 * (zc + gate + span + 3e-3) / CS * FS)
    rf = us.simulate_doppler_rf(z, rng.normal(size=k), v, prf_hz=PRF, n_pulses=n_p, fs_hz=FS,
                                n_samples=ns, center_frequency_hz=F0)
    iq = us.iq_demodulate(rf, fs_hz=FS, center_frequency_hz=F0)
    depth = np.arange(ns) / FS * CS / 2
    f, _, p = us.doppler_spectrum(iq[:, np.abs(depth - zc) < gate / 2], prf_hz=PRF, n_fft=64)
    s = p.mean(axis=1)
    fmax = us.doppler_shift(vmax, theta, F0)
    band = (f > 0.1 * fmax) & (f < 0.9 * fmax)
    for a, b in ((0.1, 0.35), (0.35, 0.65), (0.65, 0.9)):
        m = (f >= a * fmax) & (f < b * fmax)
        assert abs(s[m].mean() / s[band].mean() - 1) < 0.25
    assert s[(f > -0.1 * fmax) & (f < 1.15 * fmax)].sum() / s.sum() > 0.95


@pytest.mark.formula("us.kasai")
def test_kasai_recovers_a_poiseuille_profile_within_5_percent_through_40_db_clutter():
    """The bar of section 5.6: one beam across a vessel at 60 degrees, 16-pulse ensembles,
    still clutter 40 dB above blood, noise 20 dB below it, order-1 wall filter, 8 frames."""
    theta, big_r, zc, prf, bw = np.pi / 3, 4e-3, 0.04, 5e3, 0.3
    vmax = 0.8 * us.nyquist_velocity(prf, F0, theta)
    span = big_r / np.sin(theta)
    ns = int(2 * (zc + span + 4e-3) / CS * FS)
    depth = np.arange(ns) / FS * CS / 2
    r_of_depth = (depth - zc) * np.sin(theta)
    lumen = np.abs(r_of_depth) < big_r
    kw = dict(prf_hz=prf, n_pulses=16, fs_hz=FS, n_samples=ns, center_frequency_hz=F0,
              fractional_bandwidth=bw)
    frames = []
    for seed in range(8):
        g = np.random.default_rng(100 + seed)
        z_mid = g.uniform(zc - span - 3e-3, zc + span + 3e-3, 3000)
        r = (z_mid - zc) * np.sin(theta)
        inl = np.abs(r) < big_r
        v_ax = us.poiseuille_velocity(r[inl], big_r, vmax) * np.cos(theta)
        blood = us.iq_demodulate(us.simulate_doppler_rf(z_mid[inl] + v_ax * 7.5 / prf,
                                                        g.normal(size=inl.sum()), v_ax, **kw),
                                 fs_hz=FS, center_frequency_hz=F0)
        still = us.iq_demodulate(us.simulate_doppler_rf(g.uniform(0, depth[-1], 3000),
                                                        g.normal(size=3000), np.zeros(3000),
                                                        **kw),
                                 fs_hz=FS, center_frequency_hz=F0)
        pb = np.mean(np.abs(blood[:, lumen]) ** 2)
        ps = np.mean(np.abs(still[:, lumen]) ** 2)
        iq = blood + still * np.sqrt(pb / ps * 1e4)
        iq = iq + np.sqrt(pb * 0.01 / 2) * (g.normal(size=iq.shape) + 1j * g.normal(size=iq.shape))
        frames.append(us.kasai_velocity(us.wall_filter(iq, order=1), prf_hz=prf,
                                        center_frequency_hz=F0, angle_rad=theta,
                                        gate_samples=9))
        if seed == 0:       # without the wall filter the clutter pulls the estimate to 0
            raw = us.kasai_velocity(iq, prf_hz=prf, center_frequency_hz=F0, angle_rad=theta,
                                    gate_samples=9)
    truth = us.poiseuille_velocity(r_of_depth, big_r, vmax)
    rms = np.sqrt(np.mean((np.mean(frames, axis=0)[lumen] - truth[lumen]) ** 2)) / vmax
    assert rms < 0.05
    assert np.sqrt(np.mean((raw[lumen] - truth[lumen]) ** 2)) / vmax > 0.3


@pytest.mark.formula("us.doppler-shift")
@pytest.mark.parametrize("v", [0.8, -1.5, 3.0])
def test_cw_signal_of_one_scatterer_is_a_tone_at_the_doppler_frequency(v):
    fs, n = 40e3, 4000
    x = us.cw_doppler_iq([0.02], [1.0], [v], fs_hz=fs, n_samples=n, center_frequency_hz=F0)
    f = np.fft.fftfreq(n, 1 / fs)
    peak = f[np.argmax(np.abs(np.fft.fft(x)))]
    assert peak == pytest.approx(us.doppler_shift(v, 0.0, F0), abs=fs / n)
    # the exact phase: a displacement of lambda / 2 turns it by one cycle
    t = np.arange(n) / fs
    np.testing.assert_allclose(x, np.exp(-4j * np.pi * F0 * (0.02 - v * t) / CS), atol=1e-9)
    # far beyond the Nyquist velocity of a 5 kHz PRF, CW does not alias
    assert abs(v) < 2 or abs(us.doppler_shift(v, 0.0, F0)) > PRF / 2


def test_simulate_doppler_rf_is_simulate_rf_at_each_pulse_position():
    z, a, v = np.array([0.01, 0.015]), np.array([1.0, -0.5]), np.array([0.3, -0.2])
    rf = us.simulate_doppler_rf(z, a, v, prf_hz=PRF, n_pulses=4, fs_hz=FS, n_samples=500,
                                center_frequency_hz=F0)
    assert rf.shape == (4, 500)
    for n in range(4):
        ref = us.simulate_rf(z - v * n / PRF, a, fs_hz=FS, n_samples=500, center_frequency_hz=F0)
        np.testing.assert_allclose(rf[n], ref, atol=1e-12)


BAD_CALLS = [
    (us.doppler_shift, (1.0, np.pi / 2, F0), {}, "angle_rad"),
    (us.doppler_velocity, (100.0, -0.1, F0), {}, "angle_rad"),
    (us.nyquist_velocity, (0.0, F0), {}, "prf_hz"),
    (us.poiseuille_velocity, (0.0, 0.0, 1.0), {}, "vessel_radius_m"),
    (us.simulate_doppler_rf, ([0.001], [1.0], [1.0]),
     {"prf_hz": 100.0, "n_pulses": 3, "fs_hz": FS, "n_samples": 10, "center_frequency_hz": F0},
     "velocity_m_per_s"),
    (us.simulate_doppler_rf, ([0.01], [1.0], [1.0, 2.0]),
     {"prf_hz": PRF, "n_pulses": 3, "fs_hz": FS, "n_samples": 10, "center_frequency_hz": F0},
     "velocity_m_per_s"),
    (us.wall_filter, (np.ones((4, 3)),), {"order": 3}, "order"),
    (us.kasai_velocity, (np.ones(5),), {"prf_hz": PRF, "center_frequency_hz": F0}, "iq"),
    (us.kasai_velocity, (np.ones((1, 5)),), {"prf_hz": PRF, "center_frequency_hz": F0}, "iq"),
    (us.doppler_spectrum, (np.ones((8, 2)),), {"prf_hz": PRF, "n_fft": 16}, "n_fft"),
    (us.iq_demodulate, (np.ones(8),), {"fs_hz": FS, "center_frequency_hz": FS}, "center_freq"),
]


@pytest.mark.parametrize("func, args, kwargs, name", BAD_CALLS)
def test_bad_input_names_the_argument(func, args, kwargs, name):
    with pytest.raises(ValueError, match=name):
        func(*args, **kwargs)


def test_inputs_are_not_modified():
    iq = np.ones((6, 4), complex) * np.exp(1j * np.arange(6))[:, None]
    keep = iq.copy()
    us.kasai_velocity(iq, prf_hz=PRF, center_frequency_hz=F0)
    us.wall_filter(iq)
    us.doppler_spectrum(iq, prf_hz=PRF, n_fft=4)
    np.testing.assert_array_equal(iq, keep)


_IQ = np.exp(1j * 0.3 * np.arange(6))[:, None] * np.ones((6, 3)) + 0.1
BAD_INPUT_CALLS = {
    "ultrasound.doppler.doppler_shift": Entry(lambda: C(0.5, 0.3, F0)),
    "ultrasound.doppler.doppler_velocity": Entry(lambda: C(1000.0, 0.3, F0)),
    "ultrasound.doppler.nyquist_velocity": Entry(lambda: C(PRF, F0, 0.3)),
    "ultrasound.doppler.poiseuille_velocity": Entry(
        lambda: C(np.array([0.0, 1e-3, 2e-3, 5e-3]), 3e-3, 0.5)),
    "ultrasound.doppler.simulate_doppler_rf": Entry(
        lambda: C(np.array([0.002, 0.003]), np.array([1.0, 0.5]), np.array([0.1, -0.1]),
                  prf_hz=PRF, n_pulses=3, fs_hz=FS, n_samples=60, center_frequency_hz=F0)),
    "ultrasound.doppler.cw_doppler_iq": Entry(
        lambda: C(np.array([0.01, 0.02]), np.array([1.0, 0.5]), np.array([0.3, -0.2]),
                  fs_hz=20e3, n_samples=16, center_frequency_hz=F0)),
    "ultrasound.doppler.iq_demodulate": Entry(
        lambda: C(np.sin(np.arange(16.0)), fs_hz=FS, center_frequency_hz=F0)),
    "ultrasound.doppler.wall_filter": Entry(lambda: C(_IQ.copy(), order=1)),
    "ultrasound.doppler.kasai_velocity": Entry(
        lambda: C(_IQ.copy(), prf_hz=PRF, center_frequency_hz=F0, angle_rad=0.3,
                  gate_samples=2)),
    "ultrasound.doppler.doppler_spectrum": Entry(lambda: C(_IQ.copy(), prf_hz=PRF, n_fft=4,
                                                           hop=2)),
}
