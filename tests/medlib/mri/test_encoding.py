"""medlib.mri.encoding against independent references: the FFT of mri.kspace_forward, closed
forms of a point object, CODATA's gyromagnetic ratio, exact circular shifts."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import constants

from medlib import mri
from medlib.mri import encoding

SEQ = dict(bandwidth_hz_per_px=250.0, tr_ms=12.0)


def _small():
    return mri.cartesian_gre((48.0, 40.0), (8, 8), bandwidth_hz_per_px=500.0, tr_ms=5.0)


BAD_INPUT_CALLS = {
    "mri.encoding.kspace_trajectory": Entry(lambda: C(np.array([[0.0, 5.0, 5.0, -2.0]]), 0.1)),
    "mri.encoding.fov_from_gradient": Entry(lambda: C(5.0, 0.02)),
    "mri.encoding.resolution_from_kmax": Entry(lambda: C(0.5)),
    "mri.encoding.readout_parameters": Entry(lambda: C(200.0, 64, 250.0)),
    "mri.encoding.chemical_shift_pixels": Entry(lambda: C(3.0, 250.0, shift_ppm=3.4)),
    "mri.encoding.cartesian_gre": Entry(lambda: C((48.0, 40.0), (8, 8),
                                                  bandwidth_hz_per_px=500.0, tr_ms=5.0,
                                                  te_ms=None, rf_ms=1.0, g_max_mT_m=25.0)),
    "mri.encoding.CartesianSequence": Entry(lambda: C(*[getattr(_small(), f) for f in (
        "dt_ms", "t_ms", "rf", "g_ss_mT_m", "g_pe_mT_m", "g_ro_mT_m", "adc", "fov_mm", "matrix",
        "te_ms", "tr_ms", "rf_centre_ms", "bandwidth_hz_per_px")]), mutate=False),
    "mri.encoding.sequence_trajectory": Entry(lambda: C(_small())),
    "mri.encoding.encode_signal": Entry(
        lambda: C(np.arange(12.0).reshape(3, 4), (1.0, 1.5),
                  np.array([[0.0, 0.1], [0.05, -0.2], [0.1, 0.0]]), t_ms=np.array([1.0, 2, 3]),
                  t2star_ms=50.0, off_resonance_hz=-30.0),
        valid={"t2star_ms": {"inf"}}),                      # inf: no decay
}


def test_gamma_k_is_codata_shielded_proton_in_mm_and_ms():
    gamma_bar = constants.physical_constants["shielded proton gyromag. ratio in MHz/T"][0]
    # MHz/T = 1e6 cycles/(s T); mT/m = 1e-6 T/mm; ms = 1e-3 s
    assert mri.GAMMA_K == pytest.approx(gamma_bar * 1e6 * 1e-6 * 1e-3, rel=1e-9)


@pytest.mark.formula("mri.kspace-trajectory")
def test_trajectory_of_rectangular_lobes_is_the_closed_form_integral():
    dt = 0.01
    g = np.r_[np.full(50, -8.0), np.full(100, 4.0), np.zeros(10)]   # prephaser and readout
    k = mri.kspace_trajectory(g, dt)
    t = np.arange(g.size) * dt
    closed = np.where(t <= 0.5, -8.0 * t, -4.0 + 4.0 * (t - 0.5))
    closed = np.where(t >= 1.5, 0.0, closed) * mri.GAMMA_K
    np.testing.assert_allclose(k, closed, atol=1e-15)
    assert k[150] == pytest.approx(0.0, abs=1e-15)                   # the gradient echo


@pytest.mark.formula("mri.kspace-trajectory")
def test_sequence_trajectory_is_the_centred_cartesian_grid():
    seq = mri.cartesian_gre((240.0, 200.0), (64, 50), **SEQ)
    k, t = mri.sequence_trajectory(seq)
    ky = mri.kspace_coordinates(64, 240 / 64)
    kx = mri.kspace_coordinates(50, 200 / 50)
    np.testing.assert_allclose(k[..., 0], np.broadcast_to(ky[:, None], (64, 50)), atol=1e-12)
    np.testing.assert_allclose(k[..., 1], np.broadcast_to(kx, (64, 50)), atol=1e-12)
    assert t[25] == pytest.approx(seq.te_ms, abs=1e-12)              # k = 0 at TE
    np.testing.assert_allclose(np.diff(t), 1e3 / (50 * 250.0))       # the dwell


def test_requested_te_and_tr_are_honoured():
    seq = mri.cartesian_gre(200.0, 32, te_ms=5.0, tr_ms=20.0)
    assert abs(seq.te_ms - 5.0) <= seq.dt_ms / 2 and seq.tr_ms == pytest.approx(20.0)
    with pytest.raises(ValueError, match="te_ms"):
        mri.cartesian_gre(200.0, 32, te_ms=0.5)
    with pytest.raises(ValueError, match="tr_ms"):
        mri.cartesian_gre(200.0, 256, tr_ms=2.0)


@pytest.mark.formula("mri.encoded-signal")
@pytest.mark.parametrize("shape", [(16, 12), (14, 10)])
def test_signal_sum_on_the_trajectory_equals_the_fft(shape, rng):
    seq = mri.cartesian_gre((shape[0] * 2.5, shape[1] * 3.0), shape, **SEQ)
    k, _ = mri.sequence_trajectory(seq)
    rho = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    before = rho.copy()
    s = mri.encode_signal(rho, (2.5, 3.0), k)
    np.testing.assert_allclose(s, mri.kspace_forward(rho, (2.5, 3.0)), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(rho, before)


@pytest.mark.formula("mri.encoded-signal")
def test_radial_trajectory_matches_sigpy_nufft(rng):
    sigpy = pytest.importorskip("sigpy")
    n, dx = 24, 1.5
    rho = rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))
    angles = np.linspace(0, np.pi, 16, endpoint=False)
    radius = (np.arange(n) - n // 2) / (n * dx)                        # cycles/mm
    k = np.stack([np.outer(np.sin(angles), radius), np.outer(np.cos(angles), radius)], axis=-1)
    s = mri.encode_signal(rho, dx, k)
    # sigpy: coordinates in cycles per FOV, orthonormal scaling 1 / sqrt(n^2)
    ref = sigpy.nufft(rho, k * n * dx, oversamp=2.0, width=6) * n * dx * dx
    np.testing.assert_allclose(s, ref, rtol=0, atol=1e-4 * np.abs(ref).max())


@pytest.mark.formula("mri.encoded-signal")
def test_point_object_with_decay_and_off_resonance_is_the_closed_form():
    rho = np.zeros((8, 8))
    rho[5, 2] = 2.0                                       # y = 1 x 1.5 mm, x = -2 x 2 mm
    k = np.array([[0.01, -0.03], [0.2, 0.1], [-0.05, 0.0]])
    t = np.array([1.0, 4.0, 9.0])
    s = mri.encode_signal(rho, (1.5, 2.0), k, t_ms=t, t2star_ms=30.0, off_resonance_hz=-120.0)
    closed = (2.0 * 3.0 * np.exp(-2j * np.pi * (k[:, 0] * 1.5 + k[:, 1] * -4.0))
              * np.exp(-t / 30.0) * np.exp(2j * np.pi * 120.0 * t * 1e-3))
    np.testing.assert_allclose(s, closed, rtol=1e-12)


@pytest.mark.formula("mri.encoded-signal")
@pytest.mark.parametrize("per_voxel", [False, True])
def test_both_evaluation_paths_equal_the_explicit_double_sum(per_voxel, rng):
    rho = rng.normal(size=(5, 4)) + 1j * rng.normal(size=(5, 4))
    k = rng.normal(scale=0.2, size=(7, 2))
    t = rng.uniform(0, 8, size=7)
    t2s = rng.uniform(20, 80, size=(5, 4)) if per_voxel else 40.0
    df = rng.uniform(-200, 200, size=(5, 4)) if per_voxel else -150.0
    s = mri.encode_signal(rho, (1.2, 0.7), k, t_ms=t, t2star_ms=t2s, off_resonance_hz=df)
    t2a, dfa = np.broadcast_to(t2s, rho.shape), np.broadcast_to(df, rho.shape)
    ref = np.zeros(7, complex)
    for i in range(7):
        for p in range(5):
            for q in range(4):
                y, x = (p - 2) * 1.2, (q - 2) * 0.7
                ref[i] += 1.2 * 0.7 * rho[p, q] * np.exp(
                    -t[i] / t2a[p, q] - 2j * np.pi * (dfa[p, q] * t[i] * 1e-3
                                                     + k[i, 0] * y + k[i, 1] * x))
    np.testing.assert_allclose(s, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("per_voxel", [False, True])
def test_chunking_does_not_change_the_sum(monkeypatch, rng, per_voxel):
    rho = rng.normal(size=(10, 10))
    k = rng.normal(scale=0.1, size=(37, 2))
    t = np.linspace(0, 5, 37)
    df = rng.normal(size=(10, 10)) if per_voxel else 30.0
    whole = mri.encode_signal(rho, 1.0, k, t_ms=t, off_resonance_hz=df)
    monkeypatch.setattr(encoding, "_MAX_CHUNK", 25)          # a few samples per chunk
    np.testing.assert_allclose(mri.encode_signal(rho, 1.0, k, t_ms=t, off_resonance_hz=df),
                               whole, atol=1e-12)


@pytest.mark.formula("mri.fov-gradient")
@pytest.mark.formula("mri.resolution")
def test_reconstruction_has_the_fov_and_pixel_the_gradients_imply():
    n, fov = 40, 160.0
    seq = mri.cartesian_gre(fov, n, **SEQ)
    k, _ = mri.sequence_trajectory(seq)
    g_ro = seq.g_ro_mT_m[seq.adc][0]
    fov_x = mri.fov_from_gradient(g_ro, seq.dt_ms)
    assert fov_x == pytest.approx(fov, rel=1e-12)
    pixel = mri.resolution_from_kmax(-k[0, 0, 1])                  # samples from -k_max
    assert pixel == pytest.approx(fov / n, rel=1e-12)
    # a point 28 mm right of centre lands on pixel 28 / pixel; one FOV further it aliases there
    for x0 in (28.0, 28.0 + fov_x):
        kx = k[..., 1]
        s = pixel * pixel * np.exp(-2j * np.pi * kx * x0)
        img = np.abs(mri.kspace_inverse(s, pixel))
        assert np.unravel_index(np.argmax(img), img.shape)[1] == n // 2 + round(28.0 / pixel)
        assert img.max() == pytest.approx(1.0, rel=1e-9)


@pytest.mark.formula("mri.readout-bandwidth")
def test_readout_parameters_closed_forms():
    p = mri.readout_parameters(256.0, 256, 200.0)
    assert p["bandwidth_hz"] == 51200.0
    assert p["dwell_ms"] == pytest.approx(1e3 / 51200)
    assert p["readout_ms"] == pytest.approx(5.0)                      # 1 / (200 Hz)
    gamma_hz_per_t = constants.physical_constants["shielded proton gyromag. ratio in MHz/T"][0]
    g_t_per_m = 51200.0 / (gamma_hz_per_t * 1e6 * 0.256)              # BW / (gamma_bar FOV)
    assert p["gradient_mT_m"] == pytest.approx(g_t_per_m * 1e3, rel=1e-8)
    assert p["pixel_mm"] == 1.0 and p["k_max"] == pytest.approx(0.5)


@pytest.mark.formula("mri.chemical-shift")
def test_chemical_shift_closed_form_and_in_the_simulated_image():
    # 3.4 ppm at 3 T: 434 Hz; at 217 Hz/pixel, 2 pixels
    f_fat = 3.4e-6 * constants.physical_constants["shielded proton gyromag. ratio in MHz/T"][0] \
        * 1e6 * 3.0
    assert mri.chemical_shift_pixels(3.0, 217.0) == pytest.approx(f_fat / 217.0, rel=1e-8)
    bw = f_fat / 2                                                    # exactly 2 pixels
    seq = mri.cartesian_gre(64.0, 16, bandwidth_hz_per_px=bw, tr_ms=10.0)
    k, t = mri.sequence_trajectory(seq)
    rho = np.zeros((16, 16))
    rho[5:9, 6:11] = 1.0
    water = mri.kspace_inverse(mri.encode_signal(rho, 4.0, k, t_ms=t), 4.0)
    fat = mri.kspace_inverse(mri.encode_signal(rho, 4.0, k, t_ms=t, off_resonance_hz=-f_fat), 4.0)
    shift = mri.chemical_shift_pixels(3.0, bw)
    assert shift == pytest.approx(2.0, rel=1e-12)
    expected = np.roll(water, -2, axis=1) * np.exp(2j * np.pi * f_fat * seq.te_ms * 1e-3)
    np.testing.assert_allclose(fat, expected, atol=1e-9)


BAD_CALLS = [
    (mri.kspace_trajectory, (np.ones(4), 0.0), {}, ValueError, "dt_ms"),
    (mri.kspace_trajectory, (3.0, 0.1), {}, ValueError, "gradient_mT_m"),
    (mri.fov_from_gradient, (0.0, 0.1), {}, ValueError, "gradient_mT_m"),
    (mri.resolution_from_kmax, (-1.0,), {}, ValueError, "k_max"),
    (mri.readout_parameters, (200.0, 1, 250.0), {}, ValueError, "n"),
    (mri.chemical_shift_pixels, (3.0, 0.0), {}, ValueError, "bandwidth_hz_per_px"),
    (mri.cartesian_gre, (200.0, 15), {}, ValueError, "matrix"),
    (mri.cartesian_gre, (200.0, 64), {"bandwidth_hz_per_px": 5000.0, "g_max_mT_m": 10.0},
     ValueError, "g_max_mT_m"),
    (mri.sequence_trajectory, ("seq",), {}, TypeError, "sequence"),
    (mri.encode_signal, (np.ones((4, 4)), 1.0, np.zeros((3, 3))), {}, ValueError, "k_cycles_mm"),
    (mri.encode_signal, (np.ones((4, 4)), 1.0, np.zeros((3, 2))), {"t2star_ms": 20.0},
     ValueError, "t_ms"),
    (mri.encode_signal, (np.ones((4, 4)), 1.0, np.zeros((3, 2))),
     {"t_ms": np.ones(3), "off_resonance_hz": np.ones((2, 2))}, ValueError, "off_resonance_hz"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)
