"""medlib.ultrasound.bmode against closed forms, scipy.signal and scipy.interpolate."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import interpolate, signal, stats

from medlib import noise
from medlib import ultrasound as us

FS = 100e6          # a sampling rate well above the pulses' bandwidth
FC = 5e6


def test_gaussian_pulse_matches_scipy():
    t = np.arange(-1e-6, 1e-6, 1 / FS)
    np.testing.assert_allclose(us.gaussian_pulse(t, FC, 0.6), signal.gausspulse(t, FC, 0.6),
                               atol=1e-14)
    _, env = signal.gausspulse(t, FC, 0.5, -3, retenv=True)
    np.testing.assert_allclose(us.gaussian_pulse_envelope(t, FC, 0.5, bandwidth_reference_db=-3),
                               env, atol=1e-14)


@pytest.mark.formula("us.envelope")
@pytest.mark.parametrize("n", [256, 257])
def test_analytic_signal_matches_scipy_hilbert(n, rng):
    x = rng.normal(size=(3, n))
    np.testing.assert_allclose(us.analytic_signal(x), signal.hilbert(x), atol=1e-12)
    np.testing.assert_allclose(us.analytic_signal(x.T, axis=0), signal.hilbert(x.T, axis=0),
                               atol=1e-12)


@pytest.mark.formula("us.envelope")
@pytest.mark.parametrize("bandwidth", [0.3, 0.6])
def test_envelope_of_a_gaussian_pulse_is_its_gaussian(bandwidth):
    t = np.arange(-2e-6, 2e-6, 1 / FS)
    pulse = us.gaussian_pulse(t, FC, bandwidth)
    analytic = us.gaussian_pulse_envelope(t, FC, bandwidth)
    env = us.envelope(pulse)
    assert np.all(env >= 0)
    np.testing.assert_allclose(env, analytic, atol=1e-4)
    # The envelope equals sqrt(x^2 + x_hat^2) with scipy's Hilbert transform.
    np.testing.assert_allclose(env, np.hypot(pulse, np.imag(signal.hilbert(pulse))), atol=1e-12)


def _brute_force_rf(z, a, n, fc, c, alpha):
    t = np.arange(n) / FS
    out = np.zeros(n)
    for zk, ak in zip(z, a):
        gain = ak * 10 ** (-alpha * fc / 1e6 * 2 * zk * 100 / 20)
        out += gain * signal.gausspulse(t - 2 * zk / c, fc, 0.6)
    return out


@pytest.mark.formula("us.attenuation-frequency")
def test_simulated_rf_equals_a_brute_force_sum_of_pulses(rng):
    z, a = rng.uniform(0.002, 0.03, 40), rng.normal(size=40)
    rf = us.simulate_rf(z, a, fs_hz=FS, n_samples=4000, center_frequency_hz=FC,
                        alpha_db_per_cm_mhz=0.5, truncate=6.0)
    np.testing.assert_allclose(rf, _brute_force_rf(z, a, 4000, FC, 1540.0, 0.5), atol=1e-6)


def test_a_very_wide_band_pulse_reaches_zero_frequency_and_its_envelope_departs():
    # At 100 % bandwidth the spectrum reaches 0 Hz and the analytic envelope is no longer Gaussian.
    t = np.arange(-2e-6, 2e-6, 1 / FS)
    err = np.abs(us.envelope(us.gaussian_pulse(t, FC, 1.0))
                 - us.gaussian_pulse_envelope(t, FC, 1.0))
    assert 1e-3 < err.max() < 0.05


def test_simulated_echo_peaks_at_the_round_trip_time():
    rf = us.simulate_rf([0.015], [1.0], fs_hz=FS, n_samples=3000, center_frequency_hz=FC)
    peak = np.argmax(us.envelope(rf))
    assert abs(peak - us.echo_time(0.015) * FS) <= 1
    lines = us.simulate_rf([0.01, 0.02], [1.0, 1.0], fs_hz=FS, n_samples=3000,
                           center_frequency_hz=FC, line=[0, 2], n_lines=3)
    assert lines.shape == (3, 3000) and np.all(lines[1] == 0)


@pytest.mark.formula("us.tgc")
def test_tgc_restores_equal_echoes_at_all_depths():
    depths = np.array([0.01, 0.03, 0.05, 0.07])
    n = 10_000
    rf = us.simulate_rf(depths, np.ones(4), fs_hz=FS, n_samples=n, center_frequency_hz=FC,
                        alpha_db_per_cm_mhz=0.5)
    sample_depth = us.echo_depth(np.arange(n) / FS)
    env = us.envelope(rf)
    idx = np.rint(us.echo_time(depths) * FS).astype(int)
    lost = env[idx]
    np.testing.assert_allclose(20 * np.log10(lost), -us.attenuation_db(0.5, 5.0, depths * 100,
                                                                         round_trip=True),
                               atol=0.05)
    gain = us.tgc_gain_db(sample_depth, 0.5, 5.0)
    compensated = us.envelope(us.apply_tgc(rf, gain))
    np.testing.assert_allclose(compensated[idx], 1.0, rtol=0.02)



def test_tgc_and_the_simulated_attenuation_take_the_frequency_exponent():
    z = np.linspace(0.0, 0.1, 11)
    # Water, n = 2: G = 2 alpha_0 f^2 z.
    np.testing.assert_allclose(us.tgc_gain_db(z, 0.0022, 5.0, exponent=2),
                               2 * 0.0022 * 25 * z * 100)
    np.testing.assert_allclose(us.tgc_gain_db(z, 0.5, 5.0), us.tgc_gain_db(z, 0.5, 5.0, exponent=1))
    # The echo of one scatterer at 5 cm, with and without attenuation, at n = 2.
    kw = {"fs_hz": FS, "n_samples": 8000, "center_frequency_hz": FC}
    free = us.simulate_rf([0.05], [1.0], **kw)
    lossy = us.simulate_rf([0.05], [1.0], alpha_db_per_cm_mhz=0.0022, attenuation_exponent=2.0,
                           **kw)
    expected = 10 ** (-us.attenuation_db(0.0022, FC / 1e6, 5.0, round_trip=True, exponent=2) / 20)
    assert np.abs(lossy).max() / np.abs(free).max() == pytest.approx(expected, rel=1e-12)


@pytest.mark.formula("us.log-compression")
def test_log_compression_is_linear_then_logarithmic():
    a = np.array([0.0, 1e-4, 1.0, 1e4])
    np.testing.assert_allclose(us.log_compress(a), [np.log(1 + v) for v in a])
    assert us.log_compress(1e-4) == pytest.approx(1e-4, rel=1e-3)             # linear for A << 1
    assert us.log_compress(1e6) == pytest.approx(np.log(1e6), rel=1e-6)       # log for A >> 1
    # The knee moves with the unit of A: the map is not scale-invariant.
    assert us.log_compress(2.0, gain=10) - us.log_compress(1.0, gain=10) != pytest.approx(
        us.log_compress(2.0) - us.log_compress(1.0))


@pytest.mark.formula("us.db-compression")
def test_db_compression_with_dynamic_range():
    a = np.array([1.0, 0.1, 0.01, 1e-4, 0.0])
    np.testing.assert_allclose(us.db_compress(a, dynamic_range_db=60), [0, -20, -40, -60, -60])
    np.testing.assert_allclose(us.db_compress(a, dynamic_range_db=40, normalize=True),
                               [1, 0.5, 0, 0, 0])
    # Scale-free: multiplying the envelope by a gain changes nothing relative to its maximum.
    np.testing.assert_allclose(us.db_compress(7 * a), us.db_compress(a))
    assert us.db_compress([2.0], reference=1.0, dynamic_range_db=60)[0] == 0.0   # clipped at 0


@pytest.mark.formula("us.scan-conversion")
def test_scan_conversion_puts_known_points_where_they_belong():
    angles = np.deg2rad(np.linspace(-40, 40, 81))
    depths = np.linspace(0.0, 0.1, 401)
    lines = np.zeros((81, 401))
    targets = [(10, 100), (40, 200), (75, 380)]          # (angle index, depth index)
    for i, j in targets:
        lines[i, j] = 1.0
    image, x, y = us.scan_convert(lines, angles, depths, pixel_size_m=0.25e-3)
    assert image.shape == (y.size, x.size)
    for i, j in targets:
        xt, yt = us.sector_to_cartesian(angles[i], depths[j])
        # Look near the expected position only: the brightest pixel there.
        near = (np.abs(x[None, :] - xt) < 2e-3) & (np.abs(y[:, None] - yt) < 2e-3)
        r, c = np.unravel_index(np.argmax(np.where(near, image, -1)), image.shape)
        assert abs(x[c] - xt) <= 0.5e-3 and abs(y[r] - yt) <= 0.5e-3
        assert image[r, c] > 0.3


@pytest.mark.formula("us.scan-conversion")
def test_scan_conversion_matches_a_regular_grid_interpolator(rng):
    angles = np.deg2rad(np.linspace(-30, 30, 31))
    depths = np.linspace(0.005, 0.08, 120)
    lines = rng.random((31, 120))
    image, x, y = us.scan_convert(lines, angles, depths, pixel_size_m=0.5e-3, fill=np.nan)
    xx, yy = np.meshgrid(x, y)
    theta, r = np.arctan2(xx, yy), np.hypot(xx, yy)
    ref = interpolate.RegularGridInterpolator((angles, depths), lines, bounds_error=False,
                                              fill_value=np.nan)(np.stack([theta, r], axis=-1))
    np.testing.assert_array_equal(np.isnan(image), np.isnan(ref))
    np.testing.assert_allclose(image[~np.isnan(ref)], ref[~np.isnan(ref)], atol=1e-12)


def test_sector_geometry_closed_form():
    x, y = us.sector_to_cartesian(np.deg2rad(30.0), 2.0)
    assert x == pytest.approx(1.0) and y == pytest.approx(np.sqrt(3))
    t, r = us.cartesian_to_sector(x, y)
    assert t == pytest.approx(np.deg2rad(30.0)) and r == pytest.approx(2.0)
    x, y = us.sector_to_cartesian(np.deg2rad(-90 + 1e-9), 1.0)
    assert x < 0


@pytest.mark.formula("us.speckle-snr")
def test_rayleigh_samples_have_snr_1_91():
    samples = stats.rayleigh.rvs(scale=3.0, size=200_000, random_state=3)
    assert us.speckle_snr(samples) == pytest.approx(us.RAYLEIGH_SNR, rel=0.01)
    assert us.RAYLEIGH_SNR == pytest.approx(stats.rayleigh.mean() / stats.rayleigh.std())


@pytest.mark.formula("us.speckle-snr")
def test_fully_developed_speckle_is_rayleigh():
    gen = np.random.default_rng(11)
    n_lines, n = 40, 4000
    k = 400_000     # 10 000 per line: about 75 per -6 dB pulse length ("fully developed")
    rf = us.simulate_rf(gen.uniform(0, n / FS * 1540 / 2, k), gen.normal(size=k),
                        line=gen.integers(0, n_lines, k), n_lines=n_lines, fs_hz=FS,
                        n_samples=n, center_frequency_hz=FC)
    env = us.envelope(rf)[:, 200:-200:40]           # samples a few pulse lengths apart
    assert us.speckle_snr(env) == pytest.approx(us.RAYLEIGH_SNR, rel=0.03)
    sigma = noise.sigma_from_background(env.ravel())
    assert stats.kstest(env.ravel(), stats.rayleigh(scale=sigma).cdf).pvalue > 1e-3
    grid = np.linspace(0, 4 * sigma, 50)
    np.testing.assert_allclose(noise.rician_pdf(grid, 0.0, sigma),
                               stats.rayleigh.pdf(grid, scale=sigma), atol=1e-12)


@pytest.mark.parametrize("ref_db", [-1e-17, -5e-324])
def test_envelope_at_a_tiny_reference_level_is_a_delta_not_nan(ref_db):
    # issue 11, group 5: 10 ** (-1e-17 / 20) rounds to 1, its log to 0, and exp(-inf * 0) is NaN.
    env = us.gaussian_pulse_envelope([-1e-7, 0.0, 1e-9], 5e6, bandwidth_reference_db=ref_db)
    np.testing.assert_array_equal(env, [0.0, 1.0, 0.0])


def test_envelope_uses_the_exact_log_of_the_reference_level():
    fc, bw, ref_db = 5e6, 0.6, -1e-9
    a = (np.pi * fc * bw) ** 2 / (4 * (-ref_db) * np.log(10) / 20)      # exp(-a t^2)
    t = 1 / np.sqrt(a)
    env = us.gaussian_pulse_envelope(t, fc, bw, bandwidth_reference_db=ref_db)
    assert env == pytest.approx(np.exp(-1.0), rel=1e-12)


# issue 11, group 6: a non-integer axis gave TypeError from a comparison or a tuple index.
AXIS_CALLS = [
    (us.envelope, (np.ones(8),), {"axis": 1.5}, TypeError, "axis must be an integer"),
    (us.envelope, (np.ones(8),), {"axis": 3}, ValueError, r"axis must be in \[-1, 0\]"),
    (us.analytic_signal, (np.ones(8),), {"axis": "x"}, TypeError, "axis must be an integer"),
    (us.apply_tgc, (np.ones((2, 8)), np.zeros(8)), {"axis": 1.5}, TypeError,
     "axis must be an integer"),
    (us.apply_tgc, (np.ones((2, 8)), np.zeros(8)), {"axis": None}, TypeError,
     "axis must be an integer"),
    (us.apply_tgc, (np.ones((2, 8)), np.zeros(8)), {"axis": 2}, ValueError,
     r"axis must be in \[-2, 1\]"),
]

test_a_wrong_axis_is_named = bad_input_test(AXIS_CALLS)


def test_apply_tgc_along_the_first_axis():
    out = us.apply_tgc(np.ones((3, 2)), [0.0, 20.0, 40.0], axis=0)
    np.testing.assert_allclose(out, [[1.0, 1.0], [10.0, 10.0], [100.0, 100.0]])


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (us.db_compress, (np.array([1.0, 0.1]),), {"normalize": "False"}, TypeError,
     "normalize must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


# issue 11, group 8: errors named an internal argument, or came from NumPy unnamed.
NAMED_CALLS = [
    (us.envelope, (np.array([1 + 1j, 2.0]),), {}, TypeError, "^rf must be real-valued"),
    (us.envelope, (3.0,), {}, ValueError, "^rf must have at least one dimension"),
    (us.analytic_signal, (3.0,), {}, ValueError, "^x must have at least one dimension"),
]

test_errors_name_the_callers_argument = bad_input_test(NAMED_CALLS)


BAD_CALLS = [
    (us.gaussian_pulse, (np.zeros(3), 0.0), {}, ValueError, "center_frequency_hz"),
    (us.gaussian_pulse, (np.zeros(3), 5e6, -0.5), {}, ValueError, "fractional_bandwidth"),
    (us.simulate_rf, ([0.01], [1.0, 2.0]),
     {"fs_hz": FS, "n_samples": 10, "center_frequency_hz": FC}, ValueError, "same length"),
    (us.simulate_rf, ([0.01], [1.0]),
     {"fs_hz": FS, "n_samples": 10, "center_frequency_hz": 0.0}, ValueError,
     "center_frequency_hz"),
    (us.simulate_rf, ([0.01], [1.0]),
     {"fs_hz": FS, "n_samples": 10, "center_frequency_hz": FC, "line": [3], "n_lines": 2},
     ValueError, "line"),
    (us.envelope, ([1.0, np.nan],), {}, ValueError, "finite"),
    (us.envelope, ([1.0 + 1j, 2.0],), {}, TypeError, "real"),
    (us.apply_tgc, (np.ones((2, 5)), np.ones(4)), {}, ValueError, "gain_db"),
    (us.tgc_gain_db, (np.ones(3), 0.5, 0.0), {}, ValueError, "frequency_mhz"),
    (us.tgc_gain_db, (np.ones(3), 0.5, 5.0), {"exponent": -1.0}, ValueError, "exponent"),
    (us.simulate_rf, ([0.01], [1.0]),
     {"fs_hz": FS, "n_samples": 10, "center_frequency_hz": FC, "attenuation_exponent": -1.0},
     ValueError, "attenuation_exponent"),
    (us.log_compress, ([-1.0],), {}, ValueError, ">= 0"),
    (us.db_compress, ([0.0, 0.0],), {}, ValueError, "all zero"),
    (us.db_compress, ([1.0],), {"dynamic_range_db": 0}, ValueError, "dynamic_range_db"),
    (us.scan_convert, (np.ones((3, 4)), [0.0, 0.1, 0.2], [0.0, 1.0, 2.0]),
     {"pixel_size_m": 0.1}, ValueError, "shape"),
    (us.scan_convert, (np.ones((3, 3)), [0.0, 0.2, 0.1], [0.0, 1.0, 2.0]),
     {"pixel_size_m": 0.1}, ValueError, "increasing"),
    (us.scan_convert, (np.ones((3, 3)), [0.0, 0.1, 0.2], [0.0, 1.0, 2.0]),
     {"pixel_size_m": 0.0}, ValueError, "pixel_size_m"),
    (us.speckle_snr, ([1.0],), {}, ValueError, "at least 2"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: scan_convert checks fill and bounds its grid; simulate_rf refuses an aliased centre
# frequency and pulses or results beyond 2**28 samples by name
_LINES, _ANG, _DEP = np.ones((6, 6)), np.linspace(-0.5, 0.5, 6), np.linspace(0.0, 0.05, 6)
_RF = {"fs_hz": 40e6, "n_samples": 200, "center_frequency_hz": 5e6}
ISSUE_11_CALLS = [
    *[(us.scan_convert, (_LINES, _ANG, _DEP), {"pixel_size_m": 5e-3, "fill": bad}, error,
       "^fill must") for bad, error in [(np.inf, ValueError), (True, TypeError),
                                        ("0", TypeError), (None, TypeError),
                                        (1 + 1j, TypeError), (np.zeros(2), TypeError)]],
    (us.scan_convert, (_LINES, _ANG, _DEP), {"pixel_size_m": 1e-300}, ValueError,
     "^pixel_size_m=1e-300 asks for an image"),
    (us.simulate_rf, ([0.01], [1.0]), {**_RF, "center_frequency_hz": 1e300}, ValueError,
     "^center_frequency_hz=1e\\+300 must be below the Nyquist"),
    (us.simulate_rf, ([0.01], [1.0]), {**_RF, "center_frequency_hz": 1e-300}, ValueError,
     "center_frequency_hz=1e-300"),
    (us.simulate_rf, ([0.01], [1.0]), {**_RF, "fs_hz": 1e300}, ValueError, "fs_hz=1e\\+300"),
    (us.simulate_rf, ([0.01], [1.0]), {**_RF, "n_samples": 2 ** 63}, ValueError,
     "^n_samples"),
]

test_issue_11_bad_input_is_named = bad_input_test(ISSUE_11_CALLS)


def test_scan_convert_grid_does_not_depend_on_the_last_bit():
    img64, x64, y64 = us.scan_convert(_LINES, _ANG, _DEP, pixel_size_m=5e-3)
    img32, x32, y32 = us.scan_convert(_LINES, _ANG, _DEP.astype(np.float32),
                                      pixel_size_m=np.float32(5e-3))
    assert img64.shape == img32.shape == (11, 11)   # y from 0 to 0.05 m in 5 mm steps
    np.testing.assert_allclose(y32, y64, atol=1e-9)
    np.testing.assert_allclose(x32, x64, atol=1e-9)
    assert y64[-1] == pytest.approx(0.05) and x64[0] <= 0.05 * np.sin(-0.5)


def test_scan_convert_keeps_a_nan_fill():
    img, _, _ = us.scan_convert(_LINES, _ANG, _DEP, pixel_size_m=5e-3, fill=np.nan)
    assert np.isnan(img[0, 0]) and np.nanmax(img) == 1.0


def test_gaussian_pulse_of_a_huge_bandwidth_is_a_delta_not_an_overflow():
    t = np.array([-1e-7, 0.0, 1e-7])
    np.testing.assert_array_equal(us.gaussian_pulse_envelope(t, 5e6, 1e300), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(us.gaussian_pulse(t, 1e300, 0.6), [0.0, 1.0, 0.0])


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    x = rng.random(64)
    lines = rng.random((5, 64))
    angles, depths = np.linspace(-0.3, 0.3, 5), np.linspace(0.0, 0.05, 64)
    assert_inputs_unchanged(us.envelope, lines)
    assert_inputs_unchanged(us.analytic_signal, x)
    assert_inputs_unchanged(us.log_compress, x)
    assert_inputs_unchanged(us.db_compress, x)
    assert_inputs_unchanged(us.apply_tgc, lines, x)
    assert_inputs_unchanged(us.scan_convert, lines, angles, depths, pixel_size_m=1e-3)
    assert_inputs_unchanged(us.simulate_rf, depths, x, fs_hz=FS, n_samples=100,
                            center_frequency_hz=FC)
    assert_inputs_unchanged(us.speckle_snr, x)


def test_dtypes_and_shapes():
    assert us.envelope(np.ones((2, 8))).dtype == np.float64
    assert us.analytic_signal(np.ones(8)).dtype == np.complex128
    assert us.db_compress(np.ones((3, 4))).shape == (3, 4)


def test_the_package_re_exports_every_public_name():
    from medlib.ultrasound import bmode

    assert set(bmode.__all__) <= set(us.__all__)
    for name in bmode.__all__:
        assert getattr(us, name) is getattr(bmode, name), name
