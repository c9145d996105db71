"""Tests of medlib.segmentation.losses against PyTorch, MONAI and Part I's NumPy losses."""
from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
monai_losses = pytest.importorskip("monai.losses")

import torch.nn.functional as F  # noqa: E402
from badinput import C, Entry  # noqa: E402

from medlib.dl import losses as np_losses  # noqa: E402
from medlib.dl import metrics  # noqa: E402
from medlib.segmentation import losses as L  # noqa: E402


def _batch(n=3, k=4, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, size, size, generator=g, dtype=torch.float64) * 2
    labels = torch.randint(0, k, (n, 1, size, size), generator=g)
    return logits, labels


def _one_hot(labels, k):
    return F.one_hot(labels[:, 0], k).movedim(-1, 1).to(torch.float64)


BAD_INPUT_CALLS = {
    "segmentation.losses.softmax": Entry(lambda: C(np.arange(8.0).reshape(1, 2, 2, 2))),
    "segmentation.losses.bce_pixel": Entry(
        lambda: C(np.array([[[-1.0, 2.0], [0.5, -3.0]]]), np.array([[[0.0, 1.0], [1.0, 0.0]]]))),
    "segmentation.losses.ce_pixel": Entry(
        lambda: C(np.arange(8.0).reshape(1, 2, 2, 2) / 4, np.array([[[0, 1], [1, 0]]]))),
    "segmentation.losses.dataset_loss": Entry(
        lambda: C(functools.partial(L.ce_pixel, reduction="sum"),
                  np.arange(16.0).reshape(2, 2, 2, 2) / 8, np.array([[[0, 1], [1, 0]]] * 2)),
        skip={"loss"}),  # a callable
    "segmentation.losses.loss_split": Entry(
        lambda: C(np.array([[0.1, 2.0], [0.3, 0.4]]), np.array([[False, True], [False, False]]))),
    "segmentation.losses.dice_coefficient": Entry(
        lambda: C(np.array([[[[0.2, 0.9], [0.6, 0.1]]]]), np.array([[[[0.0, 1.0], [1.0, 0.0]]]]),
                  smooth_nr=0.1, smooth_dr=0.1)),
    "segmentation.losses.soft_dice_loss": Entry(
        lambda: C(np.array([[[[0.2, 0.9], [0.6, 0.1]]]]), np.array([[[[0.0, 1.0], [1.0, 0.0]]]]),
                  smooth_nr=0.1, smooth_dr=0.1)),
    "segmentation.losses.SoftDiceLoss": Entry(lambda: C(sigmoid=True, smooth_nr=0.1)),
    "segmentation.losses.DiceCELoss": Entry(lambda: C(softmax=True, lambda_ce=0.5)),
}


# --- softmax, BCE, CE ---------------------------------------------------------------------------

@pytest.mark.formula("seg.softmax")
def test_softmax_equals_torch_and_survives_large_logits():
    logits, _ = _batch()
    assert torch.allclose(L.softmax(logits), torch.softmax(logits, dim=1), atol=1e-15)
    big = torch.tensor([1000.0, 999.0], dtype=torch.float64).reshape(1, 2, 1, 1)
    p = L.softmax(big)
    assert torch.isfinite(p).all()
    assert float(p[0, 0]) == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-12)
    assert torch.allclose(L.softmax(logits, dim=2), torch.softmax(logits, dim=2))


@pytest.mark.formula("seg.bce-pixel")
@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_bce_pixel_equals_torch_and_part_one(reduction):
    logits, labels = _batch(k=1)
    target = (labels > 0).to(torch.float64)
    ours = L.bce_pixel(logits, target, reduction=reduction)
    ref = F.binary_cross_entropy_with_logits(logits, target, reduction=reduction)
    assert torch.allclose(ours, ref, atol=1e-12)
    numpy_ref = np_losses.binary_cross_entropy_with_logits(
        logits.numpy(), target.numpy(), reduction=reduction)
    assert np.allclose(ours.numpy(), numpy_ref, atol=1e-12)


@pytest.mark.formula("seg.bce-pixel")
def test_bce_pixel_is_the_notes_formula_on_probabilities():
    a = torch.tensor([-2.0, 0.0, 3.0], dtype=torch.float64)
    y = torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64)
    f = torch.sigmoid(a)
    notes = -(y * torch.log(f) + (1 - y) * torch.log(1 - f)).sum()
    assert float(L.bce_pixel(a, y)) == pytest.approx(float(notes), rel=1e-12)
    # a confident wrong pixel costs |a|, not log(0)
    assert float(L.bce_pixel(torch.tensor([200.0]), torch.tensor([0.0]))) == pytest.approx(200.0)


