"""medlib.dl.metrics against SciPy's set dissimilarities, direct counting and closed forms."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import bad_input_test
from scipy.spatial import distance

from medlib.dl import metrics


def _masks(rng, shape=(20, 30), p=0.3, q=0.3):
    return rng.uniform(size=shape) < p, rng.uniform(size=shape) < q


@pytest.mark.formula("metrics.confusion-matrix")
def test_confusion_matrix_matches_histogram2d_and_a_count(rng):
    pred = rng.integers(0, 4, size=(15, 12))
    true = rng.integers(0, 4, size=(15, 12))
    ours = metrics.confusion_matrix(pred, true)
    ref, _, _ = np.histogram2d(true.ravel(), pred.ravel(), bins=np.arange(5) - 0.5)
    np.testing.assert_array_equal(ours, ref.astype(int))
    assert ours[2, 1] == np.sum((true == 2) & (pred == 1))
    assert ours.sum() == pred.size


@pytest.mark.formula("metrics.confusion-matrix")
def test_binary_counts_are_the_cells_of_the_two_by_two_matrix(rng):
    pred, true = _masks(rng)
    c = metrics.binary_counts(pred, true)
    assert c.tp == np.sum(pred & true) and c.fp == np.sum(pred & ~true)
    assert c.fn == np.sum(~pred & true) and c.tn == np.sum(~pred & ~true)
    np.testing.assert_array_equal(metrics.confusion_matrix(pred, true),
                                  [[c.tn, c.fp], [c.fn, c.tp]])
    assert all(isinstance(v, int) for v in c)


def test_confusion_matrix_with_absent_classes():
    out = metrics.confusion_matrix([0, 0, 1], [0, 1, 1], n_classes=3)
    np.testing.assert_array_equal(out, [[1, 0, 0], [1, 1, 0], [0, 0, 0]])


@pytest.mark.formula("metrics.dice")
def test_dice_matches_scipy_dissimilarity(rng):
    pred, true = _masks(rng)
    assert metrics.dice(pred, true) == pytest.approx(1 - distance.dice(pred.ravel(),
                                                                        true.ravel()))
    assert metrics.dice(pred.astype(np.uint8), true.astype(float)) == metrics.dice(pred, true)


@pytest.mark.formula("metrics.dice")
def test_dice_of_two_overlapping_squares_by_hand():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[0:4, 0:4] = True                      # 16 pixels
    b[2:6, 2:6] = True                      # 16 pixels, 4 shared
    assert metrics.dice(a, b) == pytest.approx(2 * 4 / 32)
    assert metrics.iou(a, b) == pytest.approx(4 / 28)


@pytest.mark.formula("metrics.iou")
def test_iou_matches_scipy_jaccard(rng):
    pred, true = _masks(rng, (40, 40), 0.1, 0.15)
    assert metrics.iou(pred, true) == pytest.approx(1 - distance.jaccard(pred.ravel(),
                                                                          true.ravel()))


@pytest.mark.formula("metrics.dice-iou")
def test_dice_and_iou_satisfy_their_relation_on_random_masks(rng):
    for _ in range(20):
        pred, true = _masks(rng, (16, 16), rng.uniform(0.05, 0.8), rng.uniform(0.05, 0.8))
        j = 1 - distance.jaccard(pred.ravel(), true.ravel())          # scipy's IoU
        d = 1 - distance.dice(pred.ravel(), true.ravel())             # scipy's Dice
        assert metrics.dice_from_iou(j) == pytest.approx(d)
        assert metrics.iou_from_dice(d) == pytest.approx(j)
        assert metrics.dice(pred, true) >= metrics.iou(pred, true)


@pytest.mark.formula("metrics.dice-iou")
def test_dice_iou_conversion_is_monotonic_and_invertible():
    j = np.linspace(0, 1, 101)
    d = metrics.dice_from_iou(j)
    assert np.all(np.diff(d) > 0) and d[0] == 0 and d[-1] == 1
    np.testing.assert_allclose(metrics.iou_from_dice(d), j, atol=1e-15)
    assert metrics.dice_from_iou(0.5) == pytest.approx(2 / 3)


@pytest.mark.formula("metrics.sensitivity")
def test_sensitivity_is_the_fraction_of_positives_found(rng):
    pred, true = _masks(rng)
    assert metrics.sensitivity(pred, true) == pytest.approx(
        np.sum(pred & true) / np.sum(true))


@pytest.mark.formula("metrics.specificity")
def test_specificity_is_the_fraction_of_negatives_kept(rng):
    pred, true = _masks(rng)
    assert metrics.specificity(pred, true) == pytest.approx(
        np.sum(~pred & ~true) / np.sum(~true))


@pytest.mark.formula("metrics.specificity")
def test_specificity_stays_near_one_for_a_poor_segmentation_of_a_small_lesion():
    true = np.zeros((200, 200), bool)
    true[90:110, 90:110] = True                     # 400 pixels in 40000
    pred = np.zeros_like(true)
    pred[100:130, 100:130] = True                   # mostly wrong
    assert metrics.dice(pred, true) < 0.3
    assert metrics.specificity(pred, true) > 0.97


@pytest.mark.formula("metrics.dice", "metrics.sensitivity")
def test_dice_is_the_harmonic_mean_of_precision_and_sensitivity(rng):
    pred, true = _masks(rng)
    p, s = metrics.precision(pred, true), metrics.sensitivity(pred, true)
    assert metrics.dice(pred, true) == pytest.approx(2 * p * s / (p + s))


# --- edge cases, as the module defines them ----------------------------------------------------

@pytest.mark.formula("metrics.dice", "metrics.iou")
def test_both_empty_scores_the_empty_score():
    empty = np.zeros((5, 5), bool)
    assert metrics.dice(empty, empty) == 1.0 and metrics.iou(empty, empty) == 1.0
    assert np.isnan(metrics.dice(empty, empty, empty_score=np.nan))
    assert 1 - distance.jaccard(empty.ravel(), empty.ravel()) == 1.0   # SciPy agrees


@pytest.mark.formula("metrics.dice", "metrics.sensitivity", "metrics.specificity")
def test_empty_prediction_of_a_present_lesion():
    true = np.zeros((5, 5), bool)
    true[1:3, 1:3] = True
    empty = np.zeros_like(true)
    assert metrics.dice(empty, true) == 0.0 and metrics.iou(empty, true) == 0.0
    assert metrics.sensitivity(empty, true) == 0.0
    assert metrics.specificity(empty, true) == 1.0
    assert np.isnan(metrics.precision(empty, true))


@pytest.mark.formula("metrics.dice", "metrics.sensitivity", "metrics.specificity")
def test_prediction_on_an_empty_ground_truth():
    pred = np.zeros((5, 5), bool)
    pred[0, 0] = True
    empty = np.zeros_like(pred)
    assert metrics.dice(pred, empty) == 0.0
    assert np.isnan(metrics.sensitivity(pred, empty))
    assert metrics.sensitivity(pred, empty, zero_division=1.0) == 1.0
    assert metrics.specificity(pred, empty) == pytest.approx(24 / 25)
    assert metrics.precision(pred, empty) == 0.0


def test_specificity_without_negatives_is_undefined():
    full = np.ones(6, bool)
    assert np.isnan(metrics.specificity(full, full))
    assert metrics.specificity(full, full, zero_division=0.0) == 0.0


# issue 11, group 9 (fixed on main; kept as a guard): NaN in a mask must not count as True.
NAN_MASK_CALLS = [
    (metrics.dice, (np.array([np.nan, 0.0]), np.array([1.0, 0.0])), {}, ValueError,
     "^prediction.*finite"),
    (metrics.binary_counts, (np.array([1.0, 0.0]), np.array([0.0, np.nan])), {}, ValueError,
     "^target.*finite"),
]

test_nan_in_a_mask_is_refused = bad_input_test(NAN_MASK_CALLS)


# issue 11 (complex labels): complex labels or masks are refused with a TypeError naming the
# argument, not NumPy's "ufunc 'floor' not supported"
_Z = np.array([1.0 + 1.0j, 0.0])
COMPLEX_LABEL_CALLS = [
    (metrics.dice, (_Z, np.array([1, 0])), {}, TypeError, "^prediction must be real"),
    (metrics.iou, (np.array([1, 0]), _Z), {}, TypeError, "^target must be real"),
    (metrics.binary_counts, (_Z, np.array([1, 0])), {}, TypeError, "^prediction must be real"),
    (metrics.confusion_matrix, (np.array([1, 0]), _Z), {}, TypeError, "^target must be real"),
    (metrics.sensitivity, (_Z, np.array([1, 0])), {}, TypeError, "^prediction must be real"),
]

test_complex_labels_are_refused = bad_input_test(COMPLEX_LABEL_CALLS)

# issue 11: labels or n_classes too large for a matrix are refused in their own name (not
# np.bincount's "'list' argument must have no negative elements", not an OverflowError)
HUGE_LABEL_CALLS = [
    (metrics.confusion_matrix, (np.array([0.0, 1e300]), np.array([0, 1])), {}, ValueError,
     "^prediction must hold class labels below"),
    (metrics.confusion_matrix, (np.array([0, 1]), np.array([0.0, 1e300])), {}, ValueError,
     "^target must hold class labels below"),
    (metrics.confusion_matrix, (np.array([0, 1]), np.array([0, 2 ** 40])), {}, ValueError,
     "largest label of prediction and target"),
    (metrics.confusion_matrix, (np.array([0, 1]), np.array([0, 1])), {"n_classes": 2 ** 63},
     ValueError, "^n_classes"),
]

test_labels_too_large_for_a_matrix_are_refused = bad_input_test(HUGE_LABEL_CALLS)


BAD_CALLS = [
    (metrics.dice, (np.ones((3, 3)), np.ones((3, 4))), {}, ValueError, "same shape"),
    (metrics.dice, (np.array([0.2, 1.0]), np.ones(2)), {}, ValueError, "integer"),
    (metrics.dice, (np.array([0, 2]), np.ones(2)), {}, ValueError, "binary"),
    (metrics.iou, (np.ones(2), np.array([0, -1])), {}, ValueError, "non-negative"),
    (metrics.sensitivity, (np.ones(2), np.array([0.5, 1.0])), {}, ValueError, "target"),
    (metrics.specificity, (np.ones(2), np.ones(3)), {}, ValueError, "same shape"),
    (metrics.precision, ([], []), {}, ValueError, "empty"),
    (metrics.confusion_matrix, ([0, 3], [0, 1]), {"n_classes": 3}, ValueError, "n_classes"),
    (metrics.confusion_matrix, ([0, 1], [0, 1]), {"n_classes": 1.5}, TypeError, "n_classes"),
    (metrics.confusion_matrix, ([0, 1], [0, np.nan]), {}, ValueError, "finite"),
    (metrics.binary_counts, ("ab", [0, 1]), {}, TypeError, "prediction"),
    (metrics.dice_from_iou, (1.5,), {}, ValueError, "iou_value"),
    (metrics.iou_from_dice, (-0.1,), {}, ValueError, "dice_value"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    pred, true = _masks(rng)
    for func in (metrics.dice, metrics.iou, metrics.sensitivity, metrics.specificity,
                 metrics.precision, metrics.binary_counts, metrics.confusion_matrix):
        assert_inputs_unchanged(func, pred, true)
    values = rng.uniform(size=5)
    assert_inputs_unchanged(metrics.dice_from_iou, values)
    assert_inputs_unchanged(metrics.iou_from_dice, values)


# --- MONAI, the reference library: the course's convention is ignore_empty=False -------------

def _monai(func, pred, true, ignore_empty):
    """MONAI's per-case metric of one binary 2D/3D mask pair (batch and channel of size 1)."""
    torch = pytest.importorskip("torch")
    tensor = [torch.as_tensor(np.asarray(a, dtype=np.float32))[None, None] for a in (pred, true)]
    return float(func(*tensor, ignore_empty=ignore_empty)[0, 0])


