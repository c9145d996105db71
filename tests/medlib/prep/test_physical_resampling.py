"""medlib.prep.physical_resampling against SimpleITK, nibabel, TorchIO and closed forms."""
from __future__ import annotations

import warnings

import nibabel as nib
import nibabel.processing
import numpy as np
import pytest
import SimpleITK as sitk
from badinput import C, Entry
from helpers import bad_input_test

from medlib import data, geometry, prep, processing
from medlib.prep import physical_resampling as pr

_AFF = np.diag([2.0, 1.0, 1.5, 1.0])
_AFF[:3, 3] = [10.0, -5.0, 3.0]

BAD_INPUT_CALLS = {
    "prep.physical_resampling.PhysicalImage": Entry(
        lambda: C(np.arange(24.0).reshape(2, 3, 4), _AFF.copy())),
    "prep.physical_resampling.physical_image": Entry(
        lambda: C(np.arange(24.0).reshape(2, 3, 4), [2.0, 1.0, 1.5], [1.0, 2.0, 3.0],
                  np.eye(3)[:, [1, 0, 2]])),
    "prep.physical_resampling.target_grid": Entry(
        lambda: C((4, 5, 6), _AFF.copy(), [1.0, 2.0, 0.5], anchor="centre")),
    "prep.physical_resampling.resample_onto": Entry(
        lambda: C(pr.PhysicalImage(np.arange(24.0).reshape(2, 3, 4), _AFF), (3, 3, 3),
                  _AFF @ np.diag([0.5, 1.0, 1.0, 1.0]), order=1, mode="constant", cval=-1.0),
        skip={"image"}),            # a PhysicalImage is validated when it is built
    "prep.physical_resampling.resample_physical": Entry(
        lambda: C(pr.PhysicalImage(np.arange(24.0).reshape(2, 3, 4), _AFF), [1.0, 1.0, 1.0],
                  order=1, anchor="origin"),
        skip={"image"}),
}


def _real(name):
    """A real volume as a PhysicalImage in (z, y, x) order (RAS world) and its nibabel image."""
    img = nib.load(data.path(name))
    arr = np.asarray(img.dataobj, dtype=np.float64).transpose(2, 1, 0)
    return prep.PhysicalImage(arr, geometry.transpose_affine(img.affine, (2, 1, 0))), img


def _sitk(name):
    """The same file read by SimpleITK, as a PhysicalImage in ITK's LPS world."""
    s = sitk.ReadImage(str(data.path(name)), sitk.sitkFloat64)
    direction = np.array(s.GetDirection()).reshape(3, 3)
    return prep.physical_image(sitk.GetArrayFromImage(s), np.array(s.GetSpacing())[::-1],
                               s.GetOrigin(), direction[:, ::-1]), s


def _sitk_resample(s, shape, affine, interpolator):
    """SimpleITK's ResampleImageFilter onto the grid (shape, affine), given in (z, y, x) order."""
    spacing = geometry.voxel_spacing(affine)
    direction = (affine[:3, :3] / spacing)[:, ::-1]
    r = sitk.ResampleImageFilter()
    r.SetOutputSpacing(spacing[::-1].tolist())
    r.SetSize([int(n) for n in shape[::-1]])
    r.SetOutputOrigin(affine[:3, 3].tolist())
    r.SetOutputDirection(direction.ravel().tolist())
    r.SetInterpolator(interpolator)
    return sitk.GetArrayFromImage(r.Execute(s))


