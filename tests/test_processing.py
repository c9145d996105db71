"""medlib.processing against scikit-image, SciPy, nibabel and closed forms."""
from __future__ import annotations

import nibabel as nib
import nibabel.processing
import numpy as np
import pytest
from scipy import ndimage, stats
from skimage import exposure, filters

from medlib import geometry, processing, sampling


# --- 8.1 normalisation and histograms ----------------------------------------------------------

@pytest.mark.formula("proc.minmax")
def test_minmax_matches_skimage_rescale_intensity(rng):
    train = rng.normal(40.0, 12.0, size=(20, 30))
    test = rng.normal(55.0, 12.0, size=(10, 10))
    lo, hi = processing.fit_minmax(train)
    assert (lo, hi) == (train.min(), train.max())
    ref = exposure.rescale_intensity(test, in_range=(lo, hi), out_range=(0.0, 1.0))
    np.testing.assert_allclose(processing.minmax_normalize(test, lo, hi, clip=True), ref,
                               atol=1e-12)
    unclipped = processing.minmax_normalize(test, lo, hi)
    np.testing.assert_allclose(unclipped, (test - lo) / (hi - lo), atol=1e-12)
    assert unclipped.max() > 1.0          # the shifted test set leaves [0, 1]: no clipping


@pytest.mark.formula("proc.minmax")
def test_minmax_of_the_training_data_spans_exactly_zero_to_one(rng):
    train = rng.uniform(-1000, 400, size=500)
    out = processing.minmax_normalize(train, *processing.fit_minmax(train))
    assert out.min() == 0.0 and out.max() == 1.0


def test_robust_minmax_uses_percentiles_of_pooled_images(rng):
    images = [rng.normal(size=(8, 8)), rng.normal(size=(5, 7)), rng.normal(size=30)]
    pooled = np.concatenate([i.ravel() for i in images])
    lo, hi = processing.fit_minmax(images, percentiles=(1, 99))
    np.testing.assert_allclose([lo, hi], np.percentile(pooled, [1, 99]))


@pytest.mark.formula("proc.zscore")
def test_zscore_with_the_images_own_statistics_matches_scipy(rng):
    x = rng.gamma(2.0, 30.0, size=(15, 12))
    out = processing.zscore_normalize(x, *processing.fit_zscore(x))
    np.testing.assert_allclose(out, stats.zscore(x, axis=None), atol=1e-12)


@pytest.mark.formula("proc.zscore")
def test_zscore_uses_training_statistics_only(rng):
    train = [rng.normal(100.0, 20.0, size=(16, 16)) for _ in range(4)]
    test = rng.normal(130.0, 20.0, size=(16, 16))
    mu, sd = processing.fit_zscore(train)
    pooled = np.concatenate([t.ravel() for t in train])
    assert mu == pytest.approx(pooled.mean()) and sd == pytest.approx(pooled.std())
    z_train = processing.zscore_normalize(pooled, mu, sd)
    assert abs(z_train.mean()) < 1e-12 and z_train.std() == pytest.approx(1.0)
    z_test = processing.zscore_normalize(test, mu, sd)
    # The test image keeps its offset of about +1.5 training standard deviations.
    assert z_test.mean() == pytest.approx((test.mean() - mu) / sd)
    assert z_test.mean() > 1.0


