"""medlib.geometry against nibabel, scipy's rotations, the DICOM standard and real headers."""
from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pydicom
import pytest
from helpers import bad_input_test
from nibabel.affines import apply_affine as nib_apply_affine
from scipy.spatial.transform import Rotation

from medlib import data, geometry


def _random_affine(rng, d=3):
    m = np.eye(d + 1)
    m[:d, :d] = rng.normal(size=(d, d)) + 3 * np.eye(d)
    m[:d, d] = rng.normal(scale=50, size=d)
    return m


@pytest.mark.formula("geometry.voxel-to-world")
def test_voxel_to_world_matches_nibabel(rng):
    m = _random_affine(rng)
    idx = rng.uniform(-5, 300, size=(7, 11, 3))
    np.testing.assert_allclose(geometry.voxel_to_world(m, idx), nib_apply_affine(m, idx),
                               rtol=1e-13, atol=1e-10)


@pytest.mark.formula("geometry.voxel-to-world")
def test_voxel_to_world_of_real_nifti_matches_nibabel():
    img = nib.load(data.path("nifti/mni152_t1_1mm.nii.gz"))
    corners = np.array([[0, 0, 0], [196, 232, 188], [98, 134, 72]])
    np.testing.assert_allclose(geometry.voxel_to_world(img.affine, corners),
                               nib_apply_affine(img.affine, corners))
    # The MNI template puts world (0, 0, 0) at voxel (98, 134, 72).
    np.testing.assert_allclose(geometry.voxel_to_world(img.affine, [98, 134, 72]), [0, 0, 0])


def test_world_to_voxel_inverts_voxel_to_world(rng):
    m = _random_affine(rng)
    idx = rng.uniform(0, 100, size=(50, 3))
    back = geometry.world_to_voxel(m, geometry.voxel_to_world(m, idx))
    np.testing.assert_allclose(back, idx, atol=1e-9)


def test_voxel_to_world_works_in_2d():
    m = np.array([[0.5, 0, 10], [0, 2.0, -3], [0, 0, 1]])
    np.testing.assert_allclose(geometry.voxel_to_world(m, [[2, 4]]), [[11, 5]])


def _dicom_standard_matrix(iop, ipp, ps):
    """DICOM PS3.3 C.7.6.2.1.1, written out literally: P = M [i j 0 1] with i = column."""
    x, y = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    delta_i, delta_j = float(ps[1]), float(ps[0])  # column spacing, row spacing
    return np.array([
        [x[0] * delta_i, y[0] * delta_j, 0, ipp[0]],
        [x[1] * delta_i, y[1] * delta_j, 0, ipp[1]],
        [x[2] * delta_i, y[2] * delta_j, 0, ipp[2]],
        [0, 0, 0, 1],
    ], dtype=float)


@pytest.mark.formula("geometry.dicom-affine")
@pytest.mark.parametrize("name", ["dicom/ct_head_693.dcm", "dicom/mr_oblique_mr2.dcm"])
def test_dicom_affine_matches_the_standard_equation(name):
    ds = pydicom.dcmread(data.path(name), stop_before_pixels=True)
    iop, ipp, ps = ds.ImageOrientationPatient, ds.ImagePositionPatient, ds.PixelSpacing
    m = geometry.dicom_affine(iop, ipp, ps)
    ref = _dicom_standard_matrix(iop, ipp, ps)
    np.testing.assert_allclose(m[:, [0, 1, 3]], ref[:, [0, 1, 3]], atol=1e-12)


