"""medlib.dl.convolution (convolution layers in NumPy) against PyTorch, SciPy and
medlib.sampling."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import bad_input_test
from scipy import signal

from medlib import dl, sampling

torch.set_num_threads(1)


def _torch(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# --- output size -------------------------------------------------------------------------------

GRID = list(itertools.product(range(1, 13), range(1, 6), range(1, 4), range(0, 3), range(1, 4)))


@pytest.mark.formula("dl.output-size-h", "dl.output-size-w", "dl.output-size-d")
def test_output_size_matches_pytorch_over_a_grid():
    checked = 0
    for n, k, s, p, d in GRID:
        x = torch.zeros(1, 1, n)
        w = torch.zeros(1, 1, k)
        if d * (k - 1) + 1 > n + 2 * p:
            with pytest.raises(RuntimeError):
                F.conv1d(x, w, stride=s, padding=p, dilation=d)
            with pytest.raises(ValueError, match="kernel spans"):
                dl.output_size(n, k, stride=s, padding=p, dilation=d)
            continue
        expected = F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1]
        assert dl.output_size(n, k, stride=s, padding=p, dilation=d) == expected, (n, k, s, p, d)
        checked += 1
    assert checked > 1000


@pytest.mark.formula("dl.output-size-h", "dl.output-size-w", "dl.output-size-d")
def test_output_size_of_2d_and_3d_layers_per_axis():
    x = torch.zeros(1, 1, 17, 30, 9)
    layer = torch.nn.Conv3d(1, 1, kernel_size=(3, 4, 2), stride=(2, 3, 1), padding=(1, 0, 2),
                            dilation=(1, 2, 3))
    expected = layer(x).shape[2:]
    ours = tuple(dl.output_size(n, k, stride=s, padding=p, dilation=d) for n, k, s, p, d in
                 zip((17, 30, 9), (3, 4, 2), (2, 3, 1), (1, 0, 2), (1, 2, 3)))
    assert ours == tuple(expected)


def test_the_seeds_formula_without_floor_is_not_an_integer():
    h, k, p, s = 64, 3, 1, 2
    seed_value = (h - k + 2 * p) / s + 1
    assert seed_value == 32.5
    assert dl.output_size(h, k, stride=s, padding=p) == 32 == \
        F.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]


# --- the layer ---------------------------------------------------------------------------------

@pytest.mark.formula("dl.conv-layer", "dl.conv2d")
@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2),
                                                       ((2, 1), (0, 3), (1, 3)), (3, 2, 2)])
def test_conv2d_matches_torch(rng, stride, padding, dilation):
    x = rng.normal(size=(2, 3, 13, 11))
    w = rng.normal(size=(4, 3, 3, 2))
    b = rng.normal(size=4)
    ours = dl.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)
    ref = F.conv2d(_torch(x), _torch(w), _torch(b), stride=stride, padding=padding,
                   dilation=dilation).numpy()
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.mark.formula("dl.conv-layer", "dl.conv3d")
@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), ((1, 2, 1), 1, 2)])
def test_conv3d_matches_torch(rng, stride, padding, dilation):
    x = rng.normal(size=(1, 2, 7, 9, 8))
    w = rng.normal(size=(3, 2, 3, 3, 2))
    ours = dl.conv3d(x, w, stride=stride, padding=padding, dilation=dilation)
    ref = F.conv3d(_torch(x), _torch(w), stride=stride, padding=padding,
                   dilation=dilation).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)


@pytest.mark.formula("dl.conv-layer")
def test_conv1d_layer_matches_torch(rng):
    x, w = rng.normal(size=(3, 2, 20)), rng.normal(size=(5, 2, 4))
    np.testing.assert_allclose(dl.conv_layer(x, w, stride=3, padding=2, dilation=2),
                               F.conv1d(_torch(x), _torch(w), stride=3, padding=2,
                                        dilation=2).numpy(), atol=1e-12)


@pytest.mark.formula("dl.conv-layer")
def test_single_channel_layer_is_a_valid_cross_correlation(rng):
    img, k = rng.normal(size=(15, 12)), rng.normal(size=(4, 3))
    layer = dl.conv_layer(img[None, None], k[None, None])[0, 0]
    np.testing.assert_allclose(layer, sampling.correlate(img, k, mode="valid"), atol=1e-12)
    np.testing.assert_allclose(layer, signal.correlate2d(img, k, mode="valid"), atol=1e-12)
    # Stride S keeps every S-th output of the stride-1 layer.
    strided = dl.conv_layer(img[None, None], k[None, None], stride=2)[0, 0]
    np.testing.assert_allclose(strided, sampling.downsample(layer, 2), atol=1e-12)


@pytest.mark.formula("dl.conv2d")
def test_flip_gives_the_seeds_true_convolution(rng):
    img, k = rng.normal(size=(10, 9)), rng.normal(size=(3, 4))
    valid = dl.conv2d(img[None, None], k[None, None], flip=True)[0, 0]
    np.testing.assert_allclose(valid, signal.convolve2d(img, k, mode="valid"), atol=1e-12)
    full = dl.conv2d(img[None, None], k[None, None], padding=(2, 3), flip=True)[0, 0]
    np.testing.assert_allclose(full, sampling.convolve(img, k, mode="full"), atol=1e-12)
    # The seed's sum, term by term, at one output position of the full convolution.
    i, j = 5, 4
    direct = sum(img[i - m, j - n] * k[m, n] for m in range(3) for n in range(4)
                 if 0 <= i - m < 10 and 0 <= j - n < 9)
    assert full[i, j] == pytest.approx(direct)
    # Layers compute cross-correlation: the two differ unless the kernel is symmetric.
    assert not np.allclose(valid, dl.conv2d(img[None, None], k[None, None])[0, 0])


@pytest.mark.formula("dl.conv3d")
def test_conv3d_flip_is_scipys_convolution(rng):
    vol, k = rng.normal(size=(6, 7, 5)), rng.normal(size=(2, 3, 2))
    ours = dl.conv3d(vol[None, None], k[None, None], flip=True)[0, 0]
    np.testing.assert_allclose(ours, signal.convolve(vol, k, mode="valid", method="direct"),
                               atol=1e-12)


def test_flipped_torch_weights_reproduce_a_true_convolution(rng):
    x, w = rng.normal(size=(1, 2, 8, 8)), rng.normal(size=(3, 2, 3, 3))
    ours = dl.conv2d(x, w, padding=1, flip=True)
    ref = F.conv2d(_torch(x), _torch(w).flip(-1, -2), padding=1).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-12)


# issue 11, group 7: a flag given as the string "False" (or a number) was read as truthy.
FLAG_CALLS = [
    (dl.conv2d, (np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))), {"flip": "False"}, TypeError,
     "flip must be True or False"),
    (dl.conv3d, (np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))), {"flip": 1}, TypeError,
     "flip must be True or False"),
]

test_a_flag_must_be_a_bool = bad_input_test(FLAG_CALLS)


BAD_CALLS = [
    (dl.output_size, (10, -3), {}, ValueError, "kernel_size"),
    (dl.output_size, (10, 3), {"stride": 0}, ValueError, "stride"),
    (dl.output_size, (10, 3), {"stride": -2}, ValueError, "stride"),
    (dl.output_size, (10, 3), {"padding": -1}, ValueError, "padding"),
    (dl.output_size, (10, 3), {"dilation": 0}, ValueError, "dilation"),
    (dl.output_size, (10, 2.5), {}, TypeError, "kernel_size"),
    (dl.output_size, (0, 1), {}, ValueError, "n_in"),
    (dl.output_size, (4, 3), {"dilation": 3}, ValueError, "kernel spans"),
    (dl.conv_layer, (np.ones((2, 3, 5, 5)), np.ones((1, 2, 3, 3))), {}, ValueError, "channels"),
    (dl.conv_layer, (np.ones((2, 3, 5, 5)), np.ones((1, 3, 3))), {}, ValueError, "weight"),
    (dl.conv_layer, (np.ones((5, 5)), np.ones((1, 1, 3, 3))), {}, ValueError, "x must"),
    (dl.conv_layer, (np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)), {}, ValueError,
     "bias"),
    (dl.conv_layer, (np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))), {"stride": (1, 2, 3)},
     ValueError, "stride"),
    (dl.conv_layer, (np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))), {"stride": -1}, ValueError,
     "stride"),
    (dl.conv_layer, (np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))), {"padding": 1.5}, TypeError,
     "padding"),
    (dl.conv_layer, (np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))), {}, ValueError,
     "kernel spans"),
    (dl.conv2d, (np.ones((1, 1, 5, 5, 5)), np.ones((1, 1, 3, 3, 3))), {}, ValueError, "x must"),
    (dl.conv3d, (np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3))), {}, ValueError, "x must"),
    (dl.conv2d, (np.ones((1, 1, 5, 5)), [[1.0]]), {"flip": True}, ValueError, "weight"),
]


test_bad_input_raises_a_clear_error = bad_input_test(BAD_CALLS)


# issue 11: a padding of 2**63 is refused by name before np.pad allocates; an x with one axis
# too many is named in the message about the weight it no longer matches
_X, _W = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3))
ISSUE_11_CALLS = [
    (dl.conv2d, (_X, _W), {"padding": 2 ** 63}, ValueError, "^padding asks for an array"),
    (dl.conv3d, (_X[None], _W[None]), {"padding": 2 ** 63}, ValueError,
     "^padding asks for an array"),
    (dl.conv_layer, (_X, _W), {"padding": (2 ** 40, 1)}, ValueError,
     "^padding asks for an array"),
    (dl.conv_layer, (_X[None], _W), {}, ValueError, r"for x of shape \(1, 1, 1, 4, 4\)"),
]

test_issue_11_bad_padding_and_x_are_named = bad_input_test(ISSUE_11_CALLS)


def test_functions_leave_their_inputs_unchanged(assert_inputs_unchanged, rng):
    x, w, b = rng.normal(size=(2, 2, 6, 6)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
    assert_inputs_unchanged(dl.conv_layer, x, w, b, stride=2, padding=1)
    assert_inputs_unchanged(dl.conv2d, x, w, b, flip=True)
    assert_inputs_unchanged(dl.conv3d, x[:, :, None], w[:, :, None], b, flip=True)


def test_the_dl_package_reexports_every_public_name_without_a_clash():
    from medlib.dl import convolution, losses, metrics
    modules = (convolution, losses, metrics)
    names = [n for m in modules for n in m.__all__]
    assert len(names) == len(set(names))                  # no name is shadowed by another module
    assert sorted(dl.__all__) == sorted(names)
    for m in modules:
        for n in m.__all__:
            assert getattr(dl, n) is getattr(m, n)
    assert dl.losses is losses and dl.metrics is metrics  # the submodules, for the notebooks


def test_integer_inputs_give_float_outputs():
    out = dl.conv2d(np.ones((1, 1, 4, 4), dtype=np.int32), np.ones((1, 1, 2, 2), dtype=np.int8))
    assert out.dtype == np.float64 and np.all(out == 4.0)