def test_quantize_maps_the_range_to_integer_levels():
    x = np.array([-5.0, 0.0, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(processing.quantize(x, 256, 0.0, 1.0), [0, 0, 128, 255, 255])
    assert processing.quantize(x, 4, 0.0, 1.0).dtype == np.int64


def test_histogram_counts_every_level(rng):
    img = rng.integers(0, 16, size=(30, 40))
    h = processing.histogram(img, 16)
    np.testing.assert_array_equal(h, [np.sum(img == i) for i in range(16)])
    ref, _ = np.histogram(img, bins=np.arange(17) - 0.5)
    np.testing.assert_array_equal(h, ref)


@pytest.mark.formula("proc.cdf")
def test_cdf_matches_skimage_cumulative_distribution(rng):
    img = rng.integers(3, 200, size=(50, 60))        # levels 0-2 and 200-255 unused
    c = processing.cdf(img, 256)
    ref, centres = exposure.cumulative_distribution(img)
    np.testing.assert_allclose(c[centres], ref, atol=1e-12)
    assert np.all(c[:3] == 0) and np.all(c[centres[-1]:] == 1.0)
    assert np.all(np.diff(c) >= 0)


@pytest.mark.formula("proc.histeq")
@pytest.mark.parametrize("levels", [16, 256, 4096])
def test_equalization_matches_skimage_equalize_hist(rng, levels):
    img = np.clip(rng.normal(levels / 3, levels / 10, size=(64, 48)), 0, levels - 1).astype(int)
    ours = processing.equalize_histogram(img, levels)
    np.testing.assert_allclose(ours / (levels - 1), exposure.equalize_hist(img), atol=1e-12)


@pytest.mark.formula("proc.histeq")
def test_equalized_histogram_is_close_to_uniform(rng):
    img = np.clip(rng.gamma(2.0, 10.0, size=(200, 200)), 0, 255).astype(np.uint8)
    eq = np.rint(processing.equalize_histogram(img, 256)).astype(int)
    # At every occupied output level x', the output's CDF is x' / (L - 1) (to the rounding):
    # the CDF of the equalised image is the straight line of a uniform distribution.
    out_cdf = processing.cdf(eq, 256)
    occupied = np.unique(eq)
    assert np.max(np.abs(out_cdf[occupied] - occupied / 255)) <= 0.5 / 255 + 1e-12
    # Monotonic: the order of grey levels is kept.
    order = np.argsort(img.ravel(), kind="stable")
    assert np.all(np.diff(eq.ravel()[order]) >= 0)


def test_histogram_refuses_non_integer_or_out_of_range_levels():
    with pytest.raises(ValueError, match="integer grey levels"):
        processing.histogram(np.array([0.5, 1.0]), 4)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        processing.cdf(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        processing.equalize_histogram(np.array([-1, 2]), 4)


# --- 8.2 filtering -----------------------------------------------------------------------------

@pytest.mark.formula("proc.gaussian-1d")
@pytest.mark.parametrize("sigma, truncate", [(0.7, 4.0), (1.0, 4.0), (2.5, 3.0), (4.0, 2.0)])
def test_gaussian_kernel_1d_is_scipys_impulse_response(sigma, truncate):
    g = processing.gaussian_kernel_1d(sigma, truncate=truncate)
    r = g.size // 2
    delta = np.zeros(4 * r + 1)
    delta[2 * r] = 1.0
    ref = ndimage.gaussian_filter1d(delta, sigma, truncate=truncate, mode="constant")
    np.testing.assert_allclose(g, ref[r:3 * r + 1], atol=1e-15)
    assert g.sum() == pytest.approx(1.0)


@pytest.mark.formula("proc.gaussian-1d")
def test_unnormalised_gaussian_samples_follow_the_formula_and_the_normal_pdf():
    sigma = 1.7
    g = processing.gaussian_kernel_1d(sigma, normalize=False)
    x = np.arange(g.size) - g.size // 2
    np.testing.assert_allclose(g, stats.norm.pdf(x, scale=sigma), rtol=1e-13)
    # Sampled and truncated, the formula's samples do not sum to exactly 1.
    assert abs(g.sum() - 1) < 1e-4
    narrow = processing.gaussian_kernel_1d(0.3, normalize=False)
    assert narrow.sum() > 1.2       # sigma < 0.5 px: the central sample alone exceeds 1


@pytest.mark.formula("proc.gaussian-2d")
@pytest.mark.parametrize("sigma", [0.8, 1.5, 3.0])
def test_gaussian_kernel_2d_is_separable_and_scipys_impulse_response(sigma):
    g2 = processing.gaussian_kernel_2d(sigma)
    g1 = processing.gaussian_kernel_1d(sigma)
    np.testing.assert_allclose(g2, np.outer(g1, g1), atol=1e-15)
    r = g2.shape[0] // 2
    delta = np.zeros((2 * r + 1, 2 * r + 1))
    delta[r, r] = 1.0
    np.testing.assert_allclose(g2, ndimage.gaussian_filter(delta, sigma, mode="constant"),
                               atol=1e-15)


@pytest.mark.formula("proc.gaussian-2d")
def test_unnormalised_gaussian_2d_is_the_bivariate_normal_pdf():
    sigma = 2.0
    g = processing.gaussian_kernel_2d(sigma, normalize=False)
    r = g.shape[0] // 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    ref = stats.multivariate_normal(mean=[0, 0], cov=sigma**2 * np.eye(2)).pdf(
        np.dstack([y, x]))
    np.testing.assert_allclose(g, ref, rtol=1e-12)


@pytest.mark.parametrize("shape, sigma", [((40, 33), 1.5), ((12, 14, 16), (0.0, 1.0, 2.2)),
                                          ((50,), 3.0)])
def test_gaussian_filter_matches_scipy(rng, shape, sigma):
    x = rng.normal(size=shape)
    np.testing.assert_allclose(processing.gaussian_filter(x, sigma),
                               ndimage.gaussian_filter(x, sigma, mode="reflect"), atol=1e-12)


@pytest.mark.formula("proc.sobel-x", "proc.sobel-y")
def test_sobel_kernels_are_smoothing_times_central_difference():
    gx, gy = processing.sobel_kernels()
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
    gx, gy = processing.sobel_gradients(img)
    np.testing.assert_allclose(gx, ndimage.sobel(img, axis=1, mode="reflect"), atol=1e-12)
    np.testing.assert_allclose(gy, ndimage.sobel(img, axis=0, mode="reflect"), atol=1e-12)
    rows, cols = np.mgrid[0:20, 0:20].astype(float)
    ramp = 3.0 * cols - 2.0 * rows
    rx, ry = processing.sobel_gradients(ramp)
    np.testing.assert_allclose(rx[1:-1, 1:-1], 8 * 3.0)
    np.testing.assert_allclose(ry[1:-1, 1:-1], 8 * -2.0)
    # A true convolution with the seed's kernel gives the opposite sign.
    conv = sampling.convolve(img, processing.sobel_kernels()[0], mode="same", boundary="symm")
    np.testing.assert_allclose(conv, -gx, atol=1e-12)


@pytest.mark.formula("proc.gradient-magnitude")
def test_gradient_magnitude_matches_scipy_sobel(rng):
    img = ndimage.gaussian_filter(rng.normal(size=(40, 40)), 2.0)
    ref = np.hypot(ndimage.sobel(img, axis=0), ndimage.sobel(img, axis=1))
    np.testing.assert_allclose(processing.gradient_magnitude(img), ref, atol=1e-12)


@pytest.mark.formula("proc.gradient-magnitude")
def test_gradient_magnitude_of_a_tilted_ramp_is_eight_times_the_slope():
    rows, cols = np.mgrid[0:16, 0:16].astype(float)
    theta = 0.6
    ramp = 5.0 * (np.cos(theta) * cols + np.sin(theta) * rows)
    np.testing.assert_allclose(processing.gradient_magnitude(ramp)[1:-1, 1:-1], 8 * 5.0)


@pytest.mark.formula("proc.laplacian-kernel")
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_laplacian_kernel_is_scipys_laplace_impulse_response(ndim):
    k = processing.laplacian_kernel(ndim)
    delta = np.zeros((3,) * ndim)
    delta[(1,) * ndim] = 1.0
    np.testing.assert_array_equal(k, ndimage.laplace(delta, mode="constant"))
    assert k.sum() == 0


@pytest.mark.formula("proc.laplacian-kernel")
def test_the_seeds_template_is_the_negative_laplacian():
    seed_template = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], float)
    np.testing.assert_array_equal(processing.laplacian_kernel(2), -seed_template)