@pytest.mark.formula("geometry.dicom-affine")
def test_dicom_affine_in_plane_matches_nibabel_dicom_wrapper():
    ds = pydicom.dcmread(data.path("dicom/mr_oblique_mr2.dcm"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel calls its DICOM readers experimental
        from nibabel.nicom import dicomwrappers
        ref = dicomwrappers.wrapper_from_data(ds).affine  # index order (row, col, slice)
    ours = geometry.transpose_affine(geometry.dicom_affine(
        ds.ImageOrientationPatient, ds.ImagePositionPatient, ds.PixelSpacing), (1, 0, 2))
    np.testing.assert_allclose(ours[:, [0, 1, 3]], ref[:, [0, 1, 3]], atol=1e-9)


@pytest.mark.formula("geometry.dicom-affine")
def test_dicom_affine_uses_pixel_spacing_in_row_column_order():
    iop = [1, 0, 0, 0, 1, 0]
    m = geometry.dicom_affine(iop, [0, 0, 0], pixel_spacing=[0.8, 0.5])  # rows 0.8 apart
    # One step along i (next column) moves 0.5 mm in x; one step along j (next row) 0.8 mm in y.
    np.testing.assert_allclose(geometry.voxel_to_world(m, [1, 0, 0]), [0.5, 0, 0])
    np.testing.assert_allclose(geometry.voxel_to_world(m, [0, 1, 0]), [0, 0.8, 0])
    np.testing.assert_allclose(np.linalg.det(m[:3, :3]), 0.5 * 0.8 * 1.0)


def test_slice_geometry_orders_a_real_series_like_its_slice_locations():
    names = [f"dicom/ct5n/{n}.dcm" for n in (2062, 2392, 2693, 3023, 3353)]
    headers = [pydicom.dcmread(data.path(n), stop_before_pixels=True) for n in names]
    pos = [h.ImagePositionPatient for h in headers]
    order, step = geometry.slice_geometry(pos, headers[0].ImageOrientationPatient)
    locations = np.array([float(h.SliceLocation) for h in headers])
    np.testing.assert_array_equal(order, np.argsort(locations))
    np.testing.assert_allclose(np.linalg.norm(step), float(headers[0].SliceThickness), rtol=1e-6)
    np.testing.assert_allclose(step, [0, 0, 2.5], atol=1e-6)


@pytest.mark.parametrize("positions, message", [
    ([[0, 0, 0], [0, 0, 1], [0, 0, 1]], "^image_positions holds two slices at the same position"),
    (np.full((3, 3), 1e300), "^image_positions holds two slices"),   # issue 11
    ([[0, 0, 0], [0, 0, 1], [0, 0, 3]], "not uniform"),
    ([[0, 0, 0]], "n >= 2"),
])
def test_slice_geometry_rejects_broken_series(positions, message):
    with pytest.raises(ValueError, match=message):
        geometry.slice_geometry(positions, [1, 0, 0, 0, 1, 0])


@pytest.mark.parametrize("axes", [(2, 1, 0), (1, 0, 2), (0, 2, 1), (1, 2, 0)])
def test_transpose_affine_matches_nibabel_reorientation(rng, axes):
    m = _random_affine(rng)
    shape = (5, 6, 7)
    img = nib.Nifti1Image(np.zeros(shape, np.float32), m)
    # nibabel's orientation row q says which output axis input axis q becomes.
    ornt = np.column_stack([np.argsort(axes), np.ones(3)])
    ref = img.as_reoriented(ornt).affine
    np.testing.assert_allclose(geometry.transpose_affine(m, axes), ref, atol=1e-12)
    # And every voxel keeps its world position.
    arr = rng.normal(size=shape)
    t = arr.transpose(axes)
    idx = np.argwhere(np.ones(t.shape, bool))
    orig = np.empty_like(idx)
    orig[:, list(axes)] = idx
    np.testing.assert_allclose(geometry.voxel_to_world(geometry.transpose_affine(m, axes), idx),
                               geometry.voxel_to_world(m, orig), atol=1e-9)
    assert np.array_equal(t[tuple(idx.T)], arr[tuple(orig.T)])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_flip_affine_matches_nibabel_reorientation(rng, axis):
    m = _random_affine(rng)
    shape = (5, 6, 7)
    img = nib.Nifti1Image(np.zeros(shape, np.float32), m)
    ornt = np.array([[0, 1], [1, 1], [2, 1]])
    ornt[axis, 1] = -1
    np.testing.assert_allclose(geometry.flip_affine(m, shape, axis),
                               img.as_reoriented(ornt).affine, atol=1e-12)


@pytest.mark.formula("geometry.lps-to-ras")
def test_lps_to_ras_gives_the_orientation_codes_nibabel_expects():
    m = geometry.dicom_affine([1, 0, 0, 0, 1, 0], [-100, -120, 30], [0.5, 0.5], 2.0)
    # Identity DICOM orientation: i runs to the patient's Left, j to Posterior, k Superior.
    assert nib.aff2axcodes(geometry.lps_to_ras(m)) == ("L", "P", "S")
    np.testing.assert_allclose(geometry.lps_to_ras(geometry.lps_to_ras(m)), m)
    np.testing.assert_allclose(geometry.voxel_to_world(geometry.lps_to_ras(m), [0, 0, 0]),
                               [100, 120, 30])


def test_voxel_spacing_reads_the_column_norms():
    ds = pydicom.dcmread(data.path("dicom/mr_oblique_mr2.dcm"), stop_before_pixels=True)
    m = geometry.dicom_affine(ds.ImageOrientationPatient, ds.ImagePositionPatient,
                              ds.PixelSpacing, float(ds.SpacingBetweenSlices))
    np.testing.assert_allclose(geometry.voxel_spacing(m),
                               [ds.PixelSpacing[1], ds.PixelSpacing[0], ds.SpacingBetweenSlices],
                               rtol=1e-5)
    img = nib.load(data.path("nifti/mni152_t1_1mm.nii.gz"))
    np.testing.assert_allclose(geometry.voxel_spacing(img.affine), img.header.get_zooms())


@pytest.mark.formula("geometry.rotation-z")
@pytest.mark.parametrize("axis", ["x", "y", "z"])
@pytest.mark.parametrize("theta", [0.0, 0.3, -1.2, np.pi, 2.5 * np.pi])
def test_rotation_matrix_matches_scipy(axis, theta):
    ref = Rotation.from_euler(axis, theta).as_matrix()
    np.testing.assert_allclose(geometry.rotation_matrix(theta, axis), ref, atol=1e-15)


@pytest.mark.formula("geometry.rotation-z")
def test_rotation_about_z_turns_x_into_y():
    r = geometry.rotation_matrix(np.pi / 2)
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 1, 0], atol=1e-15)
    np.testing.assert_allclose(np.linalg.det(r), 1.0)


