"""medlib.mri.sequences against independent references: the Bloch simulator of medlib.mri.bloch
(itself checked against scipy's ODE solver), numerical quadrature (scipy.integrate.quad), the
linear-algebra fixed point of the bSSFP cycle, the Fourier-domain dipole kernel for the field of
a susceptibility sphere, and NumPy's FFT (medlib.mri.kspace_forward) for the EPI signal sum."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from scipy import integrate, optimize

from medlib import mri

TISSUES = mri.tissue_parameters(3.0)
WM = TISSUES["wm"]


def _fractions(n=8):
    y = np.linspace(0, 1, n)[:, None] * np.ones((1, n))
    return {"wm": 0.5 * y, "gm": 0.5 * (1 - y), "csf": np.full((n, n), 0.25),
            "fat": np.zeros((n, n))}


BAD_INPUT_CALLS = {
    "mri.sequences.t2_star": Entry(lambda: C(80.0, 40.0), valid={"t2_ms": {"inf"},
                                                                  "t2_prime_ms": {"inf"}}),
    "mri.sequences.sinc_dephasing": Entry(lambda: C(np.array([5.0, 20.0]), 30.0)),
    "mri.sequences.voxel_dephasing": Entry(
        lambda: C(np.linspace(0, 40, 16).reshape(4, 4), 20.0, 2)),
    "mri.sequences.sphere_field_map_hz": Entry(
        lambda: C((4, 6, 6), 2.0, (-10.0, 0.0, 0.0), 5.0, delta_chi_ppm=9.4, b0_t=3.0)),
    "mri.sequences.inversion_recovery_image": Entry(
        lambda: C(_fractions(), TISSUES, 9000.0, 2500.0, 100.0, magnitude=True),
        skip={"tissues"}),  # a mapping of Tissue records, checked by type
    "mri.sequences.fse_echo_times": Entry(lambda: C(8, 4, 10.0, 2)),
    "mri.sequences.fse_scan_time_s": Entry(lambda: C(4000.0, 256, 16, 2)),
    "mri.sequences.fse_image": Entry(
        lambda: C(_fractions(), TISSUES, 4000.0, np.full(8, 90.0), spacing_mm=2.0),
        skip={"tissues"}),
    "mri.sequences.epi_sample_times": Entry(lambda: C(8, 8, 0.5, te_ms=30.0)),
    "mri.sequences.epi_kspace": Entry(
        lambda: C(np.arange(64.0).reshape(8, 8), np.full((8, 8), 20.0), 0.5, te_ms=30.0,
                  spacing_mm=2.0, subvoxels=2, odd_shift_samples=0.2, odd_phase_rad=0.1)),
    "mri.sequences.epi_displacement_pixels": Entry(lambda: C(np.array([50.0, -20.0]), 64, 0.5)),
    "mri.sequences.epi_ghost_fraction": Entry(lambda: C(0.3)),
    "mri.sequences.bssfp_signal": Entry(
        lambda: C(np.array([0.0, 40.0, 90.0]), 5.0, 50.0, 838.0, 69.0, te_ms=2.5, pd=1.0,
                  phase_cycling=True), valid={"t1_ms": {"inf"}, "t2_ms": {"inf"}}),
}


# --- T2*: spin echo versus gradient echo ------------------------------------------------------

@pytest.mark.formula("mri.t2-star")
def test_t2_star_from_a_simulated_lorentzian_fid():
    """Fit the decay of a Bloch-simulated FID: the rate is 1/T2 + 1/T2' within 1 %."""
    t2, t2p = 90.0, 30.0
    df = mri.lorentzian_off_resonance(40_001, t2p)
    events = [mri.pulse(90)] + [mri.free(1.0), mri.readout()] * 60
    fid = mri.bloch_simulate(events, 1500.0, t2, off_resonance_hz=df, average=True)
    slope = np.polyfit(fid.times_ms, np.log(np.abs(fid.signal)), 1)[0]
    assert -1 / slope == pytest.approx(mri.t2_star(t2, t2p), rel=0.01)
    assert mri.t2_star(t2, t2p) == pytest.approx(22.5, rel=1e-12)
    assert mri.t2_star(t2, np.inf) == t2
    assert np.isinf(mri.t2_star(np.inf, np.inf))