@pytest.mark.formula("proc.laplacian")
def test_laplacian_matches_scipy_and_is_exact_for_quadratics(rng):
    img = rng.normal(size=(20, 24))
    np.testing.assert_allclose(processing.laplacian(img), ndimage.laplace(img, mode="reflect"),
                               atol=1e-12)
    vol = rng.normal(size=(6, 7, 8))
    np.testing.assert_allclose(processing.laplacian(vol), ndimage.laplace(vol, mode="reflect"),
                               atol=1e-12)
    y, x = np.mgrid[0:15, 0:15].astype(float)
    quad = 1.5 * x**2 - 0.5 * y**2 + 2 * x * y + 3 * x     # nabla^2 = 3 - 1 = 2
    np.testing.assert_allclose(processing.laplacian(quad)[1:-1, 1:-1], 2.0, atol=1e-9)


@pytest.mark.formula("proc.laplacian-sharpening")
def test_laplacian_sharpening_is_the_image_minus_its_laplacian(rng):
    img = rng.normal(size=(16, 16))
    out = processing.laplacian_sharpen(img, 0.7)
    np.testing.assert_allclose(out, img - 0.7 * ndimage.laplace(img, mode="reflect"), atol=1e-12)
    five = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float)
    np.testing.assert_allclose(processing.laplacian_sharpen(img),
                               ndimage.convolve(img, five, mode="reflect"), atol=1e-12)


