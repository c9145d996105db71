"""medlib.processing.resampling (section 8.3) against SciPy, nibabel and closed forms."""
from __future__ import annotations

import nibabel as nib
import nibabel.processing
import numpy as np
import pytest
from helpers import bad_input_test
from scipy import ndimage

from medlib import geometry, processing, sampling
from medlib.processing import resampling


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
    ours = resampling.affine_resample(vol, matrix, offset, (12, 17, 15), order=order,
                                      mode=mode, cval=-5.0)
    ref = ndimage.affine_transform(vol, matrix, offset, output_shape=(12, 17, 15), order=order,
                                   mode=mode, cval=-5.0)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.mark.formula("proc.backward-mapping")
def test_affine_resample_in_2d_undoes_a_rotation_about_the_centre(rng):
    img = ndimage.gaussian_filter(rng.normal(size=(41, 41)), 3.0)
    rot = geometry.rotation_matrix(0.4)[:2, :2]
    centre = np.array([20.0, 20.0])
    forward = resampling.affine_resample(img, rot, centre - rot @ centre, img.shape)
    back = resampling.affine_resample(forward, rot.T, centre - rot.T @ centre, img.shape)
    inner = (slice(14, 27), slice(14, 27))
    np.testing.assert_allclose(back[inner], img[inner], atol=0.02 * np.ptp(img))


def test_affine_resample_in_blocks_equals_one_pass(monkeypatch, rng):
    vol = rng.normal(size=(9, 10, 11))
    whole = resampling.affine_resample(vol, np.eye(3) * 0.8, [0.5, 0.1, 0.2], (11, 12, 13))
    monkeypatch.setattr(resampling, "_CHUNK", 97)
    blocks = resampling.affine_resample(vol, np.eye(3) * 0.8, [0.5, 0.1, 0.2], (11, 12, 13))
    np.testing.assert_array_equal(whole, blocks)


def test_nearest_neighbour_matches_map_coordinates_order_0_and_keeps_the_dtype(rng):
    labels = rng.integers(0, 4, size=(6, 7)).astype(np.uint8)
    pts = np.stack([rng.uniform(-1, 6.5, 200), rng.uniform(-1, 7.5, 200)])
    ours = resampling.interpolate_nearest(labels, pts)
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
    ours, new_affine = resampling.resample_to_spacing(vol, affine, 1.25, order=order)
    assert ours.shape == (24, 20, 36)
    img = nib.Nifti1Image(vol, affine)
    ref = nibabel.processing.resample_from_to(img, (ours.shape, new_affine), order=order,
                                              mode="nearest")
    np.testing.assert_allclose(ours, np.asarray(ref.dataobj), atol=1e-10)


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("spacing", [[1.3, 0.7, 0.9], [0.4, 2.5, 1.0], [3.0, 3.0, 0.5]])
def test_resample_to_spacing_axis_by_axis_equals_scipy_affine_transform(rng, order, spacing):
    # resample_to_spacing interpolates one axis after another (a diagonal map is separable);
    # the reference interpolates all axes at once: same values, shrinking and growing axes mixed
    from scipy import ndimage
    vol = rng.normal(size=(9, 14, 11)) if order else rng.integers(0, 6, size=(9, 14, 11))
    old = np.array([0.8, 1.1, 1.7])
    ours, _ = resampling.resample_to_spacing(vol, np.diag([*old, 1.0]), spacing, order=order)
    ref = ndimage.affine_transform(vol.astype(float), np.array(spacing) / old,
                                   output_shape=ours.shape, order=order, mode="nearest")
    np.testing.assert_allclose(ours, ref, atol=1e-12 if order else 0)
    assert ours.dtype == (np.float64 if order else vol.dtype)


@pytest.mark.formula("proc.resample-spacing")
def test_resample_to_spacing_keeps_origin_directions_and_extent(rng):
    vol, affine = _nifti_volume(rng)
    rot = np.eye(4)
    rot[:3, :3] = geometry.rotation_matrix(0.2, "y")
    oblique = rot @ affine
    out, new_affine = resampling.resample_to_spacing(vol, oblique, [2.0, 2.0, 2.0])
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
@pytest.mark.parametrize("n, old, new", [(61, 5.0, 1.25390625), (9, 5.0, 1.0), (24, 1.25, 2.0),
                                         (40, 3.0, 0.7), (7, 2.0, 2.0), (13, 0.8, 3.3)])