@pytest.mark.formula("mri.gre-sinc")
def test_sinc_dephasing_against_quadrature_and_bloch():
    te, spread = 25.0, 30.0
    re = integrate.quad(lambda u: np.cos(2 * np.pi * spread * u * te * 1e-3), -0.5, 0.5,
                        epsabs=1e-13)[0]
    assert mri.sinc_dephasing(te, spread) == pytest.approx(re, abs=1e-12)
    assert mri.sinc_dephasing(te, 1e3 / te) == pytest.approx(0.0, abs=1e-15)   # the zero at 1/TE
    # Bloch: 20 001 isochromats spread uniformly (a linear field) across the voxel, T2 decay too
    n = 20_001
    df = 12.0 + spread * ((np.arange(n) + 0.5) / n - 0.5)
    events = [mri.pulse(90), mri.free(te), mri.readout()]
    s = mri.bloch_simulate(events, 1000.0, 80.0, off_resonance_hz=df, average=True).signal[0]
    expected = 1j * np.exp(-te / 80) * np.exp(-2j * np.pi * 12.0 * te * 1e-3) \
        * mri.sinc_dephasing(te, spread)
    assert abs(s - expected) < 1e-6
    # a spin echo refocuses it: exp(-TE/T2) exactly
    se = [mri.pulse(90), mri.free(te / 2), mri.pulse(180, "y"), mri.free(te / 2), mri.readout()]
    s_se = mri.bloch_simulate(se, 1e9, 80.0, off_resonance_hz=df, average=True).signal[0]
    assert abs(s_se - 1j * np.exp(-te / 80)) < 1e-9


def test_voxel_dephasing_is_the_block_mean_and_tends_to_the_sinc():
    k = 200
    u = (np.arange(k) + 0.5) / k - 0.5
    spread = 40.0
    df = np.concatenate([spread * u, 5.0 + 0 * u])              # two voxels along one axis
    v = mri.voxel_dephasing(df, 20.0, k)
    assert v.shape == (2,)
    assert v[0] == pytest.approx(mri.sinc_dephasing(20.0, spread), abs=1e-4)
    assert v[1] == pytest.approx(np.exp(-2j * np.pi * 5.0 * 0.02), abs=1e-12)
    m = np.arange(24.0).reshape(4, 6)
    ref = np.exp(-2j * np.pi * m * 0.01).reshape(2, 2, 3, 2).mean(axis=(1, 3))
    assert np.allclose(mri.voxel_dephasing(m, 10.0, (2, 2)), ref, atol=1e-14)
    with pytest.raises(ValueError, match="factor"):
        mri.voxel_dephasing(m, 10.0, 4)