@pytest.mark.formula("proc.laplacian-sharpening")
def test_sharpening_a_blurred_step_overshoots_on_both_sides():
    step = np.repeat(np.r_[np.zeros(20), np.ones(20)][None, :], 5, axis=0)
    blurred = ndimage.gaussian_filter(step, 2.0, mode="nearest")
    sharp = processing.laplacian_sharpen(blurred, 2.0)
    assert sharp.max() > 1.0 and sharp.min() < 0.0


@pytest.mark.formula("proc.unsharp-mask")
def test_unsharp_mask_matches_skimage(rng):
    img = rng.uniform(0, 100, size=(32, 30))
    ours = processing.unsharp_mask(img, 1.5, 2.0)
    ref = filters.unsharp_mask(img, radius=1.5, amount=2.0, preserve_range=True)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.formula("proc.noise-gain")
@pytest.mark.parametrize("kernel", [processing.sobel_kernels()[0], processing.laplacian_kernel(),
                                    processing.gaussian_kernel_2d(1.0), np.ones((3, 3)) / 9])
def test_filtered_noise_std_matches_a_simulation(rng, kernel):
    sigma = 2.0
    noise = rng.normal(0.0, sigma, size=(400, 400))
    filtered = ndimage.correlate(noise, kernel, mode="wrap")
    predicted = processing.filtered_noise_std(kernel, sigma)
    assert filtered.std() == pytest.approx(predicted, rel=0.02)


def test_noise_gain_of_the_course_kernels_has_closed_forms():
    gx, _ = processing.sobel_kernels()
    assert processing.filtered_noise_std(gx, 1.0) == pytest.approx(np.sqrt(12))
    assert processing.filtered_noise_std(processing.laplacian_kernel(), 1.0) == \
        pytest.approx(np.sqrt(20))
    # A normalised 2D Gaussian: sum g^2 ~ 1 / (4 pi sigma^2) for sigma >> 1 pixel.
    g = processing.gaussian_kernel_2d(4.0)
    assert processing.filtered_noise_std(g, 1.0) == pytest.approx(
        1 / np.sqrt(4 * np.pi * 16), rel=1e-3)


# --- 8.3 resampling ----------------------------------------------------------------------------

@pytest.mark.formula("proc.trilinear")
def test_trilinear_interpolation_is_the_seeds_eight_corner_sum(rng):
    cube = rng.normal(size=(2, 2, 2))
    pts = rng.uniform(0, 1, size=(3, 50))
    seed_sum = sum(cube[i, j, k] * (1 - np.abs(pts[0] - i)) * (1 - np.abs(pts[1] - j))
                   * (1 - np.abs(pts[2] - k))
                   for i in (0, 1) for j in (0, 1) for k in (0, 1))
    np.testing.assert_allclose(sampling.interpolate_linear(cube, pts), seed_sum, atol=1e-14)


@pytest.mark.formula("proc.trilinear")
def test_trilinear_interpolation_matches_map_coordinates_and_reproduces_trilinear_fields(rng):
    vol = rng.normal(size=(7, 8, 9))
    pts = np.stack([rng.uniform(0, s - 1, 300) for s in vol.shape])
    np.testing.assert_allclose(sampling.interpolate_linear(vol, pts),
                               ndimage.map_coordinates(vol, pts, order=1), atol=1e-12)
    z, y, x = np.indices(vol.shape, dtype=float)
    field = 1 + 2 * z - y + 0.5 * x + 0.25 * z * y * x      # trilinear: reproduced exactly
    np.testing.assert_allclose(
        sampling.interpolate_linear(field, pts),
        1 + 2 * pts[0] - pts[1] + 0.5 * pts[2] + 0.25 * pts[0] * pts[1] * pts[2], atol=1e-12)


