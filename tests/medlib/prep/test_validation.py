"""medlib.prep.validation (section 13.4) against scikit-image, NumPy and closed forms."""
from __future__ import annotations

import json

import numpy as np
import pytest
from badinput import C, Entry
from skimage.metrics import structural_similarity

from medlib import ct, processing
from medlib.prep import validation as val


def _pair(shape, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape)
    return a, a + noise * rng.normal(size=shape)


@pytest.mark.formula("pre.validate")
@pytest.mark.parametrize("shape", [(40, 50), (12, 20, 18)])
@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize("win_size", [None, 5])
def test_ssim_equals_scikit_image_in_2d_and_3d(shape, gaussian, win_size):
    a, b = _pair(shape)
    a0, b0 = a.copy(), b.copy()
    kwargs = {} if win_size is None else {"win_size": win_size}
    ref = structural_similarity(a, b, data_range=6.0, gaussian_weights=gaussian, **kwargs)
    ours = val.ssim(a, b, data_range=6.0, gaussian=gaussian, win_size=win_size)
    assert ours == pytest.approx(ref, abs=1e-12)
    _, full = structural_similarity(a, b, data_range=6.0, gaussian_weights=gaussian, full=True,
                                    **kwargs)
    w = win_size or (11 if gaussian else 7)
    pad = (w - 1) // 2
    crop = tuple(slice(pad, n - pad) for n in shape)
    ssim_map = val.ssim_map(a, b, data_range=6.0, gaussian=gaussian, win_size=win_size)
    np.testing.assert_allclose(ssim_map, full[crop], atol=1e-12)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


@pytest.mark.formula("pre.validate")
def test_ssim_closed_forms_identical_images_and_constant_offset():
    a, _ = _pair((30, 30))
    assert val.ssim(a, a, data_range=6.0) == pytest.approx(1.0, abs=1e-12)
    # Constant images c1 and c2: SSIM = (2 c1 c2 + C1) / (c1^2 + c2^2 + C1) (variances vanish).
    c1, c2, r = 0.4, 0.6, 1.0
    k1 = (0.01 * r) ** 2
    expected = (2 * c1 * c2 + k1) / (c1 ** 2 + c2 ** 2 + k1)
    got = val.ssim(np.full((9, 9), c1), np.full((9, 9), c2), data_range=r)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.formula("pre.validate")
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slicewise_ssim_is_scikit_image_2d_on_every_slice(axis):
    a, b = _pair((9, 14, 16), seed=3)
    per = val.slicewise_ssim(a, b, data_range=6.0, axis=axis)
    ref = [structural_similarity(np.take(a, k, axis), np.take(b, k, axis), data_range=6.0)
           for k in range(a.shape[axis])]
    np.testing.assert_allclose(per, ref, atol=1e-12)


def test_masked_ssim_is_the_mean_of_the_map_inside_the_mask():
    a, b = _pair((20, 20), seed=1)
    mask = np.zeros((20, 20), bool)
    mask[5:12, 4:15] = True
    _, full = structural_similarity(a, b, data_range=6.0, full=True)
    assert val.ssim(a, b, data_range=6.0, mask=mask) == pytest.approx(full[mask].mean(),
                                                                       abs=1e-12)


def test_roi_correlation_equals_numpy_and_ignores_linear_maps():
    a, b = _pair((15, 16), seed=2)
    mask = a > 0
    ref = np.corrcoef(a[mask], b[mask])[0, 1]
    assert val.roi_correlation(a, b, mask=mask) == pytest.approx(ref, abs=1e-12)
    assert val.roi_correlation(a, 3 * a - 7, mask=mask) == pytest.approx(1.0, abs=1e-12)
    assert val.roi_correlation(a, -a) == pytest.approx(-1.0, abs=1e-12)
    with pytest.raises(ValueError, match="image2"):
        val.roi_correlation(a, np.ones_like(a))


def test_intensity_stats_equal_numpy():
    a, _ = _pair((10, 11))
    mask = a > 0.3
    s = val.intensity_stats(a, mask=mask)
    v = a[mask]
    assert s["n"] == v.size and s["mean"] == pytest.approx(v.mean())
    assert s["std"] == pytest.approx(v.std()) and s["max"] == v.max() and s["min"] == v.min()
    assert s["p99"] == pytest.approx(np.percentile(v, 99))
    json.dumps(s)