@pytest.mark.formula("geometry.scaling")
def test_scaling_matrix_scales_each_axis():
    s = geometry.scaling_matrix([2.0, 0.5, -1.0])
    np.testing.assert_array_equal(s @ [1, 1, 1], [2.0, 0.5, -1.0])
    assert np.linalg.det(s) == pytest.approx(-1.0)
    np.testing.assert_array_equal(s, np.diag([2.0, 0.5, -1.0]))


@pytest.mark.formula("geometry.affine", "geometry.affine-homogeneous")
def test_affine_and_its_homogeneous_form_agree_with_nibabel(rng):
    a = geometry.rotation_matrix(0.4, "y") @ geometry.scaling_matrix([1.5, 2, 0.7])
    b = np.array([10.0, -4.0, 2.5])
    pts = rng.normal(size=(20, 3))
    h = geometry.homogeneous(a, b)
    np.testing.assert_allclose(geometry.apply_affine(a, b, pts), nib_apply_affine(h, pts),
                               atol=1e-12)
    np.testing.assert_allclose(geometry.apply_affine(a, b, pts), pts @ a.T + b, atol=1e-12)


@pytest.mark.formula("geometry.affine-homogeneous")
def test_composition_is_a_matrix_product(rng):
    h1 = geometry.homogeneous(geometry.rotation_matrix(0.3), [1.0, 2.0, 3.0])
    h2 = geometry.homogeneous(geometry.scaling_matrix([2, 2, 2]), [-5.0, 0.0, 1.0])
    pts = rng.normal(size=(10, 3))
    step = nib_apply_affine(h2, nib_apply_affine(h1, pts))
    np.testing.assert_allclose(geometry.voxel_to_world(h2 @ h1, pts), step, atol=1e-12)


@pytest.mark.formula("geometry.affine-homogeneous")
def test_invert_homogeneous_matches_numpy(rng):
    m = _random_affine(rng)
    np.testing.assert_allclose(geometry.invert_homogeneous(m), np.linalg.inv(m), atol=1e-12)
    np.testing.assert_allclose(geometry.invert_homogeneous(m) @ m, np.eye(4), atol=1e-12)


# issue 11, groups 6 and 8: a scalar point gave IndexError; world_to_voxel named `indices`.
POINT_CALLS = [
    (geometry.voxel_to_world, (np.eye(4), 5.0), {}, ValueError, r"indices must have shape"),
    (geometry.world_to_voxel, (np.eye(4), 5.0), {}, ValueError, r"points must have shape"),
    (geometry.world_to_voxel, (np.eye(4), [1.0, 2.0]), {}, ValueError,
     r"^points must have shape \(\.\.\., 3\)"),
    (geometry.apply_affine, (np.eye(2), [0.0, 0.0], 5.0), {}, ValueError, "points must have shape"),
]

test_a_scalar_or_wrong_point_is_named = bad_input_test(POINT_CALLS)