@pytest.mark.formula("proc.backward-mapping")
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", ["constant", "nearest"])
def test_affine_resample_matches_scipy_affine_transform(rng, order, mode):
    vol = rng.normal(size=(14, 15, 16))
    matrix = geometry.rotation_matrix(0.3, "x") @ np.diag(rng.uniform(0.7, 1.3, 3))
    offset = rng.uniform(-2, 2, 3)
    ours = processing.affine_resample(vol, matrix, offset, (12, 17, 15), order=order,
                                      mode=mode, cval=-5.0)
    ref = ndimage.affine_transform(vol, matrix, offset, output_shape=(12, 17, 15), order=order,
                                   mode=mode, cval=-5.0)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.mark.formula("proc.backward-mapping")
def test_affine_resample_in_2d_undoes_a_rotation_about_the_centre(rng):
    img = ndimage.gaussian_filter(rng.normal(size=(41, 41)), 3.0)
    rot = geometry.rotation_matrix(0.4)[:2, :2]
    centre = np.array([20.0, 20.0])
    forward = processing.affine_resample(img, rot, centre - rot @ centre, img.shape)
    back = processing.affine_resample(forward, rot.T, centre - rot.T @ centre, img.shape)
    inner = (slice(14, 27), slice(14, 27))
    np.testing.assert_allclose(back[inner], img[inner], atol=0.02 * np.ptp(img))


def test_affine_resample_in_blocks_equals_one_pass(monkeypatch, rng):
    vol = rng.normal(size=(9, 10, 11))
    whole = processing.affine_resample(vol, np.eye(3) * 0.8, [0.5, 0.1, 0.2], (11, 12, 13))
    monkeypatch.setattr(processing, "_CHUNK", 97)
    blocks = processing.affine_resample(vol, np.eye(3) * 0.8, [0.5, 0.1, 0.2], (11, 12, 13))
    np.testing.assert_array_equal(whole, blocks)


def test_nearest_neighbour_matches_map_coordinates_order_0_and_keeps_the_dtype(rng):
    labels = rng.integers(0, 4, size=(6, 7)).astype(np.uint8)
    pts = np.stack([rng.uniform(-1, 6.5, 200), rng.uniform(-1, 7.5, 200)])
    ours = processing.interpolate_nearest(labels, pts)
    ref = ndimage.map_coordinates(labels, pts, order=0, mode="constant", cval=0)
    np.testing.assert_array_equal(ours, ref)
    assert ours.dtype == np.uint8
    assert set(np.unique(ours)) <= set(np.unique(labels)) | {0}


def _nifti_volume(rng):
    vol = ndimage.gaussian_filter(rng.normal(size=(24, 20, 9)), 2.0)
    affine = np.array([[-1.25, 0, 0, 90.0], [0, -1.25, 0, 120.0], [0, 0, 5.0, -60.0],
                       [0, 0, 0, 1]])
    return vol, affine


@pytest.mark.formula("proc.resample-spacing")
@pytest.mark.parametrize("order", [0, 1])
def test_resample_to_spacing_matches_nibabel(rng, order):
    vol, affine = _nifti_volume(rng)
    ours, new_affine = processing.resample_to_spacing(vol, affine, 1.25, order=order)
    assert ours.shape == (24, 20, 36)
    img = nib.Nifti1Image(vol, affine)
    ref = nibabel.processing.resample_from_to(img, (ours.shape, new_affine), order=order,
                                              mode="nearest")
    np.testing.assert_allclose(ours, np.asarray(ref.dataobj), atol=1e-10)


