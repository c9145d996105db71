"""medlib.nn.training: the NumPy-loss bridge against autograd, and the training loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from badinput import C, Entry
from helpers import bad_input_test

from medlib import nn
from medlib.dl import losses

torch.set_num_threads(1)


# --- the NumPy-loss bridge ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bce", "focal", "dice"])
def test_numpy_loss_backward_equals_autograd_of_a_torch_version(rng, name):
    z = rng.normal(0, 2, size=(2, 1, 6, 6))
    y = (rng.uniform(size=z.shape) < 0.2).astype(np.float64)
    zt = torch.tensor(z, requires_grad=True)
    zr = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y)
    if name == "bce":
        ours = nn.numpy_loss(losses.binary_cross_entropy_with_logits,
                             losses.binary_cross_entropy_gradient, pos_weight=3.0)(zt, yt)
        ref = F.binary_cross_entropy_with_logits(zr, yt, pos_weight=torch.tensor(3.0))
    elif name == "focal":
        ours = nn.numpy_loss(losses.focal_loss, losses.focal_loss_gradient, gamma=2.0,
                             alpha=0.25)(zt, yt)
        p_t = torch.where(yt == 1, torch.sigmoid(zr), 1 - torch.sigmoid(zr))
        alpha_t = torch.where(yt == 1, 0.25, 0.75)
        ref = (-alpha_t * (1 - p_t) ** 2 * torch.log(p_t)).mean()
    else:
        ours = nn.numpy_loss(losses.soft_dice_loss, losses.soft_dice_loss_gradient,
                             smooth=1.0)(torch.sigmoid(zt), yt)
        p = torch.sigmoid(zr)
        ref = 1 - (2 * (p * yt).sum() + 1) / (p.sum() + yt.sum() + 1)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10)
    (3.0 * ours).backward()
    (3.0 * ref).backward()
    np.testing.assert_allclose(zt.grad.numpy(), zr.grad.numpy(), atol=1e-12)


def test_numpy_loss_passes_gradcheck(rng):
    z = torch.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    y = torch.tensor((rng.uniform(size=(3, 4)) < 0.5).astype(float))
    fn = nn.numpy_loss(losses.focal_loss, losses.focal_loss_gradient, gamma=1.5, alpha=0.6)
    assert torch.autograd.gradcheck(lambda zz: fn(zz, y), (z,))


def test_numpy_loss_refuses_unreduced_losses(rng):
    fn = nn.numpy_loss(losses.focal_loss, losses.focal_loss_gradient, reduction="none")
    with pytest.raises(ValueError, match="scalar"):
        fn(torch.zeros(3), torch.ones(3))
    with pytest.raises(TypeError, match="callables"):
        nn.numpy_loss(losses.focal_loss, None)


# --- training ----------------------------------------------------------------------------------

def test_training_with_a_numpy_loss_lowers_it_and_matches_torchs_own_loss():
    x, y = nn.lesion_task(6, 24, 0)
    ours = nn.tiny_segmenter(4, seed=1)
    ref = nn.tiny_segmenter(4, seed=1)
    bridge = nn.numpy_loss(losses.binary_cross_entropy_with_logits,
                           losses.binary_cross_entropy_gradient)
    h_ours = nn.train(ours, x, y, bridge, steps=15, lr=0.01)
    h_ref = nn.train(ref, x, y, F.binary_cross_entropy_with_logits, steps=15, lr=0.01)
    assert h_ours[-1] < h_ours[0]
    np.testing.assert_allclose(h_ours, h_ref, rtol=1e-4)
    p = nn.predict(ours, x)
    assert p.shape == x.shape and p.min() >= 0 and p.max() <= 1


BAD_CALLS = [
    (nn.train, (torch.nn.Identity(), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 5)),
                F.binary_cross_entropy_with_logits), {}, ValueError, "masks"),
    (nn.train, (torch.nn.Identity(), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 4)),
                F.binary_cross_entropy_with_logits), {"on": "probs"}, ValueError, "on"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: model, loss_fn, lr and steps are checked by name; values beyond float32's range
# (which the network computes in) are refused instead of becoming inf and NaN
_X4, _BCE = np.zeros((1, 1, 4, 4)), F.binary_cross_entropy_with_logits
ISSUE_11_CALLS = [
    (nn.train, ("model", _X4, _X4, _BCE), {}, TypeError, "^model must be a torch.nn.Module"),
    (nn.train, (None, _X4, _X4, _BCE), {}, TypeError, "^model must be a torch.nn.Module"),
    (nn.predict, ("model", _X4), {}, TypeError, "^model must be a torch.nn.Module"),
    (nn.predict, (None, _X4), {}, TypeError, "^model must be a torch.nn.Module"),
    (nn.train, (torch.nn.Identity(), _X4, _X4, "bce"), {}, TypeError, "^loss_fn must be"),
    (nn.train, (torch.nn.Identity(), _X4, _X4, None), {}, TypeError, "^loss_fn must be"),
    (nn.train, (torch.nn.Identity(), _X4, _X4, _BCE), {"lr": 1e300}, ValueError, "^lr must be"),
    (nn.train, (torch.nn.Identity(), _X4, _X4, _BCE), {"steps": 2 ** 63}, ValueError,
     "^steps must be"),
    (nn.train, (torch.nn.Identity(), np.full((1, 1, 4, 4), 1e300), _X4, _BCE), {}, ValueError,
     "^images holds values up to 1e\\+300, beyond float32"),
    (nn.train, (torch.nn.Identity(), _X4, np.full((1, 1, 4, 4), 1e300), _BCE), {}, ValueError,
     "^masks holds values"),
    (nn.predict, (torch.nn.Identity(), np.full((1, 1, 4, 4), -1e300)), {}, ValueError,
     "^images holds values"),
]

test_issue_11_bad_training_arguments_are_named = bad_input_test(ISSUE_11_CALLS)


def test_predict_and_train_leave_the_arrays_unchanged():
    x, y = nn.lesion_task(2, 16, 0)
    x0, y0 = x.copy(), y.copy()
    model = nn.tiny_segmenter(2, seed=0)
    nn.predict(model, x)
    nn.train(model, x, y, F.binary_cross_entropy_with_logits, steps=2)
    np.testing.assert_array_equal(x, x0)      # (the model itself is trained in place)
    np.testing.assert_array_equal(y, y0)


# --- the general mini-batch trainer (Part III) ------------------------------------------------

def _toy(n=12, size=16):
    x, y = nn.lesion_task(n, size, 0)
    return x, y


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values()
                      if p.dtype.is_floating_point])


def test_fit_same_seed_gives_bit_identical_weights_and_leaves_global_state():
    x, y = _toy()
    state = torch.random.get_rng_state()
    runs = []
    for seed in (5, 5, 6):
        m = nn.tiny_segmenter(4, seed=1)
        h = nn.fit(m, x, y, torch.nn.BCEWithLogitsLoss(), steps=12, batch_size=4, lr=0.01,
                   seed=seed, progress=False)
        runs.append((_flat(m), h.loss))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert not torch.equal(runs[0][0], runs[2][0])      # another seed, another batch order


def test_fit_full_batch_equals_adam_by_hand():
    x, y = _toy(6)
    ours, ref = nn.tiny_segmenter(3, seed=2), nn.tiny_segmenter(3, seed=2)
    h = nn.fit(ours, x, y, F.binary_cross_entropy_with_logits, steps=5, batch_size=6, lr=0.02,
               seed=0, progress=False)
    # batch_size = N: every step sees the whole set (a permutation of it; the mean loss and its
    # gradient do not depend on the order, up to float32 rounding)
    opt = torch.optim.Adam(ref.parameters(), lr=0.02)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    losses_ref = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ref(xt), yt)
        losses_ref.append(float(loss.detach()))
        loss.backward()
        opt.step()
    np.testing.assert_allclose(h.loss, losses_ref, rtol=1e-5)
    np.testing.assert_allclose(_flat(ours).numpy(), _flat(ref).numpy(), atol=1e-5)


def test_fit_after_step_sees_each_updated_model_once_before_validation():
    x, y = _toy(6)
    model = nn.tiny_segmenter(3, seed=2)
    start = _flat(model).clone()
    seen, events = [], []

    def after(m, step):
        assert m is model
        seen.append((step, _flat(m).clone()))
        events.append(("after", step))

    def val(m):
        events.append(("val", len(seen) - 1))
        return 0.0

    nn.fit(model, x, y, F.binary_cross_entropy_with_logits, steps=4, batch_size=3, seed=0,
           val=val, val_every=2, after_step=after, progress=False)
    assert [s for s, _ in seen] == [0, 1, 2, 3]
    assert not torch.equal(seen[0][1], start)              # called after the optimiser step
    assert torch.equal(seen[-1][1], _flat(model))
    assert events == [("after", 0), ("after", 1), ("val", 1), ("after", 2), ("after", 3),
                      ("val", 3)]
    with pytest.raises(TypeError, match="after_step"):
        nn.fit(model, x, y, F.binary_cross_entropy_with_logits, steps=1, after_step=3,
               progress=False)


def test_fit_betas_are_adams_and_refused_out_of_range():
    x, y = _toy(6)
    ours, ref = nn.tiny_segmenter(3, seed=2), nn.tiny_segmenter(3, seed=2)
    nn.fit(ours, x, y, F.binary_cross_entropy_with_logits, steps=4, batch_size=6, lr=0.02,
           seed=0, progress=False, betas=(0.5, 0.999))
    opt = torch.optim.Adam(ref.parameters(), lr=0.02, betas=(0.5, 0.999))
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    for _ in range(4):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(ref(xt), yt).backward()
        opt.step()
    np.testing.assert_allclose(_flat(ours).numpy(), _flat(ref).numpy(), atol=1e-5)
    default = nn.tiny_segmenter(3, seed=2)
    nn.fit(default, x, y, F.binary_cross_entropy_with_logits, steps=4, batch_size=6, lr=0.02,
           seed=0, progress=False)
    assert not np.allclose(_flat(default).numpy(), _flat(ours).numpy(), atol=1e-5)
    for bad in ((0.9, 1.0), (-0.1, 0.9)):
        with pytest.raises(ValueError, match="betas"):
            nn.fit(nn.tiny_segmenter(3), x, y, F.binary_cross_entropy_with_logits, steps=1,
                   progress=False, betas=bad)
    with pytest.raises(TypeError, match="betas"):
        nn.fit(nn.tiny_segmenter(3), x, y, F.binary_cross_entropy_with_logits, steps=1,
               progress=False, betas=0.9)


def test_fit_batches_are_an_epochwise_permutation():
    n = 7
    x = np.arange(n, dtype=np.float64).reshape(n, 1, 1, 1) * np.ones((1, 1, 2, 2))
    seen = []

    def spy(xb, yb, generator):
        seen.extend(int(v) for v in xb[:, 0, 0, 0])
        return xb, yb

    model = torch.nn.Conv2d(1, 1, 1)
    nn.fit(model, x, x, F.mse_loss, steps=6, batch_size=3, seed=0, augment=spy, progress=False)
    # two batches of 3 per epoch of 7 images (the 7th waits for the next epoch), three epochs
    for e in range(3):
        epoch = seen[6 * e:6 * e + 6]
        assert len(set(epoch)) == 6 and set(epoch) <= set(range(n))


def test_fit_validates_every_k_steps_and_at_the_end_in_eval_mode():
    x, y = _toy(4, 16)
    modes = []

    def val(model):
        modes.append(model.training)
        return 0.25

    h = nn.fit(nn.tiny_segmenter(2), x, y, F.binary_cross_entropy_with_logits, steps=11,
               batch_size=2, val=val, val_every=5, progress=False)
    assert h.val_steps == [5, 10, 11] and h.val == [0.25] * 3 and modes == [False] * 3
    assert len(h.loss) == 11 and all(np.isfinite(h.loss))


def test_fit_accepts_class_indices_for_cross_entropy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1, 8, 8))
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 0] > 1)
    m = torch.nn.Conv2d(1, 3, 1)
    h = nn.fit(m, x, y, torch.nn.CrossEntropyLoss(), steps=30, batch_size=4, lr=0.05,
               progress=False)
    assert h.loss[-1] < h.loss[0]


_X8, _Y8 = np.zeros((4, 1, 4, 4)), np.zeros((4, 1, 4, 4))
FIT_CALLS = [
    (nn.fit, (torch.nn.Identity(), _X8, _Y8, F.mse_loss), {"batch_size": 5}, ValueError,
     "^batch_size must be"),
    (nn.fit, (torch.nn.Identity(), _X8, _Y8[:3], F.mse_loss), {}, ValueError, "^targets must"),
    (nn.fit, (torch.nn.Identity(), _X8, _Y8, F.mse_loss), {"val": 0.5}, TypeError, "^val must"),
    (nn.fit, (torch.nn.Identity(), _X8, _Y8, F.mse_loss), {"augment": "flip"}, TypeError,
     "^augment must"),
    (nn.fit, ("model", _X8, _Y8, F.mse_loss), {}, TypeError, "^model must"),
    (nn.fit, (torch.nn.Identity(), _X8, _Y8, F.mse_loss), {"progress": "no"}, TypeError,
     "^progress must"),
    (nn.fit, (torch.nn.Identity(), np.zeros(4), np.zeros(4), F.mse_loss), {}, ValueError,
     "^images must"),
]

test_fit_bad_input_raises_a_clear_error = bad_input_test(FIT_CALLS)


def _fit_call():
    x, y = nn.lesion_task(2, 12, 0)
    return C(nn.tiny_segmenter(2, seed=0), x, y, F.binary_cross_entropy_with_logits, steps=2,
             batch_size=2, lr=0.01, seed=0, progress=False)


BAD_INPUT_CALLS = {
    "nn.training.fit": Entry(_fit_call, mutable={"model"}),   # fit trains the model it is given
    "nn.training.History": Entry(lambda: C([1.0], [1], [0.5]), mutate=False),  # a record
}