@pytest.mark.formula("mri.sphere-field")
def test_sphere_field_matches_the_fourier_dipole_kernel():
    """The closed form against the k-space dipole model dB/B0 = F^-1[(1/3 - kz^2/k^2) F chi]."""
    n, a = 96, 8.0
    f = mri.sphere_field_map_hz((n, n, n), 1.0, (0.0, 0.0, 0.0), a, delta_chi_ppm=9.4, b0_t=3.0)
    r = (np.arange(n) - n // 2).astype(float)
    z, y, x = np.meshgrid(r, r, r, indexing="ij")
    # a sphere with smooth (sub-voxel) edges, as a volume fraction
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    chi = np.zeros((n, n, n))
    for dz in sub:
        for dy in sub:
            for dx in sub:
                chi += ((z + dz) ** 2 + (y + dy) ** 2 + (x + dx) ** 2 <= a * a) / 64
    kz, ky, kx = np.meshgrid(*[np.fft.fftfreq(n)] * 3, indexing="ij")
    k2 = kx ** 2 + ky ** 2 + kz ** 2
    kernel = np.where(k2 > 0, 1 / 3 - kz ** 2 / np.where(k2 > 0, k2, 1), 0.0)
    db = np.real(np.fft.ifftn(kernel * np.fft.fftn(chi * 9.4e-6)))
    ref = mri.GAMMA_BAR_MHZ_PER_T["1H"] * 1e6 * 3.0 * db
    shell = (np.sqrt(z ** 2 + y ** 2 + x ** 2) > 1.5 * a) & (np.sqrt(z ** 2 + y ** 2 + x ** 2)
                                                               < 2.5 * a)
    peak = np.abs(f[shell]).max()
    assert np.max(np.abs(f[shell] - ref[shell])) < 0.03 * peak
    # the poles are positive, the equator negative, and the pole value is 2/3 of Dchi gbar B0
    pole = mri.sphere_field_map_hz((1, 1, 1), 1.0, (-a, 0.0, 0.0), a)[0, 0, 0]
    assert pole == pytest.approx(2 / 3 * 9.4e-6 * 3.0 * mri.GAMMA_BAR_MHZ_PER_T["1H"] * 1e6)
    equator = mri.sphere_field_map_hz((1, 1, 1), 1.0, (0.0, 0.0, -a), a)[0, 0, 0]
    assert equator == pytest.approx(-pole / 2)


# --- Inversion recovery -----------------------------------------------------------------------

def test_flair_nulls_csf_and_stir_nulls_fat():
    fr = _fractions()
    fr["csf"] = np.eye(8)
    fr["fat"] = np.fliplr(np.eye(8)) * 0.5
    t1_csf, t1_fat = TISSUES["csf"].t1_ms, TISSUES["fat"].t1_ms
    ti = mri.inversion_null_time(t1_csf, tr_ms=9000.0)
    only_csf = {"csf": fr["csf"]}
    assert np.max(mri.inversion_recovery_image(only_csf, TISSUES, 9000.0, ti, 100.0)) < 1e-12
    ti_fat = mri.inversion_null_time(t1_fat, tr_ms=3000.0)
    only_fat = {"fat": fr["fat"]}
    assert np.max(mri.inversion_recovery_image(only_fat, TISSUES, 3000.0, ti_fat, 40.0)) < 1e-12
    # against the Bloch simulator: one voxel of pure WM, inversion every TR, readout at TE
    wm = TISSUES["wm"]
    cyc = [mri.spoil(), mri.pulse(180), mri.free(ti), mri.pulse(90), mri.spoil(),
           mri.free(9000.0 - ti)]
    mz = mri.bloch_simulate(cyc * 3 + [mri.pulse(180), mri.free(ti), mri.readout()], wm.t1_ms,
                            wm.t2_ms).readouts[-1, 2, 0]
    img = mri.inversion_recovery_image({"wm": np.ones((2, 2))}, TISSUES, 9000.0, ti, 0.0,
                                       magnitude=False)
    assert np.allclose(img, wm.pd * mz, rtol=1e-9)


# --- Fast spin echo ---------------------------------------------------------------------------

@pytest.mark.formula("mri.fse-scan-time")
def test_fse_echo_order_and_scan_time():
    te = mri.fse_echo_times(256, 16, 10.0, 9)
    assert te[128] == 90.0                                          # effective TE at the centre
    counts = np.unique(te, return_counts=True)[1]
    assert len(counts) == 16 and np.all(counts == 256 // 16)     # N / ETL excitations, every echo
    # one excitation per TR acquires one line per echo: count the excitations the order needs
    excitations = counts.max()
    assert mri.fse_scan_time_s(4000.0, 256, 16, 2) == pytest.approx(4.0 * excitations * 2)
    assert mri.fse_scan_time_s(4000.0, 256, 16, 2) == 128.0     # 2 min 8 s instead of 34 min
    assert mri.fse_scan_time_s(500.0, 192) == pytest.approx(96.0)
    assert np.all(mri.fse_echo_times(64, 1, 10.0, 1) == 10.0)
    with pytest.raises(ValueError, match="echo_train_length"):
        mri.fse_scan_time_s(4000.0, 100, 16)


def test_fse_with_one_echo_is_the_spin_echo_image():
    fr = _fractions()
    img = mri.fse_image(fr, TISSUES, 3000.0, np.full(8, 80.0), spacing_mm=2.0)
    ref = mri.spin_echo_image(fr, TISSUES, 3000.0, 80.0)
    assert np.allclose(img, ref, atol=1e-12)


# --- EPI --------------------------------------------------------------------------------------

def test_epi_signal_sum_equals_the_fft_without_off_resonance():
    rng = np.random.default_rng(3)
    obj = rng.random((16, 12)) + 1j * rng.random((16, 12))
    s = mri.epi_kspace(obj, 0.0, 0.6, te_ms=30.0, spacing_mm=(2.0, 3.0))
    assert np.allclose(s, mri.kspace_forward(obj, (2.0, 3.0)), rtol=0, atol=1e-9)
    t = mri.epi_sample_times(16, 12, 0.6, 30.0)
    assert t[8, 6] == 30.0 and t[9, 12 - 1 - 6] == pytest.approx(30.6)   # line 9 reversed
    assert np.all(np.diff(t[8]) > 0) and np.all(np.diff(t[9]) < 0)        # the zig-zag


@pytest.mark.formula("mri.epi-signal")
def test_epi_signal_sum_against_a_brute_force_sum_with_subvoxels():
    """Every sample as an explicit sum over the isochromats (one 4D array, no factorisation)."""
    rng = np.random.default_rng(4)
    n_pe, n_ro, f, esp, te = 6, 8, 2, 0.7, 20.0
    obj = rng.random((n_pe * f, n_ro * f)) + 0.3j
    df = rng.normal(0, 60, obj.shape)
    t = mri.epi_sample_times(n_pe, n_ro, esp, te) * 1e-3
    ky = (np.arange(n_pe) - n_pe // 2)[:, None, None, None] / n_pe
    kx = (np.arange(n_ro) - n_ro // 2)[None, :, None, None] / n_ro
    yy = ((np.arange(n_pe * f) + 0.5) / f - 0.5 - n_pe // 2)[None, None, :, None]
    xx = ((np.arange(n_ro * f) + 0.5) / f - 0.5 - n_ro // 2)[None, None, None, :]
    phase = ky * yy + kx * xx + df[None, None] * t[:, :, None, None]
    ref = 2.0 * 3.0 / f ** 2 * np.sum(obj * np.exp(-2j * np.pi * phase), axis=(2, 3))
    got = mri.epi_kspace(obj, df, esp, te_ms=te, spacing_mm=(2.0, 3.0), subvoxels=f)
    assert np.allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    with pytest.raises(ValueError, match="subvoxels"):
        mri.epi_kspace(np.ones((5, 8)), 0.0, esp, subvoxels=2)


@pytest.mark.formula("mri.epi-distortion")
@pytest.mark.parametrize("df", [93.75, -62.5, 31.25, 156.25])
def test_epi_point_moves_by_df_n_esp(df):
    n, esp = 64, 0.5
    shift = mri.epi_displacement_pixels(df, n, esp)
    assert shift == pytest.approx(df / (1e3 / (n * esp)))           # df / BW_pe
    pt = np.zeros((n, n))
    pt[20, 30] = 1.0
    img = np.abs(mri.kspace_inverse(mri.epi_kspace(pt, df, esp, te_ms=25.0)))
    i, j = np.unravel_index(np.argmax(img), img.shape)
    assert (i - 20, j - 30) == (round(shift), 0)
    assert img[i, j] > 0.98                                          # not blurred, only moved


@pytest.mark.formula("mri.epi-ghost")
def test_epi_ghost_amplitude_is_sin_half_phase():
    n = 32
    obj = np.zeros((n, n))
    obj[10:20, 8:24] = 1.0
    for phi in (0.2, 0.7, np.pi / 2):
        img = mri.kspace_inverse(mri.epi_kspace(obj, 0.0, 0.5, odd_phase_rad=phi))
        assert abs(img[15, 15]) == pytest.approx(np.cos(phi / 2), abs=1e-12)
        assert abs(img[15 + n // 2, 15]) == pytest.approx(mri.epi_ghost_fraction(phi), abs=1e-12)
    shifted = np.abs(mri.kspace_inverse(mri.epi_kspace(obj, 0.0, 0.5, odd_shift_samples=0.3)))
    assert shifted[26:30, 8:24].mean() > 0.1                         # a shift also ghosts


# --- bSSFP ------------------------------------------------------------------------------------

def _bssfp_fixed_point(df, tr, alpha, t1, t2, te):
    """The steady state as the fixed point of the 2-TR affine map (linear algebra)."""
    e1, e2, phi = np.exp(-tr / t1), np.exp(-tr / t2), 2 * np.pi * df * tr * 1e-3

    def free(tau):
        p, e2t, e1t = 2 * np.pi * df * tau * 1e-3, np.exp(-tau / t2), np.exp(-tau / t1)
        return (np.array([[e2t * np.cos(p), e2t * np.sin(p), 0], [-e2t * np.sin(p),
                          e2t * np.cos(p), 0], [0, 0, e1t]]), np.array([0, 0, 1 - e1t]))

    f, b = free(tr)
    assert np.isclose(f[2, 2], e1) and np.isclose(abs(f[0, 0] + 1j * f[0, 1]), e2)
    assert np.isfinite(phi)
    rp, rm = mri.rf_rotation(alpha), mri.rf_rotation(-alpha)
    a = rp @ f @ rm @ f
    c = rp @ (f @ (rm @ b) + b)
    m = np.linalg.solve(np.eye(3) - a, c)
    fte, bte = free(te)
    m = fte @ m + bte
    return m[0] + 1j * m[1]


@pytest.mark.formula("mri.bssfp")
def test_bssfp_closed_form_against_fixed_point_and_bloch():
    tr, alpha = 5.0, 50.0
    for df in (-180.0, -100.0, -37.0, 0.0, 12.0, 99.0, 100.0, 140.0):
        for te in (0.0, 2.5, 4.0):
            ref = _bssfp_fixed_point(df, tr, alpha, WM.t1_ms, WM.t2_ms, te)
            got = mri.bssfp_signal(df, tr, alpha, WM.t1_ms, WM.t2_ms, te_ms=te)
            assert abs(got - ref) < 1e-12
    df = np.linspace(-200, 200, 41)
    cyc = [mri.pulse(alpha), mri.free(tr / 2), mri.readout(), mri.free(tr / 2),
           mri.pulse(-alpha), mri.free(tr)]
    sim = mri.bloch_simulate(cyc * 2000, WM.t1_ms, WM.t2_ms, off_resonance_hz=df).signal[-1]
    assert np.max(np.abs(sim - mri.bssfp_signal(df, tr, alpha, WM.t1_ms, WM.t2_ms))) < 1e-6


def test_bssfp_bands_at_half_over_tr_and_the_on_resonance_limit():
    tr = 4.0
    mag = lambda f: -abs(mri.bssfp_signal(f, tr, 40.0, WM.t1_ms, WM.t2_ms))  # noqa: E731
    band = optimize.minimize_scalar(lambda f: -mag(f), bounds=(60, 190), method="bounded",
                                    options={"xatol": 1e-6}).x
    assert band == pytest.approx(1e3 / (2 * tr), abs=1e-3)
    unc = mri.bssfp_signal(np.array([0.0, 250.0]), tr, 40.0, WM.t1_ms, WM.t2_ms,
                           phase_cycling=False)
    assert abs(unc[0]) < 0.01 and abs(unc[1]) < 0.01               # bands at 0 and 1/TR
    # TR << T2 on resonance: M0 sin a / (1 + cos a + (1 - cos a) T1/T2) (TE = 0)
    a = np.deg2rad(40.0)
    lim = np.sin(a) / (1 + np.cos(a) + (1 - np.cos(a)) * WM.t1_ms / WM.t2_ms)
    s0 = abs(mri.bssfp_signal(0.0, 0.01, 40.0, WM.t1_ms, WM.t2_ms, te_ms=0.0))
    assert s0 == pytest.approx(lim, rel=1e-3)


def test_inputs_untouched_and_errors_name_the_argument():
    df = np.array([10.0, 20.0])
    before = df.copy()
    mri.bssfp_signal(df, 5.0, 30.0, 800.0, 70.0)
    mri.epi_displacement_pixels(df, 64, 0.5)
    assert np.array_equal(df, before)
    with pytest.raises(ValueError, match="te_ms"):
        mri.bssfp_signal(0.0, 5.0, 30.0, 800.0, 70.0, te_ms=6.0)
    with pytest.raises(ValueError, match="echo_train_length"):
        mri.fse_echo_times(10, 4, 10.0, 1)
    with pytest.raises(ValueError, match="off_resonance_hz"):
        mri.epi_kspace(np.ones((4, 4)), np.ones((3, 4)), 0.5)
    with pytest.raises(ValueError, match="t2_ms"):
        mri.bssfp_signal(100.0, 5.0, 30.0, 800.0, np.inf)          # at the band 1/(2 TR)
    with pytest.raises(TypeError, match="tissues"):
        mri.inversion_recovery_image(_fractions(), [1, 2], 9000.0, 2500.0, 90.0)


@pytest.mark.formula("mri.epi-signal", "mri.encoded-signal")
def test_epi_kspace_is_the_encoded_signal_along_the_epi_trajectory(rng):
    # epi_kspace factorises the signal sum for EPI's timing (time = line time + in-line time);
    # encode_signal (4.5) sums over voxels along any trajectory: on EPI's k-space positions and
    # sample times, with a non-uniform off-resonance, they must agree
    from medlib.mri import encode_signal, epi_kspace, epi_sample_times
    n_pe, n_ro, dy, dx, esp, te = 12, 10, 2.0, 1.5, 0.6, 20.0
    rho = rng.normal(size=(n_pe, n_ro)) + 1j * rng.normal(size=(n_pe, n_ro))
    df = rng.uniform(-80.0, 80.0, size=(n_pe, n_ro))
    ky = (np.arange(n_pe) - n_pe // 2) / (n_pe * dy)
    kx = (np.arange(n_ro) - n_ro // 2) / (n_ro * dx)
    k = np.stack(np.meshgrid(ky, kx, indexing="ij"), axis=-1)
    t = epi_sample_times(n_pe, n_ro, esp, te)
    ours = epi_kspace(rho, df, esp, te_ms=te, spacing_mm=(dy, dx))
    ref = encode_signal(rho, (dy, dx), k, t_ms=t, off_resonance_hz=df)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