@pytest.mark.formula("proc.resample-spacing")
def test_resample_to_spacing_keeps_origin_directions_and_extent(rng):
    vol, affine = _nifti_volume(rng)
    rot = np.eye(4)
    rot[:3, :3] = geometry.rotation_matrix(0.2, "y")
    oblique = rot @ affine
    out, new_affine = processing.resample_to_spacing(vol, oblique, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(new_affine[:3, 3], oblique[:3, 3])            # origin
    np.testing.assert_allclose(geometry.voxel_spacing(new_affine), 2.0)
    old_dirs = oblique[:3, :3] / geometry.voxel_spacing(oblique)
    new_dirs = new_affine[:3, :3] / geometry.voxel_spacing(new_affine)
    np.testing.assert_allclose(new_dirs, old_dirs, atol=1e-12)
    old_extent = np.array(vol.shape) * geometry.voxel_spacing(oblique)
    new_extent = np.array(out.shape) * 2.0
    assert np.all(np.abs(new_extent - old_extent) <= 2.0 / 2 + 1e-9)
    # Every new voxel centre samples the old volume at the same world point.
    probe = np.array([[3, 4, 5], [0, 0, 0], [11, 9, 20]])
    world = geometry.voxel_to_world(new_affine, probe)
    old_idx = geometry.world_to_voxel(oblique, world)
    ref = ndimage.map_coordinates(vol, old_idx.T, order=1, mode="nearest")
    np.testing.assert_allclose(out[tuple(probe.T)], ref, atol=1e-10)


@pytest.mark.formula("proc.resample-spacing")
def test_nearest_resampling_keeps_the_label_set_and_the_volume(rng):
    labels = np.zeros((40, 40, 12), dtype=np.uint8)
    labels[10:30, 12:28, 3:9] = 1
    labels[20:24, 20:24, 5:7] = 2
    affine = np.diag([1.0, 1.0, 4.0, 1.0])
    out, new_affine = processing.resample_to_spacing(labels, affine, 1.0, order=0)
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 1, 2}
    before = processing.mask_volume_ml(labels > 0, [1.0, 1.0, 4.0])
    after = processing.mask_volume_ml(out > 0, geometry.voxel_spacing(new_affine))
    assert after == pytest.approx(before, rel=0.05)
    linear, _ = processing.resample_to_spacing(labels, affine, 1.0, order=1)
    assert len(np.unique(linear)) > 3          # linear interpolation invents fractional labels


def test_mask_volume_of_a_box():
    mask = np.zeros((10, 10, 10), bool)
    mask[2:7, 1:9, 3:5] = True                 # 5 x 8 x 2 voxels
    assert processing.mask_volume_ml(mask, [2.0, 0.5, 3.0]) == pytest.approx(80 * 3 / 1000)


