"""medlib.dltorch (PyTorch glue) and the promise that the rest of medlib works without PyTorch."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import medlib
from medlib import dltorch, losses

torch.set_num_threads(1)

# Modules allowed to import PyTorch; every other medlib module must import without it.
TORCH_MODULES = {"dltorch"}
CORE_MODULES = sorted(m.name for m in pkgutil.iter_modules(medlib.__path__)
                      if not m.name.startswith("_") and m.name not in TORCH_MODULES)


def _run_without_torch(code: str) -> subprocess.CompletedProcess:
    prelude = "import sys\nsys.modules['torch'] = None   # any `import torch` now fails\n"
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_medlib_core_imports_without_torch():
    result = _run_without_torch(f"""
        import importlib
        for name in {CORE_MODULES!r}:
            importlib.import_module("medlib." + name)
        assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
        from medlib import dl, losses, metrics, processing
        import numpy as np
        assert dl.output_size(64, 3, stride=2, padding=1) == 32
        assert losses.focal_loss(np.zeros(2), np.array([0.0, 1.0])) > 0
        assert metrics.dice([1, 0], [1, 0]) == 1.0
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_dltorch_without_torch_says_how_to_install_it():
    result = _run_without_torch("""
        try:
            import medlib.dltorch
        except ImportError as exc:
            print(exc)
    """)
    assert result.returncode == 0, result.stderr
    assert "medlib[dl]" in result.stdout


def test_the_core_is_most_of_medlib():
    assert {"geometry", "processing", "metrics", "losses", "dl", "sampling"} <= set(CORE_MODULES)


# --- the NumPy-loss bridge ---------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bce", "focal", "dice"])
def test_numpy_loss_backward_equals_autograd_of_a_torch_version(rng, name):
    z = rng.normal(0, 2, size=(2, 1, 6, 6))
    y = (rng.uniform(size=z.shape) < 0.2).astype(np.float64)
    zt = torch.tensor(z, requires_grad=True)
    zr = torch.tensor(z, requires_grad=True)
    yt = torch.tensor(y)
    if name == "bce":
        ours = dltorch.numpy_loss(losses.binary_cross_entropy_with_logits,
                                  losses.binary_cross_entropy_gradient, pos_weight=3.0)(zt, yt)
        ref = F.binary_cross_entropy_with_logits(zr, yt, pos_weight=torch.tensor(3.0))
    elif name == "focal":
        ours = dltorch.numpy_loss(losses.focal_loss, losses.focal_loss_gradient, gamma=2.0,
                                  alpha=0.25)(zt, yt)
        p_t = torch.where(yt == 1, torch.sigmoid(zr), 1 - torch.sigmoid(zr))
        alpha_t = torch.where(yt == 1, 0.25, 0.75)
        ref = (-alpha_t * (1 - p_t) ** 2 * torch.log(p_t)).mean()
    else:
        ours = dltorch.numpy_loss(losses.soft_dice_loss, losses.soft_dice_loss_gradient,
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
    fn = dltorch.numpy_loss(losses.focal_loss, losses.focal_loss_gradient, gamma=1.5, alpha=0.6)
    assert torch.autograd.gradcheck(lambda zz: fn(zz, y), (z,))


def test_numpy_loss_refuses_unreduced_losses(rng):
    fn = dltorch.numpy_loss(losses.focal_loss, losses.focal_loss_gradient, reduction="none")
    with pytest.raises(ValueError, match="scalar"):
        fn(torch.zeros(3), torch.ones(3))
    with pytest.raises(TypeError, match="callables"):
        dltorch.numpy_loss(losses.focal_loss, None)


# --- data, model and training ------------------------------------------------------------------

def test_lesion_task_is_reproducible_with_a_rare_foreground():
    x1, y1 = dltorch.lesion_task(6, 32, 5)
    x2, y2 = dltorch.lesion_task(6, 32, np.random.default_rng(5))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == y1.shape == (6, 1, 32, 32) and x1.dtype == np.float32
    assert set(np.unique(y1)) <= {0.0, 1.0}
    x, y = dltorch.lesion_task(40, 40, 1)
    assert 0.005 < y.mean() < 0.06
    assert x[y == 1].mean() - x[y == 0].mean() == pytest.approx(1.0, abs=0.1)   # the contrast


def test_tiny_segmenter_is_reproducible_and_keeps_the_image_size():
    a, b = dltorch.tiny_segmenter(4, seed=3), dltorch.tiny_segmenter(4, seed=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert a(torch.zeros(2, 1, 17, 13)).shape == (2, 1, 17, 13)


def test_training_with_a_numpy_loss_lowers_it_and_matches_torchs_own_loss():
    x, y = dltorch.lesion_task(6, 24, 0)
    ours = dltorch.tiny_segmenter(4, seed=1)
    ref = dltorch.tiny_segmenter(4, seed=1)
    bridge = dltorch.numpy_loss(losses.binary_cross_entropy_with_logits,
                                losses.binary_cross_entropy_gradient)
    h_ours = dltorch.train(ours, x, y, bridge, steps=15, lr=0.01)
    h_ref = dltorch.train(ref, x, y, F.binary_cross_entropy_with_logits, steps=15, lr=0.01)
    assert h_ours[-1] < h_ours[0]
    np.testing.assert_allclose(h_ours, h_ref, rtol=1e-4)
    p = dltorch.predict(ours, x)
    assert p.shape == x.shape and p.min() >= 0 and p.max() <= 1


BAD_CALLS = [
    (dltorch.lesion_task, (0, 32, 1), {}, ValueError, "n_images"),
    (dltorch.lesion_task, (2, 4, 1), {}, ValueError, "size"),
    (dltorch.lesion_task, (2, 32, None), {}, TypeError, "rng"),
    (dltorch.lesion_task, (2, 32, 1), {"radius_px": (3.0, 1.0)}, ValueError, "radius_px"),
    (dltorch.tiny_segmenter, (0,), {}, ValueError, "channels"),
    (dltorch.train, (torch.nn.Identity(), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 5)),
                     F.binary_cross_entropy_with_logits), {}, ValueError, "masks"),
    (dltorch.train, (torch.nn.Identity(), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 4)),
                     F.binary_cross_entropy_with_logits), {"on": "probs"}, ValueError, "on"),
]


@pytest.mark.parametrize("func, args, kwargs, error, match", BAD_CALLS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(BAD_CALLS)])
def test_bad_input_raises_a_clear_error(func, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        func(*args, **kwargs)


def test_predict_and_train_leave_the_arrays_unchanged():
    x, y = dltorch.lesion_task(2, 16, 0)
    x0, y0 = x.copy(), y.copy()
    model = dltorch.tiny_segmenter(2, seed=0)
    dltorch.predict(model, x)
    dltorch.train(model, x, y, F.binary_cross_entropy_with_logits, steps=2)
    np.testing.assert_array_equal(x, x0)      # (the model itself is trained in place)
    np.testing.assert_array_equal(y, y0)
