"""medlib.prep.multisequence against SimpleITK, scikit-image, NumPy and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from scipy import ndimage

from medlib import geometry, mri, phantoms
from medlib.prep import multisequence as ms

P3 = np.eye(3)[::-1]     # (z, y, x) <-> (x, y, z)


def _fractions(rng, shape=(6, 7, 8)):
    wm = rng.uniform(0, 0.6, shape)
    gm = rng.uniform(0, 1, shape) * (1 - wm)
    return {"wm": wm, "gm": gm, "csf": 1 - wm - gm}


def test_inversion_recovery_image_is_the_closed_form_and_nulls_csf(rng):
    tissues = mri.tissue_parameters(3.0)
    fr = _fractions(rng)
    tr, te, ti = 9000.0, 90.0, 2500.0
    img = ms.inversion_recovery_image(fr, tissues, tr, te, ti)
    expected = sum(fr[k] * tissues[k].pd * (1 - 2 * np.exp(-ti / tissues[k].t1_ms)
                                            + np.exp(-tr / tissues[k].t1_ms))
                   * np.exp(-te / tissues[k].t2_ms) for k in fr)
    np.testing.assert_allclose(img, np.abs(expected), rtol=1e-12)
    null = mri.inversion_null_time(tissues["csf"].t1_ms, tr_ms=tr)
    pure_csf = {"csf": np.ones(3)}
    assert ms.inversion_recovery_image(pure_csf, tissues, tr, te, null).max() < 1e-12
    pure_wm = {"wm": np.ones(3)}
    assert ms.inversion_recovery_image(pure_wm, tissues, tr, te, null).min() > 0.1


def test_euler_matrix_is_a_rotation_and_matches_geometry(rng):
    a = rng.uniform(-0.5, 0.5, 3)
    r = ms.euler_matrix(a)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-14)
    assert np.linalg.det(r) == pytest.approx(1.0)
    # About array axis 0 (z) in (z, y, x) order = geometry's z rotation in (x, y, z), reversed.
    np.testing.assert_allclose(ms.euler_matrix([a[0], 0, 0]),
                               P3 @ geometry.rotation_matrix(-a[0], "z") @ P3, atol=1e-14)
    np.testing.assert_allclose(ms.euler_matrix(a[0]),
                               geometry.rotation_matrix(a[0])[:2, :2], atol=1e-14)


def _sitk_image(array, spacing):
    import SimpleITK as sitk
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(tuple(float(s) for s in spacing[::-1]))
    return img


def test_rigid_resample_matches_simpleitk_resample(rng):
    sitk = pytest.importorskip("SimpleITK")
    vol = ndimage.gaussian_filter(rng.normal(size=(14, 16, 18)), 2.0)
    s_in, s_out = np.array([3.0, 1.5, 1.0]), np.array([2.0, 2.0, 2.0])
    r = ms.euler_matrix(np.deg2rad([4.0, -3.0, 6.0]))
    t, c = np.array([1.0, -2.0, 0.5]), np.array([20.0, 11.0, 9.0])
    out_shape = (18, 10, 8)
    ours = ms.rigid_resample(vol, s_in, r, t, c, shape=out_shape, out_spacing_mm=s_out)
    tx = sitk.AffineTransform(3)
    tx.SetMatrix(tuple((P3 @ r @ P3).ravel()))
    tx.SetTranslation(tuple(t[::-1]))
    tx.SetCenter(tuple(c[::-1]))
    ref_grid = _sitk_image(np.zeros(out_shape), s_out)
    ref = sitk.GetArrayFromImage(sitk.Resample(_sitk_image(vol, s_in), ref_grid, tx,
                                               sitk.sitkLinear, 0.0))
    inside = ours != 0            # ITK also extrapolates up to half a voxel beyond the edge
    assert inside.mean() > 0.8
    np.testing.assert_allclose(ours[inside], ref[inside], atol=1e-9)


def test_joint_histogram_and_mutual_information_match_numpy_and_skimage(rng):
    from skimage.metrics import normalized_mutual_information
    a = rng.normal(size=(40, 50))
    b = np.exp(a) + 0.3 * rng.normal(size=a.shape)          # dependent, nonlinearly
    h = ms.joint_histogram(a, b, 16)
    ref, _, _ = np.histogram2d(a.ravel(), b.ravel(), 16)
    np.testing.assert_array_equal(h, ref)
    p = h / h.sum()

    def entropy(q):
        q = q[q > 0]
        return -np.sum(q * np.log(q))

    ha, hb, hab = entropy(p.sum(1)), entropy(p.sum(0)), entropy(p)
    assert ms.mutual_information(a, b, 16) == pytest.approx(ha + hb - hab, rel=1e-12)
    assert (ha + hb) / hab == pytest.approx(normalized_mutual_information(a, b, bins=16),
                                            rel=1e-9)
    assert ms.mutual_information(a, a, 16) == pytest.approx(ha, rel=1e-12)   # MI(a, a) = H(a)
    indep = ms.mutual_information(a, rng.permutation(b.ravel()).reshape(b.shape), 16)
    assert 0 <= indep < 0.1 * ms.mutual_information(a, b, 16)


def _pair_2d(angle_deg, shift_mm, s_fixed, s_moving):
    """A T1-like fixed and a contrast-inverted moving Shepp-Logan, misaligned by a known map."""
    base = ndimage.gaussian_filter(phantoms.shepp_logan(128), 1.0)   # 1 mm pixels
    centre_fine = np.array([63.5, 63.5])
    n_f = (np.array([127.0, 127.0]) // s_fixed + 1).astype(int)
    fixed = ms.rigid_resample(base, 1.0, np.eye(2), np.zeros(2), centre_fine,
                              shape=tuple(n_f), out_spacing_mm=s_fixed)
    c = (n_f - 1) / 2 * s_fixed
    r = ms.euler_matrix(np.deg2rad(angle_deg))
    n_m = (np.array([127.0, 127.0]) // s_moving + 1).astype(int)
    inverted = np.where(base > 0, 1.2 - base, 0.0)                   # another contrast
    moving = ms.rigid_resample(inverted, 1.0, r.T, -r.T @ shift_mm, c, shape=tuple(n_m),
                               out_spacing_mm=s_moving)
    return fixed, moving, r, c


@pytest.mark.formula("pre.multisequence-fusion")
def test_registration_recovers_a_known_rigid_map_like_simpleitk():
    sitk = pytest.importorskip("SimpleITK")
    shift = np.array([3.0, -2.0])
    fixed, moving, r_true, c = _pair_2d(4.0, shift, 1.5, 2.0)
    reg = ms.register_rigid_mi(fixed, moving, 1.5, 2.0)
    assert np.degrees(reg.angles_rad[0]) == pytest.approx(4.0, abs=0.5)
    np.testing.assert_allclose(reg.centre_mm, c)
    np.testing.assert_allclose(reg.translation_mm, shift, atol=0.75)     # half a fixed pixel

    tx = sitk.Euler2DTransform()
    tx.SetCenter(tuple(c[::-1]))
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(1.0, 1e-4, 300)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    method.SetInitialTransform(tx, inPlace=True)
    method.Execute(_sitk_image(fixed, np.array([1.5, 1.5])),
                   _sitk_image(moving, np.array([2.0, 2.0])))
    sitk_shift = np.array(tx.GetTranslation())[::-1]
    # Ours is as close to the truth as SimpleITK's, give or take a tenth of a pixel.
    err_ours = np.linalg.norm(reg.translation_mm - shift)
    err_sitk = np.linalg.norm(sitk_shift - shift)
    assert err_ours < max(err_sitk, 0.1) + 0.15
    assert abs(np.degrees(reg.angles_rad[0]) - 4.0) < abs(np.degrees(tx.GetAngle()) - 4.0) + 0.2
    history = np.array([h[2] for h in reg.history])
    assert reg.mutual_information == pytest.approx(history[-200:].max(), rel=1e-9)


def test_registration_recovers_a_3d_rigid_map_across_contrasts(rng):
    base = ndimage.gaussian_filter(rng.normal(size=(48, 52, 56)), 2.0)
    base = np.where(base > 0, base, 0.3 * base)                  # three "tissues"
    s_f, s_m = np.array([2.0, 2.0, 2.0]), np.array([3.0, 2.0, 2.5])
    n_f = tuple(int(n) for n in (np.array(base.shape) - 1) // s_f + 1)
    n_m = tuple(int(n) for n in (np.array(base.shape) - 1) // s_m + 1)
    c = (np.array(n_f) - 1) / 2 * s_f
    fixed = ms.rigid_resample(base, 1.0, np.eye(3), np.zeros(3), c, shape=n_f,
                              out_spacing_mm=s_f)
    r = ms.euler_matrix(np.deg2rad([2.0, -3.0, 1.0]))
    t = np.array([1.5, -1.0, 2.0])
    moving = ms.rigid_resample(np.exp(-2 * base), 1.0, r.T, -r.T @ t, c, shape=n_m,
                               out_spacing_mm=s_m)                # another, monotone contrast
    reg = ms.register_rigid_mi(fixed, moving, s_f, s_m, shrink=(2, 1))   # a small volume
    pts = np.argwhere(np.ones(n_f, bool)).T * s_f[:, None]
    true = r @ (pts - c[:, None]) + (c + t)[:, None]
    est = reg.rotation @ (pts - c[:, None]) + (c + reg.translation_mm)[:, None]
    assert np.linalg.norm(est - true, axis=0).max() < 1.0           # half a fixed voxel
    angle = np.arccos(np.clip((np.trace(reg.rotation @ r.T) - 1) / 2, -1, 1))
    assert np.degrees(angle) < 0.5


@pytest.mark.formula("pre.multisequence-fusion")
def test_fuse_sequences_zscores_and_stacks_channels_first(rng):
    mask = np.zeros((5, 6, 7), bool)
    mask[1:4, 1:5, 1:6] = True
    a = np.where(mask, rng.normal(300, 50, mask.shape), 0.0)
    b = np.where(mask, rng.normal(20, 3, mask.shape), 0.0)
    x = ms.fuse_sequences([a, b], mask)
    assert x.shape == (2, 5, 6, 7)
    for c, img in enumerate((a, b)):
        assert abs(x[c][mask].mean()) < 1e-12 and x[c][mask].std() == pytest.approx(1.0)
        np.testing.assert_allclose(x[c], (img - img[mask].mean()) / img[mask].std(), atol=1e-12)
    filled = ms.fuse_sequences([a, None], mask, missing="zeros")
    np.testing.assert_array_equal(filled[1], 0.0)
    np.testing.assert_allclose(filled[0], x[0])


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    fr = _fractions(rng)
    assert_inputs_unchanged(ms.inversion_recovery_image, fr, mri.tissue_parameters(3.0),
                            9000.0, 90.0, 2500.0)
    angles = np.array([0.1, 0.2, 0.3])
    assert_inputs_unchanged(ms.euler_matrix, angles)
    vol = rng.normal(size=(6, 7, 8))
    r, t, c = np.eye(3), np.ones(3), np.zeros(3)
    assert_inputs_unchanged(ms.rigid_resample, vol, np.ones(3), r, t, c)
    assert_inputs_unchanged(ms.joint_histogram, vol, vol ** 2, 8)
    assert_inputs_unchanged(ms.mutual_information, vol, vol ** 2, 8)
    img = ndimage.gaussian_filter(rng.normal(size=(24, 24)), 2)
    assert_inputs_unchanged(ms.register_rigid_mi, img, img, np.ones(2), np.ones(2),
                            shrink=[2], max_evaluations=30)
    mask = vol > 0
    assert_inputs_unchanged(ms.fuse_sequences, [vol, vol + 1], mask)


_IMG = np.add.outer(np.arange(12.0), np.arange(12.0))
BAD_CALLS = [
    (ms.euler_matrix, ([0.1, 0.2],), {}, ValueError, "angles_rad"),
    (ms.rigid_resample, (_IMG, 1.0, np.eye(3), np.zeros(2), np.zeros(2)), {}, ValueError,
     "rotation"),
    (ms.rigid_resample, (_IMG, [1.0, 1.0, 1.0], np.eye(2), np.zeros(2), np.zeros(2)), {},
     ValueError, "spacing_mm"),
    (ms.joint_histogram, (_IMG, _IMG[:5]), {}, ValueError, "a and b"),
    (ms.joint_histogram, (_IMG, _IMG), {"bins": 1}, ValueError, "bins"),
    (ms.joint_histogram, (_IMG, _IMG), {"range_a": (3.0, 1.0)}, ValueError, "range_a"),
    (ms.register_rigid_mi, (_IMG, _IMG[None], 1.0, 1.0), {}, ValueError, "fixed and moving"),
    (ms.register_rigid_mi, (_IMG, np.ones((12, 12)), 1.0, 1.0), {}, ValueError, "moving"),
    (ms.register_rigid_mi, (_IMG, _IMG, 1.0, 0.0), {}, ValueError, "moving_spacing_mm"),
    (ms.register_rigid_mi, (_IMG, _IMG, 1.0, 1.0), {"shrink": (4, 0)}, ValueError, "shrink"),
    (ms.fuse_sequences, ([_IMG, None], _IMG > 3), {}, ValueError, "missing"),
    (ms.fuse_sequences, ([_IMG, _IMG[:6]], _IMG > 3), {}, ValueError, r"images\[1\]"),
    (ms.fuse_sequences, ([], _IMG > 3), {}, ValueError, "images"),
    (ms.inversion_recovery_image, ({"wm": np.ones(3)}, mri.tissue_parameters(3.0), 1000.0,
                                   10.0, 2000.0), {}, ValueError, "ti_ms"),
    (ms.inversion_recovery_image, ({"bone": np.ones(3)}, mri.tissue_parameters(3.0), 1000.0,
                                   10.0, 500.0), {}, ValueError, "tissues"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def _small_pair():
    img = ndimage.gaussian_filter(np.random.default_rng(5).normal(size=(16, 16)), 2.0)
    return img, np.roll(img, 1, axis=0)


BAD_INPUT_CALLS = {
    "prep.multisequence.inversion_recovery_image": Entry(
        lambda: C({"wm": np.full(4, 0.6), "csf": np.full(4, 0.4)}, mri.tissue_parameters(3.0),
                  9000.0, 90.0, 2500.0), skip={"fractions", "tissues"}),   # mappings
    "prep.multisequence.euler_matrix": Entry(lambda: C(np.array([0.1, -0.2, 0.3]))),
    "prep.multisequence.rigid_resample": Entry(
        lambda: C(np.add.outer(np.arange(8.0), np.arange(9.0)), 1.0, np.eye(2), np.ones(2),
                  np.zeros(2))),
    "prep.multisequence.joint_histogram": Entry(
        lambda: C(np.arange(20.0).reshape(4, 5), np.arange(20.0).reshape(4, 5) ** 2, 4)),
    "prep.multisequence.mutual_information": Entry(
        lambda: C(np.arange(20.0).reshape(4, 5), np.arange(20.0).reshape(4, 5) ** 2, 4)),
    "prep.multisequence.register_rigid_mi": Entry(
        lambda: C(*_small_pair(), 1.0, 1.0, shrink=(1,), max_evaluations=20)),
    "prep.multisequence.RigidRegistration": Entry(
        lambda: C(np.zeros(1), np.zeros(2), np.zeros(2), np.eye(2), 0.5, []), mutate=False),
    "prep.multisequence.fuse_sequences": Entry(
        lambda: C([np.arange(1.0, 21.0).reshape(4, 5), np.arange(21.0, 41.0).reshape(4, 5)],
                  np.ones((4, 5), bool))),
}
