"""medlib.prep.augmentation against SciPy, TorchIO, Part I and closed forms, and a property
test: over random transforms the label set is kept exactly."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from badinput import C, Entry
from helpers import bad_input_test
from hypothesis import event, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from medlib import prep, processing, sampling

BAD_INPUT_CALLS = {
    "prep.augmentation.random_affine": Entry(
        lambda: C((6, 7, 8), 3, spacing_mm=[2.0, 1.0, 1.0], rotation_deg=10.0,
                  scale_range=(0.9, 1.1), translation_mm=2.0, flip_axes=(2,))),
    "prep.augmentation.elastic_displacement": Entry(
        lambda: C((8, 9), 4, alpha=20.0, sigma_vox=2.0)),
    "prep.augmentation.sampling_coordinates": Entry(
        lambda: C((4, 5), np.array([[0.9, 0.1], [-0.1, 0.9]]), np.array([0.5, -0.2]),
                  np.full((2, 4, 5), 0.25))),
    "prep.augmentation.spatial_augment": Entry(
        lambda: C(np.arange(20.0).reshape(4, 5),
                  np.stack(np.indices((4, 5)), axis=0) * 0.9 + 0.3,
                  (np.arange(20).reshape(4, 5) % 3,), mode="constant", cval=-1.0,
                  label_cval=0)),
    "prep.augmentation.gamma_transform": Entry(
        lambda: C(np.linspace(-1.0, 3.0, 12).reshape(3, 4), 0.7)),
    "prep.augmentation.motion_artifact": Entry(
        lambda: C(np.outer(np.hanning(8), np.hanning(6)), [1.5, -1.0], spacing_mm=[1.0, 2.0],
                  axis=0, start_fraction=0.4)),
    "prep.augmentation.ghosting_artifact": Entry(
        lambda: C(np.outer(np.hanning(8), np.hanning(6)), 0.3, period=2, axis=1)),
}


def _warp(image, matrix, offset, labels=(), **kw):
    coords = prep.sampling_coordinates(np.shape(image), matrix, offset)
    return prep.spatial_augment(image, coords, labels, **kw)


# --------------------------------------------------------------------------------------------
# random_affine and spatial_augment
# --------------------------------------------------------------------------------------------
@pytest.mark.formula("pre.spatial-augment")
def test_2d_rotation_matches_scipy_rotate(rng):
    img = rng.random((30, 40))
    a, b = prep.random_affine(img.shape, 5, rotation_deg=40.0, scale_range=(1.0, 1.0))
    angle = math.degrees(math.atan2(a[1, 0], a[0, 0]))
    assert 0 < abs(angle) <= 40
    out, _ = _warp(img, a, b)
    ref = ndimage.rotate(img, -angle, reshape=False, order=1)
    np.testing.assert_allclose(out[8:-8, 8:-8], ref[8:-8, 8:-8], atol=1e-12)


@pytest.mark.formula("pre.spatial-augment")
def test_random_affine_is_a_scaled_rotation_in_millimetres(rng):
    spacing = np.array([3.0, 1.0, 0.8])
    shape = (10, 20, 24)
    a, b = prep.random_affine(shape, 11, spacing_mm=spacing, rotation_deg=30.0,
                              scale_range=(0.8, 1.2), translation_mm=4.0)
    m = np.diag(spacing) @ a @ np.diag(1 / spacing)          # the backward map in mm
    s2 = (m @ m.T)[0, 0]
    np.testing.assert_allclose(m @ m.T, s2 * np.eye(3), atol=1e-12)   # rotation / scale
    assert 1 / 1.2 ** 2 <= s2 <= 1 / 0.8 ** 2
    assert np.linalg.det(m) > 0                                      # no flip asked for
    centre = (np.array(shape) - 1) / 2
    moved_to = np.linalg.solve(a, centre - b)                         # forward map of the centre
    assert np.all(np.abs((moved_to - centre) * spacing) <= 4.0 + 1e-9)
    again = prep.random_affine(shape, 11, spacing_mm=spacing, rotation_deg=30.0,
                               scale_range=(0.8, 1.2), translation_mm=4.0)
    np.testing.assert_array_equal(again[0], a)


def test_random_affine_leaves_the_global_random_state_alone():
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    prep.random_affine((5, 6), np.random.default_rng(1))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.formula("pre.spatial-augment")
def test_flips_give_torchios_voxels(rng):
    tio = pytest.importorskip("torchio")
    import torch
    vol = rng.random((6, 7, 8))
    lab = rng.integers(0, 4, vol.shape).astype(np.uint8)
    flipped_some = False
    for seed in range(6):
        a, b = prep.random_affine(vol.shape, seed, rotation_deg=0.0, scale_range=(1, 1),
                                  flip_axes=(0, 1, 2))
        axes = tuple(i for i in range(3) if a[i, i] < 0)
        out, (lab_out,) = _warp(vol, a, b, (lab,))
        ref = tio.Flip(axes=axes)(tio.ScalarImage(tensor=torch.tensor(vol[None]))).data[0]
        np.testing.assert_array_equal(out, ref.numpy())
        np.testing.assert_array_equal(lab_out, np.flip(lab, axes) if axes else lab)
        flipped_some |= bool(axes)
    assert flipped_some


@pytest.mark.formula("pre.spatial-augment")
@pytest.mark.parametrize("plane, degrees", [((1, 2), (20, 0, 0)), ((0, 2), (0, -20, 0)),
                                            ((0, 1), (0, 0, 20))])
def test_rotation_and_scaling_match_torchio_affine(rng, plane, degrees):
    tio = pytest.importorskip("torchio")
    import torch
    vol = rng.random((9, 16, 16))
    theta, scale = math.radians(20.0), 1.2
    r = np.eye(3)
    i, j = plane
    r[i, i] = r[j, j] = math.cos(theta)
    r[i, j], r[j, i] = -math.sin(theta), math.sin(theta)
    a = r.T / scale
    centre = (np.array(vol.shape) - 1) / 2
    out, _ = _warp(vol, a, centre - a @ centre)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = tio.Affine(scales=(scale,) * 3, degrees=degrees, translation=(0, 0, 0),
                         center="image", default_pad_value=0, image_interpolation="linear")(
            tio.ScalarImage(tensor=torch.tensor(vol[None]))).data[0].numpy()
    inner = (slice(3, -3),) * 3
    assert np.max(np.abs(out[inner] - ref[inner])) < 1e-6 * np.ptp(vol)    # SimpleITK: float32


def test_spatial_augment_is_part_ones_interpolation(rng):
    img = rng.random((7, 9))
    lab = rng.integers(0, 5, img.shape).astype(np.int16)
    coords = rng.uniform(-2, 10, size=(2, 40, 3))
    out, (lab_out,) = prep.spatial_augment(img, coords, [lab], cval=-3.0, label_cval=0)
    np.testing.assert_allclose(out, sampling.interpolate_linear(img, coords, cval=-3.0),
                               atol=1e-12)
    np.testing.assert_array_equal(lab_out, processing.interpolate_nearest(lab, coords, cval=0))
    assert lab_out.dtype == np.int16 and out.shape == (40, 3)
    near, (lab_near,) = prep.spatial_augment(img, coords, [lab], mode="nearest")
    clipped = np.clip(coords, 0, np.array([6, 8])[:, None, None])
    np.testing.assert_allclose(near, ndimage.map_coordinates(img, clipped, order=1), atol=1e-12)
    assert set(np.unique(lab_near)) <= set(np.unique(lab))


def test_spatial_augment_leaves_inputs_untouched(rng):
    img, lab = rng.random((6, 6)), rng.integers(0, 3, (6, 6))
    coords = rng.uniform(0, 5, (2, 6, 6))
    copies = img.copy(), lab.copy(), coords.copy()
    prep.spatial_augment(img, coords, (lab,))
    for before, after in zip(copies, (img, lab, coords)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.formula("pre.spatial-augment", "pre.elastic")
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ndim=st.sampled_from([2, 3]),
       rotation=st.floats(0.0, 180.0), low=st.floats(0.8, 1.0), high=st.floats(1.0, 1.25),
       translation=st.floats(0.0, 6.0), alpha=st.sampled_from([0.0, 10.0, 40.0]),
       mode=st.sampled_from(["constant", "nearest"]))
def test_label_set_is_exact_over_random_transforms(seed, ndim, rotation, low, high,
                                                   translation, alpha, mode):
    """No new label value ever; a label is lost only if its block leaves the field of view."""
    rng = np.random.default_rng(seed)
    shape = (24, 26, 28)[:ndim]
    k = 6                                                   # every label holds a k^d block
    labels = np.zeros(shape, dtype=np.uint8)
    values = [3, 7, 250, 41][: 3 if ndim == 3 else 4]
    corners = []
    for v in values:
        p = rng.integers(0, np.array(shape) - k + 1)
        labels[tuple(slice(a, a + k) for a in p)] = v
        corners.append(p)
    image = labels * 1.0 + rng.random(shape)
    a, b = prep.random_affine(shape, rng, rotation_deg=rotation, scale_range=(low, high),
                              translation_mm=translation, flip_axes=range(ndim))
    u = prep.elastic_displacement(shape, rng, alpha=alpha, sigma_vox=4.0)
    coords = prep.sampling_coordinates(shape, a, b, u)
    out, (lab_out,) = prep.spatial_augment(image, coords, (labels,), mode=mode)
    present = set(np.unique(lab_out).tolist())
    allowed = set(np.unique(labels).tolist()) | ({0} if mode == "constant" else set())
    assert present <= allowed                                   # no new values, exactly
    # A label whose block survives intact (later blocks may overwrite part of it) must appear
    # if an output voxel reads a point of its block: its cells contain the ball of radius k/2
    # about the block centre q, and o = round(A^-1 (q - b)) reads a point within
    # sqrt(d)/2 / scale + |u(o)| of q.
    scale_min = 1 / np.sqrt(np.max(np.linalg.eigvalsh(a @ a.T)))
    checked = 0
    for v, p in zip(values, corners):
        q = p + (k - 1) / 2
        block = labels[tuple(slice(int(c), int(c) + k) for c in p)]
        o = np.rint(np.linalg.solve(a, q - b)).astype(int)
        if not np.all(block == v) or np.any(o < 0) or np.any(o > np.array(shape) - 1):
            continue
        if np.sqrt(ndim) / 2 / scale_min + np.linalg.norm(u[(slice(None), *o)]) < k / 2 - 1e-6:
            checked += 1
            assert v in present, f"label {v} lost although its block stayed in view"
    event(f"labels checked for survival: {min(checked, 2)}{'+' if checked >= 2 else ''}")
    # the image and the labels went through the same transform: where the 2^d input voxels
    # around the sampled point all carry one label, that is the output label, and the warped
    # image (label + a value in [0, 1)) lies in that label's range
    inside = np.all((coords >= 0) & (coords <= np.reshape(np.array(shape) - 1,
                                                          (-1,) + (1,) * ndim)), axis=0)
    base = np.floor(coords).astype(int)
    corner_labels = []
    for offset in np.ndindex(*(2,) * ndim):
        idx = tuple(np.clip(base[i] + offset[i], 0, shape[i] - 1) for i in range(ndim))
        corner_labels.append(labels[idx])
    same = inside & np.all(np.array(corner_labels) == corner_labels[0], axis=0)
    assert np.all(lab_out[same] == corner_labels[0][same])
    assert np.all((out[same] >= lab_out[same]) & (out[same] <= lab_out[same] + 1))


# --------------------------------------------------------------------------------------------
# elastic deformation
# --------------------------------------------------------------------------------------------
@pytest.mark.formula("pre.elastic")
@pytest.mark.parametrize("shape, sigma", [((256, 256), 3.0), ((64, 64, 64), 3.0)])
def test_elastic_displacement_has_the_predicted_spread(shape, sigma):
    alpha = 50.0
    u = prep.elastic_displacement(shape, 2024, alpha=alpha, sigma_vox=sigma)
    assert u.shape == (len(shape),) + shape
    predicted = alpha * (2 * math.sqrt(math.pi) * sigma) ** (-len(shape) / 2)
    assert abs(np.std(u) / predicted - 1) < 0.1
    # periodic borders: the field is as strong at the edges as inside (the seed's
    # mode="constant" weakens it there)
    frame = np.ones(shape, bool)
    frame[(slice(2, -2),) * len(shape)] = False
    assert abs(np.std(u[:, frame]) / np.std(u) - 1) < 0.15
    np.testing.assert_array_equal(u, prep.elastic_displacement(shape, 2024, alpha=alpha,
                                                               sigma_vox=sigma))


@pytest.mark.formula("pre.elastic")
def test_elastic_displacement_is_smoothed_noise_times_alpha():
    rng = np.random.default_rng(7)
    noise = [rng.standard_normal((20, 30)) for _ in range(2)]
    expected = np.stack([3.0 * ndimage.gaussian_filter(n, 2.5, mode="wrap") for n in noise])
    np.testing.assert_allclose(prep.elastic_displacement((20, 30), 7, alpha=3.0, sigma_vox=2.5),
                               expected, atol=1e-14)
    np.testing.assert_array_equal(prep.elastic_displacement((20, 30), 7, alpha=0.0,
                                                            sigma_vox=2.5), 0.0)


@pytest.mark.formula("pre.elastic")
def test_elastic_warp_with_a_constant_field_is_a_shift(rng):
    img = rng.random((12, 14))
    lab = rng.integers(0, 3, img.shape)
    u = np.stack([np.full(img.shape, 2.0), np.full(img.shape, -3.0)])
    out, (lab_out,) = prep.spatial_augment(img, prep.sampling_coordinates(img.shape,
                                                                          displacement=u), [lab])
    np.testing.assert_allclose(out[:-2, 3:], img[2:, :-3], atol=1e-12)
    np.testing.assert_array_equal(lab_out[:-2, 3:], lab[2:, :-3])
    assert np.all(out[-2:] == 0) and np.all(lab_out[:, :3] == 0)


# --------------------------------------------------------------------------------------------
# intensity transforms
# --------------------------------------------------------------------------------------------
def test_gamma_transform_matches_torchio_gamma_on_unit_range(rng):
    tio = pytest.importorskip("torchio")
    import torch
    img = rng.random((5, 6, 7))
    img[0, 0, 0], img[-1, -1, -1] = 0.0, 1.0
    ref = tio.Gamma(0.6)(tio.ScalarImage(tensor=torch.tensor(img[None]))).data[0].numpy()
    np.testing.assert_allclose(prep.gamma_transform(img, 0.6), ref, atol=1e-6)   # float32
    shifted = prep.gamma_transform(100 + 50 * img, 1.7)
    np.testing.assert_allclose(shifted, 100 + 50 * img ** 1.7, atol=1e-9)
    np.testing.assert_array_equal(prep.gamma_transform(np.full((3, 3), 4.0), 2.0), 4.0)


def test_motion_of_every_line_is_a_shift_and_keeps_energy(rng):
    img = np.zeros((32, 24))
    img[6:14, 5:15] = 1 + rng.random((8, 10))
    whole = prep.motion_artifact(img, [3.0, -4.0], spacing_mm=[1.0, 2.0], start_fraction=0.0)
    np.testing.assert_allclose(whole, np.roll(img, (3, -2), axis=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(prep.motion_artifact(img, [3.0, -4.0], start_fraction=1.0), img,
                               atol=1e-12)
    half = prep.motion_artifact(img, [2.5, 0.0], start_fraction=0.5)
    assert np.isclose(np.sum(half ** 2), np.sum(img ** 2))          # Parseval: |S| unchanged
    outside = np.ones(img.shape, bool)
    outside[3:18, 3:18] = False
    assert half[outside].max() > 0.05 * img.max()                   # ghosts outside the object


def test_nyquist_ghost_has_the_closed_form(rng):
    img = np.zeros((32, 20))
    img[2:14, 4:16] = 1 + rng.random((12, 12))                      # only in the first half
    a = 0.4
    out = prep.ghosting_artifact(img, a, axis=0)
    np.testing.assert_allclose(out[:16], (1 - a / 2) * img[:16], atol=1e-12)
    np.testing.assert_allclose(out[16:], (a / 2) * img[:16], atol=1e-12)
    np.testing.assert_allclose(prep.ghosting_artifact(img, 0.0), img, atol=1e-12)
    vol = np.zeros((8, 12, 12))
    vol[:, :, :6] = 1.0
    out3 = prep.ghosting_artifact(vol, 1.0, axis=2, period=2)
    np.testing.assert_allclose(out3[:, :, 6:], 0.5, atol=1e-12)


test_bad_input_raises_a_clear_error = bad_input_test([
    (prep.random_affine, ((5,), 1), {}, ValueError, "shape"),
    (prep.random_affine, ((5, 5), 1), {"scale_range": (1.2, 0.8)}, ValueError, "scale_range"),
    (prep.random_affine, ((5, 5), 1), {"flip_axes": (3,)}, ValueError, "flip_axes"),
    (prep.random_affine, ((5, 5), -1), {}, TypeError, "rng"),
    (prep.elastic_displacement, ((5, 5), 1), {"alpha": -1.0, "sigma_vox": 2.0}, ValueError,
     "alpha"),
    (prep.elastic_displacement, ((5, 5), 1), {"alpha": 1.0, "sigma_vox": 0.0}, ValueError,
     "sigma_vox"),
    (prep.sampling_coordinates, ((4, 5), np.eye(3)), {}, ValueError, "matrix"),
    (prep.spatial_augment, (np.ones((4, 4)), np.zeros((3, 4, 4))), {}, ValueError, "coords"),
    (prep.spatial_augment, (np.ones((4, 4)), np.zeros((2, 4, 4)), np.ones((4, 4))), {},
     TypeError, "labels"),
    (prep.spatial_augment, (np.ones((4, 4)), np.zeros((2, 4, 4)), [np.ones((4, 5))]), {},
     ValueError, "labels"),
    (prep.gamma_transform, (np.ones(3), 0.0), {}, ValueError, "gamma"),
    (prep.motion_artifact, (np.ones((4, 4)), [1.0]), {}, ValueError, "shift_mm"),
    (prep.ghosting_artifact, (np.ones((4, 4)), 1.5), {}, ValueError, "intensity"),
])
