"""medlib.ultrasound.beamforming against geometry, closed forms and scipy.signal.gausspulse."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import optimize, signal

from medlib import ultrasound as us
from medlib.ultrasound import beamforming as bf

FC, FS, CS = 5e6, 40e6, 1540.0
LAM = CS / FC


def _x(n=8):
    return bf.element_positions(n, LAM / 2)


BAD_INPUT_CALLS = {
    "ultrasound.beamforming.element_positions": Entry(lambda: C(8, 1.5e-4)),
    "ultrasound.beamforming.transmit_delays": Entry(lambda: C(_x(), 0.01, speed_m_per_s=CS)),
    "ultrasound.beamforming.apodization": Entry(
        lambda: C(_x(), np.array([0.0, 0.005, 0.01]), f_number=2.0, window="hann")),
    "ultrasound.beamforming.channel_data": Entry(
        lambda: C(np.array([0.0, 5e-4]), np.array([0.005, 0.006]), np.array([1.0, -0.5]), _x(4),
                  focus_depth_m=0.005, fs_hz=FS, n_samples=400, center_frequency_hz=FC,
                  fractional_bandwidth=0.6, speed_m_per_s=CS, transmit_window="rect",
                  element_width_m=1e-4)),
    "ultrasound.beamforming.delay_and_sum": Entry(
        lambda: C(np.sin(np.arange(4 * 300, dtype=float) / 3.0).reshape(4, 300), _x(4),
                  np.linspace(0.002, 0.005, 5), fs_hz=FS, focus_depth_m=0.004,
                  center_frequency_hz=FC, speed_m_per_s=CS, f_number=2.0, window="hann")),
    "ultrasound.beamforming.transmit_field": Entry(
        lambda: C(np.linspace(-1e-3, 1e-3, 5), 0.005, _x(4), focus_depth_m=0.005,
                  center_frequency_hz=FC, fractional_bandwidth=0.6, speed_m_per_s=CS,
                  transmit_window="rect", n_times=5, continuous_wave=False)),
    "ultrasound.beamforming.fwhm": Entry(
        lambda: C(np.exp(-np.linspace(-3.0, 3.0, 31) ** 2), np.linspace(-3.0, 3.0, 31),
                  level_db=-6.0)),
    "ultrasound.beamforming.lateral_resolution": Entry(
        lambda: C(LAM, np.array([0.01, 0.02]), 0.005, constant=0.886)),
    "ultrasound.beamforming.grating_lobe_angle": Entry(
        lambda: C(LAM, np.array([LAM / 2, 2 * LAM]), order=1)),
    "ultrasound.beamforming.fresnel_distance": Entry(lambda: C(np.array([0.005, 0.01]), LAM)),
}


def test_element_positions_are_centred_at_the_pitch():
    x = bf.element_positions(5, 2e-4)
    np.testing.assert_allclose(x, [-4e-4, -2e-4, 0.0, 2e-4, 4e-4], atol=1e-18)
    np.testing.assert_allclose(bf.element_positions(4, 1.0), [-1.5, -0.5, 0.5, 1.5])


def test_transmit_delays_bring_every_pulse_to_the_focus_together():
    x = bf.element_positions(16, 3e-4)
    zf = 0.02
    tau = bf.transmit_delays(x, zf, speed_m_per_s=CS)
    arrival = tau + np.sqrt(zf**2 + x**2) / CS
    np.testing.assert_allclose(arrival, arrival[0], rtol=0, atol=1e-15)
    assert tau.min() == 0.0 and np.argmax(tau) in (7, 8)    # the outer elements fire first


def _brute_channels(xs, zs, amp, x, zf, n, width):
    t = np.arange(n) / FS
    d_f = np.sqrt(zf**2 + x**2)
    tau = (d_f.max() - d_f) / CS
    out = np.zeros((x.size, n))
    for xk, zk, ak in zip(xs, zs, amp):
        for i in range(x.size):
            for j in range(x.size):
                di = np.sqrt((xk - x[i]) ** 2 + zk**2)
                dj = np.sqrt((xk - x[j]) ** 2 + zk**2)
                dir_i = np.sinc(width * (xk - x[i]) / di / LAM)
                dir_j = np.sinc(width * (xk - x[j]) / dj / LAM)
                out[j] += ak * dir_i * dir_j * signal.gausspulse(t - tau[i] - (di + dj) / CS,
                                                                 FC, 0.6)
    return out


def test_channel_data_equal_a_brute_force_sum_of_pulses():
    x = bf.element_positions(4, LAM)
    xs, zs, amp = np.array([0.0, 1e-3]), np.array([0.004, 0.006]), np.array([1.0, -0.7])
    got = bf.channel_data(xs, zs, amp, x, focus_depth_m=0.005, fs_hz=FS, n_samples=500,
                          center_frequency_hz=FC, element_width_m=0.5 * LAM)
    want = _brute_channels(xs, zs, amp, x, 0.005, 500, 0.5 * LAM)
    np.testing.assert_allclose(got, want, atol=2e-3 * np.abs(want).max())


def test_channel_echo_times_are_the_geometric_round_trip_times():
    x = bf.element_positions(16, LAM / 2)
    zf, fs = 0.01, 200e6
    ch = bf.channel_data([0.0], [zf], [1.0], x, focus_depth_m=zf, fs_hz=fs, n_samples=4000,
                         center_frequency_hz=FC)
    peak_t = np.argmax(us.envelope(ch), axis=1) / fs
    d = np.sqrt(zf**2 + x**2)
    np.testing.assert_allclose(peak_t, d.max() / CS + d / CS, atol=1.5 / fs)
    # all 16 transmitted pulses add in phase at the focus
    assert abs(us.envelope(ch).max() - 16) < 0.05 * 16


def test_a_record_starting_at_t0_is_a_window_of_the_full_record():
    x = bf.element_positions(8, LAM / 2)
    args = ([0.0, 1e-3], [0.008, 0.009], [1.0, 0.5], x)
    kw = dict(focus_depth_m=0.008, fs_hz=FS, center_frequency_hz=FC)
    full = bf.channel_data(*args, n_samples=600, **kw)
    part = bf.channel_data(*args, n_samples=200, t0_s=400 / FS, **kw)
    np.testing.assert_allclose(part, full[:, 400:], atol=1e-12)
    z = np.linspace(0.0078, 0.0092, 40)
    np.testing.assert_allclose(
        bf.delay_and_sum(part, x, z, fs_hz=FS, focus_depth_m=0.008, center_frequency_hz=FC,
                         t0_s=400 / FS),
        bf.delay_and_sum(full, x, z, fs_hz=FS, focus_depth_m=0.008, center_frequency_hz=FC),
        atol=1e-2)


def test_delay_and_sum_focuses_a_point_at_its_depth_with_unit_weights():
    x = bf.element_positions(32, LAM / 2)
    zf = 0.015
    ch = bf.channel_data([0.0], [zf], [1.0], x, focus_depth_m=zf, fs_hz=FS, n_samples=900,
                         center_frequency_hz=FC)
    z = np.arange(0.012, 0.018, LAM / 16)
    line = bf.delay_and_sum(ch, x, z, fs_hz=FS, focus_depth_m=zf, center_frequency_hz=FC)
    assert abs(z[np.argmax(np.abs(line))] - zf) < LAM / 8
    assert abs(np.abs(line).max() / 32 - 1) < 0.02           # weights sum to 1, 32 tx pulses
    np.testing.assert_allclose(line.real, np.real(line))


def test_apodization_weights():
    x = bf.element_positions(8, 1e-3)
    w = bf.apodization(x, [0.0, 2e-3, 4e-3, 1.0], f_number=1.0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.count_nonzero(w[0]) == 2            # shallow: the two central elements
    assert np.count_nonzero(w[1]) == 2            # a = 1 mm: |x| = 0.5 mm only
    assert np.count_nonzero(w[2]) == 4            # a = 2 mm: |x| <= 1.5 mm
    assert np.count_nonzero(w[3]) == 8            # clipped to the array
    h = bf.apodization(x, [1.0], window="hann")[0]
    edge = 4e-3
    want = 0.5 * (1 + np.cos(np.pi * x / edge))
    np.testing.assert_allclose(h, want / want.sum())


def test_fwhm_of_a_gaussian():
    x = np.linspace(-5, 5, 2001)
    sigma = 0.7
    half = 20 * np.log10(0.5)                    # -6.02 dB, exactly one half
    got = bf.fwhm(np.exp(-x**2 / (2 * sigma**2)), x, level_db=half)
    assert abs(got - 2 * sigma * np.sqrt(2 * np.log(2))) < 1e-4
    tenth = bf.fwhm(np.exp(-x**2 / (2 * sigma**2)), x, level_db=-20)
    assert abs(tenth - 2 * sigma * np.sqrt(2 * np.log(10))) < 1e-4


def _lateral_profile(x, zf, offsets, window, bw=0.6, fs=FS):
    n = int(2 * (zf + 0.005) / CS * fs)
    z = np.arange(zf - 0.003, zf + 0.003, LAM / 8)
    prof = []
    for xo in offsets:
        ch = bf.channel_data([xo], [zf], [1.0], x, focus_depth_m=zf, fs_hz=fs, n_samples=n,
                             center_frequency_hz=FC, transmit_window=window,
                             fractional_bandwidth=bw)
        prof.append(np.abs(bf.delay_and_sum(ch, x, z, fs_hz=fs, focus_depth_m=zf,
                                            center_frequency_hz=FC, window=window)).max())
    return np.array(prof)


@pytest.mark.formula("us.lateral-resolution")
def test_lateral_fwhm_constant_is_the_half_power_point_of_sinc():
    u = optimize.brentq(lambda v: np.sinc(v) ** 2 - 0.5, 0.1, 0.9)
    assert abs(bf.LATERAL_FWHM_CONSTANT - 2 * u) < 1e-4
    assert np.isclose(bf.lateral_resolution(LAM, 0.02, 0.005), 2 * u * LAM * 0.02 / 0.005,
                      rtol=1e-4)


@pytest.mark.formula("us.lateral-resolution")
def test_simulated_lateral_fwhm_at_the_focus_is_within_10_percent_of_the_closed_form():
    x = bf.element_positions(32, LAM / 2)
    zf = 0.02
    offs = np.linspace(-2.5e-3, 2.5e-3, 41)
    prof = _lateral_profile(x, zf, offs, "rect")
    want = bf.lateral_resolution(LAM, zf, 32 * LAM / 2)
    assert abs(bf.fwhm(prof, offs) / want - 1) < 0.10


def test_hann_apodisation_lowers_the_side_lobes():
    x = bf.element_positions(32, LAM / 2)
    zf = 0.02
    u = np.linspace(1.1, 3.0, 20)                      # offsets in units of lambda z / D
    offs = u * LAM * zf / (32 * LAM / 2)
    rect = _lateral_profile(x, zf, np.r_[0.0, offs], "rect", bw=0.1, fs=20e6)
    hann = _lateral_profile(x, zf, np.r_[0.0, offs], "hann", bw=0.1, fs=20e6)
    rect_db = 20 * np.log10(rect[1:].max() / rect[0])
    hann_db = 20 * np.log10(hann[1:][u > 2].max() / hann[0])
    assert -29 < rect_db < -24             # sinc^2: first side lobe -26.5 dB
    assert hann_db < rect_db - 20


@pytest.mark.formula("us.grating-lobe")
def test_grating_lobe_angle_is_where_the_array_factor_peaks_again():
    p = 2 * LAM
    theta = np.linspace(0.05, 1.0, 20001)          # below the order-2 lobe at 90 deg
    af = np.abs(np.exp(1j * 2 * np.pi / LAM * p * np.arange(16)[:, None]
                       * np.sin(theta)[None, :]).sum(axis=0))
    assert abs(theta[np.argmax(af)] - bf.grating_lobe_angle(LAM, p)) < 1e-3
    assert np.isclose(np.rad2deg(bf.grating_lobe_angle(LAM, p)), 30.0)
    assert np.isnan(bf.grating_lobe_angle(LAM, LAM / 2))
    assert np.isclose(bf.grating_lobe_angle(LAM, 3 * LAM, order=2), np.arcsin(2 / 3))


@pytest.mark.formula("us.grating-lobe")
def test_simulated_transmit_field_shows_the_grating_lobe():
    x = bf.element_positions(16, 2 * LAM)
    r = 0.2
    theta = np.deg2rad(np.linspace(5, 60, 111))
    f = bf.transmit_field(r * np.sin(theta), r * np.cos(theta), x, focus_depth_m=1e3,
                          center_frequency_hz=FC, fractional_bandwidth=0.1)
    assert abs(np.rad2deg(theta[np.argmax(f)]) - 30.0) < 1.0
    assert f.max() > 0.5
    fine = bf.transmit_field(r * np.sin(theta), r * np.cos(theta),
                             bf.element_positions(64, LAM / 2), focus_depth_m=1e3,
                             center_frequency_hz=FC, fractional_bandwidth=0.1)
    assert fine.max() < 0.1


@pytest.mark.formula("us.fresnel-distance")
def test_fresnel_distance_is_the_last_axial_maximum_of_a_piston():
    a, lam = 5e-3, 3e-4
    z = np.linspace(0.02, 0.3, 200001)
    p = np.abs(np.sin(np.pi / lam * (np.sqrt(z**2 + a**2) - z)))
    last = z[np.argmax(p)]
    assert abs(last - (a**2 / lam - lam / 4)) < 1e-5
    assert abs(bf.fresnel_distance(2 * a, lam) / last - 1) < 0.01


def test_continuous_wave_field_is_the_array_factor_in_the_far_field():
    x = bf.element_positions(16, 2 * LAM)
    r = 10.0                                            # far: the Fraunhofer array factor
    theta = np.deg2rad(np.linspace(-40, 40, 81))
    got = bf.transmit_field(r * np.sin(theta), r * np.cos(theta), x, focus_depth_m=1e3,
                            center_frequency_hz=FC, continuous_wave=True)
    psi = np.pi * 2 * LAM * np.sin(theta) / LAM
    with np.errstate(invalid="ignore", divide="ignore"):
        af = np.abs(np.sin(16 * psi) / (16 * np.sin(psi)))
    af[~np.isfinite(af)] = 1.0
    np.testing.assert_allclose(got, af, atol=0.02)


def test_transmit_field_is_one_at_the_focus_and_symmetric():
    x = bf.element_positions(16, LAM / 2)
    f = bf.transmit_field(np.array([-1e-3, 0.0, 1e-3]), 0.01, x, focus_depth_m=0.01,
                          center_frequency_hz=FC, n_times=201)
    assert abs(f[1] - 1) < 1e-3
    assert abs(f[0] - f[2]) < 1e-9 and f[0] < f[1]


@pytest.mark.parametrize("call, match", [
    (lambda: bf.element_positions(0, 1e-3), "n_elements"),
    (lambda: bf.transmit_delays(_x(), -1.0), "focus_depth_m"),
    (lambda: bf.apodization(_x(), [0.01], window="hamming"), "window"),
    (lambda: bf.apodization(_x(), [0.01], f_number=0.0), "f_number"),
    (lambda: bf.channel_data([0.0], [0.01, 0.02], [1.0], _x(), focus_depth_m=0.01, fs_hz=FS,
                             n_samples=10, center_frequency_hz=FC), "scatterer_x_m"),
    (lambda: bf.delay_and_sum(np.zeros((3, 10)), _x(), [0.01], fs_hz=FS, focus_depth_m=0.01,
                              center_frequency_hz=FC), "channels"),
    (lambda: bf.fwhm(np.ones(5), np.arange(5.0)), "below its peak"),
    (lambda: bf.fwhm(np.ones(5), np.arange(5.0)[::-1]), "coords_m"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
