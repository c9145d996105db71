"""Tests of medlib.trust.data_efficient: augmentation against scipy.ndimage and Part II, the
masked-patch pretext, weight transfer, the EMA closed form and the mean teacher's determinism."""
from __future__ import annotations

import functools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from badinput import C, Entry  # noqa: E402
from scipy import ndimage  # noqa: E402

from medlib import prep  # noqa: E402
from medlib.segmentation import UNet  # noqa: E402
from medlib.trust import data_efficient as de  # noqa: E402

_X = np.random.default_rng(0).normal(size=(2, 1, 8, 8)).astype(np.float32)
_Y = (np.arange(2 * 64).reshape(2, 8, 8) % 3).astype(np.int64)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _tiny(c_in=1, c_out=1, seed=0):
    return UNet(c_in, c_out, depth=1, base_channels=2, seed=seed)


def _ce(out, y):
    return torch.nn.functional.cross_entropy(out, y)


BAD_INPUT_CALLS = {
    "trust.data_efficient.index_affine_to_theta": Entry(
        lambda: C(np.array([[0.9, 0.1], [-0.1, 0.9]]), np.array([0.5, -0.2]), (8, 10))),
    "trust.data_efficient.warp": Entry(
        lambda: C(_X, np.array([[[0.9, 0.1, 0.0], [-0.1, 0.9, 0.1]]]))),
    "trust.data_efficient.augment_batch": Entry(
        lambda: C(_X, _Y, _gen(), rotation_deg=10.0, scale=0.1), skip={"generator"}),
    "trust.data_efficient.pretext_batch": Entry(
        lambda: C(_X, _X, _gen(), patch=4, ratio=0.25), skip={"generator"}),
    "trust.data_efficient.masked_mse": Entry(
        lambda: C(torch.ones(1, 1, 4, 4), torch.cat([torch.zeros(1, 1, 4, 4),
                                                     torch.ones(1, 1, 4, 4)], 1))),
    "trust.data_efficient.pretrain": Entry(
        lambda: C(_tiny(), _X, steps=2, batch_size=2, patch=4, progress=False),
        skip={"model"}, mutable={"model"}),      # a network: not mutated, trained in place
    "trust.data_efficient.transfer_weights": Entry(
        lambda: C(_tiny(1, 1, seed=1), _tiny(1, 3)), skip={"pretrained", "model"},
        mutable={"model"}),
    "trust.data_efficient.ema_update": Entry(
        lambda: C(_tiny(seed=1), _tiny(), 0.9), skip={"teacher", "student"},
        mutable={"teacher"}),
    "trust.data_efficient.mean_teacher": Entry(
        lambda: C(_tiny(1, 3), _X, _Y, _X, _ce, steps=2, batch_size=2,
                  unlabelled_batch_size=2, progress=False),
        skip={"student", "loss_fn"}, mutable={"student"}),
}


# --- augmentation --------------------------------------------------------------------------------

def test_index_affine_matches_scipy_and_part_two():
    img = np.random.default_rng(1).normal(size=(12, 16))
    img = ndimage.gaussian_filter(img, 1.0)
    matrix, offset = prep.random_affine(img.shape, 3, rotation_deg=20.0, scale_range=(0.8, 1.2),
                                        translation_mm=2.0)
    theta = de.index_affine_to_theta(matrix, offset, img.shape)
    ours = de.warp(img[None, None], theta)[0, 0].double().numpy()
    ref = ndimage.affine_transform(img, matrix, offset, order=1, mode="grid-constant", cval=0.0)
    np.testing.assert_allclose(ours, ref, atol=2e-5)
    coords = prep.sampling_coordinates(img.shape, matrix, offset)
    part2 = np.asarray(prep.spatial_augment(img, coords)[0])   # Part II, NumPy side
    inside = np.all((coords >= 0) & (coords <= np.array(img.shape)[:, None, None] - 1), axis=0)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(ours[inside], part2[inside], atol=2e-5)


def test_identity_theta_and_identity_augmentation_are_exact():
    theta = de.index_affine_to_theta(np.eye(2), np.zeros(2), (8, 8))
    np.testing.assert_allclose(theta.numpy(), [[[1, 0, 0], [0, 1, 0]]], atol=1e-7)
    x, y = torch.as_tensor(_X), torch.as_tensor(_Y)
    xo, yo = de.augment_batch(x, y, _gen(), rotation_deg=0.0, scale=0.0, flip=False)
    assert torch.equal(xo, x) and torch.equal(yo, y)
    lab = de.warp(y[:, None].float(), theta, mode="nearest")[:, 0].long()
    assert torch.equal(lab, y)