def _edge_cases():
    lesion = np.zeros((8, 8), bool)
    lesion[2:5, 2:5] = True
    other = np.zeros_like(lesion)
    other[3:7, 4:6] = True
    nothing = np.zeros_like(lesion)
    return {"overlap": (other, lesion), "empty prediction": (nothing, lesion),
            "false positive on an empty truth": (lesion, nothing),
            "both empty": (nothing, nothing)}


@pytest.mark.formula("metrics.dice", "metrics.iou")
@pytest.mark.parametrize("case", list(_edge_cases()))
def test_dice_and_iou_equal_monais_with_ignore_empty_false(case):
    from monai.metrics import compute_dice, compute_iou
    pred, true = _edge_cases()[case]
    assert metrics.dice(pred, true) == pytest.approx(_monai(compute_dice, pred, true, False))
    assert metrics.iou(pred, true) == pytest.approx(_monai(compute_iou, pred, true, False))


@pytest.mark.formula("metrics.dice", "metrics.iou")
@pytest.mark.parametrize("case", list(_edge_cases()))
def test_monais_default_ignore_empty_differs_only_on_an_empty_truth(case):
    from monai.metrics import compute_dice, compute_iou
    pred, true = _edge_cases()[case]
    monai_dice = _monai(compute_dice, pred, true, True)
    monai_iou = _monai(compute_iou, pred, true, True)
    if true.any():                              # the same numbers
        assert metrics.dice(pred, true) == pytest.approx(monai_dice)
        assert metrics.iou(pred, true) == pytest.approx(monai_iou)
    else:                                       # MONAI: NaN, whatever the prediction
        assert np.isnan(monai_dice) and np.isnan(monai_iou)
        nan_dice = metrics.dice(pred, true, empty_score=np.nan)
        if pred.any():                          # here a false positive still scores 0
            assert metrics.dice(pred, true) == 0.0 and nan_dice == 0.0
        else:
            assert np.isnan(nan_dice) and metrics.dice(pred, true) == 1.0


