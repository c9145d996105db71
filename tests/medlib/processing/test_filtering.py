"""medlib.processing.filtering (section 8.2) against SciPy, scikit-image and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy import ndimage, stats
from skimage import filters

from medlib import processing, sampling
from medlib.processing import filtering


@pytest.mark.formula("proc.gaussian-1d")
@pytest.mark.parametrize("sigma, truncate", [(0.7, 4.0), (1.0, 4.0), (2.5, 3.0), (4.0, 2.0)])
def test_gaussian_kernel_1d_is_scipys_impulse_response(sigma, truncate):
    g = filtering.gaussian_kernel_1d(sigma, truncate=truncate)
    r = g.size // 2
    delta = np.zeros(4 * r + 1)
    delta[2 * r] = 1.0
    ref = ndimage.gaussian_filter1d(delta, sigma, truncate=truncate, mode="constant")
    np.testing.assert_allclose(g, ref[r:3 * r + 1], atol=1e-15)
    assert g.sum() == pytest.approx(1.0)


@pytest.mark.formula("proc.gaussian-1d")
def test_unnormalised_gaussian_samples_follow_the_formula_and_the_normal_pdf():
    sigma = 1.7
    g = filtering.gaussian_kernel_1d(sigma, normalize=False)
    x = np.arange(g.size) - g.size // 2
    np.testing.assert_allclose(g, stats.norm.pdf(x, scale=sigma), rtol=1e-13)
    # Sampled and truncated, the formula's samples do not sum to exactly 1.
    assert abs(g.sum() - 1) < 1e-4
    narrow = filtering.gaussian_kernel_1d(0.3, normalize=False)
    assert narrow.sum() > 1.2       # sigma < 0.5 px: the central sample alone exceeds 1


@pytest.mark.formula("proc.gaussian-2d")
@pytest.mark.parametrize("sigma", [0.8, 1.5, 3.0])
def test_gaussian_kernel_2d_is_separable_and_scipys_impulse_response(sigma):
    g2 = filtering.gaussian_kernel_2d(sigma)
    g1 = filtering.gaussian_kernel_1d(sigma)
    np.testing.assert_allclose(g2, np.outer(g1, g1), atol=1e-15)
    r = g2.shape[0] // 2
    delta = np.zeros((2 * r + 1, 2 * r + 1))
    delta[r, r] = 1.0
    np.testing.assert_allclose(g2, ndimage.gaussian_filter(delta, sigma, mode="constant"),
                               atol=1e-15)


@pytest.mark.formula("proc.gaussian-2d")
def test_unnormalised_gaussian_2d_is_the_bivariate_normal_pdf():
    sigma = 2.0
    g = filtering.gaussian_kernel_2d(sigma, normalize=False)
    r = g.shape[0] // 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    ref = stats.multivariate_normal(mean=[0, 0], cov=sigma**2 * np.eye(2)).pdf(
        np.dstack([y, x]))
    np.testing.assert_allclose(g, ref, rtol=1e-12)


@pytest.mark.parametrize("shape, sigma", [((40, 33), 1.5), ((12, 14, 16), (0.0, 1.0, 2.2)),
                                          ((50,), 3.0)])
def test_gaussian_filter_matches_scipy(rng, shape, sigma):
    x = rng.normal(size=shape)
    np.testing.assert_allclose(filtering.gaussian_filter(x, sigma),
                               ndimage.gaussian_filter(x, sigma, mode="reflect"), atol=1e-12)



def _strict_maxima(image):
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    neighbours = ndimage.maximum_filter(image, footprint=ring, mode="constant", cval=-np.inf)
    return np.argwhere((image > neighbours) & (image > 1e-6))


def test_a_2d_gaussian_can_create_a_maximum_but_never_raises_the_maximum():
    # Two discs joined by a one-pixel bar, on a ramp: one maximum (right end). The blur fades
    # the bar faster than the left disc, whose centre becomes a new maximum (Lifshitz & Pizer).
    rows, cols = np.mgrid[0:48, 0:112].astype(float)
    discs = np.minimum(np.hypot(rows - 24, cols - 24), np.hypot(rows - 24, cols - 88)) <= 9
    shape = discs | ((rows == 24) & (cols >= 24) & (cols <= 88))
    img = np.where(shape, 1.0 + 0.002 * cols - 0.001 * (rows - 24) ** 2, 0.0)
    assert _strict_maxima(img).tolist() == [[24, 97]]
    for sigma in (2.0, 3.0, 4.0):
        smooth = filtering.gaussian_filter(img, sigma)
        assert len(_strict_maxima(smooth)) == 2
        assert smooth.max() <= img.max() and smooth.min() >= img.min()     # maximum principle


def test_a_1d_gaussian_never_adds_extrema(rng):
    signal = rng.normal(size=300)
    counts = []
    for sigma in np.arange(0.5, 10.01, 0.5):
        slope = np.sign(np.diff(filtering.gaussian_filter(signal, sigma)))
        slope = slope[slope != 0]
        counts.append(np.count_nonzero(slope[1:] != slope[:-1]))
    assert np.all(np.diff(counts) <= 0) and counts[-1] < counts[0]


@pytest.mark.formula("proc.sobel-x", "proc.sobel-y")
def test_sobel_kernels_are_smoothing_times_central_difference():
    gx, gy = filtering.sobel_kernels()
    np.testing.assert_array_equal(gx, np.outer([1, 2, 1], [-1, 0, 1]))
    np.testing.assert_array_equal(gy, np.outer([-1, 0, 1], [1, 2, 1]))
    # scipy.ndimage.sobel applied to an impulse returns the flipped kernel (correlation).
    delta = np.zeros((5, 5))
    delta[2, 2] = 1.0
    np.testing.assert_array_equal(ndimage.sobel(delta, axis=1)[1:4, 1:4], gx[::-1, ::-1])
    np.testing.assert_array_equal(ndimage.sobel(delta, axis=0)[1:4, 1:4], gy[::-1, ::-1])


@pytest.mark.formula("proc.sobel-x", "proc.sobel-y")
def test_sobel_gradients_match_scipy_and_measure_a_ramp(rng):
    img = rng.normal(size=(30, 25))
    gx, gy = filtering.sobel_gradients(img)
    np.testing.assert_allclose(gx, ndimage.sobel(img, axis=1, mode="reflect"), atol=1e-12)
    np.testing.assert_allclose(gy, ndimage.sobel(img, axis=0, mode="reflect"), atol=1e-12)
    rows, cols = np.mgrid[0:20, 0:20].astype(float)
    ramp = 3.0 * cols - 2.0 * rows
    rx, ry = filtering.sobel_gradients(ramp)
    np.testing.assert_allclose(rx[1:-1, 1:-1], 8 * 3.0)
    np.testing.assert_allclose(ry[1:-1, 1:-1], 8 * -2.0)
    # A true convolution with the seed's kernel gives the opposite sign.
    conv = sampling.convolve(img, filtering.sobel_kernels()[0], mode="same", boundary="symm")
    np.testing.assert_allclose(conv, -gx, atol=1e-12)


@pytest.mark.formula("proc.gradient-magnitude")
def test_gradient_magnitude_matches_scipy_sobel(rng):
    img = ndimage.gaussian_filter(rng.normal(size=(40, 40)), 2.0)
    ref = np.hypot(ndimage.sobel(img, axis=0), ndimage.sobel(img, axis=1))
    np.testing.assert_allclose(filtering.gradient_magnitude(img), ref, atol=1e-12)


@pytest.mark.formula("proc.gradient-magnitude")
def test_gradient_magnitude_of_a_tilted_ramp_is_eight_times_the_slope():
    rows, cols = np.mgrid[0:16, 0:16].astype(float)
    theta = 0.6
    ramp = 5.0 * (np.cos(theta) * cols + np.sin(theta) * rows)
    np.testing.assert_allclose(filtering.gradient_magnitude(ramp)[1:-1, 1:-1], 8 * 5.0)


@pytest.mark.formula("proc.laplacian-kernel")
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_laplacian_kernel_is_scipys_laplace_impulse_response(ndim):
    k = filtering.laplacian_kernel(ndim)
    delta = np.zeros((3,) * ndim)
    delta[(1,) * ndim] = 1.0
    np.testing.assert_array_equal(k, ndimage.laplace(delta, mode="constant"))
    assert k.sum() == 0


@pytest.mark.formula("proc.laplacian-kernel")
def test_the_seeds_template_is_the_negative_laplacian():
    seed_template = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], float)
    np.testing.assert_array_equal(filtering.laplacian_kernel(2), -seed_template)


@pytest.mark.formula("proc.laplacian")
def test_laplacian_matches_scipy_and_is_exact_for_quadratics(rng):
    img = rng.normal(size=(20, 24))
    np.testing.assert_allclose(filtering.laplacian(img), ndimage.laplace(img, mode="reflect"),
                               atol=1e-12)
    vol = rng.normal(size=(6, 7, 8))
    np.testing.assert_allclose(filtering.laplacian(vol), ndimage.laplace(vol, mode="reflect"),
                               atol=1e-12)
    y, x = np.mgrid[0:15, 0:15].astype(float)
    quad = 1.5 * x**2 - 0.5 * y**2 + 2 * x * y + 3 * x     # nabla^2 = 3 - 1 = 2
    np.testing.assert_allclose(filtering.laplacian(quad)[1:-1, 1:-1], 2.0, atol=1e-9)


@pytest.mark.formula("proc.laplacian-sharpening")
def test_laplacian_sharpening_is_the_image_minus_its_laplacian(rng):
    img = rng.normal(size=(16, 16))
    out = filtering.laplacian_sharpen(img, 0.7)
    np.testing.assert_allclose(out, img - 0.7 * ndimage.laplace(img, mode="reflect"), atol=1e-12)
    five = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
    np.testing.assert_allclose(filtering.laplacian_sharpen(img),
                               ndimage.convolve(img, five, mode="reflect"), atol=1e-12)


@pytest.mark.formula("proc.laplacian-sharpening")
def test_sharpening_a_blurred_step_overshoots_on_both_sides():
    step = np.repeat(np.r_[np.zeros(20), np.ones(20)][None, :], 5, axis=0)
    blurred = ndimage.gaussian_filter(step, 2.0, mode="nearest")
    sharp = filtering.laplacian_sharpen(blurred, 2.0)
    assert sharp.max() > 1.0 and sharp.min() < 0.0


@pytest.mark.formula("proc.unsharp-mask")
def test_unsharp_mask_matches_skimage(rng):
    img = rng.uniform(0, 100, size=(32, 30))
    ours = filtering.unsharp_mask(img, 1.5, 2.0)
    ref = filters.unsharp_mask(img, radius=1.5, amount=2.0, preserve_range=True)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.formula("proc.noise-gain")
@pytest.mark.parametrize("kernel", [filtering.sobel_kernels()[0], filtering.laplacian_kernel(),
                                    filtering.gaussian_kernel_2d(1.0), np.ones((3, 3)) / 9])
def test_filtered_noise_std_matches_a_simulation(rng, kernel):
    sigma = 2.0
    noise = rng.normal(0.0, sigma, size=(400, 400))
    filtered = ndimage.correlate(noise, kernel, mode="wrap")
    predicted = filtering.filtered_noise_std(kernel, sigma)
    assert filtered.std() == pytest.approx(predicted, rel=0.02)


def test_noise_gain_of_the_course_kernels_has_closed_forms():
    gx, _ = filtering.sobel_kernels()
    assert filtering.filtered_noise_std(gx, 1.0) == pytest.approx(np.sqrt(12))
    assert filtering.filtered_noise_std(filtering.laplacian_kernel(), 1.0) == \
        pytest.approx(np.sqrt(20))
    # A normalised 2D Gaussian: sum g^2 ~ 1 / (4 pi sigma^2) for sigma >> 1 pixel.
    g = filtering.gaussian_kernel_2d(4.0)
    assert filtering.filtered_noise_std(g, 1.0) == pytest.approx(
        1 / np.sqrt(4 * np.pi * 16), rel=1e-3)


def test_the_package_re_exports_every_public_name():
    for name in filtering.__all__:
        assert getattr(processing, name) is getattr(filtering, name), name
    assert set(filtering.__all__) <= set(processing.__all__)


def test_a_tiny_sigma_gives_a_delta_kernel_not_nan():
    # issue 11, group 5: gaussian_kernel_1d(1e-170) was [nan] (x^2 / sigma^2 = 0 / 0).
    np.testing.assert_array_equal(filtering.gaussian_kernel_1d(1e-170), [1.0])
    np.testing.assert_array_equal(filtering.gaussian_kernel_2d(1e-170), [[1.0]])
    np.testing.assert_array_equal(filtering.gaussian_kernel_1d(5e-324), [1.0])
    peak = filtering.gaussian_kernel_1d(1e-170, normalize=False)
    np.testing.assert_allclose(peak, [1 / (np.sqrt(2 * np.pi) * 1e-170)], rtol=1e-14)
    with pytest.raises(ValueError, match="sigma.*too small for normalize=False"):
        filtering.gaussian_kernel_1d(1e-320, normalize=False)
    with pytest.raises(ValueError, match="sigma.*too small for normalize=False"):
        filtering.gaussian_kernel_2d(1e-170, normalize=False)


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (filtering.gaussian_kernel_1d, (1.0,), {"normalize": "False"}, TypeError,
     "normalize must be True or False"),
    (filtering.gaussian_kernel_2d, (1.0,), {"normalize": 0}, TypeError,
     "normalize must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


BAD_CALLS = [
    (filtering.gaussian_kernel_1d, (0.0,), {}, ValueError, "sigma"),
    (filtering.gaussian_kernel_1d, (1.0,), {"truncate": -1.0}, ValueError, "truncate"),
    (filtering.gaussian_kernel_2d, (-1.0,), {}, ValueError, "sigma"),
    (filtering.gaussian_filter, (np.ones((4, 4)), [1.0, 1.0, 1.0]), {}, ValueError, "sigma"),
    (filtering.gaussian_filter, (np.ones((4, 4)), -1.0), {}, ValueError, "sigma"),
    (filtering.sobel_gradients, (np.ones(5),), {}, ValueError, "image"),
    (filtering.gradient_magnitude, (np.ones((2, 2, 2)),), {}, ValueError, "image"),
    (filtering.laplacian_kernel, (4,), {}, ValueError, "ndim"),
    (filtering.laplacian, (np.ones((2, 2, 2, 2)),), {}, ValueError, "image"),
    (filtering.laplacian_sharpen, (np.ones((4, 4)), -1.0), {}, ValueError, "amount"),
    (filtering.unsharp_mask, (np.ones((4, 4)), 0.0), {}, ValueError, "sigma"),
    (filtering.filtered_noise_std, (np.ones(3), -1.0), {}, ValueError, "sigma"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: a sigma or truncate of 1e300 is refused by name before a kernel of 1e300 taps is
# asked of NumPy ("Maximum allowed size exceeded") or int() overflows
HUGE_KERNEL_CALLS = [
    (filtering.gaussian_kernel_1d, (1e300,), {}, ValueError, "^sigma=1e\\+300 and truncate"),
    (filtering.gaussian_kernel_1d, (1.0,), {"truncate": 1e300}, ValueError, "truncate=1e\\+300"),
    (filtering.gaussian_kernel_1d, (1e300,), {"truncate": 1e300}, ValueError, "^sigma"),
    (filtering.gaussian_kernel_2d, (1e5,), {}, ValueError, r"\(2R\+1\)\^2"),  # 2R+1 < 2**28
    (filtering.gaussian_kernel_2d, (1e300,), {}, ValueError, "^sigma"),
    (filtering.gaussian_kernel_2d, (1.0,), {"truncate": 1e300}, ValueError, "truncate"),
    (filtering.gaussian_filter, (np.ones((4, 4)), 1e300), {}, ValueError, "^sigma"),
    (filtering.unsharp_mask, (np.ones((4, 4)), 1.0, 1.0), {"truncate": 1e300}, ValueError,
     "truncate"),
]

test_a_kernel_too_large_is_refused_by_name = bad_input_test(HUGE_KERNEL_CALLS)


def test_the_largest_kernel_radius_follows_scipys_rule():
    assert filtering.gaussian_kernel_1d(2.6, truncate=4.0).size == 2 * int(4.0 * 2.6 + 0.5) + 1


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    img = rng.normal(size=(12, 11))
    vol = rng.normal(size=(5, 6, 4))
    assert_inputs_unchanged(filtering.gaussian_filter, img, 1.0)
    assert_inputs_unchanged(filtering.sobel_gradients, img)
    assert_inputs_unchanged(filtering.gradient_magnitude, img)
    assert_inputs_unchanged(filtering.laplacian, vol)
    assert_inputs_unchanged(filtering.laplacian_sharpen, img, 1.0)
    assert_inputs_unchanged(filtering.unsharp_mask, img, 1.0)
    assert_inputs_unchanged(filtering.filtered_noise_std, img, 1.0)


def test_results_are_new_arrays(rng):
    img = rng.normal(size=(6, 6))
    out = filtering.gaussian_filter(img, [0.0, 0.0])
    out[0, 0] = 99.0
    assert img[0, 0] != 99.0
    gx, _ = filtering.sobel_kernels()
    gx[0, 0] = 7.0
    assert filtering.sobel_kernels()[0][0, 0] == -1.0