def test_physical_image_parts_and_world_coordinates(rng):
    arr = rng.normal(size=(3, 4, 5))
    rot = geometry.rotation_matrix(0.3)[:3, :3]
    img = prep.physical_image(arr, [3.0, 0.5, 0.7], [1.0, 2.0, 3.0], rot)
    np.testing.assert_allclose(img.spacing_mm, [3.0, 0.5, 0.7])
    np.testing.assert_allclose(img.origin_mm, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(img.direction, rot, atol=1e-12)
    world = img.world()
    assert world.shape == (3, 4, 5, 3)
    # voxel (2, 1, 4) = origin + 2*3 mm along axis 0 + 1*0.5 mm along axis 1 + 4*0.7 along axis 2
    expected = np.array([1.0, 2.0, 3.0]) + rot @ np.array([6.0, 0.5, 2.8])
    np.testing.assert_allclose(world[2, 1, 4], expected, atol=1e-12)
    np.testing.assert_allclose(world, geometry.voxel_to_world(img.affine, np.stack(
        np.indices(arr.shape), axis=-1).reshape(-1, 3)).reshape(world.shape), atol=1e-12)
    assert not img.array.flags.writeable and not img.affine.flags.writeable


def test_physical_image_copies_its_input(rng):
    arr = rng.normal(size=(3, 4))
    img = prep.physical_image(arr, 1.0)
    arr[0, 0] = 99.0
    assert img.array[0, 0] != 99.0


@pytest.mark.formula("pre.isotropic-resample")
@pytest.mark.parametrize("anchor", ["origin", "centre"])
def test_target_grid_keeps_extent_and_anchor(anchor):
    shape, affine = (61, 256, 256), np.diag([5.0, -1.254, 1.254, 1.0])
    affine[:3, 3] = [-300.0, 120.0, -160.0]
    new_shape, new_aff = prep.target_grid(shape, affine, 1.0, anchor=anchor)
    assert new_shape == (305, 321, 321)                        # round(61*5), round(256*1.254)
    np.testing.assert_allclose(geometry.voxel_spacing(new_aff), 1.0)
    np.testing.assert_allclose(np.sign(new_aff[:3, :3]), np.sign(affine[:3, :3]))
    extent_old = np.array(shape) * [5.0, 1.254, 1.254]
    assert np.all(np.abs(np.array(new_shape) * 1.0 - extent_old) <= 0.5 + 1e-9)
    centre = geometry.voxel_to_world(affine, (np.array(shape) - 1) / 2)
    new_centre = geometry.voxel_to_world(new_aff, (np.array(new_shape) - 1) / 2)
    if anchor == "origin":
        np.testing.assert_allclose(new_aff[:3, 3], affine[:3, 3])
    else:
        np.testing.assert_allclose(new_centre, centre, atol=1e-9)


@pytest.mark.formula("pre.isotropic-resample")
def test_origin_anchor_is_part_one_resample_to_spacing(rng):
    vol = rng.normal(size=(6, 7, 8))
    aff = _AFF.copy()
    img = prep.PhysicalImage(vol, aff)
    ours = prep.resample_physical(img, [1.3, 0.7, 0.9])
    ref, ref_aff = processing.resample_to_spacing(vol, aff, [1.3, 0.7, 0.9])
    np.testing.assert_allclose(ours.array, ref, atol=1e-12)
    np.testing.assert_allclose(ours.affine, ref_aff, atol=1e-12)


@pytest.mark.formula("pre.isotropic-resample")
@pytest.mark.parametrize("name", ["nifti/chest_ct_lung1_256.nii.gz", "nifti/brain_mr1.nii.gz"])
def test_matches_simpleitk_resample_image_filter_on_real_volumes(name):
    ours_ras, _ = _real(name)
    img, s = _sitk(name)
    np.testing.assert_array_equal(img.array, ours_ras.array)           # same voxels
    # LPS (ITK) and RAS (nibabel) differ by diag(-1, -1, 1) and nothing else
    np.testing.assert_allclose(np.diag([-1, -1, 1, 1]) @ img.affine, ours_ras.affine, atol=1e-4)
    spacing = [3.0, 1.7, 1.7]
    out = prep.resample_physical(img, spacing)
    ref = _sitk_resample(s, out.shape, out.affine, sitk.sitkLinear)
    inner = tuple(slice(0, n - 3) for n in out.shape)                 # away from the far border
    err = np.max(np.abs(out.array[inner] - ref[inner])) / np.ptp(img.array)
    assert err < 1e-6
    labels = np.round(img.array / 200.0)                                 # a 'label map'
    lab = prep.resample_physical(prep.PhysicalImage(labels, img.affine), spacing, order=0)
    assert set(np.unique(lab.array)) <= set(np.unique(labels))
    # the same world point: a voxel in the middle of the new grid, found in the old image
    o = np.array(out.shape) // 2
    old_index = geometry.world_to_voxel(img.affine, out.world(o))
    np.testing.assert_allclose(old_index, o * np.array(spacing) / img.spacing_mm, atol=1e-9)


@pytest.mark.formula("pre.isotropic-resample")
def test_centre_anchor_matches_torchio_resample():
    tio = pytest.importorskip("torchio")
    img, nimg = _real("nifti/chest_ct_lung2_256.nii.gz")
    out = prep.resample_physical(img, 2.5, anchor="centre")        # 61*5/2.5 = 122: exact sizes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = tio.Resample(2.5)(tio.ScalarImage(
            tensor=np.asarray(nimg.dataobj, dtype=np.float64)[None], affine=nimg.affine))
    np.testing.assert_allclose(geometry.transpose_affine(out.affine, (2, 1, 0)), ref.affine,
                               atol=1e-6)
    np.testing.assert_allclose(out.array, ref.data[0].numpy().transpose(2, 1, 0), atol=1e-6)