@pytest.mark.formula("seg.ce-pixel")
@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_ce_pixel_equals_torch_for_indices_and_probabilities(reduction):
    logits, labels = _batch()
    ours = L.ce_pixel(logits, labels[:, 0], reduction=reduction)
    assert torch.allclose(ours, F.cross_entropy(logits, labels[:, 0], reduction=reduction),
                          atol=1e-12)
    soft = torch.softmax(torch.randn(logits.shape, dtype=torch.float64,
                                     generator=torch.Generator().manual_seed(3)), dim=1)
    assert torch.allclose(L.ce_pixel(logits, soft, reduction=reduction),
                          F.cross_entropy(logits, soft, reduction=reduction), atol=1e-12)
    numpy_ref = np_losses.cross_entropy(logits.numpy(), labels[:, 0].numpy(), reduction=reduction)
    assert np.allclose(ours.numpy(), numpy_ref, atol=1e-12)


@pytest.mark.formula("seg.ce-pixel")
def test_ce_of_two_classes_is_bce_of_the_logit_difference():
    logits, labels = _batch(k=2)
    y = labels[:, 0]
    ce = L.ce_pixel(logits, y)
    bce = L.bce_pixel(logits[:, 1] - logits[:, 0], y.to(torch.float64))
    assert float(ce) == pytest.approx(float(bce), rel=1e-12)


@pytest.mark.formula("seg.dataset-loss")
def test_dataset_loss_is_the_sum_over_samples_and_the_batch_sum():
    logits, labels = _batch(n=5)
    total = L.dataset_loss(functools.partial(L.ce_pixel, reduction="sum"), logits, labels[:, 0])
    assert float(total) == pytest.approx(
        float(F.cross_entropy(logits, labels[:, 0], reduction="sum")), rel=1e-12)
    per_pixel_mean = F.cross_entropy(logits, labels[:, 0], reduction="mean")
    assert float(total) / labels[:, 0].numel() == pytest.approx(float(per_pixel_mean), rel=1e-12)


@pytest.mark.formula("seg.imbalance")
def test_loss_split_adds_up_and_follows_area_at_constant_loss():
    rng = np.random.default_rng(0)
    small = np.zeros((32, 32), bool)
    small[10:13, 10:14] = True
    losses = rng.uniform(0.5, 1.5, small.shape)
    out = L.loss_split(losses, small)
    assert out["small"] + out["rest"] == pytest.approx(losses.sum())
    assert out["small"] == pytest.approx(losses[small].sum())
    assert out["area_share"] == pytest.approx(12 / 1024)
    flat = L.loss_split(np.full(small.shape, 0.7), small)
    assert flat["share"] == pytest.approx(flat["area_share"], rel=1e-12)
    assert out["share"] < 0.05


# --- soft Dice ----------------------------------------------------------------------------------

@pytest.mark.formula("seg.soft-dice-binary")
def test_dice_coefficient_is_the_set_dice_on_binary_masks():
    rng = np.random.default_rng(1)
    a, b = rng.random((20, 20)) > 0.6, rng.random((20, 20)) > 0.5
    ref = metrics.dice(a, b)
    for squared in (True, False):
        d = L.dice_coefficient(torch.tensor(a[None, None], dtype=torch.float64),
                               torch.tensor(b[None, None], dtype=torch.float64), squared=squared)
        assert float(d) == pytest.approx(ref, rel=1e-12)


@pytest.mark.formula("seg.soft-dice-binary")
def test_dice_coefficient_squared_form_by_hand():
    f = torch.tensor([[[[0.2, 0.9], [0.6, 0.1]]]], dtype=torch.float64)
    y = torch.tensor([[[[0.0, 1.0], [1.0, 0.0]]]], dtype=torch.float64)
    expected = 2 * (0.9 + 0.6) / (2 + (0.04 + 0.81 + 0.36 + 0.01))
    assert float(L.dice_coefficient(f, y)) == pytest.approx(expected, rel=1e-12)
    linear = 2 * 1.5 / (2 + 1.8)
    assert float(L.dice_coefficient(f, y, squared=False)) == pytest.approx(linear, rel=1e-12)


@pytest.mark.formula("seg.soft-dice-binary")
def test_binary_soft_dice_loss_equals_part_one_numpy_version():
    logits, labels = _batch(k=1)
    p = torch.sigmoid(logits)
    t = (labels > 1).to(torch.float64)
    ours = L.soft_dice_loss(p, t, squared=False, smooth_nr=1.0, smooth_dr=1.0, batch=True)
    ref = np_losses.soft_dice_loss(p.numpy(), t.numpy(), smooth=1.0)
    assert float(ours) == pytest.approx(ref, rel=1e-12)


OPTIONS = list(itertools.product([False, True], [False, True], [False, True],
                                 ["sigmoid", "softmax"], [False, True], ["mean", "sum", "none"],
                                 [(1e-5, 1e-5), (0.0, 1e-3), (1.0, 1.0)]))


