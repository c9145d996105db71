"""medlib.dl.losses against PyTorch's and MONAI's losses, autograd, SciPy and closed forms."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import bad_input_test
from monai.losses import DiceLoss, FocalLoss
from scipy import special

from medlib.dl import losses, metrics

torch.set_num_threads(1)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _autograd(fn, z):
    """Gradient of fn(tensor) with respect to z by PyTorch's autograd."""
    zt = _t(z, grad=True)
    fn(zt).backward()
    return zt.grad.numpy()


def _binary(rng, shape, p=0.3):
    return (rng.uniform(size=shape) < p).astype(np.float64)


# --- Dice losses -------------------------------------------------------------------------------

@pytest.mark.formula("dl.dice-loss", "metrics.dice")
def test_hard_dice_loss_is_one_minus_scipys_dice(rng):
    from scipy.spatial import distance
    probs = rng.uniform(size=(4, 20, 20))
    target = _binary(rng, probs.shape)
    expected = distance.dice((probs >= 0.5).ravel(), target.ravel().astype(bool))
    assert losses.hard_dice_loss(probs, target) == pytest.approx(expected)
    assert losses.hard_dice_loss(np.zeros(5), np.zeros(5)) == 0.0     # both empty: agreement


@pytest.mark.formula("dl.dice-loss")
def test_hard_dice_loss_has_no_gradient_almost_everywhere(rng):
    probs = rng.uniform(0.05, 0.95, size=200)
    target = _binary(rng, 200)
    base = losses.hard_dice_loss(probs, target)
    nudged = probs + 1e-4 * rng.normal(size=200)
    nudged[np.abs(probs - 0.5) < 1e-3] = probs[np.abs(probs - 0.5) < 1e-3]
    assert losses.hard_dice_loss(nudged, target) == base      # flat: nothing to descend


@pytest.mark.formula("dl.soft-dice-loss")
def test_soft_dice_loss_on_binary_masks_without_smoothing_is_one_minus_dice(rng):
    pred, target = _binary(rng, (30, 30)), _binary(rng, (30, 30))
    assert losses.soft_dice_loss(pred, target, smooth=0.0) == pytest.approx(
        1 - metrics.dice(pred, target))


def monai_dice(smooth):
    """MONAI's soft Dice loss with the course's options: epsilon in numerator and denominator,
    linear (not squared) denominator, sums over the whole batch ("batch Dice"), one channel."""
    return DiceLoss(smooth_nr=smooth, smooth_dr=smooth, squared_pred=False, batch=True,
                    reduction="mean")


@pytest.mark.formula("dl.soft-dice-loss")
@pytest.mark.parametrize("smooth", [0.0, 1e-5, 1.0])
@pytest.mark.parametrize("soft_target", [False, True])
def test_soft_dice_loss_and_gradient_match_monai_and_autograd(rng, smooth, soft_target):
    probs = rng.uniform(size=(2, 1, 12, 12))
    target = rng.uniform(size=probs.shape) if soft_target else _binary(rng, probs.shape, 0.1)
    ref = monai_dice(smooth)
    assert losses.soft_dice_loss(probs, target, smooth=smooth) == pytest.approx(
        float(ref(_t(probs), _t(target))), abs=1e-12)
    np.testing.assert_allclose(losses.soft_dice_loss_gradient(probs, target, smooth=smooth),
                               _autograd(lambda p: ref(p, _t(target)), probs), atol=1e-12)


@pytest.mark.formula("dl.soft-dice-loss")
def test_soft_dice_loss_is_monais_batch_dice_not_its_per_image_mean(rng):
    target = _binary(rng, (3, 1, 10, 10), 0.1)
    target[0] = 0.0                                   # one image without foreground ...
    probs = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1)
    probs[0] = 0.01                                   # ... and a faint prediction on it
    ours = losses.soft_dice_loss(probs, target, smooth=1e-5)
    per_image = DiceLoss(smooth_nr=1e-5, smooth_dr=1e-5, batch=False)(_t(probs), _t(target))
    assert ours == pytest.approx(float(monai_dice(1e-5)(_t(probs), _t(target))), abs=1e-12)
    assert float(per_image) - ours > 0.2              # MONAI's default averages per image
    assert float(per_image) == pytest.approx(np.mean(
        [losses.soft_dice_loss(p, t, smooth=1e-5) for p, t in zip(probs, target)]), abs=1e-12)


