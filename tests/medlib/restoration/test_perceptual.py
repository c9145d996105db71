"""medlib.restoration.perceptual: perceptual and adversarial losses, the networks and training."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from badinput import C, Entry

from medlib.nn import fit
from medlib.restoration import denoising as dn
from medlib.restoration import perceptual as P

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _images(n=3, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 0.3, (n, size, size))


def _tiny_ae():
    return P.ConvAutoencoder((2, 3, 4), seed=0)


BAD_INPUT_CALLS = {
    "restoration.perceptual.ConvAutoencoder": Entry(lambda: C((2, 3, 4), seed=0)),
    "restoration.perceptual.PatchDiscriminator": Entry(lambda: C(4, seed=0)),
    "restoration.perceptual.PerceptualLoss": Entry(lambda: C(_tiny_ae(), (1, 2),
                                                             reduction="mean"),
                                                   mutable={"feature_net"}),  # frozen in place
    "restoration.perceptual.discriminator_loss": Entry(
        lambda: C(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([-1.0, 3.0]))),
    "restoration.perceptual.generator_loss": Entry(
        lambda: C(torch.tensor([1.0, -2.0, 0.5]), saturating=False)),
    "restoration.perceptual.restore": Entry(
        lambda: C(dn.DnCNN(4, 3, identity_init=True, seed=0), _images(2, 8)),
        skip={"model"}),   # a network: not mutated
    "restoration.perceptual.train_autoencoder": Entry(
        lambda: C(_images(2, 8), steps=2, crop=8, batch=2, lr=1e-3, channels=(2, 2, 2),
                  seed=0)),
    "restoration.perceptual.train_restorer": Entry(
        lambda: C(_images(2, 8), _images(2, 8, 1), steps=2, crop=8, batch=2, lr=1e-3,
                  channels=2, depth=2, adversarial_weight=0.1, seed=0),
        skip={"perceptual"}),  # a PerceptualLoss object, None here
}


# ---------------------------------------------------------------------------------------------
# Perceptual loss
# ---------------------------------------------------------------------------------------------
@pytest.mark.formula("restore.perceptual")
def test_perceptual_loss_equals_direct_sum_of_layer_mses():
    ae = _tiny_ae()
    x = torch.as_tensor(_images(2, 16), dtype=torch.float32).unsqueeze(1)
    y = torch.as_tensor(_images(2, 16, 5), dtype=torch.float32).unsqueeze(1)
    # direct computation, written out layer by layer with explicit convolutions
    fx, fy, direct = x, y, 0.0
    for stage in ae.stages:  # (no autograd needed for the reference)
        conv = stage[0]
        fx = torch.relu(torch.nn.functional.conv2d(fx, conv.weight, conv.bias, conv.stride,
                                                   conv.padding))
        fy = torch.relu(torch.nn.functional.conv2d(fy, conv.weight, conv.bias, conv.stride,
                                                   conv.padding))
        direct += float(((fx - fy) ** 2).sum().detach()) / fx.numel()
    loss = P.PerceptualLoss(ae)(x, y)
    assert float(loss) == pytest.approx(direct, rel=1e-5)
    total = P.PerceptualLoss(ae, reduction="sum")(x, y)
    sums = sum(float(((a - b) ** 2).sum()) for a, b in zip(ae.features(x), ae.features(y)))
    assert float(total) == pytest.approx(sums, rel=1e-5)


def test_perceptual_loss_layer_selection():
    ae = _tiny_ae()
    x = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    y = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(2))
    fx, fy = ae.features(x), ae.features(y)
    only_last = P.PerceptualLoss(ae, (2,))(x, y)
    assert float(only_last) == pytest.approx(float(F.mse_loss(fx[2], fy[2]).detach()),
                                             rel=1e-6)
    with pytest.raises(ValueError, match="layers"):
        P.PerceptualLoss(ae, (5,))(x, y)


@pytest.mark.formula("restore.perceptual")
def test_perceptual_loss_zero_for_identical_and_positive_otherwise():
    ae = _tiny_ae()
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    loss = P.PerceptualLoss(ae)
    assert float(loss(x, x.clone())) == 0.0
    assert float(loss(x, x + 0.5 * torch.randn(x.shape, generator=torch.Generator()
                                                .manual_seed(4)))) > 0.0


def test_perceptual_gradients_reach_the_generator_only():
    ae = _tiny_ae()
    loss_fn = P.PerceptualLoss(ae)
    gen = dn.DnCNN(4, 3, identity_init=True, seed=1)
    torch.nn.init.normal_(gen.body[-1].weight, std=0.1)   # leave the identity start
    x = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    y = torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(6))
    loss_fn(gen(x), y).backward()
    assert all(p.grad is None for p in ae.parameters())
    assert all(not p.requires_grad for p in ae.parameters())
    grads = [p.grad for p in gen.parameters()]
    assert all(g is not None for g in grads) and sum(float(g.abs().sum()) for g in grads) > 0
    # the target's features carry no graph: a target that requires grad gets none
    yt = y.clone().requires_grad_(True)
    loss_fn(gen(x), yt).backward()
    assert yt.grad is None
    loss_fn.train()
    assert not ae.training


def test_perceptual_loss_refuses_bad_arguments():
    with pytest.raises(TypeError, match="feature_net"):
        P.PerceptualLoss(torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="reduction"):
        P.PerceptualLoss(_tiny_ae(), reduction="none")
    loss = P.PerceptualLoss(_tiny_ae())
    with pytest.raises(ValueError, match="shape"):
        loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16))


# ---------------------------------------------------------------------------------------------
# Adversarial loss
# ---------------------------------------------------------------------------------------------
@pytest.mark.formula("restore.adversarial")
def test_discriminator_loss_matches_bce_with_logits():
    real = torch.tensor([3.0, -1.0, 0.0, 20.0, -30.0])
    fake = torch.tensor([-2.0, 0.5, 40.0, -40.0])
    expected = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    assert float(P.discriminator_loss(real, fake)) == pytest.approx(float(expected), rel=1e-6)
    # closed form at zero logits: D = 1/2 everywhere, loss 2 ln 2
    z = torch.zeros(7)
    assert float(P.discriminator_loss(z, z)) == pytest.approx(2 * np.log(2), rel=1e-6)


@pytest.mark.formula("restore.adversarial")
def test_generator_loss_forms_and_their_gradients():
    logits = torch.tensor([-8.0, -2.0, 0.0, 1.5, 6.0], dtype=torch.float64,
                          requires_grad=True)
    ns = P.generator_loss(logits)
    expected = F.binary_cross_entropy_with_logits(logits.detach(), torch.ones(5,
                                                                                dtype=torch.float64))
    assert float(ns.detach()) == pytest.approx(float(expected), rel=1e-12)
    ns.backward()
    sig = torch.sigmoid(logits.detach())
    assert torch.allclose(logits.grad, -(1 - sig) / 5, atol=1e-12)
    logits.grad = None
    sat = P.generator_loss(logits, saturating=True)
    # log(1 - D) = -BCE(l, 0): the minimax generator minimises E log(1 - D(G(x)))
    assert float(sat.detach()) == pytest.approx(-float(F.binary_cross_entropy_with_logits(
        logits.detach(), torch.zeros(5, dtype=torch.float64))), rel=1e-12)
    sat.backward()
    assert torch.allclose(logits.grad, -sig / 5, atol=1e-12)
    # a confidently rejected G(x): saturating gradient vanishes, non-saturating does not
    assert abs(float(logits.grad[0])) * 5 < 1e-3


def test_adversarial_losses_refuse_bad_logits():
    with pytest.raises(TypeError, match="real_logits"):
        P.discriminator_loss(np.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="fake_logits"):
        P.discriminator_loss(torch.zeros(3), torch.tensor([np.nan]))
    with pytest.raises(TypeError, match="fake_logits"):
        P.generator_loss(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="saturating"):
        P.generator_loss(torch.zeros(3), saturating="yes")


def test_patch_discriminator_receptive_field_is_18_pixels():
    # r = 4 (conv 4, stride 2), + (4 - 1) * 2 = 10 (conv 4 after stride 2), + (3 - 1) * 4 = 18
    d = P.PatchDiscriminator(4, seed=0)
    x = torch.zeros(1, 1, 32, 32, requires_grad=True)
    d(x)[0, 0, 4, 4].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    assert int(rows.max() - rows.min() + 1) == 18
    assert int(cols.max() - cols.min() + 1) == 18


# ---------------------------------------------------------------------------------------------
# Networks and training
# ---------------------------------------------------------------------------------------------
def test_untrained_generator_is_the_identity_and_restore_keeps_shapes():
    g = dn.DnCNN(4, 3, identity_init=True, seed=0)
    img = _images(2, 12)
    np.testing.assert_allclose(P.restore(g, img), img, atol=1e-6)
    assert P.restore(g, img[0]).shape == (12, 12)
    before = img.copy()
    P.restore(g, img)
    assert np.array_equal(img, before)


def test_networks_leave_global_random_state_untouched():
    state = torch.random.get_rng_state()
    P.ConvAutoencoder(seed=3)
    P.PatchDiscriminator(seed=3)
    dn.DnCNN(seed=3, identity_init=True)
    assert torch.equal(state, torch.random.get_rng_state())


def test_training_is_deterministic_and_learns():
    rng = np.random.default_rng(0)
    clean = np.zeros((4, 24, 24))
    clean[:, 6:18, 6:18] = 1.0
    noisy = clean + rng.normal(0, 0.3, clean.shape)
    kw = dict(steps=25, crop=16, batch=4, lr=3e-3, channels=4, depth=3, seed=2)
    g1, h1 = P.train_restorer(noisy, clean, adversarial_weight=0.05, **kw)
    g2, h2 = P.train_restorer(noisy, clean, adversarial_weight=0.05, **kw)
    for a, b in zip(g1.state_dict().values(), g2.state_dict().values()):
        assert torch.equal(a, b)
    assert h1 == h2
    assert np.mean(h1["pixel"][-5:]) < 0.8 * h1["pixel"][0]
    assert all(v > 0 for v in h1["discriminator"])
    ae1, a1 = P.train_autoencoder(clean, steps=20, crop=16, batch=2, channels=(2, 3, 4), seed=1)
    ae2, a2 = P.train_autoencoder(clean, steps=20, crop=16, batch=2, channels=(2, 3, 4), seed=1)
    assert a1 == a2 and a1[-1] < a1[0]
    assert all(torch.equal(a, b) for a, b in zip(ae1.state_dict().values(),
                                                 ae2.state_dict().values()))
    # with a perceptual term
    perc = P.PerceptualLoss(ae1)
    _, h3 = P.train_restorer(noisy, clean, perceptual=perc, perceptual_weight=1.0, **kw)
    assert h3["perceptual"][0] > 0 and h3["adversarial"] == [0.0] * 25


def test_training_refuses_bad_arguments():
    img = _images(2, 16)
    with pytest.raises(ValueError, match="perceptual_weight"):
        P.train_restorer(img, img, perceptual_weight=1.0, steps=1, crop=8)
    with pytest.raises(ValueError, match="crop"):
        P.train_restorer(img, img, steps=1, crop=32)
    with pytest.raises(ValueError, match="noisy"):
        P.train_restorer(img, img[:1], steps=1, crop=8)
    with pytest.raises(TypeError, match="perceptual"):
        P.train_restorer(img, img, perceptual="vgg", steps=1, crop=8)
    with pytest.raises(ValueError, match="crop"):
        P.train_autoencoder(img, steps=1, crop=10)
    with pytest.raises(TypeError, match="seed"):
        P.ConvAutoencoder(seed=np.random.default_rng(0))


def test_training_goes_through_the_shared_trainer_fit():
    """train_autoencoder and train_restorer (pixel, perceptual) are fit with crop_augment."""
    imgs = _images(3, 16)
    ae, hist = P.train_autoencoder(imgs, steps=6, crop=8, batch=4, lr=1e-3,
                                   channels=(2, 3, 4), seed=4)
    ref = P.ConvAutoencoder((2, 3, 4), seed=4)
    h_ref = fit(ref, imgs[:, None], imgs[:, None], F.mse_loss, steps=6, batch_size=3, lr=1e-3,
                seed=4, augment=dn.crop_augment(8, 4), progress=False)
    assert hist == h_ref.loss
    assert all(torch.equal(a, b) for a, b in zip(ae.state_dict().values(),
                                                 ref.state_dict().values()))
    noisy = imgs + _images(3, 16, seed=1)
    g, h = P.train_restorer(noisy, imgs, steps=6, crop=8, batch=2, lr=1e-3, channels=3,
                            depth=3, seed=5)
    ref_g = dn.DnCNN(3, 3, identity_init=True, seed=5)
    h_g = fit(ref_g, noisy[:, None], imgs[:, None], F.mse_loss, steps=6, batch_size=2, lr=1e-3,
              seed=5, augment=dn.crop_augment(8, 2), progress=False)
    np.testing.assert_allclose(h["pixel"], h_g.loss, rtol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(g.state_dict().values(),
                                                 ref_g.state_dict().values()))


def test_adversarial_training_alternates_one_discriminator_step_per_generator_step():
    """The discriminator loss recorded at step 0 is that of the untrained discriminator on the
    untrained (identity) generator's output, and the discriminator changes during training."""
    rng = np.random.default_rng(3)
    clean = np.zeros((2, 16, 16))
    clean[:, 4:12, 4:12] = 1.0
    noisy = clean + rng.normal(0, 0.3, clean.shape)
    _, h = P.train_restorer(noisy, clean, adversarial_weight=0.1, steps=3, crop=16, batch=2,
                            channels=3, depth=3, seed=7)
    d0 = P.PatchDiscriminator(seed=8)           # the discriminator's seed is the generator's + 1
    x = torch.as_tensor(noisy[:, None], dtype=torch.float32)
    y = torch.as_tensor(clean[:, None], dtype=torch.float32)
    with torch.no_grad():   # whole-image crops, 2 drawn with replacement: one of 4 batches
        options = [float(P.discriminator_loss(d0(y[[i, j]]), d0(x[[i, j]])))
                   for i in range(2) for j in range(2)]
    assert min(abs(h["discriminator"][0] - v) for v in options) < 1e-5
    assert len(h["discriminator"]) == 3 and len(set(h["discriminator"])) == 3