@pytest.mark.formula("seg.soft-dice-multiclass")
@pytest.mark.parametrize("squared,batch,background,act,onehot,reduction,smooth", OPTIONS)
def test_soft_dice_loss_equals_monai(squared, batch, background, act, onehot, reduction, smooth):
    logits, labels = _batch()
    target = labels if onehot else _one_hot(labels, 4)
    kw = dict(squared_pred=squared, batch=batch, include_background=background,
              sigmoid=act == "sigmoid", softmax=act == "softmax", to_onehot_y=onehot,
              reduction=reduction, smooth_nr=smooth[0], smooth_dr=smooth[1])
    ref = monai_losses.DiceLoss(**kw)(logits, target)
    ours = L.SoftDiceLoss(**kw)(logits, target)
    assert torch.allclose(ours, ref.reshape(ours.shape), atol=1e-6, rtol=0)


@pytest.mark.formula("seg.soft-dice-multiclass")
@pytest.mark.parametrize("squared,batch", list(itertools.product([False, True], [False, True])))
def test_binary_sigmoid_dice_equals_monai(squared, batch):
    logits, labels = _batch(k=1)
    target = (labels > 1).to(torch.float64)
    kw = dict(sigmoid=True, squared_pred=squared, batch=batch)
    assert torch.allclose(L.SoftDiceLoss(**kw)(logits, target),
                          monai_losses.DiceLoss(**kw)(logits, target), atol=1e-6, rtol=0)


@pytest.mark.formula("seg.soft-dice-multiclass")
def test_multiclass_loss_is_the_class_mean_of_one_minus_dsc():
    logits, labels = _batch()
    p, t = torch.softmax(logits, 1), _one_hot(labels, 4)
    dsc = L.dice_coefficient(p, t, batch=True)
    assert dsc.shape == (4,)
    loss = L.soft_dice_loss(p, t, batch=True)
    assert float(loss) == pytest.approx(float((1 - dsc).mean()), rel=1e-12)
    notes_sum = float(dsc.sum())                 # the notes' formula: a score, up to K
    assert notes_sum > 1 and float(loss) < 1


@pytest.mark.formula("seg.soft-dice-multiclass")
@pytest.mark.parametrize("onehot,k", [(False, 4), (True, 4), (False, 1)])
def test_dice_ce_equals_monai(onehot, k):
    logits, labels = _batch(k=k)
    if k == 1:
        target, kw = (labels > 1).to(torch.float64), dict(sigmoid=True)
    else:
        target = labels if onehot else _one_hot(labels, k)
        kw = dict(softmax=True, to_onehot_y=onehot)
    kw.update(lambda_ce=0.7, lambda_dice=1.3, squared_pred=True)
    assert torch.allclose(L.DiceCELoss(**kw)(logits, target),
                          monai_losses.DiceCELoss(**kw)(logits, target), atol=1e-6, rtol=0)


def test_soft_dice_gradient_matches_part_one_analytic_gradient():
    g = torch.Generator().manual_seed(5)
    p = torch.rand(1, 1, 6, 6, generator=g, dtype=torch.float64, requires_grad=True)
    t = (torch.rand(1, 1, 6, 6, generator=g, dtype=torch.float64) > 0.7).to(torch.float64)
    L.soft_dice_loss(p, t, squared=False, smooth_nr=1.0, smooth_dr=1.0).backward()
    ref = np_losses.soft_dice_loss_gradient(p.detach().numpy(), t.numpy(), smooth=1.0)
    assert np.allclose(p.grad.numpy(), ref, atol=1e-12)


# --- errors and purity --------------------------------------------------------------------------

def test_errors_name_the_argument():
    logits, labels = _batch()
    with pytest.raises(ValueError, match="reduction"):
        L.ce_pixel(logits, labels[:, 0], reduction="avg")
    with pytest.raises(ValueError, match="target"):
        L.ce_pixel(logits, labels[:, 0] + 4)
    with pytest.raises(ValueError, match="target"):
        L.bce_pixel(logits[:, :1], labels.to(torch.float64) * 2)
    with pytest.raises(ValueError, match="probabilities"):
        L.dice_coefficient(logits, _one_hot(labels, 4))
    with pytest.raises(ValueError, match="smooth_dr"):
        L.dice_coefficient(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="include_background"):
        L.dice_coefficient(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), smooth_dr=1.0,
                           include_background=False)
    with pytest.raises(ValueError, match="softmax"):
        L.SoftDiceLoss(sigmoid=True, softmax=True)
    with pytest.raises(TypeError, match="batch"):
        L.SoftDiceLoss(batch="yes")
    with pytest.raises(ValueError, match="small"):
        L.loss_split(np.ones((3, 3)), np.ones((2, 2), bool))


def test_inputs_untouched_and_gradients_flow():
    logits, labels = _batch()
    before = logits.clone()
    x = logits.clone().requires_grad_(True)
    loss = L.DiceCELoss(softmax=True, to_onehot_y=True)(x, labels)
    loss.backward()
    assert torch.equal(logits, before)
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
