"""medlib.trust.interpretability: maps against Captum and closed forms, sanity checks."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
import torch
from badinput import C, Entry

from medlib import segmentation
from medlib.trust import interpretability as I

captum_attr = pytest.importorskip("captum.attr")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _unet(seed=0):
    return segmentation.UNet(1, 2, depth=2, base_channels=4, seed=seed).eval()


def _x(n=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g)


def _region(size=16):
    r = np.zeros((size, size), dtype=bool)
    r[4:12, 3:10] = True
    return r


def _relative(ours, ref):
    """max |ours - ref| / max |ref|: the bar's relative difference (0 when both are 0)."""
    ref = ref.detach().double().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    scale = np.max(np.abs(ref))
    diff = np.max(np.abs(np.asarray(ours) - ref))
    return diff if scale == 0 else diff / scale


class _Linear(torch.nn.Module):
    """F(x) = sum(w * x) + b, a 'segmentation network' with one output channel."""

    def __init__(self, w, b=0.3):
        super().__init__()
        self.w = torch.nn.Parameter(torch.as_tensor(w, dtype=torch.float32))
        self.b = torch.nn.Parameter(torch.tensor(float(b)))

    def forward(self, x):
        return (x * self.w).sum(dim=(1, 2, 3))[:, None, None, None] * torch.ones_like(x[:, :1]) \
            / (x.shape[-1] * x.shape[-2]) + self.b


def _linear_score():
    w = np.random.default_rng(1).normal(size=(1, 6, 6))
    model = _Linear(w)
    return I.region_score(model, 0), w, model


BAD_INPUT_CALLS = {
    "trust.interpretability.region_score": Entry(lambda: C(_unet(), 1, _region(16)),
                                                 skip={"model"}),
    "trust.interpretability.saliency": Entry(lambda: C(I.region_score(_unet(), 1), _x(1, 8))),
    "trust.interpretability.gradient_x_input": Entry(
        lambda: C(I.region_score(_unet(), 1), _x(1, 8))),
    "trust.interpretability.integrated_gradients": Entry(
        lambda: C(I.region_score(_unet(), 1), _x(1, 8), 0.1, n_steps=4, batch_size=4)),
    "trust.interpretability.grad_cam": Entry(
        lambda: (lambda m: C(I.region_score(m, 1), _x(1, 8), m.encoder[-1]))(_unet()),
        skip={"layer"}),  # a module of the model inside score
    "trust.interpretability.occlusion": Entry(
        lambda: C(I.region_score(_unet(), 1), _x(1, 8), (4, 4), (4, 4), 0.0, batch_size=4)),
    "trust.interpretability.layer_order": Entry(lambda: C(_unet(), _x(1, 8)), skip={"model"}),
    "trust.interpretability.randomize_layers": Entry(lambda: C(_unet(), 3, _x(1, 8), seed=1),
                                                     skip={"model"}),
    "trust.interpretability.rank_correlation": Entry(
        lambda: C(np.arange(6.0) - 2.5, np.array([0.5, -1.0, 2.0, 3.0, -4.0, 0.1]))),
}


# ---------------------------------------------------------------------------------------------
# The maps against Captum (the bar: 1e-5 relative)
# ---------------------------------------------------------------------------------------------
@pytest.mark.formula("trust.saliency")
@pytest.mark.parametrize("output", ["logit", "probability"])
def test_saliency_equals_captum(output):
    model, x = _unet(), _x()
    f = I.region_score(model, 1, _region(), output=output)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum: "did not already require gradients"
        ref = captum_attr.Saliency(f).attribute(x.clone(), abs=False)
    assert _relative(I.saliency(f, x), ref) <= 1e-5


@pytest.mark.formula("trust.gradient-x-input")
def test_gradient_x_input_equals_captum():
    model, x = _unet(), _x()
    f = I.region_score(model, 1, _region())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = captum_attr.InputXGradient(f).attribute(x.clone())
    assert _relative(I.gradient_x_input(f, x), ref) <= 1e-5


@pytest.mark.formula("trust.integrated-gradients")
@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid", "riemann_left",
                                    "riemann_right", "riemann_middle"])