def test_a_pure_flip_mirrors_each_image_or_leaves_it():
    x, y = torch.as_tensor(_X), torch.as_tensor(_Y)
    xo, yo = de.augment_batch(x, y, _gen(5), rotation_deg=0.0, scale=0.0, flip=True)
    for i in range(2):
        same = torch.allclose(xo[i], x[i], atol=1e-5) and torch.equal(yo[i], y[i])
        mirrored = torch.allclose(xo[i], x[i].flip(-1), atol=1e-5) and torch.equal(
            yo[i], y[i].flip(-1))
        assert same or mirrored


def test_a_labelled_shape_moves_with_its_image():
    yy, xx = np.mgrid[:32, :32]
    label = (((yy - 12) ** 2 + (xx - 19) ** 2) < 36).astype(np.int64)     # an off-centre disc
    image = torch.as_tensor(label[None, None].repeat(4, 0), dtype=torch.float32)
    labels = torch.as_tensor(label[None].repeat(4, 0))
    xo, yo = de.augment_batch(image, labels, _gen(2), rotation_deg=30.0, scale=0.2)
    assert yo.dtype == torch.int64 and set(yo.unique().tolist()) <= {0, 1}
    agree = ((xo[:, 0] > 0.5) == (yo == 1)).float().mean()
    assert agree > 0.98
    moved = (yo != labels).any(dim=(1, 2))
    assert bool(moved.any())                   # something did move


def test_augmentation_is_deterministic_from_the_generator_and_pure():
    x, y = torch.as_tensor(_X), torch.as_tensor(_Y)
    x0, y0 = x.clone(), y.clone()
    a = de.augment_batch(x, y, _gen(7))
    b = de.augment_batch(x, y, _gen(7))
    c = de.augment_batch(x, y, _gen(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_augmentation_refuses_bad_input_by_name():
    x, y = torch.as_tensor(_X), torch.as_tensor(_Y)
    with pytest.raises(TypeError, match="generator"):
        de.augment_batch(x, y, 0)
    with pytest.raises(ValueError, match="rotation_deg"):
        de.augment_batch(x, y, _gen(), rotation_deg=-1.0)
    with pytest.raises(ValueError, match="y"):
        de.augment_batch(x, y[:, :4], _gen())
    with pytest.raises(ValueError, match="mode"):
        de.warp(x, torch.eye(2, 3)[None], mode="cubic")


# --- the pretext ---------------------------------------------------------------------------------

@pytest.mark.formula("trust.self-supervised")
def test_pretext_masks_whole_patches_and_only_there():
    x = torch.as_tensor(np.random.default_rng(2).normal(size=(3, 2, 16, 12)), dtype=torch.float32)
    masked, target = de.pretext_batch(x, x, _gen(3), patch=4, ratio=0.25)
    m = target[:, -1:]
    assert torch.equal(target[:, :-1], x)
    assert set(m.unique().tolist()) == {0.0, 1.0}
    # 4 x 3 tiles, round(0.25 * 12) = 3 hidden per image, whole tiles
    tiles = m[:, 0].reshape(3, 4, 4, 3, 4)
    assert torch.equal(tiles.amin(dim=(2, 4)), tiles.amax(dim=(2, 4)))
    assert torch.equal(tiles.amax(dim=(2, 4)).sum(dim=(1, 2)), torch.full((3,), 3.0))
    diff = masked != x
    assert not bool(diff[(m == 0).expand_as(x)].any())            # unmasked: untouched
    assert bool((masked[(m == 1).expand_as(x)] == 0).all())       # masked: zero


@pytest.mark.formula("trust.self-supervised")
def test_the_loss_of_the_identity_is_the_masked_energy():
    x = torch.as_tensor(np.random.default_rng(4).normal(size=(2, 3, 8, 8)), dtype=torch.float32)
    masked, target = de.pretext_batch(x, x, _gen(1), patch=2, ratio=0.5)
    m = target[:, -1:].numpy()
    energy = float((m * x.numpy() ** 2).sum() / (3 * m.sum()))
    assert float(de.masked_mse(masked, target)) == pytest.approx(energy, rel=1e-6)
    assert float(de.masked_mse(x, target)) == 0.0                # a perfect reconstruction
    with pytest.raises(ValueError, match="target"):
        de.masked_mse(x, target[:, :2])


def test_pretraining_is_deterministic_and_leaves_the_global_state():
    state = torch.random.get_rng_state()
    a, b = _tiny(), _tiny()
    ha = de.pretrain(a, _X, steps=3, batch_size=2, patch=4, seed=2, progress=False)
    hb = de.pretrain(b, _X, steps=3, batch_size=2, patch=4, seed=2, progress=False)
    assert torch.equal(state, torch.random.get_rng_state())
    assert ha.loss == hb.loss and len(ha.loss) == 3
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.head.weight, _tiny().head.weight)


def test_transfer_copies_exactly_the_named_tensors():
    src, dst = _tiny(1, 1, seed=1), _tiny(1, 3, seed=2)
    head_before = dst.head.weight.clone()
    copied = de.transfer_weights(src, dst)
    names = [n for n in dst.state_dict() if not n.startswith("head.")]
    assert copied == names
    for n in names:
        assert torch.equal(dst.state_dict()[n], src.state_dict()[n])
    assert torch.equal(dst.head.weight, head_before)
    assert any("running_mean" in n for n in copied)              # batch-norm statistics too
    with pytest.raises(ValueError, match="pretrained"):
        de.transfer_weights(_tiny(2, 1), _tiny(1, 3))           # first convolution differs
    with pytest.raises(TypeError, match="exclude"):
        de.transfer_weights(src, dst, exclude="head")


# --- mean teacher --------------------------------------------------------------------------------

@pytest.mark.formula("trust.mean-teacher")
def test_ema_update_is_the_closed_form():
    teacher, student = _tiny(seed=1), _tiny(seed=2)
    t0 = {k: v.clone() for k, v in teacher.state_dict().items()}
    s0 = {k: v.clone() for k, v in student.state_dict().items()}
    student.encoder[0][1].running_mean.fill_(0.7)                 # a buffer to copy
    de.ema_update(teacher, student, 0.9)
    for k, p in teacher.named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), 0.9 * t0[k].numpy() + 0.1 * s0[k].numpy(),
                                   rtol=1e-6, atol=1e-7)
    assert torch.equal(teacher.encoder[0][1].running_mean, student.encoder[0][1].running_mean)
    for k, v in student.state_dict().items():
        if "running_mean" not in k:
            assert torch.equal(v, s0[k])                          # the student is not touched
    de.ema_update(teacher, student, 0.0)
    for a, b in zip(teacher.parameters(), student.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="beta"):
        de.ema_update(teacher, student, 1.5)
    with pytest.raises(ValueError, match="architecture"):
        de.ema_update(_tiny(), _tiny(1, 3), 0.5)