@pytest.mark.formula("pre.validate")
def test_report_passes_a_linear_step_and_flags_broken_ones():
    rng = np.random.default_rng(5)
    z, y, x = np.mgrid[0:10, 0:32, 0:32]
    vol = 100 * np.sin(x / 4.0) * np.cos(y / 5.0) + 20 * z + rng.normal(0, 5, (10, 32, 32))
    good = processing.zscore_normalize(vol, 12.0, 70.0)
    rep = val.validation_report(vol, good, data_range=8.0)
    assert rep["passed"] and rep["problems"] == []
    assert rep["correlation"] == pytest.approx(1.0, abs=1e-12)
    assert rep["ssim"] == pytest.approx(1.0, abs=1e-9)
    assert rep["gain"] == pytest.approx(1 / 70.0) and rep["offset"] == pytest.approx(-12 / 70.0)
    json.dumps(rep)
    # The report's SSIMs are those of the matched input: 3D inside the mask, 2D per slice.
    mask = vol > 0
    rep_m = val.validation_report(vol, np.sqrt(np.abs(vol)), data_range=12.0, mask=mask)
    matched = rep_m["gain"] * vol + rep_m["offset"]
    assert rep_m["ssim"] == pytest.approx(
        val.ssim(matched, np.sqrt(np.abs(vol)), data_range=12.0, mask=mask), abs=1e-12)
    np.testing.assert_allclose(rep_m["slice_ssim"], val.slicewise_ssim(
        matched, np.sqrt(np.abs(vol)), data_range=12.0), atol=1e-12)
    swapped = val.validation_report(vol, good.transpose(0, 2, 1), data_range=8.0)
    assert not swapped["passed"] and swapped["ssim"] < 0.9
    lost = good.copy()
    lost[4] = 0.0
    rep_lost = val.validation_report(vol, lost, data_range=8.0)
    assert not rep_lost["passed"] and rep_lost["worst_slice"] == 4
    with_nan = good.copy()
    with_nan[0, 0, 0] = np.nan
    rep_nan = val.validation_report(vol, with_nan, data_range=8.0)
    assert not rep_nan["passed"] and rep_nan["non_finite"] == 1
    with pytest.raises(ValueError, match="after"):
        val.validation_report(vol, good[:5], data_range=8.0)


def test_digest_changes_with_one_value_and_dtype():
    a = np.arange(12.0).reshape(3, 4)
    assert val.Pipeline.digest(a) == val.Pipeline.digest(a.copy())
    assert val.Pipeline.digest(a[:, ::1]) == val.Pipeline.digest(np.ascontiguousarray(a))
    b = a.copy()
    b[1, 1] += 1e-12
    assert val.Pipeline.digest(a) != val.Pipeline.digest(b)
    assert val.Pipeline.digest(a) != val.Pipeline.digest(a.astype(np.float32))


def _volume(seed=0, shape=(6, 20, 20), offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(100.0 + offset, 30.0, shape)


def test_pipeline_fits_on_training_only_and_matches_part_one_functions():
    train = [_volume(0), _volume(1, offset=20.0)]
    test = _volume(2, offset=-50.0)
    test0 = test.copy()
    pipe = val.Pipeline([val.ClipStep(0.0, 200.0), val.ZScoreStep(foreground_above=10.0)])
    with pytest.raises(RuntimeError, match="fit"):
        pipe.apply(test)
    pipe.fit(train)
    pooled = np.concatenate([np.clip(t, 0, 200).ravel() for t in train])
    pooled = pooled[pooled > 10.0]
    assert pipe.steps[1].fitted["mean"] == pytest.approx(pooled.mean(), rel=1e-12)
    assert pipe.steps[1].fitted["std"] == pytest.approx(pooled.std(), rel=1e-12)
    out, aff, rec = pipe.apply(test)
    expected = (np.clip(test, 0, 200) - pooled.mean()) / pooled.std()
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert np.array_equal(test, test0)
    assert np.array_equal(aff, np.eye(4))
    assert [s["kind"] for s in rec["steps"]] == ["clip", "zscore"]
    assert rec["steps"][0]["stats_before"]["min"] == pytest.approx(test.min())
    assert rec["steps"][1]["stats_after"]["mean"] == pytest.approx(expected.mean())


def test_pipeline_record_replays_to_the_identical_output():
    affine = np.diag([3.0, 1.5, 1.5, 1.0])
    train = [_volume(0, (6, 20, 20))]
    test = _volume(4, (6, 20, 20))
    pipe = val.Pipeline([val.ResampleStep([2.0, 2.0, 2.0]), val.WindowStep(100.0, 200.0),
                         val.MinMaxStep((1.0, 99.0))])
    out, aff, rec = pipe.fit(train, [affine]).apply(test, affine)
    text = json.dumps(rec)
    replay = val.Pipeline.from_record(text)
    out2, aff2, rec2 = replay.apply(test, affine)
    assert np.array_equal(out, out2) and np.array_equal(aff, aff2)
    assert rec2["output_sha256"] == rec["output_sha256"] == val.Pipeline.digest(out)
    resampled, ref_aff = processing.resample_to_spacing(test, affine, [2.0, 2.0, 2.0])
    windowed = ct.window(resampled, 100.0, 200.0)
    assert np.allclose(aff, ref_aff)
    assert rec["steps"][0]["spacing_after"] == pytest.approx([2.0, 2.0, 2.0])
    lo, hi = rec["steps"][2]["fitted"]["x_min"], rec["steps"][2]["fitted"]["x_max"]
    train_w = ct.window(processing.resample_to_spacing(train[0], affine, 2.0)[0], 100.0, 200.0)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(train_w, [1.0, 99.0])))
    np.testing.assert_allclose(out, np.clip((windowed - lo) / (hi - lo), 0, 1), atol=1e-12)