def test_monai_drops_a_false_positive_slice_from_the_mean_where_medlib_counts_it():
    from monai.metrics import compute_dice
    cases = _edge_cases()
    slices = [cases["overlap"], cases["false positive on an empty truth"], cases["both empty"]]
    ours = [metrics.dice(p, t, empty_score=np.nan) for p, t in slices]
    theirs = [_monai(compute_dice, p, t, True) for p, t in slices]
    assert np.nanmean(ours) == pytest.approx(ours[0] / 2)       # the false positive counts 0
    assert np.nanmean(theirs) == pytest.approx(ours[0])         # MONAI averages one slice


# --- means over cases: Dice and IoU can rank two methods differently ---------------------------

def _two_methods_on_two_cases():
    """1D masks of 20 pixels, truth 0-9 in both cases; A is fair twice, B perfect then poor."""
    truth = np.zeros(20, bool)
    truth[:10] = True

    def span(start):
        m = np.zeros(20, bool)
        m[start:start + 10] = True
        return m

    return truth, {"A": [span(4), span(3)], "B": [span(0), span(8)]}


@pytest.mark.formula("metrics.dice-iou")
def test_mean_dice_and_mean_iou_can_rank_two_methods_in_opposite_orders():
    truth, methods = _two_methods_on_two_cases()
    mean_dice = {k: np.mean([metrics.dice(p, truth) for p in v]) for k, v in methods.items()}
    mean_iou = {k: np.mean([metrics.iou(p, truth) for p in v]) for k, v in methods.items()}
    assert mean_dice["A"] == pytest.approx(0.65) and mean_dice["B"] == pytest.approx(0.6)
    assert mean_iou["A"] == pytest.approx((6 / 14 + 7 / 13) / 2)
    assert mean_iou["B"] == pytest.approx((1 + 2 / 18) / 2)
    assert mean_dice["A"] > mean_dice["B"] and mean_iou["B"] > mean_iou["A"]
    for a, b in zip(*methods.values()):          # ... while every single case agrees
        assert (metrics.dice(a, truth) > metrics.dice(b, truth)) == \
            (metrics.iou(a, truth) > metrics.iou(b, truth))


