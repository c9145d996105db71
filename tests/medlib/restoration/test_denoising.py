"""medlib.restoration.denoising: the residual CNN, its deterministic training, the grid search of
the classical denoisers and the power-spectrum ratio, against PyTorch, scikit-image and closed
forms."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from badinput import C, Entry
from helpers import bad_input_test
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio
from skimage.restoration import denoise_tv_chambolle

from medlib.nn import fit
from medlib.restoration import denoising as dn

torch.set_num_threads(1)


def _pairs(seed=0, n=3, size=24, sigma=80.0):
    """Smooth 'anatomy' in HU plus white noise: a denoising problem with a known answer."""
    g = np.random.default_rng(seed)
    clean = ndimage.gaussian_filter(g.normal(0, 1, (n, size, size)), (0, 3, 3))
    clean = clean / clean.std() * 200.0
    return clean + g.normal(0, sigma, clean.shape), clean


_X8 = np.random.default_rng(1).normal(0, 100.0, (1, 8, 8))

BAD_INPUT_CALLS = {
    "restoration.denoising.DnCNN": Entry(lambda: C(3, 3, identity_init=True, seed=1),
                                         mutate=False),
    "restoration.denoising.crop_augment": Entry(lambda: C(8, 3)),
    "restoration.denoising.train_denoiser": Entry(
        lambda: C(_X8, _X8 * 0.5, steps=2, batch_size=2, patch_size=8, channels=2, depth=2)),
    "restoration.denoising.denoise": Entry(
        lambda: C(dn.DnCNN(2, 2, seed=0), _X8[0]), skip={"model"}),   # a network: not mutated
    "restoration.denoising.tune_denoiser": Entry(
        lambda: C(lambda im, w: im * w, _X8[0], _X8[0] * 0.4, {"w": [0.25, 0.5, 1.0]},
                  data_range=400.0),
        skip={"denoiser", "grid"}),           # a callable and a dict: their own tests below
    "restoration.denoising.power_ratio": Entry(
        lambda: C(_X8[0] * 0.5, _X8[0], 1.0)),
}


# --- the network ---------------------------------------------------------------------------------

def test_dncnn_is_reproducible_keeps_the_size_and_starts_near_the_identity():
    state = torch.random.get_rng_state()
    a, b = dn.DnCNN(8, 4, seed=3), dn.DnCNN(8, 4, seed=3)
    assert torch.equal(state, torch.random.get_rng_state())      # caller's state untouched
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.body[0].weight, dn.DnCNN(8, 4, seed=4).body[0].weight)
    x = torch.randn(2, 1, 17, 23, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = a(x)
        body = a.body(x)
    assert y.shape == x.shape
    assert torch.allclose(y, x - body)                     # residual: x minus the noise
    assert float((y - x).abs().max()) < 0.5 * float(x.abs().max())


def test_dncnn_receptive_field_is_2_depth_plus_1_without_dilation_and_wider_with_it():
    for dilated, expected in ((False, 2 * 5 + 1), (True, 1 + 2 * (1 + 2 + 4 + 2 + 1))):
        net = dn.DnCNN(4, 5, dilated=dilated, seed=0)
        x = torch.zeros(1, 1, 41, 41, requires_grad=True)
        net.body(x)[0, 0, 20, 20].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
        assert int(rows.max() - rows.min() + 1) == expected


def test_identity_init_makes_the_untrained_network_the_identity_with_the_same_hidden_layers():
    a = dn.DnCNN(4, 3, identity_init=True, seed=2)
    b = dn.DnCNN(4, 3, seed=2)                       # default: last layer scaled by 0.1
    x = torch.randn(2, 1, 9, 11, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(a(x), x)
        assert not torch.equal(b(x), x)
    assert int(torch.count_nonzero(a.body[-1].weight.detach())) == 0
    assert int(torch.count_nonzero(b.body[-1].weight.detach())) > 0
    for la, lb in zip(list(a.parameters())[:-2], list(b.parameters())[:-2]):
        assert torch.equal(la, lb)                   # same draws for the hidden layers
    with pytest.raises(TypeError, match="identity_init"):
        dn.DnCNN(identity_init="yes")


# --- the patch recipe -------------------------------------------------------------------------

def test_crop_augment_cuts_the_same_patches_of_x_and_y_by_slicing_and_is_deterministic():
    x = torch.arange(2 * 10 * 12, dtype=torch.float32).reshape(2, 1, 10, 12)
    y = -x
    aug = dn.crop_augment(4, 5)
    xp, yp = aug(x, y, torch.Generator().manual_seed(3))
    assert xp.shape == yp.shape == (5, 1, 4, 4)
    assert torch.equal(yp, -xp)
    for patch in xp[:, 0]:                           # every patch is a slice of one image
        v = int(patch[0, 0])
        k, r, c = v // 120, (v % 120) // 12, v % 12
        assert torch.equal(patch, x[k, 0, r:r + 4, c:c + 4])
    xq, _ = aug(x, y, torch.Generator().manual_seed(3))
    assert torch.equal(xp, xq)
    with pytest.raises(ValueError, match="patch_size"):
        dn.crop_augment(16, 2)(x, y, torch.Generator())


# --- training ---------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, reference", [("l1", F.l1_loss), ("l2", F.mse_loss)])
def test_first_loss_is_pytorchs_loss_of_the_untrained_network(loss, reference):
    noisy, clean = _pairs(n=1, size=16)
    _, history = dn.train_denoiser(noisy, clean, loss=loss, steps=1, batch_size=1,
                                   patch_size=16, channels=4, depth=3, seed=5)
    net = dn.DnCNN(4, 3, seed=5)                     # the same initial weights
    x = torch.as_tensor(noisy / 1000.0, dtype=torch.float32)[:, None]
    y = torch.as_tensor(clean / 1000.0, dtype=torch.float32)[:, None]
    assert history[0] == pytest.approx(float(reference(net(x), y).detach()), rel=1e-5)


def test_training_is_bit_reproducible_pure_and_leaves_the_global_state_alone():
    noisy, clean = _pairs()
    n0, c0 = noisy.copy(), clean.copy()
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()  # noqa: NPY002 (checked untouched)
    kw = dict(steps=5, batch_size=4, patch_size=16, channels=4, depth=3, seed=2)
    a, ha = dn.train_denoiser(noisy, clean, **kw)
    b, hb = dn.train_denoiser(noisy, clean, **kw)
    assert ha == hb
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert torch.equal(torch_state, torch.random.get_rng_state())
    assert np.array_equal(np_state[1], np.random.get_state()[1])  # noqa: NPY002
    np.testing.assert_array_equal(noisy, n0)
    np.testing.assert_array_equal(clean, c0)
    assert not a.training


def test_train_denoiser_is_the_shared_trainer_fit_with_the_patch_recipe():
    noisy, clean = _pairs(n=3, size=20)
    model, history = dn.train_denoiser(noisy, clean, steps=4, batch_size=5, patch_size=12,
                                       channels=3, depth=3, seed=6)
    ref = dn.DnCNN(3, 3, seed=6)
    h = fit(ref, noisy[:, None] / 1000.0, clean[:, None] / 1000.0, F.mse_loss, steps=4,
            batch_size=3, lr=2e-3, seed=6, augment=dn.crop_augment(12, 5), progress=False)
    assert history == h.loss
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), ref.parameters()))


def test_training_lowers_the_error_on_held_out_images():
    noisy, clean = _pairs(seed=0, n=4, size=32)
    test_noisy, test_clean = _pairs(seed=1, n=2, size=32)
    model, history = dn.train_denoiser(noisy, clean, steps=150, batch_size=4, patch_size=24,
                                       channels=8, depth=4, lr=3e-3, seed=0)
    assert np.mean(history[-20:]) < 0.5 * np.mean(history[:5])
    out = dn.denoise(model, test_noisy)
    assert np.mean((out - test_clean) ** 2) < 0.6 * np.mean((test_noisy - test_clean) ** 2)


# --- applying the network ----------------------------------------------------------------------

def test_denoise_is_the_network_on_hu_over_1000_for_one_slice_or_a_stack():
    model = dn.DnCNN(4, 3, seed=0)
    model.train()
    noisy, _ = _pairs(n=2, size=12)
    with torch.no_grad():
        ref = model(torch.as_tensor(noisy / 1000.0, dtype=torch.float32)[:, None])[:, 0]
    out = dn.denoise(model, noisy)
    np.testing.assert_allclose(out, ref.double().numpy() * 1000.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(dn.denoise(model, noisy[1]), out[1], atol=1e-3)
    assert out.dtype == np.float64 and out.shape == noisy.shape
    assert model.training                                   # its mode is restored


# --- tuning the classical denoisers ------------------------------------------------------------

def test_tune_denoiser_scores_are_skimages_psnr_and_the_best_is_their_argmax():
    noisy, clean = _pairs(n=2, size=32)
    grid = {"weight": [5.0, 40.0, 200.0]}
    best, scores = dn.tune_denoiser(denoise_tv_chambolle, noisy, clean, grid, data_range=2000.0)
    expected = [np.mean([peak_signal_noise_ratio(c, denoise_tv_chambolle(x, weight=w),
                                                 data_range=2000.0)
                         for x, c in zip(noisy, clean)]) for w in grid["weight"]]
    np.testing.assert_allclose([s for _, s in scores], expected, rtol=1e-12)
    assert best == {"weight": grid["weight"][int(np.argmax(expected))]}


def test_tune_denoiser_closed_form_psnr_of_a_constant_offset():
    clean = np.zeros((8, 8))
    noisy = clean - 3.0                   # shifting by s leaves an error of (3 - s) everywhere
    best, scores = dn.tune_denoiser(lambda im, shift: im + shift, noisy, clean,
                                    [{"shift": 0.0}, {"shift": 2.0}, {"shift": 5.0}],
                                    data_range=10.0)
    assert best == {"shift": 2.0}
    for p, s in scores:
        assert s == pytest.approx(10 * np.log10(100.0 / (3.0 - p["shift"]) ** 2), rel=1e-12)
    best_ssim, _ = dn.tune_denoiser(lambda im, shift: im + shift, noisy + np.eye(8), clean
                                    + np.eye(8), {"shift": [0.0, 3.0]}, data_range=10.0,
                                    metric="ssim")
    assert best_ssim == {"shift": 3.0}


# --- the blur and the noise a result keeps ------------------------------------------------------

def test_power_ratio_closed_forms_identity_scaling_and_a_gaussian_blur():
    g = np.random.default_rng(0)
    clean = g.normal(0, 1, (16, 64, 64))           # white: flat power at every frequency
    f, r = dn.power_ratio(clean, clean, 0.5)
    np.testing.assert_allclose(r, 1.0, rtol=1e-12)
    assert f.min() > 0 and f.max() <= 1 / (2 * 0.5) * np.sqrt(2)
    _, r_half = dn.power_ratio(0.5 * clean, clean)
    np.testing.assert_allclose(r_half, 0.25, rtol=1e-12)
    sigma = 1.5
    blurred = ndimage.gaussian_filter(clean, (0, sigma, sigma), mode="wrap")
    f, r_blur = dn.power_ratio(blurred, clean, 1.0)
    expected = np.exp(-4 * np.pi**2 * sigma**2 * f**2)       # |H(f)|^2 of a Gaussian
    low = f < 0.2
    np.testing.assert_allclose(r_blur[low], expected[low], atol=0.03)


# --- arguments ---------------------------------------------------------------------------------

_P = _pairs(n=1, size=40)
BAD_CALLS = [
    (dn.train_denoiser, (_P[0], _P[1][:, :8]), {}, ValueError, "clean must have the shape"),
    (dn.train_denoiser, _P, {"loss": "l3"}, ValueError, "loss"),
    (dn.train_denoiser, _P, {"patch_size": 64}, ValueError, "patch_size"),
    (dn.train_denoiser, _P, {"steps": 0}, ValueError, "steps"),
    (dn.train_denoiser, _P, {"lr": 2.0}, ValueError, "lr"),
    (dn.train_denoiser, _P, {"progress": "yes"}, TypeError, "progress"),
    (dn.DnCNN, (0,), {}, ValueError, "channels"),
    (dn.DnCNN, (4, 1), {}, ValueError, "depth"),
    (dn.DnCNN, (4, 3), {"dilated": "no"}, TypeError, "dilated"),
    (dn.denoise, ("model", _P[0]), {}, TypeError, "model"),
    (dn.tune_denoiser, ("tv", _P[0], _P[1], {"w": [1]}), {"data_range": 1.0}, TypeError,
     "denoiser"),
    (dn.tune_denoiser, (np.copy, _P[0], _P[1], {"w": []}), {"data_range": 1.0}, ValueError,
     "grid"),
    (dn.tune_denoiser, (np.copy, _P[0], _P[1], "w"), {"data_range": 1.0}, TypeError, "grid"),
    (dn.tune_denoiser, (lambda im, w: im[:4], _P[0], _P[1], {"w": [1]}), {"data_range": 1.0},
     ValueError, "denoiser returned"),
    (dn.tune_denoiser, (lambda im, w: im, _P[0], _P[1], {"w": [1]}), {"data_range": 0.0},
     ValueError, "data_range"),
    (dn.tune_denoiser, (lambda im, w: im, _P[0], _P[1], {"w": [1]}),
     {"data_range": 1.0, "metric": "mse"}, ValueError, "metric"),
    (dn.power_ratio, (_P[0], _P[1][:, :8]), {}, ValueError, "clean must have the shape"),
    (dn.power_ratio, (_P[0], np.ones_like(_P[1])), {}, ValueError, "clean has no power"),
]
test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)
