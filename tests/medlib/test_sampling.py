"""medlib.sampling against NumPy/SciPy and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import ndimage, signal

from medlib import sampling


@pytest.mark.formula("signal.convolution-discrete")
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n, m", [(50, 7), (50, 6), (8, 8), (3, 9)])
def test_1d_convolution_matches_numpy(rng, mode, n, m):
    f, g = rng.normal(size=n), rng.normal(size=m)
    if mode == "valid" and m > n:
        with pytest.raises(ValueError, match="valid"):
            sampling.convolve(f, g, mode=mode)
        return
    ref = np.convolve(f, g, mode) if mode != "same" or n >= m else signal.convolve(f, g, mode)
    np.testing.assert_allclose(sampling.convolve(f, g, mode=mode), ref, atol=1e-12)


@pytest.mark.formula("signal.convolution-discrete")
def test_1d_convolution_of_complex_signals_matches_numpy(rng):
    f = rng.normal(size=30) + 1j * rng.normal(size=30)
    g = rng.normal(size=5) - 2j * rng.normal(size=5)
    np.testing.assert_allclose(sampling.convolve(f, g), np.convolve(f, g), atol=1e-12)


@pytest.mark.formula("signal.convolution-2d")
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm"])
@pytest.mark.parametrize("kshape", [(3, 3), (4, 2), (5, 6)])
def test_2d_convolution_matches_scipy(rng, mode, boundary, kshape):
    image, kernel = rng.normal(size=(17, 13)), rng.normal(size=kshape)
    ref = signal.convolve2d(image, kernel, mode=mode, boundary=boundary)
    out = sampling.convolve(image, kernel, mode=mode, boundary=boundary)
    np.testing.assert_allclose(out, ref, atol=1e-12)


@pytest.mark.formula("signal.convolution-2d")
def test_3d_convolution_matches_scipy(rng):
    vol, kernel = rng.normal(size=(6, 7, 8)), rng.normal(size=(3, 2, 3))
    np.testing.assert_allclose(sampling.convolve(vol, kernel),
                               signal.convolve(vol, kernel, method="direct"), atol=1e-12)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("kshape", [(3, 3), (4, 2)])
def test_correlation_matches_scipy(rng, mode, kshape):
    image, kernel = rng.normal(size=(12, 9)), rng.normal(size=kshape)
    np.testing.assert_allclose(sampling.correlate(image, kernel, mode=mode),
                               signal.correlate2d(image, kernel, mode=mode), atol=1e-12)
    f, g = rng.normal(size=20), rng.normal(size=5)
    np.testing.assert_allclose(sampling.correlate(f, g, mode=mode), np.correlate(f, g, mode),
                               atol=1e-12)


def test_correlation_is_convolution_with_the_flipped_kernel(rng):
    image = rng.normal(size=(10, 10))
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    np.testing.assert_allclose(sampling.correlate(image, sobel, mode="same"),
                               -sampling.convolve(image, sobel, mode="same"), atol=1e-12)


@pytest.mark.formula("signal.convolution-continuous")
def test_continuous_convolution_of_two_boxes_is_a_triangle():
    dt = 1e-3
    t = np.arange(-1, 1, dt) + dt / 2            # midpoints of [-1, 1)
    box = (np.abs(t) <= 0.5).astype(float)       # width 1, height 1
    tt, conv = sampling.convolve_continuous(box, box, dt, t0_f=t[0], t0_g=t[0])
    triangle = np.clip(1 - np.abs(tt), 0, None)  # closed form
    assert np.max(np.abs(conv - triangle)) < 2 * dt


@pytest.mark.formula("signal.convolution-continuous")
def test_continuous_convolution_of_gaussians_adds_variances():
    dt = 0.01
    t = np.arange(-8, 8 + dt / 2, dt)

    def gauss(x, s):
        return np.exp(-x**2 / (2 * s**2)) / (s * np.sqrt(2 * np.pi))

    tt, conv = sampling.convolve_continuous(gauss(t, 0.6), gauss(t, 0.8), dt, t0_f=t[0],
                                            t0_g=t[0])
    np.testing.assert_allclose(conv, gauss(tt, 1.0), atol=1e-10)


@pytest.mark.formula("signal.downsample")
def test_downsampling_a_cosine_above_the_new_nyquist_aliases_to_the_predicted_frequency():
    n = np.arange(400)
    x = np.cos(2 * np.pi * 0.4 * n)        # 0.4 cycles/sample: fine before decimation
    y = sampling.downsample(x, 2)          # now 0.8 cycles per new sample, above 0.5 ...
    k = np.arange(y.size)
    np.testing.assert_allclose(y, np.cos(2 * np.pi * 0.2 * k), atol=1e-9)  # ... seen as 0.2


def test_downsample_keeps_every_nth_sample_along_chosen_axes(rng):
    img = rng.normal(size=(9, 10))
    np.testing.assert_array_equal(sampling.downsample(img, 3), img[::3, ::3])
    np.testing.assert_array_equal(sampling.downsample(img, 2, axis=1), img[:, ::2])


def test_antialias_downsample_attenuates_as_the_gaussian_transfer_function_predicts():
    n = np.arange(2000)
    f = 0.4
    x = np.cos(2 * np.pi * f * n)
    sigma = 1.5
    y = sampling.antialias_downsample(x, 2, sigma=sigma)
    gain = np.exp(-2 * np.pi**2 * sigma**2 * f**2)   # Fourier transform of the Gaussian
    k = np.arange(y.size)
    core = slice(20, -20)                            # away from the mirrored ends
    np.testing.assert_allclose(y[core], gain * np.cos(2 * np.pi * 2 * f * k)[core], atol=1e-3)


@pytest.mark.formula("signal.upsample")
def test_upsample_inserts_zeros_like_scipy_upfirdn(rng):
    x = rng.normal(size=12)
    up = sampling.upsample(x, 3)
    ref = signal.upfirdn([1.0], x, up=3)               # length (n - 1) * 3 + 1
    np.testing.assert_array_equal(up[:ref.size], ref)
    assert up.size == 36 and np.all(up[ref.size:] == 0)
    np.testing.assert_array_equal(sampling.downsample(up, 3), x)


@pytest.mark.formula("signal.upsample")
@pytest.mark.parametrize("factor", [2, 3, 4])
def test_zero_insertion_then_triangle_filter_is_linear_interpolation(rng, factor):
    x = rng.normal(size=20)
    y = sampling.convolve(sampling.upsample(x, factor), sampling.triangle_kernel(factor),
                          mode="same")
    t = np.arange(y.size) / factor
    inner = t <= x.size - 1
    np.testing.assert_allclose(y[inner], np.interp(t[inner], np.arange(x.size), x), atol=1e-12)


def test_upsample_2d_along_all_axes():
    img = np.arange(6.0).reshape(2, 3)
    up = sampling.upsample(img, 2)
    assert up.shape == (4, 6)
    np.testing.assert_array_equal(up[::2, ::2], img)
    assert up[1::2].sum() == 0 and up[:, 1::2].sum() == 0


@pytest.mark.formula("signal.bilinear")
@pytest.mark.parametrize("shape", [(10, 12), (5, 6, 7), (30,)])
def test_linear_interpolation_matches_map_coordinates(rng, shape):
    a = rng.normal(size=shape)
    coords = np.stack([rng.uniform(-1.5, s + 0.5, size=(40, 3)) for s in shape])
    ref = ndimage.map_coordinates(a, coords, order=1, mode="constant", cval=-7.0)
    np.testing.assert_allclose(sampling.interpolate_linear(a, coords, cval=-7.0), ref,
                               atol=1e-12)


@pytest.mark.formula("signal.bilinear")
def test_bilinear_reproduces_a_plane_and_the_grid_values(rng):
    a = rng.normal(size=(6, 7))
    r, c = np.meshgrid(np.arange(6), np.arange(7), indexing="ij")
    np.testing.assert_allclose(sampling.interpolate_linear(a, np.stack([r, c])), a)
    plane = 2.0 + 0.5 * r - 1.5 * c
    pts = np.stack([rng.uniform(0, 5, 50), rng.uniform(0, 6, 50)])
    np.testing.assert_allclose(sampling.interpolate_linear(plane, pts),
                               2.0 + 0.5 * pts[0] - 1.5 * pts[1], atol=1e-12)


@pytest.mark.formula("signal.dft")
@pytest.mark.parametrize("n", [1, 7, 64, 1000])
def test_dft_matches_numpy_fft(rng, n):
    x = rng.normal(size=n) + 1j * rng.normal(size=n)
    np.testing.assert_allclose(sampling.dft(x), np.fft.fft(x), atol=1e-9 * max(n, 1))
    np.testing.assert_allclose(sampling.idft(np.fft.fft(x)), x, atol=1e-12)


@pytest.mark.formula("signal.dft")
def test_dft_along_an_axis_matches_numpy(rng):
    x = rng.normal(size=(16, 5))
    np.testing.assert_allclose(sampling.dft(x, axis=0), np.fft.fft(x, axis=0), atol=1e-11)


@pytest.mark.formula("signal.fourier-continuous")
def test_continuous_fourier_of_a_gaussian_matches_its_closed_form():
    dt, sigma, t_shift = 0.05, 1.3, 2.0
    t = np.arange(-20, 20, dt)
    f = np.exp(-((t - t_shift) ** 2) / (2 * sigma**2))
    omega, spectrum = sampling.continuous_fourier(f, dt, t0=t[0])
    # F(w) = sigma sqrt(2 pi) exp(-sigma^2 w^2 / 2) exp(-j w t_shift)
    ref = sigma * np.sqrt(2 * np.pi) * np.exp(-(sigma**2) * omega**2 / 2 - 1j * omega * t_shift)
    np.testing.assert_allclose(spectrum, ref, atol=1e-10)


@pytest.mark.formula("signal.fourier-continuous")
def test_continuous_fourier_of_a_box_approaches_the_sinc():
    dt, a = 1e-3, 0.5
    t = np.arange(-4, 4, dt) + dt / 2
    box = (np.abs(t) <= a).astype(float)
    omega, spectrum = sampling.continuous_fourier(box, dt, t0=t[0])
    keep = (np.abs(omega) > 0) & (np.abs(omega) < 60)
    ref = 2 * np.sin(omega[keep] * a) / omega[keep]
    assert np.max(np.abs(spectrum[keep] - ref)) < 5e-3


@pytest.mark.formula("signal.convolution-theorem")
def test_fft_convolution_matches_direct_linear_convolution(rng):
    f, g = rng.normal(size=100), rng.normal(size=17)
    np.testing.assert_allclose(sampling.fft_convolve(f, g), np.convolve(f, g), atol=1e-10)
    img, k = rng.normal(size=(32, 20)), rng.normal(size=(5, 4))
    np.testing.assert_allclose(sampling.fft_convolve(img, k), signal.convolve2d(img, k),
                               atol=1e-10)
    np.testing.assert_allclose(sampling.fft_convolve(img, k), signal.fftconvolve(img, k),
                               atol=1e-10)


@pytest.mark.formula("signal.convolution-theorem")
def test_product_of_dfts_is_the_circular_convolution(rng):
    n = 12
    f, g = rng.normal(size=n), rng.normal(size=n)
    direct = np.array([sum(f[k] * g[(m - k) % n] for k in range(n)) for m in range(n)])
    np.testing.assert_allclose(sampling.circular_convolve(f, g), direct, atol=1e-12)
    np.testing.assert_allclose(sampling.fft_convolve(f, g, mode="circular"), direct, atol=1e-12)
    # Without padding the DFT product wraps around: it is not the linear convolution.
    assert not np.allclose(sampling.fft_convolve(f, g, mode="circular"),
                           np.convolve(f, g)[:n], atol=1e-3)


def test_circular_convolution_in_2d_matches_ndimage_wrap(rng):
    f, g = rng.normal(size=(8, 8)), np.zeros((8, 8))
    g[:3, :3] = rng.normal(size=(3, 3))
    # ndimage.convolve centres the kernel; shift by its centre (1, 1) to align the origins.
    ref = np.roll(ndimage.convolve(f, g[:3, :3], mode="wrap"), (1, 1), axis=(0, 1))
    np.testing.assert_allclose(sampling.circular_convolve(f, g), ref, atol=1e-12)


# issue 11, group 6: axis errors came from NumPy (IndexError/TypeError), and dft(5.0) blamed axis.
AXIS_CALLS = [
    (sampling.idft, (np.ones(4),), {"axis": 3}, ValueError, r"axis must be in \[-1, 0\]"),
    (sampling.idft, (np.ones(4),), {"axis": 1.5}, TypeError, "axis must be an integer"),
    (sampling.idft, (5.0,), {}, ValueError, "spectrum must have at least one dimension"),
    (sampling.dft, (5.0,), {}, ValueError, "x must have at least one dimension"),
    (sampling.dft, (np.ones(3),), {"axis": "0"}, TypeError, "axis must be an integer"),
    (sampling.interpolate_linear, (5.0, np.ones(0)), {}, ValueError,
     "array must have at least one dimension"),
]

test_a_wrong_axis_or_a_scalar_is_named = bad_input_test(AXIS_CALLS)


def test_idft_along_a_negative_or_first_axis_inverts_numpy_fft():
    x = np.arange(12.0).reshape(3, 4)
    for axis in (0, -2, 1, -1):
        np.testing.assert_allclose(sampling.idft(np.fft.fft(x, axis=axis), axis=axis), x,
                                   atol=1e-12)


# issue 11, group 9: invalid values that were accepted.
INVALID_CALLS = [
    (sampling.downsample, (np.array([np.nan, 1.0, 2.0, 3.0]), 2), {}, ValueError,
     "^x must contain only finite values"),
    (sampling.upsample, (np.array([np.inf, 1.0]), 2), {}, ValueError,
     "^x must contain only finite values"),
]

test_invalid_values_are_refused = bad_input_test(INVALID_CALLS)


BAD_CALLS = [
    (sampling.convolve, (np.ones(5), np.ones((2, 2))), {}, ValueError, "same number"),
    (sampling.convolve, (np.ones(5), np.ones(3)), {"mode": "middle"}, ValueError, "mode"),
    (sampling.convolve, (np.ones(5), np.ones(3)), {"boundary": "zero"}, ValueError, "boundary"),
    (sampling.convolve, (np.ones(5), [1, np.inf]), {}, ValueError, "finite"),
    (sampling.convolve, (np.ones(5), []), {}, ValueError, "empty"),
    (sampling.convolve, ("abc", np.ones(3)), {}, TypeError, "signal"),
    (sampling.convolve_continuous, (np.ones(5), np.ones(3), 0.0), {}, ValueError, "dt"),
    (sampling.downsample, (np.ones(5), 0), {}, ValueError, "factor"),
    (sampling.downsample, (np.ones(5), 2.5), {}, TypeError, "factor"),
    (sampling.downsample, (np.ones(5), 2), {"axis": 1}, ValueError, "axis"),
    (sampling.antialias_downsample, (np.ones(5), 2), {"sigma": -1.0}, ValueError, "sigma"),
    (sampling.upsample, (np.ones(5), -1), {}, ValueError, "factor"),
    (sampling.triangle_kernel, (0,), {}, ValueError, "factor"),
    (sampling.interpolate_linear, (np.ones((3, 3)), np.ones((3, 4))), {}, ValueError, "coords"),
    (sampling.interpolate_linear, (np.ones((3, 3)), [[np.nan], [1]]), {}, ValueError, "finite"),
    (sampling.dft, ([],), {}, ValueError, "empty"),
    (sampling.dft, (np.ones(4),), {"axis": 2}, ValueError, "axis"),
    (sampling.continuous_fourier, (np.ones((2, 2)), 0.1), {}, ValueError, "samples"),
    (sampling.continuous_fourier, (np.ones(4), -0.1), {}, ValueError, "dt"),
    (sampling.circular_convolve, (np.ones(4), np.ones(5)), {}, ValueError, "same shape"),
    (sampling.fft_convolve, (np.ones(4), np.ones(5)), {"mode": "circular"}, ValueError,
     "same shape"),
    (sampling.fft_convolve, (np.ones(4), np.ones(4)), {"mode": "valid"}, ValueError, "mode"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: factors and sigmas that ask for more than 2**28 elements are refused by name
# (NumPy said "Maximum allowed size exceeded")
HUGE_CALLS = [
    (sampling.upsample, (np.ones(4), 2 ** 63), {}, ValueError, "^factor asks for an array"),
    (sampling.upsample, (np.ones((4, 4)), 2 ** 14), {}, ValueError, "^factor"),  # 2**32 out
    (sampling.triangle_kernel, (2 ** 63,), {}, ValueError, "^factor asks for an array"),
    (sampling.antialias_downsample, (np.ones(8), 2), {"sigma": 1e300}, ValueError, "^sigma"),
]

test_sizes_too_large_are_refused_by_name = bad_input_test(HUGE_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    img, k = rng.normal(size=(8, 9)), rng.normal(size=(3, 3))
    x = rng.normal(size=16)
    assert_inputs_unchanged(sampling.convolve, img, k, mode="same", boundary="symm")
    assert_inputs_unchanged(sampling.correlate, img, k)
    assert_inputs_unchanged(sampling.convolve_continuous, x, x, 0.1)
    assert_inputs_unchanged(sampling.downsample, img, 2)
    assert_inputs_unchanged(sampling.antialias_downsample, img, 2)
    assert_inputs_unchanged(sampling.upsample, x, 2)
    assert_inputs_unchanged(sampling.interpolate_linear, img, rng.uniform(0, 7, (2, 5)))
    assert_inputs_unchanged(sampling.dft, x)
    assert_inputs_unchanged(sampling.idft, x.astype(complex))
    assert_inputs_unchanged(sampling.continuous_fourier, x, 0.1)
    assert_inputs_unchanged(sampling.circular_convolve, x, x[::-1].copy())
    assert_inputs_unchanged(sampling.fft_convolve, img, k)


def test_downsample_returns_a_copy_not_a_view():
    x = np.arange(10.0)
    y = sampling.downsample(x, 2)
    y[0] = 99
    assert x[0] == 0