BAD_CALLS = [
    (processing.fit_minmax, (np.ones(5),), {}, ValueError, "x_max == x_min"),
    (processing.fit_minmax, (np.arange(5.0),), {"percentiles": (50, 10)}, ValueError,
     "percentiles"),
    (processing.fit_minmax, ([],), {}, ValueError, "empty"),
    (processing.minmax_normalize, (np.ones(3), 2.0, 1.0), {}, ValueError, "x_max"),
    (processing.minmax_normalize, ([1.0, np.nan], 0.0, 1.0), {}, ValueError, "finite"),
    (processing.fit_zscore, (np.full(4, 3.0),), {}, ValueError, "standard deviation"),
    (processing.zscore_normalize, (np.ones(3), 0.0, 0.0), {}, ValueError, "std"),
    (processing.zscore_normalize, (np.ones(3), "0", 1.0), {}, TypeError, "mean"),
    (processing.quantize, (np.ones(3), 1, 0.0, 1.0), {}, ValueError, "n_levels"),
    (processing.histogram, ([0, 1.5], 4), {}, ValueError, "integer"),
    (processing.histogram, ([0, 1], 2.5), {}, TypeError, "n_levels"),
    (processing.gaussian_kernel_1d, (0.0,), {}, ValueError, "sigma"),
    (processing.gaussian_kernel_1d, (1.0,), {"truncate": -1.0}, ValueError, "truncate"),
    (processing.gaussian_kernel_2d, (-1.0,), {}, ValueError, "sigma"),
    (processing.gaussian_filter, (np.ones((4, 4)), [1.0, 1.0, 1.0]), {}, ValueError, "sigma"),
    (processing.gaussian_filter, (np.ones((4, 4)), -1.0), {}, ValueError, "sigma"),
    (processing.sobel_gradients, (np.ones(5),), {}, ValueError, "image"),
    (processing.gradient_magnitude, (np.ones((2, 2, 2)),), {}, ValueError, "image"),
    (processing.laplacian_kernel, (4,), {}, ValueError, "ndim"),
    (processing.laplacian, (np.ones((2, 2, 2, 2)),), {}, ValueError, "image"),
    (processing.laplacian_sharpen, (np.ones((4, 4)), -1.0), {}, ValueError, "amount"),
    (processing.unsharp_mask, (np.ones((4, 4)), 0.0), {}, ValueError, "sigma"),
    (processing.filtered_noise_std, (np.ones(3), -1.0), {}, ValueError, "sigma"),
    (processing.interpolate_nearest, (np.ones((3, 3)), np.ones((3, 2))), {}, ValueError,
     "coords"),
    (processing.affine_resample, (np.ones((3, 3)), np.eye(3), [0, 0], (3, 3)), {}, ValueError,
     "matrix"),
    (processing.affine_resample, (np.ones((3, 3)), np.eye(2), [0, 0], (3, 0)), {}, ValueError,
     "output_shape"),
    (processing.affine_resample, (np.ones((3, 3)), np.eye(2), [0, 0], (3, 3)), {"order": 3},
     ValueError, "order"),
    (processing.affine_resample, (np.ones((3, 3)), np.eye(2), [0, 0], (3, 3)), {"mode": "wrap"},
     ValueError, "mode"),
    (processing.resample_to_spacing, (np.ones((3, 3, 3)), np.eye(4), 0.0), {}, ValueError,
     "spacing_mm"),
    (processing.resample_to_spacing, (np.ones((3, 3, 3)), np.eye(3), 1.0), {}, ValueError,
     "affine"),
    (processing.mask_volume_ml, (np.ones((2, 2)), [1.0]), {}, ValueError, "spacing_mm"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", BAD_CALLS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_a_clear_error(func, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(*args, **kwargs)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    img = rng.normal(size=(12, 11))
    levels = rng.integers(0, 8, size=(6, 6))
    vol = rng.normal(size=(5, 6, 4))
    labels = (vol > 0).astype(np.uint8)
    train = [rng.normal(size=(3, 3)), rng.normal(size=5)]
    assert_inputs_unchanged(processing.fit_minmax, train)
    assert_inputs_unchanged(processing.fit_zscore, train)
    assert_inputs_unchanged(processing.minmax_normalize, img, -1.0, 1.0, clip=True)
    assert_inputs_unchanged(processing.zscore_normalize, img, 0.5, 2.0)
    assert_inputs_unchanged(processing.quantize, img, 16, -2.0, 2.0)
    assert_inputs_unchanged(processing.histogram, levels, 8)
    assert_inputs_unchanged(processing.cdf, levels, 8)
    assert_inputs_unchanged(processing.equalize_histogram, levels, 8)
    assert_inputs_unchanged(processing.gaussian_filter, img, 1.0)
    assert_inputs_unchanged(processing.sobel_gradients, img)
    assert_inputs_unchanged(processing.gradient_magnitude, img)
    assert_inputs_unchanged(processing.laplacian, vol)
    assert_inputs_unchanged(processing.laplacian_sharpen, img, 1.0)
    assert_inputs_unchanged(processing.unsharp_mask, img, 1.0)
    assert_inputs_unchanged(processing.filtered_noise_std, img, 1.0)
    assert_inputs_unchanged(processing.interpolate_nearest, labels, rng.uniform(0, 3, (3, 4)))
    assert_inputs_unchanged(processing.affine_resample, vol, np.eye(3), np.zeros(3), (4, 4, 4))
    affine = np.diag([1.0, 1.0, 3.0, 1.0])
    assert_inputs_unchanged(processing.resample_to_spacing, labels, affine, 1.0, order=0)
    assert_inputs_unchanged(processing.mask_volume_ml, labels, np.ones(3))


def test_results_are_new_arrays(rng):
    img = rng.normal(size=(6, 6))
    out = processing.gaussian_filter(img, [0.0, 0.0])
    out[0, 0] = 99.0
    assert img[0, 0] != 99.0
    gx, gy = processing.sobel_kernels()
    gx[0, 0] = 7.0
    assert processing.sobel_kernels()[0][0, 0] == -1.0