def test_integrated_gradients_equals_captum(method):
    model, x = _unet(), _x()
    f = I.region_score(model, 1, _region())
    ours = I.integrated_gradients(f, x, 0.2, n_steps=12, method=method, batch_size=5)
    ref = captum_attr.IntegratedGradients(f).attribute(x.clone(), baselines=0.2, n_steps=12,
                                                      method=method)
    assert _relative(ours, ref) <= 1e-5


@pytest.mark.formula("trust.grad-cam")
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("level", ["bottleneck", "decoder"])
def test_grad_cam_equals_captum(relu, level):
    model, x = _unet(), _x()
    layer = model.encoder[-1] if level == "bottleneck" else model.decoder[0]
    f = I.region_score(model, 1, _region())
    cam = captum_attr.LayerGradCam(f, layer)
    coarse = cam.attribute(x.clone(), relu_attributions=relu)
    fine = captum_attr.LayerAttribution.interpolate(coarse, (16, 16), "bilinear")
    assert _relative(I.grad_cam(f, x, layer, relu=relu, upsample=False), coarse) <= 1e-5
    assert _relative(I.grad_cam(f, x, layer, relu=relu), fine) <= 1e-5
    size = 16 // 2 ** 2 if level == "bottleneck" else 16 // 2
    assert I.grad_cam(f, x, layer, upsample=False).shape == (2, 1, size, size)


@pytest.mark.formula("trust.occlusion")
@pytest.mark.parametrize("window, stride, baseline", [((4, 4), (2, 2), 0.1),
                                                      ((3, 5), (3, 2), 0.0)])
def test_occlusion_equals_captum(window, stride, baseline):
    model, x = _unet(), _x()
    f = I.region_score(model, 1, _region())
    ours = I.occlusion(f, x, window, stride, baseline, batch_size=7)
    ref = captum_attr.Occlusion(f).attribute(x.clone(), sliding_window_shapes=(1, *window),
                                             strides=(1, *stride), baselines=baseline)
    assert _relative(ours, ref) <= 1e-5


# ---------------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------------
@pytest.mark.formula("trust.saliency")
def test_saliency_of_a_linear_model_is_its_weights():
    f, w, _ = _linear_score()
    x = np.random.default_rng(2).normal(size=(3, 1, 6, 6))
    np.testing.assert_allclose(I.saliency(f, x), np.broadcast_to(w, x.shape), rtol=1e-6)


@pytest.mark.formula("trust.gradient-x-input")
def test_gradient_x_input_of_a_linear_model():
    f, w, _ = _linear_score()
    x = np.random.default_rng(3).normal(size=(2, 1, 6, 6))
    np.testing.assert_allclose(I.gradient_x_input(f, x), x * w, rtol=1e-5, atol=1e-7)


@pytest.mark.formula("trust.integrated-gradients")
@pytest.mark.parametrize("method", ["gausslegendre", "trapezoid", "riemann_left",
                                    "riemann_middle", "riemann_trapezoid"])
def test_integrated_gradients_of_a_linear_model_is_exact(method):
    f, w, _ = _linear_score()
    rng = np.random.default_rng(4)
    x, base = rng.normal(size=(2, 1, 6, 6)), rng.normal(size=(1, 1, 6, 6))
    ig = I.integrated_gradients(f, x, base, n_steps=5, method=method)
    # Captum's riemann_trapezoid: weights 1/m halved at the ends sum to (m - 1)/m, not 1
    factor = 4 / 5 if method == "riemann_trapezoid" else 1.0
    np.testing.assert_allclose(ig, factor * (x - base) * w, rtol=1e-5, atol=1e-6)


@pytest.mark.formula("trust.integrated-gradients")
def test_integrated_gradients_completeness_improves_with_steps():
    """sum IG = F(x) - F(x') up to the quadrature error, which shrinks as n_steps grows (for a
    ReLU network the integrand has kinks: about 1/m for the trapezoid rule, not 1/m^2)."""
    model, x = _unet(), _x(1)
    f = I.region_score(model, 1, _region(), output="probability")
    with torch.no_grad():
        gap = float(f(x)[0] - f(torch.zeros_like(x))[0])
    errors = [abs(I.integrated_gradients(f, x, 0.0, n_steps=n, method="trapezoid").sum() - gap)
              for n in (2, 8, 32, 128)]
    assert all(b < a for a, b in zip(errors, errors[1:]))
    assert errors[-1] < 0.01 * abs(gap)
    assert abs(I.integrated_gradients(f, x, 0.0, n_steps=128).sum() - gap) < 0.01 * abs(gap)


