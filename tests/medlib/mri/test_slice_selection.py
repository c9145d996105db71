"""medlib.mri.slice_selection against closed forms, SciPy's ODE solver and SigPy's Cayley-Klein
Bloch simulator (sigpy.mri.rf.sim.abrm)."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy.integrate import solve_ivp

from medlib import mri

GAMMA = 42.57638543            # Hz per microtesla (1H, CODATA 2022 shielded proton)
T_MS, N_T = 3.2, 256

BAD_INPUT_CALLS = {
    "mri.slice_selection.sinc_pulse": Entry(lambda: C(30.0, 2.0, 4.0, n_samples=16)),
    "mri.slice_selection.slice_thickness_mm": Entry(lambda: C(2000.0, 10.0)),
    "mri.slice_selection.selective_excitation": Entry(
        lambda: C(np.hanning(16) * 2.0, 0.1, 10.0, np.linspace(-5.0, 5.0, 7),
                  rephase_fraction=0.5)),
    "mri.slice_selection.small_tip_profile": Entry(
        lambda: C(np.hanning(16) * 2.0, 0.1, 10.0, np.linspace(-5.0, 5.0, 7),
                  rephase_fraction=0.5)),
    "mri.slice_selection.profile_fwhm_mm": Entry(
        lambda: C(np.linspace(-3.0, 3.0, 13), np.exp(-np.linspace(-3.0, 3.0, 13) ** 2))),
}


def _pulse(flip, tbw=4.0, window="hamming"):
    t, b1 = mri.sinc_pulse(flip, T_MS, tbw, n_samples=N_T, window=window)
    return t, b1, T_MS / N_T


def _sigpy(b1, dt, g, z):
    """SigPy's Cayley-Klein simulation of the same pulse: rf in radians per sample, x in cycles
    of gradient phase over the pulse; returns (Mxy, Mz) from equilibrium."""
    rf = pytest.importorskip("sigpy.mri.rf")
    a, b = rf.sim.abrm(2 * np.pi * GAMMA * b1 * dt * 1e-3, GAMMA * g * z * b1.size * dt * 1e-3,
                       balanced=False)
    return 2 * np.conj(a) * b, 1 - 2 * np.abs(b) ** 2


@pytest.mark.formula("mri.sinc-pulse")
@pytest.mark.parametrize("window", ["none", "hamming", "hann"])
def test_sinc_pulse_has_the_flip_angle_and_the_sinc_shape(window):
    t, b1, dt = _pulse(45.0, tbw=6.0, window=window)
    assert np.allclose(t, (np.arange(N_T) + 0.5) * dt)
    # flip angle = gamma * area (hard-pulse rule applied to the area)
    assert np.rad2deg(2 * np.pi * GAMMA * b1.sum() * dt * 1e-3) == pytest.approx(45.0, rel=1e-12)
    s = (t - T_MS / 2) / T_MS
    w = {"none": 1.0, "hamming": 0.54 + 0.46 * np.cos(2 * np.pi * s),
         "hann": 0.5 + 0.5 * np.cos(2 * np.pi * s)}[window]
    ref = np.sin(np.pi * 6 * s) / (np.pi * 6 * s) * w
    np.testing.assert_allclose(b1 / b1.max(), ref / ref.max(), atol=1e-12)
    # zero crossings of the sinc at t - T/2 = k / BW, BW = TBW / T, 0 < |k| < TBW / 2: TBW - 2
    crossings = np.count_nonzero(np.diff(np.sign(b1)) != 0)
    assert crossings == 4


@pytest.mark.formula("mri.slice-thickness")
def test_slice_thickness_closed_form():
    assert mri.slice_thickness_mm(1000.0, 10.0) == pytest.approx(1000 / (42.57638543 * 10))
    # 2 kHz pulse, 3 mm slice: G = BW / (gamma_bar dz) = 15.66 mT/m
    g = 2000 / (GAMMA * 3.0)
    assert mri.slice_thickness_mm(2000.0, g) == pytest.approx(3.0, rel=1e-12)
    np.testing.assert_allclose(mri.slice_thickness_mm([1e3, 2e3], 10.0),
                               np.array([1e3, 2e3]) / (GAMMA * 10))
    # another nucleus scales with 1 / gamma_bar
    assert mri.slice_thickness_mm(1e3, 10.0, "31P") == pytest.approx(
        mri.slice_thickness_mm(1e3, 10.0) / 0.40480742)


@pytest.mark.formula("mri.slice-thickness")
@pytest.mark.parametrize("flip, tbw", [(30.0, 4.0), (30.0, 8.0), (90.0, 8.0)])
def test_simulated_fwhm_within_5_percent_of_bw_over_gamma_g(flip, tbw):
    t, b1, dt = _pulse(flip, tbw)
    g = 10.0
    z = np.linspace(-15, 15, 3001)
    m = mri.selective_excitation(b1, dt, g, z, rephase_fraction=0.5)
    fwhm = mri.profile_fwhm_mm(z, np.hypot(m[0], m[1]))
    nominal = mri.slice_thickness_mm(tbw / T_MS * 1e3, g)
    assert abs(fwhm / nominal - 1) < 0.05


@pytest.mark.formula("mri.rephasing")
@pytest.mark.parametrize("flip", [30.0, 90.0, 180.0])
def test_selective_excitation_agrees_with_sigpy_cayley_klein(flip):
    t, b1, dt = _pulse(flip)
    z = np.linspace(-8, 8, 401)
    m = mri.selective_excitation(b1, dt, 12.0, z)
    mxy_ref, mz_ref = _sigpy(b1, dt, 12.0, z)
    # SigPy's rotation sense is the opposite of the course's (B1 along +x tips +z to +y here):
    # its Mxy is the complex conjugate of ours.
    np.testing.assert_allclose(m[0] + 1j * m[1], np.conj(mxy_ref), atol=1e-12)
    np.testing.assert_allclose(m[2], mz_ref, atol=1e-12)


@pytest.mark.formula("mri.rephasing")
def test_selective_excitation_agrees_with_an_ode_solver_for_a_complex_pulse():
    rng = np.random.default_rng(3)
    b1 = (rng.normal(size=20) + 1j * rng.normal(size=20)) * 3.0     # microtesla
    dt, g, z0, df0 = 0.05, 8.0, 1.3, 150.0

    def rhs(t, m):
        k = min(int(t / dt), b1.size - 1)
        w = 2 * np.pi * GAMMA * np.array([b1[k].real, b1[k].imag, g * z0 + df0 / GAMMA]) * 1e-3
        return np.cross(m, w)         # dM/dt = gamma M x B (per ms)

    sol = solve_ivp(rhs, (0, b1.size * dt), [0, 0, 1], rtol=1e-11, atol=1e-12,
                    t_eval=[b1.size * dt], max_step=dt / 20)
    m = mri.selective_excitation(b1, dt, g, [z0], off_resonance_hz=df0)
    np.testing.assert_allclose(m[:, 0], sol.y[:, -1], atol=1e-7)


@pytest.mark.formula("mri.rephasing")
def test_half_area_lobe_removes_the_linear_phase():
    t, b1, dt = _pulse(20.0, tbw=6.0)
    g = 10.0
    z = np.linspace(-1.2, 1.2, 49)                       # inside the 4.4 mm slice
    m0 = mri.selective_excitation(b1, dt, g, z)
    mxy0 = m0[0] + 1j * m0[1]
    # without rephasing: phase = pi/2 - 2 pi gamma_bar G z T / 2 (tipped at the pulse centre)
    expected = np.pi / 2 - 2 * np.pi * GAMMA * g * z * T_MS * 1e-3 / 2
    assert np.max(np.abs(np.angle(mxy0 * np.exp(-1j * expected)))) < 0.03
    m = mri.selective_excitation(b1, dt, g, z, rephase_fraction=0.5)
    assert np.max(np.abs(np.angle(m[0] + 1j * m[1]) - np.pi / 2)) < 0.03
    assert np.allclose(np.abs(m[0] + 1j * m[1]), np.abs(mxy0))   # a z rotation only
    # the signal of the slab: rephased, it is |Mxy| summed; unrephased it mostly cancels
    zz = np.linspace(-10, 10, 2001)
    full = mri.selective_excitation(b1, dt, g, zz, rephase_fraction=0.5)
    none = mri.selective_excitation(b1, dt, g, zz)
    assert abs(np.sum(none[0] + 1j * none[1])) < 0.2 * abs(np.sum(full[0] + 1j * full[1]))


@pytest.mark.formula("mri.small-tip")
def test_small_tip_profile_matches_the_bloch_simulation_at_small_flip():
    t, b1, dt = _pulse(5.0)
    z = np.linspace(-10, 10, 401)
    m = mri.selective_excitation(b1, dt, 10.0, z, rephase_fraction=0.5)
    st = mri.small_tip_profile(b1, dt, 10.0, z, rephase_fraction=0.5)
    assert np.max(np.abs(st - (m[0] + 1j * m[1]))) < 2e-3 * np.sin(np.deg2rad(5.0))
    # and departs at 90 degrees: the centre is alpha = pi / 2 in the approximation, sin(alpha) = 1
    t, b1, dt = _pulse(90.0)
    st = mri.small_tip_profile(b1, dt, 10.0, [0.0], rephase_fraction=0.5)
    m = mri.selective_excitation(b1, dt, 10.0, [0.0], rephase_fraction=0.5)
    assert abs(st[0]) == pytest.approx(np.pi / 2, rel=1e-9)
    assert np.hypot(m[0, 0], m[1, 0]) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.formula("mri.small-tip")
def test_small_tip_profile_is_the_fourier_transform_of_the_pulse():
    # Hann window: the analytic transform of a boxcar would differ; compare with an explicit
    # numerical integral of i gamma B1(t) exp(-i w (T - t)) dt on a fine grid
    t, b1, dt = _pulse(10.0, window="none")
    z = np.array([-3.0, -0.4, 0.0, 1.1, 5.0])
    st = mri.small_tip_profile(b1, dt, 7.0, z)
    w = 2 * np.pi * GAMMA * 7.0 * z
    ref = np.array([1j * 2 * np.pi * GAMMA * np.sum(b1 * np.exp(-1j * wi * (T_MS - t) * 1e-3))
                    * dt * 1e-3 for wi in w])
    np.testing.assert_allclose(st, ref, atol=1e-13)


def test_profile_fwhm_of_a_gaussian_and_a_triangle():
    z = np.linspace(-10, 10, 2001)
    assert mri.profile_fwhm_mm(z, np.exp(-z**2 / (2 * 1.5**2))) == pytest.approx(
        2 * np.sqrt(2 * np.log(2)) * 1.5, rel=1e-5)
    tri = np.clip(1 - np.abs(z) / 4, 0, None)
    assert mri.profile_fwhm_mm(z, tri) == pytest.approx(4.0, abs=1e-12)


def test_inputs_untouched_and_apodisation_lowers_side_lobes():
    z = np.linspace(-15, 15, 1501)
    side = {}
    for window in ("none", "hamming"):
        t, b1, dt = _pulse(30.0, tbw=4.0, window=window)
        before = b1.copy()
        m = mri.selective_excitation(b1, dt, 10.0, z, rephase_fraction=0.5)
        assert np.array_equal(b1, before)
        mag = np.hypot(m[0], m[1]) / np.hypot(m[0], m[1]).max()
        side[window] = mag[np.abs(z) > 3.0].max()            # outside the 2.9 mm slice
    assert side["hamming"] < 0.01 < side["none"]


NAMED_CALLS = [
    (mri.sinc_pulse, (0.0, 2.0, 4.0), {}, ValueError, "^flip_deg"),
    (mri.sinc_pulse, (30.0, 2.0, 4.0), {"window": "kaiser"}, ValueError, "^window"),
    (mri.slice_thickness_mm, (-1.0, 10.0), {}, ValueError, "^bandwidth_hz"),
    (mri.slice_thickness_mm, (1000.0, 0.0), {}, ValueError, "^gradient_mt_per_m"),
    (mri.selective_excitation, (np.ones(4) * 2e4, 0.1, 10.0, [0.0]), {}, ValueError, "^b1_ut"),
    (mri.selective_excitation, (np.ones(4), 0.1, 10.0, [0.0]), {"off_resonance_hz": [1.0, 2.0]},
     ValueError, "^off_resonance_hz"),
    (mri.profile_fwhm_mm, ([0.0, 1.0, 2.0], [1.0, 1.0, 1.0]), {}, ValueError, "^profile"),
    (mri.profile_fwhm_mm, ([0.0, 2.0, 1.0], [0.0, 1.0, 0.0]), {}, ValueError, "^z_mm"),
]

test_errors_name_the_callers_argument = bad_input_test(NAMED_CALLS)