def test_the_last_new_centre_overhangs_by_at_most_the_old_minus_half_the_new_spacing(n, old, new):
    vol = np.arange(n, dtype=float)[:, None] * np.ones((1, 2))
    affine = np.diag([old, 1.0, 1.0])
    out, new_affine = resampling.resample_to_spacing(vol, affine, [new, 1.0])
    last_new = geometry.voxel_to_world(new_affine, [[out.shape[0] - 1, 0]])[0, 0]
    overhang = last_new - (n - 1) * old                       # mm beyond the last old centre
    assert overhang <= old - new / 2 + 1e-9
    beyond = np.arange(out.shape[0]) * new > (n - 1) * old + 1e-9
    np.testing.assert_array_equal(out[beyond, 0], vol[-1, 0])   # they take the edge value


def test_upsampling_5_mm_slices_overhangs_by_more_than_half_an_old_voxel():
    # The chest CT of the resampling notebook: 61 slices of 5 mm to 1.254 mm.
    vol = np.zeros((61, 2, 2))
    affine = np.diag([5.0, 1.25390625, 1.25390625, 1.0])
    out, new_affine = resampling.resample_to_spacing(vol, affine, 1.25390625)
    overhang = (out.shape[0] - 1) * geometry.voxel_spacing(new_affine)[0] - 60 * 5.0
    assert out.shape[0] == 243
    assert 5.0 / 2 < overhang <= 5.0 - 1.25390625 / 2


@pytest.mark.formula("proc.resample-spacing")
def test_nearest_resampling_keeps_the_label_set_and_the_volume(rng):
    labels = np.zeros((40, 40, 12), dtype=np.uint8)
    labels[10:30, 12:28, 3:9] = 1
    labels[20:24, 20:24, 5:7] = 2
    affine = np.diag([1.0, 1.0, 4.0, 1.0])
    out, new_affine = resampling.resample_to_spacing(labels, affine, 1.0, order=0)
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 1, 2}
    before = resampling.mask_volume_ml(labels > 0, [1.0, 1.0, 4.0])
    after = resampling.mask_volume_ml(out > 0, geometry.voxel_spacing(new_affine))
    assert after == pytest.approx(before, rel=0.05)
    linear, _ = resampling.resample_to_spacing(labels, affine, 1.0, order=1)
    assert len(np.unique(linear)) > 3          # linear interpolation invents fractional labels


def test_mask_volume_of_a_box():
    mask = np.zeros((10, 10, 10), bool)
    mask[2:7, 1:9, 3:5] = True                 # 5 x 8 x 2 voxels
    assert resampling.mask_volume_ml(mask, [2.0, 0.5, 3.0]) == pytest.approx(80 * 3 / 1000)


def test_the_package_re_exports_every_public_name():
    for name in resampling.__all__:
        assert getattr(processing, name) is getattr(resampling, name), name
    assert set(resampling.__all__) <= set(processing.__all__)


def test_resample_to_spacing_in_metres_is_refused_before_allocating():
    # issue 11, group 2: 0.001 "mm" on a 64^3 volume of 1 mm voxels asks for 2.6e14 voxels.
    vol = np.zeros((64, 64, 64))
    with pytest.raises(ValueError, match=r"spacing_mm.*2\.62e\+14.*metres instead of millimetres"):
        resampling.resample_to_spacing(vol, np.eye(4), 0.001)
    # An overflowing size is reported as such, not as a negative int64 output_shape.
    with pytest.raises(ValueError, match=r"spacing_mm.*max_voxels.*metres"):
        resampling.resample_to_spacing(np.ones((4, 4)), np.eye(3), 1e-300)


def test_resample_to_spacing_max_voxels_is_the_stated_bound():
    vol = np.ones((4, 4))
    out, _ = resampling.resample_to_spacing(vol, np.eye(3), 0.5, max_voxels=64)
    assert out.shape == (8, 8)
    with pytest.raises(ValueError, match="max_voxels=63"):
        resampling.resample_to_spacing(vol, np.eye(3), 0.5, max_voxels=63)