@pytest.mark.formula("dl.soft-dice-loss")
def test_smoothing_defines_the_empty_case_and_keeps_small_errors_small():
    empty = np.zeros((8, 8))
    assert losses.soft_dice_loss(empty, empty, smooth=1.0) == 0.0
    with pytest.raises(ValueError, match="0/0"):
        losses.soft_dice_loss(empty, empty, smooth=0.0)
    one_false_positive = empty.copy()
    one_false_positive[0, 0] = 0.1
    assert losses.soft_dice_loss(one_false_positive, empty, smooth=0.0) == 1.0   # maximal
    assert losses.soft_dice_loss(one_false_positive, empty, smooth=1.0) == pytest.approx(
        1 - 1 / 1.1)


# --- cross-entropy -----------------------------------------------------------------------------

@pytest.mark.formula("dl.bce")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_of_probabilities_matches_torch(rng, reduction):
    probs = rng.uniform(size=(3, 5, 7))
    probs[0, 0, :3] = [0.0, 1.0, 1e-50]          # torch clamps log at -100; so do we
    target = rng.uniform(size=probs.shape)       # soft labels are allowed
    target[0, 0, :3] = [1.0, 0.0, 1.0]
    ours = losses.binary_cross_entropy(probs, target, reduction=reduction)
    ref = F.binary_cross_entropy(_t(probs), _t(target), reduction=reduction).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.formula("dl.bce")
def test_bce_of_probabilities_is_the_closed_form(rng):
    p, y = rng.uniform(0.01, 0.99, 50), _binary(rng, 50)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(losses.binary_cross_entropy(p, y, reduction="none"), expected)