@pytest.mark.formula("pre.isotropic-resample")
def test_resample_onto_matches_nibabel_and_goes_back(rng):
    vol = rng.normal(size=(5, 9, 8)).cumsum(axis=1)
    img = prep.PhysicalImage(vol, _AFF)
    shape, aff = prep.target_grid(img.shape, img.affine, 0.5)
    up = prep.resample_onto(img, shape, aff)
    ref = nibabel.processing.resample_from_to(nib.Nifti1Image(vol, _AFF), (shape, aff),
                                              order=1, mode="nearest")
    np.testing.assert_allclose(up.array, np.asarray(ref.dataobj), atol=1e-9)
    back = prep.resample_onto(up, img.shape, img.affine)
    # every old centre is a new centre (0.5 divides every spacing): the round trip is exact
    np.testing.assert_allclose(back.array, vol, atol=1e-12)
    lab = prep.PhysicalImage((vol > 0).astype(np.uint8), _AFF)
    lab_back = prep.resample_onto(prep.resample_onto(lab, shape, aff, order=0), img.shape,
                                  img.affine, order=0)
    assert lab_back.array.dtype == np.uint8
    np.testing.assert_array_equal(lab_back.array, lab.array)


def test_constant_mode_fills_outside(rng):
    img = prep.PhysicalImage(rng.normal(size=(4, 4)), np.eye(3))
    shifted = np.eye(3)
    shifted[:2, 2] = [10.0, 0.0]                               # entirely outside the image
    out = prep.resample_onto(img, (2, 2), shifted, mode="constant", cval=-7.0)
    np.testing.assert_array_equal(out.array, -7.0)


test_bad_input_raises_a_clear_error = bad_input_test([
    (prep.physical_image, (np.ones((3, 3)), [1.0, -1.0]), {}, ValueError, "spacing_mm"),
    (prep.physical_image, (np.ones((3, 3)), 1.0, None, [[1, 1], [0, 1]]), {}, ValueError,
     "direction"),
    (prep.PhysicalImage, (np.ones((3, 3)), np.eye(4)), {}, ValueError, "affine"),
    (prep.PhysicalImage, (np.ones((3, 3)), np.zeros((3, 3))), {}, ValueError, "affine"),
    (prep.target_grid, ((3, 3), np.eye(3), 0.001), {"max_voxels": 1000}, ValueError,
     "spacing_mm"),
    (prep.target_grid, ((3, 3), np.eye(3), 1.0), {"anchor": "corner"}, ValueError, "anchor"),
    (prep.resample_physical, (np.ones((3, 3)), 1.0), {}, TypeError, "image"),
    (prep.resample_onto, (prep.PhysicalImage(np.ones((3, 3)), np.eye(3)), (2, 2, 2),
                          np.eye(4)), {}, ValueError, "shape"),
])