def test_affine_resample_refuses_a_huge_output_shape():
    args = (np.ones((3, 3)), np.eye(2), [0.0, 0.0])
    with pytest.raises(ValueError, match="output_shape.*max_voxels"):      # wrapped int64 before
        resampling.affine_resample(*args, (2 ** 62, 2 ** 62))
    with pytest.raises(ValueError, match="output_shape.*max_voxels"):
        resampling.affine_resample(*args, (2 ** 15, 2 ** 14 + 1))
    assert resampling.affine_resample(*args, (4, 5), max_voxels=20).shape == (4, 5)
    with pytest.raises(ValueError, match="max_voxels=19"):
        resampling.affine_resample(*args, (4, 5), max_voxels=19)


def test_interpolate_nearest_refuses_a_scalar_array():
    # issue 11, group 6 (the nearest-neighbour twin of interpolate_linear)
    with pytest.raises(ValueError, match="array must have at least one dimension"):
        resampling.interpolate_nearest(5.0, np.ones(0))


BAD_CALLS = [
    (resampling.interpolate_nearest, (np.ones((3, 3)), np.ones((3, 2))), {}, ValueError,
     "coords"),
    (resampling.affine_resample, (np.ones((3, 3)), np.eye(3), [0, 0], (3, 3)), {}, ValueError,
     "matrix"),
    (resampling.affine_resample, (np.ones((3, 3)), np.eye(2), [0, 0], (3, 0)), {}, ValueError,
     "output_shape"),
    (resampling.affine_resample, (np.ones((3, 3)), np.eye(2), [0, 0], (3, 3)), {"order": 3},
     ValueError, "order"),
    (resampling.affine_resample, (np.ones((3, 3)), np.eye(2), [0, 0], (3, 3)), {"mode": "wrap"},
     ValueError, "mode"),
    (resampling.resample_to_spacing, (np.ones((3, 3, 3)), np.eye(4), 0.0), {}, ValueError,
     "spacing_mm"),
    (resampling.resample_to_spacing, (np.ones((3, 3, 3)), np.eye(3), 1.0), {}, ValueError,
     "affine"),
    (resampling.mask_volume_ml, (np.ones((2, 2)), [1.0]), {}, ValueError, "spacing_mm"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: a complex volume or mask is refused in the caller's name (not dropped, not named
# 'array'), and a wrong ndim is blamed on the array, not only on the argument compared with it
ISSUE_11_CALLS = [
    (resampling.mask_volume_ml, (np.array([1 + 1j, 0.0]), [1.0]), {}, TypeError,
     "^mask must be real"),
    (resampling.resample_to_spacing, (np.ones((3, 3, 3)) + 1j, np.eye(4), 1.0), {}, TypeError,
     "^volume must be real"),
    (resampling.resample_to_spacing, (5.0, np.eye(4), 1.0), {}, ValueError, "^volume"),
    (resampling.resample_to_spacing, (np.ones((2, 3, 3, 3)), np.eye(4), 1.0), {}, ValueError,
     r"volume of shape \(2, 3, 3, 3\)"),
    (resampling.mask_volume_ml, (True, [1.0]), {}, ValueError, "^mask"),
    (resampling.mask_volume_ml, (np.ones((2, 2, 2, 2)), [1.0, 1.0, 1.0]), {}, ValueError,
     r"mask has shape \(2, 2, 2, 2\)"),
    (resampling.affine_resample, (np.ones((2, 3, 3)), np.eye(2), [0, 0], (3, 3)), {}, ValueError,
     r"array of shape \(2, 3, 3\)"),
]

test_issue_11_bad_arrays_are_named = bad_input_test(ISSUE_11_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    vol = rng.normal(size=(5, 6, 4))
    labels = (vol > 0).astype(np.uint8)
    assert_inputs_unchanged(resampling.interpolate_nearest, labels, rng.uniform(0, 3, (3, 4)))
    assert_inputs_unchanged(resampling.affine_resample, vol, np.eye(3), np.zeros(3), (4, 4, 4))
    affine = np.diag([1.0, 1.0, 3.0, 1.0])
    assert_inputs_unchanged(resampling.resample_to_spacing, labels, affine, 1.0, order=0)
    assert_inputs_unchanged(resampling.mask_volume_ml, labels, np.ones(3))
