"""medlib.segmentation.datasets: real slices with real labels, read independently with nibabel;
splits that cannot leak; the lung mask on a phantom with a known answer."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from badinput import C, Entry
from scipy import ndimage

from medlib import data
from medlib import segmentation as seg

BAD_INPUT_CALLS = {
    "segmentation.datasets.SliceSet": Entry(
        lambda: C(np.zeros((2, 1, 4, 4), np.float32), np.zeros((2, 4, 4), np.int64),
                  np.array(["a", "b"]), np.zeros(2), ("bg", "fg"), (1.0, 1.0)), mutate=False),
    "segmentation.datasets.brain_tissue_slices": Entry(
        lambda: C("mni152", z_range_mm=(10.0, 14.0), step_mm=4.0, size=32)),
    "segmentation.datasets.lung_slices": Entry(lambda: C("lung2", size=32)),
    "segmentation.datasets.tumour_slices": Entry(lambda: C("brain_mr2", size=32)),
    "segmentation.datasets.patient_split": Entry(
        lambda: C(np.array(["a", "a", "b", "c"]), ["b"])),
    "segmentation.datasets.region_split": Entry(
        lambda: C(np.arange(0.0, 100.0, 10.0), (40.0, 50.0), gap_mm=20.0)),
    "segmentation.datasets.simulate_annotators": Entry(
        lambda: C(_disc(), 3, 1, bias_px=1.0, wobble_px=1.0, smooth_px=2.0)),
    "segmentation.datasets.pairwise_dice": Entry(lambda: C(np.stack([_disc(), _disc(1)]))),
    "segmentation.datasets.staple": Entry(lambda: C(np.stack([_disc(), _disc(1), _disc(2)]))),
    "segmentation.datasets.StapleResult": Entry(
        lambda: C(np.zeros(2), np.ones(2), np.ones(2), 0.5, 1), mutate=False),
    "segmentation.datasets.predict_labels": Entry(
        lambda: C(seg.UNet(1, 2, depth=1, base_channels=2), np.zeros((1, 1, 8, 8), np.float32)),
        skip={"model"}),
    "segmentation.datasets.class_dice": Entry(
        lambda: C(np.array([[0, 1], [2, 1]]), np.array([[0, 1], [1, 1]]), 3, per_image=True)),
    "segmentation.datasets.concat": Entry(
        lambda: C(seg.SliceSet(np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 2, 2), np.int64),
                               np.array(["a"]), np.zeros(1), ("bg", "fg"), (1.0, 1.0))),
        mutate=False),
}


def _disc(shift=0):
    y, x = np.mgrid[0:12, 0:12]
    return ((y - 6) ** 2 + (x - 5 - shift) ** 2 <= 9).astype(np.uint8)


def _world_slice(name, z_mm, x_mm, y_mm):
    """Voxel values at integer world coordinates, read straight from the file (x, y, z)."""
    img = nib.load(data.path(name))
    vol = np.asarray(img.dataobj)
    a = img.affine
    i = np.round(x_mm - a[0, 3]).astype(int)
    j = np.round(y_mm - a[1, 3]).astype(int)
    k = int(round(z_mm - a[2, 3]))
    ok = (i[None, :] >= 0) & (i[None, :] < vol.shape[0]) & (j[:, None] >= 0) & (
        j[:, None] < vol.shape[1])
    out = vol[np.clip(i, 0, vol.shape[0] - 1)[None, :], np.clip(j, 0, vol.shape[1] - 1)[:, None],
              k].astype(float)                            # rows y, columns x
    return np.where(ok, out, 0.0)


def test_brain_slices_at_1mm_are_the_file_voxels_and_labels_their_argmax():
    s = seg.brain_tissue_slices("colin27", z_range_mm=(20, 20), size=192, normalize="none")
    x = np.arange(-96, 96)
    y = np.arange(79, -113, -1)                           # anterior first
    colin = _world_slice("nifti/colin27_t1_brain_1mm.nii.gz", 20, x, y)
    gm = _world_slice("nifti/mni152_gm_1mm.nii.gz", 20, x, y) / 255
    wm = _world_slice("nifti/mni152_wm_1mm.nii.gz", 20, x, y) / 255
    img, lab = s.images[0, 0], s.labels[0]
    brain = lab > 0
    np.testing.assert_allclose(img[brain], colin[brain], atol=1e-4)
    assert np.all(colin[brain] > 0)
    expected = np.argmax(np.stack([1 - gm - wm, gm, wm]), axis=0)
    inside = img > 0
    assert np.mean(lab[inside] == expected[inside]) > 0.97
    assert s.spacing_mm == (1.0, 1.0) and s.classes == seg.datasets.BRAIN_CLASSES


def test_brain_slices_shapes_dtypes_and_classes():
    s = seg.brain_tissue_slices(z_range_mm=(0, 40), step_mm=8, size=64,
                                sequences=("t1", (500.0, 15.0), (4000.0, 100.0)))
    assert s.images.shape == (6, 3, 64, 64) and s.images.dtype == np.float32
    assert s.labels.shape == (6, 64, 64) and s.labels.dtype == np.int64
    np.testing.assert_array_equal(s.z_mm, [0, 8, 16, 24, 32, 40])
    assert set(np.unique(s.labels)) == {0, 1, 2}
    assert np.all(s.groups == "mni152") and s.spacing_mm == (3.0, 3.0)
    # z-scored over the brain pixels of each image
    brain = s.images[:, 0] != 0
    for c in range(3):
        vals = s.images[0, c][brain[0]]
        assert abs(vals.mean()) < 1e-4 and abs(vals.std() - 1) < 1e-3
    # T1 order (WM > GM) in the real T1 and the synthetic T1w spin echo, reversed in the T2w
    wm, gm = s.labels == 2, s.labels == 1
    for c, sign in ((0, 1), (1, 1), (2, -1)):
        ch = s.images[:, c]
        assert sign * (ch[wm].mean() - ch[gm].mean()) > 0.3


def test_brain_slices_refuse_synthetic_contrast_for_colin27():
    with pytest.raises(ValueError, match="sequences"):
        seg.brain_tissue_slices("colin27", sequences=((500.0, 15.0),))


def test_tumour_volumes_match_the_manifest():
    for case, volume_ml in (("lung2", 49.5), ("lung1", 1.44), ("brain_mr1", 16.4),
                            ("brain_mr2", 1.8)):
        s = seg.tumour_slices(case, size=256)
        name = {"lung2": "nifti/chest_ct_lung2_256_tumour.nii.gz",
                "lung1": "nifti/chest_ct_lung1_256_nodule.nii.gz",
                "brain_mr1": "nifti/brain_mr1_tumour.nii.gz",
                "brain_mr2": "nifti/brain_mr2_tumour.nii.gz"}[case]
        zooms = nib.load(data.path(name)).header.get_zooms()
        ml = s.labels.sum() * float(np.prod(zooms)) / 1000
        assert ml == pytest.approx(volume_ml, abs=0.06)
        assert s.images.dtype == np.float32 and s.labels.dtype == np.int64
        assert np.all(s.labels.any(axis=(1, 2)))          # every slice holds tumour


def test_lung_slices_are_the_windowed_file_in_radiological_orientation():
    s = seg.lung_slices("lung2", size=256, window_hu=(-1000.0, 400.0))
    img = nib.load(data.path("nifti/chest_ct_lung2_256.nii.gz"))
    vol = np.asarray(img.dataobj).astype(float)           # (x, y, z), affine x, y negative
    assert img.affine[0, 0] < 0 and img.affine[1, 1] < 0
    k = int(round((s.z_mm[10] - img.affine[2, 3]) / img.affine[2, 2]))
    sl = vol[:, :, k].T                                   # rows y index (anterior first)
    sl = sl[:, ::-1]                                      # columns: patient's right first
    expected = (np.clip(sl, -1000, 400) + 1000) / 1400
    np.testing.assert_allclose(s.images[10, 0], expected, atol=1e-6)
    assert s.spacing_mm == pytest.approx((1.254, 1.254), abs=1e-3)


def test_lung_labels_cover_dark_lung_and_both_patients_exist():
    for pid in ("lung2", "lung1"):
        s = seg.lung_slices(pid, size=64)
        assert len(s) > 20 and s.images.shape[1:] == (1, 64, 64)
        lung = s.labels == 1
        assert 0.05 < lung.mean() < 0.4
        assert s.images[:, 0][lung].mean() < 0.3 < s.images[:, 0][~lung & (s.images[:, 0] > 0.5)
                                                                   ].mean()


def test_builders_are_deterministic_and_their_slices_are_not_neighbours_of_each_other():
    a = seg.lung_slices("lung1", size=32)
    b = seg.lung_slices("lung1", size=32)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_patient_split_never_puts_a_subject_on_both_sides():
    rng = np.random.default_rng(0)
    for _ in range(50):
        groups = rng.choice(["p1", "p2", "p3", "p4", "p5"], size=40)
        present = sorted(set(groups.tolist()))
        if len(present) < 2:
            continue
        test = list(rng.choice(present, size=rng.integers(1, len(present)), replace=False))
        tr, te = seg.patient_split(groups, test)
        assert set(groups[tr].tolist()).isdisjoint(groups[te].tolist())
        assert set(groups[te].tolist()) == set(test)
        np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(40))


def test_patient_split_refuses_unknown_or_all_subjects():
    with pytest.raises(ValueError, match="test_groups"):
        seg.patient_split(np.array(["a", "b"]), ["c"])
    with pytest.raises(ValueError, match="test_groups"):
        seg.patient_split(np.array(["a", "b"]), ["a", "b"])


def test_region_split_keeps_the_gap():
    z = np.arange(-20.0, 61.0, 4.0)
    tr, te = seg.region_split(z, (40.0, 60.0), gap_mm=12.0)
    assert np.min(np.abs(z[tr][:, None] - z[te][None, :])) >= 12.0
    assert set(tr).isdisjoint(te) and np.all((z[te] >= 40) & (z[te] <= 60))
    with pytest.raises(ValueError, match="gap_mm"):
        seg.region_split(z, (-20.0, 60.0), gap_mm=1.0)


def test_subset_and_concat_keep_the_record_together():
    s = seg.brain_tissue_slices("colin27", z_range_mm=(0, 40), size=32)
    t = seg.brain_tissue_slices("mni152", z_range_mm=(-20, 60), size=32)
    both = seg.concat(s, t)
    tr, te = seg.patient_split(both.groups, "colin27")
    held = both.subset(te)
    np.testing.assert_array_equal(held.images, s.images)
    np.testing.assert_array_equal(held.z_mm, s.z_mm)
    assert len(both.subset(tr)) == len(t)
    with pytest.raises(ValueError, match="index"):
        both.subset([len(both)])
    with pytest.raises(ValueError, match="spacing_mm"):               # 1.25 vs 1.14 mm pixels
        seg.concat(seg.lung_slices("lung1", size=32), seg.lung_slices("lung2", size=32))


def test_labels_downsample_by_block_majority():
    s256 = seg.lung_slices("lung2", size=256, min_lung_fraction=0.0)
    s64 = seg.lung_slices("lung2", size=64, min_lung_fraction=0.0)
    blocks = s256.labels.reshape(len(s256), 64, 4, 64, 4).mean(axis=(2, 4)) >= 0.5
    keep = np.isin(s256.z_mm, s64.z_mm)
    np.testing.assert_array_equal(s64.labels, blocks[keep].astype(np.int64))
    assert ndimage.label(s64.labels[len(s64) // 2])[1] >= 1


# ---------------------------------------------------------------------------------------------
# Annotators, inter-rater Dice, STAPLE (against SimpleITK)
# ---------------------------------------------------------------------------------------------
def _raters():
    lab = seg.tumour_slices("brain_mr1", size=128).labels[3].astype(bool)
    return lab, seg.simulate_annotators(lab, 4, np.random.default_rng(5), bias_px=2.0,
                                        wobble_px=1.0)


def test_staple_equals_simpleitk():
    sitk = pytest.importorskip("SimpleITK")
    _, raters = _raters()
    filt = sitk.STAPLEImageFilter()
    filt.SetForegroundValue(1)
    theirs = sitk.GetArrayFromImage(filt.Execute([sitk.GetImageFromArray(r) for r in raters]))
    ours = seg.staple(raters)
    np.testing.assert_allclose(ours.probability, theirs, atol=1e-4)
    np.testing.assert_allclose(ours.sensitivity, filt.GetSensitivity(), atol=1e-4)
    np.testing.assert_allclose(ours.specificity, filt.GetSpecificity(), atol=1e-4)


def test_staple_closed_form_for_one_perfect_and_one_empty_rater_pair():
    # two identical raters: p = q = 1 is a fixed point, W = their mask
    m = np.zeros((2, 10, 10), np.uint8)
    m[:, 2:6, 3:8] = 1
    res = seg.staple(m)
    np.testing.assert_allclose(res.probability, m[0], atol=1e-9)
    np.testing.assert_allclose(res.sensitivity, 1.0, atol=1e-9)
    assert res.prior == pytest.approx(20 / 100)


def test_annotators_move_the_boundary_smoothly_and_reproducibly():
    lab, raters = _raters()
    again = seg.simulate_annotators(lab, 4, np.random.default_rng(5), bias_px=2.0, wobble_px=1.0)
    np.testing.assert_array_equal(raters, again)
    assert raters.shape == (4,) + lab.shape and raters.dtype == np.uint8
    # every disagreement lies within a few pixels of the reference boundary
    edge = ndimage.distance_transform_edt(~lab) + ndimage.distance_transform_edt(lab)
    changed = raters.astype(bool) != lab[None]
    assert changed.any() and edge[np.any(changed, axis=0)].max() <= 2.0 + 5 * 1.0 + 1
    # zero bias and wobble give the reference back
    same = seg.simulate_annotators(lab, 2, 0, bias_px=0.0, wobble_px=0.0)
    np.testing.assert_array_equal(same, np.stack([lab, lab]).astype(np.uint8))


def test_pairwise_dice_against_scipy():
    from scipy.spatial.distance import dice as scipy_dice
    _, raters = _raters()
    d = seg.pairwise_dice(raters)
    for i in range(4):
        for j in range(4):
            a, b = raters[i].ravel().astype(bool), raters[j].ravel().astype(bool)
            expected = 1 - scipy_dice(a, b)
            assert d[i, j] == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Predictions and scores of a multi-class network
# ---------------------------------------------------------------------------------------------
def test_predict_labels_is_the_argmax_of_the_logits_and_refuses_a_misfit():
    torch = pytest.importorskip("torch")
    s = seg.brain_tissue_slices(z_range_mm=(10, 30), step_mm=10, size=32)
    net = seg.UNet(1, 3, depth=2, base_channels=4, seed=7)
    pred = seg.predict_labels(net, s.images)
    with torch.no_grad():
        logits = net.eval()(torch.as_tensor(s.images)).numpy()
    assert pred.shape == s.labels.shape and pred.dtype == np.int64
    np.testing.assert_array_equal(pred, np.argmax(logits, axis=1))
    with pytest.raises(ValueError, match="images"):
        seg.predict_labels(net, s.images[:, :, :30, :30])      # not divisible by 2**depth
    with pytest.raises(TypeError, match="model"):
        seg.predict_labels(lambda x: x, s.images)


def test_class_dice_against_the_course_dice():
    from medlib.dl.metrics import dice
    rng = np.random.default_rng(0)
    p, t = rng.integers(0, 3, (4, 8, 8)), rng.integers(0, 3, (4, 8, 8))
    ours = seg.class_dice(p, t, 3)
    for k in range(3):
        assert ours[k] == pytest.approx(dice(p == k, t == k))
    with pytest.raises(ValueError, match="target"):
        seg.class_dice(p, t + 3, 3)


def test_class_dice_per_image_equals_monai_compute_dice():
    torch = pytest.importorskip("torch")
    monai_metrics = pytest.importorskip("monai.metrics")
    rng = np.random.default_rng(1)
    p, t = rng.integers(0, 3, (5, 8, 8)), rng.integers(0, 3, (5, 8, 8))
    p[0], t[0] = 0, 0                                  # classes 1 and 2 empty on both sides
    t[1][t[1] == 2] = 1                                # class 2 predicted but absent
    ours = seg.class_dice(p, t, 3, per_image=True)
    onehot = lambda a: torch.nn.functional.one_hot(torch.as_tensor(a), 3).movedim(-1, 1)  # noqa
    ref = monai_metrics.compute_dice(onehot(p), onehot(t), include_background=True,
                                     ignore_empty=False).numpy()
    assert ours.shape == (5, 3)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert ours[0, 1] == 1.0 and ours[1, 2] == 0.0
    # the pooled Dice is not the mean of the per-image ones (ratios of sums)
    pooled = seg.class_dice(p, t, 3)
    assert not np.allclose(pooled, ours.mean(axis=0))
    with pytest.raises(ValueError, match="per_image"):
        seg.class_dice(p[0, 0, 0], t[0, 0, 0], 3, per_image=True)
