"""medlib.ultrasound.artefacts against closed forms, scipy.signal, path enumeration and the
beamformer of section 5.4."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import integrate, signal

from medlib import ultrasound as us
from medlib.ultrasound import artefacts as art

FC, FS, CS = 5e6, 40e6, 1540.0

BAD_INPUT_CALLS = {
    "ultrasound.artefacts.pulse_duration": Entry(lambda: C(FC, 0.6, level_db=-6.0)),
    "ultrasound.artefacts.spatial_pulse_length": Entry(lambda: C(FC, 0.6, speed_m_per_s=CS)),
    "ultrasound.artefacts.axial_resolution": Entry(lambda: C(FC, 0.6, speed_m_per_s=CS)),
    "ultrasound.artefacts.round_trip_loss_db": Entry(
        lambda: C(np.full((3, 6), 0.5), np.linspace(0.0, 0.05, 6), 5.0, axis=-1)),
    "ultrasound.artefacts.reverberation_echoes": Entry(
        lambda: C(0.005, 0.008, 0.5, 0.6, n_echoes=4)),
    "ultrasound.artefacts.mirror_depth": Entry(lambda: C(np.array([0.01, 0.02]), 0.03)),
    "ultrasound.artefacts.displayed_depth": Entry(
        lambda: C(np.array([0.01, 0.02]), np.array([1450.0, 1540.0]),
                  assumed_speed_m_per_s=CS)),
    "ultrasound.artefacts.linear_scan_rf": Entry(
        lambda: C(np.array([0.0, 1e-3]), np.array([0.004, 0.006]), np.array([1.0, -0.5]),
                  np.linspace(-2e-3, 2e-3, 5), lateral_fwhm_m=1e-3, fs_hz=FS, n_samples=400,
                  center_frequency_hz=FC, fractional_bandwidth=0.6, speed_m_per_s=CS,
                  truncate=2.0)),
    "ultrasound.artefacts.derated_pressure": Entry(
        lambda: C(np.array([1.0, 2.0]), np.array([2.0, 4.0]), 3.0,
                  derating_db_per_cm_mhz=0.3)),
    "ultrasound.artefacts.mechanical_index": Entry(lambda: C(np.array([1.0, 1.6]), 1.3)),
    "ultrasound.artefacts.thermal_index": Entry(lambda: C(np.array([20.0, 84.0]), 210.0 / 2.5)),
}


@pytest.mark.formula("us.axial-resolution")
@pytest.mark.parametrize("bandwidth", [0.3, 0.6, 0.9])
def test_axial_resolution_is_half_the_measured_pulse_length(bandwidth):
    t = np.arange(-4e-6, 4e-6, 1 / 2e9)
    _, env = signal.gausspulse(t, FC, bandwidth, -6, retenv=True)
    above = t[env >= 10 ** (-6 / 20)]
    duration = above[-1] - above[0]
    assert abs(art.pulse_duration(FC, bandwidth) - duration) < 2e-9
    assert abs(art.axial_resolution(FC, bandwidth) - CS * duration / 2) < 2e-6
    # the closed form T = 4 ln(10^(6/20)) / (pi B fc)
    assert np.isclose(art.pulse_duration(FC, bandwidth),
                      4 * np.log(10 ** 0.3) / (np.pi * bandwidth * FC), rtol=1e-12)


@pytest.mark.formula("us.axial-resolution")
def test_echo_of_a_point_is_c_t_over_2_long_in_depth():
    fs = 400e6
    rf = us.simulate_rf([0.01], [1.0], fs_hz=fs, n_samples=int(1.6e-5 * fs),
                        center_frequency_hz=FC, fractional_bandwidth=0.5)
    depth = np.arange(rf.size) / fs * CS / 2
    width = us.fwhm(us.envelope(rf), depth)
    assert abs(width / art.axial_resolution(FC, 0.5) - 1) < 0.01


def test_round_trip_loss_of_piecewise_constant_tissue():
    z = np.linspace(0.0, 0.06, 601)
    alpha = np.where((z > 0.02) & (z < 0.03), 5.0, 0.5)
    loss = art.round_trip_loss_db(alpha, z, 4.0)
    np.testing.assert_allclose(loss, 2 * 4.0 * integrate.cumulative_trapezoid(alpha, z * 100,
                                                                              initial=0.0))
    # 2 f (0.5 * 6 cm + 4.5 * 1 cm), but for the sample interval lost at the two edges
    assert abs(loss[-1] - 2 * 4.0 * (0.5 * 6.0 + 4.5 * 1.0)) < 2 * 4.0 * 4.5 * 0.0101
    uniform = art.round_trip_loss_db(np.full((2, z.size), 0.7), z, 3.0)
    np.testing.assert_allclose(uniform[1], us.attenuation_db(0.7, 3.0, z * 100,
                                                             round_trip=True), atol=1e-9)
    np.testing.assert_allclose(art.round_trip_loss_db(np.full((z.size, 2), 0.7), z, 3.0,
                                                      axis=0)[:, 0], uniform[0])


def _bounce_paths(z1, z2, r1, r2, max_depth):
    """Enumerate ray paths in the two-interface system: (displayed depth, amplitude)."""
    t1d, t1u = 1 + r1, 1 - r1               # pressure transmission down / up through interface 1
    arrivals = {}

    def go(region, direction, path, amp):
        if path / 2 > max_depth + 1e-12 or abs(amp) < 1e-12:
            return
        if region == 0 and direction == "up":
            arrivals[round(path / 2, 9)] = arrivals.get(round(path / 2, 9), 0.0) + amp
            return
        if region == 0:                             # going down in the top layer: hit 1
            go(0, "up", path + 2 * z1, amp * r1)
            go(1, "down", path + z1, amp * t1d)
        elif direction == "down":                   # in the gap, going down: hit 2
            go(1, "up", path + (z2 - z1), amp * r2)  # (transmission into 2 is lost)
        else:                                       # in the gap, going up: hit 1 from below
            go(0, "up", path + (z2 - z1) + z1, amp * t1u)
            go(1, "down", path + (z2 - z1), amp * (-r1))

    go(0, "down", 0.0, 1.0)
    return arrivals


@pytest.mark.formula("us.reverberation")
def test_reverberation_echoes_match_an_enumeration_of_ray_paths():
    z1, z2, r1, r2 = 0.005, 0.008, 0.4, -0.6
    depth, amp = art.reverberation_echoes(z1, z2, r1, r2, n_echoes=5)
    paths = _bounce_paths(z1, z2, r1, r2, depth[-1] + 1e-6)
    keys = sorted(paths)
    np.testing.assert_allclose(keys, depth, atol=1e-9)
    np.testing.assert_allclose([paths[k] for k in keys], amp, atol=1e-12)


@pytest.mark.formula("us.mirror-image")
def test_mirror_image_depth_is_the_path_length_over_two():
    zm, z = 0.05, np.array([0.01, 0.03, 0.049])
    path = zm + (zm - z) + (zm - z) + zm            # probe-mirror-target-mirror-probe
    np.testing.assert_allclose(art.mirror_depth(z, zm), path / 2)
    with pytest.raises(ValueError, match="depth_m"):
        art.mirror_depth([0.06], zm)


@pytest.mark.formula("us.speed-error")
def test_displayed_depth_of_layers():
    got = art.displayed_depth([0.02, 0.03], [1450.0, 1540.0])
    t = 2 * (0.02 / 1450 + 0.03 / 1540)
    assert np.isclose(got[-1], 1540 * t / 2, rtol=1e-12)
    assert np.isclose(got[0] - 0.02, 0.02 * (1540 / 1450 - 1), rtol=1e-12)


@pytest.mark.formula("us.speed-error")
def test_beamformer_with_the_wrong_speed_displaces_the_point_as_predicted():
    lam = 1450.0 / FC
    x = us.element_positions(32, lam / 2)
    z_true = 0.015
    ch = us.channel_data([0.0], [z_true], [1.0], x, focus_depth_m=z_true, fs_hz=FS,
                         n_samples=int(2 * 0.02 / 1450 * FS), center_frequency_hz=FC,
                         speed_m_per_s=1450.0)
    z = np.arange(0.014, 0.018, lam / 16)
    # the scanner's transmit delays would also be computed at 1540 m/s; here the focal
    # delays are those of the true speed, and the receive side assumes 1540 m/s
    line = np.abs(us.delay_and_sum(ch, x, z, fs_hz=FS, focus_depth_m=z_true,
                                   center_frequency_hz=FC, speed_m_per_s=1540.0))
    want = art.displayed_depth([z_true], [1450.0])[0]
    assert abs(z[np.argmax(line)] - want) < lam / 4


def test_linear_scan_weights_are_a_gaussian_beam():
    lines = np.linspace(-3e-3, 3e-3, 13)
    rf = art.linear_scan_rf([0.0], [0.01], [1.0], lines, lateral_fwhm_m=2e-3, fs_hz=FS,
                            n_samples=800, center_frequency_hz=FC, truncate=4.0)
    peak = np.abs(rf).max(axis=1)
    single = np.abs(us.simulate_rf([0.01], [1.0], fs_hz=FS, n_samples=800,
                                   center_frequency_hz=FC)).max()
    np.testing.assert_allclose(peak / single, 0.5 ** ((2 * lines / 2e-3) ** 2), rtol=1e-9)
    # an unsorted line order gives the same lines
    perm = np.array([3, 0, 12, 5, 1, 2, 4, 6, 7, 8, 9, 10, 11])
    rf_p = art.linear_scan_rf([0.0], [0.01], [1.0], lines[perm], lateral_fwhm_m=2e-3, fs_hz=FS,
                              n_samples=800, center_frequency_hz=FC, truncate=4.0)
    np.testing.assert_allclose(rf_p, rf[perm])


@pytest.mark.formula("us.mechanical-index")
def test_mechanical_index():
    assert np.isclose(art.mechanical_index(1.6, 1.3), 1.6 / np.sqrt(1.3))
    assert np.isclose(art.mechanical_index(2.0, 4.0), 1.0)
    # derating: 0.3 dB/cm/MHz one way
    assert np.isclose(art.derated_pressure(3.0, 5.0, 2.0), 3.0 * 10 ** (-0.3 * 2 * 5 / 20))


@pytest.mark.formula("us.thermal-index")
def test_thermal_index():
    # soft tissue, scanned: W_deg = 210 / f mW
    assert np.isclose(art.thermal_index(42.0, 210.0 / 2.5), 0.5)
    np.testing.assert_allclose(art.thermal_index([10.0, 20.0], 40.0), [0.25, 0.5])


@pytest.mark.parametrize("call, match", [
    (lambda: art.reverberation_echoes(0.01, 0.005, 0.5, 0.5), "depth2_m"),
    (lambda: art.reverberation_echoes(0.005, 0.01, 1.0, 0.5), "r1"),
    (lambda: art.displayed_depth([0.01], [1450.0, 1540.0]), "thickness_m"),
    (lambda: art.round_trip_loss_db(np.ones(4), np.arange(3.0), 5.0), "depth_m"),
    (lambda: art.linear_scan_rf([0.0], [0.01, 0.02], [1.0], [0.0], lateral_fwhm_m=1e-3,
                                fs_hz=FS, n_samples=10, center_frequency_hz=FC),
     "scatterer_x_m"),
    (lambda: art.thermal_index(1.0, 0.0), "power_for_1c_mw"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