@pytest.mark.formula("trust.grad-cam")
def test_grad_cam_by_hand_on_the_bottleneck():
    """alpha_k = mean of dF/dA^k, map = ReLU(sum_k alpha_k A^k), from autograd directly."""
    model, x = _unet(), _x(1)
    f = I.region_score(model, 1, _region())
    acts = {}
    h = model.encoder[-1].register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    out = f(x.clone().requires_grad_(True))
    h.remove()
    (g,) = torch.autograd.grad(out.sum(), acts["a"])
    alpha = g.mean(dim=(2, 3))[0]
    by_hand = torch.relu(torch.einsum("k,kij->ij", alpha, acts["a"][0].detach()))
    ours = I.grad_cam(f, x, model.encoder[-1], upsample=False)[0, 0]
    np.testing.assert_allclose(ours, by_hand.double().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.formula("trust.occlusion")
def test_occlusion_of_a_linear_model():
    """Occluding with b changes a linear score by sum over the window of w (x - b): every pixel
    of a tiling window (stride = window) gets its window's drop."""
    f, w, _ = _linear_score()
    x = np.random.default_rng(5).normal(size=(1, 1, 6, 6))
    occ = I.occlusion(f, x, (3, 3), (3, 3), 0.5)
    contrib = (w[None] * (x - 0.5)) / 36.0 * 36.0      # the linear model's mean times 36 pixels
    for r in (0, 3):
        for c in (0, 3):
            block = contrib[0, 0, r:r + 3, c:c + 3].sum()
            np.testing.assert_allclose(occ[0, 0, r:r + 3, c:c + 3], block, rtol=1e-4, atol=1e-6)


def test_occlusion_forward_passes_are_batched():
    model, x = _unet(), _x(1)
    f = I.region_score(model, 1)
    calls = []

    def counting(z):
        calls.append(z.shape[0])
        return f(z)

    I.occlusion(counting, x, (4, 4), (2, 2), batch_size=10)
    n_windows = 7 * 7
    assert sum(calls) == n_windows + 1                    # every window, plus F(x)
    assert len(calls) == 1 + int(np.ceil(n_windows / 10))


# ---------------------------------------------------------------------------------------------
# Purity, determinism, the score
# ---------------------------------------------------------------------------------------------
def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ["saliency", "gradient_x_input", "integrated_gradients",
                                  "grad_cam", "occlusion"])
def test_model_and_input_untouched_and_deterministic(name):
    model = segmentation.UNet(1, 2, depth=2, base_channels=4, seed=0)   # in training mode
    x = _x(1)
    x0, before = x.clone(), _state(model)
    f = I.region_score(model, 1, _region())
    args = {"grad_cam": (model.decoder[0],), "occlusion": ((4, 4), (4, 4))}.get(name, ())
    first = getattr(I, name)(f, x, *args)
    second = getattr(I, name)(f, x, *args)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(x, x0) and not x.requires_grad and x.grad is None
    assert model.training                                   # mode restored
    after = _state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)   # incl. batch-norm statistics
    assert all(p.grad is None for p in model.parameters())


def test_region_score_values():
    model, x = _unet(), _x()
    with torch.no_grad():
        logits = model(x)
    r = _region()
    f = I.region_score(model, 1, r)
    np.testing.assert_allclose(f(x).detach().numpy(), logits[:, 1][:, r].sum(-1).numpy(),
                               rtol=1e-6)
    p = I.region_score(model, 0, output="probability")(x).detach().numpy()
    np.testing.assert_allclose(p, torch.softmax(logits, 1)[:, 0].sum((-2, -1)).numpy(),
                               rtol=1e-6)