BAD_CALLS = [
    (geometry.voxel_to_world, (np.eye(4), [[1, 2]]), {}, ValueError, "indices must have shape"),
    (geometry.voxel_to_world, (np.ones((4, 4)), [1, 2, 3]), {}, ValueError, "last row"),
    (geometry.voxel_to_world, (np.eye(3)[:2], [1, 2]), {}, ValueError, "square"),
    (geometry.voxel_to_world, (np.eye(4), [1, np.nan, 3]), {}, ValueError, "finite"),
    (geometry.voxel_to_world, (np.eye(4), "abc"), {}, TypeError, "indices"),
    (geometry.world_to_voxel, (np.diag([1, 0, 1, 1.0]), [1, 2, 3]), {}, ValueError, "singular"),
    (geometry.dicom_affine, ([1, 0, 0, 0, 1], [0, 0, 0], [1, 1]), {}, ValueError,
     "image_orientation"),
    (geometry.dicom_affine, ([1, 0, 0, 1, 0, 0], [0, 0, 0], [1, 1]), {}, ValueError, "orthogonal"),
    (geometry.dicom_affine, ([2, 0, 0, 0, 1, 0], [0, 0, 0], [1, 1]), {}, ValueError,
     "unit vector"),
    (geometry.dicom_affine, ([1, 0, 0, 0, 1, 0], [0, 0, 0], [0, 1]), {}, ValueError,
     "pixel_spacing"),
    (geometry.dicom_affine, ([1, 0, 0, 0, 1, 0], [0, 0], [1, 1]), {}, ValueError, "image_position"),
    (geometry.dicom_affine, ([1, 0, 0, 0, 1, 0], [0, 0, 0], [1, 1], -2.0), {}, ValueError,
     "slice_step"),
    (geometry.dicom_affine, ([1, 0, 0, 0, 1, 0], [0, 0, 0], [1, 1], [0, 0, 0]), {}, ValueError,
     "slice_step"),
    (geometry.transpose_affine, (np.eye(4), (0, 0, 1)), {}, ValueError, "permutation"),
    (geometry.flip_affine, (np.eye(4), (4, 4, 4), 3), {}, ValueError, "axis"),
    (geometry.flip_affine, (np.eye(4), (4, 4), 0), {}, ValueError, "shape"),
    (geometry.lps_to_ras, (np.eye(3),), {}, ValueError, "4x4"),
    (geometry.scaling_matrix, ([1, 0, 2],), {}, ValueError, "non-zero"),
    (geometry.rotation_matrix, (0.1, "w"), {}, ValueError, "axis"),
    (geometry.rotation_matrix, (np.inf,), {}, ValueError, "theta"),
    (geometry.rotation_matrix, ("0.1",), {}, TypeError, "theta"),
    (geometry.apply_affine, (np.eye(3), [0, 0], [[1, 2, 3]]), {}, ValueError, "offset"),
    (geometry.apply_affine, (np.eye(3), [0, 0, 0], [[1, 2]]), {}, ValueError, "points"),
    (geometry.homogeneous, (np.ones((2, 3)), [0, 0]), {}, ValueError, "square"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: axes of 2.5, NaN or a string were truncated or got int()'s message
TRANSPOSE_AXES_CALLS = [
    (geometry.transpose_affine, (np.eye(4), (2.5, 0, 1)), {}, TypeError, "^axes must be an int"),
    (geometry.transpose_affine, (np.eye(4), (np.nan, 0, 1)), {}, TypeError,
     "^axes must be an int"),
    (geometry.transpose_affine, (np.eye(4), "abc"), {}, TypeError, "^axes must be a permutation"),
    (geometry.transpose_affine, (np.eye(4), None), {}, TypeError, "^axes must be a permutation"),
]

test_transpose_axes_must_be_integers = bad_input_test(TRANSPOSE_AXES_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    m = _random_affine(rng)
    idx = rng.normal(size=(4, 3))
    assert_inputs_unchanged(geometry.voxel_to_world, m, idx)
    assert_inputs_unchanged(geometry.world_to_voxel, m, idx)
    assert_inputs_unchanged(geometry.transpose_affine, m, [2, 1, 0])
    assert_inputs_unchanged(geometry.flip_affine, m, [3, 4, 5], 1)
    assert_inputs_unchanged(geometry.lps_to_ras, m)
    assert_inputs_unchanged(geometry.invert_homogeneous, m)
    assert_inputs_unchanged(geometry.apply_affine, m[:3, :3], m[:3, 3], idx)
    assert_inputs_unchanged(geometry.homogeneous, m[:3, :3], m[:3, 3])
    assert_inputs_unchanged(geometry.scaling_matrix, np.array([1.0, 2.0, 3.0]))
    iop, ipp = np.array([1.0, 0, 0, 0, 1, 0]), np.array([1.0, 2, 3])
    assert_inputs_unchanged(geometry.dicom_affine, iop, ipp, np.array([0.5, 0.7]),
                            np.array([0.0, 0.0, 2.0]))
    pos = np.array([[0, 0, 2.0], [0, 0, 0], [0, 0, 1]])
    assert_inputs_unchanged(geometry.slice_geometry, pos, iop)


def test_transpose_affine_returns_a_new_array():
    m = np.eye(4)
    out = geometry.transpose_affine(m, (0, 1, 2))
    out[0, 0] = 5
    assert m[0, 0] == 1