def test_pipeline_rejects_bad_steps_and_records():
    with pytest.raises(TypeError, match="steps"):
        val.Pipeline([np.clip])
    with pytest.raises(ValueError, match="steps"):
        val.Pipeline([])
    with pytest.raises(ValueError, match="kind"):
        val.Pipeline.from_record({"steps": [{"kind": "blur", "params": {}}]})
    with pytest.raises(ValueError, match="high"):
        val.ClipStep(5.0, 1.0)


def _entry_pair():
    a, b = _pair((9, 9), seed=7)
    return a, b


BAD_INPUT_CALLS = {
    "prep.validation.intensity_stats": Entry(lambda: C(_pair((6, 7))[0],
                                                       mask=np.arange(42).reshape(6, 7) > 9)),
    "prep.validation.ssim": Entry(lambda: C(*_entry_pair(), data_range=6.0)),
    "prep.validation.ssim_map": Entry(lambda: C(*_entry_pair(), data_range=6.0)),
    "prep.validation.slicewise_ssim": Entry(lambda: C(*_pair((3, 8, 8)), data_range=6.0)),
    "prep.validation.roi_correlation": Entry(lambda: C(*_entry_pair())),
    "prep.validation.validation_report": Entry(
        lambda: C(*_pair((3, 6, 6)), data_range=6.0, min_correlation=0.5, win_size=3),
        valid={"after": {"nan", "inf", "-inf"}}),
    "prep.validation.ClipStep": Entry(lambda: C(-100.0, 200.0)),
    "prep.validation.WindowStep": Entry(lambda: C(40.0, 400.0)),
    "prep.validation.ZScoreStep": Entry(lambda: C(foreground_above=-500.0)),
    "prep.validation.MinMaxStep": Entry(lambda: C((1.0, 99.0))),
    "prep.validation.ResampleStep": Entry(lambda: C(2.0, order=1)),
    "prep.validation.Pipeline": Entry(lambda: C([val.ClipStep(0.0, 1.0)])),
}


def test_pipeline_clip_and_foreground_zscore_equal_torchio_on_the_training_image():
    tio = pytest.importorskip("torchio")
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    image = rng.normal(-300.0, 600.0, (6, 16, 18))
    pipe = val.Pipeline([val.ClipStep(-1000.0, 400.0), val.ZScoreStep(foreground_above=-500.0)])
    ours, _, _ = pipe.fit([image]).apply(image)
    # TorchIO: the same steps as transforms on a subject; ZNormalization uses the unbiased
    # standard deviation (n - 1) of the masked voxels, in float32.
    subject = tio.Subject(ct=tio.ScalarImage(tensor=torch.from_numpy(image[None].copy())))
    transform = tio.Compose([tio.Clamp(out_min=-1000.0, out_max=400.0),
                             tio.ZNormalization(masking_method=lambda x: x > -500.0)])
    ref = transform(subject)["ct"].data[0].numpy().astype(np.float64)
    n = int((np.clip(image, -1000.0, 400.0) > -500.0).sum())
    np.testing.assert_allclose(ours * np.sqrt((n - 1) / n), ref, rtol=1e-5, atol=1e-5)


def test_pipeline_validation_passes_correct_steps_and_flags_a_buggy_one():
    z, y, x = np.mgrid[0:8, 0:24, 0:24]
    vol = 300 * np.sin(x / 3.0) * np.cos(y / 4.0) + 10 * z - 100
    pipe = val.Pipeline([val.ClipStep(-250.0, 250.0), val.ZScoreStep()]).fit([vol])
    _, _, rec = pipe.apply(vol, validate=True)
    assert rec["passed"]
    clip_check = rec["steps"][0]["validation"]
    # the clip is validated where it does not clip: a linear map there, correlation 1
    assert clip_check["correlation"] == pytest.approx(1.0, abs=1e-12) and clip_check["passed"]
    expected = val.validation_report(vol, np.clip(vol, -250, 250), data_range=500.0,
                                     mask=(vol > -250) & (vol < 250))
    assert clip_check["ssim"] == pytest.approx(expected["ssim"], abs=1e-12)

    class OverflowWindow(val.WindowStep):          # an 8-bit overflow hidden in a window step
        def transform(self, image, affine):
            return (np.asarray(image) + 1024).astype(np.uint16).astype(np.uint8) / 255.0, affine

    bad = val.Pipeline([OverflowWindow(0.0, 2000.0)])
    _, _, rec_bad = bad.apply(vol, validate=True)
    assert not rec_bad["passed"] and rec_bad["steps"][0]["validation"]["problems"]
    resampled = val.Pipeline([val.ResampleStep(2.0)]).apply(vol, validate=True)[2]
    assert "skipped" in resampled["steps"][0]["validation"] and resampled["passed"]