# --- the conventions' values are checked, and the counts stay small in memory ------------------

@pytest.mark.parametrize("func, name", [(metrics.dice, "empty_score"),
                                        (metrics.iou, "empty_score"),
                                        (metrics.sensitivity, "zero_division"),
                                        (metrics.specificity, "zero_division"),
                                        (metrics.precision, "zero_division")])
def test_undefined_values_are_a_number_in_0_1_or_nan(func, name):
    empty = np.zeros(4, bool)
    full = np.ones(4, bool)
    pred, true = (full, full) if func is metrics.specificity else (empty, empty)
    for good in (0.0, 0.5, 1, np.float32(1.0)):
        assert func(pred, true, **{name: good}) == float(good)
    assert np.isnan(func(pred, true, **{name: np.nan}))
    for bad in (5.0, -0.1, np.inf, -np.inf):
        with pytest.raises(ValueError, match=rf"{name} must be a number in \[0, 1\] or NaN"):
            func(pred, true, **{name: bad})
    for bad in ("1", None, True, [0.5]):
        with pytest.raises(TypeError, match=name):
            func(pred, true, **{name: bad})
    with pytest.raises(ValueError, match=name):     # checked even where it is not needed
        func(full, full if func is not metrics.specificity else empty, **{name: 2.0})


