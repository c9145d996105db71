"""medlib.prep.mri_normalization against intensity-normalization, TorchIO and closed forms."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test

from medlib import processing
from medlib.prep import mri_normalization as mn


def _brain(rng, n=40_000, *, wm=110.0, gm=80.0, csf=30.0):
    """A skull-stripped 'T1' volume: CSF, GM and WM Gaussians (WM the largest, brightest
    class) inside a brain, zeros outside."""
    k = rng.choice(3, size=n, p=[0.15, 0.4, 0.45])
    values = np.array([csf, gm, wm])[k] + rng.normal(0, 1, n) * np.array([6.0, 7.0, 4.0])[k]
    vol = np.zeros(2 * n)
    vol[:n] = np.clip(values, 1.0, None)
    return rng.permutation(vol).reshape(20, 10, -1)


class _Image:
    """The image protocol intensity-normalization 3.0.1 reads (get_data / with_data)."""

    def __init__(self, data):
        self.data = data

    def get_data(self):
        return self.data

    def with_data(self, data):
        return _Image(data)


def _package_white_stripe(vol, mask, modality="t1"):
    from intensity_normalization.domain.models import Modality
    from intensity_normalization.normalizers.individual.whitestripe import (
        WhiteStripeNormalizer,
    )
    mod = Modality.T1 if modality == "t1" else Modality.T2
    return WhiteStripeNormalizer(modality=mod).fit(_Image(vol), _Image(mask))


@pytest.mark.formula("pre.white-stripe")
@pytest.mark.parametrize("contrast", ["t1", "t2"])
def test_kde_white_stripe_matches_intensity_normalization(rng, contrast):
    vol = _brain(rng)
    mask = vol > 0
    ours = mn.white_stripe(vol, mask, contrast=contrast, method="kde")
    ref = _package_white_stripe(vol, mask, contrast)
    np.testing.assert_allclose(ours.mean, ref.mean, rtol=1e-3)
    np.testing.assert_allclose(ours.std, ref.std, rtol=2e-3)      # ddof 1 (R) versus 0
    np.testing.assert_array_equal(ours.mask, ref.whitestripe_mask & mask)
    normalized = mn.white_stripe_normalize(vol, mask, contrast=contrast, method="kde")
    ref_img = ref.transform(_Image(vol)).get_data()
    np.testing.assert_allclose(normalized, ref_img, rtol=0, atol=2e-3 * np.abs(ref_img).max())


@pytest.mark.formula("pre.white-stripe")
def test_spline_white_stripe_finds_the_white_matter_peak_and_a_stripe_of_two_tau(rng):
    vol = _brain(rng)
    mask = vol > 0
    tau = 0.05
    ws = mn.white_stripe(vol, mask, width=tau)
    assert abs(ws.mode - 110.0) < 1.5                 # the WM Gaussian's centre
    brain = vol[mask]
    assert ws.quantile == pytest.approx(np.mean(brain < ws.mode))
    assert ws.low == pytest.approx(np.quantile(brain, ws.quantile - tau))
    assert ws.high == pytest.approx(np.quantile(brain, ws.quantile + tau))
    assert ws.mask.sum() / mask.sum() == pytest.approx(2 * tau, abs=2e-3)
    inside = vol[(vol > ws.low) & (vol < ws.high)]
    assert ws.mean == pytest.approx(inside.mean()) and ws.std == pytest.approx(inside.std(ddof=1))
    out = mn.white_stripe_normalize(vol, mask)
    np.testing.assert_allclose(out, (vol - ws.mean) / ws.std, atol=1e-12)
    assert abs(out[ws.mask].mean()) < 1e-9 and out[ws.mask].std(ddof=1) == pytest.approx(1.0)


@pytest.mark.formula("pre.white-stripe")
def test_t2_takes_the_largest_peak_and_t1_the_last(rng):
    n = 30_000
    # T2-like: CSF brightest and rare, WM the largest class.
    values = np.concatenate([rng.normal(60, 4, n // 2), rng.normal(90, 6, n // 3),
                             rng.normal(200, 10, n // 6)])
    vol = rng.permutation(values)
    assert abs(mn.white_stripe(vol, contrast="t2").mode - 60) < 2
    assert abs(mn.white_stripe(vol, contrast="t2", method="kde").mode - 60) < 5
    # As T1, the same histogram's last peak is the bright, rare class, unless it is rarer
    # than 1/5 of the largest bin (the R package's rare.prop).
    assert mn.white_stripe(vol, contrast="t1").mode > 80


@pytest.mark.formula("pre.white-stripe")
@pytest.mark.parametrize("method", ["spline", "kde"])
def test_white_stripe_undoes_a_scanner_gain_and_offset(rng, method):
    vol = _brain(rng)
    mask = vol > 0
    scanned = 3.7 * vol + 250.0                       # another scanner: gain and offset
    a = mn.white_stripe_normalize(vol, mask, method=method)
    b = mn.white_stripe_normalize(scanned, mask, method=method)
    np.testing.assert_allclose(a[mask], b[mask], atol=1e-6)


def test_smoothed_histogram_counts_every_value_and_smooths_them(rng):
    v = rng.normal(100, 10, 20_000)
    x, y, smooth = mn.smoothed_histogram(v, bins=200)
    assert y.sum() == v.size and x.size == 200
    counts, edges = np.histogram(v, 200)
    np.testing.assert_array_equal(y, counts)
    fit = smooth(x)
    assert np.sqrt(np.mean((fit - y) ** 2)) < np.sqrt(np.mean((y - y.mean()) ** 2)) / 3
    assert abs(x[np.argmax(fit)] - 100) < 3
    xi, yi, _ = mn.smoothed_histogram(np.repeat(np.arange(50, 60), 3))   # integer data
    np.testing.assert_array_equal(xi, np.arange(50, 60))
    np.testing.assert_array_equal(yi, 3)
    # Integer data with more levels than bins: bins of whole levels, no saw-tooth (R's hist
    # rounds its breaks the same way); 2000 bins over 3000 levels would alternate 1 and 2.
    xw, yw, _ = mn.smoothed_histogram(np.repeat(np.arange(3000), 5), bins=2000)
    np.testing.assert_array_equal(yw, 10)
    np.testing.assert_array_equal(xw, np.arange(0.5, 3000, 2))
    _, yr, _ = mn.smoothed_histogram(v, bins=200, rare_fraction=0.2)
    assert yr.min() >= 0.2 * counts.max()


def _write(tmp_path, name, array):
    path = tmp_path / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(array.astype(np.float32), np.eye(4)), path)
    return path


def test_nyul_matches_torchio_histogram_standardization(rng, tmp_path):
    tio = pytest.importorskip("torchio")
    import torch
    shapes = [(12, 14, 10), (10, 16, 12), (14, 10, 11)]
    train = [np.abs(rng.gamma(3.0, 40.0 * (i + 1), s)) + 5 * i for i, s in enumerate(shapes)]
    masks = [t > np.median(t) * 0.3 for t in train]
    ours = mn.fit_nyul(train, masks)
    paths = [_write(tmp_path, f"im{i}", t) for i, t in enumerate(train)]
    mpaths = [_write(tmp_path, f"m{i}", m) for i, m in enumerate(masks)]
    ref = tio.HistogramStandardization.train(paths, mask_path=mpaths, progress=False)
    used = [0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12]      # TorchIO also stores the quartiles
    np.testing.assert_allclose(ours, ref[used], rtol=1e-5)

    test = np.abs(rng.gamma(2.5, 70.0, (13, 12, 9))) + 3
    test_mask = test > 20
    out = mn.apply_nyul(test, ours, test_mask)
    subject = tio.Subject(mri=tio.ScalarImage(tensor=torch.as_tensor(test[None])),
                          brain=tio.LabelMap(tensor=torch.as_tensor(test_mask[None])))
    transformed = tio.HistogramStandardization({"mri": ref}, masking_method="brain")(subject)
    np.testing.assert_allclose(out, transformed["mri"].data[0].numpy(), rtol=1e-4, atol=1e-3)


def test_nyul_maps_each_landmark_onto_the_standard_scale(rng):
    train = [rng.lognormal(4 + i, 0.5, 5000) for i in range(3)]
    landmarks = mn.fit_nyul(train, [np.ones(5000, bool)] * 3)
    assert landmarks[0] == pytest.approx(0.0) and landmarks[-1] == pytest.approx(100.0)
    new = 17.0 * rng.lognormal(4.5, 0.5, 8000) + 40.0
    out = mn.apply_nyul(new, landmarks, np.ones(8000, bool))
    p = np.percentile(out, [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99])
    np.testing.assert_allclose(p, landmarks, atol=1e-3)   # interpolation across a kink
    assert np.all(np.diff(out[np.argsort(new)]) >= -1e-9)    # monotone: the order is kept


def test_foreground_zscore_uses_only_the_foreground(rng):
    img = np.zeros((30, 30))
    img[5:25, 5:25] = rng.normal(500, 80, (20, 20))
    mask = img > 0
    out = mn.zscore_foreground(img, mask)
    assert abs(out[mask].mean()) < 1e-12 and out[mask].std() == pytest.approx(1.0)
    mu, sd = processing.fit_zscore(img[mask])
    np.testing.assert_allclose(out, processing.zscore_normalize(img, mu, sd), atol=1e-12)
    whole = processing.zscore_normalize(img, *processing.fit_zscore(img))
    assert out[mask].std() > 1.5 * whole[mask].std()          # air shrinks the whole-image sd


def test_ct_normalization_is_nnunets_clip_then_zscore(rng):
    ims = [rng.normal(40, 30, (10, 12, 12)) for _ in range(2)]
    ims[1][0, 0, :5] = 3000.0                                  # metal
    masks = [np.abs(im) < 1e4 for im in ims]
    masks[0][:2] = False
    p = mn.fit_ct_normalization(ims, masks)
    pooled = np.concatenate([im[m] for im, m in zip(ims, masks)])
    assert p["low"] == pytest.approx(np.percentile(pooled, 0.5))
    assert p["high"] == pytest.approx(np.percentile(pooled, 99.5))
    assert p["mean"] == pytest.approx(pooled.mean()) and p["std"] == pytest.approx(pooled.std())
    out = mn.apply_ct_normalization(ims[1], p)
    np.testing.assert_allclose(out, (np.clip(ims[1], p["low"], p["high"]) - p["mean"])
                               / p["std"], atol=1e-12)
    assert out.max() < 5                                       # the metal no longer dominates


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    vol = _brain(rng, n=4000)
    mask = vol > 0
    assert_inputs_unchanged(mn.white_stripe, vol, mask)
    assert_inputs_unchanged(mn.white_stripe_normalize, vol, mask, method="kde")
    assert_inputs_unchanged(mn.smoothed_histogram, vol[mask])
    lm = assert_inputs_unchanged(mn.fit_nyul, [vol, 2 * vol], [mask, mask])
    assert_inputs_unchanged(mn.apply_nyul, vol, lm, mask)
    assert_inputs_unchanged(mn.zscore_foreground, vol, mask)
    p = assert_inputs_unchanged(mn.fit_ct_normalization, [vol], [mask])
    assert_inputs_unchanged(mn.apply_ct_normalization, vol, p)


_VOL = np.linspace(1.0, 100.0, 1000).reshape(10, 10, 10)
_LM = np.linspace(0.0, 100.0, 11)
BAD_CALLS = [
    (mn.white_stripe, (_VOL,), {"contrast": "flair"}, ValueError, "contrast"),
    (mn.white_stripe, (_VOL,), {"width": 0.0}, ValueError, "width"),
    (mn.white_stripe, (_VOL,), {"method": "gam"}, ValueError, "method"),
    (mn.white_stripe, (_VOL, np.ones((10, 10), bool)), {}, ValueError, "mask"),
    (mn.white_stripe, (np.zeros((10, 10)),), {}, ValueError, "mask"),
    (mn.white_stripe, (np.full((10, 10), 3.0),), {}, ValueError, "constant"),
    (mn.smoothed_histogram, ([1.0, 2.0],), {}, ValueError, "values"),
    (mn.smoothed_histogram, (_VOL,), {"rare_fraction": 1.0}, ValueError, "rare_fraction"),
    (mn.fit_nyul, ([],), {}, ValueError, "images"),
    (mn.fit_nyul, ([_VOL, _VOL], [_VOL > 0]), {}, ValueError, "masks"),
    (mn.fit_nyul, (_VOL,), {"cutoff": (0.2, 0.99)}, ValueError, "cutoff"),
    (mn.apply_nyul, (_VOL, _LM[::-1]), {}, ValueError, "landmarks"),
    (mn.apply_nyul, (_VOL, _LM[:5]), {}, ValueError, "landmarks"),
    (mn.fit_ct_normalization, ([_VOL], [_VOL > 0]), {"percentiles": (99.5, 0.5)}, ValueError,
     "percentiles"),
    (mn.apply_ct_normalization, (_VOL, {"low": 0, "high": 1, "mean": 0}), {}, ValueError,
     "params"),
    (mn.apply_ct_normalization, (_VOL, [0, 1, 0, 1]), {}, TypeError, "params"),
    (mn.apply_ct_normalization, (_VOL, {"low": 0, "high": 1, "mean": 0, "std": 0}), {},
     ValueError, "std"),
]

test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def _small_brain():
    return _brain(np.random.default_rng(3), n=2000)


BAD_INPUT_CALLS = {
    "prep.mri_normalization.smoothed_histogram": Entry(
        lambda: C(np.random.default_rng(1).normal(100, 10, 500), bins=50)),
    "prep.mri_normalization.white_stripe": Entry(
        lambda: C(_small_brain(), None, method="kde")),
    "prep.mri_normalization.white_stripe_normalize": Entry(
        lambda: C(_small_brain(), None, method="kde")),
    "prep.mri_normalization.WhiteStripe": Entry(
        lambda: C(1.0, 0.5, 0.9, 1.1, 1.0, 0.1, np.ones(3, bool)), mutate=False),
    "prep.mri_normalization.fit_nyul": Entry(
        lambda: C([_small_brain(), 2 * _small_brain()], None)),
    "prep.mri_normalization.apply_nyul": Entry(
        lambda: C(_small_brain(), np.linspace(0.0, 100.0, 11), None)),
    "prep.mri_normalization.zscore_foreground": Entry(lambda: C(_small_brain(), None)),
    "prep.mri_normalization.fit_ct_normalization": Entry(
        lambda: C([_small_brain()], [_small_brain() > 0])),
    "prep.mri_normalization.apply_ct_normalization": Entry(
        lambda: C(_small_brain(), {"low": 10.0, "high": 100.0, "mean": 80.0, "std": 20.0}),
        skip={"params"}),   # a dict: its keys are checked by the pinned cases above
}