def _mt(seed, beta=0.9):
    student = _tiny(1, 3)
    teacher, hist = de.mean_teacher(student, _X, _Y, _X[::-1].copy(), _ce, steps=4, batch_size=1,
                                    unlabelled_batch_size=2, seed=seed, beta=beta,
                                    augment=de.augment_batch, progress=False)
    return student, teacher, hist


@pytest.mark.formula("trust.mean-teacher")
def test_mean_teacher_is_deterministic_and_its_teacher_averages_the_students():
    state = torch.random.get_rng_state()
    s1, t1, h1 = _mt(3)
    s2, t2, h2 = _mt(3)
    assert torch.equal(state, torch.random.get_rng_state())
    assert h1.loss == h2.loss and len(h1.loss) == 4
    for a, b in zip(list(s1.parameters()) + list(t1.parameters()),
                    list(s2.parameters()) + list(t2.parameters())):
        assert torch.equal(a, b)
    assert not torch.equal(s1.head.weight, t1.head.weight)      # the teacher lags
    s0, t0, _ = _mt(3, beta=0.0)                                  # beta 0: the teacher is the
    for a, b in zip(s0.parameters(), t0.parameters()):          # student after the last step
        assert torch.equal(a, b)


def test_mean_teacher_refuses_bad_input_by_name():
    with pytest.raises(ValueError, match="unlabelled"):
        de.mean_teacher(_tiny(1, 3), _X, _Y, _X[:, :, :4], _ce, steps=1, progress=False)
    with pytest.raises(ValueError, match="beta"):
        de.mean_teacher(_tiny(1, 3), _X, _Y, _X, _ce, steps=1, beta=2.0, progress=False)
    with pytest.raises(TypeError, match="loss_fn"):
        de.mean_teacher(_tiny(1, 3), _X, _Y, _X, None, steps=1, progress=False)


def test_fit_accepts_augment_batch_and_stays_deterministic():
    from medlib import nn as mnn
    aug = functools.partial(de.augment_batch, rotation_deg=15.0)
    a, b = _tiny(1, 3), _tiny(1, 3)
    mnn.fit(a, _X, _Y, _ce, steps=3, batch_size=1, seed=4, augment=aug, progress=False)
    mnn.fit(b, _X, _Y, _ce, steps=3, batch_size=1, seed=4, augment=aug, progress=False)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