@pytest.mark.parametrize("dtype", [bool, np.uint8])
def test_binary_metrics_use_little_memory(dtype):
    import tracemalloc
    shape = (128, 128, 128)
    rng = np.random.default_rng(0)
    pred = (rng.uniform(size=shape) < 0.3).astype(dtype)
    true = (rng.uniform(size=shape) < 0.3).astype(dtype)
    size = pred.nbytes + true.nbytes                # 4 MB for two boolean masks
    expected = metrics.binary_counts(pred.astype(bool), true.astype(bool))
    for func in (metrics.dice, metrics.iou, metrics.sensitivity, metrics.specificity,
                 metrics.precision, metrics.binary_counts):
        tracemalloc.start()
        try:
            func(pred, true)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2 * size, f"{func.__name__} peaked at {peak / size:.1f} x its inputs"
    c = metrics.binary_counts(pred, true)
    assert c == expected and c.tp == np.sum(pred.astype(bool) & true.astype(bool))


# --- bootstrap_ci --------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [5, 40])
def test_bootstrap_interval_matches_scipy_percentile_bootstrap(n):
    from scipy import stats
    values = np.random.default_rng(n).gamma(2.0, 1.0, size=n)
    ours = metrics.bootstrap_ci(values, 1, n_resamples=100_000)
    ref = stats.bootstrap((values,), np.mean, n_resamples=100_000, method="percentile",
                          confidence_level=0.95, rng=np.random.default_rng(2)).confidence_interval
    se = values.std(ddof=1) / np.sqrt(n)    # Monte Carlo sd of each bound: about 0.01 se
    assert ours.estimate == pytest.approx(values.mean(), rel=1e-12)
    assert ours.low == pytest.approx(ref.low, abs=0.05 * se)
    assert ours.high == pytest.approx(ref.high, abs=0.05 * se)


def test_bootstrap_interval_of_a_normal_mean_approaches_the_t_interval():
    values = np.random.default_rng(3).normal(10.0, 2.0, size=400)
    ci = metrics.bootstrap_ci(values, 0, n_resamples=20_000, confidence=0.9)
    half = 1.6449 * values.std(ddof=0) / np.sqrt(values.size)   # z_0.95, plug-in sd
    assert ci.high - ci.estimate == pytest.approx(half, rel=0.05)
    assert ci.estimate - ci.low == pytest.approx(half, rel=0.05)


def test_bootstrap_interval_is_reproducible_from_a_seed_and_leaves_values_untouched():
    values = np.array([0.8, 0.7, 0.9, 0.75, 0.85])
    copy = values.copy()
    assert metrics.bootstrap_ci(values, 7) == metrics.bootstrap_ci(values, 7)
    assert np.array_equal(values, copy)
    ci = metrics.bootstrap_ci(values, 7)
    assert ci.low <= ci.estimate <= ci.high and 0.7 <= ci.low and ci.high <= 0.9


@pytest.mark.parametrize("kwargs, match", [
    ({"values": [0.5]}, "values"),
    ({"values": [[0.5, 0.6]]}, "values"),
    ({"values": [0.5, np.nan]}, "values"),
    ({"n_resamples": 10}, "n_resamples"),
    ({"confidence": 1.0}, "confidence"),
    ({"confidence": 0.0}, "confidence"),
    ({"values": np.zeros(1000), "n_resamples": 100_000}, "n_resamples"),
])
def test_bootstrap_refuses_bad_arguments_by_name(kwargs, match):
    args = {"values": [0.1, 0.2, 0.3], "rng": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        metrics.bootstrap_ci(args.pop("values"), args.pop("rng"), **args)