@pytest.mark.formula("dl.bce-logits", "dl.bce")
@pytest.mark.parametrize("pos_weight", [1.0, 7.5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(rng, pos_weight, reduction):
    z = rng.normal(0, 4, size=(2, 1, 9, 9))
    y = _binary(rng, z.shape)
    ours = losses.binary_cross_entropy_with_logits(z, y, pos_weight=pos_weight,
                                                   reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(_t(z), _t(y), pos_weight=_t(pos_weight),
                                             reduction=reduction).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.formula("dl.bce-logits")
def test_bce_with_logits_is_stable_where_the_textbook_formula_is_not():
    z = np.array([-1000.0, -40.0, 40.0, 1000.0])
    y = np.array([1.0, 1.0, 0.0, 0.0])              # confidently wrong everywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no overflow, no log(0)
        stable = losses.binary_cross_entropy_with_logits(z, y, reduction="none")
    np.testing.assert_allclose(stable, [1000.0, 40.0, 40.0, 1000.0], rtol=1e-12)
    naive = losses.binary_cross_entropy(special.expit(z), y, reduction="none")
    assert naive[0] == 100.0 and naive[3] == 100.0   # clamped: the true loss is lost
    ref = F.binary_cross_entropy_with_logits(_t(z), _t(y), reduction="none").numpy()
    np.testing.assert_allclose(stable, ref, rtol=1e-12)


@pytest.mark.formula("dl.ce-gradient", "dl.bce-logits")
@pytest.mark.parametrize("pos_weight", [1.0, 4.0])
def test_bce_gradient_matches_autograd_and_is_prediction_minus_target(rng, pos_weight):
    z = rng.normal(0, 3, size=(4, 6))
    y = rng.uniform(size=z.shape)
    grad = losses.binary_cross_entropy_gradient(z, y, pos_weight=pos_weight)
    ref = _autograd(lambda zt: F.binary_cross_entropy_with_logits(
        zt, _t(y), pos_weight=_t(pos_weight)), z)
    np.testing.assert_allclose(grad, ref, atol=1e-14)
    if pos_weight == 1.0:
        np.testing.assert_allclose(grad * z.size, special.expit(z) - y, atol=1e-14)


@pytest.mark.formula("dl.log-softmax")
def test_log_softmax_matches_scipy_and_torch_and_never_overflows(rng):
    z = rng.normal(0, 5, size=(3, 4, 6))
    z[0, :, 0] = [1000.0, 999.0, -1000.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = losses.log_softmax(z, axis=1)
    np.testing.assert_allclose(ours, special.log_softmax(z, axis=1), atol=1e-12)
    np.testing.assert_allclose(ours, torch.log_softmax(_t(z), dim=1).numpy(), atol=1e-12)
    np.testing.assert_allclose(np.exp(ours).sum(axis=1), 1.0)


@pytest.mark.formula("dl.ce", "dl.log-softmax")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_class_indices_matches_torch(rng, reduction):
    z = rng.normal(0, 3, size=(2, 4, 5, 6))              # (N, C, H, W): a segmentation
    labels = rng.integers(0, 4, size=(2, 5, 6))
    ours = losses.cross_entropy(z, labels, reduction=reduction)
    ref = F.cross_entropy(_t(z), torch.from_numpy(labels), reduction=reduction).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


@pytest.mark.formula("dl.ce")
def test_cross_entropy_with_class_probabilities_matches_torch_and_the_sum(rng):
    z = rng.normal(size=(6, 3))
    y = rng.dirichlet(np.ones(3), size=6)                 # smoothed labels
    ours = losses.cross_entropy(z, y)
    ref = F.cross_entropy(_t(z), _t(y)).item()
    assert ours == pytest.approx(ref, rel=1e-12)
    direct = -np.mean(np.sum(y * np.log(special.softmax(z, axis=1)), axis=1))
    assert ours == pytest.approx(direct, rel=1e-12)


@pytest.mark.formula("dl.ce", "dl.bce-logits")
def test_two_class_cross_entropy_is_binary_cross_entropy_of_the_logit_difference(rng):
    z = rng.normal(0, 2, size=(50, 2))
    y = rng.integers(0, 2, size=50)
    assert losses.cross_entropy(z, y) == pytest.approx(
        losses.binary_cross_entropy_with_logits(z[:, 1] - z[:, 0], y.astype(float)), rel=1e-12)


@pytest.mark.formula("dl.ce-gradient")
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_gradient_matches_autograd(rng, reduction):
    z = rng.normal(0, 2, size=(3, 5, 4))
    labels = rng.integers(0, 5, size=(3, 4))
    grad = losses.cross_entropy_gradient(z, labels, reduction=reduction)
    ref = _autograd(lambda zt: F.cross_entropy(zt, torch.from_numpy(labels),
                                               reduction=reduction), z)
    np.testing.assert_allclose(grad, ref, atol=1e-14)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-14)
    y = rng.dirichlet(np.ones(5), size=(3, 4)).transpose(0, 2, 1)      # soft, class axis 1
    ref_soft = _autograd(lambda zt: F.cross_entropy(zt, _t(y), reduction=reduction), z)
    np.testing.assert_allclose(losses.cross_entropy_gradient(z, y, reduction=reduction),
                               ref_soft, atol=1e-14)


# --- focal loss --------------------------------------------------------------------------------

def monai_focal(z, y, gamma, alpha, reduction):
    """MONAI's binary (sigmoid) focal loss on (N, 1, H, W) logits. MONAI computes in float32
    and its default alpha is None (medlib's is Lin et al.'s 0.25), so both are passed."""
    return FocalLoss(gamma=gamma, alpha=alpha, use_softmax=False, include_background=True,
                     reduction=reduction)(z, y).double()


# MONAI casts to float32: agreement to float32 precision.
F32 = {"rtol": 2e-6, "atol": 1e-6}


@pytest.mark.formula("dl.focal")
@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (0.5, 0.75), (3.0, None), (0.0, 0.5)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_focal_loss_matches_monai(rng, gamma, alpha, reduction):
    z = rng.normal(0, 3, size=(2, 1, 8, 8))
    y = _binary(rng, z.shape, 0.2)
    ours = losses.focal_loss(z, y, gamma=gamma, alpha=alpha, reduction=reduction)
    ref = monai_focal(_t(z), _t(y), gamma, alpha, reduction).detach().numpy()
    np.testing.assert_allclose(ours, ref, **F32)


@pytest.mark.formula("dl.focal")
def test_focal_loss_sum_is_a_sum_where_monais_averages_the_pixels_first(rng):
    z = rng.normal(0, 3, size=(2, 1, 8, 8))
    y = _binary(rng, z.shape, 0.2)
    ours = losses.focal_loss(z, y, gamma=2.0, alpha=0.25, reduction="sum")
    unreduced = monai_focal(_t(z), _t(y), 2.0, 0.25, "none")
    monai_sum = monai_focal(_t(z), _t(y), 2.0, 0.25, "sum")
    np.testing.assert_allclose(ours, float(unreduced.sum()), **F32)      # PyTorch's "sum"
    np.testing.assert_allclose(ours / 64, float(monai_sum), **F32)       # MONAI: per-pixel mean


@pytest.mark.formula("dl.focal")
def test_focal_loss_has_a_term_for_negatives_unlike_the_seeds_formula(rng):
    z = np.array([3.0, 3.0])             # both predicted positive with p = 0.95
    y = np.array([1.0, 0.0])             # the second is a false positive
    full = losses.focal_loss(z, y, gamma=2.0, alpha=None, reduction="none")
    p = special.expit(3.0)
    seed = -(1 - p) ** 2 * y * np.log(p)                 # the seed's positive-only formula
    assert seed[1] == 0.0 and full[1] > 1.0              # the seed ignores the false positive
    assert full[0] == pytest.approx(seed[0])


@pytest.mark.formula("dl.focal", "dl.bce-logits")
def test_focal_loss_with_gamma_zero_is_alpha_weighted_cross_entropy(rng):
    z, y = rng.normal(0, 2, 40), _binary(rng, 40)
    np.testing.assert_allclose(losses.focal_loss(z, y, gamma=0.0, alpha=None),
                               losses.binary_cross_entropy_with_logits(z, y), rtol=1e-12)


@pytest.mark.formula("dl.focal")
def test_focal_loss_is_stable_for_extreme_logits():
    z = np.array([-800.0, 800.0, 800.0, -800.0])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = losses.focal_loss(z, y, gamma=2.0, alpha=None, reduction="none")
        grad = losses.focal_loss_gradient(z, y, gamma=2.0, alpha=None, reduction="none")
    np.testing.assert_allclose(out, [800.0, 800.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(grad, [-1.0, 1.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.formula("dl.focal")
@pytest.mark.parametrize("gamma, alpha", [(2.0, 0.25), (0.5, None), (1.0, 0.9)])
def test_focal_loss_gradient_matches_autograd(rng, gamma, alpha):
    z = rng.normal(0, 3, size=(3, 7))
    y = _binary(rng, z.shape)
    grad = losses.focal_loss_gradient(z, y, gamma=gamma, alpha=alpha)
    ref = _autograd(lambda zt: monai_focal(zt, _t(y), gamma, alpha, "mean"), z)
    np.testing.assert_allclose(grad, ref, rtol=1e-5, atol=1e-8)


@pytest.mark.formula("dl.focal")
def test_focal_loss_shrinks_easy_examples_far_more_than_hard_ones():
    y = np.array([1.0, 1.0])
    z = special.logit(np.array([0.9, 0.1]))             # an easy and a hard positive
    ce = losses.binary_cross_entropy_with_logits(z, y, reduction="none")
    fl = losses.focal_loss(z, y, gamma=2.0, alpha=None, reduction="none")
    np.testing.assert_allclose(fl / ce, [0.1**2, 0.9**2])   # (1 - p_t)^gamma


def test_cross_entropy_of_extreme_logits_is_exact_not_nan():
    # issue 11, group 5: [[1e308, -1e308]] with class 0 has a true loss of 0; 0 * log(0) of the
    # other class made it NaN.
    assert losses.cross_entropy([[1e308, -1e308]], [0]) == 0.0
    assert losses.cross_entropy([[1e308, -1e308]], [[1.0, 0.0]]) == 0.0
    assert losses.cross_entropy([[-1e308, 1e308]], [0]) == np.inf   # the true 2e308 overflows
    np.testing.assert_array_equal(
        losses.cross_entropy([[1e308, -1e308], [0.0, 0.0]], [0, 1], reduction="none"),
        [0.0, np.log(2)])


BAD_CALLS = [
    (losses.binary_cross_entropy, (np.full(3, 0.5), np.ones(4)), {}, ValueError, "same shape"),
    (losses.binary_cross_entropy, (np.array([0.5, 1.2]), np.ones(2)), {}, ValueError,
     "probabilities"),
    (losses.binary_cross_entropy, (np.array([0.5, -0.1]), np.ones(2)), {}, ValueError,
     "probabilities"),
    (losses.binary_cross_entropy, (np.full(2, 0.5), np.array([0.0, 2.0])), {}, ValueError,
     "target"),
    (losses.binary_cross_entropy, (np.full(2, 0.5), np.ones(2)), {"reduction": "avg"},
     ValueError, "reduction"),
    (losses.binary_cross_entropy_with_logits, (np.ones(3), np.ones((3, 1))), {}, ValueError,
     "same shape"),
    (losses.binary_cross_entropy_with_logits, ([np.inf, 0.0], np.ones(2)), {}, ValueError,
     "finite"),
    (losses.binary_cross_entropy_with_logits, (np.ones(2), np.ones(2)), {"pos_weight": 0.0},
     ValueError, "pos_weight"),
    (losses.binary_cross_entropy_gradient, (np.ones(2), np.ones(3)), {}, ValueError,
     "same shape"),
    (losses.cross_entropy, (np.ones((2, 3)), np.array([0.5, 1.0])), {}, ValueError, "integers"),
    (losses.cross_entropy, (np.ones((2, 3)), np.array([0, 3])), {}, ValueError, r"\[0, 2\]"),
    (losses.cross_entropy, (np.ones((2, 3)), np.array([0, -1])), {}, ValueError, r"\[0, 2\]"),
    (losses.cross_entropy, (np.ones((2, 3)), np.array([0, 1, 2])), {}, ValueError,
     "class indices of shape"),
    (losses.cross_entropy, (np.ones(3), np.array([0])), {}, ValueError, "logits"),
    (losses.cross_entropy, (np.ones((2, 3)), np.full((2, 3), 1.5)), {}, ValueError,
     "probabilities"),
    (losses.cross_entropy_gradient, (np.ones((2, 3)), np.array([0.2, 1.0])), {}, ValueError,
     "integers"),
    (losses.log_softmax, (np.ones((2, 3)),), {"axis": 2}, ValueError, "axis"),
    (losses.focal_loss, (np.ones(3), np.array([0.0, 0.5, 1.0])), {}, ValueError, "binary"),
    (losses.focal_loss, (np.ones(2), np.ones(2)), {"gamma": -1.0}, ValueError, "gamma"),
    (losses.focal_loss, (np.ones(2), np.ones(2)), {"alpha": 1.5}, ValueError, "alpha"),
    (losses.focal_loss, (np.ones(2), np.ones(3)), {}, ValueError, "same shape"),
    (losses.focal_loss_gradient, (np.ones(2), np.array([0.0, 3.0])), {}, ValueError, "binary"),
    (losses.soft_dice_loss, (np.full(3, 0.5), np.ones(2)), {}, ValueError, "same shape"),
    (losses.soft_dice_loss, (np.array([0.5, 1.5]), np.ones(2)), {}, ValueError, "probabilities"),
    (losses.soft_dice_loss, (np.full(2, 0.5), np.ones(2)), {"smooth": -1.0}, ValueError,
     "smooth"),
    (losses.soft_dice_loss_gradient, (np.zeros(2), np.zeros(2)), {"smooth": 0.0}, ValueError,
     "0/0"),
    (losses.hard_dice_loss, (np.full(2, 0.5), np.array([0.0, 0.5])), {}, ValueError, "binary"),
    (losses.hard_dice_loss, (np.array([2.0, 0.5]), np.ones(2)), {}, ValueError, "probabilities"),
    (losses.hard_dice_loss, (np.full(2, 0.5), np.ones(2)), {"threshold": 2.0}, ValueError,
     "threshold"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: complex class indices get a named TypeError (not NumPy's "ufunc 'floor'"), and a
# target that does not fit the logits names both arguments (the logits may be the wrong one)
ISSUE_11_CALLS = [
    (losses.cross_entropy, (np.ones((2, 3)), np.array([0, 1 + 1j])), {}, TypeError,
     "^target must be real"),
    (losses.cross_entropy_gradient, (np.ones((2, 3)), np.array([0, 1 + 1j])), {}, TypeError,
     "^target must be real"),
    (losses.cross_entropy, (np.ones((2, 2, 3)), np.array([0, 1, 2])), {}, ValueError,
     r"fit logits of shape \(2, 2, 3\)"),
    (losses.cross_entropy_gradient, (np.ones((2, 2, 3)), np.array([0, 1, 2])), {}, ValueError,
     r"fit logits of shape \(2, 2, 3\)"),
]

test_issue_11_bad_targets_are_named = bad_input_test(ISSUE_11_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    z = rng.normal(size=(2, 3, 4))
    p = special.expit(z)
    y = _binary(rng, z.shape)
    labels = rng.integers(0, 3, size=(2, 4))
    for func in (losses.binary_cross_entropy, losses.soft_dice_loss,
                 losses.soft_dice_loss_gradient, losses.hard_dice_loss):
        assert_inputs_unchanged(func, p, y)
    for func in (losses.binary_cross_entropy_with_logits, losses.binary_cross_entropy_gradient,
                 losses.focal_loss, losses.focal_loss_gradient):
        assert_inputs_unchanged(func, z, y)
    assert_inputs_unchanged(losses.cross_entropy, z, labels)
    assert_inputs_unchanged(losses.cross_entropy_gradient, z, labels)
    assert_inputs_unchanged(losses.log_softmax, z)
    assert_inputs_unchanged(losses.log_sigmoid, z)


def test_reductions_return_floats_and_arrays(rng):
    z, y = rng.normal(size=(3, 3)), _binary(rng, (3, 3))
    assert isinstance(losses.focal_loss(z, y), float)
    assert isinstance(losses.binary_cross_entropy_with_logits(z, y, reduction="sum"), float)
    assert losses.focal_loss(z, y, reduction="none").shape == (3, 3)