def test_bad_input_is_named():
    model = _unet()
    f = I.region_score(model, 1)
    with pytest.raises(ValueError, match="target_class"):
        I.region_score(model, -1)
    with pytest.raises(ValueError, match="target_class"):
        I.region_score(model, 5)(_x(1, 8))
    with pytest.raises(ValueError, match="region"):
        I.region_score(model, 1, np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="region"):
        I.region_score(model, 1, np.ones((4, 4), bool))(_x(1, 8))
    with pytest.raises(TypeError, match="score"):
        I.saliency("model", _x(1, 8))
    with pytest.raises(ValueError, match="x"):
        I.saliency(f, np.zeros((8, 8)))
    with pytest.raises(ValueError, match="method"):
        I.integrated_gradients(f, _x(1, 8), method="simpson")
    with pytest.raises(ValueError, match="n_steps"):
        I.integrated_gradients(f, _x(1, 8), n_steps=1, method="riemann_trapezoid")
    with pytest.raises(ValueError, match="baseline"):
        I.integrated_gradients(f, _x(1, 8), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="layer"):
        I.grad_cam(f, _x(1, 8), torch.nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="window"):
        I.occlusion(f, _x(1, 8), (9, 2), (1, 1))
    with pytest.raises(ValueError, match="stride"):
        I.occlusion(f, _x(1, 8), (2, 2), (3, 1))
    with pytest.raises(ValueError, match="n_top"):
        I.randomize_layers(model, 99, _x(1, 8))
    with pytest.raises(ValueError, match="b"):
        I.rank_correlation(np.ones(3), np.ones(4))


# ---------------------------------------------------------------------------------------------
# Sanity checks
# ---------------------------------------------------------------------------------------------
def test_layer_order_is_the_forward_order():
    model = _unet()
    order = I.layer_order(model, _x(1))
    assert order[0] == "encoder.0.0" and order[-1] == "head"
    assert order.index("up.0.1") < order.index("decoder.0.0") < order.index("up.1.1")
    named = {n for n, m in model.named_modules()
             if not list(m.children()) and list(m.parameters(recurse=False))}
    assert set(order) == named


def test_randomize_layers_cascade():
    model, x = _unet(), _x(1)
    with torch.no_grad():                    # "trained": no weight at its initial value
        g = torch.Generator().manual_seed(3)
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    before = _state(model)
    order = I.layer_order(model, x)
    assert all(torch.equal(a, b) for a, b in zip(_state(I.randomize_layers(model, 0, x)).values(),
                                                 before.values()))
    r3 = I.randomize_layers(model, 3, x, seed=4)
    params = dict(r3.named_modules())
    old = dict(model.named_modules())
    for i, name in enumerate(order):
        same = all(torch.equal(p, q) for p, q in zip(params[name].parameters(),
                                                    old[name].parameters()))
        assert same == (i < len(order) - 3), name
    # the model is untouched, the new weights depend only on the seed and the layer
    assert all(torch.equal(before[k], v) for k, v in _state(model).items())
    r5 = I.randomize_layers(model, 5, x, seed=4)
    assert torch.equal(r5.head.weight, r3.head.weight)
    assert not torch.equal(I.randomize_layers(model, 5, x, seed=5).head.weight, r5.head.weight)
    state = torch.get_rng_state()
    I.randomize_layers(model, 23, x, seed=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_rank_correlation_matches_scipy():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    b[:2] = a[:2] * -3.0
    a[0, :3] = 0.0  # ties
    ref = scipy.stats.spearmanr(np.abs(a).ravel(), np.abs(b).ravel()).statistic
    assert I.rank_correlation(a, b) == pytest.approx(ref, abs=1e-12)
    assert I.rank_correlation(a, -a) == pytest.approx(1.0)
    signed = scipy.stats.spearmanr(a.ravel(), b.ravel()).statistic
    assert I.rank_correlation(a, b, absolute=False) == pytest.approx(signed, abs=1e-12)
    assert I.rank_correlation(a, -a, absolute=False) == pytest.approx(-1.0)
    assert I.rank_correlation(np.zeros((8, 8)), b) == 0.0        # a map without a pattern
